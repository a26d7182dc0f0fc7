/* test_journal.c: the chunk journal as spill_adopt relies on it: a torn last entry is cut off
 * before anything is appended (planted, or torn by ENOSPC on a small tmpfs); a journal that
 * cannot be read fails the adoption and leaves the orphan byte for byte as it was; a huge one is
 * read as a stream; put/remove churn compacts it; dot files adopt does not know stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <sched.h>
#include <sys/mount.h>
#endif

#include "testutil.h"

#define TAG "journal-job"
#define ENTRY 44      /* bytes of a journal entry (docs/on-disk.md, section 6) */
#define MINE 1000     /* the seeds of the chunks the tests put themselves start here */

#ifdef _WIN32
#define OS_EMFILE ERROR_TOO_MANY_OPEN_FILES
#define OS_ENOSPC ERROR_DISK_FULL
#else
#define OS_EMFILE EMFILE
#define OS_ENOSPC ENOSPC
#endif

/* Chunk i of the adoptjob helper (tests/test_adopt.c): its length. */
static size_t job_len(unsigned i)
{
    return 1000 + (i * 7919u) % 9000;
}

/* The tests' own chunk with seed i. */
static size_t my_chunk(unsigned i, unsigned char *buf)
{
    size_t k, n = 100 + i % 50;
    for (k = 0; k < n; k++)
        buf[k] = (unsigned char)(i * 31 + k);
    return n;
}

static int put_mine(spill_t *s, unsigned from, unsigned to)
{
    unsigned char buf[256];
    unsigned i;
    for (i = from; i < to; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, i);
        if (spill_put(s, a, buf, my_chunk(i, buf)) != SPILL_OK)
            return -1;
    }
    return 0;
}

/* The chunks s holds, in the order written: the job's 0..jobs-1 (their lengths), then the
 * tests' own from MINE (their bytes). Returns how many, or -1 on a mismatch. */
static int check_chunks(spill_t *s, unsigned jobs)
{
    unsigned char want[256];
    size_t i, n = spill_count(s);
    for (i = 0; i < n; i++) {
        unsigned seed = i < jobs ? (unsigned)i : MINE + (unsigned)(i - jobs);
        uint8_t a[SPILL_ADDR_LEN], b[SPILL_ADDR_LEN];
        void *data;
        size_t len, wlen = i < jobs ? job_len(seed) : my_chunk(seed, want);
        int same;
        tu_addr(a, seed);
        if (spill_addr(s, i, b) != SPILL_OK || memcmp(a, b, sizeof a) != 0 ||
            spill_get(s, a, &data, &len) != SPILL_OK)
            return -1;
        same = len == wlen && (i < jobs || memcmp(data, want, len) == 0);
        spill_free(data);
        if (!same)
            return -1;
    }
    return (int)n;
}

/* The orphan of a job (adoptjob, resumable with TAG) that put n chunks and died unclosed. */
static const char *dead_job(const char *root, unsigned n)
{
    const char *args[] = {root, TAG, apr_itoa(tu_pool, (int)n), "exit", NULL};
    const char *line, *path;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    line = tu_read_line(&p);
    CU_ASSERT_FATAL(line != NULL && strncmp(line, "path ", 5) == 0);
    path = apr_pstrdup(tu_pool, line + 5);
    CU_ASSERT(tu_read_line(&p) != NULL); /* done */
    tu_wait(&p);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    return path;
}

/* A hard death of this process's handle, without spill_close: descriptors closed, the lock
 * released, as the kernel does for a killed process. */
static void die(spill_t *s)
{
    spill__registry_remove(s->dev, s->ino);
    spill__sys.unlock(s->lock_fd);
    s->lock_fd = SPILL__NOFD;
    spill__handle_free(s);
}

static spill_opts resumable(void)
{
    spill_opts o;
    spill_opts_init(&o);
    o.keep_seconds = 3600;
    o.tag = TAG;
    o.reap_on_open = 0;
    return o;
}

static long long journal_size(const char *spill_dir)
{
    apr_finfo_t fi;
    if (apr_stat(&fi, tu_join(spill_dir, SPILL__JOURNAL_NAME), APR_FINFO_SIZE, tu_pool) !=
        APR_SUCCESS)
        return -1;
    return (long long)fi.size;
}

static void append_bytes(const char *path, size_t n)
{
    char junk[64];
    apr_file_t *f;
    apr_size_t len = n;
    memset(junk, 0xab, sizeof junk);
    CU_ASSERT_FATAL(n <= sizeof junk);
    CU_ASSERT_FATAL(apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_APPEND, 0, tu_pool) ==
                    APR_SUCCESS);
    CU_ASSERT(apr_file_write_full(f, junk, len, NULL) == APR_SUCCESS);
    apr_file_close(f);
}

/* 20 stray bytes after the last entry (a torn one): the adopter cuts them off before it
 * appends, so what it puts is adopted in its turn. */
static void test_torn_tail_cut(void)
{
    const char *root = tu_fresh_dir("journal-torn");
    const char *path = dead_job(root, 30);
    spill_opts o = resumable();
    spill_t *s;
    append_bytes(tu_join(path, SPILL__JOURNAL_NAME), 20);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, &o, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 30) == 30);
    CU_ASSERT(journal_size(path) == 30 * ENTRY); /* cut before the first append */
    CU_ASSERT(put_mine(s, MINE, MINE + 20) == 0);
    die(s);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, &o, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 30) == 50);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* The journal's open fails (EMFILE), through the operations table. */
static int journal_open_fails(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how == SPILL__OPEN_READ && strcmp(name, SPILL__JOURNAL_NAME) == 0)
        return spill__error_os("openat", name, OS_EMFILE);
    return spill__sys_default.open_file(at, name, how, out);
}

/* A journal that cannot be read: spill_adopt fails with the error and removes nothing (the
 * record, the journal and the chunks byte for byte as they were); the orphan stays
 * resumable, and adopting it once the fault is gone gives every chunk. */
static void test_unreadable_journal_fails(void)
{
    const char *root = tu_fresh_dir("journal-emfile");
    const char *path = dead_job(root, 12), *before;
    spill_t *s = NULL;
    int rc;
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, "stray"), "unproven") == 0);
    before = tu_snapshot(path);
    spill__sys.open_file = journal_open_fails;
    rc = spill_adopt(root, TAG, NULL, &s);
    spill__sys.open_file = spill__sys_default.open_file;
    CU_ASSERT(rc == SPILL_EIO && s == NULL);
    CU_ASSERT(spill_error_last()->code == SPILL_EIO &&
              spill_error_last()->os_error == OS_EMFILE);
    CU_ASSERT(strstr(spill_error_last()->path, SPILL__JOURNAL_NAME) != NULL);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(path), before);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 12) == 12);
    CU_ASSERT(!tu_exists(tu_join(path, "stray")));
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Adopt removes only what the journal proves incomplete or absent: a stray file and a
 * compaction cut short (.journal-new) go; a dot file it does not know (a later version's) is
 * left. */
static void test_unknown_dot_files_left(void)
{
    const char *root = tu_fresh_dir("journal-dots");
    const char *path = dead_job(root, 5), *reserve;
    spill_t *s;
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, ".reserve"), "a later version's") == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, SPILL__JOURNAL_TMP), "cut short") == 0);
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, "stray"), "unproven") == 0);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 5) == 5);
    reserve = tu_read_file(tu_join(path, ".reserve"), NULL);
    CU_ASSERT(reserve && strcmp(reserve, "a later version's") == 0);
    CU_ASSERT(!tu_exists(tu_join(path, SPILL__JOURNAL_TMP)));
    CU_ASSERT(!tu_exists(tu_join(path, "stray")));
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* The compacted journal cannot be created (ENOSPC): the adopter cuts the torn tail in place. */
static int compaction_no_space(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how == SPILL__OPEN_CREATE && strcmp(name, SPILL__JOURNAL_TMP) == 0)
        return spill__error_os("openat", name, OS_ENOSPC);
    return spill__sys_default.open_file(at, name, how, out);
}

static int truncate_fails(spill__fd at, const char *name, uint64_t len)
{
    (void)at;
    (void)len;
    return spill__error_os("ftruncate", name, OS_ENOSPC);
}

static void test_no_space_to_rewrite(void)
{
    const char *root = tu_fresh_dir("journal-nospace");
    const char *path = dead_job(root, 10);
    spill_opts o = resumable();
    spill_t *s;
    int rc;
    append_bytes(tu_join(path, SPILL__JOURNAL_NAME), 20);
    spill__sys.open_file = compaction_no_space;
    rc = spill_adopt(root, TAG, &o, &s);
    spill__sys.open_file = spill__sys_default.open_file;
    CU_ASSERT_FATAL(rc == SPILL_OK);
    CU_ASSERT(check_chunks(s, 10) == 10);
    CU_ASSERT(journal_size(path) == 10 * ENTRY); /* cut in place */
    CU_ASSERT(put_mine(s, MINE, MINE + 5) == 0);
    die(s);
    /* neither rewritten nor cut: left as it was, torn, and nothing is appended after it (the
     * chunks put are not adoptable, the journaled ones still are) */
    append_bytes(tu_join(path, SPILL__JOURNAL_NAME), 20);
    spill__sys.open_file = compaction_no_space;
    spill__sys.truncate = truncate_fails;
    rc = spill_adopt(root, TAG, &o, &s);
    CU_ASSERT_FATAL(rc == SPILL_OK);
    CU_ASSERT(check_chunks(s, 10) == 15);
    CU_ASSERT(journal_size(path) == 15 * ENTRY + 20);
    CU_ASSERT(put_mine(s, MINE + 5, MINE + 8) == 0);
    CU_ASSERT(journal_size(path) == 15 * ENTRY + 20);
    spill__sys.open_file = spill__sys_default.open_file;
    spill__sys.truncate = spill__sys_default.truncate;
    die(s);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, &o, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 10) == 15);
    CU_ASSERT(journal_size(path) == 15 * ENTRY);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* An append that fails half way (the disk filling mid-write) is cut back at once, so the
 * entries after it stay in step; the put's compaction then proves its chunk again. */
static int tear_next_entry;
static int tearing_write(spill__fd fd, const void *buf, size_t len, int replace)
{
    if (tear_next_entry && len == ENTRY && !replace) {
        tear_next_entry = 0;
        spill__sys_default.write(fd, buf, len / 2, 0);
        return spill__error_os("write", "", OS_ENOSPC);
    }
    return spill__sys_default.write(fd, buf, len, replace);
}

/* A job that puts 10 chunks, the 6th one's entry torn (and its compaction refused when
 * no_compaction), then dies; returns its orphan's path. */
static const char *torn_job(const char *root, int no_compaction)
{
    spill_opts o = resumable();
    const char *path;
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT(put_mine(s, MINE, MINE + 5) == 0);
    tear_next_entry = 1;
    spill__sys.write = tearing_write;
    if (no_compaction)
        spill__sys.open_file = compaction_no_space;
    CU_ASSERT(put_mine(s, MINE + 5, MINE + 6) == 0); /* the put itself succeeds */
    spill__sys.write = spill__sys_default.write;
    spill__sys.open_file = spill__sys_default.open_file;
    CU_ASSERT(tear_next_entry == 0);
    CU_ASSERT(journal_size(path) == (no_compaction ? 5 : 6) * ENTRY);
    CU_ASSERT(put_mine(s, MINE + 6, MINE + 10) == 0);
    die(s);
    return path;
}

static void test_failed_append_cut_back(void)
{
    const char *root = tu_fresh_dir("journal-append");
    const char *path = torn_job(root, 0);
    spill_t *s;
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 0) == 10);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    /* no compaction: only the chunk whose entry tore is not adopted, the 4 after it are */
    path = torn_job(root, 1);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_count(s) == 9);
    CU_ASSERT(journal_size(path) == 9 * ENTRY);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Put/remove churn: the owner compacts its journal, whose size follows the live chunks (at
 * most 256 entries or twice the live chunks', journal.c), and the adopter rewrites it to
 * exactly the chunks it keeps. */
static int creates_of_tmp;
static int count_compactions(spill__fd at, const char *name, int how, spill__fd *out)
{
    if (how == SPILL__OPEN_CREATE && strcmp(name, SPILL__JOURNAL_TMP) == 0)
        creates_of_tmp++;
    return spill__sys_default.open_file(at, name, how, out);
}

static void churn(spill_t *s, unsigned cycles)
{
    unsigned char buf[256];
    unsigned i;
    for (i = 0; i < cycles; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, 100000 + i);
        if (spill_put(s, a, buf, my_chunk(i, buf)) != SPILL_OK || spill_remove(s, a) != SPILL_OK)
            break;
    }
    CU_ASSERT(i == cycles);
}

/* A resumable spill under root holding MINE..MINE+9; *path its directory. */
static spill_t *open_with_ten(const char *root, spill_opts *o, const char **path)
{
    spill_t *s;
    CU_ASSERT_FATAL(spill_open(root, o, &s) == SPILL_OK);
    *path = apr_pstrdup(tu_pool, spill_path(s));
    CU_ASSERT(put_mine(s, MINE, MINE + 10) == 0);
    return s;
}

/* s dies; an adopter gets its ten chunks back, and the journal holds exactly their entries. */
static void die_and_adopt_ten(spill_t *s, const char *root, spill_opts *o, const char *path)
{
    die(s);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, o, &s) == SPILL_OK);
    CU_ASSERT(check_chunks(s, 0) == 10);
    CU_ASSERT(journal_size(path) == 10 * ENTRY);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static void test_churn_compacted(void)
{
    const char *root = tu_fresh_dir("journal-churn");
    unsigned cycles = tu_is_wine() ? 1000 : 5000;
    spill_opts o = resumable();
    const char *path;
    spill_t *s = open_with_ten(root, &o, &path);
    spill__sys.open_file = count_compactions;
    churn(s, cycles);
    spill__sys.open_file = spill__sys_default.open_file;
    CU_ASSERT(journal_size(path) <= 256 * ENTRY);
    /* amortised: one compaction per some 245 puts at 10 live chunks */
    CU_ASSERT(creates_of_tmp > 0 && (unsigned)creates_of_tmp <= cycles / 200);
    CU_ASSERT(!tu_exists(tu_join(path, SPILL__JOURNAL_TMP)));
    die_and_adopt_ten(s, root, &o, path);
}

/* The owner's compaction cannot create its file (ENOSPC): the journal is left as it was and
 * still proves every chunk; the next try waits for as many puts as it would have rewritten. */
static void test_owner_compaction_no_space(void)
{
    const char *root = tu_fresh_dir("journal-churn-full");
    spill_opts o = resumable();
    const char *path;
    spill_t *s = open_with_ten(root, &o, &path);
    spill__sys.open_file = compaction_no_space;
    churn(s, 1000);
    spill__sys.open_file = spill__sys_default.open_file;
    CU_ASSERT(journal_size(path) == (10 + 1000) * ENTRY);
    CU_ASSERT(!tu_exists(tu_join(path, SPILL__JOURNAL_TMP)));
    die_and_adopt_ten(s, root, &o, path);
}

#ifndef _WIN32
/* A FIFO in the journal's place: an error (never a wait), and nothing removed. */
static void test_fifo_journal_fails(void)
{
    const char *root = tu_fresh_dir("journal-fifo");
    const char *path = dead_job(root, 8), *before;
    spill_t *s = NULL;
    int rc;
    CU_ASSERT_FATAL(unlink(tu_join(path, SPILL__JOURNAL_NAME)) == 0);
    CU_ASSERT_FATAL(mkfifo(tu_join(path, SPILL__JOURNAL_NAME), 0600) == 0);
    before = tu_snapshot(path);
    rc = spill_adopt(root, TAG, NULL, &s);
    CU_ASSERT(rc != SPILL_OK && rc != SPILL_ENOTFOUND && rc != SPILL_EBUSY && s == NULL);
    CU_ASSERT(spill_error_last()->code == rc);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(path), before);
}
#endif

#ifdef __linux__ /* its users are Linux's: an address-space limit, a tmpfs mount */

static const char *under_valgrind_or_sanitizer(void)
{
    if (tu_under_valgrind())
        return "valgrind keeps its own address space";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return "a sanitizer's shadow memory needs the address space";
#else
    return NULL;
#endif
}

static double seconds_since(const struct timeval *t0)
{
    struct timeval t1;
    gettimeofday(&t1, NULL);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_usec - t0->tv_usec) / 1e6;
}

/* In the child: the address space limited to what it maps now plus 256 MiB, then adopt. */
static void adopt_limited(const char *root, char *out, size_t size)
{
    unsigned long pages = 0;
    struct rlimit rl;
    struct timeval t0;
    spill_t *s;
    FILE *f = fopen("/proc/self/statm", "r");
    int rc;
    if (!f || fscanf(f, "%lu", &pages) != 1) {
        snprintf(out, size, "no /proc/self/statm");
        return;
    }
    fclose(f);
    rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256 << 20);
    if (setrlimit(RLIMIT_AS, &rl) != 0) {
        snprintf(out, size, "setrlimit: %s", strerror(errno));
        return;
    }
    gettimeofday(&t0, NULL);
    rc = spill_adopt(root, TAG, NULL, &s);
    if (rc != SPILL_OK) {
        snprintf(out, size, "rc=%d %s", rc, spill_error_last()->message);
        return;
    }
    snprintf(out, size, "rc=0 count=%d in %.3f s", check_chunks(s, 40), seconds_since(&t0));
    spill_close(s);
}

/* A sparse 3 GiB journal (40 entries, then a hole): read as a stream, under an address-space
 * limit far below its size, and rewritten to its 40 entries. */
static void test_sparse_journal_bounded(void)
{
    const char *root = tu_fresh_dir("journal-sparse"), *path, *line, *why;
    const char *journal;
    struct stat sb;
    if ((why = under_valgrind_or_sanitizer()) != NULL)
        TU_SKIP(why);
    path = dead_job(root, 40);
    journal = tu_join(path, SPILL__JOURNAL_NAME);
    CU_ASSERT_FATAL(truncate(journal, (off_t)3 << 30) == 0);
    CU_ASSERT_FATAL(stat(journal, &sb) == 0);
    if ((long long)sb.st_blocks * 512 > (64LL << 20))
        TU_SKIP("this filesystem keeps no sparse file");
    line = tu_child_line(adopt_limited, root);
    printf("\n  sparse 3 GiB journal: %s\n", line);
    CU_ASSERT(strncmp(line, "rc=0 count=40 in ", 17) == 0);
    CU_ASSERT(journal_size(path) == -1); /* closed: gone with the spill */
}

/* In the child, in a mount namespace of its own: a small tmpfs at dir, filled up so that the
 * journal's next entry has no page left once the chunk took the last one. */
static void tear_with(const char *dir, char *block, long page, char *out, size_t size)
{
    unsigned fit = (unsigned)(page / ENTRY), i;
    const char *root = apr_pstrcat(tu_pool, dir, "/root", NULL);
    const char *filler = apr_pstrcat(tu_pool, dir, "/filler", NULL);
    char opts[64];
    spill_opts o = resumable();
    int fd, a1 = -1, a2 = -1;
    long long torn;
    off_t filled = 0;
    spill_t *s;
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(out, size, "skip cannot make a mount namespace: %s", strerror(errno));
        return;
    }
    snprintf(opts, sizeof opts, "size=%ld", page * (long)(fit + 32));
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        snprintf(out, size, "skip cannot mount tmpfs: %s", strerror(errno));
        return;
    }
    /* fit chunks of one page each fill the journal's first page to within one entry */
    if (mkdir(root, 0700) != 0 || spill_open(root, &o, &s) != SPILL_OK) {
        snprintf(out, size, "setup: %s", strerror(errno));
        return;
    }
    for (i = 0; i < fit; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, MINE + i);
        if (spill_put(s, a, block, (size_t)page) != SPILL_OK) {
            snprintf(out, size, "setup: put %u: %s", i, spill_error_last()->message);
            return;
        }
    }
    /* every page taken, then one given back: the next chunk takes it */
    fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    while (fd >= 0 && write(fd, block, (size_t)page) == page)
        filled += page;
    if (fd < 0 || ftruncate(fd, filled - page) != 0) {
        snprintf(out, size, "setup: filler: %s", strerror(errno));
        return;
    }
    close(fd);
    {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, MINE + fit);
        if (spill_put(s, a, block, (size_t)page) != SPILL_OK) { /* the journal never fails it */
            snprintf(out, size, "setup: last put: %s", spill_error_last()->message);
            return;
        }
    }
    torn = journal_size(spill_path(s));
    die(s);
    unlink(filler);
    /* adopted, 20 more put, dead again, adopted again */
    if (spill_adopt(root, TAG, &o, &s) == SPILL_OK) {
        a1 = (int)spill_count(s);
        if (put_mine(s, 2 * MINE, 2 * MINE + 20) == 0) {
            die(s);
            if (spill_adopt(root, TAG, &o, &s) == SPILL_OK) {
                a2 = (int)spill_count(s);
                spill_close(s);
            }
        }
    }
    umount(dir);
    snprintf(out, size, "adopted %d then %d (journal of %lld bytes after the tear)", a1, a2,
             torn);
}

static void tear_on_tmpfs(const char *dir, char *out, size_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    char *block = calloc(1, (size_t)page);
    if (block)
        tear_with(dir, block, page, out, size);
    free(block);
}

static void test_enospc_tear_on_tmpfs(void)
{
    const char *dir = tu_fresh_dir("journal-tmpfs");
    unsigned fit = (unsigned)(sysconf(_SC_PAGESIZE) / ENTRY);
    const char *line = tu_child_line(tear_on_tmpfs, dir);
    char want[64];
    if (strncmp(line, "skip", 4) == 0)
        TU_SKIP(line);
    snprintf(want, sizeof want, "adopted %u then %u ", fit, fit + 20);
    printf("\n  tmpfs: %s\n", line);
    CU_ASSERT(strncmp(line, want, strlen(want)) == 0);
}
#endif

static CU_TestInfo tests[] = {
    {"a torn last entry is cut before the adopter appends", test_torn_tail_cut},
    {"an unreadable journal (EMFILE) fails the adoption, nothing removed",
     test_unreadable_journal_fails},
    {"dot files adopt does not know are left", test_unknown_dot_files_left},
    {"no space to rewrite: cut in place, or left and not appended to", test_no_space_to_rewrite},
    {"an append that fails half way is cut back, its chunk proven again",
     test_failed_append_cut_back},
    {"put/remove churn: the journal follows the live chunks", test_churn_compacted},
    {"the owner's compaction without space leaves the journal as it was",
     test_owner_compaction_no_space},
#ifndef _WIN32
    {"a FIFO in the journal's place fails the adoption, nothing removed",
     test_fifo_journal_fails},
#endif
#ifdef __linux__
    {"a sparse 3 GiB journal under an address-space limit", test_sparse_journal_bounded},
    {"ENOSPC tears an entry on a small tmpfs: every chunk adopted after",
     test_enospc_tear_on_tmpfs},
#endif
    CU_TEST_INFO_NULL,
};

test_suite suite_journal = {"journal", tests};
