/* The Binance Spot protocol layer (src/exchange/binance/bn_proto.h): signing
 * against the official documents' examples, query strings, numbers, trading
 * rules, error classification and the parsers of every reply the adapter
 * reads. Pure functions: no server, no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

#include "tradebus/marketdata.h"

#include "../src/exchange/binance/bn_proto.h"

/* The example key pair of rest-api.md and web-socket-api.md. */
#define DOC_API_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define DOC_SECRET  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

/* ---- signing ---------------------------------------------------------- */

/* rest-api.md, "SIGNED endpoint examples for POST /api/v3/order". */
static void test_hmac_matches_rest_api_example(void **state)
{
    (void)state;
    const char *payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                          "recvWindow=5000&timestamp=1499827319559";
    char sig[65];
    assert_int_equal(bn_sign_hmac(DOC_SECRET, payload, strlen(payload), sig), 0);
    assert_string_equal(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

static void doc_order_query(bn_query *q, const char *symbol)
{
    bn_query_init(q);
    bn_query_add(q, "symbol", symbol);
    bn_query_add(q, "side", "BUY");
    bn_query_add(q, "type", "LIMIT");
    bn_query_add(q, "timeInForce", "GTC");
    bn_query_add_dec(q, "quantity", tbt_dec("1"));
    bn_query_add_dec(q, "price", tbt_dec("0.1"));
}

static void test_signed_query_matches_rest_api_example(void **state)
{
    (void)state;
    bn_query q;
    doc_order_query(&q, "LTCBTC");
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1499827319559, 5000, out, sizeof out), 0);
    assert_string_equal(out,
                        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                        "recvWindow=5000&timestamp=1499827319559&signature="
                        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

/* rest-api.md's second example: the symbol １２３４５６ (full-width digits)
 * is percent-encoded, and the signature is over the encoded form. */
static void test_non_ascii_value_is_encoded_and_signed_encoded(void **state)
{
    (void)state;
    bn_query q;
    doc_order_query(&q, "\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93\xEF\xBC\x94\xEF\xBC\x95\xEF\xBC\x96");
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1499827319559, 5000, out, sizeof out), 0);
    assert_string_equal(out,
                        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&"
                        "type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&"
                        "timestamp=1499827319559&signature="
                        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3");
}

static void test_encoding_is_strict_with_upper_case_hex(void **state)
{
    (void)state;
    bn_query q;
    bn_query_init(&q);
    bn_query_add(&q, "a", "x y+z&w=v/~._-%");
    bn_query_add(&q, "symbols", "[\"BTCUSDT\",\"BNBBTC\"]");
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_encode(&q, out, sizeof out), 0);
    assert_string_equal(out, "a=x%20y%2Bz%26w%3Dv%2F~._-%25&"
                             "symbols=%5B%22BTCUSDT%22%2C%22BNBBTC%22%5D");
}

static void test_resigning_replaces_timestamp_instead_of_repeating_it(void **state)
{
    (void)state;
    bn_query q;
    doc_order_query(&q, "LTCBTC");
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1, 5000, out, sizeof out), 0);
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1499827319559, 5000, out, sizeof out), 0);
    assert_string_equal(out,
                        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                        "recvWindow=5000&timestamp=1499827319559&signature="
                        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

static void test_zero_recv_window_is_left_out(void **state)
{
    (void)state;
    bn_query q;
    bn_query_init(&q);
    bn_query_add(&q, "symbol", "BTCUSDT");
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1700000000000, 0, out, sizeof out), 0);
    assert_non_null(strstr(out, "symbol=BTCUSDT&timestamp=1700000000000&signature="));
    assert_null(strstr(out, "recvWindow"));
}

static void test_query_overflow_is_reported_once_at_the_end(void **state)
{
    (void)state;
    bn_query q;
    bn_query_init(&q);
    for (int i = 0; i < BN_QUERY_PARAMS + 3; i++)
        bn_query_add_i64(&q, "k", i);
    assert_int_equal(q.err, TB_EFULL);
    char out[BN_QUERY_MAX];
    assert_int_equal(bn_query_encode(&q, out, sizeof out), TB_EFULL);
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1, 0, out, sizeof out), TB_EFULL);

    char longval[200];
    memset(longval, 'v', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    bn_query_init(&q);
    bn_query_add(&q, "k", longval);
    bn_query_add(&q, "ok", "1");
    assert_int_equal(q.err, TB_EINVAL);
    assert_int_equal(bn_query_encode(&q, out, sizeof out), TB_EINVAL);
}

static void test_query_that_does_not_fit_the_buffer_is_efull(void **state)
{
    (void)state;
    bn_query q;
    doc_order_query(&q, "LTCBTC");
    char small[40];
    assert_int_equal(bn_query_encode(&q, small, sizeof small), TB_EFULL);
    assert_string_equal(small, "");
    char mid[120]; /* the query fits, its signature does not */
    assert_int_equal(bn_query_sign(&q, DOC_SECRET, 1499827319559, 5000, mid, sizeof mid), TB_EFULL);
}

/* web-socket-api.md, "SIGNED request example (HMAC)": both parameter sets;
 * params added in the request's order, signed sorted, values raw. */
static void test_ws_signature_matches_web_socket_api_examples(void **state)
{
    (void)state;
    bn_query q;
    bn_query_init(&q);
    bn_query_add(&q, "symbol", "BTCUSDT");
    bn_query_add(&q, "side", "SELL");
    bn_query_add(&q, "type", "LIMIT");
    bn_query_add(&q, "timeInForce", "GTC");
    bn_query_add(&q, "quantity", "0.01000000");
    bn_query_add(&q, "price", "52000.00");
    bn_query_add_i64(&q, "recvWindow", 100);
    bn_query_add_i64(&q, "timestamp", 1645423376532);
    bn_query_add(&q, "apiKey", DOC_API_KEY);
    char sig[65];
    assert_int_equal(bn_ws_signature(&q, DOC_SECRET, sig), 0);
    assert_string_equal(sig, "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24");
    /* The params themselves keep the caller's order. */
    assert_string_equal(q.key[0], "symbol");

    bn_query_init(&q);
    bn_query_add(&q, "symbol",
                 "\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93\xEF\xBC\x94\xEF\xBC\x95\xEF\xBC\x96");
    bn_query_add(&q, "side", "BUY");
    bn_query_add(&q, "type", "LIMIT");
    bn_query_add(&q, "timeInForce", "GTC");
    bn_query_add(&q, "quantity", "1.00000000");
    bn_query_add(&q, "price", "0.10000000");
    bn_query_add_i64(&q, "recvWindow", 5000);
    bn_query_add_i64(&q, "timestamp", 1645423376532);
    bn_query_add(&q, "apiKey", DOC_API_KEY);
    assert_int_equal(bn_ws_signature(&q, DOC_SECRET, sig), 0);
    assert_string_equal(sig, "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd");
}

/* ---- numbers ---------------------------------------------------------- */

static void test_decimals_are_plain_without_trailing_zeros(void **state)
{
    (void)state;
    char out[32];
    struct {
        const char *in, *want;
    } cases[] = {
        {"0.00000001", "0.00000001"},
        {"0.1", "0.1"},
        {"42000", "42000"},
        {"42000.50000000", "42000.5"},
        {"0", "0"},
        {"-1.25", "-1.25"},
        {"92233720368.54775807", "92233720368.54775807"},
        {"0.00010000", "0.0001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = bn_format_decimal(tbt_dec(cases[i].in), out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_null(strpbrk(out, "eE+"));
    }
    char tiny[4];
    assert_int_equal(bn_format_decimal(tbt_dec("12.5"), tiny, sizeof tiny), TB_EFULL);
}

/* ---- trading rules ---------------------------------------------------- */

/* rest-api.md's exchangeInfo example with filters.md's example filters, plus
 * a second symbol the parser must skip. */
static const char EXCHANGE_INFO[] =
    "{\"timezone\":\"UTC\",\"serverTime\":1565246363776,\"rateLimits\":[],"
    "\"exchangeFilters\":[],\"symbols\":["
    "{\"symbol\":\"BNBBTC\",\"status\":\"BREAK\",\"baseAsset\":\"BNB\",\"quoteAsset\":\"BTC\","
    "\"orderTypes\":[\"LIMIT\"],\"filters\":[]},"
    "{\"symbol\":\"ETHBTC\",\"status\":\"TRADING\",\"baseAsset\":\"ETH\",\"baseAssetPrecision\":8,"
    "\"quoteAsset\":\"BTC\",\"quotePrecision\":8,\"quoteAssetPrecision\":8,"
    "\"orderTypes\":[\"LIMIT\",\"LIMIT_MAKER\",\"MARKET\",\"STOP_LOSS\",\"STOP_LOSS_LIMIT\","
    "\"TAKE_PROFIT\",\"TAKE_PROFIT_LIMIT\",\"PEGGED_SOMETHING_NEW\"],"
    "\"icebergAllowed\":true,\"ocoAllowed\":true,\"isSpotTradingAllowed\":true,"
    "\"filters\":["
    "{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.00000100\",\"maxPrice\":\"100000.00000000\","
    "\"tickSize\":\"0.00000100\"},"
    "{\"filterType\":\"PERCENT_PRICE\",\"multiplierUp\":\"1.3000\",\"multiplierDown\":\"0.7000\","
    "\"avgPriceMins\":5},"
    "{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0.00100000\",\"maxQty\":\"100000.00000000\","
    "\"stepSize\":\"0.00100000\"},"
    "{\"filterType\":\"NOTIONAL\",\"minNotional\":\"0.00010000\",\"applyMinToMarket\":true,"
    "\"maxNotional\":\"9000000000000.00000000\",\"applyMaxToMarket\":false,\"avgPriceMins\":5},"
    "{\"filterType\":\"ICEBERG_PARTS\",\"limit\":10},"
    "{\"filterType\":\"MARKET_LOT_SIZE\",\"minQty\":\"0.00000000\",\"maxQty\":\"1000.00000000\","
    "\"stepSize\":\"0.00000000\"},"
    "{\"filterType\":\"MAX_NUM_ORDERS\",\"maxNumOrders\":25}],"
    "\"permissions\":[],\"permissionSets\":[[\"SPOT\",\"MARGIN\"]],"
    "\"defaultSelfTradePreventionMode\":\"NONE\",\"allowedSelfTradePreventionModes\":[\"NONE\"]}]}";

static void test_exchange_info_reads_the_symbols_filters(void **state)
{
    (void)state;
    bn_symbol_info s;
    char err[256] = "";
    assert_int_equal(
        bn_parse_exchange_info(EXCHANGE_INFO, strlen(EXCHANGE_INFO), "ETHBTC", &s, err, sizeof err),
        0);
    assert_string_equal(s.symbol, "ETHBTC");
    assert_string_equal(s.status, "TRADING");
    assert_string_equal(s.base, "ETH");
    assert_string_equal(s.quote, "BTC");
    assert_dec_equal(s.tick_size, "0.000001");
    assert_dec_equal(s.min_price, "0.000001");
    assert_dec_equal(s.max_price, "100000");
    assert_dec_equal(s.step_size, "0.001");
    assert_dec_equal(s.min_qty, "0.001");
    assert_dec_equal(s.max_qty, "100000");
    assert_dec_equal(s.market_step_size, "0");
    assert_dec_equal(s.market_max_qty, "1000");
    assert_dec_equal(s.min_notional, "0.0001");
    /* A maximum past tb_decimal's range is no limit an order can reach. */
    assert_true(s.max_notional == TB_DECIMAL_MAX);
    assert_true(s.apply_min_to_market);
    assert_int_equal(s.order_types, BN_OT_LIMIT | BN_OT_LIMIT_MAKER | BN_OT_MARKET |
                                        BN_OT_STOP_LOSS | BN_OT_STOP_LOSS_LIMIT |
                                        BN_OT_TAKE_PROFIT | BN_OT_TAKE_PROFIT_LIMIT);
}

static void test_exchange_info_legacy_min_notional(void **state)
{
    (void)state;
    const char *j = "{\"symbols\":[{\"symbol\":\"LTCBTC\",\"status\":\"TRADING\",\"baseAsset\":"
                    "\"LTC\",\"quoteAsset\":\"BTC\",\"filters\":[{\"filterType\":\"MIN_NOTIONAL\","
                    "\"minNotional\":\"0.00100000\",\"applyToMarket\":true,\"avgPriceMins\":5}]}]}";
    bn_symbol_info s;
    char err[256];
    assert_int_equal(bn_parse_exchange_info(j, strlen(j), "LTCBTC", &s, err, sizeof err), 0);
    assert_dec_equal(s.min_notional, "0.001");
    assert_dec_equal(s.max_notional, "0");
    assert_true(s.apply_min_to_market);
    assert_int_equal(s.order_types, 0);
}

static void test_exchange_info_without_the_symbol_is_not_found(void **state)
{
    (void)state;
    bn_symbol_info s;
    char err[256];
    assert_int_equal(
        bn_parse_exchange_info(EXCHANGE_INFO, strlen(EXCHANGE_INFO), "XRPBTC", &s, err, sizeof err),
        TB_ENOTFOUND);
    assert_non_null(strstr(err, "XRPBTC"));
}

/* rest-api.md's rateLimits: the REQUEST_WEIGHT per 1 MINUTE is the one the
 * adapter's throttle follows; other limits and intervals are not it. */
static void test_weight_limit_is_request_weight_per_minute(void **state)
{
    (void)state;
    const char *j =
        "{\"rateLimits\":[{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"SECOND\","
        "\"intervalNum\":1,\"limit\":100},{\"rateLimitType\":\"ORDERS\",\"interval\":"
        "\"MINUTE\",\"intervalNum\":1,\"limit\":50},{\"rateLimitType\":\"REQUEST_WEIGHT\","
        "\"interval\":\"MINUTE\",\"intervalNum\":5,\"limit\":30000},{\"rateLimitType\":"
        "\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,\"limit\":6000}],"
        "\"symbols\":[]}";
    int64_t limit = 0;
    assert_int_equal(bn_parse_weight_limit(j, strlen(j), &limit), 0);
    assert_int_equal(limit, 6000);
    /* The docs' example publishes none; nor does a reply that is not JSON. */
    limit = 7;
    assert_int_equal(bn_parse_weight_limit(EXCHANGE_INFO, strlen(EXCHANGE_INFO), &limit),
                     TB_ENOTFOUND);
    const char *zero = "{\"rateLimits\":[{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":"
                       "\"MINUTE\",\"intervalNum\":1,\"limit\":0}]}";
    assert_int_equal(bn_parse_weight_limit(zero, strlen(zero), &limit), TB_ENOTFOUND);
    assert_int_equal(bn_parse_weight_limit("<html>", 6, &limit), TB_ENOTFOUND);
    assert_int_equal(limit, 7);
}

static void test_exchange_info_bad_field_is_eparse_naming_it(void **state)
{
    (void)state;
    struct {
        const char *json, *field;
    } cases[] = {
        {"{\"symbols\":[{\"symbol\":\"X\",\"status\":\"TRADING\",\"baseAsset\":\"A\","
         "\"quoteAsset\":\"B\",\"filters\":[{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0.1\","
         "\"maxQty\":\"10\",\"stepSize\":\"1e-3\"}]}]}",
         "'stepSize'"},
        {"{\"symbols\":[{\"symbol\":\"X\",\"status\":\"TRADING\",\"quoteAsset\":\"B\"}]}",
         "'baseAsset'"},
        {"{\"symbols\":[{\"symbol\":\"X\",\"status\":\"TRADING\",\"baseAsset\":\"A\","
         "\"quoteAsset\":\"B\",\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":0.1,"
         "\"maxPrice\":\"10\",\"tickSize\":\"0.1\"}]}]}",
         "'minPrice'"},
        {"{\"rateLimits\":[]}", "'symbols'"},
        {"{\"symbols\":[{\"symbol\":\"X\",\"status\":\"TRADING\",\"baseAsset\":\"A\","
         "\"quoteAsset\":\"B\",\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.1\","
         "\"maxPrice\":\"10\",\"tickSize\":\"0.000000001\"}]}]}",
         "'tickSize'"},
        {"{\"symbols\":[", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bn_symbol_info s;
        char err[256] = "";
        assert_int_equal(
            bn_parse_exchange_info(cases[i].json, strlen(cases[i].json), "X", &s, err, sizeof err),
            TB_EPARSE);
        if (strstr(err, cases[i].field) == NULL)
            fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].field);
    }
}

static bn_symbol_info btc_rules(void)
{
    bn_symbol_info s;
    memset(&s, 0, sizeof s);
    strcpy(s.symbol, "BTCUSDT");
    strcpy(s.status, "TRADING");
    strcpy(s.base, "BTC");
    strcpy(s.quote, "USDT");
    s.tick_size = tbt_dec("0.01");
    s.min_price = tbt_dec("0.01");
    s.max_price = tbt_dec("1000000");
    s.step_size = tbt_dec("0.0001");
    s.min_qty = tbt_dec("0.0001");
    s.max_qty = tbt_dec("9000");
    s.market_step_size = tbt_dec("0.001");
    s.market_min_qty = tbt_dec("0.001");
    s.market_max_qty = tbt_dec("100");
    s.min_notional = tbt_dec("5");
    s.max_notional = tbt_dec("9000000");
    s.apply_min_to_market = 1;
    s.order_types = BN_OT_LIMIT | BN_OT_MARKET | BN_OT_STOP_LOSS;
    return s;
}

static tb_order_placement_request limit_order(const char *qty, const char *price)
{
    tb_order_placement_request r;
    memset(&r, 0, sizeof r);
    r.order_type = TB_ORDER_LIMIT;
    r.side = TB_SIDE_BUY;
    strcpy(r.symbol, "BTCUSDT");
    r.quantity = tbt_dec(qty);
    r.price = tbt_dec(price);
    strcpy(r.client_order_id, "tb-1-42");
    return r;
}

static void test_order_within_the_rules_passes(void **state)
{
    (void)state;
    bn_symbol_info s = btc_rules();
    tb_order_placement_request r = limit_order("0.0015", "42000.01");
    tb_reject_reason why = TB_REJECT_RISK;
    char err[160] = "";
    assert_int_equal(bn_check_order(&s, &r, 0, &why, err, sizeof err), 0);
    assert_int_equal(why, TB_REJECT_NONE);
    r.order_type = TB_ORDER_MARKET;
    r.quantity = tbt_dec("0.002");
    assert_int_equal(bn_check_order(&s, &r, tbt_dec("42000"), &why, err, sizeof err), 0);
}

/* Each filter failure names the rule and both values. */
static void test_each_filter_failure_names_both_values(void **state)
{
    (void)state;
    struct {
        tb_order_type type;
        const char *qty, *price, *ref;
        tb_reject_reason why;
        const char *msg;
    } cases[] = {
        {TB_ORDER_LIMIT, "0.00015", "42000", "0", TB_REJECT_INVALID_QUANTITY,
         "quantity 0.00015 is not a multiple of the step size 0.0001 (LOT_SIZE)"},
        {TB_ORDER_LIMIT, "0.00001", "42000", "0", TB_REJECT_INVALID_QUANTITY,
         "quantity 0.00001 is below the minimum quantity 0.0001 (LOT_SIZE)"},
        {TB_ORDER_LIMIT, "9000.1", "1", "0", TB_REJECT_INVALID_QUANTITY,
         "quantity 9000.1 is above the maximum quantity 9000 (LOT_SIZE)"},
        {TB_ORDER_LIMIT, "1", "42000.005", "0", TB_REJECT_INVALID_PRICE,
         "price 42000.005 is not a multiple of the tick size 0.01 (PRICE_FILTER)"},
        {TB_ORDER_LIMIT, "1", "0.001", "0", TB_REJECT_INVALID_PRICE,
         "price 0.001 is below the minimum price 0.01 (PRICE_FILTER)"},
        {TB_ORDER_LIMIT, "1", "1000000.01", "0", TB_REJECT_INVALID_PRICE,
         "price 1000000.01 is above the maximum price 1000000 (PRICE_FILTER)"},
        {TB_ORDER_LIMIT, "0.0001", "42000", "0", TB_REJECT_INVALID_QUANTITY,
         "notional 4.2 (price x quantity) is below the minimum notional 5 (NOTIONAL)"},
        {TB_ORDER_LIMIT, "300", "42000", "0", TB_REJECT_INVALID_QUANTITY,
         "notional 12600000 (price x quantity) is above the maximum notional 9000000 (NOTIONAL)"},
        {TB_ORDER_MARKET, "0.0015", "0", "42000", TB_REJECT_INVALID_QUANTITY,
         "quantity 0.0015 is not a multiple of the step size 0.001 (MARKET_LOT_SIZE)"},
        {TB_ORDER_MARKET, "101", "0", "1", TB_REJECT_INVALID_QUANTITY,
         "quantity 101 is above the maximum quantity 100 (MARKET_LOT_SIZE)"},
        {TB_ORDER_MARKET, "0.001", "0", "4000", TB_REJECT_INVALID_QUANTITY,
         "notional 4 (price x quantity) is below the minimum notional 5 (NOTIONAL)"},
    };
    bn_symbol_info s = btc_rules();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_order_placement_request r = limit_order(cases[i].qty, cases[i].price);
        r.order_type = cases[i].type;
        tb_reject_reason why = TB_REJECT_NONE;
        char err[160] = "";
        assert_int_equal(bn_check_order(&s, &r, tbt_dec(cases[i].ref), &why, err, sizeof err),
                         TB_EREJECTED);
        assert_string_equal(err, cases[i].msg);
        assert_int_equal(why, cases[i].why);
    }
}

static void test_market_notional_is_skipped_without_reference_price(void **state)
{
    (void)state;
    bn_symbol_info s = btc_rules();
    tb_order_placement_request r = limit_order("0.001", "0");
    r.order_type = TB_ORDER_MARKET;
    char err[160];
    assert_int_equal(bn_check_order(&s, &r, 0, NULL, err, sizeof err), 0);
    s.apply_min_to_market = 0; /* the minimum is not applied to MARKET orders */
    assert_int_equal(bn_check_order(&s, &r, tbt_dec("1"), NULL, err, sizeof err), 0);
}

static void test_symbol_not_trading_or_type_not_allowed_is_rejected(void **state)
{
    (void)state;
    bn_symbol_info s = btc_rules();
    tb_order_placement_request r = limit_order("1", "42000");
    tb_reject_reason why;
    char err[160];
    strcpy(s.status, "BREAK");
    assert_int_equal(bn_check_order(&s, &r, 0, &why, err, sizeof err), TB_EREJECTED);
    assert_int_equal(why, TB_REJECT_EXCHANGE);
    assert_non_null(strstr(err, "BREAK"));

    s = btc_rules();
    s.order_types = BN_OT_LIMIT;
    r.order_type = TB_ORDER_STOP_MARKET;
    r.stop_price = tbt_dec("41000");
    assert_int_equal(bn_check_order(&s, &r, 0, &why, err, sizeof err), TB_EREJECTED);
    assert_non_null(strstr(err, "STOP_LOSS"));

    s = btc_rules();
    r.stop_price = tbt_dec("41000.001");
    assert_int_equal(bn_check_order(&s, &r, 0, &why, err, sizeof err), TB_EREJECTED);
    assert_string_equal(err, "stop price 41000.001 is not a multiple of the tick size 0.01 "
                             "(PRICE_FILTER)");

    r = limit_order("1", "42000");
    strcpy(r.symbol, "ETHUSDT");
    assert_int_equal(bn_check_order(&s, &r, 0, &why, err, sizeof err), TB_EREJECTED);
    assert_int_equal(why, TB_REJECT_UNKNOWN_SYMBOL);
}

/* ---- order parameters -------------------------------------------------- */

static void test_limit_order_params(void **state)
{
    (void)state;
    tb_order_placement_request r = limit_order("0.00100000", "42000.50");
    r.time_in_force = TB_TIF_IOC;
    bn_query q;
    bn_query_init(&q);
    char err[160], out[BN_QUERY_MAX];
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), 0);
    assert_int_equal(bn_query_encode(&q, out, sizeof out), 0);
    assert_string_equal(out, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.001&"
                             "price=42000.5&newClientOrderId=tb-1-42&newOrderRespType=FULL");
}

static void test_market_and_stop_order_params(void **state)
{
    (void)state;
    tb_order_placement_request r = limit_order("2", "0");
    r.order_type = TB_ORDER_MARKET;
    r.side = TB_SIDE_SELL;
    bn_query q;
    bn_query_init(&q);
    char err[160], out[BN_QUERY_MAX];
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), 0);
    assert_int_equal(bn_query_encode(&q, out, sizeof out), 0);
    assert_string_equal(out, "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=2&"
                             "newClientOrderId=tb-1-42&newOrderRespType=FULL");

    r.order_type = TB_ORDER_STOP_MARKET;
    r.stop_price = tbt_dec("39000.10");
    bn_query_init(&q);
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), 0);
    assert_int_equal(bn_query_encode(&q, out, sizeof out), 0);
    assert_string_equal(out, "symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=2&stopPrice=39000.1&"
                             "newClientOrderId=tb-1-42&newOrderRespType=FULL");

    r.trailing_pct = tbt_dec("1.5"); /* 150 basis points */
    bn_query_init(&q);
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), 0);
    assert_int_equal(bn_query_encode(&q, out, sizeof out), 0);
    assert_string_equal(out, "symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=2&trailingDelta=150&"
                             "newClientOrderId=tb-1-42&newOrderRespType=FULL");
}

static void test_what_binance_cannot_express_is_enotsup(void **state)
{
    (void)state;
    tb_order_placement_request r = limit_order("1", "42000");
    bn_query q;
    char err[160] = "";
    r.order_type = TB_ORDER_STOP_MARKET;
    r.trailing_pct = tbt_dec("0.005"); /* half a basis point */
    bn_query_init(&q);
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), TB_ENOTSUP);
    assert_non_null(strstr(err, "0.005"));

    r = limit_order("1", "42000");
    strcpy(r.client_order_id, "has space");
    bn_query_init(&q);
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), TB_ENOTSUP);
    assert_non_null(strstr(err, "has space"));

    r = limit_order("1", "42000");
    strcpy(r.client_order_id, "0123456789012345678901234567890123456"); /* 37 */
    bn_query_init(&q);
    assert_int_equal(bn_order_params(&r, &q, err, sizeof err), TB_ENOTSUP);
}

/* ---- errors ----------------------------------------------------------- */

static void test_error_classification_table(void **state)
{
    (void)state;
    struct {
        int status, code;
        bn_error_class want;
    } cases[] = {
        {200, 0, BN_OK},
        {400, -1021, BN_CLOCK},
        {400, -1022, BN_AUTH},
        {401, -2015, BN_AUTH},
        {401, -2014, BN_AUTH},
        {400, -2013, BN_UNKNOWN_ORDER},
        {400, -2011, BN_UNKNOWN_ORDER},
        {500, -1006, BN_AMBIGUOUS},
        {408, -1007, BN_AMBIGUOUS},
        {503, -1007, BN_AMBIGUOUS},
        {500, 0, BN_AMBIGUOUS},
        {502, 0, BN_AMBIGUOUS},
        {504, 0, BN_AMBIGUOUS},
        {429, -1003, BN_RATE_LIMITED},
        {429, 0, BN_RATE_LIMITED},
        {429, -1015, BN_RATE_LIMITED},
        {418, -1003, BN_BANNED},
        {418, 0, BN_BANNED},
        {400, -1013, BN_REJECTED},
        {400, -2010, BN_REJECTED},
        {400, -1121, BN_REJECTED},
        {404, 0, BN_REJECTED},
        {0, -2010, BN_REJECTED}, /* a WebSocket API error without HTTP */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (bn_classify(cases[i].status, cases[i].code) != cases[i].want)
            fail_msg("HTTP %d code %d: class %d, want %d", cases[i].status, cases[i].code,
                     (int)bn_classify(cases[i].status, cases[i].code), (int)cases[i].want);
}

static void test_error_body_is_read_tolerantly(void **state)
{
    (void)state;
    bn_error e;
    const char *j = "{\"code\":-1013,\"msg\":\"Filter failure: LOT_SIZE\"}";
    bn_parse_error(j, strlen(j), &e);
    assert_int_equal(e.code, -1013);
    assert_string_equal(e.msg, "Filter failure: LOT_SIZE");
    bn_parse_error("<html>502 Bad Gateway</html>", 28, &e);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.msg, "");
    bn_parse_error("[1,2]", 5, &e);
    assert_int_equal(e.code, 0);
    bn_parse_error(NULL, 0, &e);
    assert_int_equal(e.code, 0);
}

static void test_reject_reasons_from_code_and_message(void **state)
{
    (void)state;
    struct {
        int code;
        const char *msg;
        tb_reject_reason want;
    } cases[] = {
        {-1013, "Filter failure: PRICE_FILTER", TB_REJECT_INVALID_PRICE},
        {-1013, "Filter failure: PERCENT_PRICE_BY_SIDE", TB_REJECT_INVALID_PRICE},
        {-1013, "Filter failure: LOT_SIZE", TB_REJECT_INVALID_QUANTITY},
        {-1013, "Filter failure: MARKET_LOT_SIZE", TB_REJECT_INVALID_QUANTITY},
        {-1013, "Filter failure: NOTIONAL", TB_REJECT_INVALID_QUANTITY},
        {-1013, "Filter failure: MIN_NOTIONAL", TB_REJECT_INVALID_QUANTITY},
        {-1013, "Filter failure: MAX_NUM_ORDERS", TB_REJECT_EXCHANGE},
        {-2010, "Account has insufficient balance for requested action.",
         TB_REJECT_INSUFFICIENT_FUNDS},
        {-2010, "Duplicate order sent.", TB_REJECT_DUPLICATE},
        {-2010, "Market is closed.", TB_REJECT_EXCHANGE},
        {-1121, "Invalid symbol.", TB_REJECT_UNKNOWN_SYMBOL},
        {-1111, "Parameter 'quantity' has too much precision.", TB_REJECT_INVALID_QUANTITY},
        {-1111, "Parameter 'price' has too much precision.", TB_REJECT_INVALID_PRICE},
        {-1100, "Illegal characters found in a parameter.", TB_REJECT_EXCHANGE},
        {-1102, "Mandatory parameter 'price' was not sent.", TB_REJECT_EXCHANGE},
        {-2010, NULL, TB_REJECT_EXCHANGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (bn_reject_reason(cases[i].code, cases[i].msg) != cases[i].want)
            fail_msg("%d \"%s\": reason %d, want %d", cases[i].code,
                     cases[i].msg ? cases[i].msg : "(null)",
                     (int)bn_reject_reason(cases[i].code, cases[i].msg), (int)cases[i].want);
}

/* ---- commission --------------------------------------------------------- */

static void test_commission_in_quote_base_and_bnb(void **state)
{
    (void)state;
    bn_symbol_info s = btc_rules();
    tb_decimal out = -1;
    /* quote: as is */
    assert_int_equal(
        bn_commission_to_quote(tbt_dec("0.042"), "USDT", &s, tbt_dec("42000"), 0, &out), 0);
    assert_dec_equal(out, "0.042");
    /* base: x the fill's price */
    assert_int_equal(
        bn_commission_to_quote(tbt_dec("0.000001"), "BTC", &s, tbt_dec("42000.5"), 0, &out), 0);
    assert_dec_equal(out, "0.0420005");
    /* BNB: x its price in the quote asset, rounded half-up to 1e-8 */
    assert_int_equal(bn_commission_to_quote(tbt_dec("0.00012345"), "BNB", &s, tbt_dec("42000"),
                                            tbt_dec("300.5"), &out),
                     0);
    assert_dec_equal(out, "0.03709673"); /* 0.037096725 */
    assert_int_equal(
        bn_commission_to_quote(tbt_dec("0.0001"), "BNB", &s, tbt_dec("42000"), 0, &out),
        TB_ENOTFOUND);
    /* no commission: the asset does not matter ("N": null) */
    assert_int_equal(bn_commission_to_quote(0, "", &s, tbt_dec("42000"), 0, &out), 0);
    assert_dec_equal(out, "0");
    assert_int_equal(bn_commission_to_quote(TB_DECIMAL_MAX, "BTC", &s, tbt_dec("2"), 0, &out),
                     TB_EOVERFLOW);
}

static void test_interval_names(void **state)
{
    (void)state;
    int64_t ns = 0;
    assert_int_equal(bn_interval_ns("1m", &ns), 0);
    assert_true(ns == TBT_MINUTE);
    assert_int_equal(bn_interval_ns("15m", &ns), 0);
    assert_true(ns == 15 * TBT_MINUTE);
    assert_int_equal(bn_interval_ns("1h", &ns), 0);
    assert_true(ns == 60 * TBT_MINUTE);
    assert_int_equal(bn_interval_ns("1d", &ns), 0);
    assert_true(ns == 24 * 60 * TBT_MINUTE);
    assert_int_equal(bn_interval_ns("1w", &ns), 0);
    assert_true(ns == 7 * 24 * 60 * TBT_MINUTE);
    assert_int_equal(bn_interval_ns("1s", &ns), 0);
    assert_true(ns == TBT_SECOND);
    assert_int_equal(bn_interval_ns("2m", &ns), TB_EINVAL);
    assert_int_equal(bn_interval_ns("1H", &ns), TB_EINVAL);
    assert_int_equal(bn_interval_ns("", &ns), TB_EINVAL);
    assert_int_equal(bn_interval_ns("1M", &ns), TB_ENOTSUP);
}

/* ---- parsers ------------------------------------------------------------ */

/* rest-api.md, POST /api/v3/order "Response - FULL". */
static const char DOC_ORDER_FULL[] =
    "{\"symbol\":\"BTCUSDT\",\"orderId\":28,\"orderListId\":-1,\"clientOrderId\":"
    "\"6gCrw2kRUAF9CvJDGP16IP\",\"transactTime\":1507725176595,\"price\":\"0.00000000\","
    "\"origQty\":\"10.00000000\",\"executedQty\":\"10.00000000\",\"origQuoteOrderQty\":"
    "\"0.000000\",\"cummulativeQuoteQty\":\"10.00000000\",\"status\":\"FILLED\","
    "\"timeInForce\":\"GTC\",\"type\":\"MARKET\",\"side\":\"SELL\",\"workingTime\":1507725176595,"
    "\"selfTradePreventionMode\":\"NONE\",\"fills\":["
    "{\"price\":\"4000.00000000\",\"qty\":\"1.00000000\",\"commission\":\"4.00000000\","
    "\"commissionAsset\":\"USDT\",\"tradeId\":56},"
    "{\"price\":\"3999.00000000\",\"qty\":\"5.00000000\",\"commission\":\"19.99500000\","
    "\"commissionAsset\":\"USDT\",\"tradeId\":57},"
    "{\"price\":\"3998.00000000\",\"qty\":\"2.00000000\",\"commission\":\"7.99600000\","
    "\"commissionAsset\":\"USDT\",\"tradeId\":58},"
    "{\"price\":\"3997.00000000\",\"qty\":\"1.00000000\",\"commission\":\"3.99700000\","
    "\"commissionAsset\":\"USDT\",\"tradeId\":59},"
    "{\"price\":\"3995.00000000\",\"qty\":\"1.00000000\",\"commission\":\"3.99500000\","
    "\"commissionAsset\":\"USDT\",\"tradeId\":60}]}";

#define MS(x) ((int64_t)(x)*INT64_C(1000000))

static void test_order_full_reply_from_the_docs(void **state)
{
    (void)state;
    bn_order o;
    char err[256] = "";
    assert_int_equal(bn_parse_order(DOC_ORDER_FULL, strlen(DOC_ORDER_FULL), &o, err, sizeof err),
                     0);
    assert_string_equal(o.symbol, "BTCUSDT");
    assert_true(o.order_id == 28);
    assert_string_equal(o.client_order_id, "6gCrw2kRUAF9CvJDGP16IP");
    assert_string_equal(o.orig_client_order_id, "");
    assert_int_equal(o.status, TB_ORDER_FILLED);
    assert_string_equal(o.status_text, "FILLED");
    assert_int_equal(o.side, TB_SIDE_SELL);
    assert_string_equal(o.type, "MARKET");
    assert_int_equal(o.tif, TB_TIF_GTC);
    assert_dec_equal(o.price, "0");
    assert_dec_equal(o.orig_qty, "10");
    assert_dec_equal(o.executed_qty, "10");
    assert_dec_equal(o.cum_quote, "10");
    assert_true(o.time == MS(1507725176595));
    assert_true(o.update_time == MS(1507725176595));
    assert_int_equal(o.nfills, 5);
    assert_true(o.fills[1].trade_id == 57);
    assert_dec_equal(o.fills[1].price, "3999");
    assert_dec_equal(o.fills[1].qty, "5");
    assert_dec_equal(o.fills[1].commission, "19.995");
    assert_string_equal(o.fills[1].commission_asset, "USDT");
}

/* rest-api.md, GET /api/v3/order and DELETE /api/v3/order. */
static void test_query_and_cancel_replies_from_the_docs(void **state)
{
    (void)state;
    const char *get =
        "{\"symbol\":\"LTCBTC\",\"orderId\":1,\"orderListId\":-1,\"clientOrderId\":\"myOrder1\","
        "\"price\":\"0.1\",\"origQty\":\"1.0\",\"executedQty\":\"0.0\",\"cummulativeQuoteQty\":"
        "\"0.0\",\"status\":\"NEW\",\"timeInForce\":\"GTC\",\"type\":\"LIMIT\",\"side\":\"BUY\","
        "\"stopPrice\":\"0.0\",\"icebergQty\":\"0.0\",\"time\":1499827319559,\"updateTime\":"
        "1499827319560,\"isWorking\":true,\"workingTime\":1499827319559,\"origQuoteOrderQty\":"
        "\"0.000000\",\"selfTradePreventionMode\":\"NONE\"}";
    bn_order o;
    char err[256] = "";
    assert_int_equal(bn_parse_order(get, strlen(get), &o, err, sizeof err), 0);
    assert_int_equal(o.status, TB_ORDER_NEW);
    assert_int_equal(o.side, TB_SIDE_BUY);
    assert_dec_equal(o.price, "0.1");
    assert_dec_equal(o.orig_qty, "1");
    assert_true(o.time == MS(1499827319559));
    assert_true(o.update_time == MS(1499827319560));
    assert_int_equal(o.nfills, 0);

    const char *del =
        "{\"symbol\":\"LTCBTC\",\"origClientOrderId\":\"myOrder1\",\"orderId\":4,\"orderListId\":-"
        "1,"
        "\"clientOrderId\":\"cancelMyOrder1\",\"transactTime\":1684804350068,\"price\":"
        "\"2.00000000\",\"origQty\":\"1.00000000\",\"executedQty\":\"0.00000000\","
        "\"origQuoteOrderQty\":\"0.000000\",\"cummulativeQuoteQty\":\"0.00000000\",\"status\":"
        "\"CANCELED\",\"timeInForce\":\"GTC\",\"type\":\"LIMIT\",\"side\":\"BUY\","
        "\"selfTradePreventionMode\":\"NONE\"}";
    assert_int_equal(bn_parse_order(del, strlen(del), &o, err, sizeof err), 0);
    assert_int_equal(o.status, TB_ORDER_CANCELED);
    assert_string_equal(o.client_order_id, "cancelMyOrder1");
    assert_string_equal(o.orig_client_order_id, "myOrder1");
    assert_true(o.time == MS(1684804350068));
}

/* Replies of the fake Binance (tools/fake_binance) to a MARKET buy taking
 * two levels, a LIMIT order resting, its cancel, myTrades and account. */
static const char FAKE_POST_FULL[] =
    "{\"symbol\":\"BTCUSDT\",\"orderId\":10001,\"orderListId\":-1,\"clientOrderId\":\""
    "tb-1\",\"transactTime\":1796572120782,\"price\":\"0.00000000\",\"origQty\":\"0.5"
    "0000000\",\"executedQty\":\"0.50000000\",\"origQuoteOrderQty\":\"0.00000000\",\""
    "cummulativeQuoteQty\":\"21001.05000000\",\"status\":\"FILLED\",\"timeInForce\":"
    "\"GTC\",\"type\":\"MARKET\",\"side\":\"BUY\",\"workingTime\":1796572120782,\"selfTr"
    "adePreventionMode\":\"NONE\",\"fills\":[{\"price\":\"42000.00000000\",\"qty\":\"0."
    "40000000\",\"commission\":\"0.00040000\",\"commissionAsset\":\"BTC\",\"tradeId\":"
    "50001},{\"price\":\"42010.50000000\",\"qty\":\"0.10000000\",\"commission\":\"0.00"
    "010000\",\"commissionAsset\":\"BTC\",\"tradeId\":50002}]}";
static const char FAKE_DELETE[] =
    "{\"symbol\":\"BTCUSDT\",\"origClientOrderId\":\"tb-2\",\"orderId\":10002,\"orderL"
    "istId\":-1,\"clientOrderId\":\"fakeauto00000000000001\",\"transactTime\":1796"
    "572121365,\"price\":\"41000.00000000\",\"origQty\":\"0.10000000\",\"executedQty"
    "\":\"0.00000000\",\"origQuoteOrderQty\":\"0.00000000\",\"cummulativeQuoteQty\":"
    "\"0.00000000\",\"status\":\"CANCELED\",\"timeInForce\":\"GTC\",\"type\":\"LIMIT\",\"s"
    "ide\":\"BUY\",\"selfTradePreventionMode\":\"NONE\"}";
static const char FAKE_OPEN_ORDERS[] =
    "[{\"symbol\":\"BTCUSDT\",\"orderId\":10002,\"orderListId\":-1,\"clientOrderId\":"
    "\"tb-2\",\"price\":\"41000.00000000\",\"origQty\":\"0.10000000\",\"executedQty\":\""
    "0.00000000\",\"origQuoteOrderQty\":\"0.00000000\",\"cummulativeQuoteQty\":\"0."
    "00000000\",\"status\":\"NEW\",\"timeInForce\":\"GTC\",\"type\":\"LIMIT\",\"side\":\"BU"
    "Y\",\"stopPrice\":\"0.00000000\",\"icebergQty\":\"0.00000000\",\"time\":179657212"
    "0969,\"updateTime\":1796572120969,\"isWorking\":true,\"workingTime\":1796572"
    "120969,\"selfTradePreventionMode\":\"NONE\"}]";
static const char FAKE_TRADES[] =
    "[{\"symbol\":\"BTCUSDT\",\"id\":50001,\"orderId\":10001,\"orderListId\":-1,\"pric"
    "e\":\"42000.00000000\",\"qty\":\"0.40000000\",\"quoteQty\":\"16800.00000000\",\"co"
    "mmission\":\"0.00040000\",\"commissionAsset\":\"BTC\",\"time\":1796572120782,\"i"
    "sBuyer\":true,\"isMaker\":false,\"isBestMatch\":true},{\"symbol\":\"BTCUSDT\",\""
    "id\":50002,\"orderId\":10001,\"orderListId\":-1,\"price\":\"42010.50000000\",\"q"
    "ty\":\"0.10000000\",\"quoteQty\":\"4201.05000000\",\"commission\":\"0.00010000\","
    "\"commissionAsset\":\"BTC\",\"time\":1796572120782,\"isBuyer\":true,\"isMaker\":"
    "false,\"isBestMatch\":true}]";
static const char FAKE_ACCOUNT[] =
    "{\"makerCommission\":10,\"takerCommission\":10,\"buyerCommission\":0,\"seller"
    "Commission\":0,\"commissionRates\":{\"maker\":\"0.00100000\",\"taker\":\"0.00100"
    "000\",\"buyer\":\"0.00000000\",\"seller\":\"0.00000000\"},\"canTrade\":true,\"canW"
    "ithdraw\":true,\"canDeposit\":true,\"brokered\":false,\"requireSelfTradePrev"
    "ention\":false,\"preventSor\":false,\"updateTime\":1796572121365,\"accountTy"
    "pe\":\"SPOT\",\"balances\":[{\"asset\":\"USDT\",\"free\":\"978998.95000000\",\"locke"
    "d\":\"0.00000000\"},{\"asset\":\"BTC\",\"free\":\"10.49950000\",\"locked\":\"0.00000"
    "000\"},{\"asset\":\"ETH\",\"free\":\"100.00000000\",\"locked\":\"0.00000000\"},{\"as"
    "set\":\"BNB\",\"free\":\"100.00000000\",\"locked\":\"0.00000000\"}],\"permissions\""
    ":[\"SPOT\"],\"uid\":354937868}";

static void test_fake_binance_replies_parse(void **state)
{
    (void)state;
    bn_order o;
    char err[256] = "";
    assert_int_equal(bn_parse_order(FAKE_POST_FULL, strlen(FAKE_POST_FULL), &o, err, sizeof err),
                     0);
    assert_int_equal(o.nfills, 2);
    assert_dec_equal(o.cum_quote, "21001.05");
    assert_dec_equal(o.fills[1].price, "42010.5");
    assert_dec_equal(o.fills[1].commission, "0.0001");
    assert_string_equal(o.fills[1].commission_asset, "BTC");
    assert_int_equal(bn_parse_order(FAKE_DELETE, strlen(FAKE_DELETE), &o, err, sizeof err), 0);
    assert_string_equal(o.orig_client_order_id, "tb-2");

    bn_order open[2];
    size_t n = 9;
    assert_int_equal(
        bn_parse_orders(FAKE_OPEN_ORDERS, strlen(FAKE_OPEN_ORDERS), open, 2, &n, err, sizeof err),
        0);
    assert_int_equal(n, 1);
    assert_string_equal(open[0].client_order_id, "tb-2");
    assert_dec_equal(open[0].price, "41000");

    bn_trade t[4];
    assert_int_equal(bn_parse_trades(FAKE_TRADES, strlen(FAKE_TRADES), t, 4, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 2);
    assert_true(t[1].id == 50002);
    assert_true(t[1].order_id == 10001);
    assert_dec_equal(t[1].quote_qty, "4201.05");
    assert_true(t[1].is_buyer);
    assert_false(t[1].is_maker);

    bn_balance b[8];
    assert_int_equal(
        bn_parse_account(FAKE_ACCOUNT, strlen(FAKE_ACCOUNT), b, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(b[1].asset, "BTC");
    assert_dec_equal(b[1].free, "10.4995");
    assert_dec_equal(b[1].locked, "0");
}

static void test_lists_longer_than_the_room_are_efull(void **state)
{
    (void)state;
    bn_trade t[1];
    size_t n = 9;
    char err[256] = "";
    assert_int_equal(bn_parse_trades(FAKE_TRADES, strlen(FAKE_TRADES), t, 1, &n, err, sizeof err),
                     TB_EFULL);
    assert_int_equal(n, 1);
    assert_true(t[0].id == 50001);
    bn_balance b[2];
    assert_int_equal(
        bn_parse_account(FAKE_ACCOUNT, strlen(FAKE_ACCOUNT), b, 2, &n, err, sizeof err), TB_EFULL);
    assert_int_equal(n, 2);
}

/* rest-api.md's myTrades and account examples. */
static void test_trades_and_account_from_the_docs(void **state)
{
    (void)state;
    const char *trades =
        "[{\"symbol\":\"BNBBTC\",\"id\":28457,\"orderId\":100234,\"orderListId\":-1,\"price\":"
        "\"4.00000100\",\"qty\":\"12.00000000\",\"quoteQty\":\"48.000012\",\"commission\":"
        "\"10.10000000\",\"commissionAsset\":\"BNB\",\"time\":1499865549590,\"isBuyer\":true,"
        "\"isMaker\":false,\"isBestMatch\":true}]";
    bn_trade t[2];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(bn_parse_trades(trades, strlen(trades), t, 2, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].symbol, "BNBBTC");
    assert_dec_equal(t[0].price, "4.000001");
    assert_dec_equal(t[0].quote_qty, "48.000012");
    assert_dec_equal(t[0].commission, "10.1");
    assert_string_equal(t[0].commission_asset, "BNB");
    assert_true(t[0].time == MS(1499865549590));

    const char *acct =
        "{\"makerCommission\":15,\"takerCommission\":15,\"canTrade\":true,\"updateTime\":"
        "123456789,"
        "\"accountType\":\"SPOT\",\"balances\":[{\"asset\":\"BTC\",\"free\":\"4723846."
        "89208129\","
        "\"locked\":\"0.00000000\"},{\"asset\":\"A_VERY_LONG_ASSET_NAME\",\"free\":\"1\","
        "\"locked\":"
        "\"0\"},{\"asset\":\"LTC\",\"free\":\"4763368.68006011\",\"locked\":\"0.00000000\"}],"
        "\"permissions\":[\"SPOT\"],\"uid\":354937868}";
    bn_balance b[4];
    assert_int_equal(bn_parse_account(acct, strlen(acct), b, 4, &n, err, sizeof err), 0);
    /* an asset whose name does not fit is none the adapter trades: skipped */
    assert_int_equal(n, 2);
    assert_string_equal(b[1].asset, "LTC");
    assert_dec_equal(b[0].free, "4723846.89208129");

    int64_t ms = 0;
    const char *tm = "{\"serverTime\": 1499827319559}";
    assert_int_equal(bn_parse_server_time(tm, strlen(tm), &ms, err, sizeof err), 0);
    assert_true(ms == 1499827319559);
}

/* Binance sends up to 8 decimals, but a value with zeros beyond the 8th
 * must read the same; a non-zero 9th digit cannot be kept and is refused. */
static void test_decimals_with_zeros_past_the_eighth_digit_parse(void **state)
{
    (void)state;
    const char *acct = "{\"balances\":[{\"asset\":\"BTC\",\"free\":\"0.00100000000000\","
                       "\"locked\":\"12.5000000000\"}]}";
    bn_balance b[1];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(bn_parse_account(acct, strlen(acct), b, 1, &n, err, sizeof err), 0);
    assert_dec_equal(b[0].free, "0.001");
    assert_dec_equal(b[0].locked, "12.5");
    const char *bad =
        "{\"balances\":[{\"asset\":\"BTC\",\"free\":\"0.000000001\",\"locked\":\"0\"}]}";
    assert_int_equal(bn_parse_account(bad, strlen(bad), b, 1, &n, err, sizeof err), TB_EPARSE);
    assert_non_null(strstr(err, "'free'"));
    assert_non_null(strstr(err, "more than 8 decimals"));
}

/* Every bad or missing field is TB_EPARSE and the message names it. */
static void test_bad_or_missing_fields_are_eparse_naming_the_field(void **state)
{
    (void)state;
    struct {
        int which; /* 0 order, 1 trades, 2 account, 3 time */
        const char *json, *field;
    } cases[] = {
        {0, "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"transactTime\":1}",
         "'status'"},
        {0, "{\"symbol\":\"BTCUSDT\",\"orderId\":\"1\",\"clientOrderId\":\"a\"}", "'orderId'"},
        {0, "{\"symbol\":\"BTCUSDT\",\"orderId\":-5,\"clientOrderId\":\"a\"}", "'orderId'"},
        {0,
         "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"WEIRD\","
         "\"side\":\"BUY\"}",
         "'status'"},
        {0,
         "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"NEW\","
         "\"side\":\"HOLD\"}",
         "'side'"},
        {0,
         "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"NEW\","
         "\"side\":\"BUY\",\"type\":\"LIMIT\",\"price\":1.5}",
         "'price'"},
        {0,
         "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"NEW\","
         "\"side\":\"BUY\",\"type\":\"LIMIT\",\"price\":\"1\",\"origQty\":\"1\","
         "\"executedQty\":"
         "\"0\",\"cummulativeQuoteQty\":\"0\"}",
         "'time'"},
        {0,
         "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"NEW\","
         "\"side\":\"BUY\",\"type\":\"LIMIT\",\"price\":\"1\",\"origQty\":\"1\","
         "\"executedQty\":"
         "\"0\",\"cummulativeQuoteQty\":\"0\",\"time\":1,\"fills\":[{\"price\":\"1\",\"qty\":"
         "\"1\",\"commission\":\"x\",\"tradeId\":1}]}",
         "'commission'"},
        {0, "{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUV\",\"orderId\":1}", "'symbol'"},
        {0, "[]", "not an object"},
        {0, "{\"symbol\":", "not valid JSON"},
        {1, "[{\"symbol\":\"BNBBTC\",\"id\":1,\"orderId\":2,\"price\":\"1\",\"qty\":\"1\"}]",
         "'quoteQty'"},
        {1,
         "[{\"symbol\":\"BNBBTC\",\"id\":1,\"orderId\":2,\"price\":\"1\",\"qty\":\"1\","
         "\"quoteQty\":"
         "\"1\",\"commission\":\"0\",\"commissionAsset\":\"BNB\",\"time\":1,\"isBuyer\":1,"
         "\"isMaker\":false}]",
         "'isBuyer'"},
        {1, "{}", "not an array"},
        {2, "{\"balances\":[{\"asset\":\"BTC\",\"free\":\"1\"}]}", "'locked'"},
        {2, "{\"balances\":{}}", "'balances'"},
        {3, "{\"serverTime\":\"1\"}", "'serverTime'"},
        {3, "{}", "'serverTime'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        const char *j = cases[i].json;
        size_t n;
        int rc;
        bn_order o;
        bn_trade t[2];
        bn_balance b[2];
        int64_t ms;
        switch (cases[i].which) {
        case 0:
            rc = bn_parse_order(j, strlen(j), &o, err, sizeof err);
            break;
        case 1:
            rc = bn_parse_trades(j, strlen(j), t, 2, &n, err, sizeof err);
            break;
        case 2:
            rc = bn_parse_account(j, strlen(j), b, 2, &n, err, sizeof err);
            break;
        default:
            rc = bn_parse_server_time(j, strlen(j), &ms, err, sizeof err);
            break;
        }
        if (rc != TB_EPARSE || strstr(err, cases[i].field) == NULL)
            fail_msg("case %zu: rc %d, \"%s\" should name %s", i, rc, err, cases[i].field);
    }
}

static void test_more_fills_than_kept_is_efull_with_the_order_read(void **state)
{
    (void)state;
    char json[8192];
    int p = snprintf(json, sizeof json,
                     "{\"symbol\":\"BTCUSDT\",\"orderId\":7,\"clientOrderId\":\"a\",\"status\":"
                     "\"FILLED\",\"side\":\"BUY\",\"type\":\"MARKET\",\"price\":\"0\",\"origQty\":"
                     "\"40\",\"executedQty\":\"40\",\"cummulativeQuoteQty\":\"40\","
                     "\"transactTime\":5,\"fills\":[");
    for (int i = 0; i < BN_MAX_FILLS + 8; i++)
        p += snprintf(json + p, sizeof json - (size_t)p,
                      "%s{\"price\":\"1\",\"qty\":\"1\",\"commission\":\"0\",\"commissionAsset\":"
                      "\"BTC\",\"tradeId\":%d}",
                      i ? "," : "", 100 + i);
    snprintf(json + p, sizeof json - (size_t)p, "]}");
    bn_order o;
    char err[256] = "";
    assert_int_equal(bn_parse_order(json, strlen(json), &o, err, sizeof err), TB_EFULL);
    assert_int_equal(o.nfills, BN_MAX_FILLS);
    assert_true(o.fills[BN_MAX_FILLS - 1].trade_id == 100 + BN_MAX_FILLS - 1);
    assert_int_equal(o.status, TB_ORDER_FILLED);
    assert_non_null(strstr(err, "40 fills"));
}

static void test_order_status_mapping(void **state)
{
    (void)state;
    struct {
        const char *wire;
        tb_order_status want;
    } cases[] = {
        {"NEW", TB_ORDER_NEW},
        {"PARTIALLY_FILLED", TB_ORDER_PARTIALLY_FILLED},
        {"FILLED", TB_ORDER_FILLED},
        {"CANCELED", TB_ORDER_CANCELED},
        {"REJECTED", TB_ORDER_REJECTED},
        {"EXPIRED", TB_ORDER_EXPIRED},
        {"EXPIRED_IN_MATCH", TB_ORDER_EXPIRED},
        {"PENDING_CANCEL", TB_ORDER_NEW},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(
            json, sizeof json,
            "{\"symbol\":\"BTCUSDT\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":\"%s\","
            "\"side\":\"BUY\",\"type\":\"LIMIT\",\"timeInForce\":\"IOC\",\"price\":\"1\","
            "\"origQty\":\"1\",\"executedQty\":\"0\",\"cummulativeQuoteQty\":\"0\",\"time\":1}",
            cases[i].wire);
        bn_order o;
        char err[256] = "";
        assert_int_equal(bn_parse_order(json, strlen(json), &o, err, sizeof err), 0);
        assert_int_equal(o.status, cases[i].want);
        assert_string_equal(o.status_text, cases[i].wire);
        assert_int_equal(o.tif, TB_TIF_IOC);
    }
}

/* ---- klines --------------------------------------------------------------- */

/* Rows as GET /api/v3/klines returns them (rest-api.md's example first), in
 * ms, then the same rows as a Binance kline CSV: the bars must be equal
 * field by field, so a live bar is the bar a backtest reads. */
static const char *const KLINE_ROWS[][12] = {
    {"1499040000000", "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815",
     "1499644799999", "2434.19055334", "308", "1756.87402397", "28.46694368", "0"},
    {"1499644800000", "0.01577100", "0.01600000", "0.01500000", "0.01590000", "0", "1500249599999",
     "0", "0", "0", "0", "0"},
    {"1500249600000", "0.01590000", "0.02000000", "0.01590000", "0.02000000", "12.5",
     "1500854399999", "1", "3", "1", "1", "0"},
};

static void klines_json(const char *const rows[][12], size_t n, char *out, size_t cap)
{
    size_t p = 0;
    p += (size_t)snprintf(out + p, cap - p, "[");
    for (size_t i = 0; i < n; i++)
        p += (size_t)snprintf(out + p, cap - p,
                              "%s[%s,\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",%s,\"%s\",%s,\"%s\",\"%s\","
                              "\"%s\"]",
                              i ? "," : "", rows[i][0], rows[i][1], rows[i][2], rows[i][3],
                              rows[i][4], rows[i][5], rows[i][6], rows[i][7], rows[i][8],
                              rows[i][9], rows[i][10], rows[i][11]);
    snprintf(out + p, cap - p, "]");
}

/* The bars the CSV reader reads from the same rows. */
static size_t csv_bars(const char *const rows[][12], size_t n, tb_market_data *bars, size_t cap)
{
    char dir[512], path[1024], csv[4096];
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < 12; c++)
            p += (size_t)snprintf(csv + p, sizeof csv - p, "%s%s", c ? "," : "", rows[i][c]);
        p += (size_t)snprintf(csv + p, sizeof csv - p, "\n");
    }
    tbt_temp_dir(dir, sizeof dir);
    tbt_write_file(dir, "BTCUSDT-1w-2017-07.csv", csv, path, sizeof path);
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    tb_md_reader *r = NULL;
    char err[256] = "";
    if (tb_md_reader_open(path, &cfg, &r, err, sizeof err) != 0) fail_msg("%s", err);
    size_t k = 0;
    int rc;
    while (k < cap && (rc = tb_md_reader_next(r, &bars[k], err, sizeof err)) == 0)
        k++;
    tb_md_reader_close(r);
    tbt_remove_dir(dir);
    return k;
}

static void assert_bars_equal(const tb_market_data *a, const tb_market_data *b)
{
    assert_string_equal(a->symbol, b->symbol);
    assert_true(a->open == b->open);
    assert_true(a->high == b->high);
    assert_true(a->low == b->low);
    assert_true(a->close == b->close);
    assert_true(a->volume == b->volume);
    assert_true(a->open_time == b->open_time);
    assert_true(a->close_time == b->close_time);
}

static void test_klines_equal_the_csv_readers_bars(void **state)
{
    (void)state;
    char json[4096];
    klines_json(KLINE_ROWS, 3, json, sizeof json);
    tb_market_data live[4], csv[4];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(bn_parse_klines(json, strlen(json), "BTCUSDT", live, 4, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(csv_bars(KLINE_ROWS, 3, csv, 4), 3);
    for (size_t i = 0; i < n; i++)
        assert_bars_equal(&live[i], &csv[i]);
    /* and the values are the row's: */
    assert_dec_equal(live[0].high, "0.8");
    assert_true(live[0].open_time == MS(1499040000000));
    assert_true(live[0].close_time == MS(1499644799999));
}

/* Binance's files since 2025 are in µs (>= 1e14): read as the CSV reader
 * reads them. */
static void test_klines_in_microseconds_equal_the_csv_readers_bars(void **state)
{
    (void)state;
    static const char *const rows[][12] = {
        {"1735689600000000", "93576.00", "93610.93", "93537.50", "93610.93", "8.21827",
         "1735689659999999", "769.2", "1", "1", "1", "0"},
        {"1735689660000000", "93610.93", "93652.00", "93606.41", "93652.00", "7.5",
         "1735689719999999", "700", "1", "1", "1", "0"},
    };
    char json[4096];
    klines_json(rows, 2, json, sizeof json);
    tb_market_data live[2], csv[2];
    size_t n = 0;
    char err[256] = "";
    assert_int_equal(bn_parse_klines(json, strlen(json), "BTCUSDT", live, 2, &n, err, sizeof err),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(csv_bars(rows, 2, csv, 2), 2);
    for (size_t i = 0; i < n; i++)
        assert_bars_equal(&live[i], &csv[i]);
    assert_true(live[0].open_time == INT64_C(1735689600000000) * 1000);
}

static void test_bad_klines_are_refused_naming_the_column(void **state)
{
    (void)state;
    struct {
        const char *json, *what;
    } cases[] = {
        {"[[1,\"1\",\"2\",\"1\",\"1\",\"1\"]]", "12 columns"},
        {"[[1,\"1\",\"2\",\"1\",\"x\",\"1\",2,\"0\",0,\"0\",\"0\",\"0\"]]", "'close'"},
        {"[[\"1\",\"1\",\"2\",\"1\",\"1\",\"1\",2,\"0\",0,\"0\",\"0\",\"0\"]]", "'open time'"},
        {"[[1,\"1\",\"0.5\",\"1\",\"1\",\"1\",2,\"0\",0,\"0\",\"0\",\"0\"]]",
         "high 0.5 is below low 1"},
        {"[[1,\"1\",\"2\",\"1\",\"1\",\"-1\",2,\"0\",0,\"0\",\"0\",\"0\"]]",
         "volume -1 is negative"},
        {"[[5,\"1\",\"2\",\"1\",\"1\",\"1\",2,\"0\",0,\"0\",\"0\",\"0\"]]", "close time"},
        {"[[1,\"1\",\"2\",\"1\",\"1\",\"1\",2,\"0\",0,\"0\",\"0\",\"0\"],"
         "[1,\"1\",\"2\",\"1\",\"1\",\"1\",3,\"0\",0,\"0\",\"0\",\"0\"]]",
         "klines[1]"},
        {"{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", "not an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_market_data bars[4];
        size_t n;
        char err[256] = "";
        int rc = bn_parse_klines(cases[i].json, strlen(cases[i].json), "BTCUSDT", bars, 4, &n, err,
                                 sizeof err);
        if (rc != TB_EPARSE || strstr(err, cases[i].what) == NULL)
            fail_msg("case %zu: rc %d, \"%s\" should say %s", i, rc, err, cases[i].what);
    }
}

/* web-socket-streams.md's kline event, raw and in a combined stream. The
 * documented example opens at 0.0010 below its low 0.0015: refused as the
 * CSV reader refuses such a row; with the low at 0.0010 it is read. */
#define DOC_KLINE(low)                                                                             \
    "{\"t\":1672515780000,\"T\":1672515839999,\"s\":\"BNBBTC\",\"i\":\"1m\",\"f\":100,"            \
    "\"L\":200,\"o\":\"0.0010\",\"c\":\"0.0020\",\"h\":\"0.0025\",\"l\":\"" low "\","              \
    "\"v\":\"1000\",\"n\":100,\"x\":false,\"q\":\"1.0000\",\"V\":\"500\",\"Q\":"                   \
    "\"0.500\",\"B\":\"123456\"}"

static void test_kline_event_raw_and_combined(void **state)
{
    (void)state;
    char raw[1024], combined[1200];
    tb_market_data bar;
    int closed = -1;
    char err[256] = "";
    snprintf(raw, sizeof raw, "{\"e\":\"kline\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"k\":%s}",
             DOC_KLINE("0.0015"));
    assert_int_equal(bn_parse_kline_event(raw, strlen(raw), &bar, &closed, err, sizeof err),
                     TB_EPARSE);
    assert_non_null(strstr(err, "open 0.001"));

    snprintf(raw, sizeof raw, "{\"e\":\"kline\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"k\":%s}",
             DOC_KLINE("0.0010"));
    snprintf(combined, sizeof combined, "{\"stream\":\"bnbbtc@kline_1m\",\"data\":%s}", raw);
    assert_int_equal(bn_parse_kline_event(raw, strlen(raw), &bar, &closed, err, sizeof err), 0);
    assert_string_equal(bar.symbol, "BNBBTC");
    assert_dec_equal(bar.open, "0.001");
    assert_dec_equal(bar.high, "0.0025");
    assert_dec_equal(bar.low, "0.001");
    assert_dec_equal(bar.close, "0.002");
    assert_dec_equal(bar.volume, "1000");
    assert_true(bar.open_time == MS(1672515780000));
    assert_true(bar.close_time == MS(1672515839999));
    assert_int_equal(closed, 0);
    tb_market_data bar2;
    assert_int_equal(
        bn_parse_kline_event(combined, strlen(combined), &bar2, &closed, err, sizeof err), 0);
    assert_bars_equal(&bar, &bar2);

    /* The kline equals the REST row (and so the CSV row) it becomes. */
    static const char *const row[][12] = {{"1672515780000", "0.0010", "0.0025", "0.0010", "0.0020",
                                           "1000", "1672515839999", "1", "100", "500", "0.5", "0"}};
    tb_market_data csv[1];
    assert_int_equal(csv_bars(row, 1, csv, 1), 1);
    strcpy(bar.symbol, "BTCUSDT"); /* the file's symbol */
    assert_bars_equal(&bar, &csv[0]);
}

static void test_non_kline_message_is_not_found(void **state)
{
    (void)state;
    const char *msgs[] = {"{\"result\":null,\"id\":1}", "{\"e\":\"trade\",\"E\":1}",
                          "{\"stream\":\"x\",\"data\":{\"e\":\"24hrTicker\"}}"};
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        tb_market_data bar;
        int closed;
        char err[256];
        assert_int_equal(
            bn_parse_kline_event(msgs[i], strlen(msgs[i]), &bar, &closed, err, sizeof err),
            TB_ENOTFOUND);
    }
    const char *bad = "{\"e\":\"kline\",\"k\":{\"t\":1,\"T\":2,\"s\":\"X\",\"o\":\"1\",\"h\":\"1\","
                      "\"l\":\"1\",\"c\":\"1\",\"v\":\"1\"}}";
    tb_market_data bar;
    int closed;
    char err[256] = "";
    assert_int_equal(bn_parse_kline_event(bad, strlen(bad), &bar, &closed, err, sizeof err),
                     TB_EPARSE);
    assert_non_null(strstr(err, "'x'"));
}

/* ---- WebSocket API frames ------------------------------------------------- */

static void test_ws_subscribe_response(void **state)
{
    (void)state;
    const char *j = "{\"id\":\"d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7\",\"status\":200,\"result\":"
                    "{\"subscriptionId\":0},\"rateLimits\":[]}";
    bn_ws_frame f;
    char err[256] = "";
    assert_int_equal(bn_parse_ws_frame(j, strlen(j), &f, err, sizeof err), 0);
    assert_int_equal(f.kind, BN_WS_RESPONSE);
    assert_string_equal(f.id, "d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7");
    assert_int_equal(f.status, 200);
    assert_true(f.subscription_id == 0);
    assert_int_equal(f.error.code, 0);

    const char *num = "{\"id\":42,\"status\":200,\"result\":{}}";
    assert_int_equal(bn_parse_ws_frame(num, strlen(num), &f, err, sizeof err), 0);
    assert_string_equal(f.id, "42");
    assert_true(f.subscription_id == -1);
}

/* web-socket-api.md's error response. */
static void test_ws_error_response(void **state)
{
    (void)state;
    const char *j = "{\"id\":\"e2a85d9f-07a5-4f94-8d5f-789dc3deb097\",\"status\":400,\"error\":{"
                    "\"code\":-2010,\"msg\":\"Account has insufficient balance for requested "
                    "action.\"},\"rateLimits\":[{\"rateLimitType\":\"ORDERS\",\"interval\":"
                    "\"SECOND\",\"intervalNum\":10,\"limit\":50,\"count\":13}]}";
    bn_ws_frame f;
    char err[256] = "";
    assert_int_equal(bn_parse_ws_frame(j, strlen(j), &f, err, sizeof err), 0);
    assert_int_equal(f.kind, BN_WS_RESPONSE);
    assert_int_equal(f.status, 400);
    assert_int_equal(f.error.code, -2010);
    assert_string_equal(f.error.msg, "Account has insufficient balance for requested action.");
    assert_int_equal(bn_classify(f.status, f.error.code), BN_REJECTED);
    assert_int_equal(bn_reject_reason(f.error.code, f.error.msg), TB_REJECT_INSUFFICIENT_FUNDS);
}

/* user-data-stream.md's executionReport (a NEW order), in its envelope. */
static void test_ws_execution_report_from_the_docs(void **state)
{
    (void)state;
    const char *j =
        "{\"subscriptionId\":0,\"event\":{\"e\":\"executionReport\",\"E\":1499405658658,\"s\":"
        "\"ETHBTC\",\"c\":\"mUvoqJxFIILMdfAW5iGSOW\",\"S\":\"BUY\",\"o\":\"LIMIT\",\"f\":\"GTC\","
        "\"q\":\"1.00000000\",\"p\":\"0.10264410\",\"P\":\"0.00000000\",\"F\":\"0.00000000\",\"g\":"
        "-1,\"C\":\"\",\"x\":\"NEW\",\"X\":\"NEW\",\"r\":\"NONE\",\"i\":4293153,\"l\":"
        "\"0.00000000\",\"z\":\"0.00000000\",\"L\":\"0.00000000\",\"n\":\"0\",\"N\":null,\"T\":"
        "1499405658657,\"t\":-1,\"v\":3,\"I\":8641984,\"w\":true,\"m\":false,\"M\":false,\"O\":"
        "1499405658657,\"Z\":\"0.00000000\",\"Y\":\"0.00000000\",\"Q\":\"0.00000000\",\"W\":"
        "1499405658657,\"V\":\"NONE\"}}";
    bn_ws_frame f;
    char err[256] = "";
    assert_int_equal(bn_parse_ws_frame(j, strlen(j), &f, err, sizeof err), 0);
    assert_int_equal(f.kind, BN_WS_EXEC_REPORT);
    assert_true(f.event_subscription_id == 0);
    const bn_exec_report *e = &f.er;
    assert_string_equal(e->symbol, "ETHBTC");
    assert_string_equal(e->client_order_id, "mUvoqJxFIILMdfAW5iGSOW");
    assert_string_equal(e->orig_client_order_id, "");
    assert_int_equal(e->side, TB_SIDE_BUY);
    assert_string_equal(e->type, "LIMIT");
    assert_int_equal(e->tif, TB_TIF_GTC);
    assert_dec_equal(e->qty, "1");
    assert_dec_equal(e->price, "0.1026441");
    assert_string_equal(e->exec_type, "NEW");
    assert_int_equal(e->status, TB_ORDER_NEW);
    assert_string_equal(e->reject_reason, "NONE");
    assert_true(e->order_id == 4293153);
    assert_dec_equal(e->commission, "0");
    assert_string_equal(e->commission_asset, "");
    assert_true(e->event_time == MS(1499405658658));
    assert_true(e->transact_time == MS(1499405658657));
    assert_true(e->trade_id == -1);
}

/* A trade and a cancel as the fake Binance sends them (every field of
 * user-data-stream.md). */
static void test_ws_trade_and_cancel_reports(void **state)
{
    (void)state;
    const char *trade =
        "{\"subscriptionId\":3,\"event\":{\"e\":\"executionReport\",\"E\":1796572120790,\"s\":"
        "\"BTCUSDT\",\"c\":\"tb-1\",\"S\":\"SELL\",\"o\":\"LIMIT\",\"f\":\"IOC\",\"q\":"
        "\"0.50000000\",\"p\":\"42000.00000000\",\"P\":\"0.00000000\",\"F\":\"0.00000000\",\"g\":-"
        "1,"
        "\"C\":\"\",\"x\":\"TRADE\",\"X\":\"PARTIALLY_FILLED\",\"r\":\"NONE\",\"i\":10001,\"l\":"
        "\"0.40000000\",\"z\":\"0.40000000\",\"L\":\"42000.00000000\",\"n\":\"16.80000000\",\"N\":"
        "\"USDT\",\"T\":1796572120782,\"t\":50001,\"I\":7,\"w\":true,\"m\":false,\"M\":false,\"O\":"
        "1796572120782,\"Z\":\"16800.00000000\",\"Y\":\"16800.00000000\",\"Q\":\"0.00000000\","
        "\"V\":\"NONE\"}}";
    bn_ws_frame f;
    char err[256] = "";
    assert_int_equal(bn_parse_ws_frame(trade, strlen(trade), &f, err, sizeof err), 0);
    assert_int_equal(f.kind, BN_WS_EXEC_REPORT);
    assert_true(f.event_subscription_id == 3);
    assert_string_equal(f.er.exec_type, "TRADE");
    assert_int_equal(f.er.status, TB_ORDER_PARTIALLY_FILLED);
    assert_int_equal(f.er.side, TB_SIDE_SELL);
    assert_int_equal(f.er.tif, TB_TIF_IOC);
    assert_dec_equal(f.er.last_qty, "0.4");
    assert_dec_equal(f.er.cum_qty, "0.4");
    assert_dec_equal(f.er.last_price, "42000");
    assert_dec_equal(f.er.commission, "16.8");
    assert_string_equal(f.er.commission_asset, "USDT");
    assert_dec_equal(f.er.cum_quote, "16800");
    assert_true(f.er.trade_id == 50001);

    const char *cancel =
        "{\"subscriptionId\":3,\"event\":{\"e\":\"executionReport\",\"E\":2,\"s\":\"BTCUSDT\","
        "\"c\":\"cancel-7\",\"S\":\"BUY\",\"o\":\"STOP_LOSS\",\"f\":\"GTC\",\"q\":\"1\",\"p\":"
        "\"0\",\"P\":\"39000.1\",\"C\":\"tb-7\",\"x\":\"CANCELED\",\"X\":\"CANCELED\",\"r\":"
        "\"NONE\",\"i\":10002,\"l\":\"0\",\"z\":\"0\",\"L\":\"0\",\"n\":\"0\",\"N\":null,\"T\":2,"
        "\"t\":-1,\"Z\":\"0\"}}";
    assert_int_equal(bn_parse_ws_frame(cancel, strlen(cancel), &f, err, sizeof err), 0);
    assert_string_equal(f.er.client_order_id, "cancel-7");
    assert_string_equal(f.er.orig_client_order_id, "tb-7");
    assert_int_equal(f.er.status, TB_ORDER_CANCELED);
    assert_dec_equal(f.er.stop_price, "39000.1");
}

static void test_ws_other_events(void **state)
{
    (void)state;
    struct {
        const char *json;
        bn_ws_kind kind;
    } cases[] = {
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"outboundAccountPosition\",\"E\":1564034571105,"
         "\"u\":1564034571073,\"B\":[{\"a\":\"ETH\",\"f\":\"10000.000000\",\"l\":\"0.000000\"}]}}",
         BN_WS_ACCOUNT},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"balanceUpdate\",\"E\":1573200697110,\"a\":"
         "\"BTC\",\"d\":\"100.00000000\",\"T\":1573200697068}}",
         BN_WS_ACCOUNT},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"eventStreamTerminated\",\"E\":1728973001334}}",
         BN_WS_TERMINATED},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"listStatus\",\"E\":1564035303637,\"s\":"
         "\"ETHBTC\"}}",
         BN_WS_OTHER_EVENT},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"externalLockUpdate\",\"E\":1581557507324}}",
         BN_WS_OTHER_EVENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bn_ws_frame f;
        char err[256] = "";
        assert_int_equal(
            bn_parse_ws_frame(cases[i].json, strlen(cases[i].json), &f, err, sizeof err), 0);
        assert_int_equal(f.kind, cases[i].kind);
        assert_true(f.event_subscription_id == 0);
    }
}

static void test_ws_bad_frames_are_eparse_naming_the_field(void **state)
{
    (void)state;
    struct {
        const char *json, *what;
    } cases[] = {
        {"{\"id\":\"1\"}", "'status'"},
        {"{\"id\":\"1\",\"status\":400}", "'error'"},
        {"{\"id\":[1],\"status\":200}", "'id'"},
        {"{\"id\":\"1\",\"status\":200,\"result\":{\"subscriptionId\":\"0\"}}", "'subscriptionId'"},
        {"{\"subscriptionId\":0,\"event\":{\"E\":1}}", "'e'"},
        {"{\"subscriptionId\":\"0\",\"event\":{\"e\":\"balanceUpdate\"}}", "'subscriptionId'"},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"executionReport\",\"E\":1,\"s\":\"BTCUSDT\","
         "\"c\":\"a\",\"S\":\"BUY\",\"o\":\"LIMIT\",\"f\":\"GTC\",\"q\":\"1\",\"p\":\"1\",\"x\":"
         "\"NEW\",\"X\":\"NEW\",\"i\":1,\"l\":\"0\",\"z\":\"0\",\"L\":\"0\",\"T\":1,\"t\":-1}}",
         "'Z'"},
        {"{\"subscriptionId\":0,\"event\":{\"e\":\"executionReport\",\"E\":1,\"s\":\"BTCUSDT\","
         "\"c\":\"a\",\"S\":\"BUY\",\"o\":\"LIMIT\",\"f\":\"GTD\"}}",
         "'f'"},
        {"{\"pong\":1}", "neither a response"},
        {"[1]", "not an object"},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bn_ws_frame f;
        char err[256] = "";
        int rc = bn_parse_ws_frame(cases[i].json, strlen(cases[i].json), &f, err, sizeof err);
        if (rc != TB_EPARSE || strstr(err, cases[i].what) == NULL)
            fail_msg("case %zu: rc %d, \"%s\" should name %s", i, rc, err, cases[i].what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_matches_rest_api_example),
        cmocka_unit_test(test_signed_query_matches_rest_api_example),
        cmocka_unit_test(test_non_ascii_value_is_encoded_and_signed_encoded),
        cmocka_unit_test(test_encoding_is_strict_with_upper_case_hex),
        cmocka_unit_test(test_resigning_replaces_timestamp_instead_of_repeating_it),
        cmocka_unit_test(test_zero_recv_window_is_left_out),
        cmocka_unit_test(test_query_overflow_is_reported_once_at_the_end),
        cmocka_unit_test(test_query_that_does_not_fit_the_buffer_is_efull),
        cmocka_unit_test(test_ws_signature_matches_web_socket_api_examples),
        cmocka_unit_test(test_decimals_are_plain_without_trailing_zeros),
        cmocka_unit_test(test_exchange_info_reads_the_symbols_filters),
        cmocka_unit_test(test_exchange_info_legacy_min_notional),
        cmocka_unit_test(test_exchange_info_without_the_symbol_is_not_found),
        cmocka_unit_test(test_exchange_info_bad_field_is_eparse_naming_it),
        cmocka_unit_test(test_weight_limit_is_request_weight_per_minute),
        cmocka_unit_test(test_order_within_the_rules_passes),
        cmocka_unit_test(test_each_filter_failure_names_both_values),
        cmocka_unit_test(test_market_notional_is_skipped_without_reference_price),
        cmocka_unit_test(test_symbol_not_trading_or_type_not_allowed_is_rejected),
        cmocka_unit_test(test_limit_order_params),
        cmocka_unit_test(test_market_and_stop_order_params),
        cmocka_unit_test(test_what_binance_cannot_express_is_enotsup),
        cmocka_unit_test(test_error_classification_table),
        cmocka_unit_test(test_error_body_is_read_tolerantly),
        cmocka_unit_test(test_reject_reasons_from_code_and_message),
        cmocka_unit_test(test_commission_in_quote_base_and_bnb),
        cmocka_unit_test(test_interval_names),
        cmocka_unit_test(test_order_full_reply_from_the_docs),
        cmocka_unit_test(test_query_and_cancel_replies_from_the_docs),
        cmocka_unit_test(test_fake_binance_replies_parse),
        cmocka_unit_test(test_lists_longer_than_the_room_are_efull),
        cmocka_unit_test(test_trades_and_account_from_the_docs),
        cmocka_unit_test(test_decimals_with_zeros_past_the_eighth_digit_parse),
        cmocka_unit_test(test_bad_or_missing_fields_are_eparse_naming_the_field),
        cmocka_unit_test(test_more_fills_than_kept_is_efull_with_the_order_read),
        cmocka_unit_test(test_order_status_mapping),
        cmocka_unit_test(test_klines_equal_the_csv_readers_bars),
        cmocka_unit_test(test_klines_in_microseconds_equal_the_csv_readers_bars),
        cmocka_unit_test(test_bad_klines_are_refused_naming_the_column),
        cmocka_unit_test(test_kline_event_raw_and_combined),
        cmocka_unit_test(test_non_kline_message_is_not_found),
        cmocka_unit_test(test_ws_subscribe_response),
        cmocka_unit_test(test_ws_error_response),
        cmocka_unit_test(test_ws_execution_report_from_the_docs),
        cmocka_unit_test(test_ws_trade_and_cancel_reports),
        cmocka_unit_test(test_ws_other_events),
        cmocka_unit_test(test_ws_bad_frames_are_eparse_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
