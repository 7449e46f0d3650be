/* Binance Spot's live kline feed (the design is in bn_market.h). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/errbuf.h"
#include "../../net/http.h"
#include "../../net/ws.h"
#include "bn_market.h"
#include "bn_proto.h"

#define QCAP      512  /* bars queued per symbol; more are fetched again later */
#define PAGE_ROWS 1000 /* GET /api/v3/klines's limit */
#define MS        INT64_C(1000000)

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    char lower[TB_SYMBOL_LEN];
    int64_t next;      /* open time of the bar expected next; 0 = none yet */
    tb_market_data *q; /* queued bars, sorted by open time, distinct */
    size_t n;
    int fetching; /* a REST request for it is in flight */
    int warmed;   /* its history is in */
} sym;

enum { REQ_WARMUP = 1, REQ_FILL = 2 };

typedef struct req {
    struct bn_market *m;
    size_t s;
    int kind;
    int64_t end; /* FILL: the last open time wanted (ns); 0 = up to now */
    struct req *prev, *next;
} req;

struct bn_market {
    tb_loop *loop;
    tb_http *http;
    tb_wsc *wsc;
    tb_ws *ws, *dead; /* dead: a closed connection, freed before the next opens */
    bn_market_config cfg;
    char *stream_url, *rest_url, interval[8];
    int64_t iv; /* the interval, ns */
    sym *syms;
    size_t nsyms;
    tb_market_data *page; /* one REST page, parsed */
    req *reqs;
    size_t warmed; /* symbols whose history is in */
    int warm, stopping;
    int64_t backoff;
    tb_timer_id reconnect_timer, slot_timer, retry_timer;
    int64_t slot_time; /* the open time the slot timer waits for */
    int64_t frame_at;  /* the stream message being handled: when it was read; 0 = none */
    uint64_t rng;
    bn_market_status st;
};

static void say(bn_market *m, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(bn_market *m, int level, const char *fmt, ...)
{
    if (!m->cfg.on_log) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    m->cfg.on_log(m->cfg.ctx, level, msg);
}

static int64_t now(const bn_market *m)
{
    return tb_loop_now(m->loop);
}

static uint64_t rnd(bn_market *m)
{
    /* xorshift64: jitter needs spread, not quality. */
    uint64_t x = m->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return m->rng = x;
}

static void fmt_time(int64_t ns, char *out, size_t len)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the queues ---- */

/* Queues bar for symbol s unless it was delivered or is queued already.
 * 1 queued, 0 dropped. */
static int enqueue(bn_market *m, sym *s, const tb_market_data *bar)
{
    if (s->next && bar->open_time < s->next) {
        m->st.duplicates++;
        return 0;
    }
    size_t i = s->n;
    while (i > 0 && s->q[i - 1].open_time > bar->open_time)
        i--;
    if (i > 0 && s->q[i - 1].open_time == bar->open_time) {
        m->st.duplicates++;
        return 0;
    }
    if (s->n == QCAP) {
        /* The newest goes: the gap it leaves is fetched again once the
         * queue drains. */
        if (i == QCAP) return 0;
        s->n--;
    }
    memmove(&s->q[i + 1], &s->q[i], (s->n - i) * sizeof(*s->q));
    s->q[i] = *bar;
    s->n++;
    return 1;
}

static void pop(sym *s)
{
    s->n--;
    memmove(&s->q[0], &s->q[1], s->n * sizeof(*s->q));
}

static void deliver(bn_market *m, sym *s)
{
    tb_market_data bar = s->q[0];
    pop(s);
    s->next = bar.open_time + m->iv;
    int history = !m->warm || bar.open_time < m->st.trade_from;
    m->st.bars++;
    if (history) m->st.history++;
    m->st.last_bar_close = bar.close_time;
    m->st.last_bar_at = now(m);
    int rc = m->cfg.on_bar(m->cfg.ctx, &bar, history);
    if (rc)
        say(m, 1, "%s bar at %" PRId64 ": the pipeline failed: %s", bar.symbol, bar.open_time,
            tb_strerror(rc));
}

static int fill(bn_market *m, size_t si, int64_t start, int64_t end);

static void on_slot_timer(void *ctx, int64_t at);

/* Delivers every bar whose turn it is: the earliest open time T among the
 * symbols' next bars, once every symbol has T queued, has passed it, or
 * has none yet. A symbol short of T holds the others back (time order
 * across symbols) until the slot timer fetches it. */
static void drain(bn_market *m)
{
    for (;;) {
        int64_t t = INT64_MAX;
        for (size_t i = 0; i < m->nsyms; i++) {
            sym *s = &m->syms[i];
            if (s->n && (!s->next || s->q[0].open_time == s->next) && s->q[0].open_time < t)
                t = s->q[0].open_time;
        }
        if (t == INT64_MAX) return;
        int blocked = 0;
        for (size_t i = 0; i < m->nsyms; i++) {
            const sym *s = &m->syms[i];
            if (!s->next || s->next > t || (s->n && s->q[0].open_time == t)) continue;
            blocked = 1;
        }
        if (blocked) {
            if (!m->slot_timer || m->slot_time != t) {
                if (m->slot_timer) tb_loop_timer_stop(m->loop, m->slot_timer);
                m->slot_time = t;
                int64_t wait = m->cfg.slot_wait_ns ? m->cfg.slot_wait_ns : 5 * INT64_C(1000000000);
                if (tb_loop_timer_start(m->loop, now(m) + wait, on_slot_timer, m, &m->slot_timer) !=
                    0)
                    m->slot_timer = 0;
            }
            return;
        }
        if (m->slot_timer) {
            tb_loop_timer_stop(m->loop, m->slot_timer);
            m->slot_timer = 0;
        }
        for (size_t i = 0; i < m->nsyms; i++) {
            sym *s = &m->syms[i];
            if (s->n && s->q[0].open_time == t) deliver(m, s);
        }
    }
}

/* A symbol whose first queued bar opens later than the one expected: the
 * bars in between come from REST before it. */
static void check_gap(bn_market *m, size_t si)
{
    sym *s = &m->syms[si];
    if (!m->warm || s->fetching || !s->next || !s->n || s->q[0].open_time <= s->next) return;
    char a[32], b[32];
    fmt_time(s->next, a, sizeof(a));
    fmt_time(s->q[0].open_time, b, sizeof(b));
    say(m, 1, "%s: bars from %s to before %s are missing: fetching them", s->symbol, a, b);
    fill(m, si, s->next, s->q[0].open_time - 1);
}

static void on_slot_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_market *m = ctx;
    m->slot_timer = 0;
    int64_t t = m->slot_time;
    for (size_t i = 0; i < m->nsyms; i++) {
        sym *s = &m->syms[i];
        if (!s->next || s->next > t || (s->n && s->q[0].open_time == t) || s->fetching) continue;
        char a[32];
        fmt_time(t, a, sizeof(a));
        say(m, 1, "%s: no bar at %s yet while others have theirs: fetching it", s->symbol, a);
        fill(m, i, s->next, t + m->iv - 1);
    }
}

/* ---- REST ---- */

static void req_unlink(bn_market *m, req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        m->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
}

static void on_rest(void *ctx, const tb_http_response *resp);

static int rest_get(bn_market *m, size_t si, int kind, int64_t start, int64_t end, int limit)
{
    char url[1024];
    int n = snprintf(url, sizeof(url), "%s/api/v3/klines?symbol=%s&interval=%s&limit=%d",
                     m->rest_url, m->syms[si].symbol, m->interval, limit);
    if (start) n += snprintf(url + n, sizeof(url) - (size_t)n, "&startTime=%" PRId64, start / MS);
    if (end) n += snprintf(url + n, sizeof(url) - (size_t)n, "&endTime=%" PRId64, end / MS);
    if (n < 0 || (size_t)n >= sizeof(url)) return TB_EINVAL;
    req *r = calloc(1, sizeof(*r));
    if (!r) return TB_ENOMEM;
    r->m = m;
    r->s = si;
    r->kind = kind;
    r->end = end;
    tb_http_request hr = {.method = "GET", .url = url, .timeout_ms = 10000};
    int rc = tb_http_send(m->http, &hr, on_rest, r, NULL);
    if (rc) {
        free(r);
        return rc;
    }
    r->next = m->reqs;
    if (m->reqs) m->reqs->prev = r;
    m->reqs = r;
    m->st.rest_requests++;
    return 0;
}

static void on_retry_timer(void *ctx, int64_t at);
static void retry_later(bn_market *m);

static void warmup_get(bn_market *m, size_t si)
{
    int rc = rest_get(m, si, REQ_WARMUP, 0, 0, m->cfg.warmup_bars + 1);
    if (rc) {
        say(m, 1, "%s: cannot ask for its history: %s", m->syms[si].symbol, tb_strerror(rc));
        retry_later(m);
        return;
    }
    m->syms[si].fetching = 1;
}

static void retry_later(bn_market *m)
{
    if (m->retry_timer) return;
    int64_t d = m->cfg.backoff_min_ns ? m->cfg.backoff_min_ns : 500 * MS;
    if (tb_loop_timer_start(m->loop, now(m) + 4 * d, on_retry_timer, m, &m->retry_timer) != 0)
        m->retry_timer = 0;
}

static void connect_stream(bn_market *m);
static void on_reconnect_timer(void *ctx, int64_t at);

/* Every symbol's history is in its queue: delivered as one merged run in
 * time order, then the stream opens. */
static void warmup_done(bn_market *m)
{
    int64_t from = 0;
    for (size_t i = 0; i < m->nsyms; i++) {
        const sym *s = &m->syms[i];
        if (s->n && s->q[s->n - 1].open_time + m->iv > from)
            from = s->q[s->n - 1].open_time + m->iv;
    }
    for (;;) {
        sym *best = NULL;
        for (size_t i = 0; i < m->nsyms; i++) {
            sym *s = &m->syms[i];
            if (s->n && (!best || s->q[0].open_time < best->q[0].open_time)) best = s;
        }
        if (!best) break;
        deliver(m, best);
    }
    /* The latest history bar of any symbol bounds the warm-up: a live bar
     * is never taken for history, and history never trades. */
    m->st.trade_from = from;
    m->warm = m->st.warm = 1;
    say(m, 0, "warm-up: %" PRIu64 " bars of history loaded", m->st.history);
    /* Opened from a timer, not from inside the HTTP client's callback: a
     * connection started there was never driven (src/net/ws.c). */
    if (tb_loop_timer_start(m->loop, now(m), on_reconnect_timer, m, &m->reconnect_timer) != 0)
        connect_stream(m);
}

static int fill(bn_market *m, size_t si, int64_t start, int64_t end)
{
    int rc = rest_get(m, si, REQ_FILL, start, end, PAGE_ROWS);
    if (rc) {
        say(m, 1, "%s: cannot ask for klines: %s", m->syms[si].symbol, tb_strerror(rc));
        retry_later(m);
        return rc;
    }
    m->syms[si].fetching = 1;
    return 0;
}

static void on_rest(void *ctx, const tb_http_response *resp)
{
    req *r = ctx;
    bn_market *m = r->m;
    sym *s = &m->syms[r->s];
    int kind = r->kind;
    int64_t end = r->end;
    size_t si = r->s;
    req_unlink(m, r);
    free(r);
    m->st.rest_latency_ns = resp->latency_ns;
    if (resp->used_weight_1m >= 0) m->st.used_weight_1m = resp->used_weight_1m;
    size_t n = 0;
    char err[256] = "";
    int rc = resp->outcome != TB_HTTP_DONE ? TB_EIO : resp->status != 200 ? TB_EREJECTED : 0;
    if (!rc)
        rc = bn_parse_klines(resp->body, resp->body_len, s->symbol, m->page, PAGE_ROWS, &n, err,
                             sizeof(err));
    if (rc) {
        say(m, 1, "%s: GET /api/v3/klines failed: %s; trying again", s->symbol,
            resp->outcome != TB_HTTP_DONE ? resp->error
            : resp->status != 200         ? (resp->body ? resp->body : "")
                                          : err);
        s->fetching = 0;
        retry_later(m);
        return;
    }
    /* The last row may be the kline in progress: only closed ones count. */
    int64_t t = now(m);
    while (n && m->page[n - 1].close_time >= t)
        n--;
    if (kind == REQ_WARMUP) {
        size_t from = n > (size_t)m->cfg.warmup_bars ? n - (size_t)m->cfg.warmup_bars : 0;
        for (size_t i = from; i < n; i++)
            enqueue(m, s, &m->page[i]);
        s->fetching = 0;
        s->warmed = 1;
        if (++m->warmed == m->nsyms) warmup_done(m);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if ((!end || m->page[i].open_time <= end) && enqueue(m, s, &m->page[i])) m->st.rest_bars++;
    int64_t last = n ? m->page[n - 1].open_time : 0;
    if (n == PAGE_ROWS && (!end || last + m->iv <= end)) {
        /* A full page: the rest from the next bar on. */
        if (rest_get(m, si, REQ_FILL, last + m->iv, end, PAGE_ROWS) == 0) {
            drain(m);
            return;
        }
    }
    s->fetching = 0;
    if (end && s->next && s->next <= end && (!s->n || s->q[0].open_time > s->next)) {
        /* REST has no bar there either: the exchange has none (a halt),
         * so the symbol goes on from what comes next. */
        int64_t skip = end + 1;
        if (s->n && s->q[0].open_time < skip) skip = s->q[0].open_time;
        char a[32], b[32];
        fmt_time(s->next, a, sizeof(a));
        fmt_time(skip, b, sizeof(b));
        say(m, 1, "%s: the exchange has no bar from %s to before %s: going on without", s->symbol,
            a, b);
        s->next = skip;
    }
    drain(m);
    check_gap(m, si);
}

static void on_retry_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_market *m = ctx;
    m->retry_timer = 0;
    if (!m->warm) {
        /* The histories that failed are asked for again. */
        for (size_t i = 0; i < m->nsyms; i++)
            if (!m->syms[i].warmed && !m->syms[i].fetching) warmup_get(m, i);
        return;
    }
    for (size_t i = 0; i < m->nsyms; i++) {
        sym *s = &m->syms[i];
        if (s->fetching || !s->next) continue;
        if (s->n)
            check_gap(m, i);
        else if (m->st.connected)
            fill(m, i, s->next, 0); /* the catch-up that failed */
    }
}

/* ---- the stream ---- */

static void on_open(void *ctx, tb_ws *ws)
{
    (void)ws;
    bn_market *m = ctx;
    m->st.connected = 1;
    m->st.connects++;
    m->backoff = 0;
    say(m, 0, "market stream connected (%zu stream%s)", m->nsyms, m->nsyms == 1 ? "" : "s");
    /* Subscribed now: what closed before (while down, or since the
     * history) is fetched; what closes from now on arrives on the stream
     * too and is dropped as a duplicate if REST had it first. */
    for (size_t i = 0; i < m->nsyms; i++)
        if (m->syms[i].next && !m->syms[i].fetching) fill(m, i, m->syms[i].next, 0);
}

static void on_kline(bn_market *m, const char *data, size_t len)
{
    tb_market_data bar;
    int closed = 0;
    char err[200];
    int rc = bn_parse_kline_event(data, len, &bar, &closed, err, sizeof(err));
    if (rc == TB_ENOTFOUND) return;
    if (rc) {
        say(m, 1, "market stream: a message was not understood (%s): ignored", err);
        return;
    }
    if (!closed) return;
    for (size_t i = 0; i < m->nsyms; i++) {
        if (strcmp(m->syms[i].symbol, bar.symbol) != 0) continue;
        enqueue(m, &m->syms[i], &bar);
        drain(m);
        check_gap(m, i);
        return;
    }
}

static void on_message(void *ctx, tb_ws *ws, const char *data, size_t len)
{
    (void)ws;
    bn_market *m = ctx;
    m->frame_at = m->st.last_rx = now(m);
    on_kline(m, data, len);
    m->frame_at = 0;
}

static void on_reconnect_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_market *m = ctx;
    m->reconnect_timer = 0;
    connect_stream(m);
}

static void on_close(void *ctx, tb_ws *ws, const char *why)
{
    bn_market *m = ctx;
    int was = m->st.connected;
    m->st.connected = 0;
    if (ws == m->ws) {
        m->dead = m->ws;
        m->ws = NULL;
    }
    if (m->stopping) return;
    int64_t lo = m->cfg.backoff_min_ns ? m->cfg.backoff_min_ns : 500 * MS;
    int64_t hi = m->cfg.backoff_max_ns ? m->cfg.backoff_max_ns : 30000 * MS;
    m->backoff = m->backoff ? m->backoff * 2 : lo;
    if (m->backoff > hi) m->backoff = hi;
    /* Full jitter in [d/2, d]: clients dropped together come back apart. */
    int64_t d = m->backoff / 2 + (int64_t)(rnd(m) % (uint64_t)(m->backoff / 2 + 1));
    say(m, 1, "market stream %s (%s): reconnecting in %.1f s", was ? "lost" : "cannot connect",
        why ? why : "", (double)d / 1e9);
    if (tb_loop_timer_start(m->loop, now(m) + d, on_reconnect_timer, m, &m->reconnect_timer))
        m->reconnect_timer = 0;
}

static void connect_stream(bn_market *m)
{
    tb_ws_close(m->dead);
    m->dead = NULL;
    size_t cap = strlen(m->stream_url) + 32 + m->nsyms * (TB_SYMBOL_LEN + 24);
    char *url = malloc(cap);
    if (!url) return;
    size_t n = (size_t)snprintf(url, cap, "%s/stream?streams=", m->stream_url);
    for (size_t i = 0; i < m->nsyms; i++)
        n += (size_t)snprintf(url + n, cap - n, "%s%s@kline_%s", i ? "/" : "", m->syms[i].lower,
                              m->interval);
    static const tb_ws_callbacks cb = {on_open, on_message, on_close};
    int rc = tb_ws_open(m->wsc, url, &cb, m, &m->ws);
    free(url);
    if (rc) {
        m->ws = NULL;
        on_close(m, NULL, tb_strerror(rc));
    }
}

/* ---- life ---- */

static int valid_url(const char *u, const char *a, const char *b)
{
    return u && (strncmp(u, a, strlen(a)) == 0 || strncmp(u, b, strlen(b)) == 0);
}

/* The base without a trailing '/', copied. */
static char *base_url(const char *u)
{
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, u, n);
        c[n] = 0;
    }
    return c;
}

int bn_market_create(tb_loop *loop, const bn_market_config *cfg, bn_market **out, char *err,
                     size_t errlen)
{
    if (!loop || !cfg || !out || !cfg->on_bar || !cfg->nsymbols || !cfg->interval) {
        tb__errf(err, errlen, "the market feed needs a loop, symbols, an interval and on_bar");
        return TB_EINVAL;
    }
    if (!valid_url(cfg->stream_url, "ws://", "wss://") ||
        !valid_url(cfg->rest_url, "http://", "https://")) {
        tb__errf(err, errlen,
                 "market data URLs: the stream's must start with ws:// or wss:// (got '%s'), the "
                 "REST API's with http:// or https:// (got '%s')",
                 cfg->stream_url ? cfg->stream_url : "", cfg->rest_url ? cfg->rest_url : "");
        return TB_EINVAL;
    }
    int64_t iv;
    if (strlen(cfg->interval) >= 8 || bn_interval_ns(cfg->interval, &iv) != 0) {
        tb__errf(err, errlen, "interval '%s' is not a Binance kline interval (1m, 5m, 1h, ...)",
                 cfg->interval);
        return TB_EINVAL;
    }
    if (cfg->warmup_bars < 0 || cfg->warmup_bars > PAGE_ROWS - 1) {
        tb__errf(err, errlen, "warm-up of %d bars: at most %d", cfg->warmup_bars, PAGE_ROWS - 1);
        return TB_EINVAL;
    }
    bn_market *m = calloc(1, sizeof(*m));
    if (!m) return TB_ENOMEM;
    int rc = TB_ENOMEM;
    m->loop = loop;
    m->cfg = *cfg;
    m->iv = iv;
    snprintf(m->interval, sizeof(m->interval), "%s", cfg->interval);
    m->st.rest_latency_ns = -1;
    m->st.used_weight_1m = -1;
    m->st.streams = (int)cfg->nsymbols;
    m->rng = cfg->seed ? cfg->seed : (uint64_t)tb_loop_now(loop) | 1;
    if (!(m->stream_url = base_url(cfg->stream_url)) || !(m->rest_url = base_url(cfg->rest_url)) ||
        !(m->syms = calloc(cfg->nsymbols, sizeof(*m->syms))) ||
        !(m->page = calloc(PAGE_ROWS, sizeof(*m->page))))
        goto fail;
    m->nsyms = cfg->nsymbols;
    for (size_t i = 0; i < m->nsyms; i++) {
        sym *s = &m->syms[i];
        const char *name = cfg->symbols[i];
        if (!name || !name[0] || strlen(name) >= TB_SYMBOL_LEN) {
            tb__errf(err, errlen, "bad symbol '%s'", name ? name : "");
            rc = TB_EINVAL;
            goto fail;
        }
        snprintf(s->symbol, sizeof(s->symbol), "%s", name);
        for (size_t k = 0; name[k]; k++)
            s->lower[k] = (char)tolower((unsigned char)name[k]);
        if (!(s->q = calloc(QCAP, sizeof(*s->q)))) goto fail;
    }
    m->cfg.symbols = NULL; /* borrowed by the caller: copied above */
    if ((rc = tb_http_create(loop, &m->http)) != 0 || (rc = tb_wsc_create(loop, &m->wsc)) != 0) {
        tb__errf(err, errlen, "cannot set up the network clients: %s", tb_strerror(rc));
        goto fail;
    }
    *out = m;
    if (cfg->warmup_bars > 0) {
        for (size_t i = 0; i < m->nsyms; i++)
            warmup_get(m, i);
    } else {
        m->warm = m->st.warm = 1;
        connect_stream(m);
    }
    return 0;
fail:
    *out = NULL;
    bn_market_destroy(m);
    return rc;
}

void bn_market_destroy(bn_market *m)
{
    if (!m) return;
    m->stopping = 1;
    tb_ws_close(m->ws);
    tb_ws_close(m->dead);
    tb_wsc_destroy(m->wsc);
    tb_http_destroy(m->http); /* no callback: the requests are freed here */
    for (req *r = m->reqs, *nx; r; r = nx) {
        nx = r->next;
        free(r);
    }
    if (m->loop) {
        if (m->reconnect_timer) tb_loop_timer_stop(m->loop, m->reconnect_timer);
        if (m->slot_timer) tb_loop_timer_stop(m->loop, m->slot_timer);
        if (m->retry_timer) tb_loop_timer_stop(m->loop, m->retry_timer);
    }
    for (size_t i = 0; m->syms && i < m->nsyms; i++)
        free(m->syms[i].q);
    free(m->syms);
    free(m->page);
    free(m->stream_url);
    free(m->rest_url);
    free(m);
}

void bn_market_get_status(const bn_market *m, bn_market_status *out)
{
    *out = m->st;
}

int64_t bn_market_frame_at(const bn_market *m)
{
    return m ? m->frame_at : 0;
}
