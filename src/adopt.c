/* adopt.c: spill_adopt: a new owner takes over a dead owner's orphan by its tag, with the chunks
 * the journal proves complete, and everything else in it removed. The lock decides every race:
 * whoever takes the orphan's .lock owns it (docs/on-disk.md, section 10). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "judge.h"

#define TAKE_ATTEMPTS 8 /* of one candidate, each cut short by a fork in another thread */

typedef struct candidate {
    char name[64];
    int64_t started;
} candidate;

typedef struct search {
    spill__judge_ctx c;
    const spill_opts *o;
    const char *tag;
    apr_pool_t *pool;
    apr_array_header_t *found; /* candidate, orphans with the tag */
    int busy;                  /* a live spill carries the tag, or a race was lost */
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

/* First pass: judges every child as the reaper does, notes the orphans carrying the tag and
 * whether a live spill carries it; every lock taken is released again. */
static void look(search *q, const char *name)
{
    spill__verdict v;
    spill__judge(&q->c, name, &v);
    if (v.state == SPILL_LIVE) {
        /* this process's own live spills are not read (rule 5): the registry knows their tag */
        if (spill__registry_has_tag(v.dir_st.dev, v.dir_st.ino, q->tag))
            q->busy = 1;
        spill__judge_read_record(&q->c, &v);
        if (wanted_record(q, &v))
            q->busy = 1;
    } else if (is_orphan(&v) && wanted_record(q, &v)) {
        candidate *k = &APR_ARRAY_PUSH(q->found, candidate);
        strcpy(k->name, name);
        k->started = v.rec.started;
    }
    spill__verdict_release(&v);
}

static int list_candidates(search *q)
{
    spill__dir *d;
    const char *name;
    int rc = spill__sys.list_open(q->c.root_fd, &d);
    apr_array_header_t *names = apr_array_make(q->pool, 16, sizeof(char *));
    int i;
    if (rc != SPILL_OK)
        return spill__error_in(rc, q->c.root);
    while ((rc = spill__sys.list_next(d, &name)) == SPILL_OK && name)
        if (adoptable_name(name))
            APR_ARRAY_PUSH(names, char *) = apr_pstrdup(q->pool, name);
    spill__sys.list_close(d);
    if (rc != SPILL_OK)
        return spill__error_in(rc, q->c.root);
    for (i = 0; i < names->nelts; i++)
        look(q, APR_ARRAY_IDX(names, i, char *));
    return SPILL_OK;
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

static int by_pos(const void *a, const void *b)
{
    const present *x = *(present *const *)a, *y = *(present *const *)b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Keeps each journaled file that is there whole, in the order written. */
static int choose(spill__fd dir_fd, survey *sv, const spill_opts *o)
{
    apr_array_header_t *all = apr_array_make(sv->pool, 64, sizeof(present *));
    apr_hash_index_t *hi;
    int i, rc;
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
    if (sv->pool)
        apr_pool_destroy(sv->pool);
    sv->pool = NULL;
}

/* What the journal does not prove goes: partial chunks, stray files, links, a compaction a
 * death cut short. Dot files it does not know are not its to judge, and stay. */
static int unproven(const survey *sv, const char *name)
{
    uint8_t addr[SPILL_ADDR_LEN];
    const present *p;
    if (name[0] == '.')
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
 * the directory whose lock we took. */
static int hold_dir(search *q, const char *name, spill__verdict *v, int *forked)
{
    spill__stat named, held;
    spill__fd fd;
    uint64_t mark = spill__registry_mark();
    int rc = spill__sys.stat(q->c.root_fd, name, &named);
    if (rc != SPILL_OK || named.dev != v->dir_st.dev || named.ino != v->dir_st.ino)
        return SPILL_EBUSY; /* taken away or replaced meanwhile: a lost race */
    if ((rc = spill__sys.open_dir(q->c.root_fd, name, 1, &fd)) != SPILL_OK)
        return SPILL_EBUSY;
    if (spill__sys.stat(fd, NULL, &held) != SPILL_OK || held.dev != v->dir_st.dev ||
        held.ino != v->dir_st.ino) {
        spill__sys.close(fd);
        return SPILL_EBUSY;
    }
    /* the judge's exclusive directory lock goes with its descriptor (dir_close); a
     * refused shared one means a cleaner walks the directory right now: given up */
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
}

/* Takes over the orphan under its lock: SPILL_OK (s filled), SPILL_EBUSY (a race lost, with
 * *forked set if the race was a fork in another thread: rule 14's window, see
 * spill__registry_hold), SPILL_ENOTFOUND (not adoptable after all), or the error that kept it
 * from being judged (its journal unreadable, say), the orphan left as it was. */
static int take_once(search *q, const char *name, spill_t *s, int *forked)
{
    const char *where = apr_pstrcat(q->pool, q->c.root, SPILL__PATH_SEP, name, NULL);
    spill__verdict v;
    survey sv;
    uint64_t mark = spill__registry_mark(); /* before the judge opens and locks .lock */
    int rc, journal, held = 0;
    *forked = 0;
    memset(&sv, 0, sizeof sv);
    spill__judge(&q->c, name, &v);
    if (!is_orphan(&v) || !wanted_record(q, &v)) {
        rc = v.state == SPILL_LIVE ? SPILL_EBUSY : SPILL_ENOTFOUND;
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
static int take(search *q, const char *name, spill_t *s)
{
    int i, rc = SPILL_EBUSY, forked = 1;
    for (i = 0; i < TAKE_ATTEMPTS && forked; i++)
        rc = take_once(q, name, s, &forked);
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

/* Tries the candidates newest first; a lost race moves on to the next. */
static int adopt_in(search *q, spill_t *s)
{
    int i, rc;
    qsort(q->found->elts, (size_t)q->found->nelts, sizeof(candidate), newest_first);
    for (i = 0; i < q->found->nelts; i++) {
        const char *name = APR_ARRAY_IDX(q->found, i, candidate).name;
        rc = take(q, name, s);
        if (rc == SPILL_OK) {
            s->path = apr_pstrcat(s->pool, q->c.root, SPILL__PATH_SEP, name, NULL);
            s->root_fd = q->c.root_fd; /* the handle's own from now on */
            q->c.root_fd = SPILL__NOFD;
            /* a fork in another thread leaves the child nothing of this spill (rule 14) */
            spill__registry_fds(s->dev, s->ino, s->root_fd, s->dir_fd, s->lock_fd, q->tag);
            return SPILL_OK;
        }
        if (rc == SPILL_EBUSY)
            q->busy = 1;
        else if (rc != SPILL_ENOTFOUND)
            return rc;
    }
    if (q->busy)
        return spill__error(SPILL_EBUSY, "spill_adopt", q->c.root,
                            "only live spills carry the tag %s", q->tag);
    return spill__error(SPILL_ENOTFOUND, "spill_adopt", q->c.root,
                        "no orphan to adopt carries the tag %s", q->tag);
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
