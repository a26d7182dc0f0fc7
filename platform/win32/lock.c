/* lock.c (Windows): the spill lock, LockFileEx on .lock: lock_create, lock_probe (to lock, or
 * to read the record), unlock, and rule 13's dir_lock and dir_close (no lock here). */
#include <string.h>

#include "win32.h"

/* The lock is exclusive and fail-immediately, on the single byte at offset 2^62 of .lock: it
 * overlaps the whole-file range other clients of this layout lock, and leaves the record at
 * offset 0 readable under Windows' mandatory locking. .lock is held without FILE_SHARE_DELETE,
 * by owners and reapers alike, so a second open of it for deletion, even in the same process,
 * meets a sharing violation: that is "busy" too. */
#define LOCK_OFFSET_HIGH 0x40000000u /* 2^62 = 0x4000000000000000 */
#define LOCK_ACCESS (GENERIC_READ | GENERIC_WRITE | DELETE)

static void lock_range(OVERLAPPED *ov)
{
    memset(ov, 0, sizeof *ov);
    ov->Offset = 0;
    ov->OffsetHigh = LOCK_OFFSET_HIGH;
}

/* Never waits: a lock or sharing violation is "busy", anything else an error (never "free"). */
static int try_lock(HANDLE h, const char *name)
{
    OVERLAPPED ov;
    DWORD e;
    lock_range(&ov);
    if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov))
        return SPILL_OK;
    e = GetLastError();
    if (e == ERROR_LOCK_VIOLATION || e == ERROR_SHARING_VIOLATION)
        return spill__error_os_as(SPILL_EBUSY, "LockFileEx", name, (int)e);
    if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION)
        return spill__error_os_as(SPILL_ENOLCK, "LockFileEx", name, (int)e);
    return spill__error_os("LockFileEx", name, (int)e);
}

int spill__win_lock_create(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    int rc = spill__win_open(at, name, LOCK_ACCESS, SPILL__SHARE_HELD, FILE_CREATE,
                             FILE_NON_DIRECTORY_FILE, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = try_lock(h, name)) != SPILL_OK) {
        CloseHandle(h);
        return rc;
    }
    *out = SPILL__FD(h);
    return SPILL_OK;
}

/* A directory without .lock that someone holds open without FILE_SHARE_DELETE is a spill being
 * created: its creator holds it from the moment it exists and locks .lock next. */
static int dir_held(spill__fd at)
{
    HANDLE h;
    int rc = spill__win_open(at, "", DELETE, SPILL__SHARE_ALL, FILE_OPEN, FILE_DIRECTORY_FILE,
                             &h, NULL);
    if (rc == SPILL_OK)
        CloseHandle(h);
    return rc == SPILL_EBUSY;
}

/* Rule 7: .lock must be a regular file with one link; a link, directory or device is unsafe. */
static int check_shape(HANDLE h, const char *name)
{
    spill__stat st;
    int rc = spill__win_stat_handle(h, name, &st);
    if (rc != SPILL_OK)
        return rc;
    if (st.type == SPILL__F_LINK)
        return spill__error_set_os(SPILL_EUNSAFE, 0, "NtCreateFile", name,
                                   "lock file is a symbolic link or junction");
    if (st.type != SPILL__F_REG)
        return spill__error_set_os(SPILL_EUNSAFE, 0, "NtCreateFile", name,
                                   "lock file is not a regular file");
    if (st.nlink != 1)
        return spill__error_set_os(SPILL_EUNSAFE, 0, "NtCreateFile", name,
                                   "lock file has more than one link");
    return SPILL_OK;
}

static int lock_try(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    int rc = spill__win_open(at, name, LOCK_ACCESS, SPILL__SHARE_HELD, FILE_OPEN,
                             FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc == SPILL_EBUSY) /* a sharing violation: held by its owner (or another reaper) */
        return rc;
    if (rc == SPILL_ENOTFOUND && at != SPILL__NOFD && dir_held(at))
        return spill__error_set_os(SPILL_EBUSY, ERROR_SHARING_VIOLATION, "NtCreateFile", name,
                                   "no lock yet, but the directory is held by its creator");
    if (rc != SPILL_OK)
        return rc;
    if ((rc = check_shape(h, name)) == SPILL_OK)
        rc = try_lock(h, name);
    if (rc != SPILL_OK) {
        CloseHandle(h);
        return rc;
    }
    *out = SPILL__FD(h);
    return SPILL_OK;
}

int spill__win_unlock(spill__fd fd)
{
    OVERLAPPED ov;
    lock_range(&ov);
    UnlockFileEx(SPILL__H(fd), 0, 1, 0, &ov);
    if (!CloseHandle(SPILL__H(fd)))
        return spill__error_os("CloseHandle", "", (int)GetLastError());
    return SPILL_OK;
}

/* Rule 7 for the record reader: the same shape check. Windows locks belong to their handle,
 * so this open and close cannot drop anybody's lock; the check keeps what is read ours. */
static int lock_read(spill__fd at, const char *name, spill__fd *out);

/* "dir/file", for a reader that has not opened the directory: the directory opened as any
 * other (never a reparse point), then the file in it. */
static int read_below(spill__fd at, const char *name, const char *slash, spill__fd *out)
{
    char dir[256];
    spill__fd dfd;
    int rc;
    if ((size_t)(slash - name) >= sizeof dir)
        return spill__error_set_os(SPILL_EINVAL, 0, "CreateFileW", name, "name too long");
    memcpy(dir, name, (size_t)(slash - name));
    dir[slash - name] = '\0';
    if ((rc = spill__sys.open_dir(at, dir, 0, &dfd)) != SPILL_OK)
        return rc;
    rc = lock_read(dfd, slash + 1, out);
    spill__sys.close(dfd);
    return rc;
}

static int lock_read(spill__fd at, const char *name, spill__fd *out)
{
    HANDLE h;
    const char *slash = strchr(name, '/');
    int rc;
    if (slash)
        return read_below(at, name, slash, out);
    rc = spill__win_open(at, name, GENERIC_READ, SPILL__SHARE_ALL, FILE_OPEN,
                         FILE_NON_DIRECTORY_FILE | FILE_OPEN_REPARSE_POINT, &h, NULL);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = check_shape(h, name)) != SPILL_OK) {
        CloseHandle(h);
        return rc;
    }
    *out = SPILL__FD(h);
    return SPILL_OK;
}

/* Rule 13 has no meaning here: no Windows cleaner knows a directory lock, and a directory held
 * open without FILE_SHARE_DELETE (the owner's) already refuses every delete. */
int spill__win_dir_lock(spill__fd fd, int how)
{
    (void)fd;
    (void)how;
    return SPILL_OK;
}

/* through the table's close, as any other close the core asks for */
void spill__win_dir_close(spill__fd *fd)
{
    if (*fd != SPILL__NOFD)
        spill__sys.close(*fd);
    *fd = SPILL__NOFD;
}

int spill__win_lock_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    return how == SPILL__PROBE_READ ? lock_read(at, name, out) : lock_try(at, name, out);
}
