/* What the tradebus command prints for a human, and the check that every
 * byte it meant to write was written (cli.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_log.h"

void cli_print_text(const char *s, size_t len)
{
    /* A failed write is not reported here: it leaves ferror(stdout) set,
     * which cli_finish_stdout() turns into the exit code. */
    (void)tb_text_write(stdout, s, len, TB_TEXT_NEWLINES);
}

/* fmt formatted, then written to f escaped (newlines kept). */
static int vprint(FILE *f, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static int vprint(FILE *f, const char *fmt, va_list ap)
{
    char small[1024], *text = small;
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof(small)) {
        if ((text = malloc((size_t)n + 1)) != NULL)
            vsnprintf(text, (size_t)n + 1, fmt, again);
        else
            n = -1;
    }
    va_end(again);
    if (n < 0) return n;
    /* A failed write leaves ferror(f) set: cli_finish_stdout() reports it. */
    (void)tb_text_write(f, text, (size_t)n, TB_TEXT_NEWLINES);
    if (text != small) free(text);
    return n;
}

int cli_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprint(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int cli_eprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprint(stderr, fmt, ap);
    va_end(ap);
    return n;
}

int cli_text_begin(cli_text *t)
{
    t->buf = NULL;
    t->len = 0;
    t->f = open_memstream(&t->buf, &t->len);
    return t->f ? 0 : TB_ENOMEM;
}

int cli_text_end(cli_text *t)
{
    int rc = fclose(t->f) == 0 ? 0 : TB_ENOMEM;
    if (!rc) cli_print_text(t->buf, t->len);
    free(t->buf);
    t->f = NULL;
    t->buf = NULL;
    return rc;
}

/* Flushes and closes f; on failure *why is the reason (0 when the stream
 * only remembers that an earlier write failed). */
static int close_checked(FILE *f, int *why)
{
    errno = 0;
    int bad = fflush(f) != 0;
    *why = bad ? errno : 0;
    /* An earlier write that failed leaves its mark even when the flush,
     * with nothing left to write, succeeds. */
    if (ferror(f)) bad = 1;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        *why = errno;
    }
    return bad;
}

static const char *reason(int why)
{
    return why ? strerror(why) : "a write failed";
}

int cli_close_output(FILE *f, const char *path)
{
    int why;
    if (!f || !close_checked(f, &why)) return 0;
    cli_log(CLI_LOG_ERROR, NULL, "%s: write failed: %s", path, reason(why));
    return EXIT_RUNTIME;
}

int cli_finish_stdout(int code)
{
    int why;
    if (!close_checked(stdout, &why)) return code;
    cli_log(CLI_LOG_ERROR, NULL, "cannot write standard output: %s", reason(why));
    return code == 0 ? EXIT_RUNTIME : code;
}

void cli_signals_catch(void (*handler)(int), struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

void cli_signals_restore(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}
