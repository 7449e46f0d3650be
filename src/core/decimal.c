#include "tradebus/decimal.h"

#include "decimal_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Products of two int64 need 126 bits; __int128 keeps them exact. */
__extension__ typedef __int128 i128;

/* How the discarded part of a magnitude compares with half a unit. */
typedef enum { REM_ZERO, REM_BELOW_HALF, REM_HALF, REM_ABOVE_HALF } remainder_class;

/* Rounds a truncated magnitude m (>= 0) of a value with sign neg. Working on
 * magnitudes keeps every rule symmetric around zero except FLOOR and CEIL,
 * which are the only ones that look at the sign. */
static int round_magnitude(i128 m, int neg, remainder_class rem, tb_rounding r, i128 *out)
{
    int up;
    switch (r) {
    case TB_ROUND_HALF_UP:
        up = rem >= REM_HALF;
        break;
    case TB_ROUND_DOWN:
        up = 0;
        break;
    case TB_ROUND_HALF_EVEN:
        up = rem == REM_ABOVE_HALF || (rem == REM_HALF && (m & 1) != 0);
        break;
    case TB_ROUND_FLOOR:
        up = neg && rem != REM_ZERO;
        break;
    case TB_ROUND_CEIL:
        up = !neg && rem != REM_ZERO;
        break;
    default:
        return TB_EINVAL;
    }
    *out = m + up;
    return TB_OK;
}

static int store_checked(i128 v, tb_decimal *out)
{
    if (v > TB_DECIMAL_MAX || v < TB_DECIMAL_MIN) return TB_EOVERFLOW;
    *out = (tb_decimal)v;
    return TB_OK;
}

/* The rounding of q + rem/den for magnitudes that fit 64 bits: the same
 * rules as below, without a 128-bit division (__divmodti4 was the largest
 * single cost of a backtest's bar: every price x quantity goes through
 * here). den is a constant where the caller's is, so its division becomes
 * a multiplication. */
static inline int round_u64(uint64_t q, uint64_t rem, uint64_t den, int neg, tb_rounding r,
                            tb_decimal *out)
{
    /* rem < den <= 2^64 - 1: compare rem with den - rem, not 2 x rem. */
    remainder_class c = rem == 0           ? REM_ZERO
                        : rem < den - rem  ? REM_BELOW_HALF
                        : rem == den - rem ? REM_HALF
                                           : REM_ABOVE_HALF;
    i128 rounded;
    int rc = round_magnitude(q, neg, c, r, &rounded);
    if (rc != TB_OK) return rc;
    return store_checked(neg ? -rounded : rounded, out);
}

/* num / den rounded by r into a checked decimal. Callers keep |num| and |den|
 * below 2^126 so negation and doubling the remainder cannot overflow. */
static int div_round(i128 num, i128 den, tb_rounding r, tb_decimal *out)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    int neg = num < 0;
    i128 mag = neg ? -num : num;
    if ((mag >> 64) == 0 && (den >> 64) == 0) {
        uint64_t m = (uint64_t)mag, d = (uint64_t)den;
        return round_u64(m / d, m % d, d, neg, r, out);
    }
    i128 q = mag / den;
    i128 twice_rem = (mag % den) * 2;
    remainder_class rem = twice_rem == 0     ? REM_ZERO
                          : twice_rem < den  ? REM_BELOW_HALF
                          : twice_rem == den ? REM_HALF
                                             : REM_ABOVE_HALF;
    i128 rounded;
    int rc = round_magnitude(q, neg, rem, r, &rounded);
    if (rc != TB_OK) return rc;
    return store_checked(neg ? -rounded : rounded, out);
}

int tb_dec_from_int(int64_t units, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    return store_checked((i128)units * TB_DECIMAL_ONE, out);
}

int tb_dec_add(tb_decimal a, tb_decimal b, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    return tb__dec_add(a, b, out);
}

int tb_dec_sub(tb_decimal a, tb_decimal b, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    return tb__dec_sub(a, b, out);
}

int tb_dec_mul(tb_decimal a, tb_decimal b, tb_rounding r, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    i128 p = (i128)a * b;
    int neg = p < 0;
    i128 mag = neg ? -p : p;
    if ((mag >> 64) == 0) {
        /* The common case (a price times a quantity): a constant divisor. */
        uint64_t m = (uint64_t)mag, one = (uint64_t)TB_DECIMAL_ONE;
        return round_u64(m / one, m % one, one, neg, r, out);
    }
    return div_round(p, TB_DECIMAL_ONE, r, out);
}

int tb_dec_div(tb_decimal a, tb_decimal b, tb_rounding r, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    if (b == 0) return TB_EDIVZERO;
    return div_round((i128)a * TB_DECIMAL_ONE, b, r, out);
}

int tb_dec_muldiv_int(tb_decimal a, int64_t n, int64_t d, tb_rounding r, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    if (d == 0) return TB_EDIVZERO;
    return div_round((i128)a * n, d, r, out);
}

int tb_dec_quantize(tb_decimal a, tb_decimal step, tb_rounding r, tb_decimal *out)
{
    if (out == NULL || step <= 0) return TB_EINVAL;
    tb_decimal steps;
    int rc = div_round(a, step, r, &steps);
    if (rc != TB_OK) return rc;
    return store_checked((i128)steps * step, out);
}

/* Two digits a step from a table: every price of events.jsonl, fills.csv
 * and equity.csv comes through here (a tenth of a run writing 2 M equity
 * rows went to one-digit steps). */
const char tb__digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

int tb_dec_format(tb_decimal d, char *buf, size_t buflen)
{
    if (buf == NULL) return TB_EINVAL;
    /* Unsigned magnitude so that even the invalid INT64_MIN formats safely. */
    uint64_t mag = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    uint64_t units = mag / (uint64_t)TB_DECIMAL_ONE;
    uint32_t frac = (uint32_t)(mag % (uint64_t)TB_DECIMAL_ONE);
    /* The fraction without its trailing zeros: 8 digits at most, so three
     * tests (4, 2, 1) strip up to 7. */
    int fd = 0;
    if (frac != 0) {
        fd = TB_DECIMAL_SCALE;
        if (frac % 10000 == 0) {
            frac /= 10000;
            fd -= 4;
        }
        if (frac % 100 == 0) {
            frac /= 100;
            fd -= 2;
        }
        if (frac % 10 == 0) {
            frac /= 10;
            fd--;
        }
    }
    /* The length first, then the digits written in place from the end:
     * no copy from a scratch buffer. */
    size_t len = (size_t)(d < 0) + (size_t)tb__digits10(units) + (fd ? (size_t)fd + 1 : 0);
    if (len + 1 > buflen) {
        if (buflen > 0) buf[0] = '\0';
        return TB_EFULL;
    }
    char *p = buf + len;
    *p = '\0';
    if (fd) {
        /* Leading zeros of the fraction ("0.05"): tb__put_u32_back writes the
         * significant digits, zeros fill up to fd. */
        char *start = tb__put_u32_back(p, frac);
        while (p - start < fd)
            *--start = '0';
        p = start;
        *--p = '.';
    }
    if (units > UINT32_MAX) {
        /* Over 4.29e9 units: the low 8 digits, zero-padded, then the rest
         * (at most 922: 2^63 / 10^16). */
        char *start = tb__put_u32_back(p, (uint32_t)(units % 100000000u));
        while (p - start < 8)
            *--start = '0';
        p = start;
        units /= 100000000u;
    }
    p = tb__put_u32_back(p, (uint32_t)units);
    if (d < 0) *--p = '-';
    return (int)len;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Shared by the strict and the rounding parser; strict == 1 refuses surplus
 * non-zero digits instead of rounding them away. */
static int parse_decimal(const char *s, size_t len, int strict, tb_rounding r, tb_decimal *out)
{
    if (s == NULL || out == NULL) return TB_EINVAL;
    if (len == (size_t)-1) len = strlen(s);

    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    size_t int_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t int_end = i;
    size_t frac_start = i, frac_end = i;
    if (i < len && s[i] == '.') {
        frac_start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        frac_end = i;
        /* "5." and ".5" are refused: both sides of a point need digits. */
        if (frac_end == frac_start) return TB_EPARSE;
    }
    if (int_end == int_start || i != len) return TB_EPARSE;

    /* Up to 10 whole digits and 8 decimals (every price, quantity and fee
     * an event or a data file holds) fit 64 bits exactly, nothing to
     * round: two plain loops. The general path below takes the rest. */
    if (int_end - int_start <= 10 && frac_end - frac_start <= TB_DECIMAL_SCALE) {
        /* A rule round_magnitude would refuse is refused here too, even
         * with nothing to round. */
        if ((unsigned)r > (unsigned)TB_ROUND_CEIL) return TB_EINVAL;
        static const uint64_t scale[TB_DECIMAL_SCALE + 1] = {
            100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
        uint64_t u = 0, f = 0;
        for (size_t k = int_start; k < int_end; k++)
            u = u * 10 + (uint64_t)(s[k] - '0');
        for (size_t k = frac_start; k < frac_end; k++)
            f = f * 10 + (uint64_t)(s[k] - '0');
        /* < 10^10 x 10^8 + 10^8: far inside TB_DECIMAL_MAX. */
        uint64_t m = u * (uint64_t)TB_DECIMAL_ONE + f * scale[frac_end - frac_start];
        *out = neg ? -(tb_decimal)m : (tb_decimal)m;
        return TB_OK;
    }

    /* Saturate rather than overflow 128 bits on absurdly long inputs; any
     * value past the cap is out of range anyway. */
    const i128 cap = (i128)1 << 100;
    i128 m = 0;
    for (size_t k = int_start; k < int_end; k++) {
        if (m < cap) m = m * 10 + (s[k] - '0');
    }
    size_t kept = frac_end - frac_start;
    if (kept > TB_DECIMAL_SCALE) kept = TB_DECIMAL_SCALE;
    for (size_t k = 0; k < TB_DECIMAL_SCALE; k++) {
        if (m < cap) m = m * 10 + (k < kept ? s[frac_start + k] - '0' : 0);
    }

    remainder_class rem = REM_ZERO;
    size_t surplus = frac_start + kept;
    if (surplus < frac_end) {
        int first = s[surplus] - '0';
        int rest_nonzero = 0;
        for (size_t k = surplus + 1; k < frac_end; k++)
            rest_nonzero |= s[k] != '0';
        if (first > 5 || (first == 5 && rest_nonzero))
            rem = REM_ABOVE_HALF;
        else if (first == 5)
            rem = REM_HALF;
        else if (first > 0 || rest_nonzero)
            rem = REM_BELOW_HALF;
    }
    if (m > TB_DECIMAL_MAX) return TB_EOVERFLOW;
    if (strict && rem != REM_ZERO) return TB_ERANGE;

    i128 rounded;
    int rc = round_magnitude(m, neg, rem, r, &rounded);
    if (rc != TB_OK) return rc;
    return store_checked(neg ? -rounded : rounded, out);
}

int tb_dec_parse(const char *s, size_t len, tb_decimal *out)
{
    return parse_decimal(s, len, 1, TB_ROUND_DOWN, out);
}

int tb_dec_parse_round(const char *s, size_t len, tb_rounding r, tb_decimal *out)
{
    return parse_decimal(s, len, 0, r, out);
}

int tb_dec_from_double(double v, tb_decimal *out)
{
    if (out == NULL) return TB_EINVAL;
    if (!isfinite(v)) return TB_ERANGE;
    if (v == 0.0) {
        *out = 0;
        return TB_OK;
    }
    /* v == mant * 2^exp exactly, with 2^52 <= |mant| < 2^53; scaling that in
     * 128 bits gives the nearest decimal without the second rounding that a
     * floating-point multiply by 1e8 would add. */
    int exp;
    double frac = frexp(v, &exp);
    i128 mant = (i128)(int64_t)ldexp(frac, 53);
    exp -= 53;
    /* exp >= 0 means |v| >= 2^52, far past the largest decimal. */
    if (exp >= 0) return TB_ERANGE;
    i128 scaled = mant * TB_DECIMAL_ONE;
    if (exp < -120) {
        /* |scaled| < 2^81, far below half of 2^120: rounds to zero. */
        *out = 0;
        return TB_OK;
    }
    int rc = div_round(scaled, (i128)1 << -exp, TB_ROUND_HALF_UP, out);
    return rc == TB_EOVERFLOW ? TB_ERANGE : rc;
}
