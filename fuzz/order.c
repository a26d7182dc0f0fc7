/* order.c: rule 6 (docs/design.md) watched through the operations table while spill_reap runs: an
 * orphan whose lock was taken is renamed (to its trash name) only while that lock is held; in
 * each orphan every other entry goes first, then .lock while its lock is held, then (its lock
 * released by then) the directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "platform.h"

#define MAX_DIRS 256

typedef struct dir_state {
    dev_t dev;
    ino_t ino;
    spill__fd lock_fd;  /* the reaper's lock on its .lock, or SPILL__NOFD */
    int locked_once;    /* a lock was taken: removal must go through it */
    int lock_unlinked;
} dir_state;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* for a reaper with workers */
static dir_state dirs[MAX_DIRS];
static int ndirs, watching;

static dir_state *find(const struct stat *st)
{
    int i;
    for (i = 0; i < ndirs; i++)
        if (dirs[i].dev == st->st_dev && dirs[i].ino == st->st_ino)
            return &dirs[i];
    fz_check(ndirs < MAX_DIRS, "rule 6 watch: more than %d directories", MAX_DIRS);
    memset(&dirs[ndirs], 0, sizeof dirs[ndirs]);
    dirs[ndirs].dev = st->st_dev;
    dirs[ndirs].ino = st->st_ino;
    dirs[ndirs].lock_fd = SPILL__NOFD;
    return &dirs[ndirs++];
}

static int w_lock_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    struct stat st;
    int rc = spill__sys_default.lock_probe(at, name, how, out);
    if (how == SPILL__PROBE_LOCK && rc == SPILL_OK && fstat((int)at, &st) == 0) {
        pthread_mutex_lock(&mu);
        find(&st)->lock_fd = *out;
        find(&st)->locked_once = 1;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static int w_unlock(spill__fd fd)
{
    int i;
    pthread_mutex_lock(&mu);
    for (i = 0; i < ndirs; i++)
        if (dirs[i].lock_fd == fd)
            dirs[i].lock_fd = SPILL__NOFD;
    pthread_mutex_unlock(&mu);
    return spill__sys_default.unlock(fd);
}

/* After a successful unlink of `name` (is_dir: the directory `gone`) from the directory `in`. */
static void removed(const struct stat *in, const char *name, int is_dir, const struct stat *gone)
{
    dir_state *p = find(in), *d;
    if (strcmp(name, ".lock") == 0 && !is_dir && p->locked_once) { /* not a nested one */
        fz_check(p->lock_fd != SPILL__NOFD, "rule 6: .lock unlinked after its lock was released");
        p->lock_unlinked = 1;
        return;
    }
    fz_check(!p->lock_unlinked, "rule 6: %s removed after .lock", name);
    if (!is_dir)
        return;
    d = find(gone);
    fz_check(!d->locked_once || d->lock_unlinked, "rule 6: directory %s removed before its .lock",
             name);
}

/* Only a lock holder renames an orphan (to a trash name, rule 6). */
static int w_rename(spill__fd fa, const char *from, spill__fd ta, const char *to, int replace)
{
    struct stat st;
    int seen = watching && fstatat((int)fa, from, &st, AT_SYMLINK_NOFOLLOW) == 0;
    int rc = spill__sys_default.rename(fa, from, ta, to, replace);
    if (seen && rc == SPILL_OK) {
        dir_state *d;
        pthread_mutex_lock(&mu);
        d = find(&st);
        fz_check(!d->locked_once || (d->lock_fd != SPILL__NOFD && !d->lock_unlinked),
                 "rule 6: %s renamed to %s without holding its lock", from, to);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

/* .lock (and, on close, a spill's directory) is removed with its held descriptor: watched alike */
static int w_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    struct stat in, gone;
    int seen = watching && fstat((int)at, &in) == 0 &&
               fstatat((int)at, name, &gone, AT_SYMLINK_NOFOLLOW) == 0;
    int rc = spill__sys_default.unlink(at, name, is_dir, held);
    if (seen && rc == SPILL_OK) {
        pthread_mutex_lock(&mu);
        removed(&in, name, is_dir, &gone);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

void fz_order_watch(int on)
{
    pthread_mutex_lock(&mu);
    ndirs = 0;
    watching = on;
    spill__sys.lock_probe = on ? w_lock_probe : spill__sys_default.lock_probe;
    spill__sys.unlock = on ? w_unlock : spill__sys_default.unlock;
    spill__sys.unlink = on ? w_unlink : spill__sys_default.unlink;
    spill__sys.rename = on ? w_rename : spill__sys_default.rename;
    pthread_mutex_unlock(&mu);
}
