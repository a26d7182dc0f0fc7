/* test_create.c: creation has no moment at which a reaper could take a live spill, whatever
 * step the creator is held at; and a stress of opens, reaps and kills loses nothing. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "testutil.h"

#ifdef SPILL_TEST_HOOKS

static const char *hold_at;      /* the step to hold the creator at */
static const char *hold_root;
static spill_reap_stats thread_st;
static char proc_line[256];
static int hook_fired, interfere, refused;

static void *APR_THREAD_FUNC reap_thread(apr_thread_t *t, void *arg)
{
    spill_opts o;
    (void)arg;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    memset(&thread_st, 0, sizeof thread_st);
    spill_reap(hold_root, &o, &thread_st);
    (void)t;
    return NULL; /* not apr_thread_exit: under ASan, pthread_exit unwinds without unpoisoning
                     the frames (a false stack-use-after-scope in sigaltstack) */
}

/* Held at a step: a reaper thread of this process, then a reaper process, run to the end. */
static int hook(const char *step)
{
    apr_thread_t *t;
    apr_status_t rv;
    const char *args[] = {hold_root, "0", NULL};
    if (strcmp(step, hold_at) != 0 || hook_fired++)
        return SPILL_OK;
    if (interfere) {
        /* someone takes the staging directory away: the creator must retry. On Windows, with
         * no staging directory, someone tries to take the new directory away, and cannot */
        const spill__fd none = SPILL__NOFD;
        apr_dir_t *d;
        apr_finfo_t fi;
        (void)none;
        if (apr_dir_open(&d, hold_root, tu_pool) == APR_SUCCESS) {
            while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
                if (strncmp(fi.name, ".spill-new_", 11) == 0)
                    apr_dir_remove(tu_join(hold_root, fi.name), tu_pool);
                else if (strncmp(fi.name, "spill_", 6) == 0)
                    refused += apr_dir_remove(tu_join(hold_root, fi.name), tu_pool) != 0;
            apr_dir_close(d);
        }
        return SPILL_OK;
    }
    CU_ASSERT_FATAL(apr_thread_create(&t, NULL, reap_thread, NULL, tu_pool) == 0);
    apr_thread_join(&rv, t);
    snprintf(proc_line, sizeof proc_line, "%s", tu_run_helper("reap", args));
    return SPILL_OK;
}

static void hold_and_reap(const char *step)
{
    const char *root = tu_fresh_dir("create");
    const char *args[2] = {NULL, NULL};
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    void *data;
    size_t len;
    hold_at = step;
    hold_root = root;
    hook_fired = 0;
    spill__step_hook = hook;
    CU_ASSERT(spill_open(root, NULL, &s) == SPILL_OK);
    spill__step_hook = NULL;
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(hook_fired == 1);
    /* neither reaper took anything, nor failed */
    CU_ASSERT(thread_st.reaped == 0 && thread_st.errors == 0);
    CU_ASSERT(strncmp(proc_line, "reaped=0 ", 9) == 0);
    CU_ASSERT(strstr(proc_line, "errors=0") != NULL);
    /* the spill is intact, published, locked and usable */
    CU_ASSERT(tu_exists(spill_path(s)));
    args[0] = spill_path(s);
    CU_ASSERT_STRING_EQUAL(tu_run_helper("probe", args), "busy");
    tu_addr(a, 1);
    CU_ASSERT(spill_put(s, a, "after", 5) == SPILL_OK);
    CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_OK && len == 5);
    spill_free(data);
    CU_ASSERT(tu_count_entries(root) == 1);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

static void test_held_after_mkdir(void) { hold_and_reap("mkdir"); }
static void test_held_after_lock(void) { hold_and_reap("lock"); }
static void test_held_after_record(void) { hold_and_reap("record"); }
#ifndef _WIN32
static void test_held_after_rename(void) { hold_and_reap("rename"); }
#endif

static void test_interference_retried(void)
{
    const char *root = tu_fresh_dir("interfere");
    spill_t *s;
    hold_at = "mkdir";
    hold_root = root;
    hook_fired = 0;
    refused = 0;
    interfere = 1;
    spill__step_hook = hook;
    CU_ASSERT(spill_open(root, NULL, &s) == SPILL_OK);
    spill__step_hook = NULL;
    interfere = 0;
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(hook_fired >= 1);
    CU_ASSERT(tu_count_entries(root) == 1); /* nothing of the first attempt left */
    CU_ASSERT(refused == !spill__platform_stages());
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}
#else
static void skipped(void)
{
    TU_SKIP("built without SPILL_TEST_HOOKS: pause points are not compiled in");
}
#endif

/* 4 processes open/put/reap/verify/close while holders are started and killed at random. */
static void test_kill_stress(void)
{
    const char *root = tu_fresh_dir("stress");
    const char *sargs[] = {root, "50", NULL};
    const char *hargs[] = {root, "3", NULL};
    tu_proc st[4];
    int i, left;
    apr_dir_t *d;
    apr_finfo_t fi;
    for (i = 0; i < 4; i++)
        CU_ASSERT_FATAL(tu_spawn(&st[i], "stress", sargs) == 0);
    srand(7);
    for (i = 0; i < 40; i++) {
        tu_proc h;
        CU_ASSERT_FATAL(tu_spawn(&h, "hold", hargs) == 0);
        if (rand() % 3) /* else: killed wherever it is, possibly inside spill_open */
            tu_read_line(&h);
        tu_kill(&h);
    }
    for (i = 0; i < 4; i++) {
        const char *line = tu_read_line(&st[i]);
        CU_ASSERT_FATAL(line != NULL);
        if (strcmp(line, "ok") != 0)
            printf("\n  stress %d: %s\n", i, line);
        CU_ASSERT_STRING_EQUAL(line, "ok");
        CU_ASSERT(tu_wait(&st[i]) == 0);
    }
    /* Windows releases a killed holder's lock a moment after the process is gone */
    CU_ASSERT_FATAL(apr_dir_open(&d, root, tu_pool) == APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strncmp(fi.name, "spill_", 6) == 0)
            tu_wait_unlocked(tu_join(root, fi.name));
    apr_dir_close(d);
    tu_reap(root, 0);
    left = 0;
    CU_ASSERT_FATAL(apr_dir_open(&d, root, tu_pool) == APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..") ||
            !strncmp(fi.name, ".spill-reserve-", 15))
            continue;
        /* only staging directories of creators killed inside spill_open, under 60 s old */
        CU_ASSERT(strncmp(fi.name, ".spill-new_", 11) == 0);
        left++;
    }
    apr_dir_close(d);
    printf("\n  stress: %d young staging directories left of killed creators\n", left);
}

static CU_TestInfo tests[] = {
#ifdef SPILL_TEST_HOOKS
    {"creator held after mkdir: reapers take nothing", test_held_after_mkdir},
    {"creator held after lock", test_held_after_lock},
    {"creator held after the record", test_held_after_record},
#ifndef _WIN32 /* Windows creates the directory under its final name: no rename */
    {"creator held after the rename", test_held_after_rename},
#endif
    {"interference is retried under a new name", test_interference_retried},
#else
    {"creation pause points", skipped},
#endif
    {"kill stress: 4 uploaders and random kills lose nothing", test_kill_stress},
    CU_TEST_INFO_NULL,
};

test_suite suite_create = {"create", tests};
