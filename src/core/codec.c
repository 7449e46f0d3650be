#include "tradebus/codec.h"

#include "codec_paths.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
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

typedef enum {
    K_STR,  /* char array, JSON string */
    K_DEC,  /* tb_decimal, JSON string */
    K_TIME, /* int64 ns, JSON integer */
    K_ID,   /* uint64, JSON string of its decimal digits */
    K_SIGNAL_TYPE,
    K_SIDE,
    K_ORDER_TYPE,
    K_ORDER_STATUS,
    K_POSITION_STATUS,
    K_TRADING_STATE,
    K_REJECT_REASON
} field_kind;

typedef enum { C_ANY, C_POSITIVE, C_NONNEG } field_check;

/* One payload member. The encoder and the decoder share these tables, so the
 * wire names are the member names by construction (#m) and cannot drift. */
typedef struct {
    const char *name;
    unsigned char name_len;
    unsigned char kind;  /* field_kind */
    unsigned char check; /* field_check, for K_DEC and K_TIME */
    unsigned short offset;
    unsigned short size; /* array size, for K_STR */
    unsigned allowed;    /* enums: accepted values as a bit mask; 0 = any known */
} field_desc;

/* clang-format off */
#define FIELD(T, m, kind, check, allowed) \
    {#m, sizeof(#m) - 1, kind, check, offsetof(T, m), sizeof(((T *)0)->m), allowed}
/* clang-format on */
#define STR(T, m)        FIELD(T, m, K_STR, C_ANY, 0)
#define DEC(T, m, check) FIELD(T, m, K_DEC, check, 0)
#define ENUM(T, m, kind) FIELD(T, m, kind, C_ANY, 0)
#define BIT(v)           (1u << (v))

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
};

static const field_desc order_request_fields[] = {
    ENUM(tb_order_placement_request, order_type, K_ORDER_TYPE),
    ENUM(tb_order_placement_request, side, K_SIDE),
    STR(tb_order_placement_request, symbol),
    DEC(tb_order_placement_request, quantity, C_POSITIVE),
    DEC(tb_order_placement_request, price, C_NONNEG),
    STR(tb_order_placement_request, strategy_id),
    STR(tb_order_placement_request, client_order_id),
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

typedef struct {
    const field_desc *fields;
    size_t count;
} payload_desc;

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

static const payload_desc *payload_of(tb_event_type type)
{
    if ((int)type <= TB_EV_NONE || (int)type >= TB_EV_COUNT) return NULL;
    return payloads[type].fields != NULL ? &payloads[type] : NULL;
}

static const char *enum_name(field_kind kind, int v)
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
    default:
        return "?";
    }
}

static int enum_parse(field_kind kind, const char *s, int *v)
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
    default:
        return TB_EPARSE;
    }
#undef PARSE_AS
}

static const char *enum_noun(field_kind kind)
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
    default:
        return "value";
    }
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

static void put_u64(writer *w, uint64_t v)
{
    char tmp[20];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(w, p, (size_t)(tmp + sizeof tmp - p));
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
    char tmp[TB_DECIMAL_STRLEN];
    int n = tb_dec_format(d, tmp, sizeof tmp);
    put_char(w, '"');
    put(w, tmp, (size_t)n);
    put_char(w, '"');
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0. jansson refuses anything else,
 * so emitting it would write a line no decoder can read back. */
static size_t utf8_len(const unsigned char *s, size_t avail)
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
            size_t n = utf8_len(u + i, len - i);
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
        const char *name = enum_name((field_kind)f->kind, read_enum(base, f));
        if (name[0] == '?') w->bad = 1;
        put_char(w, '"');
        put(w, name, strlen(name));
        put_char(w, '"');
        break;
    }
    }
}

#define PUT_LITERAL(w, lit) put((w), (lit), sizeof(lit) - 1)

int tb_codec_encode(const tb_event *ev, char *buf, size_t buflen)
{
    if (ev == NULL || buf == NULL) return TB_EINVAL;
    if (buflen == 0) return TB_EFULL;
    const payload_desc *pd = payload_of(ev->type);
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
        if (i > 0) put_char(&w, ',');
        put_char(&w, '"');
        put(&w, f->name, f->name_len);
        PUT_LITERAL(&w, "\":");
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

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
} errbuf;

/* Reports "<prefix><field>: <message>" and returns TB_EPARSE. The message
 * quotes untrusted input (keys, enum names, jansson's "near '...'"), so it
 * is reduced to printable ASCII: nothing hostile reaches a log or terminal. */
__attribute__((format(printf, 4, 5))) static int fail(const errbuf *e, const char *prefix,
                                                      const char *field, const char *fmt, ...)
{
    if (e->buf == NULL || e->len == 0) return TB_EPARSE;
    int n = snprintf(e->buf, e->len, "%s%s: ", prefix, field);
    if (n > 0 && (size_t)n < e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    for (char *p = e->buf; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f) *p = '?';
    }
    return TB_EPARSE;
}

/* A bounded excerpt of untrusted text for quoting in a message. */
enum { EXCERPT_MAX = 40 };
typedef struct {
    char text[EXCERPT_MAX + sizeof "..."];
} excerpt;

static excerpt excerpt_of(const char *s, size_t len)
{
    excerpt x;
    size_t n = len < EXCERPT_MAX ? len : EXCERPT_MAX;
    memcpy(x.text, s, n);
    memcpy(x.text + n, len > n ? "..." : "", len > n ? sizeof "..." : 1);
    return x;
}

/* A JSON value as the checks see it, whatever parser read it, so the checks
 * exist once. Strings hold no NUL (jansson refuses "\u0000" without
 * JSON_ALLOW_NUL), so len is their C length; s need not be NUL-terminated. */
typedef enum { V_MISSING = 0, V_STRING, V_INTEGER, V_OBJECT, V_OTHER } value_kind;

typedef struct {
    value_kind kind;
    size_t len;      /* V_STRING */
    const char *s;   /* V_STRING: len bytes */
    int64_t i;       /* V_INTEGER */
    const void *obj; /* V_OBJECT: the parser's own object, for its members_fn */
} value;

/* A parser's view of a payload object: sets fields[i] to the member named
 * pd->fields[i].name (fields[] arrives all V_MISSING). Fails on a member pd
 * does not name, the first in the object's order. */
typedef int (*members_fn)(const void *obj, const payload_desc *pd, value *fields, const errbuf *e);

/* Room for the largest payload's fields. */
enum { MAX_FIELDS = 12 };
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

/* The envelope's members, in the order they are checked (and encoded). */
enum {
    E_TYPE,
    E_VERSION,
    E_EVENT_ID,
    E_CAUSATION_ID,
    E_CORRELATION_ID,
    E_TIMESTAMP,
    E_SOURCE,
    E_PAYLOAD,
    E_COUNT
};

/* clang-format off */
#define KEY(s) {s, sizeof(s) - 1}
/* clang-format on */
static const struct {
    const char *name;
    size_t len;
} envelope_keys[E_COUNT] = {
    KEY("type"),           KEY("version"),   KEY("event_id"), KEY("causation_id"),
    KEY("correlation_id"), KEY("timestamp"), KEY("source"),   KEY("payload"),
};

/* The name parsers take C strings. Longer than every wire name: a value
 * that does not fit is unknown without looking. */
enum { NAME_CAP = 32 };

static int name_of(const value *v, char name[NAME_CAP])
{
    if (v->len >= NAME_CAP) return TB_EPARSE;
    memcpy(name, v->s, v->len);
    name[v->len] = '\0';
    return TB_OK;
}

/* Canonical unsigned decimal: no sign, no leading zero, at most UINT64_MAX. */
static int parse_id(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20 || (s[0] == '0' && len > 1)) return TB_EPARSE;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return TB_EPARSE;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return TB_EPARSE;
        v = v * 10 + d;
    }
    *out = v;
    return TB_OK;
}

static int decode_id(const value *v, const errbuf *e, const char *prefix, const char *name,
                     uint64_t *out)
{
    if (v->kind != V_STRING || parse_id(v->s, v->len, out) != TB_OK)
        return fail(e, prefix, name, "not an id string");
    return TB_OK;
}

static int check_sign(int64_t v, field_check check, const errbuf *e, const char *prefix,
                      const char *name)
{
    if (check == C_POSITIVE && v <= 0) return fail(e, prefix, name, "must be > 0");
    if (check == C_NONNEG && v < 0) return fail(e, prefix, name, "must be >= 0");
    return TB_OK;
}

static int decode_time(const value *v, field_check check, const errbuf *e, const char *prefix,
                       const char *name, int64_t *out)
{
    if (v->kind != V_INTEGER) return fail(e, prefix, name, "not an integer");
    int rc = check_sign(v->i, check, e, prefix, name);
    if (rc == TB_OK) *out = v->i;
    return rc;
}

static int decode_field(const field_desc *f, const value *v, tb_event *out, const errbuf *e)
{
    static const char prefix[] = "payload.";
    char *p = (char *)&out->u + f->offset;
    field_kind kind = (field_kind)f->kind;
    int rc;
    switch (kind) {
    case K_STR: {
        if (v->kind != V_STRING) return fail(e, prefix, f->name, "not a string");
        if (v->len >= f->size)
            return fail(e, prefix, f->name, "longer than %u bytes", f->size - 1u);
        memcpy(p, v->s, v->len);
        p[v->len] = '\0';
        return TB_OK;
    }
    case K_DEC: {
        if (v->kind != V_STRING) return fail(e, prefix, f->name, "not a decimal string");
        tb_decimal d;
        rc = tb_dec_parse(v->s, v->len, &d);
        if (rc == TB_EOVERFLOW) return fail(e, prefix, f->name, "decimal out of range");
        if (rc == TB_ERANGE)
            return fail(e, prefix, f->name, "more than %d decimal places", TB_DECIMAL_SCALE);
        if (rc != TB_OK) return fail(e, prefix, f->name, "not a decimal string");
        if ((rc = check_sign(d, (field_check)f->check, e, prefix, f->name)) != TB_OK) return rc;
        memcpy(p, &d, sizeof d);
        return TB_OK;
    }
    case K_TIME: {
        int64_t t = 0;
        if ((rc = decode_time(v, (field_check)f->check, e, prefix, f->name, &t)) != TB_OK)
            return rc;
        memcpy(p, &t, sizeof t);
        return TB_OK;
    }
    case K_ID: {
        uint64_t id = 0;
        if ((rc = decode_id(v, e, prefix, f->name, &id)) != TB_OK) return rc;
        memcpy(p, &id, sizeof id);
        return TB_OK;
    }
    default: {
        if (v->kind != V_STRING) return fail(e, prefix, f->name, "not a string");
        char name[NAME_CAP];
        int x;
        if (name_of(v, name) != TB_OK || enum_parse(kind, name, &x) != TB_OK)
            return fail(e, prefix, f->name, "unknown %s \"%s\"", enum_noun(kind),
                        excerpt_of(v->s, v->len).text);
        if (f->allowed != 0 && (x < 0 || x >= 32 || (f->allowed & BIT(x)) == 0))
            return fail(e, prefix, f->name, "%s not allowed in %s", enum_name(kind, x),
                        tb_event_type_name(out->type));
        memcpy(p, &x, sizeof x);
        return TB_OK;
    }
    }
}

/* Relations between fields that no single field check can see. */
static int check_payload(const tb_event *ev, const errbuf *e)
{
    switch (ev->type) {
    case TB_EV_MARKET_DATA: {
        const tb_market_data *md = &ev->u.market_data;
        if (md->high < md->low) return fail(e, "payload.", "high", "less than low");
        if (md->close_time < md->open_time)
            return fail(e, "payload.", "close_time", "before open_time");
        return TB_OK;
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        if (f->cumulative_quantity < f->filled_quantity)
            return fail(e, "payload.", "cumulative_quantity", "less than filled_quantity");
        return TB_OK;
    }
    default:
        return TB_OK;
    }
}

static int decode_payload(const value *obj, members_fn members, const payload_desc *pd,
                          tb_event *out, const errbuf *e)
{
    if (obj->kind != V_OBJECT) return fail(e, "", "payload", "not an object");
    value fields[MAX_FIELDS];
    memset(fields, 0, sizeof fields);
    int rc = members(obj->obj, pd, fields, e);
    if (rc != TB_OK) return rc;
    for (size_t i = 0; i < pd->count; i++) {
        const field_desc *f = &pd->fields[i];
        if (fields[i].kind == V_MISSING) return fail(e, "payload.", f->name, "missing");
        if ((rc = decode_field(f, &fields[i], out, e)) != TB_OK) return rc;
    }
    return check_payload(out, e);
}

/* The member k of the envelope, or NULL after reporting "<key>: missing". */
static const value *require(const value *env, int k, const errbuf *e)
{
    if (env[k].kind != V_MISSING) return &env[k];
    fail(e, "", envelope_keys[k].name, "missing");
    return NULL;
}

static int require_id(const value *env, int k, const errbuf *e, uint64_t *out)
{
    const value *v = require(env, k, e);
    return v == NULL ? TB_EPARSE : decode_id(v, e, "", envelope_keys[k].name, out);
}

/* A present string member k, or NULL after reporting why not. */
static const value *require_string(const value *env, int k, const errbuf *e)
{
    const value *v = require(env, k, e);
    if (v != NULL && v->kind != V_STRING) {
        fail(e, "", envelope_keys[k].name, "not a string");
        return NULL;
    }
    return v;
}

/* Every check of an event, in the order the first offence is reported. */
static int decode_envelope(const value *env, members_fn members, tb_event *out, const errbuf *e)
{
    char name[NAME_CAP];
    const value *v;
    if ((v = require_string(env, E_TYPE, e)) == NULL) return TB_EPARSE;
    if (name_of(v, name) != TB_OK || tb_event_type_parse(name, &out->type) != TB_OK)
        return fail(e, "", "type", "unknown event type \"%s\"", excerpt_of(v->s, v->len).text);

    if ((v = require(env, E_VERSION, e)) == NULL) return TB_EPARSE;
    if (v->kind != V_INTEGER) return fail(e, "", "version", "not an integer");
    if (v->i != TB_EVENT_VERSION)
        return fail(e, "", "version", "unsupported version %" PRId64, v->i);
    out->version = TB_EVENT_VERSION;

    int rc;
    if ((rc = require_id(env, E_EVENT_ID, e, &out->event_id)) != TB_OK ||
        (rc = require_id(env, E_CAUSATION_ID, e, &out->causation_id)) != TB_OK ||
        (rc = require_id(env, E_CORRELATION_ID, e, &out->correlation_id)) != TB_OK)
        return rc;
    if (out->event_id == 0) return fail(e, "", "event_id", "must be non-zero");

    if ((v = require(env, E_TIMESTAMP, e)) == NULL) return TB_EPARSE;
    if ((rc = decode_time(v, C_NONNEG, e, "", "timestamp", &out->timestamp)) != TB_OK) return rc;

    if ((v = require_string(env, E_SOURCE, e)) == NULL) return TB_EPARSE;
    if (name_of(v, name) != TB_OK || tb_source_parse(name, &out->source) != TB_OK)
        return fail(e, "", "source", "unknown source \"%s\"", excerpt_of(v->s, v->len).text);

    if ((v = require(env, E_PAYLOAD, e)) == NULL) return TB_EPARSE;
    return decode_payload(v, members, payload_of(out->type), out, e);
}

/* ---- decoding with jansson --------------------------------------------- */

static value view_of(const json_t *j)
{
    value v = {V_OTHER, 0, NULL, 0, NULL};
    if (json_is_string(j)) {
        v.kind = V_STRING;
        v.s = json_string_value(j);
        v.len = json_string_length(j);
    } else if (json_is_integer(j)) {
        v.kind = V_INTEGER;
        v.i = json_integer_value(j);
    } else if (json_is_object(j)) {
        v.kind = V_OBJECT;
        v.obj = j;
    }
    return v;
}

/* jansson keys are C strings: it refuses a NUL in a key. */
static excerpt key_excerpt(const char *key)
{
    return excerpt_of(key, bounded_len(key, EXCERPT_MAX + 1));
}

static int jansson_members(const void *obj, const payload_desc *pd, value *fields, const errbuf *e)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (i < pd->count && strcmp(pd->fields[i].name, key) != 0)
            i++;
        if (i == pd->count) return fail(e, "payload.", key_excerpt(key).text, "unknown field");
        fields[i] = view_of(v);
    }
    return TB_OK;
}

static int jansson_envelope(const json_t *root, tb_event *out, const errbuf *e)
{
    if (!json_is_object(root)) return fail(e, "", "json", "not an object");
    value env[E_COUNT];
    memset(env, 0, sizeof env);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        size_t k = 0;
        while (k < E_COUNT && strcmp(envelope_keys[k].name, key) != 0)
            k++;
        if (k == E_COUNT) return fail(e, "", key_excerpt(key).text, "unknown field");
        env[k] = view_of(v);
    }
    return decode_envelope(env, jansson_members, out, e);
}

int tb__codec_decode_strict(const char *json, size_t len, tb_event *out, char *err, size_t errlen)
{
    errbuf e = {err, errlen};
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (json == NULL || out == NULL) return TB_EINVAL;
    memset(out, 0, sizeof *out);

    json_error_t jerr;
    /* Without JSON_ALLOW_NUL jansson refuses "\u0000", so every decoded
     * string is free of NULs and fits a C string of its own length. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        int rc = fail(&e, "", "json", "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        /* Running out of memory says nothing about the input. */
        return json_error_code(&jerr) == json_error_out_of_memory ? TB_ENOMEM : rc;
    }
    int rc = jansson_envelope(root, out, &e);
    json_decref(root);
    return rc;
}

/* ---- decoding without allocating --------------------------------------- */

/* Every event a consumer receives is parsed here first, in one pass over the
 * input and without a heap allocation. It reads only the JSON events are
 * written in: one object of strings, non-negative integers and, under
 * "payload", one object of strings and integers. It accepts only what it is
 * sure jansson reads the same way: anything else, and every error (of syntax
 * or of the checks), makes it give up, and the strict path decodes the input
 * again. Errors thus keep jansson's text and precedence (syntax before the
 * checks), and the fast path cannot accept what the strict path refuses:
 * whatever it accepts is valid JSON that jansson parses to the very values
 * it hands to the very same checks. */

/* A payload member, kept until the type says which fields the payload has
 * (the type may come after it). */
typedef struct {
    const char *key;
    size_t key_len;
    value v;
} member;

typedef struct {
    member m[MAX_FIELDS]; /* more members than any payload has fields: give up */
    size_t count;
} member_list;

/* The whitespace JSON (and jansson) allows between tokens. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int is_plain(char c)
{
    return (unsigned char)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

/* The first byte at p that is not plain in a string (printable ASCII other
 * than '"' and '\\'), 8 bytes at a time: strings are mostly plain. The tests
 * are the classic "has a byte less than n" ((x - n*ones) & ~x & highs, exact
 * for n <= 128) and "has a zero byte" (n = 1). A borrow can only flag bytes
 * after a byte truly flagged, which little-endian loads put higher in the
 * word: the lowest flag is exact. */
static const char *skip_plain(const char *p, const char *end)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        uint64_t control = (w - ones * 0x20) & ~w;
        uint64_t has_quote = (quote - ones) & ~quote;
        uint64_t has_backslash = (backslash - ones) & ~backslash;
        uint64_t flags = (control | has_quote | has_backslash | w) & highs; /* w: >= 0x80 */
        if (flags != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + __builtin_ctzll(flags) / 8;
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && is_plain(*p))
        p++;
    return p;
}

/* After an opening quote: the string, if it holds only printable ASCII and
 * well-formed UTF-8 (utf8_len refuses what jansson refuses), so its bytes
 * are its value. An escape or a control byte gives up: jansson decodes or
 * refuses those. Returns the position past the closing quote, or NULL. */
static const char *scan_string(const char *p, const char *end, value *v)
{
    const char *start = p;
    for (;;) {
        p = skip_plain(p, end);
        if (p == end) return NULL;
        if (*p == '"') break;
        size_t n = utf8_len((const unsigned char *)p, (size_t)(end - p));
        if (n == 0) return NULL; /* a backslash, a control byte or bad UTF-8 */
        p += n;
    }
    v->kind = V_STRING;
    v->s = start;
    v->len = (size_t)(p - start);
    return p + 1;
}

/* At a digit: the integer jansson reads there, if it has no leading zero
 * and fits int64 (jansson refuses both). Whatever follows is the caller's:
 * only whitespace, ',' or '}' may, which leaves out reals ('.', 'e', 'E'). */
static const char *scan_integer(const char *p, const char *end, value *v)
{
    const char *start = p;
    uint64_t n = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > ((uint64_t)INT64_MAX - d) / 10) return NULL;
        n = n * 10 + d;
    }
    if (*start == '0' && p - start > 1) return NULL;
    v->kind = V_INTEGER;
    v->i = (int64_t)n;
    return p;
}

/* A string or a non-negative integer; anything else ('-', true, false,
 * null, arrays, objects) is for jansson. */
static const char *scan_scalar(const char *p, const char *end, value *v)
{
    if (*p == '"') return scan_string(p + 1, end, v);
    if (*p >= '0' && *p <= '9') return scan_integer(p, end, v);
    return NULL;
}

/* At a member: its key, then the position of its value. */
static const char *scan_key(const char *p, const char *end, value *key)
{
    if (p == end || *p != '"' || (p = scan_string(p + 1, end, key)) == NULL) return NULL;
    p = skip_ws(p, end);
    if (p == end || *p != ':') return NULL;
    p = skip_ws(p + 1, end);
    return p < end ? p : NULL;
}

/* After a member's value: the next member past a ',', or (*closed set) the
 * position past the object's '}'. */
static const char *scan_next(const char *p, const char *end, int *closed)
{
    p = skip_ws(p, end);
    if (p == end || (*p != ',' && *p != '}')) return NULL;
    *closed = *p == '}';
    return *closed ? p + 1 : skip_ws(p + 1, end);
}

/* After the payload's '{': its members, up to and past its '}'. An empty
 * payload lacks every field: given up like any error. */
static const char *scan_payload(const char *p, const char *end, member_list *list)
{
    list->count = 0;
    p = skip_ws(p, end);
    for (int closed = 0; !closed;) {
        if (list->count == MAX_FIELDS) return NULL;
        member *m = &list->m[list->count++];
        value key;
        if ((p = scan_key(p, end, &key)) == NULL || (p = scan_scalar(p, end, &m->v)) == NULL ||
            (p = scan_next(p, end, &closed)) == NULL)
            return NULL;
        m->key = key.s;
        m->key_len = key.len;
    }
    return p;
}

static int envelope_index(const value *key)
{
    for (int k = 0; k < E_COUNT; k++) {
        if (envelope_keys[k].len == key->len &&
            memcmp(envelope_keys[k].name, key->s, key->len) == 0)
            return k;
    }
    return -1;
}

/* The whole input: the envelope's members into env[] (all V_MISSING on
 * entry), the payload's into *payload. */
static int scan_event(const char *p, const char *end, value *env, member_list *payload)
{
    p = skip_ws(p, end);
    if (p == end || *p != '{') return TB_EPARSE;
    p = skip_ws(p + 1, end);
    for (int closed = 0; !closed;) {
        value key;
        if ((p = scan_key(p, end, &key)) == NULL) return TB_EPARSE;
        int k = envelope_index(&key);
        /* An unknown key is an error; a repeated one, jansson's error. */
        if (k < 0 || env[k].kind != V_MISSING) return TB_EPARSE;
        if (k == E_PAYLOAD && *p == '{') {
            p = scan_payload(p + 1, end, payload);
            env[k].kind = V_OBJECT;
            env[k].obj = payload;
        } else {
            p = scan_scalar(p, end, &env[k]);
        }
        if (p == NULL || (p = scan_next(p, end, &closed)) == NULL) return TB_EPARSE;
    }
    return skip_ws(p, end) == end ? TB_OK : TB_EPARSE;
}

/* Gives up, saying nothing, on an unknown member (an error) and on a
 * repeated one (jansson's error): the strict path says which. */
static int fast_members(const void *obj, const payload_desc *pd, value *fields, const errbuf *e)
{
    (void)e;
    const member_list *list = obj;
    size_t i = 0; /* members mostly come in the encoder's order: look there first */
    for (size_t m = 0; m < list->count; m++) {
        const member *mb = &list->m[m];
        size_t tried = 0;
        while (pd->fields[i].name_len != mb->key_len ||
               memcmp(pd->fields[i].name, mb->key, mb->key_len) != 0) {
            if (++tried == pd->count) return TB_EPARSE;
            if (++i == pd->count) i = 0;
        }
        if (fields[i].kind != V_MISSING) return TB_EPARSE;
        fields[i] = mb->v;
        if (++i == pd->count) i = 0;
    }
    return TB_OK;
}

int tb__codec_decode_fast(const char *json, size_t len, tb_event *out)
{
    static const errbuf quiet = {NULL, 0}; /* the strict path reports */
    if (json == NULL || out == NULL) return TB_EINVAL;
    memset(out, 0, sizeof *out);
    value env[E_COUNT];
    memset(env, 0, sizeof env);
    member_list payload;
    if (scan_event(json, json + len, env, &payload) != TB_OK) return TB_EPARSE;
    return decode_envelope(env, fast_members, out, &quiet);
}

int tb_codec_decode(const char *json, size_t len, tb_event *out, char *err, size_t errlen)
{
    if (json != NULL && out != NULL && tb__codec_decode_fast(json, len, out) == TB_OK) {
        if (err != NULL && errlen > 0) err[0] = '\0';
        return TB_OK;
    }
    return tb__codec_decode_strict(json, len, out, err, errlen);
}
