/* root.c: rule 11 as the core applies it to an open root, for spill_open and spill_reap
 * alike; the platform layer says what "others can write" means on its OS. Its own file so that
 * the judge, the reaper and the spill's life each depend on it without depending on each other. */
#include "spill_int.h"

int spill__root_safe(spill__fd root_fd, const char *path, const spill_opts *o)
{
    int tighten = !o->dry_run, tightened, rc = spill__root_check(root_fd, path, tighten, &tightened);
    if (tightened && tighten)
        spill__log(o, 1, "%s was writable by others: tightened to its owner alone", path);
    else if (tightened)
        spill__log(o, 1, "%s is writable by others: a real run would tighten it to its owner alone",
                   path);
    return rc;
}
