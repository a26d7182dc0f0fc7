/* registry.c: the spill directories this process is creating or owns, keyed by (pid, dev, ino).
 * The reaper consults it before it opens anything: with fcntl locks, merely opening and closing
 * a live spill's .lock in its owner's process would drop the owner's lock. Entries carry the
 * process id, so a forked child never trusts what it inherited: it owns nothing.
 *
 * Rule 14: a plain mutex of the platform layer and malloc, nothing of APR's (whose global pool
 * and allocator have mutexes of their own that a fork could strand). The mutex is
 * SPILL__MU_REGISTRY, which the fork handler takes before a fork: a child never inherits it
 * locked. It is held only for a few memory operations, never across a call out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spill_int.h"

#define BUCKETS 64

typedef struct node {
    int64_t pid;
    uint64_t dev, ino;
    spill__fd fds[3]; /* the handle's descriptors the fork handler closes in a child */
    char tag[SPILL__TAG_MAX + 1]; /* its owner record's tag: this process's own spills are
                                     judged live without their .lock being read (rule 5) */
    struct node *next;
} node;

static node *buckets[BUCKETS];
static size_t count;

static node **bucket(uint64_t dev, uint64_t ino)
{
    return &buckets[(size_t)((ino * 0x9E3779B97F4A7C15ULL) ^ dev) % BUCKETS];
}

/* Under the mutex: the link that points at the entry, or at the end of its bucket. */
static node **find(int64_t pid, uint64_t dev, uint64_t ino)
{
    node **l = bucket(dev, ino);
    while (*l && ((*l)->pid != pid || (*l)->dev != dev || (*l)->ino != ino))
        l = &(*l)->next;
    return l;
}

int spill__registry_add(uint64_t dev, uint64_t ino)
{
    node *n = calloc(1, sizeof *n);
    if (!n)
        return spill__error(SPILL_ENOMEM, "registry", "", "out of memory");
    n->pid = spill__getpid();
    n->dev = dev;
    n->ino = ino;
    n->fds[0] = n->fds[1] = n->fds[2] = SPILL__NOFD;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    n->next = *bucket(dev, ino);
    *bucket(dev, ino) = n;
    count++;
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    return SPILL_OK;
}

void spill__registry_fds(uint64_t dev, uint64_t ino, spill__fd root_fd, spill__fd dir_fd,
                         spill__fd lock_fd, const char *tag)
{
    int64_t pid = spill__getpid();
    node *n;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    if ((n = *find(pid, dev, ino)) != NULL) {
        n->fds[0] = root_fd;
        n->fds[1] = dir_fd;
        n->fds[2] = lock_fd;
        snprintf(n->tag, sizeof n->tag, "%s", tag ? tag : "");
    }
    spill__mutex_unlock(SPILL__MU_REGISTRY);
}

uint64_t spill__registry_mark(void)
{
    uint64_t m;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    m = spill__fork_count();
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    return m;
}

/* A fork whose handler ran before the mark was over before the descriptor was opened; one
 * whose handler runs after this store finds the descriptor here and closes the child's copy;
 * any other counts between the two. */
int spill__registry_hold(uint64_t dev, uint64_t ino, int slot, spill__fd fd, uint64_t mark)
{
    int64_t pid = spill__getpid();
    node *n;
    int forked;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    if ((n = *find(pid, dev, ino)) != NULL)
        n->fds[slot] = fd;
    forked = spill__fork_count() != mark;
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    if (forked)
        return spill__error(SPILL_EBUSY, "fork", "",
                            "another thread forked while the spill's lock was being taken");
    return SPILL_OK;
}

void spill__registry_remove(uint64_t dev, uint64_t ino)
{
    int64_t pid = spill__getpid();
    node **l, *n = NULL;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    l = find(pid, dev, ino);
    if ((n = *l) != NULL) {
        *l = n->next;
        count--;
    }
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    free(n);
}

int spill__registry_has(uint64_t dev, uint64_t ino)
{
    int has = 0;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    /* a process that owns no spill (a reaper) skips the getpid() system call per entry */
    if (count)
        has = *find(spill__getpid(), dev, ino) != NULL;
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    return has;
}

int spill__registry_has_tag(uint64_t dev, uint64_t ino, const char *tag)
{
    node *n;
    int has = 0;
    spill__mutex_lock(SPILL__MU_REGISTRY);
    if (count && (n = *find(spill__getpid(), dev, ino)) != NULL)
        has = strcmp(n->tag, tag) == 0;
    spill__mutex_unlock(SPILL__MU_REGISTRY);
    return has;
}

/* In a forked child, from the fork handler (registered by spill__init), with the registry's
 * mutex held by this (the only) thread: every entry is the parent's. Its descriptors are closed
 * without unlocking (the parent's lock stays the parent's; a lock goes only with the last
 * descriptor of its open file description, so the child's copy must not outlive the
 * parent's), and it is forgotten. */
void spill__registry_fork_child(void)
{
    size_t b;
    int i;
    for (b = 0; b < BUCKETS; b++) {
        while (buckets[b]) {
            node *n = buckets[b];
            buckets[b] = n->next;
            for (i = 0; i < 3; i++)
                spill__close_inherited(n->fds[i]);
            free(n);
        }
    }
    count = 0;
    spill__background_fork_child();
}
