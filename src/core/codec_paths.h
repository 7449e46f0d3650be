/* Private (not installed): tb_codec_decode's two paths one at a time, for
 * the tests, the fuzzer and the benchmark that hold them to each other. */
#ifndef TRADEBUS_CODEC_PATHS_H
#define TRADEBUS_CODEC_PATHS_H

#include <stddef.h>
#include <tradebus/codec.h>

/* The allocation-free parser alone: 0 with *out decoded exactly as
 * tb__codec_decode_strict would decode it, or TB_EPARSE when it is not sure
 * (the input is invalid, or uses JSON it does not read); *out is then
 * meaningless. Says nothing about why. TB_EINVAL if json or out is NULL. */
int tb__codec_decode_fast(const char *json, size_t len, tb_event *out);

/* jansson's path alone, with tb_codec_decode's contract. */
int tb__codec_decode_strict(const char *json, size_t len, tb_event *out, char *err, size_t errlen);

/* The two paths with a decoding mode (codec_int.h: TB__DECODE_*). */
int tb__codec_decode_fast_mode(const char *json, size_t len, tb_event *out, int mode);
int tb__codec_decode_strict_mode(const char *json, size_t len, tb_event *out, char *err,
                                 size_t errlen, int mode);
/* An event an external component publishes (external.h): tb_codec_decode's
 * contract and checks, except that event_id, causation_id, correlation_id
 * and source must be absent (the host assigns them) and version and
 * timestamp may be (timestamp is then INT64_MIN). */
int tb__codec_decode_published(const char *json, size_t len, tb_event *out, char *err,
                               size_t errlen);

#endif
