/* tradebus data fetch: Binance klines into monthly CSV files (docs/data.md). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_data_help =
    "tradebus data fetch --symbol SYMBOL --interval INTERVAL --from YYYY-MM-DD\n"
    "           --to YYYY-MM-DD [--out DIR] [--base-url URL] [--retries N]\n"
    "\n"
    "Downloads klines from Binance's public REST API (GET /api/v3/klines, no key\n"
    "needed) into one file per month, DIR/SYMBOL-INTERVAL-YYYY-MM.csv, in the\n"
    "12-column format of data.binance.vision (no header), which backtest reads.\n"
    "Every month the range touches is fetched whole; --to is exclusive (--to\n"
    "2024-03-01 ends with February).\n"
    "\n"
    "  --symbol SYMBOL     e.g. BTCUSDT (lower case is upper-cased)\n"
    "  --interval INTERVAL one of 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h,\n"
    "                      12h, 1d, 3d, 1w, 1M\n"
    "  --from YYYY-MM-DD   first day (UTC)\n"
    "  --to YYYY-MM-DD     end day (UTC), exclusive\n"
    "  --out DIR           where the files go, created if missing (default data)\n"
    "  --base-url URL      the REST API (default " TB_DATAFETCH_DEFAULT_URL ")\n"
    "  --retries N         retries of a request after a 5xx, a timeout or a lost\n"
    "                      connection, with a doubling back-off (default 5)\n"
    "\n"
    "Resumable: each month is written under a temporary name and renamed when\n"
    "complete, so an interrupted run (Ctrl-C, a network failure) leaves no\n"
    "half-written file; a rerun keeps every complete month (its file ends with\n"
    "the month's last bar, closed) and fetches the rest, including the month still\n"
    "in progress. Binance's rate limit is respected (X-MBX-USED-WEIGHT-1M;\n"
    "429/418 wait Retry-After). On a terminal a progress bar shows months, bars,\n"
    "bars/s and the ETA; otherwise one line per month.\n"
    "\n"
    "Exit codes: 0 success, 1 network or disk failure (rerun to resume), 2 usage\n"
    "error or a symbol/interval Binance refuses, 130 interrupted.\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    int tty;
    double start, last_draw;
    int drawn;
} progress;

static void clear_bar(progress *pg)
{
    if (pg->drawn) fputs("\r\033[K", stderr);
    pg->drawn = 0;
}

/* A bar on a terminal, redrawn at most ten times a second:
 * "[=====>     ] 1/3 months  52000/131040 bars  12.3k bars/s  ETA 0:06".
 * Elsewhere one line per month on stdout, and the waits as info lines. */
static void on_progress(const tb_datafetch_progress *p, void *ctx)
{
    progress *pg = ctx;
    if (!pg->tty) {
        switch (p->what) {
        case TB_DATAFETCH_MONTH_KEPT:
            cli_printf("%s: complete, kept\n", p->file);
            break;
        case TB_DATAFETCH_MONTH_WRITTEN:
            cli_printf("%s: %llu bars\n", p->file, (unsigned long long)p->month_bars);
            break;
        case TB_DATAFETCH_MONTH_EMPTY:
            cli_printf("%s: no bars on Binance, no file\n", p->file);
            break;
        case TB_DATAFETCH_WAIT:
            cli_log(CLI_LOG_INFO, NULL, "waiting %.1f s: %s", (double)p->wait_ms / 1000,
                    p->wait_reason);
            break;
        default:
            break;
        }
        fflush(stdout);
        return;
    }
    double t = now_s();
    if (p->what == TB_DATAFETCH_PAGE && t - pg->last_draw < 0.1) return;
    pg->last_draw = t;
    if (p->what == TB_DATAFETCH_PLAN) return;
    double el = t - pg->start;
    double rate = el > 0 ? (double)p->bars / el : 0;
    enum { WIDTH = 24 };
    double frac = p->bars_expected ? (double)p->bars / (double)p->bars_expected : 0;
    if (frac > 1) frac = 1;
    int fill = (int)(frac * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[WIDTH] = 0;
    long eta = rate > 0 && p->bars < p->bars_expected
                   ? (long)((double)(p->bars_expected - p->bars) / rate + 0.5)
                   : 0;
    char what[160] = "";
    if (p->what == TB_DATAFETCH_WAIT)
        snprintf(what, sizeof(what), "  waiting %.1f s (%.60s)", (double)p->wait_ms / 1000,
                 p->wait_reason);
    char rs[32];
    if (rate >= 1e6)
        snprintf(rs, sizeof(rs), "%.2fM", rate / 1e6);
    else if (rate >= 1e3)
        snprintf(rs, sizeof(rs), "%.1fk", rate / 1e3);
    else
        snprintf(rs, sizeof(rs), "%.0f", rate);
    fprintf(stderr, "\r[%s] %d/%d months  %llu/%llu bars  %s bars/s  ETA %ld:%02ld%s\033[K", bar,
            p->months_done, p->months_total, (unsigned long long)p->bars,
            (unsigned long long)p->bars_expected, rs, eta / 60, eta % 60, what);
    fflush(stderr);
    pg->drawn = 1;
}

/* A usage error: the message, then exit code 2. */
#define USAGE(...) (cli_usage_error(__VA_ARGS__), EXIT_USAGE)

static int data_fetch(int argc, char **argv)
{
    tb_datafetch_config cfg;
    tb_datafetch_config_init(&cfg);
    const char *from = NULL, *to = NULL;
    char symbol[32] = "";
    int have_symbol = 0;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(cli_data_help, stdout);
            return 0;
        }
        int known = !strcmp(o, "--symbol") || !strcmp(o, "--interval") || !strcmp(o, "--from") ||
                    !strcmp(o, "--to") || !strcmp(o, "--out") || !strcmp(o, "--base-url") ||
                    !strcmp(o, "--retries");
        if (!known) return USAGE("data fetch: unknown option '%s'", o);
        if (!v) return USAGE("data fetch: %s needs a value", o);
        i++;
        if (!strcmp(o, "--symbol")) {
            size_t n = strlen(v);
            for (size_t k = 0; k < n && k + 1 < sizeof(symbol); k++)
                symbol[k] = v[k] >= 'a' && v[k] <= 'z' ? (char)(v[k] - 'a' + 'A') : v[k];
            symbol[n < sizeof(symbol) ? n : sizeof(symbol) - 1] = '\0';
            if (n >= sizeof(symbol) || !tb_datafetch_symbol_valid(symbol))
                return USAGE("data fetch: --symbol '%s': not a Binance spot symbol (1 to 20 of "
                             "A-Z, 0-9, '-', '_', '.', e.g. BTCUSDT)",
                             v);
            have_symbol = 1;
        } else if (!strcmp(o, "--interval")) {
            if (!tb_datafetch_interval_valid(v))
                return USAGE("data fetch: --interval '%s': not a Binance interval (one of %s)", v,
                             TB_DATAFETCH_INTERVALS);
            cfg.interval = v;
        } else if (!strcmp(o, "--from")) {
            if (tb_datafetch_parse_date(v, &cfg.from_ms) != 0)
                return USAGE("data fetch: --from '%s': not a date (YYYY-MM-DD, UTC, e.g. "
                             "2024-01-01)",
                             v);
            from = v;
        } else if (!strcmp(o, "--to")) {
            if (tb_datafetch_parse_date(v, &cfg.to_ms) != 0)
                return USAGE("data fetch: --to '%s': not a date (YYYY-MM-DD, UTC, exclusive, e.g. "
                             "2024-03-01)",
                             v);
            to = v;
        } else if (!strcmp(o, "--out")) {
            if (!*v) return USAGE("data fetch: --out needs a directory");
            cfg.out_dir = v;
        } else if (!strcmp(o, "--base-url")) {
            if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
                return USAGE("data fetch: --base-url '%s': must start with http:// or "
                             "https://",
                             v);
            cfg.base_url = v;
        } else {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 0 || n > 100)
                return USAGE("data fetch: --retries '%s': not a number from 0 to 100", v);
            cfg.max_retries = (int)n;
        }
    }
    if (!have_symbol || !cfg.interval || !from || !to) {
        const char *missing = !have_symbol    ? "--symbol"
                              : !cfg.interval ? "--interval"
                              : !from         ? "--from"
                                              : "--to";
        return USAGE("data fetch: %s is required (data fetch --symbol BTCUSDT --interval 1m "
                     "--from 2024-01-01 --to 2024-03-01)",
                     missing);
    }
    if (cfg.to_ms <= cfg.from_ms)
        return USAGE("data fetch: --to %s is not after --from %s (--to is exclusive)", to, from);
    cfg.symbol = symbol;

    progress pg = {isatty(STDERR_FILENO), now_s(), 0, 0};
    cfg.progress = on_progress;
    cfg.progress_ctx = &pg;
    stop_flag = 0;
    cfg.stop = &stop_flag;
    struct sigaction old[2];
    cli_signals_catch(on_signal, old);
    tb_datafetch_stats st;
    char err[1024] = "";
    int rc = tb_datafetch_run(&cfg, &st, err, sizeof(err));
    cli_signals_restore(old);
    clear_bar(&pg);
    if (rc != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "data fetch %s %s: %s", symbol, cfg.interval, err);
        return rc == TB_ECANCELED ? 130 : rc == TB_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    cli_printf("%s %s: %d month(s) in %s: %d fetched, %d complete and kept, %d without bars; "
               "%llu bars, %llu requests, %llu retries\n",
               symbol, cfg.interval, st.months_total, cfg.out_dir, st.months_written,
               st.months_kept, st.months_empty, (unsigned long long)st.bars,
               (unsigned long long)st.requests, (unsigned long long)st.retries);
    return 0;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 1) {
        cli_usage_error("data: which subcommand? (data fetch --symbol SYMBOL --interval "
                        "INTERVAL --from YYYY-MM-DD --to YYYY-MM-DD)");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "fetch")) return data_fetch(argc - 1, argv + 1);
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs(cli_data_help, stdout);
        return 0;
    }
    cli_usage_error("data: unknown subcommand '%s' (known: fetch)", argv[0]);
    return EXIT_USAGE;
}
