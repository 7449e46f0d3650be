/* Private (not installed): the market-data reader's internals shared with
 * its cache (mdcache.c) and the bench. */
#ifndef TRADEBUS_MD_INT_H
#define TRADEBUS_MD_INT_H

#include <stddef.h>

#include "tradebus/decimal.h"

/* Plain decimal notation ([+-]digits[.digits], at most 11 integer and 8
 * fractional digits) straight to a tb_decimal in one pass: returns 1 with
 * *out set, or 0 (out untouched) for anything else, which tb_dec_parse then
 * judges. Where it returns 1 its value is tb_dec_parse's. */
int tb__md_dec_fast(const char *s, size_t len, tb_decimal *out);

/* 1 if r parses in a reader thread of its own (tests). */
struct tb_md_reader;
int tb__md_reader_threaded(const struct tb_md_reader *r);
/* Makes r read every Binance row through the general path, never the fast
 * one (tests compare the two; call before the first row). */
void tb__md_reader_slow_rows(struct tb_md_reader *r);
/* 1 if r serves its bars from the cache (*hashed_source: whether opening
 * it hashed the whole source), else 0 (tests). */
int tb__md_reader_from_cache(const struct tb_md_reader *r, int *hashed_source);

#endif
