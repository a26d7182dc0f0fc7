/* position.c: rule 10's rotating position, where the last budgeted reap of a root stopped in the
 * root's listing, kept in the root so that it survives the process (a crash-looping job reaps
 * once per run, each run a new process). It is a listing position (platform.h's list_seek: the
 * filesystem's own offset where that is stable across opens, a count of entries on Windows),
 * kept as the name of the one file in a directory of the user's own in the root,
 * .spill-reap-at-<uid>: a directory, so that its owner is checked like a spill's (rule 7) and
 * nobody else can plant anything inside it (0700). A directory of that name that is not ours
 * (another user planted it in a shared root) is never used: reaps then start at the listing's
 * start. Reapers of every version ignore the name (rule 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reap.h"

#define POSITION_DIR ".spill-reap-at-"

void spill__user_dir_name(const char *prefix, char *buf, size_t size)
{
    snprintf(buf, size, "%s%llu", prefix, (unsigned long long)spill__user_id());
}

int spill__user_dir(spill__fd root_fd, const char *prefix, int create, spill__fd *fd)
{
    char name[64];
    spill__stat st;
    int rc;
    *fd = SPILL__NOFD;
    spill__user_dir_name(prefix, name, sizeof name);
    rc = create ? spill__sys.mkdir(root_fd, name, 0700, fd) : SPILL_EBUSY;
    if (rc == SPILL_EBUSY)
        rc = spill__sys.open_dir(root_fd, name, 0, fd);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = spill__sys.stat(*fd, NULL, &st)) == SPILL_OK && (st.type != SPILL__F_DIR || !st.own))
        rc = SPILL_EUNSAFE;
    if (rc != SPILL_OK) {
        spill__sys.close(*fd);
        *fd = SPILL__NOFD; /* never a number that may be reused */
    }
    return rc;
}

static int parse(const char *name, uint64_t *pos)
{
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return 0;
    *pos = strtoull(name, &end, 10);
    return *end == '\0';
}

uint64_t spill__position_load(spill__fd root_fd)
{
    spill__fd fd;
    spill__dir *d;
    const char *name;
    uint64_t pos = 0;
    spill__error_stash(); /* a missing or foreign position is no error of the reap's */
    if (spill__user_dir(root_fd, POSITION_DIR, 0, &fd) == SPILL_OK) {
        if (spill__sys.list_open(fd, &d) == SPILL_OK) {
            while (spill__sys.list_next(d, &name) == SPILL_OK && name && !parse(name, &pos))
                ;
            spill__sys.list_close(d);
        }
        spill__sys.close(fd);
    }
    spill__error_unstash();
    return pos;
}

/* Position 0 (the start) is kept as no directory at all: a root whose last budgeted reap got
 * round to everything holds nothing of the reaper's. */
void spill__position_save(spill__fd root_fd, uint64_t pos)
{
    spill__fd fd, f;
    spill__dir *d;
    const char *name;
    char mine[32], dir[64];
    uint64_t was;
    spill__error_stash();
    snprintf(mine, sizeof mine, "%llu", (unsigned long long)pos);
    if (spill__user_dir(root_fd, POSITION_DIR, pos != 0, &fd) == SPILL_OK) {
        /* the new name first, then the old ones: a crash leaves at least one */
        if (pos && spill__sys.open_file(fd, mine, SPILL__OPEN_CREATE, &f) == SPILL_OK)
            spill__sys.close(f);
        if (spill__sys.list_open(fd, &d) == SPILL_OK) {
            while (spill__sys.list_next(d, &name) == SPILL_OK && name)
                if ((!pos || strcmp(name, mine) != 0) && parse(name, &was))
                    spill__sys.unlink(fd, name, 0, NULL);
            spill__sys.list_close(d);
        }
        if (!pos) { /* gone if it holds nothing else (Windows: closed first) */
            spill__user_dir_name(POSITION_DIR, dir, sizeof dir);
            spill__sys.unlink(root_fd, dir, 1, &fd);
        }
        if (fd != SPILL__NOFD)
            spill__sys.close(fd);
    }
    spill__error_unstash();
}
