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

static const char *const main_help =
    "tradebus " TB_VERSION_STRING " - an event-driven trading pipeline\n"
    "\n"
    "Market data flows through a Signal Generator, an Order Manager, a (simulated)\n"
    "exchange, a Position Manager and a Risk Manager, connected only by an event bus;\n"
    "a Monitor records every event.\n"
    "\n"
    "Usage:\n"
    "  tradebus backtest --config FILE [--data SPEC]... [--set SECTION.KEY=VALUE]...\n"
    "                    [--out DIR] [--quiet] [--shadow-legacy] [--journal FILE [--resume]]\n"
    "      Run the pipeline over historical bars. Writes DIR/summary.json,\n"
    "      DIR/fills.csv and DIR/events.jsonl (DIR defaults to out/).\n"
    "  tradebus parity --config FILE [--legacy builtin | --legacy-log FILE |\n"
    "                  --legacy-cmd CMD] [--out DIR]\n"
    "      Run the pipeline and a legacy system on the same data and compare\n"
    "      their trade logs record by record (docs/trade-log.md).\n"
    "  tradebus journal trace EVENT_ID | export | info | replay  --journal FILE\n"
    "      Follow an event's causal chain, export or check a run's journal.\n"
    "  tradebus dlq list | show ID | replay ID|--all | purge ID|--all  --journal FILE\n"
    "      The dead-letter queue: events a component could not process.\n"
    "  tradebus up --config FILE [--out DIR] [--resume]\n"
    "      A distributed run on this machine: every component its own process,\n"
    "      connected through RabbitMQ ([bus] type = amqp; docs/scaling.md).\n"
    "  tradebus component signal|orders|positions|risk|monitor --config FILE\n"
    "  tradebus feed --config FILE [--rate N]\n"
    "      One process of a distributed run (one per machine if you like).\n"
    "  tradebus status --config FILE\n"
    "      Queue depth, consumers, dead letters and rate of each process.\n"
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
    "Try: tradebus backtest --config examples/sma_cross.ini\n"
    "     tradebus parity --config examples/sma_cross.ini\n";

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tradebus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(run 'tradebus help' for usage)\n");
    va_end(ap);
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
    if (strcmp(cmd, "parity") == 0) return cmd_parity(argc - 2, argv + 2);
    if (strcmp(cmd, "journal") == 0) return cmd_journal(argc - 2, argv + 2);
    if (strcmp(cmd, "dlq") == 0) return cmd_dlq(argc - 2, argv + 2);
    if (strcmp(cmd, "component") == 0) return cmd_component(argc - 2, argv + 2);
    if (strcmp(cmd, "feed") == 0) return cmd_feed(argc - 2, argv + 2);
    if (strcmp(cmd, "up") == 0) return cmd_up(argc - 2, argv + 2);
    if (strcmp(cmd, "status") == 0) return cmd_status(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tradebus %s\n", TB_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(argv[2], "backtest") == 0) {
            char *h[] = {"backtest", "--help"};
            return cmd_backtest(1, h + 1);
        }
        if (argc > 2 && strcmp(argv[2], "journal") == 0) {
            fputs(cli_journal_help, stdout);
            return 0;
        }
        if (argc > 2 && strcmp(argv[2], "dlq") == 0) {
            fputs(cli_dlq_help, stdout);
            return 0;
        }
        if (argc > 2 && strcmp(argv[2], "parity") == 0) {
            fputs(cli_parity_help, stdout);
            return 0;
        }
        if (argc > 2 && strcmp(argv[2], "indicators") == 0) {
            fputs(cli_indicators_help, stdout);
            return 0;
        }
        static const struct {
            const char *name;
            const char *const *text;
        } more[] = {{"component", &cli_component_help},
                    {"feed", &cli_feed_help},
                    {"up", &cli_up_help},
                    {"status", &cli_status_help}};
        for (size_t i = 0; argc > 2 && i < sizeof(more) / sizeof(more[0]); i++)
            if (strcmp(argv[2], more[i].name) == 0) {
                fputs(*more[i].text, stdout);
                return 0;
            }
        fputs(main_help, stdout);
        return 0;
    }
    cli_usage_error("unknown command '%s'", cmd);
    return EXIT_USAGE;
}
