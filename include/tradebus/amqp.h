/* tradebus — the AMQP (RabbitMQ) transport, for programs that build one
 * themselves.
 *
 * A run configured with [bus] type = amqp gets this transport through the
 * registry (transport.h: tb_transport_open() with tb_config_transport_params()),
 * its [bus] url, tls_ca and prefetch checked by the type and shown by
 * `tradebus config check`. Administration of a run's queues (status, dead
 * letters, deleting a run) goes through the registry's optional ops.
 *
 * Topology, for a run named N (default "tradebus"):
 *   exchange  N.events  durable topic; routing keys "<Type>.<SYMBOL>" and "ctl.<kind>"
 *   exchange  N.dlx     durable direct; routing key = the component's name
 *   queue     N.<component>       durable quorum queue, bound to the
 *             component's patterns on N.events; x-dead-letter-exchange N.dlx,
 *             x-dead-letter-routing-key <component>, x-delivery-limit L
 *   queue     N.<component>.dlq   durable quorum queue bound to N.dlx with key
 *             <component> (no limit, no dead-lettering of its own) */
#ifndef TRADEBUS_AMQP_H
#define TRADEBUS_AMQP_H

#include <stddef.h>
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_AMQP_MAX_BINDINGS TB_TRANSPORT_MAX_BINDINGS

typedef struct {
    const char *url;       /* amqp://[user[:pass]@]host[:port][/vhost] or amqps://; required.
                              A user/password missing from the URL is taken from
                              TRADEBUS_AMQP_USER / TRADEBUS_AMQP_PASSWORD, else guest. */
    const char *run;       /* run name N; NULL = "tradebus" */
    const char *component; /* queue owner; NULL = publish-only (no queue declared) */
    const char *bindings[TB_AMQP_MAX_BINDINGS]; /* topic patterns, e.g. "MarketData.#" */
    size_t nbindings;
    int prefetch;         /* basic.qos; 0 = 1000 */
    int delivery_limit;   /* x-delivery-limit; 0 = 5 */
    int confirm_batch;    /* wait for confirms after this many publishes; 0 = 256 */
    int reconnect_max_ms; /* backoff ceiling; 0 = 2000 */
    int heartbeat_s;      /* AMQP heartbeat; 0 = 10 */
    const char *cacert;   /* amqps: CA file to verify the broker; NULL = system default */
    int insecure_tls;     /* amqps: skip peer verification (tests only) */
} tb_amqp_options;

/* Connects (one connection for publishing, one for consuming), declares the
 * topology above and starts consuming. 0 on success; TB_ECONN if the broker
 * cannot be reached (err says where, never the password), TB_ECONFIG for a bad
 * URL or option, refused credentials or a broker certificate that does not
 * verify, TB_EIO for a declare the broker refused (err has its reply text). The
 * caller frees it with tb_transport_destroy(). */
TB_EXPORT int tb_amqp_transport_create(const tb_amqp_options *o, tb_transport **out, char *err,
                                       size_t errlen);

/* The URL with any password replaced by "***", for logs. */
TB_EXPORT void tb_amqp_url_redact(const char *url, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
