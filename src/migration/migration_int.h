/* Private (not installed): the trade-log reader over any line source, for
 * the legacy command's pipe (parity_cmd.c), which reads with a deadline. */
#ifndef TRADEBUS_MIGRATION_INT_H
#define TRADEBUS_MIGRATION_INT_H

#include <stdio.h>

#include "../core/linereader.h"
#include "tradebus/parity.h"
#include "tradebus/tradelog.h"

/* tb_tradelog_read() over lr: 0 at the end of input; TB_EPARSE with
 * "name:line: ..." for a bad or over-long line; a sink's error with
 * "name:line: ..."; TB_EIO with "name:line: read error: ..."; any other
 * error of lr's read function is returned with err untouched. */
int tb__tradelog_read_lines(tb__lr *lr, const char *name, tb_record_sink sink, void *ctx, char *err,
                            size_t errlen);

/* tb_parity_add_legacy_log() over lr (parity_run.c). Errors as above. */
int tb__parity_add_legacy_lines(tb_parity *p, tb__lr *lr, const char *name, FILE *copy, char *err,
                                size_t errlen);

#endif
