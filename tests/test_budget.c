/* test_budget.c: rule 10, reap_budget_ms bounds a reap inside one huge orphan as well as between
 * entries (the walker checks a monotonic clock at every entry); an orphan cut short keeps .lock
 * and is finished by later reaps; a budgeted reap starts at a rotating place, so that a front of
 * entries that fail every time cannot starve the orphans behind them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include <apr_file_info.h>
#include <apr_strings.h>

#include "testutil.h"

/* 100,000 files; 2,000 on Windows (file creation under Wine is slow) and 10,000 under
 * valgrind: still far beyond the budget */
static int huge_files(void)
{
#ifdef _WIN32
    return 2000;
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload") ? 10000 : 100000;
#endif
}
#ifdef _WIN32
/* under Wine opening the root and judging alone take about 100 ms */
#define BUDGET_MS 500
#define BOUND_MS 5000
#else
#define BUDGET_MS 50
#define BOUND_MS 1500 /* "a small multiple of the budget": one entry's removal past it, plus a
                         loaded 2-core host; the reap without the check takes the whole orphan */
#endif

/* A root for the huge orphan: in /dev/shm where it is a tmpfs (Linux), so that the test's time
 * goes to the reaps and not to a shared disk's journal; else a fresh directory. Removed at the
 * end by the test itself (it is empty then). */
static const char *huge_root(void)
{
#ifdef __linux__
    static unsigned n;
    const char *d = apr_psprintf(tu_pool, "/dev/shm/spill-budget-%ld-%u", (long)getpid(), n++);
    if (apr_dir_make(d, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, tu_pool) ==
        APR_SUCCESS)
        return d;
#endif
    return tu_fresh_dir("budgethuge");
}

static const char *make_huge_orphan(const char *root)
{
    const char *d = tu_make_spill_dir(root, 1000, 1, 0, tu_record(1));
    int i;
    for (i = 0; i < huge_files(); i++)
        CU_ASSERT_FATAL(tu_write_file(apr_psprintf(tu_pool, "%s/c%06d", d, i), "") == 0);
    return d;
}

static spill_reap_stats budgeted_reap(const char *root, unsigned threads, uint32_t budget)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = threads;
    o.reap_budget_ms = budget;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
    return st;
}

static void huge_orphan(unsigned threads)
{
    const char *root = huge_root();
    const char *d = make_huge_orphan(root);
    spill_reap_stats st = budgeted_reap(root, threads, BUDGET_MS);
    uint64_t files = st.files_removed;
    int rounds = 1;
    printf("\n  first budgeted reap of %d files: %u ms, %llu removed\n", huge_files(),
           st.elapsed_ms, (unsigned long long)st.files_removed);
    CU_ASSERT(st.elapsed_ms < BOUND_MS);
    CU_ASSERT_EQUAL(st.budget_exhausted, 1);
    CU_ASSERT_EQUAL(st.cut_short, 1);
    CU_ASSERT_EQUAL(st.reaped, 0);
    CU_ASSERT_EQUAL(st.errors, 0);
    CU_ASSERT(st.files_removed > 0 && st.files_removed < (uint64_t)huge_files());
    /* cut short: .lock and its record stay, the lock is free, so the next reap finishes it;
     * rule 6 renamed it to a trash name first */
    d = tu_left_as_trash(root, d);
    CU_ASSERT(tu_exists(tu_join(d, ".lock")));
    while (tu_exists(d) && rounds < 10000) {
        st = budgeted_reap(root, threads, BUDGET_MS);
        CU_ASSERT(st.elapsed_ms < BOUND_MS);
        CU_ASSERT_EQUAL(st.errors, 0);
        CU_ASSERT(st.files_removed > 0 || st.reaped == 1);
        files += st.files_removed;
        rounds++;
    }
    printf("  finished in %d budgeted reaps\n", rounds);
    CU_ASSERT(!tu_exists(d));
    CU_ASSERT_EQUAL(st.reaped, 1);
    CU_ASSERT_EQUAL(files, (uint64_t)huge_files() + 1); /* .lock included, nothing twice */
    CU_ASSERT(tu_count_entries(root) == 0);
    if (strncmp(root, "/dev/shm/", 9) == 0)
        tu_remove_tree(root);
}

static void test_huge_orphan(void)
{
    huge_orphan(1);
}

static void test_huge_orphan_threads(void)
{
    huge_orphan(4);
}

/* ---- a front of entries that fail every time, and take the whole budget doing so ---- */

#define FRONT 3
#define BEHIND 5
#define FRONT_BUDGET_MS 10

static int (*real_probe)(spill__fd, const char *, int, spill__fd *);

/* A directory marked "fail-me" is one whose lock cannot be tried: slow, then an error. */
static int failing_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    spill__stat st;
    if (how == SPILL__PROBE_LOCK && spill__sys_default.stat(at, "fail-me", &st) == SPILL_OK) {
        int64_t until = spill__monotonic_us() + 2 * FRONT_BUDGET_MS * 1000;
        while (spill__monotonic_us() < until) /* a slow server, not a wait on anything */
            ;
        return spill__error_set_os(SPILL_EIO, 5, "lock", name, "input/output error");
    }
    return real_probe(at, name, how, out);
}

/* The names of root's children in the order the reaper's listing gives them. */
static int list_root(const char *root, const char **names, int max)
{
    spill__fd fd;
    spill__dir *d;
    const char *name;
    int n = 0;
    CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, root, 0, &fd) == SPILL_OK);
    CU_ASSERT_FATAL(spill__sys.list_open(fd, &d) == SPILL_OK);
    while (n < max && spill__sys.list_next(d, &name) == SPILL_OK && name)
        names[n++] = apr_pstrdup(tu_pool, name);
    spill__sys.list_close(d);
    spill__sys.close(fd);
    return n;
}

static void test_failing_front(void)
{
    const char *root = tu_fresh_dir("budgetfront");
    const char *names[FRONT + BEHIND];
    spill_reap_stats st;
    int i, n, rounds = 0, behind_left = BEHIND;
    for (i = 0; i < FRONT + BEHIND; i++)
        tu_make_spill_dir(root, 1000, (uint64_t)i + 1, 2, tu_record((uint64_t)i + 1));
    n = list_root(root, names, FRONT + BEHIND);
    CU_ASSERT_FATAL(n == FRONT + BEHIND);
    for (i = 0; i < FRONT; i++)
        CU_ASSERT_FATAL(tu_write_file(tu_join(tu_join(root, names[i]), "fail-me"), "!") == 0);
    real_probe = spill__sys.lock_probe;
    spill__sys.lock_probe = failing_probe;
    while (behind_left > 0 && rounds < 200) {
        st = budgeted_reap(root, 1, FRONT_BUDGET_MS);
        CU_ASSERT(st.scanned >= 1);
        behind_left = 0;
        for (i = FRONT; i < FRONT + BEHIND; i++)
            behind_left += tu_exists(tu_join(root, names[i]));
        rounds++;
    }
    spill__sys.lock_probe = real_probe;
    printf("\n  the %d orphans behind a failing front reaped in %d budgeted reaps\n", BEHIND,
           rounds);
    CU_ASSERT_EQUAL(behind_left, 0);
    for (i = 0; i < FRONT; i++)
        CU_ASSERT(tu_exists(tu_join(root, names[i]))); /* they fail every time: left */
}

static CU_TestInfo tests[] = {
    {"one orphan of 100,000 files against 50 ms (Windows: 2,000, 500 ms): cut short, finished by later reaps",
     test_huge_orphan},
    {"the same with threads=4", test_huge_orphan_threads},
    {"a front that fails every time does not starve the orphans behind it", test_failing_front},
    CU_TEST_INFO_NULL,
};

test_suite suite_budget = {"budget", tests};
