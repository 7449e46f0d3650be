/* Times as text (src/core/timefmt.c): the one ISO-8601 writer and reader
 * behind fills.csv, the trade log, the market-data reader, the journal,
 * reports and logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/timefmt_int.h"

#define S  INT64_C(1000000000)
#define MS INT64_C(1000000)

static void test_timefmt_iso_with_milliseconds_as_fills_csv_writes(void **state)
{
    (void)state;
    char b[32];
    assert_int_equal(tb_format_time_iso(0, b, sizeof(b)), 24);
    assert_string_equal(b, "1970-01-01T00:00:00.000Z");
    assert_int_equal(tb_format_time_iso(1704067259999999999, b, sizeof(b)), 24);
    assert_string_equal(b, "2024-01-01T00:00:59.999Z"); /* truncated, not rounded */
    tb_format_time_iso(951782400 * S + 5 * MS, b, sizeof(b));
    assert_string_equal(b, "2000-02-29T00:00:00.005Z");
    /* Toward zero to the millisecond, then the civil time of that. */
    tb_format_time_iso(-1, b, sizeof(b));
    assert_string_equal(b, "1970-01-01T00:00:00.000Z");
    tb_format_time_iso(-1500000, b, sizeof(b));
    assert_string_equal(b, "1969-12-31T23:59:59.999Z");
    assert_int_equal(tb_format_time_iso(0, b, 24), TB_EFULL);
    assert_int_equal(tb_format_time_iso(0, b, 25), 24);
}

static void test_timefmt_iso_auto_fraction_as_the_reader_quotes_times(void **state)
{
    (void)state;
    char b[40];
    tb__time_iso(1704067200 * S, TB__FRAC_AUTO, b, sizeof(b));
    assert_string_equal(b, "2024-01-01T00:00:00Z");
    tb__time_iso(1704067200 * S + 250 * MS, TB__FRAC_AUTO, b, sizeof(b));
    assert_string_equal(b, "2024-01-01T00:00:00.250Z");
    tb__time_iso(1704067200 * S + 1, TB__FRAC_AUTO, b, sizeof(b));
    assert_string_equal(b, "2024-01-01T00:00:00.000000001Z");
    tb__time_iso(-1, TB__FRAC_AUTO, b, sizeof(b));
    assert_string_equal(b, "1969-12-31T23:59:59.999999999Z");
    tb__time_hms(1704079447 * S + 999 * MS, b, sizeof(b));
    assert_string_equal(b, "03:24:07");
    assert_int_equal(tb__time_hms(0, b, 8), TB_EFULL);
}

static void test_timefmt_civil_time_of_a_leap_day_and_the_last_int64_day(void **state)
{
    (void)state;
    tb__utc t;
    tb__utc_of(1709164800 * S + 7, &t); /* 2024-02-29 */
    assert_int_equal(t.year, 2024);
    assert_int_equal(t.month, 2);
    assert_int_equal(t.day, 29);
    assert_int_equal(t.nsec, 7);
    tb__utc_of(INT64_MAX, &t);
    assert_int_equal(t.year, 2262);
    assert_int_equal(t.month, 4);
    assert_int_equal(t.day, 11);
    assert_int_equal(t.hour, 23);
    assert_int_equal(t.min, 47);
    assert_int_equal(t.sec, 16);
}

typedef struct {
    const char *text;
    int rc;
    int64_t ns;
} parse_case;

static void check(const parse_case *c, size_t n, int mode)
{
    for (size_t i = 0; i < n; i++) {
        int64_t out = -7;
        int rc = tb__time_parse_iso(c[i].text, strlen(c[i].text), mode, &out);
        if (rc != c[i].rc || (rc == 0 && out != c[i].ns))
            fail_msg("%s '%s': got %d (%lld), want %d (%lld)", mode ? "strict" : "lenient",
                     c[i].text, rc, (long long)out, c[i].rc, (long long)c[i].ns);
    }
}

static void test_timefmt_lenient_reads_what_data_files_hold(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"2024-01-01", 0, 1704067200 * S},
        {"2024-01-01T00:00:00Z", 0, 1704067200 * S},
        {"2024-01-01 00:00:00", 0, 1704067200 * S},
        {"2024-01-01t00:05", 0, 1704067500 * S},
        {"2024-01-01T00:00:00.5z", 0, 1704067200 * S + 500 * MS},
        {"2024-01-01T00:00:00,123456789987", 0, 1704067200 * S + 123456789},
        {"2024-01-01T02:00:00+02:00", 0, 1704067200 * S},
        {"2023-12-31T23:30:00-0030", 0, 1704067200 * S},
        {"2024-02-30", TB_EPARSE, 0},
        {"2024-13-01", TB_EPARSE, 0},
        {"2024-01-01T24:00", TB_EPARSE, 0},
        {"2024-01-01T00:00.5", TB_EPARSE, 0}, /* a fraction needs seconds */
        {"2024-01-01T00:00:00.", TB_EPARSE, 0},
        {"2024-01-01T00:00:00+2", TB_EPARSE, 0},
        {"2024-1-01", TB_EPARSE, 0},
        {"2024-01-01x", TB_EPARSE, 0},
        {"1969-12-31T23:59:59Z", TB_ERANGE, 0},
        {"9999-12-31", TB_ERANGE, 0},
    };
    check(cases, sizeof(cases) / sizeof(cases[0]), TB__ISO_LENIENT);
}

static void test_timefmt_strict_reads_only_what_tradebus_writes(void **state)
{
    (void)state;
    static const parse_case cases[] = {
        {"2024-01-01T00:05:00.000Z", 0, 1704067500 * S},
        {"2024-01-01T00:05:00Z", 0, 1704067500 * S},
        {"2024-01-01T00:05:00.123456789+00:00", 0, 1704067500 * S + 123456789},
        {"2261-12-31T23:59:59.999Z", 0, INT64_C(9214646399999) * MS},
        {"2024-01-01", TB_EPARSE, 0},
        {"2024-01-01 00:05:00Z", TB_EPARSE, 0},
        {"2024-01-01t00:05:00Z", TB_EPARSE, 0},
        {"2024-01-01T00:05:00z", TB_EPARSE, 0},
        {"2024-01-01T00:05:00+01:00", TB_EPARSE, 0},
        {"2024-01-01T00:05:00.1234567890Z", TB_EPARSE, 0},
        {"2024-01-01T00:05:00,5Z", TB_EPARSE, 0},
        {"2024-01-01T00:05:00", TB_EPARSE, 0},
        {"2024-02-30T00:00:00Z", TB_ERANGE, 0},
        {"1969-12-31T23:59:59Z", TB_ERANGE, 0},
        {"2262-01-01T00:00:00Z", TB_ERANGE, 0},
        /* the range is checked before the fraction and zone */
        {"2024-13-01T00:00:00.Z", TB_ERANGE, 0},
    };
    check(cases, sizeof(cases) / sizeof(cases[0]), TB__ISO_STRICT);
}

/* What one writes, the other reads back. */
static void test_timefmt_written_times_read_back(void **state)
{
    (void)state;
    for (int64_t ns = 0; ns < INT64_C(9214646400000) * MS; ns += INT64_C(987654321987654)) {
        char b[40];
        int64_t back;
        int n = tb__time_iso(ns, TB__FRAC_AUTO, b, sizeof(b));
        assert_true(n > 0);
        assert_int_equal(tb__time_parse_iso(b, (size_t)n, TB__ISO_STRICT, &back), 0);
        assert_int_equal(back, ns);
        assert_int_equal(tb__time_parse_iso(b, (size_t)n, TB__ISO_LENIENT, &back), 0);
        assert_int_equal(back, ns);
    }
}

/* The day-cached form writes exactly what tb__time_iso writes, through
 * minutes in order, jumps back and forth across days, years and 1970. */
static void test_timefmt_cached_day_writes_the_same_bytes(void **state)
{
    (void)state;
    tb__iso_day day = {0, "", 0};
    uint64_t s = 7;
    int64_t t = INT64_C(1704067199999000000); /* 2023-12-31T23:59:59.999Z */
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if (i % 1000 == 999)
            t = (int64_t)(s >> 2) % INT64_C(4102444800000000000); /* anywhere up to 2100 */
        else if (i % 97 == 0)
            t -= (int64_t)(s >> 40) * 1000; /* back in time, maybe a day */
        else
            t += INT64_C(60000000000) + (int64_t)(s >> 54); /* the next minute, plus ns */
        if (i == 5000) t = 0;
        if (i == 5001) t = -1; /* before 1970: no cache, still the same bytes */
        char want[40], got[40];
        int wn = tb__time_iso(t, TB__FRAC_MS, want, sizeof want);
        int gn = tb__time_iso_ms(t, &day, got, sizeof got);
        assert_int_equal(gn, wn);
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timefmt_iso_with_milliseconds_as_fills_csv_writes),
        cmocka_unit_test(test_timefmt_iso_auto_fraction_as_the_reader_quotes_times),
        cmocka_unit_test(test_timefmt_civil_time_of_a_leap_day_and_the_last_int64_day),
        cmocka_unit_test(test_timefmt_lenient_reads_what_data_files_hold),
        cmocka_unit_test(test_timefmt_strict_reads_only_what_tradebus_writes),
        cmocka_unit_test(test_timefmt_written_times_read_back),
        cmocka_unit_test(test_timefmt_cached_day_writes_the_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
