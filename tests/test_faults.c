/* test_faults.c: the library on a host already in trouble (full disk, quota, I/O errors, no locks,
 * no descriptors left), by failing operations of the table (faults.h): every failure is reported,
 * nothing partial is left that the next reap would not remove, and no live spill is harmed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "faults.h"
#include "testutil.h"

#define OLD 1000000000ULL /* a name timestamp in 2001 */

/* ---- live spills that must come through every fault unharmed ---- */

/* A: a spill of this process; B: a spill held by a helper process. */
typedef struct lives {
    const char *root;
    spill_t *a;
    const char *a_name, *b_name, *b_path, *b_before;
    tu_proc b;
} lives;

#define A_CHUNKS 3

static void a_chunk(unsigned i, uint8_t addr[SPILL_ADDR_LEN], char *buf, size_t size)
{
    tu_addr(addr, 100 + i);
    snprintf(buf, size, "live chunk %u of A", i);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void lives_start(lives *l, const char *root)
{
    const char *args[] = {root, "2", NULL};
    spill_opts o;
    unsigned i;
    memset(l, 0, sizeof *l);
    l->root = root;
    spill_opts_init(&o);
    o.reap_on_open = 0;
    CU_ASSERT_FATAL(spill_open(root, &o, &l->a) == SPILL_OK);
    for (i = 0; i < A_CHUNKS; i++) {
        uint8_t addr[SPILL_ADDR_LEN];
        char buf[64];
        a_chunk(i, addr, buf, sizeof buf);
        CU_ASSERT_FATAL(spill_put(l->a, addr, buf, strlen(buf)) == SPILL_OK);
    }
    l->a_name = apr_pstrdup(tu_pool, base_name(spill_path(l->a)));
    CU_ASSERT_FATAL(tu_spawn(&l->b, "hold", args) == 0);
    l->b_path = tu_read_line(&l->b);
    CU_ASSERT_FATAL(l->b_path != NULL && strncmp(l->b_path, root, strlen(root)) == 0);
    l->b_name = base_name(l->b_path);
    l->b_before = tu_snapshot(l->b_path);
}

/* Both still there, A's chunks read back equal, B's directory unchanged. */
static int lives_intact(lives *l)
{
    unsigned i;
    int ok = spill_count(l->a) == A_CHUNKS && tu_exists(tu_join(l->root, l->a_name));
    for (i = 0; ok && i < A_CHUNKS; i++) {
        uint8_t addr[SPILL_ADDR_LEN];
        char buf[64];
        void *data;
        size_t len;
        a_chunk(i, addr, buf, sizeof buf);
        ok = spill_get(l->a, addr, &data, &len) == SPILL_OK;
        if (ok) {
            ok = len == strlen(buf) && memcmp(data, buf, len) == 0;
            spill_free(data);
        }
    }
    return ok && strcmp(tu_snapshot(l->b_path), l->b_before) == 0;
}

static void lives_stop(lives *l)
{
    CU_ASSERT(spill_close(l->a) == SPILL_OK);
    CU_ASSERT(tu_wait(&l->b) == 0); /* B closes gracefully at EOF on its stdin */
    CU_ASSERT(tu_count_entries(l->root) == 0);
}

/* ---- small helpers ---- */

static spill_reap_stats reap0(const char *root, int *rc)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = 1; /* the fault counts are not atomic */
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    *rc = spill_reap(root, &o, &st);
    return st;
}

/* Moves a staging directory's name and mtime 61 s into the past: old enough for rule 5. */
static void age_staging(const char *root, const char *name)
{
    int64_t then = spill__now() - 61;
    const char *rnd = strrchr(name, '_');
    const char *to;
    CU_ASSERT_FATAL(rnd != NULL);
    to = apr_psprintf(tu_pool, "%s/.spill-new_%" APR_INT64_T_FMT "%s", root, (apr_int64_t)then,
                      rnd);
    CU_ASSERT_FATAL(apr_file_rename(tu_join(root, name), to, tu_pool) == APR_SUCCESS);
    tu_set_mtime(to, then);
}

/* After a failure: what was left is what the next reaps remove. One reap with grace 0 leaves
 * only the live spills and staging directories without a record (they need 60 s whatever the
 * grace); once those are 61 s old, a second reap takes them. Returns 1 if the root then holds
 * exactly the live spills; *stages: how many staging directories the second reap took. */
static int settles(lives *l, int *stages_left)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    spill_reap_stats st;
    const char *stages[64];
    int rc, i, n = 0, others = 0;
    *stages_left = 0;
    st = reap0(l->root, &rc);
    if (rc != SPILL_OK || st.errors || st.unsafe || st.live != 2)
        return 0;
    CU_ASSERT_FATAL(apr_dir_open(&d, l->root, tu_pool) == APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..") || !strcmp(fi.name, l->a_name) ||
            !strcmp(fi.name, l->b_name) || !strncmp(fi.name, ".spill-reserve-", 15))
            continue; /* the two live spills, and the reservations' lock of the user */
        if (strncmp(fi.name, ".spill-new_", 11) == 0 && n < 64)
            stages[n++] = apr_pstrdup(tu_pool, fi.name);
        else
            others++;
    }
    apr_dir_close(d);
    *stages_left = n;
    if (others || st.young != (uint32_t)n)
        return 0;

    for (i = 0; i < n; i++)
        age_staging(l->root, stages[i]);
    if (n) {
        st = reap0(l->root, &rc);
        if (rc != SPILL_OK || st.errors || st.reaped != (uint32_t)n)
            return 0;
    }
    return tu_count_entries(l->root) == 2;
}

/* An orphan of a dead owner: a record, two chunks and a nested directory with a file. */
static const char *make_orphan(const char *root, uint64_t rnd)
{
    const char *d = tu_make_spill_dir(root, OLD, rnd, 2, tu_record(rnd));
    CU_ASSERT_FATAL(apr_dir_make(tu_join(d, "nested"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(d, "nested/inner"), "inner bytes") == 0);
    return d;
}

/* ---- spill_put on a full disk, over quota, with I/O errors ---- */

static void put_fault(fault_op op, unsigned before, int err, int want)
{
    const char *root = tu_fresh_dir("faultput"), *path;
    char hex[SPILL__HEX_LEN + 1], buf[4096];
    uint8_t addr[SPILL_ADDR_LEN], other[SPILL_ADDR_LEN];
    const spill_error *e;
    spill_t *s;
    unsigned i;
    void *data;
    size_t len;
    spill_opts o;
    int rc;
    /* reserved at the open: the puts below stay within it, so the faults hit the chunks' own
     * calls, not a reservation's */
    spill_opts_init(&o);
    o.expected_bytes = 1 << 20;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    memset(buf, 'x', sizeof buf);
    fault_disarm();
    fault_arm(op, before, 1, err);
    for (i = 0; i < before; i++) {
        tu_addr(addr, i);
        CU_ASSERT(spill_put(s, addr, buf, sizeof buf) == SPILL_OK);
    }
    tu_addr(addr, before);
    rc = spill_put(s, addr, buf, sizeof buf);
    CU_ASSERT(fault_fired(op) == 1);
    fault_disarm();
    /* reported: the code, the OS error, the call and the chunk's file inside the spill */
    e = spill_error_last();
    spill__hex(addr, hex);
    CU_ASSERT(rc == want);
    CU_ASSERT(e->code == want && e->os_error == err);
    CU_ASSERT_STRING_EQUAL(e->op, fault_failed_call());
    CU_ASSERT_STRING_EQUAL(e->path, apr_pstrcat(tu_pool, path, "/", hex, NULL));
    /* nothing partial left, nothing counted */
    CU_ASSERT(tu_count_entries(path) == 1 + (int)before);
    CU_ASSERT(!tu_exists(tu_join(path, hex)));
    CU_ASSERT(spill_count(s) == before);
    CU_ASSERT(spill_total_bytes(s) == (uint64_t)before * sizeof buf);
    /* still usable: the same address again, and another */
    tu_addr(other, 999);
    CU_ASSERT(spill_put(s, addr, buf, sizeof buf) == SPILL_OK);
    CU_ASSERT(spill_put(s, other, "after", 5) == SPILL_OK);
    CU_ASSERT(spill_count(s) == before + 2);
    CU_ASSERT(spill_get(s, addr, &data, &len) == SPILL_OK && len == sizeof buf &&
              memcmp(data, buf, len) == 0);
    spill_free(data);
    CU_ASSERT(spill_get(s, other, &data, &len) == SPILL_OK && len == 5);
    spill_free(data);
    /* and closable */
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT(tu_count_entries(root) == 0);
}

static void test_put_faults(void)
{
    static const fault_op ops[] = {FAULT_CREATE, FAULT_WRITE, FAULT_CLOSE};
    static const int errs[] = {FAULT_ENOSPC, FAULT_EDQUOT, FAULT_EIO};
    static const int want[] = {SPILL_ENOSPC, SPILL_ENOSPC, SPILL_EIO};
    unsigned o, e, before;
    for (o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (e = 0; e < sizeof errs / sizeof errs[0]; e++)
            for (before = 0; before <= 2; before += 2)
                put_fault(ops[o], before, errs[e], want[e]);
}

/* ---- spill_open failing at every step ---- */

/* Each call of op in turn fails (count 1, or every call from there on), with err. Returns the
 * number of calls of op a clean spill_open made (the loop's end). */
static unsigned open_fault(lives *l, fault_op op, unsigned count, int err)
{
    const spill_error *e;
    spill_opts o;
    spill_t *s;
    char msg[512];
    unsigned k;
    int rc, fds, stages = 0, may_leave;
    long pools;
    spill_opts_init(&o);
    o.expected_bytes = 1; /* the free-space check is a step too */
    o.threads = 1;
    for (k = 0;; k++) {
        unsigned fired;
        fds = fault_open_fds();
        pools = fault_pools_live();
        fault_disarm();
        fault_arm(op, k, count, err);
        rc = spill_open(l->root, &o, &s);
        fired = fault_fired(op);
        fault_disarm();
        e = spill_error_last();
        snprintf(msg, sizeof msg, "%s", rc == SPILL_OK ? "ok" : e->message);
        if (rc == SPILL_OK) {
            /* a fault it could retry past, or one in its reap (logged, never returned) */
            uint8_t addr[SPILL_ADDR_LEN];
            void *data;
            size_t len;
            tu_addr(addr, 7);
            CU_ASSERT(spill_put(s, addr, "new", 3) == SPILL_OK);
            CU_ASSERT(spill_get(s, addr, &data, &len) == SPILL_OK && len == 3);
            spill_free(data);
            CU_ASSERT(spill_close(s) == SPILL_OK);
        } else {
            CU_ASSERT(s == NULL);
            CU_ASSERT(fired > 0);
            CU_ASSERT(e->code == rc && e->message[0] != '\0');
            CU_ASSERT(e->os_error == err || e->os_error == 0);
            CU_ASSERT(strncmp(e->path, l->root, strlen(l->root)) == 0);
        }
        /* One failing call (count 1) leaves nothing, unless it kept the creator from knowing
         * its staging directory (opening it, or its fstat, failed): that one is left empty for
         * the 60 s rule, as removing by name alone is never done. */
        may_leave = count != 1 || strcmp(fault_failed_call(), "fstat") == 0 ||
                    strncmp(fault_failed_name(), ".spill-new_", 11) == 0;
        if (!settles(l, &stages) || (stages && !may_leave) || !lives_intact(l) ||
            (fds >= 0 && fault_open_fds() != fds) || fault_pools_live() != pools) {
            CU_FAIL("spill_open under a fault left something behind, leaked or harmed a spill");
            printf("\n  %s call %u (count %u, error %d): spill_open %d, %s; %d staging left\n",
                   fault_op_name(op), k, count, err, rc, msg, stages);
            return k;
        }
        if (!fired)
            return k;
    }
}

static void test_open_every_step(void)
{
    static const int errs[] = {FAULT_EIO, FAULT_ENOSPC, FAULT_ENOENT, FAULT_EEXIST};
    const char *root = tu_fresh_dir("faultopen");
    char line[512] = "";
    lives l;
    unsigned op, e, calls, total = 0;
    lives_start(&l, root);
    for (op = 0; op < FAULT_NOPS; op++) {
        calls = open_fault(&l, (fault_op)op, 1, errs[0]);
        for (e = 1; e < sizeof errs / sizeof errs[0]; e++)
            open_fault(&l, (fault_op)op, 1, errs[e]);
        open_fault(&l, (fault_op)op, FAULT_FOREVER, FAULT_EIO);
        total += calls;
        if (calls)
            snprintf(line + strlen(line), sizeof line - strlen(line), " %s %u",
                     fault_op_name((fault_op)op), calls);
    }
    /* the loop did walk through spill_open's steps, its reap's included */
    CU_ASSERT(total > 20);
    CU_ASSERT(fault_calls(FAULT_LOCK_CREATE) > 0 && fault_calls(FAULT_RENAME) > 0);
    printf("\n  spill_open's calls, each failed in turn:%s\n", line);
    CU_ASSERT(lives_intact(&l));
    lives_stop(&l);
}

/* ---- a reap failing in the middle ---- */

#define ORPHANS 4

/* The k-th call of op fails, and keeps failing for that one file (a bad block, say). */
static unsigned reap_fault(fault_op op, unsigned k)
{
    const char *root = tu_fresh_dir("faultreap"), *orphans[ORPHANS], *before, *trash;
    spill_reap_stats st;
    lives l;
    unsigned i, left = 0, fired;
    int rc, fds = fault_open_fds();
    lives_start(&l, root);
    for (i = 0; i < ORPHANS - 1; i++)
        orphans[i] = make_orphan(root, i + 1);
    /* and one without a .lock, long abandoned */
    orphans[i] = tu_make_spill_dir(root, OLD, 99, 2, NULL);
    tu_set_mtime(orphans[i], (int64_t)OLD);
    before = tu_snapshot(root);
    fault_disarm();
    fault_arm_sticky(op, k, FAULT_EIO);
    st = reap0(root, &rc);
    fired = fault_fired(op);
    fault_disarm();
    for (i = 0; i < ORPHANS; i++)
        left += tu_exists(orphans[i]);
    trash = tu_trash(root); /* an orphan with a lock left midway (rule 6) */
    left += trash != NULL;
    if (!fired) {
        CU_ASSERT(rc == SPILL_OK && st.errors == 0 && st.reaped == ORPHANS && left == 0);
    } else if (rc != SPILL_OK) {
        /* the root itself could not be opened or listed: reported, nothing touched */
        CU_ASSERT(rc == SPILL_EIO && spill_error_last()->os_error == FAULT_EIO);
        CU_ASSERT_STRING_EQUAL(tu_snapshot(root), before);
    } else {
        /* one entry is an error and is left; every other orphan is reaped */
        CU_ASSERT_EQUAL(st.errors, 1);
        CU_ASSERT_EQUAL(st.scanned, ORPHANS + 2);
        CU_ASSERT(left <= 1);
        CU_ASSERT_EQUAL(st.reaped, ORPHANS - left);
        CU_ASSERT_EQUAL(st.live, left ? 2 : 1); /* else the error was a live one, left */
        /* an orphan left with its record keeps it (and so is taken at once next time), unless
         * the failure came after its .lock went: removing the directory itself */
        if (trash && strcmp(fault_failed_call(), "rmdir") != 0)
            CU_ASSERT(tu_exists(tu_join(trash, ".lock")));
        for (i = 0; i < ORPHANS - 1; i++)
            if (tu_exists(orphans[i]) && strcmp(fault_failed_call(), "rmdir") != 0 &&
                strcmp(fault_failed_name(), base_name(orphans[i])) != 0)
                CU_ASSERT(tu_exists(tu_join(orphans[i], ".lock")));
    }
    CU_ASSERT(lives_intact(&l));
    /* the next reap finishes what was left */
    st = reap0(root, &rc);
    CU_ASSERT(rc == SPILL_OK && st.errors == 0 && st.live == 2 && st.reaped == left);
    CU_ASSERT(tu_count_entries(root) == 2);
    CU_ASSERT(lives_intact(&l));
    lives_stop(&l);
    /* counted once A is closed: with fcntl locks, the snapshot's reads of A's .lock in this
     * process are parked by the lock table until A lets go */
    CU_ASSERT(fds < 0 || fault_open_fds() == fds);
    return fired;
}

static void test_reap_fails_midway(void)
{
    static const fault_op ops[] = {FAULT_UNLINK, FAULT_OPEN_DIR, FAULT_DIR_OPEN};
    unsigned o, k;
    for (o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (k = 0; reap_fault(ops[o], k); k++)
            ;
        CU_ASSERT(k >= ORPHANS); /* at least one call per orphan was failed in turn */
    }
}

/* ---- the lock call refusing: ENOLCK (no locks on this filesystem) and EIO ---- */

static int lock_errors_logged;
static void count_errors(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level == 0 && strstr(msg, "cannot judge"))
        lock_errors_logged++;
}

static void lock_fault(int err, int want)
{
    const char *root = tu_fresh_dir("faultlock"), *before, *stage;
    spill_reap_stats st;
    spill_opts o;
    spill_t *s;
    lives l;
    int rc;
    lives_start(&l, root);
    make_orphan(root, 1);
    make_orphan(root, 2);
    tu_set_mtime(tu_make_spill_dir(root, OLD, 3, 1, "foreign"), (int64_t)OLD);
    stage = tu_join(root, ".spill-new_1000000000_4");
    CU_ASSERT_FATAL(apr_dir_make(stage, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(stage, ".lock"), tu_record(4)) == 0);
    before = tu_snapshot(root);

    /* the reaper: every entry with a .lock is an error, and nothing is removed */
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = 1;
    o.log = count_errors;
    lock_errors_logged = 0;
    memset(&st, 0, sizeof st);
    fault_disarm();
    fault_arm(FAULT_LOCK_PROBE, 0, FAULT_FOREVER, err);
    rc = spill_reap(root, &o, &st);
    fault_disarm();
    CU_ASSERT(rc == SPILL_OK);
#ifdef __linux__
    /* B, another process's live spill, is live by its directory lock (rule 13's live fast
     * path): its .lock is never opened, so the failing lock call never meets it */
    CU_ASSERT(st.scanned == 6 && st.errors == 4 && st.reaped == 0 && st.live == 2);
    CU_ASSERT(lock_errors_logged == 4);
#else
    CU_ASSERT(st.scanned == 6 && st.errors == 5 && st.reaped == 0 && st.live == 1);
    CU_ASSERT(lock_errors_logged == 5);
#endif
    CU_ASSERT_STRING_EQUAL(tu_snapshot(root), before);
    CU_ASSERT(lives_intact(&l));

    /* the creator: spill_open fails with the lock's error and leaves nothing behind */
    fault_arm(FAULT_LOCK_CREATE, 0, 1, err);
    rc = spill_open(root, &o, &s);
    fault_disarm();
    CU_ASSERT(rc == want && s == NULL);
    CU_ASSERT(spill_error_last()->code == want && spill_error_last()->os_error == err);
    CU_ASSERT_STRING_EQUAL(spill_error_last()->op, fault_failed_call());
    /* its reap took the orphans (the lock call was refused only to the creator) */
    CU_ASSERT_EQUAL(tu_count_entries(root), 2);
    CU_ASSERT(lives_intact(&l));
    lives_stop(&l);
}

static void test_lock_call_fails(void)
{
    lock_fault(FAULT_ENOLCK, SPILL_ENOLCK);
    lock_fault(FAULT_EIO, SPILL_EIO);
}

/* ---- out of descriptors (EMFILE) while walking trees ---- */

static int scan_count(void *ctx, const spill_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

/* Opening directories fails with EMFILE from the k-th call on (count 1: one call). */
static unsigned walk_fault(fault_op op, unsigned k, unsigned count)
{
    const char *root = tu_fresh_dir("faultfd"), *path, *orphan;
    spill_reap_stats st;
    spill_t *s;
    unsigned fired;
    int rc, fds, seen = 0;
    fds = fault_open_fds();
    orphan = make_orphan(root, 1);
    make_orphan(root, 2);
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK); /* reaps both, unfaulted */
    path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT_FATAL(!tu_exists(orphan));
    orphan = make_orphan(root, 3);
    make_orphan(root, 4);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(path, "sub"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(path, "sub/deeper"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, "sub/deeper/f"), "x") == 0);
    fault_disarm();
    fault_arm(op, k, count, FAULT_EMFILE);
    /* a scan, a reap and a close, all walking trees while descriptors run out */
    rc = spill_scan(root, NULL, scan_count, &seen);
    CU_ASSERT(rc == SPILL_OK || (rc == SPILL_EIO && spill_error_last()->os_error == FAULT_EMFILE));
    st = reap0(root, &rc);
    CU_ASSERT(rc == SPILL_OK || (rc == SPILL_EIO && spill_error_last()->os_error == FAULT_EMFILE));
    if (rc == SPILL_OK && st.reaped != 2)
        CU_ASSERT(st.errors > 0); /* what it could not reap, it reported */
    rc = spill_close(s);
    fired = fault_fired(op);
    fault_disarm();
    if (rc != SPILL_OK) {
        CU_ASSERT(rc == SPILL_EIO && spill_error_last()->os_error == FAULT_EMFILE);
        /* named where it is: under its trash name once renamed (rule 6) */
        const char *at = spill__platform_stages() ? tu_join(root, SPILL__TRASH_PREFIX) : path;
        CU_ASSERT(strncmp(spill_error_last()->path, at, strlen(at)) == 0);
    } else {
        CU_ASSERT(!tu_exists(path));
    }
    CU_ASSERT(fds < 0 || fault_open_fds() == fds); /* no descriptor leaked, s's closed */
    /* once descriptors are back, one reap clears everything (a failed close left an orphan) */
    st = reap0(root, &rc);
    CU_ASSERT(rc == SPILL_OK && st.errors == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
    CU_ASSERT(fds < 0 || fault_open_fds() == fds);
    return fired;
}

static void test_emfile_while_walking(void)
{
    static const fault_op ops[] = {FAULT_OPEN_DIR, FAULT_DIR_OPEN};
    unsigned o, k, n;
    for (o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (k = 0; walk_fault(ops[o], k, 1); k++)
            ;
        n = k;
        CU_ASSERT(n >= 6);
        for (k = 0; k < n; k++)
            walk_fault(ops[o], k, FAULT_FOREVER);
    }
}

/* ---- a slow filesystem against a tight budget ---- */

static int slow_fs_kind(spill__fd fd, int *kind)
{
    apr_sleep(apr_time_from_msec(20));
    return spill__sys_default.fs_kind(fd, kind);
}

/* A budget spent before the first entry (a slow disk, a loaded host) still lets each reap take
 * one entry (rule 10: the first is always started), so a tight budget slows reaping down but
 * can never stop it for good. */
static void test_budget_still_progresses(void)
{
    const char *root = tu_fresh_dir("faultslow");
    spill_reap_stats st;
    spill_opts o;
    uint32_t reaped = 0;
    int i;
    for (i = 0; i < 3; i++)
        make_orphan(root, (uint64_t)i + 1);
    spill_opts_init(&o);
    o.reap_budget_ms = 5;
    spill__sys.fs_kind = slow_fs_kind;
    for (i = 0; i < 60 && tu_count_entries(root) > 0; i++) {
        memset(&st, 0, sizeof st);
        CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
        CU_ASSERT(st.files_removed + st.reaped >= 1 && st.scanned == 1 && st.errors == 0);
        CU_ASSERT(st.budget_exhausted == 1 || tu_count_entries(root) == 0);
        reaped += st.reaped;
    }
    CU_ASSERT(tu_count_entries(root) == 0);
    CU_ASSERT(reaped == 3);
    fault_disarm();
}

static CU_TestInfo tests[] = {
    {"put: ENOSPC, EDQUOT, EIO at create, write, close", test_put_faults},
    {"open: every call of every op fails in turn", test_open_every_step},
    {"reap: one entry failing midway is an error, left, and finished next time",
     test_reap_fails_midway},
    {"lock: ENOLCK and EIO from the lock call", test_lock_call_fails},
    {"EMFILE while walking: reported, no descriptor leaked", test_emfile_while_walking},
    {"a slow filesystem: a spent budget still reaps one entry per call",
     test_budget_still_progresses},
    CU_TEST_INFO_NULL,
};

test_suite suite_faults = {"faults", tests};
