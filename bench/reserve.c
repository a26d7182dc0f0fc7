/* reserve.c (bench): what a reservation costs an open. spill_open with expected_bytes of 1 MiB,
 * then its spill_close, on a root of 0, 10 and 100 live spills held by a helper process (each
 * opened with expected_bytes of 1 MiB: a lease the new spill's decision counts), against the
 * same open without expected_bytes (which takes no decision) on the same root. Options are
 * version 1's with the defaults otherwise (reap_on_open: the open reaps first, as most callers
 * leave it), so that every release reads them alike. With --baseline REF, REF's opens asking for
 * the same bytes are timed too, and this/REF is reported: compare with a release before
 * reservations (0.2.0). The contenders take turns going first. */
#include <string.h>

#include <apr_strings.h>

#include "bench.h"

#define RESERVE_EXPECTED ((uint64_t)1 << 20)
/* an open and a close take a millisecond or so: many per round, so that the median skips the
 * ones another process preempted */
#define RESERVE_SAMPLES 10

static const unsigned live_counts[] = {0, 10, 100};
#define NCOUNTS (sizeof live_counts / sizeof live_counts[0])

/* The contenders, in the series' order: this tree's open with a reservation, the same open
 * without one (no decision: what the reservation costs against this release itself), and with
 * --baseline the baseline's open asking for the same bytes. */
enum { WITH, WITHOUT, BASE, NKINDS };

static const bench_lib *lib_of(const bench_cfg *c, int k)
{
    return k == BASE ? c->lib[1] : c->lib[0];
}

static int time_open(const bench_lib *l, const char *root, uint64_t expected, double *secs)
{
    spill_opts o;
    spill_t *s;
    double t0;
    int rc;
    l->opts_init(&o);
    o.expected_bytes = expected;
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
    unsigned r, i, kinds = c->nlibs > 1 ? NKINDS : BASE;
    double t = 0;
    int rc = 0;
    if (bench_hold(c, root, n, RESERVE_EXPECTED, &h) != 0)
        return -1;
    rc = check_held(root, n);
    for (i = 0; i < kinds && rc == 0; i++) /* untimed: the root and the user's lock made */
        rc = time_open(lib_of(c, (int)i), root, i == WITHOUT ? 0 : RESERVE_EXPECTED, &t);
    for (r = 0; r < c->rounds * RESERVE_SAMPLES && rc == 0; r++)
        for (i = 0; i < kinds; i++) { /* each round, another contender goes first */
            unsigned k = (i + r) % kinds;
            if (time_open(lib_of(c, (int)k), root, k == WITHOUT ? 0 : RESERVE_EXPECTED, &t)) {
                fprintf(stderr, "spill_bench: reserve: %s on %u live spills failed: %s\n",
                        s[k].name, n, spill_error_last()->message);
                s[k].failed = 1;
                rc = -1;
                break;
            }
            bench_add(&s[k], t);
        }
    bench_unhold(&h);
    tree_remove(root);
    for (i = 0; i < kinds; i++)
        bench_median(&s[i]);
    return rc;
}

int bench_reserve(const bench_cfg *c, FILE *out)
{
    bench_series s[NCOUNTS][NKINDS];
    const bench_series *last = s[NCOUNTS - 1];
    unsigned n, i, kinds = c->nlibs > 1 ? NKINDS : BASE, top = live_counts[NCOUNTS - 1];
    memset(s, 0, sizeof s);
    for (n = 0; n < NCOUNTS; n++) {
        s[n][WITH].name = apr_psprintf(c->pool, "spill_open with a reservation, %u live",
                                       live_counts[n]);
        s[n][WITHOUT].name = apr_psprintf(c->pool, "spill_open without one, %u live",
                                          live_counts[n]);
        if (kinds > BASE)
            s[n][BASE].name = apr_psprintf(c->pool, "spill_open, %u live, %s", live_counts[n],
                                           c->lib[1]->name);
        if (one_root(c, live_counts[n], s[n]) != 0)
            return -1;
    }
    target_add(apr_psprintf(c->pool, "open with a reservation vs without one, %u live spills",
                            top),
               bench_ratio(&last[WITH], &last[WITHOUT]), 1.3, "x");
    if (kinds > BASE)
        target_add(apr_psprintf(c->pool, "open with a reservation vs %s's open, %u live spills",
                                c->lib[1]->name, top),
                   bench_ratio(&last[WITH], &last[BASE]), 1.3, "x");
    if (c->json) {
        fprintf(out, "{\"expected_bytes\":%llu,\"roots\":[",
                (unsigned long long)RESERVE_EXPECTED);
        for (n = 0; n < NCOUNTS; n++) {
            fprintf(out, "%s{\"live\":%u,\"contenders\":[", n ? "," : "", live_counts[n]);
            for (i = 0; i < kinds; i++) {
                fprintf(out, "%s", i ? "," : "");
                bench_json_series(out, &s[n][i]);
            }
            fprintf(out, "],\"ratio_unreserved\":%.4f", bench_ratio(&s[n][WITH], &s[n][WITHOUT]));
            if (kinds > BASE)
                fprintf(out, ",\"ratio\":%.4f", bench_ratio(&s[n][WITH], &s[n][BASE]));
            fprintf(out, "}");
        }
        fprintf(out, "]}");
        return 0;
    }
    fprintf(out, "\nreserve: spill_open with expected_bytes of 1 MiB and spill_close (version-1 "
                 "options: a reap first), against the same open without expected_bytes (no "
                 "reservation), on a root of N live spills held by a helper process, each with a "
                 "1 MiB reservation; median of %u interleaved opens\n",
            c->rounds * RESERVE_SAMPLES);
    fprintf(out, "  %-12s %14s %14s %10s", "live spills", "reserving", "not reserving",
            "ratio");
    if (kinds > BASE)
        fprintf(out, " %14s %10s", c->lib[1]->name, "this/base");
    fprintf(out, "\n");
    for (n = 0; n < NCOUNTS; n++) {
        fprintf(out, "  %-12u %11.3f ms %11.3f ms %9.2fx", live_counts[n],
                s[n][WITH].median * 1e3, s[n][WITHOUT].median * 1e3,
                bench_ratio(&s[n][WITH], &s[n][WITHOUT]));
        if (kinds > BASE)
            fprintf(out, " %11.3f ms %9.2fx", s[n][BASE].median * 1e3,
                    bench_ratio(&s[n][WITH], &s[n][BASE]));
        fprintf(out, "\n");
    }
    return 0;
}
