/* error.c (POSIX): maps errno to spill_err once, at the platform boundary. */
#include <errno.h>
#include <string.h>

#include "platform.h"

static int map_errno(int e)
{
    switch (e) {
    case ENOENT: case ENOTDIR: return SPILL_ENOTFOUND;
    case EEXIST: case ENOTEMPTY: case EBUSY: return SPILL_EBUSY;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return SPILL_ENOSPC;
    case ENOMEM: return SPILL_ENOMEM;
    case EACCES: case EPERM: case EROFS: return SPILL_EACCES;
    case ENOLCK: return SPILL_ENOLCK;
    case ELOOP: return SPILL_EUNSAFE;
    case EINVAL: return SPILL_EINVAL;
    default: return SPILL_EIO;
    }
}

int spill__error_os(const char *op, const char *path, int os_error)
{
    return spill__error_set_os(map_errno(os_error), os_error, op, path, strerror(os_error));
}

int spill__error_os_as(int code, const char *op, const char *path, int os_error)
{
    return spill__error_set_os(code, os_error, op, path, strerror(os_error));
}
