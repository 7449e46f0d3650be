/* tradebus — internal: a WebSocket client on the process's event loop
 * (libwebsockets with the tb_loop's libuv loop as a foreign loop), for the
 * live exchange adapters' streams (market data, the user data stream
 * through the WebSocket API). ws:// and wss://. Not a public header.
 *
 * One tb_wsc per loop holds the libwebsockets context; each tb_ws is one
 * connection. Callbacks run from inside tb_loop_poll()/tb_loop_run(), never
 * from inside a tb_ws_* call. The client answers the server's pings itself;
 * tb_ws_last_rx() tells how long the stream has been silent, so an adapter
 * can tell a dead or silent stream (it decides when to give up). A closed
 * connection is not reopened by itself: the adapter opens a new one (with
 * its own back-off and jitter). */
#ifndef TB_NET_WS_H
#define TB_NET_WS_H
#include <stddef.h>
#include <stdint.h>
#include "tradebus/loop.h"

typedef struct tb_wsc tb_wsc;
typedef struct tb_ws tb_ws;

typedef struct {
    /* The handshake succeeded: tb_ws_send may be used. */
    void (*on_open)(void *ctx, tb_ws *ws);
    /* One complete text message (fragments joined), data NUL-terminated,
     * owned by the client and valid during the call. */
    void (*on_message)(void *ctx, tb_ws *ws, const char *data, size_t len);
    /* The connection failed to open or closed (by either side or by a
     * network error). why names it ("connection refused", "closed by the
     * server: 1000", ...). The tb_ws stays allocated until tb_ws_close(). */
    void (*on_close)(void *ctx, tb_ws *ws, const char *why);
} tb_ws_callbacks;

/* Creates the WebSocket context on loop (borrowed; must outlive it) into
 * *out. TB_ENOMEM; TB_EIO if libwebsockets refuses the loop. */
int tb_wsc_create(tb_loop *loop, tb_wsc **out);
/* Closes every connection (no callbacks) and frees the context and every
 * tb_ws still open on it (their pointers become invalid); NULL is a no-op.
 * Not from inside a callback of one of its connections. */
void tb_wsc_destroy(tb_wsc *c);
/* Starts connecting to url ("ws://127.0.0.1:9000/ws/btcusdt@kline_1m",
 * "wss://..."); cb (copied) and ctx (borrowed) receive its news. *out is
 * the connection, freed by tb_ws_close. TB_EINVAL for a URL that is not
 * ws:// or wss://, TB_ENOMEM, TB_EIO. */
int tb_ws_open(tb_wsc *c, const char *url, const tb_ws_callbacks *cb, void *ctx, tb_ws **out);
/* Queues one text message (copied). TB_ECONN if the connection is not open. */
int tb_ws_send(tb_ws *ws, const char *text, size_t len);
/* 1 once on_open was called and on_close not yet. */
int tb_ws_is_open(const tb_ws *ws);
/* Wall-clock time (ns) of the last frame received, pings included; 0 if none. */
int64_t tb_ws_last_rx(const tb_ws *ws);
/* Closes the connection if open and frees it: no more callbacks. NULL is a no-op. */
void tb_ws_close(tb_ws *ws);

#endif
