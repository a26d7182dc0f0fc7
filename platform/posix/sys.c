/* sys.c (POSIX): the operations table spill__sys and the file operations (open, create, read,
 * write, truncate, mkdir, a rename that never replaces and one that does, directory listing):
 * relative to directory descriptors, never following a link, close-on-exec, EINTR retried. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel.h"
#include "posix.h"

#if defined(SPILL__HAVE_OPENAT2)
/* Rule 2: below the root, the open itself refuses to cross a mount or follow a link (Linux 5.6+),
 * which closes the window between the core's mount check and this open. A kernel without
 * openat2 (ENOSYS), one that does not know a flag (EINVAL) or a seccomp filter that refuses the
 * call (EPERM; container runtimes did before they knew it) leaves the classic openat, once and
 * for all: the mount check before it still holds. */
static int openat2_refused; /* learnt once, as the kernel answers */

int spill__posix_open_beneath(int at, const char *name, int flags)
{
    struct spill__open_how how;
    int fd;
    if (spill__posix_knobs.no_openat2 || __atomic_load_n(&openat2_refused, __ATOMIC_RELAXED))
        return -2;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.resolve = SPILL__RESOLVE_NO_XDEV | SPILL__RESOLVE_NO_SYMLINKS;
    do
        fd = spill__openat2(at, name, &how);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && (errno == ENOSYS || errno == EINVAL || errno == EPERM)) {
        __atomic_store_n(&openat2_refused, 1, __ATOMIC_RELAXED);
        return -2;
    }
    if (fd < 0 && errno == EXDEV) /* a mount point: refused without a word to its server */
        return spill__error_os_as(SPILL_EUNSAFE, "openat2", name, EXDEV), -3;
    return fd;
}
#else
int spill__posix_open_beneath(int at, const char *name, int flags)
{
    (void)at;
    (void)name;
    (void)flags;
    return -2;
}
#endif

/* held: nothing more on POSIX, where nobody can delete a directory from under a descriptor */
static int p_open_dir(spill__fd at, const char *name, int held, spill__fd *out)
{
    int fd = -2;
    /* a root path may pass through links (macOS's /tmp); children of it may not */
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (at == SPILL__NOFD ? 0 : O_NOFOLLOW);
    (void)held;
    if (at != SPILL__NOFD && (fd = spill__posix_open_beneath((int)at, name, flags)) == -3)
        return SPILL_EUNSAFE;
    if (fd == -2) {
        do
            fd = openat(SPILL__AT(at), name, flags);
        while (fd < 0 && errno == EINTR);
    }
    if (fd < 0 && at == SPILL__NOFD && errno == ENOTDIR) /* a root that is not a directory is
                                                             an error, not a missing root */
        return spill__error_os_as(SPILL_EINVAL, "openat", name, errno);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    *out = fd;
    return SPILL_OK;
}

/* With out, opened as well: POSIX has no use for holding a directory open while it is
 * created, as the staging protocol keeps a spill invisible until it is locked and recorded
 * (spill__platform_stages). */
static int p_mkdir(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    if (mkdirat(SPILL__AT(at), name, (mode_t)mode) < 0)
        return spill__error_os("mkdirat", name, errno);
    return out ? p_open_dir(at, name, 1, out) : SPILL_OK;
}

/* READ (never blocking on a FIFO, never a terminal), CREATE (new), APPEND (created if
 * missing; every write at the end); never through a link */
static int p_open_file(spill__fd at, const char *name, int how, spill__fd *out)
{
    static const int flags[] = {
        O_RDONLY | O_NONBLOCK | O_NOCTTY,
        O_WRONLY | O_CREAT | O_EXCL,
        O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_NOCTTY,
    };
    int fd;
    do
        fd = openat(SPILL__AT(at), name, flags[how] | O_NOFOLLOW | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    *out = fd;
    return SPILL_OK;
}

/* The trap of big counts: macOS refuses a read(2) or write(2) of more than INT_MAX bytes
 * (EINVAL), and POSIX leaves one past SSIZE_MAX (a chunk past 2 GiB on 32-bit) to the
 * implementation. At most 1 GiB a call, as on Windows; the loops take the rest. */
#define RW_MAX ((size_t)1 << 30)

static int write_all(spill__fd fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write((int)fd, p, len > RW_MAX ? RW_MAX : len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return spill__error_os("write", "", errno);
        if (n == 0)
            return spill__error_os("write", "", ENOSPC);
        p += n;
        len -= (size_t)n;
    }
    return SPILL_OK;
}

static int p_read(spill__fd fd, void *buf, size_t len, size_t *got)
{
    ssize_t n;
    do
        n = read((int)fd, buf, len > RW_MAX ? RW_MAX : len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return spill__error_os("read", "", errno);
    *got = (size_t)n;
    return SPILL_OK;
}

static int p_close(spill__fd fd)
{
    /* close() is not retried on EINTR: the descriptor is gone either way on Linux. The lock
     * backend's close, because with fcntl locks a close can drop a lock (a record read
     * through a second descriptor on a .lock this process holds, say). */
    if (spill__posix_close((int)fd) < 0 && errno != EINTR)
        return spill__error_os("close", "", errno);
    return SPILL_OK;
}

/* A directory with an open file inside can be renamed: spills are staged (platform.h). */
int spill__platform_stages(void)
{
    return 1;
}

/* The OS's atomic no-replace rename: 0, or -1 + errno; ENOSYS where there is none. */
static int native_noreplace(int from_at, const char *from, int to_at, const char *to)
{
    if (spill__posix_knobs.rename_errno) {
        errno = spill__posix_knobs.rename_errno;
        return -1;
    }
#if defined(SPILL__HAVE_RENAMEAT2)
    return spill__renameat2(from_at, from, to_at, to, SPILL__RENAME_NOREPLACE);
#elif defined(__APPLE__) && defined(RENAME_EXCL)
    return renameatx_np(from_at, from, to_at, to, RENAME_EXCL);
#else
    (void)from_at, (void)from, (void)to_at, (void)to;
    errno = ENOSYS;
    return -1;
#endif
}

static int rename_noreplace(int from_at, const char *from, int to_at, const char *to)
{
    if (native_noreplace(from_at, from, to_at, to) == 0)
        return 0;
    /* the filesystem cannot: Linux answers EINVAL (FUSE, bindfs), macOS ENOTSUP for
     * renameatx_np(RENAME_EXCL) on smbfs, msdos and exfat. Fall through to the check below */
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EOPNOTSUPP)
        return -1;
    {
        /* No atomic no-replace rename here. renameat() would replace an empty directory, so
         * refuse an existing name first; the window left is harmless because final names
         * carry 64 random bits and the creator re-checks the name after the rename. */
        struct stat sb;
        if (fstatat(to_at, to, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
            errno = EEXIST;
            return -1;
        }
        return renameat(from_at, from, to_at, to);
    }
}

/* replace: over `to` atomically (the journal's compaction), else never over anything */
static int p_rename(spill__fd from_at, const char *from, spill__fd to_at, const char *to,
                    int replace)
{
    int f = (int)SPILL__AT(from_at), t = (int)SPILL__AT(to_at);
    if ((replace ? renameat(f, from, t, to) : rename_noreplace(f, from, t, to)) < 0)
        return spill__error_os("renameat", to, errno);
    return SPILL_OK;
}

/* Cuts a regular file to len, never through a link (and never waiting on a FIFO). */
static int p_truncate(spill__fd at, const char *name, uint64_t len)
{
    struct stat sb;
    int fd, rc = SPILL_OK;
    if ((uint64_t)(off_t)len != len)
        return spill__error_os("ftruncate", name, EFBIG);
    do
        fd = openat(SPILL__AT(at), name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    if (fstat(fd, &sb) < 0)
        rc = spill__error_os("fstat", name, errno);
    else if (!S_ISREG(sb.st_mode))
        rc = spill__error_os_as(SPILL_EUNSAFE, "ftruncate", name, EINVAL);
    while (rc == SPILL_OK && ftruncate(fd, (off_t)len) < 0)
        if (errno != EINTR)
            rc = spill__error_os("ftruncate", name, errno);
    spill__posix_close(fd);
    return rc;
}

struct spill__dir {
    DIR *d;
};

static int p_dir_open(spill__fd fd, spill__dir **out)
{
    spill__dir *sd;
    /* fdopendir owns its descriptor: give it a fresh one on the same directory */
    int dup_fd = openat((int)fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0)
        return spill__error_os("openat", ".", errno);
    if (!(sd = malloc(sizeof *sd))) {
        close(dup_fd);
        return spill__error_os("malloc", "", ENOMEM);
    }
    if (!(sd->d = fdopendir(dup_fd))) {
        int e = errno;
        close(dup_fd);
        free(sd);
        return spill__error_os("fdopendir", "", e);
    }
    *out = sd;
    return SPILL_OK;
}

static int p_dir_next(spill__dir *d, const char **name)
{
    struct dirent *e;
    for (;;) {
        errno = 0;
        e = readdir(d->d);
        if (!e) {
            *name = NULL;
            if (errno)
                return spill__error_os("readdir", "", errno);
            return SPILL_OK;
        }
        if (e->d_name[0] == '.' &&
            (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        *name = e->d_name;
        return SPILL_OK;
    }
}

/* telldir's cookie is the filesystem's own offset (getdents' d_off), stable across opens on
 * ext4, xfs and btrfs (name hashes, indices) and tmpfs since Linux 6.6; where it is not, a
 * seek lands somewhere in the listing, or past its end (the caller then starts over). */
static uint64_t p_dir_seek(spill__dir *d, uint64_t pos)
{
    if (pos == 0)
        rewinddir(d->d);
    else if (pos != SPILL__LIST_HERE)
        seekdir(d->d, (long)pos);
    return (uint64_t)(unsigned long)telldir(d->d);
}

static void p_dir_close(spill__dir *d)
{
    if (d) {
        closedir(d->d);
        free(d);
    }
}

/* replace: written at offset 0, then the file cut to len (the owner record, rewritten) */
static int p_write(spill__fd fd, const void *buf, size_t len, int replace)
{
    const char *p = buf;
    off_t at = 0;
    if (!replace)
        return write_all(fd, buf, len);
    while ((size_t)at < len) {
        ssize_t n = pwrite((int)fd, p + at, len - (size_t)at, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return spill__error_os("pwrite", "", n < 0 ? errno : ENOSPC);
        at += n;
    }
    if (ftruncate((int)fd, (off_t)len) < 0)
        return spill__error_os("ftruncate", "", errno);
    return SPILL_OK;
}

/* in the order of spill__sys_ops (platform.h) */
#define POSIX_OPS                                                                          \
    {                                                                                      \
        p_open_dir, p_mkdir, p_open_file, p_write, p_read, p_close, spill__posix_stat,     \
            spill__posix_unlink, p_rename, p_truncate,                                     \
            spill__posix_lock_create, spill__posix_lock_probe, spill__posix_unlock,        \
            spill__posix_dir_lock,                                                         \
            spill__posix_dir_close, p_dir_open, p_dir_next, p_dir_seek, p_dir_close,       \
            spill__posix_space, spill__posix_fs_kind                                       \
    }

const spill__sys_ops spill__sys_default = POSIX_OPS;
spill__sys_ops spill__sys = POSIX_OPS;

spill__posix_knob_table spill__posix_knobs; /* all zero: see posix.h */
