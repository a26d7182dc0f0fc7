/* misc.c (POSIX): paths, the data directory, process id, host name, processor count, run-once,
 * and the filesystem kind the reaper's rule 8 needs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/vfs.h>
#else
#include <sys/mount.h>
#include <sys/param.h>
#endif

#include "posix.h"

int spill__platform_stages(void)
{
    return 1;
}

int spill__path_is_absolute(const char *path)
{
    return path[0] == '/';
}

int spill__getcwd(char *buf, size_t size)
{
    if (!getcwd(buf, size))
        return spill__error_os("getcwd", "", errno);
    return SPILL_OK;
}

/* mkdir -p with mode 0700 for what it creates; existing components are left as they are. */
int spill__mkdir_parents(const char *path)
{
    char buf[4096];
    size_t i, n = strlen(path);
    if (n >= sizeof buf)
        return spill__error_os("mkdir", path, ENAMETOOLONG);
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return spill__error_os("mkdir", buf, errno);
        buf[i] = path[i];
    }
    return SPILL_OK;
}

int spill__data_dir(const char *app, char *buf, size_t size)
{
    const char *home = getenv("HOME");
    int n;
#if defined(__APPLE__)
    if (!home || !*home)
        return spill__error_set_os(SPILL_ENOTFOUND, 0, "getenv", "HOME", "HOME is not set");
    n = snprintf(buf, size, "%s/Library/Application Support/%s", home, app);
#else
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/') /* the XDG spec says a relative value is to be ignored */
        n = snprintf(buf, size, "%s/%s", xdg, app);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/share/%s", home, app);
    else
        return spill__error_set_os(SPILL_ENOTFOUND, 0, "getenv", "HOME",
                                   "neither XDG_DATA_HOME nor HOME is set");
#endif
    if (n < 0 || (size_t)n >= size)
        return spill__error_set_os(SPILL_ERANGE, 0, "spill_default_root", "", "path too long");
    return SPILL_OK;
}

int64_t spill__getpid(void)
{
    return (int64_t)getpid();
}

void spill__hostname(char *buf, size_t size)
{
    if (gethostname(buf, size) < 0 || !buf[0])
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
}

unsigned spill__ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 1024 ? 1024u : (unsigned)n;
}

void spill__once(void (*fn)(void))
{
    /* one slot per distinct function; the library has only a few. Once a function has run, its
     * slot is found without the mutex (rule 14: initialisation holds no lock once done); the
     * mutex is the library's first (platform.h), so the fork handler waits for a first run */
    static void (*done[16])(void);
    static int ndone;
    int i, n = __atomic_load_n(&ndone, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (__atomic_load_n(&done[i], __ATOMIC_RELAXED) == fn)
            return;
    spill__mutex_lock(SPILL__MU_ONCE);
    n = ndone;
    for (i = 0; i < n && done[i] != fn; i++)
        ;
    if (i == n && n < 16) {
        fn();
        __atomic_store_n(&done[n], fn, __ATOMIC_RELAXED);
        __atomic_store_n(&ndone, n + 1, __ATOMIC_RELEASE);
    }
    spill__mutex_unlock(SPILL__MU_ONCE);
}

#if defined(__linux__)
/* f_type magic numbers of filesystems whose locks can look free while their owner lives */
int spill__posix_network_magic(unsigned long t)
{
    switch (t) {
    case 0x6969UL:     /* NFS */
    case 0x517BUL:     /* SMB */
    case 0xFF534D42UL: /* CIFS */
    case 0xFE534D42UL: /* SMB2 */
    case 0x01021997UL: /* 9p (v9fs) */
    case 0x65735546UL: /* FUSE, which virtiofs also reports */
    case 0x00C36400UL: /* Ceph */
    case 0x5346414FUL: /* AFS (OpenAFS) */
    case 0x6B414653UL: /* kAFS, the kernel's AFS client */
    case 0x19830326UL: /* BeeGFS */
    case 0x47504653UL: /* GPFS */
    case 0x0BD00BD0UL: /* Lustre */
        return 1;
    default:
        return 0;
    }
}

int spill__posix_fs_kind(spill__fd fd, int *kind)
{
    struct statfs sf;
    if (fstatfs((int)fd, &sf) < 0)
        return spill__error_os("fstatfs", "", errno);
    *kind = spill__posix_network_magic((unsigned long)sf.f_type) ? SPILL__FS_NETWORK : SPILL__FS_LOCAL;
    return SPILL_OK;
}
#else
int spill__posix_fs_kind(spill__fd fd, int *kind)
{
    struct statfs sf;
    if (fstatfs((int)fd, &sf) < 0)
        return spill__error_os("fstatfs", "", errno);
    /* BSDs and macOS mark local filesystems; FUSE mounts (macfuse, fusefs) count as remote */
    *kind = (sf.f_flags & MNT_LOCAL) && strncmp(sf.f_fstypename, "fuse", 4) != 0 &&
                    strncmp(sf.f_fstypename, "macfuse", 7) != 0 &&
                    strncmp(sf.f_fstypename, "osxfuse", 7) != 0
                ? SPILL__FS_LOCAL
                : SPILL__FS_NETWORK;
    return SPILL_OK;
}
#endif
