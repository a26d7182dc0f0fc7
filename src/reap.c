/* reap.c: spill_reap: reads the root's listing once, judges each child on the calling thread,
 * and removes the orphans: there too with one thread (the default), else through a pool of
 * workers (reap_pool.c). Logging and counting stay on the calling thread. */
#include <stddef.h>
#include <string.h>

#include <apr_time.h>

#include "reap.h"

typedef struct reap_run {
    spill__judge_ctx c;
    const spill_opts *o;
    spill_reap_stats st;     /* the latest version, copied out for the caller's */
    apr_time_t start;
    unsigned workers;        /* 1: no pool; more: the pool, started at the first orphan */
    spill__reap_pool *pool;
} reap_run;

/* Counts and logs one removal, on the calling thread. */
static void removed(void *ctx, const char *name, const spill__removal *rm)
{
    reap_run *r = ctx;
    r->st.files_removed += rm->files;
    r->st.bytes_freed += rm->bytes;
    if (rm->rc == SPILL_OK) {
        r->st.reaped++;
        spill__log(r->o, 2, "reaped %s" SPILL__PATH_SEP "%s", r->c.root, name);
    } else if (rm->rc != SPILL_ENOTFOUND) {
        r->st.errors++;
        spill__log(r->o, 0, "cannot remove %s" SPILL__PATH_SEP "%s: %s", r->c.root, name,
                   spill_error_last()->message);
    }
}

/* A dry run counts what the removal would take (.lock included, as a removal counts it) and
 * removes nothing; the verdict's lock is released with the verdict, as after a removal. */
static void count_orphan(reap_run *r, const char *name, spill__verdict *v)
{
    spill__tree_stats ts;
    memset(&ts, 0, sizeof ts);
    spill__tree_measure(v->dir_fd, &ts);
    r->st.reaped++;
    r->st.files_removed += ts.files;
    r->st.bytes_freed += ts.bytes;
    spill__log(r->o, 2, "would reap %s" SPILL__PATH_SEP "%s", r->c.root, name);
}

/* Hands the orphan to the pool, starting it at the first orphan so that a root of live spills
 * costs no thread; removes it here when there is no pool. */
static void remove_orphan(reap_run *r, const char *name, spill__verdict *v)
{
    spill__removal rm;
    if (r->o->dry_run) {
        count_orphan(r, name, v);
        return;
    }
    if (r->workers > 1 && !r->pool &&
        spill__pool_start(&r->pool, &r->c, r->workers, removed, r) != SPILL_OK) {
        spill__log(r->o, 1, "reaping %s on this thread alone: %s", r->c.root,
                   spill_error_last()->message);
        r->workers = 1;
    }
    if (r->pool) {
        spill__pool_submit(r->pool, name, v);
        return;
    }
    spill__remove_orphan(&r->c, name, v, &rm);
    removed(r, name, &rm);
}

static void one_entry(reap_run *r, const char *name)
{
    spill__verdict v;
    spill__judge(&r->c, name, &v);
    switch (v.state) {
    case SPILL_LIVE: r->st.live++; break;
    case SPILL_YOUNG: r->st.young++; break;
    case SPILL_UNSAFE:
        r->st.unsafe++;
        spill__log(r->o, 2, "left %s" SPILL__PATH_SEP "%s: %s", r->c.root, name, v.reason);
        break;
    case SPILL__ERROR:
        r->st.errors++;
        spill__log(r->o, 0, "cannot judge %s" SPILL__PATH_SEP "%s: %s", r->c.root, name,
                   v.reason);
        break;
    case SPILL_ORPHAN: remove_orphan(r, name, &v); break;
    default: break; /* gone: another reaper was first */
    }
    spill__verdict_release(&v); /* the lock after the removal; nothing if the pool took it */
}

static int over_budget(reap_run *r)
{
    apr_time_t spent = apr_time_now() - r->start;
    if (!r->o->reap_budget_ms || apr_time_as_msec(spent) < (apr_time_t)r->o->reap_budget_ms)
        return 0;
    r->st.budget_exhausted = 1;
    return 1;
}

/* Reads the root's listing once and judges each child the reaper looks at (rule 1). */
static int walk_root(reap_run *r)
{
    spill__dir *d;
    const char *name;
    int rc = spill__sys.dir_open(r->c.root_fd, &d);
    if (rc != SPILL_OK)
        return spill__error_in(rc, r->c.root);
    while ((rc = spill__sys.dir_next(d, &name)) == SPILL_OK && name) {
        char copy[256];
        if (!spill__judge_wants(name) || strlen(name) >= sizeof copy)
            continue;
        /* checked between entries: however slow the start, each reap takes one entry, so a
         * tight budget on a slow host slows reaping down but never stops it for good */
        if (r->st.scanned && over_budget(r))
            break;
        strcpy(copy, name); /* judging may read other directories */
        r->st.scanned++;
        one_entry(r, copy);
    }
    spill__sys.dir_close(d);
    if (rc != SPILL_OK)
        r->st.errors++;
    return SPILL_OK;
}

/* The bytes of spill_reap_stats each version has: version 1 ends with budget_exhausted. */
static size_t stats_size(unsigned version)
{
    switch (version) {
    case 0:
    case 1: return offsetof(spill_reap_stats, budget_exhausted) + sizeof(int);
    case 2: return sizeof(spill_reap_stats);
    default: return 0;
    }
}

/* Fills only the fields of the caller's version: an older caller's struct is smaller. */
static void copy_stats(const spill_reap_stats *from, spill_reap_stats *to)
{
    size_t n = stats_size(to->version), skip = offsetof(spill_reap_stats, scanned);
    memcpy((char *)to + skip, (const char *)from + skip, n - skip);
}

/* The reap behind spill_reap and spill_open. */
int spill__reap(const char *root, const spill_opts *o, spill_reap_stats *out)
{
    reap_run r;
    int rc;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.start = apr_time_now();
    r.workers = o->threads ? o->threads : spill__ncpu();
    rc = spill__judge_begin(&r.c, root, o, 1);
    if (rc == SPILL_ENOTFOUND) {
        rc = SPILL_OK; /* a missing root holds no orphans */
    } else if (rc == SPILL_OK) {
        rc = walk_root(&r);
        if (r.pool) /* in-flight removals finish, even past the budget */
            spill__pool_finish(r.pool);
        spill__judge_end(&r.c);
    } else {
        spill__error_in(rc, "");
    }
    r.st.elapsed_ms = (uint32_t)apr_time_as_msec(apr_time_now() - r.start);
    if (out)
        copy_stats(&r.st, out);
    return rc;
}

static int check_stats(spill_reap_stats *stats)
{
    if (stats && !stats_size(stats->version))
        return spill__error(SPILL_EINVAL, "spill_reap", "",
                            "spill_reap_stats version %u is not known to this library",
                            stats->version);
    return SPILL_OK;
}

int spill_reap(const char *root, const spill_opts *opts, spill_reap_stats *stats)
{
    spill_opts o;
    int rc;
    if (!root || !*root)
        return spill__error(SPILL_EINVAL, "spill_reap", "", "root must be given");
    if ((rc = check_stats(stats)) != SPILL_OK || (rc = spill__init()) != SPILL_OK ||
        (rc = spill__opts_check(opts, &o)) != SPILL_OK)
        return rc;
    return spill__reap(root, &o, stats);
}

void spill__reap_on_open(const char *root, const spill_opts *opts)
{
    spill_reap_stats st;
    memset(&st, 0, sizeof st);
    if (spill__reap(root, opts, &st) != SPILL_OK)
        spill__log(opts, 1, "spill_open: reaping %s failed: %s", root,
                   spill_error_last()->message);
    else if (st.reaped || st.errors)
        spill__log(opts, 2, "spill_open: reaped %u orphans under %s (%u errors)", st.reaped,
                   root, st.errors);
}
