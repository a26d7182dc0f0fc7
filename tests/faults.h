/* faults.h: fault injection through the operations table (spill__sys), test-side only: the next
 * calls of a chosen operation fail with a given OS error, recorded through spill__error_os so the
 * mapping to spill_err is the platform's own. fault_disarm() restores the whole table.
 * The counts are not atomic: arm faults only around calls that use one thread (opts.threads 1). */
#ifndef SPILL_FAULTS_H
#define SPILL_FAULTS_H

#include "spill_int.h"

/* The operations that return a result (dir_rewind and dir_close cannot fail). */
typedef enum fault_op {
    FAULT_OPEN_DIR, FAULT_MKDIR, FAULT_CREATE, FAULT_OPEN_READ, FAULT_WRITE, FAULT_READ,
    FAULT_CLOSE, FAULT_STAT, FAULT_UNLINK, FAULT_RENAME, FAULT_LOCK_CREATE, FAULT_LOCK_PROBE,
    FAULT_UNLOCK, FAULT_DIR_OPEN, FAULT_DIR_NEXT, FAULT_SPACE, FAULT_FS_KIND,
    FAULT_NOPS
} fault_op;

#define FAULT_FOREVER 0xFFFFFFFFu

/* How a failing call behaves, where the OS would have done part of the work:
 *  - write writes the first half of the buffer, then fails (a disk filling mid-write);
 *  - close and unlock release the descriptor, then report the error (as close() does);
 *  - lock_create creates .lock, then "the lock call" fails: the lock is let go, the file is left
 *    (what a real backend does when flock/fcntl/LockFileEx refuses);
 *  - every other operation fails without doing anything. */

/* Arms op: its first `skip` calls succeed, the next `count` calls fail with os_error (an errno on
 * POSIX, a GetLastError() code on Windows), later ones succeed. Several ops may be armed at once;
 * arming one again resets it. */
void fault_arm(fault_op op, unsigned skip, unsigned count, int os_error);
/* Like fault_arm with count 1, but once the call has failed, every later call of op on the same
 * file (same directory identity and name) fails too: one entry that cannot be removed, read or
 * opened, while its neighbours can. For ops that take a directory and a name, and dir_open
 * (the directory listed). */
void fault_arm_sticky(fault_op op, unsigned skip, int os_error);
/* Restores every entry of spill__sys from spill__sys_default. The counts below stay readable
 * until the op is armed again. */
void fault_disarm(void);

unsigned fault_calls(fault_op op); /* calls of op while it was armed */
unsigned fault_fired(fault_op op); /* of them, those that failed */
const char *fault_op_name(fault_op op); /* the table entry: "write", "lock_create" */
/* The first failing call since arming began (a fault_arm with nothing armed): the OS call it
 * recorded in spill_error_last ("write", "openat", "rmdir") and the name it was given ("" for
 * ops on a descriptor). */
const char *fault_failed_call(void);
const char *fault_failed_name(void);

/* Descriptors open in this process right now (-1 where the OS gives no way to count). */
int fault_open_fds(void);
/* APR pools made by the library and the tests and not yet destroyed (-1 where the test binary
 * is not linked with --wrap=apr_pool_create_ex). */
long fault_pools_live(void);

/* OS error codes for the tests, per OS. */
#ifdef _WIN32
#include <windows.h>
#define FAULT_ENOSPC ERROR_DISK_FULL
#define FAULT_EDQUOT ERROR_NOT_ENOUGH_QUOTA
#define FAULT_EIO ERROR_IO_DEVICE
#define FAULT_EMFILE ERROR_TOO_MANY_OPEN_FILES
#define FAULT_ENOLCK ERROR_LOCK_FAILED
#define FAULT_ENOENT ERROR_FILE_NOT_FOUND
#define FAULT_EEXIST ERROR_ALREADY_EXISTS
#else
#include <errno.h>
#define FAULT_ENOSPC ENOSPC
#ifdef EDQUOT
#define FAULT_EDQUOT EDQUOT
#else
#define FAULT_EDQUOT ENOSPC
#endif
#define FAULT_EIO EIO
#define FAULT_EMFILE EMFILE
#define FAULT_ENOLCK ENOLCK
#define FAULT_ENOENT ENOENT
#define FAULT_EEXIST EEXIST
#endif

#endif
