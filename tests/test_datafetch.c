/* tradebus data fetch (src/feed/datafetch.c, src/cli/cmd_data.c) against
 * the fake Binance (docs/fake-binance.md): three months of 1-minute klines
 * stored in the fake are fetched page by page into monthly files that are
 * byte for byte the rows the fake holds, through a 429, a 5xx, a weight
 * limit and lost connections; reruns fetch only what is not complete; bad
 * arguments are usage errors; a backtest on the fetched files is the same
 * as on one CSV of the same rows. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tb_test_cli.h"
#include "tb_test_fake_binance.h"
#include "tb_test_support.h"
#include "tradebus/datafetch.h"

#define JAN  INT64_C(1704067200000) /* 2024-01-01 */
#define FEB  INT64_C(1706745600000)
#define MAR  INT64_C(1709251200000)
#define APR  INT64_C(1711929600000)
#define MIN_ INT64_C(60000)

static char fbdir[512];
static char base[64];
/* What the fake holds, as the three month files must be. */
static char *month_csv[3];
static size_t month_len[3];

/* ---- HTTP to the fake ---- */

/* A control call (/_ctl/path); fails the test unless it answers 200. */
static json_t *ctl(const char *method, const char *path, const char *json)
{
    return tbt_fb_ctl(base, method, path, json);
}

static void ctl0(const char *method, const char *path, const char *json)
{
    json_decref(ctl(method, path, json));
}

/* The kline requests the fake received since the log was cleared. */
static json_t *kline_requests(void)
{
    json_t *log = ctl("GET", "requests?since=0&path=/api/v3/klines", NULL);
    json_t *reqs = json_incref(json_object_get(log, "requests"));
    json_decref(log);
    assert_true(json_is_array(reqs));
    return reqs;
}

static int64_t req_int(json_t *req, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(req, key));
}

/* startTime of a logged kline request. */
static int64_t req_start(json_t *req)
{
    const char *s = json_string_value(json_object_get(json_object_get(req, "params"), "startTime"));
    return s ? strtoll(s, NULL, 10) : -1;
}

/* ---- the history ---- */

/* Appends to a growing buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof tmp);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, tmp, (size_t)n + 1);
    b->len += (size_t)n;
}

/* Cents as "42000.10000000" (Binance writes 8 decimals). */
static void price(char *out, size_t len, long cents)
{
    snprintf(out, len, "%ld.%02ld000000", cents / 100, cents % 100);
}

/* January to March 2024, one bar a minute, prices in waves (so a strategy
 * trades) with varied text; into the fake (POST /_ctl/klines, in chunks)
 * and into month_csv as the files must read. */
static void store_history(void)
{
    sbuf csv[3] = {{0}};
    long close_c = 4200000;
    int64_t i = 0;
    for (int64_t t = JAN; t < APR; t += MIN_, i++) {
        long phase = (long)(i % 1400), tri = phase < 700 ? phase : 1400 - phase;
        long open_c = close_c;
        close_c = 4150000 + tri * 150 + (long)((i * 7919) % 3000);
        long hi = (open_c > close_c ? open_c : close_c) + (long)(i % 97);
        long lo = (open_c < close_c ? open_c : close_c) - (long)(i % 89);
        char o[32], h[32], l[32], c[32];
        price(o, sizeof o, open_c), price(h, sizeof h, hi), price(l, sizeof l, lo);
        price(c, sizeof c, close_c);
        int m = t < FEB ? 0 : t < MAR ? 1 : 2;
        put(&csv[m],
            "%" PRId64 ",%s,%s,%s,%s,%ld.%05ld000,%" PRId64 ",%ld.%02ld000000,%" PRId64
            ",0.%08ld,%ld.00000000,0\n",
            t, o, h, l, c, 1 + i % 13, (long)(i % 100000), t + MIN_ - 1, 42000 + (long)(i % 5000),
            (long)(i % 100), 10 + i % 1000, (long)(i * 31 % 100000000), 100 + (long)(i % 777));
    }
    for (int m = 0; m < 3; m++) {
        month_csv[m] = csv[m].p;
        month_len[m] = csv[m].len;
    }
    /* The same rows as JSON (the REST row: numbers for times and counts,
     * strings for the rest), 20000 a request. */
    sbuf js = {0};
    int n = 0;
    for (int m = 0; m < 3; m++) {
        char *save = NULL, *copy = strdup(month_csv[m]);
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *f[12], *s2 = NULL;
            int k = 0;
            for (char *x = strtok_r(line, ",", &s2); x && k < 12; x = strtok_r(NULL, ",", &s2))
                f[k++] = x;
            assert_int_equal(k, 12);
            put(&js, "%s[%s,\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",%s,\"%s\",%s,\"%s\",\"%s\",\"%s\"]",
                n ? "," : "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"klines\":[", f[0], f[1],
                f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]);
            if (++n == 20000) {
                put(&js, "]}");
                ctl0("POST", "klines", js.p);
                js.len = 0;
                n = 0;
            }
        }
        free(copy);
    }
    if (n) {
        put(&js, "]}");
        ctl0("POST", "klines", js.p);
    }
    free(js.p);
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tbt_temp_dir(fbdir, sizeof fbdir);
    int port = tbt_free_port();
    char args[1024];
    snprintf(args, sizeof args, "start '%s' %d", fbdir, port);
    tbt_fb_script(args);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    store_history();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char args[1024], path[600], line[1024];
    snprintf(args, sizeof args, "stop '%s'", fbdir);
    tbt_fb_script(args);
    snprintf(path, sizeof path, "%s/log", fbdir);
    FILE *f = fopen(path, "r");
    int bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error")) bad = 1;
        if (bad) fputs(line, stderr);
    }
    if (f) fclose(f);
    tbt_remove_tree(fbdir);
    for (int m = 0; m < 3; m++)
        free(month_csv[m]);
    curl_global_cleanup();
    if (bad) fail_msg("fake_binance reported errors (above)");
    return 0;
}

static char dir[512]; /* each test's own working directory */
static char out[600]; /* dir/out: where the months go */

static int setup(void **state)
{
    (void)state;
    ctl0("DELETE", "faults", NULL);
    ctl0("DELETE", "requests", NULL);
    ctl0("POST", "limits",
         "{\"weight_limit\":6000,\"ban_after\":3,\"ban_seconds\":120,"
         "\"clear\":true}");
    tbt_temp_dir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* ---- helpers ---- */

static const char *const names[3] = {"BTCUSDT-1m-2024-01.csv", "BTCUSDT-1m-2024-02.csv",
                                     "BTCUSDT-1m-2024-03.csv"};

static void assert_month_file(int m)
{
    char *got = tbt_read_in(out, names[m]);
    if (!got) fail_msg("%s/%s was not written", out, names[m]);
    size_t len = strlen(got);
    if (len != month_len[m] || memcmp(got, month_csv[m], len) != 0) {
        size_t i = 0;
        while (i < len && i < month_len[m] && got[i] == month_csv[m][i])
            i++;
        fail_msg("%s differs from the fake's rows at byte %zu of %zu (expected %zu)", names[m], i,
                 len, month_len[m]);
    }
    free(got);
}

/* The names in out/ (the month files and anything else), sorted, joined
 * by spaces. */
static void list_out(char *buf, size_t len)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | tr '\\n' ' '", out);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, len - 1, p);
    buf[n] = '\0';
    pclose(p);
}

typedef struct {
    int pages;
    int fault_at_page; /* queue fault_json when this many pages arrived */
    const char *fault_json;
    int waits, rate_waits;
    int64_t waited_ms;
    int clear_on_wait; /* a rate-limit wait: tell the fake the minute is over */
    int stop_at_page;  /* set *stop when this many pages arrived */
    volatile sig_atomic_t stop;
} watch;

static void on_progress(const tb_datafetch_progress *p, void *ctx)
{
    watch *w = ctx;
    if (p->what == TB_DATAFETCH_PAGE && ++w->pages == w->fault_at_page)
        ctl0("POST", "fault", w->fault_json);
    if (p->what == TB_DATAFETCH_PAGE && w->pages == w->stop_at_page) w->stop = 1;
    if (p->what == TB_DATAFETCH_WAIT) {
        w->waits++;
        w->waited_ms += p->wait_ms;
        if (!strcmp(p->wait_reason, "rate limit")) {
            w->rate_waits++;
            if (w->clear_on_wait) ctl0("POST", "limits", "{\"clear\":true}");
        }
    }
}

static void config(tb_datafetch_config *cfg, watch *w, int64_t from, int64_t to)
{
    tb_datafetch_config_init(cfg);
    cfg->base_url = base;
    cfg->symbol = "BTCUSDT";
    cfg->interval = "1m";
    cfg->from_ms = from;
    cfg->to_ms = to;
    cfg->out_dir = out;
    cfg->backoff_ms = 20;
    cfg->progress = on_progress;
    cfg->progress_ctx = w;
    cfg->stop = &w->stop;
}

/* ---- tests ---- */

static void test_fetch_pages_through_a_429_into_byte_identical_months(void **state)
{
    (void)state;
    watch w = {.fault_at_page = 60,
               .fault_json = "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":"
                             "\"status\",\"status\":429,\"retry_after\":1,\"code\":-1003,"
                             "\"msg\":\"Too much request weight used.\"}"};
    tb_datafetch_config cfg;
    config(&cfg, &w, JAN, APR);
    tb_datafetch_stats st;
    char err[512] = "";
    int rc = tb_datafetch_run(&cfg, &st, err, sizeof err);
    if (rc) fail_msg("fetch failed: %s", err);
    for (int m = 0; m < 3; m++)
        assert_month_file(m);
    assert_int_equal(st.months_written, 3);
    assert_int_equal(st.bars, 131040);
    assert_int_equal(st.retries, 0);
    assert_int_equal(w.waits, 1);
    /* The 429 was answered by a wait of its Retry-After, then the same page
     * again; nothing reached the fake in between. */
    json_t *reqs = kline_requests();
    size_t n = json_array_size(reqs), at = n;
    for (size_t i = 0; i < n; i++)
        if (req_int(json_array_get(reqs, i), "status") == 429) {
            assert_int_equal(at, n); /* only one */
            at = i;
        }
    assert_true(at + 1 < n);
    json_t *r429 = json_array_get(reqs, at), *next = json_array_get(reqs, at + 1);
    assert_true(req_int(next, "wall") - req_int(r429, "wall") >= 1000);
    assert_int_equal(req_start(next), req_start(r429));
    assert_int_equal(st.requests, n);
    /* 1000 bars a page, each month's last page short, and the 429. */
    assert_int_equal(n, 45 + 42 + 45 + 1);
    json_decref(reqs);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now,
                        "BTCUSDT-1m-2024-01.csv BTCUSDT-1m-2024-02.csv BTCUSDT-1m-2024-03.csv ");
}

static void test_rerun_sends_no_request_for_complete_months(void **state)
{
    (void)state;
    watch w = {0};
    tb_datafetch_config cfg;
    config(&cfg, &w, JAN, APR);
    tb_datafetch_stats st;
    char err[512] = "";
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    ctl0("DELETE", "requests", NULL);
    /* A narrower range inside the same months is the same months. */
    cfg.from_ms = JAN + 14 * 86400000LL;
    cfg.to_ms = MAR + 86400000LL;
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_kept, 3);
    assert_int_equal(st.months_written, 0);
    assert_int_equal(st.requests, 0);
    json_t *reqs = kline_requests();
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    for (int m = 0; m < 3; m++)
        assert_month_file(m);
}

/* A clock stopped in mid-March 2024. */
static int64_t fixed_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static void test_month_in_progress_is_written_closed_bars_only_and_refetched(void **state)
{
    (void)state;
    watch w = {0};
    tb_datafetch_config cfg;
    /* 10 March 12:00:30: the 12:00 bar is still open. */
    int64_t now = MAR + 9 * 86400000LL + 12 * 3600000LL + 30000;
    config(&cfg, &w, FEB, APR);
    cfg.now_ms = fixed_now;
    cfg.clock_ctx = &now;
    tb_datafetch_stats st;
    char err[512] = "";
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_written, 2);
    char *march = tbt_read_in(out, names[2]);
    assert_non_null(march);
    size_t bars = (size_t)((now - MAR) / MIN_); /* closed ones */
    size_t len = 0, lines = 0;
    while (lines < bars)
        len = (size_t)(strchr(month_csv[2] + len, '\n') - month_csv[2]) + 1, lines++;
    assert_int_equal(strlen(march), len);
    assert_memory_equal(march, month_csv[2], len);
    free(march);
    /* Still in March: February is kept, March fetched again from its start. */
    ctl0("DELETE", "requests", NULL);
    now += 3600000;
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_kept, 1);
    assert_int_equal(st.months_written, 1);
    json_t *reqs = kline_requests();
    assert_int_equal(req_start(json_array_get(reqs, 0)), MAR);
    json_decref(reqs);
    /* Once March is over, it is fetched whole, and then kept. */
    cfg.now_ms = NULL;
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_kept, 1);
    assert_int_equal(st.months_written, 1);
    assert_month_file(2);
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_kept, 2);
}

static void test_5xx_is_retried_with_back_off(void **state)
{
    (void)state;
    watch w = {.fault_at_page = 3,
               .fault_json =
                   "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":"
                   "\"status\",\"status\":503,\"count\":2,\"body\":\"<html>busy</html>\"}"};
    tb_datafetch_config cfg;
    config(&cfg, &w, FEB, MAR);
    tb_datafetch_stats st;
    char err[512] = "";
    int rc = tb_datafetch_run(&cfg, &st, err, sizeof err);
    if (rc) fail_msg("fetch failed: %s", err);
    assert_int_equal(st.retries, 2);
    assert_int_equal(w.waits, 2);
    assert_int_equal(w.waited_ms, 20 + 40); /* doubled */
    assert_month_file(1);
}

static void test_connection_lost_until_retries_run_out_leaves_no_partial_month(void **state)
{
    (void)state;
    /* The connection closes on every request from the middle of February. */
    watch w = {.fault_at_page = 31 + 20,
               .fault_json = "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":"
                             "\"close\",\"count\":1000}"};
    tb_datafetch_config cfg;
    config(&cfg, &w, JAN, APR);
    cfg.max_retries = 2;
    tb_datafetch_stats st;
    char err[512] = "";
    int rc = tb_datafetch_run(&cfg, &st, err, sizeof err);
    assert_int_equal(rc, TB_ECONN);
    assert_non_null(strstr(err, "gave up after 3 attempts"));
    assert_non_null(strstr(err, "rerun"));
    assert_int_equal(st.months_written, 1);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now, "BTCUSDT-1m-2024-01.csv ");
    assert_month_file(0);
    /* The rerun completes: January kept, February and March written. */
    ctl0("DELETE", "faults", NULL);
    ctl0("DELETE", "requests", NULL);
    w.fault_at_page = 0;
    rc = tb_datafetch_run(&cfg, &st, err, sizeof err);
    if (rc) fail_msg("rerun failed: %s", err);
    assert_int_equal(st.months_kept, 1);
    assert_int_equal(st.months_written, 2);
    json_t *reqs = kline_requests();
    assert_int_equal(req_start(json_array_get(reqs, 0)), FEB);
    json_decref(reqs);
    for (int m = 0; m < 3; m++)
        assert_month_file(m);
}

static void test_stop_drops_the_month_in_progress_and_rerun_completes(void **state)
{
    (void)state;
    /* Ctrl-C in the middle of February. */
    watch w = {.stop_at_page = 45 + 20};
    tb_datafetch_config cfg;
    config(&cfg, &w, JAN, MAR);
    tb_datafetch_stats st;
    char err[512] = "";
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), TB_ECANCELED);
    assert_non_null(strstr(err, "interrupted"));
    assert_int_equal(st.months_written, 1);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now, "BTCUSDT-1m-2024-01.csv ");
    w.stop = 0;
    w.stop_at_page = 0;
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), 0);
    assert_int_equal(st.months_kept, 1);
    assert_month_file(0);
    assert_month_file(1);
}

static void test_ban_longer_than_max_wait_fails_saying_so(void **state)
{
    (void)state;
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":\"status\",\"status\":418,"
         "\"retry_after\":7200,\"code\":-1003,\"msg\":\"Way too much request weight used; IP "
         "banned.\"}");
    watch w = {0};
    tb_datafetch_config cfg;
    config(&cfg, &w, JAN, FEB);
    tb_datafetch_stats st;
    char err[512] = "";
    assert_int_equal(tb_datafetch_run(&cfg, &st, err, sizeof err), TB_EREJECTED);
    if (!strstr(err, "HTTP 418") || !strstr(err, "wait 7200 s") || !strstr(err, "rerun"))
        fail_msg("unclear: %s", err);
    assert_int_equal(w.waits, 0);
    assert_int_equal(st.requests, 1);
}

/* The sleep, not slept: only added up. */
static void no_sleep(int64_t ms, void *ctx)
{
    (void)ctx;
    (void)ms;
}

static void test_throttles_before_the_weight_limit(void **state)
{
    (void)state;
    /* A limit of 20 a minute (10 kline requests): the fetch must wait for
     * the next minute before reaching it, never run into a 429. The wait
     * is not slept; the fake is told the minute is over instead. */
    ctl0("POST", "limits", "{\"weight_limit\":20,\"clear\":true}");
    watch w = {.clear_on_wait = 1};
    tb_datafetch_config cfg;
    config(&cfg, &w, FEB, MAR);
    cfg.weight_limit = 20;
    cfg.weight_reserve = 2;
    cfg.sleep_ms = no_sleep;
    tb_datafetch_stats st;
    char err[512] = "";
    int rc = tb_datafetch_run(&cfg, &st, err, sizeof err);
    if (rc) fail_msg("fetch failed: %s", err);
    assert_month_file(1);
    /* 42 requests, a wait after every ninth (weight 18 of 20). */
    assert_int_equal(st.requests, 42);
    assert_int_equal(w.rate_waits, 4);
    assert_int_equal(w.waits, w.rate_waits);
    json_t *reqs = kline_requests();
    for (size_t i = 0; i < json_array_size(reqs); i++)
        assert_int_equal(req_int(json_array_get(reqs, i), "status"), 200);
    json_decref(reqs);
}

static void test_cli_bad_arguments_exit_2_naming_the_argument(void **state)
{
    (void)state;
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"data fetch --symbol BTCUSDT --interval 7m --from 2024-01-01 --to 2024-03-01",
         "--interval '7m': not a Binance interval (one of 1s, 1m, 3m"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-02-30 --to 2024-03-01",
         "--from '2024-02-30': not a date (YYYY-MM-DD"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to 24-03-01",
         "--to '24-03-01': not a date"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-03-01 --to 2024-01-01",
         "--to 2024-01-01 is not after --from 2024-03-01"},
        {"data fetch --symbol 'BTC/USDT' --interval 1m --from 2024-01-01 --to 2024-03-01",
         "--symbol 'BTC/USDT': not a Binance spot symbol"},
        {"data fetch --interval 1m --from 2024-01-01 --to 2024-03-01", "--symbol is required"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to 2024-03-01 --bogus 1",
         "unknown option '--bogus'"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to 2024-03-01 "
         "--base-url ftp://x",
         "--base-url 'ftp://x': must start with http://"},
        {"data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01", "--to is required"},
        {"data", "which subcommand"},
        {"data get", "unknown subcommand 'get'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        int rc = tbt_run_cli(dir, &err, "%s", cases[i].args);
        if (rc != 2 || !strstr(err, cases[i].want))
            fail_msg("tradebus %s: exit %d, stderr: %s (wanted 2 and '%s')", cases[i].args, rc, err,
                     cases[i].want);
        free(err);
    }
    /* A symbol Binance does not list: its answer, also exit 2. */
    char *err = NULL;
    int rc = tbt_run_cli(dir, &err,
                         "data fetch --symbol NOSUCHCOIN --interval 1m --from 2024-01-01 --to "
                         "2024-02-01 --out out --base-url %s",
                         base);
    if (rc != 2 || !strstr(err, "-1121 Invalid symbol."))
        fail_msg("unknown symbol: exit %d, stderr: %s", rc, err);
    free(err);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now, "");
}

static void test_cli_interrupted_run_fails_clearly_and_rerun_completes(void **state)
{
    (void)state;
    /* January first, then every connection is closed: February cannot be
     * fetched, and nothing of it is left behind. */
    char *err = NULL;
    int rc = tbt_run_cli(dir, &err,
                         "data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to "
                         "2024-02-01 --out out --base-url %s",
                         base);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    free(err);
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":\"close\",\"count\":100}");
    rc = tbt_run_cli(dir, &err,
                     "data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to "
                     "2024-04-01 --out out --base-url %s --retries 1",
                     base);
    assert_int_equal(rc, 1);
    if (!strstr(err, "gave up after 2 attempts") || !strstr(err, "rerun the same command"))
        fail_msg("unclear failure: %s", err);
    free(err);
    char *so = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(so, "BTCUSDT-1m-2024-01.csv: complete, kept"));
    free(so);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now, "BTCUSDT-1m-2024-01.csv ");
    ctl0("DELETE", "faults", NULL);
    rc = tbt_run_cli(dir, &err,
                     "data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to "
                     "2024-04-01 --out out --base-url %s",
                     base);
    if (rc != 0) fail_msg("rerun: exit %d: %s", rc, err);
    free(err);
    so = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(so, "BTCUSDT-1m-2024-02.csv: 41760 bars"));
    assert_non_null(strstr(so, "BTCUSDT-1m-2024-03.csv: 44640 bars"));
    assert_non_null(strstr(so, "1 complete and kept"));
    free(so);
    for (int m = 0; m < 3; m++)
        assert_month_file(m);
}

static void test_cli_ctrl_c_exits_130_leaving_no_partial_month(void **state)
{
    (void)state;
    /* The first page hangs; Ctrl-C arrives while the command waits for it. */
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/klines\",\"action\":\"hang\",\"ms\":20000}");
    char url[128], err_path[700];
    snprintf(url, sizeof url, "%s", base);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(err_path, "w", stderr) || chdir(dir) != 0) _exit(99);
        execl(TB_BINARY, TB_BINARY, "data", "fetch", "--symbol", "BTCUSDT", "--interval", "1m",
              "--from", "2024-01-01", "--to", "2024-02-01", "--out", "out", "--base-url", url,
              (char *)NULL);
        _exit(98);
    }
    /* Wait until the request reached the fake, then interrupt. */
    for (int i = 0; i < 200; i++) {
        json_t *reqs = kline_requests();
        size_t n = json_array_size(reqs);
        json_decref(reqs);
        if (n > 0) break;
        usleep(20000);
    }
    kill(pid, SIGINT);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    char *err = tbt_read_file(err_path);
    assert_non_null(err);
    if (!strstr(err, "interrupted") || !strstr(err, "rerun")) fail_msg("unclear: %s", err);
    free(err);
    char names_now[1024];
    list_out(names_now, sizeof names_now);
    assert_string_equal(names_now, "");
}

/* summary.json without the lines naming files or times of the run. */
static char *summary_of(const char *sub)
{
    char name[64];
    snprintf(name, sizeof name, "%s/summary.json", sub);
    char *s = tbt_read_in(dir, name);
    if (!s) fail_msg("no %s", name);
    return s;
}

static void test_backtest_on_fetched_months_equals_one_direct_csv(void **state)
{
    (void)state;
    char *err = NULL;
    int rc = tbt_run_cli(dir, &err,
                         "data fetch --symbol BTCUSDT --interval 1m --from 2024-01-01 --to "
                         "2024-04-01 --out out --base-url %s",
                         base);
    if (rc != 0) fail_msg("fetch: exit %d: %s", rc, err);
    free(err);
    char path[700];
    snprintf(path, sizeof path, "%s/BTCUSDT-all.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int m = 0; m < 3; m++)
        fwrite(month_csv[m], 1, month_len[m], f);
    assert_int_equal(fclose(f), 0);
    const char *ini = TB_SOURCE_DIR "/examples/sma_cross.ini";
    rc = tbt_run_cli(dir, &err,
                     "backtest --config %s --data BTCUSDT-all.csv --out direct --quiet "
                     "--set output.report=false",
                     ini);
    if (rc != 0) fail_msg("backtest direct: exit %d: %s", rc, err);
    free(err);
    rc = tbt_run_cli(dir, &err,
                     "backtest --config %s --data out/BTCUSDT-1m-2024-01.csv --data "
                     "out/BTCUSDT-1m-2024-02.csv --data out/BTCUSDT-1m-2024-03.csv --out fetched "
                     "--quiet --set output.report=false",
                     ini);
    if (rc != 0) fail_msg("backtest fetched: exit %d: %s", rc, err);
    free(err);
    char *a = summary_of("direct"), *b = summary_of("fetched");
    json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_int_equal(json_integer_value(json_object_get(ja, "bars")), 131040);
    assert_true(json_integer_value(json_object_get(ja, "fills")) > 10);
    if (strcmp(a, b) != 0) fail_msg("summaries differ:\n%s\n---\n%s", a, b);
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_pages_through_a_429_into_byte_identical_months,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rerun_sends_no_request_for_complete_months, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_month_in_progress_is_written_closed_bars_only_and_refetched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5xx_is_retried_with_back_off, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_connection_lost_until_retries_run_out_leaves_no_partial_month, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttles_before_the_weight_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drops_the_month_in_progress_and_rerun_completes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ban_longer_than_max_wait_fails_saying_so, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cli_bad_arguments_exit_2_naming_the_argument, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cli_interrupted_run_fails_clearly_and_rerun_completes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_ctrl_c_exits_130_leaving_no_partial_month, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backtest_on_fetched_months_equals_one_direct_csv,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
