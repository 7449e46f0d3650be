#include "tradebus/event.h"
#include "event_int.h"

#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Name tables are indexed by the enum value; a NULL slot is a gap in the
 * enum, so it has no name and parses to nothing. */
static const char *const event_type_names[TB_EV_COUNT] = {
#define TB__EV_NAME(e, v, n) [e] = n,
    TB_EVENT_TYPE_MAP(TB__EV_NAME)
#undef TB__EV_NAME
};

static const char *const signal_type_names[] = {
    [TB_SIGNAL_HOLD] = "HOLD",
    [TB_SIGNAL_BUY] = "BUY",
    [TB_SIGNAL_SELL] = "SELL",
    [TB_SIGNAL_CANCEL] = "CANCEL",
};

static const char *const side_names[] = {
    [TB_SIDE_BUY] = "BUY",
    [TB_SIDE_SELL] = "SELL",
};

static const char *const order_type_names[] = {
    [TB_ORDER_MARKET] = "MARKET",
    [TB_ORDER_LIMIT] = "LIMIT",
    [TB_ORDER_STOP_MARKET] = "STOP_MARKET",
};

static const char *const time_in_force_names[] = {
    [TB_TIF_GTC] = "GTC",
    [TB_TIF_IOC] = "IOC",
    [TB_TIF_FOK] = "FOK",
};

static const char *const order_origin_names[] = {
    [TB_ORIGIN_SIGNAL] = "signal",
    [TB_ORIGIN_STOP_LOSS] = "stop_loss",
    [TB_ORIGIN_TAKE_PROFIT] = "take_profit",
    [TB_ORIGIN_TRAILING_STOP] = "trailing_stop",
    [TB_ORIGIN_HALT] = "halt",
    [TB_ORIGIN_END] = "end",
};

static const char *const cancel_cause_names[] = {
    [TB_CANCEL_EXCHANGE] = "exchange", [TB_CANCEL_REPLACED] = "replaced",
    [TB_CANCEL_EXPIRED] = "expired",   [TB_CANCEL_OCO] = "oco",
    [TB_CANCEL_HALT] = "halt",         [TB_CANCEL_REQUESTED] = "requested",
};

static const char *const order_status_names[] = {
    [TB_ORDER_PENDING] = "PENDING",
    [TB_ORDER_NEW] = "NEW",
    [TB_ORDER_PARTIALLY_FILLED] = "PARTIALLY_FILLED",
    [TB_ORDER_FILLED] = "FILLED",
    [TB_ORDER_CANCELED] = "CANCELED",
    [TB_ORDER_REJECTED] = "REJECTED",
    [TB_ORDER_EXPIRED] = "EXPIRED",
};

static const char *const position_status_names[] = {
    [TB_POSITION_OPEN] = "OPEN",
    [TB_POSITION_CLOSED] = "CLOSED",
};

static const char *const trading_state_names[] = {
    [TB_TRADING_ACTIVE] = "ACTIVE",
    [TB_TRADING_REDUCING] = "REDUCING",
    [TB_TRADING_HALTED] = "HALTED",
};

static const char *const reject_reason_names[] = {
    [TB_REJECT_NONE] = "NONE",
    [TB_REJECT_RISK] = "RISK",
    [TB_REJECT_INSUFFICIENT_FUNDS] = "INSUFFICIENT_FUNDS",
    [TB_REJECT_INVALID_QUANTITY] = "INVALID_QUANTITY",
    [TB_REJECT_INVALID_PRICE] = "INVALID_PRICE",
    [TB_REJECT_UNKNOWN_SYMBOL] = "UNKNOWN_SYMBOL",
    [TB_REJECT_EXCHANGE] = "EXCHANGE",
    [TB_REJECT_DUPLICATE] = "DUPLICATE",
};

/* A value past TB_SRC_COUNT (rows out of value order) fails to compile here. */
static const char *const source_names[TB_SRC_COUNT] = {
#define SOURCE_NAME_S(id, value, name)                [TB_SRC_##id] = name,
#define SOURCE_NAME_C(id, value, name, slot, process) [TB_SRC_##id] = name,
#define NOT_A_SOURCE(...)
    TB_COMPONENT_MAP(SOURCE_NAME_S, SOURCE_NAME_C, NOT_A_SOURCE)
#undef SOURCE_NAME_S
#undef SOURCE_NAME_C
};

/* ---- the components' table (event_int.h) ---- */

enum {
#define COUNT_ONE(...) +1
    NSLOTS = 0 TB_COMPONENT_MAP(NOT_A_SOURCE, COUNT_ONE, COUNT_ONE),
    NCOMPONENTS = 0 TB_COMPONENT_MAP(NOT_A_SOURCE, COUNT_ONE, NOT_A_SOURCE)
#undef COUNT_ONE
};

/* Each slot in 1..NSLOTS and each process in 1..NCOMPONENTS. A slot given
 * twice is a duplicate initializer below, as is a component's process in
 * node.c (-Woverride-init: an error with -Werror), so slots are 1..NSLOTS
 * each once and the lists have no hole before their NULL. */
#define CHECK_C(id, value, name, slot, process)                                                    \
    _Static_assert((slot) >= 1 && (slot) <= NSLOTS, "slot of " name " not in 1..NSLOTS");          \
    _Static_assert((process) >= 1 && (process) <= NCOMPONENTS, "process of " name);
#define CHECK_H(id, name, slot, process)                                                           \
    _Static_assert((slot) >= 1 && (slot) <= NSLOTS, "slot of " name " not in 1..NSLOTS");          \
    _Static_assert((process) >= 1 && (process) <= NCOMPONENTS, "process of " name);
TB_COMPONENT_MAP(NOT_A_SOURCE, CHECK_C, CHECK_H)
#undef CHECK_C
#undef CHECK_H

static const char *const publishers[NSLOTS + 1] = {
#define PUBLISHER_C(id, value, name, slot, process) [(slot)-1] = name,
#define PUBLISHER_H(id, name, slot, process)        [(slot)-1] = name,
    TB_COMPONENT_MAP(NOT_A_SOURCE, PUBLISHER_C, PUBLISHER_H)
#undef PUBLISHER_C
#undef PUBLISHER_H
        [NSLOTS] = NULL,
};

/* process_of[slot - 1]: the process hosting that subscriber. */
static const int process_of[NSLOTS] = {
#define PROCESS_C(id, value, name, slot, process) [(slot)-1] = process,
#define PROCESS_H(id, name, slot, process)        [(slot)-1] = process,
    TB_COMPONENT_MAP(NOT_A_SOURCE, PROCESS_C, PROCESS_H)
#undef PROCESS_C
#undef PROCESS_H
};
#undef NOT_A_SOURCE

const char *const *tb__component_publishers(void)
{
    return publishers;
}

int tb__component_process_of(const char *name)
{
    for (int i = 0; name && publishers[i]; i++)
        if (strcmp(publishers[i], name) == 0) return process_of[i];
    return 0;
}

/* Enum values arrive as int because an out-of-range value cast into an enum
 * may still be passed by a careless caller; never index with it unchecked. */
static const char *name_of(const char *const *names, size_t count, int value)
{
    if (value < 0 || (size_t)value >= count || names[value] == NULL) return "?";
    return names[value];
}

static int parse_of(const char *const *names, size_t count, const char *s, int *value)
{
    if (s == NULL) return TB_EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], s) == 0) {
            *value = (int)i;
            return TB_OK;
        }
    }
    return TB_EPARSE;
}

void tb_event_init(tb_event *ev, tb_event_type type, tb_source source)
{
    if (ev == NULL) return;
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->version = TB_EVENT_VERSION;
    ev->source = source;
}

void tb_event_caused_by(tb_event *ev, const tb_event *parent)
{
    if (ev == NULL || parent == NULL) return;
    ev->causation_id = parent->event_id;
    /* A parent without a correlation id is the root of its own chain. */
    ev->correlation_id = parent->correlation_id != 0 ? parent->correlation_id : parent->event_id;
}

const char *tb_event_type_name(tb_event_type t)
{
    return name_of(event_type_names, ARRAY_LEN(event_type_names), (int)t);
}

int tb_event_type_parse(const char *s, tb_event_type *out)
{
    int v = 0;
    int rc =
        out == NULL ? TB_EINVAL : parse_of(event_type_names, ARRAY_LEN(event_type_names), s, &v);
    if (rc == TB_OK) *out = (tb_event_type)v;
    return rc;
}

const char *tb_signal_type_name(tb_signal_type t)
{
    return name_of(signal_type_names, ARRAY_LEN(signal_type_names), (int)t);
}

int tb_signal_type_parse(const char *s, tb_signal_type *out)
{
    int v = 0;
    int rc =
        out == NULL ? TB_EINVAL : parse_of(signal_type_names, ARRAY_LEN(signal_type_names), s, &v);
    if (rc == TB_OK) *out = (tb_signal_type)v;
    return rc;
}

const char *tb_side_name(tb_side s)
{
    return name_of(side_names, ARRAY_LEN(side_names), (int)s);
}

int tb_side_parse(const char *s, tb_side *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL : parse_of(side_names, ARRAY_LEN(side_names), s, &v);
    if (rc == TB_OK) *out = (tb_side)v;
    return rc;
}

const char *tb_order_type_name(tb_order_type t)
{
    return name_of(order_type_names, ARRAY_LEN(order_type_names), (int)t);
}

int tb_order_type_parse(const char *s, tb_order_type *out)
{
    int v = 0;
    int rc =
        out == NULL ? TB_EINVAL : parse_of(order_type_names, ARRAY_LEN(order_type_names), s, &v);
    if (rc == TB_OK) *out = (tb_order_type)v;
    return rc;
}

const char *tb_order_status_name(tb_order_status s)
{
    return name_of(order_status_names, ARRAY_LEN(order_status_names), (int)s);
}

int tb_order_status_parse(const char *s, tb_order_status *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL
                         : parse_of(order_status_names, ARRAY_LEN(order_status_names), s, &v);
    if (rc == TB_OK) *out = (tb_order_status)v;
    return rc;
}

const char *tb_position_status_name(tb_position_status s)
{
    return name_of(position_status_names, ARRAY_LEN(position_status_names), (int)s);
}

int tb_position_status_parse(const char *s, tb_position_status *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL
                         : parse_of(position_status_names, ARRAY_LEN(position_status_names), s, &v);
    if (rc == TB_OK) *out = (tb_position_status)v;
    return rc;
}

const char *tb_trading_state_name(tb_trading_state s)
{
    return name_of(trading_state_names, ARRAY_LEN(trading_state_names), (int)s);
}

int tb_trading_state_parse(const char *s, tb_trading_state *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL
                         : parse_of(trading_state_names, ARRAY_LEN(trading_state_names), s, &v);
    if (rc == TB_OK) *out = (tb_trading_state)v;
    return rc;
}

#define NAME_PARSE(T, fn, names)                                                                   \
    const char *tb_##fn##_name(T x)                                                                \
    {                                                                                              \
        return name_of(names, ARRAY_LEN(names), (int)x);                                           \
    }                                                                                              \
    int tb_##fn##_parse(const char *s, T *out)                                                     \
    {                                                                                              \
        int v = 0;                                                                                 \
        int rc = out == NULL ? TB_EINVAL : parse_of(names, ARRAY_LEN(names), s, &v);               \
        if (rc == TB_OK) *out = (T)v;                                                              \
        return rc;                                                                                 \
    }
NAME_PARSE(tb_time_in_force, time_in_force, time_in_force_names)
NAME_PARSE(tb_order_origin, order_origin, order_origin_names)
NAME_PARSE(tb_cancel_cause, cancel_cause, cancel_cause_names)
#undef NAME_PARSE

const char *tb_reject_reason_name(tb_reject_reason r)
{
    return name_of(reject_reason_names, ARRAY_LEN(reject_reason_names), (int)r);
}

int tb_reject_reason_parse(const char *s, tb_reject_reason *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL
                         : parse_of(reject_reason_names, ARRAY_LEN(reject_reason_names), s, &v);
    if (rc == TB_OK) *out = (tb_reject_reason)v;
    return rc;
}

const char *tb_source_name(tb_source s)
{
    return name_of(source_names, ARRAY_LEN(source_names), (int)s);
}

int tb_source_parse(const char *s, tb_source *out)
{
    int v = 0;
    int rc = out == NULL ? TB_EINVAL : parse_of(source_names, ARRAY_LEN(source_names), s, &v);
    if (rc == TB_OK) *out = (tb_source)v;
    return rc;
}

#define TB__STATUS_COUNT (TB_ORDER_EXPIRED + 1)

/* can_move[from][to]; terminal rows are all zero. */
static const unsigned char order_status_moves[TB__STATUS_COUNT][TB__STATUS_COUNT] = {
    [TB_ORDER_PENDING] = {[TB_ORDER_NEW] = 1, [TB_ORDER_REJECTED] = 1},
    [TB_ORDER_NEW] = {[TB_ORDER_PARTIALLY_FILLED] = 1,
                      [TB_ORDER_FILLED] = 1,
                      [TB_ORDER_CANCELED] = 1,
                      [TB_ORDER_EXPIRED] = 1},
    [TB_ORDER_PARTIALLY_FILLED] = {[TB_ORDER_PARTIALLY_FILLED] = 1,
                                   [TB_ORDER_FILLED] = 1,
                                   [TB_ORDER_CANCELED] = 1,
                                   [TB_ORDER_EXPIRED] = 1},
};

static int valid_status(tb_order_status s)
{
    return (int)s >= 0 && (int)s < TB__STATUS_COUNT;
}

int tb_order_status_can_move(tb_order_status a, tb_order_status b)
{
    if (!valid_status(a) || !valid_status(b)) return 0;
    return order_status_moves[a][b];
}

int tb_order_status_is_terminal(tb_order_status s)
{
    return s == TB_ORDER_FILLED || s == TB_ORDER_CANCELED || s == TB_ORDER_REJECTED ||
           s == TB_ORDER_EXPIRED;
}

int tb_str_copy(char *dst, size_t cap, const char *src)
{
    if (dst == NULL || src == NULL) return TB_EINVAL;
    /* strnlen is POSIX, not C11; src may be shorter than cap, so stop at its NUL. */
    size_t len = 0;
    while (len < cap && src[len] != '\0')
        len++;
    if (len == cap) return TB_ERANGE;
    memcpy(dst, src, len + 1);
    return TB_OK;
}
