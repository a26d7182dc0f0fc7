/* init.c: initialises APR once per process, thread-safely and invisibly to the caller, and makes
 * the library's pools: each unmanaged, so that no pool of the library shares an allocator (and
 * its mutex) with APR's global pool, which a fork in another thread could leave locked. */
#include <apr_general.h>

#include "spill_int.h"

static int init_status = SPILL_OK;

static void init_once(void)
{
    /* before any handle exists: a child forked later forgets what its parent holds */
    spill__at_fork_child(spill__registry_fork_child);
    /* apr_initialize is reference-counted; the matching apr_terminate would free pools that
     * live handles still use, so it is registered with atexit by APR's callers, not here. */
    if (apr_initialize() != APR_SUCCESS)
        init_status = SPILL_ENOMEM;
}

/* Once done, spill__once takes no lock (rule 14). */
int spill__init(void)
{
    spill__once(init_once);
    if (init_status != SPILL_OK)
        return spill__error(init_status, "apr_initialize", "", "cannot initialise APR");
    return SPILL_OK;
}

/* Rule 14: apr_pool_create(NULL parent) takes the global pool's allocator mutex, which a thread
 * of the parent may hold at a fork; an unmanaged pool has an allocator of its own, used by the
 * one thread that owns the handle (a reap's workers allocate nothing from it). */
int spill__pool_new(apr_pool_t **out)
{
    if (apr_pool_create_unmanaged_ex(out, NULL, NULL) != APR_SUCCESS)
        return spill__error(SPILL_ENOMEM, "apr_pool_create", "", "out of memory");
    return SPILL_OK;
}
