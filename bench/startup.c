/* startup.c (bench): spill_open's latency on a root with 0, 100 and 1,000 orphans of 256 files,
 * reap_on_open synchronous against SPILL_REAP_BACKGROUND (and when the background reap has
 * emptied the backlog) and against no reap at all (the floor of an open on that root); and the cost of a progress callback every 200 ms on a whole reap. */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "bench.h"

#define OPEN_FILES 256
#define OPEN_BYTES 64   /* small files: the count of entries is what costs, not their bytes */
#define EMPTY_OPENS 50  /* an open on an empty root is short: the median of many */

/* The background reap's end, seen through its closing log line. */
typedef struct bg_end {
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *cv;
    double at;          /* bench_now() of the line; 0 until it came */
} bg_end;

static void on_log(void *ctx, int level, const char *msg)
{
    bg_end *e = ctx;
    (void)level;
    if (strncmp(msg, "background reap of", 18) != 0)
        return;
    apr_thread_mutex_lock(e->mu);
    e->at = bench_now();
    apr_thread_cond_signal(e->cv);
    apr_thread_mutex_unlock(e->mu);
}

/* One open of the root: its latency, and (background) when the backlog was gone. */
static int open_once(const bench_cfg *c, const char *root, int mode, double *open_s,
                     double *gone_s)
{
    spill_opts o;
    spill_t *s;
    bg_end e;
    double t0;
    memset(&e, 0, sizeof e);
    apr_thread_mutex_create(&e.mu, APR_THREAD_MUTEX_DEFAULT, c->pool);
    apr_thread_cond_create(&e.cv, c->pool);
    spill_opts_init(&o);
    o.reap_on_open = mode;
    o.log = on_log;
    o.log_ctx = &e;
    t0 = bench_now();
    if (spill_open(root, &o, &s) != SPILL_OK)
        return -1;
    *open_s = bench_now() - t0;
    *gone_s = *open_s;
    if (mode == SPILL_REAP_BACKGROUND) {
        apr_thread_mutex_lock(e.mu);
        while (e.at == 0)
            apr_thread_cond_wait(e.cv, e.mu);
        apr_thread_mutex_unlock(e.mu);
        *gone_s = e.at - t0;
    }
    spill_close(s);
    apr_thread_cond_destroy(e.cv);
    apr_thread_mutex_destroy(e.mu);
    return mode == SPILL_REAP_NONE || tree_count(root) == 0 ? 0 : -1;
}

typedef struct open_row {
    unsigned orphans;
    bench_series open[3], gone[3]; /* synchronous, background, no reap (the floor) */
} open_row;

static int measure_row(const bench_cfg *c, open_row *row)
{
    static const int modes[3] = {SPILL_REAP_SYNC, SPILL_REAP_BACKGROUND, SPILL_REAP_NONE};
    unsigned r, k, n = !row->orphans ? EMPTY_OPENS : row->orphans >= 1000 && c->rounds > 3 ? 3
                                                                                : c->rounds;
    double o, g;
    for (r = 0; r < n; r++) {
        for (k = 0; k < 3; k++) {
            unsigned m = (k + r) % 3; /* each round another goes first */
            const char *root = apr_psprintf(c->pool, "%s/open-%u-%u-%u", c->dir, row->orphans,
                                            r, m);
            if (tree_build(root, row->orphans, OPEN_FILES, OPEN_BYTES) != 0)
                return -1;
            tree_settle(root);
            if (open_once(c, root, modes[m], &o, &g) != 0) {
                fprintf(stderr, "spill_bench: open round %u failed\n", r);
                return -1;
            }
            bench_add(&row->open[m], o);
            bench_add(&row->gone[m], g);
            tree_remove(root);
        }
    }
    for (k = 0; k < 3; k++) {
        bench_median(&row->open[k]);
        bench_median(&row->gone[k]);
    }
    return 0;
}

static void print_rows(const bench_cfg *c, const open_row *rows, unsigned n, FILE *out)
{
    unsigned i;
    if (c->json) {
        fprintf(out, "{\"files_per_orphan\":%u,\"rows\":[", OPEN_FILES);
        for (i = 0; i < n; i++)
            fprintf(out, "%s{\"orphans\":%u,\"sync_open_s\":%.6f,\"background_open_s\":%.6f,"
                         "\"background_gone_s\":%.6f,\"no_reap_open_s\":%.6f}",
                    i ? "," : "", rows[i].orphans, rows[i].open[0].median,
                    rows[i].open[1].median, rows[i].gone[1].median, rows[i].open[2].median);
        fprintf(out, "]}");
        return;
    }
    fprintf(out, "\nopen: spill_open on a root of N orphans (%u files each), medians of %u "
                 "rounds (%u on an empty root)\n", OPEN_FILES, c->rounds, EMPTY_OPENS);
    fprintf(out, "  %8s %14s %14s %12s %14s %12s %20s\n", "orphans", "synchronous",
            "background", "bg / empty", "no reap", "bg / no reap", "background: all gone");
    for (i = 0; i < n; i++)
        fprintf(out, "  %8u %11.3f ms %11.3f ms %11.2fx %11.3f ms %11.2fx %14.3f ms %4.2fx\n",
                rows[i].orphans, rows[i].open[0].median * 1e3, rows[i].open[1].median * 1e3,
                bench_ratio(&rows[i].open[1], &rows[0].open[0]), rows[i].open[2].median * 1e3,
                bench_ratio(&rows[i].open[1], &rows[i].open[2]), rows[i].gone[1].median * 1e3,
                bench_ratio(&rows[i].gone[1], &rows[i].open[0]));
}

int bench_open(const bench_cfg *c, FILE *out)
{
    static const unsigned counts[3] = {0, 100, 1000};
    open_row rows[3];
    unsigned i;
    memset(rows, 0, sizeof rows);
    for (i = 0; i < 3; i++) {
        rows[i].orphans = counts[i];
        if (measure_row(c, &rows[i]) != 0)
            return -1;
    }
    print_rows(c, rows, 3, out);
    /* the empty root's reference: a synchronous open, which reaps an empty root */
    target_add("background open, 1,000 orphans vs an empty root",
               bench_ratio(&rows[2].open[1], &rows[0].open[0]), 1.5, "x");
    /* the same open with no reap on the same root: what only the background reap adds */
    target_add("background open, 1,000 orphans vs no reap, same root",
               bench_ratio(&rows[2].open[1], &rows[2].open[2]), 1.5, "x");
    target_add("background backlog gone vs a synchronous reap, 1,000",
               bench_ratio(&rows[2].gone[1], &rows[2].open[0]), 1.1, "x");
    return 0;
}

/* ---- progress ---- */

/* What the program's progress line does per call, without writing it anywhere. */
static int on_progress(void *ctx, const spill_reap_stats *st)
{
    char line[256];
    unsigned *calls = ctx;
    (*calls)++;
    snprintf(line, sizeof line, "%u of %u, %llu bytes, %u ms", st->reaped, st->scanned,
             (unsigned long long)st->bytes_freed, st->elapsed_ms);
    return line[0] == '\0';
}

static int reap_once(const bench_cfg *c, const char *root, int with, double *secs,
                     unsigned *calls)
{
    spill_opts o;
    spill_reap_stats st;
    double t0;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = c->threads;
    if (with) {
        o.progress = on_progress;
        o.progress_ctx = calls;
        o.progress_ms = 200;
    }
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    t0 = bench_now();
    if (spill_reap(root, &o, &st) != SPILL_OK)
        return -1;
    *secs = bench_now() - t0;
    return st.reaped == c->dirs && st.errors == 0 ? 0 : -1;
}

int bench_progress(const bench_cfg *c, FILE *out)
{
    bench_series s[2];
    unsigned r, k, calls = 0;
    double t, q;
    memset(s, 0, sizeof s);
    s[0].name = "spill_reap";
    s[1].name = "spill_reap, progress every 200 ms";
    for (r = 0; r < c->rounds; r++) {
        for (k = 0; k < 2; k++) {
            unsigned m = (k + r) % 2;
            const char *root = apr_psprintf(c->pool, "%s/progress-%u-%u", c->dir, r, m);
            if (tree_build(root, c->dirs, c->files, (size_t)c->file_kib * 1024) != 0)
                return -1;
            tree_settle(root);
            if (reap_once(c, root, (int)m, &t, &calls) != 0) {
                fprintf(stderr, "spill_bench: progress round %u failed\n", r);
                return -1;
            }
            bench_add(&s[m], t);
            tree_remove(root);
        }
    }
    bench_median(&s[0]);
    bench_median(&s[1]);
    q = s[0].median > 0 ? s[1].median / s[0].median : -1;
    target_add("reap with a progress callback every 200 ms vs without", q, 1.02, "x");
    if (c->json) {
        fprintf(out, "{\"calls\":%u,\"contenders\":[", calls);
        bench_json_series(out, &s[0]);
        fprintf(out, ",");
        bench_json_series(out, &s[1]);
        fprintf(out, "]}");
        return 0;
    }
    fprintf(out, "\nprogress: spill_reap of %u orphans x %u files, threads=%u, median of %u "
                 "rounds (%u callback calls in all)\n", c->dirs, c->files, c->threads,
            c->rounds, calls);
    for (k = 0; k < 2; k++)
        fprintf(out, "  %-38s %8.3f s (best %.3f s) %6.3fx\n", s[k].name, s[k].median, s[k].best,
                s[0].median > 0 ? s[k].median / s[0].median : 0);
    return 0;
}
