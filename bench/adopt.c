/* adopt.c (bench): spill_adopt of a killed job's orphan of ADOPT_CHUNKS chunks of 1 MiB, with
 * and without verify (which reads every kept chunk back and shows it to a callback that only
 * looks at it: what verify adds is the reading). Each round adopts in a forked child that then
 * dies without closing, so the same orphan (journal rewritten, keep_seconds kept) is adopted
 * again by the next round; the two contenders alternate going first. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "bench.h"

#define ADOPT_CHUNKS 1000
#define ADOPT_LEN (1024 * 1024)
#define TAG "bench-adopt"

static unsigned long looked;

/* A client's check that costs nothing of its own: it looks at the first and last byte. */
static int look_only(void *ctx, const uint8_t addr[SPILL_ADDR_LEN], const void *data,
                     size_t len)
{
    const unsigned char *p = data;
    (void)ctx;
    (void)addr;
    looked += p[0] + p[len - 1];
    return 0;
}

static void opts_of(spill_opts *o, int verify)
{
    spill_opts_init(o);
    o->reap_on_open = 0;
    o->keep_seconds = 3600;
    o->tag = TAG;
    o->verify = verify ? look_only : NULL;
}

/* In a child: the job puts every chunk and dies without closing. */
static int make_orphan(const char *root)
{
    spill_opts o;
    spill_t *s;
    char *data = malloc(ADOPT_LEN);
    uint8_t a[SPILL_ADDR_LEN];
    unsigned i;
    if (!data || (opts_of(&o, 0), spill_open(root, &o, &s)) != SPILL_OK)
        _exit(1);
    memset(data, 'a', ADOPT_LEN);
    memset(a, 0, sizeof a);
    for (i = 0; i < ADOPT_CHUNKS; i++) {
        memcpy(a, &i, sizeof i);
        if (spill_put(s, a, data, ADOPT_LEN) != SPILL_OK)
            _exit(1);
    }
    _exit(0);
}

/* In a child: one adoption, timed, its seconds written to fd; then a death without close. */
static void adopt_once(const char *root, int verify, int fd)
{
    spill_opts o;
    spill_t *s;
    double t0, t;
    opts_of(&o, verify);
    t0 = bench_now();
    if (spill_adopt(root, TAG, &o, &s) != SPILL_OK || spill_count(s) != ADOPT_CHUNKS)
        _exit(1);
    t = bench_now() - t0;
    if (write(fd, &t, sizeof t) != (ssize_t)sizeof t)
        _exit(1);
    _exit(0);
}

/* Runs fn in a forked child; its seconds (adopt) or just its success. */
static int in_child(const char *root, int mode, double *secs)
{
    int p[2], status;
    double t = 0;
    pid_t pid;
    if (pipe(p) != 0)
        return -1;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        close(p[0]);
        if (mode < 0)
            make_orphan(root);
        adopt_once(root, mode, p[1]);
    }
    close(p[1]);
    if (pid > 0 && mode >= 0 && read(p[0], &t, sizeof t) != (ssize_t)sizeof t)
        t = -1;
    close(p[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || t < 0)
        return -1;
    if (secs)
        *secs = t;
    return 0;
}

int bench_adopt(const bench_cfg *c, FILE *out)
{
    const char *root = apr_psprintf(c->pool, "%s/adopt", c->dir);
    bench_series s[2];
    unsigned r, k;
    double t;
    memset(s, 0, sizeof s);
    s[0].name = "spill_adopt";
    s[1].name = "spill_adopt with verify";
    if (in_child(root, -1, NULL) != 0) {
        fprintf(stderr, "spill_bench: could not make the orphan to adopt\n");
        return -1;
    }
    for (r = 0; r < c->rounds; r++) {
        for (k = 0; k < 2; k++) {
            unsigned v = (k + r) % 2; /* alternate which goes first */
            if (in_child(root, (int)v, &t) != 0) {
                fprintf(stderr, "spill_bench: adopt round %u failed\n", r);
                tree_remove(root);
                return -1;
            }
            bench_add(&s[v], t);
        }
    }
    tree_remove(root);
    bench_median(&s[0]);
    bench_median(&s[1]);
    if (c->json) {
        fprintf(out, "{\"chunks\":%u,\"chunk_bytes\":%u,\"contenders\":[", ADOPT_CHUNKS,
                ADOPT_LEN);
        bench_json_series(out, &s[0]);
        fprintf(out, ",");
        bench_json_series(out, &s[1]);
        fprintf(out, "]}");
        return 0;
    }
    fprintf(out, "\nadopt: an orphan of %u chunks of 1 MiB, median of %u rounds\n",
            ADOPT_CHUNKS, c->rounds);
    fprintf(out, "  %-38s %8.3f s %9.2fx\n", s[0].name, s[0].median, 1.0);
    fprintf(out, "  %-38s %8.3f s %9.2fx   (%.2f GiB/s read back)\n", s[1].name, s[1].median,
            s[0].median > 0 ? s[1].median / s[0].median : 0,
            s[1].median > s[0].median
                ? ADOPT_CHUNKS / 1024.0 / (s[1].median - s[0].median) : 0);
    return 0;
}
