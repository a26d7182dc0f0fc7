/* journal.c: the chunk journal (docs/on-disk.md): the proof spill_adopt needs that a chunk was
 * written completely. The owner appends one entry after each chunk file is written and closed,
 * so an entry never names a chunk still being written; a dead owner's last entry may be torn,
 * and the checksum finds it. No fsync: it proves completeness against a process's death (the
 * page cache outlives it), not against the machine's, like the chunks themselves. Only a spill
 * that may be adopted keeps one (keep_seconds, or adopted with one): others pay nothing. */
#include <string.h>

#include "spill_int.h"

/* An entry: the address, the length (little-endian u64), then a checksum of those 40 bytes
 * (FNV-1a, little-endian u32): 44 bytes, one write each. */
#define ENTRY_LEN (SPILL_ADDR_LEN + 8 + 4)

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

void spill__journal_append(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len)
{
    uint8_t e[ENTRY_LEN];
    int rc;
    if (!s->journaling || s->journal_broken)
        return;
    /* a failure leaves the chunk stored and only unproven: it is not adopted after a death.
     * The journal is given up at the first one, as a torn entry would hide the ones after it */
    spill__error_stash();
    if (s->journal_fd == SPILL__NOFD &&
        spill__sys.open_file(s->dir_fd, SPILL__JOURNAL_NAME, SPILL__OPEN_APPEND,
                             &s->journal_fd) != SPILL_OK)
        s->journal_fd = SPILL__NOFD;
    memcpy(e, addr, SPILL_ADDR_LEN);
    put_le(e + SPILL_ADDR_LEN, len, 8);
    put_le(e + SPILL_ADDR_LEN + 8, checksum(e, SPILL_ADDR_LEN + 8), 4);
    rc = s->journal_fd == SPILL__NOFD ? SPILL_EIO
                                      : spill__sys.write(s->journal_fd, e, sizeof e, 0);
    if (rc != SPILL_OK)
        s->journal_broken = 1;
    spill__error_unstash();
}

void spill__journal_close(spill_t *s)
{
    if (s->journal_fd != SPILL__NOFD)
        spill__sys.close(s->journal_fd);
    s->journal_fd = SPILL__NOFD;
}

/* Reads the whole journal of the directory open as dir_fd. */
static int read_all(spill__fd dir_fd, apr_pool_t *pool, uint8_t **buf, size_t *len)
{
    spill__stat st;
    spill__fd fd;
    size_t got = 0, n;
    int rc = spill__sys.open_file(dir_fd, SPILL__JOURNAL_NAME, SPILL__OPEN_READ, &fd);
    if (rc != SPILL_OK)
        return rc;
    if ((rc = spill__sys.stat(fd, NULL, &st)) == SPILL_OK && st.type != SPILL__F_REG)
        rc = spill__error(SPILL_EUNSAFE, "stat", SPILL__JOURNAL_NAME, "not a regular file");
    if (rc == SPILL_OK) {
        *buf = apr_palloc(pool, (apr_size_t)st.size + 1);
        while (got < st.size &&
               (rc = spill__sys.read(fd, *buf + got, (size_t)st.size - got, &n)) == SPILL_OK &&
               n > 0)
            got += n;
    }
    spill__sys.close(fd);
    *len = got;
    return rc;
}

int spill__journal_load(spill__fd dir_fd, apr_pool_t *pool, apr_array_header_t **out)
{
    uint8_t *buf = NULL;
    size_t len = 0, at;
    int rc = read_all(dir_fd, pool, &buf, &len);
    *out = apr_array_make(pool, 64, sizeof(spill__journal_entry));
    if (rc != SPILL_OK)
        return rc;
    /* entries up to the first that is torn or garbled: nothing after it is trusted */
    for (at = 0; at + ENTRY_LEN <= len; at += ENTRY_LEN) {
        const uint8_t *e = buf + at;
        spill__journal_entry *je;
        if (get_le(e + SPILL_ADDR_LEN + 8, 4) != checksum(e, SPILL_ADDR_LEN + 8))
            break;
        je = &APR_ARRAY_PUSH(*out, spill__journal_entry);
        memcpy(je->addr, e, SPILL_ADDR_LEN);
        je->len = get_le(e + SPILL_ADDR_LEN, 8);
    }
    return SPILL_OK;
}
