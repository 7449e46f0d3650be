/* The tradebus command's log: every diagnostic the CLI writes to stderr
 * goes through cli_log(), as text (default) or JSON lines.
 *
 *   text  "tradebus: message" for the CLI itself (component "tradebus" or
 *         NULL), "[component] message" for a process of a distributed run;
 *         the prefix is coloured by level only when stderr is a terminal and
 *         NO_COLOR is unset. The message and component are written through
 *         tb_text_write(): control bytes (ESC, BEL, CR, a newline), C1
 *         controls and bytes that are not well-formed UTF-8 show as \x1b,
 *         \u009b, \xff — quoted bytes of a data file never reach the
 *         terminal raw, and a message stays one line.
 *   json  one object per line: {"level":"warn","time":"2024-01-01T00:00:00.000Z",
 *         "component":"tradebus","message":"...","event_id":"...",
 *         "correlation_id":"..."} (ids only when known, as strings like the
 *         wire format). A message quoting bytes that are not well-formed
 *         UTF-8 (a data file's) has each such byte as \ufffd: every line
 *         is valid JSON.
 *
 * Chosen with --log-format text|json and --log-level error|warn|info|debug
 * (default info), global options main() takes out of argv before dispatch,
 * or the environment variables TRADEBUS_LOG_FORMAT and TRADEBUS_LOG_LEVEL
 * (which the options set, so the processes `tradebus up` starts inherit
 * them). Progress bars and command output (stdout) are not log lines. */
#ifndef TRADEBUS_CLI_LOG_H
#define TRADEBUS_CLI_LOG_H

#include <stdint.h>

enum { CLI_LOG_ERROR = 0, CLI_LOG_WARN = 1, CLI_LOG_INFO = 2, CLI_LOG_DEBUG = 3 };

/* Reads TRADEBUS_LOG_FORMAT / TRADEBUS_LOG_LEVEL, then removes
 * --log-format X, --log-format=X, --log-level X and --log-level=X from argv
 * (updating *argc) and exports what they chose. Returns 0, or 2 after
 * printing a usage error (unknown format or level, missing value). */
int cli_log_init(int *argc, char **argv);

/* One log line at level from component (NULL: "tradebus"), if level is
 * enabled. The message is printf-formatted; no trailing newline needed. */
void cli_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the event's ids (0: unknown, left out). */
void cli_log_event(int level, const char *component, uint64_t event_id, uint64_t correlation_id,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* 1 if a line at level would be written. */
int cli_log_enabled(int level);
/* 1 if the format is JSON (then nothing but JSON lines may go to stderr). */
int cli_log_json(void);

#endif
