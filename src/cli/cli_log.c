/* The CLI's log lines on stderr: text or JSON (cli_log.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static struct {
    int json;
    int level;
    int color; /* -1: not decided yet */
} lg = {0, CLI_LOG_INFO, -1};

static int parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    if (strcmp(s, "warning") == 0) return CLI_LOG_WARN;
    return -1;
}

static int parse_format(const char *s)
{
    if (strcmp(s, "text") == 0) return 0;
    if (strcmp(s, "json") == 0) return 1;
    return -1;
}

int cli_log_init(int *argc, char **argv)
{
    const char *e;
    int v;
    if ((e = getenv("TRADEBUS_LOG_FORMAT")) && e[0] && (v = parse_format(e)) >= 0) lg.json = v;
    if ((e = getenv("TRADEBUS_LOG_LEVEL")) && e[0] && (v = parse_level(e)) >= 0) lg.level = v;
    int n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *val = NULL;
        int is_fmt = 0, took = 1;
        if (i == 0) {
            argv[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--log-format") == 0 || strcmp(a, "--log-level") == 0) {
            is_fmt = a[6] == 'f';
            val = i + 1 < *argc ? argv[i + 1] : NULL;
            took = 2;
            if (!val) {
                cli_usage_error("%s needs a value (%s)", a,
                                is_fmt ? "text or json" : "error, warn, info or debug");
                return EXIT_USAGE;
            }
        } else if (strncmp(a, "--log-format=", 13) == 0) {
            is_fmt = 1;
            val = a + 13;
        } else if (strncmp(a, "--log-level=", 12) == 0) {
            val = a + 12;
        } else {
            argv[n++] = argv[i];
            continue;
        }
        if (is_fmt) {
            if ((v = parse_format(val)) < 0) {
                cli_usage_error("--log-format: '%s' must be text or json", val);
                return EXIT_USAGE;
            }
            lg.json = v;
            setenv("TRADEBUS_LOG_FORMAT", val, 1);
        } else {
            if ((v = parse_level(val)) < 0) {
                cli_usage_error("--log-level: '%s' must be error, warn, info or debug", val);
                return EXIT_USAGE;
            }
            lg.level = v;
            setenv("TRADEBUS_LOG_LEVEL", level_names[v], 1);
        }
        i += took - 1;
    }
    argv[n] = NULL;
    *argc = n;
    return 0;
}

int cli_log_enabled(int level)
{
    return level <= lg.level;
}

int cli_log_json(void)
{
    return lg.json;
}

static int use_color(void)
{
    if (lg.color < 0) {
        const char *nc = getenv("NO_COLOR");
        lg.color = isatty(STDERR_FILENO) && !(nc && nc[0]);
    }
    return lg.color;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* Appends s to b as a JSON string body (without quotes). Messages quote
 * data files, which may hold any bytes: every byte that is not part of
 * well-formed UTF-8 becomes \ufffd (the replacement character), so each
 * line stays valid JSON. */
static void json_escape(FILE *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", b);
            break;
        case '\\':
            fputs("\\\\", b);
            break;
        case '\n':
            fputs("\\n", b);
            break;
        case '\r':
            fputs("\\r", b);
            break;
        case '\t':
            fputs("\\t", b);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(b, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, b);
            } else {
                size_t n = utf8_len(p);
                if (n) {
                    fwrite(p, 1, n, b);
                    p += n - 1;
                } else {
                    fputs("\\ufffd", b);
                }
            }
        }
    }
}

__attribute__((format(printf, 5, 0))) static void vlog(int level, const char *component,
                                                       uint64_t event_id, uint64_t correlation_id,
                                                       const char *fmt, va_list ap)
{
    if (level < CLI_LOG_ERROR) level = CLI_LOG_ERROR;
    if (level > CLI_LOG_DEBUG) level = CLI_LOG_DEBUG;
    if (!cli_log_enabled(level)) return;
    if (!component || !component[0]) component = "tradebus";
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* The whole line is built first and written at once: lines of processes
     * sharing the terminal (tradebus up) do not interleave. */
    char *line = NULL;
    size_t len = 0;
    FILE *b = open_memstream(&line, &len);
    if (!b) {
        tb_text_write(stderr, component, strlen(component), 0);
        fputs(": ", stderr);
        tb_text_write(stderr, msg, strlen(msg), 0);
        fputc('\n', stderr);
        return;
    }
    if (lg.json) {
        struct timespec ts;
        char t[40];
        clock_gettime(CLOCK_REALTIME, &ts);
        tb_format_time_iso((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, t, sizeof(t));
        fprintf(b, "{\"level\":\"%s\",\"time\":\"%s\",\"component\":\"", level_names[level], t);
        json_escape(b, component);
        fputs("\",\"message\":\"", b);
        json_escape(b, msg);
        fputc('"', b);
        if (event_id) fprintf(b, ",\"event_id\":\"%llu\"", (unsigned long long)event_id);
        if (correlation_id)
            fprintf(b, ",\"correlation_id\":\"%llu\"", (unsigned long long)correlation_id);
        fputs("}\n", b);
    } else {
        static const char *const colors[] = {"\033[1;31m", "\033[33m", "\033[36m", "\033[2m"};
        int c = use_color();
        int self = strcmp(component, "tradebus") == 0;
        if (c) fputs(colors[level], b);
        if (self) {
            fputs("tradebus:", b);
        } else {
            fputc('[', b);
            tb_text_write(b, component, strlen(component), 0);
            fputc(']', b);
        }
        if (c) fputs("\033[0m", b);
        if (level == CLI_LOG_DEBUG) fputs(" debug:", b);
        /* Messages quote data files, configs and brokers: the escape
         * sequences they may hold are shown, never obeyed, and a newline
         * among them cannot forge a second log line. */
        fputc(' ', b);
        tb_text_write(b, msg, strlen(msg), 0);
        if (event_id) fprintf(b, " (event %llu)", (unsigned long long)event_id);
        fputc('\n', b);
    }
    fclose(b);
    fwrite(line, 1, len, stderr);
    fflush(stderr);
    free(line);
}

void cli_log(int level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, 0, 0, fmt, ap);
    va_end(ap);
}

void cli_log_event(int level, const char *component, uint64_t event_id, uint64_t correlation_id,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, component, event_id, correlation_id, fmt, ap);
    va_end(ap);
}
