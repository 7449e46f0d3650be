/* The Signal Generator: a scripted strategy written here and the built-in
 * sma_cross, on a real bus. Checks what a signal carries (price, time, cause),
 * which bars a strategy sees, HOLD publication, LIMIT prices and the target
 * position the strategy is shown. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/exchange.h"
#include "tradebus/sim_exchange.h"
#include "tradebus/orders.h"
#include "tradebus/signal.h"

#define SYM      "BTCUSDT"
#define OTHER    "ETHUSDT"
#define MAX_SEEN 32

/* ---- the scripted strategy: BUY on bar buy_on, SELL on bar sell_on ------- */

typedef struct {
    long buy_on, sell_on;
    tb_decimal qty;
    int bars;
    tb_decimal seen_position[MAX_SEEN]; /* ctx->position on each bar, from bar 1 */
    char seen_symbol[MAX_SEEN][TB_SYMBOL_LEN];
    char seen_id[TB_STRATEGY_LEN];
} script;

/* The state created last, so a test can look at what the strategy saw. */
static script *last_script;

static int script_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                         char *err, size_t errlen)
{
    (void)self;
    static const char *const known[] = {"buy_on", "sell_on", "qty", NULL};
    long buy_on, sell_on;
    tb_decimal qty;
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "buy_on", 3, 0, 1000, &buy_on, err, errlen);
    if (!rc) rc = tb_param_int(p, n, "sell_on", 5, 0, 1000, &sell_on, err, errlen);
    if (!rc) rc = tb_param_decimal(p, n, "qty", TB_DECIMAL_ONE, &qty, err, errlen);
    if (rc) return rc;
    script *s = calloc(1, sizeof(*s));
    if (!s) return TB_ENOMEM;
    s->buy_on = buy_on;
    s->sell_on = sell_on;
    s->qty = qty;
    *state = last_script = s;
    return 0;
}

static int script_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                         tb_strategy_decision *out)
{
    script *s = state;
    if (s->bars < MAX_SEEN) {
        s->seen_position[s->bars] = ctx->position;
        memcpy(s->seen_symbol[s->bars], bar->symbol, TB_SYMBOL_LEN);
    }
    strcpy(s->seen_id, ctx->strategy_id);
    s->bars++;
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
    if (s->bars == s->buy_on) {
        out->signal = TB_SIGNAL_BUY;
        out->volume = s->qty;
    } else if (s->bars == s->sell_on) {
        out->signal = TB_SIGNAL_SELL;
        out->volume = s->qty;
    }
    return 0;
}

static void script_destroy(void *state)
{
    if (state == last_script) last_script = NULL;
    free(state);
}

static const tb_strategy_vtable script_vt = {
    "script", "script: buy_on=3 sell_on=5 qty=1", script_create, script_on_bar, script_destroy,
    NULL,
};

/* A multi-symbol, multi-timeframe recorder: notes what each call saw, and
 * on its order_on-th call buys qty 1 of order_sym (or the bar's: ""). */
typedef struct {
    int calls, order_on;
    char order_sym[TB_SYMBOL_LEN];
    char sym[MAX_SEEN][TB_SYMBOL_LEN];
    int64_t tf[MAX_SEEN];
    tb_decimal close[MAX_SEEN], pos[MAX_SEEN], other_pos[MAX_SEEN];
} multi;

static multi multi_seen;

static int multi_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                        char *err, size_t errlen)
{
    (void)self, (void)p, (void)n, (void)err, (void)errlen;
    *state = &multi_seen;
    return 0;
}

static int multi_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                        tb_strategy_decision *out)
{
    multi *m = state;
    int i = m->calls++;
    if (i < MAX_SEEN) {
        memcpy(m->sym[i], bar->symbol, TB_SYMBOL_LEN);
        m->tf[i] = ctx->timeframe;
        m->close[i] = bar->close;
        m->pos[i] = ctx->position;
        m->other_pos[i] = ctx->position_of(ctx, OTHER);
    }
    if (m->calls == m->order_on) {
        out->signal = TB_SIGNAL_BUY;
        out->volume = TB_DECIMAL_ONE;
        memcpy(out->symbol, m->order_sym, TB_SYMBOL_LEN);
    }
    return 0;
}

static void multi_destroy(void *state)
{
    (void)state;
}

static const tb_strategy_vtable multi_vt = {
    "multi", "multi: records", multi_create, multi_on_bar, multi_destroy, NULL,
};

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
    tb_bus *bus;
    tb_signal_generator *sg;
    tbt_recorder rec;
    tb_event bars[MAX_SEEN]; /* MarketData published, with their ids */
    size_t nbars;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_int_equal(tb_signal_generator_create(f->bus, &f->sg), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_EV_SIGNAL_GENERATED, tbt_record, &f->rec) >= 0);
    last_script = NULL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_signal_generator_destroy(f->sg);
    tb_bus_destroy(f->bus);
    free(f);
    return 0;
}

static tb_strategy_instance instance(const char *id, const char *symbol)
{
    tb_strategy_instance in;
    memset(&in, 0, sizeof(in));
    in.strategy_id = id;
    in.symbol = symbol;
    in.order_type = TB_ORDER_MARKET;
    return in;
}

static void add(fixture *f, const tb_strategy_vtable *vt, const tb_strategy_instance *in,
                const tb_param *params, size_t n)
{
    char err[200] = "";
    int rc = tb_signal_generator_add(f->sg, vt, in, params, n, err, sizeof(err));
    if (rc) fail_msg("tb_signal_generator_add: %s (%s)", tb_strerror(rc), err);
}

static void add_script(fixture *f, const char *id, const char *qty)
{
    tb_strategy_instance in = instance(id, SYM);
    tb_param p[] = {{"qty", qty}};
    add(f, &script_vt, &in, p, 1);
}

/* Publishes bar number nbars+1 (minute nbars) of symbol closing at `close`;
 * it opens and bottoms at half the close, so open and close never agree. */
static const tb_event *publish_close(fixture *f, const char *symbol, const char *close)
{
    assert_true(f->nbars < MAX_SEEN);
    tb_market_data b = tbt_bar(symbol, (int64_t)f->nbars, close, close, close, close, "10");
    b.open = b.low = b.close / 2;
    tb_event *ev = &f->bars[f->nbars++];
    *ev = tbt_bar_event(&b);
    assert_int_equal(tb_bus_publish(f->bus, ev), 0);
    return ev;
}

static void publish_closes(fixture *f, const char *const *closes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        publish_close(f, SYM, closes[i]);
}

static tb_event not_executed(tb_event_type type, const char *strategy, tb_side side,
                             const char *qty)
{
    tb_event ev;
    tb_event_init(&ev, type, TB_SRC_ORDERS);
    if (type == TB_EV_ORDER_REJECTED) {
        tb_order_rejected *r = &ev.u.order_rejected;
        strcpy(r->client_order_id, "x-1");
        strcpy(r->strategy_id, strategy);
        strcpy(r->symbol, SYM);
        r->side = side;
        r->order_type = TB_ORDER_MARKET;
        r->quantity = tbt_dec(qty);
        r->reason = TB_REJECT_INSUFFICIENT_FUNDS;
    } else {
        tb_order_canceled *c = &ev.u.order_canceled;
        strcpy(c->client_order_id, "x-1");
        strcpy(c->strategy_id, strategy);
        strcpy(c->symbol, SYM);
        c->side = side;
        c->canceled_quantity = tbt_dec(qty);
        c->status = TB_ORDER_CANCELED;
    }
    return ev;
}

/* ---- warm-up ------------------------------------------------------------ */

/* Bars opening before trade_from (a live run's history) move the strategy
 * but publish nothing, and its target stays flat: the BUY it would have
 * made on the third bar is not made, and it decides afresh afterwards. */
static void test_warmup_bars_publish_no_signal(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    tb_signal_generator_set_trade_from(f->sg, 5 * TBT_MINUTE);
    static const char *const closes[] = {"100", "101", "102", "103", "104", "105"};
    publish_closes(f, closes, 6);
    assert_int_equal(f->rec.n, 0);
    assert_int_equal(tb_signal_generator_signals(f->sg), 0);
    /* The BUY of bar 3 (minute 2) was dropped, the SELL of bar 5 (minute
     * 4) would have sold what is not held: neither reached the bus. */
    assert_int_equal(tb_signal_generator_muted(f->sg), 2);
}

/* ---- what a signal carries ---------------------------------------------- */

static void test_scripted_strategy_buys_on_third_bar_and_sells_on_fifth(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    static const char *const closes[] = {"100", "101", "102", "103", "104", "105"};
    publish_closes(f, closes, 6);

    assert_int_equal(f->rec.n, 2);
    assert_int_equal(f->rec.events[0].u.signal.signal_type, TB_SIGNAL_BUY);
    assert_int_equal(f->rec.events[1].u.signal.signal_type, TB_SIGNAL_SELL);
    assert_int_equal(tb_signal_generator_signals(f->sg), 2);
}

static void test_signal_price_is_bar_close_and_timestamp_is_close_time(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    static const char *const closes[] = {"100", "101", "102.37"};
    publish_closes(f, closes, 3);

    assert_int_equal(f->rec.n, 1);
    const tb_event *ev = &f->rec.events[0];
    assert_int_equal(ev->type, TB_EV_SIGNAL_GENERATED);
    assert_int_equal(ev->source, TB_SRC_SIGNAL);
    assert_int_equal(ev->timestamp, f->bars[2].u.market_data.close_time);
    assert_int_equal(ev->timestamp, 3 * TBT_MINUTE - 1);
    const tb_signal_generated *s = &ev->u.signal;
    assert_int_equal(s->signal_type, TB_SIGNAL_BUY);
    assert_string_equal(s->symbol, SYM);
    assert_dec_equal(s->price, "102.37");
    assert_dec_equal(s->volume, "2");
    assert_string_equal(s->strategy_id, "s1");
    assert_int_equal(s->order_type, TB_ORDER_MARKET);
    assert_dec_equal(s->limit_price, "0");
}

static void test_signal_is_caused_by_the_market_data_event(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "1");
    static const char *const closes[] = {"100", "101", "102"};
    publish_closes(f, closes, 3);

    const tb_event *ev = tbt_nth(&f->rec, TB_EV_SIGNAL_GENERATED, 0);
    assert_non_null(ev);
    assert_int_not_equal(f->bars[2].event_id, 0);
    assert_int_equal(ev->causation_id, f->bars[2].event_id);
    assert_int_equal(ev->correlation_id, f->bars[2].event_id);
    assert_int_not_equal(ev->event_id, f->bars[2].event_id);
}

static void test_strategy_sees_only_bars_of_its_symbol(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "1");
    script *s = last_script;
    assert_non_null(s);
    publish_close(f, SYM, "100");
    publish_close(f, OTHER, "10");
    publish_close(f, SYM, "101");
    publish_close(f, OTHER, "11"); /* an ETH bar would be the 3rd bar seen */
    assert_int_equal(f->rec.n, 0);
    publish_close(f, SYM, "102");

    assert_int_equal(s->bars, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(s->seen_symbol[i], SYM);
    assert_int_equal(f->rec.n, 1);
    assert_dec_equal(f->rec.events[0].u.signal.price, "102");
    assert_int_equal(f->rec.events[0].causation_id, f->bars[4].event_id);
}

/* symbols = BTCUSDT ETHUSDT: both symbols' bars in order, and an order
 * for the other symbol, at its last close, moving only its target. */
static void test_multi_symbol_instance_sees_both_and_orders_the_other(void **state)
{
    fixture *f = *state;
    memset(&multi_seen, 0, sizeof(multi_seen));
    multi_seen.order_on = 3;
    strcpy(multi_seen.order_sym, OTHER);
    tb_strategy_instance in = instance("pair", SYM);
    add(f, &multi_vt, &in, NULL, 0);
    char err[200] = "";
    assert_int_equal(tb_signal_generator_add_symbol(f->sg, "pair", OTHER, 0, 0, 0, err, sizeof err),
                     0);
    assert_int_equal(tb_signal_generator_add_symbol(f->sg, "pair", OTHER, 0, 0, 0, err, sizeof err),
                     TB_EINVAL);
    publish_close(f, SYM, "100");
    publish_close(f, OTHER, "10");
    publish_close(f, SYM, "101"); /* decides: buy 1 ETHUSDT */
    publish_close(f, OTHER, "11");
    assert_int_equal(multi_seen.calls, 4);
    assert_string_equal(multi_seen.sym[1], OTHER);
    assert_int_equal(f->rec.n, 1);
    const tb_signal_generated *sig = &f->rec.events[0].u.signal;
    assert_string_equal(sig->symbol, OTHER);
    assert_dec_equal(sig->price, "10");
    assert_dec_equal(sig->target, "1");
    assert_dec_equal(multi_seen.pos[3], "1");       /* the ETH bar: its own target */
    assert_dec_equal(multi_seen.other_pos[3], "1"); /* position_of(ETHUSDT) */
    assert_dec_equal(multi_seen.pos[2], "0");
}

/* A strategy's ctx calls take symbols as C strings of any length: each is
 * heap-allocated to its exact size here, so that reading past one (the
 * comparisons read symbols a word at a time) fails under ASan. */
typedef struct {
    int calls;
    tb_decimal pos_other, pos_long;
    size_t open_other, open_long;
    int pct_other, pct_long;
    tb_decimal qty_other;
} cstr_seen;

static cstr_seen cstr;

static int cstr_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                       tb_strategy_decision *out)
{
    (void)state;
    (void)bar;
    (void)out;
    char *other = strdup(OTHER), *eth = strdup("ETH"),
         *too_long = strdup("ETHUSDTETHUSDTETHUSDT"); /* 21: longer than any symbol */
    assert_non_null(other);
    assert_non_null(eth);
    assert_non_null(too_long);
    cstr.calls++;
    cstr.pos_other = ctx->position_of(ctx, other);
    cstr.pos_long = ctx->position_of(ctx, too_long) + ctx->position_of(ctx, eth);
    cstr.open_other = ctx->open_orders(ctx, other, NULL, 0);
    cstr.open_long = ctx->open_orders(ctx, too_long, NULL, 0) + ctx->open_orders(ctx, eth, NULL, 0);
    cstr.pct_other = ctx->quantity_for_pct(ctx, other, 10 * TB_DECIMAL_ONE, &cstr.qty_other);
    tb_decimal q;
    cstr.pct_long = ctx->quantity_for_pct(ctx, too_long, 10 * TB_DECIMAL_ONE, &q);
    free(other);
    free(eth);
    free(too_long);
    return 0;
}

static const tb_strategy_vtable cstr_vt = {
    "cstr", "cstr: symbols as C strings", multi_create, cstr_on_bar, multi_destroy, NULL,
};

static void test_strategy_ctx_takes_symbols_as_c_strings_of_any_length(void **state)
{
    fixture *f = *state;
    memset(&cstr, 0, sizeof(cstr));
    tb_strategy_instance in = instance("pair", SYM);
    add(f, &cstr_vt, &in, NULL, 0);
    char err[200] = "";
    char *other = strdup(OTHER); /* add_symbol takes a C string too */
    assert_non_null(other);
    assert_int_equal(tb_signal_generator_add_symbol(f->sg, "pair", other, 0, 0, 0, err, sizeof err),
                     0);
    free(other);
    publish_close(f, OTHER, "10");
    publish_close(f, SYM, "100");
    assert_int_equal(cstr.calls, 2);
    assert_dec_equal(cstr.pos_other, "0");
    assert_int_equal(cstr.open_other, 0);
    assert_int_equal(cstr.pct_other, 0); /* ETHUSDT is one of its symbols, with a bar */
    assert_dec_equal(cstr.pos_long, "0");
    assert_int_equal(cstr.open_long, 0);
    assert_int_equal(cstr.pct_long, TB_EINVAL); /* not one of its symbols */
}

/* timeframes = 1m 5m: each 5m bar right after the 1m bar that ends it. */
static void test_timeframes_deliver_base_bar_then_higher_bar_at_its_close(void **state)
{
    fixture *f = *state;
    memset(&multi_seen, 0, sizeof(multi_seen));
    multi_seen.order_on = 6; /* the first 5m bar */
    tb_strategy_instance in = instance("mtf", SYM);
    add(f, &multi_vt, &in, NULL, 0);
    int64_t tf[] = {60000000000LL, 300000000000LL};
    char err[200] = "";
    assert_int_equal(tb_signal_generator_set_timeframes(f->sg, "mtf", tf, 2, err, sizeof err), 0);
    static const char *const closes[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"};
    for (size_t i = 0; i < 11; i++) {
        /* Binance's close time (the period's end less 1 ms), as the data has. */
        tb_market_data b =
            tbt_bar(SYM, (int64_t)i, closes[i], closes[i], closes[i], closes[i], "1");
        b.close_time = b.open_time + TBT_MINUTE - 1000000;
        f->bars[f->nbars] = tbt_bar_event(&b);
        assert_int_equal(tb_bus_publish(f->bus, &f->bars[f->nbars++]), 0);
    }
    assert_int_equal(multi_seen.calls, 13);
    for (int i = 0; i < 13; i++) {
        int higher = i == 5 || i == 11;
        assert_int_equal(multi_seen.tf[i], tf[higher]);
    }
    assert_dec_equal(multi_seen.close[5], "5"); /* the 5m bar's close: its last 1m's */
    assert_dec_equal(multi_seen.close[11], "10");
    assert_int_equal(f->rec.n, 1); /* a decision on the 5m bar, at its close */
    assert_dec_equal(f->rec.events[0].u.signal.price, "5");
    assert_int_equal(f->rec.events[0].causation_id, f->bars[4].event_id);
}

static void test_strategy_is_told_its_strategy_id(void **state)
{
    fixture *f = *state;
    add_script(f, "momentum-7", "1");
    publish_close(f, SYM, "100");
    assert_non_null(last_script);
    assert_string_equal(last_script->seen_id, "momentum-7");
}

static void test_hold_is_not_published_without_emit_hold(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "1");
    static const char *const closes[] = {"100", "101"};
    publish_closes(f, closes, 2);

    assert_int_equal(f->rec.n, 0);
    assert_int_equal(tb_signal_generator_signals(f->sg), 0);
}

static void test_hold_is_published_with_emit_hold(void **state)
{
    fixture *f = *state;
    tb_strategy_instance in = instance("s1", SYM);
    in.emit_hold = 1;
    add(f, &script_vt, &in, NULL, 0);
    static const char *const closes[] = {"100", "101", "102"};
    publish_closes(f, closes, 3);

    assert_int_equal(f->rec.n, 3);
    for (size_t i = 0; i < 2; i++) {
        const tb_event *ev = &f->rec.events[i];
        assert_int_equal(ev->u.signal.signal_type, TB_SIGNAL_HOLD);
        assert_dec_equal(ev->u.signal.volume, "0");
        assert_int_equal(ev->causation_id, f->bars[i].event_id);
    }
    assert_dec_equal(f->rec.events[0].u.signal.price, "100");
    assert_int_equal(f->rec.events[2].u.signal.signal_type, TB_SIGNAL_BUY);
    /* HOLDs are published but not counted as signals. */
    assert_int_equal(tb_signal_generator_signals(f->sg), 1);
}

/* ---- LIMIT prices ------------------------------------------------------- */

static void add_limit_script(fixture *f, const char *offset_bps, const char *tick)
{
    tb_strategy_instance in = instance("s1", SYM);
    in.order_type = TB_ORDER_LIMIT;
    in.limit_offset_bps = tbt_dec(offset_bps);
    in.tick_size = tick ? tbt_dec(tick) : 0;
    tb_param p[] = {{"buy_on", "1"}, {"sell_on", "2"}};
    add(f, &script_vt, &in, p, 2);
}

static void test_limit_buy_price_is_close_minus_offset_rounded_down_to_tick(void **state)
{
    fixture *f = *state;
    add_limit_script(f, "25", "0.05");
    publish_close(f, SYM, "100.07");

    /* 100.07 × (1 − 0.0025) = 99.819825 → down to the 0.05 tick: 99.80. */
    const tb_signal_generated *s = &tbt_nth(&f->rec, TB_EV_SIGNAL_GENERATED, 0)->u.signal;
    assert_int_equal(s->signal_type, TB_SIGNAL_BUY);
    assert_int_equal(s->order_type, TB_ORDER_LIMIT);
    assert_dec_equal(s->limit_price, "99.8");
    assert_dec_equal(s->price, "100.07");
}

static void test_limit_sell_price_is_close_plus_offset_rounded_up_to_tick(void **state)
{
    fixture *f = *state;
    add_limit_script(f, "25", "0.05");
    publish_close(f, SYM, "100.07");
    publish_close(f, SYM, "100.07");

    /* 100.07 × (1 + 0.0025) = 100.320175 → up to the 0.05 tick: 100.35. */
    const tb_signal_generated *s = &tbt_nth(&f->rec, TB_EV_SIGNAL_GENERATED, 1)->u.signal;
    assert_int_equal(s->signal_type, TB_SIGNAL_SELL);
    assert_dec_equal(s->limit_price, "100.35");
}

static void test_limit_price_without_tick_is_exact_to_8_decimals(void **state)
{
    fixture *f = *state;
    add_limit_script(f, "25", NULL);
    publish_close(f, SYM, "100.07");

    assert_dec_equal(tbt_nth(&f->rec, TB_EV_SIGNAL_GENERATED, 0)->u.signal.limit_price,
                     "99.819825");
}

/* ---- target position ---------------------------------------------------- */

static void test_target_position_follows_emitted_signals(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3", "4", "5", "6"};
    publish_closes(f, closes, 6);

    assert_dec_equal(s->seen_position[0], "0");
    assert_dec_equal(s->seen_position[2], "0"); /* bar 3 decides the BUY */
    assert_dec_equal(s->seen_position[3], "2");
    assert_dec_equal(s->seen_position[4], "2"); /* bar 5 decides the SELL */
    assert_dec_equal(s->seen_position[5], "0");
}

static void test_order_rejected_restores_target_position(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3);
    tb_event rej = not_executed(TB_EV_ORDER_REJECTED, "s1", TB_SIDE_BUY, "2");
    assert_int_equal(tb_bus_publish(f->bus, &rej), 0);
    publish_close(f, SYM, "4");

    assert_dec_equal(s->seen_position[3], "0");
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 0);
}

static void test_rejected_sell_restores_target_position(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3", "4", "5"};
    publish_closes(f, closes, 5); /* BUY 2 then SELL 2 */
    tb_event rej = not_executed(TB_EV_ORDER_REJECTED, "s1", TB_SIDE_SELL, "2");
    assert_int_equal(tb_bus_publish(f->bus, &rej), 0);
    publish_close(f, SYM, "6");

    assert_dec_equal(s->seen_position[5], "2");
}

static void test_order_canceled_restores_only_the_canceled_remainder(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3);
    tb_event can = not_executed(TB_EV_ORDER_CANCELED, "s1", TB_SIDE_BUY, "0.5");
    assert_int_equal(tb_bus_publish(f->bus, &can), 0);
    publish_close(f, SYM, "4");

    assert_dec_equal(s->seen_position[3], "1.5");
}

/* A cancel that made room for the strategy's own next order (replace) was
 * already counted by that order: the target does not move back. Orders the
 * strategy never asked for (a bracket, a halt's close) are not part of it. */
static void test_replaced_and_foreign_order_ends_leave_the_target(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3);
    tb_event can = not_executed(TB_EV_ORDER_CANCELED, "s1", TB_SIDE_BUY, "0.5");
    can.u.order_canceled.cause = TB_CANCEL_REPLACED;
    assert_int_equal(tb_bus_publish(f->bus, &can), 0);
    tb_event stop = not_executed(TB_EV_ORDER_CANCELED, "s1", TB_SIDE_SELL, "2");
    stop.u.order_canceled.origin = TB_ORIGIN_STOP_LOSS;
    assert_int_equal(tb_bus_publish(f->bus, &stop), 0);
    tb_event rej = not_executed(TB_EV_ORDER_REJECTED, "s1", TB_SIDE_SELL, "2");
    rej.u.order_rejected.origin = TB_ORIGIN_HALT;
    assert_int_equal(tb_bus_publish(f->bus, &rej), 0);
    publish_close(f, SYM, "4");
    assert_dec_equal(s->seen_position[3], "2");
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 0);
}

static tb_event foreign_fill(const char *qty, tb_side side, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    ev.timestamp = t;
    tb_order_filled *x = &ev.u.order_filled;
    strcpy(x->client_order_id, "s1-9");
    strcpy(x->strategy_id, "s1");
    strcpy(x->symbol, SYM);
    x->side = side;
    x->filled_quantity = x->cumulative_quantity = tbt_dec(qty);
    x->filled_price = x->average_price = tbt_dec("3");
    x->status = TB_ORDER_FILLED;
    x->origin = TB_ORIGIN_HALT;
    return ev;
}

/* A halt's close (or a stop) moves what the strategy holds without a signal:
 * its target follows, unless the strategy has signaled since that fill — the
 * Order Manager then already ordered from the truth. The signal carries the
 * target it asks for. */
static void test_fills_of_orders_placed_for_the_strategy_move_its_target(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3); /* BUY 2 on bar 3 */
    assert_dec_equal(f->rec.events[f->rec.n - 1].u.signal.target, "2");
    int64_t bar3_close = f->bars[2].u.market_data.close_time;
    /* Filled after the BUY was decided: the strategy is flat again. */
    tb_event fill = foreign_fill("2", TB_SIDE_SELL, bar3_close + 1);
    assert_int_equal(tb_bus_publish(f->bus, &fill), 0);
    publish_close(f, SYM, "4");
    assert_dec_equal(s->seen_position[3], "0");
    /* One that happened before the strategy's last signal changes nothing. */
    fill = foreign_fill("1", TB_SIDE_SELL, bar3_close - 1);
    assert_int_equal(tb_bus_publish(f->bus, &fill), 0);
    publish_close(f, SYM, "5");
    assert_dec_equal(s->seen_position[4], "0");
}

/* The bus takes a signal only on the second try: the bar is retried, and
 * the strategy must not run twice on it nor its signal be lost. */
typedef struct {
    int refuse, taken;
    tb_event last;
} flaky_outbox;

static int flaky(const tb_event *ev, const char *publisher, void *ctx)
{
    (void)publisher;
    flaky_outbox *o = ctx;
    if (ev->type != TB_EV_SIGNAL_GENERATED) return 0;
    if (o->refuse > 0) {
        o->refuse--;
        return TB_EIO;
    }
    o->taken++;
    o->last = *ev;
    return 0;
}

static void test_signal_lost_by_the_bus_is_published_again_on_retry(void **state)
{
    (void)state;
    flaky_outbox o = {1, 0, {0}};
    tb_bus_config bc;
    tb_bus_config_init(&bc);
    bc.outbox = flaky;
    bc.outbox_ctx = &o;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(&bc, &bus), 0);
    tb_signal_generator *sg;
    assert_int_equal(tb_signal_generator_create(bus, &sg), 0);
    tb_strategy_instance in = instance("s1", SYM);
    tb_param p[] = {{"qty", "2"}, {"buy_on", "1"}};
    char err[200];
    assert_int_equal(tb_signal_generator_add(sg, &script_vt, &in, p, 2, err, sizeof(err)), 0);
    script *s = last_script;
    tb_market_data b = tbt_bar(SYM, 0, "10", "10", "10", "10", "10");
    tb_event ev = tbt_bar_event(&b);
    assert_int_equal(tb_bus_publish(bus, &ev), 0);
    assert_int_equal(o.taken, 1);
    assert_int_equal(o.last.u.signal.signal_type, TB_SIGNAL_BUY);
    assert_int_equal(s->bars, 1); /* the strategy saw the bar once */
    assert_int_equal(tb_signal_generator_signals(sg), 1);
    assert_int_equal(tb_bus_dead_letter_count(bus), 0);
    tb_signal_generator_destroy(sg);
    tb_bus_destroy(bus);
}

static void test_rejection_for_another_strategy_leaves_position(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3);
    tb_event rej = not_executed(TB_EV_ORDER_REJECTED, "s2", TB_SIDE_BUY, "2");
    assert_int_equal(tb_bus_publish(f->bus, &rej), 0);
    publish_close(f, SYM, "4");

    assert_dec_equal(s->seen_position[3], "2");
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 0);
}

static int refuse_everything(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                             char *detail, size_t detaillen)
{
    (void)ctx;
    (void)request;
    snprintf(rule, rulelen, "halted");
    snprintf(detail, detaillen, "trading halted");
    return TB_EREJECTED;
}

static void test_real_order_rejection_restores_target_position(void **state)
{
    fixture *f = *state;
    tb_exchange *ex = NULL;
    tb_order_manager *om = NULL;
    assert_int_equal(tb_sim_exchange_create(NULL, &ex, NULL, 0), 0);
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = ex;
    oc.pretrade = refuse_everything;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &om), 0);
    add_script(f, "s1", "2");
    script *s = last_script;
    static const char *const closes[] = {"1", "2", "3", "4"};
    publish_closes(f, closes, 4);
    tb_order_manager_stats st = tb_order_manager_get_stats(om);
    tb_order_manager_destroy(om);
    tb_exchange_destroy(ex);

    assert_int_equal(st.rejected, 1);
    assert_dec_equal(s->seen_position[3], "0");
}

/* ---- instances and params ----------------------------------------------- */

static void test_duplicate_strategy_id_is_refused(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "1");
    tb_strategy_instance in = instance("s1", OTHER);
    char err[200] = "";
    assert_int_equal(tb_signal_generator_add(f->sg, &script_vt, &in, NULL, 0, err, sizeof(err)),
                     TB_EINVAL);
    assert_non_null(strstr(err, "'s1'"));

    /* Only the first instance runs. */
    publish_close(f, OTHER, "1");
    publish_close(f, OTHER, "2");
    publish_close(f, OTHER, "3");
    assert_int_equal(f->rec.n, 0);
}

static void test_unknown_strategy_param_error_names_the_key(void **state)
{
    fixture *f = *state;
    tb_strategy_instance in = instance("fast", SYM);
    tb_param p[] = {{"fast", "5"}, {"slwo", "20"}};
    char err[200] = "";
    assert_int_equal(tb_signal_generator_add(f->sg, tb_strategy_builtin("sma_cross"), &in, p, 2,
                                             err, sizeof(err)),
                     TB_ECONFIG);
    assert_non_null(strstr(err, "slwo"));
    /* Nothing was added: the id is still free. */
    add_script(f, "fast", "1");
}

static void test_bad_strategy_param_value_names_the_key(void **state)
{
    fixture *f = *state;
    tb_strategy_instance in = instance("fast", SYM);
    tb_param p[] = {{"fast", "five"}};
    char err[200] = "";
    assert_int_equal(tb_signal_generator_add(f->sg, tb_strategy_builtin("sma_cross"), &in, p, 1,
                                             err, sizeof(err)),
                     TB_ECONFIG);
    assert_non_null(strstr(err, "fast"));
}

static void test_two_instances_of_one_symbol_both_run_in_order(void **state)
{
    fixture *f = *state;
    add_script(f, "s1", "1");
    add_script(f, "s2", "3");
    static const char *const closes[] = {"1", "2", "3"};
    publish_closes(f, closes, 3);

    assert_int_equal(f->rec.n, 2);
    assert_string_equal(f->rec.events[0].u.signal.strategy_id, "s1");
    assert_dec_equal(f->rec.events[0].u.signal.volume, "1");
    assert_string_equal(f->rec.events[1].u.signal.strategy_id, "s2");
    assert_dec_equal(f->rec.events[1].u.signal.volume, "3");
}

/* ---- the built-in sma_cross --------------------------------------------- */

static void add_sma_cross(fixture *f)
{
    tb_strategy_instance in = instance("cross", SYM);
    tb_param p[] = {{"fast", "2"}, {"slow", "3"}, {"quantity", "0.5"}};
    add(f, tb_strategy_builtin("sma_cross"), &in, p, 3);
}

static void test_sma_cross_buys_when_fast_crosses_above_slow(void **state)
{
    fixture *f = *state;
    add_sma_cross(f);
    /* bar 3: SMA2 8.5 < SMA3 9; bar 4: SMA2 10 > SMA3 9.67 — a cross up. */
    static const char *const closes[] = {"10", "9", "8"};
    publish_closes(f, closes, 3);
    assert_int_equal(f->rec.n, 0);
    publish_close(f, SYM, "12");

    assert_int_equal(f->rec.n, 1);
    const tb_event *ev = &f->rec.events[0];
    assert_int_equal(ev->u.signal.signal_type, TB_SIGNAL_BUY);
    assert_dec_equal(ev->u.signal.volume, "0.5");
    assert_dec_equal(ev->u.signal.price, "12");
    assert_string_equal(ev->u.signal.strategy_id, "cross");
    assert_int_equal(ev->timestamp, f->bars[3].u.market_data.close_time);
    assert_int_equal(ev->causation_id, f->bars[3].event_id);
}

static void test_sma_cross_sells_the_long_when_fast_crosses_below_slow(void **state)
{
    fixture *f = *state;
    add_sma_cross(f);
    /* bar 5: SMA2 9 > SMA3 8.67 (no cross); bar 6: SMA2 5 < SMA3 7.33. */
    static const char *const closes[] = {"10", "9", "8", "12", "6", "4"};
    publish_closes(f, closes, 6);

    assert_int_equal(f->rec.n, 2);
    const tb_event *ev = &f->rec.events[1];
    assert_int_equal(ev->u.signal.signal_type, TB_SIGNAL_SELL);
    assert_dec_equal(ev->u.signal.volume, "0.5");
    assert_dec_equal(ev->u.signal.price, "4");
    assert_int_equal(ev->causation_id, f->bars[5].event_id);
}

static void test_sma_cross_ignores_bars_of_other_symbols(void **state)
{
    fixture *f = *state;
    add_sma_cross(f);
    publish_close(f, SYM, "10");
    publish_close(f, SYM, "9");
    publish_close(f, SYM, "8");
    publish_close(f, OTHER, "1000"); /* would be a cross up if it were seen */
    assert_int_equal(f->rec.n, 0);
    publish_close(f, SYM, "12");
    assert_int_equal(f->rec.n, 1);
    assert_dec_equal(f->rec.events[0].u.signal.price, "12");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_scripted_strategy_buys_on_third_bar_and_sells_on_fifth),
        T(test_warmup_bars_publish_no_signal),
        T(test_signal_price_is_bar_close_and_timestamp_is_close_time),
        T(test_signal_is_caused_by_the_market_data_event),
        T(test_strategy_sees_only_bars_of_its_symbol),
        T(test_multi_symbol_instance_sees_both_and_orders_the_other),
        T(test_strategy_ctx_takes_symbols_as_c_strings_of_any_length),
        T(test_timeframes_deliver_base_bar_then_higher_bar_at_its_close),
        T(test_strategy_is_told_its_strategy_id),
        T(test_hold_is_not_published_without_emit_hold),
        T(test_hold_is_published_with_emit_hold),
        T(test_limit_buy_price_is_close_minus_offset_rounded_down_to_tick),
        T(test_limit_sell_price_is_close_plus_offset_rounded_up_to_tick),
        T(test_limit_price_without_tick_is_exact_to_8_decimals),
        T(test_target_position_follows_emitted_signals),
        T(test_order_rejected_restores_target_position),
        T(test_rejected_sell_restores_target_position),
        T(test_order_canceled_restores_only_the_canceled_remainder),
        T(test_replaced_and_foreign_order_ends_leave_the_target),
        T(test_fills_of_orders_placed_for_the_strategy_move_its_target),
        cmocka_unit_test(test_signal_lost_by_the_bus_is_published_again_on_retry),
        T(test_rejection_for_another_strategy_leaves_position),
        T(test_real_order_rejection_restores_target_position),
        T(test_duplicate_strategy_id_is_refused),
        T(test_unknown_strategy_param_error_names_the_key),
        T(test_bad_strategy_param_value_names_the_key),
        T(test_two_instances_of_one_symbol_both_run_in_order),
        T(test_sma_cross_buys_when_fast_crosses_above_slow),
        T(test_sma_cross_sells_the_long_when_fast_crosses_below_slow),
        T(test_sma_cross_ignores_bars_of_other_symbols),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
