/* lock_fcntl.c (POSIX other than Linux; on Linux with SPILL_LOCK_BACKEND=fcntl): the spill lock
 * as fcntl(F_SETLK, F_WRLCK) over the whole of .lock, with a process-wide table of the .lock
 * files this process holds, which closes the three traps of fcntl record locks (SQLite's
 * os_unix.c unixInodeInfo is the model).
 *
 * TRAP 1, locks belong to the process: F_SETLK on a file this process already locks succeeds,
 *   so a reaper in an owner's own process would take a live spill for an orphan. A probe looks
 *   the inode up in the table (fstatat, before it opens anything) and reports it busy.
 * TRAP 2, the first close() of ANY descriptor on a file drops all the process's locks on it, so
 *   a probe that merely opened and closed a live .lock would unlock it. The table is checked
 *   before opening; a descriptor that turns out to be on one of ours anyway (the name was
 *   replaced between fstatat and open) is parked in the table, not closed, until the owner
 *   unlocks; so is any descriptor the core closes through spill__sys.close (a record read
 *   through a second descriptor). Every such close is made under the table's mutex, so no
 *   thread can lock an inode between the check and the close.
 * TRAP 3, locks are not inherited by fork but survive exec: a forked child holds none of its
 *   parent's locks, so the table it inherits is wrong there; the table remembers the process it
 *   belongs to and is emptied in any other. Descriptors are O_CLOEXEC: a program exec'd from a
 *   fork never sees them, and a process that execs itself releases its locks as it goes.
 *
 * F_OFD_SETLK (Linux, open-file-description locks) would avoid traps 1 and 2 there, but it is
 * not used: the Linux leg of the tests would then never meet the traps that macOS and the BSDs
 * hit, and the table (which stays in any case) would go untested. Classic F_SETLK everywhere. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

#ifdef SPILL_FCNTL_NO_TABLE
#define USE_TABLE 0 /* only to prove that the tests catch traps 1 and 2: never for real use */
#else
#define USE_TABLE 1
#endif

/* One .lock this process holds locked, with the descriptors parked on it (trap 2). */
typedef struct held {
    dev_t dev;
    ino_t ino;
    int fd;         /* the descriptor that holds the lock; unlock(fd) ends the entry */
    int *parked;    /* other descriptors on the same inode, closed only when it is unlocked */
    size_t nparked, cap;
    struct held *next;
} held;

static held *table;
static pid_t table_pid; /* the process the table describes (trap 3) */

/* TRAP 3: in a forked child the inherited entries are not its locks. Its copies of parked
 * descriptors are closed (it holds no lock that closing could drop); the holders' descriptors
 * belong to spill handles, which close their own copies. */
static void forget_inherited(void)
{
    while (table) {
        held *h = table;
        size_t i;
        table = h->next;
        for (i = 0; i < h->nparked; i++)
            close(h->parked[i]);
        free(h->parked);
        free(h);
    }
}

static void table_enter(void)
{
    /* SPILL__MU_LOCKS: the fork handler (process.c) takes it before a fork, so a child never
     * inherits it locked; taken after the registry's, never before it */
    spill__mutex_lock(SPILL__MU_LOCKS);
    if (table_pid != getpid()) {
        forget_inherited();
        table_pid = getpid();
    }
}

static void table_leave(void)
{
    spill__mutex_unlock(SPILL__MU_LOCKS);
}

/* Under the mutex. */
static held *find(dev_t dev, ino_t ino)
{
    held *h;
    if (!USE_TABLE)
        return NULL;
    for (h = table; h; h = h->next)
        if (h->dev == dev && h->ino == ino)
            return h;
    return NULL;
}

static int is_ours(dev_t dev, ino_t ino)
{
    int ours;
    table_enter();
    ours = find(dev, ino) != NULL;
    table_leave();
    return ours;
}

/* Under the mutex: records that fd holds the lock on its inode. */
static int hold(int fd, const struct stat *st, const char *name)
{
    held *h;
    if (!USE_TABLE)
        return SPILL_OK;
    if (!(h = calloc(1, sizeof *h)))
        return spill__error_os("calloc", name, ENOMEM);
    h->dev = st->st_dev;
    h->ino = st->st_ino;
    h->fd = fd;
    h->next = table;
    table = h;
    return SPILL_OK;
}

/* Under the mutex: TRAP 2, fd is on an inode we hold, so closing it would drop our lock. If
 * there is no memory to remember it, it is left open: a leaked descriptor, not a lost lock. */
static void park(held *h, int fd)
{
    if (h->nparked == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 4;
        int *p = realloc(h->parked, cap * sizeof *p);
        if (!p)
            return;
        h->parked = p;
        h->cap = cap;
    }
    h->parked[h->nparked++] = fd;
}

/* Under the mutex: closes a .lock descriptor this process does not hold, or parks it. A
 * descriptor whose inode cannot be told is left open rather than risk trap 2. */
static void release(int fd)
{
    struct stat st;
    held *h;
    if (fstat(fd, &st) < 0)
        return;
    if ((h = find(st.st_dev, st.st_ino)))
        park(h, fd);
    else
        close(fd);
}

/* Never waits; EACCES or EAGAIN is "busy", anything else (ENOLCK...) an error, never "free". */
static int try_lock(int fd, const char *name)
{
    struct flock fl;
    int rc;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0; /* to the end of the file, however far it grows */
    do
        rc = fcntl(fd, F_SETLK, &fl);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return SPILL_OK;
    if (errno == EACCES || errno == EAGAIN)
        return spill__error_os_as(SPILL_EBUSY, "fcntl", name, errno);
    return spill__error_os("fcntl", name, errno);
}

static int busy_here(const char *name)
{
    return spill__error_set_os(SPILL_EBUSY, 0, "lock", name, "locked by this process");
}

/* Under the mutex: locks fd unless its inode is already ours (then parks it: traps 1 and 2),
 * and records it. On failure fd is closed or parked; on success it holds the lock. */
static int claim(int fd, const char *name, int check_shape)
{
    struct stat st;
    held *h;
    int rc;
    if (fstat(fd, &st) < 0) {
        rc = spill__error_os("fstat", name, errno);
        release(fd);
        return rc;
    }
    if ((h = find(st.st_dev, st.st_ino))) {
        park(h, fd);
        return busy_here(name);
    }
    rc = check_shape ? spill__posix_check_lock_shape(fd, name) : SPILL_OK;
    if (rc == SPILL_OK)
        rc = try_lock(fd, name);
    if (rc == SPILL_OK)
        rc = hold(fd, &st, name);
    if (rc != SPILL_OK)
        close(fd); /* not an inode of ours (checked above, under the same mutex) */
    return rc;
}

static int claim_locked(int fd, const char *name, int check_shape)
{
    int rc;
    table_enter();
    rc = claim(fd, name, check_shape);
    table_leave();
    return rc;
}

int spill__posix_lock_create(spill__fd at, const char *name, spill__fd *out)
{
    int rc, fd = openat((int)at, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    if (fchmod(fd, 0600) < 0) { /* whatever the umask */
        rc = spill__error_os("fchmod", name, errno);
        table_enter();
        release(fd); /* a same-process probe may already hold the new file */
        table_leave();
        return rc;
    }
    if ((rc = claim_locked(fd, name, 0)) == SPILL_OK)
        *out = fd;
    return rc;
}

int spill__posix_lock_try(spill__fd at, const char *name, spill__fd *out)
{
    spill__lock_exam ex;
    int rc, fd;
    /* rule 7: examined before it is opened (lock.c names the trap); TRAPS 1 and 2: one
     * of ours is busy, and is never even opened */
    if ((rc = spill__posix_lock_examine((int)at, name, &ex)) != SPILL_OK)
        return rc;
    if (is_ours(ex.st.st_dev, ex.st.st_ino)) {
        spill__posix_lock_exam_done(&ex);
        return busy_here(name);
    }
    if (spill__posix_knobs.fcntl_probe_hook)
        spill__posix_knobs.fcntl_probe_hook(at, name);
    if ((rc = spill__posix_lock_reopen(&ex, (int)at, name, O_RDWR, &fd)) != SPILL_OK)
        return rc;
    /* the name may now be one of ours after all: claim checks again and parks it */
    if ((rc = claim_locked(fd, name, 1)) == SPILL_OK)
        *out = fd;
    return rc;
}

/* Under the mutex: takes fd's entry out of the table; NULL if fd holds none. */
static held *take(int fd)
{
    held **p;
    for (p = &table; *p; p = &(*p)->next)
        if ((*p)->fd == fd) {
            held *h = *p;
            *p = h->next;
            return h;
        }
    return NULL;
}

/* Under the mutex: the lock fd holds is released, with every descriptor parked on its inode.
 * All are closed under the mutex: no thread may lock the inode before the last is closed. */
static int let_go(int fd)
{
    struct flock fl;
    held *h;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fcntl(fd, F_SETLK, &fl);
    if ((h = take(fd))) {
        size_t i;
        for (i = 0; i < h->nparked; i++)
            close(h->parked[i]);
        free(h->parked);
        free(h);
    }
    return close(fd);
}

int spill__posix_unlock(spill__fd fd)
{
    int rc, err;
    table_enter();
    rc = let_go((int)fd);
    err = errno;
    table_leave();
    if (rc < 0 && err != EINTR)
        return spill__error_os("close", "", err);
    return SPILL_OK;
}

/* TRAP 2 for the rest of the core: a descriptor on a .lock this process holds (a record read
 * through a second descriptor, say) is parked, not closed; closing the holder itself is an
 * unlock. Anything else is a plain close. */
int spill__posix_close(int fd)
{
    struct stat st;
    held *h;
    int rc = 0, err = 0;
    table_enter();
    if (fstat(fd, &st) == 0 && (h = find(st.st_dev, st.st_ino))) {
        if (h->fd == fd)
            rc = let_go(fd);
        else
            park(h, fd);
    } else {
        rc = close(fd);
    }
    err = errno;
    table_leave();
    errno = err; /* the caller reads close()'s errno */
    return rc;
}
