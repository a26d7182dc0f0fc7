/* judge.h: the reaper's judgement of one child of the root (rules 1-8, docs/design.md), shared by
 * spill_reap (which removes orphans) and spill_scan (which only reports). */
#ifndef SPILL_JUDGE_H
#define SPILL_JUDGE_H

#include "spill_int.h"

#define SPILL__GONE (-1)  /* vanished while judged (another reaper): not counted */
#define SPILL__ERROR (-2) /* could not be judged: counted as an error, left */

/* What is fixed for one pass over a root. */
typedef struct spill__judge_ctx {
    const char *root;
    spill__fd root_fd;
    spill__stat root_st;
    spill__mounts *mounts; /* the platform's snapshot of mount points under the root (rule 2) */
    int network;          /* the root is on a network or FUSE filesystem (rule 8) */
    int64_t now;
    int64_t deadline_us;  /* rule 10: spill__monotonic_us() at which the reap stops (0: none) */
    spill__walk_stop stop; /* checked with the deadline inside orphans (NULL: none) */
    void *stop_ctx;
    uint32_t grace;
    int reap_resumable;   /* resumable orphans are orphans (rule 4's exception waived) */
    int live_fast;        /* rule 13's live fast path: spill_reap's judging only */
    char host[256];
} spill__judge_ctx;

/* The judgement of one entry. Release it with spill__verdict_release. */
typedef struct spill__verdict {
    int state;            /* spill_state, SPILL__GONE or SPILL__ERROR */
    int error;            /* the spill_err when state is SPILL__ERROR */
    int os_error;         /* and the OS error behind it (0: none) */
    char reason[512];     /* why unsafe, young or an error, for people */
    int staging;
    int trash;            /* a trash directory (rule 6): garbage unless its lock is held */
    spill__fd dir_fd;     /* the directory, open unless gone/unsafe-before-open */
    spill__fd lock_fd;    /* .lock, locked by us, when we could take its lock */
    int lock_examined;    /* .lock was found busy after its examination (rule 7) */
    int dir_locked;       /* rule 13: we hold its directory lock (exclusive on an orphan,
                             shared once adopted) */
    spill__stat dir_st;
    uint64_t lock_size;
    int has_record;
    spill__record rec;
    int64_t age;
} spill__verdict;

/* Opens the root, and with check_root refuses one others can write to (rule 11; spill_scan,
 * read-only, refuses nothing). SPILL_ENOTFOUND if it does not exist. */
int spill__judge_begin(spill__judge_ctx *c, const char *root, const spill_opts *o,
                       int check_root);
void spill__judge_end(spill__judge_ctx *c);

/* now - born, saturated: an mtime of INT64_MIN (tmpfs allows it) must not overflow. */
int64_t spill__age(int64_t now, int64_t born);

/* 1 if name is one the reaper looks at (rule 1). */
int spill__judge_wants(const char *name);

/* Reads the root as a stream (memory not growing with it) and hands fn each name the reaper
 * looks at, copied apart: until fn returns non-zero (kept in *stopped), the listing's end
 * (SPILL_OK), deadline_us (0: none) passing (SPILL_ETIMEDOUT, no error recorded), or the
 * listing's error. spill_reap reads its own way, in slices from its rotating position. */
int spill__judge_each(const spill__judge_ctx *c, int64_t deadline_us,
                      int (*fn)(void *ctx, const char *name), void *ctx, int *stopped);

/* Judges root/name. An orphan comes back with dir_fd open and, if it had a lockable .lock,
 * lock_fd held: the caller removes it under that lock. */
void spill__judge(const spill__judge_ctx *c, const char *name, spill__verdict *v);

/* Closes what the verdict holds (releasing the lock last). */
void spill__verdict_release(spill__verdict *v);
/* Rule 13: lets go of the directory's lock, for every copy of its descriptor, which stays
 * open. */
void spill__verdict_dir_unlock(spill__verdict *v);

/* For scan: reads the owner record of a live spill without taking its lock. */
void spill__judge_read_record(const spill__judge_ctx *c, spill__verdict *v);

#endif
