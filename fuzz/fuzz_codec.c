/* libFuzzer harness: the JSON event decoder (tb_codec_decode), the boundary
 * every event from a broker, journal or file crosses.
 *
 * Beyond "never crashes, never leaks", it checks the codec's promise that
 * encoding is canonical: whatever decodes must encode, and that encoding must
 * decode to the very same event and re-encode to the very same bytes. A
 * violation means an event could change meaning (or be refused) on its second
 * hop through the journal or the broker, so it aborts like a crash.
 *
 * And it holds the decoder's two paths to each other (differential): the
 * allocation-free parser must accept nothing the jansson path refuses and
 * decode whatever it accepts to the same bytes, and tb_codec_decode (fast
 * path, then jansson when it is not sure) must give the jansson path's
 * result and message for every input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tradebus/codec.h>

#include <jansson.h>

#include "../src/components/external_int.h" /* the end-of-reply line */
#include "../src/core/codec_int.h"          /* TB__DECODE_PUBLISHED */
#include "../src/core/codec_paths.h"        /* the decoder's two paths one at a time */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with both sides printed: libFuzzer then saves the input. */
static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_codec: %s\n  first:  %s\n  second: %s\n", what, a, b);
    abort();
}

/* The input, made printable for a report. */
static const char *shown(const uint8_t *data, size_t size, char *buf, size_t cap)
{
    size_t n = size < cap - 1 ? size : cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = data[i] >= 0x20 && data[i] < 0x7f ? (char)data[i] : '?';
    buf[n] = '\0';
    return buf;
}

static void check_paths_agree(const uint8_t *data, size_t size, int rc, const tb_event *ev,
                              const char *err)
{
    const char *json = (const char *)data;
    char shown_input[512];
    tb_event strict, fast;
    char strict_err[TB_CODEC_ERRLEN];
    int strict_rc = tb__codec_decode_strict(json, size, &strict, strict_err, sizeof strict_err);
    /* jansson running out of memory on one call and not on the other is
     * no disagreement between the paths. */
    if (rc == TB_ENOMEM || strict_rc == TB_ENOMEM) return;
    if (rc != strict_rc || strcmp(err, strict_err) != 0)
        fail("decode and its strict path disagree", err, strict_err);
    if (rc == 0 && memcmp(ev, &strict, sizeof strict) != 0)
        fail("decode and its strict path decode to other bytes",
             shown(data, size, shown_input, sizeof shown_input), "");
    int fast_rc = tb__codec_decode_fast(json, size, &fast);
    if (fast_rc != 0 && fast_rc != TB_EPARSE) fail("the fast path returned an odd code", "", "");
    if (fast_rc == 0 && strict_rc != 0)
        fail("the fast path accepted what the strict path refuses",
             shown(data, size, shown_input, sizeof shown_input), strict_err);
    if (fast_rc == 0 && memcmp(&fast, &strict, sizeof strict) != 0)
        fail("the fast path decoded other bytes than the strict path",
             shown(data, size, shown_input, sizeof shown_input), "");
}

/* What an external component publishes (external.h): both paths agree in
 * that mode too, and a whole event (it has ids) is never taken for one. */
static void check_published(const uint8_t *data, size_t size, int full_rc)
{
    const char *json = (const char *)data;
    char shown_input[512], e1[TB_CODEC_ERRLEN], e2[TB_CODEC_ERRLEN];
    tb_event a, b;
    int rc = tb__codec_decode_published(json, size, &a, e1, sizeof e1);
    int src = tb__codec_decode_strict_mode(json, size, &b, e2, sizeof e2, TB__DECODE_PUBLISHED);
    if (rc == TB_ENOMEM || src == TB_ENOMEM) return;
    if (rc != src || strcmp(e1, e2) != 0) fail("published: the two paths disagree", e1, e2);
    if (rc == 0 && memcmp(&a, &b, sizeof a) != 0)
        fail("published: the paths decode to other bytes",
             shown(data, size, shown_input, sizeof shown_input), "");
    if (rc == 0 && full_rc == 0)
        fail("an event with ids decoded as a published one",
             shown(data, size, shown_input, sizeof shown_input), "");
}

/* The end-of-reply line's parser takes only what JSON reads as
 * {"end":"<digits>"}, and reads the digits' value. */
static void check_end_line(const uint8_t *data, size_t size)
{
    uint64_t id;
    char shown_input[512];
    if (!tb__external_end_line((const char *)data, (const char *)data + size, &id)) return;
    json_error_t je;
    json_t *o = json_loadb((const char *)data, size, 0, &je);
    json_t *v = o ? json_object_get(o, "end") : NULL;
    if (!o || json_object_size(o) != 1 || !json_is_string(v) ||
        strtoull(json_string_value(v), NULL, 10) != id || !json_string_length(v) ||
        strspn(json_string_value(v), "0123456789") != json_string_length(v))
        fail("the end-of-reply parser accepted what is no end line",
             shown(data, size, shown_input, sizeof shown_input), "");
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    int rc = tb_codec_decode((const char *)data, size, &ev, err, sizeof err);
    check_paths_agree(data, size, rc, &ev, err);
    check_published(data, size, rc);
    check_end_line(data, size);
    if (rc != 0) {
        /* A refusal must say why, and the reason must be a C string of
         * its buffer (the decoder quotes untrusted input in it). */
        if (err[0] == '\0' && rc != TB_ENOMEM) fail("refused without a reason", "", "");
        if (memchr(err, '\0', sizeof err) == NULL) fail("unterminated reason", "", "");
        return 0;
    }

    /* The header promises 2048 bytes always suffice. */
    char first[2048], second[2048];
    int n1 = tb_codec_encode(&ev, first, sizeof first);
    if (n1 <= 0) fail("a decoded event does not encode", tb_strerror(n1), "");
    if ((size_t)n1 != strlen(first)) fail("encode length is not the string's", first, "");

    tb_event again;
    if (tb_codec_decode(first, (size_t)n1, &again, err, sizeof err) != 0)
        fail("the encoding of a decoded event does not decode", first, err);
    /* The decoder zeroes the whole event first, so equal events are equal
     * bytes, padding and unused union members included. */
    if (memcmp(&ev, &again, sizeof ev) != 0) fail("round trip changed the event", first, "");

    /* The fast path is for what the encoder writes: it gives up only on
     * the escapes the encoder writes for quotes, backslashes and control
     * characters. */
    tb_event fast;
    if (memchr(first, '\\', (size_t)n1) == NULL &&
        (tb__codec_decode_fast(first, (size_t)n1, &fast) != 0 ||
         memcmp(&fast, &ev, sizeof ev) != 0))
        fail("the fast path gave up on, or misread, an encoding without escapes", first, "");

    int n2 = tb_codec_encode(&again, second, sizeof second);
    if (n2 != n1 || memcmp(first, second, (size_t)n1) != 0)
        fail("encoding is not canonical", first, second);
    return 0;
}
