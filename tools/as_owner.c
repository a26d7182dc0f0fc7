/* as_owner.c: `spill reap --as-owner` (and `ls`): run by root (the system manager's timer), it
 * first becomes the user and group that own the root, since rule 11 refuses a root owned by
 * another user and judges another user's directories unsafe. Only root may ask. */
#if !defined(_WIN32)
#define _DEFAULT_SOURCE /* setgroups (glibc) */
#define _DARWIN_C_SOURCE
#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>
#endif
#include <string.h>

#include "cli.h"

#ifdef _WIN32
int spill__cli_as_owner_allowed(const char *cmd)
{
    return spill__cli_usage_error(cmd, "--as-owner is for POSIX systems: a Windows task "
                                       "runs as the root's owner instead");
}

int spill__cli_as_owner(const char *cmd, const char *root)
{
    (void)root;
    return spill__cli_as_owner_allowed(cmd);
}

const char *spill__cli_as_owner_hint(const char *cmd, const char *message)
{
    (void)cmd, (void)message;
    return "";
}
#else
static int failed(const char *cmd, const char *root, const char *what)
{
    spill__cli_line(stderr, "spill %s: %s: --as-owner: %s: %s", cmd, root, what,
                    strerror(errno));
    return SPILL_CLI_ERRORS;
}

const char *spill__cli_as_owner_hint(const char *cmd, const char *message)
{
    if (geteuid() != 0 || !message || !strstr(message, "owned by another user") ||
        (strcmp(cmd, "reap") != 0 && strcmp(cmd, "ls") != 0))
        return "";
    return "; as root, add --as-owner to act as the root's owner";
}

int spill__cli_as_owner_allowed(const char *cmd)
{
    if (geteuid() != 0)
        return spill__cli_usage_error(cmd, "--as-owner needs root (it switches to the user "
                                           "owning the root); as that user, run it without");
    return SPILL_CLI_OK;
}

int spill__cli_as_owner(const char *cmd, const char *root)
{
    struct stat st;
    int rc;
    if ((rc = spill__cli_as_owner_allowed(cmd)) != SPILL_CLI_OK)
        return rc;
    /* the root's own owner, through a link as spill_reap follows one */
    if (stat(root, &st) != 0) {
        if (errno == ENOENT)
            return SPILL_CLI_OK; /* nothing to reap: the reap says so, as root refuses nothing */
        return failed(cmd, root, "stat");
    }
    if (st.st_uid == 0)
        return SPILL_CLI_OK; /* root's own root: stay root */
    /* groups first, the user last: once the uid is not 0, setgroups and setgid are refused.
     * Supplementary groups are dropped: the reap gets the root's group and nothing more. */
    if (setgroups(0, NULL) != 0)
        return failed(cmd, root, "setgroups");
    if (setgid(st.st_gid) != 0)
        return failed(cmd, root, "setgid");
    /* as root, setuid sets the real, effective and saved ids alike: there is no way back */
    if (setuid(st.st_uid) != 0)
        return failed(cmd, root, "setuid");
    if (setuid(0) == 0 || geteuid() != st.st_uid || getegid() != st.st_gid) {
        errno = EPERM;
        return failed(cmd, root, "root privileges could not be dropped");
    }
    return SPILL_CLI_OK;
}
#endif
