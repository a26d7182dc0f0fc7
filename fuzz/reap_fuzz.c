/* reap_fuzz.c: the libFuzzer target: builds a hostile tree from each input (tree.c), runs
 * spill_scan and spill_reap over it, and checks the reaper's invariants on every input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

static struct {
    unsigned long long runs, checks, entries, logs;
    unsigned long long expect[FZ_DIRTY + 1];
} totals;

static int base_fd = -1, victim_fd = -1;
static char base[4096], victim[4200], root[4200];
static fz_buf victim_before;
static const fz_tree *current; /* described when an invariant fails */

static const char *const expect_names[] = {"ignored", "live", "young", "unsafe",
                                           "error", "clean orphan", "dirty orphan"};

static void describe_tree(const fz_tree *t)
{
    int i;
    fprintf(stderr, "tree: grace=%u threads=%u privileged=%d\n", (unsigned)t->grace,
            t->threads, t->priv);
    for (i = 0; i < t->n; i++)
        fprintf(stderr, "  %-14s %s [%s] scanned=%d\n", expect_names[t->e[i].expect],
                t->e[i].name, t->e[i].what, t->e[i].scanned);
}

/* A broken invariant aborts: libFuzzer keeps the input as a crash artifact. */
void fz_check(int ok, const char *fmt, ...)
{
    va_list ap;
    totals.checks++;
    if (ok)
        return;
    fz_as_checker();
    fprintf(stderr, "\nreap_fuzz: INVARIANT BROKEN: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (current)
        describe_tree(current);
    abort();
}

static void report(void)
{
    int i;
    fprintf(stderr, "reap_fuzz: %llu executions, %llu invariant checks, %llu entries built (",
            totals.runs, totals.checks, totals.entries);
    for (i = 0; i <= FZ_DIRTY; i++)
        fprintf(stderr, "%s%s %llu", i ? ", " : "", expect_names[i], totals.expect[i]);
    fprintf(stderr, "), %llu log lines\n", totals.logs);
}

static void remove_base(void)
{
    fz_as_checker();
    if (base_fd >= 0 && fz_remove(AT_FDCWD, base) != 0)
        fprintf(stderr, "reap_fuzz: could not remove %s\n", base);
}

static void write_at(int dirfd, const char *name, const char *text, mode_t mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        abort();
    close(fd);
}

static int open_dir(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        abort();
    return fd;
}

/* Outside every root: files of each kind, and a directory the user could never enter. */
static int make_victim(void)
{
    int fd, sub;
    if (mkdir(victim, 0755) < 0)
        abort();
    fd = open_dir(AT_FDCWD, victim);
    write_at(fd, "precious", "do not delete", 0644);
    write_at(fd, "ro", "read only", 0444);
    if (mkdirat(fd, "sub", 0755) < 0 || mkdirat(fd, "closed", 0700) < 0 ||
        symlinkat("precious", fd, "link") < 0 || mkfifoat(fd, "fifo", 0600) < 0)
        abort();
    write_at(sub = open_dir(fd, "sub"), "also", "keep me", 0644);
    close(sub);
    write_at(sub = open_dir(fd, "closed"), "inner", "unseen", 0600);
    close(sub);
    fchmodat(fd, "closed", 0, 0);
    return fd;
}

static void check_victim(const char *after)
{
    fz_buf now;
    memset(&now, 0, sizeof now);
    fz_snapshot(AT_FDCWD, victim, &now);
    fz_check(strcmp(fz_buf_str(&now), fz_buf_str(&victim_before)) == 0,
          "the victim outside the root changed after %s:\nbefore:\n%safter:\n%s", after,
          fz_buf_str(&victim_before), fz_buf_str(&now));
    fz_buf_free(&now);
}

/* Anything the library opens once per process (APR, random sources) is opened here, so that
 * each input's descriptor count compares like with like. */
static void warm_up(void)
{
    spill_t *s;
    spill_opts o;
    char warm[4300];
    snprintf(warm, sizeof warm, "%s/warm", base);
    spill_opts_init(&o);
    if (spill_open(warm, &o, &s) != SPILL_OK || spill_close(s) != SPILL_OK ||
        spill_reap(warm, &o, NULL) != SPILL_OK) {
        fprintf(stderr, "reap_fuzz: warm-up in %s: %s\n", warm, spill_error_last()->message);
        abort();
    }
    rmdir(warm);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SPILL_FUZZ_DIR");
    (void)argc;
    (void)argv;
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    snprintf(base, sizeof base, "%s/spill-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
    fz_users_init();
    if (!mkdtemp(base) || !fz_make_ours(AT_FDCWD, base) ||
        (base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        perror(base);
        abort();
    }
    snprintf(victim, sizeof victim, "%s/victim", base);
    snprintf(root, sizeof root, "%s/root", base);
    atexit(remove_base);
    atexit(report);
    fz_as_user();
    victim_fd = make_victim();
    warm_up();
    fz_as_checker();
    fz_snapshot(AT_FDCWD, victim, &victim_before);
    fprintf(stderr, "reap_fuzz: trees under %s, reaper %s\n", base,
            fz_reaper_privileged() ? "privileged (root)" :
            geteuid() == 0 ? "as an unprivileged user (checks as root)" : "unprivileged");
    return 0;
}

static fz_entry *find(fz_tree *t, const char *name)
{
    int i;
    for (i = 0; i < t->n; i++)
        if (strcmp(t->e[i].name, name) == 0)
            return &t->e[i];
    return NULL;
}

static void snapshot_all(fz_tree *t)
{
    int i;
    for (i = 0; i < t->n; i++)
        fz_snapshot(t->root_fd, t->e[i].name, &t->e[i].before);
}

static int unchanged(const fz_tree *t, const fz_entry *e, fz_buf *now)
{
    memset(now, 0, sizeof *now);
    fz_snapshot(t->root_fd, e->name, now);
    return strcmp(fz_buf_str(now), fz_buf_str(&e->before)) == 0;
}

static void check_unchanged(const fz_tree *t, const fz_entry *e, const char *after)
{
    fz_buf now;
    fz_check(unchanged(t, e, &now), "%s (%s) changed after %s:\nbefore:\n%safter:\n%s", e->name,
          expect_names[e->expect], after, fz_buf_str(&e->before), fz_buf_str(&now));
    fz_buf_free(&now);
}

static int scan_cb(void *ctx, const spill_entry *se)
{
    fz_entry *e = find(ctx, se->name);
    fz_check(e != NULL, "spill_scan reported %s, which is not a child of the root", se->name);
    fz_check(e->scanned == -1, "spill_scan reported %s twice", se->name);
    fz_check(se->reason && se->owner_host && se->tag, "spill_scan left a string NULL");
    e->scanned = (int)se->state;
    return 0;
}

static int scan_state(int expect)
{
    switch (expect) {
    case FZ_LIVE: return SPILL_LIVE;
    case FZ_YOUNG: return SPILL_YOUNG;
    case FZ_UNSAFE: return SPILL_UNSAFE;
    case FZ_ERROR: return SPILL_ERROR; /* version-2 opts: shown as errors */
    case FZ_CLEAN: case FZ_DIRTY: return SPILL_ORPHAN;
    default: return -1;
    }
}

static void opts_for(const fz_tree *t, spill_opts *o);

/* spill_scan is read-only and judges each entry as the rules say. */
static void scan(fz_tree *t)
{
    spill_opts o;
    int i, rc;
    opts_for(t, &o);
    fz_as_user();
    rc = spill_scan(t->root, &o, scan_cb, t);
    fz_as_checker();
    fz_check(rc == SPILL_OK, "spill_scan returned %d: %s", rc, spill_error_last()->message);
    for (i = 0; i < t->n; i++) {
        /* an orphan whose walk cannot read all of it (too deep, a directory it cannot list)
         * is an error no reap can finish: which dirty ones those are, the model does not say */
        int dirty_error = t->e[i].expect == FZ_DIRTY && t->e[i].scanned == SPILL_ERROR;
        fz_check(t->e[i].scanned == scan_state(t->e[i].expect) || dirty_error,
                 "spill_scan judged %s %d, not %s", t->e[i].name, t->e[i].scanned,
                 expect_names[t->e[i].expect]);
        check_unchanged(t, &t->e[i], "spill_scan");
    }
}

static void on_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    totals.logs++;
    fz_check(level >= 0 && level <= 3 && msg && *msg, "a log line of level %d", level);
}

static void opts_for(const fz_tree *t, spill_opts *o)
{
    spill_opts_init(o);
    o->grace_seconds = t->grace;
    o->threads = t->threads; /* honoured once the reaper runs workers */
    o->log = on_log;
}

/* The counts and sizes add up, and match what the rules say of each entry. */
static void check_stats(const fz_tree *t, const spill_reap_stats *st)
{
    unsigned n[FZ_DIRTY + 1] = {0};
    uint64_t files = 0, bytes = 0;
    int i;
    for (i = 0; i < t->n; i++) {
        n[t->e[i].expect]++;
        files += t->e[i].expect == FZ_CLEAN ? t->e[i].files : 0;
        bytes += t->e[i].expect == FZ_CLEAN ? t->e[i].bytes : 0;
    }
    /* nothing else touches the root while it reaps, so nothing vanishes under it */
    fz_check(st->scanned == st->reaped + st->live + st->young + st->unsafe + st->errors,
          "scanned %u != reaped %u + live %u + young %u + unsafe %u + errors %u", st->scanned,
          st->reaped, st->live, st->young, st->unsafe, st->errors);
    fz_check(st->scanned == t->n - n[FZ_IGNORED], "scanned %u of %u", st->scanned,
          t->n - n[FZ_IGNORED]);
    fz_check(st->reaped == n[FZ_CLEAN], "reaped %u, not %u", st->reaped, n[FZ_CLEAN]);
    fz_check(st->live == n[FZ_LIVE], "live %u, not %u", st->live, n[FZ_LIVE]);
    fz_check(st->young == n[FZ_YOUNG], "young %u, not %u", st->young, n[FZ_YOUNG]);
    fz_check(st->unsafe == n[FZ_UNSAFE], "unsafe %u, not %u", st->unsafe, n[FZ_UNSAFE]);
    fz_check(st->errors == n[FZ_ERROR] + n[FZ_DIRTY], "errors %u, not %u", st->errors,
          n[FZ_ERROR] + n[FZ_DIRTY]);
    fz_check(n[FZ_DIRTY] ? st->files_removed >= files : st->files_removed == files,
          "files_removed %llu, expected %llu", (unsigned long long)st->files_removed,
          (unsigned long long)files);
    fz_check(n[FZ_DIRTY] ? st->bytes_freed >= bytes : st->bytes_freed == bytes,
          "bytes_freed %llu, expected %llu", (unsigned long long)st->bytes_freed,
          (unsigned long long)bytes);
    fz_check(!st->budget_exhausted, "budget exhausted without a budget");
}

static int exists(int dirfd, const char *name, int want_regular)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        fz_check(errno == ENOENT, "fstatat %s: %s", name, strerror(errno));
        return 0;
    }
    return !want_regular || S_ISREG(st.st_mode);
}

/* The trash directories (rule 6) in the root: each must still hold its .lock. */
static int trash_left(const fz_tree *t)
{
    int dup_fd = openat(t->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    struct dirent *de;
    char lock[300];
    fz_check(d != NULL, "cannot list the root");
    while ((de = readdir(d)))
        if (strncmp(de->d_name, ".spill-del_", 11) == 0) {
            snprintf(lock, sizeof lock, "%s/.lock", de->d_name);
            fz_check(exists(t->root_fd, lock, 1), "trash %s lost its .lock though its removal "
                     "failed", de->d_name);
            n++;
        }
    closedir(d);
    return n;
}

/* Each entry after the reap: orphans gone, or left with their lock when they could not be
 * emptied (under a trash name when the reaper held their lock: rule 6); everything else
 * exactly as it was. */
static void check_entries(const fz_tree *t)
{
    char lock[300];
    int i, trashed = 0;
    for (i = 0; i < t->n; i++) {
        const fz_entry *e = &t->e[i];
        if (e->expect == FZ_CLEAN) {
            fz_check(!exists(t->root_fd, e->name, 0), "orphan %s was not removed", e->name);
        } else if (e->expect == FZ_DIRTY && e->lock_file) {
            fz_check(!exists(t->root_fd, e->name, 0), "%s left under its name, not as trash",
                     e->name);
            trashed++;
        } else if (e->expect == FZ_DIRTY) {
            snprintf(lock, sizeof lock, "%s/.lock", e->name);
            fz_check(exists(t->root_fd, e->name, 0), "%s vanished though it cannot be emptied",
                  e->name);
            fz_check(!e->lock_file || exists(t->root_fd, lock, 1),
                  "%s lost its .lock though its removal failed", e->name);
        } else {
            check_unchanged(t, e, "spill_reap");
        }
    }
    fz_check(trash_left(t) == trashed, "%d trash directories left, not %d", trash_left(t),
             trashed);
}

static void reap(fz_tree *t)
{
    spill_opts o;
    spill_reap_stats st;
    int rc;
    opts_for(t, &o);
    memset(&st, 0, sizeof st);
    st.version = SPILL_REAP_STATS_VERSION;
    fz_as_user();
    fz_order_watch(1);
    rc = spill_reap(t->root, &o, &st);
    fz_order_watch(0);
    fz_as_checker();
    fz_check(rc == SPILL_OK, "spill_reap returned %d: %s", rc, spill_error_last()->message);
    check_stats(t, &st);
    check_entries(t);
    check_victim("spill_reap");
}

/* The spills opened in-process kept every chunk, and close removes them. */
static void check_opened(fz_tree *t)
{
    uint8_t want[255 * 7], addr[SPILL_ADDR_LEN];
    int i, rc;
    unsigned c;
    for (i = 0; i < t->n; i++) {
        fz_entry *e = &t->e[i];
        if (!e->spill)
            continue;
        fz_as_user();
        fz_check(spill_count(e->spill) == e->nchunks, "%s holds %zu chunks, not %u", e->name,
              spill_count(e->spill), e->nchunks);
        for (c = 0; c < e->nchunks; c++) {
            void *data = NULL;
            size_t len = 0;
            fz_chunk_addr(e, c, addr);
            fz_chunk_bytes(e, c, want);
            rc = spill_get(e->spill, addr, &data, &len);
            fz_check(rc == SPILL_OK && len == e->chunk_len[c] && (!len || !memcmp(data, want, len)),
                  "chunk %u of %s: rc %d, %zu bytes", c, e->name, rc, len);
            spill_free(data);
        }
        rc = spill_close(e->spill);
        e->spill = NULL;
        fz_as_checker();
        fz_check(!e->clean_inside || rc == SPILL_OK, "spill_close of %s returned %d", e->name, rc);
        fz_check(!e->clean_inside || !exists(t->root_fd, e->name, 0), "spill_close left %s",
              e->name);
        check_victim("spill_close");
    }
}

static void count(const fz_tree *t)
{
    int i;
    totals.entries += (unsigned long long)t->n;
    for (i = 0; i < t->n; i++)
        totals.expect[t->e[i].expect]++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_tree t;
    int fds = fz_count_fds();
    memset(&t, 0, sizeof t);
    totals.runs++;
    current = &t;
    t.root = root;
    t.victim = victim;
    t.victim_fd = victim_fd;
    t.priv = fz_reaper_privileged();
    t.now = (int64_t)time(NULL);
    fz_as_user();
    if (mkdir(root, 0700) < 0)
        abort();
    t.root_fd = open_dir(AT_FDCWD, root);
    fz_build(&t, data, size);
    fz_as_checker();
    snapshot_all(&t);
    scan(&t);
    reap(&t);
    check_opened(&t);
    count(&t);
    fz_release(&t);
    close(t.root_fd);
    fz_check(fz_remove(base_fd, "root") == 0 && !exists(base_fd, "root", 0),
          "the root could not be cleaned");
    fz_check(fz_count_fds() == fds, "descriptors leaked: %d before, %d after", fds,
          fz_count_fds());
    current = NULL;
    return 0;
}
