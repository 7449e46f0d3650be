/* End to end: `[component.NAME]` programs in `tradebus backtest`, run as a
 * user runs them — deterministic outputs, the journal's causal chain
 * through the program, dead letters kept, stderr in the log, a failing
 * program failing the run without touching the last outputs, and wiring
 * mistakes refused before the first bar. The programs are sh scripts. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

static char dir[512];

/* Answers every MarketData; on the 4th bar also publishes a RiskAlert (and
 * says so on stderr), on the 6th a line that is no event. */
static const char *const watcher =
    "n=0\n"
    "while IFS= read -r l; do\n"
    "  id=${l#*\\\"event_id\\\":\\\"}; id=${id%%\\\"*}\n"
    "  n=$((n+1))\n"
    "  if [ $n -eq 4 ]; then\n"
    "    echo \"watcher saw bar $n\" >&2\n"
    "    echo '{\"type\":\"RiskAlert\",\"payload\":{\"rule\":\"legacy_check\",\"detail\":\"bar "
    "4\",\"trading_state\":\"ACTIVE\",\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\"}}'\n"
    "  fi\n"
    "  if [ $n -eq 6 ]; then echo 'oops, a debug print'; fi\n"
    "  printf '{\"end\":\"%s\"}\\n' \"$id\"\n"
    "done\n";

static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT-1m-2024-01.csv\n"
                                  "[journal]\n"
                                  "path = run.db\n"
                                  "[strategy.s1]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "fast = 2\n"
                                  "slow = 3\n"
                                  "quantity = 1\n"
                                  "[component.watcher]\n"
                                  "command = sh watcher.sh\n"
                                  "subscribes = MarketData\n"
                                  "publishes = RiskAlert\n";

static int setup(void **state)
{
    (void)state;
    char path[1024];
    tbt_temp_dir(dir, sizeof(dir));
    tbt_write_file(dir, "BTCUSDT-1m-2024-01.csv", tbt_staircase_csv, path, sizeof(path));
    tbt_write_file(dir, "watcher.sh", watcher, path, sizeof(path));
    tbt_write_file(dir, "bt.ini", config, path, sizeof(path));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static void test_a_run_through_a_program_is_byte_identical_run_to_run(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config bt.ini --out a"), 0);
    free(err);
    char db[600];
    snprintf(db, sizeof(db), "%s/run.db", dir);
    remove(db);
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config bt.ini --out b"), 0);
    const char *files[] = {"a/events.jsonl", "a/summary.json", "a/fills.csv"};
    for (size_t i = 0; i < 3; i++) {
        char *x = tbt_read_in(dir, files[i]);
        char other[64];
        snprintf(other, sizeof(other), "b/%s", files[i] + 2);
        char *y = tbt_read_in(dir, other);
        assert_non_null(x);
        assert_non_null(y);
        assert_string_equal(x, y);
        free(x);
        free(y);
    }
    /* The program's alert is an event of the run, caused by the 4th bar. */
    char *events = tbt_read_in(dir, "a/events.jsonl");
    const char *alert = strstr(events, "\"legacy_check\"");
    assert_non_null(alert);
    assert_non_null(strstr(events, "\"source\":\"external\""));
    char *summary = tbt_read_in(dir, "a/summary.json");
    assert_non_null(strstr(summary, "\"legacy_check\": 1"));
    free(summary);
    free(events);
}

static void test_journal_trace_walks_through_the_program(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config bt.ini --out o"), 0);
    char *events = tbt_read_in(dir, "o/events.jsonl");
    const char *alert = strstr(events, "{\"type\":\"RiskAlert\"");
    assert_non_null(alert);
    unsigned long long id = 0, cause = 0;
    assert_int_equal(sscanf(alert,
                            "{\"type\":\"RiskAlert\",\"version\":1,\"event_id\":\"%llu\","
                            "\"causation_id\":\"%llu\"",
                            &id, &cause),
                     2);
    free(events);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "journal trace %llu --journal run.db", id), 0);
    free(err);
    char *out = tbt_read_in(dir, "stdout.txt");
    char want[64];
    snprintf(want, sizeof(want), "%llu", cause);
    assert_non_null(strstr(out, want)); /* the bar it answered */
    assert_non_null(strstr(out, "MarketData"));
    assert_non_null(strstr(out, "RiskAlert"));
    free(out);
}

static void test_a_bad_line_is_a_dead_letter_and_stderr_is_logged_by_name(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config bt.ini --out o"), 0);
    assert_non_null(strstr(err, "[watcher] watcher saw bar 4"));
    assert_non_null(
        strstr(err, "[watcher] stdout line 7 is not a valid event, dead-lettered: json:"));
    free(err);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "dead letters   1"));
    free(out);
    assert_int_equal(tbt_run_cli(dir, NULL, "dlq list --journal run.db"), 0);
    out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "watcher"));
    assert_non_null(strstr(out, "MarketData"));
    free(out);
    assert_int_equal(tbt_run_cli(dir, NULL, "dlq show 1 --journal run.db"), 0);
    out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "stdout line 7: json:"));
    free(out);
}

/* The last good outputs stay as they were: nothing half-written. */
static void test_a_program_that_dies_fails_the_run_and_keeps_the_last_outputs(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config bt.ini --out o"), 0);
    char *before = tbt_read_in(dir, "o/events.jsonl");
    char path[1024];
    snprintf(path, sizeof(path), "%s/run.db", dir);
    remove(path);
    tbt_write_file(dir, "dies.sh", "read -r l; echo 'KeyError: position' >&2; exit 3\n", path,
                   sizeof(path));
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config bt.ini --out o --set "
                                 "'component.watcher.command=sh dies.sh'"),
                     1);
    assert_non_null(strstr(err, "component watcher ('sh dies.sh') ended (exit status 3) before "
                                "answering; the last event it was given: event"));
    assert_non_null(strstr(err, "(MarketData at 2024-01-01T00:00:59.999Z)"));
    assert_non_null(strstr(err, "its last stderr line: KeyError: position"));
    free(err);
    char *after = tbt_read_in(dir, "o/events.jsonl");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_a_program_that_hangs_fails_the_run_naming_the_timeout(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "hang.sh", "exec cat >/dev/null\n", path, sizeof(path));
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config bt.ini --out o --set "
                                 "'component.watcher.command=sh hang.sh' --set "
                                 "component.watcher.timeout_ms=300"),
                     1);
    assert_non_null(strstr(err, "did not answer within 300 ms (timeout_ms)"));
    free(err);
}

static void test_a_config_that_leaves_signals_unhandled_is_refused_before_the_run(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config bt.ini --out o --set "
                                 "component.watcher.replaces=orders"),
                     2);
    assert_non_null(strstr(err, "[component.watcher]"));
    assert_non_null(strstr(err, "add "));
    free(err);
}

/* window = 8: the program's alert is published 7 bars late, the same way
 * every run. */
static void test_a_window_is_deterministic_and_publishes_late(void **state)
{
    (void)state;
    char db[600];
    snprintf(db, sizeof(db), "%s/run.db", dir);
    const char *w = "--set component.watcher.window=8 --set component.watcher.on_bad_event=stop "
                    "--set journal.path=";
    char path[1024];
    tbt_write_file(dir, "quiet.sh",
                   "while IFS= read -r l; do\n"
                   "  id=${l#*\\\"event_id\\\":\\\"}; id=${id%%\\\"*}\n"
                   "  case $l in *'\"close\":\"12\"'*) echo '{\"type\":\"RiskAlert\",\"payload\":{"
                   "\"rule\":\"twelve\",\"detail\":\"\",\"trading_state\":\"ACTIVE\","
                   "\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\"}}' ;; esac\n"
                   "  printf '{\"end\":\"%s\"}\\n' \"$id\"\n"
                   "done\n",
                   path, sizeof(path));
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config bt.ini --out a %s --set "
                                 "'component.watcher.command=sh quiet.sh'",
                                 w),
                     0);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config bt.ini --out b %s --set "
                                 "'component.watcher.command=sh quiet.sh'",
                                 w),
                     0);
    char *x = tbt_read_in(dir, "a/events.jsonl"), *y = tbt_read_in(dir, "b/events.jsonl");
    assert_string_equal(x, y);
    /* Caused by bar 5 (close 12), published after bar 12's events (7 later
     * would be bar 12; the data has 11: at the end of the run). */
    const char *alert = strstr(x, "\"twelve\"");
    assert_non_null(alert);
    assert_null(strstr(alert, "\"type\":\"MarketData\""));
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_run_through_a_program_is_byte_identical_run_to_run,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_trace_walks_through_the_program, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_bad_line_is_a_dead_letter_and_stderr_is_logged_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_program_that_dies_fails_the_run_and_keeps_the_last_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_program_that_hangs_fails_the_run_naming_the_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_config_that_leaves_signals_unhandled_is_refused_before_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_window_is_deterministic_and_publishes_late, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
