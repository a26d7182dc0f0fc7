/* test_deadmount.c (Linux): rule 2 against mounts under the root: a FUSE mount whose daemon
 * never answers (a hung sshfs, a hard-mounted NFS server gone) blocks nothing, as a root child
 * or inside an orphan, and a bind mount of the same filesystem inside an orphan is never
 * entered (the mount id, not the device number). Each case runs in a helper process in its own
 * private mount namespace, under a deadline (alarm: a call that hangs kills the helper, whose
 * namespace and mounts then go with it), so nothing stays mounted or waiting whatever happens. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix/posix.h"
#include "testutil.h"

#define DEADLINE_S 20 /* the helper's whole run; each call must return within CALL_MS */
#define CALL_MS 5000

static int64_t ms_since(int64_t start_us)
{
    return (spill__monotonic_us() - start_us) / 1000;
}

static int put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* An orphan by hand: a record beside a free lock, two chunks, a nested file, and `sub`. */
static int make_orphan(const char *d)
{
    char p[4200], host[256], rec[512];
    spill__hostname(host, sizeof host);
    snprintf(rec, sizeof rec, "spill-owner 1 nonce=7 pid=999999 host=%s started=1 tag=t\n", host);
    if (mkdir(d, 0700) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/.lock", d);
    if (put(p, rec) != 0)
        return -1;
    snprintf(p, sizeof p, "%s/chunk0", d);
    put(p, "0123456789");
    snprintf(p, sizeof p, "%s/chunk1", d);
    put(p, "0123456789");
    snprintf(p, sizeof p, "%s/nested", d);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/nested/inner", d);
    put(p, "inner");
    snprintf(p, sizeof p, "%s/sub", d);
    return mkdir(p, 0700);
}

/* Where the orphan root/spill_1000_1 is after a reap that could not finish it: renamed to a
 * trash name by rule 6 where the platform renames (its mount moved with it). */
static const char *where_now(const char *d, char *buf, size_t size)
{
    char root[2048];
    const char *slash = strrchr(d, '/');
    DIR *dir;
    struct dirent *e;
    if (access(d, F_OK) == 0 || !slash)
        return d;
    snprintf(root, sizeof root, "%.*s", (int)(slash - d), d);
    if (!(dir = opendir(root)))
        return d;
    snprintf(buf, size, "%s", d);
    while ((e = readdir(dir)))
        if (strncmp(e->d_name, SPILL__TRASH_PREFIX, strlen(SPILL__TRASH_PREFIX)) == 0)
            snprintf(buf, size, "%s/%s", root, e->d_name);
    closedir(dir);
    return buf;
}

/* 1 if nothing of the orphan is left but .lock and the mount point `sub`. Read from the
 * listing: an lstat of the mount point itself would wait on the dead daemon. */
static int only_lock_and_mount_left(const char *d)
{
    DIR *dir = opendir(d);
    struct dirent *e;
    int lock = 0, sub = 0, other = 0;
    if (!dir)
        return 0;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strcmp(e->d_name, ".lock") == 0)
            lock = 1;
        else if (strcmp(e->d_name, "sub") == 0)
            sub = 1;
        else
            other = 1;
    }
    closedir(dir);
    return lock && sub && !other;
}

/* A FUSE mount at dir whose daemon never answers: /dev/fuse is opened and never read. */
static int mount_dead_fuse(const char *dir, int *fuse_fd)
{
    char opts[128];
    if ((*fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0) {
        printf("skip cannot open /dev/fuse: %s\n", strerror(errno));
        return -1;
    }
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", *fuse_fd);
    if (mount("deadfuse", dir, "fuse", MS_NOSUID | MS_NODEV, opts) != 0) {
        printf("skip cannot mount fuse: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

typedef struct logged {
    int mount_named; /* an error line names the mount */
} logged;

static void log_cb(void *ctx, int level, const char *msg)
{
    logged *l = ctx;
    if (level == 0 && strstr(msg, "mount point") && strstr(msg, "sub"))
        l->mount_named = 1;
}

static int count_cb(void *ctx, const spill_entry *e)
{
    (*(int *)ctx)++;
    (void)e;
    return 0;
}

/* The three calls a user makes (the open reserving space), each timed; prints one line. */
static void run_calls(const char *root, const char *orphan)
{
    char now[2400];
    spill_opts o;
    spill_reap_stats st;
    spill_t *s = NULL;
    logged l;
    int64_t t;
    int n = 0, src, orc, crc = -100;
    long scan_ms, reap_ms, open_ms;
    memset(&l, 0, sizeof l);
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.log = log_cb;
    o.log_ctx = &l;
    t = spill__monotonic_us();
    src = spill_scan(root, &o, count_cb, &n);
    scan_ms = (long)ms_since(t);
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    t = spill__monotonic_us();
    spill_reap(root, &o, &st);
    reap_ms = (long)ms_since(t);
    /* an open that reserves: its decision reads every spill name's lease under the root too */
    o.expected_bytes = 4096;
    t = spill__monotonic_us();
    orc = spill_open(root, &o, &s);
    if (orc == SPILL_OK)
        crc = spill_close(s);
    open_ms = (long)ms_since(t);
    printf("fast=%d scan=%d entries=%d reaped=%u unsafe=%u errors=%u named=%d open=%d close=%d "
           "left=%d\n",
           scan_ms < CALL_MS && reap_ms < CALL_MS && open_ms < CALL_MS, src, n, st.reaped,
           st.unsafe, st.errors, l.mount_named, orc, crc,
           orphan ? only_lock_and_mount_left(where_now(orphan, now, sizeof now)) : -1);
    fflush(stdout);
}

/* deadmount ROOT MODE: MODE "child" (the dead mount is root/spill_1_2) or "inside" (it is
 * `sub` inside the orphan root/spill_1000_1). Prints "skip REASON" where FUSE or mount
 * namespaces are not allowed. */
int tu_helper_deadmount(int argc, const char *const *argv)
{
    char orphan[2048], mnt[2100], now[2400];
    int fuse_fd = -1;
    if (argc < 2)
        return 2;
    alarm(DEADLINE_S); /* a hung call kills this process, its namespace and its mounts */
    /* "noopenat2": the stat before the open must keep it off the mount by itself;
     * "nostatx": as where a stat by name can wait (no statx, no openat2: macOS, the BSDs, an
     * old Linux), the reap's mount snapshot must */
    spill__posix_knobs.no_statx = argc > 2 && strcmp(argv[2], "nostatx") == 0;
    spill__posix_knobs.no_openat2 = spill__posix_knobs.no_statx ||
                                    (argc > 2 && strcmp(argv[2], "noopenat2") == 0);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("skip cannot make a private mount namespace: %s\n", strerror(errno));
        return 0;
    }
    snprintf(orphan, sizeof orphan, "%s/spill_1000_1", argv[0]);
    if (make_orphan(orphan) != 0) {
        printf("error cannot make the orphan: %s\n", strerror(errno));
        return 1;
    }
    if (strcmp(argv[1], "child") == 0)
        snprintf(mnt, sizeof mnt, "%s/spill_1_2", argv[0]);
    else
        snprintf(mnt, sizeof mnt, "%s/sub", orphan);
    if (strcmp(argv[1], "child") == 0 && mkdir(mnt, 0700) != 0) {
        printf("error cannot make %s: %s\n", mnt, strerror(errno));
        return 1;
    }
    if (mount_dead_fuse(mnt, &fuse_fd) != 0)
        return 0;
    run_calls(argv[0], strcmp(argv[1], "child") == 0 ? NULL : orphan);
    snprintf(mnt, sizeof mnt, "%s/sub", where_now(orphan, now, sizeof now));
    umount2(mnt, MNT_DETACH);
    close(fuse_fd);
    return 0;
}

/* bindmount ROOT [fallback]: root/outside bind-mounted on `sub` inside an orphan (the same
 * filesystem: the same device number); with "fallback" the mount ids come from the pre-5.8
 * path (name_to_handle_at) instead of statx. Prints what the reap did and whether the bind
 * mount's source is intact. */
int tu_helper_bindmount(int argc, const char *const *argv)
{
    char orphan[2048], outside[2048], keep[2100], mnt[2100], now[2400];
    spill_opts o;
    spill_reap_stats st;
    if (argc < 1)
        return 2;
    alarm(DEADLINE_S);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("skip cannot make a private mount namespace: %s\n", strerror(errno));
        return 0;
    }
    /* the mount check itself, not openat2's RESOLVE_NO_XDEV behind it */
    spill__posix_knobs.no_openat2 = 1;
    spill__posix_knobs.no_statx_mnt_id = argc > 1 && strcmp(argv[1], "fallback") == 0;
    /* "devonly": as macOS and the BSDs, no statx and no mount id: a nullfs or bind mount of the
     * same filesystem has the root's device number, and only the mount snapshot shows it */
    spill__posix_knobs.no_statx = argc > 1 && strcmp(argv[1], "devonly") == 0 ? 2 : 0;
    snprintf(orphan, sizeof orphan, "%s/spill_1000_1", argv[0]);
    snprintf(outside, sizeof outside, "%s/outside", argv[0]);
    snprintf(keep, sizeof keep, "%s/keep", outside);
    snprintf(mnt, sizeof mnt, "%s/sub", orphan);
    if (make_orphan(orphan) != 0 || mkdir(outside, 0700) != 0 || put(keep, "not ours") != 0) {
        printf("error cannot make the tree: %s\n", strerror(errno));
        return 1;
    }
    if (mount(outside, mnt, NULL, MS_BIND, NULL) != 0) {
        printf("skip cannot bind-mount: %s\n", strerror(errno));
        return 0;
    }
    spill_opts_init(&o);
    o.grace_seconds = 0;
    memset(&st, 0, sizeof st);
    spill_reap(argv[0], &o, &st);
    printf("reaped=%u errors=%u kept=%d left=%d\n", st.reaped, st.errors,
           access(keep, F_OK) == 0, only_lock_and_mount_left(where_now(orphan, now, sizeof now)));
    snprintf(mnt, sizeof mnt, "%s/sub", where_now(orphan, now, sizeof now));
    umount2(mnt, MNT_DETACH);
    return 0;
}

/* 1 if this process's mount table names a path under dir. */
static int mounted_under(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192];
    int found = 0;
    if (!f)
        return 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, dir) != NULL;
    fclose(f);
    return found;
}

static const char *run3(const char *name, const char *root, const char *mode,
                        const char *extra)
{
    const char *args[] = {root, mode, extra, NULL};
    const char *line = tu_run_helper(name, args); /* waits for the helper to be gone */
    CU_ASSERT(!mounted_under(root));
    return line;
}

static const char *run(const char *name, const char *root, const char *mode)
{
    return run3(name, root, mode, NULL);
}

/* A dead mount as a root child: unsafe, and every call returns at once; the orphan beside it is
 * reaped. */
static void dead_root_child(const char *extra)
{
    const char *root = tu_fresh_dir("deadchild");
    const char *line = run3("deadmount", root, "child", extra);
    if (strncmp(line, "skip", 4) == 0)
        TU_SKIP(line);
    CU_ASSERT_STRING_EQUAL(line, "fast=1 scan=0 entries=2 reaped=1 unsafe=1 errors=0 named=0 "
                                 "open=0 close=0 left=-1");
    CU_ASSERT(tu_count_entries(root) == 1); /* the mount point, a plain directory here */
}

/* A dead mount one level inside an orphan: left, the rest of the orphan removed, an error whose
 * reason names the mount; no call waits on it. */
static void dead_inside_orphan(const char *extra)
{
    const char *root = tu_fresh_dir("deadinside");
    const char *line = run3("deadmount", root, "inside", extra);
    if (strncmp(line, "skip", 4) == 0)
        TU_SKIP(line);
    /* scan, reap and the reap in spill_open: the orphan is an error each time, never entered */
    CU_ASSERT_STRING_EQUAL(line, "fast=1 scan=0 entries=1 reaped=0 unsafe=0 errors=1 named=1 "
                                 "open=0 close=0 left=1");
}

static void test_dead_root_child(void)
{
    dead_root_child(NULL);
}

static void test_dead_inside_orphan(void)
{
    dead_inside_orphan(NULL);
}

/* The same where the kernel has no openat2 (before 5.6, or a seccomp filter refusing it). */
static void test_dead_without_openat2(void)
{
    dead_root_child("noopenat2");
    dead_inside_orphan("noopenat2");
}

/* A bind mount of the same filesystem inside an orphan has the root's device number: only the
 * mount id shows it, and it must never be entered. */
/* A bind mount of root/outside inside an orphan, judged the way `mode` names: never entered,
 * the orphan an error, the mount's source untouched. */
static void bind_mount_case(const char *what, const char *mode)
{
    const char *root = tu_fresh_dir(what);
    const char *line = run("bindmount", root, mode);
    if (strncmp(line, "skip", 4) == 0)
        TU_SKIP(line);
    CU_ASSERT_STRING_EQUAL(line, "reaped=0 errors=1 kept=1 left=1");
    CU_ASSERT(tu_exists(tu_join(root, "outside/keep")));
}

static void test_bind_mount_inside_orphan(void)
{
    bind_mount_case("bindinside", "statx");
}

/* The same through the mount id of kernels before 5.8 (name_to_handle_at). */
static void test_bind_mount_fallback(void)
{
    bind_mount_case("bindfallback", "fallback");
}

/* Where no stat by name can be told not to wait (no statx: macOS, the BSDs, an old Linux), the
 * reap's snapshot of mount points (getmntinfo(MNT_NOWAIT) there, /proc/self/mountinfo here)
 * answers for the mount point before anything stats it. */
static void test_dead_without_statx(void)
{
    dead_root_child("nostatx");
    dead_inside_orphan("nostatx");
}

/* And with device numbers only (no mount ids, as on macOS and the BSDs), a bind mount of the
 * same filesystem is known from the snapshot alone. */
static void test_bind_mount_device_only(void)
{
    bind_mount_case("binddevonly", "devonly");
}

static CU_TestInfo tests[] = {
    {"a dead FUSE mount as a root child blocks nothing", test_dead_root_child},
    {"a dead FUSE mount inside an orphan: left, the rest reaped, nothing waits",
     test_dead_inside_orphan},
    {"the same two without openat2", test_dead_without_openat2},
    {"a bind mount of the same filesystem inside an orphan is never entered",
     test_bind_mount_inside_orphan},
    {"the same with the mount ids of kernels before 5.8", test_bind_mount_fallback},
    {"dead mounts where a stat by name waits (no statx): the mount snapshot",
     test_dead_without_statx},
    {"a bind mount with device numbers only (macOS, BSDs): the mount snapshot",
     test_bind_mount_device_only},
    CU_TEST_INFO_NULL,
};

test_suite suite_deadmount = {"deadmount", tests};
