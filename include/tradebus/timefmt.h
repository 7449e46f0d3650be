/* tradebus — times as text.
 *
 * Every time in tradebus is an int64 count of nanoseconds since
 * 1970-01-01T00:00:00Z (UTC, no leap seconds). Files and messages show them
 * as ISO-8601 UTC; this is the form fills.csv, the trade log, the journal
 * and the CLI write. */
#ifndef TRADEBUS_TIMEFMT_H
#define TRADEBUS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formats ns since the epoch as "2024-01-01T00:00:00.000Z" (milliseconds,
 * truncated toward zero) into buf (>= 25 bytes). Returns the length, or
 * TB_EFULL if buf is too small. */
TB_EXPORT int tb_format_time_iso(int64_t ns, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif
