/* misc.c (Windows): paths, the data directory, process id, host name, processor count,
 * run-once, free space, the filesystem kind rule 8 needs, and the root check of rule 11. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shlobj.h>

#include "win32.h"

#ifndef FILE_REMOTE_DEVICE
#define FILE_REMOTE_DEVICE 0x00000010
#endif
#ifndef FILE_DEVICE_NETWORK_FILE_SYSTEM
#define FILE_DEVICE_NETWORK_FILE_SYSTEM 0x00000014
#endif

int spill__platform_stages(void)
{
    return 0;
}

/* C:\ or C:/, \\server\share, \\?\ (and \dir, rooted on the current drive) are absolute. */
int spill__path_is_absolute(const char *path)
{
    if (path[0] == '\\' || path[0] == '/')
        return 1;
    return ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
           path[1] == ':' && (path[2] == '\\' || path[2] == '/');
}

int spill__getcwd(char *buf, size_t size)
{
    DWORD n = GetCurrentDirectoryW(0, NULL), got;
    wchar_t *w = n ? malloc(n * sizeof *w) : NULL;
    int ok;
    if (!w || (got = GetCurrentDirectoryW(n, w)) == 0 || got >= n) {
        DWORD e = w ? GetLastError() : ERROR_NOT_ENOUGH_MEMORY;
        free(w);
        return spill__error_os("GetCurrentDirectoryW", "", (int)(e ? e : ERROR_BUFFER_OVERFLOW));
    }
    ok = spill__win_utf8(w, -1, buf, size);
    free(w);
    if (!ok)
        return spill__error_set_os(SPILL_ERANGE, 0, "GetCurrentDirectoryW", "", "path too long");
    return SPILL_OK;
}

/* Where the components that may be created start: past C:\, \\server\share\ or \\?\ forms. */
static wchar_t *first_component(wchar_t *w)
{
    int skip = 0;
    if (wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0) {
        w += 8;
        skip = 2;
    } else if (wcsncmp(w, L"\\\\?\\", 4) == 0) {
        w += 4;
    } else if (w[0] == L'\\' && w[1] == L'\\') {
        w += 2;
        skip = 2;
    }
    for (; skip > 0 && *w; skip--) /* server and share */
        while (*w && *w++ != L'\\')
            ;
    if (w[0] && w[1] == L':')
        w += 2;
    while (*w == L'\\')
        w++;
    return w;
}

/* mkdir -p; what it creates inherits its parent's ACL (POSIX modes have no meaning here). */
int spill__mkdir_parents(const char *path)
{
    wchar_t *w = spill__win_wide(path, 1), *p;
    int rc = SPILL_OK;
    if (!w)
        return spill_error_last()->code;
    for (p = first_component(w);; p++) {
        wchar_t c = *p;
        if (c != L'\\' && c != L'\0')
            continue;
        *p = L'\0';
        /* an existing component may also answer "access denied" (a protected parent) */
        if (!CreateDirectoryW(w, NULL)) {
            DWORD e = GetLastError();
            if (e != ERROR_ALREADY_EXISTS && GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES) {
                rc = spill__error_os("CreateDirectoryW", path, (int)e);
                break;
            }
        }
        *p = c;
        if (c == L'\0')
            break;
    }
    free(w);
    return rc;
}

int spill__data_dir(const char *app, char *buf, size_t size)
{
    /* FOLDERID_LocalAppData, spelled out so that no GUID library is needed */
    static const GUID local_app_data = {0xf1b32785, 0x6fba, 0x4fcf,
                                        {0x9d, 0x55, 0x7b, 0x8e, 0x7f, 0x15, 0x70, 0x91}};
    wchar_t *w = NULL;
    char dir[4096];
    HRESULT hr = SHGetKnownFolderPath(&local_app_data, 0, NULL, &w);
    int ok = SUCCEEDED(hr) && spill__win_utf8(w, -1, dir, sizeof dir), n;
    CoTaskMemFree(w);
    if (!ok)
        return spill__error_set_os(SPILL_ENOTFOUND, (int)hr, "SHGetKnownFolderPath",
                                   "LocalAppData", "no Local AppData folder");
    n = snprintf(buf, size, "%s\\%s", dir, app);
    if (n < 0 || (size_t)n >= size)
        return spill__error_set_os(SPILL_ERANGE, 0, "spill_default_root", "", "path too long");
    return SPILL_OK;
}

int64_t spill__getpid(void)
{
    return (int64_t)GetCurrentProcessId();
}

unsigned spill__ncpu(void)
{
    /* every processor group: a machine of more than 64 logical processors has several */
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n < 1 ? 1u : n > 1024 ? 1024u : (unsigned)n;
}

void spill__hostname(char *buf, size_t size)
{
    wchar_t w[256];
    DWORD n = sizeof w / sizeof w[0];
    if (!GetComputerNameExW(ComputerNameDnsHostname, w, &n) || n == 0 ||
        !spill__win_utf8(w, (int)n, buf, size))
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
}

/* One INIT_ONCE per distinct function (the library has only a few); a slot is found under a
 * lock, and the function runs outside it, so that it may itself call spill__once. */
typedef struct once_slot {
    void (*fn)(void);
    INIT_ONCE once;
} once_slot;

static BOOL CALLBACK run_once(PINIT_ONCE once, PVOID fn, PVOID *ctx)
{
    (void)once;
    (void)ctx;
    ((once_slot *)fn)->fn();
    return TRUE;
}

void spill__once(void (*fn)(void))
{
    static SRWLOCK mu = SRWLOCK_INIT;
    static once_slot slots[16];
    once_slot *s = NULL;
    int i;
    AcquireSRWLockExclusive(&mu);
    for (i = 0; i < 16 && slots[i].fn && slots[i].fn != fn; i++)
        ;
    if (i < 16) {
        s = &slots[i];
        if (!s->fn) {
            InitOnceInitialize(&s->once);
            s->fn = fn;
        }
    }
    ReleaseSRWLockExclusive(&mu);
    if (s)
        InitOnceExecuteOnce(&s->once, run_once, s, NULL);
}

int spill__win_space(const char *path, uint64_t *avail)
{
    wchar_t *w = spill__win_wide(path, 1), *dir;
    ULARGE_INTEGER free_to_caller;
    size_t n;
    BOOL ok;
    if (!w)
        return spill_error_last()->code;
    /* a UNC path needs its trailing backslash */
    n = wcslen(w);
    if (!(dir = malloc((n + 2) * sizeof *dir))) {
        free(w);
        return spill__error_os("malloc", path, ERROR_NOT_ENOUGH_MEMORY);
    }
    wcscpy(dir, w);
    if (n && dir[n - 1] != L'\\')
        wcscat(dir, L"\\");
    ok = GetDiskFreeSpaceExW(dir, &free_to_caller, NULL, NULL);
    free(dir);
    free(w);
    if (!ok)
        return spill__error_os("GetDiskFreeSpaceExW", path, (int)GetLastError());
    *avail = free_to_caller.QuadPart; /* the caller's quota included */
    return SPILL_OK;
}

/* Rule 8: a network redirector (SMB, NFS client, WebDAV, \\wsl$) or a remote device. */
int spill__win_fs_kind(spill__fd fd, int *kind)
{
    FILE_FS_DEVICE_INFORMATION dev;
    IO_STATUS_BLOCK io;
    NTSTATUS st = NtQueryVolumeInformationFile(SPILL__H(fd), &io, &dev, sizeof dev,
                                               FileFsDeviceInformation);
    if (!NT_SUCCESS(st))
        return spill__win_status("NtQueryVolumeInformationFile", "", st);
    *kind = dev.DeviceType == FILE_DEVICE_NETWORK_FILE_SYSTEM ||
                    (dev.Characteristics & FILE_REMOTE_DEVICE)
                ? SPILL__FS_NETWORK
                : SPILL__FS_LOCAL;
    return SPILL_OK;
}

/* The library's process-wide mutexes (platform.h). Windows has no fork: SRW locks, no handler. */
static SRWLOCK mutexes[SPILL__MU_COUNT] = {SRWLOCK_INIT, SRWLOCK_INIT, SRWLOCK_INIT,
                                                  SRWLOCK_INIT, SRWLOCK_INIT};

void spill__mutex_lock(int id)
{
    AcquireSRWLockExclusive(&mutexes[id]);
}

void spill__mutex_unlock(int id)
{
    ReleaseSRWLockExclusive(&mutexes[id]);
}

/* No stat by name waits on Windows's side of a mount here: reparse points are never followed
 * (rule 2 is the walker's FILE_FLAG_OPEN_REPARSE_POINT). */
spill__mounts *spill__mounts_begin(const char *root)
{
    (void)root;
    return NULL;
}

void spill__mounts_end(spill__mounts *m)
{
    (void)m;
}

uint64_t spill__fork_count(void)
{
    return 0; /* no fork on Windows */
}

void spill__at_fork_child(void (*fn)(void))
{
    (void)fn; /* no fork on Windows: nothing ever runs it */
}

void spill__close_inherited(spill__fd fd)
{
    (void)fd; /* no fork on Windows: never called */
}

int64_t spill__monotonic_us(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq); /* fixed at boot; racing first calls write the same */
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart * 1000000 +
                     now.QuadPart % freq.QuadPart * 1000000 / freq.QuadPart);
}
