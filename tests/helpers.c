/* helpers.c: the helper modes of the test binary, run as separate processes by the tests.
 * Each reports through its stdout, one line, and never sleeps to synchronise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* Tries DIR/.lock as a reaper would and prints busy, free, or "error CODE". */
static void probe_and_print(const char *dir_path)
{
    spill__fd dir, lk;
    int rc;
    spill__init();
    if ((rc = spill__sys.open_dir(SPILL__NOFD, dir_path, 0, &dir)) == SPILL_OK) {
        rc = spill__sys.lock_probe(dir, SPILL__LOCK_NAME, SPILL__PROBE_LOCK, &lk);
        if (rc == SPILL_OK)
            spill__sys.unlock(lk);
        spill__sys.close(dir);
    }
    if (rc == SPILL_OK)
        printf("free\n");
    else if (rc == SPILL_EBUSY)
        printf("busy\n");
    else
        printf("error %d\n", rc);
    fflush(stdout);
}

/* probe DIR */
static int h_probe(int argc, const char *const *argv)
{
    if (argc < 1)
        return 2;
    probe_and_print(argv[0]);
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

#ifndef _WIN32
/* fds PATH...: prints "leak FD PATH" for the first open descriptor of this process that refers
 * to one of the files (by dev/ino), else "clean". Spawned by a process holding a spill, it
 * shows which of that process's descriptors survived exec. */
static int h_fds(int argc, const char *const *argv)
{
    struct stat want[8], st;
    long fd, max = sysconf(_SC_OPEN_MAX);
    int i, n = argc < 8 ? argc : 8;
    for (i = 0; i < n; i++)
        if (lstat(argv[i], &want[i]) < 0) {
            printf("error lstat %s\n", argv[i]);
            return 1;
        }
    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = 0; fd < max; fd++) {
        if (fstat((int)fd, &st) < 0)
            continue;
        for (i = 0; i < n; i++)
            if (st.st_dev == want[i].st_dev && st.st_ino == want[i].st_ino) {
                printf("leak %ld %s\n", fd, argv[i]);
                return 0;
            }
    }
    printf("clean\n");
    return 0;
}

/* forkhold ROOT [keep]: opens a spill and forks. The child closes its copy of the handle
 * (unless "keep") and waits for a line on stdin, which the test writes once it has killed and
 * reaped the parent (only then are the parent's locks surely released: a flock goes with the
 * file's last reference, which an exiting process may drop after its pipes); it then probes the
 * spill and prints what it saw. The parent prints the path once the child exists (the test may
 * kill it at once), then waits for stdin to close or to be killed: it is dead before anything
 * is written there. */
static int h_forkhold(int argc, const char *const *argv)
{
    spill_t *s;
    char path[4096], buf[256];
    pid_t pid;
    if (argc < 1)
        return 2;
    if (spill_open(argv[0], NULL, &s) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    snprintf(path, sizeof path, "%s", spill_path(s));
    fflush(stdout);
    if ((pid = fork()) < 0)
        return 1;
    if (pid > 0) {
        printf("%s\n", path);
        fflush(stdout);
    } else {
        char c = 0;
        ssize_t r;
        if (argc < 2 || strcmp(argv[1], "keep") != 0)
            spill_close(s); /* SPILL_EFORKED: only the child's copies go */
        do
            r = read(0, &c, 1);
        while ((r > 0 && c != '\n') || (r < 0 && errno == EINTR));
        probe_and_print(path);
        _exit(0);
    }
    while (fgets(buf, sizeof buf, stdin))
        ;
    return spill_close(s) == SPILL_OK ? 0 : 1;
}
#endif

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
int tu_helper_reapbudget(int argc, const char *const *argv);
int tu_helper_deadmount(int argc, const char *const *argv);
int tu_helper_bindmount(int argc, const char *const *argv);
#endif
int tu_helper_putloop(int argc, const char *const *argv);
int tu_helper_adoptjob(int argc, const char *const *argv);
int tu_helper_adoptgo(int argc, const char *const *argv);
int tu_helper_reapgo(int argc, const char *const *argv);
#ifndef _WIN32
int tu_helper_reaplimit(int argc, const char *const *argv);
int tu_helper_reaploop(int argc, const char *const *argv);
int tu_helper_adoptlimit(int argc, const char *const *argv);
int tu_helper_reapstall(int argc, const char *const *argv);
int tu_helper_bgclose(int argc, const char *const *argv);
int tu_helper_forkoutlive(int argc, const char *const *argv);
int tu_helper_forkmidopen(int argc, const char *const *argv);
#endif
int tu_helper_liveloop(int argc, const char *const *argv);
int tu_helper_stress(int argc, const char *const *argv);
#ifndef _WIN32
int tu_helper_bighold(int argc, const char *const *argv);
#endif

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
    {"reapbudget", tu_helper_reapbudget},
    {"deadmount", tu_helper_deadmount},
    {"bindmount", tu_helper_bindmount},
#endif
    {"probe", h_probe},
    {"hold", h_hold},
#ifndef _WIN32
    {"fds", h_fds},
    {"forkhold", h_forkhold},
    {"forkoutlive", tu_helper_forkoutlive},
    {"forkmidopen", tu_helper_forkmidopen},
#endif
    {"reap", h_reap},
    {"exit", h_exit},
    {"putloop", tu_helper_putloop},
#ifndef _WIN32
    {"reaplimit", tu_helper_reaplimit},
    {"reaploop", tu_helper_reaploop},
    {"adoptlimit", tu_helper_adoptlimit},
    {"reapstall", tu_helper_reapstall},
    {"bgclose", tu_helper_bgclose},
    {"bighold", tu_helper_bighold},
#endif
    {"liveloop", tu_helper_liveloop},
    {"stress", tu_helper_stress},
    {"adoptjob", tu_helper_adoptjob},
    {"adoptgo", tu_helper_adoptgo},
    {"reapgo", tu_helper_reapgo},
    {NULL, NULL},
};
