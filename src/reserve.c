/* reserve.c: reservations shared by the processes of one user on a root (0.3). Every spill of
 * this library holds a lease, the bytes it may hold, kept in its own directory (.spill-lease,
 * rewritten under the spill's lock once per lease, never per put), so that a dead owner's lease
 * goes with its orphan and nothing is left to repair. A decision (an open's first lease, a put's
 * larger one) is taken one at a time per user, under a short lock on a file in the user's own
 * directory of the root, after looking at the root as the reaper does: the others' leases less
 * what they had written when they took them must fit in the free space beside this one, and
 * every lease (or, for a spill with none, its bytes on disk) must fit in root_limit_bytes.
 * docs/design.md, "Reservations", says why a dead owner's lease can never leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_time.h>

#include "reap.h"

#define LEASE_MIN ((uint64_t)64 << 20) /* a put's new lease: at least this much more */
/* A lease counts what the spill holds on disk: its chunks and its own files beside them (the
 * record, the lease, the directory: OVERHEAD; a journal entry per chunk: PER_CHUNK). */
#define OVERHEAD 8192
#define PER_CHUNK 64
#define DECIDE_WAIT_US 1000000          /* the per-user lock is tried for about a second */
#define RESERVE_DIR ".spill-reserve-"   /* + uid: the user's own directory holding the lock */
#define RESERVE_LOCK "lock"

/* What the others on the root hold, as one decision sees it. */
typedef struct tally {
    uint64_t outstanding; /* leased and not yet written when leased: free space they may take */
    uint64_t held;        /* their leases, or the bytes on disk of a spill with none */
    unsigned spills;
    int partial;          /* rule 10: the budget ran out before the whole root was seen */
} tally;

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* ---- The lease file ---- */

static int lease_parse(const char *buf, spill__lease *l)
{
    unsigned long long lease, written, limit;
    if (sscanf(buf, "spill-lease 1 lease=%llu written=%llu limit=%llu", &lease, &written,
               &limit) != 3)
        return 0;
    l->lease = lease;
    l->written = written;
    l->limit = limit;
    return 1;
}

/* The lease file `name` under at: a spill's directory, or the root with "<spill>/.spill-lease". */
static int lease_read_at(spill__fd at, const char *name, spill__lease *l)
{
    char buf[128];
    size_t got = 0;
    spill__fd fd;
    /* rule 7's care: examined as a regular file with one link before it is opened */
    int rc = spill__sys.lock_probe(at, name, SPILL__PROBE_READ, &fd);
    if (rc != SPILL_OK)
        return rc;
    rc = spill__read_small(fd, buf, sizeof buf - 1, &got);
    spill__sys.close(fd);
    buf[got] = '\0';
    if (rc == SPILL_OK && !lease_parse(buf, l))
        rc = spill__error(SPILL_EIO, "read", name, "not a lease");
    return rc;
}

int spill__lease_read(spill__fd dir_fd, spill__lease *l)
{
    return lease_read_at(dir_fd, SPILL__LEASE_NAME, l);
}

/* What s holds on disk now, its bookkeeping included. */
static uint64_t held_by(const spill_t *s)
{
    return sat_add(sat_add(s->total, (uint64_t)spill_count(s) * PER_CHUNK), OVERHEAD);
}

/* Writes this spill's lease: the old file replaced by a new one, written and closed. No
 * descriptor stays open on it and no file is renamed over it: the platform promises neither
 * everywhere (a deleted file held open may stay listed; a replacing rename may need the
 * directory's full path, which is not always to be had). Others read it only under the
 * per-user lock this decision holds, so none sees it missing; `spill ls` may, for a moment,
 * and shows no reservation then. */
static int lease_write(spill_t *s, uint64_t lease)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "spill-lease 1 lease=%llu written=%llu limit=%llu\n",
                     (unsigned long long)lease, (unsigned long long)held_by(s),
                     (unsigned long long)s->opts.root_limit_bytes);
    int rc = spill__file_write(s, SPILL__LEASE_NAME, buf, (size_t)n);
    if (rc == SPILL_OK)
        s->lease = lease;
    return rc;
}

void spill__lease_adopted(spill_t *s)
{
    spill__lease l;
    spill__error_stash();
    s->lease = spill__lease_read(s->dir_fd, &l) == SPILL_OK ? l.lease : 0;
    spill__error_unstash();
}

/* ---- The per-user lock: one decision at a time ---- */

/* The lock's directory and file while a decision holds them (SPILL__NOFD: none). */
typedef struct held_lock {
    spill__fd dir, fd;
} held_lock;

/* 1 if the lock file we locked is still the one its name names: the holder before us removes
 * it on its way out, and a lock taken on a file without a name is a lock nobody else sees. */
static int still_named(spill__fd dir, spill__fd fd)
{
    spill__stat a, b;
    return spill__sys.stat(fd, NULL, &a) == SPILL_OK &&
           spill__sys.stat(dir, RESERVE_LOCK, &b) == SPILL_OK && a.dev == b.dev &&
           a.ino == b.ino;
}

/* One try: the user's directory made or opened, its lock file created or opened, locked, and
 * still named. SPILL_EBUSY (held by another process, or removed by it meanwhile): try again. */
static int lock_once(spill_t *s, held_lock *h)
{
    int rc = spill__user_dir(s->root_fd, RESERVE_DIR, 1, &h->dir);
    if (rc != SPILL_OK)
        return rc == SPILL_ENOTFOUND ? SPILL_EBUSY : rc;
    rc = spill__sys.lock_create(h->dir, RESERVE_LOCK, &h->fd);
    if (rc == SPILL_EBUSY) /* it exists: take its lock */
        rc = spill__sys.lock_probe(h->dir, RESERVE_LOCK, SPILL__PROBE_LOCK, &h->fd);
    if (rc == SPILL_OK && !still_named(h->dir, h->fd)) {
        spill__sys.unlock(h->fd);
        rc = SPILL_EBUSY;
    }
    if (rc == SPILL_ENOTFOUND) /* its directory was removed by the holder before us */
        rc = SPILL_EBUSY;
    if (rc != SPILL_OK) {
        spill__sys.close(h->dir);
        h->dir = h->fd = SPILL__NOFD;
    }
    return rc;
}

/* Under SPILL__MU_RESERVE (threads: fcntl locks do not exclude them), the file lock for the
 * other processes, tried without blocking for about a second. Not had (another user's
 * directory in its place, a lock held past the wait), the decision is taken without
 * coordination, and logged. The mutex is held until reserve_unlock, so a fork (whose handler
 * takes every library mutex first) never happens while the lock is open: a child inherits no
 * copy of it. */
static void reserve_lock(spill_t *s, const spill_opts *o, held_lock *h)
{
    int64_t until = spill__monotonic_us() + DECIDE_WAIT_US;
    apr_interval_time_t pause = 200;
    int rc;
    h->dir = h->fd = SPILL__NOFD;
    spill__mutex_lock(SPILL__MU_RESERVE);
    while ((rc = lock_once(s, h)) == SPILL_EBUSY && spill__monotonic_us() < until) {
        apr_sleep(pause); /* another process is deciding: a short while */
        if (pause < 10000)
            pause *= 2;
    }
    if (rc != SPILL_OK)
        spill__log(o, 1, "spill: deciding a reservation under %s without the other processes: "
                   "%s", s->path, spill_error_last()->message);
}

/* The lock file and its directory go with the decision, so that a root holds nothing of the
 * reservations between decisions: the file is unlinked while still locked (a process waiting
 * on it then finds it unnamed and starts again), the directory removed if nobody has made a
 * new lock in it meanwhile. Failures leave them for the next decision. */
static void reserve_unlock(spill_t *s, held_lock *h)
{
    char name[64];
    spill__error_stash();
    if (h->fd != SPILL__NOFD) {
        spill__sys.unlink(h->dir, RESERVE_LOCK, 0, &h->fd); /* Windows: closed first */
        if (h->fd != SPILL__NOFD)
            spill__sys.unlock(h->fd);
        spill__user_dir_name(RESERVE_DIR, name, sizeof name);
        spill__sys.unlink(s->root_fd, name, 1, &h->dir);
    }
    if (h->dir != SPILL__NOFD)
        spill__sys.close(h->dir);
    spill__error_unstash();
    spill__mutex_unlock(SPILL__MU_RESERVE);
}

/* ---- The decision ---- */

/* One live spill of this user's other than s: its lease, or (none: an older library's, a
 * foreign layout's, one not leased yet, or a lease file that is not safe to open) its bytes.
 * What a lease's owner has written since it took the lease is on disk already, so it is counted
 * twice (in the free space and in the lease); `measure` (a second look, when the first refused)
 * counts it once, by the bytes its directory holds now. */
static void count_live(tally *t, const spill__verdict *v, int measure)
{
    spill__lease l;
    spill__tree_stats ts;
    int leased = spill__lease_read(v->dir_fd, &l) == SPILL_OK;
    t->spills++;
    memset(&ts, 0, sizeof ts);
    if (!leased || measure)
        spill__tree_measure(v->dir_fd, &ts);
    if (!leased) {
        t->held = sat_add(t->held, ts.bytes);
        return;
    }
    t->outstanding = sat_add(t->outstanding, sat_sub(l.lease, l.written > ts.bytes ? l.written
                                                                                   : ts.bytes));
    t->held = sat_add(t->held, l.lease);
}

typedef struct look {
    spill__judge_ctx c;
    const spill_t *s;
    int measure;
    int fast;     /* the first look: leases read without judging (leased_at) */
    tally *t;
} look;

/* The first look at one child of the root: a spill name whose lease file can be read, one
 * directory down without following a link or crossing a mount, counts with its lease, without
 * judging whether its owner lives or whose it is: an orphan's lease (until a reap takes it), or
 * another user's readable one, can only make this look refuse, and a refusal takes the second
 * look, which judges. The open that decides has just reaped, so this skips the judging that
 * reap did. Returns 0 if the entry has no lease to count this way (judged then), 1 if it was
 * dealt with. */
static int leased_at(look *l, const char *name)
{
    char path[300];
    spill__lease ls;
    int rc;
    if (strncmp(name, SPILL__NAME_PREFIX, strlen(SPILL__NAME_PREFIX)) != 0)
        return 1; /* staging and trash: never live, never leased */
    if (strcmp(name, l->s->name) == 0)
        return 1;
    snprintf(path, sizeof path, "%s/%s", name, SPILL__LEASE_NAME);
    spill__error_stash();
    rc = lease_read_at(l->c.root_fd, path, &ls);
    spill__error_unstash();
    if (rc != SPILL_OK)
        return 0;
    l->t->spills++;
    l->t->outstanding = sat_add(l->t->outstanding, sat_sub(ls.lease, ls.written));
    l->t->held = sat_add(l->t->held, ls.lease);
    return 1;
}

/* One child of the root: counted if it is a live spill of this user's other than s. */
static int look_at(void *ctx, const char *name)
{
    look *l = ctx;
    spill__verdict v;
    if (l->fast && leased_at(l, name))
        return 0;
    spill__judge(&l->c, name, &v);
    if (v.state == SPILL_LIVE && v.dir_fd != SPILL__NOFD && v.dir_st.own &&
        (v.dir_st.dev != l->s->dev || v.dir_st.ino != l->s->ino))
        count_live(l->t, &v, l->measure);
    spill__verdict_release(&v);
    return 0;
}

/* Looks at every spill-named child of the root and counts this user's spills: the first look
 * (measure 0) by the leases it can read (leased_at), judging only those without one; the second
 * (measure 1) as the reaper does (rule 13's fast path for the live ones), live spills alone.
 * Orphans are left to the reaps. Past the deadline (rule 10), the decision is taken on what was
 * seen. */
static int survey(const spill_t *s, const spill_opts *o, int measure, int64_t deadline_us,
                  tally *t)
{
    look l;
    int stopped, rc = spill__judge_begin(&l.c, s->root, o, 0);
    memset(t, 0, sizeof *t);
    if (rc != SPILL_OK)
        return spill__error_in(rc, s->root);
    l.c.live_fast = 1;
    l.s = s;
    l.measure = measure;
    l.fast = !measure && !l.c.network; /* rule 8: another host's leases are not counted */
    l.t = t;
    rc = spill__judge_each(&l.c, deadline_us, look_at, &l, &stopped);
    spill__judge_end(&l.c);
    t->partial = rc == SPILL_ETIMEDOUT;
    return t->partial ? SPILL_OK : rc;
}

/* The largest lease s may take now: the free space less what the others may still write,
 * beside what s has written, and within the limit beside the others' leases. */
static int room_for(const spill_t *s, const spill_opts *o, int measure, int64_t deadline_us,
                    uint64_t *room, tally *t, uint64_t *avail)
{
    int rc = survey(s, o, measure, deadline_us, t);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = spill__sys.space(s->root, avail)) != SPILL_OK)
        return rc;
    *room = sat_add(held_by(s), sat_sub(*avail, t->outstanding));
    if (o->root_limit_bytes && *room > sat_sub(o->root_limit_bytes, t->held))
        *room = sat_sub(o->root_limit_bytes, t->held);
    return SPILL_OK;
}

/* One decision under the per-user lock: the lease granted (at most want, at least floor) and
 * written, or SPILL_ENOSPC with the figures. */
static int decide(spill_t *s, const spill_opts *o, uint64_t want, uint64_t floor,
                  int64_t deadline_us, const char *op)
{
    held_lock lock;
    uint64_t room = 0, avail = 0;
    tally t;
    int rc;
    reserve_lock(s, o, &lock);
    rc = room_for(s, o, 0, deadline_us, &room, &t, &avail);
    if (rc == SPILL_OK && room < floor && !t.partial) /* others' writes since, counted once */
        rc = room_for(s, o, 1, deadline_us, &room, &t, &avail);
    if (rc == SPILL_OK && t.partial)
        spill__log(o, 1, "%s: %s: the budget of %lu ms ran out: reserved on what was seen of "
                   "the root (%u live spills)", op, s->path, (unsigned long)o->reap_budget_ms,
                   t.spills);
    if (rc == SPILL_OK && room < floor) {
        char limit[64] = "";
        if (o->root_limit_bytes)
            snprintf(limit, sizeof limit, ", a limit of %llu",
                     (unsigned long long)o->root_limit_bytes);
        rc = spill__error(SPILL_ENOSPC, op, s->path,
                          "%llu bytes needed: %llu free, %llu reserved and not yet written by "
                          "%u other %s holding %llu%s",
                          (unsigned long long)(floor - held_by(s)), (unsigned long long)avail,
                          (unsigned long long)t.outstanding, t.spills,
                          t.spills == 1 ? "spill" : "spills", (unsigned long long)t.held, limit);
    } else if (rc == SPILL_OK) {
        rc = lease_write(s, want < room ? want : room);
    }
    reserve_unlock(s, &lock);
    return rc;
}

/* A decision, and under pressure the reaps first: orphans (unless the caller's open has just
 * reaped them), then resumable orphans; never under the per-user lock. */
static int reserve(spill_t *s, const spill_opts *o, uint64_t want, uint64_t floor,
                   int reaped, int64_t deadline_us, const char *op)
{
    int rc = decide(s, o, want, floor, deadline_us, op);
    if (rc != SPILL_ENOSPC || !o->reap_on_open)
        return rc;
    if (!reaped) {
        spill__reap_on_open(s->root, o);
        if ((rc = decide(s, o, want, floor, deadline_us, op)) != SPILL_ENOSPC)
            return rc;
    }
    if (!o->reap_resumable) {
        spill_opts r = *o;
        r.reap_resumable = 1; /* space beats resumability (rule 4) */
        spill__reap_on_open(s->root, &r);
        rc = decide(s, o, want, floor, deadline_us, op);
    }
    return rc;
}

/* Only an open that expects bytes reserves them at once; any other takes its first lease at its
 * first put (until then it holds nothing, which is what the others count it for). */
int spill__reserve_first(spill_t *s, const spill_opts *o, int64_t deadline_us)
{
    uint64_t want = sat_add(o->expected_bytes, OVERHEAD);
    if (!o->expected_bytes)
        return SPILL_OK;
    return reserve(s, o, want, want, o->reap_on_open == SPILL_REAP_SYNC, deadline_us,
                   "spill_open");
}

int spill__lease_covers(const spill_t *s, uint64_t len)
{
    return sat_add(held_by(s), sat_add(len, PER_CHUNK)) <= s->lease;
}

int spill__reserve_more(spill_t *s, uint64_t len)
{
    uint64_t held = held_by(s), floor = sat_add(held, sat_add(len, PER_CHUNK));
    uint64_t want = sat_add(held, held / 8 > LEASE_MIN ? held / 8 : LEASE_MIN);
    if (want < floor)
        want = floor;
    return reserve(s, &s->opts, want, floor, 0,
                   s->opts.reap_budget_ms
                       ? spill__monotonic_us() + (int64_t)s->opts.reap_budget_ms * 1000 : 0,
                   "spill_put");
}
