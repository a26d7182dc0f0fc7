/* security.c (POSIX): where the root lives and whether it is safe: the data directory, the
 * root's path made absolute and created 0700, and rule 11's check of who may write to it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"

int spill__path_is_absolute(const char *path)
{
    return path[0] == '/';
}

int spill__getcwd(char *buf, size_t size)
{
    if (!getcwd(buf, size))
        return spill__error_os("getcwd", "", errno);
    return SPILL_OK;
}

/* mkdir -p with mode 0700 for what it creates; existing components are left as they are. */
int spill__mkdir_parents(const char *path)
{
    char buf[4096];
    size_t i, n = strlen(path);
    if (n >= sizeof buf)
        return spill__error_os("mkdir", path, ENAMETOOLONG);
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return spill__error_os("mkdir", buf, errno);
        buf[i] = path[i];
    }
    return SPILL_OK;
}

int spill__data_dir(const char *app, char *buf, size_t size)
{
    const char *home = getenv("HOME");
    int n;
#if defined(__APPLE__)
    if (!home || !*home)
        return spill__error_set_os(SPILL_ENOTFOUND, 0, "getenv", "HOME", "HOME is not set");
    n = snprintf(buf, size, "%s/Library/Application Support/%s", home, app);
#else
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/') /* the XDG spec says a relative value is to be ignored */
        n = snprintf(buf, size, "%s/%s", xdg, app);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/share/%s", home, app);
    else
        return spill__error_set_os(SPILL_ENOTFOUND, 0, "getenv", "HOME",
                                   "neither XDG_DATA_HOME nor HOME is set");
#endif
    if (n < 0 || (size_t)n >= size)
        return spill__error_set_os(SPILL_ERANGE, 0, "spill_default_root", "", "path too long");
    return SPILL_OK;
}

/* Rule 11: others who can write to the root could plant entries in it, or swap ours, so such
 * roots are refused, except sticky ones owned by root (like /tmp), where others cannot remove
 * or rename our entries. */
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
