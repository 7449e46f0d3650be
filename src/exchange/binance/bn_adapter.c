/* The live Binance Spot adapter: the port's operations (submit, cancel,
 * query: asynchronous), order news to the listener from REST replies and
 * the user stream (each fill once, by trade id), the start-up sequence and
 * its reconciliation, and binance.h's calls. See docs/binance.md for what
 * happens on each failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../core/errbuf.h"
#include "bn_adapter.h"
#include "tradebus/exchange_registry.h"

#define MS 1000000LL

static const tb_exchange_vtable bn_vtable;

void bn_set_error(bn_adapter *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->st.last_error, sizeof(a->st.last_error), fmt, ap);
    va_end(ap);
}

static void report_add(bn_adapter *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(bn_adapter *a, const char *fmt, ...)
{
    size_t n = strlen(a->report);
    if (n + 2 >= sizeof(a->report)) return;
    if (n) a->report[n++] = '\n', a->report[n] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->report + n, sizeof(a->report) - n, fmt, ap);
    va_end(ap);
}

/* ---- symbols, orders, trade ids ------------------------------------------ */

static int sym_find(const bn_adapter *a, const char *name)
{
    for (size_t i = 0; i < a->nsyms; i++)
        if (strcmp(a->syms[i].name, name) == 0) return (int)i;
    return -1;
}

static bn_ord *ord_find(bn_adapter *a, const char *cid)
{
    for (size_t i = 0; i < a->nords; i++)
        if (strcmp(a->ords[i].cid, cid) == 0) return &a->ords[i];
    return NULL;
}

static bn_ord *ord_add(bn_adapter *a, const char *cid, int sym)
{
    bn_ord *o = ord_find(a, cid);
    if (o) return o;
    /* Finished orders go first when the table is full: their late
     * duplicates are caught by the trade-id set and the terminal flag is
     * all that is lost (an unknown order's news is ignored). */
    if (a->nords == a->cap_ords) {
        size_t w = 0;
        for (size_t i = 0; i < a->nords; i++)
            if (!a->ords[i].terminal || a->ords[i].foreign) a->ords[w++] = a->ords[i];
        a->nords = w;
    }
    if (a->nords == a->cap_ords) {
        size_t nc = a->cap_ords ? a->cap_ords * 2 : 64;
        bn_ord *no = realloc(a->ords, nc * sizeof(*no));
        if (!no) return NULL;
        a->ords = no;
        a->cap_ords = nc;
    }
    o = &a->ords[a->nords++];
    memset(o, 0, sizeof(*o));
    tb__errf(o->cid, sizeof(o->cid), "%s", cid);
    o->sym = sym;
    return o;
}

size_t bn_open_count(const bn_adapter *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nords; i++)
        if (!a->ords[i].terminal && !a->ords[i].foreign && a->ords[i].accepted) n++;
    return n;
}

/* "<strategy id>-<digits>": the Order Manager's client order ids. */
static int ours(const bn_adapter *a, const char *cid)
{
    for (size_t i = 0; i < a->nords; i++)
        if (strcmp(a->ords[i].cid, cid) == 0) return !a->ords[i].foreign;
    for (size_t i = 0; i < a->nstrategies; i++) {
        size_t n = strlen(a->strategies[i]);
        if (strncmp(cid, a->strategies[i], n) != 0 || cid[n] != '-' || !cid[n + 1]) continue;
        const char *p = cid + n + 1;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!*p) return 1;
    }
    return 0;
}

/* 1 if the trade was seen before; records it otherwise. */
static int trade_seen(bn_adapter *a, int sym, uint64_t trade_id)
{
    if (a->ntrades * 2 >= a->trades_cap) {
        size_t nc = a->trades_cap ? a->trades_cap * 2 : 4096;
        uint64_t *nt = calloc(nc, sizeof(*nt));
        if (!nt) return 0; /* no memory: better a duplicate check missed than a fill lost */
        for (size_t i = 0; i < a->trades_cap; i++) {
            if (!a->trades[i]) continue;
            size_t h = (size_t)((a->trades[i] * 0x9E3779B97F4A7C15ULL) >> 20) & (nc - 1);
            while (nt[h])
                h = (h + 1) & (nc - 1);
            nt[h] = a->trades[i];
        }
        free(a->trades);
        a->trades = nt;
        a->trades_cap = nc;
    }
    uint64_t key = ((trade_id << 5) | (uint64_t)(sym & 31)) + 1;
    size_t h = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & (a->trades_cap - 1);
    while (a->trades[h]) {
        if (a->trades[h] == key) return 1;
        h = (h + 1) & (a->trades_cap - 1);
    }
    a->trades[h] = key;
    a->ntrades++;
    return 0;
}

/* ---- order news to the listener ------------------------------------------ */

static void emit(bn_adapter *a, const bn_ord *o, tb_exchange_response *r, int64_t time)
{
    tb__errf(r->client_order_id, sizeof(r->client_order_id), "%s", o->cid);
    if (o->order_id)
        tb__errf(r->order_id, sizeof(r->order_id), "%llu", (unsigned long long)o->order_id);
    r->time = time ? time : tb_loop_now(a->loop);
    if (a->base.listener) a->base.listener(r, a->base.listener_ctx);
}

static void report_accepted(bn_adapter *a, bn_ord *o, int64_t time)
{
    if (o->accepted || o->terminal || o->foreign) return;
    /* Still in doubt for a look-up: GET /api/v3/order can lag the stream. */
    o->accepted = 1;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = TB_XR_ACCEPTED;
    emit(a, o, &r, time);
}

static void report_fill(bn_adapter *a, bn_ord *o, uint64_t trade_id, tb_decimal qty,
                        tb_decimal price, tb_decimal commission, const char *asset, int64_t time)
{
    if (o->foreign || trade_seen(a, o->sym, trade_id)) return;
    report_accepted(a, o, time);
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = TB_XR_FILL;
    r.quantity = qty;
    r.price = price;
    r.trade_id = trade_id;
    bn_sym *s = &a->syms[o->sym];
    if (price > 0) s->last_price = price;
    if (commission && asset && asset[0]) {
        tb_decimal other = strcmp(asset, "BNB") == 0 ? a->bnb_price : 0;
        int rc = bn_commission_to_quote(commission, asset, &s->info, price, other, &r.commission);
        if (rc) {
            r.commission = 0;
            bn_set_error(a,
                         "fill %llu of %s: commission in %s not converted to %s (%s): set "
                         "[exchange] bnb_price",
                         (unsigned long long)trade_id, o->cid, asset, s->info.quote,
                         tb_strerror(rc));
        }
    }
    o->cum_qty += qty;
    emit(a, o, &r, time);
}

static void report_end(bn_adapter *a, bn_ord *o, tb_exchange_response_kind kind, int64_t time,
                       const char *text)
{
    if (o->terminal || o->foreign) return;
    o->terminal = 1;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = kind;
    if (text) tb__errf(r.text, sizeof(r.text), "%s", text);
    emit(a, o, &r, time);
}

static void report_rejected(bn_adapter *a, bn_ord *o, const char *cid, tb_reject_reason reason,
                            const char *text)
{
    bn_ord tmp;
    if (!o) {
        memset(&tmp, 0, sizeof(tmp));
        tb__errf(tmp.cid, sizeof(tmp.cid), "%s", cid);
        o = &tmp;
    }
    if (o->accepted || o->terminal) return;
    /* A duplicate of an order in doubt is that order: it lives on. */
    if (!(reason == TB_REJECT_DUPLICATE && o->doubt_since)) o->terminal = 1;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    r.kind = TB_XR_REJECTED;
    r.reason = reason;
    tb__errf(r.text, sizeof(r.text), "%s", text);
    emit(a, o, &r, 0);
}

static void deliver(bn_adapter *a, tb_exchange_op op, const char *cid, int rc,
                    tb_exchange_failure f, int64_t retry_after, const char *text,
                    const tb_exchange_order_info *info)
{
    tb_exchange_result res;
    memset(&res, 0, sizeof(res));
    res.op = op;
    tb__errf(res.client_order_id, sizeof(res.client_order_id), "%s", cid);
    res.rc = rc;
    if (rc == TB_EIO) {
        res.xerr.failure = f;
        res.xerr.retry_after = retry_after;
        if (text) tb__errf(res.xerr.text, sizeof(res.xerr.text), "%s", text);
    }
    if (info && rc == 0) res.info = *info;
    tb_exchange_deliver_result(&a->base, &res);
}

/* How a failed request is told to the port: 1 with *f etc. set when it is
 * a transient failure (TB_EIO), 0 when the exchange answered definitely. */
static int transient(bn_adapter *a, const tb_http_response *resp, const bn_error *e,
                     bn_error_class cls, tb_exchange_failure *f, int64_t *retry, char *text,
                     size_t textlen)
{
    (void)a;
    *retry = 0;
    if (resp->outcome == TB_HTTP_NOT_SENT) {
        *f = TB_XF_CONNECTION_LOST;
        tb__errf(text, textlen, "not sent: %s", resp->error);
        return 1;
    }
    if (resp->outcome != TB_HTTP_DONE) {
        *f = TB_XF_TIMEOUT;
        tb__errf(text, textlen, "no reply: %s", resp->error);
        return 1;
    }
    switch (cls) {
    case BN_AMBIGUOUS:
        *f = resp->status >= 500 || e->code == -1006 ? TB_XF_SERVER_ERROR : TB_XF_TIMEOUT;
        if (e->code)
            tb__errf(text, textlen, "HTTP %d, Binance %d: %s", resp->status, e->code, e->msg);
        else
            tb__errf(text, textlen, "HTTP %d", resp->status);
        return 1;
    case BN_RATE_LIMITED:
    case BN_BANNED:
        *f = TB_XF_RATE_LIMITED;
        *retry = resp->retry_after_s >= 0 ? resp->retry_after_s * 1000 * MS : 0;
        tb__errf(text, textlen, "HTTP %d (%s): Retry-After %llds", resp->status,
                 cls == BN_BANNED ? "IP banned" : "rate limited", (long long)resp->retry_after_s);
        return 1;
    default:
        return 0;
    }
}

static bn_error_class classify(const tb_http_response *resp, bn_error *e)
{
    memset(e, 0, sizeof(*e));
    if (resp->status >= 200 && resp->status < 300) return BN_OK;
    bn_parse_error(resp->body, resp->body_len, e);
    return bn_classify(resp->status, e->code);
}

/* ---- executionReport ----------------------------------------------------- */

static void fetch_trades(bn_adapter *a, bn_ord *o, bn_req *parent);
static void sync_order(bn_adapter *a, bn_ord *o, bn_then then);

static void on_exec_now(bn_adapter *a, const bn_exec_report *er)
{
    /* On a cancel, c is the cancel's own id and C the order's. */
    const char *cid = er->orig_client_order_id[0] ? er->orig_client_order_id : er->client_order_id;
    bn_ord *o = ord_find(a, cid);
    if (!o || o->foreign) return; /* not ours, or not one we follow */
    if (!o->order_id) o->order_id = er->order_id;
    int64_t t = er->transact_time ? er->transact_time : er->event_time;
    const char *x = er->exec_type;
    if (strcmp(x, "NEW") == 0) {
        report_accepted(a, o, t);
    } else if (strcmp(x, "TRADE") == 0 && er->trade_id >= 0) {
        report_fill(a, o, (uint64_t)er->trade_id, er->last_qty, er->last_price, er->commission,
                    er->commission_asset, t);
    } else if (strcmp(x, "CANCELED") == 0 || strcmp(x, "EXPIRED") == 0 ||
               (strcmp(x, "TRADE_PREVENTION") == 0 && er->status == TB_ORDER_EXPIRED)) {
        if (er->cum_qty > o->cum_qty) {
            /* Fills the stream did not bring come first: read them back;
             * the read-back reports the end. */
            sync_order(a, o, BN_THEN_NONE);
            return;
        }
        report_end(a, o, strcmp(x, "CANCELED") == 0 ? TB_XR_CANCELED : TB_XR_EXPIRED, t,
                   er->reject_reason[0] && strcmp(er->reject_reason, "NONE") ? er->reject_reason
                                                                             : NULL);
    } else if (strcmp(x, "REJECTED") == 0) {
        report_rejected(a, o, cid, bn_reject_reason(0, er->reject_reason), er->reject_reason);
    }
    if (er->status == TB_ORDER_FILLED && er->cum_qty <= o->cum_qty) o->terminal = 1;
}

void bn_on_exec(bn_adapter *a, const bn_exec_report *er)
{
    if (a->stage != BN_ST_READY) {
        /* Start-up: kept until the REST state is read, then applied. */
        if (a->nbuffer == a->cap_buffer) {
            size_t nc = a->cap_buffer ? a->cap_buffer * 2 : 64;
            bn_exec_report *nb = realloc(a->buffer, nc * sizeof(*nb));
            if (!nb) {
                bn_set_error(a, "start-up: no memory to buffer a stream event");
                return;
            }
            a->buffer = nb;
            a->cap_buffer = nc;
        }
        a->buffer[a->nbuffer++] = *er;
        return;
    }
    on_exec_now(a, er);
}

void bn_on_balances(bn_adapter *a, const bn_balance *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < a->nbalances && strcmp(a->balances[j].asset, b[i].asset) != 0)
            j++;
        if (j == a->nbalances) {
            if (a->nbalances == BN_MAX_BALANCES) continue;
            a->nbalances++;
        }
        a->balances[j] = b[i];
    }
}

static const bn_balance *balance_of(const bn_adapter *a, const char *asset)
{
    for (size_t i = 0; i < a->nbalances; i++)
        if (strcmp(a->balances[i].asset, asset) == 0) return &a->balances[i];
    return NULL;
}

/* ---- reading an order back: GET /api/v3/order, then myTrades ------------- */

static void then_done(bn_adapter *a, bn_req *r, bn_ord *o, int found_missed);

static void finish_sync(bn_adapter *a, bn_req *r, bn_ord *o)
{
    o->syncing = 0;
    if (r->then != BN_THEN_QUERY) {
        if (r->status == TB_ORDER_CANCELED || r->status == TB_ORDER_EXPIRED)
            report_end(a, o, r->status == TB_ORDER_CANCELED ? TB_XR_CANCELED : TB_XR_EXPIRED, 0,
                       NULL);
        else if (r->status == TB_ORDER_REJECTED)
            report_rejected(a, o, o->cid, TB_REJECT_EXCHANGE, "found REJECTED by look-up");
        else if (r->status == TB_ORDER_FILLED && o->cum_qty >= r->executed)
            o->terminal = 1;
    }
    then_done(a, r, o, r->found);
}

static int trades_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    if (!o) return 0;
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    int found = 0;
    if (cls == BN_OK) {
        bn_trade tr[128];
        size_t n = 0;
        char err[160];
        if (bn_parse_trades(resp->body, resp->body_len, tr, 128, &n, err, sizeof(err)) != 0 &&
            n == 0)
            bn_set_error(a, "myTrades of %s: %s", o->cid, err);
        tb_decimal skip = o->from_journal ? o->journal_filled : 0; /* fills it already has */
        for (size_t i = 0; i < n; i++) {
            if (tr[i].order_id != o->order_id) continue;
            if (skip > 0) {
                skip -= tr[i].qty;
                trade_seen(a, o->sym, tr[i].id);
                continue;
            }
            tb_decimal before = o->cum_qty;
            report_fill(a, o, tr[i].id, tr[i].qty, tr[i].price, tr[i].commission,
                        tr[i].commission_asset, tr[i].time);
            if (o->cum_qty != before) found = 1;
        }
        o->from_journal = 0;
    } else {
        bn_set_error(a, "myTrades of %s failed: %s", o->cid,
                     resp->outcome == TB_HTTP_DONE ? e.msg : resp->error);
    }
    r->found = found;
    if (r->then == BN_THEN_QUERY) {
        /* A query's result: the order as found, its fills now told. */
        o->syncing = 0;
        deliver(a, TB_XOP_QUERY, o->cid, 0, TB_XF_NONE, 0, NULL, &r->info);
        return 0;
    }
    finish_sync(a, r, o);
    return 0;
}

static void fetch_trades(bn_adapter *a, bn_ord *o, bn_req *parent)
{
    bn_req *r = bn_req_new(a, "GET", "/api/v3/myTrades", 1, 5, BN_OP_TRADES, trades_done);
    if (!r) {
        o->syncing = 0;
        return;
    }
    tb__errf(r->cid, sizeof(r->cid), "%s", o->cid);
    r->then = parent->then;
    r->info = parent->info;
    r->executed = parent->executed;
    r->status = parent->status;
    r->sym = o->sym;
    bn_query_add(&r->q, "symbol", a->syms[o->sym].name);
    bn_query_add_i64(&r->q, "orderId", (int64_t)o->order_id);
    bn_rest_enqueue(a, r, 1);
}

static void fill_info(tb_exchange_order_info *info, const bn_order *bo)
{
    memset(info, 0, sizeof(*info));
    tb__errf(info->client_order_id, sizeof(info->client_order_id), "%s", bo->client_order_id);
    tb__errf(info->order_id, sizeof(info->order_id), "%llu", (unsigned long long)bo->order_id);
    info->status = bo->status;
    info->quantity = bo->orig_qty;
    info->filled_quantity = bo->executed_qty;
    info->time = bo->time;
    info->stop_price = bo->stop_price;
}

/* The order as Binance has it: fills not told yet are fetched, then what
 * follows r->then. */
static void sync_apply(bn_adapter *a, bn_req *r, bn_ord *o, const bn_order *bo)
{
    if (!o->order_id) o->order_id = bo->order_id;
    fill_info(&r->info, bo);
    r->executed = bo->executed_qty;
    r->status = bo->status;
    if (bo->executed_qty > o->cum_qty) {
        fetch_trades(a, o, r);
        return;
    }
    o->from_journal = 0;
    if (r->then == BN_THEN_QUERY) {
        o->syncing = 0;
        deliver(a, TB_XOP_QUERY, o->cid, 0, TB_XF_NONE, 0, NULL, &r->info);
        return;
    }
    finish_sync(a, r, o);
}

static int sync_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    if (!o) return 0;
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    if (cls == BN_OK) {
        bn_order bo;
        char err[160];
        if (bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) == 0) {
            sync_apply(a, r, o, &bo);
            return 0;
        }
        bn_set_error(a, "reading %s back: %s", o->cid, err);
    } else if (cls == BN_UNKNOWN_ORDER) {
        if (r->then == BN_THEN_STARTUP)
            report_add(a, "order %s (journal) is unknown to Binance: left as the journal has it",
                       o->cid);
        o->terminal = o->terminal || !o->doubt_since;
    } else {
        bn_set_error(a, "reading %s back failed: %s", o->cid,
                     resp->outcome == TB_HTTP_DONE ? e.msg : resp->error);
        if (r->then == BN_THEN_STARTUP) report_add(a, "order %s could not be looked up", o->cid);
    }
    o->syncing = 0;
    r->status = TB_ORDER_NEW; /* nothing learned: no end reported */
    r->executed = 0;
    then_done(a, r, o, 0);
    return 0;
}

static void sync_order(bn_adapter *a, bn_ord *o, bn_then then)
{
    if (o->syncing || o->foreign || o->sym < 0) {
        if (then != BN_THEN_NONE) {
            bn_req fake;
            memset(&fake, 0, sizeof(fake));
            fake.then = then;
            then_done(a, &fake, o, 0);
        }
        return;
    }
    bn_req *r = bn_req_new(a, "GET", "/api/v3/order", 1, 4, BN_OP_SYNC, sync_done);
    if (!r) return;
    o->syncing = 1;
    o->last_sync = tb_loop_now(a->loop);
    tb__errf(r->cid, sizeof(r->cid), "%s", o->cid);
    r->then = then;
    r->sym = o->sym;
    bn_query_add(&r->q, "symbol", a->syms[o->sym].name);
    if (o->order_id)
        bn_query_add_i64(&r->q, "orderId", (int64_t)o->order_id);
    else
        bn_query_add(&r->q, "origClientOrderId", o->cid);
    bn_rest_enqueue(a, r, 0);
}

void bn_sync_open_orders(bn_adapter *a, bn_then then)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nords; i++) {
        bn_ord *o = &a->ords[i];
        if (o->terminal || o->foreign || o->syncing) continue;
        if (then == BN_THEN_CHECK) a->checks_pending++;
        sync_order(a, o, then);
        n++;
    }
    (void)n;
}

/* ---- the port: submit ------------------------------------------------------ */

/* A local refusal: no request sent. Told to the listener, then the call's
 * result (held: delivered; else returned). */
static int refuse(bn_adapter *a, const char *cid, tb_reject_reason reason, const char *text,
                  int held)
{
    bn_ord *o = ord_find(a, cid);
    report_rejected(a, o, cid, reason, text);
    if (held) deliver(a, TB_XOP_SUBMIT, cid, 0, TB_XF_NONE, 0, NULL, NULL);
    return 0;
}

static int submit_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    memset(&e, 0, sizeof(e));
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    tb_exchange_failure f;
    int64_t retry;
    char text[TB_TEXT_LEN];
    if (cls == BN_OK && o) {
        bn_order bo;
        char err[160];
        if (bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) != 0) {
            /* A 200 we cannot read: the order is placed, its state unknown. */
            o->doubt_since = tb_loop_now(a->loop);
            o->sent_at = r->t0;
            bn_set_error(a, "order %s: unreadable reply: %s", r->cid, err);
            deliver(a, TB_XOP_SUBMIT, r->cid, TB_EIO, TB_XF_TIMEOUT, 0, "unreadable reply", NULL);
            return 0;
        }
        o->order_id = bo.order_id;
        report_accepted(a, o, bo.time);
        for (size_t i = 0; i < bo.nfills; i++)
            report_fill(a, o, bo.fills[i].trade_id, bo.fills[i].qty, bo.fills[i].price,
                        bo.fills[i].commission, bo.fills[i].commission_asset, bo.time);
        if (bo.executed_qty > o->cum_qty) {
            sync_order(a, o, BN_THEN_NONE); /* an ACK/RESULT reply: fills without trade ids */
        } else if (bo.status == TB_ORDER_EXPIRED || bo.status == TB_ORDER_CANCELED) {
            report_end(a, o, bo.status == TB_ORDER_CANCELED ? TB_XR_CANCELED : TB_XR_EXPIRED,
                       bo.update_time ? bo.update_time : bo.time, NULL);
        } else if (bo.status == TB_ORDER_FILLED) {
            o->terminal = 1;
        }
        deliver(a, TB_XOP_SUBMIT, r->cid, 0, TB_XF_NONE, 0, NULL, NULL);
        return 0;
    }
    if (transient(a, resp, &e, cls, &f, &retry, text, sizeof(text))) {
        if (o && tb_exchange_failure_is_ambiguous(f)) {
            o->doubt_since = tb_loop_now(a->loop);
            o->sent_at = r->t0;
        }
        if (o && cls == BN_BANNED) a->halted = 1;
        deliver(a, TB_XOP_SUBMIT, r->cid, TB_EIO, f, retry, text, NULL);
        return 0;
    }
    tb_reject_reason reason = bn_reject_reason(e.code, e.msg);
    if (cls == BN_AUTH) {
        tb__errf(text, sizeof(text),
                 "Binance refused the API key or signature (%d %s): check [exchange] api_key "
                 "and api_secret",
                 e.code, e.msg);
        bn_set_error(a, "%s", text);
        reason = TB_REJECT_EXCHANGE;
    } else {
        tb__errf(text, sizeof(text), "Binance %d: %s", e.code, e.msg);
    }
    report_rejected(a, o, r->cid, reason, text);
    deliver(a, TB_XOP_SUBMIT, r->cid, 0, TB_XF_NONE, 0, NULL, NULL);
    return 0;
}

static int do_submit(bn_adapter *a, const tb_order_placement_request *req, int held)
{
    const char *cid = req->client_order_id;
    char err[200];
    int sym = sym_find(a, req->symbol);
    if (sym < 0) {
        tb__errf(err, sizeof(err), "%s is not one of the symbols this run declared", req->symbol);
        return refuse(a, cid, TB_REJECT_UNKNOWN_SYMBOL, err, held);
    }
    if (a->halted) {
        tb__errf(err, sizeof(err),
                 "trading halted: Binance banned this IP (HTTP 418) for %lld s more",
                 (long long)((a->blocked_until - tb_loop_now(a->loop)) / (1000 * MS)));
        return refuse(a, cid, TB_REJECT_EXCHANGE, err, held);
    }
    tb_reject_reason reason;
    if (bn_check_order(&a->syms[sym].info, req, a->syms[sym].last_price, &reason, err,
                       sizeof(err)) != 0)
        return refuse(a, cid, reason, err, held);
    bn_ord *o = ord_add(a, cid, sym);
    if (!o) return TB_ENOMEM;
    o->qty = req->quantity;
    o->terminal = 0;
    bn_req *r = bn_req_new(a, "POST", "/api/v3/order", 1, 1, BN_OP_SUBMIT, submit_done);
    if (!r) return TB_ENOMEM;
    if (bn_order_params(req, &r->q, err, sizeof(err)) != 0 || r->q.err) {
        r->done = NULL;
        r->next = a->free_reqs;
        a->free_reqs = r;
        return refuse(a, cid, TB_REJECT_EXCHANGE, err, held);
    }
    tb__errf(r->cid, sizeof(r->cid), "%s", cid);
    r->sym = sym;
    r->timed = 1;
    bn_rest_enqueue(a, r, 0);
    return TB_EINPROGRESS;
}

static int hold(bn_adapter *a, tb_exchange_op op, const tb_order_placement_request *req,
                const char *cid)
{
    if (a->nheld == a->cap_held) {
        size_t nc = a->cap_held ? a->cap_held * 2 : 16;
        bn_held *nh = realloc(a->held, nc * sizeof(*nh));
        if (!nh) return TB_ENOMEM;
        a->held = nh;
        a->cap_held = nc;
    }
    bn_held *h = &a->held[a->nheld++];
    memset(h, 0, sizeof(*h));
    h->op = op;
    if (req) h->req = *req;
    tb__errf(h->cid, sizeof(h->cid), "%s", cid);
    return TB_EINPROGRESS;
}

/* The start-up failed: nothing can be sent (certainly not executed). */
static int not_started(bn_adapter *a, tb_exchange_error *xerr)
{
    if (xerr) {
        xerr->failure = TB_XF_CONNECTION_LOST;
        tb__errf(xerr->text, sizeof(xerr->text), "start-up failed: %s", a->st.last_error);
    }
    return TB_EIO;
}

static int bn_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                     tb_exchange_error *xerr)
{
    (void)now;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->stage == BN_ST_FAILED) return not_started(a, xerr);
    if (a->stage != BN_ST_READY) return hold(a, TB_XOP_SUBMIT, req, req->client_order_id);
    return do_submit(a, req, 0);
}

/* ---- the port: cancel -------------------------------------------------------- */

static int cancel_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    memset(&e, 0, sizeof(e));
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    tb_exchange_failure f;
    int64_t retry;
    char text[TB_TEXT_LEN];
    if (cls == BN_OK) {
        bn_order bo;
        char err[160];
        if (o && bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) == 0) {
            if (bo.executed_qty > o->cum_qty)
                sync_order(a, o, BN_THEN_NONE); /* fills first, then the end */
            else
                report_end(a, o, TB_XR_CANCELED, bo.update_time, NULL);
        }
        deliver(a, TB_XOP_CANCEL, r->cid, 0, TB_XF_NONE, 0, NULL, NULL);
        return 0;
    }
    if (transient(a, resp, &e, cls, &f, &retry, text, sizeof(text))) {
        deliver(a, TB_XOP_CANCEL, r->cid, TB_EIO, f, retry, text, NULL);
        return 0;
    }
    /* -2011 and any other definite refusal: not open to cancel. The order
     * may have just filled: read it back so its news is complete. */
    if (cls != BN_UNKNOWN_ORDER) bn_set_error(a, "cancel %s: %d %s", r->cid, e.code, e.msg);
    if (o && !o->terminal) sync_order(a, o, BN_THEN_NONE);
    deliver(a, TB_XOP_CANCEL, r->cid, TB_ENOTFOUND, TB_XF_NONE, 0, NULL, NULL);
    return 0;
}

static int do_cancel(bn_adapter *a, const char *cid, int held)
{
    bn_ord *o = ord_find(a, cid);
    if (!o || o->foreign || o->terminal || o->sym < 0) {
        if (held) deliver(a, TB_XOP_CANCEL, cid, TB_ENOTFOUND, TB_XF_NONE, 0, NULL, NULL);
        return TB_ENOTFOUND;
    }
    bn_req *r = bn_req_new(a, "DELETE", "/api/v3/order", 1, 1, BN_OP_CANCEL, cancel_done);
    if (!r) return TB_ENOMEM;
    tb__errf(r->cid, sizeof(r->cid), "%s", cid);
    r->sym = o->sym;
    r->timed = 1;
    bn_query_add(&r->q, "symbol", a->syms[o->sym].name);
    bn_query_add(&r->q, "origClientOrderId", cid);
    bn_rest_enqueue(a, r, 0);
    return TB_EINPROGRESS;
}

static int bn_cancel(tb_exchange *ex, const char *cid, int64_t now, tb_exchange_error *xerr)
{
    (void)now;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->stage == BN_ST_FAILED) return not_started(a, xerr);
    if (a->stage != BN_ST_READY) return hold(a, TB_XOP_CANCEL, NULL, cid);
    return do_cancel(a, cid, 0);
}

/* ---- the port: query ----------------------------------------------------------- */

static void query_send(bn_adapter *a, const char *cid, int sym);

/* An order in doubt (an ambiguous send, then -2013 on its look-up) is
 * looked for where a lagging GET /api/v3/order would miss it: in the open
 * orders, then in myTrades since the send (an order that filled at once is
 * in no open list). A trade there of an order none of ours explains may be
 * ours: it is read back by orderId, and while it cannot be told apart the
 * order stays in doubt even past the grace, so that no second order is
 * sent beside one that traded. Each step reuses r (its handler returns 1). */

static void doubt_step(bn_adapter *a, bn_req *r, const char *path, int weight, bn_req_fn done)
{
    r->method = "GET";
    r->in_body = 0;
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->weight = weight;
    r->done = done;
    r->clock_retried = 0;
    bn_query_init(&r->q);
    bn_query_add(&r->q, "symbol", a->syms[r->sym].name);
}

/* Nothing found: in doubt while the grace lasts or a trade may be ours,
 * else not found (the send never made it, and a resend is safe). */
static void doubt_end(bn_adapter *a, bn_req *r, bn_ord *o, int evidence)
{
    char text[TB_TEXT_LEN];
    if (!evidence && (!o || !o->doubt_since || tb_loop_now(a->loop) - o->doubt_since >= a->grace)) {
        if (o) o->doubt_since = 0;
        deliver(a, TB_XOP_QUERY, r->cid, TB_ENOTFOUND, TB_XF_NONE, 0, NULL, NULL);
        return;
    }
    tb__errf(text, sizeof(text),
             evidence ? "in doubt: Binance does not show %s yet (-2013), but trades since its "
                        "ambiguous send may be its own; looking again"
                      : "in doubt: Binance does not show %s yet (-2013) after an ambiguous "
                        "send; looking again",
             r->cid);
    deliver(a, TB_XOP_QUERY, r->cid, TB_EIO, TB_XF_TIMEOUT, 0, text, NULL);
}

/* Found after all: the -2013 was the lag. Adopted as a query's answer. */
static void doubt_found(bn_adapter *a, bn_req *r, bn_ord *o, const bn_order *bo)
{
    o->syncing = 1;
    o->doubt_since = 0;
    o->accepted = 1;
    r->then = BN_THEN_QUERY;
    sync_apply(a, r, o, bo);
}

static int doubt_order_done(bn_adapter *a, bn_req *r, const tb_http_response *resp);

/* The next candidate read back by orderId, or the end of the search. */
static int doubt_next(bn_adapter *a, bn_req *r, bn_ord *o)
{
    if (r->icand == r->ncands) {
        doubt_end(a, r, o, r->evidence);
        return 0;
    }
    doubt_step(a, r, "/api/v3/order", 4, doubt_order_done);
    bn_query_add_i64(&r->q, "orderId", (int64_t)r->cands[r->icand++]);
    bn_rest_enqueue(a, r, 1);
    return 1;
}

static int doubt_order_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    if (!o) {
        doubt_end(a, r, o, 1);
        return 0;
    }
    bn_order bo;
    char err[160];
    if (cls == BN_OK && bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) == 0) {
        if (strcmp(bo.client_order_id, r->cid) == 0) {
            doubt_found(a, r, o, &bo);
            return 0;
        }
        /* Someone else's order: its trades are not ours. */
    } else {
        r->evidence = 1; /* lagging too, or failed: it may be ours */
    }
    return doubt_next(a, r, o);
}

static int known_order_id(const bn_adapter *a, uint64_t id)
{
    for (size_t i = 0; i < a->nords; i++)
        if (a->ords[i].order_id == id) return 1;
    return 0;
}

static int doubt_trades_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    if (!o || cls != BN_OK) {
        doubt_end(a, r, o, 1); /* nothing learned: still in doubt */
        return 0;
    }
    bn_trade tr[128];
    size_t n = 0;
    char err[160];
    if (bn_parse_trades(resp->body, resp->body_len, tr, 128, &n, err, sizeof(err)) != 0)
        r->evidence = 1; /* unreadable, or more than we read */
    r->ncands = r->icand = 0;
    for (size_t i = 0; i < n; i++) {
        if (known_order_id(a, tr[i].order_id)) continue;
        size_t k = 0;
        while (k < r->ncands && r->cands[k] != tr[i].order_id)
            k++;
        if (k < r->ncands) continue;
        if (r->ncands == sizeof(r->cands) / sizeof(r->cands[0])) {
            r->evidence = 1; /* more than we look at */
            break;
        }
        r->cands[r->ncands++] = tr[i].order_id;
    }
    return doubt_next(a, r, o);
}

static int doubt_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    if (!o || cls != BN_OK) {
        doubt_end(a, r, o, 1);
        return 0;
    }
    bn_order open[64];
    size_t n = 0;
    char err[160];
    bn_parse_orders(resp->body, resp->body_len, open, 64, &n, err, sizeof(err));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(open[i].client_order_id, r->cid) != 0) continue;
        doubt_found(a, r, o, &open[i]);
        return 0;
    }
    /* Not open: it may have traded already. The server may stamp a trade
     * up to a second before our clock (recvWindow's own slack). */
    doubt_step(a, r, "/api/v3/myTrades", 20, doubt_trades_done);
    bn_query_add_i64(&r->q, "startTime", (o->sent_at + a->offset_ns) / MS - 1000);
    bn_rest_enqueue(a, r, 1);
    return 1;
}

static int query_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_ord *o = ord_find(a, r->cid);
    bn_error e;
    memset(&e, 0, sizeof(e));
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    tb_exchange_failure f;
    int64_t retry;
    char text[TB_TEXT_LEN];
    if (cls == BN_OK) {
        bn_order bo;
        char err[160];
        if (bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) != 0) {
            deliver(a, TB_XOP_QUERY, r->cid, TB_EIO, TB_XF_TIMEOUT, 0, "unreadable reply", NULL);
            return 0;
        }
        if (!o) o = ord_add(a, r->cid, r->sym);
        if (!o) {
            deliver(a, TB_XOP_QUERY, r->cid, TB_ENOMEM, TB_XF_NONE, 0, NULL, NULL);
            return 0;
        }
        /* The Order Manager adopts what it finds (its own ACCEPTED, and the
         * end of a finished order): it is told here, not again later. */
        o->accepted = 1;
        o->doubt_since = 0;
        if (bo.status == TB_ORDER_CANCELED || bo.status == TB_ORDER_EXPIRED ||
            bo.status == TB_ORDER_REJECTED)
            o->terminal = 1;
        o->syncing = 1;
        sync_apply(a, r, o, &bo);
        return 0;
    }
    if (transient(a, resp, &e, cls, &f, &retry, text, sizeof(text))) {
        deliver(a, TB_XOP_QUERY, r->cid, TB_EIO, f, retry, text, NULL);
        return 0;
    }
    if (cls == BN_UNKNOWN_ORDER) {
        if (!o && r->sym + 1 < (int)a->nsyms) {
            query_send(a, r->cid, r->sym + 1); /* an order we never followed: every symbol */
            return 0;
        }
        if (o && o->doubt_since) {
            /* Binance can lag seconds behind an order it accepted: look at
             * the open orders and the trades before believing it. */
            bn_req *d =
                bn_req_new(a, "GET", "/api/v3/openOrders", 1, 6, BN_OP_DOUBT_CHECK, doubt_done);
            if (!d) {
                deliver(a, TB_XOP_QUERY, r->cid, TB_ENOMEM, TB_XF_NONE, 0, NULL, NULL);
                return 0;
            }
            tb__errf(d->cid, sizeof(d->cid), "%s", r->cid);
            d->sym = o->sym;
            bn_query_add(&d->q, "symbol", a->syms[o->sym].name);
            bn_rest_enqueue(a, d, 1);
            return 0;
        }
        if (o) o->doubt_since = 0;
        deliver(a, TB_XOP_QUERY, r->cid, TB_ENOTFOUND, TB_XF_NONE, 0, NULL, NULL);
        return 0;
    }
    bn_set_error(a, "look-up of %s: %d %s", r->cid, e.code, e.msg);
    deliver(a, TB_XOP_QUERY, r->cid, cls == BN_AUTH ? TB_ECONFIG : TB_ENOTFOUND, TB_XF_NONE, 0,
            NULL, NULL);
    return 0;
}

static void query_send(bn_adapter *a, const char *cid, int sym)
{
    bn_req *r = bn_req_new(a, "GET", "/api/v3/order", 1, 4, BN_OP_QUERY, query_done);
    if (!r) {
        deliver(a, TB_XOP_QUERY, cid, TB_ENOMEM, TB_XF_NONE, 0, NULL, NULL);
        return;
    }
    tb__errf(r->cid, sizeof(r->cid), "%s", cid);
    r->sym = sym;
    r->then = BN_THEN_QUERY;
    bn_query_add(&r->q, "symbol", a->syms[sym].name);
    bn_query_add(&r->q, "origClientOrderId", cid);
    bn_rest_enqueue(a, r, 0);
}

static int do_query(bn_adapter *a, const char *cid, int held)
{
    bn_ord *o = ord_find(a, cid);
    if ((o && o->foreign) || a->nsyms == 0) {
        if (held) deliver(a, TB_XOP_QUERY, cid, TB_ENOTFOUND, TB_XF_NONE, 0, NULL, NULL);
        return TB_ENOTFOUND;
    }
    query_send(a, cid, o && o->sym >= 0 ? o->sym : 0);
    return TB_EINPROGRESS;
}

static int bn_query_op(tb_exchange *ex, const char *cid, int64_t now, tb_exchange_order_info *out,
                       tb_exchange_error *xerr)
{
    (void)now, (void)out;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->stage == BN_ST_FAILED) return not_started(a, xerr);
    if (a->stage != BN_ST_READY) return hold(a, TB_XOP_QUERY, NULL, cid);
    return do_query(a, cid, 0);
}

/* ---- cancel-all ------------------------------------------------------------------ */

static void cancel_all_step(bn_adapter *a);

static void cancel_all_end(bn_adapter *a)
{
    tb_binance_done_fn fn = a->cancel_all_fn;
    a->cancel_all_fn = NULL;
    a->cancel_all_wanted = 0;
    if (fn) fn(a->cancel_all_ctx, a->cancel_all_rc, a->cancel_all_n);
}

static int cancel_all_one_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    bn_ord *o = ord_find(a, r->cid);
    if (cls == BN_OK) {
        a->cancel_all_n++;
        bn_order bo;
        char err[160];
        if (o && bn_parse_order(resp->body, resp->body_len, &bo, err, sizeof(err)) == 0) {
            if (bo.executed_qty > o->cum_qty)
                sync_order(a, o, BN_THEN_NONE);
            else
                report_end(a, o, TB_XR_CANCELED, bo.update_time, "canceled by cancel-all");
        }
    } else if (cls != BN_UNKNOWN_ORDER) {
        a->cancel_all_rc = TB_EIO;
        bn_set_error(a, "cancel-all: %s: %s", r->cid,
                     resp->outcome == TB_HTTP_DONE ? e.msg : resp->error);
    }
    if (--a->cancel_all_pending == 0) cancel_all_step(a);
    return 0;
}

static int cancel_all_list_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    a->cancel_all_pending--;
    if (cls == BN_OK) {
        bn_order open[64];
        size_t n = 0;
        char err[160];
        bn_parse_orders(resp->body, resp->body_len, open, 64, &n, err, sizeof(err));
        for (size_t i = 0; i < n; i++) {
            if (!ours(a, open[i].client_order_id)) continue; /* never touched */
            bn_req *d = bn_req_new(a, "DELETE", "/api/v3/order", 1, 1, BN_OP_CANCEL_ALL_ONE,
                                   cancel_all_one_done);
            if (!d) {
                a->cancel_all_rc = TB_ENOMEM;
                break;
            }
            tb__errf(d->cid, sizeof(d->cid), "%s", open[i].client_order_id);
            bn_query_add(&d->q, "symbol", a->syms[r->sym].name);
            bn_query_add(&d->q, "origClientOrderId", open[i].client_order_id);
            a->cancel_all_pending++;
            bn_rest_enqueue(a, d, 0);
        }
    } else {
        a->cancel_all_rc = TB_EIO;
        bn_set_error(a, "cancel-all: open orders of %s: %s", a->syms[r->sym].name,
                     resp->outcome == TB_HTTP_DONE ? e.msg : resp->error);
    }
    if (a->cancel_all_pending == 0) cancel_all_step(a);
    return 0;
}

/* One symbol at a time: its open orders, then a DELETE for each of ours. */
static void cancel_all_step(bn_adapter *a)
{
    if (a->cancel_all_sym >= a->nsyms) {
        cancel_all_end(a);
        return;
    }
    int sym = (int)a->cancel_all_sym++;
    bn_req *r = bn_req_new(a, "GET", "/api/v3/openOrders", 1, 6, BN_OP_CANCEL_ALL_LIST,
                           cancel_all_list_done);
    if (!r) {
        a->cancel_all_rc = TB_ENOMEM;
        cancel_all_end(a);
        return;
    }
    r->sym = sym;
    bn_query_add(&r->q, "symbol", a->syms[sym].name);
    a->cancel_all_pending = 1;
    bn_rest_enqueue(a, r, 0);
}

static void cancel_all_start(bn_adapter *a)
{
    a->cancel_all_rc = 0;
    a->cancel_all_n = 0;
    a->cancel_all_sym = 0;
    cancel_all_step(a);
}

/* ---- the start-up sequence ------------------------------------------------------------ */

static void stage_run(bn_adapter *a);

static void on_stage_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->stage_timer = 0;
    stage_run(a);
}

static void on_ready_timer(void *ctx, int64_t at);

static void call_ready(bn_adapter *a)
{
    if (!a->ready_timer)
        tb_loop_timer_start(a->loop, tb_loop_now(a->loop), on_ready_timer, a, &a->ready_timer);
}

static void startup_fail(bn_adapter *a, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void startup_fail(bn_adapter *a, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bn_set_error(a, "%s", msg);
    report_add(a, "%s", msg);
    a->stage = BN_ST_FAILED;
    a->ready_rc = rc;
    /* Held calls: nothing was sent. */
    for (size_t i = 0; i < a->nheld; i++) {
        char text[TB_TEXT_LEN];
        tb__errf(text, sizeof(text), "start-up failed: %s", msg);
        deliver(a, a->held[i].op, a->held[i].cid, TB_EIO, TB_XF_CONNECTION_LOST, 0, text, NULL);
    }
    a->nheld = 0;
    if (a->cancel_all_wanted) {
        a->cancel_all_rc = rc;
        a->cancel_all_n = 0;
        cancel_all_end(a);
    }
    call_ready(a);
}

/* A step failed on the network: again after a pause, five times at most. */
static void stage_retry(bn_adapter *a, const char *what, const char *why)
{
    if (++a->startup_attempts > 5) {
        startup_fail(a, TB_EIO, "start-up: %s failed 5 times: %s", what, why);
        return;
    }
    bn_set_error(a, "start-up: %s failed (%s): trying again", what, why);
    int64_t delay = (250 * MS) << a->startup_attempts;
    tb_loop_timer_start(a->loop, tb_loop_now(a->loop) + delay, on_stage_timer, a, &a->stage_timer);
}

static void stage_next(bn_adapter *a, bn_stage next)
{
    a->stage = next;
    a->stage_i = 0;
    a->startup_attempts = 0;
    stage_run(a);
}

void bn_startup_time_done(bn_adapter *a, int ok)
{
    if (a->stage != BN_ST_TIME) return;
    if (!ok) {
        stage_retry(a, "GET /api/v3/time", a->st.last_error);
        return;
    }
    stage_next(a, BN_ST_INFO);
}

/* A config rule that Binance's contradicts: a tick or step that is not a
 * multiple of Binance's (a coarser grid is still valid there), a minimum
 * notional below Binance's. */
static int check_rules(bn_adapter *a, bn_sym *s)
{
    const tb_symbol_rules *c = s->cfg;
    const bn_symbol_info *b = &s->info;
    char x[32], y[32];
    if (!c) return 0;
    if (c->tick_size && b->tick_size && c->tick_size % b->tick_size != 0) {
        bn_format_decimal(c->tick_size, x, sizeof(x));
        bn_format_decimal(b->tick_size, y, sizeof(y));
        startup_fail(a, TB_ECONFIG,
                     "[symbol.%s] tick_size = %s contradicts Binance's tick size %s "
                     "(PRICE_FILTER): use %s or a multiple of it",
                     s->name, x, y, y);
        return TB_ECONFIG;
    }
    if (c->step_size && b->step_size && c->step_size % b->step_size != 0) {
        bn_format_decimal(c->step_size, x, sizeof(x));
        bn_format_decimal(b->step_size, y, sizeof(y));
        startup_fail(a, TB_ECONFIG,
                     "[symbol.%s] step_size = %s contradicts Binance's step size %s "
                     "(LOT_SIZE): use %s or a multiple of it",
                     s->name, x, y, y);
        return TB_ECONFIG;
    }
    if (b->min_notional && c->min_notional < b->min_notional && c->min_notional) {
        bn_format_decimal(c->min_notional, x, sizeof(x));
        bn_format_decimal(b->min_notional, y, sizeof(y));
        startup_fail(a, TB_ECONFIG,
                     "[symbol.%s] min_notional = %s is below Binance's minimum notional %s "
                     "(NOTIONAL): use at least %s",
                     s->name, x, y, y);
        return TB_ECONFIG;
    }
    return 0;
}

static int stage_failed_reply(bn_adapter *a, const char *what, const tb_http_response *resp)
{
    bn_error e;
    bn_error_class cls = resp->outcome == TB_HTTP_DONE ? classify(resp, &e) : BN_AMBIGUOUS;
    if (cls == BN_OK) return 0;
    if (cls == BN_AUTH) {
        startup_fail(a, TB_ECONFIG,
                     "%s: Binance refused the API key or signature (%d %s): check [exchange] "
                     "api_key and api_secret",
                     what, e.code, e.msg);
        return 1;
    }
    char why[200];
    if (resp->outcome != TB_HTTP_DONE)
        tb__errf(why, sizeof(why), "%s", resp->error);
    else
        tb__errf(why, sizeof(why), "HTTP %d %d %s", resp->status, e.code, e.msg);
    if (cls == BN_REJECTED) {
        startup_fail(a, TB_EREJECTED, "%s: %s", what, why);
        return 1;
    }
    stage_retry(a, what, why);
    return 1;
}

static int info_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    bn_sym *s = &a->syms[r->sym];
    char what[64];
    tb__errf(what, sizeof(what), "exchangeInfo of %s", s->name);
    if (stage_failed_reply(a, what, resp)) return 0;
    char err[200];
    int rc =
        bn_parse_exchange_info(resp->body, resp->body_len, s->name, &s->info, err, sizeof(err));
    if (rc == TB_ENOTFOUND) {
        startup_fail(a, TB_ECONFIG, "symbol %s: Binance does not list it (exchangeInfo)", s->name);
        return 0;
    }
    if (rc) {
        startup_fail(a, TB_EPARSE, "exchangeInfo of %s: %s", s->name, err);
        return 0;
    }
    s->loaded = 1;
    /* Binance publishes its weight limit (6000 a minute since 2023): the
     * throttle follows it, the default until then. */
    int64_t limit;
    if (bn_parse_weight_limit(resp->body, resp->body_len, &limit) == 0) a->weight_limit = limit;
    if (check_rules(a, s)) return 0;
    a->stage_i++;
    stage_run(a);
    return 0;
}

static int price_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    tb_market_data bar[2];
    size_t n = 0;
    char err[200];
    if (resp->outcome == TB_HTTP_DONE && resp->status == 200 &&
        bn_parse_klines(resp->body, resp->body_len, a->bnb_symbol, bar, 2, &n, err, sizeof(err)) ==
            0 &&
        n > 0)
        a->bnb_price = bar[n - 1].close;
    else
        bn_set_error(a, "bnb_price: no price of %s read (commissions in BNB not converted)",
                     a->bnb_symbol);
    if (r->then == BN_THEN_STARTUP) stage_next(a, BN_ST_ACCOUNT);
    return 0;
}

static void request_price(bn_adapter *a, bn_then then)
{
    bn_req *r = bn_req_new(a, "GET", "/api/v3/klines", 0, 2, BN_OP_PRICE, price_done);
    if (!r) return;
    r->then = then;
    bn_query_add(&r->q, "symbol", a->bnb_symbol);
    bn_query_add(&r->q, "interval", "1m");
    bn_query_add(&r->q, "limit", "1");
    bn_rest_enqueue(a, r, 0);
}

static int account_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    int startup = r->then == BN_THEN_STARTUP;
    if (startup && stage_failed_reply(a, "GET /api/v3/account", resp)) return 0;
    if (resp->outcome == TB_HTTP_DONE && resp->status == 200) {
        bn_balance b[BN_MAX_BALANCES];
        size_t n = 0;
        char err[200];
        if (bn_parse_account(resp->body, resp->body_len, b, BN_MAX_BALANCES, &n, err,
                             sizeof(err)) == 0 ||
            n > 0) {
            a->nbalances = 0;
            bn_on_balances(a, b, n);
        } else {
            bn_set_error(a, "account: %s", err);
        }
    }
    if (startup) stage_next(a, BN_ST_STREAM);
    return 0;
}

static void request_account(bn_adapter *a, bn_then then)
{
    bn_req *r = bn_req_new(a, "GET", "/api/v3/account", 1, 20, BN_OP_ACCOUNT, account_done);
    if (!r) return;
    r->then = then;
    bn_query_add(&r->q, "omitZeroBalances", "true");
    bn_rest_enqueue(a, r, 0);
}

void bn_refresh_account(bn_adapter *a)
{
    request_account(a, BN_THEN_NONE);
}

static int open_done(bn_adapter *a, bn_req *r, const tb_http_response *resp)
{
    if (stage_failed_reply(a, "GET /api/v3/openOrders", resp)) return 0;
    bn_order open[64];
    size_t n = 0;
    char err[200];
    if (bn_parse_orders(resp->body, resp->body_len, open, 64, &n, err, sizeof(err)) != 0 &&
        n == 0) {
        startup_fail(a, TB_EPARSE, "open orders of %s: %s", a->syms[r->sym].name, err);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const bn_order *bo = &open[i];
        bn_ord *o = ord_find(a, bo->client_order_id);
        if (!ours(a, bo->client_order_id)) {
            /* Someone else's order: reported, never canceled or looked up. */
            report_add(a, "order %s (%s %s %s, Binance id %llu) is not ours: left untouched",
                       bo->client_order_id, a->syms[r->sym].name,
                       bo->side == TB_SIDE_BUY ? "BUY" : "SELL", bo->type,
                       (unsigned long long)bo->order_id);
            if (!o && (o = ord_add(a, bo->client_order_id, r->sym)) != NULL) o->foreign = 1;
            if (o) o->terminal = 1;
            continue;
        }
        if (o) {
            o->order_id = bo->order_id; /* the journal's: the look-up tells what changed */
            continue;
        }
        /* Ours by its id but not in the journal (or no journal): followed
         * from here on, its past fills taken as known. */
        if ((o = ord_add(a, bo->client_order_id, r->sym)) == NULL) continue;
        o->order_id = bo->order_id;
        o->accepted = 1;
        o->qty = 0;
        o->cum_qty = bo->executed_qty;
        report_add(a, "open order %s of ours (%s) not in the journal: followed", o->cid,
                   a->syms[r->sym].name);
    }
    a->stage_i++;
    stage_run(a);
    return 0;
}

static void then_done(bn_adapter *a, bn_req *r, bn_ord *o, int found_missed)
{
    (void)o;
    if (r->then == BN_THEN_STARTUP) {
        if (--a->stage_pending == 0 && a->stage == BN_ST_LOOKUP) {
            a->stage_i = 1;
            stage_run(a);
        }
    } else if (r->then == BN_THEN_CHECK) {
        if (found_missed) a->check_found = 1;
        if (a->checks_pending && --a->checks_pending == 0 && a->check_found) {
            a->check_found = 0;
            bn_user_reconnect(a, "the REST check found fills the stream did not deliver");
        }
    }
}

static int positions_check(bn_adapter *a)
{
    int bad = 0;
    for (size_t i = 0; i < a->npositions; i++) {
        const tb_binance_position *p = &a->positions[i];
        int s = sym_find(a, p->symbol);
        char q[32], h[32];
        bn_format_decimal(p->quantity, q, sizeof(q));
        if (s < 0) {
            report_add(a, "position %s %s: not a symbol of this run", p->symbol, q);
            bad = 1;
            continue;
        }
        const char *base = a->syms[s].info.base;
        const bn_balance *b = balance_of(a, base);
        tb_decimal held = b ? b->free + b->locked : 0;
        bn_format_decimal(held, h, sizeof(h));
        if (p->quantity < 0 || held < p->quantity) {
            report_add(a, "position %s: the journal holds %s %s, the account %s %s", p->symbol, q,
                       base, h, base);
            bad = 1;
        }
    }
    return bad;
}

static void on_sync_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->sync_timer = 0;
    bn_rest_sync_time(a);
    if (a->bnb_symbol[0]) request_price(a, BN_THEN_NONE);
    tb_loop_timer_start(a->loop, tb_loop_now(a->loop) + a->sync_interval, on_sync_timer, a,
                        &a->sync_timer);
}

static void become_ready(bn_adapter *a)
{
    a->stage = BN_ST_READY;
    a->st.ready = 1;
    a->last_event = a->last_check = tb_loop_now(a->loop);
    bn_user_start_heartbeat(a);
    tb_loop_timer_start(a->loop, tb_loop_now(a->loop) + a->sync_interval, on_sync_timer, a,
                        &a->sync_timer);
    /* What the stream said during start-up, now that the REST state is in:
     * duplicates of what reconciliation told are dropped by trade id. */
    for (size_t i = 0; i < a->nbuffer; i++)
        on_exec_now(a, &a->buffer[i]);
    a->nbuffer = 0;
    a->ready_rc = 0;
    call_ready(a);
    /* Calls held until now, in their order. Their results come later. */
    for (size_t i = 0; i < a->nheld; i++) {
        bn_held h = a->held[i];
        int rc = h.op == TB_XOP_SUBMIT   ? do_submit(a, &h.req, 1)
                 : h.op == TB_XOP_CANCEL ? do_cancel(a, h.cid, 1)
                                         : do_query(a, h.cid, 1);
        if (rc != TB_EINPROGRESS && rc != 0 && rc != TB_ENOTFOUND)
            deliver(a, h.op, h.cid, rc, TB_XF_NONE, 0, NULL, NULL);
    }
    a->nheld = 0;
    if (a->cancel_all_wanted) cancel_all_start(a);
}

static void stage_run(bn_adapter *a)
{
    bn_req *r;
    switch (a->stage) {
    case BN_ST_TIME:
        bn_rest_sync_time_startup(a);
        return;
    case BN_ST_INFO:
        if (a->stage_i >= a->nsyms) {
            stage_next(a, a->bnb_symbol[0] ? BN_ST_PRICE : BN_ST_ACCOUNT);
            return;
        }
        if (!(r = bn_req_new(a, "GET", "/api/v3/exchangeInfo", 0, 20, BN_OP_INFO, info_done)))
            return startup_fail(a, TB_ENOMEM, "start-up: no memory");
        r->sym = (int)a->stage_i;
        bn_query_add(&r->q, "symbol", a->syms[a->stage_i].name);
        bn_rest_enqueue(a, r, 0);
        return;
    case BN_ST_PRICE:
        request_price(a, BN_THEN_STARTUP);
        return;
    case BN_ST_ACCOUNT:
        request_account(a, BN_THEN_STARTUP);
        return;
    case BN_ST_STREAM:
        if (!a->ws && bn_user_open(a) != 0) bn_user_reconnect(a, "cannot open the connection");
        return; /* bn_on_subscribed goes on */
    case BN_ST_OPEN:
        if (a->stage_i >= a->nsyms) {
            stage_next(a, BN_ST_LOOKUP);
            return;
        }
        if (!(r = bn_req_new(a, "GET", "/api/v3/openOrders", 1, 6, BN_OP_OPEN_ORDERS, open_done)))
            return startup_fail(a, TB_ENOMEM, "start-up: no memory");
        r->sym = (int)a->stage_i;
        bn_query_add(&r->q, "symbol", a->syms[a->stage_i].name);
        bn_rest_enqueue(a, r, 0);
        return;
    case BN_ST_LOOKUP:
        if (a->stage_i == 0) {
            /* Every order the journal holds as not terminal, read back. */
            a->stage_pending = 1;
            for (size_t i = 0; i < a->nords; i++) {
                bn_ord *o = &a->ords[i];
                if (o->foreign || o->terminal || !o->from_journal) continue;
                a->stage_pending++;
                sync_order(a, o, BN_THEN_STARTUP);
            }
            if (--a->stage_pending > 0) return;
            a->stage_i = 1;
        }
        if (positions_check(a) && !a->adopt_positions) {
            startup_fail(a, TB_ESTATE,
                         "balances disagree with the journal's positions (see above): "
                         "--adopt-positions takes the account's");
            return;
        }
        become_ready(a);
        return;
    default:
        return;
    }
}

void bn_on_subscribed(bn_adapter *a, int again)
{
    if (a->stage == BN_ST_STREAM) {
        stage_next(a, BN_ST_OPEN);
        return;
    }
    /* The stream replays nothing: what happened while it was down is read
     * back over REST. */
    if (again) bn_sync_open_orders(a, BN_THEN_NONE);
}

void bn_on_stream_refused(bn_adapter *a, const bn_error *e)
{
    if (a->stage != BN_ST_READY && a->stage != BN_ST_FAILED) {
        startup_fail(a, TB_ECONFIG,
                     "user data stream: Binance refused the API key or signature (%d %s): "
                     "check [exchange] api_key and api_secret",
                     e->code, e->msg);
        return;
    }
    bn_set_error(a, "user data stream refused: %d %s", e->code, e->msg);
    bn_user_reconnect(a, "subscription refused");
}

static void on_ready_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->ready_timer = 0;
    size_t n = a->nready;
    a->nready = 0;
    for (size_t i = 0; i < n; i++)
        a->ready_fn[i](a->ready_ctx[i], a->ready_rc, a->report);
}

/* ---- the port's account and the rest of the vtable ---------------------------- */

static int bn_cash(tb_exchange *ex, tb_decimal *out)
{
    bn_adapter *a = (bn_adapter *)ex;
    if (a->stage != BN_ST_READY) return TB_EIO;
    const bn_balance *b = balance_of(a, a->quote[0] ? a->quote : a->syms[0].info.quote);
    *out = b ? b->free + b->locked : 0;
    return 0;
}

static int bn_equity(tb_exchange *ex, tb_decimal *out)
{
    bn_adapter *a = (bn_adapter *)ex;
    tb_decimal cash;
    int rc = bn_cash(ex, &cash);
    if (rc) return rc;
    for (size_t i = 0; i < a->nsyms; i++) {
        const bn_sym *s = &a->syms[i];
        const bn_balance *b = balance_of(a, s->info.base);
        if (!b || !s->last_price || strcmp(s->info.quote, a->quote) != 0) continue;
        /* A base asset shared by two symbols counts once. */
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(a->syms[j].info.base, s->info.base) == 0;
        tb_decimal v;
        if (dup || tb_dec_mul(b->free + b->locked, s->last_price, TB_ROUND_HALF_UP, &v) != 0)
            continue;
        cash += v;
    }
    *out = cash;
    return 0;
}

static int bn_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    bn_adapter *a = (bn_adapter *)ex;
    int s = sym_find(a, bar->symbol);
    if (s >= 0) a->syms[s].last_price = bar->close; /* equity and MARKET notional checks */
    if (a->bnb_symbol[0] && strcmp(bar->symbol, a->bnb_symbol) == 0) a->bnb_price = bar->close;
    return 0;
}

static void bn_destroy(tb_exchange *ex)
{
    bn_adapter *a = (bn_adapter *)ex;
    if (!a) return;
    tb_timer_id *timers[] = {&a->pump_timer,      &a->sync_timer,  &a->hb_timer,
                             &a->reconnect_timer, &a->stage_timer, &a->ready_timer};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
        if (*timers[i]) tb_loop_timer_stop(a->loop, *timers[i]);
    tb_http_destroy(a->http);
    if (a->ws) tb_ws_close(a->ws);
    tb_wsc_destroy(a->wsc);
    bn_rest_free(a);
    free(a->ords);
    free(a->trades);
    free(a->buffer);
    free(a->held);
    free(a->strategies);
    free(a->known);
    free(a->positions);
    tb_secret_wipe(&a->key);
    tb_secret_wipe(&a->secret);
    memset(a->key_header, 0, sizeof(a->key_header));
    free(a);
}

static const tb_exchange_vtable bn_vtable = {
    .name = "binance",
    .submit = bn_submit,
    .cancel = bn_cancel,
    .query = bn_query_op,
    .on_market_data = bn_on_market_data,
    .destroy = bn_destroy,
    .cash = bn_cash,
    .equity = bn_equity,
};

/* ---- creation ----------------------------------------------------------------------- */

static int add_symbol(bn_adapter *a, const char *name, const tb_symbol_rules *rules)
{
    int s = sym_find(a, name);
    if (s >= 0) {
        if (rules) a->syms[s].cfg = rules;
        return 0;
    }
    if (a->nsyms == BN_MAX_SYMBOLS) return TB_EFULL;
    bn_sym *y = &a->syms[a->nsyms++];
    memset(y, 0, sizeof(*y));
    tb__errf(y->name, sizeof(y->name), "%s", name);
    y->cfg = rules;
    return 0;
}

static void on_start(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->stage_timer = 0;
    stage_run(a);
}

static int param_ll(const tb_config *cfg, const char *key, long long *out)
{
    return tb_exchange_param_int(cfg, key, out) == 0 ? 0 : TB_ECONFIG;
}

int tb__bn_live_create(const tb_config *cfg, tb_loop *loop, int testnet, const char *rest_url,
                       const char *ws_url, tb_exchange **out, char *err, size_t errlen)
{
    *out = NULL;
    bn_adapter *a = calloc(1, sizeof(*a));
    if (!a) return TB_ENOMEM;
    a->base.vt = &bn_vtable;
    a->loop = loop;
    a->testnet = testnet;
    a->used_weight = -1;
    a->weight_limit = 6000;
    a->st.used_weight_1m = -1;
    a->rng = (uint64_t)tb_loop_now(loop) | 1;
    tb__errf(a->rest_url, sizeof(a->rest_url), "%s", rest_url);
    tb__errf(a->ws_url, sizeof(a->ws_url), "%s", ws_url);
    size_t n = strlen(a->rest_url);
    while (n && a->rest_url[n - 1] == '/')
        a->rest_url[--n] = 0;
    int rc = TB_ECONFIG;
    long long rw, to, si, ss, gr;
    if (param_ll(cfg, "recv_window_ms", &rw) || param_ll(cfg, "request_timeout_ms", &to) ||
        param_ll(cfg, "time_sync_interval_s", &si) || param_ll(cfg, "stream_silence_s", &ss) ||
        param_ll(cfg, "in_doubt_grace_ms", &gr)) {
        tb__errf(err, errlen, "bad settings");
        goto fail;
    }
    a->recv_window_ms = rw;
    a->timeout_ms = to;
    a->sync_interval = si * 1000 * MS;
    a->silence = ss * 1000 * MS;
    a->grace = gr * MS;
    const char *bnb = tb_exchange_param(cfg, "bnb_price");
    if (bnb && strcasecmp(bnb, "none") != 0 && tb_dec_parse(bnb, (size_t)-1, &a->bnb_price) != 0)
        tb__errf(a->bnb_symbol, sizeof(a->bnb_symbol), "%s", bnb);
    char why[256];
    if (!cfg->api_key_spec || !cfg->api_secret_spec) {
        tb__errf(err, errlen, "api_key and api_secret are needed (env:NAME or file:PATH)");
        goto fail;
    }
    if ((rc = tb_secret_load(&a->key, cfg->api_key_spec, why, sizeof(why))) != 0) {
        tb__errf(err, errlen, "api_key: %s", why);
        goto fail;
    }
    if ((rc = tb_secret_load(&a->secret, cfg->api_secret_spec, why, sizeof(why))) != 0) {
        tb__errf(err, errlen, "api_secret: %s", why);
        goto fail;
    }
    tb__errf(a->key_header, sizeof(a->key_header), "X-MBX-APIKEY: %s", a->key.value);
    /* The symbols: the config's [symbol.SYM] and every strategy's. */
    for (size_t i = 0; i < cfg->nsymbols; i++)
        if ((rc = add_symbol(a, cfg->symbols[i].symbol, &cfg->symbols[i])) != 0) goto too_many;
    for (size_t i = 0; i < cfg->nstrategies; i++)
        for (size_t m = 0; m < cfg->strategies[i].nsymbols; m++)
            if ((rc = add_symbol(a, cfg->strategies[i].symbols[m], NULL)) != 0) goto too_many;
    if (a->nsyms == 0) {
        rc = TB_ECONFIG;
        tb__errf(err, errlen, "no symbol to trade: declare a [symbol.SYM] or a strategy");
        goto fail;
    }
    if (cfg->nstrategies) {
        a->strategies = calloc(cfg->nstrategies, sizeof(*a->strategies));
        if (!a->strategies) {
            rc = TB_ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < cfg->nstrategies; i++)
            tb__errf(a->strategies[i], sizeof(a->strategies[i]), "%s", cfg->strategies[i].id);
        a->nstrategies = cfg->nstrategies;
    }
    if ((rc = tb_http_create(loop, &a->http)) != 0) {
        tb__errf(err, errlen, "cannot set up HTTP: %s", tb_strerror(rc));
        goto fail;
    }
    /* The sequence starts from the loop, so the runner can hand over the
     * journal's state (tb_binance_set_resume) first. */
    a->stage = BN_ST_TIME;
    if ((rc = tb_loop_timer_start(loop, tb_loop_now(loop), on_start, a, &a->stage_timer)) != 0)
        goto fail;
    *out = &a->base;
    return 0;
too_many:
    tb__errf(err, errlen, "more than %d symbols", BN_MAX_SYMBOLS);
fail:
    bn_destroy(&a->base);
    return rc;
}

/* ---- binance.h ----------------------------------------------------------------------- */

int bn_adapter_set_probe(tb_exchange *ex, bn_probe_fn fn, void *ctx)
{
    if (!tb_binance_is(ex)) return TB_EINVAL;
    bn_adapter *a = (bn_adapter *)ex;
    a->probe = fn;
    a->probe_ctx = ctx;
    return 0;
}

int tb_binance_is(const tb_exchange *ex)
{
    return ex && ex->vt == &bn_vtable;
}

int tb_binance_status_get(const tb_exchange *ex, tb_binance_status *out)
{
    if (!tb_binance_is(ex) || !out) return TB_EINVAL;
    const bn_adapter *a = (const bn_adapter *)ex;
    *out = a->st;
    out->halted = a->halted;
    out->blocked_until = a->blocked_until;
    out->open_orders = bn_open_count(a);
    out->ready = a->stage == BN_ST_READY;
    return 0;
}

int tb_binance_holdings(const tb_exchange *ex, const char *symbol, tb_decimal *out)
{
    if (!tb_binance_is(ex) || !symbol || !out) return TB_EINVAL;
    const bn_adapter *a = (const bn_adapter *)ex;
    *out = 0;
    int s = sym_find(a, symbol);
    if (s < 0) return TB_ENOTFOUND;
    const bn_balance *b = balance_of(a, a->syms[s].info.base);
    if (!b) return TB_ENOTFOUND;
    *out = b->free + b->locked;
    return 0;
}

int tb_binance_on_request(tb_exchange *ex, tb_binance_request_fn fn, void *ctx)
{
    if (!tb_binance_is(ex)) return TB_EINVAL;
    bn_adapter *a = (bn_adapter *)ex;
    a->request_fn = fn;
    a->request_ctx = fn ? ctx : NULL;
    return 0;
}

int tb_binance_on_ready(tb_exchange *ex, tb_binance_ready_fn fn, void *ctx)
{
    if (!tb_binance_is(ex) || !fn) return TB_EINVAL;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->nready == sizeof(a->ready_fn) / sizeof(a->ready_fn[0])) return TB_EFULL;
    a->ready_fn[a->nready] = fn;
    a->ready_ctx[a->nready++] = ctx;
    if (a->stage == BN_ST_READY || a->stage == BN_ST_FAILED) call_ready(a);
    return 0;
}

int tb_binance_cancel_all(tb_exchange *ex, tb_binance_done_fn fn, void *ctx)
{
    if (!tb_binance_is(ex)) return TB_EINVAL;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->cancel_all_fn || a->cancel_all_wanted) return TB_ESTATE;
    a->cancel_all_fn = fn;
    a->cancel_all_ctx = ctx;
    a->cancel_all_wanted = 1;
    if (a->stage == BN_ST_READY) {
        cancel_all_start(a);
    } else if (a->stage == BN_ST_FAILED) {
        a->cancel_all_rc = a->ready_rc;
        a->cancel_all_n = 0;
        cancel_all_end(a);
    }
    return 0;
}

int tb_binance_set_resume(tb_exchange *ex, const tb_binance_resume *resume)
{
    if (!tb_binance_is(ex) || !resume) return TB_EINVAL;
    bn_adapter *a = (bn_adapter *)ex;
    if (a->stage != BN_ST_TIME || a->stage_timer == 0) return TB_ESTATE;
    for (size_t i = 0; i < resume->norders; i++) {
        const tb_binance_known_order *k = &resume->orders[i];
        int s = sym_find(a, k->symbol);
        if (s < 0) continue;
        bn_ord *o = ord_add(a, k->client_order_id, s);
        if (!o) return TB_ENOMEM;
        /* Until its look-up: the trades up to filled_quantity are the
         * journal's already and are not told again. */
        o->from_journal = 1;
        o->journal_filled = k->filled_quantity;
        o->qty = k->quantity;
        o->cum_qty = k->filled_quantity;
        o->accepted = 1;
    }
    if (resume->npositions) {
        tb_binance_position *p = malloc(resume->npositions * sizeof(*p));
        if (!p) return TB_ENOMEM;
        memcpy(p, resume->positions, resume->npositions * sizeof(*p));
        free(a->positions);
        a->positions = p;
        a->npositions = resume->npositions;
    }
    a->adopt_positions = resume->adopt_positions;
    return 0;
}
