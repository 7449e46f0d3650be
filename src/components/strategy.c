/* Parameter helpers for strategies (the built-ins and C plug-ins alike).
 *
 * Values are strings from the config file. Each helper accepts exactly one
 * spelling family and nothing around it (no surrounding spaces, no trailing
 * junk, no hex or "inf"), so a typo fails loudly at startup instead of
 * trading with a half-parsed number. A key given twice is an error too: with
 * two values there is no obviously right one. */
#include "../core/errbuf.h"
#include "tradebus/strategy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0 with *value = NULL (absent) or the value ("" for a NULL value), or
 * TB_ECONFIG if key appears more than once. */
static int lookup(const tb_param *p, size_t n, const char *key, const char **value, char *err,
                  size_t errlen)
{
    *value = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!p[i].key || strcmp(p[i].key, key) != 0) continue;
        if (*value) {
            tb__errf(err, errlen, "%s: given more than once", key);
            return TB_ECONFIG;
        }
        *value = p[i].value ? p[i].value : "";
    }
    return 0;
}

static int args_ok(const tb_param *p, size_t n, const char *key, const void *out)
{
    return key && out && (p || n == 0);
}

int tb_param_int(const tb_param *p, size_t n, const char *key, long def, long lo, long hi,
                 long *out, char *err, size_t errlen)
{
    if (!args_ok(p, n, key, out)) return TB_EINVAL;
    const char *v;
    int rc = lookup(p, n, key, &v, err, errlen);
    if (rc) return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    /* strtol skips leading whitespace; we do not. */
    int ok =
        (*v == '+' || *v == '-' || (*v >= '0' && *v <= '9')) && *end == '\0' && errno != ERANGE;
    if (!ok || x < lo || x > hi) {
        tb__errf(err, errlen, "%s: expected an integer from %ld to %ld, got '%s'", key, lo, hi, v);
        return TB_ECONFIG;
    }
    *out = x;
    return 0;
}

int tb_param_double(const tb_param *p, size_t n, const char *key, double def, double lo, double hi,
                    double *out, char *err, size_t errlen)
{
    if (!args_ok(p, n, key, out)) return TB_EINVAL;
    const char *v;
    int rc = lookup(p, n, key, &v, err, errlen);
    if (rc) return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    /* Plain decimal notation only: strtod would also take " 1", "0x1p3",
     * "inf" and "nan". */
    int ok = *v != '\0' && strspn(v, "0123456789+-.eE") == strlen(v);
    char *end = NULL;
    double x = 0.0;
    if (ok) {
        errno = 0;
        x = strtod(v, &end);
        ok = *end == '\0' && errno != ERANGE && isfinite(x);
    }
    if (!ok || x < lo || x > hi) {
        tb__errf(err, errlen, "%s: expected a number from %g to %g, got '%s'", key, lo, hi, v);
        return TB_ECONFIG;
    }
    *out = x;
    return 0;
}

int tb_param_decimal(const tb_param *p, size_t n, const char *key, tb_decimal def, tb_decimal *out,
                     char *err, size_t errlen)
{
    if (!args_ok(p, n, key, out)) return TB_EINVAL;
    const char *v;
    int rc = lookup(p, n, key, &v, err, errlen);
    if (rc) return rc;
    if (!v) {
        *out = def;
        return 0;
    }
    tb_decimal x;
    if (tb_dec_parse(v, (size_t)-1, &x) != 0) {
        tb__errf(err, errlen,
                 "%s: expected a decimal number with at most %d fractional digits, got '%s'", key,
                 TB_DECIMAL_SCALE, v);
        return TB_ECONFIG;
    }
    *out = x;
    return 0;
}

/* ASCII-only case folding: locale-independent, unlike strcasecmp. */
static int equals_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        if (ca != *b) return 0;
    }
    return *a == *b;
}

int tb_param_bool(const tb_param *p, size_t n, const char *key, int def, int *out, char *err,
                  size_t errlen)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (!args_ok(p, n, key, out)) return TB_EINVAL;
    const char *v;
    int rc = lookup(p, n, key, &v, err, errlen);
    if (rc) return rc;
    if (!v) {
        *out = def ? 1 : 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (equals_nocase(v, yes[i])) {
            *out = 1;
            return 0;
        }
        if (equals_nocase(v, no[i])) {
            *out = 0;
            return 0;
        }
    }
    tb__errf(err, errlen, "%s: expected true/false, yes/no, on/off or 1/0, got '%s'", key, v);
    return TB_ECONFIG;
}

/* Appends to err like strlcat, keeping it NUL-terminated when full. */
static void append(char *err, size_t errlen, const char *s)
{
    size_t used = strlen(err);
    if (used + 1 >= errlen) return;
    size_t room = errlen - used - 1, len = strlen(s);
    if (len > room) len = room;
    memcpy(err + used, s, len);
    err[used + len] = '\0';
}

int tb_param_check_known(const tb_param *p, size_t n, const char *const *known, char *err,
                         size_t errlen)
{
    if (!known || (!p && n > 0)) return TB_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const char *key = p[i].key ? p[i].key : "";
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (known[k]) continue;
        if (!err || errlen == 0) return TB_ECONFIG;
        tb__errf(err, errlen, "unknown parameter '%s' (known: ", key);
        if (!known[0]) append(err, errlen, "none");
        for (k = 0; known[k]; k++) {
            if (k > 0) append(err, errlen, ", ");
            append(err, errlen, known[k]);
        }
        append(err, errlen, ")");
        return TB_ECONFIG;
    }
    return 0;
}
