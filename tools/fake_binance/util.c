/* Decimals, buffers, request parameters and signing for the fake Binance. */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fb.h"

/* ---- decimals ---- */

int fb_dec_parse(const char *s, fb_dec *out)
{
    const char *p = s;
    int64_t ip = 0, fp = 0;
    int ni = 0, nf = 0, overflow = 0, excess = 0;
    if (!s) return FB_DEC_SYNTAX;
    for (; *p >= '0' && *p <= '9'; p++, ni++) {
        if (ip > INT64_MAX / FB_SCALE / 10)
            overflow = 1;
        else
            ip = ip * 10 + (*p - '0');
    }
    if (ni < 1 || ni > 20) return FB_DEC_SYNTAX;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, nf++) {
            if (nf < 8)
                fp = fp * 10 + (*p - '0');
            else if (*p != '0')
                excess = 1;
        }
        if (nf < 1 || nf > 20) return FB_DEC_SYNTAX;
    }
    if (*p) return FB_DEC_SYNTAX;
    if (overflow || ip > INT64_MAX / FB_SCALE) return FB_DEC_OVERFLOW;
    if (excess) return FB_DEC_PRECISION;
    for (int i = nf < 8 ? nf : 8; i < 8; i++)
        fp *= 10;
    *out = ip * FB_SCALE + fp;
    return FB_DEC_OK;
}

char *fb_dec_fmt(fb_dec v, char *buf)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(buf, 32, "%s%" PRIu64 ".%08" PRIu64, v < 0 ? "-" : "", u / (uint64_t)FB_SCALE,
             u % (uint64_t)FB_SCALE);
    return buf;
}

/* __int128 (a GCC/Clang builtin on 64-bit targets) keeps the product of two
 * scaled values exact before it is scaled back. */
fb_dec fb_dec_mul(fb_dec a, fb_dec b)
{
    return (fb_dec)(((__int128)a * b) / FB_SCALE);
}

fb_dec fb_dec_div(fb_dec a, fb_dec b)
{
    if (b == 0) return 0;
    return (fb_dec)(((__int128)a * FB_SCALE) / b);
}

json_t *fb_dec_json(fb_dec v)
{
    char b[32];
    return json_string(fb_dec_fmt(v, b));
}

/* ---- buffers ---- */

void *fb_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("fake_binance: out of memory\n", stderr);
        abort();
    }
    return q;
}

char *fb_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(fb_xrealloc(NULL, n), s, n);
}

void fb_buf_addn(fb_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = fb_xrealloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void fb_buf_adds(fb_buf *b, const char *s)
{
    fb_buf_addn(b, s, strlen(s));
}

void fb_buf_addf(fb_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        fb_buf_addn(b, small, (size_t)n);
        return;
    }
    char *big = fb_xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    fb_buf_addn(b, big, (size_t)n);
    free(big);
}

void fb_buf_free(fb_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- parameters ---- */

void fb_params_add(fb_params *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = fb_xrealloc(p->v, p->cap * sizeof *p->v);
    }
    fb_param *e = &p->v[p->n++];
    e->name = fb_xrealloc(NULL, nlen + 1);
    memcpy(e->name, name, nlen);
    e->name[nlen] = '\0';
    e->value = fb_xrealloc(NULL, vlen + 1);
    memcpy(e->value, value, vlen);
    e->value[vlen] = '\0';
}

void fb_params_free(fb_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

const char *fb_params_get(const fb_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i].name, name)) return p->v[i].value;
    return NULL;
}

int fb_params_count(const fb_params *p, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += !strcmp(p->v[i].name, name);
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void fb_urldecode(fb_buf *out, const char *s, size_t len, int plus_is_space)
{
    fb_buf_addn(out, "", 0);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            c = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        fb_buf_addn(out, &c, 1);
    }
}

void fb_params_parse_form(fb_params *p, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && s[eq] != '=')
                eq++;
            fb_buf n = {0}, v = {0};
            fb_urldecode(&n, s + i, eq - i, 1);
            if (eq < j)
                fb_urldecode(&v, s + eq + 1, j - eq - 1, 1);
            else
                fb_buf_addn(&v, "", 0);
            fb_params_add(p, n.p, n.len, v.p, v.len);
            fb_buf_free(&n);
            fb_buf_free(&v);
        }
        i = j + 1;
    }
}

json_t *fb_params_json(const fb_params *p)
{
    json_t *o = json_object();
    for (size_t i = 0; i < p->n; i++)
        if (!json_object_get(o, p->v[i].name))
            json_object_set_new(o, p->v[i].name, json_string(p->v[i].value));
    return o;
}

void fb_urlencode(fb_buf *out, const char *s, int strict, int plus_for_space)
{
    static const char hex[] = "0123456789ABCDEF";
    fb_buf_addn(out, "", 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        int keep;
        if (strict)
            keep = isalnum((int)c) || c == '-' || c == '.' || c == '_' || c == '~';
        else
            keep = c > 0x20 && c < 0x7f && !strchr("%&+=#", (int)c);
        if (c < 0x80 && keep) {
            char ch = (char)c;
            fb_buf_addn(out, &ch, 1);
        } else if (c == ' ' && plus_for_space) {
            fb_buf_addn(out, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            fb_buf_addn(out, e, 3);
        }
    }
}

/* ---- signing ---- */

void fb_hmac_hex(const char *key, const char *msg, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, len, md, &mdlen);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

int fb_sig_equal(const char *a, const char *b)
{
    return a && b && strlen(a) == 64 && !strcasecmp(a, b);
}

void fb_json_scalar_text(const json_t *v, fb_buf *out)
{
    char b[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        fb_buf_addn(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        fb_buf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: {
        double d = json_real_value(v);
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(b, sizeof b, "%.*g", prec, d);
            if (strtod(b, NULL) == d) break;
        }
        fb_buf_adds(out, b);
        break;
    }
    case JSON_TRUE:
        fb_buf_adds(out, "true");
        break;
    case JSON_FALSE:
        fb_buf_adds(out, "false");
        break;
    default: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) fb_buf_adds(out, s);
        free(s);
    }
    }
}
