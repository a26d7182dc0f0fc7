/* client02.c: a program written and compiled against 0.2.0's spill.h (ci/abi.sh builds it with
 * that header), run against this library under ASan. Its options and stats live in heap blocks
 * of exactly 0.2's sizes, so a library that wrote one byte of a later version's fields past them
 * would be reported. It exercises what 0.2 added: keep_seconds, a killed job's orphan resumed
 * with spill_adopt, dry runs and progress callbacks, reap_resumable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spill.h>

#define CLIENT "client02"
#include "check.h"

static int calls;

static int progress(void *ctx, const spill_reap_stats *so_far)
{
    (void)ctx;
    CHECK(so_far->version >= 2);
    calls++;
    return 0;
}

/* The job, killed: a child that stores three chunks and dies without closing. */
static void killed_job(const char *root, spill_opts *o)
{
    pid_t pid = fork();
    int status;
    CHECK(pid >= 0);
    if (pid == 0) {
        uint8_t addr[SPILL_ADDR_LEN] = {0};
        spill_t *s;
        int i;
        if (spill_open(root, o, &s) != SPILL_OK)
            _exit(1);
        for (i = 0; i < 3; i++) {
            addr[0] = (uint8_t)i;
            if (spill_put(s, addr, "0.2 chunk", 9) != SPILL_OK)
                _exit(1);
        }
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
    spill_opts *o = malloc(sizeof *o);          /* 0.2's size */
    spill_reap_stats *st = malloc(sizeof *st);  /* 0.2's size */
    uint8_t addr[SPILL_ADDR_LEN] = {9}; /* never stored */
    spill_t *s;
    void *data;
    size_t len;
    const char *root = argc > 1 ? argv[1] : "client02-root";
    CHECK(o && st && SPILL_OPTS_VERSION == 2 && SPILL_REAP_STATS_VERSION == 2);
    spill_opts_init(o);
    CHECK(o->version == 2 && o->keep_seconds == 0 && o->reap_resumable == 0);
    o->tag = "abi client 0.2";
    o->keep_seconds = 3600;
    killed_job(root, o);

    memset(st, 0, sizeof *st);
    st->version = SPILL_REAP_STATS_VERSION;
    o->grace_seconds = 0;
    o->dry_run = 1;
    o->progress = progress;
    CHECK(spill_reap(root, o, st) == SPILL_OK && st->resumable == 1 && calls >= 1);
    o->dry_run = 0;
    o->progress = NULL;

    CHECK(spill_adopt(root, "abi client 0.2", o, &s) == SPILL_OK && spill_count(s) == 3);
    CHECK(spill_get(s, addr, &data, &len) == SPILL_ENOTFOUND);
    addr[0] = 1;
    CHECK(spill_get(s, addr, &data, &len) == SPILL_OK && len == 9 && !memcmp(data, "0.2 chunk", 9));
    spill_free(data);
    CHECK(spill_close(s) == SPILL_OK);

    killed_job(root, o);
    memset(st, 0, sizeof *st);
    st->version = SPILL_REAP_STATS_VERSION;
    o->reap_resumable = 1;
    CHECK(spill_reap(root, o, st) == SPILL_OK && st->reaped == 1 && st->errors == 0);
    CHECK(spill_reap(root, NULL, st) == SPILL_OK && st->scanned == 0);
    printf("client02: a 0.2 client against %s: ok\n", spill_version());
    free(o);
    free(st);
    return 0;
}
