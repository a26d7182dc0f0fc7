/* main.c (bench): options, the scratch directory, and the sections in order; a table with
 * ratios, or one JSON object with --json. Not a test: nothing here passes or fails a build. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/vfs.h>
#endif

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_strings.h>

#include "bench.h"

enum { O_DIRS = 256, O_FILES, O_FILE_KIB, O_PUT_MIB, O_CHUNK_KIB, O_LIVE, O_RSS_FILES,
       O_RSS_BIG, O_CLI, O_ONLY, O_BASELINE };

static const apr_getopt_option_t options[] = {
    {"dir", 'd', 1, "DIR   build trees in a fresh directory under DIR (default: /dev/shm when "
                    "present, else the temp dir)"},
    {"rounds", 'r', 1, "N     rounds per contender; medians are reported (default 5)"},
    {"dirs", O_DIRS, 1, "N     orphans in the reap tree (default 200)"},
    {"files", O_FILES, 1, "N     files per orphan (default 256)"},
    {"file-kib", O_FILE_KIB, 1, "N     KiB per file (default 4)"},
    {"threads", 't', 1, "N     workers of the parallel reap; 0 = one per core (default 0)"},
    {"put-mib", O_PUT_MIB, 1, "N     MiB written by spill_put and by plain writes (default 64)"},
    {"chunk-kib", O_CHUNK_KIB, 1, "N     KiB per chunk (default 64)"},
    {"live", O_LIVE, 1, "N     live spills held by the helper for judging (default 1000)"},
    {"rss-files", O_RSS_FILES, 1, "N     files in the peak-RSS tree (default 50000)"},
    {"rss-big", O_RSS_BIG, 0, "      also measure peak RSS at 500,000 files (slow on disks)"},
    {"cli", O_CLI, 1, "PATH  also measure the peak RSS of `PATH reap --root R --grace 0`"},
    {"only", O_ONLY, 1, "LIST  sections to run, comma-separated: reap,put,judge,rss,remove,"
                        "open,progress,adopt,reserve (default all)"},
    {"baseline", O_BASELINE, 1, "REF   also build the git ref REF of this repository (0.1.0 is "
                                "3e43ffa, 0.2.0 8927819) and time its judge, put, reap and "
                                "reserve beside this tree's, both built as shared libraries "
                                "(Linux)"},
    {"json", 'j', 0, "      one JSON object instead of the table"},
    {"help", 'h', 0, "      this help"},
    {NULL, 0, 0, NULL},
};

static void usage(FILE *f)
{
    const apr_getopt_option_t *o;
    fprintf(f, "usage: spill_bench [options]\n");
    for (o = options; o->name; o++)
        fprintf(f, "  --%-10s %s\n", o->name, o->description);
}

static int sections_of(const char *list)
{
    int bits = 0;
    if (strstr(list, "reap")) bits |= BENCH_REAP;
    if (strstr(list, "put")) bits |= BENCH_PUT;
    if (strstr(list, "judge")) bits |= BENCH_JUDGE;
    if (strstr(list, "rss")) bits |= BENCH_RSS;
    if (strstr(list, "remove")) bits |= BENCH_REMOVE;
    if (strstr(list, "open")) bits |= BENCH_OPEN;
    if (strstr(list, "progress")) bits |= BENCH_PROGRESS;
    if (strstr(list, "adopt")) bits |= BENCH_ADOPT;
    if (strstr(list, "reserve")) bits |= BENCH_RESERVE;
    return bits;
}

static unsigned num(const char *arg)
{
    return (unsigned)strtoul(arg, NULL, 10);
}

/* 1 if KIB kibibytes fit in a size_t (a 4 GiB chunk or file wraps to 0 on 32-bit). */
static int fits(unsigned kib)
{
    return (size_t)kib * 1024 / 1024 == kib;
}

/* Returns 0, 1 for --help, or 2 for a usage error. */
static int parse(bench_cfg *c, int argc, const char *const *argv)
{
    apr_getopt_t *g;
    const char *arg;
    apr_status_t rv;
    int ch;
    apr_getopt_init(&g, c->pool, argc, argv);
    while ((rv = apr_getopt_long(g, options, &ch, &arg)) == APR_SUCCESS) {
        switch (ch) {
        case 'd': c->dir = arg; break;
        case 'r': c->rounds = num(arg); break;
        case O_DIRS: c->dirs = num(arg); break;
        case O_FILES: c->files = num(arg); break;
        case O_FILE_KIB: c->file_kib = num(arg); break;
        case 't': c->threads = num(arg); break;
        case O_PUT_MIB: c->put_mib = num(arg); break;
        case O_CHUNK_KIB: c->chunk_kib = num(arg); break;
        case O_LIVE: c->live = num(arg); break;
        case O_RSS_FILES: c->rss_files = num(arg); break;
        case O_RSS_BIG: c->rss_big = 1; break;
        case O_CLI: c->cli = arg; break;
        case O_ONLY: c->sections = sections_of(arg); break;
        case O_BASELINE: c->baseline = arg; break;
        case 'j': c->json = 1; break;
        case 'h': return 1;
        }
    }
    if (rv != APR_EOF || g->ind != argc || c->rounds < 1 || c->rounds > BENCH_MAX_ROUNDS / 2 ||
        !c->dirs || !c->chunk_kib || !c->put_mib || !c->live || !c->sections ||
        !fits(c->chunk_kib) || !fits(c->file_kib))
        return 2;
    return 0;
}

static void defaults(bench_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->rounds = 5;
    c->dirs = 200;
    c->files = 256;
    c->file_kib = 4;
    c->put_mib = 64;
    c->chunk_kib = 64;
    c->live = 1000;
    c->rss_files = 50000;
    c->sections = BENCH_REAP | BENCH_PUT | BENCH_JUDGE | BENCH_RSS | BENCH_REMOVE | BENCH_OPEN |
                  BENCH_PROGRESS | BENCH_ADOPT | BENCH_RESERVE;
    c->ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    c->lib[0] = &bench_linked;
    c->nlibs = 1;
}

/* The kind of filesystem holding dir: the reap target differs between tmpfs and a disk. */
static void fs_kind(bench_cfg *c)
{
#if defined(__linux__)
    struct statfs sf;
    c->fs = "unknown";
    if (statfs(c->dir, &sf) != 0)
        return;
    switch ((unsigned long)sf.f_type) {
    case 0x01021994UL: c->fs = "tmpfs"; c->tmpfs = 1; break;
    case 0xEF53UL: c->fs = "ext4"; break;
    case 0x58465342UL: c->fs = "xfs"; break;
    case 0x9123683EUL: c->fs = "btrfs"; break;
    case 0x794C7630UL: c->fs = "overlayfs"; break;
    default: c->fs = apr_psprintf(c->pool, "fs 0x%lx", (unsigned long)sf.f_type);
    }
#else
    c->fs = "unknown";
#endif
}

/* A fresh directory of our own under the one named (or the default), removed at the end. */
static int scratch(bench_cfg *c)
{
    const char *parent = c->dir;
    struct stat sb;
    if (!parent && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode))
        parent = "/dev/shm";
    if (!parent && apr_temp_dir_get(&parent, c->pool) != APR_SUCCESS)
        parent = "/tmp";
    c->dir = apr_psprintf(c->pool, "%s/spill-bench-%ld", parent, (long)getpid());
    if (mkdir(c->dir, 0700) != 0) {
        fprintf(stderr, "spill_bench: cannot make %s: %s\n", c->dir, strerror(errno));
        return -1;
    }
    fs_kind(c);
    return 0;
}

/* Other work on the machine skews wall times: the load is printed at the start and the end. */
static double load(void)
{
    double l[1] = {-1};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

static void header(const bench_cfg *c, FILE *out)
{
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    if (c->json) {
        fprintf(out, "{\"spill\":\"%s\",\"os\":\"%s %s\",\"cores\":%u,\"dir\":\"%s\","
                     "\"fs\":\"%s\",\"rounds\":%u,\"load_start\":%.2f",
                spill_version(), u.sysname, u.release, c->ncpu, c->dir, c->fs, c->rounds,
                load());
        if (c->nlibs > 1)
            fprintf(out, ",\"baseline\":\"%s\",\"baseline_version\":\"%s\"", c->lib[1]->name,
                    c->lib[1]->version());
        return;
    }
    fprintf(out, "spill %s benchmark: %s %s, %u cores, load average %.2f; trees in %s (%s)\n",
            spill_version(), u.sysname, u.release, c->ncpu, load(), c->dir, c->fs);
    if (c->nlibs > 1)
        fprintf(out, "against %s (version %s): both built here as shared libraries, every "
                     "release's contenders interleaved\n",
                c->lib[1]->name, c->lib[1]->version());
}

typedef struct section {
    int bit;
    const char *name;
    int (*run)(const bench_cfg *c, FILE *out);
} section;

static const section sections[] = {
    {BENCH_REAP, "reap", bench_reap},
    {BENCH_PUT, "put", bench_put},
    {BENCH_JUDGE, "judge", bench_judge},
    {BENCH_RSS, "rss", bench_rss},
    {BENCH_REMOVE, "remove", bench_remove},
    {BENCH_OPEN, "open", bench_open},
    {BENCH_PROGRESS, "progress", bench_progress},
    {BENCH_ADOPT, "adopt", bench_adopt},
    {BENCH_RESERVE, "reserve", bench_reserve},
};

static int run_all(const bench_cfg *c, FILE *out)
{
    unsigned i;
    int failed = 0;
    header(c, out);
    for (i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        if (!(c->sections & sections[i].bit))
            continue;
        if (c->json)
            fprintf(out, ",\"%s\":", sections[i].name);
        fflush(out);
        if (sections[i].run(c, out) != 0) {
            failed = 1;
            if (c->json)
                fprintf(out, "null");
        }
    }
    if (c->json)
        fprintf(out, ",\"targets\":");
    targets_print(c, out);
    if (c->json)
        fprintf(out, ",\"load_end\":%.2f}\n", load());
    else
        fprintf(out, "\nload average at the end: %.2f\n", load());
    return failed;
}

int main(int argc, const char *const *argv)
{
    bench_cfg c;
    int rc;
    apr_app_initialize(&argc, &argv, NULL);
    if (argc >= 2 && strcmp(argv[1], "--helper") == 0)
        return bench_helper(argc - 2, argv + 2);
    defaults(&c);
    c.self = argv[0];
    apr_pool_create(&c.pool, NULL);
    if ((rc = parse(&c, argc, argv)) != 0) {
        usage(rc == 1 ? stdout : stderr);
        return rc == 1 ? 0 : 2;
    }
    if (scratch(&c) != 0)
        return 1;
    if (c.baseline) { /* only the sections that compare releases */
        c.sections &= BENCH_JUDGE | BENCH_PUT | BENCH_REAP | BENCH_RESERVE;
        if (!c.sections || bench_baseline(&c, c.baseline) != 0) {
            if (!c.sections)
                fprintf(stderr, "spill_bench: --baseline compares judge, put, reap and reserve "
                                "only\n");
            tree_remove(c.dir);
            return 1;
        }
    }
    rc = run_all(&c, stdout);
    tree_remove(c.dir);
    apr_pool_destroy(c.pool);
    apr_terminate();
    return rc;
}
