/* The legacy monolith: the "before" system of the migration.
 *
 * It is written the way a trading script was written before the pipeline
 * existed: one loop body per bar (tb__legacy_runner_on_bar) that, inline and
 * in this order,
 *   (a) fills the open orders of the bar's symbol against the bar,
 *       updating cash, the account's holdings and each strategy's position,
 *   (b) marks the symbol's positions at the bar's close,
 *   (c) runs the strategies of the symbol in config order, and checks and
 *       queues the orders they ask for.
 * Plain arrays, no bus, no events, none of the pipeline's components: only
 * the data reader, tb_decimal and the trade-log record type are shared. Its
 * accounting must nevertheless reproduce the pipeline's documented
 * semantics to the last 1e-8 (README, "Execution semantics"), because the
 * parallel run compares the two record by record. Each rounding rule is
 * restated below where it is applied.
 *
 * What the pipeline does that a script would not think of, and that is
 * reproduced here on purpose:
 *  - A bar whose close time is not after its symbol's previous bar fills
 *    nothing and does not move the reference price (the simulated exchange
 *    ignores a redelivered bar); the strategies still see it, and positions
 *    are still marked at its close, as the Signal Generator and the Position
 *    Manager do.
 *  - With [symbol.*] sections, bars of undeclared symbols fill nothing (the
 *    exchange does not trade them) and orders for them are rejected.
 *  - A LIMIT order whose price rounds to zero or below is logged and
 *    rejected like any invalid order (the exchange refuses it), and the
 *    strategy's target is reverted. */
#include "../core/errbuf.h"
#include "legacy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tradebus/binance.h"
#include "tradebus/exchange_registry.h"

/* bps × 1e8 (tb_decimal bps): 1 + x/10000 is (ONE_BPS + x) / ONE_BPS. */
#define ONE_BPS (10000 * 100000000LL)

typedef struct {
    char name[TB_SYMBOL_LEN];
    tb_symbol_rules rules; /* zeros: any multiple of 1e-8 */
    int tradable;          /* declared, or nothing is declared */
    uint64_t bars;         /* bars that counted for fills */
    int64_t last_time;     /* close time of the last bar that counted */
    tb_decimal ref_close;  /* its close: order checks and exposure */
    tb_decimal mark;       /* close of the latest bar of any kind: unrealized PnL */
    tb_decimal held;       /* the account's position in it, every strategy together */
} leg_symbol;

typedef struct {
    const tb_strategy_config *sc;
    const tb_legacy_strategy *ls;
    void *state; /* starts with a tb_legacy_view */
    size_t sym;
    tb_decimal tick;   /* LIMIT prices are rounded to it; 0 = 1e-8 */
    tb_decimal target; /* what it asked for, less what was rejected */
    /* Its position in its symbol: signed quantity, average entry, realized
     * PnL over every trade it made. */
    tb_decimal qty, entry, realized;
} leg_strategy;

typedef struct {
    size_t strat, sym;
    tb_side side;
    tb_order_type type;
    tb_decimal price; /* LIMIT */
    tb_decimal remaining;
    tb_decimal inc;       /* part of remaining that adds exposure */
    tb_decimal per_unit;  /* cash held back per unit of inc */
    uint64_t sent_at_bar; /* symbol's bar count when sent: fills only on later bars */
} leg_order;

struct tb__legacy_runner {
    const tb_config *cfg;
    tb_record_sink sink;
    void *ctx;
    int restricted; /* [symbol.*] declared: other symbols are not traded */
    tb_decimal cash, fees;
    leg_symbol *syms;
    size_t nsyms, syms_cap;
    leg_strategy *strats;
    size_t nstrats;
    leg_order *orders; /* open orders, oldest first (time priority) */
    size_t norders, orders_cap;
    tb__legacy_result res;
    int64_t trade_from; /* bars opening before it trade nothing (warm-up) */
};

/* ---- symbols ------------------------------------------------------------- */

static int find_symbol(tb__legacy_runner *r, const char *name, size_t *out)
{
    for (size_t i = 0; i < r->nsyms; i++)
        if (strcmp(r->syms[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    if (r->nsyms == r->syms_cap) {
        size_t nc = r->syms_cap ? r->syms_cap * 2 : 8;
        leg_symbol *ns = realloc(r->syms, nc * sizeof(*ns));
        if (!ns) return TB_ENOMEM;
        r->syms = ns;
        r->syms_cap = nc;
    }
    leg_symbol *s = &r->syms[r->nsyms];
    memset(s, 0, sizeof(*s));
    if (tb_str_copy(s->name, sizeof(s->name), name) != 0) return TB_EINVAL;
    memcpy(s->rules.symbol, s->name, sizeof(s->name));
    s->tradable = !r->restricted;
    *out = r->nsyms++;
    return 0;
}

/* ---- records ------------------------------------------------------------- */

static int emit(tb__legacy_runner *r, const tb_trade_record *rec)
{
    return r->sink ? r->sink(rec, r->ctx) : 0;
}

static void record_for(tb_trade_record *rec, tb_record_kind kind, int64_t time,
                       const tb__legacy_runner *r, const leg_strategy *st)
{
    memset(rec, 0, sizeof(*rec));
    rec->kind = kind;
    rec->time = time;
    memcpy(rec->strategy_id, st->sc->id, sizeof(rec->strategy_id));
    memcpy(rec->symbol, r->syms[st->sym].name, sizeof(rec->symbol));
}

/* ---- (a) fills ----------------------------------------------------------- */

/* price × qty × fee_bps / 10000, exact in 128 bits, rounded half-up (away
 * from zero) to 8 decimals once. */
static int commission_of(tb_decimal price, tb_decimal qty, tb_decimal fee_bps, tb_decimal *out)
{
    __int128 n = (__int128)price * qty; /* 1e-16 units */
    if (fee_bps != 0) {
        __int128 lim = ((__int128)1 << 126) / fee_bps;
        if (n > lim || n < -lim) return TB_EOVERFLOW;
    }
    n *= fee_bps;                                               /* 1e-24 units, in bps */
    const __int128 d = (__int128)10000 * 100000000 * 100000000; /* → 1e-8 units */
    __int128 q = n / d, rem = n % d;
    if (rem < 0) rem = -rem;
    if (2 * rem >= d) q += n < 0 ? -1 : 1;
    if (q > INT64_MAX || q < -INT64_MAX) return TB_EOVERFLOW;
    *out = (tb_decimal)q;
    return 0;
}

/* The price the order executes at on this bar; 0 = it does not execute. */
static int execution_price(const tb__legacy_runner *r, const leg_order *o, const leg_symbol *s,
                           const tb_market_data *bar, tb_decimal *out)
{
    int buy = o->side == TB_SIDE_BUY;
    *out = 0;
    if (o->type == TB_ORDER_MARKET) {
        /* open × (1 ± slippage) rounded half-up straight to the tick in one
         * step (buys pay more, sells get less): rounding to 8 decimals first
         * could make a tie of something just below half a tick. */
        tb_decimal tick = s->rules.tick_size > 0 ? s->rules.tick_size : 1;
        tb_decimal slip = r->cfg->exchange.slippage_bps;
        __int128 num = (__int128)bar->open * (buy ? ONE_BPS + slip : ONE_BPS - slip);
        __int128 den = (__int128)ONE_BPS * tick;
        __int128 ticks = num / den;
        if (2 * (num % den) >= den) ticks++;
        ticks *= tick;
        if (ticks > INT64_MAX) return TB_EOVERFLOW;
        *out = (tb_decimal)ticks;
        return 0;
    }
    /* LIMIT: at the open if the bar opens through the limit, at the limit if
     * the bar trades through it (a touch is not enough), else not at all. */
    if (buy) {
        if (bar->open <= o->price)
            *out = bar->open;
        else if (bar->low < o->price)
            *out = o->price;
    } else {
        if (bar->open >= o->price)
            *out = bar->open;
        else if (bar->high > o->price)
            *out = o->price;
    }
    return 0;
}

/* Nets one execution into the strategy's position. */
static int net_position(leg_strategy *st, tb_side side, tb_decimal qty, tb_decimal price)
{
    tb_decimal q = st->qty, delta = side == TB_SIDE_BUY ? qty : -qty;
    int rc;
    if (q == 0) {
        st->qty = delta;
        st->entry = price;
        return 0;
    }
    tb_decimal aq = tb_dec_abs(q);
    if ((q > 0) == (delta > 0)) {
        /* Adding: entry = (|q|·entry + qty·price) / (|q| + qty), exact, rounded
         * half-up once (every term is positive). */
        tb_decimal total;
        if ((rc = tb_dec_add(aq, qty, &total)) != 0) return rc;
        unsigned __int128 num =
            (unsigned __int128)aq * (uint64_t)st->entry + (unsigned __int128)qty * (uint64_t)price;
        unsigned __int128 den = (uint64_t)total, e = num / den;
        if (2 * (num % den) >= den) e++;
        if (e > INT64_MAX) return TB_EOVERFLOW;
        st->entry = (tb_decimal)e;
        st->qty = q > 0 ? total : -total;
        return 0;
    }
    /* Reducing: realized = (price − entry) × closed × sign(q), the sign folded
     * into the difference so the product is rounded (half-up) once. */
    tb_decimal closed = qty < aq ? qty : aq, diff, pnl;
    rc = q > 0 ? tb_dec_sub(price, st->entry, &diff) : tb_dec_sub(st->entry, price, &diff);
    if (!rc) rc = tb_dec_mul(diff, closed, TB_ROUND_HALF_UP, &pnl);
    if (!rc) rc = tb_dec_add(st->realized, pnl, &st->realized);
    if (rc) return rc;
    st->qty = q + delta; /* opposite signs: cannot overflow */
    if (qty == aq)
        st->entry = 0; /* closed: flat */
    else if (qty > aq)
        st->entry = price; /* flipped: the rest is a new position at this price */
    return 0;
}

static void drop_order(tb__legacy_runner *r, size_t i)
{
    /* Ordered removal keeps time priority among the rest. */
    memmove(&r->orders[i], &r->orders[i + 1], (r->norders - i - 1) * sizeof(*r->orders));
    r->norders--;
}

static int fill_orders(tb__legacy_runner *r, size_t si, const tb_market_data *bar)
{
    leg_symbol *s = &r->syms[si];
    const tb_sim_exchange_config *ex = &r->cfg->exchange;
    int rc;

    /* Volume this bar can give, shared by the symbol's orders oldest first:
     * volume × participation rounded down to 8 decimals, then down to the
     * step size. -1: no limit. */
    tb_decimal cap = -1;
    if (ex->max_volume_participation > 0) {
        if ((rc = tb_dec_mul(bar->volume, ex->max_volume_participation, TB_ROUND_DOWN, &cap)))
            return rc;
        if (s->rules.step_size > 0) tb_dec_quantize(cap, s->rules.step_size, TB_ROUND_DOWN, &cap);
    }

    for (size_t i = 0; i < r->norders;) {
        leg_order *o = &r->orders[i];
        if (o->sym != si || o->sent_at_bar >= s->bars) {
            i++;
            continue;
        }
        tb_decimal price, qty = o->remaining, fee, notional;
        if ((rc = execution_price(r, o, s, bar, &price)) != 0) return rc;
        if (cap >= 0 && qty > cap) qty = cap;
        if (price <= 0 || qty <= 0) {
            i++;
            continue;
        }
        int buy = o->side == TB_SIDE_BUY;
        if ((rc = commission_of(price, qty, ex->fee_bps, &fee)) != 0) return rc;
        if ((rc = tb_dec_mul(price, qty, TB_ROUND_HALF_UP, &notional)) != 0) return rc;
        if ((rc = tb_dec_sub(r->cash, buy ? notional : -notional, &r->cash)) != 0) return rc;
        if ((rc = tb_dec_sub(r->cash, fee, &r->cash)) != 0) return rc;
        if ((rc = tb_dec_add(r->fees, fee, &r->fees)) != 0) return rc;
        s->held += buy ? qty : -qty;
        if (cap >= 0) cap -= qty;
        o->remaining -= qty;
        if (o->inc > o->remaining) o->inc = o->remaining;
        r->res.fills++;

        leg_strategy *st = &r->strats[o->strat];
        tb_side side = o->side;
        if (o->remaining == 0)
            drop_order(r, i); /* o is gone from here on */
        else
            i++;

        tb_trade_record rec;
        record_for(&rec, TB_REC_FILL, bar->open_time, r, st);
        rec.side = side;
        rec.quantity = qty;
        rec.price = price;
        rec.commission = fee;
        if ((rc = emit(r, &rec)) != 0) return rc;
        if ((rc = net_position(st, side, qty, price)) != 0) return rc;
        record_for(&rec, TB_REC_POSITION, bar->open_time, r, st);
        rec.quantity = st->qty;
        rec.entry_price = st->entry;
        rec.realized_pnl = st->realized;
        if ((rc = emit(r, &rec)) != 0) return rc;
    }
    return 0;
}

/* ---- (c) orders ---------------------------------------------------------- */

/* Cash an order that adds exposure may still use: cash plus the marked
 * holdings (equity), minus their gross value (1× exposure, shorts held as
 * collateral), minus what open orders hold back. Divisions truncate toward
 * zero, as the exchange's do. */
static tb_decimal free_cash(const tb__legacy_runner *r)
{
    __int128 f = r->cash;
    for (size_t i = 0; i < r->nsyms; i++) {
        __int128 v = (__int128)r->syms[i].held * r->syms[i].ref_close / 100000000;
        f += v;
        f -= v < 0 ? -v : v;
    }
    for (size_t i = 0; i < r->norders; i++)
        f -= (__int128)r->orders[i].inc * r->orders[i].per_unit / 100000000;
    if (f > INT64_MAX) f = INT64_MAX;
    if (f < -INT64_MAX) f = -INT64_MAX;
    return (tb_decimal)f;
}

static int multiple_of(tb_decimal v, tb_decimal step)
{
    return step <= 0 || v % step == 0;
}

/* The exchange's checks, in its order. 1 if the order is accepted (then
 * o->inc and o->per_unit are set), 0 if rejected. */
static int accept_order(const tb__legacy_runner *r, leg_order *o)
{
    const leg_symbol *s = &r->syms[o->sym];
    int limit = o->type == TB_ORDER_LIMIT;
    if (o->remaining <= 0) return 0;
    if (limit && o->price <= 0) return 0;
    if (!s->tradable) return 0; /* unknown symbol */
    if (!multiple_of(o->remaining, s->rules.step_size)) return 0;
    if (limit && !multiple_of(o->price, s->rules.tick_size)) return 0;
    tb_decimal ref = limit ? o->price : s->ref_close;
    if (ref <= 0) return 0; /* no market price yet */
    if (s->rules.min_notional > 0) {
        tb_decimal notional;
        if (tb_dec_mul(o->remaining, ref, TB_ROUND_HALF_UP, &notional) == 0 &&
            notional < s->rules.min_notional)
            return 0;
    }
    /* Only the part beyond closing the position adds exposure — the
     * position as it will be once the symbol's open orders have filled. */
    tb_decimal pos = s->held, inc = o->remaining;
    for (size_t i = 0; i < r->norders; i++)
        if (r->orders[i].sym == o->sym)
            pos +=
                r->orders[i].side == TB_SIDE_BUY ? r->orders[i].remaining : -r->orders[i].remaining;
    if (o->side == TB_SIDE_BUY && pos < 0) inc = o->remaining > -pos ? o->remaining + pos : 0;
    if (o->side == TB_SIDE_SELL && pos > 0) inc = o->remaining > pos ? o->remaining - pos : 0;
    tb_decimal per_unit = 0;
    if (inc > 0) {
        /* Hold back ref × (1 + (fee [+ slippage for MARKET]) / 10000) per
         * unit, rounded up, and need inc × that, rounded up. */
        tb_decimal bps = r->cfg->exchange.fee_bps, need;
        if (!limit && tb_dec_add(bps, r->cfg->exchange.slippage_bps, &bps) != 0) return 0;
        if (tb_dec_muldiv_int(ref, ONE_BPS + bps, ONE_BPS, TB_ROUND_CEIL, &per_unit) != 0 ||
            tb_dec_mul(inc, per_unit, TB_ROUND_CEIL, &need) != 0)
            return 0;
        if (need > free_cash(r)) return 0;
    }
    o->inc = inc;
    o->per_unit = per_unit;
    return 1;
}

/* LIMIT price: the close moved by the offset in the trader's favour (buys
 * below, sells above), rounded the same way (down for buys, up for sells)
 * to 8 decimals and then to the tick — the same as rounding the exact
 * value to the tick once. */
static int limit_price_for(const leg_strategy *st, tb_decimal close, int buy, tb_decimal *out)
{
    tb_decimal off = st->sc->limit_offset_bps;
    tb_rounding dir = buy ? TB_ROUND_FLOOR : TB_ROUND_CEIL;
    int rc = tb_dec_muldiv_int(close, buy ? ONE_BPS - off : ONE_BPS + off, ONE_BPS, dir, out);
    if (!rc && st->tick > 0) rc = tb_dec_quantize(*out, st->tick, dir, out);
    return rc;
}

static int run_strategy(tb__legacy_runner *r, size_t idx, const tb_market_data *bar)
{
    leg_strategy *st = &r->strats[idx];
    tb_legacy_view *view = st->state;
    tb_decimal trade = 0;
    int rc;

    view->position = st->target; /* the host's word on the position (legacy.h) */
    if ((rc = st->ls->on_bar(st->state, bar, &trade)) != 0) return rc;
    if (trade == 0) return 0;
    /* A warm-up bar of a live run: the pipeline's Signal Generator drops
     * the decision and keeps the target; so does the monolith here. */
    if (bar->open_time < r->trade_from) return 0;
    if (trade < TB_DECIMAL_MIN) return TB_EOVERFLOW;
    int buy = trade > 0;
    tb_decimal qty = tb_dec_abs(trade), limit = 0, target;
    int is_limit = st->sc->order_type == TB_ORDER_LIMIT;
    if (is_limit && (rc = limit_price_for(st, bar->close, buy, &limit)) != 0) return rc;
    if ((rc = tb_dec_add(st->target, trade, &target)) != 0) return rc;
    st->target = target;
    r->res.signals++;

    tb_trade_record rec;
    record_for(&rec, TB_REC_SIGNAL, bar->close_time, r, st);
    rec.side = buy ? TB_SIDE_BUY : TB_SIDE_SELL;
    rec.quantity = qty;
    rec.price = bar->close;
    if ((rc = emit(r, &rec)) != 0) return rc;

    /* A new signal replaces the strategy's orders still working (the
     * default on_new_signal), and the order is what is missing between the
     * target and what is held plus still working — in one loop, with the
     * same rule the pipeline's Order Manager follows. */
    if (st->sc->on_new_signal == TB_ON_SIGNAL_REPLACE) {
        size_t k = 0;
        for (size_t i = 0; i < r->norders; i++)
            if (r->orders[i].strat != idx) r->orders[k++] = r->orders[i];
        r->norders = k;
    }
    tb_decimal diff = target - st->qty;
    for (size_t i = 0; i < r->norders; i++)
        if (r->orders[i].strat == idx)
            diff -=
                r->orders[i].side == TB_SIDE_BUY ? r->orders[i].remaining : -r->orders[i].remaining;
    if (diff == 0) return 0;
    trade = diff;
    qty = tb_dec_abs(diff);

    record_for(&rec, TB_REC_ORDER, bar->close_time, r, st);
    rec.side = trade > 0 ? TB_SIDE_BUY : TB_SIDE_SELL;
    rec.order_type = is_limit ? TB_ORDER_LIMIT : TB_ORDER_MARKET;
    rec.quantity = qty;
    rec.price = limit;
    r->res.orders++;
    if ((rc = emit(r, &rec)) != 0) return rc;

    leg_order o;
    memset(&o, 0, sizeof(o));
    o.strat = idx;
    o.sym = st->sym;
    o.side = rec.side;
    o.type = rec.order_type;
    o.price = limit;
    o.remaining = qty;
    o.sent_at_bar = r->syms[st->sym].bars;
    if (!accept_order(r, &o)) {
        /* What will never execute leaves the target, as the pipeline's
         * Signal Generator does on OrderRejected. */
        r->res.rejected++;
        st->target -= trade; /* back to its previous value */
        return 0;
    }
    if (r->norders == r->orders_cap) {
        size_t nc = r->orders_cap ? r->orders_cap * 2 : 16;
        leg_order *no = realloc(r->orders, nc * sizeof(*no));
        if (!no) return TB_ENOMEM;
        r->orders = no;
        r->orders_cap = nc;
    }
    r->orders[r->norders++] = o;
    return 0;
}

/* ---- the loop body --------------------------------------------------------- */

int tb__legacy_runner_on_bar(tb__legacy_runner *r, const tb_market_data *bar)
{
    if (!r || !bar) return TB_EINVAL;
    size_t si;
    int rc = find_symbol(r, bar->symbol, &si);
    if (rc) return rc;
    leg_symbol *s = &r->syms[si];
    r->res.bars++;

    /* (a) fills — only on a bar later than the symbol's last one. */
    if (s->tradable && !(s->bars > 0 && bar->close_time <= s->last_time)) {
        s->bars++;
        s->last_time = bar->close_time;
        if ((rc = fill_orders(r, si, bar)) != 0) return rc;
        s->ref_close = bar->close;
    }
    /* (b) marks. */
    if (bar->close > 0) s->mark = bar->close;

    /* (c) strategies, in config order. One failing strategy does not starve
     * the others of the bar; the first error is returned. */
    int first = 0;
    for (size_t i = 0; i < r->nstrats; i++) {
        if (r->strats[i].sym != si) continue;
        rc = run_strategy(r, i, bar);
        if (rc && !first) first = rc;
    }
    return first;
}

void tb__legacy_runner_set_trade_from(tb__legacy_runner *r, int64_t t)
{
    if (r) r->trade_from = t;
}

/* ---- life cycle ------------------------------------------------------------ */

/* A type may also be written "legacy:NAME" (the config's way of asking for
 * a legacy strategy through the adapter); the monolith runs NAME either way. */
static const tb_legacy_strategy *lookup(const tb_legacy_strategy *const *extra, size_t nextra,
                                        const char *name)
{
    if (strncmp(name, "legacy:", 7) == 0) name += 7;
    for (size_t i = 0; extra && i < nextra; i++)
        if (extra[i] && extra[i]->name && strcmp(extra[i]->name, name) == 0) return extra[i];
    return tb_legacy_builtin(name);
}

/* Binance's paper mode is the simulator with sim's settings (cfg->exchange,
 * bn_configure): the monolith's fills are the same rules. Testnet and live
 * fill on a real book, which it cannot model. */
static int is_paper_binance(const tb_config *cfg)
{
    if (cfg->exchange_type != &tb_binance_exchange_type) return 0;
    const char *mode = tb_exchange_param(cfg, "mode");
    return !mode || strcasecmp(mode, "paper") == 0;
}

/* A shadow run on a real exchange (Binance testnet or live): its fills are
 * not the monolith's to model, its decisions are. */
int tb__legacy_decisions_only(const tb_config *cfg)
{
    return cfg->exchange_type == &tb_binance_exchange_type && !is_paper_binance(cfg);
}

static int check_config(const tb_config *cfg, int decisions_only, char *err, size_t errlen);

int tb_legacy_check_config(const tb_config *cfg, char *err, size_t errlen)
{
    return check_config(cfg, 0, err, errlen);
}

/* decisions_only: only signals and orders are compared (a shadow run on a
 * live exchange, whose fills the monolith cannot model): any exchange. */
static int check_config(const tb_config *cfg, int decisions_only, char *err, size_t errlen)
{
    /* What the monolith would silently not do, and the pipeline would: a
     * comparison that can only report divergences. */
    static const char fix[] = "remove it to compare with the legacy monolith";
    /* The monolith's fills are the simulator's rules, with its settings
     * (cfg->exchange): another adapter would diverge by construction. */
    if (!decisions_only && cfg->exchange_type && cfg->exchange_type != &tb_sim_exchange_type &&
        !is_paper_binance(cfg)) {
        tb__errf(err, errlen,
                 "[exchange] type: the legacy monolith models the simulated exchange only; set "
                 "type = sim (or binance with mode = paper) to compare with it");
        return TB_ECONFIG;
    }
    /* A drawdown limit alone changes nothing until it fires; parity and the
     * shadow run refuse the comparison when it does (tb_parity_add_pipeline_run,
     * tb_shadow_on_bar). close_all trades on its own: refused now. */
    if (cfg->risk.halt_close_all) {
        tb__errf(err, errlen,
                 "[risk] halt_action: the legacy monolith does not model trading halts; %s", fix);
        return TB_ECONFIG;
    }
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        const tb_strategy_config *sc = &cfg->strategies[i];
        const char *key = NULL, *what = NULL;
        if (sc->stop_loss_pct > 0)
            key = "stop_loss_pct", what = "stops";
        else if (sc->take_profit_pct > 0)
            key = "take_profit_pct", what = "take-profit targets";
        else if (sc->trailing_stop_pct > 0)
            key = "trailing_stop_pct", what = "trailing stops";
        else if (sc->size_pct > 0)
            key = "size", what = "position sizing";
        else if (sc->risk_per_trade_pct > 0)
            key = "risk_per_trade", what = "position sizing";
        else if (sc->time_in_force != TB_TIF_GTC)
            key = "time_in_force", what = "time in force";
        else if (sc->expire_after_bars > 0)
            key = "expire_after_bars", what = "order expiry";
        if (key) {
            tb__errf(err, errlen, "[strategy.%s] %s: the legacy monolith does not model %s; %s",
                     sc->id, key, what, fix);
            return TB_ECONFIG;
        }
    }
    return 0;
}

int tb__legacy_runner_create(const tb_config *cfg, const tb_legacy_strategy *const *extra,
                             size_t nextra, tb_record_sink sink, void *ctx, tb__legacy_runner **out,
                             char *err, size_t errlen)
{
    return tb__legacy_runner_create_ex(cfg, extra, nextra, sink, ctx, 0, out, err, errlen);
}

int tb__legacy_runner_create_ex(const tb_config *cfg, const tb_legacy_strategy *const *extra,
                                size_t nextra, tb_record_sink sink, void *ctx, int decisions_only,
                                tb__legacy_runner **out, char *err, size_t errlen)
{
    if (!cfg || !out) return TB_EINVAL;
    if (!cfg->built) {
        tb__errf(err, errlen, "the config must be built first (tb_config_build)");
        return TB_EMISUSE;
    }
    int crc = check_config(cfg, decisions_only, err, errlen);
    if (crc) return crc;
    tb__legacy_runner *r = calloc(1, sizeof(*r));
    if (!r) return TB_ENOMEM;
    r->cfg = cfg;
    r->sink = sink;
    r->ctx = ctx;
    r->restricted = cfg->nsymbols > 0;
    r->cash = cfg->exchange.initial_cash;
    int rc = 0;
    size_t si;
    for (size_t i = 0; i < cfg->nsymbols && !rc; i++) {
        rc = find_symbol(r, cfg->symbols[i].symbol, &si);
        if (!rc) {
            r->syms[si].rules = cfg->symbols[i];
            r->syms[si].tradable = 1;
        }
    }
    if (!rc && cfg->nstrategies > 0 && !(r->strats = calloc(cfg->nstrategies, sizeof(*r->strats))))
        rc = TB_ENOMEM;
    for (size_t i = 0; i < cfg->nstrategies && !rc; i++) {
        const tb_strategy_config *sc = &cfg->strategies[i];
        const tb_legacy_strategy *ls = lookup(extra, nextra, sc->type);
        leg_strategy *st = &r->strats[i];
        if (!ls) {
            tb__errf(err, errlen, "[strategy.%s] type: unknown strategy type '%s'", sc->id,
                     sc->type);
            rc = TB_ECONFIG;
            break;
        }
        if (!ls->init || !ls->on_bar || ls->state_size < sizeof(tb_legacy_view)) {
            tb__errf(err, errlen,
                     "[strategy.%s] type: legacy strategy '%s' lacks init/on_bar or a state "
                     "starting with tb_legacy_view",
                     sc->id, sc->type);
            rc = TB_ECONFIG;
            break;
        }
        if ((rc = find_symbol(r, sc->symbol, &si)) != 0) break;
        if (!(st->state = calloc(1, ls->state_size))) {
            rc = TB_ENOMEM;
            break;
        }
        char msg[256] = "";
        rc = ls->init(st->state, sc->params, sc->nparams, msg, sizeof(msg));
        if (rc) {
            free(st->state);
            st->state = NULL;
            tb__errf(err, errlen, "[strategy.%s] %s", sc->id, msg[0] ? msg : tb_strerror(rc));
            rc = rc == TB_ENOMEM ? rc : TB_ECONFIG;
            break;
        }
        st->sc = sc;
        st->ls = ls;
        st->sym = si;
        st->tick = r->syms[si].rules.tick_size;
        r->nstrats = i + 1;
    }
    if (rc) {
        if (rc == TB_ENOMEM && err && errlen && !err[0]) tb__errf(err, errlen, "out of memory");
        tb__legacy_runner_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

int tb__legacy_runner_finish(tb__legacy_runner *r, tb__legacy_result *res)
{
    if (!r) return TB_EINVAL;
    tb_decimal realized = 0, unrealized = 0, u, diff, equity;
    int rc = 0;
    for (size_t i = 0; i < r->nstrats && !rc; i++) {
        const leg_strategy *st = &r->strats[i];
        rc = tb_dec_add(realized, st->realized, &realized);
        if (rc || st->qty == 0) continue;
        /* (mark − entry) × quantity, half-up; the sign of quantity carries
         * the direction. */
        rc = tb_dec_sub(r->syms[st->sym].mark, st->entry, &diff);
        if (!rc) rc = tb_dec_mul(diff, st->qty, TB_ROUND_HALF_UP, &u);
        if (!rc) rc = tb_dec_add(unrealized, u, &unrealized);
    }
    if (!rc) rc = tb_dec_add(r->cfg->exchange.initial_cash, realized, &equity);
    if (!rc) rc = tb_dec_add(equity, unrealized, &equity);
    if (!rc) rc = tb_dec_sub(equity, r->fees, &equity);
    if (rc) return rc;

    r->res.realized_pnl = realized;
    r->res.unrealized_pnl = unrealized;
    r->res.fees = r->fees;
    r->res.final_equity = equity;
    r->res.cash = r->cash;
    if (res) *res = r->res;

    tb_trade_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = TB_REC_FINAL;
    rec.realized_pnl = realized;
    rec.unrealized_pnl = unrealized;
    rec.fees = r->fees;
    return emit(r, &rec);
}

void tb__legacy_runner_destroy(tb__legacy_runner *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nstrats; i++) {
        leg_strategy *st = &r->strats[i];
        if (st->ls->cleanup) st->ls->cleanup(st->state);
        free(st->state);
    }
    free(r->strats);
    free(r->syms);
    free(r->orders);
    free(r);
}

int tb__legacy_run(const tb_config *cfg, const tb_legacy_strategy *const *extra, size_t nextra,
                   tb_record_sink sink, void *ctx, tb__legacy_result *res, char *err, size_t errlen)
{
    tb__legacy_runner *r = NULL;
    tb_md_merge *md = NULL;
    tb_md_config mc;
    tb_market_data bar;
    int rc;

    if (err && errlen) err[0] = '\0';
    if (res) memset(res, 0, sizeof(*res));
    if (!cfg) return TB_EINVAL;
    if ((rc = tb__legacy_runner_create(cfg, extra, nextra, sink, ctx, &r, err, errlen)) != 0)
        return rc;
    tb_config_md_options(cfg, &mc);
    rc = tb_md_merge_open((const char *const *)cfg->data, cfg->ndata, &mc, &md, err, errlen);
    while (rc == 0 && (rc = tb_md_merge_next(md, &bar, err, errlen)) == 0) {
        if ((rc = tb__legacy_runner_on_bar(r, &bar)) != 0)
            tb__errf(err, errlen, "legacy run: bar of %s closing at %lld ns: %s", bar.symbol,
                     (long long)bar.close_time, tb_strerror(rc));
    }
    if (rc == TB_EEOF) rc = tb__legacy_runner_finish(r, res);
    tb_md_merge_close(md);
    tb__legacy_runner_destroy(r);
    return rc;
}
