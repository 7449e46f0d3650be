/* amqps:// against a broker that offers TLS: a private broker of its own
 * (scripts/broker.sh, ports 5685 plain and 5686 TLS) with a certificate
 * from a CA the test makes with openssl. A message goes through when the
 * client trusts that CA ([bus] tls_ca), and the connection is refused when
 * it does not — a broker that cannot prove who it is gets nothing. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/amqp.h"
#include "../src/transport/amqp_int.h" /* tb__amqp_delete_run */

#define PLAIN_PORT "5685"
#define TLS_PORT   "5686"

typedef struct {
    char dir[512];
    char script[1024];
    int started;
} fixture;

static void sh(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(const char *what, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("%s failed: %s", what, cmd);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *script = getenv("TB_BROKER_SCRIPT");
    snprintf(f->script, sizeof(f->script), "%s",
             script ? script : TB_SOURCE_DIR "/scripts/broker.sh");
    tbt_temp_dir(f->dir, sizeof(f->dir));
    /* A CA, and a server certificate for "localhost" signed by it. */
    sh("making the CA",
       "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tradebus-test-ca "
       "-keyout ca.key -out ca.pem 2>/dev/null",
       f->dir);
    sh("making the server certificate",
       "cd '%s' && openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
       "-out server.csr 2>/dev/null && printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
       "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile san.ext -out server.pem 2>/dev/null && chmod 644 server.key",
       f->dir);
    char conf[2048];
    snprintf(conf, sizeof(conf),
             "listeners.ssl.default = 127.0.0.1:" TLS_PORT "\n"
             "ssl_options.cacertfile = %s/ca.pem\n"
             "ssl_options.certfile = %s/server.pem\n"
             "ssl_options.keyfile = %s/server.key\n"
             "ssl_options.verify = verify_none\n"
             "ssl_options.fail_if_no_peer_cert = false\n",
             f->dir, f->dir, f->dir);
    char path[1024], mq[700];
    snprintf(mq, sizeof(mq), "%s/mq", f->dir);
    sh("mkdir", "mkdir -p '%s'", mq);
    tbt_write_file(mq, "extra.conf", conf, path, sizeof(path));
    sh("starting a TLS broker", "sh '%s' start '%s' " PLAIN_PORT, f->script, mq);
    f->started = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[2048];
    if (f->started) {
        snprintf(cmd, sizeof(cmd), "sh '%s' stop '%s/mq'", f->script, f->dir);
        if (system(cmd) != 0) fprintf(stderr, "could not stop the TLS broker\n");
    }
    tbt_remove_tree(f->dir);
    free(f);
    return 0;
}

static void test_amqps_with_the_brokers_ca_carries_messages(void **state)
{
    fixture *f = *state;
    char ca[700], err[512] = "";
    snprintf(ca, sizeof(ca), "%s/ca.pem", f->dir);
    tb_amqp_options o;
    memset(&o, 0, sizeof(o));
    o.url = "amqps://guest:guest@localhost:" TLS_PORT "/";
    o.run = "tls";
    o.component = "c";
    o.bindings[0] = "MarketData.#";
    o.nbindings = 1;
    o.cacert = ca;
    tb_transport *t;
    if (tb_amqp_transport_create(&o, &t, err, sizeof(err)) != 0) fail_msg("amqps: %s", err);
    const char *body = "{\"hello\":\"tls\"}";
    tb_msg_out m = {"MarketData.BTCUSDT", "tls-1", "MarketData", NULL, NULL, NULL, body,
                    strlen(body)};
    assert_int_equal(tb_transport_publish(t, &m), 0);
    assert_int_equal(tb_transport_flush(t, 10000), 0);
    tb_msg_in in;
    int rc = TB_ETIMEOUT;
    for (int i = 0; i < 50 && rc == TB_ETIMEOUT; i++)
        rc = tb_transport_poll(t, &in, 200);
    assert_int_equal(rc, 0);
    assert_string_equal(in.message_id, "tls-1");
    assert_int_equal(in.len, strlen(body));
    assert_memory_equal(in.body, body, in.len);
    assert_int_equal(tb_transport_ack(t, in.tag, in.epoch), 0);
    tb_transport_destroy(t);
    assert_int_equal(tb__amqp_delete_run(&o, err, sizeof(err)), 0);
}

static void test_amqps_refuses_a_broker_it_cannot_verify(void **state)
{
    (void)state;
    char err[512] = "";
    tb_amqp_options o;
    memset(&o, 0, sizeof(o));
    o.url = "amqps://guest:guest@localhost:" TLS_PORT "/";
    o.run = "tls";
    /* the system's CAs did not sign the test CA's certificate */
    tb_transport *t = NULL;
    int rc = tb_amqp_transport_create(&o, &t, err, sizeof(err));
    assert_int_not_equal(rc, 0);
    assert_null(t);
    assert_true(strlen(err) > 0);
    assert_null(strstr(err, "guest:guest")); /* the password is never in a message */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amqps_with_the_brokers_ca_carries_messages),
        cmocka_unit_test(test_amqps_refuses_a_broker_it_cannot_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
