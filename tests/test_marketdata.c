/* Market-data readers and merge: formats, validation messages, skip policy,
 * symbols and ordering. Every test writes its own CSV files into a fresh
 * temporary directory. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tradebus/marketdata.h"
#include "../src/feed/md_int.h" /* tb__md_reader_threaded */

#define NS_MS INT64_C(1000000)
#define NS_S  INT64_C(1000000000)
#define T0_MS INT64_C(1704067200000) /* 2024-01-01T00:00:00Z */
#define T0_NS (T0_MS * NS_MS)

typedef struct {
    char dir[64];
    char path[256];
    char err[1024];
    char expect[1024];
    int warnings;
    char first_warning[512];
    char last_warning[512];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/tb_md_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    DIR *d = opendir(f->dir);
    if (d != NULL) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Writes content to dir/name and leaves the path in f->path. */
static const char *write_file(fx *f, const char *name, const char *content)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fputs(content, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

static void on_warn(const char *msg, void *ctx)
{
    fx *f = ctx;
    if (f->warnings == 0) snprintf(f->first_warning, sizeof f->first_warning, "%s", msg);
    snprintf(f->last_warning, sizeof f->last_warning, "%s", msg);
    f->warnings++;
}

/* A reader that skips bad rows, each reported through on_warn. */
static tb_md_reader *open_skipping(fx *f, const char *path)
{
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.on_bad_row = TB_BAD_ROW_SKIP;
    cfg.warn = on_warn;
    cfg.warn_ctx = f;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open(path, &cfg, &r, f->err, sizeof f->err), 0);
    return r;
}

static tb_md_reader *open_ok(fx *f, const char *spec)
{
    tb_md_reader *r = NULL;
    int rc = tb_md_reader_open(spec, NULL, &r, f->err, sizeof f->err);
    if (rc != 0) print_error("open failed: %s\n", f->err);
    assert_int_equal(rc, 0);
    assert_non_null(r);
    return r;
}

/* Reads rows until one fails; the failure must be TB_EDATA with exactly
 * "path:line: what". */
static void expect_row_error(fx *f, const char *content, int line, const char *what)
{
    const char *path = write_file(f, "BTCUSDT-1m.csv", content);
    tb_md_reader *r = open_ok(f, path);
    tb_market_data bar;
    int rc;
    while ((rc = tb_md_reader_next(r, &bar, f->err, sizeof f->err)) == 0) {
    }
    snprintf(f->expect, sizeof f->expect, "%s:%d: %s", path, line, what);
    assert_int_equal(rc, TB_EDATA);
    assert_string_equal(f->err, f->expect);
    tb_md_reader_close(r);
}

#define ROW0                                                                                       \
    "1704067200000,42283.58000000,42298.62000000,42261.02000000,42298.61000000,35.92724000,"       \
    "1704067259999,1519032.77735170,1327,24.24064000,1024947.38040690,0\n"
#define ROW1                                                                                       \
    "1704067260000,42298.62000000,42320.00000000,42298.61000000,42300.00000000,21.00000000,"       \
    "1704067319999,888330.00000000,900,10.00000000,423000.00000000,0\n"

/* ---- formats ------------------------------------------------------------- */

static void test_md_binance_row_parses_exact_decimals(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "BTCUSDT-1m-2024-01.csv", ROW0 ROW1));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_string_equal(b.symbol, "BTCUSDT");
    assert_true(b.open == INT64_C(4228358000000));
    assert_true(b.high == INT64_C(4229862000000));
    assert_true(b.low == INT64_C(4226102000000));
    assert_true(b.close == INT64_C(4229861000000));
    assert_true(b.volume == INT64_C(3592724000));
    assert_true(b.open_time == T0_NS);
    assert_true(b.close_time == (T0_MS + 59999) * NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == (T0_MS + 60000) * NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

static void test_md_binance_microsecond_times_detected(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "BTCUSDT-1m-2025-01.csv",
                                            "1735689600000000,93576.00,93610.93,93537.50,93567."
                                            "55,8.42,1735689659999999,787944.1,1000,4.1,38"
                                            "3000.5,0\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == INT64_C(1735689600000000) * 1000);
    assert_true(b.close_time == INT64_C(1735689659999999) * 1000);
    assert_true(b.close == INT64_C(9356755000000));
    tb_md_reader_close(r);
}

static void test_md_binance_header_line_is_skipped(void **state)
{
    fx *f = *state;
    tb_md_reader *r =
        open_ok(f, write_file(f, "BTCUSDT-1m.csv",
                              "open_time,open,high,low,close,volume,close_time,quote_volume,"
                              "count,taker_buy_volume,taker_buy_quote_volume,ignore\n" ROW0));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

static void test_md_generic_epoch_seconds(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "1704067200,2281.5,2290,2280,2285.25,10.5\n"
                                            "1704067260,2285.25,2286,2284,2285,3\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_string_equal(b.symbol, "ETHUSDT");
    assert_true(b.open_time == T0_NS);
    assert_true(b.open == INT64_C(228150000000));
    assert_true(b.close == INT64_C(228525000000));
    assert_true(b.volume == INT64_C(1050000000));
    tb_md_reader_close(r);
}

static void test_md_generic_epoch_milliseconds(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "1704067200000,1,1,1,1,1\n"
                                            "1704067260000,1,1,1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 60 * NS_S);
    tb_md_reader_close(r);
}

static void test_md_generic_iso8601_utc_forms(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "2024-01-01T00:00:00Z,1,1,1,1,1\n"
                                            "2024-01-01 00:01:00,1,1,1,1,1\n"
                                            "2024-02-29T23:59:00+00:00,1,1,1,1,1\n"
                                            "2024-03-01T02:00:00+02:00,1,1,1,1,1\n"
                                            "2024-03-02,1,1,1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 60 * NS_S);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    /* 2024 is a leap year: Feb 29 exists, day 59 of the year. */
    int64_t feb29 = T0_NS + (59 * INT64_C(86400) + 23 * 3600 + 59 * 60) * NS_S;
    assert_true(b.open_time == feb29);
    int rc = tb_md_reader_next(r, &b, f->err, sizeof f->err);
    if (rc) print_error("%s\n", f->err);
    assert_int_equal(rc, 0);
    /* 02:00+02:00 is midnight UTC. */
    assert_true(b.open_time == T0_NS + 60 * INT64_C(86400) * NS_S);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 61 * INT64_C(86400) * NS_S);
    tb_md_reader_close(r);
}

static void test_md_generic_iso8601_fractional_seconds(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "2024-01-01T00:00:00.5Z,1,1,1,1,1\n"
                                            "2024-01-01T00:00:01.123456789Z,1,1,1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 500 * NS_MS);
    assert_true(b.close_time == T0_NS + NS_S + 123456789 - NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + NS_S + 123456789);
    tb_md_reader_close(r);
}

static void test_md_generic_close_time_is_next_open_minus_1ms(void **state)
{
    fx *f = *state;
    /* Intervals 60 s then 300 s: the last bar reuses the previous 300 s. */
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "1704067200,1,1,1,1,1\n"
                                            "1704067260,1,1,1,1,1\n"
                                            "1704067560,1,1,1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.close_time == T0_NS + 60 * NS_S - NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.close_time == T0_NS + 360 * NS_S - NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 360 * NS_S);
    assert_true(b.close_time == T0_NS + 660 * NS_S - NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

static void test_md_generic_single_bar_closes_after_60s(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "1704067200,1,1,1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.close_time == T0_NS + 60 * NS_S - NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

static void test_md_generic_header_only_has_no_bars(void **state)
{
    fx *f = *state;
    tb_md_reader *r =
        open_ok(f, write_file(f, "ETHUSDT.csv", "Timestamp,Open,High,Low,Close,Volume\r\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

/* Found by fuzz_csv (fuzz/regressions/csv/pre-epoch-iso-time-overflows-interval.csv):
 * an ISO time before 1970 became a negative time, and the interval to the next
 * row overflowed int64. Times before the Unix epoch are out of range. */
static void test_md_generic_time_before_epoch_is_refused(void **state)
{
    fx *f = *state;
    expect_row_error(f,
                     "timestamp,open,high,low,close,volume\n"
                     "1704-01-01T00:12:00Z,1,1,1,1,1\n"
                     "2024-01-01T00:13:00Z,1,1,1,1,1\n",
                     2, "timestamp: '1704-01-01T00:12:00Z' is out of range");
    expect_row_error(f,
                     "timestamp,open,high,low,close,volume\n"
                     "1970-01-01T00:30:00+01:00,1,1,1,1,1\n",
                     2, "timestamp: '1970-01-01T00:30:00+01:00' is out of range");
}

static void test_md_exponent_notation_parsed(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "SHIBUSDT.csv",
                                            "timestamp,open,high,low,close,volume\n"
                                            "1704067200,1.2e-05,1.3E-5,0.0000115,1.25e-05,"
                                            "2.5e3\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open == 1200);
    assert_true(b.high == 1300);
    assert_true(b.low == 1150);
    assert_true(b.close == 1250);
    assert_true(b.volume == INT64_C(2500) * 100000000);
    tb_md_reader_close(r);
}

static void test_md_surplus_decimals_round_half_up(void **state)
{
    fx *f = *state;
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.round_prices = 1;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open(write_file(f, "ETHUSDT.csv",
                                                  "timestamp,open,high,low,close,volume\n"
                                                  "1704067200,1.000000005,1.000000005,1,1,"
                                                  "0.123456784\n"),
                                       &cfg, &r, f->err, sizeof f->err),
                     0);
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open == 100000001);
    assert_true(b.volume == 12345678);
    tb_md_reader_close(r);
}

static void test_md_surplus_decimals_are_a_bad_row_by_default(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,1,1.123456789,1,1704067259999,0,0,0,0,0\n", 1,
                     "close: 1.123456789 has more than 8 decimals (set [backtest] round_prices = "
                     "true to round them)");
}

static void test_md_crlf_and_trailing_empty_line_accepted(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "BTCUSDT-1m.csv",
                                            "1704067200000,1.5,2,1,1.5,3,1704067259999,0,0,0,0,"
                                            "0\r\n"
                                            "1704067260000,1.5,2,1,1.75,3,1704067319999,0,0,0,0,"
                                            "0\r\n\r\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.close == 175000000);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_reader_close(r);
}

static void test_md_utf8_bom_is_ignored(void **state)
{
    fx *f = *state;
    tb_md_reader *r =
        open_ok(f, write_file(f, "ETHUSDT.csv",
                              "\xEF\xBB\xBFtimestamp,open,high,low,close,volume\n1704067200,1,1,"
                              "1,1,1\n"));
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    tb_md_reader_close(r);
}

/* ---- symbols and opening ------------------------------------------------- */

static void test_md_symbol_from_file_name(void **state)
{
    fx *f = *state;
    tb_md_reader *r = open_ok(f, write_file(f, "ETHUSDT-1m-2024-01.csv", ROW0));
    assert_string_equal(tb_md_reader_symbol(r), "ETHUSDT");
    tb_md_reader_close(r);
    r = open_ok(f, write_file(f, "solusdt.csv", ROW0));
    /* Upper-cased like every other symbol. */
    assert_string_equal(tb_md_reader_symbol(r), "SOLUSDT");
    tb_md_reader_close(r);
}

static void test_md_data_path_that_is_a_directory_is_refused(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    char spec[300];
    snprintf(spec, sizeof spec, "BTCUSDT:%s", f->dir);
    assert_int_equal(tb_md_reader_open(spec, NULL, &r, f->err, sizeof f->err), TB_EIO);
    snprintf(f->expect, sizeof f->expect, "cannot open '%s': %s is a directory", f->dir, f->dir);
    assert_string_equal(f->err, f->expect);
}

static void test_md_merge_lists_each_file_symbol(void **state)
{
    fx *f = *state;
    char a[300], b[300];
    snprintf(a, sizeof a, "%s", write_file(f, "mycoin-1m.csv", ROW0));
    snprintf(b, sizeof b, "ETHUSDT:%s", write_file(f, "x.csv", ROW1));
    const char *specs[] = {a, b};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), 0);
    assert_int_equal(tb_md_merge_files(m), 2);
    assert_string_equal(tb_md_merge_symbol(m, 0), "MYCOIN");
    assert_string_equal(tb_md_merge_symbol(m, 1), "ETHUSDT");
    assert_null(tb_md_merge_symbol(m, 2));
    tb_md_merge_close(m);
}

/* Reads every bar of a one-file merge; *lines and *hash are its digest. */
static void digest_of(fx *f, const char *name, const char *content, uint64_t *lines, uint64_t *hash)
{
    char spec[300];
    snprintf(spec, sizeof spec, "BTCUSDT:%s", write_file(f, name, content));
    const char *specs[] = {spec};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 1, NULL, &m, f->err, sizeof f->err), 0);
    tb_market_data bar;
    while (tb_md_merge_next(m, &bar, f->err, sizeof f->err) == 0) {
    }
    const char *path = NULL;
    assert_int_equal(tb_md_merge_digest(m, 0, lines, hash, &path), 0);
    assert_string_equal(path, f->path);
    assert_int_equal(tb_md_merge_digest(m, 1, lines, hash, &path), TB_EINVAL);
    tb_md_merge_close(m);
}

/* The digest a journal's resume relies on: equal bytes give equal digests,
 * one changed byte (even in a column no bar carries) another. */
static void test_md_digest_tells_changed_bytes_apart(void **state)
{
    fx *f = *state;
    uint64_t l1, h1, l2, h2, l3, h3;
    digest_of(f, "a.csv", ROW0 ROW1, &l1, &h1);
    digest_of(f, "b.csv", ROW0 ROW1, &l2, &h2);
    assert_int_equal(l1, 2);
    assert_int_equal(l1, l2);
    assert_true(h1 == h2);
    char changed[] = ROW0 ROW1;
    changed[strlen(changed) - 2] = '1'; /* the last, unused column */
    digest_of(f, "c.csv", changed, &l3, &h3);
    assert_int_equal(l3, 2);
    assert_true(h3 != h1);
}

static void test_md_symbol_from_spec_prefix(void **state)
{
    fx *f = *state;
    char spec[300];
    snprintf(spec, sizeof spec, "BNBUSDT:%s", write_file(f, "BTCUSDT-1m.csv", ROW0));
    tb_md_reader *r = open_ok(f, spec);
    assert_string_equal(tb_md_reader_symbol(r), "BNBUSDT");
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_string_equal(b.symbol, "BNBUSDT");
    tb_md_reader_close(r);
}

static void test_md_symbol_not_inferable_is_einval(void **state)
{
    fx *f = *state;
    tb_md_reader *r = (tb_md_reader *)1;
    const char *path = write_file(f, "my_prices.csv", ROW0);
    assert_int_equal(tb_md_reader_open(path, NULL, &r, f->err, sizeof f->err), TB_EINVAL);
    assert_null(r);
    snprintf(f->expect, sizeof f->expect, "cannot infer symbol from '%s'; give it as SYMBOL:path",
             path);
    assert_string_equal(f->err, f->expect);
    assert_int_equal(
        tb_md_reader_open("data/ABCDEFGHIJKLMNOP-1m.csv", NULL, &r, f->err, sizeof f->err),
        TB_EINVAL);
}

static void test_md_lowercase_prefix_is_not_a_symbol(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    /* "btc:" does not match [A-Z0-9]{1,15}:, so the whole spec is a path
     * and the symbol comes from its file name. */
    assert_int_equal(tb_md_reader_open("btc:nowhere/BTCUSDT.csv", NULL, &r, f->err, sizeof f->err),
                     TB_EIO);
    assert_string_equal(f->err, "cannot open 'btc:nowhere/BTCUSDT.csv': No such file or directory");
}

static void test_md_spec_with_symbol_and_no_path_is_einval(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open("BTCUSDT:", NULL, &r, f->err, sizeof f->err), TB_EINVAL);
    assert_null(r);
}

static void test_md_missing_file_is_eio(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/BTCUSDT-none.csv", f->dir);
    assert_int_equal(tb_md_reader_open(path, NULL, &r, f->err, sizeof f->err), TB_EIO);
    assert_null(r);
    snprintf(f->expect, sizeof f->expect, "cannot open '%s': No such file or directory", path);
    assert_string_equal(f->err, f->expect);
}

static void test_md_empty_file_is_edata(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    const char *path = write_file(f, "BTCUSDT.csv", "\n\n");
    assert_int_equal(tb_md_reader_open(path, NULL, &r, f->err, sizeof f->err), TB_EDATA);
    assert_null(r);
    snprintf(f->expect, sizeof f->expect, "%s: file is empty", path);
    assert_string_equal(f->err, f->expect);
}

static void test_md_unrecognised_header_is_edata(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    const char *path = write_file(f, "BTCUSDT.csv", "time,open,high,low,close,volume\n");
    assert_int_equal(tb_md_reader_open(path, NULL, &r, f->err, sizeof f->err), TB_EDATA);
    snprintf(f->expect, sizeof f->expect,
             "%s:1: unrecognised header 'time,open,high,low,close,volume'; expected "
             "timestamp,open,high,low,close,volume or Binance kline CSV (12 columns)",
             path);
    assert_string_equal(f->err, f->expect);
}

static void test_md_config_init_sets_fail_policy(void **state)
{
    (void)state;
    tb_md_config cfg;
    memset(&cfg, 0xff, sizeof cfg);
    tb_md_config_init(&cfg);
    assert_int_equal(cfg.on_bad_row, TB_BAD_ROW_FAIL);
    assert_null(cfg.warn);
    assert_null(cfg.warn_ctx);
}

static void test_md_close_null_is_noop(void **state)
{
    (void)state;
    tb_md_reader_close(NULL);
    tb_md_merge_close(NULL);
    assert_int_equal(tb_md_reader_bad_rows(NULL), 0);
}

/* ---- malformed rows ------------------------------------------------------ */

static void test_md_wrong_column_count_names_file_and_line(void **state)
{
    expect_row_error(*state, ROW0 "1704067260000,1,1,1,1,1,1704067319999,0,0,0,0\n", 2,
                     "expected 12 columns, got 11");
}

static void test_md_six_columns_without_header_hints_at_generic(void **state)
{
    expect_row_error(*state, "1704067200,1,1,1,1,1\n", 1,
                     "expected 12 columns, got 6 (a generic CSV needs the header "
                     "timestamp,open,high,low,close,volume)");
}

static void test_md_bad_number_names_column(void **state)
{
    expect_row_error(*state, ROW0 "1704067260000,1,2,1,abc,1,1704067319999,0,0,0,0,0\n", 2,
                     "close: 'abc' is not a number");
}

static void test_md_bad_time_names_column(void **state)
{
    expect_row_error(*state, "17040672x0000,1,2,1,1,1,1704067319999,0,0,0,0,0\n", 1,
                     "open_time: '17040672x0000' is not a number");
}

static void test_md_missing_value_names_column(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,1,1,,1704067259999,0,0,0,0,0\n", 1,
                     "volume: value is missing");
}

static void test_md_nan_price_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,NaN,2,1,1,1,1704067259999,0,0,0,0,0\n", 1,
                     "open: 'NaN' is not a finite number");
}

static void test_md_inf_volume_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,1,1,-inf,1704067259999,0,0,0,0,0\n", 1,
                     "volume: '-inf' is not a finite number");
}

static void test_md_out_of_range_number_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,1,99999999999999999999,1,1,1,1704067259999,0,0,0,0,0\n",
                     1,
                     "high: 99999999999999999999 is out of range [-92233720368.54775807, "
                     "92233720368.54775807]");
}

static void test_md_non_positive_price_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,0,1,1,1704067259999,0,0,0,0,0\n", 1,
                     "low 0 is not positive");
}

static void test_md_negative_volume_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,1,1,-0.5,1704067259999,0,0,0,0,0\n", 1,
                     "volume -0.5 is negative");
}

static void test_md_high_below_low_names_file_and_line(void **state)
{
    expect_row_error(*state,
                     ROW0 ROW1 "1704067320000,100.0,99.5,100.0,100.0,1,1704067379999,0,0,0,0,0\n",
                     3, "high 99.5 is below low 100.0");
}

static void test_md_open_above_high_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,101.0,100.0,99,100,1,1704067259999,0,0,0,0,0\n", 1,
                     "open 101.0 is above high 100.0");
}

static void test_md_close_below_low_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,100,101,99,98.5,1,1704067259999,0,0,0,0,0\n", 1,
                     "close 98.5 is below low 99");
}

static void test_md_time_not_increasing_rejected(void **state)
{
    expect_row_error(*state, ROW0 ROW0, 2,
                     "open_time 1704067200000 is not after the previous row's");
}

static void test_md_generic_time_not_increasing_rejected(void **state)
{
    expect_row_error(*state,
                     "timestamp,open,high,low,close,volume\n"
                     "2024-01-01T00:01:00Z,1,1,1,1,1\n"
                     "2024-01-01T00:00:00Z,1,1,1,1,1\n",
                     3, "timestamp 2024-01-01T00:00:00Z is not after the previous row's");
}

static void test_md_close_time_before_open_time_rejected(void **state)
{
    expect_row_error(*state, "1704067200000,1,2,1,1,1,1704067199999,0,0,0,0,0\n", 1,
                     "close_time 1704067199999 is before open_time 1704067200000");
}

static void test_md_close_time_not_increasing_rejected(void **state)
{
    expect_row_error(*state,
                     "1704067200000,1,1,1,1,1,1704067319999,0,0,0,0,0\n"
                     "1704067260000,1,1,1,1,1,1704067319999,0,0,0,0,0\n",
                     2, "close_time 1704067319999 is not after the previous row's");
}

static void test_md_generic_bad_timestamp_rejected(void **state)
{
    expect_row_error(*state,
                     "timestamp,open,high,low,close,volume\n"
                     "2024-02-30T00:00:00Z,1,1,1,1,1\n",
                     2,
                     "timestamp: '2024-02-30T00:00:00Z' is not a time (epoch seconds, "
                     "milliseconds or ISO-8601 UTC)");
}

static void test_md_generic_wrong_column_count_rejected(void **state)
{
    expect_row_error(*state, "timestamp,open,high,low,close,volume\n1704067200,1,1,1,1\n", 2,
                     "expected 6 columns, got 5");
}

/* ROW0, then a line of n copies of c, then ROW1 (malloc'd: the caller
 * frees it). */
/* A NUL byte anywhere in a row (found in the same pass as the commas, 8
 * bytes a step, or in the row's last few bytes) makes it a bad row naming
 * its line, in both formats. */
static void test_md_nul_byte_anywhere_is_a_bad_row(void **state)
{
    fx *f = *state;
    static const char binance[] = ROW0 ROW1;
    static const char generic[] = "timestamp,open,high,low,close,volume\n"
                                  "1704067200,42000.5,42001,41999,42000,1.25\n"
                                  "1704067260,42000,42002,41998,42001,2.5\n";
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *text = fmt ? generic : binance;
        size_t n = strlen(text);
        /* The bad row: the last one, without its '\n'. */
        size_t from = (size_t)(strrchr(text, '\n') - text), to = from;
        while (from > 0 && text[from - 1] != '\n')
            from--;
        for (size_t k = from; k < to; k++) {
            char buf[512];
            memcpy(buf, text, n);
            buf[k] = '\0';
            snprintf(f->path, sizeof f->path, "%s/BTCUSDT-1m.csv", f->dir);
            FILE *fp = fopen(f->path, "wb");
            assert_non_null(fp);
            assert_int_equal(fwrite(buf, 1, n, fp), n);
            assert_int_equal(fclose(fp), 0);
            tb_md_reader *r = open_ok(f, f->path);
            tb_market_data bar;
            int rc, bars = 0;
            while ((rc = tb_md_reader_next(r, &bar, f->err, sizeof f->err)) == 0)
                bars++;
            snprintf(f->expect, sizeof f->expect, "%s:%d: line contains a NUL byte", f->path,
                     fmt ? 3 : 2);
            /* A generic bar waits for the next row's time to close. */
            assert_int_equal(bars, fmt ? 0 : 1);
            assert_int_equal(rc, TB_EDATA);
            assert_string_equal(f->err, f->expect);
            tb_md_reader_close(r);
        }
    }
}

/* ---- the fast path of a Binance row ---------------------------------- */

typedef struct {
    char *text; /* every warning, one per line */
    size_t len, cap;
} warn_log;

static void log_warning(const char *msg, void *ctx)
{
    warn_log *w = ctx;
    size_t n = strlen(msg);
    if (w->len + n + 2 > w->cap) {
        w->cap = (w->len + n + 2) * 2;
        w->text = realloc(w->text, w->cap);
        assert_non_null(w->text);
    }
    memcpy(w->text + w->len, msg, n);
    w->len += n;
    w->text[w->len++] = '\n';
    w->text[w->len] = '\0';
}

/* Reads path whole, skipping bad rows: its bars into *bars (malloc'd), the
 * warnings into *w; returns the bar count. slow: the general path only. */
static size_t read_rows(const char *path, int slow, tb_market_data **bars, warn_log *w,
                        uint64_t *bad)
{
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.on_bad_row = TB_BAD_ROW_SKIP;
    cfg.cache = 0;
    cfg.warn = log_warning;
    cfg.warn_ctx = w;
    tb_md_reader *r = NULL;
    char err[512];
    assert_int_equal(tb_md_reader_open(path, &cfg, &r, err, sizeof err), 0);
    if (slow) tb__md_reader_slow_rows(r);
    size_t n = 0, cap = 1024;
    *bars = malloc(cap * sizeof **bars);
    tb_market_data b;
    int rc;
    while ((rc = tb_md_reader_next(r, &b, err, sizeof err)) == 0) {
        if (n == cap) *bars = realloc(*bars, (cap *= 2) * sizeof **bars);
        memcpy(&(*bars)[n++], &b, sizeof b); /* padding too: byte-identical */
    }
    assert_int_equal(rc, TB_EEOF);
    *bad = tb_md_reader_bad_rows(r);
    tb_md_reader_close(r);
    return n;
}

/* Generated Binance rows, most of them sound and the rest mutated (a byte
 * replaced, dropped or doubled; blanks, quotes, an exponent, 9 decimals,
 * microsecond and 19-digit times, a 13th or 11th column, high below low, a
 * time going back, a NUL byte): the fast path gives exactly the bars, the
 * bad-row count and every warning, word for word, that the general path
 * gives on the same file. */
static void test_md_fast_rows_read_as_the_general_path(void **state)
{
    fx *f = *state;
    static const char bytes[] = ", \t\"-+.e0123456789x";
    uint64_t seed = 7;
    size_t cap = 1 << 22, len = 0;
    char *text = malloc(cap);
    int64_t t = 1704067200000, price = 4200000;
    for (int i = 0; i < 30000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t z = seed >> 16;
        int64_t o = price, c = price + (int64_t)(z % 201) - 100;
        int64_t hi = (o > c ? o : c) + (int64_t)(z >> 8) % 50, lo = (o < c ? o : c) - 30;
        char row[512];
        int kind = (int)((z >> 20) % 40);
        int64_t ot = kind == 1 ? t * 1000 : kind == 2 ? t - 120000 : t;
        int n = snprintf(row, sizeof row,
                         "%lld,%lld.%02lld000000,%lld.%02lld000000,%lld.%02lld000000,"
                         "%lld.%02lld000000,%s,%lld,1.50000000,12,0.5,0.7,0",
                         (long long)ot, (long long)(o / 100), (long long)(o % 100),
                         (long long)(hi / 100), (long long)(hi % 100), (long long)(lo / 100),
                         (long long)(lo % 100), (long long)(c / 100), (long long)(c % 100),
                         kind == 3   ? "1e-05"
                         : kind == 4 ? "1.123456789"
                         : kind == 5 ? " 2.5"
                         : kind == 6 ? "\"2.5\""
                         : kind == 7 ? "-1"
                         : kind == 8 ? "2.5,9"
                         : kind == 9 ? "12"
                                     : "2.50000000",
                         (long long)(kind == 1    ? (t + 59999) * 1000
                                     : kind == 10 ? 1234567890123456789LL
                                                  : t + 59999));
        assert_true(n > 0 && n < (int)sizeof row - 2);
        if (kind == 11) { /* an 11th column fewer: drop the last */
            n = (int)(strrchr(row, ',') - row);
        } else if (kind == 12) { /* high below low */
            char *h = strchr(strchr(row, ',') + 1, ',');
            h[1] = '1';
        } else if (kind >= 13 && kind < 20) { /* one byte replaced, dropped or doubled */
            /* In the prices and volume, lest a later close time bar every
             * row after it (times have kinds of their own). */
            const char *from = strchr(row, ',');
            for (int k = 0; k < 5; k++)
                from = strchr(from + 1, ',');
            size_t lo6 = (size_t)(strchr(row, ',') - row), span = (size_t)(from - row) - lo6;
            size_t at = lo6 + (size_t)((z >> 30) % span);
            int how = kind % 3;
            char nb = (z >> 40) % 50 == 0 ? '\0' : bytes[(z >> 44) % (sizeof bytes - 1)];
            if (how == 0)
                row[at] = nb;
            else if (how == 1) {
                memmove(row + at, row + at + 1, (size_t)n - at - 1);
                n--;
            } else {
                memmove(row + at + 1, row + at, (size_t)n - at);
                n++;
            }
        }
        if (len + (size_t)n + 2 > cap) break;
        memcpy(text + len, row, (size_t)n);
        len += (size_t)n;
        text[len++] = '\n';
        price = c;
        t += 60000;
    }
    snprintf(f->path, sizeof f->path, "%s/BTCUSDT-1m.csv", f->dir);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    free(text);
    tb_market_data *fast, *slow;
    warn_log wf = {NULL, 0, 0}, ws = {NULL, 0, 0};
    uint64_t bad_fast, bad_slow;
    size_t nf = read_rows(f->path, 0, &fast, &wf, &bad_fast);
    size_t ns = read_rows(f->path, 1, &slow, &ws, &bad_slow);
    /* The file has both kinds, plenty of each. */
    assert_true(nf > 20000);
    assert_true(bad_slow > 3000);
    assert_int_equal(nf, ns);
    assert_memory_equal(fast, slow, nf * sizeof *fast);
    assert_int_equal(bad_fast, bad_slow);
    assert_int_equal(wf.len, ws.len);
    assert_string_equal(wf.text, ws.text);
    free(fast);
    free(slow);
    free(wf.text);
    free(ws.text);
}

static char *long_line_between_rows(size_t n, char c)
{
    char *content = malloc(sizeof ROW0 + n + sizeof ROW1 + 2);
    assert_non_null(content);
    memcpy(content, ROW0, sizeof ROW0 - 1);
    memset(content + sizeof ROW0 - 1, c, n);
    content[sizeof ROW0 - 1 + n] = '\n';
    memcpy(content + sizeof ROW0 + n, ROW1, sizeof ROW1);
    return content;
}

static void test_md_overlong_line_is_bad_row(void **state)
{
    fx *f = *state;
    size_t n = 70000;
    char *content = long_line_between_rows(n, '1');
    expect_row_error(f, content, 2, "line longer than 65536 bytes");
    free(content);
}

/* A generic row padded with blanks to exactly n bytes before its line end. */
static char *padded_generic(size_t n, const char *eol)
{
    static const char head[] = "timestamp,open,high,low,close,volume\n";
    static const char row[] = "1704067200,1,1,1,1,1";
    char *c = malloc(sizeof head + n + 8);
    assert_non_null(c);
    memcpy(c, head, sizeof head - 1);
    char *p = c + sizeof head - 1;
    memcpy(p, row, sizeof row - 1);
    memset(p + sizeof row - 1, ' ', n - (sizeof row - 1));
    strcpy(p + n, eol);
    return c;
}

/* The limit counts the bytes before "\n" or "\r\n": 65536 pass, 65537 do not. */
static void test_md_line_of_exactly_the_limit_is_accepted(void **state)
{
    fx *f = *state;
    static const char *const eols[] = {"\n", "\r\n", ""};
    for (size_t i = 0; i < 3; i++) {
        char *c = padded_generic(65536, eols[i]);
        tb_md_reader *r = open_ok(f, write_file(f, "BTCUSDT.csv", c));
        tb_market_data b;
        assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
        assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
        tb_md_reader_close(r);
        free(c);
        c = padded_generic(65537, eols[i]);
        expect_row_error(f, c, 2, "line longer than 65536 bytes");
        free(c);
    }
}

/* /dev/zero has no line end: the reader must stop at the limit rather than
 * grow a buffer until memory runs out. */
static void test_md_endless_line_fails_at_the_limit(void **state)
{
    fx *f = *state;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open("BTCUSDT:/dev/zero", NULL, &r, f->err, sizeof f->err),
                     TB_EDATA);
    assert_null(r);
    assert_string_equal(f->err, "/dev/zero:1: line longer than 65536 bytes");
}

/* Under the skip policy an over-long line is one bad row: the reader goes
 * on after its line end, and the next line keeps its own number. */
static void test_md_skip_policy_skips_an_overlong_line(void **state)
{
    fx *f = *state;
    size_t n = 300000; /* several buffers' worth */
    char *content = long_line_between_rows(n, '7');
    const char *path = write_file(f, "BTCUSDT.csv", content);
    free(content);
    tb_md_reader *r = open_skipping(f, path);
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == (T0_MS + 60000) * NS_MS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    assert_int_equal(tb_md_reader_bad_rows(r), 1);
    snprintf(f->expect, sizeof f->expect, "%s:2: line longer than 65536 bytes", path);
    assert_string_equal(f->first_warning, f->expect);
    tb_md_reader_close(r);
}

static void test_md_error_is_sticky(void **state)
{
    fx *f = *state;
    const char *path =
        write_file(f, "BTCUSDT.csv", "1704067200000,x,2,1,1,1,1704067259999,0,0,0,0,0\n" ROW1);
    tb_md_reader *r = open_ok(f, path);
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EDATA);
    f->err[0] = '\0';
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EDATA);
    snprintf(f->expect, sizeof f->expect, "%s:1: open: 'x' is not a number", path);
    assert_string_equal(f->err, f->expect);
    tb_md_reader_close(r);
}

static void test_md_error_message_truncates_safely(void **state)
{
    fx *f = *state;
    const char *path =
        write_file(f, "BTCUSDT.csv", "1704067200000,x,2,1,1,1,1704067259999,0,0,0,0,0\n");
    tb_md_reader *r = open_ok(f, path);
    tb_market_data b;
    char small[8];
    memset(small, 'z', sizeof small);
    assert_int_equal(tb_md_reader_next(r, &b, small, sizeof small), TB_EDATA);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, path, sizeof small - 1);
    assert_int_equal(tb_md_reader_next(r, &b, NULL, 0), TB_EDATA);
    tb_md_reader_close(r);
}

/* ---- skip policy --------------------------------------------------------- */

static void test_md_skip_policy_counts_warns_and_continues(void **state)
{
    fx *f = *state;
    const char *path =
        write_file(f, "BTCUSDT.csv",
                   ROW0 "1704067260000,1,2,1,abc,1,1704067319999,0,0,0,0,0\n"
                        "1704067260000,100.0,99.5,100.0,100.0,1,1704067319999,0,0,0,0,0\n" ROW1);
    tb_md_reader *r = open_skipping(f, path);
    tb_market_data b;
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS);
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == (T0_MS + 60000) * NS_MS);
    assert_true(b.close == INT64_C(4230000000000));
    assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), TB_EEOF);
    assert_int_equal(tb_md_reader_bad_rows(r), 2);
    assert_int_equal(f->warnings, 2);
    snprintf(f->expect, sizeof f->expect, "%s:2: close: 'abc' is not a number", path);
    assert_string_equal(f->first_warning, f->expect);
    snprintf(f->expect, sizeof f->expect, "%s:3: high 99.5 is below low 100.0", path);
    assert_string_equal(f->last_warning, f->expect);
    tb_md_reader_close(r);
}

/* ---- merge --------------------------------------------------------------- */

static void test_md_merge_orders_by_close_time_ties_by_spec_order(void **state)
{
    fx *f = *state;
    /* ETH 1m bars; BTC 2m bars whose closes coincide with every other ETH
     * close. Given BTC first, BTC must win each tie. */
    char eth[300], btc[300];
    snprintf(eth, sizeof eth, "%s",
             write_file(f, "ETHUSDT-1m.csv",
                        "1704067200000,1,1,1,1,1,1704067259999,0,0,0,0,0\n"
                        "1704067260000,1,1,1,1,1,1704067319999,0,0,0,0,0\n"
                        "1704067320000,1,1,1,1,1,1704067379999,0,0,0,0,0\n"
                        "1704067380000,1,1,1,1,1,1704067439999,0,0,0,0,0\n"));
    snprintf(btc, sizeof btc, "%s",
             write_file(f, "BTCUSDT-2m.csv",
                        "1704067200000,1,1,1,1,1,1704067319999,0,0,0,0,0\n"
                        "1704067320000,1,1,1,1,1,1704067439999,0,0,0,0,0\n"));
    const char *specs[2] = {btc, eth};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), 0);
    static const struct {
        const char *sym;
        int64_t close_ms;
    } want[] = {{"ETHUSDT", 59999},  {"BTCUSDT", 119999}, {"ETHUSDT", 119999},
                {"ETHUSDT", 179999}, {"BTCUSDT", 239999}, {"ETHUSDT", 239999}};
    tb_market_data b;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), 0);
        assert_string_equal(b.symbol, want[i].sym);
        assert_true(b.close_time == (T0_MS + want[i].close_ms) * NS_MS);
    }
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), TB_EEOF);
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_merge_close(m);
}

static void test_md_merge_sums_bad_rows(void **state)
{
    fx *f = *state;
    char a[300], b2[300];
    snprintf(a, sizeof a, "%s", write_file(f, "ETHUSDT.csv", ROW0 "bad\n"));
    snprintf(b2, sizeof b2, "%s", write_file(f, "BTCUSDT.csv", ROW0 "y\n" ROW1));
    const char *specs[2] = {a, b2};
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.on_bad_row = TB_BAD_ROW_SKIP;
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, &cfg, &m, f->err, sizeof f->err), 0);
    tb_market_data b;
    int n = 0;
    while (tb_md_merge_next(m, &b, f->err, sizeof f->err) == 0)
        n++;
    assert_int_equal(n, 3);
    assert_int_equal(tb_md_merge_bad_rows(m), 2);
    tb_md_merge_close(m);
}

static void test_md_merge_propagates_row_error(void **state)
{
    fx *f = *state;
    char a[300], b2[300];
    snprintf(a, sizeof a, "%s", write_file(f, "ETHUSDT.csv", ROW0 ROW1));
    snprintf(
        b2, sizeof b2, "%s",
        write_file(f, "BTCUSDT.csv", ROW0 "1704067260000,1,2,1,abc,1,1704067319999,0,0,0,0,0\n"));
    const char *specs[2] = {a, b2};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), 0);
    tb_market_data b;
    int rc, n = 0;
    while ((rc = tb_md_merge_next(m, &b, f->err, sizeof f->err)) == 0)
        n++;
    assert_int_equal(rc, TB_EDATA);
    assert_int_equal(n, 2);
    snprintf(f->expect, sizeof f->expect, "%s:2: close: 'abc' is not a number", b2);
    assert_string_equal(f->err, f->expect);
    tb_md_merge_close(m);
}

static void test_md_merge_consecutive_files_of_one_symbol(void **state)
{
    fx *f = *state;
    char jan[300], feb[300];
    snprintf(feb, sizeof feb, "%s", write_file(f, "BTCUSDT-1m-2024-02.csv", ROW1));
    snprintf(jan, sizeof jan, "%s", write_file(f, "BTCUSDT-1m-2024-01.csv", ROW0));
    const char *specs[2] = {feb, jan};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), 0);
    tb_market_data b;
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS);
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), 0);
    assert_true(b.open_time == T0_NS + 60 * NS_S);
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), TB_EEOF);
    tb_md_merge_close(m);
}

static void test_md_merge_overlapping_files_of_one_symbol_rejected(void **state)
{
    fx *f = *state;
    char a[300], b2[300];
    snprintf(a, sizeof a, "%s", write_file(f, "BTCUSDT-a.csv", ROW0 ROW1));
    snprintf(b2, sizeof b2, "%s", write_file(f, "BTCUSDT-b.csv", ROW1));
    const char *specs[2] = {a, b2};
    tb_md_merge *m = NULL;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), 0);
    tb_market_data b;
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), 0);
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), 0);
    assert_int_equal(tb_md_merge_next(m, &b, f->err, sizeof f->err), TB_EDATA);
    snprintf(f->expect, sizeof f->expect,
             "%s: BTCUSDT bar at 2024-01-01T00:01:00Z overlaps the bars of '%s'", b2, a);
    assert_string_equal(f->err, f->expect);
    tb_md_merge_close(m);
}

static void test_md_merge_open_reports_failing_spec(void **state)
{
    fx *f = *state;
    char a[300];
    snprintf(a, sizeof a, "%s", write_file(f, "ETHUSDT.csv", ROW0));
    const char *specs[2] = {a, "nope/BTCUSDT.csv"};
    tb_md_merge *m = (tb_md_merge *)1;
    assert_int_equal(tb_md_merge_open(specs, 2, NULL, &m, f->err, sizeof f->err), TB_EIO);
    assert_null(m);
    assert_string_equal(f->err, "cannot open 'nope/BTCUSDT.csv': No such file or directory");
    assert_int_equal(tb_md_merge_open(specs, 0, NULL, &m, f->err, sizeof f->err), TB_EINVAL);
}

/* ---- streaming ----------------------------------------------------------- */

static void test_md_long_file_streams_every_row(void **state)
{
    fx *f = *state;
    enum { ROWS = 200000 };
    snprintf(f->path, sizeof f->path, "%s/BTCUSDT-long.csv", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int64_t i = 0; i < ROWS; i++) {
        int64_t t = T0_MS + i * 60000;
        fprintf(fp, "%lld,100.%02d,101,99,100.5,%d.5,%lld,0,0,0,0,0\n", (long long)t,
                (int)(i % 100), (int)(i % 7), (long long)(t + 59999));
    }
    assert_int_equal(fclose(fp), 0);
    tb_md_reader *r = open_ok(f, f->path);
    tb_market_data b;
    int64_t n = 0, last = 0;
    int rc;
    while ((rc = tb_md_reader_next(r, &b, f->err, sizeof f->err)) == 0) {
        last = b.open_time;
        n++;
    }
    assert_int_equal(rc, TB_EEOF);
    assert_int_equal(n, ROWS);
    assert_true(last == (T0_MS + (int64_t)(ROWS - 1) * 60000) * NS_MS);
    assert_true(b.open == INT64_C(10099000000));
    tb_md_reader_close(r);
}

/* ---- the reader thread (tb_md_config.reader_thread) ---------------------- */

/* A Binance file of n rows (~100 bytes each: 60000 rows pass the thread's
 * 4 MB floor); bad_line > 0 puts high < low on that line. */
static const char *write_big(fx *f, const char *name, int n, int bad_line, int generic)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    if (generic) fputs("timestamp,open,high,low,close,volume\n", fp);
    for (int i = 0; i < n; i++) {
        int64_t t = T0_MS + (int64_t)i * 60000;
        int c = 42000 + (i * 7919) % 500; /* a price that moves */
        int hi = c + 3, lo = i + 1 == bad_line ? c + 5 : c - 2;
        if (generic)
            fprintf(fp, "%lld,%d.25000000,%d.50000000,%d.00000000,%d.25000000,%d.12345678\n",
                    (long long)t, c, hi, lo, c, 1 + i % 90);
        else
            fprintf(fp,
                    "%lld,%d.25000000,%d.50000000,%d.00000000,%d.25000000,%d.12345678,%lld,"
                    "1519032.77735170,1327,24.24064000,1024947.38040690,0\n",
                    (long long)t, c, hi, lo, c, 1 + i % 90, (long long)(t + 59999));
    }
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

/* Reads spec through a merge with and without the thread and requires the
 * same bars, the same digest after every bar, and the same end (with the
 * same message). Returns the bars read. */
static int same_with_and_without_thread(fx *f, const char *spec)
{
    tb_md_config c0, c1;
    tb_md_config_init(&c0);
    tb_md_config_init(&c1);
    c1.reader_thread = 1;
    tb_md_merge *m0 = NULL, *m1 = NULL;
    char e0[1024] = "", e1[1024] = "";
    const char *specs[] = {spec};
    assert_int_equal(tb_md_merge_open(specs, 1, &c0, &m0, e0, sizeof e0), 0);
    assert_int_equal(tb_md_merge_open(specs, 1, &c1, &m1, e1, sizeof e1), 0);
    int n = 0, r0, r1;
    for (;;) {
        tb_market_data b0, b1;
        memset(&b0, 0, sizeof b0);
        memset(&b1, 0, sizeof b1);
        r0 = tb_md_merge_next(m0, &b0, e0, sizeof e0);
        r1 = tb_md_merge_next(m1, &b1, e1, sizeof e1);
        assert_int_equal(r0, r1);
        uint64_t l0, h0, l1, h1;
        const char *p0, *p1;
        assert_int_equal(tb_md_merge_digest(m0, 0, &l0, &h0, &p0), 0);
        assert_int_equal(tb_md_merge_digest(m1, 0, &l1, &h1, &p1), 0);
        assert_true(l0 == l1 && h0 == h1);
        if (r0) break;
        assert_memory_equal(&b0, &b1, sizeof b0);
        n++;
    }
    if (r0 != TB_EEOF) assert_string_equal(e0, e1);
    snprintf(f->err, sizeof f->err, "%s", e1);
    assert_int_equal(tb_md_merge_bad_rows(m1), 0);
    tb_md_merge_close(m0);
    tb_md_merge_close(m1);
    return r0 == TB_EEOF ? n : -n - 1;
}

static void test_md_reader_thread_gives_the_same_bars_and_digests(void **state)
{
    fx *f = *state;
    assert_int_equal(same_with_and_without_thread(f, write_big(f, "BTCUSDT-1m.csv", 60000, 0, 0)),
                     60000);
    /* Generic files too (each bar's close waits for the next row). */
    const char *generic = write_big(f, "ETHUSDT-1m.csv", 60000, 0, 1);
    assert_int_equal(same_with_and_without_thread(f, generic), 60000);
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.reader_thread = 1;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open(generic, &cfg, &r, f->err, sizeof f->err), 0);
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) assert_int_equal(tb__md_reader_threaded(r), 1);
    tb_md_reader_close(r);
}

static void test_md_reader_thread_stops_at_a_bad_row_with_its_message(void **state)
{
    fx *f = *state;
    const char *path = write_big(f, "BTCUSDT-1m.csv", 60000, 45001, 0);
    /* Every bar before the bad line comes, then its file:line error. */
    assert_int_equal(same_with_and_without_thread(f, path), -45000 - 1);
    snprintf(f->expect, sizeof f->expect, "%s:45001:", path);
    assert_memory_equal(f->err, f->expect, strlen(f->expect));
}

static void test_md_reader_thread_is_used_and_closes_midway(void **state)
{
    fx *f = *state;
    const char *path = write_big(f, "BTCUSDT-1m.csv", 60000, 0, 0);
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.reader_thread = 1;
    tb_md_reader *r = NULL;
    assert_int_equal(tb_md_reader_open(path, &cfg, &r, f->err, sizeof f->err), 0);
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) assert_int_equal(tb__md_reader_threaded(r), 1);
    tb_market_data b;
    for (int i = 0; i < 10; i++)
        assert_int_equal(tb_md_reader_next(r, &b, f->err, sizeof f->err), 0);
    /* Closed with the thread blocked on a full ring: no hang, no leak. */
    struct timespec pause = {0, 20000000};
    nanosleep(&pause, NULL);
    tb_md_reader_close(r);
    /* A small file or skip mode reads in the caller's thread. */
    assert_int_equal(tb_md_reader_open(write_big(f, "ETHUSDT-1m.csv", 100, 0, 0), &cfg, &r, f->err,
                                       sizeof f->err),
                     0);
    assert_int_equal(tb__md_reader_threaded(r), 0);
    tb_md_reader_close(r);
    cfg.on_bad_row = TB_BAD_ROW_SKIP;
    assert_int_equal(tb_md_reader_open(path, &cfg, &r, f->err, sizeof f->err), 0);
    assert_int_equal(tb__md_reader_threaded(r), 0);
    tb_md_reader_close(r);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_md_binance_row_parses_exact_decimals),
        T(test_md_binance_microsecond_times_detected),
        T(test_md_binance_header_line_is_skipped),
        T(test_md_generic_epoch_seconds),
        T(test_md_generic_epoch_milliseconds),
        T(test_md_generic_iso8601_utc_forms),
        T(test_md_generic_iso8601_fractional_seconds),
        T(test_md_generic_close_time_is_next_open_minus_1ms),
        T(test_md_generic_single_bar_closes_after_60s),
        T(test_md_generic_header_only_has_no_bars),
        T(test_md_generic_time_before_epoch_is_refused),
        T(test_md_exponent_notation_parsed),
        T(test_md_surplus_decimals_round_half_up),
        T(test_md_surplus_decimals_are_a_bad_row_by_default),
        T(test_md_data_path_that_is_a_directory_is_refused),
        T(test_md_merge_lists_each_file_symbol),
        T(test_md_crlf_and_trailing_empty_line_accepted),
        T(test_md_utf8_bom_is_ignored),
        T(test_md_symbol_from_file_name),
        T(test_md_digest_tells_changed_bytes_apart),
        T(test_md_symbol_from_spec_prefix),
        T(test_md_symbol_not_inferable_is_einval),
        T(test_md_lowercase_prefix_is_not_a_symbol),
        T(test_md_spec_with_symbol_and_no_path_is_einval),
        T(test_md_missing_file_is_eio),
        T(test_md_empty_file_is_edata),
        T(test_md_unrecognised_header_is_edata),
        T(test_md_config_init_sets_fail_policy),
        T(test_md_close_null_is_noop),
        T(test_md_wrong_column_count_names_file_and_line),
        T(test_md_six_columns_without_header_hints_at_generic),
        T(test_md_bad_number_names_column),
        T(test_md_bad_time_names_column),
        T(test_md_missing_value_names_column),
        T(test_md_nan_price_rejected),
        T(test_md_inf_volume_rejected),
        T(test_md_out_of_range_number_rejected),
        T(test_md_non_positive_price_rejected),
        T(test_md_negative_volume_rejected),
        T(test_md_high_below_low_names_file_and_line),
        T(test_md_open_above_high_rejected),
        T(test_md_close_below_low_rejected),
        T(test_md_time_not_increasing_rejected),
        T(test_md_generic_time_not_increasing_rejected),
        T(test_md_close_time_before_open_time_rejected),
        T(test_md_close_time_not_increasing_rejected),
        T(test_md_generic_bad_timestamp_rejected),
        T(test_md_generic_wrong_column_count_rejected),
        T(test_md_nul_byte_anywhere_is_a_bad_row),
        T(test_md_fast_rows_read_as_the_general_path),
        T(test_md_overlong_line_is_bad_row),
        T(test_md_line_of_exactly_the_limit_is_accepted),
        T(test_md_endless_line_fails_at_the_limit),
        T(test_md_error_is_sticky),
        T(test_md_error_message_truncates_safely),
        T(test_md_skip_policy_counts_warns_and_continues),
        T(test_md_skip_policy_skips_an_overlong_line),
        T(test_md_merge_orders_by_close_time_ties_by_spec_order),
        T(test_md_merge_sums_bad_rows),
        T(test_md_merge_propagates_row_error),
        T(test_md_merge_consecutive_files_of_one_symbol),
        T(test_md_merge_overlapping_files_of_one_symbol_rejected),
        T(test_md_merge_open_reports_failing_spec),
        T(test_md_long_file_streams_every_row),
        T(test_md_reader_thread_gives_the_same_bars_and_digests),
        T(test_md_reader_thread_stops_at_a_bad_row_with_its_message),
        T(test_md_reader_thread_is_used_and_closes_midway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
