/* tradebus — streaming market-data readers (Binance kline CSV, generic CSV)
 * and their time-ordered merge. See marketdata.h for the contract. */
#define _POSIX_C_SOURCE 200809L

#include "../core/errbuf.h"
#include "../core/linereader.h"
#include "../core/thread.h"
#include "../core/timefmt_int.h"
#include "md_int.h"
#include "mdcache.h"
#include "tradebus/marketdata.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* A line longer than this is a bad row. The limit holds while reading
 * (linereader.h): such a line is never stored, so memory stays bounded
 * whatever the file holds (/dev/zero has no line end at all). */
#define MD_MAX_LINE     TB__MAX_LINE
#define MD_MAX_COLS     16
#define MD_BINANCE_COLS 12
#define MD_GENERIC_COLS 6
/* Field text echoed in messages is cut here so a message stays one line. */
#define MD_ECHO      40
#define MD_MSG_EXTRA 320

#define NS_PER_US            INT64_C(1000)
#define NS_PER_MS            INT64_C(1000000)
#define NS_PER_S             INT64_C(1000000000)
#define BINANCE_US_THRESHOLD INT64_C(100000000000000) /* 1e14 */
#define GENERIC_MS_THRESHOLD INT64_C(100000000000)    /* 1e11 */
/* A single-bar generic file has no interval to copy; a minute is the most
 * common bar size, so the lone bar closes 60 s - 1 ms after it opens. */
#define MD_DEFAULT_INTERVAL (60 * NS_PER_S)

static const char *const md_generic_header[MD_GENERIC_COLS] = {"timestamp", "open",  "high",
                                                               "low",       "close", "volume"};

typedef enum { MD_FMT_BINANCE, MD_FMT_GENERIC } md_format;

typedef struct {
    const char *s;
    size_t len;
} md_field;

struct tb_md_reader {
    int fd;
    tb__lr lr;
    char *path;
    char *msg; /* last "file:line: ..." message */
    size_t msgcap;
    char *line; /* the current line, inside lr's buffer */
    size_t replay_len;
    int replay; /* the line read to detect the format is a data row still to use */
    int at_eof;
    int sticky; /* once nonzero (TB_EEOF or an error) every next() returns it */
    md_format fmt;
    uint64_t lineno;
    uint64_t bad_rows;
    tb_md_config cfg;
    char symbol[TB_SYMBOL_LEN];
    int have_prev;
    int slow_rows; /* tests: every Binance row through the general path */
    int64_t prev_open;
    int64_t prev_close;
    /* Generic format: a bar's close time is known only once the next row is
     * read, so one parsed bar waits here. */
    int have_pending;
    tb_market_data pending;
    int64_t interval;
    /* The cache (cfg.cache): bars come from cin instead of the file, or
     * go to cout as they are parsed. dig_* is the digest when from cin. */
    tb__mdc_in *cin;
    tb__mdc_out *cout;
    uint64_t dig_lines, dig_hash;
    /* The reader thread (cfg.reader_thread): it owns every field above
     * once started; the caller sees bars, digests and the end through it. */
    struct md_pump *pump;
};

typedef struct {
    tb_md_reader *r;
    tb_market_data head;
    int has_head;
    int has_last;
    int64_t last_open;
} md_source;

struct tb_md_merge {
    size_t n;
    int primed;
    int sticky;
    size_t refill; /* source whose head was handed out last; n when none */
    uint64_t extra_bad;
    tb_md_config cfg;
    char *msg;
    size_t msgcap;
    md_source src[];
};

static void md_set_err(char *err, size_t errlen, const char *msg)
{
    if (err == NULL || errlen == 0) return;
    snprintf(err, errlen, "%s", msg);
}

/* Records "path:line: what" as the reader's message; returns TB_EDATA so
 * validators can `return md_bad(...)`. */
__attribute__((format(printf, 2, 3))) static int md_bad(tb_md_reader *r, const char *fmt, ...)
{
    int n = snprintf(r->msg, r->msgcap, "%s:%" PRIu64 ": ", r->path, r->lineno);
    if (n < 0 || (size_t)n >= r->msgcap) return TB_EDATA;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg + n, r->msgcap - (size_t)n, fmt, ap);
    va_end(ap);
    return TB_EDATA;
}

static const char *md_strerror(int e, char *buf, size_t cap)
{
    if (strerror_r(e, buf, cap) != 0) snprintf(buf, cap, "error %d", e);
    return buf;
}

static int md_echo_len(md_field f)
{
    return (int)(f.len < MD_ECHO ? f.len : MD_ECHO);
}

static int md_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int md_is_alnum(char c)
{
    return md_is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char md_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int md_field_ieq(md_field f, const char *word)
{
    size_t n = strlen(word);
    if (f.len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (md_lower(f.s[i]) != word[i]) return 0;
    return 1;
}

/* ---- lines and fields ---------------------------------------------------- */

/* The line reader's source: the file, its bytes also hashed into the
 * cache being written (the cache's content key). */
static ssize_t md_read_fd(void *ctx, char *buf, size_t n)
{
    tb_md_reader *r = ctx;
    ssize_t got = tb__lr_read_fd(&r->fd, buf, n);
    if (got > 0 && r->cout) tb__mdc_out_source(r->cout, buf, (size_t)got);
    return got;
}

/* Returns 1 with the line (terminators removed, NUL-terminated) in r->line,
 * 0 at end of file, TB_EDATA with r->msg set for a line longer than
 * MD_MAX_LINE (a bad row: the next call goes on after it), or TB_EIO with
 * r->msg set. */
static int md_read_line(tb_md_reader *r, size_t *lenp)
{
    if (r->replay) {
        r->replay = 0;
        *lenp = r->replay_len;
        return 1;
    }
    if (r->at_eof) return 0;
    errno = 0;
    int rc = tb__lr_next(&r->lr, &r->line, lenp);
    r->lineno = r->lr.lineno;
    if (rc == TB__LR_LINE) return 1;
    if (rc == TB__LR_TOO_LONG) return md_bad(r, "line longer than %zu bytes", MD_MAX_LINE);
    if (rc == TB__LR_EOF) {
        r->at_eof = 1;
        return 0;
    }
    char ebuf[128];
    snprintf(r->msg, r->msgcap, "%s:%" PRIu64 ": read error: %s", r->path, r->lineno + 1,
             md_strerror(errno ? errno : EIO, ebuf, sizeof ebuf));
    return TB_EIO;
}

static md_field md_trim(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    /* Some exporters quote every field; numbers never contain commas, so
     * stripping one pair of quotes is all the CSV quoting we need. */
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    md_field f = {s, len};
    return f;
}

/* Splits on ',' into at most max fields; returns the real column count and
 * whether the line holds a NUL byte (found in the same pass: strlen per
 * row cost 4% of the reader thread).
 * Eight bytes a step: the commas of a word are its zero bytes once xor'ed
 * with ",,,,,,,,", found exactly (no borrow between bytes, unlike the
 * shorter has-zero trick) and taken lowest first. A byte at a time this was
 * a fifth of the reader thread's time on a Binance row. */
static size_t md_split_nul(const char *line, size_t len, md_field *f, size_t max, int *nul)
{
    const uint64_t commas = UINT64_C(0x2c2c2c2c2c2c2c2c), low7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
    size_t count = 0, start = 0, i = 0;
    uint64_t zeros = 0;
    /* Lowest byte first is the little-endian order; elsewhere, bytes only. */
    const int words = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    for (; words && i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, line + i, 8);
        zeros |= ~(((w & low7) + low7) | w | low7); /* NUL bytes, the same way */
        uint64_t x = w ^ commas;
        uint64_t m = ~(((x & low7) + low7) | x | low7); /* 0x80 where a byte was ',' */
        while (m) {
            size_t j = i + (size_t)(__builtin_ctzll(m) >> 3);
            if (count < max) f[count] = md_trim(line + start, j - start);
            count++;
            start = j + 1;
            m &= m - 1;
        }
    }
    for (; i < len; i++) {
        zeros |= line[i] == '\0';
        if (line[i] == ',') {
            if (count < max) f[count] = md_trim(line + start, i - start);
            count++;
            start = i + 1;
        }
    }
    *nul = zeros != 0;
    if (count < max) f[count] = md_trim(line + start, len - start);
    return count + 1;
}

static size_t md_split(const char *line, size_t len, md_field *f, size_t max)
{
    int nul;
    return md_split_nul(line, len, f, max, &nul);
}

/* ---- numbers ------------------------------------------------------------- */

static int md_is_nonfinite(md_field f)
{
    md_field g = f;
    if (g.len > 0 && (g.s[0] == '+' || g.s[0] == '-')) {
        g.s++;
        g.len--;
    }
    return md_field_ieq(g, "nan") || md_field_ieq(g, "inf") || md_field_ieq(g, "infinity");
}

/* tb_dec_parse_round takes plain notation only, but tools such as pandas
 * write small values as "1e-05"; this rewrites such a field as "0.00001".
 * Returns 0, TB_EPARSE (not this form), or TB_ERANGE (too large). */
static int md_expand_exponent(md_field f, char *buf, size_t cap, size_t *outlen)
{
    char digits[64];
    size_t nd = 0, i = 0, o = 0;
    long point = -1;
    int neg = 0;
    if (i < f.len && (f.s[i] == '+' || f.s[i] == '-')) neg = f.s[i++] == '-';
    int seen = 0;
    for (; i < f.len && f.s[i] != 'e' && f.s[i] != 'E'; i++) {
        if (md_is_digit(f.s[i])) {
            seen = 1;
            if (nd == 0 && f.s[i] == '0') {
                /* Leading zeros would only push the point; after the point
                 * each one moves it left instead. */
                if (point >= 0) point--;
                continue;
            }
            if (nd == sizeof digits) return TB_EPARSE;
            digits[nd++] = f.s[i];
        } else if (f.s[i] == '.' && point < 0) {
            point = (long)nd;
        } else {
            return TB_EPARSE;
        }
    }
    if (!seen || i >= f.len) return TB_EPARSE;
    i++;
    int eneg = 0;
    if (i < f.len && (f.s[i] == '+' || f.s[i] == '-')) eneg = f.s[i++] == '-';
    if (i >= f.len) return TB_EPARSE;
    long e = 0;
    for (; i < f.len; i++) {
        if (!md_is_digit(f.s[i])) return TB_EPARSE;
        if (e < 1000) e = e * 10 + (f.s[i] - '0');
    }
    if (point < 0) point = (long)nd;
    long pos = point + (eneg ? -e : e);
    if (nd == 0) pos = -21; /* all zeros */
    /* 20 integer digits already exceed the decimal range, and a value below
     * 1e-20 rounds to zero at 8 digits: both bounds keep buf small. */
    if (pos > 20) return TB_ERANGE;
    if (pos < -20) {
        buf[o++] = '0';
        *outlen = o;
        return 0;
    }
    if (cap < sizeof digits + 24) return TB_ERANGE;
    if (neg) buf[o++] = '-';
    if (pos <= 0) {
        buf[o++] = '0';
        buf[o++] = '.';
        for (long z = 0; z < -pos; z++)
            buf[o++] = '0';
        memcpy(buf + o, digits, nd);
        o += nd;
    } else if ((size_t)pos >= nd) {
        memcpy(buf + o, digits, nd);
        o += nd;
        for (size_t z = nd; z < (size_t)pos; z++)
            buf[o++] = '0';
    } else {
        memcpy(buf + o, digits, (size_t)pos);
        o += (size_t)pos;
        buf[o++] = '.';
        memcpy(buf + o, digits + pos, nd - (size_t)pos);
        o += nd - (size_t)pos;
    }
    *outlen = o;
    return 0;
}

static const uint64_t md_pow10[TB_DECIMAL_SCALE + 1] = {100000000, 10000000, 1000000, 100000, 10000,
                                                        1000,      100,      10,      1};

/* The value of 8 ASCII digits at s, 1 if they are all digits (else 0).
 * Three multiplications instead of eight dependent steps: pairs, then
 * quads, then the two quads (the digits are a little-endian word). */
static inline int md_swar8(const char *s, uint64_t *out)
{
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) return 0;
    uint64_t w;
    memcpy(&w, s, 8);
    const uint64_t hi = UINT64_C(0xF0F0F0F0F0F0F0F0);
    /* Every byte 0x30..0x39: high nibble 3, and adding 6 keeps it 3. */
    if (((w & hi) | (((w + UINT64_C(0x0606060606060606)) & hi) >> 4)) !=
        UINT64_C(0x3333333333333333))
        return 0;
    w -= UINT64_C(0x3030303030303030);
    w = (w * 10) + (w >> 8);
    w = (((w & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32))) +
         (((w >> 16) & UINT64_C(0x000000FF000000FF)) * (1 + (UINT64_C(10000) << 32)))) >>
        32;
    *out = (uint32_t)w;
    return 1;
}

int tb__md_dec_fast(const char *s, size_t len, tb_decimal *out)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) neg = s[i++] == '-';
    /* 11 integer digits and 8 decimals stay below 2^64: no overflow check
     * per digit, one range check at the end. */
    size_t int_start = i, int_max = i + 11;
    uint64_t ip = 0;
    while (i < len && i < int_max && (unsigned)(s[i] - '0') < 10)
        ip = ip * 10 + (uint64_t)(s[i++] - '0');
    if (i == int_start) return 0;
    uint64_t frac = 0;
    size_t nfrac = 0;
    if (i + 9 == len && s[i] == '.' && md_swar8(s + i + 1, &frac)) {
        /* Exactly 8 decimals, as every Binance price and volume has. */
        nfrac = 8;
        i = len;
    } else if (i < len && s[i] == '.') {
        size_t fs = ++i;
        while (i < len && i - fs < TB_DECIMAL_SCALE && (unsigned)(s[i] - '0') < 10)
            frac = frac * 10 + (uint64_t)(s[i++] - '0');
        nfrac = i - fs;
        if (nfrac == 0) return 0;
    }
    if (i != len) return 0; /* more digits, an exponent, junk: the full parser judges */
    uint64_t v = ip * (uint64_t)TB_DECIMAL_ONE + frac * md_pow10[nfrac];
    if (v > (uint64_t)TB_DECIMAL_MAX) return 0;
    *out = neg ? -(tb_decimal)v : (tb_decimal)v;
    return 1;
}

static int md_parse_dec(tb_md_reader *r, const char *name, md_field f, tb_decimal *out)
{
    /* Nearly every field is plain notation with at most 8 decimals: one
     * pass straight to the fixed-point value. The rest (more decimals, an
     * exponent, a bad value) takes the full path below, which keeps every
     * rule and message. */
    if (tb__md_dec_fast(f.s, f.len, out)) return 0;
    if (f.len == 0) return md_bad(r, "%s: value is missing", name);
    if (md_is_nonfinite(f))
        return md_bad(r, "%s: '%.*s' is not a finite number", name, md_echo_len(f), f.s);
    const char *s = f.s;
    size_t len = f.len;
    char buf[128];
    int rc = 0;
    if (memchr(f.s, 'e', f.len) != NULL || memchr(f.s, 'E', f.len) != NULL) {
        rc = md_expand_exponent(f, buf, sizeof buf, &len);
        s = buf;
    }
    /* Digits past the 8th would be dropped without a word: refused unless
     * the config asks for rounding. */
    if (rc == 0 && !r->cfg.round_prices && tb_dec_parse(s, len, out) == TB_ERANGE)
        return md_bad(r,
                      "%s: %.*s has more than %d decimals (set [backtest] round_prices = true "
                      "to round them)",
                      name, md_echo_len(f), f.s, TB_DECIMAL_SCALE);
    if (rc == 0) rc = tb_dec_parse_round(s, len, TB_ROUND_HALF_UP, out);
    if (rc == TB_EPARSE) return md_bad(r, "%s: '%.*s' is not a number", name, md_echo_len(f), f.s);
    if (rc != 0) {
        char lo[TB_DECIMAL_STRLEN], hi[TB_DECIMAL_STRLEN];
        tb_dec_format(TB_DECIMAL_MIN, lo, sizeof lo);
        tb_dec_format(TB_DECIMAL_MAX, hi, sizeof hi);
        return md_bad(r, "%s: %.*s is out of range [%s, %s]", name, md_echo_len(f), f.s, lo, hi);
    }
    return 0;
}

/* Unsigned decimal integer: 0, TB_EPARSE or TB_ERANGE. */
static int md_parse_uint(const char *s, size_t len, int64_t *out)
{
    if (len == 0) return TB_EPARSE;
    if (len <= 18) { /* below 10^18 < 2^63: no overflow check per digit */
        uint64_t u = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (d > 9) return TB_EPARSE;
            u = u * 10 + d;
        }
        *out = (int64_t)u;
        return 0;
    }
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!md_is_digit(s[i])) return TB_EPARSE;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10) return TB_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int md_scale(int64_t v, int64_t unit, int64_t *out)
{
    /* Not v > INT64_MAX / unit: a division by a variable, twice a row. */
    return __builtin_mul_overflow(v, unit, out) ? TB_ERANGE : 0;
}

/* ---- time ---------------------------------------------------------------- */

/* Epoch seconds (< 1e11) or milliseconds, with an optional fraction. */
static int md_parse_epoch(const char *s, size_t len, int64_t *out)
{
    size_t dot = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.') {
            dot = i;
            break;
        }
    int64_t ip, ns;
    int rc = md_parse_uint(s, dot, &ip);
    if (rc) return rc;
    int64_t unit = ip < GENERIC_MS_THRESHOLD ? NS_PER_S : NS_PER_MS;
    if (md_scale(ip, unit, &ns)) return TB_ERANGE;
    if (dot < len) {
        int64_t frac = 0, place = unit;
        if (dot + 1 == len) return TB_EPARSE;
        for (size_t i = dot + 1; i < len; i++) {
            if (!md_is_digit(s[i])) return TB_EPARSE;
            place /= 10;
            frac += (s[i] - '0') * place;
        }
        if (ns > INT64_MAX - frac) return TB_ERANGE;
        ns += frac;
    }
    *out = ns;
    return 0;
}

static int md_parse_generic_time(md_field f, int64_t *out)
{
    /* "2024-..." has '-' at index 4; an epoch number has no '-' at all. */
    if (f.len > 4 && f.s[4] == '-') return tb__time_parse_iso(f.s, f.len, TB__ISO_LENIENT, out);
    return md_parse_epoch(f.s, f.len, out);
}

/* ---- rows ---------------------------------------------------------------- */

typedef struct {
    md_field open, high, low, close, volume, time;
    const char *time_name;
} md_row_text;

/* Checks shared by both formats, in the order the messages are documented:
 * prices positive, volume not negative, high >= low, open and close in range,
 * then time strictly after the previous accepted row. */
static int md_check_bar(tb_md_reader *r, const tb_market_data *b, const md_row_text *t)
{
    const tb_decimal prices[4] = {b->open, b->high, b->low, b->close};
    const md_field *fields[4] = {&t->open, &t->high, &t->low, &t->close};
    static const char *const names[4] = {"open", "high", "low", "close"};
    for (int k = 0; k < 4; k++)
        if (prices[k] <= 0)
            return md_bad(r, "%s %.*s is not positive", names[k], md_echo_len(*fields[k]),
                          fields[k]->s);
    if (b->volume < 0)
        return md_bad(r, "volume %.*s is negative", md_echo_len(t->volume), t->volume.s);
    if (b->high < b->low)
        return md_bad(r, "high %.*s is below low %.*s", md_echo_len(t->high), t->high.s,
                      md_echo_len(t->low), t->low.s);
    for (int k = 0; k < 4; k += 3) { /* open (0) and close (3) */
        if (prices[k] > b->high)
            return md_bad(r, "%s %.*s is above high %.*s", names[k], md_echo_len(*fields[k]),
                          fields[k]->s, md_echo_len(t->high), t->high.s);
        if (prices[k] < b->low)
            return md_bad(r, "%s %.*s is below low %.*s", names[k], md_echo_len(*fields[k]),
                          fields[k]->s, md_echo_len(t->low), t->low.s);
    }
    if (r->have_prev && b->open_time <= r->prev_open)
        return md_bad(r, "%s %.*s is not after the previous row's", t->time_name,
                      md_echo_len(t->time), t->time.s);
    return 0;
}

static int md_parse_ohlcv(tb_md_reader *r, const md_field *f, tb_market_data *b, md_row_text *t)
{
    int rc;
    t->open = f[1];
    t->high = f[2];
    t->low = f[3];
    t->close = f[4];
    t->volume = f[5];
    if ((rc = md_parse_dec(r, "open", f[1], &b->open)) ||
        (rc = md_parse_dec(r, "high", f[2], &b->high)) ||
        (rc = md_parse_dec(r, "low", f[3], &b->low)) ||
        (rc = md_parse_dec(r, "close", f[4], &b->close)) ||
        (rc = md_parse_dec(r, "volume", f[5], &b->volume)))
        return rc;
    return 0;
}

/* A Binance time's value v in ns: milliseconds, microseconds from 1e14 on. */
static int md_binance_ns(int64_t v, int64_t *out)
{
    return md_scale(v, v >= BINANCE_US_THRESHOLD ? NS_PER_US : NS_PER_MS, out);
}

static int md_binance_time(tb_md_reader *r, const char *name, md_field f, int64_t *out)
{
    int64_t v;
    int rc = md_parse_uint(f.s, f.len, &v);
    if (rc == TB_EPARSE) return md_bad(r, "%s: '%.*s' is not a number", name, md_echo_len(f), f.s);
    if (rc == 0) rc = md_binance_ns(v, out);
    if (rc) return md_bad(r, "%s: '%.*s' is out of range", name, md_echo_len(f), f.s);
    return 0;
}

/* The field at *p, up to its ',' (or the end), and *p past that comma. */
static inline md_field md_next_field(const char **p, const char *end)
{
    const char *q = *p;
    while (q < end && *q != ',')
        q++;
    md_field f = {*p, (size_t)(q - *p)};
    *p = q < end ? q + 1 : q;
    return f;
}

/* A Binance row the common way round, in one pass: 12 fields, no NUL
 * byte, the times plain digits, the prices and volume what tb__md_dec_fast
 * converts (so no blanks or quotes: each field's text is what md_trim would
 * give). 1 with f[0..6] and b's times, prices and volume; 0 when not sure,
 * and the general path reads the row from scratch, with its messages.
 * Splitting the whole row into fields, then reading each field again, was
 * half of the reader thread's time. */
static int md_binance_fast(const char *line, size_t len, md_field *f, tb_market_data *b)
{
    const char *p = line, *end = line + len;
    for (int k = 0; k < 7; k++)
        f[k] = md_next_field(&p, end);
    /* The 5 fields not read: commas and NUL bytes only (a 13th field or a
     * NUL is the general path's to report). */
    int commas = 0, nul = 0;
    for (; p < end; p++) {
        commas += *p == ',';
        nul |= *p == '\0';
    }
    int64_t ot, ct;
    return commas == MD_BINANCE_COLS - 8 && !nul && md_parse_uint(f[0].s, f[0].len, &ot) == 0 &&
           md_binance_ns(ot, &b->open_time) == 0 && md_parse_uint(f[6].s, f[6].len, &ct) == 0 &&
           md_binance_ns(ct, &b->close_time) == 0 && tb__md_dec_fast(f[1].s, f[1].len, &b->open) &&
           tb__md_dec_fast(f[2].s, f[2].len, &b->high) &&
           tb__md_dec_fast(f[3].s, f[3].len, &b->low) &&
           tb__md_dec_fast(f[4].s, f[4].len, &b->close) &&
           tb__md_dec_fast(f[5].s, f[5].len, &b->volume);
}

static int md_parse_binance(tb_md_reader *r, const char *line, size_t len, tb_market_data *b)
{
    md_field f[MD_MAX_COLS];
    md_row_text t;
    int rc;
    if (!r->slow_rows && md_binance_fast(line, len, f, b)) {
        t.open = f[1];
        t.high = f[2];
        t.low = f[3];
        t.close = f[4];
        t.volume = f[5];
    } else {
        int nul;
        size_t n = md_split_nul(line, len, f, MD_MAX_COLS, &nul);
        if (nul) return md_bad(r, "line contains a NUL byte");
        if (n != MD_BINANCE_COLS) {
            if (n == MD_GENERIC_COLS && r->lineno == 1)
                return md_bad(r, "expected 12 columns, got 6 (a generic CSV needs the header "
                                 "timestamp,open,high,low,close,volume)");
            return md_bad(r, "expected 12 columns, got %zu", n);
        }
        if ((rc = md_binance_time(r, "open_time", f[0], &b->open_time)) ||
            (rc = md_parse_ohlcv(r, f, b, &t)) ||
            (rc = md_binance_time(r, "close_time", f[6], &b->close_time)))
            return rc;
    }
    t.time = f[0];
    t.time_name = "open_time";
    if ((rc = md_check_bar(r, b, &t))) return rc;
    if (b->close_time < b->open_time)
        return md_bad(r, "close_time %.*s is before open_time %.*s", md_echo_len(f[6]), f[6].s,
                      md_echo_len(f[0]), f[0].s);
    /* The merge orders by close time, so a file's close times must rise too. */
    if (r->have_prev && b->close_time <= r->prev_close)
        return md_bad(r, "close_time %.*s is not after the previous row's", md_echo_len(f[6]),
                      f[6].s);
    return 0;
}

static int md_parse_generic(tb_md_reader *r, const char *line, size_t len, tb_market_data *b)
{
    md_field f[MD_MAX_COLS];
    md_row_text t;
    int nul;
    size_t n = md_split_nul(line, len, f, MD_MAX_COLS, &nul);
    if (nul) return md_bad(r, "line contains a NUL byte");
    if (n != MD_GENERIC_COLS) return md_bad(r, "expected 6 columns, got %zu", n);
    int rc = md_parse_generic_time(f[0], &b->open_time);
    if (rc == TB_EPARSE)
        return md_bad(r,
                      "timestamp: '%.*s' is not a time (epoch seconds, milliseconds or "
                      "ISO-8601 UTC)",
                      md_echo_len(f[0]), f[0].s);
    if (rc) return md_bad(r, "timestamp: '%.*s' is out of range", md_echo_len(f[0]), f[0].s);
    if ((rc = md_parse_ohlcv(r, f, b, &t))) return rc;
    t.time = f[0];
    t.time_name = "timestamp";
    b->close_time = b->open_time; /* set for real once the next row is seen */
    return md_check_bar(r, b, &t);
}

/* Next valid row into *b, skipping bad rows under the skip policy.
 * 0, TB_EEOF, or an error with r->msg set. */
static int md_next_row(tb_md_reader *r, tb_market_data *b)
{
    for (;;) {
        size_t len;
        int rc = md_read_line(r, &len);
        if (rc == 0) return TB_EEOF;
        if (rc < 0 && rc != TB_EDATA) return rc;
        if (rc > 0 && len == 0) continue; /* blank lines (e.g. a trailing one) carry nothing */
        memset(b, 0, sizeof *b);
        if (rc < 0) {
            /* too long: r->msg says so */
        } else if (r->fmt == MD_FMT_BINANCE) { /* both check for NUL bytes first */
            rc = md_parse_binance(r, r->line, len, b);
        } else {
            rc = md_parse_generic(r, r->line, len, b);
        }
        if (rc == 0) {
            memcpy(b->symbol, r->symbol, sizeof b->symbol);
            r->have_prev = 1;
            r->prev_open = b->open_time;
            r->prev_close = b->close_time;
            return 0;
        }
        if (r->cfg.on_bad_row != TB_BAD_ROW_SKIP) return rc;
        r->bad_rows++;
        if (r->cfg.warn != NULL) r->cfg.warn(r->msg, r->cfg.warn_ctx);
    }
}

static int64_t md_close_before(int64_t next_open, int64_t open)
{
    int64_t c = next_open - NS_PER_MS;
    /* Sub-millisecond bars: never let the close fall before the open. */
    return c < open ? open : c;
}

static int md_next_generic(tb_md_reader *r, tb_market_data *bar)
{
    int rc;
    if (!r->have_pending) {
        if ((rc = md_next_row(r, &r->pending))) return rc;
        r->have_pending = 1;
    }
    tb_market_data next;
    rc = md_next_row(r, &next);
    if (rc == 0) {
        *bar = r->pending;
        r->interval = next.open_time - bar->open_time;
        bar->close_time = md_close_before(next.open_time, bar->open_time);
        r->pending = next;
        return 0;
    }
    if (rc != TB_EEOF) return rc;
    *bar = r->pending;
    r->have_pending = 0;
    int64_t iv = r->interval > 0 ? r->interval : MD_DEFAULT_INTERVAL;
    bar->close_time = bar->open_time > INT64_MAX - iv
                          ? INT64_MAX
                          : md_close_before(bar->open_time + iv, bar->open_time);
    return 0;
}

/* ---- spec and open ------------------------------------------------------- */

/* "SYMBOL:path" only when the prefix is [A-Z0-9]{1,15}; otherwise the whole
 * spec is a path and the symbol is the file name up to its first '-' or '.',
 * in upper case. */
static int md_parse_spec(const char *spec, char *symbol, const char **path, char *err,
                         size_t errlen)
{
    size_t i = 0;
    while (spec[i] != '\0' && ((spec[i] >= 'A' && spec[i] <= 'Z') || md_is_digit(spec[i])))
        i++;
    if (i >= 1 && i < TB_SYMBOL_LEN && spec[i] == ':') {
        if (spec[i + 1] == '\0') {
            tb__errf(err, errlen, "data spec '%s' has no path after the symbol", spec);
            return TB_EINVAL;
        }
        memcpy(symbol, spec, i);
        symbol[i] = '\0';
        *path = spec + i + 1;
        return 0;
    }
    *path = spec;
    if (spec[0] == '\0') {
        tb__errf(err, errlen, "empty data spec");
        return TB_EINVAL;
    }
    const char *base = strrchr(spec, '/');
    base = base ? base + 1 : spec;
    size_t n = 0;
    while (base[n] != '\0' && base[n] != '-' && base[n] != '.' && md_is_alnum(base[n]))
        n++;
    int ends_ok = base[n] == '\0' || base[n] == '-' || base[n] == '.';
    if (n == 0 || n >= TB_SYMBOL_LEN || !ends_ok) {
        tb__errf(err, errlen, "cannot infer symbol from '%s'; give it as SYMBOL:path", spec);
        return TB_EINVAL;
    }
    /* Symbols are upper case everywhere else (SYMBOL:path, the exchange's
     * names): "mycoin.csv" is MYCOIN. */
    for (size_t k = 0; k < n; k++)
        symbol[k] = base[k] >= 'a' && base[k] <= 'z' ? (char)(base[k] - 'a' + 'A') : base[k];
    symbol[n] = '\0';
    return 0;
}

static int md_is_generic_header(const char *line, size_t len)
{
    md_field f[MD_MAX_COLS];
    if (md_split(line, len, f, MD_MAX_COLS) != MD_GENERIC_COLS) return 0;
    for (size_t k = 0; k < MD_GENERIC_COLS; k++)
        if (!md_field_ieq(f[k], md_generic_header[k])) return 0;
    return 1;
}

/* Reads the first non-blank line and decides the format. A Binance data row
 * is kept for the first next(); any header is consumed. */
static int md_detect(tb_md_reader *r)
{
    size_t len;
    int rc;
    do {
        rc = md_read_line(r, &len);
        if (rc < 0) return rc;
        if (rc == 0) {
            snprintf(r->msg, r->msgcap, "%s: file is empty", r->path);
            return TB_EDATA;
        }
    } while (len == 0);
    if (r->lineno == 1 && len >= 3 && memcmp(r->line, "\xEF\xBB\xBF", 3) == 0) {
        memmove(r->line, r->line + 3, len - 2); /* UTF-8 BOM from spreadsheet exports */
        len -= 3;
    }
    if (len > 0 && md_is_digit(r->line[0])) {
        r->fmt = MD_FMT_BINANCE;
        r->replay = 1;
        r->replay_len = len;
        return 0;
    }
    if (md_is_generic_header(r->line, len)) {
        r->fmt = MD_FMT_GENERIC;
        return 0;
    }
    md_field f[MD_MAX_COLS];
    if (md_split(r->line, len, f, MD_MAX_COLS) == MD_BINANCE_COLS) {
        r->fmt = MD_FMT_BINANCE;
        return 0;
    }
    return md_bad(r,
                  "unrecognised header '%.60s'; expected timestamp,open,high,low,close,volume "
                  "or Binance kline CSV (12 columns)",
                  r->line);
}

void tb_md_config_init(tb_md_config *cfg)
{
    if (cfg == NULL) return;
    memset(cfg, 0, sizeof *cfg);
    cfg->on_bad_row = TB_BAD_ROW_FAIL;
}

static void md_pump_start(tb_md_reader *r);

int tb_md_reader_open(const char *spec, const tb_md_config *cfg, tb_md_reader **out, char *err,
                      size_t errlen)
{
    if (out != NULL) *out = NULL;
    if (spec == NULL || out == NULL) {
        tb__errf(err, errlen, "tb_md_reader_open: spec and out must not be NULL");
        return TB_EINVAL;
    }
    char symbol[TB_SYMBOL_LEN] = {0}; /* copied whole into every bar */
    const char *path;
    int rc = md_parse_spec(spec, symbol, &path, err, errlen);
    if (rc) return rc;

    tb_md_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        tb__errf(err, errlen, "out of memory opening '%s'", path);
        return TB_ENOMEM;
    }
    r->fd = -1;
    size_t plen = strlen(path);
    r->path = malloc(plen + 1);
    r->msgcap = plen + MD_MSG_EXTRA;
    r->msg = malloc(r->msgcap);
    if (r->path == NULL || r->msg == NULL) {
        tb_md_reader_close(r);
        tb__errf(err, errlen, "out of memory opening '%s'", path);
        return TB_ENOMEM;
    }
    memcpy(r->path, path, plen + 1);
    r->msg[0] = '\0';
    memcpy(r->symbol, symbol, sizeof symbol);
    if (cfg != NULL)
        r->cfg = *cfg;
    else
        tb_md_config_init(&r->cfg);

    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        char ebuf[128];
        tb__errf(err, errlen, "cannot open '%s': %s", path, md_strerror(errno, ebuf, sizeof ebuf));
        tb_md_reader_close(r);
        return TB_EIO;
    }
    if (tb__lr_init(&r->lr, MD_MAX_LINE, md_read_fd, r) != 0) {
        tb__errf(err, errlen, "out of memory opening '%s'", path);
        tb_md_reader_close(r);
        return TB_ENOMEM;
    }
    /* A folder opens but fails its first read ("read error"): say what it is. */
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        tb__errf(err, errlen, "cannot open '%s': %s is a directory", path, path);
        tb_md_reader_close(r);
        return TB_EIO;
    }
    /* Pipes and devices have no stable size and time to key a cache by. */
    if (r->cfg.cache && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        uint32_t opts = (uint32_t)(r->cfg.round_prices ? 1 : 0) |
                        (uint32_t)(r->cfg.on_bad_row == TB_BAD_ROW_SKIP ? 2 : 0);
        if (tb__mdc_in_open(path, r->fd, &st, opts, &r->cin)) {
            tb__mdc_in_start(r->cin, &r->dig_lines, &r->dig_hash);
            *out = r;
            return 0;
        }
        r->cout = tb__mdc_out_begin(path, &st, opts);
    }
    rc = md_detect(r);
    if (rc) {
        md_set_err(err, errlen, r->msg);
        tb_md_reader_close(r);
        return rc;
    }
    if (r->cout) tb__mdc_out_start(r->cout, r->lr.lineno, tb__lr_hash(&r->lr));
    md_pump_start(r);
    *out = r;
    return 0;
}

/* The next bar in the caller's thread, or in the pump's: 0, or the sticky
 * end (TB_EEOF, or an error with its message in r->msg). */
static int md_next_sync(tb_md_reader *r, tb_market_data *bar)
{
    if (r->sticky == 0 && r->cin != NULL) {
        const tb__mdc_rec *c = NULL;
        int got = tb__mdc_in_next(r->cin, &c, &r->dig_lines, &r->dig_hash);
        if (got <= 0) {
            /* Not an early end: the cache was checked whole, so a short
             * read means it was cut meanwhile; the next run rebuilds it. */
            if (got < 0)
                snprintf(r->msg, r->msgcap,
                         "%s: its cache could not be read to the end (truncated while in "
                         "use?): run again, the cache is then rebuilt, or use --no-cache",
                         r->path);
            r->sticky = got < 0 ? got : TB_EEOF;
            return r->sticky;
        }
        memcpy(bar->symbol, r->symbol, sizeof bar->symbol);
        bar->open = c->open;
        bar->high = c->high;
        bar->low = c->low;
        bar->close = c->close;
        bar->volume = c->volume;
        bar->open_time = c->open_time;
        bar->close_time = c->close_time;
        return 0;
    }
    if (r->sticky == 0) {
        int rc = r->fmt == MD_FMT_GENERIC ? md_next_generic(r, bar) : md_next_row(r, bar);
        if (rc == 0) {
            if (r->cout) tb__mdc_out_bar(r->cout, bar, r->lr.lineno, tb__lr_hash(&r->lr));
            return 0;
        }
        r->sticky = rc;
        /* Only a file read whole without a bad row is cached: skipped rows
         * would have to be warned about again, so such a file is parsed
         * every time (docs/data.md). */
        if (rc == TB_EEOF && r->bad_rows == 0)
            tb__mdc_out_commit(r->cout, r->fd, r->lr.lineno, tb__lr_hash(&r->lr));
        else
            tb__mdc_out_abort(r->cout);
        r->cout = NULL;
    }
    return r->sticky;
}

/* ---- the reader thread ----------------------------------------------------
 *
 * Parsing a CSV line costs about as much as the pipeline spends on its bar,
 * so on two cores a thread parses blocks of bars while the caller runs the
 * previous ones. Blocks go round a ring: the thread fills block `filled`
 * when fewer than MD_PUMP_BLOCKS are waiting, the caller reads block
 * `taken` and hands it back; one mutex guards the two counters, taken once
 * per block, never per bar. Each bar carries the digest the reader had just
 * after it, so tb_md_merge_digest says at every bar what a reader in the
 * caller's thread would. The thread stops after the block that ends the
 * file (TB_EEOF or an error, whose message stays in r->msg: it writes
 * nothing after that block is handed over). */

#define MD_PUMP_BLOCK  2048
#define MD_PUMP_BLOCKS 4
#define MD_PUMP_MIN    (4 << 20) /* bytes: smaller files parse in a blink */

typedef struct {
    tb_market_data bar;
    uint64_t lines, hash; /* the digest just after this bar */
} md_slot;

typedef struct {
    md_slot slot[MD_PUMP_BLOCK];
    size_t n;
    int end;                      /* 0, or the reader's sticky end after the n bars */
    uint64_t end_lines, end_hash; /* the digest at that end */
} md_block;

typedef struct md_pump {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t filled, taken; /* under mu */
    int stop;               /* under mu: close asks the thread to end */
    /* The caller's side. */
    int holding; /* block taken % MD_PUMP_BLOCKS is being read */
    size_t pos;
    int sticky;
    uint64_t lines, hash;
    md_block blocks[MD_PUMP_BLOCKS];
} md_pump;

static void *md_pump_main(void *arg)
{
    tb_md_reader *r = arg;
    md_pump *p = r->pump;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->filled - p->taken == MD_PUMP_BLOCKS && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        md_block *b = &p->blocks[p->filled % MD_PUMP_BLOCKS];
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        b->n = 0;
        b->end = 0;
        while (b->n < MD_PUMP_BLOCK) {
            md_slot *s = &b->slot[b->n];
            int rc = md_next_sync(r, &s->bar);
            if (rc) {
                b->end = rc;
                b->end_lines = r->lr.lineno;
                b->end_hash = tb__lr_hash(&r->lr);
                break;
            }
            s->lines = r->lr.lineno;
            s->hash = tb__lr_hash(&r->lr);
            b->n++;
        }
        pthread_mutex_lock(&p->mu);
        p->filled++;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (b->end) break;
    }
    return NULL;
}

/* Starts the thread when it helps (see tb_md_config.reader_thread); on any
 * failure the caller's thread reads, as without it. */
static void md_pump_start(tb_md_reader *r)
{
    struct stat st;
    if (!r->cfg.reader_thread || r->cin || r->cfg.on_bad_row != TB_BAD_ROW_FAIL || r->sticky ||
        sysconf(_SC_NPROCESSORS_ONLN) < 2 || fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size < MD_PUMP_MIN)
        return;
    md_pump *p = calloc(1, sizeof *p);
    if (!p) return;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return;
    }
    p->lines = r->lr.lineno;
    p->hash = tb__lr_hash(&r->lr);
    r->pump = p;
    int rc = tb__thread_start(&p->thread, md_pump_main, r);
    if (rc != 0) {
        r->pump = NULL;
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
}

static int md_pump_next(tb_md_reader *r, tb_market_data *bar)
{
    md_pump *p = r->pump;
    if (p->sticky) return p->sticky;
    for (;;) {
        if (!p->holding) {
            pthread_mutex_lock(&p->mu);
            while (p->filled == p->taken)
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
            p->holding = 1;
            p->pos = 0;
        }
        const md_block *b = &p->blocks[p->taken % MD_PUMP_BLOCKS];
        if (p->pos < b->n) {
            const md_slot *s = &b->slot[p->pos++];
            *bar = s->bar;
            p->lines = s->lines;
            p->hash = s->hash;
            return 0;
        }
        if (b->end) {
            p->sticky = b->end;
            p->lines = b->end_lines;
            p->hash = b->end_hash;
            return p->sticky;
        }
        pthread_mutex_lock(&p->mu);
        p->taken++;
        p->holding = 0;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void md_pump_stop(tb_md_reader *r)
{
    md_pump *p = r->pump;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    r->pump = NULL;
}

int tb_md_reader_next(tb_md_reader *r, tb_market_data *bar, char *err, size_t errlen)
{
    if (r == NULL || bar == NULL) {
        tb__errf(err, errlen, "tb_md_reader_next: reader and bar must not be NULL");
        return TB_EINVAL;
    }
    int rc = r->pump ? md_pump_next(r, bar) : md_next_sync(r, bar);
    if (rc && rc != TB_EEOF) md_set_err(err, errlen, r->msg);
    return rc;
}

int tb__md_reader_threaded(const tb_md_reader *r)
{
    return r && r->pump;
}

void tb__md_reader_slow_rows(tb_md_reader *r)
{
    r->slow_rows = 1;
}

int tb__md_reader_from_cache(const tb_md_reader *r, int *hashed_source)
{
    *hashed_source = r->cin ? tb__mdc_in_hashed_source(r->cin) : 0;
    return r->cin != NULL;
}

uint64_t tb_md_reader_bad_rows(const tb_md_reader *r)
{
    /* A pumped reader fails at its first bad row: it never skips one. */
    return r && !r->pump ? r->bad_rows : 0;
}

const char *tb_md_reader_symbol(const tb_md_reader *r)
{
    return r ? r->symbol : "";
}

void tb_md_reader_close(tb_md_reader *r)
{
    if (r == NULL) return;
    md_pump_stop(r);            /* first: the thread owns the rest until it ends */
    tb__mdc_out_abort(r->cout); /* not read to the end: no cache */
    tb__mdc_in_close(r->cin);
    if (r->fd >= 0) close(r->fd);
    tb__lr_close(&r->lr);
    free(r->msg);
    free(r->path);
    free(r);
}

/* ---- merge --------------------------------------------------------------- */

int tb_md_merge_open(const char *const *specs, size_t nspecs, const tb_md_config *cfg,
                     tb_md_merge **out, char *err, size_t errlen)
{
    if (out != NULL) *out = NULL;
    if (out == NULL || (specs == NULL && nspecs > 0)) {
        tb__errf(err, errlen, "tb_md_merge_open: specs and out must not be NULL");
        return TB_EINVAL;
    }
    if (nspecs == 0) {
        tb__errf(err, errlen, "no market data files given");
        return TB_EINVAL;
    }
    if (nspecs > (SIZE_MAX - sizeof(tb_md_merge)) / sizeof(md_source)) {
        tb__errf(err, errlen, "too many market data files");
        return TB_EINVAL;
    }
    tb_md_merge *m = calloc(1, sizeof *m + nspecs * sizeof(md_source));
    if (m == NULL) {
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    m->refill = nspecs;
    if (cfg != NULL)
        m->cfg = *cfg;
    else
        tb_md_config_init(&m->cfg);
    size_t maxpath = 0;
    for (size_t i = 0; i < nspecs; i++) {
        int rc = tb_md_reader_open(specs[i], cfg, &m->src[i].r, err, errlen);
        if (rc) {
            tb_md_merge_close(m);
            return rc;
        }
        m->n = i + 1;
        size_t pl = strlen(m->src[i].r->path);
        if (pl > maxpath) maxpath = pl;
    }
    m->msgcap = 2 * maxpath + MD_MSG_EXTRA;
    m->msg = malloc(m->msgcap);
    if (m->msg == NULL) {
        tb_md_merge_close(m);
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    m->msg[0] = '\0';
    *out = m;
    return 0;
}

static int md_merge_fill(tb_md_merge *m, size_t i, char *err, size_t errlen)
{
    md_source *s = &m->src[i];
    int rc = tb_md_reader_next(s->r, &s->head, err, errlen);
    if (rc == 0) {
        s->has_head = 1;
        return 0;
    }
    return rc == TB_EEOF ? 0 : rc;
}

/* Two files of one symbol (say January and February) merge into one stream,
 * but if they overlap the symbol's bars would go back in time: returns the
 * source that already emitted a bar at or after b's open, or m->n. */
static size_t md_merge_overlap(const tb_md_merge *m, size_t i, const tb_market_data *b)
{
    for (size_t j = 0; j < m->n; j++) {
        const md_source *o = &m->src[j];
        if (j != i && o->has_last && o->last_open >= b->open_time &&
            strcmp(o->r->symbol, m->src[i].r->symbol) == 0)
            return j;
    }
    return m->n;
}

int tb_md_merge_next(tb_md_merge *m, tb_market_data *bar, char *err, size_t errlen)
{
    if (m == NULL || bar == NULL) {
        tb__errf(err, errlen, "tb_md_merge_next: merge and bar must not be NULL");
        return TB_EINVAL;
    }
    if (m->sticky == TB_EEOF) return TB_EEOF;
    if (m->sticky) {
        md_set_err(err, errlen, m->msg);
        return m->sticky;
    }
    int rc = 0;
    if (!m->primed) {
        for (size_t i = 0; i < m->n && rc == 0; i++)
            rc = md_merge_fill(m, i, m->msg, m->msgcap);
        m->primed = 1;
    }
    for (;;) {
        if (rc == 0 && m->refill < m->n) {
            rc = md_merge_fill(m, m->refill, m->msg, m->msgcap);
            m->refill = m->n;
        }
        if (rc) {
            m->sticky = rc;
            md_set_err(err, errlen, m->msg);
            return rc;
        }
        size_t best = m->n;
        for (size_t i = 0; i < m->n; i++) {
            /* Strict < keeps the earlier spec on equal close times. */
            if (m->src[i].has_head &&
                (best == m->n || m->src[i].head.close_time < m->src[best].head.close_time))
                best = i;
        }
        if (best == m->n) {
            m->sticky = TB_EEOF;
            return TB_EEOF;
        }
        md_source *s = &m->src[best];
        s->has_head = 0;
        m->refill = best;
        size_t other = md_merge_overlap(m, best, &s->head);
        if (other < m->n) {
            char when[48];
            tb__time_iso(s->head.open_time, TB__FRAC_AUTO, when, sizeof when);
            snprintf(m->msg, m->msgcap, "%s: %s bar at %s overlaps the bars of '%s'", s->r->path,
                     s->r->symbol, when, m->src[other].r->path);
            if (m->cfg.on_bad_row != TB_BAD_ROW_SKIP) {
                rc = TB_EDATA;
                continue;
            }
            m->extra_bad++;
            if (m->cfg.warn != NULL) m->cfg.warn(m->msg, m->cfg.warn_ctx);
            continue;
        }
        s->has_last = 1;
        s->last_open = s->head.open_time;
        *bar = s->head;
        return 0;
    }
}

size_t tb_md_merge_files(const tb_md_merge *m)
{
    return m ? m->n : 0;
}

int tb_md_merge_digest(const tb_md_merge *m, size_t i, uint64_t *lines, uint64_t *hash,
                       const char **path)
{
    if (!m || i >= m->n) return TB_EINVAL;
    const tb_md_reader *r = m->src[i].r;
    /* From the cache or the reader thread: the digest the parse had at the
     * same bar. */
    *lines = r->pump ? r->pump->lines : r->cin ? r->dig_lines : r->lr.lineno;
    *hash = r->pump ? r->pump->hash : r->cin ? r->dig_hash : tb__lr_hash(&r->lr);
    *path = r->path;
    return 0;
}

const char *tb_md_merge_symbol(const tb_md_merge *m, size_t i)
{
    return m && i < m->n ? m->src[i].r->symbol : NULL;
}

uint64_t tb_md_merge_bad_rows(const tb_md_merge *m)
{
    if (m == NULL) return 0;
    uint64_t total = m->extra_bad;
    for (size_t i = 0; i < m->n; i++)
        total += tb_md_reader_bad_rows(m->src[i].r);
    return total;
}

void tb_md_merge_close(tb_md_merge *m)
{
    if (m == NULL) return;
    for (size_t i = 0; i < m->n; i++)
        tb_md_reader_close(m->src[i].r);
    free(m->msg);
    free(m);
}
