/* remove.c (bench): spill_remove oldest first (the order an upload frees its chunks) against
 * newest first, at 10,000 and 200,000 chunks of one byte; and spill_addr walked from 0 to
 * count-1. Each contender puts the chunks untimed, then times its removals. */
#include <string.h>

#include <apr_strings.h>

#include "bench.h"

static void addr_of(unsigned i, uint8_t a[SPILL_ADDR_LEN])
{
    memset(a, 0, SPILL_ADDR_LEN);
    memcpy(a, &i, sizeof i);
    a[SPILL_ADDR_LEN - 1] = 0x5a;
}

typedef enum { OLDEST, NEWEST, WALK } mode;

/* Puts n chunks, then times removing them all (or walking spill_addr). */
static int one_run(const char *root, unsigned n, mode m, double *secs)
{
    spill_opts o;
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    unsigned i;
    double t0;
    int rc = SPILL_OK;
    spill_opts_init(&o);
    o.reap_on_open = 0;
    if (spill_open(root, &o, &s) != SPILL_OK)
        return -1;
    for (i = 0; i < n && rc == SPILL_OK; i++) {
        addr_of(i, a);
        rc = spill_put(s, a, "x", 1);
    }
    t0 = bench_now();
    for (i = 0; i < n && rc == SPILL_OK; i++) {
        if (m == WALK) {
            rc = spill_addr(s, i, a);
            continue;
        }
        addr_of(m == OLDEST ? i : n - 1 - i, a);
        rc = spill_remove(s, a);
    }
    *secs = bench_now() - t0;
    if (rc == SPILL_OK && m != WALK && spill_count(s) != 0)
        rc = SPILL_EIO;
    spill_close(s);
    return rc == SPILL_OK ? 0 : -1;
}

static int at_size(const bench_cfg *c, unsigned n, FILE *out)
{
    static const char *names[] = {"spill_remove oldest first", "spill_remove newest first",
                                  "spill_addr 0..count-1"};
    bench_series s[3];
    unsigned r, k, rounds = c->rounds < 3 ? c->rounds : 3; /* 200,000 files a run */
    double t, q;
    memset(s, 0, sizeof s);
    for (k = 0; k < 3; k++)
        s[k].name = names[k];
    for (r = 0; r < rounds; r++) {
        for (k = 0; k < 3; k++) {
            mode m = (mode)((k + r) % 3); /* each round another goes first */
            const char *root = apr_psprintf(c->pool, "%s/remove-%u-%u-%u", c->dir, n, r, k);
            if (one_run(root, n, m, &t) != 0) {
                fprintf(stderr, "spill_bench: remove round %u failed\n", r);
                return -1;
            }
            bench_add(&s[m], t);
            tree_remove(root);
        }
    }
    for (k = 0; k < 3; k++)
        bench_median(&s[k]);
    q = s[1].median > 0 ? s[0].median / s[1].median : 0;
    if (n >= 200000)
        target_add("spill_remove oldest first vs newest first, 200,000 chunks", q, 1.2, "x");
    if (c->json) {
        fprintf(out, "%s{\"chunks\":%u,\"contenders\":[", n == 10000 ? "" : ",", n);
        for (k = 0; k < 3; k++) {
            bench_json_series(out, &s[k]);
            fprintf(out, k < 2 ? "," : "]}");
        }
        return 0;
    }
    fprintf(out, "\nremove: %u chunks, median of %u rounds (per call)\n", n, rounds);
    for (k = 0; k < 3; k++)
        fprintf(out, "  %-38s %8.3f s %7.2f us %6.2fx\n", s[k].name, s[k].median,
                s[k].median * 1e6 / n, s[1].median > 0 ? s[k].median / s[1].median : 0);
    return 0;
}

int bench_remove(const bench_cfg *c, FILE *out)
{
    if (c->json)
        fprintf(out, "[");
    if (at_size(c, 10000, out) != 0 || at_size(c, 200000, out) != 0)
        return -1;
    if (c->json)
        fprintf(out, "]");
    return 0;
}
