/* utf.c (Windows): UTF-8 at the library's surface, UTF-16 at the OS boundary, and paths longer
 * than MAX_PATH through the \\?\ prefix. */
#include <stdlib.h>
#include <string.h>

#include "win32.h"

/* Paths this long or longer get the \\?\ prefix (CreateDirectoryW's limit is MAX_PATH - 12),
 * which turns off all normalisation, so it is only put on a path made absolute and normalised
 * first. */
#define LONG_PATH 240

static int convert(const char *utf8, wchar_t **out)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    if (n <= 0)
        return spill__error_os("MultiByteToWideChar", utf8, (int)GetLastError());
    if (!(*out = malloc((size_t)n * sizeof **out)))
        return spill__error_os("malloc", utf8, ERROR_NOT_ENOUGH_MEMORY);
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, *out, n);
    return SPILL_OK;
}

static int has_prefix(const wchar_t *w, const wchar_t *prefix)
{
    return wcsncmp(w, prefix, wcslen(prefix)) == 0;
}

/* \\?\C:\... or \\?\UNC\server\share\... from a long path, made absolute and normalised. */
static int long_form(wchar_t *w, const char *utf8, wchar_t **result)
{
    DWORD n = GetFullPathNameW(w, 0, NULL, NULL);
    wchar_t *full, *out = NULL;
    int unc;
    if (n == 0) {
        free(w);
        return spill__error_os("GetFullPathNameW", utf8, (int)GetLastError());
    }
    if (!(full = malloc((n + 1) * sizeof *full)) || !(out = malloc((n + 9) * sizeof *out))) {
        free(full);
        free(w);
        return spill__error_os("malloc", utf8, ERROR_NOT_ENOUGH_MEMORY);
    }
    GetFullPathNameW(w, n + 1, full, NULL);
    free(w);
    unc = full[0] == L'\\' && full[1] == L'\\';
    wcscpy(out, unc ? L"\\\\?\\UNC\\" : L"\\\\?\\");
    wcscat(out, unc ? full + 2 : full);
    free(full);
    *result = out;
    return SPILL_OK;
}

int spill__win_wide(const char *utf8, int is_path, wchar_t **out)
{
    wchar_t *p;
    int rc = convert(utf8, out);
    if (rc != SPILL_OK)
        return rc;
    for (p = *out; *p; p++)
        if (*p == L'/')
            *p = L'\\';
    if (!is_path || wcslen(*out) < LONG_PATH || has_prefix(*out, L"\\\\?\\"))
        return SPILL_OK;
    return long_form(*out, utf8, out);
}

int spill__win_utf8(const wchar_t *w, int len, char *buf, size_t size)
{
    /* an unpaired surrogate (possible in an NTFS name) does not convert: the caller reports it
     * rather than act on a name that would not find the file again */
    int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, len, buf, (int)size - 1, NULL,
                                NULL);
    if (n <= 0 || (size_t)n >= size)
        return 0;
    if (len >= 0)
        buf[n] = '\0';
    return 1;
}
