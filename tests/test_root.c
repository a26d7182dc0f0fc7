/* test_root.c: rule 11: roots others can write to are tightened when ours and refused
 * when not; a sticky root-owned root (like /tmp) and a root reached through a link are fine. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "testutil.h"

static int logged_tighten;

static void log_cb(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strstr(msg, "tightened to its owner alone"))
        logged_tighten = 1;
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int open_close(const char *root)
{
    spill_t *s;
    spill_opts o;
    int rc;
    spill_opts_init(&o);
    o.log = log_cb;
    rc = spill_open(root, &o, &s);
    if (rc == SPILL_OK)
        spill_close(s);
    return rc;
}

static void test_own_loose_root_tightened(void)
{
    const char *root = tu_fresh_dir("loose");
    CU_ASSERT_FATAL(chmod(root, 0777) == 0);
    logged_tighten = 0;
    CU_ASSERT(open_close(root) == SPILL_OK);
    CU_ASSERT(mode_of(root) == 0700);
    CU_ASSERT(logged_tighten == 1);
    CU_ASSERT_FATAL(chmod(root, 0770) == 0);
    CU_ASSERT(spill_reap(root, NULL, NULL) == SPILL_OK);
    CU_ASSERT(mode_of(root) == 0700);
}

static void test_sticky_root_left_alone(void)
{
    const char *root = tu_fresh_dir("sticky");
    CU_ASSERT_FATAL(chmod(root, 01777) == 0);
    CU_ASSERT(open_close(root) == SPILL_OK);
    CU_ASSERT(mode_of(root) == 01777);
}

static void test_link_to_root_is_fine(void)
{
    const char *dir = tu_fresh_dir("linkroot");
    const char *real = tu_join(dir, "real"), *link = tu_join(dir, "link");
    CU_ASSERT_FATAL(apr_dir_make(real, APR_FPROT_OS_DEFAULT, tu_pool) == 0);
    CU_ASSERT_FATAL(symlink(real, link) == 0);
    CU_ASSERT(open_close(link) == SPILL_OK);
    CU_ASSERT(tu_exists(link) && tu_count_entries(real) == 0);
}

static int count_cb(void *ctx, const spill_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return 0;
}

static void test_other_users_root_refused(void)
{
    const char *root = tu_fresh_dir("theirs"), *sticky = tu_fresh_dir("theirs-sticky");
    const char *orphan;
    int n = 0;
    if (geteuid() != 0)
        TU_SKIP("needs root to chown a root to another user");
    orphan = tu_make_spill_dir(root, 1000, 1, 1, tu_record(1));
    CU_ASSERT_FATAL(chown(root, 65534, 65534) == 0);
    CU_ASSERT(open_close(root) == SPILL_EUNSAFE);
    CU_ASSERT(strstr(spill_error_last()->message, root) != NULL);
    CU_ASSERT(strstr(spill_error_last()->message, "another user") != NULL);
    CU_ASSERT(spill_reap(root, NULL, NULL) == SPILL_EUNSAFE);
    CU_ASSERT(tu_exists(orphan));
    CU_ASSERT(spill_scan(root, NULL, count_cb, &n) == SPILL_OK && n == 1); /* read-only */
    CU_ASSERT(mode_of(root) == 0755); /* never tightened: not ours */
    CU_ASSERT_FATAL(chown(sticky, 65534, 65534) == 0 && chmod(sticky, 01777) == 0);
    CU_ASSERT(open_close(sticky) == SPILL_EUNSAFE);
    CU_ASSERT(tu_count_entries(sticky) == 0);
}

/* As another (non-root) user: root-owned roots that anyone may write to. */
static const char *as_nobody(const char *root)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_file_t *out;
    char line[256] = "";
    int code;
    apr_exit_why_e why;
    const char *argv[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                          tu_self,   "--helper",      "rootopen",      root,             NULL};
    CU_ASSERT_FATAL(apr_procattr_create(&attr, tu_pool) == 0);
    apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE);
    apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH);
    CU_ASSERT_FATAL(apr_proc_create(&proc, "setpriv", argv, NULL, attr, tu_pool) == 0);
    out = proc.out;
    apr_file_gets(line, sizeof line, out);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    apr_file_close(out);
    line[strcspn(line, "\n")] = '\0';
    return apr_pstrdup(tu_pool, line);
}

static void test_world_writable_root_as_another_user(void)
{
    const char *open_root = tu_fresh_dir("world"), *sticky = tu_fresh_dir("world-sticky");
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
        TU_SKIP("needs root and setpriv to run as another user");
    CU_ASSERT_FATAL(chmod(open_root, 0777) == 0 && chmod(sticky, 01777) == 0);
    CU_ASSERT_STRING_EQUAL(as_nobody(open_root), "open=-7 reap=-7");
    CU_ASSERT(mode_of(open_root) == 0777 && tu_count_entries(open_root) == 0);
    CU_ASSERT_STRING_EQUAL(as_nobody(sticky), "open=0 reap=0");
    CU_ASSERT(mode_of(sticky) == 01777 && tu_count_entries(sticky) == 0);
}

static CU_TestInfo tests[] = {
    {"our own loose root is tightened to 0700", test_own_loose_root_tightened},
    {"a sticky root is never changed", test_sticky_root_left_alone},
    {"a root reached through a link is fine", test_link_to_root_is_fine},
    {"another user's root is refused", test_other_users_root_refused},
    {"world-writable roots, as another user", test_world_writable_root_as_another_user},
    CU_TEST_INFO_NULL,
};

test_suite suite_root = {"root", tests};
