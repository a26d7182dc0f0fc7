/* sanitize.c: the one sanitiser for what the program prints that came from the disk or a
 * caller (paths, roots, names, tags, hosts, the library's messages). What a terminal would act
 * on or what is not text is escaped, so that every line printed stays one line and shows what
 * is there: C0 controls, DEL and each byte of invalid UTF-8 (overlong, surrogate, past
 * U+10FFFF, truncated) as \xNN; C1 controls (U+0080..U+009F) and the bidirectional overrides
 * and isolates (U+202A..U+202E, U+2066..U+2069) as \u{XXXX}. The result is valid UTF-8. A
 * backslash is kept as it is: Windows paths stay readable. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one:
 * overlong forms, surrogates and code points past U+10FFFF are invalid (RFC 3629). A string
 * is NUL-terminated, so a sequence cut short fails on the NUL byte. */
size_t spill__utf8_len(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4
                                                                                         : 0;
    }
    return 0;
}

unsigned long spill__utf8_cp(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    static const unsigned char lead[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    unsigned long cp = s[0] & lead[n];
    size_t i;
    for (i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

int spill__cli_hostile(unsigned long cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Writes s escaped into out (at least 4 * strlen(s) + 1 bytes); returns out. Each input byte
 * becomes at most 4 output bytes: \xNN for one byte, \u{XXXX} (8) for a 2- or 3-byte one. */
static char *escape_into(char *out, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    char *o = out;
    while (*s) {
        size_t n = spill__utf8_len((const char *)s);
        unsigned long cp = n ? spill__utf8_cp((const char *)s, n) : 0;
        if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
            *o++ = '\\', *o++ = 'x', *o++ = hex[*s >> 4], *o++ = hex[*s & 15];
            s++;
        } else if (spill__cli_hostile(cp)) {
            sprintf(o, "\\u{%04lX}", cp);
            o += strlen(o);
            s += n;
        } else {
            memcpy(o, s, n);
            o += n, s += n;
        }
    }
    *o = '\0';
    return out;
}

const char *spill__cli_clean(apr_pool_t *pool, const char *s)
{
    if (!s)
        return "(null)";
    return escape_into(apr_palloc(pool, 4 * strlen(s) + 1), s);
}

void spill__cli_vline(FILE *f, const char *fmt, va_list ap)
{
    va_list again;
    char small[1024], *raw = small, *out;
    int n;
    va_copy(again, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small && (raw = malloc((size_t)n + 1)) != NULL)
        vsnprintf(raw, (size_t)n + 1, fmt, again);
    va_end(again);
    if (n < 0 || !raw) {
        fputs("spill: cannot format a message\n", f);
        return;
    }
    if ((out = malloc(4 * strlen(raw) + 1)) != NULL) {
        fputs(escape_into(out, raw), f);
        free(out);
    } else {
        fputs("spill: out of memory for a message", f);
    }
    fputc('\n', f);
    if (raw != small)
        free(raw);
}

void spill__cli_line(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    spill__cli_vline(f, fmt, ap);
    va_end(ap);
}
