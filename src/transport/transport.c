/* The transport registry: the built-in types [bus] type chooses from, and
 * the wrappers that make a type's optional ops safe to call. A new broker
 * is its own files plus one line in `builtins`. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

/* The embedded default: the in-process bus. It has no transport to create:
 * a run of this type is one process (tradebus backtest). */
static const tb_transport_type memory_type = {
    .name = "memory",
    .help = "one process: the components on the in-process bus, no broker",
};

static const tb_transport_type *const builtins[] = {&memory_type, &tb__amqp_type};

const tb_transport_type *tb_transport_builtin_at(size_t i)
{
    return i < sizeof(builtins) / sizeof(builtins[0]) ? builtins[i] : NULL;
}

const tb_transport_type *tb_transport_builtin(const char *name)
{
    for (size_t i = 0; name && tb_transport_builtin_at(i); i++)
        if (strcasecmp(builtins[i]->name, name) == 0) return builtins[i];
    return NULL;
}

const char *tb_transport_param_get(const tb_transport_params *p, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; p && i < p->nparams; i++)
        if (strcmp(p->params[i].key, key) == 0) v = p->params[i].value; /* the last one wins */
    return v;
}

static int unsupported(const tb_transport_type *tt, const char *what, char *err, size_t errlen)
{
    tb__errf(err, errlen, "%s is not supported by transport %s", what, tt->name);
    return TB_ENOTSUP;
}

int tb_transport_open(const tb_transport_type *tt, const tb_transport_params *p, tb_transport **out,
                      char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!tt || !p || !out) return TB_EINVAL;
    *out = NULL;
    if (!tt->create)
        return unsupported(tt, "attaching a process (its run is one process)", err, errlen);
    if (p->nbindings > TB_TRANSPORT_MAX_BINDINGS) {
        tb__errf(err, errlen, "%zu bindings: at most %d", p->nbindings, TB_TRANSPORT_MAX_BINDINGS);
        return TB_ECONFIG;
    }
    return tt->create(tt, p, out, err, errlen);
}

void tb_transport_describe(const tb_transport_type *tt, const tb_transport_params *p, char *out,
                           size_t outlen)
{
    if (!out || !outlen) return;
    if (tt && tt->describe)
        tt->describe(tt, p, out, outlen);
    else
        snprintf(out, outlen, "%s", tt ? tt->name : "?");
}

int tb_transport_queue_info(const tb_transport_type *tt, const tb_transport_params *p,
                            const char *queue, long *messages, long *consumers, char *err,
                            size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!tt || !p) return TB_EINVAL;
    if (!tt->queue_info) return unsupported(tt, "looking at a queue", err, errlen);
    return tt->queue_info(tt, p, queue, messages, consumers, err, errlen);
}

int tb_transport_queue_peek(const tb_transport_type *tt, const tb_transport_params *p,
                            const char *queue, size_t max, tb_transport_peek_fn fn, void *ctx,
                            char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!tt || !p) return TB_EINVAL;
    if (!tt->queue_peek) return unsupported(tt, "reading a queue", err, errlen);
    return tt->queue_peek(tt, p, queue, max, fn, ctx, err, errlen);
}

int tb_transport_queue_move(const tb_transport_type *tt, const tb_transport_params *p,
                            const char *from, const char *to, const char *id, char *err,
                            size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!tt || !p) return TB_EINVAL;
    if (!tt->queue_move) return unsupported(tt, "moving messages between queues", err, errlen);
    return tt->queue_move(tt, p, from, to, id, err, errlen);
}

int tb_transport_delete_run(const tb_transport_type *tt, const tb_transport_params *p, char *err,
                            size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!tt || !p) return TB_EINVAL;
    if (!tt->delete_run) return unsupported(tt, "deleting a run", err, errlen);
    return tt->delete_run(tt, p, err, errlen);
}
