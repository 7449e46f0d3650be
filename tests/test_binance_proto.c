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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
