/* The run's names and its topology (transport.h): the exchanges and queues
 * a transport declares, named after the run and the component. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

#define DEFAULT_RUN "tradebus"

int tb__amqp_names_init(tb__amqp_names *n, const tb_amqp_options *o, char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    const char *run = o->run ? o->run : DEFAULT_RUN;
    const char *comp = o->component;
    if (!*run || (comp && !*comp)) {
        tb__errf(err, errlen, "empty run or component name");
        return TB_ECONFIG;
    }
    /* "N.<component>.dlq" is the longest name. */
    if (strlen(run) + (comp ? strlen(comp) : 0) + 8 > NAME_MAX_LEN) {
        tb__errf(err, errlen, "run and component tb__amqp_names too long for AMQP (255 bytes)");
        return TB_ECONFIG;
    }
    snprintf(n->run, sizeof n->run, "%s", run);
    snprintf(n->events, sizeof n->events, "%s.events", run);
    snprintf(n->dlx, sizeof n->dlx, "%s.dlx", run);
    if (comp) {
        snprintf(n->component, sizeof n->component, "%s", comp);
        snprintf(n->queue, sizeof n->queue, "%s.%s", run, comp);
        snprintf(n->dlq, sizeof n->dlq, "%s.%s.dlq", run, comp);
    }
    return 0;
}

amqp_table_entry_t tb__amqp_str_entry(const char *key, const char *val)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(val);
    return e;
}

/* The run's topology (transport.h); idempotent, so it is simply declared
 * again after every reconnect (the broker may have lost non-durable state,
 * or someone deleted a queue). */
int tb__amqp_declare_topology(tb__amqp_tp *t, amqp_connection_state_t c, char *err, size_t errlen)
{
    char what[2 * NAME_MAX_LEN + 64];
    int rc;
    amqp_exchange_declare(c, CHAN, amqp_cstring_bytes(t->n.events), amqp_cstring_bytes("topic"), 0,
                          1, 0, 0, amqp_empty_table);
    snprintf(what, sizeof what, "declaring exchange %s", t->n.events);
    if ((rc = tb__amqp_rpc_check(c, CHAN, what, err, errlen)) != 0) return rc;
    amqp_exchange_declare(c, CHAN, amqp_cstring_bytes(t->n.dlx), amqp_cstring_bytes("direct"), 0, 1,
                          0, 0, amqp_empty_table);
    snprintf(what, sizeof what, "declaring exchange %s", t->n.dlx);
    if ((rc = tb__amqp_rpc_check(c, CHAN, what, err, errlen)) != 0) return rc;
    if (!t->n.queue[0]) return 0;

    amqp_table_entry_t qa[4];
    qa[0] = tb__amqp_str_entry("x-queue-type", "quorum");
    qa[1] = tb__amqp_str_entry("x-dead-letter-exchange", t->n.dlx);
    qa[2] = tb__amqp_str_entry("x-dead-letter-routing-key", t->n.component);
    qa[3].key = amqp_cstring_bytes("x-delivery-limit");
    qa[3].value.kind = AMQP_FIELD_KIND_I64;
    qa[3].value.value.i64 = t->delivery_limit;
    amqp_table_t args = {4, qa};
    amqp_queue_declare(c, CHAN, amqp_cstring_bytes(t->n.queue), 0, 1, 0, 0, args);
    snprintf(what, sizeof what, "declaring queue %s", t->n.queue);
    if ((rc = tb__amqp_rpc_check(c, CHAN, what, err, errlen)) != 0) return rc;
    for (size_t i = 0; i < t->nbindings; i++) {
        amqp_queue_bind(c, CHAN, amqp_cstring_bytes(t->n.queue), amqp_cstring_bytes(t->n.events),
                        amqp_cstring_bytes(t->bindings[i]), amqp_empty_table);
        snprintf(what, sizeof what, "binding %s to %s", t->n.queue, t->n.events);
        if ((rc = tb__amqp_rpc_check(c, CHAN, what, err, errlen)) != 0) return rc;
    }
    amqp_table_t dargs = {1, qa};
    amqp_queue_declare(c, CHAN, amqp_cstring_bytes(t->n.dlq), 0, 1, 0, 0, dargs);
    snprintf(what, sizeof what, "declaring queue %s", t->n.dlq);
    if ((rc = tb__amqp_rpc_check(c, CHAN, what, err, errlen)) != 0) return rc;
    amqp_queue_bind(c, CHAN, amqp_cstring_bytes(t->n.dlq), amqp_cstring_bytes(t->n.dlx),
                    amqp_cstring_bytes(t->n.component), amqp_empty_table);
    snprintf(what, sizeof what, "binding %s to %s", t->n.dlq, t->n.dlx);
    return tb__amqp_rpc_check(c, CHAN, what, err, errlen);
}
