/* tree.c: builds a hostile tree under a fresh root from the fuzzer's input, and says for each
 * child of the root what the reaper must make of it (rules 1-8 and 12, docs/design.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define OLD 1000000000LL  /* a time in 2001 */
#define AHEAD 100000LL    /* seconds into the future: more than any grace but UINT32_MAX */
#define MAX_DEPTH 64      /* rules 2 and 12 */
#define MAX_OPENED 3      /* spill_open'ed entries per input */

/* The input, read a byte at a time; zeros once it runs out. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static unsigned byte(fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* What was put in a directory, for the expected removal. */
typedef struct content {
    uint64_t files, bytes;
    int entries;
    int dirty; /* something in it cannot be removed by the reaper */
} content;

/* The shapes of .lock (docs/on-disk.md, section 4, and rule 7). */
enum lock_shape {
    L_NONE, L_RECORD, L_OTHER_HOST, L_NO_NEWLINE, L_LONG_TAIL,        /* none, or a record */
    L_EMPTY, L_GARBAGE, L_TRUNCATED, L_VERSION2, L_LEADING_SPACE,       /* foreign */
    L_EXTRA_FIELD, L_BIG_NONCE,
    L_MODE000,                                                          /* a record, mode 000 */
    L_LINK_FILE, L_LINK_DIR, L_FIFO, L_DIR, L_HARDLINK_VICTIM, L_HARDLINK_TWIN, /* unsafe */
    L_COUNT
};

static int shape_has_record(int s)
{
    return s == L_RECORD || s == L_OTHER_HOST || s == L_NO_NEWLINE || s == L_LONG_TAIL ||
           s == L_MODE000;
}

static int shape_unsafe(int s)
{
    return s >= L_LINK_FILE;
}

static int shape_regular(int s)
{
    return s != L_NONE && !(s >= L_LINK_FILE && s <= L_DIR);
}

static uint64_t pick_secs(const fz_tree *t, unsigned b)
{
    static const uint64_t fixed[] = {0, (uint64_t)OLD, 99999999999ULL, 9223372036854775808ULL,
                                     UINT64_MAX};
    switch (b % 8) {
    case 0: return (uint64_t)t->now;
    case 1: return (uint64_t)(t->now + AHEAD);
    case 2: return (uint64_t)(t->now - AHEAD);
    default: return fixed[b % 8 - 3];
    }
}

/* A name for a child of the root. Returns 1 if the reaper looks at it (rule 1). */
static int spill_name(fz_tree *t, fz_in *in, char *name, size_t size, uint64_t *secs,
                      int *staging)
{
    unsigned form = byte(in) % 16, id = ++t->ids;
    unsigned long long s;
    char zeros[201];
    *secs = pick_secs(t, byte(in));
    s = (unsigned long long)*secs;
    *staging = form == 6 || form == 7;
    memset(zeros, '0', 200);
    zeros[200] = '\0';
    switch (form) {
    case 6: case 7: snprintf(name, size, ".spill-new_%llu_%u", s, id); return 1;
    case 8: snprintf(name, size, "spill_%llu%u", s, id); return 0;
    case 9: snprintf(name, size, "spill_%llu_%ux", s, id); return 0;
    case 10: snprintf(name, size, "Spill_%llu_%u", s, id); return 0;
    case 11: snprintf(name, size, "spill_%llu_-%u", s, id); return 0;
    case 12: snprintf(name, size, "spill_%llu_%u99999999999999999999", s, id); return 0;
    case 13: snprintf(name, size, "spill_%s%llu_%u", zeros, s, id); return 1; /* 230 bytes */
    case 14: snprintf(name, size, ".spill-new_%u", id); return 0;
    case 15: snprintf(name, size, "spill_%llu_%u.tmp", s, id); return 0;
    default: snprintf(name, size, "spill_%llu_%u", s, id); return 1;
    }
}

static void other_name(fz_tree *t, fz_in *in, char *name, size_t size)
{
    static const char *const prefix[] = {"data", ".lock", "spill", "spill_x", ".spill-new_x",
                                         "tmp.", "spill-", "Spill_1_"};
    snprintf(name, size, "%s%u", prefix[byte(in) % 8], ++t->ids);
}

/* Writes a new file; returns its size, or -1. */
static long put_file(int dirfd, const char *name, const char *bytes, size_t len, unsigned mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    ssize_t n = 0;
    if (fd < 0)
        return -1;
    if (len)
        n = write(fd, bytes, len);
    fchmod(fd, (mode_t)mode);
    close(fd);
    return n == (ssize_t)len ? (long)len : -1;
}

static void add_file(content *c, long size)
{
    if (size < 0)
        return;
    c->files++;
    c->bytes += (uint64_t)size;
    c->entries++;
}

static void add_other(content *c, int ok)
{
    if (ok) {
        c->files++;
        c->entries++;
    }
}

static void regular(fz_in *in, int fd, const char *name, unsigned mode, content *c)
{
    char buf[255 * 29];
    size_t len = (size_t)byte(in) * 29;
    memset(buf, (int)len, len);
    add_file(c, put_file(fd, name, buf, len, mode));
}

static void link_to(const fz_tree *t, fz_in *in, int fd, const char *name, content *c)
{
    char target[4200];
    static const char *const local[] = {"..", "../..", "/", ".", ".lock", "/nonexistent/x"};
    unsigned k = byte(in) % 10;
    static const char *const in_victim[] = {"", "/precious", "/sub", "/closed"};
    if (k < 4)
        snprintf(target, sizeof target, "%s%s", t->victim, in_victim[k]);
    else
        snprintf(target, sizeof target, "%s", local[k - 4]);
    add_other(c, symlinkat(target, fd, name) == 0);
}

static void hard_link(const fz_tree *t, int fd, const char *name, content *c)
{
    struct stat st;
    if (linkat(t->victim_fd, "precious", fd, name, 0) == 0 &&
        fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        add_file(c, (long)st.st_size);
}

static void children(fz_tree *t, fz_in *in, int fd, int level, content *c);

/* Whether the reaper can remove a directory of this mode holding `inner` (the parent's
 * permissions are the parent's business). */
static int dir_dirty(const fz_tree *t, unsigned mode, const content *inner)
{
    if (inner->dirty)
        return 1;
    if (t->priv)
        return 0;
    if ((mode & 0500) != 0500) /* it must be opened, and listed relative to itself */
        return 1;
    return !(mode & 0200) && inner->entries > 0;
}

static void subdir(fz_tree *t, fz_in *in, int fd, const char *name, int level, content *c)
{
    static const unsigned modes[] = {0700, 0700, 0700, 0500, 0000, 0300, 0600, 0755};
    unsigned mode = modes[byte(in) % 8];
    content inner;
    int sub;
    memset(&inner, 0, sizeof inner);
    if (mkdirat(fd, name, 0700) < 0)
        return;
    if ((sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
        if (level < 5)
            children(t, in, sub, level + 1, &inner);
        close(sub);
    }
    fchmodat(fd, name, (mode_t)mode, 0);
    c->files += inner.files;
    c->bytes += inner.bytes;
    c->entries++;
    c->dirty |= dir_dirty(t, mode, &inner);
}

/* A chain of n directories "d" whose first is at `level`, made relative to descriptors (rule
 * 2's 64-level limit, and paths that no plain path call could reach). */
static void chain(fz_tree *t, fz_in *in, int fd, const char *name, int level, content *c)
{
    int n = 1 + (int)(byte(in) % 72), bottom = byte(in) & 1, i, cur = fd, next, deepest;
    if (t->chains-- <= 0)
        return;
    for (i = 0; i < n; i++) {
        const char *d = i ? "d" : name;
        if (mkdirat(cur, d, 0700) < 0 ||
            (next = openat(cur, d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            abort(); /* a fresh directory */
        if (cur != fd)
            close(cur);
        cur = next;
    }
    if (bottom)
        add_file(c, put_file(cur, "bottom", "x", 1, 0600));
    close(cur);
    c->entries++;
    deepest = bottom ? level + n : level + n - 1;
    if (deepest > MAX_DEPTH)
        c->dirty = 1; /* left and reported, root or not */
}

static int record(char *buf, size_t size, const char *host, unsigned b)
{
    return snprintf(buf, size, "spill-owner 1 nonce=%u pid=%d host=%s started=%lld tag=t%%20%u\n",
                    b * 7919u, (int)b - 100, host, (long long)OLD + b, b);
}

/* One child of a directory at `level`. */
static void child(fz_tree *t, fz_in *in, int fd, int level, content *c)
{
    char name[80], buf[512];
    unsigned k = byte(in) % 14, i, seed;
    snprintf(name, sizeof name, "c%u", ++t->ids);
    switch (k) {
    case 0: regular(in, fd, name, 0600, c); break;
    case 1: /* a chunk's name: the lowercase hex of a 32-byte address */
        for (i = 0, seed = byte(in); i < 64; i++)
            name[i] = "0123456789abcdef"[(seed * 7 + i * 13 + t->ids) % 16];
        name[64] = '\0';
        regular(in, fd, name, 0600, c);
        break;
    case 2: regular(in, fd, name, 0400, c); break;
    case 3: case 4: link_to(t, in, fd, name, c); break;
    case 5: add_other(c, mkfifoat(fd, name, 0600) == 0); break;
    case 6: hard_link(t, fd, name, c); break;
    case 7: case 8: subdir(t, in, fd, name, level, c); break;
    case 9: chain(t, in, fd, name, level, c); break;
    case 10: /* a .lock below the top means nothing (only the spill's own is the lock) */
        if (level > 1)
            add_file(c, put_file(fd, ".lock", buf, (size_t)record(buf, sizeof buf, "h", 1), 0600));
        break;
    case 11: /* a file of another user: the directory is ours, so it can be unlinked */
        add_file(c, put_file(fd, name, "theirs", 6, 0600));
        fz_give_away(fd, name);
        break;
    default: /* a directory of another user, which the reaper cannot open unless it is root */
        if (mkdirat(fd, name, 0700) == 0) {
            c->entries++;
            if (fz_give_away(fd, name))
                c->dirty |= !t->priv;
        }
        break;
    }
}

static void children(fz_tree *t, fz_in *in, int fd, int level, content *c)
{
    unsigned n = byte(in) % 6;
    while (n-- > 0 && t->nodes-- > 0 && in->n > 0)
        child(t, in, fd, level, c);
}

/* Writes .lock in the shape asked for; returns its size (0 when it is not a regular file). */
static long make_lock(const fz_tree *t, fz_in *in, int fd, int shape, content *c)
{
    char buf[6000];
    unsigned b = byte(in);
    int n = record(buf, sizeof buf, shape == L_OTHER_HOST ? "elsewhere" : "h", b);
    const char *tag = strstr(buf, " tag=");
    switch (shape) {
    case L_NONE: return 0;
    case L_NO_NEWLINE: n--; break;
    case L_LONG_TAIL: /* the record is the first line; the rest is not read */
        memset(buf + n, 'x', sizeof buf - (size_t)n);
        n = (int)sizeof buf;
        break;
    case L_EMPTY: n = 0; break;
    case L_GARBAGE: /* never a record: it starts with a byte no record starts with */
        buf[0] = '\1';
        for (n = 1; n < 40 && in->n; n++)
            buf[n] = (char)byte(in);
        break;
    case L_TRUNCATED: n = (int)(b % (unsigned)(tag - buf + 1)); break; /* before the tag */
    case L_VERSION2: buf[12] = '2'; break;
    case L_LEADING_SPACE: memmove(buf + 1, buf, (size_t)n++); buf[0] = ' '; break;
    case L_EXTRA_FIELD: strcpy(buf + n - 1, " more=1\n"); n += 7; break;
    case L_BIG_NONCE: n = snprintf(buf, sizeof buf, "spill-owner 1 nonce=99999999999999999999 "
                                   "pid=1 host=h started=1 tag=t\n"); break;
    case L_LINK_FILE: case L_LINK_DIR:
        snprintf(buf, sizeof buf, "%s%s", t->victim, shape == L_LINK_FILE ? "/precious" : "");
        return symlinkat(buf, fd, ".lock") == 0 ? 0 : -1;
    case L_FIFO: return mkfifoat(fd, ".lock", 0600) == 0 ? 0 : -1;
    case L_DIR: return mkdirat(fd, ".lock", 0700) == 0 ? 0 : -1;
    case L_HARDLINK_VICTIM: return linkat(t->victim_fd, "precious", fd, ".lock", 0) == 0 ? 0 : -1;
    default: break;
    }
    if (put_file(fd, ".lock", buf, (size_t)n, shape == L_MODE000 ? 0 : 0600) < 0)
        return -1;
    if (shape == L_HARDLINK_TWIN)
        add_other(c, linkat(fd, ".lock", fd, "lock-twin", 0) == 0);
    return n;
}

/* Takes the lock of .lock from the fuzzer process itself: flock locks belong to the open file
 * description, so the reaper's own open of .lock conflicts with it. */
static int hold(int fd)
{
    int lk = openat(fd, ".lock", O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (lk < 0)
        return -1;
    if (flock(lk, LOCK_EX | LOCK_NB) < 0) {
        close(lk);
        return -1;
    }
    return lk;
}

/* Everything the rules look at for a directory with a spill's name. */
typedef struct facts {
    int staging, other_owner, shape, held;
    unsigned mode;
    uint64_t secs;
    int64_t mtime;
    content c;   /* .lock included when it is a regular file */
} facts;

/* Rule 5: a lockless or foreign directory is an orphan once its age reaches what it needs. The
 * fuzzer's root is local: a time more than one grace ahead is not trusted, a directory with no
 * trusted time is old enough at once, and the staging floor of 60 s counts a future time as now. */
static int by_age(const fz_tree *t, const facts *f)
{
    int64_t limit = t->now + (int64_t)t->grace;
    int64_t secs = f->secs > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)f->secs;
    int64_t latest = secs > f->mtime ? secs : f->mtime, born = INT64_MIN;
    if (f->mtime <= limit)
        born = f->mtime;
    if (secs <= limit && secs > born)
        born = secs;
    if (f->staging && t->now - (latest < t->now ? latest : t->now) < 60)
        return FZ_YOUNG;
    return born == INT64_MIN || t->now - born >= (int64_t)t->grace ? FZ_CLEAN : FZ_YOUNG;
}

/* Rules 3, 4, 5 and 7 on .lock; FZ_CLEAN stands for "an orphan". */
static int by_lock(const fz_tree *t, const facts *f)
{
    if (shape_unsafe(f->shape))
        return FZ_UNSAFE;
    if (f->shape == L_MODE000 && !t->priv)
        return FZ_ERROR; /* open fails with EACCES: an error, never "free" */
    if (f->held)
        return FZ_LIVE;
    return shape_has_record(f->shape) ? FZ_CLEAN : by_age(t, f);
}

static int expect_dir(const fz_tree *t, const facts *f)
{
    int state;
    if (f->other_owner)
        return FZ_UNSAFE;
    if (!t->priv && (f->mode & 0500) != 0500)
        return FZ_ERROR; /* cannot be opened, or .lock cannot be reached in it */
    state = by_lock(t, f);
    if (state != FZ_CLEAN)
        return state;
    if (f->c.dirty || (!t->priv && !(f->mode & 0200) && f->c.entries > 0))
        return FZ_DIRTY;
    return FZ_CLEAN;
}

static void describe(fz_entry *e, const facts *f, const char *kind)
{
    snprintf(e->what, sizeof e->what, "%s shape=%d held=%d mode=%o other=%d mtime=%lld "
             "entries=%d dirty=%d", kind, f->shape, f->held, f->mode, f->other_owner,
             (long long)f->mtime, f->c.entries, f->c.dirty);
}

static void finish_dir(fz_tree *t, fz_in *in, fz_entry *e, facts *f, int fd)
{
    static const unsigned modes[] = {0700, 0700, 0700, 0700, 0700, 0500, 0300, 0600, 0000, 0755};
    unsigned mb = byte(in), tb = byte(in);
    struct timespec ts[2];
    if (byte(in) & 1 && shape_regular(f->shape))
        f->held = (e->hold_fd = hold(fd)) >= 0;
    f->mode = modes[mb % 10];
    f->mtime = tb % 3 == 0 ? OLD : tb % 3 == 1 ? t->now : t->now + AHEAD;
    ts[0].tv_sec = ts[1].tv_sec = (time_t)f->mtime;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    fchmodat(t->root_fd, e->name, (mode_t)f->mode, 0);
    utimensat(t->root_fd, e->name, ts, AT_SYMLINK_NOFOLLOW); /* after the last change inside */
    if (mb / 10 % 8 == 7)
        f->other_owner = fz_give_away(t->root_fd, e->name);
    (void)fd;
}

static void spill_dir(fz_tree *t, fz_in *in, fz_entry *e)
{
    facts f;
    long lock_size;
    int looked, fd;
    memset(&f, 0, sizeof f);
    looked = spill_name(t, in, e->name, sizeof e->name, &f.secs, &f.staging);
    f.shape = (int)(byte(in) % L_COUNT);
    if (mkdirat(t->root_fd, e->name, 0700) < 0 ||
        (fd = openat(t->root_fd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        abort();
    if ((lock_size = make_lock(t, in, fd, f.shape, &f.c)) < 0)
        abort();
    children(t, in, fd, 1, &f.c);
    if (shape_regular(f.shape))
        add_file(&f.c, lock_size);
    else if (f.shape != L_NONE)
        f.c.entries++;
    e->lock_file = shape_regular(f.shape);
    finish_dir(t, in, e, &f, fd);
    close(fd);
    e->files = f.c.files;
    e->bytes = f.c.bytes;
    e->expect = looked ? expect_dir(t, &f) : FZ_IGNORED;
    describe(e, &f, f.staging ? "staging dir" : "spill dir");
}

void fz_chunk_bytes(const fz_entry *e, unsigned i, uint8_t *buf)
{
    size_t j;
    for (j = 0; j < e->chunk_len[i]; j++)
        buf[j] = (uint8_t)(e->chunk_seed[i] * 31u + j * 7u + i);
}

void fz_chunk_addr(const fz_entry *e, unsigned i, uint8_t addr[SPILL_ADDR_LEN])
{
    unsigned j;
    for (j = 0; j < SPILL_ADDR_LEN; j++)
        addr[j] = (uint8_t)(j == 0 ? i : e->chunk_seed[i] * (j + 1));
}

/* A spill opened in-process: live through the registry and its lock, with hostile content
 * added beside its chunks (which spill_close must remove without following). */
static void opened(fz_tree *t, fz_in *in, fz_entry *e)
{
    spill_opts o;
    content c;
    uint8_t buf[255 * 7], addr[SPILL_ADDR_LEN];
    const char *path, *slash;
    unsigned i;
    int fd;
    spill_opts_init(&o);
    o.reap_on_open = 0; /* the reap under test is the one spill_reap runs */
    if (spill_open(t->root, &o, &e->spill) != SPILL_OK)
        abort();
    path = spill_path(e->spill);
    slash = strrchr(path, '/');
    snprintf(e->name, sizeof e->name, "%s", slash ? slash + 1 : path);
    e->nchunks = byte(in) % (FZ_MAX_CHUNKS + 1);
    for (i = 0; i < e->nchunks; i++) {
        e->chunk_len[i] = byte(in) * 7u;
        e->chunk_seed[i] = byte(in);
        fz_chunk_bytes(e, i, buf);
        fz_chunk_addr(e, i, addr);
        if (spill_put(e->spill, addr, buf, e->chunk_len[i]) != SPILL_OK)
            abort();
    }
    memset(&c, 0, sizeof c);
    if ((fd = openat(t->root_fd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        abort();
    children(t, in, fd, 1, &c);
    close(fd);
    e->clean_inside = !c.dirty;
    e->expect = FZ_LIVE;
    snprintf(e->what, sizeof e->what, "spill_open'ed chunks=%u entries=%d dirty=%d",
             e->nchunks, c.entries, c.dirty);
}

/* A child of the root that is not a directory. */
static void not_dir(fz_tree *t, fz_in *in, fz_entry *e, int kind)
{
    uint64_t secs;
    int staging, looked = spill_name(t, in, e->name, sizeof e->name, &secs, &staging);
    content c;
    char rec[512];
    memset(&c, 0, sizeof c);
    if (kind == 0)
        link_to(t, in, t->root_fd, e->name, &c);
    else if (kind == 1)
        add_file(&c, put_file(t->root_fd, e->name, rec, (size_t)record(rec, sizeof rec, "h", 2),
                              0600));
    else if (kind == 2)
        add_other(&c, mkfifoat(t->root_fd, e->name, 0600) == 0);
    else
        hard_link(t, t->root_fd, e->name, &c);
    e->expect = looked ? FZ_UNSAFE : FZ_IGNORED;
    snprintf(e->what, sizeof e->what, "not a directory (kind %d)", kind);
}

/* A directory whose name the reaper never looks at, holding anything, a record included. */
static void other_dir(fz_tree *t, fz_in *in, fz_entry *e)
{
    content c;
    char rec[512];
    int fd;
    memset(&c, 0, sizeof c);
    other_name(t, in, e->name, sizeof e->name);
    if (mkdirat(t->root_fd, e->name, 0700) < 0 ||
        (fd = openat(t->root_fd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        abort();
    put_file(fd, ".lock", rec, (size_t)record(rec, sizeof rec, "h", 3), 0600);
    children(t, in, fd, 1, &c);
    close(fd);
    e->expect = FZ_IGNORED;
    snprintf(e->what, sizeof e->what, "unrelated directory");
}

void fz_build(fz_tree *t, const uint8_t *data, size_t size)
{
    static const uint32_t graces[] = {0, 30, 3600, UINT32_MAX};
    fz_in in;
    unsigned head, opened_n = 0;
    in.p = data;
    in.n = size;
    head = byte(&in);
    t->grace = graces[head % 4];
    t->threads = 1 + (head >> 2) % 4;
    t->nodes = 80;
    t->chains = 2;
    while (in.n > 0 && t->n < FZ_MAX_ENTRIES) {
        fz_entry *e = &t->e[t->n];
        unsigned kind = byte(&in) % 10;
        memset(e, 0, sizeof *e);
        e->hold_fd = -1;
        e->scanned = -1;
        if (kind < 4)
            spill_dir(t, &in, e);
        else if (kind == 4 && opened_n < MAX_OPENED && ++opened_n)
            opened(t, &in, e);
        else if (kind == 4 || kind == 9)
            other_dir(t, &in, e);
        else
            not_dir(t, &in, e, (int)kind - 5);
        t->n++;
    }
}

void fz_release(fz_tree *t)
{
    int i;
    for (i = 0; i < t->n; i++) {
        if (t->e[i].hold_fd >= 0)
            close(t->e[i].hold_fd);
        t->e[i].hold_fd = -1;
        fz_buf_free(&t->e[i].before);
    }
}
