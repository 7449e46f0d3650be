/* tradebus journal: look into a run's journal — the causal chain of an
 * event as a tree, every event as JSON lines, and a summary of what it
 * holds. Subcommands are a table so more (the lead's `replay`) slot in. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *const cli_journal_help =
    "tradebus journal trace EVENT_ID|ORDER_ID --journal FILE\n"
    "tradebus journal export --journal FILE [--out FILE]\n"
    "tradebus journal info --journal FILE\n"
    "tradebus journal replay --journal FILE\n"
    "\n"
    "A run started with [journal] path = FILE (or --journal FILE) records every\n"
    "event there (docs/journal.md).\n"
    "\n"
    "  trace ID        the whole causal chain of an event: up to the market data\n"
    "                  it started from, then down to every signal, order, fill\n"
    "                  and position change it led to, as an indented tree, one\n"
    "                  line per event (time, type, id, key fields); the event\n"
    "                  asked for is marked '<-'. ID is an event id, or an order\n"
    "                  id as in fills.csv: client (btc_trend-3) or exchange\n"
    "                  (SIM-3), which traces that order's OrderCreated (or the\n"
    "                  first event naming it, if it never reached the exchange);\n"
    "                  a live run's journal also lists, below the tree, every\n"
    "                  request sent to the exchange for each order in it\n"
    "  export          every event as JSON lines (the codec's format, as in\n"
    "                  events.jsonl), in journal order; to stdout unless --out FILE\n"
    "  info            schema version, events per type, first and last event time,\n"
    "                  dead letters, run metadata\n"
    "  replay          rebuild orders (state machines), positions and PnL from the\n"
    "                  journal's events alone and check them against the run's\n"
    "                  recorded positions and summary: MATCHES (exit 0) or\n"
    "                  DIFFERS (1)\n"
    "\n"
    "Exit codes: 0 success, 2 usage, 3 missing or damaged journal or unknown id,\n"
    "1 runtime failure.\n";

/* ---- shared with cmd_dlq.c ----------------------------------------------- */

/* Parses the words after a subcommand: --journal FILE (required), --out FILE
 * (only if out is not NULL), --all (only if all is not NULL), --help, and at
 * most one positional word (only if arg is not NULL). Returns -1 to go on,
 * else the exit code to return at once. */
int cli_journal_args(int argc, char **argv, const char *cmd, const char *help, const char **journal,
                     const char **out, int *all, const char **arg)
{
    *journal = NULL;
    if (out) *out = NULL;
    if (all) *all = 0;
    if (arg) *arg = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(a, "--journal") || (out && !strcmp(a, "--out"))) {
            if (i + 1 >= argc) {
                cli_usage_error("%s: %s needs a value", cmd, a);
                return EXIT_USAGE;
            }
            *(!strcmp(a, "--journal") ? journal : out) = argv[++i];
        } else if (all && !strcmp(a, "--all")) {
            *all = 1;
        } else if (a[0] == '-' && a[1] != 0) {
            cli_usage_error("%s: unknown option '%s'", cmd, a);
            return EXIT_USAGE;
        } else if (arg && !*arg) {
            *arg = a;
        } else {
            cli_usage_error("%s: unexpected argument '%s'", cmd, a);
            return EXIT_USAGE;
        }
    }
    if (!*journal) {
        cli_usage_error("%s: --journal FILE is required (the run's [journal] path)", cmd);
        return EXIT_USAGE;
    }
    return -1;
}

/* Opens an existing journal, read-only unless write: a command that only
 * reads never writes — a typo must not leave an empty journal behind, nor
 * an empty file become one. Returns 0 or the exit code, the reason printed. */
static int journal_open(const char *path, int write, tb_journal **out)
{
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.read_only = !write;
    char err[512];
    int rc = tb_journal_open(&cfg, out, err, sizeof(err));
    if (rc == 0) return 0;
    cli_eprintf("tradebus: %s\n", err[0] ? err : tb_strerror(rc));
    return rc == TB_ENOMEM || rc == TB_EFULL ? EXIT_RUNTIME : EXIT_DATA;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    if (strcmp(ba ? ba + 1 : a, bb ? bb + 1 : b) != 0) return 0;
    char da[4200], db[4200];
    snprintf(da, sizeof(da), "%.*s", ba ? (int)(ba - a + 1) : 1, ba ? a : ".");
    snprintf(db, sizeof(db), "%.*s", bb ? (int)(bb - b + 1) : 1, bb ? b : ".");
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int cli_journal_open(const char *path, tb_journal **out)
{
    return journal_open(path, 0, out);
}

int cli_journal_open_rw(const char *path, tb_journal **out)
{
    return journal_open(path, 1, out);
}

/* An event id as printed everywhere (decimal, as in the JSON). */
int cli_parse_event_id(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return TB_EPARSE;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0) return TB_EPARSE;
    *out = (uint64_t)v;
    return 0;
}

/* ---- trace ----------------------------------------------------------------- */

/* The key fields of an event, after its time, type and id. */
static void describe(const tb_event *ev, char *buf, size_t buflen)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
#define DEC(x, s) tb_dec_format((x), (s), sizeof(s))
    switch (ev->type) {
    case TB_EV_MARKET_DATA: {
        const tb_market_data *m = &ev->u.market_data;
        DEC(m->close, a);
        snprintf(buf, buflen, "%s close %s", m->symbol, a);
        break;
    }
    case TB_EV_SIGNAL_GENERATED: {
        const tb_signal_generated *s = &ev->u.signal;
        DEC(s->volume, a);
        DEC(s->price, b);
        DEC(s->limit_price, c);
        snprintf(buf, buflen, "%s %s %s @ %s %s%s%s", tb_signal_type_name(s->signal_type), a,
                 s->symbol, b, s->strategy_id, s->order_type == TB_ORDER_LIMIT ? " LIMIT " : "",
                 s->order_type == TB_ORDER_LIMIT ? c : "");
        break;
    }
    case TB_EV_ORDER_PLACEMENT_REQUEST: {
        const tb_order_placement_request *q = &ev->u.order_request;
        DEC(q->quantity, a);
        DEC(q->price, b);
        snprintf(buf, buflen, "%s %s %s %s %s%s%s", q->client_order_id, tb_side_name(q->side),
                 tb_order_type_name(q->order_type), a, q->symbol,
                 q->order_type == TB_ORDER_LIMIT ? " @ " : "",
                 q->order_type == TB_ORDER_LIMIT ? b : "");
        break;
    }
    case TB_EV_ORDER_CREATED: {
        const tb_order_created *o = &ev->u.order_created;
        snprintf(buf, buflen, "order %s %s (%s)", o->order_id, tb_order_status_name(o->status),
                 o->client_order_id);
        break;
    }
    case TB_EV_ORDER_FILLED: {
        const tb_order_filled *f = &ev->u.order_filled;
        DEC(f->filled_quantity, a);
        DEC(f->filled_price, b);
        DEC(f->commission, c);
        snprintf(buf, buflen, "%s %s @ %s fee %s %s", tb_side_name(f->side), a, b, c,
                 tb_order_status_name(f->status));
        break;
    }
    case TB_EV_ORDER_REJECTED: {
        const tb_order_rejected *r = &ev->u.order_rejected;
        snprintf(buf, buflen, "%s %s: %s", r->client_order_id, tb_reject_reason_name(r->reason),
                 r->text);
        break;
    }
    case TB_EV_ORDER_CANCELED: {
        const tb_order_canceled *x = &ev->u.order_canceled;
        DEC(x->canceled_quantity, a);
        snprintf(buf, buflen, "%s %s %s: %s", x->client_order_id, tb_order_status_name(x->status),
                 a, x->text);
        break;
    }
    case TB_EV_POSITION_UPDATE: {
        const tb_position_update *p = &ev->u.position;
        DEC(p->current_quantity, a);
        DEC(p->entry_price, b);
        DEC(p->realized_pnl, c);
        snprintf(buf, buflen, "%s qty %s entry %s realized %s %s", p->symbol, a, b, c,
                 tb_position_status_name(p->status));
        break;
    }
    case TB_EV_RISK_ALERT: {
        const tb_risk_alert *r = &ev->u.risk_alert;
        snprintf(buf, buflen, "%s: %s (%s)", r->rule, r->detail,
                 tb_trading_state_name(r->trading_state));
        break;
    }
    default:
        snprintf(buf, buflen, "?");
    }
#undef DEC
}

/* Deeper than any real chain (market data → signal → request → created →
 * fill → position → alert is 7): only a damaged journal with a causation
 * cycle gets here, and it must not recurse forever. */
#define TRACE_MAX_DEPTH 64

/* Orders in one traced tree whose requests are listed below it. */
#define TRACE_MAX_ORDERS 32

typedef struct {
    uint64_t marked; /* the event asked for */
    int rc;          /* first failure while printing */
    size_t lines;
    char orders[TRACE_MAX_ORDERS][TB_ORDER_ID_LEN]; /* client ids met, in order */
    size_t norders;
    int headed; /* the current order's requests have their title line */
} trace_ctx;

static void note_order(trace_ctx *t, const char *cid)
{
    if (!cid[0]) return;
    for (size_t i = 0; i < t->norders; i++)
        if (strcmp(t->orders[i], cid) == 0) return;
    if (t->norders < TRACE_MAX_ORDERS)
        snprintf(t->orders[t->norders++], TB_ORDER_ID_LEN, "%s", cid);
}

static int print_request(const tb_journal_request *rq, void *ctx)
{
    trace_ctx *t = ctx;
    char when[32];
    if (!t->headed) {
        cli_printf("requests sent for %s (journaled before each left):\n", rq->client_order_id);
        t->headed = 1;
    }
    tb_format_time_iso(rq->time, when, sizeof(when));
    cli_printf("  %s %s %s %s %s\n", when, rq->purpose, rq->method, rq->path, rq->params);
    t->lines++;
    return 0;
}

/* A live run journals every request to the exchange before sending it:
 * below the tree, each order's (a backtest's orders have none). */
static int print_requests(tb_journal *j, trace_ctx *t)
{
    for (size_t i = 0; i < t->norders; i++) {
        t->headed = 0;
        int rc = tb_journal_requests_each(j, t->orders[i], print_request, t);
        if (rc) return rc;
    }
    return 0;
}

typedef struct {
    tb_event *v;
    size_t n, cap;
} event_list;

static int collect(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    event_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        tb_event *v = realloc(l->v, cap * sizeof(*v));
        if (!v) return TB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *ev;
    return 0;
}

static void print_line(const tb_event *ev, int depth, trace_ctx *t)
{
    char when[32], what[512];
    tb_format_time_iso(ev->timestamp, when, sizeof(when));
    describe(ev, what, sizeof(what));
    if (ev->type == TB_EV_ORDER_PLACEMENT_REQUEST)
        note_order(t, ev->u.order_request.client_order_id);
    else if (ev->type == TB_EV_ORDER_CREATED)
        note_order(t, ev->u.order_created.client_order_id);
    cli_printf("%*s%s %s %" PRIu64 " %s%s\n", depth * 2, "", when, tb_event_type_name(ev->type),
               ev->event_id, what, ev->event_id == t->marked ? "  <-" : "");
    t->lines++;
}

/* Prints ev and, below it, everything it caused. The children are read
 * whole before descending: one query open per level, not a nest of them. */
static int print_tree(tb_journal *j, const tb_event *ev, int depth, trace_ctx *t)
{
    print_line(ev, depth, t);
    if (depth >= TRACE_MAX_DEPTH) {
        cli_printf("%*s... (deeper events not shown: the chain is suspiciously long)\n",
                   (depth + 1) * 2, "");
        return 0;
    }
    event_list kids = {0};
    int rc = tb_journal_children(j, ev->event_id, collect, &kids);
    for (size_t i = 0; rc == 0 && i < kids.n; i++)
        rc = print_tree(j, &kids.v[i], depth + 1, t);
    free(kids.v);
    return rc;
}

static int journal_trace(int argc, char **argv)
{
    const char *path, *id_text;
    int code = cli_journal_args(argc, argv, "journal trace", cli_journal_help, &path, NULL, NULL,
                                &id_text);
    if (code >= 0) return code;
    uint64_t id;
    if (!id_text) {
        cli_usage_error("journal trace: which event? give its EVENT_ID or an ORDER_ID");
        return EXIT_USAGE;
    }
    /* Digits only: an event id. Anything else is an order id (client ids
     * are "STRATEGY-N", exchange ids "SIM-N"), looked up in the payloads. */
    int by_order = cli_parse_event_id(id_text, &id) != 0;
    if (by_order && (id_text[0] == 0 || strlen(id_text) >= TB_ORDER_ID_LEN)) {
        cli_usage_error("journal trace: '%s' is neither an event id (a positive decimal number) "
                        "nor an order id",
                        id_text);
        return EXIT_USAGE;
    }
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;

    tb_event ev, root;
    int rc = by_order ? tb_journal_find_order(j, id_text, &ev) : tb_journal_get(j, id, &ev);
    if (rc == TB_ENOTFOUND) {
        if (by_order)
            cli_eprintf("tradebus: journal trace: no event in %s has order id '%s' (as client or "
                        "exchange order id; ids are case-sensitive, e.g. btc_trend-3 or SIM-3)\n",
                        path, id_text);
        else
            cli_eprintf("tradebus: journal trace: no event %" PRIu64 " in %s\n", id, path);
        tb_journal_close(j);
        return EXIT_DATA;
    }
    if (by_order) id = ev.event_id;
    /* Up to the root: the market data the chain started from. */
    root = ev;
    for (int hops = 0; rc == 0 && root.causation_id != 0; hops++) {
        tb_event parent;
        if (hops >= TRACE_MAX_DEPTH) {
            cli_eprintf("tradebus: journal trace: the causes of %" PRIu64 " go round in a "
                        "circle: the journal is damaged\n",
                        id);
            tb_journal_close(j);
            return EXIT_DATA;
        }
        rc = tb_journal_get(j, root.causation_id, &parent);
        if (rc == TB_ENOTFOUND) {
            /* A chain cut by a journal that started mid-run: show what is
             * there and say so rather than refuse. */
            cli_eprintf("tradebus: note: event %" PRIu64 " names cause %" PRIu64
                        ", which is not in the journal; the tree starts below it\n",
                        root.event_id, root.causation_id);
            rc = 0;
            break;
        }
        if (rc == 0) root = parent;
    }
    trace_ctx t;
    memset(&t, 0, sizeof(t));
    t.marked = id;
    if (rc == 0) rc = print_tree(j, &root, 0, &t);
    if (rc == 0) rc = print_requests(j, &t);
    if (rc != 0) {
        cli_eprintf("tradebus: journal trace: %s\n", tb_journal_errmsg(j));
        code = rc == TB_EPARSE ? EXIT_DATA : EXIT_RUNTIME;
    } else {
        code = fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
    }
    tb_journal_close(j);
    return code;
}

/* ---- export ---------------------------------------------------------------- */

static int export_line(const tb_event *ev, const char *json, void *ctx)
{
    (void)ev;
    FILE *f = ctx;
    return fputs(json, f) < 0 || fputc('\n', f) == EOF ? TB_EIO : 0;
}

static int journal_export(int argc, char **argv)
{
    const char *path, *out;
    int code =
        cli_journal_args(argc, argv, "journal export", cli_journal_help, &path, &out, NULL, NULL);
    if (code >= 0) return code;
    if (out && cli_same_file(out, path)) {
        cli_usage_error("journal export: --out %s is the journal itself: give another file", out);
        return EXIT_USAGE;
    }
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;
    FILE *f = stdout;
    if (out && !(f = fopen(out, "w"))) {
        cli_eprintf("tradebus: journal export: cannot write %s: %s\n", out, strerror(errno));
        tb_journal_close(j);
        return EXIT_RUNTIME;
    }
    int rc = tb_journal_each(j, 0, export_line, f);
    int wrc = f == stdout ? fflush(f) : fclose(f);
    if (rc == TB_EIO || (rc == 0 && wrc != 0)) {
        cli_eprintf("tradebus: journal export: cannot write %s: %s\n", out ? out : "stdout",
                    strerror(errno));
        code = EXIT_RUNTIME;
    } else if (rc != 0) {
        cli_eprintf("tradebus: journal export: %s\n", tb_journal_errmsg(j));
        code = rc == TB_EPARSE ? EXIT_DATA : EXIT_RUNTIME;
    }
    tb_journal_close(j);
    return code;
}

/* ---- info ------------------------------------------------------------------ */

typedef struct {
    uint64_t n[TB_EV_COUNT], total;
    tb_event first, last;
} info_ctx;

static int info_count(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    info_ctx *c = ctx;
    if (c->total == 0) c->first = *ev;
    c->last = *ev;
    c->total++;
    if (ev->type > TB_EV_NONE && ev->type < TB_EV_COUNT) c->n[ev->type]++;
    return 0;
}

static int journal_info(int argc, char **argv)
{
    /* The keys a run writes. The journal API has no way to list meta keys
     * yet, so the known ones are asked for by name. */
    static const char *const meta_keys[] = {"schema_version", "created_at", "config_hash",
                                            "data",           "status",     "summary"};
    const char *path;
    int code =
        cli_journal_args(argc, argv, "journal info", cli_journal_help, &path, NULL, NULL, NULL);
    if (code >= 0) return code;
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;
    info_ctx c;
    memset(&c, 0, sizeof(c));
    int rc = tb_journal_each(j, 0, info_count, &c);
    int64_t dlq = rc == 0 ? tb_journal_dlq_count(j) : 0;
    if (rc != 0 || dlq < 0) {
        cli_eprintf("tradebus: journal info: %s\n", tb_journal_errmsg(j));
        tb_journal_close(j);
        return rc == TB_EPARSE ? EXIT_DATA : EXIT_RUNTIME;
    }
    char value[4096], when[32];
    cli_printf("journal:        %s\n", path);
    if (tb_journal_meta_get(j, "schema_version", value, sizeof(value)) == 0)
        cli_printf("schema version: %s\n", value);
    cli_printf("events:         %" PRIu64 "\n", c.total);
    for (int t = 1; t < TB_EV_COUNT; t++)
        if (c.n[t])
            cli_printf("  %-22s %8" PRIu64 "\n", tb_event_type_name((tb_event_type)t), c.n[t]);
    if (c.total) {
        tb_format_time_iso(c.first.timestamp, when, sizeof(when));
        cli_printf("first event:    %s %s %" PRIu64 "\n", when, tb_event_type_name(c.first.type),
                   c.first.event_id);
        tb_format_time_iso(c.last.timestamp, when, sizeof(when));
        cli_printf("last event:     %s %s %" PRIu64 "\n", when, tb_event_type_name(c.last.type),
                   c.last.event_id);
    }
    cli_printf("dead letters:   %" PRId64 "\n", dlq);
    cli_printf("meta:\n");
    for (size_t k = 0; k < sizeof(meta_keys) / sizeof(meta_keys[0]); k++) {
        if (tb_journal_meta_get(j, meta_keys[k], value, sizeof(value)) != 0) continue;
        cli_printf("  %-15s ", meta_keys[k]);
        /* A multi-line value (the summary's JSON) stays aligned under itself. */
        for (const char *s = value; *s;) {
            size_t run = strcspn(s, "\n");
            cli_print_text(s, run); /* escaped: a config path is anyone's bytes */
            s += run;
            if (*s && s[1]) cli_printf("\n%18s", "");
            if (*s) s++;
        }
        cli_printf("%s\n", strlen(value) == sizeof(value) - 1 ? "..." : "");
    }
    tb_journal_close(j);
    return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

/* ---- dispatch -------------------------------------------------------------- */

/* Rebuilds orders, positions and PnL from the journal's events alone and
 * checks them against what the run recorded. */
static int journal_replay(int argc, char **argv)
{
    const char *path;
    int code =
        cli_journal_args(argc, argv, "journal replay", cli_journal_help, &path, NULL, NULL, NULL);
    if (code >= 0) return code;
    tb_journal *j;
    if ((code = cli_journal_open(path, &j)) != 0) return code;
    tb_journal_replay_report r;
    char err[512] = "";
    int rc = tb_journal_replay_check(j, &r, err, sizeof(err));
    tb_journal_close(j);
    if (rc) {
        cli_eprintf("tradebus: %s\n", err);
        return rc == TB_EPARSE ? EXIT_DATA : EXIT_RUNTIME;
    }
    char rp[TB_DECIMAL_STRLEN], up[TB_DECIMAL_STRLEN], fe[TB_DECIMAL_STRLEN];
    tb_dec_format(r.realized_pnl, rp, sizeof(rp));
    tb_dec_format(r.unrealized_pnl, up, sizeof(up));
    tb_dec_format(r.fees, fe, sizeof(fe));
    cli_printf("rebuilt from %" PRIu64 " events: %" PRIu64 " orders (%" PRIu64 " filled, %" PRIu64
               " rejected, %" PRIu64 " canceled, %" PRIu64 " open), %" PRIu64 " fills\n",
               r.events, r.orders, r.filled, r.rejected, r.canceled, r.open, r.fills);
    cli_printf("realized PnL %s, unrealized PnL %s, fees %s\n", rp, up, fe);
    int ok = !r.illegal_transitions && !r.position_mismatches &&
             (!r.summary_checked || r.summary_matches);
    if (ok)
        cli_printf("MATCHES: order states legal, positions, PnL and fees%s\n",
                   r.summary_checked ? " equal the run's summary"
                                     : " (no summary recorded: run unfinished)");
    else
        cli_printf("DIFFERS: %s (%" PRIu64 " illegal order moves, %" PRIu64
                   " position mismatches)\n",
                   r.first_problem, r.illegal_transitions, r.position_mismatches);
    return ok ? 0 : 1;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv: the words after the name */
} subcommand;

static const subcommand journal_subcommands[] = {
    {"trace", journal_trace},
    {"export", journal_export},
    {"info", journal_info},
    {"replay", journal_replay},
};

int cmd_journal(int argc, char **argv)
{
    if (argc < 1) {
        fputs(cli_journal_help, stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "help")) {
        fputs(cli_journal_help, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(journal_subcommands) / sizeof(journal_subcommands[0]); i++)
        if (!strcmp(argv[0], journal_subcommands[i].name))
            return journal_subcommands[i].run(argc - 1, argv + 1);
    cli_usage_error("journal: unknown subcommand '%s' (trace, export, info)", argv[0]);
    return EXIT_USAGE;
}
