/* main.c: the `spill` program: finds the command (reap, ls, hold, demo) and runs it. Each
 * command lives in its own file; the man page (packaging/spill.1.scd) is what it promises. */
#include <string.h>

#include <apr_general.h>

#include "cli.h"

const char *spill__cli_self;

typedef struct command {
    const char *name;
    int (*run)(apr_pool_t *pool, int argc, const char *const *argv);
    const char *synopsis;
    const char *what;
} command;

static const command commands[] = {
    {"reap", spill__cli_reap,
     "[--root DIR] [--grace SECONDS] [--threads N] [--budget-ms MS] [--dry-run] [--resumable]\n"
     "             [--json] [--as-owner] [--progress | --quiet] [--missing-ok]",
     "remove the spill directories of dead owners; never a live one (--dry-run: judge and\n"
     "      report what would be removed, removing nothing; --threads 0 or unset: one per core;\n"
     "      --resumable: resumable orphans too; --as-owner, only as root: first become the user\n"
     "      and group owning the root). On a terminal one progress line on stderr (orphans\n"
     "      removed of those judged, bytes freed, rate, elapsed), cleared at the end; --progress\n"
     "      shows it on any stderr, --quiet never. Ctrl-C stops the reap at its next check,\n"
     "      leaving the rest for the next run: the summary is printed and the exit status is 130.\n"
     "      A missing root is an error (exit 1) unless --missing-ok (nothing to do, exit 0)"},
    {"ls", spill__cli_ls,
     "[--root DIR] [--json] [--prometheus [--output FILE]] [--as-owner] [--missing-ok]",
     "list the spill directories under the root, oldest first, as reap would judge them\n"
     "      (--prometheus: directories, bytes and files per state for node_exporter's textfile\n"
     "      collector; --output: replace FILE atomically). A missing root is an error (exit 1;\n"
     "      spill_scan_success 0 and spill_root_exists 0) unless --missing-ok"},
    {"hold", spill__cli_hold,
     "[--root DIR] --chunks N [--chunk-size BYTES] [--pace-ms MS] [--ready-file PATH] [--tag T]\n"
     "      [--keep SECONDS] [--adopt] [--expect BYTES] [--limit BYTES]",
     "a stand-in upload: spill N chunks, each under a hash of its bytes, print the spill's\n"
     "      path once the first is on disk, then wait; SIGINT/SIGTERM close it (its directory\n"
     "      is removed), SIGKILL orphans it (resumable for --keep seconds); --adopt --tag T\n"
     "      takes over the orphan tagged T, keeps the chunks whose bytes still hash to their\n"
     "      address (verify; it says how many it adopted and rejected), puts only the chunks it\n"
     "      lacks, and prints the path once the first of those is on disk; --expect: the bytes\n"
     "      the upload expects (its first reservation, shared with the other processes on the\n"
     "      root), --limit: the most this user's live spills on the root may hold together;\n"
     "      either refused prints the library's figures and exits 1 before a byte is written"},
    {"demo", spill__cli_demo, "[--root DIR] [--resume [--zero-chunk] | --reserve]",
     "the main job on a fresh temporary root: uploads, hard deaths, ls, reap, a verdict\n"
     "      (--resume: an upload killed and resumed with spill_adopt, its chunks not rewritten;\n"
     "      --zero-chunk: the orphan's first chunk zero-filled first, as a power loss may leave\n"
     "      it: verify rejects it and it is put again; --reserve: three uploads each expecting\n"
     "      40% of the disk's free space: two start, the third is refused at once with the\n"
     "      figures, none fails halfway)"},
    {NULL, NULL, NULL, NULL},
};

void spill__cli_usage(FILE *f, const char *cmd)
{
    const command *c;
    if (!cmd)
        fprintf(f, "spill %s: a private spill directory per upload; reaps the orphans of dead "
                   "owners\n\nusage:\n", spill_version());
    for (c = commands; c->name; c++)
        if (!cmd || strcmp(cmd, c->name) == 0)
            fprintf(f, "  spill %s %s\n      %s\n", c->name, c->synopsis, c->what);
    if (cmd)
        return;
    fprintf(f, "  spill --help | --version\n\n"
               "ROOT is --root, else $SPILL_ROOT, else the per-user default (spill_default_root).\n"
               "Exit status: 0 done (live or unsafe entries are not errors); 1 done with errors;\n"
               "2 usage.\n");
}

static int dispatch(apr_pool_t *pool, int argc, const char *const *argv)
{
    const command *c;
    if (argc < 2)
        return spill__cli_usage_error(NULL, "which command? reap, ls, hold or demo");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        spill__cli_usage(stdout, NULL);
        return SPILL_CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("spill %s\n", spill_version());
        return SPILL_CLI_OK;
    }
    for (c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(pool, argc - 1, argv + 1);
    return spill__cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    int rc;
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS ||
        apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "spill: cannot initialise APR\n");
        return SPILL_CLI_ERRORS;
    }
    spill__cli_self = argv[0];
    rc = dispatch(pool, argc, argv);
    /* output cut short (a full disk, a closed pipe) is a failure the caller must see */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "spill: writing the output failed\n");
        if (rc == SPILL_CLI_OK)
            rc = SPILL_CLI_ERRORS;
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
