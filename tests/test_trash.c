/* test_trash.c: rule 6's removal order and rule 1's trash directories, on whatever filesystem
 * SPILL_TEST_DIR puts the roots on (ci/test-filesystems.sh runs this suite on each): a close
 * and a reap leave nothing and count no error, a trash directory is garbage unless its lock is
 * held, and the hidden files FUSE and NFS keep for an unlinked open file are waited out. */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "testutil.h"

/* ---- the order, watched through the operations table ---- */

static char events[1024];

static void note(const char *what, const char *name)
{
    size_t n = strlen(events);
    const char *kind = !name                                ? ""
                       : !strncmp(name, SPILL__TRASH_PREFIX, 11) ? " trash"
                       : !strncmp(name, SPILL__NAME_PREFIX, 6)   ? " spill"
                       : !strcmp(name, SPILL__LOCK_NAME)          ? " .lock"
                                                                 : NULL;
    if (!kind) /* a chunk, the lease or the journal: emptied, not part of the order */
        return;
    snprintf(events + n, sizeof events - n, "%s%s%s", n ? ">" : "", what, kind);
}

static int w_rename(spill__fd fa, const char *from, spill__fd ta, const char *to, int replace)
{
    int rc = spill__sys_default.rename(fa, from, ta, to, replace);
    if (rc == SPILL_OK)
        note("rename to", to);
    return rc;
}

static int w_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    int rc = spill__sys_default.unlink(at, name, is_dir, held);
    if (rc == SPILL_OK)
        note(is_dir ? "rmdir" : "unlink", name);
    return rc;
}

static int w_unlock(spill__fd fd)
{
    note("unlock", NULL);
    return spill__sys_default.unlock(fd);
}

static void watch(int on)
{
    if (on)
        events[0] = '\0';
    spill__sys.rename = on ? w_rename : spill__sys_default.rename;
    spill__sys.unlink = on ? w_unlink : spill__sys_default.unlink;
    spill__sys.unlock = on ? w_unlock : spill__sys_default.unlock;
}

/* POSIX renames first; Windows, which cannot rename a directory with an open file inside,
 * removes it under its own name. Both unlink .lock while locked and release it before rmdir. */
static const char *expected_order(void)
{
    return spill__platform_stages() ? "rename to trash>unlink .lock>unlock>rmdir trash"
                                    : "unlink .lock>unlock>rmdir spill";
}

static spill_t *open_with_chunks(const char *root, int n)
{
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    int i;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    for (i = 0; i < n; i++) {
        tu_addr(a, (unsigned)i);
        CU_ASSERT_FATAL(spill_put(s, a, "0123456789", 10) == SPILL_OK);
    }
    return s;
}

/* spill_close succeeds and leaves nothing (on FUSE the old order left the directory, holding
 * .lock as .fuse_hidden*, and failed with ENOTEMPTY). */
static void test_close_leaves_nothing(void)
{
    const char *root = tu_fresh_dir("trash-close");
    spill_t *s = open_with_chunks(root, 5);
    int rc = spill_close(s);
    CU_ASSERT_EQUAL(rc, SPILL_OK);
    if (rc != SPILL_OK)
        printf("\n  spill_close: %s\n", spill_error_last()->message);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

static void test_close_order(void)
{
    const char *root = tu_fresh_dir("trash-close-order");
    spill_t *s = open_with_chunks(root, 3);
    watch(1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    watch(0);
    CU_ASSERT_STRING_EQUAL(events, expected_order());
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

static void test_reap_order(void)
{
    const char *root = tu_fresh_dir("trash-reap-order");
    spill_reap_stats st;
    tu_make_spill_dir(root, 1000000000, 1, 3, tu_record(1));
    watch(1);
    st = tu_reap(root, 30);
    watch(0);
    CU_ASSERT_STRING_EQUAL(events, expected_order());
    CU_ASSERT(st.reaped == 1 && st.errors == 0 && st.files_removed == 4);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- a live spill and reaps from another process ---- */

static const char *reap_elsewhere(const char *root)
{
    const char *args[] = {root, "0", NULL};
    return tu_run_helper("reap", args);
}

static void test_live_survives_reaps_elsewhere(void)
{
    const char *root = tu_fresh_dir("trash-live");
    spill_t *s = open_with_chunks(root, 4);
    const char *before = tu_snapshot(spill_path(s));
    void *data;
    size_t len;
    uint8_t a[SPILL_ADDR_LEN];
    int i;
    for (i = 0; i < 3; i++)
        CU_ASSERT_STRING_EQUAL(reap_elsewhere(root),
                               "reaped=0 live=1 young=0 unsafe=0 errors=0");
    CU_ASSERT_STRING_EQUAL(tu_snapshot(spill_path(s)), before);
    tu_addr(a, 3);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_OK && len == 10);
    spill_free(data);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- rule 1: trash directories ---- */

static const char *make_trash(const char *root, const char *name, const char *lock_content)
{
    const char *d = tu_join(root, name);
    CU_ASSERT_FATAL(apr_dir_make(d, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                 tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(tu_write_file(tu_join(d, "chunk"), "0123456789") == 0);
    if (lock_content)
        CU_ASSERT_FATAL(tu_write_file(tu_join(d, ".lock"), lock_content) == 0);
    return d;
}

/* Fresh, and yet garbage at once whatever the grace (and on FUSE or NFS, whatever rule 8's
 * hour): with a record and a free lock, with a foreign .lock, or with none. */
static void test_trash_garbage_at_once(void)
{
    const char *root = tu_fresh_dir("trash-rule1");
    spill_reap_stats st;
    make_trash(root, ".spill-del_4000000000_1", tu_record(1)); /* even "from the future" */
    make_trash(root, ".spill-del_1_2", "");
    make_trash(root, ".spill-del_3_3", NULL);
    st = tu_reap(root, 3600);
    CU_ASSERT(st.scanned == 3 && st.reaped == 3 && st.young == 0 && st.errors == 0);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* Names that merely look like trash are not the reaper's. */
static void test_trash_names_strict(void)
{
    const char *root = tu_fresh_dir("trash-names"), *before;
    static const char *const names[] = {".spill-del_1_2x", ".spill-del_1", ".spill-del__2",
                                        ".spill-del_-1_2", "spill-del_1_2", ".spill-del_1_2_3",
                                        ".Spill-del_1_2", ".spill-del_1_99999999999999999999"};
    spill_reap_stats st;
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        make_trash(root, names[i], NULL);
    before = tu_snapshot(root);
    st = tu_reap(root, 0);
    CU_ASSERT(st.scanned == 0 && st.reaped == 0);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(root), before);
}

/* A trash directory whose .lock is held is live: its holder is removing it. Renamed by hand
 * under a live holder here; once the holder lets go, what is left is garbage at once. */
static void test_trash_held_is_live(void)
{
    const char *root = tu_fresh_dir("trash-held"), *args[] = {NULL, "2", NULL};
    const char *path, *trash;
    spill_reap_stats st;
    tu_proc h;
    if (!spill__platform_stages())
        TU_SKIP("Windows: a directory with an open file inside cannot be renamed");
    args[0] = root;
    CU_ASSERT_FATAL(tu_spawn(&h, "hold", args) == 0);
    path = tu_read_line(&h);
    CU_ASSERT_FATAL(path != NULL && tu_has_prefix(path, root));
    trash = tu_join(root, ".spill-del_1_1");
    CU_ASSERT_FATAL(apr_file_rename(path, trash, tu_pool) == APR_SUCCESS);
    st = tu_reap(root, 0);
    CU_ASSERT(st.scanned == 1 && st.live == 1 && st.reaped == 0 && st.errors == 0);
    CU_ASSERT(tu_exists(tu_join(trash, ".lock")));
    tu_wait(&h); /* its close finds its name taken away: it empties and leaves the directory */
    st = tu_reap(root, 3600);
    CU_ASSERT(st.scanned == 1 && st.reaped == 1 && st.errors == 0);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- hidden entries of an unlinked open file (FUSE's .fuse_hidden*, NFS's .nfs*) ---- */

#define HIDDEN ".fuse_hidden0000000100000001"
static int hidden_rmdirs, hidden_gone_after; /* rmdir attempts; the one the file goes before */
static spill__fd hidden_in;

/* The unlinked .lock stays as a hidden file in its directory, as FUSE keeps it... */
static int h_unlink_held(spill__fd at, const char *name, spill__fd *fd)
{
    spill__fd f;
    int rc = spill__sys_default.unlink(at, name, 0, fd);
    if (rc == SPILL_OK && strcmp(name, SPILL__LOCK_NAME) == 0 &&
        spill__sys_default.open_file(at, HIDDEN, SPILL__OPEN_CREATE, &f) == SPILL_OK) {
        spill__sys_default.close(f);
        hidden_in = at;
    }
    return rc;
}

/* ...until, some rmdir attempts later, the daemon has seen the close and removes it. An owner's
 * directory goes as any other (POSIX keeps its descriptor open). */
static int h_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (held && !is_dir)
        return h_unlink_held(at, name, held);
    if (is_dir && ++hidden_rmdirs == hidden_gone_after && hidden_in != SPILL__NOFD)
        spill__sys_default.unlink(hidden_in, HIDDEN, 0, NULL);
    return spill__sys_default.unlink(at, name, is_dir, NULL);
}

static void hide(int on, int gone_after)
{
    if (on) {
        hidden_rmdirs = 0;
        hidden_gone_after = gone_after;
        hidden_in = SPILL__NOFD;
    }
    spill__sys.unlink = on ? h_unlink : spill__sys_default.unlink;
}

static void test_hidden_waited_out(void)
{
    const char *root = tu_fresh_dir("trash-hidden");
    spill_t *s;
    spill_reap_stats st;
    if (!spill__platform_stages())
        TU_SKIP("Windows: an open file is never kept under another name");
    s = open_with_chunks(root, 2);
    hide(1, 4);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT_EQUAL(hidden_rmdirs, 4);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
    tu_make_spill_dir(root, 1000000000, 1, 2, tu_record(1));
    hide(1, 4);
    st = tu_reap(root, 30);
    hide(0, 0);
    CU_ASSERT(st.reaped == 1 && st.errors == 0);
    CU_ASSERT_EQUAL(hidden_rmdirs, 4);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* A hidden file that outlasts the bounded wait: the lockless trash directory is left, the
 * close still succeeds, and the next reap takes it at once whatever the grace. */
static void test_hidden_outlasting_left_for_next_reap(void)
{
    const char *root = tu_fresh_dir("trash-hidden-left"), *trash;
    spill_t *s;
    spill_reap_stats st;
    if (!spill__platform_stages())
        TU_SKIP("Windows: an open file is never kept under another name");
    s = open_with_chunks(root, 2);
    hide(1, 0);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    hide(0, 0);
    CU_ASSERT(hidden_rmdirs > 1);
    trash = tu_trash(root);
    CU_ASSERT_FATAL(trash != NULL);
    CU_ASSERT_EQUAL(tu_count_entries(root), 1);
    CU_ASSERT_EQUAL(tu_count_entries(trash), 1); /* the hidden file alone */
    st = tu_reap(root, 3600);
    CU_ASSERT(st.reaped == 1 && st.errors == 0);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- errors name the right path ---- */

static int refuse_rmdir(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (is_dir)
        return spill__error_set_os(SPILL_EACCES, 13, "rmdir", name, "Permission denied");
    return spill__sys_default.unlink(at, name, is_dir, held);
}

/* The directory's rmdir names root/NAME once (it named root/NAME/NAME). */
static void test_rmdir_error_names_the_directory(void)
{
    const char *root = tu_fresh_dir("trash-errpath"), *want;
    spill_t *s = open_with_chunks(root, 1);
    char name[256];
    spill_reap_stats st;
    snprintf(name, sizeof name, "%s", tu_base_name(spill_path(s)));
    spill__sys.unlink = refuse_rmdir;
    CU_ASSERT(spill_close(s) == SPILL_EACCES);
    spill__sys.unlink = spill__sys_default.unlink;
    want = spill__platform_stages() ? tu_trash(root)
                                    : apr_pstrcat(tu_pool, root, SPILL__PATH_SEP, name, NULL);
    CU_ASSERT_FATAL(want != NULL);
    CU_ASSERT_STRING_EQUAL(spill_error_last()->path, want);
    CU_ASSERT_STRING_EQUAL(spill_error_last()->op, "rmdir");
    /* lockless trash: at once; Windows leaves a lockless spill directory, which waits its grace */
    st = tu_reap(root, spill__platform_stages() ? 3600 : 0);
    CU_ASSERT(st.reaped == 1 && st.errors == 0);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

static CU_TestInfo tests[] = {
    {"spill_close succeeds and leaves nothing", test_close_leaves_nothing},
    {"spill_close: rename to trash, empty, unlink .lock, unlock, rmdir", test_close_order},
    {"spill_reap: the same order", test_reap_order},
    {"a live spill survives grace-0 reaps from another process",
     test_live_survives_reaps_elsewhere},
    {"rule 1: a trash directory is garbage at once unless its lock is held",
     test_trash_garbage_at_once},
    {"rule 1: trash names parse strictly", test_trash_names_strict},
    {"rule 1: a trash directory whose lock is held is live", test_trash_held_is_live},
    {"hidden files of an unlinked open .lock are waited out", test_hidden_waited_out},
    {"hidden files outlasting the wait: trash left, taken by the next reap",
     test_hidden_outlasting_left_for_next_reap},
    {"an rmdir error names root/NAME", test_rmdir_error_names_the_directory},
    CU_TEST_INFO_NULL,
};

test_suite suite_trash = {"trash", tests};
