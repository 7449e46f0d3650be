/* The shipped example components (examples/components/) must keep working
 * as docs/components.md shows them: a backtest over the bundled month with
 * `[component.echo] command = <echo> --publish` gets exactly one RiskAlert
 * per bar from the program, each caused by its bar. Fails if an example
 * drifts from the protocol (a missing end line, a bad payload, a wrong
 * id). TB_ECHO is the built C example (CMakeLists.txt). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Runs the bundled month through `command` and checks every bar got its
 * alert, caused by that bar. */
static void run_month_through(const char *command)
{
    char ini[2048], path[1024];
    snprintf(ini, sizeof(ini),
             "[backtest]\n"
             "data = %s/data/BTCUSDT-1m-2024-01.csv\n"
             "[strategy.s1]\n"
             "type = sma_cross\n"
             "symbol = BTCUSDT\n"
             "fast = 10\n"
             "slow = 30\n"
             "quantity = 0.01\n"
             "[component.echo]\n"
             "command = %s --publish\n"
             "subscribes = MarketData\n"
             "publishes = RiskAlert\n",
             TB_SOURCE_DIR, command);
    tbt_write_file(dir, "bt.ini", ini, path, sizeof(path));
    char *err = NULL;
    int rc = tbt_run_cli(dir, &err, "backtest --config bt.ini --out o");
    if (rc != 0) fprintf(stderr, "%s", err ? err : "");
    assert_int_equal(rc, 0);
    free(err);

    char csv[1024];
    snprintf(csv, sizeof(csv), "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    char *data = tbt_read_file(csv);
    assert_non_null(data);
    size_t bars = count(data, "\n");
    free(data);
    assert_true(bars > 1000);

    char *events = tbt_read_in(dir, "o/events.jsonl");
    assert_non_null(events);
    assert_int_equal(count(events, "{\"type\":\"MarketData\""), bars);
    assert_int_equal(count(events, "\"rule\":\"echo\""), bars);
    assert_int_equal(count(events, "\"source\":\"external\""), bars);
    /* The first alert answers the first bar: its cause is that bar's id. */
    unsigned long long bar_id = 0, cause = 0;
    const char *md = strstr(events, "{\"type\":\"MarketData\"");
    assert_int_equal(
        sscanf(md, "{\"type\":\"MarketData\",\"version\":1,\"event_id\":\"%llu\"", &bar_id), 1);
    const char *alert = strstr(events, "{\"type\":\"RiskAlert\"");
    assert_non_null(alert);
    assert_int_equal(sscanf(alert,
                            "{\"type\":\"RiskAlert\",\"version\":1,\"event_id\":\"%*[0-9]\","
                            "\"causation_id\":\"%llu\"",
                            &cause),
                     1);
    assert_true(cause == bar_id);
    free(events);
}

static void test_the_c_echo_publishes_one_alert_per_bar(void **state)
{
    (void)state;
    run_month_through(TB_ECHO);
}

static void test_the_python_echo_publishes_one_alert_per_bar(void **state)
{
    (void)state;
    if (system("command -v python3 >/dev/null 2>&1") != 0) skip();
    run_month_through("python3 " TB_SOURCE_DIR "/examples/components/echo.py");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_c_echo_publishes_one_alert_per_bar, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_python_echo_publishes_one_alert_per_bar, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
