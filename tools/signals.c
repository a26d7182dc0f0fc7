/* signals.c: stop requests for `hold`, stopping its children for `demo`, Ctrl-C and the terminal
 * test for `reap`'s progress; the program's only OS-specific file. POSIX: SIGINT/SIGTERM through a self-pipe; Windows: a named event, which
 * a console handler sets too. */
#include "cli.h"

#ifndef _WIN32

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <apr_time.h>

/* The handler only writes a byte: the one thing async-signal-safe enough to wake a poll. */
static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
    int saved = errno;
    char c = (char)sig;
    (void)!write(stop_pipe[1], &c, 1);
    errno = saved;
}

static int nonblocking_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0
               ? -1
               : 0;
}

int spill__cli_catch_stop(void)
{
    struct sigaction sa;
    if (pipe(stop_pipe) != 0 || nonblocking_cloexec(stop_pipe[0]) != 0 ||
        nonblocking_cloexec(stop_pipe[1]) != 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    /* a reader of our stdout that goes away must not kill us (and orphan the spill) */
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int spill__cli_wait_stop(long ms)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(ms < 0 ? 0 : ms);
    struct pollfd p;
    for (;;) {
        long left = ms < 0 ? -1 : (long)apr_time_as_msec(deadline - apr_time_now());
        int n;
        if (ms >= 0 && left < 0)
            left = 0;
        p.fd = stop_pipe[0];
        p.events = POLLIN;
        p.revents = 0;
        n = poll(&p, 1, (int)left);
        if (n > 0)
            return 1; /* the byte stays in the pipe: every later wait returns at once */
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return 1; /* cannot wait: treat as a stop rather than spin */
    }
}

int spill__cli_stop_child(apr_proc_t *p)
{
    return apr_proc_kill(p, SIGTERM) == APR_SUCCESS ? 0 : -1;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

int spill__cli_catch_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(SIGINT, &sa, NULL) == 0 ? 0 : -1;
}

int spill__cli_interrupted(void)
{
    return interrupted != 0;
}

int spill__cli_stderr_is_terminal(void)
{
    return isatty(STDERR_FILENO);
}

int spill__cli_kill_child(apr_proc_t *p)
{
    return apr_proc_kill(p, SIGKILL) == APR_SUCCESS ? 0 : -1;
}

#else /* _WIN32 */

#include <io.h>
#include <stdio.h>
#include <windows.h>

/* The stop request: a named event per process, so that `demo` can ask one holder to close (a
 * console event reaches only a child in its own process group, which apr_proc_create does not
 * make); Ctrl-C, Ctrl-Break and closing the console set it too. */
static HANDLE stop_event;

static void event_name(wchar_t *buf, size_t n, unsigned long pid)
{
    _snwprintf(buf, n, L"Local\\spill-hold-stop-%lu", pid);
    buf[n - 1] = L'\0';
}

static BOOL WINAPI on_ctrl(DWORD type)
{
    (void)type; /* Ctrl-C, Ctrl-Break, console close: all ask for a graceful close */
    SetEvent(stop_event);
    return TRUE;
}

int spill__cli_catch_stop(void)
{
    wchar_t name[64];
    event_name(name, sizeof name / sizeof name[0], (unsigned long)GetCurrentProcessId());
    stop_event = CreateEventW(NULL, TRUE, FALSE, name);
    if (!stop_event || !SetConsoleCtrlHandler(on_ctrl, TRUE))
        return -1;
    return 0;
}

int spill__cli_wait_stop(long ms)
{
    return WaitForSingleObject(stop_event, ms < 0 ? INFINITE : (DWORD)ms) != WAIT_TIMEOUT;
}

int spill__cli_stop_child(apr_proc_t *p)
{
    wchar_t name[64];
    HANDLE ev;
    BOOL ok;
    event_name(name, sizeof name / sizeof name[0], (unsigned long)p->pid);
    if (!(ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, name)))
        return -1; /* not a holder, or not yet listening */
    ok = SetEvent(ev);
    CloseHandle(ev);
    return ok ? 0 : -1;
}

int spill__cli_kill_child(apr_proc_t *p)
{
    return apr_proc_kill(p, 9) == APR_SUCCESS ? 0 : -1; /* TerminateProcess */
}

static volatile LONG interrupted;

static BOOL WINAPI on_interrupt(DWORD type)
{
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT)
        return FALSE;
    InterlockedExchange(&interrupted, 1);
    return TRUE;
}

int spill__cli_catch_interrupt(void)
{
    return SetConsoleCtrlHandler(on_interrupt, TRUE) ? 0 : -1;
}

int spill__cli_interrupted(void)
{
    return InterlockedCompareExchange(&interrupted, 0, 0) != 0;
}

int spill__cli_stderr_is_terminal(void)
{
    return _isatty(_fileno(stderr));
}

#endif
