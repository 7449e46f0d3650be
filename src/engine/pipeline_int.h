/* Private (not installed): a pipeline's parts for the library's own
 * runners (the sweep). */
#ifndef TRADEBUS_PIPELINE_INT_H
#define TRADEBUS_PIPELINE_INT_H

#include "tradebus/backtest.h"

/* p's Monitor (borrowed), or NULL when its MONITOR role is another
 * process's. */
tb_monitor *tb__pipeline_monitor(tb_pipeline *p);

#endif
