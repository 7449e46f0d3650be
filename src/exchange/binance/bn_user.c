/* The Binance adapter's user data stream: the WebSocket API connection,
 * userDataStream.subscribe.signature, the events it carries, and what keeps
 * it honest. The stream never replays what it missed, and it can go silent
 * without closing (its pings still answered), so: a stream that closes is
 * reopened with back-off and jitter, and once subscribed again every open
 * order of ours is read back over REST (missed fills recovered from
 * myTrades); a stream with no event for stream_silence_s while orders are
 * open gets the same REST check, and a check that finds fills the stream did
 * not deliver has it reconnected; a connection with no message at all for
 * that long is pinged (WebSocket API "ping") and reopened if the ping goes
 * unanswered. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_adapter.h"

#define MS 1000000LL

static void on_open(void *ctx, tb_ws *ws);
static void on_message(void *ctx, tb_ws *ws, const char *data, size_t len);
static void on_close(void *ctx, tb_ws *ws, const char *why);

static const tb_ws_callbacks callbacks = {on_open, on_message, on_close};

int bn_user_open(bn_adapter *a)
{
    a->stream_open = 0;
    a->st.user_stream_open = 0;
    a->ping_sent = 0;
    /* One client context for the adapter's life: tb_ws_open starts a
     * connection even on a context idle since the last one closed. */
    if (a->ws) tb_ws_close(a->ws);
    a->ws = NULL;
    if (!a->wsc) {
        int rc = tb_wsc_create(a->loop, &a->wsc);
        if (rc) return rc;
    }
    return tb_ws_open(a->wsc, a->ws_url, &callbacks, a, &a->ws);
}

static void subscribe(bn_adapter *a)
{
    bn_query q;
    bn_query_init(&q);
    bn_query_add(&q, "apiKey", a->key.value);
    bn_query_add_i64(&q, "timestamp", bn_server_ms(a));
    bn_query_add_i64(&q, "recvWindow", a->recv_window_ms);
    char sig[65];
    if (q.err || bn_ws_signature(&q, a->secret.value, sig) != 0) {
        bn_set_error(a, "user stream: the subscription could not be signed");
        return;
    }
    char msg[TB_SECRET_MAX + 512];
    int n = snprintf(msg, sizeof(msg),
                     "{\"id\":\"sub-%llu\",\"method\":\"userDataStream.subscribe.signature\","
                     "\"params\":{\"apiKey\":\"%s\",\"timestamp\":%s,\"recvWindow\":%s,"
                     "\"signature\":\"%s\"}}",
                     (unsigned long long)++a->ws_seq, a->key.value, q.val[1], q.val[2], sig);
    if (n > 0 && (size_t)n < sizeof(msg)) tb_ws_send(a->ws, msg, (size_t)n);
    memset(msg, 0, sizeof(msg));
}

static void on_open(void *ctx, tb_ws *ws)
{
    bn_adapter *a = ctx;
    (void)ws;
    a->last_msg = tb_loop_now(a->loop);
    subscribe(a);
}

/* outboundAccountPosition's "B": the balances that changed. */
static void account_position(bn_adapter *a, const char *data, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    json_t *ev = root ? json_object_get(root, "event") : NULL;
    json_t *b = ev ? json_object_get(ev, "B") : NULL;
    if (!json_is_array(b)) {
        /* balanceUpdate carries a delta only: read the account again. */
        json_decref(root);
        bn_refresh_account(a);
        return;
    }
    bn_balance bal[BN_MAX_BALANCES];
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(b, i, e)
    {
        if (n == BN_MAX_BALANCES) break;
        const char *as = json_string_value(json_object_get(e, "a"));
        const char *f = json_string_value(json_object_get(e, "f"));
        const char *l = json_string_value(json_object_get(e, "l"));
        if (!as || !f || !l) continue;
        snprintf(bal[n].asset, sizeof(bal[n].asset), "%s", as);
        if (tb_dec_parse(f, (size_t)-1, &bal[n].free) ||
            tb_dec_parse(l, (size_t)-1, &bal[n].locked))
            continue;
        n++;
    }
    json_decref(root);
    bn_on_balances(a, bal, n);
}

static void on_message(void *ctx, tb_ws *ws, const char *data, size_t len)
{
    bn_adapter *a = ctx;
    (void)ws;
    int64_t now = tb_loop_now(a->loop);
    a->last_msg = now;
    a->st.user_stream_rx = now;
    bn_ws_frame f;
    char err[160];
    if (bn_parse_ws_frame(data, len, &f, err, sizeof(err)) != 0) {
        bn_set_error(a, "user stream: %s", err);
        return;
    }
    switch (f.kind) {
    case BN_WS_RESPONSE:
        if (strncmp(f.id, "ping-", 5) == 0) {
            a->ping_sent = 0;
        } else if (strncmp(f.id, "sub-", 4) == 0) {
            if (f.status == 200) {
                int again = a->stage == BN_ST_READY;
                a->stream_open = 1;
                a->st.user_stream_open = 1;
                a->reconnects = 0;
                a->last_event = now;
                bn_on_subscribed(a, again);
            } else if (bn_classify(f.status, f.error.code) == BN_CLOCK) {
                bn_rest_sync_time(a);
                bn_user_reconnect(a, "subscription refused (-1021): clock resynced");
            } else if (bn_classify(f.status, f.error.code) == BN_AUTH) {
                bn_on_stream_refused(a, &f.error);
            } else {
                bn_set_error(a, "user stream: subscription refused: %d %s", f.error.code,
                             f.error.msg);
                bn_user_reconnect(a, "subscription refused");
            }
        }
        break;
    case BN_WS_EXEC_REPORT:
        a->last_event = now;
        bn_on_exec(a, &f.er);
        break;
    case BN_WS_ACCOUNT:
        a->last_event = now;
        account_position(a, data, len);
        break;
    case BN_WS_TERMINATED:
        bn_user_reconnect(a, "eventStreamTerminated");
        break;
    default:
        break;
    }
}

static void on_close(void *ctx, tb_ws *ws, const char *why)
{
    bn_adapter *a = ctx;
    (void)ws;
    bn_user_reconnect(a, why);
}

static void on_reconnect_timer(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->reconnect_timer = 0;
    if (a->ws) tb_ws_close(a->ws);
    a->ws = NULL;
    if (bn_user_open(a) != 0) bn_user_reconnect(a, "cannot open the WebSocket API connection");
}

/* xorshift64*: the jitter's own generator (no global state). */
static uint64_t next_rand(bn_adapter *a)
{
    a->rng ^= a->rng >> 12;
    a->rng ^= a->rng << 25;
    a->rng ^= a->rng >> 27;
    return a->rng * 2685821657736338717ULL;
}

void bn_user_reconnect(bn_adapter *a, const char *why)
{
    if (a->reconnect_timer) return; /* already on its way */
    a->stream_open = 0;
    a->st.user_stream_open = 0;
    a->ping_sent = 0;
    bn_set_error(a, "user stream: %s; reconnecting", why ? why : "closed");
    /* Back-off doubling from 250 ms to 30 s, with full jitter over its
     * upper half, so that many clients do not come back in step. */
    int64_t cap = 250 * MS << (a->reconnects < 7 ? a->reconnects : 7);
    if (cap > 30000 * MS) cap = 30000 * MS;
    int64_t delay = cap / 2 + (int64_t)(next_rand(a) % (uint64_t)(cap / 2 + 1));
    a->reconnects++;
    /* The connection is freed from the timer, never from its own callback. */
    tb_loop_timer_start(a->loop, tb_loop_now(a->loop) + delay, on_reconnect_timer, a,
                        &a->reconnect_timer);
}

static void on_heartbeat(void *ctx, int64_t at)
{
    (void)at;
    bn_adapter *a = ctx;
    a->hb_timer = 0;
    int64_t now = tb_loop_now(a->loop);
    /* During a 429/418 block nothing reaches Binance, pings included. */
    if (a->stream_open && a->ws && a->blocked_until <= now) {
        if (a->ping_sent && now - a->ping_sent >= a->silence) {
            bn_user_reconnect(a, "no answer to a ping");
        } else if (!a->ping_sent && now - a->last_msg >= a->silence) {
            char msg[64];
            int n = snprintf(msg, sizeof(msg), "{\"id\":\"ping-%llu\",\"method\":\"ping\"}",
                             (unsigned long long)++a->ws_seq);
            if (tb_ws_send(a->ws, msg, (size_t)n) == 0) a->ping_sent = now;
        }
    }
    /* No event for the silence time while orders of ours are open: read
     * them back. A fill found that way was missed by the stream. */
    if (a->stage == BN_ST_READY && now - a->last_event >= a->silence &&
        now - a->last_check >= a->silence && bn_open_count(a) > 0 && !a->checks_pending) {
        a->last_check = now;
        a->check_found = 0;
        bn_sync_open_orders(a, BN_THEN_CHECK);
    }
    int64_t step = a->silence / 4;
    if (step < 100 * MS) step = 100 * MS;
    tb_loop_timer_start(a->loop, now + step, on_heartbeat, a, &a->hb_timer);
}

void bn_user_start_heartbeat(bn_adapter *a)
{
    if (a->hb_timer) return;
    int64_t step = a->silence / 4;
    if (step < 100 * MS) step = 100 * MS;
    tb_loop_timer_start(a->loop, tb_loop_now(a->loop) + step, on_heartbeat, a, &a->hb_timer);
}
