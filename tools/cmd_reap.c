/* cmd_reap.c: `spill reap`: removes the orphans under ROOT and says what it did, as one human
 * line or one JSON object. --dry-run is the library's dry run: the real judgement, nothing
 * removed. On a terminal a progress line on stderr (progress.c); Ctrl-C stops the reap at its
 * next check, and the program exits 130 after the summary. */
#include <string.h>

#include "cli.h"

enum { O_ROOT = 256, O_GRACE, O_THREADS, O_BUDGET, O_DRY, O_RESUMABLE, O_JSON, O_AS_OWNER,
       O_PROGRESS, O_QUIET, O_MISSING_OK, O_HELP = 'h' };

static const apr_getopt_option_t options[] = {
    {"root", O_ROOT, 1, "the spill root"},
    {"grace", O_GRACE, 1, "seconds before a lockless or foreign directory is reaped"},
    {"threads", O_THREADS, 1, "reaper workers; 0: one per core (the default)"},
    {"budget-ms", O_BUDGET, 1, "stop after this many milliseconds"},
    {"dry-run", O_DRY, 0, "judge and report, remove nothing"},
    {"resumable", O_RESUMABLE, 0, "remove resumable orphans too (kept for spill_adopt)"},
    {"json", O_JSON, 0, "one JSON object"},
    {"as-owner", O_AS_OWNER, 0, "as root: become the root's owner first"},
    {"progress", O_PROGRESS, 0, "a progress line on stderr even when it is not a terminal"},
    {"quiet", O_QUIET, 0, "no progress line"},
    {"missing-ok", O_MISSING_OK, 0, "a missing root is nothing to do (exit 0), not an error"},
    {"help", O_HELP, 0, "this help"},
    {NULL, 0, 0, NULL},
};

/* Every count of spill_reap_stats, keyed by its field's name; "interrupted" is the name the
 * first versions gave "cancelled", kept as an alias. */
static void print_json(const spill_reap_stats *st)
{
    spill__json j;
    spill__json_begin(&j, stdout);
    spill__json_u64(&j, "scanned", st->scanned);
    spill__json_u64(&j, "reaped", st->reaped);
    spill__json_u64(&j, "live", st->live);
    spill__json_u64(&j, "young", st->young);
    spill__json_u64(&j, "unsafe", st->unsafe);
    spill__json_u64(&j, "errors", st->errors);
    spill__json_u64(&j, "bytes_freed", st->bytes_freed);
    spill__json_u64(&j, "files_removed", st->files_removed);
    spill__json_u64(&j, "elapsed_ms", st->elapsed_ms);
    spill__json_bool(&j, "budget_exhausted", st->budget_exhausted);
    spill__json_u64(&j, "resumable", st->resumable);
    spill__json_u64(&j, "cut_short", st->cut_short);
    spill__json_bool(&j, "cancelled", st->cancelled);
    spill__json_bool(&j, "interrupted", st->cancelled);
    spill__json_end(&j);
    fputc('\n', stdout);
}

/* "reaped 3 of 7 under ROOT: 3.2 MiB freed in 41 files; kept 2 live, 1 young, 1 unsafe" */
static void print_human(apr_pool_t *pool, const spill__cli_reap_args *a,
                        const spill_reap_stats *st)
{
    char size[32];
    printf("%s %u of %u under %s: %s %s in %llu file%s; kept %u live, %u young, %u unsafe",
           a->dry_run ? "would reap" : "reaped", (unsigned)st->reaped, (unsigned)st->scanned,
           spill__cli_clean(pool, a->root), spill__cli_size(size, sizeof size, st->bytes_freed),
           a->dry_run ? "would be freed" : "freed", (unsigned long long)st->files_removed,
           st->files_removed == 1 ? "" : "s", (unsigned)st->live, (unsigned)st->young,
           (unsigned)st->unsafe);
    if (st->resumable)
        printf(", %u resumable", (unsigned)st->resumable);
    if (st->errors)
        printf("; %u error%s", (unsigned)st->errors, st->errors == 1 ? "" : "s");
    if (st->budget_exhausted)
        printf("; stopped by the %u ms budget", (unsigned)a->opts.reap_budget_ms);
    if (st->cancelled)
        printf("; interrupted, the rest is left for the next reap");
    printf(" (%u ms)\n", (unsigned)st->elapsed_ms);
}

int spill__cli_reap_run(apr_pool_t *pool, const spill__cli_reap_args *a,
                        spill_reap_stats *st)
{
    spill__cli_progress prog;
    spill_opts o = a->opts;
    int rc;
    memset(st, 0, sizeof *st);
    st->version = SPILL_REAP_STATS_VERSION;
    if (a->progress != SPILL_CLI_PROGRESS_NONE)
        spill__cli_progress_begin(&prog, &o, spill__cli_clean(pool, a->root), a->progress);
    rc = spill_reap(a->root, &o, st);
    if (a->progress != SPILL_CLI_PROGRESS_NONE)
        spill__cli_progress_end(&prog, rc == SPILL_OK ? st : NULL);
    if (rc != SPILL_OK)
        return spill__cli_fail("reap", a->root);
    if (a->json)
        print_json(st);
    else
        print_human(pool, a, st);
    if (st->cancelled)
        return SPILL_CLI_INTERRUPTED;
    return st->errors ? SPILL_CLI_ERRORS : SPILL_CLI_OK;
}

static int parse(int argc, const char *const *argv, apr_pool_t *pool, spill__cli_reap_args *a,
                 const char **root)
{
    apr_getopt_t *os = spill__cli_getopt(pool, argc, argv);
    const char *arg;
    uint64_t v;
    int id, more;
    while ((more = spill__cli_next(os, options, &id, &arg)) == 1) {
        switch (id) {
        case O_ROOT:
            if (!*arg) { /* an empty root is a usage error, not a failed reap */
                fprintf(stderr, "spill reap: --root: an empty path names no root\n");
                return SPILL_CLI_USAGE;
            }
            *root = arg;
            break;
        case O_GRACE:
            if (!spill__cli_number("reap", "grace", arg, UINT32_MAX, &v))
                return SPILL_CLI_USAGE;
            a->opts.grace_seconds = (uint32_t)v;
            break;
        case O_THREADS:
            if (!spill__cli_number("reap", "threads", arg, 1024, &v))
                return SPILL_CLI_USAGE;
            a->opts.threads = (unsigned)v;
            break;
        case O_BUDGET:
            if (!spill__cli_number("reap", "budget-ms", arg, UINT32_MAX, &v))
                return SPILL_CLI_USAGE;
            a->opts.reap_budget_ms = (uint32_t)v;
            break;
        case O_DRY: a->dry_run = a->opts.dry_run = 1; break;
        case O_RESUMABLE: a->opts.reap_resumable = 1; break;
        case O_JSON: a->json = 1; break;
        case O_AS_OWNER: a->as_owner = 1; break;
        case O_PROGRESS: a->progress = SPILL_CLI_PROGRESS_ON; break;
        case O_QUIET: a->progress = SPILL_CLI_PROGRESS_QUIET; break;
        case O_MISSING_OK: a->missing_ok = 1; break;
        case O_HELP: spill__cli_usage(stdout, "reap"); return -1;
        }
    }
    return more < 0 ? SPILL_CLI_USAGE : SPILL_CLI_OK;
}

int spill__cli_reap(apr_pool_t *pool, int argc, const char *const *argv)
{
    spill__cli_reap_args a;
    spill_reap_stats st;
    const char *root = NULL;
    int rc;
    memset(&a, 0, sizeof a);
    spill_opts_init(&a.opts);
    a.opts.threads = 0; /* the program's default: one worker per core */
    a.opts.log = spill__cli_log;
    a.opts.log_ctx = (void *)"reap";
    a.progress = SPILL_CLI_PROGRESS_AUTO;
    if ((rc = parse(argc, argv, pool, &a, &root)) != SPILL_CLI_OK)
        return rc < 0 ? SPILL_CLI_OK : rc;
    if (!(a.root = spill__cli_root(pool, "reap", root)))
        return SPILL_CLI_ERRORS;
    if (a.as_owner && (rc = spill__cli_as_owner("reap", a.root)) != SPILL_CLI_OK)
        return rc;
    if (spill__cli_missing(pool, "reap", a.root, a.missing_ok))
        return SPILL_CLI_ERRORS;
    return spill__cli_reap_run(pool, &a, &st);
}
