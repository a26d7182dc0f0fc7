/* adopt.c: spill_adopt: a new owner takes over a dead owner's orphan by its tag, with the chunks
 * the journal proves complete, and everything else in it removed. The lock decides every race:
 * whoever takes the orphan's .lock owns it (docs/on-disk.md, section 10). What its answers
 * mean (a held lock is not yet a live owner): docs/design.md, "Why removal goes in that order". */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "judge.h"

#define TAKE_ATTEMPTS 8 /* of one candidate, each cut short by a fork in another thread */
#define RETRY_MS 200    /* how long a held candidate is tried again before the answer */
#define OWNER_SEEN 3    /* sightings in a row of an owner's directory lock that settle it */

/* Who holds a candidate's lock, by rule 13's directory lock (owner_of). */
enum { OWNER_NO, OWNER_YES, OWNER_UNKNOWN };

typedef struct candidate {
    char name[64];
    int64_t started;
    int done;       /* taken, gone, not adoptable, or settled as a live owner's */
    int owner;      /* at the last try, its lock was held by: OWNER_* */
    unsigned seen;  /* tries in a row that saw an owner */
} candidate;

typedef struct search {
    spill__judge_ctx c;
    const spill_opts *o;
    const char *tag;
    apr_pool_t *pool;
    apr_array_header_t *found; /* candidate: orphans with the tag, and held spills with it */
    int owner;                 /* a live owner holds a spill with the tag (a duplicate job) */
    int error;                 /* an entry that could not be judged: its error (0: none) */
    spill__error_copy err;     /* and the message, given back if nothing else is the answer */
    int locks;                 /* the directory lock excludes: 1, 0, or -1 not asked yet */
    int64_t deadline_us;       /* rule 10: reap_budget_ms from the start (0: none) */
} search;

static int wanted_record(const search *q, const spill__verdict *v)
{
    return v->has_record && strcmp(v->rec.tag, q->tag) == 0;
}

static int is_orphan(const spill__verdict *v)
{
    return v->state == SPILL_ORPHAN || v->state == SPILL_RESUMABLE;
}

/* Only spill_<secs>_<u64> directories: never staging or trash ones (rule 1). */
static int adoptable_name(const char *name)
{
    int staging = 1;
    uint64_t secs, rnd;
    return strncmp(name, SPILL__NAME_PREFIX, strlen(SPILL__NAME_PREFIX)) == 0 &&
           spill__parse_name(name, &staging, &secs, &rnd) && !staging && strlen(name) < 64;
}

/* An entry that could not be judged (descriptors or memory exhausted, an I/O error): logged,
 * and the first such error kept, the answer when nothing is adopted and no owner is found. */
static int judged_error(search *q, const char *name, const spill__verdict *v)
{
    const char *path = apr_pstrcat(q->pool, q->c.root, SPILL__PATH_SEP, name, NULL);
    spill__log(q->o, 0, "spill_adopt: cannot judge %s: %s", path, v->reason);
    spill__error_set_os(v->error, v->os_error, "spill_adopt", path, v->reason);
    if (!q->error) {
        q->error = v->error;
        spill__error_copy_out(&q->err);
    }
    return v->error;
}

/* First pass: judges every child as the reaper does, and notes the orphans carrying the tag
 * and the spills with the tag whose lock someone holds (their owner, or a reaper at work:
 * told apart by adopt_in); every lock taken is released again. */
static void look(search *q, const char *name)
{
    spill__verdict v;
    spill__judge(&q->c, name, &v);
    if (v.state == SPILL_LIVE && spill__registry_has_tag(v.dir_st.dev, v.dir_st.ino, q->tag)) {
        q->owner = 1; /* this process's own: never read (rule 5), the registry knows its tag */
    } else if (v.state == SPILL_LIVE || is_orphan(&v)) {
        if (v.state == SPILL_LIVE)
            spill__judge_read_record(&q->c, &v);
        if (wanted_record(q, &v)) {
            candidate *k = &APR_ARRAY_PUSH(q->found, candidate);
            memset(k, 0, sizeof *k);
            strcpy(k->name, name);
            k->started = v.rec.started;
        }
    } else if (v.state == SPILL__ERROR && v.error != SPILL_EBUSY) {
        judged_error(q, name, &v); /* EBUSY: replaced while judged, not this orphan */
    }
    spill__verdict_release(&v);
}

/* Rule 10: past opts' reap_budget_ms, an adopt that has not decided answers SPILL_ETIMEDOUT,
 * never EBUSY or ENOTFOUND (which would make the job exit, or start afresh). */
static int over_budget(const search *q)
{
    if (!q->deadline_us || spill__monotonic_us() < q->deadline_us)
        return SPILL_OK;
    return spill__error(SPILL_ETIMEDOUT, "spill_adopt", q->c.root,
                        "the budget of %lu ms ran out before the orphans carrying the tag %s "
                        "were judged", (unsigned long)q->o->reap_budget_ms, q->tag);
}

static int look_if_adoptable(void *ctx, const char *name)
{
    if (adoptable_name(name))
        look(ctx, name);
    return 0;
}

/* Reads the root as a stream and judges each adoptable name as it comes, the budget checked
 * among them, the names ignored too (rule 10). */
static int list_candidates(search *q)
{
    int stopped;
    int rc = spill__judge_each(&q->c, q->deadline_us, look_if_adoptable, q, &stopped);
    return rc == SPILL_OK || rc == SPILL_ETIMEDOUT ? over_budget(q) : rc;
}

static int newest_first(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    return x->started < y->started ? 1 : x->started > y->started ? -1 : 0;
}

/* Rewrites the owner record for this process under the lock: write, then truncate. */
static int rewrite_record(spill_t *s, spill__fd lock_fd, int64_t started)
{
    char rec[SPILL__RECORD_MAX], host[256];
    size_t n;
    spill__hostname(host, sizeof host);
    n = spill__record_format(rec, sizeof rec, spill__random_u64(), s->pid, host, started,
                             s->opts.keep_seconds, s->opts.tag);
    return spill__sys.write(lock_fd, rec, n, 1);
}

/* A file named like a chunk in the orphan, with its last journal entry. */
typedef struct present {
    uint8_t addr[SPILL_ADDR_LEN];
    uint64_t len; /* the length its last entry gives */
    uint64_t pos; /* that entry's place + 1; 0: not in the journal */
    int kept;
} present;

/* The orphan judged before anything in it changes. Its memory, a pool gone with the adoption,
 * follows the files in the orphan, never the length of the journal, which is read as a stream. */
typedef struct survey {
    apr_pool_t *pool;
    apr_hash_t *files;        /* addr -> present */
    apr_array_header_t *kept; /* present *, in the order written */
    spill__journal_info info;
    int64_t deadline_us;      /* the adopt's budget (0: none) */
    uint8_t *buf;             /* verify's: one chunk's bytes at a time (malloc'd) */
    size_t cap;
    unsigned rejected;        /* chunks verify said are not what their address says */
} survey;

/* 1 if name is a chunk's (the lowercase hex of an address); its address in addr. */
static int chunk_name(const char *name, uint8_t addr[SPILL_ADDR_LEN])
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    if (strlen(name) != SPILL__HEX_LEN)
        return 0;
    for (i = 0; i < SPILL__HEX_LEN; i++) {
        const char *d = strchr(digits, name[i]);
        if (!d)
            return 0;
        addr[i / 2] = (uint8_t)(i % 2 ? addr[i / 2] | (d - digits) : (d - digits) << 4);
    }
    return 1;
}

static int list_files(spill__fd dir_fd, survey *sv)
{
    uint8_t addr[SPILL_ADDR_LEN];
    spill__dir *d;
    const char *name;
    int rc = spill__sys.list_open(dir_fd, &d);
    if (rc != SPILL_OK)
        return rc;
    while ((rc = spill__sys.list_next(d, &name)) == SPILL_OK && name) {
        present *p;
        if (!chunk_name(name, addr))
            continue;
        p = apr_pcalloc(sv->pool, sizeof *p);
        memcpy(p->addr, addr, sizeof addr);
        apr_hash_set(sv->files, p->addr, SPILL_ADDR_LEN, p);
    }
    spill__sys.list_close(d);
    return rc;
}

/* An address written twice (removed and put again) counts where it was last written. */
static int note_entry(void *ctx, uint64_t i, const spill__journal_entry *e)
{
    present *p = apr_hash_get(((survey *)ctx)->files, e->addr, SPILL_ADDR_LEN);
    if (p) {
        p->pos = i + 1;
        p->len = e->len;
    }
    return SPILL_OK;
}

/* Version 3's verify: the chunk read back and shown to the client, the budget checked first.
 * SPILL_OK with *ok set, or the error that stops the adopt (nothing has changed yet; paths are
 * relative to the orphan, which the caller's judging_failed prefixes). */
static int verified(survey *sv, spill__fd dir_fd, const present *p, const char *hex,
                    const spill_opts *o, int *ok)
{
    size_t len = (size_t)p->len;
    int rc, says;
    if (sv->deadline_us && spill__monotonic_us() >= sv->deadline_us)
        return spill__error(SPILL_ETIMEDOUT, "spill_adopt", "", "the budget of %lu ms "
                            "ran out while verifying its chunks", (unsigned long)o->reap_budget_ms);
    if (len > sv->cap) {
        uint8_t *bigger = realloc(sv->buf, len);
        if (!bigger)
            return spill__error(SPILL_ENOMEM, "realloc", hex, "no memory to verify a chunk "
                                "of %" APR_UINT64_T_FMT " bytes", (apr_uint64_t)p->len);
        sv->buf = bigger;
        sv->cap = len;
    }
    if ((rc = spill__chunk_read(dir_fd, "", hex, sv->buf, len)) != SPILL_OK)
        return rc;
    says = o->verify(o->verify_ctx, p->addr, sv->buf, len);
    if (says == SPILL_VERIFY_STOP)
        return spill__error(SPILL_EIO, "verify", hex, "the verify callback failed on chunk "
                            "%s: nothing removed", hex);
    *ok = says == 0;
    sv->rejected += !*ok;
    return SPILL_OK;
}

static int by_pos(const void *a, const void *b)
{
    const present *x = *(present *const *)a, *y = *(present *const *)b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Keeps each journaled file that is there whole (and that verify accepts), in the order
 * written. */
static int choose(spill__fd dir_fd, survey *sv, const spill_opts *o)
{
    apr_array_header_t *all = apr_array_make(sv->pool, 64, sizeof(present *));
    apr_hash_index_t *hi;
    int i, rc, ok = 1;
    for (hi = apr_hash_first(sv->pool, sv->files); hi; hi = apr_hash_next(hi)) {
        present *p = apr_hash_this_val(hi);
        if (p->pos)
            APR_ARRAY_PUSH(all, present *) = p;
    }
    qsort(all->elts, (size_t)all->nelts, sizeof(present *), by_pos);
    for (i = 0; i < all->nelts; i++) {
        present *p = APR_ARRAY_IDX(all, i, present *);
        char hex[SPILL__HEX_LEN + 1];
        spill__stat st;
        spill__hex(p->addr, hex);
        if ((rc = spill__sys.stat(dir_fd, hex, &st)) == SPILL_ENOTFOUND)
            continue;
        if (rc != SPILL_OK)
            return rc;
        /* the file the dead owner wrote, complete: not a link, not another file's name */
        if (st.type != SPILL__F_REG || st.nlink != 1 || st.size != p->len)
            continue;
        if ((uint64_t)(size_t)p->len != p->len) { /* 32-bit: spill_get could not return it */
            spill__log(o, 0, "spill_adopt: chunk %s of %" APR_UINT64_T_FMT " bytes is too big "
                       "for this build: not adopted", hex, (apr_uint64_t)p->len);
            continue;
        }
        if (o->verify && ((rc = verified(sv, dir_fd, p, hex, o, &ok)) != SPILL_OK || !ok)) {
            if (rc != SPILL_OK)
                return rc;
            continue;
        }
        p->kept = 1;
        APR_ARRAY_PUSH(sv->kept, present *) = p;
    }
    return SPILL_OK;
}

/* Lists the orphan's chunk files, reads its journal and indexes into s the chunks it proves,
 * changing nothing on disk: an error (the journal unreadable, memory) leaves the orphan as it
 * was, and nothing is removed. */
static int survey_orphan(spill_t *s, spill__fd dir_fd, survey *sv, const spill_opts *o)
{
    int i, rc;
    if ((rc = spill__pool_new(&sv->pool)) != SPILL_OK)
        return rc;
    sv->files = apr_hash_make(sv->pool);
    sv->kept = apr_array_make(sv->pool, 64, sizeof(present *));
    if ((rc = list_files(dir_fd, sv)) != SPILL_OK ||
        (rc = spill__journal_read(dir_fd, &sv->info, note_entry, sv)) != SPILL_OK ||
        (rc = choose(dir_fd, sv, o)) != SPILL_OK)
        return rc;
    for (i = 0; i < sv->kept->nelts && rc == SPILL_OK; i++) {
        const present *p = APR_ARRAY_IDX(sv->kept, i, present *);
        rc = spill__chunks_index(s, p->addr, p->len);
    }
    return rc;
}

static void survey_end(survey *sv)
{
    free(sv->buf);
    sv->buf = NULL;
    if (sv->pool)
        apr_pool_destroy(sv->pool);
    sv->pool = NULL;
}

/* What the journal does not prove goes: partial chunks, stray files, links, a compaction a
 * death cut short. Dot files it does not know are not its to judge, and stay (the lease among
 * them: the adopter takes it over). */
static int unproven(const survey *sv, const char *name)
{
    uint8_t addr[SPILL_ADDR_LEN];
    const present *p;
    if (name[0] == '.') /* a compaction a death cut short */
        return strcmp(name, SPILL__JOURNAL_TMP) == 0;
    if (!chunk_name(name, addr))
        return 1;
    p = apr_hash_get(sv->files, addr, SPILL_ADDR_LEN);
    return !p || !p->kept;
}

/* Removes one entry of the spill directory: a link as a link, a directory with what is in it
 * (never leaving the spill's mount). */
static void remove_entry(spill_t *s, const char *name, const spill__stat *dir_st)
{
    spill__tree_stats ts;
    spill__stat st;
    spill__fd fd;
    if (spill__sys.stat(s->dir_fd, name, &st) != SPILL_OK)
        return;
    if (st.type != SPILL__F_DIR) {
        spill__sys.unlink(s->dir_fd, name, 0, NULL);
        return;
    }
    if (st.dev != dir_st->dev || st.mount_id != dir_st->mount_id ||
        spill__sys.open_dir(s->dir_fd, name, 0, &fd) != SPILL_OK)
        return;
    memset(&ts, 0, sizeof ts);
    spill__tree_empty(fd, NULL, &ts);
    spill__sys.close(fd);
    spill__sys.unlink(s->dir_fd, name, 1, NULL);
}

static void remove_unproven(spill_t *s, const survey *sv, const spill__stat *dir_st)
{
    apr_array_header_t *names = apr_array_make(sv->pool, 16, sizeof(char *));
    spill__dir *d;
    const char *name;
    int i;
    if (spill__sys.list_open(s->dir_fd, &d) != SPILL_OK)
        return;
    while (spill__sys.list_next(d, &name) == SPILL_OK && name)
        if (unproven(sv, name))
            APR_ARRAY_PUSH(names, char *) = apr_pstrdup(sv->pool, name);
    spill__sys.list_close(d);
    for (i = 0; i < names->nelts; i++)
        remove_entry(s, APR_ARRAY_IDX(names, i, char *), dir_st);
}

/* Holds the directory as spill_open holds its own (on Windows without FILE_SHARE_DELETE; rule
 * 13's shared flock on POSIX, which keeps host cleaners out) and checks that the name is still
 * the directory whose lock we took: SPILL_ENOTFOUND if not, SPILL_EBUSY if its directory lock
 * is held (tried again), or the error that stopped it. */
static int hold_dir(search *q, const char *name, spill__verdict *v, int *forked)
{
    spill__stat named, held;
    spill__fd fd;
    uint64_t mark = spill__registry_mark();
    int rc = spill__sys.stat(q->c.root_fd, name, &named);
    if (rc == SPILL_ENOTFOUND ||
        (rc == SPILL_OK && (named.dev != v->dir_st.dev || named.ino != v->dir_st.ino)))
        return SPILL_ENOTFOUND; /* taken away or replaced meanwhile: not this orphan */
    if (rc != SPILL_OK || (rc = spill__sys.open_dir(q->c.root_fd, name, 1, &fd)) != SPILL_OK)
        return rc; /* descriptors exhausted, say: an error, never a lost race */
    if ((rc = spill__sys.stat(fd, NULL, &held)) != SPILL_OK || held.dev != v->dir_st.dev ||
        held.ino != v->dir_st.ino) {
        spill__sys.close(fd);
        return rc == SPILL_OK ? SPILL_ENOTFOUND : rc;
    }
    /* the judge's exclusive directory lock goes with its descriptor (dir_close); a
     * refused shared one means a cleaner walks the directory right now: tried again */
    spill__sys.dir_close(&v->dir_fd);
    v->dir_locked = 0;
    v->dir_fd = fd;
    if (spill__sys.dir_lock(fd, SPILL__DLOCK_SH) == SPILL_EBUSY)
        return SPILL_EBUSY;
    v->dir_locked = 1; /* the shared one now: a failure below lets it go with the verdict */
    rc = spill__registry_hold(v->dir_st.dev, v->dir_st.ino, SPILL__REG_DIR, fd, mark);
    *forked = rc != SPILL_OK;
    return rc;
}

/* Lets the orphan go again, keeping this thread's last error. */
static void release(spill__verdict *v)
{
    spill__error_stash();
    spill__verdict_release(v);
    spill__error_unstash();
}

/* Fails the adoption of the orphan at `where` that could not be judged: never with SPILL_EBUSY
 * or SPILL_ENOTFOUND, which would tell the caller it is a duplicate job or has nothing to
 * resume (and send the search on to the next candidate). */
static int judging_failed(int rc, const char *where)
{
    spill__error_copy c;
    spill__error_in(rc, where);
    if (rc != SPILL_EBUSY && rc != SPILL_ENOTFOUND)
        return rc;
    spill__error_copy_out(&c);
    c.code = SPILL_EIO;
    spill__error_copy_in(&c);
    return SPILL_EIO;
}

/* 0.2's proof of completeness, or a resumable record (0.2 too, no chunk yet); a 0.1 orphan
 * has neither: SPILL_OK (*journal set if there is one), SPILL_ENOTFOUND (not adoptable), or the
 * error that kept it from being known. */
static int adoptable(const spill__verdict *v, const char *where, int *journal)
{
    spill__stat st;
    int rc = spill__sys.stat(v->dir_fd, SPILL__JOURNAL_NAME, &st);
    *journal = rc == SPILL_OK;
    if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
        return judging_failed(rc, where);
    return v->rec.keep || *journal ? SPILL_OK : SPILL_ENOTFOUND;
}

/* After the takeover: the journal rewritten compactly (a torn last entry gone before anything
 * is appended), then what it does not prove removed. */
static void settle(search *q, spill_t *s, const survey *sv, const spill__stat *dir_st)
{
    const char *how = spill__journal_adopted(s, &sv->info);
    remove_unproven(s, sv, dir_st);
    spill__log(q->o, 2, "spill_adopt: %s: a journal of %" APR_UINT64_T_FMT " valid entries in %"
               APR_UINT64_T_FMT " bytes for %d chunks kept: %s", s->name,
               (apr_uint64_t)sv->info.entries, (apr_uint64_t)sv->info.size, sv->kept->nelts, how);
    if (sv->rejected)
        spill__log(q->o, 1, "spill_adopt: %s: %u %s rejected by verify (not what %s address "
                   "says): removed, not adopted", s->name, sv->rejected,
                   sv->rejected == 1 ? "chunk" : "chunks", sv->rejected == 1 ? "its" : "their");
}

/* 1 if rule 13's directory lock exists here (Linux; elsewhere the platform's is a no-op), asked
 * once per adoption of the root through two descriptors of our own: the second is refused. */
static int locks_exclude(search *q)
{
    spill__fd a, b;
    int excl = 0;
    if (q->locks >= 0)
        return q->locks;
    if (spill__sys.open_dir(SPILL__NOFD, q->c.root, 0, &a) != SPILL_OK)
        return 0; /* not known: as elsewhere, and asked again at the next try */
    if (spill__sys.open_dir(SPILL__NOFD, q->c.root, 0, &b) == SPILL_OK) {
        excl = spill__sys.dir_lock(a, SPILL__DLOCK_EX) == SPILL_EBUSY ||
               spill__sys.dir_lock(b, SPILL__DLOCK_SH) == SPILL_EBUSY;
        q->locks = excl;
        spill__sys.dir_close(&b);
    }
    spill__sys.dir_close(&a);
    return excl;
}

/* Who holds a busy .lock. On Linux a live 0.2+ owner share-locks its directory for its whole
 * life (rule 13) and a reaper never does: granted a shared lock ourselves (so nobody holds an
 * exclusive one), we ask for it exclusive; refused, another process shares the directory: an
 * owner (or an adopter becoming one). Elsewhere the directory lock does not exist. */
static int owner_of(search *q, spill__fd dir_fd)
{
    int shared;
    if (!locks_exclude(q))
        return OWNER_UNKNOWN;
    if (spill__sys.dir_lock(dir_fd, SPILL__DLOCK_SH) != SPILL_OK)
        return OWNER_NO; /* an exclusive holder: a reaper removing it, or a cleaner */
    shared = spill__sys.dir_lock(dir_fd, SPILL__DLOCK_EX) == SPILL_EBUSY;
    spill__sys.dir_lock(dir_fd, SPILL__DLOCK_UN); /* for every copy: a forked child's too */
    return shared ? OWNER_YES : OWNER_NO;
}

/* Why a candidate judged in v is not an orphan to take: SPILL_EBUSY, held (k->owner says by
 * whom); SPILL_ENOTFOUND, gone (reaped) or not adoptable; else the error that kept it from
 * being judged. */
static int not_taken(search *q, candidate *k, spill__verdict *v)
{
    if (v->state == SPILL_LIVE) {
        if (spill__registry_has(v->dir_st.dev, v->dir_st.ino))
            k->owner = OWNER_YES; /* this process owns it: an owner for certain */
        else if (v->lock_fd == SPILL__NOFD)
            k->owner = owner_of(q, v->dir_fd); /* its .lock is busy */
        return SPILL_EBUSY; /* else its .lock is free but the directory held: tried again */
    }
    if (v->state == SPILL__ERROR && v->error != SPILL_EBUSY)
        return judged_error(q, k->name, v);
    return SPILL_ENOTFOUND;
}

/* Takes over the orphan under its lock: SPILL_OK (s filled), SPILL_EBUSY (held, k->owner says
 * by whom; or a race lost, with *forked set if the race was a fork in another thread: rule
 * 14's window, see spill__registry_hold), SPILL_ENOTFOUND (gone, or not adoptable after all),
 * or the error that stopped it (nothing removed). */
static int take_once(search *q, candidate *k, spill_t *s, int *forked)
{
    const char *name = k->name;
    const char *where = apr_pstrcat(q->pool, q->c.root, SPILL__PATH_SEP, name, NULL);
    spill__verdict v;
    survey sv;
    uint64_t mark = spill__registry_mark(); /* before the judge opens and locks .lock */
    int rc, journal, held = 0;
    *forked = 0;
    k->owner = OWNER_NO;
    memset(&sv, 0, sizeof sv);
    sv.deadline_us = q->deadline_us;
    spill__judge(&q->c, name, &v);
    if (!is_orphan(&v) || !wanted_record(q, &v)) {
        rc = is_orphan(&v) ? SPILL_ENOTFOUND : not_taken(q, k, &v);
        spill__verdict_release(&v);
        return rc;
    }
    if ((rc = adoptable(&v, where, &journal)) != SPILL_OK) {
        release(&v);
        return rc;
    }
    s->journaling |= journal; /* its chunks go on being proven, to a later adopter too */
    if ((rc = spill__registry_add(v.dir_st.dev, v.dir_st.ino)) != SPILL_OK) {
        spill__verdict_release(&v);
        return rc;
    }
    rc = spill__registry_hold(v.dir_st.dev, v.dir_st.ino, SPILL__REG_LOCK, v.lock_fd, mark);
    *forked = rc != SPILL_OK;
    if (rc == SPILL_OK && (rc = hold_dir(q, name, &v, forked)) == SPILL_OK) {
        /* judged before anything changes: the record is rewritten only once it is */
        held = 1;
        if ((rc = survey_orphan(s, v.dir_fd, &sv, q->o)) == SPILL_OK)
            rc = rewrite_record(s, v.lock_fd, spill__now());
    }
    if (rc != SPILL_OK) {
        if (held)
            rc = judging_failed(rc, where);
        else if (rc != SPILL_EBUSY)
            rc = spill__error_in(rc, q->c.root);
        survey_end(&sv);
        spill__registry_remove(v.dir_st.dev, v.dir_st.ino);
        release(&v);
        return rc;
    }
    s->dir_fd = v.dir_fd;
    s->lock_fd = v.lock_fd;
    s->dev = v.dir_st.dev;
    s->ino = v.dir_st.ino;
    s->name = apr_pstrdup(s->pool, name);
    v.dir_fd = v.lock_fd = SPILL__NOFD;
    settle(q, s, &sv, &v.dir_st);
    survey_end(&sv);
    return SPILL_OK;
}

/* A fork that came while the lock was taken costs the attempt, never the candidate: its lock is
 * let go (unlock, which reaches the child's copy) and taken again. */
static int take(search *q, candidate *k, spill_t *s)
{
    int i, rc = SPILL_EBUSY, forked = 1;
    for (i = 0; i < TAKE_ATTEMPTS && forked; i++)
        rc = take_once(q, k, s, &forked);
    return rc;
}

static int check_args(const char *root, const char *tag, spill_t **out)
{
    if (out)
        *out = NULL;
    if (!root || !*root || !out)
        return spill__error(SPILL_EINVAL, "spill_adopt", "", "root and out must be given");
    if (!tag || !*tag)
        return spill__error(SPILL_EINVAL, "spill_adopt", root,
                            "a tag must be given: it names the job to resume");
    if (strlen(tag) > SPILL__TAG_MAX)
        return spill__error(SPILL_EINVAL, "spill_adopt", root, "tag of %lu bytes: at most %d",
                            (unsigned long)strlen(tag), SPILL__TAG_MAX);
    return SPILL_OK;
}

/* The handle, once the candidate `name` is taken. */
static int taken(search *q, spill_t *s, const char *name)
{
    s->path = apr_pstrcat(s->pool, q->c.root, SPILL__PATH_SEP, name, NULL);
    s->root = apr_pstrdup(s->pool, q->c.root);
    spill__lease_adopted(s); /* the dead owner's lease, taken over */
    s->root_fd = q->c.root_fd; /* the handle's own from now on */
    q->c.root_fd = SPILL__NOFD;
    /* a fork in another thread leaves the child nothing of this spill (rule 14) */
    spill__registry_fds(s->dev, s->ino, s->root_fd, s->dir_fd, s->lock_fd, q->tag);
    return SPILL_OK;
}

/* Tries each candidate not done yet, newest first: SPILL_OK once one is taken, an error that
 * stopped a taking, else SPILL_EBUSY with *held counting those still held (by a reaper at
 * work, say). A candidate seen held by its owner OWNER_SEEN times in a row is settled. */
static int try_all(search *q, spill_t *s, int *held)
{
    int i, rc;
    *held = 0;
    for (i = 0; i < q->found->nelts; i++) {
        candidate *k = &APR_ARRAY_IDX(q->found, i, candidate);
        if (k->done)
            continue;
        if ((rc = take(q, k, s)) == SPILL_OK)
            return taken(q, s, k->name);
        if (rc != SPILL_EBUSY && rc != SPILL_ENOTFOUND)
            return rc; /* not judged, or not taken over: nothing of it removed */
        k->done = rc == SPILL_ENOTFOUND; /* gone (reaped), or not adoptable */
        k->seen = rc == SPILL_EBUSY && k->owner == OWNER_YES ? k->seen + 1 : 0;
        if (k->seen >= OWNER_SEEN)
            k->done = q->owner = 1;
        *held += !k->done;
    }
    return SPILL_EBUSY;
}

/* What the search found, when nothing was taken: a live owner (a duplicate job), else the
 * error that kept an entry from being judged, else nothing adoptable carries the tag. */
static int answer(search *q)
{
    if (q->owner)
        return spill__error(SPILL_EBUSY, "spill_adopt", q->c.root,
                            "only live spills carry the tag %s", q->tag);
    if (q->error) {
        spill__error_copy_in(&q->err);
        return q->error;
    }
    return spill__error(SPILL_ENOTFOUND, "spill_adopt", q->c.root,
                        "no orphan to adopt carries the tag %s", q->tag);
}

/* Tries the candidates newest first; one held by someone is tried again for RETRY_MS: a
 * reaper's hold ends (the orphan kept, or gone), an owner's does not. Past that, a candidate
 * still held counts as a live owner's where its directory lock said so (Linux) or cannot say
 * (elsewhere); one held with no owner sharing its directory is a reaper's: gone. */
static int adopt_in(search *q, spill_t *s)
{
    int64_t deadline = spill__monotonic_us() + (int64_t)RETRY_MS * 1000;
    apr_interval_time_t pause = 500;
    int i, rc, held;
    qsort(q->found->elts, (size_t)q->found->nelts, sizeof(candidate), newest_first);
    while ((rc = try_all(q, s, &held)) == SPILL_EBUSY && held &&
           spill__monotonic_us() < deadline && (rc = over_budget(q)) == SPILL_OK) {
        apr_sleep(pause); /* the holder is another process: it needs the processor */
        if (pause < 8000)
            pause *= 2;
    }
    if (rc != SPILL_EBUSY)
        return rc;
    for (i = 0; i < q->found->nelts; i++) {
        candidate *k = &APR_ARRAY_IDX(q->found, i, candidate);
        if (!k->done && k->owner != OWNER_NO)
            q->owner = 1;
    }
    return answer(q);
}

int spill_adopt(const char *root, const char *tag, const spill_opts *opts, spill_t **out)
{
    spill_opts o;
    spill_t *s = NULL;
    search q;
    char *abs;
    int rc;
    if ((rc = check_args(root, tag, out)) != SPILL_OK)
        return rc;
    if ((rc = spill__init()) != SPILL_OK || (rc = spill__opts_check(opts, &o)) != SPILL_OK)
        return rc;
    if (o.dry_run)
        return spill__error(SPILL_EINVAL, "spill_adopt", root,
                            "dry_run is for spill_reap: spill_adopt always takes over");
    o.tag = tag;
    if ((rc = spill__handle_new(&o, &s)) != SPILL_OK)
        return rc;
    memset(&q, 0, sizeof q);
    q.locks = -1;
    if (o.reap_budget_ms)
        q.deadline_us = spill__monotonic_us() + (int64_t)o.reap_budget_ms * 1000;
    q.o = &o;
    q.tag = s->opts.tag;
    q.pool = s->pool;
    q.found = apr_array_make(s->pool, 4, sizeof(candidate));
    rc = spill__absolute_root(s->pool, root, &abs);
    if (rc == SPILL_OK && (rc = spill__judge_begin(&q.c, abs, &o, 1)) == SPILL_ENOTFOUND)
        rc = spill__error(SPILL_ENOTFOUND, "spill_adopt", abs, "no such root");
    if (rc == SPILL_OK) {
        if ((rc = list_candidates(&q)) == SPILL_OK)
            rc = adopt_in(&q, s);
        spill__judge_end(&q.c);
    }
    if (rc != SPILL_OK) {
        spill__handle_free(s);
        return rc;
    }
    spill__log(&o, 2, "spill_adopt: took over %s with %lu chunks", s->path,
               (unsigned long)spill_count(s));
    *out = s;
    return SPILL_OK;
}
