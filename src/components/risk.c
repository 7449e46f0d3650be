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
 * decimals, half-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/keyindex.h"
#include "tradebus/risk.h"

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
    int has_close;
    tb_decimal net_quantity; /* all strategies together */
} symbol_slot;

typedef struct {
    uint64_t hash; /* first, as above */
    char strategy_id[TB_STRATEGY_LEN];
    int32_t sym;
    uint64_t position_id; /* the latest seen for this (strategy, symbol) */
    tb_decimal quantity, entry, realized, mark;
} position_slot;

/* Open client order ids, stored in the probe table itself since they are
 * removed as often as added (backward-shift deletion: no tombstones). */
typedef struct {
    uint64_t hash;
    int used;
    char id[TB_ORDER_ID_LEN];
} order_slot;

struct tb_risk_manager {
    tb_bus *bus;
    tb_risk_config cfg;
    int subs[NSUBS];

    symbol_slot *syms;
    size_t nsyms, syms_cap;
    tb__index sym_idx;

    position_slot *pos;
    size_t npos, pos_cap;
    tb__index pos_idx;

    order_slot *orders;
    size_t norders, orders_cap;

    tb_decimal realized_total; /* every position ever, flipped-away ones included */
    tb_decimal fees;
    tb_decimal equity, peak, max_drawdown;
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
        if (s->hash == h && strcmp(s->symbol, symbol) == 0)
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

static int intern_position(tb_risk_manager *rm, const char *strategy_id, const char *symbol,
                           int32_t *out)
{
    uint64_t h = tb__hash_key(strategy_id, symbol);
    size_t mask = rm->pos_idx.cap - 1;
    for (size_t i = (size_t)h & mask; rm->pos_idx.slots[i]; i = (i + 1) & mask) {
        const position_slot *s = &rm->pos[rm->pos_idx.slots[i] - 1];
        if (s->hash == h && strcmp(s->strategy_id, strategy_id) == 0 &&
            strcmp(rm->syms[s->sym].symbol, symbol) == 0) {
            *out = (int32_t)(rm->pos_idx.slots[i] - 1);
            return 0;
        }
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
        if (rm->orders[i].hash == h && strcmp(rm->orders[i].id, id) == 0) return &rm->orders[i];
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

static int add_open_order(tb_risk_manager *rm, const char *id)
{
    uint64_t h = tb__hash_key(NULL, id);
    if (find_order(rm, id, h)) return 0; /* a redelivered OrderCreated */
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
    memcpy(o.id, id, strlen(id) + 1);
    put_order(rm->orders, rm->orders_cap, &o);
    rm->norders++;
    return 0;
}

/* Only an order counted as open is uncounted: a reject of an order the
 * exchange never acknowledged must not drive the count below the truth. */
static void remove_open_order(tb_risk_manager *rm, const char *id)
{
    order_slot *o = find_order(rm, id, tb__hash_key(NULL, id));
    if (!o) return;
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
static int compute_equity(const tb_risk_manager *rm, tb_decimal *out)
{
    tb_decimal e;
    int rc = tb_dec_add(rm->cfg.initial_equity, rm->realized_total, &e);
    if (!rc) rc = tb_dec_sub(e, rm->fees, &e);
    for (size_t i = 0; i < rm->npos && !rc; i++) {
        const position_slot *p = &rm->pos[i];
        if (p->quantity == 0) continue;
        const symbol_slot *s = &rm->syms[p->sym];
        tb_decimal diff, u;
        rc = tb_dec_sub(s->has_close ? s->close : p->mark, p->entry, &diff);
        if (!rc) rc = tb_dec_mul(diff, p->quantity, TB_ROUND_HALF_UP, &u);
        if (!rc) rc = tb_dec_add(e, u, &e);
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

static int check_drawdown(tb_risk_manager *rm, const tb_event *bar)
{
    if (rm->equity > rm->peak) rm->peak = rm->equity;
    if (rm->peak <= 0) return 0; /* a percentage of nothing means nothing */
    tb_decimal diff, dd;
    int rc = tb_dec_sub(rm->peak, rm->equity, &diff);
    if (!rc) rc = tb_dec_muldiv_int(diff, 100 * TB_DECIMAL_ONE, rm->peak, TB_ROUND_HALF_UP, &dd);
    if (rc) return rc;
    if (dd > rm->max_drawdown) rm->max_drawdown = dd;
    if (rm->cfg.max_drawdown_pct <= 0 || rm->state == TB_TRADING_HALTED) return 0;
    /* Exact "dd > limit", independent of the half-up rounding above. */
    tb_decimal dd_ceil;
    rc = tb_dec_muldiv_int(diff, 100 * TB_DECIMAL_ONE, rm->peak, TB_ROUND_CEIL, &dd_ceil);
    if (rc || dd_ceil <= rm->cfg.max_drawdown_pct) return rc;

    char e[TB_DECIMAL_STRLEN], p[TB_DECIMAL_STRLEN], l[TB_DECIMAL_STRLEN], pct[TB_DECIMAL_STRLEN];
    char detail[DETAIL_MAX];
    tb_dec_format(rm->equity, e, sizeof(e));
    tb_dec_format(rm->peak, p, sizeof(p));
    tb_dec_format(rm->cfg.max_drawdown_pct, l, sizeof(l));
    format_pct2(dd, pct, sizeof(pct));
    snprintf(detail, sizeof(detail), "equity %s is %s%% below peak %s, limit %s%%", e, pct, p, l);
    tb_trading_state before = rm->state;
    rm->state = TB_TRADING_HALTED;
    rc = publish_alert(rm, bar, "max_drawdown", detail, "", bar->u.market_data.symbol);
    /* Unhalted again so the bus's retry raises the alert once more. */
    if (rc) rm->state = before;
    return rc;
}

static int on_market_data(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    const tb_market_data *md = &ev->u.market_data;
    if (!tb__valid_str(md->symbol, sizeof(md->symbol)) || md->close <= 0) return TB_EDATA;
    int32_t si;
    int rc = intern_symbol(rm, md->symbol, &si);
    if (rc) return rc;
    rm->syms[si].close = md->close;
    rm->syms[si].has_close = 1;
    tb_decimal e;
    rc = compute_equity(rm, &e);
    if (rc) return rc;
    rm->equity = e;
    return check_drawdown(rm, ev);
}

static int on_order_created(const tb_event *ev, void *ctx)
{
    const tb_order_created *o = &ev->u.order_created;
    if (!tb__valid_str(o->client_order_id, sizeof(o->client_order_id))) return TB_EINVAL;
    if (tb_order_status_is_terminal(o->status)) return 0;
    return add_open_order(ctx, o->client_order_id);
}

static int on_order_filled(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    const tb_order_filled *f = &ev->u.order_filled;
    if (!tb__valid_str(f->client_order_id, sizeof(f->client_order_id))) return TB_EINVAL;
    tb_decimal fees;
    int rc = tb_dec_add(rm->fees, f->commission, &fees);
    if (rc) return rc;
    rm->fees = fees;
    if (f->status == TB_ORDER_FILLED) remove_open_order(rm, f->client_order_id);
    refresh_equity(rm);
    return 0;
}

static int on_order_rejected(const tb_event *ev, void *ctx)
{
    const tb_order_rejected *o = &ev->u.order_rejected;
    if (!tb__valid_str(o->client_order_id, sizeof(o->client_order_id))) return TB_EINVAL;
    remove_open_order(ctx, o->client_order_id);
    return 0;
}

static int on_order_canceled(const tb_event *ev, void *ctx)
{
    const tb_order_canceled *o = &ev->u.order_canceled;
    if (!tb__valid_str(o->client_order_id, sizeof(o->client_order_id))) return TB_EINVAL;
    remove_open_order(ctx, o->client_order_id);
    return 0;
}

static int on_position_update(const tb_event *ev, void *ctx)
{
    tb_risk_manager *rm = ctx;
    const tb_position_update *u = &ev->u.position;
    if (!tb__valid_str(u->strategy_id, sizeof(u->strategy_id)) ||
        !tb__valid_str(u->symbol, sizeof(u->symbol)))
        return TB_EINVAL;
    int32_t pi;
    int rc = intern_position(rm, u->strategy_id, u->symbol, &pi);
    if (rc) return rc;
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

static int valid_request(const tb_order_placement_request *o)
{
    if (!tb__valid_str(o->symbol, sizeof(o->symbol))) return 0;
    if (memchr(o->strategy_id, '\0', sizeof(o->strategy_id)) == NULL) return 0;
    if (o->side != TB_SIDE_BUY && o->side != TB_SIDE_SELL) return 0;
    if (o->order_type != TB_ORDER_MARKET && o->order_type != TB_ORDER_LIMIT) return 0;
    if (o->quantity <= 0) return 0;
    return o->order_type == TB_ORDER_MARKET || o->price > 0;
}

int tb_risk_manager_pretrade(void *ctx, const tb_event *request, char *rule, size_t rulelen,
                             char *detail, size_t detaillen)
{
    tb_risk_manager *rm = ctx;
    if (!rm || !request || request->type != TB_EV_ORDER_PLACEMENT_REQUEST) return TB_EINVAL;
    const tb_order_placement_request *o = &request->u.order_request;
    if (!valid_request(o)) {
        copy_str(rule, rulelen, "invalid_order");
        copy_str(detail, detaillen, "malformed order placement request");
        return TB_EINVAL;
    }

    char text[DETAIL_MAX], a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
    int32_t si = find_symbol(rm, o->symbol);
    const symbol_slot *s = si >= 0 ? &rm->syms[si] : NULL;
    tb_decimal before = s ? s->net_quantity : 0, after;
    int after_overflows =
        tb_dec_add(before, o->side == TB_SIDE_BUY ? o->quantity : -o->quantity, &after) != 0;
    int increases = after_overflows || tb_dec_abs(after) > tb_dec_abs(before);
    tb_decimal price = o->order_type == TB_ORDER_LIMIT ? o->price : (s ? s->close : 0);
    int has_price = o->order_type == TB_ORDER_LIMIT || (s && s->has_close);

    if (rm->cfg.max_position > 0 && (after_overflows || tb_dec_abs(after) > rm->cfg.max_position)) {
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

    if (rm->state != TB_TRADING_ACTIVE && increases) {
        tb_dec_format(before, a, sizeof(a));
        if (after_overflows)
            snprintf(b, sizeof(b), "out of range");
        else
            tb_dec_format(after, b, sizeof(b));
        snprintf(text, sizeof(text), "%s: order would increase position %s to %s",
                 tb_trading_state_name(rm->state), a, b);
        return refuse(rm, request, "trading_state", text, rule, rulelen, detail, detaillen);
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
        rc = tb_bus_subscribe_named(bus, routes[i].type, routes[i].fn, rm, "risk");
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

tb_decimal tb_risk_manager_max_drawdown_pct(const tb_risk_manager *rm)
{
    return rm ? rm->max_drawdown : 0;
}

tb_decimal tb_risk_manager_fees(const tb_risk_manager *rm)
{
    return rm ? rm->fees : 0;
}

size_t tb_risk_manager_open_orders(const tb_risk_manager *rm)
{
    return rm ? rm->norders : 0;
}
