/* test_hostile.c: rule 10 in a hostile shared root. Another user planted a million spill_
 * directories (each judged unsafe: not ours) in a sticky tmpfs root, in front of the owner's own
 * orphan. Budgeted reaps, each a new process as in a crash loop, return within about their
 * budget and in bounded memory, and go on where the last stopped, so the orphan is reaped within
 * a bounded number of runs; so does spill_open's budgeted reap, and spill_adopt answers
 * SPILL_ETIMEDOUT within its budget. Linux, as root (the planter is
 * nobody), on /dev/shm; SPILL_TEST_HOSTILE=1 (the flock leg): a million directories take some
 * seconds and most of a GiB of kernel memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "testutil.h"

#define PLANTED 1000000
#define BUDGET_MS 200
#define WALL_MS 400          /* the budget and what a process's start and one entry may add */
#define RSS_KB (16 * 1024)
#define TMPFS_MAGIC_ 0x01021994
#define NOBODY 65534

/* reapbudget ROOT MS [open|adopt]: spill_reap (or spill_open and close, or spill_adopt of the
 * tag "hostile") with that budget; prints its result, the call's wall time, the process's peak
 * RSS and its counts. */
int tu_helper_reapbudget(int argc, const char *const *argv)
{
    spill_opts o;
    spill_reap_stats st;
    spill_t *s;
    struct rusage ru;
    int64_t t0;
    const char *mode = argc > 2 ? argv[2] : "reap";
    int rc;
    if (argc < 2)
        return 2;
    spill_opts_init(&o);
    o.reap_budget_ms = (uint32_t)atoi(argv[1]);
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    t0 = spill__monotonic_us();
    if (strcmp(mode, "open") == 0) {
        if ((rc = spill_open(argv[0], &o, &s)) == SPILL_OK)
            spill_close(s);
    } else if (strcmp(mode, "adopt") == 0) {
        if ((rc = spill_adopt(argv[0], "hostile", &o, &s)) == SPILL_OK)
            spill_close(s);
    } else {
        rc = spill_reap(argv[0], &o, &st);
    }
    t0 = (spill__monotonic_us() - t0) / 1000;
    getrusage(RUSAGE_SELF, &ru);
    printf("rc=%d ms=%lld rss_kb=%ld scanned=%u reaped=%u\n", rc, (long long)t0, ru.ru_maxrss,
           st.scanned, st.reaped);
    return 0;
}

/* `spill reap --root ROOT --budget-ms MS` as a process (SPILL_CLI): its wall time from fork to
 * exit, in ms, and its peak RSS, in KiB; 0 if it did not exit 0. */
static int cli_reap(const char *root, long *ms, long *rss)
{
    const char *prog = getenv("SPILL_CLI");
    struct rusage ru;
    int64_t t0 = spill__monotonic_us();
    int status;
    pid_t pid;
    if (!prog)
        return 0;
    if ((pid = fork()) == 0) {
        execl(prog, prog, "reap", "--root", root, "--budget-ms", APR_STRINGIFY(BUDGET_MS),
              "--quiet", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
        return 0;
    *ms = (long)((spill__monotonic_us() - t0) / 1000);
    *rss = ru.ru_maxrss;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* n directories spill_1000000000_<i> made by nobody (a child that becomes nobody). */
static int plant(const char *root, int n)
{
    pid_t pid = fork();
    int status, i;
    if (pid == 0) {
        char path[4096];
        if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(3);
        for (i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/spill_1000000000_%d", root, i);
            if (mkdir(path, 0700) < 0)
                _exit(4);
        }
        _exit(0);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* rmdir of every entry of root, then of root (the planted ones are empty). */
static void unplant(const char *root)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, root, tu_pool) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
            if (strncmp(fi.name, "spill_1000000000_", 17) == 0)
                rmdir(apr_pstrcat(tu_pool, root, "/", fi.name, NULL));
        apr_dir_close(d);
    }
    tu_remove_tree(root);
}

static const char *skip_reason(void)
{
    const char *on = getenv("SPILL_TEST_HOSTILE");
    struct statfs sf;
    if (!on || strcmp(on, "1") != 0)
        return "plants a million directories; set SPILL_TEST_HOSTILE=1 (ci/test.sh does in the "
               "flock leg)";
    if (geteuid() != 0)
        return "the planter must be another user: run as root";
    if (statfs("/dev/shm", &sf) < 0 || (unsigned long)sf.f_type != TMPFS_MAGIC_)
        return "no tmpfs at /dev/shm";
    return NULL;
}

/* Parses "rc=... ms=... rss_kb=... scanned=... reaped=..."; 0 if the line is not that. */
static int parse(const char *line, int *rc, long *ms, long *rss, unsigned *scanned)
{
    unsigned reaped;
    return sscanf(line, "rc=%d ms=%ld rss_kb=%ld scanned=%u reaped=%u", rc, ms, rss, scanned,
                  &reaped) == 5;
}

static void test_million_planted(void)
{
    const char *why = skip_reason(), *root, *victim, *line;
    const char *args[] = {NULL, APR_STRINGIFY(BUDGET_MS), NULL, NULL};
    unsigned scanned, least = PLANTED;
    long ms, rss, worst_ms = 0, worst_rss = 0;
    int rc, runs;
    if (why)
        TU_SKIP(why);
    root = apr_psprintf(tu_pool, "/dev/shm/spill-test-hostile-%ld", (long)getpid());
    CU_ASSERT_FATAL(mkdir(root, 0700) == 0 && chmod(root, 01777) == 0);
    args[0] = root;
    /* made first: tmpfs lists the newest first, so the planted ones come before it */
    victim = tu_make_spill_dir(root, 1000000000, PLANTED + 1, 1, tu_record(1));
    CU_ASSERT_FATAL(plant(root, PLANTED));
    /* each run a new process; the last one's place is all they share */
    for (runs = 1; runs <= 1000 && tu_exists(victim); runs++) {
        line = tu_run_helper("reapbudget", args);
        CU_ASSERT_FATAL(parse(line, &rc, &ms, &rss, &scanned));
        CU_ASSERT(rc == SPILL_OK && ms <= WALL_MS && rss <= RSS_KB);
        worst_ms = ms > worst_ms ? ms : worst_ms;
        worst_rss = rss > worst_rss ? rss : worst_rss;
        if (tu_exists(victim) && scanned < least)
            least = scanned;
    }
    /* every run judges `least` entries at least, from where the last stopped; no one run
     * judges a million entries in its budget, so this took several */
    CU_ASSERT(!tu_exists(victim));
    CU_ASSERT(runs - 1 > 1);
    CU_ASSERT(runs - 1 <= (PLANTED + 1) / (int)(least ? least : 1) + 1);
    printf("\n  %d planted: the owner's orphan reaped by run %d of %d ms budgets (at least %u "
           "judged per run; at worst %ld ms, %ld KiB RSS)\n",
           PLANTED, runs - 1, BUDGET_MS, least, worst_ms, worst_rss);
    if (getenv("SPILL_CLI")) { /* the program too, start and exit included */
        CU_ASSERT(cli_reap(root, &ms, &rss) && ms <= WALL_MS && rss <= RSS_KB);
        printf("  spill reap --budget-ms %d there: %ld ms, %ld KiB RSS\n", BUDGET_MS, ms, rss);
    }
    args[2] = "open";
    line = tu_run_helper("reapbudget", args);
    CU_ASSERT(parse(line, &rc, &ms, &rss, &scanned) && rc == SPILL_OK && ms <= WALL_MS &&
              rss <= RSS_KB);
    printf("  spill_open with a %d ms budget there: %ld ms, %ld KiB RSS\n", BUDGET_MS, ms, rss);
    /* an adopt cannot judge a million entries in its budget: it says so (rule 10) */
    args[2] = "adopt";
    line = tu_run_helper("reapbudget", args);
    CU_ASSERT(parse(line, &rc, &ms, &rss, &scanned) && rc == SPILL_ETIMEDOUT &&
              ms <= WALL_MS && rss <= RSS_KB);
    printf("  spill_adopt with a %d ms budget there: %ld ms, %ld KiB RSS, rc %d\n", BUDGET_MS,
           ms, rss, rc);
    unplant(root);
}

static CU_TestInfo tests[] = {
    {"a million planted entries: budgeted reaps, each a new process, reach the orphan behind",
     test_million_planted},
    CU_TEST_INFO_NULL,
};

test_suite suite_hostile = {"hostile", tests};
