/* Trades as trades.csv reports them, built by the monitor from hand-made
 * fills (the real Position Manager supplies the realized PnL): opening,
 * adding, a partial close, a flip that closes one trade and opens the next
 * with its commission split, the exit reason taken from the closing fill's
 * origin, and a trade still open at the end closed at the last close as
 * "end". Every figure is worked out in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tradebus/monitor.h>
#include <tradebus/position.h>

#include "tb_test_support.h"

typedef struct {
    tb_bus *bus;
    tb_position_manager *pm;
    tb_monitor *mon;
    FILE *trades, *equity; /* the monitor writes them as the run goes */
    int64_t now;
    unsigned n;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_int_equal(tb_position_manager_create(f->bus, &f->pm), 0);
    f->trades = tmpfile();
    f->equity = tmpfile();
    assert_non_null(f->trades);
    assert_non_null(f->equity);
    tb_monitor_config mc = {NULL, NULL, tbt_dec("1000"), f->trades, f->equity};
    assert_int_equal(tb_monitor_create(f->bus, &mc, &f->mon), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_monitor_destroy(f->mon);
    tb_position_manager_destroy(f->pm);
    tb_bus_destroy(f->bus);
    fclose(f->trades);
    fclose(f->equity);
    free(f);
    return 0;
}

static void bar(fixture *f, int minute, const char *o, const char *h, const char *l, const char *c)
{
    tb_market_data md = tbt_bar("BTCUSDT", minute, o, h, l, c, "10");
    tb_event ev = tbt_bar_event(&md);
    f->now = md.close_time;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static void fill_for(fixture *f, const char *strategy, tb_side side, const char *qty,
                     const char *price, const char *fee, tb_order_origin origin);

static void fill(fixture *f, tb_side side, const char *qty, const char *price, const char *fee,
                 tb_order_origin origin)
{
    fill_for(f, "s", side, qty, price, fee, origin);
}

static void fill_for(fixture *f, const char *strategy, tb_side side, const char *qty,
                     const char *price, const char *fee, tb_order_origin origin)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    ev.timestamp = f->now;
    ev.causation_id = ev.correlation_id = 7;
    tb_order_filled *o = &ev.u.order_filled;
    f->n++;
    snprintf(o->order_id, sizeof(o->order_id), "SIM-%u", f->n);
    snprintf(o->client_order_id, sizeof(o->client_order_id), "s-%u", f->n);
    strcpy(o->strategy_id, strategy);
    strcpy(o->symbol, "BTCUSDT");
    o->side = side;
    o->filled_quantity = o->cumulative_quantity = tbt_dec(qty);
    o->filled_price = o->average_price = tbt_dec(price);
    o->commission = tbt_dec(fee);
    o->status = TB_ORDER_FILLED;
    o->trade_id = f->n;
    o->origin = origin;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

/* What the file holds now (the stream stays at its end). */
static char *so_far(FILE *t)
{
    fflush(t);
    long n = ftell(t);
    rewind(t);
    char *s = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, t), (size_t)n);
    fseek(t, 0, SEEK_END);
    return s;
}

/* The file once the run is over. */
static char *written(fixture *f, int equity)
{
    assert_int_equal(tb_monitor_finish(f->mon), 0);
    return so_far(equity ? f->equity : f->trades);
}

static void test_trades_open_add_partial_close_flip_and_end(void **state)
{
    fixture *f = *state;
    bar(f, 0, "100", "102", "98", "100");
    fill(f, TB_SIDE_BUY, "1", "100", "0.1", TB_ORIGIN_SIGNAL); /* long 1 @ 100 */
    bar(f, 1, "100", "110", "95", "105");
    fill(f, TB_SIDE_BUY, "1", "110", "0.11", TB_ORIGIN_SIGNAL); /* add: 2 @ 105 */
    bar(f, 2, "105", "120", "104", "115");
    /* partial close: 1 × (120 − 105) = 15 realized */
    fill(f, TB_SIDE_SELL, "1", "120", "0.12", TB_ORIGIN_TAKE_PROFIT);
    bar(f, 3, "115", "116", "90", "95");
    /* flip: sells 3 — closes the last 1 (−10: the trade made 5) and opens
     * short 2 @ 95; the 0.3 fee goes 1/3 to the closing trade, 2/3 to the new. */
    fill(f, TB_SIDE_SELL, "3", "95", "0.3", TB_ORIGIN_STOP_LOSS);
    bar(f, 4, "95", "96", "80", "85");

    uint64_t closed, wins;
    tb_monitor_trades(f->mon, &closed, &wins);
    assert_int_equal(closed, 1); /* the short is still open */
    assert_int_equal(wins, 1);

    char *csv = written(f, 0);
    /* Long: exit average (120 + 95) / 2 = 107.5; fees 0.1 + 0.11 + 0.12 + 0.1
     * = 0.43; return (5 − 0.43) × 100 / (105 × 2) = 2.17619048; lowest low
     * 90, highest high 120 over its bars: −14.28571429 / +14.28571429.
     * Short, open: marked at the last close 85, (95 − 85) × 2 = 20, fee
     * 0.2, return 19.8 × 100 / 190 = 10.42105263; its bars (the flip's and
     * the last) reach 116 and 80: −22.10526316 / +15.78947368. */
    assert_string_equal(
        csv, "strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,quantity,pnl,fees,"
             "return_pct,exit_reason,mae_pct,mfe_pct\n"
             "s,BTCUSDT,long,1970-01-01T00:00:59.999Z,105,1970-01-01T00:03:59.999Z,107.5,2,5,"
             "0.43,2.17619048,stop_loss,-14.28571429,14.28571429\n"
             "s,BTCUSDT,short,1970-01-01T00:03:59.999Z,95,1970-01-01T00:04:59.999Z,85,2,20,0.2,"
             "10.42105263,end,-22.10526316,15.78947368\n");
    free(csv);

    /* Equity: 1000 + realized + unrealized − fees at each close. Bar 1: 2
     * @ 105 marked at 105, fees 0.21: 999.79, 0.11 under 999.9 (0.0110011%).
     * Bar 2, the peak: 1000 + 15 + (115 − 105) − 0.33 = 1024.67. Bar 3:
     * 1000 + 5 − 0.63 = 1004.37, 20.3 under it (1.98112563%). Bar 4:
     * 1000 + 5 + 20 − 0.63 = 1024.37 (0.3 under: 0.02927772%). */
    char *eq = written(f, 1);
    assert_string_equal(eq, "time,equity,drawdown_pct\n"
                            "1970-01-01T00:00:59.999Z,999.9,0\n"
                            "1970-01-01T00:01:59.999Z,999.79,0.0110011\n"
                            "1970-01-01T00:02:59.999Z,1024.67,0\n"
                            "1970-01-01T00:03:59.999Z,1004.37,1.98112563\n"
                            "1970-01-01T00:04:59.999Z,1024.37,0.02927772\n");
    free(eq);
}

#define HEADER                                                                                     \
    "strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,quantity,pnl,fees,"          \
    "return_pct,exit_reason,mae_pct,mfe_pct\n"

/* Two strategies' trades overlap: "a" opens first and closes last. A row
 * is written once the bar its trade closed on is over (so the monitor
 * keeps only open trades): "b"'s row comes first, and is in the file
 * before the run ends; equity rows follow the bars the same way. */
static void test_trades_written_as_they_close_in_closing_order(void **state)
{
    fixture *f = *state;
    bar(f, 0, "100", "101", "99", "100");
    fill_for(f, "a", TB_SIDE_BUY, "1", "100", "0", TB_ORIGIN_SIGNAL);
    bar(f, 1, "100", "101", "99", "100");
    fill_for(f, "b", TB_SIDE_BUY, "1", "100", "0", TB_ORIGIN_SIGNAL);
    bar(f, 2, "100", "111", "99", "110");
    fill_for(f, "b", TB_SIDE_SELL, "1", "110", "0", TB_ORIGIN_SIGNAL);
    char *csv = so_far(f->trades);
    assert_string_equal(csv, HEADER); /* its bar is not over yet */
    free(csv);
    bar(f, 3, "110", "121", "109", "120");
    const char *b_row =
        "b,BTCUSDT,long,1970-01-01T00:01:59.999Z,100,1970-01-01T00:02:59.999Z,110,1,10,"
        "0,10,signal,-1,11\n";
    csv = so_far(f->trades);
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", HEADER, b_row);
    assert_string_equal(csv, want);
    free(csv);
    /* (Equity rows reach the stream in 4 KB batches: the next test.) */
    fill_for(f, "a", TB_SIDE_SELL, "1", "120", "0", TB_ORIGIN_SIGNAL);
    uint64_t closed, wins;
    tb_monitor_trades(f->mon, &closed, &wins);
    assert_int_equal(closed, 2);
    assert_int_equal(wins, 2);
    csv = written(f, 0);
    snprintf(want, sizeof(want), "%s%s%s", HEADER, b_row,
             "a,BTCUSDT,long,1970-01-01T00:00:59.999Z,100,1970-01-01T00:03:59.999Z,120,1,20,0,20,"
             "signal,-1,21\n");
    assert_string_equal(csv, want);
    free(csv);
    char *eq = written(f, 1);
    assert_string_equal(eq, "time,equity,drawdown_pct\n"
                            "1970-01-01T00:00:59.999Z,1000,0\n"
                            "1970-01-01T00:01:59.999Z,1000,0\n"
                            "1970-01-01T00:02:59.999Z,1020,0\n"
                            "1970-01-01T00:03:59.999Z,1030,0\n");
    free(eq);
    /* Finished: a later event is counted, not written. */
    bar(f, 4, "120", "121", "119", "120");
    fill_for(f, "a", TB_SIDE_BUY, "1", "120", "0", TB_ORIGIN_SIGNAL);
    assert_int_equal(tb_monitor_finish(f->mon), 0);
    csv = so_far(f->trades);
    assert_string_equal(csv, want);
    free(csv);
}

/* equity.csv's rows are handed to the stream 4 KB at a time as the run
 * goes, not kept to the end (memory stays flat), and every one is there
 * after tb_monitor_finish, in order. */
static void test_equity_rows_reach_the_stream_as_the_run_goes(void **state)
{
    fixture *f = *state;
    const unsigned n = 400;
    for (unsigned i = 0; i < n; i++)
        bar(f, (int)i, "100", "101", "99", "100");
    char *eq = so_far(f->equity);
    size_t rows = 0;
    for (const char *p = eq; *p; p++)
        rows += *p == '\n';
    free(eq);
    /* "1970-01-01T06:39:59.999Z,1000,0\n" is 32 bytes: 4 KB hold 128. */
    assert_true(rows >= 1 + (n - 1) - 128);
    assert_int_equal(tb_monitor_finish(f->mon), 0);
    eq = so_far(f->equity);
    rows = 0;
    for (const char *p = eq; *p; p++)
        rows += *p == '\n';
    assert_int_equal(rows, 1 + n);
    assert_non_null(strstr(eq, "1970-01-01T00:00:59.999Z,1000,0\n1970-01-01T00:01:59.999Z"));
    assert_non_null(strstr(eq, "1970-01-01T06:39:59.999Z,1000,0\n"));
    free(eq);
}

/* A monitor with no file to write (a pipeline that only wants the
 * summary's trade counts) takes a shortcut on every bar; its counts of
 * closed and winning trades are the file-writing monitor's at every step,
 * through wins, a loss, a flip, a partial close and trades closing on the
 * same bar as others open. */
static void test_trades_counted_alike_without_files(void **state)
{
    fixture *f = *state;
    tb_monitor *bare;
    tb_monitor_config mc = {NULL, NULL, tbt_dec("1000"), NULL, NULL};
    assert_int_equal(tb_monitor_create(f->bus, &mc, &bare), 0);
    static const struct {
        const char *strat;
        tb_side side;
        const char *qty, *price, *fee;
    } steps[] = {
        {"a", TB_SIDE_BUY, "1", "100", "0.1"}, {"b", TB_SIDE_SELL, "2", "101", "0"},
        {"a", TB_SIDE_SELL, "1", "99", "0.1"}, /* a: a loss */
        {"b", TB_SIDE_BUY, "3", "95", "0.3"},  /* b: a win, and a flip to long 1 */
        {"a", TB_SIDE_BUY, "2", "96", "0"},    {"a", TB_SIDE_SELL, "1", "97", "0"}, /* partial */
        {"b", TB_SIDE_SELL, "1", "94", "0"},                                        /* b: a loss */
        {"a", TB_SIDE_SELL, "1", "98", "0.5"}, /* a: closed, 3 - 0.5 */
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char px[16];
        snprintf(px, sizeof(px), "%d", 90 + (int)i);
        bar(f, (int)i, "95", "110", "90", px);
        fill_for(f, steps[i].strat, steps[i].side, steps[i].qty, steps[i].price, steps[i].fee,
                 TB_ORIGIN_SIGNAL);
        uint64_t closed, wins, bare_closed, bare_wins;
        tb_monitor_trades(f->mon, &closed, &wins);
        tb_monitor_trades(bare, &bare_closed, &bare_wins);
        assert_int_equal(bare_closed, closed);
        assert_int_equal(bare_wins, wins);
    }
    bar(f, 20, "95", "110", "90", "100");
    assert_int_equal(tb_monitor_finish(f->mon), 0);
    assert_int_equal(tb_monitor_finish(bare), 0);
    uint64_t closed, wins, bare_closed, bare_wins;
    tb_monitor_trades(f->mon, &closed, &wins);
    tb_monitor_trades(bare, &bare_closed, &bare_wins);
    assert_int_equal(closed, 4); /* a twice, b twice (its flip closes one) */
    assert_int_equal(bare_closed, closed);
    assert_int_equal(bare_wins, wins);
    tb_monitor_destroy(bare);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trades_open_add_partial_close_flip_and_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trades_written_as_they_close_in_closing_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trades_counted_alike_without_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equity_rows_reach_the_stream_as_the_run_goes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
