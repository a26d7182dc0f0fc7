/* main.c: a client outside the project, built against the installed package (CMake's
 * find_package or pkg-config): a spill round trip, then a reap of its root. */
#include <stdio.h>
#include <string.h>

#include <spill.h>

static int fail(const char *what)
{
    fprintf(stderr, "consumer: %s: %s\n", what, spill_error_last()->message);
    return 1;
}

int main(int argc, char **argv)
{
    uint8_t addr[SPILL_ADDR_LEN] = {1, 2, 3};
    spill_reap_stats st;
    spill_t *s;
    void *data;
    size_t len;
    if (argc < 2) {
        fprintf(stderr, "usage: consumer ROOT\n");
        return 2;
    }
    if (spill_open(argv[1], NULL, &s) != SPILL_OK)
        return fail("open");
    if (spill_put(s, addr, "consumed", 8) != SPILL_OK)
        return fail("put");
    if (spill_get(s, addr, &data, &len) != SPILL_OK)
        return fail("get");
    if (len != 8 || memcmp(data, "consumed", 8) != 0) {
        fprintf(stderr, "consumer: read back the wrong bytes\n");
        return 1;
    }
    spill_free(data);
    if (spill_close(s) != SPILL_OK)
        return fail("close");
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    if (spill_reap(argv[1], NULL, &st) != SPILL_OK)
        return fail("reap");
    printf("consumer ok: spill %s, %u left to reap\n", spill_version(), (unsigned)st.scanned);
    return 0;
}
