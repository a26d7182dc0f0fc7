/* reap.c: spill_reap: reads the root's listing once, judges each child on the calling thread,
 * and removes the orphans: there too with one thread (the default), else through a pool of
 * workers (reap_pool.c). Logging and counting stay on the calling thread. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>

#include "reap.h"

typedef struct reap_run {
    spill__judge_ctx c;
    const spill_opts *o;
    spill_reap_stats st;     /* the latest version, copied out for the caller's */
    int64_t start_us;        /* spill__monotonic_us() at the start */
    unsigned workers;        /* 1: no pool; more: the pool, started at the first orphan */
    unsigned orphans;        /* handed to removal so far: the first always makes progress */
    spill__reap_pool *pool;
    volatile apr_uint32_t stopping; /* the progress callback asked to stop (any thread reads) */
    volatile apr_uint32_t *ext_stop; /* a stop asked from outside (a background reap's close) */
    int64_t next_progress_us;        /* the progress callback's next call, at the earliest */
    char again[16][256];     /* orphans a lone worker could not finish for want of descriptors */
    unsigned nagain;         /* (by their trash names): this thread retries them at the end */
} reap_run;

/* Any thread: 1 once a stop was asked for (rule 10's check serves it too). */
static int stopping(reap_run *r)
{
    return apr_atomic_read32(&r->stopping) || (r->ext_stop && apr_atomic_read32(r->ext_stop));
}

/* The reaping thread only: calls the progress callback with the counts so far, those of an
 * orphan being removed on this thread included; a non-zero return stops the reap. */
static void call_progress(reap_run *r, const spill__tree_stats *partial, int64_t now)
{
    spill_reap_stats so_far = r->st;
    so_far.version = SPILL_REAP_STATS_VERSION;
    if (partial) {
        so_far.files_removed += partial->files;
        so_far.bytes_freed += partial->bytes;
    }
    /* the instant the call was decided: callers see the pace the library keeps */
    so_far.elapsed_ms = (uint32_t)((now - r->start_us) / 1000);
    if (r->o->progress(r->o->progress_ctx, &so_far)) {
        r->st.cancelled = 1;
        apr_atomic_set32(&r->stopping, 1);
    }
}

/* The reaping thread's check, between entries and at every entry of an orphan it removes
 * itself: the progress callback when due, then whether to stop. */
static int check(reap_run *r, const spill__tree_stats *partial)
{
    int64_t now;
    if (r->o->progress && !stopping(r) && (now = spill__monotonic_us()) >= r->next_progress_us) {
        r->next_progress_us = now + (int64_t)r->o->progress_ms * 1000;
        call_progress(r, partial, now);
    }
    return stopping(r);
}

/* The walker's check inside an orphan removed on the reaping thread. */
static int check_here(void *ctx, const spill__tree_stats *so_far)
{
    return check(ctx, so_far);
}

/* The walker's check on a worker: only the flags, never a callback. */
static int check_worker(void *ctx, const spill__tree_stats *so_far)
{
    (void)so_far;
    return stopping(ctx);
}

/* Counts and logs one removal, on the calling thread. */
static void removed(void *ctx, const char *name, const spill__removal *rm)
{
    reap_run *r = ctx;
    r->st.files_removed += rm->files;
    r->st.bytes_freed += rm->bytes;
    if (rm->cut) {
        if (!stopping(r)) /* else a stop asked for cut it, not the budget */
            r->st.budget_exhausted = 1;
        if (rm->cut == SPILL__DOOMED_CUT) {
            r->st.cut_short++; /* rule 10: started and not finished */
            spill__log(r->o, 2, "%s" SPILL__PATH_SEP "%s: cut short by the budget; the next "
                       "reap finishes it", r->c.root, name);
        } else {
            /* judged, but the budget ran out before its first entry: not reached, so not
             * counted (rule 10), whichever thread found the deadline passed */
            r->st.scanned--;
        }
        check(r, NULL);
        return;
    } else if (rm->rc != SPILL_OK && rm->rc != SPILL_ENOTFOUND && r->pool &&
               spill__out_of_descriptors(rm->os_error) && r->nagain < 16) {
        strcpy(r->again[r->nagain++], rm->at); /* not counted yet: see retry_alone */
    } else if (rm->rc == SPILL_OK) {
        r->st.reaped++;
        spill__log(r->o, 2, "reaped %s" SPILL__PATH_SEP "%s", r->c.root, name);
    } else if (rm->rc != SPILL_ENOTFOUND) {
        r->st.errors++;
        spill__log(r->o, 0, "cannot remove %s" SPILL__PATH_SEP "%s: %s", r->c.root, name,
                   spill_error_last()->message);
    }
    check(r, NULL); /* the progress callback, also while the pool keeps this thread waiting */
}

/* A dry run counts what the removal would take (.lock included, as a removal counts it) and
 * removes nothing. It measures after letting its locks go: an orphan it only looks at is
 * never held, by the whole walk of a big one, from an adopter (which would take a held lock
 * for its owner's, or wait). */
static void count_orphan(reap_run *r, const char *name, spill__verdict *v)
{
    spill__tree_stats ts;
    memset(&ts, 0, sizeof ts);
    spill__verdict_dir_unlock(v);
    if (v->lock_fd != SPILL__NOFD)
        spill__sys.unlock(v->lock_fd);
    v->lock_fd = SPILL__NOFD;
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
    int progress;
    if (r->o->dry_run) {
        count_orphan(r, name, v);
        return;
    }
    progress = r->orphans++ == 0;
    if (r->workers > 1 && !r->pool &&
        spill__pool_start(&r->pool, &r->c, r->workers, removed, r) != SPILL_OK) {
        spill__log(r->o, 1, "reaping %s on this thread alone: %s", r->c.root,
                   spill_error_last()->message);
        r->workers = 1;
    }
    if (r->pool) {
        spill__pool_submit(r->pool, name, v, progress);
        return;
    }
    /* no pool, so no other thread reads c: the walker may call the progress callback here */
    memset(&rm, 0, sizeof rm);
    r->c.stop = check_here;
    spill__remove_orphan(&r->c, name, v, progress, &rm);
    r->c.stop = check_worker;
    removed(r, name, &rm);
}

static void one_entry(reap_run *r, const char *name)
{
    spill__verdict v;
    spill__judge(&r->c, name, &v);
    /* out of descriptors while the workers hold some: the pool holds fewer, and the entry is
     * judged again once one of theirs is released, instead of counting an error */
    while (v.state == SPILL__ERROR && spill__out_of_descriptors(v.os_error) && r->pool &&
           spill__pool_shrink(r->pool)) {
        spill__verdict_release(&v);
        spill__judge(&r->c, name, &v);
    }
    switch (v.state) {
    case SPILL_LIVE: r->st.live++; break;
    case SPILL_YOUNG: r->st.young++; break;
    case SPILL_RESUMABLE: r->st.resumable++; break;
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

/* Once the workers are gone with their descriptors, this thread judges again and removes the
 * orphans a worker gave back for want of descriptors (with a lock taken and freed, and a trash
 * name, they are orphans at once: rule 1). */
static void retry_alone(reap_run *r)
{
    unsigned i;
    r->pool = NULL;
    r->workers = 1;
    for (i = 0; i < r->nagain; i++)
        one_entry(r, r->again[i]);
}

/* Rule 10: a monotonic clock, never the wall clock. */
static int over_budget(reap_run *r)
{
    if (!r->c.deadline_us || spill__monotonic_us() < r->c.deadline_us)
        return 0;
    r->st.budget_exhausted = 1;
    return 1;
}

/* One child of the root, unless the budget is spent: however slow the start, each reap takes
 * one entry, so a tight budget on a slow host slows reaping down but never stops it for good.
 * Returns 0 to stop. */
static int visit(reap_run *r, const char *name)
{
    char copy[256];
    if (!spill__judge_wants(name) || strlen(name) >= sizeof copy)
        return 1;
    if (check(r, NULL) || (r->st.scanned && over_budget(r)))
        return 0;
    strcpy(copy, name); /* judging may read other directories */
    r->st.scanned++;
    one_entry(r, copy);
    return 1;
}

/* The names of the root's listing the reaper looks at, for a reap with workers. */
typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

static int collect(spill__dir *d, name_list *l)
{
    const char *name;
    int rc;
    while ((rc = spill__sys.list_next(d, &name)) == SPILL_OK && name) {
        char *copy;
        if (!spill__judge_wants(name))
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            char **p = realloc(l->names, cap * sizeof *p);
            if (!p)
                return spill__error(SPILL_ENOMEM, "reap", "", "out of memory");
            l->names = p;
            l->cap = cap;
        }
        if (!(copy = malloc(strlen(name) + 1)))
            return spill__error(SPILL_ENOMEM, "reap", "", "out of memory");
        strcpy(copy, name);
        l->names[l->n++] = copy;
    }
    return rc;
}

/* The listing read whole, then judged (a reap with workers and no budget: see walk_root). */
static int walk_listed(reap_run *r, spill__dir *d)
{
    name_list l;
    size_t i;
    int rc;
    memset(&l, 0, sizeof l);
    rc = collect(d, &l);
    for (i = 0; i < l.n && visit(r, l.names[i]); i++)
        ;
    for (i = 0; i < l.n; i++)
        free(l.names[i]);
    free(l.names);
    return rc;
}

/* Rule 10, a budgeted reap: the listing is read as a stream from where the last budgeted reap
 * of the root stopped (position.c), around to it once, judging until the budget is spent, and
 * where this one stops is kept for the next. A front of entries that fail, or take the whole
 * budget, every time cannot starve those behind them, across the processes of a restart loop
 * too; reading counts against the budget like judging, and memory does not grow with the root
 * (a million planted entries cost each reap its budget, no more). */
static int walk_slices(reap_run *r, spill__dir *d)
{
    uint64_t start = spill__position_load(r->c.root_fd), at = 0;
    int wrapped = start == 0, stopped = 0, rc = SPILL_OK;
    unsigned read = 0;
    const char *name;
    if (start)
        spill__sys.list_seek(d, start);
    for (;;) {
        at = spill__sys.list_seek(d, SPILL__LIST_HERE);
        if (wrapped && start && at >= start)
            break; /* around once: everything was judged */
        rc = spill__sys.list_next(d, &name);
        if (!wrapped && (rc != SPILL_OK || !name)) { /* the end, or a stale position */
            spill__sys.list_seek(d, 0);
            wrapped = 1;
            continue;
        }
        if (rc != SPILL_OK || !name)
            break;
        /* names the reaper ignores cost time too: the budget is checked among them */
        if ((++read % 64 == 0 && r->st.scanned && over_budget(r)) || !visit(r, name)) {
            stopped = 1;
            break;
        }
    }
    if (stopped || start)
        spill__position_save(r->c.root_fd, stopped ? at : 0);
    return rc;
}

/* Reads the root's listing once and judges each child the reaper looks at (rule 1). */
static int walk_root(reap_run *r)
{
    spill__dir *d;
    const char *name;
    int rc = spill__sys.list_open(r->c.root_fd, &d);
    if (rc != SPILL_OK)
        return spill__error_in(rc, r->c.root);
    /* The trap of a listing read while workers remove: an orphan is renamed to a trash name
     * in the root (remove.c, step 1; with a pool, before it is queued), and readdir may or
     * may not return a name made after the listing was opened. Returned, it is judged again:
     * live while the worker holds its lock, or a second removal. How much of a listing one
     * readdir call fetches is libc's: glibc's 32 KiB hid it below some 600 entries, musl's
     * 2 KiB showed it at 200. With a pool the names are read whole first; one thread removes
     * each orphan before it reads on.
     * A budgeted reap reads a stream all the same (rule 10: its memory must not grow with the
     * root): a worker's trash name may come up, judged live while the worker holds its lock. */
    if (r->c.deadline_us)
        rc = walk_slices(r, d);
    else if (r->workers > 1)
        rc = walk_listed(r, d);
    else
        while ((rc = spill__sys.list_next(d, &name)) == SPILL_OK && name && visit(r, name))
            ;
    spill__sys.list_close(d);
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

/* The reap behind spill_reap and spill_open; *stop (may be NULL) set from another thread stops
 * it at its next check. */
int spill__reap(const char *root, const spill_opts *o, spill_reap_stats *out,
                volatile apr_uint32_t *stop)
{
    reap_run r;
    int rc;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.ext_stop = stop;
    r.start_us = spill__monotonic_us();
    r.next_progress_us = r.start_us + (int64_t)o->progress_ms * 1000;
    r.workers = o->threads ? o->threads : spill__ncpu();
    rc = spill__judge_begin(&r.c, root, o, 1);
    r.c.live_fast = 1;
    r.c.stop = check_worker;
    r.c.stop_ctx = &r;
    if (o->reap_budget_ms)
        r.c.deadline_us = r.start_us + (int64_t)o->reap_budget_ms * 1000;
    if (rc == SPILL_ENOTFOUND) {
        rc = SPILL_OK; /* a missing root holds no orphans */
    } else if (rc == SPILL_OK) {
        rc = walk_root(&r);
        if (r.pool) { /* the workers stop at the same deadline, inside an orphan too */
            spill__pool_finish(r.pool);
            retry_alone(&r);
        }
        spill__judge_end(&r.c);
    } else {
        spill__error_in(rc, "");
    }
    r.st.elapsed_ms = (uint32_t)((spill__monotonic_us() - r.start_us) / 1000);
    if (o->progress) { /* the last call: the final stats, whatever it returns */
        spill_reap_stats last = r.st;
        last.version = SPILL_REAP_STATS_VERSION;
        o->progress(o->progress_ctx, &last);
    }
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
    return spill__reap(root, &o, stats, NULL);
}

void spill__reap_on_open(const char *root, const spill_opts *opts)
{
    spill_reap_stats st;
    memset(&st, 0, sizeof st);
    if (spill__reap(root, opts, &st, NULL) != SPILL_OK)
        spill__log(opts, 1, "spill_open: reaping %s failed: %s", root,
                   spill_error_last()->message);
    else if (st.reaped || st.errors)
        spill__log(opts, 2, "spill_open: reaped %u orphans under %s (%u errors)", st.reaped,
                   root, st.errors);
}
