/* cmd_hold.c: `spill hold`: a stand-in upload. Spills N chunks of pseudo-random bytes, each
 * under a hash of its bytes (chunk.c), tells its path once the first is on disk, then waits;
 * SIGINT/SIGTERM close it gracefully. With --adopt it resumes the killed job of its --tag: the
 * chunks it finds are checked against their addresses (verify), and those kept not rewritten. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "cli.h"

enum { O_ROOT = 256, O_CHUNKS, O_SIZE, O_PACE, O_READY, O_TAG, O_KEEP, O_ADOPT, O_EXPECT, O_LIMIT,
       O_HELP = 'h' };

static const apr_getopt_option_t options[] = {
    {"root", O_ROOT, 1, "the spill root"},
    {"chunks", O_CHUNKS, 1, "how many chunks to spill"},
    {"chunk-size", O_SIZE, 1, "bytes per chunk (default 65536)"},
    {"pace-ms", O_PACE, 1, "milliseconds between chunks (default 0)"},
    {"ready-file", O_READY, 1, "where to write the spill's path once a chunk is on disk"},
    {"tag", O_TAG, 1, "a label kept in the owner record, shown by ls; with it the chunks' "
                      "bytes (and so their addresses, a hash of them) follow from the tag, as "
                      "a job's would"},
    {"keep", O_KEEP, 1, "seconds its orphan stays resumable, should it be killed"},
    {"adopt", O_ADOPT, 0, "take over the orphan tagged --tag, checking each chunk against its "
                          "address, and put only what it lacks"},
    {"expect", O_EXPECT, 1, "bytes the upload expects to spill (expected_bytes): its first "
                            "reservation, refused at once when the root cannot give it"},
    {"limit", O_LIMIT, 1, "the most this user's live spills on the root may hold together "
                          "(root_limit_bytes)"},
    {"help", O_HELP, 0, "this help"},
    {NULL, 0, 0, NULL},
};

typedef struct hold_args {
    const char *root, *ready_file, *tag;
    uint64_t chunks, chunk_size, pace_ms, keep, expect, limit;
    int have_chunks, adopt;
} hold_args;

/* One line on stderr naming the path and APR's reason; returns -1. */
static int report(const char *what, const char *path, apr_status_t rv)
{
    char msg[256];
    spill__cli_line(stderr, "spill hold: %s: %s: %s", path, what,
                    apr_strerror(rv, msg, sizeof msg));
    return -1;
}

/* The ready file appears whole: written under a unique temporary name beside it, then
 * renamed into place, so a reader polling for it never sees a partial path. */
static int write_ready(apr_pool_t *pool, const char *file, const char *path)
{
    char *tmpl = apr_pstrcat(pool, file, ".XXXXXX", NULL);
    const char *line = apr_pstrcat(pool, path, "\n", NULL), *tmp;
    apr_file_t *f;
    apr_status_t rv;
    rv = apr_file_mktemp(&f, tmpl,
                         APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                         pool);
    if (rv != APR_SUCCESS)
        return report("cannot create", file, rv);
    apr_file_name_get(&tmp, f);
    rv = apr_file_write_full(f, line, strlen(line), NULL);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
        rv = APR_EGENERAL;
    if (rv == APR_SUCCESS)
        rv = apr_file_rename(tmp, file, pool);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, pool);
        return report("cannot write", file, rv);
    }
    return 0;
}

/* Tells the world where the spill is: the ready file first (the path's exact bytes), then
 * stdout (a parent reading our stdout may go straight to the file), cleaned as all the
 * program prints: a root with control characters or invalid UTF-8 shows escaped there, and
 * the directory's own name, which the library makes, never needs it. */
static int announce(apr_pool_t *pool, const hold_args *a, spill_t *s)
{
    if (a->ready_file && write_ready(pool, a->ready_file, spill_path(s)) != 0)
        return -1;
    spill__cli_line(stdout, "%s", spill_path(s));
    fflush(stdout);
    return 0;
}

/* The addresses the spill holds already (an adopted one's), to skip their work. */
static apr_hash_t *stored(apr_pool_t *pool, spill_t *s)
{
    apr_hash_t *h = apr_hash_make(pool);
    size_t i, n = spill_count(s);
    for (i = 0; i < n; i++) {
        uint8_t *a = apr_palloc(pool, SPILL_ADDR_LEN);
        if (spill_addr(s, i, a) == SPILL_OK)
            apr_hash_set(h, a, SPILL_ADDR_LEN, a);
    }
    return h;
}

/* Spills the chunks the spill lacks, pacing them, until done or asked to stop. Chunk i's
 * bytes follow from the job's seed and i, its address from its bytes (chunk.c): a resumed job
 * makes each chunk again to know its address, and writes only those the spill lacks. */
static int upload(apr_pool_t *pool, const hold_args *a, spill_t *s)
{
    unsigned char *buf = malloc(a->chunk_size ? (size_t)a->chunk_size : 1);
    uint8_t addr[SPILL_ADDR_LEN];
    apr_hash_t *have = stored(pool, s);
    uint64_t i, seed, put = 0;
    int rc = 0, announced = 0;
    if (!buf || spill__cli_job_seed(a->tag, &seed) != 0) {
        free(buf);
        fprintf(stderr, "spill hold: out of memory or random bytes\n");
        return -1;
    }
    for (i = 0; i < a->chunks && rc == 0; i++) {
        spill__cli_chunk_fill(buf, (size_t)a->chunk_size, seed, i);
        spill__cli_chunk_addr(buf, (size_t)a->chunk_size, addr);
        if (apr_hash_get(have, addr, SPILL_ADDR_LEN))
            continue; /* adopted: not written again */
        if (spill_put(s, addr, buf, (size_t)a->chunk_size) != SPILL_OK) {
            spill__cli_fail("hold", spill_path(s));
            rc = -1;
        } else if (put++ == 0) { /* adopted or not, once a chunk of its own is on disk */
            rc = announce(pool, a, s);
            announced = 1;
        }
        /* with no pace this only looks: a stop ends the upload between any two chunks */
        if (rc == 0 && i + 1 < a->chunks && spill__cli_wait_stop((long)a->pace_ms))
            break;
    }
    free(buf);
    if (rc == 0 && !announced) /* everything adopted: nothing to put */
        rc = announce(pool, a, s);
    return rc;
}

static int parse(apr_pool_t *pool, int argc, const char *const *argv, hold_args *a)
{
    apr_getopt_t *os = spill__cli_getopt(pool, argc, argv);
    const char *arg;
    int id, more, ok = 1;
    while (ok && (more = spill__cli_next(os, options, &id, &arg)) == 1) {
        switch (id) {
        case O_ROOT: a->root = arg; break;
        case O_CHUNKS:
            ok = spill__cli_number("hold", "chunks", arg, UINT32_MAX, &a->chunks);
            a->have_chunks = 1;
            break;
        case O_SIZE:
            /* one chunk is held in memory: keep it to something a test host can afford */
            ok = spill__cli_number("hold", "chunk-size", arg, 1024u * 1024 * 1024,
                                   &a->chunk_size);
            break;
        case O_PACE: ok = spill__cli_number("hold", "pace-ms", arg, 86400000, &a->pace_ms); break;
        case O_READY: a->ready_file = arg; break;
        case O_TAG: a->tag = arg; break;
        case O_KEEP: ok = spill__cli_number("hold", "keep", arg, UINT32_MAX, &a->keep); break;
        case O_ADOPT: a->adopt = 1; break;
        case O_EXPECT:
            ok = spill__cli_number("hold", "expect", arg, UINT64_MAX, &a->expect);
            break;
        case O_LIMIT:
            ok = spill__cli_number("hold", "limit", arg, UINT64_MAX, &a->limit);
            break;
        case O_HELP: spill__cli_usage(stdout, "hold"); return -1;
        }
    }
    if (!ok || more < 0)
        return SPILL_CLI_USAGE;
    if (!a->have_chunks)
        return spill__cli_usage_error("hold", "--chunks N is required");
    if (a->chunks == 0)
        return spill__cli_usage_error("hold", "--chunks 0 holds nothing: at least 1");
    if (a->adopt && (!a->tag || !*a->tag))
        return spill__cli_usage_error("hold", "--adopt needs --tag T: the job to resume");
    return SPILL_CLI_OK;
}

int spill__cli_hold(apr_pool_t *pool, int argc, const char *const *argv)
{
    hold_args a;
    spill_opts o;
    spill__cli_verified checked = {0, 0};
    spill_t *s;
    int rc;
    memset(&a, 0, sizeof a);
    a.chunk_size = 65536;
    if ((rc = parse(pool, argc, argv, &a)) != SPILL_CLI_OK)
        return rc < 0 ? SPILL_CLI_OK : rc;
    if (!(a.root = spill__cli_root(pool, "hold", a.root)))
        return SPILL_CLI_ERRORS;
    /* before the open: a stop that comes while opening must still close gracefully */
    if (spill__cli_catch_stop() != 0) {
        fprintf(stderr, "spill hold: cannot catch SIGINT/SIGTERM\n");
        return SPILL_CLI_ERRORS;
    }
    spill_opts_init(&o);
    o.tag = a.tag;
    o.keep_seconds = (uint32_t)a.keep;
    o.expected_bytes = a.expect;
    o.root_limit_bytes = a.limit;
    o.log = spill__cli_log;
    o.log_ctx = (void *)"hold";
    if (a.adopt) { /* each chunk checked against its address before it is kept */
        o.verify = spill__cli_chunk_verify;
        o.verify_ctx = &checked;
    }
    /* refused (SPILL_ENOSPC: no room for --expect, or past --limit), the library's message
     * carries the figures: printed as every failure is, exit 1 */
    if (a.adopt ? spill_adopt(a.root, a.tag, &o, &s) != SPILL_OK
                : spill_open(a.root, &o, &s) != SPILL_OK)
        return spill__cli_fail("hold", a.root);
    if (a.adopt) {
        unsigned long n = (unsigned long)spill_count(s);
        spill__cli_line(stderr, "spill hold: adopted %s: %lu chunk%s, %lu rejected by verify%s",
                        spill_path(s), n, n == 1 ? "" : "s", checked.rejected,
                        checked.rejected ? " (not what its address says: removed, put again)"
                                         : "");
    }
    rc = upload(pool, &a, s) == 0 ? SPILL_CLI_OK : SPILL_CLI_ERRORS;
    if (rc == SPILL_CLI_OK)
        spill__cli_wait_stop(-1);
    if (spill_close(s) != SPILL_OK)
        return spill__cli_fail("hold", a.root);
    return rc;
}
