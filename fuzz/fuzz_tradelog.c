/* libFuzzer harness: the canonical trade-log reader. A trade log comes from
 * another program (docs/trade-log.md), so every byte of it is untrusted.
 *
 * The input is used twice: as one line for tb_trade_record_decode (whatever
 * decodes must encode, and the encoding must decode to the same record at the
 * log's millisecond resolution and re-encode to the same bytes), and as a
 * whole log for tb_tradelog_read through an in-memory FILE. */
#define _GNU_SOURCE /* fmemopen */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tradebus/tradelog.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NS_PER_MS 1000000

static void fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_tradelog: %s\n  first:  %s\n  second: %s\n", what, a, b);
    abort();
}

static void check_line(const char *line, size_t len)
{
    tb_trade_record rec;
    char err[256];
    int rc = tb_trade_record_decode(line, len, &rec, err, sizeof err);
    if (rc != 0) {
        if (err[0] == '\0' && rc != TB_ENOMEM) fail("refused without a reason", "", "");
        return;
    }
    /* 512 bytes always suffice, says the header. */
    char first[512], second[512];
    int n1 = tb_trade_record_encode(&rec, first, sizeof first);
    if (n1 <= 0) fail("a decoded record does not encode", tb_strerror(n1), "");

    tb_trade_record again;
    if (tb_trade_record_decode(first, (size_t)n1, &again, err, sizeof err) != 0)
        fail("the encoding of a decoded record does not decode", first, err);
    /* Times travel at millisecond resolution, and a MARKET order's price is
     * written as "0" whatever it was: compare what the format carries. */
    tb_trade_record want = rec;
    want.time = rec.time - rec.time % NS_PER_MS;
    if (want.kind == TB_REC_ORDER && want.order_type == TB_ORDER_MARKET) want.price = 0;
    if (memcmp(&want, &again, sizeof want) != 0) fail("round trip changed the record", first, "");

    int n2 = tb_trade_record_encode(&again, second, sizeof second);
    if (n2 != n1 || memcmp(first, second, (size_t)n1) != 0)
        fail("encoding is not canonical", first, second);
}

/* Counts records and checks the reader numbers lines upward. */
typedef struct {
    uint64_t records, last_line;
} sink_state;

static int sink(const tb_trade_record *rec, void *ctx)
{
    sink_state *s = ctx;
    if (rec->line <= s->last_line) fail("line numbers do not increase", "", "");
    s->last_line = rec->line;
    s->records++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_line((const char *)data, size);

    /* fmemopen refuses a zero-sized buffer; an empty log is covered by the
     * seed corpus's blank-line input anyway. */
    if (size == 0) return 0;
    /* A private copy: fmemopen's "r" mode does not write, but its
     * prototype takes a non-const buffer. */
    char *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    FILE *f = fmemopen(copy, size, "r");
    if (f) {
        sink_state s = {0, 0};
        char err[512];
        int rc = tb_tradelog_read(f, "fuzz.jsonl", sink, &s, err, sizeof err);
        if (rc != 0 && err[0] == '\0') fail("read failed without a reason", "", "");
        fclose(f);
    }
    free(copy);
    return 0;
}
