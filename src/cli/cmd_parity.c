/* tradebus parity: the parallel run. The pipeline and a legacy system see the
 * same data; their canonical trade logs are compared record by record. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_parity_help =
    "tradebus parity --config FILE\n"
    "                [--legacy builtin | --legacy-log FILE | --legacy-cmd CMD]\n"
    "                [--data SPEC]... [--set SECTION.KEY=VALUE]... [--out DIR]\n"
    "                [--price-tolerance DECIMAL] [--time-tolerance MS]\n"
    "                [--legacy-timeout SECONDS]\n"
    "\n"
    "Runs the pipeline and a legacy system on the same data and compares their\n"
    "canonical trade logs (docs/trade-log.md) record by record: signals, orders,\n"
    "fills, the position after each fill, and the final PnL and fees.\n"
    "\n"
    "  --legacy builtin     the bundled legacy monolith (default)\n"
    "  --legacy-log FILE    a trade log your existing system wrote\n"
    "  --legacy-cmd CMD     a command (run by /bin/sh) that writes its trade log\n"
    "                       to stdout; it gets TRADEBUS_CONFIG and TRADEBUS_DATA\n"
    "                       (the data specs, space-separated) in its environment\n"
    "  --legacy-timeout S   kill a --legacy-cmd still running after S seconds\n"
    "                       (default 600; 0 = no limit)\n"
    "  --out DIR            also write DIR/parity.json (every divergence),\n"
    "                       DIR/pipeline.jsonl and DIR/legacy.jsonl (both trade logs)\n"
    "  --price-tolerance D  accept prices, commissions and PnL within D (default 0)\n"
    "  --time-tolerance MS  accept record times within MS milliseconds (default 0)\n"
    "\n"
    "Prints 'IDENTICAL: N signals, M orders, K fills, final PnL equal' and exits 0,\n"
    "or the first divergence with the records around it and the counts per kind,\n"
    "and exits 1. A malformed legacy log line (or one longer than 65536 bytes)\n"
    "exits 3 naming its line; usage and config errors exit 2; a --legacy-cmd\n"
    "that times out, or a file of --out that cannot be written, exits 1 naming it;\n"
    "Ctrl-C stops the legacy command too and exits 130.\n";

typedef struct {
    const char *mode; /* "builtin", "log" or "cmd" */
    const char *arg;
    tb_parity_options popt;
    tb_legacy_cmd_options copt;
    tb_parity *parity;
    FILE *pipeline_log, *legacy_log; /* --out copies, may be NULL */
    int rc;
} parity_ctx;

static int on_opt(const char *opt, const char *val, void *ctx)
{
    parity_ctx *pc = ctx;
    int is_mode =
        !strcmp(opt, "--legacy") || !strcmp(opt, "--legacy-log") || !strcmp(opt, "--legacy-cmd");
    if (!is_mode && strcmp(opt, "--price-tolerance") && strcmp(opt, "--time-tolerance") &&
        strcmp(opt, "--legacy-timeout"))
        return 0;
    if (!val) {
        cli_usage_error("parity: %s needs a value", opt);
        return -1;
    }
    if (is_mode) {
        if (pc->mode) {
            cli_usage_error("parity: give one of --legacy, --legacy-log, --legacy-cmd (%s given "
                            "twice)",
                            opt);
            return -1;
        }
        if (!strcmp(opt, "--legacy")) {
            if (strcmp(val, "builtin") != 0) {
                cli_usage_error("parity: --legacy takes 'builtin' (got '%s'); use --legacy-log "
                                "or --legacy-cmd for your own system",
                                val);
                return -1;
            }
            pc->mode = "builtin";
        } else {
            pc->mode = !strcmp(opt, "--legacy-log") ? "log" : "cmd";
        }
        pc->arg = val;
        return 2;
    }
    if (!strcmp(opt, "--price-tolerance")) {
        if (tb_dec_parse(val, (size_t)-1, &pc->popt.price_tolerance) != 0 ||
            pc->popt.price_tolerance < 0) {
            cli_usage_error("parity: --price-tolerance '%s' is not a decimal >= 0", val);
            return -1;
        }
        return 2;
    }
    char *end;
    errno = 0;
    if (!strcmp(opt, "--legacy-timeout")) {
        long long sec = strtoll(val, &end, 10);
        if (errno || *end || end == val || sec < 0 || sec > 86400LL * 366) {
            cli_usage_error("parity: --legacy-timeout '%s' is not a number of seconds (0 = no "
                            "limit)",
                            val);
            return -1;
        }
        pc->copt.timeout_ms = sec * 1000;
        return 2;
    }
    long long ms = strtoll(val, &end, 10);
    if (errno || *end || end == val || ms < 0 || ms > 86400000LL * 366) {
        cli_usage_error("parity: --time-tolerance '%s' is not a number of milliseconds", val);
        return -1;
    }
    pc->popt.time_tolerance = ms * 1000000LL;
    return 2;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) cli_log(CLI_LOG_ERROR, NULL, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* Closes the --out file dir/name (NULL: none), every write to it checked. */
static int close_out(FILE *f, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return cli_close_output(f, path);
}

/* 1 if a side failed because its --out copy could not be written (the
 * library's err then says why): the output's fault, not the data's. */
static int copy_failed(FILE *copy, const char *dir, const char *name, const char *err)
{
    if (!copy || !ferror(copy)) return 0;
    cli_log(CLI_LOG_ERROR, NULL, "%s/%s: %s", dir, name, err);
    return 1;
}

/* Runs the user's command with the run's config and data in its
 * environment and reads its stdout as the legacy trade log. */
static volatile sig_atomic_t parity_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    parity_interrupted = 1;
}

static int run_legacy_cmd(parity_ctx *pc, const cli_run *r, char *err, size_t errlen)
{
    char data[4096] = "";
    for (size_t i = 0; i < r->cfg.ndata; i++) {
        if (i) strncat(data, " ", sizeof(data) - strlen(data) - 1);
        strncat(data, r->cfg.data[i], sizeof(data) - strlen(data) - 1);
    }
    setenv("TRADEBUS_CONFIG", r->config_path, 1);
    setenv("TRADEBUS_DATA", data, 1);
    /* The command runs in a process group of its own (so a timeout kills
     * all it started), which the terminal's Ctrl-C does not reach: catch
     * it here and have the command stopped. */
    struct sigaction old[2];
    cli_signals_catch(on_interrupt, old);
    pc->copt.stop = &parity_interrupted;
    int rc = tb_parity_add_legacy_cmd(pc->parity, pc->arg, &pc->copt, pc->legacy_log, err, errlen);
    cli_signals_restore(old);
    if (rc == TB_ETIMEOUT) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (--legacy-timeout; 0 = no limit)");
    }
    return rc;
}

int cmd_parity(int argc, char **argv)
{
    parity_ctx pc;
    memset(&pc, 0, sizeof(pc));
    tb_parity_options_init(&pc.popt);
    tb_legacy_cmd_options_init(&pc.copt);
    cli_run r;
    int code = cli_parse_run(argc, argv, &r, cli_parity_help, on_opt, &pc);
    if (code >= 0) {
        tb_config_free(&r.cfg);
        return code;
    }
    if (!pc.mode) pc.mode = "builtin";
    char err[512] = "";
    /* Up front, before a long pipeline run: a config the bundled monolith
     * cannot follow would only produce divergences. */
    if (!strcmp(pc.mode, "builtin") && tb_legacy_check_config(&r.cfg, err, sizeof(err)) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "parity: %s", err);
        tb_config_free(&r.cfg);
        return EXIT_USAGE; /* a config error, like every other */
    }
    int rc = tb_parity_create(&pc.popt, &pc.parity);
    int write_out = 0;
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--out")) write_out = 1;
    if (!rc && write_out) {
        if (mkdir(r.out, 0777) != 0 && errno != EEXIST) {
            cli_log(CLI_LOG_ERROR, NULL, "%s: cannot create: %s", r.out, strerror(errno));
            code = EXIT_RUNTIME;
            goto done;
        }
        pc.pipeline_log = open_out(r.out, "pipeline.jsonl");
        pc.legacy_log = open_out(r.out, "legacy.jsonl");
        if (!pc.pipeline_log || !pc.legacy_log) {
            code = EXIT_RUNTIME;
            goto done;
        }
    }

    /* The pipeline side: a backtest with the trade log observing its bus
     * (no output files of its own: this run is about the comparison). */
    if (!rc) rc = tb_parity_add_pipeline_run(pc.parity, &r.cfg, pc.pipeline_log, err, sizeof(err));
    if (rc && copy_failed(pc.pipeline_log, r.out, "pipeline.jsonl", err)) {
        code = EXIT_RUNTIME;
        goto done;
    }
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "pipeline: %s", err[0] ? err : tb_strerror(rc));
        code = cli_exit_for(rc, err, NULL);
        goto done;
    }

    /* The legacy side. */
    if (!strcmp(pc.mode, "builtin")) {
        rc = tb_parity_add_legacy_run(pc.parity, &r.cfg, NULL, 0, pc.legacy_log, err, sizeof(err));
    } else if (!strcmp(pc.mode, "log")) {
        FILE *f = fopen(pc.arg, "r");
        if (!f) {
            snprintf(err, sizeof(err), "--legacy-log %s: cannot open: %s", pc.arg, strerror(errno));
            rc = TB_EIO;
        } else {
            rc = tb_parity_add_legacy_log(pc.parity, f, pc.arg, pc.legacy_log, err, sizeof(err));
            fclose(f);
        }
    } else {
        rc = run_legacy_cmd(&pc, &r, err, sizeof(err));
    }
    if (rc && copy_failed(pc.legacy_log, r.out, "legacy.jsonl", err)) {
        code = EXIT_RUNTIME;
        goto done;
    }
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "legacy: %s", err[0] ? err : tb_strerror(rc));
        code = rc == TB_ECANCELED                     ? 130
               : rc == TB_ECONFIG                     ? EXIT_USAGE
               : rc == TB_ENOMEM || rc == TB_ETIMEOUT ? EXIT_RUNTIME
                                                      : EXIT_DATA;
        goto done;
    }
    /* Both trade logs complete on disk before anything is reported: the
     * last records may have waited in a buffer until now. */
    int c1 = close_out(pc.pipeline_log, r.out, "pipeline.jsonl");
    int c2 = close_out(pc.legacy_log, r.out, "legacy.jsonl");
    pc.pipeline_log = pc.legacy_log = NULL;
    if (c1 || c2) {
        code = EXIT_RUNTIME;
        goto done;
    }

    if ((rc = tb_parity_compare(pc.parity, INT64_MAX)) < 0) {
        cli_log(CLI_LOG_ERROR, NULL, "comparing: %s", tb_strerror(rc));
        code = EXIT_RUNTIME;
        goto done;
    }
    /* Records quote the legacy log's strings: printed escaped. */
    cli_text t;
    if (cli_text_begin(&t) != 0 || tb_parity_write_report(pc.parity, t.f) != 0 ||
        cli_text_end(&t) != 0) {
        if (t.f) {
            fclose(t.f);
            free(t.buf);
        }
        cli_log(CLI_LOG_ERROR, NULL, "parity report: %s", tb_strerror(TB_ENOMEM));
        code = EXIT_RUNTIME;
        goto done;
    }
    if (write_out) {
        FILE *j = open_out(r.out, "parity.json");
        if (!j) {
            code = EXIT_RUNTIME;
        } else {
            /* A failed write leaves its mark on j, reported by the close. */
            tb_parity_write_json(pc.parity, j);
            if (close_out(j, r.out, "parity.json")) code = EXIT_RUNTIME;
        }
    }
    if (code < 0) code = tb_parity_get_summary(pc.parity).divergences ? 1 : 0;
done:
    /* Left open only on a failure already reported. */
    if (pc.pipeline_log) fclose(pc.pipeline_log);
    if (pc.legacy_log) fclose(pc.legacy_log);
    tb_parity_destroy(pc.parity);
    tb_config_free(&r.cfg);
    return code;
}
