/* tradebus up: a whole distributed run on this machine — each component
 * and the feed as a child process of their own, talking only through the
 * broker, their output prefixed with their name. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_up_help =
    "tradebus up --config FILE [--set SECTION.KEY=VALUE]... [--out DIR] [--state DIR]\n"
    "            [--resume] [--rate N]\n"
    "\n"
    "Starts a distributed run on this machine: the five components (signal,\n"
    "orders, positions, risk, monitor) and the feed, each its own process\n"
    "connected only through RabbitMQ ([bus] url; the config must say\n"
    "[bus] type = amqp); a [component.NAME] program runs as process NAME in the\n"
    "place of the built-ins it replaces (`tradebus component external`). Their\n"
    "output comes here, each line prefixed with the\n"
    "process's name. The run writes to --out DIR the summary.json, fills.csv and\n"
    "events.jsonl `tradebus backtest` writes for the same config (report.html:\n"
    "`tradebus report DIR`).\n"
    "\n"
    "A new run starts afresh: the run's queues on the broker ([bus] name) and the\n"
    "processes' state files are removed first. --resume keeps them, to continue a\n"
    "run that was interrupted. Ctrl-C stops every process cleanly (their state\n"
    "stays: `up --resume` continues). A process that fails stops the others.\n"
    "\n"
    "  --out DIR     where summary.json, fills.csv, events.jsonl go (default out)\n"
    "  --state DIR   the processes' state files (default [bus] state_dir)\n"
    "  --resume      continue the interrupted run instead of starting afresh\n"
    "  --rate N      the feed publishes at most N bars per second\n"
    "\n"
    "Every --set and --data reaches every process, however many there are, through\n"
    "a file in the state folder (DIR/<name>-up.args, mode 600, removed at the end)\n"
    "rather than their command lines: a password in --set bus.url=... never shows\n"
    "in `ps`.\n"
    "\n"
    "A private broker for the examples: sh scripts/broker.sh start /tmp/mq 5672\n"
    "\n"
    "Exit codes: 0 the run finished, 1 a process failed, 2 usage or config error,\n"
    "130 interrupted.\n";

typedef struct {
    const char *state_dir, *rate;
    int resume;
    const char *args_file; /* the --set/--data pairs, for the children */
} up_opts;

static int up_opt(const char *opt, const char *val, void *ctx)
{
    up_opts *u = ctx;
    if (!strcmp(opt, "--resume")) {
        u->resume = 1;
        return 1;
    }
    if (!strcmp(opt, "--state") || !strcmp(opt, "--rate")) {
        if (!val) {
            cli_usage_error("up: %s needs a value", opt);
            return -1;
        }
        if (!strcmp(opt, "--state"))
            u->state_dir = val;
        else
            u->rate = val;
        return 2;
    }
    return 0;
}

typedef struct {
    const char *role;
    pid_t pid;
    int fd; /* read end of its stdout+stderr */
    char line[4096];
    size_t len;
    int status, exited;
} child;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void flush_line(child *c, int force)
{
    for (;;) {
        char *nl = memchr(c->line, '\n', c->len);
        if (!nl && !(force && c->len) && c->len < sizeof(c->line)) return;
        size_t n = nl ? (size_t)(nl - c->line) : c->len;
        /* A component already prefixes its own lines (JSON lines carry
         * their component): don't say it twice. */
        char pre[32];
        int len = snprintf(pre, sizeof(pre), "[%s] ", c->role);
        int own = (n >= (size_t)len && !memcmp(c->line, pre, (size_t)len)) || cli_log_json();
        cli_printf("%s%.*s\n", own ? "" : pre, (int)n, c->line);
        size_t used = nl ? n + 1 : n;
        memmove(c->line, c->line + used, c->len - used);
        c->len -= used;
        if (!nl) return;
    }
}

static pid_t spawn(const char *self, char **argv, int *fd)
{
    int p[2];
    if (pipe(p) != 0) return -1;
    /* Only up reads a child's output: children started later must not hold
     * the read end (they would keep the pipe "read" after up is gone). */
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        /* Tied to up however up ends: a SIGKILL of up cannot run its
         * cleanup, so the kernel sends each child SIGTERM (a graceful
         * stop, resumable) when up is gone. up may already be gone. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(1);
        /* With up gone, its pipe has no reader: the lines a child writes
         * while it stops must fail (EPIPE), not kill it with SIGPIPE before
         * it has saved its state. Ignored dispositions survive execv. */
        signal(SIGPIPE, SIG_IGN);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(self, argv);
        cli_eprintf("cannot start %s: %s\n", self, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

/* Writes every --set/--data pair of argv, in order, to PATH (mode 0600,
 * through a temporary file renamed over it): the children read them there
 * (--args-file) rather than on their command lines, where any user's `ps`
 * would show a password given as --set bus.url=amqp://user:pw@host/. */
static int write_args_file(const char *path, int argc, char **argv)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%.4200s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) goto fail;
    /* A file left by an older run may have looser bits: 0600 whatever the
     * umask or the past said. */
    if (fchmod(fd, 0600) != 0) goto fail_fd;
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--set") && strcmp(argv[i], "--data")) continue;
        for (int k = 0; k < 2; k++) {
            const char *w = argv[i + k]; /* the option, then its value */
            size_t len = strlen(w) + 1, done = 0;
            while (done < len) {
                ssize_t n = write(fd, w + done, len - done);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) goto fail_fd;
                done += (size_t)n;
            }
        }
        i++;
    }
    if (close(fd) != 0) goto fail;
    if (rename(tmp, path) != 0) goto fail;
    return 0;
fail_fd:;
    int e = errno;
    close(fd);
    errno = e;
fail:
    e = errno;
    cli_eprintf("tradebus up: cannot write %s: %s\n", path, strerror(e));
    unlink(tmp);
    return EXIT_RUNTIME;
}

/* The same command line for each process: the config and the --set
 * overrides (by file), so every process builds the same run. */
static char **child_argv(const char *self, const char *cmd, const char *role, const char *shard,
                         const cli_run *r, const up_opts *u, char **buf)
{
    int n = 0;
    buf[n++] = (char *)self;
    buf[n++] = (char *)cmd;
    if (role) buf[n++] = (char *)role;
    /* A [component.NAME] program's process: `component external --name NAME`. */
    for (size_t i = 0; role && i < r->cfg.ncomponents; i++)
        if (!strcmp(r->cfg.components[i].name, role)) {
            buf[n - 1] = "external";
            buf[n++] = "--name";
            buf[n++] = (char *)role;
            shard = NULL;
        }
    if (shard) {
        buf[n++] = "--shard";
        buf[n++] = (char *)shard;
    }
    buf[n++] = "--config";
    buf[n++] = (char *)r->config_path;
    buf[n++] = "--args-file";
    buf[n++] = (char *)u->args_file;
    if (role) {
        buf[n++] = "--out";
        buf[n++] = (char *)r->out;
    }
    if (u->state_dir) {
        buf[n++] = "--state";
        buf[n++] = (char *)u->state_dir;
    }
    if (!role && u->rate) {
        buf[n++] = "--rate";
        buf[n++] = (char *)u->rate;
    }
    if (r->quiet) buf[n++] = "--quiet";
    buf[n] = NULL;
    return buf;
}

int cmd_up(int argc, char **argv)
{
    cli_run r;
    up_opts u;
    memset(&u, 0, sizeof(u));
    int code = cli_parse_run(argc, argv, &r, cli_up_help, up_opt, &u);
    if (code >= 0) return code;
    const tb_transport_type *tt = r.cfg.transport;
    if (!tt->create) {
        cli_eprintf("tradebus up: %s: [bus] type is %s, so there is nothing to distribute: run\n"
                    "  tradebus backtest --config %s\n"
                    "or switch the config to RabbitMQ with\n  [bus]\n  type = amqp\n",
                    r.config_path, tt->name, r.config_path);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        cli_eprintf("tradebus up: cannot find my own executable: %s\n", strerror(errno));
        tb_config_free(&r.cfg);
        return EXIT_RUNTIME;
    }
    self[sl] = 0;
    char roles[CLI_MAX_PROCS][TB_NODE_NAME_LEN];
    size_t nroles = tb_node_processes(&r.cfg, roles, CLI_MAX_PROCS);
    if (!u.resume) {
        tb_transport_params tp;
        char err[512] = "";
        int rc = 0;
        /* A queue can only be deleted by name: one call per process. */
        for (size_t i = 0; i < nroles && !rc; i++) {
            tb_config_transport_params(&r.cfg, roles[i], &tp);
            rc = tb_transport_delete_run(tt, &tp, err, sizeof(err));
        }
        if (rc == TB_ENOTSUP) {
            cli_eprintf("tradebus up: cannot start afresh: %s (--resume continues a run)\n", err);
            tb_config_free(&r.cfg);
            return EXIT_USAGE;
        }
        if (rc) {
            char url[512];
            tb_transport_describe(tt, &tp, url, sizeof(url));
            cli_eprintf("tradebus up: cannot reach the broker at %s: %s\n", url, err);
            tb_config_free(&r.cfg);
            return EXIT_RUNTIME;
        }
        for (size_t i = 0; i < nroles; i++) {
            char state[4096], extra[4200];
            if (cli_dist_state_path(&r.cfg, u.state_dir, roles[i], state, sizeof(state))) {
                tb_config_free(&r.cfg);
                return EXIT_RUNTIME;
            }
            remove(state);
            snprintf(extra, sizeof(extra), "%s-wal", state);
            remove(extra);
            snprintf(extra, sizeof(extra), "%s-shm", state);
            remove(extra);
        }
    }
    /* Next to the processes' state files, which are as private. */
    char args_path[4200];
    if (cli_dist_state_file(&r.cfg, u.state_dir, "up.args", args_path, sizeof(args_path)) ||
        write_args_file(args_path, argc, argv)) {
        tb_config_free(&r.cfg);
        return EXIT_RUNTIME;
    }
    u.args_file = args_path;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    child kids[CLI_MAX_PROCS];
    int nk = 0, failed = 0;
    memset(kids, 0, sizeof(kids));
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Components first: each declares its queue; the feed waits for them. */
    for (size_t i = 0; i < nroles; i++) {
        char *buf[160];
        int feed = !strcmp(roles[i], "feed");
        /* "signal-2": the signal component, shard 2 */
        char role[24];
        snprintf(role, sizeof(role), "%.23s", roles[i]);
        char *dash = strncmp(role, "signal-", 7) == 0 ? strchr(role, '-') : NULL;
        if (dash) *dash++ = 0;
        char **cav =
            child_argv(self, feed ? "feed" : "component", feed ? NULL : role, dash, &r, &u, buf);
        kids[nk].role = roles[i];
        kids[nk].pid = spawn(self, cav, &kids[nk].fd);
        if (kids[nk].pid < 0) {
            cli_eprintf("tradebus up: cannot start %s: %s\n", roles[i], strerror(errno));
            failed = 1;
            break;
        }
        nk++;
    }
    int running = nk, stopping = 0;
    while (running > 0) {
        if ((interrupted || failed) && !stopping) {
            stopping = 1;
            for (int i = 0; i < nk; i++)
                if (!kids[i].exited) kill(kids[i].pid, SIGTERM);
        }
        struct pollfd pf[CLI_MAX_PROCS];
        int map[CLI_MAX_PROCS], np = 0;
        for (int i = 0; i < nk; i++)
            if (kids[i].fd >= 0) {
                pf[np].fd = kids[i].fd;
                pf[np].events = POLLIN;
                map[np++] = i;
            }
        if (np && poll(pf, (nfds_t)np, 200) > 0) {
            for (int k = 0; k < np; k++) {
                if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                child *c = &kids[map[k]];
                ssize_t got = read(c->fd, c->line + c->len, sizeof(c->line) - c->len);
                if (got > 0) {
                    c->len += (size_t)got;
                    flush_line(c, 0);
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    flush_line(c, 1);
                    close(c->fd);
                    c->fd = -1;
                }
            }
        } else if (!np) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
        for (int i = 0; i < nk; i++) {
            if (kids[i].exited) continue;
            int st;
            pid_t w = waitpid(kids[i].pid, &st, WNOHANG);
            if (w != kids[i].pid) continue;
            kids[i].exited = 1;
            kids[i].status = st;
            running--;
            int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (!ok && !stopping) {
                if (WIFSIGNALED(st))
                    cli_eprintf("tradebus up: %s was killed by signal %d; stopping the others\n",
                                kids[i].role, WTERMSIG(st));
                else
                    cli_eprintf("tradebus up: %s failed (exit %d); stopping the others\n",
                                kids[i].role, WEXITSTATUS(st));
                failed = 1;
            }
        }
    }
    for (int i = 0; i < nk; i++)
        if (kids[i].fd >= 0) close(kids[i].fd);
    /* Every child has read it (they all exited): a password need not stay
     * on disk longer than the run. */
    unlink(args_path);
    tb_config_free(&r.cfg);
    if (interrupted) {
        cli_eprintf("tradebus up: interrupted; `tradebus up --resume` continues the run\n");
        return 130;
    }
    return failed ? EXIT_RUNTIME : 0;
}
