/* fuzz.h: what the reaper's fuzz target shares: the tree it builds from an input, the reaper's
 * expected judgement of each entry, and the filesystem helpers it checks with. Linux only. */
#ifndef SPILL_FUZZ_H
#define SPILL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spill.h"

/* A growing string (snapshots, descriptions). */
typedef struct fz_buf {
    char *p;
    size_t len, cap;
} fz_buf;
void fz_buf_add(fz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *fz_buf_str(const fz_buf *b);
void fz_buf_free(fz_buf *b);

/* fsutil.c: snapshots, forced removal, descriptor counts, and who runs what. */
/* Appends dirfd/name and everything below it: names (sorted), types, modes, owners, sizes,
 * contents' hashes and link targets; never follows a link, never opens a FIFO. */
void fz_snapshot(int dirfd, const char *name, fz_buf *out);
/* Removes dirfd/name and all below it, whatever the modes; 0 on success. */
int fz_remove(int dirfd, const char *name);
int fz_count_fds(void);
/* Started as root, the tree is built and the reaper runs as an unprivileged user (so that modes
 * mean what they do for a client), and the checks run as root (so that they see everything). */
void fz_users_init(void);
void fz_as_user(void);
void fz_as_checker(void);
int fz_reaper_privileged(void);  /* 1 if the reaper's permission checks are bypassed */
/* Gives dirfd/name (made by the checker) to the user that builds and reaps; 1 on success. */
int fz_make_ours(int dirfd, const char *name);
/* Gives dirfd/name to another user (0 if this run cannot: not started as root). */
int fz_give_away(int dirfd, const char *name);

/* What the reaper must make of an entry, from how it was built (rules 1-8, docs/design.md). */
enum fz_expect {
    FZ_IGNORED,  /* not a name the reaper looks at (rule 1): left unchanged */
    FZ_LIVE,     /* lock held: left unchanged */
    FZ_YOUNG,    /* lockless or foreign and younger than the grace: left unchanged */
    FZ_UNSAFE,   /* a shape or owner not ours: left unchanged */
    FZ_ERROR,    /* cannot be judged (permissions): counted as an error, left unchanged */
    FZ_CLEAN,    /* an orphan whose removal must succeed: gone */
    FZ_DIRTY     /* an orphan with content that cannot be removed: an error, left, .lock kept */
};

#define FZ_MAX_CHUNKS 4
typedef struct fz_entry {
    char name[256];
    char what[200];        /* how it was built, for a failure report */
    int expect;            /* enum fz_expect */
    int lock_file;         /* a regular .lock that a failed removal must leave */
    int hold_fd;           /* .lock opened and flock'ed by the fuzzer itself, or -1 */
    spill_t *spill;        /* opened in-process with spill_open, or NULL */
    int clean_inside;      /* the spill_open'ed one's extra content can all be removed */
    unsigned nchunks;
    size_t chunk_len[FZ_MAX_CHUNKS];
    unsigned chunk_seed[FZ_MAX_CHUNKS];
    uint64_t files, bytes; /* what removing it frees: non-directories, regular files' bytes */
    fz_buf before;         /* snapshot before the reap */
    int scanned;           /* the spill_state spill_scan reported, or -1 */
} fz_entry;

#define FZ_MAX_ENTRIES 24
typedef struct fz_tree {
    int root_fd, victim_fd;
    const char *root, *victim;
    int priv;              /* fz_reaper_privileged() */
    int64_t now;
    uint32_t grace;
    unsigned threads;
    fz_entry e[FZ_MAX_ENTRIES];
    int n;
    int nodes, chains;     /* what is left of the input's budgets */
    unsigned ids;          /* makes every name unique */
} fz_tree;

/* reap_fuzz.c: counts one invariant; a broken one is reported with the tree and aborts. */
void fz_check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* order.c: while on, checks rule 6's order through the operations table. */
void fz_order_watch(int on);

/* tree.c: builds t->root (already open as t->root_fd) from the input. */
void fz_build(fz_tree *t, const uint8_t *data, size_t size);
/* The bytes of chunk i of a spill_open'ed entry (len bytes into buf). */
void fz_chunk_bytes(const fz_entry *e, unsigned i, uint8_t *buf);
void fz_chunk_addr(const fz_entry *e, unsigned i, uint8_t addr[SPILL_ADDR_LEN]);
/* Releases what the tree holds: flocks and in-process spills (closed), snapshots. */
void fz_release(fz_tree *t);

#endif
