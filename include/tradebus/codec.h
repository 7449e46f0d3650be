/* tradebus — the JSON wire codec.
 *
 * Events cross process boundaries (broker, journal, events.jsonl) as one JSON
 * object:  {"type":"OrderFilled","version":1,"event_id":"...","causation_id":"...",
 * "correlation_id":"...","timestamp":1704067260000000000,"source":"orders",
 * "payload":{...}}. Ids are JSON strings of the unsigned 64-bit id in decimal,
 * decimals are JSON strings ("42000.5"), enums are their wire names, times are
 * integer nanoseconds. The field names of each payload are the seed's
 * (snake_case of the tb_event.h members). Encoding is canonical: fixed key
 * order, no spaces, so equal events encode to equal bytes.
 *
 * Decoding is strict: every required field present with the right JSON type,
 * no unknown fields, enum names known, decimals well-formed, finite and in
 * range, strings within their size, ids non-zero. The first offence is
 * reported in err as "payload.filled_price: not a decimal string". */
#ifndef TRADEBUS_CODEC_H
#define TRADEBUS_CODEC_H

#include <stddef.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of an error buffer large enough for any codec message. */
#define TB_CODEC_ERRLEN 160

/* Encodes ev into buf (NUL-terminated). Returns the length written (> 0), or
 * TB_EFULL if buf is too small, TB_EINVAL if ev's type is unknown.
 * Allocates nothing. 2048 bytes always suffice. */
TB_EXPORT int tb_codec_encode(const tb_event *ev, char *buf, size_t buflen);
/* Decodes len bytes of JSON into *out. Returns 0, or TB_EPARSE with a message
 * naming the offending field in err[errlen] (may be NULL), TB_EINVAL if json
 * or out is NULL, TB_ENOMEM if the JSON parser runs out of memory. *out is
 * only meaningful on success.
 * Allocates nothing when the input is a valid event whose strings hold no
 * backslash escape and whose numbers are all non-negative integers: what
 * tb_codec_encode writes unless a string needed escaping (a quote, a
 * backslash, a control character), in any member order, with any JSON
 * whitespace. Any other input, every refusal included, is parsed again with
 * jansson, which allocates; the result and the message are the same either
 * way. */
TB_EXPORT int tb_codec_decode(const char *json, size_t len, tb_event *out, char *err,
                              size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
