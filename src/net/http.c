/* The loop-driven HTTP client: libcurl's multi-socket API on the tb_loop's
 * libuv loop. curl tells which sockets to watch (on_socket: one uv_poll_t
 * per connection, kept while curl keeps the connection) and when to call it
 * back (on_curl_timer: one uv_timer_t); uv tells curl what happened through
 * curl_multi_socket_action, and finished transfers are read from
 * curl_multi_info_read and answered from there, so a callback always runs
 * from the loop, never from tb_http_send.
 *
 * Requests run on pooled slots: an easy handle, its body buffer, its header
 * list and error buffer, all kept across requests, so a request allocates
 * nothing once the pool has grown to the number in flight (libcurl itself
 * may). The multi handle keeps the connection cache, so connections to the
 * same host are reused (keep-alive) whatever slot sends the next request.
 *
 * NOT_SENT versus MAYBE_SENT: a failed request is NOT_SENT only when curl
 * says it wrote no byte of the request (CURLINFO_REQUEST_SIZE == 0) AND the
 * error is one that happens before a request can be written: resolving,
 * connecting, the TLS handshake, a malformed URL, or a timeout reached in
 * those phases. Anything else — a timeout after the request was written, a
 * reset, an empty or partial reply — is MAYBE_SENT: the server may have
 * received and executed it. The rule errs towards MAYBE_SENT.
 *
 * One caveat of libcurl: on a reused keep-alive connection that turns out
 * to have been closed by the server before any byte of the reply arrived,
 * curl resends the request once on a fresh connection by itself. */
#define _POSIX_C_SOURCE 200809L
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#define MAX_HEADERS 32

typedef struct slot slot;
struct slot {
    tb_http *h;
    CURL *easy;
    slot *next; /* in the free list or the active list */
    slot *prev; /* active list only */
    uint64_t id;
    tb_http_done_fn fn;
    void *ctx;
    int64_t started_ns; /* monotonic */
    char *body;         /* the reply's body, NUL-terminated; grows, kept */
    size_t len, cap;
    char *out;                                /* the request's body (copied); grows, kept */
    size_t out_cap;                           /* bytes allocated in out */
    char *hdr;                                /* the request's header lines (copied); grows, kept */
    size_t hdr_cap;                           /* bytes allocated in hdr */
    struct curl_slist lines[MAX_HEADERS + 1]; /* + "Expect:"; built in place, no malloc */
    int64_t weight, orders, retry_after;
    void (*on_write)(void *ctx); /* the request's probe, if any */
    void *write_ctx;
    int prereq; /* CURLOPT_PREREQFUNCTION is set on easy */
    char err[CURL_ERROR_SIZE];
};

typedef struct sock {
    uv_poll_t poll;
    tb_http *h;
    curl_socket_t fd;
} sock;

struct tb_http {
    tb_loop *loop;
    CURLM *multi;
    uv_timer_t timer;
    slot *free_slots;
    slot *active; /* doubly linked */
    size_t pending;
    uint64_t next_id;
    uint64_t connects; /* CURLINFO_NUM_CONNECTS summed */
    int dispatching;   /* inside check_done: destroy waits until it returns */
    int doomed;        /* destroy was called while dispatching */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- body and headers ---- */

static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb) return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    slot *s = ud;
    size_t k = sz * n;
    if (reserve(&s->body, &s->cap, s->len + k + 1)) return 0; /* curl fails the transfer */
    memcpy(s->body + s->len, p, k);
    s->len += k;
    s->body[s->len] = '\0';
    return k;
}

/* The value of "name: value" in line if its name is name, else NULL. */
static int64_t header_int(const char *line, size_t n, const char *name, int *found)
{
    size_t k = strlen(name);
    *found = 0;
    if (n <= k + 1 || strncasecmp(line, name, k) || line[k] != ':') return -1;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    int64_t x = 0;
    int digits = 0;
    while (v < end && *v >= '0' && *v <= '9' && digits < 18) {
        x = x * 10 + (*v++ - '0');
        digits++;
    }
    if (!digits) return -1; /* e.g. Retry-After as an HTTP date: not used by Binance */
    *found = 1;
    return x;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    slot *s = ud;
    size_t k = sz * n;
    int found;
    if (k >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* A new response (after a 100 Continue, say): only the last one counts. */
        s->weight = s->orders = s->retry_after = -1;
        return k;
    }
    int64_t v = header_int(p, k, "X-MBX-USED-WEIGHT-1M", &found);
    if (found) s->weight = v;
    v = header_int(p, k, "X-MBX-ORDER-COUNT-10S", &found);
    if (found) s->orders = v;
    v = header_int(p, k, "Retry-After", &found);
    if (found) s->retry_after = v;
    return k;
}

#if LIBCURL_VERSION_NUM >= 0x075000 /* CURLOPT_PREREQFUNCTION: 7.80.0 */
/* The connection is there and the request about to be written on it. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    slot *s = ud;
    if (s->on_write) s->on_write(s->write_ctx);
    return CURL_PREREQFUNC_OK;
}
#endif

/* ---- the slot pool ---- */

static void slot_free(slot *s)
{
    if (s->easy) curl_easy_cleanup(s->easy);
    free(s->body);
    free(s->out);
    free(s->hdr);
    free(s);
}

static slot *slot_get(tb_http *h)
{
    slot *s = h->free_slots;
    if (s) {
        h->free_slots = s->next;
        return s;
    }
    s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->h = h;
    s->easy = curl_easy_init();
    if (!s->easy) {
        free(s);
        return NULL;
    }
    /* What is the same for every request of this slot. */
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->err);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    return s;
}

static void slot_put(tb_http *h, slot *s)
{
    s->fn = NULL;
    s->ctx = NULL;
    s->on_write = NULL;
    s->id = 0;
    s->next = h->free_slots;
    s->prev = NULL;
    h->free_slots = s;
}

static void active_add(tb_http *h, slot *s)
{
    s->prev = NULL;
    s->next = h->active;
    if (h->active) h->active->prev = s;
    h->active = s;
    h->pending++;
}

static void active_remove(tb_http *h, slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        h->active = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
    h->pending--;
}

/* ---- outcome ---- */

static tb_http_outcome failed_outcome(CURL *e, CURLcode rc)
{
    long sent = 0;
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent);
    if (sent > 0) return TB_HTTP_MAYBE_SENT;
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: /* with nothing written: connecting or handshaking */
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return TB_HTTP_NOT_SENT;
    default:
        return TB_HTTP_MAYBE_SENT;
    }
}

/* Answers every finished transfer. A callback may send, cancel or destroy:
 * destroy is then finished here, after the callback returned. */
static void finish(tb_http *h);

static void check_done(tb_http *h)
{
    CURLMsg *m;
    int left;
    h->dispatching++;
    while (!h->doomed && (m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        slot *s = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
        tb_http_response r;
        memset(&r, 0, sizeof r);
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        r.status = (int)status;
        long conns = 0;
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        if (conns > 0) h->connects += (uint64_t)conns;
        r.body = s->body ? s->body : "";
        r.body_len = s->len;
        r.used_weight_1m = s->weight;
        r.order_count_10s = s->orders;
        r.retry_after_s = s->retry_after;
        r.latency_ns = mono_ns() - s->started_ns;
        if (rc == CURLE_OK) {
            r.outcome = TB_HTTP_DONE;
        } else {
            r.outcome = failed_outcome(e, rc);
            const char *msg = s->err[0] ? s->err : curl_easy_strerror(rc);
            snprintf(r.error, sizeof r.error, "%.*s", (int)sizeof r.error - 1, msg);
        }
        curl_multi_remove_handle(h->multi, e);
        active_remove(h, s);
        tb_http_done_fn fn = s->fn;
        void *ctx = s->ctx;
        s->fn = NULL;
        /* The slot stays out of the free list during the callback, so the
         * body it reads is not reused by a request the callback sends. */
        fn(ctx, &r);
        slot_put(h, s);
    }
    h->dispatching--;
    if (h->doomed && !h->dispatching) finish(h);
}

/* ---- libuv <-> curl ---- */

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock *k = p->data;
    tb_http *h = k->h;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(h->multi, k->fd, flags, &running);
    check_done(h);
}

static void on_sock_closed(uv_handle_t *hd)
{
    free(hd->data);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    tb_http *h = userp;
    sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(h->multi, fd, NULL);
            uv_poll_stop(&k->poll);
            uv_close((uv_handle_t *)&k->poll, on_sock_closed);
        }
        return 0;
    }
    if (!k) {
        /* One per connection, not per request: a reused connection keeps it. */
        k = calloc(1, sizeof(*k));
        if (!k) return -1;
        if (uv_poll_init_socket(tb_loop_uv(h->loop), &k->poll, fd) != 0) {
            free(k);
            return -1;
        }
        k->poll.data = k;
        k->h = h;
        k->fd = fd;
        curl_multi_assign(h->multi, fd, k);
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&k->poll, ev, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    tb_http *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

/* curl asks to be called back in ms (never from here: curl forbids it). */
static int on_curl_timer(CURLM *m, long ms, void *userp)
{
    (void)m;
    tb_http *h = userp;
    if (ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
    return 0;
}

/* ---- API ---- */

int tb_http_create(tb_loop *loop, tb_http **out)
{
    if (!loop || !out) return TB_EINVAL;
    tb_http *h = calloc(1, sizeof(*h));
    if (!h) return TB_ENOMEM;
    h->loop = loop;
    h->next_id = 1;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return TB_EIO;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    uv_timer_init(tb_loop_uv(loop), &h->timer);
    h->timer.data = h;
    *out = h;
    return 0;
}

static void on_timer_closed(uv_handle_t *hd)
{
    free(hd->data);
}

/* Frees everything: the uv timer's memory (h itself) once libuv closed it. */
static void finish(tb_http *h)
{
    while (h->active) {
        slot *s = h->active;
        curl_multi_remove_handle(h->multi, s->easy);
        active_remove(h, s);
        slot_free(s);
    }
    while (h->free_slots) {
        slot *s = h->free_slots;
        h->free_slots = s->next;
        slot_free(s);
    }
    curl_multi_cleanup(h->multi); /* closes the cached connections: CURL_POLL_REMOVE each */
    h->multi = NULL;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

void tb_http_destroy(tb_http *h)
{
    if (!h || h->doomed) return;
    h->doomed = 1;
    /* Inside a callback: check_done finishes once the callback returned. */
    if (!h->dispatching) finish(h);
}

/* The request's headers as a curl_slist built in the slot (no malloc per
 * request once the buffer is big enough); NULL on ENOMEM. */
static struct curl_slist *build_headers(slot *s, const tb_http_request *req, int *rc)
{
    size_t need = sizeof "Expect:";
    *rc = 0;
    if (req->nheaders > MAX_HEADERS) {
        *rc = TB_EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!req->headers || !req->headers[i]) {
            *rc = TB_EINVAL;
            return NULL;
        }
        need += strlen(req->headers[i]) + 1;
    }
    if (reserve(&s->hdr, &s->hdr_cap, need)) {
        *rc = TB_ENOMEM;
        return NULL;
    }
    char *p = s->hdr;
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t l = strlen(req->headers[i]);
        memcpy(p, req->headers[i], l + 1);
        s->lines[n].data = p;
        s->lines[n].next = &s->lines[n + 1];
        p += l + 1;
        n++;
    }
    /* No "Expect: 100-continue" round trip before a body. */
    memcpy(p, "Expect:", sizeof "Expect:");
    s->lines[n].data = p;
    s->lines[n].next = NULL;
    return s->lines;
}

int tb_http_send(tb_http *h, const tb_http_request *req, tb_http_done_fn fn, void *ctx,
                 uint64_t *id)
{
    if (!h || h->doomed) return TB_EMISUSE;
    if (!req || !req->method || !req->url || !fn) return TB_EINVAL;
    slot *s = slot_get(h);
    if (!s) return TB_ENOMEM;
    int rc = 0;
    struct curl_slist *hl = build_headers(s, req, &rc);
    if (!hl) {
        slot_put(h, s);
        return rc;
    }
    CURL *e = s->easy;
    size_t blen = req->body ? strlen(req->body) : 0;
    if (req->body) {
        if (reserve(&s->out, &s->out_cap, blen + 1)) {
            slot_put(h, s);
            return TB_ENOMEM;
        }
        memcpy(s->out, req->body, blen + 1);
    }
    int is_get = !strcmp(req->method, "GET"), is_post = !strcmp(req->method, "POST");
    if (req->body || is_post) {
        /* POSTFIELDS (not COPYPOSTFIELDS): the slot owns the copy. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)blen);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? s->out : "");
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, is_get || is_post ? NULL : req->method);
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms > 0 ? req->timeout_ms : 10000));
    s->len = 0;
    if (s->body) s->body[0] = '\0';
    s->err[0] = '\0';
    s->weight = s->orders = s->retry_after = -1;
    s->on_write = req->on_write;
    s->write_ctx = req->write_ctx;
#if LIBCURL_VERSION_NUM >= 0x075000
    /* Set only while a probe asks for it: a request without one leaves
     * curl as it was. */
    if (req->on_write || s->prereq) {
        curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, req->on_write ? on_prereq : NULL);
        curl_easy_setopt(e, CURLOPT_PREREQDATA, s);
        s->prereq = req->on_write != NULL;
    }
#endif
    s->fn = fn;
    s->ctx = ctx;
    s->id = h->next_id++;
    s->started_ns = mono_ns();
    /* Only arms the timer (curl calls on_curl_timer): nothing completes here. */
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        slot_put(h, s);
        return TB_ENOMEM;
    }
    active_add(h, s);
    if (id) *id = s->id;
    return 0;
}

int tb_http_cancel(tb_http *h, uint64_t id)
{
    if (!h) return TB_EMISUSE;
    for (slot *s = h->active; s; s = s->next)
        if (s->id == id) {
            curl_multi_remove_handle(h->multi, s->easy);
            active_remove(h, s);
            slot_put(h, s);
            return 0;
        }
    return TB_ENOTFOUND;
}

size_t tb_http_pending(const tb_http *h)
{
    return h ? h->pending : 0;
}

uint64_t tb_http_connections(const tb_http *h)
{
    return h ? h->connects : 0;
}
