/* walk.c (Windows): walking and removing trees, and all of Windows' removal: deletion through
 * the handle just examined, sharing violations retried, the table's unlink. */
#include <string.h>

#include "win32.h"
#include "walk.h"

/* ---- Deletion through a handle already open on the file, so that what goes is the file
 * examined (a link itself, never its target) and not whatever holds its name now. */

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

/* Marks the file or empty directory open as h for deletion, through h. `name` is for errors. */
static int delete_through(HANDLE h, const char *name)
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

#define DELETE_RETRIES 6 /* sharing violations: waits of 1, 2, 4 ... 32 ms, 63 ms in all */

/* An open of an entry to remove it (the link itself, never its target), excluding any other
 * remover: a sharing violation (another remover, an antivirus or indexer glancing at the file)
 * is retried a bounded number of times before it is reported as SPILL_EBUSY. */
static int open_delete(spill__fd at, const char *name, ULONG options, HANDLE *out)
{
    /* FILE_WRITE_ATTRIBUTES: to clear a read-only attribute where the filesystem cannot
     * ignore it (delete_through) */
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

/* ---- The operations table's unlink (sys.c). */

static int unlink_name(spill__fd at, const char *name, int is_dir)
{
    HANDLE h;
    spill__stat st;
    /* without FILE_NON_DIRECTORY_FILE for a non-directory: a directory link is removed too */
    int rc = open_delete(at, name, is_dir ? FILE_DIRECTORY_FILE : 0, &h);
    if (rc != SPILL_OK)
        return rc;
    if (!is_dir && (rc = spill__win_stat_handle(h, name, &st)) == SPILL_OK &&
        st.type == SPILL__F_DIR)
        rc = spill__error_set_os(SPILL_EIO, ERROR_ACCESS_DENIED, "unlink", name,
                                 "is a directory");
    if (rc == SPILL_OK)
        rc = delete_through(h, name);
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
    if (rc != SPILL_OK || (rc = open_delete(at, name, FILE_DIRECTORY_FILE, &h)) != SPILL_OK)
        return rc;
    if ((rc = spill__win_stat_handle(h, name, &now)) == SPILL_OK &&
        (now.dev != held.dev || now.ino != held.ino))
        rc = spill__error_set_os(SPILL_ENOTFOUND, 0, "unlink", name,
                                 "replaced by another directory: left");
    if (rc == SPILL_OK)
        rc = delete_through(h, name);
    CloseHandle(h);
    return rc;
}

/* A handle held without FILE_SHARE_DELETE refuses every other delete: a held file is marked
 * for deletion through *held (it goes when *held is closed); a held directory as above. */
int spill__win_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (!held)
        return unlink_name(at, name, is_dir);
    if (is_dir)
        return unlink_held_dir(at, name, held);
    return delete_through(SPILL__H(*held), name); /* .lock goes as *held is closed */
}

/* ---- Removing or measuring a directory tree without ever following a link. Each entry is
 * opened once, relative to its parent's handle and as itself (FILE_OPEN_REPARSE_POINT),
 * examined through that handle, and removed through it: what goes is what was examined, and a
 * symlink, junction or mount point goes as a link with its target untouched. A directory on
 * another volume is never entered, and at most SPILL__MAX_DEPTH levels are descended. Listing
 * and stat go through the operations table, so that tests can inject failures there. */

/* To remove: DELETE access (a passing sharing violation retried). To measure: attributes only,
 * which no other handle's share mode can refuse. */
static int open_entry(spill__walk *w, spill__fd fd, const char *name, HANDLE *h)
{
    if (w->measure)
        return spill__win_open(fd, name, FILE_READ_ATTRIBUTES, SPILL__SHARE_ALL, FILE_OPEN,
                               FILE_OPEN_REPARSE_POINT, h, NULL);
    return open_delete(fd, name, 0, h);
}

/* Descends into the directory open as h and, unless measuring, marks it for deletion once
 * empty. Returns 1 if it is going. */
static int do_dir(spill__walk *w, HANDLE h, const char *name, const spill__stat *cs,
                  const spill__stat *self, int depth, spill__walk_pass *ps)
{
    uint32_t nested;
    if (cs->dev != self->dev || cs->mount_id != self->mount_id) {
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "on another volume: not entered"), ps);
        return 0;
    }
    nested = spill__walk_dir(w, SPILL__FD(h), name, cs, NULL, depth);
    if (!spill__walk_after_descent(w, nested, ps))
        return 0;
    return spill__walk_dir_removed(w, delete_through(h, name), ps);
}

/* A file, a link or anything else that is not a directory, open as h. */
static int do_file(spill__walk *w, HANDLE h, const char *name, const spill__stat *cs,
                   spill__walk_pass *ps)
{
    int rc = w->measure ? SPILL_OK : delete_through(h, name);
    return spill__walk_file_removed(w, rc, cs, ps);
}

/* One entry at level `depth`. Returns 1 if something was removed: it goes as h is closed. */
int spill__walk_entry(spill__walk *w, spill__fd fd, const char *name, const spill__stat *self,
                      int depth, spill__walk_pass *ps)
{
    HANDLE h;
    spill__stat cs;
    int removed = 0, rc = open_entry(w, fd, name, &h);
    if (rc == SPILL_ENOTFOUND) /* another remover got there first, or it is delete-pending */
        return 0;
    if (rc != SPILL_OK) {
        spill__walk_fail(w, rc, ps);
        return 0;
    }
    if ((rc = spill__sys.stat(SPILL__FD(h), NULL, &cs)) != SPILL_OK)
        spill__walk_fail(w, rc, ps);
    else if (depth > SPILL__MAX_DEPTH)
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "nested deeper than 64 levels: left"), ps);
    else if (cs.type == SPILL__F_DIR)
        removed = do_dir(w, h, name, &cs, self, depth, ps);
    else
        removed = do_file(w, h, name, &cs, ps);
    CloseHandle(h);
    return removed;
}
