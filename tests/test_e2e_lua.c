/* End to end: type = lua strategies run as a user runs them. The Lua
 * versions of the three built-ins (examples/strategies/) give the built-ins'
 * trades — `tradebus parity` against the built-in's pipeline log, and
 * byte-identical fills.csv and summary.json — on the bundled data with the
 * example's params and on generated data with a second set (shorts, other
 * windows, sized entries). Then the errors: a syntax error and a bad param
 * stop the run with exit 2, a runtime error stops only its strategy. */
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

static char dir[512];

static const char *const bundled = "[backtest]\n"
                                   "data = data/BTCUSDT-1m-2024-01.csv\n"
                                   "initial_cash = 10000\n"
                                   "[exchange]\n"
                                   "type = sim\n"
                                   "fee_bps = 10\n";

/* 3000 generated ETHUSDT bars (mixed regime), slippage on. */
static const char *const generated = "[backtest]\n"
                                     "data = ETHUSDT:gen.csv\n"
                                     "initial_cash = 50000\n"
                                     "[exchange]\n"
                                     "type = sim\n"
                                     "fee_bps = 7.5\n"
                                     "slippage_bps = 2\n";

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    if (tbt_sh(dir, "ln -s '%s/examples' examples && ln -s '%s/data' data", TB_SOURCE_DIR,
               TB_SOURCE_DIR))
        return -1;
    return tbt_sh(
        dir,
        "'%s' --bars 3000 --seed 16 --price 2345.67 --decimals 2 --regime mixed > gen.csv "
        "2>/dev/null",
        TB_GENDATA);
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static void write_config(const char *name, const char *base, const char *type_lines,
                         const char *symbol, const char *params)
{
    char cfg[4096], path[1024];
    snprintf(cfg, sizeof cfg, "%s[strategy.s]\n%ssymbol = %s\n%s", base, type_lines, symbol,
             params);
    tbt_write_file(dir, name, cfg, path, sizeof path);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void assert_same_file(const char *a, const char *b)
{
    char *x = tbt_read_in(dir, a), *y = tbt_read_in(dir, b);
    assert_non_null(x);
    assert_non_null(y);
    if (strcmp(x, y) != 0) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

/* The built-in `builtin` and examples/strategies/<builtin>.lua, same id and
 * params: parity IDENTICAL against the built-in's pipeline log, and the same
 * fills and summary, with at least min_fills fills (so the test can fail). */
static void lua_matches_builtin(const char *tag, const char *builtin, const char *base,
                                const char *symbol, const char *params, int min_fills,
                                int use_parity)
{
    char cname[64], lname[64], type_c[64], type_l[160];
    snprintf(cname, sizeof cname, "%s_c.ini", tag);
    snprintf(lname, sizeof lname, "%s_lua.ini", tag);
    snprintf(type_c, sizeof type_c, "type = %s\n", builtin);
    snprintf(type_l, sizeof type_l, "type = lua\nscript = examples/strategies/%s.lua\n", builtin);
    write_config(cname, base, type_c, symbol, params);
    write_config(lname, base, type_l, symbol, params);

    char *err = NULL;
    if (!use_parity) goto files; /* the legacy monolith has no sizing: files only */
    assert_int_equal(tbt_run_cli(dir, NULL, "parity --config %s --out %s_ref", cname, tag), 0);
    int code =
        tbt_run_cli(dir, &err, "parity --config %s --legacy-log %s_ref/pipeline.jsonl", lname, tag);
    char *out = tbt_read_in(dir, "stdout.txt");
    if (code != 0) fail_msg("parity exit %d: %s%s", code, out ? out : "", err ? err : "");
    assert_int_equal(strncmp(out, "IDENTICAL: ", 11), 0);
    free(out);
    free(err);
files:
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config %s --out %s_oc", cname, tag), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config %s --out %s_ol", lname, tag), 0);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s_oc/fills.csv", tag);
    snprintf(b, sizeof b, "%s_ol/fills.csv", tag);
    char *fills = tbt_read_in(dir, a);
    assert_non_null(fills);
    if (count_lines(fills) - 1 < min_fills)
        fail_msg("%s: only %d fills: the comparison proves little", tag, count_lines(fills) - 1);
    free(fills);
    assert_same_file(a, b);
    snprintf(a, sizeof a, "%s_oc/summary.json", tag);
    snprintf(b, sizeof b, "%s_ol/summary.json", tag);
    assert_same_file(a, b);
}

static void test_lua_sma_cross_matches_builtin_on_bundled_data(void **state)
{
    (void)state;
    lua_matches_builtin("sma1", "sma_cross", bundled, "BTCUSDT",
                        "fast = 10\nslow = 30\nquantity = 0.01\n", 10, 1);
}

static void test_lua_rsi_reversion_matches_builtin_on_bundled_data(void **state)
{
    (void)state;
    lua_matches_builtin("rsi1", "rsi_reversion", bundled, "BTCUSDT", "quantity = 0.01\n", 10, 1);
}

static void test_lua_bollinger_breakout_matches_builtin_on_bundled_data(void **state)
{
    (void)state;
    lua_matches_builtin("bb1", "bollinger_breakout", bundled, "BTCUSDT", "quantity = 0.01\n", 10,
                        1);
}

static void test_lua_sma_cross_matches_builtin_on_generated_data_short_and_sized(void **state)
{
    (void)state;
    lua_matches_builtin("sma2", "sma_cross", generated, "ETHUSDT",
                        "fast = 7\nslow = 45\nallow_short = true\nsize = 20\n", 10, 0);
}

static void test_lua_rsi_reversion_matches_builtin_on_generated_data_short(void **state)
{
    (void)state;
    lua_matches_builtin("rsi2", "rsi_reversion", generated, "ETHUSDT",
                        "period = 9\noversold = 25\noverbought = 72.5\nallow_short = yes\n"
                        "quantity = 0.125\n",
                        10, 1);
}

static void test_lua_bollinger_breakout_matches_builtin_on_generated_data_short(void **state)
{
    (void)state;
    lua_matches_builtin("bb2", "bollinger_breakout", generated, "ETHUSDT",
                        "period = 33\nk = 1.5\nallow_short = true\nquantity = 2.5\n", 10, 1);
}

static void test_lua_syntax_error_stops_run_with_file_line_exit_2(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "syn.lua", "function on_bar(bar, ctx)\n  if then\nend\n", path,
                   sizeof path);
    write_config("syn.ini", bundled, "type = lua\nscript = syn.lua\n", "BTCUSDT", "");
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config syn.ini --out syn_o"), 2);
    assert_non_null(strstr(err, "syn.ini:9: [strategy.s] script: syn.lua:2: "));
    free(err);
    char *fills = tbt_read_in(dir, "syn_o/fills.csv");
    assert_null(fills); /* stopped before the first bar */
}

static void test_lua_bad_param_is_config_error_with_origin_exit_2(void **state)
{
    (void)state;
    write_config("badp.ini", bundled, "type = lua\nscript = examples/strategies/sma_cross.lua\n",
                 "BTCUSDT", "fast = 0\n");
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config badp.ini --out badp_o"), 2);
    assert_non_null(strstr(err, "badp.ini:11: [strategy.s] fast: expected a number from 1 to "));
    free(err);
    write_config("unk.ini", bundled, "type = lua\nscript = examples/strategies/sma_cross.lua\n",
                 "BTCUSDT", "fats = 5\n");
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config unk.ini --out unk_o"), 2);
    assert_non_null(strstr(err, "unk.ini:11: [strategy.s] "));
    assert_non_null(strstr(err, "'fats'"));
    free(err);
}

/* A strategy whose on_bar raises on its 50th bar, listed before a working
 * sma_cross: the error names file:line, the bar's time and symbol; the run
 * goes on and sma_cross trades exactly as it does alone. */
static void test_lua_runtime_error_stops_only_that_strategy(void **state)
{
    (void)state;
    char path[1024], cfg[4096];
    tbt_write_file(dir, "boom.lua",
                   "local n = 0\nfunction on_bar(bar, ctx)\n  n = n + 1\n"
                   "  if n == 50 then error('boom') end\n  if n == 10 then buy(0.01) end\nend\n",
                   path, sizeof path);
    const char *sma = "[strategy.s]\ntype = sma_cross\nsymbol = BTCUSDT\nquantity = 0.01\n";
    snprintf(cfg, sizeof cfg,
             "%s[strategy.bad]\ntype = lua\nscript = boom.lua\nsymbol = BTCUSDT\n%s", bundled, sma);
    tbt_write_file(dir, "rt.ini", cfg, path, sizeof path);
    snprintf(cfg, sizeof cfg, "%s%s", bundled, sma);
    tbt_write_file(dir, "alone.ini", cfg, path, sizeof path);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config rt.ini --out rt_o"), 0);
    assert_non_null(strstr(err, "strategy bad: boom.lua:4: boom (on_bar, bar closing "
                                "2024-01-01T00:49:59.999Z BTCUSDT); this strategy stops"));
    free(err);
    /* The bar on_bar failed on is dead-lettered for the Signal Generator
     * (TB_EHANDLER is permanent: not retried); the run still exits 0. */
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    assert_non_null(strstr(out, "dead letters   1\n"));
    /* ...and a RiskAlert says the strategy stopped. */
    assert_non_null(strstr(out, "strategy_stopped 1"));
    free(out);
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config alone.ini --out alone_o"), 0);
    char *rt = tbt_read_in(dir, "rt_o/fills.csv"), *alone = tbt_read_in(dir, "alone_o/fills.csv");
    assert_non_null(rt);
    assert_non_null(alone);
    /* bad's one buy (bar 10) is in rt's fills, and it shifts the order and
     * event ids; s's fills are otherwise the same: time, strategy, symbol,
     * side, quantity, price, commission. */
    assert_int_equal(count_lines(rt), count_lines(alone) + 1);
    char *save = NULL;
    strtok_r(alone, "\n", &save); /* the header */
    for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char f[11][64] = {{0}};
        if (sscanf(l, "%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,],%63[^,]",
                   f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]) != 9)
            fail_msg("unexpected fills.csv line: %s", l);
        char head[320], tail[320];
        snprintf(head, sizeof head, "\n%s,%s,%s,%s,", f[0], f[1], f[2], f[3]);
        snprintf(tail, sizeof tail, ",%s,%s,%s,", f[6], f[7], f[8]);
        char *at = strstr(rt, head);
        if (!at || !strstr(at, tail) || strstr(at, tail) > strchr(at + 1, '\n'))
            fail_msg("missing from the run with the failing strategy: %s", l);
    }
    free(rt);
    free(alone);
}

/* examples/lua_dip.ini trades as its header says: LIMIT entries at the
 * script's price carrying stop and take-profit prices, its own cancels of
 * what did not fill, and exits by the bracket — and twice the same. */
static void test_dip_example_rests_limits_with_brackets_and_cancels_them(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config examples/lua_dip.ini --out dip_a"),
                     0);
    char *ev = tbt_read_in(dir, "dip_a/events.jsonl");
    assert_non_null(ev);
    const char *sig = strstr(ev, "\"signal_type\":\"BUY\"");
    assert_non_null(sig);
    assert_non_null(strstr(sig, "\"order_type\":\"LIMIT\""));
    assert_non_null(strstr(ev, "\"stop_loss\":\""));
    assert_non_null(strstr(ev, "\"take_profit\":\""));
    assert_non_null(strstr(ev, "\"signal_type\":\"CANCEL\""));
    assert_non_null(strstr(ev, "\"text\":\"canceled by strategy dip\",\"cause\":\"requested\""));
    free(ev);
    char *fills = tbt_read_in(dir, "dip_a/fills.csv");
    assert_non_null(fills);
    assert_non_null(strstr(fills, ",stop_loss\n"));
    assert_non_null(strstr(fills, ",take_profit\n"));
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config examples/lua_dip.ini --out dip_b"),
                     0);
    char *again = tbt_read_in(dir, "dip_b/fills.csv");
    assert_non_null(again);
    assert_string_equal(fills, again);
    free(fills);
    free(again);
}

/* `tradebus help SCRIPT.lua`: the script's own words and its params with
 * defaults and ranges; a missing script is an error naming it. */
static void test_help_of_a_script_shows_what_it_says_and_its_params(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "help examples/strategies/dip_limit.lua > help.txt"),
                     0);
    free(err);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    assert_non_null(strstr(out, "dip_limit: buy oversold dips with a resting LIMIT order"));
    assert_non_null(strstr(out, "patience = 10 (1..1000)"));
    assert_non_null(strstr(out, "oversold = 30 (1..50)"));
    free(out);
    assert_int_equal(tbt_run_cli(dir, &err, "help nosuch.lua"), 1);
    assert_non_null(strstr(err, "nosuch.lua: No such file"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dip_example_rests_limits_with_brackets_and_cancels_them),
        cmocka_unit_test(test_help_of_a_script_shows_what_it_says_and_its_params),
        cmocka_unit_test(test_lua_sma_cross_matches_builtin_on_bundled_data),
        cmocka_unit_test(test_lua_rsi_reversion_matches_builtin_on_bundled_data),
        cmocka_unit_test(test_lua_bollinger_breakout_matches_builtin_on_bundled_data),
        cmocka_unit_test(test_lua_sma_cross_matches_builtin_on_generated_data_short_and_sized),
        cmocka_unit_test(test_lua_rsi_reversion_matches_builtin_on_generated_data_short),
        cmocka_unit_test(test_lua_bollinger_breakout_matches_builtin_on_generated_data_short),
        cmocka_unit_test(test_lua_syntax_error_stops_run_with_file_line_exit_2),
        cmocka_unit_test(test_lua_bad_param_is_config_error_with_origin_exit_2),
        cmocka_unit_test(test_lua_runtime_error_stops_only_that_strategy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
