/* lock_flock.c (Linux): the spill lock as flock(LOCK_EX) on .lock. flock locks belong to the
 * open file description, so a second open of .lock in the owner's own process conflicts with the
 * owner's lock (a same-process reaper sees "busy"), and closing that second descriptor drops
 * nothing. Linux emulates flock with fcntl on NFS, which refuses an exclusive lock on a read-only
 * descriptor: .lock is always opened read-write. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

/* LOCK_NB: never wait; EWOULDBLOCK is "busy", anything else is an error (never "free"). */
static int try_lock(int fd, const char *name)
{
    int rc;
    do
        rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return SPILL_OK;
    if (errno == EWOULDBLOCK || errno == EAGAIN)
        return spill__error_os_as(SPILL_EBUSY, "flock", name, errno);
    return spill__error_os("flock", name, errno);
}

int spill__posix_lock_create(spill__fd at, const char *name, spill__fd *out)
{
    int rc, fd = openat((int)at, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return spill__error_os("openat", name, errno);
    if (fchmod(fd, 0600) < 0) /* whatever the umask */
        rc = spill__error_os("fchmod", name, errno);
    else
        rc = try_lock(fd, name);
    if (rc != SPILL_OK) {
        close(fd);
        return rc;
    }
    *out = fd;
    return SPILL_OK;
}

int spill__posix_lock_try(spill__fd at, const char *name, spill__fd *out)
{
    spill__lock_exam ex;
    int rc, fd;
    /* rule 7: examined before it is opened (lock.c names the trap) */
    if ((rc = spill__posix_lock_examine((int)at, name, &ex)) != SPILL_OK)
        return rc;
    if ((rc = spill__posix_lock_reopen(&ex, (int)at, name, O_RDWR, &fd)) != SPILL_OK)
        return rc;
    if ((rc = try_lock(fd, name)) != SPILL_OK) {
        close(fd);
        return rc;
    }
    *out = fd;
    return SPILL_OK;
}

int spill__posix_unlock(spill__fd fd)
{
    flock((int)fd, LOCK_UN);
    if (close((int)fd) < 0 && errno != EINTR)
        return spill__error_os("close", "", errno);
    return SPILL_OK;
}

/* flock locks go only with the last descriptor of their own open file description. */
int spill__posix_close(int fd)
{
    return close(fd);
}
