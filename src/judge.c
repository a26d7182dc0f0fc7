/* judge.c: deciding whether a child of the root is live, an orphan, young or unsafe, by
 * docs/design.md's rules. Any doubt means "leave it". Process ids are never used to judge. */
#include <stdio.h>
#include <string.h>

#include <apr_time.h>

#include "judge.h"

#define STAGING_MIN_AGE 60   /* a staging directory without a record (rule 5) */
#define NETWORK_MIN_AGE 3600 /* foreign or lockless on a network filesystem (rule 8) */

int spill__judge_begin(spill__judge_ctx *c, const char *root, const spill_opts *o,
                       int check_root)
{
    int rc;
    memset(c, 0, sizeof *c);
    c->root = root;
    c->root_fd = SPILL__NOFD;
    c->now = spill__now();
    c->grace = o->grace_seconds;
    c->reap_resumable = o->reap_resumable;
    spill__hostname(c->host, sizeof c->host);
    if ((rc = spill__sys.open_dir(SPILL__NOFD, root, 0, &c->root_fd)) != SPILL_OK)
        return rc;
    if ((check_root && (rc = spill__root_safe(c->root_fd, root, o)) != SPILL_OK) ||
        (rc = spill__sys.stat(c->root_fd, NULL, &c->root_st)) != SPILL_OK ||
        (rc = spill__sys.fs_kind(c->root_fd, &c->network)) != SPILL_OK) {
        spill__judge_end(c);
        return rc;
    }
    c->network = c->network == SPILL__FS_NETWORK;
    c->mounts = spill__mounts_begin(root); /* rule 2 where a stat by name can wait */
    return SPILL_OK;
}

void spill__judge_end(spill__judge_ctx *c)
{
    spill__mounts_end(c->mounts);
    c->mounts = NULL;
    if (c->root_fd != SPILL__NOFD)
        spill__sys.close(c->root_fd);
    c->root_fd = SPILL__NOFD;
}

int spill__judge_wants(const char *name)
{
    uint64_t secs, rnd;
    return spill__parse_name(name, NULL, &secs, &rnd);
}

int spill__judge_each(const spill__judge_ctx *c, int64_t deadline_us,
                      int (*fn)(void *ctx, const char *name), void *ctx, int *stopped)
{
    spill__dir *d;
    const char *name;
    char copy[256];
    int rc = spill__sys.list_open(c->root_fd, &d);
    *stopped = 0;
    if (rc != SPILL_OK)
        return spill__error_in(rc, c->root);
    while (!*stopped && (rc = spill__sys.list_next(d, &name)) == SPILL_OK && name) {
        if (deadline_us && spill__monotonic_us() >= deadline_us) {
            rc = SPILL_ETIMEDOUT; /* rule 10: the names ignored count too */
            break;
        }
        if (!spill__judge_wants(name) || strlen(name) >= sizeof copy)
            continue;
        strcpy(copy, name); /* judging reads other directories: the name is kept apart */
        *stopped = fn(ctx, copy);
    }
    spill__sys.list_close(d);
    return rc == SPILL_OK || rc == SPILL_ETIMEDOUT ? rc : spill__error_in(rc, c->root);
}

static void set(spill__verdict *v, int state, const char *fmt, const char *arg)
{
    v->state = state;
    snprintf(v->reason, sizeof v->reason, fmt, arg);
}

/* An error while judging: the last error's message is the reason. */
static void error(spill__verdict *v, int rc)
{
    if (rc == SPILL_ENOTFOUND) {
        v->state = SPILL__GONE;
        return;
    }
    v->state = SPILL__ERROR;
    v->error = rc;
    v->os_error = spill_error_last()->os_error;
    snprintf(v->reason, sizeof v->reason, "%s", spill_error_last()->message);
}

/* Rules 2 and 7 on what was found: a link, not a directory, another user's, or on another
 * mount is unsafe. Returns 1 if the entry may be judged further. */
static int shape_ok(const spill__judge_ctx *c, spill__verdict *v)
{
    if (v->dir_st.type == SPILL__F_LINK)
        set(v, SPILL_UNSAFE, "%sa symbolic link: never followed", "");
    else if (v->dir_st.type != SPILL__F_DIR)
        set(v, SPILL_UNSAFE, "%snot a directory", "");
    else if (!v->dir_st.own)
        set(v, SPILL_UNSAFE, "%sowned by another user", "");
    else if (v->dir_st.dev != c->root_st.dev || v->dir_st.mount_id != c->root_st.mount_id)
        set(v, SPILL_UNSAFE, "%sa mount point: never crossed, never waited on", "");
    else
        return 1;
    return 0;
}

/* Rule 2: the name is stat'ed first by a call that cannot wait on the far side of a mount (the
 * platform's stat by name), so that a link, a file, another user's directory or a mount point
 * (a dead FUSE or NFS mount among them) is judged unsafe without ever being opened; then the
 * directory is opened (never through a link or across a mount, where the OS can refuse that
 * itself) and what was opened is checked to be what was stat'ed, so that nothing can be
 * swapped in between. */
static int open_checked(const spill__judge_ctx *c, const char *name, spill__verdict *v)
{
    spill__stat named;
    int rc = spill__sys.stat(c->root_fd, name, &v->dir_st);
    if (rc != SPILL_OK) {
        error(v, rc); /* gone, most likely */
        return 0;
    }
    if (!shape_ok(c, v))
        return 0;
    named = v->dir_st;
    if ((rc = spill__sys.open_dir(c->root_fd, name, 0, &v->dir_fd)) == SPILL_EUNSAFE) {
        set(v, SPILL_UNSAFE, "%s", spill_error_last()->message); /* crossed into a mount since */
        return 0;
    }
    if (rc != SPILL_OK || (rc = spill__sys.stat(v->dir_fd, NULL, &v->dir_st)) != SPILL_OK) {
        error(v, rc);
        return 0;
    }
    if (v->dir_st.dev != named.dev || v->dir_st.ino != named.ino) {
        error(v, spill__error_set_os(SPILL_EBUSY, 0, "judge", name, "replaced while judged"));
        return 0;
    }
    return shape_ok(c, v);
}

/* Reads the start of .lock through fd and parses the owner record. fd is a descriptor the
 * platform opened only after examining .lock as a regular file with one link (rule 7). A read
 * that fails is returned: a record that could not be read is not a foreign .lock. */
static int read_record(spill__fd fd, spill__verdict *v)
{
    char buf[SPILL__RECORD_MAX];
    size_t got;
    spill__stat st;
    int rc = spill__read_small(fd, buf, sizeof buf, &got);
    v->has_record = rc == SPILL_OK && spill__record_parse(buf, got, &v->rec);
    if (spill__sys.stat(fd, NULL, &st) == SPILL_OK)
        v->lock_size = st.size;
    return rc;
}

/* Rule 13: an orphan's directory is taken from the host's cleaners by convention too, with a
 * non-blocking exclusive directory lock; someone holding it (a cleaner walking it, or a process
 * that marks the directory as in use) makes it live. Other failures are ignored by the platform. */
static void claim_dir(spill__verdict *v)
{
    int i;
    /* Tried a few times over about a millisecond: another reaper's live fast path takes the
     * same lock for a few microseconds to look, and if both reapers gave up (this one refused by
     * that look, that one finding .lock held by this one) the orphan would outlive both. A
     * cleaner's walk or a forked child's shared lock lasts longer than the tries. */
    for (i = 0; i < 4; i++) {
        if (spill__sys.dir_lock(v->dir_fd, SPILL__DLOCK_EX) == SPILL_OK) {
            v->dir_locked = 1;
            return;
        }
        if (i < 3)
            apr_sleep(300);
    }
    v->state = SPILL_LIVE;
    snprintf(v->reason, sizeof v->reason, "directory locked by another process");
}

int64_t spill__age(int64_t now, int64_t born)
{
    if (born < 0 && now > INT64_MAX + born)
        return INT64_MAX;
    if (born > 0 && now < INT64_MIN + born)
        return INT64_MIN;
    return now - born;
}

/* Rule 5: times from the future. On a local filesystem a time more than `ahead` seconds past
 * now is not trusted (a clock stepped back after a crash loop, or an RTC corrected by NTP, leaves
 * such times; a planted one would pin its entry): 0, it is ignored. On a network filesystem the
 * server's clock and ours differ by design: a future time reads as now. */
static int trusted_time(const spill__judge_ctx *c, int64_t t, int64_t ahead, int64_t *out)
{
    if (t > c->now && c->network)
        t = c->now;
    else if (t > c->now && spill__age(t, c->now) > ahead)
        return 0;
    *out = t;
    return 1;
}

/* Rule 5: the age of a lockless or foreign directory against the grace it needs: now minus the
 * later of its name's timestamp and its mtime, each ignored if more than one grace ahead; with
 * both ignored it is old enough at once. The staging floor reads a future time as now. */
static void judge_age(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                      const char *what)
{
    uint64_t secs = 0, rnd;
    int64_t need = c->grace, t, born = INT64_MIN, latest = v->dir_st.mtime, named;
    spill__parse_name(name, NULL, &secs, &rnd);
    named = secs > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)secs; /* 0: no time in the name */
    if (trusted_time(c, v->dir_st.mtime, c->grace, &t))
        born = t;
    if (trusted_time(c, named, c->grace, &t) && t > born)
        born = t;
    if (named > latest)
        latest = named;
    if (c->network && need < NETWORK_MIN_AGE)
        need = NETWORK_MIN_AGE;
    v->age = born == INT64_MIN ? -1 : spill__age(c->now, born); /* -1: no trusted time */
    if (v->staging && spill__age(c->now, latest < c->now ? latest : c->now) < STAGING_MIN_AGE) {
        if (need < STAGING_MIN_AGE) /* a creator stalled this long retries, renamed */
            need = STAGING_MIN_AGE;
        v->age = spill__age(c->now, latest < c->now ? latest : c->now);
    } else if (born == INT64_MIN || v->age >= need) {
        v->state = SPILL_ORPHAN;
        return;
    }
    v->state = SPILL_YOUNG;
    snprintf(v->reason, sizeof v->reason, "%s, %llds old of the %llds it needs", what,
             (long long)v->age, (long long)need);
}

/* Rule 4's exception (0.2): an orphan whose record carries keep= stays resumable until the
 * directory's last modification plus keep, unless the reap was asked to remove such ones. An
 * mtime more than keep ahead of now is not trusted (rule 5): the orphan is no longer resumable. */
static void judge_keep(const spill__judge_ctx *c, spill__verdict *v)
{
    int64_t keep = (int64_t)v->rec.keep, mtime, elapsed;
    v->state = SPILL_ORPHAN;
    if (!keep || c->reap_resumable || !trusted_time(c, v->dir_st.mtime, keep, &mtime))
        return;
    elapsed = spill__age(c->now, mtime); /* at least -keep */
    if (elapsed >= keep)
        return;
    v->state = SPILL_RESUMABLE;
    snprintf(v->reason, sizeof v->reason, "resumable: kept for spill_adopt %llds more (keep=%lu)",
             (long long)(keep - elapsed), (unsigned long)v->rec.keep);
}

/* Rules 3, 4, 5 and 8 once the lock has been tried. */
static void judge_lock(const spill__judge_ctx *c, const char *name, spill__verdict *v)
{
    int rc = spill__sys.lock_probe(v->dir_fd, SPILL__LOCK_NAME, SPILL__PROBE_LOCK, &v->lock_fd);
    if (v->trash && (rc == SPILL_OK || rc == SPILL_ENOTFOUND)) {
        /* rule 1: only a lock holder renames a directory to a trash name, on its way out, so a
         * free or missing lock there means its remover is gone: garbage at once, on any
         * filesystem and whatever the record says (never adoptable, never aged) */
        if (rc == SPILL_OK)
            read_record(v->lock_fd, v);
        v->state = SPILL_ORPHAN;
    } else if (rc == SPILL_EBUSY) {
        v->state = SPILL_LIVE;
        v->lock_examined = 1; /* a regular file with one link: its record may be read */
    } else if (rc == SPILL_ENOTFOUND) {
        judge_age(c, name, v, "no .lock");
    } else if (rc == SPILL_EUNSAFE) {
        set(v, SPILL_UNSAFE, ".lock %s", spill_error_last()->message);
    } else if (rc != SPILL_OK) {
        error(v, rc);
    } else if ((rc = read_record(v->lock_fd, v)) != SPILL_OK) {
        error(v, rc); /* left, whatever it is: any doubt means "leave it" (rule 7) */
    } else {
        if (!v->has_record)
            judge_age(c, name, v, "foreign .lock");
        else if (c->network && strcmp(v->rec.host, c->host) != 0)
            set(v, SPILL_UNSAFE, "owned by host %.200s on a network filesystem", v->rec.host);
        else
            judge_keep(c, v); /* rule 4: a record beside a free lock */
    }
    if (v->state == SPILL_ORPHAN)
        claim_dir(v);
}

/* Rule 13's live fast path (spill_reap only; spill_ names on a local filesystem): an exclusive
 * lock on the directory, which is open already, refused means someone holds it (its owner's
 * shared lock, a cleaner walking it, another reaper removing it): live, and .lock is never
 * opened. Granted proves nothing (other clients take no directory lock): it is let go at once
 * and .lock decides, as ever. 1 if judged live. */
static int live_at_once(const spill__judge_ctx *c, spill__verdict *v)
{
    if (c->network || v->staging || v->trash)
        return 0;
    if (spill__sys.dir_lock(v->dir_fd, SPILL__DLOCK_EX) == SPILL_EBUSY) {
        v->state = SPILL_LIVE;
        snprintf(v->reason, sizeof v->reason, "directory locked by another process");
        return 1;
    }
    spill__sys.dir_lock(v->dir_fd, SPILL__DLOCK_UN);
    return 0;
}

void spill__judge(const spill__judge_ctx *c, const char *name, spill__verdict *v)
{
    uint64_t secs, rnd;
    int kind = SPILL__N_SPILL;
    memset(v, 0, sizeof *v);
    v->dir_fd = v->lock_fd = SPILL__NOFD;
    v->rec.pid = -1;
    v->age = -1;
    spill__parse_name(name, &kind, &secs, &rnd);
    v->staging = kind == SPILL__N_STAGE;
    v->trash = kind == SPILL__N_TRASH;
    if (!open_checked(c, name, v))
        return;
    /* rule 5: never a directory this process is creating or owns; checked before its .lock is
     * opened, as with fcntl locks opening and closing the .lock would drop the owner's lock */
    if (spill__registry_has(v->dir_st.dev, v->dir_st.ino)) {
        v->state = SPILL_LIVE;
        return;
    }
    if (c->live_fast && live_at_once(c, v))
        return;
    judge_lock(c, name, v);
}

void spill__judge_read_record(const spill__judge_ctx *c, spill__verdict *v)
{
    spill__fd fd;
    (void)c;
    /* only a live spill's: an entry judged unsafe (or in error) is never opened again (rule
     * 7), and the registry's own spills are never opened at all (with fcntl locks, the close
     * would drop the owner's lock) */
    if (v->dir_fd == SPILL__NOFD || v->lock_fd != SPILL__NOFD || !v->lock_examined ||
        spill__registry_has(v->dir_st.dev, v->dir_st.ino))
        return;
    if (spill__sys.lock_probe(v->dir_fd, SPILL__LOCK_NAME, SPILL__PROBE_READ, &fd) != SPILL_OK)
        return;
    read_record(fd, v);
    spill__sys.close(fd);
}

void spill__verdict_dir_unlock(spill__verdict *v)
{
    if (v->dir_locked && v->dir_fd != SPILL__NOFD)
        spill__sys.dir_lock(v->dir_fd, SPILL__DLOCK_UN);
    v->dir_locked = 0;
}

void spill__verdict_release(spill__verdict *v)
{
    if (v->dir_locked)
        spill__sys.dir_close(&v->dir_fd); /* rule 13: the lock for every copy, then the close */
    else if (v->dir_fd != SPILL__NOFD)
        spill__sys.close(v->dir_fd);
    v->dir_locked = 0;
    if (v->lock_fd != SPILL__NOFD)
        spill__sys.unlock(v->lock_fd);
    v->dir_fd = v->lock_fd = SPILL__NOFD;
}
