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
#include "../core/proc.h"
#include "tradebus/parity.h"
#include "migration_int.h"

#define NS_PER_MS INT64_C(1000000)

void tb_legacy_cmd_options_init(tb_legacy_cmd_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->timeout_ms = TB_LEGACY_CMD_TIMEOUT_MS;
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
            int64_t left = s->deadline - tb__mono_ns();
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

static void timeout_msg(char *err, size_t errlen, const char *cmd, int64_t ms)
{
    if (ms % 1000 == 0)
        tb__errf(err, errlen, "legacy command '%s' did not finish within %lld s", cmd,
                 (long long)(ms / 1000));
    else
        tb__errf(err, errlen, "legacy command '%s' did not finish within %.3f s", cmd,
                 (double)ms / 1000.0);
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
    int fd3[3] = {-1, fds[1], -1};
    int src = tb__spawn_sh(cmd, fd3, &pid);
    close(fds[1]);
    if (src) {
        close(fds[0]);
        tb__errf(err, errlen, "legacy command '%s': cannot run /bin/sh: %s", cmd, strerror(src));
        return TB_EIO;
    }
    pipe_src ps = {fds[0],
                   opt->timeout_ms > 0 ? tb__mono_ns() + opt->timeout_ms * NS_PER_MS : INT64_MAX,
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
        int w = tb__wait_until(pid, ps.deadline, opt->stop, &status);
        if (w == 0) rc = opt->stop && *opt->stop ? TB_ECANCELED : TB_ETIMEOUT;
        if (w < 0) {
            tb__errf(err, errlen, "legacy command '%s': cannot wait for it: %s", cmd,
                     strerror(errno));
            return TB_EIO;
        }
    }
    if (rc != 0) {
        tb__kill_and_reap(pid);
        if (rc == TB_ETIMEOUT)
            timeout_msg(err, errlen, cmd, opt->timeout_ms);
        else if (rc == TB_ECANCELED)
            tb__errf(err, errlen, "interrupted: legacy command '%s' stopped", cmd);
        else if (rc == TB_ENOMEM && !(err && err[0]))
            tb__errf(err, errlen, "legacy command '%s': out of memory", cmd);
        return rc;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char how[96];
    tb__wait_status_text(status, how, sizeof(how));
    if (WIFEXITED(status))
        tb__errf(err, errlen, "legacy command '%s' failed (%s)", cmd, how);
    else
        tb__errf(err, errlen, "legacy command '%s' was %s", cmd, how);
    return TB_EIO;
}
