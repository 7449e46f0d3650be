/* The loop-driven WebSocket client: libwebsockets (lws 4.1, Debian 12)
 * serviced from the tb_loop's libuv loop.
 *
 * Integration chosen: lws keeps its default poll() event library, and the
 * tb_loop watches lws's sockets. lws announces each socket it opens,
 * changes and closes (LWS_CALLBACK_ADD/CHANGE_MODE/DEL_POLL_FD); each gets a
 * uv_poll_t, and when one is ready lws_service(ctx, -1) runs lws without
 * waiting (it polls its own few fds with a zero timeout, services them,
 * and runs its due internal timers). An unreferenced uv timer services lws
 * every TICK_MS for its timeouts (connect, close handshake), and a zero
 * timer ("kick") runs it right after an API call that queued work.
 *
 * Why not the libuv event-lib plugin with the tb_loop as a foreign loop
 * (libwebsockets-evlib-uv, LWS_SERVER_OPTION_LIBUV + foreign_loops): in lws
 * 4.1.6 destroying a context on a foreign libuv loop is asynchronous — it
 * only starts closing its uv handles, finishes as the loop runs on, and
 * frees the context later (lib/event-libs/libuv/libuv.c, lws_context_destroy
 * in lib/core/context.c). tb_wsc_destroy must free everything before it
 * returns (tb_loop_destroy runs the loop just once to close handles), so a
 * destroyed client would leak or leave handles on a loop being closed. With
 * the poll event library lws_context_destroy is synchronous and the only uv
 * handles are ours, closed in one step. The cost is one poll() over lws's
 * fds per wake-up, nothing for a handful of streams.
 *
 * Callbacks run only from loop callbacks: a failure lws reports from inside
 * tb_ws_open (a refused connection on loopback fails at once) is held and
 * delivered by the kick timer. A frame's arrival is seen on the socket
 * (a readable fd stamps tb_ws_last_rx), because lws answers pings itself and
 * tells nobody. */
#define _POSIX_C_SOURCE 200809L
#include "ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TICK_MS 100

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} out_msg;

typedef struct pollent {
    uv_poll_t poll;
    struct pollent *next;
    tb_wsc *c;
    struct lws *wsi; /* valid while the fd is registered */
    int fd;
} pollent;

struct tb_ws {
    tb_wsc *c;
    tb_ws *next, *prev;
    struct lws *wsi; /* NULL once lws destroyed it */
    tb_ws_callbacks cb;
    void *ctx;
    int open;
    int reported;      /* on_close delivered or due: no more callbacks */
    int close_pending; /* on_close held until the kick timer */
    int user_closed;   /* tb_ws_close called: free once lws let go of the wsi */
    int64_t last_rx;
    char *msg; /* the message being joined from fragments; grows, kept */
    size_t len, cap;
    int joining;
    out_msg *qh, *qt;
    char why[160];
    char url[512];
};

struct tb_wsc {
    tb_loop *loop;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    uv_timer_t tick, kick;
    int handles; /* uv handles of ours still open: c is freed when the last closes */
    pollent *polls;
    tb_ws *conns;
    int api; /* inside a tb_ws_* call: callbacks are held */
    int destroying;
};

static void report_close(tb_ws *ws, const char *why);
static void on_kick(uv_timer_t *t);

static void kick(tb_wsc *c)
{
    if (!c->destroying) uv_timer_start(&c->kick, on_kick, 0, 0);
}

/* ---- servicing ---- */

static void service(tb_wsc *c)
{
    if (!c->ctx || c->destroying) return;
    lws_service(c->ctx, -1);
    /* lws has buffered input to hand out without a socket event. */
    if (c->ctx && !c->destroying && !lws_service_adjust_timeout(c->ctx, 1, 0)) kick(c);
}

static void on_kick(uv_timer_t *t)
{
    tb_wsc *c = t->data;
    /* Held closes first; a callback may close or free any connection. */
    for (;;) {
        tb_ws *ws = c->conns;
        while (ws && !ws->close_pending)
            ws = ws->next;
        if (!ws) break;
        ws->close_pending = 0;
        if (ws->cb.on_close) ws->cb.on_close(ws->ctx, ws, ws->why);
    }
    service(c);
}

static void on_tick(uv_timer_t *t)
{
    service(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    pollent *pe = p->data;
    tb_wsc *c = pe->c;
    if (status == 0 && (events & UV_READABLE) && pe->wsi) {
        tb_ws *ws = lws_get_opaque_user_data(pe->wsi);
        if (ws && ws->c == c) ws->last_rx = tb_loop_now(c->loop);
    }
    service(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    tb_wsc *c = h->data;
    if (--c->handles == 0) free(c);
}

static void on_poll_closed(uv_handle_t *h)
{
    pollent *pe = h->data;
    tb_wsc *c = pe->c;
    free(pe);
    if (--c->handles == 0) free(c);
}

static pollent **find_poll(tb_wsc *c, int fd)
{
    pollent **pp = &c->polls;
    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->next;
    return pp;
}

static int uv_events(int lws_events)
{
    return (lws_events & LWS_POLLIN ? UV_READABLE : 0) | (lws_events & LWS_POLLOUT ? UV_WRITABLE : 0);
}

static int poll_fd(tb_wsc *c, struct lws *wsi, enum lws_callback_reasons reason,
                   const struct lws_pollargs *pa)
{
    pollent **pp = find_poll(c, pa->fd), *pe = *pp;
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
        if (!pe) {
            pe = calloc(1, sizeof(*pe));
            if (!pe) return 1;
            if (uv_poll_init_socket(tb_loop_uv(c->loop), &pe->poll, pa->fd) != 0) {
                free(pe);
                return 1;
            }
            pe->poll.data = pe;
            pe->c = c;
            pe->fd = pa->fd;
            pe->next = c->polls;
            c->polls = pe;
            c->handles++;
        }
        pe->wsi = wsi;
        /* fallthrough */
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        if (pe) {
            int ev = uv_events(pa->events);
            if (ev)
                uv_poll_start(&pe->poll, ev, on_poll);
            else
                uv_poll_stop(&pe->poll);
        }
        return 0;
    case LWS_CALLBACK_DEL_POLL_FD:
        if (pe) {
            *pp = pe->next;
            pe->wsi = NULL;
            uv_poll_stop(&pe->poll);
            uv_close((uv_handle_t *)&pe->poll, on_poll_closed);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- connections ---- */

static void ws_unlink_free(tb_ws *ws)
{
    tb_wsc *c = ws->c;
    if (ws->prev)
        ws->prev->next = ws->next;
    else if (c->conns == ws)
        c->conns = ws->next;
    if (ws->next) ws->next->prev = ws->prev;
    while (ws->qh) {
        out_msg *m = ws->qh;
        ws->qh = m->next;
        free(m);
    }
    free(ws->msg);
    free(ws);
}

/* on_close now, or from the kick timer when inside an API call. */
static void report_close(tb_ws *ws, const char *why)
{
    if (ws->reported || ws->user_closed) return;
    ws->reported = 1;
    ws->open = 0;
    if (why && why != ws->why) snprintf(ws->why, sizeof ws->why, "%s", why);
    if (ws->c->api || ws->c->destroying) {
        ws->close_pending = !ws->c->destroying;
        kick(ws->c);
        return;
    }
    if (ws->cb.on_close) ws->cb.on_close(ws->ctx, ws, ws->why);
}

static int on_receive(tb_ws *ws, const void *in, size_t len)
{
    if (!ws->joining) ws->len = 0;
    if (ws->len + len + 1 > ws->cap) {
        size_t nc = ws->cap ? ws->cap : 4096;
        while (nc < ws->len + len + 1)
            nc *= 2;
        char *nm = realloc(ws->msg, nc);
        if (!nm) {
            snprintf(ws->why, sizeof ws->why, "out of memory joining a message");
            return -1;
        }
        ws->msg = nm;
        ws->cap = nc;
    }
    memcpy(ws->msg + ws->len, in, len);
    ws->len += len;
    ws->msg[ws->len] = '\0';
    if (lws_is_final_fragment(ws->wsi) && !lws_remaining_packet_payload(ws->wsi)) {
        ws->joining = 0;
        if (ws->cb.on_message && !ws->reported) ws->cb.on_message(ws->ctx, ws, ws->msg, ws->len);
    } else {
        ws->joining = 1;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct lws_context *lc = lws_get_context(wsi);
    tb_wsc *c = lc ? lws_context_user(lc) : NULL;
    if (!c) return 0;
    tb_ws *ws = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
        return poll_fd(c, wsi, reason, in);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!ws) return 0;
        snprintf(ws->why, sizeof ws->why, "connection failed: %.*s", in ? (int)len : 7,
                 in ? (const char *)in : "unknown");
        report_close(ws, ws->why);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!ws || ws->user_closed) return -1;
        ws->open = 1;
        if (ws->cb.on_open) ws->cb.on_open(ws->ctx, ws);
        if (ws->user_closed) return -1;
        if (ws->qh) lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!ws || ws->user_closed) return -1;
        if (on_receive(ws, in, len)) return -1;
        return ws->user_closed ? -1 : 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!ws || ws->user_closed) return -1;
        out_msg *m = ws->qh;
        if (!m) return 0;
        ws->qh = m->next;
        if (!ws->qh) ws->qt = NULL;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        int short_write = n < (int)m->len;
        free(m);
        if (short_write) {
            snprintf(ws->why, sizeof ws->why, "write failed");
            return -1;
        }
        if (ws->qh) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ws && len >= 2) {
            const unsigned char *b = in;
            snprintf(ws->why, sizeof ws->why, "closed by the server: %d %.*s", b[0] << 8 | b[1],
                     (int)(len - 2), (const char *)in + 2);
        } else if (ws) {
            snprintf(ws->why, sizeof ws->why, "closed by the server");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (ws) report_close(ws, ws->why[0] ? ws->why : "connection lost");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* The last word on a wsi, whatever way it ended. */
        if (!ws || ws->c != c) return 0;
        lws_set_opaque_user_data(wsi, NULL);
        ws->wsi = NULL;
        if (ws->user_closed) {
            ws_unlink_free(ws);
            return 0;
        }
        report_close(ws, ws->why[0] ? ws->why : "connection lost");
        return 0;
    default:
        return 0;
    }
}

/* ---- API ---- */

int tb_wsc_create(tb_loop *loop, tb_wsc **out)
{
    if (!loop || !out) return TB_EINVAL;
    tb_wsc *c = calloc(1, sizeof(*c));
    if (!c) return TB_ENOMEM;
    c->loop = loop;
    c->protocols[0].name = "tb-ws";
    c->protocols[0].callback = callback;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = c;
    /* lws sizes its fd table by the process's limit otherwise (can be 10^6). */
    info.fd_limit_per_thread = 1024;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        free(c);
        return TB_EIO;
    }
    uv_timer_init(tb_loop_uv(loop), &c->tick);
    uv_timer_init(tb_loop_uv(loop), &c->kick);
    c->tick.data = c->kick.data = c;
    c->handles += 2;
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    /* The tick alone must not keep tb_loop_run going: open sockets do. */
    uv_unref((uv_handle_t *)&c->tick);
    *out = c;
    return 0;
}

void tb_wsc_destroy(tb_wsc *c)
{
    if (!c || c->destroying) return;
    for (tb_ws *ws = c->conns; ws; ws = ws->next)
        ws->user_closed = 1; /* no callbacks; freed as lws destroys each wsi */
    c->destroying = 1;
    lws_context_destroy(c->ctx); /* synchronous with the poll event library */
    c->ctx = NULL;
    while (c->conns) /* any lws did not report (never connected) */
        ws_unlink_free(c->conns);
    while (c->polls) {
        pollent *pe = c->polls;
        c->polls = pe->next;
        uv_poll_stop(&pe->poll);
        uv_close((uv_handle_t *)&pe->poll, on_poll_closed);
    }
    uv_timer_stop(&c->tick);
    uv_timer_stop(&c->kick);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
    uv_close((uv_handle_t *)&c->kick, on_handle_closed);
}

int tb_ws_open(tb_wsc *c, const char *url, const tb_ws_callbacks *cb, void *ctx, tb_ws **out)
{
    if (!c || !url || !cb || !out || c->destroying) return TB_EINVAL;
    int tls;
    if (!strncmp(url, "ws://", 5))
        tls = 0;
    else if (!strncmp(url, "wss://", 6))
        tls = 1;
    else
        return TB_EINVAL;
    tb_ws *ws = calloc(1, sizeof(*ws));
    if (!ws) return TB_ENOMEM;
    if (snprintf(ws->url, sizeof ws->url, "%s", url) >= (int)sizeof ws->url) {
        free(ws);
        return TB_EINVAL;
    }
    char parsed[sizeof ws->url], path[sizeof ws->url + 1];
    memcpy(parsed, ws->url, sizeof parsed);
    const char *prot, *addr, *p;
    int port;
    if (lws_parse_uri(parsed, &prot, &addr, &port, &p) || !*addr) {
        free(ws);
        return TB_EINVAL;
    }
    snprintf(path, sizeof path, "/%s", p);
    ws->c = c;
    ws->cb = *cb;
    ws->ctx = ctx;
    ws->next = c->conns;
    if (c->conns) c->conns->prev = ws;
    c->conns = ws;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = addr;
    ci.port = port;
    ci.path = path;
    ci.host = addr;
    ci.origin = addr;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = c->protocols[0].name;
    ci.opaque_user_data = ws;
    ci.pwsi = &ws->wsi;
    c->api++;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    c->api--;
    if (!wsi) {
        /* Failed at once: lws may or may not have said why; on_close says it later. */
        ws->wsi = NULL;
        if (!ws->reported) {
            c->api++;
            report_close(ws, ws->why[0] ? ws->why : "connection failed");
            c->api--;
        }
    }
    *out = ws;
    return 0;
}

int tb_ws_send(tb_ws *ws, const char *text, size_t len)
{
    if (!ws || (!text && len)) return TB_EINVAL;
    if (!ws->open || !ws->wsi || ws->user_closed) return TB_ECONN;
    out_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m) return TB_ENOMEM;
    m->next = NULL;
    m->len = len;
    if (len) memcpy(m->buf + LWS_PRE, text, len);
    if (ws->qt)
        ws->qt->next = m;
    else
        ws->qh = m;
    ws->qt = m;
    lws_callback_on_writable(ws->wsi);
    kick(ws->c);
    return 0;
}

int tb_ws_is_open(const tb_ws *ws)
{
    return ws && ws->open && !ws->reported && !ws->user_closed;
}

int64_t tb_ws_last_rx(const tb_ws *ws)
{
    return ws ? ws->last_rx : 0;
}

void tb_ws_close(tb_ws *ws)
{
    if (!ws || ws->user_closed) return;
    ws->user_closed = 1;
    ws->close_pending = 0;
    if (!ws->wsi) {
        ws_unlink_free(ws);
        return;
    }
    /* lws frees the wsi on its next service (or at once if this is inside
     * its own callback, which then returns -1); WSI_DESTROY frees ws. */
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    kick(ws->c);
}
