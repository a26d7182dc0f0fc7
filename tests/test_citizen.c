/* test_citizen.c: spill as a good citizen of its host (issue 16): live spills survive
 * systemd-tmpfiles (rule 13), the host's own fcntl locks survive a planted hard link (rule 7),
 * and the small ones (an empty --root, ages at INT64_MIN, network magics, rename fallback). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "judge.h"
#include "posix/posix.h"
#include "testutil.h"

#define OLD 1000000000ULL /* 2001: old enough for any grace */

static spill_t *open_here(const char *root)
{
    spill_opts o;
    spill_t *s = NULL;
    spill_opts_init(&o);
    o.reap_on_open = 0;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    return s;
}

/* Runs argv (NULL-terminated) with stdout and stderr to /dev/null; returns its exit status,
 * or -signal. */
static int run(const char *const *argv)
{
    int status;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1000;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static const char *cli(void)
{
    const char *p = getenv("SPILL_CLI");
    return p && *p ? p : NULL;
}

/* ---- rule 13: systemd-tmpfiles and the directory lock ---- */

static const char *tmpfiles(void)
{
    static const char *const where[] = {"/usr/bin/systemd-tmpfiles", "/bin/systemd-tmpfiles",
                                        NULL};
    int i;
    for (i = 0; where[i]; i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

/* The latest of atime, mtime and ctime of every entry of dir and of dir itself:
 * systemd-tmpfiles ages by all three, so `touch -d` cannot make a file old. */
static time_t newest_time(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    struct stat sb;
    time_t t = 0;
    if (lstat(dir, &sb) == 0)
        t = sb.st_ctime;
    CU_ASSERT_FATAL(apr_dir_open(&d, dir, tu_pool) == APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (lstat(tu_join(dir, fi.name), &sb) != 0)
            continue;
        if (sb.st_atime > t) t = sb.st_atime;
        if (sb.st_mtime > t) t = sb.st_mtime;
        if (sb.st_ctime > t) t = sb.st_ctime;
    }
    apr_dir_close(d);
    return t;
}

#define TMPFILES_AGE 2

/* Waits for the clock, not for another process: until every time of dir is older than the
 * age (a second over, as tmpfiles compares whole seconds against a microsecond clock). */
static void wait_past_age(const char *dir)
{
    time_t until = newest_time(dir) + TMPFILES_AGE + 2;
    while (time(NULL) < until)
        apr_sleep(apr_time_from_msec(100));
}

/* A live spill whose files are older than the configured age survives `systemd-tmpfiles
 * --clean` with every chunk; its owner then closes it cleanly; an orphan is still reaped by
 * spill afterwards. */
static void test_tmpfiles_spares_live(void)
{
    const char *tf = tmpfiles(), *root, *conf, *path, *orphan;
    const char *argv[] = {NULL, "--clean", NULL, NULL};
    uint8_t addr[SPILL_ADDR_LEN];
    spill_reap_stats st;
    spill_t *s;
    unsigned i;
    if (!tf)
        TU_SKIP("systemd-tmpfiles is not installed (ci/deps.sh installs systemd)");
    root = tu_fresh_dir("tmpfiles");
    conf = tu_join(tu_fresh_dir("tmpfiles-conf"), "spill-test.conf");
    CU_ASSERT_FATAL(tu_write_file(conf, apr_psprintf(tu_pool, "d %s - - - %ds\n", root,
                                                     TMPFILES_AGE)) == 0);
    s = open_here(root);
    for (i = 0; i < 4; i++) {
        tu_addr(addr, i);
        CU_ASSERT(spill_put(s, addr, "chunk-bytes", 11) == SPILL_OK);
    }
    path = spill_path(s);
    wait_past_age(path);
    argv[0] = tf;
    argv[2] = conf;
    CU_ASSERT(run(argv) == 0);
    CU_ASSERT(tu_exists(tu_join(path, ".lock")));
    CU_ASSERT(tu_count_entries(path) == 5);
    for (i = 0; i < 4; i++) {
        void *data = NULL;
        size_t len = 0;
        tu_addr(addr, i);
        CU_ASSERT(spill_get(s, addr, &data, &len) == SPILL_OK);
        CU_ASSERT(len == 11 && data && memcmp(data, "chunk-bytes", 11) == 0);
        spill_free(data);
    }
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
    /* and the reaper still reaps: its exclusive directory lock is let go of */
    orphan = tu_make_spill_dir(root, OLD, 7, 2, tu_record(7));
    st = tu_reap(root, 30);
    CU_ASSERT(st.reaped == 1 && st.live == 0);
    CU_ASSERT(!tu_exists(orphan));
}

/* A child that holds flock(how) on dir until its stdin pipe closes; *done is that pipe. */
static pid_t flock_holder(const char *dir, int how, int *done)
{
    int ready[2], hold[2];
    char c;
    pid_t pid;
    CU_ASSERT_FATAL(pipe(ready) == 0 && pipe(hold) == 0);
    pid = fork();
    if (pid == 0) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        close(ready[0]);
        close(hold[1]);
        if (fd < 0 || flock(fd, how | LOCK_NB) != 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_FATAL(read(ready[0], &c, 1) == 1); /* the child holds its lock */
    close(ready[0]);
    *done = hold[1];
    return pid;
}

static int end_child(pid_t pid, int done)
{
    int status;
    close(done);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct seen {
    const char *name; /* the entry to remember */
    int state;
    char reason[128];
} seen;

static int remember(void *ctx, const spill_entry *e)
{
    seen *s = ctx;
    if (strcmp(e->name, s->name) != 0)
        return 0;
    s->state = e->state;
    snprintf(s->reason, sizeof s->reason, "%s", e->reason ? e->reason : "");
    return 0;
}

/* A process holding an flock on a spill-named orphan's directory keeps it from the reaper
 * (rule 13), and spill_scan says why. */
static void test_dir_flock_keeps_orphan(void)
{
    const char *root = tu_fresh_dir("dirflock");
    const char *orphan = tu_make_spill_dir(root, OLD, 3, 2, tu_record(3));
    const char *lockless = tu_make_spill_dir(root, OLD, 4, 2, NULL);
    spill_reap_stats st;
    seen sc;
    int done1, done2;
    pid_t p1 = flock_holder(orphan, LOCK_SH, &done1), p2 = flock_holder(lockless, LOCK_EX,
                                                                       &done2);
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 2 && st.reaped == 0);
    CU_ASSERT(tu_exists(tu_join(orphan, "chunk001")) && tu_exists(tu_join(lockless, "chunk001")));
    CU_ASSERT(tu_exists(tu_join(orphan, ".lock")));
    memset(&sc, 0, sizeof sc);
    sc.name = tu_base_name(orphan);
    CU_ASSERT(end_child(p2, done2) == 0);
    CU_ASSERT(spill_scan(root, NULL, remember, &sc) == SPILL_OK);
    CU_ASSERT(sc.state == SPILL_LIVE);
    CU_ASSERT_STRING_EQUAL(sc.reason, "directory locked by another process");
    CU_ASSERT(end_child(p1, done1) == 0);
    st = tu_reap(root, 0);
    CU_ASSERT(st.reaped == 2 && st.live == 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* Rule 13's live fast path: spill_reap judges a directory someone holds an flock on live
 * without opening its .lock; a directory nobody holds goes on to .lock as ever; spill_scan,
 * which shows records, always opens .lock. */
#ifdef __linux__
static unsigned probes;
static int counting_probe(spill__fd at, const char *name, int how, spill__fd *out)
{
    probes++;
    return spill__sys_default.lock_probe(at, name, how, out);
}

static void test_live_fast_path(void)
{
    const char *root = tu_fresh_dir("livefast");
    const char *live = tu_make_spill_dir(root, OLD, 5, 1, tu_record(5));
    spill_reap_stats st;
    seen sc;
    int done;
    pid_t p = flock_holder(live, LOCK_SH, &done); /* as a live owner holds its directory */
    spill__sys.lock_probe = counting_probe;
    probes = 0;
    st = tu_reap(root, 0);
    CU_ASSERT(st.live == 1 && st.reaped == 0);
    CU_ASSERT_EQUAL(probes, 0);
    memset(&sc, 0, sizeof sc);
    sc.name = tu_base_name(live);
    CU_ASSERT(spill_scan(root, NULL, remember, &sc) == SPILL_OK && sc.state == SPILL_LIVE);
    CU_ASSERT(probes >= 1);
    CU_ASSERT(end_child(p, done) == 0);
    probes = 0;
    st = tu_reap(root, 0); /* nobody holds it: .lock decides, and it is an orphan */
    spill__sys.lock_probe = spill__sys_default.lock_probe;
    CU_ASSERT(st.reaped == 1 && probes == 1);
    CU_ASSERT(tu_count_entries(root) == 0);
}
#endif

/* Rule 13, the owner's side: its shared lock is taken on the staging directory, so a cleaner
 * walking it (an exclusive flock there) makes the creation retry under a new name. */
static int cleaner_fd = -1;
static int cleaner_dir_lock(spill__fd fd, int how)
{
    if (how == SPILL__DLOCK_SH && cleaner_fd < 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", (int)fd);
        cleaner_fd = open(proc, O_RDONLY | O_DIRECTORY); /* another open file: conflicts */
        if (cleaner_fd >= 0)
            flock(cleaner_fd, LOCK_EX | LOCK_NB);
    }
    return spill__sys_default.dir_lock(fd, how);
}

static void test_owner_locks_staging(void)
{
    const char *root = tu_fresh_dir("stagelock");
    spill_t *s;
    int fd;
    spill__sys.dir_lock = cleaner_dir_lock;
    s = open_here(root);
    spill__sys.dir_lock = spill__sys_default.dir_lock;
    CU_ASSERT_FATAL(cleaner_fd >= 0);
    close(cleaner_fd);
    cleaner_fd = -1;
    /* the first attempt was refused and undone; the spill came from a retry */
    CU_ASSERT(tu_count_entries(root) == 1);
    /* and its directory is held shared: an exclusive flock is refused, a shared one is not */
    fd = open(spill_path(s), O_RDONLY | O_DIRECTORY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK);
    CU_ASSERT(flock(fd, LOCK_SH | LOCK_NB) == 0);
    close(fd);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_count_entries(root) == 0);
}

/* A child forked while a reap holds an orphan's directory lock does not keep that orphan from
 * the next reap: the reaper lets go with LOCK_UN, not by closing its (shared) descriptor. The
 * first reap is made to fail its removal, so that the orphan is still there for the next. */
static pid_t forked;
static int forked_done = -1;

static int fork_on_dir_lock(spill__fd fd, int how)
{
    int rc = spill__sys_default.dir_lock(fd, how);
    if (how == SPILL__DLOCK_EX && rc == SPILL_OK && forked == 0) {
        int p[2];
        char c;
        if (pipe(p) != 0)
            return rc;
        forked = fork();
        if (forked == 0) { /* keeps every inherited descriptor until its pipe closes */
            close(p[1]);
            while (read(p[0], &c, 1) > 0)
                ;
            _exit(0);
        }
        close(p[0]);
        forked_done = p[1];
    }
    return rc;
}

static int refuse_unlink(spill__fd at, const char *name, int is_dir, spill__fd *held)
{
    if (held) /* what this process holds goes as before */
        return spill__sys_default.unlink(at, name, is_dir, held);
    return spill__error_set_os(SPILL_EACCES, EACCES, "unlinkat", name, "refused by the test");
}

static void test_forked_child_pins_nothing(void)
{
    const char *root = tu_fresh_dir("forkpin");
    const char *orphan = tu_make_spill_dir(root, OLD, 5, 2, tu_record(5));
    spill_reap_stats st;
    forked = 0;
    spill__sys.dir_lock = fork_on_dir_lock;
    spill__sys.unlink = refuse_unlink;
    memset(&st, 0, sizeof st);
    CU_ASSERT(spill_reap(root, NULL, &st) == SPILL_OK);
    spill__sys.unlink = spill__sys_default.unlink;
    spill__sys.dir_lock = spill__sys_default.dir_lock;
    CU_ASSERT_FATAL(forked > 0);
    CU_ASSERT(st.errors == 1); /* the first reap could not remove it: left as trash */
    orphan = tu_left_as_trash(root, orphan);
    st = tu_reap(root, 0); /* the child still lives, holding copies of the reaper's fds */
    CU_ASSERT(st.reaped == 1 && st.live == 0);
    CU_ASSERT(!tu_exists(orphan));
    CU_ASSERT(end_child(forked, forked_done) == 0);
}

/* ---- rule 7: the host's own fcntl lock on a file planted as .lock ---- */


static int count_unsafe(void *ctx, const spill_entry *e)
{
    if (e->state == SPILL_UNSAFE)
        ++*(int *)ctx;
    return 0;
}

/* An application holds an fcntl lock on its own file (as SQLite does) and a .lock under the
 * root is a hard link to it: spill_reap, spill_scan, `spill ls` and spill_open leave the lock
 * held and the file untouched (on either lock backend: opening and closing any descriptor on
 * it would drop the lock). */
static void test_host_fcntl_lock_survives(void)
{
    const char *host = tu_join(tu_fresh_dir("hostapp"), "app.db");
    const char *root = tu_fresh_dir("hostlink"), *dir, *before;
    const char *ls[] = {NULL, "ls", "--root", NULL, "--json", NULL};
    spill_reap_stats st;
    spill_t *s;
    int fd, unsafe = 0;
    CU_ASSERT_FATAL(tu_write_file(host, "the application's own data") == 0);
    dir = tu_make_spill_dir(root, OLD, 9, 1, NULL);
    CU_ASSERT_FATAL(link(host, tu_join(dir, ".lock")) == 0);
    before = tu_snapshot(dir); /* it reads .lock: before the lock, whose close it would drop */
    fd = open(host, O_RDWR | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0 && tu_fcntl_lock(fd) == 0);
    CU_ASSERT_FATAL(tu_locked_by_us(host));

    st = tu_reap(root, 0);
    CU_ASSERT(st.unsafe == 1 && st.reaped == 0);
    CU_ASSERT(tu_locked_by_us(host));
    CU_ASSERT(spill_scan(root, NULL, count_unsafe, &unsafe) == SPILL_OK);
    CU_ASSERT(unsafe == 1);
    CU_ASSERT(tu_locked_by_us(host));
    if (cli()) {
        ls[0] = cli();
        ls[3] = root;
        CU_ASSERT(run(ls) == 0);
        CU_ASSERT(tu_locked_by_us(host));
    }
    CU_ASSERT_FATAL(spill_open(root, NULL, &s) == SPILL_OK); /* with its reap */
    CU_ASSERT(tu_locked_by_us(host));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(tu_locked_by_us(host));
    close(fd); /* the test's own reads of the file would drop the lock: checked above */
    CU_ASSERT_STRING_EQUAL(tu_snapshot(dir), before);
    CU_ASSERT_STRING_EQUAL(tu_read_file(host, NULL), "the application's own data");
}

/* ---- the small ones ---- */

static void test_reap_empty_root_is_usage(void)
{
    const char *argv[] = {NULL, "reap", "--root", "", NULL};
    if (!cli())
        TU_SKIP("SPILL_CLI is not set: run this suite through ctest");
    argv[0] = cli();
    CU_ASSERT(run(argv) == 2);
}

/* A fresh directory on tmpfs (/dev/shm) where there is one, else in the test directory. */
static const char *tmpfs_dir(const char *what)
{
    const char *d = apr_psprintf(tu_pool, "/dev/shm/spill-test-%s-%ld", what, (long)getpid());
    if (access("/dev/shm", W_OK) != 0 || mkdir(d, 0700) != 0)
        return tu_fresh_dir(what);
    return d;
}

/* An mtime of INT64_MIN (tmpfs allows it) with a name timestamp too far ahead to count: the
 * age saturates instead of overflowing (UBSan traps on the overflow; plain builds wrapped to a
 * negative age and called the orphan young for ever). */
static void test_age_at_int64_min(void)
{
    const char *root = tmpfs_dir("agemin");
    const char *d = tu_make_spill_dir(root, 99999999999ULL, 1, 1, NULL);
    struct timespec ts[2];
    struct stat sb;
    seen sc;
    spill_reap_stats st;
    CU_ASSERT(spill__age(0, INT64_MIN) == INT64_MAX);
    CU_ASSERT(spill__age(-2, INT64_MAX) == INT64_MIN);
    CU_ASSERT(spill__age(100, 40) == 60);
    ts[0].tv_sec = ts[1].tv_sec = (time_t)INT64_MIN;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    if (utimensat(AT_FDCWD, d, ts, AT_SYMLINK_NOFOLLOW) != 0 || lstat(d, &sb) != 0 ||
        sb.st_mtime > (time_t)-(1LL << 40))
        TU_SKIP("this filesystem cannot hold so old an mtime (tmpfs can)");
    memset(&sc, 0, sizeof sc);
    sc.name = tu_base_name(d);
    sc.state = -1;
    CU_ASSERT(spill_scan(root, NULL, remember, &sc) == SPILL_OK);
    CU_ASSERT(sc.state == SPILL_ORPHAN);
    st = tu_reap(root, 30);
    CU_ASSERT(st.reaped == 1);
    if (strncmp(root, "/dev/shm/", 9) == 0)
        tu_remove_tree(root);
}

#ifdef __linux__
extern int spill__posix_network_magic(unsigned long t);

static void test_network_magics(void)
{
    CU_ASSERT(spill__posix_network_magic(0x6B414653UL)); /* kAFS */
    CU_ASSERT(spill__posix_network_magic(0x19830326UL)); /* BeeGFS */
    CU_ASSERT(spill__posix_network_magic(0x6969UL));     /* NFS */
    CU_ASSERT(!spill__posix_network_magic(0xEF53UL));    /* ext4 */
    CU_ASSERT(!spill__posix_network_magic(0x01021994UL)); /* tmpfs */
}
#endif

/* macOS answers ENOTSUP to renameatx_np(RENAME_EXCL) on smbfs, msdos and exfat: the checked
 * rename takes over, and spill_open works there. */
static void test_rename_fallback(void)
{
    const char *root = tu_fresh_dir("renamefb");
    spill_t *s = NULL;
    int rc;
    spill__posix_knobs.rename_errno = ENOTSUP;
    rc = spill_open(root, NULL, &s);
    spill__posix_knobs.rename_errno = 0;
    CU_ASSERT_FATAL(rc == SPILL_OK);
    CU_ASSERT(tu_exists(spill_path(s)));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    /* the fallback never replaces: an existing (empty) directory is refused */
    CU_ASSERT_FATAL(mkdir(tu_join(root, "a"), 0700) == 0 && mkdir(tu_join(root, "b"), 0700) == 0);
    spill__posix_knobs.rename_errno = ENOTSUP;
    rc = spill__sys.rename(SPILL__NOFD, tu_join(root, "a"), SPILL__NOFD, tu_join(root, "b"), 0);
    spill__posix_knobs.rename_errno = 0;
    CU_ASSERT(rc == SPILL_EBUSY);
    CU_ASSERT(tu_exists(tu_join(root, "a")));
}

static CU_TestInfo tests[] = {
    {"rule 13: a live spill survives systemd-tmpfiles --clean", test_tmpfiles_spares_live},
    {"rule 13: a directory flock keeps an orphan from the reaper", test_dir_flock_keeps_orphan},
    {"rule 13: the owner locks its staging directory", test_owner_locks_staging},
#ifdef __linux__ /* the directory lock is Linux's alone (its cleaners' convention) */
    {"rule 13's live fast path: a held directory is live, its .lock never opened",
     test_live_fast_path},
#endif
    {"rule 13: a child forked mid-reap pins no orphan", test_forked_child_pins_nothing},
    {"rule 7: the host's fcntl lock on a hard-linked .lock survives",
     test_host_fcntl_lock_survives},
    {"spill reap --root '' is a usage error", test_reap_empty_root_is_usage},
    {"an mtime of INT64_MIN does not overflow the age", test_age_at_int64_min},
#ifdef __linux__
    {"kAFS and BeeGFS are network filesystems", test_network_magics},
#endif
    {"a rename without atomic no-replace falls back", test_rename_fallback},
    CU_TEST_INFO_NULL,
};

test_suite suite_citizen = {"citizen", tests};
