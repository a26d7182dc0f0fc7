/* progress.c: `spill reap`'s progress line: one line on stderr, rewritten in place while the
 * reap runs (through the library's progress callback, on the reaping thread) and cleared at
 * the end; Ctrl-C makes the callback ask the reap to stop at its next check. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* "reaping ROOT: 12 orphans removed of 40 judged, 1.2 GiB freed, 85.3 MiB/s, 3.2 s" */
static void draw(const spill__cli_progress *p, const spill_reap_stats *st)
{
    char size[32], rate[32];
    uint64_t per_s = st->elapsed_ms ? st->bytes_freed * 1000 / st->elapsed_ms : 0;
    fprintf(stderr, "\rreaping %s: %u orphan%s removed of %u judged, %s freed, %s/s, %u.%u s\033[K",
            p->root, (unsigned)st->reaped, st->reaped == 1 ? "" : "s", (unsigned)st->scanned,
            spill__cli_size(size, sizeof size, st->bytes_freed),
            spill__cli_size(rate, sizeof rate, per_s), (unsigned)(st->elapsed_ms / 1000),
            (unsigned)(st->elapsed_ms % 1000 / 100));
    fflush(stderr);
}

/* The library calls back every CHECK_MS so that Ctrl-C stops the reap within that (its only
 * chance to ask); the line is redrawn every DRAW_MS, the first time at once. */
#define CHECK_MS 20
#define DRAW_MS 200

static void show(spill__cli_progress *p, const spill_reap_stats *st)
{
    draw(p, st);
    p->drawn = 1;
    p->drawn_ms = st->elapsed_ms;
}

static int on_progress(void *ctx, const spill_reap_stats *so_far)
{
    spill__cli_progress *p = ctx;
    if (p->show && (!p->drawn || so_far->elapsed_ms - p->drawn_ms >= DRAW_MS))
        show(p, so_far);
    return spill__cli_interrupted();
}

void spill__cli_progress_begin(spill__cli_progress *p, spill_opts *o, const char *root,
                               int mode)
{
    memset(p, 0, sizeof *p);
    p->root = root;
    p->show = mode == SPILL_CLI_PROGRESS_ON ||
              (mode == SPILL_CLI_PROGRESS_AUTO && spill__cli_stderr_is_terminal());
    spill__cli_catch_interrupt();
    o->progress = on_progress;
    o->progress_ctx = p;
    o->progress_ms = CHECK_MS;
}

void spill__cli_progress_end(spill__cli_progress *p, const spill_reap_stats *st)
{
    if (p->show && st)
        show(p, st); /* the final counts, in a log of stderr at least */
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
