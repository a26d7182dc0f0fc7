/* test_cli.c: the `spill` program run as a person or a script runs it: a separate process
 * against prepared roots, judged by what it prints, its exit status and what is left on disk.
 * ctest passes the program's path in $SPILL_CLI. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "testutil.h"

#ifdef _WIN32
#include <windows.h>
#endif

typedef struct cli_result {
    int code; /* exit status, or -signal */
    const char *out, *err;
} cli_result;

static const char *program(void)
{
    const char *p = getenv("SPILL_CLI");
    if (!p || !*p)
        CU_FAIL_FATAL("SPILL_CLI is not set: run this suite through ctest");
    return p;
}

/* argv for the program: its path, then the arguments up to NULL. */
static const char **args_of(const char *first, va_list ap)
{
    const char **argv = apr_pcalloc(tu_pool, 40 * sizeof *argv);
    const char *a;
    int n = 0;
    argv[n++] = program();
    for (a = first; a && n < 39; a = va_arg(ap, const char *))
        argv[n++] = a;
    return argv;
}

static const char *read_all(apr_file_t *f)
{
    char *acc = apr_pstrdup(tu_pool, ""), buf[4096];
    apr_size_t n;
    for (;;) {
        n = sizeof buf - 1;
        if (apr_file_read(f, buf, &n) != APR_SUCCESS || n == 0)
            break;
        buf[n] = '\0';
        acc = apr_pstrcat(tu_pool, acc, buf, NULL);
    }
#ifdef _WIN32
    {
        /* a Windows program's stdout is in text mode: "\n" comes out as "\r\n" */
        char *from = acc, *to = acc;
        for (; *from; from++)
            if (*from != '\r' || from[1] != '\n')
                *to++ = *from;
        *to = '\0';
    }
#endif
    return acc;
}

/* Waits for a child at most 30 s. One that has not ended by then is killed hard, so that a
 * broken program never outlives the test; that counts as a failure (-1000). */
static int wait_bounded(apr_proc_t *p)
{
    int i, code;
    apr_exit_why_e why;
    for (i = 0; i < 3000; i++) {
        if (apr_proc_wait(p, &code, &why, APR_NOWAIT) == APR_CHILD_DONE)
            return why == APR_PROC_EXIT ? code : -code;
        apr_sleep(apr_time_from_msec(10)); /* a deadline, not a synchronisation */
    }
    apr_proc_kill(p, SIGKILL);
    apr_proc_wait(p, &code, &why, APR_WAIT);
    CU_FAIL("the program did not end within 30 s");
    return -1000;
}

/* Starts the program with pipes on stdin and stdout (stderr shared with the tests'). env NULL:
 * the tests' own environment. */
static void spawn(tu_proc *p, const char *const *env, const char **argv, int want_stderr)
{
    apr_procattr_t *attr;
    memset(p, 0, sizeof *p);
    CU_ASSERT_FATAL(apr_procattr_create(&attr, tu_pool) == APR_SUCCESS);
    CU_ASSERT_FATAL(apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_FULL_BLOCK,
                                        want_stderr ? APR_FULL_BLOCK : APR_NO_PIPE) ==
                    APR_SUCCESS);
    CU_ASSERT_FATAL(apr_procattr_cmdtype_set(attr, env ? APR_PROGRAM : APR_PROGRAM_ENV) ==
                    APR_SUCCESS);
    CU_ASSERT_FATAL(apr_proc_create(&p->proc, argv[0], argv, env, attr, tu_pool) ==
                    APR_SUCCESS);
    p->out = p->proc.out;
    p->in = p->proc.in;
    /* a program that hangs must fail the test, not hang it: reads give up after 30 s (where
     * the platform's APR can time out a pipe; wait_bounded bounds the rest) */
    apr_file_pipe_timeout_set(p->out, apr_time_from_sec(30));
    if (want_stderr)
        apr_file_pipe_timeout_set(p->proc.err, apr_time_from_sec(30));
}

/* Runs argv (argv[0] a path) to the end, collecting what it printed. */
static cli_result run_argv(const char *const *env, const char **argv)
{
    cli_result r;
    tu_proc p;
    spawn(&p, env, argv, 1);
    apr_file_close(p.in);
    r.out = read_all(p.out); /* the outputs are small: reading one then the other is safe */
    r.err = read_all(p.proc.err);
    r.code = wait_bounded(&p.proc);
    apr_file_close(p.out);
    apr_file_close(p.proc.err);
    return r;
}

/* Runs the program to the end: `run_env(env, "ls", "--root", root, NULL)`. */
static cli_result run_env(const char *const *env, const char *first, ...)
{
    va_list ap;
    const char **argv;
    va_start(ap, first);
    argv = args_of(first, ap);
    va_end(ap);
    return run_argv(env, argv);
}

#define run(...) run_env(NULL, __VA_ARGS__)

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* An owner record as a dead owner left it: pid and tag as given, this host. */
static const char *record(int64_t pid, const char *tag)
{
    char host[256], buf[SPILL__RECORD_MAX];
    spill__hostname(host, sizeof host);
    CU_ASSERT_FATAL(spill__record_format(buf, sizeof buf, 7, pid, host, 1, 0, tag) > 0);
    return apr_pstrdup(tu_pool, buf);
}

/* A spill held by this process (the program, another process, sees it live). */
static spill_t *open_live(const char *root, const char *tag)
{
    spill_opts o;
    spill_t *s;
    spill_opts_init(&o);
    o.reap_on_open = 0; /* the test's orphans are for the program to find */
    o.tag = tag;
    CU_ASSERT_FATAL(spill_open(root, &o, &s) == SPILL_OK);
    return s;
}

static const char *base_name(const char *path)
{
    return tu_base_name(path); /* on Windows, after '/' or '\\' */
}

/* s with '\\' read as '/' on Windows (where paths the program prints join with '\\'). */
static const char *slashes(const char *s)
{
    char *c = apr_pstrdup(tu_pool, s), *p;
#ifdef _WIN32
    for (p = c; *p; p++)
        if (*p == '\\')
            *p = '/';
#else
    (void)p;
#endif
    return c;
}

/* The line of out that starts with name, or "". */
static const char *row_of(const char *out, const char *name)
{
    const char *p = out;
    size_t n = strlen(name);
    for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            const char *end = strchr(p, '\n');
            return apr_pstrndup(tu_pool, p, end ? (apr_size_t)(end - p) : strlen(p));
        }
    }
    return "";
}

static void assert_usage_error(cli_result r, const char *fragment)
{
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT(strncmp(r.err, "spill", 5) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, fragment));
    if (r.code != 2 || !strstr(r.err, fragment))
        printf("\n  expected a usage error about '%s'; got %d: %s", fragment, r.code, r.err);
}

static void test_usage_errors(void)
{
    const char *root = tu_fresh_dir("cli-usage");
    assert_usage_error(run(NULL), "which command");
    assert_usage_error(run("frobnicate", NULL), "unknown command 'frobnicate'");
    assert_usage_error(run("reap", "--bogus", NULL), "--bogus");
    assert_usage_error(run("reap", "--grace", "soon", NULL), "--grace");
    assert_usage_error(run("reap", "--grace", NULL), "--grace");
    assert_usage_error(run("reap", "--threads", "-1", NULL), "--threads");
    assert_usage_error(run("reap", "--budget-ms", "99999999999", NULL), "too large");
    assert_usage_error(run("ls", "--root", root, "extra", NULL), "extra");
    assert_usage_error(run("hold", "--root", root, NULL), "--chunks");
    assert_usage_error(run("hold", "--root", root, "--chunks", "1x", NULL), "--chunks");
    assert_usage_error(run("hold", "--root", root, "--chunks", "0", NULL), "--chunks 0");
    assert_usage_error(run("demo", "--json", NULL), "--json");
    assert_usage_error(run("demo", "--zero-chunk", NULL), "--zero-chunk needs --resume");
    /* nothing was created on the way */
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

static void test_help_and_version(void)
{
    cli_result r = run("--help", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "spill reap [--root DIR] [--grace SECONDS]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "spill ls [--root DIR] [--json]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "spill hold [--root DIR] --chunks N"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "spill demo [--root DIR]"));
    r = run("reap", "--help", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "--dry-run"));
    r = run("--version", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, apr_pstrcat(tu_pool, "spill ", spill_version(), "\n", NULL));
}

/* One of each state: an orphan two hours old, an unsafe one an hour old, a young lockless
 * one and a live one (both just made). */
typedef struct states_root {
    const char *root, *orphan, *unsafe, *young;
    spill_t *live;
} states_root;

static states_root make_states(const char *tag)
{
    states_root s;
    int64_t now = apr_time_sec(apr_time_now());
    s.root = tu_fresh_dir("cli-states");
    s.orphan = tu_make_spill_dir(s.root, (uint64_t)(now - 7200), 1, 3, record(4242, tag));
    tu_set_mtime(s.orphan, now - 7200);
    s.unsafe = tu_make_spill_dir(s.root, (uint64_t)(now - 3600), 2, 0, NULL);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(s.unsafe, ".lock"), APR_FPROT_OS_DEFAULT, tu_pool) ==
                    APR_SUCCESS);
    tu_set_mtime(s.unsafe, now - 3600);
    s.young = tu_make_spill_dir(s.root, (uint64_t)now, 3, 1, NULL);
    s.live = open_live(s.root, "live upload");
    return s;
}

static void test_ls_table(void)
{
    states_root s = make_states("build 7");
    const char *live = base_name(spill_path(s.live)), *row, *out, *header;
    cli_result r = run("ls", "--root", s.root, NULL);
    out = r.out;
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    header = apr_pstrndup(tu_pool, out, strcspn(out, "\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(header, "NAME"));
    CU_ASSERT(strncmp(header, "NAME ", 5) == 0 && strstr(header, " STATE ") &&
              strstr(header, " AGE ") && strstr(header, " SIZE ") && strstr(header, " FILES ") &&
              strstr(header, " OWNER ") && strstr(header, " TAG"));
    /* header, four rows, the summary, the live spills' reservations */
    CU_ASSERT_EQUAL(lines(out), 7);
    /* oldest first: the two-hour-old orphan, then the hour-old unsafe one */
    CU_ASSERT(strncmp(out + strlen(header) + 1, base_name(s.orphan),
                      strlen(base_name(s.orphan))) == 0);
    CU_ASSERT(strstr(out, base_name(s.orphan)) < strstr(out, base_name(s.unsafe)));
    CU_ASSERT(strstr(out, base_name(s.unsafe)) < strstr(out, live));
    row = row_of(out, base_name(s.orphan));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " orphan "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " 2h00m ")); /* the age, in human units */
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " 4242@"));   /* owner: pid@host from the record */
    CU_ASSERT(strlen(row) > 7 && strcmp(row + strlen(row) - 7, "build 7") == 0);
    row = row_of(out, base_name(s.unsafe));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " unsafe "));
    row = row_of(out, base_name(s.young));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " young "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " 10 B ")); /* one 10-byte chunk */
    row = row_of(out, live);
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " live "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, "live upload"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, apr_psprintf(tu_pool, "4 under %s: 1 live, 1 orphan", s.root)));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 young, 1 unsafe\n"));
    /* ls only looks */
    CU_ASSERT(tu_exists(s.orphan) && tu_exists(s.young) && tu_exists(s.unsafe));
    spill_close(s.live);
}

static void test_ls_json(void)
{
    /* a tag with a quote, a backslash, a newline, an invalid byte, a control byte, UTF-8 */
    const char *weird = "q\"\\\n\xff\x01\xc3\xa9";
    states_root s = make_states(weird);
    cli_result r = run("ls", "--root", s.root, "--json", NULL);
    const char *orphan;
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tu_json_valid(r.out));
    if (!tu_json_valid(r.out))
        printf("\n  not valid JSON:\n%s", r.out);
    CU_ASSERT(r.out[0] == '[');
    orphan = strstr(r.out, apr_psprintf(tu_pool, "{\"name\":\"%s\"", base_name(s.orphan)));
    CU_ASSERT_PTR_NOT_NULL_FATAL(orphan);
    CU_ASSERT(strncmp(strchr(orphan, ','), ",\"state\":\"orphan\",\"age_seconds\":", 32) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(orphan, "\"owner_pid\":4242,\"owner_host\":\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(orphan, "\"tag\":\"q\\\"\\\\\\n\\ufffd\\u0001\xc3\xa9\","
                                          "\"reason\":null,"));
    /* an orphan's lease binds nobody: none shown */
    CU_ASSERT_PTR_NOT_NULL(strstr(orphan, "\"reserved_bytes\":null,\"limit_bytes\":null}"));
    /* unknown fields are null, never "" or -1: the lockless young one has no record */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"owner_pid\":null,\"owner_host\":null,\"tag\":null,"
                                         "\"reason\":\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"state\":\"live\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"state\":\"young\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"state\":\"unsafe\""));
    /* the table keeps such a tag on its row */
    r = run("ls", "--root", s.root, NULL);
    CU_ASSERT_EQUAL(lines(r.out), 7);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(row_of(r.out, base_name(s.orphan)), "q\"\\\\x0a\\xff\\x01\xc3\xa9"));
    spill_close(s.live);
}

/* Two orphans (3 chunks each), one live, one young. */
typedef struct reap_root {
    const char *root, *orphan1, *orphan2, *young;
    spill_t *live;
    uint64_t bytes; /* what reaping the orphans frees: chunks and records */
} reap_root;

static reap_root make_reap_root(void)
{
    reap_root s;
    const char *rec = record(4242, "gone");
    s.root = tu_fresh_dir("cli-reap");
    s.orphan1 = tu_make_spill_dir(s.root, 1000, 1, 3, rec);
    s.orphan2 = tu_make_spill_dir(s.root, 2000, 2, 3, rec);
    s.young = tu_make_spill_dir(s.root, (uint64_t)apr_time_sec(apr_time_now()), 3, 1, NULL);
    s.live = open_live(s.root, "busy");
    s.bytes = 2 * (3 * 10 + strlen(rec));
    return s;
}

static void assert_reap_json(const char *out, uint64_t bytes)
{
    const char *want = apr_psprintf(tu_pool,
        "{\"scanned\":4,\"reaped\":2,\"live\":1,\"young\":1,\"unsafe\":0,\"errors\":0,"
        "\"bytes_freed\":%" APR_UINT64_T_FMT ",\"files_removed\":8,\"elapsed_ms\":",
        (apr_uint64_t)bytes);
    CU_ASSERT(tu_json_valid(out));
    CU_ASSERT(strncmp(out, want, strlen(want)) == 0);
    if (strncmp(out, want, strlen(want)) != 0)
        printf("\n  want %s...\n  got  %s", want, out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, ",\"budget_exhausted\":false,\"resumable\":0,"
                                       "\"cut_short\":0,\"cancelled\":false,"
                                       "\"interrupted\":false}\n"));
}

static void test_reap_counts(void)
{
    reap_root s = make_reap_root();
    cli_result r = run("reap", "--root", s.root, "--json", "--threads", "2", NULL);
    const char *want;
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    assert_reap_json(r.out, s.bytes);
    CU_ASSERT(!tu_exists(s.orphan1) && !tu_exists(s.orphan2));
    CU_ASSERT(tu_exists(s.young) && tu_exists(spill_path(s.live)));
    /* the human summary of a second pass: nothing left to reap, the others kept */
    r = run("reap", "--root", s.root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    want = apr_psprintf(tu_pool, "reaped 0 of 2 under %s: 0 B freed in 0 files; kept 1 live, "
                                 "1 young, 0 unsafe (", s.root);
    CU_ASSERT(strncmp(r.out, want, strlen(want)) == 0);
    CU_ASSERT_EQUAL(lines(r.out), 1);
    spill_close(s.live);
}

static void test_dry_run_removes_nothing(void)
{
    reap_root s = make_reap_root();
    const char *before = tu_snapshot(s.root), *dry_line;
    cli_result r = run("reap", "--root", s.root, "--dry-run", "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    /* the same report a real run gives... */
    assert_reap_json(r.out, s.bytes);
    /* ...and not a byte changed */
    CU_ASSERT_STRING_EQUAL(tu_snapshot(s.root), before);
    r = run("reap", "--root", s.root, "--dry-run", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    dry_line = apr_psprintf(tu_pool, "would reap 2 of 4 under %s: ", s.root);
    CU_ASSERT(strncmp(r.out, dry_line, strlen(dry_line)) == 0);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(s.root), before);
    /* the real run does what the dry run said */
    r = run("reap", "--root", s.root, "--json", NULL);
    assert_reap_json(r.out, s.bytes);
    CU_ASSERT(!tu_exists(s.orphan1) && !tu_exists(s.orphan2));
    spill_close(s.live);
}

/* An orphan nested deeper than the reaper goes (rule 2) cannot be removed: exit 1, and one
 * line on stderr naming it. */
/* A fresh root holding one orphan (*orphan) whose directories, each named `level`, nest
 * deeper than the reaper goes. */
static const char *deep_orphan_root(const char *what, const char *level, const char **orphan)
{
    const char *root = tu_fresh_dir(what);
    const char *d = *orphan = tu_make_spill_dir(root, 1000, 1, 1, record(4242, "deep"));
    int i;
    for (i = 0; i < SPILL__MAX_DEPTH + 2; i++) {
        d = tu_join(d, level);
        CU_ASSERT_FATAL(apr_dir_make(d, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    }
    return root;
}

static void test_reap_errors_exit_1(void)
{
    const char *orphan, *root = deep_orphan_root("cli-deep", "d", &orphan);
    cli_result r;
    r = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT(tu_json_valid(r.out));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"reaped\":0,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"errors\":1,"));
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(slashes(r.err), slashes(orphan)));
    {
        /* and the entry left by its whole path, level 65, not as the orphan's child */
        char want[2 * (SPILL__MAX_DEPTH + 1) + 16];
        int i;
        for (i = 0; i <= SPILL__MAX_DEPTH; i++)
            memcpy(want + 2 * i, "/d", 2);
        strcpy(want + 2 * (SPILL__MAX_DEPTH + 1), ": nested");
        CU_ASSERT_PTR_NOT_NULL(strstr(slashes(r.err), want));
    }
    tu_left_as_trash(root, orphan); /* with its .lock: the next reap takes it at once */
}

/* spill ls does not offer such an orphan as space to reclaim: it cannot be reaped, and why. */
static void test_ls_deep_orphan_is_an_error(void)
{
    const char *orphan, *root = deep_orphan_root("cli-deep-ls", "d", &orphan);
    cli_result r = run("ls", "--root", root, "--json", NULL);
    CU_ASSERT(tu_json_valid(r.out));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"state\":\"error\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "cannot be reaped whole"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "nested deeper than 64 levels"));
    r = run("ls", "--root", root, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(row_of(r.out, base_name(orphan)), " error "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "0 orphan (0 B to reclaim)"));
}

static void test_root_from_environment(void)
{
    const char *root = tu_fresh_dir("cli-env");
    const char *orphan = tu_make_spill_dir(root, 1000, 1, 1, record(4242, "env"));
    const char *env[] = {apr_pstrcat(tu_pool, "SPILL_ROOT=", root, NULL), NULL};
    cli_result r = run_env(env, "ls", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(row_of(r.out, base_name(orphan)), " orphan "));
    r = run_env(env, "reap", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(!tu_exists(orphan));
    /* --root wins over $SPILL_ROOT */
    orphan = tu_make_spill_dir(root, 1000, 2, 1, record(4242, "env"));
    r = run_env(env, "reap", "--root", tu_fresh_dir("cli-env-other"), NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tu_exists(orphan));
}

/* Starts `spill hold ARGV...` and reads the path it prints once its first chunk is on disk. */
static const char *start_holding(tu_proc *p, const char **argv)
{
    const char *line;
    spawn(p, NULL, argv, 0);
    line = tu_read_line(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    return line;
}

/* Starts `spill hold` and reads the path it prints once its first chunk is on disk. */
static const char *start_hold(tu_proc *p, const char *root, const char *chunks,
                              const char *ready)
{
    const char *argv[] = {program(), "hold", "--root", root, "--chunks", chunks,
                          "--chunk-size", "4096", "--pace-ms", "20", "--tag", "held",
                          ready ? "--ready-file" : NULL, ready, NULL};
    return start_holding(p, argv);
}

/* Asks `spill hold` to close gracefully: SIGTERM; on Windows, its named stop event. */
static int ask_to_stop(apr_proc_t *p)
{
#ifdef _WIN32
    wchar_t name[64];
    HANDLE ev;
    BOOL ok;
    _snwprintf(name, 64, L"Local\\spill-hold-stop-%lu", (unsigned long)p->pid);
    name[63] = L'\0';
    if (!(ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, name)))
        return 0;
    ok = SetEvent(ev);
    CloseHandle(ev);
    return ok != 0;
#else
    return apr_proc_kill(p, SIGTERM) == APR_SUCCESS;
#endif
}

static void test_hold_sigterm_leaves_nothing(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-hold"), "root");
    const char *ready = tu_join(tu_fresh_dir("cli-ready"), "ready");
    tu_proc p;
    const char *path = start_hold(&p, root, "100000", ready), *json;
    char *written;
    /* its path, under the root, on disk, and the same in the ready file */
    CU_ASSERT(strncmp(path, apr_pstrcat(tu_pool, root, SPILL__PATH_SEP "spill_", NULL),
                      strlen(root) + 7) == 0);
    CU_ASSERT(tu_exists(path));
    written = tu_read_file(ready, NULL);
    CU_ASSERT_PTR_NOT_NULL(written);
    CU_ASSERT_STRING_EQUAL(written ? written : "", apr_pstrcat(tu_pool, path, "\n", NULL));
    json = run("ls", "--root", root, "--json", NULL).out;
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"state\":\"live\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"tag\":\"held\""));
    /* mid-upload (100000 chunks, one every 20 ms): SIGTERM closes it gracefully */
    CU_ASSERT(ask_to_stop(&p.proc));
    CU_ASSERT_EQUAL(wait_bounded(&p.proc), 0);
    apr_file_close(p.in);
    apr_file_close(p.out);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

static void test_hold_sigkill_leaves_orphan_reap_removes(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-kill"), "root");
    tu_proc p;
    const char *path = start_hold(&p, root, "3", NULL), *row;
    cli_result r;
    tu_kill(&p); /* SIGKILL: no cleanup runs */
    CU_ASSERT(tu_exists(path));
    CU_ASSERT(tu_wait_unlocked(path)); /* Windows releases a killed process's locks late */
    r = run("ls", "--root", root, NULL);
    row = row_of(r.out, base_name(path));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " orphan "));
    CU_ASSERT(strlen(row) > 4 && strcmp(row + strlen(row) - 4, "held") == 0);
    r = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "{\"scanned\":1,\"reaped\":1,\"live\":0,"));
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* Dry run and real run side by side (the dry run is the real judgement, README's "spill reap"):
 * each pair runs on the same root, the dry run first, since it changes nothing. */

/* The JSON report without its elapsed_ms, which differs between runs. */
static const char *counts_of(const char *json)
{
    const char *e = strstr(json, "\"elapsed_ms\":");
    return e ? apr_pstrndup(tu_pool, json, (apr_size_t)(e - json)) : json;
}

#ifndef _WIN32
#include <sys/stat.h>
#include <unistd.h>

/* The program as uid/gid 65534 (setpriv), for what only another user meets. */
static cli_result run_as_nobody(const char *first, ...)
{
    va_list ap;
    const char **inner, **argv = apr_pcalloc(tu_pool, 48 * sizeof *argv);
    int n = 0, i;
    va_start(ap, first);
    inner = args_of(first, ap);
    va_end(ap);
    argv[n++] = "/usr/bin/setpriv";
    argv[n++] = "--reuid=65534";
    argv[n++] = "--regid=65534";
    argv[n++] = "--clear-groups";
    argv[n++] = "--";
    for (i = 0; inner[i] && n < 47; i++)
        argv[n++] = inner[i];
    return run_argv(NULL, argv);
}

static int can_be_nobody(void)
{
    return geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0;
}

/* Another user's root: both refuse it, with the same exit status, and nothing is removed. */
static void test_dry_run_foreign_root(void)
{
    const char *root = tu_fresh_dir("cli-dry-foreign");
    const char *orphan = tu_make_spill_dir(root, 1000, 1, 2, record(4242, "x"));
    cli_result dry, real;
    if (geteuid() != 0)
        TU_SKIP("needs root to chown a root to another user");
    CU_ASSERT_FATAL(chown(root, 65534, 65534) == 0);
    dry = run("reap", "--root", root, "--dry-run", "--json", NULL);
    real = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(dry.code, 1);
    CU_ASSERT_EQUAL(real.code, dry.code);
    CU_ASSERT_STRING_EQUAL(dry.out, "");
    CU_ASSERT_STRING_EQUAL(real.out, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(dry.err, "owned by another user"));
    CU_ASSERT(tu_exists(orphan));
}

/* A .lock the reaper may not open (mode 000, the reaper another user): both count an error. */
static void test_dry_run_unopenable_lock(void)
{
    const char *parent = tu_fresh_dir("cli-dry-noopen"), *root = tu_join(parent, "root");
    const char *orphan, *lock;
    cli_result dry, real;
    if (!can_be_nobody())
        TU_SKIP("needs root and setpriv to run as another user");
    CU_ASSERT_FATAL(mkdir(root, 0700) == 0);
    orphan = tu_make_spill_dir(root, 1000, 1, 1, record(4242, "x"));
    lock = tu_join(orphan, ".lock");
    CU_ASSERT_FATAL(chmod(parent, 0755) == 0 && chmod(lock, 0) == 0);
    CU_ASSERT_FATAL(chown(root, 65534, 65534) == 0 && chown(orphan, 65534, 65534) == 0 &&
                    chown(lock, 65534, 65534) == 0 &&
                    chown(tu_join(orphan, "chunk000"), 65534, 65534) == 0);
    dry = run_as_nobody("reap", "--root", root, "--dry-run", "--json", NULL);
    real = run_as_nobody("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(dry.code, 1);
    CU_ASSERT_EQUAL(real.code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(dry.out, "\"errors\":1,"));
    CU_ASSERT_STRING_EQUAL(counts_of(dry.out), counts_of(real.out));
    if (strcmp(counts_of(dry.out), counts_of(real.out)) != 0)
        printf("\n  dry  %s  real %s", dry.out, real.out);
    CU_ASSERT(tu_exists(lock));
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

/* A root of ours that others can write to: the dry run says it would tighten it and leaves
 * it; the real run tightens it. */
static void test_dry_run_loose_root(void)
{
    const char *root = tu_fresh_dir("cli-dry-loose");
    cli_result dry, real;
    CU_ASSERT_FATAL(chmod(root, 0777) == 0);
    dry = run("reap", "--root", root, "--dry-run", "--json", NULL);
    CU_ASSERT_EQUAL(dry.code, 0);
    CU_ASSERT_EQUAL(mode_of(root), 0777);
    CU_ASSERT_PTR_NOT_NULL(strstr(dry.err, "would tighten"));
    CU_ASSERT_PTR_NULL(strstr(dry.err, "tightening it"));
    real = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(real.code, 0);
    CU_ASSERT_EQUAL(mode_of(root), 0700);
    /* said before it is done, then once done */
    CU_ASSERT_PTR_NOT_NULL(strstr(real.err, "tightening it to its owner alone (0700)"));
    CU_ASSERT(strstr(real.err, "tightening it") &&
              strstr(real.err, "tightening it") < strstr(real.err, "tightened"));
    CU_ASSERT_STRING_EQUAL(counts_of(dry.out), counts_of(real.out));
}
#endif

/* Live, orphan, young and unsafe entries: the same counts, and the dry run removes nothing. */
static void test_dry_run_same_counts(void)
{
    states_root s = make_states("mix");
    const char *before = tu_snapshot(s.root);
    cli_result dry = run("reap", "--root", s.root, "--dry-run", "--json", NULL), real;
    CU_ASSERT_EQUAL(dry.code, 0);
    CU_ASSERT_STRING_EQUAL(tu_snapshot(s.root), before);
    real = run("reap", "--root", s.root, "--json", NULL);
    CU_ASSERT_EQUAL(real.code, dry.code);
    CU_ASSERT_PTR_NOT_NULL(strstr(dry.out, "\"scanned\":4,\"reaped\":1,\"live\":1,\"young\":1,"
                                           "\"unsafe\":1,\"errors\":0,"));
    CU_ASSERT_STRING_EQUAL(counts_of(dry.out), counts_of(real.out));
    CU_ASSERT(!tu_exists(s.orphan) && tu_exists(s.unsafe) && tu_exists(s.young));
    spill_close(s.live);
}

#ifndef _WIN32
/* --as-owner and --prometheus: the program on a host (packaging/, docs/operations.md). */

/* Gives path and everything below it to uid/gid 65534, not following links. */
static void give_to_nobody(const char *path)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    CU_ASSERT_FATAL(lchown(path, 65534, 65534) == 0);
    if (apr_dir_open(&d, path, tu_pool) != APR_SUCCESS)
        return; /* a file */
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS)
        if (strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0)
            give_to_nobody(tu_join(path, fi.name));
    apr_dir_close(d);
}

/* A root of uid 65534 under a directory others may cross, with n orphans of that user. */
static const char *nobodys_root(const char *what, int n, const char **orphans)
{
    const char *parent = tu_fresh_dir(what), *root = tu_join(parent, "root");
    int i;
    CU_ASSERT_FATAL(mkdir(root, 0700) == 0 && chmod(parent, 0755) == 0);
    for (i = 0; i < n; i++)
        orphans[i] = tu_make_spill_dir(root, 1000, (uint64_t)i + 1, 2, tu_record((uint64_t)i));
    give_to_nobody(root);
    return root;
}

/* Root reaps a user's root as that user: refused without --as-owner (rule 11), reaped with. */
static void test_as_owner_reaps_as_the_owner(void)
{
    const char *orphans[2], *root;
    cli_result r;
    if (geteuid() != 0)
        TU_SKIP("needs root to chown a root to another user");
    root = nobodys_root("cli-as-owner", 2, orphans);
    r = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "owned by another user"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "add --as-owner")); /* the way out, named */
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT(tu_exists(orphans[0]) && tu_exists(orphans[1]));
    r = run("reap", "--as-owner", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "{\"scanned\":2,\"reaped\":2,"));
    CU_ASSERT(!tu_exists(orphans[0]) && !tu_exists(orphans[1]));
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* With the owner's rights and no more: a file in a directory of root's (group root may write
 * to it) inside the orphan is one the owner cannot remove, having neither root's uid nor its
 * group, so it stays and is counted an error; the rest of the root is judged. */
static void test_as_owner_has_only_the_owners_rights(void)
{
    const char *orphans[1], *root, *sub;
    cli_result r;
    if (geteuid() != 0)
        TU_SKIP("needs root to chown a root to another user");
    root = nobodys_root("cli-as-owner-rights", 1, orphans);
    sub = tu_join(orphans[0], "sub");
    CU_ASSERT_FATAL(mkdir(sub, 0775) == 0 && chmod(sub, 0775) == 0 &&
                    tu_write_file(tu_join(sub, "f"), "root's") == 0);
    r = run("reap", "--as-owner", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "{\"scanned\":1,\"reaped\":0,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"errors\":1,"));
    /* the orphan may have gone to its trash name (rule 6); root's file is still in the root */
    CU_ASSERT_PTR_NOT_NULL(strstr(tu_snapshot(root), "/sub/f"));
}

/* Anyone but root asking for --as-owner is refused as a usage error, and nothing is touched. */
static void test_as_owner_refused_when_not_root(void)
{
    const char *orphans[1], *root, *before;
    cli_result r;
    if (!can_be_nobody())
        TU_SKIP("needs root and setpriv to run as another user");
    root = nobodys_root("cli-as-owner-refused", 1, orphans);
    before = tu_snapshot(root);
    r = run_as_nobody("reap", "--as-owner", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--as-owner needs root"));
    CU_ASSERT_EQUAL(lines(r.err), 1);
    r = run_as_nobody("ls", "--as-owner", "--prometheus", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "--as-owner needs root"));
    CU_ASSERT_STRING_EQUAL(tu_snapshot(root), before);
}

/* The value of the sample `NAME{root="ROOT",state="STATE"} VALUE` of a Prometheus text (no
 * state label if state is NULL; root already escaped), or -1. */
static long long sample(const char *text, const char *name, const char *root, const char *state)
{
    const char *key = apr_pstrcat(tu_pool, "\n", name, "{root=\"", root, "\"",
                                  state ? ",state=\"" : "", state ? state : "", state ? "\"" : "",
                                  "} ", NULL);
    const char *at = strstr(text, key);
    return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

/* Directories, bytes and files per state, the root as an escaped label. */
static void test_ls_prometheus(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-prom"), "a\"b\\c");
    const char *rec = tu_record(1), *orphan, *lbl;
    apr_time_t now = apr_time_sec(apr_time_now());
    spill_t *live;
    cli_result r;
    uint8_t addr[SPILL_ADDR_LEN];
    CU_ASSERT_FATAL(mkdir(root, 0700) == 0);
    CU_ASSERT_FATAL(spill_open(root, NULL, &live) == SPILL_OK);
    tu_addr(addr, 1);
    CU_ASSERT_FATAL(spill_put(live, addr, "12345", 5) == SPILL_OK);
    orphan = tu_make_spill_dir(root, 1000, 1, 3, rec); /* after the open, which reaps */
    tu_make_spill_dir(root, (uint64_t)now, 2, 1, NULL); /* lockless and fresh: young */
    r = run("ls", "--root", root, "--prometheus", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    /* the label of root ".../a\"b\\c" */
    lbl = apr_psprintf(tu_pool, "%.*sa\\\"b\\\\c", (int)(strlen(root) - 5), root);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "orphan"), 1);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "live"), 1);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "young"), 1);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "unsafe"), 0);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "error"), 0);
    /* three chunks of 10 bytes and the record */
    CU_ASSERT_EQUAL(sample(r.out, "spill_bytes", lbl, "orphan"), 30 + (long long)strlen(rec));
    CU_ASSERT_EQUAL(sample(r.out, "spill_files", lbl, "orphan"), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n# TYPE spill_bytes gauge\n"));
    CU_ASSERT_EQUAL(sample(r.out, "spill_scan_success", lbl, NULL), 1);
    CU_ASSERT(tu_exists(orphan)); /* ls removes nothing */
    spill_close(live);
}

/* --output replaces the file by a rename (a new inode: a reader never sees half of one),
 * readable by the collector's user, and leaves no temporary behind. */
static void test_ls_prometheus_output(void)
{
    const char *root = tu_fresh_dir("cli-prom-out"), *dir = tu_fresh_dir("cli-prom-dir");
    const char *file = tu_join(dir, "spill.prom"), *text;
    struct stat before, after;
    cli_result r;
    tu_make_spill_dir(root, 1000, 1, 1, tu_record(1));
    CU_ASSERT_FATAL(tu_write_file(file, "old\n") == 0 && stat(file, &before) == 0);
    r = run("ls", "--root", root, "--prometheus", "--output", file, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_FATAL(stat(file, &after) == 0);
    CU_ASSERT(after.st_ino != before.st_ino);
    CU_ASSERT_EQUAL(after.st_mode & 0777, 0644);
    CU_ASSERT_EQUAL(tu_count_entries(dir), 1);
    text = tu_read_file(file, NULL);
    CU_ASSERT_STRING_EQUAL(text ? text : "", run("ls", "--root", root, "--prometheus", NULL).out);
    r = run("ls", "--root", root, "--prometheus", "--output", tu_join(dir, "no/such.prom"), NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_EQUAL(tu_count_entries(dir), 1);
}
#endif

static void test_demo(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-demo"), "root");
    cli_result r = run("demo", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Verdict: 2 of 2 live uploads kept, 3 of 3 orphans "
                                         "reclaimed, "));
    if (r.code != 0)
        printf("\n%s\n%s", r.out, r.err);
    /* every holder stopped, every directory gone; the given root is kept */
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- reservations (0.3): hold --expect/--limit, ls, --prometheus, demo --reserve ---- */

#define EXPECT 1048576 /* 1 MiB: hold --expect, reserved but not written */
#define LIMIT 10485760 /* 10 MiB: hold --limit */

/* Starts `spill hold --expect EXPECT --limit LIMIT` with one 4 KiB chunk and reads the path it
 * prints once that chunk is on disk (the upload is then whole). */
static const char *start_reserved(tu_proc *p, const char *root)
{
    const char *argv[] = {program(), "hold", "--root", root, "--chunks", "1", "--chunk-size",
                          "4096", "--tag", "reserved", "--expect", "1048576", "--limit",
                          "10485760", NULL};
    return start_holding(p, argv);
}

static void stop_reserved(tu_proc *p)
{
    CU_ASSERT(ask_to_stop(&p->proc));
    CU_ASSERT_EQUAL(wait_bounded(&p->proc), 0);
    apr_file_close(p->in);
    apr_file_close(p->out);
}

/* The number after "key": in obj (up to its closing brace), -1 if absent, -2 if null. */
static long long member(const char *obj, const char *key)
{
    const char *k = apr_pstrcat(tu_pool, "\"", key, "\":", NULL);
    const char *end = strchr(obj, '}'), *at = strstr(obj, k);
    if (!at || (end && at > end))
        return -1;
    at += strlen(k);
    return strncmp(at, "null", 4) == 0 ? -2 : strtoll(at, NULL, 10);
}

/* ls --json and the table: a live spill's reservation beside what it wrote, the root's totals
 * and its limit. */
static void test_ls_reserved(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-reserved"), "root"), *path, *obj, *row, *out;
    long long reserved, bytes;
    tu_proc p;
    cli_result r;
    path = start_reserved(&p, root);
    r = run("ls", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tu_json_valid(r.out));
    obj = strstr(r.out, apr_psprintf(tu_pool, "{\"name\":\"%s\"", base_name(path)));
    CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
    reserved = member(obj, "reserved_bytes");
    bytes = member(obj, "bytes");
    /* the lease is --expect and the spill's own files beside it; written: the chunk and those */
    CU_ASSERT(reserved >= EXPECT && reserved <= EXPECT + 65536);
    CU_ASSERT(bytes >= 4096 && bytes < reserved);
    CU_ASSERT_EQUAL(member(obj, "limit_bytes"), LIMIT);
    if (reserved < EXPECT || member(obj, "limit_bytes") != LIMIT)
        printf("\n  ls --json: %s", r.out);
    r = run("ls", "--root", root, NULL);
    out = r.out;
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " FILES  RESERVED  OWNER "));
    row = row_of(out, base_name(path));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, " live "));
    CU_ASSERT_PTR_NOT_NULL(strstr(row, "  1.0 MiB  ")); /* RESERVED, in human units */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n1 live: 1.0 MiB reserved, "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " written; root limit 10 MiB\n"));
    if (!strstr(out, "\n1 live: 1.0 MiB reserved, ") || !strstr(row, "  1.0 MiB  "))
        printf("\n  ls:\n%s", out);
    stop_reserved(&p);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* hold --expect past the free space, and --limit past the others' reservations: refused at
 * the open, with the library's figures, exit 1, nothing left behind. */
static void test_hold_expect_refused(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-refused"), "root");
    tu_proc p;
    cli_result r;
    /* more than any disk: spill_open wants it and 10% free */
    r = run("hold", "--root", root, "--chunks", "1", "--expect", "9223372036854775807", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, " bytes free, 10145709240540253387 needed"));
    if (!strstr(r.err, " bytes free, 10145709240540253387 needed"))
        printf("\n  hold --expect: %d %s", r.code, r.err);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
    /* a second 1 MiB beside the first's under a 1.5 MiB limit: past the limit */
    start_reserved(&p, root);
    r = run("hold", "--root", root, "--chunks", "1", "--expect", "1048576", "--limit", "1572864",
            NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, " bytes needed: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, " reserved and not yet written by 1 other spill "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, ", a limit of 1572864\n"));
    if (!strstr(r.err, ", a limit of 1572864\n"))
        printf("\n  hold --limit: %d %s", r.code, r.err);
    stop_reserved(&p);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* demo --reserve: on the real disk under the test's directory, two of three uploads start and
 * the third is refused at once with the figures */
static void test_demo_reserve(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-demo-reserve"), "root");
    cli_result r;
    CU_ASSERT_FATAL(apr_dir_make(root, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                 tu_pool) == APR_SUCCESS);
    r = run("demo", "--reserve", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "  upload-3  refused at once (exit 1), before writing "
                                         "a byte:\n    spill hold: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " reserved and not yet written by 2 other spills "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n2 live: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Verdict: 2 of 3 uploads started, none failed halfway; "
                                         "upload-3 was refused at once, with the figures.\n"));
    if (r.code != 0 || !strstr(r.out, "Verdict: 2 of 3"))
        printf("\n%s\n%s", r.out, r.err);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

#ifndef _WIN32
static void promtool_accepts(const char *text);

/* --prometheus: the live spills' reservations and the root's limit, as gauges with the root
 * as their label */
static void test_ls_prometheus_reserved(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-prom-reserved"), "root"), *json;
    tu_proc p;
    cli_result r;
    long long reserved;
    start_reserved(&p, root);
    json = run("ls", "--root", root, "--json", NULL).out;
    reserved = member(strstr(json, "{\"name\""), "reserved_bytes");
    r = run("ls", "--root", root, "--prometheus", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n# TYPE spill_reserved_bytes gauge\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\n# TYPE spill_limit_bytes gauge\n"));
    CU_ASSERT(reserved >= EXPECT);
    CU_ASSERT_EQUAL(sample(r.out, "spill_reserved_bytes", root, NULL), reserved);
    CU_ASSERT_EQUAL(sample(r.out, "spill_limit_bytes", root, NULL), LIMIT);
    if (sample(r.out, "spill_reserved_bytes", root, NULL) != reserved)
        printf("\n%s", r.out);
    promtool_accepts(r.out);
    stop_reserved(&p);
    /* nothing live: nothing reserved, no limit */
    r = run("ls", "--root", root, "--prometheus", NULL);
    CU_ASSERT_EQUAL(sample(r.out, "spill_reserved_bytes", root, NULL), 0);
    CU_ASSERT_EQUAL(sample(r.out, "spill_limit_bytes", root, NULL), 0);
}
#endif

/* ---- reap's progress line ---- */

static const char *orphan_root(const char *what, int n, int files)
{
    const char *root = tu_fresh_dir(what);
    int i;
    for (i = 0; i < n; i++)
        tu_make_spill_dir(root, 1000000000ULL, (uint64_t)i + 1, files, tu_record((uint64_t)i + 1));
    return root;
}

static void test_progress_only_on_terminal_or_asked(void)
{
    const char *root = orphan_root("progpipe", 5, 4);
    cli_result r = run("reap", "--root", root, NULL); /* stderr is a pipe: no line */
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    root = orphan_root("progforced", 5, 4);
    r = run("reap", "--root", root, "--progress", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    /* drawn (at least by the last call), then cleared; the summary stays on stdout */
    CU_ASSERT(strstr(r.err, "\rreaping ") != NULL);
    CU_ASSERT(strstr(r.err, "5 orphans removed of 5 judged") != NULL);
    CU_ASSERT(strlen(r.err) >= 4 && strcmp(r.err + strlen(r.err) - 4, "\r\033[K") == 0);
    CU_ASSERT(strncmp(r.out, "reaped 5 of 5", 13) == 0);
}

#ifndef _WIN32
/* n orphans of `links` entries each, all hard links of one file: a reap with a lot to remove
 * made cheaply. Creating that many files took 25 s on an ext4 that had just deleted as many
 * (the kernel's inode allocator skips recently deleted inodes), past the suite's timeout. */
static const char *linked_orphan_root(const char *what, int n, int links)
{
    const char *root = tu_fresh_dir(what), *one = tu_join(root, "one"), *d;
    int i, j;
    CU_ASSERT_FATAL(tu_write_file(one, "0123456789") == 0);
    for (i = 0; i < n; i++) {
        d = tu_make_spill_dir(root, 1000000000ULL, (uint64_t)i + 1, 0, tu_record((uint64_t)i + 1));
        for (j = 0; j < links; j++)
            CU_ASSERT_FATAL(apr_file_link(one, apr_psprintf(tu_pool, "%s/chunk%03d", d, j)) ==
                            APR_SUCCESS);
    }
    CU_ASSERT_FATAL(apr_file_remove(one, tu_pool) == APR_SUCCESS);
    return root;
}

/* A shell command run under a pseudo-terminal (script(1)), which carries stdout and stderr. */
static cli_result under_pty(const char *cmd)
{
    const char *argv[] = {"/usr/bin/script", "-qec", cmd, "/dev/null", NULL};
    return run_argv(NULL, argv);
}

/* Under a pseudo-terminal (script(1)) the line is shown; with --quiet it is not. */
static void test_progress_on_pty(void)
{
    const char *root = orphan_root("progpty", 5, 4), *cmd;
    cli_result r;
    if (!tu_exists("/usr/bin/script"))
        TU_SKIP("script(1) is not installed");
    cmd = apr_psprintf(tu_pool, "'%s' reap --root '%s'", program(), root);
    r = under_pty(cmd);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(strstr(r.out, "\rreaping ") != NULL); /* the terminal carries stdout and stderr */
    CU_ASSERT(strstr(r.out, "reaped 5 of 5") != NULL);
    root = orphan_root("progptyq", 5, 4);
    cmd = apr_psprintf(tu_pool, "'%s' reap --quiet --root '%s'", program(), root);
    r = under_pty(cmd);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(strstr(r.out, "reaping ") == NULL);
    CU_ASSERT(strstr(r.out, "reaped 5 of 5") != NULL);
}

/* Ctrl-C: the reap stops at its next check, the summary is printed, exit 130, and the next
 * run finishes what was left. Readiness: the first progress line on stderr. */
static void test_progress_interrupt(void)
{
    const char *root = linked_orphan_root("progint", 800, 64);
    const char *argv[] = {program(), "reap", "--root", NULL, "--progress", "--threads", "1",
                          NULL};
    char buf[512];
    apr_size_t n;
    tu_proc p;
    cli_result r;
    argv[3] = root;
    spawn(&p, NULL, argv, 1);
    apr_file_close(p.in);
    n = sizeof buf;
    CU_ASSERT_FATAL(apr_file_read(p.proc.err, buf, &n) == APR_SUCCESS && n > 0);
    /* stopped while the interrupt is sent, so that a fast filesystem cannot finish the reap
     * between the first line (after the program's 20 ms check interval) and the signal: the
     * handler runs first thing on SIGCONT, and the reap stops at its next check, 20 ms on
     * (tmpfs removes the 51,200 links in about 150 ms) */
    CU_ASSERT(apr_proc_kill(&p.proc, SIGSTOP) == APR_SUCCESS);
    CU_ASSERT_FATAL(tu_count_entries(root) > 1); /* work left when the signal lands */
    CU_ASSERT(apr_proc_kill(&p.proc, SIGINT) == APR_SUCCESS);
    CU_ASSERT(apr_proc_kill(&p.proc, SIGCONT) == APR_SUCCESS);
    r.out = read_all(p.out);
    r.err = read_all(p.proc.err);
    r.code = wait_bounded(&p.proc);
    CU_ASSERT_EQUAL(r.code, 130);
    CU_ASSERT(strstr(r.out, "interrupted") != NULL);
    CU_ASSERT(tu_count_entries(root) > 0);
    r = run("reap", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tu_count_entries(root) == 0);
}
#endif

/* The demo's "N chunk files on disk (ls's FILES says M" matches the FILES column of the
 * ls that follows, and N is M less the .lock, the .journal and the lease. */
static void assert_files_column(const char *out)
{
    const char *said = strstr(out, "chunk files on disk (ls's FILES says "), *row;
    char name[128], state[32], age[32], size[16], unit[16];
    unsigned chunks = 0, files = 0, column = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(said);
    while (said > out && said[-1] != ' ')
        said--;
    while (said > out && said[-1] == ' ')
        said--;
    while (said > out && said[-1] != ' ')
        said--;
    CU_ASSERT(sscanf(said, "%u chunk files on disk (ls's FILES says %u", &chunks, &files) == 2);
    row = strstr(out, "\nspill_");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    CU_ASSERT(sscanf(row + 1, "%127s %31s %31s %15s %15s %u", name, state, age, size, unit,
                     &column) == 6);
    CU_ASSERT_EQUAL(files, column);
    CU_ASSERT_EQUAL(chunks + 3, files); /* its .lock, .journal and .spill-lease */
}

/* demo --resume: the killed upload's chunks adopted untouched by the restarted one */
static void test_demo_resume(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-demo-resume"), "root");
    cli_result r = run("demo", "--resume", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Verdict: the same directory (yes), "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " resumable"));
    assert_files_column(r.out);
    if (r.code != 0)
        printf("\n%s\n%s", r.out, r.err);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* demo --resume --zero-chunk: the zero-filled chunk rejected by verify, put again, the rest
 * resumed */
static void test_demo_resume_zero_chunk(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-demo-zero"), "root");
    cli_result r = run("demo", "--resume", "--zero-chunk", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Zero-filled its first chunk (the file "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Verdict: the same directory (yes), "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "The zero-filled chunk was rejected by verify and "
                                         "written again"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, ", 1 rejected by verify (not what its address says"));
    if (r.code != 0 || !strstr(r.err, ", 1 rejected by verify"))
        printf("\n%s\n%s", r.out, r.err);
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* One run of the job "resumed" (`spill hold --keep 600`, 4 KiB chunks, no pace), killed hard
 * once it has printed its path. That is a readiness signal for every chunk it was asked for:
 * a holder prints its path once the first chunk it lacked is on disk, and here only one is
 * lacking (chunks is 1, or one more than the orphan it adopts holds). Returns the path; *err
 * gets what it said on stderr. */
static const char *resumed_job(const char *root, const char *chunks, int adopt,
                               const char **err)
{
    const char *argv[] = {program(), "hold", "--root", root, "--chunks", chunks,
                          "--chunk-size", "4096", "--tag", "resumed", "--keep", "600",
                          adopt ? "--adopt" : NULL, NULL};
    const char *path;
    tu_proc p;
    spawn(&p, NULL, argv, 1);
    path = tu_read_line(&p);
    tu_kill(&p); /* SIGKILL: a resumable orphan */
    *err = read_all(p.proc.err);
    apr_file_close(p.proc.err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_FATAL(tu_wait_unlocked(path));
    return path;
}

/* The name of a chunk file in dir (its address in hex: 64 characters), NULL if none. */
static const char *a_chunk_file(const char *dir)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    const char *found = NULL;
    apr_status_t rv;
    if (apr_dir_open(&d, dir, tu_pool) != APR_SUCCESS)
        return NULL;
    while (!found && ((rv = apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d)) ==
                          APR_SUCCESS || rv == APR_INCOMPLETE))
        if (fi.filetype == APR_REG && strlen(fi.name) == 2 * SPILL_ADDR_LEN)
            found = tu_join(dir, fi.name);
    apr_dir_close(d);
    return found;
}

/* 1 if file holds exactly len bytes, not all of them zero. */
static int holds_nonzero(const char *file, size_t len)
{
    size_t n = 0, i;
    char *data = tu_read_file(file, &n);
    if (!data || n != len)
        return 0;
    for (i = 0; i < n; i++)
        if (data[i])
            return 1;
    return 0;
}

/* hold --adopt checks what it adopts: an orphan of 4 chunks with one zero-filled since (the
 * same length, as a power loss leaves a chunk never synced) is adopted with 3, the zero-filled
 * one rejected by verify, removed and put again. */
static void test_hold_adopt_rejects_zeroed(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-adopt-verify"), "root");
    const char *argv[] = {program(), "hold", "--root", root, "--chunks", "4", "--chunk-size",
                          "4096", "--tag", "resumed", "--keep", "600", "--adopt", NULL};
    char zeros[4096];
    const char *err, *path, *bad, *line;
    apr_file_t *f;
    tu_proc p;
    int k;
    /* the killed job, resumed and killed again until its orphan holds 4 chunks */
    path = resumed_job(root, "1", 0, &err);
    for (k = 2; k <= 4; k++) {
        const char *n = apr_psprintf(tu_pool, "%d", k);
        CU_ASSERT_STRING_EQUAL(resumed_job(root, n, 1, &err), path);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, apr_psprintf(tu_pool, ": %d chunk%s, 0 rejected by "
                                                        "verify\n", k - 1, k == 2 ? "" : "s")));
    }
    CU_ASSERT_FATAL((bad = a_chunk_file(path)) != NULL);
    memset(zeros, 0, sizeof zeros);
    CU_ASSERT_FATAL(apr_file_open(&f, bad, APR_FOPEN_WRITE | APR_FOPEN_BINARY,
                                  APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    CU_ASSERT(apr_file_write_full(f, zeros, sizeof zeros, NULL) == APR_SUCCESS);
    apr_file_close(f);
    CU_ASSERT(!holds_nonzero(bad, sizeof zeros));

    spawn(&p, NULL, argv, 1);
    line = tu_read_line(&p); /* printed once the one chunk it lacked is on disk again */
    CU_ASSERT_PTR_NOT_NULL(line);
    CU_ASSERT_STRING_EQUAL(line ? line : "", path);
    CU_ASSERT(holds_nonzero(bad, sizeof zeros));
    CU_ASSERT(ask_to_stop(&p.proc));
    CU_ASSERT_EQUAL(wait_bounded(&p.proc), 0);
    err = read_all(p.proc.err);
    apr_file_close(p.in);
    apr_file_close(p.out);
    apr_file_close(p.proc.err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ": 3 chunks, 1 rejected by verify (not what its address "
                                       "says: removed, put again)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1 chunk rejected by verify")); /* the library's log */
    if (!strstr(err, ": 3 chunks, 1 rejected by verify"))
        printf("\n  hold --adopt said: %s", err);
    CU_ASSERT(!tu_exists(path));
    CU_ASSERT_EQUAL(tu_count_entries(root), 0);
}

/* ---- issue 32: a missing root, reap --json's counts, hostile names (POSIX: Windows names
 * are UTF-16 and cannot hold invalid UTF-8; sample() is POSIX's) ---- */
#ifndef _WIN32

/* A mistyped root is not a healthy empty one: ls, reap and --prometheus say it does not
 * exist and exit 1; --missing-ok (the units, ExecStartPre) makes it nothing to do. */
static void test_missing_root(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-missing"), "typo");
    const char *lbl = root; /* no character a label escapes */
    cli_result r = run("ls", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, apr_pstrcat(tu_pool, root, " does not exist", NULL)));
    r = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, " does not exist"));
    r = run("ls", "--root", root, "--prometheus", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_EQUAL(lines(r.err), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, " does not exist"));
    CU_ASSERT_EQUAL(sample(r.out, "spill_scan_success", lbl, NULL), 0);
    CU_ASSERT_EQUAL(sample(r.out, "spill_root_exists", lbl, NULL), 0);
    /* --missing-ok: today's answers, exit 0 */
    r = run("ls", "--root", root, "--missing-ok", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "no spill directories under "));
    r = run("reap", "--root", root, "--missing-ok", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT(strncmp(r.out, "reaped 0 of 0 under ", 20) == 0);
    r = run("ls", "--root", root, "--prometheus", "--missing-ok", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_EQUAL(sample(r.out, "spill_scan_success", lbl, NULL), 1);
    CU_ASSERT_EQUAL(sample(r.out, "spill_root_exists", lbl, NULL), 0);
    CU_ASSERT_EQUAL(sample(r.out, "spill_directories", lbl, "orphan"), 0);
    CU_ASSERT(!tu_exists(root)); /* nothing made it */
    /* a root that is there says so */
    r = run("ls", "--root", tu_fresh_dir("cli-there"), "--prometheus", NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "spill_root_exists{root=\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"} 1\n"));
}

/* The number after "key": in a JSON object, or -1. */
static long long json_count(const char *json, const char *key)
{
    const char *k = apr_pstrcat(tu_pool, "\"", key, "\":", NULL), *at = strstr(json, k);
    if (!at)
        return -1;
    at += strlen(k);
    if (strncmp(at, "true", 4) == 0)
        return 1;
    if (strncmp(at, "false", 5) == 0)
        return 0;
    return strtoll(at, NULL, 10);
}

/* reap --json has every count of spill_reap_stats, and they add up: each scanned entry is
 * reaped, live, young, unsafe, an error, resumable or cut short (the man page's identity). */
static void test_reap_json_adds_up(void)
{
    int64_t now = apr_time_sec(apr_time_now());
    const char *root = tu_fresh_dir("cli-adds-up"), *d, *unsafe, *resumable;
    char host[256], rec[SPILL__RECORD_MAX];
    static const char *const keys[] = {"scanned", "reaped", "live", "young", "unsafe",
                                       "errors", "bytes_freed", "files_removed", "elapsed_ms",
                                       "budget_exhausted", "resumable", "cut_short",
                                       "cancelled", "interrupted"};
    spill_t *live = open_live(root, "busy");
    cli_result r;
    int i;
    tu_make_spill_dir(root, 1000, 1, 2, record(4242, "gone"));     /* reaped */
    tu_make_spill_dir(root, (uint64_t)now, 2, 1, NULL);            /* young */
    unsafe = tu_make_spill_dir(root, (uint64_t)(now - 3600), 3, 0, NULL);
    CU_ASSERT_FATAL(apr_dir_make(tu_join(unsafe, ".lock"), APR_FPROT_OS_DEFAULT, tu_pool) ==
                    APR_SUCCESS);
    tu_set_mtime(unsafe, now - 3600);                               /* unsafe */
    spill__hostname(host, sizeof host);
    CU_ASSERT_FATAL(spill__record_format(rec, sizeof rec, 9, 4242, host, 1, 600, "job") > 0);
    resumable = tu_make_spill_dir(root, (uint64_t)now, 4, 1, rec);  /* resumable */
    d = tu_make_spill_dir(root, 1000, 5, 1, record(4242, "deep"));  /* an error */
    for (i = 0; i < SPILL__MAX_DEPTH + 2; i++) {
        d = tu_join(d, "d");
        CU_ASSERT_FATAL(apr_dir_make(d, APR_FPROT_OS_DEFAULT, tu_pool) == APR_SUCCESS);
    }
    r = run("reap", "--root", root, "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT(tu_json_valid(r.out));
    for (i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
        CU_ASSERT(json_count(r.out, keys[i]) >= 0);
    CU_ASSERT_EQUAL(json_count(r.out, "scanned"), 6);
    CU_ASSERT_EQUAL(json_count(r.out, "resumable"), 1);
    CU_ASSERT_EQUAL(json_count(r.out, "errors"), 1);
    CU_ASSERT_EQUAL(json_count(r.out, "scanned"),
                    json_count(r.out, "reaped") + json_count(r.out, "live") +
                        json_count(r.out, "young") + json_count(r.out, "unsafe") +
                        json_count(r.out, "errors") + json_count(r.out, "resumable") +
                        json_count(r.out, "cut_short"));
    CU_ASSERT_EQUAL(json_count(r.out, "cancelled"), json_count(r.out, "interrupted"));
    if (json_count(r.out, "resumable") != 1)
        printf("\n  %s", r.out);
    CU_ASSERT(tu_exists(resumable));
    tu_left_as_trash(root, tu_join(root, "spill_1000_5"));
    spill_close(live);
}

/* One orphan whose only file is its .lock: "1 file", not "1 files". */
static void test_reap_one_file(void)
{
    const char *root = tu_fresh_dir("cli-one-file");
    cli_result r;
    tu_make_spill_dir(root, 1000, 1, 0, record(4242, "one"));
    r = run("reap", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " freed in 1 file; kept "));
}

/* Nothing a terminal acts on and nothing that is not UTF-8: every byte of s is printable
 * UTF-8 or a line's end; no C1 control (U+0080..U+009F) and no bidirectional override or
 * isolate (U+202A..U+202E, U+2066..U+2069). */
static int clean_text(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned long cp;
        int n, i;
        if (*s < 0x80) {
            if ((*s < 0x20 && *s != '\n') || *s == 0x7f)
                return 0;
            s++;
            continue;
        }
        n = *s >= 0xf0 && *s <= 0xf4 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc2 && *s <= 0xdf ? 2 : 0;
        if (!n || (n == 3 && *s > 0xef))
            return 0;
        cp = *s & (0x7f >> n);
        for (i = 1; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) ||
            (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            return 0;
        s += n;
    }
    return 1;
}

/* What the program printed is clean, and stderr holds at most `err_lines` lines. */
static void assert_clean(cli_result r, int err_lines, const char *what)
{
    CU_ASSERT(clean_text(r.out));
    CU_ASSERT(clean_text(r.err));
    CU_ASSERT(lines(r.err) <= err_lines);
    if (!clean_text(r.out) || !clean_text(r.err) || lines(r.err) > err_lines)
        printf("\n  %s printed raw bytes or broke a line:\n%s---\n%s", what, r.out, r.err);
}

/* ESC, a C1 CSI (U+009B), RIGHT-TO-LEFT OVERRIDE (U+202E), an isolate (U+2066), DEL, an
 * overlong '/', a surrogate (U+D800), a sequence cut short: the bytes a hostile name holds. */
#define HOSTILE "e\x1b[31m-c1\xc2\x9b" "2J-bidi\xe2\x80\xae\xe2\x81\xa6-del\x7f-over\xc0\xaf" \
                "-sur\xed\xa0\x80-cut\xe2\x80"

/* A directory named with ESC and a newline inside an orphan that fails to reap: the error
 * line is one line, escaped. */
static void test_hostile_name_in_error(void)
{
    /* every level so named: the walker's error names the level where it gave up */
    const char *orphan, *root = deep_orphan_root("cli-hostile-name", "a\x1b]0;owned\x07\nb",
                                                 &orphan);
    cli_result r;
    r = run("reap", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    CU_ASSERT_EQUAL(lines(r.err), 1);
    assert_clean(r, 1, "reap of a hostile name");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "a\\x1b]0;owned\\x07\\x0ab"));
    if (!strstr(r.err, "a\\x1b]0;owned\\x07\\x0ab"))
        printf("\n  stderr: %s", r.err);
    tu_left_as_trash(root, orphan);
}

/* promtool on PATH (Debian's package prometheus has it), or NULL. */
static const char *promtool(void)
{
    const char *path = getenv("PATH"), *end;
    for (; path && *path; path = *end ? end + 1 : end) {
        const char *dir, *tool;
        end = strchr(path, ':') ? strchr(path, ':') : path + strlen(path);
        dir = apr_pstrndup(tu_pool, path, (apr_size_t)(end - path));
        tool = tu_join(*dir ? dir : ".", "promtool");
        if (access(tool, X_OK) == 0)
            return tool;
    }
    return NULL;
}

/* `promtool check metrics` accepts text (skipped, saying why, without promtool). */
static void promtool_accepts(const char *text)
{
    const char *argv[] = {promtool(), "check", "metrics", NULL};
    apr_size_t n = strlen(text);
    cli_result r;
    tu_proc p;
    if (!argv[0]) {
        printf("\n  promtool check skipped: no promtool on PATH (Debian: apt-get install "
               "prometheus)\n");
        return;
    }
    spawn(&p, NULL, argv, 1);
    CU_ASSERT(apr_file_write_full(p.in, text, n, NULL) == APR_SUCCESS);
    apr_file_close(p.in);
    r.out = read_all(p.out);
    r.err = read_all(p.proc.err);
    r.code = wait_bounded(&p.proc);
    apr_file_close(p.out);
    apr_file_close(p.proc.err);
    CU_ASSERT_EQUAL(r.code, 0);
    if (r.code != 0)
        printf("\n  promtool rejected:\n%s---\n%s%s", text, r.out, r.err);
}

/* A root and a tag made of hostile bytes: every command's output is clean, JSON stays valid,
 * and the error lines of a missing root too. */
static void test_hostile_root_and_tag(void)
{
    const char *root = tu_join(tu_fresh_dir("cli-hostile-root"), HOSTILE);
    const char *missing = tu_join(root, HOSTILE);
    cli_result r;
    CU_ASSERT_FATAL(apr_dir_make(root, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                 tu_pool) == APR_SUCCESS);
    tu_make_spill_dir(root, 1000, 1, 1, record(4242, HOSTILE "\nnext line"));
    r = run("ls", "--root", root, NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    assert_clean(r, 0, "ls");
    CU_ASSERT_EQUAL(lines(r.out), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "e\\x1b[31m-c1\\u{009B}2J-bidi\\u{202E}\\u{2066}-del"
                                         "\\x7f-over\\xc0\\xaf-sur\\xed\\xa0\\x80-cut\\xe2\\x80"));
    r = run("ls", "--root", root, "--json", NULL);
    assert_clean(r, 0, "ls --json");
    CU_ASSERT(tu_json_valid(r.out));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\\u009b"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\\u202e"));
    r = run("ls", "--root", root, "--prometheus", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    assert_clean(r, 0, "ls --prometheus");
    r = run("reap", "--root", root, "--dry-run", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    assert_clean(r, 0, "reap --dry-run");
    CU_ASSERT_EQUAL(lines(r.out), 1);
    r = run("reap", "--root", root, "--progress", "--json", NULL);
    CU_ASSERT_EQUAL(r.code, 0);
    CU_ASSERT(tu_json_valid(r.out));
    CU_ASSERT(clean_text(r.out));
    CU_ASSERT(!strchr(r.err, '\x1b') || strstr(r.err, "\x1b[K")); /* only the line's own */
    r = run("ls", "--root", missing, NULL);
    CU_ASSERT_EQUAL(r.code, 1);
    assert_clean(r, 1, "ls of a missing hostile root");
    r = run("reap", "--root", missing, NULL);
    assert_clean(r, 1, "reap of a missing hostile root");
    r = run("ls", "--root", missing, "--prometheus", NULL);
    assert_clean(r, 1, "ls --prometheus of a missing hostile root");
    promtool_accepts(run("ls", "--root", root, "--prometheus", NULL).out);
    promtool_accepts(run("ls", "--root", missing, "--prometheus", NULL).out);
    r = run("frobnicate" HOSTILE, NULL);
    CU_ASSERT_EQUAL(r.code, 2);
    assert_clean(r, 1, "an unknown hostile command");
}
#endif

static CU_TestInfo tests[] = {
    {"bad usage exits 2 with one line on stderr", test_usage_errors},
    {"--help and --version", test_help_and_version},
    {"ls: a table of every state, oldest first", test_ls_table},
    {"ls --json: valid, escaped, null when unknown", test_ls_json},
    {"reap --json: counts, and only orphans go", test_reap_counts},
    {"reap --dry-run reports the same and removes nothing", test_dry_run_removes_nothing},
    {"reap with an error exits 1 naming the path", test_reap_errors_exit_1},
    {"ls shows an orphan nested too deep as an error, with why", test_ls_deep_orphan_is_an_error},
    {"ROOT from $SPILL_ROOT, --root first", test_root_from_environment},
    {"hold + SIGTERM mid-upload leaves nothing", test_hold_sigterm_leaves_nothing},
    {"hold + SIGKILL leaves an orphan that reap removes",
     test_hold_sigkill_leaves_orphan_reap_removes},
    {"dry run and real run: live, orphan, young, unsafe", test_dry_run_same_counts},
#ifndef _WIN32
    {"dry run and real run: another user's root", test_dry_run_foreign_root},
    {"dry run and real run: a .lock the reaper may not open", test_dry_run_unopenable_lock},
    {"dry run and real run: a root others can write to", test_dry_run_loose_root},
    {"reap --as-owner: root reaps a user's root as that user", test_as_owner_reaps_as_the_owner},
    {"reap --as-owner: the owner's rights and no more", test_as_owner_has_only_the_owners_rights},
    {"--as-owner is refused when not root", test_as_owner_refused_when_not_root},
    {"ls --prometheus: per state, the root as a label", test_ls_prometheus},
    {"ls --prometheus --output: replaced atomically", test_ls_prometheus_output},
#endif
    {"demo keeps the live, reclaims the dead", test_demo},
    {"ls --json and the table: reserved and written, the root's totals and limit",
     test_ls_reserved},
    {"hold --expect and --limit refused at the open with the figures", test_hold_expect_refused},
    {"demo --reserve: two uploads start, the third is refused at once", test_demo_reserve},
    {"reap: progress line only on a terminal or --progress", test_progress_only_on_terminal_or_asked},
#ifndef _WIN32
    {"reap: progress line under a pseudo-terminal", test_progress_on_pty},
    {"reap: Ctrl-C stops it, exit 130", test_progress_interrupt},
#endif
    {"demo --resume: the killed upload resumed, its chunks not rewritten", test_demo_resume},
    {"demo --resume --zero-chunk: the zero-filled chunk rejected by verify and put again",
     test_demo_resume_zero_chunk},
    {"hold --adopt: a zero-filled chunk rejected by verify, the rest adopted",
     test_hold_adopt_rejects_zeroed},
#ifndef _WIN32
    {"a missing root is an error, unless --missing-ok", test_missing_root},
    {"reap --json: every count, and they add up", test_reap_json_adds_up},
    {"reap: 1 file, not 1 files", test_reap_one_file},
    {"ls --prometheus: spill_reserved_bytes and spill_limit_bytes", test_ls_prometheus_reserved},
    {"a hostile name in an error line: escaped, one line", test_hostile_name_in_error},
    {"a hostile root and tag: clean output everywhere", test_hostile_root_and_tag},
#endif
    CU_TEST_INFO_NULL,
};

test_suite suite_cli = {"cli", tests};
