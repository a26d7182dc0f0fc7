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

/* Entries of fd are at level depth + 1. Some filesystems skip entries of a directory that is
 * being unlinked from, so the listing is read again until a pass removes nothing. Returns the
 * errors of the last pass, its subdirectories' included (earlier passes' are met again). */
uint32_t spill__walk_dir(spill__walk *w, spill__fd fd, const spill__stat *self, const char *keep,
                         int depth)
{
    spill__dir *d;
    const char *name;
    spill__walk_pass ps;
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
            removed += spill__walk_entry(w, fd, name, self, depth + 1, &ps);
        }
        if (rc != SPILL_OK)
            spill__walk_fail(w, rc, &ps);
        if (w->measure || !removed || rc != SPILL_OK)
            break;
        spill__sys.dir_rewind(d);
    }
    spill__sys.dir_close(d);
    return ps.errors;
}

static int run(spill__fd dirfd, const char *keep, spill__tree_stats *st, int measure)
{
    spill__walk w;
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
    errors = spill__walk_dir(&w, dirfd, &self, keep, 0);
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
