/* tradebus — exact fixed-point decimals for money.
 *
 * A tb_decimal is a signed 64-bit count of 1e-8 units (TB_DECIMAL_SCALE = 8
 * digits after the point, the precision Binance uses for prices, quantities
 * and commissions). Range: ±92,233,720,368.54775807. Every price, quantity,
 * commission and PnL in tradebus is a tb_decimal; double never touches
 * accounting. Arithmetic detects overflow (TB_EOVERFLOW) and never wraps.
 * Products and quotients are computed exactly in 128 bits, then rounded to 8
 * digits by an explicit rule. Values are plain int64: compare them with <, ==. */
#ifndef TRADEBUS_DECIMAL_H
#define TRADEBUS_DECIMAL_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t tb_decimal;

#define TB_DECIMAL_SCALE 8
#define TB_DECIMAL_ONE   ((tb_decimal)100000000)
#define TB_DECIMAL_MAX   INT64_MAX
#define TB_DECIMAL_MIN   (-INT64_MAX) /* symmetric: INT64_MIN is never a valid value */
/* Longest formatted decimal including sign, point and NUL. */
#define TB_DECIMAL_STRLEN 24

typedef enum {
    TB_ROUND_HALF_UP = 0,   /* ties away from zero (the default everywhere) */
    TB_ROUND_DOWN = 1,      /* toward zero (truncate); used for step sizes */
    TB_ROUND_HALF_EVEN = 2, /* banker's rounding */
    TB_ROUND_FLOOR = 3,     /* toward -infinity */
    TB_ROUND_CEIL = 4       /* toward +infinity */
} tb_rounding;

/* Decimal from an integer number of whole units; TB_EOVERFLOW if out of range. */
TB_EXPORT int tb_dec_from_int(int64_t units, tb_decimal *out);
/* Parses "123", "-0.5", "1.23456789", "1e-3"-free plain notation with at most
 * 8 fractional digits (more digits: TB_ERANGE unless they are zeros), optional
 * leading '+'/'-'. Rejects empty, NaN, Inf, spaces, exponent: TB_EPARSE.
 * len may be (size_t)-1 for a NUL-terminated string. */
TB_EXPORT int tb_dec_parse(const char *s, size_t len, tb_decimal *out);
/* Like tb_dec_parse but rounds surplus fractional digits with rule r instead
 * of refusing them (for data files that carry more than 8 digits). */
TB_EXPORT int tb_dec_parse_round(const char *s, size_t len, tb_rounding r, tb_decimal *out);
/* Writes the shortest exact form ("1.5", "-0.00000001", "42") into buf
 * (at least TB_DECIMAL_STRLEN bytes). Returns the length written, TB_EFULL (buf[0]
 * = 0) if buflen is too small, TB_EINVAL for a NULL buf. */
TB_EXPORT int tb_dec_format(tb_decimal d, char *buf, size_t buflen);
/* a + b; TB_EOVERFLOW if the result is out of range (out untouched). */
TB_EXPORT int tb_dec_add(tb_decimal a, tb_decimal b, tb_decimal *out);
/* a - b; TB_EOVERFLOW if the result is out of range (out untouched). */
TB_EXPORT int tb_dec_sub(tb_decimal a, tb_decimal b, tb_decimal *out);
/* a * b rounded to 8 digits by r; TB_EOVERFLOW if out of range. */
TB_EXPORT int tb_dec_mul(tb_decimal a, tb_decimal b, tb_rounding r, tb_decimal *out);
/* a / b rounded to 8 digits by r; TB_EDIVZERO if b == 0, TB_EOVERFLOW. */
TB_EXPORT int tb_dec_div(tb_decimal a, tb_decimal b, tb_rounding r, tb_decimal *out);
/* a * n / d exactly in 128 bits, rounded by r (e.g. fee_bps: n=bps, d=10000). */
TB_EXPORT int tb_dec_muldiv_int(tb_decimal a, int64_t n, int64_t d, tb_rounding r, tb_decimal *out);
/* Rounds a to a multiple of step (> 0) by r; TB_EINVAL if step <= 0. */
TB_EXPORT int tb_dec_quantize(tb_decimal a, tb_decimal step, tb_rounding r, tb_decimal *out);
/* |a| (never overflows: INT64_MIN is not a valid decimal). */
static inline tb_decimal tb_dec_abs(tb_decimal a)
{
    return a < 0 ? -a : a;
}
/* Approximate double value, for indicators and display only. */
static inline double tb_dec_to_double(tb_decimal a)
{
    return (double)a / 1e8;
}
/* Nearest decimal to a finite double; TB_ERANGE for NaN/Inf/out of range. */
TB_EXPORT int tb_dec_from_double(double v, tb_decimal *out);

#ifdef __cplusplus
}
#endif
#endif
