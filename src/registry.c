/* registry.c: the spill directories this process is creating or owns, keyed by (pid, dev, ino).
 * The reaper consults it before it opens anything: with fcntl locks, merely opening and closing
 * a live spill's .lock in its owner's process would drop the owner's lock. Entries carry the
 * process id, so a forked child never trusts what it inherited: it owns nothing. */
#include <string.h>

#include <apr_hash.h>
#include <apr_thread_mutex.h>

#include "spill_int.h"

typedef struct key {
    int64_t pid;
    uint64_t dev, ino;
} key;

typedef struct node {
    key k;
    struct node *next_free;
} node;

static apr_thread_mutex_t *mutex;
static apr_hash_t *set;
static node *free_nodes;

static void registry_init(void)
{
    apr_pool_t *p = spill__global_pool();
    apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, p);
    set = apr_hash_make(p);
}

static void make_key(key *k, uint64_t dev, uint64_t ino)
{
    memset(k, 0, sizeof *k);
    k->pid = spill__getpid();
    k->dev = dev;
    k->ino = ino;
}

/* A process that forks while another of its threads holds this mutex leaves the child a locked
 * mutex; the library takes it only for a hash lookup or insert, never across a call out. */
static int with_lock(void)
{
    if (spill__init() != SPILL_OK)
        return 0;
    spill__once(registry_init);
    return mutex && set && apr_thread_mutex_lock(mutex) == APR_SUCCESS;
}

int spill__registry_add(uint64_t dev, uint64_t ino)
{
    node *n;
    if (!with_lock())
        return spill__error(SPILL_ENOMEM, "registry", "", "cannot set up the registry");
    if (free_nodes) {
        n = free_nodes;
        free_nodes = n->next_free;
    } else {
        n = apr_palloc(spill__global_pool(), sizeof *n);
    }
    make_key(&n->k, dev, ino);
    apr_hash_set(set, &n->k, sizeof n->k, n);
    apr_thread_mutex_unlock(mutex);
    return SPILL_OK;
}

void spill__registry_remove(uint64_t dev, uint64_t ino)
{
    key k;
    node *n;
    if (!with_lock())
        return;
    make_key(&k, dev, ino);
    n = apr_hash_get(set, &k, sizeof k);
    if (n) {
        apr_hash_set(set, &n->k, sizeof n->k, NULL);
        n->next_free = free_nodes;
        free_nodes = n;
    }
    apr_thread_mutex_unlock(mutex);
}

int spill__registry_has(uint64_t dev, uint64_t ino)
{
    key k;
    int has;
    if (!with_lock())
        return 0;
    /* a process that owns no spill (a reaper) skips the getpid() system call per entry */
    if (apr_hash_count(set) == 0) {
        apr_thread_mutex_unlock(mutex);
        return 0;
    }
    make_key(&k, dev, ino);
    has = apr_hash_get(set, &k, sizeof k) != NULL;
    apr_thread_mutex_unlock(mutex);
    return has;
}
