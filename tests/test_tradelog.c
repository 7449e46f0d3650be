/* The canonical trade log: the JSON line codec, the strict reader, and the
 * pipeline-side writer on a real bus and a real pipeline. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tradebus/tradebus.h>

#include "tb_test_support.h"

/* 2024-01-01T00:00:00Z */
#define T0 INT64_C(1704067200000000000)

/* ---- helpers ------------------------------------------------------------- */

/* A sink that keeps every record and its JSON line. */
typedef struct {
    tb_trade_record recs[64];
    size_t n;
    char text[8192];
    size_t len;
    int fail_with; /* returned instead of keeping the record, if non-zero */
} collector;

static int collect(const tb_trade_record *rec, void *ctx)
{
    collector *c = ctx;
    if (c->fail_with) return c->fail_with;
    assert_true(c->n < 64);
    c->recs[c->n++] = *rec;
    int n = tb_trade_record_encode(rec, c->text + c->len, sizeof(c->text) - c->len);
    assert_true(n > 0);
    c->len += (size_t)n;
    return 0;
}

static tb_trade_record base(tb_record_kind kind)
{
    tb_trade_record r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    if (kind != TB_REC_FINAL) {
        r.time = T0 + 5 * TBT_MINUTE;
        strcpy(r.strategy_id, "s1");
        strcpy(r.symbol, "BTCUSDT");
    }
    return r;
}

static void decode_ok(const char *line, tb_trade_record *out)
{
    char err[200];
    int rc = tb_trade_record_decode(line, strlen(line), out, err, sizeof err);
    if (rc) fail_msg("'%s' does not decode: %s", line, err);
}

/* Decoding fails with TB_EPARSE and a message that starts with `prefix`. */
static void decode_fails(const char *line, const char *prefix)
{
    tb_trade_record r;
    char err[200];
    int rc = tb_trade_record_decode(line, strlen(line), &r, err, sizeof err);
    if (rc != TB_EPARSE) fail_msg("'%s' decoded (rc %d), expected an error", line, rc);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("'%s': error '%s' does not start with '%s'", line, err, prefix);
}

/* head + value + tail into line: one field of a line varied per case. */
static void splice(char *line, size_t n, const char *head, const char *value, const char *tail)
{
    int len = snprintf(line, n, "%s%s%s", head, value, tail);
    assert_true(len > 0 && (size_t)len < n);
}

static void round_trip(const tb_trade_record *r)
{
    char line[512];
    int n = tb_trade_record_encode(r, line, sizeof line);
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    tb_trade_record back;
    decode_ok(line, &back);
    assert_int_equal(back.kind, r->kind);
    assert_true(back.time == r->time);
    assert_string_equal(back.strategy_id, r->strategy_id);
    assert_string_equal(back.symbol, r->symbol);
    assert_int_equal(back.side, r->side);
    assert_int_equal(back.order_type, r->order_type);
    assert_true(back.quantity == r->quantity);
    assert_true(back.price == r->price);
    assert_true(back.commission == r->commission);
    assert_true(back.entry_price == r->entry_price);
    assert_true(back.realized_pnl == r->realized_pnl);
    assert_true(back.unrealized_pnl == r->unrealized_pnl);
    assert_true(back.fees == r->fees);
    assert_int_equal(back.line, 0);
    /* And the line it encodes to again is the same line. */
    char again[512];
    assert_int_equal(tb_trade_record_encode(&back, again, sizeof again), n);
    assert_string_equal(again, line);
}

/* ---- the codec ----------------------------------------------------------- */

static void test_encode_decode_round_trips_every_kind(void **state)
{
    (void)state;
    tb_trade_record r = base(TB_REC_SIGNAL);
    r.side = TB_SIDE_SELL;
    r.quantity = tbt_dec("0.5");
    r.price = tbt_dec("42000.12345678");
    round_trip(&r);

    r = base(TB_REC_ORDER);
    r.side = TB_SIDE_BUY;
    r.order_type = TB_ORDER_LIMIT;
    r.quantity = tbt_dec("1");
    r.price = tbt_dec("11.99");
    round_trip(&r);
    r.order_type = TB_ORDER_MARKET;
    r.price = 0;
    round_trip(&r);

    r = base(TB_REC_FILL);
    r.side = TB_SIDE_BUY;
    r.quantity = tbt_dec("0.00000001");
    r.price = tbt_dec("12.5");
    r.commission = tbt_dec("0.00625");
    round_trip(&r);

    r = base(TB_REC_POSITION);
    r.quantity = tbt_dec("-0.5");
    r.entry_price = tbt_dec("12.5");
    r.realized_pnl = tbt_dec("-3");
    round_trip(&r);

    r = base(TB_REC_FINAL);
    r.realized_pnl = tbt_dec("-3");
    r.unrealized_pnl = tbt_dec("1.5");
    r.fees = tbt_dec("0.022");
    round_trip(&r);
}

static void test_encode_writes_keys_in_canonical_order(void **state)
{
    (void)state;
    char line[512];
    tb_trade_record r = base(TB_REC_FILL);
    r.side = TB_SIDE_BUY;
    r.quantity = tbt_dec("0.5");
    r.price = tbt_dec("12.5");
    r.commission = tbt_dec("0.00625");
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
    assert_string_equal(line, "{\"kind\":\"fill\",\"time\":\"2024-01-01T00:05:00.000Z\","
                              "\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\",\"side\":\"BUY\","
                              "\"quantity\":\"0.5\",\"price\":\"12.5\",\"commission\":\"0.00625\"}"
                              "\n");
    r = base(TB_REC_FINAL);
    r.realized_pnl = tbt_dec("-3");
    r.fees = tbt_dec("0.022");
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
    assert_string_equal(line,
                        "{\"kind\":\"final\",\"realized_pnl\":\"-3\",\"unrealized_pnl\":\"0\","
                        "\"fees\":\"0.022\"}\n");
}

static void test_encode_writes_market_order_price_as_zero(void **state)
{
    (void)state;
    char line[512];
    tb_trade_record r = base(TB_REC_ORDER);
    r.side = TB_SIDE_SELL;
    r.order_type = TB_ORDER_MARKET;
    r.quantity = tbt_dec("2");
    r.price = tbt_dec("9.5"); /* whatever the struct holds */
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
    assert_string_equal(line, "{\"kind\":\"order\",\"time\":\"2024-01-01T00:05:00.000Z\","
                              "\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\",\"side\":\"SELL\","
                              "\"type\":\"MARKET\",\"quantity\":\"2\",\"price\":\"0\"}\n");
}

static void test_encode_escapes_names_and_round_trips_them(void **state)
{
    (void)state;
    tb_trade_record r = base(TB_REC_POSITION);
    strcpy(r.strategy_id, "a\"b\\c\x01\xc3\xa9");
    r.quantity = tbt_dec("1");
    r.entry_price = tbt_dec("2");
    char line[512];
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
    assert_non_null(strstr(line, "\"strategy_id\":\"a\\\"b\\\\c\\u0001\xc3\xa9\""));
    round_trip(&r);
}

static void test_encode_rejects_invalid_record_and_small_buffer(void **state)
{
    (void)state;
    char line[512];
    tb_trade_record r = base(TB_REC_SIGNAL);
    r.side = TB_SIDE_BUY;
    r.quantity = 1;
    r.kind = (tb_record_kind)9;
    assert_int_equal(tb_trade_record_encode(&r, line, sizeof line), TB_EINVAL);
    r.kind = TB_REC_SIGNAL;
    r.side = (tb_side)0;
    assert_int_equal(tb_trade_record_encode(&r, line, sizeof line), TB_EINVAL);
    r.side = TB_SIDE_BUY;
    r.symbol[0] = '\0';
    assert_int_equal(tb_trade_record_encode(&r, line, sizeof line), TB_EINVAL);
    strcpy(r.symbol, "\xff");
    assert_int_equal(tb_trade_record_encode(&r, line, sizeof line), TB_EINVAL);
    strcpy(r.symbol, "BTCUSDT");
    assert_int_equal(tb_trade_record_encode(&r, line, 20), TB_EFULL);
}

static void test_encode_worst_case_fits_512_bytes(void **state)
{
    (void)state;
    /* Every name byte escaped to \u00XX, every decimal at its longest. */
    tb_trade_record r = base(TB_REC_FILL);
    memset(r.strategy_id, 0x01, sizeof r.strategy_id - 1);
    r.strategy_id[sizeof r.strategy_id - 1] = '\0';
    memset(r.symbol, 0x01, sizeof r.symbol - 1);
    r.symbol[sizeof r.symbol - 1] = '\0';
    r.side = TB_SIDE_SELL;
    r.quantity = r.price = r.commission = TB_DECIMAL_MIN;
    char line[512];
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
    r.kind = TB_REC_ORDER;
    r.order_type = TB_ORDER_LIMIT;
    assert_true(tb_trade_record_encode(&r, line, sizeof line) > 0);
}

static void test_decode_rejects_unknown_kind(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"trade\",\"time\":0}", "kind: unknown kind \"trade\"");
    decode_fails("{\"time\":0}", "kind: missing");
    decode_fails("{\"kind\":3}", "kind: not a string");
}

static void test_decode_rejects_missing_field(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"fill\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\"}",
                 "commission: missing");
    decode_fails("{\"kind\":\"final\",\"realized_pnl\":\"0\",\"fees\":\"0\"}",
                 "unrealized_pnl: missing");
    decode_fails("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"type\":\"LIMIT\",\"quantity\":\"1\"}",
                 "price: missing");
}

static void test_decode_rejects_unknown_key(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"signal\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\",\"volume\":\"1\"}",
                 "volume: unknown field");
    /* A real key, but not of this kind. */
    decode_fails("{\"kind\":\"signal\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\",\"commission\":\"0\"}",
                 "commission: not a field of a signal record");
    decode_fails("{\"kind\":\"final\",\"time\":0,\"realized_pnl\":\"0\","
                 "\"unrealized_pnl\":\"0\",\"fees\":\"0\"}",
                 "time: not a field of a final record");
}

static void test_decode_rejects_bad_decimal(void **state)
{
    (void)state;
    static const char *const head = "{\"kind\":\"fill\",\"time\":0,\"strategy_id\":\"s\","
                                    "\"symbol\":\"X\",\"side\":\"BUY\",\"quantity\":\"1\","
                                    "\"price\":",
                             *const tail = ",\"commission\":\"0\"}";
    char line[300];
    splice(line, sizeof line, head, "12.5", tail);
    decode_fails(line, "price: not a decimal string");
    splice(line, sizeof line, head, "\"12.5.1\"", tail);
    decode_fails(line, "price: not a decimal \"12.5.1\"");
    splice(line, sizeof line, head, "\"1e3\"", tail);
    decode_fails(line, "price: not a decimal");
    splice(line, sizeof line, head, "\"0.123456789\"", tail);
    decode_fails(line, "price: more than 8 decimal places");
    splice(line, sizeof line, head, "\"99999999999999\"", tail);
    decode_fails(line, "price: decimal out of range");
}

static void test_decode_rejects_negative_quantity(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"signal\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"-1\",\"price\":\"2\"}",
                 "quantity: must be > 0");
    decode_fails("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"0\"}",
                 "quantity: must be > 0");
    decode_fails("{\"kind\":\"fill\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"0\",\"commission\":\"0\"}",
                 "price: must be > 0");
    decode_fails("{\"kind\":\"fill\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"1\",\"commission\":\"-0.1\"}",
                 "commission: must be >= 0");
}

static void test_decode_accepts_negative_position_quantity(void **state)
{
    (void)state;
    tb_trade_record r;
    decode_ok("{\"kind\":\"position\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
              "\"quantity\":\"-2\",\"entry_price\":\"9.5\",\"realized_pnl\":\"-3\"}",
              &r);
    assert_dec_equal(r.quantity, "-2");
    assert_dec_equal(r.realized_pnl, "-3");
}

static void test_decode_rejects_bad_side(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"signal\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"buy\",\"quantity\":\"1\",\"price\":\"2\"}",
                 "side: unknown side \"buy\"");
    decode_fails("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"type\":\"STOP\",\"quantity\":\"1\"}",
                 "type: unknown order type \"STOP\"");
}

static void test_decode_rejects_bad_time(void **state)
{
    (void)state;
    static const char *const head = "{\"kind\":\"signal\",\"time\":",
                             *const tail = ",\"strategy_id\":\"s\",\"symbol\":\"X\","
                                           "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\"}";
    static const char *const bad[] = {
        "\"2024-01-01T00:05:00\"",             /* local time: no zone */
        "\"2024-01-01T00:05:00+01:00\"",       /* not UTC */
        "\"2024-01-01 00:05:00Z\"",            /* no T */
        "\"2024-01-01T00:05:00.Z\"",           /* empty fraction */
        "\"2024-01-01T00:05:00.1234567891Z\"", /* below a nanosecond */
        "\"yesterday\"",
        "1704067200000.5", /* a float */
        "true",
    };
    char line[300];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        splice(line, sizeof line, head, bad[i], tail);
        decode_fails(line, "time: not");
    }
    splice(line, sizeof line, head, "\"2024-02-30T00:00:00Z\"", tail);
    decode_fails(line, "time: date or time out of range");
    splice(line, sizeof line, head, "\"2024-01-01T24:00:00Z\"", tail);
    decode_fails(line, "time: date or time out of range");
    splice(line, sizeof line, head, "-1", tail);
    decode_fails(line, "time: must be >= 0");
    splice(line, sizeof line, head, "9223372036855", tail);
    decode_fails(line, "time: out of range");
}

/* Found by fuzz_tradelog
 * (fuzz/regressions/tradelog/time-millis-after-2261-does-not-round-trip.jsonl):
 * integer milliseconds were accepted up to 2262-04-11, but ISO-8601, which the
 * encoder writes, stops at 2261, so such a record could be read but not written
 * and read back. Both forms now share one range. */
static void test_decode_integer_time_range_matches_iso(void **state)
{
    (void)state;
    static const char *const head = "{\"kind\":\"signal\",\"time\":",
                             *const tail = ",\"strategy_id\":\"s\",\"symbol\":\"X\","
                                           "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\"}";
    char line[300], buf[512];
    splice(line, sizeof line, head, "9223372036854", tail);
    decode_fails(line, "time: out of range");
    splice(line, sizeof line, head, "9214646400000", tail); /* 2262-01-01 */
    decode_fails(line, "time: out of range");
    tb_trade_record r, again;
    splice(line, sizeof line, head, "9214646399999", tail);
    decode_ok(line, &r);
    assert_true(tb_trade_record_encode(&r, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"2261-12-31T23:59:59.999Z\""));
    decode_ok(buf, &again);
    assert_int_equal(again.time, r.time);
}

static void test_decode_accepts_iso_and_integer_ms_times(void **state)
{
    (void)state;
    static const char *const head = "{\"kind\":\"signal\",\"time\":",
                             *const tail = ",\"strategy_id\":\"s\",\"symbol\":\"X\","
                                           "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"2\"}";
    struct {
        const char *time;
        int64_t ns;
    } cases[] = {
        {"1704067500000", T0 + 5 * TBT_MINUTE},
        {"\"2024-01-01T00:05:00.000Z\"", T0 + 5 * TBT_MINUTE},
        {"\"2024-01-01T00:05:00Z\"", T0 + 5 * TBT_MINUTE},
        {"\"2024-01-01T00:05:00+00:00\"", T0 + 5 * TBT_MINUTE},
        {"\"2024-01-01T00:04:59.999Z\"", T0 + 5 * TBT_MINUTE - 1000000},
        {"\"2024-01-01T00:04:59.123456+00:00\"", T0 + 4 * TBT_MINUTE + 59123456000},
        {"\"2024-02-29T12:00:00.5Z\"", INT64_C(1709208000500000000)},
        {"\"1970-01-01T00:00:00Z\"", 0},
        {"0", 0},
    };
    char line[300];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_trade_record r;
        splice(line, sizeof line, head, cases[i].time, tail);
        decode_ok(line, &r);
        if (r.time != cases[i].ns)
            fail_msg("%s decoded to %lld, expected %lld", cases[i].time, (long long)r.time,
                     (long long)cases[i].ns);
    }
}

static void test_decode_checks_order_price_against_type(void **state)
{
    (void)state;
    tb_trade_record r;
    /* MARKET: price absent or "0". */
    decode_ok("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
              "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\"}",
              &r);
    assert_int_equal(r.order_type, TB_ORDER_MARKET);
    assert_true(r.price == 0);
    decode_ok("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
              "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\",\"price\":\"0\"}",
              &r);
    decode_fails("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\",\"price\":\"12\"}",
                 "price: must be \"0\" or absent for a MARKET order");
    decode_fails("{\"kind\":\"order\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                 "\"side\":\"BUY\",\"type\":\"LIMIT\",\"quantity\":\"1\",\"price\":\"0\"}",
                 "price: must be > 0 for a LIMIT order");
}

static void test_decode_rejects_bad_names(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"position\",\"time\":0,\"strategy_id\":\"\",\"symbol\":\"X\","
                 "\"quantity\":\"1\",\"entry_price\":\"1\",\"realized_pnl\":\"0\"}",
                 "strategy_id: empty");
    decode_fails("{\"kind\":\"position\",\"time\":0,\"strategy_id\":\"s\","
                 "\"symbol\":\"ABCDEFGHIJKLMNOPQ\",\"quantity\":\"1\",\"entry_price\":\"1\","
                 "\"realized_pnl\":\"0\"}",
                 "symbol: longer than 15 bytes");
    decode_fails("{\"kind\":\"position\",\"time\":0,\"strategy_id\":7,\"symbol\":\"X\","
                 "\"quantity\":\"1\",\"entry_price\":\"1\",\"realized_pnl\":\"0\"}",
                 "strategy_id: not a string");
}

static void test_decode_rejects_malformed_json(void **state)
{
    (void)state;
    decode_fails("{\"kind\":\"final\",", "json: ");
    decode_fails("[1,2]", "json: not an object");
    decode_fails("{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\","
                 "\"fees\":\"0\"} trailing",
                 "json: ");
    decode_fails("{\"kind\":\"final\",\"kind\":\"final\",\"realized_pnl\":\"0\","
                 "\"unrealized_pnl\":\"0\",\"fees\":\"0\"}",
                 "json: ");
}

/* ---- reading a log ------------------------------------------------------- */

static const char *const good_log =
    "{\"kind\":\"signal\",\"time\":1704067499999,\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\","
    "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12\"}\n"
    "\n"
    "   \r\n"
    "{\"kind\":\"order\",\"time\":\"2024-01-01T00:04:59.999Z\",\"strategy_id\":\"s1\","
    "\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\"}\r\n"
    "{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\",\"fees\":\"0\"}";

static void test_read_skips_blank_lines_and_numbers_records(void **state)
{
    (void)state;
    FILE *f = fmemopen((void *)good_log, strlen(good_log), "r");
    assert_non_null(f);
    collector c = {0};
    char err[256];
    assert_int_equal(tb_tradelog_read(f, "bot.jsonl", collect, &c, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.recs[0].kind, TB_REC_SIGNAL);
    assert_int_equal(c.recs[0].line, 1);
    assert_int_equal(c.recs[1].kind, TB_REC_ORDER);
    assert_int_equal(c.recs[1].line, 4);
    assert_true(c.recs[1].time == c.recs[0].time);
    assert_int_equal(c.recs[2].kind, TB_REC_FINAL);
    assert_int_equal(c.recs[2].line, 5);
}

static void test_read_reports_file_and_line_and_stops(void **state)
{
    (void)state;
    const char *log = "{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\","
                      "\"fees\":\"0\"}\n"
                      "\n"
                      "{\"kind\":\"fill\",\"time\":0,\"strategy_id\":\"s\",\"symbol\":\"X\","
                      "\"side\":\"BUY\",\"quantity\":\"-1\",\"price\":\"1\",\"commission\":\"0\"}\n"
                      "{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\","
                      "\"fees\":\"0\"}\n";
    FILE *f = fmemopen((void *)log, strlen(log), "r");
    assert_non_null(f);
    collector c = {0};
    char err[256];
    assert_int_equal(tb_tradelog_read(f, "bot.jsonl", collect, &c, err, sizeof err), TB_EPARSE);
    fclose(f);
    assert_string_equal(err, "bot.jsonl:3: quantity: must be > 0");
    assert_int_equal(c.n, 1); /* the line after the bad one is never read */
}

static void test_read_returns_sink_error(void **state)
{
    (void)state;
    FILE *f = fmemopen((void *)good_log, strlen(good_log), "r");
    assert_non_null(f);
    collector c = {0};
    c.fail_with = TB_ENOMEM;
    char err[256];
    assert_int_equal(tb_tradelog_read(f, "bot.jsonl", collect, &c, err, sizeof err), TB_ENOMEM);
    fclose(f);
    assert_non_null(strstr(err, "bot.jsonl:1: "));
}

/* The 64 KiB line limit holds while reading: a longer line (or /dev/zero,
 * which never ends one) is refused at the limit, naming its line. */
static void test_read_refuses_a_line_over_64_kib(void **state)
{
    (void)state;
    size_t n = 200000;
    char *log = malloc(n + 200);
    assert_non_null(log);
    int head = snprintf(log, 200, "%s\n",
                        "{\"kind\":\"final\",\"realized_pnl\":\"0\","
                        "\"unrealized_pnl\":\"0\",\"fees\":\"0\"}");
    memset(log + head, ' ', n);
    strcpy(log + head + n, "\n");
    FILE *f = fmemopen(log, strlen(log), "r");
    assert_non_null(f);
    collector c = {0};
    char err[256];
    assert_int_equal(tb_tradelog_read(f, "bot.jsonl", collect, &c, err, sizeof err), TB_EPARSE);
    fclose(f);
    free(log);
    assert_string_equal(err, "bot.jsonl:2: line longer than 65536 bytes");
    assert_int_equal(c.n, 1);

    f = fopen("/dev/zero", "r");
    assert_non_null(f);
    assert_int_equal(tb_tradelog_read(f, "/dev/zero", collect, &c, err, sizeof err), TB_EPARSE);
    fclose(f);
    assert_string_equal(err, "/dev/zero:1: line longer than 65536 bytes");
}

static void test_sink_file_writes_one_line_per_record(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tb_trade_record r = base(TB_REC_FINAL);
    r.fees = tbt_dec("1.5");
    assert_int_equal(tb_record_sink_file(&r, f), 0);
    assert_int_equal(tb_record_sink_file(&r, f), 0);
    fclose(f);
    assert_string_equal(buf, "{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\","
                             "\"fees\":\"1.5\"}\n"
                             "{\"kind\":\"final\",\"realized_pnl\":\"0\",\"unrealized_pnl\":\"0\","
                             "\"fees\":\"1.5\"}\n");
    free(buf);
}

/* ---- the writer on a bus ------------------------------------------------- */

static tb_event fill_event(tb_side side, const char *qty, const char *price, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_EXCHANGE);
    ev.timestamp = t;
    tb_order_filled *f = &ev.u.order_filled;
    strcpy(f->strategy_id, "s1");
    strcpy(f->symbol, "BTCUSDT");
    strcpy(f->order_id, "SIM-1");
    strcpy(f->client_order_id, "s1-1");
    f->side = side;
    f->filled_quantity = f->cumulative_quantity = tbt_dec(qty);
    f->filled_price = f->average_price = tbt_dec(price);
    f->status = TB_ORDER_FILLED;
    return ev;
}

static tb_event position_event(uint64_t cause, uint64_t position_id, const char *qty,
                               const char *entry, const char *realized, int64_t t)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    ev.causation_id = cause;
    ev.timestamp = t;
    tb_position_update *u = &ev.u.position;
    u->position_id = position_id;
    strcpy(u->strategy_id, "s1");
    strcpy(u->symbol, "BTCUSDT");
    u->current_quantity = tbt_dec(qty);
    u->entry_price = tbt_dec(entry);
    u->mark_price = tbt_dec("10");
    u->realized_pnl = tbt_dec(realized);
    u->status = u->current_quantity ? TB_POSITION_OPEN : TB_POSITION_CLOSED;
    return ev;
}

/* Publishing from a handler queues behind the current event, as the
 * Position Manager does: both updates follow the fill, adjacent. */
typedef struct {
    tb_bus *bus;
    tb_event updates[2];
    int n;
} fake_positions;

static int publish_updates(const tb_event *ev, void *ctx)
{
    fake_positions *fp = ctx;
    for (int i = 0; i < fp->n; i++) {
        fp->updates[i].causation_id = ev->event_id;
        fp->updates[i].timestamp = ev->timestamp;
        assert_int_equal(tb_bus_publish(fp->bus, &fp->updates[i]), 0);
        fp->updates[i].event_id = 0;
    }
    return 0;
}

static void test_writer_merges_the_updates_of_a_flip_into_one_record(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    fake_positions fp = {.bus = bus, .n = 2};
    fp.updates[0] = position_event(0, 1, "0", "0", "-3", 0);
    fp.updates[1] = position_event(0, 2, "-1", "9.5", "0", 0);
    tb_bus_subscribe(bus, TB_EV_ORDER_FILLED, publish_updates, &fp);
    collector c = {0};
    tb_tradelog *t;
    assert_int_equal(tb_tradelog_create(bus, collect, &c, &t), 0);

    tb_event fill = fill_event(TB_SIDE_SELL, "2", "9.5", T0);
    assert_int_equal(tb_bus_publish(bus, &fill), 0);
    /* Complete as soon as the dispatch is: the CLOSED half was held only
     * until the OPEN half arrived. */
    assert_int_equal(c.n, 2);
    assert_int_equal(tb_tradelog_finish(t, tbt_dec("-3"), 0, 0), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.recs[0].kind, TB_REC_FILL);
    assert_int_equal(c.recs[1].kind, TB_REC_POSITION);
    /* The state after the fill: the new short, and the old life's PnL. */
    assert_dec_equal(c.recs[1].quantity, "-1");
    assert_dec_equal(c.recs[1].entry_price, "9.5");
    assert_dec_equal(c.recs[1].realized_pnl, "-3");
    assert_true(c.recs[1].time == T0);
    assert_int_equal(c.recs[2].kind, TB_REC_FINAL);
    tb_tradelog_destroy(t);
    tb_bus_destroy(bus);
}

static void test_writer_keeps_updates_of_different_fills_apart(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    fake_positions fp = {.bus = bus, .n = 1};
    tb_bus_subscribe(bus, TB_EV_ORDER_FILLED, publish_updates, &fp);
    collector c = {0};
    tb_tradelog *t;
    assert_int_equal(tb_tradelog_create(bus, collect, &c, &t), 0);

    /* Long 1, closed (life 1 realizes 2), reopened long (life 2 starts
     * at 0): the position record carries 2, the total over both lives. */
    fp.updates[0] = position_event(0, 1, "1", "10", "0", 0);
    tb_event f1 = fill_event(TB_SIDE_BUY, "1", "10", T0);
    assert_int_equal(tb_bus_publish(bus, &f1), 0);
    fp.updates[0] = position_event(0, 1, "0", "0", "2", 0);
    tb_event f2 = fill_event(TB_SIDE_SELL, "1", "12", T0 + TBT_MINUTE);
    assert_int_equal(tb_bus_publish(bus, &f2), 0);
    /* A plain close is not held: a bar-by-bar comparison sees it now. */
    assert_int_equal(c.n, 4);
    fp.updates[0] = position_event(0, 2, "1", "11", "0", 0);
    tb_event f3 = fill_event(TB_SIDE_BUY, "1", "11", T0 + 2 * TBT_MINUTE);
    assert_int_equal(tb_bus_publish(bus, &f3), 0);
    assert_int_equal(tb_tradelog_finish(t, tbt_dec("2"), 0, 0), 0);

    assert_int_equal(c.n, 7);
    static const tb_record_kind kinds[] = {TB_REC_FILL,     TB_REC_POSITION, TB_REC_FILL,
                                           TB_REC_POSITION, TB_REC_FILL,     TB_REC_POSITION,
                                           TB_REC_FINAL};
    for (int i = 0; i < 7; i++)
        assert_int_equal(c.recs[i].kind, kinds[i]);
    assert_dec_equal(c.recs[1].quantity, "1");
    assert_dec_equal(c.recs[3].quantity, "0");
    assert_dec_equal(c.recs[3].entry_price, "0");
    assert_dec_equal(c.recs[3].realized_pnl, "2");
    assert_dec_equal(c.recs[5].quantity, "1");
    assert_dec_equal(c.recs[5].entry_price, "11");
    assert_dec_equal(c.recs[5].realized_pnl, "2");
    tb_tradelog_destroy(t);
    tb_bus_destroy(bus);
}

static void test_writer_holds_a_close_whose_fill_it_did_not_see(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    collector c = {0};
    tb_tradelog *t;
    assert_int_equal(tb_tradelog_create(bus, collect, &c, &t), 0);
    /* Attached after the fill: this CLOSED update may be half a flip. */
    tb_event closed = position_event(777, 1, "0", "0", "-3", T0);
    tb_event opened = position_event(777, 2, "-1", "9.5", "0", T0);
    assert_int_equal(tb_bus_publish(bus, &closed), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(tb_bus_publish(bus, &opened), 0);
    assert_int_equal(c.n, 1);
    assert_dec_equal(c.recs[0].quantity, "-1");
    assert_dec_equal(c.recs[0].realized_pnl, "-3");
    /* Held again, then flushed by an unrelated event. */
    tb_event closed2 = position_event(778, 2, "0", "0", "1", T0 + TBT_MINUTE);
    assert_int_equal(tb_bus_publish(bus, &closed2), 0);
    assert_int_equal(c.n, 1);
    tb_market_data bar = tbt_bar("BTCUSDT", 1, "10", "10", "10", "10", "1");
    tb_event md = tbt_bar_event(&bar);
    assert_int_equal(tb_bus_publish(bus, &md), 0);
    assert_int_equal(c.n, 2);
    assert_dec_equal(c.recs[1].quantity, "0");
    assert_dec_equal(c.recs[1].realized_pnl, "-2");
    tb_tradelog_destroy(t);
    tb_bus_destroy(bus);
}

static void test_writer_skips_hold_signals_and_other_events(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    collector c = {0};
    tb_tradelog *t;
    assert_int_equal(tb_tradelog_create(bus, collect, &c, &t), 0);
    tb_market_data bar = tbt_bar("BTCUSDT", 1, "10", "10", "10", "10", "1");
    tb_event md = tbt_bar_event(&bar);
    assert_int_equal(tb_bus_publish(bus, &md), 0);
    tb_event sig;
    tb_event_init(&sig, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    sig.timestamp = bar.close_time;
    sig.u.signal.signal_type = TB_SIGNAL_HOLD;
    strcpy(sig.u.signal.strategy_id, "s1");
    strcpy(sig.u.signal.symbol, "BTCUSDT");
    sig.u.signal.price = bar.close;
    assert_int_equal(tb_bus_publish(bus, &sig), 0);
    assert_int_equal(c.n, 0);
    sig.event_id = 0;
    sig.u.signal.signal_type = TB_SIGNAL_SELL;
    sig.u.signal.volume = tbt_dec("0.25");
    assert_int_equal(tb_bus_publish(bus, &sig), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.recs[0].kind, TB_REC_SIGNAL);
    assert_int_equal(c.recs[0].side, TB_SIDE_SELL);
    assert_dec_equal(c.recs[0].quantity, "0.25");
    assert_dec_equal(c.recs[0].price, "10");
    assert_true(c.recs[0].time == bar.close_time);
    tb_tradelog_destroy(t);
    /* Unsubscribed: nothing more is recorded. */
    sig.event_id = 0;
    assert_int_equal(tb_bus_publish(bus, &sig), 0);
    assert_int_equal(c.n, 1);
    tb_bus_destroy(bus);
}

static void test_writer_create_checks_arguments(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    tb_tradelog *t = (tb_tradelog *)1;
    assert_int_equal(tb_tradelog_create(NULL, collect, NULL, &t), TB_EINVAL);
    assert_null(t);
    assert_int_equal(tb_tradelog_create(bus, NULL, NULL, &t), TB_EINVAL);
    tb_tradelog_destroy(NULL);
    tb_bus_destroy(bus);
}

/* ---- the writer on the real pipeline ------------------------------------- */

/* The e2e series (tests/test_e2e_backtest.c): closes 10,10,10,10,12,14,16,
 * 14,10,8,8; sma_cross(2,3) crosses up on bar 4 and down on bar 8. With
 * allow_short the cross down is one SELL of 2 — a flip from +1 to -1. */
static const char *const ohlc[11][4] = {
    {"10", "10", "10", "10"}, {"10", "10", "10", "10"}, {"10", "10", "10", "10"},
    {"10", "10", "10", "10"}, {"10", "12", "10", "12"}, {"12.5", "14", "12", "14"},
    {"14", "16", "14", "16"}, {"16", "16", "14", "14"}, {"14", "14", "10", "10"},
    {"9.5", "10", "8", "8"},  {"8", "8", "8", "8"},
};

static void test_writer_on_pipeline_yields_expected_records_with_one_flip_record(void **state)
{
    (void)state;
    const char *sets[] = {"strategy.s1.type=sma_cross", "strategy.s1.symbol=BTCUSDT",
                          "strategy.s1.fast=2",         "strategy.s1.slow=3",
                          "strategy.s1.quantity=1",     "strategy.s1.allow_short=true",
                          "exchange.fee_bps=10"};
    char err[256];
    tb_config cfg;
    tb_config_init(&cfg);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (tb_config_set(&cfg, sets[i], err, sizeof err) != 0) fail_msg("%s", err);
    tb_config_add_data(&cfg, "unused.csv");
    if (tb_config_build(&cfg, err, sizeof err) != 0) fail_msg("%s", err);
    tb_pipeline *p;
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof err), 0);
    collector c = {0};
    tb_tradelog *t;
    assert_int_equal(tb_tradelog_create(tb_pipeline_bus(p), collect, &c, &t), 0);

    for (int i = 0; i < 11; i++) {
        tb_market_data bar;
        memset(&bar, 0, sizeof bar);
        strcpy(bar.symbol, "BTCUSDT");
        bar.open = tbt_dec(ohlc[i][0]);
        bar.high = tbt_dec(ohlc[i][1]);
        bar.low = tbt_dec(ohlc[i][2]);
        bar.close = tbt_dec(ohlc[i][3]);
        bar.volume = tbt_dec("5");
        bar.open_time = T0 + i * TBT_MINUTE;
        bar.close_time = bar.open_time + 59999 * INT64_C(1000000);
        assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
        /* Every record of a bar is out when its dispatch ends (bar 5
         * fills the BUY, bar 9 the flipping SELL). */
        if (i == 5) assert_int_equal(c.n, 4);
        if (i == 9) assert_int_equal(c.n, 8);
    }
    tb_backtest_result res;
    assert_int_equal(tb_pipeline_result(p, &res), 0);
    assert_int_equal(tb_tradelog_finish(t, res.realized_pnl, res.unrealized_pnl, res.fees), 0);
    tb_backtest_result_free(&res);

    /* Signals and orders at bar 4's and bar 8's close; fills at the next
     * open (12.5 and 9.5), 10 bps fees (0.0125, 0.019). The flip realizes
     * (9.5 - 12.5) x 1 = -3 and leaves 1 short at 9.5: one position record.
     * At the last close 8 the short is worth +1.5. */
    assert_string_equal(
        c.text,
        "{\"kind\":\"signal\",\"time\":\"2024-01-01T00:04:59.999Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12\"}\n"
        "{\"kind\":\"order\",\"time\":\"2024-01-01T00:04:59.999Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\","
        "\"price\":\"0\"}\n"
        "{\"kind\":\"fill\",\"time\":\"2024-01-01T00:05:00.000Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12.5\","
        "\"commission\":\"0.0125\"}\n"
        "{\"kind\":\"position\",\"time\":\"2024-01-01T00:05:00.000Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"quantity\":\"1\",\"entry_price\":\"12.5\","
        "\"realized_pnl\":\"0\"}\n"
        "{\"kind\":\"signal\",\"time\":\"2024-01-01T00:08:59.999Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"10\"}\n"
        "{\"kind\":\"order\",\"time\":\"2024-01-01T00:08:59.999Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"type\":\"MARKET\",\"quantity\":\"2\","
        "\"price\":\"0\"}\n"
        "{\"kind\":\"fill\",\"time\":\"2024-01-01T00:09:00.000Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"9.5\","
        "\"commission\":\"0.019\"}\n"
        "{\"kind\":\"position\",\"time\":\"2024-01-01T00:09:00.000Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"quantity\":\"-1\",\"entry_price\":\"9.5\","
        "\"realized_pnl\":\"-3\"}\n"
        "{\"kind\":\"final\",\"realized_pnl\":\"-3\",\"unrealized_pnl\":\"1.5\","
        "\"fees\":\"0.0315\"}\n");
    tb_tradelog_destroy(t);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_round_trips_every_kind),
        cmocka_unit_test(test_encode_writes_keys_in_canonical_order),
        cmocka_unit_test(test_encode_writes_market_order_price_as_zero),
        cmocka_unit_test(test_encode_escapes_names_and_round_trips_them),
        cmocka_unit_test(test_encode_rejects_invalid_record_and_small_buffer),
        cmocka_unit_test(test_encode_worst_case_fits_512_bytes),
        cmocka_unit_test(test_decode_rejects_unknown_kind),
        cmocka_unit_test(test_decode_rejects_missing_field),
        cmocka_unit_test(test_decode_rejects_unknown_key),
        cmocka_unit_test(test_decode_rejects_bad_decimal),
        cmocka_unit_test(test_decode_rejects_negative_quantity),
        cmocka_unit_test(test_decode_accepts_negative_position_quantity),
        cmocka_unit_test(test_decode_rejects_bad_side),
        cmocka_unit_test(test_decode_rejects_bad_time),
        cmocka_unit_test(test_decode_integer_time_range_matches_iso),
        cmocka_unit_test(test_decode_accepts_iso_and_integer_ms_times),
        cmocka_unit_test(test_decode_checks_order_price_against_type),
        cmocka_unit_test(test_decode_rejects_bad_names),
        cmocka_unit_test(test_decode_rejects_malformed_json),
        cmocka_unit_test(test_read_skips_blank_lines_and_numbers_records),
        cmocka_unit_test(test_read_reports_file_and_line_and_stops),
        cmocka_unit_test(test_read_returns_sink_error),
        cmocka_unit_test(test_read_refuses_a_line_over_64_kib),
        cmocka_unit_test(test_sink_file_writes_one_line_per_record),
        cmocka_unit_test(test_writer_merges_the_updates_of_a_flip_into_one_record),
        cmocka_unit_test(test_writer_keeps_updates_of_different_fills_apart),
        cmocka_unit_test(test_writer_holds_a_close_whose_fill_it_did_not_see),
        cmocka_unit_test(test_writer_skips_hold_signals_and_other_events),
        cmocka_unit_test(test_writer_create_checks_arguments),
        cmocka_unit_test(test_writer_on_pipeline_yields_expected_records_with_one_flip_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
