/* test_kill.c: uploads killed mid-upload leave orphans that the next start reaps at once, and
 * live uploads never reap each other. */
#include <signal.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "testutil.h"

#ifdef _WIN32 /* both TerminateProcess */
#define SIG_HARD 9
#define SIG_ABORT 9
#else
#define SIG_HARD SIGKILL
#define SIG_ABORT SIGABRT
#endif

/* Starts a putloop, waits until its first chunk is on disk, then kills it with sig (0: the
 * helper dies by itself in the middle of a put). Returns the orphan's path. */
static const char *orphan_by(const char *root, int sig, const char *mode)
{
    const char *args[] = {root, mode, NULL};
    const char *path;
    tu_proc p;
    int code;
    apr_exit_why_e why;
    CU_ASSERT_FATAL(tu_spawn(&p, "putloop", args) == 0);
    path = tu_read_line(&p);
    CU_ASSERT_FATAL(path != NULL && tu_has_prefix(path, root));
    if (sig)
        apr_proc_kill(&p.proc, sig);
    apr_proc_wait(&p.proc, &code, &why, APR_WAIT);
    apr_file_close(p.in);
    apr_file_close(p.out);
    CU_ASSERT(tu_exists(path)); /* a hard death leaves the directory behind */
    if (sig)
        CU_ASSERT(tu_wait_unlocked(path)); /* Windows releases a killed process's locks late */
    return path;
}

/* (a) the next spill_open, with default options, reaps the orphan at once */
static void check_open_reaps(const char *root, const char *orphan)
{
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    CU_ASSERT(!tu_exists(orphan));
    CU_ASSERT(tu_count_entries(root) == 1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* (b) spill_reap counts it and the bytes it freed */
static void check_reap_counts(const char *root, const char *orphan)
{
    spill_reap_stats st = tu_reap(root, 30);
    CU_ASSERT_EQUAL(st.scanned, 1);
    CU_ASSERT_EQUAL(st.reaped, 1);
    CU_ASSERT_EQUAL(st.errors, 0);
    CU_ASSERT(st.bytes_freed >= 4096);
    CU_ASSERT(st.files_removed >= 2);
    CU_ASSERT(!tu_exists(orphan));
}

static void kill_round(int sig, const char *mode)
{
    const char *root = tu_fresh_dir("kill");
    check_open_reaps(root, orphan_by(root, sig, mode));
    check_reap_counts(root, orphan_by(root, sig, mode));
}

static void test_kill_sigkill(void)
{
    kill_round(SIG_HARD, "");
}

static void test_kill_sigabrt(void)
{
    kill_round(SIG_ABORT, "abort");
}

static void test_kill_exit_mid_put(void)
{
    kill_round(0, "midput");
}

/* Two uploads reaping with grace 0 after every chunk: neither loses a chunk. */
static void test_kill_two_live_uploads(void)
{
    const char *root = tu_fresh_dir("twolive");
    const char *args[] = {root, "40", NULL};
    tu_proc p[2];
    int i;
    for (i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(tu_spawn(&p[i], "liveloop", args) == 0);
        CU_ASSERT_FATAL(tu_read_line(&p[i]) != NULL);
    }
    CU_ASSERT(tu_count_entries(root) == 2);
    for (i = 0; i < 2; i++)
        apr_file_puts("go\n", p[i].in);
    for (i = 0; i < 2; i++) {
        const char *verdict = tu_read_line(&p[i]);
        CU_ASSERT_FATAL(verdict != NULL);
        CU_ASSERT_STRING_EQUAL(verdict, "ok");
    }
    CU_ASSERT(tu_count_entries(root) == 2); /* both directories survived */
    for (i = 0; i < 2; i++)
        CU_ASSERT(tu_wait(&p[i]) == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static CU_TestInfo tests[] = {
    {"kill -9 mid-upload: reaped at the next open and by spill_reap", test_kill_sigkill},
    {"kill by SIGABRT mid-upload", test_kill_sigabrt},
    {"kill: _exit in the middle of a put", test_kill_exit_mid_put},
    {"kill: two live uploads never reap each other", test_kill_two_live_uploads},
    CU_TEST_INFO_NULL,
};

test_suite suite_kill = {"kill", tests};
