/* The tradebus command: a thin client of the library (it includes only
 * <tradebus/...>). Exit codes: 0 success, 1 runtime failure, 2 usage or
 * config error, 3 bad input data. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tradebus/tradebus.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define EXIT_DATA    3

static const char *const main_help =
    "tradebus " TB_VERSION_STRING " - an event-driven trading pipeline\n"
    "\n"
    "Market data flows through a Signal Generator, an Order Manager, a (simulated)\n"
    "exchange, a Position Manager and a Risk Manager, connected only by an event bus;\n"
    "a Monitor records every event.\n"
    "\n"
    "Usage:\n"
    "  tradebus backtest --config FILE [--data SPEC]... [--set SECTION.KEY=VALUE]...\n"
    "                    [--out DIR] [--quiet]\n"
    "      Run the pipeline over historical bars. Writes DIR/summary.json,\n"
    "      DIR/fills.csv and DIR/events.jsonl (DIR defaults to out/).\n"
    "  tradebus indicators --data SPEC --ind NAME:PARAMS [NAME:PARAMS]...\n"
    "      Print indicator values as CSV (timestamp,close,...).\n"
    "  tradebus help [COMMAND]     This text, or a command's details.\n"
    "  tradebus version\n"
    "\n"
    "Data SPEC: a Binance kline CSV (BTCUSDT-1m-2024-01.csv: symbol from the name)\n"
    "or a CSV with header timestamp,open,high,low,close,volume; SYMBOL:path names\n"
    "the symbol explicitly.\n"
    "\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage/config error, 3 bad input data.\n"
    "Try: tradebus backtest --config examples/sma_cross.ini\n";

static const char *const backtest_help =
    "tradebus backtest --config FILE [options]\n"
    "\n"
    "Runs every bar of the data through the pipeline and prints a summary.\n"
    "\n"
    "  --config FILE            INI config (see README: [backtest], [exchange], [risk],\n"
    "                           [bus], [output], [symbol.SYM], [strategy.ID])\n"
    "  --data SPEC              data file, repeatable; replaces [backtest] data\n"
    "  --set SECTION.KEY=VALUE  override a config key, repeatable\n"
    "                           e.g. --set exchange.fee_bps=5 --set strategy.fast.slow=50\n"
    "  --out DIR                output directory (default: out)\n"
    "  --quiet                  print nothing but errors\n"
    "\n"
    "Files written to DIR:\n"
    "  summary.json   bars, signals, orders, fills, rejected, PnL, fees, equity,\n"
    "                 drawdown, dead letters, events per type, positions\n"
    "  fills.csv      one row per execution\n"
    "  events.jsonl   every event in dispatch order (JSON, one per line)\n"
    "\n"
    "Built-in strategies ([strategy.ID] type = ...):\n";

static const char *const indicators_help =
    "tradebus indicators --data SPEC --ind NAME:PARAMS [NAME:PARAMS]...\n"
    "\n"
    "Prints CSV: timestamp (bar open, ISO-8601 UTC), close, then one column per\n"
    "output, empty while the indicator warms up. Indicators:\n"
    "  sma:N  ema:N  rsi:N  atr:N  donchian:N (lower,upper)\n"
    "  macd:FAST,SLOW,SIGNAL (macd,signal,hist)  bbands:N,K (lower,middle,upper)\n"
    "Example: tradebus indicators --data data/BTCUSDT-1m-2024-01.csv --ind sma:20 rsi:14\n";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tradebus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(run 'tradebus help' for usage)\n");
    va_end(ap);
}

/* ---- backtest ---- */

typedef struct {
    int tty;
    time_t start;
} progress_ctx;

static void on_progress(uint64_t bars, int64_t bar_time, void *ctx)
{
    progress_ctx *pc = ctx;
    if (!pc->tty) return;
    char t[32];
    tb_format_time_iso(bar_time, t, sizeof(t));
    double el = difftime(time(NULL), pc->start);
    fprintf(stderr, "\r%llu bars, at %s, %.0f s elapsed ", (unsigned long long)bars, t, el);
    fflush(stderr);
}

static void on_warn(const char *msg, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "tradebus: skipped bad row: %s\n", msg);
}

static void print_summary(const tb_backtest_result *r, const char *out)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN], d[TB_DECIMAL_STRLEN],
        e[TB_DECIMAL_STRLEN], f[TB_DECIMAL_STRLEN];
    tb_dec_format(r->realized_pnl, a, sizeof(a));
    tb_dec_format(r->unrealized_pnl, b, sizeof(b));
    tb_dec_format(r->fees, c, sizeof(c));
    tb_dec_format(r->initial_equity, d, sizeof(d));
    tb_dec_format(r->final_equity, e, sizeof(e));
    tb_dec_format(r->max_drawdown_pct, f, sizeof(f));
    printf("tradebus backtest\n");
    printf("  bars           %llu (bad rows skipped: %llu)\n", (unsigned long long)r->bars,
           (unsigned long long)r->bad_rows);
    printf("  signals        %llu\n", (unsigned long long)r->signals);
    printf("  orders         %llu (rejected %llu, canceled %llu, still open %llu)\n",
           (unsigned long long)r->orders, (unsigned long long)r->rejected,
           (unsigned long long)r->canceled, (unsigned long long)r->open_orders);
    printf("  fills          %llu\n", (unsigned long long)r->fills);
    printf("  realized PnL   %s\n", a);
    printf("  unrealized PnL %s\n", b);
    printf("  fees           %s\n", c);
    printf("  equity         %s -> %s\n", d, e);
    printf("  max drawdown   %s%%\n", f);
    printf("  dead letters   %llu\n", (unsigned long long)r->dead_letters);
    printf("  events         %llu\n", (unsigned long long)r->events[0]);
    if (r->npositions) printf("  positions:\n");
    for (size_t i = 0; i < r->npositions; i++) {
        const tb_position_update *p = &r->positions[i];
        char q[TB_DECIMAL_STRLEN], ep[TB_DECIMAL_STRLEN], rp[TB_DECIMAL_STRLEN];
        tb_dec_format(p->current_quantity, q, sizeof(q));
        tb_dec_format(p->entry_price, ep, sizeof(ep));
        tb_dec_format(r->total_realized[i], rp, sizeof(rp));
        printf("    %-16s %-10s %-6s qty %-12s entry %-14s realized (all trades) %s\n",
               p->strategy_id, p->symbol, tb_position_status_name(p->status), q, ep, rp);
    }
    if (out) printf("  written to     %s/summary.json, fills.csv, events.jsonl\n", out);
}

static int exit_for(int rc)
{
    switch (rc) {
    case TB_ECONFIG:
    case TB_EINVAL:
        return EXIT_USAGE;
    case TB_EDATA:
    case TB_EPARSE:
        return EXIT_DATA;
    default:
        return EXIT_RUNTIME;
    }
}

static int cmd_backtest(int argc, char **argv)
{
    const char *config = NULL, *out = "out";
    int quiet = 0, rc;
    char err[512] = "";
    tb_config cfg;
    tb_config_init(&cfg);

    /* Two passes: the file first, then --data/--set on top of it, whatever
     * the order they were typed in. */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(backtest_help, stdout);
            for (size_t k = 0; tb_strategy_builtin_at(k); k++)
                printf("  %-20s %s\n", tb_strategy_builtin_at(k)->name,
                       tb_strategy_builtin_at(k)->help);
            tb_config_free(&cfg);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--config") && strcmp(a, "--data") && strcmp(a, "--set") &&
            strcmp(a, "--out")) {
            usage_error("backtest: unknown option '%s'", a);
            tb_config_free(&cfg);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            usage_error("backtest: %s needs a value", a);
            tb_config_free(&cfg);
            return EXIT_USAGE;
        }
        if (strcmp(a, "--config") == 0) config = argv[i + 1];
        if (strcmp(a, "--out") == 0) out = argv[i + 1];
        i++;
    }
    if (!config) {
        usage_error("backtest: --config FILE is required%s",
                    " (e.g. --config examples/sma_cross.ini)");
        return EXIT_USAGE;
    }
    if ((rc = tb_config_load(&cfg, config, err, sizeof(err))) != 0) goto fail_config;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0 &&
            (rc = tb_config_set(&cfg, argv[i + 1], err, sizeof(err))) != 0)
            goto fail_config;
        if (strcmp(argv[i], "--data") == 0 && (rc = tb_config_add_data(&cfg, argv[i + 1])) != 0)
            goto fail_config;
        if (strcmp(argv[i], "--quiet") && strcmp(argv[i], "-q")) i++;
    }
    if ((rc = tb_config_build(&cfg, err, sizeof(err))) != 0) goto fail_config;

    progress_ctx pc = {!quiet && isatty(STDERR_FILENO), time(NULL)};
    tb_backtest_options opt = {out, on_progress, &pc, 100000, on_warn, NULL, NULL, 0};
    tb_backtest_result res;
    rc = tb_backtest_run(&cfg, &opt, &res, err, sizeof(err));
    if (pc.tty) fprintf(stderr, "\r\033[K");
    if (rc) goto fail;
    if (!quiet) print_summary(&res, out);
    tb_backtest_result_free(&res);
    tb_config_free(&cfg);
    return 0;
fail_config:
    fprintf(stderr, "tradebus: %s\n", err[0] ? err : tb_strerror(rc));
    tb_config_free(&cfg);
    return rc == TB_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
fail:
    fprintf(stderr, "tradebus: %s\n", err[0] ? err : tb_strerror(rc));
    tb_config_free(&cfg);
    /* An unreadable data file is bad input; an unwritable --out is not. */
    if (rc == TB_EIO) return strncmp(err, out, strlen(out)) == 0 ? EXIT_RUNTIME : EXIT_DATA;
    return exit_for(rc);
}

/* ---- indicators ---- */

typedef enum { IND_SMA, IND_EMA, IND_RSI, IND_MACD, IND_BBANDS, IND_ATR, IND_DONCHIAN } ind_kind;

typedef struct {
    ind_kind kind;
    union {
        tb_sma sma;
        tb_ema ema;
        tb_rsi rsi;
        tb_macd macd;
        tb_bbands bb;
        tb_atr atr;
        tb_donchian dc;
    } u;
    char label[48];
} indicator;

static int parse_ints(const char *s, long *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        errno = 0;
        v[n++] = strtol(s, &end, 10);
        if (errno || end == s) return -1;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *s ? -1 : n;
}

static int ind_open(indicator *ind, const char *spec, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";
    long v[3];
    int n = -1, rc = TB_EINVAL;
    char label_params[32];
    snprintf(label_params, sizeof(label_params), "%s", params);
    for (char *c = label_params; *c; c++)
        if (*c == ',' || *c == '.') *c = '_';
#define IS(name) (nl == strlen(name) && strncmp(spec, name, nl) == 0)
    if (IS("sma") || IS("ema") || IS("rsi") || IS("atr") || IS("donchian")) {
        n = parse_ints(params, v, 1);
        if (n == 1 && v[0] >= 1 && v[0] <= 100000) {
            int p = (int)v[0];
            if (IS("sma")) ind->kind = IND_SMA, rc = tb_sma_init(&ind->u.sma, p);
            if (IS("ema")) ind->kind = IND_EMA, rc = tb_ema_init(&ind->u.ema, p);
            if (IS("rsi")) ind->kind = IND_RSI, rc = tb_rsi_init(&ind->u.rsi, p);
            if (IS("atr")) ind->kind = IND_ATR, rc = tb_atr_init(&ind->u.atr, p);
            if (IS("donchian")) ind->kind = IND_DONCHIAN, rc = tb_donchian_init(&ind->u.dc, p);
        }
    } else if (IS("macd")) {
        n = parse_ints(params, v, 3);
        if (n == 3) {
            ind->kind = IND_MACD;
            rc = tb_macd_init(&ind->u.macd, (int)v[0], (int)v[1], (int)v[2]);
        }
    } else if (IS("bbands")) {
        char *end;
        long p = strtol(params, &end, 10);
        double k = *end == ',' ? strtod(end + 1, &end) : 0;
        if (*end == 0 && p >= 1 && p <= 100000 && k > 0 && k < 100) {
            ind->kind = IND_BBANDS;
            rc = tb_bbands_init(&ind->u.bb, (int)p, k);
        }
    } else {
        snprintf(err, errlen,
                 "--ind %s: unknown indicator (known: sma, ema, rsi, macd, bbands, atr, "
                 "donchian)",
                 spec);
        return TB_EINVAL;
    }
#undef IS
    if (rc) {
        snprintf(err, errlen, "--ind %s: bad parameters (see 'tradebus help indicators')", spec);
        return rc;
    }
    snprintf(ind->label, sizeof(ind->label), "%.*s_%s", (int)nl, spec, label_params);
    return 0;
}

static void ind_close(indicator *ind)
{
    switch (ind->kind) {
    case IND_SMA:
        tb_sma_close(&ind->u.sma);
        break;
    case IND_EMA:
        tb_ema_close(&ind->u.ema);
        break;
    case IND_RSI:
        tb_rsi_close(&ind->u.rsi);
        break;
    case IND_MACD:
        tb_macd_close(&ind->u.macd);
        break;
    case IND_BBANDS:
        tb_bbands_close(&ind->u.bb);
        break;
    case IND_ATR:
        tb_atr_close(&ind->u.atr);
        break;
    case IND_DONCHIAN:
        tb_donchian_close(&ind->u.dc);
        break;
    }
}

static void ind_header(const indicator *ind)
{
    const char *l = ind->label;
    switch (ind->kind) {
    case IND_MACD:
        printf(",%s_macd,%s_signal,%s_hist", l, l, l);
        break;
    case IND_BBANDS:
        printf(",%s_lower,%s_middle,%s_upper", l, l, l);
        break;
    case IND_DONCHIAN:
        printf(",%s_lower,%s_upper", l, l);
        break;
    default:
        printf(",%s", l);
    }
}

static void put_vals(int ready, const double *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (ready)
            printf(",%.8f", v[i]);
        else
            printf(",");
    }
}

static void ind_update(indicator *ind, const tb_market_data *bar)
{
    double c = tb_dec_to_double(bar->close), h = tb_dec_to_double(bar->high),
           lo = tb_dec_to_double(bar->low);
    int r;
    switch (ind->kind) {
    case IND_SMA:
        r = tb_sma_update(&ind->u.sma, c);
        put_vals(r, &ind->u.sma.value, 1);
        break;
    case IND_EMA:
        r = tb_ema_update(&ind->u.ema, c);
        put_vals(r, &ind->u.ema.value, 1);
        break;
    case IND_RSI:
        r = tb_rsi_update(&ind->u.rsi, c);
        put_vals(r, &ind->u.rsi.value, 1);
        break;
    case IND_ATR:
        r = tb_atr_update(&ind->u.atr, h, lo, c);
        put_vals(r, &ind->u.atr.value, 1);
        break;
    case IND_MACD: {
        r = tb_macd_update(&ind->u.macd, c);
        double v[3] = {ind->u.macd.macd, ind->u.macd.signal_value, ind->u.macd.hist};
        put_vals(r, v, 3);
        break;
    }
    case IND_BBANDS: {
        r = tb_bbands_update(&ind->u.bb, c);
        double v[3] = {ind->u.bb.lower, ind->u.bb.middle, ind->u.bb.upper};
        put_vals(r, v, 3);
        break;
    }
    case IND_DONCHIAN: {
        r = tb_donchian_update(&ind->u.dc, h, lo);
        double v[2] = {ind->u.dc.lower, ind->u.dc.upper};
        put_vals(r, v, 2);
        break;
    }
    }
}

static int cmd_indicators(int argc, char **argv)
{
    const char *data = NULL;
    indicator *inds = calloc((size_t)argc + 1, sizeof(*inds));
    int nind = 0, rc = 0, code = 0;
    char err[512] = "";
    if (!inds) return EXIT_RUNTIME;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(indicators_help, stdout);
            goto out;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            if (data) {
                usage_error("indicators: give one --data (got a second: %s)", argv[i + 1]);
                code = EXIT_USAGE;
                goto out;
            }
            data = argv[++i];
        } else if (strcmp(argv[i], "--ind") == 0) {
            /* --ind takes every following word up to the next option. */
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (ind_open(&inds[nind], argv[++i], err, sizeof(err)) != 0) {
                    fprintf(stderr, "tradebus: %s\n", err);
                    code = EXIT_USAGE;
                    goto out;
                }
                nind++;
            }
        } else {
            usage_error("indicators: unknown or incomplete option '%s'", argv[i]);
            code = EXIT_USAGE;
            goto out;
        }
    }
    if (!data || nind == 0) {
        usage_error("indicators: %s", "need --data SPEC and at least one --ind NAME:PARAMS");
        code = EXIT_USAGE;
        goto out;
    }
    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_reader *r;
    if ((rc = tb_md_reader_open(data, &mc, &r, err, sizeof(err))) != 0) {
        fprintf(stderr, "tradebus: %s\n", err);
        code = rc == TB_EINVAL ? EXIT_USAGE : EXIT_DATA;
        goto out;
    }
    printf("timestamp,close");
    for (int i = 0; i < nind; i++)
        ind_header(&inds[i]);
    printf("\n");
    tb_market_data bar;
    while ((rc = tb_md_reader_next(r, &bar, err, sizeof(err))) == 0) {
        char t[32], c[TB_DECIMAL_STRLEN];
        tb_format_time_iso(bar.open_time, t, sizeof(t));
        tb_dec_format(bar.close, c, sizeof(c));
        printf("%s,%s", t, c);
        for (int i = 0; i < nind; i++)
            ind_update(&inds[i], &bar);
        printf("\n");
    }
    tb_md_reader_close(r);
    if (rc != TB_EEOF) {
        fprintf(stderr, "tradebus: %s\n", err);
        code = EXIT_DATA;
    }
out:
    for (int i = 0; i < nind; i++)
        ind_close(&inds[i]);
    free(inds);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "backtest") == 0) return cmd_backtest(argc - 2, argv + 2);
    if (strcmp(cmd, "indicators") == 0) return cmd_indicators(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tradebus %s\n", TB_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(argv[2], "backtest") == 0) {
            char *h[] = {"--help"};
            return cmd_backtest(1, h);
        }
        if (argc > 2 && strcmp(argv[2], "indicators") == 0) {
            fputs(indicators_help, stdout);
            return 0;
        }
        fputs(main_help, stdout);
        return 0;
    }
    usage_error("unknown command '%s'", cmd);
    return EXIT_USAGE;
}
