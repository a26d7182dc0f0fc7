/* walk.c: the tree walker's passes over a directory, the same on every OS (see walk.h); it
 * reaches the OS only through the operations table and spill__walk_entry. */
#include <string.h>

#include "walk.h"

void spill__walk_fail(spill__walk *w, int rc, spill__walk_pass *ps)
{
    if (w->first_error == SPILL_OK)
        w->first_error = rc;
    ps->errors++;
}

int spill__walk_over(spill__walk *w)
{
    if (w->cut)
        return 1;
    if (w->stop && w->stop(w->stop_ctx, w->st)) { /* a stop asked for: even the first entry */
        w->cut = 1;
        return 1;
    }
    if (!w->deadline_us || w->taken < w->min_taken || spill__monotonic_us() < w->deadline_us)
        return 0;
    w->cut = 1;
    return 1;
}

/* Entries of fd are at level depth + 1. Some filesystems skip entries of a directory that is
 * being unlinked from, so the listing is read again until a pass removes nothing. Returns the
 * errors of the last pass, its subdirectories' included (earlier passes' are met again). */
uint32_t spill__walk_dir(spill__walk *w, spill__fd fd, const spill__stat *self, const char *keep,
                         int depth)
{
    spill__dir *d;
    const char *name;
    spill__walk_pass ps;
    int rc, removed, n;
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
            /* rule 10: the budget is checked at every entry, not only between orphans */
            if (spill__walk_over(w))
                break;
            n = spill__walk_entry(w, fd, name, self, depth + 1, &ps);
            removed += n;
            w->taken += (uint64_t)n;
        }
        if (rc != SPILL_OK)
            spill__walk_fail(w, rc, &ps);
        if (w->measure || !removed || rc != SPILL_OK || w->cut)
            break;
        spill__sys.dir_rewind(d);
    }
    spill__sys.dir_close(d);
    return ps.errors;
}

static int run(spill__fd dirfd, const char *keep, spill__tree_stats *st, int measure,
               int64_t deadline_us, int progress, spill__walk_stop stop, void *stop_ctx)
{
    spill__walk w;
    spill__stat self;
    uint32_t errors;
    int rc;
    memset(&w, 0, sizeof w);
    w.measure = measure;
    w.st = st;
    w.deadline_us = deadline_us;
    w.min_taken = progress ? 1 : 0;
    w.stop = stop;
    w.stop_ctx = stop_ctx;
    if ((rc = spill__sys.stat(dirfd, NULL, &self)) != SPILL_OK) {
        st->errors++;
        return rc;
    }
    errors = spill__walk_dir(&w, dirfd, &self, keep, 0);
    st->errors += errors;
    st->cut_short = w.cut;
    return errors ? (w.first_error != SPILL_OK ? w.first_error : SPILL_EIO) : SPILL_OK;
}

int spill__tree_empty(spill__fd dirfd, const char *keep, spill__tree_stats *st)
{
    return run(dirfd, keep, st, 0, 0, 0, NULL, NULL);
}

int spill__tree_empty_until(spill__fd dirfd, const char *keep, spill__tree_stats *st,
                            int64_t deadline_us, int progress)
{
    return run(dirfd, keep, st, 0, deadline_us, progress, NULL, NULL);
}

int spill__tree_measure(spill__fd dirfd, spill__tree_stats *st)
{
    return run(dirfd, NULL, st, 1, 0, 0, NULL, NULL);
}

int spill__tree_empty_checked(spill__fd dirfd, const char *keep, spill__tree_stats *st,
                              int64_t deadline_us, int progress, spill__walk_stop stop,
                              void *stop_ctx)
{
    return run(dirfd, keep, st, 0, deadline_us, progress, stop, stop_ctx);
}
