/* The Order Manager: signals in, orders out, exchange responses back as events.
 *
 * Only orders that are not yet terminal are kept in the working table (a run
 * of millions of bars must not grow with its order count); the final status
 * of recently finished orders stays queryable in a small ring. Open orders
 * are few, so the table is scanned linearly.
 *
 * The exchange may answer from inside submit, cancel and (in a live run)
 * between any two calls, and every answer can retire an order — moving the
 * table. So no order pointer is held across an exchange call: orders are
 * found again by client order id after each one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/errbuf.h"
#include "../core/fixstr.h"
#include "../core/keyindex.h"
#include "tradebus/orders.h"
#include "validate.h"

#define RECENT 1024 /* finished orders whose status stays queryable */

#define MILLISECOND          INT64_C(1000000)
#define SECOND               (1000 * MILLISECOND)
#define DEFAULT_MAX_ATTEMPTS 8
#define DEFAULT_BASE_DELAY   (100 * MILLISECOND)
#define DEFAULT_MAX_DELAY    (10 * SECOND)
#define DEFAULT_MAX_TOTAL    (30 * SECOND)
/* Far beyond any sane setting, and small enough that sums of waits cannot
 * overflow int64 ns. */
#define MAX_DELAY_LIMIT (INT64_C(7) * 24 * 3600 * SECOND)

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
    int in_doubt;   /* the last send may be on the book: not resent before a look-up */
    int ambiguous;  /* some send failed ambiguously (sticky): a DUPLICATE means "ours" */
    int dup_seen;   /* ...and the exchange has just said DUPLICATE */
    int abandoning; /* being canceled before it is given up */
    int abandon_canceled;
    tb_order_origin origin;
    tb_time_in_force tif;
    tb_decimal stop_price, trailing_pct;
    char oco_with[TB_ORDER_ID_LEN];
    int swept;                    /* looked at by the halt's sweep */
    uint64_t expire_bar;          /* its symbol's bar count at which it expires; 0 = never */
    tb_cancel_cause cancel_cause; /* why we are canceling it, for its OrderCanceled */
    char cancel_text[TB_TEXT_LEN];
} order;

/* What a strategy truly holds in a symbol: every fill, seen as it happens
 * (the exchange answers the manager first), plus its order handling. */
typedef struct {
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_decimal position; /* signed */
    tb_decimal entry;    /* average entry price of the position, 0 when flat */
    int configured;      /* rules came from the config: targets, replace, ... */
    tb_order_strategy rules;
    /* Its bracket's working legs ("" = none), and whether the position has
     * moved by anything but the bracket itself since it was placed. */
    char stop_cid[TB_ORDER_ID_LEN], target_cid[TB_ORDER_ID_LEN];
    int rebracket;
    /* Bracket prices a signal named (SignalGenerated stop_loss/take_profit);
     * 0 = the rules' percent. Cleared when the position goes flat. */
    tb_decimal stop_at, take_at;
    int parked; /* a signal waits in the parked table for its cancels to settle */
} book;

/* Bars seen per symbol, for expire_after_bars. */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    uint64_t bars;
} sym_count;

typedef struct {
    char client_order_id[TB_ORDER_ID_LEN];
    tb_order_status status;
    /* Given up while its cancel was on its way to an asynchronous exchange:
     * that cancel's news (the ack of the last send, then CANCELED) is ours
     * and expected, not an illegal move. */
    int cancel_in_flight;
} finished;

/* One order's (or cancel's) retry bookkeeping. */
typedef struct {
    int failures;
    int64_t elapsed; /* waited so far, ns */
    tb_exchange_error last;
    const char *last_op; /* "submit", "look-up", "cancel" */
} retry_state;

typedef enum { OP_SUBMIT = 1, OP_CANCEL = 2 } op_kind;

/* Where an exchange request is in its retries: an order's submit (with its
 * look-ups) or a cancel. A state machine: each step makes attempts until
 * the exchange answers, the request is given up, or a wait is due. */
typedef struct {
    op_kind kind;
    char cid[TB_ORDER_ID_LEN];
    retry_state rs;
    int look_up, sends;
    int64_t start;         /* time of the first attempt; attempt n is at start + the waits */
    int cancel_wanted;     /* OP_SUBMIT: a cancel came while the order was in retry */
    tb_cancel_cause cause; /* OP_CANCEL: why we cancel, for the counters */
    const tb_event *req;   /* OP_SUBMIT: the request */
} op_state;

/* A request waiting on its timer, or on the reply of an asynchronous
 * exchange. The first attempt runs on the stack; only a request that must
 * wait is copied here (retries are rare, and a synchronous exchange never
 * makes one wait for its reply: the backtest's hot path allocates nothing). */
typedef struct retry_op {
    struct tb_order_manager *om;
    tb_timer_id timer;
    int awaiting; /* the exchange's result is due (no timer) */
    op_state st;
    tb_event own_req; /* OP_SUBMIT: st.req points here */
} retry_op;

/* A signal waiting for the cancels of its book's orders to settle. */
typedef struct {
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_event signal;
} parked_signal;

struct tb_order_manager {
    tb_bus *bus;
    tb_order_manager_config cfg;
    order *orders;
    size_t norders, cap;
    finished recent[RECENT];
    size_t nrecent;
    uint64_t next_client_id;
    uint64_t rng; /* splitmix64 state for the jitter: deterministic per seed */
    tb_order_manager_stats stats;
    int sub_signal, sub_md;
    char why[TB_TEXT_LEN]; /* why the last call failed, for dead letters and alerts */
    book *books;
    size_t nbooks, books_cap;
    sym_count *syms;
    size_t nsyms, syms_cap;
    int halted; /* the halt's cancels (and close-all) are done */
    /* Some book expires orders / places brackets: only then is per-bar
     * work done for them, which keeps plain runs at their old speed. */
    int expiring, bracketing;
    uint64_t last_bar_id; /* a bar delivered again is not counted again */
    tb_loop *loop;        /* the clock and the retries' timers */
    int own_loop;         /* made here (none configured): advanced by what arrives */
    retry_op **ops;       /* requests waiting on a timer */
    size_t nops, ops_cap;
    parked_signal *parked;
    size_t nparked, parked_cap;
};

/* strategy_id and symbol: fields (arrays of TB_STRATEGY_LEN, TB_SYMBOL_LEN). */
static book *find_book(const tb_order_manager *om, const char *strategy_id, const char *symbol)
{
    for (size_t i = 0; i < om->nbooks; i++)
        if (tb__strategy_eq(om->books[i].strategy_id, strategy_id) &&
            tb__sym_eq(om->books[i].symbol, symbol))
            return &om->books[i];
    return NULL;
}

/* The (strategy, symbol)'s book, made on first sight; NULL out of memory.
 * Strings must fit their arrays (they come from validated events). */
static book *book_for(tb_order_manager *om, const char *strategy_id, const char *symbol)
{
    book *b = find_book(om, strategy_id, symbol);
    if (b) return b;
    if (om->nbooks == om->books_cap) {
        size_t nc = om->books_cap ? om->books_cap * 2 : 8;
        book *nb = realloc(om->books, nc * sizeof(*nb));
        if (!nb) return NULL;
        om->books = nb;
        om->books_cap = nc;
    }
    b = &om->books[om->nbooks++];
    memset(b, 0, sizeof(*b));
    snprintf(b->strategy_id, sizeof(b->strategy_id), "%s", strategy_id);
    snprintf(b->symbol, sizeof(b->symbol), "%s", symbol);
    return b;
}

static sym_count *sym_for(tb_order_manager *om, const char *symbol)
{
    for (size_t i = 0; i < om->nsyms; i++)
        if (tb__sym_eq(om->syms[i].symbol, symbol)) return &om->syms[i];
    if (om->nsyms == om->syms_cap) {
        size_t nc = om->syms_cap ? om->syms_cap * 2 : 4;
        sym_count *ns = realloc(om->syms, nc * sizeof(*ns));
        if (!ns) return NULL;
        om->syms = ns;
        om->syms_cap = nc;
    }
    sym_count *c = &om->syms[om->nsyms++];
    memset(c, 0, sizeof(*c));
    snprintf(c->symbol, sizeof(c->symbol), "%s", symbol);
    return c;
}

static tb_decimal signed_qty(tb_side side, tb_decimal q)
{
    return side == TB_SIDE_BUY ? q : -q;
}

/* A fill of signed quantity q at price: the position and its average entry
 * (exact to 8 decimals, half-up), as the Position Manager keeps them. */
static void move_position(book *b, tb_decimal q, tb_decimal price)
{
    tb_decimal p = b->position, after = p + q;
    if (p == 0 || (p > 0) == (q > 0)) {
        __int128 num = (__int128)b->entry * tb_dec_abs(p) + (__int128)price * tb_dec_abs(q);
        __int128 den = tb_dec_abs(after);
        __int128 e = num / den, rem = num % den;
        if (2 * rem >= den) e++;
        b->entry = (tb_decimal)e;
    } else if (after == 0) {
        b->entry = 0;
        b->stop_at = b->take_at = 0;
    } else if ((after > 0) != (p > 0)) {
        b->entry = price; /* flipped: the new position's entry */
    }
    b->position = after;
}

/* Records why a call fails and returns rc, so that the handler can tell the
 * bus (tb_bus_fail_reason) and a refused response can say more than its code. */
static int fail(tb_order_manager *om, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(tb_order_manager *om, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(om->why, sizeof(om->why), fmt, ap);
    va_end(ap);
    return rc;
}

static const char *kind_name(tb_exchange_response_kind k)
{
    switch (k) {
    case TB_XR_ACCEPTED:
        return "ACCEPTED";
    case TB_XR_REJECTED:
        return "REJECTED";
    case TB_XR_FILL:
        return "FILL";
    case TB_XR_CANCELED:
        return "CANCELED";
    case TB_XR_EXPIRED:
        return "EXPIRED";
    }
    return "?";
}

static order *find(const tb_order_manager *om, const char *cid)
{
    for (size_t i = 0; i < om->norders; i++)
        if (strcmp(om->orders[i].client_order_id, cid) == 0) return &om->orders[i];
    return NULL;
}

/* find() for a cid that is a field (an array of TB_ORDER_ID_LEN): the
 * order's own path, compared a word at a time. */
static order *find_field(const tb_order_manager *om, const char *cid)
{
    for (size_t i = 0; i < om->norders; i++)
        if (tb__cid_eq(om->orders[i].client_order_id, cid)) return &om->orders[i];
    return NULL;
}

static void retire(tb_order_manager *om, order *o)
{
    finished *f = &om->recent[om->nrecent++ % RECENT];
    memcpy(f->client_order_id, o->client_order_id, sizeof(f->client_order_id));
    f->status = o->status;
    f->cancel_in_flight = 0;
    size_t i = (size_t)(o - om->orders);
    memmove(o, o + 1, (om->norders - i - 1) * sizeof(*o));
    om->norders--;
}

/* A manager with its own loop moves its clock to what arrives (a borrowed
 * loop is its runner's to move). */
static void follow(tb_order_manager *om, int64_t t)
{
    if (om->own_loop) tb_loop_advance(om->loop, t);
}

/* The time an event is handled at: the clock's, never the event's own. On
 * a simulated clock its runner moved it to the event's time before
 * delivering it (a manager with its own loop does so itself). */
static int64_t event_now(const tb_order_manager *om, int64_t ts)
{
    (void)ts;
    return tb_loop_now(om->loop);
}

static int on_signal(const tb_event *ev, void *ctx)
{
    tb_order_manager *om = ctx;
    follow(om, ev->timestamp);
    om->why[0] = 0;
    int rc = tb_order_manager_handle_signal_event(om, ev);
    if (rc) tb_bus_fail_reason(om->bus, "%s", om->why[0] ? om->why : tb_strerror(rc));
    return rc;
}

static int after_bar(tb_order_manager *om, const tb_event *bar, uint64_t bars);

TB__HOT static int on_market_data(const tb_event *ev, void *ctx)
{
    tb_order_manager *om = ctx;
    follow(om, ev->timestamp);
    /* Counted before the exchange sees the bar: an order is good for N bars
     * of its symbol after the one it was sent on. Only symbols some order
     * handling needs are counted, which keeps plain runs as they were. */
    uint64_t bars = 0;
    if (om->expiring) {
        sym_count *c = sym_for(om, ev->u.market_data.symbol);
        if (!c) return TB_ENOMEM;
        if (ev->event_id == 0 || ev->event_id != om->last_bar_id) c->bars++;
        bars = c->bars;
    }
    om->last_bar_id = ev->event_id;
    int rc = tb_exchange_on_market_data(om->cfg.exchange, &ev->u.market_data);
    if (rc) {
        tb_bus_fail_reason(om->bus, "exchange refused bar %s @%lld: %s", ev->u.market_data.symbol,
                           (long long)ev->u.market_data.open_time, tb_strerror(rc));
        return rc;
    }
    return after_bar(om, ev, bars);
}

static void on_result(const tb_exchange_result *r, void *ctx);

static void on_response(const tb_exchange_response *r, void *ctx)
{
    tb_order_manager *om = ctx;
    om->why[0] = 0;
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
    if (om->why[0])
        snprintf(a->detail, sizeof(a->detail), "%s", om->why);
    else
        snprintf(a->detail, sizeof(a->detail), "exchange response %s for order %.*s refused: %s",
                 kind_name(r->kind), TB_ORDER_ID_LEN - 1, r->client_order_id, tb_strerror(rc));
    a->trading_state = TB_TRADING_ACTIVE;
    tb_bus_publish(om->bus, &ev);
}

void tb_order_manager_config_init(tb_order_manager_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->order_capacity = 1024;
    cfg->max_attempts = DEFAULT_MAX_ATTEMPTS;
    cfg->base_delay = DEFAULT_BASE_DELAY;
    cfg->max_delay = DEFAULT_MAX_DELAY;
    cfg->max_total = DEFAULT_MAX_TOTAL;
    cfg->retry_seed = 1;
}

int tb_order_manager_create(tb_bus *bus, const tb_order_manager_config *cfg, tb_order_manager **out)
{
    if (!bus || !cfg || !cfg->exchange || !out) return TB_EINVAL;
    if (cfg->max_attempts < 0 || cfg->base_delay < 0 || cfg->max_delay < 0 || cfg->max_total < 0 ||
        cfg->base_delay > MAX_DELAY_LIMIT || cfg->max_delay > MAX_DELAY_LIMIT ||
        cfg->max_total > MAX_DELAY_LIMIT)
        return TB_EINVAL;
    tb_order_manager *om = calloc(1, sizeof(*om));
    if (!om) return TB_ENOMEM;
    om->bus = bus;
    om->cfg = *cfg;
    /* Zero means "the default", so a config that was memset rather than
     * initialised still retries sensibly. */
    if (!om->cfg.max_attempts) om->cfg.max_attempts = DEFAULT_MAX_ATTEMPTS;
    if (!om->cfg.base_delay) om->cfg.base_delay = DEFAULT_BASE_DELAY;
    if (!om->cfg.max_delay) om->cfg.max_delay = DEFAULT_MAX_DELAY;
    if (!om->cfg.max_total) om->cfg.max_total = DEFAULT_MAX_TOTAL;
    if (!om->cfg.retry_seed) om->cfg.retry_seed = 1;
    om->rng = om->cfg.retry_seed;
    om->loop = cfg->loop;
    if (!om->loop) {
        if (tb_loop_create(TB_CLOCK_SIMULATED, &om->loop) != 0) {
            free(om);
            return TB_ENOMEM;
        }
        om->own_loop = 1;
    }
    om->cap = cfg->order_capacity ? cfg->order_capacity : 1024;
    om->orders = malloc(om->cap * sizeof(order));
    if (!om->orders) goto fail_orders;
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        const tb_order_strategy *st = &cfg->strategies[i];
        if (!tb__valid_str(st->strategy_id, sizeof(st->strategy_id)) ||
            !tb__valid_str(st->symbol, sizeof(st->symbol)) || st->expire_after_bars < 0) {
            free(om->books);
            free(om->orders);
            if (om->own_loop) tb_loop_destroy(om->loop);
            free(om);
            return TB_EINVAL;
        }
        book *b = book_for(om, st->strategy_id, st->symbol);
        if (!b) goto fail_md;
        b->configured = 1;
        b->rules = *st;
        if (st->expire_after_bars > 0) om->expiring = 1;
        if (st->stop_loss_pct > 0 || st->take_profit_pct > 0 || st->trailing_stop_pct > 0)
            om->bracketing = 1;
    }
    om->cfg.strategies = NULL; /* copied into the books; the caller's may go */
    om->cfg.nstrategies = 0;
    om->sub_md = tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, on_market_data, om,
                                        tb_source_name(TB_SRC_ORDERS));
    if (om->sub_md < 0) goto fail_md;
    om->sub_signal = tb_bus_subscribe_named(bus, TB_EV_SIGNAL_GENERATED, on_signal, om,
                                            tb_source_name(TB_SRC_ORDERS));
    if (om->sub_signal < 0) goto fail_signal;
    tb_exchange_set_listener(cfg->exchange, on_response, om);
    tb_exchange_set_result_listener(cfg->exchange, on_result, om);
    *out = om;
    return 0;
fail_signal:
    tb_bus_unsubscribe(bus, om->sub_md);
fail_md:
    free(om->books);
    free(om->orders);
fail_orders:
    if (om->own_loop) tb_loop_destroy(om->loop);
    free(om);
    return TB_ENOMEM;
}

void tb_order_manager_destroy(tb_order_manager *om)
{
    if (!om) return;
    tb_bus_unsubscribe(om->bus, om->sub_signal);
    tb_bus_unsubscribe(om->bus, om->sub_md);
    tb_exchange_set_listener(om->cfg.exchange, NULL, NULL);
    tb_exchange_set_result_listener(om->cfg.exchange, NULL, NULL);
    for (size_t i = 0; i < om->nops; i++) {
        if (!om->own_loop && om->ops[i]->timer) tb_loop_timer_stop(om->loop, om->ops[i]->timer);
        free(om->ops[i]);
    }
    free(om->ops);
    free(om->parked);
    if (om->own_loop) tb_loop_destroy(om->loop);
    free(om->books);
    free(om->syms);
    free(om->orders);
    free(om);
}

int tb_order_manager_publish_order_event(tb_order_manager *om, tb_event *ev)
{
    return tb_bus_publish(om->bus, ev);
}

/* The signed unfilled rest of the book's working orders of the given origin
 * (any origin: all_origins), on one side (side 0: both). except, except2:
 * NULL or order id fields (arrays of TB_ORDER_ID_LEN). */
static tb_decimal working_of(const tb_order_manager *om, const book *b, int all_origins,
                             tb_side side, const char *except, const char *except2)
{
    tb_decimal w = 0;
    for (size_t i = 0; i < om->norders; i++) {
        const order *o = &om->orders[i];
        if (!tb__strategy_eq(o->strategy_id, b->strategy_id) || !tb__sym_eq(o->symbol, b->symbol))
            continue;
        if (!all_origins && o->origin != TB_ORIGIN_SIGNAL) continue;
        if (side && o->side != side) continue;
        if (except && tb__cid_eq(o->client_order_id, except)) continue;
        if (except2 && except2[0] && tb__cid_eq(o->client_order_id, except2)) continue;
        w += signed_qty(o->side, o->quantity - o->cum_qty);
    }
    return w;
}

static int canceling(const tb_order_manager *om, const char *cid);

/* Cancels one of our orders for a reason of ours, which its OrderCanceled
 * carries. An order the exchange no longer has is not an error here. */
static int cancel_for(tb_order_manager *om, const char *cid, int64_t now, tb_cancel_cause cause,
                      const char *text)
{
    order *o = find(om, cid);
    if (!o) return 0;
    char id[TB_ORDER_ID_LEN];
    memcpy(id, o->client_order_id, sizeof(id));
    o->cancel_cause = cause;
    snprintf(o->cancel_text, sizeof(o->cancel_text), "%s", text);
    int rc = tb_order_manager_cancel(om, id, now);
    if ((o = find(om, id)) != NULL && !canceling(om, id)) {
        /* Still working, no cancel under way: the next cancel says its own why. */
        o->cancel_cause = TB_CANCEL_EXCHANGE;
        o->cancel_text[0] = 0;
    }
    return rc == TB_ENOTFOUND ? 0 : rc;
}

/* The strategy's working signal orders on the symbol (on one side: side;
 * 0 = both) go before its new one. Found again from the start after each
 * cancel (it moves the table). */
static int cancel_replaced(tb_order_manager *om, const char *strategy_id, const char *symbol,
                           tb_side side, const char *by, int64_t now)
{
    for (;;) {
        const order *victim = NULL;
        for (size_t i = 0; i < om->norders && !victim; i++) {
            const order *o = &om->orders[i];
            if (o->origin == TB_ORIGIN_SIGNAL && !o->abandoning && (!side || o->side == side) &&
                o->cancel_cause != TB_CANCEL_REPLACED &&
                tb__strategy_eq(o->strategy_id, strategy_id) && tb__sym_eq(o->symbol, symbol))
                victim = o;
        }
        if (!victim) return 0;
        char text[TB_TEXT_LEN];
        snprintf(text, sizeof(text), "replaced by a new signal of %.*s", TB_STRATEGY_LEN - 1, by);
        char id[TB_ORDER_ID_LEN];
        memcpy(id, victim->client_order_id, sizeof(id));
        int rc = cancel_for(om, id, now, TB_CANCEL_REPLACED, text);
        if (rc) return rc;
        order *o = find(om, id);
        if (o)
            o->cancel_cause = TB_CANCEL_REPLACED; /* could not cancel: do not try again */
        else
            om->stats.replaced++;
    }
}

static int cancel_bracket(tb_order_manager *om, size_t bi, int64_t now);
static int handle_signal(tb_order_manager *om, const tb_event *sig, int64_t now);

/* A strategy's CANCEL: its working signal orders in the symbol, or the one
 * it names, are canceled (cause "requested"). The bracket's legs and a
 * halt's close are the manager's and stay; an id that is not a working
 * order of the strategy (filled meanwhile, say) cancels nothing. */
static int handle_cancel_signal(tb_order_manager *om, const tb_event *sig, int64_t now)
{
    const tb_signal_generated *s = &sig->u.signal;
    char text[TB_TEXT_LEN];
    snprintf(text, sizeof(text), "canceled by strategy %.*s", TB_STRATEGY_LEN - 1, s->strategy_id);
    for (size_t i = 0; i < om->norders;) {
        const order *o = &om->orders[i];
        if (o->origin != TB_ORIGIN_SIGNAL || o->abandoning ||
            o->cancel_cause == TB_CANCEL_REQUESTED || strcmp(o->strategy_id, s->strategy_id) != 0 ||
            !tb__sym_eq(o->symbol, s->symbol) ||
            (s->cancel_order_id[0] && strcmp(o->client_order_id, s->cancel_order_id) != 0)) {
            i++;
            continue;
        }
        char id[TB_ORDER_ID_LEN];
        memcpy(id, o->client_order_id, sizeof(id));
        int rc = cancel_for(om, id, now, TB_CANCEL_REQUESTED, text);
        if (rc) return rc;
        order *left = find(om, id);
        /* Could not cancel now (or in progress): not tried twice. */
        if (left) left->cancel_cause = TB_CANCEL_REQUESTED;
        i = 0; /* a cancel may move the table */
    }
    return 0;
}

int tb_order_manager_handle_signal_event(tb_order_manager *om, const tb_event *sig)
{
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(om->bus, sig, TB_EV_SIGNAL_GENERATED, why, sizeof(why));
    if (rc) return fail(om, rc, "%s", why);
    const tb_signal_generated *s = &sig->u.signal;
    if (s->signal_type == TB_SIGNAL_HOLD) return 0;
    if (s->signal_type == TB_SIGNAL_CANCEL) {
        om->stats.signals++;
        return handle_cancel_signal(om, sig, event_now(om, sig->timestamp));
    }
    if (s->volume <= 0) {
        char v[TB_DECIMAL_STRLEN];
        tb_dec_format(s->volume, v, sizeof(v));
        return fail(om, TB_EINVAL, "SignalGenerated.volume %s is not positive for %s", v,
                    tb_signal_type_name(s->signal_type));
    }
    /* A LIMIT price <= 0 goes on: the exchange rejects it with a reason and
     * the strategy hears of it, instead of the signal vanishing here. */
    om->stats.signals++;
    return handle_signal(om, sig, event_now(om, sig->timestamp));
}

/* 1 if some order of the book has a cancel under way. */
static int book_canceling(const tb_order_manager *om, const book *b)
{
    if (!om->nops) return 0;
    for (size_t i = 0; i < om->norders; i++) {
        const order *o = &om->orders[i];
        if (strcmp(o->strategy_id, b->strategy_id) == 0 && tb__sym_eq(o->symbol, b->symbol) &&
            canceling(om, o->client_order_id))
            return 1;
    }
    return 0;
}

/* The signal waits until its book's cancels have settled (the newest
 * signal of a book replaces one already waiting). 0 or TB_ENOMEM. */
static int park(tb_order_manager *om, book *b, const tb_event *sig)
{
    om->stats.parked++;
    for (size_t i = 0; i < om->nparked; i++)
        if (strcmp(om->parked[i].strategy_id, b->strategy_id) == 0 &&
            tb__sym_eq(om->parked[i].symbol, b->symbol)) {
            om->parked[i].signal = *sig;
            return 0;
        }
    if (om->nparked == om->parked_cap) {
        size_t nc = om->parked_cap ? om->parked_cap * 2 : 4;
        parked_signal *np = realloc(om->parked, nc * sizeof(*np));
        if (!np) return fail(om, TB_ENOMEM, "no memory to park a signal of %s", b->strategy_id);
        om->parked = np;
        om->parked_cap = nc;
    }
    parked_signal *ps = &om->parked[om->nparked++];
    memcpy(ps->strategy_id, b->strategy_id, sizeof(ps->strategy_id));
    memcpy(ps->symbol, b->symbol, sizeof(ps->symbol));
    ps->signal = *sig;
    b->parked = 1;
    return 0;
}

/* A valid, counted signal, handled at time now. */
static int handle_signal(tb_order_manager *om, const tb_event *sig, int64_t now)
{
    int rc;
    const tb_signal_generated *s = &sig->u.signal;

    tb_side side = s->signal_type == TB_SIGNAL_BUY ? TB_SIDE_BUY : TB_SIDE_SELL;
    tb_decimal qty = s->volume;
    tb_time_in_force tif = TB_TIF_GTC;
    book *b = find_book(om, s->strategy_id, s->symbol);
    if (b && b->configured) {
        /* Prices the signal names for the bracket replace the rules'
         * percents for this position; a new position starts from them. */
        if (s->stop_loss > 0 || s->take_profit > 0) {
            b->stop_at = s->stop_loss;
            b->take_at = s->take_profit;
            om->bracketing = 1;
            if (b->position != 0) b->rebracket = 1;
        } else if (b->position == 0) {
            b->stop_at = b->take_at = 0;
        }
        /* The way to the target from what is held. replace: nothing else
         * stays working. keep: orders that push that way stay, the others
         * go — with orders working both ways, both could fill and take the
         * strategy past its target (a long-only one short). */
        tb_decimal to_go;
        if (tb_dec_sub(s->target, b->position, &to_go) != 0)
            return fail(om, TB_EOVERFLOW, "target of %s is out of range", s->strategy_id);
        tb_side away =
            b->rules.keep && to_go != 0 ? (to_go > 0 ? TB_SIDE_SELL : TB_SIDE_BUY) : (tb_side)0;
        if ((!b->rules.keep || to_go == 0 || away) &&
            (rc = cancel_replaced(om, s->strategy_id, s->symbol, away, s->strategy_id, now)) != 0)
            return rc;
        b = find_book(om, s->strategy_id, s->symbol);
        /* What the strategy will hold if everything still working fills;
         * the order is what is missing to its target. */
        tb_decimal diff = to_go - working_of(om, b, 0, 0, NULL, NULL);
        if (diff != 0 && to_go != 0 && (diff > 0) != (to_go > 0)) {
            /* More is working than the target needs: start over. */
            if ((rc = cancel_replaced(om, s->strategy_id, s->symbol, (tb_side)0, s->strategy_id,
                                      now)) != 0)
                return rc;
            b = find_book(om, s->strategy_id, s->symbol);
            diff = to_go - working_of(om, b, 0, 0, NULL, NULL);
        }
        /* A cancel in retry may still lose to a fill: what to order is
         * known once it has settled, and the new order waits for that
         * rather than risk both working (past the target). */
        if (book_canceling(om, b)) return park(om, b, sig);
        if (diff == 0) {
            om->stats.absorbed++;
            return 0;
        }
        side = diff > 0 ? TB_SIDE_BUY : TB_SIDE_SELL;
        qty = tb_dec_abs(diff);
        /* An exit (or a flip) takes over from the bracket, which would
         * otherwise sell what the exit sells; it comes back for whatever is
         * still held once the exit has filled. */
        if ((b->stop_cid[0] || b->target_cid[0]) && b->position != 0 &&
            (b->position > 0) != (side == TB_SIDE_BUY)) {
            size_t bi = (size_t)(b - om->books);
            if ((rc = cancel_bracket(om, bi, now)) != 0) return rc;
            om->books[bi].rebracket = 1;
        }
        if (s->order_type == TB_ORDER_LIMIT) tif = b->rules.time_in_force;
        if (book_canceling(om, b)) return park(om, b, sig); /* the bracket's cancels */
    }

    tb_event req;
    tb_event_init(&req, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    tb_event_caused_by(&req, sig);
    req.timestamp = now;
    tb_order_placement_request *q = &req.u.order_request;
    q->order_type = s->order_type == TB_ORDER_LIMIT ? TB_ORDER_LIMIT : TB_ORDER_MARKET;
    q->side = side;
    memcpy(q->symbol, s->symbol, sizeof(q->symbol));
    q->quantity = qty;
    q->price = q->order_type == TB_ORDER_LIMIT ? s->limit_price : 0;
    q->time_in_force = tif;
    memcpy(q->strategy_id, s->strategy_id, sizeof(q->strategy_id));
    int n = tb__format_id(q->client_order_id, sizeof(q->client_order_id), s->strategy_id,
                          ++om->next_client_id);
    if (n < 0 || (size_t)n >= sizeof(q->client_order_id))
        return fail(om, TB_ERANGE, "client order id for strategy %s does not fit %d chars",
                    s->strategy_id, TB_ORDER_ID_LEN - 1);
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
    r->origin = o->origin;
    om->stats.rejected++;
    return tb_order_manager_publish_order_event(om, &ev);
}

/* ---- retries ------------------------------------------------------------ */

static uint64_t rng_next(tb_order_manager *om)
{
    uint64_t z = (om->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * uniform in [0, min(cap, base·2^n)]. Spreading the whole range, not just a
 * margin around the exponential, is what keeps many clients that failed
 * together from retrying together. */
static int64_t full_jitter(tb_order_manager *om, int n)
{
    int64_t cap = om->cfg.max_delay, ceiling = cap;
    if (n < 62 && om->cfg.base_delay <= (cap >> n)) ceiling = om->cfg.base_delay << n;
    return (int64_t)(rng_next(om) % ((uint64_t)ceiling + 1));
}

/* After a transient failure: adds the wait before the next attempt to
 * rs->elapsed and returns 0, or returns 1 with the reason to give up in why. */
static int backoff(tb_order_manager *om, retry_state *rs, const tb_exchange_error *xe,
                   const char *op, char *why, size_t whylen)
{
    rs->failures++;
    rs->last = *xe;
    rs->last_op = op;
    om->stats.transient_failures++;
    char last[TB_TEXT_LEN];
    if (xe->failure == TB_XF_NONE) /* not a transport failure: the text says what */
        tb__errf(last, sizeof(last), "%s %s", op, xe->text);
    else
        tb__errf(last, sizeof(last), "%s %s%s%s%s", op, tb_exchange_failure_name(xe->failure),
                 xe->text[0] ? " (" : "", xe->text, xe->text[0] ? ")" : "");
    if (rs->failures >= om->cfg.max_attempts) {
        tb__errf(why, whylen, "gave up after %d failed attempts in %lld ms; last: %s", rs->failures,
                 (long long)(rs->elapsed / MILLISECOND), last);
        return 1;
    }
    /* A rate limit says how long to wait: sooner only earns a ban (418). */
    int64_t d = xe->failure == TB_XF_RATE_LIMITED && xe->retry_after > 0
                    ? xe->retry_after
                    : full_jitter(om, rs->failures - 1);
    if (d > om->cfg.max_total - rs->elapsed) {
        tb__errf(why, whylen,
                 "gave up after %d failed attempts: %lld ms more would pass %lld ms; "
                 "last: %s",
                 rs->failures, (long long)(d / MILLISECOND),
                 (long long)(om->cfg.max_total / MILLISECOND), last);
        return 1;
    }
    rs->elapsed += d;
    om->stats.waited += d;
    return 0;
}

static int publish_retry_alert(tb_order_manager *om, const char *cid, const char *strategy_id,
                               const char *symbol, uint64_t cause, uint64_t correlation,
                               int64_t time, const char *why)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_ORDERS);
    ev.causation_id = cause;
    ev.correlation_id = correlation;
    ev.timestamp = time;
    tb_risk_alert *a = &ev.u.risk_alert;
    snprintf(a->rule, sizeof(a->rule), "order_retries");
    char text[TB_ORDER_ID_LEN + TB_TEXT_LEN + 4];
    snprintf(text, sizeof(text), "%.*s: %s", TB_ORDER_ID_LEN - 1, cid, why);
    snprintf(a->detail, sizeof(a->detail), "%.*s", (int)sizeof(a->detail) - 1, text);
    /* Informational, like "order_state": one flaky request says nothing
     * about the risk taken, and the Risk Manager owns the trading state. */
    a->trading_state = TB_TRADING_ACTIVE;
    memcpy(a->strategy_id, strategy_id, sizeof(a->strategy_id));
    memcpy(a->symbol, symbol, sizeof(a->symbol));
    om->stats.gave_up++;
    return tb_bus_publish(om->bus, &ev);
}

/* The order was given up: make sure it cannot trade, then reject it. */
static int abandon(tb_order_manager *om, const char *cid, const tb_event *req, int64_t now,
                   const char *why)
{
    order *o = find(om, cid);
    if (!o || o->status != TB_ORDER_PENDING) return 0;
    const char *note = "";
    int in_flight = 0; /* the cancel's answer comes later */
    if (o->in_doubt) {
        /* The last send may have reached the book: cancel it by id, or a
         * REJECTED order could fill behind our back (an untracked position). */
        o->abandoning = 1;
        tb_exchange_error xe;
        int rc = tb_exchange_cancel(om->cfg.exchange, cid, now, &xe);
        if ((o = find(om, cid)) == NULL) return 0;
        o->abandoning = 0;
        if (rc == 0 || o->abandon_canceled)
            note = "; canceled on the exchange";
        else if ((in_flight = rc == TB_EINPROGRESS) != 0)
            note = "; cancel sent to the exchange";
        else if (rc != TB_ENOTFOUND)
            note = "; MAY BE LIVE on the exchange";
    }
    char text[TB_TEXT_LEN];
    tb__errf(text, sizeof(text), "%s%s", why, note);
    o->status = TB_ORDER_REJECTED;
    int rc = publish_rejected(om, o, req, now, TB_REJECT_EXCHANGE, text);
    int rc2 = publish_retry_alert(om, cid, o->strategy_id, o->symbol, req->event_id,
                                  o->correlation_id, now, text);
    retire(om, o);
    if (in_flight) om->recent[(om->nrecent - 1) % RECENT].cancel_in_flight = 1;
    return rc ? rc : rc2;
}

/* A look-up found the order: the exchange has it, whatever reply was lost.
 * Acknowledge it as the lost ack would have; fills and cancels keep coming
 * through the listener, which a look-up never replaces — except a cancel
 * the listener can no longer tell (its reply was the one lost). */
static int adopt(tb_order_manager *om, const char *cid, const tb_exchange_order_info *info,
                 int64_t now)
{
    order *o = find(om, cid);
    if (!o) return 0;
    o->in_doubt = 0;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    memcpy(r.client_order_id, o->client_order_id, sizeof(r.client_order_id));
    memcpy(r.order_id, info->order_id, sizeof(r.order_id));
    if (o->status == TB_ORDER_PENDING) {
        r.kind = TB_XR_ACCEPTED;
        r.time = info->time;
        int rc = tb_order_manager_process_exchange_response(om, &r);
        if (rc) return rc;
        if ((o = find(om, cid)) == NULL) return 0;
    }
    if ((info->status == TB_ORDER_CANCELED || info->status == TB_ORDER_EXPIRED) &&
        info->filled_quantity == o->cum_qty) {
        r.kind = info->status == TB_ORDER_CANCELED ? TB_XR_CANCELED : TB_XR_EXPIRED;
        r.time = now;
        snprintf(r.text, sizeof(r.text), "found %s by look-up", tb_order_status_name(info->status));
        return tb_order_manager_process_exchange_response(om, &r);
    }
    return 0;
}

#define WAITING  1 /* a step's result: resume on the timer */
#define AWAITING 2 /* a step's result: resume on the exchange's result */

static retry_op *op_of(const tb_order_manager *om, op_kind kind, const char *cid)
{
    for (size_t i = 0; i < om->nops; i++)
        if (om->ops[i]->st.kind == kind && strcmp(om->ops[i]->st.cid, cid) == 0) return om->ops[i];
    return NULL;
}

static void on_op_timer(void *ctx, int64_t at);

/* Parks a request that must wait: copied off the stack the first time, then
 * woken at its next attempt's time (why == WAITING) or by the exchange's
 * result (AWAITING). 0 or TB_ENOMEM. */
static int op_wait(tb_order_manager *om, op_state *st, retry_op *heap, int why)
{
    if (!heap) {
        if (om->nops == om->ops_cap) {
            size_t nc = om->ops_cap ? om->ops_cap * 2 : 8;
            retry_op **no = realloc(om->ops, nc * sizeof(*no));
            if (!no) return TB_ENOMEM;
            om->ops = no;
            om->ops_cap = nc;
        }
        if (!(heap = malloc(sizeof(*heap)))) return TB_ENOMEM;
        heap->om = om;
        heap->st = *st;
        if (st->kind == OP_SUBMIT) {
            heap->own_req = *st->req;
            heap->st.req = &heap->own_req;
        }
        heap->timer = 0;
        om->ops[om->nops++] = heap;
    }
    heap->awaiting = why == AWAITING;
    om->stats.in_retry = om->nops;
    if (heap->awaiting) return 0;
    int rc = tb_loop_timer_start(om->loop, heap->st.start + heap->st.rs.elapsed, on_op_timer, heap,
                                 &heap->timer);
    om->stats.in_retry = om->nops;
    return rc;
}

static void op_free(tb_order_manager *om, retry_op *heap)
{
    for (size_t i = 0; i < om->nops; i++)
        if (om->ops[i] == heap) {
            om->ops[i] = om->ops[--om->nops];
            break;
        }
    om->stats.in_retry = om->nops;
    free(heap);
}

/* An order still in retry is canceled while the exchange certainly does not
 * have it: it goes no further. */
static int withdraw(tb_order_manager *om, const op_state *st, int64_t now)
{
    order *o = find(om, st->cid);
    if (!o || o->status != TB_ORDER_PENDING) return 0;
    char text[TB_TEXT_LEN];
    tb__errf(text, sizeof(text), "withdrawn before the exchange had it: %s",
             o->cancel_text[0] ? o->cancel_text : "canceled");
    o->status = TB_ORDER_REJECTED;
    om->stats.withdrawn++;
    int rc = publish_rejected(om, o, st->req, now, TB_REJECT_EXCHANGE, text);
    retire(om, o);
    return rc;
}

static int start_cancel(tb_order_manager *om, const char *cid, int64_t now, tb_cancel_cause cause);

/* Looks cid up, or takes *res (then cleared) as the answer of the look-up
 * it resumes. The call's code, or AWAITING when the answer comes later. */
static int look_up(tb_order_manager *om, const char *cid, int64_t now,
                   const tb_exchange_result **res, tb_exchange_order_info *info,
                   tb_exchange_error *xe)
{
    if (*res) {
        *xe = (*res)->xerr;
        *info = (*res)->info;
        int rc = (*res)->rc;
        *res = NULL;
        return rc;
    }
    om->stats.queries++;
    int rc = tb_exchange_query(om->cfg.exchange, cid, now, info, xe);
    return rc == TB_EINPROGRESS ? AWAITING : rc;
}

/* Sends the order until the exchange answers, a look-up finds it, the
 * retries run out (see orders.h) — or a wait is due: WAITING, or the
 * asynchronous exchange's result: AWAITING. res, if any, is the result of
 * the attempt this resumes (it takes the place of the call). */
static int submit_run(tb_order_manager *om, op_state *st, const tb_exchange_result *res)
{
    const tb_event *req = st->req;
    const tb_order_placement_request *q = &req->u.order_request;
    const char *cid = st->cid;
    char why[TB_TEXT_LEN];
    for (;;) {
        int64_t now = st->start + st->rs.elapsed;
        tb_exchange_error xe;
        const char *op;
        order *o = find(om, cid);
        int rc;
        if (!o) return 0; /* settled meanwhile */
        if (o->status != TB_ORDER_PENDING) {
            /* Its news beat the result (an ack before the REST reply): the
             * cancel asked meanwhile goes now, if the order is still open. */
            if (st->cancel_wanted &&
                (o->status == TB_ORDER_NEW || o->status == TB_ORDER_PARTIALLY_FILLED))
                return start_cancel(om, cid, now, o->cancel_cause);
            return 0;
        }
        if (st->cancel_wanted && !o->in_doubt && !res) return withdraw(om, st, now);
        if (st->look_up) {
            tb_exchange_order_info info;
            op = "look-up";
            if ((rc = look_up(om, cid, now, &res, &info, &xe)) == AWAITING) return AWAITING;
            if (rc == 0) {
                om->stats.recovered++;
                rc = adopt(om, cid, &info, now);
                /* Found: the cancel asked meanwhile can go now. */
                if (rc == 0 && st->cancel_wanted && (o = find(om, cid)) != NULL)
                    rc = start_cancel(om, cid, now, o->cancel_cause);
                return rc == TB_ENOTFOUND ? 0 : rc;
            }
            if (rc == TB_ENOTFOUND) {
                /* Confirmed absent: the earlier send never made it. */
                st->look_up = 0;
                o = find(om, cid);
                o->in_doubt = 0;
                continue;
            }
            if (rc != TB_EIO) {
                tb__errf(why, sizeof(why),
                         "cannot look the order up after an ambiguous "
                         "failure: %s",
                         tb_strerror(rc));
                return abandon(om, cid, req, now, why);
            }
        } else {
            op = "submit";
            if (res) {
                rc = res->rc;
                xe = res->xerr;
                res = NULL;
            } else {
                if (st->sends++) om->stats.resends++;
                rc = tb_exchange_submit(om->cfg.exchange, q, now, &xe);
                if (rc == TB_EINPROGRESS) return AWAITING;
            }
            o = find(om, cid);
            if (rc == 0 && o && o->dup_seen) {
                /* "Already open" for our own id: an earlier send got there
                 * after all. Find it rather than reject it — after a wait
                 * that counts as an attempt, so that an exchange that keeps
                 * saying so cannot keep us here. */
                o->dup_seen = 0;
                o->in_doubt = 1;
                st->look_up = 1;
                memset(&xe, 0, sizeof(xe));
                snprintf(xe.text, sizeof(xe.text),
                         "refused as a duplicate: an earlier send is live");
                rc = TB_EIO;
            }
            if (rc == 0) {
                /* A cancel asked while the reply was on its way goes now. */
                if (st->cancel_wanted && o && o->status != TB_ORDER_PENDING)
                    return start_cancel(om, cid, now, o->cancel_cause);
                return 0;
            }
            if (rc != TB_EIO) {
                /* A local failure: the request is published, so returning
                 * it to the bus would have the signal retried into a second
                 * order. It becomes the order's rejection. */
                if (o && o->status == TB_ORDER_PENDING) {
                    o->status = TB_ORDER_REJECTED;
                    int prc =
                        publish_rejected(om, o, req, now, TB_REJECT_EXCHANGE, tb_strerror(rc));
                    retire(om, o);
                    if (prc) return prc;
                }
                return fail(om, rc, "sending %s: %s", cid, tb_strerror(rc));
            }
            if (o && !st->look_up && tb_exchange_failure_is_ambiguous(xe.failure)) {
                o->in_doubt = 1;
                o->ambiguous = 1;
                st->look_up = 1;
            }
        }
        /* A live exchange may have told the listener meanwhile. */
        o = find(om, cid);
        if (!o || o->status != TB_ORDER_PENDING) return 0;
        if (backoff(om, &st->rs, &xe, op, why, sizeof(why)))
            return abandon(om, cid, req, st->start + st->rs.elapsed, why);
        return WAITING;
    }
}

/* The first attempts of a new order, on the stack; a wait goes on a timer. */
static int submit_with_retries(tb_order_manager *om, const tb_event *req, int64_t now)
{
    op_state st;
    st.kind = OP_SUBMIT;
    memcpy(st.cid, req->u.order_request.client_order_id, sizeof(st.cid));
    memset(&st.rs, 0, sizeof(st.rs));
    st.look_up = st.sends = st.cancel_wanted = 0;
    st.start = now;
    st.cause = TB_CANCEL_EXCHANGE;
    st.req = req;
    int rc = submit_run(om, &st, NULL);
    return rc == WAITING || rc == AWAITING ? op_wait(om, &st, NULL, rc) : rc;
}

/* A new order as its request describes it, PENDING (the request is the
 * event that carried q: its id and correlation are the order's). */
static void order_from_request(order *o, const tb_order_placement_request *q, const tb_event *req)
{
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
    o->origin = q->origin;
    o->tif = q->time_in_force;
    o->stop_price = q->stop_price;
    o->trailing_pct = q->trailing_pct;
    memcpy(o->oco_with, q->oco_with, sizeof(o->oco_with));
}

int tb_order_manager_send_order_to_exchange(tb_order_manager *om, tb_event *req)
{
    if (req->type != TB_EV_ORDER_PLACEMENT_REQUEST)
        return fail(om, TB_EINVAL, "expected an OrderPlacementRequest, got %s",
                    tb_event_type_name(req->type));
    const tb_order_placement_request *q = &req->u.order_request;
    if (!tb__valid_str(q->client_order_id, sizeof(q->client_order_id)))
        return fail(om, TB_EINVAL, "order request has no client_order_id");
    if (q->quantity <= 0)
        return fail(om, TB_EINVAL, "order %s: quantity is not positive", q->client_order_id);
    /* Our ids are unique: a second request with a live id is a bug upstream,
     * and sending it would be exactly the doubled order retries must avoid. */
    if (find_field(om, q->client_order_id))
        return fail(om, TB_EINVAL, "order %s is already open", q->client_order_id);
    if (om->norders == om->cap) {
        order *no = realloc(om->orders, om->cap * 2 * sizeof(*no));
        if (!no) return fail(om, TB_ENOMEM, "no memory for order %s", q->client_order_id);
        om->orders = no;
        om->cap *= 2;
    }
    int rc = tb_order_manager_publish_order_event(om, req); /* assigns req->event_id */
    if (rc) return rc;
    om->stats.orders++;

    order *o = &om->orders[om->norders++];
    order_from_request(o, q, req);
    const book *b = find_book(om, q->strategy_id, q->symbol);
    if (b && b->configured && q->order_type == TB_ORDER_LIMIT && b->rules.expire_after_bars > 0 &&
        q->time_in_force == TB_TIF_GTC) {
        const sym_count *c = sym_for(om, q->symbol);
        if (c) o->expire_bar = c->bars + (uint64_t)b->rules.expire_after_bars;
    }

    if (om->cfg.pretrade_view) {
        tb_pretrade_view v;
        v.position = 0;
        for (size_t i = 0; i < om->nbooks; i++)
            if (tb__sym_eq(om->books[i].symbol, q->symbol)) v.position += om->books[i].position;
        v.working_same_way = 0;
        /* An OCO partner cannot fill with it: not a worst case to add. */
        if (b) v.working_same_way = working_of(om, b, 1, q->side, q->client_order_id, q->oco_with);
        v.quantity = q->quantity;
        char rule[TB_RULE_LEN] = "", detail[TB_TEXT_LEN] = "", text[TB_TEXT_LEN + TB_RULE_LEN + 16];
        if (om->cfg.pretrade_view(om->cfg.pretrade_ctx, req, &v, rule, sizeof(rule), detail,
                                  sizeof(detail)) != 0) {
            snprintf(text, sizeof(text), "risk rule %s: %s", rule, detail);
            o->status = TB_ORDER_REJECTED;
            rc = publish_rejected(om, o, req, req->timestamp, TB_REJECT_RISK, text);
            retire(om, o);
            return rc;
        }
        if (v.quantity > 0 && v.quantity < q->quantity) {
            /* Cut (a halt's flip becomes a close): the request event shows
             * what was asked, the order is what is sent. */
            o->quantity = v.quantity;
            req->u.order_request.quantity = v.quantity;
        }
    } else if (om->cfg.pretrade) {
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
    /* Sent at the request's time, which the manager set from its clock (a
     * bracket's stop: the open of the bar its entry filled on). */
    return submit_with_retries(om, req, req->timestamp);
}

/* The state machine refuses a move: say which, for the order_state alert. */
static int illegal(tb_order_manager *om, const order *o, const tb_exchange_response *r,
                   tb_order_status next)
{
    return fail(om, TB_ESTATE, "%s for %s refused: %s -> %s is illegal", kind_name(r->kind),
                o->client_order_id, tb_order_status_name(o->status), tb_order_status_name(next));
}

static int on_fill(tb_order_manager *om, order *o, const tb_exchange_response *r)
{
    if (r->quantity <= 0 || r->price <= 0 || r->commission < 0)
        return fail(om, TB_EINVAL,
                    "FILL for %s: quantity and price must be positive, "
                    "commission not negative",
                    o->client_order_id);
    tb_decimal cum;
    if (tb_dec_add(o->cum_qty, r->quantity, &cum) != 0 || cum > o->quantity) {
        char c[TB_DECIMAL_STRLEN], q[TB_DECIMAL_STRLEN], f[TB_DECIMAL_STRLEN];
        tb_dec_format(o->cum_qty, c, sizeof(c));
        tb_dec_format(r->quantity, f, sizeof(f));
        tb_dec_format(o->quantity, q, sizeof(q));
        return fail(om, TB_ESTATE, "FILL for %s refused: %s filled + %s exceeds the order's %s",
                    o->client_order_id, c, f, q);
    }
    tb_order_status next = cum == o->quantity ? TB_ORDER_FILLED : TB_ORDER_PARTIALLY_FILLED;
    if (!tb_order_status_can_move(o->status, next)) return illegal(om, o, r, next);

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
    f->origin = o->origin;
    book *b = book_for(om, o->strategy_id, o->symbol);
    if (!b) return fail(om, TB_ENOMEM, "no memory for the book of %s", o->strategy_id);
    move_position(b, signed_qty(o->side, r->quantity), r->price);
    if (o->origin == TB_ORIGIN_SIGNAL || o->origin == TB_ORIGIN_HALT) b->rebracket = 1;
    if (o->oco_with[0]) {
        /* The exchange cancels the other leg; its OrderCanceled says why. */
        order *other = find_field(om, o->oco_with);
        if (other) other->cancel_cause = TB_CANCEL_OCO;
        o = find_field(om, r->client_order_id);
    }
    int rc = tb_order_manager_publish_order_event(om, &ev);
    if (next == TB_ORDER_FILLED) retire(om, o);
    return rc;
}

/* The finished order cid, newest first; NULL if it is not among them. */
static const finished *recent_find(const tb_order_manager *om, const char *cid)
{
    size_t n = om->nrecent < RECENT ? om->nrecent : RECENT;
    for (size_t i = 0; i < n; i++) {
        const finished *f = &om->recent[(om->nrecent - 1 - i) % RECENT];
        if (strcmp(f->client_order_id, cid) == 0) return f;
    }
    return NULL;
}

int tb_order_manager_process_exchange_response(tb_order_manager *om, const tb_exchange_response *r)
{
    if (!tb__valid_str(r->client_order_id, sizeof(r->client_order_id)))
        return fail(om, TB_EINVAL, "exchange response %s without a client order id",
                    kind_name(r->kind));
    order *o = find_field(om, r->client_order_id);
    if (!o) {
        /* A finished order can take no more responses: that is an illegal
         * transition, not an unknown order. */
        tb_order_status st;
        const finished *f = recent_find(om, r->client_order_id);
        if (f && f->cancel_in_flight &&
            (r->kind == TB_XR_CANCELED || r->kind == TB_XR_ACCEPTED || r->kind == TB_XR_EXPIRED))
            return 0; /* the news of the cancel abandon() sent (a fill is not: it is refused) */
        if (tb_order_manager_status(om, r->client_order_id, &st) == 0)
            return fail(om, TB_ESTATE, "%s for %s refused: the order is already %s",
                        kind_name(r->kind), r->client_order_id, tb_order_status_name(st));
        return fail(om, TB_ENOTFOUND, "%s for unknown order %s", kind_name(r->kind),
                    r->client_order_id);
    }
    if (o->abandoning && r->kind == TB_XR_CANCELED) {
        /* Our own cancel of an order being given up: the rejection that
         * follows is its only event. */
        o->abandon_canceled = 1;
        return 0;
    }
    if (r->kind == TB_XR_REJECTED && r->reason == TB_REJECT_DUPLICATE && o->ambiguous &&
        o->status == TB_ORDER_PENDING) {
        /* Unique among open orders, the id can only be taken by an earlier
         * send of this very order: the retry loop looks it up. */
        o->dup_seen = 1;
        return 0;
    }
    if (r->kind == TB_XR_FILL && o->status == TB_ORDER_PENDING) {
        /* A fill proves the order was accepted though the ack was lost (or
         * comes first: a stop placed inside a bar can fill as it lands). */
        tb_exchange_response ack = *r;
        ack.kind = TB_XR_ACCEPTED;
        int rc = tb_order_manager_process_exchange_response(om, &ack);
        if (rc) return rc;
        if ((o = find_field(om, r->client_order_id)) == NULL) return TB_ESTATE;
        o->in_doubt = 0;
    }
    switch (r->kind) {
    case TB_XR_ACCEPTED: {
        if (!tb_order_status_can_move(o->status, TB_ORDER_NEW))
            return illegal(om, o, r, TB_ORDER_NEW);
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
        c->time_in_force = o->tif;
        c->stop_price = o->stop_price;
        c->origin = o->origin;
        c->trailing_pct = o->trailing_pct;
        memcpy(c->oco_with, o->oco_with, sizeof(c->oco_with));
        int rc = tb_order_manager_publish_order_event(om, &ev);
        o->created_id = ev.event_id;
        return rc;
    }
    case TB_XR_REJECTED: {
        if (!tb_order_status_can_move(o->status, TB_ORDER_REJECTED))
            return illegal(om, o, r, TB_ORDER_REJECTED);
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
        /* Our own expiry is a cancel to the exchange and EXPIRED to us. */
        if (o->cancel_cause == TB_CANCEL_EXPIRED) next = TB_ORDER_EXPIRED;
        if (!tb_order_status_can_move(o->status, next)) return illegal(om, o, r, next);
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
        snprintf(c->text, sizeof(c->text), "%s", o->cancel_text[0] ? o->cancel_text : r->text);
        c->cause = o->cancel_cause;
        c->origin = o->origin;
        int rc = tb_order_manager_publish_order_event(om, &ev);
        retire(om, o);
        return rc;
    }
    }
    return fail(om, TB_EINVAL, "exchange response of unknown kind %d for %s", (int)r->kind,
                o->client_order_id);
}

/* Cancels until the exchange answers, a look-up shows the order finished,
 * or the retries run out (TB_EIO, after the RiskAlert) — or a wait is due:
 * WAITING, or the asynchronous exchange's result: AWAITING (res as for
 * submit_run). */
static int cancel_run(tb_order_manager *om, op_state *st, const tb_exchange_result *res)
{
    const char *cid = st->cid;
    char why[TB_TEXT_LEN];
    for (;;) {
        int64_t t = st->start + st->rs.elapsed;
        tb_exchange_error xe;
        const char *op;
        order *o;
        int rc;
        if (!find(om, cid)) return 0; /* the listener settled it meanwhile */
        if (st->look_up) {
            tb_exchange_order_info info;
            op = "look-up";
            if ((rc = look_up(om, cid, t, &res, &info, &xe)) == AWAITING) return AWAITING;
            if (rc == 0 &&
                (info.status == TB_ORDER_NEW || info.status == TB_ORDER_PARTIALLY_FILLED)) {
                st->look_up = 0; /* still open: the cancel did not get there */
                continue;
            }
            if (rc == 0) return adopt(om, cid, &info, t); /* finished: the lost reply's news */
            if (rc != TB_EIO) return rc;
        } else {
            op = "cancel";
            if (res) {
                rc = res->rc;
                xe = res->xerr;
                res = NULL;
            } else {
                rc = tb_exchange_cancel(om->cfg.exchange, cid, t, &xe);
                if (rc == TB_EINPROGRESS) return AWAITING;
            }
            if (rc != TB_EIO) return rc;
            st->look_up = tb_exchange_failure_is_ambiguous(xe.failure);
        }
        if ((o = find(om, cid)) == NULL) return 0; /* the listener settled it */
        if (backoff(om, &st->rs, &xe, op, why, sizeof(why))) {
            char text[TB_TEXT_LEN];
            tb__errf(text, sizeof(text), "cancel %s", why);
            publish_retry_alert(om, cid, o->strategy_id, o->symbol, o->created_id,
                                o->correlation_id, st->start + st->rs.elapsed, text);
            return fail(om, TB_EIO, "%s", text);
        }
        return WAITING;
    }
}

/* 1 if a cancel of the order is under way (in retry, or waiting for the
 * order's own submit to be settled). */
static int canceling(const tb_order_manager *om, const char *cid)
{
    if (!om->nops) return 0;
    if (op_of(om, OP_CANCEL, cid)) return 1;
    const retry_op *s = op_of(om, OP_SUBMIT, cid);
    return s && s->st.cancel_wanted;
}

int tb_order_manager_cancel(tb_order_manager *om, const char *client_order_id, int64_t now)
{
    order *o = find(om, client_order_id);
    if (!o) return TB_ENOTFOUND;
    op_state st;
    memcpy(st.cid, o->client_order_id, sizeof(st.cid)); /* the caller's may be the order's */
    if (om->nops) {
        retry_op *sub = op_of(om, OP_SUBMIT, st.cid);
        if (sub) {
            /* Still in retry. Not on the book: it goes no further. Maybe
             * on it (in doubt, or its send is on its way): the cancel
             * follows the look-up or the reply. */
            if (!o->in_doubt && !sub->awaiting) {
                int rc = withdraw(om, &sub->st, now);
                tb_loop_timer_stop(om->loop, sub->timer);
                op_free(om, sub);
                return rc;
            }
            sub->st.cancel_wanted = 1;
            return 0;
        }
        if (op_of(om, OP_CANCEL, st.cid)) return 0; /* already under way */
    }
    return start_cancel(om, st.cid, now, o->cancel_cause);
}

/* A cancel's first attempts, on the stack; a wait goes on a timer. */
static int start_cancel(tb_order_manager *om, const char *cid, int64_t now, tb_cancel_cause cause)
{
    op_state st;
    st.kind = OP_CANCEL;
    memcpy(st.cid, cid, sizeof(st.cid));
    memset(&st.rs, 0, sizeof(st.rs));
    st.look_up = st.sends = st.cancel_wanted = 0;
    st.start = now;
    st.cause = cause;
    st.req = NULL;
    int rc = cancel_run(om, &st, NULL);
    return rc == WAITING || rc == AWAITING ? op_wait(om, &st, NULL, rc) : rc;
}

static int handle_signal(tb_order_manager *om, const tb_event *sig, int64_t now);

/* Signals whose books have no cancel under way any more are handled now. */
static int unpark(tb_order_manager *om, int64_t now)
{
    int rc = 0;
    for (size_t i = 0; i < om->nparked;) {
        parked_signal *ps = &om->parked[i];
        book *b = find_book(om, ps->strategy_id, ps->symbol);
        int busy = 0;
        for (size_t j = 0; b && j < om->norders && !busy; j++) {
            const order *o = &om->orders[j];
            busy = strcmp(o->strategy_id, b->strategy_id) == 0 &&
                   tb__sym_eq(o->symbol, b->symbol) && canceling(om, o->client_order_id);
        }
        if (busy) {
            i++;
            continue;
        }
        tb_event sig = ps->signal;
        om->parked[i] = om->parked[--om->nparked];
        if (b) b->parked = 0;
        om->why[0] = 0;
        int r = handle_signal(om, &sig, now);
        if (r && !rc) rc = r;
        i = 0; /* the table may have changed: look again from the start */
    }
    return rc;
}

/* Something a timer resumed failed with no handler to return it to: made
 * visible as a RiskAlert, never dropped. */
static void timer_failed(tb_order_manager *om, const char *cid, int64_t at, int rc)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_ORDERS);
    ev.timestamp = at;
    tb_risk_alert *a = &ev.u.risk_alert;
    snprintf(a->rule, sizeof(a->rule), "order_retries");
    tb__errf(a->detail, sizeof(a->detail), "%.*s: %s", TB_ORDER_ID_LEN - 1, cid,
             om->why[0] ? om->why : tb_strerror(rc));
    a->trading_state = TB_TRADING_ACTIVE;
    tb_bus_publish(om->bus, &ev);
}

/* A parked request goes on: its timer fired (res NULL) or its result came. */
static void op_resume(retry_op *h, int64_t at, const tb_exchange_result *res)
{
    tb_order_manager *om = h->om;
    h->timer = 0;
    h->awaiting = 0;
    om->why[0] = 0;
    int rc = h->st.kind == OP_SUBMIT ? submit_run(om, &h->st, res) : cancel_run(om, &h->st, res);
    if ((rc == WAITING || rc == AWAITING) && (rc = op_wait(om, &h->st, h, rc)) == 0) return;
    char cid[TB_ORDER_ID_LEN];
    memcpy(cid, h->st.cid, sizeof(cid));
    int done_cancel = h->st.kind == OP_CANCEL && !find(om, cid);
    tb_cancel_cause cause = h->st.cause;
    int gave_up = h->st.kind == OP_CANCEL && rc == TB_EIO; /* its alert is out */
    op_free(om, h);
    if (done_cancel) {
        if (cause == TB_CANCEL_REPLACED) om->stats.replaced++;
        if (cause == TB_CANCEL_EXPIRED) om->stats.expired++;
        if (cause == TB_CANCEL_HALT) om->stats.halt_canceled++;
    }
    if (rc < 0 && !gave_up) timer_failed(om, cid, at, rc);
    om->why[0] = 0;
    if (om->nparked && (rc = unpark(om, at)) != 0) timer_failed(om, cid, at, rc);
}

static void on_op_timer(void *ctx, int64_t at)
{
    op_resume(ctx, at, NULL);
}

/* An asynchronous exchange answers a call: the request that made it goes on. */
static void on_result(const tb_exchange_result *r, void *ctx)
{
    tb_order_manager *om = ctx;
    retry_op *h = NULL;
    for (size_t i = 0; i < om->nops && !h; i++)
        if (om->ops[i]->awaiting && strcmp(om->ops[i]->st.cid, r->client_order_id) == 0)
            h = om->ops[i];
    if (!h) return; /* the request was given up meanwhile (a withdraw, a destroy) */
    tb_exchange_op want = h->st.look_up             ? TB_XOP_QUERY
                          : h->st.kind == OP_SUBMIT ? TB_XOP_SUBMIT
                                                    : TB_XOP_CANCEL;
    if (r->op != want) return; /* not the answer to the call it waits for */
    /* Time has passed on a live clock: the request's later waits count from
     * now, not from when it was sent. */
    int64_t now = tb_loop_now(om->loop);
    if (now - h->st.rs.elapsed > h->st.start) h->st.start = now - h->st.rs.elapsed;
    op_resume(h, h->st.start + h->st.rs.elapsed, r);
}

/* ---- after each bar ----------------------------------------------------- */

/* The symbol's net position, all strategies. */
static tb_decimal net_position(const tb_order_manager *om, const char *symbol)
{
    tb_decimal p = 0;
    for (size_t i = 0; i < om->nbooks; i++)
        if (strcmp(om->books[i].symbol, symbol) == 0) p += om->books[i].position;
    return p;
}

/* LIMIT orders whose bars have run out. */
static int expire_orders(tb_order_manager *om, const tb_event *bar, uint64_t bars)
{
    const char *symbol = bar->u.market_data.symbol;
    for (;;) {
        const order *due = NULL;
        for (size_t i = 0; i < om->norders && !due; i++) {
            const order *o = &om->orders[i];
            if (o->expire_bar && o->expire_bar <= bars && strcmp(o->symbol, symbol) == 0) due = o;
        }
        if (!due) return 0;
        char id[TB_ORDER_ID_LEN], text[TB_TEXT_LEN];
        memcpy(id, due->client_order_id, sizeof(id));
        const book *b = find_book(om, due->strategy_id, due->symbol);
        snprintf(text, sizeof(text), "expired: still working after %ld bar(s)",
                 b ? b->rules.expire_after_bars : 0L);
        order *o = find(om, id);
        o->expire_bar = 0; /* once: a cancel that fails leaves it working, said by an alert */
        int rc = cancel_for(om, id, bar->u.market_data.close_time, TB_CANCEL_EXPIRED, text);
        if (rc) return rc;
        if (!find(om, id)) om->stats.expired++;
    }
}

/* Trading has just halted: what would add exposure stops working, and with
 * close_all every position is flattened on the next bar. */
static int on_halt(tb_order_manager *om, const tb_event *bar)
{
    int64_t now = bar->u.market_data.close_time;
    int rc = 0;
    for (size_t i = 0; i < om->norders; i++)
        om->orders[i].swept = 0;
    for (;;) {
        const order *victim = NULL;
        for (size_t i = 0; i < om->norders && !victim; i++) {
            const order *o = &om->orders[i];
            if (o->swept || o->abandoning) continue;
            tb_decimal p = net_position(om, o->symbol);
            tb_decimal d = signed_qty(o->side, o->quantity - o->cum_qty);
            /* Adds exposure: flat, or on the position's side. close_all
             * takes everything off the book before it flattens. */
            if (om->cfg.halt_close_all || p == 0 || (p > 0) == (d > 0)) victim = o;
        }
        if (!victim) break;
        char id[TB_ORDER_ID_LEN];
        memcpy(id, victim->client_order_id, sizeof(id));
        om->orders[victim - om->orders].swept = 1;
        if ((rc = cancel_for(om, id, now, TB_CANCEL_HALT,
                             "trading halted: canceled, it would add exposure")) != 0)
            return rc;
        if (!find(om, id)) om->stats.halt_canceled++;
    }
    if (!om->cfg.halt_close_all) return 0;
    for (size_t i = 0; i < om->nbooks; i++) {
        const book *b = &om->books[i];
        if (b->position == 0) continue;
        tb_event req;
        tb_event_init(&req, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
        tb_event_caused_by(&req, bar);
        req.timestamp = now;
        tb_order_placement_request *q = &req.u.order_request;
        q->order_type = TB_ORDER_MARKET;
        q->side = b->position > 0 ? TB_SIDE_SELL : TB_SIDE_BUY;
        memcpy(q->symbol, b->symbol, sizeof(q->symbol));
        q->quantity = tb_dec_abs(b->position);
        memcpy(q->strategy_id, b->strategy_id, sizeof(q->strategy_id));
        q->origin = TB_ORIGIN_HALT;
        int n = tb__format_id(q->client_order_id, sizeof(q->client_order_id), b->strategy_id,
                              ++om->next_client_id);
        if (n < 0 || (size_t)n >= sizeof(q->client_order_id))
            return fail(om, TB_ERANGE, "client order id for strategy %s does not fit",
                        b->strategy_id);
        if ((rc = tb_order_manager_send_order_to_exchange(om, &req)) != 0) return rc;
    }
    return 0;
}

/* entry moved pct percent up (up) or down, rounded to the tick away from the
 * entry when away, toward it otherwise. */
static int pct_from(tb_decimal entry, tb_decimal pct, int up, tb_decimal tick, int away,
                    tb_decimal *out)
{
    const int64_t hundred = 100 * TB_DECIMAL_ONE;
    int down_round = up ? !away : away;
    int rc = tb_dec_muldiv_int(entry, up ? hundred + pct : hundred - pct, hundred,
                               down_round ? TB_ROUND_FLOOR : TB_ROUND_CEIL, out);
    if (!rc && tick > 0)
        rc = tb_dec_quantize(*out, tick, down_round ? TB_ROUND_FLOOR : TB_ROUND_CEIL, out);
    if (!rc && *out <= 0) rc = TB_ERANGE;
    return rc;
}

/* One leg of a bracket, sent with its partner's id already known. */
static int send_leg(tb_order_manager *om, const book *b, const tb_event *bar, tb_order_type type,
                    tb_decimal qty, tb_decimal price, tb_order_origin origin, uint64_t id,
                    uint64_t partner)
{
    tb_event req;
    tb_event_init(&req, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    tb_event_caused_by(&req, bar);
    /* Live from the fill it protects: inside the bar, at its open. */
    req.timestamp = bar->u.market_data.open_time;
    tb_order_placement_request *q = &req.u.order_request;
    q->order_type = type;
    q->side = b->position > 0 ? TB_SIDE_SELL : TB_SIDE_BUY;
    memcpy(q->symbol, b->symbol, sizeof(q->symbol));
    memcpy(q->strategy_id, b->strategy_id, sizeof(q->strategy_id));
    q->quantity = qty;
    q->origin = origin;
    if (type == TB_ORDER_STOP_MARKET) {
        q->stop_price = price;
        if (origin == TB_ORIGIN_TRAILING_STOP) q->trailing_pct = b->rules.trailing_stop_pct;
    } else {
        q->price = price;
    }
    int n = tb__format_id(q->client_order_id, sizeof(q->client_order_id), b->strategy_id, id);
    if (partner) n |= tb__format_id(q->oco_with, sizeof(q->oco_with), b->strategy_id, partner);
    if (n < 0 || (size_t)n >= sizeof(q->client_order_id))
        return fail(om, TB_ERANGE, "client order id for strategy %s does not fit", b->strategy_id);
    return tb_order_manager_send_order_to_exchange(om, &req);
}

/* Cancels the book's bracket legs still working. */
static int cancel_bracket(tb_order_manager *om, size_t bi, int64_t now)
{
    char ids[2][TB_ORDER_ID_LEN];
    memcpy(ids[0], om->books[bi].stop_cid, TB_ORDER_ID_LEN);
    memcpy(ids[1], om->books[bi].target_cid, TB_ORDER_ID_LEN);
    om->books[bi].stop_cid[0] = om->books[bi].target_cid[0] = 0;
    for (int i = 0; i < 2; i++) {
        if (!ids[i][0] || !find(om, ids[i])) continue;
        int rc = cancel_for(om, ids[i], now, TB_CANCEL_REPLACED, "bracket replaced");
        if (rc) return rc;
    }
    return 0;
}

/* The position moved (an entry, an add, a partial exit): its bracket is
 * placed anew for what is held, at the new average entry — a stop (fixed or
 * trailing) and a target, each canceling the other when it fills. What
 * reducing signal orders already cover is left out, so the bracket and an
 * exit can never both take the position past zero. */
static int rebracket(tb_order_manager *om, size_t bi, const tb_event *bar)
{
    book *b = &om->books[bi];
    b->rebracket = 0;
    int rc = cancel_bracket(om, bi, bar->u.market_data.open_time);
    if (rc) return rc;
    b = &om->books[bi];
    if (b->position == 0 || b->entry <= 0) return 0;
    int lng = b->position > 0;
    tb_decimal covered = working_of(om, b, 0, lng ? TB_SIDE_SELL : TB_SIDE_BUY, NULL, NULL);
    tb_decimal qty = tb_dec_abs(b->position) - tb_dec_abs(covered);
    if (qty <= 0) return 0;
    const tb_order_strategy *r = &b->rules;
    tb_decimal stop = 0, target = 0;
    tb_order_origin stop_origin =
        r->trailing_stop_pct > 0 ? TB_ORIGIN_TRAILING_STOP : TB_ORIGIN_STOP_LOSS;
    tb_decimal stop_pct = r->trailing_stop_pct > 0 ? r->trailing_stop_pct : r->stop_loss_pct;
    if (b->stop_at > 0) {
        stop = b->stop_at;
        stop_origin = TB_ORIGIN_STOP_LOSS;
    } else if (stop_pct > 0 &&
               (rc = pct_from(b->entry, stop_pct, !lng, r->tick_size, 1, &stop)) != 0) {
        return fail(om, rc, "stop of %s is out of range", b->strategy_id);
    }
    if (b->take_at > 0)
        target = b->take_at;
    else if (r->take_profit_pct > 0 &&
             (rc = pct_from(b->entry, r->take_profit_pct, lng, r->tick_size, 1, &target)) != 0)
        return fail(om, rc, "target of %s is out of range", b->strategy_id);
    uint64_t stop_id = stop ? ++om->next_client_id : 0;
    uint64_t target_id = target ? ++om->next_client_id : 0;
    tb_decimal before = b->position;
    if (stop) {
        tb__format_id(b->stop_cid, sizeof(b->stop_cid), b->strategy_id, stop_id);
        if ((rc = send_leg(om, b, bar, TB_ORDER_STOP_MARKET, qty, stop, stop_origin, stop_id,
                           target_id)) != 0)
            return rc;
        b = &om->books[bi];
        /* Placed inside the bar, a stop can meet it at once: then there is
         * nothing left (or only the triggered stop) to take profit on. */
        if (b->position != before) return 0;
    }
    if (target) {
        tb__format_id(b->target_cid, sizeof(b->target_cid), b->strategy_id, target_id);
        if ((rc = send_leg(om, b, bar, TB_ORDER_LIMIT, qty, target, TB_ORIGIN_TAKE_PROFIT,
                           target_id, stop_id)) != 0)
            return rc;
    }
    return 0;
}

static int after_bar(tb_order_manager *om, const tb_event *bar, uint64_t bars)
{
    int rc;
    if (!om->halted && om->cfg.trading_state &&
        om->cfg.trading_state(om->cfg.pretrade_ctx) == TB_TRADING_HALTED) {
        om->halted = 1;
        if ((rc = on_halt(om, bar)) != 0) return rc;
    }
    if (bars && (rc = expire_orders(om, bar, bars)) != 0) return rc;
    for (size_t i = 0; om->bracketing && i < om->nbooks; i++) {
        const book *b = &om->books[i];
        if (!b->rebracket || !b->configured || strcmp(b->symbol, bar->u.market_data.symbol) != 0)
            continue;
        if (b->rules.stop_loss_pct <= 0 && b->rules.take_profit_pct <= 0 &&
            b->rules.trailing_stop_pct <= 0 && b->stop_at <= 0 && b->take_at <= 0)
            continue;
        if ((rc = rebracket(om, i, bar)) != 0) return rc;
    }
    return 0;
}

/* The n of an id "<strategy>-<n>" (0 if it has no such tail). */
static uint64_t id_number(const char *cid)
{
    const char *dash = strrchr(cid, '-');
    if (!dash || !dash[1]) return 0;
    uint64_t n = 0;
    for (const char *p = dash + 1; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return n;
}

int tb_order_manager_restore(tb_order_manager *om, const tb_event *ev)
{
    const char *cid;
    switch (ev->type) {
    case TB_EV_ORDER_PLACEMENT_REQUEST:
        cid = ev->u.order_request.client_order_id;
        break;
    case TB_EV_ORDER_CREATED:
        cid = ev->u.order_created.client_order_id;
        break;
    case TB_EV_ORDER_FILLED:
        cid = ev->u.order_filled.client_order_id;
        break;
    case TB_EV_ORDER_CANCELED:
        cid = ev->u.order_canceled.client_order_id;
        break;
    case TB_EV_ORDER_REJECTED:
        cid = ev->u.order_rejected.client_order_id;
        break;
    default:
        return 0;
    }
    if (!tb__valid_str(cid, TB_ORDER_ID_LEN)) return 0;
    order *o = find(om, cid);
    if (ev->type == TB_EV_ORDER_PLACEMENT_REQUEST) {
        const tb_order_placement_request *q = &ev->u.order_request;
        /* Ids are never used twice, even those of orders long finished. */
        uint64_t n = id_number(cid);
        if (n > om->next_client_id) om->next_client_id = n;
        if (o) return 0;
        if (om->norders == om->cap) {
            order *no = realloc(om->orders, om->cap * 2 * sizeof(*no));
            if (!no) return TB_ENOMEM;
            om->orders = no;
            om->cap *= 2;
        }
        o = &om->orders[om->norders++];
        order_from_request(o, q, ev);
        return 0;
    }
    if (!o && ev->type == TB_EV_ORDER_FILLED) {
        /* A fill of no order requested here: a position adopted from the
         * account (tradebus live --adopt-positions). It moved the books when
         * it happened; so it does again. */
        const tb_order_filled *f = &ev->u.order_filled;
        om->stats.fills++;
        book *b = book_for(om, f->strategy_id, f->symbol);
        if (!b) return TB_ENOMEM;
        move_position(b, signed_qty(f->side, f->filled_quantity), f->filled_price);
        return 0;
    }
    if (!o) return 0; /* finished already, or never requested here */
    switch (ev->type) {
    case TB_EV_ORDER_CREATED:
        o->status = TB_ORDER_NEW;
        memcpy(o->order_id, ev->u.order_created.order_id, sizeof(o->order_id));
        /* What was sent (a pre-trade cut shows here, not in the request). */
        o->quantity = ev->u.order_created.quantity;
        o->created_id = ev->event_id;
        return 0;
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        o->cum_notional += (__int128)f->filled_price * f->filled_quantity;
        o->cum_qty = f->cumulative_quantity;
        o->status = f->status;
        /* The runner publishes the journal's fills again (the outputs show
         * them): counted as they are. */
        om->stats.fills++;
        if (!o->created_id) o->created_id = ev->causation_id;
        book *b = book_for(om, o->strategy_id, o->symbol);
        if (!b) return TB_ENOMEM;
        move_position(b, signed_qty(o->side, f->filled_quantity), f->filled_price);
        if (f->status == TB_ORDER_FILLED) retire(om, o);
        return 0;
    }
    case TB_EV_ORDER_CANCELED:
        o->status = ev->u.order_canceled.status;
        retire(om, o);
        return 0;
    default:
        o->status = TB_ORDER_REJECTED;
        retire(om, o);
        return 0;
    }
}

int tb_order_manager_status(const tb_order_manager *om, const char *cid, tb_order_status *out)
{
    const order *o = find(om, cid);
    if (o) {
        *out = o->status;
        return 0;
    }
    const finished *f = recent_find(om, cid);
    if (!f) return TB_ENOTFOUND;
    *out = f->status;
    return 0;
}

size_t tb_order_manager_open_orders(const tb_order_manager *om)
{
    return om->norders;
}

tb_order_manager_stats tb_order_manager_get_stats(const tb_order_manager *om)
{
    return om->stats;
}
