/* reap_remove.c: removing one orphan while holding its lock, in the order of SPEC.md rule 6:
 * everything else, then .lock while still locked, then the directory; the caller releases the
 * lock only afterwards (where an open file cannot vanish, .lock is marked for deletion and
 * closed, releasing its lock, before the directory goes). Run by the reaping thread or by a
 * worker of the pool. */
#include <stdio.h>
#include <string.h>

#include "reap.h"

/* An error's path: the walker names entries relative to the spill, so they are prefixed with
 * root/name; the directory's own stat and rmdir name it relative to the root. */
static void locate(const spill__judge_ctx *c, const char *name, int in_spill, int rc)
{
    char where[4096];
    if (!in_spill) {
        spill__error_in(rc, c->root);
        return;
    }
    snprintf(where, sizeof where, "%s" SPILL__PATH_SEP "%s", c->root, name);
    spill__error_in(rc, where);
}

void spill__remove_orphan(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                          int progress, spill__removal *out)
{
    spill__tree_stats ts;
    spill__stat named;
    int rc, removed_lock = 0, in_spill = 1;
    memset(&ts, 0, sizeof ts);
    memset(out, 0, sizeof *out);
    rc = spill__tree_empty_until(v->dir_fd, v->lock_fd != SPILL__NOFD ? SPILL__LOCK_NAME : NULL,
                                 &ts, c->deadline_us, progress);
    /* rule 10: cut short by the budget, the orphan keeps .lock and its record (removed last),
     * the caller releases its lock, and the next reap finishes it */
    if (rc == SPILL_OK && ts.cut_short) {
        out->cut = ts.files || ts.dirs ? SPILL__CUT_SHORT : SPILL__NOT_STARTED;
        out->files = ts.files;
        out->bytes = ts.bytes;
        return;
    }
    /* once .lock goes, the directory is finished whatever the budget */
    if (rc == SPILL_OK && v->lock_fd != SPILL__NOFD) {
        rc = spill__sys.unlink_held(v->dir_fd, SPILL__LOCK_NAME, &v->lock_fd, 0);
        removed_lock = rc == SPILL_OK;
        if (rc == SPILL_ENOTFOUND)
            rc = SPILL_OK;
        if (spill__platform_unlock_before_rmdir()) {
            spill__sys.unlock(v->lock_fd); /* .lock goes as its handle closes */
            v->lock_fd = SPILL__NOFD;
        }
    }
    /* remove the directory by name only if the name still is the directory we emptied; only
     * the remover whose rmdir took it counts it as reaped, so racing reapers count it once */
    if (rc == SPILL_OK) {
        in_spill = 0;
        if ((rc = spill__sys.stat(c->root_fd, name, &named)) == SPILL_OK) {
            if (named.dev != v->dir_st.dev || named.ino != v->dir_st.ino)
                rc = SPILL_ENOTFOUND;
            else
                rc = spill__sys.unlink(c->root_fd, name, 1);
        }
    }
    if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
        locate(c, name, in_spill, rc);
    out->rc = rc;
    out->files = ts.files + (uint64_t)removed_lock;
    out->bytes = ts.bytes + (removed_lock ? v->lock_size : 0);
}
