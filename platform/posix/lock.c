/* lock.c (POSIX): what both lock backends share: examining and opening an existing .lock
 * (rule 7: any doubt is "unsafe" or an error, never "free"), and rule 13's directory flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/file.h>
#endif

#include "posix.h"

/* TRAP (POSIX close): any close() of any descriptor on an inode drops every fcntl lock this
 * process holds on it, whichever descriptor took them. A .lock that is a hard link to a file
 * the host application has locked (SQLite does) would lose the application its lock the moment
 * we merely opened and closed it. So .lock is examined without being opened for I/O, and
 * anything but a regular file with one link is never opened at all.
 * Linux: an O_PATH | O_NOFOLLOW descriptor is examined (its close drops no lock: the kernel
 * skips lock removal for O_PATH files), then the examined inode itself is reopened through
 * /proc/self/fd/N, so no other file can be swapped in between. Elsewhere (or without /proc): a
 * no-follow fstatat, the open, and the same dev/ino check afterwards. */

static int shape(const struct stat *st, const char *name, const char *op)
{
    if (S_ISLNK(st->st_mode))
        return spill__error_set_os(SPILL_EUNSAFE, 0, op, name,
                                   "lock file is a symbolic link: never followed");
    if (!S_ISREG(st->st_mode))
        return spill__error_set_os(SPILL_EUNSAFE, 0, op, name,
                                   "lock file is not a regular file");
    if (st->st_nlink != 1)
        return spill__error_set_os(SPILL_EUNSAFE, 0, op, name,
                                   "lock file has more than one link");
    return SPILL_OK;
}

#ifdef O_PATH
/* The examination of an O_PATH descriptor already in ex->path_fd. */
static int examine_path_fd(spill__lock_exam *ex, const char *name)
{
    int rc;
    if (fstat(ex->path_fd, &ex->st) < 0)
        rc = spill__error_os("fstat", name, errno);
    else
        rc = shape(&ex->st, name, "fstat");
    if (rc != SPILL_OK)
        spill__posix_lock_exam_done(ex);
    return rc;
}
#endif

int spill__posix_lock_examine(int at, const char *name, spill__lock_exam *ex)
{
    ex->path_fd = -1;
#ifdef O_PATH
    do
        ex->path_fd = openat(at, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    while (ex->path_fd < 0 && errno == EINTR);
    if (ex->path_fd < 0)
        return spill__error_os("openat", name, errno);
    return examine_path_fd(ex, name);
#else
    if (fstatat(at, name, &ex->st, AT_SYMLINK_NOFOLLOW) < 0)
        return spill__error_os("fstatat", name, errno);
    return shape(&ex->st, name, "fstatat"); /* nothing was opened */
#endif
}

void spill__posix_lock_exam_done(spill__lock_exam *ex)
{
    if (ex->path_fd >= 0)
        close(ex->path_fd); /* O_PATH: drops no lock */
    ex->path_fd = -1;
}

/* O_NONBLOCK: a FIFO swapped in must not block the reaper; O_NOCTTY: nor may a terminal
 * become our controlling terminal. */
#define REOPEN_FLAGS (O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* The fallback: the name again, then the dev/ino check. What it opened by mistake is closed:
 * the one window left where the OS offers nothing better. */
static int reopen_by_name(spill__lock_exam *ex, int at, const char *name, int flags, int *out)
{
    struct stat st;
    int fd;
    do
        fd = openat(at, name, flags | O_NOFOLLOW | REOPEN_FLAGS);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return spill__posix_open_lock_error(name, errno);
    if (fstat(fd, &st) < 0 || st.st_dev != ex->st.st_dev || st.st_ino != ex->st.st_ino ||
        shape(&st, name, "fstat") != SPILL_OK) {
        spill__posix_close(fd); /* the backend's close: one of our own .lock files is parked */
        return spill__error_set_os(SPILL_EUNSAFE, 0, "fstat", name,
                                   "lock file replaced while examined");
    }
    *out = fd;
    return SPILL_OK;
}

int spill__posix_lock_reopen(spill__lock_exam *ex, int at, const char *name, int flags,
                             int *out)
{
    int rc;
    if (spill__posix_knobs.lock_reopen_by_name)
        spill__posix_lock_exam_done(ex); /* a test of the fallback */
    if (ex->path_fd >= 0) {
        char proc[64];
        int fd;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", ex->path_fd);
        do
            fd = open(proc, flags | REOPEN_FLAGS);
        while (fd < 0 && errno == EINTR);
        if (fd >= 0 || errno != ENOENT) { /* ENOENT: no /proc mounted */
            rc = fd >= 0 ? SPILL_OK : spill__posix_open_lock_error(name, errno);
            spill__posix_lock_exam_done(ex);
            if (rc == SPILL_OK)
                *out = fd;
            return rc;
        }
    }
    rc = reopen_by_name(ex, at, name, flags, out);
    spill__posix_lock_exam_done(ex);
    return rc;
}

int spill__posix_open_lock_error(const char *name, int err)
{
    switch (err) {
    case ELOOP:   /* a symlink */
    case EISDIR:  /* a directory */
    case ENXIO:   /* a socket, or a FIFO's other side */
    case ENODEV:
    case EOPNOTSUPP:
    case ETXTBSY:
        return spill__error_os_as(SPILL_EUNSAFE, "openat", name, err);
    default:
        return spill__error_os("openat", name, err);
    }
}

int spill__posix_check_lock_shape(int fd, const char *name)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return spill__error_os("fstat", name, errno);
    return shape(&st, name, "fstat");
}

static int lock_read(spill__fd at, const char *name, spill__fd *out);

/* "dir/file", for a reader that has not opened the directory (a reservation's first look reads
 * every spill's lease): with openat2 one open below `at` that follows no link and crosses no
 * mount, examined and reopened as any lock file; without it the directory's stat by name first
 * (rule 2: it never waits on a mount point, and a mount point is never entered), its open, and
 * the file in it. */
static int read_below(spill__fd at, const char *name, const char *slash, spill__fd *out)
{
    spill__stat st, here;
    spill__fd dfd;
    char dir[256];
    int rc, fd = -2;
#ifdef O_PATH
    if ((fd = spill__posix_open_beneath((int)at, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
        spill__lock_exam ex;
        ex.path_fd = fd;
        if ((rc = examine_path_fd(&ex, name)) != SPILL_OK ||
            (rc = spill__posix_lock_reopen(&ex, (int)at, name, O_RDONLY, &fd)) != SPILL_OK)
            return rc;
        *out = fd;
        return SPILL_OK;
    }
#endif
    if (fd == -3)
        return SPILL_EUNSAFE;
    if (fd != -2)
        return spill__posix_open_lock_error(name, errno);
    if ((size_t)(slash - name) >= sizeof dir)
        return spill__error_set_os(SPILL_EINVAL, 0, "openat", name, "name too long");
    memcpy(dir, name, (size_t)(slash - name));
    dir[slash - name] = '\0';
    if ((rc = spill__sys.stat(at, dir, &st)) != SPILL_OK ||
        (rc = spill__sys.stat(at, NULL, &here)) != SPILL_OK)
        return rc;
    if (st.type != SPILL__F_DIR || st.dev != here.dev || st.mount_id != here.mount_id)
        return spill__error_set_os(SPILL_EUNSAFE, 0, "fstatat", dir,
                                   "not a directory of the same mount: not entered");
    if ((rc = spill__sys.open_dir(at, dir, 0, &dfd)) != SPILL_OK)
        return rc;
    rc = lock_read(dfd, slash + 1, out);
    spill__sys.close(dfd);
    return rc;
}

static int lock_read(spill__fd at, const char *name, spill__fd *out)
{
    spill__lock_exam ex;
    const char *slash = strchr(name, '/');
    int rc, fd;
    if (slash)
        return read_below(at, name, slash, out);
    if ((rc = spill__posix_lock_examine((int)at, name, &ex)) != SPILL_OK)
        return rc;
    if ((rc = spill__posix_lock_reopen(&ex, (int)at, name, O_RDONLY, &fd)) == SPILL_OK)
        *out = fd;
    return rc;
}

/* Rule 13 (Linux): systemd-tmpfiles (v242 and later) skips a directory someone holds an flock
 * on, and everything below it. Always flock, whatever the lock backend: the convention is
 * flock's. On NFS, CIFS and FUSE a directory has no flock of its own and the kernel keeps it
 * local: fine, it is only for the host's cleaners. Any failure other than EWOULDBLOCK is
 * ignored: `.lock` stays the correctness gate. Other systems' cleaners know no such lock. */
int spill__posix_dir_lock(spill__fd fd, int how)
{
#ifdef __linux__
    int op = how == SPILL__DLOCK_SH ? LOCK_SH : how == SPILL__DLOCK_EX ? LOCK_EX : LOCK_UN;
    int rc;
    do
        rc = flock((int)fd, op | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && (errno == EWOULDBLOCK || errno == EAGAIN))
        return spill__error_set_os(SPILL_EBUSY, errno, "flock", "",
                                   "directory locked by another process");
#else
    (void)fd;
    (void)how;
#endif
    return SPILL_OK;
}

/* Rule 13's trap, handled here once: the flock goes with LOCK_UN before the close, never with
 * the close alone. A child forked meanwhile shares the open file description, and a close only
 * drops our reference: the directory would stay locked (systemd-tmpfiles skipping it, another
 * reaper's LOCK_EX refused) for as long as that child lives. LOCK_UN reaches every copy. The
 * close goes through the table, as any other the core asks for. */
void spill__posix_dir_close(spill__fd *fd)
{
    if (*fd == SPILL__NOFD)
        return;
    spill__posix_dir_lock(*fd, SPILL__DLOCK_UN);
    spill__sys.close(*fd);
    *fd = SPILL__NOFD;
}

int spill__posix_lock_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    return how == SPILL__PROBE_READ ? lock_read(at, name, out)
                                    : spill__posix_lock_try(at, name, out);
}
