#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "tradebus/decimal.h"
#include "../src/core/decimal_int.h" /* the inline forms the hot path uses */

#define NUL_TERMINATED ((size_t)-1)

/* Sentinel for "out untouched" checks: not a value any test produces. */
#define UNTOUCHED ((tb_decimal)777)

static tb_decimal dec(const char *s)
{
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_parse(s, NUL_TERMINATED, &d), TB_OK);
    return d;
}

static void assert_dec_str(tb_decimal d, const char *expected)
{
    char buf[TB_DECIMAL_STRLEN];
    assert_int_equal(tb_dec_format(d, buf, sizeof buf), (int)strlen(expected));
    assert_string_equal(buf, expected);
}

static void assert_parse_fails(const char *s, int expected_rc)
{
    tb_decimal d = UNTOUCHED;
    int rc = tb_dec_parse(s, NUL_TERMINATED, &d);
    if (rc != expected_rc) fail_msg("parse(\"%s\") returned %d, expected %d", s, rc, expected_rc);
    assert_int_equal(d, UNTOUCHED);
}

static void assert_mul(const char *a, const char *b, tb_rounding r, const char *expected)
{
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_mul(dec(a), dec(b), r, &out), TB_OK);
    assert_dec_str(out, expected);
}

static void assert_div(const char *a, const char *b, tb_rounding r, const char *expected)
{
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_div(dec(a), dec(b), r, &out), TB_OK);
    assert_dec_str(out, expected);
}

static void assert_parse_round(const char *s, tb_rounding r, const char *expected)
{
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_parse_round(s, NUL_TERMINATED, r, &out), TB_OK);
    assert_dec_str(out, expected);
}

static void assert_quantize(const char *a, const char *step, tb_rounding r, const char *expected)
{
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_quantize(dec(a), dec(step), r, &out), TB_OK);
    assert_dec_str(out, expected);
}

static void assert_from_double(double v, tb_decimal expected)
{
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_from_double(v, &out), TB_OK);
    assert_int_equal(out, expected);
}

/* ---- from_int ---------------------------------------------------------- */

static void test_decimal_from_int_scales_whole_units(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_from_int(42, &d), TB_OK);
    assert_int_equal(d, 4200000000);
    assert_int_equal(tb_dec_from_int(-3, &d), TB_OK);
    assert_int_equal(d, -300000000);
    assert_int_equal(tb_dec_from_int(92233720368, &d), TB_OK);
    assert_int_equal(d, 9223372036800000000);
}

static void test_decimal_from_int_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_from_int(92233720369, &d), TB_EOVERFLOW);
    assert_int_equal(tb_dec_from_int(-92233720369, &d), TB_EOVERFLOW);
    assert_int_equal(tb_dec_from_int(INT64_MIN, &d), TB_EOVERFLOW);
    assert_int_equal(tb_dec_from_int(INT64_MAX, &d), TB_EOVERFLOW);
    assert_int_equal(d, UNTOUCHED);
}

/* ---- parse ------------------------------------------------------------- */

static void test_decimal_parse_accepts_plain_notation(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        tb_decimal raw;
    } cases[] = {
        {"0", 0},
        {"-0", 0},
        {"+0.0", 0},
        {"123", 12300000000},
        {"-0.5", -50000000},
        {"+1.25", 125000000},
        {"1.23456789", 123456789},
        {"0.00000001", 1},
        {"-0.00000001", -1},
        {"007.50", 750000000},
        {"42000.5", 4200050000000},
        {"92233720368.54775807", INT64_MAX},
        {"-92233720368.54775807", -INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_decimal d = UNTOUCHED;
        assert_int_equal(tb_dec_parse(cases[i].s, NUL_TERMINATED, &d), TB_OK);
        assert_int_equal(d, cases[i].raw);
    }
}

static void test_decimal_parse_rejects_malformed_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",     "+",        "-",        ".",    ".5",   "5.",  "-.5",  "1.2.3", " 1",
        "1 ",   "1\t",      "1e3",      "1E3",  "1e-3", "NaN", "nan",  "Inf",   "inf",
        "-inf", "Infinity", "+-1",      "--1",  "++1",  "1-",  "0x10", "1,5",   "12a",
        "a12",  "1_000",    "\xd9\xa1", "1. 5", "1 .5", "- 1", "1..5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_parse_fails(bad[i], TB_EPARSE);
}

static void test_decimal_parse_accepts_surplus_zero_digits(void **state)
{
    (void)state;
    assert_int_equal(dec("1.1234567800000"), 112345678);
    assert_int_equal(dec("-0.000000010"), -1);
}

static void test_decimal_parse_refuses_surplus_nonzero_digits(void **state)
{
    (void)state;
    assert_parse_fails("1.123456789", TB_ERANGE);
    assert_parse_fails("0.000000001", TB_ERANGE);
    assert_parse_fails("-0.0000000000001", TB_ERANGE);
}

static void test_decimal_parse_overflow_is_reported(void **state)
{
    (void)state;
    assert_parse_fails("92233720368.54775808", TB_EOVERFLOW);
    assert_parse_fails("-92233720368.54775808", TB_EOVERFLOW);
    assert_parse_fails("92233720369", TB_EOVERFLOW);
    /* Magnitude is the worse offence than surplus precision. */
    assert_parse_fails("92233720369.000000001", TB_EOVERFLOW);
    assert_parse_fails("99999999999999999999999999999999999999999999999999", TB_EOVERFLOW);

    char huge[300];
    huge[0] = '1';
    memset(huge + 1, '0', sizeof huge - 2);
    huge[sizeof huge - 1] = '\0';
    assert_parse_fails(huge, TB_EOVERFLOW);
}

static void test_decimal_parse_accepts_long_leading_zeros(void **state)
{
    (void)state;
    char s[300];
    memset(s, '0', sizeof s - 3);
    memcpy(s + sizeof s - 3, "7", 2);
    assert_int_equal(dec(s), 700000000);
}

static void test_decimal_parse_honours_explicit_length(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_parse("1.25xyz", 3, &d), TB_OK);
    assert_int_equal(d, 120000000);
    assert_int_equal(tb_dec_parse("12\0"
                                  "3",
                                  4, &d),
                     TB_EPARSE);
    assert_int_equal(tb_dec_parse("5", 0, &d), TB_EPARSE);
    assert_int_equal(d, 120000000);
}

static void test_decimal_parse_rejects_null_arguments(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_parse(NULL, 3, &d), TB_EINVAL);
    assert_int_equal(tb_dec_parse("1", 1, NULL), TB_EINVAL);
    assert_int_equal(tb_dec_parse_round(NULL, 3, TB_ROUND_DOWN, &d), TB_EINVAL);
    assert_int_equal(d, UNTOUCHED);
}

/* ---- parse_round ------------------------------------------------------- */

static void test_decimal_parse_round_half_up_ties_away_from_zero(void **state)
{
    (void)state;
    assert_parse_round("1.123456785", TB_ROUND_HALF_UP, "1.12345679");
    assert_parse_round("-1.123456785", TB_ROUND_HALF_UP, "-1.12345679");
    assert_parse_round("1.1234567849999", TB_ROUND_HALF_UP, "1.12345678");
    assert_parse_round("-0.000000005", TB_ROUND_HALF_UP, "-0.00000001");
}

static void test_decimal_parse_round_down_truncates(void **state)
{
    (void)state;
    assert_parse_round("1.123456789999", TB_ROUND_DOWN, "1.12345678");
    assert_parse_round("-1.123456789999", TB_ROUND_DOWN, "-1.12345678");
}

static void test_decimal_parse_round_half_even_ties_to_even(void **state)
{
    (void)state;
    assert_parse_round("1.123456785", TB_ROUND_HALF_EVEN, "1.12345678");
    assert_parse_round("1.123456775", TB_ROUND_HALF_EVEN, "1.12345678");
    assert_parse_round("-1.123456775", TB_ROUND_HALF_EVEN, "-1.12345678");
    assert_parse_round("1.1234567850000001", TB_ROUND_HALF_EVEN, "1.12345679");
}

static void test_decimal_parse_round_floor_and_ceil_follow_sign(void **state)
{
    (void)state;
    assert_parse_round("1.123456781", TB_ROUND_FLOOR, "1.12345678");
    assert_parse_round("-1.123456781", TB_ROUND_FLOOR, "-1.12345679");
    assert_parse_round("1.123456781", TB_ROUND_CEIL, "1.12345679");
    assert_parse_round("-1.123456789", TB_ROUND_CEIL, "-1.12345678");
    assert_parse_round("1.123456780000", TB_ROUND_CEIL, "1.12345678");
}

static void test_decimal_parse_round_overflow_after_rounding_is_reported(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(
        tb_dec_parse_round("92233720368.547758075", NUL_TERMINATED, TB_ROUND_HALF_UP, &d),
        TB_EOVERFLOW);
    assert_int_equal(d, UNTOUCHED);
    assert_int_equal(tb_dec_parse_round("92233720368.547758075", NUL_TERMINATED, TB_ROUND_DOWN, &d),
                     TB_OK);
    assert_int_equal(d, INT64_MAX);
}

static void test_decimal_parse_round_rejects_malformed_input(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_parse_round("1.5e3", NUL_TERMINATED, TB_ROUND_DOWN, &d), TB_EPARSE);
    assert_int_equal(tb_dec_parse_round("", NUL_TERMINATED, TB_ROUND_DOWN, &d), TB_EPARSE);
    assert_int_equal(d, UNTOUCHED);
}

static void test_decimal_parse_round_rejects_unknown_rule(void **state)
{
    (void)state;
    tb_decimal d = UNTOUCHED;
    assert_int_equal(tb_dec_parse_round("1.5", NUL_TERMINATED, (tb_rounding)99, &d), TB_EINVAL);
    assert_int_equal(d, UNTOUCHED);
}

/* ---- format ------------------------------------------------------------ */

static void test_decimal_format_is_shortest_exact(void **state)
{
    (void)state;
    assert_dec_str(150000000, "1.5");
    assert_dec_str(-1, "-0.00000001");
    assert_dec_str(4200000000, "42");
    assert_dec_str(0, "0");
    assert_dec_str(100000000, "1");
    assert_dec_str(10, "0.0000001");
    assert_dec_str(-12345678900, "-123.456789");
    assert_dec_str(4200050000000, "42000.5");
    assert_dec_str(INT64_MAX, "92233720368.54775807");
    assert_dec_str(-INT64_MAX, "-92233720368.54775807");
}

static void test_decimal_format_reports_small_buffer(void **state)
{
    (void)state;
    char buf[4];
    assert_int_equal(tb_dec_format(150000000, buf, 4), 3);
    assert_string_equal(buf, "1.5");
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tb_dec_format(150000000, buf, 3), TB_EFULL);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(tb_dec_format(1, buf, 0), TB_EFULL);
    assert_int_equal(tb_dec_format(1, NULL, 8), TB_EINVAL);
}

static void test_decimal_format_longest_value_fits_strlen(void **state)
{
    (void)state;
    char buf[TB_DECIMAL_STRLEN];
    int n = tb_dec_format(-INT64_MAX, buf, sizeof buf);
    assert_int_equal(n, 21);
    assert_true(n < TB_DECIMAL_STRLEN);
}

static void test_decimal_format_then_parse_round_trips(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Mix magnitudes so short and long fractions both occur. */
        tb_decimal d = (tb_decimal)(x >> (1 + x % 63));
        if (x & 1) d = -d;
        char buf[TB_DECIMAL_STRLEN];
        int n = tb_dec_format(d, buf, sizeof buf);
        assert_true(n > 0);
        tb_decimal back = UNTOUCHED;
        assert_int_equal(tb_dec_parse(buf, (size_t)n, &back), TB_OK);
        assert_int_equal(back, d);
    }
}

/* ---- add / sub --------------------------------------------------------- */

static void test_decimal_add_and_sub_are_exact(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_add(dec("0.1"), dec("0.2"), &out), TB_OK);
    assert_dec_str(out, "0.3");
    assert_int_equal(tb_dec_sub(dec("1"), dec("0.00000001"), &out), TB_OK);
    assert_dec_str(out, "0.99999999");
    assert_int_equal(tb_dec_add(INT64_MAX, -INT64_MAX, &out), TB_OK);
    assert_int_equal(out, 0);
}

static void test_decimal_add_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_add(INT64_MAX, 1, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_add(-INT64_MAX, -1, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_add(INT64_MAX, INT64_MAX, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
    assert_int_equal(tb_dec_add(INT64_MAX - 1, 1, &out), TB_OK);
    assert_int_equal(out, INT64_MAX);
}

static void test_decimal_sub_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_sub(-INT64_MAX, 1, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_sub(INT64_MAX, -1, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_sub(0, INT64_MIN, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

static void test_decimal_int64_min_is_never_produced(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_sub(-INT64_MAX, 1, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_add(INT64_MIN, 0, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_mul(INT64_MIN, TB_DECIMAL_ONE, TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

/* ---- mul --------------------------------------------------------------- */

static void test_decimal_mul_is_exact_when_representable(void **state)
{
    (void)state;
    assert_mul("1.5", "2", TB_ROUND_DOWN, "3");
    assert_mul("42000.5", "0.001", TB_ROUND_DOWN, "42.0005");
    assert_mul("-3", "0.5", TB_ROUND_DOWN, "-1.5");
    assert_mul("-3", "-0.5", TB_ROUND_DOWN, "1.5");
    assert_mul("92233720368.54775807", "1", TB_ROUND_DOWN, "92233720368.54775807");
    assert_mul("0", "-5", TB_ROUND_CEIL, "0");
}

static void test_decimal_mul_rounds_half_up_away_from_zero(void **state)
{
    (void)state;
    assert_mul("0.00000001", "0.5", TB_ROUND_HALF_UP, "0.00000001");
    assert_mul("-0.00000001", "0.5", TB_ROUND_HALF_UP, "-0.00000001");
    assert_mul("0.00000001", "0.49999999", TB_ROUND_HALF_UP, "0");
    assert_mul("1.23456789", "0.1", TB_ROUND_HALF_UP, "0.12345679");
}

static void test_decimal_mul_rounds_down_toward_zero(void **state)
{
    (void)state;
    assert_mul("0.00000003", "0.5", TB_ROUND_DOWN, "0.00000001");
    assert_mul("-0.00000003", "0.5", TB_ROUND_DOWN, "-0.00000001");
    assert_mul("0.00000001", "0.99999999", TB_ROUND_DOWN, "0");
}

static void test_decimal_mul_rounds_half_even_to_even(void **state)
{
    (void)state;
    assert_mul("0.00000003", "0.5", TB_ROUND_HALF_EVEN, "0.00000002");
    assert_mul("0.00000005", "0.5", TB_ROUND_HALF_EVEN, "0.00000002");
    assert_mul("0.00000007", "0.5", TB_ROUND_HALF_EVEN, "0.00000004");
    assert_mul("-0.00000005", "0.5", TB_ROUND_HALF_EVEN, "-0.00000002");
    assert_mul("0.00000005", "0.50000001", TB_ROUND_HALF_EVEN, "0.00000003");
}

static void test_decimal_mul_rounds_floor_toward_negative_infinity(void **state)
{
    (void)state;
    assert_mul("0.00000003", "0.5", TB_ROUND_FLOOR, "0.00000001");
    assert_mul("-0.00000003", "0.5", TB_ROUND_FLOOR, "-0.00000002");
    assert_mul("-0.00000001", "0.00000001", TB_ROUND_FLOOR, "-0.00000001");
}

static void test_decimal_mul_rounds_ceil_toward_positive_infinity(void **state)
{
    (void)state;
    assert_mul("0.00000003", "0.5", TB_ROUND_CEIL, "0.00000002");
    assert_mul("-0.00000003", "0.5", TB_ROUND_CEIL, "-0.00000001");
    assert_mul("0.00000001", "0.00000001", TB_ROUND_CEIL, "0.00000001");
}

static void test_decimal_mul_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_mul(dec("92233720368"), dec("1.00000001"), TB_ROUND_DOWN, &out),
                     TB_EOVERFLOW);
    assert_int_equal(tb_dec_mul(INT64_MAX, INT64_MAX, TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_mul(INT64_MAX, -INT64_MAX, TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_mul(dec("1000000"), dec("1000000"), TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

static void test_decimal_mul_rejects_unknown_rule(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_mul(1, 1, (tb_rounding)-1, &out), TB_EINVAL);
    assert_int_equal(out, UNTOUCHED);
}

/* ---- div --------------------------------------------------------------- */

static void test_decimal_div_rounds_by_rule(void **state)
{
    (void)state;
    assert_div("1", "3", TB_ROUND_HALF_UP, "0.33333333");
    assert_div("2", "3", TB_ROUND_HALF_UP, "0.66666667");
    assert_div("2", "3", TB_ROUND_DOWN, "0.66666666");
    assert_div("-2", "3", TB_ROUND_FLOOR, "-0.66666667");
    assert_div("-2", "3", TB_ROUND_CEIL, "-0.66666666");
    assert_div("2", "-3", TB_ROUND_HALF_UP, "-0.66666667");
    assert_div("0.00000001", "2", TB_ROUND_HALF_EVEN, "0");
    assert_div("0.00000003", "2", TB_ROUND_HALF_EVEN, "0.00000002");
    assert_div("0.00000001", "2", TB_ROUND_HALF_UP, "0.00000001");
}

static void test_decimal_div_is_exact_when_representable(void **state)
{
    (void)state;
    assert_div("42000.5", "2", TB_ROUND_DOWN, "21000.25");
    assert_div("1", "0.00000001", TB_ROUND_DOWN, "100000000");
    assert_div("-7.5", "-2.5", TB_ROUND_DOWN, "3");
}

static void test_decimal_div_by_zero_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_div(dec("1"), 0, TB_ROUND_HALF_UP, &out), TB_EDIVZERO);
    assert_int_equal(tb_dec_div(0, 0, TB_ROUND_HALF_UP, &out), TB_EDIVZERO);
    assert_int_equal(out, UNTOUCHED);
}

static void test_decimal_div_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_div(INT64_MAX, dec("0.5"), TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_div(dec("1000"), dec("0.00000001"), TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

/* ---- muldiv_int -------------------------------------------------------- */

static void test_decimal_muldiv_int_computes_basis_points(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_muldiv_int(dec("123.45678901"), 10, 10000, TB_ROUND_HALF_UP, &out),
                     TB_OK);
    assert_dec_str(out, "0.12345679");
    assert_int_equal(tb_dec_muldiv_int(dec("123.45678901"), 10, 10000, TB_ROUND_DOWN, &out), TB_OK);
    assert_dec_str(out, "0.12345678");
    assert_int_equal(tb_dec_muldiv_int(dec("1000"), 75, 10000, TB_ROUND_HALF_UP, &out), TB_OK);
    assert_dec_str(out, "7.5");
}

static void test_decimal_muldiv_int_handles_negative_divisor(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_muldiv_int(dec("1"), 1, -3, TB_ROUND_HALF_UP, &out), TB_OK);
    assert_dec_str(out, "-0.33333333");
    assert_int_equal(tb_dec_muldiv_int(dec("1"), 1, -3, TB_ROUND_FLOOR, &out), TB_OK);
    assert_dec_str(out, "-0.33333334");
    assert_int_equal(tb_dec_muldiv_int(5, INT64_MIN, INT64_MIN, TB_ROUND_DOWN, &out), TB_OK);
    assert_int_equal(out, 5);
}

static void test_decimal_muldiv_int_is_exact_past_64_bits(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_muldiv_int(INT64_MAX, INT64_MAX, INT64_MAX, TB_ROUND_DOWN, &out),
                     TB_OK);
    assert_int_equal(out, INT64_MAX);
    assert_int_equal(tb_dec_muldiv_int(INT64_MAX, 3, 4, TB_ROUND_DOWN, &out), TB_OK);
    assert_int_equal(out, 6917529027641081855);
}

static void test_decimal_muldiv_int_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_muldiv_int(INT64_MAX, 3, 2, TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_muldiv_int(INT64_MAX, INT64_MIN, 1, TB_ROUND_DOWN, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

static void test_decimal_muldiv_int_by_zero_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_muldiv_int(dec("1"), 1, 0, TB_ROUND_DOWN, &out), TB_EDIVZERO);
    assert_int_equal(out, UNTOUCHED);
}

/* ---- quantize ---------------------------------------------------------- */

static void test_decimal_quantize_rounds_to_step(void **state)
{
    (void)state;
    assert_quantize("1.23456789", "0.001", TB_ROUND_DOWN, "1.234");
    assert_quantize("1.23456789", "0.001", TB_ROUND_HALF_UP, "1.235");
    assert_quantize("1.23456789", "0.001", TB_ROUND_CEIL, "1.235");
    assert_quantize("-1.23456789", "0.001", TB_ROUND_DOWN, "-1.234");
    assert_quantize("-1.23456789", "0.001", TB_ROUND_FLOOR, "-1.235");
    assert_quantize("1.25", "0.5", TB_ROUND_HALF_EVEN, "1");
    assert_quantize("1.75", "0.5", TB_ROUND_HALF_EVEN, "2");
    assert_quantize("1.25", "0.5", TB_ROUND_HALF_UP, "1.5");
    assert_quantize("42000.37", "0.25", TB_ROUND_DOWN, "42000.25");
    assert_quantize("7", "0.00000001", TB_ROUND_DOWN, "7");
}

static void test_decimal_quantize_rejects_non_positive_step(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_quantize(dec("1"), 0, TB_ROUND_DOWN, &out), TB_EINVAL);
    assert_int_equal(tb_dec_quantize(dec("1"), dec("-0.1"), TB_ROUND_DOWN, &out), TB_EINVAL);
    assert_int_equal(out, UNTOUCHED);
}

static void test_decimal_quantize_overflow_is_reported(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_quantize(INT64_MAX, dec("1"), TB_ROUND_CEIL, &out), TB_EOVERFLOW);
    assert_int_equal(tb_dec_quantize(-INT64_MAX, dec("1"), TB_ROUND_FLOOR, &out), TB_EOVERFLOW);
    assert_int_equal(out, UNTOUCHED);
    assert_int_equal(tb_dec_quantize(INT64_MAX, dec("1"), TB_ROUND_DOWN, &out), TB_OK);
    assert_dec_str(out, "92233720368");
}

/* ---- from_double ------------------------------------------------------- */

static void test_decimal_from_double_is_nearest(void **state)
{
    (void)state;
    assert_from_double(0.1, 10000000);
    assert_from_double(1.5, 150000000);
    assert_from_double(-2.25, -225000000);
    assert_from_double(0.1 + 0.2, 30000000);
    assert_from_double(12345.6789, 1234567890000);
    assert_from_double(-0.0, 0);
    assert_from_double(92233720368.0, 9223372036800000000);
    /* The double nearest 1.5e-8 lies just below 1.5 units, 5e-9 just above
     * 0.5 units: rounding the exact value, not v * 1e8, tells them apart. */
    assert_from_double(1.5e-8, 1);
    assert_from_double(5e-9, 1);
    assert_from_double(2.5e-8, 2);
    assert_from_double(4.9e-324, 0);
}

static void test_decimal_from_double_tiny_values_round_to_zero(void **state)
{
    (void)state;
    assert_from_double(ldexp(1.0, -27), 1); /* 0.745 units */
    for (int e = 28; e <= 1074; e++) {
        assert_from_double(ldexp(1.0, -e), 0);
        assert_from_double(-ldexp(1.0, -e), 0);
        assert_from_double(ldexp(1.999, -e - 1), 0);
    }
}

static void test_decimal_from_double_ties_away_from_zero(void **state)
{
    (void)state;
    /* 1/512 is exactly 195312.5 units. */
    assert_from_double(1.0 / 512, 195313);
    assert_from_double(-1.0 / 512, -195313);
}

static void test_decimal_from_double_rejects_non_finite_and_out_of_range(void **state)
{
    (void)state;
    tb_decimal out = UNTOUCHED;
    assert_int_equal(tb_dec_from_double(NAN, &out), TB_ERANGE);
    assert_int_equal(tb_dec_from_double(INFINITY, &out), TB_ERANGE);
    assert_int_equal(tb_dec_from_double(-INFINITY, &out), TB_ERANGE);
    assert_int_equal(tb_dec_from_double(1e11, &out), TB_ERANGE);
    assert_int_equal(tb_dec_from_double(-1e11, &out), TB_ERANGE);
    assert_int_equal(tb_dec_from_double(1.7976931348623157e308, &out), TB_ERANGE);
    /* Every power of two past the range, up to the largest exponent. */
    for (int e = 37; e <= 1023; e++) {
        assert_int_equal(tb_dec_from_double(ldexp(1.0, e), &out), TB_ERANGE);
        assert_int_equal(tb_dec_from_double(-ldexp(1.0, e), &out), TB_ERANGE);
    }
    /* The nearest double to the largest decimal is slightly above it. */
    assert_int_equal(tb_dec_from_double(92233720368.54775807, &out), TB_ERANGE);
    assert_int_equal(out, UNTOUCHED);
}

/* ---- mul, div, muldiv against a reference --------------------------------
 * The library divides in 64 bits when the magnitudes fit (the common case)
 * and in 128 bits otherwise; both must round exactly like this plain
 * floor-division reference, on every rounding rule and sign. */
__extension__ typedef __int128 ref_i128;

static uint64_t ref_state = 0x243F6A8885A308D3ull;
static uint64_t ref_rand(void)
{
    uint64_t z = (ref_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A value of a random magnitude: small, price-like, or near the limits. */
static int64_t ref_value(void)
{
    int bits = (int)(ref_rand() % 63) + 1;
    int64_t v = (int64_t)(ref_rand() >> (64 - bits));
    return ref_rand() & 1 ? -v : v;
}

/* num / den (den != 0) rounded by r; 0 and *out, or TB_EOVERFLOW. */
static int ref_div(ref_i128 num, ref_i128 den, tb_rounding r, tb_decimal *out)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    ref_i128 q = num / den, rem = num % den; /* truncated toward zero */
    if (rem != 0) {
        int neg = num < 0;
        ref_i128 a2 = (rem < 0 ? -rem : rem) * 2;
        int up = 0; /* away from zero */
        switch (r) {
        case TB_ROUND_HALF_UP:
            up = a2 >= den;
            break;
        case TB_ROUND_DOWN:
            up = 0;
            break;
        case TB_ROUND_HALF_EVEN:
            up = a2 > den || (a2 == den && (q & 1));
            break;
        case TB_ROUND_FLOOR:
            up = neg;
            break;
        case TB_ROUND_CEIL:
            up = !neg;
            break;
        }
        if (up) q += neg ? -1 : 1;
    }
    if (q > TB_DECIMAL_MAX || q < TB_DECIMAL_MIN) return TB_EOVERFLOW;
    *out = (tb_decimal)q;
    return TB_OK;
}

static void test_decimal_mul_div_round_like_the_reference(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t a = ref_value(), b = ref_value(), n = ref_value(), d = ref_value();
        tb_rounding r = (tb_rounding)(ref_rand() % 5);
        if (a < TB_DECIMAL_MIN) a = TB_DECIMAL_MIN;
        if (b < TB_DECIMAL_MIN) b = TB_DECIMAL_MIN;
        tb_decimal got = UNTOUCHED, want = UNTOUCHED;
        int grc = tb_dec_mul(a, b, r, &got);
        int wrc = ref_div((ref_i128)a * b, TB_DECIMAL_ONE, r, &want);
        if (grc != wrc || (grc == TB_OK && got != want))
            fail_msg("mul %lld x %lld rule %d: %d %lld, want %d %lld", (long long)a, (long long)b,
                     (int)r, grc, (long long)got, wrc, (long long)want);
        /* The inline forms: the same results, errors included. */
        if (r == TB_ROUND_HALF_UP) {
            grc = tb__dec_mul_half_up(a, b, &got);
            if (grc != wrc || (grc == TB_OK && got != want))
                fail_msg("inline mul %lld x %lld: %d %lld, want %d %lld", (long long)a,
                         (long long)b, grc, (long long)got, wrc, (long long)want);
        }
        ref_i128 sum = (ref_i128)a + b, dif = (ref_i128)a - b;
        grc = tb__dec_add(a, b, &got);
        if ((sum > TB_DECIMAL_MAX || sum < TB_DECIMAL_MIN) ? grc != TB_EOVERFLOW
                                                           : (grc != TB_OK || got != sum))
            fail_msg("inline add %lld + %lld: %d %lld", (long long)a, (long long)b, grc,
                     (long long)got);
        grc = tb__dec_sub(a, b, &got);
        if ((dif > TB_DECIMAL_MAX || dif < TB_DECIMAL_MIN) ? grc != TB_EOVERFLOW
                                                           : (grc != TB_OK || got != dif))
            fail_msg("inline sub %lld - %lld: %d %lld", (long long)a, (long long)b, grc,
                     (long long)got);
        if (b != 0) {
            grc = tb_dec_div(a, b, r, &got);
            wrc = ref_div((ref_i128)a * TB_DECIMAL_ONE, b, r, &want);
            if (grc != wrc || (grc == TB_OK && got != want))
                fail_msg("div %lld / %lld rule %d: %d %lld, want %d %lld", (long long)a,
                         (long long)b, (int)r, grc, (long long)got, wrc, (long long)want);
        }
        if (d != 0 && d != INT64_MIN && n != INT64_MIN) {
            grc = tb_dec_muldiv_int(a, n, d, r, &got);
            wrc = ref_div((ref_i128)a * n, d, r, &want);
            if (grc != wrc || (grc == TB_OK && got != want))
                fail_msg("muldiv %lld x %lld / %lld rule %d: %d %lld, want %d %lld", (long long)a,
                         (long long)n, (long long)d, (int)r, grc, (long long)got, wrc,
                         (long long)want);
        }
    }
    /* 0.00000001 x 0.5 is half a unit: away from zero, either sign. */
    tb_decimal t = 0;
    assert_int_equal(tb__dec_mul_half_up(1, TB_DECIMAL_ONE / 2, &t), TB_OK);
    assert_true(t == 1);
    assert_int_equal(tb__dec_mul_half_up(-1, TB_DECIMAL_ONE / 2, &t), TB_OK);
    assert_true(t == -1);
    assert_int_equal(tb__dec_mul_half_up(1, TB_DECIMAL_ONE / 2 - 1, &t), TB_OK);
    assert_true(t == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_from_int_scales_whole_units),
        cmocka_unit_test(test_decimal_mul_div_round_like_the_reference),
        cmocka_unit_test(test_decimal_from_int_overflow_is_reported),
        cmocka_unit_test(test_decimal_parse_accepts_plain_notation),
        cmocka_unit_test(test_decimal_parse_rejects_malformed_input),
        cmocka_unit_test(test_decimal_parse_accepts_surplus_zero_digits),
        cmocka_unit_test(test_decimal_parse_refuses_surplus_nonzero_digits),
        cmocka_unit_test(test_decimal_parse_overflow_is_reported),
        cmocka_unit_test(test_decimal_parse_accepts_long_leading_zeros),
        cmocka_unit_test(test_decimal_parse_honours_explicit_length),
        cmocka_unit_test(test_decimal_parse_rejects_null_arguments),
        cmocka_unit_test(test_decimal_parse_round_half_up_ties_away_from_zero),
        cmocka_unit_test(test_decimal_parse_round_down_truncates),
        cmocka_unit_test(test_decimal_parse_round_half_even_ties_to_even),
        cmocka_unit_test(test_decimal_parse_round_floor_and_ceil_follow_sign),
        cmocka_unit_test(test_decimal_parse_round_overflow_after_rounding_is_reported),
        cmocka_unit_test(test_decimal_parse_round_rejects_malformed_input),
        cmocka_unit_test(test_decimal_parse_round_rejects_unknown_rule),
        cmocka_unit_test(test_decimal_format_is_shortest_exact),
        cmocka_unit_test(test_decimal_format_reports_small_buffer),
        cmocka_unit_test(test_decimal_format_longest_value_fits_strlen),
        cmocka_unit_test(test_decimal_format_then_parse_round_trips),
        cmocka_unit_test(test_decimal_add_and_sub_are_exact),
        cmocka_unit_test(test_decimal_add_overflow_is_reported),
        cmocka_unit_test(test_decimal_sub_overflow_is_reported),
        cmocka_unit_test(test_decimal_int64_min_is_never_produced),
        cmocka_unit_test(test_decimal_mul_is_exact_when_representable),
        cmocka_unit_test(test_decimal_mul_rounds_half_up_away_from_zero),
        cmocka_unit_test(test_decimal_mul_rounds_down_toward_zero),
        cmocka_unit_test(test_decimal_mul_rounds_half_even_to_even),
        cmocka_unit_test(test_decimal_mul_rounds_floor_toward_negative_infinity),
        cmocka_unit_test(test_decimal_mul_rounds_ceil_toward_positive_infinity),
        cmocka_unit_test(test_decimal_mul_overflow_is_reported),
        cmocka_unit_test(test_decimal_mul_rejects_unknown_rule),
        cmocka_unit_test(test_decimal_div_rounds_by_rule),
        cmocka_unit_test(test_decimal_div_is_exact_when_representable),
        cmocka_unit_test(test_decimal_div_by_zero_is_reported),
        cmocka_unit_test(test_decimal_div_overflow_is_reported),
        cmocka_unit_test(test_decimal_muldiv_int_computes_basis_points),
        cmocka_unit_test(test_decimal_muldiv_int_handles_negative_divisor),
        cmocka_unit_test(test_decimal_muldiv_int_is_exact_past_64_bits),
        cmocka_unit_test(test_decimal_muldiv_int_overflow_is_reported),
        cmocka_unit_test(test_decimal_muldiv_int_by_zero_is_reported),
        cmocka_unit_test(test_decimal_quantize_rounds_to_step),
        cmocka_unit_test(test_decimal_quantize_rejects_non_positive_step),
        cmocka_unit_test(test_decimal_quantize_overflow_is_reported),
        cmocka_unit_test(test_decimal_from_double_is_nearest),
        cmocka_unit_test(test_decimal_from_double_tiny_values_round_to_zero),
        cmocka_unit_test(test_decimal_from_double_ties_away_from_zero),
        cmocka_unit_test(test_decimal_from_double_rejects_non_finite_and_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
