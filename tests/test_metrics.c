/* Prometheus metrics: snapshots of a real pipeline run, the handler-latency
 * histogram, the HTTP server (over a real socket), and promtool's verdict on
 * the text and on docs/monitoring/alerts.yml. promtool is required: without
 * it these tests fail, they never skip. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test_support.h"

#include <tradebus/tradebus.h>
#include <tradebus/metrics.h>

static void config_from(tb_config *cfg, const char *const *sets, size_t n)
{
    char err[256];
    tb_config_init(cfg);
    for (size_t i = 0; i < n; i++)
        if (tb_config_set(cfg, sets[i], err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_config_add_data(cfg, "unused.csv");
    if (tb_config_build(cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
}

/* A staircase up then down: sma_cross(2,3) buys on bar 4 and sells on bar 8. */
static const char *const closes[] = {"10", "10", "10", "10", "12", "14",
                                     "16", "14", "10", "8",  "8"};

static void push_all(tb_pipeline *p)
{
    for (int i = 0; i < 11; i++) {
        const char *prev = i ? closes[i - 1] : closes[0];
        int up = tbt_dec(prev) <= tbt_dec(closes[i]);
        tb_market_data bar = tbt_bar("BTCUSDT", 28401120 + i, prev, up ? closes[i] : prev,
                                     up ? prev : closes[i], closes[i], "5");
        assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
    }
}

/* Runs the staircase through a pipeline built from sets, with m attached,
 * and takes a snapshot. */
static void run_pipeline(tb_metrics *m, const char *const *sets, size_t n)
{
    tb_config cfg;
    config_from(&cfg, sets, n);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    assert_int_equal(tb_metrics_on_start(p, m), 0);
    push_all(p);
    assert_int_equal(tb_metrics_update_pipeline(m, p), 0);
    tb_metrics_on_stop(p, m);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static char *render(tb_metrics *m)
{
    char *text = NULL;
    assert_int_equal(tb_metrics_render(m, &text), 0);
    assert_non_null(text);
    return text;
}

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line)) return;
    /* cmocka truncates long messages: the whole text goes to stderr. */
    fprintf(stderr, "--- metrics:\n%s--- end\n", text);
    fail_msg("missing from the metrics: %s", line);
}

/* The promtool binary, or a failed test saying how to get it. */
static const char *promtool(void)
{
    const char *env = getenv("PROMTOOL");
    if (env && *env) return env;
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool not found: install the Debian package 'prometheus' "
                 "(scripts/deps.sh does) or set PROMTOOL=/path/to/promtool");
    return "promtool";
}

/* Feeds text to `promtool check metrics`; its exit status. */
static int promtool_check_metrics(const char *text)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s check metrics", promtool());
    FILE *f = popen(cmd, "w");
    assert_non_null(f);
    fputs(text, f);
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const fill_sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                                        "strategy.s.fast=2", "strategy.s.slow=3",
                                        "strategy.s.quantity=1"};

static void test_metrics_render_shows_a_pipeline_run(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    run_pipeline(m, fill_sets, 5);
    char *t = render(m);
    assert_has(t, "# TYPE tradebus_bars_total counter\n");
    assert_has(t, "tradebus_bars_total{role=\"backtest\"} 11\n");
    assert_has(t, "tradebus_signals_total{role=\"backtest\"} 2\n");
    assert_has(t, "tradebus_fills_total{role=\"backtest\"} 2\n");
    assert_has(t, "tradebus_orders_total{role=\"backtest\",status=\"filled\"} 2\n");
    assert_has(t, "tradebus_orders_total{role=\"backtest\",status=\"rejected\"} 0\n");
    assert_has(t, "tradebus_open_orders{role=\"backtest\"} 0\n");
    assert_has(t, "tradebus_events_published_total{role=\"backtest\",type=\"MarketData\"} 11\n");
    assert_has(t, "tradebus_events_published_total{role=\"backtest\",type=\"OrderFilled\"} 2\n");
    assert_has(t, "tradebus_component_events_published_total{role=\"backtest\","
                  "component=\"orders\",type=\"OrderFilled\"} 2\n");
    assert_has(t, "tradebus_component_events_published_total{role=\"backtest\","
                  "component=\"market_data\",type=\"MarketData\"} 11\n");
    assert_has(t, "tradebus_dead_letters{role=\"backtest\",store=\"memory\"} 0\n");
    assert_has(t, "tradebus_trading_state{role=\"backtest\",state=\"active\"} 1\n");
    assert_has(t, "tradebus_trading_state{role=\"backtest\",state=\"halted\"} 0\n");
    /* Bought at 12 (bar 5's open), sold at 10 (bar 9's open). */
    assert_has(t, "tradebus_realized_pnl{role=\"backtest\"} -2\n");
    assert_has(t, "tradebus_fees_total{role=\"backtest\"} 0.022\n");
    assert_has(t, "tradebus_equity{role=\"backtest\"} 9997.978\n");
    assert_has(t, "tradebus_max_drawdown_ratio{role=\"backtest\"} 0.0007996811\n");
    assert_has(t, "tradebus_position_quantity{role=\"backtest\",strategy=\"s\","
                  "symbol=\"BTCUSDT\"} 0\n");
    assert_has(t, "tradebus_position_realized_pnl{role=\"backtest\",strategy=\"s\","
                  "symbol=\"BTCUSDT\"} -2\n");
    /* The last bar closes 1 ns before minute 28401131 (2024-01-01 00:11). */
    assert_has(t, "tradebus_last_market_data_event_timestamp_seconds{role=\"backtest\"} "
                  "1704067859.999999999\n");
    assert_has(t, "tradebus_last_market_data_timestamp_seconds{role=\"backtest\"} ");
    assert_has(t, "tradebus_info{role=\"backtest\",version=\"" TB_VERSION_STRING "\"} 1\n");
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

static void test_metrics_counts_rejects_by_reason_and_rule(void **state)
{
    (void)state;
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.fast=2",         "strategy.s.slow=3",
                          "strategy.s.quantity=1",     "risk.max_order_notional=10"};
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_set_role(m, "orders"), 0);
    run_pipeline(m, sets, 6);
    char *t = render(m);
    assert_has(t, "tradebus_order_rejects_total{role=\"orders\",reason=\"risk\"} 1\n");
    assert_has(t, "tradebus_order_rejects_total{role=\"orders\",reason=\"exchange\"} 0\n");
    assert_has(t, "tradebus_orders_total{role=\"orders\",status=\"rejected\"} 1\n");
    assert_has(t, "tradebus_orders_rejected_total{role=\"orders\"} 1\n");
    assert_has(t, "tradebus_risk_alerts_total{role=\"orders\",rule=\"max_order_notional\"} 1\n");
    assert_has(t, "tradebus_fills_total{role=\"orders\"} 0\n");
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

static void test_metrics_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    /* Bounds are inclusive (le): 250 ns lands in the first bucket. */
    tb_metrics_record_handled(m, "risk", TB_EV_MARKET_DATA, 0, 100);
    tb_metrics_record_handled(m, "risk", TB_EV_MARKET_DATA, 0, 250);
    tb_metrics_record_handled(m, "risk", TB_EV_ORDER_FILLED, 0, 3000);
    tb_metrics_handled_hook("risk", TB_EV_ORDER_FILLED, TB_EINVAL, 20000000, m);
    tb_metrics_record_handled(m, "orders", TB_EV_SIGNAL_GENERATED, 0, -5); /* clock skew: 0 */
    assert_int_equal(tb_metrics_update(m, NULL, NULL), 0);
    char *t = render(m);
    const char *b =
        "tradebus_handler_duration_seconds_bucket{role=\"backtest\",component=\"risk\",";
    char line[256];
    static const struct {
        const char *le;
        int n;
    } want[] = {{"2.5e-07", 2}, {"5e-07", 2}, {"2.5e-06", 2},
                {"5e-06", 3},   {"0.01", 3},  {"+Inf", 4}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        snprintf(line, sizeof(line), "%sle=\"%s\"} %d\n", b, want[i].le, want[i].n);
        assert_has(t, line);
    }
    assert_has(t, "tradebus_handler_duration_seconds_count{role=\"backtest\",component=\"risk\"} "
                  "4\n");
    assert_has(t, "tradebus_handler_duration_seconds_sum{role=\"backtest\",component=\"risk\"} "
                  "0.020003350\n");
    assert_has(t, "tradebus_handler_duration_seconds_bucket{role=\"backtest\","
                  "component=\"orders\",le=\"2.5e-07\"} 1\n");
    assert_has(t, "tradebus_handler_events_total{role=\"backtest\",component=\"risk\","
                  "type=\"OrderFilled\"} 2\n");
    assert_has(t, "tradebus_handler_failures_total{role=\"backtest\",component=\"risk\","
                  "type=\"OrderFilled\"} 1\n");
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

static void test_metrics_components_beyond_the_limit_are_other(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    char name[32];
    for (int i = 0; i < TB_METRICS_MAX_COMPONENTS + 3; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        tb_metrics_record_handled(m, name, TB_EV_MARKET_DATA, 0, 1000);
    }
    /* A name with characters that need escaping stays a valid label. */
    assert_int_equal(tb_metrics_update(m, NULL, NULL), 0);
    char *t = render(m);
    assert_has(t, "component=\"c15\",le=\"+Inf\"} 1\n");
    assert_has(t, "component=\"other\",le=\"+Inf\"} 3\n");
    assert_null(strstr(t, "component=\"c16\""));
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

static void test_metrics_escapes_label_values(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    tb_metrics_record_handled(m, "we\"ird\\na\nme", TB_EV_MARKET_DATA, 0, 1000);
    assert_int_equal(tb_metrics_update(m, NULL, NULL), 0);
    char *t = render(m);
    assert_has(t, "component=\"we\\\"ird\\\\na\\nme\"");
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

/* A live run's exchange gauges: absent until set; then the streams by
 * state, the age of the last message (computed at the scrape), REST
 * latency, order round trip and weight; unknown values are left out. */
static void test_metrics_show_a_live_runs_exchange_gauges(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_set_role(m, "live"), 0);
    char *t = render(m);
    assert_null(strstr(t, "tradebus_market_streams"));
    free(t);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tb_metrics_exchange x = {2, 1, (double)ts.tv_sec - 30, 0.012, -1, 37, -1};
    tb_metrics_set_exchange(m, &x);
    t = render(m);
    assert_has(t, "tradebus_market_streams{role=\"live\",state=\"connected\"} 1");
    assert_has(t, "tradebus_market_streams{role=\"live\",state=\"wanted\"} 2");
    assert_has(t, "tradebus_market_last_message_age_seconds{role=\"live\"} 3");
    assert_has(t, "tradebus_rest_latency_seconds{role=\"live\"} 0.012");
    assert_has(t, "tradebus_exchange_used_weight_1m{role=\"live\"} 37");
    assert_null(strstr(t, "tradebus_order_round_trip_seconds"));
    assert_null(strstr(t, "tradebus_user_stream_open"));
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_destroy(m);
}

/* A distributed process's stall: absent from a backtest's metrics; once
 * set, one series per awaited process, its age computed at the scrape; 0
 * when it ends. */
static void test_metrics_show_what_a_stalled_process_waits_for(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_set_role(m, "risk"), 0);
    char *t = render(m);
    assert_null(strstr(t, "tradebus_node_stalled_seconds"));
    free(t);
    tb_metrics_set_stall(m, NULL, 0);
    t = render(m);
    assert_has(t, "# TYPE tradebus_node_stalled_seconds gauge\n");
    assert_has(t, "tradebus_node_stalled_seconds{role=\"risk\"} 0\n");
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    tb_metrics_set_stall(m, "positions,signal-2", (double)now.tv_sec - 12);
    t = render(m);
    const char *a = "tradebus_node_stalled_seconds{role=\"risk\",waiting_for=\"positions\"} ";
    const char *b = "tradebus_node_stalled_seconds{role=\"risk\",waiting_for=\"signal-2\"} ";
    assert_has(t, b);
    double secs = -1;
    for (const char *line = t; line && *line; line = strchr(line + 1, '\n'))
        if (!strncmp(line + (*line == '\n'), a, strlen(a)))
            secs = strtod(line + (*line == '\n') + strlen(a), NULL);
    assert_true(secs >= 12 && secs < 60);
    assert_null(strstr(t, "tradebus_node_stalled_seconds{role=\"risk\"} "));
    assert_int_equal(promtool_check_metrics(t), 0);
    free(t);
    tb_metrics_set_stall(m, "", 0);
    t = render(m);
    assert_has(t, "tradebus_node_stalled_seconds{role=\"risk\"} 0\n");
    assert_null(strstr(t, "waiting_for=\""));
    free(t);
    tb_metrics_set_stall(NULL, "x", 0); /* a no-op */
    tb_metrics_destroy(m);
}

static void test_metrics_role_must_be_a_plain_name(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_set_role(m, ""), TB_EINVAL);
    assert_int_equal(tb_metrics_set_role(m, "Orders"), TB_EINVAL);
    assert_int_equal(tb_metrics_set_role(m, "a\"b"), TB_EINVAL);
    assert_int_equal(tb_metrics_set_role(m, NULL), TB_EINVAL);
    assert_int_equal(tb_metrics_set_role(m, "positions"), 0);
    tb_metrics_destroy(m);
    tb_metrics_destroy(NULL);
    assert_int_equal(tb_metrics_create(NULL), TB_EINVAL);
}

static void test_metrics_attach_twice_is_misuse(void **state)
{
    (void)state;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_attach(m, bus), 0);
    assert_int_equal(tb_metrics_attach(m, bus), TB_EMISUSE);
    tb_market_data bar = tbt_bar("ETHUSDT", 1, "1", "1", "1", "1", "1");
    tb_event ev = tbt_bar_event(&bar);
    assert_int_equal(tb_bus_publish(bus, &ev), 0);
    tb_metrics_detach(m);
    assert_int_equal(tb_bus_has_subscriber(bus, TB_BUS_ALL), 0);
    assert_int_equal(tb_bus_publish(bus, &ev), 0); /* not counted: detached */
    assert_int_equal(tb_metrics_update(m, NULL, bus), 0);
    char *t = render(m);
    assert_has(t, "component=\"market_data\",type=\"MarketData\"} 1\n");
    assert_has(t, "tradebus_events_published_total{role=\"backtest\",type=\"MarketData\"} 2\n");
    free(t);
    tb_metrics_destroy(m);
    tb_bus_destroy(bus);
}

static void test_metrics_tick_updates_at_most_every_100ms(void **state)
{
    (void)state;
    tb_config cfg;
    config_from(&cfg, fill_sets, 5);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    for (int i = 0; i < 1023; i++)
        assert_int_equal(tb_metrics_tick(m, p), 0);
    char *t = render(m);
    assert_has(t, "tradebus_metrics_updates_total{role=\"backtest\"} 0\n");
    free(t);
    assert_int_equal(tb_metrics_tick(m, p), 0); /* the 1024th: first update */
    for (int i = 0; i < 1024; i++)              /* within 100 ms: none */
        assert_int_equal(tb_metrics_tick(m, p), 0);
    t = render(m);
    assert_has(t, "tradebus_metrics_updates_total{role=\"backtest\"} 1\n");
    assert_has(t, "tradebus_bars_total{role=\"backtest\"} 0\n");
    free(t);
    tb_metrics_destroy(m);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static void test_metrics_write_file_is_atomic(void **state)
{
    (void)state;
    char dir[256], path[300], err[256];
    tbt_temp_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/tradebus.prom", dir);
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_update(m, NULL, NULL), 0);
    assert_int_equal(tb_metrics_write_file(m, path, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_has(buf, "tradebus_metrics_updates_total{role=\"backtest\"} 1\n");
    char missing[320];
    snprintf(missing, sizeof(missing), "%s/no/such/dir.prom", dir);
    assert_int_equal(tb_metrics_write_file(m, missing, err, sizeof(err)), TB_EIO);
    assert_non_null(strstr(err, "no/such/dir.prom.tmp"));
    tb_metrics_destroy(m);
    tbt_remove_dir(dir);
}

/* One HTTP/1.0 request to 127.0.0.1:port; the response (malloc'd). */
static char *http(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int len = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    assert_int_equal(write(fd, req, (size_t)len), len);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        assert_true(r >= 0);
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    return buf;
}

static void test_metrics_server_serves_metrics_and_404s_the_rest(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_set_role(m, "risk"), 0);
    run_pipeline(m, fill_sets, 5);
    char err[256];
    assert_int_equal(tb_metrics_port(m), 0);
    assert_int_equal(tb_metrics_serve(m, NULL, 0, err, sizeof(err)), 0);
    int port = tb_metrics_port(m);
    assert_true(port > 0);
    assert_int_equal(tb_metrics_serve(m, NULL, 0, err, sizeof(err)), TB_EMISUSE);

    char *r = http(port, "GET", "/metrics");
    assert_has(r, " 200 OK\r\n");
    assert_has(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    assert_has(r, "tradebus_bars_total{role=\"risk\"} 11\n");
    char *body = strstr(r, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(promtool_check_metrics(body + 4), 0);
    free(r);

    r = http(port, "GET", "/");
    assert_has(r, " 404 ");
    free(r);
    r = http(port, "GET", "/metrics/x");
    assert_has(r, " 404 ");
    free(r);
    r = http(port, "POST", "/metrics");
    assert_has(r, " 405 ");
    assert_has(r, "Allow: GET, HEAD\r\n");
    free(r);

    /* A second server on the same port: a clear error, nothing leaked. */
    tb_metrics *m2;
    assert_int_equal(tb_metrics_create(&m2), 0);
    assert_int_equal(tb_metrics_serve(m2, "127.0.0.1", port, err, sizeof(err)), TB_EIO);
    char want[128];
    snprintf(want, sizeof(want), "port %d is in use: pick another with --metrics-port", port);
    assert_string_equal(err, want);
    assert_int_equal(tb_metrics_port(m2), 0);
    tb_metrics_destroy(m2);

    tb_metrics_stop(m);
    assert_int_equal(tb_metrics_port(m), 0);
    tb_metrics_stop(m); /* no-op */
    /* And it can serve again after a stop. */
    assert_int_equal(tb_metrics_serve(m, "127.0.0.1", 0, err, sizeof(err)), 0);
    r = http(tb_metrics_port(m), "GET", "/metrics");
    assert_has(r, " 200 ");
    free(r);
    tb_metrics_destroy(m); /* stops the server thread */
}

typedef struct {
    int port, ok;
} scraper;

static void *scrape_loop(void *arg)
{
    scraper *sc = arg;
    for (int i = 0; i < 40; i++) {
        char *r = http(sc->port, "GET", "/metrics");
        sc->ok += strstr(r, " 200 OK\r\n") != NULL;
        free(r);
    }
    return NULL;
}

/* Scrapes from another thread while the pipeline runs and updates: the
 * snapshot is the only shared state (run under TSan to check). */
static void test_metrics_scrapes_during_a_run(void **state)
{
    (void)state;
    tb_config cfg;
    config_from(&cfg, fill_sets, 5);
    tb_pipeline *p;
    char err[256];
    assert_int_equal(tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)), 0);
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    assert_int_equal(tb_metrics_on_start(p, m), 0);
    assert_int_equal(tb_metrics_serve(m, NULL, 0, err, sizeof(err)), 0);
    scraper sc = {tb_metrics_port(m), 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, scrape_loop, &sc), 0);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 11; i++) {
            tb_market_data bar =
                tbt_bar("BTCUSDT", 28401120 + round * 11 + i, "10", "10", "10", "10", "5");
            assert_int_equal(tb_pipeline_push_bar(p, &bar), 0);
            tb_metrics_record_handled(m, "risk", TB_EV_MARKET_DATA, 0, 300);
            assert_int_equal(tb_metrics_update_pipeline(m, p), 0);
        }
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(sc.ok, 40);
    tb_metrics_on_stop(p, m);
    tb_metrics_destroy(m);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static void test_metrics_serve_rejects_bad_port_and_address(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    char err[256];
    assert_int_equal(tb_metrics_serve(m, NULL, 70000, err, sizeof(err)), TB_EINVAL);
    assert_string_equal(err, "metrics port 70000 is not in 0..65535");
    assert_int_equal(tb_metrics_serve(m, NULL, -1, err, sizeof(err)), TB_EINVAL);
    assert_int_not_equal(tb_metrics_serve(m, "not an address", 0, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "not an address"));
    tb_metrics_destroy(m);
}

/* ---- the server under hostile clients ---- */

/* A connection to 127.0.0.1:port from the local address src (NULL: any);
 * -1 when src cannot be bound (127.0.0.2 is Linux-only). A connect that
 * cannot finish fails after 10 s instead of hanging the suite. */
static int connect_from(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa;
    if (src) {
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, src, &sa.sin_addr), 1);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            return -1;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Sends s; a connection the server already closed is not an error here. */
static void send_str(int fd, const char *s)
{
    (void)!send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* One byte to each slow client: each byte is activity, which an idle
 * timeout would count as progress. */
static void drip(const int *slow, size_t nslow)
{
    for (size_t i = 0; i < nslow; i++)
        if (slow[i] >= 0) send_str(slow[i], "a");
}

/* Everything fd receives until the server closes it (an end or a reset),
 * dripping to the slow clients every 100 ms meanwhile. Gives up after 10 s
 * (failure detection only: the caller then finds no response). */
static char *read_until_closed(int fd, const int *slow, size_t nslow)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int round = 0; round < 100; round++) {
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, 100);
        assert_true(ready >= 0);
        drip(slow, nslow);
        if (ready == 0) continue;
        if (n + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* closed, or reset with the request unread */
        n += (size_t)r;
        round = 0;
    }
    buf[n] = '\0';
    return buf;
}

/* Metrics of a short pipeline run, served on an ephemeral port of
 * 127.0.0.1 with the default limits: returns the port. */
static int serve_filled(tb_metrics **m)
{
    assert_int_equal(tb_metrics_create(m), 0);
    run_pipeline(*m, fill_sets, 5);
    char err[256];
    assert_int_equal(tb_metrics_serve(*m, NULL, 0, err, sizeof(err)), 0);
    return tb_metrics_port(*m);
}

/* GET /metrics from 127.0.0.1 while the slow clients drip. */
static char *scrape_while_dripping(int port, const int *slow, size_t nslow)
{
    int fd = connect_from(NULL, port);
    send_str(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    char *r = read_until_closed(fd, slow, nslow);
    close(fd);
    return r;
}

/* 64 connections from one address (127.0.0.2: as many as the old server's
 * whole connection limit) each send a request one byte at a time and never
 * finish it. A scrape from another address is served at once: one address
 * holds at most TB_METRICS_DEFAULT_MAX_PER_ADDRESS connections. */
static void test_metrics_server_serves_a_scrape_while_slow_clients_drip(void **state)
{
    (void)state;
    tb_metrics *m;
    int port = serve_filled(&m);
    enum { NSLOW = 64 };
    int slow[NSLOW];
    for (size_t i = 0; i < NSLOW; i++) {
        slow[i] = connect_from("127.0.0.2", port);
        if (slow[i] < 0) {
            for (size_t j = 0; j < i; j++)
                close(slow[j]);
            tb_metrics_destroy(m);
            skip(); /* no 127.0.0.2 on this system */
        }
        send_str(slow[i], "GET /metrics HTTP/1.1\r\nX-Slow: ");
    }
    char *r = scrape_while_dripping(port, slow, NSLOW);
    assert_has(r, " 200 OK\r\n");
    assert_has(r, "tradebus_bars_total{role=\"backtest\"} 11\n");
    free(r);
    for (size_t i = 0; i < NSLOW; i++)
        close(slow[i]);
    tb_metrics_destroy(m);
}

/* One address past its cap is turned away (closed, or a 503) while its
 * connections are held; once one of them is done, its scrapes are served. */
static void test_metrics_server_caps_connections_per_address(void **state)
{
    (void)state;
    tb_metrics *m;
    int port = serve_filled(&m);
    enum { CAP = TB_METRICS_DEFAULT_MAX_PER_ADDRESS };
    int held[CAP];
    for (size_t i = 0; i < CAP; i++) {
        held[i] = connect_from(NULL, port);
        send_str(held[i], "GET /metrics HTTP/1.1\r\n"); /* half a request */
    }
    char *r = scrape_while_dripping(port, NULL, 0);
    if (strstr(r, " 200 ")) fail_msg("connection %d from one address was served:\n%s", CAP + 1, r);
    if (*r) assert_has(r, " 503 ");
    free(r);

    /* One held connection finishes its request: served, then closed by the
     * server. (A client closing mid-request may keep its slot until the
     * deadline: libmicrohttpd can take that for a half-close.) */
    send_str(held[0], "\r\n");
    r = read_until_closed(held[0], NULL, 0);
    assert_has(r, " 200 OK\r\n");
    free(r);
    close(held[0]);
    held[0] = -1;
    /* The server frees the slot on its own time: try until served. */
    int served = 0;
    for (int i = 0; i < 100 && !served; i++) {
        r = scrape_while_dripping(port, NULL, 0);
        served = strstr(r, " 200 OK\r\n") != NULL;
        free(r);
        if (!served) nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    assert_true(served);
    for (size_t i = 1; i < CAP; i++)
        close(held[i]);
    tb_metrics_destroy(m);
}

/* The deadline covers the whole request, from accept on: a byte every 20 ms
 * keeps a connection busy but does not keep it open. */
static void test_metrics_server_closes_a_slow_drip_at_the_request_deadline(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    tb_metrics_server_config sc;
    tb_metrics_server_config_init(&sc);
    assert_int_equal(sc.request_timeout_ms, TB_METRICS_DEFAULT_REQUEST_TIMEOUT_MS);
    assert_int_equal(sc.max_connections, TB_METRICS_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal(sc.max_per_address, TB_METRICS_DEFAULT_MAX_PER_ADDRESS);
    sc.request_timeout_ms = 200;
    char err[256];
    assert_int_equal(tb_metrics_serve_config(m, NULL, 0, &sc, err, sizeof(err)), 0);
    int port = tb_metrics_port(m);
    int fd = connect_from(NULL, port);
    send_str(fd, "GET /metrics HTTP/1.1\r\nX-Slow: ");
    int closed = 0;
    char buf[256];
    for (int i = 0; i < 500 && !closed; i++) { /* 10 s: failure detection only */
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            ssize_t r = read(fd, buf, sizeof(buf));
            closed = r <= 0;
            if (r > 0) fail_msg("a response to half a request: %.*s", (int)r, buf);
        } else if (send(fd, "a", 1, MSG_NOSIGNAL) < 0) {
            closed = 1;
        }
    }
    assert_true(closed);
    close(fd);
    /* The server itself is fine. */
    char *r = http(port, "GET", "/metrics");
    assert_has(r, " 200 OK\r\n");
    free(r);
    tb_metrics_destroy(m);
}

static void test_metrics_server_config_is_checked(void **state)
{
    (void)state;
    tb_metrics *m;
    assert_int_equal(tb_metrics_create(&m), 0);
    tb_metrics_server_config sc;
    char err[256];
    tb_metrics_server_config_init(&sc);
    sc.request_timeout_ms = 0;
    assert_int_equal(tb_metrics_serve_config(m, NULL, 0, &sc, err, sizeof(err)), TB_EINVAL);
    assert_string_equal(err, "metrics request_timeout_ms 0 is not in 1..3600000");
    tb_metrics_server_config_init(&sc);
    sc.max_connections = 0;
    assert_int_equal(tb_metrics_serve_config(m, NULL, 0, &sc, err, sizeof(err)), TB_EINVAL);
    assert_string_equal(err, "metrics max_connections 0 is not in 1..4096");
    tb_metrics_server_config_init(&sc);
    sc.max_per_address = 65;
    assert_int_equal(tb_metrics_serve_config(m, NULL, 0, &sc, err, sizeof(err)), TB_EINVAL);
    assert_string_equal(err, "metrics max_per_address 65 is not in 1..64 (max_connections)");
    assert_int_equal(tb_metrics_port(m), 0);
    tb_metrics_destroy(m);
}

/* Sends req as is; the response, whatever the server does with a body. */
static char *raw_request(int port, const char *req)
{
    int fd = connect_from(NULL, port);
    send_str(fd, req);
    char *r = read_until_closed(fd, NULL, 0);
    close(fd);
    return r;
}

static void test_metrics_server_answers_405_to_every_other_method(void **state)
{
    (void)state;
    tb_metrics *m;
    int port = serve_filled(&m);
    static const char *const reqs[] = {
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /metrics HTTP/1.0\r\nContent-Length: 11\r\n\r\nhello world",
        /* A body announced and never sent: answered without waiting for it. */
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nabc",
        "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char *r = raw_request(port, reqs[i]);
        if (!strstr(r, " 405 Method Not Allowed\r\n") || !strstr(r, "Allow: GET, HEAD\r\n"))
            fail_msg("request %zu (%.12s...) got:\n%s", i, reqs[i], r);
        free(r);
    }
    /* HEAD is GET without the body. */
    char *r = raw_request(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_has(r, " 200 OK\r\n");
    assert_null(strstr(r, "tradebus_"));
    free(r);
    tb_metrics_destroy(m);
}

static void test_alert_rules_pass_promtool(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s check rules %s/docs/monitoring/alerts.yml", promtool(),
             TB_SOURCE_DIR);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_render_shows_a_pipeline_run),
        cmocka_unit_test(test_metrics_counts_rejects_by_reason_and_rule),
        cmocka_unit_test(test_metrics_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_metrics_components_beyond_the_limit_are_other),
        cmocka_unit_test(test_metrics_escapes_label_values),
        cmocka_unit_test(test_metrics_show_what_a_stalled_process_waits_for),
        cmocka_unit_test(test_metrics_role_must_be_a_plain_name),
        cmocka_unit_test(test_metrics_attach_twice_is_misuse),
        cmocka_unit_test(test_metrics_tick_updates_at_most_every_100ms),
        cmocka_unit_test(test_metrics_write_file_is_atomic),
        cmocka_unit_test(test_metrics_server_serves_metrics_and_404s_the_rest),
        cmocka_unit_test(test_metrics_scrapes_during_a_run),
        cmocka_unit_test(test_metrics_serve_rejects_bad_port_and_address),
        cmocka_unit_test(test_metrics_server_serves_a_scrape_while_slow_clients_drip),
        cmocka_unit_test(test_metrics_server_caps_connections_per_address),
        cmocka_unit_test(test_metrics_server_closes_a_slow_drip_at_the_request_deadline),
        cmocka_unit_test(test_metrics_server_config_is_checked),
        cmocka_unit_test(test_metrics_server_answers_405_to_every_other_method),
        cmocka_unit_test(test_alert_rules_pass_promtool),
        cmocka_unit_test(test_metrics_show_a_live_runs_exchange_gauges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
