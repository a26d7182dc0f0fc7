/* walk.c (Windows): removing or measuring a directory tree without ever following a link. Each
 * entry is opened once, relative to its parent's handle and as itself (FILE_OPEN_REPARSE_POINT),
 * examined through that handle, and removed through it: what goes is what was examined, and a
 * symlink, junction or mount point goes as a link with its target untouched. A directory on
 * another volume is never entered, and at most SPILL__MAX_DEPTH levels are descended. Listing
 * and stat go through the operations table, so that tests can inject failures there. */
#include <string.h>

#include "win32.h"
#include "walk.h"

/* To remove: DELETE access (a passing sharing violation retried). To measure: attributes only,
 * which no other handle's share mode can refuse. */
static int open_entry(spill__walk *w, spill__fd fd, const char *name, HANDLE *h)
{
    if (w->measure)
        return spill__win_open(fd, name, FILE_READ_ATTRIBUTES, SPILL__SHARE_ALL, FILE_OPEN,
                               FILE_OPEN_REPARSE_POINT, h, NULL);
    return spill__win_open_delete(fd, name, 0, h);
}

/* Descends into the directory open as h and, unless measuring, marks it for deletion once
 * empty. Returns 1 if it is going. */
static int do_dir(spill__walk *w, HANDLE h, const char *name, const spill__stat *cs,
                  const spill__stat *self, int depth, spill__walk_pass *ps)
{
    uint32_t nested;
    int rc;
    if (cs->dev != self->dev || cs->mount_id != self->mount_id) {
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "on another volume: not entered"), ps);
        return 0;
    }
    nested = spill__walk_dir(w, SPILL__FD(h), cs, NULL, depth);
    w->st->dirs++;
    if (nested) {
        ps->errors += nested; /* the directory cannot go */
        return 0;
    }
    if (w->measure)
        return 0;
    if (w->cut) { /* the budget ran out inside: the rest is the next reap's */
        w->st->dirs--;
        return 0;
    }
    rc = spill__win_delete(h, name);
    if (rc == SPILL_OK)
        return 1;
    if (rc != SPILL_ENOTFOUND)
        spill__walk_fail(w, rc, ps);
    w->st->dirs--;
    return 0;
}

/* A file, a link or anything else that is not a directory, open as h. */
static int do_file(spill__walk *w, HANDLE h, const char *name, const spill__stat *cs,
                   spill__walk_pass *ps)
{
    int rc;
    if (!w->measure) {
        rc = spill__win_delete(h, name);
        if (rc == SPILL_ENOTFOUND)
            return 0;
        if (rc != SPILL_OK) {
            spill__walk_fail(w, rc, ps);
            return 0;
        }
    }
    w->st->files++;
    if (cs->type == SPILL__F_REG)
        w->st->bytes += cs->size;
    return !w->measure;
}

/* One entry at level `depth`. Returns 1 if something was removed: it goes as h is closed. */
int spill__walk_entry(spill__walk *w, spill__fd fd, const char *name, const spill__stat *self,
                      int depth, spill__walk_pass *ps)
{
    HANDLE h;
    spill__stat cs;
    int removed = 0, rc = open_entry(w, fd, name, &h);
    if (rc == SPILL_ENOTFOUND) /* another remover got there first, or it is delete-pending */
        return 0;
    if (rc != SPILL_OK) {
        spill__walk_fail(w, rc, ps);
        return 0;
    }
    if ((rc = spill__sys.stat(SPILL__FD(h), NULL, &cs)) != SPILL_OK)
        spill__walk_fail(w, rc, ps);
    else if (depth > SPILL__MAX_DEPTH)
        spill__walk_fail(w, spill__error_set_os(SPILL_EUNSAFE, 0, "walk", name,
                                    "nested deeper than 64 levels: left"), ps);
    else if (cs.type == SPILL__F_DIR)
        removed = do_dir(w, h, name, &cs, self, depth, ps);
    else
        removed = do_file(w, h, name, &cs, ps);
    CloseHandle(h);
    return removed;
}
