/* walk.c: the tree walker's passes over a directory and its counting of each entry, the same on
 * every OS (walk.h); it reaches the OS through the operations table and spill__walk_entry. */
#include <string.h>

#include "walk.h"

/* The way down to the directory being listed, "a/b/c" (empty at the top), if it fits. */
static void way_down(const spill__walk *w, char *buf, size_t size)
{
    size_t n = 0, len;
    int i;
    buf[0] = '\0';
    for (i = 1; i <= w->depth; i++) {
        len = strlen(w->names[i]);
        if (n + len + 2 > size) {
            buf[0] = '\0'; /* too deep to name: the entry keeps its own name */
            return;
        }
        if (n)
            buf[n++] = SPILL__PATH_SEP[0];
        memcpy(buf + n, w->names[i], len + 1);
        n += len;
    }
}

static void record(spill__walk *w, int rc)
{
    char way[4096];
    if (w->first_error == SPILL_OK)
        w->first_error = rc;
    way_down(w, way, sizeof way);
    if (way[0])
        spill__error_in(rc, way);
}

void spill__walk_fail(spill__walk *w, int rc, spill__walk_pass *ps)
{
    record(w, rc);
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

int spill__walk_after_descent(spill__walk *w, uint32_t nested, spill__walk_pass *ps)
{
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
    return 1;
}

int spill__walk_dir_removed(spill__walk *w, int rc, spill__walk_pass *ps)
{
    if (rc == SPILL_OK)
        return 1;
    if (rc != SPILL_ENOTFOUND)
        spill__walk_fail(w, rc, ps);
    w->st->dirs--;
    return 0;
}

int spill__walk_file_removed(spill__walk *w, int rc, const spill__stat *cs,
                             spill__walk_pass *ps)
{
    if (rc == SPILL_ENOTFOUND)
        return 0;
    if (rc != SPILL_OK) {
        spill__walk_fail(w, rc, ps);
        return 0;
    }
    w->st->files++;
    if (cs->type == SPILL__F_REG)
        w->st->bytes += cs->size;
    return !w->measure;
}

/* Entries of fd are at level depth + 1. Some filesystems skip entries of a directory that is
 * being unlinked from, so the listing is read again until a pass removes nothing. Returns the
 * errors of the last pass, its subdirectories' included (earlier passes' are met again). */
uint32_t spill__walk_dir(spill__walk *w, spill__fd fd, const char *dir, const spill__stat *self,
                         const char *keep, int depth)
{
    spill__dir *d;
    const char *name;
    spill__walk_pass ps;
    int rc, removed, n, up = w->depth;
    w->names[depth] = dir;
    w->depth = depth;
    if ((rc = spill__sys.list_open(fd, &d)) != SPILL_OK) {
        record(w, rc);
        w->depth = up;
        return 1;
    }
    for (;;) {
        removed = 0;
        memset(&ps, 0, sizeof ps);
        while ((rc = spill__sys.list_next(d, &name)) == SPILL_OK && name) {
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
        spill__sys.list_seek(d, 0);
    }
    spill__sys.list_close(d);
    w->depth = up;
    return ps.errors;
}

static int run(spill__fd dirfd, const spill__tree_limits *lim, spill__tree_stats *st,
               int measure)
{
    static const spill__tree_limits none;
    spill__walk w;
    spill__stat self;
    uint32_t errors;
    int rc;
    if (!lim)
        lim = &none;
    memset(&w, 0, sizeof w);
    w.measure = measure;
    w.st = st;
    w.deadline_us = lim->deadline_us;
    w.min_taken = lim->progress ? 1 : 0;
    w.stop = lim->stop;
    w.stop_ctx = lim->stop_ctx;
    if ((rc = spill__sys.stat(dirfd, NULL, &self)) != SPILL_OK) {
        st->errors++;
        return rc;
    }
    errors = spill__walk_dir(&w, dirfd, NULL, &self, lim->keep, 0);
    st->errors += errors;
    st->cut_short = w.cut;
    return errors ? (w.first_error != SPILL_OK ? w.first_error : SPILL_EIO) : SPILL_OK;
}

int spill__tree_empty(spill__fd dirfd, const spill__tree_limits *lim, spill__tree_stats *st)
{
    return run(dirfd, lim, st, 0);
}

int spill__tree_measure(spill__fd dirfd, spill__tree_stats *st)
{
    return run(dirfd, NULL, st, 1);
}
