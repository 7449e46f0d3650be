/* The Signal Generator: runs strategy instances on bars, publishes signals.
 *
 * An instance's target position moves when it signals and moves back for
 * what never executes (rejected orders, canceled remainders), so a refused
 * order does not leave the strategy believing it is in the market.
 *
 * Validation (see signal.h): a bar must be well-formed and, for a symbol
 * some instance trades, close after the symbol's previous bar — a strategy
 * fed a bar twice or out of order computes its indicators on a history that
 * never happened. Each symbol traded keeps the close time and event id of
 * its last bar in a small table built when instances are added, so a bar
 * costs one scan of the distinct symbols, not a strcmp per instance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/fixstr.h"
#include "tradebus/resample.h"
#include "tradebus/signal.h"
#include "tradebus/timefmt.h"
#include "validate.h"

/* One symbol an instance trades, with its own order settings and target. */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    size_t sym; /* index into the generator's symbols */
    tb_decimal tick_size, step, min_notional;
    tb_decimal target;
    int64_t last_signal_time; /* of its last BUY/SELL: orders it placed knew everything before */
} leg;

typedef struct {
    const tb_strategy_vtable *vt;
    void *state;
    char strategy_id[TB_STRATEGY_LEN];
    leg legs[TB_STRATEGY_MAX_SYMBOLS]; /* legs[0]: the symbol it was added with */
    size_t nlegs;
    tb_order_type order_type;
    tb_decimal limit_offset_bps;
    int emit_hold;
    uint64_t last_bar_id; /* the last bar this instance fully processed */
    /* Timeframes: tf[0] is the data's bars, the rest come from rs. The
     * output buffer lives here so a bar allocates nothing. */
    int64_t tf[TB_STRATEGY_MAX_TIMEFRAMES];
    size_t ntf;
    tb_resampler *rs;
    tb_resampled rs_out[TB_RESAMPLE_MAX_OUT(TB_STRATEGY_MAX_TIMEFRAMES)];
    /* The signals decided on last_bar_id (all its timeframes), until the
     * bus took them: a retry of the bar publishes the rest instead of
     * running the strategy twice. */
    tb_event staged[TB_STRATEGY_MAX_DECISIONS];
    size_t nstaged, npublished;
    tb_decimal size_pct, risk_pct, stop_pct; /* sizing; 0 = off */
    /* Its working orders, oldest first (ctx->open_orders): grown on
     * OrderCreated, so a bar allocates nothing. */
    tb_strategy_order *orders;
    size_t norders, orders_cap;
} instance;

static leg *leg_of(instance *in, const char *symbol)
{
    for (size_t i = 0; i < in->nlegs; i++)
        if (tb__sym_eq(in->legs[i].symbol, symbol)) return &in->legs[i];
    return NULL;
}

/* A symbol some instance trades, and its last bar accepted. */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    int has_bar;
    int64_t last_close_time;
    tb_decimal last_close; /* the price of a decision for it made on another symbol's bar */
    uint64_t last_bar_id;  /* a redelivery of this very bar is not "out of order" */
} symbol_state;

struct tb_signal_generator {
    tb_bus *bus;
    instance *inst;
    size_t ninst, cap;
    symbol_state *syms;
    size_t nsyms, syms_cap;
    uint64_t signals, size_too_small;
    int sub_md, sub_rej, sub_cancel, sub_fill, sub_created;
    tb_decimal (*equity)(const void *ctx);
    const void *equity_ctx;
    tb_decimal (*cash)(const void *ctx);
    const void *cash_ctx;
    tb_trading_state (*state)(const void *ctx); /* for the alerts it publishes; NULL: ACTIVE */
    const void *state_ctx;
    int64_t trade_from; /* bars opening before it decide nothing (warm-up) */
    uint64_t muted;     /* decisions dropped for that */
};

/* An entry's size from equity at the decision's close: size_pct % of it,
 * or risk_pct % of it over the stop's distance; rounded down to the step,
 * 0 if that leaves less than one step or min_notional. */
static int sized_quantity(const tb_signal_generator *sg, const instance *in, const leg *lg,
                          tb_decimal close, tb_decimal *out)
{
    *out = 0;
    if (!sg->equity) return TB_EMISUSE;
    tb_decimal equity = sg->equity(sg->equity_ctx), budget, per_unit, q;
    if (equity <= 0 || close <= 0) return 0;
    int rc;
    if (in->size_pct > 0) {
        rc = tb_dec_muldiv_int(equity, in->size_pct, 100 * TB_DECIMAL_ONE, TB_ROUND_FLOOR, &budget);
        per_unit = close;
    } else {
        /* Losing stop_pct of the close per unit must cost risk_pct of equity. */
        rc = tb_dec_muldiv_int(equity, in->risk_pct, 100 * TB_DECIMAL_ONE, TB_ROUND_FLOOR, &budget);
        if (!rc)
            rc = tb_dec_muldiv_int(close, in->stop_pct, 100 * TB_DECIMAL_ONE, TB_ROUND_CEIL,
                                   &per_unit);
    }
    if (rc) return rc;
    if (per_unit <= 0) return 0;
    if ((rc = tb_dec_div(budget, per_unit, TB_ROUND_FLOOR, &q)) != 0) return rc;
    tb_decimal step = lg->step > 0 ? lg->step : 1;
    if ((rc = tb_dec_quantize(q, step, TB_ROUND_FLOOR, &q)) != 0) return rc;
    if (q <= 0) return 0;
    if (lg->min_notional > 0) {
        tb_decimal notional;
        if (tb_dec_mul(q, close, TB_ROUND_FLOOR, &notional) != 0) return 0;
        if (notional < lg->min_notional) return 0;
    }
    *out = q;
    return 0;
}

void tb_signal_generator_set_trading_state(tb_signal_generator *sg,
                                           tb_trading_state (*fn)(const void *ctx), const void *ctx)
{
    sg->state = fn;
    sg->state_ctx = ctx;
}

/* A strategy whose on_bar failed (TB_EHANDLER: a script's error, say) stops
 * deciding; the run says so on the bus, for every monitor to see, beside
 * the bar's dead letter. The strategy's own message is in the log. */
static int strategy_stopped(tb_signal_generator *sg, const instance *in, const tb_event *md,
                            const tb_market_data *bar)
{
    char when[32] = "?";
    tb_format_time_iso(bar->close_time, when, sizeof(when));
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_SIGNAL);
    ev.timestamp = md->timestamp;
    tb_event_caused_by(&ev, md);
    tb_risk_alert *a = &ev.u.risk_alert;
    memcpy(a->rule, "strategy_stopped", sizeof("strategy_stopped"));
    snprintf(a->detail, sizeof(a->detail),
             "'%.19s' stopped: on_bar failed on the %.15s bar of %.24s; see the log",
             in->strategy_id, bar->symbol, when);
    a->trading_state = sg->state ? sg->state(sg->state_ctx) : TB_TRADING_ACTIVE;
    snprintf(a->strategy_id, sizeof(a->strategy_id), "%s", in->strategy_id);
    snprintf(a->symbol, sizeof(a->symbol), "%s", bar->symbol);
    tb_bus_fail_reason(sg->bus, "%s", a->detail);
    return tb_bus_publish(sg->bus, &ev);
}

void tb_signal_generator_set_equity(tb_signal_generator *sg, tb_decimal (*fn)(const void *ctx),
                                    const void *ctx)
{
    sg->equity = fn;
    sg->equity_ctx = ctx;
}

void tb_signal_generator_set_cash(tb_signal_generator *sg, tb_decimal (*fn)(const void *ctx),
                                  const void *ctx)
{
    sg->cash = fn;
    sg->cash_ctx = ctx;
}

uint64_t tb_signal_generator_size_too_small(const tb_signal_generator *sg)
{
    return sg->size_too_small;
}

/* strategy_id: a field (TB_STRATEGY_LEN bytes); the API's C strings come
 * through find_instance_str. */
static instance *find_instance(tb_signal_generator *sg, const char *strategy_id)
{
    for (size_t i = 0; i < sg->ninst; i++)
        if (tb__strategy_eq(sg->inst[i].strategy_id, strategy_id)) return &sg->inst[i];
    return NULL;
}

static instance *find_instance_str(tb_signal_generator *sg, const char *strategy_id)
{
    char sid[TB_STRATEGY_LEN];
    return tb__fix_copy(sid, sizeof(sid), strategy_id) == 0 ? find_instance(sg, sid) : NULL;
}

TB__HOT static int on_md(const tb_event *ev, void *ctx)
{
    return tb_signal_generator_process_market_data(ctx, ev);
}

static symbol_state *find_symbol(tb_signal_generator *sg, const char *symbol)
{
    for (size_t i = 0; i < sg->nsyms; i++)
        if (tb__sym_eq(sg->syms[i].symbol, symbol)) return &sg->syms[i];
    return NULL;
}

/* ---- the instances' working orders (ctx->open_orders) ------------------ */

/* cid: an event's field (TB_ORDER_ID_LEN bytes). */
static tb_strategy_order *tracked(instance *in, const char *cid)
{
    for (size_t i = 0; i < in->norders; i++)
        if (tb__cid_eq(in->orders[i].client_order_id, cid)) return &in->orders[i];
    return NULL;
}

static void untrack(instance *in, const char *cid)
{
    tb_strategy_order *o = tracked(in, cid);
    if (!o) return;
    size_t i = (size_t)(o - in->orders);
    memmove(o, o + 1, (in->norders - i - 1) * sizeof(*o));
    in->norders--;
}

/* Every event here is valid and the instance's. */
static int track(instance *in, const tb_event *ev)
{
    switch (ev->type) {
    case TB_EV_ORDER_CREATED: {
        const tb_order_created *c = &ev->u.order_created;
        if (tracked(in, c->client_order_id)) return 0; /* a redelivery */
        if (in->norders == in->orders_cap) {
            size_t nc = in->orders_cap ? in->orders_cap * 2 : 8;
            tb_strategy_order *no = realloc(in->orders, nc * sizeof(*no));
            if (!no) return TB_ENOMEM;
            in->orders = no;
            in->orders_cap = nc;
        }
        tb_strategy_order *o = &in->orders[in->norders++];
        memset(o, 0, sizeof(*o));
        memcpy(o->client_order_id, c->client_order_id, sizeof(o->client_order_id));
        memcpy(o->symbol, c->symbol, sizeof(o->symbol));
        o->side = c->side;
        o->type = c->order_type;
        o->origin = c->origin;
        o->quantity = c->quantity;
        o->price = c->order_type == TB_ORDER_LIMIT ? c->price : 0;
        o->stop_price = c->order_type == TB_ORDER_STOP_MARKET ? c->stop_price : 0;
        return 0;
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        tb_strategy_order *o = tracked(in, f->client_order_id);
        if (!o) return 0;
        if (f->status == TB_ORDER_FILLED)
            untrack(in, f->client_order_id);
        else
            o->filled = f->cumulative_quantity;
        return 0;
    }
    case TB_EV_ORDER_CANCELED:
        untrack(in, ev->u.order_canceled.client_order_id);
        return 0;
    case TB_EV_ORDER_REJECTED:
        untrack(in, ev->u.order_rejected.client_order_id);
        return 0;
    default:
        return 0;
    }
}

static const char *strategy_of(const tb_event *ev)
{
    switch (ev->type) {
    case TB_EV_ORDER_CREATED:
        return ev->u.order_created.strategy_id;
    case TB_EV_ORDER_FILLED:
        return ev->u.order_filled.strategy_id;
    case TB_EV_ORDER_CANCELED:
        return ev->u.order_canceled.strategy_id;
    case TB_EV_ORDER_REJECTED:
        return ev->u.order_rejected.strategy_id;
    default:
        return NULL;
    }
}

int tb_signal_generator_restore(tb_signal_generator *sg, const tb_event *ev)
{
    const char *sid = sg ? strategy_of(ev) : NULL;
    instance *in = sid && tb__str_ok(sid, TB_STRATEGY_LEN) ? find_instance(sg, sid) : NULL;
    char why[TB__WHY_LEN];
    if (!in || tb__check_event(ev, ev->type, why, sizeof(why)) != 0) return 0;
    track(in, ev);
    return 0;
}

static int on_created(const tb_event *ev, void *ctx)
{
    tb_signal_generator *sg = ctx;
    const char *sid = ev->u.order_created.strategy_id;
    instance *in = tb__str_ok(sid, TB_STRATEGY_LEN) ? find_instance(sg, sid) : NULL;
    if (!in) return 0; /* another generator's, or unattributable: nothing of ours */
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(sg->bus, ev, TB_EV_ORDER_CREATED, why, sizeof(why));
    if (rc) return tb__refuse(sg->bus, rc, why);
    return track(in, ev);
}

/* Undo the part of a signal that will never execute. Only the generator
 * hosting the strategy judges the event: in distributed mode every generator
 * sees every rejection, and one for a strategy it does not host is another
 * generator's business (ignored, not refused). An event that cannot be
 * attributed at all (no valid strategy_id) is refused. */
static int on_not_executed(const tb_event *ev, void *ctx)
{
    tb_signal_generator *sg = ctx;
    int rejected = ev->type == TB_EV_ORDER_REJECTED;
    const char *sid =
        rejected ? ev->u.order_rejected.strategy_id : ev->u.order_canceled.strategy_id;
    int attributable = tb__str_ok(sid, TB_STRATEGY_LEN);
    instance *in = attributable ? find_instance(sg, sid) : NULL;
    if (attributable && !in) return 0;

    char why[TB__WHY_LEN];
    int rc = tb__check_event(ev, ev->type, why, sizeof(why));
    if (rc) return tb__refuse(sg->bus, rc, why);
    const char *type = tb_event_type_name(ev->type);
    const char *symbol = rejected ? ev->u.order_rejected.symbol : ev->u.order_canceled.symbol;
    leg *lg = leg_of(in, symbol);
    if (!lg) {
        tb_bus_fail_reason(sg->bus, "%s for strategy '%s' names symbol %s; it trades %s%s", type,
                           sid, symbol, in->legs[0].symbol, in->nlegs > 1 ? " and others" : "");
        return TB_EINVAL;
    }
    /* Orders the strategy never asked for (a bracket's stop or target, a
     * halt's close) are not part of its target, and a cancel that made
     * room for its own next order was already counted by that order. */
    track(in, ev);
    tb_order_origin origin = rejected ? ev->u.order_rejected.origin : ev->u.order_canceled.origin;
    if (origin != TB_ORIGIN_SIGNAL) return 0;
    if (!rejected && ev->u.order_canceled.cause == TB_CANCEL_REPLACED) return 0;
    tb_side side = rejected ? ev->u.order_rejected.side : ev->u.order_canceled.side;
    tb_decimal qty =
        rejected ? ev->u.order_rejected.quantity : ev->u.order_canceled.canceled_quantity;
    /* Every order of ours came from a signal of volume > 0; a rejection of
     * zero or less matches none and must not move the target. (A cancel's
     * remainder is >= 0 by the event's own rules; 0 moves nothing.) */
    if (rejected && qty <= 0) {
        char q[TB_DECIMAL_STRLEN];
        tb_dec_format(qty, q, sizeof(q));
        tb_bus_fail_reason(sg->bus, "OrderRejected.quantity %s is not positive", q);
        return TB_EINVAL;
    }
    return tb_dec_sub(lg->target, side == TB_SIDE_BUY ? qty : -qty, &lg->target);
}

/* A fill of an order the Order Manager placed on the strategy's behalf (a
 * stop, a target, a halt's close) moves what it holds without a signal: its
 * target follows — unless the strategy has signaled since the fill
 * happened, in which case the manager already ordered from the truth. */
static int on_fill(const tb_event *ev, void *ctx)
{
    tb_signal_generator *sg = ctx;
    const tb_order_filled *f = &ev->u.order_filled;
    instance *in =
        tb__str_ok(f->strategy_id, TB_STRATEGY_LEN) ? find_instance(sg, f->strategy_id) : NULL;
    if (!in || (f->origin == TB_ORIGIN_SIGNAL && !in->norders)) return 0;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(sg->bus, ev, TB_EV_ORDER_FILLED, why, sizeof(why));
    if (rc) return tb__refuse(sg->bus, rc, why);
    track(in, ev);
    if (f->origin == TB_ORIGIN_SIGNAL) return 0;
    leg *lg = leg_of(in, f->symbol);
    if (!lg) return 0;
    if (lg->last_signal_time > ev->timestamp) return 0;
    return tb_dec_add(lg->target, f->side == TB_SIDE_BUY ? f->filled_quantity : -f->filled_quantity,
                      &lg->target);
}

int tb_signal_generator_create(tb_bus *bus, tb_signal_generator **out)
{
    if (!bus || !out) return TB_EINVAL;
    tb_signal_generator *sg = calloc(1, sizeof(*sg));
    if (!sg) return TB_ENOMEM;
    sg->bus = bus;
    const char *name = tb_source_name(TB_SRC_SIGNAL);
    sg->sub_md = tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, on_md, sg, name);
    sg->sub_rej = tb_bus_subscribe_named(bus, TB_EV_ORDER_REJECTED, on_not_executed, sg, name);
    sg->sub_cancel = tb_bus_subscribe_named(bus, TB_EV_ORDER_CANCELED, on_not_executed, sg, name);
    sg->sub_fill = tb_bus_subscribe_named(bus, TB_EV_ORDER_FILLED, on_fill, sg, name);
    sg->sub_created = tb_bus_subscribe_named(bus, TB_EV_ORDER_CREATED, on_created, sg, name);
    if (sg->sub_md < 0 || sg->sub_rej < 0 || sg->sub_cancel < 0 || sg->sub_fill < 0 ||
        sg->sub_created < 0) {
        tb_signal_generator_destroy(sg);
        return TB_ENOMEM;
    }
    *out = sg;
    return 0;
}

void tb_signal_generator_destroy(tb_signal_generator *sg)
{
    if (!sg) return;
    if (sg->sub_md >= 0) tb_bus_unsubscribe(sg->bus, sg->sub_md);
    if (sg->sub_rej >= 0) tb_bus_unsubscribe(sg->bus, sg->sub_rej);
    if (sg->sub_cancel >= 0) tb_bus_unsubscribe(sg->bus, sg->sub_cancel);
    if (sg->sub_fill >= 0) tb_bus_unsubscribe(sg->bus, sg->sub_fill);
    if (sg->sub_created >= 0) tb_bus_unsubscribe(sg->bus, sg->sub_created);
    for (size_t i = 0; i < sg->ninst; i++) {
        sg->inst[i].vt->destroy(sg->inst[i].state);
        tb_resampler_destroy(sg->inst[i].rs);
        free(sg->inst[i].orders);
    }
    free(sg->inst);
    free(sg->syms);
    free(sg);
}

/* Room for one more distinct symbol (so interning cannot fail). */
static int reserve_symbol(tb_signal_generator *sg)
{
    if (sg->nsyms < sg->syms_cap) return 0;
    size_t nc = sg->syms_cap ? sg->syms_cap * 2 : 4;
    symbol_state *ns = realloc(sg->syms, nc * sizeof(*ns));
    if (!ns) return TB_ENOMEM;
    sg->syms = ns;
    sg->syms_cap = nc;
    return 0;
}

/* The index of symbol in the generator's table, added if new (room
 * reserved by reserve_symbol). */
static size_t intern_symbol(tb_signal_generator *sg, const char *symbol)
{
    symbol_state *ss = find_symbol(sg, symbol);
    if (!ss) {
        ss = &sg->syms[sg->nsyms++];
        memset(ss, 0, sizeof(*ss));
        snprintf(ss->symbol, sizeof(ss->symbol), "%s", symbol);
    }
    return (size_t)(ss - sg->syms);
}

int tb_signal_generator_add(tb_signal_generator *sg, const tb_strategy_vtable *vt,
                            const tb_strategy_instance *ic, const tb_param *params, size_t nparams,
                            char *err, size_t errlen)
{
    if (!sg || !vt || !ic || !ic->strategy_id || !ic->symbol) return TB_EINVAL;
    if (find_instance_str(sg, ic->strategy_id)) {
        if (err) snprintf(err, errlen, "strategy id '%s' is used twice", ic->strategy_id);
        return TB_EINVAL;
    }
    if (ic->order_type != TB_ORDER_MARKET && ic->order_type != TB_ORDER_LIMIT) {
        if (err) snprintf(err, errlen, "order_type: must be MARKET or LIMIT");
        return TB_ECONFIG;
    }
    if (ic->limit_offset_bps < 0 || ic->limit_offset_bps >= 10000 * TB_DECIMAL_ONE) {
        if (err) snprintf(err, errlen, "limit_offset_bps: must be in [0, 10000)");
        return TB_ECONFIG;
    }
    if (sg->ninst == sg->cap) {
        size_t nc = sg->cap ? sg->cap * 2 : 8;
        instance *ni = realloc(sg->inst, nc * sizeof(*ni));
        if (!ni) return TB_ENOMEM;
        sg->inst = ni;
        sg->cap = nc;
    }
    instance *in = &sg->inst[sg->ninst];
    memset(in, 0, sizeof(*in));
    if (tb_str_copy(in->strategy_id, sizeof(in->strategy_id), ic->strategy_id) != 0) {
        if (err)
            snprintf(err, errlen, "strategy id '%s' is longer than %d characters", ic->strategy_id,
                     TB_STRATEGY_LEN - 1);
        return TB_ECONFIG;
    }
    if (tb_str_copy(in->legs[0].symbol, sizeof(in->legs[0].symbol), ic->symbol) != 0 ||
        !ic->symbol[0]) {
        if (err)
            snprintf(err, errlen, "symbol: '%s' is empty or longer than %d characters", ic->symbol,
                     TB_SYMBOL_LEN - 1);
        return TB_ECONFIG;
    }
    /* Room for a new symbol before the strategy exists, so nothing after its
     * create can fail. */
    if (reserve_symbol(sg) != 0) return TB_ENOMEM;
    int rc = vt->create(vt, params, nparams, &in->state, err, errlen);
    if (rc) return rc;
    in->legs[0].sym = intern_symbol(sg, in->legs[0].symbol);
    in->legs[0].tick_size = ic->tick_size;
    in->legs[0].step = ic->step_size;
    in->legs[0].min_notional = ic->min_notional;
    in->nlegs = 1;
    in->vt = vt;
    in->order_type = ic->order_type;
    in->limit_offset_bps = ic->limit_offset_bps;
    in->emit_hold = ic->emit_hold;
    in->size_pct = ic->size_pct;
    in->risk_pct = ic->risk_pct;
    in->stop_pct = ic->stop_pct;
    sg->ninst++;
    return 0;
}

int tb_signal_generator_add_symbol(tb_signal_generator *sg, const char *strategy_id,
                                   const char *symbol, tb_decimal tick_size, tb_decimal step_size,
                                   tb_decimal min_notional, char *err, size_t errlen)
{
    if (!sg || !strategy_id || !symbol) return TB_EINVAL;
    instance *in = find_instance_str(sg, strategy_id);
    if (!in) {
        if (err)
            snprintf(err, errlen, "strategy id '%s': no such instance; add it first", strategy_id);
        return TB_EINVAL;
    }
    char sym[TB_SYMBOL_LEN];
    if (!symbol[0] || tb__sym_field(sym, symbol) != 0 || leg_of(in, sym)) {
        if (err) snprintf(err, errlen, "symbols: '%s' is empty, too long or listed twice", symbol);
        return TB_EINVAL;
    }
    if (in->nlegs == TB_STRATEGY_MAX_SYMBOLS) {
        if (err)
            snprintf(err, errlen, "symbols: at most %d per strategy; split it in two",
                     TB_STRATEGY_MAX_SYMBOLS);
        return TB_EINVAL;
    }
    if (reserve_symbol(sg) != 0) return TB_ENOMEM;
    leg *lg = &in->legs[in->nlegs];
    memset(lg, 0, sizeof(*lg));
    memcpy(lg->symbol, sym, sizeof(lg->symbol));
    lg->sym = intern_symbol(sg, sym);
    lg->tick_size = tick_size;
    lg->step = step_size;
    lg->min_notional = min_notional;
    in->nlegs++;
    return 0;
}

int tb_signal_generator_set_timeframes(tb_signal_generator *sg, const char *strategy_id,
                                       const int64_t *tf_ns, size_t n, char *err, size_t errlen)
{
    if (!sg || !strategy_id || (n && !tf_ns)) return TB_EINVAL;
    instance *in = find_instance_str(sg, strategy_id);
    if (!in || n < 1 || n > TB_STRATEGY_MAX_TIMEFRAMES) {
        if (err)
            snprintf(err, errlen, "timeframes: %s (1 to %d timeframes, the data's first)",
                     in ? "wrong count" : "no such strategy", TB_STRATEGY_MAX_TIMEFRAMES);
        return TB_EINVAL;
    }
    for (size_t i = 1; i < n; i++)
        if (tf_ns[i] <= tf_ns[i - 1]) {
            if (err)
                snprintf(err, errlen,
                         "timeframes: list them shortest first, each once (e.g. 1m 15m 1h)");
            return TB_EINVAL;
        }
    tb_resampler *rs = NULL;
    if (n > 1) {
        int rc = tb_resampler_create(tf_ns + 1, n - 1, TB_STRATEGY_MAX_SYMBOLS, &rs, err, errlen);
        if (rc) return rc;
    }
    tb_resampler_destroy(in->rs);
    in->rs = rs;
    memcpy(in->tf, tf_ns, n * sizeof(*tf_ns));
    in->ntf = n;
    return 0;
}

int tb_signal_generator_publish_signal(tb_signal_generator *sg, tb_event *ev)
{
    int rc = tb_bus_publish(sg->bus, ev);
    if (rc == 0 && ev->u.signal.signal_type != TB_SIGNAL_HOLD) sg->signals++;
    return rc;
}

/* LIMIT price: close moved by the offset in the trader's favour (buy lower,
 * sell higher), rounded to the tick in the same favourable direction. */
static int limit_price(const instance *in, const leg *lg, tb_decimal close, tb_signal_type t,
                       tb_decimal *out)
{
    const int64_t one = 10000 * 100000000LL;
    int buy = t == TB_SIGNAL_BUY;
    int64_t f = buy ? one - in->limit_offset_bps : one + in->limit_offset_bps;
    int rc = tb_dec_muldiv_int(close, f, one, buy ? TB_ROUND_FLOOR : TB_ROUND_CEIL, out);
    if (rc) return rc;
    if (lg->tick_size > 0)
        rc = tb_dec_quantize(*out, lg->tick_size, buy ? TB_ROUND_FLOOR : TB_ROUND_CEIL, out);
    return rc;
}

/* One on_bar call: what the ctx functions need. ctx first, so the
 * functions get back here from the ctx they are given. */
typedef struct {
    tb_strategy_ctx ctx;
    tb_signal_generator *sg;
    instance *in;
    const tb_event *md;
    const tb_market_data *bar;
} deciding;

static deciding *deciding_of(const tb_strategy_ctx *ctx)
{
    return (deciding *)ctx->owner;
}

/* ctx->position_of: the instance's target in symbol, 0 if not its own. */
static tb_decimal position_of(const tb_strategy_ctx *ctx, const char *symbol)
{
    const deciding *dc = ctx ? deciding_of(ctx) : NULL;
    char sym[TB_SYMBOL_LEN];
    if (!dc || !symbol || tb__sym_field(sym, symbol) != 0) return 0;
    const leg *lg = leg_of(dc->in, sym);
    return lg ? lg->target : 0;
}

static tb_decimal ctx_cash(const tb_strategy_ctx *ctx)
{
    const tb_signal_generator *sg = deciding_of(ctx)->sg;
    return sg->cash ? sg->cash(sg->cash_ctx) : 0;
}

static tb_decimal ctx_equity(const tb_strategy_ctx *ctx)
{
    const tb_signal_generator *sg = deciding_of(ctx)->sg;
    return sg->equity ? sg->equity(sg->equity_ctx) : 0;
}

static size_t open_orders(const tb_strategy_ctx *ctx, const char *symbol, tb_strategy_order *out,
                          size_t max)
{
    const instance *in = deciding_of(ctx)->in;
    char sym[TB_SYMBOL_LEN];
    if (symbol && tb__sym_field(sym, symbol) != 0) return 0; /* too long: none of its symbols */
    size_t n = 0;
    for (size_t i = 0; i < in->norders; i++) {
        if (symbol && !tb__sym_eq(in->orders[i].symbol, sym)) continue;
        if (n < max && out) out[n] = in->orders[i];
        n++;
    }
    return n;
}

/* The leg a decision names ("" or NULL: the bar's) and the price it is made
 * at (the bar's close, or that symbol's last close). */
static int leg_for(deciding *dc, const char *symbol, leg **lg, tb_decimal *price, char *err,
                   size_t errlen)
{
    instance *in = dc->in;
    char sym[TB_SYMBOL_LEN];
    int fits = symbol && tb__sym_field(sym, symbol) == 0;
    if (!symbol || !symbol[0] || (fits && tb__sym_eq(sym, dc->bar->symbol))) {
        *lg = leg_of(in, dc->bar->symbol);
        *price = dc->bar->close;
        return 0;
    }
    if (!fits || !(*lg = leg_of(in, sym))) {
        snprintf(err, errlen, "strategy '%s' ordered %.*s, which is not in its symbols",
                 in->strategy_id, TB_SYMBOL_LEN - 1, symbol);
        return TB_EINVAL;
    }
    if (!dc->sg->syms[(*lg)->sym].has_bar) {
        snprintf(err, errlen, "strategy '%s' ordered %s before any bar of it", in->strategy_id,
                 symbol);
        return TB_EINVAL;
    }
    *price = dc->sg->syms[(*lg)->sym].last_close;
    return 0;
}

static int quantity_for_pct(const tb_strategy_ctx *ctx, const char *symbol, tb_decimal pct,
                            tb_decimal *out)
{
    deciding *dc = deciding_of(ctx);
    leg *lg;
    tb_decimal price, budget, q;
    char err[160];
    *out = 0;
    int rc = leg_for(dc, symbol, &lg, &price, err, sizeof(err));
    if (rc) return rc;
    tb_decimal equity = ctx_equity(ctx);
    if (equity <= 0 || price <= 0 || pct == 0) return 0;
    rc = tb_dec_muldiv_int(equity, tb_dec_abs(pct), 100 * TB_DECIMAL_ONE, TB_ROUND_FLOOR, &budget);
    if (!rc) rc = tb_dec_div(budget, price, TB_ROUND_FLOOR, &q);
    if (!rc) rc = tb_dec_quantize(q, lg->step > 0 ? lg->step : 1, TB_ROUND_FLOOR, &q);
    if (rc) return TB_EOVERFLOW;
    *out = pct < 0 ? -q : q;
    return 0;
}

/* A price the strategy gave, on the tick: rounded by r. */
static int on_tick(const leg *lg, tb_decimal p, tb_rounding r, tb_decimal *out)
{
    *out = p;
    return lg->tick_size > 0 ? tb_dec_quantize(p, lg->tick_size, r, out) : 0;
}

/* The bracket prices of a decision that leaves the instance at target,
 * checked against the price it is made at. */
static int bracket(const instance *in, const leg *lg, const tb_strategy_decision *d,
                   tb_decimal price, tb_decimal target, tb_signal_generated *s, char *err,
                   size_t errlen)
{
    if (d->stop_loss < 0 || d->take_profit < 0) {
        snprintf(err, errlen, "strategy '%s': stop_loss and take_profit are prices (> 0)",
                 in->strategy_id);
        return TB_EINVAL;
    }
    if (!d->stop_loss && !d->take_profit) return 0;
    char p[TB_DECIMAL_STRLEN], x[TB_DECIMAL_STRLEN];
    tb_dec_format(price, p, sizeof(p));
    if (target == 0) {
        snprintf(err, errlen,
                 "strategy '%s': a stop-loss or take-profit needs a position, and this order "
                 "leaves %s flat",
                 in->strategy_id, lg->symbol);
        return TB_EINVAL;
    }
    int lng = target > 0;
    int rc = 0;
    /* Rounded away from the price: a stop never nearer than asked. */
    if (d->stop_loss) {
        rc = on_tick(lg, d->stop_loss, lng ? TB_ROUND_FLOOR : TB_ROUND_CEIL, &s->stop_loss);
        if (!rc && (lng ? s->stop_loss >= price : s->stop_loss <= price)) {
            tb_dec_format(d->stop_loss, x, sizeof(x));
            snprintf(err, errlen, "strategy '%s': stop_loss %s must be %s the price %s of %s",
                     in->strategy_id, x, lng ? "below" : "above", p, lg->symbol);
            return TB_EINVAL;
        }
    }
    if (!rc && d->take_profit) {
        rc = on_tick(lg, d->take_profit, lng ? TB_ROUND_CEIL : TB_ROUND_FLOOR, &s->take_profit);
        if (!rc && (lng ? s->take_profit <= price : s->take_profit >= price)) {
            tb_dec_format(d->take_profit, x, sizeof(x));
            snprintf(err, errlen, "strategy '%s': take_profit %s must be %s the price %s of %s",
                     in->strategy_id, x, lng ? "above" : "below", p, lg->symbol);
            return TB_EINVAL;
        }
    }
    return rc;
}

/* Takes one decision: checked, turned into a signal staged for
 * publication, the target moved. Nothing changes on an error (reason in
 * err). */
static int take(deciding *dc, const tb_strategy_decision *d, char *err, size_t errlen)
{
    tb_signal_generator *sg = dc->sg;
    instance *in = dc->in;
    const tb_market_data *bar = dc->bar;
    if (d->signal == TB_SIGNAL_HOLD && !in->emit_hold) return 0;
    if (d->signal != TB_SIGNAL_HOLD && d->signal != TB_SIGNAL_BUY && d->signal != TB_SIGNAL_SELL &&
        d->signal != TB_SIGNAL_CANCEL) {
        snprintf(err, errlen, "strategy '%s' decided %d, which is not HOLD, BUY, SELL or CANCEL",
                 in->strategy_id, (int)d->signal);
        return TB_EINVAL;
    }
    int trade = d->signal == TB_SIGNAL_BUY || d->signal == TB_SIGNAL_SELL;
    if (trade && d->volume <= 0) {
        char v[TB_DECIMAL_STRLEN];
        tb_dec_format(d->volume, v, sizeof(v));
        snprintf(err, errlen, "strategy '%s' decided %s %s: the quantity must be > 0",
                 in->strategy_id, tb_signal_type_name(d->signal), v);
        return TB_EINVAL;
    }
    tb_order_type type = d->order_type ? d->order_type : in->order_type;
    if (type != TB_ORDER_MARKET && type != TB_ORDER_LIMIT) {
        snprintf(err, errlen, "strategy '%s': order type %d is not MARKET or LIMIT",
                 in->strategy_id, (int)type);
        return TB_EINVAL;
    }
    if (d->limit_price < 0 || (d->limit_price > 0 && type != TB_ORDER_LIMIT)) {
        snprintf(err, errlen, "strategy '%s': a limit price needs a LIMIT order, > 0",
                 in->strategy_id);
        return TB_EINVAL;
    }
    leg *lg;
    tb_decimal price;
    int rc = leg_for(dc, d->symbol, &lg, &price, err, errlen);
    if (rc) return rc;
    /* A warm-up bar (history loaded before a live run began) moves the
     * indicators and nothing else: a decision on it would trade on a
     * past the run never saw, and the target position stays as it is,
     * so the strategy decides afresh on the first bar of the run. */
    if (bar->open_time < sg->trade_from) {
        if (d->signal != TB_SIGNAL_HOLD) sg->muted++;
        return 0;
    }
    if (in->nstaged == TB_STRATEGY_MAX_DECISIONS) {
        snprintf(err, errlen, "strategy '%s' made more than %d decisions on one bar",
                 in->strategy_id, TB_STRATEGY_MAX_DECISIONS);
        return TB_ERANGE;
    }
    tb_decimal target = lg->target;
    if (d->signal == TB_SIGNAL_BUY)
        rc = tb_dec_add(lg->target, d->volume, &target);
    else if (d->signal == TB_SIGNAL_SELL)
        rc = tb_dec_sub(lg->target, d->volume, &target);
    if (rc) {
        snprintf(err, errlen, "strategy '%s': target position in %s out of range", in->strategy_id,
                 lg->symbol);
        return rc;
    }

    tb_event *ev = &in->staged[in->nstaged];
    tb_event_init(ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(ev, dc->md);
    ev->timestamp = bar->close_time;
    tb_signal_generated *s = &ev->u.signal;
    s->signal_type = d->signal;
    memcpy(s->symbol, lg->symbol, sizeof(s->symbol));
    s->price = price;
    s->volume = trade ? d->volume : 0;
    memcpy(s->strategy_id, in->strategy_id, sizeof(s->strategy_id));
    s->order_type = type;
    s->target = target;
    if (trade && type == TB_ORDER_LIMIT) {
        int buy = d->signal == TB_SIGNAL_BUY;
        rc = d->limit_price > 0 ? on_tick(lg, d->limit_price, buy ? TB_ROUND_FLOOR : TB_ROUND_CEIL,
                                          &s->limit_price)
                                : limit_price(in, lg, price, d->signal, &s->limit_price);
        if (rc) {
            snprintf(err, errlen, "strategy '%s': limit price out of range", in->strategy_id);
            return rc;
        }
    }
    if (trade && (rc = bracket(in, lg, d, price, target, s, err, errlen)) != 0) return rc;
    if (!trade && (d->stop_loss || d->take_profit)) {
        snprintf(err, errlen, "strategy '%s': a stop-loss or take-profit goes with a BUY or SELL",
                 in->strategy_id);
        return TB_EINVAL;
    }
    if (d->signal == TB_SIGNAL_CANCEL) {
        if (!memchr(d->cancel_order_id, 0, sizeof(d->cancel_order_id))) {
            snprintf(err, errlen, "strategy '%s': cancel_order_id is not a string",
                     in->strategy_id);
            return TB_EINVAL;
        }
        memcpy(s->cancel_order_id, d->cancel_order_id, sizeof(s->cancel_order_id));
    }
    /* The decision is made: it is staged before it is published, so a
     * failed publish is retried, never lost. */
    lg->target = target;
    if (trade) lg->last_signal_time = ev->timestamp;
    in->nstaged++;
    return 0;
}

static int ctx_emit(const tb_strategy_ctx *ctx, const tb_strategy_decision *d, char *err,
                    size_t errlen)
{
    char none[8];
    if (!err) {
        err = none;
        errlen = sizeof(none);
    }
    return d ? take(deciding_of(ctx), d, err, errlen) : TB_EINVAL;
}

/* Publishes what is staged and not yet taken by the bus. */
static int publish_staged(tb_signal_generator *sg, instance *in)
{
    while (in->npublished < in->nstaged) {
        int rc = tb_signal_generator_publish_signal(sg, &in->staged[in->npublished]);
        if (rc) return rc;
        in->npublished++;
    }
    return 0;
}

/* Runs one instance on one bar (the data's, or a higher timeframe's built
 * from it, md being the base bar's event either way) and publishes its
 * decisions. A failed publish leaves the rest staged for a retry of md,
 * the bar counted as processed (in->last_bar_id). A failed on_bar, or a
 * decision that cannot be taken, takes none of them. */
TB__HOT static int decide(tb_signal_generator *sg, instance *in, leg *bl, const tb_event *md,
                          const tb_market_data *bar, int64_t timeframe)
{
    int rc;
    if (!bl) bl = leg_of(in, bar->symbol); /* bl: bar's leg when the caller knows it */
    if (!bl) return 0;
    deciding dc = {{bl->target, in->strategy_id, 0, 0, timeframe, position_of, NULL, ctx_cash,
                    ctx_equity, open_orders, quantity_for_pct, ctx_emit},
                   sg,
                   in,
                   md,
                   bar};
    dc.ctx.owner = &dc;
    if (in->size_pct > 0 || in->risk_pct > 0) {
        dc.ctx.sized = 1;
        if ((rc = sized_quantity(sg, in, bl, bar->close, &dc.ctx.quantity)) != 0) return rc;
    }
    /* What to put back if the bar is not taken. */
    tb_decimal targets[TB_STRATEGY_MAX_SYMBOLS];
    for (size_t i = 0; i < in->nlegs; i++)
        targets[i] = in->legs[i].target;
    size_t staged_before = in->nstaged;
    uint64_t muted_before = sg->muted;

    tb_strategy_decision d;
    memset(&d, 0, sizeof(d));
    rc = in->vt->on_bar(in->state, bar, &dc.ctx, &d);
    char err[256];
    err[0] = 0; /* not = "": that clears 256 bytes on every bar */
    if (rc == 0 && dc.ctx.sized && (d.signal == TB_SIGNAL_BUY || d.signal == TB_SIGNAL_SELL) &&
        d.volume == 0) {
        /* An entry sizing made too small: counted, and nothing sent. */
        sg->size_too_small++;
        d.signal = TB_SIGNAL_HOLD;
    }
    /* A HOLD nobody asked to see is nothing to take: most bars end here. */
    if (rc == 0 && (d.signal != TB_SIGNAL_HOLD || in->emit_hold) &&
        (rc = take(&dc, &d, err, sizeof(err))) != 0)
        tb_bus_fail_reason(sg->bus, "%s", err);
    if (rc) {
        for (size_t i = 0; i < in->nlegs; i++)
            in->legs[i].target = targets[i];
        in->nstaged = staged_before;
        sg->muted = muted_before;
        /* One failing strategy must not starve the others of this bar. */
        if (rc == TB_EHANDLER) {
            int prc = strategy_stopped(sg, in, md, bar);
            return prc ? prc : rc;
        }
        return rc;
    }
    in->last_bar_id = md->event_id;
    return publish_staged(sg, in);
}

TB__HOT int tb_signal_generator_process_market_data(tb_signal_generator *sg, const tb_event *md)
{
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(sg->bus, md, TB_EV_MARKET_DATA, why, sizeof(why));
    if (rc) return tb__refuse(sg->bus, rc, why);
    const tb_market_data *bar = &md->u.market_data;
    symbol_state *ss = find_symbol(sg, bar->symbol);
    if (!ss) return 0; /* no instance trades it */
    if (ss->has_bar && md->event_id != ss->last_bar_id) {
        if (bar->close_time < ss->last_close_time) {
            tb_bus_fail_reason(
                sg->bus, "MarketData %s close_time %lld is before the previous bar's %lld",
                bar->symbol, (long long)bar->close_time, (long long)ss->last_close_time);
            return TB_EDATA;
        }
        if (bar->close_time == ss->last_close_time) {
            tb_bus_fail_reason(sg->bus, "MarketData %s close_time %lld repeats the previous bar's",
                               bar->symbol, (long long)bar->close_time);
            return TB_EDATA;
        }
    }
    ss->has_bar = 1;
    ss->last_close_time = bar->close_time;
    ss->last_close = bar->close;
    ss->last_bar_id = md->event_id;

    size_t si = (size_t)(ss - sg->syms);
    int first_rc = 0;
    for (size_t i = 0; i < sg->ninst; i++) {
        instance *in = &sg->inst[i];
        leg *mine = NULL;
        for (size_t l = 0; l < in->nlegs && !mine; l++)
            if (in->legs[l].sym == si) mine = &in->legs[l];
        if (!mine) continue;
        /* A bar delivered again (a retry, a dead-letter replay) reaches only
         * the instances that have not processed it: a strategy that saw it
         * would count it twice in its indicators. One whose signal the bus
         * did not take publishes that signal again. */
        if (md->event_id && md->event_id == in->last_bar_id) {
            rc = publish_staged(sg, in);
            if (rc && !first_rc) first_rc = rc;
            continue;
        }
        in->nstaged = in->npublished = 0;
        rc = decide(sg, in, mine, md, bar, in->ntf ? in->tf[0] : 0);
        if (rc && !first_rc) first_rc = rc;
        /* Only a bar the strategy consumed feeds its higher timeframes: one
         * it failed on comes again, and the resampler must see it once. */
        if (!in->rs || in->last_bar_id != md->event_id) continue;
        /* The higher bars this base bar closes: after it, shortest first. */
        size_t nout = 0;
        char rerr[160] = "";
        rc = tb_resampler_push(in->rs, bar, in->rs_out, sizeof(in->rs_out) / sizeof(in->rs_out[0]),
                               &nout, rerr, sizeof(rerr));
        if (rc) {
            tb_bus_fail_reason(sg->bus, "strategy '%s' timeframes: %s", in->strategy_id, rerr);
            if (!first_rc) first_rc = rc;
            continue;
        }
        for (size_t k = 0; k < nout; k++) {
            rc = decide(sg, in, NULL, md, &in->rs_out[k].bar, in->tf[in->rs_out[k].timeframe + 1]);
            if (rc && !first_rc) first_rc = rc;
        }
    }
    return first_rc;
}

int64_t tb_signal_generator_trade_from(const tb_signal_generator *sg)
{
    return sg ? sg->trade_from : 0;
}

void tb_signal_generator_set_trade_from(tb_signal_generator *sg, int64_t t)
{
    sg->trade_from = t;
}

uint64_t tb_signal_generator_muted(const tb_signal_generator *sg)
{
    return sg->muted;
}

uint64_t tb_signal_generator_signals(const tb_signal_generator *sg)
{
    return sg->signals;
}
