/* libFuzzer harness: the Binance Spot protocol layer
 * (src/exchange/binance/bn_proto.h). Every byte Binance (or whatever
 * answers in its place) sends is untrusted: the input is fed to every
 * parser, and as text to the query builder, the signers and the reject
 * reasons.
 *
 * Checks besides "no crash, no leak, no UB": a refusal has a reason; what
 * parses keeps the documented promises (bars: high >= low, open and close
 * within them, volume >= 0, close time >= open time, REST klines rising;
 * counts within the room given); a query string is strictly
 * percent-encoded; a formatted decimal parses back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/exchange/binance/bn_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_binance: %s\n  %s\n", what, detail);
    abort();
}

/* A refusal other than "not found" and "full" must say why. */
static void check_refusal(int rc, const char *err, const char *who)
{
    if (rc != 0 && err[0] == '\0') fail("refused without a reason", who);
}

static void check_bar(const tb_market_data *b)
{
    if (b->open <= 0 || b->high <= 0 || b->low <= 0 || b->close <= 0)
        fail("a bar with a price that is not positive", b->symbol);
    if (b->volume < 0) fail("a bar with a negative volume", b->symbol);
    if (b->high < b->low || b->open > b->high || b->open < b->low || b->close > b->high ||
        b->close < b->low)
        fail("a bar outside its own range", b->symbol);
    if (b->close_time < b->open_time || b->open_time < 0) fail("a bar with bad times", b->symbol);
    if (memchr(b->symbol, '\0', sizeof b->symbol) == NULL) fail("symbol not terminated", "");
}

static void parse_all(const char *in, size_t size)
{
    char err[256];
    int rc;
    size_t n;

    int64_t limit = 0;
    rc = bn_parse_weight_limit(in, size, &limit);
    if (rc != 0 && rc != TB_ENOTFOUND) fail("weight limit: not 0 or TB_ENOTFOUND", "");
    if (rc == 0 && limit <= 0) fail("weight limit: not positive", "");

    bn_symbol_info si;
    err[0] = '\0';
    rc = bn_parse_exchange_info(in, size, "BTCUSDT", &si, err, sizeof err);
    check_refusal(rc, err, "exchangeInfo");
    if (rc == 0) {
        /* Whatever rules were read, checking orders against them is safe. */
        tb_order_placement_request req;
        memset(&req, 0, sizeof req);
        strcpy(req.symbol, "BTCUSDT");
        req.side = TB_SIDE_BUY;
        req.quantity = TB_DECIMAL_ONE / 1000;
        req.price = 42000 * TB_DECIMAL_ONE;
        static const tb_order_type types[] = {TB_ORDER_LIMIT, TB_ORDER_MARKET,
                                              TB_ORDER_STOP_MARKET};
        for (size_t i = 0; i < 3; i++) {
            req.order_type = types[i];
            req.stop_price = req.price;
            tb_reject_reason why;
            err[0] = '\0';
            rc = bn_check_order(&si, &req, req.price, &why, err, sizeof err);
            if (rc != 0 && rc != TB_EREJECTED) fail("bn_check_order failed oddly", err);
            if (rc == TB_EREJECTED && (err[0] == '\0' || why == TB_REJECT_NONE))
                fail("a rejection without reason", err);
        }
        tb_decimal q;
        rc = bn_commission_to_quote(si.min_notional, si.base, &si, si.max_price, 0, &q);
        if (rc != 0 && rc != TB_ENOTFOUND && rc != TB_EOVERFLOW) fail("commission", "");
    }

    bn_error be;
    bn_parse_error(in, size, &be);
    if (memchr(be.msg, '\0', sizeof be.msg) == NULL) fail("error msg not terminated", "");
    (void)bn_classify(be.code, be.code);
    (void)bn_reject_reason(be.code, be.msg);

    static bn_order orders[4];
    err[0] = '\0';
    rc = bn_parse_order(in, size, &orders[0], err, sizeof err);
    check_refusal(rc, err, "order");
    if ((rc == 0 || rc == TB_EFULL) && orders[0].nfills > BN_MAX_FILLS) fail("too many fills", "");
    err[0] = '\0';
    rc = bn_parse_orders(in, size, orders, 4, &n, err, sizeof err);
    check_refusal(rc, err, "orders");
    if (n > 4) fail("more orders than room", "");

    bn_trade trades[4];
    err[0] = '\0';
    rc = bn_parse_trades(in, size, trades, 4, &n, err, sizeof err);
    check_refusal(rc, err, "trades");
    if (n > 4) fail("more trades than room", "");

    bn_balance bal[4];
    err[0] = '\0';
    rc = bn_parse_account(in, size, bal, 4, &n, err, sizeof err);
    check_refusal(rc, err, "account");
    if (n > 4) fail("more balances than room", "");

    int64_t ms;
    err[0] = '\0';
    rc = bn_parse_server_time(in, size, &ms, err, sizeof err);
    check_refusal(rc, err, "time");

    tb_market_data bars[8];
    err[0] = '\0';
    rc = bn_parse_klines(in, size, "BTCUSDT", bars, 8, &n, err, sizeof err);
    check_refusal(rc, err, "klines");
    if (n > 8) fail("more bars than room", "");
    for (size_t i = 0; i < n; i++) {
        check_bar(&bars[i]);
        if (i > 0 && (bars[i].open_time <= bars[i - 1].open_time ||
                      bars[i].close_time <= bars[i - 1].close_time))
            fail("klines not rising", "");
    }

    tb_market_data bar;
    int closed;
    err[0] = '\0';
    rc = bn_parse_kline_event(in, size, &bar, &closed, err, sizeof err);
    check_refusal(rc, err, "kline event");
    if (rc == 0) {
        check_bar(&bar);
        if (closed != 0 && closed != 1) fail("closed is no flag", "");
    }

    bn_ws_frame f;
    err[0] = '\0';
    rc = bn_parse_ws_frame(in, size, &f, err, sizeof err);
    check_refusal(rc, err, "ws frame");
    if (rc == 0) {
        if (f.kind < BN_WS_RESPONSE || f.kind > BN_WS_OTHER_EVENT) fail("unknown frame kind", "");
        if (memchr(f.id, '\0', sizeof f.id) == NULL) fail("id not terminated", "");
        if (f.kind == BN_WS_EXEC_REPORT && f.er.trade_id < -1) fail("trade id below -1", "");
    }
}

/* Only A-Z a-z 0-9 - . _ ~, '=' and '&' between pairs, and %XX (upper). */
static void check_encoded(const char *s)
{
    for (const char *p = s; *p; p++) {
        char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '=' || c == '&')
            continue;
        if (c == '%') {
            for (int k = 1; k <= 2; k++) {
                char h = p[k];
                if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F')))
                    fail("bad percent-escape in a query", s);
            }
            p += 2;
            continue;
        }
        fail("a raw byte the strict encoding must escape", s);
    }
}

static void query_all(const char *text)
{
    bn_query q;
    bn_query_init(&q);
    bn_query_add(&q, "symbol", text);
    bn_query_add(&q, text, "x");
    char out[BN_QUERY_MAX];
    int rc = bn_query_sign(&q, "secret", 1700000000000, 5000, out, sizeof out);
    if (rc == 0)
        check_encoded(out);
    else if (rc != TB_EINVAL && rc != TB_EFULL)
        fail("bn_query_sign failed oddly", text);
    char sig[65];
    rc = bn_ws_signature(&q, "secret", sig);
    if (rc == 0 && strlen(sig) != 64) fail("a signature that is not 64 hex digits", sig);
    (void)bn_reject_reason(-1013, text);
    (void)bn_reject_reason(-2010, text);
    (void)bn_reject_reason(-1111, text);
    int64_t ns;
    (void)bn_interval_ns(text, &ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_all((const char *)data, size);

    /* The same bytes as text (up to the first NUL). */
    char *text = malloc(size + 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    query_all(text);
    free(text);

    /* The first 8 bytes as a decimal: formatted plainly, read back exactly. */
    if (size >= 8) {
        int64_t v;
        memcpy(&v, data, 8);
        if (v != INT64_MIN) {
            char buf[32];
            int n = bn_format_decimal(v, buf, sizeof buf);
            if (n <= 0) fail("a decimal did not format", "");
            tb_decimal back;
            if (tb_dec_parse(buf, (size_t)n, &back) != 0 || back != v)
                fail("a formatted decimal does not read back", buf);
            if (strpbrk(buf, "eE+") != NULL) fail("exponent or plus in a decimal", buf);
        }
    }
    return 0;
}
