/* walk.c (POSIX): removing or measuring a directory tree without ever following a link: every
 * step is relative to the parent's descriptor (openat/fstatat/unlinkat), directories are opened
 * O_NOFOLLOW|O_DIRECTORY and checked to be the entry just examined, a link is removed as a link,
 * a mount point is never entered, and at most SPILL__MAX_DEPTH levels are descended. It goes
 * through the operations table so that tests can inject failures into it. */
#include <string.h>

#include "posix.h"
#include "walk.h"

/* Descends into the directory `name` (already stat'ed as cs) and, unless measuring, removes it
 * once empty. Returns 1 if something was removed. */
static int do_dir(spill__walk *w, spill__fd fd, const char *name, const spill__stat *cs,
                  const spill__stat *self, int depth, spill__walk_pass *ps)
{
    spill__fd cfd;
    spill__stat now;
    uint32_t nested;
    int rc;
    if (cs->dev != self->dev || cs->mount_id != self->mount_id) {
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "a mount point: not entered"), ps);
        return 0;
    }
    rc = spill__sys.open_dir(fd, name, &cfd);
    if (rc == SPILL_ENOTFOUND)
        return 0;
    if (rc != SPILL_OK) {
        spill__walk_fail(w, rc, ps);
        return 0;
    }
    /* the entry may have been swapped between fstatat and openat */
    if ((rc = spill__sys.stat(cfd, NULL, &now)) != SPILL_OK || now.dev != cs->dev ||
        now.ino != cs->ino) {
        spill__sys.close(cfd);
        spill__walk_fail(w, rc != SPILL_OK ? rc : spill__error_set_os(SPILL_EBUSY, 0, "walk", name,
                                                          "replaced while walking"), ps);
        return 0;
    }
    nested = spill__walk_dir(w, cfd, &now, NULL, depth);
    spill__sys.close(cfd);
    w->st->dirs++;
    if (nested) {
        ps->errors += nested; /* the directory cannot go */
        return 0;
    }
    if (w->measure)
        return 0;
    if (w->cut) { /* the budget ran out inside: the rest is the next reap's */
        w->st->dirs--;
        return 0;
    }
    rc = spill__sys.unlink(fd, name, 1);
    if (rc == SPILL_OK)
        return 1;
    if (rc != SPILL_ENOTFOUND)
        spill__walk_fail(w, rc, ps);
    w->st->dirs--;
    return 0;
}

/* One entry at level `depth`. Returns 1 if something was removed. */
int spill__walk_entry(spill__walk *w, spill__fd fd, const char *name, const spill__stat *self,
                      int depth, spill__walk_pass *ps)
{
    spill__stat cs;
    int rc = spill__sys.stat(fd, name, &cs);
    if (rc == SPILL_ENOTFOUND) /* another remover got there first */
        return 0;
    if (rc != SPILL_OK) {
        spill__walk_fail(w, rc, ps);
        return 0;
    }
    if (depth > SPILL__MAX_DEPTH) {
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
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
            spill__walk_fail(w, rc, ps);
            return 0;
        }
    }
    w->st->files++;
    if (cs.type == SPILL__F_REG)
        w->st->bytes += cs.size;
    return !w->measure;
}
