/* walk.c (POSIX): walking and removing trees: the walker's step for one entry, and the
 * operation unlink that removes one.
 * The step removes or measures without ever following a link: every call is relative to the
 * parent's descriptor (openat/fstatat/unlinkat), directories are opened O_NOFOLLOW|O_DIRECTORY
 * and checked to be the entry just examined, a link is removed as a link, a mount point is never
 * entered, and at most SPILL__MAX_DEPTH levels are descended. It goes through the operations
 * table so that tests can inject failures into it. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "posix.h"
#include "walk.h"

/* held: any descriptor may stay open while its name is unlinked */
int spill__posix_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    (void)held;
    if (unlinkat(SPILL__AT(at), name, is_dir ? AT_REMOVEDIR : 0) < 0)
        return spill__error_os(is_dir ? "rmdir" : "unlinkat", name, errno);
    return SPILL_OK;
}

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
    rc = spill__sys.open_dir(fd, name, 0, &cfd);
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
    nested = spill__walk_dir(w, cfd, name, &now, NULL, depth);
    spill__sys.close(cfd);
    if (!spill__walk_after_descent(w, nested, ps))
        return 0;
    return spill__walk_dir_removed(w, spill__sys.unlink(fd, name, 1, NULL), ps);
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
    rc = w->measure ? SPILL_OK : spill__sys.unlink(fd, name, 0, NULL);
    return spill__walk_file_removed(w, rc, &cs, ps);
}
