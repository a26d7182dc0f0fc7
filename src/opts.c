/* opts.c: versioned options (libgit2's *_options_init): each version's fields are written and
 * read only for a struct that carries that version, so a caller built against an older header
 * (whose struct is smaller) is never written past its end. Also the caller's log callback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "spill_int.h"

/* How many bytes of spill_opts each version has: version 1 ends with log_ctx. */
static size_t opts_size(unsigned version)
{
    switch (version) {
    case 1: return offsetof(spill_opts, log_ctx) + sizeof(void *);
    case 2: return offsetof(spill_opts, reap_resumable) + sizeof(int);
    case 3: return sizeof(spill_opts);
    default: return 0;
    }
}

/* The defaults of the latest version, into a full-size struct. */
static void defaults(spill_opts *o)
{
    memset(o, 0, sizeof *o);
    o->version = SPILL_OPTS_VERSION;
    o->grace_seconds = 30;
    o->reap_on_open = 1;
    o->threads = 1;
    o->progress_ms = 200;
}

int spill_opts_init_version(spill_opts *opts, unsigned version)
{
    spill_opts d;
    size_t n = opts_size(version);
    if (!opts || !n)
        return spill__error(SPILL_EINVAL, "spill_opts_init_version", "",
                            "spill_opts version %u is not known to this library (1 to %u)",
                            version, (unsigned)SPILL_OPTS_VERSION);
    defaults(&d);
    d.version = version;
    memcpy(opts, &d, n);
    return SPILL_OK;
}

/* The exported symbol of 0.1 (the parentheses keep the header's macro out): a 0.1 program's
 * struct is version 1's size. */
void(spill_opts_init)(spill_opts *opts)
{
    spill_opts_init_version(opts, 1);
}

int spill__opts_check(const spill_opts *opts, spill_opts *out)
{
    size_t n;
    defaults(out);
    if (!opts)
        return SPILL_OK;
    if (!(n = opts_size(opts->version)))
        return spill__error(SPILL_EINVAL, "", "",
                            "spill_opts version %u is not known to this library (1 to %u): set "
                            "it up with spill_opts_init",
                            opts->version, (unsigned)SPILL_OPTS_VERSION);
    memcpy(out, opts, n); /* later versions' fields keep their defaults */
    /* only version 2 knows SPILL_REAP_BACKGROUND; any other non-zero value is synchronous */
    if (out->reap_on_open && (opts->version < 2 || out->reap_on_open != SPILL_REAP_BACKGROUND))
        out->reap_on_open = SPILL_REAP_SYNC;
    if (out->tag && strlen(out->tag) > SPILL__TAG_MAX)
        return spill__error(SPILL_EINVAL, "", "", "tag of %lu bytes: at most %d",
                            (unsigned long)strlen(out->tag), SPILL__TAG_MAX);
    return SPILL_OK;
}

void spill__log(const spill_opts *o, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!o || !o->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->log(o->log_ctx, level, msg);
}
