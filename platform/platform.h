/* platform.h: the one seam between the OS-neutral core (src/) and each OS (platform/<os>/).
 * The core reaches the OS only through the operations table spill__sys and the helpers below. */
#ifndef SPILL_PLATFORM_H
#define SPILL_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "spill.h"

/* A descriptor of an open file or directory: an fd on POSIX, a HANDLE on Windows. */
typedef intptr_t spill__fd;
#define SPILL__NOFD ((spill__fd)-1)

/* Thread-local storage for the core's per-thread error. */
#if defined(_MSC_VER)
#define SPILL__THREAD_LOCAL __declspec(thread)
#else
#define SPILL__THREAD_LOCAL __thread
#endif

enum spill__ftype { SPILL__F_OTHER = 0, SPILL__F_REG, SPILL__F_DIR, SPILL__F_LINK };

/* What the core needs to know of a file, never following a link. */
typedef struct spill__stat {
    int type;          /* spill__ftype */
    uint64_t size;     /* bytes, for regular files */
    uint64_t nlink;
    uint64_t dev, ino; /* identity: same dev+ino means the same file */
    uint64_t mount_id; /* the mount it sits on; equals dev where the OS has no mount ids */
    int64_t mtime;     /* last modification, unix seconds */
    int own;           /* 1 if a directory owned by this process's user (0 for others: the
                          core asks only about directories) */
} spill__stat;

/* Filesystem kinds that matter to the reaper (rule 8). */
enum spill__fskind { SPILL__FS_LOCAL = 0, SPILL__FS_NETWORK = 1 };

typedef struct spill__dir spill__dir; /* an open directory listing */

/* Every OS call the core makes. Each entry returns SPILL_OK or a spill_err and, on failure,
 * records the OS error and the operation with spill__error_os (the path is the name given).
 * Tests may swap an entry to pause at a step or to inject a failure; restore it afterwards.
 * `at` is a directory descriptor; with SPILL__NOFD, `name` is a path. No entry follows a link
 * in the last component of `name`. */
typedef struct spill__sys_ops {
    /* open a directory (read-only, close-on-exec, not a link) */
    int (*open_dir)(spill__fd at, const char *name, spill__fd *out);
    /* create one directory with the given POSIX mode; SPILL_EBUSY if the name exists */
    int (*mkdir)(spill__fd at, const char *name, unsigned mode);
    /* create a new regular file for writing (exclusive); SPILL_EBUSY if the name exists */
    int (*create)(spill__fd at, const char *name, unsigned mode, spill__fd *out);
    /* open an existing regular file for reading; SPILL_ENOTFOUND if it does not exist */
    int (*open_read)(spill__fd at, const char *name, spill__fd *out);
    /* write all len bytes at the current offset */
    int (*write)(spill__fd fd, const void *buf, size_t len);
    /* read up to len bytes; *got 0 at end of file */
    int (*read)(spill__fd fd, void *buf, size_t len, size_t *got);
    int (*close)(spill__fd fd);
    /* stat name under at, not following links; name NULL: the descriptor at itself */
    int (*stat)(spill__fd at, const char *name, spill__stat *st);
    /* remove a non-directory (is_dir 0) or an empty directory (is_dir 1);
     * SPILL_ENOTFOUND if it is already gone */
    int (*unlink)(spill__fd at, const char *name, int is_dir);
    /* rename without ever replacing an existing name: SPILL_EBUSY if `to` exists */
    int (*rename)(spill__fd from_at, const char *from, spill__fd to_at, const char *to);
    /* create the lock file `name` (exclusive, read-write, mode 0600, one link) and take its
     * lock; the lock lives until unlock(*out) */
    int (*lock_create)(spill__fd at, const char *name, spill__fd *out);
    /* open the existing lock file `name` read-write without blocking and try its lock:
     * SPILL_OK (held, *out set), SPILL_EBUSY (someone holds it, also in this process),
     * SPILL_ENOTFOUND, SPILL_EUNSAFE (not a regular file with one link), or an error */
    int (*lock_probe)(spill__fd at, const char *name, spill__fd *out);
    /* release a lock taken by lock_create/lock_probe and close its descriptor */
    int (*unlock)(spill__fd fd);
    /* list the directory open as fd (the listing has its own descriptor) */
    int (*dir_open)(spill__fd fd, spill__dir **out);
    /* next entry name ("." and ".." skipped); *name NULL at the end */
    int (*dir_next)(spill__dir *d, const char **name);
    void (*dir_rewind)(spill__dir *d);
    void (*dir_close)(spill__dir *d);
    /* bytes available to this user on the filesystem holding path */
    int (*space)(const char *path, uint64_t *avail);
    /* the kind of filesystem the directory fd sits on */
    int (*fs_kind)(spill__fd fd, int *kind);
    /* create one directory and open it as open_dir does, in one step: on Windows the name
     * never exists without this handle on it, held without FILE_SHARE_DELETE, so nobody can
     * delete it while we live; SPILL_EBUSY if the name exists */
    int (*mkdir_open)(spill__fd at, const char *name, unsigned mode, spill__fd *out);
    /* remove `name` under `at`, which this process holds open as *fd (a spill's .lock or its
     * directory). POSIX unlinks the name and leaves *fd open. Windows, where a handle held
     * without FILE_SHARE_DELETE refuses every other delete: a file is marked for deletion
     * through *fd (it goes when *fd is closed); a directory's *fd is closed (and set to
     * SPILL__NOFD) first, then the name is removed if it still is that directory.
     * SPILL_ENOTFOUND if it is already gone */
    int (*unlink_held)(spill__fd at, const char *name, spill__fd *fd, int is_dir);
    /* open the existing lock file `name` read-only, to read its record without locking it,
     * after the same examination as lock_probe (rule 7): SPILL_EUNSAFE, never opened, if it is
     * not a regular file with one link; SPILL_ENOTFOUND if it does not exist */
    int (*lock_read)(spill__fd at, const char *name, spill__fd *out);
    /* rule 13: the host cleaners' lock, flock(how | LOCK_NB) on a directory's own descriptor
     * (SPILL__DLOCK_SH, _EX or _UN), whatever the lock backend. SPILL_EBUSY if another open
     * file holds a conflicting one; every other failure is SPILL_OK, as `.lock` stays the
     * correctness gate. A no-op (SPILL_OK) where the OS has no such convention (Windows). */
    int (*dir_lock)(spill__fd fd, int how);
    /* spill_adopt: open an existing directory as mkdir_open holds a new one (on Windows
     * without FILE_SHARE_DELETE, so that nobody deletes it while we live; SPILL_EBUSY if
     * someone is deleting it); POSIX: open_dir */
    int (*open_dir_held)(spill__fd at, const char *name, spill__fd *out);
    /* the chunk journal: open `name` for appending, creating it (mode 0600) if missing, never
     * through a link; each write then goes at the end */
    int (*open_append)(spill__fd at, const char *name, spill__fd *out);
    /* write len bytes at offset 0, then cut the file to len (the owner record, rewritten by
     * spill_adopt under the lock) */
    int (*rewrite)(spill__fd fd, const void *buf, size_t len);
} spill__sys_ops;

enum spill__dlock { SPILL__DLOCK_SH = 1, SPILL__DLOCK_EX = 2, SPILL__DLOCK_UN = 3 };

extern spill__sys_ops spill__sys;

/* The defaults, so a test can restore an entry it swapped. */
extern const spill__sys_ops spill__sys_default;

/* Removes every entry of the directory open as dirfd except one named `keep` (may be NULL),
 * depth first, never following links (a link is removed as a link), never leaving the
 * directory's mount, at most SPILL__MAX_DEPTH levels deep (its entries are level 1). Counts
 * what it removed. Returns SPILL_OK, or the first error met; it goes on past errors. */
#define SPILL__MAX_DEPTH 64
typedef struct spill__tree_stats {
    uint64_t files;    /* non-directory entries removed (or counted) */
    uint64_t bytes;    /* sizes of regular files removed (or counted) */
    uint64_t dirs;     /* directories removed (or counted) */
    uint32_t errors;   /* entries that could not be removed or were too deep */
    int cut_short;     /* 1 if the deadline stopped it before the tree was empty */
} spill__tree_stats;
int spill__tree_empty(spill__fd dirfd, const char *keep, spill__tree_stats *st);
/* The same, stopping at the first entry met once spill__monotonic_us() reaches deadline_us
 * (0: none), with st->cut_short set and SPILL_OK returned (rule 10: the clock is checked at
 * every entry, as one removal can take long). With progress set, at least one entry is taken
 * whatever the clock, so that every reap moves forward. */
int spill__tree_empty_until(spill__fd dirfd, const char *keep, spill__tree_stats *st,
                            int64_t deadline_us, int progress);
/* The same, also stopping (as at the deadline) once stop(stop_ctx, so_far) returns non-zero:
 * rule 10's check at every entry serves cancellation too (a progress callback, the last close
 * of a background reap). stop may be NULL. */
typedef int (*spill__walk_stop)(void *ctx, const spill__tree_stats *so_far);
int spill__tree_empty_checked(spill__fd dirfd, const char *keep, spill__tree_stats *st,
                              int64_t deadline_us, int progress, spill__walk_stop stop,
                              void *stop_ctx);
/* The same walk, read-only: counts files and bytes (the `keep` entry included). */
int spill__tree_measure(spill__fd dirfd, spill__tree_stats *st);

/* Whether `path` is absolute. Writes the current directory to buf. */
int spill__path_is_absolute(const char *path);
int spill__getcwd(char *buf, size_t size);
#ifdef _WIN32
#define SPILL__PATH_SEP "\\"
#else
#define SPILL__PATH_SEP "/"
#endif

/* How a spill directory comes and goes (docs/on-disk.md, sections 7 and 8).
 * stages: 1 where a directory with an open file inside can be renamed (POSIX): a spill is built
 *   under a staging name and renamed into place once locked and recorded, and on its way out
 *   it is renamed to a trash name first; 0 where it cannot (Windows): the spill is created
 *   under its final name with mkdir_open and held open, and removed under that name. Either
 *   way .lock is unlinked (on Windows: marked for deletion) while locked, then its lock is
 *   released and closed, then the directory goes (src/remove.c). */
int spill__platform_stages(void);

/* Creates path and its missing parents, each new one with mode 0700. */
int spill__mkdir_parents(const char *path);

/* Rule 11 for the root open as root_fd: SPILL_OK, possibly after tightening a root of
 * this user that others could write to (then *tightened is 1; with tighten 0 nothing is changed
 * and *tightened says that it would have been), or SPILL_EUNSAFE when others could plant or swap
 * entries in it. */
int spill__root_check(spill__fd root_fd, const char *path, int tighten, int *tightened);

/* The per-OS data directory for app (without the trailing "/spill"). */
int spill__data_dir(const char *app, char *buf, size_t size);

/* Records this thread's last error (defined by the core, in src/error.c). */
int spill__error_set_os(int code, int os_error, const char *op, const char *path,
                        const char *reason);

/* Maps an OS error to a spill_err and records it as this thread's last error. */
int spill__error_os(const char *op, const char *path, int os_error);
/* Records an OS error under a given spill_err (e.g. EWOULDBLOCK from a lock as SPILL_EBUSY). */
int spill__error_os_as(int code, const char *op, const char *path, int os_error);

#endif /* SPILL_PLATFORM_H */
