/* The Risk Manager: pre-trade rules and the post-trade drawdown halt.
 *
 * Everything it knows comes from events, kept in small tables that grow by
 * doubling only when a new key appears (a symbol, a (strategy, symbol)
 * position, an open order beyond the current capacity): an event for known
 * keys allocates nothing.
 *
 * Limits are compared exactly: a product or quotient that must stay at or
 * under a limit is rounded toward +infinity before the comparison, and since
 * a limit is itself a multiple of 1e-8, "rounded > limit" holds exactly when
 * "exact > limit" does. A refusal's detail shows that rounded-up value, so the
 * number shown always exceeds the limit shown; percentages are shown with two
 * decimals, half-up.
 *
 * Every event is validated before it touches anything (see risk.h): first
 * its form (validate.h), then against the state — a bar's time against its
 * symbol's last, a fill's and an update's time against their (strategy,
 * symbol)'s last, an order event against the order's place in the state
 * machine. The checks read the tables and allocate nothing, so a refused
 * event leaves the manager exactly as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/decimal_int.h"
#include "../core/fixstr.h"
#include "../core/keyindex.h"
#include "tradebus/risk.h"
#include "validate.h"

/* Exact products of two decimals. */
__extension__ typedef __int128 i128;

#define INITIAL_SYMBOLS   8
#define INITIAL_POSITIONS 16
#define INITIAL_ORDERS    64
#define WINDOW_NS         INT64_C(60000000000)
#define NSUBS             6
/* Room for any detail with every number at full width; the alert's field
 * (TB_TEXT_LEN) holds every realistic one whole. */
#define DETAIL_MAX 192

typedef struct {
    uint64_t hash; /* first: the index rebuild reads it at offset 0 */
    char symbol[TB_SYMBOL_LEN];
    tb_decimal close;
    int has_close; /* a bar was accepted: close and the two below are set */
    int64_t last_close_time;
    uint64_t last_bar_id;    /* a redelivery of this very bar is not "out of order" */
    tb_decimal net_quantity; /* all strategies together */
} symbol_slot;

typedef struct {
    uint64_t hash; /* first, as above */
    char strategy_id[TB_STRATEGY_LEN];
    int32_t sym;
    uint64_t position_id; /* the latest seen for this (strategy, symbol) */
    tb_decimal quantity, entry, realized, mark;
    int64_t last_fill_time, last_update_time; /* neither goes back in time */
} position_slot;

/* Open orders by client order id, stored in the probe table itself since
 * they are removed as often as added (backward-shift deletion: no
 * tombstones). An order is open from its OrderCreated until a fill that
 * completes it, its cancel or expiry. */
typedef struct {
    uint64_t hash;
    int used;
    tb_order_status status; /* NEW or PARTIALLY_FILLED */
    char id[TB_ORDER_ID_LEN];
    uint64_t created_id; /* the OrderCreated's event id: a redelivery of it is no new ack */
    tb_decimal quantity; /* ordered: no fill may take the total past it */
} order_slot;

struct tb_risk_manager {
    tb_bus *bus;
    tb_risk_config cfg;
    int subs[NSUBS];

    symbol_slot *syms;
    size_t nsyms, syms_cap;
    size_t last_sym; /* the last bar's symbol: bars of one symbol skip the hash */
    tb__index sym_idx;

    position_slot *pos;
    size_t npos, pos_cap;
    tb__index pos_idx;

    order_slot *orders;
    size_t norders, orders_cap;

    tb_decimal realized_total; /* every position ever, flipped-away ones included */
    tb_decimal fees;
    tb_decimal equity, peak;
    /* The worst drawdown so far as the fraction dd_diff / dd_peak (dd_peak 0:
     * none): compared by cross-multiplying, divided only when read. */
    tb_decimal dd_diff, dd_peak;
    tb_trading_state state;

    /* Event times of the last approved orders, oldest at window_head. */
    int64_t *window;
    size_t window_n, window_head;
};

static int32_t find_symbol(const tb_risk_manager *rm, const char *symbol)
{
    uint64_t h = tb__hash_key(NULL, symbol);
    size_t mask = rm->sym_idx.cap - 1;
    for (size_t i = (size_t)h & mask; rm->sym_idx.slots[i]; i = (i + 1) & mask) {
        const symbol_slot *s = &rm->syms[rm->sym_idx.slots[i] - 1];
        if (s->hash == h && tb__sym_eq(s->symbol, symbol))
            return (int32_t)(rm->sym_idx.slots[i] - 1);
    }
    return -1;
}

static int intern_symbol(tb_risk_manager *rm, const char *symbol, int32_t *out)
{
    int32_t si = find_symbol(rm, symbol);
    if (si >= 0) {
        *out = si;
        return 0;
    }
    symbol_slot *ns = tb__reserve_one(rm->syms, &rm->syms_cap, rm->nsyms, sizeof(*ns));
    if (!ns) return TB_ENOMEM;
    rm->syms = ns;
    int rc = tb__index_reserve(&rm->sym_idx, rm->syms, sizeof(*rm->syms), rm->nsyms);
    if (rc) return rc;
    symbol_slot *s = &rm->syms[rm->nsyms];
    memset(s, 0, sizeof(*s));
    s->hash = tb__hash_key(NULL, symbol);
    memcpy(s->symbol, symbol, strlen(symbol) + 1);
    tb__index_put(&rm->sym_idx, s->hash, rm->nsyms);
    *out = (int32_t)rm->nsyms++;
    return 0;
}

/* strategy_id, symbol, and find_order's id: events' fields (arrays of
 * their full size), compared a word at a time. */
static int32_t find_position(const tb_risk_manager *rm, uint64_t h, const char *strategy_id,
                             const char *symbol)
{
    size_t mask = rm->pos_idx.cap - 1;
    for (size_t i = (size_t)h & mask; rm->pos_idx.slots[i]; i = (i + 1) & mask) {
        const position_slot *s = &rm->pos[rm->pos_idx.slots[i] - 1];
        if (s->hash == h && tb__strategy_eq(s->strategy_id, strategy_id) &&
            tb__sym_eq(rm->syms[s->sym].symbol, symbol))
            return (int32_t)(rm->pos_idx.slots[i] - 1);
    }
    return -1;
}

static int intern_position(tb_risk_manager *rm, const char *strategy_id, const char *symbol,
                           int32_t *out)
{
    uint64_t h = tb__hash_key(strategy_id, symbol);
    int32_t found = find_position(rm, h, strategy_id, symbol);
    if (found >= 0) {
        *out = found;
        return 0;
    }
    int32_t si;
    int rc = intern_symbol(rm, symbol, &si);
    if (rc) return rc;
    position_slot *np = tb__reserve_one(rm->pos, &rm->pos_cap, rm->npos, sizeof(*np));
    if (!np) return TB_ENOMEM;
    rm->pos = np;
    rc = tb__index_reserve(&rm->pos_idx, rm->pos, sizeof(*rm->pos), rm->npos);
    if (rc) return rc;
    position_slot *s = &rm->pos[rm->npos];
    memset(s, 0, sizeof(*s));
    s->hash = h;
    memcpy(s->strategy_id, strategy_id, strlen(strategy_id) + 1);
    s->sym = si;
    tb__index_put(&rm->pos_idx, h, rm->npos);
    *out = (int32_t)rm->npos++;
    return 0;
}

static order_slot *find_order(const tb_risk_manager *rm, const char *id, uint64_t h)
{
    size_t mask = rm->orders_cap - 1;
    for (size_t i = (size_t)h & mask; rm->orders[i].used; i = (i + 1) & mask)
        if (rm->orders[i].hash == h && tb__cid_eq(rm->orders[i].id, id)) return &rm->orders[i];
    return NULL;
}

static void put_order(order_slot *table, size_t cap, const order_slot *o)
{
    size_t mask = cap - 1;
    size_t i = (size_t)o->hash & mask;
    while (table[i].used)
        i = (i + 1) & mask;
    table[i] = *o;
}

/* id must not be open yet (the caller checked). */
static int add_open_order(tb_risk_manager *rm, const tb_event *ev)
{
    const tb_order_created *c = &ev->u.order_created;
    uint64_t h = tb__hash_key(NULL, c->client_order_id);
    if ((rm->norders + 1) * 2 > rm->orders_cap) {
        size_t nc = rm->orders_cap * 2;
        order_slot *nt = calloc(nc, sizeof(*nt));
        if (!nt) return TB_ENOMEM;
        for (size_t i = 0; i < rm->orders_cap; i++)
            if (rm->orders[i].used) put_order(nt, nc, &rm->orders[i]);
        free(rm->orders);
        rm->orders = nt;
        rm->orders_cap = nc;
    }
    order_slot o;
    memset(&o, 0, sizeof(o));
    o.hash = h;
    o.used = 1;
    o.status = c->status;
    memcpy(o.id, c->client_order_id, strlen(c->client_order_id) + 1);
    o.created_id = ev->event_id;
    o.quantity = c->quantity;
    put_order(rm->orders, rm->orders_cap, &o);
    rm->norders++;
    return 0;
}

static void remove_open_order(tb_risk_manager *rm, order_slot *o)
{
    size_t mask = rm->orders_cap - 1;
    size_t i = (size_t)(o - rm->orders), j = i;
    rm->orders[i].used = 0;
    rm->norders--;
    /* Backward shift: pull later members of the probe run into the hole
     * unless their home slot lies cyclically in (hole, j]. */
    for (;;) {
        j = (j + 1) & mask;
        if (!rm->orders[j].used) break;
        size_t home = (size_t)rm->orders[j].hash & mask;
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        rm->orders[i] = rm->orders[j];
        rm->orders[j].used = 0;
        i = j;
    }
}

/* initial + realized − fees + Σ (mark − entry) × quantity, the mark being the
 * symbol's last close, or the position's own mark before any bar. */
TB__HOT static int compute_equity(const tb_risk_manager *rm, tb_decimal *out)
{
    tb_decimal e;
    int rc = tb__dec_add(rm->cfg.initial_equity, rm->realized_total, &e);
    if (!rc) rc = tb__dec_sub(e, rm->fees, &e);
    for (size_t i = 0; i < rm->npos && !rc; i++) {
        const position_slot *p = &rm->pos[i];
        if (p->quantity == 0) continue;
        const symbol_slot *s = &rm->syms[p->sym];
        tb_decimal diff, u;
        rc = tb__dec_sub(s->has_close ? s->close : p->mark, p->entry, &diff);
        if (!rc) rc = tb__dec_mul_half_up(diff, p->quantity, &u);
        if (!rc) rc = tb__dec_add(e, u, &e);
    }
    if (!rc) *out = e;
    return rc;
}

/* Between bars equity is refreshed best-effort: on overflow it keeps its last
 * value, and the next bar, which must compute it, reports the error. */
static void refresh_equity(tb_risk_manager *rm)
{
    tb_decimal e;
    if (compute_equity(rm, &e) == 0) rm->equity = e;
}

/* "12.5" → "12.50": the percent shown with two decimals, half-up. */
static void format_pct2(tb_decimal pct, char *buf, size_t len)
{
    tb_decimal q = pct;
    if (tb_dec_quantize(pct, TB_DECIMAL_ONE / 100, TB_ROUND_HALF_UP, &q)) q = pct;
    tb_decimal a = tb_dec_abs(q);
    snprintf(buf, len, "%s%lld.%02lld", q < 0 ? "-" : "", (long long)(a / TB_DECIMAL_ONE),
             (long long)(a % TB_DECIMAL_ONE / (TB_DECIMAL_ONE / 100)));
}

/* Truncating copy (alert texts are bounded; a cut detail beats none). */
static void copy_str(char *dst, size_t cap, const char *src)
{
    if (!dst || !cap) return;
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int publish_alert(tb_risk_manager *rm, const tb_event *cause, const char *rule,
                         const char *detail, const char *strategy_id, const char *symbol)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_RISK);
    tb_event_caused_by(&ev, cause);
    ev.timestamp = cause->timestamp;
    tb_risk_alert *a = &ev.u.risk_alert;
    copy_str(a->rule, sizeof(a->rule), rule);
    copy_str(a->detail, sizeof(a->detail), detail);
    copy_str(a->strategy_id, sizeof(a->strategy_id), strategy_id);
    copy_str(a->symbol, sizeof(a->symbol), symbol);
    a->trading_state = rm->state;
    return tb_bus_publish(rm->bus, &ev);
}

/* Runs on every bar: no division here (a 128-bit one per bar was a tenth
 * of the Risk Manager's time). Fractions are compared by multiplying out:
 * d1/p1 > d2/p2 with p1, p2 > 0 is d1 x p2 > d2 x p1, exact in 128 bits. */
static int check_drawdown(tb_risk_manager *rm, const tb_event *bar)
{
    if (rm->equity > rm->peak) rm->peak = rm->equity;
    if (rm->peak <= 0) return 0; /* a percentage of nothing means nothing */
    tb_decimal diff;
    int rc = tb__dec_sub(rm->peak, rm->equity, &diff);
    if (rc || diff <= 0) return rc;
    if (rm->dd_peak == 0 || (i128)diff * rm->dd_peak > (i128)rm->dd_diff * rm->peak) {
        rm->dd_diff = diff;
        rm->dd_peak = rm->peak;
    }
    if (rm->cfg.max_drawdown_pct <= 0 || rm->state == TB_TRADING_HALTED) return 0;
    /* Exact "drawdown > limit": diff x 100 / peak > limit. */
    if ((i128)diff * (100 * TB_DECIMAL_ONE) <= (i128)rm->cfg.max_drawdown_pct * rm->peak) return 0;

    tb_decimal dd;
    rc = tb_dec_muldiv_int(diff, 100 * TB_DECIMAL_ONE, rm->peak, TB_ROUND_HALF_UP, &dd);
    if (rc) return rc;
    char e[TB_DECIMAL_STRLEN], p[TB_DECIMAL_STRLEN], l[TB_DECIMAL_STRLEN], pct[TB_DECIMAL_STRLEN];
    char detail[DETAIL_MAX];
    tb_dec_format(rm->equity, e, sizeof(e));
    tb_dec_format(rm->peak, p, sizeof(p));
    tb_dec_format(rm->cfg.max_drawdown_pct, l, sizeof(l));
    format_pct2(dd, pct, sizeof(pct));
    snprintf(detail, sizeof(detail), "drawdown %s%% > %s%% (equity %s, peak %s)", pct, l, e, p);
    tb_trading_state before = rm->state;
    rm->state = TB_TRADING_HALTED;
    rc = publish_alert(rm, bar, "max_drawdown_pct", detail, "", bar->u.market_data.symbol);
    /* Unhalted again so the bus's retry raises the alert once more. */
    if (rc) rm->state = before;
    return rc;
}

/* The bar's close_time against the symbol's last bar (si < 0: none yet). */
static int check_bar_time(tb_risk_manager *rm, int32_t si, const tb_event *ev)
{
    const tb_market_data *md = &ev->u.market_data;
    if (si < 0 || !rm->syms[si].has_close || ev->event_id == rm->syms[si].last_bar_id) return 0;
    int64_t last = rm->syms[si].last_close_time;
    if (md->close_time < last) {
        tb_bus_fail_reason(rm->bus,
                           "MarketData %s close_time %lld is before the previous bar's %lld",
                           md->symbol, (long long)md->close_time, (long long)last);
        return TB_EDATA;
    }
    if (md->close_time == last) {
        tb_bus_fail_reason(rm->bus, "MarketData %s close_time %lld repeats the previous bar's",
                           md->symbol, (long long)md->close_time);
        return TB_EDATA;
    }
    return 0;
}

TB__HOT static int on_market_data(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_MARKET_DATA, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_market_data *md = &ev->u.market_data;
    int32_t si = rm->last_sym < rm->nsyms && tb__sym_eq(rm->syms[rm->last_sym].symbol, md->symbol)
                     ? (int32_t)rm->last_sym
                     : find_symbol(rm, md->symbol);
    if ((rc = check_bar_time(rm, si, ev)) != 0) return rc;
    if (si < 0 && (rc = intern_symbol(rm, md->symbol, &si)) != 0) return rc;
    rm->last_sym = (size_t)si;
    rm->syms[si].close = md->close;
    rm->syms[si].has_close = 1;
    rm->syms[si].last_close_time = md->close_time;
    rm->syms[si].last_bar_id = ev->event_id;
    tb_decimal e;
    rc = compute_equity(rm, &e);
    if (rc) return rc;
    rm->equity = e;
    return check_drawdown(rm, ev);
}

static order_slot *find_open_order(const tb_risk_manager *rm, const char *client_order_id)
{
    return find_order(rm, client_order_id, tb__hash_key(NULL, client_order_id));
}

/* An acknowledgement opens the order, unless it is already done (an
 * immediate fill or an IOC's expiry: nothing stays working). */
static int on_order_created(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_ORDER_CREATED, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_order_created *o = &ev->u.order_created;
    if (o->status == TB_ORDER_PENDING || o->status == TB_ORDER_REJECTED) {
        tb_bus_fail_reason(rm->bus,
                           "OrderCreated for order '%s' has status %s, which no acknowledged "
                           "order has",
                           o->client_order_id, tb_order_status_name(o->status));
        return TB_ESTATE;
    }
    const order_slot *open = find_open_order(rm, o->client_order_id);
    if (open) {
        if (open->created_id == ev->event_id) return 0; /* a redelivery */
        tb_bus_fail_reason(rm->bus, "OrderCreated for order '%s', which is already open",
                           o->client_order_id);
        return TB_ESTATE;
    }
    if (tb_order_status_is_terminal(o->status)) return 0;
    return add_open_order(rm, ev);
}

/* The (strategy, symbol) slot's last fill or update time against ev's. */
static int check_key_time(tb_risk_manager *rm, int32_t pi, const tb_event *ev, int fill)
{
    if (pi < 0) return 0;
    const position_slot *p = &rm->pos[pi];
    int64_t last = fill ? p->last_fill_time : p->last_update_time;
    if (ev->timestamp >= last) return 0;
    tb_bus_fail_reason(rm->bus, "%s %s/%s timestamp %lld is before the previous %s's %lld",
                       tb_event_type_name(ev->type), p->strategy_id, rm->syms[p->sym].symbol,
                       (long long)ev->timestamp, fill ? "fill" : "update", (long long)last);
    return TB_ESTATE;
}

static int on_order_filled(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_ORDER_FILLED, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_order_filled *f = &ev->u.order_filled;
    order_slot *o = find_open_order(rm, f->client_order_id);
    if (!o) {
        /* Done already (FILLED, CANCELED, REJECTED and EXPIRED move nowhere)
         * or never acknowledged: either way no fill belongs to it. */
        tb_bus_fail_reason(rm->bus, "OrderFilled for order '%s', which is not open",
                           f->client_order_id);
        return TB_ESTATE;
    }
    if (!tb_order_status_can_move(o->status, f->status)) {
        tb_bus_fail_reason(rm->bus, "OrderFilled for order '%s' cannot move it from %s to %s",
                           f->client_order_id, tb_order_status_name(o->status),
                           tb_order_status_name(f->status));
        return TB_ESTATE;
    }
    if (f->cumulative_quantity > o->quantity) {
        char c[TB_DECIMAL_STRLEN], q[TB_DECIMAL_STRLEN];
        tb_dec_format(f->cumulative_quantity, c, sizeof(c));
        tb_dec_format(o->quantity, q, sizeof(q));
        tb_bus_fail_reason(rm->bus,
                           "OrderFilled.cumulative_quantity %s exceeds order '%s' quantity %s", c,
                           f->client_order_id, q);
        return TB_ESTATE;
    }
    int32_t pi =
        find_position(rm, tb__hash_key(f->strategy_id, f->symbol), f->strategy_id, f->symbol);
    if ((rc = check_key_time(rm, pi, ev, 1)) != 0) return rc;
    tb_decimal fees;
    if ((rc = tb_dec_add(rm->fees, f->commission, &fees)) != 0) return rc;
    /* The slot keeps the fill time even before a PositionUpdate names it. */
    if (pi < 0 && (rc = intern_position(rm, f->strategy_id, f->symbol, &pi)) != 0) return rc;

    rm->fees = fees;
    rm->pos[pi].last_fill_time = ev->timestamp;
    if (f->status == TB_ORDER_FILLED)
        remove_open_order(rm, o);
    else
        o->status = f->status;
    refresh_equity(rm);
    return 0;
}

/* A rejection ends an order the exchange never acknowledged (PENDING →
 * REJECTED): there is nothing open to remove. One for an open order is an
 * illegal move. */
static int on_order_rejected(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_ORDER_REJECTED, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_order_rejected *r = &ev->u.order_rejected;
    const order_slot *o = find_open_order(rm, r->client_order_id);
    if (o) {
        tb_bus_fail_reason(rm->bus,
                           "OrderRejected for order '%s', which the exchange acknowledged (%s)",
                           r->client_order_id, tb_order_status_name(o->status));
        return TB_ESTATE;
    }
    return 0;
}

static int on_order_canceled(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_ORDER_CANCELED, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_order_canceled *c = &ev->u.order_canceled;
    order_slot *o = find_open_order(rm, c->client_order_id);
    if (!o) {
        tb_bus_fail_reason(rm->bus, "%s for order '%s', which is not open",
                           tb_event_type_name(ev->type), c->client_order_id);
        return TB_ESTATE;
    }
    remove_open_order(rm, o);
    return 0;
}

static int on_position_update(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(rm->bus, ev, TB_EV_POSITION_UPDATE, why, sizeof(why));
    if (rc) return tb__refuse(rm->bus, rc, why);
    const tb_position_update *u = &ev->u.position;
    int32_t pi =
        find_position(rm, tb__hash_key(u->strategy_id, u->symbol), u->strategy_id, u->symbol);
    /* Position ids only grow (a flip or a reopen takes the next): an older
     * one is a late update of a life that has ended. */
    if (pi >= 0 && u->position_id < rm->pos[pi].position_id) {
        tb_bus_fail_reason(rm->bus,
                           "PositionUpdate %s/%s position_id %llu is older than the current %llu",
                           u->strategy_id, u->symbol, (unsigned long long)u->position_id,
                           (unsigned long long)rm->pos[pi].position_id);
        return TB_ESTATE;
    }
    if ((rc = check_key_time(rm, pi, ev, 0)) != 0) return rc;
    if (pi < 0 && (rc = intern_position(rm, u->strategy_id, u->symbol, &pi)) != 0) return rc;
    position_slot *p = &rm->pos[pi];
    symbol_slot *s = &rm->syms[p->sym];

    /* A new position id means the previous one ended (a flip or a reopen):
     * its realized PnL stays in the total, the new one adds to it. */
    tb_decimal prev_realized = p->position_id == u->position_id ? p->realized : 0;
    tb_decimal net, realized;
    rc = tb_dec_sub(s->net_quantity, p->quantity, &net);
    if (!rc) rc = tb_dec_add(net, u->current_quantity, &net);
    if (!rc) rc = tb_dec_sub(rm->realized_total, prev_realized, &realized);
    if (!rc) rc = tb_dec_add(realized, u->realized_pnl, &realized);
    if (rc) return rc;

    s->net_quantity = net;
    rm->realized_total = realized;
    p->position_id = u->position_id;
    p->quantity = u->current_quantity;
    p->entry = u->entry_price;
    p->realized = u->realized_pnl;
    p->mark = u->mark_price;
    p->last_update_time = ev->timestamp;
    refresh_equity(rm);
    return 0;
}

static int refuse(tb_risk_manager *rm, const tb_event *request, const char *rule_name,
                  const char *text, char *rule, size_t rulelen, char *detail, size_t detaillen)
{
    const tb_order_placement_request *o = &request->u.order_request;
    copy_str(rule, rulelen, rule_name);
    copy_str(detail, detaillen, text);
    /* The refusal stands even if the alert could not be queued: an order
     * must never pass because the bus ran out of memory. */
    (void)publish_alert(rm, request, rule_name, text, o->strategy_id, o->symbol);
    return TB_EREJECTED;
}

/* 0, or TB_EINVAL with the reason in why: the request's form, and a LIMIT
 * price to compare (the codec allows 0 for MARKET's unused price). */
static int check_request(const tb_event *request, char *why, size_t len)
{
    int rc = tb__check_event(request, TB_EV_ORDER_PLACEMENT_REQUEST, why, len);
    if (rc) return rc;
    const tb_order_placement_request *o = &request->u.order_request;
    if (o->order_type == TB_ORDER_LIMIT && o->price <= 0) {
        char p[TB_DECIMAL_STRLEN];
        tb_dec_format(o->price, p, sizeof(p));
        snprintf(why, len, "OrderPlacementRequest.price %s is not positive for a LIMIT order", p);
        return TB_EINVAL;
    }
    return 0;
}

int tb_risk_manager_pretrade(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                             char *detail, size_t detaillen)
{
    return tb_risk_manager_pretrade_view(ctx, request, NULL, rule, rulelen, detail, detaillen);
}

int tb_risk_manager_pretrade_view(void *ctx, const tb_event *request, tb_pretrade_view *view,
                                  char *rule, size_t rulelen, char *detail, size_t detaillen)
{
    tb_risk_manager *rm = ctx;
    if (!rm || !request) return TB_EINVAL;
    char why[TB__WHY_LEN];
    if (check_request(request, why, sizeof(why)) != 0) {
        copy_str(rule, rulelen, "invalid_order");
        copy_str(detail, detaillen, why);
        return TB_EINVAL;
    }
    const tb_order_placement_request *o = &request->u.order_request;

    char text[DETAIL_MAX], a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
    int32_t si = find_symbol(rm, o->symbol);
    const symbol_slot *s = si >= 0 ? &rm->syms[si] : NULL;
    /* The position the order is judged against: the Order Manager's view
     * when it gives one (it sees fills first), else what the fills seen so
     * far say; plus, worst case, the strategy's other working orders on the
     * order's side. */
    tb_decimal held = view ? view->position : (s ? s->net_quantity : 0);
    tb_decimal before = held, after, qty = o->quantity;
    int after_overflows = view && tb_dec_add(held, view->working_same_way, &before) != 0;
    if (!after_overflows)
        after_overflows = tb_dec_add(before, o->side == TB_SIDE_BUY ? qty : -qty, &after) != 0;
    int increases = after_overflows || tb_dec_abs(after) > tb_dec_abs(before);
    /* Crossing zero is a close plus a new position the other way. */
    int crosses = !after_overflows && ((before > 0 && after < 0) || (before < 0 && after > 0));
    tb_decimal price = o->order_type == TB_ORDER_LIMIT ? o->price : (s ? s->close : 0);
    int has_price = o->order_type == TB_ORDER_LIMIT || (s && s->has_close);

    /* A reducing order always passes this rule: refusing it would keep a
     * position further past the limit than letting it through. */
    if (rm->cfg.max_position > 0 &&
        (after_overflows || (tb_dec_abs(after) > rm->cfg.max_position && increases))) {
        tb_dec_format(rm->cfg.max_position, b, sizeof(b));
        if (after_overflows)
            snprintf(a, sizeof(a), "out of range");
        else
            tb_dec_format(after, a, sizeof(a));
        snprintf(text, sizeof(text), "position %s exceeds %s", a, b);
        return refuse(rm, request, "max_position", text, rule, rulelen, detail, detaillen);
    }

    if (rm->cfg.max_order_notional > 0 && has_price) {
        tb_decimal notional = 0;
        int overflows = tb_dec_mul(o->quantity, price, TB_ROUND_CEIL, &notional) != 0;
        if (overflows || notional > rm->cfg.max_order_notional) {
            if (overflows)
                snprintf(a, sizeof(a), "out of range");
            else
                tb_dec_format(notional, a, sizeof(a));
            tb_dec_format(rm->cfg.max_order_notional, b, sizeof(b));
            snprintf(text, sizeof(text), "notional %s exceeds %s", a, b);
            return refuse(rm, request, "max_order_notional", text, rule, rulelen, detail,
                          detaillen);
        }
    }

    if (rm->cfg.max_open_orders > 0 && rm->norders >= (size_t)rm->cfg.max_open_orders) {
        snprintf(text, sizeof(text), "%zu open orders, limit %d", rm->norders,
                 rm->cfg.max_open_orders);
        return refuse(rm, request, "max_open_orders", text, rule, rulelen, detail, detaillen);
    }

    if (rm->cfg.price_band_pct > 0 && o->order_type == TB_ORDER_LIMIT && s && s->has_close) {
        tb_decimal dev = tb_dec_abs(o->price - s->close), pct_ceil, pct;
        if (tb_dec_muldiv_int(dev, 100 * TB_DECIMAL_ONE, s->close, TB_ROUND_CEIL, &pct_ceil) ||
            pct_ceil > rm->cfg.price_band_pct) {
            char shown[TB_DECIMAL_STRLEN];
            if (tb_dec_muldiv_int(dev, 100 * TB_DECIMAL_ONE, s->close, TB_ROUND_HALF_UP, &pct))
                snprintf(shown, sizeof(shown), "out of range");
            else
                format_pct2(pct, shown, sizeof(shown));
            tb_dec_format(o->price, a, sizeof(a));
            tb_dec_format(s->close, b, sizeof(b));
            tb_dec_format(rm->cfg.price_band_pct, c, sizeof(c));
            snprintf(text, sizeof(text), "price %s is %s%% from last close %s, limit %s%%", a,
                     shown, b, c);
            return refuse(rm, request, "price_band_pct", text, rule, rulelen, detail, detaillen);
        }
    }

    size_t n = (size_t)rm->cfg.max_orders_per_minute;
    if (n > 0 && rm->window_n == n) {
        int64_t oldest = rm->window[rm->window_head], t = request->timestamp;
        /* Unsigned difference: t − oldest cannot overflow this way. */
        if (t < oldest || (uint64_t)t - (uint64_t)oldest < (uint64_t)WINDOW_NS) {
            snprintf(text, sizeof(text), "%zu orders in the last 60 s, limit %zu", n, n);
            return refuse(rm, request, "max_orders_per_minute", text, rule, rulelen, detail,
                          detaillen);
        }
    }

    /* Not ACTIVE is reduce-only: an order passes only if it brings
     * |position| closer to zero without crossing it. A flip is cut down to
     * the close when the caller can send a smaller order (a view). */
    if (rm->state != TB_TRADING_ACTIVE && ((increases && !crosses) || (crosses && !view))) {
        tb_dec_format(before, a, sizeof(a));
        if (after_overflows)
            snprintf(b, sizeof(b), "out of range");
        else
            tb_dec_format(after, b, sizeof(b));
        snprintf(text, sizeof(text), "%s: order would %s position %s to %s",
                 tb_trading_state_name(rm->state), crosses ? "flip" : "increase", a, b);
        return refuse(rm, request, "trading_state", text, rule, rulelen, detail, detaillen);
    }
    if (rm->state != TB_TRADING_ACTIVE && crosses) {
        tb_decimal cut = tb_dec_abs(before);
        tb_dec_format(o->quantity, a, sizeof(a));
        tb_dec_format(cut, b, sizeof(b));
        snprintf(text, sizeof(text), "%s: reduce only: %s %s cut to %s, a close",
                 tb_trading_state_name(rm->state), tb_side_name(o->side), a, b);
        view->quantity = cut;
        (void)publish_alert(rm, request, "trading_state", text, o->strategy_id, o->symbol);
    }

    /* Only approved orders count toward the rate. */
    if (n > 0) {
        if (rm->window_n < n) {
            rm->window[(rm->window_head + rm->window_n++) % n] = request->timestamp;
        } else {
            rm->window[rm->window_head] = request->timestamp;
            rm->window_head = (rm->window_head + 1) % n;
        }
    }
    return 0;
}

void tb_risk_config_init(tb_risk_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->initial_equity = 10000 * TB_DECIMAL_ONE;
}

int tb_risk_manager_create(tb_bus *bus, const tb_risk_config *cfg, tb_risk_manager **out)
{
    tb_risk_config def;
    if (!bus || !out) return TB_EINVAL;
    if (!cfg) {
        tb_risk_config_init(&def);
        cfg = &def;
    }
    if (cfg->max_position < 0 || cfg->max_order_notional < 0 || cfg->max_open_orders < 0 ||
        cfg->price_band_pct < 0 || cfg->max_orders_per_minute < 0 || cfg->max_drawdown_pct < 0)
        return TB_EINVAL;

    tb_risk_manager *rm = calloc(1, sizeof(*rm));
    if (!rm) return TB_ENOMEM;
    rm->bus = bus;
    rm->cfg = *cfg;
    rm->equity = rm->peak = cfg->initial_equity;
    rm->state = TB_TRADING_ACTIVE;
    for (int i = 0; i < NSUBS; i++)
        rm->subs[i] = -1;
    rm->syms_cap = INITIAL_SYMBOLS;
    rm->pos_cap = INITIAL_POSITIONS;
    rm->orders_cap = INITIAL_ORDERS;
    rm->syms = malloc(rm->syms_cap * sizeof(*rm->syms));
    rm->pos = malloc(rm->pos_cap * sizeof(*rm->pos));
    rm->orders = calloc(rm->orders_cap, sizeof(*rm->orders));
    if (cfg->max_orders_per_minute > 0)
        rm->window = malloc((size_t)cfg->max_orders_per_minute * sizeof(*rm->window));
    int rc = (rm->syms && rm->pos && rm->orders && (rm->window || !cfg->max_orders_per_minute))
                 ? 0
                 : TB_ENOMEM;
    if (!rc) rc = tb__index_init(&rm->sym_idx, INITIAL_SYMBOLS * 2);
    if (!rc) rc = tb__index_init(&rm->pos_idx, INITIAL_POSITIONS * 2);

    static const struct {
        tb_event_type type;
        tb_handler fn;
    } routes[NSUBS] = {
        {TB_EV_MARKET_DATA, on_market_data},       {TB_EV_ORDER_CREATED, on_order_created},
        {TB_EV_ORDER_FILLED, on_order_filled},     {TB_EV_ORDER_REJECTED, on_order_rejected},
        {TB_EV_ORDER_CANCELED, on_order_canceled}, {TB_EV_POSITION_UPDATE, on_position_update},
    };
    for (int i = 0; i < NSUBS && rc >= 0; i++) {
        rc = tb_bus_subscribe_named(bus, routes[i].type, routes[i].fn, rm,
                                    tb_source_name(TB_SRC_RISK));
        if (rc >= 0) rm->subs[i] = rc;
    }
    if (rc < 0) {
        tb_risk_manager_destroy(rm);
        return rc;
    }
    *out = rm;
    return 0;
}

void tb_risk_manager_destroy(tb_risk_manager *rm)
{
    if (!rm) return;
    for (int i = 0; i < NSUBS; i++)
        if (rm->subs[i] >= 0) tb_bus_unsubscribe(rm->bus, rm->subs[i]);
    tb__index_close(&rm->sym_idx);
    tb__index_close(&rm->pos_idx);
    free(rm->syms);
    free(rm->pos);
    free(rm->orders);
    free(rm->window);
    free(rm);
}

tb_trading_state tb_risk_manager_state(const tb_risk_manager *rm)
{
    return rm ? rm->state : TB_TRADING_ACTIVE;
}

tb_decimal tb_risk_manager_equity(const tb_risk_manager *rm)
{
    return rm ? rm->equity : 0;
}

tb_decimal tb_risk_manager_cash(const tb_risk_manager *rm)
{
    if (!rm) return 0;
    /* What is not in the positions: initial + realized − fees − what the
     * open positions cost at their entries. */
    tb_decimal c, cost;
    if (tb_dec_add(rm->cfg.initial_equity, rm->realized_total, &c) != 0 ||
        tb_dec_sub(c, rm->fees, &c) != 0)
        return 0;
    for (size_t i = 0; i < rm->npos; i++) {
        const position_slot *p = &rm->pos[i];
        if (p->quantity == 0) continue;
        if (tb_dec_mul(p->entry, p->quantity, TB_ROUND_HALF_UP, &cost) != 0 ||
            tb_dec_sub(c, cost, &c) != 0)
            return 0;
    }
    return c;
}

tb_decimal tb_risk_manager_max_drawdown_pct(const tb_risk_manager *rm)
{
    tb_decimal dd = 0;
    /* Rounding is monotone: the rounded worst is the worst rounded. */
    if (rm && rm->dd_peak > 0 &&
        tb_dec_muldiv_int(rm->dd_diff, 100 * TB_DECIMAL_ONE, rm->dd_peak, TB_ROUND_HALF_UP, &dd))
        dd = 0;
    return dd;
}

tb_decimal tb_risk_manager_fees(const tb_risk_manager *rm)
{
    return rm ? rm->fees : 0;
}

size_t tb_risk_manager_open_orders(const tb_risk_manager *rm)
{
    return rm ? rm->norders : 0;
}
