/* tradebus — Binance Spot: request signing, query strings and the numbers
 * written into them. See bn_proto.h for the contract. */
#include "bn_proto.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int bn_sign_hmac(const char *secret, const char *msg, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (secret == NULL || (msg == NULL && len > 0) || out == NULL) return TB_EINVAL;
    size_t klen = strlen(secret);
    /* HMAC() takes an int key length; a secret that long is no Binance key. */
    if (klen > INT32_MAX) return TB_EINVAL;
    /* OpenSSL wants a non-NULL data pointer even for an empty message. */
    if (HMAC(EVP_sha256(), secret, (int)klen, (const unsigned char *)(msg ? msg : ""), len, md,
             &mdlen) == NULL ||
        mdlen != 32)
        return TB_EIO;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* ---- query strings ---------------------------------------------------- */

void bn_query_init(bn_query *q)
{
    memset(q, 0, sizeof *q);
}

/* Index of key in q, or -1. */
static int query_find(const bn_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return (int)i;
    return -1;
}

/* Stores key=value in slot i (i == q->n appends). Too long is TB_EINVAL,
 * too many TB_EFULL; both sticky. */
static void query_put(bn_query *q, size_t i, const char *key, const char *value)
{
    if (q->err) return;
    if (key == NULL || value == NULL || key[0] == '\0') {
        q->err = TB_EINVAL;
        return;
    }
    size_t kl = strlen(key), vl = strlen(value);
    if (kl >= sizeof q->key[0] || vl >= sizeof q->val[0]) {
        q->err = TB_EINVAL;
        return;
    }
    if (i >= BN_QUERY_PARAMS) {
        q->err = TB_EFULL;
        return;
    }
    memcpy(q->key[i], key, kl + 1);
    memcpy(q->val[i], value, vl + 1);
    if (i == q->n) q->n++;
}

void bn_query_add(bn_query *q, const char *key, const char *value)
{
    query_put(q, q->n, key, value);
}

void bn_query_add_i64(bn_query *q, const char *key, int64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    query_put(q, q->n, key, buf);
}

void bn_query_add_dec(bn_query *q, const char *key, tb_decimal value)
{
    char buf[32];
    if (bn_format_decimal(value, buf, sizeof buf) < 0) {
        if (!q->err) q->err = TB_EINVAL;
        return;
    }
    query_put(q, q->n, key, buf);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded at out[*pos]; TB_EFULL if it (and a NUL) does
 * not fit. */
static int put_encoded(const char *s, char *out, size_t outlen, size_t *pos)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t p = *pos;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (is_unreserved(*c)) {
            if (p + 1 >= outlen) return TB_EFULL;
            out[p++] = (char)*c;
        } else {
            if (p + 3 >= outlen) return TB_EFULL;
            out[p++] = '%';
            out[p++] = hex[*c >> 4];
            out[p++] = hex[*c & 15];
        }
    }
    *pos = p;
    return 0;
}

static int put_raw(const char *s, char *out, size_t outlen, size_t *pos)
{
    size_t l = strlen(s);
    if (*pos + l >= outlen) return TB_EFULL;
    memcpy(out + *pos, s, l);
    *pos += l;
    return 0;
}

int bn_query_encode(const bn_query *q, char *out, size_t outlen)
{
    if (q == NULL || out == NULL || outlen == 0) return TB_EINVAL;
    out[0] = '\0';
    if (q->err) return q->err;
    size_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < q->n && rc == 0; i++) {
        if (i > 0) rc = put_raw("&", out, outlen, &pos);
        if (rc == 0) rc = put_encoded(q->key[i], out, outlen, &pos);
        if (rc == 0) rc = put_raw("=", out, outlen, &pos);
        if (rc == 0) rc = put_encoded(q->val[i], out, outlen, &pos);
    }
    if (rc) {
        out[0] = '\0';
        return rc;
    }
    out[pos] = '\0';
    return 0;
}

/* Sets key to value: replaced in place when q already has it, so a request
 * re-signed after a clock resync (-1021) carries one timestamp, not two
 * (Binance refuses a repeated parameter with -1101). */
static void query_set_i64(bn_query *q, const char *key, int64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    int i = query_find(q, key);
    query_put(q, i < 0 ? q->n : (size_t)i, key, buf);
}

int bn_query_sign(bn_query *q, const char *secret, int64_t timestamp_ms, int64_t recv_window_ms,
                  char *out, size_t outlen)
{
    if (q == NULL || secret == NULL || out == NULL || outlen == 0) return TB_EINVAL;
    /* recvWindow before timestamp: the order of rest-api.md's example, so
     * its published signature is reproduced byte for byte. */
    if (recv_window_ms > 0) query_set_i64(q, "recvWindow", recv_window_ms);
    query_set_i64(q, "timestamp", timestamp_ms);
    int rc = bn_query_encode(q, out, outlen);
    if (rc) return rc;
    size_t pos = strlen(out);
    /* "&signature=" + 64 hex digits + NUL. */
    if (pos + 11 + 64 + 1 > outlen) {
        out[0] = '\0';
        return TB_EFULL;
    }
    char sig[65];
    rc = bn_sign_hmac(secret, out, pos, sig);
    if (rc) {
        out[0] = '\0';
        return rc;
    }
    memcpy(out + pos, "&signature=", 11);
    memcpy(out + pos + 11, sig, 65);
    return 0;
}

int bn_ws_signature(const bn_query *q, const char *secret, char sig[65])
{
    if (q == NULL || secret == NULL || sig == NULL) return TB_EINVAL;
    sig[0] = '\0';
    if (q->err) return q->err;
    /* Insertion sort of indexes: at most BN_QUERY_PARAMS, and the params
     * stay in the caller's order for the JSON request. */
    size_t idx[BN_QUERY_PARAMS], n = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->key[i], "signature") == 0) continue; /* never signs itself */
        size_t j = n++;
        while (j > 0 && strcmp(q->key[idx[j - 1]], q->key[i]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    char payload[BN_QUERY_PARAMS * (sizeof q->key[0] + sizeof q->val[0] + 2)];
    size_t pos = 0;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        if (k > 0) rc = put_raw("&", payload, sizeof payload, &pos);
        if (rc == 0) rc = put_raw(q->key[idx[k]], payload, sizeof payload, &pos);
        if (rc == 0) rc = put_raw("=", payload, sizeof payload, &pos);
        if (rc == 0) rc = put_raw(q->val[idx[k]], payload, sizeof payload, &pos);
    }
    if (rc) return rc; /* cannot happen: the buffer holds every slot at full length */
    return bn_sign_hmac(secret, payload, pos, sig);
}

/* ---- numbers ---------------------------------------------------------- */

int bn_format_decimal(tb_decimal v, char *out, size_t outlen)
{
    if (out == NULL) return TB_EINVAL;
    /* tb_dec_format already writes the API's form: plain digits, at most 8
     * decimals without trailing zeros, no exponent, no '+'. */
    char buf[TB_DECIMAL_STRLEN];
    int n = tb_dec_format(v, buf, sizeof buf);
    if (n < 0) return n;
    if ((size_t)n + 1 > outlen) {
        if (outlen > 0) out[0] = '\0';
        return TB_EFULL;
    }
    memcpy(out, buf, (size_t)n + 1);
    return n;
}
