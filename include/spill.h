/* spill.h: the public API of spill, a private spill directory that cleans up after its owner
 * even when the owner dies hard. Plain C99 (stddef/stdint only), usable from C++. */
#ifndef SPILL_H
#define SPILL_H

#include <stddef.h>
#include <stdint.h>

#define SPILL_VERSION_MAJOR 0
#define SPILL_VERSION_MINOR 3
#define SPILL_VERSION_PATCH 0

/* SPILL_EXTERN marks the API. Shared builds define SPILL_BUILDING (exporting) or nothing
 * (importing on Windows); static builds and their consumers define SPILL_STATIC. */
#if defined(SPILL_STATIC)
#define SPILL_EXTERN
#elif defined(_WIN32)
#if defined(SPILL_BUILDING)
#define SPILL_EXTERN __declspec(dllexport)
#else
#define SPILL_EXTERN __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SPILL_EXTERN __attribute__((visibility("default")))
#else
#define SPILL_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SPILL_ADDR_LEN 32

/* One live spill directory, owned by the process that opened it. */
typedef struct spill spill_t;

/* Errors are negative; 0 is success. The enum may grow: treat any other negative value as an
 * error too. */
typedef enum spill_err {
    SPILL_OK = 0,
    SPILL_EINVAL = -1,    /* bad argument (includes an opts struct not set up by spill_opts_init) */
    SPILL_ENOMEM = -2,
    SPILL_EIO = -3,       /* the OS refused an operation; see spill_error_last */
    SPILL_ENOSPC = -4,    /* not enough free space or quota */
    SPILL_ENOTFOUND = -5, /* no chunk under that address; index past the end */
    SPILL_EBUSY = -6,     /* held by a live owner */
    SPILL_EUNSAFE = -7,   /* refused: link, reparse point, foreign owner, unsafe root */
    SPILL_ENOLCK = -8,    /* the filesystem cannot lock */
    SPILL_EACCES = -9,    /* permission denied */
    SPILL_ELOST = -10,    /* this spill's directory or lock was taken away from under it */
    SPILL_EFORKED = -11,  /* handle used in a process other than the one that opened it */
    SPILL_ERANGE = -12,   /* caller's buffer too small */
    SPILL_ETIMEDOUT = -13 /* the budget (reap_budget_ms) ran out before spill_adopt could decide */
} spill_err;

/* A short, static English description of a spill_err ("unknown error" for other values). */
SPILL_EXTERN const char *spill_strerror(int err);

/* Details of this thread's last failure. */
typedef struct spill_error {
    int code;            /* a spill_err */
    int os_error;        /* errno, or GetLastError() on Windows; 0 if none */
    const char *op;      /* the operation that failed, e.g. "openat", "LockFileEx"; "" if none */
    const char *path;    /* the path involved, or "" */
    const char *message; /* one line a person can act on */
} spill_error;

/* The calling thread's last failure; never NULL (code 0 if nothing failed yet). The strings stay
 * valid until this thread's next failing call into the library. */
SPILL_EXTERN const spill_error *spill_error_last(void);

/* Options are versioned (libgit2's pattern): a program keeps working against later libraries
 * because the library reads and writes only the fields of the version the struct carries.
 *   version 1 (0.1): grace_seconds .. log_ctx
 *   version 2 (0.2): adds dry_run, progress, progress_ctx, progress_ms, keep_seconds,
 *                    reap_resumable
 *   version 3 (0.3): adds verify, verify_ctx, root_limit_bytes
 * Set a struct up with spill_opts_init(&opts), which fills the defaults of the version this
 * header declares; fields are only ever added at the end. */
#define SPILL_OPTS_VERSION 3

/* Values of spill_opts.reap_on_open. */
#define SPILL_REAP_NONE 0       /* spill_open reaps nothing */
#define SPILL_REAP_SYNC 1       /* spill_open reaps first, on the calling thread (the default) */
#define SPILL_REAP_BACKGROUND 2 /* version-2 opts only: see reap_on_open below */

/* What a verify callback (spill_opts.verify) may return besides 0 (the chunk is what its
 * address says) and other non-zero values (it is not: removed, not adopted): the callback itself
 * failed (a binding's panic or exception), so spill_adopt stops, removes nothing and fails. */
#define SPILL_VERIFY_STOP INT32_MIN

struct spill_reap_stats;

/* Options for spill_open, spill_reap and spill_scan. */
typedef struct spill_opts {
    unsigned version;         /* set by spill_opts_init; a version this library does not know:
                                 SPILL_EINVAL */
    /* version 1 */
    uint32_t grace_seconds;   /* default 30: age before a lockless or foreign directory is reaped */
    int reap_on_open;         /* default SPILL_REAP_SYNC: spill_open reaps orphans first.
                                 SPILL_REAP_BACKGROUND (version 2; in a version-1 struct any
                                 non-zero value is synchronous): spill_open returns without
                                 waiting; the reap runs on a thread of its own, one per root
                                 per process, shared by the handles open on that root (the
                                 last spill_close stops it at its next check and joins it). It
                                 runs with `threads` workers and no budget, never touches a
                                 live spill (this process's included), and nothing it does
                                 fails an open or a handle. Its log and progress callbacks are
                                 those of the open that started it, called from its thread:
                                 they must stay valid until the last handle on that root is
                                 closed. With expected_bytes short of free space, the open
                                 first reaps synchronously. A forked child neither inherits
                                 nor joins it. */
    uint32_t reap_budget_ms;  /* default 0 (no limit): the reap in spill_open stops after this,
                                 and spill_adopt answers SPILL_ETIMEDOUT past it */
    uint64_t expected_bytes;  /* default 0; else spill_open needs expected + 10% free, after
                                 reaping, and fails with SPILL_ENOSPC otherwise. It is
                                 also the spill's first reservation, which the other
                                 processes on the root count (see spill_put) */
    unsigned threads;         /* reaper workers; default 1 (no thread is started); 0 = one
                                 per core; more: distinct orphans are removed at once, each
                                 under its own lock, while judging, counting and logging stay
                                 on the calling thread */
    const char *tag;          /* optional label kept in the owner record, shown by ls; at most
                                 255 bytes (SPILL_EINVAL beyond) */
    void (*log)(void *ctx, int level, const char *msg); /* 0 error .. 3 debug; called on the
                                                            thread that called in, or on the
                                                            background reap's thread */
    void *log_ctx;
    /* version 2 */
    int dry_run;              /* default 0; spill_reap only: judge exactly as a real run would
                                 (the root check, every lock taken and released, judging errors
                                 counted as errors) and remove nothing; the stats say what a
                                 real run would remove. A root is never tightened (it is logged
                                 as "would tighten"). spill_open and spill_adopt refuse it
                                 (SPILL_EINVAL). */
    int (*progress)(void *ctx, const struct spill_reap_stats *so_far);
                              /* default NULL; called during a reap (spill_reap, or spill_open's)
                                 at most every progress_ms, on the thread that runs the reap
                                 (the caller's; the background reap's thread for
                                 SPILL_REAP_BACKGROUND), and once at the end with the final
                                 stats. so_far is of the latest stats version; its counts only
                                 grow. A non-zero return stops the reap at its next check (inside
                                 an orphan too, which then keeps its .lock for the next reap):
                                 `cancelled` is 1. A callback that calls spill_close on a handle
                                 its own background reap serves gets SPILL_EINVAL (the handle
                                 stays open). */
    void *progress_ctx;
    uint32_t progress_ms;     /* default 200 */
    uint32_t keep_seconds;    /* default 0; spill_open and spill_adopt: write keep=<seconds>
                                 into the owner record, so that this spill's orphan, should the
                                 owner die, stays "resumable" (kept for spill_adopt) until the
                                 directory's last modification plus keep_seconds has passed.
                                 Keep only as long as a restart of the job takes: a resumable
                                 orphan holds its disk space meanwhile (a spill_open whose
                                 expected_bytes is short of space removes it all the same). */
    int reap_resumable;       /* default 0; spill_reap: remove resumable orphans at once, like
                                 any other orphan (`spill reap --resumable`) */
    /* version 3 */
    int (*verify)(void *ctx, const uint8_t addr[SPILL_ADDR_LEN], const void *data, size_t len);
                              /* default NULL (adopt trusts lengths, as 0.2); spill_adopt only:
                                 called on the calling thread for each chunk the journal keeps,
                                 with its bytes read back, before anything in the orphan
                                 changes; the reads count against reap_budget_ms. It must not
                                 call into the spill being adopted. 0: the chunk is what its
                                 address says; non-zero: it is not (a power loss left it short,
                                 zero-filled or stale): removed, not adopted; SPILL_VERIFY_STOP:
                                 the adopt fails (SPILL_EIO) with nothing removed. */
    void *verify_ctx;
    uint64_t root_limit_bytes; /* default 0 (none); spill_open: the most that the live spills of
                                 this user under this root may hold together, enforced by this
                                 process on its own spills through reservations that every 0.3
                                 process on the root shares (docs/design.md): an open or a put
                                 that would take the root past it is refused (SPILL_ENOSPC,
                                 before any byte of the chunk is written) */
} spill_opts;

/* Fills *opts with the defaults of `version` (1 .. SPILL_OPTS_VERSION of the library), writing
 * only the fields that version has, and sets opts->version. SPILL_EINVAL for a version this
 * library does not know (nothing is written). */
SPILL_EXTERN int spill_opts_init_version(spill_opts *opts, unsigned version);

/* The exported function of 0.1: writes the fields of version 1 only, so that a program built
 * against 0.1's header (whose struct is version 1's size) keeps working. Code built against this
 * header calls the macro below instead, which asks for this header's version. */
SPILL_EXTERN void spill_opts_init(spill_opts *opts);
#define spill_opts_init(opts) ((void)spill_opts_init_version((opts), SPILL_OPTS_VERSION))

/* Creates a private spill directory under root (created 0700 with its parents if missing) and
 * holds its lock until spill_close. With opts->reap_on_open it first reaps orphans under root; a
 * failure of that reap is logged and never fails the open. opts may be NULL (defaults).
 * On success *out is a new handle; on failure *out is NULL and an error is returned:
 * SPILL_EINVAL (also for a tag longer than 255 bytes, or dry_run), SPILL_ENOSPC (expected_bytes),
 * SPILL_EACCES, SPILL_ENOLCK, SPILL_EIO, ... */
SPILL_EXTERN int spill_open(const char *root, const spill_opts *opts, spill_t **out);

/* Stores len bytes under addr. An address already stored writes nothing and returns SPILL_OK.
 * A failed write leaves no partial chunk behind and the spill usable (SPILL_ENOSPC, SPILL_EIO);
 * SPILL_ELOST if the spill's directory was taken away. A put that would take the spill past its
 * reservation first takes a larger one, decided with the other processes of this user on the
 * root: refused (the free space, less what the others have reserved and not yet written, or
 * root_limit_bytes, leaves too little), it is SPILL_ENOSPC before any byte is written. */
SPILL_EXTERN int spill_put(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], const void *data,
                           size_t len);

/* Reads back the chunk stored under addr into a new buffer *data (release it with spill_free) of
 * *len bytes. SPILL_ENOTFOUND for an unknown address; SPILL_ELOST if its file has vanished. */
SPILL_EXTERN int spill_get(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], void **data,
                           size_t *len);

/* Frees a stored chunk: count and total drop, the address is forgotten and the order of the
 * others kept. SPILL_ENOTFOUND for an unknown address; SPILL_ELOST if its file had vanished (the
 * address is forgotten all the same). */
SPILL_EXTERN int spill_remove(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN]);

/* Releases a buffer returned by spill_get. NULL is fine. */
SPILL_EXTERN void spill_free(void *p);

/* Chunks stored now, and their bytes (0 for NULL or a handle from another process). */
SPILL_EXTERN size_t spill_count(const spill_t *s);
SPILL_EXTERN uint64_t spill_total_bytes(const spill_t *s);

/* Copies the i-th stored address, in insertion order, to out. SPILL_ENOTFOUND past the end. */
SPILL_EXTERN int spill_addr(const spill_t *s, size_t i, uint8_t out[SPILL_ADDR_LEN]);

/* The spill directory's path: the root as given (made absolute, symlinks not resolved) joined
 * with the spill's name; UTF-8; owned by s and valid until spill_close. NULL in another process. */
SPILL_EXTERN const char *spill_path(const spill_t *s);

/* Removes the spill directory and everything in it, releases the lock and frees s (invalid
 * afterwards, whatever is returned, except SPILL_EINVAL from a callback of the background reap
 * that s shares, which leaves s open). The last handle on a root stops its background reap at
 * its next check and waits for that, never for the rest of the backlog. In a forked child it only frees the child's copy and
 * returns SPILL_EFORKED: the parent's spill is left intact. SPILL_ELOST if the directory or its
 * lock had been taken away. NULL is SPILL_EINVAL. */
SPILL_EXTERN int spill_close(spill_t *s);

/* Reap statistics, versioned like the options:
 *   version 1 (0.1): scanned .. budget_exhausted
 *   version 2 (0.2): adds resumable, cut_short, cancelled */
#define SPILL_REAP_STATS_VERSION 2

/* What a reap did. The caller sets version (0 is read as 1; a version this library does not
 * know is SPILL_EINVAL); the library fills only the fields of that version and never writes
 * `version`. */
typedef struct spill_reap_stats {
    unsigned version;
    /* version 1 */
    uint32_t scanned;        /* spill-named children of the root looked at */
    uint32_t reaped;         /* orphans removed (or, in a dry run, that would be) */
    uint32_t live;           /* held by a live owner */
    uint32_t young;          /* lockless or foreign, younger than the grace */
    uint32_t unsafe;         /* not ours to judge: a link, a foreign shape or owner */
    uint32_t errors;         /* could not be judged or removed */
    uint64_t bytes_freed;    /* sizes of the regular files removed */
    uint64_t files_removed;  /* every non-directory entry removed, .lock included */
    uint32_t elapsed_ms;
    int budget_exhausted;    /* 1 if reap_budget_ms stopped it early */
    /* version 2 */
    uint32_t resumable;      /* resumable orphans kept for spill_adopt (keep_seconds) */
    uint32_t cut_short;      /* orphans started and not finished (the budget); a later reap
                                finishes them */
    int cancelled;           /* 1 if the caller's progress callback stopped it */
} spill_reap_stats;

/* Removes the orphans of dead owners under root, by the rules of docs/design.md: never a live
 * spill, never through a link, never outside root. Safe from many threads and processes at once.
 * Returns SPILL_OK even when some entries failed (stats->errors counts them); a missing root is
 * not an error. SPILL_EINVAL for bad arguments or an unknown stats version; SPILL_EUNSAFE for a
 * root others can write to. stats may be NULL. opts may be NULL (defaults). With opts->dry_run
 * it judges and removes nothing: see spill_opts. */
SPILL_EXTERN int spill_reap(const char *root, const spill_opts *opts, spill_reap_stats *stats);

/* The states spill_scan reports. SPILL_ERROR (could not be judged, or an orphan that no reap
 * can remove whole, such as one nested too deep; `reason` says why) and
 * SPILL_RESUMABLE (an orphan whose owner asked with keep_seconds that it be kept for
 * spill_adopt, within that time) are reported only to callers whose opts are version 2 or
 * later; with NULL or version-1 opts the first is SPILL_UNSAFE and the second SPILL_YOUNG,
 * each with its reason, so that code indexing arrays by state keeps working. */
typedef enum spill_state {
    SPILL_LIVE,
    SPILL_ORPHAN,
    SPILL_YOUNG,
    SPILL_UNSAFE,
    SPILL_ERROR,     /* version-2 opts only */
    SPILL_RESUMABLE  /* version-2 opts only */
} spill_state;

/* One spill-named child of the root, as spill_scan judged it. Filled by the library, valid
 * only during the callback; fields may be added at the end. */
typedef struct spill_entry {
    const char *name;
    spill_state state;
    int64_t age_seconds;
    uint64_t bytes, files;
    int64_t owner_pid;       /* from the owner record, for people; -1 unknown */
    const char *owner_host;  /* "" when unknown */
    const char *tag;         /* "" when unknown */
    const char *reason;      /* why unsafe, young or an error, for people; "" otherwise */
    /* 0.3: a live spill's reservation (0: none known: an older library's or a foreign one,
     * counted with its bytes), and the root limit its owner enforces (0: none) */
    uint64_t reserved_bytes;
    uint64_t limit_bytes;
} spill_entry;

/* Judges each spill-named child of root as spill_reap would, removing nothing, and calls cb for
 * each. A missing root reports nothing. A non-zero return from cb stops the scan and is
 * returned. */
SPILL_EXTERN int spill_scan(const char *root, const spill_opts *opts,
                            int (*cb)(void *ctx, const spill_entry *e), void *ctx);

/* Resumes a killed job instead of redoing it: takes over the orphan under root whose owner
 * record carries `tag` (compared whole), with the chunks its dead owner had written completely,
 * and returns it in *out as a live handle of this process, like one from spill_open (closed by
 * spill_close; again resumable if opts->keep_seconds asks; count, total, get and addr see the
 * adopted chunks in the order they were written, and put adds to them).
 * Adoptable: an orphan in a spill_<secs>_<u64> directory with a version-1 owner record written
 * by 0.2 (a resumable one, or one with a chunk journal); never a staging or trash directory, a
 * 0.1 orphan, a lockless or foreign one, or a record naming another host on a network
 * filesystem. Of several, the newest by the record's `started` first; the lock decides every
 * race (with a reaper, or another adopter): a lost race moves on to the next one.
 * Only chunks the journal proves complete are kept (and, with opts->verify, that the callback
 * accepts); everything else in the directory is removed (links as links, never followed). opts
 * may be NULL (defaults; no reap is run).
 * Errors: SPILL_EINVAL (no root or out, an empty tag or one longer than 255 bytes, dry_run),
 * SPILL_EBUSY (a live owner holds a spill with the tag: the job runs elsewhere), SPILL_ENOTFOUND
 * (no adoptable orphan carries it, or the root does not exist), SPILL_ETIMEDOUT (opts'
 * reap_budget_ms ran out before it could decide: nothing taken, nothing removed), SPILL_EUNSAFE
 * (a root others can write to), SPILL_EIO and the like (an orphan that could not be judged, its
 * journal or a chunk to verify read, or verify returned SPILL_VERIFY_STOP: nothing removed). */
SPILL_EXTERN int spill_adopt(const char *root, const char *tag, const spill_opts *opts,
                             spill_t **out);

/* The default root for an application: the per-OS data directory of app joined with "spill".
 * Writes a NUL-terminated UTF-8 path to buf; SPILL_ERANGE if size is too small. */
SPILL_EXTERN int spill_default_root(const char *app, char *buf, size_t size);

/* SPILL_OK if the filesystem holding path (or its nearest existing parent) has at least bytes
 * free for this user; SPILL_ENOSPC otherwise. */
SPILL_EXTERN int spill_check_space(const char *root, uint64_t bytes);

/* The library's version, "MAJOR.MINOR.PATCH". */
SPILL_EXTERN const char *spill_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SPILL_H */
