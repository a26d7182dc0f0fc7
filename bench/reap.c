/* reap.c (bench): spill_reap with one thread and with N against rm -rf, a seed-style reaper
 * (readdir, flock probe, nftw) and raw unlinkat loops on the known names, each on a freshly
 * built identical tree, the order rotated every round. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "bench.h"

typedef struct contender contender;
struct contender {
    bench_series s;
    int (*run)(const bench_cfg *c, const contender *k, const char *root);
    unsigned threads;
    const bench_lib *lib; /* spill_reap's: this tree's, or the baseline's */
};

static char (*names)[65]; /* the tree's file names, for the loops on known names */

static int run_reap(const bench_cfg *c, const contender *k, const char *root)
{
    spill_opts o;
    spill_reap_stats st;
    k->lib->opts_init(&o); /* version 1's, which every release reads alike */
    o.grace_seconds = 0;
    o.threads = k->threads;
    memset(&st, 0, sizeof st);
    st.version = 1;
    if (k->lib->reap(root, &o, &st) != SPILL_OK)
        return -1;
    return st.reaped == c->dirs && st.errors == 0 &&
                   st.files_removed == (uint64_t)c->dirs * (c->files + 1)
               ? 0
               : -1;
}

static int run_rm(const bench_cfg *c, const contender *k, const char *root)
{
    const char *argv[] = {"/bin/rm", "-rf", root, NULL};
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_exit_why_e why;
    int code;
    (void)k;
    if (apr_procattr_create(&attr, c->pool) != APR_SUCCESS ||
        apr_procattr_cmdtype_set(attr, APR_PROGRAM) != APR_SUCCESS ||
        apr_proc_create(&proc, argv[0], argv, NULL, attr, c->pool) != APR_SUCCESS)
        return -1;
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    return why == APR_PROC_EXIT && code == 0 ? 0 : -1;
}

static int nftw_remove(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* What a first reaper would write: list the root, probe each .lock, remove by path. */
static int run_seed(const bench_cfg *c, const contender *k, const char *root)
{
    DIR *d = opendir(root);
    struct dirent *e;
    char path[4096], lock[4200];
    int fd, rc = 0;
    (void)c;
    (void)k;
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "spill_", 6) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        snprintf(lock, sizeof lock, "%s/.lock", path);
        if ((fd = open(lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && nftw(path, nftw_remove, 16, FTW_DEPTH | FTW_PHYS))
            rc = -1;
        close(fd);
    }
    closedir(d);
    return rc;
}

/* The floor: unlinkat on names known in advance, no listing, no stat, no lock. */
static void unlink_known(const bench_cfg *c, const char *root, unsigned first, unsigned step)
{
    char name[64];
    unsigned d, f;
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd;
    for (d = first; d < c->dirs; d += step) {
        tree_dir_name(d, name, sizeof name);
        if ((dfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            continue;
        for (f = 0; f < c->files; f++)
            unlinkat(dfd, names[f], 0);
        unlinkat(dfd, ".lock", 0);
        close(dfd);
        unlinkat(rfd, name, AT_REMOVEDIR);
    }
    close(rfd);
}

/* The least a reaper that reports bytes freed must do: list each orphan, stat each entry for
 * its size, unlink it. No lock, no checks. */
static int run_stat_loop(const bench_cfg *c, const contender *k, const char *root)
{
    char name[64];
    unsigned d;
    struct stat sb;
    struct dirent *e;
    DIR *dir;
    uint64_t bytes = 0;
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd;
    (void)k;
    for (d = 0; d < c->dirs; d++) {
        tree_dir_name(d, name, sizeof name);
        if ((dfd = openat(rfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
            !(dir = fdopendir(dfd)))
            continue;
        while ((e = readdir(dir)))
            if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) {
                if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
                    bytes += (uint64_t)sb.st_size;
                unlinkat(dfd, e->d_name, 0);
            }
        closedir(dir);
        unlinkat(rfd, name, AT_REMOVEDIR);
    }
    close(rfd);
    return bytes ? 0 : -1;
}

typedef struct share {
    const bench_cfg *c;
    const char *root;
    unsigned first, step;
} share;

static void *APR_THREAD_FUNC unlink_thread(apr_thread_t *t, void *arg)
{
    share *s = arg;
    unlink_known(s->c, s->root, s->first, s->step);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static int run_unlink(const bench_cfg *c, const contender *k, const char *root)
{
    apr_thread_t *t[64];
    share sh[64];
    apr_status_t rv;
    unsigned i, n = k->threads ? k->threads : 1;
    if (n == 1) {
        unlink_known(c, root, 0, 1);
        return 0;
    }
    for (i = 0; i < n && i < 64; i++) {
        sh[i].c = c;
        sh[i].root = root;
        sh[i].first = i;
        sh[i].step = n;
        if (apr_thread_create(&t[i], NULL, unlink_thread, &sh[i], c->pool) != APR_SUCCESS)
            return -1;
    }
    for (i = 0; i < n && i < 64; i++)
        apr_thread_join(&rv, t[i]);
    return 0;
}

/* REAP1B, with --baseline only: the baseline's one-thread reap */
enum { REAP1, REAPN, RM, SEED, STATLOOP, LOOP1, LOOPN, NCONTENDERS, REAP1B = NCONTENDERS };

static unsigned contenders(const bench_cfg *c)
{
    return NCONTENDERS + (c->nlibs > 1);
}

static void setup(const bench_cfg *c, contender *k)
{
    unsigned workers = c->threads ? c->threads : c->ncpu;
    memset(k, 0, (NCONTENDERS + 1) * sizeof *k);
    k[REAP1].s.name = "spill_reap, 1 thread";
    k[REAP1].run = run_reap;
    k[REAP1].threads = 1;
    k[REAP1].lib = c->lib[0];
    k[REAPN].lib = c->lib[0];
    if (c->nlibs > 1) {
        k[REAP1B].s.name = apr_psprintf(c->pool, "spill_reap, 1 thread, %s", c->lib[1]->name);
        k[REAP1B].run = run_reap;
        k[REAP1B].threads = 1;
        k[REAP1B].lib = c->lib[1];
    }
    k[REAPN].s.name = apr_psprintf(c->pool, "spill_reap, threads=%u (%u workers)", c->threads,
                                   workers);
    k[REAPN].run = run_reap;
    k[REAPN].threads = c->threads;
    k[RM].s.name = "rm -rf";
    k[RM].run = run_rm;
    k[SEED].s.name = "seed: readdir, flock, nftw";
    k[SEED].run = run_seed;
    k[STATLOOP].s.name = "readdir+fstatat+unlinkat loop";
    k[STATLOOP].run = run_stat_loop;
    k[LOOP1].s.name = "unlinkat loop, known names";
    k[LOOP1].run = run_unlink;
    k[LOOP1].threads = 1;
    k[LOOPN].s.name = apr_psprintf(c->pool, "unlinkat loop, %u threads", workers);
    k[LOOPN].run = run_unlink;
    k[LOOPN].threads = workers;
}

/* One contender on one fresh tree; the tree is built and flushed outside the timing. */
static int one_run(const bench_cfg *c, contender *k, unsigned round, unsigned i)
{
    const char *root = apr_psprintf(c->pool, "%s/reap-%u-%u", c->dir, round, i);
    double t0, cpu0;
    int rc;
    if (tree_build(root, c->dirs, c->files, (size_t)c->file_kib * 1024) != 0)
        return -1;
    tree_settle(root);
    cpu0 = bench_cpu();
    t0 = bench_now();
    rc = k->run(c, k, root);
    bench_add_cpu(&k->s, bench_now() - t0, bench_cpu() - cpu0);
    if (rc != 0 || (k->run != run_rm && tree_count(root) != 0)) {
        fprintf(stderr, "spill_bench: %s did not remove the whole tree\n", k->s.name);
        k->s.failed = 1;
    }
    tree_remove(root);
    return 0;
}

static double ratio(const contender *k, int a, int b)
{
    return k[b].s.median > 0 ? k[a].s.median / k[b].s.median : 0;
}

static void print_table(const bench_cfg *c, contender *k, FILE *out)
{
    int i;
    fprintf(out, "\nreap: %u orphans x %u files x %u KiB (%lu files with .lock), %s, median "
                 "of %u rounds\n",
            c->dirs, c->files, c->file_kib, (unsigned long)c->dirs * (c->files + 1), c->fs,
            c->rounds);
    fprintf(out, "  %-34s %9s %10s %11s %9s %9s\n", "contender", "median", "vs rm -rf",
            "vs loop x1", "CPU", "best");
    for (i = 0; i < (int)contenders(c); i++)
        fprintf(out, "  %-34s %7.3f s %9.2fx %10.2fx %7.3f s %7.3f s%s\n", k[i].s.name,
                k[i].s.median, ratio(k, i, RM), ratio(k, i, LOOP1), k[i].s.cpu_median,
                k[i].s.best, k[i].s.failed ? "  (FAILED)" : "");
    fprintf(out, "  ratios of medians; CPU: median user+system time; best: the fastest round\n");
    fprintf(out, "  headroom: the unlinkat loop ran %.2fx faster on %u threads than on one (near "
                 "%u when the cores are idle)\n",
            ratio(k, LOOP1, LOOPN), k[LOOPN].threads, k[LOOPN].threads);
    fprintf(out, "  best rounds: reap threads=%u vs rm -rf %.2fx; reap 1 thread vs loop x1 %.2fx\n",
            c->threads, k[REAPN].s.best / k[RM].s.best, k[REAP1].s.best / k[LOOP1].s.best);
}

static void print_json(const bench_cfg *c, contender *k, FILE *out)
{
    int i;
    fprintf(out, "{\"orphans\":%u,\"files_per_orphan\":%u,\"file_kib\":%u,"
                 "\"fs\":\"%s\",\"rounds\":%u,\"headroom\":%.3f,\"contenders\":[",
            c->dirs, c->files, c->file_kib, c->fs, c->rounds, ratio(k, LOOP1, LOOPN));
    for (i = 0; i < (int)contenders(c); i++) {
        fprintf(out, "%s", i ? "," : "");
        bench_json_series(out, &k[i].s);
    }
    fprintf(out, "]}");
}

int bench_reap(const bench_cfg *c, FILE *out)
{
    contender k[NCONTENDERS + 1];
    unsigned r, i, f, n = contenders(c);
    names = malloc((size_t)c->files * sizeof *names);
    for (f = 0; f < c->files; f++)
        tree_file_name(f, names[f]);
    setup(c, k);
    for (r = 0; r < c->rounds; r++)
        for (i = 0; i < n; i++)
            if (one_run(c, &k[(i + r) % n], r, (i + r) % n) != 0)
                return -1;
    for (i = 0; i < n; i++)
        bench_median(&k[i].s);
    free(names);
    target_add(apr_psprintf(c->pool, "reap, threads=%u, vs rm -rf on %s", c->threads, c->fs),
               ratio(k, REAPN, RM), c->tmpfs ? 0.65 : 0.80, "x");
    target_add("reap, 1 thread, vs unlinkat loop", ratio(k, REAP1, LOOP1), 1.10, "x");
    target_add("reap, 1 thread, vs rm -rf", ratio(k, REAP1, RM), 1.0, "x");
    if (c->nlibs > 1)
        target_add(apr_psprintf(c->pool, "reap, 1 thread, vs %s's", c->lib[1]->name),
                   ratio(k, REAP1, REAP1B), 1.0, "x");
    if (c->json)
        print_json(c, k, out);
    else
        print_table(c, k, out);
    return 0;
}
