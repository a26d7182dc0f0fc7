/* helpers.c: the helper modes of the test binary, run as separate processes by the tests.
 * Each reports through its stdout, one line, and never sleeps to synchronise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* probe DIR: tries DIR/.lock as a reaper would; prints busy, free, or "error CODE". */
static int h_probe(int argc, const char *const *argv)
{
    spill__fd dir, lk;
    int rc;
    if (argc < 1)
        return 2;
    spill__init();
    if ((rc = spill__sys.open_dir(SPILL__NOFD, argv[0], &dir)) == SPILL_OK) {
        rc = spill__sys.lock_probe(dir, SPILL__LOCK_NAME, &lk);
        if (rc == SPILL_OK)
            spill__sys.unlock(lk);
    }
    if (rc == SPILL_OK)
        printf("free\n");
    else if (rc == SPILL_EBUSY)
        printf("busy\n");
    else
        printf("error %d\n", rc);
    fflush(stdout);
    return 0;
}

/* hold ROOT N: opens a spill, puts N chunks, prints its path, then waits for stdin to close
 * (or to be killed); closes the spill gracefully at EOF. */
static int h_hold(int argc, const char *const *argv)
{
    spill_t *s;
    spill_opts o;
    int i, n = argc > 1 ? atoi(argv[1]) : 1;
    char buf[4096];
    if (argc < 1)
        return 2;
    spill_opts_init(&o);
    if (spill_open(argv[0], &o, &s) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    for (i = 0; i < n; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        memset(buf, 'a' + i % 26, sizeof buf);
        tu_addr(a, (unsigned)i);
        if (spill_put(s, a, buf, sizeof buf) != SPILL_OK) {
            printf("error %s\n", spill_error_last()->message);
            return 1;
        }
    }
    printf("%s\n", spill_path(s));
    fflush(stdout);
    while (fgets(buf, sizeof buf, stdin))
        ;
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* reap ROOT GRACE [wait]: reaps (after a line on stdin if "wait"), prints the counts. */
static int h_reap(int argc, const char *const *argv)
{
    spill_opts o;
    spill_reap_stats st;
    char line[64];
    if (argc < 2)
        return 2;
    if (argc > 2) {
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin))
            return 1;
    }
    spill_opts_init(&o);
    o.grace_seconds = (uint32_t)atoi(argv[1]);
    memset(&st, 0, sizeof st);
    if (spill_reap(argv[0], &o, &st) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    printf("reaped=%u live=%u young=%u unsafe=%u errors=%u\n", st.reaped, st.live, st.young,
           st.unsafe, st.errors);
    fflush(stdout);
    return 0;
}

/* exit ROOT N: opens a spill, puts N chunks, prints its path and exits without closing, as a
 * process that returns from main past its cleanup would. */
static int h_exit(int argc, const char *const *argv)
{
    spill_t *s;
    int i, n = argc > 1 ? atoi(argv[1]) : 1;
    if (argc < 1 || spill_open(argv[0], NULL, &s) != SPILL_OK)
        return 2;
    for (i = 0; i < n; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, (unsigned)i);
        spill_put(s, a, "exit without close", 18);
    }
    printf("%s\n", spill_path(s));
    fflush(stdout);
    _exit(0);
}

#ifdef __linux__
int tu_helper_mountreap(int argc, const char *const *argv);
#endif
int tu_helper_putloop(int argc, const char *const *argv);
#ifndef _WIN32
int tu_helper_reaplimit(int argc, const char *const *argv);
#endif
int tu_helper_liveloop(int argc, const char *const *argv);
int tu_helper_stress(int argc, const char *const *argv);

/* rootopen ROOT: spill_open + close, then spill_reap; prints both codes. */
static int h_rootopen(int argc, const char *const *argv)
{
    spill_t *s;
    int o, r;
    if (argc < 1)
        return 2;
    o = spill_open(argv[0], NULL, &s);
    if (o == SPILL_OK)
        spill_close(s);
    r = spill_reap(argv[0], NULL, NULL);
    printf("open=%d reap=%d\n", o, r);
    return 0;
}

const test_helper test_helpers[] = {
    {"rootopen", h_rootopen},
#ifdef __linux__
    {"mountreap", tu_helper_mountreap},
#endif
    {"probe", h_probe},
    {"hold", h_hold},
    {"reap", h_reap},
    {"exit", h_exit},
    {"putloop", tu_helper_putloop},
#ifndef _WIN32
    {"reaplimit", tu_helper_reaplimit},
#endif
    {"liveloop", tu_helper_liveloop},
    {"stress", tu_helper_stress},
    {NULL, NULL},
};
