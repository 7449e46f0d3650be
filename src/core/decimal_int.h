/* Private (not installed): the decimal operations a bar's hot path calls
 * several times (marking positions, equity), inline in the components that
 * include this. tb_dec_add, tb_dec_sub and tb_dec_mul's common case are
 * these same functions, so there is one implementation of each rule. */
#ifndef TRADEBUS_DECIMAL_INT_H
#define TRADEBUS_DECIMAL_INT_H

#include <stdint.h>
#include <string.h>

#include "tradebus/decimal.h"
#include "tradebus/error.h"

/* "00".."99": two digits a step when formatting (decimals, times). */
extern const char tb__digit_pairs[201];

/* Decimal digits of v (1 for 0): log10 from the bit length (bits x 1233 /
 * 4096 is bits x log10(2) rounded down, at most one short), then one
 * comparison with a power of ten. */
static inline int tb__digits10(uint64_t v)
{
    static const uint64_t pow10[20] = {1ULL,
                                       10ULL,
                                       100ULL,
                                       1000ULL,
                                       10000ULL,
                                       100000ULL,
                                       1000000ULL,
                                       10000000ULL,
                                       100000000ULL,
                                       1000000000ULL,
                                       10000000000ULL,
                                       100000000000ULL,
                                       1000000000000ULL,
                                       10000000000000ULL,
                                       100000000000000ULL,
                                       1000000000000000ULL,
                                       10000000000000000ULL,
                                       100000000000000000ULL,
                                       1000000000000000000ULL,
                                       10000000000000000000ULL};
    int d = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    return d + ((v | 1) >= pow10[d]);
}

/* v's digits ending just before end, two at a time; returns their start.
 * 32-bit steps: a division by 100 is then one multiply and a shift. */
static inline char *tb__put_u32_back(char *end, uint32_t v)
{
    while (v >= 100) {
        end -= 2;
        memcpy(end, tb__digit_pairs + v % 100 * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        end -= 2;
        memcpy(end, tb__digit_pairs + v * 2, 2);
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

/* As tb__put_u32_back for any v: 8 digits at a time split off with one
 * 64-bit division (ids and nanosecond times have 16 to 20 digits). */
static inline char *tb__put_u64_back(char *end, uint64_t v)
{
    while (v > UINT32_MAX) {
        uint32_t lo = (uint32_t)(v % 100000000u);
        v /= 100000000u;
        for (int k = 0; k < 4; k++) {
            end -= 2;
            memcpy(end, tb__digit_pairs + lo % 100 * 2, 2);
            lo /= 100;
        }
    }
    return tb__put_u32_back(end, (uint32_t)v);
}

__extension__ typedef __int128 tb__i128;
__extension__ typedef unsigned __int128 tb__u128;

/* a + b, or TB_EOVERFLOW outside [TB_DECIMAL_MIN, TB_DECIMAL_MAX]. */
static inline int tb__dec_add(tb_decimal a, tb_decimal b, tb_decimal *out)
{
    tb_decimal s;
    /* INT64_MIN is outside the symmetric range too. */
    if (__builtin_add_overflow(a, b, &s) || s < TB_DECIMAL_MIN) return TB_EOVERFLOW;
    *out = s;
    return TB_OK;
}

/* a - b, or TB_EOVERFLOW outside [TB_DECIMAL_MIN, TB_DECIMAL_MAX]. */
static inline int tb__dec_sub(tb_decimal a, tb_decimal b, tb_decimal *out)
{
    tb_decimal s;
    if (__builtin_sub_overflow(a, b, &s) || s < TB_DECIMAL_MIN) return TB_EOVERFLOW;
    *out = s;
    return TB_OK;
}

/* a x b rounded half up (away from zero on a tie) when the product's
 * magnitude fits 64 bits (a price times a quantity); else tb_dec_mul's
 * 128-bit path. Returns as tb_dec_mul. */
static inline int tb__dec_mul_half_up(tb_decimal a, tb_decimal b, tb_decimal *out)
{
    tb__i128 p = (tb__i128)a * b;
    int neg = p < 0;
    tb__u128 mag = neg ? (tb__u128)(-p) : (tb__u128)p;
    if ((mag >> 64) != 0) return tb_dec_mul(a, b, TB_ROUND_HALF_UP, out);
    const uint64_t one = (uint64_t)TB_DECIMAL_ONE, m = (uint64_t)mag;
    uint64_t q = m / one, rem = m % one;
    q += rem >= one - rem; /* half or more of a unit: up */
    /* q <= 2^64 / 10^8 + 1: no overflow either way. */
    *out = neg ? -(tb_decimal)q : (tb_decimal)q;
    return TB_OK;
}

#endif
