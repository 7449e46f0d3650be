/* tradebus backtest, and the option parsing every run command shares. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *const cli_backtest_help =
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
    "  --journal FILE           record every event and dead letter in a SQLite journal\n"
    "                           (same as --set journal.path=FILE)\n"
    "  --resume                 continue the run the journal holds (after a crash or a\n"
    "                           kill): the journaled bars are re-run to rebuild the\n"
    "                           state exactly, then the run goes on\n"
    "  --shadow-legacy          run the bundled legacy monolith beside the pipeline,\n"
    "                           compare after every bar, publish each divergence as\n"
    "                           a RiskAlert (rule parity) and print the parity result\n"
    "\n"
    "Files written to DIR:\n"
    "  summary.json   bars, signals, orders, fills, rejected, PnL, fees, equity,\n"
    "                 drawdown, dead letters, events per type, positions\n"
    "  fills.csv      one row per execution\n"
    "  events.jsonl   every event in dispatch order (JSON, one per line)\n"
    "\n"
    "Built-in strategies ([strategy.ID] type = ...):\n";

typedef struct {
    int tty;
    time_t start;
} progress_ctx;

void cli_progress(uint64_t bars, int64_t bar_time, void *ctx)
{
    progress_ctx *pc = ctx;
    if (!pc->tty) return;
    char t[32];
    tb_format_time_iso(bar_time, t, sizeof(t));
    double el = difftime(time(NULL), pc->start);
    fprintf(stderr, "\r%llu bars, at %s, %.0f s elapsed ", (unsigned long long)bars, t, el);
    fflush(stderr);
}

void cli_warn(const char *msg, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "tradebus: skipped bad row: %s\n", msg);
}

void cli_print_summary(const tb_backtest_result *r, const char *out)
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
    printf("  dead letters   %llu", (unsigned long long)r->dead_letters);
    if (r->dead_letter_queue >= 0)
        printf(" (in the journal's queue: %lld; see 'tradebus dlq list')",
               (long long)r->dead_letter_queue);
    printf("\n");
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
        /* An unreadable data file is bad input; an unwritable --out is not. */
        return out && strncmp(err, out, strlen(out)) == 0 ? EXIT_RUNTIME : EXIT_DATA;
    default:
        return EXIT_RUNTIME;
    }
}

int cli_parse_run(int argc, char **argv, cli_run *r, const char *help_text, cli_extra_opt extra,
                  void *ctx)
{
    char err[512] = "";
    int rc;
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
        int known = !strcmp(a, "--config") || !strcmp(a, "--data") || !strcmp(a, "--set") ||
                    !strcmp(a, "--out");
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
        } else if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--out")) {
            i++;
        }
    }
    if ((rc = tb_config_build(&r->cfg, err, sizeof(err))) != 0) goto fail;
    return -1;
fail:
    fprintf(stderr, "tradebus: %s\n", err[0] ? err : tb_strerror(rc));
    return rc == TB_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
}

typedef struct {
    int shadow, resume;
    const char *journal;
    tb_shadow *sh;
    char err[512];
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
    return 0;
}

typedef struct {
    shadow_ctx *sc;
    const tb_config *cfg;
} shadow_hook;

static int shadow_start(tb_pipeline *p, void *ctx)
{
    shadow_hook *h = ctx;
    return tb_shadow_create(h->cfg, tb_pipeline_bus(p), NULL, &h->sc->sh, h->sc->err,
                            sizeof(h->sc->err));
}

static int shadow_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    (void)p;
    shadow_hook *h = ctx;
    int n = tb_shadow_on_bar(h->sc->sh, bar);
    return n < 0 ? n : 0;
}

static int shadow_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx)
{
    (void)p;
    shadow_hook *h = ctx;
    int n = tb_shadow_finish(h->sc->sh, res->realized_pnl, res->unrealized_pnl, res->fees);
    return n < 0 ? n : 0;
}

static void shadow_stop(tb_pipeline *p, void *ctx)
{
    (void)p;
    shadow_hook *h = ctx;
    /* The bus goes away with the pipeline; the comparison stays for the report. */
    tb_shadow_detach(h->sc->sh);
}

int cmd_backtest(int argc, char **argv)
{
    cli_run r;
    shadow_ctx sc;
    memset(&sc, 0, sizeof(sc));
    int code = cli_parse_run(argc, argv, &r, cli_backtest_help, backtest_opt, &sc);
    if (code >= 0) {
        if (code == 0 && argc > 0) {
            for (size_t k = 0; tb_strategy_builtin_at(k); k++)
                printf("  %-20s %s\n", tb_strategy_builtin_at(k)->name,
                       tb_strategy_builtin_at(k)->help);
        }
        tb_config_free(&r.cfg);
        return code;
    }
    if (r.cfg.bus_amqp) {
        /* The same config, switched to the broker: the same run, each
         * component its own process (tradebus up). */
        tb_config_free(&r.cfg);
        if (sc.journal || sc.resume || sc.shadow) {
            cli_usage_error("backtest: [bus] type = amqp runs each component as its own process "
                            "(each keeps its own state); --journal, --resume and --shadow-legacy "
                            "are for one-process runs (--set bus.type=memory)");
            return EXIT_USAGE;
        }
        fprintf(stderr, "tradebus: [bus] type = amqp: running each component as its own process "
                        "through the broker (tradebus up)\n");
        return cmd_up(argc, argv);
    }
    char err[512] = "";
    if (sc.journal) {
        /* Not part of the run's fingerprint: set after the build. */
        free(r.cfg.journal_path);
        r.cfg.journal_path = strdup(sc.journal);
    }
    if (sc.resume && !r.cfg.journal_path) {
        cli_usage_error("backtest: --resume needs a journal (--journal FILE or [journal] path)");
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    progress_ctx pc = {!r.quiet && isatty(STDERR_FILENO), time(NULL)};
    shadow_hook hook = {&sc, &r.cfg};
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.out_dir = r.out;
    opt.progress = cli_progress;
    opt.progress_ctx = &pc;
    opt.progress_every = 100000;
    opt.warn = cli_warn;
    opt.resume = sc.resume;
    if (sc.shadow) {
        opt.on_start = shadow_start;
        opt.on_bar = shadow_bar;
        opt.on_end = shadow_end;
        opt.on_stop = shadow_stop;
        opt.hook_ctx = &hook;
    }
    tb_backtest_result res;
    int rc = tb_backtest_run(&r.cfg, &opt, &res, err, sizeof(err));
    if (pc.tty) fprintf(stderr, "\r\033[K");
    if (rc) {
        fprintf(stderr, "tradebus: %s\n", sc.err[0] ? sc.err : err[0] ? err : tb_strerror(rc));
        code = cli_exit_for(rc, err, r.out);
    } else {
        if (!r.quiet) cli_print_summary(&res, r.out);
        if (sc.sh) {
            printf("shadow legacy run: ");
            tb_parity_write_report(tb_shadow_parity(sc.sh), stdout);
        }
        tb_backtest_result_free(&res);
        code = 0;
    }
    tb_shadow_destroy(sc.sh);
    tb_config_free(&r.cfg);
    return code;
}
