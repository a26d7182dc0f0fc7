/* spill_int.h: what the core's files share, by concern: the on-disk format; process-wide
 * state (initialisation, errors, options); a spill handle and its chunks; a spill's life (its
 * root, creation, removal); the registry of this process's spills; the reaper. */
#ifndef SPILL_INT_H
#define SPILL_INT_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>

#include "spill.h"
#include "platform.h"
#include "process.h"

/* ==== On disk (docs/on-disk.md) ======================================================= */

#define SPILL__NAME_PREFIX "spill_"
#define SPILL__STAGE_PREFIX ".spill-new_"
#define SPILL__TRASH_PREFIX ".spill-del_" /* rule 6: a directory being removed */
#define SPILL__LOCK_NAME ".lock"
#define SPILL__JOURNAL_NAME ".journal" /* starts with '.': no chunk's name (journal.c) */
#define SPILL__LEASE_NAME ".spill-lease" /* its reservation (reserve.c) */
#define SPILL__JOURNAL_TMP ".journal-new" /* a compacted journal, then renamed over it */
#define SPILL__RECORD_MAX 4096
#define SPILL__HEX_LEN (SPILL_ADDR_LEN * 2)
#define SPILL__TAG_MAX 255 /* bytes of opts.tag */

/* names.c: strict names of spill, staging and trash directories; the clock seconds and random
 * parts that names are made of. */
enum spill__name_kind { SPILL__N_SPILL = 0, SPILL__N_STAGE = 1, SPILL__N_TRASH = 2 };
int spill__parse_name(const char *name, int *kind, uint64_t *secs, uint64_t *rnd);
void spill__hex(const uint8_t addr[SPILL_ADDR_LEN], char out[SPILL__HEX_LEN + 1]);
uint64_t spill__random_u64(void);
int64_t spill__now(void);

/* record.c: the owner record written at the start of .lock. */
typedef struct spill__record {
    uint64_t nonce;
    int64_t pid;
    int64_t started;
    uint32_t keep;      /* keep= (0.2): seconds the orphan stays resumable; 0 absent */
    char host[256];
    char tag[256];
} spill__record;
/* Formats the record line (with its newline) into buf; returns its length. */
size_t spill__record_format(char *buf, size_t size, uint64_t nonce, int64_t pid,
                            const char *host, int64_t started, uint32_t keep,
                            const char *tag);
/* 1 if buf[0..len) holds a version-1 record (filled into *r), 0 if foreign. */
int spill__record_parse(const char *buf, size_t len, spill__record *r);
/* Reads a small text file (a record, a lease) from fd into buf, at most size bytes, to its end:
 * a read that comes back short after a whole line is taken as the end (a regular file's read is
 * short only there; the line's end guards a filesystem that returns less, FUSE's direct I/O). */
int spill__read_small(spill__fd fd, char *buf, size_t size, size_t *got);

/* journal.c: the chunk journal of a resumable spill, appended after each complete chunk write
 * (never fails the put: an unjournaled chunk is only not adoptable until the next compaction),
 * read back by spill_adopt as a stream, and compacted to the live chunks' entries. */
typedef struct spill__journal_entry {
    uint8_t addr[SPILL_ADDR_LEN];
    uint64_t len;
} spill__journal_entry;
void spill__journal_append(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len);
void spill__journal_close(spill_t *s);
/* 1 when the owner's journal is due a compaction: it holds more than twice the entries of its
 * live chunks (put/remove churn), or an append failed; spill__journal_compact then rewrites it
 * (a failure leaves it as it was, and the next try waits). */
int spill__journal_due(const spill_t *s);
void spill__journal_compact(spill_t *s);
/* What spill__journal_read found. */
typedef struct spill__journal_info {
    int present;      /* 0: the directory has no journal */
    uint64_t size;    /* the file's length */
    uint64_t entries; /* valid entries, up to the first torn or garbled one */
} spill__journal_info;
/* Calls fn for each valid entry of the journal in dir_fd, in the order written (i from 0),
 * through a fixed buffer whatever the journal's size. SPILL_OK (also without a journal), or the
 * error that kept it from being read whole (or fn's): nothing may be judged from it then. */
int spill__journal_read(spill__fd dir_fd, spill__journal_info *info,
                        int (*fn)(void *ctx, uint64_t i, const spill__journal_entry *e),
                        void *ctx);
/* An adopter's, once s holds the chunks it kept: the journal rewritten to their entries, or
 * failing that cut back to its valid entries (a torn last one goes before anything is
 * appended); failing both, left as it was and not appended to. Returns what it did, for the
 * log. */
const char *spill__journal_adopted(spill_t *s, const spill__journal_info *info);

/* ==== Process-wide ==================================================================== */

/* init.c: APR initialised once, invisibly. */
int spill__init(void);
/* A pool of its own (unmanaged: its own allocator, no parent, no mutex) for one handle or one
 * reap: nothing a forked child could inherit locked (rule 14). */
int spill__pool_new(apr_pool_t **out);

/* error.c: the per-thread last error (spill__error_set_os and spill__error_in, the platform's
 * way in, are in platform.h). Each returns code. */
int spill__error(int code, const char *op, const char *path, const char *fmt, ...);
void spill__error_clear(void);
/* Keeps the last error aside while cleanup runs, then puts it back. */
void spill__error_stash(void);
void spill__error_unstash(void);
/* A copy of this thread's last error, to be recorded on another thread: the reaper's workers
 * hand theirs to the calling thread, which counts and logs the failure. */
typedef struct spill__error_copy {
    int code, os_error;
    char op[64];
    char path[1024];
    char reason[256];
} spill__error_copy;
void spill__error_copy_out(spill__error_copy *c);
void spill__error_copy_in(const spill__error_copy *c);

/* opts.c */
int spill__opts_check(const spill_opts *opts, spill_opts *out);
void spill__log(const spill_opts *o, int level, const char *fmt, ...);

/* ==== A handle and its chunks ========================================================= */

/* One stored chunk. Entries are recycled through a free list so that put/remove churn does not
 * grow the handle's pool. */
typedef struct spill__chunk {
    uint8_t addr[SPILL_ADDR_LEN];
    uint64_t len;
    size_t slot;            /* its place in the handle's order */
    struct spill__chunk *next_free;
} spill__chunk;

/* order.c: the stored chunks in insertion order; push, remove and the i-th in O(log n). */
typedef struct spill__order {
    spill__chunk **slot;    /* by insertion; NULL where a chunk was removed */
    size_t *tree;           /* Fenwick tree of chunks per slot, cap + 1 entries */
    size_t used, live, cap; /* slots used, chunks among them, slots allocated */
} spill__order;
int spill__order_push(spill__order *o, spill__chunk *c);
void spill__order_remove(spill__order *o, spill__chunk *c);
spill__chunk *spill__order_at(const spill__order *o, size_t i);
void spill__order_free(spill__order *o);

struct spill {
    apr_pool_t *pool;
    int64_t pid;            /* the creating process: any other gets SPILL_EFORKED */
    char *path;             /* absolute root + "/" + name */
    const char *name;       /* spill_<secs>_<u64> */
    spill__fd root_fd;      /* the root, to remove the directory by name on close */
    spill__fd dir_fd;       /* the spill directory: chunks are made relative to it */
    spill__fd lock_fd;      /* .lock, locked for the handle's whole life */
    uint64_t dev, ino;      /* the directory's identity, for the registry */
    apr_hash_t *index;      /* addr -> spill__chunk */
    spill__order order;     /* the chunks in insertion order */
    spill__chunk *free_list;
    uint64_t total;
    uint64_t lease;         /* the bytes its reservation lets it hold on disk (reserve.c) */
    const char *root;       /* the absolute root, for the decisions' surveys and reaps */
    spill_opts opts;
    struct spill__bg *bg;   /* the root's background reaper it shares, or NULL */
    spill__fd journal_fd;   /* the chunk journal, opened at the first put */
    int journaling;         /* resumable (keep_seconds), or adopted with a journal */
    int journal_broken;     /* it ends in a torn entry: nothing is appended until a compaction */
    uint64_t journal_entries; /* its valid entries: the length a failed append is cut back to */
    uint64_t journal_missed;  /* live chunks whose entry could not be appended */
    uint64_t journal_puts;    /* puts journaled (or tried) */
    uint64_t journal_retry;   /* after a failed compaction, no other before this many puts */
};

/* spill.c: handles, shared with adopt.c. */
int spill__handle_new(const spill_opts *opts, spill_t **out);
void spill__handle_free(spill_t *s);

/* chunks.c: writes the file `name` in the spill's directory whole (a chunk, the lease), over a
 * file of that name the spill does not know; on any failure removes what was written. */
int spill__file_write(spill_t *s, const char *name, const void *data, size_t len);
/* chunks.c: indexes a chunk whose file is complete, as spill_put does after writing it. */
int spill__chunks_index(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len);
/* Reads the len bytes of chunk `hex` in dir_fd (path: the directory's, for errors): SPILL_ELOST
 * if it vanished or is shorter. */
int spill__chunk_read(spill__fd dir_fd, const char *path, const char *hex, uint8_t *buf,
                      size_t len);

/* reserve.c: reservations (0.3). A lease file's figures; read under rule 7's care. The first
 * lease (spill_open, after creation) and a larger one (spill_put, before a chunk would pass the
 * lease): SPILL_ENOSPC with the figures when refused. An adopter takes the dead owner's lease
 * over. */
typedef struct spill__lease {
    uint64_t lease, written, limit;
} spill__lease;
int spill__lease_read(spill__fd dir_fd, spill__lease *l);
int spill__reserve_first(spill_t *s, const spill_opts *o, int64_t deadline_us);
int spill__reserve_more(spill_t *s, uint64_t len);
int spill__lease_covers(const spill_t *s, uint64_t len); /* 1: a chunk of len fits in it */
void spill__lease_adopted(spill_t *s);

/* ==== A spill's life ================================================================== */

/* root.c: the root made absolute against the current directory (links not resolved); rule 11
 * on the open root, logging a tightening (with o->dry_run: only logging that it would). */
int spill__absolute_root(apr_pool_t *pool, const char *root, char **out);
int spill__root_safe(spill__fd root_fd, const char *path, const spill_opts *o);

/* create.c: makes the spill directory under root_fd, locked and recorded, and published. */
int spill__create(spill_t *s, const char *root);

#ifdef SPILL_TEST_HOOKS
/* Test builds: called after each step of creation ("mkdir", "lock", "record", "rename"); a
 * non-zero return fails the step with that error. */
extern int (*spill__step_hook)(const char *step);
#endif

/* remove.c: removes a spill directory in the order of rule 6 (docs/design.md), the one place that
 * decides it, for spill_close and spill_reap alike. */
typedef struct spill__doomed {
    const char *root;       /* the root's path, for error messages */
    spill__fd root_fd;
    char name[256];         /* its name under the root; its trash name once renamed */
    spill__fd *dir_fd;      /* the directory, open (an owner's is let go on Windows) */
    spill__fd *lock_fd;     /* the lock we hold on it, or SPILL__NOFD; released and set to
                               SPILL__NOFD once .lock is unlinked */
    uint64_t dev, ino;      /* the directory's identity: its name is checked against it */
    int lock_ours;          /* the lock held is its .lock's: .lock is unlinked, and the
                               directory may become trash */
    int owner;              /* the caller is its owner (spill_close) */
    int64_t deadline_us;    /* rule 10: emptying stops at this spill__monotonic_us() (0: none) */
    int progress;           /* rule 10: started, and at least one entry taken, whatever the time */
    spill__walk_stop stop;  /* checked with the deadline while emptying (NULL: none) */
    void *stop_ctx;
    int cut;                /* out: SPILL__DOOMED_CUT (started: renamed or partly emptied, .lock
                               and its record kept, the lock left to the caller) or
                               SPILL__DOOMED_UNTOUCHED (the deadline had passed: nothing done) */
    spill__tree_stats ts;   /* out: what emptying it removed, .lock apart */
    int lock_removed;       /* out: .lock was unlinked by us */
    int left;               /* out: left as a lockless trash directory for the next reap */
} spill__doomed;
/* SPILL_OK: removed (or left as lockless trash); SPILL_ENOTFOUND: the name was gone or no
 * longer it (another remover first); else an error, this thread's last error naming the path.
 * On an error the caller still holds *lock_fd (if any) and releases it. */
#define SPILL__DOOMED_CUT 1
#define SPILL__DOOMED_UNTOUCHED 2
int spill__remove_dir(spill__doomed *d);
/* Its step 1 alone (POSIX, with d->lock_ours): d->name becomes a fresh trash name. */
void spill__to_trash(spill__doomed *d);

/* ==== The registry: what this process owns (rule 14) ================================== */

/* registry.c: the spill directories this process is creating or owns, by dev+ino. A forked
 * child starts with an empty registry: it owns nothing its parent made. */
int spill__registry_add(uint64_t dev, uint64_t ino);
/* The handle's descriptors, for the fork handler to close in a child (rule 14); set them to
 * SPILL__NOFD before closing them, so that a child never closes a number reused meanwhile. */
void spill__registry_fds(uint64_t dev, uint64_t ino, spill__fd root_fd, spill__fd dir_fd,
                         spill__fd lock_fd, const char *tag);
/* Rule 14's window: a descriptor that takes a spill's lock is open before the registry knows
 * it, and a child forked in between keeps a copy the fork handler cannot close, which pins the
 * lock for as long as the child lives. So: spill__registry_mark() before the open, and
 * spill__registry_hold(..., mark) once it is open and locked. SPILL_OK: it is in the registry
 * and no fork came in between, so no child keeps it. SPILL_EBUSY: a fork came in between; the
 * caller lets the lock go with unlock (which reaches the child's copy: one open file) and
 * starts again. */
enum spill__reg_slot { SPILL__REG_ROOT = 0, SPILL__REG_DIR = 1, SPILL__REG_LOCK = 2 };
uint64_t spill__registry_mark(void);
int spill__registry_hold(uint64_t dev, uint64_t ino, int slot, spill__fd fd, uint64_t mark);
/* 1 if this process owns dev+ino under the owner record tag `tag` (spill_adopt's EBUSY). */
int spill__registry_has_tag(uint64_t dev, uint64_t ino, const char *tag);
void spill__registry_remove(uint64_t dev, uint64_t ino);
int spill__registry_has(uint64_t dev, uint64_t ino);
/* The fork handler's child side (rule 14): forgets, and closes without unlocking, every
 * descriptor the parent's handles hold; then the background reapers' state. */
void spill__registry_fork_child(void);

/* ==== The reaper ====================================================================== */

/* reap.c: the reap spill_open runs first; its failures are logged, never returned. */
void spill__reap_on_open(const char *root, const spill_opts *opts);
/* The reap itself, on checked options; *stop (may be NULL), set from another thread, stops it
 * at its next check. */
int spill__reap(const char *root, const spill_opts *o, spill_reap_stats *out,
                volatile apr_uint32_t *stop);

/* background.c: SPILL_REAP_BACKGROUND. attach makes s share the root's background reaper,
 * starting one if none is running (failures are logged, never returned); detach, from
 * spill_close, stops and joins it when s was its last handle: SPILL_EINVAL (nothing done) when
 * called from that reaper's own thread. fork_child runs in the fork handler's child. */
typedef struct spill__bg spill__bg;
void spill__background_attach(spill_t *s, const char *root, const spill_opts *o);
int spill__background_detach(spill_t *s);
void spill__background_fork_child(void);

#endif /* SPILL_INT_H */
