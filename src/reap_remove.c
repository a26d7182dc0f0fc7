/* reap_remove.c: removing one orphan while holding its lock (if it had one), through the one
 * function that decides rule 6's order (remove.c), and counting what went. Run by the reaping
 * thread or by a worker of the pool. */
#include <stdio.h>
#include <string.h>

#include "reap.h"

void spill__remove_orphan(const spill__judge_ctx *c, const char *name, spill__verdict *v,
                          int progress, spill__removal *out)
{
    spill__doomed d;
    memset(&d, 0, sizeof d);
    memset(out, 0, sizeof *out);
    d.root = c->root;
    d.root_fd = c->root_fd;
    snprintf(d.name, sizeof d.name, "%s", name);
    d.dir_fd = &v->dir_fd;
    d.lock_fd = &v->lock_fd;
    d.dev = v->dir_st.dev;
    d.ino = v->dir_st.ino;
    d.lock_ours = v->lock_fd != SPILL__NOFD; /* the probe checked it is this .lock */
    d.deadline_us = c->deadline_us;
    d.progress = progress;
    d.stop = c->stop;
    d.stop_ctx = c->stop_ctx;
    /* only the remover whose rmdir took the directory counts it as reaped, so racing reapers
     * count it once */
    out->rc = spill__remove_dir(&d);
    out->cut = d.cut == SPILL__DOOMED_CUT ? SPILL__CUT_SHORT
               : d.cut == SPILL__DOOMED_UNTOUCHED ? SPILL__NOT_STARTED : 0;
    out->files = d.ts.files + (uint64_t)d.lock_removed;
    out->bytes = d.ts.bytes + (d.lock_removed ? v->lock_size : 0);
}
