/* demo_resume.c: `spill demo --resume`: an upload that asked to be resumable is killed hard,
 * its orphan survives a reap, and a restarted job adopts it: the chunks already on disk are
 * not written again (the same files, untouched), only the missing ones are. */
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "cli.h"

#define JOB "backup-job"
#define CHUNKS "60"

/* Starts `spill hold` with extra arguments and reads the spill's path from its stdout. */
static const char *start_hold(apr_pool_t *pool, const char *root, const char *const extra[4],
                              apr_proc_t *proc)
{
    const char *argv[] = {spill__cli_self, "hold", "--root", root, "--chunks", CHUNKS,
                          "--chunk-size", "131072", "--tag", JOB, extra[0], extra[1],
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

static void heading(const char *cmd, const char *root)
{
    printf("\n");
    spill__cli_line(stdout, "$ spill %s --root %s", cmd, root);
    fflush(stdout);
}

int spill__cli_demo_resume(apr_pool_t *pool, const char *root)
{
    static const char *const first[4] = {"--keep", "600", "--pace-ms", "15"};
    static const char *const again[4] = {"--adopt", NULL, NULL, NULL};
    spill__cli_reap_args a;
    spill_reap_stats st;
    apr_proc_t p;
    apr_hash_t *before;
    const char *path, *path2;
    int kept;
    unsigned others;
    printf("Starting the upload %s (`spill hold --tag %s --keep 600`, %s chunks of 128 KiB,\n"
           "one every 15 ms): should it die, its orphan stays resumable for 600 seconds.\n",
           JOB, JOB, CHUNKS);
    if (!(path = start_hold(pool, root, first, &p)))
        return -1;
    apr_sleep(apr_time_from_msec(400)); /* for the show only: let it spill some chunks */
    end_hold(&p, 1);
    before = chunk_files(pool, path, &others);
    printf("Killed it hard (SIGKILL) with %u chunk files on disk (ls's FILES says %u: it counts\n"
           "the spill's .lock and .journal too).\n",
           apr_hash_count(before), apr_hash_count(before) + others);
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
           "The restarted job adopts it: `spill hold --tag %s --adopt`.\n", JOB);
    fflush(stdout);
    if (!(path2 = start_hold(pool, root, again, &p)))
        return -1;
    kept = untouched(pool, before, chunk_files(pool, path2, NULL));
    heading("ls", root);
    spill__cli_ls_run(pool, root, 0);
    end_hold(&p, 0);
    printf("\nVerdict: the same directory (%s), %d of %u chunk files adopted untouched (the same\n"
           "files, not rewritten; a chunk the kill cut short is removed and written again).\n",
           strcmp(path, path2) == 0 ? "yes" : "NO", kept, apr_hash_count(before));
    if (strcmp(path, path2) != 0 || kept + 1 < (int)apr_hash_count(before) || kept == 0) {
        printf("That is wrong: the resumed job must find the chunks of the killed one.\n");
        return -1;
    }
    return 0;
}
