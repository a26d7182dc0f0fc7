/* remove.c: the one place that decides the order in which a spill directory goes (docs/design.md,
 * rule 6), for spill_close (the owner) and spill_reap (a reaper holding an orphan's lock). */
#include <stdio.h>
#include <string.h>

#include <apr_time.h>

#include "spill_int.h"

#define TRASH_ATTEMPTS 8      /* fresh trash names tried when one is taken */
#define HIDDEN_WAIT_MS 2000   /* how long an rmdir waits out FUSE's and NFS's hidden files */

/* The order, and why each step is safe.
 *
 *  1. rename the directory to a fresh trash name .spill-del_<secs>_<u64> in the root, never
 *     replacing anything, while its lock is held (POSIX only: spill__platform_stages; Windows
 *     cannot rename a directory with an open file inside and keeps its own order, below);
 *  2. empty it, .lock excepted;
 *  3. unlink .lock while still locked;
 *  4. release and close the lock;
 *  5. remove the directory, retrying for a bounded time while only the hidden entries of an
 *     unlinked file that was open a moment ago remain (FUSE keeps `.lock` as .fuse_hidden*
 *     until the close of step 4 reaches the daemon, NFS as .nfs*: both go asynchronously);
 *     past the bound the lockless trash directory is left for the next reap.
 *
 * A concurrent reaper: until step 4 the lock is held, so a reaper that finds the directory by
 * either name judges it live, and one that opened it before the rename finds its old name gone.
 * After step 3 a reaper finds no .lock: under the trash name that is garbage at once (rule 1),
 * and it empties and removes what is left; both rmdirs check the name is still this directory,
 * and the one that comes second meets ENOENT, which is success. Nobody renames a directory to
 * a trash name without holding its lock, so a trash name with a free lock is never a live spill.
 * A concurrent creator: creators make .spill-new_ names and publish spill_ names without
 * replacing; the trash rename replaces nothing either, and no creator or adopter looks at a
 * trash name, so a half-emptied spill is never adopted or mistaken for a fresh one.
 * A crash: before step 1 the orphan has its .lock and record (rule 4: an orphan at once);
 * after step 1 or during step 2 (or a reap cut short by its budget, which stops after step 2
 * and keeps .lock and its record) it is a trash directory with a free lock; after step 3 a
 * trash directory without .lock: either way the next reap finishes it at once (rule 1). Once
 * .lock is unlinked the directory is finished whatever a budget says.
 * Windows: steps 2 to 5 alone; .lock is marked for deletion through its own handle and goes as
 * step 4 closes it, and an owner's directory handle is let go before the directory goes. */

/* Prefixes this thread's last error with the directory it happened in: the spill directory
 * (in_dir) or the root. */
static int locate(const spill__doomed *d, int rc, int in_dir)
{
    char where[4096];
    if (!in_dir)
        return spill__error_in(rc, d->root);
    snprintf(where, sizeof where, "%s" SPILL__PATH_SEP "%s", d->root, d->name);
    return spill__error_in(rc, where);
}

/* 1 if root/name is still the directory being removed. */
static int is_it(const spill__doomed *d, const char *name)
{
    spill__stat st;
    return spill__sys.stat(d->root_fd, name, &st) == SPILL_OK && st.dev == d->dev &&
           st.ino == d->ino;
}

/* Step 1, here or by a reaper before it queues the orphan for a worker (reap_pool.c), so that
 * its spill_ name (and tag) is gone at once. A name that fails to become a trash name (a
 * filesystem that refuses the rename) is removed under its own name: nothing is lost but rule
 * 1's promptness. */
void spill__to_trash(spill__doomed *d)
{
    char trash[sizeof d->name];
    int i, kind = SPILL__N_SPILL, rc = SPILL_EBUSY;
    uint64_t secs, rnd;
    if (!spill__platform_stages() || !d->lock_ours ||
        (spill__parse_name(d->name, &kind, &secs, &rnd) && kind == SPILL__N_TRASH) ||
        !is_it(d, d->name))
        return;
    for (i = 0; i < TRASH_ATTEMPTS && rc == SPILL_EBUSY; i++) {
        snprintf(trash, sizeof trash, SPILL__TRASH_PREFIX "%llu_%llu",
                 (unsigned long long)spill__now(), (unsigned long long)spill__random_u64());
        rc = spill__sys.rename(d->root_fd, d->name, d->root_fd, trash, 0);
    }
    if (rc != SPILL_OK)
        return;
    if (!is_it(d, trash)) { /* swapped in between our check and the rename: put it back */
        spill__sys.rename(d->root_fd, trash, d->root_fd, d->name, 0);
        return;
    }
    strcpy(d->name, trash);
}

/* What the directory holds after a refused rmdir: HIDDEN_ONLY, nothing but hidden files of
 * unlinked ones; HIDDEN_GONE, nothing at all (the last went since the rmdir: try once more);
 * else HIDDEN_NOT. */
enum { HIDDEN_NOT, HIDDEN_ONLY, HIDDEN_GONE };
static int only_hidden(const spill__doomed *d)
{
    spill__dir *dir;
    const char *n;
    int seen = 0, other = 0;
    if (*d->dir_fd == SPILL__NOFD || spill__sys.list_open(*d->dir_fd, &dir) != SPILL_OK)
        return HIDDEN_NOT;
    while (!other && spill__sys.list_next(dir, &n) == SPILL_OK && n) {
        seen = 1;
        other = strncmp(n, ".fuse_hidden", 12) != 0 && strncmp(n, ".nfs", 4) != 0;
    }
    spill__sys.list_close(dir);
    return other ? HIDDEN_NOT : seen ? HIDDEN_ONLY : HIDDEN_GONE;
}

static int rmdir_once(spill__doomed *d)
{
    if (!is_it(d, d->name))
        return SPILL_ENOTFOUND; /* gone, or no longer ours: another remover was first */
    /* an owner's directory handle refuses the delete on Windows: let go first there */
    return spill__sys.unlink(d->root_fd, d->name, 1, d->owner ? d->dir_fd : NULL);
}

/* Step 5. */
static int remove_dir(spill__doomed *d)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(HIDDEN_WAIT_MS);
    apr_interval_time_t pause = 1000;
    int rc, kind = SPILL__N_SPILL, left, again = 1;
    uint64_t secs, rnd;
    while ((rc = rmdir_once(d)) == SPILL_EBUSY && (left = only_hidden(d)) != HIDDEN_NOT) {
        if (left == HIDDEN_GONE) {
            if (!again--)
                break;
            continue;
        }
        if (apr_time_now() >= deadline) {
            if (spill__parse_name(d->name, &kind, &secs, &rnd) && kind == SPILL__N_TRASH) {
                d->left = 1; /* lockless trash: the next reap takes it at once (rule 1) */
                return SPILL_OK;
            }
            break;
        }
        apr_sleep(pause); /* a bounded wait for the filesystem's own asynchronous cleanup */
        if (pause < 64000)
            pause *= 2;
    }
    return rc;
}

int spill__remove_dir(spill__doomed *d)
{
    spill__tree_limits lim;
    int rc, renamed;
    char was[sizeof d->name];
    memset(&d->ts, 0, sizeof d->ts);
    d->lock_removed = d->left = d->cut = 0;
    if (d->deadline_us && !d->progress && spill__monotonic_us() >= d->deadline_us) {
        d->cut = SPILL__DOOMED_UNTOUCHED;
        return SPILL_OK;
    }
    strcpy(was, d->name);
    spill__to_trash(d);
    renamed = strcmp(was, d->name) != 0;
    lim.keep = *d->lock_fd != SPILL__NOFD ? SPILL__LOCK_NAME : NULL;
    lim.deadline_us = d->deadline_us;
    lim.progress = d->progress;
    lim.stop = d->stop;
    lim.stop_ctx = d->stop_ctx;
    rc = spill__tree_empty(*d->dir_fd, &lim, &d->ts);
    if (rc != SPILL_OK) /* .lock and its record stay, for the next reap */
        return locate(d, rc, 1);
    if (d->ts.cut_short) { /* rule 10: the same, by the budget; the caller releases the lock */
        d->cut = renamed || d->ts.files || d->ts.dirs ? SPILL__DOOMED_CUT
                                                      : SPILL__DOOMED_UNTOUCHED;
        return SPILL_OK;
    }
    if (d->lock_ours) {
        rc = spill__sys.unlink(*d->dir_fd, SPILL__LOCK_NAME, 0, d->lock_fd);
        if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
            return locate(d, rc, 1);
        d->lock_removed = rc == SPILL_OK;
    }
    if (*d->lock_fd != SPILL__NOFD) {
        spill__sys.unlock(*d->lock_fd);
        *d->lock_fd = SPILL__NOFD;
    }
    rc = remove_dir(d);
    if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
        return locate(d, rc, 0);
    return rc;
}
