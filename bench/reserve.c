/* reserve.c (bench): what a reservation costs an open. spill_open with expected_bytes of 1 MiB,
 * then its spill_close, on a root of 0, 10 and 100 live spills held by a helper process (each
 * opened with expected_bytes of 1 MiB: a lease the new spill's decision counts). Every open of
 * 0.3 takes its first lease after a survey of the root, under the user's lock. Options are
 * version 1's with the defaults otherwise (reap_on_open: the open reaps first, as most callers
 * leave it), so that every release reads them alike. With --baseline REF, REF's opens on the
 * same root are timed too, the two alternating which goes first, and this/REF is reported:
 * compare with a release before reservations (0.2.0). */
#include <string.h>

#include <apr_strings.h>

#include "bench.h"

#define RESERVE_EXPECTED ((uint64_t)1 << 20)
/* an open and a close take a millisecond or so: many per round, so that the median skips the
 * ones another process preempted */
#define RESERVE_SAMPLES 10

static const unsigned live_counts[] = {0, 10, 100};
#define NCOUNTS (sizeof live_counts / sizeof live_counts[0])

static int time_open(const bench_lib *l, const char *root, double *secs)
{
    spill_opts o;
    spill_t *s;
    double t0;
    int rc;
    l->opts_init(&o);
    o.expected_bytes = RESERVE_EXPECTED;
    t0 = bench_now();
    if (l->open(root, &o, &s) != SPILL_OK)
        return -1;
    rc = l->close(s);
    *secs = bench_now() - t0;
    return rc == SPILL_OK ? 0 : -1;
}

static int count_reserved(void *ctx, const spill_entry *e)
{
    if (e->state == SPILL_LIVE && e->reserved_bytes >= RESERVE_EXPECTED)
        ++*(unsigned *)ctx;
    return 0;
}

/* The holder's spills are what the figures say: n live, each with its reservation. */
static int check_held(const char *root, unsigned n)
{
    unsigned seen = 0;
    if (spill_scan(root, NULL, count_reserved, &seen) != SPILL_OK || seen != n) {
        fprintf(stderr, "spill_bench: reserve: %u of %u held spills have their reservation\n",
                seen, n);
        return -1;
    }
    return 0;
}

/* One root of n live spills: every contender's samples, interleaved. */
static int one_root(const bench_cfg *c, unsigned n, bench_series *s)
{
    const char *root = apr_psprintf(c->pool, "%s/reserve-%u", c->dir, n);
    bench_holder h;
    unsigned r, i;
    double t = 0;
    int rc = 0;
    if (bench_hold(c, root, n, RESERVE_EXPECTED, &h) != 0)
        return -1;
    rc = check_held(root, n);
    for (i = 0; i < c->nlibs && rc == 0; i++) /* untimed: the root and the user's lock made */
        rc = time_open(c->lib[i], root, &t);
    for (r = 0; r < c->rounds * RESERVE_SAMPLES && rc == 0; r++)
        for (i = 0; i < c->nlibs; i++) { /* the releases alternate going first */
            unsigned k = c->nlibs > 1 && r % 2 ? 1 - i : i;
            if (time_open(c->lib[k], root, &t) != 0) {
                fprintf(stderr, "spill_bench: reserve: %s's open on %u live spills failed: %s\n",
                        c->lib[k]->name, n, spill_error_last()->message);
                s[k].failed = 1;
                rc = -1;
                break;
            }
            bench_add(&s[k], t);
        }
    bench_unhold(&h);
    tree_remove(root);
    for (i = 0; i < c->nlibs; i++)
        bench_median(&s[i]);
    return rc;
}

int bench_reserve(const bench_cfg *c, FILE *out)
{
    bench_series s[NCOUNTS][2];
    unsigned n, i;
    memset(s, 0, sizeof s);
    for (n = 0; n < NCOUNTS; n++) {
        for (i = 0; i < c->nlibs; i++)
            s[n][i].name = apr_psprintf(c->pool, "spill_open + spill_close, %u live, %s",
                                        live_counts[n], c->lib[i]->name);
        if (one_root(c, live_counts[n], s[n]) != 0)
            return -1;
    }
    if (c->nlibs > 1) {
        const bench_series *last = s[NCOUNTS - 1];
        target_add(apr_psprintf(c->pool, "open with a reservation vs %s's open, %u live spills",
                                c->lib[1]->name, live_counts[NCOUNTS - 1]),
                   last[1].median > 0 ? last[0].median / last[1].median : 0, 1.3, "x");
    }
    if (c->json) {
        fprintf(out, "{\"expected_bytes\":%llu,\"roots\":[",
                (unsigned long long)RESERVE_EXPECTED);
        for (n = 0; n < NCOUNTS; n++) {
            fprintf(out, "%s{\"live\":%u,\"contenders\":[", n ? "," : "", live_counts[n]);
            for (i = 0; i < c->nlibs; i++) {
                fprintf(out, "%s", i ? "," : "");
                bench_json_series(out, &s[n][i]);
            }
            fprintf(out, "]");
            if (c->nlibs > 1)
                fprintf(out, ",\"ratio\":%.4f",
                        s[n][1].median > 0 ? s[n][0].median / s[n][1].median : 0);
            fprintf(out, "}");
        }
        fprintf(out, "]}");
        return 0;
    }
    fprintf(out, "\nreserve: spill_open with expected_bytes of 1 MiB and spill_close (version-1 "
                 "options: a reap first), on a root of N live spills held by a helper process, "
                 "each with a 1 MiB reservation; median of %u interleaved opens\n",
            c->rounds * RESERVE_SAMPLES);
    if (c->nlibs > 1)
        fprintf(out, "  %-12s %14s %14s %10s\n", "live spills", "this tree", c->lib[1]->name,
                "this/base");
    else
        fprintf(out, "  %-12s %14s\n", "live spills", "this tree");
    for (n = 0; n < NCOUNTS; n++) {
        fprintf(out, "  %-12u %11.3f ms", live_counts[n], s[n][0].median * 1e3);
        if (c->nlibs > 1)
            fprintf(out, " %11.3f ms %9.2fx", s[n][1].median * 1e3,
                    s[n][1].median > 0 ? s[n][0].median / s[n][1].median : 0);
        fprintf(out, "\n");
    }
    return 0;
}
