/* cmd_demo.c: `spill demo`: the main job, shown on a fresh temporary root: several uploads
 * (`spill hold` children), some killed hard mid-upload, `ls`, `reap`, `ls`, and a verdict. */
#include <string.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "cli.h"

#define UPLOADS 5
/* which uploads die hard: a mix, so the reaper has to tell them apart from the live ones */
static const int dies[UPLOADS] = {0, 1, 0, 1, 1};

enum { O_ROOT = 256, O_RESUME, O_ZERO, O_RESERVE, O_HELP = 'h' };

static const apr_getopt_option_t options[] = {
    {"root", O_ROOT, 1, "the spill root (default: a fresh temporary directory)"},
    {"resume", O_RESUME, 0, "an upload killed and resumed (spill_adopt) instead"},
    {"zero-chunk", O_ZERO, 0, "with --resume: zero-fill a chunk of the orphan first, as a "
                              "power loss may; verify rejects it and it is put again"},
    {"reserve", O_RESERVE, 0, "three uploads asking for more than the disk has: two start, "
                              "the third is refused at once with the figures"},
    {"help", O_HELP, 0, "this help"},
    {NULL, 0, 0, NULL},
};

typedef struct holder {
    apr_proc_t proc;
    const char *tag, *path, *name;
    int running, killed;
} holder;

/* A new private directory under the system's temporary directory. */
static const char *temp_root(apr_pool_t *pool)
{
    const char *tmp;
    int tries;
    if (apr_temp_dir_get(&tmp, pool) != APR_SUCCESS)
        return NULL;
    for (tries = 0; tries < 16; tries++) {
        unsigned char r[4];
        const char *d;
        if (apr_generate_random_bytes(r, sizeof r) != APR_SUCCESS)
            return NULL;
        d = apr_psprintf(pool, "%s/spill-demo-%02x%02x%02x%02x", tmp, r[0], r[1], r[2], r[3]);
        if (apr_dir_make(d, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, pool) ==
            APR_SUCCESS)
            return d;
    }
    return NULL;
}

/* Starts `spill hold` and reads the spill's path from its stdout: it prints it once its first
 * chunk is on disk, so the line is the readiness signal (no sleeping, no polling). */
static int start_holder(apr_pool_t *pool, const char *root, holder *h, int n)
{
    const char *argv[] = {spill__cli_self, "hold", "--root", root, "--chunks", "100",
                          "--chunk-size", "131072", "--pace-ms", "15", "--tag", NULL, NULL};
    char line[8192];
    size_t len;
    int code;
    apr_exit_why_e why;
    h->tag = argv[11] = apr_psprintf(pool, "upload-%d", n + 1);
    if (spill__cli_start_self(pool, argv, 0, &h->proc) != 0)
        return -1;
    h->running = 1;
    if (apr_file_gets(line, sizeof line, h->proc.out) != APR_SUCCESS) {
        /* it said why on stderr, which it shares with us */
        apr_proc_wait(&h->proc, &code, &why, APR_WAIT);
        h->running = 0;
        return -1;
    }
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    /* the line shows the root cleaned; the name, which the library makes, is as it is */
    h->name = apr_pstrdup(pool, spill__cli_base_name(line));
    h->path = apr_pstrcat(pool, root, "/", h->name, NULL);
    return 0;
}

/* Ends a holder: hard (SIGKILL: it leaves its directory behind) or gracefully (SIGTERM: its
 * spill_close removes the directory). Waits for it either way. */
static int end_holder(holder *h, int hard)
{
    int code;
    apr_exit_why_e why;
    if (!h->running)
        return 0;
    if ((hard ? spill__cli_kill_child(&h->proc) : spill__cli_stop_child(&h->proc)) != 0)
        return -1;
    apr_proc_wait(&h->proc, &code, &why, APR_WAIT);
    apr_file_close(h->proc.out);
    h->running = 0;
    return why == APR_PROC_EXIT && code == 0 ? 0 : -1;
}

static int exists(apr_pool_t *pool, const char *path)
{
    apr_finfo_t fi;
    return apr_stat(&fi, path, APR_FINFO_LINK | APR_FINFO_TYPE, pool) == APR_SUCCESS;
}

static int start_all(apr_pool_t *pool, const char *root, holder *h)
{
    int i;
    printf("Starting %d uploads (`spill hold`, 100 chunks of 128 KiB each, one every 15 ms):\n",
           UPLOADS);
    for (i = 0; i < UPLOADS; i++) {
        if (start_holder(pool, root, &h[i], i) != 0)
            return -1;
        printf("  %-9s  pid %-7ld  spilling into %s\n", h[i].tag, (long)h[i].proc.pid,
               h[i].name);
    }
    return 0;
}

static int kill_some(holder *h)
{
    int i;
    printf("\nKilling");
    for (i = 0; i < UPLOADS; i++)
        if (dies[i])
            printf(" %s", h[i].tag);
    printf(" hard (SIGKILL) mid-upload: no cleanup runs, their directories stay behind.\n");
    for (i = 0; i < UPLOADS; i++)
        if (dies[i]) {
            end_holder(&h[i], 1);
            h[i].killed = 1;
        }
    return 0;
}

/* What a newcomer should take away, checked on disk rather than taken from the counters. */
static int verdict(apr_pool_t *pool, const holder *h, const spill_reap_stats *st)
{
    int i, kept = 0, live = 0, gone = 0, dead = 0;
    char size[32];
    for (i = 0; i < UPLOADS; i++) {
        if (h[i].killed) {
            dead++;
            gone += !exists(pool, h[i].path);
        } else {
            live++;
            kept += exists(pool, h[i].path);
        }
    }
    printf("\nVerdict: %d of %d live uploads kept, %d of %d orphans reclaimed, %s freed.\n",
           kept, live, gone, dead, spill__cli_size(size, sizeof size, st->bytes_freed));
    if (kept != live || gone != dead) {
        printf("That is wrong: the reaper must keep every live upload and reclaim every orphan.\n");
        return -1;
    }
    return 0;
}

static void heading(const char *cmd, const char *root)
{
    printf("\n");
    spill__cli_line(stdout, "$ spill %s --root %s", cmd, root);
    fflush(stdout);
}

/* ls, reap (the program's defaults: grace 30 s, one worker per core), ls again. */
static int show_and_reap(apr_pool_t *pool, const char *root, spill_reap_stats *st)
{
    spill__cli_reap_args a;
    int rc;
    memset(&a, 0, sizeof a);
    a.root = root;
    spill_opts_init(&a.opts);
    a.opts.threads = 0;
    a.opts.log = spill__cli_log;
    a.opts.log_ctx = (void *)"demo";
    heading("ls", root);
    if (spill__cli_ls_run(pool, root, 0) != SPILL_CLI_OK)
        return -1;
    printf("\nThe killed uploads' locks died with them: a free lock beside an owner record proves\n"
           "the owner is gone, so reap removes those at once. The live ones hold their locks:\n"
           "reap never touches them.\n");
    heading("reap", root);
    rc = spill__cli_reap_run(pool, &a, st);
    heading("ls", root);
    if (spill__cli_ls_run(pool, root, 0) != SPILL_CLI_OK || rc != SPILL_CLI_OK)
        return -1;
    return 0;
}


/* Stops what still runs, gracefully, and removes a temporary root if it is empty again. */
static int finish(apr_pool_t *pool, holder *h, const char *root, int temp)
{
    int i, bad = 0, n = 0;
    for (i = 0; i < UPLOADS; i++)
        n += h[i].running;
    if (n)
        printf("\nStopping the %d live uploads gracefully (SIGTERM): spill_close removes their "
               "directories.\n", n);
    for (i = 0; i < UPLOADS; i++)
        if (h[i].running && (end_holder(&h[i], 0) != 0 || exists(pool, h[i].path))) {
            spill__cli_line(stderr, "spill demo: %s did not close cleanly: %s", h[i].tag,
                            h[i].path);
            bad = 1;
        }
    if (temp && apr_dir_remove(root, pool) != APR_SUCCESS) {
        spill__cli_line(stderr, "spill demo: %s: not empty after the demo; left for you to see",
                        root);
        return -1;
    }
    if (temp)
        spill__cli_line(stdout, "Removed the demo root %s.", root);
    return bad ? -1 : 0;
}

int spill__cli_demo(apr_pool_t *pool, int argc, const char *const *argv)
{
    apr_getopt_t *os = spill__cli_getopt(pool, argc, argv);
    const char *arg, *root = NULL;
    holder h[UPLOADS];
    spill_reap_stats st;
    int id, more, ok, temp = 0, resume = 0, zero = 0, reserve = 0;
    while ((more = spill__cli_next(os, options, &id, &arg)) == 1) {
        if (id == O_ROOT)
            root = arg;
        else if (id == O_RESUME)
            resume = 1;
        else if (id == O_ZERO)
            zero = 1;
        else if (id == O_RESERVE)
            reserve = 1;
        else if (id == O_HELP) {
            spill__cli_usage(stdout, "demo");
            return SPILL_CLI_OK;
        }
    }
    if (more < 0)
        return SPILL_CLI_USAGE;
    if (zero && !resume)
        return spill__cli_usage_error("demo", "--zero-chunk needs --resume: it spoils the chunk "
                                              "an adopter checks");
    if (reserve && resume)
        return spill__cli_usage_error("demo", "--reserve or --resume, not both");
    memset(h, 0, sizeof h);
    memset(&st, 0, sizeof st);
    if (!root) {
        if (!(root = temp_root(pool))) {
            fprintf(stderr, "spill demo: cannot make a temporary directory\n");
            return SPILL_CLI_ERRORS;
        }
        temp = 1;
    }
    spill__cli_line(stdout, "spill demo on the root %s", root);
    printf("\n");
    if (resume || reserve) {
        ok = (resume ? spill__cli_demo_resume(pool, root, zero)
                     : spill__cli_demo_reserve(pool, root)) == 0;
        if (temp && apr_dir_remove(root, pool) != APR_SUCCESS) {
            spill__cli_line(stderr, "spill demo: %s: not empty after the demo; left for you to "
                                    "see", root);
            ok = 0;
        } else if (temp) {
            spill__cli_line(stdout, "Removed the demo root %s.", root);
        }
        return ok ? SPILL_CLI_OK : SPILL_CLI_ERRORS;
    }
    ok = start_all(pool, root, h) == 0;
    if (ok) {
        /* for the show only, not to synchronise: let the uploads spill a few chunks more */
        apr_sleep(apr_time_from_msec(400));
        ok = kill_some(h) == 0 && show_and_reap(pool, root, &st) == 0 &&
             verdict(pool, h, &st) == 0;
    }
    if (finish(pool, h, root, temp) != 0)
        ok = 0;
    return ok ? SPILL_CLI_OK : SPILL_CLI_ERRORS;
}
