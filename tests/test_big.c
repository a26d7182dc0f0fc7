/* test_big.c: what a 32-bit build must keep: spill_total_bytes, the sizes `spill ls` shows and
 * the reaper's bytes_freed past 4 GiB (5 GiB of sparse chunks, every leg), a chunk of real bytes
 * past 2 GiB (a tmpfs, SPILL_TEST_BIG=1 and room: the flock and i386 legs), times past 2038. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#define TMPFS_MAGIC_ 0x01021994
#endif

#include <apr_strings.h>

#include "testutil.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
/* past 2^31: more than one write(2) on Linux (MAX_RW_COUNT), and past SSIZE_MAX on 32-bit */
#define BIG_CHUNK (2 * GIB + 16 * MIB)
#define RUN_PREFIX "spill-test-big-"

/* The chunks' bytes: 32-bit words that differ with their offset, so that a chunk written from
 * the wrong place, or cut short, reads back wrong. */
static uint32_t word_at(uint64_t k)
{
    return (uint32_t)(k * 2654435761u) ^ (uint32_t)(k >> 29) ^ 0x5a5a0000u;
}

static void fill(uint32_t *w, size_t n, uint64_t first)
{
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = word_at(first + i);
}

static int check(const uint32_t *w, size_t n, uint64_t first)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (w[i] != word_at(first + i))
            return 0;
    return 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)f;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static apr_status_t rm_tree_cleanup(void *path)
{
    rm_tree(path);
    return APR_SUCCESS;
}

/* The directory holding the runs: a tmpfs, as the test writes real bytes. */
static const char *big_parent(void)
{
    const char *d = getenv("SPILL_TEST_BIG_DIR");
    return d && *d ? d : "/dev/shm";
}

/* Removes what earlier runs, killed before their cleanup, left: RUN_PREFIX<pid> of dead pids. */
static void sweep_dead_runs(const char *parent)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, parent, tu_pool) != APR_SUCCESS)
        return;
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        long pid;
        char *end;
        if (strncmp(fi.name, RUN_PREFIX, strlen(RUN_PREFIX)) != 0)
            continue;
        pid = strtol(fi.name + strlen(RUN_PREFIX), &end, 10);
        if (*end == '\0' && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
            rm_tree(tu_join(parent, fi.name));
    }
    apr_dir_close(d);
}

/* Memory the kernel could give now (MemAvailable), or UINT64_MAX when it does not say. */
static uint64_t mem_available(void)
{
    unsigned long long kib;
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    uint64_t v = UINT64_MAX;
    if (!f)
        return v;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
            v = (uint64_t)kib * 1024;
    fclose(f);
    return v;
}

static int in_memory(const char *dir)
{
#ifdef __linux__
    struct statfs sf;
    return statfs(dir, &sf) == 0 && (unsigned long)sf.f_type == TMPFS_MAGIC_;
#else
    (void)dir;
    return 0;
#endif
}

/* A fresh root for `bytes` of chunks, removed after the test whatever happens (a pool cleanup
 * runs after a fatal assertion too); NULL and *why when the test cannot run here. */
static const char *big_root(const char *what, uint64_t bytes, const char **why)
{
    const char *parent = big_parent(), *run, *root;
    uint64_t avail, mem = 0;
    const char *on = getenv("SPILL_TEST_BIG");
    *why = NULL;
    if (!on || strcmp(on, "1") != 0) {
        *why = "writes 2 GiB to a tmpfs; set SPILL_TEST_BIG=1 (ci/test.sh does in the flock "
               "and i386 legs)";
        return NULL;
    }
    sweep_dead_runs(parent);
    run = apr_psprintf(tu_pool, "%s/" RUN_PREFIX "%ld", parent, (long)getpid());
    root = tu_join(run, what);
    if (apr_dir_make_recursive(root, APR_FPROT_OS_DEFAULT, tu_pool) != APR_SUCCESS) {
        *why = apr_psprintf(tu_pool, "cannot make %s", root);
        return NULL;
    }
    apr_pool_cleanup_register(tu_pool, run, rm_tree_cleanup, apr_pool_cleanup_null);
    if (spill_check_space(root, bytes + 256 * MIB) != SPILL_OK) {
        *why = apr_psprintf(tu_pool, "not room for %u MiB: %s", (unsigned)(bytes / MIB),
                            spill_error_last()->message);
        return NULL;
    }
    if (in_memory(root))
        mem += bytes;
    avail = mem_available();
    if (avail < mem + GIB) {
        *why = apr_psprintf(tu_pool, "%u MiB of memory available, %u MiB needed",
                            (unsigned)(avail / MIB), (unsigned)((mem + GIB) / MIB));
        return NULL;
    }
    return root;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The big chunk's checked pieces: its start, the second chunk's bytes, around where Linux's
 * first write(2) stops (MAX_RW_COUNT, 2 GiB - 4 KiB) and its end. The rest of the buffer is
 * never touched (zero pages): 2 GiB written cost neither memory nor a fill in this process. */
#define PIECE (16 * MIB)
static const uint64_t pieces[] = {0, GIB, 2 * GIB - PIECE / 2, BIG_CHUNK - PIECE};
#define NPIECES (sizeof pieces / sizeof pieces[0])

/* 1 if the file is `bytes` long and holds the pattern in every piece. */
static int file_matches(const char *path, uint64_t bytes)
{
    uint32_t *buf = malloc((size_t)PIECE);
    int fd = open(path, O_RDONLY), ok = buf && fd >= 0;
    struct stat sb;
    size_t i;
    ok = ok && fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == bytes;
    for (i = 0; ok && i < NPIECES; i++)
        ok = pread(fd, buf, (size_t)PIECE, (off_t)pieces[i]) == (ssize_t)PIECE &&
             check(buf, (size_t)(PIECE / 4), pieces[i] / 4);
    if (fd >= 0)
        close(fd);
    free(buf);
    return ok;
}

static void test_chunk_past_2gib(void)
{
    const char *why, *root = big_root("put", BIG_CHUNK, &why), *dir, *file;
    uint8_t a[SPILL_ADDR_LEN], b[SPILL_ADDR_LEN];
    char hex[SPILL__HEX_LEN + 1];
    char *buf;
    spill_t *s;
    void *data;
    size_t len, i;
    if (!root)
        TU_SKIP(why);
    buf = mmap(NULL, (size_t)BIG_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
               0);
    if (buf == MAP_FAILED)
        TU_SKIP("cannot map 2064 MiB in this process");
    for (i = 0; i < NPIECES; i++)
        fill((uint32_t *)(buf + pieces[i]), (size_t)(PIECE / 4), pieces[i] / 4);
    tu_addr(a, 1);
    tu_addr(b, 2);
    if (spill_open(root, NULL, &s) != SPILL_OK) {
        munmap(buf, (size_t)BIG_CHUNK);
        CU_FAIL_FATAL("spill_open");
    }
    dir = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT(spill_put(s, a, buf, (size_t)BIG_CHUNK) == SPILL_OK);
    CU_ASSERT(spill_put(s, b, buf + GIB, (size_t)PIECE) == SPILL_OK);
    munmap(buf, (size_t)BIG_CHUNK);
    CU_ASSERT(spill_total_bytes(s) == BIG_CHUNK + PIECE);
    /* whole on disk, its bytes in their places */
    spill__hex(a, hex);
    file = tu_join(dir, hex);
    CU_ASSERT(file_matches(file, BIG_CHUNK));
    CU_ASSERT_FATAL(spill_get(s, b, &data, &len) == SPILL_OK);
    CU_ASSERT(len == PIECE && check(data, (size_t)(PIECE / 4), GIB / 4));
    spill_free(data);
    CU_ASSERT(spill_remove(s, a) == SPILL_OK);
    CU_ASSERT(spill_total_bytes(s) == PIECE);
    CU_ASSERT(!tu_exists(file));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(dir));
}

/* The write of the operations table, made sparse: the file grows by len without a byte
 * written, so that gigabytes of chunks cost neither time nor memory. */
static int sparse_write(spill__fd fd, const void *buf, size_t len, int replace)
{
    off_t end = lseek((int)fd, 0, SEEK_CUR);
    if (replace) /* an owner record: real */
        return spill__sys_default.write(fd, buf, len, replace);
    if (end < 0 || ftruncate((int)fd, end + (off_t)len) < 0 ||
        lseek((int)fd, end + (off_t)len, SEEK_SET) < 0)
        return spill__error(SPILL_EIO, "sparse write", "", "%s", strerror(errno));
    return SPILL_OK;
}

/* bighold ROOT N MIB: spills N sparse chunks of MIB MiB each (from a mapping never touched),
 * prints "PATH TOTAL" (spill_total_bytes) once all are on disk, then holds the spill until its
 * stdin closes. */
int tu_helper_bighold(int argc, const char *const *argv)
{
    size_t len, i, n;
    void *map;
    spill_t *s;
    char line[64];
    if (argc < 3)
        return 2;
    n = (size_t)strtoul(argv[1], NULL, 10);
    len = (size_t)strtoul(argv[2], NULL, 10) * (size_t)MIB;
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        printf("error cannot map %s MiB\n", argv[2]);
        return 1;
    }
    if (spill_open(argv[0], NULL, &s) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    spill__sys.write = sparse_write; /* the chunks only: the owner record is real */
    for (i = 0; i < n; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, (unsigned)i + 1);
        if (spill_put(s, a, map, len) != SPILL_OK) {
            printf("error %s\n", spill_error_last()->message);
            return 1;
        }
    }
    printf("%s %llu\n", spill_path(s), (unsigned long long)spill_total_bytes(s));
    fflush(stdout);
    while (fgets(line, sizeof line, stdin))
        ;
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* `spill ARGS...` to its end; its stdout (small) from tu_pool. */
static const char *run_cli(const char *const *args)
{
    const char *prog = getenv("SPILL_CLI"), *argv[8];
    apr_procattr_t *attr;
    apr_proc_t p;
    apr_exit_why_e why;
    char *out = apr_pstrdup(tu_pool, ""), buf[4096];
    apr_size_t n;
    int code, i;
    CU_ASSERT_FATAL(prog && *prog); /* ctest passes the program's path */
    argv[0] = prog;
    for (i = 0; args[i] && i < 6; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    CU_ASSERT_FATAL(apr_procattr_create(&attr, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE) ==
                    APR_SUCCESS);
    CU_ASSERT_FATAL(apr_procattr_cmdtype_set(attr, APR_PROGRAM_ENV) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_proc_create(&p, prog, argv, NULL, attr, tu_pool) == APR_SUCCESS);
    for (;;) {
        n = sizeof buf - 1;
        if (apr_file_read(p.out, buf, &n) != APR_SUCCESS || n == 0)
            break;
        buf[n] = '\0';
        out = apr_pstrcat(tu_pool, out, buf, NULL);
    }
    apr_file_close(p.out);
    apr_proc_wait(&p, &code, &why, APR_WAIT);
    CU_ASSERT(why == APR_PROC_EXIT && code == 0);
    return out;
}

static void test_total_ls_and_reap_past_4gib(void)
{
    const char *root = tu_fresh_dir("big-hold"), *line, *path, *out, *row;
    const char *args[] = {root, "5", "1024", NULL};
    const char *ls_json[] = {"ls", "--root", root, "--json", NULL};
    const char *ls[] = {"ls", "--root", root, NULL};
    char *sp, want[64], hex[SPILL__HEX_LEN + 1];
    uint8_t a[SPILL_ADDR_LEN];
    uint64_t lock;
    spill_reap_stats st;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "bighold", args) == 0);
    line = tu_read_line(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    CU_ASSERT_FATAL(strncmp(line, "error", 5) != 0);
    sp = strrchr(line, ' ');
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    path = apr_pstrndup(tu_pool, line, (apr_size_t)(sp - line));
    CU_ASSERT(strtoull(sp + 1, NULL, 10) == 5 * GIB); /* the holder's spill_total_bytes */
    tu_addr(a, 5);
    spill__hex(a, hex);
    CU_ASSERT(file_size(tu_join(path, hex)) == GIB);
    /* the bookkeeping beside the chunks: .lock's record and the lease's */
    lock = file_size(tu_join(path, SPILL__LOCK_NAME)) + file_size(tu_join(path, ".spill-lease"));
    /* ls: the exact bytes in JSON (.lock and the lease included), and 5.0 GiB in the table */
    out = run_cli(ls_json);
    snprintf(want, sizeof want, "\"bytes\":%llu,", (unsigned long long)(5 * GIB + lock));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"files\":7,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"state\":\"live\""));
    out = run_cli(ls);
    row = strstr(out, tu_base_name(path));
    CU_ASSERT_PTR_NOT_NULL(row);
    CU_ASSERT_PTR_NOT_NULL(row ? strstr(row, " 5.0 GiB ") : NULL);
    /* killed: an orphan of 5 GiB, whose reap frees every byte of it */
    tu_kill(&p);
    CU_ASSERT(tu_wait_unlocked(path));
    st = tu_reap(root, 30);
    CU_ASSERT_EQUAL(st.reaped, 1);
    CU_ASSERT(st.bytes_freed == 5 * GIB + lock);
    CU_ASSERT(st.files_removed == 7);
    CU_ASSERT(!tu_exists(path));
}

/* A time past 2038 (2^31 s), which a 32-bit time_t wraps to 1901: a lockless spill directory
 * named and dated then, under a grace that reaches past it (so that rule 5 trusts the time), is
 * young (its age negative), not an orphan of 137 years reaped at once. */
static void test_mtime_past_2038(void)
{
    const char *root = tu_fresh_dir("big-2038"), *d;
    int64_t when = ((int64_t)1 << 31) + 86400;
    struct timespec ts[2];
    struct stat sb;
    spill_reap_stats st;
    if (sizeof(time_t) < 8) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
        CU_FAIL("time_t is 32 bits: the build must define _TIME_BITS=64");
#endif
        TU_SKIP("time_t is 32 bits here: no file can be dated past 2038");
    }
    d = tu_make_spill_dir(root, (uint64_t)when, 7, 1, NULL); /* its name dates it then too */
    ts[0].tv_sec = ts[1].tv_sec = (time_t)when;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    CU_ASSERT_FATAL(utimensat(AT_FDCWD, d, ts, AT_SYMLINK_NOFOLLOW) == 0);
    st = tu_reap(root, (uint32_t)(when - spill__now()) + 86400);
    CU_ASSERT_EQUAL(st.young, 1);
    CU_ASSERT_EQUAL(st.reaped, 0);
    /* lstat, not tu_exists: Debian 12's i386 APR has a 32-bit time_t and fails (EOVERFLOW) */
    CU_ASSERT(lstat(d, &sb) == 0 && (int64_t)sb.st_mtime == when);
}

static CU_TestInfo tests[] = {
    {"spill_total_bytes, spill ls and bytes_freed past 4 GiB", test_total_ls_and_reap_past_4gib},
    {"a chunk of real bytes past 2 GiB", test_chunk_past_2gib},
    {"a directory dated past 2038 is young", test_mtime_past_2038},
    CU_TEST_INFO_NULL,
};

test_suite suite_big = {"big", tests};
