/* client01.c: a program written and compiled against 0.1.0's spill.h (ci/abi.sh builds it with
 * that header), run against this library under ASan. Its options and stats live in heap blocks
 * of exactly 0.1's sizes, so a library that wrote one byte of a later version's fields past
 * them would be reported. It exercises every call a 0.1 client makes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spill.h>

#define CLIENT "client01"
#include "check.h"

static int entries;

static int count(void *ctx, const spill_entry *e)
{
    (void)ctx;
    CHECK(e->state <= SPILL_UNSAFE); /* 0.1 knows four states */
    entries++;
    return 0;
}

int main(int argc, char **argv)
{
    spill_opts *o = malloc(sizeof *o);            /* 0.1's size */
    spill_reap_stats *st = malloc(sizeof *st);    /* 0.1's size */
    uint8_t addr[SPILL_ADDR_LEN] = {7};
    spill_t *s;
    void *data;
    size_t len;
    const char *root = argc > 1 ? argv[1] : "client01-root";
    CHECK(o && st && SPILL_OPTS_VERSION == 1 && SPILL_REAP_STATS_VERSION == 1);
    spill_opts_init(o);
    o->tag = "abi client";
    CHECK(spill_open(root, o, &s) == SPILL_OK);
    CHECK(spill_put(s, addr, "0.1 bytes", 9) == SPILL_OK);
    CHECK(spill_get(s, addr, &data, &len) == SPILL_OK && len == 9 && !memcmp(data, "0.1 bytes", 9));
    spill_free(data);
    CHECK(spill_count(s) == 1 && spill_total_bytes(s) == 9);
    memset(st, 0, sizeof *st);
    st->version = SPILL_REAP_STATS_VERSION;
    CHECK(spill_reap(root, o, st) == SPILL_OK && st->live == 1 && st->errors == 0);
    CHECK(spill_scan(root, o, count, NULL) == SPILL_OK && entries == 1);
    CHECK(spill_scan(root, NULL, count, NULL) == SPILL_OK && entries == 2);
    CHECK(spill_close(s) == SPILL_OK);
    CHECK(spill_reap(root, NULL, st) == SPILL_OK && st->scanned == 0);
    printf("client01: a 0.1 client against %s: ok\n", spill_version());
    free(o);
    free(st);
    return 0;
}
