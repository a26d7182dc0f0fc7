/* record.c: the owner record at the start of .lock, one line of at most 4 KiB:
 *   spill-owner 1 nonce=<u64> pid=<pid> host=<escaped> started=<secs> [keep=<secs>] tag=<escaped>
 * keep= (0.2, rule 4) only when the owner asked for a resumable orphan; 0.1's parser expects
 * tag= right after started=, so it reads such a record as foreign and waits its grace.  * Escaping keeps the line one token per field: bytes outside '!'..'~' and '%' become %XX. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spill_int.h"

static size_t escape(char *out, size_t size, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; in && *in; in++) {
        unsigned char c = (unsigned char)*in;
        int plain = c > ' ' && c <= '~' && c != '%';
        if (n + (plain ? 1 : 3) >= size)
            break;
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    if (size)
        out[n] = '\0';
    return n;
}

size_t spill__record_format(char *buf, size_t size, uint64_t nonce, int64_t pid,
                            const char *host, int64_t started, uint32_t keep, const char *tag)
{
    char k[32] = "";
    /* host at most 256 bytes escaped (768), the tag what keeps the line under 4 KiB */
    char h[256 * 3 + 1], t[SPILL__RECORD_MAX - sizeof h - 128];
    int n;
    escape(h, sizeof h, host);
    escape(t, sizeof t, tag);
    if (keep)
        snprintf(k, sizeof k, "keep=%lu ", (unsigned long)keep);
    n = snprintf(buf, size, "spill-owner 1 nonce=%llu pid=%lld host=%s started=%lld %stag=%s\n",
                 (unsigned long long)nonce, (long long)pid, h, (long long)started, k, t);
    if (n < 0 || (size_t)n >= size)
        return 0;
    return (size_t)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Reads "key=" then a token up to ' ' or the end; unescapes it into out. */
static const char *field(const char *p, const char *end, const char *key, char *out,
                         size_t size)
{
    size_t klen = strlen(key), n = 0;
    if ((size_t)(end - p) < klen || memcmp(p, key, klen) != 0)
        return NULL;
    for (p += klen; p < end && *p != ' '; p++) {
        char c = *p;
        if ((unsigned char)c <= ' ' || (unsigned char)c > '~')
            return NULL;
        if (c == '%') {
            int hi, lo;
            if (end - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
                return NULL;
            c = (char)(hi * 16 + lo);
            p += 2;
        }
        if (n + 1 < size)
            out[n++] = c;
    }
    out[n] = '\0';
    return p;
}

/* Parses a decimal number (a '-' only where allowed) that must fill s and fit its type: an
 * out-of-range value saturates in strtoull, and a record with one is not a version-1 record
 * (a record makes an orphan at once, so any doubt must leave it foreign). */
static int number(const char *s, int allow_sign, int64_t *out)
{
    char *e;
    if (!*s || (!allow_sign && *s == '-') || *s == '+')
        return 0;
    errno = 0;
    if (allow_sign)
        *out = (int64_t)strtoll(s, &e, 10);
    else
        *out = (int64_t)strtoull(s, &e, 10);
    return *e == '\0' && errno == 0;
}

/* Reads one numeric field followed by a space. */
static const char *numfield(const char *p, const char *end, const char *key, int sign,
                            int64_t *out)
{
    char num[32];
    p = field(p, end, key, num, sizeof num);
    if (!p || !number(num, sign, out) || p >= end || *p != ' ')
        return NULL;
    return p + 1;
}

int spill__record_parse(const char *buf, size_t len, spill__record *r)
{
    static const char magic[] = "spill-owner 1 ";
    const char *p = buf, *end;
    const char *nl = memchr(buf, '\n', len);
    int64_t nonce, keep = 0;
    end = nl ? nl : buf + len;
    memset(r, 0, sizeof *r);
    if ((size_t)(end - p) < sizeof magic - 1 || memcmp(p, magic, sizeof magic - 1) != 0)
        return 0;
    p += sizeof magic - 1;
    if (!(p = numfield(p, end, "nonce=", 0, &nonce)) ||
        !(p = numfield(p, end, "pid=", 1, &r->pid)))
        return 0;
    r->nonce = (uint64_t)nonce;
    p = field(p, end, "host=", r->host, sizeof r->host);
    if (!p || p >= end || *p != ' ')
        return 0;
    if (!(p = numfield(p + 1, end, "started=", 1, &r->started)))
        return 0;
    if ((size_t)(end - p) >= 5 && memcmp(p, "keep=", 5) == 0 &&
        (!(p = numfield(p, end, "keep=", 0, &keep)) || keep <= 0 || keep > UINT32_MAX))
        return 0; /* a keep that does not parse: foreign, the cautious side */
    r->keep = (uint32_t)keep;
    p = field(p, end, "tag=", r->tag, sizeof r->tag);
    return p == end;
}

int spill__read_small(spill__fd fd, char *buf, size_t size, size_t *got)
{
    size_t n = 1, want;
    int rc = SPILL_OK;
    *got = 0;
    while (*got < size && n > 0 &&
           (rc = spill__sys.read(fd, buf + *got, want = size - *got, &n)) == SPILL_OK) {
        *got += n;
        if (n < want && n > 0 && buf[*got - 1] == '\n')
            break;
    }
    return rc;
}
