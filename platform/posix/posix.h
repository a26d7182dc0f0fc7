/* posix.h: what the POSIX platform files share. */
#ifndef SPILL_POSIX_H
#define SPILL_POSIX_H

#include "platform.h"

/* stat of name under dirfd without following a link (name NULL: dirfd itself); -1 + errno. */
int spill__posix_statat(int dirfd, const char *name, spill__stat *st);
#ifdef SPILL_TEST_HOOKS
/* stat.c: set by tests to ignore STATX_MNT_ID, so that the pre-5.8 mount id path runs */
extern int spill__posix_no_statx_mnt_id;
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
/* opens an existing .lock read-write, never blocking, never through a link; -1 + errno */
int spill__posix_open_lock(int at, const char *name);
/* the spill_err for a failed open of .lock: links and special files are unsafe */
int spill__posix_open_lock_error(const char *name, int err);
/* SPILL_EUNSAFE unless fd is a regular file with exactly one link */
int spill__posix_check_lock_shape(int fd, const char *name);

int spill__posix_fs_kind(spill__fd fd, int *kind);

#endif
