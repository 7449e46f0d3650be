/* Resampling bars into higher timeframes (include/tradebus/resample.h). */
#include "tradebus/resample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/decimal.h"
#include "tradebus/error.h"
#include "tradebus/timefmt.h"

#define NS_MS  INT64_C(1000000)
#define NS_MIN (60 * INT64_C(1000000000))

static const struct {
    const char *name;
    int64_t len_ns;
} timeframes[] = {
    {"1m", NS_MIN},       {"3m", 3 * NS_MIN},   {"5m", 5 * NS_MIN},    {"15m", 15 * NS_MIN},
    {"30m", 30 * NS_MIN}, {"1h", 60 * NS_MIN},  {"2h", 120 * NS_MIN},  {"4h", 240 * NS_MIN},
    {"6h", 360 * NS_MIN}, {"8h", 480 * NS_MIN}, {"12h", 720 * NS_MIN}, {"1d", 1440 * NS_MIN},
};
#define NTIMEFRAMES (sizeof(timeframes) / sizeof(timeframes[0]))

/* One timeframe's bar in progress for one symbol. */
typedef struct {
    int active;
    tb_market_data bar;
} building;

/* Per symbol: its bars' length (from its first bar), to refuse timeframes
 * below it, and the previous bar's close, to refuse bars out of order. Its
 * ntf bars in progress are builds[symbol index * ntf ...]. */
typedef struct {
    char symbol[TB_SYMBOL_LEN];
    int64_t base_ns;
    int64_t last_close;
} sym_state;

struct tb_resampler {
    size_t ntf, max_symbols, nsymbols;
    int64_t tf[TB_RESAMPLE_MAX_TIMEFRAMES];
    sym_state *syms;  /* max_symbols */
    building *builds; /* max_symbols * ntf */
};

int tb_timeframe_parse(const char *name, int64_t *len_ns, char *err, size_t errlen)
{
    for (size_t i = 0; name && i < NTIMEFRAMES; i++) {
        if (strcmp(name, timeframes[i].name) == 0) {
            *len_ns = timeframes[i].len_ns;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown timeframe '%s' (use one of: %s)", name ? name : "(null)",
             TB_TIMEFRAME_NAMES);
    return TB_EINVAL;
}

const char *tb_timeframe_name(int64_t len_ns)
{
    for (size_t i = 0; i < NTIMEFRAMES; i++)
        if (timeframes[i].len_ns == len_ns) return timeframes[i].name;
    return NULL;
}

int tb_resampler_create(const int64_t *tf_ns, size_t ntf, size_t max_symbols, tb_resampler **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    if (ntf == 0 || ntf > TB_RESAMPLE_MAX_TIMEFRAMES || max_symbols == 0) {
        snprintf(err, errlen,
                 "resampler: %zu timeframes for %zu symbols (give 1 to %d timeframes and at "
                 "least one symbol)",
                 ntf, max_symbols, TB_RESAMPLE_MAX_TIMEFRAMES);
        return TB_EINVAL;
    }
    for (size_t i = 0; i < ntf; i++) {
        if (!tb_timeframe_name(tf_ns[i])) {
            snprintf(err, errlen,
                     "resampler: timeframe %zu is %lld ns, not a known length (parse one of: %s)",
                     i, (long long)tf_ns[i], TB_TIMEFRAME_NAMES);
            return TB_EINVAL;
        }
    }
    tb_resampler *r = calloc(1, sizeof(*r));
    if (!r) return TB_ENOMEM;
    r->syms = calloc(max_symbols, sizeof(*r->syms));
    r->builds = calloc(max_symbols * ntf, sizeof(*r->builds));
    if (!r->syms || !r->builds) {
        tb_resampler_destroy(r);
        snprintf(err, errlen, "resampler: out of memory for %zu symbols", max_symbols);
        return TB_ENOMEM;
    }
    r->ntf = ntf;
    r->max_symbols = max_symbols;
    memcpy(r->tf, tf_ns, ntf * sizeof(*tf_ns));
    *out = r;
    return 0;
}

void tb_resampler_destroy(tb_resampler *r)
{
    if (!r) return;
    free(r->syms);
    free(r->builds);
    free(r);
}

/* Floor division: times before 1970 still align to period starts. */
static int64_t period_start(int64_t t, int64_t len)
{
    int64_t q = t / len;
    if (t % len != 0 && t < 0) q--;
    return q * len;
}

/* Linear search: a resampler serves a handful of symbols, and a linear
 * scan over a few 16-byte names beats hashing them. */
static long find_symbol(const tb_resampler *r, const char *sym)
{
    for (size_t i = 0; i < r->nsymbols; i++)
        if (strncmp(r->syms[i].symbol, sym, TB_SYMBOL_LEN) == 0) return (long)i;
    return -1;
}

static void fmt_time(int64_t ns, char *buf, size_t len)
{
    if (tb_format_time_iso(ns, buf, len) < 0) snprintf(buf, len, "%lld ns", (long long)ns);
}

static void fmt_len(int64_t ns, char *buf, size_t len)
{
    const char *name = tb_timeframe_name(ns);
    if (name)
        snprintf(buf, len, "%s", name);
    else if (ns % NS_MS == 0)
        snprintf(buf, len, "%lld ms", (long long)(ns / NS_MS));
    else
        snprintf(buf, len, "%lld ns", (long long)ns);
}

/* Checks everything a push could fail on before anything changes, so an
 * error leaves the resampler as it was. *sums gets each timeframe's new
 * volume if the bar joins its bar in progress. */
static int check_bar(const tb_resampler *r, long si, const tb_market_data *b, tb_decimal *sums,
                     char *err, size_t errlen)
{
    char t[40], t2[40], l1[32], l2[32];
    int64_t base = b->close_time - b->open_time + NS_MS;
    if (b->close_time < b->open_time) {
        fmt_time(b->open_time, t, sizeof(t));
        snprintf(err, errlen, "%.*s bar at %s closes before it opens: fix the data", TB_SYMBOL_LEN,
                 b->symbol, t);
        return TB_EDATA;
    }
    if (si >= 0) {
        const sym_state *s = &r->syms[si];
        if (b->open_time <= s->last_close) {
            fmt_time(b->open_time, t, sizeof(t));
            fmt_time(s->last_close, t2, sizeof(t2));
            snprintf(err, errlen,
                     "%.*s bar at %s is not after the previous bar (closed %s): give each "
                     "symbol's bars in time order",
                     TB_SYMBOL_LEN, b->symbol, t, t2);
            return TB_EDATA;
        }
        base = s->base_ns;
    } else if (r->nsymbols == r->max_symbols) {
        snprintf(err, errlen,
                 "resampler: %.*s would be symbol %zu, room is for %zu: create it with more "
                 "symbols",
                 TB_SYMBOL_LEN, b->symbol, r->nsymbols + 1, r->max_symbols);
        return TB_EFULL;
    }
    for (size_t k = 0; k < r->ntf; k++) {
        int64_t len = r->tf[k];
        fmt_len(len, l1, sizeof(l1));
        fmt_len(base, l2, sizeof(l2));
        if (len < base) {
            snprintf(err, errlen,
                     "timeframe %s is shorter than the %.*s data's %s bars: pick a timeframe of "
                     "at least %s (one of: %s)",
                     l1, TB_SYMBOL_LEN, b->symbol, l2, l2, TB_TIMEFRAME_NAMES);
            return TB_EINVAL;
        }
        if (len % base != 0) {
            snprintf(err, errlen,
                     "timeframe %s is not a multiple of the %.*s data's %s bars: pick one that "
                     "is (one of: %s)",
                     l1, TB_SYMBOL_LEN, b->symbol, l2, TB_TIMEFRAME_NAMES);
            return TB_EINVAL;
        }
        int64_t p = period_start(b->open_time, len);
        if (b->close_time > p + len - NS_MS) {
            fmt_time(b->open_time, t, sizeof(t));
            snprintf(err, errlen,
                     "%.*s bar at %s ends after its %s period: bars must start on multiples of "
                     "their length (UTC) to be resampled; fix the data",
                     TB_SYMBOL_LEN, b->symbol, t, l1);
            return TB_EDATA;
        }
        sums[k] = b->volume;
        if (si < 0) continue;
        const building *bd = &r->builds[(size_t)si * r->ntf + k];
        if (bd->active && bd->bar.open_time == p &&
            tb_dec_add(bd->bar.volume, b->volume, &sums[k]) != 0) {
            fmt_time(p, t, sizeof(t));
            snprintf(err, errlen,
                     "%.*s %s bar at %s: volume sum overflows a decimal; the data's volumes "
                     "are too large to add up",
                     TB_SYMBOL_LEN, b->symbol, l1, t);
            return TB_EOVERFLOW;
        }
    }
    return 0;
}

/* Stable insertion sort by close_time: at most 24 bars, usually 0 or 1. */
static void sort_out(tb_resampled *out, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        tb_resampled x = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1].bar.close_time > x.bar.close_time) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
}

int tb_resampler_push(tb_resampler *r, const tb_market_data *b, tb_resampled *out, size_t cap,
                      size_t *nout, char *err, size_t errlen)
{
    tb_decimal sums[TB_RESAMPLE_MAX_TIMEFRAMES];
    *nout = 0;
    if (cap < TB_RESAMPLE_MAX_OUT(r->ntf)) {
        snprintf(err, errlen, "resampler: output has room for %zu bars, give %zu (2 a timeframe)",
                 cap, TB_RESAMPLE_MAX_OUT(r->ntf));
        return TB_EINVAL;
    }
    long si = find_symbol(r, b->symbol);
    int rc = check_bar(r, si, b, sums, err, errlen);
    if (rc) return rc;
    if (si < 0) {
        si = (long)r->nsymbols++;
        sym_state *s = &r->syms[si];
        memcpy(s->symbol, b->symbol, TB_SYMBOL_LEN);
        s->base_ns = b->close_time - b->open_time + NS_MS;
    }
    r->syms[si].last_close = b->close_time;
    size_t n = 0;
    for (size_t k = 0; k < r->ntf; k++) {
        int64_t len = r->tf[k];
        int64_t p = period_start(b->open_time, len);
        building *bd = &r->builds[(size_t)si * r->ntf + k];
        if (bd->active && bd->bar.open_time != p) {
            /* A gap: a later period has begun, so this one is over even
             * though the bar that would have ended it never came. */
            out[n].timeframe = k;
            out[n++].bar = bd->bar;
            bd->active = 0;
        }
        if (!bd->active) {
            bd->active = 1;
            bd->bar = *b;
            bd->bar.open_time = p;
            bd->bar.close_time = p + len - NS_MS;
        } else {
            if (b->high > bd->bar.high) bd->bar.high = b->high;
            if (b->low < bd->bar.low) bd->bar.low = b->low;
            bd->bar.close = b->close;
            bd->bar.volume = sums[k];
        }
        if (b->close_time == bd->bar.close_time) {
            out[n].timeframe = k;
            out[n++].bar = bd->bar;
            bd->active = 0;
        }
    }
    sort_out(out, n);
    *nout = n;
    return 0;
}
