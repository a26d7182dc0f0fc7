/* walk.h: the tree walker's passes, shared by every OS: each directory's listing is read again
 * until a pass removes nothing, errors are counted once, where they happen. What one entry is
 * and how it goes (openat/unlinkat on POSIX, a handle and its disposition on Windows) is the
 * OS's spill__walk_entry, in platform/<os>/walk.c. */
#ifndef SPILL_WALK_H
#define SPILL_WALK_H

#include "platform.h"
#include "process.h"

/* What one pass over one directory met. */
typedef struct spill__walk_pass {
    uint32_t errors; /* errors met at this level and below */
} spill__walk_pass;

typedef struct spill__walk {
    int measure;            /* count only, remove nothing */
    spill__tree_stats *st;
    int first_error;        /* the first error met, returned at the end */
    int64_t deadline_us;    /* spill__monotonic_us() at which it stops (0: never) */
    uint64_t taken;         /* entries removed so far */
    uint64_t min_taken;     /* entries removed whatever the deadline (progress) */
    int cut;                /* the deadline stopped it */
    spill__walk_stop stop;  /* checked beside the deadline (NULL: none) */
    void *stop_ctx;
    int depth;              /* of the directory being listed (0: the tree's top) */
    const char *names[SPILL__MAX_DEPTH + 1]; /* names[1..depth]: the way down to it */
} spill__walk;

/* 1 once the deadline has passed (then w->cut is set): checked before each entry. */
int spill__walk_over(spill__walk *w);

/* Records an error met in this pass; the last error, which names its entry relative to the
 * directory being listed, then names it from the tree's top. */
void spill__walk_fail(spill__walk *w, int rc, spill__walk_pass *ps);

/* The bookkeeping after the descent into one directory, whose last pass left `nested` errors:
 * counts the directory, and returns 1 if it is now to be removed (nothing left below, not
 * measuring, not cut short), 0 if it stays. Then the OS removes it its own way and hands the
 * outcome to spill__walk_dir_removed, which returns 1 if it went, and otherwise uncounts it
 * (recording the error unless it was already gone). */
int spill__walk_after_descent(spill__walk *w, uint32_t nested, spill__walk_pass *ps);
int spill__walk_dir_removed(spill__walk *w, int rc, spill__walk_pass *ps);

/* The same for an entry that is not a directory (stat'ed as cs), once the OS has removed it
 * with outcome rc (SPILL_OK when measuring, as nothing is removed): counts it unless it was
 * already gone or an error (recorded). Returns 1 if it was removed. */
int spill__walk_file_removed(spill__walk *w, int rc, const spill__stat *cs,
                             spill__walk_pass *ps);

/* Walks the directory `name` (NULL at the top) open as fd, whose entries are at level
 * depth + 1, skipping `keep`. Returns the errors of the last pass, its subdirectories' included. */
uint32_t spill__walk_dir(spill__walk *w, spill__fd fd, const char *name, const spill__stat *self,
                         const char *keep, int depth);

/* Per OS: one entry `name` of the directory fd, at level depth. Returns 1 if it was removed. */
int spill__walk_entry(spill__walk *w, spill__fd fd, const char *name, const spill__stat *self,
                      int depth, spill__walk_pass *ps);

#endif
