/* test_background.c: SPILL_REAP_BACKGROUND (spill_open returns before the backlog is gone; one
 * reaper per root, stopped by the last close; never a live spill; fork) and the progress
 * callback (pace, counts, cancellation). Readiness comes from the callbacks, never a sleep. */
#include <string.h>
#ifndef _WIN32
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <stdio.h>
#include <stdlib.h>

#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>

#include "testutil.h"

#define OLD 1000000000ULL /* a name timestamp in 2001 */
#define WAIT_S 60          /* a deadline for what should take well under a second */

/* What the callbacks of one background reap saw, and a gate its first progress call waits at. */
typedef struct watch {
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv;
    int gate_closed;     /* the first progress call waits while this is set */
    int started;         /* the first progress call came */
    int done;            /* the reap's closing log line came */
    int done_lines;      /* how many such lines */
    int progress_calls;
    int from_caller;     /* a callback ran on the thread that called spill_open */
    apr_os_thread_t caller;
    spill_t *close_me;   /* closed from the progress callback, once */
    int close_rc;
} watch;

static void watch_init(watch *w)
{
    memset(w, 0, sizeof *w);
    apr_thread_mutex_create(&w->mu, APR_THREAD_MUTEX_DEFAULT, tu_pool);
    apr_thread_cond_create(&w->cv, tu_pool);
    w->caller = apr_os_thread_current();
    w->close_rc = 1;
}

static void note_thread(watch *w)
{
    if (apr_os_thread_equal(w->caller, apr_os_thread_current()))
        w->from_caller = 1;
}

static int on_progress(void *ctx, const spill_reap_stats *so_far)
{
    watch *w = ctx;
    spill_t *s;
    (void)so_far;
    apr_thread_mutex_lock(w->mu);
    note_thread(w);
    w->progress_calls++;
    w->started = 1;
    apr_thread_cond_broadcast(w->cv);
    while (w->gate_closed)
        apr_thread_cond_wait(w->cv, w->mu);
    s = w->close_me;
    w->close_me = NULL;
    apr_thread_mutex_unlock(w->mu);
    if (s) {
        int rc = spill_close(s);
        apr_thread_mutex_lock(w->mu);
        w->close_rc = rc;
        apr_thread_mutex_unlock(w->mu);
    }
    return 0;
}

/* The background reap logs one line when it ends: the readiness signal that it is done. */
static void on_log(void *ctx, int level, const char *msg)
{
    watch *w = ctx;
    (void)level;
    apr_thread_mutex_lock(w->mu);
    if (strncmp(msg, "spill_open:", 11) != 0) /* the open's own lines come from the caller */
        note_thread(w);
    if (strncmp(msg, "background reap of", 18) == 0) {
        w->done = 1;
        w->done_lines++;
        apr_thread_cond_broadcast(w->cv);
    }
    apr_thread_mutex_unlock(w->mu);
}

/* Waits (bounded) until *flag is set; 1 if it was. */
static int wait_for(watch *w, int *flag)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(WAIT_S);
    int ok;
    apr_thread_mutex_lock(w->mu);
    while (!*flag && apr_time_now() < end)
        apr_thread_cond_timedwait(w->cv, w->mu, apr_time_from_msec(100));
    ok = *flag;
    apr_thread_mutex_unlock(w->mu);
    return ok;
}

static void open_gate(watch *w)
{
    apr_thread_mutex_lock(w->mu);
    w->gate_closed = 0;
    apr_thread_cond_broadcast(w->cv);
    apr_thread_mutex_unlock(w->mu);
}

static void bg_opts(spill_opts *o, watch *w)
{
    spill_opts_init(o);
    o->reap_on_open = SPILL_REAP_BACKGROUND;
    o->progress = on_progress;
    o->progress_ctx = w;
    o->progress_ms = 0; /* at every check: the first comes before the first entry */
    o->log = on_log;
    o->log_ctx = w;
}

static void make_orphans(const char *root, int n, int files)
{
    int i;
    for (i = 0; i < n; i++)
        tu_make_spill_dir(root, OLD, (uint64_t)i + 1, files, tu_record((uint64_t)i + 1));
}

static void test_open_returns_first(void)
{
    const char *root = tu_fresh_dir("bgopen");
    spill_t *s;
    spill_opts o;
    watch w;
    make_orphans(root, 40, 16);
    watch_init(&w);
    w.gate_closed = 1; /* the reap waits at its first check until the open has returned */
    bg_opts(&o, &w);
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 41); /* every orphan still there, and our spill */
    CU_ASSERT(wait_for(&w, &w.started));
    open_gate(&w);
    CU_ASSERT(wait_for(&w, &w.done));
    CU_ASSERT(tu_count_entries(root) == 1); /* all gone; our own spill kept */
    CU_ASSERT(tu_exists(spill_path(s)));
    CU_ASSERT(w.from_caller == 0); /* log and progress came from the reap's thread */
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* Three handles on one root share one reaper (one closing line), which leaves every one of
 * their spills, and a live spill of another process, alone. */
static void test_shared_and_live_kept(void)
{
    const char *root = tu_fresh_dir("bgshare"), *held, *before;
    const char *args[3];
    spill_t *s[3];
    spill_opts o;
    watch w;
    tu_proc holder;
    int i;
    args[0] = root;
    args[1] = "3";
    args[2] = NULL;
    CU_ASSERT_FATAL(tu_spawn(&holder, "hold", args) == 0);
    held = tu_read_line(&holder);
    CU_ASSERT_FATAL(held != NULL && strncmp(held, "error", 5) != 0); /* the spill's path */
    held = apr_pstrdup(tu_pool, held);
    before = tu_snapshot(held);
    make_orphans(root, 30, 8);
    watch_init(&w);
    w.gate_closed = 1;
    bg_opts(&o, &w);
    for (i = 0; i < 3; i++)
        CU_ASSERT_FATAL(spill_open(root, &o, &s[i]) == SPILL_OK);
    open_gate(&w);
    CU_ASSERT(wait_for(&w, &w.done));
    CU_ASSERT(tu_count_entries(root) == 4); /* three of ours and the other process's */
    for (i = 0; i < 3; i++)
        CU_ASSERT(tu_exists(spill_path(s[i])));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(held), before);
    args[0] = held;
    args[1] = NULL;
    CU_ASSERT_STRING_EQUAL(tu_run_helper("probe", args), "busy");
    for (i = 0; i < 3; i++)
        CU_ASSERT(spill_close(s[i]) == SPILL_OK);
    CU_ASSERT(w.done_lines == 1); /* every reap of theirs has ended by now: there was one */
    CU_ASSERT(tu_wait(&holder) == 0);
    CU_ASSERT(!tu_exists(held));
}

/* A progress callback that closes the handle its reap serves gets SPILL_EINVAL and the handle
 * stays usable. */
static void test_close_from_callback(void)
{
    const char *root = tu_fresh_dir("bgself");
    uint8_t a[SPILL_ADDR_LEN];
    spill_t *s;
    spill_opts o;
    watch w;
    make_orphans(root, 3, 4);
    watch_init(&w);
    w.gate_closed = 1;
    bg_opts(&o, &w);
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    apr_thread_mutex_lock(w.mu);
    w.close_me = s;
    apr_thread_mutex_unlock(w.mu);
    open_gate(&w);
    CU_ASSERT(wait_for(&w, &w.done));
    CU_ASSERT(w.close_rc == SPILL_EINVAL);
    tu_addr(a, 7);
    CU_ASSERT(spill_put(s, a, "still", 5) == SPILL_OK);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* A version-1 struct's non-zero reap_on_open is synchronous: the orphans are gone on return. */
static void test_version1_synchronous(void)
{
    const char *root = tu_fresh_dir("bgv1");
    spill_t *s;
    spill_opts o;
    make_orphans(root, 5, 4);
    CU_ASSERT_FATAL(spill_opts_init_version(&o, 1) == SPILL_OK);
    o.reap_on_open = SPILL_REAP_BACKGROUND;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

#ifndef _WIN32
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

static void *APR_THREAD_FUNC nothing(apr_thread_t *t, void *arg)
{
    (void)arg;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Starts and joins one thread, so that threads a runtime starts with the first one (TSan's)
 * are there before counting. */
static void warm_threads(apr_pool_t *pool)
{
    apr_thread_t *t;
    apr_status_t rv;
    if (apr_thread_create(&t, NULL, nothing, NULL, pool) == APR_SUCCESS)
        apr_thread_join(&rv, t);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* bgclose ROOT: opens with a background reap, closes it once the reap has started, and prints
 * "closed THREADS_BEFORE THREADS_AFTER ENTRIES_LEFT". */
int tu_helper_bgclose(int argc, const char *const *argv)
{
    spill_t *s;
    spill_opts o;
    watch w;
    apr_pool_t *pool;
    int before, after;
    if (argc < 1)
        return 2;
    apr_pool_create(&pool, NULL);
    tu_pool = pool;
    watch_init(&w);
    bg_opts(&o, &w);
    o.threads = 2;
    warm_threads(pool);
    before = count_threads();
    if (spill_open(argv[0], &o, &s) != SPILL_OK || !wait_for(&w, &w.started))
        return 1;
    if (spill_close(s) != SPILL_OK)
        return 1;
    after = count_threads();
    printf("closed %d %d %d\n", before, after, tu_count_entries(argv[0]));
    fflush(stdout);
    return 0;
}

/* Close during the background reap: returns within the deadline (in a helper process), leaves
 * no thread, and leaves the orphans it did not reach for the next reap. */
static void test_close_stops_it(void)
{
    const char *root = tu_fresh_dir("bgclose"), *line;
    const char *args[2];
    tu_proc p;
    int before = -1, after = -2, left = -1;
    spill_reap_stats st;
    make_orphans(root, 80, 128);
    args[0] = root;
    args[1] = NULL;
    CU_ASSERT_FATAL(tu_spawn(&p, "bgclose", args) == 0);
    apr_file_pipe_timeout_set(p.out, apr_time_from_sec(WAIT_S));
    line = tu_read_line(&p);
    if (!line) {
        tu_kill(&p);
        CU_FAIL_FATAL("spill_close did not return within the deadline");
    }
    CU_ASSERT(sscanf(line, "closed %d %d %d", &before, &after, &left) == 3);
    CU_ASSERT(tu_wait(&p) == 0);
    if (!tu_emulated()) {
        CU_ASSERT(before > 0 && after == before); /* no thread left behind */
    } else { /* the count is the emulator's host threads, which end a moment after the join */
        printf("\n  skipped the thread count under %s: /proc/self/task lists its host threads, "
               "which exit after the guest's join has returned (seen: 3 before, 2 after)\n",
               tu_emulated());
    }
    CU_ASSERT(left > 40);                     /* it did not wait for the backlog */
    st = tu_reap(root, 0);                    /* and the next reap finishes the rest */
    CU_ASSERT(st.errors == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* Fork while the background reap runs: the child neither inherits nor joins it; its own
 * background open and close work; the parent's reap goes on and finishes. */
static int fork_child(const char *root, spill_t *parents)
{
    const char *extra = tu_make_spill_dir(root, OLD, 999, 2, tu_record(999));
    spill_t *s;
    spill_opts o;
    watch w;
    int bad = 0;
    watch_init(&w);
    spill_opts_init(&o);
#ifndef UNDER_TSAN /* TSan cannot start threads in a child of a multithreaded process */
    o.reap_on_open = SPILL_REAP_BACKGROUND;
    o.log = on_log;
    o.log_ctx = &w;
#endif
    bad += spill_open(root, &o, &s) != SPILL_OK;
#ifndef UNDER_TSAN
    bad += !wait_for(&w, &w.done); /* a reaper of its own, not the parent's (held mid-run) */
#endif
    bad += tu_exists(extra);
    if (!bad)
        bad += spill_close(s) != SPILL_OK;
    bad += spill_close(parents) != SPILL_EFORKED;
    return bad;
}

static void test_fork_during_reap(void)
{
    const char *root = tu_fresh_dir("bgfork");
    spill_t *s;
    spill_opts o;
    watch w;
    pid_t pid;
    int status = -1, i;
    make_orphans(root, 20, 8);
    watch_init(&w);
    w.gate_closed = 1; /* the reap is held mid-run while we fork */
    bg_opts(&o, &w);
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    CU_ASSERT_FATAL(wait_for(&w, &w.started));
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(fork_child(root, s));
    for (i = 0; i < WAIT_S * 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
        apr_sleep(apr_time_from_msec(10)); /* a deadline, not a synchronisation */
    if (i == WAIT_S * 100) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CU_FAIL("the child hung");
    }
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    open_gate(&w);
    CU_ASSERT(wait_for(&w, &w.done));
    CU_ASSERT(tu_count_entries(root) == 1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}
#endif

/* ---- progress ---- */

#define MAX_CALLS 4096

typedef struct seen {
    int n;
    spill_reap_stats st[MAX_CALLS];
    int stop_at_files;   /* > 0: return 1 once files_removed reaches this */
    int stop_at_call;    /* > 0: return 1 at this call */
} seen;

static int record(void *ctx, const spill_reap_stats *so_far)
{
    seen *s = ctx;
    if (s->n < MAX_CALLS)
        s->st[s->n] = *so_far;
    s->n++;
    if (s->stop_at_call && s->n >= s->stop_at_call)
        return 1;
    return s->stop_at_files && so_far->files_removed >= (uint64_t)s->stop_at_files;
}

static int grew(const spill_reap_stats *a, const spill_reap_stats *b)
{
    return b->scanned >= a->scanned && b->reaped >= a->reaped && b->live >= a->live &&
           b->young >= a->young && b->unsafe >= a->unsafe && b->errors >= a->errors &&
           b->bytes_freed >= a->bytes_freed && b->files_removed >= a->files_removed &&
           b->elapsed_ms >= a->elapsed_ms;
}

static int same(const spill_reap_stats *a, const spill_reap_stats *b)
{
    return a->scanned == b->scanned && a->reaped == b->reaped && a->errors == b->errors &&
           a->bytes_freed == b->bytes_freed && a->files_removed == b->files_removed &&
           a->elapsed_ms == b->elapsed_ms && a->cancelled == b->cancelled &&
           a->cut_short == b->cut_short && a->budget_exhausted == b->budget_exhausted;
}

static void pace_and_counts(unsigned threads)
{
    static seen s;
    spill_opts o;
    spill_reap_stats st;
    int i, ok_pace = 1, ok_grow = 1, orphans;
    const uint32_t ms = 5;
    /* enough work for several calls: workers on a fast filesystem reaped 100 orphans of 16
     * files in under 10 ms (i386 leg), so the count doubles until the reap takes long enough */
    for (orphans = 100;; orphans *= 2) {
        const char *root = tu_fresh_dir("progress");
        make_orphans(root, orphans, 16);
        memset(&s, 0, sizeof s);
        spill_opts_init(&o);
        o.grace_seconds = 0;
        o.threads = threads;
        o.progress = record;
        o.progress_ctx = &s;
        o.progress_ms = ms;
        memset(&st, 0, sizeof st);
        st.version = SPILL_REAP_STATS_VERSION;
        CU_ASSERT_FATAL(spill_reap(root, &o, &st) == SPILL_OK);
        CU_ASSERT(st.reaped == (uint32_t)orphans && st.cancelled == 0);
        if (s.n >= 3 || orphans >= 1600)
            break;
    }
    CU_ASSERT_FATAL(s.n >= 3 && s.n < MAX_CALLS); /* the reap takes many times ms */
    /* at most every progress_ms: calls before the last were decided that far apart, as their
     * elapsed_ms says (the library's clock at each decision; when a call arrives also depends
     * on the scheduler: under Wine, with other suites running, two arrived less than
     * progress_ms apart once) */
    for (i = 1; i + 1 < s.n; i++)
        if (s.st[i].elapsed_ms - s.st[i - 1].elapsed_ms < ms)
            ok_pace = 0;
    for (i = 1; i < s.n; i++)
        if (!grew(&s.st[i - 1], &s.st[i]))
            ok_grow = 0;
    CU_ASSERT(ok_pace);
    CU_ASSERT(ok_grow);
    CU_ASSERT(same(&s.st[s.n - 1], &st)); /* the last call: the final stats */
    CU_ASSERT(s.st[s.n - 1].version == SPILL_REAP_STATS_VERSION);
}

static void test_progress_one_thread(void)
{
    pace_and_counts(1);
}

static void test_progress_workers(void)
{
    pace_and_counts(2);
}

/* A non-zero return between orphans: the reap stops, cancelled, and what it did not reach is
 * left for the next reap. */
static void test_cancel_between(void)
{
    const char *root = tu_fresh_dir("cancel");
    static seen s;
    spill_opts o;
    spill_reap_stats st;
    make_orphans(root, 50, 4);
    memset(&s, 0, sizeof s);
    s.stop_at_call = 1;
    spill_opts_init(&o);
    o.progress = record;
    o.progress_ctx = &s;
    o.progress_ms = 0;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT_FATAL(spill_reap(root, &o, &st) == SPILL_OK);
    CU_ASSERT(st.cancelled == 1);
    CU_ASSERT(st.budget_exhausted == 0);
    CU_ASSERT(st.reaped < 50);
    CU_ASSERT(tu_count_entries(root) == 50 - (int)st.reaped);
    CU_ASSERT(same(&s.st[s.n - 1], &st));
    st = tu_reap(root, 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* A non-zero return inside one orphan (removed on the reaping thread): it is cut short, keeps
 * its .lock and record, and the next reap finishes it. */
static void test_cancel_inside(void)
{
    const char *root = tu_fresh_dir("cancelin"), *d;
    static seen s;
    spill_opts o;
    spill_reap_stats st;
    d = tu_make_spill_dir(root, OLD, 1, 500, tu_record(1));
    memset(&s, 0, sizeof s);
    s.stop_at_files = 50;
    spill_opts_init(&o);
    o.threads = 1;
    o.progress = record;
    o.progress_ctx = &s;
    o.progress_ms = 0;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT_FATAL(spill_reap(root, &o, &st) == SPILL_OK);
    CU_ASSERT(st.cancelled == 1);
    CU_ASSERT(st.reaped == 0 && st.cut_short == 1);
    CU_ASSERT(st.files_removed >= 50 && st.files_removed < 500);
    d = tu_left_as_trash(root, d); /* rule 6 renamed it first; .lock and its record kept */
    CU_ASSERT(tu_exists(d) && tu_exists(tu_join(d, ".lock")));
    CU_ASSERT(same(&s.st[s.n - 1], &st));
    st = tu_reap(root, 30); /* a record beside a free lock: at once, whatever the grace */
    CU_ASSERT(st.reaped == 1);
    CU_ASSERT(!tu_exists(d));
}

static CU_TestInfo tests[] = {
    {"open returns before the backlog, which then goes", test_open_returns_first},
    {"one reaper per root, live spills kept", test_shared_and_live_kept},
    {"close from its own reap's callback is EINVAL", test_close_from_callback},
    {"version-1 opts: always synchronous", test_version1_synchronous},
#ifndef _WIN32
    {"close stops it promptly, no thread left", test_close_stops_it},
    {"fork while the background reap runs", test_fork_during_reap},
#endif
    CU_TEST_INFO_NULL,
};

static CU_TestInfo progress_tests[] = {
    {"pace, growing counts, final stats (one thread)", test_progress_one_thread},
    {"pace, growing counts, final stats (workers)", test_progress_workers},
    {"non-zero return stops between orphans", test_cancel_between},
    {"non-zero return stops inside an orphan", test_cancel_inside},
    CU_TEST_INFO_NULL,
};

test_suite suite_background = {"background", tests};
test_suite suite_progress = {"progress", progress_tests};
