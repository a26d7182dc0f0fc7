/* cli.h: what the files of the `spill` program share: the commands, option parsing, errors,
 * human units, the JSON writer and stop signals. */
#ifndef SPILL_CLI_H
#define SPILL_CLI_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <apr_getopt.h>
#include <apr_pools.h>
#include <apr_thread_proc.h>

#include "spill.h"

/* Exit status, as the man page says: done; done with errors; usage. */
#define SPILL_CLI_OK 0
#define SPILL_CLI_ERRORS 1
#define SPILL_CLI_USAGE 2

/* The program's own path as it was started, to run `spill hold` children (demo). */
extern const char *spill__cli_self;

/* The commands: argv[0] is the command's name ("reap"); each returns an exit status. */
int spill__cli_reap(apr_pool_t *pool, int argc, const char *const *argv);
int spill__cli_ls(apr_pool_t *pool, int argc, const char *const *argv);
int spill__cli_hold(apr_pool_t *pool, int argc, const char *const *argv);
int spill__cli_demo(apr_pool_t *pool, int argc, const char *const *argv);
/* demo_resume.c: `spill demo --resume` on root; 0 if the resumed job found the killed one's
 * chunks. zero_chunk (--zero-chunk): the orphan's first chunk is zero-filled before the
 * resume, and must be rejected by verify and written again. */
int spill__cli_demo_resume(apr_pool_t *pool, const char *root, int zero_chunk);
/* demo_reserve.c: `spill demo --reserve` on root: three uploads each expecting 40% of the free
 * space; 0 if two started, the third was refused at once with the figures and none failed. */
int spill__cli_demo_reserve(apr_pool_t *pool, const char *root);

/* What `reap` and `ls` do once their options are parsed; demo calls them directly. */
typedef struct spill__cli_reap_args {
    const char *root;
    spill_opts opts;
    int dry_run, json;
    int as_owner; /* --as-owner */
    int missing_ok; /* --missing-ok */
    int progress; /* SPILL_CLI_PROGRESS_*: the progress line, and Ctrl-C stopping the reap */
} spill__cli_reap_args;
int spill__cli_reap_run(apr_pool_t *pool, const spill__cli_reap_args *a,
                        spill_reap_stats *stats);
int spill__cli_ls_run(apr_pool_t *pool, const char *root, int json);

/* as_owner.c: `--as-owner` of command cmd: as root, become the user and group owning root (a
 * missing root, or one root owns, changes nothing); refused (usage, exit 2) when not root.
 * allowed only says whether this process may ask. Both return an exit status. */
int spill__cli_as_owner_allowed(const char *cmd);
int spill__cli_as_owner(const char *cmd, const char *root);
/* What to add to a refusal message naming another user's root: as root, a pointer to
 * --as-owner; else "". */
const char *spill__cli_as_owner_hint(const char *cmd, const char *message);
/* prometheus.c: `ls --prometheus`: the root's state for Prometheus, on stdout or written
 * atomically to output (non-NULL); as_owner: judged as the root's owner (the file is still
 * written by this process); a missing root is a failed scan (spill_root_exists 0) unless
 * missing_ok. Returns an exit status. */
int spill__cli_prometheus(apr_pool_t *pool, const char *root, const char *output,
                          int as_owner, int missing_ok);

/* The usage text of one command ("reap") or of all (NULL). */
void spill__cli_usage(FILE *f, const char *cmd);

/* Option parsing over apr_getopt_long. init takes the command's argv (argv[0] its name) and
 * makes APR's messages read "spill reap: invalid option: --x". next returns 1 with an option,
 * 0 at the end (complaining about leftover arguments: then *bad is set), -1 on a bad option
 * (already reported). */
apr_getopt_t *spill__cli_getopt(apr_pool_t *pool, int argc, const char *const *argv);
int spill__cli_next(apr_getopt_t *os, const apr_getopt_option_t *opts, int *id,
                    const char **arg);
/* Reports a usage error "spill CMD: message" on one line; returns SPILL_CLI_USAGE. */
int spill__cli_usage_error(const char *cmd, const char *fmt, ...);
/* Parses a whole unsigned decimal number at most max; a usage error otherwise (returns 0). */
int spill__cli_number(const char *cmd, const char *opt, const char *arg, uint64_t max,
                      uint64_t *out);
/* ROOT: --root if given, else $SPILL_ROOT, else spill_default_root("spill"). NULL on failure
 * (reported). */
const char *spill__cli_root(apr_pool_t *pool, const char *cmd, const char *given);
/* What follows the last '/' or '\\' of path (all of it if neither). */
const char *spill__cli_base_name(const char *path);
/* Everything left on f, up to its end, from pool. */
const char *spill__cli_read_all(apr_pool_t *pool, apr_file_t *f);
/* Starts this program with argv (argv[0] is spill__cli_self), its stdout piped, and its stderr
 * too when err_piped (else shared with ours). 0, or -1 after saying why on stderr. */
int spill__cli_start_self(apr_pool_t *pool, const char *const *argv, int err_piped,
                          apr_proc_t *proc);
/* Reports the library's last failure as "spill CMD: PATH: reason"; returns SPILL_CLI_ERRORS. */
int spill__cli_fail(const char *cmd, const char *path);
/* A missing ROOT (ENOENT, ENOTDIR): reported as "spill CMD: ROOT does not exist", returns 1;
 * 0 if it is there, or if missing_ok (--missing-ok: a root made later is normal). */
int spill__cli_missing(apr_pool_t *pool, const char *cmd, const char *root, int missing_ok);
/* 1 if root does not exist (the check alone, nothing reported). */
int spill__cli_root_missing(apr_pool_t *pool, const char *root);
/* A spill_opts log callback printing errors and warnings to stderr ("spill CMD: msg"). */
void spill__cli_log(void *cmd, int level, const char *msg);

/* human.c: sizes and ages in human units, into buf. */
const char *spill__cli_size(char *buf, size_t size, uint64_t bytes);
const char *spill__cli_age(char *buf, size_t size, int64_t seconds);
const char *spill__cli_state(spill_state st);
/* spill__cli_clean(s) in a pool string, *width its width in characters (for ls's table). */
const char *spill__cli_printable(apr_pool_t *pool, const char *s, size_t *width);

/* sanitize.c: the one sanitiser for whatever came from the disk or a caller. clean copies s
 * into the pool with C0 controls, DEL and invalid UTF-8 escaped byte by byte (\xNN), C1
 * controls and bidirectional overrides and isolates as \u{XXXX}: valid UTF-8, one line.
 * line/vline format a message, print it so cleaned and end it with one newline. */
const char *spill__cli_clean(apr_pool_t *pool, const char *s);
void spill__cli_line(FILE *f, const char *fmt, ...);
void spill__cli_vline(FILE *f, const char *fmt, va_list ap);
/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid (RFC 3629). */
size_t spill__utf8_len(const char *s);
/* The code point of the valid sequence of n bytes at s. */
unsigned long spill__utf8_cp(const char *s, size_t n);
/* 1 for the code points that are escaped though valid: C1 controls, bidi overrides. */
int spill__cli_hostile(unsigned long cp);

/* chunk.c: `spill hold`'s chunks, content-addressed so that an adopter can check them. A job's
 * seed follows from its tag (FNV-1a), or is random without one (returns 0, or -1 if the OS
 * gave no random bytes); chunk i's bytes follow from the seed; its address is a hash of its
 * bytes (FNV-1a, spread to SPILL_ADDR_LEN bytes). */
int spill__cli_job_seed(const char *tag, uint64_t *seed);
void spill__cli_chunk_fill(unsigned char *buf, size_t len, uint64_t seed, uint64_t i);
void spill__cli_chunk_addr(const void *data, size_t len, uint8_t addr[SPILL_ADDR_LEN]);
/* spill_opts.verify for those chunks: 0 when the bytes hash to the address, 1 otherwise (the
 * adopter removes the chunk); ctx is a spill__cli_verified, whose counts it keeps. */
typedef struct spill__cli_verified {
    unsigned long checked, rejected;
} spill__cli_verified;
int spill__cli_chunk_verify(void *ctx, const uint8_t addr[SPILL_ADDR_LEN], const void *data,
                            size_t len);
/* A chunk's file name in its spill directory (docs/on-disk.md): its address in lowercase hex. */
const char *spill__cli_chunk_name(const uint8_t addr[SPILL_ADDR_LEN],
                                  char name[2 * SPILL_ADDR_LEN + 1]);

/* json.c: a small writer of compact JSON objects, correct for any bytes in a string. */
typedef struct spill__json {
    FILE *f;
    int n; /* members written so far */
} spill__json;
void spill__json_begin(spill__json *j, FILE *f);
void spill__json_u64(spill__json *j, const char *key, uint64_t v);
void spill__json_i64(spill__json *j, const char *key, int64_t v);
void spill__json_bool(spill__json *j, const char *key, int v);
/* NULL writes null */
void spill__json_str(spill__json *j, const char *key, const char *v);
void spill__json_end(spill__json *j);
/* Writes s as a JSON string: quotes, backslashes and control bytes escaped, invalid UTF-8
 * replaced by U+FFFD. */
void spill__json_string(FILE *f, const char *s);

/* signals.c: stop requests (SIGINT/SIGTERM; Ctrl-C/Ctrl-Break on Windows) and stopping
 * children. catch returns 0 on success. */
int spill__cli_catch_stop(void);
/* Waits up to ms milliseconds (forever if negative) for a stop request; 1 if one came. */
int spill__cli_wait_stop(long ms);
/* Asks a child to close gracefully (SIGTERM), or kills it hard (SIGKILL, TerminateProcess). */
int spill__cli_stop_child(apr_proc_t *p);
int spill__cli_kill_child(apr_proc_t *p);
/* Ctrl-C (SIGINT) only sets a flag that interrupted() reads: a reap stops at its next check. */
int spill__cli_catch_interrupt(void);
int spill__cli_interrupted(void);
int spill__cli_stderr_is_terminal(void);

/* progress.c: `spill reap`'s progress line on stderr (AUTO: when stderr is a terminal). */
#define SPILL_CLI_PROGRESS_NONE 0  /* demo: no callback at all */
#define SPILL_CLI_PROGRESS_QUIET 1 /* --quiet: no line; Ctrl-C still stops the reap cleanly */
#define SPILL_CLI_PROGRESS_AUTO 2
#define SPILL_CLI_PROGRESS_ON 3    /* --progress */
#define SPILL_CLI_INTERRUPTED 130 /* exit status after a reap stopped by Ctrl-C */
typedef struct spill__cli_progress {
    const char *root;
    int show, drawn;
    uint32_t drawn_ms; /* the elapsed_ms of the last line drawn */
} spill__cli_progress;
/* Sets o's progress callback; end draws the final counts and clears the line if one was shown
 * (st NULL: a reap that failed, only cleared). */
void spill__cli_progress_begin(spill__cli_progress *p, spill_opts *o, const char *root,
                               int mode); /* root as printed: spill__cli_clean's */
void spill__cli_progress_end(spill__cli_progress *p, const spill_reap_stats *st);

#endif /* SPILL_CLI_H */
