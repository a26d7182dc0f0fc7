/* test_threads.c: one process, many threads: spills opened, used and closed on some while others
 * reap and scan the same root (the README's rule: distinct handles from different threads at once,
 * spill_reap and spill_scan from any thread at any time). Under TSan (ci/sanitize.sh) this is
 * what shows a race in the library's shared state: init, the registry, the error slots. */
#include <stdio.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "testutil.h"

#define UPLOADERS 4
#define ROUNDS 25
#define CHUNKS 4

typedef struct worker {
    const char *root;
    unsigned id;
    char fail[256]; /* empty if every round went well */
} worker;

static volatile apr_uint32_t uploaders_left;

static int round_trip(worker *w, unsigned r)
{
    spill_opts o;
    spill_t *s;
    unsigned i;
    spill_opts_init(&o);
    o.grace_seconds = 0; /* each open reaps whatever is free, at once */
    if (spill_open(w->root, &o, &s) != SPILL_OK) {
        snprintf(w->fail, sizeof w->fail, "open: %s", spill_error_last()->message);
        return 1;
    }
    for (i = 0; i < CHUNKS; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[64];
        tu_addr(a, w->id * 100000 + r * 100 + i);
        snprintf(buf, sizeof buf, "worker %u round %u chunk %u", w->id, r, i);
        if (spill_put(s, a, buf, strlen(buf)) != SPILL_OK)
            snprintf(w->fail, sizeof w->fail, "put: %s", spill_error_last()->message);
    }
    for (i = 0; i < CHUNKS && !w->fail[0]; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        char buf[64];
        void *data;
        size_t len;
        tu_addr(a, w->id * 100000 + r * 100 + i);
        snprintf(buf, sizeof buf, "worker %u round %u chunk %u", w->id, r, i);
        if (spill_get(s, a, &data, &len) != SPILL_OK)
            snprintf(w->fail, sizeof w->fail, "get: %s", spill_error_last()->message);
        else if (len != strlen(buf) || memcmp(data, buf, len) != 0)
            snprintf(w->fail, sizeof w->fail, "chunk %u of round %u differs", i, r);
        spill_free(data);
    }
    if (spill_close(s) != SPILL_OK && !w->fail[0])
        snprintf(w->fail, sizeof w->fail, "close: %s", spill_error_last()->message);
    return w->fail[0] != '\0';
}

static void *APR_THREAD_FUNC uploader(apr_thread_t *t, void *arg)
{
    worker *w = arg;
    unsigned r;
    for (r = 0; r < ROUNDS && !w->fail[0]; r++)
        round_trip(w, r);
    apr_atomic_dec32(&uploaders_left);
    (void)t;
    return NULL; /* not apr_thread_exit: see below */
}

static int count_live(void *ctx, const spill_entry *e)
{
    (void)ctx;
    (void)e;
    return 0;
}

/* Reaps with grace 0 and scans until the uploaders are done: never an error, never a loss. */
static void *APR_THREAD_FUNC reaper(apr_thread_t *t, void *arg)
{
    worker *w = arg;
    while (apr_atomic_read32(&uploaders_left) > 0 && !w->fail[0]) {
        spill_opts o;
        spill_reap_stats st;
        spill_opts_init(&o);
        o.grace_seconds = 0;
        memset(&st, 0, sizeof st);
        if (spill_reap(w->root, &o, &st) != SPILL_OK || st.errors)
            snprintf(w->fail, sizeof w->fail, "reap: %u errors, %s", st.errors,
                     spill_error_last()->message);
        else if (spill_scan(w->root, NULL, count_live, NULL) != SPILL_OK)
            snprintf(w->fail, sizeof w->fail, "scan: %s", spill_error_last()->message);
    }
    /* A return, not apr_thread_exit: pthread_exit unwinds without unpoisoning the frames'
     * scoped locals, and ASan then flags its own teardown of the thread (stack-use-after-scope
     * in sigaltstack), a false report. */
    (void)t;
    return NULL;
}

static void test_threads_share_a_root(void)
{
    const char *root = tu_fresh_dir("threads");
    apr_thread_t *t[UPLOADERS + 1];
    worker w[UPLOADERS + 1];
    apr_status_t rv;
    unsigned i;
    apr_atomic_set32(&uploaders_left, UPLOADERS);
    for (i = 0; i <= UPLOADERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].root = root;
        w[i].id = i;
        CU_ASSERT_FATAL(apr_thread_create(&t[i], NULL, i < UPLOADERS ? uploader : reaper, &w[i],
                                          tu_pool) == APR_SUCCESS);
    }
    for (i = 0; i <= UPLOADERS; i++) {
        apr_thread_join(&rv, t[i]);
        if (w[i].fail[0])
            printf("\n  thread %u: %s\n", i, w[i].fail);
        CU_ASSERT(w[i].fail[0] == '\0');
    }
    CU_ASSERT(tu_count_entries(root) == 0);
}

static CU_TestInfo tests[] = {
    {"4 uploaders and a reaper/scanner thread share one root", test_threads_share_a_root},
    CU_TEST_INFO_NULL,
};

test_suite suite_threads = {"threads", tests};
