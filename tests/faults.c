/* faults.c: fault injection through the operations table. Each fake counts its calls and either
 * fails (recording the error as the platform would, through spill__error_os) or passes the call
 * on to spill__sys_default. Only the armed entries of spill__sys are swapped. */
#include <stdio.h>
#include <string.h>

#include <apr_pools.h>

#include "faults.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

typedef struct armed {
    int on, sticky, err;
    unsigned skip, count, calls, fired;
    uint64_t dev, ino;  /* sticky: the directory of the file that failed */
    char name[512];     /* and its name */
} armed;

static armed arms[FAULT_NOPS];
static char failed_call[32], failed_name[512];

static const char *const op_names[FAULT_NOPS] = {
    "open_dir", "mkdir",   "create",      "open_read",  "write",  "read",
    "close",    "stat",    "unlink",      "rename",     "lock_create", "lock_probe",
    "unlock",   "dir_open", "dir_next",   "space",      "fs_kind"};

#ifdef _WIN32
#define LOCK_CALL "LockFileEx"
#elif defined(SPILL_LOCK_FCNTL)
#define LOCK_CALL "fcntl"
#else
#define LOCK_CALL "flock"
#endif

const char *fault_op_name(fault_op op)
{
    return op < FAULT_NOPS ? op_names[op] : "?";
}

/* The identity of the directory `at` (0, 0 for a path from the current directory). Read
 * straight from the OS so that no error is recorded over the one the library may be keeping. */
static void dir_identity(spill__fd at, uint64_t *dev, uint64_t *ino)
{
    *dev = *ino = 0;
    if (at == SPILL__NOFD)
        return;
#ifdef _WIN32
    {
        BY_HANDLE_FILE_INFORMATION fi;
        if (GetFileInformationByHandle((HANDLE)at, &fi)) {
            *dev = fi.dwVolumeSerialNumber;
            *ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow;
        }
    }
#else
    {
        struct stat sb;
        if (fstat((int)at, &sb) == 0) {
            *dev = (uint64_t)sb.st_dev;
            *ino = (uint64_t)sb.st_ino;
        }
    }
#endif
}

/* 1 if this call of op is to fail. at/name identify the file for sticky faults. */
static int decide(fault_op op, spill__fd at, const char *name)
{
    armed *a = &arms[op];
    unsigned i;
    uint64_t dev, ino;
    if (!a->on)
        return 0;
    i = a->calls++;
    if (a->sticky && a->fired) {
        dir_identity(at, &dev, &ino);
        if (dev != a->dev || ino != a->ino || strcmp(name ? name : "", a->name) != 0)
            return 0;
        a->fired++;
        return 1;
    }
    if (i < a->skip || i - a->skip >= a->count)
        return 0;
    if (!a->fired) {
        dir_identity(at, &a->dev, &a->ino);
        snprintf(a->name, sizeof a->name, "%s", name ? name : "");
    }
    a->fired++;
    return 1;
}

/* Records the failure as the platform records a real one. */
static int fail(fault_op op, const char *call, const char *path)
{
    if (!failed_call[0]) {
        snprintf(failed_call, sizeof failed_call, "%s", call);
        snprintf(failed_name, sizeof failed_name, "%s", path ? path : "");
    }
    return spill__error_os(call, path ? path : "", arms[op].err);
}

/* The faults cover each entry's plain form (not held, not a replacement, a lock taken), as the
 * operations they stand for were separate entries once: the held and rewriting forms pass. */
static int f_open_dir(spill__fd at, const char *name, int held, spill__fd *out)
{
    if (!held && decide(FAULT_OPEN_DIR, at, name))
        return fail(FAULT_OPEN_DIR, "openat", name);
    return spill__sys_default.open_dir(at, name, held, out);
}

static int f_mkdir(spill__fd at, const char *name, unsigned mode, spill__fd *out)
{
    if (!out && decide(FAULT_MKDIR, at, name))
        return fail(FAULT_MKDIR, "mkdirat", name);
    return spill__sys_default.mkdir(at, name, mode, out);
}

/* FAULT_CREATE and FAULT_OPEN_READ: open_file's CREATE and READ */
static int f_open_file(spill__fd at, const char *name, int how, spill__fd *out)
{
    fault_op op = how == SPILL__OPEN_CREATE ? FAULT_CREATE : FAULT_OPEN_READ;
    if (how != SPILL__OPEN_APPEND && decide(op, at, name))
        return fail(op, "openat", name);
    return spill__sys_default.open_file(at, name, how, out);
}

/* A disk filling up mid-write: half the bytes land, then the error. */
static int f_write(spill__fd fd, const void *buf, size_t len, int replace)
{
    if (!replace && decide(FAULT_WRITE, SPILL__NOFD, NULL)) {
        if (len > 1)
            spill__sys_default.write(fd, buf, len / 2, 0);
        return fail(FAULT_WRITE, "write", "");
    }
    return spill__sys_default.write(fd, buf, len, replace);
}

static int f_read(spill__fd fd, void *buf, size_t len, size_t *got)
{
    if (decide(FAULT_READ, SPILL__NOFD, NULL))
        return fail(FAULT_READ, "read", "");
    return spill__sys_default.read(fd, buf, len, got);
}

/* close() reports an error after the descriptor is gone (NFS's deferred ENOSPC, EIO). */
static int f_close(spill__fd fd)
{
    if (decide(FAULT_CLOSE, SPILL__NOFD, NULL)) {
        spill__sys_default.close(fd);
        return fail(FAULT_CLOSE, "close", "");
    }
    return spill__sys_default.close(fd);
}

static int f_stat(spill__fd at, const char *name, spill__stat *st)
{
    if (decide(FAULT_STAT, at, name))
        return fail(FAULT_STAT, name ? "fstatat" : "fstat", name);
    return spill__sys_default.stat(at, name, st);
}

static int f_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (!held && decide(FAULT_UNLINK, at, name))
        return fail(FAULT_UNLINK, is_dir ? "rmdir" : "unlinkat", name);
    return spill__sys_default.unlink(at, name, is_dir, held);
}

/* the staging and trash renames (never over anything), as before the journal's compaction */
static int f_rename(spill__fd from_at, const char *from, spill__fd to_at, const char *to,
                    int replace)
{
    if (!replace && decide(FAULT_RENAME, to_at, to))
        return fail(FAULT_RENAME, "renameat", to);
    return spill__sys_default.rename(from_at, from, to_at, to, replace);
}

/* The lock call refuses after the file was made: the lock is let go, the file stays, and *out
 * is not written, as with a real backend whose flock/fcntl/LockFileEx fails. */
static int f_lock_create(spill__fd at, const char *name, spill__fd *out)
{
    spill__fd fd;
    int rc;
    if (!decide(FAULT_LOCK_CREATE, at, name))
        return spill__sys_default.lock_create(at, name, out);
    if ((rc = spill__sys_default.lock_create(at, name, &fd)) != SPILL_OK)
        return rc; /* a real failure first */
    spill__sys_default.unlock(fd);
    return fail(FAULT_LOCK_CREATE, LOCK_CALL, name);
}

static int f_lock_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how == SPILL__PROBE_LOCK && decide(FAULT_LOCK_PROBE, at, name))
        return fail(FAULT_LOCK_PROBE, LOCK_CALL, name);
    return spill__sys_default.lock_probe(at, name, how, out);
}

static int f_unlock(spill__fd fd)
{
    if (decide(FAULT_UNLOCK, SPILL__NOFD, NULL)) {
        spill__sys_default.unlock(fd);
        return fail(FAULT_UNLOCK, "close", "");
    }
    return spill__sys_default.unlock(fd);
}

static int f_dir_open(spill__fd fd, spill__dir **out)
{
    if (decide(FAULT_DIR_OPEN, fd, NULL))
        return fail(FAULT_DIR_OPEN, "openat", ".");
    return spill__sys_default.list_open(fd, out);
}

static int f_dir_next(spill__dir *d, const char **name)
{
    if (decide(FAULT_DIR_NEXT, SPILL__NOFD, NULL)) {
        *name = NULL;
        return fail(FAULT_DIR_NEXT, "readdir", "");
    }
    return spill__sys_default.list_next(d, name);
}

static int f_space(const char *path, uint64_t *avail)
{
    if (decide(FAULT_SPACE, SPILL__NOFD, path))
        return fail(FAULT_SPACE, "statvfs", path);
    return spill__sys_default.space(path, avail);
}

static int f_fs_kind(spill__fd fd, int *kind)
{
    if (decide(FAULT_FS_KIND, SPILL__NOFD, NULL))
        return fail(FAULT_FS_KIND, "fstatfs", "");
    return spill__sys_default.fs_kind(fd, kind);
}

static void swap_in(fault_op op)
{
    switch (op) {
    case FAULT_OPEN_DIR: spill__sys.open_dir = f_open_dir; break;
    case FAULT_MKDIR: spill__sys.mkdir = f_mkdir; break;
    case FAULT_CREATE: /* fall through: one entry for both */
    case FAULT_OPEN_READ: spill__sys.open_file = f_open_file; break;
    case FAULT_WRITE: spill__sys.write = f_write; break;
    case FAULT_READ: spill__sys.read = f_read; break;
    case FAULT_CLOSE: spill__sys.close = f_close; break;
    case FAULT_STAT: spill__sys.stat = f_stat; break;
    case FAULT_UNLINK: spill__sys.unlink = f_unlink; break;
    case FAULT_RENAME: spill__sys.rename = f_rename; break;
    case FAULT_LOCK_CREATE: spill__sys.lock_create = f_lock_create; break;
    case FAULT_LOCK_PROBE: spill__sys.lock_probe = f_lock_probe; break;
    case FAULT_UNLOCK: spill__sys.unlock = f_unlock; break;
    case FAULT_DIR_OPEN: spill__sys.list_open = f_dir_open; break;
    case FAULT_DIR_NEXT: spill__sys.list_next = f_dir_next; break;
    case FAULT_SPACE: spill__sys.space = f_space; break;
    case FAULT_FS_KIND: spill__sys.fs_kind = f_fs_kind; break;
    default: break;
    }
}

static int any_armed(void)
{
    int i;
    for (i = 0; i < FAULT_NOPS; i++)
        if (arms[i].on)
            return 1;
    return 0;
}

void fault_arm(fault_op op, unsigned skip, unsigned count, int os_error)
{
    armed *a;
    if (op >= FAULT_NOPS)
        return;
    if (!any_armed())
        failed_call[0] = failed_name[0] = '\0';
    a = &arms[op];
    memset(a, 0, sizeof *a);
    a->on = 1;
    a->skip = skip;
    a->count = count;
    a->err = os_error;
    swap_in(op);
}

void fault_arm_sticky(fault_op op, unsigned skip, int os_error)
{
    fault_arm(op, skip, 1, os_error);
    if (op < FAULT_NOPS)
        arms[op].sticky = 1;
}

void fault_disarm(void)
{
    int i;
    spill__sys = spill__sys_default;
    for (i = 0; i < FAULT_NOPS; i++)
        arms[i].on = 0;
}

unsigned fault_calls(fault_op op)
{
    return op < FAULT_NOPS ? arms[op].calls : 0;
}

unsigned fault_fired(fault_op op)
{
    return op < FAULT_NOPS ? arms[op].fired : 0;
}

const char *fault_failed_call(void)
{
    return failed_call;
}

const char *fault_failed_name(void)
{
    return failed_name;
}

#ifdef SPILL_TEST_WRAP_POOLS
/* Linked with --wrap=apr_pool_create_ex: every pool made by the library's objects and the tests
 * is counted until it is destroyed, explicitly or with its parent (nothing here clears a pool,
 * which would also run the cleanup). */
static long live_pools;

apr_status_t __real_apr_pool_create_ex(apr_pool_t **newpool, apr_pool_t *parent,
                                       apr_abortfunc_t abort_fn, apr_allocator_t *allocator);
apr_status_t __wrap_apr_pool_create_ex(apr_pool_t **newpool, apr_pool_t *parent,
                                       apr_abortfunc_t abort_fn, apr_allocator_t *allocator);

static apr_status_t pool_gone(void *data)
{
    (void)data;
    __atomic_fetch_sub(&live_pools, 1, __ATOMIC_RELAXED);
    return APR_SUCCESS;
}

apr_status_t __wrap_apr_pool_create_ex(apr_pool_t **newpool, apr_pool_t *parent,
                                       apr_abortfunc_t abort_fn, apr_allocator_t *allocator)
{
    apr_status_t rv = __real_apr_pool_create_ex(newpool, parent, abort_fn, allocator);
    if (rv == APR_SUCCESS) {
        __atomic_fetch_add(&live_pools, 1, __ATOMIC_RELAXED);
        apr_pool_cleanup_register(*newpool, NULL, pool_gone, apr_pool_cleanup_null);
    }
    return rv;
}

/* The library makes its pools unmanaged (rule 14): counted the same way. */
apr_status_t __real_apr_pool_create_unmanaged_ex(apr_pool_t **newpool, apr_abortfunc_t abort_fn,
                                                 apr_allocator_t *allocator);
apr_status_t __wrap_apr_pool_create_unmanaged_ex(apr_pool_t **newpool, apr_abortfunc_t abort_fn,
                                                 apr_allocator_t *allocator);

apr_status_t __wrap_apr_pool_create_unmanaged_ex(apr_pool_t **newpool, apr_abortfunc_t abort_fn,
                                                 apr_allocator_t *allocator)
{
    apr_status_t rv = __real_apr_pool_create_unmanaged_ex(newpool, abort_fn, allocator);
    if (rv == APR_SUCCESS) {
        __atomic_fetch_add(&live_pools, 1, __ATOMIC_RELAXED);
        apr_pool_cleanup_register(*newpool, NULL, pool_gone, apr_pool_cleanup_null);
    }
    return rv;
}

long fault_pools_live(void)
{
    return __atomic_load_n(&live_pools, __ATOMIC_RELAXED);
}
#else
long fault_pools_live(void)
{
    return -1;
}
#endif

int fault_open_fds(void)
{
#if defined(_WIN32)
    return -1;
#elif defined(__linux__)
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the listing's own descriptor */
#else
    struct rlimit rl;
    int fd, n = 0, max = 4096;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)max)
        max = (int)rl.rlim_cur;
    for (fd = 0; fd < max; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
#endif
}
