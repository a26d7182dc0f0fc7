/* process.c (Windows): what platform/process.h declares: process id, host name, processors,
 * run-once, the library's mutexes, the monotonic clock, and the stubs of fork and mounts. */
#include <stdio.h>

#include "win32.h"

uint64_t spill__user_id(void)
{
    return 0; /* a Windows root is the user's own (its ACL): nobody else names anything there */
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

int spill__out_of_descriptors(int os_error)
{
    (void)os_error; /* handles are not a budget of a few dozen as descriptors can be */
    return 0;
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

/* The library's process-wide mutexes (process.h). Windows has no fork: SRW locks, no handler. */
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
