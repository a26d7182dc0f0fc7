/* posix.h: what the POSIX platform files share, by the file that defines it. */
#ifndef SPILL_POSIX_H
#define SPILL_POSIX_H

#include <fcntl.h>
#include <sys/stat.h>

#include "platform.h"
#include "process.h"

/* a directory descriptor for the *at() calls: SPILL__NOFD is the current directory */
#define SPILL__AT(fd) ((fd) == SPILL__NOFD ? AT_FDCWD : (int)(fd))

/* sys.c: the test knobs, one table beside the operations table spill__sys. Always compiled and
 * all zero (the production behaviour): a test sets one, as it swaps an entry of spill__sys, and
 * sets it back to zero afterwards. Each is read where its code decides. */
typedef struct spill__posix_knob_table {
    /* stat.c, mounts.c: stat as systems without statx do: 1, fstatat after the reap's mount
     * snapshot; 2, and no mount ids either (device numbers only, as macOS and the BSDs) */
    int no_statx;
    /* stat.c: ignore STATX_MNT_ID, so that the pre-5.8 mount id path runs */
    int no_statx_mnt_id;
    /* sys.c: open below the root without openat2, so that the mount check before the open is
     * what a test proves */
    int no_openat2;
    /* sys.c: non-zero, the native no-replace rename fails with this errno (the fallback runs) */
    int rename_errno;
    /* process.c: hold every library mutex this many microseconds longer */
    int mutex_linger_us;
    /* lock.c: reopen .lock by name (the fallback) even where /proc serves */
    int lock_reopen_by_name;
    /* lock_fcntl.c: called between its table check and its open, so a test can swap the name
     * (never called by the flock backend) */
    void (*fcntl_probe_hook)(spill__fd at, const char *name);
} spill__posix_knob_table;
extern spill__posix_knob_table spill__posix_knobs;

/* stat.c: stat of name under dirfd without following a link (name NULL: dirfd itself);
 * -1 + errno */
int spill__posix_statat(int dirfd, const char *name, spill__stat *st);
/* stat.c: 0 once statx has answered ENOSYS (a kernel before 4.11, a seccomp filter) */
int spill__posix_have_statx(void);
/* stat.c: the operations stat, space and fs_kind */
int spill__posix_stat(spill__fd at, const char *name, spill__stat *st);
int spill__posix_space(const char *path, uint64_t *avail);
int spill__posix_fs_kind(spill__fd fd, int *kind);
#ifdef __linux__
/* stat.c: 1 for the statfs f_type of a network or FUSE filesystem (rule 8) */
int spill__posix_network_magic(unsigned long t);
#endif

/* mounts.c: 1 if name under dirfd is a mount point of a running reap's snapshot (no stat of
 * name is made); the fork handler's child side forgets the parent's snapshots */
int spill__posix_mount_point(int dirfd, const char *name);
void spill__mounts_fork_child(void);

/* walk.c: the operation unlink */
int spill__posix_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held);

/* The lock backend: lock_flock.c or lock_fcntl.c, chosen by SPILL_LOCK_BACKEND. */
int spill__posix_lock_create(spill__fd at, const char *name, spill__fd *out);
int spill__posix_lock_try(spill__fd at, const char *name, spill__fd *out); /* lock_probe's LOCK */
int spill__posix_unlock(spill__fd fd);
/* close() for every other descriptor the core closes (spill__sys.close): with fcntl locks one
 * on an inode this process holds locked is parked until that lock is released (trap 2) */
int spill__posix_close(int fd);

/* sys.c: openat2 below `at`, crossing no mount and following no link (Linux 5.6+): the
 * descriptor; -2 where openat2 is not to be had (the caller opens the classic way, after its
 * own mount check); -3 for a mount point (SPILL_EUNSAFE recorded); -1 with errno otherwise. */
int spill__posix_open_beneath(int at, const char *name, int flags);

/* lock.c: what both lock backends do around the lock call itself. */
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
/* the operations lock_probe (its READ here, its LOCK the backend's), dir_lock and dir_close */
int spill__posix_lock_probe(spill__fd at, const char *name, int how, spill__fd *out);
int spill__posix_dir_lock(spill__fd fd, int how);
void spill__posix_dir_close(spill__fd *fd);
/* the spill_err for a failed open of .lock: links and special files are unsafe */
int spill__posix_open_lock_error(const char *name, int err);
/* SPILL_EUNSAFE unless fd is a regular file with exactly one link */
int spill__posix_check_lock_shape(int fd, const char *name);

#endif
