/* bench.h: what the benchmark's files share: its settings, timing and medians, orphan trees,
 * and one function per section (reap, put, judge, rss). POSIX only: it compares the reaper with
 * rm -rf, nftw and raw unlinkat loops. */
#ifndef SPILL_BENCH_H
#define SPILL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <apr_pools.h>
#include <apr_thread_proc.h>

#include <spill.h>

#define BENCH_MAX_ROUNDS 64

/* The library a contender calls (lib.c). Options are version 1's for every contender that
 * compares releases (opts_init is 0.1's function); opts_init_version is NULL before 0.2. */
typedef struct bench_lib {
    const char *name;
    const char *(*version)(void);
    void (*opts_init)(spill_opts *opts);
    int (*opts_init_version)(spill_opts *opts, unsigned version);
    int (*open)(const char *root, const spill_opts *opts, spill_t **out);
    int (*put)(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], const void *data, size_t len);
    size_t (*count)(const spill_t *s);
    int (*close)(spill_t *s);
    int (*reap)(const char *root, const spill_opts *opts, spill_reap_stats *stats);
    int (*scan)(const char *root, const spill_opts *opts,
                int (*cb)(void *ctx, const spill_entry *e), void *ctx);
} bench_lib;
extern const bench_lib bench_linked; /* this tree's, linked in */

typedef struct bench_cfg {
    const char *self;       /* this program, to run itself as a helper */
    const char *dir;        /* where trees are built (a fresh directory the run owns) */
    const char *fs;         /* the filesystem kind of dir, e.g. "tmpfs", "ext4" */
    int tmpfs;
    unsigned ncpu;
    unsigned rounds;
    unsigned dirs, files, file_kib;   /* the reap tree */
    unsigned threads;                 /* the parallel contender; 0 = one per core */
    unsigned put_mib, chunk_kib;
    unsigned live;
    unsigned rss_files, rss_big;      /* rss_big: also 500,000 files */
    const char *cli;                  /* a `spill` program to measure too, or NULL */
    int json;
    int sections;                     /* BENCH_* bits */
    const bench_lib *lib[2];          /* this tree's; with --baseline, the baseline's second */
    unsigned nlibs;                   /* 2 with --baseline */
    const char *baseline;             /* --baseline REF, or NULL */
    apr_pool_t *pool;
} bench_cfg;

enum { BENCH_REAP = 1, BENCH_PUT = 2, BENCH_JUDGE = 4, BENCH_RSS = 8, BENCH_REMOVE = 16,
       BENCH_OPEN = 32, BENCH_PROGRESS = 64, BENCH_ADOPT = 128, BENCH_RESERVE = 256 };

/* One contender's timings over the rounds. */
typedef struct bench_series {
    const char *name;
    double runs[BENCH_MAX_ROUNDS];
    double cpu[BENCH_MAX_ROUNDS];   /* user + system seconds, threads and children included */
    unsigned n;
    double median, cpu_median, best; /* best: the fastest round, least disturbed by others */
    int failed;             /* it did not do the whole job: its figure is not comparable */
} bench_series;

/* lib.c: --baseline REF: this tree and REF built as shared libraries and loaded side by side
 * into c->lib; 0, or -1 with a message. */
int bench_baseline(bench_cfg *c, const char *ref);

/* series.c */
double bench_now(void);                       /* monotonic seconds */
double bench_cpu(void);                       /* CPU seconds so far, children waited for too */
void bench_add(bench_series *s, double secs);
void bench_add_cpu(bench_series *s, double secs, double cpu);
void bench_median(bench_series *s);
/* a's median over b's (0 when b has none) */
double bench_ratio(const bench_series *a, const bench_series *b);
/* {"name":..,"median_s":..,"best_s":..,"cpu_median_s":..,"ok":..,"runs_s":[..]} */
void bench_json_series(FILE *out, const bench_series *s);

/* tree.c: root/spill_<old>_<i> for i < dirs, each with `files` files of `bytes` bytes named
 * like chunks and a .lock holding an owner record (an orphan at once: nobody holds the lock).
 * Returns 0, or -1 with a message on stderr. */
int tree_build(const char *root, unsigned dirs, unsigned files, size_t bytes);
/* The name of file f, as the tree names it (64 hex digits, like a chunk). */
void tree_file_name(unsigned f, char out[65]);
void tree_dir_name(unsigned d, char *out, size_t size);
/* Entries left under root (-1 if it cannot be read). */
long tree_count(const char *root);
/* Removes root and everything under it, whatever is left. */
void tree_remove(const char *root);
/* Flushes what building wrote, so each contender starts from the same state on a disk. */
void tree_settle(const char *root);

/* the sections; each prints its part of the table (or JSON) to out */
int bench_reap(const bench_cfg *c, FILE *out);
int bench_put(const bench_cfg *c, FILE *out);
int bench_judge(const bench_cfg *c, FILE *out);
int bench_rss(const bench_cfg *c, FILE *out);
int bench_remove(const bench_cfg *c, FILE *out);
int bench_open(const bench_cfg *c, FILE *out);     /* startup.c */
int bench_progress(const bench_cfg *c, FILE *out); /* startup.c */
int bench_adopt(const bench_cfg *c, FILE *out);
int bench_reserve(const bench_cfg *c, FILE *out);

/* targets.c: the performance targets, collected by the sections and printed at the end. */
void target_add(const char *what, double value, double limit, const char *unit);
void targets_print(const bench_cfg *c, FILE *out);

/* helpers.c: `spill_bench --helper MODE args...` */
int bench_helper(int argc, const char *const *argv);
/* A helper process holding live spills (`--helper hold N ROOT [EXPECTED]`). */
typedef struct bench_holder {
    apr_proc_t proc;
    apr_file_t *in, *out;
} bench_holder;
/* Starts it and waits for its "ready" line (no sleeping): n live spills under root, each opened
 * with expected_bytes (0: the default, no reservation asked for). 0, or -1 with a message. */
int bench_hold(const bench_cfg *c, const char *root, unsigned n, uint64_t expected,
               bench_holder *h);
/* Closes its stdin, its signal to close its spills and exit, and waits for it. */
void bench_unhold(bench_holder *h);
/* Runs `self --helper reap ROOT THREADS` or another program's argv; its peak RSS in KiB. */
long bench_child_rss(const char *const *argv, char *line, size_t size);

#endif
