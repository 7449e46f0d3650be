/* End to end: run the tradebus binary the way a user does and check what it
 * writes. The main dataset is 11 bars crafted so an sma_cross(2,3) trades
 * exactly twice; every expected figure below is worked out by hand in the
 * comments. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <tradebus/codec.h>

#include "tb_test_cli.h"

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int mkdir_in(const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return mkdir(p, 0777);
}

#define run(err_out, ...) tbt_run_cli(dir, err_out, __VA_ARGS__)
#define read_file         tbt_read_file

static char *out_file(const char *out, const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s/%s", dir, out, name);
    return read_file(p);
}

/* Closes 10,10,10,10,12,14,16,14,10,8,8 with fast=2, slow=3:
 *  bar 4: fast 11 > slow 10.67, bar 3 had 10 <= 10  → cross up → BUY 1
 *  bar 8: fast 12 < slow 13.33, bar 7 had 15 >= 14.67 → cross down → SELL 1
 * Orders fill at the NEXT bar's open: bar 5 opens at 12.5, bar 9 at 9.5. */

static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT-1m-2024-01.csv\n"
                                  "[exchange]\n"
                                  "fee_bps = 10\n"
                                  "[strategy.s1]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "fast = 2\n"
                                  "slow = 3\n"
                                  "quantity = 1\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_e2e_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    write_file("BTCUSDT-1m-2024-01.csv", tbt_staircase_csv);
    write_file("bt.ini", config);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static void test_e2e_backtest_fills_match_hand_computation(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --out o1"), 0);
    char *fills = out_file("o1", "fills.csv");
    assert_non_null(fills);
    /* commission = price × qty × 10 / 10000 */
    assert_string_equal(fills,
                        "timestamp,strategy_id,symbol,side,order_id,client_order_id,quantity,price,"
                        "commission,event_id,origin\n"
                        "2024-01-01T00:05:00.000Z,s1,BTCUSDT,BUY,SIM-1,s1-1,1,12.5,0.0125,"
                        "283673999966211,signal\n"
                        "2024-01-01T00:09:00.000Z,s1,BTCUSDT,SELL,SIM-2,s1-2,1,9.5,0.0095,"
                        "283673999966214,signal\n");
    free(fills);
}

static void test_e2e_summary_has_exact_pnl_and_counts(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --out o2"), 0);
    char *s = out_file("o2", "summary.json");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"bars\": 11,"));
    assert_non_null(strstr(s, "\"signals\": 2,"));
    assert_non_null(strstr(s, "\"orders\": 2,"));
    assert_non_null(strstr(s, "\"fills\": 2,"));
    assert_non_null(strstr(s, "\"rejected\": 0,"));
    /* (9.5 − 12.5) × 1 = −3; fees 0.0125 + 0.0095; 10000 − 3 − 0.022 */
    assert_non_null(strstr(s, "\"realized_pnl\": \"-3\""));
    assert_non_null(strstr(s, "\"unrealized_pnl\": \"0\""));
    assert_non_null(strstr(s, "\"fees\": \"0.022\""));
    assert_non_null(strstr(s, "\"initial_equity\": \"10000\""));
    assert_non_null(strstr(s, "\"final_equity\": \"9996.978\""));
    assert_non_null(strstr(s, "\"dead_letters\": 0"));
    assert_non_null(strstr(s, "\"MarketData\": 11"));
    assert_non_null(strstr(s, "\"OrderFilled\": 2"));
    assert_non_null(strstr(s, "\"PositionUpdate\": 2"));
    assert_non_null(strstr(s, "\"strategy_id\": \"s1\", \"symbol\": \"BTCUSDT\", \"quantity\": "
                              "\"0\""));
    assert_non_null(strstr(s, "\"total_realized_pnl\": \"-3\""));
    assert_non_null(strstr(s, "\"status\": \"CLOSED\""));
    free(s);
}

#define MAX_EVENTS 64

static const tb_event *by_id(const tb_event *evs, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (evs[i].event_id == id) return &evs[i];
    return NULL;
}

static void test_e2e_every_fill_walks_back_to_market_data(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --out o3"), 0);
    char *log = out_file("o3", "events.jsonl");
    assert_non_null(log);
    static tb_event evs[MAX_EVENTS];
    int n = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        char err[TB_CODEC_ERRLEN];
        assert_true(n < MAX_EVENTS);
        int rc = tb_codec_decode(line, strlen(line), &evs[n], err, sizeof(err));
        if (rc) fail_msg("events.jsonl line %d does not decode: %s", n + 1, err);
        n++;
    }
    assert_int_equal(n, 21);
    const tb_event_type chain[] = {TB_EV_ORDER_CREATED, TB_EV_ORDER_PLACEMENT_REQUEST,
                                   TB_EV_SIGNAL_GENERATED, TB_EV_MARKET_DATA};
    int fills = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].type != TB_EV_ORDER_FILLED) continue;
        fills++;
        const tb_event *e = &evs[i];
        for (int k = 0; k < 4; k++) {
            const tb_event *parent = by_id(evs, n, e->causation_id);
            assert_non_null(parent);
            assert_int_equal(parent->type, chain[k]);
            /* A cause is always dispatched before its effect. */
            assert_true(parent < e);
            e = parent;
        }
        assert_int_equal(e->causation_id, 0);
        assert_int_equal(evs[i].correlation_id, e->event_id);
    }
    assert_int_equal(fills, 2);
    free(log);
}

static void test_e2e_two_runs_are_byte_identical(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --out a"), 0);
    assert_int_equal(run(NULL, "backtest --config bt.ini --out b"), 0);
    const char *files[] = {"events.jsonl", "fills.csv", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char *x = out_file("a", files[i]), *y = out_file("b", files[i]);
        assert_non_null(x);
        assert_non_null(y);
        assert_string_equal(x, y);
        free(x);
        free(y);
    }
}

static void test_e2e_malformed_row_names_file_and_line_and_exits_3(void **state)
{
    (void)state;
    write_file("BAD-1m.csv", "1704067200000,10,10,10,10,5,1704067259999,50,1,0,0,0\n"
                             "1704067260000,10,9,11,10,5,1704067319999,50,1,0,0,0\n");
    char *err = NULL;
    int code = run(&err, "backtest --config bt.ini --data BTCUSDT:BAD-1m.csv --out o4");
    assert_int_equal(code, 3);
    assert_non_null(err);
    if (!strstr(err, "BAD-1m.csv:2:")) fail_msg("stderr does not name file:line: %s", err);
    free(err);
}

static void test_e2e_bad_rows_skipped_when_configured_and_counted(void **state)
{
    (void)state;
    write_file("SKIP-1m.csv", "1704067200000,10,10,10,10,5,1704067259999,50,1,0,0,0\n"
                              "1704067260000,10,9,11,10,5,1704067319999,50,1,0,0,0\n"
                              "1704067320000,10,10,10,10,5,1704067379999,50,1,0,0,0\n");
    char *err = NULL;
    int code = run(&err, "backtest --config bt.ini --data BTCUSDT:SKIP-1m.csv "
                         "--set backtest.on_bad_row=skip --out o5");
    assert_int_equal(code, 0);
    assert_non_null(strstr(err, "SKIP-1m.csv:2:"));
    char *s = out_file("o5", "summary.json");
    assert_non_null(strstr(s, "\"bars\": 2,"));
    assert_non_null(strstr(s, "\"bad_rows\": 1,"));
    free(s);
    free(err);
}

static void test_e2e_config_error_names_key_and_exits_2(void **state)
{
    (void)state;
    char *err = NULL;
    int code = run(&err, "backtest --config bt.ini --set exchange.fee_bsp=5 --out o6");
    assert_int_equal(code, 2);
    if (!strstr(err, "[exchange] fee_bsp")) fail_msg("stderr: %s", err);
    free(err);
    code = run(&err, "backtest --config bt.ini --set strategy.s1.fast=abc --out o6");
    assert_int_equal(code, 2);
    if (!strstr(err, "fast")) fail_msg("stderr: %s", err);
    free(err);
    code = run(&err, "backtest --config missing.ini");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "missing.ini"));
    free(err);
}

static void test_e2e_set_override_changes_the_run(void **state)
{
    (void)state;
    /* 0 bps fees: the same two fills cost nothing, equity 10000 − 3. */
    assert_int_equal(run(NULL, "backtest --config bt.ini --set exchange.fee_bps=0 --out o7"), 0);
    char *s = out_file("o7", "summary.json");
    assert_non_null(strstr(s, "\"fees\": \"0\""));
    assert_non_null(strstr(s, "\"final_equity\": \"9997\""));
    free(s);
}

static void test_e2e_bundled_example_runs(void **state)
{
    (void)state;
    char *err = NULL;
    int code = run(&err,
                   "backtest --config %s/examples/sma_cross.ini --data %s/data/"
                   "BTCUSDT-1m-2024-01.csv --out o8",
                   TB_SOURCE_DIR, TB_SOURCE_DIR);
    if (code != 0) fail_msg("exit %d: %s", code, err);
    char *s = out_file("o8", "summary.json");
    assert_non_null(s);
    assert_null(strstr(s, "\"fills\": 0,")); /* the bundled data does trade */
    free(s);
    free(err);
}

static void test_e2e_help_teaches_commands(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "help"), 0);
    char p[512];
    snprintf(p, sizeof(p), "%s/stdout.txt", dir);
    char *out = read_file(p);
    assert_non_null(strstr(out, "tradebus backtest --config FILE"));
    assert_non_null(strstr(out, "Exit codes"));
    free(out);
    assert_int_equal(run(NULL, "backtest --help"), 0);
    out = read_file(p);
    assert_non_null(strstr(out, "sma_cross"));
    free(out);
    assert_int_equal(run(NULL, "frobnicate"), 2);
}

static void test_e2e_indicators_prints_csv_with_warmup_gaps(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "indicators --data BTCUSDT-1m-2024-01.csv --ind sma:3 donchian:2"),
                     0);
    char p[512];
    snprintf(p, sizeof(p), "%s/stdout.txt", dir);
    char *out = read_file(p);
    assert_non_null(out);
    /* sma(3) of 10,10,12 = 10.666..., donchian(2) over bars 3,4: low 10, high 12 */
    assert_non_null(strstr(out, "timestamp,close,sma_3,donchian_2_lower,donchian_2_upper\n"));
    assert_non_null(strstr(out, "2024-01-01T00:00:00.000Z,10,,,\n"));
    assert_non_null(
        strstr(out, "2024-01-01T00:04:00.000Z,12,10.66666667,10.00000000,12.00000000\n"));
    free(out);
}

static char *stdout_of_run(void)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/stdout.txt", dir);
    char *out = read_file(p);
    assert_non_null(out);
    return out;
}

static void test_e2e_only_written_files_are_listed(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --set output.event_log=false --out o20"),
                     0);
    char *out = stdout_of_run();
    assert_non_null(
        strstr(out, "written to     o20/summary.json, fills.csv, trades.csv, equity.csv\n"));
    assert_null(strstr(out, "events.jsonl"));
    assert_non_null(strstr(out, "report.html not written: [output] event_log = false\n"));
    free(out);
    assert_null(out_file("o20", "events.jsonl"));
    assert_int_equal(run(NULL, "backtest --config bt.ini --set output.report=false --out o21"), 0);
    out = stdout_of_run();
    assert_non_null(strstr(
        out, "written to     o21/summary.json, fills.csv, trades.csv, equity.csv, events.jsonl\n"));
    assert_non_null(strstr(out, "report.html not written: [output] report = false\n"));
    free(out);
}

static void test_e2e_rerun_without_a_file_removes_the_stale_one(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config bt.ini --out o22"), 0);
    assert_int_equal(run(NULL, "backtest --config bt.ini --set output.fills=false --out o22"), 0);
    /* A fills.csv left from the first run would pass for this one's. */
    assert_null(out_file("o22", "fills.csv"));
    char *s = out_file("o22", "summary.json");
    assert_non_null(s);
    free(s);
}

static void test_e2e_directory_as_config_or_data_is_named(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(mkdir_in("adir"), 0);
    assert_int_equal(run(&err, "backtest --config adir --out o23"), 2);
    assert_non_null(strstr(err, "adir is a directory"));
    free(err);
    assert_int_equal(run(&err, "backtest --config bt.ini --data adir --out o23"), 3);
    assert_non_null(strstr(err, "adir is a directory"));
    assert_null(strstr(err, "read error"));
    free(err);
}

static void test_e2e_strategy_symbol_absent_from_data_exits_2(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        run(&err, "backtest --config bt.ini --set strategy.s1.symbol=ETHUSDT --out o24"), 2);
    assert_non_null(strstr(err, "--set: [strategy.s1] symbol: ETHUSDT is in no data file (the "
                                "data has BTCUSDT)"));
    free(err);
}

static void test_e2e_symbol_from_lowercase_file_name_is_upper_case(void **state)
{
    (void)state;
    write_file("mycoin.csv", tbt_staircase_csv);
    assert_int_equal(
        run(NULL, "backtest --config bt.ini --data mycoin.csv --set strategy.s1.symbol=MYCOIN "
                  "--out o25"),
        0);
    char *fills = out_file("o25", "fills.csv");
    assert_non_null(fills);
    assert_non_null(strstr(fills, ",s1,MYCOIN,BUY,"));
    free(fills);
}

static void test_e2e_price_with_more_than_8_decimals_is_refused_unless_rounded(void **state)
{
    (void)state;
    write_file("FINE-1m.csv", "1704067200000,10,10.123456789,10,10,5,1704067259999,50,1,0,0,0\n");
    char *err = NULL;
    assert_int_equal(run(&err, "backtest --config bt.ini --data FINE-1m.csv "
                               "--set strategy.s1.symbol=FINE --out o26"),
                     3);
    assert_non_null(strstr(err, "FINE-1m.csv:1: high: 10.123456789 has more than 8 decimals"));
    free(err);
    assert_int_equal(run(NULL,
                         "backtest --config bt.ini --data FINE-1m.csv --set "
                         "strategy.s1.symbol=FINE --set backtest.round_prices=true --out o26"),
                     0);
}

static void test_e2e_large_numbers_name_value_and_range(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        run(&err, "backtest --config bt.ini --set backtest.initial_cash=100000000000 --out o27"),
        2);
    assert_non_null(strstr(err, "initial_cash: 100000000000 is out of range [0, 1000000000]"));
    free(err);
    write_file("HUGE-1m.csv", "1704067200000,1e15,1e15,10,10,5,1704067259999,50,1,0,0,0\n");
    assert_int_equal(run(&err, "backtest --config bt.ini --data HUGE-1m.csv "
                               "--set strategy.s1.symbol=HUGE --out o27"),
                     3);
    assert_non_null(strstr(err, "HUGE-1m.csv:1: open: 1e15 is out of range "
                                "[-92233720368.54775807, 92233720368.54775807]"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e2e_backtest_fills_match_hand_computation),
        cmocka_unit_test(test_e2e_only_written_files_are_listed),
        cmocka_unit_test(test_e2e_rerun_without_a_file_removes_the_stale_one),
        cmocka_unit_test(test_e2e_directory_as_config_or_data_is_named),
        cmocka_unit_test(test_e2e_strategy_symbol_absent_from_data_exits_2),
        cmocka_unit_test(test_e2e_symbol_from_lowercase_file_name_is_upper_case),
        cmocka_unit_test(test_e2e_price_with_more_than_8_decimals_is_refused_unless_rounded),
        cmocka_unit_test(test_e2e_large_numbers_name_value_and_range),
        cmocka_unit_test(test_e2e_summary_has_exact_pnl_and_counts),
        cmocka_unit_test(test_e2e_every_fill_walks_back_to_market_data),
        cmocka_unit_test(test_e2e_two_runs_are_byte_identical),
        cmocka_unit_test(test_e2e_malformed_row_names_file_and_line_and_exits_3),
        cmocka_unit_test(test_e2e_bad_rows_skipped_when_configured_and_counted),
        cmocka_unit_test(test_e2e_config_error_names_key_and_exits_2),
        cmocka_unit_test(test_e2e_set_override_changes_the_run),
        cmocka_unit_test(test_e2e_bundled_example_runs),
        cmocka_unit_test(test_e2e_help_teaches_commands),
        cmocka_unit_test(test_e2e_indicators_prints_csv_with_warmup_gaps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
