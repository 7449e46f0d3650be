#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tradebus/event.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    int value;
    const char *name;
} wire_name;

/* The expected wire names, written out independently of the library's
 * tables so a typo there cannot hide behind a shared macro. */
static const wire_name event_types[] = {
    {TB_EV_MARKET_DATA, "MarketData"},
    {TB_EV_SIGNAL_GENERATED, "SignalGenerated"},
    {TB_EV_ORDER_PLACEMENT_REQUEST, "OrderPlacementRequest"},
    {TB_EV_ORDER_CREATED, "OrderCreated"},
    {TB_EV_ORDER_FILLED, "OrderFilled"},
    {TB_EV_ORDER_REJECTED, "OrderRejected"},
    {TB_EV_ORDER_CANCELED, "OrderCanceled"},
    {TB_EV_POSITION_UPDATE, "PositionUpdate"},
    {TB_EV_RISK_ALERT, "RiskAlert"},
};
static const wire_name signal_types[] = {
    {TB_SIGNAL_BUY, "BUY"}, {TB_SIGNAL_SELL, "SELL"}, {TB_SIGNAL_HOLD, "HOLD"}};
static const wire_name sides[] = {{TB_SIDE_BUY, "BUY"}, {TB_SIDE_SELL, "SELL"}};
static const wire_name order_types[] = {{TB_ORDER_MARKET, "MARKET"}, {TB_ORDER_LIMIT, "LIMIT"}};
static const wire_name order_statuses[] = {
    {TB_ORDER_PENDING, "PENDING"},
    {TB_ORDER_NEW, "NEW"},
    {TB_ORDER_PARTIALLY_FILLED, "PARTIALLY_FILLED"},
    {TB_ORDER_FILLED, "FILLED"},
    {TB_ORDER_CANCELED, "CANCELED"},
    {TB_ORDER_REJECTED, "REJECTED"},
    {TB_ORDER_EXPIRED, "EXPIRED"},
};
static const wire_name position_statuses[] = {{TB_POSITION_OPEN, "OPEN"},
                                              {TB_POSITION_CLOSED, "CLOSED"}};
static const wire_name trading_states[] = {{TB_TRADING_ACTIVE, "ACTIVE"},
                                           {TB_TRADING_REDUCING, "REDUCING"},
                                           {TB_TRADING_HALTED, "HALTED"}};
static const wire_name reject_reasons[] = {
    {TB_REJECT_NONE, "NONE"},
    {TB_REJECT_RISK, "RISK"},
    {TB_REJECT_INSUFFICIENT_FUNDS, "INSUFFICIENT_FUNDS"},
    {TB_REJECT_INVALID_QUANTITY, "INVALID_QUANTITY"},
    {TB_REJECT_INVALID_PRICE, "INVALID_PRICE"},
    {TB_REJECT_UNKNOWN_SYMBOL, "UNKNOWN_SYMBOL"},
    {TB_REJECT_EXCHANGE, "EXCHANGE"},
    {TB_REJECT_DUPLICATE, "DUPLICATE"},
};
static const wire_name sources[] = {
    {TB_SRC_UNKNOWN, "unknown"}, {TB_SRC_MARKET_DATA, "market_data"}, {TB_SRC_SIGNAL, "signal"},
    {TB_SRC_ORDERS, "orders"},   {TB_SRC_POSITIONS, "positions"},     {TB_SRC_RISK, "risk"},
    {TB_SRC_MONITOR, "monitor"}, {TB_SRC_EXCHANGE, "exchange"},
};

/* One adapter per enum so a single driver can exercise every name/parse
 * pair through the same assertions. */
typedef struct {
    const char *what;
    const wire_name *names;
    size_t count;
    const char *(*name)(int v);
    int (*parse)(const char *s, int *v);
} enum_api;

#define ADAPT(prefix, type)                                                                        \
    static const char *prefix##_name_int(int v)                                                    \
    {                                                                                              \
        return prefix##_name((type)v);                                                             \
    }                                                                                              \
    static int prefix##_parse_int(const char *s, int *v)                                           \
    {                                                                                              \
        type x = (type)0x5a5a;                                                                     \
        int rc = prefix##_parse(s, &x);                                                            \
        *v = (int)x;                                                                               \
        return rc;                                                                                 \
    }
ADAPT(tb_event_type, tb_event_type)
ADAPT(tb_signal_type, tb_signal_type)
ADAPT(tb_side, tb_side)
ADAPT(tb_order_type, tb_order_type)
ADAPT(tb_order_status, tb_order_status)
ADAPT(tb_position_status, tb_position_status)
ADAPT(tb_trading_state, tb_trading_state)
ADAPT(tb_reject_reason, tb_reject_reason)
ADAPT(tb_source, tb_source)

#define API(prefix, table)                                                                         \
    {                                                                                              \
#prefix, table, ARRAY_LEN(table), prefix##_name_int, prefix##_parse_int                    \
    }
static const enum_api apis[] = {
    API(tb_event_type, event_types),
    API(tb_signal_type, signal_types),
    API(tb_side, sides),
    API(tb_order_type, order_types),
    API(tb_order_status, order_statuses),
    API(tb_position_status, position_statuses),
    API(tb_trading_state, trading_states),
    API(tb_reject_reason, reject_reasons),
    API(tb_source, sources),
};

static void assert_wire_names(const enum_api *api)
{
    for (size_t i = 0; i < api->count; i++) {
        const wire_name *w = &api->names[i];
        const char *got = api->name(w->value);
        if (strcmp(got, w->name) != 0)
            fail_msg("%s_name(%d) = \"%s\", expected \"%s\"", api->what, w->value, got, w->name);
        int v = -1;
        assert_int_equal(api->parse(w->name, &v), TB_OK);
        assert_int_equal(v, w->value);
    }
}

static const enum_api *api_for(const char *what)
{
    for (size_t i = 0; i < ARRAY_LEN(apis); i++) {
        if (strcmp(apis[i].what, what) == 0) return &apis[i];
    }
    fail_msg("no api %s", what);
    return NULL;
}

static void test_event_type_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_event_type"));
}

static void test_signal_type_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_signal_type"));
}

static void test_side_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_side"));
}

static void test_order_type_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_order_type"));
}

static void test_order_status_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_order_status"));
}

static void test_position_status_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_position_status"));
}

static void test_trading_state_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_trading_state"));
}

static void test_reject_reason_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_reject_reason"));
}

static void test_source_wire_names_round_trip(void **state)
{
    (void)state;
    assert_wire_names(api_for("tb_source"));
}

static void test_enum_name_of_unknown_value_is_question_mark(void **state)
{
    (void)state;
    static const int unknown[] = {-1, 99, 1 << 20, INT32_MIN};
    for (size_t a = 0; a < ARRAY_LEN(apis); a++) {
        for (size_t i = 0; i < ARRAY_LEN(unknown); i++)
            assert_string_equal(apis[a].name(unknown[i]), "?");
    }
    assert_string_equal(tb_event_type_name(TB_EV_NONE), "?");
    assert_string_equal(tb_event_type_name(TB_EV_COUNT), "?");
    assert_string_equal(tb_side_name((tb_side)0), "?");
    assert_string_equal(tb_order_type_name((tb_order_type)0), "?");
    assert_string_equal(tb_position_status_name((tb_position_status)0), "?");
    assert_string_equal(tb_source_name(TB_SRC_COUNT), "?");
}

static void test_enum_parse_rejects_unknown_names(void **state)
{
    (void)state;
    static const char *const bad[] = {"",
                                      "?",
                                      "buy",
                                      "Buy",
                                      "BUY ",
                                      " BUY",
                                      "marketdata",
                                      "MarketData\n",
                                      "UNKNOWN",
                                      "Unknown",
                                      "partially_filled"};
    for (size_t a = 0; a < ARRAY_LEN(apis); a++) {
        for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
            int v = -1;
            int rc = apis[a].parse(bad[i], &v);
            if (rc != TB_EPARSE) fail_msg("%s_parse(\"%s\") returned %d", apis[a].what, bad[i], rc);
        }
    }
}

static void test_enum_parse_rejects_null_arguments(void **state)
{
    (void)state;
    for (size_t a = 0; a < ARRAY_LEN(apis); a++) {
        int v = -1;
        assert_int_equal(apis[a].parse(NULL, &v), TB_EINVAL);
    }
    assert_int_equal(tb_side_parse("BUY", NULL), TB_EINVAL);
}

static void test_enum_parse_leaves_output_untouched_on_failure(void **state)
{
    (void)state;
    tb_side side = TB_SIDE_SELL;
    assert_int_equal(tb_side_parse("HOLD", &side), TB_EPARSE);
    assert_int_equal(side, TB_SIDE_SELL);
}

/* ---- events ------------------------------------------------------------ */

static void test_event_init_zeroes_and_sets_envelope(void **state)
{
    (void)state;
    tb_event ev;
    memset(&ev, 0xAB, sizeof ev);
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_EXCHANGE);
    assert_int_equal(ev.type, TB_EV_ORDER_FILLED);
    assert_int_equal(ev.version, TB_EVENT_VERSION);
    assert_int_equal(ev.source, TB_SRC_EXCHANGE);
    assert_int_equal(ev.event_id, 0);
    assert_int_equal(ev.causation_id, 0);
    assert_int_equal(ev.correlation_id, 0);
    assert_int_equal(ev.timestamp, 0);
    static const unsigned char zeros[sizeof ev.u];
    assert_memory_equal(&ev.u, zeros, sizeof ev.u);
}

static void test_event_caused_by_links_parent_and_inherits_correlation(void **state)
{
    (void)state;
    tb_event parent, child;
    tb_event_init(&parent, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    parent.event_id = 7;
    parent.causation_id = 5;
    parent.correlation_id = 3;
    tb_event_init(&child, TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_SIGNAL);
    child.event_id = 8;
    tb_event_caused_by(&child, &parent);
    assert_int_equal(child.causation_id, 7);
    assert_int_equal(child.correlation_id, 3);
    assert_int_equal(child.event_id, 8);
}

static void test_event_caused_by_uncorrelated_parent_starts_the_chain(void **state)
{
    (void)state;
    tb_event parent, child;
    tb_event_init(&parent, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    parent.event_id = 42;
    tb_event_init(&child, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&child, &parent);
    assert_int_equal(child.causation_id, 42);
    assert_int_equal(child.correlation_id, 42);
}

/* ---- order status ------------------------------------------------------ */

#define N_STATUS 7

/* The legal moves, transcribed from the event.h comment. */
static const struct {
    tb_order_status from, to;
} legal_moves[] = {
    {TB_ORDER_PENDING, TB_ORDER_NEW},
    {TB_ORDER_PENDING, TB_ORDER_REJECTED},
    {TB_ORDER_NEW, TB_ORDER_PARTIALLY_FILLED},
    {TB_ORDER_NEW, TB_ORDER_FILLED},
    {TB_ORDER_NEW, TB_ORDER_CANCELED},
    {TB_ORDER_NEW, TB_ORDER_EXPIRED},
    {TB_ORDER_PARTIALLY_FILLED, TB_ORDER_PARTIALLY_FILLED},
    {TB_ORDER_PARTIALLY_FILLED, TB_ORDER_FILLED},
    {TB_ORDER_PARTIALLY_FILLED, TB_ORDER_CANCELED},
    {TB_ORDER_PARTIALLY_FILLED, TB_ORDER_EXPIRED},
};

static int is_legal(int from, int to)
{
    for (size_t i = 0; i < ARRAY_LEN(legal_moves); i++) {
        if ((int)legal_moves[i].from == from && (int)legal_moves[i].to == to) return 1;
    }
    return 0;
}

static void test_order_status_legal_transitions_allowed(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(legal_moves); i++) {
        if (!tb_order_status_can_move(legal_moves[i].from, legal_moves[i].to))
            fail_msg("%s -> %s refused", tb_order_status_name(legal_moves[i].from),
                     tb_order_status_name(legal_moves[i].to));
    }
}

static void test_order_status_illegal_transitions_refused(void **state)
{
    (void)state;
    int refused = 0;
    for (int from = 0; from < N_STATUS; from++) {
        for (int to = 0; to < N_STATUS; to++) {
            if (is_legal(from, to)) continue;
            if (tb_order_status_can_move((tb_order_status)from, (tb_order_status)to))
                fail_msg("%s -> %s allowed", tb_order_status_name((tb_order_status)from),
                         tb_order_status_name((tb_order_status)to));
            refused++;
        }
    }
    assert_int_equal(refused, N_STATUS * N_STATUS - (int)ARRAY_LEN(legal_moves));
}

static void test_order_status_terminal_states_move_nowhere(void **state)
{
    (void)state;
    static const tb_order_status terminal[] = {TB_ORDER_FILLED, TB_ORDER_CANCELED,
                                               TB_ORDER_REJECTED, TB_ORDER_EXPIRED};
    for (size_t i = 0; i < ARRAY_LEN(terminal); i++) {
        for (int to = 0; to < N_STATUS; to++)
            assert_false(tb_order_status_can_move(terminal[i], (tb_order_status)to));
    }
}

static void test_order_status_out_of_range_transitions_refused(void **state)
{
    (void)state;
    assert_false(tb_order_status_can_move((tb_order_status)-1, TB_ORDER_NEW));
    assert_false(tb_order_status_can_move(TB_ORDER_NEW, (tb_order_status)7));
    assert_false(tb_order_status_can_move(TB_ORDER_PENDING, (tb_order_status)-1));
    assert_false(tb_order_status_can_move((tb_order_status)1000, (tb_order_status)1000));
}

static void test_order_status_is_terminal_exactly_for_final_states(void **state)
{
    (void)state;
    assert_false(tb_order_status_is_terminal(TB_ORDER_PENDING));
    assert_false(tb_order_status_is_terminal(TB_ORDER_NEW));
    assert_false(tb_order_status_is_terminal(TB_ORDER_PARTIALLY_FILLED));
    assert_true(tb_order_status_is_terminal(TB_ORDER_FILLED));
    assert_true(tb_order_status_is_terminal(TB_ORDER_CANCELED));
    assert_true(tb_order_status_is_terminal(TB_ORDER_REJECTED));
    assert_true(tb_order_status_is_terminal(TB_ORDER_EXPIRED));
    assert_false(tb_order_status_is_terminal((tb_order_status)7));
}

/* ---- tb_str_copy ------------------------------------------------------- */

static void test_str_copy_copies_string_that_fits(void **state)
{
    (void)state;
    char dst[8];
    memset(dst, 'x', sizeof dst);
    assert_int_equal(tb_str_copy(dst, sizeof dst, "BTCUSDT"), TB_OK);
    assert_string_equal(dst, "BTCUSDT");
    assert_int_equal(tb_str_copy(dst, sizeof dst, ""), TB_OK);
    assert_string_equal(dst, "");
}

static void test_str_copy_refuses_too_long_leaving_dst_untouched(void **state)
{
    (void)state;
    char dst[8] = "keep";
    assert_int_equal(tb_str_copy(dst, sizeof dst, "BTCUSDTX"), TB_ERANGE);
    assert_string_equal(dst, "keep");
    assert_int_equal(tb_str_copy(dst, 0, ""), TB_ERANGE);
    assert_string_equal(dst, "keep");
}

static void test_str_copy_rejects_null_arguments(void **state)
{
    (void)state;
    char dst[4] = "abc";
    assert_int_equal(tb_str_copy(NULL, 4, "a"), TB_EINVAL);
    assert_int_equal(tb_str_copy(dst, sizeof dst, NULL), TB_EINVAL);
    assert_string_equal(dst, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_type_wire_names_round_trip),
        cmocka_unit_test(test_signal_type_wire_names_round_trip),
        cmocka_unit_test(test_side_wire_names_round_trip),
        cmocka_unit_test(test_order_type_wire_names_round_trip),
        cmocka_unit_test(test_order_status_wire_names_round_trip),
        cmocka_unit_test(test_position_status_wire_names_round_trip),
        cmocka_unit_test(test_trading_state_wire_names_round_trip),
        cmocka_unit_test(test_reject_reason_wire_names_round_trip),
        cmocka_unit_test(test_source_wire_names_round_trip),
        cmocka_unit_test(test_enum_name_of_unknown_value_is_question_mark),
        cmocka_unit_test(test_enum_parse_rejects_unknown_names),
        cmocka_unit_test(test_enum_parse_rejects_null_arguments),
        cmocka_unit_test(test_enum_parse_leaves_output_untouched_on_failure),
        cmocka_unit_test(test_event_init_zeroes_and_sets_envelope),
        cmocka_unit_test(test_event_caused_by_links_parent_and_inherits_correlation),
        cmocka_unit_test(test_event_caused_by_uncorrelated_parent_starts_the_chain),
        cmocka_unit_test(test_order_status_legal_transitions_allowed),
        cmocka_unit_test(test_order_status_illegal_transitions_refused),
        cmocka_unit_test(test_order_status_terminal_states_move_nowhere),
        cmocka_unit_test(test_order_status_out_of_range_transitions_refused),
        cmocka_unit_test(test_order_status_is_terminal_exactly_for_final_states),
        cmocka_unit_test(test_str_copy_copies_string_that_fits),
        cmocka_unit_test(test_str_copy_refuses_too_long_leaving_dst_untouched),
        cmocka_unit_test(test_str_copy_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
