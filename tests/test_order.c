/* test_order.c: the chunks' insertion order (src/order.c) against a plain array that does the
 * same the slow way: removals in any order, positions, compaction and growth, and the same
 * through spill_put/spill_remove/spill_addr as a client sees them. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A small deterministic generator, so that a failure repeats. */
static unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 8) & 0xffffff;
}

/* Thousands of pushes and removals at random places; after each step the order is the model's. */
static void test_order_matches_model(void)
{
    enum { OPS = 20000, MAXN = 3000 };
    spill__order o;
    spill__chunk *pool = calloc(OPS, sizeof *pool), **model = calloc(OPS, sizeof *model);
    size_t n = 0, made = 0, i, step;
    unsigned seed = 7;
    memset(&o, 0, sizeof o);
    CU_ASSERT_FATAL(pool && model);
    for (step = 0; step < OPS; step++) {
        unsigned r = next_rand(&seed);
        if (n && (n >= MAXN || r % 3 == 0)) { /* remove at a random position */
            size_t at = r % n;
            spill__order_remove(&o, model[at]);
            memmove(&model[at], &model[at + 1], (n - at - 1) * sizeof *model);
            n--;
        } else {
            CU_ASSERT_FATAL(spill__order_push(&o, &pool[made]) == SPILL_OK);
            model[n++] = &pool[made++];
        }
        if (step % 97 == 0 || step == OPS - 1) { /* every position, now and then */
            CU_ASSERT_FATAL(o.live == n);
            for (i = 0; i < n; i++)
                CU_ASSERT_FATAL(spill__order_at(&o, i) == model[i]);
            CU_ASSERT(spill__order_at(&o, n) == NULL);
        }
        /* memory stays bounded: empty slots never outnumber chunks by much */
        CU_ASSERT_FATAL(o.cap <= 64 || o.used - o.live <= o.live + 1);
    }
    /* removed oldest first, as an upload frees its chunks */
    while (n) {
        spill__order_remove(&o, model[0]);
        memmove(&model[0], &model[1], (n - 1) * sizeof *model);
        n--;
        if (n)
            CU_ASSERT_FATAL(spill__order_at(&o, 0) == model[0] && spill__order_at(&o, n - 1) ==
                                                                   model[n - 1]);
    }
    CU_ASSERT(o.live == 0 && spill__order_at(&o, 0) == NULL);
    spill__order_free(&o);
    free(pool);
    free(model);
}

/* Through the API: count, total and every spill_addr follow puts and removals in any order. */
static void test_api_order(void)
{
    enum { N = 600 };
    const char *root = tu_fresh_dir("order");
    unsigned model[N], n = 0, k, seed = 3, next = 0;
    uint8_t a[SPILL_ADDR_LEN], got[SPILL_ADDR_LEN];
    uint64_t total = 0;
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK);
    while (next < N) {
        unsigned r = next_rand(&seed);
        if (n && r % 3 == 0) {
            unsigned at = r % n;
            tu_addr(a, model[at]);
            CU_ASSERT_FATAL(spill_remove(s, a) == SPILL_OK);
            total -= model[at] % 7;
            memmove(&model[at], &model[at + 1], (n - at - 1) * sizeof *model);
            n--;
        } else {
            tu_addr(a, next);
            CU_ASSERT_FATAL(spill_put(s, a, "0123456", next % 7) == SPILL_OK);
            total += next % 7;
            model[n++] = next++;
        }
    }
    CU_ASSERT_EQUAL(spill_count(s), n);
    CU_ASSERT_EQUAL(spill_total_bytes(s), total);
    for (k = 0; k < n; k++) {
        tu_addr(a, model[k]);
        CU_ASSERT_FATAL(spill_addr(s, k, got) == SPILL_OK);
        CU_ASSERT_FATAL(memcmp(a, got, SPILL_ADDR_LEN) == 0);
    }
    CU_ASSERT(spill_addr(s, n, got) == SPILL_ENOTFOUND);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static CU_TestInfo tests[] = {
    {"the order against a model: removals anywhere", test_order_matches_model},
    {"spill_addr follows puts and removals in any order", test_api_order},
    CU_TEST_INFO_NULL,
};

test_suite suite_order = {"order", tests};
