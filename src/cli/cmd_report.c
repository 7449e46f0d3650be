/* tradebus report: rebuild a finished run's report.html. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <tradebus/report.h>

#include "cli.h"
#include "cli_log.h"

/* Also declared in cli.h once main.c dispatches to it. */

const char *const cli_report_help =
    "tradebus report DIR\n"
    "\n"
    "Writes DIR/report.html from a finished backtest's output folder\n"
    "(summary.json, events.jsonl, fills.csv): the equity curve and its drawdown,\n"
    "each symbol's price with the fills marked, statistics per strategy (net PnL,\n"
    "return, win rate, profit factor, Sharpe, Sortino, max drawdown and its\n"
    "duration, exposure, trades, fees), the closing positions and the trades. One\n"
    "self-contained file: no script, nothing fetched. Every amount is recomputed\n"
    "from events.jsonl and must equal summary.json's (definitions:\n"
    "docs/report.md). tradebus backtest writes it too (unless [output] report =\n"
    "false or [output] event_log = false).\n"
    "\n"
    "Exit codes: 0 written, 1 cannot write, 2 usage (DIR is not a folder),\n"
    "3 missing or inconsistent input.\n";

int cmd_report(int argc, char **argv)
{
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(cli_report_help, stdout);
        return 0;
    }
    if (argc != 1 || argv[0][0] == '-') {
        cli_usage_error(argc == 0 ? "report: which run? (tradebus report DIR)"
                                  : "report: expected one DIR, got '%s'",
                        argc ? argv[argc > 1 ? 1 : 0] : "");
        return EXIT_USAGE;
    }
    /* The usual slip is a config file for the folder: say what DIR is. */
    const char *dir = argv[0];
    struct stat st;
    char sp[4096];
    snprintf(sp, sizeof(sp), "%s/summary.json", dir);
    const char *what = NULL;
    errno = 0;
    if (stat(dir, &st) != 0)
        what = errno == ENOENT ? "does not exist" : strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        what = "is a file";
    if (what || stat(sp, &st) != 0) {
        /* A file is a slip of the command line; a folder missing, or
         * without a summary, is missing input. */
        int code = what && errno != ENOENT ? EXIT_USAGE : EXIT_DATA;
        cli_log(CLI_LOG_ERROR, NULL,
                "tradebus report DIR: DIR is the output folder of a backtest (holding "
                "summary.json and events.jsonl); %s %s",
                dir, what ? what : "holds no summary.json");
        return code;
    }
    char err[512];
    int rc = tb_report_write(dir, err, sizeof(err));
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "report: %s", err[0] ? err : tb_strerror(rc));
        return rc == TB_ENOTFOUND || rc == TB_EPARSE || rc == TB_EDATA ? EXIT_DATA : EXIT_RUNTIME;
    }
    cli_printf("written to %s/report.html\n", argv[0]);
    return 0;
}
