/* mounts.c (POSIX): rule 2 where a stat by name cannot be told not to wait (no statx: macOS, the
 * BSDs, a Linux without statx). There, lstat of a dead NFS or FUSE mount point asks the server
 * and waits for ever. So each reap first lists the mount points under its root from what the
 * kernel keeps without asking any filesystem (Linux /proc/self/mountinfo; macOS and the BSDs
 * getmntinfo(MNT_NOWAIT)) and keeps each as its parent directory's identity and its name; a
 * stat by name of such a name (spill__posix_mount_point) answers "a mount point" from that
 * table, before anything stats it.
 *
 * The table is process-wide: a list of one snapshot per running reap, each freed by its reap's
 * end; a name is a mount point if any snapshot says so. SPILL__MU_MOUNTS guards it, a leaf
 * mutex held for list operations only (rule 14: the fork handler takes it, so a child never
 * inherits it locked). What still waits: the root itself on a dead mount (realpath and every
 * open of it), and a mount made under the root after the reap's snapshot. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__DragonFly__)
#include <sys/param.h>
#if defined(__FreeBSD__) || defined(__DragonFly__)
#include <sys/ucred.h>
#endif
#include <sys/mount.h>
#define SPILL_GETMNTINFO 1
#elif defined(__NetBSD__)
#include <sys/statvfs.h>
#define SPILL_GETMNTINFO 1
#endif

#include "posix.h"

typedef struct point {
    uint64_t dev, ino; /* the directory the mount point is a name in */
    char *path;        /* the mount point's path; once resolved, its parent's */
    const char *name;  /* once resolved: its last name, inside path's buffer */
} point;

struct spill__mounts {
    point *points;
    size_t n, cap;
    struct spill__mounts *next;
};

static spill__mounts *active; /* under SPILL__MU_MOUNTS */

/* 1 if path is dir itself or below it */
static int within(const char *path, const char *dir, size_t len)
{
    return strncmp(path, dir, len) == 0 &&
           (path[len] == '/' || path[len] == '\0' || (len == 1 && dir[0] == '/'));
}

/* One mount point from the OS's list, kept if strictly below the root. */
static void collect(spill__mounts *m, const char *root, const char *path)
{
    size_t len = strlen(root);
    point *grown;
    if (!within(path, root, len) || strlen(path) <= len + (len > 1))
        return;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        if (!(grown = realloc(m->points, cap * sizeof *grown)))
            return;
        m->points = grown;
        m->cap = cap;
    }
    if ((m->points[m->n].path = strdup(path)) != NULL)
        m->n++;
}

/* 1 if the parent of mount point i is another listed mount point or inside one */
static int nested(const spill__mounts *m, size_t i)
{
    const char *p = m->points[i].path;
    size_t j, plen = (size_t)(strrchr(p, '/') - p);
    for (j = 0; j < m->n; j++) {
        const char *q = m->points[j].path;
        size_t qlen = strlen(q);
        if (j != i && qlen <= plen && strncmp(p, q, qlen) == 0 && (p[qlen] == '/' || qlen == 1))
            return 1;
    }
    return 0;
}

/* Identifies each mount point by its parent directory, which is stat'ed. Only parents outside
 * every other mount point listed are: those lie on the root's own filesystem, so the stat
 * cannot wait. A mount point whose parent is inside (or is) another one is dropped: the walker
 * stops at the outer one, so never meets it, and its parent could be on a dead filesystem. */
static void resolve(spill__mounts *m)
{
    size_t i, kept = 0;
    char *drop = calloc(m->n ? m->n : 1, 1);
    if (!drop)
        m->n = 0; /* nothing known: the plain stat, as without a snapshot */
    for (i = 0; drop && i < m->n; i++)
        drop[i] = (char)nested(m, i);
    for (i = 0; drop && i < m->n; i++) {
        char *p = m->points[i].path, *slash = strrchr(p, '/');
        struct stat st;
        *slash = '\0';
        if (drop[i] || lstat(*p ? p : "/", &st) != 0) {
            free(p);
            continue;
        }
        m->points[kept].dev = (uint64_t)st.st_dev;
        m->points[kept].ino = (uint64_t)st.st_ino;
        m->points[kept].path = p;
        m->points[kept].name = slash + 1;
        kept++;
    }
    free(drop);
    m->n = kept;
}

#if defined(SPILL_GETMNTINFO)
/* getmntinfo with MNT_NOWAIT: the kernel's list, no filesystem asked (MNT_WAIT would stat each
 * one and wait on a dead one). The buffer is the C library's, overwritten by the next call. */
static int list_mounts(spill__mounts *m, const char *root)
{
#if defined(__NetBSD__)
    struct statvfs *mnts;
#else
    struct statfs *mnts;
#endif
    int i, n = getmntinfo(&mnts, MNT_NOWAIT);
    if (n <= 0)
        return -1;
    for (i = 0; i < n; i++)
        collect(m, root, mnts[i].f_mntonname);
    return 0;
}
#elif defined(__linux__)
/* /proc/self/mountinfo's fifth field, with the kernel's octal escapes (\040 for a space, \011,
 * \012, \134) undone. Reading it asks no filesystem. */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++, o++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else
            *o = *s;
    }
    *o = '\0';
}

static int list_mounts(spill__mounts *m, const char *root)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[3 * PATH_MAX], path[PATH_MAX * 4 + 1];
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%*s %*s %*s %*s %4096s", path) == 1) {
            unescape(path);
            collect(m, root, path);
        }
    fclose(f);
    return 0;
}
#else
static int list_mounts(spill__mounts *m, const char *root)
{
    (void)m;
    (void)root;
    return -1; /* no list known here: the plain stat */
}
#endif

/* With statx, AT_STATX_DONT_SYNC does rule 2's work (stat.c): no snapshot, unless the running
 * kernel has no statx (before 4.11, or a seccomp filter), where stat.c falls back to fstatat.
 * Without statx (not Linux), spill__posix_have_statx() is 0: always a snapshot. */
static int needed(void)
{
    return spill__posix_knobs.no_statx || !spill__posix_have_statx();
}

void spill__mounts_free(spill__mounts *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->n; i++)
        free(m->points[i].path);
    free(m->points);
    free(m);
}

spill__mounts *spill__mounts_begin(const char *root)
{
    char real[PATH_MAX];
    spill__mounts *m;
    if (!needed() || !realpath(root, real) || !(m = calloc(1, sizeof *m)))
        return NULL;
    if (list_mounts(m, real) != 0 || (resolve(m), m->n == 0)) {
        spill__mounts_free(m); /* no mount point under the root: nothing to look up */
        return NULL;
    }
    spill__mutex_lock(SPILL__MU_MOUNTS);
    m->next = active;
    __atomic_store_n(&active, m, __ATOMIC_RELEASE);
    spill__mutex_unlock(SPILL__MU_MOUNTS);
    return m;
}

void spill__mounts_end(spill__mounts *m)
{
    spill__mounts **l;
    if (!m)
        return;
    spill__mutex_lock(SPILL__MU_MOUNTS);
    for (l = &active; *l && *l != m; l = &(*l)->next)
        ;
    if (*l && l == &active)
        __atomic_store_n(&active, m->next, __ATOMIC_RELEASE); /* read unlocked: see below */
    else if (*l)
        *l = m->next;
    spill__mutex_unlock(SPILL__MU_MOUNTS);
    spill__mounts_free(m);
}

/* In a forked child (the fork handler, every mutex held): the parent's reaps do not go on
 * here, and their snapshots are theirs to free; the child forgets them. */
void spill__mounts_fork_child(void)
{
    __atomic_store_n(&active, NULL, __ATOMIC_RELAXED);
}

int spill__posix_mount_point(int dirfd, const char *name)
{
    struct stat st;
    spill__mounts *m;
    size_t i;
    int hit = 0;
    if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE)) /* the common case: no mount anywhere */
        return 0;
    if (fstat(dirfd, &st) != 0) /* the directory's own descriptor: on its side of any mount */
        return 0;
    spill__mutex_lock(SPILL__MU_MOUNTS);
    for (m = active; m && !hit; m = m->next)
        for (i = 0; i < m->n && !hit; i++)
            hit = m->points[i].ino == (uint64_t)st.st_ino &&
                  m->points[i].dev == (uint64_t)st.st_dev && strcmp(m->points[i].name, name) == 0;
    spill__mutex_unlock(SPILL__MU_MOUNTS);
    return hit;
}
