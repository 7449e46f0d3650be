/* tradebus — Binance Spot: parsers of the REST replies, market streams and
 * WebSocket API frames the adapter reads. See bn_proto.h for the contract;
 * every field read goes through bn_json.h so a bad one is named. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../core/errbuf.h"
#include "bn_json.h"
#include "bn_proto.h"

/* ---- enums on the wire -------------------------------------------------- */

static int map_status(const char *s, tb_order_status *out)
{
    static const struct {
        const char *name;
        tb_order_status st;
    } map[] = {
        {"NEW", TB_ORDER_NEW},
        {"PARTIALLY_FILLED", TB_ORDER_PARTIALLY_FILLED},
        {"FILLED", TB_ORDER_FILLED},
        {"CANCELED", TB_ORDER_CANCELED},
        {"REJECTED", TB_ORDER_REJECTED},
        {"EXPIRED", TB_ORDER_EXPIRED},
        /* Ended by self-trade prevention: no more fills will come. */
        {"EXPIRED_IN_MATCH", TB_ORDER_EXPIRED},
        /* Still live until the cancel is done (enums.md: "currently unused"). */
        {"PENDING_CANCEL", TB_ORDER_NEW},
        /* The pending order of an order list: known to the exchange. */
        {"PENDING_NEW", TB_ORDER_NEW},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].name) == 0) {
            *out = map[i].st;
            return 0;
        }
    return TB_EPARSE;
}

static int read_status(json_t *o, const char *key, const char *ctx, char *text, size_t cap,
                       tb_order_status *out, char *err, size_t errlen)
{
    int rc = bn__str(o, key, ctx, 1, text, cap, err, errlen);
    if (rc) return rc;
    if (map_status(text, out) != 0) {
        tb__errf(err, errlen, "%s: '%s' \"%s\" is no order status", ctx, key, text);
        return TB_EPARSE;
    }
    return 0;
}

static int read_side(json_t *o, const char *key, const char *ctx, tb_side *out, char *err,
                     size_t errlen)
{
    char s[8];
    int rc = bn__str(o, key, ctx, 1, s, sizeof s, err, errlen);
    if (rc == 0 && strcmp(s, "BUY") == 0)
        *out = TB_SIDE_BUY;
    else if (rc == 0 && strcmp(s, "SELL") == 0)
        *out = TB_SIDE_SELL;
    else {
        if (rc == 0) tb__errf(err, errlen, "%s: '%s' \"%s\" is neither BUY nor SELL", ctx, key, s);
        return TB_EPARSE;
    }
    return 0;
}

/* required == 0: absent is GTC (MARKET orders carry "GTC" anyway). */
static int read_tif(json_t *o, const char *key, const char *ctx, int required,
                    tb_time_in_force *out, char *err, size_t errlen)
{
    char s[8];
    int rc = bn__str(o, key, ctx, required, s, sizeof s, err, errlen);
    if (rc) return TB_EPARSE;
    if (s[0] == '\0' && !required)
        *out = TB_TIF_GTC;
    else if (strcmp(s, "GTC") == 0)
        *out = TB_TIF_GTC;
    else if (strcmp(s, "IOC") == 0)
        *out = TB_TIF_IOC;
    else if (strcmp(s, "FOK") == 0)
        *out = TB_TIF_FOK;
    else {
        tb__errf(err, errlen, "%s: '%s' \"%s\" is not GTC, IOC or FOK", ctx, key, s);
        return TB_EPARSE;
    }
    return 0;
}

static int not_object(json_t *v, const char *ctx, char *err, size_t errlen)
{
    if (json_is_object(v)) return 0;
    tb__errf(err, errlen, "%s is not an object", ctx);
    return TB_EPARSE;
}

/* ---- orders ------------------------------------------------------------- */

static int read_fills(json_t *fills, const char *ctx, bn_order *out, char *err, size_t errlen)
{
    if (!json_is_array(fills)) {
        tb__errf(err, errlen, "%s: 'fills' is not an array", ctx);
        return TB_EPARSE;
    }
    size_t i;
    json_t *f;
    json_array_foreach(fills, i, f)
    {
        if (i == BN_MAX_FILLS) {
            /* The order itself is read; the caller recovers the rest of
             * the fills from myTrades. */
            tb__errf(err, errlen, "%s: %zu fills, only the first %d kept", ctx,
                     json_array_size(fills), BN_MAX_FILLS);
            return TB_EFULL;
        }
        char fctx[96];
        snprintf(fctx, sizeof fctx, "%s fills[%zu]", ctx, i);
        bn_fill *x = &out->fills[i];
        int rc;
        if ((rc = not_object(f, fctx, err, errlen)) ||
            (rc = bn__u64(f, "tradeId", fctx, 1, &x->trade_id, err, errlen)) ||
            (rc = bn__dec(f, "price", fctx, 1, &x->price, err, errlen)) ||
            (rc = bn__dec(f, "qty", fctx, 1, &x->qty, err, errlen)) ||
            (rc = bn__dec(f, "commission", fctx, 1, &x->commission, err, errlen)) ||
            (rc = bn__str(f, "commissionAsset", fctx, 0, x->commission_asset,
                          sizeof x->commission_asset, err, errlen)))
            return rc;
        out->nfills = i + 1;
    }
    return 0;
}

static int order_from(json_t *o, const char *ctx, bn_order *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc;
    if ((rc = not_object(o, ctx, err, errlen)) ||
        (rc = bn__str(o, "symbol", ctx, 1, out->symbol, sizeof out->symbol, err, errlen)) ||
        (rc = bn__u64(o, "orderId", ctx, 1, &out->order_id, err, errlen)) ||
        (rc = bn__str(o, "clientOrderId", ctx, 1, out->client_order_id, sizeof out->client_order_id,
                      err, errlen)) ||
        (rc = bn__str(o, "origClientOrderId", ctx, 0, out->orig_client_order_id,
                      sizeof out->orig_client_order_id, err, errlen)) ||
        (rc = read_status(o, "status", ctx, out->status_text, sizeof out->status_text, &out->status,
                          err, errlen)) ||
        (rc = read_side(o, "side", ctx, &out->side, err, errlen)) ||
        (rc = bn__str(o, "type", ctx, 1, out->type, sizeof out->type, err, errlen)) ||
        (rc = read_tif(o, "timeInForce", ctx, 0, &out->tif, err, errlen)) ||
        (rc = bn__dec(o, "price", ctx, 1, &out->price, err, errlen)) ||
        (rc = bn__dec(o, "origQty", ctx, 1, &out->orig_qty, err, errlen)) ||
        (rc = bn__dec(o, "executedQty", ctx, 1, &out->executed_qty, err, errlen)) ||
        (rc = bn__dec(o, "cummulativeQuoteQty", ctx, 1, &out->cum_quote, err, errlen)) ||
        (rc = bn__dec(o, "stopPrice", ctx, 0, &out->stop_price, err, errlen)) ||
        (rc = bn__i64(o, "trailingDelta", ctx, 0, &out->trailing_delta, err, errlen)))
        return rc;
    /* GET replies carry time and updateTime, POST and DELETE replies
     * transactTime: the one a reply has stands in for the others. */
    int64_t t = 0, u = 0, tx = 0;
    if ((rc = bn__time(o, "time", ctx, 0, &t, err, errlen)) ||
        (rc = bn__time(o, "updateTime", ctx, 0, &u, err, errlen)) ||
        (rc = bn__time(o, "transactTime", ctx, 0, &tx, err, errlen)))
        return rc;
    int has_t = bn__member(o, "time") != NULL, has_tx = bn__member(o, "transactTime") != NULL;
    if (!has_t && !has_tx) {
        tb__errf(err, errlen, "%s: 'time' (or 'transactTime') is missing", ctx);
        return TB_EPARSE;
    }
    out->time = has_t ? t : tx;
    out->update_time = bn__member(o, "updateTime") != NULL ? u : has_tx ? tx : t;
    json_t *fills = bn__member(o, "fills");
    if (fills != NULL) return read_fills(fills, ctx, out, err, errlen);
    return 0;
}

int bn_parse_order(const char *json, size_t len, bn_order *out, char *err, size_t errlen)
{
    if (out == NULL) return TB_EINVAL;
    json_t *root;
    int rc = bn__json_load(json, len, "order reply", &root, err, errlen);
    if (rc) return rc;
    rc = order_from(root, "order", out, err, errlen);
    json_decref(root);
    return rc;
}

/* Loads an array reply; TB_EPARSE if it is none. */
static int load_array(const char *json, size_t len, const char *what, json_t **root, char *err,
                      size_t errlen)
{
    int rc = bn__json_load(json, len, what, root, err, errlen);
    if (rc) return rc;
    if (!json_is_array(*root)) {
        tb__errf(err, errlen, "%s is not an array", what);
        json_decref(*root);
        *root = NULL;
        return TB_EPARSE;
    }
    return 0;
}

static int too_many(const char *what, size_t have, size_t cap, char *err, size_t errlen)
{
    tb__errf(err, errlen, "%s has %zu entries, room for %zu", what, have, cap);
    return TB_EFULL;
}

int bn_parse_orders(const char *json, size_t len, bn_order *out, size_t cap, size_t *n, char *err,
                    size_t errlen)
{
    if (n == NULL || (out == NULL && cap > 0)) return TB_EINVAL;
    *n = 0;
    json_t *root;
    int rc = load_array(json, len, "orders reply", &root, err, errlen);
    if (rc) return rc;
    size_t i;
    json_t *o;
    json_array_foreach(root, i, o)
    {
        if (i == cap) {
            rc = too_many("orders reply", json_array_size(root), cap, err, errlen);
            break;
        }
        char ctx[32];
        snprintf(ctx, sizeof ctx, "orders[%zu]", i);
        rc = order_from(o, ctx, &out[i], err, errlen);
        /* An order with more fills than kept is still a whole order. */
        if (rc != 0 && rc != TB_EFULL) break;
        rc = 0;
        *n = i + 1;
    }
    json_decref(root);
    return rc;
}

/* ---- trades, account, time ---------------------------------------------- */

int bn_parse_trades(const char *json, size_t len, bn_trade *out, size_t cap, size_t *n, char *err,
                    size_t errlen)
{
    if (n == NULL || (out == NULL && cap > 0)) return TB_EINVAL;
    *n = 0;
    json_t *root;
    int rc = load_array(json, len, "myTrades reply", &root, err, errlen);
    if (rc) return rc;
    size_t i;
    json_t *o;
    json_array_foreach(root, i, o)
    {
        if (i == cap) {
            rc = too_many("myTrades reply", json_array_size(root), cap, err, errlen);
            break;
        }
        char ctx[32];
        snprintf(ctx, sizeof ctx, "trades[%zu]", i);
        bn_trade *t = &out[i];
        memset(t, 0, sizeof *t);
        if ((rc = not_object(o, ctx, err, errlen)) ||
            (rc = bn__str(o, "symbol", ctx, 1, t->symbol, sizeof t->symbol, err, errlen)) ||
            (rc = bn__u64(o, "id", ctx, 1, &t->id, err, errlen)) ||
            (rc = bn__u64(o, "orderId", ctx, 1, &t->order_id, err, errlen)) ||
            (rc = bn__dec(o, "price", ctx, 1, &t->price, err, errlen)) ||
            (rc = bn__dec(o, "qty", ctx, 1, &t->qty, err, errlen)) ||
            (rc = bn__dec(o, "quoteQty", ctx, 1, &t->quote_qty, err, errlen)) ||
            (rc = bn__dec(o, "commission", ctx, 1, &t->commission, err, errlen)) ||
            (rc = bn__str(o, "commissionAsset", ctx, 0, t->commission_asset,
                          sizeof t->commission_asset, err, errlen)) ||
            (rc = bn__time(o, "time", ctx, 1, &t->time, err, errlen)) ||
            (rc = bn__bool(o, "isBuyer", ctx, 1, &t->is_buyer, err, errlen)) ||
            (rc = bn__bool(o, "isMaker", ctx, 1, &t->is_maker, err, errlen)))
            break;
        *n = i + 1;
    }
    json_decref(root);
    return rc;
}

int bn_parse_account(const char *json, size_t len, bn_balance *out, size_t cap, size_t *n,
                     char *err, size_t errlen)
{
    if (n == NULL || (out == NULL && cap > 0)) return TB_EINVAL;
    *n = 0;
    json_t *root;
    int rc = bn__json_load(json, len, "account reply", &root, err, errlen);
    if (rc) return rc;
    json_t *bal = bn__member(root, "balances");
    if (!json_is_array(bal)) {
        tb__errf(err, errlen, "account: 'balances' is %s",
                 bal == NULL ? "missing" : "not an array");
        json_decref(root);
        return TB_EPARSE;
    }
    size_t i, k = 0;
    json_t *o;
    json_array_foreach(bal, i, o)
    {
        char ctx[32];
        snprintf(ctx, sizeof ctx, "balances[%zu]", i);
        if ((rc = not_object(o, ctx, err, errlen))) break;
        json_t *a = bn__member(o, "asset");
        /* An asset whose name does not fit (Binance lists some with long
         * UTF-8 names) is none this adapter trades: skipped, not an error
         * that would hide every other balance. */
        if (json_is_string(a) && json_string_length(a) >= BN_ASSET_LEN) continue;
        if (k == cap) {
            rc = too_many("account balances", json_array_size(bal), cap, err, errlen);
            break;
        }
        bn_balance *b = &out[k];
        memset(b, 0, sizeof *b);
        if ((rc = bn__str_v(a, ctx, "asset", b->asset, sizeof b->asset, err, errlen)) ||
            (rc = bn__dec(o, "free", ctx, 1, &b->free, err, errlen)) ||
            (rc = bn__dec(o, "locked", ctx, 1, &b->locked, err, errlen)))
            break;
        *n = ++k;
    }
    json_decref(root);
    return rc;
}

int bn_parse_server_time(const char *json, size_t len, int64_t *ms, char *err, size_t errlen)
{
    if (ms == NULL) return TB_EINVAL;
    json_t *root;
    int rc = bn__json_load(json, len, "time reply", &root, err, errlen);
    if (rc) return rc;
    int64_t t = 0;
    rc = bn__i64(root, "serverTime", "time", 1, &t, err, errlen);
    if (rc == 0 && t < 0) {
        tb__errf(err, errlen, "time: 'serverTime' %" PRId64 " is negative", t);
        rc = TB_EPARSE;
    }
    if (rc == 0) *ms = t;
    json_decref(root);
    return rc;
}

/* ---- klines ------------------------------------------------------------- */

/* The promises every bar keeps, whatever its source, in the order and words
 * of the CSV reader's checks (marketdata.c md_check_bar): a bar from Binance
 * that a backtest would refuse is refused here as well. */
static int check_bar(const tb_market_data *b, const char *ctx, char *err, size_t errlen)
{
    const tb_decimal p[4] = {b->open, b->high, b->low, b->close};
    static const char *const names[4] = {"open", "high", "low", "close"};
    char x[TB_DECIMAL_STRLEN], y[TB_DECIMAL_STRLEN];
    for (int k = 0; k < 4; k++)
        if (p[k] <= 0) {
            tb_dec_format(p[k], x, sizeof x);
            tb__errf(err, errlen, "%s: %s %s is not positive", ctx, names[k], x);
            return TB_EPARSE;
        }
    if (b->volume < 0) {
        tb_dec_format(b->volume, x, sizeof x);
        tb__errf(err, errlen, "%s: volume %s is negative", ctx, x);
        return TB_EPARSE;
    }
    if (b->high < b->low) {
        tb_dec_format(b->high, x, sizeof x);
        tb_dec_format(b->low, y, sizeof y);
        tb__errf(err, errlen, "%s: high %s is below low %s", ctx, x, y);
        return TB_EPARSE;
    }
    for (int k = 0; k < 4; k += 3) { /* open (0) and close (3) */
        if (p[k] > b->high || p[k] < b->low) {
            tb_dec_format(p[k], x, sizeof x);
            tb__errf(err, errlen, "%s: %s %s is outside low..high", ctx, names[k], x);
            return TB_EPARSE;
        }
    }
    if (b->close_time < b->open_time) {
        tb__errf(err, errlen, "%s: close time is before open time", ctx);
        return TB_EPARSE;
    }
    return 0;
}

static int set_symbol(tb_market_data *bar, const char *symbol, char *err, size_t errlen)
{
    size_t n = strlen(symbol);
    if (n >= sizeof bar->symbol) {
        tb__errf(err, errlen, "symbol \"%.40s\" is longer than %zu bytes", symbol,
                 sizeof bar->symbol - 1);
        return TB_EINVAL;
    }
    memcpy(bar->symbol, symbol, n + 1);
    return 0;
}

/* One 12-column REST row: [openTime, o, h, l, c, v, closeTime, ...]. Only
 * the first 7 are read, so a column added later breaks nothing. */
static int kline_row(json_t *row, const char *ctx, tb_market_data *bar, char *err, size_t errlen)
{
    if (!json_is_array(row) || json_array_size(row) < 7) {
        tb__errf(err, errlen, "%s is not an array of 12 columns", ctx);
        return TB_EPARSE;
    }
    int rc;
    if ((rc = bn__time_v(json_array_get(row, 0), ctx, "open time", &bar->open_time, err, errlen)) ||
        (rc = bn__dec_v(json_array_get(row, 1), ctx, "open", &bar->open, err, errlen)) ||
        (rc = bn__dec_v(json_array_get(row, 2), ctx, "high", &bar->high, err, errlen)) ||
        (rc = bn__dec_v(json_array_get(row, 3), ctx, "low", &bar->low, err, errlen)) ||
        (rc = bn__dec_v(json_array_get(row, 4), ctx, "close", &bar->close, err, errlen)) ||
        (rc = bn__dec_v(json_array_get(row, 5), ctx, "volume", &bar->volume, err, errlen)) ||
        (rc = bn__time_v(json_array_get(row, 6), ctx, "close time", &bar->close_time, err, errlen)))
        return rc;
    return check_bar(bar, ctx, err, errlen);
}

int bn_parse_klines(const char *json, size_t len, const char *symbol, tb_market_data *out,
                    size_t cap, size_t *n, char *err, size_t errlen)
{
    if (n == NULL || symbol == NULL || (out == NULL && cap > 0)) return TB_EINVAL;
    *n = 0;
    tb_market_data proto;
    memset(&proto, 0, sizeof proto);
    int rc = set_symbol(&proto, symbol, err, errlen);
    if (rc) return rc;
    json_t *root;
    if ((rc = load_array(json, len, "klines reply", &root, err, errlen))) return rc;
    size_t i;
    json_t *row;
    json_array_foreach(root, i, row)
    {
        if (i == cap) {
            rc = too_many("klines reply", json_array_size(root), cap, err, errlen);
            break;
        }
        char ctx[32];
        snprintf(ctx, sizeof ctx, "klines[%zu]", i);
        out[i] = proto;
        if ((rc = kline_row(row, ctx, &out[i], err, errlen))) break;
        /* Rising times, as the CSV reader demands of a file: the merge and
         * every consumer rely on bars coming in order. */
        if (i > 0 && (out[i].open_time <= out[i - 1].open_time ||
                      out[i].close_time <= out[i - 1].close_time)) {
            tb__errf(err, errlen, "%s: its time is not after the previous row's", ctx);
            rc = TB_EPARSE;
            break;
        }
        *n = i + 1;
    }
    json_decref(root);
    return rc;
}

int bn_parse_kline_event(const char *json, size_t len, tb_market_data *bar, int *closed, char *err,
                         size_t errlen)
{
    if (bar == NULL || closed == NULL) return TB_EINVAL;
    json_t *root;
    int rc = bn__json_load(json, len, "kline message", &root, err, errlen);
    if (rc) return rc;
    json_t *ev = root;
    json_t *data = bn__member(root, "data");
    if (data != NULL && bn__member(root, "stream") != NULL) ev = data; /* combined stream */
    const char *e = json_string_value(bn__member(ev, "e"));
    if (e == NULL || strcmp(e, "kline") != 0) {
        tb__errf(err, errlen, "the message is no kline event");
        json_decref(root);
        return TB_ENOTFOUND;
    }
    json_t *k = bn__member(ev, "k");
    tb_market_data b;
    memset(&b, 0, sizeof b);
    int x = 0;
    if ((rc = not_object(k, "kline 'k'", err, errlen)) ||
        (rc = bn__str(k, "s", "kline", 1, b.symbol, sizeof b.symbol, err, errlen)) ||
        (rc = bn__time(k, "t", "kline", 1, &b.open_time, err, errlen)) ||
        (rc = bn__time(k, "T", "kline", 1, &b.close_time, err, errlen)) ||
        (rc = bn__dec(k, "o", "kline", 1, &b.open, err, errlen)) ||
        (rc = bn__dec(k, "h", "kline", 1, &b.high, err, errlen)) ||
        (rc = bn__dec(k, "l", "kline", 1, &b.low, err, errlen)) ||
        (rc = bn__dec(k, "c", "kline", 1, &b.close, err, errlen)) ||
        (rc = bn__dec(k, "v", "kline", 1, &b.volume, err, errlen)) ||
        (rc = bn__bool(k, "x", "kline", 1, &x, err, errlen)) ||
        (rc = check_bar(&b, "kline", err, errlen))) {
        json_decref(root);
        return rc;
    }
    *bar = b;
    *closed = x;
    json_decref(root);
    return 0;
}

/* ---- the WebSocket API ---------------------------------------------------- */

static int exec_report(json_t *ev, bn_exec_report *er, char *err, size_t errlen)
{
    const char *c = "executionReport";
    memset(er, 0, sizeof *er);
    int rc;
    if ((rc = bn__str(ev, "s", c, 1, er->symbol, sizeof er->symbol, err, errlen)) ||
        (rc = bn__str(ev, "c", c, 1, er->client_order_id, sizeof er->client_order_id, err,
                      errlen)) ||
        (rc = bn__str(ev, "C", c, 0, er->orig_client_order_id, sizeof er->orig_client_order_id, err,
                      errlen)) ||
        (rc = read_side(ev, "S", c, &er->side, err, errlen)) ||
        (rc = bn__str(ev, "o", c, 1, er->type, sizeof er->type, err, errlen)) ||
        (rc = read_tif(ev, "f", c, 1, &er->tif, err, errlen)) ||
        (rc = bn__dec(ev, "q", c, 1, &er->qty, err, errlen)) ||
        (rc = bn__dec(ev, "p", c, 1, &er->price, err, errlen)) ||
        (rc = bn__dec(ev, "P", c, 0, &er->stop_price, err, errlen)) ||
        (rc = bn__str(ev, "x", c, 1, er->exec_type, sizeof er->exec_type, err, errlen)))
        return rc;
    char st[24];
    if ((rc = read_status(ev, "X", c, st, sizeof st, &er->status, err, errlen)) ||
        (rc = bn__str(ev, "r", c, 0, er->reject_reason, sizeof er->reject_reason, err, errlen)) ||
        (rc = bn__u64(ev, "i", c, 1, &er->order_id, err, errlen)) ||
        (rc = bn__dec(ev, "l", c, 1, &er->last_qty, err, errlen)) ||
        (rc = bn__dec(ev, "z", c, 1, &er->cum_qty, err, errlen)) ||
        (rc = bn__dec(ev, "L", c, 1, &er->last_price, err, errlen)) ||
        (rc = bn__dec(ev, "n", c, 0, &er->commission, err, errlen)) ||
        (rc = bn__str(ev, "N", c, 0, er->commission_asset, sizeof er->commission_asset, err,
                      errlen)) ||
        (rc = bn__time(ev, "E", c, 1, &er->event_time, err, errlen)) ||
        (rc = bn__time(ev, "T", c, 1, &er->transact_time, err, errlen)) ||
        (rc = bn__dec(ev, "Z", c, 1, &er->cum_quote, err, errlen)))
        return rc;
    er->trade_id = -1;
    if ((rc = bn__i64(ev, "t", c, 1, &er->trade_id, err, errlen))) return rc;
    if (er->trade_id < -1) {
        tb__errf(err, errlen, "%s: 't' %" PRId64 " is no trade id", c, er->trade_id);
        return TB_EPARSE;
    }
    return 0;
}

static int ws_event(json_t *ev, bn_ws_frame *out, char *err, size_t errlen)
{
    char e[48];
    int rc;
    if ((rc = not_object(ev, "event", err, errlen)) ||
        (rc = bn__str(ev, "e", "event", 1, e, sizeof e, err, errlen))) {
        /* An event type of a future version too long for e is still an
         * event, just not one of ours. */
        json_t *t = bn__member(ev, "e");
        if (json_is_object(ev) && json_is_string(t)) {
            out->kind = BN_WS_OTHER_EVENT;
            return 0;
        }
        return rc;
    }
    if (strcmp(e, "executionReport") == 0) {
        out->kind = BN_WS_EXEC_REPORT;
        return exec_report(ev, &out->er, err, errlen);
    }
    if (strcmp(e, "outboundAccountPosition") == 0 || strcmp(e, "balanceUpdate") == 0)
        out->kind = BN_WS_ACCOUNT;
    else if (strcmp(e, "eventStreamTerminated") == 0)
        out->kind = BN_WS_TERMINATED;
    else
        out->kind = BN_WS_OTHER_EVENT;
    return 0;
}

static int ws_response(json_t *root, bn_ws_frame *out, char *err, size_t errlen)
{
    const char *c = "response";
    json_t *id = json_object_get(root, "id");
    out->kind = BN_WS_RESPONSE;
    if (json_is_string(id)) {
        int rc = bn__str_v(id, c, "id", out->id, sizeof out->id, err, errlen);
        if (rc) return rc;
    } else if (json_is_integer(id)) {
        snprintf(out->id, sizeof out->id, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    } else if (!json_is_null(id)) {
        /* null: Binance could not read the request's id. */
        tb__errf(err, errlen, "%s: 'id' is neither a string nor an integer", c);
        return TB_EPARSE;
    }
    int64_t status = 0;
    int rc = bn__i64(root, "status", c, 1, &status, err, errlen);
    if (rc) return rc;
    if (status < 100 || status > 599) {
        tb__errf(err, errlen, "%s: 'status' %" PRId64 " is no HTTP status", c, status);
        return TB_EPARSE;
    }
    out->status = (int)status;
    if (status != 200) {
        json_t *e = bn__member(root, "error");
        if ((rc = not_object(e, "response 'error'", err, errlen))) return rc;
        int64_t code = 0;
        if ((rc = bn__i64(e, "code", "response error", 1, &code, err, errlen))) return rc;
        if (code < INT32_MIN || code > INT32_MAX) {
            tb__errf(err, errlen, "response error: 'code' %" PRId64 " is out of range", code);
            return TB_EPARSE;
        }
        out->error.code = (int)code;
        const char *msg = json_string_value(bn__member(e, "msg"));
        if (msg != NULL) snprintf(out->error.msg, sizeof out->error.msg, "%s", msg);
    }
    json_t *res = bn__member(root, "result");
    if (json_is_object(res) && bn__member(res, "subscriptionId") != NULL) {
        if ((rc = bn__i64(res, "subscriptionId", "response result", 1, &out->subscription_id, err,
                          errlen)))
            return rc;
        if (out->subscription_id < 0) {
            tb__errf(err, errlen, "response result: 'subscriptionId' is negative");
            return TB_EPARSE;
        }
    }
    return 0;
}

int bn_parse_ws_frame(const char *json, size_t len, bn_ws_frame *out, char *err, size_t errlen)
{
    if (out == NULL) return TB_EINVAL;
    memset(out, 0, sizeof *out);
    out->subscription_id = -1;
    out->event_subscription_id = -1;
    json_t *root;
    int rc = bn__json_load(json, len, "WebSocket API frame", &root, err, errlen);
    if (rc) return rc;
    if (!json_is_object(root)) {
        tb__errf(err, errlen, "WebSocket API frame is not an object");
        rc = TB_EPARSE;
    } else if (json_object_get(root, "id") != NULL || bn__member(root, "status") != NULL) {
        rc = ws_response(root, out, err, errlen);
    } else if (bn__member(root, "event") != NULL) {
        rc = bn__i64(root, "subscriptionId", "event frame", 0, &out->event_subscription_id, err,
                     errlen);
        if (rc == 0) rc = ws_event(bn__member(root, "event"), out, err, errlen);
    } else if (bn__member(root, "e") != NULL) {
        rc = ws_event(root, out, err, errlen); /* an event without the envelope */
    } else {
        tb__errf(err, errlen,
                 "WebSocket API frame is neither a response ('id', 'status') nor an "
                 "event ('event')");
        rc = TB_EPARSE;
    }
    json_decref(root);
    return rc;
}
