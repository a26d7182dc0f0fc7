/* root.c (POSIX): rule 11, whether a root is safe to create and reap in. Others who can
 * write to the root could plant entries in it, or swap ours, so such roots are refused, except
 * sticky ones owned by root (like /tmp), where others cannot remove or rename our entries. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

static int refuse(const char *path, const char *why)
{
    return spill__error_set_os(SPILL_EUNSAFE, 0, "root", path, why);
}

int spill__root_check(spill__fd root_fd, const char *path, int tighten, int *tightened)
{
    struct stat st;
    uid_t me = geteuid();
    int others_write = 0, sticky;
    *tightened = 0;
    if (fstat((int)root_fd, &st) < 0)
        return spill__error_os("fstat", path, errno);
    others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    sticky = (st.st_mode & S_ISVTX) != 0;
    if (st.st_uid == me) {
        if (others_write && !sticky) {
            /* ours but loose (another client made it under a loose umask): tighten it */
            if (tighten && fchmod((int)root_fd, 0700) < 0)
                return spill__error_os("fchmod", path, errno);
            *tightened = 1;
        }
        return SPILL_OK;
    }
    if (st.st_uid != 0)
        return refuse(path, sticky ? "sticky but owned by another user"
                                   : "owned by another user");
    if (others_write && !sticky)
        return refuse(path, "owned by root and writable by others without the sticky bit");
    return SPILL_OK;
}
