/* tradebus dlq: the persistent dead-letter queue in a run's journal — list
 * it, show one entry whole, purge entries. Subcommands are a table; `replay`
 * needs the run's pipeline (--config) and is wired in by cmd_backtest's side. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_dlq_help =
    "tradebus dlq list --journal FILE\n"
    "tradebus dlq show ID --journal FILE\n"
    "tradebus dlq purge ID|--all --journal FILE\n"
    "tradebus dlq replay ID|--all --config FILE --journal FILE [--set ...]\n"
    "tradebus dlq list | show ID | replay ID|--all | purge ID|--all --config FILE\n"
    "    (a distributed run, [bus] type = amqp: the dead-letter queues in RabbitMQ)\n"
    "\n"
    "The dead-letter queue keeps, in the run's journal, every event a component\n"
    "failed to handle after its retries and every input that failed validation,\n"
    "with the component, the reason, the attempts and the first and last time.\n"
    "\n"
    "  list    one line per entry: id, last seen, component, event type, attempts,\n"
    "          reason\n"
    "  show    one entry whole, its event as indented JSON (or the raw input that\n"
    "          never decoded)\n"
    "  purge   remove one entry, or all of them with --all\n"
    "  replay  deliver again to the component that failed it, once the cause is\n"
    "          fixed; an entry whose replay succeeds leaves the queue\n"
    "\n"
    "A distributed run keeps one dead-letter queue per component in RabbitMQ\n"
    "(<name>.<component>.dlq): messages given back more than [bus] delivery_limit\n"
    "times (x-death) and events a handler failed (tb-reason). `replay` puts them\n"
    "back in the component's queue, to be handled when it runs again after the\n"
    "fix; `purge` drops them.\n"
    "\n"
    "Exit codes: 0 success, 2 usage, 3 missing or damaged journal or unknown id,\n"
    "1 runtime failure.\n";

/* A queue entry id: a positive integer as `dlq list` shows it. */
static int parse_entry_id(const char *cmd, const char *s, int64_t *out)
{
    if (!s) {
        cli_usage_error("%s: which entry? give its ID (see tradebus dlq list)", cmd);
        return EXIT_USAGE;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || errno || *end || v <= 0) {
        cli_usage_error("%s: '%s' is not an entry id (a positive number, see tradebus dlq list)",
                        cmd, s);
        return EXIT_USAGE;
    }
    *out = (int64_t)v;
    return -1;
}

static void iso(int64_t ns, char *buf, size_t buflen)
{
    if (tb_format_time_iso(ns, buf, buflen) < 0) snprintf(buf, buflen, "?");
}

static const char *entry_type(const tb_dlq_entry *e)
{
    return e->event.type == TB_EV_NONE ? "(raw input)" : tb_event_type_name(e->event.type);
}

/* ---- list ------------------------------------------------------------------ */

static int list_row(const tb_dlq_entry *e, void *ctx)
{
    (void)ctx;
    char when[32], reason[1024];
    iso(e->last_seen, when, sizeof(when));
    /* One row per entry: a newline in a reason is shown, not obeyed. */
    tb_text_escape(reason, sizeof(reason), e->reason, strlen(e->reason), 0);
    cli_printf("%-6" PRId64 " %-24s %-16s %-22s %8d  %s\n", e->id, when, e->component,
               entry_type(e), e->attempts, reason);
    return 0;
}

static int dlq_list(int argc, char **argv)
{
    const char *path;
    int code = cli_journal_args(argc, argv, "dlq list", cli_dlq_help, &path, NULL, NULL, NULL);
    if (code >= 0) return code;
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;
    int64_t n = tb_journal_dlq_count(j);
    int rc = n < 0 ? (int)n : 0;
    if (n == 0) {
        cli_printf("no dead letters in %s\n", path);
    } else if (n > 0) {
        cli_printf("%-6s %-24s %-16s %-22s %8s  %s\n", "ID", "LAST SEEN", "COMPONENT", "TYPE",
                   "ATTEMPTS", "REASON");
        rc = tb_journal_dlq_each(j, list_row, NULL);
    }
    if (rc != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "dlq list: %s", tb_journal_errmsg(j));
        code = EXIT_RUNTIME;
    } else {
        code = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    tb_journal_close(j);
    return code;
}

/* ---- show ------------------------------------------------------------------ */

/* Indents compact JSON (the codec's: no spaces outside strings) two spaces
 * a level, one member per line. Strings are copied as they are. */
static void print_json_pretty(FILE *f, const char *s)
{
    int depth = 0, in_str = 0;
    for (; *s; s++) {
        char ch = *s;
        if (in_str) {
            fputc(ch, f);
            if (ch == '\\' && s[1])
                fputc(*++s, f);
            else if (ch == '"')
                in_str = 0;
            continue;
        }
        switch (ch) {
        case '"':
            in_str = 1;
            fputc(ch, f);
            break;
        case '{':
        case '[':
            fputc(ch, f);
            if (s[1] == '}' || s[1] == ']') {
                fputc(*++s, f); /* empty: stays on one line */
            } else {
                depth++;
                fprintf(f, "\n%*s", depth * 2, "");
            }
            break;
        case '}':
        case ']':
            depth--;
            fprintf(f, "\n%*s%c", depth * 2, "", ch);
            break;
        case ',':
            fprintf(f, ",\n%*s", depth * 2, "");
            break;
        case ':':
            fputs(": ", f);
            break;
        default:
            fputc(ch, f);
        }
    }
    fputc('\n', f);
}

static int dlq_show(int argc, char **argv)
{
    const char *path, *id_text;
    int64_t id;
    int code = cli_journal_args(argc, argv, "dlq show", cli_dlq_help, &path, NULL, NULL, &id_text);
    if (code >= 0) return code;
    if ((code = parse_entry_id("dlq show", id_text, &id)) >= 0) return code;
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;
    tb_dlq_entry *e = malloc(sizeof(*e)); /* large: the raw text */
    int rc = e ? tb_journal_dlq_get(j, id, e) : TB_ENOMEM;
    if (rc == TB_ENOTFOUND) {
        fprintf(stderr, "tradebus: dlq show: no dead letter %" PRId64 " in %s\n", id, path);
        code = EXIT_DATA;
    } else if (rc != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "dlq show: %s", e ? tb_journal_errmsg(j) : tb_strerror(rc));
        code = EXIT_RUNTIME;
    } else {
        char first[32], last[32], json[4096];
        iso(e->first_seen, first, sizeof(first));
        iso(e->last_seen, last, sizeof(last));
        cli_printf("id:         %" PRId64 "\n", e->id);
        cli_printf("component:  %s\n", e->component);
        cli_printf("type:       %s\n", entry_type(e));
        if (e->event.event_id) cli_printf("event id:   %" PRIu64 "\n", e->event.event_id);
        cli_printf("reason:     %s\n", e->reason);
        cli_printf("error:      %s (%s)\n", tb_err_name(e->error), tb_strerror(e->error));
        cli_printf("attempts:   %d\n", e->attempts);
        cli_printf("first seen: %s\n", first);
        cli_printf("last seen:  %s\n", last);
        if (e->event.type != TB_EV_NONE && tb_codec_encode(&e->event, json, sizeof(json)) > 0) {
            cli_printf("event:\n");
            /* Through memory: a UTF-8 sequence reaches the escaping whole. */
            cli_text t;
            if (cli_text_begin(&t) == 0) {
                print_json_pretty(t.f, json);
                cli_text_end(&t);
            }
        } else {
            /* Not JSON we understand: shown as it arrived, control bytes
             * escaped like all output for a human. */
            cli_printf("raw input:\n%s\n", e->raw);
        }
        code = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    free(e);
    tb_journal_close(j);
    return code;
}

/* ---- purge ----------------------------------------------------------------- */

typedef struct {
    int64_t *ids;
    size_t n, cap;
} id_list;

static int collect_id(const tb_dlq_entry *e, void *ctx)
{
    id_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *v = realloc(l->ids, cap * sizeof(*v));
        if (!v) return TB_ENOMEM;
        l->ids = v;
        l->cap = cap;
    }
    l->ids[l->n++] = e->id;
    return 0;
}

static int dlq_purge(int argc, char **argv)
{
    const char *path, *id_text;
    int all;
    int64_t id = 0;
    int code = cli_journal_args(argc, argv, "dlq purge", cli_dlq_help, &path, NULL, &all, &id_text);
    if (code >= 0) return code;
    if (all && id_text) {
        cli_usage_error("dlq purge: give an ID or --all, not both");
        return EXIT_USAGE;
    }
    if (!all && (code = parse_entry_id("dlq purge", id_text, &id)) >= 0) return code;
    tb_journal *j;
    if ((code = cli_journal_open_rw(path, &j)) != 0) return code;
    /* The ids are read first, then removed: no delete under a running walk. */
    id_list l = {0};
    int rc = 0;
    if (all) {
        rc = tb_journal_dlq_each(j, collect_id, &l);
    } else {
        l.ids = &id;
        l.n = 1;
    }
    size_t removed = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if ((rc = tb_journal_dlq_remove(j, l.ids[i])) == 0) removed++;
    /* All or nothing: a purge that failed half-way keeps every entry. */
    if (rc == 0) rc = tb_journal_commit(j);
    if (rc == TB_ENOTFOUND) {
        fprintf(stderr, "tradebus: dlq purge: no dead letter %" PRId64 " in %s\n", id, path);
        code = EXIT_DATA;
    } else if (rc != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "dlq purge: %s", tb_journal_errmsg(j));
        code = EXIT_RUNTIME;
    } else {
        cli_printf("purged %zu dead letter%s from %s\n", removed, removed == 1 ? "" : "s", path);
    }
    if (rc != 0) tb_journal_rollback(j);
    if (all) free(l.ids);
    tb_journal_close(j);
    return code;
}

/* ---- replay ------------------------------------------------------------------ */

typedef struct {
    const char *journal;
    const char *which;
    int all;
} replay_opts;

static int replay_opt(const char *opt, const char *val, void *ctx)
{
    replay_opts *o = ctx;
    if (!strcmp(opt, "--all")) return o->all = 1, 1;
    if (!strcmp(opt, "--journal")) {
        if (!val) {
            cli_usage_error("dlq replay: --journal needs a file");
            return -1;
        }
        o->journal = val;
        return 2;
    }
    if (opt[0] != '-' && !o->which) return o->which = opt, 1;
    return 0;
}

/* Delivering a dead letter again needs the component as it was when the
 * event failed: the run is rebuilt from its journal (a --resume that appends
 * nothing), then each selected letter goes back to the component that failed
 * it. One that now succeeds leaves the queue and what it causes is journaled. */
static int dlq_replay(int argc, char **argv)
{
    replay_opts o = {NULL, NULL, 0};
    cli_run r;
    int code = cli_parse_run(argc, argv, &r, cli_dlq_help, replay_opt, &o);
    if (code >= 0) {
        tb_config_free(&r.cfg);
        return code;
    }
    int64_t which = -1;
    if (!o.all) {
        char *end;
        long long id = o.which ? strtoll(o.which, &end, 10) : 0;
        if (!o.which || *end || id <= 0) {
            cli_usage_error("dlq replay: give a queue ID (from 'tradebus dlq list') or --all");
            tb_config_free(&r.cfg);
            return EXIT_USAGE;
        }
        which = id;
    }
    if (o.journal) {
        free(r.cfg.journal_path);
        r.cfg.journal_path = strdup(o.journal);
    }
    if (!r.cfg.journal_path) {
        cli_usage_error("dlq replay: --journal FILE is required (the run's [journal] path)");
        tb_config_free(&r.cfg);
        return EXIT_USAGE;
    }
    tb_journal *probe;
    if ((code = cli_journal_open(r.cfg.journal_path, &probe)) != 0) {
        tb_config_free(&r.cfg);
        return code;
    }
    tb_journal_close(probe);

    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.resume = 1;
    opt.replay_dead_letters = which;
    tb_backtest_result res;
    char err[512] = "";
    int rc = tb_backtest_run(&r.cfg, &opt, &res, err, sizeof(err));
    if (rc) {
        cli_log(CLI_LOG_ERROR, NULL, "dlq replay: %s", err[0] ? err : tb_strerror(rc));
        tb_config_free(&r.cfg);
        return cli_exit_for(rc, err, NULL);
    }
    cli_printf("replayed %llu: %llu succeeded and left the queue, %llu still fail; %lld left in "
               "the queue\n",
               (unsigned long long)(res.dlq_replayed + res.dlq_still_failing),
               (unsigned long long)res.dlq_replayed, (unsigned long long)res.dlq_still_failing,
               (long long)res.dead_letter_queue);
    code = res.dlq_still_failing ? 1 : 0;
    tb_backtest_result_free(&res);
    tb_config_free(&r.cfg);
    return code;
}

/* ---- dispatch -------------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv: the words after the name */
} subcommand;

static const subcommand dlq_subcommands[] = {
    {"list", dlq_list},
    {"show", dlq_show},
    {"purge", dlq_purge},
    {"replay", dlq_replay},
};

int cmd_dlq(int argc, char **argv)
{
    if (argc < 1) {
        fputs(cli_dlq_help, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        fputs(cli_dlq_help, stdout);
        return 0;
    }
    /* Without a journal, the dead letters are those of a distributed run,
     * in the broker. */
    int journal = 0, config = 0;
    for (int i = 1; i < argc; i++) {
        journal |= !strcmp(argv[i], "--journal");
        config |= !strcmp(argv[i], "--config");
    }
    const char *broker_subs[] = {"list", "show", "replay", "purge"};
    for (int i = 0; config && !journal && i < 4; i++)
        if (!strcmp(argv[0], broker_subs[i])) return cli_dlq_broker(argv[0], argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(dlq_subcommands) / sizeof(dlq_subcommands[0]); i++)
        if (!strcmp(argv[0], dlq_subcommands[i].name))
            return dlq_subcommands[i].run(argc - 1, argv + 1);
    cli_usage_error("dlq: unknown subcommand '%s' (list, show, purge, replay)", argv[0]);
    return EXIT_USAGE;
}
