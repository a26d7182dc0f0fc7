/* tree.c: identical trees of orphans for every contender, built with plain system calls so that
 * building costs the same whoever removes the tree afterwards. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define OLD_SECS 1000000000 /* a name timestamp in 2001: old whatever the grace */

/* splitmix64: a bijection, so distinct f give distinct names */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void tree_file_name(unsigned f, char out[65])
{
    uint64_t a = mix(f);
    snprintf(out, 65, "%016llx%016llx%016llx%016llx", (unsigned long long)a,
             (unsigned long long)mix(a), (unsigned long long)mix(a + 1),
             (unsigned long long)mix(a + 2));
}

void tree_dir_name(unsigned d, char *out, size_t size)
{
    snprintf(out, size, "spill_%d_%u", OLD_SECS, d);
}

static int write_file(int dfd, const char *name, const char *buf, size_t len)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (len && write(fd, buf, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return close(fd);
}

static int build_dir(int rfd, unsigned d, unsigned files, const char *buf, size_t bytes,
                     const char *record)
{
    char name[64], fname[65];
    unsigned f;
    int dfd, rc = 0;
    tree_dir_name(d, name, sizeof name);
    if (mkdirat(rfd, name, 0700) < 0 || (dfd = openat(rfd, name, O_RDONLY | O_DIRECTORY)) < 0)
        return -1;
    for (f = 0; f < files && rc == 0; f++) {
        tree_file_name(f, fname);
        rc = write_file(dfd, fname, buf, bytes);
    }
    if (rc == 0)
        rc = write_file(dfd, ".lock", record, strlen(record));
    close(dfd);
    return rc;
}

int tree_build(const char *root, unsigned dirs, unsigned files, size_t bytes)
{
    char record[512], host[256] = "localhost";
    char *buf = malloc(bytes ? bytes : 1);
    unsigned d;
    int rfd, rc = 0;
    if (!buf) {
        fprintf(stderr, "spill_bench: cannot allocate a file of %lu KiB\n",
                (unsigned long)(bytes / 1024));
        return -1;
    }
    gethostname(host, sizeof host - 1);
    snprintf(record, sizeof record,
             "spill-owner 1 nonce=1 pid=999999 host=%s started=1 tag=bench\n", host);
    memset(buf, 'x', bytes ? bytes : 1);
    if (mkdir(root, 0700) < 0 || (rfd = open(root, O_RDONLY | O_DIRECTORY)) < 0) {
        fprintf(stderr, "spill_bench: cannot make %s: %s\n", root, strerror(errno));
        free(buf);
        return -1;
    }
    for (d = 0; d < dirs && rc == 0; d++)
        rc = build_dir(rfd, d, files, buf, bytes, record);
    if (rc != 0)
        fprintf(stderr, "spill_bench: cannot build %s: %s\n", root, strerror(errno));
    close(rfd);
    free(buf);
    return rc;
}

long tree_count(const char *root)
{
    DIR *d = opendir(root);
    struct dirent *e;
    long n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void tree_remove(const char *root)
{
    nftw(root, remove_one, 64, FTW_DEPTH | FTW_PHYS);
}

void tree_settle(const char *root)
{
#ifdef SPILL_BENCH_HAVE_SYNCFS
    int fd = open(root, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
#else
    (void)root;
    sync(); /* no syncfs (macOS, the BSDs): every filesystem */
#endif
}
