/* root.c: rule 11 as the core applies it to an open root, for spill_open and spill_reap
 * alike; the platform layer says what "others can write" means on its OS. Its own file so that
 * the judge, the reaper and the spill's life each depend on it without depending on each other.
 * A tightening is logged before it is made (an operator's typo could name a shared directory),
 * and again once made; a dry run only says that it would tighten. */
#include "spill_int.h"

int spill__root_safe(spill__fd root_fd, const char *path, const spill_opts *o)
{
    int loose, tightened, rc = spill__root_check(root_fd, path, 0, &loose);
    if (rc != SPILL_OK || !loose)
        return rc;
    if (o->dry_run) {
        spill__log(o, 1, "%s is writable by others: a real run would tighten it to its owner alone",
                   path);
        return SPILL_OK;
    }
    spill__log(o, 1, "%s is writable by others: tightening it to its owner alone (0700)", path);
    rc = spill__root_check(root_fd, path, 1, &tightened);
    if (rc == SPILL_OK && tightened)
        spill__log(o, 1, "%s was writable by others: tightened to its owner alone", path);
    return rc;
}
