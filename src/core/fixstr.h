/* Private (not installed): the strings of events (ids, symbols) written
 * and compared on the hot path without printf or a libc call. Every order
 * makes several ids, where snprintf's ~800 instructions each were a tenth
 * of a busy backtest's cost; every bar's symbol is compared in each
 * component it reaches. */
#ifndef TRADEBUS_FIXSTR_H
#define TRADEBUS_FIXSTR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tradebus/event.h"

/* Writes prefix, '-', and n in decimal into buf[cap], NUL-terminated, and
 * returns the length the whole id needs, as snprintf does: >= cap means it
 * did not fit (buf then holds what fit, as snprintf leaves it). */
static inline int tb__format_id(char *buf, size_t cap, const char *prefix, uint64_t n)
{
    char digits[20];
    size_t nd = 0;
    do {
        digits[sizeof(digits) - ++nd] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    size_t plen = strlen(prefix), len = plen + 1 + nd;
    if (len < cap) {
        memcpy(buf, prefix, plen);
        buf[plen] = '-';
        memcpy(buf + plen + 1, digits + sizeof(digits) - nd, nd);
        buf[len] = '\0';
    } else if (cap > 0) {
        snprintf(buf, cap, "%s-%.*s", prefix, (int)nd, digits + sizeof(digits) - nd);
    }
    return (int)len;
}

/* Copies the string src into dst[cap], cut to fit and NUL-terminated: what
 * snprintf(dst, cap, "%s", src) does, without its cost. */
static inline void tb__copy_str(char *dst, size_t cap, const char *src)
{
    if (cap == 0) return;
    size_t n = 0;
    while (n < cap - 1 && src[n])
        n++;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* 1 if the symbols a and b are equal. Both must be arrays of at least
 * TB_SYMBOL_LEN (16) bytes, NUL-terminated within them (every event's and
 * component's symbol field): read as two 8-byte words, so a symbol of up to
 * 7 characters costs one comparison. Bytes after the NUL may differ: equal
 * words that hold the NUL decide; anything else goes to strcmp. */
static inline int tb__sym_eq(const char *a, const char *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x == y) {
        /* A zero byte in x ends both strings in these 8 bytes. */
        if ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) return 1;
        memcpy(&x, a + 8, 8);
        memcpy(&y, b + 8, 8);
        if (x == y) return 1; /* 16 equal bytes: the NUL is among them */
    }
    return strcmp(a, b) == 0;
}

/* 1 if the strings in the arrays a and b are equal. Both must be arrays of
 * at least cap bytes (a multiple of 8), NUL-terminated within them: an
 * event's or a component's id field, never a C string of unknown size.
 * Compared a word at a time up to the word holding the NUL, as
 * tb__sym_eq: an order's path compares ids some thirty times, where
 * strcmp's call was a tenth of its cost. Bytes after the NUL may differ. */
static inline int tb__fix_eq(const char *a, const char *b, size_t cap)
{
    for (size_t i = 0; i + 8 <= cap; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        /* Different words: the strings agree before them and neither has
         * ended, so the rest decides (the NUL may come before the
         * difference). */
        if (x != y) return strcmp(a + i, b + i) == 0;
        if ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) return 1;
    }
    return strcmp(a, b) == 0;
}

/* Copies s — a C string of any length, or a field — into the array
 * out[cap], zero-filled, so that the word-wise comparisons above may read
 * it whole: 0, or -1 (and out empty) when s does not fit. Reads at most cap
 * bytes of s. For what a caller outside the events hands in (a strategy's
 * ctx->open_orders(ctx, "ETH"), an API's strategy id). */
static inline int tb__fix_copy(char *out, size_t cap, const char *s)
{
    memset(out, 0, cap);
    size_t n = 0;
    while (n < cap && s[n])
        n++;
    if (n == cap) return -1;
    memcpy(out, s, n);
    return 0;
}

#define tb__sym_field(out, s) tb__fix_copy((out), TB_SYMBOL_LEN, (s))

/* Strategy ids and order ids: fields of TB_STRATEGY_LEN / TB_ORDER_ID_LEN. */
#define tb__strategy_eq(a, b) tb__fix_eq((a), (b), TB_STRATEGY_LEN)
#define tb__cid_eq(a, b)      tb__fix_eq((a), (b), TB_ORDER_ID_LEN)

#endif
