/* tradebus — typed field reads for the Binance parsers (bn_json.h). */
#include "bn_json.h"

#include <inttypes.h>
#include <string.h>

#include "../../core/errbuf.h"

/* Same thresholds as the kline CSV reader (src/feed/marketdata.c): from
 * 1e14 on a time is µs, below it ms; a live bar then carries the very
 * times a backtest reads from the same row. */
#define BN_US_THRESHOLD INT64_C(100000000000000)
#define BN_NS_PER_US    INT64_C(1000)
#define BN_NS_PER_MS    INT64_C(1000000)
/* Wire text quoted in messages is cut here so a message stays one line. */
#define BN_ECHO 40

int bn__json_load(const char *json, size_t len, const char *what, json_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (json == NULL) {
        tb__errf(err, errlen, "%s is missing", what);
        return TB_EINVAL;
    }
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (root == NULL) {
        tb__errf(err, errlen, "%s is not valid JSON: %s (line %d, column %d)", what, je.text,
                 je.line, je.column);
        return TB_EPARSE;
    }
    *out = root;
    return 0;
}

json_t *bn__member(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

static int missing(const char *ctx, const char *field, char *err, size_t errlen)
{
    tb__errf(err, errlen, "%s: '%s' is missing", ctx, field);
    return TB_EPARSE;
}

int bn__str_v(json_t *v, const char *ctx, const char *field, char *out, size_t cap, char *err,
              size_t errlen)
{
    if (v == NULL) return missing(ctx, field, err, errlen);
    if (!json_is_string(v)) {
        tb__errf(err, errlen, "%s: '%s' is not a string", ctx, field);
        return TB_EPARSE;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    /* An embedded NUL would cut the text silently: refused as well. */
    if (n >= cap || strlen(s) != n) {
        tb__errf(err, errlen, "%s: '%s' \"%.*s\" is longer than %zu bytes or holds a NUL", ctx,
                 field, BN_ECHO, s, cap - 1);
        return TB_EPARSE;
    }
    memcpy(out, s, n + 1);
    return 0;
}

int bn__dec_v(json_t *v, const char *ctx, const char *field, tb_decimal *out, char *err,
              size_t errlen)
{
    if (v == NULL) return missing(ctx, field, err, errlen);
    /* Binance sends every price, quantity and commission as a string; a
     * JSON number would have passed through someone's double. */
    if (!json_is_string(v)) {
        tb__errf(err, errlen, "%s: '%s' is not a decimal string", ctx, field);
        return TB_EPARSE;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    /* tb_dec_parse takes "0.000100000000" (zeros past the 8th digit) and
     * refuses non-zero ones with TB_ERANGE. */
    int rc = tb_dec_parse(s, n, out);
    if (rc == 0) return 0;
    if (rc == TB_ERANGE)
        tb__errf(err, errlen, "%s: '%s' \"%.*s\" has more than %d decimals", ctx, field, BN_ECHO, s,
                 TB_DECIMAL_SCALE);
    else if (rc == TB_EOVERFLOW)
        tb__errf(err, errlen, "%s: '%s' \"%.*s\" is out of range", ctx, field, BN_ECHO, s);
    else
        tb__errf(err, errlen, "%s: '%s' \"%.*s\" is not a decimal", ctx, field, BN_ECHO, s);
    return TB_EPARSE;
}

int bn__i64_v(json_t *v, const char *ctx, const char *field, int64_t *out, char *err, size_t errlen)
{
    if (v == NULL) return missing(ctx, field, err, errlen);
    if (!json_is_integer(v)) {
        tb__errf(err, errlen, "%s: '%s' is not an integer", ctx, field);
        return TB_EPARSE;
    }
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int bn__time_v(json_t *v, const char *ctx, const char *field, int64_t *ns, char *err, size_t errlen)
{
    int64_t t;
    int rc = bn__i64_v(v, ctx, field, &t, err, errlen);
    if (rc) return rc;
    int64_t unit = t >= BN_US_THRESHOLD ? BN_NS_PER_US : BN_NS_PER_MS;
    if (t < 0 || t > INT64_MAX / unit) {
        tb__errf(err, errlen, "%s: '%s' %" PRId64 " is out of range", ctx, field, t);
        return TB_EPARSE;
    }
    *ns = t * unit;
    return 0;
}

int bn__str(json_t *obj, const char *key, const char *ctx, int required, char *out, size_t cap,
            char *err, size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) {
        out[0] = '\0';
        return 0;
    }
    return bn__str_v(v, ctx, key, out, cap, err, errlen);
}

int bn__dec(json_t *obj, const char *key, const char *ctx, int required, tb_decimal *out, char *err,
            size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) {
        *out = 0;
        return 0;
    }
    return bn__dec_v(v, ctx, key, out, err, errlen);
}

int bn__i64(json_t *obj, const char *key, const char *ctx, int required, int64_t *out, char *err,
            size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) return 0; /* the caller's default stays */
    return bn__i64_v(v, ctx, key, out, err, errlen);
}

int bn__u64(json_t *obj, const char *key, const char *ctx, int required, uint64_t *out, char *err,
            size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) {
        *out = 0;
        return 0;
    }
    int64_t i;
    int rc = bn__i64_v(v, ctx, key, &i, err, errlen);
    if (rc) return rc;
    if (i < 0) {
        tb__errf(err, errlen, "%s: '%s' %" PRId64 " is negative", ctx, key, i);
        return TB_EPARSE;
    }
    *out = (uint64_t)i;
    return 0;
}

int bn__time(json_t *obj, const char *key, const char *ctx, int required, int64_t *ns, char *err,
             size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) {
        *ns = 0;
        return 0;
    }
    return bn__time_v(v, ctx, key, ns, err, errlen);
}

int bn__bool(json_t *obj, const char *key, const char *ctx, int required, int *out, char *err,
             size_t errlen)
{
    json_t *v = bn__member(obj, key);
    if (v == NULL && !required) {
        *out = 0;
        return 0;
    }
    if (v == NULL) return missing(ctx, key, err, errlen);
    if (!json_is_boolean(v)) {
        tb__errf(err, errlen, "%s: '%s' is not true or false", ctx, key);
        return TB_EPARSE;
    }
    *out = json_is_true(v);
    return 0;
}
