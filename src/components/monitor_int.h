/* Private (not installed): the Monitor's replay (src/report/) lent to a
 * sweep's row, which rates the run from it instead of running a second
 * replay of every event beside the Monitor's. */
#ifndef TRADEBUS_MONITOR_INT_H
#define TRADEBUS_MONITOR_INT_H

#include "../report/report_int.h"
#include "tradebus/monitor.h"

/* Makes m's replay keep the account's curve in t[cap], eq[cap] (a lean
 * replay: tb__report.lean) instead of writing trades.csv and equity.csv.
 * Before the first event, for a monitor writing neither file; else
 * TB_ESTATE. The arrays become the replay's (it may grow them):
 * tb__monitor_take_replay hands them back. */
int tb__monitor_keep_curve(tb_monitor *m, int64_t *t, tb_decimal *eq, size_t cap);

/* Moves m's replay, made lean by tb__monitor_keep_curve (else TB_ESTATE),
 * into out, which the caller frees (tb__report_free); m goes on counting
 * events but replays none. *finished: 1 if tb_monitor_finish closed the
 * replay's last point. Returns the replay's first error (0 if none). */
int tb__monitor_take_replay(tb_monitor *m, tb__report *out, int *finished);

#endif
