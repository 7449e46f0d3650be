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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
            p->price = p->volume = p->limit_price = -INT64_MAX;
            p->order_type = TB_ORDER_MARKET;
            break;
        }
        case TB_EV_ORDER_PLACEMENT_REQUEST: {
            tb_order_placement_request *p = &ev.u.order_request;
            WORST(p->symbol);
            WORST(p->strategy_id);
            WORST(p->client_order_id);
            p->quantity = p->price = -INT64_MAX;
            p->order_type = TB_ORDER_MARKET;
            break;
        }
        case TB_EV_ORDER_CREATED: {
            tb_order_created *p = &ev.u.order_created;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->symbol);
            WORST(p->strategy_id);
            p->status = TB_ORDER_PARTIALLY_FILLED;
            p->order_type = TB_ORDER_MARKET;
            p->quantity = p->price = -INT64_MAX;
            break;
        }
        case TB_EV_ORDER_FILLED: {
            tb_order_filled *p = &ev.u.order_filled;
            WORST(p->order_id);
            WORST(p->client_order_id);
            WORST(p->strategy_id);
            WORST(p->symbol);
            p->filled_quantity = p->filled_price = p->commission = -INT64_MAX;
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

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

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
        cmocka_unit_test(test_codec_encodes_every_enum_by_wire_name),
        cmocka_unit_test(test_codec_payload_keys_follow_declaration_order),
        cmocka_unit_test(test_codec_round_trips_every_event_type),
        cmocka_unit_test(test_codec_round_trips_extreme_values),
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
        cmocka_unit_test(test_codec_error_messages_are_printable_and_bounded),
        cmocka_unit_test(test_codec_error_buffer_may_be_null_or_tiny),
        cmocka_unit_test(test_codec_error_buffer_is_cleared_on_success),
        cmocka_unit_test(test_codec_decode_rejects_null_arguments),
        cmocka_unit_test(test_codec_survives_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
