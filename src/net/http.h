/* tradebus — internal: a non-blocking HTTP client on the process's event
 * loop (libcurl's multi-socket API driven by the tb_loop's libuv loop), for
 * the live exchange adapters. Not a public header: adapters use it, users
 * do not.
 *
 * A request is sent with tb_http_send() and answered once, later, through
 * its callback, from inside tb_loop_poll()/tb_loop_run(): never from inside
 * tb_http_send(). The response says how a failed request failed, since that
 * decides what an exchange adapter may do next: a request that certainly
 * never reached the server (connection refused, DNS, TLS) may be resent; one
 * that was written and then timed out or lost its connection may have been
 * executed (an order placed) and must be looked up first. */
#ifndef TB_NET_HTTP_H
#define TB_NET_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include "tradebus/event.h"
#include "tradebus/loop.h"

typedef struct tb_http tb_http;

typedef enum {
    TB_HTTP_DONE = 0,       /* a reply was read (any HTTP status) */
    TB_HTTP_NOT_SENT = 1,   /* the request certainly did not reach the server */
    TB_HTTP_MAYBE_SENT = 2, /* written (or maybe), then no complete reply: timeout, reset */
    TB_HTTP_ABORTED = 3     /* canceled by tb_http_cancel / tb_http_destroy (no callback) */
} tb_http_outcome;

typedef struct {
    tb_http_outcome outcome;
    int status;       /* HTTP status; 0 without a reply */
    const char *body; /* NUL-terminated; owned by the client, valid during the callback */
    size_t body_len;
    int64_t used_weight_1m;  /* X-MBX-USED-WEIGHT-1M, -1 if absent */
    int64_t order_count_10s; /* X-MBX-ORDER-COUNT-10S, -1 if absent */
    int64_t retry_after_s;   /* Retry-After in seconds, -1 if absent */
    int64_t latency_ns;      /* from the send to the end of the reply (or the failure) */
    char error[TB_TEXT_LEN]; /* outcome != DONE: libcurl's message, e.g. "Connection refused" */
} tb_http_response;

typedef void (*tb_http_done_fn)(void *ctx, const tb_http_response *r);

typedef struct {
    const char *method;         /* "GET", "POST", "DELETE", "PUT" */
    const char *url;            /* complete, query string included */
    const char *body;           /* NULL = none; sent as application/x-www-form-urlencoded */
    const char *const *headers; /* "Name: value" lines, borrowed for the call; may be NULL */
    size_t nheaders;
    int64_t timeout_ms; /* whole-request timeout; 0 = 10000 */
    /* Optional, for latency probes (bench/bench_live.c): called from the
     * loop once curl has a connection for the request (opened or reused)
     * and is about to write the request on it (CURLOPT_PREREQFUNCTION;
     * never called with libcurl < 7.80). NULL = none: nothing is set on
     * curl and the request costs nothing more. */
    void (*on_write)(void *ctx);
    void *write_ctx;
} tb_http_request;

/* Creates a client on loop (borrowed; must outlive the client) into *out.
 * TB_ENOMEM; TB_EIO if libcurl cannot be set up. */
int tb_http_create(tb_loop *loop, tb_http **out);
/* Cancels every pending request (their callbacks are not called) and frees
 * the client. NULL is a no-op. */
void tb_http_destroy(tb_http *h);
/* Starts req (copied) and calls fn(ctx, response) once, later, from the
 * loop. *id (may be NULL) names it for tb_http_cancel. TB_EINVAL for a
 * missing method/url/fn or more than 32 headers; TB_ENOMEM. */
int tb_http_send(tb_http *h, const tb_http_request *req, tb_http_done_fn fn, void *ctx,
                 uint64_t *id);
/* Cancels a pending request: its callback is not called. TB_ENOTFOUND if done or unknown. */
int tb_http_cancel(tb_http *h, uint64_t id);
/* Requests sent and not yet answered. */
size_t tb_http_pending(const tb_http *h);
/* Connections opened so far by the requests answered (keep-alive: requests
 * in sequence to one host share one). */
uint64_t tb_http_connections(const tb_http *h);

#endif
