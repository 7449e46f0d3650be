/* End to end: a journal written from a real pipeline run (every event the
 * bus dispatched, dead letters from a failing subscriber), then read with
 * the tradebus binary as a user does — journal trace, export, info and
 * dlq list, show, purge. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

#include <tradebus/tradebus.h>

static char dir[256], jpath[512];

/* What the run published, in dispatch order (= journal order). */
static tbt_recorder *run_events;

typedef struct {
    tb_journal *j;
    tbt_recorder *rec;
    int rc;
} journaler;

static int journal_event(const tb_event *ev, void *ctx)
{
    journaler *w = ctx;
    tbt_record(ev, w->rec);
    int rc = tb_journal_append(w->j, ev);
    if (rc && !w->rc) w->rc = rc;
    return rc;
}

static void keep_letter(const tb_dead_letter *d, void *ctx)
{
    journaler *w = ctx;
    int rc = tb_journal_dlq_add(w->j, d, INT64_C(1732550000000000000));
    if (rc && !w->rc) w->rc = rc;
}

/* A subscriber with a bug: it cannot handle fills. */
static int flaky(const tb_event *ev, void *ctx)
{
    tb_bus_fail_reason(ctx, "cannot book fill of order %s", ev->u.order_filled.order_id);
    return TB_EHANDLER;
}

/* Closes 10,10,10,10,12,14,16,14,10,8,8, each bar opening at the previous
 * close: sma_cross(2,3) buys on bar 4 (fills at bar 5's open) and sells on
 * bar 8 (fills at bar 9's open). */
static void run_pipeline_into_journal(void)
{
    static const char *const closes[] = {"10", "10", "10", "10", "12", "14",
                                         "16", "14", "10", "8",  "8"};
    static const char *const sets[] = {"strategy.s1.type=sma_cross", "strategy.s1.symbol=BTCUSDT",
                                       "strategy.s1.fast=2", "strategy.s1.slow=3",
                                       "strategy.s1.quantity=1"};
    char err[256];
    tb_config cfg;
    tb_config_init(&cfg);
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        if (tb_config_set(&cfg, sets[i], err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_config_add_data(&cfg, "unused.csv");
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);

    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = jpath;
    journaler w = {NULL, run_events, 0};
    if (tb_journal_open(&jc, &w.j, err, sizeof(err)) != 0) fail_msg("%s", err);

    tb_pipeline *p;
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_bus *bus = tb_pipeline_bus(p);
    /* The pipeline's bus was built without a dead-letter callback; the
     * failing subscriber's letters are copied from the bus after each bar. */
    assert_true(tb_bus_subscribe(bus, TB_BUS_ALL, journal_event, &w) >= 0);
    assert_true(tb_bus_subscribe_named(bus, TB_EV_ORDER_FILLED, flaky, bus, "flaky") >= 0);
    size_t letters = 0;
    for (int i = 0; i < 11; i++) {
        const char *open = closes[i ? i - 1 : 0];
        int up = tbt_dec(closes[i]) >= tbt_dec(open);
        tb_market_data bar = tbt_bar("BTCUSDT", i, open, up ? closes[i] : open,
                                     up ? open : closes[i], closes[i], "5");
        assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
        for (; letters < tb_bus_dead_letter_count(bus); letters++)
            keep_letter(tb_bus_dead_letter(bus, letters), &w);
        /* Commit at the bar boundary, as a run does. */
        assert_int_equal(tb_journal_commit(w.j), 0);
    }
    assert_int_equal(letters, 2); /* the buy's fill and the sell's */
    assert_int_equal(tb_journal_dlq_add_raw(w.j, "amqp",
                                            "payload.filled_price: not a decimal "
                                            "string",
                                            "{\"type\":\"OrderFilled\"}",
                                            INT64_C(1732550100000000000)),
                     0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(tb_journal_count(w.j), (int64_t)run_events->n);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
    tb_journal_close(w.j);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_e2e_journal_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(jpath, sizeof(jpath), "%s/journal.db", dir);
    run_events = calloc(1, sizeof(*run_events));
    if (!run_events) return -1;
    run_pipeline_into_journal();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(run_events);
    tbt_remove_tree(dir);
    return 0;
}

/* The commands exist once main.c dispatches them; until then there is
 * nothing to run end to end. */
static void require_commands(void)
{
    if (tbt_run_cli(dir, NULL, "journal --help") != 0 || tbt_run_cli(dir, NULL, "dlq --help") != 0)
        skip();
}

#define run(err_out, ...) tbt_run_cli(dir, err_out, __VA_ARGS__)

static char *stdout_text(void)
{
    char *s = tbt_read_in(dir, "stdout.txt");
    assert_non_null(s);
    return s;
}

/* The line of s that holds needle, its indentation in *indent; NULL if none. */
static const char *line_with(const char *s, const char *needle, int *indent)
{
    const char *hit = strstr(s, needle);
    if (!hit) return NULL;
    const char *start = hit;
    while (start > s && start[-1] != '\n')
        start--;
    *indent = (int)strspn(start, " ");
    return start;
}

static void test_e2e_journal_trace_prints_the_whole_chain(void **state)
{
    (void)state;
    require_commands();
    /* Ask for the middle of the chain: the first order's OrderCreated. */
    const tb_event *created = tbt_nth(run_events, TB_EV_ORDER_CREATED, 0);
    assert_non_null(created);
    char *err;
    assert_int_equal(
        run(&err, "journal trace %llu --journal journal.db", (unsigned long long)created->event_id),
        0);
    free(err);
    char *out = stdout_text();
    static const char *const chain[] = {
        " MarketData ",   " SignalGenerated ", " OrderPlacementRequest ",
        " OrderCreated ", " OrderFilled ",     " PositionUpdate "};
    int prev = -1;
    const char *from = out;
    for (size_t i = 0; i < 6; i++) {
        int indent;
        const char *line = line_with(from, chain[i], &indent);
        if (!line) fail_msg("no%s line after the previous one in:\n%s", chain[i], out);
        assert_true(indent > prev); /* each one level below its cause */
        prev = indent;
        from = line;
    }
    /* The root is the bar the signal was computed on (bar 4, close 12). */
    assert_non_null(strstr(out, "MarketData"));
    assert_true(strncmp(out, "1970-01-01T00:04:59.999Z MarketData ", 36) == 0);
    assert_non_null(strstr(out, "BTCUSDT close 12\n"));
    assert_non_null(strstr(out, "BUY 1 BTCUSDT @ 12 s1"));
    assert_non_null(strstr(out, "BUY 1 @ 12 fee 0"));
    /* Exactly one mark, on the event asked for. */
    int indent;
    const char *marked = line_with(out, "<-", &indent);
    assert_non_null(marked);
    assert_non_null(strstr(marked, " OrderCreated "));
    assert_null(strstr(strstr(out, "<-") + 2, "<-"));
    free(out);
}

static void test_e2e_journal_trace_unknown_id_exits_3(void **state)
{
    (void)state;
    require_commands();
    char *err;
    assert_int_equal(run(&err, "journal trace 12345 --journal journal.db"), 3);
    assert_non_null(strstr(err, "no event 12345"));
    free(err);
    /* Not digits: an order id, which no event carries. */
    assert_int_equal(run(&err, "journal trace x12 --journal journal.db"), 3);
    assert_non_null(strstr(err, "no event in journal.db has order id 'x12'"));
    free(err);
    assert_int_equal(run(&err, "journal trace 0123456789012345678901234567890123456789x "
                               "--journal journal.db"),
                     2);
    free(err);
}

static void test_e2e_journal_missing_journal_exits_3_and_creates_nothing(void **state)
{
    (void)state;
    require_commands();
    char *err;
    assert_int_equal(run(&err, "journal info --journal nope.db"), 3);
    assert_non_null(strstr(err, "nope.db: no such journal"));
    free(err);
    char p[600];
    snprintf(p, sizeof(p), "%s/nope.db", dir);
    assert_int_equal(access(p, F_OK), -1);
    /* A file that is not a journal at all. */
    char csv[600];
    tbt_write_file(dir, "bars.csv", tbt_staircase_csv, csv, sizeof(csv));
    assert_int_equal(run(&err, "dlq list --journal bars.csv"), 3);
    assert_non_null(strstr(err, "not a SQLite database"));
    free(err);
}

static void test_e2e_journal_export_writes_every_event(void **state)
{
    (void)state;
    require_commands();
    assert_int_equal(run(NULL, "journal export --journal journal.db --out all.jsonl"), 0);
    char *text = tbt_read_in(dir, "all.jsonl");
    assert_non_null(text);
    size_t n = 0;
    for (char *line = text, *nl; *line; line = nl + 1, n++) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        tb_event ev;
        char cerr[TB_CODEC_ERRLEN], want[2048];
        if (tb_codec_decode(line, (size_t)(nl - line), &ev, cerr, sizeof(cerr)) != 0)
            fail_msg("line %zu: %s", n + 1, cerr);
        assert_true(n < run_events->n);
        /* In dispatch order, byte for byte the codec's line. */
        tb_codec_encode(&run_events->events[n], want, sizeof(want));
        assert_int_equal(strlen(want), (size_t)(nl - line));
        assert_memory_equal(line, want, strlen(want));
    }
    assert_int_equal(n, run_events->n);
    /* Without --out: the same lines on stdout. */
    assert_int_equal(run(NULL, "journal export --journal journal.db"), 0);
    char *out = stdout_text();
    assert_string_equal(out, text);
    free(out);
    free(text);
}

static void test_e2e_journal_info_counts_events_by_type(void **state)
{
    (void)state;
    require_commands();
    assert_int_equal(run(NULL, "journal info --journal journal.db"), 0);
    char *out = stdout_text();
    char want[64];
    snprintf(want, sizeof(want), "events:         %zu\n", run_events->n);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "schema version: 1\n"));
    snprintf(want, sizeof(want), "  %-22s %8d\n", "MarketData", 11);
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want), "  %-22s %8d\n", "OrderFilled", 2);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "first event:    1970-01-01T00:00:59.999Z MarketData"));
    assert_non_null(strstr(out, "dead letters:   3\n"));
    assert_non_null(strstr(out, "created_at"));
    free(out);
}

static void test_e2e_dlq_list_show_purge(void **state)
{
    (void)state;
    require_commands();
    char *err;
    assert_int_equal(run(NULL, "dlq list --journal journal.db"), 0);
    char *out = stdout_text();
    assert_non_null(strstr(out, "ATTEMPTS"));
    int indent;
    const char *row = line_with(out, "flaky", &indent);
    assert_non_null(row);
    assert_true(strncmp(row, "1 ", 2) == 0);
    assert_non_null(strstr(row, "OrderFilled"));
    assert_non_null(strstr(out, "(raw input)"));
    free(out);

    assert_int_equal(run(NULL, "dlq show 1 --journal journal.db"), 0);
    out = stdout_text();
    assert_non_null(strstr(out, "component:  flaky\n"));
    assert_non_null(strstr(out, "reason:     cannot book fill of order"));
    assert_non_null(strstr(out, "error:      TB_EHANDLER"));
    assert_non_null(strstr(out, "\n  \"type\": \"OrderFilled\",\n")); /* pretty JSON */
    assert_non_null(strstr(out, "\n    \"filled_price\": \"12\",\n"));
    free(out);
    assert_int_equal(run(NULL, "dlq show 3 --journal journal.db"), 0);
    out = stdout_text();
    assert_non_null(strstr(out, "raw input:\n{\"type\":\"OrderFilled\"}\n"));
    free(out);

    assert_int_equal(run(NULL, "dlq purge 1 --journal journal.db"), 0);
    assert_int_equal(run(&err, "dlq show 1 --journal journal.db"), 3);
    free(err);
    assert_int_equal(run(&err, "dlq purge 1 --journal journal.db"), 3);
    assert_non_null(strstr(err, "no dead letter 1"));
    free(err);
    assert_int_equal(run(NULL, "dlq purge --all --journal journal.db"), 0);
    out = stdout_text();
    assert_string_equal(out, "purged 2 dead letters from journal.db\n");
    free(out);
    assert_int_equal(run(NULL, "dlq list --journal journal.db"), 0);
    out = stdout_text();
    assert_string_equal(out, "no dead letters in journal.db\n");
    free(out);
}

/* A dead letter whose reason and raw input came from a broker, with an OSC
 * title change, a CSI, a C1 CSI (U+009B), a stray byte and a valid "€":
 * `dlq list` and `dlq show` show them all escaped and keep the "€". */
static void test_e2e_dlq_show_escapes_hostile_bytes(void **state)
{
    (void)state;
    require_commands();
    char path[600], err[256];
    snprintf(path, sizeof(path), "%s/hostile.db", dir);
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = path;
    tb_journal *j;
    if (tb_journal_open(&jc, &j, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(tb_journal_dlq_add_raw(j, "amqp", "bad \x1b]0;pwned\x07 \xe2\x82\xac\xff",
                                            "{\"x\":\"\x1b[31mred\xc2\x9b"
                                            "2J\"}\r",
                                            INT64_C(1732550100000000000)),
                     0);
    assert_int_equal(tb_journal_commit(j), 0);
    tb_journal_close(j);
    const char *cmds[] = {"dlq show 1 --journal hostile.db", "dlq list --journal hostile.db"};
    for (int c = 0; c < 2; c++) {
        assert_int_equal(run(NULL, "%s", cmds[c]), 0);
        char *out = stdout_text();
        for (const unsigned char *p = (const unsigned char *)out; *p; p++)
            if ((*p < 0x20 && *p != '\n') || *p == 0x7f || *p == 0xff ||
                (*p == 0xc2 && p[1] == 0x9b))
                fail_msg("%s: raw byte 0x%02x in:\n%s", cmds[c], *p, out);
        assert_non_null(strstr(out, "bad \\x1b]0;pwned\\x07 \xe2\x82\xac\\xff"));
        if (c == 0) assert_non_null(strstr(out, "\\x1b[31mred\\u009b2J\"}\\x0d"));
        free(out);
    }
}

static void test_e2e_dlq_usage_errors_exit_2(void **state)
{
    (void)state;
    require_commands();
    char *err;
    assert_int_equal(run(&err, "dlq show --journal journal.db"), 2);
    free(err);
    assert_int_equal(run(&err, "dlq list"), 2); /* no --journal */
    assert_non_null(strstr(err, "--journal FILE is required"));
    free(err);
    assert_int_equal(run(&err, "dlq frobnicate --journal journal.db"), 2);
    free(err);
    assert_int_equal(run(&err, "journal info --journal journal.db --bogus"), 2);
    free(err);
}

int main(void)
{
    /* One journal for all: every test but the purge only reads it, and the
     * purge test runs after the ones that look at the queue. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e2e_journal_trace_prints_the_whole_chain),
        cmocka_unit_test(test_e2e_journal_trace_unknown_id_exits_3),
        cmocka_unit_test(test_e2e_journal_missing_journal_exits_3_and_creates_nothing),
        cmocka_unit_test(test_e2e_journal_export_writes_every_event),
        cmocka_unit_test(test_e2e_journal_info_counts_events_by_type),
        cmocka_unit_test(test_e2e_dlq_list_show_purge),
        cmocka_unit_test(test_e2e_dlq_usage_errors_exit_2),
        cmocka_unit_test(test_e2e_dlq_show_escapes_hostile_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
