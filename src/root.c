/* root.c: the root as the core sees it, for spill_open, spill_adopt and spill_reap alike: its
 * absolute path, and rule 11 applied to it once open (the platform layer says what "others can
 * write" means on its OS). A tightening is logged before it is made (an operator's typo could
 * name a shared directory), and again once made; a dry run only says that it would tighten. */
#include <apr_strings.h>

#include "spill_int.h"

/* The root as given, made absolute against the current directory (symlinks not resolved). */
int spill__absolute_root(apr_pool_t *pool, const char *root, char **out)
{
    char cwd[4096];
    if (spill__path_is_absolute(root)) {
        *out = apr_pstrdup(pool, root);
        return SPILL_OK;
    }
    if (spill__getcwd(cwd, sizeof cwd) != SPILL_OK)
        return SPILL_EIO;
    *out = apr_pstrcat(pool, cwd, SPILL__PATH_SEP, root, NULL);
    return SPILL_OK;
}

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
