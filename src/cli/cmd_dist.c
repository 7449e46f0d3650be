/* tradebus component | feed | status: a distributed run's processes, each
 * connected to RabbitMQ ([bus] type = amqp), and a look at them from the
 * broker. `tradebus up` (cmd_up.c) starts them all on one machine. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_component_help =
    "tradebus component ROLE --config FILE [--set SECTION.KEY=VALUE]... [--out DIR]\n"
    "                   [--state DIR]\n"
    "tradebus component external --name NAME --config FILE [...]\n"
    "\n"
    "Runs one component of a distributed run as its own process. ROLE is one of\n"
    "signal, orders, positions, risk, monitor; `external --name NAME` runs the\n"
    "program of [component.NAME] (docs/components.md) with the same protocol on\n"
    "its stdin and stdout as in one process, in the place of the built-ins it\n"
    "replaces (its queue is bound to what it subscribes to; its queue and state\n"
    "file are named NAME; it must replace one, and [bus] order must be strict).\n"
    "The config must say\n"
    "[bus] type = amqp;\n"
    "[bus] url names the broker (credentials: TRADEBUS_AMQP_USER and\n"
    "TRADEBUS_AMQP_PASSWORD when the URL has none; never logged).\n"
    "\n"
    "Every process of a run uses the same config file. The component consumes its\n"
    "own queue (<name>.<ROLE>, name from [bus] name), keeps its progress in\n"
    "DIR/<name>-<ROLE>.db (--state, default [bus] state_dir) and, killed at any\n"
    "moment, continues where it stopped when started again with the same command.\n"
    "The monitor writes summary.json, fills.csv and events.jsonl to --out DIR\n"
    "(default out/), identical to what `tradebus backtest` writes for the config\n"
    "(build report.html from them with `tradebus report DIR`).\n"
    "\n"
    "  --out DIR     monitor only: where the run's files go (default out)\n"
    "  --state DIR   where this process keeps its state (default [bus] state_dir)\n"
    "  --metrics-port PORT\n"
    "                serve Prometheus metrics (role label = ROLE) at\n"
    "                http://127.0.0.1:PORT/metrics (docs/monitoring.md)\n"
    "  --args-file FILE\n"
    "                more --set/--data, read from FILE (written by `tradebus up`,\n"
    "                so a password given with --set stays off every command line)\n"
    "  --accept-config-change\n"
    "                restarting with a changed config (a fix, e.g. a strategy the\n"
    "                positions process refused fills for): re-execute the saved\n"
    "                events under it instead of refusing; then `tradebus dlq replay`\n"
    "                brings back what was dead-lettered before the fix\n"
    "\n"
    "Exit codes: 0 the run finished, 1 runtime failure (broker, state), 2 usage or\n"
    "config error, 130 interrupted (start it again to continue).\n";

const char *const cli_feed_help =
    "tradebus feed --config FILE [--set SECTION.KEY=VALUE]... [--rate N]\n"
    "              [--state DIR]\n"
    "\n"
    "Publishes the config's market data to a distributed run, a bounded window\n"
    "([bus] window bars) ahead of the slowest component, and says when it ends.\n"
    "Waits until every component's queue exists. Restarted, it continues from the\n"
    "first bar not yet finished by every component.\n"
    "\n"
    "  --rate N      at most N bars per second (replaying history at a live pace)\n"
    "  --state DIR   where the feed keeps its state (default [bus] state_dir)\n"
    "  --args-file FILE\n"
    "                more --set/--data, read from FILE (written by `tradebus up`)\n";

const char *const cli_status_help =
    "tradebus status --config FILE [--set SECTION.KEY=VALUE]... [--state DIR]\n"
    "\n"
    "Shows each process of the run as the broker sees it: messages waiting in its\n"
    "queue, consumers attached, dead letters in its dead-letter queue, and, from\n"
    "the state files when they are on this machine, the bars it has finished and\n"
    "its rate over one second.\n";

/* SIGINT/SIGTERM arrive on the process's loop (polled between waits). */
static void on_signal(void *ctx, int signum)
{
    (void)signum;
    *(int *)ctx = 1;
}

int cli_parse_port(const char *cmd, const char *val, int *port)
{
    char *end;
    long p = val ? strtol(val, &end, 10) : -1;
    if (!val || *end || p < 0 || p > 65535) {
        cli_usage_error("%s: --metrics-port needs a port number (0-65535; 0 = any free)", cmd);
        return -1;
    }
    *port = (int)p;
    return 0;
}

int cli_dist_state_file(const tb_config *cfg, const char *dir, const char *name, char *out,
                        size_t outlen)
{
    if (!dir) dir = cfg->bus_state_dir ? cfg->bus_state_dir : "tradebus-state";
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_eprintf("tradebus: %s: cannot create the state directory: %s\n", dir, strerror(errno));
        return EXIT_RUNTIME;
    }
    snprintf(out, outlen, "%s/%s-%s", dir, cfg->bus_name ? cfg->bus_name : "tradebus", name);
    return 0;
}

int cli_dist_state_path(const tb_config *cfg, const char *dir, const char *role, char *out,
                        size_t outlen)
{
    char name[640];
    snprintf(name, sizeof(name), "%.600s.db", role);
    return cli_dist_state_file(cfg, dir, name, out, outlen);
}

static void log_line(const char *line, void *ctx)
{
    cli_log(CLI_LOG_INFO, (const char *)ctx, "%s", line);
}

typedef struct {
    const char *state_dir;
    double rate;
    int accept_config_change;
    int metrics_port; /* -1 = none */
    int shard;        /* signal: which of [bus] signal_shards, 1-based; 0 = none */
    const char *name; /* component external: the [component.NAME] */
} dist_opts;

static int dist_opt(const char *opt, const char *val, void *ctx)
{
    dist_opts *d = ctx;
    if (!strcmp(opt, "--accept-config-change")) {
        d->accept_config_change = 1;
        return 1;
    }
    if (!strcmp(opt, "--shard")) {
        char *end;
        long k = val ? strtol(val, &end, 10) : 0;
        if (!val || *end || k < 1 || k > TB_MAX_SHARDS) {
            cli_usage_error("--shard needs the shard's number (1 for the first of [bus] "
                            "signal_shards)");
            return -1;
        }
        d->shard = (int)k;
        return 2;
    }
    if (!strcmp(opt, "--metrics-port"))
        return cli_parse_port("component", val, &d->metrics_port) ? -1 : 2;
    if (!strcmp(opt, "--name")) {
        if (!val) {
            cli_usage_error("--name needs the NAME of a [component.NAME] section");
            return -1;
        }
        d->name = val;
        return 2;
    }
    if (!strcmp(opt, "--state") || !strcmp(opt, "--rate")) {
        if (!val) {
            cli_usage_error("%s needs a value", opt);
            return -1;
        }
        if (!strcmp(opt, "--state")) {
            d->state_dir = val;
        } else {
            char *end;
            d->rate = strtod(val, &end);
            if (*end || !(d->rate > 0)) {
                cli_usage_error("--rate: '%s' is not a positive number of bars per second", val);
                return -1;
            }
        }
        return 2;
    }
    return 0;
}

/* Shows the node's stall (tb_node_stalled) in the metrics when it starts,
 * changes or ends; shown holds what is shown ("" = not stalled). */
static void note_stall(tb_metrics *m, const tb_node *n, char *shown, size_t len)
{
    tb_node_stall st;
    char now[TB_NODE_MAX_PROCS * TB_NODE_NAME_LEN] = "";
    size_t at = 0;
    int stalled = tb_node_stalled(n, &st);
    for (size_t i = 0; stalled && i < st.nawaited && at < sizeof(now); i++)
        at += (size_t)snprintf(now + at, sizeof(now) - at, "%s%s", i ? "," : "", st.awaited[i]);
    if (!strcmp(now, shown)) return;
    tb_metrics_set_stall(m, now, stalled ? (double)st.since_ns / 1e9 : 0);
    snprintf(shown, len, "%s", now);
}

/* Runs one node until the run is over for it. */
static int run_node_on(cli_run *r, const char *role_arg, const dist_opts *d, tb_loop *loop,
                       const int *stop_flag)
{
    /* "signal-2" names shard 2's process: its queue, state file and lines */
    char name[TB_NODE_NAME_LEN];
    snprintf(name, sizeof(name), d->shard ? "%s-%d" : "%s", role_arg, d->shard);
    const char *role = name;
    char err[1024] = "", state[4096];
    const tb_transport_type *tt = r->cfg.transport;
    if (!tt->create) {
        cli_eprintf("tradebus: %s: [bus] type is %s; a distributed run needs type = amqp (add\n"
                    "  [bus]\n  type = amqp\nto the config, or --set bus.type=amqp)\n",
                    r->config_path, tt->name);
        return EXIT_USAGE;
    }
    int code = cli_dist_state_path(&r->cfg, d->state_dir, role, state, sizeof(state));
    if (code) return code;
    tb_node_options no;
    memset(&no, 0, sizeof(no));
    no.role = role_arg;
    no.component = d->name;
    no.shard = d->shard;
    no.state_path = state;
    no.out_dir = r->out;
    no.rate = d->rate;
    no.window = r->cfg.bus_window;
    no.log = log_line;
    no.log_ctx = (void *)role;
    no.loop = loop;
    no.accept_config_change = d->accept_config_change;
    tb_node *n = NULL;
    tb_transport *t = NULL;
    int rc = tb_node_create(&r->cfg, &no, &n, err, sizeof(err));
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: %s", role, err);
        return rc == TB_ECONFIG ? EXIT_USAGE : EXIT_RUNTIME;
    }
    tb_transport_params tp;
    tb_config_transport_params(&r->cfg, role, &tp);
    tp.nbindings = tb_node_bindings(n, &tp.bindings);
    char url[512];
    tb_transport_describe(tt, &tp, url, sizeof(url));
    /* The broker may still be starting (unreachable), or just started and
     * not yet able to place quorum queues (a refused declare): keep trying
     * until it answers, for a minute at most in the second case. */
    for (int tries = 0; (rc = tb_transport_open(tt, &tp, &t, err, sizeof(err))) == TB_ECONN ||
                        (rc == TB_EIO && tries < 120);
         tries++) {
        if (tries == 0) cli_log(CLI_LOG_WARN, role, "waiting for the broker at %s: %s", url, err);
        if (*stop_flag) break;
        struct timespec ts = {0, 500000000};
        nanosleep(&ts, NULL);
        tb_loop_poll(loop);
    }
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: %s", role, err[0] ? err : tb_strerror(rc));
        tb_node_destroy(n);
        return *stop_flag ? 130 : (rc == TB_ECONFIG ? EXIT_USAGE : EXIT_RUNTIME);
    }
    if (!strcmp(role, "feed")) {
        /* Bars published before every component's queue exists and is bound
         * would be unroutable: wait for each component to be consuming. */
        char procs[CLI_MAX_PROCS][TB_NODE_NAME_LEN];
        size_t np = tb_node_processes(&r->cfg, procs, CLI_MAX_PROCS);
        int warned = 0;
        for (size_t i = 0; i < np && !*stop_flag; i++) {
            if (!strcmp(procs[i], "feed")) continue;
            char q[640];
            long msgs, cons;
            snprintf(q, sizeof(q), "%s.%s", tp.run, procs[i]);
            /* A consumer on it means the component also bound it (bindings
             * come before consuming): a queue merely declared would let
             * the first bars go unrouted. A type that cannot tell is
             * trusted to route to queues that do not exist yet. */
            int qrc;
            while (
                !*stop_flag &&
                ((qrc = tb_transport_queue_info(tt, &tp, q, &msgs, &cons, err, sizeof(err))) != 0 ||
                 cons < 1) &&
                qrc != TB_ENOTSUP) {
                if (!warned++)
                    cli_log(CLI_LOG_INFO, "feed", "waiting for the components' queues (%s)", q);
                struct timespec ts = {0, 200000000};
                nanosleep(&ts, NULL);
                tb_loop_poll(loop);
                tb_loop_poll(loop);
            }
        }
    }
    tb_node_attach(n, t);
    cli_log(CLI_LOG_INFO, role, "connected to %s, run '%s'", url, tp.run);
    tb_metrics *m = NULL;
    tb_pipeline *np = tb_node_pipeline(n);
    if (d->metrics_port >= 0) {
        if (tb_metrics_create(&m) || tb_metrics_set_role(m, role) ||
            tb_metrics_serve(m, NULL, d->metrics_port, err, sizeof(err))) {
            cli_log(CLI_LOG_ERROR, role, "metrics: %s", err[0] ? err : "out of memory");
            tb_metrics_destroy(m);
            tb_node_destroy(n);
            tb_transport_destroy(t);
            return EXIT_USAGE;
        }
        cli_log(CLI_LOG_INFO, role, "metrics at http://127.0.0.1:%d/metrics", tb_metrics_port(m));
        if (np) tb_bus_set_handled_hook(tb_pipeline_bus(np), tb_metrics_handled_hook, m);
        tb_metrics_set_stall(m, NULL, 0);
    }
    time_t last = time(NULL);
    uint64_t last_done = tb_node_roots_done(n);
    char stalled_on[TB_NODE_MAX_PROCS * TB_NODE_NAME_LEN] = "";
    while (!*stop_flag) {
        rc = tb_node_poll(n, 200, err, sizeof(err));
        tb_loop_poll(loop); /* a signal, if one came */
        if (m && np) {
            tb_metrics_set_trading_state(m, tb_pipeline_trading_state(np));
            tb_metrics_tick(m, np);
        }
        if (m) note_stall(m, n, stalled_on, sizeof(stalled_on));
        if (rc) break;
        time_t now = time(NULL);
        if (now - last >= 10) {
            uint64_t done = tb_node_roots_done(n), total = tb_node_roots_total(n);
            char of[48] = "";
            if (total) snprintf(of, sizeof(of), " of %llu", (unsigned long long)total);
            cli_log(CLI_LOG_INFO, role, "bar %llu%s, %.0f bars/s", (unsigned long long)done, of,
                    (double)(done - last_done) / (double)(now - last));
            last = now;
            last_done = done;
        }
    }
    if (rc == 1 && !strcmp(role, "monitor") && tb_node_result(n) && !r->quiet)
        cli_print_summary(tb_node_result(n), &r->cfg, r->out);
    if (rc < 0) cli_log(CLI_LOG_ERROR, NULL, "%s: %s", role, err[0] ? err : tb_strerror(rc));
    if (m && np) tb_metrics_update_pipeline(m, np);
    tb_metrics_destroy(m); /* stops the server before the components go */
    tb_node_destroy(n);
    tb_transport_destroy(t);
    if (rc == 1) return 0;
    if (*stop_flag && rc >= 0) {
        cli_log(CLI_LOG_WARN, role, "interrupted; start it again to continue");
        return 130;
    }
    return EXIT_RUNTIME;
}

/* Runs one node on the process's one loop: the component's clock and
 * timers, and SIGINT/SIGTERM, which stop the waits and the run. */
static int run_node(cli_run *r, const char *role_arg, const dist_opts *d)
{
    tb_loop *loop = NULL;
    int stop_flag = 0;
    if (tb_loop_create(TB_CLOCK_SIMULATED, &loop) != 0 ||
        tb_loop_watch_signals(loop, on_signal, &stop_flag) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: cannot set up the event loop", role_arg);
        tb_loop_destroy(loop);
        return EXIT_RUNTIME;
    }
    int code = run_node_on(r, role_arg, d, loop, &stop_flag);
    tb_loop_destroy(loop); /* after the node, whose pipeline borrowed it */
    return code;
}

int cmd_component(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            fputs(cli_component_help, stdout);
            return 0;
        }
        cli_usage_error("component: which one? signal, orders, positions, risk or monitor");
        return EXIT_USAGE;
    }
    const char *role = argv[0];
    const char *const *roles = tb_node_roles();
    int ok = !strcmp(role, "external");
    for (int i = 0; roles[i]; i++)
        ok |= !strcmp(roles[i], role) && strcmp(role, "feed") != 0;
    if (!ok) {
        cli_usage_error("component: unknown component '%s' (signal, orders, positions, risk, "
                        "monitor; the market data comes from `tradebus feed`)",
                        role);
        return EXIT_USAGE;
    }
    cli_run r;
    dist_opts d = {NULL, 0, 0, -1, 0, NULL};
    int code = cli_parse_run(argc - 1, argv + 1, &r, cli_component_help, dist_opt, &d);
    if (code >= 0) return code;
    if (strcmp(role, "external") != 0 && d.name) {
        cli_usage_error("component %s: --name is for `component external`", role);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    if (!strcmp(role, "external") && !d.name) {
        cli_usage_error("component external: which program? --name NAME of a [component.NAME]");
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    code = run_node(&r, d.name && !strcmp(role, "external") ? d.name : role, &d);
    tb_config_free(&r.cfg);
    return code;
}

int cmd_feed(int argc, char **argv)
{
    cli_run r;
    dist_opts d = {NULL, 0, 0, -1, 0, NULL};
    int code = cli_parse_run(argc, argv, &r, cli_feed_help, dist_opt, &d);
    if (code >= 0) return code;
    code = run_node(&r, "feed", &d);
    tb_config_free(&r.cfg);
    return code;
}

/* ---- status ---------------------------------------------------------------- */

static uint64_t bars_done(const char *state)
{
    uint64_t bars = 0;
    int done;
    if (access(state, R_OK) != 0 || tb_node_state_read(state, &bars, &done) != 0) return 0;
    return bars;
}

int cmd_status(int argc, char **argv)
{
    cli_run r;
    dist_opts d = {NULL, 0, 0, -1, 0, NULL};
    int code = cli_parse_run(argc, argv, &r, cli_status_help, dist_opt, &d);
    if (code >= 0) return code;
    const tb_transport_type *tt = r.cfg.transport;
    if (!tt->create) {
        cli_eprintf("tradebus status: %s: [bus] type is %s: the run is one process, it has no "
                    "queues to show\n",
                    r.config_path, tt->name);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    tb_transport_params tp;
    tb_config_transport_params(&r.cfg, NULL, &tp);
    char url[512], err[512];
    tb_transport_describe(tt, &tp, url, sizeof(url));
    char roles[CLI_MAX_PROCS][TB_NODE_NAME_LEN];
    size_t nroles = tb_node_processes(&r.cfg, roles, CLI_MAX_PROCS);
    uint64_t before[CLI_MAX_PROCS] = {0};
    static char states[CLI_MAX_PROCS][4096];
    for (size_t i = 0; i < nroles; i++) {
        if (cli_dist_state_path(&r.cfg, d.state_dir, roles[i], states[i], sizeof(states[i])))
            states[i][0] = 0;
        before[i] = states[i][0] ? bars_done(states[i]) : 0;
    }
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    cli_printf("run '%s' on %s\n", tp.run, url);
    cli_printf("%-10s %10s %9s %12s %12s %10s\n", "process", "queued", "consumers", "dead letters",
               "bars done", "bars/s");
    int rc = 0;
    for (size_t i = 0; i < nroles; i++) {
        char q[640], dq[660];
        long msgs = -1, cons = -1, dl = -1;
        snprintf(q, sizeof(q), "%s.%s", tp.run, roles[i]);
        snprintf(dq, sizeof(dq), "%s.dlq", q);
        int qrc = tb_transport_queue_info(tt, &tp, q, &msgs, &cons, err, sizeof(err));
        if (qrc == TB_ECONN || qrc == TB_ENOTSUP) {
            cli_eprintf("tradebus status: %s\n", err);
            rc = qrc == TB_ECONN ? EXIT_RUNTIME : EXIT_USAGE;
            break;
        }
        long dcons;
        if (tb_transport_queue_info(tt, &tp, dq, &dl, &dcons, err, sizeof(err)) != 0) dl = -1;
        uint64_t after = states[i][0] ? bars_done(states[i]) : 0;
        char qs[24] = "-", cs[24] = "-", ds[24] = "-", bs[24] = "-", rs[24] = "-";
        if (qrc == 0) {
            snprintf(qs, sizeof(qs), "%ld", msgs);
            snprintf(cs, sizeof(cs), "%ld", cons);
        }
        if (dl >= 0) snprintf(ds, sizeof(ds), "%ld", dl);
        if (states[i][0] && access(states[i], R_OK) == 0) {
            snprintf(bs, sizeof(bs), "%llu", (unsigned long long)after);
            snprintf(rs, sizeof(rs), "%llu", (unsigned long long)(after - before[i]));
        }
        cli_printf("%-10s %10s %9s %12s %12s %10s%s\n", roles[i], qs, cs, ds, bs, rs,
                   qrc == TB_ENOTFOUND ? "  (no queue: not started yet)" : "");
    }
    tb_config_free(&r.cfg);
    return rc;
}
