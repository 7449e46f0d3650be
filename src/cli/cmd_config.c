/* tradebus config check: validate a config as a run would, and show the
 * values the run would use. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_config_help =
    "tradebus config check FILE [--set SECTION.KEY=VALUE]... [--data SPEC]...\n"
    "\n"
    "Loads and validates FILE exactly as a run does (the same loader, --set\n"
    "overrides and --data specs on top) and prints the effective values grouped\n"
    "by section, each beside its default: \"fee_bps = 7.5   (default 10)\", or\n"
    "\"(default)\" when the value is the default; then every [symbol.SYM] and\n"
    "[strategy.ID] with its params, and checks that each data file can be opened\n"
    "(relative paths are relative to the current directory, as in a run).\n"
    "\n"
    "An error names where the offending key was written (file:line or --set),\n"
    "its [section] and key, and what is wrong.\n"
    "\n"
    "Exit codes: 0 valid, 2 invalid (or a data file cannot be opened).\n"
    "\n"
    "Examples (from the source tree):\n"
    "  tradebus config check examples/multi.ini\n"
    "  tradebus config check examples/sma_cross.ini --set exchange.fee_bps=7.5\n"
    "  tradebus config check examples/sma_cross.ini \\\n"
    "      --data data/ETHUSDT-1m-2024-01.csv \\\n"
    "      --set strategy.btc_trend.symbol=ETHUSDT\n";

static int config_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(cli_config_help, stdout);
            return 0;
        }
        if (!strcmp(a, "--set") || !strcmp(a, "--data")) {
            if (i + 1 >= argc) {
                cli_usage_error("config check: %s needs a value", a);
                return EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(a, "--config") && i + 1 < argc && !path) {
            path = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            cli_usage_error("config check: unknown option '%s'", a);
            return EXIT_USAGE;
        } else if (!path) {
            path = a;
        } else {
            cli_usage_error("config check: one FILE only ('%s' and '%s')", path, a);
            return EXIT_USAGE;
        }
    }
    if (!path) {
        cli_usage_error("config check: FILE is required (e.g. tradebus config check "
                        "examples/sma_cross.ini)");
        return EXIT_USAGE;
    }
    tb_config cfg;
    tb_config_init(&cfg);
    char err[512] = "";
    int rc = tb_config_load(&cfg, path, err, sizeof(err));
    /* Overrides after the file, whatever the order they were typed in. */
    for (int i = 0; !rc && i < argc - 1; i++) {
        if (!strcmp(argv[i], "--set"))
            rc = tb_config_set(&cfg, argv[++i], err, sizeof(err));
        else if (!strcmp(argv[i], "--data"))
            rc = tb_config_add_data(&cfg, argv[++i]);
        else if (!strcmp(argv[i], "--config"))
            i++;
    }
    /* A config for `tradebus live` has no [backtest] data: its bars come
     * from the exchange. Without data, a binance exchange in paper, testnet
     * or live mode, or a [live] section, makes it checked as live. */
    if (!rc && cfg.ndata == 0 && !tb_config_value(&cfg, "backtest", "data", NULL)) {
        static const char *const live_keys[] = {"interval", "warmup_bars", "cancel_on_exit",
                                                "stream_url", "rest_url"};
        const char *type = tb_config_value(&cfg, "exchange", "type", NULL);
        int live = type && strcasecmp(type, "binance") == 0;
        for (size_t k = 0; !live && k < sizeof(live_keys) / sizeof(live_keys[0]); k++)
            live = tb_config_value(&cfg, "live", live_keys[k], NULL) != NULL;
        cfg.live = live;
    }
    if (!rc) rc = tb_config_build(&cfg, err, sizeof(err));
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err[0] ? err : tb_strerror(rc));
        tb_config_free(&cfg);
        return rc == TB_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
    }
    int code = 0;
    for (size_t i = 0; i < cfg.ndata; i++) {
        const char *file = cli_data_path(cfg.data[i]);
        FILE *f = fopen(file, "r");
        if (!f) {
            cli_log(CLI_LOG_ERROR, NULL, "%s: [backtest] data: cannot open '%s': %s", path, file,
                    strerror(errno));
            code = EXIT_USAGE;
        } else {
            fclose(f);
        }
    }
    cli_printf("%s: %s\n\n", path, code ? "INVALID (data)" : "valid");
    /* Values are the file's bytes: printed escaped, through memory. */
    cli_text t;
    if (cli_text_begin(&t) != 0) {
        code = EXIT_RUNTIME;
    } else if (tb_config_dump(&cfg, t.f) != 0) {
        fclose(t.f);
        free(t.buf);
        code = EXIT_RUNTIME;
    } else if (cli_text_end(&t) != 0) {
        code = EXIT_RUNTIME;
    }
    tb_config_free(&cfg);
    return code;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 1) {
        cli_usage_error("config: expected a subcommand: check FILE");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        fputs(cli_config_help, stdout);
        return 0;
    }
    if (!strcmp(argv[0], "check")) return config_check(argc - 1, argv + 1);
    cli_usage_error("config: unknown subcommand '%s' (expected check)", argv[0]);
    return EXIT_USAGE;
}
