/* The simulated exchange: fill rules and the account are documented in
 * sim_exchange.h. Everything is integer decimal arithmetic, so a backtest is
 * exact and identical on every machine.
 *
 * No look-ahead is enforced by counting bars per symbol: an order remembers
 * how many bars of its symbol had been seen when it arrived and only a later
 * bar can fill it. That holds whatever the timestamps of the data.
 *
 * Faults are decided per request before it touches the book: a fault that
 * loses the request returns at once; one that loses only the reply lets the
 * request run with the listener muted. Either way the book, the cash and
 * the order and trade numbering see exactly the requests that got through,
 * so an order retried until it gets through fills as it would have.
 *
 * Responses go to the listener synchronously, and a listener may submit or
 * cancel from inside one. A bar therefore never walks the book by index:
 * it asks, each time, for the first order after the last one it processed
 * (orders are kept in acceptance order, so their sequence numbers are
 * sorted), and every step finds its order afresh after a response. An order
 * canceled meanwhile (by the listener or by an OCO partner's fill) is simply
 * not found, and one placed meanwhile arrived on this bar and cannot fill on
 * it anyway. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/fixstr.h"
#include "../core/keyindex.h"
#include "tradebus/config.h"
#include "tradebus/sim_exchange.h"

#define RECENT 1024 /* finished orders a query still finds (Binance forgets too) */

typedef struct {
    tb_symbol_rules rules;
    tb_decimal last_close; /* 0 until the first bar */
    tb_decimal position;   /* base asset held, signed (shorts negative) */
    uint64_t bars;         /* bars seen */
    int64_t last_bar_time; /* close time of the last bar applied */
    /* The last bar applied and the volume it still has (-1 = unlimited): a
     * stop placed while that bar was current is evaluated against it. */
    tb_market_data last_bar;
    tb_decimal cap_left;
} sym_state;

typedef struct {
    tb_order_placement_request req;
    char order_id[TB_ORDER_ID_LEN];
    size_t sym;           /* index into syms */
    uint64_t arrived_bar; /* sym bars count at submit: fill only on later bars */
    tb_decimal remaining;
    tb_decimal inc_remaining;    /* part of the remainder that increases exposure */
    tb_decimal reserve_per_unit; /* cash held back per unit of inc_remaining */
    int64_t accepted_at;
    uint64_t seq;  /* the N of its order id; increasing along the book */
    int triggered; /* a STOP_MARKET whose stop was touched: a MARKET from then on */
} sim_order;

/* Per client order id, when tracking is on; hash first for tb__index. */
typedef struct {
    uint64_t hash;
    char cid[TB_ORDER_ID_LEN];
    uint32_t submits, accepts;
} id_entry;

typedef struct {
    tb_exchange base; /* first: tb_exchange* <-> sim* */
    tb_sim_exchange_config cfg;
    int restrict_symbols; /* symbols were declared: refuse others */
    tb_decimal cash;
    sym_state *syms;
    size_t nsyms, syms_cap;
    size_t last_sym; /* find_sym's last answer: a bar's symbol is mostly the last one */
    sim_order *orders;
    size_t norders, orders_cap;
    size_t nlinked; /* open orders naming an OCO partner: 0 spares the pair search */
    uint64_t next_order, next_trade;
    /* Faults */
    int faults_on;
    uint64_t rng; /* splitmix64 state, seeded from the fault spec */
    tb_sim_fault *script;
    size_t script_head, script_n, script_cap;
    int mute; /* the reply of the request being processed is lost */
    /* Bookkeeping for queries, tests and observers */
    tb_exchange_order_info recent[RECENT];
    size_t nrecent;
    tb_sim_exchange_stats stats;
    int track;
    id_entry *ids;
    size_t nids, ids_cap;
    tb__index id_idx;
} sim;

static uint64_t rng_next(sim *x)
{
    uint64_t z = (x->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* A uniform draw in [0, 1) at the decimals' scale, to compare with a
 * probability held as an exact decimal. */
static tb_decimal rng_unit(sim *x)
{
    return (tb_decimal)(rng_next(x) % (uint64_t)TB_DECIMAL_ONE);
}

static id_entry *find_id(const sim *x, const char *cid, uint64_t h)
{
    if (!x->track) return NULL;
    size_t mask = x->id_idx.cap - 1;
    for (size_t i = (size_t)h & mask; x->id_idx.slots[i]; i = (i + 1) & mask) {
        id_entry *e = &x->ids[x->id_idx.slots[i] - 1];
        if (e->hash == h && strcmp(e->cid, cid) == 0) return e;
    }
    return NULL;
}

/* The id's entry, created on first sight; NULL when tracking is off or out
 * of memory (the counts are evidence for tests, never worth failing an order). */
static id_entry *id_entry_for(sim *x, const char *cid)
{
    if (!x->track) return NULL;
    uint64_t h = tb__hash_key(NULL, cid);
    id_entry *e = find_id(x, cid, h);
    if (e) return e;
    if (tb__index_reserve(&x->id_idx, x->ids, sizeof(*x->ids), x->nids) != 0) return NULL;
    id_entry *na = tb__reserve_one(x->ids, &x->ids_cap, x->nids, sizeof(*x->ids));
    if (!na) return NULL;
    x->ids = na;
    e = &x->ids[x->nids];
    memset(e, 0, sizeof(*e));
    e->hash = h;
    tb__copy_str(e->cid, sizeof(e->cid), cid);
    tb__index_put(&x->id_idx, h, x->nids++);
    return e;
}

/* The next request's fault: a scripted one first, else a draw when the
 * spec gives this kind of request any chance of failing. */
static tb_sim_fault next_fault(sim *x, tb_sim_request_kind kind)
{
    if (x->script_head < x->script_n) {
        tb_sim_fault f = x->script[x->script_head++];
        if (x->script_head == x->script_n) x->script_head = x->script_n = 0;
        return f;
    }
    const tb_sim_faults *p = &x->cfg.faults;
    if (!x->faults_on) return TB_SIM_FAULT_NONE;
    if (kind == TB_SIM_REQ_QUERY)
        return p->query_timeout > 0 && rng_unit(x) < p->query_timeout ? TB_SIM_FAULT_TIMEOUT
                                                                      : TB_SIM_FAULT_NONE;
    if (kind != TB_SIM_REQ_SUBMIT) return TB_SIM_FAULT_NONE;
    if (p->timeout + p->lost_ack + p->server_error + p->rate_limit + p->connection_lost == 0)
        return TB_SIM_FAULT_NONE;
    tb_decimal u = rng_unit(x), edge = 0;
    if (u < (edge += p->timeout)) return TB_SIM_FAULT_TIMEOUT;
    if (u < (edge += p->lost_ack)) return TB_SIM_FAULT_LOST_ACK;
    if (u < (edge += p->server_error))
        return rng_next(x) & 1 ? TB_SIM_FAULT_SERVER_ERROR_AFTER : TB_SIM_FAULT_SERVER_ERROR;
    if (u < (edge += p->rate_limit)) return TB_SIM_FAULT_RATE_LIMIT;
    if (u < (edge += p->connection_lost)) return TB_SIM_FAULT_CONNECTION_LOST;
    return TB_SIM_FAULT_NONE;
}

/* 1 if the fault lets the request reach the matching engine. */
static int fault_reaches(tb_sim_fault f)
{
    return f == TB_SIM_FAULT_NONE || f == TB_SIM_FAULT_LOST_ACK ||
           f == TB_SIM_FAULT_SERVER_ERROR_AFTER;
}

/* What the client sees of a faulted request. */
static int fault_error(const sim *x, tb_sim_fault f, tb_exchange_error *xerr)
{
    switch (f) {
    case TB_SIM_FAULT_TIMEOUT:
    case TB_SIM_FAULT_LOST_ACK:
        xerr->failure = TB_XF_TIMEOUT;
        snprintf(xerr->text, sizeof(xerr->text), "no reply in time");
        break;
    case TB_SIM_FAULT_SERVER_ERROR:
    case TB_SIM_FAULT_SERVER_ERROR_AFTER:
        xerr->failure = TB_XF_SERVER_ERROR;
        snprintf(xerr->text, sizeof(xerr->text), "HTTP 503");
        break;
    case TB_SIM_FAULT_RATE_LIMIT:
        xerr->failure = TB_XF_RATE_LIMITED;
        xerr->retry_after = x->cfg.faults.retry_after;
        snprintf(xerr->text, sizeof(xerr->text), "HTTP 429");
        break;
    case TB_SIM_FAULT_CONNECTION_LOST:
        xerr->failure = TB_XF_CONNECTION_LOST;
        snprintf(xerr->text, sizeof(xerr->text), "connection refused");
        break;
    default:
        return 0;
    }
    return TB_EIO;
}

static void observe(sim *x, tb_sim_request_kind kind, const char *cid, int64_t now, tb_sim_fault f,
                    int accepted, int result)
{
    if (f != TB_SIM_FAULT_NONE) x->stats.faults[f]++;
    if (!x->cfg.observer) return;
    tb_sim_request r = {kind, cid, now, f, fault_reaches(f), accepted, result};
    x->cfg.observer(&x->base, &r, x->cfg.observer_ctx);
}

static void remember_finished(sim *x, const sim_order *o, tb_order_status status)
{
    tb_exchange_order_info *i = &x->recent[x->nrecent++ % RECENT];
    memset(i, 0, sizeof(*i));
    memcpy(i->client_order_id, o->req.client_order_id, sizeof(i->client_order_id));
    memcpy(i->order_id, o->order_id, sizeof(i->order_id));
    i->status = status;
    i->quantity = o->req.quantity;
    i->filled_quantity = o->req.quantity - o->remaining;
    i->time = o->accepted_at;
    i->stop_price = o->req.stop_price;
}

/* Like Binance, a client order id must be unique among OPEN orders only
 * (a set of every id ever seen would grow with the run's length). */
static int open_id_exists(const sim *x, const char *id)
{
    for (size_t i = 0; i < x->norders; i++)
        if (tb__cid_eq(x->orders[i].req.client_order_id, id)) return 1; /* id: a field */
    return 0;
}

static int find_sym_scan(sim *x, const char *symbol, int create, size_t *out)
{
    for (size_t i = 0; i < x->nsyms; i++)
        if (tb__sym_eq(x->syms[i].rules.symbol, symbol)) {
            *out = x->last_sym = i;
            return 0;
        }
    if (!create) return TB_ENOTFOUND;
    if (x->nsyms == x->syms_cap) {
        size_t nc = x->syms_cap ? x->syms_cap * 2 : 8;
        sym_state *ns = realloc(x->syms, nc * sizeof(*ns));
        if (!ns) return TB_ENOMEM;
        x->syms = ns;
        x->syms_cap = nc;
    }
    sym_state *s = &x->syms[x->nsyms];
    memset(s, 0, sizeof(*s));
    if (tb_str_copy(s->rules.symbol, sizeof(s->rules.symbol), symbol)) return TB_EINVAL;
    *out = x->nsyms++;
    return 0;
}

/* symbol's slot (made if create), *out its index; TB_ENOTFOUND without
 * create. The last answer is checked first, inline: every bar asks. */
static inline int find_sym(sim *x, const char *symbol, int create, size_t *out)
{
    if (x->last_sym < x->nsyms && tb__sym_eq(x->syms[x->last_sym].rules.symbol, symbol)) {
        *out = x->last_sym;
        return 0;
    }
    return find_sym_scan(x, symbol, create, out);
}

static void respond(sim *x, tb_exchange_response *r)
{
    if (x->base.listener && !x->mute) x->base.listener(r, x->base.listener_ctx);
}

static void reject(sim *x, const tb_order_placement_request *req, int64_t now,
                   tb_reject_reason reason, const char *text)
{
    x->stats.rejected++;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = TB_XR_REJECTED;
    memcpy(r.client_order_id, req->client_order_id, sizeof(r.client_order_id));
    r.time = now;
    r.reason = reason;
    snprintf(r.text, sizeof(r.text), "%s", text);
    respond(x, &r);
}

/* price × qty × fee_bps / 10000 in 128 bits, half-up to 8 decimals. */
static int commission(tb_decimal price, tb_decimal qty, tb_decimal fee_bps, tb_decimal *out)
{
    __int128 n = (__int128)price * qty; /* scale 1e16; |n| < 2^126 */
    __int128 lim = ((__int128)1 << 126) / (fee_bps ? fee_bps : 1);
    if (n > lim || n < -lim) return TB_EOVERFLOW;
    n *= fee_bps;                                               /* scale 1e24, in bps */
    const __int128 d = (__int128)10000 * 100000000 * 100000000; /* back to 1e-8 units */
    __int128 q = n / d, r = n % d;
    if (r < 0) r = -r;
    if (2 * r >= d) q += n < 0 ? -1 : 1;
    if (q > INT64_MAX || q < -INT64_MAX) return TB_EOVERFLOW;
    *out = (tb_decimal)q;
    return 0;
}

/* Equity minus gross exposure minus what open orders hold back: the cash an
 * order that increases exposure may still use (1x, shorts collateralised). */
static int free_cash(const sim *x, tb_decimal *out)
{
    __int128 f = x->cash;
    for (size_t i = 0; i < x->nsyms; i++) {
        const sym_state *s = &x->syms[i];
        __int128 v = (__int128)s->position * s->last_close / 100000000;
        f += v;              /* equity: cash + marked positions */
        f -= v < 0 ? -v : v; /* minus gross exposure */
    }
    for (size_t i = 0; i < x->norders; i++)
        f -= (__int128)x->orders[i].inc_remaining * x->orders[i].reserve_per_unit / 100000000;
    if (f > INT64_MAX) f = INT64_MAX;
    if (f < -INT64_MAX) f = -INT64_MAX;
    *out = (tb_decimal)f;
    return 0;
}

static int is_multiple(tb_decimal v, tb_decimal step)
{
    return step <= 0 || v % step == 0;
}

/* 1 if a and b are the two orders of an OCO pair (either may name the other). */
static int oco_linked(const tb_order_placement_request *a, const tb_order_placement_request *b)
{
    return (a->oco_with[0] && strcmp(a->oco_with, b->client_order_id) == 0) ||
           (b->oco_with[0] && strcmp(b->oco_with, a->client_order_id) == 0);
}

/* The matching engine's side of a submit: validate, reserve, book, answer. */
static int place(sim *x, const tb_order_placement_request *req, int64_t now, uint64_t *seq)
{
    char text[TB_TEXT_LEN];
    size_t si;

    *seq = 0;
    if (req->quantity <= 0) {
        reject(x, req, now, TB_REJECT_INVALID_QUANTITY, "quantity must be positive");
        return 0;
    }
    if (req->order_type == TB_ORDER_LIMIT && req->price <= 0) {
        reject(x, req, now, TB_REJECT_INVALID_PRICE, "limit price must be positive");
        return 0;
    }
    if (req->order_type == TB_ORDER_LIMIT && req->time_in_force != TB_TIF_GTC &&
        req->time_in_force != TB_TIF_IOC && req->time_in_force != TB_TIF_FOK) {
        reject(x, req, now, TB_REJECT_EXCHANGE, "unknown time in force");
        return 0;
    }
    if (req->order_type == TB_ORDER_STOP_MARKET && req->stop_price <= 0) {
        reject(x, req, now, TB_REJECT_INVALID_PRICE, "stop price must be positive");
        return 0;
    }
    if (req->order_type == TB_ORDER_STOP_MARKET &&
        (req->trailing_pct < 0 || req->trailing_pct >= 100 * TB_DECIMAL_ONE)) {
        reject(x, req, now, TB_REJECT_INVALID_PRICE, "trailing_pct must be in [0, 100)");
        return 0;
    }
    if (find_sym(x, req->symbol, !x->restrict_symbols, &si) != 0) {
        snprintf(text, sizeof(text), "unknown symbol %s", req->symbol);
        reject(x, req, now, TB_REJECT_UNKNOWN_SYMBOL, text);
        return 0;
    }
    sym_state *s = &x->syms[si];
    if (!is_multiple(req->quantity, s->rules.step_size)) {
        char q[TB_DECIMAL_STRLEN], st[TB_DECIMAL_STRLEN];
        tb_dec_format(req->quantity, q, sizeof(q));
        tb_dec_format(s->rules.step_size, st, sizeof(st));
        snprintf(text, sizeof(text), "quantity %s is not a multiple of step size %s", q, st);
        reject(x, req, now, TB_REJECT_INVALID_QUANTITY, text);
        return 0;
    }
    if (req->order_type == TB_ORDER_LIMIT && !is_multiple(req->price, s->rules.tick_size)) {
        char p[TB_DECIMAL_STRLEN], t[TB_DECIMAL_STRLEN];
        tb_dec_format(req->price, p, sizeof(p));
        tb_dec_format(s->rules.tick_size, t, sizeof(t));
        snprintf(text, sizeof(text), "price %s is not a multiple of tick size %s", p, t);
        reject(x, req, now, TB_REJECT_INVALID_PRICE, text);
        return 0;
    }
    if (req->order_type == TB_ORDER_STOP_MARKET &&
        !is_multiple(req->stop_price, s->rules.tick_size)) {
        char p[TB_DECIMAL_STRLEN], t[TB_DECIMAL_STRLEN];
        tb_dec_format(req->stop_price, p, sizeof(p));
        tb_dec_format(s->rules.tick_size, t, sizeof(t));
        snprintf(text, sizeof(text), "stop price %s is not a multiple of tick size %s", p, t);
        reject(x, req, now, TB_REJECT_INVALID_PRICE, text);
        return 0;
    }
    tb_decimal ref = req->order_type == TB_ORDER_LIMIT ? req->price : s->last_close;
    if (ref <= 0) {
        snprintf(text, sizeof(text), "no market price yet for %s", req->symbol);
        reject(x, req, now, TB_REJECT_EXCHANGE, text);
        return 0;
    }
    if (open_id_exists(x, req->client_order_id)) {
        snprintf(text, sizeof(text), "client order id %s is already open", req->client_order_id);
        reject(x, req, now, TB_REJECT_DUPLICATE, text);
        return 0;
    }

    if (s->rules.min_notional > 0) {
        tb_decimal notional;
        if (tb_dec_mul(req->quantity, ref, TB_ROUND_HALF_UP, &notional) == 0 &&
            notional < s->rules.min_notional) {
            char n[TB_DECIMAL_STRLEN], m[TB_DECIMAL_STRLEN];
            tb_dec_format(notional, n, sizeof(n));
            tb_dec_format(s->rules.min_notional, m, sizeof(m));
            snprintf(text, sizeof(text), "notional %s is below the minimum %s", n, m);
            reject(x, req, now, TB_REJECT_INVALID_QUANTITY, text);
            return 0;
        }
    }
    /* Only the part beyond closing the position adds exposure — the position
     * as it will be once the orders already open on the symbol fill, or two
     * sells could each "close" the same long and leave a naked short. Of an
     * OCO pair only one ever fills (the other is canceled on its first fill),
     * so a pair counts once, as its larger remainder, and an order's own
     * partner not at all: a bracket's stop and target each close the long. */
    tb_decimal pos = s->position, inc = req->quantity;
    for (size_t i = 0; i < x->norders; i++) {
        const sim_order *o = &x->orders[i];
        if (o->sym != si || oco_linked(req, &o->req)) continue;
        tb_decimal rem = o->remaining;
        for (size_t j = 0; j < i && x->nlinked; j++) {
            const sim_order *p = &x->orders[j];
            if (p->sym == si && p->req.side == o->req.side && oco_linked(&p->req, &o->req)) {
                rem = rem > p->remaining ? rem - p->remaining : 0;
                break;
            }
        }
        pos += o->req.side == TB_SIDE_BUY ? rem : -rem;
    }
    if (req->side == TB_SIDE_BUY && pos < 0) inc = req->quantity > -pos ? req->quantity + pos : 0;
    if (req->side == TB_SIDE_SELL && pos > 0) inc = req->quantity > pos ? req->quantity - pos : 0;
    tb_decimal rpu = 0;
    if (inc > 0) {
        /* Hold back price × (1 + slippage + fee) per unit, slippage only for
         * MARKET and STOP_MARKET. A buy stop fills near its stop, above the
         * market when it was placed: its price is the higher of the two. */
        tb_decimal bps = x->cfg.fee_bps, need, fc;
        if (req->order_type != TB_ORDER_LIMIT && tb_dec_add(bps, x->cfg.slippage_bps, &bps) != 0)
            return TB_EOVERFLOW;
        if (req->order_type == TB_ORDER_STOP_MARKET && req->side == TB_SIDE_BUY &&
            req->stop_price > ref)
            ref = req->stop_price;
        if (tb_dec_muldiv_int(ref, 10000 * 100000000LL + bps, 10000 * 100000000LL, TB_ROUND_CEIL,
                              &rpu) != 0 ||
            tb_dec_mul(inc, rpu, TB_ROUND_CEIL, &need) != 0) {
            reject(x, req, now, TB_REJECT_INSUFFICIENT_FUNDS, "order value overflows");
            return 0;
        }
        free_cash(x, &fc);
        if (need > fc) {
            char n[TB_DECIMAL_STRLEN], f[TB_DECIMAL_STRLEN];
            tb_dec_format(need, n, sizeof(n));
            tb_dec_format(fc < 0 ? 0 : fc, f, sizeof(f));
            snprintf(text, sizeof(text), "needs %s, only %s available", n, f);
            reject(x, req, now, TB_REJECT_INSUFFICIENT_FUNDS, text);
            return 0;
        }
    }
    if (x->norders == x->orders_cap) {
        size_t nc = x->orders_cap ? x->orders_cap * 2 : 64;
        sim_order *no = realloc(x->orders, nc * sizeof(*no));
        if (!no) return TB_ENOMEM;
        x->orders = no;
        x->orders_cap = nc;
    }
    sim_order *o = &x->orders[x->norders++];
    /* Zeroed: order_id is copied whole into events, tail included. */
    memset(o, 0, sizeof(*o));
    o->req = *req;
    tb__format_id(o->order_id, sizeof(o->order_id), "SIM", ++x->next_order);
    o->sym = si;
    o->arrived_bar = s->bars;
    o->remaining = req->quantity;
    o->inc_remaining = inc;
    o->reserve_per_unit = rpu;
    o->accepted_at = now;
    o->seq = x->next_order;
    if (req->oco_with[0]) x->nlinked++;
    *seq = o->seq;
    x->stats.accepted++;
    id_entry *e = id_entry_for(x, req->client_order_id);
    if (e && e->accepts++ == 1) x->stats.ids_accepted_twice++;
    if (e && e->accepts == 1) x->stats.distinct_ids_accepted++;

    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = TB_XR_ACCEPTED;
    memcpy(r.client_order_id, req->client_order_id, sizeof(r.client_order_id));
    memcpy(r.order_id, o->order_id, sizeof(r.order_id));
    r.time = now;
    respond(x, &r);
    return 0;
}

static int evaluate_at_submit(sim *x, uint64_t seq, int64_t now);

static void remove_order(sim *x, size_t i)
{
    if (x->orders[i].req.oco_with[0]) x->nlinked--;
    /* Ordered removal keeps time priority among the remaining orders. */
    memmove(&x->orders[i], &x->orders[i + 1], (x->norders - i - 1) * sizeof(*x->orders));
    x->norders--;
}

static int sim_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                      tb_exchange_error *xerr)
{
    sim *x = (sim *)ex;
    x->stats.submits++;
    id_entry *e = id_entry_for(x, req->client_order_id);
    if (e && ++e->submits > x->stats.max_submits_per_id) x->stats.max_submits_per_id = e->submits;
    uint64_t accepted = x->stats.accepted;
    tb_sim_fault f = next_fault(x, TB_SIM_REQ_SUBMIT);
    int rc = 0;
    uint64_t seq = 0;
    if (fault_reaches(f)) {
        x->mute = f != TB_SIM_FAULT_NONE;
        rc = place(x, req, now, &seq);
        x->mute = 0;
    }
    /* Unmuted: a lost reply loses the ack, not the executions that follow
     * it (those come through the listener as any fill does). */
    if (rc == 0 && seq) rc = evaluate_at_submit(x, seq, now);
    if (rc == 0) rc = fault_error(x, f, xerr);
    observe(x, TB_SIM_REQ_SUBMIT, req->client_order_id, now, f, x->stats.accepted > accepted, rc);
    return rc;
}

/* Takes order i off the book as canceled or expired, then tells the
 * listener. Removal is what releases the cash it held back. */
static void end_order(sim *x, size_t i, tb_exchange_response_kind kind, int64_t now,
                      const char *text)
{
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    memcpy(r.client_order_id, x->orders[i].req.client_order_id, sizeof(r.client_order_id));
    memcpy(r.order_id, x->orders[i].order_id, sizeof(r.order_id));
    r.time = now;
    r.quantity = x->orders[i].remaining;
    snprintf(r.text, sizeof(r.text), "%s", text);
    remember_finished(x, &x->orders[i],
                      kind == TB_XR_EXPIRED ? TB_ORDER_EXPIRED : TB_ORDER_CANCELED);
    remove_order(x, i);
    respond(x, &r);
}

static int cancel_open(sim *x, const char *client_order_id, int64_t now)
{
    for (size_t i = 0; i < x->norders; i++) {
        if (strcmp(x->orders[i].req.client_order_id, client_order_id) != 0) continue;
        end_order(x, i, TB_XR_CANCELED, now, "canceled on request");
        return 0;
    }
    return TB_ENOTFOUND;
}

static int sim_cancel(tb_exchange *ex, const char *client_order_id, int64_t now,
                      tb_exchange_error *xerr)
{
    sim *x = (sim *)ex;
    x->stats.cancels++;
    tb_sim_fault f = next_fault(x, TB_SIM_REQ_CANCEL);
    int rc = 0;
    if (fault_reaches(f)) {
        x->mute = f != TB_SIM_FAULT_NONE;
        rc = cancel_open(x, client_order_id, now);
        x->mute = 0;
    }
    /* A lost reply hides the answer, "not found" included. */
    if (f != TB_SIM_FAULT_NONE) rc = fault_error(x, f, xerr);
    observe(x, TB_SIM_REQ_CANCEL, client_order_id, now, f, 0, rc);
    return rc;
}

static int sim_query(tb_exchange *ex, const char *client_order_id, int64_t now,
                     tb_exchange_order_info *out, tb_exchange_error *xerr)
{
    sim *x = (sim *)ex;
    x->stats.queries++;
    tb_sim_fault f = next_fault(x, TB_SIM_REQ_QUERY);
    int rc = TB_ENOTFOUND;
    if (f != TB_SIM_FAULT_NONE) {
        rc = fault_error(x, f, xerr);
        observe(x, TB_SIM_REQ_QUERY, client_order_id, now, f, 0, rc);
        return rc;
    }
    for (size_t i = 0; i < x->norders && rc; i++) {
        const sim_order *o = &x->orders[i];
        if (strcmp(o->req.client_order_id, client_order_id) != 0) continue;
        memcpy(out->client_order_id, o->req.client_order_id, sizeof(out->client_order_id));
        memcpy(out->order_id, o->order_id, sizeof(out->order_id));
        out->quantity = o->req.quantity;
        out->filled_quantity = o->req.quantity - o->remaining;
        out->status = out->filled_quantity > 0 ? TB_ORDER_PARTIALLY_FILLED : TB_ORDER_NEW;
        out->time = o->accepted_at;
        out->stop_price = o->req.stop_price;
        rc = 0;
    }
    /* Newest first: an id reused after its order closed names the latest. */
    size_t n = x->nrecent < RECENT ? x->nrecent : RECENT;
    for (size_t k = 0; k < n && rc; k++) {
        const tb_exchange_order_info *i = &x->recent[(x->nrecent - 1 - k) % RECENT];
        if (strcmp(i->client_order_id, client_order_id) != 0) continue;
        *out = *i;
        rc = 0;
    }
    observe(x, TB_SIM_REQ_QUERY, client_order_id, now, f, 0, rc);
    return rc;
}

#define BPS_ONE (10000 * 100000000LL) /* 1 in bps at the decimals' scale */

typedef enum { TICK_HALF_UP, TICK_DOWN, TICK_UP } tick_rounding;

/* v × f / one rounded straight to the tick in one step (v, f, one > 0):
 * rounding to 8 digits first could turn a value just below a half tick
 * into a tie and round it the wrong way. */
static int scale_to_tick(tb_decimal v, int64_t f, int64_t one, tb_decimal tick, tick_rounding m,
                         tb_decimal *out)
{
    if (tick <= 0) tick = 1;
    __int128 num = (__int128)v * f, den = (__int128)one * tick;
    __int128 t = num / den, r = num % den;
    if (m == TICK_HALF_UP ? 2 * r >= den : m == TICK_UP && r > 0) t++;
    t *= tick;
    if (t > INT64_MAX) return TB_EOVERFLOW;
    *out = (tb_decimal)t;
    return 0;
}

/* base moved by slippage against the taker (buys up, sells down). */
static int slipped(const sim *x, const sim_order *o, tb_decimal base, tb_decimal *out)
{
    int64_t f =
        o->req.side == TB_SIDE_BUY ? BPS_ONE + x->cfg.slippage_bps : BPS_ONE - x->cfg.slippage_bps;
    return scale_to_tick(base, f, BPS_ONE, x->syms[o->sym].rules.tick_size, TICK_HALF_UP, out);
}

/* The price an order gets on this bar, or 0 if it does not fill; *touched
 * says a STOP_MARKET's stop was reached on it. */
static int fill_price(const sim *x, const sim_order *o, const tb_market_data *bar, tb_decimal *out,
                      int *touched)
{
    const tb_order_placement_request *q = &o->req;
    int buy = q->side == TB_SIDE_BUY;
    *out = 0;
    *touched = 0;
    if (q->order_type == TB_ORDER_STOP_MARKET && !o->triggered) {
        /* A bar that opens beyond the stop gapped through it: the order
         * became a market order at the open. Otherwise the price crossed
         * the stop inside the bar and the market order executed from there. */
        tb_decimal stop = q->stop_price, base;
        if (buy ? bar->high < stop : bar->low > stop) return 0;
        *touched = 1;
        if (buy)
            base = bar->open >= stop ? bar->open : stop;
        else
            base = bar->open <= stop ? bar->open : stop;
        return slipped(x, o, base, out);
    }
    if (q->order_type != TB_ORDER_LIMIT) return slipped(x, o, bar->open, out);
    if (buy) {
        if (bar->open <= q->price)
            *out = bar->open;
        else if (bar->low < q->price)
            *out = q->price;
    } else {
        if (bar->open >= q->price)
            *out = bar->open;
        else if (bar->high > q->price)
            *out = q->price;
    }
    return 0;
}

/* Index of the first order with a sequence number above seq. */
static size_t first_after(const sim *x, uint64_t seq)
{
    size_t lo = 0, hi = x->norders;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->orders[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 with *i set if order seq is still on the book. */
static int find_seq(const sim *x, uint64_t seq, size_t *i)
{
    *i = first_after(x, seq - 1);
    return *i < x->norders && x->orders[*i].seq == seq;
}

/* An order that filled, even in part, takes its OCO partner off the book,
 * whichever of the two named the other. */
static void cancel_oco_partners(sim *x, const char *cid, const char *partner, int64_t now)
{
    /* Every fill comes here and almost none has a partner: the text is
     * made only for one (a snprintf per fill was 2-3% of a busy run). */
    char text[TB_TEXT_LEN];
    text[0] = 0;
    for (;;) {
        size_t i;
        for (i = 0; i < x->norders; i++) {
            const tb_order_placement_request *q = &x->orders[i].req;
            if (!partner[0] && !q->oco_with[0]) continue;
            if (strcmp(q->client_order_id, cid) == 0) continue;
            if ((partner[0] && strcmp(q->client_order_id, partner) == 0) ||
                strcmp(q->oco_with, cid) == 0)
                break;
        }
        if (i == x->norders) return;
        if (!text[0]) snprintf(text, sizeof(text), "OCO: %s filled", cid);
        /* One at a time, searching afresh: the listener may change the book. */
        end_order(x, i, TB_XR_CANCELED, now, text);
    }
}

/* Trades order i on bar at time now as far as its price rules and the
 * bar's remaining volume allow; ends an IOC/FOK remainder and cancels an
 * OCO partner. The book is settled before the listener hears of it. */
static int execute(sim *x, size_t i, const tb_market_data *bar, int64_t now)
{
    sim_order *o = &x->orders[i];
    sym_state *s = &x->syms[o->sym];
    tb_decimal price, qty = o->remaining, fee, notional;
    int touched, rc = fill_price(x, o, bar, &price, &touched);
    if (rc) return rc;
    if (touched) o->triggered = 1;
    if (s->cap_left >= 0 && qty > s->cap_left) qty = s->cap_left;
    tb_time_in_force tif = o->req.order_type == TB_ORDER_LIMIT ? o->req.time_in_force : TB_TIF_GTC;
    if (price <= 0 || (tif == TB_TIF_FOK && qty < o->remaining)) qty = 0;
    if (qty <= 0 && tif == TB_TIF_GTC) return 0;

    tb_exchange_response fill, end;
    memset(&fill, 0, sizeof(fill));
    memset(&end, 0, sizeof(end));
    if (qty > 0) {
        if ((rc = commission(price, qty, x->cfg.fee_bps, &fee)) != 0) return rc;
        if ((rc = tb_dec_mul(price, qty, TB_ROUND_HALF_UP, &notional)) != 0) return rc;
        int buy = o->req.side == TB_SIDE_BUY;
        if ((rc = tb_dec_sub(x->cash, buy ? notional : -notional, &x->cash)) != 0) return rc;
        if ((rc = tb_dec_sub(x->cash, fee, &x->cash)) != 0) return rc;
        s->position += buy ? qty : -qty;
        if (s->cap_left >= 0) s->cap_left -= qty;
        o->remaining -= qty;
        if (o->inc_remaining > o->remaining) o->inc_remaining = o->remaining;
        fill.kind = TB_XR_FILL;
        memcpy(fill.client_order_id, o->req.client_order_id, sizeof(fill.client_order_id));
        memcpy(fill.order_id, o->order_id, sizeof(fill.order_id));
        fill.time = now;
        fill.quantity = qty;
        fill.price = price;
        fill.commission = fee;
        fill.trade_id = ++x->next_trade;
    }
    char cid[TB_ORDER_ID_LEN], partner[TB_ORDER_ID_LEN];
    memcpy(cid, o->req.client_order_id, sizeof(cid));
    memcpy(partner, o->req.oco_with, sizeof(partner));
    if (o->remaining == 0) {
        remember_finished(x, o, TB_ORDER_FILLED);
        remove_order(x, i);
    } else if (tif != TB_TIF_GTC) {
        /* Expiring is canceling: leaving the book releases its reservation. */
        char left[TB_DECIMAL_STRLEN], all[TB_DECIMAL_STRLEN];
        tb_dec_format(o->remaining, left, sizeof(left));
        tb_dec_format(o->req.quantity, all, sizeof(all));
        end.kind = TB_XR_EXPIRED;
        memcpy(end.client_order_id, o->req.client_order_id, sizeof(end.client_order_id));
        memcpy(end.order_id, o->order_id, sizeof(end.order_id));
        end.time = now;
        end.quantity = o->remaining;
        if (tif == TB_TIF_IOC)
            snprintf(end.text, sizeof(end.text), "IOC: %s of %s unfilled expired", left, all);
        else
            snprintf(end.text, sizeof(end.text), "FOK: %s cannot fill in full, expired", all);
        remember_finished(x, o, TB_ORDER_EXPIRED);
        remove_order(x, i);
    }
    if (fill.kind) respond(x, &fill);
    if (end.kind) respond(x, &end);
    if (fill.kind) cancel_oco_partners(x, cid, partner, now);
    return 0;
}

/* After a bar the order was live on: a trailing stop follows the close,
 * never back, rounded so that it never passes the exact trailing level. */
static int trail(const sim *x, sim_order *o, tb_decimal close)
{
    tb_order_placement_request *q = &o->req;
    if (q->order_type != TB_ORDER_STOP_MARKET || q->trailing_pct <= 0 || o->triggered) return 0;
    const int64_t one = 100 * TB_DECIMAL_ONE; /* 100 percent */
    int buy = q->side == TB_SIDE_BUY;
    tb_decimal stop;
    int rc = scale_to_tick(close, buy ? one + q->trailing_pct : one - q->trailing_pct, one,
                           x->syms[o->sym].rules.tick_size, buy ? TICK_UP : TICK_DOWN, &stop);
    if (rc) return rc;
    if (buy ? stop < q->stop_price : stop > q->stop_price) q->stop_price = stop;
    return 0;
}

/* The Order Manager places a stop-loss once the exchange is done with the
 * bar that filled the entry, stamped with a time inside that bar. The stop
 * protects from that fill on, so it meets that bar now (then trails from
 * its close); later bars treat it as any order. A LIMIT placed the same way
 * waits for the next bar: a target touched before the entry filled is not
 * a price it could have had. */
static int evaluate_at_submit(sim *x, uint64_t seq, int64_t now)
{
    size_t i;
    if (!find_seq(x, seq, &i)) return 0; /* the listener canceled it on its ack */
    const sym_state *s = &x->syms[x->orders[i].sym];
    if (x->orders[i].req.order_type != TB_ORDER_STOP_MARKET || s->bars == 0 ||
        now >= s->last_bar_time)
        return 0;
    tb_market_data bar = s->last_bar; /* a copy: the listener may grow syms */
    int rc = execute(x, i, &bar, now);
    if (rc == 0 && find_seq(x, seq, &i)) rc = trail(x, &x->orders[i], bar.close);
    return rc;
}

TB__HOT static int sim_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    sim *x = (sim *)ex;
    size_t si;
    int rc = find_sym(x, bar->symbol, !x->restrict_symbols, &si);
    if (rc == TB_ENOTFOUND) return 0; /* a symbol we do not trade */
    if (rc) return rc;
    sym_state *s = &x->syms[si];
    /* A bar delivered twice (a retry, a replay) must not fill twice. */
    if (s->bars > 0 && bar->close_time <= s->last_bar_time) return 0;
    s->bars++;
    s->last_bar_time = bar->close_time;
    s->last_bar = *bar;
    s->cap_left = -1;
    if (x->cfg.max_volume_participation > 0) {
        tb_decimal cap;
        rc = tb_dec_mul(bar->volume, x->cfg.max_volume_participation, TB_ROUND_DOWN, &cap);
        if (rc) return rc;
        if (s->rules.step_size > 0) tb_dec_quantize(cap, s->rules.step_size, TB_ROUND_DOWN, &cap);
        s->cap_left = cap;
    }
    const uint64_t nbar = s->bars;

    /* Stops first: a bar that reached both a bracket's stop and its target
     * may have done so in either order, and the stop is the worse case. */
    for (int stops = 1; stops >= 0; stops--) {
        uint64_t last = 0;
        for (;;) {
            size_t i = first_after(x, last);
            while (i < x->norders &&
                   (x->orders[i].sym != si || x->orders[i].arrived_bar >= nbar ||
                    (x->orders[i].req.order_type == TB_ORDER_STOP_MARKET) != stops))
                i++;
            if (i == x->norders) break;
            last = x->orders[i].seq;
            if ((rc = execute(x, i, bar, bar->open_time)) != 0) return rc;
        }
    }
    for (size_t i = 0; i < x->norders; i++)
        if (x->orders[i].sym == si && x->orders[i].arrived_bar < nbar &&
            (rc = trail(x, &x->orders[i], bar->close)) != 0)
            return rc;
    x->syms[si].last_close = bar->close;
    return 0;
}

static void sim_destroy(tb_exchange *ex)
{
    sim *x = (sim *)ex;
    free(x->syms);
    free(x->orders);
    free(x->script);
    free(x->ids);
    tb__index_close(&x->id_idx);
    free(x);
}

static tb_decimal cash_of(const sim *x)
{
    return x->cash;
}

static tb_decimal equity_of(const sim *x)
{
    __int128 e = x->cash;
    for (size_t i = 0; i < x->nsyms; i++) {
        __int128 v = (__int128)x->syms[i].position * x->syms[i].last_close;
        /* half-up to 1e-8, away from zero for a short's negative value */
        e += (v >= 0 ? v + 50000000 : v - 50000000) / 100000000;
    }
    if (e > INT64_MAX) e = INT64_MAX;
    if (e < -INT64_MAX) e = -INT64_MAX;
    return (tb_decimal)e;
}

static int sim_cash(tb_exchange *ex, tb_decimal *out)
{
    *out = cash_of((const sim *)ex);
    return 0;
}

static int sim_equity(tb_exchange *ex, tb_decimal *out)
{
    *out = equity_of((const sim *)ex);
    return 0;
}

static const tb_exchange_vtable sim_vt = {
    .name = "sim",
    .submit = sim_submit,
    .cancel = sim_cancel,
    .query = sim_query,
    .on_market_data = sim_on_market_data,
    .destroy = sim_destroy,
    .cash = sim_cash,
    .equity = sim_equity,
};

void tb_sim_exchange_config_init(tb_sim_exchange_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->initial_cash = 10000 * TB_DECIMAL_ONE;
    cfg->fee_bps = 10 * TB_DECIMAL_ONE;
    tb_sim_faults_init(&cfg->faults);
}

int tb_sim_exchange_create(const tb_sim_exchange_config *cfg, tb_exchange **out, char *err,
                           size_t errlen)
{
    tb_sim_exchange_config def;
    if (!out) return TB_EINVAL;
    if (!cfg) {
        tb_sim_exchange_config_init(&def);
        cfg = &def;
    }
#define BAD(msg)                                                                                   \
    do {                                                                                           \
        if (err && errlen) snprintf(err, errlen, "%s", msg);                                       \
        return TB_EINVAL;                                                                          \
    } while (0)
    if (cfg->initial_cash < 0) BAD("initial_cash: must not be negative");
    if (cfg->fee_bps < 0 || cfg->fee_bps >= 10000 * TB_DECIMAL_ONE)
        BAD("fee_bps: must be in [0, 10000)");
    if (cfg->slippage_bps < 0 || cfg->slippage_bps >= 10000 * TB_DECIMAL_ONE)
        BAD("slippage_bps: must be in [0, 10000)");
    if (cfg->max_volume_participation < 0 || cfg->max_volume_participation > TB_DECIMAL_ONE)
        BAD("max_volume_participation: must be in [0, 1] (0 = no limit)");
    const tb_sim_faults *fs = &cfg->faults;
    const tb_decimal probs[] = {fs->timeout,    fs->lost_ack,        fs->server_error,
                                fs->rate_limit, fs->connection_lost, fs->query_timeout};
    for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++)
        if (probs[i] < 0 || probs[i] > TB_DECIMAL_ONE)
            BAD("faults: every probability must be in [0, 1]");
    if (fs->timeout + fs->lost_ack + fs->server_error + fs->rate_limit + fs->connection_lost >
        TB_DECIMAL_ONE)
        BAD("faults: the submit fault probabilities add up to more than 1");
    if (fs->retry_after < 0) BAD("faults: retry_after must not be negative");
#undef BAD
    sim *x = calloc(1, sizeof(*x));
    if (!x) return TB_ENOMEM;
    x->base.vt = &sim_vt;
    x->cfg = *cfg;
    x->cfg.symbols = NULL;
    x->cfg.nsymbols = 0;
    x->cash = cfg->initial_cash;
    x->faults_on = tb_sim_faults_enabled(&cfg->faults);
    x->rng = cfg->faults.seed;
    x->track = cfg->track_ids || x->faults_on;
    if (x->track) {
        x->ids_cap = 64;
        x->ids = malloc(x->ids_cap * sizeof(*x->ids));
        if (!x->ids || tb__index_init(&x->id_idx, 128) != 0) {
            sim_destroy(&x->base);
            return TB_ENOMEM;
        }
    }
    for (size_t i = 0; i < cfg->nsymbols; i++) {
        size_t si;
        if (find_sym(x, cfg->symbols[i].symbol, 1, &si) != 0) {
            sim_destroy(&x->base);
            return TB_ENOMEM;
        }
        x->syms[si].rules = cfg->symbols[i];
    }
    x->restrict_symbols = cfg->nsymbols > 0;
    *out = &x->base;
    return 0;
}

/* The simulator's own calls are handed any tb_exchange: the vtable tells
 * whether it really is one before it is read as such. */
static const sim *as_sim(const tb_exchange *ex)
{
    return ex && ex->vt == &sim_vt ? (const sim *)ex : NULL;
}

int tb_sim_exchange_is(const tb_exchange *ex)
{
    return as_sim(ex) != NULL;
}

tb_decimal tb_sim_exchange_cash(const tb_exchange *ex)
{
    const sim *x = as_sim(ex);
    return x ? cash_of(x) : 0;
}

tb_decimal tb_sim_exchange_equity(const tb_exchange *ex)
{
    const sim *x = as_sim(ex);
    return x ? equity_of(x) : 0;
}

size_t tb_sim_exchange_open_orders(const tb_exchange *ex)
{
    const sim *x = as_sim(ex);
    return x ? x->norders : 0;
}

tb_sim_exchange_stats tb_sim_exchange_get_stats(const tb_exchange *ex)
{
    static const tb_sim_exchange_stats none;
    const sim *x = as_sim(ex);
    return x ? x->stats : none;
}

int tb_sim_exchange_id_stats(const tb_exchange *ex, const char *client_order_id, uint32_t *submits,
                             uint32_t *accepts)
{
    const sim *x = as_sim(ex);
    if (!x || !client_order_id) return TB_EINVAL;
    const id_entry *e = find_id(x, client_order_id, tb__hash_key(NULL, client_order_id));
    if (!e) return TB_ENOTFOUND;
    if (submits) *submits = e->submits;
    if (accepts) *accepts = e->accepts;
    return 0;
}

int tb_sim_exchange_script_faults(tb_exchange *ex, const tb_sim_fault *faults, size_t n)
{
    sim *x = (sim *)ex;
    if (!as_sim(ex) || (n && !faults)) return TB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((int)faults[i] < 0 || (int)faults[i] >= (int)TB_SIM_FAULT_COUNT) return TB_EINVAL;
    if (x->script_n + n > x->script_cap) {
        size_t nc = (x->script_n + n) * 2;
        tb_sim_fault *ns = realloc(x->script, nc * sizeof(*ns));
        if (!ns) return TB_ENOMEM;
        x->script = ns;
        x->script_cap = nc;
    }
    memcpy(x->script + x->script_n, faults, n * sizeof(*faults));
    x->script_n += n;
    return 0;
}

/* ---- the registry's entry: `[exchange] type = sim` ---------------------- */

static int faults_check(const char *value, char *msg, size_t msglen)
{
    tb_sim_faults f;
    tb_sim_faults_init(&f);
    char why[200];
    if (tb_sim_faults_parse(value, &f, why, sizeof(why)) == 0) return 0;
    /* The config names the key already. */
    snprintf(msg, msglen, "%s", strncmp(why, "faults: ", 8) == 0 ? why + 8 : why);
    return TB_ECONFIG;
}

static const tb_exchange_key sim_keys[] = {
    {"fee_bps", TB_XKEY_DECIMAL, "10", "0", "9999.99999999", NULL,
     "commission = price x qty x fee_bps / 10000, half-up to 8 decimals", NULL},
    {"slippage_bps", TB_XKEY_DECIMAL, "0", "0", "9999.99999999", NULL,
     "MARKET (and stop) fills move this much against the taker", NULL},
    {"max_volume_participation", TB_XKEY_DECIMAL, "0", "0", "1", NULL,
     "max fraction of a bar's volume an order may fill on that bar (0 = unlimited)", NULL},
    {"faults", TB_XKEY_TEXT, "none", NULL, NULL, NULL,
     "injected failures, e.g. timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05 "
     "(also connection_lost, query_timeout, retry_after_ms:N)",
     faults_check},
    {"fault_seed", TB_XKEY_INT, "1", "0", "9223372036854775807", NULL,
     "seed of the fault draws (runs stay deterministic)", NULL},
};

/* The settings live in cfg->exchange rather than being read at create: a
 * program (the fault tests) adjusts them between build and create. Every
 * value was checked by the config, so the readers cannot fail here. */
static int sim_configure(const tb_exchange_type *type, tb_config *cfg, char *err, size_t errlen)
{
    (void)type;
    tb_sim_exchange_config *c = &cfg->exchange;
    tb_sim_exchange_config_init(c);
    c->initial_cash = cfg->initial_cash;
    c->symbols = cfg->symbols;
    c->nsymbols = cfg->nsymbols;
    long long seed = 1;
    char why[200];
    if (tb_exchange_param_dec(cfg, "fee_bps", &c->fee_bps) != 0 ||
        tb_exchange_param_dec(cfg, "slippage_bps", &c->slippage_bps) != 0 ||
        tb_exchange_param_dec(cfg, "max_volume_participation", &c->max_volume_participation) != 0 ||
        tb_exchange_param_int(cfg, "fault_seed", &seed) != 0 ||
        tb_sim_faults_parse(tb_exchange_param(cfg, "faults"), &c->faults, why, sizeof(why)) != 0) {
        if (err && errlen) snprintf(err, errlen, "[exchange] sim: bad settings");
        return TB_ECONFIG;
    }
    c->faults.seed = (uint64_t)seed;
    return 0;
}

static int sim_create_from(const tb_exchange_type *type, const tb_config *cfg, tb_loop *loop,
                           tb_exchange **out, char *err, size_t errlen)
{
    (void)type;
    (void)loop; /* the simulator moves on market data, not on the clock */
    return tb_sim_exchange_create(&cfg->exchange, out, err, errlen);
}

const tb_exchange_type tb_sim_exchange_type = {
    .name = "sim",
    .description = "simulated exchange: fills on the next bars of the data, no look-ahead",
    .keys = sim_keys,
    .nkeys = sizeof(sim_keys) / sizeof(sim_keys[0]),
    .create = sim_create_from,
    .configure = sim_configure,
};
