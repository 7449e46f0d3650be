/* The parallel run's comparison: two trade logs, record by record. The
 * pipeline side is the log of the e2e series with a flip (see
 * test_tradelog.c); the legacy side is that log deliberately altered. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <tradebus/tradebus.h>

#include "tb_test_support.h"

#define T0 INT64_C(1704067200000000000) /* 2024-01-01T00:00:00Z */
#define MS INT64_C(1000000)

#define HEAD(kind, time) "{\"kind\":\"" kind "\",\"time\":\"2024-01-01T" time "Z\","
#define S1               "\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\","

#define SIG1                                                                                       \
    HEAD("signal", "00:04:59.999") S1 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12\"}\n"
#define ORD1                                                                                       \
    HEAD("order", "00:04:59.999")                                                                  \
    S1 "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\",\"price\":\"0\"}\n"
#define FIL1                                                                                       \
    HEAD("fill", "00:05:00.000")                                                                   \
    S1 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12.5\",\"commission\":\"0.0125\"}\n"
#define POS1                                                                                       \
    HEAD("position", "00:05:00.000")                                                               \
    S1 "\"quantity\":\"1\",\"entry_price\":\"12.5\",\"realized_pnl\":\"0\"}\n"
#define SIG2                                                                                       \
    HEAD("signal", "00:08:59.999") S1 "\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"10\"}\n"
#define ORD2                                                                                       \
    HEAD("order", "00:08:59.999")                                                                  \
    S1 "\"side\":\"SELL\",\"type\":\"MARKET\",\"quantity\":\"2\",\"price\":\"0\"}\n"
#define FIL2_AT(time, price)                                                                       \
    HEAD("fill", time)                                                                             \
    S1 "\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"" price "\",\"commission\":\"0.019\"}\n"
#define FIL2 FIL2_AT("00:09:00.000", "9.5")
#define POS2                                                                                       \
    HEAD("position", "00:09:00.000")                                                               \
    S1 "\"quantity\":\"-1\",\"entry_price\":\"9.5\",\"realized_pnl\":\"-3\"}\n"
#define FINAL_WITH(fees)                                                                           \
    "{\"kind\":\"final\",\"realized_pnl\":\"-3\",\"unrealized_pnl\":\"1.5\",\"fees\":\"" fees      \
    "\"}\n"
#define FINAL FINAL_WITH("0.0315")

/* Variants for the altered legacy logs. */
#define POS1_FLAT /* the position after a fill that never happened */                              \
    HEAD("position", "00:05:00.000")                                                               \
    S1 "\"quantity\":\"0\",\"entry_price\":\"0\",\"realized_pnl\":\"0\"}\n"
#define ORD_EXTRA /* an order the pipeline never placed */                                         \
    HEAD("order", "00:06:59.999")                                                                  \
    S1 "\"side\":\"BUY\",\"type\":\"LIMIT\",\"quantity\":\"1\",\"price\":\"13\"}\n"
#define FIL2_QTY /* the second fill, one quantum more */                                           \
    HEAD("fill", "00:09:00.000")                                                                   \
    S1 "\"side\":\"SELL\",\"quantity\":\"2.00000001\",\"price\":\"9.5\",\"commission\":\"0.019\"}" \
       "\n"
/* Signals and orders stamped with the next bar's open instead of the close. */
#define SIG1_LATE                                                                                  \
    HEAD("signal", "00:05:00.000") S1 "\"side\":\"BUY\",\"quantity\":\"1\",\"price\":\"12\"}\n"
#define ORD1_LATE                                                                                  \
    HEAD("order", "00:05:00.000") S1 "\"side\":\"BUY\",\"type\":\"MARKET\",\"quantity\":\"1\"}\n"
#define SIG2_LATE                                                                                  \
    HEAD("signal", "00:09:00.000") S1 "\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"10\"}\n"
#define ORD2_LATE                                                                                  \
    HEAD("order", "00:09:00.000") S1 "\"side\":\"SELL\",\"type\":\"MARKET\",\"quantity\":\"2\"}\n"
/* A second strategy's signal at the same time as SIG1. */
#define SIG1_S2                                                                                    \
    HEAD("signal", "00:04:59.999")                                                                 \
    "\"strategy_id\":\"s2\",\"symbol\":\"ETHUSDT\",\"side\":\"SELL\",\"quantity\":\"3\","          \
    "\"price\":\"20\"}\n"

static const char *const pipeline_log = SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2 POS2 FINAL;

/* ---- helpers ------------------------------------------------------------- */

typedef struct {
    tb_parity *p;
    tb_parity_side side;
} feed;

static int add_record(const tb_trade_record *rec, void *ctx)
{
    feed *f = ctx;
    return tb_parity_add(f->p, f->side, rec);
}

static void load(tb_parity *p, tb_parity_side side, const char *log)
{
    FILE *f = fmemopen((void *)log, strlen(log), "r");
    assert_non_null(f);
    feed fd = {p, side};
    char err[256];
    int rc = tb_tradelog_read(f, side == TB_SIDE_LEGACY ? "legacy.jsonl" : "pipeline", add_record,
                              &fd, err, sizeof err);
    fclose(f);
    if (rc) fail_msg("%s", err);
}

static tb_parity *parity_with(const tb_parity_options *opt, const char *pipe, const char *legacy)
{
    tb_parity *p;
    assert_int_equal(tb_parity_create(opt, &p), 0);
    load(p, TB_SIDE_PIPELINE, pipe);
    load(p, TB_SIDE_LEGACY, legacy);
    return p;
}

/* Compares everything at once; returns the divergences found. */
static tb_parity *compare_all(const tb_parity_options *opt, const char *legacy, int expected)
{
    tb_parity *p = parity_with(opt, pipeline_log, legacy);
    int n = tb_parity_compare(p, INT64_MAX);
    assert_int_equal(n, expected);
    assert_int_equal(tb_parity_get_summary(p).divergences, (uint64_t)expected);
    assert_int_equal(tb_parity_divergence_count(p), (size_t)expected);
    return p;
}

static char *report_of(const tb_parity *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tb_parity_write_report(p, f), 0);
    fclose(f);
    /* A copy: gcc -O3 takes the stream's buffer for one in this frame. */
    char *copy = strdup(buf);
    free(buf);
    assert_non_null(copy);
    return copy;
}

static void assert_divergence(const tb_parity *p, size_t i, tb_divergence_kind kind,
                              tb_record_kind rec, int64_t time, const char *field)
{
    const tb_divergence *d = tb_parity_divergence(p, i);
    assert_non_null(d);
    assert_int_equal(d->kind, kind);
    const tb_trade_record *r = kind == TB_DIV_ONLY_LEGACY ? &d->legacy : &d->pipeline;
    assert_int_equal(r->kind, rec);
    assert_true(r->time == time);
    if (field) assert_string_equal(d->field, field);
}

/* ---- tests --------------------------------------------------------------- */

static void test_identical_logs_report_identical_line(void **state)
{
    (void)state;
    tb_parity *p = compare_all(NULL, pipeline_log, 0);
    char *r = report_of(p);
    assert_string_equal(r, "IDENTICAL: 2 signals, 2 orders, 2 fills, final PnL equal\n");
    free(r);
    tb_parity_summary s = tb_parity_get_summary(p);
    assert_int_equal(s.records[TB_SIDE_LEGACY][TB_REC_POSITION], 2);
    assert_int_equal(s.records[TB_SIDE_LEGACY][TB_REC_FINAL], 1);
    tb_parity_destroy(p);
}

static void test_different_order_within_a_timestamp_is_identical(void **state)
{
    (void)state;
    /* Reversed inside each timestamp; and two strategies at one time. */
    tb_parity *p = compare_all(NULL, ORD1 SIG1 POS1 FIL1 ORD2 SIG2 FINAL POS2 FIL2, 0);
    tb_parity_destroy(p);

    const char *a = SIG1 SIG1_S2, *b = SIG1_S2 SIG1;
    p = parity_with(NULL, a, b);
    assert_int_equal(tb_parity_compare(p, INT64_MAX), 0);
    tb_parity_destroy(p);
}

static void test_one_tick_price_difference_is_one_price_mismatch_at_that_fill(void **state)
{
    (void)state;
    tb_parity *p = compare_all(
        NULL, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.000", "9.50000001") POS2 FINAL, 1);
    assert_divergence(p, 0, TB_DIV_MISMATCH, TB_REC_FILL, T0 + 9 * TBT_MINUTE, "price");
    const tb_divergence *d = tb_parity_divergence(p, 0);
    assert_dec_equal(d->pipeline.price, "9.5");
    assert_dec_equal(d->legacy.price, "9.50000001");
    assert_int_equal(d->legacy.line, 7);
    assert_int_equal(tb_parity_get_summary(p).by_kind[TB_REC_FILL][TB_DIV_MISMATCH], 1);
    tb_parity_destroy(p);
}

static void test_missing_fill_is_only_pipeline_and_its_position_a_mismatch(void **state)
{
    (void)state;
    /* The legacy side never got the first fill: its position after it is
     * still flat. Everything later agrees, and is reported as agreeing. */
    const char *legacy = SIG1 ORD1 POS1_FLAT SIG2 ORD2 FIL2 POS2 FINAL;
    tb_parity *p = compare_all(NULL, legacy, 2);
    assert_divergence(p, 0, TB_DIV_ONLY_PIPELINE, TB_REC_FILL, T0 + 5 * TBT_MINUTE, NULL);
    assert_divergence(p, 1, TB_DIV_MISMATCH, TB_REC_POSITION, T0 + 5 * TBT_MINUTE, "quantity");
    tb_parity_summary s = tb_parity_get_summary(p);
    assert_int_equal(s.by_kind[TB_REC_FILL][TB_DIV_ONLY_PIPELINE], 1);
    assert_int_equal(s.by_kind[TB_REC_POSITION][TB_DIV_MISMATCH], 1);
    tb_parity_destroy(p);
}

static void test_extra_order_is_exactly_one_only_legacy_order(void **state)
{
    (void)state;
    const char *legacy = SIG1 ORD1 FIL1 POS1 ORD_EXTRA SIG2 ORD2 FIL2 POS2 FINAL;
    tb_parity *p = compare_all(NULL, legacy, 1);
    assert_divergence(p, 0, TB_DIV_ONLY_LEGACY, TB_REC_ORDER, T0 + 7 * TBT_MINUTE - MS, NULL);
    assert_int_equal(tb_parity_divergence(p, 0)->legacy.line, 5);
    assert_int_equal(tb_parity_get_summary(p).by_kind[TB_REC_ORDER][TB_DIV_ONLY_LEGACY], 1);
    char *r = report_of(p);
    assert_non_null(strstr(r, "  pipeline: (none)\n"));
    free(r);
    tb_parity_destroy(p);
}

static void test_time_tolerance_accepts_small_and_rejects_larger_differences(void **state)
{
    (void)state;
    const char *legacy = SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.002", "9.5") POS2 FINAL;
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    opt.time_tolerance = 2 * MS;
    tb_parity *p = compare_all(&opt, legacy, 0);
    tb_parity_destroy(p);

    /* 2 ms apart with 1 ms allowed: two different fills. */
    opt.time_tolerance = 1 * MS;
    p = compare_all(&opt, legacy, 2);
    assert_divergence(p, 0, TB_DIV_ONLY_PIPELINE, TB_REC_FILL, T0 + 9 * TBT_MINUTE, NULL);
    assert_divergence(p, 1, TB_DIV_ONLY_LEGACY, TB_REC_FILL, T0 + 9 * TBT_MINUTE + 2 * MS, NULL);
    tb_parity_destroy(p);
}

static void test_time_tolerance_pairs_records_written_on_the_next_millisecond(void **state)
{
    (void)state;
    /* A bot that stamps signals and orders with the next bar's open. */
    const char *legacy = SIG1_LATE ORD1_LATE FIL1 POS1 SIG2_LATE ORD2_LATE FIL2 POS2 FINAL;
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    tb_parity *p = compare_all(&opt, legacy, 8); /* 4 records, each on one side only */
    tb_parity_destroy(p);
    opt.time_tolerance = 1 * MS;
    p = compare_all(&opt, legacy, 0);
    tb_parity_destroy(p);
}

static void test_time_tolerance_prefers_the_nearest_record(void **state)
{
    (void)state;
    /* Two pipeline fills 2 ms apart, the legacy side has only the later
     * one: it pairs with the later, and the earlier is the one missing. */
    const char *pipe = FIL2_AT("00:09:00.000", "9.5") FIL2_AT("00:09:00.002", "9.6");
    const char *legacy = FIL2_AT("00:09:00.002", "9.6");
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    opt.time_tolerance = 2 * MS;
    tb_parity *p = parity_with(&opt, pipe, legacy);
    assert_int_equal(tb_parity_compare(p, INT64_MAX), 1);
    assert_divergence(p, 0, TB_DIV_ONLY_PIPELINE, TB_REC_FILL, T0 + 9 * TBT_MINUTE, NULL);
    tb_parity_destroy(p);
}

static void test_price_tolerance_accepts_small_and_rejects_larger_differences(void **state)
{
    (void)state;
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    opt.price_tolerance = tbt_dec("0.00000001");
    tb_parity *p = compare_all(
        &opt, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.000", "9.50000001") POS2 FINAL, 0);
    tb_parity_destroy(p);
    p = compare_all(
        &opt, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.000", "9.49999998") POS2 FINAL, 1);
    assert_divergence(p, 0, TB_DIV_MISMATCH, TB_REC_FILL, T0 + 9 * TBT_MINUTE, "price");
    tb_parity_destroy(p);
    /* Quantities are never within a tolerance. */
    const char *legacy = SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_QTY POS2 FINAL;
    p = compare_all(&opt, legacy, 1);
    assert_divergence(p, 0, TB_DIV_MISMATCH, TB_REC_FILL, T0 + 9 * TBT_MINUTE, "quantity");
    tb_parity_destroy(p);
}

static void same_divergences(const tb_parity *a, const tb_parity *b)
{
    assert_int_equal(tb_parity_divergence_count(a), tb_parity_divergence_count(b));
    for (size_t i = 0; i < tb_parity_divergence_count(a); i++) {
        const tb_divergence *x = tb_parity_divergence(a, i), *y = tb_parity_divergence(b, i);
        char lx[512] = "", ly[512] = "";
        assert_int_equal(x->kind, y->kind);
        assert_string_equal(x->field, y->field);
        if (x->kind != TB_DIV_ONLY_LEGACY) {
            tb_trade_record_encode(&x->pipeline, lx, sizeof lx);
            tb_trade_record_encode(&y->pipeline, ly, sizeof ly);
            assert_string_equal(lx, ly);
        }
        if (x->kind != TB_DIV_ONLY_PIPELINE) {
            tb_trade_record_encode(&x->legacy, lx, sizeof lx);
            tb_trade_record_encode(&y->legacy, ly, sizeof ly);
            assert_string_equal(lx, ly);
            assert_int_equal(x->legacy.line, y->legacy.line);
        }
    }
    tb_parity_summary sa = tb_parity_get_summary(a), sb = tb_parity_get_summary(b);
    assert_memory_equal(sa.by_kind, sb.by_kind, sizeof sa.by_kind);
}

static void test_incremental_compare_finds_the_same_divergences_as_one_compare(void **state)
{
    (void)state;
    /* A missing fill, an extra order, a shifted fill and a final mismatch. */
    const char *legacy =
        SIG1 ORD1 POS1_FLAT ORD_EXTRA SIG2 ORD2 FIL2_AT("00:09:00.002", "9.50000001")
            POS2 FINAL_WITH("0.03");
    for (int64_t tol = 0; tol <= 2 * MS; tol += 2 * MS) {
        tb_parity_options opt;
        tb_parity_options_init(&opt);
        opt.time_tolerance = tol;
        tb_parity *once = parity_with(&opt, pipeline_log, legacy);
        int total = tb_parity_compare(once, INT64_MAX);
        assert_true(total >= 5);

        /* Bar by bar, bounds exactly at record times (the hardest case for
         * a tolerance: the partner is just past the bound). */
        tb_parity *inc = parity_with(&opt, pipeline_log, legacy);
        int sum = 0;
        for (int m = 0; m < 11; m++) {
            int n = tb_parity_compare(inc, T0 + m * TBT_MINUTE);
            assert_true(n >= 0);
            sum += n;
            n = tb_parity_compare(inc, T0 + (m + 1) * TBT_MINUTE - MS);
            assert_true(n >= 0);
            sum += n;
        }
        /* The finals wait for the end. */
        assert_int_equal(tb_parity_get_summary(inc).by_kind[TB_REC_FINAL][TB_DIV_MISMATCH], 0);
        sum += tb_parity_compare(inc, INT64_MAX);
        assert_int_equal(sum, total);
        same_divergences(once, inc);
        tb_parity_destroy(once);
        tb_parity_destroy(inc);
    }
}

static void test_report_shows_first_divergence_context_and_counts(void **state)
{
    (void)state;
    tb_parity *p = compare_all(
        NULL, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.000", "9.50000001") POS2 FINAL, 1);
    char *r = report_of(p);
    /* The three agreeing records before the fill, then both sides' fill:
     * the legacy one with its line in the legacy log. */
    static const char expected[] =
        "DIVERGED: first divergence at fill 2024-01-01T00:09:00.000Z s1/BTCUSDT: price differs: "
        "pipeline 9.5, legacy 9.50000001\n"
        "  agreed:   " POS1 "  agreed:   " SIG2 "  agreed:   " ORD2 "  pipeline: " FIL2
        "  legacy:   "
        "{\"kind\":\"fill\",\"time\":\"2024-01-01T00:09:00.000Z\",\"strategy_id\":\"s1\","
        "\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"quantity\":\"2\",\"price\":\"9.50000001\","
        "\"commission\":\"0.019\"} (line 7)\n"
        "divergences: 1 (signal: mismatch 0, only-pipeline 0, only-legacy 0; order: mismatch 0, "
        "only-pipeline 0, only-legacy 0; fill: mismatch 1, only-pipeline 0, only-legacy 0; "
        "position: mismatch 0, only-pipeline 0, only-legacy 0; final: mismatch 0, only-pipeline "
        "0, only-legacy 0)\n";
    assert_string_equal(r, expected);
    free(r);
    tb_parity_destroy(p);
}

static void test_report_context_option_limits_records_shown(void **state)
{
    (void)state;
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    opt.context = 1;
    tb_parity *p = compare_all(
        &opt, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2_AT("00:09:00.000", "9.50000001") POS2 FINAL, 1);
    char *r = report_of(p);
    const char *first = strstr(r, "  agreed:   ");
    assert_non_null(first);
    assert_null(strstr(first + 1, "  agreed:   "));
    assert_non_null(strstr(first, "\"kind\":\"order\""));
    free(r);
    tb_parity_destroy(p);
}

static void test_json_output_lists_every_divergence_with_both_records(void **state)
{
    (void)state;
    const char *legacy =
        SIG1 ORD1 FIL1 POS1 ORD_EXTRA SIG2 ORD2 FIL2_AT("00:09:00.000", "9.50000001") POS2 FINAL;
    tb_parity *p = compare_all(NULL, legacy, 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tb_parity_write_json(p, f), 0);
    fclose(f);
    json_error_t jerr;
    json_t *root = json_loads(buf, 0, &jerr);
    if (!root) fail_msg("not JSON (%s): %s", jerr.text, buf);
    assert_true(json_is_false(json_object_get(root, "identical")));
    json_t *sum = json_object_get(root, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "divergences")), 2);
    json_t *pipe_counts = json_object_get(json_object_get(sum, "records"), "pipeline");
    assert_int_equal(json_integer_value(json_object_get(pipe_counts, "fill")), 2);
    json_t *fill_counts = json_object_get(json_object_get(sum, "by_kind"), "fill");
    assert_int_equal(json_integer_value(json_object_get(fill_counts, "mismatch")), 1);

    json_t *divs = json_object_get(root, "divergences");
    assert_int_equal(json_array_size(divs), 2);
    json_t *d0 = json_array_get(divs, 0), *d1 = json_array_get(divs, 1);
    assert_string_equal(json_string_value(json_object_get(d0, "kind")), "only_legacy");
    assert_true(json_is_null(json_object_get(d0, "pipeline")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(d0, "legacy"), "type")),
                        "LIMIT");
    assert_int_equal(json_integer_value(json_object_get(d0, "legacy_line")), 5);
    assert_string_equal(json_string_value(json_object_get(d1, "kind")), "mismatch");
    assert_string_equal(json_string_value(json_object_get(d1, "field")), "price");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(d1, "pipeline"), "price")), "9.5");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d1, "legacy"), "price")),
                        "9.50000001");
    json_decref(root);
    free(buf);
    tb_parity_destroy(p);
}

static void test_json_output_of_identical_logs(void **state)
{
    (void)state;
    tb_parity *p = compare_all(NULL, pipeline_log, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tb_parity_write_json(p, f), 0);
    fclose(f);
    json_error_t jerr;
    json_t *root = json_loads(buf, 0, &jerr);
    if (!root) fail_msg("not JSON (%s): %s", jerr.text, buf);
    assert_true(json_is_true(json_object_get(root, "identical")));
    assert_int_equal(json_array_size(json_object_get(root, "divergences")), 0);
    json_decref(root);
    free(buf);
    tb_parity_destroy(p);
}

static void test_final_mismatch_reported_only_at_the_end(void **state)
{
    (void)state;
    tb_parity *p =
        parity_with(NULL, pipeline_log, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2 POS2 FINAL_WITH("0.03"));
    assert_int_equal(tb_parity_compare(p, INT64_MAX - 1), 0);
    assert_int_equal(tb_parity_compare(p, INT64_MAX), 1);
    assert_int_equal(tb_parity_compare(p, INT64_MAX), 0); /* compared once */
    const tb_divergence *d = tb_parity_divergence(p, 0);
    assert_int_equal(d->kind, TB_DIV_MISMATCH);
    assert_int_equal(d->pipeline.kind, TB_REC_FINAL);
    assert_string_equal(d->field, "fees");
    char *r = report_of(p);
    assert_true(strncmp(r,
                        "DIVERGED: first divergence at final: fees differs: pipeline 0.0315, "
                        "legacy 0.03\n",
                        strlen("DIVERGED: first divergence at final: fees differs: pipeline "
                               "0.0315, legacy 0.03\n")) == 0);
    assert_non_null(strstr(r, "final: mismatch 1, only-pipeline 0, only-legacy 0)\n"));
    free(r);
    tb_parity_destroy(p);

    /* A final on one side only. */
    p = parity_with(NULL, pipeline_log, SIG1 ORD1 FIL1 POS1 SIG2 ORD2 FIL2 POS2);
    assert_int_equal(tb_parity_compare(p, INT64_MAX), 1);
    assert_int_equal(tb_parity_divergence(p, 0)->kind, TB_DIV_ONLY_PIPELINE);
    tb_parity_destroy(p);
}

static void test_divergences_beyond_the_cap_are_counted_not_kept(void **state)
{
    (void)state;
    tb_parity *p;
    assert_int_equal(tb_parity_create(NULL, &p), 0);
    tb_trade_record r;
    memset(&r, 0, sizeof r);
    r.kind = TB_REC_FILL;
    strcpy(r.strategy_id, "s1");
    strcpy(r.symbol, "BTCUSDT");
    r.side = TB_SIDE_BUY;
    r.quantity = r.price = TB_DECIMAL_ONE;
    const int n = 100005;
    for (int i = 0; i < n; i++) {
        r.time = T0 + i * MS;
        assert_int_equal(tb_parity_add(p, TB_SIDE_PIPELINE, &r), 0);
        /* Compared as it goes: the waiting records never pile up. */
        if (i % 1000 == 999) assert_true(tb_parity_compare(p, r.time) == 1000);
    }
    assert_int_equal(tb_parity_compare(p, INT64_MAX), n % 1000);
    assert_int_equal(tb_parity_get_summary(p).divergences, (uint64_t)n);
    assert_int_equal(tb_parity_divergence_count(p), 100000);
    assert_null(tb_parity_divergence(p, 100000));
    char *rep = report_of(p);
    assert_non_null(strstr(rep, "divergences: 100005 ("));
    assert_non_null(strstr(rep, "(only the first 100000 divergences are kept)\n"));
    free(rep);
    tb_parity_destroy(p);
}

static void test_create_and_add_check_arguments(void **state)
{
    (void)state;
    tb_parity_options opt;
    tb_parity_options_init(&opt);
    assert_true(opt.context == 3 && opt.price_tolerance == 0 && opt.time_tolerance == 0);
    tb_parity *p = NULL;
    opt.price_tolerance = -1;
    assert_int_equal(tb_parity_create(&opt, &p), TB_EINVAL);
    tb_parity_options_init(&opt);
    opt.time_tolerance = -1;
    assert_int_equal(tb_parity_create(&opt, &p), TB_EINVAL);
    assert_int_equal(tb_parity_create(NULL, &p), 0);
    tb_trade_record r;
    memset(&r, 0, sizeof r);
    assert_int_equal(tb_parity_add(p, TB_SIDE_PIPELINE, &r), TB_EINVAL); /* kind 0 */
    r.kind = TB_REC_FINAL;
    assert_int_equal(tb_parity_add(p, (tb_parity_side)2, &r), TB_EINVAL);
    assert_null(tb_parity_divergence(p, 0));
    tb_parity_destroy(p);
    tb_parity_destroy(NULL);
}

/* ---- the legacy side from a command -------------------------------------- */

static int legacy_cmd(const char *cmd, int64_t timeout_ms, char *err, size_t errlen)
{
    tb_parity *p;
    assert_int_equal(tb_parity_create(NULL, &p), 0);
    tb_legacy_cmd_options opt;
    tb_legacy_cmd_options_init(&opt);
    assert_true(opt.timeout_ms == 600000); /* the documented default */
    opt.timeout_ms = timeout_ms;
    int rc = tb_parity_add_legacy_cmd(p, cmd, &opt, NULL, err, errlen);
    if (rc == 0) {
        load(p, TB_SIDE_PIPELINE, pipeline_log);
        assert_int_equal(tb_parity_compare(p, INT64_MAX), 0);
    }
    tb_parity_destroy(p);
    return rc;
}

static void test_legacy_cmd_output_is_the_legacy_side(void **state)
{
    (void)state;
    char cmd[4096], err[512];
    snprintf(cmd, sizeof cmd, "printf '%%s' '%s'", pipeline_log);
    assert_int_equal(legacy_cmd(cmd, 10000, err, sizeof err), 0);
    assert_int_equal(legacy_cmd("exit 4", 10000, err, sizeof err), TB_EIO);
    assert_non_null(strstr(err, "'exit 4' failed (exit status 4)"));
}

/* A command printing without a newline is stopped at the line limit (not
 * read until memory runs out), and killed. */
static void test_legacy_cmd_endless_line_fails_at_the_limit(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(legacy_cmd("cat /dev/zero", 0, err, sizeof err), TB_EPARSE);
    assert_string_equal(err, "--legacy-cmd output:1: line longer than 65536 bytes");
}

/* Closed stdout, still running: killed at the timeout, whose message names
 * the limit. So is a command that stops writing with stdout open. */
static void test_legacy_cmd_that_does_not_finish_is_killed_at_the_timeout(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(legacy_cmd("exec >&-; sleep 30", 200, err, sizeof err), TB_ETIMEOUT);
    assert_string_equal(err, "legacy command 'exec >&-; sleep 30' did not finish within 0.200 s");
    assert_int_equal(legacy_cmd("sleep 30", 1000, err, sizeof err), TB_ETIMEOUT);
    assert_string_equal(err, "legacy command 'sleep 30' did not finish within 1 s");
}

static void test_legacy_cmd_killed_by_a_signal_names_it(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(legacy_cmd("kill -9 $$", 10000, err, sizeof err), TB_EIO);
    assert_string_equal(err, "legacy command 'kill -9 $$' was killed by signal 9 (SIGKILL)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_logs_report_identical_line),
        cmocka_unit_test(test_different_order_within_a_timestamp_is_identical),
        cmocka_unit_test(test_one_tick_price_difference_is_one_price_mismatch_at_that_fill),
        cmocka_unit_test(test_missing_fill_is_only_pipeline_and_its_position_a_mismatch),
        cmocka_unit_test(test_extra_order_is_exactly_one_only_legacy_order),
        cmocka_unit_test(test_time_tolerance_accepts_small_and_rejects_larger_differences),
        cmocka_unit_test(test_time_tolerance_pairs_records_written_on_the_next_millisecond),
        cmocka_unit_test(test_time_tolerance_prefers_the_nearest_record),
        cmocka_unit_test(test_price_tolerance_accepts_small_and_rejects_larger_differences),
        cmocka_unit_test(test_incremental_compare_finds_the_same_divergences_as_one_compare),
        cmocka_unit_test(test_report_shows_first_divergence_context_and_counts),
        cmocka_unit_test(test_report_context_option_limits_records_shown),
        cmocka_unit_test(test_json_output_lists_every_divergence_with_both_records),
        cmocka_unit_test(test_json_output_of_identical_logs),
        cmocka_unit_test(test_final_mismatch_reported_only_at_the_end),
        cmocka_unit_test(test_divergences_beyond_the_cap_are_counted_not_kept),
        cmocka_unit_test(test_create_and_add_check_arguments),
        cmocka_unit_test(test_legacy_cmd_output_is_the_legacy_side),
        cmocka_unit_test(test_legacy_cmd_endless_line_fails_at_the_limit),
        cmocka_unit_test(test_legacy_cmd_that_does_not_finish_is_killed_at_the_timeout),
        cmocka_unit_test(test_legacy_cmd_killed_by_a_signal_names_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
