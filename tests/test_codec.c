#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "tradebus/codec.h"

#include "../src/core/codec_paths.h" /* the decoder's two paths one at a time */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- counting heap allocations ----------------------------------------- */

static unsigned long g_allocs; /* counted while g_counting */
static int g_counting;

#if defined(__SANITIZE_ADDRESS__)
#define TB_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TB_TEST_ASAN 1
#endif
#endif

#ifdef TB_TEST_ASAN
/* ASan owns malloc: an interposer here would hand its memory to glibc. Its
 * own hooks see every allocation instead (declared here: gcc ships no
 * <sanitizer/allocator_interface.h>; its libasan has the function). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    if (g_counting) g_allocs++;
}

static void on_free(const volatile void *p)
{
    (void)p;
}

static void start_counting(void)
{
    static int installed;
    if (!installed)
        assert_int_not_equal(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free), 0);
    installed = 1;
    g_allocs = 0;
    g_counting = 1;
}
#else
/* Interposed as bench/bench.c does (glibc), and exported (the build hides
 * symbols by default) so that jansson's calls come here too. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
#define INTERPOSE __attribute__((visibility("default")))

INTERPOSE void *malloc(size_t n)
{
    if (g_counting) g_allocs++;
    return __libc_malloc(n);
}

INTERPOSE void *calloc(size_t a, size_t b)
{
    if (g_counting) g_allocs++;
    return __libc_calloc(a, b);
}

INTERPOSE void *realloc(void *p, size_t n)
{
    if (g_counting) g_allocs++;
    return __libc_realloc(p, n);
}

static void start_counting(void)
{
    g_allocs = 0;
    g_counting = 1;
}
#endif

static unsigned long stop_counting(void)
{
    g_counting = 0;
    return g_allocs;
}

static tb_decimal D(const char *s)
{
    tb_decimal d = 0;
    assert_int_equal(tb_dec_parse(s, (size_t)-1, &d), TB_OK);
    return d;
}

static void set_str(char *dst, size_t cap, const char *src)
{
    assert_int_equal(tb_str_copy(dst, cap, src), TB_OK);
}
#define SET(field, src) set_str((field), sizeof(field), (src))

static const tb_event_type all_types[] = {
    TB_EV_MARKET_DATA,    TB_EV_SIGNAL_GENERATED, TB_EV_ORDER_PLACEMENT_REQUEST,
    TB_EV_ORDER_CREATED,  TB_EV_ORDER_FILLED,     TB_EV_ORDER_REJECTED,
    TB_EV_ORDER_CANCELED, TB_EV_POSITION_UPDATE,  TB_EV_RISK_ALERT,
};

/* The envelope in its canonical order. */
static const char *const envelope_keys[] = {"type",         "version",        "event_id",
                                            "causation_id", "correlation_id", "timestamp",
                                            "source",       "payload"};

/* Every field set, none to its zero value, so a field the codec forgot to
 * write or read cannot survive a round trip unnoticed. */
static void make_event(tb_event_type type, tb_event *ev)
{
    static const tb_source sources[TB_EV_COUNT] = {
        [TB_EV_MARKET_DATA] = TB_SRC_MARKET_DATA,
        [TB_EV_SIGNAL_GENERATED] = TB_SRC_SIGNAL,
        [TB_EV_ORDER_PLACEMENT_REQUEST] = TB_SRC_SIGNAL,
        [TB_EV_ORDER_CREATED] = TB_SRC_ORDERS,
        [TB_EV_ORDER_FILLED] = TB_SRC_EXCHANGE,
        [TB_EV_ORDER_REJECTED] = TB_SRC_RISK,
        [TB_EV_ORDER_CANCELED] = TB_SRC_EXCHANGE,
        [TB_EV_POSITION_UPDATE] = TB_SRC_POSITIONS,
        [TB_EV_RISK_ALERT] = TB_SRC_RISK,
    };
    tb_event_init(ev, type, sources[type]);
    ev->event_id = (UINT64_C(1) << 48) | 12345;
    ev->causation_id = (UINT64_C(1) << 48) | 12344;
    ev->correlation_id = (UINT64_C(1) << 48) | 12000;
    ev->timestamp = 1704067260000000000;
    switch (type) {
    case TB_EV_MARKET_DATA: {
        tb_market_data *p = &ev->u.market_data;
        SET(p->symbol, "BTCUSDT");
        p->open = D("42000.5");
        p->high = D("42100.25");
        p->low = D("41900.75");
        p->close = D("42050.12345678");
        p->volume = D("123.456");
        p->open_time = 1704067200000000000;
        p->close_time = 1704067259999999999;
        break;
    }
    case TB_EV_SIGNAL_GENERATED: {
        tb_signal_generated *p = &ev->u.signal;
        p->signal_type = TB_SIGNAL_SELL;
        SET(p->symbol, "ETHUSDT");
        p->price = D("2250.5");
        p->volume = D("1.5");
        SET(p->strategy_id, "sma_cross");
        p->order_type = TB_ORDER_LIMIT;
        p->limit_price = D("2251");
        break;
    }
    case TB_EV_ORDER_PLACEMENT_REQUEST: {
        tb_order_placement_request *p = &ev->u.order_request;
        p->order_type = TB_ORDER_LIMIT;
        p->side = TB_SIDE_SELL;
        SET(p->symbol, "ETHUSDT");
        p->quantity = D("1.5");
        p->price = D("2251");
        SET(p->strategy_id, "sma_cross");
        SET(p->client_order_id, "tb-1-42");
        break;
    }
    case TB_EV_ORDER_CREATED: {
        tb_order_created *p = &ev->u.order_created;
        SET(p->order_id, "8389765");
        p->status = TB_ORDER_NEW;
        SET(p->client_order_id, "tb-1-42");
        p->order_type = TB_ORDER_LIMIT;
        p->side = TB_SIDE_SELL;
        SET(p->symbol, "ETHUSDT");
        p->quantity = D("1.5");
        p->price = D("2251");
        SET(p->strategy_id, "sma_cross");
        break;
    }
    case TB_EV_ORDER_FILLED: {
        tb_order_filled *p = &ev->u.order_filled;
        SET(p->order_id, "8389765");
        SET(p->client_order_id, "tb-1-42");
        SET(p->strategy_id, "sma_cross");
        SET(p->symbol, "ETHUSDT");
        p->side = TB_SIDE_SELL;
        p->filled_quantity = D("0.5");
        p->filled_price = D("2251.1");
        p->commission = D("1.12555");
        p->cumulative_quantity = D("1");
        p->average_price = D("2251.05");
        p->status = TB_ORDER_PARTIALLY_FILLED;
        p->trade_id = 987654321012;
        break;
    }
    case TB_EV_ORDER_REJECTED: {
        tb_order_rejected *p = &ev->u.order_rejected;
        SET(p->order_id, "8389766");
        SET(p->client_order_id, "tb-1-43");
        SET(p->strategy_id, "sma_cross");
        SET(p->symbol, "ETHUSDT");
        p->side = TB_SIDE_BUY;
        p->order_type = TB_ORDER_MARKET;
        p->quantity = D("-1");
        p->price = D("0.01");
        p->reason = TB_REJECT_INVALID_QUANTITY;
        SET(p->text, "quantity must be > 0");
        break;
    }
    case TB_EV_ORDER_CANCELED: {
        tb_order_canceled *p = &ev->u.order_canceled;
        SET(p->order_id, "8389767");
        SET(p->client_order_id, "tb-1-44");
        SET(p->strategy_id, "sma_cross");
        SET(p->symbol, "BNBUSDT");
        p->side = TB_SIDE_BUY;
        p->filled_quantity = D("0.25");
        p->canceled_quantity = D("0.75");
        p->status = TB_ORDER_EXPIRED;
        SET(p->text, "GTD expired");
        break;
    }
    case TB_EV_POSITION_UPDATE: {
        tb_position_update *p = &ev->u.position;
        p->position_id = 77;
        SET(p->strategy_id, "sma_cross");
        SET(p->symbol, "ETHUSDT");
        p->current_quantity = D("-1.5");
        p->entry_price = D("2251.05");
        p->unrealized_pnl = D("-12.34");
        p->realized_pnl = D("56.78");
        p->mark_price = D("2259.28");
        p->status = TB_POSITION_OPEN;
        break;
    }
    case TB_EV_RISK_ALERT: {
        tb_risk_alert *p = &ev->u.risk_alert;
        SET(p->rule, "max_drawdown");
        SET(p->detail, "drawdown 12.5% > 10%");
        p->trading_state = TB_TRADING_HALTED;
        SET(p->strategy_id, "sma_cross");
        SET(p->symbol, "BTCUSDT");
        break;
    }
    default:
        fail_msg("no fixture for type %d", (int)type);
    }
}

static int encode_ok(const tb_event *ev, char *buf, size_t buflen)
{
    int n = tb_codec_encode(ev, buf, buflen);
    if (n <= 0) fail_msg("encode of %s failed: %d", tb_event_type_name(ev->type), n);
    assert_int_equal((size_t)n, strlen(buf));
    return n;
}

static void decode_ok(const char *json, tb_event *out)
{
    char err[TB_CODEC_ERRLEN] = "";
    int rc = tb_codec_decode(json, strlen(json), out, err, sizeof err);
    if (rc != TB_OK) fail_msg("decode failed (%d: %s) for %s", rc, err, json);
}

static void expect_decode_error(const char *json, const char *expected)
{
    tb_event ev;
    char err[TB_CODEC_ERRLEN] = "";
    int rc = tb_codec_decode(json, strlen(json), &ev, err, sizeof err);
    if (rc != TB_EPARSE || strcmp(err, expected) != 0)
        fail_msg("%s\n  -> rc %d, err \"%s\"\n  expected \"%s\"", json, rc, err, expected);
}

/* The fixture of `type`, encoded, with one key replaced (value) or removed
 * (value NULL); "payload.x" addresses a payload key. Steals value. */
static char *mutated(tb_event_type type, const char *key, json_t *value)
{
    tb_event ev;
    char buf[2048];
    make_event(type, &ev);
    encode_ok(&ev, buf, sizeof buf);
    json_error_t jerr;
    json_t *root = json_loads(buf, 0, &jerr);
    assert_non_null(root);
    json_t *obj = root;
    if (strncmp(key, "payload.", 8) == 0) {
        obj = json_object_get(root, "payload");
        key += 8;
    }
    if (value == NULL)
        assert_int_equal(json_object_del(obj, key), 0);
    else
        assert_int_equal(json_object_set_new(obj, key, value), 0);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    assert_non_null(s);
    return s;
}

static void expect_mutation_error(tb_event_type type, const char *key, json_t *value,
                                  const char *expected)
{
    char *s = mutated(type, key, value);
    expect_decode_error(s, expected);
    free(s);
}

static void expect_mutation_ok(tb_event_type type, const char *key, json_t *value, tb_event *out)
{
    char *s = mutated(type, key, value);
    decode_ok(s, out);
    free(s);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- encoding ---------------------------------------------------------- */

static void test_codec_encodes_canonical_market_data(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    encode_ok(&ev, buf, sizeof buf);
    assert_string_equal(
        buf, "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"281474976723001\","
             "\"causation_id\":\"281474976723000\",\"correlation_id\":\"281474976722656\","
             "\"timestamp\":1704067260000000000,\"source\":\"market_data\",\"payload\":{"
             "\"symbol\":\"BTCUSDT\",\"open\":\"42000.5\",\"high\":\"42100.25\","
             "\"low\":\"41900.75\",\"close\":\"42050.12345678\",\"volume\":\"123.456\","
             "\"open_time\":1704067200000000000,\"close_time\":1704067259999999999}}");
}

/* The limits of ids (uint64 strings) and times (int64 integers) on both
 * sides, each encoded back as given: 19 digits are read without a test
 * per digit, so the 20th and the edges are where a mistake would show. */
static void test_codec_ids_and_times_at_their_limits(void **state)
{
    (void)state;
    static const struct {
        const char *id, *time;
        int ok;
    } cases[] = {
        {"18446744073709551615", "9223372036854775807", 1},
        {"9999999999999999999", "999999999999999999", 1},
        {"10000000000000000000", "1000000000000000000", 1},
        {"1", "0", 1},
        {"18446744073709551616", "1", 0}, /* id past 2^64 - 1 */
        {"99999999999999999999", "1", 0}, /* 20 nines */
        {"1", "9223372036854775808", 0},  /* time past INT64_MAX */
        {"1", "9999999999999999999", 0},  /* 19 digits, too large */
        {"1", "10000000000000000000", 0}, /* 20 digits */
        {"012", "1", 0},                  /* a leading zero */
        {"12a", "1", 0},
        {"123456789012345678901", "1", 0}, /* 21 digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024], err[256], back[1024];
        snprintf(json, sizeof json,
                 "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"%s\","
                 "\"causation_id\":\"1\",\"correlation_id\":\"1\",\"timestamp\":%s,"
                 "\"source\":\"market_data\",\"payload\":{\"symbol\":\"BTCUSDT\",\"open\":\"1\","
                 "\"high\":\"1\",\"low\":\"1\",\"close\":\"1\",\"volume\":\"1\","
                 "\"open_time\":0,\"close_time\":0}}",
                 cases[i].id, cases[i].time);
        tb_event ev;
        int rc = tb_codec_decode(json, strlen(json), &ev, err, sizeof err);
        if (!cases[i].ok) {
            if (rc == 0) fail_msg("case %zu (%s, %s) was accepted", i, cases[i].id, cases[i].time);
            continue;
        }
        if (rc != 0) fail_msg("case %zu: %s", i, err);
        assert_true(tb_codec_encode(&ev, back, sizeof back) > 0);
        assert_string_equal(back, json);
    }
}

static void test_codec_encodes_canonical_order_filled(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_ORDER_FILLED, &ev);
    encode_ok(&ev, buf, sizeof buf);
    assert_string_equal(
        buf, "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"281474976723001\","
             "\"causation_id\":\"281474976723000\",\"correlation_id\":\"281474976722656\","
             "\"timestamp\":1704067260000000000,\"source\":\"exchange\",\"payload\":{"
             "\"order_id\":\"8389765\",\"client_order_id\":\"tb-1-42\","
             "\"strategy_id\":\"sma_cross\",\"symbol\":\"ETHUSDT\",\"side\":\"SELL\","
             "\"filled_quantity\":\"0.5\",\"filled_price\":\"2251.1\",\"commission\":\"1.12555\","
             "\"cumulative_quantity\":\"1\",\"average_price\":\"2251.05\","
             "\"status\":\"PARTIALLY_FILLED\",\"trade_id\":\"987654321012\"}}");
}

static void test_codec_encodes_every_enum_by_wire_name(void **state)
{
    (void)state;
    static const struct {
        tb_event_type type;
        const char *fragment;
    } cases[] = {
        {TB_EV_SIGNAL_GENERATED, "\"signal_type\":\"SELL\""},
        {TB_EV_SIGNAL_GENERATED, "\"order_type\":\"LIMIT\""},
        {TB_EV_ORDER_CREATED, "\"status\":\"NEW\""},
        {TB_EV_ORDER_REJECTED, "\"reason\":\"INVALID_QUANTITY\""},
        {TB_EV_ORDER_REJECTED, "\"order_type\":\"MARKET\""},
        {TB_EV_ORDER_REJECTED, "\"side\":\"BUY\""},
        {TB_EV_ORDER_CANCELED, "\"status\":\"EXPIRED\""},
        {TB_EV_POSITION_UPDATE, "\"status\":\"OPEN\""},
        {TB_EV_POSITION_UPDATE, "\"position_id\":\"77\""},
        {TB_EV_RISK_ALERT, "\"trading_state\":\"HALTED\""},
        {TB_EV_RISK_ALERT, "\"source\":\"risk\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        tb_event ev;
        char buf[2048];
        make_event(cases[i].type, &ev);
        encode_ok(&ev, buf, sizeof buf);
        if (strstr(buf, cases[i].fragment) == NULL) fail_msg("%s lacks %s", buf, cases[i].fragment);
    }
}

static void test_codec_payload_keys_follow_declaration_order(void **state)
{
    (void)state;
    static const struct {
        tb_event_type type;
        const char *keys[13];
    } cases[] = {
        {TB_EV_MARKET_DATA,
         {"symbol", "open", "high", "low", "close", "volume", "open_time", "close_time"}},
        {TB_EV_SIGNAL_GENERATED,
         {"signal_type", "symbol", "price", "volume", "strategy_id", "order_type", "limit_price"}},
        {TB_EV_ORDER_PLACEMENT_REQUEST,
         {"order_type", "side", "symbol", "quantity", "price", "strategy_id", "client_order_id"}},
        {TB_EV_ORDER_CREATED,
         {"order_id", "status", "client_order_id", "order_type", "side", "symbol", "quantity",
          "price", "strategy_id"}},
        {TB_EV_ORDER_FILLED,
         {"order_id", "client_order_id", "strategy_id", "symbol", "side", "filled_quantity",
          "filled_price", "commission", "cumulative_quantity", "average_price", "status",
          "trade_id"}},
        {TB_EV_ORDER_REJECTED,
         {"order_id", "client_order_id", "strategy_id", "symbol", "side", "order_type", "quantity",
          "price", "reason", "text"}},
        {TB_EV_ORDER_CANCELED,
         {"order_id", "client_order_id", "strategy_id", "symbol", "side", "filled_quantity",
          "canceled_quantity", "status", "text"}},
        {TB_EV_POSITION_UPDATE,
         {"position_id", "strategy_id", "symbol", "current_quantity", "entry_price",
          "unrealized_pnl", "realized_pnl", "mark_price", "status"}},
        {TB_EV_RISK_ALERT, {"rule", "detail", "trading_state", "strategy_id", "symbol"}},
    };
    assert_int_equal(ARRAY_LEN(cases), ARRAY_LEN(all_types));
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        tb_event ev;
        char buf[2048];
        make_event(cases[c].type, &ev);
        encode_ok(&ev, buf, sizeof buf);
        json_error_t jerr;
        json_t *root = json_loads(buf, 0, &jerr);
        assert_non_null(root);

        size_t i = 0;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            assert_true(i < ARRAY_LEN(envelope_keys));
            assert_string_equal(key, envelope_keys[i++]);
        }
        assert_int_equal(i, ARRAY_LEN(envelope_keys));

        i = 0;
        json_object_foreach(json_object_get(root, "payload"), key, v)
        {
            assert_non_null(cases[c].keys[i]);
            assert_string_equal(key, cases[c].keys[i++]);
        }
        assert_null(cases[c].keys[i]);
        json_decref(root);
    }
}

static void test_codec_round_trips_every_event_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(all_types); i++) {
        tb_event ev, back;
        char buf[2048], again[2048];
        make_event(all_types[i], &ev);
        int n = encode_ok(&ev, buf, sizeof buf);
        memset(&back, 0xCD, sizeof back);
        decode_ok(buf, &back);
        assert_memory_equal(&back, &ev, sizeof ev);
        assert_int_equal(encode_ok(&back, again, sizeof again), n);
        assert_string_equal(again, buf);
    }
}

/* Fields added after version 1 (time in force, stop price, origin, cancel
 * cause, a signal's target) are written only when set, so a run that does
 * not use them writes the events it always did, and events without them
 * (older journals, other producers) still decode, as zero. */
static void test_codec_optional_fields_are_omitted_when_zero_and_round_trip_when_set(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_ORDER_CREATED, &ev);
    encode_ok(&ev, buf, sizeof buf);
    assert_null(strstr(buf, "time_in_force"));
    assert_null(strstr(buf, "stop_price"));
    assert_null(strstr(buf, "origin"));
    ev.u.order_created.order_type = TB_ORDER_STOP_MARKET;
    ev.u.order_created.time_in_force = TB_TIF_FOK;
    ev.u.order_created.stop_price = 99 * TB_DECIMAL_ONE;
    ev.u.order_created.origin = TB_ORIGIN_TRAILING_STOP;
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"order_type\":\"STOP_MARKET\""));
    assert_non_null(strstr(buf, "\"time_in_force\":\"FOK\",\"stop_price\":\"99\","
                                "\"origin\":\"trailing_stop\"}"));
    memset(&back, 0xCD, sizeof back);
    decode_ok(buf, &back);
    assert_memory_equal(&back, &ev, sizeof ev);

    make_event(TB_EV_ORDER_CANCELED, &ev);
    ev.u.order_canceled.cause = TB_CANCEL_REPLACED;
    ev.u.order_canceled.origin = TB_ORIGIN_STOP_LOSS;
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"cause\":\"replaced\",\"origin\":\"stop_loss\"}"));
    decode_ok(buf, &back);
    assert_memory_equal(&back, &ev, sizeof ev);

    make_event(TB_EV_SIGNAL_GENERATED, &ev);
    ev.u.signal.target = -3 * TB_DECIMAL_ONE / 2;
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"target\":\"-1.5\"}"));
    decode_ok(buf, &back);
    assert_memory_equal(&back, &ev, sizeof ev);
    /* A known key with an unknown value is still refused. */
    char *bad = mutated(TB_EV_ORDER_FILLED, "payload.origin", json_string("panic"));
    tb_event x;
    char err[TB_CODEC_ERRLEN] = "";
    assert_int_equal(tb_codec_decode(bad, strlen(bad), &x, err, sizeof err), TB_EPARSE);
    assert_non_null(strstr(err, "payload.origin"));
    free(bad);
}

static void test_codec_round_trips_extreme_values(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_POSITION_UPDATE, &ev);
    ev.event_id = UINT64_MAX;
    ev.causation_id = 0;
    ev.correlation_id = UINT64_MAX - 1;
    ev.timestamp = INT64_MAX;
    tb_position_update *p = &ev.u.position;
    p->position_id = UINT64_MAX;
    p->current_quantity = -INT64_MAX;
    p->unrealized_pnl = INT64_MAX;
    p->realized_pnl = -1;
    p->entry_price = 0;
    p->mark_price = 1;
    SET(p->strategy_id, "0123456789012345678901234567890");
    SET(p->symbol, "ABCDEFGHIJKLMNO");
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"event_id\":\"18446744073709551615\""));
    assert_non_null(strstr(buf, "\"timestamp\":9223372036854775807"));
    assert_non_null(strstr(buf, "\"current_quantity\":\"-92233720368.54775807\""));
    decode_ok(buf, &back);
    assert_memory_equal(&back, &ev, sizeof ev);
}

static void test_codec_escapes_quotes_backslash_and_control_characters(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_RISK_ALERT, &ev);
    SET(ev.u.risk_alert.detail, "a\"b\\c\n\x01\x1f/\x7f\xc3\xa9\xf0\x9f\x98\x80");
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"detail\":\"a\\\"b\\\\c\\u000a\\u0001\\u001f/\x7f\xc3\xa9"
                                "\xf0\x9f\x98\x80\","));
    decode_ok(buf, &back);
    assert_string_equal(back.u.risk_alert.detail, ev.u.risk_alert.detail);
}

static void test_codec_round_trips_every_control_character(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_ORDER_REJECTED, &ev);
    char text[TB_TEXT_LEN];
    for (int c = 1; c < 0x20; c++)
        text[c - 1] = (char)c;
    memcpy(text + 31, "\"\\/\t", 5);
    SET(ev.u.order_rejected.text, text);
    encode_ok(&ev, buf, sizeof buf);
    for (const char *p = buf; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    decode_ok(buf, &back);
    assert_string_equal(back.u.order_rejected.text, text);
}

static void test_codec_encode_reports_small_buffer(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        tb_event ev;
        char full[2048];
        make_event(all_types[t], &ev);
        int n = encode_ok(&ev, full, sizeof full);
        /* Exact-size heap buffers, so ASan sees any write past the end. */
        for (size_t len = 0; len <= (size_t)n; len++) {
            char *buf = malloc(len ? len : 1);
            assert_non_null(buf);
            assert_int_equal(tb_codec_encode(&ev, buf, len), TB_EFULL);
            if (len > 0) assert_int_equal(buf[0], '\0');
            free(buf);
        }
        char *buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(tb_codec_encode(&ev, buf, (size_t)n + 1), n);
        assert_string_equal(buf, full);
        free(buf);
    }
}

static void fill_worst(char *s, size_t cap)
{
    memset(s, '\x01', cap - 1); /* each escapes to six bytes */
    s[cap - 1] = '\0';
}
#define WORST(field) fill_worst((field), sizeof(field))

static void test_codec_worst_case_event_fits_2048_bytes(void **state)
{
    (void)state;
    int longest = 0;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        tb_event ev;
        make_event(all_types[t], &ev);
        ev.source = TB_SRC_MARKET_DATA;
        ev.event_id = ev.causation_id = ev.correlation_id = UINT64_MAX;
        ev.timestamp = INT64_MIN;
        switch (all_types[t]) {
        case TB_EV_MARKET_DATA: {
            tb_market_data *p = &ev.u.market_data;
            WORST(p->symbol);
            p->open = p->high = p->low = p->close = p->volume = -INT64_MAX;
            p->open_time = p->close_time = INT64_MIN;
            break;
        }
        case TB_EV_SIGNAL_GENERATED: {
            tb_signal_generated *p = &ev.u.signal;
            WORST(p->symbol);
            WORST(p->strategy_id);
            p->price = p->volume = p->limit_price = p->target = -INT64_MAX;
            p->order_type = TB_ORDER_MARKET;
            break;
        }
        case TB_EV_ORDER_PLACEMENT_REQUEST: {
            tb_order_placement_request *p = &ev.u.order_request;
            WORST(p->symbol);
            WORST(p->strategy_id);
            WORST(p->client_order_id);
            WORST(p->oco_with);
            p->quantity = p->price = p->stop_price = p->trailing_pct = -INT64_MAX;
            p->order_type = TB_ORDER_STOP_MARKET;
            p->time_in_force = TB_TIF_FOK;
            p->origin = TB_ORIGIN_TRAILING_STOP;
            break;
        }
        case TB_EV_ORDER_CREATED: {
            tb_order_created *p = &ev.u.order_created;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->symbol);
            WORST(p->strategy_id);
            WORST(p->oco_with);
            p->status = TB_ORDER_PARTIALLY_FILLED;
            p->order_type = TB_ORDER_STOP_MARKET;
            p->quantity = p->price = p->stop_price = p->trailing_pct = -INT64_MAX;
            p->time_in_force = TB_TIF_FOK;
            p->origin = TB_ORIGIN_TRAILING_STOP;
            break;
        }
        case TB_EV_ORDER_FILLED: {
            tb_order_filled *p = &ev.u.order_filled;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->strategy_id);
            WORST(p->symbol);
            p->filled_quantity = p->filled_price = p->commission = -INT64_MAX;
            p->origin = TB_ORIGIN_TRAILING_STOP;
            p->cumulative_quantity = p->average_price = -INT64_MAX;
            p->trade_id = UINT64_MAX;
            break;
        }
        case TB_EV_ORDER_REJECTED: {
            tb_order_rejected *p = &ev.u.order_rejected;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->strategy_id);
            WORST(p->symbol);
            WORST(p->text);
            p->order_type = TB_ORDER_MARKET;
            p->quantity = p->price = -INT64_MAX;
            p->reason = TB_REJECT_INSUFFICIENT_FUNDS;
            break;
        }
        case TB_EV_ORDER_CANCELED: {
            tb_order_canceled *p = &ev.u.order_canceled;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->strategy_id);
            WORST(p->symbol);
            WORST(p->text);
            p->filled_quantity = p->canceled_quantity = -INT64_MAX;
            p->cause = TB_CANCEL_REQUESTED;
            p->origin = TB_ORIGIN_TRAILING_STOP;
            p->status = TB_ORDER_CANCELED;
            break;
        }
        case TB_EV_POSITION_UPDATE: {
            tb_position_update *p = &ev.u.position;
            p->position_id = UINT64_MAX;
            WORST(p->strategy_id);
            WORST(p->symbol);
            p->current_quantity = p->entry_price = p->unrealized_pnl = -INT64_MAX;
            p->realized_pnl = p->mark_price = -INT64_MAX;
            p->status = TB_POSITION_CLOSED;
            break;
        }
        case TB_EV_RISK_ALERT: {
            tb_risk_alert *p = &ev.u.risk_alert;
            WORST(p->rule);
            WORST(p->detail);
            WORST(p->strategy_id);
            WORST(p->symbol);
            p->trading_state = TB_TRADING_REDUCING;
            break;
        }
        default:
            fail();
        }
        char *buf = malloc(2048);
        assert_non_null(buf);
        int n = encode_ok(&ev, buf, 2048);
        if (n > longest) longest = n;
        free(buf);
    }
    print_message("longest worst-case encoding: %d bytes\n", longest);
    assert_true(longest < 2048);
}

static void test_codec_encode_rejects_unknown_type(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    ev.type = TB_EV_NONE;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
    assert_string_equal(buf, "");
    ev.type = TB_EV_COUNT;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
    ev.type = (tb_event_type)-3;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
}

static void test_codec_encode_rejects_unknown_enum_value(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_ORDER_PLACEMENT_REQUEST, &ev);
    ev.u.order_request.side = (tb_side)0; /* forgotten field */
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
    assert_string_equal(buf, "");
    make_event(TB_EV_ORDER_REJECTED, &ev);
    ev.u.order_rejected.reason = (tb_reject_reason)99;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
}

static void test_codec_encode_rejects_unknown_source(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    ev.source = TB_SRC_COUNT;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
}

static void test_codec_encode_rejects_wrong_version(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    ev.version = TB_EVENT_VERSION + 1;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
    ev.version = 0;
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
}

static void test_codec_encode_rejects_unterminated_string(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    memset(ev.u.market_data.symbol, 'A', sizeof ev.u.market_data.symbol);
    assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
}

static void test_codec_encode_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\xc3",             /* truncated sequence */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* lead byte past U+10FFFF */
        "\xf0\x8f\xbf\xbf", /* overlong, four bytes */
        "ok\x80",           /* stray continuation byte */
        "\xe2\x82",         /* truncated euro sign */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        tb_event ev;
        char buf[2048];
        make_event(TB_EV_ORDER_REJECTED, &ev);
        SET(ev.u.order_rejected.text, bad[i]);
        assert_int_equal(tb_codec_encode(&ev, buf, sizeof buf), TB_EINVAL);
    }
}

static void test_codec_encode_passes_valid_utf8_through(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_ORDER_REJECTED, &ev);
    SET(ev.u.order_rejected.text, "\xe2\x82\xac 5 \xef\xbf\xbf \xf4\x8f\xbf\xbf \xc2\x80");
    encode_ok(&ev, buf, sizeof buf);
    assert_non_null(
        strstr(buf, "\"text\":\"\xe2\x82\xac 5 \xef\xbf\xbf \xf4\x8f\xbf\xbf \xc2\x80\""));
    decode_ok(buf, &back);
    assert_string_equal(back.u.order_rejected.text, ev.u.order_rejected.text);
}

static void test_codec_encode_rejects_null_arguments(void **state)
{
    (void)state;
    tb_event ev;
    char buf[16];
    make_event(TB_EV_MARKET_DATA, &ev);
    assert_int_equal(tb_codec_encode(NULL, buf, sizeof buf), TB_EINVAL);
    assert_int_equal(tb_codec_encode(&ev, NULL, 2048), TB_EINVAL);
}

/* ---- decoding: JSON level ---------------------------------------------- */

static void test_codec_rejects_truncated_json(void **state)
{
    (void)state;
    expect_decode_error("{\"type\":", "json: line 1 column 8: unexpected token near end of file");
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        tb_event ev;
        char buf[2048];
        make_event(all_types[t], &ev);
        int n = encode_ok(&ev, buf, sizeof buf);
        for (int len = 0; len < n; len++) {
            /* A heap copy of just the prefix: no NUL after it to lean on. */
            char *prefix = malloc((size_t)len + 1);
            assert_non_null(prefix);
            memcpy(prefix, buf, (size_t)len);
            char err[TB_CODEC_ERRLEN];
            assert_int_equal(tb_codec_decode(prefix, (size_t)len, &ev, err, sizeof err), TB_EPARSE);
            if (!starts_with(err, "json: line 1 column ")) fail_msg("prefix %d: %s", len, err);
            free(prefix);
        }
    }
}

static void test_codec_rejects_malformed_json_syntax(void **state)
{
    (void)state;
    expect_decode_error("{\"type\":}", "json: line 1 column 9: unexpected token near '}'");
    expect_decode_error("{\"a\":1} x", "json: line 1 column 9: end of file expected near 'x'");
    expect_decode_error("", "json: line 1 column 0: '[' or '{' expected near end of file");
    expect_decode_error("{\"a\":NaN}", "json: line 1 column 8: invalid token near 'NaN'");
}

static void test_codec_rejects_non_object_json(void **state)
{
    (void)state;
    expect_decode_error("[1,2]", "json: not an object");
    expect_decode_error("[]", "json: not an object");
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    assert_int_equal(tb_codec_decode("42", 2, &ev, err, sizeof err), TB_EPARSE);
    assert_true(starts_with(err, "json: line 1 column 2: "));
}

static void test_codec_rejects_duplicate_keys(void **state)
{
    (void)state;
    expect_decode_error("{\"type\":\"MarketData\",\"type\":\"MarketData\"}",
                        "json: line 1 column 27: duplicate object key near '\"type\"'");
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    int n = encode_ok(&ev, buf, sizeof buf);
    /* Repeat the symbol inside the payload. */
    memcpy(buf + n - 2, ",\"symbol\":\"X\"}}", 16);
    char err[TB_CODEC_ERRLEN];
    assert_int_equal(tb_codec_decode(buf, strlen(buf), &ev, err, sizeof err), TB_EPARSE);
    assert_non_null(strstr(err, "duplicate object key"));
}

static void test_codec_rejects_embedded_nul(void **state)
{
    (void)state;
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    char *s = mutated(TB_EV_MARKET_DATA, "payload.symbol", json_stringn("BTC\0USDT", 8));
    assert_int_equal(tb_codec_decode(s, strlen(s), &ev, err, sizeof err), TB_EPARSE);
    assert_true(starts_with(err, "json: line 1 column "));
    assert_non_null(strstr(err, "\\u0000 is not allowed"));
    free(s);

    /* A raw NUL byte inside the given length. */
    static const char raw[] = "{\"type\":\"Market\0Data\"}";
    assert_int_equal(tb_codec_decode(raw, sizeof raw - 1, &ev, err, sizeof err), TB_EPARSE);
    assert_true(starts_with(err, "json: "));
}

static void test_codec_rejects_invalid_utf8_input(void **state)
{
    (void)state;
    expect_decode_error("{\"a\":\"\xff\"}", "json: line 1 column 6: unable to decode byte 0xff "
                                            "near '\"'");
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    static const char surrogate[] = "{\"type\":\"\xed\xa0\x80\"}";
    assert_int_equal(tb_codec_decode(surrogate, sizeof surrogate - 1, &ev, err, sizeof err),
                     TB_EPARSE);
    assert_true(starts_with(err, "json: line 1 column "));
}

/* ---- decoding: envelope ------------------------------------------------ */

static void test_codec_rejects_missing_field_naming_it(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        for (size_t i = 0; i < ARRAY_LEN(envelope_keys); i++) {
            char expected[64];
            snprintf(expected, sizeof expected, "%s: missing", envelope_keys[i]);
            expect_mutation_error(all_types[t], envelope_keys[i], NULL, expected);
        }
        /* Every payload key, as the encoder writes them. */
        tb_event ev;
        char buf[2048];
        make_event(all_types[t], &ev);
        encode_ok(&ev, buf, sizeof buf);
        json_error_t jerr;
        json_t *root = json_loads(buf, 0, &jerr);
        assert_non_null(root);
        const char *key;
        json_t *v;
        size_t count = 0;
        json_object_foreach(json_object_get(root, "payload"), key, v)
        {
            char path[64], expected[80];
            snprintf(path, sizeof path, "payload.%s", key);
            snprintf(expected, sizeof expected, "payload.%s: missing", key);
            expect_mutation_error(all_types[t], path, NULL, expected);
            count++;
        }
        assert_true(count >= 5);
        json_decref(root);
    }
}

static void test_codec_rejects_unknown_envelope_field(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "extra", json_integer(1), "extra: unknown field");
    expect_mutation_error(TB_EV_MARKET_DATA, "Type", json_string("MarketData"),
                          "Type: unknown field");
    expect_mutation_error(TB_EV_ORDER_FILLED, "symbol", json_string("BTCUSDT"),
                          "symbol: unknown field");
}

static void test_codec_rejects_unknown_payload_field(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.extra", json_string("1"),
                          "payload.extra: unknown field");
    /* A member of another payload is just as unknown here. */
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.order_id", json_string("1"),
                          "payload.order_id: unknown field");
    expect_mutation_error(TB_EV_RISK_ALERT, "payload.event_id", json_string("1"),
                          "payload.event_id: unknown field");
}

static void test_codec_rejects_unknown_event_type(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "type", json_string("Foo"),
                          "type: unknown event type \"Foo\"");
    expect_mutation_error(TB_EV_MARKET_DATA, "type", json_string("marketdata"),
                          "type: unknown event type \"marketdata\"");
    expect_mutation_error(TB_EV_MARKET_DATA, "type", json_string(""),
                          "type: unknown event type \"\"");
}

static void test_codec_rejects_payload_of_another_type(void **state)
{
    (void)state;
    /* A MarketData payload under an OrderFilled envelope: symbol is shared,
     * open is the first key OrderFilled does not have. */
    expect_mutation_error(TB_EV_MARKET_DATA, "type", json_string("OrderFilled"),
                          "payload.open: unknown field");
}

static void test_codec_rejects_wrong_json_types(void **state)
{
    (void)state;
    static const struct {
        tb_event_type type;
        const char *key;
        const char *json; /* replacement value */
        const char *expected;
    } cases[] = {
        {TB_EV_MARKET_DATA, "type", "1", "type: not a string"},
        {TB_EV_MARKET_DATA, "version", "\"1\"", "version: not an integer"},
        {TB_EV_MARKET_DATA, "version", "1.0", "version: not an integer"},
        {TB_EV_MARKET_DATA, "event_id", "5", "event_id: not an id string"},
        {TB_EV_MARKET_DATA, "causation_id", "null", "causation_id: not an id string"},
        {TB_EV_MARKET_DATA, "correlation_id", "[]", "correlation_id: not an id string"},
        {TB_EV_MARKET_DATA, "timestamp", "\"1\"", "timestamp: not an integer"},
        {TB_EV_MARKET_DATA, "timestamp", "1.5", "timestamp: not an integer"},
        {TB_EV_MARKET_DATA, "source", "true", "source: not a string"},
        {TB_EV_MARKET_DATA, "payload", "[]", "payload: not an object"},
        {TB_EV_MARKET_DATA, "payload", "null", "payload: not an object"},
        {TB_EV_MARKET_DATA, "payload.symbol", "5", "payload.symbol: not a string"},
        {TB_EV_MARKET_DATA, "payload.open", "42000.5", "payload.open: not a decimal string"},
        {TB_EV_MARKET_DATA, "payload.volume", "{}", "payload.volume: not a decimal string"},
        {TB_EV_MARKET_DATA, "payload.open_time", "\"1704067200000000000\"",
         "payload.open_time: not an integer"},
        {TB_EV_ORDER_FILLED, "payload.side", "1", "payload.side: not a string"},
        {TB_EV_ORDER_FILLED, "payload.trade_id", "987654321012",
         "payload.trade_id: not an id string"},
        {TB_EV_POSITION_UPDATE, "payload.position_id", "77",
         "payload.position_id: not an id string"},
        {TB_EV_RISK_ALERT, "payload.trading_state", "null", "payload.trading_state: not a string"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_error_t jerr;
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
        assert_non_null(v);
        expect_mutation_error(cases[i].type, cases[i].key, v, cases[i].expected);
    }
}

static void test_codec_rejects_unsupported_version(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "version", json_integer(2),
                          "version: unsupported version 2");
    expect_mutation_error(TB_EV_MARKET_DATA, "version", json_integer(0),
                          "version: unsupported version 0");
    expect_mutation_error(TB_EV_MARKET_DATA, "version", json_integer(-1),
                          "version: unsupported version -1");
}

static void test_codec_rejects_zero_event_id(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "event_id", json_string("0"),
                          "event_id: must be non-zero");
}

static void test_codec_accepts_zero_causation_and_correlation(void **state)
{
    (void)state;
    tb_event ev;
    char *s = mutated(TB_EV_MARKET_DATA, "causation_id", json_string("0"));
    decode_ok(s, &ev);
    free(s);
    assert_int_equal(ev.causation_id, 0);
    expect_mutation_ok(TB_EV_MARKET_DATA, "correlation_id", json_string("0"), &ev);
    assert_int_equal(ev.correlation_id, 0);
}

static void test_codec_rejects_malformed_ids(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      "01",
                                      "00",
                                      " 1",
                                      "1 ",
                                      "1a",
                                      "0x1",
                                      "1.0",
                                      "1e3",
                                      "18446744073709551616",
                                      "99999999999999999999",
                                      "100000000000000000000"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        expect_mutation_error(TB_EV_MARKET_DATA, "event_id", json_string(bad[i]),
                              "event_id: not an id string");
        expect_mutation_error(TB_EV_ORDER_FILLED, "payload.trade_id", json_string(bad[i]),
                              "payload.trade_id: not an id string");
    }
}

static void test_codec_accepts_largest_id(void **state)
{
    (void)state;
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "event_id", json_string("18446744073709551615"), &ev);
    assert_true(ev.event_id == UINT64_MAX);
}

static void test_codec_rejects_negative_timestamp(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "timestamp", json_integer(-1),
                          "timestamp: must be >= 0");
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "timestamp", json_integer(0), &ev);
    assert_int_equal(ev.timestamp, 0);
}

static void test_codec_rejects_unknown_source(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "source", json_string("MARKET_DATA"),
                          "source: unknown source \"MARKET_DATA\"");
    expect_mutation_error(TB_EV_MARKET_DATA, "source", json_string("?"),
                          "source: unknown source \"?\"");
}

/* ---- decoding: payload values ------------------------------------------ */

static void test_codec_rejects_unknown_enum_names(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.side", json_string("buy"),
                          "payload.side: unknown side \"buy\"");
    expect_mutation_error(TB_EV_SIGNAL_GENERATED, "payload.signal_type", json_string("SHORT"),
                          "payload.signal_type: unknown signal type \"SHORT\"");
    expect_mutation_error(TB_EV_ORDER_PLACEMENT_REQUEST, "payload.order_type", json_string("STOP"),
                          "payload.order_type: unknown order type \"STOP\"");
    expect_mutation_error(TB_EV_ORDER_CREATED, "payload.status", json_string("OPEN"),
                          "payload.status: unknown order status \"OPEN\"");
    expect_mutation_error(TB_EV_POSITION_UPDATE, "payload.status", json_string("NEW"),
                          "payload.status: unknown position status \"NEW\"");
    expect_mutation_error(TB_EV_RISK_ALERT, "payload.trading_state", json_string("STOPPED"),
                          "payload.trading_state: unknown trading state \"STOPPED\"");
    expect_mutation_error(TB_EV_ORDER_REJECTED, "payload.reason", json_string("OTHER"),
                          "payload.reason: unknown reject reason \"OTHER\"");
}

static void test_codec_rejects_nan_price(void **state)
{
    (void)state;
    static const char *const bad[] = {"NaN", "nan", "Infinity", "-Infinity", "inf"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_mutation_error(TB_EV_ORDER_FILLED, "payload.filled_price", json_string(bad[i]),
                              "payload.filled_price: not a decimal string");
}

static void test_codec_rejects_malformed_decimal_string(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "1e5", " 1", "1 ", "0x10", ".5", "5.", "--1", "1,5"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_mutation_error(TB_EV_MARKET_DATA, "payload.close", json_string(bad[i]),
                              "payload.close: not a decimal string");
}

static void test_codec_rejects_decimal_with_too_many_places(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.filled_price", json_string("1.123456789"),
                          "payload.filled_price: more than 8 decimal places");
}

static void test_codec_rejects_decimal_out_of_range(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_POSITION_UPDATE, "payload.realized_pnl",
                          json_string("92233720368.54775808"),
                          "payload.realized_pnl: decimal out of range");
    expect_mutation_error(TB_EV_POSITION_UPDATE, "payload.realized_pnl",
                          json_string("-1000000000000000000000"),
                          "payload.realized_pnl: decimal out of range");
}

static void test_codec_rejects_overlong_string(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.symbol", json_string("ABCDEFGHIJKLMNOP"),
                          "payload.symbol: longer than 15 bytes");
    char text[TB_TEXT_LEN + 1];
    memset(text, 't', TB_TEXT_LEN);
    text[TB_TEXT_LEN] = '\0';
    expect_mutation_error(TB_EV_ORDER_REJECTED, "payload.text", json_string(text),
                          "payload.text: longer than 119 bytes");
    /* Bytes, not characters: 8 two-byte characters need 16 bytes. */
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.symbol",
                          json_string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                      "\xc3\xa9"),
                          "payload.symbol: longer than 15 bytes");
}

static void test_codec_accepts_strings_at_capacity(void **state)
{
    (void)state;
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "payload.symbol", json_string("ABCDEFGHIJKLMNO"), &ev);
    assert_string_equal(ev.u.market_data.symbol, "ABCDEFGHIJKLMNO");
    expect_mutation_ok(TB_EV_ORDER_REJECTED, "payload.order_id", json_string(""), &ev);
    assert_string_equal(ev.u.order_rejected.order_id, "");
}

static void test_codec_rejects_non_positive_market_prices(void **state)
{
    (void)state;
    static const char *const prices[] = {"open", "high", "low", "close"};
    for (size_t i = 0; i < ARRAY_LEN(prices); i++) {
        char path[32], expected[64];
        snprintf(path, sizeof path, "payload.%s", prices[i]);
        snprintf(expected, sizeof expected, "payload.%s: must be > 0", prices[i]);
        expect_mutation_error(TB_EV_MARKET_DATA, path, json_string("0"), expected);
        expect_mutation_error(TB_EV_MARKET_DATA, path, json_string("-1"), expected);
    }
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.volume", json_string("-0.00000001"),
                          "payload.volume: must be >= 0");
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "payload.volume", json_string("0"), &ev);
    assert_int_equal(ev.u.market_data.volume, 0);
}

static void test_codec_rejects_high_below_low(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.high", json_string("41900.74999999"),
                          "payload.high: less than low");
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "payload.high", json_string("41900.75"), &ev);
    assert_int_equal(ev.u.market_data.high, ev.u.market_data.low);
}

static void test_codec_rejects_close_time_before_open_time(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.close_time",
                          json_integer(1704067199999999999),
                          "payload.close_time: before open_time");
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.open_time", json_integer(-1),
                          "payload.open_time: must be >= 0");
}

static void test_codec_rejects_non_positive_order_quantity(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_PLACEMENT_REQUEST, "payload.quantity", json_string("0"),
                          "payload.quantity: must be > 0");
    expect_mutation_error(TB_EV_ORDER_PLACEMENT_REQUEST, "payload.quantity", json_string("-1.5"),
                          "payload.quantity: must be > 0");
    expect_mutation_error(TB_EV_ORDER_PLACEMENT_REQUEST, "payload.price", json_string("-1"),
                          "payload.price: must be >= 0");
    expect_mutation_error(TB_EV_ORDER_CREATED, "payload.quantity", json_string("0"),
                          "payload.quantity: must be > 0");
    tb_event ev;
    expect_mutation_ok(TB_EV_ORDER_PLACEMENT_REQUEST, "payload.price", json_string("0"), &ev);
    assert_int_equal(ev.u.order_request.price, 0);
}

static void test_codec_rejects_invalid_fill_amounts(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.filled_quantity", json_string("0"),
                          "payload.filled_quantity: must be > 0");
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.filled_price", json_string("-2251.1"),
                          "payload.filled_price: must be > 0");
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.commission", json_string("-0.1"),
                          "payload.commission: must be >= 0");
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.average_price", json_string("0"),
                          "payload.average_price: must be > 0");
    tb_event ev;
    expect_mutation_ok(TB_EV_ORDER_FILLED, "payload.commission", json_string("0"), &ev);
    assert_int_equal(ev.u.order_filled.commission, 0);
}

static void test_codec_rejects_cumulative_quantity_below_fill(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.cumulative_quantity", json_string("0.4"),
                          "payload.cumulative_quantity: less than filled_quantity");
}

static void test_codec_rejects_negative_signal_volume(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_SIGNAL_GENERATED, "payload.volume", json_string("-1"),
                          "payload.volume: must be >= 0");
    tb_event ev;
    expect_mutation_ok(TB_EV_SIGNAL_GENERATED, "payload.volume", json_string("0"), &ev);
    assert_int_equal(ev.u.signal.volume, 0);
}

static void test_codec_rejects_negative_canceled_quantities(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_CANCELED, "payload.canceled_quantity", json_string("-1"),
                          "payload.canceled_quantity: must be >= 0");
    expect_mutation_error(TB_EV_ORDER_CANCELED, "payload.filled_quantity", json_string("-1"),
                          "payload.filled_quantity: must be >= 0");
}

static void test_codec_rejects_status_not_allowed_for_event(void **state)
{
    (void)state;
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.status", json_string("NEW"),
                          "payload.status: NEW not allowed in OrderFilled");
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.status", json_string("CANCELED"),
                          "payload.status: CANCELED not allowed in OrderFilled");
    expect_mutation_error(TB_EV_ORDER_CANCELED, "payload.status", json_string("FILLED"),
                          "payload.status: FILLED not allowed in OrderCanceled");
    tb_event ev;
    expect_mutation_ok(TB_EV_ORDER_FILLED, "payload.status", json_string("FILLED"), &ev);
    assert_int_equal(ev.u.order_filled.status, TB_ORDER_FILLED);
    expect_mutation_ok(TB_EV_ORDER_CANCELED, "payload.status", json_string("CANCELED"), &ev);
    assert_int_equal(ev.u.order_canceled.status, TB_ORDER_CANCELED);
}

static void test_codec_accepts_non_positive_rejected_quantity(void **state)
{
    (void)state;
    /* A rejection reports the bad value that caused it. */
    tb_event ev;
    expect_mutation_ok(TB_EV_ORDER_REJECTED, "payload.quantity", json_string("-3"), &ev);
    assert_int_equal(ev.u.order_rejected.quantity, D("-3"));
    expect_mutation_ok(TB_EV_ORDER_REJECTED, "payload.price", json_string("-0.5"), &ev);
    assert_int_equal(ev.u.order_rejected.price, D("-0.5"));
}

static void test_codec_accepts_non_canonical_decimals(void **state)
{
    (void)state;
    tb_event ev;
    expect_mutation_ok(TB_EV_MARKET_DATA, "payload.open", json_string("+042000.50000000000"), &ev);
    assert_int_equal(ev.u.market_data.open, D("42000.5"));
}

static void test_codec_accepts_keys_in_any_order(void **state)
{
    (void)state;
    tb_event ev;
    decode_ok("{\"payload\":{\"symbol\":\"BTCUSDT\",\"trading_state\":\"ACTIVE\","
              "\"detail\":\"d\",\"strategy_id\":\"s\",\"rule\":\"r\"},\"source\":\"risk\","
              "\"timestamp\":5,\"correlation_id\":\"3\",\"causation_id\":\"2\",\"event_id\":\"4\","
              "\"version\":1,\"type\":\"RiskAlert\"}",
              &ev);
    assert_int_equal(ev.type, TB_EV_RISK_ALERT);
    assert_int_equal(ev.event_id, 4);
    assert_int_equal(ev.causation_id, 2);
    assert_int_equal(ev.correlation_id, 3);
    assert_int_equal(ev.timestamp, 5);
    assert_int_equal(ev.source, TB_SRC_RISK);
    assert_string_equal(ev.u.risk_alert.rule, "r");
    assert_string_equal(ev.u.risk_alert.detail, "d");
    assert_int_equal(ev.u.risk_alert.trading_state, TB_TRADING_ACTIVE);
}

static void test_codec_accepts_whitespace_between_tokens(void **state)
{
    (void)state;
    tb_event ev, back;
    char buf[2048];
    make_event(TB_EV_SIGNAL_GENERATED, &ev);
    encode_ok(&ev, buf, sizeof buf);
    json_error_t jerr;
    json_t *root = json_loads(buf, 0, &jerr);
    assert_non_null(root);
    char *pretty = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    assert_non_null(pretty);
    decode_ok(pretty, &back);
    free(pretty);
    assert_memory_equal(&back, &ev, sizeof ev);
}

/* ---- decoding: the fast path and the strict path ----------------------- */

/* xorshift64: the mutation tests' reproducible randomness. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* What tb_codec_decode made of an input, beside what its fast path alone
 * made of it. */
typedef struct {
    int rc;
    int fast_rc; /* 0: the fast path was sure, and decoded the event alone */
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
} decoded;

/* Decodes len bytes (an exact-size heap copy: ASan sees any read past the
 * end) three ways and fails the test unless tb_codec_decode and the strict
 * path alone agree on the result code, the message and the event's bytes,
 * and unless whatever the fast path alone accepts the strict path accepts
 * as the very same event. */
static decoded decode_compared(const char *json, size_t len)
{
    decoded d;
    tb_event strict, fast;
    char strict_err[TB_CODEC_ERRLEN];
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, json, len);
    d.rc = tb_codec_decode(copy, len, &d.ev, d.err, sizeof d.err);
    int strict_rc = tb__codec_decode_strict(copy, len, &strict, strict_err, sizeof strict_err);
    d.fast_rc = tb__codec_decode_fast(copy, len, &fast);
    free(copy);
    if (d.rc != strict_rc || strcmp(d.err, strict_err) != 0)
        fail_msg("%.*s\n  decode: %d \"%s\"\n  strict: %d \"%s\"", (int)len, json, d.rc, d.err,
                 strict_rc, strict_err);
    if (d.rc == TB_OK && memcmp(&d.ev, &strict, sizeof strict) != 0)
        fail_msg("%.*s\n  decoded to other bytes than the strict path's", (int)len, json);
    if (d.fast_rc != TB_OK && d.fast_rc != TB_EPARSE)
        fail_msg("%.*s\n  fast path returned %d", (int)len, json, d.fast_rc);
    if (d.fast_rc == TB_OK && (strict_rc != TB_OK || memcmp(&fast, &strict, sizeof fast) != 0))
        fail_msg("%.*s\n  the fast path accepted what the strict path %s", (int)len, json,
                 strict_rc != TB_OK ? "refuses" : "decodes otherwise");
    return d;
}

static decoded decode_compared_str(const char *json)
{
    return decode_compared(json, strlen(json));
}

static void put_text(char *out, size_t cap, size_t *n, const char *s)
{
    size_t len = strlen(s);
    assert_true(*n + len < cap);
    memcpy(out + *n, s, len + 1);
    *n += len;
}

/* obj written by hand: members in reverse order, ws around every token. */
static void put_reversed(const json_t *obj, const char *ws, char *out, size_t cap, size_t *n)
{
    const char *keys[16];
    const json_t *values[16];
    size_t count = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        assert_true(count < ARRAY_LEN(keys));
        keys[count] = key;
        values[count++] = v;
    }
    put_text(out, cap, n, "{");
    for (size_t i = count; i-- > 0;) {
        put_text(out, cap, n, ws);
        put_text(out, cap, n, "\"");
        put_text(out, cap, n, keys[i]);
        put_text(out, cap, n, "\"");
        put_text(out, cap, n, ws);
        put_text(out, cap, n, ":");
        put_text(out, cap, n, ws);
        if (json_is_object(values[i])) {
            put_reversed(values[i], ws, out, cap, n);
        } else {
            char *s = json_dumps(values[i], JSON_ENCODE_ANY);
            assert_non_null(s);
            put_text(out, cap, n, s);
            free(s);
        }
        put_text(out, cap, n, ws);
        if (i > 0) put_text(out, cap, n, ",");
    }
    put_text(out, cap, n, "}");
}

/* The encoding of ev, members reversed, ws around every token and at both
 * ends; into out[cap]. */
static void respaced(const tb_event *ev, const char *ws, char *out, size_t cap)
{
    char buf[2048];
    encode_ok(ev, buf, sizeof buf);
    json_error_t jerr;
    json_t *root = json_loads(buf, 0, &jerr);
    assert_non_null(root);
    size_t n = 0;
    out[0] = '\0';
    put_text(out, cap, &n, ws);
    put_reversed(root, ws, out, cap, &n);
    put_text(out, cap, &n, ws);
    json_decref(root);
}

/* The whitespace JSON allows; form feed and vertical tab are not in it. */
static const char *const spacings[] = {"", " ", "\t", "\r\n", "\n", " \t\r\n  "};

static void test_codec_decode_fast_path_reads_every_encoded_event_type(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        tb_event ev;
        char buf[2048];
        make_event(all_types[t], &ev);
        int n = encode_ok(&ev, buf, sizeof buf);
        decoded d = decode_compared(buf, (size_t)n);
        if (d.fast_rc != TB_OK) fail_msg("the fast path gave up on %s", buf);
        assert_memory_equal(&d.ev, &ev, sizeof ev);
    }
}

static void test_codec_decode_accepts_whitespace_and_any_member_order(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        for (size_t w = 0; w < ARRAY_LEN(spacings); w++) {
            tb_event ev;
            char json[8192];
            make_event(all_types[t], &ev);
            respaced(&ev, spacings[w], json, sizeof json);
            decoded d = decode_compared_str(json);
            if (d.fast_rc != TB_OK) fail_msg("the fast path gave up on %s", json);
            assert_int_equal(d.rc, TB_OK);
            assert_memory_equal(&d.ev, &ev, sizeof ev);
        }
    }
    /* Only JSON's four: a form feed is jansson's error (quoted as '?'). */
    tb_event ev;
    char json[8192];
    make_event(TB_EV_MARKET_DATA, &ev);
    respaced(&ev, "\f", json, sizeof json);
    decoded d = decode_compared_str(json);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_string_equal(d.err, "json: line 1 column 1: '[' or '{' expected near '?'");
}

/* An OrderRejected whose text member is `text` (raw JSON, quotes included). */
static void rejected_with_text(const char *text, char *out, size_t cap)
{
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_ORDER_REJECTED, &ev);
    SET(ev.u.order_rejected.text, "TEXT");
    encode_ok(&ev, buf, sizeof buf);
    char *at = strstr(buf, "\"TEXT\"");
    assert_non_null(at);
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - buf), buf, text, at + 6);
    assert_true(n > 0 && (size_t)n < cap);
}

static void test_codec_decode_reads_escapes_through_the_strict_path(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *text;
    } cases[] = {
        {"\"say \\\"no\\\"\"", "say \"no\""},
        {"\"a\\\\b\\/c\"", "a\\b/c"},
        {"\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t"},
        {"\"\\u0001\\u001f\\u007F\"", "\x01\x1f\x7f"},
        {"\"caf\\u00e9 \\u20AC\"", "caf\xc3\xa9 \xe2\x82\xac"},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char json[2048];
        rejected_with_text(cases[i].json, json, sizeof json);
        decoded d = decode_compared_str(json);
        if (d.fast_rc == TB_OK) fail_msg("the fast path read an escape: %s", json);
        if (d.rc != TB_OK) fail_msg("%s: %s", json, d.err);
        assert_string_equal(d.ev.u.order_rejected.text, cases[i].text);
    }
    /* An escape jansson refuses is refused with its message. */
    char json[2048];
    rejected_with_text("\"\\ud83d\"", json, sizeof json);
    decoded d = decode_compared_str(json);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_true(starts_with(d.err, "json: line 1 column "));
    assert_non_null(strstr(d.err, "invalid Unicode '\\uD83D'"));
}

static void test_codec_decode_reads_utf8_on_the_fast_path(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "caf\xc3\xa9",
        "\xe2\x82\xac 5 \xef\xbf\xbf",
        "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xc2\x80",
        "\x7f del",
    };
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        char quoted[64], json[2048];
        snprintf(quoted, sizeof quoted, "\"%s\"", texts[i]);
        rejected_with_text(quoted, json, sizeof json);
        decoded d = decode_compared_str(json);
        if (d.fast_rc != TB_OK) fail_msg("the fast path gave up on %s", json);
        assert_string_equal(d.ev.u.order_rejected.text, texts[i]);
    }
    /* Malformed UTF-8 and raw control bytes are jansson's to refuse. */
    static const char *const bad[] = {
        "\"\xc3\"",   "\"\xc0\xaf\"",         "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"ok\x80\"", "\"\xe2\x82\"",         "\"tab\there\"",    "\"new\nline\"",
        "\"\xff\"",   "\"\xf0\x8f\xbf\xbf\"",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char json[2048];
        rejected_with_text(bad[i], json, sizeof json);
        decoded d = decode_compared_str(json);
        assert_int_equal(d.rc, TB_EPARSE);
        assert_int_equal(d.fast_rc, TB_EPARSE);
        assert_true(starts_with(d.err, "json: line "));
    }
}

/* The MarketData fixture with `from` (which must occur) replaced by `to`. */
static void market_data_with(const char *from, const char *to, char *out, size_t cap)
{
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    encode_ok(&ev, buf, sizeof buf);
    char *at = strstr(buf, from);
    if (at == NULL) fail_msg("%s lacks %s", buf, from);
    int n = snprintf(out, cap, "%.*s%s%s", (int)(at - buf), buf, to, at + strlen(from));
    assert_true(n > 0 && (size_t)n < cap);
}

static void expect_market_data_edit(const char *from, const char *to, int rc, const char *err)
{
    char json[2048];
    market_data_with(from, to, json, sizeof json);
    decoded d = decode_compared_str(json);
    if (d.rc != rc || strcmp(d.err, err) != 0)
        fail_msg("%s\n  -> %d \"%s\"\n  expected %d \"%s\"", json, d.rc, d.err, rc, err);
}

static void test_codec_decode_refuses_duplicate_keys_with_the_same_message(void **state)
{
    (void)state;
    /* Repeated on the fast path's ground: a key it knows, with a value it
     * reads. jansson's message, column and all. */
    expect_market_data_edit("\"version\":1,", "\"version\":1,\"version\":1,", TB_EPARSE,
                            "json: line 1 column 42: duplicate object key near '\"version\"'");
    expect_market_data_edit("\"symbol\":\"BTCUSDT\",", "\"symbol\":\"BTCUSDT\",\"symbol\":\"X\",",
                            TB_EPARSE,
                            "json: line 1 column 223: duplicate object key near '\"symbol\"'");
    expect_market_data_edit("\"close_time\":", "\"open_time\":1,\"close_time\":", TB_EPARSE,
                            "json: line 1 column 354: duplicate object key near '\"open_time\"'");
    expect_market_data_edit("{\"type\":\"MarketData\",", "{\"payload\":{},\"type\":\"MarketData\",",
                            TB_EPARSE,
                            "json: line 1 column 207: duplicate object key near '\"payload\"'");
}

static void test_codec_decode_falls_back_on_numbers_it_does_not_read(void **state)
{
    (void)state;
    static const char ts[] = "\"timestamp\":1704067260000000000,";
    /* Valid for jansson, and read by it: "-0" is the integer 0. */
    char json[2048];
    market_data_with(ts, "\"timestamp\":-0,", json, sizeof json);
    decoded d = decode_compared_str(json);
    assert_int_equal(d.fast_rc, TB_EPARSE);
    assert_int_equal(d.rc, TB_OK);
    assert_int_equal(d.ev.timestamp, 0);
    /* The largest integer is the fast path's; one more is jansson's error. */
    market_data_with(ts, "\"timestamp\":9223372036854775807,", json, sizeof json);
    d = decode_compared_str(json);
    assert_int_equal(d.fast_rc, TB_OK);
    assert_true(d.ev.timestamp == INT64_MAX);
    expect_market_data_edit(ts, "\"timestamp\":9223372036854775808,", TB_EPARSE,
                            "json: line 1 column 161: too big integer near "
                            "'9223372036854775808'");
    expect_market_data_edit(ts, "\"timestamp\":99999999999999999999999,", TB_EPARSE,
                            "json: line 1 column 165: too big integer");
    expect_market_data_edit(ts, "\"timestamp\":-1,", TB_EPARSE, "timestamp: must be >= 0");
    expect_market_data_edit(ts, "\"timestamp\":1.0,", TB_EPARSE, "timestamp: not an integer");
    expect_market_data_edit(ts, "\"timestamp\":1e3,", TB_EPARSE, "timestamp: not an integer");
    expect_market_data_edit(ts, "\"timestamp\":1E3,", TB_EPARSE, "timestamp: not an integer");
    expect_market_data_edit(ts, "\"timestamp\":01,", TB_EPARSE,
                            "json: line 1 column 143: invalid token near '0'");
    expect_market_data_edit(ts, "\"timestamp\":00,", TB_EPARSE,
                            "json: line 1 column 143: invalid token near '0'");
    expect_market_data_edit(ts, "\"timestamp\":0x1,", TB_EPARSE,
                            "json: line 1 column 144: '}' expected near 'x'");
    expect_market_data_edit(ts, "\"timestamp\":+1,", TB_EPARSE,
                            "json: line 1 column 143: invalid token near '+'");
    expect_market_data_edit("\"version\":1,", "\"version\":1.5,", TB_EPARSE,
                            "version: not an integer");
}

static void test_codec_decode_falls_back_on_literals_arrays_and_nesting(void **state)
{
    (void)state;
    expect_market_data_edit("\"version\":1,", "\"version\":true,", TB_EPARSE,
                            "version: not an integer");
    expect_market_data_edit("\"causation_id\":\"281474976723000\"", "\"causation_id\":null",
                            TB_EPARSE, "causation_id: not an id string");
    expect_market_data_edit("\"source\":\"market_data\"", "\"source\":[\"market_data\"]", TB_EPARSE,
                            "source: not a string");
    expect_market_data_edit("\"type\":\"MarketData\"", "\"type\":{\"a\":1}", TB_EPARSE,
                            "type: not a string");
    expect_market_data_edit("\"symbol\":\"BTCUSDT\"", "\"symbol\":{\"s\":\"BTCUSDT\"}", TB_EPARSE,
                            "payload.symbol: not a string");
    expect_market_data_edit("\"volume\":\"123.456\"", "\"volume\":false", TB_EPARSE,
                            "payload.volume: not a decimal string");
    expect_market_data_edit("\"payload\":{", "\"payload\":[{", TB_EPARSE,
                            "json: line 1 column 378: ']' expected near '}'");
    expect_market_data_edit("\"payload\":{", "\"payload\":{\"x\":{\"y\":{}},", TB_EPARSE,
                            "payload.x: unknown field");
}

static void test_codec_decode_refuses_trailing_bytes_and_embedded_nul(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048];
    make_event(TB_EV_MARKET_DATA, &ev);
    int n = encode_ok(&ev, buf, sizeof buf);
    memcpy(buf + n, " \r\n\t", 5);
    decoded d = decode_compared_str(buf);
    assert_int_equal(d.fast_rc, TB_OK);
    assert_memory_equal(&d.ev, &ev, sizeof ev);

    memcpy(buf + n, " x", 3);
    d = decode_compared_str(buf);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_true(starts_with(d.err, "json: line 1 column "));
    assert_non_null(strstr(d.err, "end of file expected near 'x'"));

    memcpy(buf + n, "}", 2);
    d = decode_compared_str(buf);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_non_null(strstr(d.err, "end of file expected near '}'"));

    /* A NUL after the event, and one inside a string, within len. */
    buf[n] = '\0';
    d = decode_compared(buf, (size_t)n + 1);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_int_equal(d.fast_rc, TB_EPARSE);
    char *sym = strstr(buf, "BTCUSDT");
    assert_non_null(sym);
    sym[3] = '\0';
    d = decode_compared(buf, (size_t)n);
    assert_int_equal(d.rc, TB_EPARSE);
    assert_int_equal(d.fast_rc, TB_EPARSE);
    assert_true(starts_with(d.err, "json: line 1 column "));
}

static void test_codec_decode_fast_and_strict_paths_agree_on_every_example(void **state)
{
    (void)state;
    static const char *const examples[] = {
        "",
        " ",
        "{",
        "{}",
        "[]",
        "{\"type\":\"MarketData\"}",
        "{\"type\":\"MarketData\",}",
        "{\"type\" \"MarketData\"}",
        "{\"type\":\"MarketData\" \"version\":1}",
        "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"281474976710702\","
        "\"causation_id\":\"281474976710693\",\"correlation_id\":\"281474976710690\","
        "\"timestamp\":1704068400000000000,\"source\":\"orders\",\"payload\":{"
        "\"order_id\":\"SIM-1\",\"client_order_id\":\"eth_rsi-1\",\"strategy_id\":\"eth_rsi\","
        "\"symbol\":\"ETHUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"0.7917\","
        "\"filled_price\":\"2270.85\",\"commission\":\"1.34837396\","
        "\"cumulative_quantity\":\"0.7917\",\"average_price\":\"2270.85\","
        "\"status\":\"PARTIALLY_FILLED\",\"trade_id\":\"1\"}}",
        /* The same, a member too many, then one missing. */
        "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"281474976710702\","
        "\"causation_id\":\"281474976710693\",\"correlation_id\":\"281474976710690\","
        "\"timestamp\":1704068400000000000,\"source\":\"orders\",\"payload\":{"
        "\"order_id\":\"SIM-1\",\"client_order_id\":\"eth_rsi-1\",\"strategy_id\":\"eth_rsi\","
        "\"symbol\":\"ETHUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"0.7917\","
        "\"filled_price\":\"2270.85\",\"commission\":\"1.34837396\","
        "\"cumulative_quantity\":\"0.7917\",\"average_price\":\"2270.85\","
        "\"status\":\"PARTIALLY_FILLED\",\"trade_id\":\"1\",\"extra\":\"1\"}}",
        "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"281474976710702\","
        "\"causation_id\":\"281474976710693\",\"correlation_id\":\"281474976710690\","
        "\"timestamp\":1704068400000000000,\"source\":\"orders\",\"payload\":{"
        "\"order_id\":\"SIM-1\",\"client_order_id\":\"eth_rsi-1\",\"strategy_id\":\"eth_rsi\","
        "\"symbol\":\"ETHUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"0.7917\","
        "\"filled_price\":\"2270.85\",\"commission\":\"1.34837396\","
        "\"cumulative_quantity\":\"0.7917\",\"average_price\":\"2270.85\","
        "\"status\":\"PARTIALLY_FILLED\"}}",
        /* A name longer than every name the parsers know. */
        "{\"type\":\"OrderPlacementRequestOrderPlacementRequestOrderPlacementRequest\"}",
        "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"1\",\"causation_id\":\"0\","
        "\"correlation_id\":\"1\",\"timestamp\":0,\"source\":\"market_data_market_data_market_data_"
        "market_data\",\"payload\":{}}",
        "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"1\",\"causation_id\":\"0\","
        "\"correlation_id\":\"1\",\"timestamp\":0,\"source\":\"market_data\",\"payload\":{}}",
        "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"1\",\"causation_id\":\"0\","
        "\"correlation_id\":\"1\",\"timestamp\":0,\"source\":\"market_data\",\"payload\":\"x\"}",
        "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"1\",\"causation_id\":\"0\","
        "\"correlation_id\":\"1\",\"timestamp\":0,\"source\":\"market_data\"}",
        "{\"Type\":\"MarketData\"}",
        /* Valid, with escapes in a key and in values: the strict path's. */
        "{\"typ\\u0065\":\"RiskAlert\",\"version\":1,\"event_id\":\"4\",\"causation_id\":\"2\","
        "\"correlation_id\":\"3\",\"timestamp\":5,\"source\":\"risk\",\"payload\":{"
        "\"rule\":\"r\\u0041\",\"detail\":\"\\\"d\\\"\\n\",\"trading_state\":\"ACTIVE\","
        "\"strategy_id\":\"s\",\"symbol\":\"BTC\\/USDT\"}}",
        "{\"typ\\u0065\":\"MarketData\"}",
        "\xef\xbb\xbf{}",
    };
    int fast = 0, strict = 0;
    for (size_t i = 0; i < ARRAY_LEN(examples); i++) {
        decoded d = decode_compared_str(examples[i]);
        if (d.fast_rc == TB_OK) fast++;
        if (d.rc == TB_OK && d.fast_rc != TB_OK) strict++;
    }
    /* Every event type, canonical and respaced, then the mutations the
     * robustness test below makes: every result compared. */
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        for (size_t w = 0; w < ARRAY_LEN(spacings); w++) {
            tb_event ev;
            char json[8192];
            make_event(all_types[t], &ev);
            respaced(&ev, spacings[w], json, sizeof json);
            decoded d = decode_compared_str(json);
            if (d.fast_rc == TB_OK) fast++;
        }
    }
    static const char alphabet[] =
        "{}[]\":,\\0123456789-+.eE \t\r\nntrufalsNIXx\x01\x7f\xc3\xa9\xff";
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (int iter = 0; iter < 20000; iter++) {
        tb_event ev;
        char buf[2048];
        make_event(all_types[next_rand(&seed) % ARRAY_LEN(all_types)], &ev);
        size_t n = (size_t)encode_ok(&ev, buf, sizeof buf);
        int edits = 1 + (int)(next_rand(&seed) % 3);
        for (int k = 0; k < edits && n > 0; k++) {
            size_t at = next_rand(&seed) % n;
            char c = alphabet[next_rand(&seed) % (sizeof alphabet - 1)];
            if (next_rand(&seed) % 2 == 0) {
                buf[at] = c;
            } else if (n + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = c;
                n++;
            }
        }
        decoded d = decode_compared(buf, n);
        if (d.fast_rc == TB_OK) fast++;
        if (d.rc == TB_OK && d.fast_rc != TB_OK) strict++;
    }
    print_message("fast path decoded %d, strict path alone %d\n", fast, strict);
    assert_true(fast > 0 && strict > 0);
}

static void test_codec_decode_allocates_nothing_for_a_valid_event(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(all_types); t++) {
        for (size_t w = 0; w < ARRAY_LEN(spacings); w++) {
            tb_event ev, out;
            char json[8192], err[TB_CODEC_ERRLEN];
            make_event(all_types[t], &ev);
            if (w == 0)
                encode_ok(&ev, json, sizeof json);
            else
                respaced(&ev, spacings[w], json, sizeof json);
            size_t len = strlen(json);

            start_counting();
            int rc = tb_codec_decode(json, len, &out, err, sizeof err);
            unsigned long allocs = stop_counting();
            assert_int_equal(rc, TB_OK);
            if (allocs != 0) fail_msg("%lu allocations decoding %s", allocs, json);
            assert_memory_equal(&out, &ev, sizeof ev);

            /* The counter does count: jansson allocates per node. */
            start_counting();
            rc = tb__codec_decode_strict(json, len, &out, err, sizeof err);
            allocs = stop_counting();
            assert_int_equal(rc, TB_OK);
            assert_true(allocs > 10);
        }
    }
}

/* ---- error reporting --------------------------------------------------- */

static void test_codec_error_messages_are_printable_and_bounded(void **state)
{
    (void)state;
    expect_mutation_error(
        TB_EV_MARKET_DATA, "type",
        json_string("\x1b[31mRED\x1b[0m-and-a-very-long-name-that-goes-on-and-on"),
        "type: unknown event type \"?[31mRED?[0m-and-a-very-long-name-that-"
        "g...\"");
    expect_mutation_error(TB_EV_MARKET_DATA, "payload.x\ty", json_integer(1),
                          "payload.x?y: unknown field");
    expect_mutation_error(TB_EV_ORDER_FILLED, "payload.side", json_string("\xc3\xa9"),
                          "payload.side: unknown side \"??\"");
}

static void test_codec_error_buffer_may_be_null_or_tiny(void **state)
{
    (void)state;
    static const char json[] = "{\"type\":\"Foo\"}";
    tb_event ev;
    assert_int_equal(tb_codec_decode(json, sizeof json - 1, &ev, NULL, 0), TB_EPARSE);
    assert_int_equal(tb_codec_decode(json, sizeof json - 1, &ev, NULL, 64), TB_EPARSE);
    char err[5];
    memset(err, 'x', sizeof err);
    assert_int_equal(tb_codec_decode(json, sizeof json - 1, &ev, err, sizeof err), TB_EPARSE);
    assert_string_equal(err, "type");
    char one[1] = {'x'};
    assert_int_equal(tb_codec_decode(json, sizeof json - 1, &ev, one, sizeof one), TB_EPARSE);
    assert_int_equal(one[0], '\0');
}

static void test_codec_error_buffer_is_cleared_on_success(void **state)
{
    (void)state;
    tb_event ev;
    char buf[2048], err[TB_CODEC_ERRLEN] = "stale";
    make_event(TB_EV_MARKET_DATA, &ev);
    int n = encode_ok(&ev, buf, sizeof buf);
    assert_int_equal(tb_codec_decode(buf, (size_t)n, &ev, err, sizeof err), TB_OK);
    assert_string_equal(err, "");
}

static void test_codec_decode_rejects_null_arguments(void **state)
{
    (void)state;
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    assert_int_equal(tb_codec_decode(NULL, 10, &ev, err, sizeof err), TB_EINVAL);
    assert_int_equal(tb_codec_decode("{}", 2, NULL, err, sizeof err), TB_EINVAL);
}

/* ---- robustness -------------------------------------------------------- */

/* Random edits of valid encodings. Whatever comes out, decode must return
 * 0 or TB_EPARSE without tripping ASan/UBSan, and anything it accepts must
 * re-encode and decode to the same event. */
static void test_codec_survives_random_mutations(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\0123456789-+.eE ntrufalsNIXx\x01\x7f\xc3\xff";
    uint64_t seed = 0x2545F4914F6CDD1Du;
    int accepted = 0;
    for (int iter = 0; iter < 30000; iter++) {
        tb_event ev;
        char buf[2048];
        make_event(all_types[next_rand(&seed) % ARRAY_LEN(all_types)], &ev);
        size_t n = (size_t)encode_ok(&ev, buf, sizeof buf);
        int edits = 1 + (int)(next_rand(&seed) % 4);
        for (int k = 0; k < edits && n > 0; k++) {
            size_t at = next_rand(&seed) % n;
            char c = alphabet[next_rand(&seed) % (sizeof alphabet - 1)];
            switch (next_rand(&seed) % 4) {
            case 0: /* overwrite */
                buf[at] = c;
                break;
            case 1: /* delete */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 2: /* insert */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = c;
                    n++;
                }
                break;
            default: /* truncate */
                n = at;
                break;
            }
        }
        char *input = malloc(n ? n : 1);
        assert_non_null(input);
        memcpy(input, buf, n);
        char err[TB_CODEC_ERRLEN];
        tb_event out;
        int rc = tb_codec_decode(input, n, &out, err, sizeof err);
        free(input);
        if (rc == TB_OK) {
            char again[2048];
            tb_event back;
            int m = encode_ok(&out, again, sizeof again);
            assert_int_equal(tb_codec_decode(again, (size_t)m, &back, err, sizeof err), TB_OK);
            assert_memory_equal(&back, &out, sizeof out);
            accepted++;
        } else if (rc != TB_EPARSE) {
            fail_msg("decode returned %d", rc);
        } else {
            assert_true(strlen(err) > 0);
        }
    }
    /* Some edits (inside a string, a digit for a digit) keep the input valid. */
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_encodes_canonical_market_data),
        cmocka_unit_test(test_codec_encodes_canonical_order_filled),
        cmocka_unit_test(test_codec_ids_and_times_at_their_limits),
        cmocka_unit_test(test_codec_encodes_every_enum_by_wire_name),
        cmocka_unit_test(test_codec_payload_keys_follow_declaration_order),
        cmocka_unit_test(test_codec_round_trips_every_event_type),
        cmocka_unit_test(test_codec_round_trips_extreme_values),
        cmocka_unit_test(test_codec_optional_fields_are_omitted_when_zero_and_round_trip_when_set),
        cmocka_unit_test(test_codec_escapes_quotes_backslash_and_control_characters),
        cmocka_unit_test(test_codec_round_trips_every_control_character),
        cmocka_unit_test(test_codec_encode_reports_small_buffer),
        cmocka_unit_test(test_codec_worst_case_event_fits_2048_bytes),
        cmocka_unit_test(test_codec_encode_rejects_unknown_type),
        cmocka_unit_test(test_codec_encode_rejects_unknown_enum_value),
        cmocka_unit_test(test_codec_encode_rejects_unknown_source),
        cmocka_unit_test(test_codec_encode_rejects_wrong_version),
        cmocka_unit_test(test_codec_encode_rejects_unterminated_string),
        cmocka_unit_test(test_codec_encode_rejects_invalid_utf8),
        cmocka_unit_test(test_codec_encode_passes_valid_utf8_through),
        cmocka_unit_test(test_codec_encode_rejects_null_arguments),
        cmocka_unit_test(test_codec_rejects_truncated_json),
        cmocka_unit_test(test_codec_rejects_malformed_json_syntax),
        cmocka_unit_test(test_codec_rejects_non_object_json),
        cmocka_unit_test(test_codec_rejects_duplicate_keys),
        cmocka_unit_test(test_codec_rejects_embedded_nul),
        cmocka_unit_test(test_codec_rejects_invalid_utf8_input),
        cmocka_unit_test(test_codec_rejects_missing_field_naming_it),
        cmocka_unit_test(test_codec_rejects_unknown_envelope_field),
        cmocka_unit_test(test_codec_rejects_unknown_payload_field),
        cmocka_unit_test(test_codec_rejects_unknown_event_type),
        cmocka_unit_test(test_codec_rejects_payload_of_another_type),
        cmocka_unit_test(test_codec_rejects_wrong_json_types),
        cmocka_unit_test(test_codec_rejects_unsupported_version),
        cmocka_unit_test(test_codec_rejects_zero_event_id),
        cmocka_unit_test(test_codec_accepts_zero_causation_and_correlation),
        cmocka_unit_test(test_codec_rejects_malformed_ids),
        cmocka_unit_test(test_codec_accepts_largest_id),
        cmocka_unit_test(test_codec_rejects_negative_timestamp),
        cmocka_unit_test(test_codec_rejects_unknown_source),
        cmocka_unit_test(test_codec_rejects_unknown_enum_names),
        cmocka_unit_test(test_codec_rejects_nan_price),
        cmocka_unit_test(test_codec_rejects_malformed_decimal_string),
        cmocka_unit_test(test_codec_rejects_decimal_with_too_many_places),
        cmocka_unit_test(test_codec_rejects_decimal_out_of_range),
        cmocka_unit_test(test_codec_rejects_overlong_string),
        cmocka_unit_test(test_codec_accepts_strings_at_capacity),
        cmocka_unit_test(test_codec_rejects_non_positive_market_prices),
        cmocka_unit_test(test_codec_rejects_high_below_low),
        cmocka_unit_test(test_codec_rejects_close_time_before_open_time),
        cmocka_unit_test(test_codec_rejects_non_positive_order_quantity),
        cmocka_unit_test(test_codec_rejects_invalid_fill_amounts),
        cmocka_unit_test(test_codec_rejects_cumulative_quantity_below_fill),
        cmocka_unit_test(test_codec_rejects_negative_signal_volume),
        cmocka_unit_test(test_codec_rejects_negative_canceled_quantities),
        cmocka_unit_test(test_codec_rejects_status_not_allowed_for_event),
        cmocka_unit_test(test_codec_accepts_non_positive_rejected_quantity),
        cmocka_unit_test(test_codec_accepts_non_canonical_decimals),
        cmocka_unit_test(test_codec_accepts_keys_in_any_order),
        cmocka_unit_test(test_codec_accepts_whitespace_between_tokens),
        cmocka_unit_test(test_codec_decode_fast_path_reads_every_encoded_event_type),
        cmocka_unit_test(test_codec_decode_accepts_whitespace_and_any_member_order),
        cmocka_unit_test(test_codec_decode_reads_escapes_through_the_strict_path),
        cmocka_unit_test(test_codec_decode_reads_utf8_on_the_fast_path),
        cmocka_unit_test(test_codec_decode_refuses_duplicate_keys_with_the_same_message),
        cmocka_unit_test(test_codec_decode_falls_back_on_numbers_it_does_not_read),
        cmocka_unit_test(test_codec_decode_falls_back_on_literals_arrays_and_nesting),
        cmocka_unit_test(test_codec_decode_refuses_trailing_bytes_and_embedded_nul),
        cmocka_unit_test(test_codec_decode_fast_and_strict_paths_agree_on_every_example),
        cmocka_unit_test(test_codec_decode_allocates_nothing_for_a_valid_event),
        cmocka_unit_test(test_codec_error_messages_are_printable_and_bounded),
        cmocka_unit_test(test_codec_error_buffer_may_be_null_or_tiny),
        cmocka_unit_test(test_codec_error_buffer_is_cleared_on_success),
        cmocka_unit_test(test_codec_decode_rejects_null_arguments),
        cmocka_unit_test(test_codec_survives_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
