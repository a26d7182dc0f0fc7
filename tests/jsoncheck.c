/* jsoncheck.c: a strict JSON syntax check (RFC 8259), so that tests can say "the program's
 * --json output parses" without a JSON library. Checks UTF-8 too; builds nothing. */
#include <string.h>

#include "testutil.h"

static const char *value(const char *p, int depth);

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* One UTF-8 character at p of at least two bytes; returns the byte after it or NULL. */
static const char *utf8(const char *p)
{
    const unsigned char *s = (const unsigned char *)p;
    if (s[0] >= 0xc2 && s[0] <= 0xdf && cont(s[1]))
        return p + 2;
    if (s[0] == 0xe0 && s[1] >= 0xa0 && s[1] <= 0xbf && cont(s[2]))
        return p + 3;
    if (((s[0] >= 0xe1 && s[0] <= 0xec) || s[0] == 0xee || s[0] == 0xef) && cont(s[1]) &&
        cont(s[2]))
        return p + 3;
    if (s[0] == 0xed && s[1] >= 0x80 && s[1] <= 0x9f && cont(s[2]))
        return p + 3;
    if (s[0] == 0xf0 && s[1] >= 0x90 && s[1] <= 0xbf && cont(s[2]) && cont(s[3]))
        return p + 4;
    if (s[0] >= 0xf1 && s[0] <= 0xf3 && cont(s[1]) && cont(s[2]) && cont(s[3]))
        return p + 4;
    if (s[0] == 0xf4 && s[1] >= 0x80 && s[1] <= 0x8f && cont(s[2]) && cont(s[3]))
        return p + 4;
    return NULL;
}

static const char *string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (p && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return NULL; /* the NUL at the end too: unterminated */
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                if (!is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]))
                    return NULL;
                p += 5;
            } else if (*p && strchr("\"\\/bfnrt", *p)) {
                p++;
            } else {
                return NULL;
            }
        } else {
            p = c < 0x80 ? p + 1 : utf8(p);
        }
    }
    return p ? p + 1 : NULL;
}

static const char *digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (!(p = digits(p)))
        return NULL;
    if (*p == '.' && !(p = digits(p + 1)))
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = digits(p);
    }
    return p;
}

static const char *members(const char *p, char close, int depth)
{
    p = ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (close == '}') {
            if (!(p = string(p)) || *(p = ws(p)) != ':')
                return NULL;
            p++;
        }
        if (!(p = value(p, depth + 1)))
            return NULL;
        p = ws(p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = ws(p + 1);
    }
}

static const char *value(const char *p, int depth)
{
    p = ws(p);
    if (depth > 64)
        return NULL;
    switch (*p) {
    case '{': return members(p, '}', depth);
    case '[': return members(p, ']', depth);
    case '"': return string(p);
    case 't': return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f': return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n': return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default: return number(p);
    }
}

int tu_json_valid(const char *text)
{
    const char *end = value(text, 0);
    return end && *ws(end) == '\0';
}
