/* libFuzzer harness: the JSON event decoder (tb_codec_decode), the boundary
 * every event from a broker, journal or file crosses.
 *
 * Beyond "never crashes, never leaks", it checks the codec's promise that
 * encoding is canonical: whatever decodes must encode, and that encoding must
 * decode to the very same event and re-encode to the very same bytes. A
 * violation means an event could change meaning (or be refused) on its second
 * hop through the journal or the broker, so it aborts like a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tradebus/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with both sides printed: libFuzzer then saves the input. */
static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_codec: %s\n  first:  %s\n  second: %s\n", what, a, b);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tb_event ev;
    char err[TB_CODEC_ERRLEN];
    int rc = tb_codec_decode((const char *)data, size, &ev, err, sizeof err);
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

    int n2 = tb_codec_encode(&again, second, sizeof second);
    if (n2 != n1 || memcmp(first, second, (size_t)n1) != 0)
        fail("encoding is not canonical", first, second);
    return 0;
}
