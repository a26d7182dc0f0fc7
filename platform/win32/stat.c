/* stat.c (Windows): stat through a handle (identity, type, size), the free space of a
 * filesystem, and its kind (rule 8). */
#include <stdlib.h>
#include <string.h>

#include "win32.h"

#define EPOCH_DIFF 116444736000000000LL /* 1601-01-01 to 1970-01-01 in 100 ns units */

static int64_t unix_seconds(FILETIME ft)
{
    int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    return (t - EPOCH_DIFF) / 10000000;
}

/* Symlinks, junctions and mount points are name surrogates: links, never followed. Tag 0 is
 * not a valid tag, but Wine shows a Unix symlink as a reparse point with tag 0: a link too.
 * Other tags (dedup, WOF compression, cloud placeholders) mark ordinary files. */
static int is_link_tag(DWORD tag)
{
    return tag == 0 || IsReparseTagNameSurrogate(tag);
}

static int type_of(HANDLE h, DWORD attrs, const char *name, int *type)
{
    FILE_ATTRIBUTE_TAG_INFO tag;
    if (attrs & FILE_ATTRIBUTE_REPARSE_POINT) {
        if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &tag, sizeof tag))
            return spill__error_os("GetFileInformationByHandleEx", name, (int)GetLastError());
        if (is_link_tag(tag.ReparseTag)) {
            *type = SPILL__F_LINK;
            return SPILL_OK;
        }
    }
    if (attrs & FILE_ATTRIBUTE_DIRECTORY)
        *type = SPILL__F_DIR;
    else if (attrs & FILE_ATTRIBUTE_DEVICE)
        *type = SPILL__F_OTHER;
    else
        *type = SPILL__F_REG;
    return SPILL_OK;
}

/* The volume serial number and the file index stand for st_dev and st_ino; only
 * name-surrogate reparse points are links. */
int spill__win_stat_handle(HANDLE h, const char *name, spill__stat *st)
{
    BY_HANDLE_FILE_INFORMATION fi;
    int rc;
    if (!GetFileInformationByHandle(h, &fi))
        return spill__error_os("GetFileInformationByHandle", name, (int)GetLastError());
    memset(st, 0, sizeof *st);
    if ((rc = type_of(h, fi.dwFileAttributes, name, &st->type)) != SPILL_OK)
        return rc;
    st->size = ((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow;
    st->nlink = fi.nNumberOfLinks;
    st->dev = fi.dwVolumeSerialNumber;
    st->ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow;
    /* another volume is reached only through a mount point, itself a name surrogate */
    st->mount_id = st->dev;
    st->mtime = unix_seconds(fi.ftLastWriteTime);
    /* rule 7, asked of directories only (as on POSIX): the owner SID against ours; the handle
     * needs READ_CONTROL (SPILL__DIR_ACCESS has it), and an owner that cannot be read is
     * doubt, so not ours */
    if (st->type == SPILL__F_DIR)
        spill__win_owned_by_me(h, name, &st->own);
    return SPILL_OK;
}

int spill__win_space(const char *path, uint64_t *avail)
{
    wchar_t *w, *dir;
    ULARGE_INTEGER free_to_caller;
    size_t n;
    BOOL ok;
    int rc = spill__win_wide(path, 1, &w);
    if (rc != SPILL_OK)
        return rc;
    /* a UNC path needs its trailing backslash */
    n = wcslen(w);
    if (!(dir = malloc((n + 2) * sizeof *dir))) {
        free(w);
        return spill__error_os("malloc", path, ERROR_NOT_ENOUGH_MEMORY);
    }
    wcscpy(dir, w);
    if (n && dir[n - 1] != L'\\')
        wcscat(dir, L"\\");
    ok = GetDiskFreeSpaceExW(dir, &free_to_caller, NULL, NULL);
    free(dir);
    free(w);
    if (!ok)
        return spill__error_os("GetDiskFreeSpaceExW", path, (int)GetLastError());
    *avail = free_to_caller.QuadPart; /* the caller's quota included */
    return SPILL_OK;
}

#ifndef FILE_REMOTE_DEVICE
#define FILE_REMOTE_DEVICE 0x00000010
#endif
#ifndef FILE_DEVICE_NETWORK_FILE_SYSTEM
#define FILE_DEVICE_NETWORK_FILE_SYSTEM 0x00000014
#endif

/* Rule 8: a network redirector (SMB, NFS client, WebDAV, \\wsl$) or a remote device. */
int spill__win_fs_kind(spill__fd fd, int *kind)
{
    FILE_FS_DEVICE_INFORMATION dev;
    IO_STATUS_BLOCK io;
    NTSTATUS st = NtQueryVolumeInformationFile(SPILL__H(fd), &io, &dev, sizeof dev,
                                               FileFsDeviceInformation);
    if (!NT_SUCCESS(st))
        return spill__win_status("NtQueryVolumeInformationFile", "", st);
    *kind = dev.DeviceType == FILE_DEVICE_NETWORK_FILE_SYSTEM ||
                    (dev.Characteristics & FILE_REMOTE_DEVICE)
                ? SPILL__FS_NETWORK
                : SPILL__FS_LOCAL;
    return SPILL_OK;
}
