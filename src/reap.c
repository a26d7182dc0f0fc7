/* reap.c: spill_reap: judges each child of the root and removes the orphans, in the order of
 * SPEC.md rule 6: everything else, then .lock while still locked, then the directory, and
 * only then the lock is released (where an open file cannot vanish, .lock is marked for
 * deletion and closed, releasing its lock, before the directory goes). */
#include <stdio.h>
#include <string.h>

#include <apr_time.h>

#include "judge.h"

typedef struct reap_run {
    spill__judge_ctx c;
    const spill_opts *o;
    spill_reap_stats st;     /* the latest version, copied out for the caller's */
    apr_time_t start;
} reap_run;

/* Removes the orphan judged in v. Counted as reaped only by the remover whose rmdir took the
 * directory: when many reapers race, each orphan is counted exactly once. */
static void remove_orphan(reap_run *r, const char *name, spill__verdict *v)
{
    spill__tree_stats ts;
    spill__stat named;
    int rc, removed_lock = 0;
    memset(&ts, 0, sizeof ts);
    rc = spill__tree_empty(v->dir_fd, v->lock_fd != SPILL__NOFD ? SPILL__LOCK_NAME : NULL, &ts);
    if (rc == SPILL_OK && v->lock_fd != SPILL__NOFD) {
        rc = spill__sys.unlink_held(v->dir_fd, SPILL__LOCK_NAME, &v->lock_fd, 0);
        removed_lock = rc == SPILL_OK;
        if (rc == SPILL_ENOTFOUND)
            rc = SPILL_OK;
        if (spill__platform_unlock_before_rmdir()) {
            spill__sys.unlock(v->lock_fd); /* .lock goes as its handle closes */
            v->lock_fd = SPILL__NOFD;
        }
    }
    /* remove the directory by name only if the name still is the directory we emptied */
    if (rc == SPILL_OK && (rc = spill__sys.stat(r->c.root_fd, name, &named)) == SPILL_OK) {
        if (named.dev != v->dir_st.dev || named.ino != v->dir_st.ino)
            rc = SPILL_ENOTFOUND;
        else
            rc = spill__sys.unlink(r->c.root_fd, name, 1);
    }
    r->st.files_removed += ts.files + (uint64_t)removed_lock;
    r->st.bytes_freed += ts.bytes + (removed_lock ? v->lock_size : 0);
    if (rc == SPILL_OK) {
        r->st.reaped++;
        spill__log(r->o, 2, "reaped %s" SPILL__PATH_SEP "%s", r->c.root, name);
    } else if (rc != SPILL_ENOTFOUND) {
        char where[4096];
        /* the walker names an entry relative to its own directory: say which spill */
        snprintf(where, sizeof where, "%s" SPILL__PATH_SEP "%s", r->c.root, name);
        spill__error_in(rc, where);
        r->st.errors++;
        spill__log(r->o, 0, "cannot remove %s" SPILL__PATH_SEP "%s: %s", r->c.root, name,
                   spill_error_last()->message);
    }
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
    spill__verdict_release(&v);
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

static void copy_stats(const spill_reap_stats *from, spill_reap_stats *to)
{
    unsigned version = to->version;
    *to = *from; /* version 1 is the only one: every field */
    to->version = version;
}

/* The reap behind spill_reap and spill_open. */
int spill__reap(const char *root, const spill_opts *o, spill_reap_stats *out)
{
    reap_run r;
    int rc;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.start = apr_time_now();
    rc = spill__judge_begin(&r.c, root, o, 1);
    if (rc == SPILL_ENOTFOUND) {
        rc = SPILL_OK; /* a missing root holds no orphans */
    } else if (rc == SPILL_OK) {
        rc = walk_root(&r);
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
    if (stats && stats->version > SPILL_REAP_STATS_VERSION)
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
