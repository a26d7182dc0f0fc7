/* helpers.c (bench): the benchmark is its own helper process. `hold N ROOT [EXPECTED]` keeps N
 * live spills (each opened with expected_bytes EXPECTED, if given) until its stdin closes (readiness is a line on stdout, never a sleep); `reap ROOT THREADS`
 * reaps in a fresh process so that its peak RSS is the reap's alone; `build ROOT DIRS FILES
 * KIB` makes one tree of orphans, to profile a reap by hand. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <apr_strings.h>

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

static int hold(unsigned n, const char *root, uint64_t expected)
{
    spill_t **s = calloc(n ? n : 1, sizeof *s);
    spill_opts o;
    char line[64];
    unsigned i;
    int rc = 0;
    raise_fd_limit(3 * n);
    spill_opts_init(&o);
    o.reap_on_open = 0; /* else each open would judge all the others: quadratic */
    o.expected_bytes = expected;
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

void bench_unhold(bench_holder *h)
{
    apr_exit_why_e why;
    int code;
    apr_file_close(h->in);
    apr_proc_wait(&h->proc, &code, &why, APR_WAIT);
    apr_file_close(h->out);
}

int bench_hold(const bench_cfg *c, const char *root, unsigned n, uint64_t expected,
               bench_holder *h)
{
    const char *argv[] = {c->self, "--helper", "hold", NULL, root, NULL, NULL};
    apr_procattr_t *attr;
    char line[256] = "";
    argv[3] = apr_psprintf(c->pool, "%u", n);
    if (expected) /* APR's formatter has no %llu */
        argv[5] = apr_psprintf(c->pool, "%" APR_UINT64_T_FMT, (apr_uint64_t)expected);
    if (apr_procattr_create(&attr, c->pool) != APR_SUCCESS ||
        apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_FULL_BLOCK, APR_NO_PIPE) != APR_SUCCESS ||
        apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH) != APR_SUCCESS ||
        apr_proc_create(&h->proc, c->self, argv, NULL, attr, c->pool) != APR_SUCCESS)
        return -1;
    h->in = h->proc.in;
    h->out = h->proc.out;
    if (apr_file_gets(line, sizeof line, h->out) != APR_SUCCESS ||
        strncmp(line, "ready", 5) != 0) {
        fprintf(stderr, "spill_bench: the hold helper failed: %s", line);
        bench_unhold(h);
        return -1;
    }
    return 0;
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
    if ((argc == 3 || argc == 4) && strcmp(argv[0], "hold") == 0)
        return hold((unsigned)strtoul(argv[1], NULL, 10), argv[2],
                    argc == 4 ? (uint64_t)strtoull(argv[3], NULL, 10) : 0);
    if (argc == 5 && strcmp(argv[0], "build") == 0)
        return tree_build(argv[1], (unsigned)strtoul(argv[2], NULL, 10),
                          (unsigned)strtoul(argv[3], NULL, 10),
                          (size_t)strtoul(argv[4], NULL, 10) * 1024) != 0;
    if (argc == 3 && strcmp(argv[0], "reap") == 0)
        return reap(argv[1], (unsigned)strtoul(argv[2], NULL, 10));
    fprintf(stderr, "spill_bench: unknown helper\n");
    return 2;
}
