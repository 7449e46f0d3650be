/* The JSON wire codec (tradebus/codec.h): the field tables the encoder and
 * the decoder share, and encoding. Decoding is in codec_decode.c (the checks,
 * jansson's path) and codec_fast.c (the allocation-free path). */
#include "tradebus/codec.h"

#include "codec_int.h"
#include "decimal_int.h"

#include <stdio.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Enum members are read and written through int (see read_enum), which is
 * only sound while every enum is int-sized. */
_Static_assert(sizeof(tb_signal_type) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_side) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_order_type) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_order_status) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_position_status) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_trading_state) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_reject_reason) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_time_in_force) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_order_origin) == sizeof(int), "enum size");
_Static_assert(sizeof(tb_cancel_cause) == sizeof(int), "enum size");

/* clang-format off */
#define FIELD(T, m, kind, check, allowed) \
    {#m, sizeof(#m) - 1, kind, check, offsetof(T, m), sizeof(((T *)0)->m), allowed, 0, \
     "\"" #m "\":", sizeof(#m) + 2}
#define OPTIONAL(T, m, kind, check) \
    {#m, sizeof(#m) - 1, kind, check, offsetof(T, m), sizeof(((T *)0)->m), 0, 1, \
     "\"" #m "\":", sizeof(#m) + 2}
/* clang-format on */
#define STR(T, m)        FIELD(T, m, K_STR, C_ANY, 0)
#define DEC(T, m, check) FIELD(T, m, K_DEC, check, 0)
#define ENUM(T, m, kind) FIELD(T, m, kind, C_ANY, 0)

static const field_desc market_data_fields[] = {
    STR(tb_market_data, symbol),
    DEC(tb_market_data, open, C_POSITIVE),
    DEC(tb_market_data, high, C_POSITIVE),
    DEC(tb_market_data, low, C_POSITIVE),
    DEC(tb_market_data, close, C_POSITIVE),
    DEC(tb_market_data, volume, C_NONNEG),
    FIELD(tb_market_data, open_time, K_TIME, C_NONNEG, 0),
    FIELD(tb_market_data, close_time, K_TIME, C_NONNEG, 0),
};

static const field_desc signal_fields[] = {
    ENUM(tb_signal_generated, signal_type, K_SIGNAL_TYPE),
    STR(tb_signal_generated, symbol),
    DEC(tb_signal_generated, price, C_NONNEG),
    DEC(tb_signal_generated, volume, C_NONNEG),
    STR(tb_signal_generated, strategy_id),
    ENUM(tb_signal_generated, order_type, K_ORDER_TYPE),
    DEC(tb_signal_generated, limit_price, C_NONNEG),
    OPTIONAL(tb_signal_generated, target, K_DEC, C_ANY),
    OPTIONAL(tb_signal_generated, stop_loss, K_DEC, C_NONNEG),
    OPTIONAL(tb_signal_generated, take_profit, K_DEC, C_NONNEG),
    OPTIONAL(tb_signal_generated, cancel_order_id, K_STR, C_ANY),
};

static const field_desc order_request_fields[] = {
    ENUM(tb_order_placement_request, order_type, K_ORDER_TYPE),
    ENUM(tb_order_placement_request, side, K_SIDE),
    STR(tb_order_placement_request, symbol),
    DEC(tb_order_placement_request, quantity, C_POSITIVE),
    DEC(tb_order_placement_request, price, C_NONNEG),
    STR(tb_order_placement_request, strategy_id),
    STR(tb_order_placement_request, client_order_id),
    OPTIONAL(tb_order_placement_request, time_in_force, K_TIME_IN_FORCE, C_ANY),
    OPTIONAL(tb_order_placement_request, stop_price, K_DEC, C_NONNEG),
    OPTIONAL(tb_order_placement_request, origin, K_ORDER_ORIGIN, C_ANY),
    OPTIONAL(tb_order_placement_request, trailing_pct, K_DEC, C_NONNEG),
    OPTIONAL(tb_order_placement_request, oco_with, K_STR, C_ANY),
};

static const field_desc order_created_fields[] = {
    STR(tb_order_created, order_id),
    ENUM(tb_order_created, status, K_ORDER_STATUS),
    STR(tb_order_created, client_order_id),
    ENUM(tb_order_created, order_type, K_ORDER_TYPE),
    ENUM(tb_order_created, side, K_SIDE),
    STR(tb_order_created, symbol),
    DEC(tb_order_created, quantity, C_POSITIVE),
    DEC(tb_order_created, price, C_NONNEG),
    STR(tb_order_created, strategy_id),
    OPTIONAL(tb_order_created, time_in_force, K_TIME_IN_FORCE, C_ANY),
    OPTIONAL(tb_order_created, stop_price, K_DEC, C_NONNEG),
    OPTIONAL(tb_order_created, origin, K_ORDER_ORIGIN, C_ANY),
    OPTIONAL(tb_order_created, trailing_pct, K_DEC, C_NONNEG),
    OPTIONAL(tb_order_created, oco_with, K_STR, C_ANY),
};

static const field_desc order_filled_fields[] = {
    STR(tb_order_filled, order_id),
    STR(tb_order_filled, client_order_id),
    STR(tb_order_filled, strategy_id),
    STR(tb_order_filled, symbol),
    ENUM(tb_order_filled, side, K_SIDE),
    DEC(tb_order_filled, filled_quantity, C_POSITIVE),
    DEC(tb_order_filled, filled_price, C_POSITIVE),
    DEC(tb_order_filled, commission, C_NONNEG),
    DEC(tb_order_filled, cumulative_quantity, C_POSITIVE),
    DEC(tb_order_filled, average_price, C_POSITIVE),
    FIELD(tb_order_filled, status, K_ORDER_STATUS, C_ANY,
          BIT(TB_ORDER_PARTIALLY_FILLED) | BIT(TB_ORDER_FILLED)),
    FIELD(tb_order_filled, trade_id, K_ID, C_ANY, 0),
    OPTIONAL(tb_order_filled, origin, K_ORDER_ORIGIN, C_ANY),
};

/* No sign checks on quantity and price: a rejection may be reporting exactly
 * the zero or negative value that caused it. */
static const field_desc order_rejected_fields[] = {
    STR(tb_order_rejected, order_id),
    STR(tb_order_rejected, client_order_id),
    STR(tb_order_rejected, strategy_id),
    STR(tb_order_rejected, symbol),
    ENUM(tb_order_rejected, side, K_SIDE),
    ENUM(tb_order_rejected, order_type, K_ORDER_TYPE),
    DEC(tb_order_rejected, quantity, C_ANY),
    DEC(tb_order_rejected, price, C_ANY),
    ENUM(tb_order_rejected, reason, K_REJECT_REASON),
    STR(tb_order_rejected, text),
    OPTIONAL(tb_order_rejected, origin, K_ORDER_ORIGIN, C_ANY),
};

static const field_desc order_canceled_fields[] = {
    STR(tb_order_canceled, order_id),
    STR(tb_order_canceled, client_order_id),
    STR(tb_order_canceled, strategy_id),
    STR(tb_order_canceled, symbol),
    ENUM(tb_order_canceled, side, K_SIDE),
    DEC(tb_order_canceled, filled_quantity, C_NONNEG),
    DEC(tb_order_canceled, canceled_quantity, C_NONNEG),
    FIELD(tb_order_canceled, status, K_ORDER_STATUS, C_ANY,
          BIT(TB_ORDER_CANCELED) | BIT(TB_ORDER_EXPIRED)),
    STR(tb_order_canceled, text),
    OPTIONAL(tb_order_canceled, cause, K_CANCEL_CAUSE, C_ANY),
    OPTIONAL(tb_order_canceled, origin, K_ORDER_ORIGIN, C_ANY),
};

static const field_desc position_fields[] = {
    FIELD(tb_position_update, position_id, K_ID, C_ANY, 0),
    STR(tb_position_update, strategy_id),
    STR(tb_position_update, symbol),
    DEC(tb_position_update, current_quantity, C_ANY),
    DEC(tb_position_update, entry_price, C_NONNEG),
    DEC(tb_position_update, unrealized_pnl, C_ANY),
    DEC(tb_position_update, realized_pnl, C_ANY),
    DEC(tb_position_update, mark_price, C_NONNEG),
    ENUM(tb_position_update, status, K_POSITION_STATUS),
};

static const field_desc risk_alert_fields[] = {
    STR(tb_risk_alert, rule),
    STR(tb_risk_alert, detail),
    ENUM(tb_risk_alert, trading_state, K_TRADING_STATE),
    STR(tb_risk_alert, strategy_id),
    STR(tb_risk_alert, symbol),
};

#define PAYLOAD(type, table) [type] = {table, ARRAY_LEN(table)}

static const payload_desc payloads[TB_EV_COUNT] = {
    PAYLOAD(TB_EV_MARKET_DATA, market_data_fields),
    PAYLOAD(TB_EV_SIGNAL_GENERATED, signal_fields),
    PAYLOAD(TB_EV_ORDER_PLACEMENT_REQUEST, order_request_fields),
    PAYLOAD(TB_EV_ORDER_CREATED, order_created_fields),
    PAYLOAD(TB_EV_ORDER_FILLED, order_filled_fields),
    PAYLOAD(TB_EV_ORDER_REJECTED, order_rejected_fields),
    PAYLOAD(TB_EV_ORDER_CANCELED, order_canceled_fields),
    PAYLOAD(TB_EV_POSITION_UPDATE, position_fields),
    PAYLOAD(TB_EV_RISK_ALERT, risk_alert_fields),
};

const payload_desc *tb__codec_payload_of(tb_event_type type)
{
    if ((int)type <= TB_EV_NONE || (int)type >= TB_EV_COUNT) return NULL;
    return payloads[type].fields != NULL ? &payloads[type] : NULL;
}

const char *tb__codec_enum_name(field_kind kind, int v)
{
    switch (kind) {
    case K_SIGNAL_TYPE:
        return tb_signal_type_name((tb_signal_type)v);
    case K_SIDE:
        return tb_side_name((tb_side)v);
    case K_ORDER_TYPE:
        return tb_order_type_name((tb_order_type)v);
    case K_ORDER_STATUS:
        return tb_order_status_name((tb_order_status)v);
    case K_POSITION_STATUS:
        return tb_position_status_name((tb_position_status)v);
    case K_TRADING_STATE:
        return tb_trading_state_name((tb_trading_state)v);
    case K_REJECT_REASON:
        return tb_reject_reason_name((tb_reject_reason)v);
    case K_TIME_IN_FORCE:
        return tb_time_in_force_name((tb_time_in_force)v);
    case K_ORDER_ORIGIN:
        return tb_order_origin_name((tb_order_origin)v);
    case K_CANCEL_CAUSE:
        return tb_cancel_cause_name((tb_cancel_cause)v);
    default:
        return "?";
    }
}

int tb__codec_enum_parse(field_kind kind, const char *s, int *v)
{
    /* Each parser writes its own enum type; go through a local of that type. */
#define PARSE_AS(T, parse)                                                                         \
    {                                                                                              \
        T x;                                                                                       \
        int rc = parse(s, &x);                                                                     \
        if (rc == TB_OK) *v = (int)x;                                                              \
        return rc;                                                                                 \
    }
    switch (kind) {
    case K_SIGNAL_TYPE:
        PARSE_AS(tb_signal_type, tb_signal_type_parse)
    case K_SIDE:
        PARSE_AS(tb_side, tb_side_parse)
    case K_ORDER_TYPE:
        PARSE_AS(tb_order_type, tb_order_type_parse)
    case K_ORDER_STATUS:
        PARSE_AS(tb_order_status, tb_order_status_parse)
    case K_POSITION_STATUS:
        PARSE_AS(tb_position_status, tb_position_status_parse)
    case K_TRADING_STATE:
        PARSE_AS(tb_trading_state, tb_trading_state_parse)
    case K_REJECT_REASON:
        PARSE_AS(tb_reject_reason, tb_reject_reason_parse)
    case K_TIME_IN_FORCE:
        PARSE_AS(tb_time_in_force, tb_time_in_force_parse)
    case K_ORDER_ORIGIN:
        PARSE_AS(tb_order_origin, tb_order_origin_parse)
    case K_CANCEL_CAUSE:
        PARSE_AS(tb_cancel_cause, tb_cancel_cause_parse)
    default:
        return TB_EPARSE;
    }
#undef PARSE_AS
}

const char *tb__codec_enum_noun(field_kind kind)
{
    switch (kind) {
    case K_SIGNAL_TYPE:
        return "signal type";
    case K_SIDE:
        return "side";
    case K_ORDER_TYPE:
        return "order type";
    case K_ORDER_STATUS:
        return "order status";
    case K_POSITION_STATUS:
        return "position status";
    case K_TRADING_STATE:
        return "trading state";
    case K_REJECT_REASON:
        return "reject reason";
    case K_TIME_IN_FORCE:
        return "time in force";
    case K_ORDER_ORIGIN:
        return "order origin";
    case K_CANCEL_CAUSE:
        return "cancel cause";
    default:
        return "value";
    }
}

_Static_assert(ARRAY_LEN(market_data_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(signal_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(order_request_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(order_created_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(order_filled_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(order_rejected_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(order_canceled_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(position_fields) <= MAX_FIELDS &&
                   ARRAY_LEN(risk_alert_fields) <= MAX_FIELDS,
               "MAX_FIELDS");

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. jansson refuses anything else,
 * so emitting it would write a line no decoder can read back. */
size_t tb__codec_utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    }
    return n;
}

static size_t bounded_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0')
        n++;
    return n;
}

/* ---- encoding ---------------------------------------------------------- */

/* Appends into the caller's buffer. Errors are sticky flags checked once at
 * the end, which keeps every append branch-light. */
typedef struct {
    char *p;
    char *end; /* one byte before the buffer's end: room for the NUL */
    int full;
    int bad;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (n > (size_t)(w->end - w->p)) {
        w->full = 1;
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_char(writer *w, char c)
{
    if (w->p == w->end) {
        w->full = 1;
        return;
    }
    *w->p++ = c;
}

/* Digits written in place from their end, two at a time (ids and times are
 * most of an event's characters). */
static void put_u64(writer *w, uint64_t v)
{
    size_t n = (size_t)tb__digits10(v);
    if (n > (size_t)(w->end - w->p)) {
        w->full = 1;
        return;
    }
    w->p += n;
    tb__put_u64_back(w->p, v);
}

static void put_i64(writer *w, int64_t v)
{
    if (v < 0) {
        put_char(w, '-');
        put_u64(w, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(w, (uint64_t)v);
    }
}

static void put_quoted_u64(writer *w, uint64_t v)
{
    put_char(w, '"');
    put_u64(w, v);
    put_char(w, '"');
}

static void put_decimal(writer *w, tb_decimal d)
{
    if (w->end - w->p >= TB_DECIMAL_STRLEN + 2) { /* formatted in place */
        *w->p++ = '"';
        w->p += tb_dec_format(d, w->p, TB_DECIMAL_STRLEN);
        *w->p++ = '"';
        return;
    }
    char tmp[TB_DECIMAL_STRLEN];
    int n = tb_dec_format(d, tmp, sizeof tmp);
    put_char(w, '"');
    put(w, tmp, (size_t)n);
    put_char(w, '"');
}

static void put_string(writer *w, const char *s, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = bounded_len(s, cap);
    if (len == cap) {
        w->bad = 1; /* not NUL-terminated inside its array */
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes that need no escaping */
    size_t i = 0;
    put_char(w, '"');
    while (i < len) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = tb__codec_utf8_len(u + i, len - i);
            if (n == 0) {
                w->bad = 1;
                return;
            }
            i += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        put(w, s + run, i - run);
        if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            put(w, esc, sizeof esc);
        } else {
            char esc[2] = {'\\', (char)c};
            put(w, esc, sizeof esc);
        }
        run = ++i;
    }
    put(w, s + run, len - run);
    put_char(w, '"');
}

static int read_enum(const char *base, const field_desc *f)
{
    int v;
    memcpy(&v, base + f->offset, sizeof v);
    return v;
}

static void put_field(writer *w, const char *base, const field_desc *f)
{
    const char *p = base + f->offset;
    switch ((field_kind)f->kind) {
    case K_STR:
        put_string(w, p, f->size);
        break;
    case K_DEC: {
        tb_decimal d;
        memcpy(&d, p, sizeof d);
        put_decimal(w, d);
        break;
    }
    case K_TIME: {
        int64_t t = 0;
        memcpy(&t, p, sizeof t);
        put_i64(w, t);
        break;
    }
    case K_ID: {
        uint64_t id = 0;
        memcpy(&id, p, sizeof id);
        put_quoted_u64(w, id);
        break;
    }
    default: {
        const char *name = tb__codec_enum_name((field_kind)f->kind, read_enum(base, f));
        if (name[0] == '?') w->bad = 1;
        put_char(w, '"');
        put(w, name, strlen(name));
        put_char(w, '"');
        break;
    }
    }
}

static int is_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

#define PUT_LITERAL(w, lit) put((w), (lit), sizeof(lit) - 1)

int tb_codec_encode(const tb_event *ev, char *buf, size_t buflen)
{
    if (ev == NULL || buf == NULL) return TB_EINVAL;
    if (buflen == 0) return TB_EFULL;
    const payload_desc *pd = tb__codec_payload_of(ev->type);
    const char *source = tb_source_name(ev->source);
    if (pd == NULL || ev->version != TB_EVENT_VERSION || source[0] == '?') {
        buf[0] = '\0';
        return TB_EINVAL;
    }
    const char *type = tb_event_type_name(ev->type);
    writer w = {buf, buf + buflen - 1, 0, 0};

    PUT_LITERAL(&w, "{\"type\":\"");
    put(&w, type, strlen(type));
    PUT_LITERAL(&w, "\",\"version\":");
    put_u64(&w, ev->version);
    PUT_LITERAL(&w, ",\"event_id\":");
    put_quoted_u64(&w, ev->event_id);
    PUT_LITERAL(&w, ",\"causation_id\":");
    put_quoted_u64(&w, ev->causation_id);
    PUT_LITERAL(&w, ",\"correlation_id\":");
    put_quoted_u64(&w, ev->correlation_id);
    PUT_LITERAL(&w, ",\"timestamp\":");
    put_i64(&w, ev->timestamp);
    PUT_LITERAL(&w, ",\"source\":\"");
    put(&w, source, strlen(source));
    PUT_LITERAL(&w, "\",\"payload\":{");
    const char *base = (const char *)&ev->u;
    for (size_t i = 0; i < pd->count; i++) {
        const field_desc *f = &pd->fields[i];
        if (f->optional && is_zero(base + f->offset, f->size)) continue;
        /* ,"name": in one fixed-size copy (the key's array is that
         * long; the bytes past its text are overwritten next). */
        if (w.end - w.p >= (ptrdiff_t)sizeof(f->key) + 1) {
            w.p += i > 0;
            if (i > 0) w.p[-1] = ',';
            memcpy(w.p, f->key, sizeof(f->key));
            w.p += f->key_len;
        } else {
            if (i > 0) put_char(&w, ',');
            put(&w, f->key, f->key_len);
        }
        put_field(&w, base, f);
    }
    PUT_LITERAL(&w, "}}");

    if (w.bad || w.full) {
        buf[0] = '\0';
        return w.bad ? TB_EINVAL : TB_EFULL;
    }
    *w.p = '\0';
    return (int)(w.p - buf);
}
