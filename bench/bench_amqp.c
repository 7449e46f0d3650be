/* Broker throughput, by hand and through tb_transport (see bench_amqp.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench_amqp.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <tradebus/amqp.h>

#define CONFIRM_BATCH 256
#define PREFETCH      1000
#define WAIT_MS       10000 /* longest silence before a run is declared stuck */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *filled(size_t n)
{
    char *b = malloc(n ? n : 1);
    if (b) memset(b, 'x', n);
    return b;
}

/* ---- librabbitmq by hand --------------------------------------------------- */

static int ok_reply(amqp_connection_state_t c)
{
    return amqp_get_rpc_reply(c).reply_type == AMQP_RESPONSE_NORMAL;
}

static amqp_connection_state_t raw_open(const char *url)
{
    char *buf = strdup(url);
    if (!buf) return NULL;
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    amqp_connection_state_t c = NULL;
    if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK || ci.ssl) goto out;
    c = amqp_new_connection();
    amqp_socket_t *s = c ? amqp_tcp_socket_new(c) : NULL;
    if (!s || amqp_socket_open(s, ci.host, ci.port) != AMQP_STATUS_OK) goto fail;
    const char *vhost = ci.vhost && *ci.vhost ? ci.vhost : "/";
    if (amqp_login(c, vhost, 0, 131072, 10, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password)
            .reply_type != AMQP_RESPONSE_NORMAL)
        goto fail;
    amqp_channel_open(c, 1);
    if (!ok_reply(c)) goto fail;
    goto out;
fail:
    if (c) amqp_destroy_connection(c);
    c = NULL;
out:
    free(buf);
    return c;
}

static void raw_close(amqp_connection_state_t c)
{
    if (!c) return;
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

typedef struct {
    amqp_connection_state_t c;
    size_t n, got;
    double last;
    int rc;
} raw_consumer;

static void *raw_consume(void *arg)
{
    raw_consumer *rc = arg;
    struct timeval tv = {WAIT_MS / 1000, 0};
    while (rc->got < rc->n) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(rc->c);
        amqp_rpc_reply_t r = amqp_consume_message(rc->c, &env, &tv, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            rc->rc = TB_ECONN;
            return NULL;
        }
        int st = amqp_basic_ack(rc->c, 1, env.delivery_tag, 0);
        amqp_destroy_envelope(&env);
        if (st != AMQP_STATUS_OK) {
            rc->rc = TB_ECONN;
            return NULL;
        }
        rc->got++;
    }
    rc->last = now_s();
    return NULL;
}

/* Reads confirms until none of the `outstanding` is left. */
static int raw_wait_confirms(amqp_connection_state_t c, uint64_t last_tag)
{
    uint64_t confirmed = 0;
    while (confirmed < last_tag) {
        amqp_frame_t f;
        struct timeval tv = {WAIT_MS / 1000, 0};
        if (amqp_simple_wait_frame_noblock(c, &f, &tv) != AMQP_STATUS_OK) return TB_ECONN;
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *a = f.payload.method.decoded;
            /* Acks come in order on one channel: with `multiple` or not, the
             * highest tag seen is what is confirmed. */
            if (a->delivery_tag > confirmed) confirmed = a->delivery_tag;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            return TB_EIO;
        }
    }
    amqp_maybe_release_buffers(c);
    return 0;
}

int tb_bench_amqp_raw(const char *url, size_t msg_size, size_t n, double *msgs_per_s)
{
    if (!url || !msgs_per_s) return TB_EINVAL;
    char exchange[64], queue[64];
    snprintf(exchange, sizeof exchange, "tbbench.%ld.raw.x", (long)getpid());
    snprintf(queue, sizeof queue, "tbbench.%ld.raw.q", (long)getpid());
    int rc = TB_ECONN;
    void *body = filled(msg_size);
    amqp_connection_state_t pub = raw_open(url), con = raw_open(url);
    if (!body) rc = TB_ENOMEM;
    if (!body || !pub || !con) goto out;

    amqp_exchange_declare(pub, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes("topic"), 0, 0,
                          0, 0, amqp_empty_table);
    if (!ok_reply(pub)) goto out;
    /* The transport's queue: quorum, dead-lettering, a delivery limit. */
    amqp_table_entry_t qa[4] = {
        {amqp_cstring_bytes("x-queue-type"),
         {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes("quorum")}}},
        {amqp_cstring_bytes("x-dead-letter-exchange"),
         {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes(exchange)}}},
        {amqp_cstring_bytes("x-dead-letter-routing-key"),
         {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes("dead")}}},
        {amqp_cstring_bytes("x-delivery-limit"), {AMQP_FIELD_KIND_I64, {.i64 = 5}}},
    };
    amqp_table_t args = {4, qa};
    amqp_queue_declare(pub, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    if (!ok_reply(pub)) goto out;
    amqp_queue_bind(pub, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes("b.#"), amqp_empty_table);
    if (!ok_reply(pub)) goto out;
    amqp_confirm_select(pub, 1);
    if (!ok_reply(pub)) goto out;
    amqp_basic_qos(con, 1, 0, PREFETCH, 0);
    if (!ok_reply(con)) goto out;
    amqp_basic_consume(con, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    if (!ok_reply(con)) goto out;

    raw_consumer rcon = {con, n, 0, 0, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, raw_consume, &rcon) != 0) goto out;
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.type = amqp_cstring_bytes("Bench");
    props.delivery_mode = 2;
    double t0 = now_s();
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id[32];
        snprintf(id, sizeof id, "m%zu", i);
        props.message_id = amqp_cstring_bytes(id);
        amqp_bytes_t b = {msg_size, body};
        if (amqp_basic_publish(pub, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes("b.x"), 1,
                               0, &props, b) != AMQP_STATUS_OK)
            rc = TB_ECONN;
        else if ((i + 1) % CONFIRM_BATCH == 0 || i + 1 == n)
            rc = raw_wait_confirms(pub, i + 1);
    }
    pthread_join(th, NULL);
    if (rc == 0) rc = rcon.rc;
    if (rc == 0) *msgs_per_s = (double)n / (rcon.last - t0);

    amqp_queue_delete(pub, 1, amqp_cstring_bytes(queue), 0, 0);
    amqp_exchange_delete(pub, 1, amqp_cstring_bytes(exchange), 0);
out:
    raw_close(con);
    raw_close(pub);
    free(body);
    return rc;
}

/* ---- the same through tb_transport ----------------------------------------- */

typedef struct {
    tb_transport *t;
    size_t n, got;
    double last;
    int rc;
} tp_consumer;

static void *tp_consume(void *arg)
{
    tp_consumer *tc = arg;
    while (tc->got < tc->n) {
        tb_msg_in m;
        int rc = tb_transport_poll(tc->t, &m, WAIT_MS);
        if (rc == 0) rc = tb_transport_ack(tc->t, m.tag, m.epoch);
        if (rc != 0) {
            tc->rc = rc;
            return NULL;
        }
        tc->got++;
    }
    tc->last = now_s();
    return NULL;
}

int tb_bench_amqp_transport(const char *url, size_t msg_size, size_t n, double *msgs_per_s)
{
    if (!url || !msgs_per_s) return TB_EINVAL;
    char run[64], err[256];
    snprintf(run, sizeof run, "tbbench.%ld.tp", (long)getpid());
    tb_amqp_options o;
    memset(&o, 0, sizeof o);
    o.url = url;
    o.run = run;
    o.component = "bench";
    o.bindings[0] = "b.#";
    o.nbindings = 1;
    o.prefetch = PREFETCH;
    o.confirm_batch = CONFIRM_BATCH;
    tb_transport *con = NULL, *pub = NULL;
    void *body = filled(msg_size);
    if (!body) return TB_ENOMEM;
    int rc = tb_amqp_transport_create(&o, &con, err, sizeof err);
    tb_amqp_options po = o;
    po.component = NULL;
    if (rc == 0) rc = tb_amqp_transport_create(&po, &pub, err, sizeof err);
    if (rc != 0) goto out;

    tp_consumer tc = {con, n, 0, 0, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, tp_consume, &tc) != 0) {
        rc = TB_ENOMEM;
        goto out;
    }
    double t0 = now_s();
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id[32];
        snprintf(id, sizeof id, "m%zu", i);
        tb_msg_out m = {"b.x", id, "Bench", NULL, NULL, NULL, body, msg_size};
        rc = tb_transport_publish(pub, &m);
    }
    if (rc == 0) rc = tb_transport_flush(pub, WAIT_MS);
    pthread_join(th, NULL);
    if (rc == 0) rc = tc.rc;
    if (rc == 0) *msgs_per_s = (double)n / (tc.last - t0);
out:
    tb_transport_destroy(pub);
    tb_transport_destroy(con);
    tb_transport_param up = {"url", url};
    tb_transport_params tp = {.run = run, .component = "bench", .params = &up, .nparams = 1};
    tb_transport_delete_run(tb_transport_builtin("amqp"), &tp, err, sizeof err);
    free(body);
    return rc;
}
