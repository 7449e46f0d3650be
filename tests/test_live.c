/* tradebus live, run as a user runs it, against the fake Binance
 * (tools/fake_binance, docs/fake-binance.md) scripted through /_ctl: paper
 * mode on a scripted kline stream gives what `tradebus backtest` gives on
 * the same bars as a CSV (issue 14, scenario 9), across a dropped market
 * connection; SIGINT ends a run with its outputs; warm-up history trades
 * nothing; a bar is never delivered twice; mode = live needs --live. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tb_test_cli.h"
#include "tb_test_fake_binance.h"
#include "tb_test_support.h"
#include "tradebus/journal.h"
#include "tradebus/live.h"

static char fbdir[512];
static int port;
static pid_t child; /* the run under test, killed if a test fails midway */

#define T0 INT64_C(1704067200000) /* 2024-01-01T00:00:00Z, ms */

/* ---- the fake ---- */

/* method /_ctl/path with a JSON body; the reply's JSON (decref it). */
static json_t *ctl(const char *method, const char *path, const char *json)
{
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return tbt_fb_ctl(base, method, path, json);
}

static void ctl0(const char *method, const char *path, const char *body)
{
    json_decref(ctl(method, path, body));
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Market stream connections open on the fake now. */
static long market_connections(void)
{
    json_t *st = ctl("GET", "status", NULL);
    long n = (long)json_integer_value(json_object_get(st, "market_connections"));
    json_decref(st);
    return n;
}

static void wait_connections(long want)
{
    for (int i = 0; i < 2400; i++) {
        if (market_connections() == want) return;
        sleep_ms(25);
    }
    fail_msg("the fake never had %ld market connection(s)", want);
}

/* Requests the fake received for path. */
static size_t requests_to(const char *path)
{
    char q[256];
    snprintf(q, sizeof(q), "requests?since=0&path=%s", path);
    json_t *r = ctl("GET", q, NULL);
    json_t *arr = json_is_array(r) ? r : json_object_get(r, "requests");
    size_t n = json_array_size(arr);
    json_decref(r);
    return n;
}

/* ---- bars ---- */

typedef struct {
    const char *o, *h, *l, *c;
} ohlc;

/* Minute m's kline as the fake's /_ctl/kline takes it (closed, stored). */
static void push_kline(int m, const ohlc *b)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"t\":%" PRId64
             ",\"o\":\"%s\",\"h\":\"%s\",\"l\":\"%s\",\"c\":\"%s\",\"v\":\"5\",\"q\":\"50\","
             "\"V\":\"0\",\"Q\":\"0\",\"n\":1,\"x\":true,\"store\":true}",
             T0 + (int64_t)m * 60000, b->o, b->h, b->l, b->c);
    ctl0("POST", "kline", body);
}

/* History the fake holds before the run (no stream event). */
static void store_history(int from, int n, const ohlc *b)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    fprintf(f, "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"klines\":[");
    for (int i = 0; i < n; i++) {
        int64_t t = T0 + (int64_t)(from + i) * 60000;
        fprintf(f,
                "%s[%" PRId64 ",\"%s\",\"%s\",\"%s\",\"%s\",\"5\",%" PRId64
                ",\"50\",1,\"0\",\"0\",\"0\"]",
                i ? "," : "", t, b[i].o, b[i].h, b[i].l, b[i].c, t + 59999);
    }
    fprintf(f, "]}");
    fclose(f);
    ctl0("POST", "klines", body);
    free(body);
}

/* The bars as the Binance CSV `tradebus backtest` reads. */
static void write_csv(const char *dir, int from, int n, const ohlc *b)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/bars.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) {
        int64_t t = T0 + (int64_t)(from + i) * 60000;
        fprintf(f, "%" PRId64 ",%s,%s,%s,%s,5,%" PRId64 ",50,1,0,0,0\n", t, b[i].o, b[i].h, b[i].l,
                b[i].c, t + 59999);
    }
    assert_int_equal(fclose(f), 0);
}

static const ohlc flat = {"10", "10", "10", "10"};

/* Five flat bars (the warm-up), then tbt_staircase_csv's eleven: sma_cross
 * (2,3) buys on the 10th bar's close and sells on the 14th's. */
static const ohlc stair[16] = {
    {"10", "10", "10", "10"}, {"10", "10", "10", "10"},   {"10", "10", "10", "10"},
    {"10", "10", "10", "10"}, {"10", "10", "10", "10"},   {"10", "10", "10", "10"},
    {"10", "10", "10", "10"}, {"10", "10", "10", "10"},   {"10", "10", "10", "10"},
    {"10", "12", "10", "12"}, {"12.5", "14", "12", "14"}, {"14", "16", "14", "16"},
    {"16", "16", "14", "14"}, {"14", "14", "10", "10"},   {"9.5", "10", "8", "8"},
    {"8", "8", "8", "8"}};

/* ---- the program ---- */

static void write_config(const char *dir, const char *mode, int warmup)
{
    char cfg[1024], path[700];
    int keys = strcmp(mode, "paper") != 0;
    /* The adapter's own URLs (orders, user stream) point at the fake too:
     * a test never reaches Binance. */
    char keyed[512];
    snprintf(keyed, sizeof(keyed),
             "api_key = env:TB_TEST_LIVE_KEY\napi_secret = env:TB_TEST_LIVE_SECRET\n"
             "rest_url = http://127.0.0.1:%d\nws_api_url = ws://127.0.0.1:%d/ws-api/v3\n",
             port, port);
    snprintf(cfg, sizeof(cfg),
             "[exchange]\ntype = binance\nmode = %s\nfee_bps = 10\n%s"
             "[live]\ninterval = 1m\nwarmup_bars = %d\nstream_url = ws://127.0.0.1:%d\n"
             "rest_url = http://127.0.0.1:%d\n"
             "[strategy.t]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 2\nslow = 3\n"
             "quantity = 1\n",
             mode, keys ? keyed : "", warmup, port, port);
    tbt_write_file(dir, "live.ini", cfg, path, sizeof(path));
}

/* Starts `tradebus live --config live.ini --out out ARG` in dir. */
static pid_t spawn_live(const char *dir, const char *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execl(TB_BINARY, TB_BINARY, "live", "--config", "live.ini", "--out", "out", arg,
              (char *)NULL);
        _exit(127);
    }
    child = pid;
    return pid;
}

/* Starts `tradebus live --config live.ini --out out` with up to four more
 * arguments (NULL: none) in dir. */
static pid_t spawn_live_with(const char *dir, const char *a, const char *b, const char *c,
                             const char *d)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        execl(TB_BINARY, TB_BINARY, "live", "--config", "live.ini", "--out", "out", a, b, c, d,
              (char *)NULL);
        _exit(127);
    }
    child = pid;
    return pid;
}

/* Waits until the run's log holds text. */
static void wait_log(const char *dir, const char *text)
{
    for (int i = 0; i < 2400; i++) {
        char *err = tbt_read_in(dir, "stderr.txt");
        int ok = err && strstr(err, text);
        free(err);
        if (ok) return;
        sleep_ms(25);
    }
    char *err = tbt_read_in(dir, "stderr.txt");
    fprintf(stderr, "its log:\n%s\n", err ? err : "");
    free(err);
    fail_msg("the run never logged '%s' (its log is above)", text);
}

/* Waits until the run's log shows the bar closing at minute m (its status
 * line names the bar by its end). */
static void wait_bar(const char *dir, int m)
{
    char want[64];
    time_t s = (time_t)((T0 + (int64_t)(m + 1) * 60000) / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(want, sizeof(want), "bar %Y-%m-%dT%H:%M:%S", &tm);
    for (int i = 0; i < 2400; i++) {
        char *err = tbt_read_in(dir, "stderr.txt");
        int ok = err && strstr(err, want);
        free(err);
        if (ok) return;
        sleep_ms(25);
    }
    char *err = tbt_read_in(dir, "stderr.txt");
    fprintf(stderr, "its log:\n%s\n", err ? err : "");
    free(err);
    fail_msg("the run never showed '%s' (its log is above)", want);
}

static int interrupt(pid_t pid);

/* SIGINT, and the run must exit 0: else its log is shown. */
static void interrupt_ok(const char *dir, pid_t pid)
{
    int code = interrupt(pid);
    if (code != 0) {
        /* The whole log (a failure message is cut short). */
        char *log = tbt_read_in(dir, "stderr.txt");
        fprintf(stderr, "tradebus live's log:\n%s\n", log ? log : "");
        free(log);
        fail_msg("tradebus live exited %d after SIGINT (its log is above)", code);
    }
}

/* SIGINT, then the exit code. */
static int interrupt(pid_t pid)
{
    assert_int_equal(kill(pid, SIGINT), 0);
    int st = 0;
    for (int i = 0; i < 800; i++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            child = 0;
            if (!WIFEXITED(st)) fail_msg("tradebus live: killed by signal %d", WTERMSIG(st));
            return WEXITSTATUS(st);
        }
        sleep_ms(25);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("tradebus live did not end within 20 s of SIGINT");
    return -1;
}

/* MarketData lines of events.jsonl, and whether their times only rise. */
static size_t market_data_events(const char *dir, int *rising)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/out/events.jsonl", dir);
    char *all = tbt_read_file(path);
    assert_non_null(all);
    size_t n = 0;
    long long last = -1;
    *rising = 1;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *ev = json_loads(line, 0, NULL);
        assert_non_null(ev);
        const char *type = json_string_value(json_object_get(ev, "type"));
        if (type && strcmp(type, "MarketData") == 0) {
            n++;
            json_t *ts = json_object_get(ev, "timestamp");
            long long t =
                json_is_integer(ts)
                    ? json_integer_value(ts)
                    : strtoll(json_string_value(ts) ? json_string_value(ts) : "0", NULL, 10);
            if (t <= last) *rising = 0;
            last = t;
        }
        json_decref(ev);
    }
    free(all);
    return n;
}

/* A request the journal holds, and when (wall ms) it was recorded. */
typedef struct {
    char purpose[32], cid[TB_ORDER_ID_LEN];
    int64_t ms;
} jreq;

typedef struct {
    jreq v[64];
    size_t n;
} jreqs;

static int keep_request(const tb_journal_request *rq, void *ctx)
{
    jreqs *l = ctx;
    if (l->n == sizeof(l->v) / sizeof(l->v[0])) return 0;
    jreq *q = &l->v[l->n++];
    snprintf(q->purpose, sizeof(q->purpose), "%s", rq->purpose);
    snprintf(q->cid, sizeof(q->cid), "%s", rq->client_order_id);
    q->ms = rq->time / 1000000;
    return 0;
}

static void journal_requests(const char *path, jreqs *out)
{
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = path;
    jc.read_only = 1;
    tb_journal *j;
    char err[512];
    if (tb_journal_open(&jc, &j, err, sizeof(err)) != 0) fail_msg("journal: %s", err);
    memset(out, 0, sizeof(*out));
    assert_int_equal(tb_journal_requests_each(j, NULL, keep_request, out), 0);
    tb_journal_close(j);
}

/* The keys the fake accepts, for testnet configs (write_config). */
static void testnet_keys(void)
{
    setenv("TB_TEST_LIVE_KEY", "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
           1);
    setenv("TB_TEST_LIVE_SECRET",
           "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j", 1);
}

/* The staircase's live bars (5..15), each with the fake's last price at its
 * close, so that a testnet MARKET order fills when it arrives. */
static void push_stair_priced(const char *dir)
{
    for (int m = 5; m < 16; m++) {
        char book[128];
        snprintf(book, sizeof(book), "{\"symbol\":\"BTCUSDT\",\"lastPrice\":\"%s\"}", stair[m].c);
        ctl0("POST", "book", book);
        push_kline(m, &stair[m]);
        wait_bar(dir, m);
    }
}

/* The run ended saying the shadow was IDENTICAL, with no parity alert in
 * events.jsonl (and fills in it when filled). */
static void assert_shadow_identical(const char *dir, int filled, const char *what)
{
    char *out = tbt_read_in(dir, "stdout.txt"), *log = tbt_read_in(dir, "stderr.txt");
    char *ev = tbt_read_in(dir, "out/events.jsonl");
    assert_non_null(out);
    assert_non_null(ev);
    if (filled) assert_non_null(strstr(ev, "\"OrderFilled\""));
    if (!strstr(out, "shadow legacy run: IDENTICAL") || strstr(ev, "\"rule\":\"parity\""))
        fail_msg("%s:\n%s\n%s", what, out, log ? log : "");
    free(out);
    free(log);
    free(ev);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tbt_temp_dir(fbdir, sizeof fbdir);
    port = tbt_free_port();
    char args[1024];
    snprintf(args, sizeof args, "start '%s' %d", fbdir, port);
    tbt_fb_script(args);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char args[1024];
    snprintf(args, sizeof args, "stop '%s'", fbdir);
    tbt_fb_script(args);
    tbt_remove_tree(fbdir);
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ctl0("POST", "reset", "{}");
    ctl0("DELETE", "requests", NULL);
    return 0;
}

static int reap(void **state)
{
    (void)state;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = 0;
    }
    return 0;
}

/* ---- tests ---- */

/* Scenario 9: the warm-up comes from REST, live bars from the stream; the
 * market connection drops and two bars close while it is down (fetched
 * again by REST after the reconnection). fills.csv and summary.json equal
 * those of `tradebus backtest` on the same sixteen bars as a CSV. */
static void test_paper_run_matches_backtest_on_the_same_bars(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 5);
    store_history(0, 5, stair);
    pid_t pid = spawn_live(dir, NULL);
    wait_connections(1);
    for (int m = 5; m < 10; m++)
        push_kline(m, &stair[m]);
    wait_bar(dir, 9);
    ctl0("POST", "market", "{\"action\":\"drop\"}");
    /* Nobody is subscribed now: these two reach the stream of no one. */
    push_kline(10, &stair[10]);
    push_kline(11, &stair[11]);
    wait_connections(1);
    for (int m = 12; m < 16; m++)
        push_kline(m, &stair[m]);
    wait_bar(dir, 15);
    assert_int_equal(interrupt(pid), 0);
    char *log = tbt_read_in(dir, "stderr.txt");
    if (!strstr(log, "market stream lost")) fail_msg("no reconnection in the log:\n%s", log);
    free(log);

    write_csv(dir, 0, 16, stair);
    assert_int_equal(
        tbt_run_cli(dir, NULL, "backtest --config live.ini --data BTCUSDT:bars.csv --out bt"), 0);
    char *lf = tbt_read_in(dir, "out/fills.csv"), *bf = tbt_read_in(dir, "bt/fills.csv");
    char *ls = tbt_read_in(dir, "out/summary.json"), *bs = tbt_read_in(dir, "bt/summary.json");
    assert_non_null(lf);
    assert_non_null(bf);
    assert_non_null(ls);
    assert_non_null(bs);
    /* The header and the two fills (the buy at 12.5 and the sell at 9.5). */
    int rows = 0;
    for (const char *p = lf; (p = strchr(p, '\n')); p++)
        rows++;
    assert_int_equal(rows, 3);
    assert_string_equal(lf, bf);
    assert_string_equal(ls, bs);
    free(lf);
    free(bf);
    free(ls);
    free(bs);
    tbt_remove_tree(dir);
}

/* Testnet mode through the Binance adapter: the staircase buys then sells
 * (MARKET orders filled by the fake). Every request the adapter sent is in
 * the journal, recorded before the fake received it (its wall clock, the
 * same machine's), each order's submit exactly once; `journal trace` on an
 * order shows its chain and, below it, the requests sent for it. */
static void test_testnet_run_journals_every_request_before_sending_it(void **state)
{
    (void)state;
    char dir[512], db[700];
    tbt_temp_dir(dir, sizeof(dir));
    snprintf(db, sizeof(db), "%s/live.db", dir);
    testnet_keys();
    write_config(dir, "testnet", 5);
    store_history(0, 5, stair);
    pid_t pid = spawn_live_with(dir, "--journal", db, NULL, NULL);
    wait_connections(1);
    push_stair_priced(dir);
    interrupt_ok(dir, pid);

    jreqs jr;
    journal_requests(db, &jr);
    json_t *log = ctl("GET", "requests?since=0", NULL);
    json_t *arr = json_is_array(log) ? log : json_object_get(log, "requests");
    size_t nhttp = 0, submits = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(e, "transport")), "http") != 0) continue;
        nhttp++;
    }
    /* Every REST request the fake saw was journaled (the market feed's
     * kline history aside: that is public data, not an exchange request). */
    size_t nklines = requests_to("/api/v3/klines");
    if (jr.n != nhttp - nklines) {
        char *dump = json_dumps(arr, JSON_COMPACT);
        fail_msg("journal %zu requests, fake %zu http of which %zu klines: %.3000s", jr.n, nhttp,
                 nklines, dump);
    }
    char cids[2][TB_ORDER_ID_LEN] = {"", ""};
    for (size_t i = 0; i < jr.n; i++) {
        if (strcmp(jr.v[i].purpose, "submit") != 0) continue;
        assert_true(submits < 2);
        snprintf(cids[submits++], TB_ORDER_ID_LEN, "%s", jr.v[i].cid);
        /* The fake got this order once, and after the journal had it. */
        size_t seen = 0;
        for (size_t k = 0; k < json_array_size(arr); k++) {
            json_t *e = json_array_get(arr, k);
            const char *path = json_string_value(json_object_get(e, "path"));
            const char *m = json_string_value(json_object_get(e, "method"));
            const char *cid = json_string_value(
                json_object_get(json_object_get(e, "params"), "newClientOrderId"));
            if (!path || strcmp(path, "/api/v3/order") || !m || strcmp(m, "POST") || !cid ||
                strcmp(cid, jr.v[i].cid))
                continue;
            seen++;
            assert_true(jr.v[i].ms <= json_integer_value(json_object_get(e, "wall")));
        }
        assert_int_equal(seen, 1);
    }
    assert_int_equal(submits, 2); /* the buy and the sell */
    json_decref(log);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "journal trace %s --journal live.db", cids[0]);
    assert_int_equal(tbt_run_cli(dir, NULL, "%s", cmd), 0);
    char *trace = tbt_read_in(dir, "stdout.txt");
    assert_non_null(trace);
    char want[128];
    snprintf(want, sizeof(want), "requests sent for %s", cids[0]);
    if (!strstr(trace, want) || !strstr(trace, "submit POST /api/v3/order") ||
        !strstr(trace, "OrderFilled"))
        fail_msg("journal trace %s:\n%s", cids[0], trace);
    free(trace);
    tbt_remove_tree(dir);
}

/* SIGINT: exit 0, and every output of the run is there, published. */
static void test_sigint_ends_a_paper_run_with_complete_outputs(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 3);
    ohlc h[3] = {flat, flat, flat};
    store_history(0, 3, h);
    pid_t pid = spawn_live(dir, NULL);
    wait_connections(1);
    push_kline(3, &flat);
    wait_bar(dir, 3);
    assert_int_equal(interrupt(pid), 0);
    static const char *const files[] = {"summary.json", "fills.csv",  "events.jsonl",
                                        "report.html",  "trades.csv", "equity.csv"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "out/%s", files[i]);
        char *c = tbt_read_in(dir, name);
        if (!c || !c[0]) fail_msg("%s is missing or empty", name);
        free(c);
    }
    char *s = tbt_read_in(dir, "out/summary.json");
    assert_non_null(strstr(s, "\"bars\": 4"));
    free(s);
    tbt_remove_tree(dir);
}

/* mode = live trades real money: refused (exit 2) without --live, before
 * anything reaches the exchange. */
static void test_live_mode_without_the_flag_refuses(void **state)
{
    (void)state;
    char dir[512], *err = NULL;
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "live", 3);
    setenv("TB_TEST_LIVE_KEY", "K3yV4lu3NeverPrinted", 1);
    setenv("TB_TEST_LIVE_SECRET", "S3cr3tV4lu3NeverPrinted", 1);
    assert_int_equal(tbt_run_cli(dir, &err, "live --config live.ini --out out"), 2);
    assert_non_null(strstr(err, "--live"));
    assert_null(strstr(err, "NeverPrinted"));
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_null(strstr(out, "NeverPrinted"));
    free(out);
    assert_int_equal(requests_to("/api/v3/klines"), 0);
    free(err);
    tbt_remove_tree(dir);
}

/* The history holds a crossing (a BUY had it been live): the run loads it
 * through REST, its bars go through the pipeline, and no signal, order or
 * fill comes from them. */
static int warmup_for(const char *timeframes)
{
    tb_config cfg;
    tb_config_init(&cfg);
    char e[256], tf[128];
    const char *sets[] = {"strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT",
                          "strategy.s.slow=30", tf};
    snprintf(tf, sizeof tf, "strategy.s.timeframes=%s", timeframes);
    for (size_t i = 0; i < (timeframes ? 4u : 3u); i++)
        if (tb_config_set(&cfg, sets[i], e, sizeof e)) fail_msg("%s: %s", sets[i], e);
    tb_config_add_data(&cfg, "unused.csv");
    if (tb_config_build(&cfg, e, sizeof e)) fail_msg("%s", e);
    int n = tb_live_warmup_bars(&cfg);
    tb_config_free(&cfg);
    return n;
}

/* The warm-up counts a strategy's periods in bars of its longest
 * timeframe: a 30-bar SMA of 15m bars needs 31 x 15 one-minute bars. */
static void test_warmup_covers_the_longest_timeframe(void **state)
{
    (void)state;
    assert_int_equal(warmup_for(NULL), 31);
    assert_int_equal(warmup_for("1m 15m"), 31 * 15);
    assert_int_equal(warmup_for("1m 5m 15m"), 31 * 15);
    assert_int_equal(warmup_for("1m 1h"), 999); /* one page of klines */
}

static void test_warmup_loads_history_and_no_order_comes_from_it(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 6);
    static const ohlc rise[6] = {{"10", "10", "10", "10"}, {"10", "10", "10", "10"},
                                 {"10", "10", "10", "10"}, {"10", "12", "10", "12"},
                                 {"12", "14", "12", "14"}, {"14", "16", "14", "16"}};
    store_history(0, 6, rise);
    pid_t pid = spawn_live(dir, NULL);
    wait_connections(1);
    static const ohlc hold = {"16", "16", "16", "16"};
    push_kline(6, &hold);
    wait_bar(dir, 6);
    assert_int_equal(interrupt(pid), 0);
    assert_true(requests_to("/api/v3/klines") >= 1);
    char *s = tbt_read_in(dir, "out/summary.json");
    assert_non_null(strstr(s, "\"bars\": 7"));
    assert_non_null(strstr(s, "\"signals\": 0"));
    assert_non_null(strstr(s, "\"orders\": 0"));
    char *f = tbt_read_in(dir, "out/fills.csv");
    assert_null(strchr(strchr(f, '\n') + 1, '\n')); /* the header alone */
    free(f);
    free(s);
    tbt_remove_tree(dir);
}

/* A bar the stream delivered before a drop, and one fetched by REST after
 * it that the stream then sends again: each goes through once, in order. */
static void test_a_bar_is_never_delivered_twice_across_a_reconnect(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 2);
    ohlc h[2] = {flat, flat};
    store_history(0, 2, h);
    pid_t pid = spawn_live(dir, NULL);
    wait_connections(1);
    push_kline(2, &flat);
    push_kline(3, &flat);
    wait_bar(dir, 3);
    ctl0("POST", "market", "{\"action\":\"drop\"}");
    push_kline(4, &flat); /* while down: REST brings it */
    wait_connections(1);
    wait_bar(dir, 4);
    push_kline(3, &flat); /* delivered already */
    push_kline(4, &flat); /* fetched already */
    push_kline(5, &flat);
    wait_bar(dir, 5);
    assert_int_equal(interrupt(pid), 0);
    int rising = 0;
    assert_int_equal(market_data_events(dir, &rising), 6);
    assert_true(rising);
    tbt_remove_tree(dir);
}

/* ---- --shadow-legacy ---- */

/* Feeds the stair's live bars (5..15) to a paper run started in dir with
 * the five flat bars as history, then stops it (exit 0). */
static void run_stair(const char *dir, pid_t pid)
{
    wait_connections(1);
    for (int m = 5; m < 16; m++)
        push_kline(m, &stair[m]);
    wait_bar(dir, 15);
    assert_int_equal(interrupt(pid), 0);
}

/* The legacy monolith on the same live bars decides as the pipeline does
 * (sma_cross buys at the 10th bar's close, sells at the 14th's): no parity
 * alert, and the run ends saying both sides were identical. */
static void test_shadow_legacy_agreeing_run_reports_identical(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 5);
    store_history(0, 5, stair);
    run_stair(dir, spawn_live_with(dir, "--shadow-legacy", NULL, NULL, NULL));
    char *out = tbt_read_in(dir, "stdout.txt"), *log = tbt_read_in(dir, "stderr.txt");
    char *ev = tbt_read_in(dir, "out/events.jsonl");
    if (!strstr(out, "shadow legacy run: IDENTICAL: 2 signals"))
        fail_msg("no agreement reported:\n%s\n%s", out, log);
    assert_non_null(strstr(ev, "\"SignalGenerated\""));
    assert_null(strstr(ev, "\"rule\":\"parity\""));
    assert_null(strstr(log, "decided otherwise"));
    free(out);
    free(log);
    free(ev);
    tbt_remove_tree(dir);
}

/* The whole staircase is history (its buy and sell crossings included) and
 * two flat bars are live: the warm-up mutes both sides alike, so the legacy
 * monolith trades nothing on history either and no parity alert is raised. */
static void test_shadow_legacy_history_crossings_are_warm_up_on_both_sides(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 16);
    store_history(0, 16, stair);
    pid_t pid = spawn_live_with(dir, "--shadow-legacy", NULL, NULL, NULL);
    wait_connections(1);
    push_kline(16, &flat);
    push_kline(17, &flat);
    wait_bar(dir, 17);
    interrupt_ok(dir, pid);
    assert_shadow_identical(dir, 0, "history decided on one side");
    tbt_remove_tree(dir);
}

/* Testnet: the fake fills the MARKET orders at its last price when they
 * arrive, the monolith's model at the next bar's open — fills that differ
 * by design. The shadow compares decisions only (signals, orders), and
 * those agree: IDENTICAL, no parity alert. */
static void test_shadow_legacy_on_testnet_compares_decisions_not_fills(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    testnet_keys();
    write_config(dir, "testnet", 5);
    store_history(0, 5, stair);
    pid_t pid = spawn_live_with(dir, "--shadow-legacy", NULL, NULL, NULL);
    wait_connections(1);
    wait_log(dir, "exchange ready");
    push_stair_priced(dir);
    interrupt_ok(dir, pid);
    assert_shadow_identical(dir, 1, "decisions compared with fills");
    tbt_remove_tree(dir);
}

/* A risk rule only the pipeline has (max_order_notional) refuses the buy
 * the 10th bar's close asks for: the legacy monolith's order fills at the
 * 11th bar, the pipeline's never does. A parity RiskAlert right after that
 * bar, logged at once, and the run ends saying the two diverged. */
static void test_shadow_legacy_divergence_is_a_parity_alert_at_its_bar(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 5);
    store_history(0, 5, stair);
    pid_t pid =
        spawn_live_with(dir, "--shadow-legacy", "--set", "risk.max_order_notional=10", NULL);
    wait_connections(1);
    for (int m = 5; m < 11; m++)
        push_kline(m, &stair[m]);
    /* Said as it happens, not when the run ends. */
    wait_log(dir, "parity: the legacy monolith decided otherwise on BTCUSDT");
    for (int m = 11; m < 16; m++)
        push_kline(m, &stair[m]);
    wait_bar(dir, 15);
    assert_int_equal(interrupt(pid), 0);
    char *out = tbt_read_in(dir, "stdout.txt"), *ev = tbt_read_in(dir, "out/events.jsonl");
    assert_non_null(strstr(out, "shadow legacy run: DIVERGED"));
    char *alert = strstr(ev, "\"rule\":\"parity\"");
    if (!alert) fail_msg("no parity RiskAlert in events.jsonl:\n%s", ev);
    assert_non_null(strstr(alert, "fill record only in the legacy system"));
    /* Its place: after the 11th bar's MarketData, before the 12th's. */
    int bars_before = 0;
    for (char *p = ev; (p = strstr(p, "\"MarketData\"")) && p < alert; p++)
        bars_before++;
    assert_int_equal(bars_before, 11);
    free(out);
    free(ev);
    tbt_remove_tree(dir);
}

/* ---- --resume ---- */

/* SIGINT, and the run must exit 0 (else its log's end is the failure). */
static void stop_ok(const char *dir, pid_t pid)
{
    if (interrupt(pid) == 0) return;
    char *l = tbt_read_in(dir, "stderr.txt");
    size_t n = l ? strlen(l) : 0;
    fail_msg("the run failed; its log ends:\n%s", l ? l + (n > 600 ? n - 600 : 0) : "");
}

/* Two strategies that each buy 1 BTC LIMIT at the 10th bar's close (no
 * liquidity on the fake: the orders rest), orders left open at exit. */
static void write_resume_config(const char *dir)
{
    char cfg[1400], path[700];
    snprintf(cfg, sizeof(cfg),
             "[exchange]\ntype = binance\nmode = testnet\nfee_bps = 10\n"
             "api_key = env:TB_TEST_LIVE_KEY\napi_secret = env:TB_TEST_LIVE_SECRET\n"
             "rest_url = http://127.0.0.1:%d\nws_api_url = ws://127.0.0.1:%d/ws-api/v3\n"
             "[live]\ninterval = 1m\nwarmup_bars = 5\ncancel_on_exit = false\n"
             "stream_url = ws://127.0.0.1:%d\nrest_url = http://127.0.0.1:%d\n"
             "[strategy.t1]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 2\nslow = 3\n"
             "quantity = 1\norder_type = limit\n"
             "[strategy.t2]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 2\nslow = 3\n"
             "quantity = 1\norder_type = limit\n",
             port, port, port, port);
    tbt_write_file(dir, "live.ini", cfg, path, sizeof(path));
    /* The fake's default account (docs/fake-binance.md). */
    testnet_keys();
}

typedef struct {
    const char *cid;
    int filled, canceled, created, requested;
} order_events;

static int count_order(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    order_events *c = ctx;
    if (ev->type == TB_EV_ORDER_FILLED && !strcmp(ev->u.order_filled.client_order_id, c->cid))
        c->filled++;
    if (ev->type == TB_EV_ORDER_CANCELED && !strcmp(ev->u.order_canceled.client_order_id, c->cid))
        c->canceled++;
    if (ev->type == TB_EV_ORDER_CREATED && !strcmp(ev->u.order_created.client_order_id, c->cid))
        c->created++;
    if (ev->type == TB_EV_ORDER_PLACEMENT_REQUEST &&
        !strcmp(ev->u.order_request.client_order_id, c->cid))
        c->requested++;
    return 0;
}

/* The journal's events of order cid. */
static order_events journal_order(const char *dir, const char *cid)
{
    char path[700], err[256];
    snprintf(path, sizeof(path), "%s/live.db", dir);
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = path;
    jc.read_only = 1;
    tb_journal *j = NULL;
    if (tb_journal_open(&jc, &j, err, sizeof(err)) != 0) fail_msg("journal: %s", err);
    order_events c = {cid, 0, 0, 0, 0};
    assert_int_equal(tb_journal_each(j, 0, count_order, &c), 0);
    tb_journal_close(j);
    return c;
}

/* Lines of text that hold needle. */
static int lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *line = strndup(p, len);
        if (strstr(line, needle)) n++;
        free(line);
        p = e ? e + 1 : NULL;
    }
    return n;
}

/* Scenario 8: a run places two orders and stops, leaving them open; while
 * no process runs one is filled, the other canceled, and someone else's
 * order appears. --resume: the fill comes in once (journal, fills.csv) as
 * an event of its order's chain, the cancel is recorded, the foreign order
 * is reported and never touched, and nothing is sent to the exchange. */
static void test_resume_reconciles_what_happened_while_down(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    write_resume_config(dir);
    store_history(0, 5, stair);
    pid_t pid = spawn_live_with(dir, "--journal", "live.db", NULL, NULL);
    wait_log(dir, "market stream connected");
    for (int m = 5; m < 10; m++)
        push_kline(m, &stair[m]);
    wait_bar(dir, 9);
    for (int i = 0; i < 2400 && requests_to("/api/v3/order") < 2; i++)
        sleep_ms(25);
    if (requests_to("/api/v3/order") != 2) {
        char *l = tbt_read_in(dir, "stderr.txt");
        fail_msg("the run did not place its two orders; its log:\n%s", l ? l : "");
    }
    interrupt_ok(dir, pid);

    /* While down. */
    ctl0("POST", "fill", "{\"clientOrderId\":\"t1-1\",\"symbol\":\"BTCUSDT\",\"qty\":\"1\"}");
    ctl0("POST", "cancel", "{\"clientOrderId\":\"t2-2\",\"symbol\":\"BTCUSDT\"}");
    ctl0("POST", "order",
         "{\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"type\":\"LIMIT\",\"timeInForce\":\"GTC\","
         "\"quantity\":\"0.5\",\"price\":\"50\",\"newClientOrderId\":\"manual-x\"}");
    ctl0("DELETE", "requests", NULL);

    /* Without --resume the journal is refused, naming the flag. */
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "live --config live.ini --out out2 --journal live.db"),
                     2);
    assert_non_null(strstr(err, "--resume"));
    free(err);

    pid = spawn_live_with(dir, "--journal", "live.db", "--resume", NULL);
    wait_log(dir, "exchange ready");
    wait_log(dir, "market stream connected");
    push_kline(10, &stair[10]);
    wait_bar(dir, 10);
    stop_ok(dir, pid);

    char *log = tbt_read_in(dir, "stderr.txt");
    if (!strstr(log, "manual-x") || !strstr(log, "not ours"))
        fail_msg("the foreign order was not reported:\n%s", log);
    free(log);
    /* Nothing sent: no order, no cancel (the foreign order untouched). */
    json_t *r = ctl("GET", "requests?since=0&path=/api/v3/order", NULL);
    json_t *arr = json_is_array(r) ? r : json_object_get(r, "requests");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "method"));
        if (m && strcmp(m, "GET") != 0) fail_msg("the resumed run sent %s /api/v3/order", m);
    }
    json_decref(r);

    order_events a = journal_order(dir, "t1-1"), b = journal_order(dir, "t2-2");
    assert_int_equal(a.requested, 1);
    assert_int_equal(a.created, 1);
    assert_int_equal(a.filled, 1);
    assert_int_equal(b.canceled, 1);
    assert_int_equal(b.filled, 0);
    char *fills = tbt_read_in(dir, "out/fills.csv");
    assert_non_null(fills);
    assert_int_equal(lines_with(fills, "t1-1"), 1);
    free(fills);
    /* The recovered fill's chain reaches its order and signal. */
    assert_int_equal(tbt_run_cli(dir, NULL, "journal trace t1-1 --journal live.db"), 0);
    char *trace = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(trace, "OrderPlacementRequest"));
    assert_non_null(strstr(trace, "SignalGenerated"));
    free(trace);

    /* The account no longer holds the 1 BTC the journal's position says:
     * the start stops with both values, unless --adopt-positions. */
    ctl0("POST", "balances", "{\"balances\":{\"BTC\":\"0\"}}");
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "live --config live.ini --out out3 --journal live.db "
                                 "--resume"),
                     1);
    if (!strstr(err, "the journal holds 1 BTC, the account 0 BTC") ||
        !strstr(err, "--adopt-positions"))
        fail_msg("no report of both values:\n%s", err);
    free(err);
    pid = spawn_live_with(dir, "--journal", "live.db", "--resume", "--adopt-positions");
    wait_log(dir, "exchange ready");
    stop_ok(dir, pid);
    log = tbt_read_in(dir, "stderr.txt");
    if (!strstr(log, "the journal holds 1 BTC, the account 0 BTC") ||
        !strstr(log, "--adopt-positions: BTCUSDT: journal 1, account 0: t1 now holds 0"))
        fail_msg("the disagreement was not reported and adopted:\n%s", log);
    free(log);
    /* Adopted as a fill of the difference, journaled with its cause. */
    fills = tbt_read_in(dir, "out/fills.csv");
    assert_non_null(fills);
    assert_int_equal(lines_with(fills, ",adopt-"), 1);
    char adopted[64];
    assert_int_equal(sscanf(strstr(fills, ",adopt-") + 1, "%63[^,]", adopted), 1);
    free(fills);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal trace %s --journal live.db", adopted), 0);
    trace = tbt_read_in(dir, "stdout.txt");
    if (!strstr(trace, "RiskAlert") || !strstr(trace, "adopted") || !strstr(trace, "OrderFilled"))
        fail_msg("journal trace %s:\n%s", adopted, trace);
    free(trace);
    /* The journal's own check accepts the adopted fill (a fill of no order). */
    {
        int code = tbt_run_cli(dir, NULL, "journal replay --journal live.db");
        char *rep = tbt_read_in(dir, "stdout.txt");
        if (code != 0 || (rep && strstr(rep, "no placement request")))
            fail_msg("journal replay exited %d:\n%s", code, rep ? rep : "");
        free(rep);
    }
    /* The books now agree with the account: a resume needs no flag. */
    pid = spawn_live_with(dir, "--journal", "live.db", "--resume", NULL);
    wait_log(dir, "exchange ready");
    stop_ok(dir, pid);
    log = tbt_read_in(dir, "stderr.txt");
    if (strstr(log, "the account 0 BTC")) fail_msg("still disagreeing after adoption:\n%s", log);
    free(log);
    /* ... with the adopted fill's order known to every component again. */
    char *out = tbt_read_in(dir, "stdout.txt");
    if (!out || !strstr(out, "dead letters   0"))
        fail_msg("the resumed run after an adoption:\n%s", out ? out : "");
    free(out);
    tbt_remove_tree(dir);
}

/* Paper mode has nothing to reconcile a journal with: refused. */
static void test_resume_in_paper_mode_is_refused(void **state)
{
    (void)state;
    char dir[512], *err = NULL;
    tbt_temp_dir(dir, sizeof(dir));
    write_config(dir, "paper", 3);
    assert_int_equal(
        tbt_run_cli(dir, &err, "live --config live.ini --out out --journal j.db --resume"), 2);
    assert_non_null(strstr(err, "paper"));
    assert_int_equal(requests_to("/api/v3/klines"), 0);
    free(err);
    tbt_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paper_run_matches_backtest_on_the_same_bars, reset,
                                        reap),
        cmocka_unit_test_setup_teardown(test_sigint_ends_a_paper_run_with_complete_outputs, reset,
                                        reap),
        cmocka_unit_test_setup_teardown(test_live_mode_without_the_flag_refuses, reset, reap),
        cmocka_unit_test_setup_teardown(test_testnet_run_journals_every_request_before_sending_it,
                                        reset, reap),
        cmocka_unit_test(test_warmup_covers_the_longest_timeframe),
        cmocka_unit_test_setup_teardown(test_warmup_loads_history_and_no_order_comes_from_it, reset,
                                        reap),
        cmocka_unit_test_setup_teardown(test_a_bar_is_never_delivered_twice_across_a_reconnect,
                                        reset, reap),
        cmocka_unit_test_setup_teardown(test_shadow_legacy_agreeing_run_reports_identical, reset,
                                        reap),
        cmocka_unit_test_setup_teardown(
            test_shadow_legacy_history_crossings_are_warm_up_on_both_sides, reset, reap),
        cmocka_unit_test_setup_teardown(test_shadow_legacy_on_testnet_compares_decisions_not_fills,
                                        reset, reap),
        cmocka_unit_test_setup_teardown(test_shadow_legacy_divergence_is_a_parity_alert_at_its_bar,
                                        reset, reap),
        cmocka_unit_test_setup_teardown(test_resume_reconciles_what_happened_while_down, reset,
                                        reap),
        cmocka_unit_test_setup_teardown(test_resume_in_paper_mode_is_refused, reset, reap),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
