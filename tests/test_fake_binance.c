/* The fake Binance Spot server (tools/fake_binance.c, docs/fake-binance.md)
 * behaves as Binance documents: it is started by scripts/fake_binance.sh
 * on a free loopback port, as the suite will use it, and spoken to as a
 * client would, with libcurl for REST and a small WebSocket client over a
 * plain socket. Signatures (the official vectors), timestamps, orders,
 * scripted fills reaching the user data stream, klines, rate limits,
 * faults and the request log. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tb_test_support.h"

/* The example key pair of Binance's documentation, the fake's default. */
#define API_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define SECRET  "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

static char dir[512];
static int port;
static char base[64];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hmac_hex(const char *key, const char *msg, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), md, &n);
    assert_int_equal(n, 32);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- HTTP ---- */

typedef struct {
    long status;
    char *body;
    size_t len;
    char retry_after[32], weight[32];
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    r->body = realloc(r->body, r->len + sz * n + 1);
    memcpy(r->body + r->len, p, sz * n);
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k)) return;
    const char *v = line + k;
    size_t vl = n - k;
    while (vl && (*v == ' '))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    snprintf(out, outlen, "%.*s", (int)vl, v);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    header_value(p, sz * n, "retry-after:", r->retry_after, sizeof r->retry_after);
    header_value(p, sz * n, "x-mbx-used-weight-1m:", r->weight, sizeof r->weight);
    return sz * n;
}

static void resp_free(resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* method path?query with an optional body, X-MBX-APIKEY when with_key. */
static void http(resp *r, const char *method, const char *target, const char *body, int with_key)
{
    memset(r, 0, sizeof *r);
    char url[8192];
    snprintf(url, sizeof url, "%s%s", base, target);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = NULL;
    if (with_key) h = curl_slist_append(h, "X-MBX-APIKEY: " API_KEY);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) fail_msg("%s %s: %s", method, target, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!r->body) r->body = calloc(1, 1);
}

static json_t *body_json(const resp *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, JSON_DECODE_ANY, &e);
    if (!j) fail_msg("not JSON (%s): %s", e.text, r->body);
    return j;
}

/* A control call; fails the test unless it answers 200. */
static json_t *ctl(const char *method, const char *path, const char *json)
{
    resp r;
    char target[256];
    snprintf(target, sizeof target, "/_ctl/%s", path);
    http(&r, method, target, json, 0);
    if (r.status != 200) fail_msg("control %s %s: %ld %s", method, path, r.status, r.body);
    json_t *j = body_json(&r);
    resp_free(&r);
    return j;
}

static void ctl0(const char *method, const char *path, const char *json)
{
    json_decref(ctl(method, path, json));
}

/* A SIGNED request: timestamp appended to the query, signature over the
 * query string followed by the body, sent in the query. */
static void signed_http(resp *r, const char *method, const char *path, const char *query,
                        const char *body)
{
    char q[4096], payload[8192], sig[65], target[8192];
    snprintf(q, sizeof q, "%s%stimestamp=%" PRId64, query, *query ? "&" : "", now_ms());
    snprintf(payload, sizeof payload, "%s%s", q, body ? body : "");
    hmac_hex(SECRET, payload, sig);
    snprintf(target, sizeof target, "%s?%s&signature=%s", path, q, sig);
    http(r, method, target, body, 1);
}

static json_t *signed_json(const char *method, const char *path, const char *query,
                           const char *body, long want_status)
{
    resp r;
    signed_http(&r, method, path, query, body);
    if (r.status != want_status)
        fail_msg("%s %s?%s: %ld (wanted %ld) %s", method, path, query, r.status, want_status,
                 r.body);
    json_t *j = body_json(&r);
    resp_free(&r);
    return j;
}

#define assert_json_str(obj, key, want)                                                            \
    do {                                                                                           \
        const char *got_ = json_string_value(json_object_get((obj), (key)));                       \
        if (!got_ || strcmp(got_, (want)))                                                         \
            fail_msg("%s: got %s, wanted %s", (key), got_ ? got_ : "(none)", (want));              \
    } while (0)
#define assert_json_int(obj, key, want)                                                            \
    assert_int_equal(json_integer_value(json_object_get((obj), (key))), (want))

/* ---- a minimal WebSocket client (RFC 6455, text frames) ---- */

typedef struct {
    int fd;
    unsigned char buf[1 << 16];
    size_t len;
} ws_t;

static int connect_local(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) fail_msg("connect: %s", strerror(errno));
    return fd;
}

/* Reads at least one more byte within timeout_ms; 0 on EOF or timeout. */
static int fill(ws_t *w, int timeout_ms)
{
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return 0;
    ssize_t n = read(w->fd, w->buf + w->len, sizeof w->buf - w->len);
    if (n <= 0) return 0;
    w->len += (size_t)n;
    return 1;
}

static void ws_connect(ws_t *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = connect_local();
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    assert_int_equal(write(w->fd, req, (size_t)n), n);
    char *end = NULL;
    while (!end) {
        if (!fill(w, 5000)) fail_msg("no WebSocket handshake reply for %s", path);
        w->buf[w->len] = '\0';
        end = strstr((char *)w->buf, "\r\n\r\n");
    }
    if (strncmp((char *)w->buf, "HTTP/1.1 101", 12)) fail_msg("handshake: %s", (char *)w->buf);
    size_t used = (size_t)(end + 4 - (char *)w->buf);
    memmove(w->buf, w->buf + used, w->len - used);
    w->len -= used;
}

static void ws_send(ws_t *w, int opcode, const char *data, size_t n)
{
    unsigned char h[14], mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else {
        assert_true(n < 65536);
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    }
    memcpy(h + hl, mask, 4);
    hl += 4;
    unsigned char *f = malloc(hl + n);
    memcpy(f, h, hl);
    for (size_t i = 0; i < n; i++)
        f[hl + i] = (unsigned char)data[i] ^ mask[i & 3];
    assert_int_equal(write(w->fd, f, hl + n), (ssize_t)(hl + n));
    free(f);
}

static void ws_send_json(ws_t *w, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    ws_send(w, 1, t, strlen(t));
    free(t);
    json_decref(j);
}

/* The next data message (pings answered, pongs counted), as JSON; NULL if
 * none within timeout_ms or the connection ended (*closed set). */
static json_t *ws_next(ws_t *w, int timeout_ms, int *closed, int *pongs)
{
    int64_t deadline = now_ms() + timeout_ms;
    if (closed) *closed = 0;
    for (;;) {
        size_t need = 2, plen = 0;
        if (w->len >= 2) {
            plen = w->buf[1] & 0x7f;
            if (plen == 126) need = 4;
            if (plen == 127) need = 10;
            if (w->len >= need) {
                if (plen == 126) plen = (size_t)w->buf[2] << 8 | w->buf[3];
                if (plen == 127) {
                    plen = 0;
                    for (int i = 2; i < 10; i++)
                        plen = plen << 8 | w->buf[i];
                }
                need += plen;
            }
        }
        if (w->len >= 2 && w->len >= need) {
            int op = w->buf[0] & 0x0f;
            char *data = malloc(plen + 1);
            memcpy(data, w->buf + need - plen, plen);
            data[plen] = '\0';
            memmove(w->buf, w->buf + need, w->len - need);
            w->len -= need;
            if (op == 1) {
                json_t *j = json_loads(data, 0, NULL);
                if (!j) fail_msg("not JSON: %s", data);
                free(data);
                return j;
            }
            if (op == 9) ws_send(w, 10, data, plen);
            if (op == 10 && pongs) (*pongs)++;
            free(data);
            if (op == 8) {
                if (closed) *closed = 1;
                return NULL;
            }
            continue;
        }
        int left = (int)(deadline - now_ms());
        if (!fill(w, left > 0 ? left : 0)) {
            if (closed && now_ms() < deadline) *closed = 1;
            return NULL;
        }
    }
}

static json_t *ws_must(ws_t *w)
{
    json_t *j = ws_next(w, 5000, NULL, NULL);
    if (!j) fail_msg("no WebSocket message within 5 s");
    return j;
}

static void ws_close(ws_t *w)
{
    close(w->fd);
    w->fd = -1;
}

/* userDataStream.subscribe.signature: the params but the signature, sorted
 * by name, as "k=v&..." signed (web-socket-api.md). */
static void ws_subscribe(ws_t *w)
{
    int64_t ts = now_ms();
    char payload[256], sig[65];
    snprintf(payload, sizeof payload, "apiKey=%s&timestamp=%" PRId64, API_KEY, ts);
    hmac_hex(SECRET, payload, sig);
    ws_send_json(w, json_pack("{s:s,s:s,s:{s:s,s:I,s:s}}", "id", "sub-1", "method",
                              "userDataStream.subscribe.signature", "params", "apiKey", API_KEY,
                              "timestamp", (json_int_t)ts, "signature", sig));
    json_t *r = ws_must(w);
    assert_json_str(r, "id", "sub-1");
    assert_json_int(r, "status", 200);
    assert_json_int(json_object_get(r, "result"), "subscriptionId", 0);
    json_decref(r);
}

/* The next user data event: its type checked, the event object returned. */
static json_t *next_event(ws_t *w, const char *type)
{
    json_t *m = ws_must(w);
    assert_json_int(m, "subscriptionId", 0);
    json_t *ev = json_incref(json_object_get(m, "event"));
    json_decref(m);
    assert_json_str(ev, "e", type);
    return ev;
}

/* ---- fixture ---- */

/* The server and script ctest names, or those of this build and tree. */
static void script(const char *args)
{
    const char *bin = getenv("FAKE_BINANCE"), *sh = getenv("TB_FAKE_BINANCE_SCRIPT");
    char cmd[2048], dflt[1024];
    snprintf(dflt, sizeof dflt, "%s/scripts/fake_binance.sh", TB_SOURCE_DIR);
    snprintf(cmd, sizeof cmd, "FAKE_BINANCE='%s' sh '%s' %s", bin ? bin : TB_FAKE_BINANCE,
             sh ? sh : dflt, args);
    if (system(cmd) != 0) fail_msg("failed: %s", cmd);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tbt_temp_dir(dir, sizeof dir);
    port = free_port();
    char args[1024];
    /* Server pings every second, so the test sees them. */
    snprintf(args, sizeof args, "start '%s' %d --ping-interval 1", dir, port);
    script(args);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char args[1024], path[600], line[1024];
    snprintf(args, sizeof args, "stop '%s'", dir);
    script(args);
    /* Built with sanitizers, the fake reports its errors and leaks (at
     * exit, after the SIGTERM of stop) in its log. */
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *f = fopen(path, "r");
    int bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error")) bad = 1;
        if (bad) fputs(line, stderr);
    }
    if (f) fclose(f);
    if (bad) fail_msg("fake_binance reported errors (above)");
    tbt_remove_dir(dir);
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    ctl0("POST", "reset", "{}");
    return 0;
}

/* ---- tests ---- */

/* rest-api.md's HMAC example, sent as documented: the fake's clock is set
 * to the example's timestamp so that only the signature can fail. */
static void test_rest_signature_vectors_verify(void **state)
{
    (void)state;
    char sig[65];
    const char *payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                          "recvWindow=5000&timestamp=1499827319559";
    hmac_hex(SECRET, payload, sig);
    assert_string_equal(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    const char *utf8 = "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&"
                       "type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&"
                       "timestamp=1499827319559";
    hmac_hex(SECRET, utf8, sig);
    assert_string_equal(sig, "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3");

    ctl0("POST", "symbol",
         "{\"symbol\":\"LTCBTC\",\"base\":\"LTC\",\"quote\":\"BTC\",\"tickSize\":\"0.000001\","
         "\"minPrice\":\"0.000001\",\"maxPrice\":\"1000\",\"stepSize\":\"0.001\",\"minQty\":"
         "\"0.001\",\"maxQty\":\"90000\",\"minNotional\":\"0.0001\"}");
    ctl0("POST", "symbol",
         "{\"symbol\":\"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96\","
         "\"base\":\"X\",\"quote\":\"BTC\",\"tickSize\":\"0.1\",\"stepSize\":\"1\",\"minQty\":"
         "\"1\",\"minNotional\":\"0.01\"}");
    char clock[64];
    snprintf(clock, sizeof clock, "{\"offset_ms\":%" PRId64 "}", INT64_C(1499827319559) - now_ms());
    ctl0("POST", "clock", clock);

    resp r;
    http(&r, "POST",
         "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
         "recvWindow=5000&timestamp=1499827319559&"
         "signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
         NULL, 1);
    if (r.status != 200) fail_msg("the documented request was refused: %s", r.body);
    json_t *o = body_json(&r);
    assert_json_str(o, "status", "NEW");
    json_decref(o);
    resp_free(&r);

    /* The same with the non-ASCII symbol, percent-encoded before signing. */
    ctl0("POST", "clock", clock);
    http(&r, "POST",
         "/api/v3/order?symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&"
         "type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&"
         "signature=e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3",
         NULL, 1);
    if (r.status != 200) fail_msg("the documented non-ASCII request was refused: %s", r.body);
    resp_free(&r);

    /* The signature in the body, and split between query and body. */
    ctl0("POST", "clock", "{\"offset_ms\":0}");
    json_decref(signed_json("POST", "/api/v3/order", "symbol=LTCBTC&side=BUY",
                            "type=LIMIT&timeInForce=GTC&quantity=1&price=0.1", 200));
    int64_t ts = now_ms();
    char body[512];
    snprintf(body, sizeof body,
             "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&"
             "timestamp=%" PRId64,
             ts);
    hmac_hex(SECRET, body, sig);
    char full[600];
    snprintf(full, sizeof full, "%s&signature=%s", body, sig);
    http(&r, "POST", "/api/v3/order", full, 1);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

/* web-socket-api.md's HMAC example: its params (those of an order.place)
 * signed sorted by name. userDataStream.subscribe.signature checks every
 * param it is given, so the example's exact params subscribe. */
static void test_ws_api_signature_vector_verifies(void **state)
{
    (void)state;
    char sig[65];
    hmac_hex(SECRET,
             "apiKey=" API_KEY "&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&"
             "symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT",
             sig);
    assert_string_equal(sig, "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24");
    /* recvWindow is 100 ms: the fake's clock goes 900 ms behind the
     * timestamp (allowed up to 1000), which leaves a second for the trip. */
    char clock[64];
    snprintf(clock, sizeof clock, "{\"offset_ms\":%" PRId64 "}",
             INT64_C(1645423376532) - 900 - now_ms());
    ws_t w;
    ws_connect(&w, "/ws-api/v3");
    ctl0("POST", "clock", clock);
    ws_send_json(&w, json_pack("{s:i,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:s}}", "id", 7,
                               "method", "userDataStream.subscribe.signature", "params", "symbol",
                               "BTCUSDT", "side", "SELL", "type", "LIMIT", "timeInForce", "GTC",
                               "quantity", "0.01000000", "price", "52000.00", "recvWindow", 100,
                               "timestamp", (json_int_t)1645423376532, "apiKey", API_KEY,
                               "signature", sig));
    json_t *r = ws_must(&w);
    if (json_integer_value(json_object_get(r, "status")) != 200) {
        char *t = json_dumps(r, 0);
        fail_msg("the documented signature was refused: %s", t);
    }
    assert_json_int(r, "id", 7);
    json_decref(r);
    /* A wrong signature is -1022 there too. */
    sig[0] = sig[0] == '0' ? '1' : '0';
    ws_send_json(&w, json_pack("{s:i,s:s,s:{s:s,s:I,s:s}}", "id", 8, "method",
                               "userDataStream.subscribe.signature", "params", "apiKey", API_KEY,
                               "timestamp", (json_int_t)1645423376532, "signature", sig));
    r = ws_must(&w);
    assert_json_int(r, "status", 400);
    assert_json_int(json_object_get(r, "error"), "code", -1022);
    json_decref(r);
    ws_close(&w);
}

static void test_wrong_signature_is_1022(void **state)
{
    (void)state;
    char q[256], sig[65], target[512];
    snprintf(q, sizeof q, "symbol=BTCUSDT&timestamp=%" PRId64, now_ms());
    hmac_hex("not-the-secret", q, sig);
    snprintf(target, sizeof target, "/api/v3/openOrders?%s&signature=%s", q, sig);
    resp r;
    http(&r, "GET", target, NULL, 1);
    assert_int_equal(r.status, 400);
    json_t *j = body_json(&r);
    assert_json_int(j, "code", -1022);
    assert_json_str(j, "msg", "Signature for this request is not valid.");
    json_decref(j);
    resp_free(&r);
    /* Without the API key header: -2014. */
    hmac_hex(SECRET, q, sig);
    snprintf(target, sizeof target, "/api/v3/openOrders?%s&signature=%s", q, sig);
    http(&r, "GET", target, NULL, 0);
    assert_int_equal(r.status, 401);
    j = body_json(&r);
    assert_json_int(j, "code", -2014);
    json_decref(j);
    resp_free(&r);
}

static void expect_1021(int64_t ts, const char *recv_window, const char *msg)
{
    char q[256], sig[65], target[512];
    snprintf(q, sizeof q, "%s%stimestamp=%" PRId64, recv_window ? recv_window : "",
             recv_window ? "&" : "", ts);
    hmac_hex(SECRET, q, sig);
    snprintf(target, sizeof target, "/api/v3/account?%s&signature=%s", q, sig);
    resp r;
    http(&r, "GET", target, NULL, 1);
    assert_int_equal(r.status, 400);
    json_t *j = body_json(&r);
    assert_json_int(j, "code", -1021);
    assert_json_str(j, "msg", msg);
    json_decref(j);
    resp_free(&r);
}

static void test_timestamp_outside_window_is_1021(void **state)
{
    (void)state;
    expect_1021(now_ms() - 6000, NULL, "Timestamp for this request is outside of the recvWindow.");
    expect_1021(now_ms() - 2000, "recvWindow=1000",
                "Timestamp for this request is outside of the recvWindow.");
    expect_1021(now_ms() + 2000, NULL,
                "Timestamp for this request was 1000ms ahead of the server's time.");
    /* The fake's clock 3 s ahead: a client on the wall clock is late; once
     * it measures the offset with GET /api/v3/time it is not. */
    ctl0("POST", "clock", "{\"offset_ms\":3000}");
    expect_1021(now_ms(), "recvWindow=2000",
                "Timestamp for this request is outside of the recvWindow.");
    resp r;
    http(&r, "GET", "/api/v3/time", NULL, 0);
    json_t *t = body_json(&r);
    int64_t offset = json_integer_value(json_object_get(t, "serverTime")) - now_ms();
    assert_true(offset > 2500 && offset < 3500);
    json_decref(t);
    resp_free(&r);
    char q[256], sig[65], target[512];
    snprintf(q, sizeof q, "recvWindow=2000&timestamp=%" PRId64, now_ms() + offset);
    hmac_hex(SECRET, q, sig);
    snprintf(target, sizeof target, "/api/v3/account?%s&signature=%s", q, sig);
    http(&r, "GET", target, NULL, 1);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_limit_order_is_new_and_open(void **state)
{
    (void)state;
    json_t *o = signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&"
                            "price=40000&newClientOrderId=tb-1",
                            NULL, 200);
    assert_json_str(o, "status", "NEW");
    assert_json_str(o, "clientOrderId", "tb-1");
    assert_json_str(o, "price", "40000.00000000");
    assert_json_str(o, "origQty", "0.01000000");
    assert_int_equal(json_array_size(json_object_get(o, "fills")), 0);
    json_int_t id = json_integer_value(json_object_get(o, "orderId"));
    json_decref(o);

    json_t *open = signed_json("GET", "/api/v3/openOrders", "symbol=BTCUSDT", NULL, 200);
    assert_int_equal(json_array_size(open), 1);
    assert_json_int(json_array_get(open, 0), "orderId", id);
    assert_json_str(json_array_get(open, 0), "status", "NEW");
    json_decref(open);
    o = signed_json("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=tb-1", NULL, 200);
    assert_json_int(o, "orderId", id);
    assert_true(json_is_true(json_object_get(o, "isWorking")));
    json_decref(o);

    /* The quote is locked: 400 USDT. */
    json_t *acct = signed_json("GET", "/api/v3/account", "omitZeroBalances=true", NULL, 200);
    json_t *b0 = json_array_get(json_object_get(acct, "balances"), 0);
    assert_json_str(b0, "asset", "USDT");
    assert_json_str(b0, "free", "999600.00000000");
    assert_json_str(b0, "locked", "400.00000000");
    json_decref(acct);

    /* The same client id while it is open; a price off the tick; a lot off the step. */
    json_t *e = signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&"
                            "price=40000&newClientOrderId=tb-1",
                            NULL, 400);
    assert_json_int(e, "code", -2010);
    assert_json_str(e, "msg", "Duplicate order sent.");
    json_decref(e);
    e = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&"
                    "price=40000.001",
                    NULL, 400);
    assert_json_int(e, "code", -1013);
    assert_json_str(e, "msg", "Filter failure: PRICE_FILTER");
    json_decref(e);
    e = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000001&"
                    "price=40000",
                    NULL, 400);
    assert_json_str(e, "msg", "Filter failure: LOT_SIZE");
    json_decref(e);
    e = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0001&"
                    "price=40000",
                    NULL, 400);
    assert_json_str(e, "msg", "Filter failure: NOTIONAL");
    json_decref(e);
    e = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1e-2&price=40000",
                    NULL, 400);
    assert_json_int(e, "code", -1100);
    json_decref(e);

    /* Cancel by client id: the cancel's own id in clientOrderId. */
    o = signed_json("DELETE", "/api/v3/order",
                    "symbol=BTCUSDT&origClientOrderId=tb-1&newClientOrderId=tb-1-cancel", NULL,
                    200);
    assert_json_str(o, "status", "CANCELED");
    assert_json_str(o, "origClientOrderId", "tb-1");
    assert_json_str(o, "clientOrderId", "tb-1-cancel");
    json_decref(o);
    e = signed_json("DELETE", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=tb-1", NULL, 400);
    assert_json_int(e, "code", -2011);
    json_decref(e);
    e = signed_json("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=nope", NULL, 400);
    assert_json_int(e, "code", -2013);
    json_decref(e);
}

static void test_market_order_fills_from_the_book(void **state)
{
    (void)state;
    ctl0("POST", "book",
         "{\"symbol\":\"BTCUSDT\",\"asks\":[[\"42000.00\",\"0.4\"],[\"42010.00\",\"1\"]]}");
    ctl0("POST", "config", "{\"commission_asset\":\"BNB\",\"commission_asset_price\":\"300\"}");
    json_t *o = signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5&newClientOrderId=m1",
                            NULL, 200);
    assert_json_str(o, "status", "FILLED");
    assert_json_str(o, "executedQty", "0.50000000");
    /* 0.4 × 42000 + 0.1 × 42010 */
    assert_json_str(o, "cummulativeQuoteQty", "21001.00000000");
    json_t *fills = json_object_get(o, "fills");
    assert_int_equal(json_array_size(fills), 2);
    assert_json_str(json_array_get(fills, 0), "price", "42000.00000000");
    assert_json_str(json_array_get(fills, 0), "qty", "0.40000000");
    /* 0.1 % of 16800 USDT, in BNB at 300 */
    assert_json_str(json_array_get(fills, 0), "commission", "0.05600000");
    assert_json_str(json_array_get(fills, 0), "commissionAsset", "BNB");
    json_decref(o);
    /* An IOC limit that crosses only part of what is left expires the rest. */
    o = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=1&price=42010",
                    NULL, 200);
    assert_json_str(o, "status", "EXPIRED");
    assert_json_str(o, "executedQty", "0.90000000");
    json_decref(o);
    /* Nothing left and no last price: a FOK expires untouched. */
    ctl0("POST", "book", "{\"symbol\":\"BTCUSDT\",\"asks\":[],\"lastPrice\":\"0\"}");
    o = signed_json("POST", "/api/v3/order",
                    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=1&price=42010",
                    NULL, 200);
    assert_json_str(o, "status", "EXPIRED");
    assert_json_str(o, "executedQty", "0.00000000");
    json_decref(o);
}

static void test_scripted_fill_reaches_the_user_stream(void **state)
{
    (void)state;
    ws_t w;
    ws_connect(&w, "/ws-api/v3");
    ws_subscribe(&w);
    json_t *o = signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.02&"
                            "price=40000&newClientOrderId=f1",
                            NULL, 200);
    json_int_t id = json_integer_value(json_object_get(o, "orderId"));
    json_decref(o);
    json_t *ev = next_event(&w, "executionReport");
    assert_json_str(ev, "x", "NEW");
    assert_json_str(ev, "X", "NEW");
    assert_json_str(ev, "c", "f1");
    assert_json_int(ev, "i", id);
    assert_json_int(ev, "t", -1);
    json_decref(ev);
    ev = next_event(&w, "outboundAccountPosition");
    json_decref(ev);

    ctl0("POST", "fill",
         "{\"clientOrderId\":\"f1\",\"qty\":\"0.005\",\"price\":\"39990\",\"commission\":\"0.01\","
         "\"commissionAsset\":\"BNB\"}");
    ev = next_event(&w, "executionReport");
    assert_json_str(ev, "x", "TRADE");
    assert_json_str(ev, "X", "PARTIALLY_FILLED");
    assert_json_str(ev, "l", "0.00500000");
    assert_json_str(ev, "L", "39990.00000000");
    assert_json_str(ev, "z", "0.00500000");
    assert_json_str(ev, "Z", "199.95000000");
    assert_json_str(ev, "n", "0.01000000");
    assert_json_str(ev, "N", "BNB");
    json_int_t trade_id = json_integer_value(json_object_get(ev, "t"));
    assert_true(trade_id > 0);
    json_decref(ev);
    json_decref(next_event(&w, "outboundAccountPosition"));

    char q[128];
    snprintf(q, sizeof q, "symbol=BTCUSDT&orderId=%" JSON_INTEGER_FORMAT, id);
    json_t *trades = signed_json("GET", "/api/v3/myTrades", q, NULL, 200);
    assert_int_equal(json_array_size(trades), 1);
    json_t *t = json_array_get(trades, 0);
    assert_json_int(t, "id", trade_id);
    assert_json_str(t, "qty", "0.00500000");
    assert_json_str(t, "commissionAsset", "BNB");
    assert_true(json_is_true(json_object_get(t, "isBuyer")));
    json_decref(trades);

    /* The rest, its report sent twice (a duplicate, same trade id). */
    ctl0("POST", "fill", "{\"clientOrderId\":\"f1\",\"duplicate\":true}");
    json_t *a = next_event(&w, "executionReport"), *b = next_event(&w, "executionReport");
    assert_json_str(a, "X", "FILLED");
    assert_json_str(a, "l", "0.01500000");
    assert_json_str(a, "z", "0.02000000");
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    json_decref(next_event(&w, "outboundAccountPosition"));
    ws_close(&w);
}

static void test_user_stream_drop_and_silence(void **state)
{
    (void)state;
    ws_t w;
    ws_connect(&w, "/ws-api/v3");
    ws_subscribe(&w);
    /* The server pings (every second here); a silent stream still pongs. */
    int closed, pongs = 0;
    ctl0("POST", "userstream", "{\"action\":\"silent\"}");
    ctl0("POST", "order",
         "{\"symbol\":\"BTCUSDT\",\"side\":\"SELL\",\"type\":\"LIMIT\",\"timeInForce\":\"GTC\","
         "\"quantity\":\"0.01\",\"price\":\"50000\",\"newClientOrderId\":\"s1\"}");
    ws_send(&w, 9, "hi", 2);
    json_t *m = ws_next(&w, 1500, &closed, &pongs);
    assert_null(m);
    assert_false(closed);
    assert_int_equal(pongs, 1);
    /* Dropped: no close frame, the connection just ends; nothing replayed. */
    ctl0("POST", "userstream", "{\"action\":\"drop\"}");
    m = ws_next(&w, 3000, &closed, NULL);
    assert_null(m);
    assert_true(closed);
    ws_close(&w);
    ws_connect(&w, "/ws-api/v3");
    ws_subscribe(&w);
    assert_null(ws_next(&w, 300, &closed, NULL));
    ctl0("POST", "cancel", "{\"clientOrderId\":\"s1\"}");
    json_t *ev = next_event(&w, "executionReport");
    assert_json_str(ev, "x", "CANCELED");
    assert_json_str(ev, "C", "s1");
    json_decref(ev);
    json_decref(next_event(&w, "outboundAccountPosition"));
    /* The exchange ends an order itself; a deposit. */
    ctl0("POST", "order",
         "{\"symbol\":\"BTCUSDT\",\"side\":\"BUY\",\"type\":\"LIMIT\",\"timeInForce\":\"GTC\","
         "\"quantity\":\"0.01\",\"price\":\"40000\",\"newClientOrderId\":\"s2\"}");
    json_decref(next_event(&w, "executionReport"));
    json_decref(next_event(&w, "outboundAccountPosition"));
    ctl0("POST", "expire", "{\"clientOrderId\":\"s2\"}");
    ev = next_event(&w, "executionReport");
    assert_json_str(ev, "X", "EXPIRED");
    assert_json_str(ev, "eR", "EXCHANGE_CANCELED");
    json_decref(ev);
    json_decref(next_event(&w, "outboundAccountPosition"));
    ctl0("POST", "deposit", "{\"asset\":\"USDT\",\"delta\":\"-25.5\"}");
    ev = next_event(&w, "balanceUpdate");
    assert_json_str(ev, "d", "-25.50000000");
    json_decref(ev);
    ws_close(&w);
}

static void test_events_before_the_rest_reply(void **state)
{
    (void)state;
    ws_t w;
    ws_connect(&w, "/ws-api/v3");
    ws_subscribe(&w);
    ctl0("POST", "userstream", "{\"events_first\":true,\"events_first_delay_ms\":200}");
    int64_t t0 = now_ms();
    json_decref(signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&"
                            "price=40000",
                            NULL, 200));
    assert_true(now_ms() - t0 >= 200);
    /* Already waiting in the socket when the reply came. */
    int closed;
    json_t *m = ws_next(&w, 0, &closed, NULL);
    assert_non_null(m);
    json_decref(m);
    ws_close(&w);
}

static void test_429_carries_retry_after_then_418(void **state)
{
    (void)state;
    ctl0("POST", "fault",
         "{\"method\":\"GET\",\"path\":\"/api/v3/time\",\"action\":\"status\",\"status\":429,"
         "\"retry_after\":2,\"code\":-1003,\"msg\":\"Too much request weight used.\"}");
    ctl0("POST", "limits", "{\"ban_after\":2,\"ban_seconds\":7}");
    resp r;
    http(&r, "GET", "/api/v3/time", NULL, 0);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.retry_after, "2");
    assert_true(r.weight[0] != '\0');
    resp_free(&r);
    /* Not backing off: another 429, then the ban. */
    http(&r, "GET", "/api/v3/ping", NULL, 0);
    assert_int_equal(r.status, 429);
    resp_free(&r);
    http(&r, "GET", "/api/v3/ping", NULL, 0);
    assert_int_equal(r.status, 418);
    assert_int_equal(atoi(r.retry_after), 7);
    resp_free(&r);

    /* The weight limit itself: exchangeInfo weighs 20. */
    ctl0("POST", "limits", "{\"clear\":true,\"weight_limit\":30}");
    http(&r, "GET", "/api/v3/exchangeInfo", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.weight, "20");
    resp_free(&r);
    /* (A third try only if the minute turned between the two.) */
    for (int i = 0; i < 2; i++) {
        http(&r, "GET", "/api/v3/exchangeInfo", NULL, 0);
        if (r.status == 429) break;
        resp_free(&r);
    }
    assert_int_equal(r.status, 429);
    assert_true(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 60);
    json_t *j = body_json(&r);
    assert_json_int(j, "code", -1003);
    json_decref(j);
    resp_free(&r);
}

static void test_faults_after_the_order_was_accepted(void **state)
{
    (void)state;
    ctl0("POST", "fault",
         "{\"method\":\"POST\",\"path\":\"/api/v3/order\",\"action\":\"status\",\"when\":"
         "\"after\",\"status\":503,\"body\":\"<html>Service Unavailable</html>\"}");
    resp r;
    signed_http(&r, "POST", "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&"
                "newClientOrderId=amb-1",
                NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "<html>Service Unavailable</html>");
    resp_free(&r);
    json_t *o =
        signed_json("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=amb-1", NULL, 200);
    assert_json_str(o, "status", "NEW");
    json_decref(o);
    /* A hang after acceptance: the reply comes late, the order exists. */
    ctl0("POST", "fault",
         "{\"method\":\"POST\",\"path\":\"/api/v3/order\",\"action\":\"hang\",\"when\":\"after\","
         "\"ms\":400}");
    int64_t t0 = now_ms();
    json_decref(signed_json("POST", "/api/v3/order",
                            "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&"
                            "price=40000&newClientOrderId=amb-2",
                            NULL, 200));
    assert_true(now_ms() - t0 >= 400);
    /* An error before: nothing reaches the engine. */
    ctl0("POST", "fault",
         "{\"method\":\"POST\",\"path\":\"/api/v3/order\",\"action\":\"error\",\"status\":408,"
         "\"code\":-1007,\"msg\":\"Timeout waiting for response from backend server. Send "
         "status unknown; execution status unknown.\"}");
    signed_http(&r, "POST", "/api/v3/order",
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&"
                "newClientOrderId=amb-3",
                NULL);
    assert_int_equal(r.status, 408);
    resp_free(&r);
    json_t *e =
        signed_json("GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=amb-3", NULL, 400);
    assert_json_int(e, "code", -2013);
    json_decref(e);
}

static void test_request_log_shows_what_was_sent(void **state)
{
    (void)state;
    json_t *st = ctl("GET", "status", NULL);
    json_int_t since = json_integer_value(json_object_get(st, "last_seq"));
    json_decref(st);
    json_decref(signed_json("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY",
                            "type=LIMIT&timeInForce=GTC&quantity=0.01&price=40000&"
                            "newClientOrderId=log-1",
                            200));
    char path[128];
    snprintf(path, sizeof path, "requests?since=%" JSON_INTEGER_FORMAT "&path=/api/v3/order",
             since);
    json_t *log = ctl("GET", path, NULL);
    json_t *reqs = json_object_get(log, "requests");
    assert_int_equal(json_array_size(reqs), 1);
    json_t *e = json_array_get(reqs, 0);
    assert_json_str(e, "method", "POST");
    assert_json_str(e, "path", "/api/v3/order");
    assert_json_str(e, "apiKey", API_KEY);
    assert_json_int(e, "status", 200);
    assert_true(json_integer_value(json_object_get(e, "time")) > 0);
    json_t *p = json_object_get(e, "params");
    assert_json_str(p, "newClientOrderId", "log-1");
    assert_json_str(p, "symbol", "BTCUSDT");
    assert_json_str(p, "price", "40000");
    assert_non_null(
        strstr(json_string_value(json_object_get(e, "body")), "newClientOrderId=log-1"));
    assert_non_null(
        strstr(json_string_value(json_object_get(e, "query")), "symbol=BTCUSDT&side=BUY"));
    json_decref(log);
}

static void test_kline_stream_and_history(void **state)
{
    (void)state;
    ws_t w;
    ws_connect(&w, "/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m");
    ctl0(
        "POST", "kline",
        "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"t\":1704067200000,\"o\":\"42283.58\","
        "\"h\":\"42298.62\",\"l\":\"42261.02\",\"c\":\"42298.61\",\"v\":\"35.92724\",\"x\":false}");
    ctl0("POST", "kline",
         "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"t\":1704067200000,\"o\":\"42283.58\","
         "\"h\":\"42300.00\",\"l\":\"42261.02\",\"c\":\"42299.00\",\"v\":\"40.1\",\"n\":1000,"
         "\"x\":true}");
    json_t *m = ws_must(&w);
    assert_json_str(m, "stream", "btcusdt@kline_1m");
    json_t *k = json_object_get(json_object_get(m, "data"), "k");
    assert_false(json_is_true(json_object_get(k, "x")));
    json_decref(m);
    m = ws_must(&w);
    json_t *d = json_object_get(m, "data");
    assert_json_str(d, "e", "kline");
    assert_json_str(d, "s", "BTCUSDT");
    k = json_object_get(d, "k");
    assert_true(json_is_true(json_object_get(k, "x")));
    assert_json_int(k, "t", 1704067200000);
    assert_json_int(k, "T", 1704067259999);
    assert_json_str(k, "c", "42299.00");
    assert_json_str(k, "i", "1m");
    json_decref(m);
    ws_close(&w);
    /* The raw form: the payload alone. */
    ws_connect(&w, "/ws/ethusdt@kline_5m");
    ctl0("POST", "kline",
         "{\"symbol\":\"ETHUSDT\",\"interval\":\"5m\",\"t\":1704067200000,\"o\":\"2281.87\","
         "\"h\":\"2290\",\"l\":\"2280\",\"c\":\"2289.5\",\"v\":\"100\"}");
    m = ws_must(&w);
    assert_json_str(m, "e", "kline");
    assert_json_int(json_object_get(m, "k"), "T", 1704067499999);
    json_decref(m);
    /* Live subscription on the same connection. */
    ws_send_json(&w, json_pack("{s:s,s:[s],s:i}", "method", "SUBSCRIBE", "params",
                               "btcusdt@kline_1m", "id", 1));
    m = ws_must(&w);
    assert_true(json_is_null(json_object_get(m, "result")));
    assert_json_int(m, "id", 1);
    json_decref(m);
    ws_send_json(&w, json_pack("{s:s,s:i}", "method", "LIST_SUBSCRIPTIONS", "id", 2));
    m = ws_must(&w);
    assert_int_equal(json_array_size(json_object_get(m, "result")), 2);
    json_decref(m);
    ws_close(&w);

    resp r;
    http(&r, "GET", "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1704067200000&limit=10",
         NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.weight, "2");
    json_t *rows = body_json(&r);
    assert_int_equal(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    assert_int_equal(json_array_size(row), 12);
    assert_int_equal(json_integer_value(json_array_get(row, 0)), 1704067200000);
    assert_string_equal(json_string_value(json_array_get(row, 4)), "42299.00");
    assert_int_equal(json_integer_value(json_array_get(row, 6)), 1704067259999);
    assert_int_equal(json_integer_value(json_array_get(row, 8)), 1000);
    json_decref(rows);
    resp_free(&r);
    http(&r, "GET", "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1001", NULL, 0);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    http(&r, "GET", "/api/v3/klines?symbol=BTCUSDT&interval=7m", NULL, 0);
    json_t *e = body_json(&r);
    assert_json_int(e, "code", -1120);
    json_decref(e);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rest_signature_vectors_verify, reset),
        cmocka_unit_test_setup(test_ws_api_signature_vector_verifies, reset),
        cmocka_unit_test_setup(test_wrong_signature_is_1022, reset),
        cmocka_unit_test_setup(test_timestamp_outside_window_is_1021, reset),
        cmocka_unit_test_setup(test_limit_order_is_new_and_open, reset),
        cmocka_unit_test_setup(test_market_order_fills_from_the_book, reset),
        cmocka_unit_test_setup(test_scripted_fill_reaches_the_user_stream, reset),
        cmocka_unit_test_setup(test_user_stream_drop_and_silence, reset),
        cmocka_unit_test_setup(test_events_before_the_rest_reply, reset),
        cmocka_unit_test_setup(test_429_carries_retry_after_then_418, reset),
        cmocka_unit_test_setup(test_faults_after_the_order_was_accepted, reset),
        cmocka_unit_test_setup(test_request_log_shows_what_was_sent, reset),
        cmocka_unit_test_setup(test_kline_stream_and_history, reset),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
