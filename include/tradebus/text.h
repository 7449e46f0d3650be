/* tradebus — text for a human on a terminal.
 *
 * Messages and listings quote bytes that come from outside: a data file's
 * header, a config value, a dead letter's raw input, a reason a broker gave.
 * Written raw, an escape sequence among them could retitle the terminal,
 * recolour it, move the cursor over what was printed or, on some terminals,
 * answer back as if typed. tb_text_escape() is the one place that makes such
 * text safe to show; the CLI's text log and every human-readable listing go
 * through it (machine-readable outputs — JSON, CSV — have their own rules).
 *
 * What passes unchanged: printable ASCII (the backslash included), tab, and
 * well-formed UTF-8 ("€", "日本"). What is shown escaped, visibly:
 *   - C0 control bytes (0x00-0x1f but tab; ESC, BEL, CR, backspace...) and
 *     DEL (0x7f): \xNN ("\x1b"); '\n' passes when TB_TEXT_NEWLINES is given
 *     (a multi-line listing), else it is "\x0a" (a log line stays one line);
 *   - C1 control characters (U+0080-U+009F, which some terminals obey like
 *     ESC [): \u0080-\u009f;
 *   - each byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
 *     forms, no surrogates, nothing past U+10FFFF): \xNN ("\xff"). */
#ifndef TRADEBUS_TEXT_H
#define TRADEBUS_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* tb_text_escape's flags. */
#define TB_TEXT_NEWLINES 1u /* '\n' passes as is: the text is multi-line */

/* Escapes len bytes of s (NUL bytes included) as described above into
 * out[cap], NUL-terminated; an escape or a UTF-8 sequence that does not fit
 * whole is left out with everything after it. Returns the length of the
 * whole escaped text, like snprintf: out holds all of it when the result is
 * < cap. out may be NULL when cap is 0 (to size a buffer). Allocates
 * nothing. */
TB_EXPORT size_t tb_text_escape(char *out, size_t cap, const char *s, size_t len, unsigned flags);
/* Writes the escaped text of len bytes of s to f. Returns 0, or TB_EIO if a
 * write failed (errno tells why), TB_EINVAL if f is NULL. */
TB_EXPORT int tb_text_write(FILE *f, const char *s, size_t len, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
