/* The legacy side from a command: `parity --legacy-cmd`. The command is
 * somebody else's program, so nothing it does may hang or exhaust tradebus:
 * its lines are bounded (linereader.h), the whole run has a deadline (a
 * command that closes its stdout and keeps running, or stops writing, is
 * killed), and how it ended is reported as it happened (exit status, or
 * the signal that killed it). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/errbuf.h"
#include "tradebus/parity.h"
#include "migration_int.h"

extern char **environ;

#define NS_PER_MS INT64_C(1000000)

void tb_legacy_cmd_options_init(tb_legacy_cmd_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->timeout_ms = TB_LEGACY_CMD_TIMEOUT_MS;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct {
    int fd;
    int64_t deadline; /* monotonic ns; INT64_MAX: none */
    const volatile sig_atomic_t *stop;
} pipe_src;

/* read() that gives up at the deadline (TB_ETIMEOUT). */
static ssize_t read_until(void *ctx, char *buf, size_t n)
{
    pipe_src *s = ctx;
    for (;;) {
        int wait_ms = -1;
        if (s->deadline != INT64_MAX) {
            int64_t left = s->deadline - now_ns();
            if (left <= 0) return TB_ETIMEOUT;
            left = (left + NS_PER_MS - 1) / NS_PER_MS;
            wait_ms = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {s->fd, POLLIN, 0};
        int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno != EINTR) return TB_EIO;
        if (s->stop && *s->stop) return TB_ECANCELED;
        if (r <= 0) continue; /* EINTR, or a slice of the wait is over */
        ssize_t got = read(s->fd, buf, n);
        if (got >= 0) return got;
        if (errno != EINTR && errno != EAGAIN) return TB_EIO;
    }
}

/* Waits for pid until the deadline: 1 with *status, 0 if still running at
 * the deadline, -1 on a waitpid error. */
static int wait_until(pid_t pid, int64_t deadline, const volatile sig_atomic_t *stop, int *status)
{
    long nap_ns = 1000000; /* 1 ms, doubling to 100 ms: quick commands end quickly */
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (stop && *stop) return 0;
        int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - now_ns();
        if (left <= 0) return 0;
        struct timespec ts = {0, left < nap_ns ? (long)left : nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 100000000) nap_ns *= 2;
    }
}

/* The whole process group: the shell and whatever it started. */
static void kill_and_reap(pid_t pid)
{
    if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].sig == sig) return names[i].name;
    return NULL;
}

static void timeout_msg(char *err, size_t errlen, const char *cmd, int64_t ms)
{
    if (ms % 1000 == 0)
        tb__errf(err, errlen, "legacy command '%s' did not finish within %lld s", cmd,
                 (long long)(ms / 1000));
    else
        tb__errf(err, errlen, "legacy command '%s' did not finish within %.3f s", cmd,
                 (double)ms / 1000.0);
}

static int spawn(const char *cmd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE); /* a writer to a closed log should die, not spin */
    /* Its own process group, so that a timeout kills everything the
     * command started, not only the shell. */
    if (!(rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)) &&
        !(rc = posix_spawnattr_setpgroup(&attr, 0)) &&
        !(rc = posix_spawnattr_setsigdefault(&attr, &def)) &&
        !(rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF))) {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int tb_parity_add_legacy_cmd(tb_parity *p, const char *cmd, const tb_legacy_cmd_options *opt,
                             FILE *copy, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!p || !cmd) return TB_EINVAL;
    tb_legacy_cmd_options defaults;
    if (!opt) {
        tb_legacy_cmd_options_init(&defaults);
        opt = &defaults;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        tb__errf(err, errlen, "legacy command '%s': cannot make a pipe: %s", cmd, strerror(errno));
        return TB_EIO;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC); /* dup2 onto stdout clears it in the child */
    fflush(NULL);                       /* the child must not write our buffered output again */
    pid_t pid;
    int src = spawn(cmd, fds[1], &pid);
    close(fds[1]);
    if (src) {
        close(fds[0]);
        tb__errf(err, errlen, "legacy command '%s': cannot run /bin/sh: %s", cmd, strerror(src));
        return TB_EIO;
    }
    pipe_src ps = {fds[0], opt->timeout_ms > 0 ? now_ns() + opt->timeout_ms * NS_PER_MS : INT64_MAX,
                   opt->stop};
    tb__lr lr;
    int rc = tb__lr_init(&lr, TB__MAX_LINE, read_until, &ps);
    if (rc == 0) {
        rc = tb__parity_add_legacy_lines(p, &lr, "--legacy-cmd output", copy, err, errlen);
        tb__lr_close(&lr);
    }
    close(fds[0]);
    int status = 0;
    if (rc == 0) {
        /* Its stdout is closed, but it may still run (or fail). */
        int w = wait_until(pid, ps.deadline, opt->stop, &status);
        if (w == 0) rc = opt->stop && *opt->stop ? TB_ECANCELED : TB_ETIMEOUT;
        if (w < 0) {
            tb__errf(err, errlen, "legacy command '%s': cannot wait for it: %s", cmd,
                     strerror(errno));
            return TB_EIO;
        }
    }
    if (rc != 0) {
        kill_and_reap(pid);
        if (rc == TB_ETIMEOUT)
            timeout_msg(err, errlen, cmd, opt->timeout_ms);
        else if (rc == TB_ECANCELED)
            tb__errf(err, errlen, "interrupted: legacy command '%s' stopped", cmd);
        else if (rc == TB_ENOMEM && !(err && err[0]))
            tb__errf(err, errlen, "legacy command '%s': out of memory", cmd);
        return rc;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status)) {
        tb__errf(err, errlen, "legacy command '%s' failed (exit status %d)", cmd,
                 WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *n = signal_name(sig);
        tb__errf(err, errlen, "legacy command '%s' was killed by signal %d (%s)", cmd, sig,
                 n ? n : strsignal(sig));
    } else {
        tb__errf(err, errlen, "legacy command '%s' failed (wait status %d)", cmd, status);
    }
    return TB_EIO;
}
