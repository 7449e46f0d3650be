/* UTC civil time and ISO-8601 (timefmt_int.h): the one implementation. */
#define _POSIX_C_SOURCE 200809L
#include "timefmt_int.h"
#include "decimal_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S  INT64_C(1000000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); m in 1..12, d in 1..31, any year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tb__utc_of(int64_t ns, tb__utc *t)
{
    int64_t secs = ns / NS_PER_S, sub = ns % NS_PER_S;
    if (sub < 0) {
        sub += NS_PER_S;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    t->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    t->year = yoe + era * 400 + (t->month <= 2);
    t->hour = (int)(sod / 3600);
    t->min = (int)(sod / 60 % 60);
    t->sec = (int)(sod % 60);
    t->nsec = sub;
}

/* v (>= 0) as exactly width digits, zero-padded, at p; returns the end. */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

int tb__time_iso(int64_t ns, int frac, char *buf, size_t len)
{
    /* Milliseconds truncate toward zero, as fills.csv always has. */
    if (frac == TB__FRAC_MS) ns = ns / NS_PER_MS * NS_PER_MS;
    tb__utc t;
    tb__utc_of(ns, &t);
    int ms = frac == TB__FRAC_MS || (t.nsec % NS_PER_MS == 0 && t.nsec);
    size_t need = 19 + (ms ? 4 : t.nsec ? 10 : 0) + 1;
    if (t.year < 0 || t.year > 9999) {
        /* Beyond four digits: rare enough for printf. */
        int n = snprintf(buf, len, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day,
                         t.hour, t.min, t.sec);
        if (n < 0 || (size_t)n >= len) return TB_EFULL;
        need += (size_t)n - 19;
        if (need >= len) return TB_EFULL;
        char *p = buf + n;
        if (ms)
            *p++ = '.', p = put_digits(p, t.nsec / NS_PER_MS, 3);
        else if (t.nsec)
            *p++ = '.', p = put_digits(p, t.nsec, 9);
        *p++ = 'Z';
        *p = 0;
        return (int)(p - buf);
    }
    /* Written digit by digit: one call per event of events.jsonl and row of
     * fills.csv, where printf cost more than the rest of the line. */
    if (need >= len) {
        if (len) buf[0] = 0;
        return TB_EFULL;
    }
    char *p = put_digits(buf, t.year, 4);
    *p++ = '-';
    p = put_digits(p, t.month, 2);
    *p++ = '-';
    p = put_digits(p, t.day, 2);
    *p++ = 'T';
    p = put_digits(p, t.hour, 2);
    *p++ = ':';
    p = put_digits(p, t.min, 2);
    *p++ = ':';
    p = put_digits(p, t.sec, 2);
    if (ms) {
        *p++ = '.';
        p = put_digits(p, t.nsec / NS_PER_MS, 3);
    } else if (t.nsec) {
        *p++ = '.';
        p = put_digits(p, t.nsec, 9);
    }
    *p++ = 'Z';
    *p = 0;
    return (int)(p - buf);
}

#define NS_PER_DAY (86400 * NS_PER_S)

int tb__time_iso_ms(int64_t ns, tb__iso_day *day, char *buf, size_t len)
{
    if (ns < 0 || len < 25) return tb__time_iso(ns, TB__FRAC_MS, buf, len);
    if (!day->len || ns < day->start || ns - day->start >= NS_PER_DAY) {
        int n = tb__time_iso(ns, TB__FRAC_MS, buf, len);
        /* Four-digit years only: then the date is the first 11 bytes. */
        if (n == 24) {
            memcpy(day->date, buf, 11);
            day->start = ns - ns % NS_PER_DAY;
            day->len = 11;
        }
        return n;
    }
    /* Unsigned 32-bit steps and two digits at a time: one equity.csv row
     * per minute of data comes through here. */
    uint32_t ms = (uint32_t)((uint64_t)(ns - day->start) / NS_PER_MS); /* < 86 400 000 */
    uint32_t sec = ms / 1000, frac = ms - sec * 1000;
    uint32_t h = sec / 3600, rest = sec - h * 3600, m = rest / 60, s = rest - m * 60;
    memcpy(buf, day->date, 11);
    memcpy(buf + 11, tb__digit_pairs + h * 2, 2);
    buf[13] = ':';
    memcpy(buf + 14, tb__digit_pairs + m * 2, 2);
    buf[16] = ':';
    memcpy(buf + 17, tb__digit_pairs + s * 2, 2);
    buf[19] = '.';
    buf[20] = (char)('0' + frac / 100);
    memcpy(buf + 21, tb__digit_pairs + frac % 100 * 2, 2);
    buf[23] = 'Z';
    buf[24] = 0;
    return 24;
}

int tb_format_time_iso(int64_t ns, char *buf, size_t buflen)
{
    return tb__time_iso(ns, TB__FRAC_MS, buf, buflen);
}

int tb__time_hms(int64_t ns, char *buf, size_t len)
{
    tb__utc t;
    tb__utc_of(ns, &t);
    int n = snprintf(buf, len, "%02d:%02d:%02d", t.hour, t.min, t.sec);
    return n < 0 || (size_t)n >= len ? TB_EFULL : n;
}

/* ---- parsing ----------------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The number the two digits at s make, or -1 if they are not both digits. */
static int two_digits(const char *s)
{
    unsigned a = (unsigned)(unsigned char)s[0] - '0', b = (unsigned)(unsigned char)s[1] - '0';
    return ((a > 9) | (b > 9)) ? -1 : (int)(a * 10 + b);
}

/* Checked on every row of a data file with ISO times: the leap-year
 * arithmetic only for a 29th of February. */
static int valid_date(int64_t y, int mo, int d)
{
    static const signed char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) return 0;
    if (d <= days[mo - 1]) return 1;
    return mo == 2 && d == 29 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* The market-data reader calls this for every row of a file with ISO
 * times: fields are read at their fixed offsets, two digits at a time,
 * after one length check, rather than character by character. */
int tb__time_parse_iso(const char *s, size_t len, int mode, int64_t *out)
{
    int strict = mode == TB__ISO_STRICT;
    /* Strict: the date, the time to the second and a zone, at least. */
    if (len < 10 || (strict && len < 20)) return TB_EPARSE;
    int c = two_digits(s), yy = two_digits(s + 2), mo = two_digits(s + 5), d = two_digits(s + 8);
    if ((c | yy | mo | d) < 0 || s[4] != '-' || s[7] != '-') return TB_EPARSE;
    int y = c * 100 + yy, h = 0, mi = 0, sec = 0, have_sec = strict;
    int64_t frac = 0, offset = 0;
    size_t i = 10;
    if (strict) {
        h = two_digits(s + 11);
        mi = two_digits(s + 14);
        sec = two_digits(s + 17);
        if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || (h | mi | sec) < 0) return TB_EPARSE;
        if (y < 1970 || y > 2261 || !valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 59)
            return TB_ERANGE;
        i = 19;
    } else {
        if (!valid_date(y, mo, d)) return TB_EPARSE;
        if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
            if (len < 16 || s[13] != ':' || (h = two_digits(s + 11)) < 0 ||
                (mi = two_digits(s + 14)) < 0)
                return TB_EPARSE;
            i = 16;
            if (i < len && s[i] == ':') {
                if (len < 19 || (sec = two_digits(s + 17)) < 0) return TB_EPARSE;
                i = 19;
                have_sec = 1;
            }
            if (h > 23 || mi > 59 || sec > 59) return TB_EPARSE;
        }
    }
    if (have_sec && i < len && (s[i] == '.' || (!strict && s[i] == ','))) {
        i++;
        int nd = 0;
        for (; i < len && is_digit(s[i]); i++, nd++)
            if (nd < 9) frac = frac * 10 + (s[i] - '0');
        if (nd == 0 || (strict && nd > 9)) return TB_EPARSE;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    if (strict) {
        size_t zn = len - i;
        if (!((zn == 1 && s[i] == 'Z') || (zn == 6 && memcmp(s + i, "+00:00", 6) == 0)))
            return TB_EPARSE;
        i = len;
    } else if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om;
        if (len - i < 2 || (oh = two_digits(s + i)) < 0) return TB_EPARSE;
        i += 2;
        if (i < len && s[i] == ':') i++;
        if (len - i < 2 || (om = two_digits(s + i)) < 0 || oh > 23 || om > 59) return TB_EPARSE;
        i += 2;
        offset = sign * ((int64_t)oh * 3600 + om * 60);
    }
    if (i != len) return TB_EPARSE;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* Before the Unix epoch is out of range: event times are never negative
     * (the codec refuses them), and intervals between rows must not overflow. */
    if (secs > INT64_MAX / NS_PER_S - 1 || secs < 0) return TB_ERANGE;
    *out = secs * NS_PER_S + frac;
    return 0;
}
