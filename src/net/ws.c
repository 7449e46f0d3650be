/* The loop-driven WebSocket client: libwebsockets (lws 4.1, Debian 12)
 * on libuv, inside the tb_loop.
 *
 * Integration chosen: lws runs on its libuv event-lib plugin
 * (libwebsockets-evlib-uv, LWS_SERVER_OPTION_LIBUV) with a uv loop of this
 * client's own passed as its "foreign" loop, and that inner loop is nested
 * in the tb_loop: a uv_poll_t on the tb_loop watches the inner loop's
 * backend fd (uv_backend_fd: an epoll fd, readable when any lws socket is
 * ready) and a uv timer waits for the inner loop's next timeout
 * (uv_backend_timeout); either runs the inner loop once without waiting
 * (UV_RUN_NOWAIT). lws is thus event-driven, with no polling and no
 * latency added, and every lws callback runs from a tb_loop callback.
 *
 * Why not the tb_loop's uv loop itself as lws's foreign loop: in lws 4.1.6
 * destroying a context on a foreign loop is asynchronous — it starts
 * closing its uv handles, finishes as the loop runs on, and needs a second
 * lws_context_destroy afterwards (lib/event-libs/libuv/libuv.c,
 * lws_context_destroy in lib/core/context.c). tb_wsc_destroy must be done
 * when it returns (tb_loop_destroy turns the loop only once), so it would
 * leak or leave handles on a closing loop. On a loop of its own, destroy
 * simply runs that loop until lws has closed everything. Why not lws's
 * external-poll callbacks (ADD/DEL_POLL_FD): Debian builds lws without
 * LWS_WITH_EXTERNAL_POLL, they are never called. Why not lws's internal uv
 * loop: it installs SIGINT/SIGTERM handlers, which belong to tb_loop.
 *
 * Callbacks run only from loop callbacks: a failure lws reports from
 * inside tb_ws_open (a refused connection on loopback can fail at once) is
 * held and delivered by a zero timer ("kick"). lws answers pings itself
 * and tells nobody, so a frame's arrival is seen on the socket: before each
 * run of the inner loop, the open connections' sockets are polled (zero
 * timeout) and a readable one stamps tb_ws_last_rx. */
#define _POSIX_C_SOURCE 200809L
#include "ws.h"

#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct out_msg {
    struct out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} out_msg;

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
    uv_loop_t inner;   /* lws's loop, nested in the tb_loop */
    uv_poll_t backend; /* on the tb_loop: the inner loop's epoll fd */
    uv_timer_t wake;   /* on the tb_loop: the inner loop's next timeout */
    uv_timer_t kick;   /* on the tb_loop: held callbacks, then a run */
    int handles;       /* our handles on the tb_loop still open: c freed at 0 */
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

/* Stamps last_rx on the connections with bytes waiting (pings included). */
static void stamp_rx(tb_wsc *c)
{
    struct pollfd pf[64];
    tb_ws *who[64];
    tb_ws *ws = c->conns;
    int64_t now = 0;
    while (ws) {
        nfds_t n = 0;
        for (; ws && n < 64; ws = ws->next) {
            if (!ws->wsi || ws->user_closed) continue;
            int fd = (int)lws_get_socket_fd(ws->wsi);
            if (fd < 0) continue;
            pf[n].fd = fd;
            pf[n].events = POLLIN;
            pf[n].revents = 0;
            who[n++] = ws;
        }
        if (n == 0 || poll(pf, n, 0) <= 0) continue;
        for (nfds_t i = 0; i < n; i++)
            if (pf[i].revents & POLLIN) {
                if (!now) now = tb_loop_now(c->loop);
                who[i]->last_rx = now;
            }
    }
}

static void on_wake(uv_timer_t *t);

/* Runs lws once without waiting, then waits for what it waits for. */
static void run_inner(tb_wsc *c)
{
    if (c->destroying) return;
    stamp_rx(c);
    uv_run(&c->inner, UV_RUN_NOWAIT);
    if (c->destroying) return;
    int ms = uv_backend_timeout(&c->inner);
    if (ms >= 0)
        uv_timer_start(&c->wake, on_wake, (uint64_t)ms, 0);
    else
        uv_timer_stop(&c->wake);
}

static void on_wake(uv_timer_t *t)
{
    run_inner(t->data);
}

static void on_backend(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    run_inner(p->data);
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
    run_inner(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    tb_wsc *c = h->data;
    if (--c->handles == 0) free(c);
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
    if (!c->conns) uv_unref((uv_handle_t *)&c->backend);
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
    if (uv_loop_init(&c->inner) != 0) {
        free(c);
        return TB_EIO;
    }
    void *foreign[1] = {&c->inner};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = c;
    /* lws sizes its fd table by the process's limit otherwise (can be 10^6). */
    info.fd_limit_per_thread = 1024;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        uv_loop_close(&c->inner);
        free(c);
        return TB_EIO;
    }
    uv_loop_t *uv = tb_loop_uv(loop);
    if (uv_poll_init(uv, &c->backend, uv_backend_fd(&c->inner)) != 0) {
        lws_context_destroy(c->ctx);
        while (uv_run(&c->inner, UV_RUN_NOWAIT))
            ;
        lws_context_destroy(c->ctx);
        uv_loop_close(&c->inner);
        free(c);
        return TB_EIO;
    }
    uv_timer_init(uv, &c->wake);
    uv_timer_init(uv, &c->kick);
    c->backend.data = c->wake.data = c->kick.data = c;
    c->handles = 3;
    uv_poll_start(&c->backend, UV_READABLE, on_backend);
    /* Only open connections keep tb_loop_run going (see open / unlink). */
    uv_unref((uv_handle_t *)&c->backend);
    uv_unref((uv_handle_t *)&c->wake);
    uv_timer_start(&c->wake, on_wake, 0, 0); /* lws's first turn */
    *out = c;
    return 0;
}

void tb_wsc_destroy(tb_wsc *c)
{
    if (!c || c->destroying) return;
    for (tb_ws *ws = c->conns; ws; ws = ws->next)
        ws->user_closed = 1; /* no callbacks; freed as lws destroys each wsi */
    c->destroying = 1;
    /* lws 4.1 on a foreign loop: the first call starts closing, the loop
     * completes the closes, the second call frees the context. */
    lws_context_destroy(c->ctx);
    for (int i = 0; i < 10000 && uv_run(&c->inner, UV_RUN_NOWAIT); i++)
        ;
    lws_context_destroy(c->ctx);
    c->ctx = NULL;
    for (int i = 0; i < 10000 && uv_run(&c->inner, UV_RUN_NOWAIT); i++)
        ;
    uv_loop_close(&c->inner);
    while (c->conns) /* any lws did not report */
        ws_unlink_free(c->conns);
    uv_poll_stop(&c->backend);
    uv_timer_stop(&c->wake);
    uv_timer_stop(&c->kick);
    uv_close((uv_handle_t *)&c->backend, on_handle_closed);
    uv_close((uv_handle_t *)&c->wake, on_handle_closed);
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
    uv_ref((uv_handle_t *)&c->backend);

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
    /* lws frees the wsi on its next turn (or at once if this is inside its
     * own callback, which then returns -1); WSI_DESTROY frees ws. */
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    /* lws looks at its due timeouts after an event: its own pipe makes one. */
    lws_cancel_service(ws->c->ctx);
    kick(ws->c);
}
