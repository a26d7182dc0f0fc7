/* background.c: SPILL_REAP_BACKGROUND: one reaping thread per root per process, shared and
 * counted by the handles open on that root; the last close stops it at its next check (rule
 * 10's check) and joins it, never waiting for the rest of the backlog.
 *
 * Rule 14: the list is malloc'd and under SPILL__MU_BACKGROUND, which the one fork handler
 * takes before a fork; a forked child forgets the list (spill__background_fork_child): it
 * neither inherits its parent's reapers nor joins them, and its own opens start their own. */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_portable.h>
#include <apr_thread_proc.h>

#include "spill_int.h"

struct spill__bg {
    struct spill__bg *next;
    int64_t pid;
    uint64_t dev, ino;          /* the root's identity: one reaper per root */
    unsigned refs;              /* handles sharing it (under the mutex) */
    int running;                /* a run's thread exists and is not joined (under the mutex) */
    int done;                   /* that run has finished (under the mutex) */
    int joining;                /* an open is joining a finished run (under the mutex) */
    int self_known;             /* self is set (under the mutex) */
    apr_os_thread_t self;       /* the run's thread, to refuse a close from its own callback */
    volatile apr_uint32_t stop; /* the last close asks the run to stop */
    apr_pool_t *run_pool;       /* unmanaged, one per run: only that run's thread uses it */
    apr_thread_t *thread;
    char *root;
    spill_opts o;               /* of the open that started the run */
};

static spill__bg *reapers;

/* Under the mutex. */
static spill__bg *find(int64_t pid, uint64_t dev, uint64_t ino)
{
    spill__bg *b;
    for (b = reapers; b; b = b->next)
        if (b->pid == pid && b->dev == dev && b->ino == ino)
            return b;
    return NULL;
}

static void *APR_THREAD_FUNC run(apr_thread_t *t, void *arg)
{
    spill__bg *b = arg;
    spill_reap_stats st;
    spill__mutex_lock(SPILL__MU_BACKGROUND);
    b->self = apr_os_thread_current();
    b->self_known = 1;
    spill__mutex_unlock(SPILL__MU_BACKGROUND);
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    if (spill__reap(b->root, &b->o, &st, &b->stop) != SPILL_OK)
        spill__log(&b->o, 1, "background reap of %s failed: %s", b->root,
                   spill_error_last()->message);
    else
        spill__log(&b->o, 2, "background reap of %s: reaped %u orphans (%u errors)%s", b->root,
                   st.reaped, st.errors, st.cancelled || apr_atomic_read32(&b->stop) ? ", stopped" : "");
    spill__mutex_lock(SPILL__MU_BACKGROUND);
    b->done = 1;
    b->self_known = 0;
    spill__mutex_unlock(SPILL__MU_BACKGROUND);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Joins a finished or stopping run and frees what it used. Never under the mutex. */
static void join(spill__bg *b)
{
    apr_status_t rv;
    apr_thread_join(&rv, b->thread);
    apr_pool_destroy(b->run_pool);
    b->run_pool = NULL;
    b->thread = NULL;
}

/* Starts a run of b with o's callbacks and threads, no budget. Under the mutex (a thread
 * creation is the only call made under it; it calls no callback). */
static int start(spill__bg *b, const spill_opts *o)
{
    b->o = *o;
    b->o.reap_budget_ms = 0;
    b->o.expected_bytes = 0;
    b->o.tag = NULL;
    b->done = 0;
    apr_atomic_set32(&b->stop, 0);
    if (spill__pool_new(&b->run_pool) != SPILL_OK)
        return SPILL_ENOMEM;
    if (apr_thread_create(&b->thread, NULL, run, b, b->run_pool) != APR_SUCCESS) {
        apr_pool_destroy(b->run_pool);
        b->run_pool = NULL;
        return spill__error(SPILL_ENOMEM, "apr_thread_create", b->root,
                            "cannot start the background reap");
    }
    b->running = 1;
    return SPILL_OK;
}

static spill__bg *make(int64_t pid, const spill__stat *st, const char *root)
{
    spill__bg *b = calloc(1, sizeof *b);
    if (!b || !(b->root = malloc(strlen(root) + 1))) {
        free(b);
        spill__error(SPILL_ENOMEM, "background reap", root, "out of memory");
        return NULL;
    }
    strcpy(b->root, root);
    b->pid = pid;
    b->dev = st->dev;
    b->ino = st->ino;
    return b;
}

static void discard(spill__bg *b)
{
    if (b) {
        free(b->root);
        free(b);
    }
}

/* Under the mutex: a new reaper for root, put in the list. */
static spill__bg *insert(spill__bg **fresh)
{
    spill__bg *b = *fresh;
    *fresh = NULL;
    b->next = reapers;
    reapers = b;
    return b;
}

static void unlink_reaper(spill__bg *b)
{
    spill__bg **l = &reapers;
    while (*l && *l != b)
        l = &(*l)->next;
    if (*l)
        *l = b->next;
}

void spill__background_attach(spill_t *s, const char *root, const spill_opts *o)
{
    spill__stat st;
    spill__bg *b, *fresh = NULL;
    int64_t pid = spill__getpid();
    int rc = SPILL_OK, rejoin;
    if (spill__sys.stat(s->root_fd, NULL, &st) != SPILL_OK || !(fresh = make(pid, &st, root))) {
        spill__log(o, 1, "spill_open: no background reap of %s: %s", root,
                   spill_error_last()->message);
        return;
    }
    spill__mutex_lock(SPILL__MU_BACKGROUND);
    if (!(b = find(pid, st.dev, st.ino)))
        b = insert(&fresh);
    b->refs++; /* from here b stays in the list: only the last detach takes it out */
    s->bg = b;
    /* a finished run is started again (a new open may bring new orphans); its thread only has
     * to exit, and is joined outside the mutex by the one open that claims it */
    rejoin = b->running && b->done && !b->joining;
    if (rejoin) {
        b->running = 0;
        b->joining = 1;
    } else if (!b->running && !b->joining) {
        rc = start(b, o);
    }
    spill__mutex_unlock(SPILL__MU_BACKGROUND);
    if (rejoin) {
        join(b);
        spill__mutex_lock(SPILL__MU_BACKGROUND);
        b->joining = 0;
        rc = start(b, o);
        spill__mutex_unlock(SPILL__MU_BACKGROUND);
    }
    if (rc != SPILL_OK) /* shared all the same: a later open tries again */
        spill__log(o, 1, "spill_open: no background reap of %s: %s", root,
                   spill_error_last()->message);
    discard(fresh);
}

int spill__background_detach(spill_t *s)
{
    spill__bg *b = s->bg;
    int last, running = 0;
    if (!b)
        return SPILL_OK;
    spill__mutex_lock(SPILL__MU_BACKGROUND);
    if (b->self_known && apr_os_thread_equal(b->self, apr_os_thread_current())) {
        spill__mutex_unlock(SPILL__MU_BACKGROUND);
        return spill__error(SPILL_EINVAL, "spill_close", s->path,
                            "called from the background reap this handle shares: it would "
                            "wait for itself");
    }
    if ((last = --b->refs == 0) != 0) {
        unlink_reaper(b);
        running = b->running;
        b->running = 0;
    }
    spill__mutex_unlock(SPILL__MU_BACKGROUND);
    s->bg = NULL;
    if (!last)
        return SPILL_OK;
    if (running) { /* stops at its next check: inside an orphan too */
        apr_atomic_set32(&b->stop, 1);
        join(b);
    }
    discard(b);
    return SPILL_OK;
}

/* In the fork handler's child, every mutex held, the only thread: the parent's reapers are not
 * ours. Their memory is left as it is (the parent's threads may have been using it). */
void spill__background_fork_child(void)
{
    reapers = NULL;
}
