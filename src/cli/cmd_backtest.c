/* tradebus backtest, and the option parsing every run command shares. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_backtest_help =
    "tradebus backtest --config FILE [options]\n"
    "\n"
    "Runs every bar of the data through the pipeline and prints a summary.\n"
    "\n"
    "  --config FILE            INI config (see README: [backtest], [exchange],\n"
    "                           [risk], [bus], [output], [symbol.SYM],\n"
    "                           [strategy.ID])\n"
    "  --data SPEC              data file, repeatable; replaces [backtest] data\n"
    "  --set SECTION.KEY=VALUE  override a config key, repeatable, e.g.\n"
    "                           --set exchange.fee_bps=5 --set strategy.fast.slow=50\n"
    "  --out DIR                output folder, created with its parents\n"
    "                           (default: out)\n"
    "  --quiet                  print nothing but errors\n"
    "  --no-cache               neither read nor write the data files' binary cache\n"
    "                           (same as --set backtest.cache=false; docs/data.md)\n"
    "  --journal FILE           record every event and dead letter in a SQLite\n"
    "                           journal (same as --set journal.path=FILE)\n"
    "  --resume                 continue the run the journal holds (after a crash,\n"
    "                           a kill or Ctrl-C): the journaled bars are re-run to\n"
    "                           rebuild the state exactly, then the run goes on\n"
    "  --shadow-legacy          run the bundled legacy monolith beside the\n"
    "                           pipeline, compare after every bar, publish each\n"
    "                           divergence as a RiskAlert (rule parity) and print\n"
    "                           the parity result\n"
    "  --metrics-port PORT      serve Prometheus metrics at\n"
    "                           http://127.0.0.1:PORT/metrics while the run goes\n"
    "                           (docs/monitoring.md)\n"
    "  --metrics-file FILE      write the final metrics (Prometheus text) to FILE\n"
    "\n"
    "Files written to DIR (each under a temporary name, all renamed when the run\n"
    "ends: a run that fails leaves DIR as it was):\n"
    "  summary.json   bars, signals, orders, fills, rejections by reason, risk\n"
    "                 alerts by rule, halts, trading state, PnL, fees, equity,\n"
    "                 return, trades, win rate, drawdown, dead letters, events,\n"
    "                 positions\n"
    "  fills.csv      one row per execution, with its event id and origin\n"
    "                 ([output] fills = false: none)\n"
    "  trades.csv     one row per trade (entry, exit, PnL, fees, return, exit\n"
    "                 reason)\n"
    "  equity.csv     equity and drawdown per bar close (at most one row a minute)\n"
    "  events.jsonl   every event in dispatch order, JSON, one per line\n"
    "                 ([output] event_log = false: none)\n"
    "  report.html    equity, drawdown, prices with the fills, statistics\n"
    "                 (needs the event log; [output] report = false: none)\n"
    "\n"
    "Ctrl-C (SIGINT or SIGTERM) stops at the next bar and writes every file,\n"
    "summary.json saying \"interrupted\": true (exit 130; with a journal,\n"
    "--resume continues). A second one stops at once: DIR is left as it was.\n"
    "\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage or config error, 3 bad\n"
    "input data, 130 interrupted.\n"
    "\n"
    "Built-in strategies ([strategy.ID] type = ...):\n";

static const char *const backtest_examples =
    "\n"
    "Examples (from the source tree):\n"
    "  tradebus backtest --config examples/sma_cross.ini\n"
    "  tradebus backtest --config examples/multi.ini --out out/multi\n"
    "  tradebus backtest --config examples/sma_cross.ini \\\n"
    "      --set strategy.btc_trend.fast=5 --set exchange.fee_bps=7.5\n"
    "  tradebus backtest --config examples/sma_cross.ini \\\n"
    "      --data data/ETHUSDT-1m-2024-01.csv \\\n"
    "      --set strategy.btc_trend.symbol=ETHUSDT --out out/eth\n";

/* "  NAME  text" with text wrapped at 80 columns under column `indent`. */
static void print_wrapped(const char *name, const char *text, int indent)
{
    int col = printf("  %-*s ", indent - 3, name);
    const char *w = text;
    while (*w) {
        while (*w == ' ')
            w++;
        size_t n = strcspn(w, " ");
        if (!n) break;
        if (col > indent && col + 1 + (int)n > 80) {
            col = printf("\n%*s", indent, "") - 1;
        } else if (col > indent) {
            col += printf(" ");
        }
        col += printf("%.*s", (int)n, w);
        w += n;
    }
    printf("\n");
}

const char *cli_data_path(const char *spec)
{
    /* As the reader does: "SYMBOL:path" only when SYMBOL is [A-Z0-9]{1,15}. */
    size_t i = 0;
    while ((spec[i] >= 'A' && spec[i] <= 'Z') || (spec[i] >= '0' && spec[i] <= '9'))
        i++;
    return i >= 1 && i < TB_SYMBOL_LEN && spec[i] == ':' && spec[i + 1] ? spec + i + 1 : spec;
}

/* The bars a run will read, near enough for a progress bar: the data files'
 * lines, less a header line. One sequential read per file, 1 MiB at a time (about 30 ms
 * for a 1 M-row, 100 MB file in the page cache). 0 if a file cannot be read
 * (the run itself will say why): the bar then shows no total. Only regular
 * files are counted: a pipe (`<(cat f.csv)`) or FIFO can be read once, by
 * the run, and opening a FIFO with no writer yet would block; /dev/zero
 * never ends. Those get a bar without a total. */
static uint64_t count_rows(const tb_config *cfg)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf) return 0;
    uint64_t total = 0;
    for (size_t k = 0; k < cfg->ndata; k++) {
        const char *path = cli_data_path(cfg->data[k]);
        struct stat st;
        /* stat, not open: opening a FIFO is already an effect. */
        FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
        if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
            if (f) fclose(f);
            total = 0;
            break;
        }
        uint64_t rows = 0;
        char prev = '\n';
        int first = 1, header = 0;
        size_t n;
        while ((n = fread(buf, 1, CHUNK, f)) > 0) {
            if (first) {
                header = !(buf[0] >= '0' && buf[0] <= '9');
                first = 0;
            }
            for (const char *p = buf, *end = buf + n;
                 (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
                rows++;
            prev = buf[n - 1];
        }
        if (prev != '\n') rows++; /* the last line without a newline */
        fclose(f);
        total += rows > 0 && header ? rows - 1 : rows;
    }
    free(buf);
    return total;
}

typedef struct {
    int tty;
    uint64_t total; /* bars expected; 0 = unknown */
    double start, last_draw, delay;
    int drawn;
} progress_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void format_rate(double r, char *out, size_t outlen)
{
    if (r >= 1e6)
        snprintf(out, outlen, "%.2fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(out, outlen, "%.1fk", r / 1e3);
    else
        snprintf(out, outlen, "%.0f", r);
}

/* A bar on stderr once the run has taken more than a second, redrawn at
 * most ten times a second: "[=====>    ]  42%  420000/1000000 bars
 * 2.10M bars/s  ETA 0:03". Cleared when the run ends. */
void cli_progress(uint64_t bars, int64_t bar_time, void *ctx)
{
    (void)bar_time;
    progress_ctx *pc = ctx;
    if (!pc->tty) return;
    double t = now_s(), el = t - pc->start;
    if (el < pc->delay || t - pc->last_draw < 0.1) return;
    pc->last_draw = t;
    pc->drawn = 1;
    char rate[32];
    double r = el > 0 ? (double)bars / el : 0;
    format_rate(r, rate, sizeof(rate));
    if (!pc->total) {
        fprintf(stderr, "\r%llu bars  %s bars/s  %.0f s elapsed \033[K", (unsigned long long)bars,
                rate, el);
        fflush(stderr);
        return;
    }
    enum { WIDTH = 30 };
    double frac = bars >= pc->total ? 1.0 : (double)bars / (double)pc->total;
    int fill = (int)(frac * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[WIDTH] = 0;
    long eta = r > 0 && bars < pc->total ? (long)((double)(pc->total - bars) / r + 0.5) : 0;
    fprintf(stderr, "\r[%s] %3d%%  %llu/%llu bars  %s bars/s  ETA %ld:%02ld \033[K", bar,
            (int)(frac * 100), (unsigned long long)bars, (unsigned long long)pc->total, rate,
            eta / 60, eta % 60);
    fflush(stderr);
}

/* A [component.NAME] program's stderr line, logged under its name (in the
 * --log-format of the run). */
void cli_component_line(const char *name, const char *line, void *ctx)
{
    (void)ctx;
    cli_log(CLI_LOG_INFO, name, "%s", line);
}

void cli_warn(const char *msg, void *ctx)
{
    (void)ctx;
    cli_log(CLI_LOG_WARN, NULL, "skipped bad row: %s", msg);
}

/* "RISK 600, INSUFFICIENT_FUNDS 242": the reasons counted, most first. */
static void format_rejections(const tb_monitor_tally *t, char *buf, size_t len)
{
    uint64_t left[TB_MONITOR_REJECT_SLOTS];
    memcpy(left, t->rejections, sizeof(left));
    size_t n = 0;
    buf[0] = 0;
    for (;;) {
        int top = -1;
        for (int i = 0; i < TB_MONITOR_REJECT_SLOTS; i++)
            if (left[i] && (top < 0 || left[i] > left[top])) top = i;
        if (top < 0 || n >= len) break;
        int w = snprintf(buf + n, len - n, "%s%s %llu", n ? ", " : "",
                         top ? tb_reject_reason_name((tb_reject_reason)top) : "OTHER",
                         (unsigned long long)left[top]);
        if (w < 0) break;
        n += (size_t)w;
        left[top] = 0;
    }
}

/* A run that traded nothing is almost always a setup mistake (sizing,
 * funds, a limit set too tight, a strategy that never fires): say why on
 * stderr rather than leave a flat equity curve to be puzzled over. */
static void warn_if_nothing_traded(const tb_backtest_result *r)
{
    char why[256];
    format_rejections(&r->tally, why, sizeof(why));
    if (r->orders == 0 && r->signals == 0 && r->size_too_small)
        cli_log(CLI_LOG_WARN, NULL,
                "warning: nothing traded: all %llu entries were too small once sized "
                "(size_too_small: under the step size or min_notional; raise size or "
                "risk_per_trade, or initial_cash)",
                (unsigned long long)r->size_too_small);
    else if (r->orders == 0 && r->signals == 0)
        cli_log(CLI_LOG_WARN, NULL, "warning: nothing traded: no strategy signaled (%llu bars)",
                (unsigned long long)r->bars);
    else if (r->orders == 0)
        cli_log(CLI_LOG_WARN, NULL,
                "warning: nothing traded: %llu signals but no order was sent "
                "(size too small %llu)",
                (unsigned long long)r->signals, (unsigned long long)r->size_too_small);
    else if (r->rejected >= r->orders)
        cli_log(CLI_LOG_WARN, NULL, "warning: nothing traded: %llu orders, all rejected (%s)",
                (unsigned long long)r->orders, why);
    else if (r->fills == 0)
        cli_log(CLI_LOG_WARN, NULL,
                "warning: nothing traded: %llu orders, none filled (rejected %llu%s%s%s, "
                "canceled %llu, still open %llu)",
                (unsigned long long)r->orders, (unsigned long long)r->rejected, why[0] ? ": " : "",
                why, "", (unsigned long long)r->canceled, (unsigned long long)r->open_orders);
}

void cli_print_summary(const tb_backtest_result *r, const tb_config *cfg, const char *out)
{
    cli_print_run_summary("backtest", r, cfg, out);
}

void cli_print_run_summary(const char *command, const tb_backtest_result *r, const tb_config *cfg,
                           const char *out)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN], d[TB_DECIMAL_STRLEN],
        e[TB_DECIMAL_STRLEN], f[TB_DECIMAL_STRLEN], g[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN];
    tb_dec_format(r->realized_pnl, a, sizeof(a));
    tb_dec_format(r->unrealized_pnl, b, sizeof(b));
    tb_dec_format(r->fees, c, sizeof(c));
    tb_dec_format(r->initial_equity, d, sizeof(d));
    tb_dec_format(r->final_equity, e, sizeof(e));
    tb_dec_format(r->max_drawdown_pct, f, sizeof(f));
    tb_decimal ret = 0, win = 0;
    tb_backtest_return_pct(r, &ret);
    tb_backtest_win_rate(r, &win);
    /* Two decimals are what a reader compares; summary.json has every digit. */
    tb_dec_quantize(ret, TB_DECIMAL_ONE / 100, TB_ROUND_HALF_UP, &ret);
    tb_dec_quantize(win, TB_DECIMAL_ONE / 100, TB_ROUND_HALF_UP, &win);
    tb_dec_format(ret, g, sizeof(g));
    tb_dec_format(win, h, sizeof(h));
    if (!strchr(g, '.')) strcat(g, ".00");
    if (!strchr(h, '.')) strcat(h, ".00");
    if (strlen(strchr(g, '.')) == 2) strcat(g, "0");
    if (strlen(strchr(h, '.')) == 2) strcat(h, "0");
    const tb_monitor_tally *t = &r->tally;
    char why[256];
    format_rejections(t, why, sizeof(why));
    cli_printf("tradebus %s\n", command);
    cli_printf("  bars           %llu (bad rows skipped: %llu)\n", (unsigned long long)r->bars,
               (unsigned long long)r->bad_rows);
    cli_printf("  signals        %llu", (unsigned long long)r->signals);
    if (r->size_too_small)
        cli_printf(" (size too small: %llu)", (unsigned long long)r->size_too_small);
    cli_printf("\n");
    cli_printf("  orders         %llu (rejected %llu, canceled %llu, still open %llu)\n",
               (unsigned long long)r->orders, (unsigned long long)r->rejected,
               (unsigned long long)r->canceled, (unsigned long long)r->open_orders);
    if (why[0]) cli_printf("  rejections     %s\n", why);
    if (t->nalerts) {
        cli_printf("  risk alerts    ");
        for (size_t i = 0; i < t->nalerts; i++)
            cli_printf("%s%s %llu", i ? ", " : "", t->alerts[i].rule,
                       (unsigned long long)t->alerts[i].count);
        cli_printf("\n");
    }
    cli_printf("  fills          %llu\n", (unsigned long long)r->fills);
    cli_printf("  trades         %llu closed (win rate %s%%)\n", (unsigned long long)r->trades, h);
    cli_printf("  realized PnL   %s\n", a);
    cli_printf("  unrealized PnL %s\n", b);
    cli_printf("  fees           %s\n", c);
    cli_printf("  equity         %s -> %s (return %s%%)\n", d, e, g);
    cli_printf("  max drawdown   %s%%\n", f);
    cli_printf("  dead letters   %llu", (unsigned long long)r->dead_letters);
    if (r->dead_letter_queue >= 0)
        cli_printf(" (in the journal's queue: %lld; see 'tradebus dlq list')",
                   (long long)r->dead_letter_queue);
    cli_printf("\n");
    cli_printf("  events         %llu\n", (unsigned long long)r->events[0]);
    if (r->npositions) cli_printf("  positions:\n");
    for (size_t i = 0; i < r->npositions; i++) {
        const tb_position_update *p = &r->positions[i];
        char q[TB_DECIMAL_STRLEN], ep[TB_DECIMAL_STRLEN], rp[TB_DECIMAL_STRLEN];
        tb_dec_format(p->current_quantity, q, sizeof(q));
        tb_dec_format(p->entry_price, ep, sizeof(ep));
        tb_dec_format(r->total_realized[i], rp, sizeof(rp));
        cli_printf("    %-16s %-10s %-6s qty %-12s entry %-14s realized (all trades) %s\n",
                   p->strategy_id, p->symbol, tb_position_status_name(p->status), q, ep, rp);
    }
    for (size_t i = 0; i < t->nhalts; i++) {
        char when[32];
        tb_format_time_iso(t->halts[i].time, when, sizeof(when));
        cli_printf("  trading HALTED at %s by %s: %s\n", when, t->halts[i].rule,
                   t->halts[i].detail);
    }
    if (t->halts_total > t->nhalts)
        cli_printf("  (%llu more halts: see events.jsonl)\n",
                   (unsigned long long)(t->halts_total - t->nhalts));
    /* Only the files this run wrote: a name printed must exist. */
    if (out)
        cli_printf("  written to     %s/summary.json%s, trades.csv, equity.csv%s\n", out,
                   cfg->fills ? ", fills.csv" : "", cfg->event_log ? ", events.jsonl" : "");
    fflush(stdout);
    warn_if_nothing_traded(r);
}

int cli_exit_for(int rc, const char *err, const char *out)
{
    switch (rc) {
    case TB_ECONFIG:
    case TB_EINVAL:
        return EXIT_USAGE;
    case TB_EDATA:
    case TB_EPARSE:
        return EXIT_DATA;
    case TB_EIO:
        /* An unreadable data file is bad input; an unwritable --out, or a
         * journal the disk fails to write, is not. */
        return (out && strncmp(err, out, strlen(out)) == 0) || strstr(err, "cannot write")
                   ? EXIT_RUNTIME
                   : EXIT_DATA;
    default:
        return EXIT_RUNTIME;
    }
}

/* The --set/--data pairs `tradebus up` hands its children in a file (so a
 * password in --set bus.url=... never shows in their command lines):
 * "--set" or "--data", then its value, each NUL-terminated. Applied where
 * --args-file stands among the other --set/--data. */
static int apply_args_file(tb_config *cfg, const char *path, char *err, size_t errlen)
{
    /* 1 MiB: far more pairs than anyone types; a bigger file is not ours. */
    enum { ARGS_MAX = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--args-file %s: cannot open: %s", path, strerror(errno));
        return TB_ECONFIG;
    }
    char *buf = malloc(ARGS_MAX + 1);
    size_t n = buf ? fread(buf, 1, ARGS_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf) return TB_ENOMEM;
    int rc = 0;
    if (bad || n > ARGS_MAX || (n && buf[n - 1] != 0)) {
        snprintf(err, errlen, "--args-file %s: %s", path,
                 bad ? "read error" : "not an argument file written by tradebus up");
        rc = TB_ECONFIG;
    }
    for (size_t i = 0; !rc && i < n;) {
        const char *opt = buf + i;
        i += strlen(opt) + 1;
        if (i >= n) {
            snprintf(err, errlen, "--args-file %s: %.40s has no value", path, opt);
            rc = TB_ECONFIG;
            break;
        }
        const char *val = buf + i;
        i += strlen(val) + 1;
        if (!strcmp(opt, "--set")) {
            rc = tb_config_set(cfg, val, err, errlen);
        } else if (!strcmp(opt, "--data")) {
            rc = tb_config_add_data(cfg, val);
        } else {
            snprintf(err, errlen, "--args-file %s: unknown option '%.40s'", path, opt);
            rc = TB_ECONFIG;
        }
    }
    free(buf);
    return rc;
}

static int parse_run(int argc, char **argv, cli_run *r, const char *help_text, cli_extra_opt extra,
                     void *ctx, int live);

int cli_parse_run(int argc, char **argv, cli_run *r, const char *help_text, cli_extra_opt extra,
                  void *ctx)
{
    return parse_run(argc, argv, r, help_text, extra, ctx, 0);
}

int cli_parse_live_run(int argc, char **argv, cli_run *r, const char *help_text,
                       cli_extra_opt extra, void *ctx)
{
    return parse_run(argc, argv, r, help_text, extra, ctx, 1);
}

static int parse_run(int argc, char **argv, cli_run *r, const char *help_text, cli_extra_opt extra,
                     void *ctx, int live)
{
    char err[512] = "";
    int rc, no_cache = 0;
    /* Marks the words a command's own options took, for the second pass. */
    unsigned char taken[256] = {0};
    if (argc > 256) {
        cli_usage_error("%s: too many arguments", argv[-1]);
        return EXIT_USAGE;
    }
    memset(r, 0, sizeof(*r));
    r->out = "out";
    tb_config_init(&r->cfg);
    /* Two passes: the file first, then --data/--set on top of it, whatever
     * the order they were typed in. */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help_text, stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            r->quiet = 1;
            continue;
        }
        if (strcmp(a, "--no-cache") == 0) {
            no_cache = 1;
            continue;
        }
        int known = !strcmp(a, "--config") || !strcmp(a, "--data") || !strcmp(a, "--set") ||
                    !strcmp(a, "--out") || !strcmp(a, "--args-file");
        if (!known) {
            int took = extra ? extra(a, v, ctx) : 0;
            if (took < 0) return EXIT_USAGE;
            if (took == 0) {
                cli_usage_error("%s: unknown option '%s'", argv[-1], a);
                return EXIT_USAGE;
            }
            for (int k = 0; k < took; k++)
                taken[i + k] = 1;
            i += took - 1;
            continue;
        }
        if (!v) {
            cli_usage_error("%s: %s needs a value", argv[-1], a);
            return EXIT_USAGE;
        }
        if (strcmp(a, "--config") == 0) r->config_path = v;
        if (strcmp(a, "--out") == 0) r->out = v;
        i++;
    }
    if (!r->config_path) {
        cli_usage_error("%s: --config FILE is required (e.g. --config examples/sma_cross.ini)",
                        argv[-1]);
        return EXIT_USAGE;
    }
    if ((rc = tb_config_load(&r->cfg, r->config_path, err, sizeof(err))) != 0) goto fail;
    for (int i = 0; i < argc - 1; i++) {
        if (taken[i]) continue;
        if (strcmp(argv[i], "--set") == 0) {
            if ((rc = tb_config_set(&r->cfg, argv[++i], err, sizeof(err))) != 0) goto fail;
        } else if (strcmp(argv[i], "--data") == 0) {
            if ((rc = tb_config_add_data(&r->cfg, argv[++i])) != 0) goto fail;
        } else if (strcmp(argv[i], "--args-file") == 0) {
            if ((rc = apply_args_file(&r->cfg, argv[++i], err, sizeof(err))) != 0) goto fail;
        } else if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--out")) {
            i++;
        }
    }
    r->cfg.live = live;
    if ((rc = tb_config_build(&r->cfg, err, sizeof(err))) != 0) goto fail;
    if (no_cache) r->cfg.cache = 0; /* over [backtest] cache, like --set */
    return -1;
fail:
    cli_log(CLI_LOG_ERROR, NULL, "%s", err[0] ? err : tb_strerror(rc));
    return rc == TB_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
}

typedef struct {
    int shadow, resume;
    const char *journal;
    tb_shadow *sh;
    char err[512];
    int metrics_port; /* -1 = no server */
    const char *metrics_file;
} shadow_ctx;

static int backtest_opt(const char *opt, const char *val, void *ctx)
{
    shadow_ctx *sc = ctx;
    if (strcmp(opt, "--shadow-legacy") == 0) return sc->shadow = 1, 1;
    if (strcmp(opt, "--resume") == 0) return sc->resume = 1, 1;
    if (strcmp(opt, "--journal") == 0) {
        if (!val) {
            cli_usage_error("backtest: --journal needs a file");
            return -1;
        }
        sc->journal = val;
        return 2;
    }
    if (strcmp(opt, "--metrics-port") == 0)
        return cli_parse_port("backtest", val, &sc->metrics_port) ? -1 : 2;
    if (strcmp(opt, "--metrics-file") == 0) {
        if (!val) {
            cli_usage_error("backtest: --metrics-file needs a file");
            return -1;
        }
        sc->metrics_file = val;
        return 2;
    }
    return 0;
}

/* The observers beside the pipeline: the shadow legacy run and the
 * metrics, each when asked for. */
typedef struct {
    shadow_ctx *sc;
    const tb_config *cfg;
    tb_metrics *m;
} shadow_hook;

static int shadow_start(tb_pipeline *p, void *ctx)
{
    shadow_hook *h = ctx;
    int rc = 0;
    if (h->sc->shadow)
        rc = tb_shadow_create(h->cfg, tb_pipeline_bus(p), NULL, &h->sc->sh, h->sc->err,
                              sizeof(h->sc->err));
    if (!rc && h->m) {
        tb_bus_set_handled_hook(tb_pipeline_bus(p), tb_metrics_handled_hook, h->m);
        rc = tb_metrics_on_start(p, h->m);
    }
    return rc;
}

static int shadow_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    shadow_hook *h = ctx;
    if (h->sc->sh && tb_pipeline_trading_state(p) == TB_TRADING_HALTED) {
        /* The monolith does not halt: what follows would only diverge. */
        char t[40];
        tb_format_time_iso(bar->close_time, t, sizeof(t));
        snprintf(h->sc->err, sizeof(h->sc->err),
                 "--shadow-legacy: trading halted ([risk] max_drawdown_pct) by %s; the legacy "
                 "monolith does not model halts, so the comparison stops there; run without "
                 "--shadow-legacy, or with --set risk.max_drawdown_pct=0",
                 t);
        return TB_ECONFIG;
    }
    int n = h->sc->sh ? tb_shadow_on_bar(h->sc->sh, bar) : 0;
    if (n >= 0 && h->m) n = tb_metrics_on_bar(p, bar, h->m);
    return n < 0 ? n : 0;
}

static int shadow_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx)
{
    shadow_hook *h = ctx;
    int n = h->sc->sh
                ? tb_shadow_finish(h->sc->sh, res->realized_pnl, res->unrealized_pnl, res->fees)
                : 0;
    if (n >= 0 && h->m) n = tb_metrics_on_end(p, res, h->m);
    return n < 0 ? n : 0;
}

static void shadow_stop(tb_pipeline *p, void *ctx)
{
    shadow_hook *h = ctx;
    /* The bus goes away with the pipeline; the comparison stays for the report. */
    if (h->sc->sh) tb_shadow_detach(h->sc->sh);
    if (h->m) {
        tb_metrics_on_stop(p, h->m);
        tb_bus_set_handled_hook(tb_pipeline_bus(p), NULL, NULL);
    }
}

/* Why report.html is not among the files, in one line (NULL: it is). */
static const char *report_skipped(const tb_config *cfg)
{
    if (!cfg->report) return "[output] report = false";
    if (!cfg->event_log) return "[output] event_log = false";
    return NULL;
}

int cmd_backtest(int argc, char **argv)
{
    cli_run r;
    shadow_ctx sc;
    memset(&sc, 0, sizeof(sc));
    sc.metrics_port = -1;
    int code = cli_parse_run(argc, argv, &r, cli_backtest_help, backtest_opt, &sc);
    if (code >= 0) {
        if (code == 0 && argc > 0) {
            for (size_t k = 0; tb_strategy_builtin_at(k); k++)
                print_wrapped(tb_strategy_builtin_at(k)->name, tb_strategy_builtin_at(k)->help, 23);
            /* The bundled legacy strategies, named as a config names them. */
            char names[512] = "";
            for (size_t k = 0; tb_legacy_builtin_at(k); k++)
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         k ? ", " : "", tb_legacy_builtin_at(k)->name);
            char text[700];
            snprintf(text, sizeof(text),
                     "an old-style strategy run through the adapter; bundled: %s "
                     "(docs/migration.md)",
                     names);
            print_wrapped("legacy:NAME", text, 23);
            /* Each type with its own keys and their defaults, from the registry. */
            fputs("\nExchange types ([exchange] type = ...; config check shows the values):\n",
                  stdout);
            for (size_t k = 0; tb_exchange_builtin_at(k); k++) {
                const tb_exchange_type *t = tb_exchange_builtin_at(k);
                char keys[1024];
                size_t n =
                    (size_t)snprintf(keys, sizeof(keys), "%s; keys (default):", t->description);
                for (size_t i = 0; i < t->nkeys && n < sizeof(keys); i++)
                    n += (size_t)snprintf(keys + n, sizeof(keys) - n, " %s (%s)%s", t->keys[i].name,
                                          t->keys[i].def, i + 1 < t->nkeys ? "," : "");
                print_wrapped(t->name, keys, 23);
            }
            fputs(backtest_examples, stdout);
        }
        tb_config_free(&r.cfg);
        return code;
    }
    if (r.cfg.transport->create) {
        /* The same config, switched to a broker: the same run, each
         * component its own process (tradebus up). */
        char type[64];
        snprintf(type, sizeof(type), "%s", r.cfg.transport->name);
        tb_config_free(&r.cfg);
        if (sc.journal || sc.resume || sc.shadow) {
            cli_usage_error("backtest: [bus] type = %s runs each component as its own process "
                            "(each keeps its own state); --journal, --resume and --shadow-legacy "
                            "are for one-process runs (--set bus.type=memory)",
                            type);
            return EXIT_USAGE;
        }
        cli_log(CLI_LOG_INFO, NULL,
                "[bus] type = %s: running each component as its own process "
                "through the broker (tradebus up)",
                type);
        return cmd_up(argc, argv);
    }
    char err[512] = "";
    if (sc.journal) {
        /* Not part of the run's fingerprint: set after the build. */
        free(r.cfg.journal_path);
        r.cfg.journal_path = strdup(sc.journal);
    }
    if (sc.metrics_file && r.cfg.journal_path &&
        cli_same_file(sc.metrics_file, r.cfg.journal_path)) {
        cli_usage_error("backtest: --metrics-file %s is the journal: writing the metrics would "
                        "destroy it; give one of them another path",
                        sc.metrics_file);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    if (sc.resume && !r.cfg.journal_path) {
        cli_usage_error("backtest: --resume needs a journal (--journal FILE or [journal] path)");
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    progress_ctx pc;
    memset(&pc, 0, sizeof(pc));
    pc.tty = !r.quiet && isatty(STDERR_FILENO);
    if (pc.tty) {
        /* TRADEBUS_PROGRESS_DELAY: seconds before the bar shows (default 1). */
        const char *d = getenv("TRADEBUS_PROGRESS_DELAY");
        pc.delay = d && d[0] ? atof(d) : 1.0;
        pc.total = count_rows(&r.cfg);
        pc.start = now_s();
    }
    shadow_hook hook = {&sc, &r.cfg, NULL};
    if (sc.metrics_port >= 0 || sc.metrics_file) {
        if (tb_metrics_create(&hook.m) != 0 || tb_metrics_set_role(hook.m, "backtest") != 0) {
            cli_log(CLI_LOG_ERROR, NULL, "backtest: out of memory for the metrics");
            tb_metrics_destroy(hook.m);
            tb_config_free(&r.cfg);
            return EXIT_RUNTIME;
        }
        if (sc.metrics_port >= 0 &&
            tb_metrics_serve(hook.m, NULL, sc.metrics_port, err, sizeof(err)) != 0) {
            cli_log(CLI_LOG_ERROR, NULL, "backtest: %s", err);
            tb_metrics_destroy(hook.m);
            tb_config_free(&r.cfg);
            return EXIT_USAGE;
        }
        if (sc.metrics_port >= 0)
            cli_log(CLI_LOG_INFO, NULL, "metrics at http://127.0.0.1:%d/metrics",
                    tb_metrics_port(hook.m));
    }
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = r.out;
    if (pc.tty) {
        opt.progress = cli_progress;
        opt.progress_ctx = &pc;
        opt.progress_every = 1024; /* a clock read per 1024 bars; drawn <= 10 times/s */
    }
    opt.warn = cli_warn;
    opt.component_log = cli_component_line;
    opt.resume = sc.resume;
    opt.report = r.cfg.report;
    /* SIGINT/SIGTERM reach the run's loop: the first stops it at the next
     * bar boundary with every file written, the second abandons it. */
    opt.watch_signals = 1;
    if (sc.shadow || hook.m) {
        opt.on_start = shadow_start;
        opt.on_bar = shadow_bar;
        opt.on_end = shadow_end;
        opt.on_stop = shadow_stop;
        opt.hook_ctx = &hook;
    }
    tb_backtest_result res;
    int rc = tb_backtest_run(&r.cfg, &opt, &res, err, sizeof(err));
    if (pc.drawn) fprintf(stderr, "\r\033[K");
    if (rc == TB_ECANCELED) {
        cli_log(CLI_LOG_ERROR, NULL, "stopped at once (second signal): %s/ left as it was", r.out);
        code = 130;
    } else if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", sc.err[0] ? sc.err : err[0] ? err : tb_strerror(rc));
        code = cli_exit_for(rc, err, r.out);
    } else {
        if (!r.quiet) {
            cli_print_summary(&res, &r.cfg, r.out);
            /* The report is written by the run itself, before the files
             * are published together. */
            if (r.out && !report_skipped(&r.cfg))
                cli_printf("  report         %s/report.html\n", r.out);
            else if (r.out)
                cli_printf("  report.html not written: %s\n", report_skipped(&r.cfg));
        }
        if (sc.sh) {
            printf("shadow legacy run: ");
            tb_parity_write_report(tb_shadow_parity(sc.sh), stdout);
        }
        code = 0;
        if (res.interrupted) {
            /* The total only when the rows can be counted. */
            uint64_t total = pc.total ? pc.total : count_rows(&r.cfg);
            char of[40] = "";
            if (total) snprintf(of, sizeof(of), " of %llu", (unsigned long long)total);
            cli_log(CLI_LOG_WARN, NULL, "interrupted at bar %llu%s%s", (unsigned long long)res.bars,
                    of, r.cfg.journal_path ? " (continue it with --resume)" : "");
            code = 130;
        }
        tb_backtest_result_free(&res);
        if (sc.metrics_file && tb_metrics_write_file(hook.m, sc.metrics_file, err, sizeof(err))) {
            cli_log(CLI_LOG_ERROR, NULL, "metrics: %s", err);
            code = EXIT_RUNTIME;
        }
    }
    tb_metrics_destroy(hook.m);
    tb_shadow_destroy(sc.sh);
    tb_config_free(&r.cfg);
    return code;
}
