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
    uint32_t keep; /* keep_seconds of the spill: 0, or resumable with its journal */
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

/* Version-1 options, or version 2's for keep_seconds (a release before 0.2 has none). */
static int time_spill_with(const job *j, const bench_lib *l, const char *root, double *secs)
{
    spill_opts o;
    spill_t *s;
    uint8_t a[SPILL_ADDR_LEN];
    unsigned i;
    double t0;
    int rc = SPILL_OK;
    if (!j->keep)
        l->opts_init(&o);
    else if (!l->opts_init_version || l->opts_init_version(&o, 2) != SPILL_OK)
        return -1;
    o.reap_on_open = 0;
    if (j->keep)
        o.keep_seconds = j->keep;
    if (l->open(root, &o, &s) != SPILL_OK)
        return -1;
    t0 = bench_now();
    for (i = 0; i < j->chunks && rc == SPILL_OK; i++) {
        addr_of(i, a);
        rc = l->put(s, a, j->data, j->len);
    }
    *secs = bench_now() - t0;
    if (rc == SPILL_OK && l->count(s) != j->chunks)
        rc = SPILL_EIO;
    l->close(s);
    return rc == SPILL_OK ? 0 : -1;
}

static int time_spill(const job *j, const char *root, double *secs)
{
    return time_spill_with(j, j->c->lib[0], root, secs);
}

/* With --baseline: the baseline release's plain spill_put of round r, before this tree's pair
 * in odd rounds and after it in even ones. */
static int time_base(job *j, unsigned r, unsigned at, unsigned chunk_kib, double *t)
{
    const char *root;
    int rc;
    if (j->c->nlibs < 2 || r % 2 != at)
        return 0;
    root = apr_psprintf(j->c->pool, "%s/base-%u-%u", j->c->dir, chunk_kib, r);
    rc = time_spill_with(j, j->c->lib[1], root, t);
    tree_remove(root);
    return rc;
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

/* One chunk size: interleaved rounds (the two alternate going first), the median of each, and
 * the spread of the per-round ratios, since run-to-run noise here is about 0.05. */
/* The resumable contender of round r, timed at position `at` (0 first, 1 between, 2 last) of
 * the round's three, so that no contender always runs on a cache the others warmed. */
static int time_journal(job *j, unsigned r, unsigned at, unsigned chunk_kib, double *t)
{
    const char *root;
    int rc;
    if (r % 3 != at)
        return 0;
    root = apr_psprintf(j->c->pool, "%s/keep-%u-%u", j->c->dir, chunk_kib, r);
    j->keep = 3600;
    rc = time_spill(j, root, t);
    j->keep = 0;
    tree_remove(root);
    return rc;
}

static int put_at(const bench_cfg *c, unsigned chunk_kib, int first_size, FILE *out)
{
    bench_series s[4];
    job j;
    unsigned r;
    double t, q, tb = 0, tj = 0, ratio, lo = 0, hi = 0, jlo = 0, jhi = 0;
    memset(s, 0, sizeof s);
    s[0].name = "spill_put";
    s[1].name = "openat/write/close";
    s[2].name = "spill_put, resumable (journal)";
    s[3].name = c->nlibs > 1 ? apr_psprintf(c->pool, "spill_put, %s", c->lib[1]->name) : "";
    j.c = c;
    j.keep = 0;
    j.len = (size_t)chunk_kib * 1024;
    j.chunks = (unsigned)((uint64_t)c->put_mib * 1024 / chunk_kib);
    if (!(j.data = malloc(j.len))) {
        fprintf(stderr, "spill_bench: cannot allocate a %u KiB chunk\n", chunk_kib);
        return -1;
    }
    memset(j.data, 'p', j.len);
    for (r = 0; r < c->rounds; r++) {
        const char *root = apr_psprintf(c->pool, "%s/put-%u-%u", c->dir, chunk_kib, r);
        const char *plain = apr_psprintf(c->pool, "%s/plain-%u-%u", c->dir, chunk_kib, r);
        int first = r % 2; /* alternate which goes first */
        if (time_base(&j, r, 1, chunk_kib, &tb) != 0 ||
            time_journal(&j, r, 0, chunk_kib, &tj) != 0 ||
            (first ? time_plain(&j, plain, &t) : time_spill(&j, root, &t)) != 0 ||
            time_journal(&j, r, 1, chunk_kib, &tj) != 0 ||
            (first ? time_spill(&j, root, &q) : time_plain(&j, plain, &q)) != 0 ||
            time_journal(&j, r, 2, chunk_kib, &tj) != 0 ||
            time_base(&j, r, 0, chunk_kib, &tb) != 0) {
            fprintf(stderr, "spill_bench: put round %u failed\n", r);
            free(j.data);
            return -1;
        }
        bench_add(&s[0], first ? q : t);
        bench_add(&s[1], first ? t : q);
        bench_add(&s[2], tj);
        if (c->nlibs > 1)
            bench_add(&s[3], tb);
        ratio = first ? q / t : t / q;
        lo = r == 0 || ratio < lo ? ratio : lo;
        hi = r == 0 || ratio > hi ? ratio : hi;
        ratio = tj / (first ? t : q);
        jlo = r == 0 || ratio < jlo ? ratio : jlo;
        jhi = r == 0 || ratio > jhi ? ratio : jhi;
        tree_remove(root);
    }
    free(j.data);
    bench_median(&s[0]);
    bench_median(&s[1]);
    bench_median(&s[2]);
    if (c->nlibs > 1) {
        bench_median(&s[3]);
        target_add(apr_psprintf(c->pool, "spill_put vs %s's, %u KiB chunks", c->lib[1]->name,
                                chunk_kib),
                   s[3].median > 0 ? s[0].median / s[3].median : 0, 1.05, "x");
    }
    q = s[1].median > 0 ? s[0].median / s[1].median : 0;
    target_add(chunk_kib >= 1024 ? "spill_put vs openat/write/close, 1 MiB chunks"
                                 : "spill_put vs openat/write/close, 64 KiB chunks",
               q, 1.05, "x");
    target_add(chunk_kib >= 1024 ? "resumable spill_put vs openat/write/close, 1 MiB chunks"
                                 : "resumable spill_put vs openat/write/close, 64 KiB chunks",
               s[1].median > 0 ? s[2].median / s[1].median : 0, 1.10, "x");
    target_add(chunk_kib >= 1024 ? "resumable spill_put vs spill_put, 1 MiB chunks"
                                 : "resumable spill_put vs spill_put, 64 KiB chunks",
               s[0].median > 0 ? s[2].median / s[0].median : 0, 1.10, "x");
    if (c->json) {
        fprintf(out, "%s{\"mib\":%u,\"chunk_kib\":%u,\"chunks\":%u,\"ratio_min\":%.4f,"
                     "\"ratio_max\":%.4f,\"contenders\":[",
                first_size ? "" : ",", c->put_mib, chunk_kib, j.chunks, lo, hi);
        bench_json_series(out, &s[0]);
        fprintf(out, ",");
        bench_json_series(out, &s[1]);
        fprintf(out, ",");
        bench_json_series(out, &s[2]);
        if (c->nlibs > 1) {
            fprintf(out, ",");
            bench_json_series(out, &s[3]);
        }
        fprintf(out, "],\"journal_ratio_min\":%.4f,\"journal_ratio_max\":%.4f}", jlo, jhi);
        return 0;
    }
    fprintf(out, "\nput: %u MiB in %u KiB chunks (%u chunks), median of %u interleaved rounds;"
                 " per-round ratios %.2fx to %.2fx\n",
            c->put_mib, chunk_kib, j.chunks, c->rounds, lo, hi);
    fprintf(out, "  %-38s %8.3f s %9.2fx\n", s[0].name, s[0].median, q);
    fprintf(out, "  %-38s %8.3f s %9.2fx\n", s[1].name, s[1].median, 1.0);
    fprintf(out, "  %-38s %8.3f s %9.2fx   per-round ratios %.2fx to %.2fx\n", s[2].name,
            s[2].median, s[1].median > 0 ? s[2].median / s[1].median : 0, jlo, jhi);
    if (c->nlibs > 1)
        fprintf(out, "  %-38s %8.3f s %9.2fx   (this tree's spill_put: %.2fx of it)\n",
                s[3].name, s[3].median, s[1].median > 0 ? s[3].median / s[1].median : 0,
                s[3].median > 0 ? s[0].median / s[3].median : 0);
    return 0;
}

/* --chunk-kib (64 by default), then 1 MiB chunks. */
int bench_put(const bench_cfg *c, FILE *out)
{
    int rc;
    if (c->json)
        fprintf(out, "[");
    rc = put_at(c, c->chunk_kib, 1, out);
    if (rc == 0 && c->chunk_kib != 1024)
        rc = put_at(c, 1024, 0, out);
    if (c->json)
        fprintf(out, "]");
    return rc;
}
