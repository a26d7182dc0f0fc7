/* example.c: a client written only against spill.h: spill chunks, read them back, close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spill.h>

static void addr_of(uint8_t addr[SPILL_ADDR_LEN], unsigned n)
{
    memset(addr, 0, SPILL_ADDR_LEN);
    addr[0] = (uint8_t)n;
    addr[1] = (uint8_t)(n >> 8);
}

static int fail(const char *what)
{
    fprintf(stderr, "example: %s: %s\n", what, spill_error_last()->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "example-root";
    char chunk[64 * 1024];
    uint8_t addr[SPILL_ADDR_LEN];
    spill_opts opts;
    spill_t *s;
    unsigned i;

    spill_opts_init(&opts);
    opts.tag = "example upload";
    if (spill_open(root, &opts, &s) != SPILL_OK)
        return fail("open");
    printf("spilling into %s\n", spill_path(s));
    for (i = 0; i < 16; i++) {
        memset(chunk, 'a' + (int)i, sizeof chunk);
        addr_of(addr, i);
        if (spill_put(s, addr, chunk, sizeof chunk) != SPILL_OK)
            return fail("put");
    }
    addr_of(addr, 3);
    spill_put(s, addr, chunk, sizeof chunk); /* already stored: deduplicated */
    printf("stored %lu chunks, %llu bytes\n", (unsigned long)spill_count(s),
           (unsigned long long)spill_total_bytes(s));
    for (i = 0; i < spill_count(s); i++) {
        void *data;
        size_t len;
        if (spill_addr(s, i, addr) != SPILL_OK || spill_get(s, addr, &data, &len) != SPILL_OK)
            return fail("get");
        if (len != sizeof chunk || ((char *)data)[0] != 'a' + (int)i) {
            fprintf(stderr, "example: chunk %u read back wrong\n", i);
            return 1;
        }
        spill_free(data);
    }
    addr_of(addr, 0);
    if (spill_remove(s, addr) != SPILL_OK) /* uploaded: free it */
        return fail("remove");
    printf("read all back; after removing one: %lu chunks\n", (unsigned long)spill_count(s));
    if (spill_close(s) != SPILL_OK)
        return fail("close");
    printf("closed: the spill directory is gone\n");
    return 0;
}
