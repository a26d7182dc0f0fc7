/* human.c: what a person reads in `ls` and `reap`: sizes in binary units, ages, states, and
 * strings made safe to print on a terminal. */
#include <stdio.h>

#include "cli.h"

const char *spill__cli_size(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    int u = -1;
    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

/* Two units at most ("45s", "2m05s", "3h12m", "4d06h"): enough to tell old from fresh. */
const char *spill__cli_age(char *buf, size_t size, int64_t seconds)
{
    /* a name timestamp in the future gives a negative age: shown as such, not hidden */
    const char *sign = seconds < 0 ? "-" : "";
    uint64_t s = seconds < 0 ? (uint64_t)0 - (uint64_t)seconds : (uint64_t)seconds;
    if (s < 60)
        snprintf(buf, size, "%s%llus", sign, (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, size, "%s%llum%02llus", sign, (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, size, "%s%lluh%02llum", sign, (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, size, "%s%llud%02lluh", sign, (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    return buf;
}

const char *spill__cli_state(spill_state st)
{
    switch (st) {
    case SPILL_LIVE: return "live";
    case SPILL_ORPHAN: return "orphan";
    case SPILL_YOUNG: return "young";
    case SPILL_UNSAFE: return "unsafe";
    case SPILL_ERROR: return "error";
    case SPILL_RESUMABLE: return "resumable";
    }
    return "unknown";
}

const char *spill__cli_printable(apr_pool_t *pool, const char *s, size_t *width)
{
    const char *c = spill__cli_clean(pool, s), *p;
    size_t w = 0;
    /* the cleaned string is valid UTF-8: count its characters */
    for (p = c; *p; p++)
        w += ((unsigned char)*p & 0xc0) != 0x80;
    *width = w;
    return c;
}
