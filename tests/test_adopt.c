/* test_adopt.c: resumable orphans and spill_adopt: a job killed at any moment (inside a write
 * too) leaves an orphan that other processes' opens and reaps keep, and adopting it gives back
 * exactly its complete chunks; the lock decides the races with reapers and other adopters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <apr_strings.h>

#include "testutil.h"

#define TAG "job-7"
#define KEEP 3600

/* Chunk i of the job: its length and bytes are a function of i alone. */
static size_t chunk_len(unsigned i)
{
    return 1000 + (i * 7919u) % 9000;
}

static void chunk_fill(unsigned char *buf, unsigned i)
{
    size_t k, n = chunk_len(i);
    unsigned x = i * 2654435761u + 7;
    for (k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        buf[k] = (unsigned char)(x >> 16);
    }
}

static void say(const char *fmt, unsigned v)
{
    printf(fmt, v);
    printf("\n");
    fflush(stdout);
}

static void wait_eof(void)
{
    char line[256];
    while (fgets(line, sizeof line, stdin))
        ;
}

/* The pause point inside a write: half the chunk written, then the helper says so and waits
 * to be killed. */
static int (*real_write)(spill__fd, const void *, size_t, int);
static int pause_in_write(spill__fd fd, const void *buf, size_t len, int replace)
{
    real_write(fd, buf, len / 2, replace);
    say("paused %u", (unsigned)len);
    wait_eof();
    _exit(4);
}

/* Which chunks spill `s` holds, checked against the job: addresses 0..count-1 in the order
 * written, every byte equal. Returns the count, or -1 on a mismatch. */
static int check_job_chunks(spill_t *s)
{
    unsigned char want[10000];
    size_t i, n = spill_count(s);
    for (i = 0; i < n; i++) {
        uint8_t a[SPILL_ADDR_LEN], b[SPILL_ADDR_LEN];
        void *data;
        size_t len;
        tu_addr(a, (unsigned)i);
        if (spill_addr(s, i, b) != SPILL_OK || memcmp(a, b, sizeof a) != 0)
            return -1;
        chunk_fill(want, (unsigned)i);
        if (spill_get(s, a, &data, &len) != SPILL_OK)
            return -1;
        if (len != chunk_len((unsigned)i) || memcmp(data, want, len) != 0) {
            spill_free(data);
            return -1;
        }
        spill_free(data);
    }
    return (int)n;
}

static int put_job(spill_t *s, unsigned from, unsigned to, int announce)
{
    unsigned char buf[10000];
    unsigned i;
    for (i = from; i < to; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, i);
        chunk_fill(buf, i);
        if (spill_put(s, a, buf, chunk_len(i)) != SPILL_OK)
            return -1;
        if (announce)
            say("put %u", i);
    }
    return 0;
}

/* adoptjob ROOT TAG N MODE [K]: job TAG (resumable) puts chunks 0..N-1. MODE kill: says
 * "put I" after each and then waits; pause: as kill, and pauses inside the write of chunk K;
 * exit: dies without closing once all are put; hold: says "done" and closes at EOF. */
int tu_helper_adoptjob(int argc, const char *const *argv)
{
    spill_opts o;
    spill_t *s;
    unsigned n, k;
    const char *mode;
    if (argc < 4)
        return 2;
    n = (unsigned)atoi(argv[2]);
    mode = argv[3];
    k = argc > 4 ? (unsigned)atoi(argv[4]) : n;
    spill_opts_init(&o);
    o.keep_seconds = KEEP;
    o.tag = argv[1];
    if (spill_open(argv[0], &o, &s) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    printf("path %s\n", spill_path(s));
    fflush(stdout);
    if (strcmp(mode, "pause") == 0) {
        if (put_job(s, 0, k, 1) != 0)
            return 1;
        real_write = spill__sys.write;
        spill__sys.write = pause_in_write;
        put_job(s, k, k + 1, 1);
        return 1;
    }
    if (put_job(s, 0, n, strcmp(mode, "kill") == 0) != 0)
        return 1;
    say("done %u", n);
    if (strcmp(mode, "exit") == 0)
        _exit(0); /* a hard death: no close */
    wait_eof();
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* adoptgo ROOT TAG N: says ready, waits for a line, adopts; says "adopted COUNT" (its chunks
 * checked byte for byte, "bad" if not) or "lost CODE"; closes at EOF. */
int tu_helper_adoptgo(int argc, const char *const *argv)
{
    char line[64];
    spill_t *s;
    int rc, n;
    if (argc < 3)
        return 2;
    say("ready%.0u", 0);
    if (!fgets(line, sizeof line, stdin))
        return 1;
    if ((rc = spill_adopt(argv[0], argv[1], NULL, &s)) != SPILL_OK) {
        say("lost %u", (unsigned)-rc);
        wait_eof();
        return 0;
    }
    n = check_job_chunks(s);
    if (n == atoi(argv[2]))
        say("adopted %u", (unsigned)n);
    else
        say("bad %u", (unsigned)n);
    wait_eof();
    return spill_close(s) == SPILL_OK ? 0 : 1;
}

/* reapgo ROOT: says ready, waits for a line, reaps with grace 0 and reap_resumable; says
 * "reaped R". */
int tu_helper_reapgo(int argc, const char *const *argv)
{
    char line[64];
    spill_opts o;
    spill_reap_stats st;
    if (argc < 1)
        return 2;
    say("ready%.0u", 0);
    if (!fgets(line, sizeof line, stdin))
        return 1;
    spill_opts_init(&o);
    o.grace_seconds = 0;
    o.reap_resumable = 1;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    if (spill_reap(argv[0], &o, &st) != SPILL_OK) {
        printf("error %s\n", spill_error_last()->message);
        return 1;
    }
    say("reaped %u", st.reaped);
    return 0;
}

/* A spill path from a helper's "path P" line. */
static const char *path_of(const char *line)
{
    CU_ASSERT_FATAL(line != NULL && strncmp(line, "path ", 5) == 0);
    return apr_pstrdup(tu_pool, line + 5);
}

/* Other processes' spill_open (its reap) and a grace-0 reap leave a resumable orphan. */
static void others_meanwhile(const char *root, const char *orphan)
{
    const char *reap[] = {root, "0", NULL}, *hold[] = {root, "0", NULL};
    tu_proc p;
    CU_ASSERT(strncmp(tu_run_helper("reap", reap), "reaped=0 ", 9) == 0);
    CU_ASSERT_FATAL(tu_spawn(&p, "hold", hold) == 0);
    CU_ASSERT(tu_read_line(&p) != NULL);
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT(tu_exists(orphan));
}

/* A job killed after `lines` of its "put I" lines (or inside the write of chunk k with
 * pause): adopted, it holds exactly the complete chunks, and then works like any other. */
static void kill_and_adopt(const char *root, int lines, int pause_at)
{
    char n[16], k[16];
    const char *args[] = {root, TAG, n, pause_at >= 0 ? "pause" : "kill", k, NULL};
    const char *path, *line = NULL;
    tu_proc p;
    spill_t *s;
    int i, got;
    snprintf(n, sizeof n, "%d", 200);
    snprintf(k, sizeof k, "%d", pause_at);
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    path = path_of(tu_read_line(&p));
    for (i = 0; i < (pause_at >= 0 ? pause_at + 1 : lines); i++)
        CU_ASSERT_FATAL((line = tu_read_line(&p)) != NULL);
    tu_kill(&p); /* SIGKILL, or TerminateProcess */
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    others_meanwhile(root, path);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT_STRING_EQUAL(spill_path(s), path);
    got = check_job_chunks(s);
    if (pause_at >= 0) {
        CU_ASSERT(got == pause_at); /* the chunk half written is not there */
    } else {
        CU_ASSERT(got >= lines); /* it may have gone on after the line we read */
    }
    /* nothing else is left: the chunks, .lock and the journal (none before a first chunk) */
    CU_ASSERT(tu_count_entries(path) == got + 1 + tu_exists(tu_join(path, SPILL__JOURNAL_NAME)));
    /* the handle works like any other */
    CU_ASSERT(put_job(s, (unsigned)got, (unsigned)got + 3, 0) == 0);
    CU_ASSERT(check_job_chunks(s) == got + 3);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));
}

static void test_kill_random(void)
{
    const char *root = tu_fresh_dir("adopt-kill");
    int round;
    srand(22);
    for (round = 0; round < 6; round++)
        kill_and_adopt(root, 1 + rand() % 150, -1);
}

static void test_kill_inside_write(void)
{
    const char *root = tu_fresh_dir("adopt-pause");
    const char *args[] = {root, TAG, "200", "pause", "5", NULL};
    tu_proc p;
    const char *path, *line = NULL;
    char hex[SPILL__HEX_LEN + 1];
    uint8_t a[SPILL_ADDR_LEN];
    int i;
    /* first: the half-written chunk is there before the adoption */
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    path = path_of(tu_read_line(&p));
    for (i = 0; i < 6; i++)
        CU_ASSERT_FATAL((line = tu_read_line(&p)) != NULL);
    CU_ASSERT(strncmp(line, "paused ", 7) == 0);
    tu_kill(&p);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    tu_addr(a, 5);
    spill__hex(a, hex);
    CU_ASSERT(tu_exists(tu_join(path, hex)));
    tu_remove_tree(path);
    kill_and_adopt(root, 0, 5);
    kill_and_adopt(root, 0, 0);
}

/* The adopted spill, killed in its turn, is again resumable and adoptable. */
static void test_adopt_twice(void)
{
    const char *root = tu_fresh_dir("adopt-twice");
    const char *args[] = {root, TAG, "10", "exit", NULL};
    spill_opts o;
    spill_t *s;
    tu_proc p;
    const char *path;
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    path = path_of(tu_read_line(&p));
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    spill_opts_init(&o);
    o.keep_seconds = KEEP;
    CU_ASSERT_FATAL(spill_adopt(root, TAG, &o, &s) == SPILL_OK);
    CU_ASSERT(check_job_chunks(s) == 10);
#ifndef _WIN32
    { /* rule 13: held with the shared directory flock, as spill_open holds its own */
        spill__fd fd;
        CU_ASSERT_FATAL(spill__sys.open_dir(SPILL__NOFD, path, 0, &fd) == SPILL_OK);
        CU_ASSERT(spill__sys.dir_lock(fd, SPILL__DLOCK_EX) == SPILL_EBUSY);
        spill__sys.close(fd);
    }
#endif
    CU_ASSERT(put_job(s, 10, 15, 0) == 0);
    /* its record is this process's now, resumable again */
    {
        char *rec = tu_read_file(tu_join(path, SPILL__LOCK_NAME), NULL);
        char want[64];
        snprintf(want, sizeof want, " pid=%lld ", (long long)spill__getpid());
        CU_ASSERT(rec && strstr(rec, want) && strstr(rec, " keep=3600 tag=job-7\n"));
        CU_ASSERT(rec && strchr(rec, '\n')[1] == '\0'); /* rewritten, then truncated */
    }
    /* no close: forget the handle as a hard death would (fds closed, lock released) */
    spill__registry_remove(s->dev, s->ino);
    spill__sys.unlock(s->lock_fd);
    s->lock_fd = SPILL__NOFD;
    spill__handle_free(s);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(check_job_chunks(s) == 15);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static const char *make_orphan(const char *root, const char *tag, unsigned n)
{
    const char *args[] = {root, tag, "0", "exit", NULL};
    char num[16];
    tu_proc p;
    const char *path;
    snprintf(num, sizeof num, "%u", n);
    args[2] = num;
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    path = path_of(tu_read_line(&p));
    CU_ASSERT(tu_read_line(&p) != NULL); /* done */
    tu_wait(&p);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    return path;
}

/* Journal entries whose file is not the chunk written (cut short since, or a link in its
 * place) are not adopted; stray files go; nothing outside is touched, links are not followed. */
static void test_only_proven(void)
{
    const char *root = tu_fresh_dir("adopt-proven");
    const char *outside = tu_join(tu_fresh_dir("adopt-outside"), "precious");
    const char *args[] = {root, TAG, "10", "exit", NULL};
    char hex3[SPILL__HEX_LEN + 1], hex5[SPILL__HEX_LEN + 1];
    uint8_t a3[SPILL_ADDR_LEN], a5[SPILL_ADDR_LEN];
    const char *path;
    apr_file_t *f;
    spill_t *s;
    void *data;
    size_t len;
    tu_proc p;
    CU_ASSERT_FATAL(tu_spawn(&p, "adoptjob", args) == 0);
    path = path_of(tu_read_line(&p));
    CU_ASSERT(tu_wait(&p) == 0);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    tu_addr(a3, 3);
    tu_addr(a5, 5);
    spill__hex(a3, hex3);
    spill__hex(a5, hex5);
    CU_ASSERT_FATAL(apr_file_open(&f, tu_join(path, hex3), APR_FOPEN_WRITE, 0, tu_pool) ==
                    APR_SUCCESS);
    CU_ASSERT(apr_file_trunc(f, 10) == APR_SUCCESS);
    apr_file_close(f);
    CU_ASSERT_FATAL(tu_write_file(tu_join(path, "stray"), "x") == 0);
    CU_ASSERT_FATAL(tu_write_file(outside, "keep me") == 0);
#ifndef _WIN32
    CU_ASSERT_FATAL(apr_file_remove(tu_join(path, hex5), tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(symlink(outside, tu_join(path, hex5)) == 0);
#endif
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_get(s, a3, &data, &len) == SPILL_ENOTFOUND);
    CU_ASSERT(!tu_exists(tu_join(path, hex3)) && !tu_exists(tu_join(path, "stray")));
#ifndef _WIN32
    CU_ASSERT(spill_count(s) == 8);
    CU_ASSERT(spill_get(s, a5, &data, &len) == SPILL_ENOTFOUND);
    CU_ASSERT(!tu_exists(tu_join(path, hex5)));
#else
    CU_ASSERT(spill_count(s) == 9);
#endif
    CU_ASSERT_STRING_EQUAL(tu_read_file(outside, NULL), "keep me");
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

#ifdef _WIN32
#define RACE_ROUNDS 4 /* each process costs half a second under Wine */
#else
#define RACE_ROUNDS 25
#endif

static void go(tu_proc *p)
{
    apr_size_t n = 3;
    apr_file_write(p->in, "go\n", &n);
}

static unsigned number_after(const char *line, const char *word)
{
    size_t n = strlen(word);
    CU_ASSERT_FATAL(line != NULL);
    return strncmp(line, word, n) == 0 ? (unsigned)atoi(line + n) : 1000;
}

/* An adopter against 4 reapers with reap_resumable: exactly one gets the orphan. */
static void test_race_reapers(void)
{
    const char *root = tu_fresh_dir("adopt-race");
    int round, wins = 0;
    for (round = 0; round < RACE_ROUNDS; round++) {
        const char *rargs[] = {root, NULL}, *aargs[] = {root, TAG, "20", NULL};
        tu_proc r[4], a;
        unsigned reaped = 0, adopted;
        const char *last_line;
        int i;
        make_orphan(root, TAG, 20);
        CU_ASSERT_FATAL(tu_spawn(&a, "adoptgo", aargs) == 0);
        for (i = 0; i < 4; i++)
            CU_ASSERT_FATAL(tu_spawn(&r[i], "reapgo", rargs) == 0);
        CU_ASSERT(tu_read_line(&a) != NULL);
        for (i = 0; i < 4; i++)
            CU_ASSERT(tu_read_line(&r[i]) != NULL);
        go(&a);
        for (i = 0; i < 4; i++)
            go(&r[i]);
        for (i = 0; i < 4; i++) {
            reaped += number_after(tu_read_line(&r[i]), "reaped ");
            tu_wait(&r[i]);
        }
        last_line = apr_pstrdup(tu_pool, tu_read_line(&a));
        adopted = number_after(last_line, "adopted ");
        /* the winner has all 20 chunks, or the orphan was reaped exactly once */
        CU_ASSERT((adopted == 20 && reaped == 0) || (adopted == 1000 && reaped == 1));
        if (!((adopted == 20 && reaped == 0) || (adopted == 1000 && reaped == 1)))
            printf(" [round %d: adopter %s, reaped %u]", round, last_line, reaped);
        wins += adopted == 20;
        CU_ASSERT(tu_wait(&a) == 0);
        CU_ASSERT(tu_count_entries(root) == 0);
    }
    printf(" (adopter won %d of %d)", wins, RACE_ROUNDS);
}

/* Two adopters on one orphan: exactly one wins, with every chunk; the other gets EBUSY or
 * SPILL_ENOTFOUND. */
static void test_race_adopters(void)
{
    const char *root = tu_fresh_dir("adopt-race2");
    int round;
    for (round = 0; round < RACE_ROUNDS; round++) {
        const char *aargs[] = {root, TAG, "20", NULL};
        const char *line[2];
        tu_proc a[2];
        int i, won = 0;
        make_orphan(root, TAG, 20);
        for (i = 0; i < 2; i++)
            CU_ASSERT_FATAL(tu_spawn(&a[i], "adoptgo", aargs) == 0);
        for (i = 0; i < 2; i++)
            CU_ASSERT(tu_read_line(&a[i]) != NULL);
        for (i = 0; i < 2; i++)
            go(&a[i]);
        for (i = 0; i < 2; i++) {
            CU_ASSERT_FATAL((line[i] = tu_read_line(&a[i])) != NULL);
            line[i] = apr_pstrdup(tu_pool, line[i]);
            won += strcmp(line[i], "adopted 20") == 0;
        }
        CU_ASSERT(won == 1);
        for (i = 0; i < 2; i++) {
            if (strcmp(line[i], "adopted 20") != 0) {
                CU_ASSERT(strcmp(line[i], "lost 6") == 0 || strcmp(line[i], "lost 5") == 0);
            }
        }
        for (i = 0; i < 2; i++)
            CU_ASSERT(tu_wait(&a[i]) == 0);
        CU_ASSERT(tu_count_entries(root) == 0);
    }
}

/* A hand-made orphan whose .lock holds `record`; with a journal file when journal is set. */
static const char *hand_orphan(const char *root, const char *prefix, uint64_t rnd,
                               const char *record, int journal)
{
    const char *dir = tu_join(root, apr_psprintf(tu_pool, "%s%" APR_UINT64_T_FMT "_%"
                                                 APR_UINT64_T_FMT, prefix,
                                                 (apr_uint64_t)spill__now(), (apr_uint64_t)rnd));
    CU_ASSERT_FATAL(apr_dir_make(dir, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    if (record)
        CU_ASSERT_FATAL(tu_write_file(tu_join(dir, SPILL__LOCK_NAME), record) == 0);
    if (journal)
        CU_ASSERT_FATAL(tu_write_file(tu_join(dir, SPILL__JOURNAL_NAME), "") == 0);
    return dir;
}

static const char *record_of(const char *tag, uint32_t keep)
{
    char buf[SPILL__RECORD_MAX], host[256];
    spill__hostname(host, sizeof host);
    CU_ASSERT_FATAL(spill__record_format(buf, sizeof buf, 1, 999999, host, spill__now(), keep,
                                         tag) > 0);
    return apr_pstrdup(tu_pool, buf);
}

static void test_not_adoptable(void)
{
    const char *root = tu_fresh_dir("adopt-not");
    char long_tag[300];
    spill_opts o;
    spill_t *s = (spill_t *)1;
    const char *live_args[] = {root, "live-job", "1", "hold", NULL};
    tu_proc live;
    memset(long_tag, 'x', 256);
    long_tag[256] = '\0';
    CU_ASSERT(spill_adopt(root, "", NULL, &s) == SPILL_EINVAL && s == NULL);
    CU_ASSERT(spill_adopt(root, NULL, NULL, &s) == SPILL_EINVAL);
    CU_ASSERT(spill_adopt(root, long_tag, NULL, &s) == SPILL_EINVAL);
    spill_opts_init(&o);
    o.dry_run = 1;
    CU_ASSERT(spill_adopt(root, TAG, &o, &s) == SPILL_EINVAL);
    CU_ASSERT(spill_adopt(tu_join(root, "missing"), TAG, NULL, &s) == SPILL_ENOTFOUND);
    /* no match */
    make_orphan(root, "other-job", 2);
    CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_ENOTFOUND);
    CU_ASSERT(spill_adopt(root, "other", NULL, &s) == SPILL_ENOTFOUND); /* compared whole */
    /* a live spill with the tag: a duplicate job */
    CU_ASSERT_FATAL(tu_spawn(&live, "adoptjob", live_args) == 0);
    CU_ASSERT(tu_read_line(&live) != NULL);
    CU_ASSERT(tu_read_line(&live) != NULL);
    CU_ASSERT(spill_adopt(root, "live-job", NULL, &s) == SPILL_EBUSY);
    CU_ASSERT(tu_wait(&live) == 0);
    /* the duplicate job in this very process: its .lock is never read here (rule 5), the
     * registry knows the tag */
    {
        spill_t *mine;
        spill_opts_init(&o);
        o.reap_on_open = 0;
        o.tag = "own-job";
        CU_ASSERT_FATAL(spill_open(root, &o, &mine) == SPILL_OK);
        CU_ASSERT(spill_adopt(root, "own-job", NULL, &s) == SPILL_EBUSY && s == NULL);
        CU_ASSERT(spill_close(mine) == SPILL_OK);
        CU_ASSERT(spill_adopt(root, "own-job", NULL, &s) == SPILL_ENOTFOUND);
    }
    /* lockless, foreign, 0.1, staging and trash directories, a .lock that is a link */
    hand_orphan(root, "spill_", 1, NULL, 1);
    hand_orphan(root, "spill_", 2, "", 1);
    hand_orphan(root, "spill_", 3, record_of(TAG, 0), 0);
    hand_orphan(root, ".spill-new_", 4, record_of(TAG, KEEP), 1);
    hand_orphan(root, ".spill-del_", 5, record_of(TAG, KEEP), 1);
#ifndef _WIN32
    {
        const char *d = hand_orphan(root, "spill_", 6, NULL, 1);
        const char *target = tu_join(root, "elsewhere");
        CU_ASSERT_FATAL(tu_write_file(target, record_of(TAG, KEEP)) == 0);
        CU_ASSERT_FATAL(symlink(target, tu_join(d, SPILL__LOCK_NAME)) == 0);
    }
#endif
    CU_ASSERT(spill_adopt(root, TAG, NULL, &s) == SPILL_ENOTFOUND && s == NULL);
    /* the positive control: the same record with keep, in a spill_ directory */
    hand_orphan(root, "spill_", 7, record_of(TAG, KEEP), 0);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_count(s) == 0);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Of two orphans with the tag, the newest by the record's started first. */
static void test_newest_first(void)
{
    const char *root = tu_fresh_dir("adopt-newest");
    char host[256], rec[SPILL__RECORD_MAX];
    const char *older, *newer;
    spill_t *s;
    spill__hostname(host, sizeof host);
    spill__record_format(rec, sizeof rec, 1, 999999, host, 2000, KEEP, TAG);
    newer = hand_orphan(root, "spill_", 1, rec, 0);
    spill__record_format(rec, sizeof rec, 1, 999999, host, 1000, KEEP, TAG);
    older = hand_orphan(root, "spill_", 2, rec, 0);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT_STRING_EQUAL(tu_base_name(spill_path(s)), tu_base_name(newer));
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT_STRING_EQUAL(tu_base_name(spill_path(s)), tu_base_name(older));
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* Rule 8: on a network filesystem, a record naming another host is not adoptable. */
static int fake_network(spill__fd fd, int *kind)
{
    (void)fd;
    *kind = SPILL__FS_NETWORK;
    return SPILL_OK;
}

static void test_other_host_on_network(void)
{
    const char *root = tu_fresh_dir("adopt-nfs");
    char rec[SPILL__RECORD_MAX];
    spill_t *s = NULL;
    int rc;
    spill__record_format(rec, sizeof rec, 1, 999999, "another-host", spill__now(), KEEP, TAG);
    hand_orphan(root, "spill_", 1, rec, 1);
    spill__sys.fs_kind = fake_network;
    rc = spill_adopt(root, TAG, NULL, &s);
    spill__sys.fs_kind = spill__sys_default.fs_kind;
    CU_ASSERT(rc == SPILL_ENOTFOUND && s == NULL);
    /* the same orphan on a local filesystem is adoptable */
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

typedef struct states {
    int n, resumable, young, orphan;
    char reason[512];
} states;

static int count_states(void *ctx, const spill_entry *e)
{
    states *t = ctx;
    t->n++;
    t->resumable += e->state == SPILL_RESUMABLE;
    t->young += e->state == SPILL_YOUNG;
    t->orphan += e->state == SPILL_ORPHAN;
    snprintf(t->reason, sizeof t->reason, "%s", e->reason);
    return 0;
}

/* Rule 4's exception: kept until mtime + keep; reap_resumable and an old mtime reap it;
 * version-1 callers see it young, with its reason. */
static void test_resumable_judgement(void)
{
    const char *root = tu_fresh_dir("adopt-judge");
    const char *d = hand_orphan(root, "spill_", 1, record_of(TAG, 100), 0);
    spill_opts o1, o2;
    spill_reap_stats st;
    states t;
    spill_opts_init_version(&o1, 1);
    spill_opts_init(&o2);
    o1.grace_seconds = o2.grace_seconds = 0;
    memset(&t, 0, sizeof t);
    CU_ASSERT(spill_scan(root, &o2, count_states, &t) == SPILL_OK && t.resumable == 1);
    memset(&t, 0, sizeof t);
    CU_ASSERT(spill_scan(root, &o1, count_states, &t) == SPILL_OK && t.young == 1);
    CU_ASSERT(strstr(t.reason, "resumable") != NULL);
    memset(&t, 0, sizeof t);
    CU_ASSERT(spill_scan(root, NULL, count_states, &t) == SPILL_OK && t.young == 1);
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT(spill_reap(root, &o2, &st) == SPILL_OK);
    CU_ASSERT(st.resumable == 1 && st.reaped == 0 && st.young == 0 && tu_exists(d));
    /* kept only until the directory's mtime plus keep */
    tu_set_mtime(d, spill__now() - 101);
    memset(&t, 0, sizeof t);
    CU_ASSERT(spill_scan(root, &o2, count_states, &t) == SPILL_OK && t.orphan == 1);
    tu_set_mtime(d, spill__now());
    o2.reap_resumable = 1;
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    CU_ASSERT(spill_reap(root, &o2, &st) == SPILL_OK);
    CU_ASSERT(st.reaped == 1 && st.resumable == 0 && !tu_exists(d));
}

/* Space beats resumability: an open whose expected_bytes is short removes them first. */
static uint64_t fake_free;
static const char *fake_root;
static int fake_space(const char *path, uint64_t *avail)
{
    (void)path;
    /* the root's orphans take all the room: it is free once they are gone */
    *avail = tu_count_entries(fake_root) > 1 ? 100 : fake_free;
    return SPILL_OK;
}

static void test_space_beats_resumability(void)
{
    const char *root = tu_fresh_dir("adopt-space");
    const char *d[3];
    spill_opts o;
    spill_t *s;
    int i;
    for (i = 0; i < 3; i++)
        d[i] = hand_orphan(root, "spill_", (uint64_t)i + 1, record_of(TAG, KEEP), 0);
    fake_root = root;
    fake_free = (uint64_t)1 << 30;
    spill__sys.space = fake_space;
    spill_opts_init(&o);
    o.expected_bytes = 1000;
    /* enough room with them there: kept */
    fake_free = (uint64_t)1 << 30;
    CU_ASSERT(spill_open(root, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_close(s) == SPILL_OK);
    for (i = 0; i < 3; i++)
        CU_ASSERT(tu_exists(d[i]));
    /* the filesystem full of them: the open removes them and succeeds */
    CU_ASSERT(spill_open(root, &o, &s) == SPILL_OK);
    spill__sys.space = spill__sys_default.space;
    for (i = 0; i < 3; i++)
        CU_ASSERT(!tu_exists(d[i]));
    if (s) {
        CU_ASSERT(spill_close(s) == SPILL_OK);
    }
}


/* ---- Version 3's verify: an orphan left by a power loss (a chunk of the right length, zero
 * filled) is adopted without that chunk. ---- */

#define VERIFY_N 10

typedef struct checker {
    unsigned calls, stop_at; /* stop_at: SPILL_VERIFY_STOP at that call (0: never) */
    int64_t spin_us;         /* a slow verify: each call takes this long */
} checker;

/* The job's content check: the address names chunk i, whose bytes are a function of i. */
static int job_verify(void *ctx, const uint8_t addr[SPILL_ADDR_LEN], const void *data,
                      size_t len)
{
    checker *c = ctx;
    unsigned char want[10000];
    int64_t until = spill__monotonic_us() + c->spin_us;
    unsigned i;
    if (++c->calls == c->stop_at)
        return SPILL_VERIFY_STOP;
    while (spill__monotonic_us() < until)
        ; /* the client's hash over a big chunk */
    for (i = 0; i < VERIFY_N; i++) {
        uint8_t a[SPILL_ADDR_LEN];
        tu_addr(a, i);
        if (memcmp(a, addr, sizeof a) == 0)
            break;
    }
    if (i == VERIFY_N || len != chunk_len(i))
        return 1;
    chunk_fill(want, i);
    return memcmp(want, data, len) != 0;
}

static char verify_log[4096];
static void keep_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    if (strlen(verify_log) + strlen(msg) + 2 < sizeof verify_log) {
        strcat(verify_log, msg);
        strcat(verify_log, "\n");
    }
}

/* A killed job's orphan whose chunk `bad` was zero-filled since (same length). */
static const char *orphan_with_zeroed(const char *root, unsigned bad, const char **bad_file)
{
    const char *path = make_orphan(root, TAG, VERIFY_N);
    char hex[SPILL__HEX_LEN + 1];
    char zeros[10000];
    uint8_t a[SPILL_ADDR_LEN];
    apr_file_t *f;
    apr_size_t n = chunk_len(bad);
    memset(zeros, 0, sizeof zeros);
    tu_addr(a, bad);
    spill__hex(a, hex);
    *bad_file = tu_join(path, hex);
    CU_ASSERT_FATAL(apr_file_open(&f, *bad_file, APR_FOPEN_WRITE, 0, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_file_write_full(f, zeros, n, NULL) == APR_SUCCESS);
    apr_file_close(f);
    return path;
}

/* With verify the zero-filled chunk is rejected (its file gone, the log says so) and the rest
 * adopted byte for byte in order; without it, as 0.2: all ten, the bad one zero-filled. */
static void test_verify_rejects(void)
{
    const char *root = tu_fresh_dir("adopt-verify");
    const char *bad_file;
    const char *path = orphan_with_zeroed(root, 4, &bad_file);
    unsigned char want[10000];
    checker c;
    spill_opts o;
    spill_t *s;
    unsigned i, k;
    memset(&c, 0, sizeof c);
    verify_log[0] = '\0';
    spill_opts_init(&o);
    o.verify = job_verify;
    o.verify_ctx = &c;
    o.log = keep_log;
    o.keep_seconds = KEEP;
    CU_ASSERT_FATAL(spill_adopt(root, TAG, &o, &s) == SPILL_OK);
    CU_ASSERT(c.calls == VERIFY_N);
    CU_ASSERT(spill_count(s) == VERIFY_N - 1);
    CU_ASSERT(!tu_exists(bad_file));
    CU_ASSERT(strstr(verify_log, "1 chunk rejected by verify") != NULL);
    for (i = k = 0; i < VERIFY_N; i++) {
        uint8_t a[SPILL_ADDR_LEN], b[SPILL_ADDR_LEN];
        void *data;
        size_t len;
        tu_addr(a, i);
        if (i == 4) {
            CU_ASSERT(spill_get(s, a, &data, &len) == SPILL_ENOTFOUND);
            continue;
        }
        CU_ASSERT(spill_addr(s, k++, b) == SPILL_OK && memcmp(a, b, sizeof a) == 0);
        chunk_fill(want, i);
        CU_ASSERT_FATAL(spill_get(s, a, &data, &len) == SPILL_OK);
        CU_ASSERT(len == chunk_len(i) && memcmp(data, want, len) == 0);
        spill_free(data);
    }
    CU_ASSERT(spill_close(s) == SPILL_OK);
    CU_ASSERT(!tu_exists(path));

    root = tu_fresh_dir("adopt-noverify");
    orphan_with_zeroed(root, 4, &bad_file);
    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_count(s) == VERIFY_N);
    CU_ASSERT(tu_exists(bad_file));
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

/* A verify that fails itself (a binding's panic, SPILL_VERIFY_STOP) or a budget that runs out
 * while verifying: the adopt fails and the orphan stays byte for byte, adoptable again. */
static void test_verify_stops(void)
{
    const char *root = tu_fresh_dir("adopt-verify-stop");
    const char *bad_file, *before;
    const char *path = orphan_with_zeroed(root, 4, &bad_file);
    checker c;
    spill_opts o;
    spill_t *s;
    before = tu_snapshot(path);
    memset(&c, 0, sizeof c);
    c.stop_at = 3;
    spill_opts_init(&o);
    o.verify = job_verify;
    o.verify_ctx = &c;
    CU_ASSERT(spill_adopt(root, TAG, &o, &s) == SPILL_EIO && s == NULL);
    CU_ASSERT(strstr(spill_error_last()->message, "verify callback failed") != NULL);
    CU_ASSERT(c.calls == 3);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(path), before);

    memset(&c, 0, sizeof c);
    c.spin_us = 30000;
    o.reap_budget_ms = 100; /* three or four chunks' worth */
    CU_ASSERT(spill_adopt(root, TAG, &o, &s) == SPILL_ETIMEDOUT && s == NULL);
    CU_ASSERT(c.calls >= 1 && c.calls < VERIFY_N);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(path), before);

    CU_ASSERT_FATAL(spill_adopt(root, TAG, NULL, &s) == SPILL_OK);
    CU_ASSERT(spill_count(s) == VERIFY_N);
    CU_ASSERT(spill_close(s) == SPILL_OK);
}

static CU_TestInfo tests[] = {
    {"killed at random moments: the complete chunks, byte for byte", test_kill_random},
    {"killed inside a write: no partial chunk", test_kill_inside_write},
    {"an adopted spill is resumable and adoptable again", test_adopt_twice},
    {"only proven chunks: a file cut short, a link, a stray file", test_only_proven},
    {"race: an adopter against 4 reapers, exactly one wins", test_race_reapers},
    {"race: two adopters, exactly one wins", test_race_adopters},
    {"not adoptable: bad tags, dry_run, no match, live, 0.1, staging, trash, links",
     test_not_adoptable},
    {"newest first by the record's started", test_newest_first},
    {"another host's record on a network filesystem is not adopted", test_other_host_on_network},
    {"resumable until mtime + keep; reap_resumable; young for version 1",
     test_resumable_judgement},
    {"space beats resumability", test_space_beats_resumability},
    {"verify: a zero-filled chunk rejected, the rest adopted byte for byte", test_verify_rejects},
    {"verify: a failing callback or an exhausted budget removes nothing", test_verify_stops},
    CU_TEST_INFO_NULL,
};

test_suite suite_adopt = {"adopt", tests};
