/* loose_root.c: `spill reap` on a root of ours that others can write to: the library tightens
 * it to 0700 (rule 11) and logs that afterwards; an operator's typo could so change a shared
 * directory, so the program says it first, on stderr, before the reap starts. The test is the
 * POSIX platform layer's (platform/posix/root.c): owned by us, group- or world-writable, not
 * sticky. A dry run needs nothing here: the library logs "would tighten" and changes nothing.
 * Windows roots are judged by their ACL, which the library alone reads: nothing said first. */
#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "cli.h"

#ifdef _WIN32
void spill__cli_warn_loose(const char *cmd, const char *root)
{
    (void)cmd, (void)root;
}
#else
void spill__cli_warn_loose(const char *cmd, const char *root)
{
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        !(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX))
        return;
    spill__cli_line(stderr, "spill %s: %s is writable by others (mode %04o): tightening it to "
                            "0700, its owner alone, before reaping",
                    cmd, root, (unsigned)(st.st_mode & 07777));
    fflush(stderr);
}
#endif
