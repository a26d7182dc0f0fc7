/* test_fork.c: a forked child can neither use nor destroy its parent's spill. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "testutil.h"

/* In the child: every call refuses, close only frees; exit code = number of wrong answers. */
static int child_checks(spill_t *s)
{
    uint8_t a[SPILL_ADDR_LEN], out[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    int bad = 0;
    tu_addr(a, 1);
    bad += spill_put(s, a, "child", 5) != SPILL_EFORKED;
    bad += spill_get(s, a, &data, &len) != SPILL_EFORKED;
    bad += spill_remove(s, a) != SPILL_EFORKED;
    bad += spill_addr(s, 0, out) != SPILL_EFORKED;
    bad += spill_count(s) != 0;
    bad += spill_total_bytes(s) != 0;
    bad += spill_path(s) != NULL;
    bad += spill_close(s) != SPILL_EFORKED;
    return bad;
}

static void test_forked_child(void)
{
    const char *root = tu_fresh_dir("fork"), *path;
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    pid_t pid;
    int status;
    const char *args[2] = {NULL, NULL};
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "parent", 6) == SPILL_OK);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(child_checks(s));
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the parent's spill is intact, still locked, still usable */
    CU_ASSERT(tu_exists(path));
    args[0] = path;
    CU_ASSERT_STRING_EQUAL(tu_run_helper("probe", args), "busy");
    CU_ASSERT(spill_count(s) == 1);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_OK && len == 6 &&
              memcmp(data, "parent", 6) == 0);
    spill_free(data);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
}

static CU_TestInfo tests[] = {
    {"forked child gets EFORKED, parent intact", test_forked_child},
    CU_TEST_INFO_NULL,
};

test_suite suite_fork = {"fork", tests};
