/* series.c: a monotonic clock, the rounds of one contender and their median, as JSON too. */
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double tv(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

double bench_cpu(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return tv(self.ru_utime) + tv(self.ru_stime) + tv(kids.ru_utime) + tv(kids.ru_stime);
}

void bench_add(bench_series *s, double secs)
{
    bench_add_cpu(s, secs, 0);
}

void bench_add_cpu(bench_series *s, double secs, double cpu)
{
    if (s->n < BENCH_MAX_ROUNDS) {
        s->cpu[s->n] = cpu;
        s->runs[s->n++] = secs;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(const double *runs, unsigned n)
{
    double v[BENCH_MAX_ROUNDS];
    unsigned i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        v[i] = runs[i];
    qsort(v, n, sizeof v[0], cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_median(bench_series *s)
{
    unsigned i;
    s->best = s->n ? s->runs[0] : 0;
    for (i = 1; i < s->n; i++)
        if (s->runs[i] < s->best)
            s->best = s->runs[i];
    s->median = median_of(s->runs, s->n);
    s->cpu_median = median_of(s->cpu, s->n);
}

void bench_json_series(FILE *out, const bench_series *s)
{
    unsigned i;
    fprintf(out, "{\"name\":\"%s\",\"median_s\":%.6f,\"best_s\":%.6f,\"cpu_median_s\":%.6f,"
                 "\"ok\":%s,\"runs_s\":[",
            s->name, s->median, s->best, s->cpu_median, s->failed ? "false" : "true");
    for (i = 0; i < s->n; i++)
        fprintf(out, "%s%.6f", i ? "," : "", s->runs[i]);
    fprintf(out, "]}");
}

double bench_ratio(const bench_series *a, const bench_series *b)
{
    return b->median > 0 ? a->median / b->median : 0;
}
