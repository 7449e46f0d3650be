/* Private (not installed): UTC civil time and ISO-8601, written once for
 * every module that shows or reads a time (fills.csv, the trade log, the
 * market-data reader, the journal, reports, the node's logs). No gmtime, TZ
 * or locale: the same bytes everywhere, and no library call per row of a
 * data file. Times are int64 ns since 1970-01-01T00:00:00Z. */
#ifndef TRADEBUS_TIMEFMT_INT_H
#define TRADEBUS_TIMEFMT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tradebus/timefmt.h"

/* A UTC civil time. */
typedef struct {
    int64_t year;
    int month, day; /* 1..12, 1..31 */
    int hour, min, sec;
    int64_t nsec; /* 0..999999999 */
} tb__utc;

/* The civil time of ns, rounding toward the past (a negative ns falls in
 * 1969 with nsec >= 0). */
void tb__utc_of(int64_t ns, tb__utc *t);

/* The fraction tb__time_iso writes. */
enum {
    TB__FRAC_MS = 0,  /* ".mmm", always; ns truncated toward zero to the millisecond */
    TB__FRAC_AUTO = 1 /* none on a whole second, ".mmm" on a whole millisecond, else
                         ".nnnnnnnnn" */
};
/* "YYYY-MM-DDTHH:MM:SS" + the fraction + "Z" into buf. Returns the length,
 * or TB_EFULL if it does not fit (buf then holds a truncated string). */
int tb__time_iso(int64_t ns, int frac, char *buf, size_t len);
/* The day tb__time_iso_ms last wrote: a caller writing a row per minute
 * (equity.csv) keeps one, zeroed, and most rows skip the calendar. */
typedef struct {
    int64_t start; /* ns of the day's 00:00, valid when len */
    char date[12]; /* "YYYY-MM-DDT" */
    int len;
} tb__iso_day;
/* tb__time_iso(ns, TB__FRAC_MS, buf, len), the same bytes, through day's
 * cache. */
int tb__time_iso_ms(int64_t ns, tb__iso_day *day, char *buf, size_t len);
/* "HH:MM:SS" of ns's UTC day into buf (>= 9 bytes). Length or TB_EFULL. */
int tb__time_hms(int64_t ns, char *buf, size_t len);

/* What tb__time_parse_iso accepts. */
enum {
    /* "YYYY-MM-DD", optionally followed by 'T', 't' or ' ' and
     * "HH:MM[:SS[(.|,)fraction]]" (digits past 9 are dropped), optionally
     * followed by "Z", "z" or an offset "+HH:MM"/"+HHMM"/"-..." (applied):
     * what data files out there hold. A field out of its range is
     * TB_EPARSE. */
    TB__ISO_LENIENT = 0,
    /* Exactly "YYYY-MM-DDTHH:MM:SS[.f{1,9}]" then "Z" or "+00:00", years
     * 1970..2261 (int64 ns reach 2262-04-11): what tradebus writes, so that
     * a record format accepts one spelling of a time. A field out of its
     * range is TB_ERANGE. */
    TB__ISO_STRICT = 1
};
/* Parses s[0..len) (no NUL needed) into ns since the epoch. 0, TB_EPARSE
 * (not that grammar), TB_ERANGE (before 1970, or past int64 ns). */
int tb__time_parse_iso(const char *s, size_t len, int mode, int64_t *out);

#endif
