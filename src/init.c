/* init.c: initialises APR once per process, thread-safely and invisibly to the caller, and keeps
 * the process-wide pool that global state (the registry) lives in. */
#include <apr_general.h>

#include "spill_int.h"

static apr_pool_t *global_pool;
static int init_status = SPILL_OK;

static void init_once(void)
{
    /* apr_initialize is reference-counted; the matching apr_terminate would free pools that
     * live handles still use, so it is registered with atexit by APR's callers, not here. */
    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&global_pool, NULL) != APR_SUCCESS)
        init_status = SPILL_ENOMEM;
}

int spill__init(void)
{
    spill__once(init_once);
    if (init_status != SPILL_OK)
        return spill__error(init_status, "apr_initialize", "", "cannot initialise APR");
    return SPILL_OK;
}

apr_pool_t *spill__global_pool(void)
{
    return global_pool;
}
