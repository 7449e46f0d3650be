/* Whole-backtest helpers shared by the fault and asynchronous-exchange tests. */
#include "tb_test_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/marketdata.h"

void tbt_config_two_strategies(tb_config *cfg, const char *participation, char *path,
                               size_t pathlen)
{
    char part[64], err[300] = "";
    snprintf(part, sizeof(part), "exchange.max_volume_participation=%s", participation);
    const char *sets[] = {"backtest.initial_cash=100000",
                          "symbol.BTCUSDT.tick_size=0.01",
                          "symbol.BTCUSDT.step_size=0.00001",
                          part,
                          "strategy.trend.type=sma_cross",
                          "strategy.trend.symbol=BTCUSDT",
                          "strategy.trend.fast=5",
                          "strategy.trend.slow=20",
                          "strategy.trend.quantity=0.05",
                          "strategy.trend.allow_short=true",
                          "strategy.bb.type=bollinger_breakout",
                          "strategy.bb.symbol=BTCUSDT",
                          "strategy.bb.period=20",
                          "strategy.bb.k=2",
                          "strategy.bb.quantity=0.02",
                          "strategy.bb.order_type=LIMIT",
                          "strategy.bb.limit_offset_bps=5"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        if (tb_config_set(cfg, sets[i], err, sizeof(err)) != 0) fail_msg("%s", err);
    snprintf(path, pathlen, "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    tb_config_add_data(cfg, path);
}

void tbt_push_csv(tb_pipeline *p, const char *path, int settle)
{
    char err[300] = "";
    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_reader *rd;
    if (tb_md_reader_open(path, &mc, &rd, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_market_data bar;
    int rc;
    while ((rc = tb_md_reader_next(rd, &bar, err, sizeof(err))) == 0)
        assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
    assert_int_equal(rc, TB_EEOF);
    tb_md_reader_close(rd);
    if (settle) assert_int_equal(tb_pipeline_settle(p), 0);
}

int tbt_record_fills(const tb_event *ev, void *ctx)
{
    tbt_fill_log *l = ctx;
    if (ev->type == TB_EV_RISK_ALERT) {
        if (strcmp(ev->u.risk_alert.rule, "order_state") == 0) l->order_state_alerts++;
        if (strcmp(ev->u.risk_alert.rule, "order_retries") == 0) l->retry_alerts++;
    }
    if (ev->type != TB_EV_ORDER_FILLED) return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->fills = realloc(l->fills, l->cap * sizeof(*l->fills));
        assert_non_null(l->fills);
    }
    const tb_order_filled *f = &ev->u.order_filled;
    tbt_fill *r = &l->fills[l->n++];
    r->time = ev->timestamp;
    memcpy(r->cid, f->client_order_id, sizeof(r->cid));
    r->side = f->side;
    r->qty = f->filled_quantity;
    r->price = f->filled_price;
    r->commission = f->commission;
    return 0;
}

void tbt_fill_log_free(tbt_fill_log *l)
{
    free(l->fills);
    memset(l, 0, sizeof(*l));
}

static int cmp_fill(const void *a, const void *b)
{
    const tbt_fill *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return strcmp(x->cid, y->cid);
}

void tbt_assert_same_trading(const tb_backtest_result *a, tbt_fill_log *la,
                             const tb_backtest_result *b, tbt_fill_log *lb, int by_time_and_id)
{
    assert_true(la->n > 50);
    if (by_time_and_id) {
        qsort(la->fills, la->n, sizeof(tbt_fill), cmp_fill);
        qsort(lb->fills, lb->n, sizeof(tbt_fill), cmp_fill);
    }
    for (size_t i = 0; i < la->n && i < lb->n; i++) {
        const tbt_fill *x = &la->fills[i], *y = &lb->fills[i];
        if (x->time != y->time || x->side != y->side || x->qty != y->qty || x->price != y->price ||
            x->commission != y->commission || strcmp(x->cid, y->cid))
            fail_msg("fill %zu of %zu/%zu differs: %s at %lld vs %s at %lld", i, la->n, lb->n,
                     x->cid, (long long)x->time, y->cid, (long long)y->time);
    }
    assert_int_equal(la->n, lb->n);
    assert_int_equal(a->orders, b->orders);
    assert_int_equal(a->fills, b->fills);
    assert_int_equal(a->rejected, b->rejected);
    assert_int_equal(a->realized_pnl, b->realized_pnl);
    assert_int_equal(a->unrealized_pnl, b->unrealized_pnl);
    assert_int_equal(a->fees, b->fees);
}
