/* End to end: the migration walk-through of docs/migration.md, run as a user
 * runs it. examples/migration/legacy_bot.py (a Python monolith) writes its
 * trade log alone (phase 1); then `tradebus parity` must print IDENTICAL
 * against that log with the pipeline alone (phase 4) — and on generated
 * data with a second parameter set (other SMAs, shorts, an 8-decimal
 * quantity, 7.5 bps), because the first configs beyond the examples are
 * where bugs show. Each agreement has its control: the bot run with a wrong
 * fee must diverge.
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
#include <sys/wait.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

#define BOT "python3 examples/migration/legacy_bot.py"
/* The second parameter set, on generated data (gen.csv, 3000 bars). */
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

/* Runs a shell command in dir; its exit code (-1 if it did not exit). */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    n = snprintf(cmd, sizeof(cmd), "cd '%s' && %s", dir, args);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
    (void)state;
    char path[1024];
    tbt_temp_dir(dir, sizeof(dir));
    tbt_write_file(dir, "gen4.ini", gen_config, path, sizeof(path));
    if (sh("ln -s '%s/examples' examples && ln -s '%s/data' data", TB_SOURCE_DIR, TB_SOURCE_DIR))
        return -1;
    if (sh("'%s' --bars 3000 --seed 11 --price 2345.67 --decimals 2 > gen.csv 2>/dev/null",
           TB_GENDATA))
        return -1;
    /* Phase 1, as docs/migration.md runs it: the bot alone, its log on stdout. */
    return sh(BOT " --phase 1 > phase1.jsonl");
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
    parity(0, "IDENTICAL: ", "--config gen4.ini --legacy-cmd \"" BOT " --phase 1 " GEN_ARGS "\"");
    char *log = tbt_read_in(dir, "stdout.txt");
    int signals = 0;
    assert_int_equal(sscanf(log, "IDENTICAL: %d signals", &signals), 1);
    assert_true(signals > 20);
    free(log);
}

static void test_phase4_on_generated_data_diverges_from_a_bot_charging_another_fee(void **state)
{
    (void)state;
    parity(1, "DIVERGED: ",
           "--config gen4.ini --legacy-cmd \"" BOT " --phase 1 " GEN_ARGS " --fee-bps 7.6\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase1_bot_writes_the_trade_log_on_stdout),
        cmocka_unit_test(test_phase4_pipeline_alone_is_identical_to_phase1),
        cmocka_unit_test(test_phase4_is_identical_with_the_bot_run_by_legacy_cmd),
        cmocka_unit_test(test_phase4_diverges_from_a_bot_charging_another_fee),
        cmocka_unit_test(test_phase4_on_generated_data_with_shorts_is_identical),
        cmocka_unit_test(test_phase4_on_generated_data_diverges_from_a_bot_charging_another_fee),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
