/* judge.c (bench): the cost per entry of judging a root of live spills held by a helper
 * process (this program, `--helper hold N ROOT`): a reap that finds every entry live. */
#include <string.h>

#include <apr_strings.h>

#include "bench.h"

/* a pass over 1,000 live spills takes milliseconds: many passes, so that the median skips
 * the ones another process preempted */
#define JUDGE_ROUNDS 10

/* Version-1 options and stats: what every release reads alike. */
static int time_reap(const bench_cfg *c, const bench_lib *l, const char *root, double *secs,
                     double *cpu)
{
    spill_opts o;
    spill_reap_stats st;
    double t0, cpu0;
    l->opts_init(&o);
    o.grace_seconds = 0;
    memset(&st, 0, sizeof st);
    st.version = 1;
    cpu0 = bench_cpu();
    t0 = bench_now();
    if (l->reap(root, &o, &st) != SPILL_OK)
        return -1;
    *secs = bench_now() - t0;
    *cpu = bench_cpu() - cpu0;
    return st.live == c->live && st.scanned == c->live ? 0 : -1;
}

static int count_cb(void *ctx, const spill_entry *e)
{
    if (e->state == SPILL_LIVE)
        ++*(unsigned *)ctx;
    return 0;
}

static int time_scan(const bench_cfg *c, const bench_lib *l, const char *root, double *secs,
                     double *cpu)
{
    unsigned live = 0;
    double cpu0 = bench_cpu(), t0 = bench_now();
    if (l->scan(root, NULL, count_cb, &live) != SPILL_OK)
        return -1;
    *secs = bench_now() - t0;
    *cpu = bench_cpu() - cpu0;
    return live == c->live ? 0 : -1;
}

static void print_row(const bench_cfg *c, const bench_series *s, FILE *out)
{
    fprintf(out, "  %-36s %7.3f s %8.2f us per entry (CPU %.2f us)%s\n", s->name, s->median,
            s->median / c->live * 1e6, s->cpu_median / c->live * 1e6,
            s->failed ? "  (FAILED)" : "");
}

/* With a baseline: this tree's cost over the baseline's, and the target (at most 1.0x). */
static void against(const bench_cfg *c, const bench_series *s, FILE *out)
{
    unsigned i;
    for (i = 0; i < 2; i++) {
        double q = s[2 + i].median > 0 ? s[i].median / s[2 + i].median : 0;
        target_add(apr_psprintf(c->pool, "%s vs %s", i ? "spill_scan" : "judging a live spill",
                                c->lib[1]->name),
                   q, 1.0, "x");
        if (!c->json)
            fprintf(out, "  %-36s %7.2fx %s's cost\n", s[i].name, q, c->lib[1]->name);
    }
}

int bench_judge(const bench_cfg *c, FILE *out)
{
    const char *root = apr_psprintf(c->pool, "%s/live", c->dir);
    bench_series s[4];
    bench_holder h;
    unsigned r, i, n = 2 * c->nlibs;
    double t = 0, cpu = 0;
    memset(s, 0, sizeof s);
    s[0].name = "spill_reap (all live)";
    s[1].name = "spill_scan (all live)";
    if (c->nlibs > 1) {
        s[2].name = apr_psprintf(c->pool, "spill_reap (all live), %s", c->lib[1]->name);
        s[3].name = apr_psprintf(c->pool, "spill_scan (all live), %s", c->lib[1]->name);
    }
    if (bench_hold(c, root, c->live, 0, &h) != 0)
        return -1;
    for (r = 0; r < c->rounds * JUDGE_ROUNDS; r++)
        for (i = 0; i < n; i++) { /* the releases alternate going first */
            unsigned k = c->nlibs > 1 && r % 2 ? (i + 2) % n : i;
            const bench_lib *l = c->lib[k / 2];
            if ((k % 2 ? time_scan(c, l, root, &t, &cpu) : time_reap(c, l, root, &t, &cpu)) != 0)
                s[k].failed = 1;
            bench_add_cpu(&s[k], t, cpu);
        }
    bench_unhold(&h);
    tree_remove(root);
    for (i = 0; i < n; i++)
        bench_median(&s[i]);
    target_add("judging a live spill, per entry", s[0].median / c->live * 1e6, 20, " us");
    if (c->json) {
        fprintf(out, "{\"live\":%u,\"us_per_entry\":%.3f,\"contenders\":[", c->live,
                s[0].median / c->live * 1e6);
        for (i = 0; i < n; i++) {
            fprintf(out, "%s", i ? "," : "");
            bench_json_series(out, &s[i]);
        }
        fprintf(out, "]}");
        if (c->nlibs > 1)
            against(c, s, out);
        return 0;
    }
    fprintf(out, "\njudge: a root of %u live spills held by a helper process, median of %u "
                 "rounds\n",
            c->live, c->rounds * JUDGE_ROUNDS);
    for (i = 0; i < n; i++)
        print_row(c, &s[i], out);
    if (c->nlibs > 1)
        against(c, s, out);
    return 0;
}
