/* Shared helpers for tests that run whole backtests through the pipeline
 * and compare them: the two-strategy config on the bundled January BTCUSDT
 * bars, a recorder of every fill, and the comparison of two runs' trading. */
#ifndef TB_TEST_RUNS_H
#define TB_TEST_RUNS_H

#include "tb_test_support.h"
#include "tradebus/backtest.h"
#include "tradebus/config.h"

/* Sets cfg (initialized, not built) to a MARKET trend strategy and a LIMIT
 * breakout one on the bundled January BTCUSDT minute bars, with the given
 * [exchange] max_volume_participation ("0": unlimited, else partial
 * fills); the data's path goes into path. */
void tbt_config_two_strategies(tb_config *cfg, const char *participation, char *path,
                               size_t pathlen);
/* Pushes every bar of the CSV at path through p, then settles it (pending
 * timers fire, as at the end of a backtest) if settle. */
void tbt_push_csv(tb_pipeline *p, const char *path, int settle);

typedef struct {
    int64_t time;
    char cid[TB_ORDER_ID_LEN];
    tb_side side;
    tb_decimal qty, price, commission;
} tbt_fill;

/* Every OrderFilled, and the RiskAlerts counted by rule (subscribe
 * tbt_record_fills with a tbt_fill_log * as ctx; free with tbt_fill_log_free). */
typedef struct {
    tbt_fill *fills;
    size_t n, cap;
    uint64_t retry_alerts;       /* rule order_retries */
    uint64_t order_state_alerts; /* rule order_state */
} tbt_fill_log;
int tbt_record_fills(const tb_event *ev, void *ctx);
void tbt_fill_log_free(tbt_fill_log *l);

/* Fails unless the two runs made the same fills (time, id, side, quantity,
 * price, commission; in their order, or sorted by time then id when
 * by_time_and_id) and the same orders, fills, rejections, PnL and fees. */
void tbt_assert_same_trading(const tb_backtest_result *a, tbt_fill_log *la,
                             const tb_backtest_result *b, tbt_fill_log *lb, int by_time_and_id);

#endif
