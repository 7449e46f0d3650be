/* The AMQP transport's entry in the registry ([bus] type = amqp): its own
 * [bus] keys (url, tls_ca, prefetch) checked and shown for config check,
 * turned into tb_amqp_options, and the one-shot admin calls of
 * amqp_admin.c behind the interface's optional ops. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

#define DEFAULT_URL "amqp://127.0.0.1:5672/"

static const tb_transport_key keys[] = {
    {"url", DEFAULT_URL},
    {"tls_ca", "/etc/ssl/certs/ca-certificates.crt"},
    {"prefetch", "1000"},
    {NULL, NULL},
};

static int check_key(const tb_transport_type *tt, const char *key, const char *value, char *shown,
                     size_t shownlen, char *msg, size_t msglen)
{
    (void)tt;
    if (strcmp(key, "prefetch") == 0) {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if ((errno && errno != ERANGE) || end == value || *end) {
            tb__errf(msg, msglen, "'%s' is not an integer", value);
            return TB_ECONFIG;
        }
        if (errno == ERANGE || v < 1 || v > 65535) {
            tb__errf(msg, msglen, "%s is out of range [1, 65535]", value);
            return TB_ECONFIG;
        }
        snprintf(shown, shownlen, "%ld", v);
        return 0;
    }
    if (!value[0]) {
        tb__errf(msg, msglen, "must not be empty");
        return TB_ECONFIG;
    }
    if (strcmp(key, "url") == 0) {
        /* The URL may hold a password: only its masked form is ever shown. */
        tb_amqp_url_redact(value, shown, shownlen);
        if (strncmp(value, "amqp://", 7) != 0 && strncmp(value, "amqps://", 8) != 0) {
            tb__errf(msg, msglen, "'%s' must start with amqp:// or amqps://", shown);
            return TB_ECONFIG;
        }
    }
    return 0;
}

/* p's settings as options; bindings are copied in (at most
 * TB_AMQP_MAX_BINDINGS: tb_transport_open() checked). */
static void options(const tb_transport_params *p, tb_amqp_options *o)
{
    memset(o, 0, sizeof(*o));
    const char *url = tb_transport_param_get(p, "url");
    const char *prefetch = tb_transport_param_get(p, "prefetch");
    o->url = url ? url : DEFAULT_URL;
    o->run = p->run;
    o->component = p->component;
    for (size_t i = 0; i < p->nbindings && i < TB_AMQP_MAX_BINDINGS; i++)
        o->bindings[o->nbindings++] = p->bindings[i];
    o->prefetch = prefetch ? (int)strtol(prefetch, NULL, 10) : 0;
    o->cacert = tb_transport_param_get(p, "tls_ca");
    o->delivery_limit = p->delivery_limit;
}

static int create(const tb_transport_type *tt, const tb_transport_params *p, tb_transport **out,
                  char *err, size_t errlen)
{
    (void)tt;
    tb_amqp_options o;
    options(p, &o);
    return tb_amqp_transport_create(&o, out, err, errlen);
}

static void describe(const tb_transport_type *tt, const tb_transport_params *p, char *out,
                     size_t outlen)
{
    (void)tt;
    const char *url = tb_transport_param_get(p, "url");
    tb_amqp_url_redact(url ? url : DEFAULT_URL, out, outlen);
}

static int queue_info(const tb_transport_type *tt, const tb_transport_params *p, const char *queue,
                      long *messages, long *consumers, char *err, size_t errlen)
{
    (void)tt;
    tb_amqp_options o;
    options(p, &o);
    return tb__amqp_queue_info(&o, queue, messages, consumers, err, errlen);
}

static int queue_peek(const tb_transport_type *tt, const tb_transport_params *p, const char *queue,
                      size_t max, tb_transport_peek_fn fn, void *ctx, char *err, size_t errlen)
{
    (void)tt;
    tb_amqp_options o;
    options(p, &o);
    return tb__amqp_queue_peek(&o, queue, max, fn, ctx, err, errlen);
}

static int queue_move(const tb_transport_type *tt, const tb_transport_params *p, const char *from,
                      const char *to, const char *id, char *err, size_t errlen)
{
    (void)tt;
    tb_amqp_options o;
    options(p, &o);
    return tb__amqp_queue_move(&o, from, to, id, err, errlen);
}

static int delete_run(const tb_transport_type *tt, const tb_transport_params *p, char *err,
                      size_t errlen)
{
    (void)tt;
    tb_amqp_options o;
    options(p, &o);
    return tb__amqp_delete_run(&o, err, errlen);
}

const tb_transport_type tb__amqp_type = {
    .name = "amqp",
    .help = "each component its own process, through RabbitMQ",
    .keys = keys,
    .check_key = check_key,
    .create = create,
    .describe = describe,
    .queue_info = queue_info,
    .queue_peek = queue_peek,
    .queue_move = queue_move,
    .delete_run = delete_run,
};
