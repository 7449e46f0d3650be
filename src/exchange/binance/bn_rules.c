/* tradebus — Binance Spot: the exchange's trading rules (exchangeInfo),
 * checking an order against them, order parameters, errors and commission
 * conversion. See bn_proto.h for the contract. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../core/errbuf.h"
#include "bn_json.h"
#include "bn_proto.h"

/* ---- trading rules (exchangeInfo) ------------------------------------- */

/* A filter's upper bound (maxQty, maxNotional...) beyond tb_decimal's range
 * (Binance writes "9000000000000.00000000" for "no limit" on some symbols)
 * can never be reached by an order: read as TB_DECIMAL_MAX instead of
 * refusing the whole reply. Lower bounds and steps must fit. */
static int filter_max(json_t *f, const char *key, const char *ctx, tb_decimal *out, char *err,
                      size_t errlen)
{
    json_t *v = bn__member(f, key);
    if (v == NULL) {
        *out = 0;
        return 0;
    }
    if (json_is_string(v)) {
        int rc = tb_dec_parse(json_string_value(v), json_string_length(v), out);
        if (rc == TB_EOVERFLOW && json_string_value(v)[0] != '-') {
            *out = TB_DECIMAL_MAX;
            return 0;
        }
    }
    return bn__dec_v(v, ctx, key, out, err, errlen);
}

static int read_filter(json_t *f, const char *ctx, bn_symbol_info *out, int *have_notional,
                       char *err, size_t errlen)
{
    char type[32];
    int rc = bn__str(f, "filterType", ctx, 1, type, sizeof type, err, errlen);
    if (rc) {
        /* An unknown filter of a future API version may have a long name;
         * only a missing or non-string one is malformed. */
        json_t *t = bn__member(f, "filterType");
        if (t != NULL && json_is_string(t)) return 0;
        return rc;
    }
    if (strcmp(type, "PRICE_FILTER") == 0) {
        if ((rc = bn__dec(f, "minPrice", ctx, 1, &out->min_price, err, errlen)) ||
            (rc = filter_max(f, "maxPrice", ctx, &out->max_price, err, errlen)) ||
            (rc = bn__dec(f, "tickSize", ctx, 1, &out->tick_size, err, errlen)))
            return rc;
    } else if (strcmp(type, "LOT_SIZE") == 0) {
        if ((rc = bn__dec(f, "minQty", ctx, 1, &out->min_qty, err, errlen)) ||
            (rc = filter_max(f, "maxQty", ctx, &out->max_qty, err, errlen)) ||
            (rc = bn__dec(f, "stepSize", ctx, 1, &out->step_size, err, errlen)))
            return rc;
    } else if (strcmp(type, "MARKET_LOT_SIZE") == 0) {
        if ((rc = bn__dec(f, "minQty", ctx, 1, &out->market_min_qty, err, errlen)) ||
            (rc = filter_max(f, "maxQty", ctx, &out->market_max_qty, err, errlen)) ||
            (rc = bn__dec(f, "stepSize", ctx, 1, &out->market_step_size, err, errlen)))
            return rc;
    } else if (strcmp(type, "NOTIONAL") == 0) {
        /* NOTIONAL replaced MIN_NOTIONAL; if a reply had both, NOTIONAL
         * (the one with a maximum) wins whatever the order. */
        if ((rc = bn__dec(f, "minNotional", ctx, 1, &out->min_notional, err, errlen)) ||
            (rc = filter_max(f, "maxNotional", ctx, &out->max_notional, err, errlen)) ||
            (rc = bn__bool(f, "applyMinToMarket", ctx, 0, &out->apply_min_to_market, err, errlen)))
            return rc;
        *have_notional = 1;
    } else if (strcmp(type, "MIN_NOTIONAL") == 0 && !*have_notional) {
        if ((rc = bn__dec(f, "minNotional", ctx, 1, &out->min_notional, err, errlen)) ||
            (rc = bn__bool(f, "applyToMarket", ctx, 0, &out->apply_min_to_market, err, errlen)))
            return rc;
        out->max_notional = 0;
    }
    return 0;
}

static const struct {
    const char *name;
    int bit;
} order_type_bits[] = {
    {"LIMIT", BN_OT_LIMIT},
    {"MARKET", BN_OT_MARKET},
    {"STOP_LOSS", BN_OT_STOP_LOSS},
    {"STOP_LOSS_LIMIT", BN_OT_STOP_LOSS_LIMIT},
    {"TAKE_PROFIT", BN_OT_TAKE_PROFIT},
    {"TAKE_PROFIT_LIMIT", BN_OT_TAKE_PROFIT_LIMIT},
    {"LIMIT_MAKER", BN_OT_LIMIT_MAKER},
};

static int read_symbol(json_t *sym, const char *ctx, bn_symbol_info *out, char *err, size_t errlen)
{
    int rc;
    if ((rc = bn__str(sym, "status", ctx, 1, out->status, sizeof out->status, err, errlen)) ||
        (rc = bn__str(sym, "baseAsset", ctx, 1, out->base, sizeof out->base, err, errlen)) ||
        (rc = bn__str(sym, "quoteAsset", ctx, 1, out->quote, sizeof out->quote, err, errlen)))
        return rc;
    json_t *types = bn__member(sym, "orderTypes");
    if (types != NULL) {
        if (!json_is_array(types)) {
            tb__errf(err, errlen, "%s: 'orderTypes' is not an array", ctx);
            return TB_EPARSE;
        }
        size_t i;
        json_t *t;
        json_array_foreach(types, i, t)
        {
            const char *name = json_string_value(t);
            if (name == NULL) {
                tb__errf(err, errlen, "%s: 'orderTypes[%zu]' is not a string", ctx, i);
                return TB_EPARSE;
            }
            /* Types this version does not know are no error: never sent. */
            for (size_t k = 0; k < sizeof order_type_bits / sizeof order_type_bits[0]; k++)
                if (strcmp(name, order_type_bits[k].name) == 0)
                    out->order_types |= order_type_bits[k].bit;
        }
    }
    json_t *filters = bn__member(sym, "filters");
    if (filters == NULL) return 0; /* "All filters are optional" (rest-api.md) */
    if (!json_is_array(filters)) {
        tb__errf(err, errlen, "%s: 'filters' is not an array", ctx);
        return TB_EPARSE;
    }
    int have_notional = 0;
    size_t i;
    json_t *f;
    json_array_foreach(filters, i, f)
    {
        char fctx[96];
        snprintf(fctx, sizeof fctx, "%s filters[%zu]", ctx, i);
        if (!json_is_object(f)) {
            tb__errf(err, errlen, "%s is not an object", fctx);
            return TB_EPARSE;
        }
        if ((rc = read_filter(f, fctx, out, &have_notional, err, errlen))) return rc;
    }
    return 0;
}

int bn_parse_exchange_info(const char *json, size_t len, const char *symbol, bn_symbol_info *out,
                           char *err, size_t errlen)
{
    if (symbol == NULL || out == NULL) return TB_EINVAL;
    json_t *root;
    int rc = bn__json_load(json, len, "exchangeInfo reply", &root, err, errlen);
    if (rc) return rc;
    json_t *syms = bn__member(root, "symbols");
    if (!json_is_array(syms)) {
        tb__errf(err, errlen, "exchangeInfo: 'symbols' is %s",
                 syms == NULL ? "missing" : "not an array");
        json_decref(root);
        return TB_EPARSE;
    }
    rc = TB_ENOTFOUND;
    size_t i;
    json_t *sym;
    json_array_foreach(syms, i, sym)
    {
        const char *name = json_string_value(bn__member(sym, "symbol"));
        if (name == NULL || strcmp(name, symbol) != 0) continue;
        char ctx[64];
        snprintf(ctx, sizeof ctx, "exchangeInfo %.20s", symbol);
        memset(out, 0, sizeof *out);
        rc = bn__str(sym, "symbol", ctx, 1, out->symbol, sizeof out->symbol, err, errlen);
        if (rc == 0) rc = read_symbol(sym, ctx, out, err, errlen);
        break;
    }
    if (rc == TB_ENOTFOUND)
        tb__errf(err, errlen, "exchangeInfo has no symbol %.20s (check the symbol's spelling)",
                 symbol);
    json_decref(root);
    return rc;
}

int bn_parse_weight_limit(const char *json, size_t len, int64_t *out)
{
    json_t *root;
    char err[64];
    if (out == NULL || bn__json_load(json, len, "exchangeInfo reply", &root, err, sizeof err))
        return TB_ENOTFOUND;
    int rc = TB_ENOTFOUND;
    size_t i;
    json_t *lim;
    json_array_foreach(bn__member(root, "rateLimits"), i, lim)
    {
        const char *type = json_string_value(bn__member(lim, "rateLimitType"));
        const char *iv = json_string_value(bn__member(lim, "interval"));
        json_t *num = bn__member(lim, "intervalNum"), *limit = bn__member(lim, "limit");
        if (!type || !iv || strcmp(type, "REQUEST_WEIGHT") != 0 || strcmp(iv, "MINUTE") != 0 ||
            !json_is_integer(num) || json_integer_value(num) != 1 || !json_is_integer(limit) ||
            json_integer_value(limit) <= 0)
            continue;
        *out = (int64_t)json_integer_value(limit);
        rc = 0;
        break;
    }
    json_decref(root);
    return rc;
}

/* ---- checking an order ------------------------------------------------ */

/* Fills err with "NAME VALUE is WHAT LIMIT (FILTER)", both values exact. */
static int refuse(tb_reject_reason why, tb_reject_reason *reason, char *err, size_t errlen,
                  const char *name, tb_decimal value, const char *what, tb_decimal limit,
                  const char *filter)
{
    char v[TB_DECIMAL_STRLEN], l[TB_DECIMAL_STRLEN];
    tb_dec_format(value, v, sizeof v);
    tb_dec_format(limit, l, sizeof l);
    tb__errf(err, errlen, "%s %s %s %s (%s)", name, v, what, l, filter);
    if (reason) *reason = why;
    return TB_EREJECTED;
}

/* PRICE_FILTER on a price or stop price (filters.md: each rule off at 0). */
static int check_price(const bn_symbol_info *s, const char *name, tb_decimal p,
                       tb_reject_reason *reason, char *err, size_t errlen)
{
    if (p <= 0) {
        tb__errf(err, errlen, "%s must be positive", name);
        if (reason) *reason = TB_REJECT_INVALID_PRICE;
        return TB_EREJECTED;
    }
    if (s->min_price > 0 && p < s->min_price)
        return refuse(TB_REJECT_INVALID_PRICE, reason, err, errlen, name, p,
                      "is below the minimum price", s->min_price, "PRICE_FILTER");
    if (s->max_price > 0 && p > s->max_price)
        return refuse(TB_REJECT_INVALID_PRICE, reason, err, errlen, name, p,
                      "is above the maximum price", s->max_price, "PRICE_FILTER");
    if (s->tick_size > 0 && p % s->tick_size != 0)
        return refuse(TB_REJECT_INVALID_PRICE, reason, err, errlen, name, p,
                      "is not a multiple of the tick size", s->tick_size, "PRICE_FILTER");
    return 0;
}

static int check_lot(tb_decimal q, tb_decimal min, tb_decimal max, tb_decimal step,
                     const char *filter, tb_reject_reason *reason, char *err, size_t errlen)
{
    if (min > 0 && q < min)
        return refuse(TB_REJECT_INVALID_QUANTITY, reason, err, errlen, "quantity", q,
                      "is below the minimum quantity", min, filter);
    if (max > 0 && q > max)
        return refuse(TB_REJECT_INVALID_QUANTITY, reason, err, errlen, "quantity", q,
                      "is above the maximum quantity", max, filter);
    if (step > 0 && q % step != 0)
        return refuse(TB_REJECT_INVALID_QUANTITY, reason, err, errlen, "quantity", q,
                      "is not a multiple of the step size", step, filter);
    return 0;
}

int bn_check_order(const bn_symbol_info *s, const tb_order_placement_request *req,
                   tb_decimal ref_price, tb_reject_reason *reason, char *err, size_t errlen)
{
    if (s == NULL || req == NULL) return TB_EINVAL;
    if (reason) *reason = TB_REJECT_NONE;
    if (strcmp(req->symbol, s->symbol) != 0) {
        tb__errf(err, errlen, "order for %.16s checked against the rules of %.16s", req->symbol,
                 s->symbol);
        if (reason) *reason = TB_REJECT_UNKNOWN_SYMBOL;
        return TB_EREJECTED;
    }
    if (strcmp(s->status, "TRADING") != 0) {
        tb__errf(err, errlen, "%.16s is not trading (status %.16s)", s->symbol, s->status);
        if (reason) *reason = TB_REJECT_EXCHANGE;
        return TB_EREJECTED;
    }
    int need;
    const char *tname;
    switch (req->order_type) {
    case TB_ORDER_MARKET:
        need = BN_OT_MARKET;
        tname = "MARKET";
        break;
    case TB_ORDER_LIMIT:
        need = BN_OT_LIMIT;
        tname = "LIMIT";
        break;
    case TB_ORDER_STOP_MARKET:
        need = BN_OT_STOP_LOSS;
        tname = "STOP_LOSS";
        break;
    default:
        tb__errf(err, errlen, "unknown order type %d", (int)req->order_type);
        if (reason) *reason = TB_REJECT_EXCHANGE;
        return TB_EREJECTED;
    }
    /* order_types 0: the reply listed none, so nothing to hold against. */
    if (s->order_types != 0 && (s->order_types & need) == 0) {
        tb__errf(err, errlen, "%.16s does not take %s orders (orderTypes)", s->symbol, tname);
        if (reason) *reason = TB_REJECT_EXCHANGE;
        return TB_EREJECTED;
    }
    if (req->quantity <= 0) {
        tb__errf(err, errlen, "quantity must be positive");
        if (reason) *reason = TB_REJECT_INVALID_QUANTITY;
        return TB_EREJECTED;
    }
    int rc;
    if (req->order_type == TB_ORDER_LIMIT &&
        (rc = check_price(s, "price", req->price, reason, err, errlen)))
        return rc;
    /* A trailing stop is sent as trailingDelta alone (bn_order_params): its
     * stop price never reaches Binance, so it is not held to the filter. */
    if (req->order_type == TB_ORDER_STOP_MARKET && req->trailing_pct == 0 &&
        (rc = check_price(s, "stop price", req->stop_price, reason, err, errlen)))
        return rc;
    if ((rc = check_lot(req->quantity, s->min_qty, s->max_qty, s->step_size, "LOT_SIZE", reason,
                        err, errlen)))
        return rc;
    if (req->order_type == TB_ORDER_MARKET &&
        (rc = check_lot(req->quantity, s->market_min_qty, s->market_max_qty, s->market_step_size,
                        "MARKET_LOT_SIZE", reason, err, errlen)))
        return rc;

    /* Notional: a LIMIT order's at its price; a MARKET order's (and a stop's,
     * which becomes one) at the reference price, and only when the rules
     * apply the minimum to market orders — maxNotional's applyMaxToMarket is
     * not kept, so the maximum is held only against LIMIT orders. */
    int market = req->order_type != TB_ORDER_LIMIT;
    tb_decimal at = market ? ref_price : req->price;
    if (at <= 0) return 0;
    tb_decimal notional;
    int over = tb_dec_mul(req->quantity, at, TB_ROUND_HALF_UP, &notional) != 0;
    if (over) notional = TB_DECIMAL_MAX;
    if (s->min_notional > 0 && (!market || s->apply_min_to_market) && notional < s->min_notional)
        return refuse(TB_REJECT_INVALID_QUANTITY, reason, err, errlen, "notional", notional,
                      "(price x quantity) is below the minimum notional", s->min_notional,
                      "NOTIONAL");
    if (s->max_notional > 0 && !market && notional > s->max_notional) {
        if (over) {
            tb__errf(err, errlen,
                     "notional (price x quantity) overflows, above the maximum (NOTIONAL)");
            if (reason) *reason = TB_REJECT_INVALID_QUANTITY;
            return TB_EREJECTED;
        }
        return refuse(TB_REJECT_INVALID_QUANTITY, reason, err, errlen, "notional", notional,
                      "(price x quantity) is above the maximum notional", s->max_notional,
                      "NOTIONAL");
    }
    return 0;
}

/* ---- order placement -------------------------------------------------- */

/* newClientOrderId's format (rest-api.md): ^[a-zA-Z0-9-_]{1,36}$. */
static int client_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 36) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int bn_order_params(const tb_order_placement_request *req, bn_query *q, char *err, size_t errlen)
{
    if (req == NULL || q == NULL) return TB_EINVAL;
    const char *side = req->side == TB_SIDE_BUY ? "BUY" : req->side == TB_SIDE_SELL ? "SELL" : NULL;
    if (side == NULL) {
        tb__errf(err, errlen, "side %d is neither BUY nor SELL", (int)req->side);
        return TB_EINVAL;
    }
    if (req->quantity <= 0) {
        tb__errf(err, errlen, "quantity must be positive");
        return TB_EINVAL;
    }
    if (req->client_order_id[0] != '\0' && !client_id_ok(req->client_order_id)) {
        tb__errf(err, errlen,
                 "client order id \"%.40s\" cannot be sent to Binance: 1 to 36 of "
                 "A-Z a-z 0-9 - _ only",
                 req->client_order_id);
        return TB_ENOTSUP;
    }
    bn_query_add(q, "symbol", req->symbol);
    bn_query_add(q, "side", side);
    switch (req->order_type) {
    case TB_ORDER_MARKET:
        bn_query_add(q, "type", "MARKET");
        bn_query_add_dec(q, "quantity", req->quantity);
        break;
    case TB_ORDER_LIMIT: {
        static const char *const tifs[] = {"GTC", "IOC", "FOK"};
        if ((unsigned)req->time_in_force > TB_TIF_FOK) {
            tb__errf(err, errlen, "time in force %d is not GTC, IOC or FOK",
                     (int)req->time_in_force);
            return TB_ENOTSUP;
        }
        if (req->price <= 0) {
            tb__errf(err, errlen, "a LIMIT order needs a positive price");
            return TB_EINVAL;
        }
        bn_query_add(q, "type", "LIMIT");
        bn_query_add(q, "timeInForce", tifs[req->time_in_force]);
        bn_query_add_dec(q, "quantity", req->quantity);
        bn_query_add_dec(q, "price", req->price);
        break;
    }
    case TB_ORDER_STOP_MARKET:
        bn_query_add(q, "type", "STOP_LOSS");
        bn_query_add_dec(q, "quantity", req->quantity);
        if (req->trailing_pct > 0) {
            /* trailingDelta is in basis points: pct x 100, whole. pct is a
             * count of 1e-8 percent, so BIPS = pct / 1e6. */
            const tb_decimal per_bip = TB_DECIMAL_ONE / 100;
            if (req->trailing_pct % per_bip != 0) {
                char p[TB_DECIMAL_STRLEN];
                tb_dec_format(req->trailing_pct, p, sizeof p);
                tb__errf(err, errlen,
                         "trailing_pct %s is not a whole number of basis points (0.01 %%), "
                         "which Binance's trailingDelta needs",
                         p);
                return TB_ENOTSUP;
            }
            /* Binance trails from the order's entry without a stop price,
             * as tradebus trails from the close; a stopPrice would instead
             * hold the trailing back until the price reached it. */
            bn_query_add_i64(q, "trailingDelta", req->trailing_pct / per_bip);
        } else {
            if (req->stop_price <= 0) {
                tb__errf(err, errlen, "a STOP_MARKET order needs a positive stop price");
                return TB_EINVAL;
            }
            bn_query_add_dec(q, "stopPrice", req->stop_price);
        }
        break;
    default:
        tb__errf(err, errlen, "order type %d has no Binance equivalent", (int)req->order_type);
        return TB_ENOTSUP;
    }
    /* oco_with is no parameter of POST /api/v3/order: the adapter cancels
     * the other order of a pair itself when one fills. */
    if (req->client_order_id[0] != '\0') bn_query_add(q, "newClientOrderId", req->client_order_id);
    bn_query_add(q, "newOrderRespType", "FULL");
    if (q->err) {
        tb__errf(err, errlen, "order parameters do not fit the query (%s)", tb_strerror(q->err));
        return q->err;
    }
    return 0;
}

/* ---- errors ----------------------------------------------------------- */

void bn_parse_error(const char *json, size_t len, bn_error *out)
{
    if (out == NULL) return;
    memset(out, 0, sizeof *out);
    if (json == NULL) return;
    json_t *root = json_loadb(json, len, 0, NULL);
    if (root == NULL) return;
    json_t *code = json_object_get(root, "code");
    if (json_is_integer(code) && json_integer_value(code) >= INT32_MIN &&
        json_integer_value(code) <= INT32_MAX)
        out->code = (int)json_integer_value(code);
    const char *msg = json_string_value(json_object_get(root, "msg"));
    if (msg != NULL) snprintf(out->msg, sizeof out->msg, "%s", msg);
    json_decref(root);
}

bn_error_class bn_classify(int http_status, int code)
{
    if (http_status >= 200 && http_status < 300) return BN_OK;
    if (http_status == 418) return BN_BANNED;
    if (http_status == 429) return BN_RATE_LIMITED;
    switch (code) {
    case -1006: /* UNEXPECTED_RESP: "Execution status unknown." */
    case -1007: /* TIMEOUT: "execution status unknown" */
        return BN_AMBIGUOUS;
    case -1003: /* TOO_MANY_REQUESTS */
    case -1015: /* TOO_MANY_ORDERS */
        return BN_RATE_LIMITED;
    case -1021:
        return BN_CLOCK;
    case -2013: /* NO_SUCH_ORDER */
    case -2011: /* CANCEL_REJECTED: "Unknown order sent." */
        return BN_UNKNOWN_ORDER;
    case -1002: /* UNAUTHORIZED */
    case -1022: /* INVALID_SIGNATURE */
    case -2014: /* BAD_API_KEY_FMT */
    case -2015: /* REJECTED_MBX_KEY */
        return BN_AUTH;
    default:
        break;
    }
    /* rest-api.md: a 5xx "could have been a success". */
    if (http_status >= 500) return BN_AMBIGUOUS;
    if (http_status == 401) return BN_AUTH;
    /* Without an HTTP status (a WebSocket API frame's error alone), no code
     * means no error. */
    if (http_status == 0 && code == 0) return BN_OK;
    return BN_REJECTED;
}

/* The reason of "Filter failure: NAME" by the filter's name. */
static tb_reject_reason filter_reason(const char *name)
{
    if (strncmp(name, "PRICE_FILTER", 12) == 0 || strncmp(name, "PERCENT_PRICE", 13) == 0)
        return TB_REJECT_INVALID_PRICE;
    if (strncmp(name, "LOT_SIZE", 8) == 0 || strncmp(name, "MARKET_LOT_SIZE", 15) == 0 ||
        strncmp(name, "MIN_NOTIONAL", 12) == 0 || strncmp(name, "NOTIONAL", 8) == 0)
        return TB_REJECT_INVALID_QUANTITY;
    return TB_REJECT_EXCHANGE; /* MAX_NUM_ORDERS, MAX_POSITION, TRAILING_DELTA... */
}

tb_reject_reason bn_reject_reason(int code, const char *msg)
{
    if (msg == NULL) msg = "";
    const char *ff = strstr(msg, "Filter failure: ");
    if (ff != NULL) return filter_reason(ff + 16);
    switch (code) {
    case -1121: /* BAD_SYMBOL */
        return TB_REJECT_UNKNOWN_SYMBOL;
    case -1111: /* BAD_PRECISION: "Parameter '%s' has too much precision." */
    case -1100: /* ILLEGAL_CHARS: "... in parameter '%s' ..." */
        if (strstr(msg, "'quantity'") != NULL) return TB_REJECT_INVALID_QUANTITY;
        if (strstr(msg, "'price'") != NULL || strstr(msg, "'stopPrice'") != NULL)
            return TB_REJECT_INVALID_PRICE;
        return TB_REJECT_EXCHANGE;
    case -2010: /* NEW_ORDER_REJECTED: errors.md's matching-engine messages */
        if (strstr(msg, "insufficient balance") != NULL) return TB_REJECT_INSUFFICIENT_FUNDS;
        if (strstr(msg, "Duplicate order") != NULL) return TB_REJECT_DUPLICATE;
        return TB_REJECT_EXCHANGE;
    default:
        return TB_REJECT_EXCHANGE;
    }
}

/* ---- commission ------------------------------------------------------- */

int bn_commission_to_quote(tb_decimal commission, const char *asset, const bn_symbol_info *s,
                           tb_decimal price, tb_decimal other_price, tb_decimal *out)
{
    if (s == NULL || out == NULL) return TB_EINVAL;
    if (asset == NULL) asset = "";
    if (commission == 0) {
        /* No commission: Binance sends "N": null, the asset does not matter. */
        *out = 0;
        return 0;
    }
    if (asset[0] != '\0' && strcmp(asset, s->quote) == 0) {
        *out = commission;
        return 0;
    }
    tb_decimal rate;
    if (asset[0] != '\0' && strcmp(asset, s->base) == 0)
        rate = price;
    else
        rate = other_price;
    if (rate <= 0) return TB_ENOTFOUND;
    return tb_dec_mul(commission, rate, TB_ROUND_HALF_UP, out);
}

/* ---- market data ------------------------------------------------------ */

int bn_interval_ns(const char *interval, int64_t *ns)
{
    static const struct {
        const char *name;
        int64_t s;
    } iv[] = {
        {"1s", 1},     {"1m", 60},     {"3m", 180},   {"5m", 300},    {"15m", 900},
        {"30m", 1800}, {"1h", 3600},   {"2h", 7200},  {"4h", 14400},  {"6h", 21600},
        {"8h", 28800}, {"12h", 43200}, {"1d", 86400}, {"3d", 259200}, {"1w", 604800},
    };
    if (interval == NULL || ns == NULL) return TB_EINVAL;
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        if (strcmp(interval, iv[i].name) == 0) {
            *ns = iv[i].s * INT64_C(1000000000);
            return 0;
        }
    /* "1M" is Binance's too, but a month has no fixed length in ns. */
    if (strcmp(interval, "1M") == 0) return TB_ENOTSUP;
    return TB_EINVAL;
}
