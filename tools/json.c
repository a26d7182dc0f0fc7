/* json.c: compact JSON objects for --json output. Names, tags and hosts come from disk and may
 * hold any bytes, so strings are escaped here, invalid UTF-8 included (as U+FFFD); C1 controls
 * and bidirectional overrides are written as \uXXXX escapes (the same text, never raw on a
 * terminal), as sanitize.c treats them. */
#include <string.h>

#include "cli.h"

static void escape_byte(FILE *f, unsigned char c)
{
    switch (c) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    case '\b': fputs("\\b", f); break;
    case '\f': fputs("\\f", f); break;
    default:
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void spill__json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        size_t n = spill__utf8_len((const char *)p);
        unsigned long cp = n > 1 ? spill__utf8_cp((const char *)p, n) : 0;
        if (n == 1) {
            escape_byte(f, *p);
        } else if (n == 0) {
            fputs("\\ufffd", f);
            n = 1;
        } else if (spill__cli_hostile(cp)) {
            fprintf(f, "\\u%04lx", cp);
        } else {
            fwrite(p, 1, n, f);
        }
        p += n;
    }
    fputc('"', f);
}

static void key(spill__json *j, const char *k)
{
    if (j->n++)
        fputc(',', j->f);
    spill__json_string(j->f, k);
    fputc(':', j->f);
}

void spill__json_begin(spill__json *j, FILE *f)
{
    j->f = f;
    j->n = 0;
    fputc('{', f);
}

void spill__json_u64(spill__json *j, const char *k, uint64_t v)
{
    key(j, k);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void spill__json_i64(spill__json *j, const char *k, int64_t v)
{
    key(j, k);
    fprintf(j->f, "%lld", (long long)v);
}

void spill__json_bool(spill__json *j, const char *k, int v)
{
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void spill__json_str(spill__json *j, const char *k, const char *v)
{
    key(j, k);
    if (v)
        spill__json_string(j->f, v);
    else
        fputs("null", j->f);
}

void spill__json_end(spill__json *j)
{
    fputc('}', j->f);
}
