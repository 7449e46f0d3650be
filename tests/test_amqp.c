/* The AMQP transport against a real broker (the private one of
 * scripts/broker.sh, started by the ctest fixture): ordering and properties,
 * redelivery of what was not acknowledged, dead-lettering past the delivery
 * limit, unroutable messages, the queue tools, and a broker restart in the
 * middle of a run. Every test uses its own run name and deletes it at the end.
 *
 * TB_AMQP_URL must be set (and TB_BROKER_SCRIPT / TB_BROKER_DIR for the
 * restart): without them the tests fail, they never skip. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test_support.h"

#include "tradebus/amqp.h"
#include "../src/transport/amqp_int.h" /* the admin calls, behind the registry's ops */

#include <amqp.h>
#include <amqp_tcp_socket.h>

static const char *broker_url(void)
{
    const char *u = getenv("TB_AMQP_URL");
    if (!u || !*u)
        fail_msg("TB_AMQP_URL is not set: these tests need a broker. Run them through ctest "
                 "(the broker_start fixture), or start one with `sh scripts/broker.sh start DIR` "
                 "and export TB_AMQP_URL=$(sh scripts/broker.sh url DIR)");
    return u;
}

/* A run name no other test (or earlier crashed run) uses. */
static void run_name(char *out, size_t len, const char *what)
{
    static int seq;
    snprintf(out, len, "tbtest.%ld.%d.%s", (long)getpid(), ++seq, what);
}

static tb_amqp_options opts(const char *run, const char *component)
{
    tb_amqp_options o;
    memset(&o, 0, sizeof o);
    o.url = broker_url();
    o.run = run;
    o.component = component;
    return o;
}

static tb_transport *open_tp(const tb_amqp_options *o)
{
    tb_transport *t = NULL;
    char err[512];
    int rc = tb_amqp_transport_create(o, &t, err, sizeof err);
    if (rc != 0) fail_msg("tb_amqp_transport_create: %s (%s)", tb_strerror(rc), err);
    return t;
}

static void delete_run(const char *run, const char *component)
{
    tb_amqp_options o = opts(run, component);
    char err[512];
    int rc = tb__amqp_delete_run(&o, err, sizeof err);
    if (rc != 0) fail_msg("tb__amqp_delete_run: %s (%s)", tb_strerror(rc), err);
}

static void publish(tb_transport *t, const char *rk, int i, const char *key, const char *reason,
                    const char *queue)
{
    char id[32], body[64];
    snprintf(id, sizeof id, "m%d", i);
    int n = snprintf(body, sizeof body, "{\"n\":%d}", i);
    tb_msg_out m = {rk, id, "Ev", key, reason, queue, body, (size_t)n};
    assert_int_equal(tb_transport_publish(t, &m), 0);
}

static int msg_index(const tb_msg_in *m)
{
    assert_true(m->message_id[0] == 'm');
    return atoi(m->message_id + 1);
}

/* Polls until a message comes (or fails the test after timeout_ms). */
static void poll_one(tb_transport *t, tb_msg_in *m, int timeout_ms)
{
    int rc = tb_transport_poll(t, m, timeout_ms);
    if (rc != 0) fail_msg("poll: %s", tb_strerror(rc));
}

static void assert_queue_len(const tb_amqp_options *o, const char *queue, long want)
{
    char err[512];
    long messages = -1, consumers = -1;
    /* The ready count of a quorum queue follows the log: give it a moment. */
    for (int i = 0; i < 50; i++) {
        int rc = tb__amqp_queue_info(o, queue, &messages, &consumers, err, sizeof err);
        if (rc != 0) fail_msg("queue_info %s: %s (%s)", queue, tb_strerror(rc), err);
        if (messages == want) return;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    fail_msg("queue %s holds %ld messages, want %ld", queue, messages, want);
}

/* ---- publish and consume -------------------------------------------------- */

static void test_amqp_delivers_in_order_with_ids_headers_and_keys(void **state)
{
    (void)state;
    char run[64];
    run_name(run, sizeof run, "order");
    tb_amqp_options co = opts(run, "c");
    co.bindings[0] = "Ev.#";
    co.bindings[1] = "ctl.*";
    co.nbindings = 2;
    tb_transport *c = open_tp(&co);
    tb_amqp_options po = opts(run, NULL);
    tb_transport *p = open_tp(&po);
    assert_int_equal(tb_transport_epoch(c), 1);

    enum { N = 1000 };
    char key[32], queue[128];
    snprintf(queue, sizeof queue, "%s.c", run);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (i == 500)
            publish(p, "Direct.KEY", i, key, "why", queue); /* straight to the queue */
        else
            publish(p, i % 10 == 9 ? "ctl.report" : "Ev.BTCUSDT", i, key, NULL, NULL);
    }
    publish(p, "Other.X", N, NULL, NULL, NULL); /* bound nowhere: not for c */
    assert_int_equal(tb_transport_flush(p, 10000), 0);
    tb_transport_stats ps = p->ops->stats(p);
    assert_int_equal(ps.published, N + 1);
    assert_int_equal(ps.confirmed, N + 1);
    assert_int_equal(ps.unroutable, 1);
    assert_int_equal(ps.resent, 0);

    for (int i = 0; i < N; i++) {
        tb_msg_in m;
        poll_one(c, &m, 5000);
        assert_int_equal(msg_index(&m), i);
        assert_string_equal(m.type, "Ev");
        snprintf(key, sizeof key, "k%d", i);
        assert_string_equal(m.key, key);
        char body[64];
        int n = snprintf(body, sizeof body, "{\"n\":%d}", i);
        assert_int_equal(m.len, (size_t)n);
        assert_memory_equal(m.body, body, (size_t)n);
        assert_false(m.redelivered);
        assert_int_equal(m.delivery_count, 0);
        assert_int_equal(m.epoch, 1);
        if (i == 500) {
            assert_string_equal(m.routing_key, "Direct.KEY");
            assert_string_equal(m.reason, "why");
        } else {
            assert_string_equal(m.routing_key, i % 10 == 9 ? "ctl.report" : "Ev.BTCUSDT");
            assert_string_equal(m.reason, "");
        }
        assert_string_equal(m.death_queue, "");
        assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    tb_msg_in m;
    assert_int_equal(tb_transport_poll(c, &m, 300), TB_ETIMEOUT);
    assert_int_equal(tb_transport_poll(c, &m, 0), TB_ETIMEOUT);
    tb_transport_stats cs = c->ops->stats(c);
    assert_int_equal(cs.delivered, N);
    assert_int_equal(cs.acked, N);
    /* A publish-only transport has no queue to read. */
    assert_int_equal(tb_transport_poll(p, &m, 0), TB_EMISUSE);

    tb_transport_destroy(p);
    tb_transport_destroy(c);
    delete_run(run, "c");
}

static void test_amqp_redelivers_only_what_was_not_acked(void **state)
{
    (void)state;
    char run[64];
    run_name(run, sizeof run, "redeliver");
    tb_amqp_options co = opts(run, "c");
    co.bindings[0] = "#";
    co.nbindings = 1;
    tb_transport *c = open_tp(&co);
    tb_transport *p = open_tp(&(tb_amqp_options){.url = broker_url(), .run = run});
    for (int i = 0; i < 4; i++)
        publish(p, "Ev.A", i, NULL, NULL, NULL);
    assert_int_equal(tb_transport_flush(p, 10000), 0);

    tb_msg_in m;
    for (int i = 0; i < 4; i++) {
        poll_one(c, &m, 5000);
        assert_int_equal(msg_index(&m), i);
        if (i % 2 == 0) assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    /* A tag of another generation is ignored, not sent to the broker (which
     * would close the channel for an unknown tag). */
    assert_int_equal(tb_transport_ack(c, 12345, m.epoch + 7), 0);
    assert_int_equal(tb_transport_reject(c, 12345, m.epoch + 7, 1), 0);
    tb_transport_destroy(c);

    c = open_tp(&co);
    int seen[4] = {0};
    for (int k = 0; k < 2; k++) {
        poll_one(c, &m, 5000);
        int i = msg_index(&m);
        assert_true(i == 1 || i == 3);
        assert_true(m.redelivered);
        seen[i]++;
        assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[3], 1);
    assert_int_equal(tb_transport_poll(c, &m, 300), TB_ETIMEOUT);

    tb_transport_destroy(p);
    tb_transport_destroy(c);
    delete_run(run, "c");
}

/* ---- dead letters ------------------------------------------------------- */

static int collect(const tb_msg_in *m, void *ctx)
{
    tb_msg_in *out = ctx;
    for (int i = 0; i < 8; i++) {
        if (out[i].message_id[0] == '\0') {
            out[i] = *m;
            out[i].body = NULL; /* only valid during the call */
            return 0;
        }
    }
    return 1;
}

static void test_amqp_requeued_past_delivery_limit_lands_in_dlq(void **state)
{
    (void)state;
    char run[64], dlq[128], queue[128];
    run_name(run, sizeof run, "dlq");
    snprintf(queue, sizeof queue, "%s.c", run);
    snprintf(dlq, sizeof dlq, "%s.c.dlq", run);
    tb_amqp_options co = opts(run, "c");
    co.bindings[0] = "Ev.*";
    co.nbindings = 1;
    co.delivery_limit = 2;
    tb_transport *c = open_tp(&co);
    tb_transport *p = open_tp(&(tb_amqp_options){.url = broker_url(), .run = run});
    publish(p, "Ev.LIMIT", 0, "key0", NULL, NULL);
    publish(p, "Ev.REJECT", 1, "key1", NULL, NULL);
    assert_int_equal(tb_transport_flush(p, 10000), 0);

    /* m1 is refused outright; m0 is given back until the broker gives up on
     * it: delivered limit + 1 times, then dead-lettered. */
    int deliveries = 0;
    tb_msg_in m;
    for (;;) {
        int rc = tb_transport_poll(c, &m, 1000);
        if (rc == TB_ETIMEOUT) break;
        assert_int_equal(rc, 0);
        if (msg_index(&m) == 1) {
            assert_int_equal(tb_transport_reject(c, m.tag, m.epoch, 0), 0);
            continue;
        }
        assert_int_equal(m.delivery_count, deliveries);
        deliveries++;
        assert_true(deliveries <= 10);
        assert_int_equal(tb_transport_reject(c, m.tag, m.epoch, 1), 0);
    }
    assert_int_equal(deliveries, 3);
    tb_transport_stats cs = c->ops->stats(c);
    assert_int_equal(cs.rejected, 4);
    tb_transport_destroy(c);

    tb_msg_in got[8];
    memset(got, 0, sizeof got);
    char err[512];
    int n = tb__amqp_queue_peek(&co, dlq, 8, collect, got, err, sizeof err);
    if (n < 0) fail_msg("peek: %s (%s)", tb_strerror(n), err);
    assert_int_equal(n, 2);
    for (int k = 0; k < 2; k++) {
        const tb_msg_in *d = &got[k];
        int i = msg_index(d);
        /* The key it was published with, not the dead-letter key. */
        assert_string_equal(d->routing_key, i == 0 ? "Ev.LIMIT" : "Ev.REJECT");
        assert_string_equal(d->reason, i == 0 ? "delivery_limit" : "rejected");
        assert_string_equal(d->death_queue, queue);
        assert_int_equal(d->death_count, 1);
        assert_string_equal(d->key, i == 0 ? "key0" : "key1");
        assert_string_equal(d->type, "Ev");
    }
    tb_transport_destroy(p);
    delete_run(run, "c");
}

static void test_amqp_counts_unroutable_messages(void **state)
{
    (void)state;
    char run[64], nowhere[128];
    run_name(run, sizeof run, "unroutable");
    snprintf(nowhere, sizeof nowhere, "%s.nobody", run);
    tb_transport *p = open_tp(&(tb_amqp_options){.url = broker_url(), .run = run});
    publish(p, "Nobody.Home", 0, NULL, NULL, NULL);
    publish(p, "Ev.A", 1, NULL, NULL, nowhere); /* a queue that does not exist */
    assert_int_equal(tb_transport_flush(p, 10000), 0);
    tb_transport_stats s = p->ops->stats(p);
    assert_int_equal(s.unroutable, 2);
    assert_int_equal(s.confirmed, 2);
    assert_int_equal(s.nacked, 0);
    /* A broken message is refused before anything is queued. */
    tb_msg_out bad = {NULL, "x", NULL, NULL, NULL, NULL, "", 0};
    assert_int_equal(tb_transport_publish(p, &bad), TB_EINVAL);
    bad.routing_key = "Ev.A";
    bad.message_id = NULL;
    assert_int_equal(tb_transport_publish(p, &bad), TB_EINVAL);
    tb_transport_destroy(p);
    delete_run(run, NULL);
}

/* A raw connection, for what the transport does not do: declaring a queue
 * that refuses messages. */
static amqp_connection_state_t raw_connect(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s", broker_url());
    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    assert_int_equal(amqp_parse_url(url, &ci), AMQP_STATUS_OK);
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    assert_int_equal(amqp_socket_open(s, ci.host, ci.port), AMQP_STATUS_OK);
    assert_int_equal(
        amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password).reply_type,
        AMQP_RESPONSE_NORMAL);
    amqp_channel_open(c, 1);
    assert_int_equal(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
    return c;
}

static void raw_close(amqp_connection_state_t c)
{
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

static void test_amqp_resends_nacked_messages(void **state)
{
    (void)state;
    char run[64], full[128];
    run_name(run, sizeof run, "nack");
    snprintf(full, sizeof full, "%s.full", run);
    /* A queue that takes one message and nacks the others. */
    amqp_connection_state_t raw = raw_connect();
    amqp_table_entry_t a[2];
    a[0].key = amqp_cstring_bytes("x-max-length");
    a[0].value.kind = AMQP_FIELD_KIND_I64;
    a[0].value.value.i64 = 1;
    a[1].key = amqp_cstring_bytes("x-overflow");
    a[1].value.kind = AMQP_FIELD_KIND_UTF8;
    a[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
    amqp_table_t args = {2, a};
    amqp_queue_declare(raw, 1, amqp_cstring_bytes(full), 0, 0, 0, 0, args);
    assert_int_equal(amqp_get_rpc_reply(raw).reply_type, AMQP_RESPONSE_NORMAL);

    tb_transport *p = open_tp(&(tb_amqp_options){.url = broker_url(), .run = run});
    for (int i = 0; i < 3; i++)
        publish(p, "Ev.N", i, NULL, NULL, full);
    /* Refused, sent again, refused...: never confirmed while the queue is full. */
    assert_int_equal(tb_transport_flush(p, 500), TB_ETIMEOUT);
    tb_transport_stats s = p->ops->stats(p);
    assert_int_equal(s.confirmed, 1);
    assert_true(s.nacked >= 2);
    assert_int_equal(s.reconnects, 0);

    /* Without the queue they are unroutable: confirmed (and counted). */
    amqp_queue_delete(raw, 1, amqp_cstring_bytes(full), 0, 0);
    assert_int_equal(amqp_get_rpc_reply(raw).reply_type, AMQP_RESPONSE_NORMAL);
    raw_close(raw);
    assert_int_equal(tb_transport_flush(p, 10000), 0);
    s = p->ops->stats(p);
    assert_int_equal(s.confirmed, 3);
    assert_true(s.unroutable >= 2);
    tb_transport_destroy(p);
    delete_run(run, NULL);
}

/* The consumer connection is not read while only publishing, the publish
 * connection not while only polling: neither may die of missed heartbeats. */
static void test_amqp_keeps_unused_connections_alive(void **state)
{
    (void)state;
    char run[64];
    run_name(run, sizeof run, "heartbeat");
    tb_amqp_options o = opts(run, "c");
    o.bindings[0] = "Ev.#";
    o.nbindings = 1;
    o.heartbeat_s = 1; /* the broker gives up after about 2 s of silence */
    tb_transport *t = open_tp(&o);
    int n = 0;
    for (time_t end = time(NULL) + 4; time(NULL) < end; n++) {
        publish(t, "Ev.H", n, NULL, NULL, NULL);
        assert_int_equal(tb_transport_flush(t, 5000), 0);
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    for (int i = 0; i < n; i++) {
        tb_msg_in m;
        poll_one(t, &m, 5000);
        assert_int_equal(msg_index(&m), i);
        assert_int_equal(tb_transport_ack(t, m.tag, m.epoch), 0);
    }
    tb_msg_in m;
    assert_int_equal(tb_transport_poll(t, &m, 4000), TB_ETIMEOUT);
    publish(t, "Ev.H", n, NULL, NULL, NULL);
    assert_int_equal(tb_transport_flush(t, 5000), 0);
    poll_one(t, &m, 5000);
    assert_int_equal(tb_transport_ack(t, m.tag, m.epoch), 0);
    assert_int_equal(tb_transport_epoch(t), 1);
    assert_int_equal(t->ops->stats(t).reconnects, 0);
    tb_transport_destroy(t);
    delete_run(run, "c");
}

/* ---- queue tools -------------------------------------------------------- */

static void test_amqp_queue_info_peek_move_and_delete(void **state)
{
    (void)state;
    char run[64], queue[128], dlq[128], err[512];
    run_name(run, sizeof run, "tools");
    snprintf(queue, sizeof queue, "%s.c", run);
    snprintf(dlq, sizeof dlq, "%s.c.dlq", run);
    tb_amqp_options co = opts(run, "c");
    co.bindings[0] = "Ev.#";
    co.nbindings = 1;
    tb_transport_destroy(open_tp(&co)); /* declares the queues, consumes nothing */

    tb_transport *p = open_tp(&(tb_amqp_options){.url = broker_url(), .run = run});
    for (int i = 0; i < 3; i++)
        publish(p, "Ev.X", i, NULL, NULL, NULL);
    for (int i = 10; i < 13; i++)
        publish(p, "Ev.ORIG", i, "k", "handler failed", dlq);
    assert_int_equal(tb_transport_flush(p, 10000), 0);
    tb_transport_destroy(p);
    assert_queue_len(&co, queue, 3);
    assert_queue_len(&co, dlq, 3);
    long messages = -1, consumers = -1;
    assert_int_equal(tb__amqp_queue_info(&co, queue, &messages, &consumers, err, sizeof err), 0);
    assert_int_equal(consumers, 0);
    assert_int_equal(
        tb__amqp_queue_info(&co, "tbtest.no.such.queue", &messages, &consumers, err, sizeof err),
        TB_ENOTFOUND);

    /* Peek does not remove, and twice gives the same. */
    for (int round = 0; round < 2; round++) {
        tb_msg_in got[8];
        memset(got, 0, sizeof got);
        int n = tb__amqp_queue_peek(&co, dlq, 8, collect, got, err, sizeof err);
        if (n < 0) fail_msg("peek: %s (%s)", tb_strerror(n), err);
        assert_int_equal(n, 3);
        for (int k = 0; k < 3; k++) {
            assert_string_equal(got[k].reason, "handler failed");
            assert_string_equal(got[k].routing_key, "Ev.ORIG");
        }
    }
    tb_msg_in one[8];
    memset(one, 0, sizeof one);
    assert_int_equal(tb__amqp_queue_peek(&co, dlq, 1, collect, one, err, sizeof err), 1);
    assert_queue_len(&co, dlq, 3);

    /* Replay one by id, purge the rest; a missing target moves nothing. */
    assert_int_equal(tb__amqp_queue_move(&co, dlq, queue, "m11", err, sizeof err), 1);
    assert_queue_len(&co, dlq, 2);
    assert_queue_len(&co, queue, 4);
    assert_int_equal(tb__amqp_queue_move(&co, dlq, "tbtest.no.such.queue", NULL, err, sizeof err),
                     TB_ENOTFOUND);
    assert_queue_len(&co, dlq, 2);
    assert_int_equal(tb__amqp_queue_move(&co, dlq, queue, "no-such-id", err, sizeof err), 0);
    assert_int_equal(tb__amqp_queue_move(&co, dlq, NULL, NULL, err, sizeof err), 2);
    assert_queue_len(&co, dlq, 0);

    /* The replayed message reaches the consumer with its original key. */
    tb_transport *c = open_tp(&co);
    int seen11 = 0;
    for (int k = 0; k < 4; k++) {
        tb_msg_in m;
        poll_one(c, &m, 5000);
        if (strcmp(m.message_id, "m11") == 0) {
            seen11 = 1;
            assert_string_equal(m.routing_key, "Ev.ORIG");
            assert_string_equal(m.reason, "handler failed");
        }
        assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    assert_true(seen11);
    tb_transport_destroy(c);

    delete_run(run, "c");
    assert_int_equal(tb__amqp_queue_info(&co, queue, &messages, &consumers, err, sizeof err),
                     TB_ENOTFOUND);
    assert_int_equal(tb__amqp_queue_info(&co, dlq, &messages, &consumers, err, sizeof err),
                     TB_ENOTFOUND);
    delete_run(run, "c"); /* again: nothing left to delete is not an error */
}

/* ---- configuration and errors ------------------------------------------- */

static void test_amqp_refuses_bad_urls_and_never_shows_the_password(void **state)
{
    (void)state;
    char out[256], err[512];
    tb_amqp_url_redact("amqp://bob:s3cr3t@host:5672/vh", out, sizeof out);
    assert_string_equal(out, "amqp://bob:***@host:5672/vh");
    tb_amqp_url_redact("amqps://bob@host/", out, sizeof out);
    assert_string_equal(out, "amqps://bob@host/");
    tb_amqp_url_redact("amqp://host:5672", out, sizeof out);
    assert_string_equal(out, "amqp://host:5672");
    tb_amqp_url_redact("amqp://bob:p@ss/w@host/", out, sizeof out);
    assert_string_equal(out, "amqp://bob:***@host/");

    tb_transport *t = NULL;
    tb_amqp_options o = {.url = "http://host/"};
    assert_int_equal(tb_amqp_transport_create(&o, &t, err, sizeof err), TB_ECONFIG);
    assert_null(t);
    o.url = "amqp://u:TopS3cretPw@127.0.0.1:1/";
    assert_int_equal(tb_amqp_transport_create(&o, &t, err, sizeof err), TB_ECONN);
    assert_null(strstr(err, "TopS3cretPw"));
    assert_non_null(strstr(err, "u:***@127.0.0.1:1"));

    /* Credentials missing from the URL come from the environment. */
    const char *url = broker_url();
    const char *at = strchr(url, '@');
    assert_non_null(at);
    char bare[256];
    snprintf(bare, sizeof bare, "amqp://%s", at + 1);
    setenv("TRADEBUS_AMQP_USER", "tbtest-nobody", 1);
    setenv("TRADEBUS_AMQP_PASSWORD", "EnvS3cretPw", 1);
    o.url = bare;
    assert_int_equal(tb_amqp_transport_create(&o, &t, err, sizeof err), TB_ECONFIG);
    assert_null(strstr(err, "EnvS3cretPw"));
    assert_non_null(strstr(err, "ACCESS_REFUSED"));
    setenv("TRADEBUS_AMQP_USER", "guest", 1);
    setenv("TRADEBUS_AMQP_PASSWORD", "guest", 1);
    char run[64];
    run_name(run, sizeof run, "envcreds");
    o.run = run;
    t = open_tp(&o);
    tb_transport_destroy(t);
    unsetenv("TRADEBUS_AMQP_USER");
    unsetenv("TRADEBUS_AMQP_PASSWORD");
    delete_run(run, NULL);
}

/* The transport and the one-shot admin calls (status, dlq) refuse the same
 * out-of-range numbers, and say so, before any connection is tried. */
static void test_amqp_refuses_out_of_range_options_everywhere(void **state)
{
    (void)state;
    char err[512];
    long msgs = 0, cons = 0;
    tb_transport *t = NULL;
    tb_amqp_options o = opts("tbtest-range", "c");
    o.heartbeat_s = 70000;
    assert_int_equal(tb_amqp_transport_create(&o, &t, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "out of range"));
    assert_null(t);
    strcpy(err, "stale");
    assert_int_equal(tb__amqp_queue_info(&o, "q", &msgs, &cons, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "out of range"));
    o.heartbeat_s = 0;
    o.prefetch = -1;
    assert_int_equal(tb__amqp_delete_run(&o, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "out of range"));
    /* A missing queue name is named too, not left as the last call's text. */
    o.prefetch = 0;
    strcpy(err, "stale");
    assert_int_equal(tb__amqp_queue_info(&o, "", &msgs, &cons, err, sizeof err), TB_EINVAL);
    assert_non_null(strstr(err, "no queue"));
}

static void test_amqp_reports_a_refused_declare(void **state)
{
    (void)state;
    char run[64], err[512];
    run_name(run, sizeof run, "conflict");
    tb_amqp_options o = opts(run, "c");
    o.delivery_limit = 2;
    tb_transport *t = open_tp(&o);
    o.delivery_limit = 3; /* same queue, other arguments */
    tb_transport *t2 = NULL;
    assert_int_equal(tb_amqp_transport_create(&o, &t2, err, sizeof err), TB_EIO);
    assert_null(t2);
    assert_non_null(strstr(err, "PRECONDITION_FAILED"));
    assert_non_null(strstr(err, "x-delivery-limit"));
    tb_transport_destroy(t);
    delete_run(run, "c");
}

/* ---- a broker restart ---------------------------------------------------- */

static pid_t start_restart(void)
{
    const char *script = getenv("TB_BROKER_SCRIPT"), *dir = getenv("TB_BROKER_DIR");
    if (!script || !dir)
        fail_msg("TB_BROKER_SCRIPT and TB_BROKER_DIR must be set (ctest sets them) to restart "
                 "the broker");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", script, "restart", dir, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_amqp_survives_a_broker_restart(void **state)
{
    (void)state;
    char run[64];
    run_name(run, sizeof run, "restart");
    tb_amqp_options co = opts(run, "c");
    co.bindings[0] = "Ev.#";
    co.nbindings = 1;
    co.reconnect_max_ms = 500;
    tb_transport *c = open_tp(&co);
    tb_amqp_options po = opts(run, NULL);
    po.confirm_batch = 1000; /* nothing confirmed before the restart */
    po.reconnect_max_ms = 500;
    tb_transport *p = open_tp(&po);

    enum { BEFORE = 300, DURING = 50, N = BEFORE + DURING };
    for (int i = 0; i < BEFORE; i++)
        publish(p, "Ev.R", i, NULL, NULL, NULL);
    static int seen[N];
    memset(seen, 0, sizeof seen);
    tb_msg_in m;
    for (int i = 0; i < 100; i++) { /* consumed and acked before: gone for good */
        poll_one(c, &m, 5000);
        seen[msg_index(&m)]++;
        assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    for (int i = 0; i < 20; i++) /* consumed, not acked: must come again (not counted) */
        poll_one(c, &m, 5000);
    uint32_t epoch_before = tb_transport_epoch(c);

    pid_t restart = start_restart();
    int flush_econn = 0, poll_econn = 0, restarted = 0, published_during = 0, status = 0;
    time_t give_up = time(NULL) + 90;
    while (!restarted) {
        assert_true(time(NULL) < give_up);
        /* No flush before the broker is seen down: the first BEFORE
         * messages stay unconfirmed (acks unread) and must be resent. */
        int rc = poll_econn > 0 ? tb_transport_flush(p, 100) : 0;
        if (rc == TB_ECONN) flush_econn++;
        rc = tb_transport_poll(c, &m, 100);
        if (rc == TB_ECONN) poll_econn++;
        if (rc == 0) {
            seen[msg_index(&m)]++;
            tb_transport_ack(c, m.tag, m.epoch);
        }
        if (poll_econn > 0 && published_during < DURING) { /* published while down */
            publish(p, "Ev.R", BEFORE + published_during, NULL, NULL, NULL);
            published_during++;
        }
        pid_t w = waitpid(restart, &status, WNOHANG);
        if (w == restart) restarted = 1;
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(flush_econn > 0);
    assert_true(poll_econn > 0);
    while (published_during < DURING) {
        publish(p, "Ev.R", BEFORE + published_during, NULL, NULL, NULL);
        published_during++;
    }

    int rc = tb_transport_flush(p, 30000);
    if (rc != 0) fail_msg("flush after the restart: %s", tb_strerror(rc));
    tb_transport_stats ps = p->ops->stats(p);
    assert_true(ps.reconnects >= 1);
    assert_true(ps.resent >= BEFORE);
    assert_int_equal(ps.published, N);

    /* Every message at least once; duplicates are allowed (dedupe by id). */
    int missing = N;
    for (int i = 0; i < N; i++)
        if (seen[i]) missing--;
    while (missing > 0) {
        assert_true(time(NULL) < give_up);
        rc = tb_transport_poll(c, &m, 1000);
        if (rc == TB_ETIMEOUT || rc == TB_ECONN) continue;
        assert_int_equal(rc, 0);
        int i = msg_index(&m);
        assert_true(i >= 0 && i < N);
        if (seen[i]++ == 0) missing--;
        assert_int_equal(tb_transport_ack(c, m.tag, m.epoch), 0);
    }
    assert_true(tb_transport_epoch(c) > epoch_before);
    tb_transport_stats cs = c->ops->stats(c);
    assert_true(cs.reconnects >= 1);
    print_message("restart: publisher resent %llu, reconnects %llu; consumer delivered %llu for "
                  "%d messages\n",
                  (unsigned long long)ps.resent, (unsigned long long)ps.reconnects,
                  (unsigned long long)cs.delivered, N);

    tb_transport_destroy(p);
    tb_transport_destroy(c);
    delete_run(run, "c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amqp_delivers_in_order_with_ids_headers_and_keys),
        cmocka_unit_test(test_amqp_redelivers_only_what_was_not_acked),
        cmocka_unit_test(test_amqp_requeued_past_delivery_limit_lands_in_dlq),
        cmocka_unit_test(test_amqp_counts_unroutable_messages),
        cmocka_unit_test(test_amqp_resends_nacked_messages),
        cmocka_unit_test(test_amqp_keeps_unused_connections_alive),
        cmocka_unit_test(test_amqp_queue_info_peek_move_and_delete),
        cmocka_unit_test(test_amqp_refuses_bad_urls_and_never_shows_the_password),
        cmocka_unit_test(test_amqp_refuses_out_of_range_options_everywhere),
        cmocka_unit_test(test_amqp_reports_a_refused_declare),
        cmocka_unit_test(test_amqp_survives_a_broker_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
