/* Private (not installed): the Monitor's replay (src/report/) handed to
 * the run's report or a sweep's row, which would otherwise replay every
 * event a second time (the report by reading events.jsonl back). */
#ifndef TRADEBUS_MONITOR_INT_H
#define TRADEBUS_MONITOR_INT_H

#include "../report/report_int.h"
#include "tradebus/monitor.h"

/* Makes m's replay keep what it replays instead of writing trades.csv and
 * equity.csv as the run goes: everything the report needs (a backtest
 * that writes report.html), or with lean the account's curve and the
 * trades only (a sweep's row: tb__report.lean), the curve in t[cap],
 * eq[cap] if given (NULL: allocated as it grows; the arrays become the
 * replay's). Before the first event, for a monitor writing neither file;
 * else TB_ESTATE. */
int tb__monitor_keep_replay(tb_monitor *m, int lean, int64_t *t, tb_decimal *eq, size_t cap);

/* Moves m's replay, kept by tb__monitor_keep_replay (else TB_ESTATE),
 * into out, which the caller frees (tb__report_free); m goes on counting
 * events but replays none. *finished: 1 if tb_monitor_finish closed the
 * replay's last point. Returns the replay's first error (0 if none). */
int tb__monitor_take_replay(tb_monitor *m, tb__report *out, int *finished);

#endif
