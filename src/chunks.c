/* chunks.c: the chunk store: one file per chunk, named by the lowercase hex of its address,
 * created relative to the spill's directory descriptor. No fsync: spill data is scratch. */
#include <stdlib.h>
#include <string.h>

#include "spill_int.h"

/* 1 if s may be used here; otherwise records why (NULL or a forked child) and returns 0. */
static int usable(const spill_t *s, int *rc)
{
    if (!s) {
        *rc = spill__error(SPILL_EINVAL, "", "", "NULL spill handle");
        return 0;
    }
    if (s->pid != spill__getpid()) {
        *rc = spill__error(SPILL_EFORKED, "", s->path,
                           "spill handle used in a forked child; only its opener may use it");
        return 0;
    }
    return 1;
}

static spill__chunk *find(const spill_t *s, const uint8_t *addr)
{
    return apr_hash_get(s->index, addr, SPILL_ADDR_LEN);
}

static spill__chunk *new_chunk(spill_t *s)
{
    spill__chunk *c = s->free_list;
    if (c)
        s->free_list = c->next_free;
    else
        c = apr_palloc(s->pool, sizeof *c);
    memset(c, 0, sizeof *c);
    return c;
}

int spill__file_write(spill_t *s, const char *name, const void *data, size_t len)
{
    spill__fd fd;
    int rc = spill__sys.open_file(s->dir_fd, name, SPILL__OPEN_CREATE, &fd);
    if (rc == SPILL_EBUSY) {
        /* a file we do not know of under that name (a put whose cleanup failed: its address
         * is not stored; the lease being replaced): replace it */
        spill__sys.unlink(s->dir_fd, name, 0, NULL);
        rc = spill__sys.open_file(s->dir_fd, name, SPILL__OPEN_CREATE, &fd);
    }
    if (rc == SPILL_ENOTFOUND)
        return spill__error(SPILL_ELOST, "create", s->path,
                            "the spill directory was taken away while it was open");
    if (rc != SPILL_OK)
        return spill__error_in(rc, s->path);
    rc = spill__sys.write(fd, data, len, 0);
    if (rc == SPILL_OK) {
        rc = spill__sys.close(fd);
    } else {
        spill__error_stash();
        spill__sys.close(fd);
        spill__error_unstash();
    }
    if (rc != SPILL_OK) {
        /* write and close know only a descriptor: name the file */
        if (!spill_error_last()->path[0])
            spill__error_in(rc, name);
        spill__error_in(rc, s->path);
        spill__error_stash();
        spill__sys.unlink(s->dir_fd, name, 0, NULL);
        spill__error_unstash();
    }
    return rc;
}

int spill_put(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], const void *data, size_t len)
{
    char hex[SPILL__HEX_LEN + 1];
    int rc;
    if (!usable(s, &rc))
        return rc;
    if (!addr || (!data && len))
        return spill__error(SPILL_EINVAL, "spill_put", "", "addr and data must be given");
    if (find(s, addr))
        return SPILL_OK;
    /* past the reservation: a larger one first, or SPILL_ENOSPC before any byte is written */
    if (!spill__lease_covers(s, len) && (rc = spill__reserve_more(s, len)) != SPILL_OK)
        return rc;
    spill__hex(addr, hex);
    if ((rc = spill__file_write(s, hex, data, len)) != SPILL_OK)
        return rc;
    if ((rc = spill__chunks_index(s, addr, len)) != SPILL_OK) {
        spill__error_stash();
        spill__sys.unlink(s->dir_fd, hex, 0, NULL); /* not stored: no chunk left behind */
        spill__error_unstash();
        return rc;
    }
    spill__journal_append(s, addr, len); /* after the complete write: spill_adopt's proof */
    if (spill__journal_due(s)) /* its size follows the live chunks, not put/remove churn */
        spill__journal_compact(s);
    return SPILL_OK;
}

int spill__chunks_index(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], uint64_t len)
{
    spill__chunk *c = new_chunk(s);
    int rc;
    memcpy(c->addr, addr, SPILL_ADDR_LEN);
    c->len = len;
    if ((rc = spill__order_push(&s->order, c)) != SPILL_OK) {
        c->next_free = s->free_list;
        s->free_list = c;
        return rc;
    }
    apr_hash_set(s->index, c->addr, SPILL_ADDR_LEN, c);
    s->total += len;
    return SPILL_OK;
}

static int read_all(spill__fd fd, uint8_t *buf, size_t len, const char *path, const char *hex)
{
    size_t done = 0, got;
    int rc;
    while (done < len) {
        if ((rc = spill__sys.read(fd, buf + done, len - done, &got)) != SPILL_OK)
            return spill__error_in(rc, path);
        if (got == 0)
            return spill__error(SPILL_ELOST, "read", path, "chunk %s is shorter than stored",
                                hex);
        done += got;
    }
    return SPILL_OK;
}

int spill__chunk_read(spill__fd dir_fd, const char *path, const char *hex, uint8_t *buf,
                      size_t len)
{
    spill__fd fd;
    int rc = spill__sys.open_file(dir_fd, hex, SPILL__OPEN_READ, &fd);
    if (rc == SPILL_ENOTFOUND)
        return spill__error(SPILL_ELOST, "open", path, "chunk %s vanished", hex);
    if (rc != SPILL_OK)
        return spill__error_in(rc, path);
    rc = read_all(fd, buf, len, path, hex);
    spill__sys.close(fd);
    return rc;
}

int spill_get(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN], void **data, size_t *len)
{
    char hex[SPILL__HEX_LEN + 1];
    spill__chunk *c;
    uint8_t *buf;
    int rc;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!usable(s, &rc))
        return rc;
    if (!addr || !data || !len)
        return spill__error(SPILL_EINVAL, "spill_get", "", "addr, data and len must be given");
    if (!(c = find(s, addr)))
        return spill__error(SPILL_ENOTFOUND, "spill_get", s->path, "no chunk at that address");
    spill__hex(addr, hex);
    if (!(buf = malloc(c->len ? (size_t)c->len : 1)))
        return spill__error(SPILL_ENOMEM, "malloc", "", "out of memory");
    if ((rc = spill__chunk_read(s->dir_fd, s->path, hex, buf, (size_t)c->len)) != SPILL_OK) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = (size_t)c->len;
    return SPILL_OK;
}

static void forget(spill_t *s, spill__chunk *c)
{
    spill__order_remove(&s->order, c);
    apr_hash_set(s->index, c->addr, SPILL_ADDR_LEN, NULL);
    s->total -= c->len;
    c->next_free = s->free_list;
    s->free_list = c;
}

int spill_remove(spill_t *s, const uint8_t addr[SPILL_ADDR_LEN])
{
    char hex[SPILL__HEX_LEN + 1];
    spill__chunk *c;
    int rc;
    if (!usable(s, &rc))
        return rc;
    if (!addr)
        return spill__error(SPILL_EINVAL, "spill_remove", "", "addr must be given");
    if (!(c = find(s, addr)))
        return spill__error(SPILL_ENOTFOUND, "spill_remove", s->path, "no chunk at that address");
    spill__hex(addr, hex);
    rc = spill__sys.unlink(s->dir_fd, hex, 0, NULL);
    if (rc != SPILL_OK && rc != SPILL_ENOTFOUND)
        return spill__error_in(rc, s->path);
    forget(s, c);
    if (rc == SPILL_ENOTFOUND)
        return spill__error(SPILL_ELOST, "unlink", s->path, "chunk %s had vanished", hex);
    return SPILL_OK;
}

void spill_free(void *p)
{
    free(p);
}

size_t spill_count(const spill_t *s)
{
    if (!s || s->pid != spill__getpid())
        return 0;
    return s->order.live;
}

uint64_t spill_total_bytes(const spill_t *s)
{
    if (!s || s->pid != spill__getpid())
        return 0;
    return s->total;
}

int spill_addr(const spill_t *s, size_t i, uint8_t out[SPILL_ADDR_LEN])
{
    int rc;
    if (!usable(s, &rc))
        return rc;
    if (!out)
        return spill__error(SPILL_EINVAL, "spill_addr", "", "out must be given");
    if (i >= s->order.live)
        return spill__error(SPILL_ENOTFOUND, "spill_addr", s->path, "index %lu past the end",
                            (unsigned long)i);
    memcpy(out, spill__order_at(&s->order, i)->addr, SPILL_ADDR_LEN);
    return SPILL_OK;
}
