/* The trading rules a trader relies on, through the whole embedded pipeline:
 * pre-trade risk judged on the true position, halts that halt, orders that
 * end (replace, expiry), targets that count working orders. Each rule is
 * tested twice: on hand-made bars where the answer is known, and as an
 * invariant checked after every event of runs over generated data for many
 * configs (the first configs a trader writes beyond the examples are where
 * the bugs were). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tradebus/tradebus.h>

#define MAX_ORDERS 64

static tb_decimal dec(const char *s)
{
    tb_decimal d;
    if (tb_dec_parse(s, (size_t)-1, &d) != 0) fail_msg("bad decimal %s", s);
    return d;
}

static const char *fmt(tb_decimal d)
{
    static char buf[8][TB_DECIMAL_STRLEN];
    static int i;
    i = (i + 1) % 8; /* a message may take several */
    tb_dec_format(d, buf[i], sizeof(buf[i]));
    return buf[i];
}

/* ---- what the rules promise, checked as events go by --------------------- */

typedef struct {
    char cid[TB_ORDER_ID_LEN];
    tb_side side;
    tb_decimal remaining;
    tb_order_origin origin;
    uint64_t bar;    /* bars seen when it was acknowledged */
    tb_decimal stop; /* a fixed stop's price; 0 = not one */
    tb_order_type type;
    tb_decimal price; /* LIMIT: its price */
    int must_fill;    /* the current bar touched it: it fills before the next */
    int filled;       /* some of it filled */
} working;

typedef struct {
    /* The run's promises. */
    tb_decimal quantity; /* the strategy's: its position stays within ±quantity */
    int allow_short;
    int replace;
    long expire_after_bars;
    tb_decimal max_position;
    /* Sizing (0 = a fixed quantity): entries are worth at most size_pct %
     * of equity, or lose at most risk_pct % of it at the stop's distance. */
    tb_decimal size_pct, risk_pct, stop_pct;
    /* What the observer knows, from the events alone. */
    tb_decimal cash;       /* initial cash − Σ signed fill value − Σ commissions */
    tb_decimal max_target; /* the largest |target| signaled so far */
    tb_decimal position;
    working orders[MAX_ORDERS];
    size_t norders;
    uint64_t bars;
    int64_t halted_at;             /* close time of the bar that halted; 0 = not halted */
    tb_decimal last_request_worst; /* |position + same-side working + order| */
    tb_decimal last_request_before;
    /* What happened. */
    tb_market_data bar;  /* the last one */
    int capped;          /* max_volume_participation: a bar's volume may run out */
    int filled_this_bar; /* an entry or exit filled during the current bar */
    int fills, created, rejected_max_position, halts, replaced, expired, cut, stops, targets;
    int sized; /* sized entries signaled */
    /* Bracket prices a signal named (as the Order Manager keeps them): a
     * stop-loss placed while one is named must be at that price. */
    tb_decimal named_stop, named_take;
    tb_order_type signal_type; /* the last BUY/SELL signal's order type and limit price */
    tb_decimal signal_limit;
    int named_stops, limits_filled, canceled_by_request;
    int max_working;
    char failure[512];
} observer;

static void broken(observer *o, const char *fmtstr, ...) __attribute__((format(printf, 2, 3)));
static void broken(observer *o, const char *fmtstr, ...)
{
    if (o->failure[0]) return; /* the first says most */
    va_list ap;
    va_start(ap, fmtstr);
    vsnprintf(o->failure, sizeof(o->failure), fmtstr, ap);
    va_end(ap);
}

static working *find_working(observer *o, const char *cid)
{
    for (size_t i = 0; i < o->norders; i++)
        if (strcmp(o->orders[i].cid, cid) == 0) return &o->orders[i];
    return NULL;
}

static void drop_working(observer *o, working *w)
{
    *w = o->orders[--o->norders];
}

static tb_decimal same_side_working(const observer *o, tb_side side, const char *except)
{
    tb_decimal w = 0;
    for (size_t i = 0; i < o->norders; i++)
        if (o->orders[i].side == side && (!except || strcmp(o->orders[i].cid, except) != 0))
            w += side == TB_SIDE_BUY ? o->orders[i].remaining : -o->orders[i].remaining;
    return w;
}

static int observe(const tb_event *ev, void *ctx)
{
    observer *o = ctx;
    switch (ev->type) {
    case TB_EV_MARKET_DATA: {
        /* A stop exits on the first bar that touches it. */
        for (size_t i = 0; i < o->norders; i++)
            if (o->orders[i].must_fill && !o->capped)
                broken(o, "stop %s at %s was touched on the bar closing %lld and did not fill",
                       o->orders[i].cid, fmt(o->orders[i].stop), (long long)o->bar.close_time);
        const tb_market_data *b = &ev->u.market_data;
        o->bar = *b;
        o->bars++;
        o->filled_this_bar = 0;
        for (size_t i = 0; i < o->norders; i++) {
            working *w = &o->orders[i];
            if (w->stop && !w->filled &&
                (w->side == TB_SIDE_SELL ? b->low <= w->stop : b->high >= w->stop))
                w->must_fill = 1;
        }
        break;
    }
    case TB_EV_SIGNAL_GENERATED: {
        const tb_signal_generated *g = &ev->u.signal;
        tb_decimal t = tb_dec_abs(g->target);
        if (g->signal_type == TB_SIGNAL_BUY || g->signal_type == TB_SIGNAL_SELL) {
            if (g->stop_loss || g->take_profit) {
                o->named_stop = g->stop_loss;
                o->named_take = g->take_profit;
            } else if (o->position == 0) {
                o->named_stop = o->named_take = 0;
            }
            o->signal_type = g->order_type;
            o->signal_limit = g->limit_price;
        }
        if (g->signal_type == TB_SIGNAL_CANCEL) break;
        if (t > o->max_target) o->max_target = t;
        if ((o->size_pct <= 0 && o->risk_pct <= 0) || t == 0) break;
        /* Equity at the decision's close, from the fills alone. */
        tb_decimal value, equity, budget, per_unit = g->price, cost;
        assert_int_equal(tb_dec_mul(o->position, g->price, TB_ROUND_HALF_UP, &value), 0);
        equity = o->cash + value;
        tb_decimal pct = o->size_pct > 0 ? o->size_pct : o->risk_pct;
        assert_int_equal(
            tb_dec_muldiv_int(equity, pct, 100 * TB_DECIMAL_ONE, TB_ROUND_FLOOR, &budget), 0);
        if (o->size_pct <= 0)
            assert_int_equal(tb_dec_muldiv_int(g->price, o->stop_pct, 100 * TB_DECIMAL_ONE,
                                               TB_ROUND_CEIL, &per_unit),
                             0);
        assert_int_equal(tb_dec_mul(t, per_unit, TB_ROUND_HALF_UP, &cost), 0);
        o->sized++;
        /* Exact but for the fills' rounding: a cent is far above it. */
        if (cost > budget + TB_DECIMAL_ONE / 100)
            broken(o, "sized target %s at %s costs %s, over %s%% of equity %s (%s)", fmt(t),
                   fmt(g->price), fmt(cost), fmt(pct), fmt(equity), fmt(budget));
        break;
    }
    case TB_EV_ORDER_PLACEMENT_REQUEST: {
        const tb_order_placement_request *q = &ev->u.order_request;
        /* A signal's order goes out as the signal said: type and price. */
        if (q->origin == TB_ORIGIN_SIGNAL &&
            (q->order_type != o->signal_type ||
             (q->order_type == TB_ORDER_LIMIT && q->price != o->signal_limit)))
            broken(o, "order %s is %s at %s; the signal said %s at %s", q->client_order_id,
                   tb_order_type_name(q->order_type), fmt(q->price),
                   tb_order_type_name(o->signal_type), fmt(o->signal_limit));
        tb_decimal before = o->position + same_side_working(o, q->side, q->oco_with);
        o->last_request_before = before;
        o->last_request_worst =
            tb_dec_abs(before + (q->side == TB_SIDE_BUY ? q->quantity : -q->quantity));
        break;
    }
    case TB_EV_ORDER_CREATED: {
        const tb_order_created *c = &ev->u.order_created;
        o->created++;
        /* No order that truly breaks the limit gets through. */
        tb_decimal before = o->position + same_side_working(o, c->side, c->oco_with);
        tb_decimal after = before + (c->side == TB_SIDE_BUY ? c->quantity : -c->quantity);
        if (o->max_position > 0 && tb_dec_abs(after) > o->max_position &&
            tb_dec_abs(after) > tb_dec_abs(before))
            broken(o, "order %s takes the worst case to %s past max_position %s",
                   c->client_order_id, fmt(after), fmt(o->max_position));
        if (o->halted_at && tb_dec_abs(after) > tb_dec_abs(o->position) &&
            c->origin == TB_ORIGIN_SIGNAL)
            broken(o, "order %s adds exposure after the halt", c->client_order_id);
        if (o->norders == MAX_ORDERS) {
            broken(o, "more than %d orders working", MAX_ORDERS);
            break;
        }
        working *w = &o->orders[o->norders++];
        memset(w, 0, sizeof(*w));
        snprintf(w->cid, sizeof(w->cid), "%s", c->client_order_id);
        w->side = c->side;
        w->remaining = c->quantity;
        w->origin = c->origin;
        w->bar = o->bars;
        w->type = c->order_type;
        w->price = c->price;
        if (c->origin == TB_ORIGIN_STOP_LOSS && o->named_stop) {
            o->named_stops++;
            if (c->stop_price != o->named_stop)
                broken(o, "stop-loss %s at %s, but the strategy named %s", c->client_order_id,
                       fmt(c->stop_price), fmt(o->named_stop));
        }
        if (c->origin == TB_ORIGIN_TAKE_PROFIT && o->named_take && c->price != o->named_take)
            broken(o, "take-profit %s at %s, but the strategy named %s", c->client_order_id,
                   fmt(c->price), fmt(o->named_take));
        if (c->order_type == TB_ORDER_STOP_MARKET && c->trailing_pct == 0) {
            w->stop = c->stop_price;
            /* Live from the fill it protects: that fill's bar counts. */
            if (o->filled_this_bar &&
                (c->side == TB_SIDE_SELL ? o->bar.low <= w->stop : o->bar.high >= w->stop))
                w->must_fill = 1;
        }
        size_t n = 0;
        for (size_t i = 0; i < o->norders; i++)
            n += o->orders[i].origin == TB_ORIGIN_SIGNAL;
        if ((int)n > o->max_working) o->max_working = (int)n;
        if (o->replace && n > 1)
            broken(o, "replace: %zu signal orders working after %s", n, c->client_order_id);
        break;
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        o->fills++;
        tb_decimal before = o->position;
        o->position += f->side == TB_SIDE_BUY ? f->filled_quantity : -f->filled_quantity;
        if (o->position == 0) o->named_stop = o->named_take = 0;
        tb_decimal fv;
        assert_int_equal(tb_dec_mul(f->filled_quantity, f->filled_price, TB_ROUND_HALF_UP, &fv), 0);
        o->cash += (f->side == TB_SIDE_BUY ? -fv : fv) - f->commission;
        /* A sized strategy holds at most what it last asked for. */
        if (o->size_pct > 0 || o->risk_pct > 0) o->quantity = o->max_target;
        if (!o->allow_short && (o->position < 0 || o->position > o->quantity))
            broken(o, "long-only position %s outside [0, %s] after fill of %s", fmt(o->position),
                   fmt(o->quantity), f->client_order_id);
        if (o->allow_short && tb_dec_abs(o->position) > o->quantity)
            broken(o, "position %s beyond ±%s after fill of %s", fmt(o->position), fmt(o->quantity),
                   f->client_order_id);
        /* A fill during the halting bar happened before its close decided. */
        if (o->halted_at && ev->timestamp > o->halted_at &&
            tb_dec_abs(o->position) > tb_dec_abs(before))
            broken(o, "fill of %s adds exposure (%s -> %s) after the halt", f->client_order_id,
                   fmt(before), fmt(o->position));
        working *w = find_working(o, f->client_order_id);
        if (!w) {
            broken(o, "fill of %s, which is not working", f->client_order_id);
            break;
        }
        /* A LIMIT never fills at a worse price than its own. */
        if (w->type == TB_ORDER_LIMIT) {
            o->limits_filled++;
            if (f->side == TB_SIDE_BUY ? f->filled_price > w->price : f->filled_price < w->price)
                broken(o, "LIMIT %s %s at %s filled at %s", tb_side_name(f->side),
                       f->client_order_id, fmt(w->price), fmt(f->filled_price));
        }
        w->remaining -= f->filled_quantity;
        w->must_fill = 0;
        w->filled = 1;
        o->filled_this_bar = 1;
        o->stops += f->origin == TB_ORIGIN_STOP_LOSS || f->origin == TB_ORIGIN_TRAILING_STOP;
        o->targets += f->origin == TB_ORIGIN_TAKE_PROFIT;
        if (f->status == TB_ORDER_FILLED) drop_working(o, w);
        break;
    }
    case TB_EV_ORDER_CANCELED: {
        const tb_order_canceled *c = &ev->u.order_canceled;
        working *w = find_working(o, c->client_order_id);
        if (!w) {
            broken(o, "cancel of %s, which is not working", c->client_order_id);
            break;
        }
        if (c->cause == TB_CANCEL_REPLACED && c->origin == TB_ORIGIN_SIGNAL) o->replaced++;
        if (c->cause == TB_CANCEL_REQUESTED) {
            o->canceled_by_request++;
            if (c->origin != TB_ORIGIN_SIGNAL)
                broken(o, "the strategy's cancel took %s, a %s order", c->client_order_id,
                       tb_order_origin_name(c->origin));
        }
        /* A stop's touch is settled by its fill; one canceled first (its
         * target filled on the same bar? the stop wins, so never) broke it. */
        if (w->must_fill && !o->capped)
            broken(o, "stop %s touched but canceled (%s)", c->client_order_id,
                   tb_cancel_cause_name(c->cause));
        if (c->cause == TB_CANCEL_EXPIRED) {
            o->expired++;
            if (c->status != TB_ORDER_EXPIRED)
                broken(o, "expiry of %s has status %s", c->client_order_id,
                       tb_order_status_name(c->status));
            if (o->bars - w->bar != (uint64_t)o->expire_after_bars)
                broken(o, "%s expired after %llu bars, not %ld", c->client_order_id,
                       (unsigned long long)(o->bars - w->bar), o->expire_after_bars);
        }
        drop_working(o, w);
        break;
    }
    case TB_EV_RISK_ALERT: {
        const tb_risk_alert *a = &ev->u.risk_alert;
        if (strcmp(a->rule, "max_drawdown_pct") == 0 && a->trading_state == TB_TRADING_HALTED) {
            o->halts++;
            o->halted_at = ev->timestamp;
        }
        if (strcmp(a->rule, "max_position") == 0) {
            o->rejected_max_position++;
            /* None is refused that the true position allowed. */
            if (o->last_request_worst <= o->max_position ||
                o->last_request_worst <= tb_dec_abs(o->last_request_before))
                broken(o, "refused although the worst case %s is within max_position %s (%s)",
                       fmt(o->last_request_worst), fmt(o->max_position), a->detail);
        }
        if (strstr(a->detail, "cut to")) o->cut++;
        if (strcmp(a->rule, "strategy_stopped") == 0) broken(o, "%s", a->detail);
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Orders still working must not outlive their bars. */
static void check_end(observer *o)
{
    if (o->expire_after_bars > 0)
        for (size_t i = 0; i < o->norders; i++)
            if (o->orders[i].origin == TB_ORIGIN_SIGNAL &&
                o->bars - o->orders[i].bar > (uint64_t)o->expire_after_bars)
                broken(o, "%s still working %llu bars after it was placed", o->orders[i].cid,
                       (unsigned long long)(o->bars - o->orders[i].bar));
}

/* ---- running the pipeline ------------------------------------------------ */

static void config_from(tb_config *cfg, const char *const *sets, size_t n)
{
    char err[256];
    tb_config_init(cfg);
    for (size_t i = 0; i < n; i++)
        if (tb_config_set(cfg, sets[i], err, sizeof(err)) != 0) fail_msg("%s: %s", sets[i], err);
    tb_config_add_data(cfg, "unused.csv");
    if (tb_config_build(cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
}

static void run_bars(const char *const *sets, size_t n, const tb_market_data *bars, size_t nbars,
                     observer *o, tb_backtest_result *res)
{
    tb_config cfg;
    config_from(&cfg, sets, n);
    tb_pipeline *p;
    char err[256];
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, observe, o) >= 0);
    for (size_t i = 0; i < nbars; i++)
        assert_int_equal(tb_pipeline_push_bar(p, &bars[i]), 0);
    check_end(o);
    if (tb_bus_dead_letter_count(tb_pipeline_bus(p)) != 0)
        broken(o, "%zu dead letters", (size_t)tb_bus_dead_letter_count(tb_pipeline_bus(p)));
    if (res) assert_int_equal(tb_pipeline_result(p, res), 0);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

/* A seeded random walk around 100 (splitmix64): gaps, quiet stretches and
 * trends, so every strategy trades and every rule gets its turn. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static tb_decimal to_dec(double v)
{
    char b[64];
    snprintf(b, sizeof(b), "%.2f", v);
    return dec(b);
}

static void make_bars(uint64_t seed, tb_market_data *bars, size_t n)
{
    rng_state = seed;
    double price = 100, drift = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 200 == 0) drift = (unit() - 0.5) * 0.004;
        double open = price;
        if (unit() < 0.01) open *= 1 + (unit() - 0.5) * 0.06; /* a gap */
        double close = open * (1 + drift + (unit() - 0.5) * 0.01);
        double hi = (open > close ? open : close) * (1 + unit() * 0.004);
        double lo = (open < close ? open : close) * (1 - unit() * 0.004);
        tb_market_data *b = &bars[i];
        memset(b, 0, sizeof(*b));
        strcpy(b->symbol, "BTCUSDT");
        b->open = to_dec(open);
        b->close = to_dec(close);
        b->high = to_dec(hi);
        b->low = to_dec(lo);
        if (b->high < b->open) b->high = b->open;
        if (b->high < b->close) b->high = b->close;
        if (b->low > b->open) b->low = b->open;
        if (b->low > b->close) b->low = b->close;
        b->volume = to_dec(1 + unit() * 20);
        b->open_time = 1704067200000000000LL + (int64_t)i * 60000000000LL;
        b->close_time = b->open_time + 59999000000LL;
        price = close;
    }
}

static void observer_for(observer *o, const char *quantity, int allow_short)
{
    memset(o, 0, sizeof(*o));
    o->quantity = dec(quantity);
    o->allow_short = allow_short;
    o->replace = 1;
}

/* ---- hand-made examples ---------------------------------------------------- */

/* The repro on the bundled data: a flipping strategy of 0.1 under
 * max_position 0.1 was refused 211 of 842 orders ("position 0.3 exceeds
 * 0.1") because the Risk Manager judged against a position one fill old. */
static void test_flip_inside_max_position_is_never_refused(void **state)
{
    (void)state;
    char err[512], path[512];
    tb_config cfg;
    tb_config_init(&cfg);
    const char *sets[] = {"backtest.initial_cash=100000", "risk.max_position=0.1",
                          "strategy.flip.type=sma_cross", "strategy.flip.symbol=BTCUSDT",
                          "strategy.flip.fast=2",         "strategy.flip.slow=3",
                          "strategy.flip.quantity=0.1",   "strategy.flip.allow_short=true"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        assert_int_equal(tb_config_set(&cfg, sets[i], err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    tb_config_add_data(&cfg, path);
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_backtest_result r;
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    if (tb_backtest_run(&cfg, &opt, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(r.orders > 800);
    assert_int_equal(r.rejected, 0);
    assert_int_equal(r.fills, r.orders);
    tb_backtest_result_free(&r);

    /* Where the limit truly binds (a flip of 0.2 each way), it refuses. */
    tb_config_free(&cfg);
    tb_config_init(&cfg);
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        assert_int_equal(tb_config_set(&cfg, sets[i], err, sizeof(err)), 0);
    assert_int_equal(tb_config_set(&cfg, "strategy.flip.quantity=0.2", err, sizeof(err)), 0);
    tb_config_add_data(&cfg, path);
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    if (tb_backtest_run(&cfg, &opt, &r, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(r.rejected > 0);
    tb_backtest_result_free(&r);
    tb_config_free(&cfg);
}

/* A staircase up then down, flat between, repeated: sma_cross(2,3) trades
 * every few bars. */
static size_t staircase(tb_market_data *bars, size_t cap, double step)
{
    static const double shape[] = {0, 0, 0, 1, 2, 3, 2, 1, 0, -1, -2, -1};
    size_t n = 0;
    double prev = 100;
    for (size_t rep = 0; n < cap; rep++)
        for (size_t k = 0; k < sizeof(shape) / sizeof(shape[0]) && n < cap; k++, n++) {
            double c = 100 + shape[k] * step - (double)rep * 0.5;
            tb_market_data *b = &bars[n];
            memset(b, 0, sizeof(*b));
            strcpy(b->symbol, "BTCUSDT");
            b->open = to_dec(prev);
            b->close = to_dec(c);
            b->high = to_dec(prev > c ? prev : c);
            b->low = to_dec(prev < c ? prev : c);
            b->volume = dec("1000");
            b->open_time = 1704067200000000000LL + (int64_t)n * 60000000000LL;
            b->close_time = b->open_time + 59999000000LL;
            prev = c;
        }
    return n;
}

/* LIMIT orders far from the market never fill: each new signal must cancel
 * the one before (replace), so there is never more than one working, and
 * the long-only strategy never ends up long twice its quantity. */
static void test_new_signal_replaces_the_working_order(void **state)
{
    (void)state;
    tb_market_data bars[240];
    size_t n = staircase(bars, 240, 2);
    const char *sets[] = {"strategy.s.type=sma_cross",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",
                          "strategy.s.slow=3",
                          "strategy.s.quantity=1",
                          "strategy.s.order_type=LIMIT",
                          "strategy.s.limit_offset_bps=500",
                          "backtest.initial_cash=1000000"};
    observer o;
    observer_for(&o, "1", 0);
    run_bars(sets, 8, bars, n, &o, NULL);
    if (o.failure[0]) fail_msg("%s", o.failure);
    assert_true(o.replaced > 5);
    assert_int_equal(o.max_working, 1);

    /* keep: only orders that push toward the target stay; here every new
     * signal turns the strategy around, so it too never works two orders,
     * and never holds more than its quantity. */
    const char *keep[] = {"strategy.s.type=sma_cross",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",
                          "strategy.s.slow=3",
                          "strategy.s.quantity=1",
                          "strategy.s.order_type=LIMIT",
                          "strategy.s.limit_offset_bps=500",
                          "backtest.initial_cash=1000000",
                          "strategy.s.on_new_signal=keep"};
    observer_for(&o, "1", 0);
    o.replace = 0;
    run_bars(keep, 9, bars, n, &o, NULL);
    if (o.failure[0]) fail_msg("%s", o.failure);
    assert_int_equal(o.max_working, 1);
}

/* Good for N bars, then EXPIRED with an event that says so. */
static void test_limit_expires_after_its_bars(void **state)
{
    (void)state;
    tb_market_data bars[120];
    size_t n = staircase(bars, 120, 2);
    const char *sets[] = {"strategy.s.type=sma_cross",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",
                          "strategy.s.slow=3",
                          "strategy.s.quantity=1",
                          "strategy.s.order_type=LIMIT",
                          "strategy.s.limit_offset_bps=500",
                          "strategy.s.expire_after_bars=2",
                          "backtest.initial_cash=1000000"};
    observer o;
    observer_for(&o, "1", 0);
    o.expire_after_bars = 2;
    tb_backtest_result r;
    run_bars(sets, 9, bars, n, &o, &r);
    if (o.failure[0]) fail_msg("%s", o.failure);
    assert_true(o.expired > 3);
    assert_int_equal(r.open_orders, 0);
    tb_backtest_result_free(&r);
}

/* A halt halts: a strategy that flips long/short keeps signaling, but after
 * the halting bar no fill adds exposure; its open position is closed by its
 * own next signal (cut from a flip to a close), and nothing reopens. */
static void test_halt_is_reduce_only(void **state)
{
    (void)state;
    tb_market_data bars[600];
    make_bars(7, bars, 600);
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",         "strategy.s.slow=3",
                          "strategy.s.quantity=50",    "strategy.s.allow_short=true",
                          "risk.max_drawdown_pct=1",   "backtest.initial_cash=10000"};
    observer o;
    observer_for(&o, "50", 1);
    tb_backtest_result r;
    run_bars(sets, 8, bars, 600, &o, &r);
    if (o.failure[0]) fail_msg("%s", o.failure);
    assert_int_equal(o.halts, 1);
    assert_int_equal(o.cut, 1);
    assert_int_equal(o.position, 0);
    assert_int_equal(tb_dec_abs(r.positions[0].current_quantity), 0);
    tb_backtest_result_free(&r);
}

/* close_all flattens at the halt: a MARKET order of origin "halt" on the
 * next bar, even for a strategy that would never exit by itself. */
static void test_halt_close_all_flattens_on_the_next_bar(void **state)
{
    (void)state;
    tb_market_data bars[40];
    /* Choppy for 16 bars, then a steady slide: RSI(14) sinks below 30 and the
     * long-only rsi_reversion buys 50, then holds (it only sells when
     * overbought) while the slide takes equity 1% under its peak. */
    for (int i = 0; i < 40; i++) {
        double at = i < 16 ? 100 + (i % 2 ? 0.5 : -0.5) : 100 - (i - 15) * 0.5;
        double c = at, prev = i == 0 ? 100
                                     : (i - 1 < 16 ? 100 + ((i - 1) % 2 ? 0.5 : -0.5)
                                                   : 100 - (i - 16) * 0.5);
        tb_market_data *b = &bars[i];
        memset(b, 0, sizeof(*b));
        strcpy(b->symbol, "BTCUSDT");
        b->open = to_dec(prev);
        b->close = to_dec(c);
        b->high = to_dec(prev > c ? prev : c);
        b->low = to_dec(prev < c ? prev : c);
        b->volume = dec("1000");
        b->open_time = 1704067200000000000LL + (int64_t)i * 60000000000LL;
        b->close_time = b->open_time + 59999000000LL;
    }
    const char *sets[] = {"strategy.s.type=rsi_reversion", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.quantity=50", "risk.max_drawdown_pct=1",
                          "risk.halt_action=close_all"};
    observer o;
    observer_for(&o, "50", 0);
    tb_backtest_result r;
    run_bars(sets, 5, bars, 40, &o, &r);
    if (o.failure[0]) fail_msg("%s", o.failure);
    assert_int_equal(o.halts, 1);
    assert_int_equal(o.fills, 2); /* the entry, and the halt's close */
    assert_int_equal(o.position, 0);
    assert_int_equal(r.positions[0].current_quantity, 0);
    tb_backtest_result_free(&r);
}

static tb_market_data ohlc(int i, const char *o, const char *h, const char *l, const char *c)
{
    tb_market_data b;
    memset(&b, 0, sizeof(b));
    strcpy(b.symbol, "BTCUSDT");
    b.open = dec(o);
    b.high = dec(h);
    b.low = dec(l);
    b.close = dec(c);
    b.volume = dec("1000");
    b.open_time = 1704067200000000000LL + (int64_t)i * 60000000000LL;
    b.close_time = b.open_time + 59999000000LL;
    return b;
}

/* Flat at 100 for four bars, then a close of 101 on bar 4: sma_cross(2,3)
 * buys on bar 4's close, filled at bar 5's open. Bars from 5 on are the
 * test's. */
static void entry_bars(tb_market_data *b)
{
    for (int i = 0; i < 4; i++)
        b[i] = ohlc(i, "100", "100", "100", "100");
    b[4] = ohlc(4, "100", "101", "100", "101");
}

typedef struct {
    tb_order_origin origins[8];
    tb_decimal prices[8];
    int n;
} fill_log;

static int log_fills(const tb_event *ev, void *ctx)
{
    fill_log *l = ctx;
    if (ev->type == TB_EV_ORDER_FILLED && l->n < 8) {
        l->origins[l->n] = ev->u.order_filled.origin;
        l->prices[l->n++] = ev->u.order_filled.filled_price;
    }
    return 0;
}

static void run_logged(const char *const *sets, size_t n, const tb_market_data *bars, size_t nbars,
                       fill_log *l)
{
    tb_config cfg;
    config_from(&cfg, sets, n);
    tb_pipeline *p;
    char err[256];
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    memset(l, 0, sizeof(*l));
    assert_true(tb_bus_subscribe(tb_pipeline_bus(p), TB_EV_ORDER_FILLED, log_fills, l) >= 0);
    for (size_t i = 0; i < nbars; i++)
        assert_int_equal(tb_pipeline_push_bar(p, &bars[i]), 0);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

/* sma_cross(2,3) buys on the close of bar 4 at 101; it fills at bar 5's open,
 * 101. Stop 2% below (98.98), target 2% above (103.02). */
static const char *const bracket_sets[] = {
    "strategy.s.type=sma_cross",
    "strategy.s.symbol=BTCUSDT",
    "strategy.s.fast=2",
    "strategy.s.slow=3",
    "strategy.s.quantity=1",
    "strategy.s.stop_loss_pct=2",
    "strategy.s.take_profit_pct=2",
};

/* A bar that touches both stop and target: the path inside it is unknown,
 * so the worse is assumed — the stop — and the target is canceled (OCO). */
static void test_stop_wins_when_a_bar_touches_stop_and_target(void **state)
{
    (void)state;
    tb_market_data bars[8];
    entry_bars(bars);
    bars[5] = ohlc(5, "101", "101.5", "100.5", "101");
    bars[6] = ohlc(6, "101", "110", "90", "101");
    bars[7] = ohlc(7, "101", "101", "101", "101");
    fill_log l;
    run_logged(bracket_sets, 7, bars, 8, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.origins[0], TB_ORIGIN_SIGNAL);
    assert_int_equal(l.prices[0], dec("101"));
    assert_int_equal(l.origins[1], TB_ORIGIN_STOP_LOSS);
    assert_int_equal(l.prices[1], dec("98.98"));
}

/* A gap through the stop fills at the open, not at the stop; the target on
 * its own bar fills at its limit. */
static void test_stop_gap_fills_at_the_open_and_target_at_its_price(void **state)
{
    (void)state;
    tb_market_data gap[7];
    entry_bars(gap);
    gap[5] = ohlc(5, "101", "101.5", "100.5", "101");
    gap[6] = ohlc(6, "95", "96", "94", "95");
    fill_log l;
    run_logged(bracket_sets, 7, gap, 7, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.origins[1], TB_ORIGIN_STOP_LOSS);
    assert_int_equal(l.prices[1], dec("95"));
    tb_market_data up[7];
    entry_bars(up);
    up[5] = ohlc(5, "101", "101.5", "100.5", "101");
    up[6] = ohlc(6, "101", "104", "101", "103");
    run_logged(bracket_sets, 7, up, 7, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.origins[1], TB_ORIGIN_TAKE_PROFIT);
    assert_int_equal(l.prices[1], dec("103.02"));
}

/* The stop is live from the entry's fill: a bar whose open fills the entry
 * and whose low then falls through the stop exits on that same bar. */
static void test_stop_is_live_on_the_entry_bar(void **state)
{
    (void)state;
    tb_market_data bars[6];
    entry_bars(bars);
    bars[5] = ohlc(5, "101", "101", "98", "99");
    fill_log l;
    run_logged(bracket_sets, 7, bars, 6, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.origins[1], TB_ORIGIN_STOP_LOSS);
}

/* size = 10%: the entry is 10% of equity at the decision's close, rounded
 * down to the step; too small for min_notional: no order, counted. */
static void test_size_is_a_share_of_equity_rounded_down_to_the_step(void **state)
{
    (void)state;
    tb_market_data bars[] = {
        ohlc(0, "100", "100", "100", "100"), ohlc(1, "100", "100", "100", "100"),
        ohlc(2, "100", "100", "100", "100"), ohlc(3, "100", "100", "100", "100"),
        ohlc(4, "100", "103", "100", "103"), ohlc(5, "103", "103", "103", "103"),
    };
    const char *sets[] = {"strategy.s.type=sma_cross",
                          "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",
                          "strategy.s.slow=3",
                          "strategy.s.size=10%",
                          "backtest.initial_cash=10000",
                          "symbol.BTCUSDT.step_size=0.1",
                          "symbol.BTCUSDT.min_notional=50"};
    tb_config cfg;
    config_from(&cfg, sets, 8);
    tb_pipeline *p;
    char err[256];
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tb_pipeline_push_bar(p, &bars[i]), 0);
    tb_backtest_result r;
    assert_int_equal(tb_pipeline_result(p, &r), 0);
    /* 10% of 10000 at 103 = 9.7087…, down to the step: 9.7. */
    assert_int_equal(r.npositions, 1);
    assert_int_equal(r.positions[0].current_quantity, dec("9.7"));
    assert_int_equal(r.size_too_small, 0);
    tb_backtest_result_free(&r);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);

    /* 10% of 400 is 40 < min_notional 50: nothing goes out. */
    const char *small[] = {"strategy.s.type=sma_cross",
                           "strategy.s.symbol=BTCUSDT",
                           "strategy.s.fast=2",
                           "strategy.s.slow=3",
                           "strategy.s.size=10%",
                           "backtest.initial_cash=400",
                           "symbol.BTCUSDT.step_size=0.1",
                           "symbol.BTCUSDT.min_notional=50"};
    config_from(&cfg, small, 8);
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tb_pipeline_push_bar(p, &bars[i]), 0);
    assert_int_equal(tb_pipeline_result(p, &r), 0);
    assert_int_equal(r.orders, 0);
    assert_int_equal(r.size_too_small, 1);
    tb_backtest_result_free(&r);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

/* risk_per_trade = 1% with a 2% stop: losing the stop's distance costs 1% of
 * equity. 10000 × 1% / (103 × 2%) = 48.54… → 48.5. */
static void test_risk_per_trade_sizes_by_the_stop_distance(void **state)
{
    (void)state;
    tb_market_data bars[] = {
        ohlc(0, "100", "100", "100", "100"), ohlc(1, "100", "100", "100", "100"),
        ohlc(2, "100", "100", "100", "100"), ohlc(3, "100", "100", "100", "100"),
        ohlc(4, "100", "103", "100", "103"), ohlc(5, "103", "103", "103", "103"),
    };
    const char *sets[] = {
        "strategy.s.type=sma_cross",   "strategy.s.symbol=BTCUSDT",    "strategy.s.fast=2",
        "strategy.s.slow=3",           "strategy.s.risk_per_trade=1%", "strategy.s.stop_loss_pct=2",
        "backtest.initial_cash=10000", "symbol.BTCUSDT.step_size=0.1"};
    fill_log l;
    run_logged(sets, 8, bars, 6, &l);
    assert_int_equal(l.n, 1);
    tb_config cfg;
    config_from(&cfg, sets, 8);
    tb_pipeline *p;
    char err[256];
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tb_pipeline_push_bar(p, &bars[i]), 0);
    tb_backtest_result r;
    assert_int_equal(tb_pipeline_result(p, &r), 0);
    assert_int_equal(r.positions[0].current_quantity, dec("48.5"));
    tb_backtest_result_free(&r);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

/* ---- invariants over generated data, many configs ------------------------- */

/* A broken promise fails the test naming the generated config. */
static void fail_with_config(const observer *o, int k, const char *const *sets, size_t n)
{
    if (!o->failure[0]) return;
    char all[1600] = "";
    for (size_t i = 0; i < n; i++) {
        strncat(all, sets[i], sizeof(all) - strlen(all) - 2);
        strncat(all, " ", sizeof(all) - strlen(all) - 1);
    }
    fail_msg("config %d (%s): %s", k, all, o->failure);
}

static void test_invariants_hold_over_generated_data_for_many_configs(void **state)
{
    (void)state;
    enum { NBARS = 1500, NCONFIGS = 240 };
    static tb_market_data bars[NBARS];
    static const char *const types[] = {"sma_cross", "rsi_reversion", "bollinger_breakout"};
    int traded = 0, refused = 0, halted = 0, replaced = 0, expired = 0, stopped = 0, targeted = 0;
    int sized = 0;
    for (int k = 0; k < NCONFIGS; k++) {
        make_bars(1000 + (uint64_t)(k / 4), bars, NBARS);
        rng_state = 77 + (uint64_t)k * 31;
        char set[24][96];
        size_t n = 0;
        const char *type = types[rnd() % 3];
        int shorts = (int)(rnd() % 2), limit = (int)(rnd() % 2), keep = (int)(rnd() % 4 == 0);
        long expire = limit && rnd() % 2 ? 1 + (long)(rnd() % 5) : 0;
        const char *qty = rnd() % 2 ? "1" : "0.3";
        /* A quarter size by equity: size = X% or risk_per_trade = Y% (with a stop). */
        static const char *const shares[] = {"1", "2", "5", "50"};
        static const char *const risks[] = {"0.05", "0.2", "1"};
        int sizing = rnd() % 4 == 0 ? 1 + (int)(rnd() % 2) : 0;
        const char *share = shares[rnd() % 4], *risk = risks[rnd() % 3];
        const char *stop = NULL;
        snprintf(set[n++], 96, "strategy.s.type=%s", type);
        snprintf(set[n++], 96, "strategy.s.symbol=BTCUSDT");
        if (sizing == 1)
            snprintf(set[n++], 96, "strategy.s.size=%s%%", share);
        else if (sizing == 2)
            snprintf(set[n++], 96, "strategy.s.risk_per_trade=%s%%", risk);
        else
            snprintf(set[n++], 96, "strategy.s.quantity=%s", qty);
        snprintf(set[n++], 96, "strategy.s.allow_short=%s", shorts ? "true" : "false");
        if (strcmp(type, "sma_cross") == 0) {
            snprintf(set[n++], 96, "strategy.s.fast=%d", 2 + (int)(rnd() % 3));
            snprintf(set[n++], 96, "strategy.s.slow=%d", 6 + (int)(rnd() % 6));
        }
        if (limit) {
            snprintf(set[n++], 96, "strategy.s.order_type=LIMIT");
            snprintf(set[n++], 96, "strategy.s.limit_offset_bps=%d", (int)(rnd() % 80));
        }
        if (keep) snprintf(set[n++], 96, "strategy.s.on_new_signal=keep");
        if (expire) snprintf(set[n++], 96, "strategy.s.expire_after_bars=%ld", expire);
        const char *maxpos = NULL;
        if (rnd() % 2) {
            static const char *const lims[] = {"0.3", "0.5", "1", "0.6"};
            maxpos = lims[rnd() % 4];
            snprintf(set[n++], 96, "risk.max_position=%s", maxpos);
        }
        if (rnd() % 3 == 0) {
            snprintf(set[n++], 96, "risk.max_drawdown_pct=%s", rnd() % 2 ? "0.01" : "0.05");
            if (rnd() % 2) snprintf(set[n++], 96, "risk.halt_action=close_all");
        }
        if (rnd() % 3 == 0) snprintf(set[n++], 96, "exchange.max_volume_participation=0.05");
        if (rnd() % 2 || sizing == 2) {
            static const char *const pcts[] = {"0.2", "0.5", "1", "2"};
            if (rnd() % 3 || sizing == 2)
                snprintf(set[n++], 96, "strategy.s.stop_loss_pct=%s", stop = pcts[rnd() % 4]);
            else
                snprintf(set[n++], 96, "strategy.s.trailing_stop_pct=%s", pcts[rnd() % 4]);
            if (rnd() % 2) snprintf(set[n++], 96, "strategy.s.take_profit_pct=%s", pcts[rnd() % 4]);
        }
        if (rnd() % 4 == 0) snprintf(set[n++], 96, "exchange.slippage_bps=%d", (int)(rnd() % 20));
        const char *cash = rnd() % 4 ? "1000" : "100";
        snprintf(set[n++], 96, "backtest.initial_cash=%s", cash);
        const char *ptrs[24];
        for (size_t i = 0; i < n; i++)
            ptrs[i] = set[i];
        observer o;
        observer_for(&o, qty, shorts);
        o.replace = !keep;
        o.expire_after_bars = expire;
        if (maxpos) o.max_position = dec(maxpos);
        o.cash = dec(cash);
        if (sizing == 1) o.size_pct = dec(share);
        if (sizing == 2) {
            o.risk_pct = dec(risk);
            o.stop_pct = dec(stop);
        }
        for (size_t i = 0; i < n; i++)
            if (strstr(set[i], "participation")) o.capped = 1;
        run_bars(ptrs, n, bars, NBARS, &o, NULL);
        fail_with_config(&o, k, ptrs, n);
        traded += o.fills > 0;
        refused += o.rejected_max_position > 0;
        halted += o.halts > 0;
        replaced += o.replaced > 0;
        expired += o.expired > 0;
        stopped += o.stops > 0;
        targeted += o.targets > 0;
        sized += o.sized > 0 && o.fills > 0;
    }
    /* The generator must exercise every rule, or the test proves nothing. */
    print_message("configs %d: traded %d, refused by max_position %d, halted %d, replaced %d, "
                  "expired %d, stopped out %d, took profit %d, sized by equity %d\n",
                  NCONFIGS, traded, refused, halted, replaced, expired, stopped, targeted, sized);
    assert_true(traded > NCONFIGS * 3 / 4);
    assert_true(refused > 10);
    assert_true(halted > 10);
    assert_true(replaced > 10);
    assert_true(expired > 10);
    assert_true(stopped > 10);
    assert_true(targeted > 10);
    assert_true(sized > 10);
}

/* A strategy that does, at random (seeded), what a script can: targets
 * by MARKET or LIMIT at a price of its own, with or without a stop-loss
 * and take-profit at prices of its own, cancels of one order or of all,
 * and (mode 2) targets as a percent of equity. */
static const char random_script[] =
    "params = {quantity = {default = 1, min = 0}, allow_short = {default = false},\n"
    "          mode = {default = 1, min = 1, max = 2}, pct = {default = 10, min = 0, max = 100},\n"
    "          act = {default = 0.3, min = 0, max = 1}}\n"
    "local p\n"
    "function init(params) p = params end\n"
    "function on_bar(bar, ctx)\n"
    "  local r = math.random()\n"
    "  if r > p.act then return end\n"
    "  local q = p.quantity\n"
    "  local low = p.allow_short and -1 or 0\n"
    "  if p.mode == 2 then\n"
    "    local x = math.random()\n"
    "    if x < 0.4 then target_pct(p.pct) elseif x < 0.7 then target_pct(low * p.pct)\n"
    "    else target_pct(0) end\n"
    "    return\n"
    "  end\n"
    "  if r < 0.03 then cancel() return end\n"
    "  if r < 0.06 then\n"
    "    local os = orders()\n"
    "    if #os > 0 then\n"
    "      local o = os[math.random(#os)]\n"
    "      if o.origin == 'signal' then cancel(o) end\n"
    "    end\n"
    "    return\n"
    "  end\n"
    "  local x, want = math.random(), 0\n"
    "  if x < 0.45 then want = q elseif x > 0.7 then want = low * q end\n"
    "  local opts = {}\n"
    "  if math.random() < 0.5 then\n"
    "    local off = math.random() * 0.01\n"
    "    if want > position() then opts.limit = bar.close * (1 - off)\n"
    "    else opts.limit = bar.close * (1 + off) end\n"
    "  end\n"
    "  if want ~= 0 and math.random() < 0.5 then\n"
    "    local d = 0.002 + math.random() * 0.02\n"
    "    local s = want > 0 and 1 or -1\n"
    "    opts.stop = bar.close * (1 - s * d)\n"
    "    if math.random() < 0.5 then opts.take = bar.close * (1 + s * d * 1.5) end\n"
    "  end\n"
    "  target(want, opts)\n"
    "end\n";

static void test_script_orders_keep_the_invariants_over_generated_data(void **state)
{
    (void)state;
    enum { NBARS = 1200, NCONFIGS = 120 };
    static tb_market_data bars[NBARS];
    char dir[] = "/tmp/tb_rules_XXXXXX", script[64];
    assert_non_null(mkdtemp(dir));
    snprintf(script, sizeof(script), "%s/random.lua", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(random_script, f);
    fclose(f);
    int traded = 0, limits = 0, named = 0, canceled = 0, sized = 0, stopped = 0, halted = 0;
    for (int k = 0; k < NCONFIGS; k++) {
        make_bars(5000 + (uint64_t)(k / 3), bars, NBARS);
        rng_state = 991 + (uint64_t)k * 17;
        char set[20][128];
        size_t n = 0;
        int shorts = (int)(rnd() % 2), mode = rnd() % 4 == 0 ? 2 : 1;
        const char *qty = rnd() % 2 ? "1" : "0.3";
        static const char *const pcts[] = {"5", "20", "50", "90"};
        const char *pct = pcts[rnd() % 4];
        snprintf(set[n++], 128, "strategy.s.type=lua");
        snprintf(set[n++], 128, "strategy.s.script=%s", script);
        snprintf(set[n++], 128, "strategy.s.symbol=BTCUSDT");
        snprintf(set[n++], 128, "strategy.s.seed=%d", k + 1);
        snprintf(set[n++], 128, "strategy.s.quantity=%s", qty);
        snprintf(set[n++], 128, "strategy.s.allow_short=%s", shorts ? "true" : "false");
        snprintf(set[n++], 128, "strategy.s.mode=%d", mode);
        snprintf(set[n++], 128, "strategy.s.pct=%s", pct);
        snprintf(set[n++], 128, "strategy.s.act=%s", rnd() % 2 ? "0.3" : "0.08");
        if (rnd() % 3 == 0) snprintf(set[n++], 128, "strategy.s.order_type=LIMIT");
        if (rnd() % 3 == 0) {
            static const char *const sl[] = {"0.2", "0.5", "1"};
            snprintf(set[n++], 128, "strategy.s.stop_loss_pct=%s", sl[rnd() % 3]);
        }
        const char *maxpos = NULL;
        if (mode == 1 && rnd() % 3 == 0) {
            maxpos = rnd() % 2 ? "0.5" : "0.3";
            snprintf(set[n++], 128, "risk.max_position=%s", maxpos);
        }
        if (rnd() % 4 == 0) snprintf(set[n++], 128, "risk.max_drawdown_pct=0.05");
        if (rnd() % 4 == 0) snprintf(set[n++], 128, "exchange.slippage_bps=%d", (int)(rnd() % 20));
        const char *cash = mode == 2 ? (rnd() % 2 ? "1000" : "250") : "1000";
        snprintf(set[n++], 128, "backtest.initial_cash=%s", cash);
        const char *ptrs[20];
        for (size_t i = 0; i < n; i++)
            ptrs[i] = set[i];
        observer o;
        observer_for(&o, qty, shorts);
        if (maxpos) o.max_position = dec(maxpos);
        o.cash = dec(cash);
        if (mode == 2) o.size_pct = dec(pct);
        run_bars(ptrs, n, bars, NBARS, &o, NULL);
        fail_with_config(&o, k, ptrs, n);
        traded += o.fills > 0;
        limits += o.limits_filled > 0;
        named += o.named_stops > 0;
        canceled += o.canceled_by_request > 0;
        sized += o.sized > 0 && o.fills > 0;
        stopped += o.stops > 0;
        halted += o.halts > 0;
    }
    print_message("script configs %d: traded %d, limits filled %d, named stops placed %d, "
                  "canceled on request %d, sized by percent %d, stopped out %d, halted %d\n",
                  NCONFIGS, traded, limits, named, canceled, sized, stopped, halted);
    assert_true(traded > NCONFIGS * 3 / 4);
    assert_true(limits > 20);
    assert_true(named > 20);
    assert_true(canceled > 20);
    assert_true(sized > 10);
    assert_true(stopped > 20);
    remove(script);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flip_inside_max_position_is_never_refused),
        cmocka_unit_test(test_new_signal_replaces_the_working_order),
        cmocka_unit_test(test_limit_expires_after_its_bars),
        cmocka_unit_test(test_halt_is_reduce_only),
        cmocka_unit_test(test_halt_close_all_flattens_on_the_next_bar),
        cmocka_unit_test(test_stop_wins_when_a_bar_touches_stop_and_target),
        cmocka_unit_test(test_stop_gap_fills_at_the_open_and_target_at_its_price),
        cmocka_unit_test(test_stop_is_live_on_the_entry_bar),
        cmocka_unit_test(test_size_is_a_share_of_equity_rounded_down_to_the_step),
        cmocka_unit_test(test_risk_per_trade_sizes_by_the_stop_distance),
        cmocka_unit_test(test_invariants_hold_over_generated_data_for_many_configs),
        cmocka_unit_test(test_script_orders_keep_the_invariants_over_generated_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
