/* test_walk.c: removal never follows a link out of the spill, and stops at 64 levels. */
#include <string.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include <apr_strings.h>

#include "testutil.h"

#ifndef _WIN32 /* Windows links and junctions: test_win32.c */
/* a victim directory outside the root, with a file and a subdirectory */
static const char *make_victim(void)
{
    const char *v = tu_fresh_dir("victim");
    CU_ASSERT_FATAL(tu_write_file(tu_join(v, "precious"), "do not delete") == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(v, "sub"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(v, "sub/also"), "keep me") == 0);
    return v;
}

static void test_symlinks_inside_removed_as_links(void)
{
    const char *root = tu_fresh_dir("walk"), *victim = make_victim(), *before, *path;
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    before = tu_snapshot(victim);
    CU_ASSERT_FATAL(symlink(victim, tu_join(path, "dirlink")) == 0);
    CU_ASSERT_FATAL(symlink(tu_join(victim, "precious"), tu_join(path, "filelink")) == 0);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(path, "nested"), APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(symlink(victim, tu_join(path, "nested/deeplink")) == 0);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(victim), before);
    CU_ASSERT(strstr(before, "/precious") != NULL); /* the snapshot did see the victim */
}
#endif

static void test_depth_limit(void)
{
    const char *top = tu_fresh_dir("deep"), *p = top;
    spill__fd fd;
    spill__tree_stats st;
    int i, rc;
    for (i = 0; i < SPILL__MAX_DEPTH + 3; i++) {
        p = tu_join(p, "d");
        CU_ASSERT_FATAL(apr_dir_make(p, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    }
    CU_ASSERT_FATAL(tu_write_file(tu_join(p, "bottom"), "x") == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(top, "top"), "x") == 0);
    memset(&st, 0, sizeof st);
    CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, top, 0, &fd) == SPILL_OK);
    rc = spill__tree_empty(fd, NULL, &st);
    spill__sys.close(fd);
    CU_ASSERT(rc == SPILL_EUNSAFE);
    CU_ASSERT(st.errors == 1);
    CU_ASSERT(st.files == 1);            /* "top" went; nothing below level 64 did */
    CU_ASSERT(!tu_exists(tu_join(top, "top")));
    CU_ASSERT(tu_exists(p));             /* the deep content was left */
}

static void test_depth_64_is_removed(void)
{
    const char *top = tu_fresh_dir("deep64"), *p = top;
    spill__fd fd;
    spill__tree_stats st;
    int i;
    for (i = 0; i < SPILL__MAX_DEPTH - 1; i++) {
        p = tu_join(p, "d");
        CU_ASSERT_FATAL(apr_dir_make(p, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    }
    CU_ASSERT_FATAL(tu_write_file(tu_join(p, "at64"), "x") == 0); /* level 64 */
    memset(&st, 0, sizeof st);
    CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, top, 0, &fd) == SPILL_OK);
    CU_ASSERT(spill__tree_empty(fd, NULL, &st) == SPILL_OK);
    spill__sys.close(fd);
    CU_ASSERT(st.errors == 0 && st.files == 1 && st.dirs == SPILL__MAX_DEPTH - 1);
    CU_ASSERT(tu_count_entries(top) == 0);
}

static CU_TestInfo tests[] = {
#ifndef _WIN32
    {"symlinks inside a spill removed as links", test_symlinks_inside_removed_as_links},
#endif
    {"content deeper than 64 levels is left and reported", test_depth_limit},
    {"content at level 64 is removed", test_depth_64_is_removed},
    CU_TEST_INFO_NULL,
};

test_suite suite_walk = {"walk", tests};
