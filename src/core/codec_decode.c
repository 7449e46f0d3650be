/* Decoding: the checks every decoded event passes, whatever parser read
 * it, and the path through jansson (every error's message comes from here). */
#define _POSIX_C_SOURCE 200809L
#include "codec_int.h"

#include "codec_paths.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* clang-format off */
#define KEY(s) {s, sizeof(s) - 1}
/* clang-format on */
const tb__codec_key tb__codec_envelope_keys[E_COUNT] = {
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
    /* 19 digits cannot pass 2^64: only a 20th needs the overflow test. */
    size_t plain = len < 19 ? len : 19;
    for (size_t i = 0; i < plain; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return TB_EPARSE;
        v = v * 10 + d;
    }
    if (len == 20) {
        unsigned d = (unsigned)(s[19] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return TB_EPARSE;
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
        if (name_of(v, name) != TB_OK || tb__codec_enum_parse(kind, name, &x) != TB_OK)
            return fail(e, prefix, f->name, "unknown %s \"%s\"", tb__codec_enum_noun(kind),
                        excerpt_of(v->s, v->len).text);
        if (f->allowed != 0 && (x < 0 || x >= 32 || (f->allowed & BIT(x)) == 0))
            return fail(e, prefix, f->name, "%s not allowed in %s", tb__codec_enum_name(kind, x),
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
        if (fields[i].kind == V_MISSING) {
            if (f->optional) continue; /* stays zero */
            return fail(e, "payload.", f->name, "missing");
        }
        if ((rc = decode_field(f, &fields[i], out, e)) != TB_OK) return rc;
    }
    return check_payload(out, e);
}

/* The member k of the envelope, or NULL after reporting "<key>: missing". */
static const value *require(const value *env, int k, const errbuf *e)
{
    if (env[k].kind != V_MISSING) return &env[k];
    fail(e, "", tb__codec_envelope_keys[k].name, "missing");
    return NULL;
}

static int require_id(const value *env, int k, const errbuf *e, uint64_t *out)
{
    const value *v = require(env, k, e);
    return v == NULL ? TB_EPARSE : decode_id(v, e, "", tb__codec_envelope_keys[k].name, out);
}

/* A present string member k, or NULL after reporting why not. */
static const value *require_string(const value *env, int k, const errbuf *e)
{
    const value *v = require(env, k, e);
    if (v != NULL && v->kind != V_STRING) {
        fail(e, "", tb__codec_envelope_keys[k].name, "not a string");
        return NULL;
    }
    return v;
}

/* A member the host assigns must be absent from a published event. */
static int assigned(const value *env, int k, const errbuf *e)
{
    if (env[k].kind == V_MISSING) return TB_OK;
    return fail(e, "", tb__codec_envelope_keys[k].name, "assigned by tradebus: leave it out");
}

/* Every check of an event, in the order the first offence is reported. */
int tb__codec_decode_envelope(const value *env, members_fn members, tb_event *out, const errbuf *e,
                              int mode)
{
    char name[NAME_CAP];
    const value *v;
    int published = mode == TB__DECODE_PUBLISHED;
    if ((v = require_string(env, E_TYPE, e)) == NULL) return TB_EPARSE;
    if (name_of(v, name) != TB_OK || tb_event_type_parse(name, &out->type) != TB_OK)
        return fail(e, "", "type", "unknown event type \"%s\"", excerpt_of(v->s, v->len).text);

    out->version = TB_EVENT_VERSION;
    if (!published || env[E_VERSION].kind != V_MISSING) {
        if ((v = require(env, E_VERSION, e)) == NULL) return TB_EPARSE;
        if (v->kind != V_INTEGER) return fail(e, "", "version", "not an integer");
        if (v->i != TB_EVENT_VERSION)
            return fail(e, "", "version", "unsupported version %" PRId64, v->i);
    }

    int rc;
    if (published) {
        if ((rc = assigned(env, E_EVENT_ID, e)) != TB_OK ||
            (rc = assigned(env, E_CAUSATION_ID, e)) != TB_OK ||
            (rc = assigned(env, E_CORRELATION_ID, e)) != TB_OK)
            return rc;
    } else {
        if ((rc = require_id(env, E_EVENT_ID, e, &out->event_id)) != TB_OK ||
            (rc = require_id(env, E_CAUSATION_ID, e, &out->causation_id)) != TB_OK ||
            (rc = require_id(env, E_CORRELATION_ID, e, &out->correlation_id)) != TB_OK)
            return rc;
        if (out->event_id == 0) return fail(e, "", "event_id", "must be non-zero");
    }

    if (published && env[E_TIMESTAMP].kind == V_MISSING) {
        out->timestamp = INT64_MIN;
    } else {
        if ((v = require(env, E_TIMESTAMP, e)) == NULL) return TB_EPARSE;
        if ((rc = decode_time(v, C_NONNEG, e, "", "timestamp", &out->timestamp)) != TB_OK)
            return rc;
    }

    if (published) {
        if ((rc = assigned(env, E_SOURCE, e)) != TB_OK) return rc;
    } else {
        if ((v = require_string(env, E_SOURCE, e)) == NULL) return TB_EPARSE;
        if (name_of(v, name) != TB_OK || tb_source_parse(name, &out->source) != TB_OK)
            return fail(e, "", "source", "unknown source \"%s\"", excerpt_of(v->s, v->len).text);
    }

    if ((v = require(env, E_PAYLOAD, e)) == NULL) return TB_EPARSE;
    return decode_payload(v, members, tb__codec_payload_of(out->type), out, e);
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
    return excerpt_of(key, strnlen(key, EXCERPT_MAX + 1));
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

static int jansson_envelope(const json_t *root, tb_event *out, const errbuf *e, int mode)
{
    if (!json_is_object(root)) return fail(e, "", "json", "not an object");
    value env[E_COUNT];
    memset(env, 0, sizeof env);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        size_t k = 0;
        while (k < E_COUNT && strcmp(tb__codec_envelope_keys[k].name, key) != 0)
            k++;
        if (k == E_COUNT) return fail(e, "", key_excerpt(key).text, "unknown field");
        env[k] = view_of(v);
    }
    return tb__codec_decode_envelope(env, jansson_members, out, e, mode);
}

int tb__codec_decode_strict_mode(const char *json, size_t len, tb_event *out, char *err,
                                 size_t errlen, int mode)
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
    int rc = jansson_envelope(root, out, &e, mode);
    json_decref(root);
    return rc;
}

int tb__codec_decode_strict(const char *json, size_t len, tb_event *out, char *err, size_t errlen)
{
    return tb__codec_decode_strict_mode(json, len, out, err, errlen, TB__DECODE_EVENT);
}
