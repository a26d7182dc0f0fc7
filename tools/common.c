/* common.c: what every command needs: option parsing on apr_getopt_long, the root, numbers,
 * and errors reported as one line on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include "cli.h"

/* apr_getopt_long's message ("spill reap: invalid option: --x\n"), kept to one line with a
 * pointer to the help. */
static void getopt_error(void *arg, const char *fmt, ...)
{
    char msg[512];
    size_t n;
    va_list ap;
    (void)arg;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    spill__cli_line(stderr, "%s (see spill --help)", msg);
}

apr_getopt_t *spill__cli_getopt(apr_pool_t *pool, int argc, const char *const *argv)
{
    const char **args = apr_pcalloc(pool, ((size_t)argc + 1) * sizeof *args);
    apr_getopt_t *os;
    int i;
    /* APR names the program by argv[0] in its messages: make that "spill reap" */
    args[0] = apr_pstrcat(pool, "spill ", argv[0], NULL);
    for (i = 1; i < argc; i++)
        args[i] = argv[i];
    if (apr_getopt_init(&os, pool, argc, args) != APR_SUCCESS)
        return NULL;
    os->errfn = getopt_error;
    return os;
}

int spill__cli_next(apr_getopt_t *os, const apr_getopt_option_t *opts, int *id,
                    const char **arg)
{
    apr_status_t rv = apr_getopt_long(os, opts, id, arg);
    if (rv == APR_SUCCESS)
        return 1;
    if (rv != APR_EOF)
        return -1;
    if (os->ind < os->argc) {
        spill__cli_usage_error(os->argv[0] + strlen("spill "), "unexpected argument: %s",
                               os->argv[os->ind]);
        return -1;
    }
    return 0;
}

int spill__cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    spill__cli_line(stderr, "spill%s%s: %s (see spill --help)", cmd ? " " : "", cmd ? cmd : "",
                    msg);
    return SPILL_CLI_USAGE;
}

int spill__cli_number(const char *cmd, const char *opt, const char *arg, uint64_t max,
                      uint64_t *out)
{
    char *end;
    unsigned long long v;
    /* strtoull accepts a sign and leading spaces; an option value is digits only */
    if (arg[0] < '0' || arg[0] > '9') {
        spill__cli_usage_error(cmd, "--%s wants a number, not '%s'", opt, arg);
        return 0;
    }
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (*end != '\0' || errno == ERANGE || v > max) {
        if (*end == '\0')
            spill__cli_usage_error(cmd, "--%s %s is too large (at most %llu)", opt, arg,
                                   (unsigned long long)max);
        else
            spill__cli_usage_error(cmd, "--%s wants a number, not '%s'", opt, arg);
        return 0;
    }
    *out = v;
    return 1;
}

const char *spill__cli_root(apr_pool_t *pool, const char *cmd, const char *given)
{
    const char *env = getenv("SPILL_ROOT");
    char buf[4096];
    if (given)
        return given;
    if (env && *env)
        return env;
    if (spill_default_root("spill", buf, sizeof buf) != SPILL_OK) {
        spill__cli_fail(cmd, "default root");
        return NULL;
    }
    return apr_pstrdup(pool, buf);
}

int spill__cli_fail(const char *cmd, const char *path)
{
    const spill_error *e = spill_error_last();
    const char *hint = spill__cli_as_owner_hint(cmd, e->message);
    /* the library's message names its own path when it has one; say which root it was about */
    if (e->path && *e->path && strstr(e->message, e->path))
        spill__cli_line(stderr, "spill %s: %s%s", cmd, e->message, hint);
    else if (e->path && *e->path)
        spill__cli_line(stderr, "spill %s: %s: %s%s", cmd, e->path, e->message, hint);
    else
        spill__cli_line(stderr, "spill %s: %s: %s%s", cmd, path, e->message, hint);
    return SPILL_CLI_ERRORS;
}

int spill__cli_root_missing(apr_pool_t *pool, const char *root)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, root, APR_FINFO_TYPE, pool);
    /* there, or a failure the library reports with its reason, is not missing */
    return APR_STATUS_IS_ENOENT(rv) || APR_STATUS_IS_ENOTDIR(rv);
}

int spill__cli_missing(apr_pool_t *pool, const char *cmd, const char *root, int missing_ok)
{
    if (missing_ok || !spill__cli_root_missing(pool, root))
        return 0;
    spill__cli_line(stderr, "spill %s: %s does not exist (--missing-ok: nothing to do then)",
                    cmd, root);
    return 1;
}

void spill__cli_log(void *cmd, int level, const char *msg)
{
    /* errors and warnings only: what a person at the terminal should act on */
    if (level <= 1)
        spill__cli_line(stderr, "spill %s: %s%s", (const char *)cmd,
                        level == 0 ? "" : "warning: ", msg);
}

const char *spill__cli_base_name(const char *path)
{
    const char *slash = strrchr(path, '/'), *back = strrchr(path, '\\');
    if (back && (!slash || back > slash))
        slash = back;
    return slash ? slash + 1 : path;
}

const char *spill__cli_read_all(apr_pool_t *pool, apr_file_t *f)
{
    char *acc = "", buf[4096];
    apr_size_t n;
    for (;;) {
        n = sizeof buf - 1;
        if (apr_file_read(f, buf, &n) != APR_SUCCESS || n == 0)
            break;
        buf[n] = '\0';
        acc = apr_pstrcat(pool, acc, buf, NULL);
    }
    return acc;
}

int spill__cli_start_self(apr_pool_t *pool, const char *const *argv, int err_piped,
                          apr_proc_t *proc)
{
    apr_procattr_t *attr;
    if (apr_procattr_create(&attr, pool) != APR_SUCCESS ||
        apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK,
                            err_piped ? APR_FULL_BLOCK : APR_NO_PIPE) != APR_SUCCESS ||
        apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH) != APR_SUCCESS ||
        apr_proc_create(proc, spill__cli_self, argv, NULL, attr, pool) != APR_SUCCESS) {
        spill__cli_line(stderr, "spill demo: cannot start %s hold", spill__cli_self);
        return -1;
    }
    return 0;
}
