/* tradebus sweep: one backtest per combination of parameter values, on
 * every core (tradebus/sweep.h, docs/sweep.md). */
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

const char *const cli_sweep_help =
    "tradebus sweep --config FILE --param KEY=FROM:TO:STEP|KEY=V1,V2,... [--param ...]\n"
    "               [--where EXPR] [--random N [--seed S]] [--objective NAME]\n"
    "               [--jobs N] [--out DIR] [--resume] [--set K=V] [--data SPEC] [--quiet]\n"
    "               [--train FROM..TO --test FROM..TO | --walk-forward train=90d,test=30d]\n"
    "\n"
    "Runs `tradebus backtest` once per combination of the --param values, on\n"
    "--jobs worker threads (0, the default: every core), the market data read\n"
    "once and shared. A row is exactly what `tradebus backtest --set KEY=VALUE...`\n"
    "gives for its values, whatever --jobs is.\n"
    "\n"
    "  --param KEY=FROM:TO:STEP  values FROM, FROM+STEP, ... up to TO inclusive\n"
    "  --param KEY=V1,V2,...     these values; KEY is any config key as --set\n"
    "                            takes it (strategy.ID.fast, exchange.fee_bps,\n"
    "                            risk.max_position, ...); up to 8 params\n"
    "  --where EXPR              keep the combinations where EXPR holds: compare\n"
    "                            params (by the key's last part, or more of it:\n"
    "                            btc.fast, strategy.btc.fast) and numbers with\n"
    "                            < <= > >= == !=, join with and, or, not, ( );\n"
    "                            e.g. 'fast < slow and (slow <= 50 or fast == 5)'\n"
    "  --random N --seed S       run N of the combinations left, drawn with seed S\n"
    "                            (default 1), still written in grid order\n"
    "  --objective NAME          what `best` means (default net_pnl): net_pnl,\n"
    "                            return_pct, sharpe, sortino, win_rate_pct,\n"
    "                            profit_factor, exposure_pct, trades, or\n"
    "                            max_drawdown_pct / fees (lower is better)\n"
    "  --jobs N                  worker threads (0 = every core)\n"
    "  --out DIR                 default out/sweep\n"
    "  --resume                  keep the rows (or walk-forward windows) DIR's\n"
    "                            checkpoint holds and run the rest (after Ctrl-C,\n"
    "                            a kill or a crash)\n"
    "\n"
    "Walk-forward (out-of-sample testing):\n"
    "  --train 2024-01-01..2024-06-30 --test 2024-07-01..2024-09-30\n"
    "                            sweep on the training days (UTC, both ends\n"
    "                            included), then run the best combination on the\n"
    "                            test days\n"
    "  --walk-forward train=90d,test=30d\n"
    "                            rolling windows (units h, d, w): train, test the\n"
    "                            best on the next part, step by the test length\n"
    "  A test part's strategies warm up on the training bars (nothing is traded\n"
    "  before it starts), and each starts with the equity the previous one ended\n"
    "  with. Writes DIR/walkforward.csv (per window: its dates, the chosen values,\n"
    "  the in-sample objective, the out-of-sample figures) and DIR/oos_equity.csv\n"
    "  (the stitched out-of-sample equity curve).\n"
    "\n"
    "Writes DIR/sweep.csv (one row per combination in grid order: the params,\n"
    "then bars, trades, net_pnl, return_pct, fees, max_drawdown_pct, sharpe,\n"
    "sortino, win_rate_pct, profit_factor, exposure_pct, error), DIR/sweep.html\n"
    "(the best combinations, heat maps, each param's sensitivity) and, in\n"
    "DIR/best/, the best combination's full backtest output (summary.json,\n"
    "fills.csv, report.html, ...). A combination whose config is invalid is a\n"
    "row with its error; if every one fails (a misspelt key), the rows are\n"
    "written and the exit code is 2. Finished rows (windows) go to a checkpoint as they\n"
    "finish, DIR/sweep.state (walkforward.state, and the training rows of the\n"
    "window under way in walkforward.window.state): after a kill at most the\n"
    "last 64 rows or 2 s are lost. Ctrl-C stops after abandoning the runs under\n"
    "way: every finished row (window) is written, and --resume continues. Exit\n"
    "codes: 0 done, 2 usage or config error, 3 bad data, 130 interrupted\n"
    "(rows kept).\n"
    "See docs/sweep.md.\n";

static volatile sig_atomic_t sweep_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (sweep_stop < 2) sweep_stop++;
}

typedef struct {
    double t0;
    int tty, quiet;
    size_t base;             /* rows (windows) done before this run: not in the rate */
    size_t window, nwindows; /* walk-forward: the window under way */
} progress_state;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* " ETA m:ss" from the share of the work done in this run since t0, or
 * " ETA --:--" before any is done (no rate to go by yet). */
static void put_eta(const progress_state *ps, double share)
{
    double dt = mono_s() - ps->t0;
    if (share <= 0 || dt <= 0) {
        fputs("  ETA --:--", stderr);
        return;
    }
    double eta = share >= 1 ? 0 : dt * (1 - share) / share;
    fprintf(stderr, "  ETA %d:%02d", (int)eta / 60, (int)eta % 60);
}

static void progress(size_t done, size_t total, void *ctx)
{
    progress_state *ps = ctx;
    if (ps->quiet || !ps->tty) return;
    double dt = mono_s() - ps->t0;
    size_t ran = done > ps->base ? done - ps->base : 0, left = total - ps->base;
    fprintf(stderr, "\r\033[Ksweep: %zu/%zu combinations  %.1f/s", done, total,
            dt > 0 ? (double)ran / dt : 0.0);
    put_eta(ps, left ? (double)ran / (double)left : 1);
    fflush(stderr);
}

/* Walk-forward: the window under way (windows before base were restored). */
static void wf_progress(size_t done, size_t total, void *ctx)
{
    progress_state *ps = ctx;
    ps->window = done;
    ps->nwindows = total;
    if (ps->quiet || !ps->tty) return;
    size_t left = total - ps->base;
    fprintf(stderr, "\r\033[Kwalk-forward: window %zu/%zu", done < total ? done + 1 : total, total);
    put_eta(ps, left ? (double)(done - ps->base) / (double)left : 1);
    fflush(stderr);
}

/* Walk-forward: the training sweep of the window under way. */
static void wf_rows(size_t window, size_t done, size_t total, void *ctx)
{
    progress_state *ps = ctx;
    if (ps->quiet || !ps->tty || !ps->nwindows) return;
    size_t left = ps->nwindows - ps->base;
    double share = total ? (double)done / (double)total : 0;
    fprintf(stderr, "\r\033[Kwalk-forward: window %zu/%zu, training %zu/%zu combinations",
            window + 1, ps->nwindows, done, total);
    put_eta(ps, left ? ((double)(window - ps->base) + share) / (double)left : 1);
    fflush(stderr);
}

static void warn(const char *msg, void *ctx)
{
    (void)ctx;
    cli_log(CLI_LOG_WARN, NULL, "%s", msg);
}

/* path written whole through path.tmp, renamed over it on success. */
static int write_atomic(const char *path, int (*fn)(FILE *f, void *ctx), void *ctx)
{
    char tmp[4200];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = n > 0 && (size_t)n < sizeof(tmp) ? fopen(tmp, "w") : NULL;
    if (!f) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: cannot write: %s", tmp, strerror(errno));
        return EXIT_RUNTIME;
    }
    int rc = fn(f, ctx);
    if (fclose(f) != 0) rc = TB_EIO;
    if (rc || rename(tmp, path) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: write failed: %s", path,
                rc ? tb_strerror(rc) : strerror(errno));
        unlink(tmp);
        return EXIT_RUNTIME;
    }
    return 0;
}

typedef struct {
    const tb_sweep_options *o;
    const tb_sweep_result *res;
} writing;

static int put_csv(FILE *f, void *ctx)
{
    writing *w = ctx;
    return tb_sweep_write_csv(w->o->params, w->o->nparams, w->res, f);
}

/* A checkpoint that could not be written loses no result of this run,
 * only what a later --resume would have kept. */
static void close_journal(tb_sweep_journal *j, const char *path)
{
    int rc = tb_sweep_journal_close(j);
    if (rc)
        cli_log(CLI_LOG_WARN, NULL,
                "%s: the checkpoint could not be written whole (%s): a --resume would rerun "
                "what it lacks; check the disk",
                path, tb_strerror(rc));
}

static int mkdirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* The best combination's full `tradebus backtest` into out/best. */
static int run_best(const tb_sweep_options *o, const tb_sweep_row *row, const char *out)
{
    tb_config cfg;
    char err[1024] = "";
    tb_config_init(&cfg);
    int rc = tb_config_load(&cfg, o->config_path, err, sizeof(err));
    for (size_t i = 0; i < o->nsets && !rc; i++)
        rc = tb_config_set(&cfg, o->sets[i], err, sizeof(err));
    for (size_t k = 0; k < o->nparams && !rc; k++) {
        char a[512];
        snprintf(a, sizeof(a), "%s=%s", o->params[k].key,
                 tb_sweep_value(o->params, o->nparams, row->combination, k));
        rc = tb_config_set(&cfg, a, err, sizeof(err));
    }
    /* report.html replays the event log. */
    if (!rc) rc = tb_config_set(&cfg, "output.event_log=true", err, sizeof(err));
    for (size_t i = 0; i < o->ndata && !rc; i++)
        rc = tb_config_add_data(&cfg, o->data[i]);
    if (!rc) rc = tb_config_build(&cfg, err, sizeof(err));
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/best", out);
    tb_backtest_options bo;
    memset(&bo, 0, sizeof(bo));
    bo.out_dir = dir;
    bo.report = 1;
    tb_backtest_result res;
    if (!rc) rc = tb_backtest_run(&cfg, &bo, &res, err, sizeof(err));
    if (!rc) tb_backtest_result_free(&res);
    tb_config_free(&cfg);
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "best/: %s", err[0] ? err : tb_strerror(rc));
        return EXIT_RUNTIME;
    }
    return 0;
}

static void print_row(const tb_sweep_options *o, const tb_sweep_row *r)
{
    for (size_t k = 0; k < o->nparams; k++)
        cli_printf("%s%s=%s", k ? " " : "", o->params[k].name,
                   tb_sweep_value(o->params, o->nparams, r->combination, k));
    char net[TB_DECIMAL_STRLEN], ret[TB_DECIMAL_STRLEN], dd[TB_DECIMAL_STRLEN];
    tb_dec_format(r->net_pnl, net, sizeof(net));
    tb_dec_format(r->return_pct, ret, sizeof(ret));
    tb_dec_format(r->max_drawdown_pct, dd, sizeof(dd));
    cli_printf(": net %s (%s%%), %llu trades, max drawdown %s%%", net, ret,
               (unsigned long long)r->trades, dd);
    if (r->ratios) cli_printf(", sharpe %.3f", r->sharpe);
    cli_printf("\n");
}

/* "2024-01-01..2024-06-30" into [from, to) ns, the last day included. */
static int parse_days(const char *s, int64_t *from, int64_t *to)
{
    const char *dots = strstr(s, "..");
    char a[16], b[16];
    if (!dots || dots - s >= (long)sizeof(a) || strlen(dots + 2) >= sizeof(b)) return -1;
    snprintf(a, sizeof(a), "%.*s", (int)(dots - s), s);
    snprintf(b, sizeof(b), "%s", dots + 2);
    int64_t x, y;
    if (tb_datafetch_parse_date(a, &x) != 0 || tb_datafetch_parse_date(b, &y) != 0 || y < x)
        return -1;
    *from = x * 1000000;
    *to = (y + 86400000) * 1000000;
    return 0;
}

/* "90d" / "12h" / "2w" in ns. */
static int parse_span(const char *s, size_t len, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || n <= 0 || n > 100000 || (size_t)(end - s) != len - 1) return -1;
    int64_t unit = *end == 'h' ? 3600 : *end == 'd' ? 86400 : *end == 'w' ? 7 * 86400 : 0;
    if (!unit) return -1;
    *out = (int64_t)n * unit * 1000000000;
    return 0;
}

static int parse_wf(const char *s, int64_t *train, int64_t *test)
{
    *train = *test = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (!strncmp(s, "train=", 6) && parse_span(s + 6, len - 6, train) == 0) {
        } else if (!strncmp(s, "test=", 5) && parse_span(s + 5, len - 5, test) == 0) {
        } else {
            return -1;
        }
        s += len + (s[len] == ',');
    }
    return *train && *test ? 0 : -1;
}

typedef struct {
    const tb_sweep_options *o;
    const tb_wf_row *rows;
    size_t n;
    const char *objective;
} wf_writing;

static int put_wf(FILE *f, void *ctx)
{
    const wf_writing *w = ctx;
    return tb_wf_write_csv(w->o->params, w->o->nparams, w->rows, w->n, w->objective, f);
}

typedef struct {
    FILE *src;
} copy_ctx;

static int put_copy(FILE *f, void *ctx)
{
    copy_ctx *c = ctx;
    rewind(c->src);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), c->src)) > 0)
        if (fwrite(buf, 1, n, f) != n) return TB_EIO;
    return ferror(c->src) ? TB_EIO : 0;
}

/* Worded as a sweep's resume is: "N of M combinations already done". */
static void window_resumed(size_t window, size_t held, size_t total, void *ctx)
{
    (void)ctx;
    cli_printf("  window %zu: training sweep, %zu of %zu combinations already done\n", window + 1,
               held, total);
}

static int run_walk_forward(tb_sweep_options *o, const char *out, const char *objective,
                            const char *train, const char *test, const char *wf, int quiet,
                            int resume)
{
    tb_sweep_journal *journal = NULL;
    char state[4200], wstate[4200];
    snprintf(state, sizeof(state), "%s/walkforward.state", out);
    snprintf(wstate, sizeof(wstate), "%s/walkforward.window.state", out);
    char err[1024] = "";
    tb_wf_window one, *windows = NULL;
    size_t nw = 0;
    if (wf) {
        int64_t tr, te;
        if (parse_wf(wf, &tr, &te) != 0) {
            cli_usage_error("sweep: --walk-forward %s: expected train=N[h|d|w],test=N[h|d|w] "
                            "(e.g. train=90d,test=30d)",
                            wf);
            return EXIT_USAGE;
        }
        tb_market_data *bars = NULL;
        size_t n = 0;
        int rc = tb_sweep_load_bars(o, &bars, &n, err, sizeof(err));
        if (rc) {
            cli_log(CLI_LOG_ERROR, NULL, "%s", err);
            return cli_exit_for(rc, err, NULL);
        }
        int64_t first = n ? bars[0].open_time : 0, end = n ? bars[n - 1].close_time + 1 : 0;
        free(bars);
        if (tb_wf_windows(first, end, tr, te, &windows, &nw) != 0) {
            cli_usage_error("sweep: --walk-forward %s: the data (%zu bars) is shorter than one "
                            "training part and a test part",
                            wf, n);
            return EXIT_USAGE;
        }
    } else {
        if (parse_days(train, &one.train_from, &one.train_to) != 0 ||
            parse_days(test, &one.test_from, &one.test_to) != 0) {
            cli_usage_error("sweep: --train/--test: expected YYYY-MM-DD..YYYY-MM-DD (UTC, both "
                            "days included), e.g. --train 2024-01-01..2024-06-30");
            return EXIT_USAGE;
        }
        if (one.test_from < one.train_to) {
            cli_usage_error("sweep: --test must start after --train ends: testing on training "
                            "days is not out of sample");
            return EXIT_USAGE;
        }
        windows = &one;
        nw = 1;
    }
    tb_wf_row *rows = calloc(nw, sizeof(*rows));
    FILE *curve = tmpfile();
    int code = 0;
    if (!rows || !curve) {
        cli_log(CLI_LOG_ERROR, NULL, "out of memory or no temporary file");
        code = EXIT_RUNTIME;
        goto done;
    }
    /* The checkpoint: each finished window, kept for a --resume. */
    uint64_t fp = tb_sweep_fingerprint(o, objective, windows, nw);
    int rc = tb_sweep_journal_open(state, TB_SWEEP_JOURNAL_WINDOWS, fp, resume, &journal, err,
                                   sizeof(err));
    if (rc && resume && (rc == TB_ENOTFOUND || rc == TB_EINVAL)) {
        cli_log(CLI_LOG_ERROR, NULL,
                "%s: --resume needs the walk-forward this folder holds (same --config, --set, "
                "--data, --param, --where, --random, --seed, --objective and --train/--test or "
                "--walk-forward); %s",
                out, rc == TB_ENOTFOUND ? "it holds none" : "this one differs");
        code = EXIT_USAGE;
        goto done;
    }
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err);
        code = EXIT_RUNTIME;
        goto done;
    }
    size_t held = tb_sweep_journal_count(journal);
    if (!quiet) {
        cli_printf("walk-forward: %zu window%s", nw, nw == 1 ? "" : "s");
        if (held) cli_printf(" (%zu already done)", held < nw ? held : nw);
        cli_printf("\n");
    }
    size_t ndone = 0;
    progress_state ps = {mono_s(), isatty(STDERR_FILENO), quiet, held < nw ? held : nw, 0, 0};
    o->journal = journal;
    o->window_journal = wstate;
    o->window_resumed = quiet ? NULL : window_resumed;
    o->progress = wf_progress;
    o->window_rows = wf_rows;
    o->progress_ctx = &ps;
    rc = tb_sweep_walk_forward(o, windows, nw, objective, rows, curve, &ndone, err, sizeof(err));
    if (ps.tty && !quiet) fputs("\r\033[K", stderr);
    o->journal = NULL;
    o->window_journal = NULL;
    o->window_resumed = NULL;
    o->progress = NULL;
    o->window_rows = NULL;
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err[0] ? err : tb_strerror(rc));
        code = cli_exit_for(rc, err, NULL);
        goto done;
    }
    /* Written also when stopped: the finished windows, whole. */
    char path[4200];
    wf_writing w = {o, rows, ndone, objective};
    snprintf(path, sizeof(path), "%s/walkforward.csv", out);
    if ((code = write_atomic(path, put_wf, &w)) != 0) goto done;
    copy_ctx cc = {curve};
    snprintf(path, sizeof(path), "%s/oos_equity.csv", out);
    if ((code = write_atomic(path, put_copy, &cc)) != 0) goto done;
    if (ndone < nw) {
        cli_log(CLI_LOG_WARN, NULL,
                "interrupted: %zu of %zu windows done, written to %s/walkforward.csv and "
                "oos_equity.csv; --resume continues",
                ndone, nw, out);
        code = 130;
        goto done;
    }
    if (!quiet) {
        double is_sum = 0;
        size_t chosen = 0;
        for (size_t i = 0; i < nw; i++) {
            const tb_wf_row *r = &rows[i];
            char from[40], to[40];
            tb_format_time_iso(r->w.test_from, from, sizeof(from));
            tb_format_time_iso(r->w.test_to - 1, to, sizeof(to));
            cli_printf("  %zu  test %.16s..%.16s  ", i + 1, from, to);
            if (!r->chosen) {
                cli_printf("nothing chosen: %s\n",
                           r->oos.error[0] ? r->oos.error : "no objective in training");
                continue;
            }
            chosen++;
            is_sum += r->in_sample;
            for (size_t k = 0; k < o->nparams; k++)
                cli_printf("%s=%s ", o->params[k].name,
                           tb_sweep_value(o->params, o->nparams, r->combination, k));
            char net[TB_DECIMAL_STRLEN];
            tb_dec_format(r->oos.net_pnl, net, sizeof(net));
            cli_printf("in-sample %s %.4g, out-of-sample net %s%s%s\n", objective, r->in_sample,
                       net, r->oos.error[0] ? ": " : "", r->oos.error);
        }
        tb_decimal start = rows[0].equity_start, end = rows[nw - 1].equity_end, ret = 0;
        if (start > 0) tb_dec_muldiv_int(end - start, 100, 1, TB_ROUND_HALF_UP, &ret);
        if (start > 0) tb_dec_div(ret, start, TB_ROUND_HALF_UP, &ret);
        char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
        tb_dec_format(start, a, sizeof(a));
        tb_dec_format(end, b, sizeof(b));
        tb_dec_format(ret, c, sizeof(c));
        cli_printf("  out-of-sample  equity %s -> %s (%s%%) over %zu test part%s; ", a, b, c, nw,
                   nw == 1 ? "" : "s");
        if (chosen)
            cli_printf("in-sample mean %s %.4g\n", objective, is_sum / (double)chosen);
        else
            cli_printf("no window chose a combination\n");
        cli_printf("  written to     %s/walkforward.csv, oos_equity.csv\n", out);
    }
    /* Training that failed on every combination of every window (a
     * misspelt key) is a config error, as for a plain sweep. */
    size_t all_failed = 0;
    for (size_t i = 0; i < nw; i++)
        all_failed += tb_wf_row_untrainable(&rows[i]);
    if (nw && all_failed == nw) {
        cli_log(CLI_LOG_ERROR, NULL, "no window could train: window 1: %s", rows[0].oos.error);
        code = EXIT_USAGE;
    }
done:
    close_journal(journal, state);
    if (curve) fclose(curve);
    free(rows);
    if (windows != &one) free(windows);
    return code;
}

int cmd_sweep(int argc, char **argv)
{
    tb_sweep_options o;
    memset(&o, 0, sizeof(o));
    o.seed = 1;
    const char *out = "out/sweep", *objective = "net_pnl";
    const char *train = NULL, *test = NULL, *wf = NULL;
    int resume = 0, quiet = 0, code = EXIT_USAGE;
    tb_sweep_param params[TB_SWEEP_MAX_PARAMS];
    size_t np = 0;
    const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
    const char **data = calloc((size_t)argc + 1, sizeof(*data));
    char err[1024] = "", state[4200] = "";
    tb_sweep_journal *journal = NULL;
    tb_sweep_result res;
    memset(&res, 0, sizeof(res));
    if (!sets || !data) {
        cli_log(CLI_LOG_ERROR, NULL, "out of memory");
        code = EXIT_RUNTIME;
        goto done;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(cli_sweep_help, stdout);
            code = 0;
            goto done;
        }
        if (!strcmp(a, "--resume")) {
            resume = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            cli_usage_error("sweep: %s needs a value (or is unknown)", a);
            goto done;
        }
        i++;
        if (!strcmp(a, "--config")) {
            o.config_path = v;
        } else if (!strcmp(a, "--set")) {
            sets[o.nsets++] = v;
        } else if (!strcmp(a, "--data")) {
            data[o.ndata++] = v;
        } else if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--where")) {
            o.where = v;
        } else if (!strcmp(a, "--objective")) {
            objective = v;
        } else if (!strcmp(a, "--train")) {
            train = v;
        } else if (!strcmp(a, "--test")) {
            test = v;
        } else if (!strcmp(a, "--walk-forward")) {
            wf = v;
        } else if (!strcmp(a, "--param")) {
            if (np == TB_SWEEP_MAX_PARAMS) {
                cli_usage_error("sweep: at most %d --param", TB_SWEEP_MAX_PARAMS);
                goto done;
            }
            if (tb_sweep_param_parse(v, &params[np], err, sizeof(err)) != 0) {
                cli_usage_error("sweep: %s", err);
                goto done;
            }
            np++;
        } else if (!strcmp(a, "--jobs") || !strcmp(a, "--random") || !strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            int random = !strcmp(a, "--random");
            if (errno || *end || !*v || v[0] == '-' || (!strcmp(a, "--jobs") && n > 1024) ||
                (random && n == 0)) {
                cli_usage_error("sweep: %s %s: expected a whole number%s", a, v,
                                !strcmp(a, "--jobs") ? " from 0 (every core) to 1024"
                                : random             ? " of combinations, 1 or more"
                                                     : "");
                goto done;
            }
            if (!strcmp(a, "--jobs")) o.jobs = (int)n;
            if (!strcmp(a, "--random")) o.random = (size_t)n;
            if (!strcmp(a, "--seed")) o.seed = n;
        } else {
            cli_usage_error("sweep: unknown option %s", a);
            goto done;
        }
    }
    if (!o.config_path) {
        cli_usage_error("sweep: --config FILE is required");
        goto done;
    }
    if (!np) {
        cli_usage_error("sweep: give at least one --param KEY=FROM:TO:STEP or KEY=V1,V2");
        goto done;
    }
    if (!tb_sweep_objective_valid(objective)) {
        cli_usage_error("sweep: --objective %s: expected net_pnl, return_pct, sharpe, sortino, "
                        "win_rate_pct, profit_factor, exposure_pct, trades, max_drawdown_pct "
                        "or fees",
                        objective);
        goto done;
    }
    for (size_t k = 0; k < np; k++)
        if (!strncmp(params[k].key, "backtest.data", 13) ||
            !strncmp(params[k].key, "journal.", 8)) {
            cli_usage_error("sweep: --param %s: the data and the journal are the same for every "
                            "combination",
                            params[k].key);
            goto done;
        }
    if (tb_sweep_param_names(params, np, err, sizeof(err)) != 0) {
        cli_usage_error("sweep: %s", err);
        goto done;
    }
    o.params = params;
    o.nparams = np;
    o.sets = sets;
    o.data = data;
    if ((train || test || wf) && ((wf && (train || test)) || (!wf && !(train && test)))) {
        cli_usage_error("sweep: give --train with --test, or --walk-forward (not both)");
        goto done;
    }
    if (tb_sweep_plan(&o, &res, err, sizeof(err)) != 0) {
        cli_usage_error("sweep: %s", err);
        goto done;
    }
    if (mkdirs(out) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s: cannot create: %s", out, strerror(errno));
        code = EXIT_RUNTIME;
        goto done;
    }
    if (train || wf) {
        o.stop = &sweep_stop;
        o.warn = warn;
        struct sigaction old[2];
        cli_signals_catch(on_signal, old);
        code = run_walk_forward(&o, out, objective, train, test, wf, quiet, resume);
        cli_signals_restore(old);
        goto done;
    }
    char csv[4200], html[4200];
    snprintf(csv, sizeof(csv), "%s/sweep.csv", out);
    snprintf(state, sizeof(state), "%s/sweep.state", out);
    snprintf(html, sizeof(html), "%s/sweep.html", out);
    writing w = {&o, &res};
    /* The checkpoint: every finished row goes to sweep.state as the sweep
     * runs, so a kill or a crash loses at most its last batch. */
    uint64_t fp = tb_sweep_fingerprint(&o, NULL, NULL, 0);
    int jrc =
        tb_sweep_journal_open(state, TB_SWEEP_JOURNAL_ROWS, fp, resume, &journal, err, sizeof(err));
    if (jrc == TB_ENOTSUP) {
        /* Stopped by a tradebus before journals: its rows are in sweep.csv,
         * carried into a new journal. */
        if (tb_sweep_read_csv(csv, params, np, &res, err, sizeof(err)) != 0) {
            cli_log(CLI_LOG_ERROR, NULL, "%s", err);
            goto done;
        }
        jrc =
            tb_sweep_journal_open(state, TB_SWEEP_JOURNAL_ROWS, fp, 0, &journal, err, sizeof(err));
        for (size_t i = 0; i < res.nrows && !jrc; i++)
            if (res.rows[i].done) jrc = tb_sweep_journal_add(journal, &res.rows[i]);
        /* On file before anything runs: the old sweep.state is gone. */
        if (!jrc) jrc = tb_sweep_journal_flush(journal);
    } else if (!jrc && resume) {
        tb_sweep_journal_rows(journal, &res);
    }
    if (jrc && resume && (jrc == TB_ENOTFOUND || jrc == TB_EINVAL)) {
        cli_log(CLI_LOG_ERROR, NULL,
                "%s: --resume needs the sweep this folder holds (same --config, --set, "
                "--data, --param, --where, --random, --seed); %s",
                out, jrc == TB_ENOTFOUND ? "it holds none" : "this one differs");
        goto done;
    }
    if (jrc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err[0] ? err : tb_strerror(jrc));
        code = EXIT_RUNTIME;
        goto done;
    }
    size_t before = 0, failed_before = 0;
    for (size_t i = 0; i < res.nrows; i++) {
        before += res.rows[i].done != 0;
        failed_before += res.rows[i].done && res.rows[i].error[0];
    }
    if (!quiet) {
        long jobs = o.jobs ? o.jobs : sysconf(_SC_NPROCESSORS_ONLN);
        cli_printf("sweep: %zu combinations (grid %zu", res.nrows, res.grid);
        if (before) cli_printf(", %zu already done", before);
        cli_printf("), %ld worker thread%s\n", jobs, jobs == 1 ? "" : "s");
    }
    progress_state ps = {mono_s(), isatty(STDERR_FILENO), quiet, before, 0, 0};
    o.progress = progress;
    o.progress_ctx = &ps;
    o.warn = warn;
    o.stop = &sweep_stop;
    o.journal = journal;
    struct sigaction old[2];
    cli_signals_catch(on_signal, old);
    int rc = tb_sweep_run(&o, &res, err, sizeof(err));
    cli_signals_restore(old);
    if (ps.tty && !quiet) fputs("\r\033[K", stderr);
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err[0] ? err : tb_strerror(rc));
        code = cli_exit_for(rc, err, NULL);
        goto done;
    }
    if (write_atomic(csv, put_csv, &w)) {
        code = EXIT_RUNTIME;
        goto done;
    }
    size_t failed = 0;
    for (size_t i = 0; i < res.nrows; i++)
        failed += res.rows[i].done && res.rows[i].error[0];
    if (res.interrupted) {
        cli_log(CLI_LOG_WARN, NULL,
                "interrupted: %zu of %zu combinations done, written to %s; --resume continues",
                res.done, res.nrows, csv);
        code = 130;
        goto done;
    }
    double ran = res.seconds > 0 ? (double)(res.done - before) / res.seconds : 0;
    /* Bar-runs count the backtests that ran: a failed combination reads no bar. */
    size_t ran_ok = res.done - before - (failed - failed_before);
    if (!quiet) {
        cli_printf("  done         %zu combinations (%zu failed) in %.2f s: %.1f/s, %llu bars "
                   "each, %.3g bar-runs/s\n",
                   res.done, failed, res.seconds, ran, (unsigned long long)res.bars,
                   res.seconds > 0 ? (double)ran_ok * (double)res.bars / res.seconds : 0);
    }
    size_t best = tb_sweep_best(&res, objective);
    code = 0;
    if (res.done && failed == res.done) {
        /* Nothing ran: a misspelt key or a value every row shares is a
         * config error, not a result (the rows still say why). */
        const tb_sweep_row *r = NULL;
        for (size_t i = 0; i < res.nrows && !r; i++)
            if (res.rows[i].done) r = &res.rows[i];
        char vals[512];
        tb_sweep_describe(o.params, o.nparams, r->combination, vals, sizeof(vals));
        cli_log(CLI_LOG_ERROR, NULL,
                "every combination failed (%zu of %zu); the first, %s: %s (each row of %s says "
                "why)",
                failed, res.done, vals, r->error, csv);
        code = EXIT_USAGE;
    } else if (best == (size_t)-1) {
        if (!strcmp(objective, "sharpe") || !strcmp(objective, "sortino"))
            cli_log(CLI_LOG_WARN, NULL,
                    "no combination has a %s (sharpe and sortino need 30 days of data): no best/",
                    objective);
        else
            cli_log(CLI_LOG_WARN, NULL, "no combination that ran has a %s: no best/", objective);
    } else {
        if (!quiet) {
            cli_printf("  best (%s)  ", objective);
            print_row(&o, &res.rows[best]);
        }
        code = run_best(&o, &res.rows[best], out);
    }
    if ((!code || code == EXIT_USAGE) &&
        tb_sweep_html_write(csv, html, objective, np, err, sizeof(err)) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err);
        code = EXIT_RUNTIME;
    }
    if (!quiet && (!code || code == EXIT_USAGE))
        cli_printf("  written to   %s/sweep.csv, sweep.html%s\n", out,
                   best == (size_t)-1 ? "" : ", best/");
done:
    if (journal) close_journal(journal, state);
    for (size_t k = 0; k < np; k++)
        tb_sweep_param_free(&params[k]);
    tb_sweep_result_free(&res);
    free(sets);
    free(data);
    return code;
}
