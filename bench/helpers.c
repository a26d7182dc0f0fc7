/* helpers.c (bench): the benchmark is its own helper process. `hold N ROOT` keeps N live spills
 * until its stdin closes (readiness is a line on stdout, never a sleep); `reap ROOT THREADS`
 * reaps in a fresh process so that its peak RSS is the reap's alone; `build ROOT DIRS FILES
 * KIB` makes one tree of orphans, to profile a reap by hand. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

/* Each live spill keeps three descriptors (root, directory, .lock). */
static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need + 64) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need + 64 ? need + 64
                                                                              : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int hold(unsigned n, const char *root)
{
    spill_t **s = calloc(n ? n : 1, sizeof *s);
    spill_opts o;
    char line[64];
    unsigned i;
    int rc = 0;
    raise_fd_limit(3 * n);
    spill_opts_init(&o);
    o.reap_on_open = 0; /* else each open would judge all the others: quadratic */
    for (i = 0; i < n; i++)
        if (spill_open(root, &o, &s[i]) != SPILL_OK) {
            printf("error %s\n", spill_error_last()->message);
            rc = 1;
            break;
        }
    if (rc == 0)
        printf("ready %u\n", n);
    fflush(stdout);
    while (rc == 0 && fgets(line, sizeof line, stdin))
        ;
    while (i-- > 0)
        spill_close(s[i]);
    free(s);
    return rc;
}

static int reap(const char *root, unsigned threads)
{
    spill_opts o;
    spill_reap_stats st;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.threads = threads;
    memset(&st, 0, sizeof st);
    if (spill_reap(root, &o, &st) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    printf("reaped=%u files_removed=%llu errors=%u\n", st.reaped,
           (unsigned long long)st.files_removed, st.errors);
    return st.errors ? 1 : 0;
}

int bench_helper(int argc, const char *const *argv)
{
    if (argc == 3 && strcmp(argv[0], "hold") == 0)
        return hold((unsigned)strtoul(argv[1], NULL, 10), argv[2]);
    if (argc == 5 && strcmp(argv[0], "build") == 0)
        return tree_build(argv[1], (unsigned)strtoul(argv[2], NULL, 10),
                          (unsigned)strtoul(argv[3], NULL, 10),
                          (size_t)strtoul(argv[4], NULL, 10) * 1024) != 0;
    if (argc == 3 && strcmp(argv[0], "reap") == 0)
        return reap(argv[1], (unsigned)strtoul(argv[2], NULL, 10));
    fprintf(stderr, "spill_bench: unknown helper\n");
    return 2;
}
