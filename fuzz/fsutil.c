/* fsutil.c: what the fuzz target needs of the filesystem besides the library under test:
 * snapshots, forced removal, descriptor counts, and the users that build and check. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define OTHER_UID 65533 /* "another user": owns nothing else here */

void fz_buf_add(fz_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        if (!(b->p = realloc(b->p, b->cap)))
            abort();
    }
}

const char *fz_buf_str(const fz_buf *b)
{
    return b->p ? b->p : "";
}

void fz_buf_free(fz_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory open as fd, sorted (readdir's order is no identity); NULL-ended. */
static char **names(int fd)
{
    int dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    struct dirent *de;
    char **v = NULL;
    size_t n = 0;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return NULL;
    }
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (!(v = realloc(v, (n + 2) * sizeof *v)) || !(v[n++] = strdup(de->d_name)))
            abort();
    }
    closedir(d);
    if (!v && !(v = malloc(sizeof *v)))
        abort();
    v[n] = NULL;
    qsort(v, n, sizeof *v, by_name);
    return v;
}

static void free_names(char **v)
{
    char **p;
    for (p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void snap_content(int dirfd, const char *name, fz_buf *out)
{
    uint64_t h = 1469598103934665603ULL;
    unsigned char buf[4096];
    ssize_t n, i;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        fz_buf_add(out, " unreadable(%d)", errno);
        return;
    }
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ULL;
    close(fd);
    fz_buf_add(out, " fnv=%016llx", (unsigned long long)h);
}

static void snap(int dirfd, const char *name, const char *rel, fz_buf *out)
{
    struct stat st;
    char target[4096], child[8192];
    char **v, **p;
    ssize_t n;
    int fd;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        fz_buf_add(out, "%s missing\n", rel);
        return;
    }
    /* no link count: removing another hard link to the same file changes it */
    fz_buf_add(out, "%s mode=%o uid=%u size=%lld", rel, (unsigned)st.st_mode, (unsigned)st.st_uid,
               S_ISDIR(st.st_mode) ? 0LL : (long long)st.st_size);
    if (S_ISREG(st.st_mode))
        snap_content(dirfd, name, out);
    if (S_ISLNK(st.st_mode) && (n = readlinkat(dirfd, name, target, sizeof target - 1)) >= 0) {
        target[n] = '\0';
        fz_buf_add(out, " -> %s", target);
    }
    fz_buf_add(out, "\n");
    if (!S_ISDIR(st.st_mode))
        return;
    if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        fz_buf_add(out, "%s/ unreadable(%d)\n", rel, errno);
        return;
    }
    v = names(fd);
    for (p = v; p && *p; p++) {
        snprintf(child, sizeof child, "%s/%s", rel, *p);
        snap(fd, *p, child, out);
    }
    free_names(v);
    close(fd);
}

void fz_snapshot(int dirfd, const char *name, fz_buf *out)
{
    snap(dirfd, name, name, out);
}

int fz_remove(int dirfd, const char *name)
{
    struct stat st;
    char **v, **p;
    int fd, rc = 0;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    fchmodat(dirfd, name, 0700, 0); /* a run that is not root must be able to enter it */
    if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return -1;
    v = names(fd);
    for (p = v; p && *p; p++)
        rc |= fz_remove(fd, *p);
    free_names(v);
    close(fd);
    return rc | unlinkat(dirfd, name, AT_REMOVEDIR);
}

int fz_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the listing's own */
}

static int switching;  /* started as root: builds and reaps as user_uid, checks as root */
static int privileged; /* the reaper runs as root (SPILL_FUZZ_UID=0) */
static int can_give;   /* may chown to another user */
static uid_t user_uid;

void fz_users_init(void)
{
    const char *env = getenv("SPILL_FUZZ_UID");
    if (geteuid() != 0)
        return;
    can_give = 1;
    user_uid = env && *env ? (uid_t)atoi(env) : 65534;
    if (user_uid == 0) {
        privileged = 1;
        return;
    }
    /* root's supplementary groups would grant what the modes deny */
    if (setgroups(0, NULL) < 0) {
        perror("setgroups");
        abort();
    }
    switching = 1;
}

void fz_as_user(void)
{
    if (switching && (setegid((gid_t)user_uid) < 0 || seteuid(user_uid) < 0)) {
        perror("seteuid");
        abort();
    }
}

void fz_as_checker(void)
{
    if (switching && (seteuid(0) < 0 || setegid(0) < 0)) {
        perror("seteuid");
        abort();
    }
}

int fz_reaper_privileged(void)
{
    return privileged;
}

int fz_make_ours(int dirfd, const char *name)
{
    if (!switching)
        return 1;
    return fchownat(dirfd, name, user_uid, (gid_t)user_uid, AT_SYMLINK_NOFOLLOW) == 0;
}

int fz_give_away(int dirfd, const char *name)
{
    int rc;
    if (!can_give)
        return 0;
    fz_as_checker();
    rc = fchownat(dirfd, name, OTHER_UID, OTHER_UID, AT_SYMLINK_NOFOLLOW);
    fz_as_user(); /* only ever called while building */
    return rc == 0;
}
