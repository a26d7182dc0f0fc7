/* process.h: the platform's second concern, beside platform.h's file operations: the process
 * (its id, host name, processors), the clock, one-time initialisation, the library's mutexes and
 * their fork handler, and the reaper's mount snapshots. Implemented in platform/<os>/process.c
 * (mounts: platform/posix/mounts.c). */
#ifndef SPILL_PROCESS_H
#define SPILL_PROCESS_H

#include "platform.h"

#if defined(_MSC_VER) /* the core's per-thread last error */
#define SPILL__THREAD_LOCAL __declspec(thread)
#else
#define SPILL__THREAD_LOCAL __thread
#endif

/* This process's id and the host's name (escaped by the core). */
int64_t spill__getpid(void);
/* The effective user id, for names a user keeps of its own in a shared root (Windows: 0). */
uint64_t spill__user_id(void);
void spill__hostname(char *buf, size_t size);

/* The number of processors this process may run on now, at least 1: how many workers
 * opts.threads = 0 asks the reaper for. POSIX: sysconf(_SC_NPROCESSORS_ONLN); Windows:
 * GetActiveProcessorCount(ALL_PROCESSOR_GROUPS) (more than 64 cores span processor groups). */
unsigned spill__ncpu(void);

/* 1 if os_error (spill_error_last()->os_error) says the process or system is out of
 * descriptors (POSIX EMFILE, ENFILE): the reaper's workers then share fewer. Windows: never. */
int spill__out_of_descriptors(int os_error);

/* Runs fn exactly once in the process, thread-safely; once fn has run, a call takes no lock
 * (rule 14: initialisation holds no lock after it is done). */
void spill__once(void (*fn)(void));

/* A monotonic clock in microseconds, for rule 10's budget: never the wall clock, which steps
 * (at boot, just when crash loops restart). POSIX CLOCK_MONOTONIC; Windows
 * QueryPerformanceCounter. */
int64_t spill__monotonic_us(void);

/* The library's process-wide mutexes (rule 14), in the one order every thread takes them and in
 * which the fork handler (platform/posix/process.c) takes them all before a fork: a thread
 * holding one never takes one listed before it. None is held across a call out of the library,
 * so the handler never waits long, and the child inherits every one unlocked. Per-handle and
 * per-reap locks are not here: only threads of one call use them, and none of those threads
 * goes on in a child (the library never forks). */
enum spill__mutex_id {
    SPILL__MU_ONCE = 0,  /* spill__once's first runs */
    SPILL__MU_RESERVE,   /* src/reserve.c: one reservation decision at a time */
    SPILL__MU_REGISTRY,  /* src/registry.c */
    SPILL__MU_LOCKS,     /* the fcntl backend's table of held locks */
    SPILL__MU_BACKGROUND, /* src/background.c: the background reapers */
    SPILL__MU_MOUNTS,    /* platform/posix/mounts.c: the reaps' mount snapshots (a leaf) */
    SPILL__MU_COUNT
};
void spill__mutex_lock(int id);
void spill__mutex_unlock(int id);

/* The fork handler's child side runs fn first (registered by the core at its initialisation,
 * spill__init): in a forked child, before any other code, with every library mutex held. The
 * core's reset closes the child's copies of each handle's descriptors with
 * spill__close_inherited (never unlocking: LOCK_UN would release the parent's lock too) and
 * forgets them. The one way besides spill__error_set_os that the platform calls up. */
void spill__at_fork_child(void (*fn)(void));
/* Rule 2 where a stat by name can wait on a dead mount (no statx: macOS, the BSDs, a Linux
 * without it): one snapshot per reap of the mount points under its root, from the kernel's own
 * list (getmntinfo(MNT_NOWAIT), /proc/self/mountinfo), so that every stat by name knows a mount
 * point as one without asking it (platform/posix/mounts.c). NULL where nothing is needed (statx,
 * Windows) or no mount point lies under the root; spill__mounts_end(NULL) does nothing. */
typedef struct spill__mounts spill__mounts;
spill__mounts *spill__mounts_begin(const char *root);
void spill__mounts_end(spill__mounts *m);

/* The forks this process has begun so far (0 for ever on Windows). Exact when read holding any
 * library mutex: the fork handler counts with all of them held, before the fork. */
uint64_t spill__fork_count(void);
/* Closes a descriptor inherited through fork, touching no lock and no table. */
void spill__close_inherited(spill__fd fd);

#endif /* SPILL_PROCESS_H */
