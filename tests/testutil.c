/* testutil.c: fresh directories, helper processes and tree snapshots for the tests. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "testutil.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

apr_pool_t *tu_pool;
const char *tu_self;
static const char *base_dir;
static unsigned counter;

/* A directory of this run's own. Made new, never reused: process ids come round again, and a
 * run that was killed (or one whose deep trees outlived cleanup) leaves its directory behind. */
static const char *base(void)
{
    if (!base_dir) {
        const char *env = getenv("SPILL_TEST_DIR");
        const char *tmp = NULL;
        static apr_pool_t *keep;
        unsigned i;
        apr_pool_create(&keep, NULL);
        if (env && *env)
            tmp = env;
        else
            apr_temp_dir_get(&tmp, keep);
        apr_dir_make_recursive(tmp, APR_FPROT_OS_DEFAULT, keep);
        for (i = 0; i < 1000; i++) {
            const char *d = apr_psprintf(keep, "%s/spill-tests-%ld-%u", tmp,
                                         (long)spill__getpid(), i);
            if (apr_dir_make(d, APR_FPROT_OS_DEFAULT, keep) == APR_SUCCESS) {
                base_dir = d;
                break;
            }
        }
        CU_ASSERT_FATAL(base_dir != NULL);
    }
    return base_dir;
}

const char *tu_fresh_dir(const char *what)
{
    const char *d = apr_psprintf(tu_pool, "%s/%s-%u", base(), what, ++counter);
    CU_ASSERT_FATAL(apr_dir_make_recursive(d, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    return d;
}

const char *tu_join(const char *dir, const char *name)
{
    return apr_pstrcat(tu_pool, dir, "/", name, NULL);
}

int tu_write_file(const char *path, const char *bytes)
{
    apr_file_t *f;
    apr_size_t n = strlen(bytes);
    if (apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                      APR_FPROT_OS_DEFAULT, tu_pool) != APR_SUCCESS)
        return -1;
    if (apr_file_write_full(f, bytes, n, NULL) != APR_SUCCESS) {
        apr_file_close(f);
        return -1;
    }
    return apr_file_close(f) == APR_SUCCESS ? 0 : -1;
}

int tu_exists(const char *path)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_LINK | APR_FINFO_TYPE, tu_pool) == APR_SUCCESS;
}

/* The library's own bookkeeping: a reaper's position and the reservation lock in the root, a
 * spill's lease file in its directory. */
static int bookkeeping(const char *name)
{
    return strncmp(name, ".spill-reap-at-", 15) == 0 ||
           strncmp(name, ".spill-reserve-", 15) == 0 || strcmp(name, ".spill-lease") == 0;
}

int tu_count_named(const char *dir, const char *prefix)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;
    if (apr_dir_open(&d, dir, tu_pool) != APR_SUCCESS)
        return -1;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (prefix ? strncmp(fi.name, prefix, strlen(prefix)) == 0
                   : strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0 &&
                         !bookkeeping(fi.name))
            n++;
    apr_dir_close(d);
    return n;
}

int tu_count_entries(const char *dir)
{
    return tu_count_named(dir, NULL);
}

static int ignore_entry(void *ctx, const spill_entry *e)
{
    (void)ctx;
    (void)e;
    return 0;
}

void tu_scan_once(const char *root)
{
    spill_opts o;
    spill_opts_init(&o);
    spill_scan(root, &o, ignore_entry, NULL);
}

#ifndef _WIN32
const char *tu_child_line(void (*fn)(const char *arg, char *out, size_t size), const char *arg)
{
    char buf[1024];
    size_t got = 0;
    ssize_t n;
    int fds[2], status = 0;
    pid_t pid;
    CU_ASSERT_FATAL(pipe(fds) == 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        char out[1024] = "no answer";
        close(fds[0]);
        fn(arg, out, sizeof out);
        _exit(write(fds[1], out, strlen(out)) < 0);
    }
    close(fds[1]);
    while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fds[0]);
    CU_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status));
    return apr_pstrdup(tu_pool, buf);
}

int tu_under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") != NULL;
}

int tu_fcntl_lock(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_SETLK, &fl);
}

int tu_locked_by_us(const char *path)
{
    int status;
    pid_t pid;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        struct flock fl;
        int fd = open(path, O_RDWR | O_CLOEXEC);
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
            _exit(2);
        _exit(fl.l_type != F_UNLCK && fl.l_pid == getppid() ? 0 : 1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int tu_open_fds(void)
{
    int fd, n = 0;
    for (fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}
#endif

/* What the library's walker leaves (content deeper than its 64 levels), removed by path,
 * never following a link (APR_FINFO_LINK: a link is seen, and removed, as a link). */
static void remove_deep(const char *path)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, path, tu_pool) != APR_SUCCESS)
        return;
    for (;;) {
        /* the end is APR_ENOENT on POSIX, ERROR_NO_MORE_FILES on Windows */
        apr_status_t rv = apr_dir_read(&fi, APR_FINFO_LINK | APR_FINFO_TYPE | APR_FINFO_NAME, d);
        const char *p;
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            break;
        if (!fi.name || !strcmp(fi.name, ".") || !strcmp(fi.name, ".."))
            continue;
        p = apr_pstrcat(tu_pool, path, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR) {
            remove_deep(p);
            apr_dir_remove(p, tu_pool);
        } else {
            apr_file_remove(p, tu_pool);
        }
    }
    apr_dir_close(d);
}

void tu_remove_tree(const char *path)
{
    spill__fd fd;
    spill__tree_stats st;
    memset(&st, 0, sizeof st);
    if (spill__sys_default.open_dir(SPILL__NOFD, path, 0, &fd) != SPILL_OK) {
        apr_file_remove(path, tu_pool);
        return;
    }
    if (spill__tree_empty(fd, NULL, &st) != SPILL_OK)
        remove_deep(path);
    spill__sys_default.close(fd);
    spill__sys_default.unlink(SPILL__NOFD, path, 1, NULL);
}

void tu_addr(uint8_t addr[SPILL_ADDR_LEN], unsigned seed)
{
    unsigned i, x = seed * 2654435761u + 12345u;
    for (i = 0; i < SPILL_ADDR_LEN; i++) {
        x = x * 1103515245u + 12345u;
        addr[i] = (uint8_t)(x >> 16);
    }
}

/* Files are read through the library's own seam, never apr_file_open: with fcntl locks a test
 * that merely read the .lock of a spill its own process holds would drop that lock on close
 * (the seam's close parks such a descriptor instead). */
static int read_all(const char *path, char **out, size_t *len)
{
    spill__fd fd;
    spill__stat st;
    size_t got = 0, n;
    char *buf;
    if (spill__sys_default.open_file(SPILL__NOFD, path, SPILL__OPEN_READ, &fd) != SPILL_OK)
        return -1;
    if (spill__sys_default.stat(fd, NULL, &st) != SPILL_OK) {
        spill__sys_default.close(fd);
        return -1;
    }
    buf = apr_palloc(tu_pool, (apr_size_t)st.size + 1);
    while (got < st.size &&
           spill__sys_default.read(fd, buf + got, (size_t)st.size - got, &n) == SPILL_OK && n > 0)
        got += n;
    spill__sys_default.close(fd);
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return 0;
}

static uint64_t fnv_file(const char *path)
{
    char *buf;
    size_t i, n;
    uint64_t h = 1469598103934665603ULL;
    if (read_all(path, &buf, &n) != 0)
        return 0;
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
    return h;
}

static void snap(const char *dir, const char *rel, char **acc)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, dir, tu_pool) != APR_SUCCESS)
        return;
    for (;;) {
        const char *p, *r;
        /* the end is APR_ENOENT on POSIX but ERROR_NO_MORE_FILES on Windows; APR_INCOMPLETE:
         * Windows cannot give every field of "." and ".." */
        apr_status_t rv = apr_dir_read(&fi, APR_FINFO_LINK | APR_FINFO_TYPE | APR_FINFO_SIZE |
                                                APR_FINFO_NAME | APR_FINFO_PROT,
                                       d);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            break;
        if (strcmp(fi.name, ".") == 0 || strcmp(fi.name, "..") == 0)
            continue;
        p = apr_pstrcat(tu_pool, dir, "/", fi.name, NULL);
        r = apr_pstrcat(tu_pool, rel, "/", fi.name, NULL);
        if (fi.filetype == APR_DIR) {
            *acc = apr_psprintf(tu_pool, "%s%s/ %x\n", *acc, r, (unsigned)fi.protection);
            snap(p, r, acc);
        } else if (fi.filetype == APR_REG) {
            *acc = apr_psprintf(tu_pool, "%s%s %ld %" APR_UINT64_T_HEX_FMT "\n", *acc, r, (long)fi.size,
                                (apr_uint64_t)fnv_file(p));
        } else {
            char target[1024] = "";
#ifndef _WIN32
            ssize_t n = readlink(p, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
#endif
            *acc = apr_psprintf(tu_pool, "%s%s type%d ->%s\n", *acc, r, (int)fi.filetype,
                                target);
        }
    }
    apr_dir_close(d);
}

const char *tu_snapshot(const char *dir)
{
    char *acc = apr_pstrdup(tu_pool, "");
    snap(dir, "", &acc);
    return acc;
}

int tu_spawn(tu_proc *p, const char *name, const char *const *args)
{
    apr_procattr_t *attr;
    const char *argv[32];
    apr_status_t rv;
    int n = 0, attempt;
    memset(p, 0, sizeof *p);
    argv[n++] = tu_self;
    argv[n++] = "--helper";
    argv[n++] = name;
    while (args && *args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    /* Process creation can fail for a moment when many processes come and go (seen under
     * Wine in the kill stress): a few attempts, a short pause apart, each with fresh pipes;
     * a pause before a retry, not a synchronisation */
    for (attempt = 0;; attempt++) {
        if (apr_procattr_create(&attr, tu_pool) != APR_SUCCESS ||
            apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_FULL_BLOCK, APR_NO_PIPE) !=
                APR_SUCCESS ||
            apr_procattr_cmdtype_set(attr, APR_PROGRAM) != APR_SUCCESS)
            return -1;
        if ((rv = apr_proc_create(&p->proc, tu_self, argv, NULL, attr, tu_pool)) == APR_SUCCESS)
            break;
        if (attempt == 4) {
            char why[256];
            printf("\n  cannot start helper %s: %s\n", name, apr_strerror(rv, why, sizeof why));
            return -1;
        }
        apr_sleep(apr_time_from_msec(100));
    }
    p->out = p->proc.out;
    p->in = p->proc.in;
    return 0;
}

const char *tu_read_line(tu_proc *p)
{
    char buf[8192];
    size_t n;
    if (apr_file_gets(buf, sizeof buf, p->out) != APR_SUCCESS)
        return NULL;
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return apr_pstrdup(tu_pool, buf);
}

static int exit_code(int code, apr_exit_why_e why)
{
    return why == APR_PROC_EXIT ? code : -code;
}

void tu_kill(tu_proc *p)
{
    int code;
    apr_exit_why_e why;
    apr_proc_kill(&p->proc, SIGKILL); /* TerminateProcess on Windows */
    apr_proc_wait(&p->proc, &code, &why, APR_WAIT);
    apr_file_close(p->in);
    apr_file_close(p->out);
}

int tu_wait(tu_proc *p)
{
    int code;
    apr_exit_why_e why;
    apr_file_close(p->in);
    apr_proc_wait(&p->proc, &code, &why, APR_WAIT);
    apr_file_close(p->out);
    return exit_code(code, why);
}

int tu_wait_unlocked(const char *dir)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(10);
    for (;;) {
        spill__fd d, lk;
        int rc = spill__sys.open_dir(SPILL__NOFD, dir, 0, &d);
        if (rc == SPILL_OK) {
            rc = spill__sys.lock_probe(d, SPILL__LOCK_NAME, SPILL__PROBE_LOCK, &lk);
            if (rc == SPILL_OK)
                spill__sys.unlock(lk);
            spill__sys.close(d);
        }
        if (rc != SPILL_EBUSY)
            return rc == SPILL_OK;
        if (apr_time_now() > deadline)
            return 0;
        apr_sleep(apr_time_from_msec(5)); /* a bounded retry of the OS's own cleanup */
    }
}

int tu_is_wine(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
    return 0;
#endif
}

int tu_slow(void)
{
    const char *f = getenv("SPILL_TEST_SLOW");
    int n = f ? atoi(f) : 1;
    return n > 1 ? n : 1;
}

const char *tu_emulated(void)
{
    const char *e = getenv("SPILL_TEST_EMULATED");
    return e && *e ? e : NULL;
}

const char *tu_base_name(const char *path)
{
    const char *p = strrchr(path, '/');
#ifdef _WIN32
    const char *b = strrchr(path, '\\');
    if (b && (!p || b > p))
        p = b;
#endif
    return p ? p + 1 : path;
}

int tu_has_prefix(const char *path, const char *dir)
{
#ifdef _WIN32
    for (; *dir; path++, dir++) {
        char a = *path == '/' ? '\\' : *path, b = *dir == '/' ? '\\' : *dir;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
#else
    return strncmp(path, dir, strlen(dir)) == 0;
#endif
}

const char *tu_run_helper(const char *name, const char *const *args)
{
    tu_proc p;
    const char *line;
    if (tu_spawn(&p, name, args) != 0)
        return "";
    line = tu_read_line(&p);
    tu_wait(&p);
    return line ? line : "";
}

void tu_cleanup(void)
{
    apr_pool_t *p;
    if (!base_dir)
        return;
    apr_pool_create(&p, NULL);
    tu_pool = p;
    tu_remove_tree(base_dir);
    apr_pool_destroy(p);
    tu_pool = NULL;
}

char *tu_read_file(const char *path, size_t *len)
{
    char *buf;
    return read_all(path, &buf, len) == 0 ? buf : NULL;
}

const char *tu_make_spill_dir(const char *root, uint64_t secs, uint64_t rnd, int files,
                              const char *lock_content)
{
    const char *d = apr_psprintf(tu_pool, "%s/spill_%" APR_UINT64_T_FMT "_%" APR_UINT64_T_FMT, root,
                                 (apr_uint64_t)secs, (apr_uint64_t)rnd);
    int i;
    CU_ASSERT_FATAL(apr_dir_make(d, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                 tu_pool) == APR_SUCCESS);
    for (i = 0; i < files; i++)
        CU_ASSERT_FATAL(tu_write_file(apr_psprintf(tu_pool, "%s/chunk%03d", d, i),
                                      "0123456789") == 0);
    if (lock_content)
        CU_ASSERT_FATAL(tu_write_file(tu_join(d, ".lock"), lock_content) == 0);
    return d;
}

const char *tu_trash(const char *root)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    const char *found = NULL;
    int n = 0;
    if (apr_dir_open(&d, root, tu_pool) != APR_SUCCESS)
        return NULL;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strncmp(fi.name, SPILL__TRASH_PREFIX, strlen(SPILL__TRASH_PREFIX)) == 0 && !n++)
            found = tu_join(root, fi.name);
    apr_dir_close(d);
    CU_ASSERT(n <= 1);
    return found;
}

const char *tu_left_as_trash(const char *root, const char *was)
{
    const char *t;
    if (!spill__platform_stages())
        return was;
    CU_ASSERT(!tu_exists(was));
    t = tu_trash(root);
    CU_ASSERT_FATAL(t != NULL);
    return t;
}

static int local_kind(spill__fd fd, int *kind)
{
    (void)fd;
    *kind = SPILL__FS_LOCAL;
    return SPILL_OK;
}

void tu_pin_local(int on)
{
    spill__sys.fs_kind = on ? local_kind : spill__sys_default.fs_kind;
}

const char *tu_record(uint64_t nonce)
{
    char host[256];
    spill__hostname(host, sizeof host);
    return apr_psprintf(tu_pool, "spill-owner 1 nonce=%" APR_UINT64_T_FMT " pid=999999 host=%s started=1 tag=t\n",
                        (apr_uint64_t)nonce, host);
}

#ifdef _WIN32
/* APR opens without FILE_FLAG_BACKUP_SEMANTICS, so it cannot set a directory's time. */
void tu_set_mtime(const char *path, int64_t unix_secs)
{
    wchar_t w[4096];
    ULONGLONG t = (ULONGLONG)(unix_secs * 10000000LL + 116444736000000000LL);
    FILETIME ft;
    HANDLE h = INVALID_HANDLE_VALUE;
    ft.dwLowDateTime = (DWORD)t;
    ft.dwHighDateTime = (DWORD)(t >> 32);
    if (MultiByteToWideChar(CP_UTF8, 0, path, -1, w, 4096) > 0)
        h = CreateFileW(w, FILE_WRITE_ATTRIBUTES,
                        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                        OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
                        NULL);
    CU_ASSERT(h != INVALID_HANDLE_VALUE && SetFileTime(h, NULL, NULL, &ft));
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
}
#else
void tu_set_mtime(const char *path, int64_t unix_secs)
{
    CU_ASSERT(apr_file_mtime_set(path, apr_time_from_sec(unix_secs), tu_pool) == APR_SUCCESS);
}
#endif

spill_reap_stats tu_reap(const char *root, uint32_t grace)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = grace;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
    return st;
}

/* CUnit registration: each suite (all, or those named on the command line) gets a fresh
 * tu_pool per test. */
static int wanted(const char *name, int argc, char **argv)
{
    int i;
    if (argc < 2)
        return 1;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static void setup(void)
{
    apr_pool_create(&tu_pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(tu_pool);
    tu_pool = NULL;
}

int tu_register_suites(test_suite *const *suites, int argc, char **argv)
{
    test_suite *const *s;
    CU_TestInfo *t;
    int n = 0;
    for (s = suites; *s; s++) {
        CU_pSuite cs;
        if (!wanted((*s)->name, argc, argv))
            continue;
        cs = CU_add_suite_with_setup_and_teardown((*s)->name, NULL, NULL, setup, teardown);
        for (t = (*s)->tests; t->pName; t++)
            CU_add_test(cs, t->pName, t->pTestFunc);
        n++;
    }
    return n;
}
