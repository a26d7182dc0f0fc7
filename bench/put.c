/* put.c (bench): spill_put of N MiB in K-KiB chunks against plain openat/write/close of the
 * same bytes under the same kind of names in a directory of the same filesystem; and spill_put
 * of a resumable spill (keep_seconds: a journal entry appended after each chunk). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "bench.h"

typedef struct job {
    const bench_cfg *c;
    unsigned chunks;
    size_t len;
    char *data;
} job;

static void addr_of(unsigned i, uint8_t a[SPILL_ADDR_LEN])
{
    unsigned k;
    for (k = 0; k < SPILL_ADDR_LEN; k++)
        a[k] = (uint8_t)((i >> (k % 4 * 8)) * 31u + k);
}

static void hex_of(const uint8_t a[SPILL_ADDR_LEN], char out[2 * SPILL_ADDR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned k;
    for (k = 0; k < SPILL_ADDR_LEN; k++) {
        out[2 * k] = hex[a[k] >> 4];
        out[2 * k + 1] = hex[a[k] & 15];
    }
    out[2 * SPILL_ADDR_LEN] = '\0';
}

static int time_spill(const job *j, const char *root, uint32_t keep, double *secs)
{
    spill_opts o;
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    unsigned i;
    double t0;
    int rc = SPILL_OK;
    spill_opts_init(&o);
    o.reap_on_open = 0;
    o.keep_seconds = keep;
    if (spill_open(root, &o, &s) != SPILL_OK)
        return -1;
    t0 = bench_now();
    for (i = 0; i < j->chunks && rc == SPILL_OK; i++) {
        addr_of(i, a);
        rc = spill_put(s, a, j->data, j->len);
    }
    *secs = bench_now() - t0;
    if (rc == SPILL_OK && spill_count(s) != j->chunks)
        rc = SPILL_EIO;
    spill_close(s);
    return rc == SPILL_OK ? 0 : -1;
}

/* The same addresses hexed into the same names: what a caller would write without spill. */
static int time_plain(const job *j, const char *dir, double *secs)
{
    uint8_t a[SPILL_ADDR_LEN];
    char name[2 * SPILL_ADDR_LEN + 1];
    unsigned i;
    double t0;
    int dfd, fd, rc = 0;
    if (mkdir(dir, 0700) < 0 || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    t0 = bench_now();
    for (i = 0; i < j->chunks && rc == 0; i++) {
        addr_of(i, a);
        hex_of(a, name);
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, j->data, j->len) != (ssize_t)j->len)
            rc = -1;
        if (fd >= 0 && close(fd) < 0)
            rc = -1;
    }
    *secs = bench_now() - t0;
    close(dfd);
    tree_remove(dir);
    return rc;
}

/* One round of contender k (0 spill_put, 1 plain, 2 spill_put with the journal). */
static int time_one(const job *j, const bench_cfg *c, unsigned r, int k, double *t)
{
    const char *dir = apr_psprintf(c->pool, "%s/put%d-%u", c->dir, k, r);
    int rc = k == 1 ? time_plain(j, dir, t) : time_spill(j, dir, k == 2 ? 3600 : 0, t);
    if (k != 1)
        tree_remove(dir);
    return rc;
}

static double spread(const bench_series *s, double *hi)
{
    unsigned i;
    *hi = s->n ? s->runs[0] : 0;
    for (i = 1; i < s->n; i++)
        if (s->runs[i] > *hi)
            *hi = s->runs[i];
    return s->best;
}

int bench_put(const bench_cfg *c, FILE *out)
{
    bench_series s[3];
    job j;
    unsigned r;
    double t, q, qj, hi;
    int i;
    memset(s, 0, sizeof s);
    s[0].name = "spill_put";
    s[1].name = "openat/write/close";
    s[2].name = "spill_put, resumable (journal)";
    j.c = c;
    j.len = (size_t)c->chunk_kib * 1024;
    j.chunks = (unsigned)((uint64_t)c->put_mib * 1024 / c->chunk_kib);
    j.data = malloc(j.len);
    memset(j.data, 'p', j.len);
    for (r = 0; r < c->rounds; r++) {
        for (i = 0; i < 3; i++) {
            int k = (int)((r + (unsigned)i) % 3); /* rotate which goes first */
            if (time_one(&j, c, r, k, &t) != 0) {
                fprintf(stderr, "spill_bench: put round %u failed\n", r);
                free(j.data);
                return -1;
            }
            bench_add(&s[k], t);
        }
    }
    free(j.data);
    for (i = 0; i < 3; i++)
        bench_median(&s[i]);
    q = s[1].median > 0 ? s[0].median / s[1].median : 0;
    qj = s[1].median > 0 ? s[2].median / s[1].median : 0;
    target_add("spill_put vs openat/write/close", q, 1.05, "x");
    target_add("spill_put, resumable, vs openat/write/close", qj, 1.10, "x");
    if (c->json) {
        fprintf(out, "{\"mib\":%u,\"chunk_kib\":%u,\"chunks\":%u,\"contenders\":[",
                c->put_mib, c->chunk_kib, j.chunks);
        for (i = 0; i < 3; i++) {
            fprintf(out, i ? "," : "");
            bench_json_series(out, &s[i]);
        }
        fprintf(out, "]}");
        return 0;
    }
    fprintf(out, "\nput: %u MiB in %u KiB chunks (%u chunks), median of %u interleaved rounds "
                 "(fastest .. slowest)\n",
            c->put_mib, c->chunk_kib, j.chunks, c->rounds);
    for (i = 0; i < 3; i++) {
        double lo = spread(&s[i], &hi);
        fprintf(out, "  %-38s %8.3f s %9.2fx   (%.3f .. %.3f s)\n", s[i].name, s[i].median,
                i == 0 ? q : i == 1 ? 1.0 : qj, lo, hi);
    }
    return 0;
}
