/* tradebus — internal to the Binance protocol layer: reading typed fields
 * out of jansson values, each failure TB_EPARSE with "CTX: 'FIELD' why" in
 * err, so every parser names what was wrong the same way. ctx is the place
 * in the reply ("order", "klines[3]"). A JSON null counts as missing
 * (Binance sends "N": null for no commission asset). */
#ifndef TB_BN_JSON_H
#define TB_BN_JSON_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "tradebus/decimal.h"

/* Parses json[0..len) into *out (to json_decref); TB_EPARSE naming what
 * (e.g. "exchangeInfo reply") and jansson's reason. */
int bn__json_load(const char *json, size_t len, const char *what, json_t **out, char *err,
                  size_t errlen);

/* The object's member key, NULL when absent or null. */
json_t *bn__member(json_t *obj, const char *key);

/* Typed reads of v, named field in messages. v NULL: missing. */
int bn__str_v(json_t *v, const char *ctx, const char *field, char *out, size_t cap, char *err,
              size_t errlen);
int bn__dec_v(json_t *v, const char *ctx, const char *field, tb_decimal *out, char *err,
              size_t errlen);
int bn__i64_v(json_t *v, const char *ctx, const char *field, int64_t *out, char *err,
              size_t errlen);
/* A time on the wire (ms, or µs from 1e14 on, as the kline CSV reader
 * reads them) in ns; negative or out of range is TB_EPARSE. */
int bn__time_v(json_t *v, const char *ctx, const char *field, int64_t *ns, char *err,
               size_t errlen);

/* The same on obj's member key. required == 0: a missing member leaves a
 * default (out "" / 0 / dflt) and is no error. */
int bn__str(json_t *obj, const char *key, const char *ctx, int required, char *out, size_t cap,
            char *err, size_t errlen);
int bn__dec(json_t *obj, const char *key, const char *ctx, int required, tb_decimal *out, char *err,
            size_t errlen);
int bn__i64(json_t *obj, const char *key, const char *ctx, int required, int64_t *out, char *err,
            size_t errlen);
int bn__u64(json_t *obj, const char *key, const char *ctx, int required, uint64_t *out, char *err,
            size_t errlen);
int bn__time(json_t *obj, const char *key, const char *ctx, int required, int64_t *ns, char *err,
             size_t errlen);
int bn__bool(json_t *obj, const char *key, const char *ctx, int required, int *out, char *err,
             size_t errlen);

#endif
