/* End to end: strategies on several symbols and several timeframes, run as
 * a user runs them. examples/pairs.ini trades both its symbols with
 * positions per (strategy, symbol); a script with timeframes = 1m 15m 1h
 * fails (and so stops) if it ever sees a higher bar before the base bar
 * that closes it; a random long-only strategy ordering either of its two
 * symbols (often from the other's bar) on generated data never goes short
 * on any, and each symbol's position is the sum of its fills. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/decimal.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    if (tbt_sh(dir, "ln -s '%s/examples' examples && ln -s '%s/data' data", TB_SOURCE_DIR,
               TB_SOURCE_DIR))
        return -1;
    if (tbt_sh(dir,
               "'%s' --bars 4000 --seed 7 --price 100 --decimals 2 --regime random > a.csv "
               "2>/dev/null",
               TB_GENDATA))
        return -1;
    if (tbt_sh(
            dir,
            "'%s' --bars 4000 --seed 8 --price 50 --decimals 2 --regime mixed > b.csv 2>/dev/null",
            TB_GENDATA))
        return -1;
    return tbt_sh(dir,
                  "'%s' --bars 3000 --seed 9 --price 70 --decimals 2 --gap-every 37 > gap.csv "
                  "2>/dev/null",
                  TB_GENDATA);
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* Per symbol of strategy sid in fills.csv under out: the signed sum of the
 * fills (in the order of the file), the lowest running sum, the count. */
typedef struct {
    char symbol[16];
    tb_decimal sum, low;
    int n;
} leg_sum;

static size_t sum_fills(const char *out, const char *sid, leg_sum *legs, size_t cap)
{
    char name[256];
    snprintf(name, sizeof name, "%s/fills.csv", out);
    char *csv = tbt_read_in(dir, name);
    assert_non_null(csv);
    size_t n = 0;
    char *save = NULL;
    strtok_r(csv, "\n", &save); /* the header */
    for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char f[8][64] = {{0}};
        if (sscanf(l, "%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,]", f[0], f[1], f[2],
                   f[3], f[4], f[5], f[6]) != 7)
            fail_msg("unexpected fills.csv line: %s", l);
        if (strcmp(f[1], sid) != 0) continue;
        size_t k = 0;
        while (k < n && strcmp(legs[k].symbol, f[2]) != 0)
            k++;
        if (k == n) {
            assert_true(n < cap);
            memset(&legs[n], 0, sizeof(legs[n]));
            snprintf(legs[n].symbol, sizeof legs[n].symbol, "%.15s", f[2]);
            n++;
        }
        tb_decimal q;
        assert_int_equal(tb_dec_parse(f[6], strlen(f[6]), &q), 0);
        legs[k].sum += strcmp(f[3], "BUY") == 0 ? q : -q;
        if (legs[k].sum < legs[k].low) legs[k].low = legs[k].sum;
        legs[k].n++;
    }
    free(csv);
    return n;
}

/* The quantity summary.json under out gives (strategy sid, symbol). */
static tb_decimal summary_position(const char *out, const char *sid, const char *symbol)
{
    char name[256], key[128];
    snprintf(name, sizeof name, "%s/summary.json", out);
    char *js = tbt_read_in(dir, name);
    assert_non_null(js);
    snprintf(key, sizeof key, "{\"strategy_id\": \"%s\", \"symbol\": \"%s\", \"quantity\": \"", sid,
             symbol);
    char *at = strstr(js, key);
    if (!at) fail_msg("%s: no position for (%s, %s)", name, sid, symbol);
    at += strlen(key);
    tb_decimal q;
    assert_int_equal(tb_dec_parse(at, strcspn(at, "\""), &q), 0);
    free(js);
    return q;
}

static void test_pairs_example_fills_both_symbols_positions_per_pair(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config examples/pairs.ini --out pairs_o"),
                     0);
    if (err && strstr(err, "tradebus: strategy")) fail_msg("the strategy failed: %s", err);
    free(err);
    leg_sum legs[4];
    size_t n = sum_fills("pairs_o", "pair", legs, 4);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(legs[i].n >= 10);
        assert_true(legs[i].low < 0); /* both legs go short too: allow_short */
        assert_true(legs[i].sum == summary_position("pairs_o", "pair", legs[i].symbol));
    }
    assert_true(strcmp(legs[0].symbol, legs[1].symbol) != 0);
}

static void test_mtf_example_runs_and_trades(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config examples/mtf.ini --out mtf_o"), 0);
    if (err && strstr(err, "tradebus: strategy")) fail_msg("the strategy failed: %s", err);
    free(err);
    leg_sum legs[2];
    assert_int_equal(sum_fills("mtf_o", "mtf", legs, 2), 1);
    assert_true(legs[0].n >= 4);
    assert_true(legs[0].low >= 0); /* long-only */
    assert_true(legs[0].sum == summary_position("mtf_o", "mtf", "BTCUSDT"));
}

/* Fails (stops the strategy, stderr says so) on a higher bar seen before
 * the base bar that closes it; with exact, the higher bar must close with
 * the base bar just seen (no gaps in the data). Toggles a position on each
 * 15m bar, so its fills show it saw them. */
static const char *const tf_check_lua =
    "params = {exact = {default = true}}\n"
    "local p, last_base\n"
    "function init(params) p = params end\n"
    "function on_bar(bar, ctx)\n"
    "  if bar.timeframe == '1m' then\n"
    "    if last_base and bar.time <= last_base then error('base bars out of order') end\n"
    "    last_base = bar.time\n"
    "    return\n"
    "  end\n"
    "  local span = ({['15m'] = 15, ['1h'] = 60})[bar.timeframe]\n"
    "  if not span then error('unexpected timeframe ' .. tostring(bar.timeframe)) end\n"
    "  if bar.time - bar.open_time ~= span * 60000 - 1 then error('bad period') end\n"
    "  if last_base == nil or bar.time > last_base then\n"
    "    error(bar.timeframe .. ' bar closing ' .. bar.time .. ' seen before its last base bar')\n"
    "  end\n"
    "  if p.exact and bar.time ~= last_base then error('higher bar late') end\n"
    "  if bar.timeframe == '15m' then\n"
    "    if ctx.position == 0 then buy(0.001) else sell(ctx.position) end\n"
    "  end\n"
    "end\n";

static void run_tf_check(const char *tag, const char *data, const char *exact, int min_fills)
{
    char cfg[1024], path[1024], ini[64], out[64];
    tbt_write_file(dir, "tf_check.lua", tf_check_lua, path, sizeof path);
    snprintf(cfg, sizeof cfg,
             "[backtest]\ndata = %s\ninitial_cash = 100000\n[exchange]\ntype = sim\n"
             "[strategy.tf]\ntype = lua\nscript = tf_check.lua\nsymbol = BTCUSDT\n"
             "timeframes = 1m 15m 1h\nexact = %s\n",
             data, exact);
    snprintf(ini, sizeof ini, "%s.ini", tag);
    snprintf(out, sizeof out, "%s_o", tag);
    tbt_write_file(dir, ini, cfg, path, sizeof path);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config %s --out %s", ini, out), 0);
    if (err && strstr(err, "tradebus: strategy")) fail_msg("the check failed: %s", err);
    free(err);
    leg_sum legs[2];
    assert_int_equal(sum_fills(out, "tf", legs, 2), 1);
    assert_true(legs[0].n >= min_fills);
    /* Every order was decided on a 15m bar: it fills at the open of the
     * next base bar, a quarter hour. */
    char name[128];
    snprintf(name, sizeof name, "%s/fills.csv", out);
    char *csv = tbt_read_in(dir, name), *save = NULL;
    assert_non_null(csv);
    strtok_r(csv, "\n", &save);
    for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int mm = -1, ss = -1; /* 2024-01-01T01:15:00.000Z */
        assert_int_equal(sscanf(l, "%*11c%*2d:%2d:%2d", &mm, &ss), 2);
        if (!data[0] || strcmp(exact, "true") == 0)
            if (mm % 15 != 0 || ss != 0) fail_msg("fill off a quarter hour: %s", l);
    }
    free(csv);
}

static void test_higher_bars_seen_only_after_their_last_base_bar(void **state)
{
    (void)state;
    /* 2880 1m bars: 192 quarter hours, all but the last one's order fill. */
    run_tf_check("tfb", "data/BTCUSDT-1m-2024-01.csv", "true", 190);
}

static void test_higher_bars_never_early_on_data_with_gaps(void **state)
{
    (void)state;
    /* A gap closes a period with the first bar after it: late, never early. */
    run_tf_check("tfg", "BTCUSDT:gap.csv", "false", 100);
}

/* Random and long-only, on either symbol, often the other one than the
 * bar's: sells at most what position(sym) says it holds. */
static const char *const random_long_lua =
    "params = {}\n"
    "local names, seen = {'AAAUSDT', 'BBBUSDT'}, {}\n"
    "function on_bar(bar, ctx)\n"
    "  seen[bar.symbol] = true\n"
    "  if bar.timeframe ~= '1m' then return end\n"
    "  local sym = names[math.random(2)]\n"
    "  if not seen[sym] then return end\n"
    "  local pos, r = position(sym), math.random()\n"
    "  if sym == bar.symbol and pos ~= ctx.position then error('position(sym) is not "
    "ctx.position') end\n"
    "  if r < 0.08 then buy(math.random(1, 4) * 0.25, sym)\n"
    "  elseif r < 0.14 and pos > 0 then sell(pos / 2, sym)\n"
    "  elseif r < 0.18 and pos > 0 then sell(pos, sym)\n"
    "  elseif r < 0.20 then target(pos > 0 and 0 or 1, sym) end\n"
    "end\n";

static void test_long_only_multi_symbol_never_short_positions_sum_fills_generated(void **state)
{
    (void)state;
    char cfg[1024], path[1024];
    tbt_write_file(dir, "rl.lua", random_long_lua, path, sizeof path);
    for (int seed = 1; seed <= 3; seed++) {
        snprintf(cfg, sizeof cfg,
                 "[backtest]\ndata = AAAUSDT:a.csv BBBUSDT:b.csv\ninitial_cash = 1000000\n"
                 "[exchange]\ntype = sim\nfee_bps = 10\n"
                 "[strategy.rl]\ntype = lua\nscript = rl.lua\nseed = %d\n"
                 "symbols = AAAUSDT BBBUSDT\ntimeframes = 1m 5m\n",
                 seed);
        tbt_write_file(dir, "rl.ini", cfg, path, sizeof path);
        char *err = NULL, out[32];
        snprintf(out, sizeof out, "rl_o%d", seed);
        assert_int_equal(tbt_run_cli(dir, &err, "backtest --config rl.ini --out %s", out), 0);
        if (err && strstr(err, "tradebus: strategy")) fail_msg("the strategy failed: %s", err);
        free(err);
        leg_sum legs[4];
        size_t n = sum_fills(out, "rl", legs, 4);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
            assert_true(legs[i].n >= 50);
            if (legs[i].low < 0) fail_msg("seed %d: %s went short", seed, legs[i].symbol);
            assert_true(legs[i].sum == summary_position(out, "rl", legs[i].symbol));
        }
    }
}

static void test_symbols_config_errors_name_the_key(void **state)
{
    (void)state;
    char cfg[1024], path[1024];
    snprintf(cfg, sizeof cfg,
             "[backtest]\ndata = data/BTCUSDT-1m-2024-01.csv\n[strategy.s]\ntype = sma_cross\n"
             "symbols = BTCUSDT XRPUSDT\n");
    tbt_write_file(dir, "e1.ini", cfg, path, sizeof path);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config e1.ini --out e1_o"), 2);
    assert_non_null(err);
    if (!strstr(err, "symbols: XRPUSDT is in no data file")) fail_msg("got: %s", err);
    free(err);
    snprintf(cfg, sizeof cfg,
             "[backtest]\ndata = data/BTCUSDT-1m-2024-01.csv\n[strategy.s]\ntype = sma_cross\n"
             "symbol = BTCUSDT\ntimeframes = 1h 15m\n");
    tbt_write_file(dir, "e2.ini", cfg, path, sizeof path);
    err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config e2.ini --out e2_o"), 2);
    assert_non_null(err);
    if (!strstr(err, "timeframes: list the timeframes shortest first")) fail_msg("got: %s", err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_example_fills_both_symbols_positions_per_pair),
        cmocka_unit_test(test_mtf_example_runs_and_trades),
        cmocka_unit_test(test_higher_bars_seen_only_after_their_last_base_bar),
        cmocka_unit_test(test_higher_bars_never_early_on_data_with_gaps),
        cmocka_unit_test(test_long_only_multi_symbol_never_short_positions_sum_fills_generated),
        cmocka_unit_test(test_symbols_config_errors_name_the_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
