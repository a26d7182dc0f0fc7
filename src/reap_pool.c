/* reap_pool.c: removing judged orphans: one (spill__remove_orphan, on the reaping thread or a
 * worker), or several at once by worker threads fed by the reaping thread through a small fixed
 * ring of slots; each finished slot goes back to that thread, which logs and counts it, so the
 * caller's log callback never runs on a worker. */
#include <stdio.h>
#include <string.h>

#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "reap.h"

/* The orphan root/name judged in v, as remove.c takes it. */
static void doomed_of(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                      int progress, spill__doomed *d)
{
    memset(d, 0, sizeof *d);
    d->root = c->root;
    d->root_fd = c->root_fd;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->dir_fd = &v->dir_fd;
    d->lock_fd = &v->lock_fd;
    d->dev = v->dir_st.dev;
    d->ino = v->dir_st.ino;
    d->lock_ours = v->lock_fd != SPILL__NOFD; /* the probe checked it is this .lock */
    d->deadline_us = c->deadline_us;
    d->progress = progress;
    d->stop = c->stop;
    d->stop_ctx = c->stop_ctx;
}

/* One orphan, removed while holding its lock (if it had one) through the one function that
 * decides rule 6's order (remove.c), counting what went. */
void spill__remove_orphan(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                          int progress, spill__removal *out)
{
    spill__doomed d;
    int rc;
    doomed_of(c, name, v, progress, &d);
    /* only the remover whose rmdir took the directory counts it as reaped, so racing reapers
     * count it once */
    rc = spill__remove_dir(&d);
    out->rc = rc;
    out->os_error = rc != SPILL_OK && rc != SPILL_ENOTFOUND ? spill_error_last()->os_error : 0;
    out->cut = d.cut;
    out->files += d.ts.files + (uint64_t)d.lock_removed;
    out->bytes += d.ts.bytes + (d.lock_removed ? v->lock_size : 0);
    snprintf(out->at, sizeof out->at, "%s", d.name);
}

#define MAX_WORKERS 64
#define SLOTS_PER_WORKER 2 /* one being removed, one waiting: workers never idle on judging */

enum { FREE, QUEUED, RUNNING, DONE, REPORTING };

typedef struct slot {
    int state;
    uint64_t seq;               /* submission order: workers take the oldest queued */
    int progress;               /* the reap's first orphan: started whatever the budget */
    char name[256];             /* as judged, for the log */
    char at[256];               /* its name now: its trash name once renamed */
    int renamed;                /* renamed before it was queued: started, whatever the budget */
    spill__verdict v;           /* owns the orphan's descriptors and lock until removed */
    spill__removal rm;
    spill__error_copy err;      /* the worker's last error when rm.rc is an error */
} slot;

struct spill__reap_pool {
    apr_pool_t *pool;
    apr_thread_mutex_t *mu;
    apr_thread_cond_t *work;    /* a slot was queued, or the pool is stopping */
    apr_thread_cond_t *done;    /* a slot was finished */
    const spill__judge_ctx *c;
    spill__reap_done report;
    void *ctx;
    int stopping;
    uint64_t next_seq;
    unsigned nthreads, nslots;
    unsigned limit;             /* slots in use at most: lowered when descriptors run out */
    unsigned waiting;           /* workers waiting for a sibling's descriptors */
    uint64_t finished;          /* slots finished so far: what such a worker waits for */
    apr_thread_t *threads[MAX_WORKERS];
    slot *slots;
};

static unsigned count(spill__reap_pool *p, int state)
{
    unsigned i, n = 0;
    for (i = 0; i < p->nslots; i++)
        n += p->slots[i].state == state;
    return n;
}

static slot *find(spill__reap_pool *p, int state)
{
    unsigned i;
    for (i = 0; i < p->nslots; i++)
        if (p->slots[i].state == state)
            return &p->slots[i];
    return NULL;
}

/* Slots in use: each holds an orphan's descriptors until it is reported. */
static unsigned in_use(spill__reap_pool *p)
{
    return p->nslots - count(p, FREE);
}

static slot *oldest_queued(spill__reap_pool *p)
{
    slot *best = NULL;
    unsigned i;
    for (i = 0; i < p->nslots; i++)
        if (p->slots[i].state == QUEUED && (!best || p->slots[i].seq < best->seq))
            best = &p->slots[i];
    return best;
}

/* On a worker whose removal ran out of descriptors: lets the pool hold fewer orphans and waits
 * until a sibling finishes one (releasing its descriptors). 0, without waiting, when no other
 * worker is at work (all others waiting too): the error stands. */
static int wait_for_sibling(spill__reap_pool *p)
{
    uint64_t seen;
    int ok;
    apr_thread_mutex_lock(p->mu);
    ok = count(p, RUNNING) > 1 + p->waiting;
    if (ok) {
        seen = p->finished;
        if (p->limit > 1)
            p->limit--;
        p->waiting++;
        apr_thread_cond_broadcast(p->done); /* a waiter may now be the last one at work */
        while (p->finished == seen && count(p, RUNNING) > p->waiting)
            apr_thread_cond_wait(p->done, p->mu);
        p->waiting--;
    }
    apr_thread_mutex_unlock(p->mu);
    return ok;
}

/* On a worker, without the mutex: the slot is RUNNING, so nobody else touches it. The lock is
 * released only after the directory is gone (rule 6). */
static void remove_slot(spill__reap_pool *p, slot *s)
{
    memset(&s->rm, 0, sizeof s->rm);
    spill__remove_orphan(p->c, s->at, &s->v, s->progress, &s->rm);
    while (spill__out_of_descriptors(s->rm.os_error) && wait_for_sibling(p))
        spill__remove_orphan(p->c, s->rm.at, &s->v, s->progress, &s->rm);
    if (s->renamed && s->rm.cut == SPILL__DOOMED_UNTOUCHED)
        s->rm.cut = SPILL__DOOMED_CUT; /* rule 10: a trash name is a start */
    if (s->rm.rc != SPILL_OK && s->rm.rc != SPILL_ENOTFOUND)
        spill__error_copy_out(&s->err);
    spill__verdict_release(&s->v);
}

/* Returns plainly rather than through apr_thread_exit, which would destroy the thread's pool on
 * this thread, a child of the reap's pool whose allocator has no mutex (rule 14: no allocator
 * shared with APR's global pool); the reaping thread frees it with the reap's pool. */
static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *arg)
{
    spill__reap_pool *p = arg;
    slot *s;
    apr_thread_mutex_lock(p->mu);
    for (;;) {
        if (!(s = oldest_queued(p))) {
            if (p->stopping)
                break; /* queued slots are drained before a worker stops */
            apr_thread_cond_wait(p->work, p->mu);
            continue;
        }
        s->state = RUNNING;
        apr_thread_mutex_unlock(p->mu);
        remove_slot(p, s);
        apr_thread_mutex_lock(p->mu);
        s->state = DONE;
        p->finished++;
        apr_thread_cond_broadcast(p->done); /* the reaping thread, and workers waiting */
    }
    apr_thread_mutex_unlock(p->mu);
    (void)t;
    return NULL;
}

/* Called with the mutex held; reports every finished slot with the mutex released, as the
 * report calls the user's log callback, and frees them. */
static void report_done(spill__reap_pool *p)
{
    slot *s;
    while ((s = find(p, DONE)) != NULL) {
        s->state = REPORTING; /* only this thread moves a slot out of DONE */
        apr_thread_mutex_unlock(p->mu);
        if (s->rm.rc != SPILL_OK && s->rm.rc != SPILL_ENOTFOUND)
            spill__error_copy_in(&s->err);
        p->report(p->ctx, s->name, &s->rm);
        apr_thread_mutex_lock(p->mu);
        s->state = FREE;
    }
}

static int make_sync(spill__reap_pool *p)
{
    return apr_thread_mutex_create(&p->mu, APR_THREAD_MUTEX_DEFAULT, p->pool) == APR_SUCCESS &&
           apr_thread_cond_create(&p->work, p->pool) == APR_SUCCESS &&
           apr_thread_cond_create(&p->done, p->pool) == APR_SUCCESS;
}

int spill__pool_start(spill__reap_pool **out, const spill__judge_ctx *c, unsigned workers,
                      spill__reap_done done, void *ctx)
{
    apr_pool_t *pool;
    spill__reap_pool *p;
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    /* the reap's own pool (rule 14), used only by the reaping thread: workers allocate nothing.
     * Its mutex and conditions are only ever taken by this reap's threads, none of which goes
     * on in a forked child, so a fork cannot strand them in a child that uses them. */
    if (spill__pool_new(&pool) != SPILL_OK)
        return SPILL_ENOMEM;
    p = apr_pcalloc(pool, sizeof *p);
    p->pool = pool;
    p->c = c;
    p->report = done;
    p->ctx = ctx;
    p->nslots = p->limit = workers * SLOTS_PER_WORKER;
    p->slots = apr_pcalloc(pool, p->nslots * sizeof *p->slots);
    if (make_sync(p))
        while (p->nthreads < workers &&
               apr_thread_create(&p->threads[p->nthreads], NULL, worker, p, pool) == APR_SUCCESS)
            p->nthreads++;
    if (p->nthreads == 0) {
        apr_pool_destroy(pool);
        return spill__error(SPILL_ENOMEM, "apr_thread_create", "", "cannot start a worker");
    }
    *out = p;
    return SPILL_OK;
}

/* On the reaping thread, before the orphan is queued (or waits for room in the queue): its
 * spill_ name (and tag) goes at once, not when a worker comes to it, so that an adopter never
 * waits on a reaper's queue. Not once the budget is spent: a worker will find it untouched
 * (rule 10). `at` becomes its name now; returns 1 if renamed. */
static int to_trash_now(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                        int progress, char at[256])
{
    spill__doomed d;
    snprintf(at, 256, "%s", name);
    if (c->deadline_us && !progress && spill__monotonic_us() >= c->deadline_us)
        return 0;
    doomed_of(c, name, v, progress, &d);
    spill__to_trash(&d);
    strcpy(at, d.name);
    return strcmp(d.name, name) != 0;
}

void spill__pool_submit(spill__reap_pool *p, const char *name, spill__verdict *v, int progress)
{
    slot *s;
    char at[256];
    int renamed = to_trash_now(p->c, name, v, progress, at);
    apr_thread_mutex_lock(p->mu);
    for (;;) {
        report_done(p);
        if (in_use(p) < p->limit && (s = find(p, FREE)) != NULL)
            break;
        apr_thread_cond_wait(p->done, p->mu);
    }
    apr_thread_mutex_unlock(p->mu);
    /* a FREE slot is only touched by this thread: fill it without the mutex */
    strcpy(s->name, name); /* names the reaper looks at are shorter: see walk_root */
    s->v = *v;
    s->progress = progress;
    v->dir_fd = v->lock_fd = SPILL__NOFD;
    strcpy(s->at, at);
    s->renamed = renamed;
    apr_thread_mutex_lock(p->mu);
    s->state = QUEUED;
    s->seq = p->next_seq++;
    apr_thread_cond_signal(p->work);
    apr_thread_mutex_unlock(p->mu);
}

int spill__pool_shrink(spill__reap_pool *p)
{
    unsigned before;
    apr_thread_mutex_lock(p->mu);
    report_done(p);
    if ((before = in_use(p)) != 0) {
        p->limit = before > 1 ? before - 1 : 1;
        while (in_use(p) >= before) {
            apr_thread_cond_wait(p->done, p->mu);
            report_done(p);
        }
    }
    apr_thread_mutex_unlock(p->mu);
    return before != 0;
}

void spill__pool_finish(spill__reap_pool *p)
{
    apr_status_t rv;
    unsigned i;
    apr_thread_mutex_lock(p->mu);
    p->stopping = 1;
    apr_thread_cond_broadcast(p->work);
    apr_thread_mutex_unlock(p->mu);
    for (i = 0; i < p->nthreads; i++)
        apr_thread_join(&rv, p->threads[i]);
    apr_thread_mutex_lock(p->mu);
    report_done(p);
    apr_thread_mutex_unlock(p->mu);
    apr_pool_destroy(p->pool);
}
