/* posix.h: what the POSIX platform files share. */
#ifndef SPILL_POSIX_H
#define SPILL_POSIX_H

#include "platform.h"
#include "process.h"

/* stat of name under dirfd without following a link (name NULL: dirfd itself); -1 + errno. */
int spill__posix_statat(int dirfd, const char *name, spill__stat *st);
/* mounts.c: 1 if name under dirfd is a mount point of a running reap's snapshot (no stat of
 * name is made); the fork handler's child side forgets the parent's snapshots */
int spill__posix_mount_point(int dirfd, const char *name);
void spill__mounts_fork_child(void);
/* stat.c: 0 once statx has answered ENOSYS (a kernel before 4.11, a seccomp filter) */
int spill__posix_have_statx(void);
#ifdef SPILL_TEST_HOOKS
/* stat.c: set by tests to stat as systems without statx do (fstatat, after mounts.c) */
extern int spill__posix_no_statx;
/* stat.c: set by tests to ignore STATX_MNT_ID, so that the pre-5.8 mount id path runs */
extern int spill__posix_no_statx_mnt_id;
/* sys.c: set by tests to open below the root without openat2, so that the mount check before
 * the open is what they prove */
extern int spill__posix_no_openat2;
/* fork.c: set by tests to hold every library mutex this many microseconds longer */
extern int spill__mutex_linger_us;
#endif
/* rename that never replaces an existing name; -1 + errno (EEXIST if `to` exists). */
int spill__posix_rename_noreplace(int from_at, const char *from, int to_at, const char *to);

/* The lock backend: lock_flock.c or lock_fcntl.c, chosen by SPILL_LOCK_BACKEND. */
int spill__posix_lock_create(spill__fd at, const char *name, spill__fd *out);
int spill__posix_lock_probe(spill__fd at, const char *name, spill__fd *out);
int spill__posix_unlock(spill__fd fd);
/* close() for every other descriptor the core closes (spill__sys.close): with fcntl locks one
 * on an inode this process holds locked is parked until that lock is released (trap 2) */
int spill__posix_close(int fd);
#if defined(SPILL_TEST_HOOKS) && defined(SPILL_LOCK_FCNTL)
/* lock_fcntl.c calls it between its table check and its open, so a test can swap the name */
extern void (*spill__fcntl_probe_hook)(spill__fd at, const char *name);
#endif

/* lockfile.c: what both lock backends do around the lock call itself. */
#include <sys/stat.h>
/* what examining .lock found, before anything was opened for I/O (rule 7) */
typedef struct spill__lock_exam {
    int path_fd;    /* Linux: an O_PATH descriptor on the examined inode; else -1 */
    struct stat st;
} spill__lock_exam;
/* examines .lock without opening it for I/O: SPILL_OK only for a regular file with one link
 * (else SPILL_EUNSAFE, SPILL_ENOTFOUND or an error, and nothing is left open) */
int spill__posix_lock_examine(int at, const char *name, spill__lock_exam *ex);
/* opens the examined inode with flags (O_RDWR, O_RDONLY), never blocking, never another file
 * swapped in meanwhile; ends the examination either way */
int spill__posix_lock_reopen(spill__lock_exam *ex, int at, const char *name, int flags,
                             int *out);
void spill__posix_lock_exam_done(spill__lock_exam *ex);
#ifdef SPILL_TEST_HOOKS
extern int spill__lock_reopen_by_name; /* non-zero: the fallback even where /proc serves */
#endif
/* the operations lock_read and dir_lock */
int spill__posix_lock_read(spill__fd at, const char *name, spill__fd *out);
int spill__posix_dir_lock(spill__fd fd, int how);
/* the spill_err for a failed open of .lock: links and special files are unsafe */
int spill__posix_open_lock_error(const char *name, int err);
/* SPILL_EUNSAFE unless fd is a regular file with exactly one link */
int spill__posix_check_lock_shape(int fd, const char *name);

int spill__posix_fs_kind(spill__fd fd, int *kind);
#ifdef __linux__
/* 1 for the statfs f_type of a network or FUSE filesystem (rule 8) */
int spill__posix_network_magic(unsigned long t);
#endif

#endif
