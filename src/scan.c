/* scan.c: spill_scan: the reaper's judgement of each child of the root, reported and never
 * acted on. A lock taken to judge is released at once. */
#include <stdio.h>
#include <string.h>

#include "judge.h"

/* Version-1 callers know no SPILL_ERROR nor SPILL_RESUMABLE: theirs are SPILL_UNSAFE and
 * SPILL_YOUNG, with the reason. */
static spill_state state_for(const spill_opts *o, int state)
{
    if (state == SPILL__ERROR)
        return o->version >= 2 ? SPILL_ERROR : SPILL_UNSAFE;
    if (state == SPILL_RESUMABLE)
        return o->version >= 2 ? SPILL_RESUMABLE : SPILL_YOUNG;
    return (spill_state)state;
}

static void fill(spill_entry *e, const spill_opts *o, const char *name, const spill__verdict *v)
{
    memset(e, 0, sizeof *e);
    e->name = name;
    e->state = state_for(o, v->state);
    e->age_seconds = v->age;
    e->owner_pid = v->has_record ? v->rec.pid : -1;
    e->owner_host = v->has_record ? v->rec.host : "";
    e->tag = v->has_record ? v->rec.tag : "";
    e->reason = v->reason;
}

/* Age for people when the rules did not need it (or trusted no time): now minus the later of
 * name and mtime, 0 for a time from the future. */
static int64_t plain_age(const spill__judge_ctx *c, const char *name, const spill__verdict *v)
{
    uint64_t secs, rnd;
    int64_t born = v->dir_st.mtime;
    if (spill__parse_name(name, NULL, &secs, &rnd) && secs <= (uint64_t)INT64_MAX &&
        (int64_t)secs > born && (int64_t)secs <= c->now)
        born = (int64_t)secs;
    return born > c->now ? 0 : spill__age(c->now, born);
}

/* A live spill's reservation and the limit its owner enforces, from its lease file (0: none,
 * an older library's or a foreign one). */
static void leased(spill_entry *e, const spill__verdict *v)
{
    spill__lease l;
    spill__error_stash();
    if (spill__lease_read(v->dir_fd, &l) == SPILL_OK) {
        e->reserved_bytes = l.lease;
        e->limit_bytes = l.limit;
    }
    spill__error_unstash();
}

static int one_entry(const spill__judge_ctx *c, const spill_opts *o, const char *name,
                     int (*cb)(void *ctx, const spill_entry *e), void *ctx)
{
    spill__verdict v;
    spill_entry e;
    spill__tree_stats ts;
    int rc;
    spill__judge(c, name, &v);
    if (v.state == SPILL__GONE) {
        spill__verdict_release(&v);
        return 0;
    }
    /* read the record of a live spill for people, then let go of any lock we took */
    spill__judge_read_record(c, &v);
    spill__verdict_dir_unlock(&v);
    if (v.lock_fd != SPILL__NOFD) {
        spill__sys.unlock(v.lock_fd);
        v.lock_fd = SPILL__NOFD;
    }
    memset(&ts, 0, sizeof ts);
    if (v.dir_fd != SPILL__NOFD && spill__tree_measure(v.dir_fd, &ts) != SPILL_OK &&
        (v.state == SPILL_ORPHAN || v.state == SPILL_RESUMABLE)) {
        /* what the walk cannot reach (nested too deep, unreadable) no reap can remove either */
        v.state = SPILL__ERROR;
        snprintf(v.reason, sizeof v.reason, "cannot be reaped whole: %s",
                 spill_error_last()->message);
    }
    if (v.age < 0 && v.dir_st.type == SPILL__F_DIR)
        v.age = plain_age(c, name, &v);
    fill(&e, o, name, &v);
    if (v.state == SPILL_LIVE && v.dir_fd != SPILL__NOFD)
        leased(&e, &v);
    e.bytes = ts.bytes;
    e.files = ts.files;
    rc = cb(ctx, &e);
    spill__verdict_release(&v);
    return rc;
}

typedef struct scan_pass {
    spill__judge_ctx c;
    const spill_opts *o;
    int (*cb)(void *ctx, const spill_entry *e);
    void *ctx;
} scan_pass;

static int scan_one(void *ctx, const char *name)
{
    scan_pass *p = ctx;
    return one_entry(&p->c, p->o, name, p->cb, p->ctx);
}

int spill_scan(const char *root, const spill_opts *opts,
               int (*cb)(void *ctx, const spill_entry *e), void *ctx)
{
    scan_pass p;
    spill_opts o;
    int rc, stop = 0;
    if (!root || !*root || !cb)
        return spill__error(SPILL_EINVAL, "spill_scan", "", "root and cb must be given");
    if ((rc = spill__init()) != SPILL_OK || (rc = spill__opts_check(opts, &o)) != SPILL_OK)
        return rc;
    if (!opts)
        o.version = 1; /* NULL opts: the states of version 1 (spill.h, spill_state) */
    rc = spill__judge_begin(&p.c, root, &o, 0);
    if (rc == SPILL_ENOTFOUND)
        return SPILL_OK;
    if (rc != SPILL_OK)
        return spill__error_in(rc, "");
    p.o = &o;
    p.cb = cb;
    p.ctx = ctx;
    rc = spill__judge_each(&p.c, 0, scan_one, &p, &stop);
    spill__judge_end(&p.c);
    return stop ? stop : rc;
}
