/* opts.c: versioned options (libgit2's *_options_init) and the caller's log callback. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spill_int.h"

void spill_opts_init(spill_opts *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->version = SPILL_OPTS_VERSION;
    opts->grace_seconds = 30;
    opts->reap_on_open = 1;
    opts->threads = 1;
}

/* Copies opts (or the defaults for NULL) into *out; SPILL_EINVAL if not set up by init. */
int spill__opts_check(const spill_opts *opts, spill_opts *out)
{
    if (!opts) {
        spill_opts_init(out);
        return SPILL_OK;
    }
    if (opts->version != SPILL_OPTS_VERSION)
        return spill__error(SPILL_EINVAL, "", "",
                            "spill_opts version %u is not %u: set it up with spill_opts_init",
                            opts->version, (unsigned)SPILL_OPTS_VERSION);
    *out = *opts;
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
