/* The exchange registry: the table of built-in adapter types, key checks
 * and the readers an adapter's create uses on a built config. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/errbuf.h"
#include "tradebus/binance.h"
#include "tradebus/config.h"
#include "tradebus/exchange_registry.h"
#include "tradebus/sim_exchange.h"

/* Every built-in exchange type: an adapter is its own files plus one line
 * here. The first is the default's (TB_EXCHANGE_DEFAULT_TYPE). */
static const tb_exchange_type *const builtins[] = {
    &tb_sim_exchange_type,
    &tb_binance_exchange_type,
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const tb_exchange_type *tb_exchange_builtin_at(size_t i)
{
    return i < NBUILTINS ? builtins[i] : NULL;
}

const tb_exchange_type *tb_exchange_builtin(const char *name)
{
    return tb_exchange_type_find(NULL, 0, name);
}

const tb_exchange_type *tb_exchange_type_find(const tb_exchange_type *const *extra, size_t n,
                                              const char *name)
{
    if (!name) return NULL;
    /* The program's own first, as for strategy types: it may replace one. */
    for (size_t i = 0; extra && i < n; i++)
        if (extra[i] && extra[i]->name && strcasecmp(extra[i]->name, name) == 0) return extra[i];
    for (size_t i = 0; i < NBUILTINS; i++)
        if (strcasecmp(builtins[i]->name, name) == 0) return builtins[i];
    return NULL;
}

const tb_exchange_key *tb_exchange_type_key(const tb_exchange_type *type, const char *name)
{
    if (!type || !name) return NULL;
    for (size_t i = 0; i < type->nkeys; i++)
        if (strcmp(type->keys[i].name, name) == 0) return &type->keys[i];
    return NULL;
}

static int fail(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (msg && msglen) vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return TB_ECONFIG;
}

/* "is out of range [lo, hi]", or the one bound there is. The messages are
 * the config's own for its built-in keys, so every section reads alike. */
static int out_of_range(const tb_exchange_key *k, const char *value, char *msg, size_t msglen)
{
    if (k->min && k->max)
        return fail(msg, msglen, "%s is out of range [%s, %s]", value, k->min, k->max);
    if (k->min) return fail(msg, msglen, "%s is out of range (at least %s)", value, k->min);
    return fail(msg, msglen, "%s is out of range (at most %s)", value, k->max);
}

static int parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if ((errno && errno != ERANGE) || end == s || *end) return TB_EPARSE;
    *out = v;
    return errno == ERANGE ? TB_ERANGE : 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
    }
    return TB_EPARSE;
}

/* 1 if value is one of the '|'-separated values (any case). */
static int enum_has(const char *values, const char *value)
{
    size_t n = strlen(value);
    for (const char *v = values; v && *v;) {
        size_t len = strcspn(v, "|");
        if (len == n && strncasecmp(v, value, n) == 0) return 1;
        v += len;
        if (*v == '|') v++;
    }
    return 0;
}

int tb_exchange_key_check(const tb_exchange_key *k, const char *value, char *msg, size_t msglen)
{
    if (msg && msglen) msg[0] = 0;
    if (!k || !value) return fail(msg, msglen, "no value");
    switch (k->kind) {
    case TB_XKEY_DECIMAL: {
        tb_decimal v, b;
        int rc = tb_dec_parse(value, (size_t)-1, &v);
        if (rc == TB_ERANGE)
            return fail(msg, msglen, "%s has more than %d decimals", value, TB_DECIMAL_SCALE);
        if (rc && rc != TB_EOVERFLOW)
            return fail(msg, msglen, "'%s' is not a decimal number (e.g. 10 or 0.5)", value);
        /* A number too large for a decimal is out of range like any other. */
        if (rc || (k->min && tb_dec_parse(k->min, (size_t)-1, &b) == 0 && v < b) ||
            (k->max && tb_dec_parse(k->max, (size_t)-1, &b) == 0 && v > b))
            return out_of_range(k, value, msg, msglen);
        break;
    }
    case TB_XKEY_INT: {
        long long v, b;
        int rc = parse_ll(value, &v);
        if (rc == TB_EPARSE) return fail(msg, msglen, "'%s' is not an integer", value);
        if (rc || (k->min && parse_ll(k->min, &b) == 0 && v < b) ||
            (k->max && parse_ll(k->max, &b) == 0 && v > b))
            return out_of_range(k, value, msg, msglen);
        break;
    }
    case TB_XKEY_BOOL: {
        int b;
        if (parse_bool(value, &b) != 0)
            return fail(msg, msglen, "'%s' is not true or false", value);
        break;
    }
    case TB_XKEY_ENUM:
        if (!enum_has(k->values, value)) {
            /* "a|b|c" read as "a, b or c". */
            char list[256] = "";
            size_t len = 0;
            const char *v = k->values ? k->values : "";
            while (*v && len < sizeof(list)) {
                size_t n = strcspn(v, "|");
                const char *next = v[n] == '|' ? v + n + 1 : v + n;
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%.*s",
                                        len == 0 ? ""
                                        : !*next ? " or "
                                                 : ", ",
                                        (int)n, v);
                v = next;
            }
            return fail(msg, msglen, "'%s' must be %s", value, list);
        }
        break;
    case TB_XKEY_TEXT:
        break;
    default:
        return fail(msg, msglen, "key of unknown kind %d", (int)k->kind);
    }
    if (k->check && k->check(value, msg, msglen) != 0) {
        if (msg && msglen && !msg[0]) snprintf(msg, msglen, "'%s' is not valid", value);
        return TB_ECONFIG;
    }
    return 0;
}

const char *tb_exchange_param(const tb_config *cfg, const char *key)
{
    if (!cfg || !key) return NULL;
    const tb_exchange_key *k = tb_exchange_type_key(cfg->exchange_type, key);
    if (!k) return NULL;
    const char *v = tb_config_value(cfg, "exchange", key, NULL);
    return v ? v : k->def;
}

int tb_exchange_param_dec(const tb_config *cfg, const char *key, tb_decimal *out)
{
    const char *v = tb_exchange_param(cfg, key);
    if (!v) return TB_ENOTFOUND;
    return tb_dec_parse(v, (size_t)-1, out) == 0 ? 0 : TB_ECONFIG;
}

int tb_exchange_param_int(const tb_config *cfg, const char *key, long long *out)
{
    const char *v = tb_exchange_param(cfg, key);
    if (!v) return TB_ENOTFOUND;
    return parse_ll(v, out) == 0 ? 0 : TB_ECONFIG;
}

int tb_exchange_param_bool(const tb_config *cfg, const char *key, int *out)
{
    const char *v = tb_exchange_param(cfg, key);
    if (!v) return TB_ENOTFOUND;
    return parse_bool(v, out) == 0 ? 0 : TB_ECONFIG;
}

int tb_exchange_create_from_config(const tb_config *cfg, tb_loop *loop, tb_exchange **out,
                                   char *err, size_t errlen)
{
    if (!cfg || !out) return TB_EINVAL;
    if (!cfg->built || !cfg->exchange_type) {
        tb__errf(err, errlen, "the config must be built first (tb_config_build)");
        return TB_EMISUSE;
    }
    const tb_exchange_type *t = cfg->exchange_type;
    char msg[256] = "";
    *out = NULL;
    int rc = t->create(t, cfg, loop, out, msg, sizeof(msg));
    if (rc) {
        tb__errf(err, errlen, "[exchange] %s: %s", t->name, msg[0] ? msg : tb_strerror(rc));
        return rc;
    }
    if (!*out) {
        tb__errf(err, errlen, "[exchange] %s: its create returned no exchange", t->name);
        return TB_EMISUSE;
    }
    return 0;
}
