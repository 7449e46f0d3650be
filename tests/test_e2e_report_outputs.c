/* End to end: what a backtest reports beyond PnL — the outcome keys of
 * summary.json (rejections by reason, alerts by rule, halts, return, trades,
 * win rate), the console's halt line and nothing-traded warning, and the
 * per-trade and per-bar files. Runs the tradebus binary on the crafted
 * 11-bar staircase (figures by hand) and on the bundled examples. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tradebus/decimal.h>

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

/* sma_cross(2,3) on the staircase buys 1 at 12.5 and sells 1 at 9.5. With
 * 100 of cash, equity peaks at 103.4875 on bar 7 (close 16, fee 0.0125) and
 * is 101.4875 on bar 8 (close 14): 1.93% down, over a 1% limit — a halt. */
static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT-1m-2024-01.csv\n"
                                  "initial_cash = 100\n"
                                  "[exchange]\n"
                                  "fee_bps = 10\n"
                                  "[risk]\n"
                                  "max_drawdown_pct = 1\n"
                                  "[strategy.s1]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "fast = 2\n"
                                  "slow = 3\n"
                                  "quantity = 1\n";

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_e2e_outputs_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    write_file("BTCUSDT-1m-2024-01.csv", tbt_staircase_csv);
    write_file("bt.ini", config);
    char link[512];
    snprintf(link, sizeof(link), "%s/data", dir);
    return symlink(TB_SOURCE_DIR "/data", link);
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static char *out_file(const char *out, const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s/%s", dir, out, name);
    return tbt_read_file(p);
}

static void test_e2e_summary_reports_the_halt_alerts_and_return(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config bt.ini --out h"), 0);
    assert_null(strstr(err, "nothing traded"));
    free(err);
    char *s = out_file("h", "summary.json");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"rejections\": {},"));
    assert_non_null(strstr(s, "\"risk_alerts\": {\"max_drawdown_pct\": 1},"));
    assert_non_null(strstr(s, "\"trading_state\": \"HALTED\","));
    assert_non_null(strstr(s, "\"halts\": [{\"time\": \"2024-01-01T00:07:59.999Z\", \"rule\": "
                              "\"max_drawdown_pct\", \"detail\": \"drawdown 1.93% > 1% (equity "
                              "101.4875, peak 103.4875)\"}],"));
    /* 96.978 − 100 = −3.022 of 100 */
    assert_non_null(strstr(s, "\"return_pct\": \"-3.022\","));
    assert_non_null(strstr(s, "\"size_too_small\": 0,"));
    free(s);
    char *o = out_file(".", "stdout.txt");
    assert_non_null(strstr(o, "trading HALTED at 2024-01-01T00:07:59.999Z by max_drawdown_pct: "
                              "drawdown 1.93% > 1% (equity 101.4875, peak 103.4875)\n"));
    assert_non_null(strstr(o, "  risk alerts    max_drawdown_pct 1\n"));
    assert_non_null(strstr(o, "(return -3.02%)"));
    free(o);
    /* The page: a banner for the halt, ratios n/a on an 11-minute run. */
    char *html = out_file("h", "report.html");
    assert_non_null(strstr(html, "<div class=\"banner\" id=\"halt\">Trading HALTED at "
                                 "2024-01-01 00:07 UTC by max_drawdown_pct: drawdown 1.93%"));
    assert_non_null(strstr(html, "n/a (under 30 days)"));
    assert_non_null(strstr(html, "id=\"first-alerts\""));
    free(html);
}

static void test_e2e_all_rejected_run_warns_with_the_reasons(void **state)
{
    (void)state;
    char *err = NULL;
    /* 5 of cash cannot pay for 1 at 12.5. */
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config bt.ini --out r --set backtest.initial_cash=5 "
                                 "--set risk.max_drawdown_pct=0"),
                     0);
    assert_non_null(
        strstr(err, "warning: nothing traded: 1 orders, all rejected (INSUFFICIENT_FUNDS 1)"));
    free(err);
    char *s = out_file("r", "summary.json");
    assert_non_null(strstr(s, "\"rejections\": {\"INSUFFICIENT_FUNDS\": 1},"));
    assert_non_null(strstr(s, "\"risk_alerts\": {},"));
    assert_non_null(strstr(s, "\"trading_state\": \"ACTIVE\","));
    assert_non_null(strstr(s, "\"halts\": [],"));
    assert_non_null(strstr(s, "\"return_pct\": \"0.00\","));
    assert_non_null(strstr(s, "\"win_rate\": \"0.00\","));
    free(s);
    char *o = out_file(".", "stdout.txt");
    assert_non_null(strstr(o, "  rejections     INSUFFICIENT_FUNDS 1\n"));
    free(o);
}

static void test_e2e_silent_strategy_warns_nothing_signaled(void **state)
{
    (void)state;
    char *err = NULL;
    /* slow = 30 never warms up on 11 bars. */
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config bt.ini --out q "
                                 "--set strategy.s1.slow=30"),
                     0);
    assert_non_null(strstr(err, "warning: nothing traded: no strategy signaled (11 bars)"));
    free(err);
}

/* Splits line (modified) at commas into at most max fields; returns count. */
static size_t split(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p) break;
        *p++ = 0;
    }
    return n;
}

static void test_e2e_fills_csv_names_event_and_origin_and_trace_takes_order_ids(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config %s/examples/sma_cross.ini --out ex --quiet "
                                 "--journal ex.db",
                                 TB_SOURCE_DIR),
                     0);
    char *fills = out_file("ex", "fills.csv"), *events = out_file("ex", "events.jsonl");
    assert_non_null(fills);
    char *save = NULL, *line = strtok_r(fills, "\n", &save);
    assert_string_equal(line, "timestamp,strategy_id,symbol,side,order_id,client_order_id,"
                              "quantity,price,commission,event_id,origin");
    size_t rows = 0;
    char third_client[64] = "", third_event[32] = "";
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *f[16] = {0};
        assert_int_equal(split(line, f, 16), 11);
        assert_string_equal(f[10], "signal"); /* the example has no stops */
        /* The event id is the OrderFilled of that client order id. */
        char pat[160];
        snprintf(pat, sizeof(pat), "\"type\":\"OrderFilled\",\"version\":1,\"event_id\":\"%s\"",
                 f[9]);
        const char *ev = strstr(events, pat);
        if (!ev) fail_msg("fills.csv row %zu: no OrderFilled %s in events.jsonl", rows + 1, f[9]);
        snprintf(pat, sizeof(pat), "\"client_order_id\":\"%s\"", f[5]);
        const char *eol = strchr(ev, '\n');
        const char *c = strstr(ev, pat);
        assert_true(c && c < eol);
        if (++rows == 3) {
            snprintf(third_client, sizeof(third_client), "%s", f[5]);
            snprintf(third_event, sizeof(third_event), "%s", f[9]);
        }
    }
    assert_true(rows > 10);
    free(fills);
    free(events);

    /* The journal traces an order by its client id or the exchange's. */
    char *err = NULL;
    assert_string_equal(third_client, "btc_trend-3");
    assert_int_equal(tbt_run_cli(dir, &err, "journal trace btc_trend-3 --journal ex.db"), 0);
    free(err);
    char *o = out_file(".", "stdout.txt");
    assert_non_null(strstr(o, "OrderCreated"));
    assert_non_null(strstr(o, "order SIM-3 NEW (btc_trend-3)  <-"));
    assert_non_null(strstr(o, third_event)); /* the fill hangs below it */
    assert_int_equal(strncmp(o + 25, "MarketData", 10), 0);
    free(o);
    assert_int_equal(tbt_run_cli(dir, &err, "journal trace SIM-3 --journal ex.db"), 0);
    free(err);
    o = out_file(".", "stdout.txt");
    assert_non_null(strstr(o, "order SIM-3 NEW (btc_trend-3)  <-"));
    free(o);
    assert_int_equal(tbt_run_cli(dir, &err, "journal trace btc_trend-999 --journal ex.db"), 3);
    assert_non_null(strstr(err, "no event in ex.db has order id 'btc_trend-999'"));
    free(err);
}

/* The decimal in a JSON line "key": "value" of summary.json. */
static tb_decimal summary_dec(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": \"", key);
    const char *p = strstr(s, pat);
    assert_non_null(p);
    p += strlen(pat);
    tb_decimal d;
    assert_int_equal(tb_dec_parse(p, strcspn(p, "\""), &d), 0);
    return d;
}

static void test_e2e_trades_and_equity_csv_agree_with_the_summary(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config %s/examples/multi.ini --out m --quiet",
                                 TB_SOURCE_DIR),
                     0);
    char *sum = out_file("m", "summary.json"), *trades = out_file("m", "trades.csv");
    char *equity = out_file("m", "equity.csv");
    assert_non_null(sum);
    assert_non_null(trades);
    assert_non_null(equity);

    /* Σ trade PnL = realized + unrealized (trades open at the end are
     * marked at the last close, as the summary marks them); Σ fees = fees. */
    char *copy = strdup(trades), *save = NULL;
    char *line = strtok_r(copy, "\n", &save);
    assert_string_equal(line, "strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,"
                              "quantity,pnl,fees,return_pct,exit_reason,mae_pct,mfe_pct");
    tb_decimal pnl = 0, fees = 0;
    long closed = 0, wins = 0, ended = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *f[16] = {0};
        assert_int_equal(split(line, f, 16), 14);
        assert_true(!strcmp(f[2], "long") || !strcmp(f[2], "short"));
        tb_decimal p, fe;
        assert_int_equal(tb_dec_parse(f[8], (size_t)-1, &p), 0);
        assert_int_equal(tb_dec_parse(f[9], (size_t)-1, &fe), 0);
        assert_int_equal(tb_dec_add(pnl, p, &pnl), 0);
        assert_int_equal(tb_dec_add(fees, fe, &fees), 0);
        if (!strcmp(f[11], "end")) {
            ended++;
        } else {
            assert_string_equal(f[11], "signal");
            closed++;
            wins += p - fe > 0;
        }
        assert_true(strcmp(f[3], f[5]) <= 0); /* ISO times order as text */
    }
    free(copy);
    assert_true(closed > 20);
    assert_true(wins > 0 && wins < closed);
    assert_true(ended <= 2); /* two strategies */
    tb_decimal want;
    assert_int_equal(
        tb_dec_add(summary_dec(sum, "realized_pnl"), summary_dec(sum, "unrealized_pnl"), &want), 0);
    assert_true(pnl == want);
    assert_true(fees == summary_dec(sum, "fees"));
    char pat[64];
    snprintf(pat, sizeof(pat), "\"trades\": %ld,", closed);
    assert_non_null(strstr(sum, pat));
    assert_non_null(strstr(sum, "\"win_rate\": \""));

    /* One row per bar close time (1-minute bars): the last is the final equity. */
    assert_int_equal(strncmp(equity, "time,equity,drawdown_pct\n", 25), 0);
    size_t rows = 0;
    for (const char *c = equity; *c; c++)
        rows += *c == '\n';
    assert_int_equal(rows - 1, 2880);
    const char *last = equity + strlen(equity) - 1;
    while (last > equity && last[-1] != '\n')
        last--;
    const char *c1 = strchr(last, ',');
    tb_decimal fin;
    assert_int_equal(tb_dec_parse(c1 + 1, strcspn(c1 + 1, ","), &fin), 0);
    assert_true(fin == summary_dec(sum, "final_equity"));

    /* tradebus report rebuilds both from events.jsonl, byte for byte. */
    char p1[512];
    snprintf(p1, sizeof(p1), "%s/m/trades.csv", dir);
    assert_int_equal(remove(p1), 0);
    snprintf(p1, sizeof(p1), "%s/m/equity.csv", dir);
    assert_int_equal(remove(p1), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "report m"), 0);
    char *t2 = out_file("m", "trades.csv"), *e2 = out_file("m", "equity.csv");
    assert_non_null(t2);
    assert_non_null(e2);
    assert_string_equal(t2, trades);
    assert_string_equal(e2, equity);
    free(t2);
    free(e2);
    free(sum);
    free(trades);
    free(equity);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_e2e_summary_reports_the_halt_alerts_and_return, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_e2e_all_rejected_run_warns_with_the_reasons, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_e2e_silent_strategy_warns_nothing_signaled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_e2e_fills_csv_names_event_and_origin_and_trace_takes_order_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_e2e_trades_and_equity_csv_agree_with_the_summary,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
