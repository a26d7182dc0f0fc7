/* journal.c: the chunk journal (docs/on-disk.md): the proof spill_adopt needs that a chunk was
 * written completely. The owner appends one entry after each chunk file is written and closed,
 * so an entry never names a chunk still being written; a dead owner's last entry may be torn,
 * and the checksum finds it. No fsync: it proves completeness against a process's death (the
 * page cache outlives it), not against the machine's, like the chunks themselves. Only a spill
 * that may be adopted keeps one (keep_seconds, or adopted with one): others pay nothing.
 * Its size follows the live chunks, not their history: a compaction writes their entries under
 * SPILL__JOURNAL_TMP and renames that over the journal, so a death at any moment leaves one
 * whole journal or the other. */
#include <stdlib.h>
#include <string.h>

#include "spill_int.h"

/* An entry: the address, the length (little-endian u64), then a checksum of those 40 bytes
 * (FNV-1a, little-endian u32): 44 bytes, one write each. */
#define ENTRY_LEN (SPILL_ADDR_LEN + 8 + 4)
#define BATCH 1024        /* entries per read or write: one buffer of 44 KiB, whatever the size */
#define COMPACT_FLOOR 256 /* a journal of fewer entries is never worth compacting */

static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    int i;
    for (i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void encode(uint8_t *e, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len)
{
    memcpy(e, addr, SPILL_ADDR_LEN);
    put_le(e + SPILL_ADDR_LEN, len, 8);
    put_le(e + SPILL_ADDR_LEN + 8, checksum(e, SPILL_ADDR_LEN + 8), 4);
}

/* 0 if the entry at e is torn or garbled. */
static int decode(const uint8_t *e, spill__journal_entry *out)
{
    if (get_le(e + SPILL_ADDR_LEN + 8, 4) != checksum(e, SPILL_ADDR_LEN + 8))
        return 0;
    memcpy(out->addr, e, SPILL_ADDR_LEN);
    out->len = get_le(e + SPILL_ADDR_LEN, 8);
    return 1;
}

/* Cuts the journal back to its valid entries: what a failed write left of one (ENOSPC tears an
 * entry) would put every later entry out of step. */
static int cut_back(spill_t *s)
{
    return spill__sys.truncate(s->dir_fd, SPILL__JOURNAL_NAME, s->journal_entries * ENTRY_LEN);
}

void spill__journal_append(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len)
{
    uint8_t e[ENTRY_LEN];
    int rc = SPILL_OK;
    if (!s->journaling)
        return;
    s->journal_puts++;
    if (s->journal_broken) {
        s->journal_missed++;
        return;
    }
    /* a failure leaves the chunk stored and only unproven: not adopted after a death, unless a
     * compaction (due at the next put) writes its entry first */
    spill__error_stash();
    if (s->journal_fd == SPILL__NOFD &&
        (rc = spill__sys.open_file(s->dir_fd, SPILL__JOURNAL_NAME, SPILL__OPEN_APPEND,
                                   &s->journal_fd)) != SPILL_OK)
        s->journal_fd = SPILL__NOFD;
    encode(e, addr, len);
    if (rc == SPILL_OK && (rc = spill__sys.write(s->journal_fd, e, sizeof e, 0)) != SPILL_OK)
        s->journal_broken = cut_back(s) != SPILL_OK;
    if (rc == SPILL_OK)
        s->journal_entries++;
    else
        s->journal_missed++;
    spill__error_unstash();
}

void spill__journal_close(spill_t *s)
{
    if (s->journal_fd != SPILL__NOFD)
        spill__sys.close(s->journal_fd);
    s->journal_fd = SPILL__NOFD;
}

/* Writes the entries of the live chunks in s, in their order, in batches. */
static int write_live(spill_t *s, spill__fd fd)
{
    uint8_t *buf = malloc(BATCH * ENTRY_LEN);
    size_t i, n = 0;
    int rc = SPILL_OK;
    if (!buf)
        return spill__error(SPILL_ENOMEM, "malloc", "", "out of memory");
    for (i = 0; rc == SPILL_OK && i < s->order.used; i++) {
        const spill__chunk *c = s->order.slot[i];
        if (c)
            encode(buf + ENTRY_LEN * n++, c->addr, c->len);
        if (n == BATCH || (n && i + 1 == s->order.used)) {
            rc = spill__sys.write(fd, buf, n * ENTRY_LEN, 0);
            n = 0;
        }
    }
    free(buf);
    return rc;
}

/* The journal rewritten to the live chunks' entries: a new file under SPILL__JOURNAL_TMP,
 * renamed over it. On a failure the journal is as it was and the new file gone. */
static int rewrite(spill_t *s)
{
    spill__fd fd;
    int rc = spill__sys.open_file(s->dir_fd, SPILL__JOURNAL_TMP, SPILL__OPEN_CREATE, &fd);
    if (rc == SPILL_EBUSY) { /* left by a compaction that a death cut short */
        spill__sys.unlink(s->dir_fd, SPILL__JOURNAL_TMP, 0, NULL);
        rc = spill__sys.open_file(s->dir_fd, SPILL__JOURNAL_TMP, SPILL__OPEN_CREATE, &fd);
    }
    if (rc != SPILL_OK)
        return rc;
    rc = write_live(s, fd);
    if (spill__sys.close(fd) != SPILL_OK && rc == SPILL_OK)
        rc = SPILL_EIO;
    if (rc == SPILL_OK) {
        spill__journal_close(s); /* appends go to the new file; Windows replaces no open file */
        rc = spill__sys.rename(s->dir_fd, SPILL__JOURNAL_TMP, s->dir_fd, SPILL__JOURNAL_NAME, 1);
    }
    if (rc != SPILL_OK) {
        spill__error_stash();
        spill__sys.unlink(s->dir_fd, SPILL__JOURNAL_TMP, 0, NULL);
        spill__error_unstash();
        return rc;
    }
    s->journal_entries = s->order.live;
    s->journal_missed = 0;
    s->journal_broken = 0;
    return SPILL_OK;
}

int spill__journal_due(const spill_t *s)
{
    if (!s->journaling || s->journal_puts < s->journal_retry)
        return 0;
    return s->journal_missed || (s->journal_entries >= COMPACT_FLOOR &&
                                 s->journal_entries > 2 * (uint64_t)s->order.live);
}

void spill__journal_compact(spill_t *s)
{
    spill__error_stash();
    /* never fails the put; a failure (ENOSPC) leaves the journal as it was, and waits for as
     * many puts as it would have rewritten before it tries again */
    if (rewrite(s) != SPILL_OK)
        s->journal_retry =
            s->journal_puts + (s->order.live > COMPACT_FLOOR ? s->order.live : COMPACT_FLOOR);
    spill__error_unstash();
}

/* Feeds fn the valid entries in buf[0..have), up to the first torn one (*torn then set);
 * returns how many bytes it used. */
static size_t feed(const uint8_t *buf, size_t have, spill__journal_info *info, int *torn,
                   int (*fn)(void *, uint64_t, const spill__journal_entry *), void *ctx, int *rc)
{
    spill__journal_entry e;
    size_t at;
    for (at = 0; at + ENTRY_LEN <= have && *rc == SPILL_OK; at += ENTRY_LEN) {
        if (!decode(buf + at, &e)) {
            *torn = 1;
            break;
        }
        *rc = fn(ctx, info->entries++, &e);
    }
    return at;
}

int spill__journal_read(spill__fd dir_fd, spill__journal_info *info,
                        int (*fn)(void *ctx, uint64_t i, const spill__journal_entry *e),
                        void *ctx)
{
    spill__stat st;
    spill__fd fd;
    uint8_t *buf = NULL;
    size_t have = 0, got = 1, used;
    int torn = 0;
    int rc = spill__sys.open_file(dir_fd, SPILL__JOURNAL_NAME, SPILL__OPEN_READ, &fd);
    memset(info, 0, sizeof *info);
    if (rc == SPILL_ENOTFOUND)
        return SPILL_OK;
    if (rc != SPILL_OK)
        return rc;
    info->present = 1;
    if ((rc = spill__sys.stat(fd, NULL, &st)) == SPILL_OK && st.type != SPILL__F_REG)
        rc = spill__error(SPILL_EUNSAFE, "stat", SPILL__JOURNAL_NAME, "not a regular file");
    if (rc == SPILL_OK && !(buf = malloc(BATCH * ENTRY_LEN)))
        rc = spill__error(SPILL_ENOMEM, "malloc", SPILL__JOURNAL_NAME, "out of memory");
    if (rc == SPILL_OK)
        info->size = st.size;
    /* entries up to the first that is torn or garbled: nothing after it is trusted */
    while (rc == SPILL_OK && !torn && got > 0 &&
           (rc = spill__sys.read(fd, buf + have, BATCH * ENTRY_LEN - have, &got)) == SPILL_OK) {
        have += got;
        used = feed(buf, have, info, &torn, fn, ctx, &rc);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    spill__error_stash();
    spill__sys.close(fd);
    spill__error_unstash();
    return rc;
}

const char *spill__journal_adopted(spill_t *s, const spill__journal_info *info)
{
    uint64_t valid = info->entries * ENTRY_LEN;
    const char *how;
    s->journal_entries = info->entries;
    if (!info->present)
        return "none yet";
    if (info->entries == s->order.live && info->size == valid)
        return "compact already";
    spill__error_stash();
    if (rewrite(s) == SPILL_OK) {
        how = "rewritten";
    } else if (info->size == valid) {
        how = "left as it was";
    } else if (spill__sys.truncate(s->dir_fd, SPILL__JOURNAL_NAME, valid) == SPILL_OK) {
        how = "cut back to its valid entries";
    } else {
        how = "left as it was, torn: not appended to";
        s->journal_broken = 1; /* an entry appended after a torn one would be lost */
    }
    spill__error_unstash();
    return how;
}
