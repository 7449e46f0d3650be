/* The fake exchange: one account, symbols with Binance's filters, orders,
 * scripted liquidity, trades, the user data events all of these produce,
 * and the kline history.
 *
 * Liquidity is scripted, never invented: an incoming order matches the
 * symbol's scripted book (asks for a buy, bids for a sell, best first,
 * consuming it); when that side of the book is empty and a last price is
 * set, the last price is unlimited liquidity; otherwise nothing fills. A
 * resting order only fills when a test says so (fb_ex_fill). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fb.h"

static const char *const side_names[] = {"BUY", "SELL"};
static const char *const type_names[FB_NTYPES] = {
    "LIMIT",           "MARKET",      "LIMIT_MAKER",      "STOP_LOSS",
    "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"};
static const char *const tif_names[] = {"GTC", "IOC", "FOK"};
static const char *const status_names[] = {"NEW",      "PARTIALLY_FILLED", "FILLED",
                                           "CANCELED", "REJECTED",         "EXPIRED"};

const char *fb_side_name(int side)
{
    return side_names[side & 1];
}

const char *fb_type_name(int type)
{
    return type >= 0 && type < FB_NTYPES ? type_names[type] : "?";
}

const char *fb_tif_name(int tif)
{
    /* Binance reports GTC for orders that take no timeInForce (MARKET). */
    return tif >= 0 && tif < FB_NO_TIF ? tif_names[tif] : "GTC";
}

const char *fb_status_name(int status)
{
    return status >= 0 && status <= FB_ST_EXPIRED ? status_names[status] : "?";
}

int fb_status_open(int status)
{
    return status == FB_ST_NEW || status == FB_ST_PARTIALLY_FILLED;
}

static int is_stop(int type)
{
    return type >= FB_STOP_LOSS;
}

/* Priced types: the order carries a limit price. */
static int has_price(int type)
{
    return type == FB_LIMIT || type == FB_LIMIT_MAKER || type == FB_STOP_LOSS_LIMIT ||
           type == FB_TAKE_PROFIT_LIMIT;
}

void fb_error_set(fb_error *e, int status, int code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(fb_ex *ex)
{
    return ex->now ? ex->now(ex->now_ctx) : 0;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* ---- lifecycle ---- */

void fb_ex_init(fb_ex *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->next_order_id = 10001;
    ex->next_trade_id = 50001;
    ex->next_exec_id = 1;
    ex->next_auto_id = 1;
    ex->maker_rate = FB_SCALE / 1000; /* 0.1 %, Binance's base rate */
    ex->taker_rate = FB_SCALE / 1000;
    ex->check_balances = 1;
}

void fb_ex_free(fb_ex *ex)
{
    for (size_t i = 0; i < ex->nsymbols; i++) {
        free(ex->symbols[i].bids);
        free(ex->symbols[i].asks);
    }
    free(ex->symbols);
    free(ex->balances);
    for (size_t i = 0; i < ex->norders; i++)
        free(ex->orders[i]);
    free(ex->orders);
    free(ex->trades);
    for (size_t i = 0; i < ex->nseries; i++)
        free(ex->series[i].v);
    free(ex->series);
}

static void add_default_symbol(fb_ex *ex, const char *name, const char *base, const char *quote,
                               fb_dec step, fb_dec mkt_max)
{
    fb_symbol *s = fb_ex_symbol_add(ex, name);
    copy(s->base, sizeof s->base, base);
    copy(s->quote, sizeof s->quote, quote);
    s->min_price = FB_SCALE / 100;
    s->max_price = FB_DEC(1000000);
    s->tick = FB_SCALE / 100;
    s->min_qty = step;
    s->max_qty = FB_DEC(9000);
    s->step = step;
    s->mkt_max_qty = mkt_max;
    s->min_notional = FB_DEC(5);
    s->max_notional = FB_DEC(9000000);
    s->apply_min_to_market = 1;
}

void fb_ex_reset(fb_ex *ex, int defaults)
{
    int64_t (*now)(void *) = ex->now;
    void *now_ctx = ex->now_ctx;
    void (*emit)(void *, json_t *) = ex->emit;
    void *emit_ctx = ex->emit_ctx;
    fb_ex_free(ex);
    fb_ex_init(ex);
    ex->now = now;
    ex->now_ctx = now_ctx;
    ex->emit = emit;
    ex->emit_ctx = emit_ctx;
    if (!defaults) return;
    /* Filters as Binance publishes them for these symbols (2026). */
    add_default_symbol(ex, "BTCUSDT", "BTC", "USDT", FB_SCALE / 100000, FB_DEC(100));
    add_default_symbol(ex, "ETHUSDT", "ETH", "USDT", FB_SCALE / 10000, FB_DEC(3000));
    add_default_symbol(ex, "BNBUSDT", "BNB", "USDT", FB_SCALE / 1000, FB_DEC(5000));
    fb_ex_set_balance(ex, "USDT", FB_DEC(1000000), 0);
    fb_ex_set_balance(ex, "BTC", FB_DEC(10), 0);
    fb_ex_set_balance(ex, "ETH", FB_DEC(100), 0);
    fb_ex_set_balance(ex, "BNB", FB_DEC(100), 0);
}

/* ---- symbols and balances ---- */

fb_symbol *fb_ex_symbol(fb_ex *ex, const char *name)
{
    for (size_t i = 0; name && i < ex->nsymbols; i++)
        if (!strcmp(ex->symbols[i].name, name)) return &ex->symbols[i];
    return NULL;
}

fb_symbol *fb_ex_symbol_add(fb_ex *ex, const char *name)
{
    fb_symbol *s = fb_ex_symbol(ex, name);
    if (s) return s;
    ex->symbols = fb_xrealloc(ex->symbols, (ex->nsymbols + 1) * sizeof *ex->symbols);
    s = &ex->symbols[ex->nsymbols++];
    memset(s, 0, sizeof *s);
    copy(s->name, sizeof s->name, name);
    copy(s->status, sizeof s->status, "TRADING");
    s->avg_price_mins = 5;
    return s;
}

static int cmp_asc(const void *a, const void *b)
{
    const fb_level *x = a, *y = b;
    return (x->price > y->price) - (x->price < y->price);
}

static int cmp_desc(const void *a, const void *b)
{
    return cmp_asc(b, a);
}

void fb_symbol_set_book(fb_symbol *s, int side, const fb_level *lv, size_t n)
{
    fb_level **dst = side == FB_BUY ? &s->bids : &s->asks;
    size_t *dn = side == FB_BUY ? &s->nbids : &s->nasks;
    free(*dst);
    *dst = n ? fb_xrealloc(NULL, n * sizeof *lv) : NULL;
    if (n) memcpy(*dst, lv, n * sizeof *lv);
    *dn = n;
    if (n) qsort(*dst, n, sizeof *lv, side == FB_BUY ? cmp_desc : cmp_asc);
}

fb_balance *fb_ex_balance(fb_ex *ex, const char *asset, int create)
{
    for (size_t i = 0; i < ex->nbalances; i++)
        if (!strcmp(ex->balances[i].asset, asset)) return &ex->balances[i];
    if (!create) return NULL;
    ex->balances = fb_xrealloc(ex->balances, (ex->nbalances + 1) * sizeof *ex->balances);
    fb_balance *b = &ex->balances[ex->nbalances++];
    memset(b, 0, sizeof *b);
    copy(b->asset, sizeof b->asset, asset);
    return b;
}

/* The assets an operation changed, for its outboundAccountPosition. */
typedef struct {
    char a[8][16];
    int n;
} touched_t;

static void touch(touched_t *t, const char *asset)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->a[i], asset)) return;
    if (t->n < 8) copy(t->a[t->n++], sizeof t->a[0], asset);
}

static void emit(fb_ex *ex, json_t *ev)
{
    if (ex->emit)
        ex->emit(ex->emit_ctx, ev);
    else
        json_decref(ev);
}

static void emit_position(fb_ex *ex, const touched_t *t)
{
    if (!t->n) return;
    int64_t now = now_ms(ex);
    ex->update_time = now;
    json_t *arr = json_array();
    for (int i = 0; i < t->n; i++) {
        fb_balance *b = fb_ex_balance(ex, t->a[i], 1);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o}", "a", b->asset, "f",
                                             fb_dec_json(b->free), "l", fb_dec_json(b->locked)));
    }
    emit(ex, json_pack("{s:s,s:I,s:I,s:o}", "e", "outboundAccountPosition", "E", (json_int_t)now,
                       "u", (json_int_t)now, "B", arr));
}

void fb_ex_set_balance(fb_ex *ex, const char *asset, fb_dec free_, fb_dec locked)
{
    fb_balance *b = fb_ex_balance(ex, asset, 1);
    b->free = free_;
    b->locked = locked;
}

void fb_ex_balance_delta(fb_ex *ex, const char *asset, fb_dec delta)
{
    fb_balance *b = fb_ex_balance(ex, asset, 1);
    b->free += delta;
    int64_t now = now_ms(ex);
    emit(ex, json_pack("{s:s,s:I,s:s,s:o,s:I}", "e", "balanceUpdate", "E", (json_int_t)now, "a",
                       asset, "d", fb_dec_json(delta), "T", (json_int_t)now));
    touched_t t = {.n = 0};
    touch(&t, asset);
    emit_position(ex, &t);
}

/* ---- orders ---- */

fb_order *fb_ex_order_by_id(fb_ex *ex, const char *symbol, int64_t id)
{
    for (size_t i = 0; i < ex->norders; i++)
        if (ex->orders[i]->id == id && (!symbol || !strcmp(ex->orders[i]->symbol, symbol)))
            return ex->orders[i];
    return NULL;
}

fb_order *fb_ex_order_by_client(fb_ex *ex, const char *symbol, const char *client_id)
{
    for (size_t i = ex->norders; i-- > 0;)
        if (!strcmp(ex->orders[i]->client_id, client_id) &&
            (!symbol || !strcmp(ex->orders[i]->symbol, symbol)))
            return ex->orders[i];
    return NULL;
}

static json_t *opt_dec(fb_dec v)
{
    return fb_dec_json(v);
}

static void emit_report(fb_ex *ex, const fb_order *o, const char *x, const fb_trade *t,
                        const char *c, const char *orig, int times)
{
    int64_t now = now_ms(ex);
    int working = fb_status_open(o->status) && !(is_stop(o->type) && o->working_time < 0);
    for (int k = 0; k < times; k++) {
        json_t *e = json_object();
        json_object_set_new(e, "e", json_string("executionReport"));
        json_object_set_new(e, "E", json_integer(now));
        json_object_set_new(e, "s", json_string(o->symbol));
        json_object_set_new(e, "c", json_string(c ? c : o->client_id));
        json_object_set_new(e, "S", json_string(fb_side_name(o->side)));
        json_object_set_new(e, "o", json_string(fb_type_name(o->type)));
        json_object_set_new(e, "f", json_string(fb_tif_name(o->tif)));
        json_object_set_new(e, "q", opt_dec(o->qty));
        json_object_set_new(e, "p", opt_dec(o->price));
        json_object_set_new(e, "P", opt_dec(o->stop_price));
        json_object_set_new(e, "F", opt_dec(o->iceberg_qty));
        json_object_set_new(e, "g", json_integer(-1));
        json_object_set_new(e, "C", json_string(orig ? orig : ""));
        json_object_set_new(e, "x", json_string(x));
        json_object_set_new(e, "X", json_string(fb_status_name(o->status)));
        json_object_set_new(e, "r", json_string("NONE"));
        json_object_set_new(e, "i", json_integer(o->id));
        json_object_set_new(e, "l", opt_dec(t ? t->qty : 0));
        json_object_set_new(e, "z", opt_dec(o->executed));
        json_object_set_new(e, "L", opt_dec(t ? t->price : 0));
        json_object_set_new(e, "n", t ? fb_dec_json(t->commission) : json_string("0"));
        json_object_set_new(e, "N", t ? json_string(t->commission_asset) : json_null());
        json_object_set_new(e, "T", json_integer(t ? t->time : o->update_time));
        json_object_set_new(e, "t", json_integer(t ? t->id : -1));
        json_object_set_new(e, "I", json_integer(ex->next_exec_id));
        json_object_set_new(e, "w", json_boolean(working));
        json_object_set_new(e, "m", json_boolean(t && t->is_maker));
        json_object_set_new(e, "M", json_false());
        json_object_set_new(e, "O", json_integer(o->time));
        json_object_set_new(e, "Z", opt_dec(o->cum_quote));
        json_object_set_new(e, "Y", opt_dec(t ? t->quote_qty : 0));
        json_object_set_new(e, "Q", opt_dec(o->quote_qty));
        if (working) json_object_set_new(e, "W", json_integer(o->working_time));
        json_object_set_new(e, "V", json_string("NONE"));
        if (o->trailing_delta) json_object_set_new(e, "d", json_integer(o->trailing_delta));
        if (o->status == FB_ST_EXPIRED && o->expiry_reason[0])
            json_object_set_new(e, "eR", json_string(o->expiry_reason));
        emit(ex, e);
    }
    /* A duplicate is the same execution sent again: one execution id. */
    ex->next_exec_id++;
}

static fb_dec floor_step(fb_dec x, fb_dec step)
{
    return step > 0 ? x - x % step : x;
}

/* Releases what an order still has locked. */
static void release_lock(fb_ex *ex, fb_order *o, touched_t *t)
{
    if (!o->locked) return;
    fb_symbol *s = fb_ex_symbol(ex, o->symbol);
    const char *asset = o->side == FB_BUY ? s->quote : s->base;
    fb_balance *b = fb_ex_balance(ex, asset, 1);
    b->locked -= o->locked;
    b->free += o->locked;
    o->locked = 0;
    touch(t, asset);
}

static fb_dec commission_for(fb_ex *ex, const fb_symbol *s, int side, fb_dec qty, fb_dec quote,
                             int maker, const char **asset)
{
    fb_dec rate = maker ? ex->maker_rate : ex->taker_rate;
    const char *ca = ex->commission_asset;
    if (!ca[0]) ca = side == FB_BUY ? s->base : s->quote;
    *asset = ca;
    if (!strcmp(ca, s->base)) return fb_dec_mul(qty, rate);
    if (!strcmp(ca, s->quote)) return fb_dec_mul(quote, rate);
    return fb_dec_div(fb_dec_mul(quote, rate), ex->commission_asset_price);
}

/* One execution against the order: the trade, balances, status, report. */
static size_t do_fill(fb_ex *ex, fb_symbol *s, fb_order *o, fb_dec price, fb_dec qty, int maker,
                      fb_dec commission, const char *casset, int times, touched_t *t)
{
    if (ex->ntrades == ex->ctrades) {
        ex->ctrades = ex->ctrades ? ex->ctrades * 2 : 64;
        ex->trades = fb_xrealloc(ex->trades, ex->ctrades * sizeof *ex->trades);
    }
    size_t ti = ex->ntrades++;
    fb_trade *tr = &ex->trades[ti];
    memset(tr, 0, sizeof *tr);
    tr->id = ex->next_trade_id++;
    tr->order_id = o->id;
    tr->time = now_ms(ex);
    copy(tr->symbol, sizeof tr->symbol, o->symbol);
    tr->price = price;
    tr->qty = qty;
    tr->quote_qty = fb_dec_mul(price, qty);
    tr->is_buyer = o->side == FB_BUY;
    tr->is_maker = maker;
    const char *dflt_asset;
    fb_dec dflt = commission_for(ex, s, o->side, qty, tr->quote_qty, maker, &dflt_asset);
    tr->commission = commission >= 0 ? commission : dflt;
    copy(tr->commission_asset, sizeof tr->commission_asset,
         casset && casset[0] ? casset : dflt_asset);

    o->executed += qty;
    o->cum_quote += tr->quote_qty;
    o->status = o->executed >= o->qty ? FB_ST_FILLED : FB_ST_PARTIALLY_FILLED;
    o->update_time = tr->time;

    fb_balance *base = fb_ex_balance(ex, s->base, 1);
    fb_balance *quote = fb_ex_balance(ex, s->quote, 1);
    if (o->side == FB_BUY) {
        base->free += qty;
        if (o->locked) {
            /* The lock was taken at the order's price; the fill may be better. */
            fb_dec rel = o->status == FB_ST_FILLED ? o->locked : fb_dec_mul(o->price, qty);
            if (rel > o->locked) rel = o->locked;
            o->locked -= rel;
            quote->locked -= rel;
            quote->free += rel;
        }
        quote->free -= tr->quote_qty;
    } else {
        fb_dec rel = qty < o->locked ? qty : o->locked;
        o->locked -= rel;
        base->locked -= rel;
        base->free -= qty - rel;
        quote->free += tr->quote_qty;
    }
    fb_balance *cb = fb_ex_balance(ex, tr->commission_asset, 1);
    cb->free -= tr->commission;
    touch(t, s->base);
    touch(t, s->quote);
    touch(t, tr->commission_asset);
    if (o->status == FB_ST_FILLED) release_lock(ex, o, t);
    emit_report(ex, o, "TRADE", tr, NULL, NULL, times);
    return ti;
}

static void missing(fb_error *err, const char *name)
{
    fb_error_set(err, 400, -1102,
                 "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", name);
}

static int parse_enum(const char *v, const char *const *names, int n)
{
    for (int i = 0; v && i < n; i++)
        if (!strcmp(v, names[i])) return i;
    return -1;
}

/* A decimal parameter; 1 if present and valid, 0 if absent, -1 on error. */
static int dec_param(const char *name, const char *v, fb_dec *out, fb_error *err)
{
    if (!v) return 0;
    switch (fb_dec_parse(v, out)) {
    case FB_DEC_OK:
        return 1;
    case FB_DEC_PRECISION:
        fb_error_set(err, 400, -1111, "Parameter '%s' has too much precision.", name);
        return -1;
    case FB_DEC_OVERFLOW:
        fb_error_set(err, 400, -1108, "Parameter '%s' overflowed.", name);
        return -1;
    default:
        fb_error_set(err, 400, -1100,
                     "Illegal characters found in parameter '%s'; legal range is "
                     "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
                     name);
        return -1;
    }
}

static int client_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 36) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int filter_fail(fb_error *err, const char *name)
{
    fb_error_set(err, 400, -1013, "Filter failure: %s", name);
    return -1;
}

static int check_filters(const fb_symbol *s, const fb_order *o, fb_error *err)
{
    if (has_price(o->type) || o->stop_price) {
        fb_dec ps[2] = {has_price(o->type) ? o->price : -1, o->stop_price ? o->stop_price : -1};
        for (int i = 0; i < 2; i++) {
            fb_dec p = ps[i];
            if (p < 0) continue;
            if (p <= 0 || (s->min_price && p < s->min_price) ||
                (s->max_price && p > s->max_price) || (s->tick && p % s->tick))
                return filter_fail(err, "PRICE_FILTER");
        }
    }
    if (!(o->type == FB_MARKET && o->quote_qty)) {
        if (o->qty < s->min_qty || o->qty <= 0 || (s->max_qty && o->qty > s->max_qty) ||
            (s->step && o->qty % s->step))
            return filter_fail(err, "LOT_SIZE");
        if (o->type == FB_MARKET &&
            (o->qty < s->mkt_min_qty || (s->mkt_max_qty && o->qty > s->mkt_max_qty) ||
             (s->mkt_step && o->qty % s->mkt_step)))
            return filter_fail(err, "MARKET_LOT_SIZE");
    }
    /* MARKET orders are checked at the last price, Binance's average price
     * standing in; with no price known the check is skipped. */
    const char *nname = s->legacy_min_notional ? "MIN_NOTIONAL" : "NOTIONAL";
    fb_dec ref = o->type == FB_MARKET || o->type == FB_STOP_LOSS || o->type == FB_TAKE_PROFIT
                     ? s->last_price
                     : o->price;
    int market = !has_price(o->type);
    fb_dec notional = o->quote_qty ? o->quote_qty : fb_dec_mul(ref, o->qty);
    if (ref || o->quote_qty) {
        if ((!market || s->apply_min_to_market) && notional < s->min_notional)
            return filter_fail(err, nname);
        if (!s->legacy_min_notional && s->max_notional && (!market || s->apply_max_to_market) &&
            notional > s->max_notional)
            return filter_fail(err, nname);
    }
    return 0;
}

typedef struct {
    fb_dec price, qty;
    long idx; /* book level, -1 for the last price */
} fill_plan;

typedef struct {
    fill_plan *v;
    size_t n, cap;
} plan_t;

static void plan_add(plan_t *pl, fb_dec price, fb_dec qty, long idx)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 8;
        pl->v = fb_xrealloc(pl->v, pl->cap * sizeof *pl->v);
    }
    pl->v[pl->n++] = (fill_plan){price, qty, idx};
}

/* What the order would take now: quantity-bound, or budget-bound (a
 * quoteOrderQty MARKET order), each fill a multiple of the step size. */
static fb_dec plan_fills(const fb_symbol *s, const fb_order *o, plan_t *pl)
{
    int buy = o->side == FB_BUY;
    const fb_level *lv = buy ? s->asks : s->bids;
    size_t n = buy ? s->nasks : s->nbids;
    int priced = has_price(o->type);
    int by_budget = o->quote_qty > 0 && !o->qty;
    fb_dec remaining = o->qty - o->executed, budget = o->quote_qty, total = 0;
    if (n) {
        for (size_t i = 0; i < n; i++) {
            fb_dec p = lv[i].price, q = lv[i].qty;
            if (priced && (buy ? p > o->price : p < o->price)) break;
            if (by_budget) {
                fb_dec maxq = floor_step(fb_dec_div(budget, p), s->step);
                if (q > maxq) q = maxq;
            } else if (q > remaining) {
                q = remaining;
            }
            if (q <= 0) break;
            plan_add(pl, p, q, (long)i);
            total += q;
            remaining -= q;
            budget -= fb_dec_mul(p, q);
        }
    } else if (s->last_price > 0) {
        fb_dec p = s->last_price;
        if (priced && (buy ? p > o->price : p < o->price)) return 0;
        fb_dec q = by_budget ? floor_step(fb_dec_div(budget, p), s->step) : remaining;
        if (q > 0) {
            plan_add(pl, p, q, -1);
            total = q;
        }
    }
    return total;
}

static void take_from_book(fb_symbol *s, int side, const plan_t *pl)
{
    fb_level *lv = side == FB_BUY ? s->asks : s->bids;
    size_t *n = side == FB_BUY ? &s->nasks : &s->nbids;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->v[i].idx >= 0) lv[pl->v[i].idx].qty -= pl->v[i].qty;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (lv[i].qty > 0) lv[k++] = lv[i];
    *n = k;
    s->last_price = pl->n ? pl->v[pl->n - 1].price : s->last_price;
}

static fb_order *new_order(fb_ex *ex)
{
    if (ex->norders == ex->corders) {
        ex->corders = ex->corders ? ex->corders * 2 : 64;
        ex->orders = fb_xrealloc(ex->orders, ex->corders * sizeof *ex->orders);
    }
    fb_order *o = fb_xrealloc(NULL, sizeof *o);
    memset(o, 0, sizeof *o);
    return o;
}

static void auto_client_id(fb_ex *ex, char *out, size_t n)
{
    /* Binance generates 22 random characters; a counter keeps runs repeatable. */
    snprintf(out, n, "fakeauto%014" PRId64, ex->next_auto_id++);
}

int fb_ex_place(fb_ex *ex, const fb_order_req *rq, fb_order **out, size_t *first_trade,
                fb_error *err)
{
    fb_order ord, *o = &ord;
    memset(o, 0, sizeof *o);
    if (!rq->symbol || !*rq->symbol) return missing(err, "symbol"), -1;
    if (!rq->side || !*rq->side) return missing(err, "side"), -1;
    if (!rq->type || !*rq->type) return missing(err, "type"), -1;
    fb_symbol *s = fb_ex_symbol(ex, rq->symbol);
    if (!s) return fb_error_set(err, 400, -1121, "Invalid symbol."), -1;
    copy(o->symbol, sizeof o->symbol, rq->symbol);
    if ((o->side = parse_enum(rq->side, side_names, 2)) < 0)
        return fb_error_set(err, 400, -1117, "Invalid side."), -1;
    if ((o->type = parse_enum(rq->type, type_names, FB_NTYPES)) < 0)
        return fb_error_set(err, 400, -1116, "Invalid orderType."), -1;
    int needs_tif =
        o->type == FB_LIMIT || o->type == FB_STOP_LOSS_LIMIT || o->type == FB_TAKE_PROFIT_LIMIT;
    if (rq->time_in_force) {
        if (!needs_tif)
            return fb_error_set(err, 400, -1114, "TimeInForce parameter sent when not required."),
                   -1;
        if ((o->tif = parse_enum(rq->time_in_force, tif_names, 3)) < 0)
            return fb_error_set(err, 400, -1115, "Invalid timeInForce."), -1;
    } else if (needs_tif) {
        return missing(err, "timeInForce"), -1;
    } else {
        o->tif = o->type == FB_LIMIT_MAKER ? FB_GTC : FB_NO_TIF;
    }
    int r;
    if ((r = dec_param("price", rq->price, &o->price, err)) < 0) return -1;
    if (has_price(o->type) && !r) return missing(err, "price"), -1;
    if (!has_price(o->type) && r)
        return fb_error_set(err, 400, -1106, "Parameter 'price' sent when not required."), -1;
    int has_qty = dec_param("quantity", rq->quantity, &o->qty, err);
    if (has_qty < 0) return -1;
    int has_qq = dec_param("quoteOrderQty", rq->quote_order_qty, &o->quote_qty, err);
    if (has_qq < 0) return -1;
    if (o->type == FB_MARKET) {
        if (!has_qty && !has_qq)
            return fb_error_set(err, 400, -1102,
                                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were "
                                "empty/null!"),
                   -1;
        if (has_qty && has_qq)
            return fb_error_set(err, 400, -1106,
                                "Parameter 'quoteOrderQty' sent when not required."),
                   -1;
    } else {
        if (!has_qty) return missing(err, "quantity"), -1;
        if (has_qq)
            return fb_error_set(err, 400, -1106,
                                "Parameter 'quoteOrderQty' sent when not required."),
                   -1;
    }
    if ((r = dec_param("stopPrice", rq->stop_price, &o->stop_price, err)) < 0) return -1;
    if (rq->trailing_delta) {
        char *end;
        long long td = strtoll(rq->trailing_delta, &end, 10);
        if (*end || td <= 0)
            return fb_error_set(err, 400, -1102,
                                "Mandatory parameter 'trailingDelta' was not sent, was "
                                "empty/null, or malformed."),
                   -1;
        o->trailing_delta = td;
    }
    if (is_stop(o->type) && !r && !o->trailing_delta)
        return fb_error_set(err, 400, -1102,
                            "Param 'stopPrice' or 'trailingDelta' must be sent, but both were "
                            "empty/null!"),
               -1;
    if (!is_stop(o->type) && (r || o->trailing_delta))
        return fb_error_set(err, 400, -1106, "Parameter '%s' sent when not required.",
                            r ? "stopPrice" : "trailingDelta"),
               -1;
    if (dec_param("icebergQty", rq->iceberg_qty, &o->iceberg_qty, err) < 0) return -1;
    if (rq->new_client_order_id) {
        if (!client_id_ok(rq->new_client_order_id))
            return fb_error_set(err, 400, -1100,
                                "Illegal characters found in parameter 'newClientOrderId'; legal "
                                "range is '^[a-zA-Z0-9-_]{1,36}$'."),
                   -1;
        copy(o->client_id, sizeof o->client_id, rq->new_client_order_id);
    }
    if (strcmp(s->status, "TRADING")) return fb_error_set(err, 400, -2010, "Market is closed."), -1;
    if (check_filters(s, o, err)) return -1;
    if (o->client_id[0]) {
        fb_order *dup = fb_ex_order_by_client(ex, s->name, o->client_id);
        if (dup && fb_status_open(dup->status))
            return fb_error_set(err, 400, -2010, "Duplicate order sent."), -1;
    }
    plan_t pl = {0};
    fb_dec avail = is_stop(o->type) ? 0 : plan_fills(s, o, &pl);
    if (o->type == FB_LIMIT_MAKER && avail > 0) {
        free(pl.v);
        return fb_error_set(err, 400, -2010, "Order would immediately match and take."), -1;
    }
    /* Funds: a priced buy locks price × quantity of the quote asset, a sell
     * the quantity of the base asset; a MARKET buy needs what it would pay. */
    fb_balance *base = fb_ex_balance(ex, s->base, 1), *quote = fb_ex_balance(ex, s->quote, 1);
    fb_dec need = 0;
    int lock = has_price(o->type) || o->side == FB_SELL;
    if (o->side == FB_SELL) {
        need = o->qty;
    } else if (has_price(o->type)) {
        need = fb_dec_mul(o->price, o->qty);
    } else if (o->type == FB_MARKET) {
        for (size_t i = 0; i < pl.n; i++)
            need += fb_dec_mul(pl.v[i].price, pl.v[i].qty);
    }
    if (ex->check_balances && need > (o->side == FB_SELL ? base->free : quote->free)) {
        free(pl.v);
        return fb_error_set(err, 400, -2010,
                            "Account has insufficient balance for requested action."),
               -1;
    }

    /* Accepted. */
    if (!o->client_id[0]) auto_client_id(ex, o->client_id, sizeof o->client_id);
    int64_t now = now_ms(ex);
    o->id = ex->next_order_id++;
    o->time = o->update_time = now;
    o->working_time = is_stop(o->type) ? -1 : now;
    o->status = FB_ST_NEW;
    if (o->quote_qty && !o->qty) o->qty = avail;
    fb_order *po = new_order(ex);
    *po = *o;
    o = po;
    ex->orders[ex->norders++] = o;
    *out = o;
    *first_trade = ex->ntrades;
    touched_t t = {.n = 0};
    if (lock && need > 0 && o->type != FB_MARKET) {
        fb_balance *b = o->side == FB_BUY ? quote : base;
        b->free -= need;
        b->locked += need;
        o->locked = need;
        touch(&t, b->asset);
    }
    emit_report(ex, o, "NEW", NULL, NULL, NULL, 1);

    int fok_short = o->tif == FB_FOK && avail < o->qty;
    if (!fok_short && pl.n) {
        take_from_book(s, o->side, &pl);
        for (size_t i = 0; i < pl.n; i++)
            do_fill(ex, s, o, pl.v[i].price, pl.v[i].qty, 0, -1, NULL, 1, &t);
    }
    free(pl.v);
    if (fb_status_open(o->status) &&
        (o->type == FB_MARKET || o->tif == FB_IOC || o->tif == FB_FOK || !o->qty)) {
        o->status = FB_ST_EXPIRED;
        o->update_time = now;
        copy(o->expiry_reason, sizeof o->expiry_reason,
             o->tif == FB_FOK   ? "UNFILLED_FOK_ORDER_EXPIRED"
             : o->tif == FB_IOC ? "UNFILLED_IOC_QUANTITY_EXPIRED"
                                : "INSUFFICIENT_LIQUIDITY");
        release_lock(ex, o, &t);
        emit_report(ex, o, "EXPIRED", NULL, NULL, NULL, 1);
    }
    emit_position(ex, &t);
    return 0;
}

static int not_open(fb_error *err)
{
    fb_error_set(err, 400, -2011, "Unknown order sent.");
    return -1;
}

int fb_ex_cancel(fb_ex *ex, fb_order *o, const char *cancel_client_id, char *used_id,
                 size_t used_len, fb_error *err)
{
    if (!fb_status_open(o->status)) return not_open(err);
    char id[40];
    if (cancel_client_id && *cancel_client_id) {
        if (!client_id_ok(cancel_client_id))
            return fb_error_set(err, 400, -1100,
                                "Illegal characters found in parameter 'newClientOrderId'; legal "
                                "range is '^[a-zA-Z0-9-_]{1,36}$'."),
                   -1;
        copy(id, sizeof id, cancel_client_id);
    } else {
        auto_client_id(ex, id, sizeof id);
    }
    if (used_id) copy(used_id, used_len, id);
    touched_t t = {.n = 0};
    o->status = FB_ST_CANCELED;
    o->update_time = now_ms(ex);
    release_lock(ex, o, &t);
    emit_report(ex, o, "CANCELED", NULL, id, o->client_id, 1);
    emit_position(ex, &t);
    return 0;
}

int fb_ex_expire(fb_ex *ex, fb_order *o, const char *reason, fb_error *err)
{
    if (!fb_status_open(o->status)) return not_open(err);
    touched_t t = {.n = 0};
    o->status = FB_ST_EXPIRED;
    o->update_time = now_ms(ex);
    copy(o->expiry_reason, sizeof o->expiry_reason,
         reason && *reason ? reason : "EXCHANGE_CANCELED");
    release_lock(ex, o, &t);
    emit_report(ex, o, "EXPIRED", NULL, NULL, NULL, 1);
    emit_position(ex, &t);
    return 0;
}

int fb_ex_fill(fb_ex *ex, fb_order *o, fb_dec qty, fb_dec price, int maker, fb_dec commission,
               const char *commission_asset, int duplicate, fb_trade **out, fb_error *err)
{
    if (!fb_status_open(o->status)) return not_open(err);
    fb_symbol *s = fb_ex_symbol(ex, o->symbol);
    fb_dec left = o->qty - o->executed;
    if (qty <= 0) qty = left;
    if (qty > left)
        return fb_error_set(err, 400, -1, "fill of more than the order's remaining quantity"), -1;
    if (price <= 0) price = o->price ? o->price : s->last_price;
    if (price <= 0) return fb_error_set(err, 400, -1, "no price: give one"), -1;
    if (is_stop(o->type) && o->working_time < 0) o->working_time = now_ms(ex);
    touched_t t = {.n = 0};
    size_t ti =
        do_fill(ex, s, o, price, qty, maker, commission, commission_asset, duplicate ? 2 : 1, &t);
    s->last_price = price;
    emit_position(ex, &t);
    if (out) *out = &ex->trades[ti];
    return 0;
}

/* ---- JSON views ---- */

json_t *fb_order_json(fb_ex *ex, const fb_order *o, int form, size_t first_trade)
{
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(o->symbol));
    if (form == FB_ORDER_CANCEL)
        json_object_set_new(j, "origClientOrderId", json_string(o->client_id));
    json_object_set_new(j, "orderId", json_integer(o->id));
    json_object_set_new(j, "orderListId", json_integer(-1));
    json_object_set_new(j, "clientOrderId", json_string(o->client_id));
    if (form != FB_ORDER_QUERY)
        json_object_set_new(j, "transactTime", json_integer(o->update_time));
    if (form == FB_ORDER_ACK) return j;
    json_object_set_new(j, "price", fb_dec_json(o->price));
    json_object_set_new(j, "origQty", fb_dec_json(o->qty));
    json_object_set_new(j, "executedQty", fb_dec_json(o->executed));
    json_object_set_new(j, "origQuoteOrderQty", fb_dec_json(o->quote_qty));
    json_object_set_new(j, "cummulativeQuoteQty", fb_dec_json(o->cum_quote));
    json_object_set_new(j, "status", json_string(fb_status_name(o->status)));
    json_object_set_new(j, "timeInForce", json_string(fb_tif_name(o->tif)));
    json_object_set_new(j, "type", json_string(fb_type_name(o->type)));
    json_object_set_new(j, "side", json_string(fb_side_name(o->side)));
    if (is_stop(o->type) || form == FB_ORDER_QUERY)
        json_object_set_new(j, "stopPrice", fb_dec_json(o->stop_price));
    if (o->trailing_delta) json_object_set_new(j, "trailingDelta", json_integer(o->trailing_delta));
    if (form == FB_ORDER_QUERY) {
        json_object_set_new(j, "icebergQty", fb_dec_json(o->iceberg_qty));
        json_object_set_new(j, "time", json_integer(o->time));
        json_object_set_new(j, "updateTime", json_integer(o->update_time));
        json_object_set_new(j, "isWorking", json_boolean(o->working_time >= 0));
    }
    if (form != FB_ORDER_CANCEL)
        json_object_set_new(j, "workingTime", json_integer(o->working_time));
    json_object_set_new(j, "selfTradePreventionMode", json_string("NONE"));
    if (o->status == FB_ST_EXPIRED && o->expiry_reason[0])
        json_object_set_new(j, "expiryReason", json_string(o->expiry_reason));
    if (form == FB_ORDER_FULL) {
        json_t *fills = json_array();
        for (size_t i = first_trade; i < ex->ntrades; i++) {
            const fb_trade *t = &ex->trades[i];
            if (t->order_id != o->id) continue;
            json_array_append_new(fills,
                                  json_pack("{s:o,s:o,s:o,s:s,s:I}", "price", fb_dec_json(t->price),
                                            "qty", fb_dec_json(t->qty), "commission",
                                            fb_dec_json(t->commission), "commissionAsset",
                                            t->commission_asset, "tradeId", (json_int_t)t->id));
        }
        json_object_set_new(j, "fills", fills);
    }
    return j;
}

json_t *fb_trade_json(const fb_trade *t)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:s,s:I,s:b,s:b,s:b}", "symbol", t->symbol,
                     "id", (json_int_t)t->id, "orderId", (json_int_t)t->order_id, "orderListId",
                     (json_int_t)-1, "price", fb_dec_json(t->price), "qty", fb_dec_json(t->qty),
                     "quoteQty", fb_dec_json(t->quote_qty), "commission",
                     fb_dec_json(t->commission), "commissionAsset", t->commission_asset, "time",
                     (json_int_t)t->time, "isBuyer", t->is_buyer, "isMaker", t->is_maker,
                     "isBestMatch", 1);
}

json_t *fb_account_json(fb_ex *ex, int omit_zero)
{
    json_t *bal = json_array();
    for (size_t i = 0; i < ex->nbalances; i++) {
        const fb_balance *b = &ex->balances[i];
        if (omit_zero && !b->free && !b->locked) continue;
        json_array_append_new(bal,
                              json_pack("{s:s,s:o,s:o}", "asset", b->asset, "free",
                                        fb_dec_json(b->free), "locked", fb_dec_json(b->locked)));
    }
    /* makerCommission & co. are in basis points. */
    json_int_t mk = (json_int_t)(ex->maker_rate / (FB_SCALE / 10000));
    json_int_t tk = (json_int_t)(ex->taker_rate / (FB_SCALE / 10000));
    return json_pack("{s:I,s:I,s:I,s:I,s:{s:o,s:o,s:s,s:s},s:b,s:b,s:b,s:b,s:b,s:b,s:I,s:s,s:o,"
                     "s:[s],s:I}",
                     "makerCommission", mk, "takerCommission", tk, "buyerCommission", (json_int_t)0,
                     "sellerCommission", (json_int_t)0, "commissionRates", "maker",
                     fb_dec_json(ex->maker_rate), "taker", fb_dec_json(ex->taker_rate), "buyer",
                     "0.00000000", "seller", "0.00000000", "canTrade", 1, "canWithdraw", 1,
                     "canDeposit", 1, "brokered", 0, "requireSelfTradePrevention", 0, "preventSor",
                     0, "updateTime", (json_int_t)ex->update_time, "accountType", "SPOT",
                     "balances", bal, "permissions", "SPOT", "uid", (json_int_t)354937868);
}

json_t *fb_symbol_json(const fb_symbol *s)
{
    json_t *filters = json_array();
    json_array_append_new(filters,
                          json_pack("{s:s,s:o,s:o,s:o}", "filterType", "PRICE_FILTER", "minPrice",
                                    fb_dec_json(s->min_price), "maxPrice",
                                    fb_dec_json(s->max_price), "tickSize", fb_dec_json(s->tick)));
    json_array_append_new(filters,
                          json_pack("{s:s,s:o,s:o,s:o}", "filterType", "LOT_SIZE", "minQty",
                                    fb_dec_json(s->min_qty), "maxQty", fb_dec_json(s->max_qty),
                                    "stepSize", fb_dec_json(s->step)));
    if (s->legacy_min_notional)
        json_array_append_new(filters, json_pack("{s:s,s:o,s:b,s:i}", "filterType", "MIN_NOTIONAL",
                                                 "minNotional", fb_dec_json(s->min_notional),
                                                 "applyToMarket", s->apply_min_to_market,
                                                 "avgPriceMins", s->avg_price_mins));
    else
        json_array_append_new(filters,
                              json_pack("{s:s,s:o,s:b,s:o,s:b,s:i}", "filterType", "NOTIONAL",
                                        "minNotional", fb_dec_json(s->min_notional),
                                        "applyMinToMarket", s->apply_min_to_market, "maxNotional",
                                        fb_dec_json(s->max_notional), "applyMaxToMarket",
                                        s->apply_max_to_market, "avgPriceMins", s->avg_price_mins));
    json_array_append_new(filters, json_pack("{s:s,s:o,s:o,s:o}", "filterType", "MARKET_LOT_SIZE",
                                             "minQty", fb_dec_json(s->mkt_min_qty), "maxQty",
                                             fb_dec_json(s->mkt_max_qty), "stepSize",
                                             fb_dec_json(s->mkt_step)));
    json_t *types = json_array();
    for (int i = 0; i < FB_NTYPES; i++)
        json_array_append_new(types, json_string(type_names[i]));
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(s->name));
    json_object_set_new(j, "status", json_string(s->status));
    json_object_set_new(j, "baseAsset", json_string(s->base));
    json_object_set_new(j, "baseAssetPrecision", json_integer(8));
    json_object_set_new(j, "quoteAsset", json_string(s->quote));
    json_object_set_new(j, "quotePrecision", json_integer(8));
    json_object_set_new(j, "quoteAssetPrecision", json_integer(8));
    json_object_set_new(j, "baseCommissionPrecision", json_integer(8));
    json_object_set_new(j, "quoteCommissionPrecision", json_integer(8));
    json_object_set_new(j, "orderTypes", types);
    json_object_set_new(j, "icebergAllowed", json_true());
    json_object_set_new(j, "ocoAllowed", json_false());
    json_object_set_new(j, "otoAllowed", json_false());
    json_object_set_new(j, "opoAllowed", json_false());
    json_object_set_new(j, "quoteOrderQtyMarketAllowed", json_true());
    json_object_set_new(j, "allowTrailingStop", json_true());
    json_object_set_new(j, "cancelReplaceAllowed", json_false());
    json_object_set_new(j, "amendAllowed", json_false());
    json_object_set_new(j, "pegInstructionsAllowed", json_false());
    json_object_set_new(j, "isSpotTradingAllowed", json_true());
    json_object_set_new(j, "isMarginTradingAllowed", json_false());
    json_object_set_new(j, "filters", filters);
    json_object_set_new(j, "permissions", json_array());
    json_object_set_new(j, "permissionSets", json_pack("[[s]]", "SPOT"));
    json_object_set_new(j, "defaultSelfTradePreventionMode", json_string("NONE"));
    json_object_set_new(j, "allowedSelfTradePreventionModes", json_pack("[s]", "NONE"));
    return j;
}

/* ---- klines ---- */

static const struct {
    const char *name;
    int64_t ms;
} intervals[] = {
    {"1s", 1000},     {"1m", 60000},     {"3m", 180000},    {"5m", 300000},
    {"15m", 900000},  {"30m", 1800000},  {"1h", 3600000},   {"2h", 7200000},
    {"4h", 14400000}, {"6h", 21600000},  {"8h", 28800000},  {"12h", 43200000},
    {"1d", 86400000}, {"3d", 259200000}, {"1w", 604800000}, {"1M", 0},
};

int fb_interval_valid(const char *interval)
{
    for (size_t i = 0; interval && i < sizeof intervals / sizeof intervals[0]; i++)
        if (!strcmp(intervals[i].name, interval)) return 1;
    return 0;
}

int64_t fb_kline_close_time(const char *interval, int64_t open_time)
{
    for (size_t i = 0; i < sizeof intervals / sizeof intervals[0]; i++) {
        if (strcmp(intervals[i].name, interval)) continue;
        if (intervals[i].ms) return open_time + intervals[i].ms - 1;
        time_t t = (time_t)(open_time / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        tm.tm_mon += 1;
        return (int64_t)timegm(&tm) * 1000 - 1;
    }
    return open_time;
}

fb_kseries *fb_ex_series(fb_ex *ex, const char *symbol, const char *interval, int create)
{
    for (size_t i = 0; i < ex->nseries; i++)
        if (!strcmp(ex->series[i].symbol, symbol) && !strcmp(ex->series[i].interval, interval))
            return &ex->series[i];
    if (!create) return NULL;
    ex->series = fb_xrealloc(ex->series, (ex->nseries + 1) * sizeof *ex->series);
    fb_kseries *s = &ex->series[ex->nseries++];
    memset(s, 0, sizeof *s);
    copy(s->symbol, sizeof s->symbol, symbol);
    copy(s->interval, sizeof s->interval, interval);
    return s;
}

void fb_kseries_put(fb_kseries *s, const fb_kline *k)
{
    size_t i = s->n;
    while (i > 0 && s->v[i - 1].open_time > k->open_time)
        i--;
    if (i > 0 && s->v[i - 1].open_time == k->open_time) {
        s->v[i - 1] = *k;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = fb_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
    s->v[i] = *k;
    s->n++;
}

json_t *fb_kline_row(const fb_kline *k)
{
    return json_pack("[I,s,s,s,s,s,I,s,I,s,s,s]", (json_int_t)k->open_time, k->o, k->h, k->l, k->c,
                     k->v, (json_int_t)k->close_time, k->q, (json_int_t)k->trades, k->tv, k->tq,
                     "0");
}

json_t *fb_kline_event(const fb_kseries *s, const fb_kline *k, int64_t now)
{
    json_t *kk =
        json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:s,s:s,s:s,s:s}", "t",
                  (json_int_t)k->open_time, "T", (json_int_t)k->close_time, "s", s->symbol, "i",
                  s->interval, "f", (json_int_t)k->first_trade, "L", (json_int_t)k->last_trade, "o",
                  k->o, "c", k->c, "h", k->h, "l", k->l, "v", k->v, "n", (json_int_t)k->trades, "x",
                  k->closed, "q", k->q, "V", k->tv, "Q", k->tq, "B", "0");
    return json_pack("{s:s,s:I,s:s,s:o}", "e", "kline", "E", (json_int_t)now, "s", s->symbol, "k",
                     kk);
}
