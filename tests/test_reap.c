/* test_reap.c: the reaper's rules on hostile and ordinary trees. Every test checks the exact
 * counts and that nothing outside the root changed. */
#include <errno.h>
#include <string.h>
#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <stdio.h>
#include <stdlib.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "testutil.h"

#define OLD 1000000000ULL /* a name timestamp in 2001 */

typedef struct fixture {
    const char *root, *victim, *victim_before;
} fixture;

static fixture setup_fx(void)
{
    fixture f;
    f.root = tu_fresh_dir("reap");
    f.victim = tu_fresh_dir("victim");
    CU_ASSERT_FATAL(tu_write_file(tu_join(f.victim, "precious"), "do not delete") == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(f.victim, "sub"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(f.victim, "sub/also"), "keep me") == 0);
    f.victim_before = tu_snapshot(f.victim);
    return f;
}

static void victim_intact(const fixture *f)
{
    CU_ASSERT_STRING_EQUAL(tu_snapshot(f->victim), f->victim_before);
    CU_ASSERT(strstr(f->victim_before, "/sub/also") != NULL);
}

#define ST_EQ(st, sc, re, li, yo, un, er)                                                  \
    do {                                                                                   \
        CU_ASSERT_EQUAL((st).scanned, sc);                                                 \
        CU_ASSERT_EQUAL((st).reaped, re);                                                  \
        CU_ASSERT_EQUAL((st).live, li);                                                    \
        CU_ASSERT_EQUAL((st).young, yo);                                                   \
        CU_ASSERT_EQUAL((st).unsafe, un);                                                  \
        CU_ASSERT_EQUAL((st).errors, er);                                                  \
    } while (0)

static void test_orphan_with_record_reaped_at_once(void)
{
    fixture f = setup_fx();
    const char *d = tu_make_spill_dir(f.root, (uint64_t)spill__now(), 1, 3, tu_record(1));
    spill_reap_stats st = tu_reap(f.root, 30); /* the default grace: a record needs none */
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT(!tu_exists(d));
    CU_ASSERT_EQUAL(st.files_removed, 4); /* three chunks and .lock */
    CU_ASSERT_EQUAL(st.bytes_freed, 30 + strlen(tu_record(1)));
    CU_ASSERT(tu_exists(f.root));
    victim_intact(&f);
}

static void test_live_spill_kept(void)
{
    fixture f = setup_fx();
    spill_t *s;
    spill_reap_stats st;
    uint8_t a[SPILL_ADDR_LEN];
    CU_ASSERT_FATAL(spill_open(f.root, NULL, &s) == SPILL_OK);
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "live", 4) == SPILL_OK);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 0, 1, 0, 0, 0);
    CU_ASSERT(tu_count_entries(spill_path(s)) == 2);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

#ifndef _WIN32 /* Windows links, junctions and odd .lock shapes: test_win32.c */
static void test_symlink_named_like_spill(void)
{
    fixture f = setup_fx();
    spill_reap_stats st;
    CU_ASSERT_FATAL(symlink(f.victim, tu_join(f.root, "spill_1_2")) == 0);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 0, 0, 0, 1, 0);
    CU_ASSERT(tu_exists(tu_join(f.root, "spill_1_2")));
    victim_intact(&f);
}

static void test_links_inside_orphan(void)
{
    fixture f = setup_fx();
    const char *d = tu_make_spill_dir(f.root, OLD, 7, 1, tu_record(7));
    spill_reap_stats st;
    CU_ASSERT_FATAL(symlink(f.victim, tu_join(d, "dirlink")) == 0);
    CU_ASSERT_FATAL(symlink(tu_join(f.victim, "precious"), tu_join(d, "filelink")) == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(d, "nested"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(d, "nested/inner"), "abc") == 0);
    CU_ASSERT_FATAL(symlink(f.victim, tu_join(d, "nested/deeplink")) == 0);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT_EQUAL(st.files_removed, 6); /* chunk, 3 links, inner, .lock */
    CU_ASSERT(!tu_exists(d));
    victim_intact(&f);
}

static void test_lock_shapes_unsafe(void)
{
    fixture f = setup_fx();
    const char *d1 = tu_make_spill_dir(f.root, OLD, 1, 1, NULL);
    const char *d2 = tu_make_spill_dir(f.root, OLD, 2, 1, NULL);
    const char *d3 = tu_make_spill_dir(f.root, OLD, 3, 1, NULL);
    const char *d4 = tu_make_spill_dir(f.root, OLD, 4, 1, NULL);
    const char *outside = tu_join(f.victim, "precious");
    spill_reap_stats st;
    CU_ASSERT_FATAL(symlink(outside, tu_join(d1, ".lock")) == 0);
    CU_ASSERT_FATAL(mkfifo(tu_join(d2, ".lock"), 0600) == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(d3, ".lock"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(link(outside, tu_join(d4, ".lock")) == 0);
    f.victim_before = tu_snapshot(f.victim);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 4, 0, 0, 0, 4, 0);
    CU_ASSERT(tu_exists(d1) && tu_exists(d2) && tu_exists(d3) && tu_exists(d4));
    CU_ASSERT(tu_count_entries(d4) == 2);
    CU_ASSERT_STRING_EQUAL(tu_read_file(outside, NULL), "do not delete");
    victim_intact(&f);
    CU_ASSERT_FATAL(unlink(tu_join(d4, ".lock")) == 0); /* let the victim keep one link */
}
#endif

static void test_file_and_near_miss_names(void)
{
    fixture f = setup_fx();
    const char *names[] = {"spill_", "spill_1", "spill_x_1", "spill-1-2", "spilled_1_2",
                           "spill_1_2_3", "spill_1_", "spill__1", "spill_+1_2",
#ifdef _WIN32
                           "spill_1_2x", /* Win32 strips a trailing space from a new name */
#else
                           "spill_1_2 ",
#endif
                           "spill_99999999999999999999_1", NULL};
    const char **n;
    spill_reap_stats st;
    CU_ASSERT_FATAL(tu_write_file(tu_join(f.root, "spill_5_6"), "a file") == 0);
    for (n = names; *n; n++)
        CU_ASSERT_FATAL(apr_dir_make(tu_join(f.root, *n), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 0, 0, 0, 1, 0); /* only the file has a spill's name: unsafe */
    CU_ASSERT(tu_count_entries(f.root) == 12);
    victim_intact(&f);
}

#ifndef _WIN32 /* Windows: not checked (docs/windows.md) */
static void test_other_users_directory(void)
{
    fixture f = setup_fx();
    const char *d = tu_make_spill_dir(f.root, OLD, 1, 1, tu_record(1));
    spill_reap_stats st;
    if (geteuid() != 0)
        TU_SKIP("needs root to chown a directory to another user");
    CU_ASSERT_FATAL(chown(d, 65534, 65534) == 0);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 0, 0, 0, 1, 0);
    CU_ASSERT(tu_count_entries(d) == 2);
    victim_intact(&f);
}
#endif

static void test_read_only_chunk(void)
{
    fixture f = setup_fx();
    const char *d = tu_make_spill_dir(f.root, OLD, 1, 2, tu_record(1));
    spill_reap_stats st;
    /* mode 0444 on POSIX; FILE_ATTRIBUTE_READONLY on Windows */
    CU_ASSERT_FATAL(apr_file_attrs_set(tu_join(d, "chunk000"), APR_FILE_ATTR_READONLY,
                                       APR_FILE_ATTR_READONLY, tu_pool) == APR_SUCCESS);
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT(!tu_exists(d));
}

static void test_deeper_than_64(void)
{
    fixture f = setup_fx();
    const char *d = tu_make_spill_dir(f.root, OLD, 1, 1, tu_record(1)), *p = d;
    spill_reap_stats st;
    int i;
    for (i = 0; i < 70; i++) {
        p = tu_join(p, "n");
        CU_ASSERT_FATAL(apr_dir_make(p, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    }
    st = tu_reap(f.root, 0);
    ST_EQ(st, 1, 0, 0, 0, 0, 1);
    {
        const char *t = tu_left_as_trash(f.root, d);
        p = tu_join(t, p + strlen(d) + 1);
        d = t;
    }
    CU_ASSERT(tu_exists(p)); /* the deep content is left */
    CU_ASSERT(tu_exists(tu_join(d, ".lock")));
    CU_ASSERT(!tu_exists(tu_join(d, "chunk000")));
    victim_intact(&f);
}

static void test_ages(void)
{
    fixture f = setup_fx();
    uint64_t now = (uint64_t)spill__now();
    /* lockless and foreign, fresh: young under a grace of 30 */
    const char *young1 = tu_make_spill_dir(f.root, now, 1, 1, NULL);
    const char *young2 = tu_make_spill_dir(f.root, now, 2, 1, "");
    /* old name and old mtime: reaped */
    const char *old1 = tu_make_spill_dir(f.root, OLD, 3, 1, NULL);
    const char *old2 = tu_make_spill_dir(f.root, OLD, 4, 1, "foreign content");
    /* old name but just written to (an active foreign owner): kept */
    const char *active = tu_make_spill_dir(f.root, OLD, 5, 1, "");
    /* a name far in the future does not protect an orphan forever */
    const char *future = tu_make_spill_dir(f.root, now + 100000000ULL, 6, 1, NULL);
    spill_reap_stats st;
    tu_set_mtime(old1, (int64_t)OLD);
    tu_set_mtime(old2, (int64_t)OLD);
    tu_set_mtime(future, (int64_t)OLD);
    tu_pin_local(1); /* rule 5's ages, without rule 8's hour where the root is on FUSE */
    st = tu_reap(f.root, 30);
    ST_EQ(st, 6, 3, 0, 3, 0, 0);
    CU_ASSERT(tu_exists(young1) && tu_exists(young2) && tu_exists(active));
    CU_ASSERT(!tu_exists(old1) && !tu_exists(old2) && !tu_exists(future));
    /* grace 0 reaps the young at once */
    st = tu_reap(f.root, 0);
    tu_pin_local(0);
    ST_EQ(st, 3, 3, 0, 0, 0, 0);
    CU_ASSERT(tu_count_entries(f.root) == 0);
    victim_intact(&f);
}

static void test_staging_needs_60s(void)
{
    fixture f = setup_fx();
    int64_t now = spill__now();
    const char *stage = apr_psprintf(tu_pool, "%s/.spill-new_%" APR_INT64_T_FMT "_9", f.root,
                                     (apr_int64_t)now - 40);
    const char *recorded = apr_psprintf(tu_pool, "%s/.spill-new_%" APR_INT64_T_FMT "_8", f.root,
                                        (apr_int64_t)now);
    spill_reap_stats st;
    CU_ASSERT_FATAL(apr_dir_make(stage, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    tu_set_mtime(stage, now - 40);
    CU_ASSERT_FATAL(apr_dir_make(recorded, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(recorded, ".lock"), tu_record(8)) == 0);
    tu_pin_local(1); /* rule 5's 60 s, without rule 8's hour where the root is on FUSE */
    st = tu_reap(f.root, 0);
    ST_EQ(st, 2, 1, 0, 1, 0, 0); /* the recorded one at once; the bare one is 40s of 60s */
    CU_ASSERT(tu_exists(stage) && !tu_exists(recorded));
    tu_set_mtime(stage, now - 61);
    {
        const char *older = apr_psprintf(tu_pool, "%s/.spill-new_%" APR_INT64_T_FMT "_7", f.root,
                                         (apr_int64_t)now - 61);
        CU_ASSERT_FATAL(apr_file_rename(stage, older, tu_pool) == 0);
        tu_set_mtime(older, now - 61);
        st = tu_reap(f.root, 0);
        ST_EQ(st, 1, 1, 0, 0, 0, 0);
        CU_ASSERT(!tu_exists(older));
        tu_pin_local(0);
    }
}

#define YEAR 31536000LL

/* A record with keep= (rule 4's resumable orphan) naming this host. */
static const char *keep_record(uint64_t nonce)
{
    const char *r = tu_record(nonce); /* "... started=1 tag=t\n" */
    const char *tag = strstr(r, "tag=");
    return apr_psprintf(tu_pool, "%.*skeep=3600 %s", (int)(tag - r), r, tag);
}

/* makes root/spill_<secs>_<rnd> with that mtime */
static const char *dir_at(const char *root, int64_t secs, uint64_t rnd, const char *lock,
                          int64_t mtime)
{
    const char *d = tu_make_spill_dir(root, (uint64_t)secs, rnd, 1, lock);
    tu_set_mtime(d, mtime);
    return d;
}

/* Rule 5: times from the future pin nothing on a local filesystem. A time more than one grace
 * (rule 4's keep for a resumable orphan) ahead is ignored; an entry with no time left is old
 * enough at once; the staging floor reads a future time as now. */
static void test_future_times(void)
{
    fixture f = setup_fx();
    int64_t now = spill__now(), ahead = now + YEAR;
    const char *rec = dir_at(f.root, ahead, 1, tu_record(1), ahead);
    const char *res_far = dir_at(f.root, now, 2, keep_record(2), ahead);
    const char *res_near = dir_at(f.root, now, 3, keep_record(3), now + 100);
    const char *foreign = dir_at(f.root, ahead, 4, "", ahead);
    const char *lockless = dir_at(f.root, ahead, 5, NULL, ahead);
    const char *named_now = dir_at(f.root, now, 6, NULL, ahead);  /* the name is trusted */
    const char *within = dir_at(f.root, now, 7, NULL, now + 20);  /* within one grace */
    const char *stage = apr_psprintf(tu_pool, "%s/.spill-new_%" APR_INT64_T_FMT "_8", f.root,
                                     (apr_int64_t)ahead);
    spill_reap_stats st;
    CU_ASSERT_FATAL(apr_dir_make(stage, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    tu_set_mtime(stage, ahead);
    tu_pin_local(1); /* rule 5's ages, without rule 8's hour where the root is on FUSE */
    st = tu_reap(f.root, 30);
    ST_EQ(st, 8, 4, 0, 3, 0, 0);
    CU_ASSERT(st.resumable == 1);
    CU_ASSERT(!tu_exists(rec) && !tu_exists(res_far) && !tu_exists(foreign) &&
              !tu_exists(lockless));
    CU_ASSERT(tu_exists(res_near) && tu_exists(named_now) && tu_exists(within) && tu_exists(stage));
    /* grace 0: every time ahead is ignored; the staging floor and keep still hold */
    st = tu_reap(f.root, 0);
    ST_EQ(st, 4, 2, 0, 1, 0, 0);
    CU_ASSERT(st.resumable == 1);
    CU_ASSERT(!tu_exists(named_now) && !tu_exists(within));
    CU_ASSERT(tu_exists(res_near) && tu_exists(stage));
    tu_pin_local(0);
    victim_intact(&f);
}

static int count_entries(void *ctx, const spill_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

static void test_missing_root_and_bad_args(void)
{
    const char *root = tu_join(tu_fresh_dir("missing"), "nope");
    spill_reap_stats st;
    spill_opts o;
    memset(&st, 0xff, sizeof st);
    st.version = 0; /* read as 1 */
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_OK);
    CU_ASSERT(st.scanned == 0 && st.reaped == 0 && st.errors == 0 && st.version == 0);
    CU_ASSERT(spill_reap(root, NULL, NULL) == SPILL_OK);
    st.version = SPILL_REAP_STATS_VERSION + 1;
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_EINVAL);
    CU_ASSERT(st.version == SPILL_REAP_STATS_VERSION + 1);
    memset(&o, 0, sizeof o);
    CU_ASSERT(spill_reap(root, &o, NULL) == SPILL_EINVAL);
    CU_ASSERT(spill_reap(NULL, NULL, NULL) == SPILL_EINVAL);
    CU_ASSERT(!tu_exists(root));
    /* a root that is a file is an error, not a missing root */
    {
        const char *file = tu_join(tu_fresh_dir("file"), "f");
        int n = 0;
        CU_ASSERT_FATAL(tu_write_file(file, "x") == 0);
        CU_ASSERT(spill_reap(file, NULL, NULL) == SPILL_EINVAL);
        CU_ASSERT(spill_scan(file, NULL, count_entries, &n) == SPILL_EINVAL);
    }
}

static void test_budget(void)
{
    const char *root = tu_fresh_dir("budget");
    spill_opts o;
    spill_reap_stats st;
    int i;
    for (i = 0; i < 400; i++)
        tu_make_spill_dir(root, OLD, (uint64_t)i, 8, tu_record((uint64_t)i));
    spill_opts_init(&o);
#ifdef _WIN32
    o.reap_budget_ms = 50; /* opening and listing the root alone can take a few ms */
#else
    o.reap_budget_ms = 1;
#endif
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT(spill_reap(root, &o, &st) == SPILL_OK);
    CU_ASSERT(st.budget_exhausted == 1);
    CU_ASSERT(st.reaped < 400 && st.files_removed > 0); /* the first entry is always taken */
    CU_ASSERT(st.cut_short <= 1);                        /* one thread: the last one started */
    CU_ASSERT(st.scanned == st.reaped + st.cut_short);
    CU_ASSERT(tu_count_entries(root) == 400 - (int)st.reaped);
    st = tu_reap(root, 0);
    CU_ASSERT(st.budget_exhausted == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static void test_open_reaps_first(void)
{
    const char *root = tu_fresh_dir("openreap");
    const char *d = tu_make_spill_dir(root, (uint64_t)spill__now(), 1, 2, tu_record(1));
    const char *lockless = tu_make_spill_dir(root, (uint64_t)spill__now(), 2, 2, NULL);
    spill_t *s;
    spill_opts o;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    CU_ASSERT(!tu_exists(d));       /* the orphan with a record: at once */
    CU_ASSERT(tu_exists(lockless)); /* young under the default grace */
    spill_close(s);
    spill_opts_init(&o);
    o.reap_on_open = 0;
    d = tu_make_spill_dir(root, (uint64_t)spill__now(), 3, 2, tu_record(3));
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    CU_ASSERT(tu_exists(d));
    spill_close(s);
}

typedef struct scan_seen {
    int n, live, orphan, young, unsafe;
    int64_t pid;
    char tag[64];
    uint64_t bytes, files;
} scan_seen;

static int scan_cb(void *ctx, const spill_entry *e)
{
    scan_seen *s = ctx;
    s->n++;
    switch (e->state) {
    case SPILL_LIVE:
        s->live++;
        s->pid = e->owner_pid;
        snprintf(s->tag, sizeof s->tag, "%s", e->tag);
        break;
    case SPILL_ORPHAN:
        s->orphan++;
        s->bytes = e->bytes;
        s->files = e->files;
        break;
    case SPILL_YOUNG: s->young++; CU_ASSERT(e->reason[0] != '\0'); break;
    case SPILL_UNSAFE: s->unsafe++; CU_ASSERT(e->reason[0] != '\0'); break;
    case SPILL_ERROR: CU_FAIL("no entry here is beyond judging"); break;
    case SPILL_RESUMABLE: CU_FAIL("no entry here asked to be resumable"); break;
    }
    return 0;
}

static int stop_cb(void *ctx, const spill_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 42;
}

static void test_scan(void)
{
    fixture f = setup_fx();
    const char *orphan = tu_make_spill_dir(f.root, OLD, 1, 3, tu_record(1));
    const char *young = tu_make_spill_dir(f.root, (uint64_t)spill__now(), 2, 1, NULL);
    const char *before;
    spill_t *s;
    spill_opts o;
    scan_seen seen;
    int calls = 0;
    (void)young;
    spill_opts_init(&o);
    o.tag = "scan me";
    o.reap_on_open = 0;
    CU_ASSERT_FATAL(spill_open(f.root, &o, &s) == SPILL_OK);
#ifdef _WIN32
    CU_ASSERT_FATAL(tu_write_file(tu_join(f.root, "spill_3_4"), "not a directory") == 0);
#else
    CU_ASSERT_FATAL(symlink(f.victim, tu_join(f.root, "spill_3_4")) == 0);
#endif
    before = tu_snapshot(f.root);
    memset(&seen, 0, sizeof seen);
    CU_ASSERT(spill_scan(f.root, NULL, scan_cb, &seen) == SPILL_OK);
    CU_ASSERT(seen.n == 4 && seen.live == 1 && seen.orphan == 1 && seen.young == 1 &&
              seen.unsafe == 1);
    CU_ASSERT(seen.files == 4 && seen.bytes == 30 + strlen(tu_record(1)));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(f.root), before); /* read-only */
    CU_ASSERT(tu_exists(orphan));
    CU_ASSERT(spill_scan(f.root, NULL, stop_cb, &calls) == 42);
    CU_ASSERT(calls == 1);
    spill_close(s);
    /* a live spill of another process shows its record */
    {
        const char *args[] = {f.root, "1", NULL};
        tu_proc p;
        CU_ASSERT_FATAL(tu_spawn(&p, "hold", args) == 0);
        CU_ASSERT_FATAL(tu_read_line(&p) != NULL);
        memset(&seen, 0, sizeof seen);
        CU_ASSERT(spill_scan(f.root, NULL, scan_cb, &seen) == SPILL_OK);
        CU_ASSERT(seen.live == 1 && seen.pid == (int64_t)p.proc.pid);
        CU_ASSERT(tu_wait(&p) == 0);
    }
    CU_ASSERT(spill_scan(tu_join(f.root, "missing"), NULL, scan_cb, &seen) == SPILL_OK);
    victim_intact(&f);
}

static void test_owner_exited_without_close(void)
{
    const char *root = tu_fresh_dir("exited");
    const char *args[] = {root, "3", NULL};
    const char *path = tu_run_helper("exit", args);
    spill_reap_stats st;
    CU_ASSERT_FATAL(tu_has_prefix(path, root));
    CU_ASSERT(tu_count_entries(path) == 4);
    st = tu_reap(root, 30);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
    CU_ASSERT(st.files_removed == 5 && st.bytes_freed > 3 * 18); /* .lock, lease, 3 chunks */
    CU_ASSERT(!tu_exists(path));
}

typedef struct race {
    const char *root;
    spill_reap_stats st;
} race;

static void *APR_THREAD_FUNC race_thread(apr_thread_t *t, void *arg)
{
    race *r = arg;
    spill_opts o;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    memset(&r->st, 0, sizeof r->st);
    if (spill_reap(r->root, &o, &r->st) != SPILL_OK)
        r->st.errors += 1000;
    (void)t;
    return NULL; /* not apr_thread_exit: under ASan, pthread_exit unwinds without unpoisoning
                     the frames (a false stack-use-after-scope in sigaltstack) */
}

static unsigned field(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? (unsigned)atoi(p + strlen(key)) : 99999;
}

/* Two processes and two threads reap one root of 200 orphans at once. */
static void test_racing_reapers(void)
{
    const char *root = tu_fresh_dir("race");
    const char *args[] = {root, "0", "wait", NULL};
    tu_proc p[2];
    race r[2];
    apr_thread_t *t[2];
    apr_status_t rv;
    unsigned reaped = 0, errors = 0;
    int i;
    for (i = 0; i < 200; i++)
        tu_make_spill_dir(root, OLD, (uint64_t)i, 5, tu_record((uint64_t)i));
    for (i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(tu_spawn(&p[i], "reap", args) == 0);
        CU_ASSERT_FATAL(tu_read_line(&p[i]) != NULL); /* ready */
    }
    for (i = 0; i < 2; i++)
        apr_file_puts("go\n", p[i].in);
    for (i = 0; i < 2; i++) {
        r[i].root = root;
        CU_ASSERT_FATAL(apr_thread_create(&t[i], NULL, race_thread, &r[i], tu_pool) == 0);
    }
    for (i = 0; i < 2; i++) {
        const char *line = tu_read_line(&p[i]);
        CU_ASSERT_FATAL(line != NULL);
        reaped += field(line, "reaped=");
        errors += field(line, "errors=");
        CU_ASSERT(tu_wait(&p[i]) == 0);
        apr_thread_join(&rv, t[i]);
        reaped += r[i].st.reaped;
        errors += r[i].st.errors;
    }
    if (tu_is_wine()) {
        /* Wine neither hides nor reports a directory whose deletion is pending until its last
         * handle closes: two reapers may both mark one orphan. Each is counted once on Windows */
        printf("\n  Wine: %u removals counted for 200 orphans\n", reaped);
        CU_ASSERT(reaped >= 200);
    } else {
        CU_ASSERT_EQUAL(reaped, 200);
    }
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

#ifdef __linux__
/* mountreap ROOT: in a private mount namespace, a tmpfs mounted inside an orphan; the reap
 * must not enter it. Prints "skip REASON" where namespaces are not permitted. */
#include <sched.h>
#include <sys/mount.h>
int tu_helper_mountreap(int argc, const char *const *argv)
{
    char d[2048], mnt[2100], inner[2200];
    spill_reap_stats st;
    spill_opts o;
    FILE *f;
    if (argc < 1)
        return 2;
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("skip cannot make a mount namespace: %s\n", strerror(errno));
        return 0;
    }
    snprintf(d, sizeof d, "%s/spill_1000_1", argv[0]);
    snprintf(mnt, sizeof mnt, "%s/mnt", d);
    snprintf(inner, sizeof inner, "%s/inside-tmpfs", mnt);
    if (mkdir(d, 0700) != 0 || mkdir(mnt, 0700) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        printf("skip cannot mount tmpfs: %s\n", strerror(errno));
        return 0;
    }
    f = fopen(inner, "w");
    fputs("on another filesystem", f);
    fclose(f);
    spill_opts_init(&o);
    o.grace_seconds = 0;
    memset(&st, 0, sizeof st);
    tu_pin_local(1); /* lockless: on FUSE rule 8's hour would keep it from being tried at all */
    spill_reap(argv[0], &o, &st);
    printf("reaped=%u errors=%u kept=%d\n", st.reaped, st.errors, access(inner, F_OK) == 0);
    umount(mnt);
    return 0;
}

static void test_mount_inside_orphan(void)
{
    const char *root = tu_fresh_dir("mount");
    const char *args[] = {root, NULL};
    const char *line = tu_run_helper("mountreap", args);
    if (strncmp(line, "skip", 4) == 0)
        TU_SKIP(line);
    if (strcmp(line, "reaped=0 errors=1 kept=1") != 0)
        printf("\n  mountreap: %s\n", line);
    CU_ASSERT_STRING_EQUAL(line, "reaped=0 errors=1 kept=1");
}
#endif

static int fake_network(spill__fd fd, int *kind)
{
    (void)fd;
    *kind = SPILL__FS_NETWORK;
    return SPILL_OK;
}

/* Rule 8, on a root the operations table reports as a network filesystem. */
static void test_network_filesystem(void)
{
    fixture f = setup_fx();
    int64_t now = spill__now();
    const char *other = tu_make_spill_dir(
        f.root, OLD, 1, 1, "spill-owner 1 nonce=1 pid=5 host=elsewhere started=1 tag=\n");
    const char *mine = tu_make_spill_dir(f.root, OLD, 2, 1, tu_record(2));
    const char *lockless_100s = tu_make_spill_dir(f.root, OLD, 3, 1, NULL);
    const char *lockless_2h = tu_make_spill_dir(f.root, OLD, 4, 1, NULL);
    spill_reap_stats st;
    tu_set_mtime(lockless_100s, now - 100);
    tu_set_mtime(lockless_2h, now - 7200);
    spill__sys.fs_kind = fake_network;
    st = tu_reap(f.root, 0);
    spill__sys.fs_kind = spill__sys_default.fs_kind;
    ST_EQ(st, 4, 2, 0, 1, 1, 0);
    CU_ASSERT(tu_exists(other) && tu_exists(lockless_100s));
    CU_ASSERT(!tu_exists(mine) && !tu_exists(lockless_2h));
    /* the same root on a local filesystem: the other host's record and the lockless one go */
    tu_pin_local(1);
    st = tu_reap(f.root, 0);
    tu_pin_local(0);
    ST_EQ(st, 2, 2, 0, 0, 0, 0);
    victim_intact(&f);
}

/* Rule 5 on a network filesystem, whose server's clock is not ours: a future time reads as now
 * (the hour of rule 8 and a resumable orphan's keep count from now), where a local filesystem
 * ignores it. */
static void test_future_times_network(void)
{
    fixture f = setup_fx();
    int64_t now = spill__now();
    const char *lockless = dir_at(f.root, now - 7200, 1, NULL, now + YEAR);
    const char *res = dir_at(f.root, now, 2, keep_record(2), now + YEAR);
    spill_reap_stats st;
    spill__sys.fs_kind = fake_network;
    st = tu_reap(f.root, 0);
    spill__sys.fs_kind = spill__sys_default.fs_kind;
    ST_EQ(st, 2, 0, 0, 1, 0, 0);
    CU_ASSERT(st.resumable == 1);
    CU_ASSERT(tu_exists(lockless) && tu_exists(res));
    tu_pin_local(1);
    st = tu_reap(f.root, 0);
    tu_pin_local(0);
    ST_EQ(st, 2, 2, 0, 0, 0, 0);
    victim_intact(&f);
}

static int lock_fails(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how != SPILL__PROBE_LOCK)
        return spill__sys_default.lock_probe(at, name, how, out);
    return spill__error_os("fcntl", name, ENOLCK);
}

/* Rule 7: a lock attempt that fails for a reason other than contention is an error, and the
 * directory is left, never taken for free. */
static void test_lock_error_leaves(void)
{
    const char *root = tu_fresh_dir("lockerr");
    const char *d = tu_make_spill_dir(root, OLD, 1, 2, tu_record(1));
    spill_reap_stats st;
    spill__sys.lock_probe = lock_fails;
    st = tu_reap(root, 0);
    spill__sys.lock_probe = spill__sys_default.lock_probe;
    ST_EQ(st, 1, 0, 0, 0, 0, 1);
    CU_ASSERT(tu_count_entries(d) == 3);
    st = tu_reap(root, 0);
    ST_EQ(st, 1, 1, 0, 0, 0, 0);
}

static CU_TestInfo tests[] = {
    {"a lock error leaves the directory (rule 7)", test_lock_error_leaves},
    {"network filesystem: other hosts' records unsafe, an hour for the lockless",
     test_network_filesystem},
    {"owner exited without close: reaped at once", test_owner_exited_without_close},
    {"two processes and two threads racing over 200 orphans", test_racing_reapers},
#ifdef __linux__
    {"a tmpfs mounted inside an orphan is not entered", test_mount_inside_orphan},
#endif
    {"orphan with a record reaped at once", test_orphan_with_record_reaped_at_once},
    {"live spill kept", test_live_spill_kept},
#ifndef _WIN32
    {"symlink named like a spill", test_symlink_named_like_spill},
    {"links inside an orphan removed as links", test_links_inside_orphan},
    {".lock as symlink, FIFO, directory, hard link", test_lock_shapes_unsafe},
#endif
    {"a file and near-miss names", test_file_and_near_miss_names},
#ifndef _WIN32
    {"another user's directory", test_other_users_directory},
#endif
    {"read-only chunk", test_read_only_chunk},
    {"nesting deeper than 64 levels", test_deeper_than_64},
    {"ages and grace", test_ages},
    {"staging directories need 60 s", test_staging_needs_60s},
    {"times from the future pin nothing (rule 5)", test_future_times},
    {"times from the future on a network filesystem read as now", test_future_times_network},
    {"missing root and bad arguments", test_missing_root_and_bad_args},
    {"budget", test_budget},
    {"spill_open reaps first", test_open_reaps_first},
    {"scan", test_scan},
    CU_TEST_INFO_NULL,
};

test_suite suite_reap = {"reap", tests};
