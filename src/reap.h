/* reap.h: what the reaper's files share: removing judged orphans, one or several at once by a
 * pool of worker threads (reap_pool.c). */
#ifndef SPILL_REAP_H
#define SPILL_REAP_H

#include "judge.h"

/* What removing one orphan did. */
typedef struct spill__removal {
    int rc;           /* SPILL_OK: this reaper's rmdir took the directory; SPILL_ENOTFOUND:
                         another reaper was first; else an error (this thread's last error) */
    uint64_t files;   /* non-directory entries removed, .lock included */
    uint64_t bytes;   /* sizes of the regular files removed */
    int cut;          /* rule 10, c->deadline_us passed: SPILL__DOOMED_CUT (started, .lock
                         and its record kept for the next reap) or SPILL__DOOMED_UNTOUCHED; rc
                         is then SPILL_OK and nothing was reaped */
    int os_error;     /* the OS error behind an error rc (0: none) */
    char at[256];     /* the orphan's name now: its trash name once renamed (rule 6) */
} spill__removal;

/* Removes root/name, judged an orphan in v, in the order of rule 6 (remove.c): v's
 * lock is released there once its .lock is unlinked; after an error v keeps it, and a second
 * call with out->at as the name goes on where the first stopped (adding to out's counts). Stops at c->deadline_us unless `progress`
 * (the reap's first orphan: each reap takes at least one entry). Calls no log callback and
 * touches nothing but v's descriptors and c's root, so any thread may run it. */
void spill__remove_orphan(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                          int progress, spill__removal *out);

/* Rule 10's rotating position in the root's listing (position.c): where the last budgeted reap
 * of the root stopped, kept across processes; 0, the start, when none is kept. */
uint64_t spill__position_load(spill__fd root_fd);
/* A directory of this user's own in the root, prefix<uid> (0700; made if create): SPILL_OK with
 * *fd set only if it is a directory this user owns (rule 7: another user's is never used). */
int spill__user_dir(spill__fd root_fd, const char *prefix, int create, spill__fd *fd);
void spill__user_dir_name(const char *prefix, char *buf, size_t size); /* prefix<uid> */
void spill__position_save(spill__fd root_fd, uint64_t pos);

/* Called on the reaping thread for each orphan a worker finished; on an error, that thread's
 * last error has been set to the worker's. */
typedef void (*spill__reap_done)(void *ctx, const char *name, const spill__removal *rm);

typedef struct spill__reap_pool spill__reap_pool;

/* Starts up to `workers` threads that remove orphans of the root in c. SPILL_OK with at least
 * one thread started; else an error, and the caller removes orphans itself. */
int spill__pool_start(spill__reap_pool **out, const spill__judge_ctx *c, unsigned workers,
                      spill__reap_done done, void *ctx);
/* Hands an orphan to the workers, taking over v's descriptors (v is left holding none); the
 * workers stop at c->deadline_us like the reaping thread (progress: see remove_orphan). Waits
 * while the queue is full; reports finished orphans through `done` meanwhile. */
void spill__pool_submit(spill__reap_pool *p, const char *name, spill__verdict *v, int progress);
/* The descriptors ran out while orphans are in the pool's hands: waits until one of them is
 * finished (and reported), and from then on lets the pool hold one fewer at a time, down to one
 * (a reap with descriptors for one orphan works as one thread does). Returns 0 if the pool held
 * none: there is nothing to wait for. */
int spill__pool_shrink(spill__reap_pool *p);
/* Waits for every orphan handed over, reports each, stops the threads, frees the pool. */
void spill__pool_finish(spill__reap_pool *p);

#endif
