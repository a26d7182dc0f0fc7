/* random.c: random name parts from APR's system random source, and the clock. */
#include <apr_general.h>
#include <apr_time.h>

#include "spill_int.h"

uint64_t spill__random_u64(void)
{
    unsigned char b[8];
    uint64_t v = 0;
    int i;
    if (apr_generate_random_bytes(b, sizeof b) != APR_SUCCESS) {
        /* No system randomness: fall back to time and address bits; names only need to be
         * distinct, the creation protocol never replaces an existing name. */
        v = (uint64_t)apr_time_now() ^ ((uint64_t)(uintptr_t)&v << 16);
        return v;
    }
    for (i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

int64_t spill__now(void)
{
    return (int64_t)apr_time_sec(apr_time_now());
}
