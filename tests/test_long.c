/* test_long.c: long and deep trees inside spills (rules 2 and 12): paths past PATH_MAX
 * are removed through directory descriptors, nesting past 64 levels is reported and left, and a
 * low descriptor limit makes an error, never a crash or a leak. POSIX. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "testutil.h"

#define LONG_LEVELS 30
#define LONG_NAME 200 /* 30 levels of 200 bytes: over 6000, past PATH_MAX (4096) */

/* Makes `levels` nested directories under dir, relative to descriptors (a plain path would be
 * too long), each named `name`, and in the deepest a file `leaf` and a link to `link_to`
 * (if given). Returns 0 on success. */
static int make_chain(const char *dir, const char *name, int levels, const char *leaf,
                      const char *link_to)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next, i, rc = 0;
    for (i = 0; fd >= 0 && i < levels; i++) {
        next = mkdirat(fd, name, 0700) == 0
                   ? openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                   : -1;
        close(fd);
        fd = next;
    }
    if (fd < 0)
        return -1;
    if (leaf) {
        int f = openat(fd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        rc = f < 0 || write(f, "deep", 4) != 4 ? -1 : 0;
        if (f >= 0)
            close(f);
    }
    if (rc == 0 && link_to && symlinkat(link_to, fd, "link") < 0)
        rc = -1;
    close(fd);
    return rc;
}

/* 1 if the chain's leaf is still there, found through descriptors. */
static int chain_leaf_exists(const char *dir, const char *name, int levels, const char *leaf)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next, i, found;
    struct stat st;
    for (i = 0; fd >= 0 && i < levels; i++) {
        next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    if (fd < 0)
        return 0;
    found = fstatat(fd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
    close(fd);
    return found;
}

static char *long_name(void)
{
    char *n = apr_palloc(tu_pool, LONG_NAME + 1);
    memset(n, 'n', LONG_NAME);
    n[LONG_NAME] = '\0';
    return n;
}

/* The path of the chain's leaf, which the test shows no plain path call can reach. */
static void check_past_path_max(const char *dir, const char *name)
{
    char *p = apr_pstrdup(tu_pool, dir);
    int i;
    for (i = 0; i < LONG_LEVELS; i++)
        p = apr_pstrcat(tu_pool, p, "/", name, NULL);
    p = apr_pstrcat(tu_pool, p, "/leaf", NULL);
    CU_ASSERT_FATAL(strlen(p) > PATH_MAX);
    CU_ASSERT(open(p, O_RDONLY) < 0 && errno == ENAMETOOLONG);
}

static const char *victim_dir(const char **snapshot)
{
    const char *v = tu_fresh_dir("victim");
    CU_ASSERT_FATAL(tu_write_file(tu_join(v, "precious"), "do not delete") == 0);
    *snapshot = tu_snapshot(v);
    return v;
}

static void test_past_path_max_in_orphan_removed(void)
{
    const char *root = tu_fresh_dir("long"), *before, *victim = victim_dir(&before);
    const char *d = tu_make_spill_dir(root, 1000000000, 1, 1, tu_record(1)), *name = long_name();
    spill_reap_stats st;
    CU_ASSERT_FATAL(make_chain(d, name, LONG_LEVELS, "leaf", victim) == 0);
    check_past_path_max(d, name);
    st = tu_reap(root, 0);
    CU_ASSERT(st.scanned == 1 && st.reaped == 1 && st.errors == 0);
    CU_ASSERT_EQUAL(st.files_removed, 4); /* chunk, leaf, link, .lock */
    CU_ASSERT(!tu_exists(d));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(victim), before);
}

static void test_past_path_max_in_closed_spill_removed(void)
{
    const char *root = tu_fresh_dir("long-close"), *before, *victim = victim_dir(&before);
    const char *path, *name = long_name();
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT_FATAL(make_chain(path, name, LONG_LEVELS, "leaf", victim) == 0);
    check_past_path_max(path, name);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(victim), before);
}

/* 70 levels: the walker removes what it may and leaves the orphan, its lock and its record. */
static void test_past_64_levels_reported_and_left(void)
{
    const char *root = tu_fresh_dir("deep"), *lock_before, *lock_after;
    const char *d = tu_make_spill_dir(root, 1000000000, 1, 1, tu_record(1));
    spill_reap_stats st;
    lock_before = tu_read_file(tu_join(d, ".lock"), NULL);
    CU_ASSERT_FATAL(make_chain(d, "d", 70, "leaf", NULL) == 0);
    st = tu_reap(root, 0);
    CU_ASSERT(st.scanned == 1 && st.reaped == 0 && st.errors == 1);
    d = tu_left_as_trash(root, d); /* with its .lock and record: rule 1 takes it next time */
    CU_ASSERT(!tu_exists(tu_join(d, "chunk000"))); /* what it could reach went */
    CU_ASSERT(chain_leaf_exists(d, "d", 70, "leaf"));
    lock_after = tu_read_file(tu_join(d, ".lock"), NULL);
    CU_ASSERT_FATAL(lock_after != NULL);
    CU_ASSERT_STRING_EQUAL(lock_after, lock_before);
    st = tu_reap(root, 0); /* and again: the same, no crash */
    CU_ASSERT(st.scanned == 1 && st.errors == 1);
}

/* reaplimit ROOT NOFILE [THREADS]: spill_reap (grace 0, THREADS workers, default 1) with
 * RLIMIT_NOFILE lowered to NOFILE; prints its result, its counts and how many descriptors it
 * left open. */
int tu_helper_reaplimit(int argc, const char *const *argv)
{
    struct rlimit rl;
    spill_opts o;
    spill_reap_stats st;
    int before, rc;
    if (argc < 2)
        return 2;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
    tu_scan_once(argv[0]);
    before = tu_open_fds();
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)atoi(argv[1]);
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 3;
    memset(&st, 0, sizeof st);
    rc = spill_reap(argv[0], &o, &st);
    printf("rc=%d reaped=%u errors=%u leaked=%d\n", rc, st.reaped, st.errors,
           tu_open_fds() - before);
    return 0;
}

static const char *reap_limited_threads(const char *root, int nofile, int threads)
{
    const char *args[] = {root, apr_itoa(tu_pool, nofile), apr_itoa(tu_pool, threads), NULL};
    return tu_run_helper("reaplimit", args);
}

static const char *reap_limited(const char *root, int nofile)
{
    return reap_limited_threads(root, nofile, 1);
}

/* The walker holds two descriptors per level (a directory and its listing): depth 64 needs
 * about 2 x 64 + a few, which a limit of 64 cannot give. There the reap reports an error and
 * leaves the orphan whole, with no crash and nothing leaked; with room it removes it. */
static void test_depth_64_under_a_low_descriptor_limit(void)
{
    const char *root = tu_fresh_dir("nofile");
    const char *d = tu_make_spill_dir(root, 1000000000, 1, 0, tu_record(1));
    CU_ASSERT_FATAL(make_chain(d, "d", SPILL__MAX_DEPTH - 1, "leaf", NULL) == 0); /* leaf: 64 */
    CU_ASSERT_STRING_EQUAL(reap_limited(root, 64), "rc=0 reaped=0 errors=1 leaked=0");
    d = tu_left_as_trash(root, d);
    CU_ASSERT(chain_leaf_exists(d, "d", SPILL__MAX_DEPTH - 1, "leaf"));
    CU_ASSERT(tu_exists(tu_join(d, ".lock")));
    CU_ASSERT_STRING_EQUAL(reap_limited(root, 2 * SPILL__MAX_DEPTH + 16),
                           "rc=0 reaped=1 errors=0 leaked=0");
    CU_ASSERT(!tu_exists(d));
}

/* Past the depth limit under the low limit too: an error, no crash, nothing leaked. */
static void test_past_64_levels_under_a_low_descriptor_limit(void)
{
    const char *root = tu_fresh_dir("nofile-deep");
    const char *d = tu_make_spill_dir(root, 1000000000, 1, 0, tu_record(1));
    CU_ASSERT_FATAL(make_chain(d, "d", 70, "leaf", NULL) == 0);
    CU_ASSERT_STRING_EQUAL(reap_limited(root, 64), "rc=0 reaped=0 errors=1 leaked=0");
    CU_ASSERT_STRING_EQUAL(reap_limited(root, 2 * SPILL__MAX_DEPTH + 16),
                           "rc=0 reaped=0 errors=1 leaked=0");
    d = tu_left_as_trash(root, d);
    CU_ASSERT(chain_leaf_exists(d, "d", 70, "leaf"));
}

/* Four workers under RLIMIT_NOFILE 16: they share what there is (the pool holds fewer orphans,
 * a worker waits for a sibling's descriptors, an orphan no worker could finish goes back to the
 * reaping thread) instead of counting errors. */
static void test_workers_under_a_low_descriptor_limit(void)
{
    const char *root = tu_fresh_dir("nofile-workers");
    int i;
    for (i = 1; i <= 200; i++)
        tu_make_spill_dir(root, 1000000000, (uint64_t)i, 3, tu_record((uint64_t)i));
    CU_ASSERT_STRING_EQUAL(reap_limited_threads(root, 16, 4), "rc=0 reaped=200 errors=0 leaked=0");
    CU_ASSERT(tu_count_entries(root) == 0);
}

static CU_TestInfo tests[] = {
    {"names past PATH_MAX inside an orphan are removed", test_past_path_max_in_orphan_removed},
    {"names past PATH_MAX inside a spill are removed on close",
     test_past_path_max_in_closed_spill_removed},
    {"nesting past 64 levels is reported and left", test_past_64_levels_reported_and_left},
    {"depth 64 under RLIMIT_NOFILE 64: an error, no crash, no leak",
     test_depth_64_under_a_low_descriptor_limit},
    {"depth 70 under RLIMIT_NOFILE 64: an error, no crash, no leak",
     test_past_64_levels_under_a_low_descriptor_limit},
    {"four workers under RLIMIT_NOFILE 16: every orphan reaped, no error",
     test_workers_under_a_low_descriptor_limit},
    CU_TEST_INFO_NULL,
};

test_suite suite_long = {"long", tests};
