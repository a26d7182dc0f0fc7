/* targets.c: the performance targets (docs/performance.md), filled in by the sections as they
 * measure, printed last with "met" or "NOT met" and the margin. A figure not measured in this
 * run is not shown. */
#include "bench.h"

typedef struct target {
    const char *what, *unit;
    double value, limit;   /* met when value <= limit; value < 0: the measurement failed */
} target;

static target targets[32];
static unsigned ntargets;

void target_add(const char *what, double value, double limit, const char *unit)
{
    if (ntargets < sizeof targets / sizeof targets[0]) {
        target *t = &targets[ntargets++];
        t->what = what;
        t->value = value;
        t->limit = limit;
        t->unit = unit;
    }
}

static const char *verdict(const target *t)
{
    return t->value < 0 ? "FAILED" : t->value <= t->limit ? "met" : "NOT met";
}

void targets_print(const bench_cfg *c, FILE *out)
{
    unsigned i;
    if (c->json) {
        fprintf(out, "[");
        for (i = 0; i < ntargets; i++)
            fprintf(out, "%s{\"target\":\"%s\",\"value\":%.4f,\"limit\":%.4f,\"unit\":\"%s\","
                         "\"met\":%s}",
                    i ? "," : "", targets[i].what, targets[i].value, targets[i].limit,
                    targets[i].unit[0] == ' ' ? targets[i].unit + 1 : targets[i].unit,
                    targets[i].value >= 0 && targets[i].value <= targets[i].limit ? "true"
                                                                                   : "false");
        fprintf(out, "]");
        return;
    }
    fprintf(out, "\ntargets\n");
    for (i = 0; i < ntargets; i++)
        fprintf(out, "  %-58s %8.2f%-4s <= %6.2f%-4s %s\n", targets[i].what, targets[i].value,
                targets[i].unit, targets[i].limit, targets[i].unit, verdict(&targets[i]));
}
