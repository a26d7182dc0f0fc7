/* platform.h: the seam between the core (src/) and each OS (platform/<os>/) for files (process.h:
 * process, clock, mutexes). Entries return SPILL_OK or a spill_err, the OS error recorded. `at`: a
 * directory fd, or SPILL__NOFD with a path in `name`, its last component never followed. */
#ifndef SPILL_PLATFORM_H
#define SPILL_PLATFORM_H

#include "spill.h" /* stddef.h, stdint.h, the error codes */
typedef intptr_t spill__fd; /* an fd on POSIX, a HANDLE on Windows */
#define SPILL__NOFD ((spill__fd)-1)

/* ---- What the core knows of a file (never following a link) ---- */
enum spill__ftype { SPILL__F_OTHER = 0, SPILL__F_REG, SPILL__F_DIR, SPILL__F_LINK };
enum spill__fskind { SPILL__FS_LOCAL = 0, SPILL__FS_NETWORK = 1 }; /* rule 8 */
typedef struct spill__stat {
    int type;                        /* spill__ftype */
    uint64_t size, nlink, dev, ino, mount_id; /* dev+ino: the file; mount_id: dev if no ids */
    int64_t mtime;                   /* unix seconds */
    int own;                         /* a directory of this process's user */
} spill__stat;
typedef struct spill__dir spill__dir; /* an open listing */
enum spill__open { SPILL__OPEN_READ = 0, SPILL__OPEN_CREATE, SPILL__OPEN_APPEND };
enum spill__probe { SPILL__PROBE_LOCK = 0, SPILL__PROBE_READ };
enum spill__dlock { SPILL__DLOCK_SH = 1, SPILL__DLOCK_EX, SPILL__DLOCK_UN };
#define SPILL__LIST_HERE UINT64_MAX

typedef struct spill__sys_ops {
    /* Directories. held: as its owner holds a spill (Windows: undeletable while open, SPILL_EBUSY
     * while being deleted). mkdir: SPILL_EBUSY if the name exists; out set: opened held. */
    int (*open_dir)(spill__fd at, const char *name, int held, spill__fd *out);
    int (*mkdir)(spill__fd at, const char *name, unsigned mode, spill__fd *out);
    /* Files: spill__open READ (SPILL_ENOTFOUND if missing), CREATE (new, exclusive, 0600:
     * SPILL_EBUSY if it exists) or APPEND (created 0600 if missing; writes go at the end). */
    int (*open_file)(spill__fd at, const char *name, int how, spill__fd *out);
    /* write all len bytes; replace: at offset 0, then cut the file to len */
    int (*write)(spill__fd fd, const void *buf, size_t len, int replace);
    int (*read)(spill__fd fd, void *buf, size_t len, size_t *got); /* *got 0: end of file */
    int (*close)(spill__fd fd);
    int (*stat)(spill__fd at, const char *name, spill__stat *st); /* name NULL: at itself */
    /* Removes a file or an empty directory (SPILL_ENOTFOUND if gone). held: our descriptor on
     * it (.lock, a directory): Windows uses or closes it first (*held: SPILL__NOFD), POSIX not */
    int (*unlink)(spill__fd at, const char *name, int is_dir, spill__fd *held);
    /* replace 0: never over anything (SPILL_EBUSY if `to` exists); 1: over a file, atomically */
    int (*rename)(spill__fd from_at, const char *from, spill__fd to_at, const char *to,
                  int replace);
    int (*truncate)(spill__fd at, const char *name, uint64_t len); /* a regular file, cut */
    /* The lock file (rule 7). create: new, exclusive, 0600, one link, locked until unlock. probe:
     * never blocks; only a regular file with one link (else SPILL_EUNSAFE); PROBE_LOCK tries its
     * lock (EBUSY if held, by us too); PROBE_READ opens it to read ("a/b": no link, no mount) */
    int (*lock_create)(spill__fd at, const char *name, spill__fd *out);
    int (*lock_probe)(spill__fd at, const char *name, int how, spill__fd *out);
    int (*unlock)(spill__fd fd);
    /* Rule 13, the host cleaners' lock on a directory's own descriptor: SPILL_EBUSY if another
     * holds a conflicting one (.lock stays the gate). dir_close lets it go for every copy of fd,
     * a forked child's too, closes, sets *fd to SPILL__NOFD (Windows: no such lock; a close). */
    int (*dir_lock)(spill__fd fd, int how);
    void (*dir_close)(spill__fd *fd);
    int (*list_open)(spill__fd fd, spill__dir **out); /* a listing: "." and ".." skipped */
    int (*list_next)(spill__dir *d, const char **name); /* *name NULL at the end */
    /* goes to pos (0: the start; SPILL__LIST_HERE: stays); returns where the next entry is, a
     * position later listings of the directory may seek to, in other processes too */
    uint64_t (*list_seek)(spill__dir *d, uint64_t pos);
    void (*list_close)(spill__dir *d);
    int (*space)(const char *path, uint64_t *avail); /* bytes free to this user */
    int (*fs_kind)(spill__fd fd, int *kind);         /* spill__fskind */
} spill__sys_ops;
extern spill__sys_ops spill__sys; /* tests swap entries, then restore the default's */
extern const spill__sys_ops spill__sys_default;

/* ---- Trees (platform/walk.c): depth first, never following a link or leaving the mount, at
 * most SPILL__MAX_DEPTH levels. Emptying goes on past errors and returns the first. ---- */
#define SPILL__MAX_DEPTH 64
typedef struct spill__tree_stats {
    uint64_t files, bytes, dirs; /* removed (or counted) */
    uint32_t errors;             /* not removed, or too deep */
    int cut_short;               /* the deadline or stop came first */
} spill__tree_stats;
typedef int (*spill__walk_stop)(void *ctx, const spill__tree_stats *so_far);
typedef struct spill__tree_limits {
    const char *keep;      /* an entry left in place (NULL: none) */
    int64_t deadline_us;   /* rule 10: spill__monotonic_us() checked at every entry (0: none) */
    int progress;          /* one entry is taken whatever the clock */
    spill__walk_stop stop; void *stop_ctx; /* checked with the deadline; non-zero stops */
} spill__tree_limits;
int spill__tree_empty(spill__fd dirfd, const spill__tree_limits *lim, spill__tree_stats *st);
int spill__tree_measure(spill__fd dirfd, spill__tree_stats *st);

/* ---- Paths and roots ---- */
#ifdef _WIN32
#define SPILL__PATH_SEP "\\"
#else
#define SPILL__PATH_SEP "/"
#endif
int spill__path_is_absolute(const char *path);
int spill__getcwd(char *buf, size_t size);
int spill__mkdir_parents(const char *path); /* each new one 0700 */
int spill__data_dir(const char *app, char *buf, size_t size); /* without "/spill" */
/* Rule 11: SPILL_EUNSAFE if others could plant or swap entries; a root of ours others can write
 * is tightened (tighten 1) or reported (*tightened). */
int spill__root_check(spill__fd root_fd, const char *path, int tighten, int *tightened);
/* 1: spills are staged and trashed by rename (POSIX); 0: made and removed under their final
 * name, held open (Windows: a directory with an open file inside cannot be renamed). */
int spill__platform_stages(void);

/* ---- Errors: an OS error recorded (as a given spill_err) through the core's setters ---- */
int spill__error_os(const char *op, const char *path, int os_error);
int spill__error_os_as(int code, const char *op, const char *path, int os_error);
int spill__error_set_os(int code, int os_error, const char *op, const char *path, const char *why);
int spill__error_in(int code, const char *dir); /* the last error's path becomes dir/path */

#endif /* SPILL_PLATFORM_H */
