/* create.c: makes a spill directory that no reaper can ever judge an orphan while its creator
 * lives (docs/on-disk.md, section 7). On POSIX the directory is built under a staging name that
 * no reaper takes for a spill, locked and recorded there, and only then renamed into place. On
 * Windows, where a directory with an open file inside cannot be renamed, it is created under
 * its final name and held open, so that no reaper can delete it, from the moment it exists. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "spill_int.h"

#define CREATE_ATTEMPTS 8
/* and as many again for each attempt a fork in another thread cost (rule 14's window, a few
 * system calls long: a host forking that often is one to wait out, not to fail) */
#define FORK_RETRIES 64

/* Test builds can pause or fail at each step (SPILL_TEST_HOOKS); a no-op otherwise. */
#ifdef SPILL_TEST_HOOKS
int (*spill__step_hook)(const char *step);
#define STEP(name) (spill__step_hook ? spill__step_hook(name) : SPILL_OK)
#else
#define STEP(name) SPILL_OK
#endif

typedef struct attempt {
    char stage[64], final[64];
    uint64_t secs, rnd;
    spill__fd dir_fd, lock_fd;
    spill__stat dir_st;
    uint64_t mark; /* forks begun before dir_fd was opened (rule 14) */
    int published, registered, lock_tried, forked;
} attempt;

static int same_file(const spill__stat *a, const spill__stat *b)
{
    return a->dev == b->dev && a->ino == b->ino;
}

/* Undoes what this attempt made, and only that: by identity, never by name alone. */
static void undo(spill_t *s, attempt *a)
{
    const char *name = a->published ? a->final : a->stage;
    spill__stat st;
    /* the fork handler must not close these numbers once they are closed here and reused */
    if (a->registered)
        spill__registry_fds(a->dir_st.dev, a->dir_st.ino, SPILL__NOFD, SPILL__NOFD,
                            SPILL__NOFD, NULL);
    if (a->lock_fd != SPILL__NOFD) {
        spill__stat lk, here;
        if (spill__sys.stat(a->lock_fd, NULL, &lk) == SPILL_OK &&
            spill__sys.stat(a->dir_fd, SPILL__LOCK_NAME, &here) == SPILL_OK &&
            same_file(&lk, &here))
            spill__sys.unlink(a->dir_fd, SPILL__LOCK_NAME, 0, &a->lock_fd);
        spill__sys.unlock(a->lock_fd);
        a->lock_fd = SPILL__NOFD;
    } else if (a->lock_tried && a->dir_fd != SPILL__NOFD) {
        /* A lock_create whose lock call failed leaves the new .lock behind. Left there it
         * keeps the directory from being removed, and where locking fails for good (ENOLCK
         * on a filesystem without locks) no reaper can take it either: every retrying open
         * would leave one more. The directory is this attempt's own (dir_fd), so is its .lock. */
        spill__sys.unlink(a->dir_fd, SPILL__LOCK_NAME, 0, NULL);
    }
    if (a->dir_fd != SPILL__NOFD) {
        if (spill__sys.stat(s->root_fd, name, &st) == SPILL_OK && same_file(&st, &a->dir_st))
            spill__sys.unlink(s->root_fd, name, 1, &a->dir_fd);
        spill__sys.dir_close(&a->dir_fd);
    }
    if (a->registered)
        spill__registry_remove(a->dir_st.dev, a->dir_st.ino);
    a->registered = 0;
}

/* POSIX: the staging directory, made and then opened. */
static int make_stage(spill_t *s, attempt *a)
{
    int rc = spill__sys.mkdir(s->root_fd, a->stage, 0700, NULL);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = STEP("mkdir")) != SPILL_OK)
        return rc;
    a->mark = spill__registry_mark(); /* rule 14: the window opens with the descriptor */
    return spill__sys.open_dir(s->root_fd, a->stage, 0, &a->dir_fd);
}

/* Windows: the final directory, created and held open in one step. Until .lock is locked a
 * reaper finds no lock here, but its delete meets our handle's sharing violation. */
static int make_final(spill_t *s, attempt *a)
{
    int rc;
    a->mark = spill__registry_mark();
    rc = spill__sys.mkdir(s->root_fd, a->final, 0700, &a->dir_fd);
    a->published = rc == SPILL_OK;
    return rc;
}

/* The spill directory, open and registered as ours. */
static int make_dir(spill_t *s, attempt *a)
{
    int staged = spill__platform_stages();
    int rc = staged ? make_stage(s, a) : make_final(s, a);
    if (rc == SPILL_OK)
        rc = spill__sys.stat(a->dir_fd, NULL, &a->dir_st); /* undo needs it */
    /* rule 13: the host cleaners' shared lock, for the spill's whole life, from the moment the
     * directory is open: systemd-tmpfiles never ages out a directory so locked. Refused: a
     * cleaner is walking this very directory, so start again under a new name (SPILL_EBUSY) */
    if (rc == SPILL_OK && (rc = spill__sys.dir_lock(a->dir_fd, SPILL__DLOCK_SH)) == SPILL_EBUSY)
        rc = spill__error(SPILL_EBUSY, "flock", a->stage,
                          "a cleaner holds the new directory's lock");
    if (rc == SPILL_OK && (rc = spill__registry_add(a->dir_st.dev, a->dir_st.ino)) == SPILL_OK)
        a->registered = 1;
    /* rule 14: a child forked since the mark may keep the shared lock: start again */
    if (rc == SPILL_OK &&
        (rc = spill__registry_hold(a->dir_st.dev, a->dir_st.ino, SPILL__REG_DIR, a->dir_fd,
                                   a->mark)) != SPILL_OK)
        a->forked = 1;
    if (rc == SPILL_OK && !staged)
        rc = STEP("mkdir");
    return rc;
}

/* .lock created and locked, checked to be still the one in our directory, record written. */
static int lock_and_record(spill_t *s, attempt *a)
{
    spill__stat held, here;
    char rec[SPILL__RECORD_MAX], host[256];
    size_t n;
    uint64_t mark = spill__registry_mark();
    int rc;
    a->lock_tried = 1;
    rc = spill__sys.lock_create(a->dir_fd, SPILL__LOCK_NAME, &a->lock_fd);
    if (rc != SPILL_OK)
        return rc;
    /* rule 14: a child forked since the mark may share the new lock: undone, made again */
    if ((rc = spill__registry_hold(a->dir_st.dev, a->dir_st.ino, SPILL__REG_LOCK, a->lock_fd,
                                   mark)) != SPILL_OK) {
        a->forked = 1;
        return rc;
    }
    if ((rc = STEP("lock")) != SPILL_OK)
        return rc;
    if ((rc = spill__sys.stat(a->lock_fd, NULL, &held)) != SPILL_OK ||
        (rc = spill__sys.stat(a->dir_fd, SPILL__LOCK_NAME, &here)) != SPILL_OK)
        return rc;
    if (!same_file(&held, &here) || held.nlink != 1 || held.type != SPILL__F_REG)
        return spill__error(SPILL_EBUSY, "check", SPILL__LOCK_NAME,
                            "lock file replaced while creating");
    spill__hostname(host, sizeof host);
    n = spill__record_format(rec, sizeof rec, a->rnd, s->pid, host, (int64_t)a->secs,
                             s->opts.keep_seconds, s->opts.tag);
    if ((rc = spill__sys.write(a->lock_fd, rec, n, 0)) != SPILL_OK)
        return rc;
    return STEP("record");
}

/* Renames the staging directory into place and checks the final name is still ours. */
static int publish(spill_t *s, attempt *a)
{
    spill__stat st;
    int rc = spill__sys.rename(s->root_fd, a->stage, s->root_fd, a->final, 0);
    if (rc != SPILL_OK)
        return rc;
    a->published = 1;
    if ((rc = STEP("rename")) != SPILL_OK)
        return rc;
    if ((rc = spill__sys.stat(s->root_fd, a->final, &st)) != SPILL_OK)
        return rc;
    if (!same_file(&st, &a->dir_st))
        return spill__error(SPILL_EBUSY, "check", a->final, "directory replaced while creating");
    return SPILL_OK;
}

static int try_once(spill_t *s, attempt *a)
{
    int rc;
    a->secs = (uint64_t)spill__now();
    a->rnd = spill__random_u64();
    snprintf(a->stage, sizeof a->stage, SPILL__STAGE_PREFIX "%llu_%llu",
             (unsigned long long)a->secs, (unsigned long long)a->rnd);
    snprintf(a->final, sizeof a->final, SPILL__NAME_PREFIX "%llu_%llu",
             (unsigned long long)a->secs, (unsigned long long)a->rnd);
    if ((rc = make_dir(s, a)) != SPILL_OK || (rc = lock_and_record(s, a)) != SPILL_OK)
        return rc;
    return spill__platform_stages() ? publish(s, a) : SPILL_OK;
}

/* Interference (a name taken, a file replaced, the directory taken away) is retried under a
 * new name; any other failure is returned at once. */
static int retryable(int rc)
{
    return rc == SPILL_EBUSY || rc == SPILL_ENOTFOUND || rc == SPILL_ELOST;
}

int spill__create(spill_t *s, const char *root)
{
    int i, forks = 0, rc = SPILL_EIO;
    for (i = 0; i < CREATE_ATTEMPTS; i++) {
        attempt a;
        memset(&a, 0, sizeof a);
        a.dir_fd = a.lock_fd = SPILL__NOFD;
        rc = try_once(s, &a);
        if (rc == SPILL_OK) {
            s->dir_fd = a.dir_fd;
            s->lock_fd = a.lock_fd;
            s->dev = a.dir_st.dev;
            s->ino = a.dir_st.ino;
            s->name = apr_pstrdup(s->pool, a.final);
            return SPILL_OK;
        }
        spill__error_in(rc, root);
        spill__error_stash();
        undo(s, &a);
        spill__error_unstash();
        if (!retryable(rc))
            return rc;
        if (a.forked && forks++ < FORK_RETRIES)
            i--;
        spill__log(&s->opts, 2, "spill_open: retrying creation under %s: %s", root,
                   spill_error_last()->message);
    }
    return rc;
}
