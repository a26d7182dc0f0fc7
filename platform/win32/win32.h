/* win32.h: what the Windows platform files share: opening relative to a directory handle, stat
 * through a handle, UTF-8 <-> UTF-16 paths, NTSTATUS mapping, and the table entries of each. */
#ifndef SPILL_WIN32_H
#define SPILL_WIN32_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <winternl.h>

#include "platform.h"
#include "process.h"

#define SPILL__H(fd) ((HANDLE)(fd))
#define SPILL__FD(h) ((spill__fd)(h))

/* Share modes. A spill's directory and its .lock are held WITHOUT FILE_SHARE_DELETE: while the
 * owner lives, any other open for deletion (a reaper's) meets a sharing violation. Everything
 * else shares all three, so that it never stands in the way of an owner or another reaper. */
#define SPILL__SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
#define SPILL__SHARE_HELD (FILE_SHARE_READ | FILE_SHARE_WRITE)

/* Access for reading a directory's listing, attributes and owner (READ_CONTROL, rule 7). */
#define SPILL__DIR_ACCESS                                                                  \
    (FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE)

/* utf.c: a UTF-8 path or name as a NUL-terminated UTF-16 string, malloc'd (free it), with '/'
 * turned into '\'. A path (not a name under a directory handle) that is too long for the
 * classic API is made absolute and given the \\?\ (or \\?\UNC\) prefix, in *out (to free).
 * Returns SPILL_OK or the error recorded. */
int spill__win_wide(const char *utf8, int is_path, wchar_t **out);
/* UTF-16 (len characters, or NUL-terminated if len < 0) into buf as UTF-8; 0 if it does not
 * fit or does not convert. */
int spill__win_utf8(const wchar_t *w, int len, char *buf, size_t size);

/* error.c: an NTSTATUS recorded as this thread's error (delete pending is SPILL_ENOTFOUND). */
int spill__win_status(const char *op, const char *path, NTSTATUS st);

/* sys.c: NtCreateFile of `name` relative to the directory handle `at` (no path race), or of
 * the path `name` with at == SPILL__NOFD. Synchronous, not inheritable (a child process must
 * never keep an owner's .lock open after the owner dies), FILE_READ_ATTRIBUTES always granted.
 * Returns a spill_err recorded under "NtCreateFile"; *status (may be NULL) gets the NTSTATUS. */
int spill__win_open(spill__fd at, const char *name, ACCESS_MASK access, ULONG share,
                    ULONG disposition, ULONG options, HANDLE *out, NTSTATUS *status);

/* stat.c: identity, type and size through a handle. Name-surrogate reparse points (symlinks,
 * junctions, mount points) are links; other reparse points (dedup, WOF, cloud placeholders)
 * are the ordinary files or directories they stand for. */
int spill__win_stat_handle(HANDLE h, const char *name, spill__stat *st);
/* The table's space and fs_kind: bytes free to this user; rule 8's network or local. */
int spill__win_space(const char *path, uint64_t *avail);
int spill__win_fs_kind(spill__fd fd, int *kind);

/* security.c: *own 1 if the open h (with READ_CONTROL) is owned by this process's user, or
 * the filesystem has no owners (rule 7); rule 11's spill__root_check lives there too. */
int spill__win_owned_by_me(HANDLE h, const char *name, int *own);

/* walk.c: all of Windows' removal; this is the operations table's unlink (platform.h),
 * deleting through the handle it examined (or the one held). */
int spill__win_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held);

/* lock.c: the table's lock entries (LockFileEx on .lock) and rule 13's no-ops. */
int spill__win_lock_create(spill__fd at, const char *name, spill__fd *out);
int spill__win_lock_probe(spill__fd at, const char *name, int how, spill__fd *out);
int spill__win_unlock(spill__fd fd);
int spill__win_dir_lock(spill__fd fd, int how);
void spill__win_dir_close(spill__fd *fd);

/* From ntdll, not (or not usably) declared by MinGW's headers. */
NTSTATUS NTAPI NtQueryDirectoryFile(HANDLE, HANDLE, PIO_APC_ROUTINE, PVOID, PIO_STATUS_BLOCK,
                                    PVOID, ULONG, FILE_INFORMATION_CLASS, BOOLEAN,
                                    PUNICODE_STRING, BOOLEAN);

/* Error codes MinGW's headers lack. */
#ifndef ERROR_DISK_QUOTA_EXCEEDED
#define ERROR_DISK_QUOTA_EXCEEDED 1295L
#endif
#ifndef ERROR_STOPPED_ON_SYMLINK
#define ERROR_STOPPED_ON_SYMLINK 681L
#endif

#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#endif
#ifndef STATUS_NO_MORE_FILES
#define STATUS_NO_MORE_FILES ((NTSTATUS)0x80000006L)
#endif
#ifndef STATUS_SHARING_VIOLATION
#define STATUS_SHARING_VIOLATION ((NTSTATUS)0xC0000043L)
#endif
#ifndef STATUS_DELETE_PENDING
#define STATUS_DELETE_PENDING ((NTSTATUS)0xC0000056L)
#endif
#ifndef STATUS_OBJECT_NAME_NOT_FOUND
#define STATUS_OBJECT_NAME_NOT_FOUND ((NTSTATUS)0xC0000034L)
#endif
#ifndef STATUS_OBJECT_PATH_NOT_FOUND
#define STATUS_OBJECT_PATH_NOT_FOUND ((NTSTATUS)0xC000003AL)
#endif
#ifndef STATUS_NOT_A_DIRECTORY
#define STATUS_NOT_A_DIRECTORY ((NTSTATUS)0xC0000103L)
#endif
#ifndef STATUS_FILE_IS_A_DIRECTORY
#define STATUS_FILE_IS_A_DIRECTORY ((NTSTATUS)0xC00000BAL)
#endif

#endif
