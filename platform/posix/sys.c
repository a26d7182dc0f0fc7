/* sys.c (POSIX): the operations table: every OS call the core makes, relative to directory
 * descriptors, never following a link, close-on-exec, EINTR retried. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "kernel.h"
#include "posix.h"

#define AT(fd) ((fd) == SPILL__NOFD ? AT_FDCWD : (int)(fd))

#if defined(SPILL__HAVE_OPENAT2)
/* Rule 2: below the root, the open itself refuses to cross a mount or follow a link (Linux 5.6+),
 * which closes the window between the core's mount check and this open. A kernel without
 * openat2 (ENOSYS), one that does not know a flag (EINVAL) or a seccomp filter that refuses the
 * call (EPERM; container runtimes did before they knew it) leaves the classic openat, once and
 * for all: the mount check before it still holds. */
#ifdef SPILL_TEST_HOOKS
int spill__posix_no_openat2; /* tests: the classic openat, as on kernels before 5.6 */
#define no_openat2 spill__posix_no_openat2
#else
static int no_openat2;
#endif

static int open_beneath(int at, const char *name, int flags)
{
    struct spill__open_how how;
    int fd;
    if (__atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
        return -2;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.resolve = SPILL__RESOLVE_NO_XDEV | SPILL__RESOLVE_NO_SYMLINKS;
    do
        fd = spill__openat2(at, name, &how);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && (errno == ENOSYS || errno == EINVAL || errno == EPERM)) {
        __atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
        return -2;
    }
    if (fd < 0 && errno == EXDEV) /* a mount point: refused without a word to its server */
        return spill__error_os_as(SPILL_EUNSAFE, "openat2", name, EXDEV), -3;
    return fd;
}
#else
static int open_beneath(int at, const char *name, int flags)
{
    (void)at;
    (void)name;
    (void)flags;
    return -2;
}
#endif

static int p_open_dir(spill__fd at, const char *name, spill__fd *out)
{
    int fd = -2;
    /* a root path may pass through links (macOS's /tmp); children of it may not */
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (at == SPILL__NOFD ? 0 : O_NOFOLLOW);
    if (at != SPILL__NOFD && (fd = open_beneath((int)at, name, flags)) == -3)
        return SPILL_EUNSAFE;
    if (fd == -2) {
        do
            fd = openat(AT(at), name, flags);
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

static int p_mkdir(spill__fd at, const char *name, unsigned mode)
{
    if (mkdirat(AT(at), name, (mode_t)mode) < 0)
        return spill__error_os("mkdirat", name, errno);
    return SPILL_OK;
}

static int p_create(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    int fd;
    do
        fd = openat(AT(at), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    (mode_t)mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    *out = fd;
    return SPILL_OK;
}

static int p_open_read(spill__fd at, const char *name, spill__fd *out)
{
    int fd;
    do
        fd = openat(AT(at), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
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

static int p_write(spill__fd fd, const void *buf, size_t len)
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

static int p_stat(spill__fd at, const char *name, spill__stat *st)
{
    int rc = name ? spill__posix_statat((int)AT(at), name, st)
                  : spill__posix_statat((int)at, NULL, st);
    if (rc < 0)
        return spill__error_os(name ? "fstatat" : "fstat", name ? name : "", errno);
    return SPILL_OK;
}

static int p_unlink(spill__fd at, const char *name, int is_dir)
{
    if (unlinkat(AT(at), name, is_dir ? AT_REMOVEDIR : 0) < 0)
        return spill__error_os(is_dir ? "rmdir" : "unlinkat", name, errno);
    return SPILL_OK;
}

void spill__close_inherited(spill__fd fd)
{
    if (fd != SPILL__NOFD)
        close((int)fd); /* no lock call and no table: see platform.h */
}

/* POSIX has no use for holding a directory open while it is created: the staging protocol
 * keeps a spill invisible until it is locked and recorded (spill__platform_stages). */
static int p_mkdir_open(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    int rc = p_mkdir(at, name, mode);
    return rc == SPILL_OK ? p_open_dir(at, name, out) : rc;
}

/* Any descriptor may stay open while its name is unlinked. */
static int p_unlink_held(spill__fd at, const char *name, spill__fd *fd, int is_dir)
{
    (void)fd;
    return p_unlink(at, name, is_dir);
}

static int p_rename(spill__fd from_at, const char *from, spill__fd to_at, const char *to)
{
    if (spill__posix_rename_noreplace((int)AT(from_at), from, (int)AT(to_at), to) < 0)
        return spill__error_os("renameat", to, errno);
    return SPILL_OK;
}

static int p_space(const char *path, uint64_t *avail)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0)
        return spill__error_os("statvfs", path, errno);
    *avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return SPILL_OK;
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

static void p_dir_rewind(spill__dir *d)
{
    rewinddir(d->d);
}

static void p_dir_close(spill__dir *d)
{
    if (d) {
        closedir(d->d);
        free(d);
    }
}

static int p_open_append(spill__fd at, const char *name, spill__fd *out)
{
    int fd;
    do
        fd = openat(AT(at), name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
                                      O_NOCTTY | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    *out = fd;
    return SPILL_OK;
}

static int p_rewrite(spill__fd fd, const void *buf, size_t len)
{
    const char *p = buf;
    off_t at = 0;
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

#define POSIX_OPS                                                                          \
    {                                                                                      \
        p_open_dir, p_mkdir, p_create, p_open_read, p_write, p_read, p_close, p_stat,      \
            p_unlink, p_rename, spill__posix_lock_create, spill__posix_lock_probe,         \
            spill__posix_unlock, p_dir_open, p_dir_next, p_dir_rewind, p_dir_close,        \
            p_space, spill__posix_fs_kind, p_mkdir_open, p_unlink_held,                    \
            spill__posix_lock_read, spill__posix_dir_lock, p_open_dir, p_open_append,      \
            p_rewrite                                                                      \
    }

const spill__sys_ops spill__sys_default = POSIX_OPS;
spill__sys_ops spill__sys = POSIX_OPS;
