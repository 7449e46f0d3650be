/* End to end: the migration walk-through of docs/migration.md, run as a user
 * runs it. examples/migration/legacy_bot.py (a Python monolith) writes its
 * trade log alone (phase 1); then `tradebus parity` must print IDENTICAL
 * against that log with the pipeline alone (phase 4), with the bot keeping
 * the positions (phase 3) and with it sending the orders too (phase 2) —
 * and all three on generated data with a second parameter set (other SMAs,
 * shorts, an 8-decimal quantity, 7.5 bps), because the first configs beyond
 * the examples are where bugs show. The agreements have controls: a bot
 * charging another fee (phase 4; phase 2 on generated data) or rounding PnL
 * half-even (phase 3 on generated data) must diverge. The bot's phase 2 and
 * 3 answers are also checked line by line against hand-written protocol
 * input.
 *
 * The commands in examples/migration/phase*.ini are relative to the repository
 * root, so the test runs them from a temporary directory holding links to
 * the repository's examples/ and data/: the documented commands, unchanged,
 * with their outputs kept out of the source tree. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

#define BOT "python3 examples/migration/legacy_bot.py"
/* The second parameter set, on generated data (gen.csv, 1500 bars). */
#define GEN_ARGS                                                                                   \
    "--data gen.csv --symbol ETHUSDT --strategy-id eth_swing --fast 7 --slow 19 "                  \
    "--quantity 0.12345678 --allow-short --fee-bps 7.5"

static char dir[512];

static const char *const gen_config = "; gen4.ini: phase 4 on generated data, the bot's GEN_ARGS\n"
                                      "[backtest]\n"
                                      "data = ETHUSDT:gen.csv\n"
                                      "initial_cash = 1000000\n"
                                      "[exchange]\n"
                                      "type = sim\n"
                                      "fee_bps = 7.5\n"
                                      "slippage_bps = 0\n"
                                      "[risk]\n"
                                      "max_order_notional = 0\n"
                                      "max_drawdown_pct = 0\n"
                                      "[strategy.eth_swing]\n"
                                      "type = sma_cross\n"
                                      "symbol = ETHUSDT\n"
                                      "fast = 7\n"
                                      "slow = 19\n"
                                      "quantity = 0.12345678\n"
                                      "allow_short = true\n";

/* gen4.ini with the bot as a component: phase 3 (positions), phase 2
 * (orders and positions). */
static const char *const gen3_component = "[component.legacy]\n"
                                          "command = python3 examples/migration/legacy_bot.py "
                                          "--phase 3\n"
                                          "subscribes = OrderFilled MarketData\n"
                                          "publishes = PositionUpdate\n"
                                          "replaces = positions\n";
static const char *const gen2_component =
    "[component.legacy]\n"
    "command = python3 examples/migration/legacy_bot.py --phase 2 --fee-bps 7.5\n"
    "subscribes = SignalGenerated MarketData OrderFilled\n"
    "publishes = OrderPlacementRequest OrderCreated OrderFilled OrderRejected OrderCanceled "
    "PositionUpdate\n"
    "replaces = orders positions\n";

static int setup(void **state)
{
    (void)state;
    char path[1024];
    tbt_temp_dir(dir, sizeof(dir));
    char cfg[2048];
    tbt_write_file(dir, "gen4.ini", gen_config, path, sizeof(path));
    snprintf(cfg, sizeof(cfg), "%s%s", gen_config, gen3_component);
    tbt_write_file(dir, "gen3.ini", cfg, path, sizeof(path));
    snprintf(cfg, sizeof(cfg), "%s%s", gen_config, gen2_component);
    tbt_write_file(dir, "gen2.ini", cfg, path, sizeof(path));
    if (tbt_sh(dir, "ln -s '%s/examples' examples && ln -s '%s/data' data", TB_SOURCE_DIR,
               TB_SOURCE_DIR))
        return -1;
    if (tbt_sh(dir, "'%s' --bars 1500 --seed 11 --price 2345.67 --decimals 2 > gen.csv 2>/dev/null",
               TB_GENDATA))
        return -1;
    /* Phase 1, as docs/migration.md runs it: the bot alone, its log on stdout;
     * and the bot's log of the generated data. */
    if (tbt_sh(dir, BOT " --phase 1 > phase1.jsonl")) return -1;
    return tbt_sh(dir, BOT " --phase 1 " GEN_ARGS " > gen1.jsonl");
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static int count_kind(const char *log, const char *kind)
{
    char key[64];
    snprintf(key, sizeof(key), "{\"kind\":\"%s\"", kind);
    int n = 0;
    for (const char *p = log; (p = strstr(p, key)) != NULL; p++)
        if (p == log || p[-1] == '\n') n++;
    return n;
}

/* Runs tradebus parity ARGS; asserts its exit code and that stdout starts
 * with want. */
__attribute__((format(printf, 3, 4))) static void parity(int code, const char *want,
                                                         const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    char *err = NULL;
    int rc = tbt_run_cli(dir, &err, "parity %s", args);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(out);
    if (rc != code || strncmp(out, want, strlen(want)) != 0)
        fail_msg("parity %s: exit %d (want %d)\nstdout: %s\nstderr: %s", args, rc, code, out,
                 err ? err : "");
    free(out);
    free(err);
}

static void test_phase1_bot_writes_the_trade_log_on_stdout(void **state)
{
    (void)state;
    char *log = tbt_read_in(dir, "phase1.jsonl");
    assert_non_null(log);
    assert_int_equal(count_kind(log, "signal"), 50);
    assert_int_equal(count_kind(log, "order"), 50);
    assert_int_equal(count_kind(log, "fill"), 50);
    assert_int_equal(count_kind(log, "position"), 50);
    assert_int_equal(count_kind(log, "final"), 1);
    /* The first trade: signal on the 00:49 bar's close, filled at the next
     * open with 10 bps; and the totals, last. */
    assert_non_null(strstr(log, "{\"kind\":\"fill\",\"time\":\"2024-01-01T00:50:00.000Z\","
                                "\"strategy_id\":\"btc_trend\",\"symbol\":\"BTCUSDT\",\"side\":"
                                "\"BUY\",\"quantity\":\"0.01\",\"price\":\"42473.32\","
                                "\"commission\":\"0.4247332\"}\n"));
    const char *final = "{\"kind\":\"final\",\"realized_pnl\":\"70.5239\",\"unrealized_pnl\":"
                        "\"0\",\"fees\":\"21.9437225\"}\n";
    size_t n = strlen(log), f = strlen(final);
    assert_true(n >= f && strcmp(log + n - f, final) == 0);
    free(log);
}

static void test_phase4_pipeline_alone_is_identical_to_phase1(void **state)
{
    (void)state;
    parity(0, "IDENTICAL: 50 signals, 50 orders, 50 fills, final PnL equal\n",
           "--config examples/migration/phase4.ini --legacy-log phase1.jsonl");
}

static void test_phase4_is_identical_with_the_bot_run_by_legacy_cmd(void **state)
{
    (void)state;
    parity(0, "IDENTICAL: 50 signals, 50 orders, 50 fills, final PnL equal\n",
           "--config examples/migration/phase4.ini --legacy-cmd \"" BOT " --phase 1\"");
}

static void test_phase4_diverges_from_a_bot_charging_another_fee(void **state)
{
    (void)state;
    parity(1,
           "DIVERGED: first divergence at fill 2024-01-01T00:50:00.000Z btc_trend/BTCUSDT: "
           "commission differs",
           "--config examples/migration/phase4.ini --legacy-cmd \"" BOT
           " --phase 1 --fee-bps 11\"");
}

static void test_phase4_on_generated_data_with_shorts_is_identical(void **state)
{
    (void)state;
    /* A flip is one fill of twice the quantity: positions go through zero. */
    parity(0, "IDENTICAL: ", "--config gen4.ini --legacy-log gen1.jsonl");
    char *log = tbt_read_in(dir, "stdout.txt");
    int signals = 0;
    assert_int_equal(sscanf(log, "IDENTICAL: %d signals", &signals), 1);
    assert_true(signals > 20);
    free(log);
}

static void test_phase3_bot_keeping_positions_is_identical_to_phase1(void **state)
{
    (void)state;
    parity(0, "IDENTICAL: 50 signals, 50 orders, 50 fills, final PnL equal\n",
           "--config examples/migration/phase3.ini --legacy-log phase1.jsonl");
}

static void test_phase2_bot_sending_orders_is_identical_to_phase1(void **state)
{
    (void)state;
    parity(0, "IDENTICAL: 50 signals, 50 orders, 50 fills, final PnL equal\n",
           "--config examples/migration/phase2.ini --legacy-log phase1.jsonl");
}

static void test_phase3_on_generated_data_with_shorts_is_identical(void **state)
{
    (void)state;
    /* Ends short: the final unrealized PnL is the bot's position marked at
     * the last close. */
    parity(0, "IDENTICAL: ", "--config gen3.ini --legacy-log gen1.jsonl");
}

static void test_phase3_on_generated_data_diverges_from_a_bot_rounding_half_even(void **state)
{
    (void)state;
    /* The bot with its one rounding rule changed: PnL ties go to even. */
    assert_int_equal(tbt_sh(dir, "sed 's/rounding=ROUND_HALF_UP/rounding=\"ROUND_HALF_EVEN\"/' "
                                 "examples/migration/legacy_bot.py > half_even_bot.py && "
                                 "! cmp -s half_even_bot.py examples/migration/legacy_bot.py"),
                     0);
    parity(1, "DIVERGED: ",
           "--config gen3.ini --legacy-log gen1.jsonl --set "
           "\"component.legacy.command=python3 half_even_bot.py --phase 3\"");
}

static void test_phase2_on_generated_data_with_shorts_is_identical(void **state)
{
    (void)state;
    parity(0, "IDENTICAL: ", "--config gen2.ini --legacy-log gen1.jsonl");
}

static void test_phase2_on_generated_data_diverges_when_the_bot_fills_with_another_fee(void **state)
{
    (void)state;
    parity(1, "DIVERGED: ",
           "--config gen2.ini --legacy-log gen1.jsonl --set "
           "\"component.legacy.command=" BOT " --phase 2 --fee-bps 7.6\"");
}

/* The protocol by hand, as the external-component runtime speaks it: one
 * event a line in, the answer's events and {"end": ID} out, per input. */
static const char *const phase3_in =
    "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"11\",\"causation_id\":\"0\","
    "\"correlation_id\":\"11\",\"timestamp\":1704067259999000000,\"source\":\"market_data\","
    "\"payload\":{\"symbol\":\"BTCUSDT\",\"open\":\"10\",\"high\":\"12\",\"low\":\"10\",\"close\":"
    "\"12\",\"volume\":\"5\",\"open_time\":1704067200000000000,\"close_time\":1704067259999000000}}"
    "\n"
    "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"12\",\"causation_id\":\"13\","
    "\"correlation_id\":\"11\",\"timestamp\":1704067260000000000,\"source\":\"orders\",\"payload\":"
    "{\"order_id\":\"SIM-1\",\"client_order_id\":\"s1-1\",\"strategy_id\":\"s1\",\"symbol\":"
    "\"BTCUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"1\",\"filled_price\":\"12.5\","
    "\"commission\":\"0.0125\",\"cumulative_quantity\":\"1\",\"average_price\":\"12.5\",\"status\":"
    "\"FILLED\",\"trade_id\":\"1\"}}\n"
    "{\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"14\",\"causation_id\":\"15\","
    "\"correlation_id\":\"11\",\"timestamp\":1704067320000000000,\"source\":\"orders\",\"payload\":"
    "{\"order_id\":\"SIM-2\",\"client_order_id\":\"s1-2\",\"strategy_id\":\"s1\",\"symbol\":"
    "\"BTCUSDT\",\"side\":\"SELL\",\"filled_quantity\":\"3\",\"filled_price\":\"9.5\","
    "\"commission\":\"0.0285\",\"cumulative_quantity\":\"3\",\"average_price\":\"9.5\",\"status\":"
    "\"FILLED\",\"trade_id\":\"2\"}}\n";

static void test_phase3_bot_answers_each_fill_with_its_position_updates(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "in3.jsonl", phase3_in, path, sizeof(path));
    assert_int_equal(tbt_sh(dir, BOT " --phase 3 < in3.jsonl > out3.jsonl 2>/dev/null"), 0);
    char *out = tbt_read_in(dir, "out3.jsonl");
    /* A bar: nothing but its end. Buy 1 at 12.5, marked at the bar's 12;
     * sell 3 at 9.5: the long closes (realized -3), a short of 2 opens. */
    assert_string_equal(
        out, "{\"end\":\"11\"}\n"
             "{\"type\":\"PositionUpdate\",\"timestamp\":1704067260000000000,\"payload\":{"
             "\"position_id\":\"1\",\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\","
             "\"current_quantity\":\"1\",\"entry_price\":\"12.5\",\"unrealized_pnl\":\"-0.5\","
             "\"realized_pnl\":\"0\",\"mark_price\":\"12\",\"status\":\"OPEN\"}}\n"
             "{\"end\":\"12\"}\n"
             "{\"type\":\"PositionUpdate\",\"timestamp\":1704067320000000000,\"payload\":{"
             "\"position_id\":\"1\",\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\","
             "\"current_quantity\":\"0\",\"entry_price\":\"0\",\"unrealized_pnl\":\"0\","
             "\"realized_pnl\":\"-3\",\"mark_price\":\"12\",\"status\":\"CLOSED\"}}\n"
             "{\"type\":\"PositionUpdate\",\"timestamp\":1704067320000000000,\"payload\":{"
             "\"position_id\":\"2\",\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\","
             "\"current_quantity\":\"-2\",\"entry_price\":\"9.5\",\"unrealized_pnl\":\"-5\","
             "\"realized_pnl\":\"0\",\"mark_price\":\"12\",\"status\":\"OPEN\"}}\n"
             "{\"end\":\"14\"}\n");
    free(out);
}

static const char *const phase2_in =
    "{\"type\":\"SignalGenerated\",\"version\":1,\"event_id\":\"21\",\"causation_id\":\"20\","
    "\"correlation_id\":\"20\",\"timestamp\":1704067259999000000,\"source\":\"signal\",\"payload\":"
    "{\"signal_type\":\"BUY\",\"symbol\":\"BTCUSDT\",\"price\":\"12\",\"volume\":\"0.5\","
    "\"strategy_id\":\"s1\",\"order_type\":\"MARKET\",\"limit_price\":\"0\",\"target\":\"0.5\"}}\n"
    "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"22\",\"causation_id\":\"0\","
    "\"correlation_id\":\"22\",\"timestamp\":1704067319999000000,\"source\":\"market_data\","
    "\"payload\":{\"symbol\":\"BTCUSDT\",\"open\":\"12.5\",\"high\":\"14\",\"low\":\"12\","
    "\"close\":\"14\",\"volume\":\"5\",\"open_time\":1704067260000000000,\"close_time\":"
    "1704067319999000000}}\n";

static void test_phase2_bot_orders_on_a_signal_and_fills_at_the_next_open(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "in2.jsonl", phase2_in, path, sizeof(path));
    assert_int_equal(tbt_sh(dir, BOT " --phase 2 < in2.jsonl > out2.jsonl 2>/dev/null"), 0);
    char *out = tbt_read_in(dir, "out2.jsonl");
    /* BUY 0.5 on the 00:00 close: request and acknowledgement at once; the
     * fill at the 00:01 open, 12.5, with 10 bps (0.00625). */
    assert_string_equal(
        out, "{\"type\":\"OrderPlacementRequest\",\"timestamp\":1704067259999000000,\"payload\":{"
             "\"order_type\":\"MARKET\",\"side\":\"BUY\",\"symbol\":\"BTCUSDT\",\"quantity\":"
             "\"0.5\",\"price\":\"0\",\"strategy_id\":\"s1\",\"client_order_id\":\"legacy-1\"}}\n"
             "{\"type\":\"OrderCreated\",\"timestamp\":1704067259999000000,\"payload\":{"
             "\"order_id\":\"LEG-1\",\"status\":\"NEW\",\"client_order_id\":\"legacy-1\","
             "\"order_type\":\"MARKET\",\"side\":\"BUY\",\"symbol\":\"BTCUSDT\",\"quantity\":"
             "\"0.5\",\"price\":\"0\",\"strategy_id\":\"s1\"}}\n"
             "{\"end\":\"21\"}\n"
             "{\"type\":\"OrderFilled\",\"timestamp\":1704067260000000000,\"payload\":{"
             "\"order_id\":\"LEG-1\",\"client_order_id\":\"legacy-1\",\"strategy_id\":\"s1\","
             "\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"0.5\","
             "\"filled_price\":\"12.5\",\"commission\":\"0.00625\",\"cumulative_quantity\":"
             "\"0.5\",\"average_price\":\"12.5\",\"status\":\"FILLED\",\"trade_id\":\"1\"}}\n"
             "{\"end\":\"22\"}\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase1_bot_writes_the_trade_log_on_stdout),
        cmocka_unit_test(test_phase4_pipeline_alone_is_identical_to_phase1),
        cmocka_unit_test(test_phase4_is_identical_with_the_bot_run_by_legacy_cmd),
        cmocka_unit_test(test_phase4_diverges_from_a_bot_charging_another_fee),
        cmocka_unit_test(test_phase4_on_generated_data_with_shorts_is_identical),
        cmocka_unit_test(test_phase3_bot_keeping_positions_is_identical_to_phase1),
        cmocka_unit_test(test_phase2_bot_sending_orders_is_identical_to_phase1),
        cmocka_unit_test(test_phase3_on_generated_data_with_shorts_is_identical),
        cmocka_unit_test(test_phase3_on_generated_data_diverges_from_a_bot_rounding_half_even),
        cmocka_unit_test(test_phase2_on_generated_data_with_shorts_is_identical),
        cmocka_unit_test(
            test_phase2_on_generated_data_diverges_when_the_bot_fills_with_another_fee),
        cmocka_unit_test(test_phase3_bot_answers_each_fill_with_its_position_updates),
        cmocka_unit_test(test_phase2_bot_orders_on_a_signal_and_fills_at_the_next_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
