/* test_answers.c: what spill_adopt's answers mean, as clients act on them (SPILL_EBUSY: exit as
 * a duplicate job; SPILL_ENOTFOUND: start afresh). A reaper at work is never a live owner, a
 * candidate that could not be judged is an error with nothing removed, never "none". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "testutil.h"

#define TAG "answers-job"
#define KEEP 3600
#define ROUNDS 300

static void say(const char *line)
{
    printf("%s\n", line);
    fflush(stdout);
}

/* 1 once stdin is closed (or has a line): the test has finished with this helper. */
static int told_to_stop(void)
{
    struct pollfd p;
    p.fd = 0;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, 0) != 0;
}

/* reaploop ROOT MODE: says ready, then until stdin closes: MODE reap, a plain spill_reap
 * (grace 0: it judges resumable orphans and keeps them); resumable, a reap with reap_resumable
 * (it takes them); open, spill_open and spill_close (the reap every open runs). Says "loops N". */
int tu_helper_reaploop(int argc, const char *const *argv)
{
    spill_opts o;
    spill_t *s;
    unsigned n = 0;
    char line[64];
    if (argc < 2)
        return 2;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = 2; /* orphans go through the pool: queued, then removed on a worker */
    o.reap_resumable = strcmp(argv[1], "resumable") == 0;
    say("ready");
    for (n = 0; !told_to_stop(); n++) {
        if (strcmp(argv[1], "open") != 0)
            spill_reap(argv[0], &o, NULL);
        else if (spill_open(argv[0], &o, &s) == SPILL_OK)
            spill_close(s);
    }
    snprintf(line, sizeof line, "loops %u", n);
    say(line);
    return 0;
}

/* A resumable orphan with the tag, as a killed job leaves it before its first chunk: a record
 * with keep= beside a lock nobody holds. Made under a name reapers ignore, then renamed into
 * place (a lockless spill_ directory would be garbage to a grace-0 reaper). */
static const char *plant_orphan(const char *root, unsigned round)
{
    char rec[SPILL__RECORD_MAX], host[256];
    const char *tmp = tu_join(root, "planting");
    const char *dir = tu_join(root, apr_psprintf(tu_pool, "spill_%" APR_UINT64_T_FMT "_%u",
                                                 (apr_uint64_t)spill__now(), round + 1000));
    spill__hostname(host, sizeof host);
    CU_ASSERT_FATAL(spill__record_format(rec, sizeof rec, round, 999999, host, spill__now(),
                                         KEEP, TAG) > 0);
    CU_ASSERT_FATAL(apr_dir_make(tmp, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(tu_write_file(tu_join(tmp, SPILL__LOCK_NAME), rec) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(tmp, SPILL__JOURNAL_NAME), "") == 0);
    CU_ASSERT_FATAL(rename(tmp, dir) == 0);
    return dir;
}

/* spill_adopt's bounded retry of a held candidate (src/adopt.c's RETRY_MS) */
#define RETRY_US (200 * 1000)

/* 1 while the directory lock is taken away: a candidate held past the retry is then EBUSY */
static int lockless;

typedef struct tally {
    unsigned adopted, reaped, busy, other;
    unsigned outheld; /* held by a reaper past the bounded retry, then counted as gone */
    int64_t slowest_us; /* the longest spill_adopt */
} tally;

/* One round: an orphan planted, adopted while the reapers loop. Adopted, or reaped (its name
 * gone): never EBUSY, never "none" while it is there, unless a reaper held it through the whole
 * bounded retry (a reaper descheduled on a loaded machine, say), which the contract counts as
 * gone: then only after that retry ran its course. */
static void one_round(const char *root, unsigned round, tally *t)
{
    const char *dir = plant_orphan(root, round);
    spill_t *s;
    int64_t t0 = spill__monotonic_us(), took;
    int rc = spill_adopt(root, TAG, NULL, &s);
    took = spill__monotonic_us() - t0;
    if (took > t->slowest_us)
        t->slowest_us = took;
    if (rc == SPILL_OK) {
        t->adopted++;
        CU_ASSERT(spill_close(s) == SPILL_OK);
    } else if (rc == SPILL_ENOTFOUND && !tu_exists(dir)) {
        t->reaped++;
    } else if (rc == (lockless ? SPILL_EBUSY : SPILL_ENOTFOUND) && took >= RETRY_US) {
        t->outheld++;
        tu_remove_tree(dir);
    } else {
        if (rc == SPILL_EBUSY)
            t->busy++;
        else
            t->other++;
        printf(" [round %u: %d %s]", round, rc, spill_error_last()->message);
        tu_remove_tree(dir);
    }
}

/* Three other processes looping MODE on the root while this one adopts `rounds` orphans. */
static tally race(const char *what, const char *mode, unsigned rounds)
{
    const char *root = tu_fresh_dir(what);
    const char *args[] = {root, mode, NULL};
    tu_proc r[3];
    tally t;
    unsigned i;
    int64_t t0 = spill__monotonic_us();
    memset(&t, 0, sizeof t);
    for (i = 0; i < 3; i++) {
        CU_ASSERT_FATAL(tu_spawn(&r[i], "reaploop", args) == 0);
        CU_ASSERT_FATAL(tu_read_line(&r[i]) != NULL);
    }
    for (i = 0; i < rounds; i++)
        one_round(root, i, &t);
    for (i = 0; i < 3; i++)
        CU_ASSERT(tu_wait(&r[i]) == 0); /* stdin closed: it stops */
    printf(" (%u rounds in %lld ms: %u adopted, %u reaped, %u held past the retry, %u EBUSY, %u "
           "other; slowest adopt %lld ms)", rounds, (long long)(spill__monotonic_us() - t0) / 1000,
           t.adopted, t.reaped, t.outheld, t.busy, t.other, (long long)t.slowest_us / 1000);
    CU_ASSERT(t.busy == 0 && t.other == 0);
    CU_ASSERT(t.outheld < rounds / 10); /* a reaper's hold outlasting the retry stays rare */
    return t;
}

/* Plain reapers judge the resumable orphan and keep it: it is always adopted. */
static void test_against_plain_reapers(void)
{
    tally t = race("answers-plain", "reap", ROUNDS);
    CU_ASSERT(t.adopted + t.outheld == ROUNDS);
}

/* Every other process's spill_open runs such a reap. */
static void test_against_opens(void)
{
    tally t = race("answers-open", "open", ROUNDS);
    CU_ASSERT(t.adopted + t.outheld == ROUNDS);
}

/* Reapers that take resumable orphans: each is adopted or reaped, never a duplicate job. */
static void test_against_taking_reapers(void)
{
    tally t = race("answers-take", "resumable", ROUNDS);
    CU_ASSERT(t.adopted + t.reaped + t.outheld == ROUNDS);
}

/* A live owner with the tag is a duplicate job, also while reapers loop. */
static void test_live_owner(void)
{
    const char *root = tu_fresh_dir("answers-live");
    const char *live[] = {root, TAG, "1", "hold", NULL}, *args[] = {root, "reap", NULL};
    tu_proc owner, r;
    spill_t *s = (spill_t *)1;
    int i;
    CU_ASSERT_FATAL(tu_spawn(&owner, "adoptjob", live) == 0);
    CU_ASSERT_FATAL(tu_read_line(&owner) != NULL); /* path */
    CU_ASSERT_FATAL(tu_read_line(&owner) != NULL); /* done */
    CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_EBUSY && s == NULL);
    CU_ASSERT_FATAL(tu_spawn(&r, "reaploop", args) == 0);
    CU_ASSERT_FATAL(tu_read_line(&r) != NULL);
    for (i = 0; i < 5; i++)
        CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_EBUSY);
    CU_ASSERT(tu_wait(&r) == 0);
    CU_ASSERT(tu_wait(&owner) == 0);
    CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_ENOTFOUND); /* closed: gone */
}

static int no_dir_lock(spill__fd fd, int how)
{
    (void)fd;
    (void)how;
    return SPILL_OK;
}

/* Where the directory lock does not exist (off Linux: a no-op here), a held lock cannot be told
 * apart: a live owner's is tried again for the bounded time, then EBUSY; a reaper's comes free
 * within it and the orphan is adopted. */
static void test_without_directory_locks(void)
{
    const char *root = tu_fresh_dir("answers-nolocks");
    const char *live[] = {root, TAG, "1", "hold", NULL};
    int (*real)(spill__fd, int) = spill__sys.dir_lock;
    tu_proc owner;
    spill_t *s;
    int64_t took;
    tally t;
    CU_ASSERT_FATAL(tu_spawn(&owner, "adoptjob", live) == 0);
    CU_ASSERT_FATAL(tu_read_line(&owner) != NULL); /* path */
    CU_ASSERT_FATAL(tu_read_line(&owner) != NULL); /* done */
    spill__sys.dir_lock = no_dir_lock;
    took = spill__monotonic_us();
    CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_EBUSY);
    took = spill__monotonic_us() - took;
    printf(" (EBUSY after %lld ms)", (long long)(took / 1000));
    CU_ASSERT(took >= 150000 && took < 2000000);
    CU_ASSERT(tu_wait(&owner) == 0);
    memset(&t, 0, sizeof t);
    lockless = 1;
    t = race("answers-nolocks-race", "reap", ROUNDS / 3);
    lockless = 0;
    spill__sys.dir_lock = real;
    CU_ASSERT(t.adopted + t.outheld == ROUNDS / 3);
}

/* adoptlimit ROOT TAG EXTRA: spill_adopt with RLIMIT_NOFILE lowered to the descriptors open
 * now plus EXTRA; prints "rc=RC count=N" and the error's message. */
int tu_helper_adoptlimit(int argc, const char *const *argv)
{
    struct rlimit rl;
    spill_t *s;
    int rc;
    if (argc < 3)
        return 2;
    tu_scan_once(argv[0]);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)(tu_open_fds() + atoi(argv[2]));
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 3;
    rc = spill_adopt(argv[0], argv[1], NULL, &s);
    printf("rc=%d count=%lu %s\n", rc, rc == SPILL_OK ? (unsigned long)spill_count(s) : 0ul,
           rc == SPILL_OK ? "" : spill_error_last()->message);
    fflush(stdout);
    if (rc == SPILL_OK)
        spill_close(s);
    return 0;
}

/* Descriptors run out at each step of the adoption in turn: an error (never "no orphan"), the
 * orphan left byte for byte; with enough of them, adopted whole. */
static void test_descriptor_limit(void)
{
    int extra, errors = 0, adopted = 0;
    for (extra = 0; extra <= 8 && !adopted; extra++) {
        const char *root = tu_fresh_dir(apr_psprintf(tu_pool, "answers-nofile%d", extra));
        const char *job[] = {root, TAG, "5", "exit", NULL};
        const char *args[] = {root, TAG, apr_itoa(tu_pool, extra), NULL};
        const char *path, *before, *out;
        tu_proc p;
        CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", job) == 0);
        path = apr_pstrdup(tu_pool, tu_read_line(&p) + 5);
        CU_ASSERT(tu_read_line(&p) != NULL); /* done */
        tu_wait(&p);
        CU_ASSERT_FATAL(tu_wait_unlocked(path));
        before = tu_snapshot(path);
        out = tu_run_helper("adoptlimit", args);
        if (strncmp(out, "rc=0 ", 5) == 0) {
            CU_ASSERT_STRING_EQUAL(out, "rc=0 count=5 ");
            adopted = 1;
            continue;
        }
        errors++;
        if (strncmp(out, "rc=-5 ", 6) == 0 || !tu_exists(path) ||
            strcmp(tu_snapshot(path), before) != 0)
            printf(" [%d more descriptors: %s]", extra, out);
        CU_ASSERT(strncmp(out, "rc=-5 ", 6) != 0 && strncmp(out, "rc=-6 ", 6) != 0);
        CU_ASSERT(strlen(out) > 16); /* with the error's message */
        CU_ASSERT(tu_exists(path) && strcmp(tu_snapshot(path), before) == 0);
    }
    printf(" (%d limits refused, adopted at %d more)", errors, extra - 1);
    CU_ASSERT(errors > 0 && adopted);
}

static int failing_read(spill__fd fd, void *buf, size_t len, size_t *got)
{
    (void)fd;
    (void)buf;
    (void)len;
    *got = 0;
    return spill__error_os("read", "", EIO);
}

/* A record that cannot be read (an I/O error) is not a foreign .lock: the answer is that error,
 * with the orphan left byte for byte; readable again, it is adopted. */
static void test_unreadable_record(void)
{
    const char *root = tu_fresh_dir("answers-eio");
    const char *dir = plant_orphan(root, 0), *before = tu_snapshot(dir);
    int (*real)(spill__fd, void *, size_t, size_t *) = spill__sys.read;
    spill_t *s;
    int rc;
    spill__sys.read = failing_read;
    rc = spill_adopt(root, TAG, NULL, &s);
    spill__sys.read = real;
    CU_ASSERT(rc == SPILL_EIO);
    CU_ASSERT(spill_error_last()->os_error == EIO);
    CU_ASSERT(strstr(spill_error_last()->message, dir) != NULL);
    CU_ASSERT(strcmp(tu_snapshot(dir), before) == 0);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* A stat that takes 20 ms, as on a slow or loaded disk. */
static int slow_stat(spill__fd at, const char *name, spill__stat *st)
{
    apr_sleep(apr_time_from_msec(20));
    return spill__sys_default.stat(at, name, st);
}

/* Rule 10: an adopt whose budget runs out before it could decide answers SPILL_ETIMEDOUT (never
 * EBUSY or ENOTFOUND), within about that budget, with every orphan left as it was; with no
 * budget the same root is adopted. */
static void test_budget_runs_out(void)
{
    const char *root = tu_fresh_dir("answers-budget"), *before;
    spill_opts o;
    spill_t *s;
    unsigned i;
    int rc;
    for (i = 0; i < 20; i++)
        plant_orphan(root, i);
    before = tu_snapshot(root);
    spill_opts_init(&o);
    o.reap_budget_ms = 50;
    spill__sys.stat = slow_stat; /* judging the 20 would take some 800 ms */
    rc = spill_adopt(root, TAG, &o, &s);
    spill__sys.stat = spill__sys_default.stat;
    CU_ASSERT_EQUAL(rc, SPILL_ETIMEDOUT);
    CU_ASSERT(strcmp(tu_snapshot(root), before) == 0);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* reapstall ROOT MODE: a reap (grace 0, reap_resumable) whose walks inside spill directories
 * stall until stdin closes, each saying "stuck" first: MODE dry, a dry run on one thread (its
 * measuring stalls); pool, two workers (their removals stall). Then says "reaped N". */
static int (*real_list_open)(spill__fd, spill__dir **);
static int stalling_list_open(spill__fd fd, spill__dir **out)
{
    static apr_uint32_t released;
    spill__stat st;
    char line[64];
    if (!apr_atomic_read32(&released) && spill__sys.stat(fd, SPILL__LOCK_NAME, &st) == SPILL_OK) {
        say("stuck");
        while (fgets(line, sizeof line, stdin))
            ;
        apr_atomic_set32(&released, 1);
    }
    return real_list_open(fd, out);
}

int tu_helper_reapstall(int argc, const char *const *argv)
{
    spill_opts o;
    spill_reap_stats st;
    char line[64];
    if (argc < 2)
        return 2;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.reap_resumable = 1;
    o.dry_run = strcmp(argv[1], "dry") == 0;
    o.threads = o.dry_run ? 1 : 2;
    real_list_open = spill__sys.list_open;
    spill__sys.list_open = stalling_list_open;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    spill_reap(argv[0], &o, &st);
    snprintf(line, sizeof line, "reaped %u", st.reaped);
    say(line);
    return 0;
}

/* A dry run measures an orphan after letting its lock go: an adopter meanwhile takes it. */
static void test_dry_run_holds_nothing(void)
{
    const char *root = tu_fresh_dir("answers-dry");
    const char *dir = plant_orphan(root, 0), *args[] = {root, "dry", NULL};
    tu_proc p;
    spill_t *s;
    const char *line;
    CU_ASSERT_FATAL(tu_write_file(tu_join(dir, "chunk"), "bytes") == 0);
    CU_ASSERT_FATAL(tu_spawn(&p, "reapstall", args) == 0);
    line = tu_read_line(&p);
    CU_ASSERT_FATAL(line && strcmp(line, "stuck") == 0);
    if (spill_adopt(root, TAG, NULL, &s) != SPILL_OK) {
        printf(" [%s]", spill_error_last()->message);
        CU_FAIL("the orphan a dry run measures is not adopted");
        s = NULL;
    }
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT(tu_exists(dir));
    CU_ASSERT(s && strcmp(spill_path(s), dir) == 0 && spill_close(s) == SPILL_OK);
}

/* A reaper renames each orphan to its trash name before it queues it for a worker: with both
 * workers stalled inside their orphans, no tagged name is left waiting in the queue. */
static void test_queued_orphans_renamed(void)
{
    const char *root = tu_fresh_dir("answers-queue");
    const char *args[] = {root, "pool", NULL};
    apr_time_t deadline;
    tu_proc p;
    unsigned i;
    int left;
    for (i = 0; i < 3; i++)
        CU_ASSERT_FATAL(tu_write_file(tu_join(plant_orphan(root, i), "chunk"), "bytes") == 0);
    CU_ASSERT_FATAL(tu_spawn(&p, "reapstall", args) == 0);
    for (i = 0; i < 2; i++)
        CU_ASSERT_FATAL(tu_read_line(&p) != NULL); /* both workers stalled */
    /* the third is queued by the reaping thread, which nothing stalls: a bounded wait */
    deadline = apr_time_now() + apr_time_from_sec(5);
    while ((left = tu_count_named(root, "spill_")) > 0 && apr_time_now() < deadline)
        apr_sleep(apr_time_from_msec(2));
    CU_ASSERT(left == 0);
    CU_ASSERT(tu_count_named(root, ".spill-del_") == 3);
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static CU_TestInfo tests[] = {
    {"an adopt whose budget runs out answers SPILL_ETIMEDOUT, nothing taken or removed",
     test_budget_runs_out},
    {"adopter against plain reapers: never EBUSY", test_against_plain_reapers},
    {"adopter against other processes' opens: never EBUSY", test_against_opens},
    {"adopter against reapers that take it: adopted or reaped", test_against_taking_reapers},
    {"a live owner with the tag: EBUSY", test_live_owner},
    {"without directory locks: EBUSY after the bounded retry", test_without_directory_locks},
    {"descriptors exhausted: an error, nothing removed", test_descriptor_limit},
    {"an unreadable record: its error, nothing removed", test_unreadable_record},
    {"a dry run measures an orphan without holding it", test_dry_run_holds_nothing},
    {"a reaper renames an orphan before queueing it", test_queued_orphans_renamed},
    CU_TEST_INFO_NULL,
};

test_suite suite_answers = {"answers", tests};
