/* chunk.c: the chunks `spill hold` makes, content-addressed as a real client's are: a chunk's
 * address is a hash of its bytes, so that an adopter can check what it finds (spill_opts'
 * verify). The hash is FNV-1a over the bytes, spread to SPILL_ADDR_LEN bytes: enough to tell
 * a zero-filled, stale or torn chunk from the one its address names, not a cryptographic
 * hash (nothing here defends against someone forging chunks). */
#include <string.h>

#include <apr_general.h>

#include "cli.h"

#define GOLDEN 0x9E3779B97F4A7C15ULL

/* splitmix64: a 64-bit value to another, well mixed. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* xorshift64*: cheap bytes that do not compress or repeat. */
static uint64_t next_random(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}

int spill__cli_job_seed(const char *tag, uint64_t *seed)
{
    uint64_t h = 14695981039346656037ULL;
    if (!tag)
        return apr_generate_random_bytes((unsigned char *)seed, sizeof *seed) == APR_SUCCESS
                   ? 0
                   : -1;
    for (; *tag; tag++)
        h = (h ^ (unsigned char)*tag) * 1099511628211ULL;
    *seed = h;
    return 0;
}

void spill__cli_chunk_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t i)
{
    uint64_t x = mix(seed + (i + 1) * GOLDEN) | 1; /* xorshift must not start at 0 */
    size_t k;
    for (k = 0; k + 8 <= len; k += 8) {
        uint64_t v = next_random(&x);
        memcpy(buf + k, &v, 8);
    }
    for (; k < len; k++)
        buf[k] = (unsigned char)next_random(&x);
}

void spill__cli_chunk_addr(const void *data, size_t len, uint8_t addr[SPILL_ADDR_LEN])
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    size_t k;
    int b;
    for (k = 0; k < len; k++)
        h = (h ^ p[k]) * 1099511628211ULL;
    h ^= (uint64_t)len; /* a prefix of a chunk is another chunk */
    for (k = 0; k < SPILL_ADDR_LEN / 8; k++) {
        uint64_t w = mix(h + (k + 1) * GOLDEN);
        for (b = 0; b < 8; b++)
            addr[8 * k + (size_t)b] = (uint8_t)(w >> (8 * b));
    }
}

int spill__cli_chunk_verify(void *ctx, const uint8_t addr[SPILL_ADDR_LEN], const void *data,
                            size_t len)
{
    spill__cli_verified *v = ctx;
    uint8_t want[SPILL_ADDR_LEN];
    spill__cli_chunk_addr(data, len, want);
    v->checked++;
    if (memcmp(want, addr, SPILL_ADDR_LEN) == 0)
        return 0;
    v->rejected++;
    return 1; /* not what its address says: spill_adopt removes it */
}

const char *spill__cli_chunk_name(const uint8_t addr[SPILL_ADDR_LEN],
                                  char name[2 * SPILL_ADDR_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 0; i < SPILL_ADDR_LEN; i++) {
        name[2 * i] = digits[addr[i] >> 4];
        name[2 * i + 1] = digits[addr[i] & 15];
    }
    name[2 * SPILL_ADDR_LEN] = '\0';
    return name;
}
