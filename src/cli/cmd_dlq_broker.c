/* tradebus dlq ... --config FILE (no --journal): the dead-letter queues of
 * a distributed run, which live in its broker (RabbitMQ) — one per component,
 * <name>.<component>.dlq — read and moved through the transport type's
 * optional ops (transport.h), filled by the broker (a message given back more
 * often than [bus] delivery_limit, x-death says why) and by the components
 * (an event a handler failed after its retries, tb-reason says why). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *role;
    const char *want; /* show: this id only */
    int shown;
} peek_ctx;

static int list_one(const tb_msg_in *m, void *ctx)
{
    peek_ctx *p = ctx;
    const char *why = m->reason[0] ? m->reason : "(no reason recorded)";
    cli_printf("%-24s %-10s %-28s %4ld  %s\n", m->message_id[0] ? m->message_id : "(no id)",
               p->role, m->routing_key, m->death_count, why);
    p->shown++;
    return 0;
}

static int show_one(const tb_msg_in *m, void *ctx)
{
    peek_ctx *p = ctx;
    if (strcmp(m->message_id, p->want) != 0) return 0;
    cli_printf("id           %s\ncomponent    %s\nrouting key  %s\ntype         %s\n",
               m->message_id, p->role, m->routing_key, m->type[0] ? m->type : "-");
    cli_printf("reason       %s\n", m->reason[0] ? m->reason : "-");
    if (m->death_queue[0])
        cli_printf("died in      %s (%ld time%s)\n", m->death_queue, m->death_count,
                   m->death_count == 1 ? "" : "s");
    if (m->key[0]) cli_printf("run key      %s\n", m->key);
    cli_printf("body (%zu bytes)\n%.*s\n", m->len, (int)m->len, (const char *)m->body);
    p->shown++;
    return 0;
}

int cli_dlq_broker(const char *sub, int argc, char **argv)
{
    cli_run r;
    const char *id = NULL;
    int all = 0;
    /* The ID (or --all) comes first, as in the journal form. */
    if (argc > 0 && argv[0][0] != '-') {
        id = argv[0];
        argc--;
        argv++;
    } else if (argc > 0 && !strcmp(argv[0], "--all")) {
        all = 1;
        argc--;
        argv++;
    }
    int code = cli_parse_run(argc, argv, &r, cli_dlq_help, NULL, NULL);
    if (code >= 0) return code;
    const tb_transport_type *tt = r.cfg.transport;
    if (!tt->create) {
        cli_eprintf("tradebus dlq: %s runs in one process ([bus] type = %s): its dead letters are\n"
                    "in the run's journal; give it with --journal FILE\n",
                    r.config_path, tt->name);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    if (strcmp(sub, "list") != 0 && !id && !all) {
        cli_usage_error("dlq %s: which message? give its id (see tradebus dlq list) or --all", sub);
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    tb_transport_params tp;
    tb_config_transport_params(&r.cfg, NULL, &tp);
    char roles[CLI_MAX_PROCS][TB_NODE_NAME_LEN];
    size_t nroles = tb_node_processes(&r.cfg, roles, CLI_MAX_PROCS);
    char err[512] = "";
    int total = 0, rc = 0;
    if (!strcmp(sub, "list"))
        cli_printf("%-24s %-10s %-28s %4s  %s\n", "id", "component", "routing key", "died",
                   "reason");
    for (size_t i = 0; i < nroles && rc >= 0; i++) {
        char dlq[700], q[640];
        snprintf(q, sizeof(q), "%s.%s", tp.run, roles[i]);
        snprintf(dlq, sizeof(dlq), "%s.dlq", q);
        peek_ctx p = {roles[i], id, 0};
        if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
            rc = tb_transport_queue_peek(tt, &tp, dlq, 100000,
                                         !strcmp(sub, "list") ? list_one : show_one, &p, err,
                                         sizeof(err));
            if (rc == TB_ENOTFOUND) rc = 0; /* that component never started */
            total += p.shown;
        } else {
            /* replay: back to the component's own queue; purge: dropped */
            rc = tb_transport_queue_move(tt, &tp, dlq, !strcmp(sub, "replay") ? q : NULL, id, err,
                                         sizeof(err));
            if (rc == TB_ENOTFOUND) rc = 0;
            if (rc > 0) {
                cli_printf("%s: %d message%s %s\n", roles[i], rc, rc == 1 ? "" : "s",
                           !strcmp(sub, "replay") ? "back in its queue" : "purged");
                total += rc;
            }
        }
    }
    tb_config_free(&r.cfg);
    if (rc < 0) {
        cli_eprintf("tradebus dlq %s: %s\n", sub, err[0] ? err : tb_strerror(rc));
        return rc == TB_ENOTSUP ? EXIT_USAGE : EXIT_RUNTIME;
    }
    if (total == 0 && id) {
        cli_eprintf("tradebus dlq %s: no dead letter with id %s (see tradebus dlq list)\n", sub,
                    id);
        return EXIT_DATA;
    }
    if (!strcmp(sub, "list")) cli_printf("%d dead letter%s\n", total, total == 1 ? "" : "s");
    return 0;
}
