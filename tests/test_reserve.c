/* test_reserve.c: reservations shared by the processes of a root (0.3), on small tmpfs mounts so
 * that the disk really fills: uploaders that each expect a share of the disk open only while it
 * fits, and none meets ENOSPC inside its reservation; a killed owner's reservation goes with its
 * orphan; root_limit_bytes holds against several writers; a planted link as another spill's
 * lease file is never opened. Each test runs in a forked child with a mount namespace of its
 * own (the tmpfs is gone with it), which forks the uploaders. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "testutil.h"

#define MIB ((uint64_t)1 << 20)
#define CHUNK (256 * 1024)

/* ---- the child with its tmpfs, and its uploaders ---- */

typedef void ns_fn(const char *root, uint64_t fs_bytes, char *out, size_t size);

static ns_fn *tmpfs_fn;
static unsigned tmpfs_mib;

/* In the child: a mount namespace of its own, a tmpfs of tmpfs_mib MiB at dir, then tmpfs_fn. */
static void tmpfs_child(const char *dir, char *out, size_t size)
{
    char opts[32];
    snprintf(opts, sizeof opts, "size=%um", tmpfs_mib);
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        snprintf(out, size, "skip cannot make a mount namespace: %s", strerror(errno));
    else if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
        snprintf(out, size, "skip cannot mount tmpfs: %s", strerror(errno));
    else
        tmpfs_fn(apr_pstrcat(tu_pool, dir, "/root", NULL), (uint64_t)tmpfs_mib * MIB, out, size);
}

/* Runs fn in a forked child with a tmpfs of `mib` MiB of its own (gone with the child's mount
 * namespace): the test passes when fn's line starts with "ok", is skipped on "skip ...". */
static void in_tmpfs(ns_fn *fn, unsigned mib)
{
    const char *r;
    /* its uploaders die hard by design (SIGKILL, an exit without close) holding what they
     * allocated: memcheck, which follows forked children, would call that a leak */
    if (tu_under_valgrind())
        TU_SKIP("the uploaders die holding their memory, which memcheck counts as leaks");
    tmpfs_fn = fn;
    tmpfs_mib = mib;
    r = tu_child_line(tmpfs_child, tu_fresh_dir("reserve"));
    if (strncmp(r, "skip ", 5) == 0)
        TU_SKIP(r + 5);
    printf(" (%s)", r);
    CU_ASSERT(strncmp(r, "ok", 2) == 0);
}

/* An uploader: a process with a line pipe from it and a pipe to it (closed: it closes its spill
 * and exits). */
typedef struct uploader {
    pid_t pid;
    FILE *from;
    int to;
} uploader;

typedef void upload_fn(const char *root, const void *arg, FILE *say, int in);

/* The pipe ends the child holds to its uploaders, which a later uploader must not keep open:
 * an uploader sees its end only once every copy of the write end is closed. */
static int ends[64];
static unsigned nends;

static void start(uploader *u, upload_fn *fn, const char *root, const void *arg)
{
    int up[2], down[2];
    unsigned i;
    if (pipe(up) != 0 || pipe(down) != 0)
        _exit(3);
    fflush(NULL);
    if ((u->pid = fork()) == 0) {
        FILE *say;
        for (i = 0; i < nends; i++)
            if (ends[i] >= 0)
                close(ends[i]);
        close(up[0]);
        close(down[1]);
        say = fdopen(up[1], "w");
        setvbuf(say, NULL, _IOLBF, 0);
        fn(root, arg, say, down[0]);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    u->from = fdopen(up[0], "r");
    u->to = down[1];
    if (nends + 2 <= sizeof ends / sizeof ends[0]) {
        ends[nends++] = up[0];
        ends[nends++] = down[1];
    }
}

/* The uploader's next line ("" at its end). */
static const char *hear(uploader *u, char *line, size_t size)
{
    if (!fgets(line, (int)size, u->from))
        line[0] = '\0';
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* Tells it to close its spill and waits for its end. */
static void finish(uploader *u)
{
    int status;
    unsigned i;
    for (i = 0; i < nends; i++) /* closed now: its numbers may be reused */
        if (ends[i] == u->to || ends[i] == fileno(u->from))
            ends[i] = -1;
    close(u->to);
    waitpid(u->pid, &status, 0);
    fclose(u->from);
}

static void wait_eof(int in)
{
    char c;
    while (read(in, &c, 1) > 0)
        ;
}

static void fill(uint8_t *buf, size_t n, unsigned seed)
{
    memset(buf, (int)(seed & 0xff), n);
}

/* Puts chunks of CHUNK bytes until `bytes` are stored: 0, or the failing put's code. */
static int put_up_to(spill_t *s, uint64_t bytes, unsigned seed, uint8_t *buf)
{
    unsigned i;
    for (i = 0; (uint64_t)(i + 1) * CHUNK <= bytes; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        int rc;
        tu_addr(a, seed * 100000 + i);
        fill(buf, CHUNK, i);
        if ((rc = spill_put(s, a, buf, CHUNK)) != SPILL_OK)
            return rc;
    }
    return 0;
}

/* ---- eight uploaders, each expecting 30% of the disk ---- */

typedef struct upload {
    uint64_t expect; /* expected_bytes */
    uint64_t write;  /* the bytes it then writes */
    int no_reap;     /* opens without reaping the root first (reap_on_open 0) */
} upload;

/* Says "open RC MESSAGE"; opened, it writes and says "filled RC", then holds its spill until
 * told to close. */
static void expect_upload(const char *root, const void *arg, FILE *say, int in)
{
    const upload *up = arg;
    uint8_t *buf = malloc(CHUNK);
    spill_opts o;
    spill_t *s;
    int rc;
    spill_opts_init(&o);
    o.expected_bytes = up->expect;
    if (up->no_reap)
        o.reap_on_open = 0;
    rc = spill_open(root, &o, &s);
    fprintf(say, "open %d %s\n", rc, rc == SPILL_OK ? "" : spill_error_last()->message);
    if (rc != SPILL_OK)
        return;
    fprintf(say, "filled %d\n", put_up_to(s, up->write, (unsigned)getpid(), buf));
    wait_eof(in);
    spill_close(s);
}

static void eight_uploaders(const char *root, uint64_t fs, char *out, size_t size)
{
    upload expect = {0, 0, 0};
    uploader u[9];
    char line[512];
    int opened = 0, refused = 0, bad = 0, first = -1, i;
    expect.expect = expect.write = fs * 3 / 10; /* each fills its reservation */
    for (i = 0; i < 8; i++)
        start(&u[i], expect_upload, root, &expect);
    for (i = 0; i < 8; i++) {
        int rc = atoi(hear(&u[i], line, sizeof line) + 5);
        if (rc == SPILL_OK) {
            opened++;
            first = first < 0 ? i : first;
            if (atoi(hear(&u[i], line, sizeof line) + 7) != 0) /* "filled RC" */
                bad++;
        } else if (rc == SPILL_ENOSPC && strstr(line, " free")) { /* the figures */
            refused++;
        } else {
            bad++;
        }
    }
    if (opened > 3 || opened < 1 || refused != 8 - opened || bad) {
        snprintf(out, size, "%d opened, %d refused, %d failed otherwise (last: %.200s)", opened,
                 refused, bad, line);
        for (i = 0; i < 8; i++)
            finish(&u[i]);
        return;
    }
    /* one closes: the next open succeeds, and fills its reservation too */
    finish(&u[first]);
    start(&u[8], expect_upload, root, &expect);
    hear(&u[8], line, sizeof line);
    i = atoi(line + 5) == SPILL_OK && atoi(hear(&u[8], line, sizeof line) + 7) == 0;
    snprintf(out, size, "%s %d opened of 8, %d refused with the figures; after a close: %s",
             i ? "ok" : "bad", opened, refused, i ? "opened and filled" : line);
    for (i = 0; i < 9; i++)
        if (i != first)
            finish(&u[i]);
}

static void test_eight_uploaders(void)
{
    in_tmpfs(eight_uploaders, 48);
}

/* ---- a killed reserving owner ---- */

/* The first owner has reserved 60% and written little: the free space alone would let a second
 * uploader of 60% in, the reservation does not; killed, its reservation goes with its orphan:
 * even while that orphan is still there (the next uploader does not reap), its lease is not
 * counted as a live spill's. */
static void killed_owner(const char *root, uint64_t fs, char *out, size_t size)
{
    upload big = {0, 0, 0};
    uploader a, b;
    char line[512];
    int refused, after;
    big.expect = fs * 6 / 10;
    big.write = CHUNK;
    start(&a, expect_upload, root, &big);
    if (atoi(hear(&a, line, sizeof line) + 5) != SPILL_OK || atoi(hear(&a, line, sizeof line) + 7)) {
        snprintf(out, size, "the first uploader: %.200s", line);
        finish(&a);
        return;
    }
    start(&b, expect_upload, root, &big);
    refused = atoi(hear(&b, line, sizeof line) + 5) == SPILL_ENOSPC;
    finish(&b);
    kill(a.pid, SIGKILL); /* its reservation and its bytes stay with its orphan */
    finish(&a);
    big.no_reap = 1;
    start(&b, expect_upload, root, &big);
    after = atoi(hear(&b, line, sizeof line) + 5) == SPILL_OK &&
            atoi(hear(&b, line, sizeof line) + 7) == 0;
    finish(&b);
    snprintf(out, size, "%s refused while the owner lived: %s; after SIGKILL: %s",
             refused && after ? "ok" : "bad", refused ? "yes" : "no",
             after ? "opened and filled" : line);
}

static void test_killed_owner(void)
{
    in_tmpfs(killed_owner, 48);
}

/* A killed job that asked to be resumable (keep_seconds) holds half the disk; an uploader
 * expecting 60% finds the space short: the resumable orphan gives way (space beats
 * resumability) and the upload opens and fills its reservation. */
static void resumable_gives_way(const char *root, uint64_t fs, char *out, size_t size)
{
    uint8_t *buf = malloc(CHUNK);
    upload big = {0, 0, 0};
    uploader b;
    char line[512];
    int status, after;
    pid_t pid;
    fflush(NULL);
    if ((pid = fork()) == 0) {
        spill_opts o;
        spill_t *s;
        spill_opts_init(&o);
        o.keep_seconds = 3600;
        o.expected_bytes = fs / 2;
        if (spill_open(root, &o, &s) != SPILL_OK || put_up_to(s, fs / 2, 7, buf) != 0)
            _exit(1);
        _exit(0); /* a hard death: no close */
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
        snprintf(out, size, "the resumable job failed");
        return;
    }
    big.expect = fs * 6 / 10;
    big.write = big.expect;
    start(&b, expect_upload, root, &big);
    after = atoi(hear(&b, line, sizeof line) + 5) == SPILL_OK &&
            atoi(hear(&b, line, sizeof line) + 7) == 0;
    finish(&b);
    snprintf(out, size, "%s after the resumable orphan: %s", after ? "ok" : "bad",
             after ? "opened and filled" : line);
}

static void test_resumable_gives_way(void)
{
    in_tmpfs(resumable_gives_way, 48);
}

/* ---- a foreign spill counts with its bytes ---- */

/* The lock another client of the layout takes: the one this build's backend takes too. */
static int foreign_lock(int fd)
{
#ifdef SPILL_LOCK_FCNTL
    return tu_fcntl_lock(fd);
#else
    return flock(fd, LOCK_EX);
#endif
}

/* Another client's layout (the Rust client's: an empty .lock it holds with flock) holding
 * `bytes`: says "ready", holds until its stdin closes. */
static void foreign_spill(const char *root, const void *arg, FILE *say, int in)
{
    uint64_t bytes = *(const uint64_t *)arg, done = 0;
    const char *dir = apr_pstrcat(tu_pool, root, "/spill_1700000000_42", NULL);
    uint8_t *buf = calloc(1, CHUNK);
    unsigned i = 0;
    int fd;
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        return;
    if (mkdir(dir, 0700) != 0 ||
        (fd = open(tu_join(dir, ".lock"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
        foreign_lock(fd) != 0) {
        fprintf(say, "setup failed: %s\n", strerror(errno));
        return;
    }
    while (done < bytes) {
        char name[32];
        int f;
        snprintf(name, sizeof name, "part-%u", i++);
        f = open(tu_join(dir, name), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (f < 0 || write(f, buf, CHUNK) != CHUNK)
            break;
        close(f);
        done += CHUNK;
    }
    fprintf(say, "ready %llu\n", (unsigned long long)done);
    wait_eof(in);
}

/* arg: {expected, limit}; says "open RC MESSAGE" and closes at once. */
static void limited_open(const char *root, const void *arg, FILE *say, int in)
{
    const uint64_t *v = arg;
    spill_opts o;
    spill_t *s;
    int rc;
    (void)in;
    spill_opts_init(&o);
    o.expected_bytes = v[0];
    o.root_limit_bytes = v[1];
    rc = spill_open(root, &o, &s);
    fprintf(say, "open %d %s\n", rc, rc == SPILL_OK ? "" : spill_error_last()->message);
    if (rc == SPILL_OK)
        spill_close(s);
}

/* A foreign live spill of 20 MiB under a limit of 32 MiB: 16 MiB more is refused, 8 MiB fits. */
static void foreign_counts(const char *root, uint64_t fs, char *out, size_t size)
{
    uint64_t bytes = 20 * MIB, big[2] = {16 * MIB, 32 * MIB}, small[2] = {8 * MIB, 32 * MIB};
    uploader f, a;
    char line[512];
    int refused, fits;
    (void)fs;
    start(&f, foreign_spill, root, &bytes);
    if (strncmp(hear(&f, line, sizeof line), "ready", 5) != 0) {
        snprintf(out, size, "the foreign spill: %.200s", line);
        finish(&f);
        return;
    }
    start(&a, limited_open, root, big);
    refused = atoi(hear(&a, line, sizeof line) + 5) == SPILL_ENOSPC;
    finish(&a);
    start(&a, limited_open, root, small);
    fits = atoi(hear(&a, line, sizeof line) + 5) == SPILL_OK;
    finish(&a);
    finish(&f);
    snprintf(out, size, "%s 16 MiB beside it refused: %s; 8 MiB: %s", refused && fits ? "ok" : "bad",
             refused ? "yes" : "no", fits ? "opened" : line);
}

static void test_foreign_counts(void)
{
    in_tmpfs(foreign_counts, 64);
}

/* ---- root_limit_bytes against four writers ---- */

/* The bytes of every regular file under dir, as du would add them up. */
static uint64_t du(const char *dir)
{
    char cmd[512];
    unsigned long long kib = 0;
    FILE *p;
    snprintf(cmd, sizeof cmd, "du -sk --apparent-size '%s'", dir);
    if ((p = popen(cmd, "r"))) {
        if (fscanf(p, "%llu", &kib) != 1)
            kib = 0;
        pclose(p);
    }
    return (uint64_t)kib * 1024;
}

/* arg: the limit. Puts 64 KiB chunks until one is refused; says "stopped RC COUNT ROOT-DU OK",
 * OK 1 if the refused chunk left no file and every stored chunk reads back. */
static void limited_writer(const char *root, const void *arg, FILE *say, int in)
{
    uint8_t buf[65536], a[SPILL_ADDR_LEN];
    spill_opts o;
    spill_t *s;
    unsigned i, n;
    int rc = SPILL_OK, ok = 1;
    char hex[SPILL__HEX_LEN + 1];
    spill_opts_init(&o);
    o.root_limit_bytes = *(const uint64_t *)arg;
    if (spill_open(root, &o, &s) != SPILL_OK) {
        fprintf(say, "stopped %d 0 0 0 %s\n", -99, spill_error_last()->message);
        return;
    }
    for (n = 0; rc == SPILL_OK && n < 100000; n++) {
        tu_addr(a, (unsigned)getpid() * 1000 + n);
        memset(buf, (int)n, sizeof buf);
        rc = spill_put(s, a, buf, sizeof buf);
    }
    spill__hex(a, hex);
    ok = !tu_exists(tu_join(spill_path(s), hex)); /* refused before a byte was written */
    for (i = 0; i + 1 < n; i++) {
        void *data;
        size_t len;
        tu_addr(a, (unsigned)getpid() * 1000 + i);
        if (spill_get(s, a, &data, &len) != SPILL_OK || len != sizeof buf)
            ok = 0;
        else
            spill_free(data);
    }
    fprintf(say, "stopped %d %u %llu %d\n", rc, n - 1, (unsigned long long)du(root), ok);
    wait_eof(in);
    spill_close(s);
}

static void four_limited(const char *root, uint64_t fs, char *out, size_t size)
{
    uint64_t limit = 8 * MIB, most = 0;
    uploader u[4];
    char line[256];
    int i, good = 1;
    unsigned total = 0;
    (void)fs;
    for (i = 0; i < 4; i++)
        start(&u[i], limited_writer, root, &limit);
    for (i = 0; i < 4; i++) {
        int rc, ok;
        unsigned n;
        unsigned long long d;
        hear(&u[i], line, sizeof line);
        if (sscanf(line, "stopped %d %u %llu %d", &rc, &n, &d, &ok) != 4 || rc != SPILL_ENOSPC ||
            !ok)
            good = 0;
        total += n;
        most = d > most ? d : most;
    }
    most = du(root) > most ? du(root) : most;
    for (i = 0; i < 4; i++)
        finish(&u[i]);
    /* within the limit (the bookkeeping files' bytes included), and within a few chunks of it */
    good = good && most <= limit && (uint64_t)total * 65536 + 4 * 65536 >= limit - 64 * 1024;
    snprintf(out, size, "%s %u chunks of 64 KiB stored under a limit of 8 MiB, at most %llu bytes "
             "seen by du (last: %.100s)", good ? "ok" : "bad", total, (unsigned long long)most,
             line);
}

static void test_root_limit(void)
{
    in_tmpfs(four_limited, 64);
}

/* ---- a planted link as another spill's lease file ---- */


/* The host (this process) holds an fcntl lock on its own file, as SQLite does; a live spill's
 * lease file is a hard link to it, then a symbolic link: an open with a reservation (whose
 * decision reads the others' leases) and spill_scan leave the lock held, which opening and
 * closing any descriptor on the file in this process would drop, and the file as it was. */
static void test_planted_lease(void)
{
    const char *host = tu_join(tu_fresh_dir("reserve-host"), "app.db");
    const char *root = tu_fresh_dir("reserve-planted");
    spill_opts o;
    spill_t *live, *s;
    int fd, round;
    CU_ASSERT_FATAL(tu_write_file(host, "the application's own data") == 0);
    CU_ASSERT_FATAL(spill_open(root, NULL, &live) == SPILL_OK);
    fd = open(host, O_RDWR | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0 && tu_fcntl_lock(fd) == 0);
    CU_ASSERT_FATAL(tu_locked_by_us(host));
    for (round = 0; round < 2; round++) {
        const char *lease = tu_join(spill_path(live), ".spill-lease");
        CU_ASSERT_FATAL(unlink(lease) == 0 || errno == ENOENT);
        CU_ASSERT_FATAL(round ? symlink(host, lease) == 0 : link(host, lease) == 0);
        spill_opts_init(&o);
        o.expected_bytes = 4096;
        o.root_limit_bytes = 1 << 30;
        CU_ASSERT(spill_open(root, &o, &s) == SPILL_OK);
        CU_ASSERT(tu_locked_by_us(host));
        tu_scan_once(root);
        CU_ASSERT(tu_locked_by_us(host));
        CU_ASSERT(spill_close(s) == SPILL_OK);
        CU_ASSERT(tu_locked_by_us(host));
    }
    close(fd); /* the test's own read of the file below would drop the lock: checked above */
    CU_ASSERT_STRING_EQUAL(tu_read_file(host, NULL), "the application's own data");
    CU_ASSERT(unlink(tu_join(spill_path(live), ".spill-lease")) == 0);
    CU_ASSERT(spill_close(live) == SPILL_OK);
}

static int reserved_of(void *ctx, const spill_entry *e)
{
    if (e->state == SPILL_LIVE)
        *(uint64_t *)ctx = e->reserved_bytes;
    return 0;
}

/* A killed resumable job's lease stays in its orphan; the adopter takes it over, as spill_scan
 * then shows: the same reservation, now a live spill's. */
static void test_adopter_takes_lease(void)
{
    const char *root;
    uint8_t *buf;
    uint64_t reserved = 0;
    spill_opts o;
    spill_t *s;
    char *lease;
    int status;
    pid_t pid;
    if (tu_under_valgrind())
        TU_SKIP("its killed job dies holding its memory, which memcheck counts as a leak");
    root = tu_fresh_dir("reserve-adopt");
    buf = malloc(CHUNK);
    fflush(NULL);
    if ((pid = fork()) == 0) {
        spill_opts_init(&o);
        o.keep_seconds = 3600;
        o.tag = "reserving job";
        o.expected_bytes = 4 * MIB;
        if (spill_open(root, &o, &s) != SPILL_OK || put_up_to(s, 2 * CHUNK, 3, buf) != 0)
            _exit(1);
        _exit(0); /* a hard death: no close */
    }
    CU_ASSERT_FATAL(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                    WEXITSTATUS(status) == 0);
    spill_opts_init(&o);
    CU_ASSERT_FATAL(spill_adopt(root, "reserving job", &o, &s) == SPILL_OK);
    lease = tu_read_file(tu_join(spill_path(s), ".spill-lease"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lease);
    CU_ASSERT(strncmp(lease, "spill-lease 1 lease=", 20) == 0);
    CU_ASSERT(spill_scan(root, &o, reserved_of, &reserved) == SPILL_OK);
    CU_ASSERT(reserved >= 4 * MIB && reserved == strtoull(lease + 20, NULL, 10));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    free(buf);
}

static CU_TestInfo tests[] = {
    {"eight uploaders expecting 30% each: at most 3 open, none fails inside its reservation",
     test_eight_uploaders},
    {"a killed owner's reservation goes with its orphan", test_killed_owner},
    {"a resumable orphan gives way when space is short", test_resumable_gives_way},
    {"a foreign live spill counts with its bytes on disk", test_foreign_counts},
    {"root_limit_bytes of 8 MiB against four writers: du never past it", test_root_limit},
    {"a link planted as another spill's lease file is never opened", test_planted_lease},
    {"an adopter takes the dead owner's lease over", test_adopter_takes_lease},
    CU_TEST_INFO_NULL,
};

test_suite suite_reserve = {"reserve", tests};
