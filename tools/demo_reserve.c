/* demo_reserve.c: `spill demo --reserve`: a root that never fills. Three uploads (`spill hold`
 * children) each expect 40% of the free space of the disk under the root, read when the demo
 * runs: together they ask for more than the disk has. Each upload's expected bytes are its
 * first reservation, which the processes on the root share, so the first two start and the
 * third is refused at once with the figures, before it writes a byte, instead of all three
 * starting and one failing halfway when the disk fills. Nothing is written but one small chunk
 * per started upload: a reservation is a promise, not an allocation. */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "cli.h"

#define UPLOADS 3
#define MAX_CHUNK (256 * 1024)

typedef struct uploader {
    apr_proc_t proc;
    const char *tag, *name, *said; /* said: what it printed on stderr */
    int running, code;
} uploader;

/* The bytes free for this user on the disk under root, through the library's own check
 * (spill_check_space, statvfs or GetDiskFreeSpaceEx): the largest figure it accepts. -1 if
 * the check fails for another reason than a lack of space (reported). */
static int free_space(const char *root, uint64_t *avail)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    int rc = spill_check_space(root, 0);
    if (rc != SPILL_OK) {
        spill__cli_fail("demo", root);
        return -1;
    }
    while (lo < hi) { /* lo is accepted; hi is the most that might be */
        uint64_t mid = lo + (hi - lo) / 2 + 1;
        rc = spill_check_space(root, mid);
        if (rc == SPILL_OK)
            lo = mid;
        else if (rc == SPILL_ENOSPC)
            hi = mid - 1;
        else {
            spill__cli_fail("demo", root);
            return -1;
        }
    }
    *avail = lo;
    return 0;
}

/* Waits for an uploader that has ended or been asked to, keeping its exit status and what it
 * said on stderr. */
static void reap_child(apr_pool_t *pool, uploader *u)
{
    apr_exit_why_e why;
    int code;
    u->said = spill__cli_read_all(pool, u->proc.err);
    apr_proc_wait(&u->proc, &code, &why, APR_WAIT);
    apr_file_close(u->proc.out);
    apr_file_close(u->proc.err);
    u->code = why == APR_PROC_EXIT ? code : -1;
    u->running = 0;
}

/* Starts `spill hold --expect` and reads its stdout: the spill's path once its one chunk is on
 * disk (it started), or the end of the output (it was refused: its status and stderr kept).
 * Returns 1 started, 0 ended, -1 not started at all. */
static int start(apr_pool_t *pool, const char *root, uint64_t expect, uint64_t chunk,
                 uploader *u, int n)
{
    const char *argv[] = {spill__cli_self, "hold", "--root", root, "--chunks", "1",
                          "--chunk-size", NULL, "--expect", NULL, "--tag", NULL, NULL};
    char line[8192], num[32];
    size_t len;
    /* numbers go through stdio's %llu: APR's formatter and mingw's printf differ on 64 bits */
    snprintf(num, sizeof num, "%llu", (unsigned long long)chunk);
    argv[7] = apr_pstrdup(pool, num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)expect);
    argv[9] = apr_pstrdup(pool, num);
    u->tag = argv[11] = apr_psprintf(pool, "upload-%d", n + 1);
    if (spill__cli_start_self(pool, argv, 1, &u->proc) != 0)
        return -1;
    u->running = 1;
    if (apr_file_gets(line, sizeof line, u->proc.out) != APR_SUCCESS) {
        reap_child(pool, u);
        return 0;
    }
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    u->name = apr_pstrdup(pool, spill__cli_base_name(line));
    return 1;
}

/* What a child printed on stderr, one line per line, indented (cleaned again: it is another
 * process's output). */
static void show_said(const char *said)
{
    const char *p = said;
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        if (n)
            spill__cli_line(stdout, "    %.*s", (int)n, p);
        p += n;
        p += strspn(p, "\r\n");
    }
}

int spill__cli_demo_reserve(apr_pool_t *pool, const char *root)
{
    uploader u[UPLOADS];
    uint64_t avail, expect, chunk;
    char a[32], e[32], c[32];
    int i, started = 0, refused = -1, halfway = 0, figures = 0, rc;
    memset(u, 0, sizeof u);
    if (free_space(root, &avail) != 0)
        return -1;
    expect = avail / 5 * 2;
    chunk = expect / 4 < MAX_CHUNK ? expect / 4 : MAX_CHUNK;
    if (chunk == 0) {
        spill__cli_line(stderr, "spill demo: %s: the disk is full; nothing to show", root);
        return -1;
    }
    printf("The disk under the root has %s free for you (read just now). Three uploads each\n"
           "expect 40%% of it, %s (spill hold --expect %llu): together more than the disk has.\n"
           "Each upload's expectation is its first reservation, counted by every process on "
           "the root;\n"
           "nothing is written for it but one %s chunk per upload.\n\n",
           spill__cli_size(a, sizeof a, avail), spill__cli_size(e, sizeof e, expect),
           (unsigned long long)expect,
           spill__cli_size(c, sizeof c, chunk));
    for (i = 0; i < UPLOADS; i++) {
        fflush(stdout);
        rc = start(pool, root, expect, chunk, &u[i], i);
        if (rc < 0)
            break;
        if (rc == 1) {
            started++;
            printf("  %s  pid %-7ld  reserved %s, spilling into %s\n", u[i].tag,
                   (long)u[i].proc.pid, e, u[i].name);
            continue;
        }
        printf("  %s  refused at once (exit %d), before writing a byte:\n", u[i].tag,
               u[i].code);
        show_said(u[i].said);
        if (refused < 0)
            refused = i;
        /* the library's figures: what is needed, free, reserved by the others */
        figures = strstr(u[i].said, " bytes needed: ") != NULL &&
                  strstr(u[i].said, " reserved and not yet written by ") != NULL;
    }
    printf("\n");
    spill__cli_line(stdout, "$ spill ls --root %s", root);
    fflush(stdout);
    if (spill__cli_ls_run(pool, root, 0) != SPILL_CLI_OK)
        halfway = 1;
    if (started)
        printf("\nStopping the %d running uploads gracefully (SIGTERM).\n", started);
    for (i = 0; i < UPLOADS; i++) {
        if (!u[i].running)
            continue;
        if (spill__cli_stop_child(&u[i].proc) != 0)
            spill__cli_kill_child(&u[i].proc);
        reap_child(pool, &u[i]);
        show_said(u[i].said);
        halfway += u[i].code != 0; /* a put refused or failed midway exits 1 */
    }
    printf("\nVerdict: %d of %d uploads started, %s; upload-3 %s.\n", started, UPLOADS,
           halfway ? "and one failed or was cut short" : "none failed halfway",
           refused == 2 && figures ? "was refused at once, with the figures"
           : refused == 2          ? "was refused, but without the figures"
                                   : "was not refused");
    if (started != 2 || refused != 2 || !figures || halfway) {
        printf("That is wrong: two uploads fit beside each other, a third does not, and it must "
               "be told\nbefore it writes, not fail halfway.\n");
        return -1;
    }
    return 0;
}
