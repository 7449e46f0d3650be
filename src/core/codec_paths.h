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

#endif
