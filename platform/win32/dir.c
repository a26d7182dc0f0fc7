/* dir.c (Windows): directory listings with NtQueryDirectoryFile on a handle of their own,
 * opened relative to the directory's handle (an empty name opens that directory again). */
#include <stdlib.h>
#include <string.h>

#include "win32.h"

#define LIST_BUF 65536

struct spill__dir {
    HANDLE h;
    int restart;          /* the next query starts from the beginning */
    int done;             /* no more entries */
    ULONG pos, len;       /* the current entry's offset in buf, and how much buf holds */
    char name[1024];      /* the current name as UTF-8 (a component is at most 255 UTF-16 units) */
    union {
        FILE_NAMES_INFORMATION first;
        char bytes[LIST_BUF];
    } buf;
};

int spill__win_dir_open(spill__fd fd, spill__dir **out)
{
    spill__dir *d = calloc(1, sizeof *d);
    int rc;
    if (!d)
        return spill__error_os("calloc", "", ERROR_NOT_ENOUGH_MEMORY);
    rc = spill__win_open(fd, "", FILE_LIST_DIRECTORY, SPILL__SHARE_ALL, FILE_OPEN,
                         FILE_DIRECTORY_FILE, &d->h, NULL);
    if (rc != SPILL_OK) {
        free(d);
        return rc;
    }
    d->restart = 1;
    *out = d;
    return SPILL_OK;
}

/* Reads the next batch of entries; 0 at the end. */
static int fill(spill__dir *d, int *more)
{
    IO_STATUS_BLOCK io;
    NTSTATUS st = NtQueryDirectoryFile(d->h, NULL, NULL, NULL, &io, d->buf.bytes, LIST_BUF,
                                       FileNamesInformation, FALSE, NULL,
                                       d->restart ? TRUE : FALSE);
    d->restart = 0;
    d->pos = 0;
    d->len = 0;
    *more = 0;
    if (st == STATUS_NO_MORE_FILES)
        return SPILL_OK;
    if (!NT_SUCCESS(st))
        return spill__win_status("NtQueryDirectoryFile", "", st);
    d->len = (ULONG)io.Information;
    *more = d->len > 0;
    return SPILL_OK;
}

static int is_dot(const FILE_NAMES_INFORMATION *e)
{
    ULONG n = e->FileNameLength / sizeof(WCHAR);
    return (n == 1 && e->FileName[0] == L'.') ||
           (n == 2 && e->FileName[0] == L'.' && e->FileName[1] == L'.');
}

int spill__win_dir_next(spill__dir *d, const char **name)
{
    for (;;) {
        const FILE_NAMES_INFORMATION *e;
        int more, rc;
        if (d->done) {
            *name = NULL;
            return SPILL_OK;
        }
        if (d->pos >= d->len) {
            if ((rc = fill(d, &more)) != SPILL_OK)
                return rc;
            if (!more) {
                d->done = 1;
                continue;
            }
        }
        e = (const FILE_NAMES_INFORMATION *)(d->buf.bytes + d->pos);
        d->pos = e->NextEntryOffset ? d->pos + e->NextEntryOffset : d->len;
        if (is_dot(e))
            continue;
        if (!spill__win_utf8(e->FileName, (int)(e->FileNameLength / sizeof(WCHAR)), d->name,
                             sizeof d->name))
            return spill__error_set_os(SPILL_EIO, ERROR_NO_UNICODE_TRANSLATION, "readdir", "",
                                       "a name that is not valid UTF-16");
        *name = d->name;
        return SPILL_OK;
    }
}

void spill__win_dir_rewind(spill__dir *d)
{
    d->restart = 1;
    d->done = 0;
    d->pos = d->len = 0;
}

void spill__win_dir_close(spill__dir *d)
{
    if (d) {
        CloseHandle(d->h);
        free(d);
    }
}
