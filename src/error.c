/* error.c: the error enum's strings and each thread's last error (as libgit2's git_error_last). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spill_int.h"

#define ERR_PATH_MAX 4096
#define ERR_MSG_MAX (ERR_PATH_MAX + 512)

typedef struct last_error {
    spill_error pub;
    char op[64];
    char path[ERR_PATH_MAX];
    char reason[256];
    char message[ERR_MSG_MAX];
} last_error;

static SPILL__THREAD_LOCAL last_error tls_error;
static SPILL__THREAD_LOCAL last_error tls_stash;

const char *spill_strerror(int err)
{
    switch (err) {
    case SPILL_OK: return "success";
    case SPILL_EINVAL: return "invalid argument";
    case SPILL_ENOMEM: return "out of memory";
    case SPILL_EIO: return "input/output error";
    case SPILL_ENOSPC: return "not enough free space";
    case SPILL_ENOTFOUND: return "not found";
    case SPILL_EBUSY: return "held by a live owner";
    case SPILL_EUNSAFE: return "refused as unsafe";
    case SPILL_ENOLCK: return "the filesystem cannot lock";
    case SPILL_EACCES: return "permission denied";
    case SPILL_ELOST: return "spill directory or lock was taken away";
    case SPILL_EFORKED: return "handle used in a forked child";
    case SPILL_ERANGE: return "buffer too small";
    case SPILL_ETIMEDOUT: return "budget exhausted before a decision";
    default: return "unknown error";
    }
}

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* message: "<op> <path>: <reason>" with the parts that are present. */
static void compose(last_error *e)
{
    const char *sep = e->op[0] && e->path[0] ? " " : "";
    if (e->op[0] || e->path[0])
        snprintf(e->message, sizeof e->message, "%s%s%s: %s", e->op, sep, e->path, e->reason);
    else
        snprintf(e->message, sizeof e->message, "%s", e->reason);
    e->pub.op = e->op;
    e->pub.path = e->path;
    e->pub.message = e->message;
}

int spill__error_set_os(int code, int os_error, const char *op, const char *path,
                        const char *reason)
{
    last_error *e = &tls_error;
    e->pub.code = code;
    e->pub.os_error = os_error;
    copy(e->op, sizeof e->op, op);
    copy(e->path, sizeof e->path, path);
    copy(e->reason, sizeof e->reason, reason ? reason : spill_strerror(code));
    compose(e);
    return code;
}

int spill__error(int code, const char *op, const char *path, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return spill__error_set_os(code, 0, op, path, reason);
}

int spill__error_in(int code, const char *dir)
{
    last_error *e = &tls_error;
    char joined[ERR_PATH_MAX];
    size_t dn, pn;
    if (!dir || !dir[0])
        return code;
    dn = strlen(dir);
    pn = strlen(e->path);
    if (dn + 1 + pn >= sizeof joined)
        return code; /* too long to join: keep the relative path */
    memcpy(joined, dir, dn);
    if (pn) {
        joined[dn] = SPILL__PATH_SEP[0];
        memcpy(joined + dn + 1, e->path, pn);
        dn += 1 + pn;
    }
    joined[dn] = '\0';
    copy(e->path, sizeof e->path, joined);
    compose(e);
    return code;
}

void spill__error_clear(void)
{
    spill__error_set_os(SPILL_OK, 0, "", "", "no error");
}

const spill_error *spill_error_last(void)
{
    last_error *e = &tls_error;
    if (!e->pub.message)
        spill__error_clear();
    return &e->pub;
}

/* Cleanup after a failure must not overwrite the error the caller is about to see. */
void spill__error_stash(void)
{
    tls_stash = tls_error;
}

void spill__error_unstash(void)
{
    tls_error = tls_stash;
    compose(&tls_error);
}

void spill__error_copy_out(spill__error_copy *c)
{
    const last_error *e = &tls_error;
    c->code = e->pub.code;
    c->os_error = e->pub.os_error;
    copy(c->op, sizeof c->op, e->op);
    copy(c->path, sizeof c->path, e->path);
    copy(c->reason, sizeof c->reason, e->reason);
}

void spill__error_copy_in(const spill__error_copy *c)
{
    spill__error_set_os(c->code, c->os_error, c->op, c->path, c->reason);
}
