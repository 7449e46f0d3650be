/* The canonical trade log: encoding, strict decoding, reading a file, and
 * the pipeline-side writer that turns bus events into records.
 *
 * The log is the one thing two trading systems written in different
 * languages can both produce, so the decoder is strict: a record that is
 * slightly wrong (a typo in a key, a float where a decimal string belongs,
 * a local time) is an error naming the field, never a silent zero that
 * would later show up as a puzzling divergence. */
#define _POSIX_C_SOURCE 200809L
#include "../core/timefmt_int.h"
#include "../core/errbuf.h"
#include "../core/linereader.h"
#include "tradebus/tradelog.h"
#include "migration_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "tradebus/monitor.h"
#include "tradebus/pnlbook.h"

#define NS_PER_MS INT64_C(1000000)

/* Every key any record may carry, in the one order the encoder writes
 * them. Each kind writes a subset, in this order, so the order is fixed
 * per kind by construction. */
enum {
    F_KIND,
    F_TIME,
    F_STRATEGY,
    F_SYMBOL,
    F_SIDE,
    F_TYPE,
    F_QUANTITY,
    F_PRICE,
    F_COMMISSION,
    F_ENTRY,
    F_REALIZED,
    F_UNREALIZED,
    F_FEES,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "kind",  "time",       "strategy_id", "symbol",       "side",           "type", "quantity",
    "price", "commission", "entry_price", "realized_pnl", "unrealized_pnl", "fees",
};

#define BIT(f) (1u << (f))
#define COMMON (BIT(F_KIND) | BIT(F_TIME) | BIT(F_STRATEGY) | BIT(F_SYMBOL))

/* The keys of each kind, indexed by tb_record_kind. */
static const unsigned kind_fields[6] = {
    0,
    COMMON | BIT(F_SIDE) | BIT(F_QUANTITY) | BIT(F_PRICE),
    COMMON | BIT(F_SIDE) | BIT(F_TYPE) | BIT(F_QUANTITY) | BIT(F_PRICE),
    COMMON | BIT(F_SIDE) | BIT(F_QUANTITY) | BIT(F_PRICE) | BIT(F_COMMISSION),
    COMMON | BIT(F_QUANTITY) | BIT(F_ENTRY) | BIT(F_REALIZED),
    BIT(F_KIND) | BIT(F_REALIZED) | BIT(F_UNREALIZED) | BIT(F_FEES),
};

static int kind_valid(tb_record_kind k)
{
    return k >= TB_REC_SIGNAL && k <= TB_REC_FINAL;
}

const char *tb_record_kind_name(tb_record_kind k)
{
    switch (k) {
    case TB_REC_SIGNAL:
        return "signal";
    case TB_REC_ORDER:
        return "order";
    case TB_REC_FILL:
        return "fill";
    case TB_REC_POSITION:
        return "position";
    case TB_REC_FINAL:
        return "final";
    }
    return "?";
}

static int kind_parse(const char *s, tb_record_kind *out)
{
    for (int k = TB_REC_SIGNAL; k <= TB_REC_FINAL; k++) {
        if (strcmp(s, tb_record_kind_name((tb_record_kind)k)) == 0) {
            *out = (tb_record_kind)k;
            return 0;
        }
    }
    return TB_EPARSE;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
    char *p, *end;
    int full, bad;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->full || (size_t)(w->end - w->p) <= n) {
        w->full = 1; /* keep one byte for the NUL */
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_str(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s, or 0: jansson refuses
 * anything else, so writing it would make a line no reader accepts. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* A JSON string from a fixed-size, NUL-terminated, non-empty array. */
static void put_json_string(writer *w, const char *s, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strnlen(s, cap);
    if (len == 0 || len == cap) {
        w->bad = 1;
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    put(w, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x80) {
            size_t n = utf8_len(u + i, len - i);
            if (n == 0) {
                w->bad = 1;
                return;
            }
            put(w, s + i, n);
            i += n;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            put(w, esc, sizeof esc);
            i++;
        } else {
            if (c == '"' || c == '\\') put(w, "\\", 1);
            put(w, s + i, 1);
            i++;
        }
    }
    put(w, "\"", 1);
}

static void put_key(writer *w, int f, int first)
{
    if (!first) put(w, ",", 1);
    put(w, "\"", 1);
    put_str(w, field_names[f]);
    put(w, "\":", 2);
}

static void put_dec(writer *w, tb_decimal d)
{
    char tmp[TB_DECIMAL_STRLEN];
    int n = tb_dec_format(d, tmp, sizeof tmp);
    if (n < 0) {
        w->bad = 1;
        return;
    }
    put(w, "\"", 1);
    put(w, tmp, (size_t)n);
    put(w, "\"", 1);
}

static void put_enum_name(writer *w, const char *name)
{
    if (strcmp(name, "?") == 0) {
        w->bad = 1;
        return;
    }
    put(w, "\"", 1);
    put_str(w, name);
    put(w, "\"", 1);
}

static void put_field(writer *w, const tb_trade_record *r, int f)
{
    switch (f) {
    case F_KIND:
        put_enum_name(w, tb_record_kind_name(r->kind));
        break;
    case F_TIME: {
        char t[32];
        if (tb_format_time_iso(r->time, t, sizeof t) < 0) {
            w->bad = 1;
            return;
        }
        put(w, "\"", 1);
        put_str(w, t);
        put(w, "\"", 1);
        break;
    }
    case F_STRATEGY:
        put_json_string(w, r->strategy_id, sizeof r->strategy_id);
        break;
    case F_SYMBOL:
        put_json_string(w, r->symbol, sizeof r->symbol);
        break;
    case F_SIDE:
        put_enum_name(w, tb_side_name(r->side));
        break;
    case F_TYPE:
        put_enum_name(w, tb_order_type_name(r->order_type));
        break;
    case F_QUANTITY:
        put_dec(w, r->quantity);
        break;
    case F_PRICE:
        /* A MARKET order has no price of its own; writing "0" whatever the
         * struct holds keeps the two systems' lines comparable. */
        put_dec(w, r->kind == TB_REC_ORDER && r->order_type == TB_ORDER_MARKET ? 0 : r->price);
        break;
    case F_COMMISSION:
        put_dec(w, r->commission);
        break;
    case F_ENTRY:
        put_dec(w, r->entry_price);
        break;
    case F_REALIZED:
        put_dec(w, r->realized_pnl);
        break;
    case F_UNREALIZED:
        put_dec(w, r->unrealized_pnl);
        break;
    case F_FEES:
        put_dec(w, r->fees);
        break;
    }
}

int tb_trade_record_encode(const tb_trade_record *rec, char *buf, size_t buflen)
{
    if (!rec || !buf || buflen == 0 || !kind_valid(rec->kind)) return TB_EINVAL;
    writer w = {buf, buf + buflen, 0, 0};
    unsigned mask = kind_fields[rec->kind];
    int first = 1;
    put(&w, "{", 1);
    for (int f = 0; f < F_COUNT; f++) {
        if (!(mask & BIT(f))) continue;
        put_key(&w, f, first);
        put_field(&w, rec, f);
        first = 0;
    }
    put(&w, "}\n", 2);
    if (w.bad) return TB_EINVAL;
    if (w.full) return TB_EFULL;
    *w.p = '\0';
    return (int)(w.p - buf);
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len;
} errbuf;

/* Reports "<field>: <message>" and returns TB_EPARSE. Messages quote
 * untrusted input, so they are reduced to printable ASCII. */
__attribute__((format(printf, 3, 4))) static int fail(const errbuf *e, const char *field,
                                                      const char *fmt, ...)
{
    if (!e->buf || e->len == 0) return TB_EPARSE;
    int n = snprintf(e->buf, e->len, "%s: ", field);
    if (n > 0 && (size_t)n < e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    for (char *p = e->buf; *p; p++)
        if (*p < 0x20 || *p >= 0x7f) *p = '?';
    return TB_EPARSE;
}

/* At most 40 bytes of untrusted text, for quoting in a message. */
typedef struct {
    char text[48];
} excerpt;

static excerpt excerpt_of(const char *s)
{
    excerpt x;
    size_t n = strnlen(s, 41);
    if (n > 40) {
        memcpy(x.text, s, 40);
        memcpy(x.text + 40, "...", 4);
    } else {
        memcpy(x.text, s, n + 1);
    }
    return x;
}

static int decode_time(const json_t *v, const errbuf *e, int64_t *out)
{
    const char *name = field_names[F_TIME];
    if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);
        if (ms < 0) return fail(e, name, "must be >= 0");
        /* The last millisecond ISO-8601 can say (2261-12-31T23:59:59.999Z):
         * a time the encoder writes as ISO must read back. */
        if (ms > INT64_C(9214646399999)) return fail(e, name, "out of range");
        *out = (int64_t)ms * NS_PER_MS;
        return 0;
    }
    if (!json_is_string(v))
        return fail(e, name, "not an ISO-8601 UTC string or integer epoch milliseconds");
    int rc = tb__time_parse_iso(json_string_value(v), json_string_length(v), TB__ISO_STRICT, out);
    if (rc == TB_ERANGE)
        return fail(e, name, "date or time out of range \"%s\"",
                    excerpt_of(json_string_value(v)).text);
    if (rc)
        return fail(e, name, "not ISO-8601 UTC (\"2024-01-01T00:05:00.000Z\") \"%s\"",
                    excerpt_of(json_string_value(v)).text);
    return 0;
}

typedef enum { ANY, POSITIVE, NONNEG } sign_rule;

static int decode_dec(const json_t *v, const errbuf *e, const char *name, sign_rule rule,
                      tb_decimal *out)
{
    if (!json_is_string(v)) return fail(e, name, "not a decimal string");
    tb_decimal d;
    int rc = tb_dec_parse(json_string_value(v), json_string_length(v), &d);
    if (rc == TB_EOVERFLOW) return fail(e, name, "decimal out of range");
    if (rc == TB_ERANGE) return fail(e, name, "more than %d decimal places", TB_DECIMAL_SCALE);
    if (rc) return fail(e, name, "not a decimal \"%s\"", excerpt_of(json_string_value(v)).text);
    if (rule == POSITIVE && d <= 0) return fail(e, name, "must be > 0");
    if (rule == NONNEG && d < 0) return fail(e, name, "must be >= 0");
    *out = d;
    return 0;
}

static int decode_name(const json_t *v, const errbuf *e, const char *name, char *dst, size_t cap)
{
    if (!json_is_string(v)) return fail(e, name, "not a string");
    size_t len = json_string_length(v);
    if (len == 0) return fail(e, name, "empty");
    if (len >= cap) return fail(e, name, "longer than %zu bytes", cap - 1);
    /* jansson refuses "\u0000" without JSON_ALLOW_NUL: len is the C length. */
    memcpy(dst, json_string_value(v), len + 1);
    return 0;
}

/* Which rule each decimal field follows. Quantities of positions are
 * signed; PnL can be anything; what was traded or paid cannot be negative. */
static sign_rule dec_rule(tb_record_kind k, int f)
{
    switch (f) {
    case F_QUANTITY:
        return k == TB_REC_POSITION ? ANY : POSITIVE;
    case F_PRICE:
        return k == TB_REC_FILL ? POSITIVE : NONNEG;
    case F_COMMISSION:
    case F_ENTRY:
    case F_FEES:
        return NONNEG;
    default:
        return ANY;
    }
}

static tb_decimal *dec_slot(tb_trade_record *r, int f)
{
    switch (f) {
    case F_QUANTITY:
        return &r->quantity;
    case F_PRICE:
        return &r->price;
    case F_COMMISSION:
        return &r->commission;
    case F_ENTRY:
        return &r->entry_price;
    case F_REALIZED:
        return &r->realized_pnl;
    case F_UNREALIZED:
        return &r->unrealized_pnl;
    case F_FEES:
        return &r->fees;
    default:
        return NULL;
    }
}

static int decode_field(const json_t *v, int f, tb_trade_record *r, const errbuf *e)
{
    const char *name = field_names[f];
    switch (f) {
    case F_TIME:
        return decode_time(v, e, &r->time);
    case F_STRATEGY:
        return decode_name(v, e, name, r->strategy_id, sizeof r->strategy_id);
    case F_SYMBOL:
        return decode_name(v, e, name, r->symbol, sizeof r->symbol);
    case F_SIDE:
        if (!json_is_string(v)) return fail(e, name, "not a string");
        if (tb_side_parse(json_string_value(v), &r->side) != 0)
            return fail(e, name, "unknown side \"%s\" (BUY or SELL)",
                        excerpt_of(json_string_value(v)).text);
        return 0;
    case F_TYPE:
        if (!json_is_string(v)) return fail(e, name, "not a string");
        if (tb_order_type_parse(json_string_value(v), &r->order_type) != 0)
            return fail(e, name, "unknown order type \"%s\" (MARKET or LIMIT)",
                        excerpt_of(json_string_value(v)).text);
        return 0;
    default:
        return decode_dec(v, e, name, dec_rule(r->kind, f), dec_slot(r, f));
    }
}

static int decode_object(const json_t *root, tb_trade_record *out, const errbuf *e)
{
    if (!json_is_object(root)) return fail(e, "json", "not an object");
    const json_t *kv = json_object_get(root, "kind");
    if (!kv) return fail(e, "kind", "missing");
    if (!json_is_string(kv)) return fail(e, "kind", "not a string");
    if (kind_parse(json_string_value(kv), &out->kind) != 0)
        return fail(e, "kind", "unknown kind \"%s\" (signal, order, fill, position or final)",
                    excerpt_of(json_string_value(kv)).text);
    unsigned mask = kind_fields[out->kind];

    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        int f = 0;
        while (f < F_COUNT && strcmp(field_names[f], key) != 0)
            f++;
        if (f == F_COUNT) return fail(e, excerpt_of(key).text, "unknown field");
        if (!(mask & BIT(f)))
            return fail(e, key, "not a field of a %s record", tb_record_kind_name(out->kind));
    }

    /* The type decides whether an order's price is required, so it is
     * read before the price (it also comes first in field order). */
    for (int f = F_TIME; f < F_COUNT; f++) {
        if (!(mask & BIT(f))) continue;
        const json_t *fv = json_object_get(root, field_names[f]);
        int market = out->kind == TB_REC_ORDER && out->order_type == TB_ORDER_MARKET;
        if (!fv) {
            if (f == F_PRICE && market) continue; /* price 0 */
            return fail(e, field_names[f], "missing");
        }
        int rc = decode_field(fv, f, out, e);
        if (rc) return rc;
    }

    if (out->kind == TB_REC_ORDER) {
        if (out->order_type == TB_ORDER_LIMIT && out->price <= 0)
            return fail(e, "price", "must be > 0 for a LIMIT order");
        if (out->order_type == TB_ORDER_MARKET && out->price != 0)
            return fail(e, "price", "must be \"0\" or absent for a MARKET order");
    }
    return 0;
}

int tb_trade_record_decode(const char *line, size_t len, tb_trade_record *out, char *err,
                           size_t errlen)
{
    errbuf e = {err, errlen};
    if (err && errlen) err[0] = '\0';
    if (!line || !out) return TB_EINVAL;
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        int rc = fail(&e, "json", "column %d: %s", jerr.column, jerr.text);
        /* Running out of memory says nothing about the line. */
        return json_error_code(&jerr) == json_error_out_of_memory ? TB_ENOMEM : rc;
    }
    int rc = decode_object(root, out, &e);
    json_decref(root);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- reading a log ------------------------------------------------------- */

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

int tb__tradelog_read_lines(tb__lr *lr, const char *name, tb_record_sink sink, void *ctx, char *err,
                            size_t errlen)
{
    char *line;
    size_t n;
    int rc;
    errno = 0;
    while ((rc = tb__lr_next(lr, &line, &n)) == TB__LR_LINE) {
        unsigned long long lineno = lr->lineno;
        if (is_blank(line, n)) continue;
        tb_trade_record rec;
        char what[200];
        rc = tb_trade_record_decode(line, n, &rec, what, sizeof what);
        if (rc) {
            tb__errf(err, errlen, "%s:%llu: %s", name, lineno, what[0] ? what : tb_strerror(rc));
            return rc;
        }
        rec.line = lineno;
        rc = sink(&rec, ctx);
        if (rc) {
            tb__errf(err, errlen, "%s:%llu: %s", name, lineno, tb_strerror(rc));
            return rc;
        }
        errno = 0;
    }
    if (rc == TB__LR_TOO_LONG) {
        tb__errf(err, errlen, "%s:%llu: line longer than %zu bytes", name,
                 (unsigned long long)lr->lineno, lr->max);
        return TB_EPARSE;
    }
    if (rc == TB_EIO)
        tb__errf(err, errlen, "%s:%llu: read error: %s", name, (unsigned long long)lr->lineno + 1,
                 strerror(errno ? errno : EIO));
    return rc; /* 0 at the end; other errors are the reader's to describe */
}

int tb_tradelog_read(FILE *f, const char *name, tb_record_sink sink, void *ctx, char *err,
                     size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!f || !sink) return TB_EINVAL;
    if (!name) name = "(trade log)";
    tb__lr lr;
    if (tb__lr_init(&lr, TB__MAX_LINE, tb__lr_read_file, f) != 0) return TB_ENOMEM;
    int rc = tb__tradelog_read_lines(&lr, name, sink, ctx, err, errlen);
    tb__lr_close(&lr);
    return rc;
}

int tb_record_sink_file(const tb_trade_record *rec, void *ctx)
{
    FILE *f = ctx;
    char line[512];
    if (!f) return TB_EINVAL;
    int n = tb_trade_record_encode(rec, line, sizeof line);
    if (n < 0) return n;
    return fwrite(line, 1, (size_t)n, f) == (size_t)n ? 0 : TB_EIO;
}

/* ---- the pipeline's side ------------------------------------------------- */

/* Recent fills, so that a CLOSED update can tell a plain close from the
 * first half of a flip. The fills of a bar are all dispatched before their
 * updates, so this is how many fills one bar may make before a close among
 * them is no longer classified (and merely held until the next event). */
#define RECENT_FILLS 256

typedef struct {
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity; /* the position's quantity after its last update */
} last_quantity;

struct tb_tradelog {
    tb_bus *bus;
    int sub;
    tb_record_sink sink;
    void *ctx;
    /* Fed every PositionUpdate: a position record carries the realized PnL
     * over all of the (strategy, symbol)'s lives, which a single update
     * (one life) does not know after a flip or a reopen. */
    tb_pnl_book *book;
    /* A flip publishes two PositionUpdates for one fill (the old position
     * CLOSED, then the new one OPEN, adjacent). The log wants one record per
     * fill — the state after it — so the CLOSED half of a flip is held here
     * and replaced by the OPEN half. Anything else is emitted at once: a
     * record held past the end of a bar's dispatch would reach a bar-by-bar
     * comparison (shadow mode) one bar late. A CLOSED update whose fill was
     * not seen (an observer attached mid-run) cannot be classified; it is
     * held until an event that is not another update of the same fill. */
    int has_pending;
    uint64_t pending_cause;
    tb_trade_record pending;
    struct {
        uint64_t event_id;
        tb_decimal quantity;
    } fills[RECENT_FILLS];
    size_t fills_next;
    last_quantity *last; /* per (strategy, symbol); few, so scanned */
    size_t nlast, last_cap;
};

static void record_init(tb_trade_record *r, tb_record_kind kind, int64_t time,
                        const char *strategy_id, const char *symbol)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->time = time;
    memcpy(r->strategy_id, strategy_id, sizeof r->strategy_id);
    memcpy(r->symbol, symbol, sizeof r->symbol);
}

static int flush_pending(tb_tradelog *t)
{
    if (!t->has_pending) return 0;
    int rc = t->sink(&t->pending, t->ctx);
    /* Kept on failure: the bus retries the event, which flushes again. */
    if (rc == 0) t->has_pending = 0;
    return rc;
}

/* Same fill, same position: a later update of one fill replaces the
 * earlier. A zero cause names no fill, so such updates never merge. */
static int same_fill(const tb_tradelog *t, const tb_event *ev)
{
    const tb_position_update *u = &ev->u.position;
    return t->has_pending && ev->type == TB_EV_POSITION_UPDATE && ev->causation_id != 0 &&
           ev->causation_id == t->pending_cause &&
           strncmp(u->strategy_id, t->pending.strategy_id, sizeof u->strategy_id) == 0 &&
           strncmp(u->symbol, t->pending.symbol, sizeof u->symbol) == 0;
}

static last_quantity *find_last(tb_tradelog *t, const char *strategy_id, const char *symbol)
{
    for (size_t i = 0; i < t->nlast; i++)
        if (strncmp(t->last[i].strategy_id, strategy_id, TB_STRATEGY_LEN) == 0 &&
            strncmp(t->last[i].symbol, symbol, TB_SYMBOL_LEN) == 0)
            return &t->last[i];
    if (t->nlast == t->last_cap) {
        size_t cap = t->last_cap ? t->last_cap * 2 : 8;
        last_quantity *nl = realloc(t->last, cap * sizeof *nl);
        if (!nl) return NULL;
        t->last = nl;
        t->last_cap = cap;
    }
    last_quantity *l = &t->last[t->nlast++];
    memset(l, 0, sizeof *l);
    memcpy(l->strategy_id, strategy_id, sizeof l->strategy_id);
    memcpy(l->symbol, symbol, sizeof l->symbol);
    return l;
}

/* 1 if a CLOSED update caused by fill `cause` is the first half of a flip
 * (the fill was larger than the position it closed), 0 if a plain close,
 * -1 if the fill is unknown. */
static int closes_into_flip(const tb_tradelog *t, uint64_t cause, tb_decimal before)
{
    if (cause == 0) return -1;
    for (size_t i = 0; i < RECENT_FILLS; i++)
        if (t->fills[i].event_id == cause) return t->fills[i].quantity > tb_dec_abs(before);
    return -1;
}

static int on_position(tb_tradelog *t, const tb_event *ev)
{
    const tb_position_update *u = &ev->u.position;
    last_quantity *l = find_last(t, u->strategy_id, u->symbol);
    if (!l) return TB_ENOMEM;
    tb_decimal total;
    /* Applying the same update twice leaves the book as it was, so a
     * retried delivery is harmless. */
    int rc = tb_pnl_book_apply(t->book, u, &total);
    if (rc) return rc;
    tb_decimal before = l->quantity;
    l->quantity = u->current_quantity;

    /* A held update of the same fill is replaced: only the state after the
     * fill is recorded. */
    record_init(&t->pending, TB_REC_POSITION, ev->timestamp, u->strategy_id, u->symbol);
    t->pending.quantity = u->current_quantity;
    t->pending.entry_price = u->entry_price;
    t->pending.realized_pnl = total;
    t->pending_cause = ev->causation_id;
    t->has_pending = 1;
    if (u->current_quantity == 0 && closes_into_flip(t, ev->causation_id, before) != 0) return 0;
    return flush_pending(t);
}

static int on_event(const tb_event *ev, void *ctx)
{
    tb_tradelog *t = ctx;
    int rc;
    if (!same_fill(t, ev) && (rc = flush_pending(t)) != 0) return rc;

    tb_trade_record r;
    switch (ev->type) {
    case TB_EV_SIGNAL_GENERATED: {
        const tb_signal_generated *s = &ev->u.signal;
        if (s->signal_type != TB_SIGNAL_BUY && s->signal_type != TB_SIGNAL_SELL) return 0;
        record_init(&r, TB_REC_SIGNAL, ev->timestamp, s->strategy_id, s->symbol);
        r.side = s->signal_type == TB_SIGNAL_BUY ? TB_SIDE_BUY : TB_SIDE_SELL;
        r.quantity = s->volume;
        r.price = s->price;
        return t->sink(&r, t->ctx);
    }
    case TB_EV_ORDER_PLACEMENT_REQUEST: {
        const tb_order_placement_request *q = &ev->u.order_request;
        record_init(&r, TB_REC_ORDER, ev->timestamp, q->strategy_id, q->symbol);
        r.side = q->side;
        r.order_type = q->order_type;
        r.quantity = q->quantity;
        r.price = q->order_type == TB_ORDER_MARKET ? 0 : q->price;
        return t->sink(&r, t->ctx);
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        record_init(&r, TB_REC_FILL, ev->timestamp, f->strategy_id, f->symbol);
        r.side = f->side;
        r.quantity = f->filled_quantity;
        r.price = f->filled_price;
        r.commission = f->commission;
        t->fills[t->fills_next].event_id = ev->event_id;
        t->fills[t->fills_next].quantity = f->filled_quantity;
        t->fills_next = (t->fills_next + 1) % RECENT_FILLS;
        return t->sink(&r, t->ctx);
    }
    case TB_EV_POSITION_UPDATE:
        return on_position(t, ev);
    default:
        return 0;
    }
}

int tb_tradelog_create(tb_bus *bus, tb_record_sink sink, void *ctx, tb_tradelog **out)
{
    if (!out) return TB_EINVAL;
    *out = NULL;
    if (!bus || !sink) return TB_EINVAL;
    tb_tradelog *t = calloc(1, sizeof *t);
    if (!t) return TB_ENOMEM;
    t->bus = bus;
    t->sink = sink;
    t->ctx = ctx;
    int rc = tb_pnl_book_create(&t->book);
    if (rc) {
        free(t);
        return rc;
    }
    t->sub = tb_bus_subscribe_named(bus, TB_BUS_ALL, on_event, t, "tradelog");
    if (t->sub < 0) {
        rc = t->sub;
        tb_pnl_book_destroy(t->book);
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int tb_tradelog_finish(tb_tradelog *t, tb_decimal realized, tb_decimal unrealized, tb_decimal fees)
{
    if (!t) return TB_EINVAL;
    int rc = flush_pending(t);
    if (rc) return rc;
    tb_trade_record r;
    memset(&r, 0, sizeof r);
    r.kind = TB_REC_FINAL;
    r.realized_pnl = realized;
    r.unrealized_pnl = unrealized;
    r.fees = fees;
    return t->sink(&r, t->ctx);
}

void tb_tradelog_destroy(tb_tradelog *t)
{
    if (!t) return;
    tb_bus_unsubscribe(t->bus, t->sub);
    tb_pnl_book_destroy(t->book);
    free(t->last);
    free(t);
}
