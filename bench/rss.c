/* rss.c (bench): peak resident memory of a reap, run in a fresh child process (this program,
 * `--helper reap ROOT THREADS`, or a given `spill` program) and read back through wait4's
 * rusage, so that nothing of the benchmark's own memory is counted. */
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "bench.h"

#define FILES_PER_ORPHAN 250

static apr_pool_t *rss_pool;

static void drain(apr_file_t *f)
{
    char buf[4096];
    apr_size_t n = sizeof buf;
    while (apr_file_read(f, buf, &n) == APR_SUCCESS)
        n = sizeof buf;
}

long bench_child_rss(const char *const *argv, char *line, size_t size)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    struct rusage ru;
    int status;
    line[0] = '\0';
    if (apr_procattr_create(&attr, rss_pool) != APR_SUCCESS ||
        apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE) != APR_SUCCESS ||
        apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH) != APR_SUCCESS ||
        apr_proc_create(&proc, argv[0], argv, NULL, attr, rss_pool) != APR_SUCCESS)
        return -1;
    if (apr_file_gets(line, (int)size, proc.out) != APR_SUCCESS)
        line[0] = '\0';
    line[strcspn(line, "\n")] = '\0';
    drain(proc.out); /* read to the end: a closed pipe would kill a chatty child */
    apr_file_close(proc.out);
    if (wait4(proc.pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        return -1;
#if defined(__APPLE__)
    return ru.ru_maxrss / 1024; /* bytes there, KiB on Linux and the BSDs */
#else
    return ru.ru_maxrss;
#endif
}

typedef struct rss_row {
    const char *name;
    unsigned long files;    /* entries in the tree, .lock files included */
    long kib;               /* -1: the run failed or left entries behind */
    int target;             /* a row with a performance target */
    char line[256];         /* what the child printed */
} rss_row;

static rss_row rows[16];
static unsigned nrows;

/* Builds a tree of about `files` empty files (bytes do not matter to memory), runs argv on it
 * in a child process and keeps its peak RSS. */
static void measure(const bench_cfg *c, const char *name, unsigned long files, const char *root,
                    const char *const *argv)
{
    unsigned dirs = (unsigned)((files + FILES_PER_ORPHAN - 1) / FILES_PER_ORPHAN);
    rss_row *r = &rows[nrows++];
    (void)c;
    r->name = name;
    r->files = (unsigned long)dirs * (FILES_PER_ORPHAN + 1);
    r->target = files > 0;
    if (tree_build(root, dirs, FILES_PER_ORPHAN, 0) != 0) {
        r->kib = -1;
        return;
    }
    r->kib = bench_child_rss(argv, r->line, sizeof r->line);
    if (tree_count(root) != 0)
        r->kib = -1;
    tree_remove(root);
}

static void reap_row(const bench_cfg *c, unsigned long files, unsigned threads)
{
    const char *root = apr_psprintf(c->pool, "%s/rss-%u", c->dir, nrows);
    const char *argv[] = {c->self, "--helper", "reap", root, NULL, NULL};
    const char *name = files ? apr_psprintf(c->pool, "spill_reap, threads=%u", threads)
                             : "spill_reap of an empty root (floor)";
    argv[4] = apr_psprintf(c->pool, "%u", threads);
    measure(c, name, files, root, argv);
    rows[nrows - 1].target = files > 0 && threads == c->threads;
}

static void cli_row(const bench_cfg *c, unsigned long files)
{
    const char *root = apr_psprintf(c->pool, "%s/rss-%u", c->dir, nrows);
    const char *argv[] = {c->cli, "reap", "--root", root, "--grace", "0", NULL};
    measure(c, apr_psprintf(c->pool, "%s reap", c->cli), files, root, argv);
}

static void rows_for(const bench_cfg *c, unsigned long files)
{
    reap_row(c, files, 1);
    if (c->threads != 1)
        reap_row(c, files, c->threads);
    if (c->cli)
        cli_row(c, files);
}

static void print(const bench_cfg *c, FILE *out)
{
    unsigned i;
    if (c->json) {
        fprintf(out, "[");
        for (i = 0; i < nrows; i++)
            fprintf(out, "%s{\"name\":\"%s\",\"files\":%lu,\"max_rss_kib\":%ld}",
                    i ? "," : "", rows[i].name, rows[i].files, rows[i].kib);
        fprintf(out, "]");
        return;
    }
    fprintf(out, "\npeak RSS (ru_maxrss of a child process running the reap)\n");
    for (i = 0; i < nrows; i++)
        fprintf(out, "  %-38s %8lu files %8.2f MiB%s\n", rows[i].name, rows[i].files,
                rows[i].kib / 1024.0, rows[i].kib < 0 ? "  (FAILED)" : "");
}

int bench_rss(const bench_cfg *c, FILE *out)
{
    unsigned i;
    rss_pool = c->pool;
    reap_row(c, 0, 1);
    rows_for(c, c->rss_files);
    if (c->rss_big)
        rows_for(c, 500000);
    for (i = 0; i < nrows; i++)
        if (rows[i].target)
            target_add(apr_psprintf(c->pool, "peak RSS, %s, %lu files", rows[i].name,
                                    rows[i].files),
                       rows[i].kib < 0 ? -1 : rows[i].kib / 1024.0, 8, " MiB");
    print(c, out);
    return 0;
}
