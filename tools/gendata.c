/* gendata — deterministic synthetic Binance spot kline CSV.
 *
 *   gendata --bars N --seed S --price P0 [--symbol BTCUSDT] [--start 2024-01-01]
 *           [--interval 60] [--regime mixed|trend|range|random] [--decimals 2] > file
 *
 * Output is byte-identical on every machine for the same arguments: the PRNG
 * is splitmix64 (no rand()), prices move in integer ticks of 10^-decimals and
 * every number is printed from integers, never from a double. Columns are
 * Binance's 12 (times in ms); base volumes have 3 decimals (a 0.001 lot) and
 * quote volumes are volume x the bar's mean price, rounded half up to the
 * price's decimals. --symbol is not part of Binance's CSV; it only labels the
 * summary line on stderr. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/decimal.h"

#define MAX_BARS 100000000LL
/* Per-bar volatility, in millionths of the price: 0.08% is a typical
 * one-minute range for BTC and ETH. */
#define VOL_PPM 800
/* Average traded value per bar, in quote units; small on purpose so the
 * committed data files stay compact. */
#define BASE_NOTIONAL 25000

typedef enum { REGIME_MIXED, REGIME_TREND, REGIME_RANGE, REGIME_RANDOM } regime;

typedef struct {
    const char *symbol;
    int64_t start_ms;
    int64_t bars;
    uint64_t seed;
    tb_decimal price;
    int64_t interval_s;
    regime reg;
    int decimals;
    int64_t gap_every;  /* 0 = none; else a time gap of 2-30 intervals every N bars */
    int64_t zero_every; /* 0 = none; else every N-th bar has no trade (zero volume, flat) */
    int64_t notional;   /* average traded value per bar, quote units */
} options;

typedef struct {
    uint64_t state;
} rng;

static uint64_t rng_next(rng *g)
{
    uint64_t z = (g->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; the modulo bias is below 2^-40 for our ranges and,
 * more to the point, identical on every machine. */
static int64_t rng_range(rng *g, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(rng_next(g) % span);
}

/* Roughly normal, mean 0, spread ~ scale: a sum of four uniforms. */
static int64_t rng_bell(rng *g, int64_t scale)
{
    int64_t s = 0;
    for (int i = 0; i < 4; i++)
        s += rng_range(g, -scale, scale);
    return s / 2;
}

static void usage(FILE *to)
{
    fputs("usage: gendata --bars N --seed S --price P0 [--symbol SYMBOL] [--start YYYY-MM-DD"
          "[THH:MM[:SS]]]\n"
          "               [--interval SECONDS] [--regime mixed|trend|range|random] "
          "[--decimals D]\n"
          "               [--gap-every N] [--zero-volume-every N] [--notional QUOTE]\n"
          "Writes Binance spot kline CSV (12 columns, ms times) to stdout.\n",
          to);
}

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "gendata: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static int64_t parse_int(const char *s, int64_t lo, int64_t hi, const char *opt)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) die("bad value for", opt);
    return (int64_t)v;
}

static uint64_t parse_u64(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    if (s[0] == '-') die("bad value for", opt);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0') die("bad value for", opt);
    return (uint64_t)v;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD", optionally "THH:MM[:SS]" (or a space), optional "Z"; UTC. */
static int64_t parse_start_ms(const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) die("bad --start", s);
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        int m2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m2) != 2 || m2 != 5) die("bad --start", s);
        p += 1 + m2;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &m2) != 1 || m2 != 2) die("bad --start", s);
            p += 3;
        }
    }
    if (*p == 'Z') p++;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || sec > 59)
        die("bad --start", s);
    return ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + sec) * 1000;
}

static void parse_args(int argc, char **argv, options *o)
{
    int have_bars = 0, have_seed = 0, have_price = 0;
    o->symbol = "BTCUSDT";
    o->start_ms = parse_start_ms("2024-01-01");
    o->interval_s = 60;
    o->reg = REGIME_MIXED;
    o->decimals = 2;
    o->notional = BASE_NOTIONAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            usage(stderr);
            die("missing value for", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--symbol") == 0) {
            size_t n = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
            if (n == 0 || n > 15 || v[n] != '\0') die("--symbol must be [A-Z0-9]{1,15}", v);
            o->symbol = v;
        } else if (strcmp(a, "--start") == 0) {
            o->start_ms = parse_start_ms(v);
        } else if (strcmp(a, "--bars") == 0) {
            o->bars = parse_int(v, 1, MAX_BARS, a);
            have_bars = 1;
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = parse_u64(v, a);
            have_seed = 1;
        } else if (strcmp(a, "--price") == 0) {
            if (tb_dec_parse(v, (size_t)-1, &o->price) != 0 || o->price <= 0)
                die("--price must be a positive decimal", v);
            have_price = 1;
        } else if (strcmp(a, "--interval") == 0) {
            o->interval_s = parse_int(v, 1, 86400 * 31, a);
        } else if (strcmp(a, "--regime") == 0) {
            if (strcmp(v, "mixed") == 0)
                o->reg = REGIME_MIXED;
            else if (strcmp(v, "trend") == 0)
                o->reg = REGIME_TREND;
            else if (strcmp(v, "range") == 0)
                o->reg = REGIME_RANGE;
            else if (strcmp(v, "random") == 0)
                o->reg = REGIME_RANDOM;
            else
                die("--regime must be mixed, trend, range or random", v);
        } else if (strcmp(a, "--decimals") == 0) {
            o->decimals = (int)parse_int(v, 0, TB_DECIMAL_SCALE, a);
        } else if (strcmp(a, "--gap-every") == 0) {
            o->gap_every = parse_int(v, 0, MAX_BARS, a);
        } else if (strcmp(a, "--zero-volume-every") == 0) {
            o->zero_every = parse_int(v, 0, MAX_BARS, a);
        } else if (strcmp(a, "--notional") == 0) {
            o->notional = parse_int(v, 1, 1000000000, a);
        } else {
            usage(stderr);
            die("unknown option", a);
        }
    }
    if (!have_bars || !have_seed || !have_price) {
        usage(stderr);
        die("--bars, --seed and --price are required", NULL);
    }
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* Fixed point from a non-negative count of 10^-dec units ("0.05", "42.10"). */
static const char *fmt_fixed(int64_t v, int dec, char *buf, size_t cap)
{
    char rev[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 : (uint64_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0 || n <= dec);
    size_t o = 0;
    if (cap < (size_t)n + 2) die("internal: number buffer too small", NULL);
    for (int k = n - 1; k >= 0; k--) {
        buf[o++] = rev[k];
        if (k == dec && dec > 0) buf[o++] = '.';
    }
    buf[o] = '\0';
    return buf;
}

/* round_half_up(a * b / d) for non-negative operands; exits rather than wrap. */
static int64_t mul_div_round(int64_t a, int64_t b, int64_t d)
{
    if (a != 0 && b > (INT64_MAX - d / 2) / a)
        die("values too large (lower --price or --bars)", NULL);
    return (a * b + d / 2) / d;
}

typedef struct {
    regime kind;  /* TREND, RANGE or RANDOM for the current segment */
    int64_t left; /* bars until the next segment */
    int dir;      /* trend: +1 or -1 */
    int strength; /* trend: drift in percent of sigma */
    int64_t anchor, amplitude, period, t;
} segment;

static void next_segment(rng *g, regime mode, int64_t price, int64_t sigma, segment *s)
{
    if (mode == REGIME_MIXED) {
        int64_t pick = rng_range(g, 0, 9);
        s->kind = pick < 4 ? REGIME_TREND : pick < 8 ? REGIME_RANGE : REGIME_RANDOM;
    } else {
        s->kind = mode;
    }
    s->left = rng_range(g, 150, 450);
    s->dir = rng_range(g, 0, 1) ? 1 : -1;
    s->strength = (int)rng_range(g, 12, 30);
    s->anchor = price;
    s->amplitude = sigma * rng_range(g, 4, 10);
    s->period = rng_range(g, 90, 220);
    s->t = 0;
}

/* Where the range regime pulls the price: a triangle wave round the anchor,
 * so moving averages cross a couple of times per period, not on every tick. */
static int64_t range_target(const segment *s)
{
    int64_t ph = s->t % s->period, half = s->period / 2;
    int64_t tri = ph < half ? ph : s->period - ph; /* 0 .. half .. 0 */
    return s->anchor - s->amplitude + 2 * s->amplitude * tri / (half > 0 ? half : 1);
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    parse_args(argc, argv, &o);

    int dec = o.decimals;
    int64_t unit = pow10i(TB_DECIMAL_SCALE - dec);
    if (o.price % unit != 0) die("--price has more decimals than --decimals", NULL);
    int64_t price = o.price / unit; /* in ticks of 10^-dec */
    int64_t one = pow10i(dec);      /* ticks per quote unit */

    rng g = {o.seed};
    segment seg;
    int64_t sigma = price * VOL_PPM / 1000000;
    if (sigma < 1) sigma = 1;
    next_segment(&g, o.reg, price, sigma, &seg);

    char b[8][32];
    int64_t interval_ms = o.interval_s * 1000, lo_all = price, hi_all = price;
    int64_t t_open = o.start_ms;
    for (int64_t i = 0; i < o.bars; i++, t_open += interval_ms) {
        /* Data feeds have holes (exchange outages, illiquid hours): jump the
         * clock, the price carries on. */
        if (o.gap_every && i > 0 && i % o.gap_every == 0)
            t_open += rng_range(&g, 2, 30) * interval_ms;
        if (o.zero_every && i > 0 && i % o.zero_every == 0) {
            /* A bar with no trade: flat at the last price, zero volume. */
            const char *p = fmt_fixed(price, dec, b[0], sizeof b[0]);
            printf("%" PRId64 ",%s,%s,%s,%s,0.000,%" PRId64 ",0,0,0.000,0,0\n", t_open, p, p, p, p,
                   t_open + interval_ms - 1);
            continue;
        }
        sigma = price * VOL_PPM / 1000000;
        if (sigma < 1) sigma = 1;
        if (seg.left-- <= 0) next_segment(&g, o.reg, price, sigma, &seg);
        seg.t++;

        int64_t drift = 0;
        if (seg.kind == REGIME_TREND)
            drift = seg.dir * sigma * seg.strength / 100;
        else if (seg.kind == REGIME_RANGE)
            drift = (range_target(&seg) - price) / 4;

        int64_t open = price;
        int64_t close = open + drift + rng_bell(&g, sigma);
        if (close < 1) close = 1;
        int64_t hi = (open > close ? open : close) + rng_range(&g, 0, sigma / 2);
        int64_t lo = (open < close ? open : close) - rng_range(&g, 0, sigma / 2);
        if (lo < 1) lo = 1;
        price = close;
        if (hi > hi_all) hi_all = hi;
        if (lo < lo_all) lo_all = lo;

        /* Volume grows with the bar's move, as on real markets. */
        int64_t move = close > open ? close - open : open - close;
        int64_t notional = o.notional * rng_range(&g, 50, 150) / 100 * (sigma + move) / sigma;
        int64_t mean = (open + hi + lo + close) / 4;
        int64_t vol_milli = mul_div_round(notional * 1000, one, mean);
        if (vol_milli < 1) vol_milli = 1;
        int64_t taker_milli = vol_milli * rng_range(&g, 30, 70) / 100;
        int64_t quote = mul_div_round(vol_milli, mean, 1000);
        int64_t taker_quote = mul_div_round(taker_milli, mean, 1000);
        int64_t trades = 1 + notional / rng_range(&g, 100, 220);

        printf("%" PRId64 ",%s,%s,%s,%s,%s,%" PRId64 ",%s,%" PRId64 ",%s,%s,0\n", t_open,
               fmt_fixed(open, dec, b[0], sizeof b[0]), fmt_fixed(hi, dec, b[1], sizeof b[1]),
               fmt_fixed(lo, dec, b[2], sizeof b[2]), fmt_fixed(close, dec, b[3], sizeof b[3]),
               fmt_fixed(vol_milli, 3, b[4], sizeof b[4]), t_open + interval_ms - 1,
               fmt_fixed(quote, dec, b[5], sizeof b[5]), trades,
               fmt_fixed(taker_milli, 3, b[6], sizeof b[6]),
               fmt_fixed(taker_quote, dec, b[7], sizeof b[7]));
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gendata: write error: %s\n", strerror(errno));
        return 1;
    }
    fprintf(stderr, "gendata: %s %" PRId64 " bars, low %s high %s last %s\n", o.symbol, o.bars,
            fmt_fixed(lo_all, dec, b[0], sizeof b[0]), fmt_fixed(hi_all, dec, b[1], sizeof b[1]),
            fmt_fixed(price, dec, b[2], sizeof b[2]));
    return 0;
}
