/* process.c (POSIX): the process (its id, host name, processors), the monotonic clock,
 * run-once, and the library's mutexes with the one pthread_atfork handler that takes them all. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "posix.h"

/* The handler takes every mutex in the order of enum spill__mutex_id, so that a child forked
 * while another thread was inside the library inherits none of them locked (rule 14,
 * docs/design.md). */
static pthread_mutex_t mutexes[SPILL__MU_COUNT] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static uint64_t forks; /* forks begun, counted with every mutex held */
static void (*core_child)(void); /* the core's reset, registered by spill__init */

void spill__at_fork_child(void (*fn)(void))
{
    core_child = fn;
}

/* Before fork: every library mutex, in order. Each is held only for a few memory operations
 * (never across a call out of the library), so this waits briefly at most. */
static void prepare(void)
{
    int i;
    for (i = 0; i < SPILL__MU_COUNT; i++)
        pthread_mutex_lock(&mutexes[i]);
    forks++;
}

static void parent(void)
{
    int i;
    for (i = SPILL__MU_COUNT - 1; i >= 0; i--)
        pthread_mutex_unlock(&mutexes[i]);
}

/* In the child, the forking thread is the one that locked them all in prepare(), and the only
 * thread: nothing can be mid-update. The core first forgets what belongs to the parent. */
static void child(void)
{
    int i;
    if (core_child)
        core_child();
    spill__mounts_fork_child();
    for (i = SPILL__MU_COUNT - 1; i >= 0; i--)
        pthread_mutex_unlock(&mutexes[i]);
}

static void setup(void)
{
    pthread_atfork(prepare, parent, child);
}

/* The trap: pthread_once is not safe across fork everywhere. glibc's once control carries a
 * fork generation, so the child of a fork made while another thread ran setup() runs it
 * again; musl's keeps the "running" state, and that child waits for ever in its first
 * spill__mutex_lock (the fork storm: 3 of 1,000 children, forked while the storm's threads
 * made their first library calls). So setup() runs as the library is loaded, before any
 * thread of the host can call into it; pthread_once stays for compilers without constructors. */
#if defined(__GNUC__)
__attribute__((constructor)) static void setup_at_load(void)
{
    pthread_once(&setup_once, setup);
}
#endif

/* The handler is registered before any library mutex is first taken, so no fork can find one
 * locked without the handler. Children made with _Fork() or raw clone() skip atfork handlers:
 * they must not call the library. */
void spill__mutex_lock(int id)
{
    pthread_once(&setup_once, setup);
    pthread_mutex_lock(&mutexes[id]);
}

/* The test knob mutex_linger_us (0 otherwise): holds the mutex a while longer before letting it
 * go, so that a fork from another thread lands inside a critical section far more often than it
 * would (a few memory operations): what proves prepare() above is needed
 * (tests/test_forkstorm.c). */
static void linger(void)
{
    int64_t until;
    if (!spill__posix_knobs.mutex_linger_us)
        return;
    until = spill__monotonic_us() + spill__posix_knobs.mutex_linger_us;
    while (spill__monotonic_us() < until)
        ;
}

void spill__mutex_unlock(int id)
{
    linger();
    pthread_mutex_unlock(&mutexes[id]);
}

/* Written only in prepare(), with every mutex held: a reader holding any one of them reads a
 * count no fork is changing. */
uint64_t spill__fork_count(void)
{
    return forks;
}

int64_t spill__monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t spill__user_id(void)
{
    return (uint64_t)geteuid();
}

int64_t spill__getpid(void)
{
    return (int64_t)getpid();
}

void spill__hostname(char *buf, size_t size)
{
    if (gethostname(buf, size) < 0 || !buf[0])
        snprintf(buf, size, "unknown");
    buf[size - 1] = '\0';
}

unsigned spill__ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > 1024 ? 1024u : (unsigned)n;
}

int spill__out_of_descriptors(int os_error)
{
    return os_error == EMFILE || os_error == ENFILE;
}

void spill__once(void (*fn)(void))
{
    /* one slot per distinct function; the library has only a few. Once a function has run, its
     * slot is found without the mutex (rule 14: initialisation holds no lock once done); the
     * mutex is the library's first (process.h), so the fork handler waits for a first run */
    static void (*done[16])(void);
    static int ndone;
    int i, n = __atomic_load_n(&ndone, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (__atomic_load_n(&done[i], __ATOMIC_RELAXED) == fn)
            return;
    spill__mutex_lock(SPILL__MU_ONCE);
    n = ndone;
    for (i = 0; i < n && done[i] != fn; i++)
        ;
    if (i == n && n < 16) {
        fn();
        __atomic_store_n(&done[n], fn, __ATOMIC_RELAXED);
        __atomic_store_n(&ndone, n + 1, __ATOMIC_RELEASE);
    }
    spill__mutex_unlock(SPILL__MU_ONCE);
}

void spill__close_inherited(spill__fd fd)
{
    if (fd != SPILL__NOFD)
        close((int)fd); /* no lock call and no table: see process.h */
}
