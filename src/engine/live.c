/* The live runner (the contract is in include/tradebus/live.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/errbuf.h"
#include "../exchange/binance/bn_adapter.h"
#include "../exchange/binance/bn_market.h"
#include "journaled.h"
#include "live_int.h"
#include "outset.h"
#include "tradebus/binance.h"
#include "tradebus/live.h"
#include "tradebus/metrics.h"

#define SECOND INT64_C(1000000000)

/* How long the end waits for the exchange to confirm the cancels. */
#define CANCEL_WAIT (15 * SECOND)

typedef struct {
    const tb_config *cfg;
    const tb_live_options *opt;
    const tb__live_probe *probe; /* NULL = none */
    const char *mode;
    tb_loop *loop;
    tb_pipeline *p;
    tb__jrun *jr;
    bn_market *feed;
    tb_exchange *ex;
    int binance;  /* ex is a Binance adapter (testnet, live) */
    int ready;    /* the adapter's start-up succeeded (paper: at once) */
    int stopping; /* a signal or *stop: no new bar */
    int signals;
    int waiting; /* the loop runs for a cancel-all to finish */
    int rc;      /* the first error that ends the run */
    char err[512];
    tb_timer_id tick, deadline;
    size_t canceled;
    bn_market_status ms; /* the feed's, kept after it is closed */
} run;

static void note(run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(run *r, int level, const char *fmt, ...)
{
    if (!r->opt->log) return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->opt->log(level, msg, r->opt->ctx);
}

/* Ends the run with rc (the first error wins) and the reason. */
static void fail(run *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(run *r, int rc, const char *fmt, ...)
{
    if (!r->rc) {
        r->rc = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof(r->err), fmt, ap);
        va_end(ap);
    }
    r->stopping = 1;
    tb_loop_stop(r->loop);
}

const char *tb_live_mode(const tb_config *cfg)
{
    const char *m = tb_exchange_param(cfg, "mode");
    return m && m[0] ? m : "paper";
}

/* The largest integer among a strategy's period-like params. */
static long periods(const tb_strategy_config *sc)
{
    static const char *const keys[] = {"period", "slow", "fast", "window", "lookback", "length"};
    long best = 0;
    for (size_t i = 0; i < sc->nparams; i++) {
        int like = strstr(sc->params[i].key, "period") != NULL;
        for (size_t k = 0; !like && k < sizeof(keys) / sizeof(keys[0]); k++)
            like = strcmp(sc->params[i].key, keys[k]) == 0;
        char *end;
        long v = like ? strtol(sc->params[i].value, &end, 10) : 0;
        if (like && *end == 0 && v > best) best = v;
    }
    if (best) return best;
    /* The built-ins' defaults (strategies.c); anything else: a generous 50. */
    if (strcmp(sc->type, "sma_cross") == 0) return 30;
    if (strcmp(sc->type, "rsi_reversion") == 0) return 14;
    if (strcmp(sc->type, "bollinger_breakout") == 0) return 20;
    return 50;
}

/* The base bars a strategy needs before its first decision: one more than
 * its longest period (a crossing needs the bar before), in bars of its
 * longest timeframe — a 30-period SMA of 1h bars needs 31 hours of 1m bars. */
static long needs(const tb_strategy_config *sc)
{
    long n = periods(sc) + 1;
    if (sc->ntimeframes > 1 && sc->timeframes[0] > 0) {
        int64_t ratio = sc->timeframes[sc->ntimeframes - 1] / sc->timeframes[0];
        n = ratio > 0 && n < 1000000 / ratio ? n * (long)ratio : 1000000;
    }
    return n;
}

int tb_live_warmup_bars(const tb_config *cfg)
{
    if (cfg->live_warmup_bars >= 0) return (int)cfg->live_warmup_bars;
    long n = 0;
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        long p = needs(&cfg->strategies[i]);
        if (p > n) n = p;
    }
    /* One page of klines: what a longer need misses warms up live. */
    return n > 999 ? 999 : (int)n;
}

/* ---- the bars ---- */

static int on_bar(void *ctx, const tb_market_data *bar, int history)
{
    run *r = ctx;
    if (r->stopping) return 0;
    /* The bar is history: nothing may trade on it. The mute reaches every
     * bar opening no later than this one, so a bar the feed took for
     * history on one symbol is history on all. */
    if (history) tb_pipeline_set_trade_from(r->p, bar->open_time + 1);
    int rc = tb_pipeline_push_bar(r->p, bar);
    if (rc && tb_pipeline_failure(r->p)) {
        fail(r, rc, "%s", tb_pipeline_failure(r->p));
        return rc;
    }
    if (rc) {
        fail(r, rc, "%s bar closing at %lld: the pipeline failed: %s", bar->symbol,
             (long long)bar->close_time, tb_strerror(rc));
        return rc;
    }
    char err[512] = "";
    if (r->jr && (rc = tb__jrun_after_bar(r->jr, err, sizeof(err))) != 0) {
        fail(r, rc, "%s", err);
        return rc;
    }
    if (r->opt->on_bar && (rc = r->opt->on_bar(r->p, bar, r->opt->hook_ctx)) != 0) {
        fail(r, rc, "%s", tb_strerror(rc));
        return rc;
    }
    return 0;
}

/* Every request to the exchange is journaled and committed before it
 * leaves (tb_binance_on_request): `journal trace` shows an order's, and a
 * crash right after a send is followed by reconciliation at the next start.
 * A request the journal cannot hold is not sent, and the run stops. */
static int on_request(void *ctx, const tb_binance_request *rq)
{
    run *r = ctx;
    tb_journal_request jq = {0,           tb_loop_now(r->loop), rq->method, rq->path,
                             rq->purpose, rq->client_order_id,  rq->params};
    char err[512] = "";
    int rc = tb__jrun_request(r->jr, &jq, err, sizeof(err));
    if (rc) fail(r, rc, "%s: the request was not sent", err);
    return rc;
}

static void on_feed_log(void *ctx, int level, const char *msg)
{
    note(ctx, level, "%s", msg);
}

/* ---- the status, once a second ---- */

static void status(run *r)
{
    tb_live_status st;
    memset(&st, 0, sizeof(st));
    st.mode = r->mode;
    st.ready = r->ready;
    st.now = tb_loop_now(r->loop);
    if (r->feed) bn_market_get_status(r->feed, &r->ms);
    const bn_market_status ms = r->ms;
    st.streams = ms.streams;
    st.streams_connected = ms.connected ? ms.streams : 0;
    st.warm = ms.warm;
    st.last_bar_close = ms.last_bar_close;
    st.last_bar_at = ms.last_bar_at;
    st.last_rx = ms.last_rx;
    st.bars = ms.bars;
    st.history_bars = ms.history;
    st.rest_bars = ms.rest_bars;
    st.reconnects = ms.connects > 1 ? ms.connects - 1 : 0;
    st.muted = tb_pipeline_muted(r->p);
    tb_backtest_result res;
    if (tb_pipeline_result(r->p, &res) == 0) {
        st.open_orders = (size_t)res.open_orders;
        st.equity = res.final_equity;
        st.positions = res.positions;
        st.npositions = res.npositions;
    }
    tb_binance_status bs;
    int have_bs = r->binance && tb_binance_status_get(r->ex, &bs) == 0;
    if (have_bs) st.open_orders = bs.open_orders;
    if (r->opt->status) r->opt->status(&st, r->opt->ctx);
    tb_backtest_result_free(&res);
    if (r->opt->metrics) {
        tb_metrics_exchange x = {st.streams,
                                 st.streams_connected,
                                 ms.last_rx ? (double)ms.last_rx / 1e9 : 0,
                                 ms.rest_latency_ns >= 0 ? (double)ms.rest_latency_ns / 1e9 : -1,
                                 -1,
                                 ms.used_weight_1m,
                                 -1};
        if (have_bs) {
            x.rest_latency_s = (double)bs.rest_latency_ns / 1e9;
            x.order_rtt_s = bs.order_rtt_ns > 0 ? (double)bs.order_rtt_ns / 1e9 : -1;
            x.used_weight_1m = bs.used_weight_1m;
            x.user_stream_open = bs.user_stream_open;
        }
        tb_metrics_set_exchange(r->opt->metrics, &x);
        tb_metrics_update_pipeline(r->opt->metrics, r->p);
    }
}

static void on_tick(void *ctx, int64_t at)
{
    run *r = ctx;
    r->tick = 0;
    if (r->opt->stop && *r->opt->stop && !r->stopping) {
        r->stopping = 1;
        tb_loop_stop(r->loop);
    }
    status(r);
    if (tb_loop_timer_start(r->loop, at + SECOND, on_tick, r, &r->tick) != 0) r->tick = 0;
}

static void on_signal(void *ctx, int signum)
{
    run *r = ctx;
    r->signals++;
    if (!r->stopping)
        note(r, 0, "%s: stopping (no new bar%s)", signum == 2 ? "SIGINT" : "SIGTERM",
             r->binance && r->cfg->live_cancel_on_exit ? "; canceling our open orders" : "");
    else if (r->waiting)
        note(r, 1, "second signal: not waiting for the exchange any longer");
    r->stopping = 1;
    tb_loop_stop(r->loop);
}

/* ---- the exchange ---- */

/* The order an adopted position's fill belongs to, as the Risk Manager
 * must have heard of it (it accepts fills of the orders it follows only):
 * created NEW, delivered to it alone, never journaled (the fill is, with
 * the "adopted" RiskAlert as its cause). No id: the caller gives one. */
static void adopted_order(const tb_event *fill, tb_event *out)
{
    const tb_order_filled *f = &fill->u.order_filled;
    tb_event_init(out, TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
    out->causation_id = fill->causation_id;
    out->correlation_id = fill->correlation_id;
    out->timestamp = fill->timestamp;
    tb_order_created *o = &out->u.order_created;
    memcpy(o->order_id, f->order_id, sizeof(o->order_id));
    memcpy(o->client_order_id, f->client_order_id, sizeof(o->client_order_id));
    o->status = TB_ORDER_NEW;
    o->order_type = TB_ORDER_MARKET;
    o->side = f->side;
    memcpy(o->symbol, f->symbol, sizeof(o->symbol));
    memcpy(o->strategy_id, f->strategy_id, sizeof(o->strategy_id));
    o->quantity = f->filled_quantity;
}

/* --adopt-positions: the account holds less of SYMBOL's base asset than
 * the journal's positions say (sold by hand while the run was down, say).
 * The one strategy holding it takes the account's amount: a RiskAlert
 * `adopted` names both values, and a fill of the difference at the
 * position's entry price (no fee, so no PnL) caused by it moves every
 * component's books alike — Position and Risk Managers, the strategy's
 * target, fills.csv — and is journaled like any fill. */
static int adopt_one(run *r, const tb_position_update *u, tb_decimal journal, tb_decimal held)
{
    tb_bus *bus = tb_pipeline_bus(r->p);
    int64_t now = tb_loop_now(r->loop);
    tb_decimal delta = held - journal; /* < 0: the strategy gives up -delta */
    char j[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN], q[TB_DECIMAL_STRLEN];
    tb_dec_format(journal, j, sizeof(j));
    tb_dec_format(held, h, sizeof(h));
    tb_dec_format(u->current_quantity + delta, q, sizeof(q));
    tb_event alert;
    tb_event_init(&alert, TB_EV_RISK_ALERT, TB_SRC_RISK);
    alert.timestamp = now;
    tb_risk_alert *a = &alert.u.risk_alert;
    snprintf(a->rule, sizeof(a->rule), "adopted");
    char detail[256];
    snprintf(detail, sizeof(detail), "%s: journal %s, account %s: %s now holds %s", u->symbol, j, h,
             u->strategy_id, q);
    snprintf(a->detail, sizeof(a->detail), "%.*s", (int)sizeof(a->detail) - 1, detail);
    a->trading_state = TB_TRADING_ACTIVE;
    memcpy(a->strategy_id, u->strategy_id, sizeof(a->strategy_id));
    memcpy(a->symbol, u->symbol, sizeof(a->symbol));
    int rc = tb_bus_publish(bus, &alert);
    if (rc) return rc;

    tb_event fe;
    tb_event_init(&fe, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    tb_event_caused_by(&fe, &alert);
    fe.timestamp = now;
    tb_order_filled *f = &fe.u.order_filled;
    /* Named after its cause: unique over every session of the journal. */
    snprintf(f->client_order_id, sizeof(f->client_order_id), "adopt-%llu",
             (unsigned long long)alert.event_id);
    memcpy(f->order_id, f->client_order_id, sizeof(f->order_id));
    memcpy(f->strategy_id, u->strategy_id, sizeof(f->strategy_id));
    memcpy(f->symbol, u->symbol, sizeof(f->symbol));
    f->side = delta < 0 ? TB_SIDE_SELL : TB_SIDE_BUY;
    f->filled_quantity = f->cumulative_quantity = delta < 0 ? -delta : delta;
    f->filled_price = f->average_price = u->entry_price;
    f->status = TB_ORDER_FILLED;
    tb_event ev;
    adopted_order(&fe, &ev);
    ev.event_id = tb_bus_next_id(bus); /* delivered, not published: no id given */
    /* The Risk Manager accepts fills of the orders it follows only. */
    rc = tb_bus_deliver_to(bus, tb_source_name(TB_SRC_RISK), &ev);
    if (rc && rc != TB_ENOTFOUND) return rc;
    if ((rc = tb_bus_publish(bus, &fe)) != 0) return rc;
    /* The Order Manager hears no fill on the bus (it publishes them): its
     * books and count take this one as a resume takes the journal's. */
    if ((rc = tb_pipeline_restore(r->p, &fe)) != 0) return rc;
    note(r, 1, "--adopt-positions: %s", detail);
    return 0;
}

static int adopt_positions(run *r)
{
    tb_backtest_result res;
    int rc = tb_pipeline_result(r->p, &res);
    if (rc) return rc;
    for (size_t i = 0; !rc && i < res.npositions; i++) {
        const char *sym = res.positions[i].symbol;
        size_t first = i, holders = 0, holder = 0;
        tb_decimal journal = 0, held = 0;
        for (size_t k = 0; k < res.npositions; k++) {
            if (strcmp(res.positions[k].symbol, sym) != 0) continue;
            if (k < first) first = k;
            journal += res.positions[k].current_quantity;
            if (res.positions[k].current_quantity != 0) holders++, holder = k;
        }
        if (first != i) continue; /* the symbol was done at its first entry */
        if (tb_binance_holdings(r->ex, sym, &held) != 0 && held != 0) continue;
        if (held >= journal && journal >= 0) continue;
        if (holders != 1 || res.positions[holder].current_quantity + (held - journal) < 0) {
            char j[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN];
            tb_dec_format(journal, j, sizeof(j));
            tb_dec_format(held, h, sizeof(h));
            fail(r, TB_ECONFIG,
                 "--adopt-positions: %s: the journal holds %s, the account %s, over %zu "
                 "strategies: which one gave it up is not known; bring the account back to %s, "
                 "or start without --resume",
                 sym, j, h, holders, j);
            rc = TB_ECONFIG;
            break;
        }
        rc = adopt_one(r, &res.positions[holder], journal, held);
        if (rc) fail(r, rc, "--adopt-positions: %s: %s", sym, tb_strerror(rc));
    }
    tb_backtest_result_free(&res);
    return rc;
}

static void on_ready(void *ctx, int rc, const char *text)
{
    run *r = ctx;
    if (rc) {
        fail(r, rc, "the exchange's start-up failed: %s", text && text[0] ? text : tb_strerror(rc));
        return;
    }
    /* The report (orders not ours, balances unlike the journal's positions)
     * is worth a warning. */
    note(r, text && text[0] ? 1 : 0, "exchange ready (%s)%s%s", r->mode,
         text && text[0] ? ": " : "", text ? text : "");
    if (r->opt->resume && r->opt->adopt_positions && adopt_positions(r) != 0) return;
    r->ready = 1;
    /* A caller waiting for this (the kill switch) gets the loop back; a
     * running feed just goes on. */
    tb_loop_stop(r->loop);
}

static void on_canceled(void *ctx, int rc, size_t n)
{
    run *r = ctx;
    r->canceled = n;
    if (rc)
        note(r, 2, "canceling the open orders failed: %s (look at them on the exchange)",
             tb_strerror(rc));
    else
        note(r, 0, "canceled %zu open order%s of ours", n, n == 1 ? "" : "s");
    r->waiting = 0;
    tb_loop_stop(r->loop);
}

static void on_deadline(void *ctx, int64_t at)
{
    (void)at;
    run *r = ctx;
    r->deadline = 0;
    if (!r->waiting) return;
    note(r, 2, "the exchange did not confirm the cancels within %d s: look at the open orders",
         (int)(CANCEL_WAIT / SECOND));
    r->waiting = 0;
    tb_loop_stop(r->loop);
}

/* Runs the loop until the cancel-all answers, the deadline passes or a
 * second signal comes. */
static int cancel_all(run *r)
{
    int rc = tb_binance_cancel_all(r->ex, on_canceled, r);
    if (rc) {
        note(r, 2, "cannot cancel the open orders: %s", tb_strerror(rc));
        return rc;
    }
    r->waiting = 1;
    int signals = r->signals;
    tb_loop_timer_start(r->loop, tb_loop_now(r->loop) + CANCEL_WAIT, on_deadline, r, &r->deadline);
    while (r->waiting && r->signals == signals)
        tb_loop_run(r->loop);
    if (r->deadline) tb_loop_timer_stop(r->loop, r->deadline);
    r->deadline = 0;
    return r->waiting ? TB_ETIMEOUT : 0;
}

/* ---- --resume: the state of the journal's earlier sessions ---- */

typedef struct {
    tb_pipeline *p;
    tb_binance_known_order *orders; /* the journal's orders, terminal ones dropped at the end */
    unsigned char *done;
    size_t n, cap;
    tb_event *events; /* the order events after requests, to replay */
    size_t nevents, events_cap, nfills;
    uint64_t adopted; /* the last "adopted" RiskAlert: its fill is of no order */
} restore;

static tb_binance_known_order *known_of(restore *x, const char *cid)
{
    for (size_t i = x->n; i-- > 0;)
        if (strcmp(x->orders[i].client_order_id, cid) == 0) return &x->orders[i];
    return NULL;
}

static int on_journaled(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    restore *x = ctx;
    int rc = tb_pipeline_restore(x->p, ev);
    if (rc) return rc;
    tb_binance_known_order *k;
    switch (ev->type) {
    case TB_EV_RISK_ALERT:
        if (strcmp(ev->u.risk_alert.rule, "adopted") == 0) x->adopted = ev->event_id;
        return 0;
    case TB_EV_ORDER_PLACEMENT_REQUEST:
        if (x->n == x->cap) {
            size_t nc = x->cap ? x->cap * 2 : 64;
            tb_binance_known_order *no = realloc(x->orders, nc * sizeof(*no));
            if (!no) return TB_ENOMEM;
            x->orders = no;
            unsigned char *nd = realloc(x->done, nc);
            if (!nd) return TB_ENOMEM;
            x->done = nd;
            x->cap = nc;
        }
        k = &x->orders[x->n];
        memset(k, 0, sizeof(*k));
        memcpy(k->client_order_id, ev->u.order_request.client_order_id, sizeof(k->client_order_id));
        memcpy(k->symbol, ev->u.order_request.symbol, sizeof(k->symbol));
        k->quantity = ev->u.order_request.quantity;
        x->done[x->n++] = 0;
        break;
    case TB_EV_ORDER_CREATED:
        if ((k = known_of(x, ev->u.order_created.client_order_id)) != NULL)
            k->quantity = ev->u.order_created.quantity;
        break;
    case TB_EV_ORDER_FILLED:
        if ((k = known_of(x, ev->u.order_filled.client_order_id)) != NULL) {
            k->filled_quantity = ev->u.order_filled.cumulative_quantity;
            if (ev->u.order_filled.status == TB_ORDER_FILLED) x->done[k - x->orders] = 1;
        }
        x->nfills++;
        break;
    case TB_EV_ORDER_CANCELED:
        if ((k = known_of(x, ev->u.order_canceled.client_order_id)) != NULL)
            x->done[k - x->orders] = 1;
        break;
    case TB_EV_ORDER_REJECTED:
        if ((k = known_of(x, ev->u.order_rejected.client_order_id)) != NULL)
            x->done[k - x->orders] = 1;
        break;
    default:
        return 0;
    }
    if (ev->type == TB_EV_ORDER_PLACEMENT_REQUEST) return 0;
    /* Room for two: an adopted fill goes after the order Risk must know. */
    if (x->nevents + 2 > x->events_cap) {
        size_t nc = x->events_cap ? x->events_cap * 2 : 64;
        tb_event *ne = realloc(x->events, nc * sizeof(*ne));
        if (!ne) return TB_ENOMEM;
        x->events = ne;
        x->events_cap = nc;
    }
    if (ev->type == TB_EV_ORDER_FILLED && x->adopted && ev->causation_id == x->adopted)
        adopted_order(ev, &x->events[x->nevents++]);
    x->events[x->nevents++] = *ev;
    return 0;
}

/* The journal's order events again, in order: fills to every subscriber
 * (the Position Manager, the Risk Manager, the summary, the outputs), the
 * rest to the Risk Manager alone (it follows open orders and fees; the
 * strategies' targets are not rebuilt from cancels of signals they never
 * made in this process). */
static int replay_orders(const restore *x, tb_bus *bus, char *err, size_t errlen)
{
    for (size_t i = 0; i < x->nevents; i++) {
        tb_event ev = x->events[i];
        /* An adopted position's order: an id after every journaled one. */
        if (ev.event_id == 0) ev.event_id = tb_bus_next_id(bus);
        int rc = ev.type == TB_EV_ORDER_FILLED
                     ? tb_bus_publish(bus, &ev)
                     : tb_bus_deliver_to(bus, tb_source_name(TB_SRC_RISK), &ev);
        if (rc == TB_ENOTFOUND && ev.type != TB_EV_ORDER_FILLED) rc = 0; /* no Risk Manager */
        if (rc) {
            tb__errf(err, errlen, "--resume: the journal's %s %llu: %s",
                     tb_event_type_name(ev.type), (unsigned long long)ev.event_id, tb_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Before the loop first runs and before the journal records this session:
 * the pipeline takes the journal's state (its orders, then its fills, which
 * the Position Manager and the summary count again) and the adapter the
 * orders left open and the positions, for its reconciliation. */
static int resume_from(run *r, char *err, size_t errlen)
{
    restore x;
    memset(&x, 0, sizeof(x));
    x.p = r->p;
    tb_journal *j = tb__jrun_journal(r->jr);
    int rc = tb_journal_each(j, 0, on_journaled, &x);
    if (rc)
        tb__errf(err, errlen, "--resume: reading journal %s: %s (%s)", r->cfg->journal_path,
                 tb_strerror(rc), tb_journal_errmsg(j));
    if (!rc) rc = replay_orders(&x, tb_pipeline_bus(r->p), err, errlen);
    size_t open = 0;
    for (size_t i = 0; i < x.n; i++)
        if (!x.done[i]) x.orders[open++] = x.orders[i];
    /* The positions the account must hold: per symbol, over strategies. */
    tb_backtest_result res;
    tb_binance_position *pos = NULL;
    size_t npos = 0;
    if (!rc && (rc = tb_pipeline_result(r->p, &res)) == 0) {
        pos = calloc(res.npositions ? res.npositions : 1, sizeof(*pos));
        if (!pos) rc = TB_ENOMEM;
        for (size_t i = 0; pos && i < res.npositions; i++) {
            const tb_position_update *u = &res.positions[i];
            size_t k = 0;
            while (k < npos && strcmp(pos[k].symbol, u->symbol) != 0)
                k++;
            if (k == npos) memcpy(pos[npos++].symbol, u->symbol, sizeof(pos[0].symbol));
            pos[k].quantity += u->current_quantity;
        }
        tb_backtest_result_free(&res);
    }
    if (!rc) {
        tb_binance_resume rs;
        memset(&rs, 0, sizeof(rs));
        rs.orders = x.orders;
        rs.norders = open;
        rs.positions = pos;
        rs.npositions = npos;
        rs.adopt_positions = r->opt->adopt_positions;
        if ((rc = tb_binance_set_resume(r->ex, &rs)) != 0)
            tb__errf(err, errlen, "--resume: the exchange adapter: %s", tb_strerror(rc));
        else
            note(r, 0,
                 "resuming journal %s: %lld events, %zu order%s still open, %zu fill%s, %zu "
                 "position%s to reconcile",
                 r->cfg->journal_path, (long long)tb__jrun_held(r->jr), open, open == 1 ? "" : "s",
                 x.nfills, x.nfills == 1 ? "" : "s", npos, npos == 1 ? "" : "s");
    }
    free(pos);
    free(x.orders);
    free(x.done);
    free(x.events);
    return rc;
}

/* ---- the probe ---- */

static void on_probe(void *ctx, bn_probe_stage stage, const bn_req *rq, int64_t at)
{
    run *r = ctx;
    if (rq->op != BN_OP_SUBMIT) return;
    tb__live_order_stage st = stage == BN_PROBE_HANDED    ? TB__LIVE_ORDER_HANDED
                              : stage == BN_PROBE_WRITTEN ? TB__LIVE_ORDER_WRITTEN
                                                          : TB__LIVE_ORDER_ANSWERED;
    int64_t frame_at = stage == BN_PROBE_HANDED ? bn_market_frame_at(r->feed) : 0;
    r->probe->on_order(r->probe->ctx, st, rq->cid, frame_at, at);
}

/* ---- the run ---- */

static const char *url_for(const tb_config *cfg, const char *mode, const char *own, const char *key,
                           const char *testnet, const char *production)
{
    if (own) return own;
    const char *x = tb_exchange_param(cfg, key);
    if (x && x[0] && strcasecmp(x, "auto") != 0) return x;
    return strcasecmp(mode, "testnet") == 0 ? testnet : production;
}

/* The symbols the strategies trade, once each, in the config's order. */
static const char **symbols_of(const tb_config *cfg, size_t *n)
{
    const char **s =
        calloc(cfg->nstrategies ? cfg->nstrategies * TB_STRATEGY_MAX_SYMBOLS : 1, sizeof(*s));
    *n = 0;
    if (!s) return NULL;
    for (size_t i = 0; i < cfg->nstrategies; i++)
        for (size_t m = 0; m < cfg->strategies[i].nsymbols; m++) {
            const char *sym = cfg->strategies[i].symbols[m];
            size_t k = 0;
            while (k < *n && strcmp(s[k], sym) != 0)
                k++;
            if (k == *n) s[(*n)++] = sym;
        }
    return s;
}

int tb_live_run(const tb_config *cfg, const tb_live_options *opt, tb_backtest_result *res,
                char *err, size_t errlen)
{
    return tb__live_run(cfg, opt, NULL, res, err, errlen);
}

int tb__live_run(const tb_config *cfg, const tb_live_options *opt, const tb__live_probe *probe,
                 tb_backtest_result *res, char *err, size_t errlen)
{
    static const tb_live_options none;
    run r;
    memset(&r, 0, sizeof(r));
    memset(res, 0, sizeof(*res));
    if (err && errlen) err[0] = 0;
    r.cfg = cfg;
    r.opt = opt ? opt : &none;
    r.probe = probe && probe->on_order ? probe : NULL;
    r.ms.rest_latency_ns = r.ms.used_weight_1m = -1;
    r.mode = tb_live_mode(cfg);
    int rc, started = 0;
    FILE *events = NULL, *fills = NULL, *trades = NULL, *equity = NULL;
    tb__outset *os = NULL;
    const char *dir = r.opt->cancel_all ? NULL : r.opt->out_dir;
    const char **syms = NULL;
    if (strcasecmp(r.mode, "live") == 0 && !r.opt->allow_live) {
        tb__errf(err, errlen,
                 "[exchange] mode = live trades real money on Binance: add --live to the command "
                 "line to confirm, or use mode = paper (simulated fills) or mode = testnet");
        return TB_ECONFIG;
    }
    if ((rc = tb_loop_create(TB_CLOCK_WALL, &r.loop)) != 0) {
        tb__errf(err, errlen, "cannot create the event loop: %s", tb_strerror(rc));
        return rc;
    }
    if ((rc = tb_loop_watch_signals(r.loop, on_signal, &r)) != 0) {
        tb__errf(err, errlen, "cannot watch SIGINT/SIGTERM: %s", tb_strerror(rc));
        tb_loop_destroy(r.loop);
        return rc;
    }
    if (dir) {
        if ((rc = tb__outset_create(dir, &os, err, errlen)) != 0) goto done;
        if ((rc = tb__check_journal_path(cfg, dir, err, errlen)) != 0) goto done;
        if ((cfg->event_log && !(events = tb__outset_open(os, "events.jsonl", err, errlen))) ||
            (cfg->fills && !(fills = tb__outset_open(os, "fills.csv", err, errlen))) ||
            !(trades = tb__outset_open(os, "trades.csv", err, errlen)) ||
            !(equity = tb__outset_open(os, "equity.csv", err, errlen))) {
            rc = TB_EIO;
            goto done;
        }
    }
    if (r.opt->resume && !r.opt->cancel_all && strcasecmp(r.mode, "paper") == 0) {
        /* The simulator's orders and cash lived in the process that ended:
         * there is nothing to reconcile a journal with. */
        tb__errf(err, errlen,
                 "--resume: mode = paper cannot continue a run: the simulated exchange's orders "
                 "and cash ended with its process; start a new journal (or use mode = testnet "
                 "or live)");
        rc = TB_ECONFIG;
        goto done;
    }
    if (r.opt->resume && !r.opt->cancel_all && !cfg->journal_path) {
        tb__errf(err, errlen, "--resume continues the run a journal holds: give --journal FILE");
        rc = TB_ECONFIG;
        goto done;
    }
    if (cfg->journal_path && !r.opt->cancel_all &&
        (rc = tb__jrun_open(cfg, TB__JRUN_LIVE | (r.opt->resume ? TB__JRUN_RESUME : 0), &r.jr, err,
                            errlen)) != 0)
        goto done;
    tb_pipeline_options po;
    memset(&po, 0, sizeof(po));
    po.event_log = events;
    po.fills_csv = fills;
    po.on_dead_letter = r.jr ? tb__jrun_dead_letter : NULL;
    po.on_dead_letter_ctx = r.jr;
    po.trades_csv = trades;
    po.equity_csv = equity;
    po.loop = r.loop;
    if ((rc = tb_pipeline_create(cfg, &po, &r.p, err, errlen)) != 0) goto done;
    r.ex = tb_pipeline_exchange(r.p);
    r.binance = r.ex && tb_binance_is(r.ex);
    r.ready = !r.binance;
    if (r.jr && r.opt->resume && tb__jrun_held(r.jr) > 0 &&
        (rc = resume_from(&r, err, errlen)) != 0)
        goto done;
    if (r.jr && (rc = tb__jrun_attach(r.jr, tb_pipeline_bus(r.p))) != 0) goto done;
    if (r.binance && r.probe) bn_adapter_set_probe(r.ex, on_probe, &r);
    if (r.opt->cancel_all) {
        /* The kill switch: nothing runs, every open order of ours goes. */
        if (!r.binance) {
            note(&r, 0, "%s mode: no order of ours is open on an exchange; nothing to cancel",
                 r.mode);
            goto done;
        }
    }
    if (r.binance && r.jr && (rc = tb_binance_on_request(r.ex, on_request, &r)) != 0) {
        tb__errf(err, errlen, "the exchange adapter: %s", tb_strerror(rc));
        goto done;
    }
    if (r.binance && (rc = tb_binance_on_ready(r.ex, on_ready, &r)) != 0) {
        tb__errf(err, errlen, "the exchange adapter: %s", tb_strerror(rc));
        goto done;
    }
    if (r.opt->cancel_all) {
        /* Our orders are known once the start-up has reconciled them. */
        while (!r.ready && !r.stopping)
            tb_loop_run(r.loop);
        if (r.rc || !r.ready) {
            rc = r.rc ? r.rc : TB_ECANCELED;
            tb__errf(err, errlen, "%s", r.rc ? r.err : "stopped before the exchange was ready");
        } else if ((rc = cancel_all(&r)) != 0) {
            tb__errf(err, errlen, "cancel-all did not complete: %s", tb_strerror(rc));
        }
        goto done;
    }
    if (r.opt->on_start && (rc = r.opt->on_start(r.p, r.opt->hook_ctx)) != 0) {
        tb__errf(err, errlen, "%s", tb_strerror(rc));
        goto done;
    }
    started = 1;
    size_t nsyms = 0;
    if (!(syms = symbols_of(cfg, &nsyms))) {
        rc = TB_ENOMEM;
        goto done;
    }
    bn_market_config mc;
    memset(&mc, 0, sizeof(mc));
    mc.stream_url = url_for(cfg, r.mode, cfg->live_stream_url, "stream_url",
                            "wss://stream.testnet.binance.vision", "wss://stream.binance.com:9443");
    mc.rest_url = url_for(cfg, r.mode, cfg->live_rest_url, "rest_url",
                          "https://testnet.binance.vision", "https://api.binance.com");
    mc.interval = cfg->live_interval ? cfg->live_interval : "1m";
    mc.symbols = syms;
    mc.nsymbols = nsyms;
    mc.warmup_bars = tb_live_warmup_bars(cfg);
    mc.on_bar = on_bar;
    mc.on_log = on_feed_log;
    mc.ctx = &r;
    note(&r, 0, "%s mode: %zu symbol%s, %s bars from %s; warm-up %d bars from %s", r.mode, nsyms,
         nsyms == 1 ? "" : "s", mc.interval, mc.stream_url, mc.warmup_bars, mc.rest_url);
    for (size_t i = 0; i < cfg->nstrategies; i++)
        if (cfg->live_warmup_bars < 0 && needs(&cfg->strategies[i]) > mc.warmup_bars)
            note(&r, 0,
                 "warm-up: [strategy.%s] needs %ld %s bars for its longest period on its "
                 "longest timeframe; %d are fetched, so it decides on what it has and warms up "
                 "fully during the run",
                 cfg->strategies[i].id, needs(&cfg->strategies[i]), mc.interval, mc.warmup_bars);
    if ((rc = bn_market_create(r.loop, &mc, &r.feed, err, errlen)) != 0) {
        char why[512];
        snprintf(why, sizeof(why), "%s", err);
        tb__errf(err, errlen, "[live]: %s", why);
        rc = TB_ECONFIG;
        goto done;
    }
    on_tick(&r, tb_loop_now(r.loop));
    while (!r.stopping)
        tb_loop_run(r.loop);
    /* No new bar from here. */
    bn_market_get_status(r.feed, &r.ms);
    r.ms.connected = 0;
    bn_market_destroy(r.feed);
    r.feed = NULL;
    if (r.rc) {
        rc = r.rc;
        tb__errf(err, errlen, "%s", r.err);
        goto done;
    }
    if (r.binance && cfg->live_cancel_on_exit && r.ready) cancel_all(&r);
    if ((rc = tb_pipeline_result(r.p, res)) != 0) goto done;
    if (r.jr && (rc = tb__jrun_finish(r.jr, res, err, errlen)) != 0) goto done;
    res->dead_letter_queue = r.jr ? tb__jrun_queue_size(r.jr) : -1;
    if (r.opt->on_end && (rc = r.opt->on_end(r.p, res, r.opt->hook_ctx)) != 0) {
        tb__errf(err, errlen, "%s", tb_strerror(rc));
        goto done;
    }
    if ((rc = tb_pipeline_finish(r.p)) != 0) {
        tb__errf(err, errlen, "trades.csv/equity.csv: %s", tb_strerror(rc));
        goto done;
    }
    status(&r);
done:
    bn_market_destroy(r.feed);
    if (r.tick) tb_loop_timer_stop(r.loop, r.tick);
    if (started && r.opt->on_stop) r.opt->on_stop(r.p, r.opt->hook_ctx);
    tb__jrun_detach(r.jr);
    tb_pipeline_destroy(r.p);
    tb__jrun_close(r.jr, rc != 0);
    if (!rc && os) {
        /* A run that saw no bar has no report to draw (its event log is
         * empty); the other files say so. */
        rc = tb__run_stage_outputs(os, cfg, dir, r.opt->report && res->bars > 0, res, NULL, err,
                                   errlen);
        if (!rc) rc = tb__run_publish(os, err, errlen);
    }
    tb__outset_free(os);
    tb_loop_destroy(r.loop);
    free(syms);
    if (rc) tb_backtest_result_free(res);
    return rc;
}
