/* tradebus live: the pipeline on Binance Spot's live bars (docs/live.md). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_live_help =
    "tradebus live --config FILE [options]\n"
    "\n"
    "Runs the pipeline on live Binance Spot klines until Ctrl-C (docs/live.md).\n"
    "The config is a backtest's without [backtest] data, plus:\n"
    "\n"
    "  [exchange] type = binance\n"
    "  mode = paper     live bars, fills by the simulator on those bars, no keys:\n"
    "                   the same bars through 'tradebus backtest' give the same\n"
    "                   fills\n"
    "  mode = testnet   Binance's spot testnet (testnet keys)\n"
    "  mode = live      production: real money; refused without --live\n"
    "  api_key = env:BINANCE_API_KEY, api_secret = file:/path (never the key itself)\n"
    "  [live] interval = 1m, warmup_bars (default: the strategies' longest period\n"
    "  + 1), cancel_on_exit = true, stream_url, rest_url (default: by mode)\n"
    "\n"
    "  --config FILE            INI config\n"
    "  --set SECTION.KEY=VALUE  override a config key, repeatable\n"
    "  --out DIR                output folder (default: out): summary.json,\n"
    "                           fills.csv, trades.csv, equity.csv, events.jsonl and\n"
    "                           report.html of the run, written when it ends\n"
    "  --journal FILE           record every event in a SQLite journal\n"
    "  --resume                 continue the run the journal holds (testnet, live):\n"
    "                           its open orders, positions, cash and PnL go on; the\n"
    "                           exchange's start-up reconciles them (fills and\n"
    "                           cancels made while no process ran come in once;\n"
    "                           orders not ours are reported, never touched); no\n"
    "                           order is sent before. Paper mode: refused\n"
    "  --adopt-positions        with --resume: balances that disagree with the\n"
    "                           journal's positions are a warning, not a failed\n"
    "                           start, and the account's amount is adopted: the\n"
    "                           strategy holding the symbol gives up the\n"
    "                           difference (a RiskAlert 'adopted' and a fill of\n"
    "                           it at the entry price, both journaled)\n"
    "  --live                   confirm mode = live (trading real money)\n"
    "  --cancel-all             the kill switch: cancel every open order of ours\n"
    "                           on the configured symbols, then exit (never an\n"
    "                           order whose client id is not ours)\n"
    "  --metrics-port PORT      Prometheus metrics at http://127.0.0.1:PORT/metrics:\n"
    "                           stream state, last-message age, REST latency,\n"
    "                           order round trip, weight used, PnL, positions\n"
    "  --shadow-legacy          run the legacy monolith on the same live bars; a\n"
    "                           decision that differs is a RiskAlert (rule\n"
    "                           parity), the result is printed at the end. Paper:\n"
    "                           everything is compared; testnet and live: signals\n"
    "                           and orders (the fills are the market's)\n"
    "  --quiet                  no status line, only warnings and errors\n"
    "  --log-format json        log lines as JSON (a global option)\n"
    "\n"
    "Before the first live bar the run loads enough history (REST) to warm every\n"
    "strategy's indicators; no order ever comes from a history bar. On a\n"
    "terminal a status line shows the streams connected, the age of the last\n"
    "bar, positions, equity and open orders, redrawn every second; otherwise\n"
    "each bar and each connection change is a log line.\n"
    "\n"
    "Ctrl-C or SIGTERM: no new bar, our open orders are canceled\n"
    "([live] cancel_on_exit), the journal is committed and the outputs are\n"
    "written; exit 0. A second Ctrl-C stops waiting for the exchange.\n"
    "\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage or config error (mode =\n"
    "live without --live).\n"
    "\n"
    "Examples:\n"
    "  tradebus live --config examples/paper.ini --out out/paper\n"
    "  tradebus live --config live.ini --live --journal live.db --metrics-port 9100\n"
    "  tradebus live --config live.ini --live --journal live.db --resume\n"
    "  tradebus live --config live.ini --live --cancel-all\n";

typedef struct {
    int live, cancel_all, shadow, resume, adopt;
    const char *journal;
    int metrics_port; /* -1 = none */
    tb_shadow *sh;
    tb_metrics *m;
    const tb_config *cfg;
    int tty, quiet, drawn;
    uint64_t last_bars;
    char err[512];
} live_ctx;

static int live_opt(const char *opt, const char *val, void *ctx)
{
    live_ctx *c = ctx;
    if (strcmp(opt, "--live") == 0) return c->live = 1, 1;
    if (strcmp(opt, "--cancel-all") == 0) return c->cancel_all = 1, 1;
    if (strcmp(opt, "--shadow-legacy") == 0) return c->shadow = 1, 1;
    if (strcmp(opt, "--resume") == 0) return c->resume = 1, 1;
    if (strcmp(opt, "--adopt-positions") == 0) return c->adopt = 1, 1;
    if (strcmp(opt, "--journal") == 0) {
        if (!val) {
            cli_usage_error("live: --journal needs a file");
            return -1;
        }
        c->journal = val;
        return 2;
    }
    if (strcmp(opt, "--metrics-port") == 0)
        return cli_parse_port("live", val, &c->metrics_port) ? -1 : 2;
    return 0;
}

static void clear_line(live_ctx *c)
{
    if (c->drawn) fprintf(stderr, "\r\033[K");
    c->drawn = 0;
}

static void on_log(int level, const char *msg, void *ctx)
{
    live_ctx *c = ctx;
    clear_line(c);
    cli_log(level == 0 ? CLI_LOG_INFO : level == 1 ? CLI_LOG_WARN : CLI_LOG_ERROR, NULL, "%s", msg);
}

static void age(int64_t now, int64_t then, char *out, size_t len)
{
    if (!then) {
        snprintf(out, len, "-");
        return;
    }
    long s = (long)((now - then) / 1000000000);
    if (s < 0) s = 0;
    if (s < 120)
        snprintf(out, len, "%lds", s);
    else
        snprintf(out, len, "%ldm", s / 60);
}

/* The line: "paper | streams 1/1 | last bar 12s ago (00:05 UTC) | BTCUSDT
 * 0.5 | equity 10012.3 | open orders 0". A terminal gets it redrawn in
 * place; a log gets one line per new bar. */
static void on_status(const tb_live_status *st, void *ctx)
{
    live_ctx *c = ctx;
    if (c->quiet) return;
    char line[512], a[16], eq[TB_DECIMAL_STRLEN], bar[40] = "-";
    age(st->now, st->last_bar_at, a, sizeof(a));
    /* The bar's end (its close time is the last ms, or ns, inside it). */
    int64_t end = st->last_bar_close - st->last_bar_close % 1000000 + 1000000;
    if (st->last_bar_close) tb_format_time_iso(end, bar, sizeof(bar));
    tb_dec_format(st->equity, eq, sizeof(eq));
    size_t n = (size_t)snprintf(line, sizeof(line), "%s%s | streams %d/%d | bar %s (%s ago)",
                                st->mode, st->ready ? "" : " (exchange starting)",
                                st->streams_connected, st->streams, bar, a);
    for (size_t i = 0; i < st->npositions && n < sizeof(line); i++) {
        char q[TB_DECIMAL_STRLEN];
        tb_dec_format(st->positions[i].current_quantity, q, sizeof(q));
        n += (size_t)snprintf(line + n, sizeof(line) - n, " | %s %s", st->positions[i].symbol, q);
    }
    if (n < sizeof(line))
        snprintf(line + n, sizeof(line) - n, " | equity %s | open orders %zu%s", eq,
                 st->open_orders, st->warm ? "" : " | loading history");
    if (c->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        fflush(stderr);
        c->drawn = 1;
    } else if (st->bars != c->last_bars) {
        c->last_bars = st->bars;
        cli_log(CLI_LOG_INFO, NULL, "%s", line);
    }
}

/* The observers: the shadow legacy run and the metrics, as a backtest has them. */
static int hook_start(tb_pipeline *p, void *ctx)
{
    live_ctx *c = ctx;
    int rc = 0;
    if (c->shadow)
        rc = tb_shadow_create(c->cfg, tb_pipeline_bus(p), NULL, &c->sh, c->err, sizeof(c->err));
    if (!rc && c->m) {
        tb_bus_set_handled_hook(tb_pipeline_bus(p), tb_metrics_handled_hook, c->m);
        rc = tb_metrics_on_start(p, c->m);
    }
    return rc;
}

static int hook_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    live_ctx *c = ctx;
    /* The history bars are warm-up for the legacy side as for the pipeline. */
    if (c->sh) tb_shadow_set_trade_from(c->sh, tb_pipeline_trade_from(p));
    int n = c->sh ? tb_shadow_on_bar(c->sh, bar) : 0;
    if (n > 0)
        cli_log(CLI_LOG_WARN, NULL, "parity: the legacy monolith decided otherwise on %s",
                bar->symbol);
    if (n >= 0 && c->m) n = tb_metrics_on_bar(p, bar, c->m);
    return n < 0 ? n : 0;
}

static int hook_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx)
{
    live_ctx *c = ctx;
    int n = c->sh ? tb_shadow_finish(c->sh, res->realized_pnl, res->unrealized_pnl, res->fees) : 0;
    if (n >= 0 && c->m) n = tb_metrics_on_end(p, res, c->m);
    return n < 0 ? n : 0;
}

static void hook_stop(tb_pipeline *p, void *ctx)
{
    live_ctx *c = ctx;
    if (c->sh) tb_shadow_detach(c->sh);
    if (c->m) {
        tb_metrics_on_stop(p, c->m);
        tb_bus_set_handled_hook(tb_pipeline_bus(p), NULL, NULL);
    }
}

int cmd_live(int argc, char **argv)
{
    cli_run r;
    live_ctx c;
    memset(&c, 0, sizeof(c));
    c.metrics_port = -1;
    int code = cli_parse_live_run(argc, argv, &r, cli_live_help, live_opt, &c);
    if (code >= 0) {
        tb_config_free(&r.cfg);
        return code;
    }
    char err[512] = "";
    c.cfg = &r.cfg;
    c.quiet = r.quiet;
    c.tty = !r.quiet && !cli_log_json() && isatty(STDERR_FILENO);
    if (c.journal) {
        free(r.cfg.journal_path);
        r.cfg.journal_path = strdup(c.journal);
    }
    if (r.cfg.transport->create) {
        cli_usage_error("live: [bus] type = %s: a live run is one process (--set bus.type=memory)",
                        r.cfg.transport->name);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    if (c.metrics_port >= 0) {
        if (tb_metrics_create(&c.m) != 0 || tb_metrics_set_role(c.m, "live") != 0) {
            cli_log(CLI_LOG_ERROR, NULL, "live: out of memory for the metrics");
            tb_metrics_destroy(c.m);
            tb_config_free(&r.cfg);
            return EXIT_RUNTIME;
        }
        if (tb_metrics_serve(c.m, NULL, c.metrics_port, err, sizeof(err)) != 0) {
            cli_log(CLI_LOG_ERROR, NULL, "live: %s", err);
            tb_metrics_destroy(c.m);
            tb_config_free(&r.cfg);
            return EXIT_USAGE;
        }
        cli_log(CLI_LOG_INFO, NULL, "metrics at http://127.0.0.1:%d/metrics", tb_metrics_port(c.m));
    }
    tb_live_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = r.out;
    opt.report = r.cfg.report;
    opt.allow_live = c.live;
    opt.cancel_all = c.cancel_all;
    opt.resume = c.resume;
    opt.adopt_positions = c.adopt;
    opt.status = on_status;
    opt.log = on_log;
    opt.ctx = &c;
    opt.metrics = c.m;
    if (c.shadow || c.m) {
        opt.on_start = hook_start;
        opt.on_bar = hook_bar;
        opt.on_end = hook_end;
        opt.on_stop = hook_stop;
        opt.hook_ctx = &c;
    }
    tb_backtest_result res;
    int rc = tb_live_run(&r.cfg, &opt, &res, err, sizeof(err));
    clear_line(&c);
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", c.err[0] ? c.err : err[0] ? err : tb_strerror(rc));
        code = rc == TB_ECONFIG ? EXIT_USAGE : EXIT_RUNTIME;
    } else {
        code = 0;
        if (!c.cancel_all && !r.quiet) {
            cli_print_run_summary("live", &res, &r.cfg, r.out);
            if (r.out && r.cfg.report && r.cfg.event_log && res.bars)
                cli_printf("  report         %s/report.html\n", r.out);
        }
        if (c.sh) {
            printf("shadow legacy run: ");
            tb_parity_write_report(tb_shadow_parity(c.sh), stdout);
        }
        tb_backtest_result_free(&res);
    }
    tb_metrics_destroy(c.m);
    tb_shadow_destroy(c.sh);
    tb_config_free(&r.cfg);
    return code;
}
