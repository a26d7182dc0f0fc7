/* walk.c (POSIX): removing or measuring a directory tree without ever following a link: every
 * step is relative to the parent's descriptor (openat/fstatat/unlinkat), directories are opened
 * O_NOFOLLOW|O_DIRECTORY and checked to be the entry just examined, a link is removed as a link,
 * a mount point is never entered, and at most SPILL__MAX_DEPTH levels are descended. It goes
 * through the operations table so that tests can inject failures into it. */
#include <string.h>

#include "posix.h"

/* What one pass over one directory met. */
typedef struct pass {
    uint32_t errors;   /* errors met at this level */
    int incomplete;    /* something below was left (counted where it happened) */
} pass;

typedef struct walk {
    int measure;              /* count only, remove nothing */
    spill__tree_stats *st;
    int first_error;          /* the first error met, returned at the end */
} walk;

static uint32_t walk_dir(walk *w, spill__fd fd, const spill__stat *self, const char *keep,
                         int depth);

static void fail(walk *w, int rc, pass *ps)
{
    if (w->first_error == SPILL_OK)
        w->first_error = rc;
    ps->errors++;
}

/* Descends into the directory `name` (already stat'ed as cs) and, unless measuring, removes it
 * once empty. Returns 1 if something was removed. */
static int do_dir(walk *w, spill__fd fd, const char *name, const spill__stat *cs,
                  const spill__stat *self, int depth, pass *ps)
{
    spill__fd cfd;
    spill__stat now;
    uint32_t nested;
    int rc;
    if (cs->dev != self->dev || cs->mount_id != self->mount_id) {
        fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "a mount point: not entered"), ps);
        return 0;
    }
    rc = spill__sys.open_dir(fd, name, &cfd);
    if (rc == SPILL_ENOTFOUND)
        return 0;
    if (rc != SPILL_OK) {
        fail(w, rc, ps);
        return 0;
    }
    /* the entry may have been swapped between fstatat and openat */
    if ((rc = spill__sys.stat(cfd, NULL, &now)) != SPILL_OK || now.dev != cs->dev ||
        now.ino != cs->ino) {
        spill__sys.close(cfd);
        fail(w, rc != SPILL_OK ? rc : spill__error_set_os(SPILL_EBUSY, 0, "walk", name,
                                                          "replaced while walking"), ps);
        return 0;
    }
    nested = walk_dir(w, cfd, &now, NULL, depth);
    spill__sys.close(cfd);
    w->st->dirs++;
    if (nested) {
        ps->errors += nested; /* the directory cannot go */
        return 0;
    }
    if (w->measure)
        return 0;
    rc = spill__sys.unlink(fd, name, 1);
    if (rc == SPILL_OK)
        return 1;
    if (rc != SPILL_ENOTFOUND)
        fail(w, rc, ps);
    w->st->dirs--;
    return 0;
}

/* One entry at level `depth`. Returns 1 if something was removed. */
static int do_entry(walk *w, spill__fd fd, const char *name, const spill__stat *self,
                    int depth, pass *ps)
{
    spill__stat cs;
    int rc = spill__sys.stat(fd, name, &cs);
    if (rc == SPILL_ENOTFOUND) /* another remover got there first */
        return 0;
    if (rc != SPILL_OK) {
        fail(w, rc, ps);
        return 0;
    }
    if (depth > SPILL__MAX_DEPTH) {
        fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "nested deeper than 64 levels: left"), ps);
        return 0;
    }
    if (cs.type == SPILL__F_DIR)
        return do_dir(w, fd, name, &cs, self, depth, ps);
    if (!w->measure) {
        rc = spill__sys.unlink(fd, name, 0);
        if (rc == SPILL_ENOTFOUND)
            return 0;
        if (rc != SPILL_OK) {
            fail(w, rc, ps);
            return 0;
        }
    }
    w->st->files++;
    if (cs.type == SPILL__F_REG)
        w->st->bytes += cs.size;
    return !w->measure;
}

/* Entries of fd are at level depth + 1. Some filesystems skip entries of a directory that is
 * being unlinked from, so the listing is read again until a pass removes nothing. Returns the
 * errors of the last pass, its subdirectories' included (earlier passes' are met again). */
static uint32_t walk_dir(walk *w, spill__fd fd, const spill__stat *self, const char *keep,
                         int depth)
{
    spill__dir *d;
    const char *name;
    pass ps;
    int rc, removed;
    if ((rc = spill__sys.dir_open(fd, &d)) != SPILL_OK) {
        if (w->first_error == SPILL_OK)
            w->first_error = rc;
        return 1;
    }
    for (;;) {
        removed = 0;
        memset(&ps, 0, sizeof ps);
        while ((rc = spill__sys.dir_next(d, &name)) == SPILL_OK && name) {
            if (keep && strcmp(name, keep) == 0)
                continue;
            removed += do_entry(w, fd, name, self, depth + 1, &ps);
        }
        if (rc != SPILL_OK)
            fail(w, rc, &ps);
        if (w->measure || !removed || rc != SPILL_OK)
            break;
        spill__sys.dir_rewind(d);
    }
    spill__sys.dir_close(d);
    return ps.errors;
}

static int run(spill__fd dirfd, const char *keep, spill__tree_stats *st, int measure)
{
    walk w;
    spill__stat self;
    uint32_t errors;
    int rc;
    memset(&w, 0, sizeof w);
    w.measure = measure;
    w.st = st;
    if ((rc = spill__sys.stat(dirfd, NULL, &self)) != SPILL_OK) {
        st->errors++;
        return rc;
    }
    errors = walk_dir(&w, dirfd, &self, keep, 0);
    st->errors += errors;
    return errors ? (w.first_error != SPILL_OK ? w.first_error : SPILL_EIO) : SPILL_OK;
}

int spill__tree_empty(spill__fd dirfd, const char *keep, spill__tree_stats *st)
{
    return run(dirfd, keep, st, 0);
}

int spill__tree_measure(spill__fd dirfd, spill__tree_stats *st)
{
    return run(dirfd, NULL, st, 1);
}
