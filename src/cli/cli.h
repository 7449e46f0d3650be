/* The tradebus command's private declarations (not installed). The CLI is a
 * client of the library: it includes only <tradebus/...>. */
#ifndef TRADEBUS_CLI_H
#define TRADEBUS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <tradebus/tradebus.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define EXIT_DATA    3

/* ---- what the command writes (cli_out.c) ----
 * Text for a human on stdout goes through cli_printf() / cli_print_text(),
 * which escape control bytes, C1 controls and bad UTF-8 (tb_text_write,
 * newlines kept): a dead letter's raw input, a config value or a broker's
 * reason cannot drive the terminal. Machine-readable output (CSV, JSON
 * lines) is written as is. Every output is checked: cli_close_output() for
 * a file, cli_finish_stdout() for stdout once the command returns. */

/* printf to stdout, escaped as above. Returns the length of the formatted
 * text before escaping (what printf would have returned), < 0 on error. */
int cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same to stderr, for messages that do not go through cli_log (a
 * broker's words, a child process's name). */
int cli_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* len bytes of text to stdout, escaped as above. */
void cli_print_text(const char *s, size_t len);
/* A memory stream for text a library function writes to a FILE * (a
 * report, a config dump): cli_text_end() prints it escaped, then frees it. */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} cli_text;
int cli_text_begin(cli_text *t); /* 0 or TB_ENOMEM */
int cli_text_end(cli_text *t);   /* 0 or TB_ENOMEM (nothing printed) */
/* Flushes and closes f (NULL: nothing to do), an output file written at
 * path, checking every earlier write too (ferror). Returns 0, or
 * EXIT_RUNTIME after logging "PATH: write failed: REASON". */
int cli_close_output(FILE *f, const char *path);
/* Flushes and closes stdout after the command returned code: a write that
 * failed (a full disk, /dev/full) is logged as "cannot write standard
 * output: REASON" and turns success into EXIT_RUNTIME. */
int cli_finish_stdout(int code);

/* SIGINT and SIGTERM go to handler until cli_signals_restore(old): a
 * command that stops cleanly on Ctrl-C (a flag its loop polls). */
struct sigaction;
void cli_signals_catch(void (*handler)(int), struct sigaction old[2]);
void cli_signals_restore(const struct sigaction old[2]);

/* Prints "tradebus: <message>" and a pointer to the help on stderr. */
void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options every run command shares (--config, --data, --set, --out,
 * --quiet, --no-cache), with the built config. */
typedef struct {
    const char *config_path;
    const char *out;
    int quiet;
    tb_config cfg;
} cli_run;

/* A command's own options: return 2 if opt took val, 1 if opt is a flag it
 * took, 0 if unknown, or -1 after printing an error. */
typedef int (*cli_extra_opt)(const char *opt, const char *val, void *ctx);

/* Parses argv into r and builds the config. Returns -1 when the command
 * should go on, else the exit code to return at once (0 for --help, which
 * prints help_text). r->cfg must be freed with tb_config_free(). */
int cli_parse_run(int argc, char **argv, cli_run *r, const char *help_text, cli_extra_opt extra,
                  void *ctx);
/* The same for a live run (tradebus live): the config's bars come from the
 * exchange, so no [backtest] data is required. */
int cli_parse_live_run(int argc, char **argv, cli_run *r, const char *help_text,
                       cli_extra_opt extra, void *ctx);
/* tradebus live (cmd_live.c). */
int cmd_live(int argc, char **argv);
extern const char *const cli_live_help;
/* The exit code for a library error of a run (2 config, 3 data, 1 else). */
int cli_exit_for(int rc, const char *err, const char *out);
/* Progress line on stderr (only when it is a terminal). */
void cli_progress(uint64_t bars, int64_t bar_time, void *ctx);
/* Reports a skipped bad row. */
void cli_warn(const char *msg, void *ctx);
/* tb_external_log_fn: a component program's stderr line into the log. */
void cli_component_line(const char *name, const char *line, void *ctx);
/* Prints the backtest summary and the files of cfg's outputs written to out
 * (NULL: none). */
void cli_print_summary(const tb_backtest_result *r, const tb_config *cfg, const char *out);
/* The same under "tradebus COMMAND" (live). */
void cli_print_run_summary(const char *command, const tb_backtest_result *r, const tb_config *cfg,
                           const char *out);

int cmd_backtest(int argc, char **argv);
int cmd_indicators(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
extern const char *const cli_sweep_help;
int cmd_parity(int argc, char **argv);

int cmd_journal(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
extern const char *const cli_journal_help;
extern const char *const cli_dlq_help;
/* Shared by the journal and dlq subcommands (defined in cmd_journal.c). */
int cli_journal_args(int argc, char **argv, const char *cmd, const char *help, const char **journal,
                     const char **out, int *all, const char **arg);
/* Opens an existing journal to read it (never writes: a missing or empty
 * file is refused); _rw to change it (dlq purge). 0 or the exit code, the
 * reason printed. */
int cli_journal_open(const char *path, tb_journal **out);
int cli_journal_open_rw(const char *path, tb_journal **out);
/* 1 if paths a and b name the same file (existing or not). */
int cli_same_file(const char *a, const char *b);
int cli_parse_event_id(const char *s, uint64_t *out);

/* tradebus report DIR (cmd_report.c). */
int cmd_report(int argc, char **argv);
extern const char *const cli_report_help;

/* Distributed mode (cmd_dist.c, cmd_up.c). */
int cmd_component(int argc, char **argv);
int cmd_feed(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_up(int argc, char **argv);
extern const char *const cli_component_help;
extern const char *const cli_feed_help;
extern const char *const cli_status_help;
extern const char *const cli_up_help;
/* tradebus dlq SUB without --journal: the broker's dead-letter queues. */
int cli_dlq_broker(const char *sub, int argc, char **argv);
#define CLI_MAX_PROCS (TB_MAX_SHARDS + 8) /* room for tb_node_processes() */
/* --metrics-port's value: 0-65535 into *port, else a usage error and -1. */
int cli_parse_port(const char *cmd, const char *val, int *port);
/* DIR/<run>-<name>, creating DIR (dir NULL: [bus] state_dir). 0 or an
 * exit code after printing why. */
int cli_dist_state_file(const tb_config *cfg, const char *dir, const char *name, char *out,
                        size_t outlen);
/* The same for a process's state: DIR/<run>-<role>.db. */
int cli_dist_state_path(const tb_config *cfg, const char *dir, const char *role, char *out,
                        size_t outlen);

extern const char *const cli_backtest_help;
extern const char *const cli_indicators_help;
extern const char *const cli_parity_help;

/* tradebus data fetch (cmd_data.c). */
int cmd_data(int argc, char **argv);
extern const char *const cli_data_help;

/* tradebus config check (cmd_config.c). */
int cmd_config(int argc, char **argv);
extern const char *const cli_config_help;
/* The file of a data spec ("path" or "SYMBOL:path"). */
const char *cli_data_path(const char *spec);

#endif
