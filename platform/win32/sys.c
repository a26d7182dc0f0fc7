/* sys.c (Windows): the operations table. Every open is NtCreateFile relative to the parent's
 * handle (no path race) with FILE_OPEN_REPARSE_POINT (a link is opened as itself, never
 * followed), synchronous and not inheritable; removal goes through the handle just opened. */
#include <stdlib.h>
#include <string.h>

#include "win32.h"

#define DELETE_RETRIES 6 /* sharing violations: waits of 1, 2, 4 ... 32 ms, 63 ms in all */

static NTSTATUS nt_open(spill__fd at, const wchar_t *w, ACCESS_MASK access, ULONG share,
                        ULONG disposition, ULONG options, HANDLE *out)
{
    UNICODE_STRING us;
    OBJECT_ATTRIBUTES oa;
    IO_STATUS_BLOCK io;
    NTSTATUS st;
    int path = at == SPILL__NOFD;
    if (path) {
        if (!RtlDosPathNameToNtPathName_U(w, &us, NULL, NULL))
            return STATUS_OBJECT_PATH_NOT_FOUND;
    } else {
        us.Buffer = (PWSTR)w;
        us.Length = (USHORT)(wcslen(w) * sizeof *w);
        us.MaximumLength = us.Length;
    }
    /* no OBJ_INHERIT: a handle a child process inherits would outlive its owner */
    InitializeObjectAttributes(&oa, &us, OBJ_CASE_INSENSITIVE, path ? NULL : SPILL__H(at), NULL);
    st = NtCreateFile(out, access | FILE_READ_ATTRIBUTES | SYNCHRONIZE, &oa, &io, NULL,
                      FILE_ATTRIBUTE_NORMAL, share, disposition,
                      options | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
    if (path)
        RtlFreeUnicodeString(&us);
    return st;
}

int spill__win_open(spill__fd at, const char *name, ACCESS_MASK access, ULONG share,
                    ULONG disposition, ULONG options, HANDLE *out, NTSTATUS *status)
{
    wchar_t *w = spill__win_wide(name, at == SPILL__NOFD);
    NTSTATUS st;
    if (status)
        *status = STATUS_SUCCESS;
    if (!w)
        return spill_error_last()->code;
    st = nt_open(at, w, access, share, disposition, options, out);
    free(w);
    if (status)
        *status = st;
    if (!NT_SUCCESS(st)) {
        *out = NULL;
        return spill__win_status("NtCreateFile", name, st);
    }
    return SPILL_OK;
}

int spill__win_open_delete(spill__fd at, const char *name, ULONG options, HANDLE *out)
{
    /* FILE_WRITE_ATTRIBUTES: to clear a read-only attribute where the filesystem cannot
     * ignore it (spill__win_delete) */
    ACCESS_MASK access = DELETE | FILE_WRITE_ATTRIBUTES;
    int i, rc;
    for (i = 0;; i++) {
        /* without FILE_SHARE_DELETE: removers exclude each other, so that of two reapers
         * racing for one orphan only one marks it (the other then finds it gone) and each
         * removal is counted once */
        rc = spill__win_open(at, name, access, SPILL__SHARE_HELD, FILE_OPEN,
                             options | FILE_OPEN_REPARSE_POINT, out, NULL);
        if (rc == SPILL_EACCES && access != DELETE) {
            access = DELETE; /* allowed to delete but not to change attributes */
            continue;
        }
        /* a sharing violation: someone holds it without FILE_SHARE_DELETE. A live owner's
         * hold lasts; a scanner's passes: retried a bounded number of times (63 ms at most;
         * judging opens a directory once and never waits on it) */
        if (rc != SPILL_EBUSY || i == DELETE_RETRIES)
            return rc;
        Sleep(1u << i);
    }
}

int spill__win_refuse_link(HANDLE h, const char *name)
{
    spill__stat st;
    int rc = spill__win_stat_handle(h, name, &st);
    if (rc == SPILL_OK && st.type == SPILL__F_LINK)
        return spill__error_set_os(SPILL_EUNSAFE, ERROR_STOPPED_ON_SYMLINK, "NtCreateFile", name,
                                   "a symbolic link, junction or mount point: never followed");
    return rc;
}

static int w_open_dir(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    NTSTATUS st;
    /* a root path may pass through links; children of it may not */
    ULONG options = FILE_DIRECTORY_FILE | (at == SPILL__NOFD ? 0 : FILE_OPEN_REPARSE_POINT);
    int rc = spill__win_open(at, name, SPILL__DIR_ACCESS, SPILL__SHARE_ALL, FILE_OPEN, options,
                             &h, &st);
    if (rc != SPILL_OK && at == SPILL__NOFD && st == STATUS_NOT_A_DIRECTORY)
        /* a root that is not a directory is an error, not a missing root */
        return spill__error_set_os(SPILL_EINVAL, (int)RtlNtStatusToDosError(st), "NtCreateFile",
                                   name, "not a directory");
    if (rc != SPILL_OK)
        return rc;
    if (at != SPILL__NOFD && (rc = spill__win_refuse_link(h, name)) != SPILL_OK) {
        CloseHandle(h);
        return rc;
    }
    *out = SPILL__FD(h);
    return SPILL_OK;
}

static int w_mkdir(spill__fd at, const char *name, unsigned mode)
{
    HANDLE h;
    /* POSIX modes have no meaning here: the new directory inherits its parent's ACL */
    int rc = spill__win_open(at, name, SPILL__DIR_ACCESS, SPILL__SHARE_ALL, FILE_CREATE,
                             FILE_DIRECTORY_FILE, &h, NULL);
    (void)mode;
    if (rc == SPILL_OK)
        CloseHandle(h);
    return rc;
}

static int w_mkdir_open(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    HANDLE h;
    /* held without FILE_SHARE_DELETE from the moment it exists: a reaper's delete meets a
     * sharing violation for as long as we live. Without DELETE access itself, so that others
     * may still list it without sharing delete (as Wine's FindFirstFileW does) */
    int rc = spill__win_open(at, name, SPILL__DIR_ACCESS, SPILL__SHARE_HELD, FILE_CREATE,
                             FILE_DIRECTORY_FILE, &h, NULL);
    (void)mode;
    if (rc == SPILL_OK)
        *out = SPILL__FD(h);
    return rc;
}

static int w_create(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    HANDLE h;
    int rc = spill__win_open(at, name, GENERIC_WRITE, SPILL__SHARE_ALL, FILE_CREATE,
                             FILE_NON_DIRECTORY_FILE, &h, NULL);
    (void)mode;
    if (rc == SPILL_OK)
        *out = SPILL__FD(h);
    return rc;
}

static int w_open_read(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    int rc = spill__win_open(at, name, GENERIC_READ, SPILL__SHARE_ALL, FILE_OPEN,
                             FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc == SPILL_OK && (rc = spill__win_refuse_link(h, name)) != SPILL_OK)
        CloseHandle(h);
    if (rc == SPILL_OK)
        *out = SPILL__FD(h);
    return rc;
}

static int w_write(spill__fd fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        DWORD n, want = len > 0x40000000u ? 0x40000000u : (DWORD)len;
        if (!WriteFile(SPILL__H(fd), p, want, &n, NULL))
            return spill__error_os("WriteFile", "", (int)GetLastError());
        if (n == 0)
            return spill__error_os("WriteFile", "", ERROR_DISK_FULL);
        p += n;
        len -= n;
    }
    return SPILL_OK;
}

static int w_read(spill__fd fd, void *buf, size_t len, size_t *got)
{
    DWORD n, want = len > 0x40000000u ? 0x40000000u : (DWORD)len;
    if (!ReadFile(SPILL__H(fd), buf, want, &n, NULL)) {
        DWORD e = GetLastError();
        if (e != ERROR_HANDLE_EOF)
            return spill__error_os("ReadFile", "", (int)e);
        n = 0;
    }
    *got = n;
    return SPILL_OK;
}

static int w_close(spill__fd fd)
{
    if (!CloseHandle(SPILL__H(fd)))
        return spill__error_os("CloseHandle", "", (int)GetLastError());
    return SPILL_OK;
}

static int w_stat(spill__fd at, const char *name, spill__stat *st)
{
    HANDLE h;
    int rc;
    if (!name)
        return spill__win_stat_handle(SPILL__H(at), "", st);
    /* attributes only: such an open never meets a sharing violation */
    rc = spill__win_open(at, name, FILE_READ_ATTRIBUTES, SPILL__SHARE_ALL, FILE_OPEN,
                         FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    rc = spill__win_stat_handle(h, name, st);
    CloseHandle(h);
    /* rule 7 (the judge stats a root child before it opens it): a directory's owner needs
     * READ_CONTROL, asked for only here, so that the walker's stat of each file costs no more;
     * READ_CONTROL takes no part in sharing. Refused by the ACL: not ours (doubt) */
    if (rc == SPILL_OK && st->type == SPILL__F_DIR &&
        spill__win_open(at, name, READ_CONTROL, SPILL__SHARE_ALL, FILE_OPEN,
                        FILE_OPEN_REPARSE_POINT, &h, NULL) == SPILL_OK) {
        spill__win_owned_by_me(h, name, &st->own);
        CloseHandle(h);
    }
    return rc;
}

static int w_unlink(spill__fd at, const char *name, int is_dir)
{
    HANDLE h;
    spill__stat st;
    /* without FILE_NON_DIRECTORY_FILE for a non-directory: a directory link is removed too */
    int rc = spill__win_open_delete(at, name, is_dir ? FILE_DIRECTORY_FILE : 0, &h);
    if (rc != SPILL_OK)
        return rc;
    if (!is_dir && (rc = spill__win_stat_handle(h, name, &st)) == SPILL_OK &&
        st.type == SPILL__F_DIR)
        rc = spill__error_set_os(SPILL_EIO, ERROR_ACCESS_DENIED, "unlink", name,
                                 "is a directory");
    if (rc == SPILL_OK)
        rc = spill__win_delete(h, name);
    CloseHandle(h);
    return rc;
}

/* A held directory: our own handle refuses our delete too, so it is let go first, and the
 * name is removed only if it still is the directory we held. */
static int unlink_held_dir(spill__fd at, const char *name, spill__fd *fd)
{
    spill__stat held, now;
    HANDLE h;
    int rc = spill__win_stat_handle(SPILL__H(*fd), name, &held);
    CloseHandle(SPILL__H(*fd));
    *fd = SPILL__NOFD;
    if (rc != SPILL_OK || (rc = spill__win_open_delete(at, name, FILE_DIRECTORY_FILE, &h)) !=
                              SPILL_OK)
        return rc;
    if ((rc = spill__win_stat_handle(h, name, &now)) == SPILL_OK &&
        (now.dev != held.dev || now.ino != held.ino))
        rc = spill__error_set_os(SPILL_ENOTFOUND, 0, "unlink", name,
                                 "replaced by another directory: left");
    if (rc == SPILL_OK)
        rc = spill__win_delete(h, name);
    CloseHandle(h);
    return rc;
}

static int w_unlink_held(spill__fd at, const char *name, spill__fd *fd, int is_dir)
{
    if (is_dir)
        return unlink_held_dir(at, name, fd);
    return spill__win_delete(SPILL__H(*fd), name); /* .lock goes as *fd is closed */
}

static int w_rename(spill__fd from_at, const char *from, spill__fd to_at, const char *to)
{
    HANDLE h;
    FILE_RENAME_INFO *ri;
    wchar_t *w;
    size_t n, size;
    int rc = spill__win_open(from_at, from, DELETE, SPILL__SHARE_ALL, FILE_OPEN,
                             FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    if (!(w = spill__win_wide(to, to_at == SPILL__NOFD))) {
        CloseHandle(h);
        return spill_error_last()->code;
    }
    n = wcslen(w);
    size = sizeof *ri + n * sizeof *w;
    if ((ri = calloc(1, size)) != NULL) {
        ri->ReplaceIfExists = FALSE; /* never replace: SPILL_EBUSY if `to` exists */
        ri->RootDirectory = to_at == SPILL__NOFD ? NULL : SPILL__H(to_at);
        ri->FileNameLength = (DWORD)(n * sizeof *w);
        memcpy(ri->FileName, w, n * sizeof *w);
        if (!SetFileInformationByHandle(h, FileRenameInfo, ri, (DWORD)size))
            rc = spill__error_os("SetFileInformationByHandle", to, (int)GetLastError());
    } else {
        rc = spill__error_os("calloc", to, ERROR_NOT_ENOUGH_MEMORY);
    }
    free(ri);
    free(w);
    CloseHandle(h);
    return rc;
}

/* Held as mkdir_open holds a new one: without FILE_SHARE_DELETE, and refusing a link. */
static int w_open_dir_held(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    int rc = spill__win_open(at, name, SPILL__DIR_ACCESS, SPILL__SHARE_HELD, FILE_OPEN,
                             FILE_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc == SPILL_OK && (rc = spill__win_refuse_link(h, name)) != SPILL_OK)
        CloseHandle(h);
    if (rc == SPILL_OK)
        *out = SPILL__FD(h);
    return rc;
}

static int w_open_append(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes at the end */
    int rc = spill__win_open(at, name, FILE_APPEND_DATA, SPILL__SHARE_ALL, FILE_OPEN_IF,
                             FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc == SPILL_OK && (rc = spill__win_refuse_link(h, name)) != SPILL_OK)
        CloseHandle(h);
    if (rc == SPILL_OK)
        *out = SPILL__FD(h);
    return rc;
}

static int w_rewrite(spill__fd fd, const void *buf, size_t len)
{
    LARGE_INTEGER zero, end;
    int rc;
    zero.QuadPart = 0;
    end.QuadPart = (LONGLONG)len;
    if (!SetFilePointerEx(SPILL__H(fd), zero, NULL, FILE_BEGIN))
        return spill__error_os("SetFilePointerEx", "", (int)GetLastError());
    if ((rc = w_write(fd, buf, len)) != SPILL_OK)
        return rc;
    if (!SetFilePointerEx(SPILL__H(fd), end, NULL, FILE_BEGIN) || !SetEndOfFile(SPILL__H(fd)))
        return spill__error_os("SetEndOfFile", "", (int)GetLastError());
    return SPILL_OK;
}

#define WIN32_OPS                                                                          \
    {                                                                                      \
        w_open_dir, w_mkdir, w_create, w_open_read, w_write, w_read, w_close, w_stat,      \
            w_unlink, w_rename, spill__win_lock_create, spill__win_lock_probe,             \
            spill__win_unlock, spill__win_dir_open, spill__win_dir_next,                   \
            spill__win_dir_rewind, spill__win_dir_close, spill__win_space,                 \
            spill__win_fs_kind, w_mkdir_open, w_unlink_held, spill__win_lock_read,        \
            spill__win_dir_lock, w_open_dir_held, w_open_append, w_rewrite                 \
    }

const spill__sys_ops spill__sys_default = WIN32_OPS;
spill__sys_ops spill__sys = WIN32_OPS;
