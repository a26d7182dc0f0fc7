/* fork.c (POSIX): the library's process-wide mutexes and the one pthread_atfork handler that
 * takes them all, in the order of enum spill__mutex_id, so that a child forked while another
 * thread was inside the library inherits none of them locked (rule 14, docs/design.md). */
#include <pthread.h>
#include <time.h>

#include "posix.h"

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

#ifdef SPILL_TEST_HOOKS
int spill__mutex_linger_us;

/* Holds the mutex a while longer before letting it go, so that a fork from another thread
 * lands inside a critical section far more often than it would (a few memory operations):
 * what proves prepare() above is needed (tests/test_forkstorm.c). */
static void linger(void)
{
    int64_t until;
    if (!spill__mutex_linger_us)
        return;
    until = spill__monotonic_us() + spill__mutex_linger_us;
    while (spill__monotonic_us() < until)
        ;
}
#endif

void spill__mutex_unlock(int id)
{
#ifdef SPILL_TEST_HOOKS
    linger();
#endif
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
