/* names.c: the strict names of spill, staging and trash directories, chunk file names, and the
 * clock seconds and random parts that names are made of (APR's system random source). */
#include <string.h>

#include <apr_general.h>
#include <apr_time.h>

#include "spill_int.h"

/* Parses decimal digits (at least one, no sign, fits in 64 bits) up to stop; 0 on failure. */
static int parse_u64(const char **p, char stop, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (*s != stop)
        return 0;
    *p = s;
    *out = v;
    return 1;
}

static const char *const prefixes[] = {SPILL__NAME_PREFIX, SPILL__STAGE_PREFIX,
                                       SPILL__TRASH_PREFIX};

/* 1 if name is exactly <prefix><digits>_<digits> for one of the prefixes of spill__name_kind
 * (filled into *kind when kind is not NULL). */
int spill__parse_name(const char *name, int *kind, uint64_t *secs, uint64_t *rnd)
{
    const char *p = NULL;
    int k;
    for (k = 0; k < (int)(sizeof prefixes / sizeof prefixes[0]); k++)
        if (strncmp(name, prefixes[k], strlen(prefixes[k])) == 0) {
            p = name + strlen(prefixes[k]);
            break;
        }
    if (!p || !parse_u64(&p, '_', secs))
        return 0;
    p++;
    if (!parse_u64(&p, '\0', rnd))
        return 0;
    if (kind)
        *kind = k;
    return 1;
}

void spill__hex(const uint8_t addr[SPILL_ADDR_LEN], char out[SPILL__HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < SPILL_ADDR_LEN; i++) {
        out[2 * i] = digits[addr[i] >> 4];
        out[2 * i + 1] = digits[addr[i] & 15];
    }
    out[SPILL__HEX_LEN] = '\0';
}

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
