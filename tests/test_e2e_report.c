/* End to end: the backtest report. A real run of examples/multi.ini is
 * turned into report.html (by the library and by `tradebus report`), then
 * rendered by headless Chromium: the DOM must hold the drawn charts and the
 * summary's exact figures, and a screenshot must come out. A small
 * hand-written run checks the escaping, the hand-computed figures and the
 * errors. Chromium is required: without it the test fails, never skips. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <tradebus/codec.h>
#include <tradebus/report.h>

#include "tb_test_cli.h"

#define CHROMIUM "/usr/bin/chromium"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_e2e_report_XXXXXX");
    if (!mkdtemp(dir)) return -1;
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

static char *path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The text of the element with id="id" (up to the next '<'), or "". */
static void text_of(const char *dom, const char *id, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "id=\"%s\"", id);
    const char *p = strstr(dom, pat);
    out[0] = 0;
    if (!p || !(p = strchr(p, '>'))) return;
    p++;
    size_t n = strcspn(p, "<");
    if (n >= len) n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static const char *summary_str(json_t *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s, key));
    assert_non_null(v);
    return v;
}

static void run_chromium(const char *what, const char *url, const char *redirect)
{
    struct stat st;
    if (stat(CHROMIUM, &st) != 0)
        fail_msg("%s not found: the report test renders the page in headless Chromium "
                 "(Debian package 'chromium': apt-get install chromium)",
                 CHROMIUM);
    char profile[512], cmd[4096];
    snprintf(profile, sizeof(profile), "%s/chrome-profile-%s", dir, what);
    snprintf(cmd, sizeof(cmd),
             "timeout 120 " CHROMIUM " --headless --no-sandbox --disable-gpu --disable-quic "
             "--no-first-run --disable-background-networking --disable-component-update "
             "--disable-sync --user-data-dir=%s %s %s 2>%s/chromium-%s.log",
             profile, redirect, url, dir, what);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("chromium (%s) failed (status %d): see %s/chromium-%s.log", what, rc, dir, what);
}

static void test_e2e_report_of_a_backtest_renders_with_exact_figures(void **state)
{
    (void)state;
    char p[512], q[512], cmd_out[600];
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config %s/examples/multi.ini --out run --quiet",
                                 TB_SOURCE_DIR),
                     0);

    /* The library call (what `tradebus report` runs), timed for the log:
     * tests assert no time. */
    char err[512];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = tb_report_write(path_in(p, sizeof(p), "run"), err, sizeof(err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) fail_msg("tb_report_write: %s", err);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("report of 5760 bars in %.3f s\n", secs);

    /* The command rebuilds it. */
    assert_int_equal(remove(path_in(p, sizeof(p), "run/report.html")), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "report run"), 0);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "written to run/report.html"));
    free(out);

    char *html = tbt_read_in(dir, "run/report.html");
    assert_non_null(html);
    /* Self-contained: no script, nothing to fetch. */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_int_equal(count(html, "http"), count(html, "http://www.w3.org/2000/svg"));
    free(html);

    snprintf(q, sizeof(q), "file://%s/run/report.html", dir);
    snprintf(cmd_out, sizeof(cmd_out), "--dump-dom >%s/dom.html", dir);
    run_chromium("dom", q, cmd_out);
    char *dom = tbt_read_in(dir, "dom.html");
    assert_non_null(dom);

    json_error_t je;
    json_t *sum = json_load_file(path_in(p, sizeof(p), "run/summary.json"), 0, &je);
    assert_non_null(sum);

    /* Charts: the equity curve, the drawdown, one price chart per symbol. */
    assert_non_null(strstr(dom, "id=\"equity-chart\""));
    assert_non_null(strstr(dom, "id=\"drawdown-chart\""));
    assert_non_null(strstr(dom, "id=\"price-0\""));
    assert_non_null(strstr(dom, "id=\"price-1\""));
    /* Equity and the buy-and-hold benchmark in one chart, both named. */
    assert_int_equal(count(dom, "<polyline"), 4);
    const char *eq_chart = strstr(dom, "id=\"equity-chart\"");
    const char *eq_chart_end = strstr(eq_chart, "</svg>");
    const char *curves[2] = {"<polyline class=\"equity\"", "<polyline class=\"bench\""};
    for (size_t k = 0; k < 2; k++) {
        const char *eq = strstr(eq_chart, curves[k]);
        if (!eq || eq > eq_chart_end) fail_msg("no %s in the equity chart", curves[k]);
        eq = strstr(eq, "points=\"") + strlen("points=\"");
        const char *eq_end = strchr(eq, '"');
        size_t pts = 0;
        for (const char *c = eq; c < eq_end; c++)
            pts += *c == ',';
        assert_true(pts > 1000); /* 2880 bar closes, thinned to at most 2000 */
        assert_true(pts <= 2000);
    }
    const char *legend = strstr(eq_chart, "buy and hold (equal weight)</text>");
    assert_true(legend && legend < eq_chart_end);
    legend = strstr(eq_chart, "account equity</text>");
    assert_true(legend && legend < eq_chart_end);
    assert_non_null(strstr(strstr(dom, "id=\"drawdown-chart\""), "<path class=\"area\""));
    /* One marker per fill. */
    size_t buys = count(dom, "class=\"mk buy\""), sells = count(dom, "class=\"mk sell\"");
    assert_true(buys > 0 && sells > 0);
    assert_int_equal(buys + sells, json_integer_value(json_object_get(sum, "fills")));

    /* The figures shown are the summary's, to the last digit. */
    char got[64];
    text_of(dom, "final-equity", got, sizeof(got));
    assert_string_equal(got, summary_str(sum, "final_equity"));
    text_of(dom, "fees", got, sizeof(got));
    assert_string_equal(got, summary_str(sum, "fees"));
    text_of(dom, "realized-pnl", got, sizeof(got));
    assert_string_equal(got, summary_str(sum, "realized_pnl"));
    text_of(dom, "unrealized-pnl", got, sizeof(got));
    assert_string_equal(got, summary_str(sum, "unrealized_pnl"));
    text_of(dom, "fills", got, sizeof(got));
    char fills[32];
    snprintf(fills, sizeof(fills), "%lld",
             (long long)json_integer_value(json_object_get(sum, "fills")));
    assert_string_equal(got, fills);
    tb_decimal fin, ini, net;
    assert_int_equal(tb_dec_parse(summary_str(sum, "final_equity"), (size_t)-1, &fin), 0);
    assert_int_equal(tb_dec_parse(summary_str(sum, "initial_equity"), (size_t)-1, &ini), 0);
    assert_int_equal(tb_dec_sub(fin, ini, &net), 0);
    char want[TB_DECIMAL_STRLEN];
    tb_dec_format(net, want, sizeof(want));
    text_of(dom, "net-pnl", got, sizeof(got));
    assert_string_equal(got, want);
    /* Each position's row holds the summary's quantity, entry and PnL. */
    size_t i;
    json_t *pos;
    json_array_foreach(json_object_get(sum, "positions"), i, pos)
    {
        char pat[128];
        snprintf(pat, sizeof(pat), "data-pos=\"%s/%s\"", summary_str(pos, "strategy_id"),
                 summary_str(pos, "symbol"));
        const char *row = strstr(dom, pat);
        assert_non_null(row);
        const char *row_end = strstr(row, "</tr>");
        const char *keys[] = {"quantity", "entry_price", "unrealized_pnl", "total_realized_pnl"};
        for (size_t k = 0; k < 4; k++) {
            char cell[64];
            snprintf(cell, sizeof(cell), ">%s</td>", summary_str(pos, keys[k]));
            const char *c = strstr(row, cell);
            if (!c || c > row_end) fail_msg("%s: no cell %s", pat, cell);
        }
    }
    assert_non_null(strstr(dom, "id=\"stats\""));
    assert_non_null(strstr(dom, "all strategies"));
    assert_non_null(strstr(dom, "id=\"bench-row\""));
    text_of(dom, "bench-return", got, sizeof(got));
    assert_true(strlen(got) > 1 && got[strlen(got) - 1] == '%');
    /* Daily returns: two UTC days, chained from the initial equity to the final. */
    assert_non_null(strstr(dom, "<table id=\"periods\">"));
    assert_int_equal(count(dom, "<tr data-period="), 2);
    const char *day1 = strstr(dom, "<tr data-period=\"2024-01-01\">");
    const char *day2 = strstr(dom, "<tr data-period=\"2024-01-02\">");
    assert_true(day1 && day2 && day1 < day2);
    char cells[128];
    snprintf(cells, sizeof(cells), "<td>2024-01-01</td><td class=\"n \">%s</td>",
             summary_str(sum, "initial_equity"));
    assert_ptr_equal(strstr(dom, cells), day1 + strlen("<tr data-period=\"2024-01-01\">"));
    snprintf(cells, sizeof(cells), ">%s</td>", summary_str(sum, "final_equity"));
    const char *fin_cell = strstr(day2, cells);
    assert_true(fin_cell && fin_cell < strstr(day2, "</tr>"));
    assert_true(count(dom, "<tr") > 50); /* the trades table */
    json_decref(sum);
    free(dom);

    /* No horizontal scrolling at 1280 px. The page has no script, so a copy
     * gets one that writes the document's width into its title. */
    char *page = tbt_read_in(dir, "run/report.html");
    assert_non_null(page);
    FILE *w = fopen(path_in(p, sizeof(p), "run/width.html"), "w");
    assert_non_null(w);
    fprintf(w,
            "%s<script>document.title = 'scrollWidth=' + "
            "document.documentElement.scrollWidth;</script>\n",
            page);
    assert_int_equal(fclose(w), 0);
    free(page);
    snprintf(q, sizeof(q), "file://%s/run/width.html", dir);
    snprintf(cmd_out, sizeof(cmd_out), "--window-size=1280,2000 --dump-dom >%s/width.html", dir);
    run_chromium("width", q, cmd_out);
    char *wdom = tbt_read_in(dir, "width.html");
    assert_non_null(wdom);
    const char *sw = strstr(wdom, "<title>scrollWidth=");
    if (!sw) fail_msg("the width script did not run: %s/width.html", dir);
    long width = strtol(sw + strlen("<title>scrollWidth="), NULL, 10);
    print_message("report scrollWidth at 1280 px: %ld\n", width);
    assert_true(width > 0);
    if (width > 1280) fail_msg("report.html scrolls sideways at 1280 px: scrollWidth %ld", width);
    free(wdom);

    snprintf(q, sizeof(q), "file://%s/run/report.html", dir);
    snprintf(cmd_out, sizeof(cmd_out), "--screenshot=%s/report.png --window-size=1400,3000", dir);
    run_chromium("png", q, cmd_out);
    struct stat st;
    assert_int_equal(stat(path_in(p, sizeof(p), "report.png"), &st), 0);
    assert_true(st.st_size > 50000); /* a blank 1400x3000 page is a few kB */
    char *png = tbt_read_in(dir, "report.png");
    assert_memory_equal(png, "\x89PNG", 4);
    free(png);
}

/* The backtest builds its page and CSVs from its Monitor's replay, not from
 * events.jsonl read back: they must be, byte for byte, what `tradebus
 * report` rebuilds from the folder's files — for several strategies and
 * symbols, and for a run with the report off (the Monitor then writes the
 * CSVs as the run goes). */
static void test_e2e_backtest_outputs_are_what_report_rebuilds_from_the_files(void **state)
{
    (void)state;
    const char *names[] = {"trades.csv", "equity.csv", "report.html"};
    const char *configs[] = {"multi", "mtf", "sma_cross"};
    /* mtf.ini names its Lua script from the working directory. */
    char link[512];
    if (symlink(TB_SOURCE_DIR "/examples", path_in(link, sizeof(link), "examples")) != 0)
        fail_msg("cannot link examples/ into %s", dir);
    for (size_t c = 0; c < 3; c++) {
        for (int report = 1; report >= 0; report--) {
            char out[64];
            snprintf(out, sizeof(out), "own-%s-%d", configs[c], report);
            assert_int_equal(tbt_run_cli(dir, NULL,
                                         "backtest --config %s/examples/%s.ini --out %s "
                                         "--set output.report=%s --quiet",
                                         TB_SOURCE_DIR, configs[c], out, report ? "true" : "false"),
                             0);
            char *own[3];
            for (int i = 0; i < 3; i++) {
                char name[128];
                snprintf(name, sizeof(name), "%s/%s", out, names[i]);
                own[i] = tbt_read_in(dir, name);
                if (i < 2) assert_non_null(own[i]);
            }
            assert_true(report ? own[2] != NULL : own[2] == NULL);
            assert_int_equal(tbt_run_cli(dir, NULL, "report %s", out), 0);
            for (int i = 0; i < 3; i++) {
                char name[128];
                snprintf(name, sizeof(name), "%s/%s", out, names[i]);
                char *rebuilt = tbt_read_in(dir, name);
                assert_non_null(rebuilt);
                if (own[i] && strcmp(own[i], rebuilt) != 0)
                    fail_msg("%s/%s: the backtest's differs from the one rebuilt from the files",
                             configs[c], names[i]);
                free(rebuilt);
                free(own[i]);
            }
        }
    }
}

static void test_e2e_report_without_event_log_exits_3(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config %s/examples/multi.ini --out bare --quiet "
                                 "--set output.event_log=false",
                                 TB_SOURCE_DIR),
                     0);
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "report bare"), 3);
    assert_non_null(strstr(err, "bare/events.jsonl is missing: the report needs the event log "
                                "([output] event_log = true)"));
    free(err);
    char p[512], msg[512];
    assert_int_equal(tb_report_write(path_in(p, sizeof(p), "bare"), msg, sizeof(msg)),
                     TB_ENOTFOUND);
    assert_int_equal(tbt_run_cli(dir, &err, "report nowhere"), 3);
    assert_non_null(strstr(err, "DIR is the output folder of a backtest (holding summary.json and "
                                "events.jsonl); nowhere does not exist"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "report"), 2);
    assert_int_equal(tbt_run_cli(dir, NULL, "report a b"), 2);
}

/* A run written by hand: strategy "<b>x&y</b>" buys 1 at 10 (fee 0.01) and
 * sells 1 at 12 (fee 0.012): realized 2, fees 0.022, final 1001.978. */
static void write_hand_run(const char *sub, const char *final_equity, const char *extra_line)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    mkdir(p, 0777);
    snprintf(p, sizeof(p), "%s/%s/summary.json", dir, sub);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"bars\": 2, \"fills\": 2, \"realized_pnl\": \"2\", \"unrealized_pnl\": \"0\", "
            "\"fees\": \"0.022\", \"initial_equity\": \"1000\", \"final_equity\": \"%s\", "
            "\"max_drawdown_pct\": \"0\", \"positions\": [{\"strategy_id\": \"<b>x&y</b>\", "
            "\"symbol\": \"BTCUSDT\", \"quantity\": \"0\", \"entry_price\": \"0\", "
            "\"realized_pnl\": \"2\", \"unrealized_pnl\": \"0\", \"total_realized_pnl\": \"2\", "
            "\"status\": \"CLOSED\"}]}\n",
            final_equity);
    fclose(f);
    snprintf(p, sizeof(p), "%s/%s/events.jsonl", dir, sub);
    f = fopen(p, "w");
    assert_non_null(f);
    const int64_t min = 60000000000LL, t0 = 1704067200000000000LL;
    uint64_t id = 1;
    for (int bar = 0; bar < 2; bar++) {
        tb_event ev;
        char buf[2048];
        tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
        ev.event_id = ev.correlation_id = id++;
        ev.timestamp = ev.u.market_data.close_time = t0 + (bar + 1) * min - 1000000;
        ev.u.market_data.open_time = t0 + bar * min;
        strcpy(ev.u.market_data.symbol, "BTCUSDT");
        tb_decimal px = (10 + 2 * bar) * TB_DECIMAL_ONE;
        ev.u.market_data.open = ev.u.market_data.high = ev.u.market_data.low = px;
        ev.u.market_data.close = px;
        ev.u.market_data.volume = TB_DECIMAL_ONE;
        assert_true(tb_codec_encode(&ev, buf, sizeof(buf)) > 0);
        fprintf(f, "%s\n", buf);

        tb_event fe;
        tb_event_init(&fe, TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
        fe.event_id = id++;
        fe.causation_id = fe.correlation_id = ev.event_id;
        fe.timestamp = ev.timestamp;
        tb_order_filled *o = &fe.u.order_filled;
        snprintf(o->order_id, sizeof(o->order_id), "SIM-%d", bar + 1);
        snprintf(o->client_order_id, sizeof(o->client_order_id), "c-%d", bar + 1);
        strcpy(o->strategy_id, "<b>x&y</b>");
        strcpy(o->symbol, "BTCUSDT");
        o->side = bar ? TB_SIDE_SELL : TB_SIDE_BUY;
        o->filled_quantity = o->cumulative_quantity = TB_DECIMAL_ONE;
        o->filled_price = o->average_price = px;
        o->commission = bar ? 1200000 : 1000000; /* 0.012, 0.01 */
        o->status = TB_ORDER_FILLED;
        o->trade_id = (uint64_t)bar + 1;
        assert_true(tb_codec_encode(&fe, buf, sizeof(buf)) > 0);
        fprintf(f, "%s\n", buf);

        tb_event pe;
        tb_event_init(&pe, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
        pe.event_id = id++;
        pe.causation_id = fe.event_id;
        pe.correlation_id = ev.event_id;
        pe.timestamp = ev.timestamp;
        tb_position_update *u = &pe.u.position;
        u->position_id = 1;
        strcpy(u->strategy_id, "<b>x&y</b>");
        strcpy(u->symbol, "BTCUSDT");
        u->current_quantity = bar ? 0 : TB_DECIMAL_ONE;
        u->entry_price = bar ? 0 : px;
        u->realized_pnl = bar ? 2 * TB_DECIMAL_ONE : 0;
        u->mark_price = px;
        u->status = bar ? TB_POSITION_CLOSED : TB_POSITION_OPEN;
        assert_true(tb_codec_encode(&pe, buf, sizeof(buf)) > 0);
        fprintf(f, "%s\n", buf);
    }
    if (extra_line) fprintf(f, "%s\n", extra_line);
    fclose(f);
}

static void test_e2e_report_escapes_input_and_matches_hand_figures(void **state)
{
    (void)state;
    write_hand_run("hand", "1001.978", NULL);
    char p[512], err[512];
    int rc = tb_report_write(path_in(p, sizeof(p), "hand"), err, sizeof(err));
    if (rc) fail_msg("tb_report_write: %s", err);
    char *html = tbt_read_in(dir, "hand/report.html");
    assert_null(strstr(html, "<b>x"));
    assert_non_null(strstr(html, "&lt;b&gt;x&amp;y&lt;/b&gt;"));
    char got[64];
    text_of(html, "final-equity", got, sizeof(got));
    assert_string_equal(got, "1001.978");
    text_of(html, "net-pnl", got, sizeof(got));
    assert_string_equal(got, "1.978");
    /* One winning round trip: net 2 - 0.022. */
    assert_non_null(strstr(html, ">1.978</td>"));
    assert_non_null(strstr(html, ">100.00%</td>")); /* win rate */
    free(html);
}

static void test_e2e_report_names_the_bad_line_and_the_disagreement(void **state)
{
    (void)state;
    char p[512], err[512];
    write_hand_run("bad", "1001.978", "{\"type\":\"MarketData\"}");
    assert_int_equal(tb_report_write(path_in(p, sizeof(p), "bad"), err, sizeof(err)), TB_EPARSE);
    assert_non_null(strstr(err, "bad/events.jsonl:7: "));
    write_hand_run("off", "1001.97800001", NULL);
    assert_int_equal(tb_report_write(path_in(p, sizeof(p), "off"), err, sizeof(err)), TB_EDATA);
    assert_non_null(strstr(err, "final_equity"));
    assert_non_null(strstr(err, "1001.978 from the events, 1001.97800001 in the summary"));
    struct stat st;
    assert_int_not_equal(stat(path_in(p, sizeof(p), "off/report.html"), &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_e2e_report_of_a_backtest_renders_with_exact_figures,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_e2e_backtest_outputs_are_what_report_rebuilds_from_the_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_e2e_report_without_event_log_exits_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_e2e_report_escapes_input_and_matches_hand_figures,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_e2e_report_names_the_bad_line_and_the_disagreement,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
