/* The Binance Spot protocol layer (src/exchange/binance/bn_proto.h): signing
 * against the official documents' examples, query strings, numbers, trading
 * rules, error classification and the parsers of every reply the adapter
 * reads. Pure functions: no server, no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
