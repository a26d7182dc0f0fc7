/* spill.c: a spill's life: open (root, reap, space, creation), path, and close. */
#include <string.h>

#include <apr_strings.h>

#include "spill_int.h"

static void close_fds(spill_t *s)
{
    spill__journal_close(s);
    if (s->lock_fd != SPILL__NOFD)
        spill__sys.close(s->lock_fd);
    spill__sys.dir_close(&s->dir_fd); /* its shared lock (rule 13), then the descriptor */
    if (s->root_fd != SPILL__NOFD)
        spill__sys.close(s->root_fd);
}

static void destroy(spill_t *s)
{
    spill__order_free(&s->order);
    apr_pool_destroy(s->pool);
}

void spill__handle_free(spill_t *s)
{
    close_fds(s);
    destroy(s);
}

int spill__handle_new(const spill_opts *opts, spill_t **out)
{
    apr_pool_t *pool;
    spill_t *s;
    int rc;
    /* a pool of the handle's own (rule 14); one handle is used by one thread at a time */
    if ((rc = spill__pool_new(&pool)) != SPILL_OK)
        return rc;
    s = apr_pcalloc(pool, sizeof *s);
    s->pool = pool;
    s->pid = spill__getpid();
    s->root_fd = s->dir_fd = s->lock_fd = s->journal_fd = SPILL__NOFD;
    s->opts = *opts;
    if (opts->tag)
        s->opts.tag = apr_pstrdup(pool, opts->tag);
    s->opts.log = NULL; /* the handle's calls log nothing; a background reap keeps its own copy
                           of the options, log callback included (background.c) */
    s->journaling = opts->keep_seconds > 0;
    s->index = apr_hash_make(pool);
    *out = s;
    return SPILL_OK;
}

static int open_root(spill_t *s, const char *root, const spill_opts *o, char **abs)
{
    int rc = spill__absolute_root(s->pool, root, abs);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = spill__mkdir_parents(*abs)) != SPILL_OK)
        return rc;
    if ((rc = spill__sys.open_dir(SPILL__NOFD, *abs, 0, &s->root_fd)) != SPILL_OK)
        return rc;
    return spill__root_safe(s->root_fd, *abs, o);
}

static int check_expected(const spill_opts *o, const char *root)
{
    uint64_t need;
    if (!o->expected_bytes)
        return SPILL_OK;
    need = o->expected_bytes + o->expected_bytes / 10;
    if (need < o->expected_bytes)
        need = UINT64_MAX;
    return spill_check_space(root, need);
}

/* Short of space for expected_bytes: resumable orphans go too, then the space is checked again. */
static int reap_resumable(const spill_opts *o, const char *root)
{
    spill_opts r = *o;
    r.reap_resumable = 1;
    spill__log(o, 2, "spill_open: short of space under %s: removing resumable orphans", root);
    spill__reap_on_open(root, &r);
    return check_expected(o, root);
}

/* The reservation (reserve.c): refused, the new spill goes again (closed) and the open fails.
 * Failing otherwise, it fails the open only when the caller asked for space or a limit. */
static int first_lease(spill_t *s, const char *abs, const spill_opts *o, int64_t deadline_us)
{
    int rc;
    s->root = apr_pstrdup(s->pool, abs);
    if ((rc = spill__reserve_first(s, o, deadline_us)) == SPILL_OK)
        return SPILL_OK;
    if (rc != SPILL_ENOSPC && !o->expected_bytes && !o->root_limit_bytes) {
        spill__log(o, 1, "spill_open: %s holds no reservation yet: %s", s->path,
                   spill_error_last()->message);
        return SPILL_OK;
    }
    spill__error_stash();
    spill_close(s);
    spill__error_unstash();
    return rc;
}

int spill_open(const char *root, const spill_opts *opts, spill_t **out)
{
    spill_opts o;
    spill_t *s = NULL;
    char *abs = NULL;
    int64_t deadline_us = 0; /* rule 10: the whole open's, its reservation's included */
    int rc;
    if (out)
        *out = NULL;
    if (!root || !*root || !out)
        return spill__error(SPILL_EINVAL, "spill_open", "", "root and out must be given");
    if ((rc = spill__init()) != SPILL_OK || (rc = spill__opts_check(opts, &o)) != SPILL_OK)
        return rc;
    if (o.dry_run)
        return spill__error(SPILL_EINVAL, "spill_open", root,
                            "dry_run is for spill_reap: spill_open always creates");
    if (o.reap_budget_ms)
        deadline_us = spill__monotonic_us() + (int64_t)o.reap_budget_ms * 1000;
    if ((rc = spill__handle_new(&o, &s)) != SPILL_OK)
        return rc;
    rc = open_root(s, root, &o, &abs);
    if (rc == SPILL_OK && o.reap_on_open == SPILL_REAP_SYNC)
        spill__reap_on_open(abs, &o);
    else if (rc == SPILL_OK && o.reap_on_open == SPILL_REAP_BACKGROUND &&
             check_expected(&o, abs) != SPILL_OK)
        spill__reap_on_open(abs, &o); /* short of space: the reap cannot wait */
    if (rc == SPILL_OK)
        rc = check_expected(&o, abs);
    if (rc == SPILL_ENOSPC && o.reap_on_open && !o.reap_resumable)
        rc = reap_resumable(&o, abs); /* space beats resumability (rule 4) */
    if (rc == SPILL_OK)
        rc = spill__create(s, abs);
    if (rc != SPILL_OK) {
        spill__handle_free(s);
        return rc;
    }
    /* from here a fork in another thread leaves the child nothing of this spill (rule 14) */
    spill__registry_fds(s->dev, s->ino, s->root_fd, s->dir_fd, s->lock_fd, s->opts.tag);
    s->path = apr_pstrcat(s->pool, abs, SPILL__PATH_SEP, s->name, NULL);
    if ((rc = first_lease(s, abs, &o, deadline_us)) != SPILL_OK)
        return rc;
    /* after creation: the new spill is registered and locked, so its reaper skips it */
    if (o.reap_on_open == SPILL_REAP_BACKGROUND)
        spill__background_attach(s, abs, &o);
    spill__log(&o, 3, "spill_open: created %s", s->path);
    *out = s;
    return SPILL_OK;
}

const char *spill_path(const spill_t *s)
{
    if (!s || s->pid != spill__getpid())
        return NULL;
    return s->path;
}

/* 1 if the directory under its name and its .lock are still the ones this handle made. */
static int still_ours(spill_t *s, int *dir_ok, int *lock_ok)
{
    spill__stat named, lk, here;
    *dir_ok = spill__sys.stat(s->root_fd, s->name, &named) == SPILL_OK &&
              named.dev == s->dev && named.ino == s->ino;
    *lock_ok = spill__sys.stat(s->lock_fd, NULL, &lk) == SPILL_OK &&
               spill__sys.stat(s->dir_fd, SPILL__LOCK_NAME, &here) == SPILL_OK &&
               lk.dev == here.dev && lk.ino == here.ino;
    return *dir_ok && *lock_ok;
}

static void release_lock(spill_t *s)
{
    if (s->lock_fd != SPILL__NOFD)
        spill__sys.unlock(s->lock_fd);
    s->lock_fd = SPILL__NOFD;
}

/* Through rule 6's one order (remove.c). What is no longer ours is left and reported as
 * SPILL_ELOST: a name that is not our directory is neither renamed nor removed, a .lock that
 * is not ours is kept. */
static int remove_all(spill_t *s)
{
    spill__doomed d;
    int dir_ok, lock_ok, rc;
    still_ours(s, &dir_ok, &lock_ok);
    memset(&d, 0, sizeof d);
    d.root = apr_pstrndup(s->pool, s->path, strlen(s->path) - strlen(s->name) - 1);
    d.root_fd = s->root_fd;
    apr_cpystrn(d.name, s->name, sizeof d.name);
    d.dir_fd = &s->dir_fd;
    d.lock_fd = &s->lock_fd;
    d.dev = s->dev;
    d.ino = s->ino;
    d.lock_ours = lock_ok;
    d.owner = 1;
    rc = spill__remove_dir(&d);
    if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
        return rc;
    if (!dir_ok || !lock_ok)
        return spill__error(SPILL_ELOST, "spill_close", s->path,
                            "the spill's %s was taken away while it was open",
                            dir_ok ? "lock file" : "directory");
    return SPILL_OK;
}

int spill_close(spill_t *s)
{
    int rc;
    if (!s)
        return spill__error(SPILL_EINVAL, "spill_close", "", "NULL handle");
    if (s->pid != spill__getpid()) {
        /* Rule 14: in a forked child the fork handler has already closed the child's copies of
         * this handle's descriptors (never unlocking, which would release the parent's lock);
         * the numbers may have been reused since, and the handle's memory may have been
         * mid-update in a parent thread at the fork: it is only forgotten, nothing is freed. */
        return spill__error(SPILL_EFORKED, "spill_close", "",
                            "handle closed in a forked child: the parent's spill is left intact");
    }
    if ((rc = spill__background_detach(s)) != SPILL_OK)
        return rc; /* from its own reap's callback: s stays open */
    /* the fork handler must not close these numbers once they are closed here and reused */
    spill__registry_fds(s->dev, s->ino, SPILL__NOFD, SPILL__NOFD, SPILL__NOFD, s->opts.tag);
    spill__journal_close(s); /* an open file would keep its directory on Windows */
    rc = remove_all(s);
    release_lock(s);
    spill__registry_remove(s->dev, s->ino);
    close_fds(s);
    destroy(s);
    return rc;
}

const char *spill_version(void)
{
#define STR2(x) #x
#define STR(x) STR2(x)
    return STR(SPILL_VERSION_MAJOR) "." STR(SPILL_VERSION_MINOR) "." STR(SPILL_VERSION_PATCH);
}

int spill_default_root(const char *app, char *buf, size_t size)
{
    char dir[4096];
    int rc;
    if (!app || !*app || !buf || !size)
        return spill__error(SPILL_EINVAL, "spill_default_root", "", "app and buf must be given");
    if ((rc = spill__data_dir(app, dir, sizeof dir)) != SPILL_OK)
        return rc;
    if (strlen(dir) + strlen(SPILL__PATH_SEP "spill") + 1 > size)
        return spill__error(SPILL_ERANGE, "spill_default_root", dir, "buffer of %lu bytes too small",
                            (unsigned long)size);
    strcpy(buf, dir);
    strcat(buf, SPILL__PATH_SEP "spill");
    return SPILL_OK;
}

int spill_check_space(const char *root, uint64_t bytes)
{
    uint64_t avail;
    int rc;
    if (!root || !*root)
        return spill__error(SPILL_EINVAL, "spill_check_space", "", "root must be given");
    if ((rc = spill__sys.space(root, &avail)) != SPILL_OK)
        return rc;
    if (avail < bytes)
        return spill__error(SPILL_ENOSPC, "statvfs", root,
                            "%llu bytes free, %llu needed", (unsigned long long)avail,
                            (unsigned long long)bytes);
    return SPILL_OK;
}
