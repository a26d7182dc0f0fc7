/* lockfile.c (POSIX): opening and checking an existing .lock, shared by both lock backends.
 * Any doubt is "unsafe" or an error, never "free" (SPEC.md rule 7). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

int spill__posix_open_lock(int at, const char *name)
{
    /* O_NONBLOCK: a FIFO planted as .lock must not block the reaper; O_NOCTTY: nor may a
     * terminal device become our controlling terminal */
    return openat(at, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

int spill__posix_open_lock_error(const char *name, int err)
{
    switch (err) {
    case ELOOP:   /* a symlink */
    case EISDIR:  /* a directory */
    case ENXIO:   /* a socket, or a FIFO's other side */
    case ENODEV:
    case EOPNOTSUPP:
    case ETXTBSY:
        return spill__error_os_as(SPILL_EUNSAFE, "openat", name, err);
    default:
        return spill__error_os("openat", name, err);
    }
}

int spill__posix_check_lock_shape(int fd, const char *name)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return spill__error_os("fstat", name, errno);
    if (!S_ISREG(st.st_mode))
        return spill__error_set_os(SPILL_EUNSAFE, 0, "fstat", name,
                                   "lock file is not a regular file");
    if (st.st_nlink != 1)
        return spill__error_set_os(SPILL_EUNSAFE, 0, "fstat", name,
                                   "lock file has more than one link");
    return SPILL_OK;
}
