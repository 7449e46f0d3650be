/* End to end: type = legacy-lua, an old-style on_bar(state, bar) -> trade
 * written in Lua, run on the pipeline. examples/legacy/momentum.lua mirrors
 * the C legacy strategy legacy_breakout line for line, so the reference is
 * that strategy through the C adapter (type = legacy:legacy_breakout): its
 * pipeline log, checked IDENTICAL to the monolith's by `parity --out`, must
 * be IDENTICAL to the Lua script's run, fills.csv byte for byte — on the
 * bundled data, on generated data with other params, and with cash short
 * enough that orders are rejected (the host's state.position must drop
 * them as the C adapter's tb_legacy_view does). */
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
    return tbt_sh(dir,
                  "ln -s '%s/examples' examples && ln -s '%s/data' data && '%s' --bars 3000 "
                  "--seed 16 --price 2345.67 --decimals 2 --regime mixed > gen.csv 2>/dev/null",
                  TB_SOURCE_DIR, TB_SOURCE_DIR, TB_GENDATA);
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

/* legacy:legacy_breakout and examples/legacy/momentum.lua with the same id
 * and params: IDENTICAL, at least min_fills fills; returns the reference's
 * pipeline log for more checks (free it). */
static char *lua_matches_c_legacy(const char *tag, const char *base, const char *symbol,
                                  const char *params, int min_fills)
{
    char cname[64], lname[64];
    snprintf(cname, sizeof cname, "%s_c.ini", tag);
    snprintf(lname, sizeof lname, "%s_lua.ini", tag);
    write_config(cname, base, "type = legacy:legacy_breakout\n", symbol, params);
    write_config(lname, base, "type = legacy-lua\nscript = examples/legacy/momentum.lua\n", symbol,
                 params);
    char *err = NULL;
    /* The reference: the C strategy on the pipeline, itself IDENTICAL to the
     * monolith. */
    int code = tbt_run_cli(dir, &err, "parity --config %s --out %s_ref", cname, tag);
    char *out = tbt_read_in(dir, "stdout.txt");
    if (code != 0) fail_msg("reference parity exit %d: %s%s", code, out ? out : "", err ? err : "");
    free(out);
    free(err);
    code =
        tbt_run_cli(dir, &err, "parity --config %s --legacy-log %s_ref/pipeline.jsonl", lname, tag);
    out = tbt_read_in(dir, "stdout.txt");
    if (code != 0) fail_msg("parity exit %d: %s%s", code, out ? out : "", err ? err : "");
    assert_int_equal(strncmp(out, "IDENTICAL: ", 11), 0);
    free(out);
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config %s --out %s_oc", cname, tag), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config %s --out %s_ol", lname, tag), 0);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s_oc/fills.csv", tag);
    snprintf(b, sizeof b, "%s_ol/fills.csv", tag);
    char *x = tbt_read_in(dir, a), *y = tbt_read_in(dir, b);
    assert_non_null(x);
    assert_non_null(y);
    if (count_lines(x) - 1 < min_fills)
        fail_msg("%s: only %d fills: the comparison proves little", tag, count_lines(x) - 1);
    if (strcmp(x, y) != 0) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
    snprintf(a, sizeof a, "%s_ref/pipeline.jsonl", tag);
    char *log = tbt_read_in(dir, a);
    assert_non_null(log);
    return log;
}

static void test_legacy_lua_matches_c_legacy_on_bundled_data(void **state)
{
    (void)state;
    free(lua_matches_c_legacy("b1", bundled, "BTCUSDT", "period = 20\nquantity = 0.01\n", 10));
}

static void test_legacy_lua_matches_c_legacy_on_generated_data(void **state)
{
    (void)state;
    free(lua_matches_c_legacy("g1", generated, "ETHUSDT", "period = 7\nquantity = 0.125\n", 10));
}

/* Cash for about one position at a time and a quantity that a loss makes
 * unaffordable: some buys are rejected. A script that believed its own
 * `state.position + trade` would then sell a long it does not have. */
static void test_legacy_lua_position_drops_rejected_orders(void **state)
{
    (void)state;
    const char *tight = "[backtest]\n"
                        "data = ETHUSDT:gen.csv\n"
                        "initial_cash = 2400\n"
                        "[exchange]\n"
                        "type = sim\n"
                        "fee_bps = 10\n";
    char *log = lua_matches_c_legacy("r1", tight, "ETHUSDT", "period = 5\nquantity = 1\n", 2);
    /* The trade log has no rejection record: an order without its fill is one. */
    int orders = 0, fills = 0;
    for (const char *at = log; (at = strstr(at, "\"kind\":\"order\"")); at++)
        orders++;
    for (const char *at = log; (at = strstr(at, "\"kind\":\"fill\"")); at++)
        fills++;
    if (fills == 0 || orders <= fills)
        fail_msg("%d orders, %d fills: none rejected, the test proves nothing", orders, fills);
    free(log);
}

static void test_legacy_lua_bad_return_stops_only_that_strategy(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "str.lua", "function on_bar(state, bar)\n  return 'buy'\nend\n", path,
                   sizeof path);
    write_config("str.ini", bundled, "type = legacy-lua\nscript = str.lua\n", "BTCUSDT", "");
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config str.ini --out str_o"), 0);
    assert_non_null(strstr(err, "strategy s: on_bar(state, bar) must return a number"));
    free(err);
}

static void test_legacy_lua_undeclared_param_is_config_error_exit_2(void **state)
{
    (void)state;
    write_config("bad.ini", bundled, "type = legacy-lua\nscript = examples/legacy/momentum.lua\n",
                 "BTCUSDT", "lookback = 5\n");
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config bad.ini --out bad_o"), 2);
    assert_non_null(strstr(err, "lookback"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy_lua_matches_c_legacy_on_bundled_data),
        cmocka_unit_test(test_legacy_lua_matches_c_legacy_on_generated_data),
        cmocka_unit_test(test_legacy_lua_position_drops_rejected_orders),
        cmocka_unit_test(test_legacy_lua_bad_return_stops_only_that_strategy),
        cmocka_unit_test(test_legacy_lua_undeclared_param_is_config_error_exit_2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
