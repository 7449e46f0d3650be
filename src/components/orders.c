/* The Order Manager: signals in, orders out, exchange responses back as events.
 *
 * Only orders that are not yet terminal are kept in the working table (a run
 * of millions of bars must not grow with its order count); the final status
 * of recently finished orders stays queryable in a small ring. Open orders
 * are few, so the table is scanned linearly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/orders.h"

#define RECENT 1024 /* finished orders whose status stays queryable */

typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    char order_id[TB_ORDER_ID_LEN];
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;
    tb_order_type type;
    tb_decimal quantity, price;
    tb_order_status status;
    tb_decimal cum_qty;
    __int128 cum_notional; /* Σ price × qty at scale 1e16, exact */
    uint64_t request_id, created_id, correlation_id;
} order;

typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    tb_order_status status;
} finished;

struct tb_order_manager {
    tb_bus *bus;
    tb_order_manager_config cfg;
    order *orders;
    size_t norders, cap;
    finished recent[RECENT];
    size_t nrecent;
    uint64_t next_client_id;
    tb_order_manager_stats stats;
    int sub_signal, sub_md;
};

static order *find(const tb_order_manager *om, const char *cid)
{
    for (size_t i = 0; i < om->norders; i++)
        if (strcmp(om->orders[i].client_order_id, cid) == 0) return &om->orders[i];
    return NULL;
}

static void retire(tb_order_manager *om, order *o)
{
    finished *f = &om->recent[om->nrecent++ % RECENT];
    memcpy(f->client_order_id, o->client_order_id, sizeof(f->client_order_id));
    f->status = o->status;
    size_t i = (size_t)(o - om->orders);
    memmove(o, o + 1, (om->norders - i - 1) * sizeof(*o));
    om->norders--;
}

static int on_signal(const tb_event *ev, void *ctx)
{
    return tb_order_manager_handle_signal_event(ctx, ev);
}

static int on_market_data(const tb_event *ev, void *ctx)
{
    tb_order_manager *om = ctx;
    return tb_exchange_on_market_data(om->cfg.exchange, &ev->u.market_data);
}

static void on_response(const tb_exchange_response *r, void *ctx)
{
    tb_order_manager *om = ctx;
    int rc = tb_order_manager_process_exchange_response(om, r);
    if (rc == 0) return;
    /* The exchange cannot take an error back, and retrying the market data
     * that carried the response would replay the exchange. So a response
     * that does not fit its order is refused and made visible as a
     * RiskAlert (rule "order_state"), never dropped silently. */
    om->stats.bad_responses++;
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_ORDERS);
    ev.timestamp = r->time;
    tb_risk_alert *a = &ev.u.risk_alert;
    snprintf(a->rule, sizeof(a->rule), "order_state");
    snprintf(a->detail, sizeof(a->detail), "exchange response %d for order %s refused: %s",
             (int)r->kind, r->client_order_id, tb_strerror(rc));
    a->trading_state = TB_TRADING_ACTIVE;
    tb_bus_publish(om->bus, &ev);
}

void tb_order_manager_config_init(tb_order_manager_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->order_capacity = 1024;
}

int tb_order_manager_create(tb_bus *bus, const tb_order_manager_config *cfg, tb_order_manager **out)
{
    if (!bus || !cfg || !cfg->exchange || !out) return TB_EINVAL;
    tb_order_manager *om = calloc(1, sizeof(*om));
    if (!om) return TB_ENOMEM;
    om->bus = bus;
    om->cfg = *cfg;
    om->cap = cfg->order_capacity ? cfg->order_capacity : 1024;
    om->orders = malloc(om->cap * sizeof(order));
    if (!om->orders) goto fail_orders;
    om->sub_md = tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, on_market_data, om, "orders");
    if (om->sub_md < 0) goto fail_md;
    om->sub_signal = tb_bus_subscribe_named(bus, TB_EV_SIGNAL_GENERATED, on_signal, om, "orders");
    if (om->sub_signal < 0) goto fail_signal;
    tb_exchange_set_listener(cfg->exchange, on_response, om);
    *out = om;
    return 0;
fail_signal:
    tb_bus_unsubscribe(bus, om->sub_md);
fail_md:
    free(om->orders);
fail_orders:
    free(om);
    return TB_ENOMEM;
}

void tb_order_manager_destroy(tb_order_manager *om)
{
    if (!om) return;
    tb_bus_unsubscribe(om->bus, om->sub_signal);
    tb_bus_unsubscribe(om->bus, om->sub_md);
    tb_exchange_set_listener(om->cfg.exchange, NULL, NULL);
    free(om->orders);
    free(om);
}

int tb_order_manager_publish_order_event(tb_order_manager *om, tb_event *ev)
{
    return tb_bus_publish(om->bus, ev);
}

int tb_order_manager_handle_signal_event(tb_order_manager *om, const tb_event *sig)
{
    if (sig->type != TB_EV_SIGNAL_GENERATED) return TB_EINVAL;
    const tb_signal_generated *s = &sig->u.signal;
    if (s->signal_type == TB_SIGNAL_HOLD) return 0;
    if (s->signal_type != TB_SIGNAL_BUY && s->signal_type != TB_SIGNAL_SELL) return TB_EINVAL;
    if (s->volume <= 0 || !s->symbol[0] || !s->strategy_id[0]) return TB_EINVAL;
    /* A LIMIT price <= 0 goes on: the exchange rejects it with a reason and
     * the strategy hears of it, instead of the signal vanishing here. */
    om->stats.signals++;

    tb_event req;
    tb_event_init(&req, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    tb_event_caused_by(&req, sig);
    req.timestamp = sig->timestamp;
    tb_order_placement_request *q = &req.u.order_request;
    q->order_type = s->order_type == TB_ORDER_LIMIT ? TB_ORDER_LIMIT : TB_ORDER_MARKET;
    q->side = s->signal_type == TB_SIGNAL_BUY ? TB_SIDE_BUY : TB_SIDE_SELL;
    memcpy(q->symbol, s->symbol, sizeof(q->symbol));
    q->quantity = s->volume;
    q->price = q->order_type == TB_ORDER_LIMIT ? s->limit_price : 0;
    memcpy(q->strategy_id, s->strategy_id, sizeof(q->strategy_id));
    int n = snprintf(q->client_order_id, sizeof(q->client_order_id), "%s-%llu", s->strategy_id,
                     (unsigned long long)++om->next_client_id);
    if (n < 0 || (size_t)n >= sizeof(q->client_order_id)) return TB_ERANGE;
    return tb_order_manager_send_order_to_exchange(om, &req);
}

static int publish_rejected(tb_order_manager *om, const order *o, const tb_event *cause,
                            int64_t time, tb_reject_reason reason, const char *text)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_REJECTED, TB_SRC_ORDERS);
    ev.causation_id = cause ? cause->event_id : o->request_id;
    ev.correlation_id = o->correlation_id;
    ev.timestamp = time;
    tb_order_rejected *r = &ev.u.order_rejected;
    memcpy(r->order_id, o->order_id, sizeof(r->order_id));
    memcpy(r->client_order_id, o->client_order_id, sizeof(r->client_order_id));
    memcpy(r->strategy_id, o->strategy_id, sizeof(r->strategy_id));
    memcpy(r->symbol, o->symbol, sizeof(r->symbol));
    r->side = o->side;
    r->order_type = o->type;
    r->quantity = o->quantity;
    r->price = o->price;
    r->reason = reason;
    snprintf(r->text, sizeof(r->text), "%s", text);
    om->stats.rejected++;
    return tb_order_manager_publish_order_event(om, &ev);
}

int tb_order_manager_send_order_to_exchange(tb_order_manager *om, tb_event *req)
{
    if (req->type != TB_EV_ORDER_PLACEMENT_REQUEST) return TB_EINVAL;
    const tb_order_placement_request *q = &req->u.order_request;
    if (q->quantity <= 0 || !q->client_order_id[0]) return TB_EINVAL;
    if (find(om, q->client_order_id)) return TB_EINVAL; /* our ids are unique: a bug upstream */
    if (om->norders == om->cap) {
        order *no = realloc(om->orders, om->cap * 2 * sizeof(*no));
        if (!no) return TB_ENOMEM;
        om->orders = no;
        om->cap *= 2;
    }
    int rc = tb_order_manager_publish_order_event(om, req); /* assigns req->event_id */
    if (rc) return rc;
    om->stats.orders++;

    order *o = &om->orders[om->norders++];
    memset(o, 0, sizeof(*o));
    memcpy(o->client_order_id, q->client_order_id, sizeof(o->client_order_id));
    memcpy(o->strategy_id, q->strategy_id, sizeof(o->strategy_id));
    memcpy(o->symbol, q->symbol, sizeof(o->symbol));
    o->side = q->side;
    o->type = q->order_type;
    o->quantity = q->quantity;
    o->price = q->price;
    o->status = TB_ORDER_PENDING;
    o->request_id = req->event_id;
    o->correlation_id = req->correlation_id;

    if (om->cfg.pretrade) {
        char rule[TB_RULE_LEN] = "", detail[TB_TEXT_LEN] = "", text[TB_TEXT_LEN + TB_RULE_LEN + 16];
        if (om->cfg.pretrade(om->cfg.pretrade_ctx, req, rule, sizeof(rule), detail,
                             sizeof(detail)) != 0) {
            snprintf(text, sizeof(text), "risk rule %s: %s", rule, detail);
            o->status = TB_ORDER_REJECTED;
            rc = publish_rejected(om, o, req, req->timestamp, TB_REJECT_RISK, text);
            retire(om, o);
            return rc;
        }
    }
    /* Responses (an ack or a rejection) may arrive from inside submit. The
     * request is already published, so a failure to send must not be
     * returned to the bus (a retry would send a second order): it becomes
     * the order's rejection. */
    rc = tb_exchange_submit(om->cfg.exchange, q, req->timestamp);
    if (rc != 0 && (o = find(om, q->client_order_id)) != NULL && o->status == TB_ORDER_PENDING) {
        o->status = TB_ORDER_REJECTED;
        rc = publish_rejected(om, o, req, req->timestamp, TB_REJECT_EXCHANGE, tb_strerror(rc));
        retire(om, o);
    }
    return rc;
}

static int on_fill(tb_order_manager *om, order *o, const tb_exchange_response *r)
{
    if (r->quantity <= 0 || r->price <= 0 || r->commission < 0) return TB_EINVAL;
    tb_decimal cum;
    if (tb_dec_add(o->cum_qty, r->quantity, &cum) != 0 || cum > o->quantity) return TB_ESTATE;
    tb_order_status next = cum == o->quantity ? TB_ORDER_FILLED : TB_ORDER_PARTIALLY_FILLED;
    if (!tb_order_status_can_move(o->status, next)) return TB_ESTATE;

    o->cum_notional += (__int128)r->price * r->quantity;
    o->cum_qty = cum;
    o->status = next;
    /* Average = Σ(p·q) / Σq, half-up to 8 decimals, from the exact sum. */
    __int128 num = o->cum_notional, den = cum;
    __int128 avg = num / den, rem = num % den;
    if (2 * rem >= den) avg++;
    om->stats.fills++;

    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    ev.causation_id = o->created_id;
    ev.correlation_id = o->correlation_id;
    ev.timestamp = r->time;
    tb_order_filled *f = &ev.u.order_filled;
    memcpy(f->order_id, o->order_id, sizeof(f->order_id));
    memcpy(f->client_order_id, o->client_order_id, sizeof(f->client_order_id));
    memcpy(f->strategy_id, o->strategy_id, sizeof(f->strategy_id));
    memcpy(f->symbol, o->symbol, sizeof(f->symbol));
    f->side = o->side;
    f->filled_quantity = r->quantity;
    f->filled_price = r->price;
    f->commission = r->commission;
    f->cumulative_quantity = cum;
    f->average_price = (tb_decimal)avg;
    f->status = next;
    f->trade_id = r->trade_id;
    int rc = tb_order_manager_publish_order_event(om, &ev);
    if (next == TB_ORDER_FILLED) retire(om, o);
    return rc;
}

int tb_order_manager_process_exchange_response(tb_order_manager *om, const tb_exchange_response *r)
{
    order *o = find(om, r->client_order_id);
    if (!o) {
        /* A finished order can take no more responses: that is an illegal
         * transition, not an unknown order. */
        tb_order_status st;
        return tb_order_manager_status(om, r->client_order_id, &st) == 0 ? TB_ESTATE : TB_ENOTFOUND;
    }
    switch (r->kind) {
    case TB_XR_ACCEPTED: {
        if (!tb_order_status_can_move(o->status, TB_ORDER_NEW)) return TB_ESTATE;
        o->status = TB_ORDER_NEW;
        memcpy(o->order_id, r->order_id, sizeof(o->order_id));
        tb_event ev;
        tb_event_init(&ev, TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
        ev.causation_id = o->request_id;
        ev.correlation_id = o->correlation_id;
        ev.timestamp = r->time;
        tb_order_created *c = &ev.u.order_created;
        memcpy(c->order_id, o->order_id, sizeof(c->order_id));
        c->status = TB_ORDER_NEW;
        memcpy(c->client_order_id, o->client_order_id, sizeof(c->client_order_id));
        c->order_type = o->type;
        c->side = o->side;
        memcpy(c->symbol, o->symbol, sizeof(c->symbol));
        c->quantity = o->quantity;
        c->price = o->price;
        memcpy(c->strategy_id, o->strategy_id, sizeof(c->strategy_id));
        int rc = tb_order_manager_publish_order_event(om, &ev);
        o->created_id = ev.event_id;
        return rc;
    }
    case TB_XR_REJECTED: {
        if (!tb_order_status_can_move(o->status, TB_ORDER_REJECTED)) return TB_ESTATE;
        o->status = TB_ORDER_REJECTED;
        int rc = publish_rejected(om, o, NULL, r->time, r->reason, r->text);
        retire(om, o);
        return rc;
    }
    case TB_XR_FILL:
        return on_fill(om, o, r);
    case TB_XR_CANCELED:
    case TB_XR_EXPIRED: {
        tb_order_status next = r->kind == TB_XR_CANCELED ? TB_ORDER_CANCELED : TB_ORDER_EXPIRED;
        if (!tb_order_status_can_move(o->status, next)) return TB_ESTATE;
        o->status = next;
        om->stats.canceled++;
        tb_event ev;
        tb_event_init(&ev, TB_EV_ORDER_CANCELED, TB_SRC_ORDERS);
        ev.causation_id = o->created_id;
        ev.correlation_id = o->correlation_id;
        ev.timestamp = r->time;
        tb_order_canceled *c = &ev.u.order_canceled;
        memcpy(c->order_id, o->order_id, sizeof(c->order_id));
        memcpy(c->client_order_id, o->client_order_id, sizeof(c->client_order_id));
        memcpy(c->strategy_id, o->strategy_id, sizeof(c->strategy_id));
        memcpy(c->symbol, o->symbol, sizeof(c->symbol));
        c->side = o->side;
        c->filled_quantity = o->cum_qty;
        c->canceled_quantity = o->quantity - o->cum_qty;
        c->status = next;
        snprintf(c->text, sizeof(c->text), "%s", r->text);
        int rc = tb_order_manager_publish_order_event(om, &ev);
        retire(om, o);
        return rc;
    }
    }
    return TB_EINVAL;
}

int tb_order_manager_cancel(tb_order_manager *om, const char *client_order_id, int64_t now)
{
    order *o = find(om, client_order_id);
    if (!o) return TB_ENOTFOUND;
    return tb_exchange_cancel(om->cfg.exchange, client_order_id, now);
}

int tb_order_manager_status(const tb_order_manager *om, const char *cid, tb_order_status *out)
{
    const order *o = find(om, cid);
    if (o) {
        *out = o->status;
        return 0;
    }
    size_t n = om->nrecent < RECENT ? om->nrecent : RECENT;
    for (size_t i = 0; i < n; i++) {
        const finished *f = &om->recent[(om->nrecent - 1 - i) % RECENT];
        if (strcmp(f->client_order_id, cid) == 0) {
            *out = f->status;
            return 0;
        }
    }
    return TB_ENOTFOUND;
}

size_t tb_order_manager_open_orders(const tb_order_manager *om)
{
    return om->norders;
}

tb_order_manager_stats tb_order_manager_get_stats(const tb_order_manager *om)
{
    return om->stats;
}
