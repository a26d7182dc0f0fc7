/* prometheus.c: `spill ls --prometheus`: the root's state in Prometheus' text exposition
 * format (directories, bytes and files per state, the root as a label), for node_exporter's
 * textfile collector; --output FILE replaces FILE atomically (a temporary beside it, renamed). */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "cli.h"

/* enough for every state spill_entry has or will have; human.c names the known ones */
#define MAX_STATES 16

typedef struct tally {
    uint64_t dirs[MAX_STATES], bytes[MAX_STATES], files[MAX_STATES];
    uint64_t reserved; /* the live spills' leases */
    uint64_t limit;    /* the smallest non-zero root limit of a live spill's owner; 0 none */
} tally;

static int count(void *ctx, const spill_entry *e)
{
    tally *t = ctx;
    unsigned st = (unsigned)e->state;
    if (st < MAX_STATES) {
        t->dirs[st]++;
        t->bytes[st] += e->bytes;
        t->files[st] += e->files;
    }
    if (e->state == SPILL_LIVE) {
        t->reserved += e->reserved_bytes;
        if (e->limit_bytes && (!t->limit || e->limit_bytes < t->limit))
            t->limit = e->limit_bytes;
    }
    return 0;
}

/* A label value: cleaned (valid UTF-8 without control characters, as promtool wants; see
 * sanitize.c), then '\' and '"' escaped as the text format wants. */
static const char *label(apr_pool_t *pool, const char *s)
{
    const char *p = spill__cli_clean(pool, s);
    char *out = apr_palloc(pool, 2 * strlen(p) + 1), *o = out;
    for (; *p; p++) {
        if (*p == '\\' || *p == '"')
            *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static const char *family(apr_pool_t *pool, const char *text, const char *name,
                          const char *help, const char *root, const uint64_t *v, int ok)
{
    char num[32];
    unsigned st;
    text = apr_pstrcat(pool, text, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n",
                       NULL);
    for (st = 0; ok && st < MAX_STATES; st++) {
        const char *state = spill__cli_state((spill_state)st);
        if (strcmp(state, "unknown") == 0)
            break; /* the states are numbered from 0 without gaps */
        snprintf(num, sizeof num, "%llu", (unsigned long long)v[st]);
        text = apr_pstrcat(pool, text, name, "{root=\"", root, "\",state=\"", state, "\"} ",
                           num, "\n", NULL);
    }
    return text;
}

/* A gauge with the root as its only label; no sample when the scan failed. */
static const char *gauge(apr_pool_t *pool, const char *text, const char *name,
                         const char *help, const char *root, uint64_t v, int ok)
{
    char num[32];
    text = apr_pstrcat(pool, text, "# HELP ", name, " ", help, "\n# TYPE ", name, " gauge\n",
                       NULL);
    if (!ok)
        return text;
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    return apr_pstrcat(pool, text, name, "{root=\"", root, "\"} ", num, "\n", NULL);
}

/* The whole exposition; ok 0: the scan failed, and only spill_scan_success says so (and
 * spill_root_exists, when the root is missing). */
static const char *exposition(apr_pool_t *pool, const char *root, const tally *t, int ok,
                              int exists)
{
    const char *r = label(pool, root);
    const char *text = "";
    text = family(pool, text, "spill_directories",
                  "Spill directories under the root, by state as the reaper judges them.", r,
                  t->dirs, ok);
    text = family(pool, text, "spill_bytes",
                  "Bytes of the regular files in the spill directories, by state.", r,
                  t->bytes, ok);
    text = family(pool, text, "spill_files", "Files in the spill directories, by state.", r,
                  t->files, ok);
    text = gauge(pool, text, "spill_reserved_bytes",
                 "Bytes the live spills have reserved (their leases; a spill of a library "
                 "before 0.3 counts 0), written or not; spill_bytes{state=\"live\"} is what "
                 "they hold on disk.", r, t->reserved, ok);
    text = gauge(pool, text, "spill_limit_bytes",
                 "The root's limit: the smallest root limit a live spill's owner enforces "
                 "(root_limit_bytes), 0 if none does.", r, t->limit, ok);
    return apr_pstrcat(pool, text,
                       "# HELP spill_scan_success 1 if the root could be scanned, else 0.\n"
                       "# TYPE spill_scan_success gauge\n"
                       "spill_scan_success{root=\"", r, "\"} ", ok ? "1" : "0", "\n",
                       "# HELP spill_root_exists 1 if the root exists, else 0 (then the scan "
                       "fails, unless --missing-ok).\n"
                       "# TYPE spill_root_exists gauge\n"
                       "spill_root_exists{root=\"", r, "\"} ", exists ? "1" : "0", "\n", NULL);
}

/* Writes text to a temporary beside path, then renames it over path: a collector reading the
 * directory sees the old file or the new one, never half of one. The temporary's name does
 * not end in .prom, so the textfile collector never reads it. */
static int write_atomically(apr_pool_t *pool, const char *path, const char *text)
{
    char *tmp = apr_pstrcat(pool, path, ".XXXXXX", NULL);
    apr_file_t *f;
    apr_size_t len = strlen(text);
    apr_status_t rv;
    char err[256];
    rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_write_full(f, text, len, NULL);
        if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
            rv = APR_EGENERAL;
        /* mktemp makes it 0600: the collector runs as another user */
        apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD |
                                    APR_FPROT_WREAD);
        if (rv == APR_SUCCESS)
            rv = apr_file_rename(tmp, path, pool);
        if (rv != APR_SUCCESS)
            apr_file_remove(tmp, pool);
    }
    if (rv != APR_SUCCESS) {
        spill__cli_line(stderr, "spill ls: %s: %s", path, apr_strerror(rv, err, sizeof err));
        return SPILL_CLI_ERRORS;
    }
    return SPILL_CLI_OK;
}

/* The root's exposition; *ok 0 if the scan failed or the root is missing without
 * missing_ok (reported). */
static const char *scan(apr_pool_t *pool, const char *root, int missing_ok, int *ok)
{
    tally t;
    spill_opts o;
    int exists = !spill__cli_root_missing(pool, root);
    memset(&t, 0, sizeof t);
    spill_opts_init(&o);
    o.log = spill__cli_log;
    o.log_ctx = (void *)"ls";
    if (spill__cli_missing(pool, "ls", root, missing_ok)) {
        *ok = 0;
    } else {
        *ok = spill_scan(root, &o, count, &t) == SPILL_OK;
        if (!*ok)
            spill__cli_fail("ls", root);
    }
    return exposition(pool, root, &t, *ok, exists);
}

#ifndef _WIN32
#include <unistd.h>

/* --as-owner with --output: a child becomes the root's owner and scans, while this process
 * (root) keeps the right to replace the file in the collector's directory. The child sends the
 * exposition through a pipe; its exit status is the scan's (or --as-owner's refusal). */
static const char *scan_as_owner(apr_pool_t *pool, const char *root, int missing_ok, int *rc)
{
    apr_file_t *rd, *wr;
    apr_proc_t child;
    apr_exit_why_e why;
    apr_status_t rv;
    const char *text;
    apr_size_t n;
    int code, ok;
    if (apr_file_pipe_create(&rd, &wr, pool) != APR_SUCCESS ||
        (rv = apr_proc_fork(&child, pool)) == APR_EGENERAL || rv == APR_ENOTIMPL) {
        fprintf(stderr, "spill ls: --as-owner: cannot start the scan as the owner\n");
        *rc = SPILL_CLI_ERRORS;
        return NULL;
    }
    if (rv == APR_INCHILD) {
        const char *t;
        apr_file_close(rd);
        if ((code = spill__cli_as_owner("ls", root)) != SPILL_CLI_OK)
            _exit(code);
        t = scan(pool, root, missing_ok, &ok);
        n = strlen(t);
        code = apr_file_write_full(wr, t, n, NULL) == APR_SUCCESS && ok ? 0 : SPILL_CLI_ERRORS;
        fflush(stderr);
        _exit(code); /* not exit: the parent's stdio buffers and APR are not the child's */
    }
    apr_file_close(wr);
    text = spill__cli_read_all(pool, rd);
    apr_file_close(rd);
    apr_proc_wait(&child, &code, &why, APR_WAIT);
    *rc = why == APR_PROC_EXIT ? code : SPILL_CLI_ERRORS;
    /* a refusal wrote nothing: keep the old file rather than an empty one */
    return *text ? text : NULL;
}
#endif

int spill__cli_prometheus(apr_pool_t *pool, const char *root, const char *output,
                          int as_owner, int missing_ok)
{
    int ok, rc = SPILL_CLI_OK, wrc;
    const char *text;
    if (as_owner && (rc = spill__cli_as_owner_allowed("ls")) != SPILL_CLI_OK)
        return rc;
    if (as_owner && output) {
#ifdef _WIN32
        return SPILL_CLI_USAGE; /* not reached: allowed() refuses */
#else
        if (!(text = scan_as_owner(pool, root, missing_ok, &rc)))
            return rc;
#endif
    } else {
        if (as_owner && (rc = spill__cli_as_owner("ls", root)) != SPILL_CLI_OK)
            return rc;
        text = scan(pool, root, missing_ok, &ok);
        rc = ok ? SPILL_CLI_OK : SPILL_CLI_ERRORS;
    }
    if (output)
        wrc = write_atomically(pool, output, text);
    else
        wrc = fputs(text, stdout) < 0 ? SPILL_CLI_ERRORS : SPILL_CLI_OK;
    return rc != SPILL_CLI_OK ? rc : wrc;
}
