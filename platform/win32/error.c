/* error.c (Windows): GetLastError() codes and NTSTATUS values mapped to spill_err once, at the
 * platform boundary, and recorded as this thread's error. */
#include <stdio.h>

#include "win32.h"

/* Contention (sharing and lock violations) is "busy"; anything unknown is an error, never
 * "free". */
static int map_error(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND: case ERROR_PATH_NOT_FOUND: case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH: case ERROR_BAD_NET_NAME: case ERROR_DIRECTORY:
        return SPILL_ENOTFOUND;
    case ERROR_ALREADY_EXISTS: case ERROR_FILE_EXISTS: case ERROR_DIR_NOT_EMPTY:
    case ERROR_SHARING_VIOLATION: case ERROR_LOCK_VIOLATION: case ERROR_BUSY:
        return SPILL_EBUSY;
    case ERROR_DISK_FULL: case ERROR_HANDLE_DISK_FULL: case ERROR_DISK_QUOTA_EXCEEDED:
        return SPILL_ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY: case ERROR_OUTOFMEMORY: case ERROR_NO_SYSTEM_RESOURCES:
        return SPILL_ENOMEM;
    case ERROR_ACCESS_DENIED: case ERROR_WRITE_PROTECT: case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_NETWORK_ACCESS_DENIED:
        return SPILL_EACCES;
    case ERROR_CANT_ACCESS_FILE: case ERROR_CANT_RESOLVE_FILENAME: case ERROR_STOPPED_ON_SYMLINK:
        return SPILL_EUNSAFE;
    case ERROR_INVALID_PARAMETER: case ERROR_INVALID_NAME: case ERROR_BAD_PATHNAME:
        return SPILL_EINVAL;
    default:
        return SPILL_EIO;
    }
}

/* The system's message for e, as UTF-8 on one line. */
static void message(DWORD e, char *buf, size_t size)
{
    wchar_t w[256];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
                             0, w, sizeof w / sizeof w[0], NULL);
    while (n > 0 && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L' ' ||
                     w[n - 1] == L'.'))
        n--;
    if (n == 0 || !spill__win_utf8(w, (int)n, buf, size))
        snprintf(buf, size, "Windows error %lu", (unsigned long)e);
}

int spill__error_os(const char *op, const char *path, int os_error)
{
    char msg[256];
    message((DWORD)os_error, msg, sizeof msg);
    return spill__error_set_os(map_error((DWORD)os_error), os_error, op, path, msg);
}

int spill__error_os_as(int code, const char *op, const char *path, int os_error)
{
    char msg[256];
    message((DWORD)os_error, msg, sizeof msg);
    return spill__error_set_os(code, os_error, op, path, msg);
}

int spill__win_status(const char *op, const char *path, NTSTATUS st)
{
    DWORD e = RtlNtStatusToDosError(st);
    switch (st) {
    case STATUS_DELETE_PENDING:
        /* reported by the Win32 layer as "access denied", but it means "already going": another
         * remover got there first (rule 6) */
        return spill__error_set_os(SPILL_ENOTFOUND, (int)e, op, path,
                                   "delete pending: already being removed");
    case STATUS_NOT_A_DIRECTORY:
        return spill__error_set_os(SPILL_ENOTFOUND, (int)e, op, path, "not a directory");
    case STATUS_FILE_IS_A_DIRECTORY:
        return spill__error_set_os(SPILL_EUNSAFE, (int)e, op, path, "is a directory");
    default:
        return spill__error_os(op, path, (int)e);
    }
}
