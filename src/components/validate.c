/* Well-formed events: the checks shared by every component (see validate.h).
 *
 * The rules mirror the wire codec's field tables (codec.c) — what a decoder
 * would refuse, a component refuses too, so an event built in-process gets no
 * more trust than one read from the wire — and add the relations between
 * fields that no single-field rule can see. The failure paths are kept out of
 * line (cold) so the checks themselves stay a run of comparisons. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "validate.h"

typedef struct {
    char *why;
    size_t len;
    tb_event_type type; /* its wire name is the first word of every reason */
    int rc;             /* what a failed check returns */
} checker;

/* Looked up only when a reason is written. */
#define TYPE(c) tb_event_type_name((c)->type)

#define COLD __attribute__((cold, noinline))

/* Strings are written into zeroed arrays, so the last byte is nearly always
 * NUL: test it first and search only when it is not. */
static inline int terminated(const char *s, size_t cap)
{
    return s[cap - 1] == '\0' || memchr(s, '\0', cap) != NULL;
}

static inline int str_ok(const char *s, size_t cap)
{
    return s[0] != '\0' && terminated(s, cap);
}

int tb__str_ok(const char *s, size_t cap)
{
    return str_ok(s, cap);
}

int tb__refuse(tb_bus *bus, int rc, const char *why)
{
    tb_bus_fail_reason(bus, "%s", why);
    return rc;
}

COLD __attribute__((format(printf, 2, 3))) static int fail(const checker *c, const char *fmt, ...)
{
    if (c->why && c->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, c->len, fmt, ap);
        va_end(ap);
    }
    return c->rc;
}

/* The string itself is never quoted: it may be the unterminated one. */
COLD static int str_fault(const checker *c, const char *name, const char *s, size_t cap)
{
    if (!terminated(s, cap))
        return fail(c, "%s.%s is not NUL-terminated within %zu bytes", TYPE(c), name, cap);
    return fail(c, "%s.%s is empty", TYPE(c), name);
}

COLD static int dec_fault(const checker *c, const char *name, tb_decimal v, const char *what)
{
    if (v == INT64_MIN) return fail(c, "%s.%s is out of range", TYPE(c), name);
    char b[TB_DECIMAL_STRLEN];
    tb_dec_format(v, b, sizeof(b));
    return fail(c, "%s.%s %s %s", TYPE(c), name, b, what);
}

COLD static int time_fault(const checker *c, const char *name, int64_t t)
{
    return fail(c, "%s.%s %lld is negative", TYPE(c), name, (long long)t);
}

/* vname is the value's wire name, "?" when the value is not a known one. */
COLD static int enum_fault(const checker *c, const char *name, int v, const char *vname,
                           const char *expected)
{
    if (vname[0] != '?') return fail(c, "%s.%s %s is not %s", TYPE(c), name, vname, expected);
    return fail(c, "%s.%s %d is not %s", TYPE(c), name, v, expected);
}

/* "high 99 is below low 100": two decimals and how they disagree. */
COLD static int pair_fault(const checker *c, const char *name, tb_decimal v, const char *what,
                           const char *other, tb_decimal w)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN];
    tb_dec_format(v, a, sizeof(a));
    tb_dec_format(w, b, sizeof(b));
    return fail(c, "%s.%s %s %s %s %s", TYPE(c), name, a, what, other, b);
}

COLD static int band_fault(const checker *c, const char *name, tb_decimal v, tb_decimal lo,
                           tb_decimal hi)
{
    char a[TB_DECIMAL_STRLEN], l[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN];
    tb_dec_format(v, a, sizeof(a));
    tb_dec_format(lo, l, sizeof(l));
    tb_dec_format(hi, h, sizeof(h));
    return fail(c, "%s.%s %s is not between low %s and high %s", TYPE(c), name, a, l, h);
}

#define REQ_STR(c, p, m)                                                                           \
    if (!str_ok((p)->m, sizeof((p)->m))) return str_fault((c), #m, (p)->m, sizeof((p)->m))
#define OPT_STR(c, p, m)                                                                           \
    if (!terminated((p)->m, sizeof((p)->m))) return str_fault((c), #m, (p)->m, sizeof((p)->m))
#define POSITIVE(c, p, m)                                                                          \
    if ((p)->m <= 0) return dec_fault((c), #m, (p)->m, "is not positive")
#define NONNEG(c, p, m)                                                                            \
    if ((p)->m < 0) return dec_fault((c), #m, (p)->m, "is negative")
/* INT64_MIN has no decimal meaning (the range is symmetric, see decimal.h). */
#define IN_RANGE(c, p, m)                                                                          \
    if ((p)->m == INT64_MIN) return dec_fault((c), #m, (p)->m, "")
#define ENUM(c, p, m, ok, namefn, expected)                                                        \
    if (!(ok)) return enum_fault((c), #m, (int)(p)->m, namefn((p)->m), (expected))

/* Through int: an enum whose values are all >= 0 may be unsigned. */
static inline int in_range(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

#define SIDE_OK(v)       ((v) == TB_SIDE_BUY || (v) == TB_SIDE_SELL)
#define ORDER_TYPE_OK(v) ((v) == TB_ORDER_MARKET || (v) == TB_ORDER_LIMIT)
#define CHECK_SIDE(c, p) ENUM(c, p, side, SIDE_OK((p)->side), tb_side_name, "BUY or SELL")
#define CHECK_ORDER_TYPE(c, p)                                                                     \
    ENUM(c, p, order_type, ORDER_TYPE_OK((p)->order_type), tb_order_type_name, "MARKET or LIMIT")
/* Orders (not signals) may also be stops, which the Order Manager places. */
#define CHECK_ANY_ORDER_TYPE(c, p)                                                                 \
    ENUM(c, p, order_type,                                                                         \
         ORDER_TYPE_OK((p)->order_type) || (p)->order_type == TB_ORDER_STOP_MARKET,                \
         tb_order_type_name, "MARKET, LIMIT or STOP_MARKET")
#define CHECK_ORIGIN(c, p)                                                                         \
    ENUM(c, p, origin, in_range((int)(p)->origin, TB_ORIGIN_SIGNAL, TB_ORIGIN_END),                \
         tb_order_origin_name, "a known order origin")
/* The order-handling fields a request and an acknowledgement share. */
#define CHECK_ORDER_HANDLING(c, p)                                                                 \
    ENUM(c, p, time_in_force, in_range((int)(p)->time_in_force, TB_TIF_GTC, TB_TIF_FOK),           \
         tb_time_in_force_name, "GTC, IOC or FOK");                                                \
    NONNEG(c, p, stop_price);                                                                      \
    if ((p)->order_type == TB_ORDER_STOP_MARKET && (p)->stop_price <= 0)                           \
        return dec_fault((c), "stop_price", (p)->stop_price, "is not positive for a STOP_MARKET"); \
    CHECK_ORIGIN(c, p);                                                                            \
    NONNEG(c, p, trailing_pct);                                                                    \
    OPT_STR(c, p, oco_with)

static int check_md(const checker *c, const tb_market_data *md)
{
    REQ_STR(c, md, symbol);
    POSITIVE(c, md, open);
    POSITIVE(c, md, high);
    POSITIVE(c, md, low);
    POSITIVE(c, md, close);
    NONNEG(c, md, volume);
    if (md->open_time < 0) return time_fault(c, "open_time", md->open_time);
    if (md->close_time < md->open_time)
        return fail(c, "%s.close_time %lld is before open_time %lld", TYPE(c),
                    (long long)md->close_time, (long long)md->open_time);
    if (md->high < md->low) return pair_fault(c, "high", md->high, "is below", "low", md->low);
    if (md->open < md->low || md->open > md->high)
        return band_fault(c, "open", md->open, md->low, md->high);
    if (md->close < md->low || md->close > md->high)
        return band_fault(c, "close", md->close, md->low, md->high);
    return 0;
}

static int check_signal(const checker *c, const tb_signal_generated *s)
{
    ENUM(c, s, signal_type,
         s->signal_type == TB_SIGNAL_HOLD || s->signal_type == TB_SIGNAL_BUY ||
             s->signal_type == TB_SIGNAL_SELL || s->signal_type == TB_SIGNAL_CANCEL,
         tb_signal_type_name, "HOLD, BUY, SELL or CANCEL");
    REQ_STR(c, s, symbol);
    NONNEG(c, s, price);
    NONNEG(c, s, volume);
    REQ_STR(c, s, strategy_id);
    CHECK_ORDER_TYPE(c, s);
    NONNEG(c, s, limit_price);
    IN_RANGE(c, s, target);
    NONNEG(c, s, stop_loss);
    NONNEG(c, s, take_profit);
    return 0;
}

static int check_request(const checker *c, const tb_order_placement_request *q)
{
    CHECK_ANY_ORDER_TYPE(c, q);
    CHECK_SIDE(c, q);
    REQ_STR(c, q, symbol);
    POSITIVE(c, q, quantity);
    NONNEG(c, q, price);
    REQ_STR(c, q, strategy_id);
    REQ_STR(c, q, client_order_id);
    CHECK_ORDER_HANDLING(c, q);
    return 0;
}

static int check_created(const checker *c, const tb_order_created *o)
{
    OPT_STR(c, o, order_id);
    ENUM(c, o, status, in_range((int)o->status, TB_ORDER_PENDING, TB_ORDER_EXPIRED),
         tb_order_status_name, "a known order status");
    REQ_STR(c, o, client_order_id);
    CHECK_ANY_ORDER_TYPE(c, o);
    CHECK_SIDE(c, o);
    REQ_STR(c, o, symbol);
    POSITIVE(c, o, quantity);
    NONNEG(c, o, price);
    REQ_STR(c, o, strategy_id);
    CHECK_ORDER_HANDLING(c, o);
    return 0;
}

static int check_filled(const checker *c, const tb_order_filled *f)
{
    OPT_STR(c, f, order_id);
    REQ_STR(c, f, client_order_id);
    REQ_STR(c, f, strategy_id);
    REQ_STR(c, f, symbol);
    CHECK_SIDE(c, f);
    POSITIVE(c, f, filled_quantity);
    POSITIVE(c, f, filled_price);
    NONNEG(c, f, commission);
    POSITIVE(c, f, cumulative_quantity);
    POSITIVE(c, f, average_price);
    ENUM(c, f, status, f->status == TB_ORDER_PARTIALLY_FILLED || f->status == TB_ORDER_FILLED,
         tb_order_status_name, "PARTIALLY_FILLED or FILLED");
    if (f->cumulative_quantity < f->filled_quantity)
        return pair_fault(c, "cumulative_quantity", f->cumulative_quantity, "is less than",
                          "filled_quantity", f->filled_quantity);
    CHECK_ORIGIN(c, f);
    return 0;
}

/* Quantity and price may be anything a decimal can be: a rejection may be
 * reporting exactly the zero or negative value that caused it. */
static int check_rejected(const checker *c, const tb_order_rejected *r)
{
    OPT_STR(c, r, order_id);
    REQ_STR(c, r, client_order_id);
    REQ_STR(c, r, strategy_id);
    REQ_STR(c, r, symbol);
    CHECK_SIDE(c, r);
    CHECK_ANY_ORDER_TYPE(c, r);
    IN_RANGE(c, r, quantity);
    IN_RANGE(c, r, price);
    ENUM(c, r, reason, in_range((int)r->reason, TB_REJECT_NONE, TB_REJECT_DUPLICATE),
         tb_reject_reason_name, "a known reject reason");
    OPT_STR(c, r, text);
    CHECK_ORIGIN(c, r);
    return 0;
}

static int check_canceled(const checker *c, const tb_order_canceled *o)
{
    OPT_STR(c, o, order_id);
    REQ_STR(c, o, client_order_id);
    REQ_STR(c, o, strategy_id);
    REQ_STR(c, o, symbol);
    CHECK_SIDE(c, o);
    NONNEG(c, o, filled_quantity);
    NONNEG(c, o, canceled_quantity);
    ENUM(c, o, status, o->status == TB_ORDER_CANCELED || o->status == TB_ORDER_EXPIRED,
         tb_order_status_name, "CANCELED or EXPIRED");
    OPT_STR(c, o, text);
    ENUM(c, o, cause, in_range((int)o->cause, TB_CANCEL_EXCHANGE, TB_CANCEL_REQUESTED),
         tb_cancel_cause_name, "a known cancel cause");
    CHECK_ORIGIN(c, o);
    return 0;
}

static int check_pos(const checker *c, const tb_position_update *u)
{
    if (u->position_id == 0) return fail(c, "%s.position_id is 0", TYPE(c));
    REQ_STR(c, u, strategy_id);
    REQ_STR(c, u, symbol);
    IN_RANGE(c, u, current_quantity);
    NONNEG(c, u, entry_price);
    IN_RANGE(c, u, unrealized_pnl);
    IN_RANGE(c, u, realized_pnl);
    NONNEG(c, u, mark_price);
    ENUM(c, u, status, u->status == TB_POSITION_OPEN || u->status == TB_POSITION_CLOSED,
         tb_position_status_name, "OPEN or CLOSED");
    /* What the Position Manager keeps true, and what netting relies on. */
    if ((u->status == TB_POSITION_OPEN) != (u->current_quantity != 0)) {
        char q[TB_DECIMAL_STRLEN];
        tb_dec_format(u->current_quantity, q, sizeof(q));
        return fail(c, "%s.current_quantity %s contradicts status %s", TYPE(c), q,
                    tb_position_status_name(u->status));
    }
    return 0;
}

static int check_alert(const checker *c, const tb_risk_alert *a)
{
    REQ_STR(c, a, rule);
    OPT_STR(c, a, detail);
    ENUM(c, a, trading_state, in_range((int)a->trading_state, TB_TRADING_ACTIVE, TB_TRADING_HALTED),
         tb_trading_state_name, "ACTIVE, REDUCING or HALTED");
    OPT_STR(c, a, strategy_id);
    OPT_STR(c, a, symbol);
    return 0;
}

int tb__check_event_full(const tb_event *ev, tb_event_type want, char *why, size_t len)
{
    checker c = {why, len, ev->type, TB_EINVAL};
    if (want != TB_BUS_ALL && ev->type != want)
        return fail(&c, "%s where %s was expected", TYPE(&c), tb_event_type_name(want));
    if (ev->type == TB_EV_MARKET_DATA) c.rc = TB_EDATA;
    if (ev->version != TB_EVENT_VERSION)
        return fail(&c, "%s.version %u is not %d", TYPE(&c), (unsigned)ev->version,
                    TB_EVENT_VERSION);
    if ((int)ev->source < 0 || ev->source >= TB_SRC_COUNT)
        return fail(&c, "%s.source %d is unknown", TYPE(&c), (int)ev->source);
    if (ev->event_id == 0) return fail(&c, "%s.event_id is 0", TYPE(&c));
    if (ev->timestamp < 0) return time_fault(&c, "timestamp", ev->timestamp);
    switch (ev->type) {
    case TB_EV_MARKET_DATA:
        return check_md(&c, &ev->u.market_data);
    case TB_EV_SIGNAL_GENERATED:
        return check_signal(&c, &ev->u.signal);
    case TB_EV_ORDER_PLACEMENT_REQUEST:
        return check_request(&c, &ev->u.order_request);
    case TB_EV_ORDER_CREATED:
        return check_created(&c, &ev->u.order_created);
    case TB_EV_ORDER_FILLED:
        return check_filled(&c, &ev->u.order_filled);
    case TB_EV_ORDER_REJECTED:
        return check_rejected(&c, &ev->u.order_rejected);
    case TB_EV_ORDER_CANCELED:
        return check_canceled(&c, &ev->u.order_canceled);
    case TB_EV_POSITION_UPDATE:
        return check_pos(&c, &ev->u.position);
    case TB_EV_RISK_ALERT:
        return check_alert(&c, &ev->u.risk_alert);
    default:
        return fail(&c, "event type %d is unknown", (int)ev->type);
    }
}

int tb__check_market_data(const tb_market_data *md, char *why, size_t len)
{
    checker c = {why, len, TB_EV_MARKET_DATA, TB_EDATA};
    return check_md(&c, md);
}

int tb__check_position(const tb_position_update *u, char *why, size_t len)
{
    checker c = {why, len, TB_EV_POSITION_UPDATE, TB_EINVAL};
    return check_pos(&c, u);
}
