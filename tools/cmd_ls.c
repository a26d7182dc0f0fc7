/* cmd_ls.c: `spill ls`: the spill directories under ROOT as the reaper judges them, oldest
 * first: an aligned table in human units, or a JSON array. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "cli.h"

enum { O_ROOT = 256, O_JSON, O_PROMETHEUS, O_OUTPUT, O_AS_OWNER, O_MISSING_OK, O_HELP = 'h' };

static const apr_getopt_option_t options[] = {
    {"root", O_ROOT, 1, "the spill root"},
    {"json", O_JSON, 0, "a JSON array"},
    {"prometheus", O_PROMETHEUS, 0, "Prometheus' text format (prometheus.c)"},
    {"output", O_OUTPUT, 1, "with --prometheus: replace this file atomically"},
    {"as-owner", O_AS_OWNER, 0, "as root: judge as the root's owner"},
    {"missing-ok", O_MISSING_OK, 0, "a missing root is nothing to list (exit 0), not an error"},
    {"help", O_HELP, 0, "this help"},
    {NULL, 0, 0, NULL},
};

/* An entry copied out of the scan callback (its strings live only during the call). */
typedef struct row {
    const char *name, *owner_host, *tag, *reason;
    spill_state state;
    int64_t age, owner_pid;
    uint64_t bytes, files;
    uint64_t reserved, limit; /* a live spill's lease and its owner's root limit; 0 none */
} row;

static int collect(void *ctx, const spill_entry *e)
{
    apr_array_header_t *rows = ctx;
    apr_pool_t *p = rows->pool;
    row *r = apr_array_push(rows);
    r->name = apr_pstrdup(p, e->name);
    r->owner_host = apr_pstrdup(p, e->owner_host ? e->owner_host : "");
    r->tag = apr_pstrdup(p, e->tag ? e->tag : "");
    r->reason = apr_pstrdup(p, e->reason ? e->reason : "");
    r->state = e->state;
    r->age = e->age_seconds;
    r->owner_pid = e->owner_pid;
    r->bytes = e->bytes;
    r->files = e->files;
    /* only a live spill's are meaningful: a dead owner's lease binds nobody */
    r->reserved = e->state == SPILL_LIVE ? e->reserved_bytes : 0;
    r->limit = e->state == SPILL_LIVE ? e->limit_bytes : 0;
    return 0;
}

static int oldest_first(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->age != y->age)
        return x->age > y->age ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static void print_json(const apr_array_header_t *rows)
{
    int i;
    fputc('[', stdout);
    for (i = 0; i < rows->nelts; i++) {
        const row *r = &APR_ARRAY_IDX(rows, i, row);
        spill__json j;
        fputs(i ? ",\n " : "\n ", stdout);
        spill__json_begin(&j, stdout);
        spill__json_str(&j, "name", r->name);
        spill__json_str(&j, "state", spill__cli_state(r->state));
        spill__json_i64(&j, "age_seconds", r->age);
        spill__json_u64(&j, "bytes", r->bytes);
        spill__json_u64(&j, "files", r->files);
        if (r->owner_pid < 0)
            spill__json_str(&j, "owner_pid", NULL);
        else
            spill__json_i64(&j, "owner_pid", r->owner_pid);
        spill__json_str(&j, "owner_host", or_null(r->owner_host));
        spill__json_str(&j, "tag", or_null(r->tag));
        spill__json_str(&j, "reason", or_null(r->reason));
        /* 0.3: a live spill's lease and the root limit its owner enforces; null when none is
         * known (not live, an older library's spill, no limit) */
        if (r->reserved)
            spill__json_u64(&j, "reserved_bytes", r->reserved);
        else
            spill__json_str(&j, "reserved_bytes", NULL);
        if (r->limit)
            spill__json_u64(&j, "limit_bytes", r->limit);
        else
            spill__json_str(&j, "limit_bytes", NULL);
        spill__json_end(&j);
    }
    fputs(rows->nelts ? "\n]\n" : "]\n", stdout);
}

#define NCOLS 8
static const char *const heads[NCOLS] = {"NAME",     "STATE", "AGE", "SIZE", "FILES",
                                         "RESERVED", "OWNER", "TAG"};

/* The cells of one row, printable, with their widths. */
static void cells(apr_pool_t *pool, const row *r, const char *cell[NCOLS], size_t width[NCOLS])
{
    char buf[64];
    const char *owner = "-";
    int i;
    /* APR's formatter has no %lld: numbers go through stdio */
    snprintf(buf, sizeof buf, "%lld", (long long)r->owner_pid);
    if (r->owner_pid >= 0 && *r->owner_host)
        owner = apr_pstrcat(pool, buf, "@", r->owner_host, NULL);
    else if (r->owner_pid >= 0)
        owner = apr_pstrdup(pool, buf);
    else if (*r->owner_host)
        owner = r->owner_host;
    cell[0] = r->name;
    cell[1] = spill__cli_state(r->state);
    cell[2] = apr_pstrdup(pool, spill__cli_age(buf, sizeof buf, r->age));
    cell[3] = apr_pstrdup(pool, spill__cli_size(buf, sizeof buf, r->bytes));
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->files);
    cell[4] = apr_pstrdup(pool, buf);
    /* a live spill's lease; "-" when none is known (not live, or an older library's) */
    cell[5] = r->reserved ? apr_pstrdup(pool, spill__cli_size(buf, sizeof buf, r->reserved))
                          : "-";
    cell[6] = owner;
    cell[7] = *r->tag ? r->tag : "-";
    for (i = 0; i < NCOLS; i++)
        cell[i] = spill__cli_printable(pool, cell[i], &width[i]);
}

/* Numbers are right-aligned (AGE, SIZE, FILES, RESERVED), words left-aligned; the last column
 * unpadded. */
static void print_row(const char *const cell[NCOLS], const size_t width[NCOLS],
                      const size_t col[NCOLS])
{
    int i;
    for (i = 0; i < NCOLS; i++) {
        int right = i >= 2 && i <= 5;
        size_t pad = col[i] - width[i];
        if (i)
            fputs("  ", stdout);
        if (right)
            printf("%*s", (int)pad, "");
        fputs(cell[i], stdout);
        if (!right && i < NCOLS - 1)
            printf("%*s", (int)pad, "");
    }
    fputc('\n', stdout);
}

/* The live spills' leases and what they hold on disk, and the root's limit: the smallest its
 * live owners enforce (each enforces its own on its own spills). */
static void reservations(const apr_array_header_t *rows, unsigned live)
{
    uint64_t reserved = 0, written = 0, limit = 0;
    unsigned unleased = 0;
    char r[32], w[32], l[32];
    int i;
    for (i = 0; i < rows->nelts; i++) {
        const row *x = &APR_ARRAY_IDX(rows, i, row);
        if (x->state != SPILL_LIVE)
            continue;
        reserved += x->reserved;
        written += x->bytes;
        unleased += !x->reserved;
        if (x->limit && (!limit || x->limit < limit))
            limit = x->limit;
    }
    printf("%u live: %s reserved, %s written", live, spill__cli_size(r, sizeof r, reserved),
           spill__cli_size(w, sizeof w, written));
    if (unleased)
        printf(" (%u without a known reservation)", unleased);
    if (limit)
        printf("; root limit %s\n", spill__cli_size(l, sizeof l, limit));
    else
        printf("; no root limit\n");
}

static void summary(const apr_array_header_t *rows, const char *root)
{
    unsigned n[SPILL_RESUMABLE + 1] = {0};
    uint64_t orphan_bytes = 0;
    char size[32];
    int i;
    for (i = 0; i < rows->nelts; i++) {
        const row *r = &APR_ARRAY_IDX(rows, i, row);
        if ((unsigned)r->state <= SPILL_RESUMABLE)
            n[r->state]++;
        if (r->state == SPILL_ORPHAN)
            orphan_bytes += r->bytes;
    }
    printf("%d under %s: %u live, %u orphan (%s to reclaim), %u young, %u unsafe",
           rows->nelts, root, n[SPILL_LIVE], n[SPILL_ORPHAN],
           spill__cli_size(size, sizeof size, orphan_bytes), n[SPILL_YOUNG], n[SPILL_UNSAFE]);
    if (n[SPILL_RESUMABLE])
        printf(", %u resumable", n[SPILL_RESUMABLE]);
    if (n[SPILL_ERROR])
        printf(", %u that could not be judged", n[SPILL_ERROR]);
    fputc('\n', stdout);
    if (n[SPILL_LIVE])
        reservations(rows, n[SPILL_LIVE]);
}

static void print_table(apr_pool_t *pool, const apr_array_header_t *rows, const char *root)
{
    const char ***cell = apr_pcalloc(pool, (size_t)rows->nelts * sizeof *cell);
    size_t (*width)[NCOLS] = apr_pcalloc(pool, (size_t)rows->nelts * sizeof *width);
    size_t col[NCOLS], hw[NCOLS];
    int i, c;
    if (rows->nelts == 0) {
        printf("no spill directories under %s\n", spill__cli_clean(pool, root));
        return;
    }
    for (c = 0; c < NCOLS; c++)
        col[c] = hw[c] = strlen(heads[c]);
    for (i = 0; i < rows->nelts; i++) {
        cell[i] = apr_pcalloc(pool, NCOLS * sizeof(const char *));
        cells(pool, &APR_ARRAY_IDX(rows, i, row), cell[i], width[i]);
        for (c = 0; c < NCOLS; c++)
            if (width[i][c] > col[c])
                col[c] = width[i][c];
    }
    print_row(heads, hw, col);
    for (i = 0; i < rows->nelts; i++)
        print_row(cell[i], width[i], col);
    summary(rows, spill__cli_clean(pool, root));
}

/* An entry that could not be judged is what a reap would count as an error: exit 1 then. */
static int judged_all(const apr_array_header_t *rows)
{
    int i;
    for (i = 0; i < rows->nelts; i++)
        if (APR_ARRAY_IDX(rows, i, row).state == SPILL_ERROR)
            return 0;
    return 1;
}

int spill__cli_ls_run(apr_pool_t *pool, const char *root, int json)
{
    apr_array_header_t *rows = apr_array_make(pool, 16, sizeof(row));
    spill_opts o;
    int rc;
    spill_opts_init(&o);
    o.log = spill__cli_log;
    o.log_ctx = (void *)"ls";
    if ((rc = spill_scan(root, &o, collect, rows)) != SPILL_OK)
        return spill__cli_fail("ls", root);
    qsort(rows->elts, (size_t)rows->nelts, sizeof(row), oldest_first);
    if (json)
        print_json(rows);
    else
        print_table(pool, rows, root);
    return judged_all(rows) ? SPILL_CLI_OK : SPILL_CLI_ERRORS;
}

int spill__cli_ls(apr_pool_t *pool, int argc, const char *const *argv)
{
    apr_getopt_t *os = spill__cli_getopt(pool, argc, argv);
    const char *arg, *root = NULL, *output = NULL;
    int id, more, json = 0, prom = 0, as_owner = 0, missing_ok = 0;
    while ((more = spill__cli_next(os, options, &id, &arg)) == 1) {
        switch (id) {
        case O_ROOT: root = arg; break;
        case O_JSON: json = 1; break;
        case O_PROMETHEUS: prom = 1; break;
        case O_OUTPUT: output = arg; break;
        case O_AS_OWNER: as_owner = 1; break;
        case O_MISSING_OK: missing_ok = 1; break;
        case O_HELP: spill__cli_usage(stdout, "ls"); return SPILL_CLI_OK;
        }
    }
    if (more < 0)
        return SPILL_CLI_USAGE;
    if (prom && json)
        return spill__cli_usage_error("ls", "--json or --prometheus, not both");
    if (output && !prom)
        return spill__cli_usage_error("ls", "--output is for --prometheus");
    if (!(root = spill__cli_root(pool, "ls", root)))
        return SPILL_CLI_ERRORS;
    if (prom)
        return spill__cli_prometheus(pool, root, output, as_owner, missing_ok);
    if (as_owner && (more = spill__cli_as_owner("ls", root)) != SPILL_CLI_OK)
        return more;
    if (spill__cli_missing(pool, "ls", root, missing_ok))
        return SPILL_CLI_ERRORS;
    return spill__cli_ls_run(pool, root, json);
}
