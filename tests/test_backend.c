/* test_backend.c: the lock backend's guarantees inside one process (fcntl's traps: a same-process
 * probe, a close of another descriptor, threads, fork, exec), run against every backend. */
#include <stdio.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "testutil.h"

#ifndef _WIN32
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "posix/posix.h"

/* open descriptors of this process, to show none was leaked (or left parked) */
static int count_fds(void)
{
    int fd, n = 0;
    for (fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}
#endif

/* a probe from another process: "busy", "free" or "error N" */
static const char *probe_helper(const char *dir)
{
    const char *args[] = {dir, NULL};
    return tu_run_helper("probe", args);
}

/* a probe from this process, as a reaper here would make it; a lock it gets is released */
static int probe_here(const char *dir)
{
    spill__fd d, lk;
    int rc = spill__sys.open_dir(SPILL__NOFD, dir, 0, &d);
    if (rc != SPILL_OK)
        return rc;
    rc = spill__sys.lock_probe(d, SPILL__LOCK_NAME, SPILL__PROBE_LOCK, &lk);
    if (rc == SPILL_OK) {
        spill__stat st;
        /* a closing owner unlinks .lock and then lets go of it (rule 6): a lock taken on a
         * .lock no longer linked is a spill going away, not a live one found free */
        if (spill__sys.stat(lk, NULL, &st) == SPILL_OK && st.nlink == 0)
            rc = SPILL_ENOTFOUND;
        spill__sys.unlock(lk);
    }
    spill__sys.close(d);
    return rc;
}

static spill_t *open_spill(const char *root, const char **path)
{
    spill_t *s = NULL;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    *path = apr_pstrdup(tu_pool, spill_path(s));
    return s;
}

/* Trap 1 (fcntl locks belong to the process): the owner's own process must see "busy". */
static void test_probe_own_process_busy(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    CU_ASSERT(probe_here(path) == SPILL_EBUSY);
    CU_ASSERT(probe_here(path) == SPILL_EBUSY);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
}

/* Trap 2 (the first close of any descriptor drops the process's locks): whatever a probe here
 * does with the .lock it looks at, the owner's lock must outlive it. */
static void test_probe_own_process_keeps_lock(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    int i;
    for (i = 0; i < 3; i++)
        probe_here(path);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Trap 2 again: a second name (a hard link) for a live .lock, planted in a fake spill, is
 * probed in the owner's process; the owner's lock must survive the probe. */
static void test_hard_link_to_live_lock(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    const char *fake = tu_join(root, "spill_1_1");
    spill_t *s = open_spill(root, &path);
    int rc;
    CU_ASSERT_FATAL(apr_dir_make(fake, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_link(tu_join(path, ".lock"), tu_join(fake, ".lock")) ==
                    APR_SUCCESS);
    rc = probe_here(fake);
    CU_ASSERT(rc == SPILL_EBUSY || rc == SPILL_EUNSAFE);
    CU_ASSERT(apr_file_remove(tu_join(fake, ".lock"), tu_pool) == APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static void test_two_spills_one_process(void)
{
    const char *p1, *p2, *root = tu_fresh_dir("backend");
    spill_t *s1 = open_spill(root, &p1), *s2 = open_spill(root, &p2);
    CU_ASSERT(probe_here(p1) == SPILL_EBUSY);
    CU_ASSERT(probe_here(p2) == SPILL_EBUSY);
    CU_ASSERT(probe_here(p1) == SPILL_EBUSY);
    CU_ASSERT_STRING_EQUAL(probe_helper(p1), "busy");
    CU_ASSERT_STRING_EQUAL(probe_helper(p2), "busy");
    CU_ASSERT(spill_close(s1) == SPILL_OK);
    /* closing one leaves the other locked */
    CU_ASSERT(probe_here(p2) == SPILL_EBUSY);
    CU_ASSERT_STRING_EQUAL(probe_helper(p2), "busy");
    CU_ASSERT(spill_close(s2) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* chunks put by put_chunks(s, seed, n) are all there, byte for byte */
static void put_chunks(spill_t *s, unsigned seed, int n)
{
    int k;
    for (k = 0; k < n; k++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[32];
        snprintf(buf, sizeof buf, "chunk %u.%d", seed, k);
        tu_addr(a, seed * 1000 + (unsigned)k);
        CU_ASSERT(spill_put(s, a, buf, strlen(buf)) == SPILL_OK);
    }
}

static void chunks_intact(spill_t *s, const char *path, unsigned seed, int n)
{
    int k;
    CU_ASSERT(tu_count_entries(path) == n + 1);
    CU_ASSERT(spill_count(s) == (size_t)n);
    for (k = 0; k < n; k++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[32];
        void *data;
        size_t len;
        snprintf(buf, sizeof buf, "chunk %u.%d", seed, k);
        tu_addr(a, seed * 1000 + (unsigned)k);
        CU_ASSERT_FATAL(spill_get(s, a, &data, &len) == SPILL_OK);
        CU_ASSERT(len == strlen(buf) && memcmp(data, buf, len) == 0);
        spill_free(data);
    }
}

/* Traps 1 and 2 at the reaper: a reap (grace 0) in the owner's own process. */
static void test_reap_own_process(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    spill_reap_stats st;
    put_chunks(s, 1, 3);
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 1 && st.reaped == 0 && st.errors == 0);
    chunks_intact(s, path, 1, 3);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 1 && st.reaped == 0);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
}

static void test_reap_two_spills_one_process(void)
{
    const char *p1, *p2, *root = tu_fresh_dir("backend");
    spill_t *s1 = open_spill(root, &p1), *s2 = open_spill(root, &p2);
    spill_reap_stats st;
    put_chunks(s1, 1, 2);
    put_chunks(s2, 2, 4);
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 2 && st.reaped == 0 && st.errors == 0);
    chunks_intact(s1, p1, 1, 2);
    chunks_intact(s2, p2, 2, 4);
    CU_ASSERT_STRING_EQUAL(probe_helper(p1), "busy");
    CU_ASSERT_STRING_EQUAL(probe_helper(p2), "busy");
    CU_ASSERT(spill_close(s1) == SPILL_OK);
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 1 && st.reaped == 0);
    chunks_intact(s2, p2, 2, 4);
    CU_ASSERT_STRING_EQUAL(probe_helper(p2), "busy");
    CU_ASSERT(spill_close(s2) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static int count_live(void *ctx, const spill_entry *e)
{
    *(int *)ctx += e->state == SPILL_LIVE;
    return 0;
}

/* Trap 2 at the reaper and at scan: a fake spill holding a second name (hard link) of a live
 * .lock is judged in the owner's process; the registry does not know it, only the lock table
 * does. The owner's lock must survive the reap and the scan. */
static void test_reap_scan_hard_link(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    const char *fake = tu_join(root, "spill_1_1");
    spill_reap_stats st;
    int live = 0;
#ifndef _WIN32
    int fds_before = count_fds();
#endif
    spill_t *s = open_spill(root, &path);
    put_chunks(s, 3, 2);
    CU_ASSERT_FATAL(apr_dir_make(fake, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_link(tu_join(path, ".lock"), tu_join(fake, ".lock")) ==
                    APR_SUCCESS);
    st = tu_reap(root, 0);
    CU_ASSERT(st.reaped == 0 && st.live + st.unsafe == 2);
    CU_ASSERT(tu_exists(tu_join(fake, ".lock")));
    /* (the link goes before each helper probe: it would call a two-link .lock unsafe) */
    CU_ASSERT(apr_file_remove(tu_join(fake, ".lock"), tu_pool) == APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT_FATAL(apr_file_link(tu_join(path, ".lock"), tu_join(fake, ".lock")) ==
                    APR_SUCCESS);
    CU_ASSERT(spill_scan(root, NULL, count_live, &live) == SPILL_OK);
    CU_ASSERT(tu_exists(tu_join(fake, ".lock")));
    CU_ASSERT(apr_file_remove(tu_join(fake, ".lock"), tu_pool) == APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    chunks_intact(s, path, 3, 2);
    CU_ASSERT(spill_close(s) == SPILL_OK);
#ifndef _WIN32
    CU_ASSERT(count_fds() == fds_before); /* what was parked went with the lock */
#endif
}

/* spill_scan in the owner's process reports the spill live and leaves its lock held. */
static void test_scan_own_process(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    int live = 0;
    CU_ASSERT(spill_scan(root, NULL, count_live, &live) == SPILL_OK);
    CU_ASSERT(live == 1);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* ---- threads: open, put, probe each other, close, all at once in one process ---- */

#define NTHREADS 8
#define NCHUNKS 8

typedef struct shared {
    const char *root;
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv;
    char paths[NTHREADS][1024];
    int ready, go;
} shared;

typedef struct worker {
    shared *sh;
    int i;
    int open_rc, bad_put, bad_get, probe_free, probe_odd, reaped, reap_errors, close_rc;
} worker;

/* In phase 2 a spill may vanish under a probe as its owner closes it: gone, or (flock, which
 * opens .lock before the owner unlinks it) a .lock left with no link, which is "unsafe". */
static int vanishing(int rc)
{
    return rc == SPILL_ENOTFOUND || rc == SPILL_EUNSAFE;
}

/* every spill_* under the root is live while the workers run: a probe must never get it */
static void probe_all(worker *w, int phase, apr_pool_t *pool)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    if (apr_dir_open(&d, w->sh->root, pool) != APR_SUCCESS) {
        w->probe_odd++;
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        int rc;
        if (strncmp(fi.name, "spill_", 6) != 0)
            continue;
        rc = probe_here(apr_pstrcat(pool, w->sh->root, "/", fi.name, NULL));
        if (rc == SPILL_OK)
            w->probe_free++;
        else if (rc != SPILL_EBUSY && !(phase == 2 && vanishing(rc)))
            w->probe_odd++;
    }
    apr_dir_close(d);
}

static void put_and_check(worker *w, spill_t *s)
{
    int k;
    for (k = 0; k < NCHUNKS; k++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[64];
        snprintf(buf, sizeof buf, "worker %d chunk %d", w->i, k);
        tu_addr(a, (unsigned)(w->i * 1000 + k));
        w->bad_put += spill_put(s, a, buf, strlen(buf)) != SPILL_OK;
    }
    for (k = 0; k < NCHUNKS; k++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[64];
        void *data;
        size_t len;
        snprintf(buf, sizeof buf, "worker %d chunk %d", w->i, k);
        tu_addr(a, (unsigned)(w->i * 1000 + k));
        if (spill_get(s, a, &data, &len) != SPILL_OK) {
            w->bad_get++;
            continue;
        }
        w->bad_get += len != strlen(buf) || memcmp(data, buf, len) != 0;
        spill_free(data);
    }
}

/* a reap (grace 0) in the workers' process: nothing under the root is an orphan */
static void reap_here(worker *w)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    memset(&st, 0, sizeof st);
    if (spill_reap(w->sh->root, &o, &st) != SPILL_OK)
        w->reap_errors++;
    w->reaped += (int)st.reaped;
    w->reap_errors += (int)st.errors;
}

/* open, put, probe and reap the others; wait for the main thread's helper probes; probe and
 * reap again while the others close; close */
static void *APR_THREAD_FUNC worker_main(apr_thread_t *t, void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    spill_t *s = NULL;
    apr_pool_t *pool;
    apr_pool_create(&pool, NULL);
    w->open_rc = spill_open(sh->root, NULL, &s);
    if (w->open_rc == SPILL_OK) {
        put_and_check(w, s);
        snprintf(sh->paths[w->i], sizeof sh->paths[w->i], "%s", spill_path(s));
    }
    probe_all(w, 1, pool);
    reap_here(w);
    apr_thread_mutex_lock(sh->mu);
    sh->ready++;
    apr_thread_cond_broadcast(sh->cv);
    while (!sh->go)
        apr_thread_cond_wait(sh->cv, sh->mu);
    apr_thread_mutex_unlock(sh->mu);
    probe_all(w, 2, pool);
    reap_here(w);
    if (s)
        w->close_rc = spill_close(s);
    apr_pool_destroy(pool);
    (void)t;
    return NULL; /* not apr_thread_exit: under ASan, pthread_exit unwinds without unpoisoning
                     the frames (a false stack-use-after-scope in sigaltstack) */
}

static void test_threads(void)
{
    shared sh;
    worker w[NTHREADS];
    apr_thread_t *t[NTHREADS];
    int i;
    memset(&sh, 0, sizeof sh);
    sh.root = tu_fresh_dir("backend-threads");
    CU_ASSERT_FATAL(apr_thread_mutex_create(&sh.mu, APR_THREAD_MUTEX_DEFAULT, tu_pool) ==
                    APR_SUCCESS);
    CU_ASSERT_FATAL(apr_thread_cond_create(&sh.cv, tu_pool) == APR_SUCCESS);
    for (i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].sh = &sh;
        w[i].i = i;
        CU_ASSERT_FATAL(apr_thread_create(&t[i], NULL, worker_main, &w[i], tu_pool) ==
                        APR_SUCCESS);
    }
    apr_thread_mutex_lock(sh.mu);
    while (sh.ready < NTHREADS)
        apr_thread_cond_wait(sh.cv, sh.mu);
    apr_thread_mutex_unlock(sh.mu);
    /* every worker's spill is live, and another process sees its lock held */
    for (i = 0; i < NTHREADS; i++)
        if (w[i].open_rc == SPILL_OK)
            CU_ASSERT_STRING_EQUAL(probe_helper(sh.paths[i]), "busy");
    apr_thread_mutex_lock(sh.mu);
    sh.go = 1;
    apr_thread_cond_broadcast(sh.cv);
    apr_thread_mutex_unlock(sh.mu);
    for (i = 0; i < NTHREADS; i++) {
        apr_status_t st;
        apr_thread_join(&st, t[i]);
        CU_ASSERT(w[i].open_rc == SPILL_OK);
        CU_ASSERT(w[i].bad_put == 0 && w[i].bad_get == 0);
        CU_ASSERT(w[i].probe_free == 0);
        CU_ASSERT(w[i].probe_odd == 0);
        CU_ASSERT(w[i].reaped == 0 && w[i].reap_errors == 0);
        CU_ASSERT(w[i].close_rc == SPILL_OK);
    }
    CU_ASSERT(tu_count_entries(sh.root) == 0);
}

#ifndef _WIN32
/* ---- fork and exec (POSIX) ---- */

static int child_checks(spill_t *s, const char *path)
{
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    int bad = 0;
    tu_addr(a, 1);
    /* the parent holds the lock; the child holds none, whatever it inherited */
    bad += probe_here(path) != SPILL_EBUSY;
    bad += spill_put(s, a, "child", 5) != SPILL_EFORKED;
    bad += spill_get(s, a, &data, &len) != SPILL_EFORKED;
    bad += spill_close(s) != SPILL_EFORKED;
    bad += probe_here(path) != SPILL_EBUSY;
    return bad;
}

/* Trap 3 (not inherited by fork): the child can neither use nor release the parent's lock. */
static void test_fork_parent_lock_survives(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    uint8_t a[SPILL_ADDR_LEN];
    pid_t pid;
    int status;
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "parent", 6) == SPILL_OK);
    fflush(stdout);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(child_checks(s, path));
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(probe_here(path) == SPILL_EBUSY);
    CU_ASSERT(spill_count(s) == 1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
}

/* Runs forkhold: its parent holds a spill and is killed; returns what its child then saw. */
static const char *forkhold_child_sees(const char *root, const char *mode)
{
    const char *path, *line, *args[] = {root, mode, NULL};
    int code;
    apr_exit_why_e why;
    void (*old_pipe)(int);
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "forkhold", args) == 0);
    path = tu_read_line(&p);
    CU_ASSERT_FATAL(path != NULL && strncmp(path, root, strlen(root)) == 0);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    apr_proc_kill(&p.proc, SIGKILL);
    apr_proc_wait(&p.proc, &code, &why, APR_WAIT);
    /* the parent is reaped: now the orphaned child probes, and says what it saw (were the
     * child gone, the write must fail the test, not kill the test binary) */
    old_pipe = signal(SIGPIPE, SIG_IGN);
    CU_ASSERT(apr_file_puts("go\n", p.in) == APR_SUCCESS);
    signal(SIGPIPE, old_pipe);
    line = tu_read_line(&p);
    apr_file_close(p.in);
    apr_file_close(p.out);
    return line ? line : "(nothing)";
}

/* Trap 3: a forked child must not trust the table it inherited. Its parent holds a spill and
 * is killed; the child, which closed its copy of the handle, must then find the lock free. */
static void test_forked_child_sees_orphan(void)
{
    CU_ASSERT_STRING_EQUAL(forkhold_child_sees(tu_fresh_dir("backend"), "close"), "free");
}

/* The same with a child that keeps its copy of the handle. fcntl: the child holds no lock and
 * must not believe it does. flock: the fork handler closed the child's copy of the descriptor
 * (rule 14), so it does not keep the dead parent's lock either. */
static void test_forked_child_keeps_handle(void)
{
    CU_ASSERT_STRING_EQUAL(forkhold_child_sees(tu_fresh_dir("backend"), "keep"), "free");
}

/* Trap 3 (locks survive exec): no descriptor on .lock (nor the directory) may leak into a
 * program this process runs, or a long-lived child would keep a dead owner's spill alive. */
static void test_exec_no_leak(void)
{
    const char *path, *root = tu_fresh_dir("backend");
    spill_t *s = open_spill(root, &path);
    const char *args[] = {NULL, NULL, NULL};
    args[0] = tu_join(path, ".lock");
    args[1] = path;
    CU_ASSERT_STRING_EQUAL(tu_run_helper("fds", args), "clean");
    CU_ASSERT(probe_here(path) == SPILL_EBUSY); /* a same-process probe parks no descriptor */
    CU_ASSERT_STRING_EQUAL(tu_run_helper("fds", args), "clean");
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

#endif

#if !defined(_WIN32) && defined(SPILL_LOCK_FCNTL)
static const char *swap_from, *swap_to;

static void swap_in_live_lock(spill__fd at, const char *name)
{
    (void)at;
    (void)name;
    rename(swap_from, swap_to);
}

/* Trap 2, the race: the probe examines a stranger's .lock, then the name is replaced by a hard
 * link to our live .lock before the probe opens it. Through /proc (Linux) the probe opens the
 * examined inode, never the new name; by name (elsewhere) it sees the swap and keeps (parks)
 * that descriptor, not closing it, and the owner's unlock closes it in the end. Either way the
 * owner's lock survives. */
static void race_once(int by_name)
{
    const char *path, *root = tu_fresh_dir("backend");
    const char *fake = tu_join(root, "spill_1_1");
    int before = count_fds(), rc;
    spill_t *s = open_spill(root, &path);
    CU_ASSERT_FATAL(apr_dir_make(fake, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(tu_write_file(tu_join(fake, ".lock"), "") == 0);
    CU_ASSERT_FATAL(link(tu_join(path, ".lock"), tu_join(fake, "link")) == 0);
    swap_from = tu_join(fake, "link");
    swap_to = tu_join(fake, ".lock");
    spill__posix_knobs.fcntl_probe_hook = swap_in_live_lock;
    spill__posix_knobs.lock_reopen_by_name = by_name;
    rc = probe_here(fake);
    spill__posix_knobs.lock_reopen_by_name = 0;
    spill__posix_knobs.fcntl_probe_hook = NULL;
    /* by name: the swap is seen; through /proc: the examined file, unlinked by the swap, has
     * no link left. Unsafe either way, and never our live .lock */
    CU_ASSERT(rc == SPILL_EUNSAFE);
    CU_ASSERT(!tu_exists(swap_from)); /* the swap did happen */
    CU_ASSERT(apr_file_remove(swap_to, tu_pool) == APR_SUCCESS);
    CU_ASSERT_STRING_EQUAL(probe_helper(path), "busy");
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(count_fds() == before); /* the parked descriptor was closed with the lock */
}

static void test_probe_race_parks(void)
{
    race_once(0);
    race_once(1);
}
#else
static void test_probe_race_parks(void)
{
    TU_SKIP("needs the fcntl backend");
}
#endif

static CU_TestInfo tests[] = {
    {"trap 1: a probe in the owner's process sees busy", test_probe_own_process_busy},
    {"trap 2: a probe in the owner's process keeps the lock", test_probe_own_process_keeps_lock},
    {"trap 2: a hard link to a live lock, probed here", test_hard_link_to_live_lock},
    {"trap 2: a name swapped under a probe is parked", test_probe_race_parks},
    {"two spills in one process", test_two_spills_one_process},
    {"threads open, put, probe, reap and close at once", test_threads},
    {"a reap in the owner's process leaves it live", test_reap_own_process},
    {"a reap with two spills in one process", test_reap_two_spills_one_process},
    {"trap 2: reap and scan meet a hard link to a live lock", test_reap_scan_hard_link},
    {"a scan in the owner's process leaves it locked", test_scan_own_process},
#ifndef _WIN32
    {"trap 3: fork: child gets EFORKED, parent's lock survives", test_fork_parent_lock_survives},
    {"trap 3: fork: a child does not trust what it inherited", test_forked_child_sees_orphan},
    {"trap 3: fork: the same, the child keeping its handle", test_forked_child_keeps_handle},
    {"trap 3: exec: no lock descriptor leaks into a child", test_exec_no_leak},
#endif
    CU_TEST_INFO_NULL,
};

test_suite suite_backend = {"backend", tests};
