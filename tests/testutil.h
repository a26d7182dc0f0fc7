/* testutil.h: what the test files share: fresh roots, helper processes, tree snapshots. */
#ifndef SPILL_TESTUTIL_H
#define SPILL_TESTUTIL_H

#include <CUnit/CUnit.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "spill.h"
#include "spill_int.h"

#if defined(_WIN32) && !defined(SIGKILL)
#define SIGKILL 9 /* apr_proc_kill on Windows is TerminateProcess with this exit code */
#endif

/* A suite: a name and its tests, registered by main.c. */
typedef struct test_suite {
    const char *name;
    CU_TestInfo *tests;
} test_suite;

/* A helper mode of the test binary: `spill_tests --helper NAME args...`. */
typedef struct test_helper {
    const char *name;
    int (*run)(int argc, const char *const *argv);
} test_helper;

extern apr_pool_t *tu_pool;   /* a pool for the current test, cleared after each */
extern const char *tu_self;   /* the test binary's path, to spawn helpers */

/* A fresh, empty directory for one test (removed at the end of the run). */
const char *tu_fresh_dir(const char *what);
/* path joined with name, from tu_pool */
const char *tu_join(const char *dir, const char *name);
/* writes a file with the given bytes; returns 0 on success */
int tu_write_file(const char *path, const char *bytes);
/* reads a whole file (NUL-terminated) into tu_pool; NULL on failure */
char *tu_read_file(const char *path, size_t *len);
/* 1 if path exists (not following a final link) */
int tu_exists(const char *path);
/* number of entries in a directory, or -1; the library's bookkeeping is not counted: a budgeted
 * reap's rotating position (.spill-reap-at-<uid>), the reservation lock's directory
 * (.spill-reserve-<uid>) and a spill's lease file (.spill-lease) */
int tu_count_entries(const char *dir);
/* the same, of the names that start with prefix (NULL: every name, as tu_count_entries) */
int tu_count_named(const char *dir, const char *prefix);
/* Opens what spill_scan opens once per process (APR's and the library's first-use files), so
 * that a count of descriptors taken afterwards sees only a call's own. */
void tu_scan_once(const char *root);
#ifndef _WIN32
/* the descriptors this process has open, below 1024 */
int tu_open_fds(void);
/* Runs fn(arg, out, size) in a forked child (a process of its own: a mount namespace, resource
 * limits) and returns the line it wrote to out; the child must exit 0. */
const char *tu_child_line(void (*fn)(const char *arg, char *out, size_t size), const char *arg);
/* The host's own fcntl write lock on the whole of fd's file (as SQLite takes one), and whether
 * another process sees path write-locked by this one (rule 7's traps drop it on any close). */
int tu_fcntl_lock(int fd);
int tu_locked_by_us(const char *path);
/* 1 under valgrind's memcheck (its preload library is in LD_PRELOAD) */
int tu_under_valgrind(void);
#endif
/* removes a tree made by a test (never following links) */
void tu_remove_tree(const char *path);
/* a deterministic address from a seed */
void tu_addr(uint8_t addr[SPILL_ADDR_LEN], unsigned seed);

/* A snapshot of a tree (names, types, sizes, contents, link targets) to compare later. */
const char *tu_snapshot(const char *dir);

/* A helper process with a pipe from its stdout and to its stdin. */
typedef struct tu_proc {
    apr_proc_t proc;
    apr_file_t *out;  /* the helper's stdout */
    apr_file_t *in;   /* the helper's stdin */
} tu_proc;
/* Starts `self --helper name args...`; args NULL-terminated. Returns 0 on success. */
int tu_spawn(tu_proc *p, const char *name, const char *const *args);
/* Reads one line from the helper's stdout (blocking); NULL at EOF. */
const char *tu_read_line(tu_proc *p);
/* Kills the helper hard (SIGKILL / TerminateProcess) and waits for it. */
void tu_kill(tu_proc *p);
/* Closes its stdin and waits; returns its exit code (or -signal). */
int tu_wait(tu_proc *p);
/* After its owner was killed and waited for, waits (bounded, 10 s) until the lock of the
 * spill directory dir can be taken. At once on POSIX and under Wine; on Windows
 * TerminateProcess returns, and the process object is signalled, before every handle of the
 * dead process is closed and its locks are released. Returns 1 once it could be taken. */
int tu_wait_unlocked(const char *dir);

/* 1 when running under Wine (its ntdll exports wine_get_version), whose file semantics differ
 * from Windows' (WINDOWS-NOTES.md); 0 elsewhere. */
int tu_is_wine(void);
/* the factor (>= 1) by which an emulator slows the suites (SPILL_TEST_SLOW): deadlines that
 * are about speed, not correctness, are multiplied by it */
int tu_slow(void);
/* the emulator the suites run under (SPILL_TEST_EMULATED, e.g. "qemu-user"), or NULL */
const char *tu_emulated(void);

/* The last component of a path (after the last '/' or, on Windows, '\'). */
const char *tu_base_name(const char *path);
/* 1 if path starts with the directory dir (on Windows '/' and '\' are the same, and case is
 * ignored). */
int tu_has_prefix(const char *path, const char *dir);

/* Makes root/spill_<secs>_<rnd> by hand with `files` chunk files of 10 bytes and, unless
 * lock_content is NULL, a .lock holding it (nobody holds its lock). Returns its path. */
const char *tu_make_spill_dir(const char *root, uint64_t secs, uint64_t rnd, int files,
                              const char *lock_content);
/* Where rule 6 left the spill directory `was` under root when its removal stopped midway:
 * asserts it is no longer at `was` and returns the one trash directory (.spill-del_*) under
 * root; on Windows, which renames nothing, `was` itself. */
const char *tu_left_as_trash(const char *root, const char *was);
/* The path of the one trash directory (.spill-del_*) under root, or NULL if there is none. */
const char *tu_trash(const char *root);

/* on 1: the operations table reports every root as a local filesystem, so that a test of
 * rule 5's ages means the same on FUSE or NFS (where rule 8 adds its hour); 0 restores it. */
void tu_pin_local(int on);

/* A valid version-1 owner record line naming this host. */
const char *tu_record(uint64_t nonce);
void tu_set_mtime(const char *path, int64_t unix_secs);
/* spill_reap with the given grace, asserting SPILL_OK; returns the stats. */
spill_reap_stats tu_reap(const char *root, uint32_t grace);

/* 1 if text is exactly one valid JSON value (RFC 8259, UTF-8), surrounded by whitespace. */
int tu_json_valid(const char *text);

/* Registers the suites named in argv[1..] (all when none) with CUnit; returns how many. */
int tu_register_suites(test_suite *const *suites, int argc, char **argv);

/* Removes every directory the run made. */
void tu_cleanup(void);

/* Runs a helper to completion and returns its first line of output (or ""). */
const char *tu_run_helper(const char *name, const char *const *args);

#define TU_SKIP(reason)                                                                    \
    do {                                                                                   \
        printf("\n  skipped %s: %s\n", __func__, reason);                                  \
        return;                                                                            \
    } while (0)

#endif
