/* delete.c (Windows): removal through a handle already open on the file, so that what goes is
 * the file examined (a link itself, never its target) and not whatever holds its name now. */
#include "win32.h"

/* FileDispositionInfoEx is 21; MinGW hides the enum value behind a wrong version guard. */
#define DISPOSITION_INFO_EX ((FILE_INFO_BY_HANDLE_CLASS)21)
#ifndef FILE_DISPOSITION_FLAG_DELETE
#define FILE_DISPOSITION_FLAG_DELETE 0x00000001
#endif
#ifndef FILE_DISPOSITION_FLAG_POSIX_SEMANTICS
#define FILE_DISPOSITION_FLAG_POSIX_SEMANTICS 0x00000002
#endif
#ifndef FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE
#define FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE 0x00000010
#endif

#define NOT_EMPTY_RETRIES 6 /* waits of 1, 2, 4 ... 32 ms */

/* POSIX semantics: the name goes as soon as h is closed, whoever else still has the file open,
 * and the read-only attribute is ignored. Windows 10 1809 and later on NTFS. */
static DWORD posix_delete(HANDLE h)
{
    struct {
        DWORD Flags;
    } ex;
    ex.Flags = FILE_DISPOSITION_FLAG_DELETE | FILE_DISPOSITION_FLAG_POSIX_SEMANTICS |
               FILE_DISPOSITION_FLAG_IGNORE_READONLY_ATTRIBUTE;
    return SetFileInformationByHandle(h, DISPOSITION_INFO_EX, &ex, sizeof ex) ? 0
                                                                              : GetLastError();
}

static DWORD classic_delete(HANDLE h)
{
    FILE_DISPOSITION_INFO d;
    d.DeleteFile = TRUE;
    return SetFileInformationByHandle(h, FileDispositionInfo, &d, sizeof d) ? 0 : GetLastError();
}

/* The classic disposition refuses a read-only file. Clearing the attribute is safe only with a
 * single link: the attribute belongs to the file, so clearing it through a second hard link would
 * change a file that may lie outside the root. */
static int clear_read_only(HANDLE h)
{
    BY_HANDLE_FILE_INFORMATION fi;
    FILE_BASIC_INFO bi;
    if (!GetFileInformationByHandle(h, &fi) || !(fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY) ||
        fi.nNumberOfLinks != 1 || !GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof bi))
        return 0;
    bi.FileAttributes &= ~(DWORD)FILE_ATTRIBUTE_READONLY;
    if (bi.FileAttributes == 0)
        bi.FileAttributes = FILE_ATTRIBUTE_NORMAL;
    return SetFileInformationByHandle(h, FileBasicInfo, &bi, sizeof bi) != 0;
}

static DWORD delete_once(HANDLE h)
{
    DWORD e = posix_delete(h);
    if (e != ERROR_INVALID_PARAMETER && e != ERROR_INVALID_FUNCTION && e != ERROR_NOT_SUPPORTED)
        return e;
    /* Wine, FAT, SMB shares and older Windows have no POSIX delete (Wine: invalid parameter):
     * the classic disposition, under which a file marked for deletion stays in its directory
     * until its last handle closes */
    e = classic_delete(h);
    if (e == ERROR_ACCESS_DENIED && clear_read_only(h))
        e = classic_delete(h);
    return e;
}

int spill__win_delete(HANDLE h, const char *name)
{
    DWORD e;
    int i;
    for (i = 0;; i++) {
        e = delete_once(h);
        /* under classic semantics a child that is already being deleted, but that someone else
         * still holds open, keeps its directory "not empty" for a moment */
        if (e != ERROR_DIR_NOT_EMPTY || i == NOT_EMPTY_RETRIES)
            break;
        Sleep(1u << i);
    }
    if (e == 0)
        return SPILL_OK;
    return spill__error_os("SetFileInformationByHandle", name, (int)e);
}
