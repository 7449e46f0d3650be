/* Resampling into higher timeframes: hand-made examples with exact OHLCV,
 * gaps, delivery only once a period is over, UTC alignment, several symbols
 * and timeframes; then invariants over generated data (gendata). */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tradebus/decimal.h"
#include "tradebus/marketdata.h"
#include "tradebus/resample.h"

#define NS_MS  INT64_C(1000000)
#define NS_MIN (60 * INT64_C(1000000000))
#define NS_DAY (1440 * NS_MIN)
#define T0     (INT64_C(1704067200000) * NS_MS) /* 2024-01-01T00:00:00Z */
#define OUTCAP TB_RESAMPLE_MAX_OUT(TB_RESAMPLE_MAX_TIMEFRAMES)

static char err[1024];

static tb_decimal dec(const char *s)
{
    tb_decimal d;
    assert_int_equal(tb_dec_parse(s, (size_t)-1, &d), 0);
    return d;
}

/* A base bar of `len` ns opening at T0 + at (ns); prices in whole units. */
static tb_market_data bar_at(const char *sym, int64_t at, int64_t len, int64_t o, int64_t h,
                             int64_t l, int64_t c, const char *vol)
{
    tb_market_data b;
    memset(&b, 0, sizeof(b));
    snprintf(b.symbol, sizeof(b.symbol), "%s", sym);
    b.open = o * TB_DECIMAL_ONE;
    b.high = h * TB_DECIMAL_ONE;
    b.low = l * TB_DECIMAL_ONE;
    b.close = c * TB_DECIMAL_ONE;
    b.volume = dec(vol);
    b.open_time = T0 + at;
    b.close_time = T0 + at + len - NS_MS;
    return b;
}

/* The 1m bar of minute m: open 100+m, close 101+m, high 103+m, low 99+m,
 * except minute 7 (the high, 200) and minute 11 (the low, 50). */
static tb_market_data minute(const char *sym, int m)
{
    int64_t h = m == 7 ? 200 : 103 + m, l = m == 11 ? 50 : 99 + m;
    char vol[32];
    snprintf(vol, sizeof(vol), "0.%03d", m + 1); /* 0.001, 0.002, ... */
    return bar_at(sym, m * NS_MIN, NS_MIN, 100 + m, h, l, 101 + m, vol);
}

static tb_resampler *make(const char *const *names, size_t n, size_t nsym)
{
    int64_t tf[TB_RESAMPLE_MAX_TIMEFRAMES];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tb_timeframe_parse(names[i], &tf[i], err, sizeof(err)), 0);
    tb_resampler *r;
    assert_int_equal(tb_resampler_create(tf, n, nsym, &r, err, sizeof(err)), 0);
    return r;
}

static size_t push(tb_resampler *r, const tb_market_data *b, tb_resampled *out)
{
    size_t n = 99;
    int rc = tb_resampler_push(r, b, out, OUTCAP, &n, err, sizeof(err));
    if (rc) fail_msg("push failed: %s", err);
    return n;
}

static void test_timeframe_names_parse_and_others_are_refused_naming_the_allowed(void **state)
{
    (void)state;
    int64_t len;
    assert_int_equal(tb_timeframe_parse("15m", &len, err, sizeof(err)), 0);
    assert_true(len == 15 * NS_MIN);
    assert_int_equal(tb_timeframe_parse("1d", &len, err, sizeof(err)), 0);
    assert_true(len == NS_DAY);
    assert_int_equal(tb_timeframe_parse("4h", &len, err, sizeof(err)), 0);
    assert_true(len == 240 * NS_MIN);
    assert_string_equal(tb_timeframe_name(12 * 60 * NS_MIN), "12h");
    assert_null(tb_timeframe_name(2 * NS_MIN));
    const char *bad[] = {"2m", "1H", "", "15", "1w"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tb_timeframe_parse(bad[i], &len, err, sizeof(err)), TB_EINVAL);
        char quoted[16];
        snprintf(quoted, sizeof(quoted), "'%s'", bad[i]);
        assert_non_null(strstr(err, quoted));
        assert_non_null(strstr(err, TB_TIMEFRAME_NAMES));
    }
}

static void test_fifteen_1m_bars_make_a_15m_bar_with_exact_ohlcv(void **state)
{
    (void)state;
    const char *tf[] = {"15m"};
    tb_resampler *r = make(tf, 1, 1);
    tb_resampled out[OUTCAP];
    for (int m = 0; m < 14; m++) {
        tb_market_data b = minute("BTCUSDT", m);
        assert_int_equal(push(r, &b, out), 0);
    }
    tb_market_data last = minute("BTCUSDT", 14);
    assert_int_equal(push(r, &last, out), 1);
    const tb_market_data *x = &out[0].bar;
    assert_int_equal(out[0].timeframe, 0);
    assert_string_equal(x->symbol, "BTCUSDT");
    assert_true(x->open == 100 * TB_DECIMAL_ONE);
    assert_true(x->close == 115 * TB_DECIMAL_ONE);
    assert_true(x->high == 200 * TB_DECIMAL_ONE);
    assert_true(x->low == 50 * TB_DECIMAL_ONE);
    assert_true(x->volume == dec("0.12")); /* 0.001 + ... + 0.015 = 120/1000 */
    assert_true(x->open_time == T0);
    assert_true(x->close_time == T0 + 15 * NS_MIN - NS_MS);
    tb_resampler_destroy(r);
}

static void test_a_bar_is_never_delivered_before_its_period_closes(void **state)
{
    (void)state;
    const char *tf[] = {"15m", "1h"};
    tb_resampler *r = make(tf, 2, 1);
    tb_resampled out[OUTCAP];
    for (int m = 0; m < 60; m++) {
        tb_market_data b = minute("BTCUSDT", m);
        size_t n = push(r, &b, out);
        /* 14:59.999, 29:59.999, ...: only the bar that ends a period
         * delivers it; the hour comes with the last quarter, after it. */
        assert_int_equal(n, (m + 1) % 15 == 0 ? ((m + 1) % 60 == 0 ? 2 : 1) : 0);
        for (size_t i = 0; i < n; i++)
            assert_true(out[i].bar.close_time <= b.close_time);
        if (m == 59) {
            assert_int_equal(out[0].timeframe, 0);
            assert_int_equal(out[1].timeframe, 1);
            assert_true(out[1].bar.open_time == T0);
            assert_true(out[1].bar.high == 200 * TB_DECIMAL_ONE);
            assert_true(out[1].bar.close == 160 * TB_DECIMAL_ONE);
        }
    }
    tb_resampler_destroy(r);
}

static void test_the_partial_period_at_the_end_of_the_data_is_dropped(void **state)
{
    (void)state;
    const char *tf[] = {"15m"};
    tb_resampler *r = make(tf, 1, 1);
    tb_resampled out[OUTCAP];
    size_t total = 0;
    for (int m = 0; m < 29; m++) { /* the second quarter lacks its last minute */
        tb_market_data b = minute("BTCUSDT", m);
        total += push(r, &b, out);
    }
    assert_int_equal(total, 1);
    tb_resampler_destroy(r); /* nothing else ever comes out */
}

static void test_a_gap_delivers_the_period_when_a_later_period_begins(void **state)
{
    (void)state;
    const char *tf[] = {"15m"};
    tb_resampler *r = make(tf, 1, 1);
    tb_resampled out[OUTCAP];
    for (int m = 0; m < 10; m++) { /* 00:00 .. 00:09, then nothing until 00:20 */
        tb_market_data b = minute("BTCUSDT", m);
        assert_int_equal(push(r, &b, out), 0);
    }
    tb_market_data late = minute("BTCUSDT", 20);
    assert_int_equal(push(r, &late, out), 1);
    assert_true(out[0].bar.open_time == T0);
    assert_true(out[0].bar.close_time == T0 + 15 * NS_MIN - NS_MS);
    assert_true(out[0].bar.close == 110 * TB_DECIMAL_ONE);
    assert_true(out[0].bar.volume == dec("0.055"));
    /* A hole inside a period (00:21-00:25 missing): the period's own last
     * minute still closes it, with only the bars there are. */
    tb_market_data b = minute("BTCUSDT", 26);
    assert_int_equal(push(r, &b, out), 0);
    for (int m = 27; m < 30; m++) {
        b = minute("BTCUSDT", m);
        assert_int_equal(push(r, &b, out), m == 29 ? 1 : 0);
    }
    assert_true(out[0].bar.open_time == T0 + 15 * NS_MIN);
    assert_true(out[0].bar.open == 120 * TB_DECIMAL_ONE);
    assert_true(out[0].bar.close == 130 * TB_DECIMAL_ONE);
    assert_true(out[0].bar.volume == dec("0.135")); /* 21 + 27 + 28 + 29 + 30 thousandths */
    tb_resampler_destroy(r);
}

static void test_1d_bars_align_to_utc_midnight(void **state)
{
    (void)state;
    const char *tf[] = {"1d"};
    tb_resampler *r = make(tf, 1, 1);
    tb_resampled out[OUTCAP];
    int64_t hour = 60 * NS_MIN;
    int delivered = 0;
    /* 1h bars from 2024-01-01 20:00 to 2024-01-03 02:00 UTC. */
    for (int h = 20; h <= 50; h++) {
        tb_market_data b = bar_at("ETHUSDT", h * hour, hour, 10 + h, 11 + h, 9 + h, 10 + h, "1");
        size_t n = push(r, &b, out);
        if (h == 23 || h == 47) {
            assert_int_equal(n, 1);
            int64_t day = h == 23 ? T0 : T0 + NS_DAY;
            assert_true(out[0].bar.open_time == day);
            assert_true(out[0].bar.open_time % NS_DAY == 0);
            assert_true(out[0].bar.close_time == day + NS_DAY - NS_MS);
            assert_true(out[0].bar.volume == (h == 23 ? 4 : 24) * TB_DECIMAL_ONE);
            assert_true(out[0].bar.open == (h == 23 ? 30 : 34) * TB_DECIMAL_ONE);
            delivered++;
        } else {
            assert_int_equal(n, 0);
        }
    }
    assert_int_equal(delivered, 2);
    tb_resampler_destroy(r);
}

static void test_several_symbols_interleaved_keep_their_own_bars(void **state)
{
    (void)state;
    const char *tf[] = {"5m"};
    tb_resampler *r = make(tf, 1, 2);
    tb_resampled out[OUTCAP];
    int got = 0;
    for (int m = 0; m < 10; m++) {
        tb_market_data a = minute("BTCUSDT", m);
        tb_market_data e = bar_at("ETHUSDT", m * NS_MIN, NS_MIN, 5, 6 + m, 4, 5, "2");
        size_t n = push(r, &a, out);
        if (n) {
            assert_string_equal(out[0].bar.symbol, "BTCUSDT");
            assert_true(out[0].bar.open == (m == 4 ? 100 : 105) * TB_DECIMAL_ONE);
            assert_true(out[0].bar.volume == dec(m == 4 ? "0.015" : "0.040"));
            got++;
        }
        n = push(r, &e, out);
        if (n) {
            assert_string_equal(out[0].bar.symbol, "ETHUSDT");
            assert_true(out[0].bar.high == (m == 4 ? 10 : 15) * TB_DECIMAL_ONE);
            assert_true(out[0].bar.volume == 10 * TB_DECIMAL_ONE);
            got++;
        }
    }
    assert_int_equal(got, 4);
    /* A third symbol has no room. */
    tb_market_data x = minute("SOLUSDT", 10);
    size_t n;
    assert_int_equal(tb_resampler_push(r, &x, out, OUTCAP, &n, err, sizeof(err)), TB_EFULL);
    assert_non_null(strstr(err, "SOLUSDT"));
    tb_resampler_destroy(r);
}

static void test_a_timeframe_below_or_not_a_multiple_of_the_data_is_refused(void **state)
{
    (void)state;
    const char *low[] = {"1m"};
    tb_resampler *r = make(low, 1, 1);
    tb_resampled out[OUTCAP];
    size_t n;
    tb_market_data b = bar_at("BTCUSDT", 0, 5 * NS_MIN, 1, 1, 1, 1, "1");
    assert_int_equal(tb_resampler_push(r, &b, out, OUTCAP, &n, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "timeframe 1m is shorter than the BTCUSDT data's 5m bars"));
    tb_resampler_destroy(r);

    const char *odd[] = {"5m"};
    r = make(odd, 1, 1);
    b = bar_at("BTCUSDT", 0, 3 * NS_MIN, 1, 1, 1, 1, "1");
    assert_int_equal(tb_resampler_push(r, &b, out, OUTCAP, &n, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "timeframe 5m is not a multiple of the BTCUSDT data's 3m bars"));
    tb_resampler_destroy(r);
}

static void test_bad_bars_are_refused_and_change_nothing(void **state)
{
    (void)state;
    const char *tf[] = {"5m"};
    tb_resampler *r = make(tf, 1, 1);
    tb_resampled out[OUTCAP];
    size_t n;
    for (int m = 0; m < 3; m++) {
        tb_market_data b = minute("BTCUSDT", m);
        assert_int_equal(push(r, &b, out), 0);
    }
    tb_market_data back = minute("BTCUSDT", 1);
    assert_int_equal(tb_resampler_push(r, &back, out, OUTCAP, &n, err, sizeof(err)), TB_EDATA);
    assert_non_null(strstr(err, "not after the previous bar"));
    /* Misaligned: a 1m bar opening at 00:04:30 crosses into 00:05. */
    tb_market_data mis = minute("BTCUSDT", 4);
    mis.open_time += 30 * 1000 * NS_MS;
    mis.close_time += 30 * 1000 * NS_MS;
    assert_int_equal(tb_resampler_push(r, &mis, out, OUTCAP, &n, err, sizeof(err)), TB_EDATA);
    assert_non_null(strstr(err, "ends after its 5m period"));
    /* A volume sum out of range. */
    tb_market_data huge = minute("BTCUSDT", 3);
    huge.volume = TB_DECIMAL_MAX;
    assert_int_equal(tb_resampler_push(r, &huge, out, OUTCAP, &n, err, sizeof(err)), TB_EOVERFLOW);
    assert_non_null(strstr(err, "volume sum overflows"));
    /* Too small an output. */
    tb_market_data b3 = minute("BTCUSDT", 3);
    assert_int_equal(tb_resampler_push(r, &b3, out, 1, &n, err, sizeof(err)), TB_EINVAL);
    /* None of it counted: the bar is the five good minutes. */
    assert_int_equal(push(r, &b3, out), 0);
    tb_market_data b4 = minute("BTCUSDT", 4);
    assert_int_equal(push(r, &b4, out), 1);
    assert_true(out[0].bar.volume == dec("0.015"));
    assert_true(out[0].bar.close == 105 * TB_DECIMAL_ONE);
    tb_resampler_destroy(r);
}

static void test_create_refuses_bad_arguments(void **state)
{
    (void)state;
    tb_resampler *r;
    int64_t tf[] = {7 * NS_MIN};
    assert_int_equal(tb_resampler_create(tf, 1, 1, &r, err, sizeof(err)), TB_EINVAL);
    assert_null(r);
    assert_int_equal(tb_resampler_create(tf, 0, 1, &r, err, sizeof(err)), TB_EINVAL);
}

/* ---- invariants over generated data ---- */

typedef struct {
    tb_market_data *bars;
    size_t n;
} series;

static series generate(const char *args, size_t skip)
{
    char dir[] = "/tmp/tb_rs_XXXXXX", path[256], cmd[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/GEN-x.csv", dir);
    snprintf(cmd, sizeof(cmd), "%s %s > %s 2>/dev/null", TB_GENDATA, args, path);
    assert_int_equal(system(cmd), 0);
    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_reader *rd;
    assert_int_equal(tb_md_reader_open(path, &mc, &rd, err, sizeof(err)), 0);
    series s = {NULL, 0};
    size_t cap = 0;
    tb_market_data b;
    int rc;
    for (size_t i = 0; (rc = tb_md_reader_next(rd, &b, err, sizeof(err))) == 0; i++) {
        if (i < skip) continue; /* start inside a period */
        if (s.n == cap) {
            cap = cap ? 2 * cap : 1024;
            s.bars = realloc(s.bars, cap * sizeof(*s.bars));
            assert_non_null(s.bars);
        }
        s.bars[s.n++] = b;
    }
    assert_int_equal(rc, TB_EEOF);
    tb_md_reader_close(rd);
    unlink(path);
    rmdir(dir);
    return s;
}

static int64_t pstart(int64_t t, int64_t len)
{
    return t / len * len; /* generated times are after 1970 */
}

/* Runs the resampler over s for the timeframes and checks every delivered
 * bar against the base bars it covers; appends the bars of timeframe
 * `keep` to *kept if kept is not NULL. */
static void check_invariants(const series *s, const char *const *names, size_t ntf, size_t keep,
                             series *kept)
{
    int64_t len[TB_RESAMPLE_MAX_TIMEFRAMES];
    for (size_t k = 0; k < ntf; k++)
        assert_int_equal(tb_timeframe_parse(names[k], &len[k], err, sizeof(err)), 0);
    tb_resampler *r = make(names, ntf, 1);
    tb_resampled out[OUTCAP];
    size_t covered[TB_RESAMPLE_MAX_TIMEFRAMES] = {0};
    size_t kcap = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t n = push(r, &s->bars[i], out);
        for (size_t d = 0; d < n; d++) {
            const tb_market_data *x = &out[d].bar;
            size_t k = out[d].timeframe;
            if (d) assert_true(out[d - 1].bar.close_time <= x->close_time);
            assert_true(x->high >= (x->open > x->close ? x->open : x->close));
            assert_true(x->low <= (x->open < x->close ? x->open : x->close));
            assert_true(x->open_time % len[k] == 0);
            assert_true(x->close_time == x->open_time + len[k] - NS_MS);
            /* Delivered only once over: the bar that delivers it ends at
             * or after the period's close. */
            assert_true(s->bars[i].close_time >= x->close_time);
            /* Its base bars: the run ending at or just before i. */
            size_t j = i + 1, cnt = 0;
            while (j > 0 && pstart(s->bars[j - 1].open_time, len[k]) > x->open_time)
                j--;
            tb_decimal vol = 0, hi = INT64_MIN, lo = INT64_MAX;
            size_t last = j;
            while (j > 0 && pstart(s->bars[j - 1].open_time, len[k]) == x->open_time) {
                const tb_market_data *b = &s->bars[--j];
                assert_true(b->open_time >= x->open_time && b->close_time <= x->close_time);
                assert_int_equal(tb_dec_add(vol, b->volume, &vol), 0);
                if (b->high > hi) hi = b->high;
                if (b->low < lo) lo = b->low;
                cnt++;
            }
            assert_true(cnt > 0);
            assert_true(vol == x->volume);
            assert_true(hi == x->high && lo == x->low);
            assert_true(s->bars[j].open == x->open && s->bars[last - 1].close == x->close);
            assert_true(last - 1 <= i);
            covered[k] += cnt;
            if (kept && k == keep) {
                if (kept->n == kcap) {
                    kcap = kcap ? 2 * kcap : 256;
                    kept->bars = realloc(kept->bars, kcap * sizeof(*kept->bars));
                    assert_non_null(kept->bars);
                }
                kept->bars[kept->n++] = *x;
            }
        }
    }
    /* Every base bar is in a delivered bar but those of the last, unfinished
     * period (unless the data ends on its close). */
    for (size_t k = 0; k < ntf; k++) {
        const tb_market_data *end = &s->bars[s->n - 1];
        int64_t p = pstart(end->open_time, len[k]);
        size_t tail = 0;
        if (end->close_time != p + len[k] - NS_MS)
            for (size_t j = s->n; j > 0 && pstart(s->bars[j - 1].open_time, len[k]) == p; j--)
                tail++;
        assert_int_equal(covered[k] + tail, s->n);
    }
    tb_resampler_destroy(r);
}

static const char *const gen_sets[][2] = {
    {"--bars 6000 --seed 3 --price 42000", "0"},
    {"--bars 6000 --seed 4 --price 2300 --gap-every 97 --zero-volume-every 13", "7"},
    {"--bars 3000 --seed 5 --price 17 --interval 300 --gap-every 41 --regime trend", "2"},
};

static void test_invariants_hold_over_generated_data_for_several_timeframes(void **state)
{
    (void)state;
    static const char *const minute_tfs[] = {"1m", "3m", "5m", "15m", "30m", "1h",
                                             "2h", "4h", "6h", "8h",  "12h", "1d"};
    static const char *const five_tfs[] = {"5m", "15m", "1h", "4h", "1d"};
    for (size_t g = 0; g < sizeof(gen_sets) / sizeof(gen_sets[0]); g++) {
        series s = generate(gen_sets[g][0], (size_t)atoi(gen_sets[g][1]));
        if (strstr(gen_sets[g][0], "--interval 300"))
            check_invariants(&s, five_tfs, 5, 0, NULL);
        else
            check_invariants(&s, minute_tfs, 12, 0, NULL);
        free(s.bars);
    }
}

static void test_1m_to_5m_to_15m_equals_1m_to_15m(void **state)
{
    (void)state;
    const char *const f5[] = {"5m"}, *const f15[] = {"15m"};
    for (size_t g = 0; g < 2; g++) {
        series s = generate(gen_sets[g][0], (size_t)atoi(gen_sets[g][1]));
        series five = {NULL, 0}, direct = {NULL, 0}, chained = {NULL, 0};
        check_invariants(&s, f5, 1, 0, &five);
        check_invariants(&s, f15, 1, 0, &direct);
        check_invariants(&five, f15, 1, 0, &chained);
        assert_true(direct.n > 100);
        assert_int_equal(chained.n, direct.n);
        for (size_t i = 0; i < direct.n; i++) {
            const tb_market_data *a = &direct.bars[i], *b = &chained.bars[i];
            assert_string_equal(a->symbol, b->symbol);
            assert_true(a->open == b->open && a->high == b->high && a->low == b->low);
            assert_true(a->close == b->close && a->volume == b->volume);
            assert_true(a->open_time == b->open_time && a->close_time == b->close_time);
        }
        free(s.bars);
        free(five.bars);
        free(direct.bars);
        free(chained.bars);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeframe_names_parse_and_others_are_refused_naming_the_allowed),
        cmocka_unit_test(test_fifteen_1m_bars_make_a_15m_bar_with_exact_ohlcv),
        cmocka_unit_test(test_a_bar_is_never_delivered_before_its_period_closes),
        cmocka_unit_test(test_the_partial_period_at_the_end_of_the_data_is_dropped),
        cmocka_unit_test(test_a_gap_delivers_the_period_when_a_later_period_begins),
        cmocka_unit_test(test_1d_bars_align_to_utc_midnight),
        cmocka_unit_test(test_several_symbols_interleaved_keep_their_own_bars),
        cmocka_unit_test(test_a_timeframe_below_or_not_a_multiple_of_the_data_is_refused),
        cmocka_unit_test(test_bad_bars_are_refused_and_change_nothing),
        cmocka_unit_test(test_create_refuses_bad_arguments),
        cmocka_unit_test(test_invariants_hold_over_generated_data_for_several_timeframes),
        cmocka_unit_test(test_1m_to_5m_to_15m_equals_1m_to_15m),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
