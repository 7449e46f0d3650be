/* The tradebus command: dispatch and help. Exit codes: 0 success, 1 runtime
 * failure, 2 usage or config error, 3 bad input data. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"
#include "tradebus/lua_legacy.h"

static const char *const main_help =
    "tradebus " TB_VERSION_STRING " - an event-driven trading pipeline\n"
    "\n"
    "Market data flows through a Signal Generator, an Order Manager, a (simulated)\n"
    "exchange, a Position Manager and a Risk Manager, connected only by an event\n"
    "bus; a Monitor records every event.\n"
    "\n"
    "Usage: tradebus [--log-format text|json] [--log-level LEVEL] COMMAND [ARGS]\n"
    "\n"
    "Run:\n"
    "  tradebus backtest --config FILE [--data SPEC]... [--set SECTION.KEY=VALUE]...\n"
    "           [--out DIR] [--quiet] [--shadow-legacy] [--journal FILE [--resume]]\n"
    "           [--metrics-port PORT] [--metrics-file FILE]\n"
    "      Run the pipeline over historical bars. Writes DIR/summary.json,\n"
    "      fills.csv, events.jsonl and report.html (DIR defaults to out/).\n"
    "  tradebus live --config FILE [--out DIR] [--journal FILE] [--live]\n"
    "           [--cancel-all] [--metrics-port PORT] [--shadow-legacy]\n"
    "      Run the pipeline on live Binance Spot bars until Ctrl-C: paper\n"
    "      (simulated fills), testnet or live (docs/live.md).\n"
    "  tradebus parity --config FILE [--legacy builtin | --legacy-log FILE |\n"
    "           --legacy-cmd CMD] [--out DIR] [--price-tolerance DECIMAL]\n"
    "           [--time-tolerance MS] [--legacy-timeout SECONDS]\n"
    "      Run the pipeline and a legacy system on the same data and compare\n"
    "      their trade logs record by record (docs/trade-log.md).\n"
    "  tradebus sweep --config FILE --param KEY=FROM:TO:STEP|KEY=V1,V2 [...]\n"
    "                [--where EXPR] [--random N] [--objective NAME] [--jobs N]\n"
    "      One backtest per combination of values on every core; sweep.csv,\n"
    "      sweep.html and the best one's full output (docs/sweep.md).\n"
    "  tradebus indicators --data SPEC --ind NAME:PARAMS [NAME:PARAMS]...\n"
    "                     [--timeframe TF]\n"
    "      Print indicator values as CSV (timestamp,close,...), on the data\n"
    "      or on it resampled to TF (15m, 1h, 1d, ...).\n"
    "  tradebus report DIR\n"
    "      Rebuild DIR/report.html (equity, drawdown, prices with trades,\n"
    "      statistics per strategy) from a finished run; backtest writes it too\n"
    "      unless [output] report = false.\n"
    "  tradebus config check FILE [--set SECTION.KEY=VALUE]...\n"
    "      Validate a config; print every key's effective value and default.\n"
    "  tradebus data fetch --symbol SYMBOL --interval 1m --from YYYY-MM-DD\n"
    "           --to YYYY-MM-DD [--out DIR] [--base-url URL]\n"
    "      Download Binance klines into monthly CSV files (resumable).\n"
    "Inspect a run's journal (docs/journal.md):\n"
    "  tradebus journal trace EVENT_ID | export | info | replay  --journal FILE\n"
    "      Follow an event's causal chain, export or check a run's journal.\n"
    "  tradebus dlq list | show ID | replay ID|--all | purge ID|--all\n"
    "           --journal FILE\n"
    "      The dead-letter queue: events a component could not process.\n"
    "Distributed ([bus] type = amqp, RabbitMQ; docs/scaling.md):\n"
    "  tradebus up --config FILE [--out DIR] [--resume] [--metrics-port PORT]\n"
    "      Every component its own process on this machine.\n"
    "  tradebus component signal|orders|positions|risk|monitor --config FILE\n"
    "           [--metrics-port PORT]\n"
    "  tradebus feed --config FILE [--rate N]\n"
    "      One process of a distributed run (one per machine if you like).\n"
    "  tradebus status --config FILE\n"
    "      Queue depth, consumers, dead letters and rate of each process.\n"
    "Other:\n"
    "  tradebus help [COMMAND]     This text, or a command's options and examples.\n"
    "  tradebus help SCRIPT.lua    A Lua strategy's own description and params.\n"
    "  tradebus version\n"
    "\n"
    "Common run options (backtest, parity, up, component, feed, status,\n"
    "dlq replay):\n"
    "  --config FILE             INI config (tradebus config check FILE shows\n"
    "                            every key)\n"
    "  --set SECTION.KEY=VALUE   override a config key, repeatable\n"
    "  --data SPEC               data file, repeatable; replaces [backtest] data\n"
    "  --out DIR                 output directory (default out)\n"
    "  --quiet                   print nothing but errors\n"
    "Global options (any command, before or after it):\n"
    "  --log-format text|json    diagnostics on stderr as text (default) or JSON\n"
    "                            lines\n"
    "  --log-level LEVEL         error, warn, info or debug: the least severe\n"
    "                            level shown (default info)\n"
    "\n"
    "Data SPEC: a Binance kline CSV (BTCUSDT-1m-2024-01.csv: symbol from the name,\n"
    "upper-cased) or a CSV with header timestamp,open,high,low,close,volume;\n"
    "SYMBOL:path names the symbol explicitly.\n"
    "\n"
    "Exit codes: 0 success, 1 runtime failure, 2 usage/config error, 3 bad input\n"
    "data, 130 interrupted.\n"
    "\n"
    "Examples (from the source tree):\n"
    "  tradebus backtest --config examples/sma_cross.ini\n"
    "  tradebus backtest --config examples/multi.ini --set exchange.fee_bps=5 \\\n"
    "      --out out/multi\n"
    "  tradebus config check examples/multi.ini\n"
    "  tradebus parity --config examples/sma_cross.ini\n"
    "\n"
    "More: tradebus help COMMAND, man -l docs/tradebus.1, README.md.\n";

/* Examples shown after a command's own help by `tradebus help COMMAND`, for
 * the commands whose help text lives elsewhere (backtest and config print
 * their own). Runnable from the source tree; the distributed ones need a
 * broker (sh scripts/broker.sh start /tmp/mq 5672). */
static const char *const ex_parity =
    "  tradebus parity --config examples/sma_cross.ini\n"
    "  tradebus parity --config examples/multi.ini --out out/parity\n"
    "  tradebus parity --config examples/multi.ini --price-tolerance 0.01\n";
static const char *const ex_journal =
    "  tradebus backtest --config examples/sma_cross.ini --journal out/run.db \\\n"
    "      --quiet\n"
    "  tradebus journal info --journal out/run.db\n"
    "  tradebus journal replay --journal out/run.db\n"
    "  tradebus journal export --journal out/run.db --out out/run-events.jsonl\n"
    "  tradebus journal trace 281474976710661 --journal out/run.db\n";
static const char *const ex_dlq =
    "  tradebus backtest --config examples/multi.ini --journal out/multi.db --quiet\n"
    "  tradebus dlq list --journal out/multi.db\n"
    "  tradebus dlq replay --all --config examples/multi.ini --journal out/multi.db\n";
static const char *const ex_sweep =
    "  tradebus sweep --config examples/sma_cross.ini --param strategy.btc_trend.fast=5:20:5 \\\n"
    "      --param strategy.btc_trend.slow=20,30,50 --where 'fast < slow' --out out/sweep\n"
    "  tradebus sweep --config examples/sma_cross.ini --param exchange.fee_bps=0,5,10 \\\n"
    "      --param strategy.btc_trend.fast=3:30:1 --random 20 --seed 7 --jobs 2\n";
static const char *const ex_indicators =
    "  tradebus indicators --data data/BTCUSDT-1m-2024-01.csv --ind sma:20 rsi:14\n"
    "  tradebus indicators --data data/ETHUSDT-1m-2024-01.csv \\\n"
    "      --ind macd:12,26,9 bbands:20,2\n"
    "  tradebus indicators --data data/BTCUSDT-1m-2024-01.csv \\\n"
    "      --ind sma:20 rsi:14 --timeframe 1h\n";
static const char *const ex_up =
    "  tradebus up --config examples/distributed.ini --out out-dist\n"
    "  tradebus up --config examples/distributed.ini --out out-dist --resume\n"
    "  tradebus status --config examples/distributed.ini   (from another terminal)\n";
static const char *const ex_component =
    "  tradebus component signal --config examples/distributed.ini\n"
    "  tradebus component monitor --config examples/distributed.ini --out out-dist\n"
    "  tradebus component orders --config live.ini --set bus.url=amqp://mq1:5672/\n"
    "      (one machine per component, the same config everywhere)\n";
static const char *const ex_feed = "  tradebus feed --config examples/distributed.ini\n"
                                   "  tradebus feed --config examples/distributed.ini --rate 100\n";
static const char *const ex_status = "  tradebus status --config examples/distributed.ini\n"
                                     "  tradebus --log-format json status --config "
                                     "examples/distributed.ini\n";
static const char *const ex_report =
    "  tradebus backtest --config examples/multi.ini --out out/multi --quiet\n"
    "  tradebus report out/multi\n";
static const char *const ex_data =
    "  tradebus data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 \\\n"
    "      --to 2024-03-01\n"
    "  tradebus data fetch --symbol ETHUSDT --interval 1h --from 2023-01-01 \\\n"
    "      --to 2024-01-01 --out data/eth\n"
    "  tradebus backtest --config examples/sma_cross.ini \\\n"
    "      --data data/BTCUSDT-1m-2024-01.csv --data data/BTCUSDT-1m-2024-02.csv\n";
static const char *const version_help = "tradebus version\n"
                                        "\n"
                                        "Prints the version (also: tradebus --version).\n";
static const char *const ex_version = "  tradebus version\n";
static const char *const help_help = "tradebus help [COMMAND]\n"
                                     "\n"
                                     "Prints the list of commands, or COMMAND's options "
                                     "and examples.\n";
static const char *const ex_help = "  tradebus help\n"
                                   "  tradebus help backtest\n";

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *const *help; /* NULL: the command prints its own (--help) */
    const char *const *examples;
} command;

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tradebus %s\n", TB_VERSION_STRING);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"backtest", cmd_backtest, NULL, NULL},
    {"live", cmd_live, NULL, NULL},
    {"parity", cmd_parity, &cli_parity_help, &ex_parity},
    {"indicators", cmd_indicators, &cli_indicators_help, &ex_indicators},
    {"sweep", cmd_sweep, &cli_sweep_help, &ex_sweep},
    {"config", cmd_config, NULL, NULL},
    {"journal", cmd_journal, &cli_journal_help, &ex_journal},
    {"dlq", cmd_dlq, &cli_dlq_help, &ex_dlq},
    {"up", cmd_up, &cli_up_help, &ex_up},
    {"component", cmd_component, &cli_component_help, &ex_component},
    {"feed", cmd_feed, &cli_feed_help, &ex_feed},
    {"status", cmd_status, &cli_status_help, &ex_status},
    {"report", cmd_report, &cli_report_help, &ex_report},
    {"data", cmd_data, &cli_data_help, &ex_data},
    {"version", cmd_version, &version_help, &ex_version},
    {"help", cmd_help, &help_help, &ex_help},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void cli_usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cli_log_json()) {
        cli_log(CLI_LOG_ERROR, NULL, "%s (run 'tradebus help' for usage)", msg);
    } else {
        cli_log(CLI_LOG_ERROR, NULL, "%s", msg);
        fputs("(run 'tradebus help' for usage)\n", stderr);
    }
}

/* Levenshtein distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The command closest to name: a prefix of it, or within a third of its
 * letters (at least 2) of edits. NULL if none is close. */
static const char *closest_command(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, n = strlen(name);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *c = commands[i].name;
        if (n >= 2 && strncmp(c, name, n) == 0) return c;
        size_t d = edit_distance(name, c);
        if (d < best_d) best_d = d, best = c;
    }
    size_t limit = n / 3 > 2 ? n / 3 : 2;
    return best_d <= limit && best_d < n ? best : NULL;
}

static void unknown_command(const char *what)
{
    const char *near = closest_command(what);
    if (near)
        cli_usage_error("unknown command '%s' (did you mean '%s'?)", what, near);
    else
        cli_usage_error("unknown command '%s'", what);
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* `tradebus help FILE.lua`: what the script says of itself (its leading
 * comment lines) and the params it declares, as a config would set them. */
static int help_script(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tradebus: %s: %s\n", path, strerror(errno));
        return EXIT_FAILURE;
    }
    printf("%s: a Lua strategy ([strategy.ID] type = lua, script = %s; docs/strategies.md)\n\n",
           path, path);
    char line[512];
    while (fgets(line, sizeof line, f) && strncmp(line, "--", 2) == 0)
        fputs(line[2] == ' ' ? line + 3 : line + 2, stdout);
    fclose(f);
    tb_param p[] = {{"script", path}};
    fputs("\nIts params ([strategy.ID] keys; default (min..max)):\n", stdout);
    if (tb_lua_script_params_print(stdout, p, 1) != 0) return EXIT_FAILURE;
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 1) {
        fputs(main_help, stdout);
        return 0;
    }
    size_t len = strlen(argv[0]);
    if (len > 4 && strcmp(argv[0] + len - 4, ".lua") == 0) return help_script(argv[0]);
    const command *c = find_command(argv[0]);
    if (!c) {
        unknown_command(argv[0]);
        return EXIT_USAGE;
    }
    if (!c->help) {
        /* argv[-1] is the command's name in its messages. */
        char *h[] = {(char *)c->name, (char *)"--help", NULL};
        return c->run(1, h + 1);
    }
    fputs(*c->help, stdout);
    if (c->examples) printf("\nExamples (from the source tree):\n%s", *c->examples);
    return 0;
}

/* 1 if --help or -h is among the arguments (before a "--"). */
static int asks_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int code = cli_log_init(&argc, argv);
    if (code) return code;
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    const command *c = find_command(cmd);
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        code = cmd_help(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "--version")) {
        code = cmd_version(0, NULL);
    } else if (c && c->help && asks_help(argc - 2, argv + 2)) {
        /* The same page as `tradebus help COMMAND`, examples included. */
        char *h[] = {(char *)c->name, NULL};
        code = cmd_help(1, h);
    } else if (c) {
        code = c->run(argc - 2, argv + 2);
    } else {
        unknown_command(cmd);
        code = EXIT_USAGE;
    }
    /* Whatever the command printed must have arrived: `backtest >
     * /dev/full` is not a success. */
    return cli_finish_stdout(code);
}
