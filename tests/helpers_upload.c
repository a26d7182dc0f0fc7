/* helpers_upload.c: helper modes that stand in for uploads being killed, racing and stressed.
 * Each reports through one line on stdout and stops by itself when its stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/resource.h>
#endif

#include "testutil.h"

#define CHUNK 4096
#define MAX_CHUNKS 20000 /* a putloop nobody kills stops here and waits for EOF */

static void chunk_bytes(unsigned char *buf, unsigned seed)
{
    unsigned i, x = seed * 2246822519u + 1;
    for (i = 0; i < CHUNK; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
}

static void wait_for_eof(void)
{
    char line[256];
    while (fgets(line, sizeof line, stdin))
        ;
}

/* spill__sys.write replaced by one that writes half the chunk and dies, mid-put */
static int (*real_write)(spill__fd, const void *, size_t, int);
static int write_half_then_exit(spill__fd fd, const void *buf, size_t len, int replace)
{
    real_write(fd, buf, len / 2, replace);
    _exit(3);
}

/* putloop ROOT [abort|midput]: keeps putting chunks; prints the path after the first. */
int tu_helper_putloop(int argc, const char *const *argv)
{
    spill_t *s;
    unsigned char buf[CHUNK];
    unsigned i;
    const char *mode = argc > 1 ? argv[1] : "";
#ifndef _WIN32
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core); /* SIGABRT must not leave a core file behind */
#endif
    if (argc < 1 || spill_open(argv[0], NULL, &s) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    for (i = 0; i < MAX_CHUNKS; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        chunk_bytes(buf, i);
        tu_addr(a, i);
        if (spill_put(s, a, buf, sizeof buf) != SPILL_OK)
            return 1;
        if (i == 0) {
            printf("%s\n", spill_path(s));
            fflush(stdout);
            if (strcmp(mode, "midput") == 0) {
                real_write = spill__sys.write;
                spill__sys.write = write_half_then_exit;
            }
        }
    }
    wait_for_eof();
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* Checks that chunks 0..n-1 read back equal; 1 if they all do. */
static int verify(spill_t *s, unsigned n, unsigned salt)
{
    unsigned char want[CHUNK];
    unsigned i;
    for (i = 0; i < n; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        void *data;
        size_t len;
        int same;
        tu_addr(a, salt + i);
        chunk_bytes(want, salt + i);
        if (spill_get(s, a, &data, &len) != SPILL_OK)
            return 0;
        same = len == CHUNK && memcmp(data, want, CHUNK) == 0;
        spill_free(data);
        if (!same)
            return 0;
    }
    return 1;
}

static int put_n(spill_t *s, unsigned from, unsigned n)
{
    unsigned char buf[CHUNK];
    unsigned i;
    for (i = from; i < from + n; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, i);
        chunk_bytes(buf, i);
        if (spill_put(s, a, buf, sizeof buf) != SPILL_OK)
            return 0;
    }
    return 1;
}

/* A failing round shows the reaper's own error lines too, on stderr (the test's output). */
static void log_errors(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level == 0)
        fprintf(stderr, "reap error: %s\n", msg);
}

static int reap0(const char *root, spill_reap_stats *st)
{
    spill_opts o;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.log = log_errors;
    memset(st, 0, sizeof *st);
    return spill_reap(root, &o, st);
}

/* liveloop ROOT ROUNDS: an upload that reaps with grace 0 after every chunk while another
 * upload does the same; waits for "go" so that both are open before either reaps. */
int tu_helper_liveloop(int argc, const char *const *argv)
{
    spill_t *s;
    char line[64];
    unsigned r, rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
    const char *verdict = "ok";
    if (argc < 1 || spill_open(argv[0], NULL, &s) != SPILL_OK)
        return 1;
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        return 1;
    for (r = 0; r < rounds && !strcmp(verdict, "ok"); r++) {
        spill_reap_stats st;
        if (!put_n(s, r, 1))
            verdict = "fail put";
        else if (reap0(argv[0], &st) != SPILL_OK || st.live != 2 || st.reaped || st.errors)
            verdict = "fail reap counts";
        else if (!verify(s, r + 1, 0) || spill_count(s) != r + 1)
            verdict = "fail chunk lost";
    }
    printf("%s\n", verdict);
    fflush(stdout);
    wait_for_eof();
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* stress ROOT ROUNDS: open (reaping with grace 0), put, reap, verify, close, over and over. */
int tu_helper_stress(int argc, const char *const *argv)
{
    spill_opts o;
    unsigned r, rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 50;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    for (r = 0; r < rounds; r++) {
        spill_t *s;
        spill_reap_stats st;
        const char *fail = NULL;
        if (spill_open(argv[0], &o, &s) != SPILL_OK) {
            printf("fail open: %s\n", spill_error_last()->message);
            return 1;
        }
        if (!put_n(s, r * 8, 5))
            fail = "put";
        else if (reap0(argv[0], &st) != SPILL_OK || st.errors)
            fail = "reap";
        else if (!verify(s, 5, r * 8))
            fail = "chunk lost";
        if (spill_close(s) != SPILL_OK && !fail)
            fail = "close";
        if (fail) {
            printf("fail %s in round %u: %s\n", fail, r, spill_error_last()->message);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
