/* A node's part of the run's result, as it travels to the monitor
 * (routing key ctl.stats), and the monitor's merge of the parts. */
#ifndef TB_DIST_STATS_H
#define TB_DIST_STATS_H

#include <stddef.h>

#include "tradebus/backtest.h"

/* JSON of the fields role owns in r, into a malloc'd string (*out, caller
 * frees). 0 or TB_ENOMEM. */
int tb__stats_encode(const char *role, const tb_backtest_result *r, char **out);
/* Adds role's fields from the JSON into r (fields another role owns are 0
 * there, and shards of one role add up; positions allocated: free with
 * tb_backtest_result_free). 0 or TB_EPARSE with err. */
int tb__stats_merge(const char *json, size_t len, tb_backtest_result *r, char *role, size_t rolelen,
                    char *err, size_t errlen);

#endif
