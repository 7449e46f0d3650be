/* The external component (tradebus/external.h): a program on a bus, given
 * events on its stdin and publishing from its stdout, and every way it can
 * misbehave — bad lines, exits, signals, hangs, floods, out-of-step
 * replies — named and never fatal to tradebus. The programs are small sh
 * scripts written by each test. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test_support.h"
#include "tradebus/codec.h"
#include "tradebus/external.h"

static char dir[512];

/* Reads each event, takes its id; the body runs with $id and $l set. */
#define LOOP_HEAD                                                                                  \
    "while IFS= read -r l; do\n"                                                                   \
    "  id=${l#*\\\"event_id\\\":\\\"}; id=${id%%\\\"*}\n"
#define LOOP(body) LOOP_HEAD body "\ndone\n"
#define END        "  printf '{\"end\":\"%s\"}\\n' \"$id\""
#define ALERT                                                                                      \
    "{\"type\":\"RiskAlert\",\"payload\":{\"rule\":\"ext\",\"detail\":\"d\",\"trading_state\":"    \
    "\"ACTIVE\",\"strategy_id\":\"s1\",\"symbol\":\"BTCUSDT\"}}"

typedef struct {
    tb_bus *bus;
    tb_external *x;
    tbt_recorder rec;
    char log[4096];
} fixture;

static void on_log(const char *name, const char *line, void *ctx)
{
    fixture *f = ctx;
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof(f->log) - n, "%s|%s\n", name, line);
}

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_dir(dir);
    return 0;
}

/* A bus with a recorder on every type and the program `script` as
 * component "ext" subscribed to MarketData, publishing RiskAlert. */
static fixture *start(const char *script, void (*tune)(tb_external_config *))
{
    static const char *const pubs[] = {"ext", NULL};
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tb_bus_config bc;
    tb_bus_config_init(&bc);
    bc.publishers = pubs;
    assert_int_equal(tb_bus_create(&bc, &f->bus), 0);
    char path[1024], cmd[1100];
    tbt_write_file(dir, "prog.sh", script, path, sizeof(path));
    snprintf(cmd, sizeof(cmd), "sh %s", path);
    tb_external_config xc;
    tb_external_config_init(&xc);
    xc.name = "ext";
    xc.command = cmd;
    xc.subscribes = 1u << TB_EV_MARKET_DATA;
    xc.publishes = 1u << TB_EV_RISK_ALERT;
    xc.timeout_ns = 3 * TBT_SECOND;
    xc.log = on_log;
    xc.log_ctx = f;
    if (tune) tune(&xc);
    char err[256];
    assert_int_equal(tb_external_create(f->bus, &xc, &f->x, err, sizeof(err)), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_BUS_ALL, tbt_record, &f->rec) >= 0);
    return f;
}

static void stop(fixture *f)
{
    tb_external_destroy(f->x);
    tb_bus_destroy(f->bus);
    free(f);
}

static tb_event bar(int minute)
{
    tb_market_data b = tbt_bar("BTCUSDT", minute, "100", "101", "99", "100.5", "3");
    return tbt_bar_event(&b);
}

static void test_replies_are_published_with_ids_causation_and_correlation(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo '" ALERT "'\n"
                            "  echo '{\"type\":\"RiskAlert\",\"version\":1,\"timestamp\":5,"
                            "\"payload\":{\"rule\":\"two\",\"detail\":\"\",\"trading_state\":"
                            "\"HALTED\",\"strategy_id\":\"\",\"symbol\":\"\"}}'\n" END),
                       NULL);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 2);
    const tb_event *a = tbt_nth(&f->rec, TB_EV_RISK_ALERT, 0);
    const tb_event *b = tbt_nth(&f->rec, TB_EV_RISK_ALERT, 1);
    assert_string_equal(a->u.risk_alert.rule, "ext");
    assert_int_equal(a->source, TB_SRC_EXTERNAL);
    assert_int_equal(a->causation_id, md.event_id);
    assert_int_equal(a->correlation_id, md.correlation_id);
    assert_int_equal(a->timestamp, md.timestamp); /* the input's, unless given */
    assert_int_equal(b->timestamp, 5);
    assert_int_equal(b->u.risk_alert.trading_state, TB_TRADING_HALTED);
    /* Its own counter (publisher 1), in the order it wrote them. */
    assert_int_equal((a->event_id >> 40) & 0xff, 1);
    assert_int_equal(b->event_id, a->event_id + 1);
    md = bar(1);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 4);
    assert_int_equal(tb_external_round_trips(f->x), 2);
    assert_int_equal(tb_external_finish(f->x), 0);
    assert_null(tb_external_failure(f->x));
    stop(f);
}

static void test_the_program_is_given_the_codec_line_of_each_event(void **state)
{
    (void)state;
    char path[1024], script[1400];
    snprintf(path, sizeof(path), "%s/seen.jsonl", dir);
    char body[1100];
    snprintf(body, sizeof(body), "  printf '%%s\\n' \"$l\" >> %s\n", path);
    snprintf(script, sizeof(script), "%s%s%s", LOOP_HEAD, body, END "\ndone\n");
    fixture *f = start(script, NULL);
    tb_event md = bar(3);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tb_external_finish(f->x), 0);
    char want[2048];
    int n = tb_codec_encode(&md, want, sizeof(want));
    assert_true(n > 0);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char got[2048] = "";
    assert_non_null(fgets(got, sizeof(got), in));
    fclose(in);
    got[strcspn(got, "\n")] = 0;
    assert_string_equal(got, want);
    stop(f);
}

/* The dead letter names the subscriber and the line; the good event of
 * the same reply is published and the next event is answered. */
static void test_a_line_that_is_not_an_event_is_dead_lettered_naming_the_line(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo 'not json'\n  echo '" ALERT "'\n" END), NULL);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 1);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 1);
    const tb_dead_letter *d = tb_bus_dead_letter(f->bus, 0);
    assert_string_equal(d->subscriber, "ext");
    assert_int_equal(d->event.event_id, md.event_id);
    assert_int_equal(d->attempts, 1); /* not retried: a retry would send it again */
    assert_non_null(strstr(d->reason, "stdout line 1: json:"));
    assert_non_null(strstr(f->log, "ext|stdout line 1 is not a valid event, dead-lettered"));
    md = bar(1);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 2);
    assert_int_equal(tb_bus_dead_letter_count(f->bus), 2);
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 1)->reason, "stdout line 4:"));
    assert_int_equal(tb_external_bad_lines(f->x), 2);
    assert_null(tb_external_failure(f->x));
    stop(f);
}

static void test_ids_and_source_set_by_the_program_are_refused(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo '{\"type\":\"RiskAlert\",\"event_id\":\"7\",\"payload\":"
                            "{\"rule\":\"x\",\"detail\":\"\",\"trading_state\":\"ACTIVE\","
                            "\"strategy_id\":\"\",\"symbol\":\"\"}}'\n"
                            "  echo '{\"type\":\"RiskAlert\",\"source\":\"risk\",\"payload\":"
                            "{\"rule\":\"x\",\"detail\":\"\",\"trading_state\":\"ACTIVE\","
                            "\"strategy_id\":\"\",\"symbol\":\"\"}}'\n" END),
                       NULL);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 0);
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 0)->reason,
                           "event_id: assigned by tradebus: leave it out"));
    assert_non_null(strstr(f->log, "line 2 is not a valid event, dead-lettered: source: assigned"));
    stop(f);
}

static void test_an_event_type_it_does_not_publish_is_dead_lettered(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo '{\"type\":\"OrderCanceled\",\"payload\":{\"order_id\":\"1\","
                            "\"client_order_id\":\"c\",\"strategy_id\":\"s1\",\"symbol\":"
                            "\"BTCUSDT\",\"side\":\"BUY\",\"filled_quantity\":\"0\","
                            "\"canceled_quantity\":\"1\",\"status\":\"CANCELED\",\"text\":\"\"}}'"
                            "\n" END),
                       NULL);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CANCELED), 0);
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 0)->reason,
                           "it publishes OrderCanceled, which is not in its publishes list"));
    stop(f);
}

static void stop_on_bad(tb_external_config *c)
{
    c->stop_on_bad_event = 1;
}

static void test_on_bad_event_stop_fails_the_component(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo '{\"type\":\"Nope\",\"payload\":{}}'\n" END), stop_on_bad);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    const char *why = tb_external_failure(f->x);
    assert_non_null(why);
    assert_non_null(strstr(why, "(on_bad_event = stop): stdout line 1: type: unknown event type"));
    /* Every later delivery fails at once, naming the stop. */
    md = bar(1);
    tb_bus_publish(f->bus, &md);
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 1)->reason, "component ext is stopped"));
    assert_int_equal(tb_external_finish(f->x), TB_EHANDLER);
    stop(f);
}

static void test_an_exit_fails_naming_the_command_status_and_last_event(void **state)
{
    (void)state;
    fixture *f = start("read -r l\necho 'Traceback: KeyError boom' >&2\nexit 3\n", NULL);
    tb_event md = bar(2);
    tb_bus_publish(f->bus, &md);
    const char *why = tb_external_failure(f->x);
    assert_non_null(why);
    char want[128];
    snprintf(want, sizeof(want), "the last event it was given: event %llu (MarketData at ",
             (unsigned long long)md.event_id);
    assert_non_null(strstr(why, "component ext ('sh "));
    assert_non_null(strstr(why, "ended (exit status 3) before answering"));
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "its last stderr line: Traceback: KeyError boom"));
    assert_non_null(strstr(f->log, "ext|Traceback: KeyError boom"));
    stop(f);
}

static void test_a_program_killed_by_a_signal_is_named(void **state)
{
    (void)state;
    fixture *f = start("read -r l\nkill -9 $$\n", NULL);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "killed by signal 9 (SIGKILL)"));
    stop(f);
}

static void short_timeout(tb_external_config *c)
{
    c->timeout_ns = 300 * 1000000LL;
}

static void test_a_program_that_does_not_answer_times_out(void **state)
{
    (void)state;
    fixture *f = start("exec cat >/dev/null\n", short_timeout);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "did not answer within 300 ms (timeout_ms)"));
    stop(f);
}

static void test_a_program_that_never_reads_times_out(void **state)
{
    (void)state;
    fixture *f = start("exec sleep 30\n", short_timeout);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "within 300 ms (timeout_ms)"));
    stop(f); /* kills it: the test does not wait 30 s */
}

static void small_lines(tb_external_config *c)
{
    c->max_line = 4096;
}

static void test_an_overlong_line_is_refused_and_the_next_line_read(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  head -c 100000 /dev/zero | tr '\\\\0' x; echo\n"
                            "  echo '" ALERT "'\n" END),
                       small_lines);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_null(tb_external_failure(f->x));
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 1);
    assert_non_null(strstr(tb_bus_dead_letter(f->bus, 0)->reason,
                           "stdout line 1: longer than 4096 bytes (max_line_bytes)"));
    md = bar(1);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 2);
    stop(f);
}

static void small_replies(tb_external_config *c)
{
    c->max_reply = 10;
}

static void test_a_reply_of_too_many_events_fails(void **state)
{
    (void)state;
    fixture *f =
        start(LOOP("  i=0; while [ $i -lt 11 ]; do echo '" ALERT "'; i=$((i+1)); done\n" END),
              small_replies);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x),
                           "wrote more than 10 events in one reply (max_reply_events)"));
    assert_true(tbt_count(&f->rec, TB_EV_RISK_ALERT) <= 10);
    stop(f);
}

static void test_a_reply_ended_with_another_events_id_fails(void **state)
{
    (void)state;
    fixture *f = start("while IFS= read -r l; do echo '{\"end\": \"42\"}'; done\n", NULL);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "with the id 42 (stdout line 1): its "
                                                      "replies are out of step with its input"));
    stop(f);
}

static void test_a_program_answering_twice_is_caught(void **state)
{
    (void)state;
    fixture *f = start(LOOP(END "\n" END), NULL);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    md = bar(1);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "stdout"));
    stop(f);
}

static void test_finish_ends_its_input_and_wants_exit_status_zero(void **state)
{
    (void)state;
    fixture *f = start(LOOP(END) "echo bye >&2\nexit 0\n", NULL);
    tb_event md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tb_external_finish(f->x), 0);
    assert_non_null(strstr(f->log, "ext|bye\n"));
    stop(f);
    f = start(LOOP(END) "exit 4\n", NULL);
    md = bar(0);
    assert_int_equal(tb_bus_publish(f->bus, &md), 0);
    assert_int_equal(tb_external_finish(f->x), TB_EHANDLER);
    assert_non_null(
        strstr(tb_external_failure(f->x),
               "ended (exit status 4) at the end of the run; it must exit with status 0"));
    stop(f);
}

static void test_a_command_the_shell_cannot_find_says_so(void **state)
{
    (void)state;
    fixture *f = start("exec /nonexistent/bot\n", NULL);
    tb_event md = bar(0);
    tb_bus_publish(f->bus, &md);
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "exit status 127"));
    stop(f);
}

static void window_of_4(tb_external_config *c)
{
    c->window = 4;
}

/* Each reply is published when the event 3 deliveries later is written,
 * caused by the event it answers; the last ones when the run ends. */
static void test_a_window_publishes_each_reply_window_minus_1_events_late(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo '" ALERT "'\n" END), window_of_4);
    uint64_t md_ids[10];
    for (int k = 0; k < 10; k++) {
        tb_event md = bar(k);
        assert_int_equal(tb_bus_publish(f->bus, &md), 0);
        md_ids[k] = md.event_id;
        assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), k >= 3 ? (size_t)(k - 2) : 0);
    }
    assert_int_equal(tb_external_finish(f->x), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 10);
    for (size_t k = 0; k < 10; k++)
        assert_int_equal(tbt_nth(&f->rec, TB_EV_RISK_ALERT, k)->causation_id, md_ids[k]);
    assert_int_equal(tb_external_round_trips(f->x), 10);
    stop(f);
}

static void test_a_window_fails_on_a_bad_line_instead_of_dead_lettering(void **state)
{
    (void)state;
    fixture *f = start(LOOP("  echo 'not json'\n" END), window_of_4);
    for (int k = 0; k < 4 && !tb_external_failure(f->x); k++) {
        tb_event md = bar(k);
        tb_bus_publish(f->bus, &md);
    }
    assert_non_null(tb_external_failure(f->x));
    assert_non_null(strstr(tb_external_failure(f->x), "window > 1 has no dead letters"));
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies_are_published_with_ids_causation_and_correlation),
        cmocka_unit_test(test_the_program_is_given_the_codec_line_of_each_event),
        cmocka_unit_test(test_a_line_that_is_not_an_event_is_dead_lettered_naming_the_line),
        cmocka_unit_test(test_ids_and_source_set_by_the_program_are_refused),
        cmocka_unit_test(test_an_event_type_it_does_not_publish_is_dead_lettered),
        cmocka_unit_test(test_on_bad_event_stop_fails_the_component),
        cmocka_unit_test(test_an_exit_fails_naming_the_command_status_and_last_event),
        cmocka_unit_test(test_a_program_killed_by_a_signal_is_named),
        cmocka_unit_test(test_a_program_that_does_not_answer_times_out),
        cmocka_unit_test(test_a_program_that_never_reads_times_out),
        cmocka_unit_test(test_an_overlong_line_is_refused_and_the_next_line_read),
        cmocka_unit_test(test_a_reply_of_too_many_events_fails),
        cmocka_unit_test(test_a_reply_ended_with_another_events_id_fails),
        cmocka_unit_test(test_a_program_answering_twice_is_caught),
        cmocka_unit_test(test_finish_ends_its_input_and_wants_exit_status_zero),
        cmocka_unit_test(test_a_command_the_shell_cannot_find_says_so),
        cmocka_unit_test(test_a_window_publishes_each_reply_window_minus_1_events_late),
        cmocka_unit_test(test_a_window_fails_on_a_bad_line_instead_of_dead_lettering),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
