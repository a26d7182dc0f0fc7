/* test_lock.c: the spill's lock and owner record, seen from other processes and on disk. */
#include <string.h>
#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <apr_file_io.h>
#include <apr_strings.h>

#ifndef _WIN32
#include <unistd.h>

#include "posix/posix.h"
#endif
#include "testutil.h"

static const char *probe(const char *dir)
{
    const char *args[] = {dir, NULL};
    return tu_run_helper("probe", args);
}

static void test_lock_held_while_open(void)
{
    const char *root = tu_fresh_dir("lock");
    spill_t *s;
    const char *path;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT_STRING_EQUAL(probe(path), "busy");
    /* a probe in the owner's own process must not take (or drop) the lock either */
    {
        spill__fd dir, lk;
        CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, path, 0, &dir) == SPILL_OK);
        CU_ASSERT(spill__sys.lock_probe(dir, SPILL__LOCK_NAME, SPILL__PROBE_LOCK, &lk) ==
                  SPILL_EBUSY);
        spill__sys.close(dir);
    }
    CU_ASSERT_STRING_EQUAL(probe(path), "busy");
    spill_close(s);
    CU_ASSERT(!tu_exists(path));
}

static void test_lock_free_after_owner_exits(void)
{
    const char *root = tu_fresh_dir("lock");
    const char *args[] = {root, "2", NULL};
    const char *path;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "hold", args) == 0);
    path = tu_read_line(&p);
    CU_ASSERT_FATAL(path != NULL && tu_has_prefix(path, root));
    CU_ASSERT_STRING_EQUAL(probe(path), "busy");
    tu_kill(&p);
    /* the killed owner's directory is still there, and its lock is now free */
    CU_ASSERT(tu_exists(path));
    CU_ASSERT(tu_wait_unlocked(path));
    CU_ASSERT_STRING_EQUAL(probe(path), "free");
}

static void test_graceful_exit_removes(void)
{
    const char *root = tu_fresh_dir("lock");
    const char *args[] = {root, "3", NULL};
    const char *path;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "hold", args) == 0);
    path = tu_read_line(&p);
    CU_ASSERT_FATAL(path != NULL);
    CU_ASSERT(tu_count_entries(path) == 4);
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT(tu_count_entries(root) == 0);
}

#ifndef _WIN32 /* Windows: the directory inherits the root's ACL */
static void test_modes(void)
{
    const char *root = tu_join(tu_fresh_dir("modes"), "a/b/root");
    spill_t *s;
    struct stat st;
    uint8_t a[SPILL_ADDR_LEN];
    char hex[SPILL__HEX_LEN + 1];
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    CU_ASSERT(stat(root, &st) == 0 && (st.st_mode & 0777) == 0700);
    CU_ASSERT(stat(spill_path(s), &st) == 0 && (st.st_mode & 0777) == 0700);
    CU_ASSERT(stat(tu_join(spill_path(s), ".lock"), &st) == 0 && (st.st_mode & 0777) == 0600);
    CU_ASSERT(S_ISREG(st.st_mode) && st.st_nlink == 1);
    tu_addr(a, 5);
    spill__hex(a, hex);
    CU_ASSERT(spill_put(s, a, "x", 1) == SPILL_OK);
    CU_ASSERT(stat(tu_join(spill_path(s), hex), &st) == 0 && (st.st_mode & 0777) == 0600);
    spill_close(s);
}
#endif

static void test_owner_record(void)
{
    const char *root = tu_fresh_dir("record");
    spill_t *s;
    spill_opts o;
    spill__record r;
    char *buf;
    size_t n;
    uint64_t secs, rnd;
    int staging;
    const char *name;
    spill_opts_init(&o);
    o.tag = "upload of a b.txt %";
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    name = tu_base_name(spill_path(s));
    CU_ASSERT(spill__parse_name(name, &staging, &secs, &rnd) && !staging);
    CU_ASSERT_FATAL((buf = tu_read_file(tu_join(spill_path(s), ".lock"), &n)) != NULL);
    CU_ASSERT(n < 4096 && buf[n - 1] == '\n' && strchr(buf, '\n') == buf + n - 1);
    CU_ASSERT(strncmp(buf, "spill-owner 1 nonce=", 20) == 0);
    CU_ASSERT_FATAL(spill__record_parse(buf, n, &r) == 1);
    CU_ASSERT(r.pid == spill__getpid());
    CU_ASSERT(r.nonce == rnd);
    CU_ASSERT((uint64_t)r.started == secs);
    CU_ASSERT_STRING_EQUAL(r.tag, "upload of a b.txt %");
    CU_ASSERT(strstr(buf, "tag=upload%20of%20a%20b.txt%20%25\n") != NULL);
    spill_close(s);
}

static void test_record_parse_strict(void)
{
    spill__record r;
    const char *good = "spill-owner 1 nonce=5 pid=42 host=h started=7 tag=\n";
    CU_ASSERT(spill__record_parse(good, strlen(good), &r) == 1 && r.pid == 42);
    CU_ASSERT(spill__record_parse("", 0, &r) == 0);
    CU_ASSERT(spill__record_parse("spill-owner 2 nonce=5 pid=42 host=h started=7 tag=", 51, &r) ==
              0);
    CU_ASSERT(spill__record_parse("spill-owner 1 nonce=x pid=42 host=h started=7 tag=", 51, &r) ==
              0);
    CU_ASSERT(spill__record_parse("spill-owner 1 nonce=5 pid=42 host=h started=7", 45, &r) == 0);
    CU_ASSERT(spill__record_parse(good, 20, &r) == 0);
}

#ifndef _WIN32
/* "dir/file" read one directory down, as a reservation's first look reads each spill's lease:
 * with openat2 and without it, the file is read, and neither a link in place of the directory
 * nor one in place of the file is followed. */
static void read_below(const char *root, int no_openat2)
{
    spill__fd at, fd;
    char buf[16];
    size_t n = 0;
    spill__posix_knobs.no_openat2 = no_openat2;
    CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, root, 0, &at) == SPILL_OK);
    CU_ASSERT(spill__sys.lock_probe(at, "real/f", SPILL__PROBE_READ, &fd) == SPILL_OK &&
              spill__sys.read(fd, buf, sizeof buf, &n) == SPILL_OK && n == 4 &&
              memcmp(buf, "data", 4) == 0 && spill__sys.close(fd) == SPILL_OK);
    CU_ASSERT(spill__sys.lock_probe(at, "link/f", SPILL__PROBE_READ, &fd) == SPILL_EUNSAFE);
    CU_ASSERT(spill__sys.lock_probe(at, "real/flink", SPILL__PROBE_READ, &fd) == SPILL_EUNSAFE);
    CU_ASSERT(spill__sys.lock_probe(at, "real/none", SPILL__PROBE_READ, &fd) == SPILL_ENOTFOUND);
    spill__sys.close(at);
    spill__posix_knobs.no_openat2 = 0;
}

static void test_read_below(void)
{
    const char *root = tu_fresh_dir("below");
    CU_ASSERT_FATAL(mkdir(tu_join(root, "real"), 0700) == 0 &&
                    tu_write_file(tu_join(root, "real/f"), "data") == 0 &&
                    symlink("real", tu_join(root, "link")) == 0 &&
                    symlink("f", tu_join(root, "real/flink")) == 0);
    read_below(root, 0);
    read_below(root, 1);
}
#endif

static CU_TestInfo tests[] = {
    {"lock held while open, also against the same process", test_lock_held_while_open},
    {"lock free once the owner is killed", test_lock_free_after_owner_exits},
    {"graceful exit removes the directory", test_graceful_exit_removes},
#ifndef _WIN32
    {"modes 0700 and 0600", test_modes},
    {"a file read one directory down follows no link", test_read_below},
#endif
    {"owner record", test_owner_record},
    {"record parsing is strict", test_record_parse_strict},
    CU_TEST_INFO_NULL,
};

test_suite suite_lock = {"lock", tests};
