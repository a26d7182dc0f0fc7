/* test_parallel.c: the reaper with worker threads: the same counts as one thread on identical
 * trees, live spills kept, the log callback only on the calling thread, failures counted and
 * reported there, the budget honoured, a listing read one name at a time (musl) while workers
 * remove, and parallel reapers racing. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "testutil.h"

#define OLD 1000000000ULL /* a name timestamp in 2001 */
#define ORPHANS 200
#define HOLDERS 3

/* A root of orphans of various shapes, live spills held by helper processes, young and unsafe
 * entries; built the same way each time. */
typedef struct tree {
    const char *root;
    tu_proc holders[HOLDERS];
    const char *live[HOLDERS];
    uint64_t files, bytes; /* what the orphans hold, .lock included */
} tree;

static void start_holders(tree *t)
{
    const char *args[] = {t->root, "3", NULL};
    int i;
    args[0] = t->root;
    for (i = 0; i < HOLDERS; i++) {
        CU_ASSERT_FATAL(tu_spawn(&t->holders[i], "hold", args) == 0);
        t->live[i] = tu_read_line(&t->holders[i]);
        CU_ASSERT_FATAL(t->live[i] != NULL && strncmp(t->live[i], t->root, strlen(t->root)) == 0);
    }
}

/* Orphan i: i % 6 chunks of 10 bytes, every fifth one a nested directory with a file and a
 * link, every seventh one without a record (foreign, old: reaped under grace 0). */
static void make_orphan(tree *t, int i)
{
    int nfiles = i % 6;
    const char *rec = i % 7 == 3 ? "" : tu_record((uint64_t)i);
    const char *d = tu_make_spill_dir(t->root, OLD, (uint64_t)i, nfiles, rec);
    t->files += (uint64_t)nfiles + 1;
    t->bytes += 10u * (uint64_t)nfiles + strlen(rec);
    if (i % 5 == 0) {
        CU_ASSERT_FATAL(mkdir(tu_join(d, "sub"), 0700) == 0);
        CU_ASSERT_FATAL(tu_write_file(tu_join(d, "sub/inner"), "abc") == 0);
        CU_ASSERT_FATAL(symlink(t->root, tu_join(d, "sub/link")) == 0);
        t->files += 2;
        t->bytes += 3;
    }
    if (i % 7 == 3)
        tu_set_mtime(d, (int64_t)OLD);
}

static void make_unsafe(tree *t)
{
    const char *fifo = tu_make_spill_dir(t->root, OLD, 900001, 1, NULL);
    CU_ASSERT_FATAL(mkfifo(tu_join(fifo, ".lock"), 0600) == 0);
    CU_ASSERT_FATAL(symlink(t->root, tu_join(t->root, "spill_1_900002")) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(t->root, "spill_1_900003"), "a file") == 0);
}

static tree build(const char *what)
{
    tree t;
    int i;
    memset(&t, 0, sizeof t);
    t.root = tu_fresh_dir(what);
    start_holders(&t); /* first: their spill_open reaps the root */
    for (i = 0; i < ORPHANS; i++)
        make_orphan(&t, i);
    make_unsafe(&t);
    return t;
}

/* The live spills are intact (three chunks and .lock); the holders close them. */
static void finish(tree *t)
{
    int i;
    for (i = 0; i < HOLDERS; i++) {
        CU_ASSERT(tu_count_entries(t->live[i]) == 4);
        CU_ASSERT(tu_wait(&t->holders[i]) == 0);
    }
}

typedef struct log_seen {
    apr_os_thread_t caller;
    unsigned calls, elsewhere, reaped_lines, error_lines;
} log_seen;

static void log_cb(void *ctx, int level, const char *msg)
{
    log_seen *l = ctx;
    apr_os_thread_t self = apr_os_thread_current();
    l->calls++;
    if (!apr_os_thread_equal(self, l->caller))
        l->elsewhere++;
    if (strncmp(msg, "reaped ", 7) == 0)
        l->reaped_lines++;
    if (level == 0)
        l->error_lines++;
}

static spill_reap_stats reap_with(const char *root, unsigned threads, uint32_t budget,
                                  log_seen *l)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = threads;
    o.reap_budget_ms = budget;
    if (l) {
        memset(l, 0, sizeof *l);
        l->caller = apr_os_thread_current();
        o.log = log_cb;
        o.log_ctx = l;
    }
    memset(&st, 0, sizeof st);
    CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
    return st;
}

static void assert_same(const spill_reap_stats *a, const spill_reap_stats *b)
{
    CU_ASSERT_EQUAL(a->scanned, b->scanned);
    CU_ASSERT_EQUAL(a->reaped, b->reaped);
    CU_ASSERT_EQUAL(a->live, b->live);
    CU_ASSERT_EQUAL(a->young, b->young);
    CU_ASSERT_EQUAL(a->unsafe, b->unsafe);
    CU_ASSERT_EQUAL(a->errors, b->errors);
    CU_ASSERT_EQUAL(a->files_removed, b->files_removed);
    CU_ASSERT_EQUAL(a->bytes_freed, b->bytes_freed);
    CU_ASSERT_EQUAL(a->budget_exhausted, b->budget_exhausted);
}

/* One thread and `threads` workers on identical trees: the same counts, and the right ones. */
static void same_as_serial(unsigned threads)
{
    tree serial = build("serial"), par = build("parallel");
    log_seen l;
    spill_reap_stats one = reap_with(serial.root, 1, 0, NULL);
    spill_reap_stats many = reap_with(par.root, threads, 0, &l);
    assert_same(&one, &many);
    CU_ASSERT_EQUAL(many.scanned, ORPHANS + HOLDERS + 3);
    CU_ASSERT_EQUAL(many.reaped, ORPHANS);
    CU_ASSERT_EQUAL(many.live, HOLDERS);
    CU_ASSERT_EQUAL(many.unsafe, 3);
    CU_ASSERT_EQUAL(many.errors, 0);
    CU_ASSERT_EQUAL(many.files_removed, par.files);
    CU_ASSERT_EQUAL(many.bytes_freed, par.bytes);
    CU_ASSERT_EQUAL(l.reaped_lines, ORPHANS); /* every removal reported... */
    CU_ASSERT(l.calls >= ORPHANS + 3);
    CU_ASSERT_EQUAL(l.elsewhere, 0);           /* ...on the calling thread */
    CU_ASSERT(tu_count_entries(par.root) == HOLDERS + 3);
    finish(&serial);
    finish(&par);
}

static void test_four_threads(void)
{
    same_as_serial(4);
}

static void test_one_per_core(void)
{
    same_as_serial(0);
}

static int unlink_refuses_poison(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (!held && strcmp(name, "poison") == 0)
        return spill__error_os("unlinkat", name, EACCES);
    return spill__sys_default.unlink(at, name, is_dir, held);
}

/* A removal failing on a worker is counted, logged on the calling thread, and leaves the same
 * last error there as one thread does; the directory is left, the others go. */
static void test_worker_failure(void)
{
    unsigned threads[] = {1, 4};
    spill_error err[2];
    const char *msg[2];
    int i, k;
    for (k = 0; k < 2; k++) {
        const char *root = tu_fresh_dir("fail");
        const char *bad;
        spill_reap_stats st;
        log_seen l;
        for (i = 0; i < 40; i++)
            tu_make_spill_dir(root, OLD, (uint64_t)i, 3, tu_record((uint64_t)i));
        bad = tu_join(root, "spill_1000000000_17");
        CU_ASSERT_FATAL(tu_write_file(tu_join(bad, "poison"), "x") == 0);
        spill__error_clear();
        spill__sys.unlink = unlink_refuses_poison;
        st = reap_with(root, threads[k], 0, &l);
        spill__sys.unlink = spill__sys_default.unlink;
        err[k] = *spill_error_last();
        /* the same message as one thread leaves, but for the root and the trash name the
         * orphan was given (rule 6) */
        bad = tu_left_as_trash(root, bad);
        msg[k] = strstr(err[k].message, apr_pstrcat(tu_pool, tu_base_name(bad), "/poison", NULL));
        CU_ASSERT_FATAL(msg[k] != NULL);
        msg[k] += strlen(tu_base_name(bad));
        msg[k] = apr_pstrdup(tu_pool, msg[k]);
        CU_ASSERT(strstr(err[k].path, root) == err[k].path);
        CU_ASSERT_EQUAL(st.reaped, 39);
        CU_ASSERT_EQUAL(st.errors, 1);
        CU_ASSERT_EQUAL(l.error_lines, 1);
        CU_ASSERT_EQUAL(l.elsewhere, 0);
        CU_ASSERT(tu_exists(tu_join(bad, "poison")));
        CU_ASSERT(tu_count_entries(root) == 1);
    }
    CU_ASSERT_EQUAL(err[1].code, SPILL_EACCES);
    CU_ASSERT_EQUAL(err[1].os_error, EACCES);
    CU_ASSERT_STRING_EQUAL(err[1].op, "unlinkat");
    CU_ASSERT_EQUAL(err[0].code, err[1].code);
    CU_ASSERT_STRING_EQUAL(err[0].op, err[1].op);
    CU_ASSERT_STRING_EQUAL(msg[0], msg[1]);
}

/* Rule 10: the budget stops the handing out, and the workers too, inside an orphan: what is
 * cut short keeps its .lock and is finished by the next reap; nothing is counted twice. */
static void test_budget(void)
{
    const char *root = tu_fresh_dir("pbudget");
    spill_reap_stats st;
    log_seen l;
    uint64_t files;
    int i;
    for (i = 0; i < 300; i++)
        tu_make_spill_dir(root, OLD, (uint64_t)i, 4, tu_record((uint64_t)i));
    st = reap_with(root, 4, 1, &l);
    CU_ASSERT(st.budget_exhausted == 1);
    CU_ASSERT(st.reaped < 300);
    CU_ASSERT(st.files_removed >= 1);             /* the first entry is always taken */
    CU_ASSERT(st.scanned >= st.reaped && st.errors == 0);
    CU_ASSERT(tu_count_entries(root) == 300 - (int)st.reaped);
    CU_ASSERT_EQUAL(l.elsewhere, 0);
    files = st.files_removed;
    st = reap_with(root, 4, 0, NULL);
    CU_ASSERT(st.budget_exhausted == 0);
    CU_ASSERT(st.errors == 0);
    CU_ASSERT(files + st.files_removed == 300 * 5);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* A libc that reads a listing one name at a time (musl's readdir fetches 2 KiB, glibc's
 * 32 KiB): the root's listing answers each call from the directory as it is then, skipping
 * the names it returned. Other listings (the workers' walks) are left alone. */
static struct {
    spill__stat root;
    spill__dir *listing;
    char *seen[512];
    size_t n;
} unbuffered;

static int unbuffered_open(spill__fd fd, spill__dir **out)
{
    spill__stat st;
    int rc = spill__sys_default.list_open(fd, out);
    if (rc == SPILL_OK && spill__sys_default.stat(fd, NULL, &st) == SPILL_OK &&
        st.dev == unbuffered.root.dev && st.ino == unbuffered.root.ino) {
        unbuffered.listing = *out;
        unbuffered.n = 0;
    }
    return rc;
}

static int unbuffered_seen(const char *name)
{
    size_t i;
    for (i = 0; i < unbuffered.n; i++)
        if (strcmp(unbuffered.seen[i], name) == 0)
            return 1;
    return 0;
}

static int unbuffered_next(spill__dir *d, const char **name)
{
    int rc;
    if (d != unbuffered.listing)
        return spill__sys_default.list_next(d, name);
    spill__sys_default.list_seek(d, 0);
    while ((rc = spill__sys_default.list_next(d, name)) == SPILL_OK && *name &&
           unbuffered_seen(*name))
        ;
    if (rc == SPILL_OK && *name) {
        CU_ASSERT_FATAL(unbuffered.n < sizeof unbuffered.seen / sizeof unbuffered.seen[0]);
        *name = unbuffered.seen[unbuffered.n++] = apr_pstrdup(tu_pool, *name);
    }
    return rc;
}

/* the workers' removals slowed, so that their trash names stay a while */
static int unlink_slowly(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (!is_dir && !held)
        apr_sleep(apr_time_from_msec(2));
    return spill__sys_default.unlink(at, name, is_dir, held);
}

/* The trap of a listing read while workers remove: a worker renames its orphan to a trash
 * name in the root, and a readdir that fetches little at a time may return that name before
 * the worker is done: judged again, as live (the worker holds its lock). Each entry is judged
 * once, with one thread or four. */
static void test_unbuffered_listing(void)
{
    unsigned threads[] = {1, 4};
    int i, k;
    for (k = 0; k < 2; k++) {
        const char *root = tu_fresh_dir("unbuffered");
        spill_reap_stats st;
        for (i = 0; i < 60; i++)
            tu_make_spill_dir(root, OLD, (uint64_t)i, 2, tu_record((uint64_t)i));
        CU_ASSERT_FATAL(spill__sys_default.stat(SPILL__NOFD, root, &unbuffered.root) == SPILL_OK);
        spill__sys.list_open = unbuffered_open;
        spill__sys.list_next = unbuffered_next;
        spill__sys.unlink = unlink_slowly;
        st = reap_with(root, threads[k], 0, NULL);
        spill__sys.list_open = spill__sys_default.list_open;
        spill__sys.list_next = spill__sys_default.list_next;
        spill__sys.unlink = spill__sys_default.unlink;
        unbuffered.listing = NULL;
        CU_ASSERT_EQUAL(st.scanned, 60);
        CU_ASSERT_EQUAL(st.reaped, 60);
        CU_ASSERT_EQUAL(st.live, 0);
        CU_ASSERT_EQUAL(st.errors, 0);
        CU_ASSERT_EQUAL(st.files_removed, 60 * 3);
        CU_ASSERT(tu_count_entries(root) == 0);
    }
}

typedef struct racer {
    const char *root;
    spill_reap_stats st;
} racer;

static void *APR_THREAD_FUNC race_thread(apr_thread_t *t, void *arg)
{
    racer *r = arg;
    spill_opts o;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = 3;
    memset(&r->st, 0, sizeof r->st);
    if (spill_reap(r->root, &o, &r->st) != SPILL_OK)
        r->st.errors += 1000;
    (void)t;
    return NULL; /* not apr_thread_exit: under ASan, pthread_exit unwinds without unpoisoning
                     the frames (a false stack-use-after-scope in sigaltstack) */
}

/* Two parallel reapers over one root: each orphan reaped exactly once, no errors. */
static void test_parallel_reapers_race(void)
{
    const char *root = tu_fresh_dir("prace");
    racer r[2];
    apr_thread_t *t[2];
    apr_status_t rv;
    int i;
    for (i = 0; i < 200; i++)
        tu_make_spill_dir(root, OLD, (uint64_t)i, 3, tu_record((uint64_t)i));
    for (i = 0; i < 2; i++) {
        r[i].root = root;
        CU_ASSERT_FATAL(apr_thread_create(&t[i], NULL, race_thread, &r[i], tu_pool) == 0);
    }
    for (i = 0; i < 2; i++)
        apr_thread_join(&rv, t[i]);
    CU_ASSERT_EQUAL(r[0].st.reaped + r[1].st.reaped, 200);
    CU_ASSERT_EQUAL(r[0].st.errors + r[1].st.errors, 0);
    CU_ASSERT_EQUAL(r[0].st.files_removed + r[1].st.files_removed, 200 * 4);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static CU_TestInfo tests[] = {
    {"threads=4: the counts of one thread, live spills kept, logs on the caller",
     test_four_threads},
    {"threads=0 (one per core): the same", test_one_per_core},
    {"a worker's failure is counted and reported on the calling thread", test_worker_failure},
    {"budget with threads=4", test_budget},
    {"a listing read one name at a time while workers remove: each entry judged once",
     test_unbuffered_listing},
    {"two parallel reapers racing over 200 orphans", test_parallel_reapers_race},
    CU_TEST_INFO_NULL,
};

test_suite suite_parallel = {"parallel", tests};
