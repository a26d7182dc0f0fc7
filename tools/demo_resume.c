/* demo_resume.c: `spill demo --resume`: an upload that asked to be resumable is killed hard,
 * its orphan survives a reap, and a restarted job adopts it: the chunks already on disk are
 * checked against their addresses (verify) and not written again (the same files, untouched),
 * only the missing ones are. --zero-chunk zero-fills the orphan's first chunk before the
 * resume, as a power loss may leave a chunk that was never synced: verify rejects it, and the
 * resumed job puts it again. */
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "cli.h"

#define JOB "backup-job"
#define CHUNKS "60"
#define CHUNK_SIZE "131072"
#define CHUNK_BYTES 131072

/* Starts `spill hold` with extra arguments and reads the spill's path from its stdout. */
static const char *start_hold(apr_pool_t *pool, const char *root, const char *const extra[4],
                              apr_proc_t *proc)
{
    const char *argv[] = {spill__cli_self, "hold", "--root", root, "--chunks", CHUNKS,
                          "--chunk-size", CHUNK_SIZE, "--tag", JOB, extra[0], extra[1],
                          extra[2], extra[3], NULL};
    apr_procattr_t *attr;
    char line[8192];
    size_t len;
    if (apr_procattr_create(&attr, pool) != APR_SUCCESS ||
        apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK, APR_NO_PIPE) != APR_SUCCESS ||
        apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH) != APR_SUCCESS ||
        apr_proc_create(proc, spill__cli_self, argv, NULL, attr, pool) != APR_SUCCESS)
        return NULL;
    if (apr_file_gets(line, sizeof line, proc->out) != APR_SUCCESS)
        return NULL;
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    /* the line shows the root cleaned; the name, which the library makes, is as it is */
    return apr_pstrcat(pool, root, "/", spill__cli_base_name(line), NULL);
}

static void end_hold(apr_proc_t *proc, int hard)
{
    int code;
    apr_exit_why_e why;
    if (hard)
        spill__cli_kill_child(proc);
    else
        spill__cli_stop_child(proc);
    apr_proc_wait(proc, &code, &why, APR_WAIT);
    apr_file_close(proc->out);
}

/* The chunk files of a spill directory: name -> "inode mtime size". *others gets the count of
 * its other regular files (.lock, .journal: ls's FILES counts them too), if not NULL. */
static apr_hash_t *chunk_files(apr_pool_t *pool, const char *dir, unsigned *others)
{
    apr_hash_t *h = apr_hash_make(pool);
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    if (others)
        *others = 0;
    if (apr_dir_open(&d, dir, pool) != APR_SUCCESS)
        return h;
    /* APR_INCOMPLETE: a listing that cannot give every field asked for (Windows has no
     * inode in a directory listing); what it gave is still an entry */
    while ((rv = apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_INODE |
                                       APR_FINFO_MTIME | APR_FINFO_SIZE,
                              d)) == APR_SUCCESS ||
           rv == APR_INCOMPLETE) {
        if (fi.filetype != APR_REG)
            continue;
        if (fi.name[0] == '.') { /* the spill's own files, not chunks (docs/on-disk.md) */
            if (others)
                ++*others;
            continue;
        }
        apr_hash_set(h, apr_pstrdup(pool, fi.name), APR_HASH_KEY_STRING,
                     apr_psprintf(pool, "%lu %" APR_TIME_T_FMT " %" APR_OFF_T_FMT,
                                  (fi.valid & APR_FINFO_INODE) ? (unsigned long)fi.inode : 0UL,
                                  fi.mtime, fi.size));
    }
    apr_dir_close(d);
    return h;
}

/* How many of `before` are still there untouched in `after`. */
static int untouched(apr_pool_t *pool, apr_hash_t *before, apr_hash_t *after)
{
    apr_hash_index_t *i;
    int n = 0;
    for (i = apr_hash_first(pool, before); i; i = apr_hash_next(i)) {
        const void *k;
        void *v;
        const char *now;
        apr_hash_this(i, &k, NULL, &v);
        now = apr_hash_get(after, k, APR_HASH_KEY_STRING);
        n += now && strcmp(now, v) == 0;
    }
    return n;
}

/* The killed job's first chunk: the one surely whole and journaled, since the holder prints
 * its path only once that chunk is on disk. Its address and file name, as `spill hold` makes
 * them (chunk.c). */
static const char *first_chunk(apr_pool_t *pool, const char *dir, uint8_t addr[SPILL_ADDR_LEN])
{
    unsigned char *buf = apr_palloc(pool, CHUNK_BYTES);
    char name[2 * SPILL_ADDR_LEN + 1];
    uint64_t seed;
    spill__cli_job_seed(JOB, &seed); /* a tag: never fails */
    spill__cli_chunk_fill(buf, CHUNK_BYTES, seed, 0);
    spill__cli_chunk_addr(buf, CHUNK_BYTES, addr);
    return apr_pstrcat(pool, dir, "/", spill__cli_chunk_name(addr, name), NULL);
}

/* Overwrites the file with as many zero bytes as it holds: the length stays right. */
static int zero_fill(apr_pool_t *pool, const char *file)
{
    void *zeros = calloc(1, CHUNK_BYTES);
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv = APR_ENOMEM;
    if (zeros && (rv = apr_stat(&fi, file, APR_FINFO_SIZE, pool)) == APR_SUCCESS &&
        (rv = fi.size == CHUNK_BYTES ? APR_SUCCESS : APR_EGENERAL) == APR_SUCCESS &&
        (rv = apr_file_open(&f, file, APR_FOPEN_WRITE | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT,
                            pool)) == APR_SUCCESS) {
        rv = apr_file_write_full(f, zeros, CHUNK_BYTES, NULL);
        if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS)
            rv = APR_EGENERAL;
    }
    free(zeros);
    if (rv != APR_SUCCESS) {
        char msg[256];
        spill__cli_line(stderr, "spill demo: %s: cannot zero-fill it: %s", file,
                        apr_strerror(rv, msg, sizeof msg));
        return -1;
    }
    return 0;
}

/* 1 if file holds a whole chunk whose bytes hash to addr again. */
static int holds_chunk(apr_pool_t *pool, const char *file, const uint8_t addr[SPILL_ADDR_LEN])
{
    unsigned char *buf = apr_palloc(pool, CHUNK_BYTES + 1);
    uint8_t now[SPILL_ADDR_LEN];
    apr_size_t n = 0;
    apr_file_t *f;
    if (apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT,
                      pool) != APR_SUCCESS)
        return 0;
    apr_file_read_full(f, buf, CHUNK_BYTES + 1, &n); /* one byte more: a longer file shows */
    apr_file_close(f);
    if (n != CHUNK_BYTES)
        return 0;
    spill__cli_chunk_addr(buf, n, now);
    return memcmp(now, addr, SPILL_ADDR_LEN) == 0;
}

static void heading(const char *cmd, const char *root)
{
    printf("\n");
    spill__cli_line(stdout, "$ spill %s --root %s", cmd, root);
    fflush(stdout);
}

int spill__cli_demo_resume(apr_pool_t *pool, const char *root, int zero_chunk)
{
    static const char *const first[4] = {"--keep", "600", "--pace-ms", "15"};
    static const char *const again[4] = {"--adopt", NULL, NULL, NULL};
    spill__cli_reap_args a;
    spill_reap_stats st;
    apr_proc_t p;
    apr_hash_t *before;
    uint8_t addr0[SPILL_ADDR_LEN];
    const char *path, *path2, *zeroed = NULL;
    int kept, redone = 0, ok;
    unsigned others, n;
    printf("Starting the upload %s (`spill hold --tag %s --keep 600`, %s chunks of 128 KiB,\n"
           "one every 15 ms): should it die, its orphan stays resumable for 600 seconds. "
           "Each chunk's\n"
           "address is a hash of its bytes, as a content-addressed client's is.\n",
           JOB, JOB, CHUNKS);
    if (!(path = start_hold(pool, root, first, &p)))
        return -1;
    apr_sleep(apr_time_from_msec(400)); /* for the show only: let it spill some chunks */
    end_hold(&p, 1);
    if (zero_chunk) {
        zeroed = first_chunk(pool, path, addr0);
        if (zero_fill(pool, zeroed) != 0)
            return -1;
    }
    before = chunk_files(pool, path, &others);
    n = apr_hash_count(before);
    printf("Killed it hard (SIGKILL) with %u chunk files on disk (ls's FILES says %u: it counts\n"
           "the spill's .lock, .journal and its reservation's .spill-lease too).\n",
           n, n + others);
    if (zeroed) /* the name is the hex of an address made here, not read from the disk */
        printf("Zero-filled its first chunk (the file %.16s...) in place, as --zero-chunk asks:\n"
               "the right length, the wrong bytes, as a power loss can leave a chunk never "
               "synced.\n",
               spill__cli_base_name(zeroed));
    memset(&a, 0, sizeof a);
    a.root = root;
    spill_opts_init(&a.opts);
    a.opts.grace_seconds = 0;
    heading("ls", root);
    spill__cli_ls_run(pool, root, 0);
    heading("reap --grace 0", root);
    if (spill__cli_reap_run(pool, &a, &st) != SPILL_CLI_OK || st.resumable != 1)
        return -1;
    printf("\nThe orphan is resumable: reaps keep it (`spill reap --resumable` would not).\n"
           "The restarted job adopts it: `spill hold --tag %s --adopt`. spill_adopt reads back\n"
           "each chunk the journal proves and asks the job's verify whether it hashes to its\n"
           "address before keeping it; what verify rejects is removed, and the job puts it "
           "again.\n\n",
           JOB);
    fflush(stdout);
    if (!(path2 = start_hold(pool, root, again, &p)))
        return -1;
    /* the holder prints its path once the first chunk it lacked is on disk: the zero-filled
     * one, which comes first, is written again by now if verify rejected it */
    kept = untouched(pool, before, chunk_files(pool, path2, NULL));
    if (zeroed)
        redone = holds_chunk(pool, zeroed, addr0);
    heading("ls", root);
    spill__cli_ls_run(pool, root, 0);
    end_hold(&p, 0);
    printf("\nVerdict: the same directory (%s), %d of %u chunk files adopted untouched (the same\n"
           "files, not rewritten; a chunk the kill cut short is removed and written again).\n",
           strcmp(path, path2) == 0 ? "yes" : "NO", kept, n);
    ok = strcmp(path, path2) == 0 && kept > 0;
    if (zeroed) {
        printf("%s",
               redone ? "The zero-filled chunk was rejected by verify and written again (its "
                        "bytes hash\n"
                        "to its address now); the rest resumed.\n"
                      : "The zero-filled chunk is STILL ZEROS: adopted as it was, verify did not\n"
                        "reject it.\n");
        /* it is not untouched; besides it, at most the chunk a kill cut short is not */
        ok = ok && redone && kept + 2 >= (int)n && kept < (int)n;
    } else {
        ok = ok && kept + 1 >= (int)n;
    }
    if (!ok) {
        printf("That is wrong: the resumed job must find the chunks of the killed one%s.\n",
               zeroed ? ", and put the zero-filled one again" : "");
        return -1;
    }
    return 0;
}
