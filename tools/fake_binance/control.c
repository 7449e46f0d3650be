/* The control interface: /_ctl/..., JSON in and out, no signature. Not
 * Binance's: what a test uses to script the fake (docs/fake-binance.md).
 * Control requests are not in the request log and carry no weight. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"

static void ctl_error(fb_reply *rp, int status, const char *fmt, ...) FB_PRINTF(3, 4);
static void ctl_error(fb_reply *rp, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(rp->body);
    rp->status = status;
    rp->body = json_pack("{s:s}", "error", msg);
}

static void ctl_ok(fb_reply *rp, json_t *body)
{
    json_decref(rp->body);
    rp->status = 200;
    rp->body = body ? body : json_object();
}

/* A decimal given as a JSON string or number; a leading '-' is accepted
 * when signed_ok. 1 present, 0 absent, -1 malformed (error in rp). */
static int jdec(json_t *o, const char *key, fb_dec *out, int signed_ok, fb_reply *rp)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    char buf[64];
    const char *s;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = buf;
    } else if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.8f", json_real_value(v));
        s = buf;
    } else {
        ctl_error(rp, 400, "'%s' must be a decimal", key);
        return -1;
    }
    int neg = signed_ok && s[0] == '-';
    if (fb_dec_parse(s + neg, out) != FB_DEC_OK) {
        ctl_error(rp, 400, "'%s' is not a decimal with at most 8 places: '%s'", key, s);
        return -1;
    }
    if (neg) *out = -*out;
    return 1;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int jbool(json_t *o, const char *key, int dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int64_t jint(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return dflt;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static fb_order *find_order(fb_srv *srv, json_t *in, fb_reply *rp)
{
    const char *sym = jstr(in, "symbol");
    fb_order *o = NULL;
    if (json_object_get(in, "orderId"))
        o = fb_ex_order_by_id(&srv->ex, sym, jint(in, "orderId", 0));
    else if (jstr(in, "clientOrderId"))
        o = fb_ex_order_by_client(&srv->ex, sym, jstr(in, "clientOrderId"));
    else
        return ctl_error(rp, 400, "give orderId or clientOrderId"), NULL;
    if (!o) ctl_error(rp, 404, "no such order");
    return o;
}

static void c_symbol(fb_srv *srv, json_t *in, fb_reply *rp)
{
    const char *name = jstr(in, "symbol");
    if (!name || !*name) return ctl_error(rp, 400, "'symbol' is required");
    int is_new = !fb_ex_symbol(&srv->ex, name);
    if (is_new && (!jstr(in, "base") || !jstr(in, "quote")))
        return ctl_error(rp, 400, "a new symbol needs 'base' and 'quote'");
    fb_symbol tmp = is_new ? (fb_symbol){0} : *fb_ex_symbol(&srv->ex, name);
    static const struct {
        const char *key;
        size_t off;
    } decs[] = {
        {"minPrice", offsetof(fb_symbol, min_price)},
        {"maxPrice", offsetof(fb_symbol, max_price)},
        {"tickSize", offsetof(fb_symbol, tick)},
        {"minQty", offsetof(fb_symbol, min_qty)},
        {"maxQty", offsetof(fb_symbol, max_qty)},
        {"stepSize", offsetof(fb_symbol, step)},
        {"marketMinQty", offsetof(fb_symbol, mkt_min_qty)},
        {"marketMaxQty", offsetof(fb_symbol, mkt_max_qty)},
        {"marketStepSize", offsetof(fb_symbol, mkt_step)},
        {"minNotional", offsetof(fb_symbol, min_notional)},
        {"maxNotional", offsetof(fb_symbol, max_notional)},
        {"lastPrice", offsetof(fb_symbol, last_price)},
    };
    /* Validate everything before changing anything. */
    for (size_t i = 0; i < sizeof decs / sizeof decs[0]; i++)
        if (jdec(in, decs[i].key, (fb_dec *)((char *)&tmp + decs[i].off), 0, rp) < 0) return;
    fb_symbol *s = fb_ex_symbol_add(&srv->ex, name);
    fb_level *bids = s->bids, *asks = s->asks;
    size_t nb = s->nbids, na = s->nasks;
    if (is_new) {
        copy(tmp.name, sizeof tmp.name, name);
        copy(tmp.status, sizeof tmp.status, "TRADING");
        tmp.avg_price_mins = 5;
        tmp.apply_min_to_market = 1;
    }
    *s = tmp;
    s->bids = bids, s->asks = asks, s->nbids = nb, s->nasks = na;
    if (jstr(in, "base")) copy(s->base, sizeof s->base, jstr(in, "base"));
    if (jstr(in, "quote")) copy(s->quote, sizeof s->quote, jstr(in, "quote"));
    if (jstr(in, "status")) copy(s->status, sizeof s->status, jstr(in, "status"));
    s->apply_min_to_market = jbool(in, "applyMinToMarket", s->apply_min_to_market);
    s->apply_max_to_market = jbool(in, "applyMaxToMarket", s->apply_max_to_market);
    s->legacy_min_notional = jbool(in, "legacyMinNotional", s->legacy_min_notional);
    s->avg_price_mins = (int)jint(in, "avgPriceMins", s->avg_price_mins);
    ctl_ok(rp, fb_symbol_json(s));
}

static json_t *balances_json(fb_ex *ex)
{
    json_t *o = json_object();
    for (size_t i = 0; i < ex->nbalances; i++)
        json_object_set_new(o, ex->balances[i].asset,
                            json_pack("{s:o,s:o}", "free", fb_dec_json(ex->balances[i].free),
                                      "locked", fb_dec_json(ex->balances[i].locked)));
    return o;
}

static void c_balances(fb_srv *srv, json_t *in, fb_reply *rp)
{
    json_t *b = json_object_get(in, "balances");
    if (!json_is_object(b)) return ctl_error(rp, 400, "'balances' must be an object");
    const char *asset;
    json_t *v;
    json_object_foreach(b, asset, v)
    {
        fb_dec f = 0, l = 0;
        json_t *w = json_is_object(v) ? v : json_pack("{s:O}", "free", v);
        int bad = jdec(w, "free", &f, 1, rp) < 0 || jdec(w, "locked", &l, 1, rp) < 0;
        if (w != v) json_decref(w);
        if (bad) return;
    }
    if (jbool(in, "replace", 0)) srv->ex.nbalances = 0;
    json_object_foreach(b, asset, v)
    {
        fb_dec f = 0, l = 0;
        json_t *w = json_is_object(v) ? v : json_pack("{s:O}", "free", v);
        jdec(w, "free", &f, 1, rp);
        jdec(w, "locked", &l, 1, rp);
        if (w != v) json_decref(w);
        fb_ex_set_balance(&srv->ex, asset, f, l);
    }
    ctl_ok(rp, balances_json(&srv->ex));
}

static void c_deposit(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_dec d;
    const char *asset = jstr(in, "asset");
    if (!asset) return ctl_error(rp, 400, "'asset' is required");
    int r = jdec(in, "delta", &d, 1, rp);
    if (r < 0) return;
    if (!r) return ctl_error(rp, 400, "'delta' is required");
    fb_ex_balance_delta(&srv->ex, asset, d);
    ctl_ok(rp, balances_json(&srv->ex));
}

static int levels(json_t *arr, fb_level **out, size_t *n, fb_reply *rp)
{
    if (!json_is_array(arr)) return ctl_error(rp, 400, "book sides are [[price, qty], ...]"), -1;
    *n = json_array_size(arr);
    *out = fb_xrealloc(NULL, (*n ? *n : 1) * sizeof **out);
    size_t i;
    json_t *lv;
    json_array_foreach(arr, i, lv)
    {
        json_t *pq =
            json_pack("{s:O?,s:O?}", "p", json_array_get(lv, 0), "q", json_array_get(lv, 1));
        int bad = jdec(pq, "p", &(*out)[i].price, 0, rp) <= 0 ||
                  jdec(pq, "q", &(*out)[i].qty, 0, rp) <= 0;
        json_decref(pq);
        if (bad) {
            free(*out);
            if (rp->status != 400) ctl_error(rp, 400, "book level %zu is not [price, qty]", i);
            return -1;
        }
    }
    return 0;
}

static void c_book(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_symbol *s = fb_ex_symbol(&srv->ex, jstr(in, "symbol"));
    if (!s) return ctl_error(rp, 404, "unknown symbol");
    fb_level *bids = NULL, *asks = NULL;
    size_t nb = 0, na = 0;
    fb_dec last = 0;
    int hl = jdec(in, "lastPrice", &last, 0, rp);
    if (hl < 0) return;
    if (json_object_get(in, "bids") && levels(json_object_get(in, "bids"), &bids, &nb, rp)) return;
    if (json_object_get(in, "asks") && levels(json_object_get(in, "asks"), &asks, &na, rp)) {
        free(bids);
        return;
    }
    if (json_object_get(in, "bids")) fb_symbol_set_book(s, FB_BUY, bids, nb);
    if (json_object_get(in, "asks")) fb_symbol_set_book(s, FB_SELL, asks, na);
    if (hl) s->last_price = last;
    free(bids);
    free(asks);
    ctl_ok(rp, NULL);
}

static int kline_from(json_t *in, const char *interval, fb_kline *k, fb_reply *rp)
{
    memset(k, 0, sizeof *k);
    if (!json_object_get(in, "t")) return ctl_error(rp, 400, "'t' (open time, ms) is required"), -1;
    k->open_time = jint(in, "t", 0);
    k->close_time = jint(in, "T", fb_kline_close_time(interval, k->open_time));
    static const struct {
        const char *key;
        size_t off;
        int required;
    } f[] = {
        {"o", offsetof(fb_kline, o), 1},  {"h", offsetof(fb_kline, h), 1},
        {"l", offsetof(fb_kline, l), 1},  {"c", offsetof(fb_kline, c), 1},
        {"v", offsetof(fb_kline, v), 0},  {"q", offsetof(fb_kline, q), 0},
        {"V", offsetof(fb_kline, tv), 0}, {"Q", offsetof(fb_kline, tq), 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char *dst = (char *)k + f[i].off;
        json_t *v = json_object_get(in, f[i].key);
        fb_dec d;
        if (!v) {
            if (f[i].required) return ctl_error(rp, 400, "'%s' is required", f[i].key), -1;
            copy(dst, 32, "0");
            continue;
        }
        /* Kept as given: the stream and REST repeat a kline's text exactly. */
        if (json_is_string(v)) {
            if (fb_dec_parse(json_string_value(v), &d) != FB_DEC_OK)
                return ctl_error(rp, 400, "'%s' is not a decimal", f[i].key), -1;
            copy(dst, 32, json_string_value(v));
        } else if (jdec(in, f[i].key, &d, 0, rp) > 0) {
            char b[32];
            copy(dst, 32, fb_dec_fmt(d, b));
        } else {
            return -1;
        }
    }
    k->trades = jint(in, "n", 0);
    k->first_trade = jint(in, "f", -1);
    k->last_trade = jint(in, "L", -1);
    k->closed = jbool(in, "x", 1);
    return 0;
}

static void c_kline(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_symbol *s = fb_ex_symbol(&srv->ex, jstr(in, "symbol"));
    const char *iv = jstr(in, "interval");
    if (!s) return ctl_error(rp, 404, "unknown symbol");
    if (!fb_interval_valid(iv)) return ctl_error(rp, 400, "bad interval");
    fb_kline k;
    if (kline_from(in, iv, &k, rp)) return;
    fb_kseries *ks = fb_ex_series(&srv->ex, s->name, iv, 1);
    /* Like Binance's REST, the history also shows the kline still open. */
    if (jbool(in, "store", 1)) fb_kseries_put(ks, &k);
    json_t *ev = fb_kline_event(ks, &k, fb_srv_now(srv));
    char stream[64];
    snprintf(stream, sizeof stream, "%s@kline_%s", s->name, iv);
    for (char *p = stream; *p && *p != '@'; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    fb_glue_market_event(srv, stream, ev);
    ctl_ok(rp, json_pack("{s:s,s:O}", "stream", stream, "event", ev));
    json_decref(ev);
}

static void c_klines(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_symbol *s = fb_ex_symbol(&srv->ex, jstr(in, "symbol"));
    const char *iv = jstr(in, "interval");
    json_t *rows = json_object_get(in, "klines");
    if (!s) return ctl_error(rp, 404, "unknown symbol");
    if (!fb_interval_valid(iv)) return ctl_error(rp, 400, "bad interval");
    if (!json_is_array(rows)) return ctl_error(rp, 400, "'klines' must be an array of rows");
    fb_kseries *ks = fb_ex_series(&srv->ex, s->name, iv, 1);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        /* The REST row: [t, o, h, l, c, v, T, q, n, V, Q, ignore]. */
        json_t *in2 = json_pack(
            "{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "t", json_array_get(r, 0),
            "o", json_array_get(r, 1), "h", json_array_get(r, 2), "l", json_array_get(r, 3), "c",
            json_array_get(r, 4), "v", json_array_get(r, 5), "T", json_array_get(r, 6), "q",
            json_array_get(r, 7), "n", json_array_get(r, 8), "V", json_array_get(r, 9), "Q",
            json_array_get(r, 10));
        fb_kline k;
        int bad = !json_is_array(r) || kline_from(in2, iv, &k, rp);
        json_decref(in2);
        if (bad) {
            if (rp->status != 400) ctl_error(rp, 400, "row %zu is not a kline", i);
            return;
        }
        fb_kseries_put(ks, &k);
    }
    ctl_ok(rp, json_pack("{s:I}", "stored", (json_int_t)ks->n));
}

static void c_fill(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_order *o = find_order(srv, in, rp);
    if (!o) return;
    fb_dec qty = 0, price = 0, comm = -1;
    if (jdec(in, "qty", &qty, 0, rp) < 0 || jdec(in, "price", &price, 0, rp) < 0 ||
        jdec(in, "commission", &comm, 0, rp) < 0)
        return;
    fb_error err;
    fb_trade *t;
    if (fb_ex_fill(&srv->ex, o, qty, price, jbool(in, "maker", 1), comm,
                   jstr(in, "commissionAsset"), jbool(in, "duplicate", 0), &t, &err))
        return ctl_error(rp, 409, "%s", err.msg);
    ctl_ok(rp, json_pack("{s:o,s:o}", "trade", fb_trade_json(t), "order",
                         fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0)));
}

static void c_cancel(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_order *o = find_order(srv, in, rp);
    if (!o) return;
    fb_error err;
    char id[40];
    if (fb_ex_cancel(&srv->ex, o, jstr(in, "cancelClientOrderId"), id, sizeof id, &err))
        return ctl_error(rp, 409, "%s", err.msg);
    ctl_ok(rp, fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0));
}

static void c_expire(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_order *o = find_order(srv, in, rp);
    if (!o) return;
    fb_error err;
    if (fb_ex_expire(&srv->ex, o, jstr(in, "reason"), &err))
        return ctl_error(rp, 409, "%s", err.msg);
    ctl_ok(rp, fb_order_json(&srv->ex, o, FB_ORDER_QUERY, 0));
}

static void c_order(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_order_req o = {
        .symbol = jstr(in, "symbol"),
        .side = jstr(in, "side"),
        .type = jstr(in, "type"),
        .time_in_force = jstr(in, "timeInForce"),
        .quantity = jstr(in, "quantity"),
        .quote_order_qty = jstr(in, "quoteOrderQty"),
        .price = jstr(in, "price"),
        .stop_price = jstr(in, "stopPrice"),
        .trailing_delta = jstr(in, "trailingDelta"),
        .iceberg_qty = jstr(in, "icebergQty"),
        .new_client_order_id = jstr(in, "newClientOrderId"),
    };
    fb_error err;
    fb_order *ord;
    size_t first;
    /* A refusal is answered as Binance would answer it, not as a control error. */
    if (fb_ex_place(&srv->ex, &o, &ord, &first, &err)) {
        ctl_ok(rp, json_pack("{s:i,s:s}", "code", err.code, "msg", err.msg));
        rp->status = err.status;
        return;
    }
    ctl_ok(rp, fb_order_json(&srv->ex, ord, FB_ORDER_FULL, first));
}

static json_t *fault_json(const fb_fault *f)
{
    return json_pack("{s:s,s:s,s:i,s:s,s:s,s:i,s:s?,s:i,s:s,s:i,s:I}", "method", f->method, "path",
                     f->path, "count", f->count, "action", f->action, "when",
                     f->after ? "after" : "before", "status", f->status, "body", f->body, "code",
                     f->code, "msg", f->msg, "retry_after", f->retry_after, "ms",
                     (json_int_t)f->ms);
}

static void c_fault(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_fault f;
    memset(&f, 0, sizeof f);
    const char *action = jstr(in, "action");
    if (!action || (strcmp(action, "status") && strcmp(action, "error") && strcmp(action, "hang") &&
                    strcmp(action, "close")))
        return ctl_error(rp, 400, "'action' is one of status, error, hang, close");
    const char *when = jstr(in, "when");
    if (when && strcmp(when, "before") && strcmp(when, "after"))
        return ctl_error(rp, 400, "'when' is before or after");
    copy(f.method, sizeof f.method, jstr(in, "method") ? jstr(in, "method") : "*");
    copy(f.path, sizeof f.path, jstr(in, "path") ? jstr(in, "path") : "*");
    copy(f.action, sizeof f.action, action);
    f.after = when && !strcmp(when, "after");
    f.count = (int)jint(in, "count", 1);
    f.status = (int)jint(in, "status", 0);
    f.code = (int)jint(in, "code", 0);
    copy(f.msg, sizeof f.msg, jstr(in, "msg"));
    f.retry_after = (int)jint(in, "retry_after", -1);
    f.ms = jint(in, "ms", 0);
    json_t *body = json_object_get(in, "body");
    if (json_is_string(body))
        f.body = fb_xstrdup(json_string_value(body));
    else if (body)
        f.body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!strcmp(action, "status") && !f.status) f.status = 503;
    if (!strcmp(action, "hang") && f.ms <= 0) {
        free(f.body);
        return ctl_error(rp, 400, "a hang needs 'ms' > 0");
    }
    srv->faults = fb_xrealloc(srv->faults, (srv->nfaults + 1) * sizeof *srv->faults);
    srv->faults[srv->nfaults++] = f;
    ctl_ok(rp, fault_json(&f));
}

static void c_faults_get(fb_srv *srv, fb_reply *rp)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < srv->nfaults; i++)
        json_array_append_new(arr, fault_json(&srv->faults[i]));
    ctl_ok(rp, json_pack("{s:o}", "faults", arr));
}

static void c_faults_clear(fb_srv *srv, fb_reply *rp)
{
    for (size_t i = 0; i < srv->nfaults; i++)
        free(srv->faults[i].body);
    srv->nfaults = 0;
    ctl_ok(rp, NULL);
}

static void c_clock(fb_srv *srv, json_t *in, fb_reply *rp)
{
    if (json_object_get(in, "offset_ms")) srv->clock_offset_ms = jint(in, "offset_ms", 0);
    ctl_ok(rp, json_pack("{s:I,s:I}", "offset_ms", (json_int_t)srv->clock_offset_ms, "serverTime",
                         (json_int_t)fb_srv_now(srv)));
}

static void c_connections(fb_srv *srv, json_t *in, int kind, fb_reply *rp)
{
    const char *action = jstr(in, "action");
    int n = -1;
    if (action) {
        if (strcmp(action, "close") && strcmp(action, "drop") && strcmp(action, "silent") &&
            strcmp(action, "normal"))
            return ctl_error(rp, 400, "'action' is one of close, drop, silent, normal");
        n = fb_glue_connections(srv, kind, action);
    }
    if (kind == 1) {
        if (json_object_get(in, "duplicate_next"))
            srv->dup_next = (int)jint(in, "duplicate_next", 0);
        srv->events_first = jbool(in, "events_first", srv->events_first);
        srv->events_first_delay_ms =
            (int)jint(in, "events_first_delay_ms", srv->events_first_delay_ms);
    }
    ctl_ok(rp, json_pack("{s:i,s:i,s:b,s:i}", "affected", n, "duplicate_next", srv->dup_next,
                         "events_first", srv->events_first, "events_first_delay_ms",
                         srv->events_first_delay_ms));
}

static void c_requests(fb_srv *srv, const fb_params *q, fb_reply *rp)
{
    const char *since = fb_params_get(q, "since");
    const char *path = fb_params_get(q, "path");
    const char *method = fb_params_get(q, "method");
    int64_t from = since ? strtoll(since, NULL, 10) : 0;
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(srv->log, i, e)
    {
        if (json_integer_value(json_object_get(e, "seq")) <= from) continue;
        if (path && strcmp(path, jstr(e, "path"))) continue;
        if (method && strcmp(method, jstr(e, "method"))) continue;
        json_array_append(arr, e);
    }
    ctl_ok(rp, json_pack("{s:o,s:I}", "requests", arr, "last_seq", (json_int_t)srv->log_seq));
}

static json_t *limits_json(fb_srv *srv)
{
    int64_t wall = fb_wall_ms();
    return json_pack("{s:i,s:i,s:i,s:i,s:I,s:I,s:i}", "weight_limit", srv->weight_limit,
                     "ban_after", srv->ban_after, "ban_seconds", srv->ban_seconds, "weight_used",
                     wall / 60000 == srv->weight_minute ? srv->weight_used : 0, "backoff_ms_left",
                     (json_int_t)(srv->backoff_until > wall ? srv->backoff_until - wall : 0),
                     "ban_ms_left",
                     (json_int_t)(srv->banned_until > wall ? srv->banned_until - wall : 0),
                     "violations", srv->violations);
}

static void c_limits(fb_srv *srv, json_t *in, fb_reply *rp)
{
    srv->weight_limit = (int)jint(in, "weight_limit", srv->weight_limit);
    srv->ban_after = (int)jint(in, "ban_after", srv->ban_after);
    srv->ban_seconds = (int)jint(in, "ban_seconds", srv->ban_seconds);
    if (jbool(in, "clear", 0)) {
        srv->weight_used = 0;
        srv->backoff_until = srv->banned_until = 0;
        srv->violations = 0;
    }
    ctl_ok(rp, limits_json(srv));
}

static void c_config(fb_srv *srv, json_t *in, fb_reply *rp)
{
    fb_dec mk = srv->ex.maker_rate, tk = srv->ex.taker_rate, cap = srv->ex.commission_asset_price;
    if (jdec(in, "maker_rate", &mk, 0, rp) < 0 || jdec(in, "taker_rate", &tk, 0, rp) < 0 ||
        jdec(in, "commission_asset_price", &cap, 0, rp) < 0)
        return;
    srv->ex.maker_rate = mk;
    srv->ex.taker_rate = tk;
    srv->ex.commission_asset_price = cap;
    if (json_object_get(in, "commission_asset"))
        copy(srv->ex.commission_asset, sizeof srv->ex.commission_asset,
             jstr(in, "commission_asset"));
    if (jstr(in, "api_key")) copy(srv->api_key, sizeof srv->api_key, jstr(in, "api_key"));
    if (jstr(in, "secret")) copy(srv->secret, sizeof srv->secret, jstr(in, "secret"));
    srv->ex.check_balances = jbool(in, "check_balances", srv->ex.check_balances);
    srv->ping_interval_s = (int)jint(in, "ping_interval_s", srv->ping_interval_s);
    ctl_ok(rp,
           json_pack("{s:s,s:o,s:o,s:s,s:o,s:b,s:i}", "api_key", srv->api_key, "maker_rate",
                     fb_dec_json(srv->ex.maker_rate), "taker_rate", fb_dec_json(srv->ex.taker_rate),
                     "commission_asset", srv->ex.commission_asset, "commission_asset_price",
                     fb_dec_json(srv->ex.commission_asset_price), "check_balances",
                     srv->ex.check_balances, "ping_interval_s", srv->ping_interval_s));
}

static void c_state(fb_srv *srv, fb_reply *rp)
{
    fb_ex *ex = &srv->ex;
    json_t *syms = json_array(), *orders = json_array(), *trades = json_array();
    for (size_t i = 0; i < ex->nsymbols; i++) {
        const fb_symbol *s = &ex->symbols[i];
        json_t *j = fb_symbol_json(s), *bids = json_array(), *asks = json_array();
        for (size_t k = 0; k < s->nbids; k++)
            json_array_append_new(bids, json_pack("[o,o]", fb_dec_json(s->bids[k].price),
                                                  fb_dec_json(s->bids[k].qty)));
        for (size_t k = 0; k < s->nasks; k++)
            json_array_append_new(asks, json_pack("[o,o]", fb_dec_json(s->asks[k].price),
                                                  fb_dec_json(s->asks[k].qty)));
        json_object_set_new(j, "lastPrice", fb_dec_json(s->last_price));
        json_object_set_new(j, "bids", bids);
        json_object_set_new(j, "asks", asks);
        json_array_append_new(syms, j);
    }
    for (size_t i = 0; i < ex->norders; i++)
        json_array_append_new(orders, fb_order_json(ex, ex->orders[i], FB_ORDER_QUERY, 0));
    for (size_t i = 0; i < ex->ntrades; i++)
        json_array_append_new(trades, fb_trade_json(&ex->trades[i]));
    ctl_ok(rp, json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:o}", "symbols", syms, "balances",
                         balances_json(ex), "orders", orders, "trades", trades, "clock_offset_ms",
                         (json_int_t)srv->clock_offset_ms, "serverTime",
                         (json_int_t)fb_srv_now(srv), "limits", limits_json(srv)));
}

void fb_ctl_handle(fb_srv *srv, const fb_req *rq, fb_reply *rp)
{
    const char *what = rq->path + strlen("/_ctl/");
    json_t *in = NULL;
    rp->retry_after = -1;
    if (rq->body.len) {
        json_error_t err;
        in = json_loadb(rq->body.p, rq->body.len, 0, &err);
        if (!json_is_object(in)) {
            json_decref(in);
            return ctl_error(rp, 400, "the body must be a JSON object: %s", err.text);
        }
    } else {
        in = json_object();
    }
    int get = rq->method == FB_GET, post = rq->method == FB_POST, del = rq->method == FB_DELETE;
    if (post && !strcmp(what, "reset")) {
        fb_srv_reset(srv, jbool(in, "defaults", 1));
        if (!jbool(in, "keep_connections", 0)) {
            fb_glue_connections(srv, 1, "close");
            fb_glue_connections(srv, 2, "close");
        }
        ctl_ok(rp, NULL);
    } else if (get && !strcmp(what, "state"))
        c_state(srv, rp);
    else if (get && !strcmp(what, "status")) {
        json_t *st = fb_glue_status(srv);
        json_object_set_new(st, "serverTime", json_integer(fb_srv_now(srv)));
        json_object_set_new(st, "last_seq", json_integer(srv->log_seq));
        ctl_ok(rp, st);
    } else if (post && !strcmp(what, "symbol"))
        c_symbol(srv, in, rp);
    else if (post && !strcmp(what, "balances"))
        c_balances(srv, in, rp);
    else if (post && !strcmp(what, "deposit"))
        c_deposit(srv, in, rp);
    else if (post && !strcmp(what, "book"))
        c_book(srv, in, rp);
    else if (post && !strcmp(what, "kline"))
        c_kline(srv, in, rp);
    else if (post && !strcmp(what, "klines"))
        c_klines(srv, in, rp);
    else if (post && !strcmp(what, "order"))
        c_order(srv, in, rp);
    else if (post && !strcmp(what, "fill"))
        c_fill(srv, in, rp);
    else if (post && !strcmp(what, "cancel"))
        c_cancel(srv, in, rp);
    else if (post && !strcmp(what, "expire"))
        c_expire(srv, in, rp);
    else if (post && !strcmp(what, "fault"))
        c_fault(srv, in, rp);
    else if (get && !strcmp(what, "faults"))
        c_faults_get(srv, rp);
    else if (del && !strcmp(what, "faults"))
        c_faults_clear(srv, rp);
    else if (post && !strcmp(what, "clock"))
        c_clock(srv, in, rp);
    else if (post && !strcmp(what, "userstream"))
        c_connections(srv, in, 1, rp);
    else if (post && !strcmp(what, "market"))
        c_connections(srv, in, 2, rp);
    else if (get && !strcmp(what, "requests"))
        c_requests(srv, &rq->query, rp);
    else if (del && !strcmp(what, "requests")) {
        json_array_clear(srv->log);
        ctl_ok(rp, NULL);
    } else if (post && !strcmp(what, "limits"))
        c_limits(srv, in, rp);
    else if (post && !strcmp(what, "config"))
        c_config(srv, in, rp);
    else
        ctl_error(rp, 404, "no control endpoint %s", rq->path);
    json_decref(in);
}
