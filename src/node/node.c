/* One process of a distributed run: its components, its queue, its state,
 * and the step protocol that keeps the run's order the embedded run's
 * (tradebus/node.h explains the protocol). This file holds its life cycle;
 * node_in.c, node_step.c, node_out.c and node_feed.c the rest (node_int.h). */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/errbuf.h"
#include "../core/event_int.h"
#include "tradebus/codec.h"

/* The processes: one per component, in the components' table's process
 * order (which is also the order they report on every step in), then the
 * feed, which hosts no component. */
#define NO_PROCESS(...)
#define COUNT_ONE(id, value, name, slot, process) +1
_Static_assert(0 TB_COMPONENT_MAP(NO_PROCESS, COUNT_ONE, NO_PROCESS) == NPROCS,
               "NPROCS (node_int.h): one per component");
#define PROCESS(id, value, name, slot, process) [(process)-1] = name,
static const char *const all_roles[] = {
    TB_COMPONENT_MAP(NO_PROCESS, PROCESS, NO_PROCESS)
        /* then */
        [NPROCS] = "feed",
    NULL,
};
#undef PROCESS
#undef COUNT_ONE
#undef NO_PROCESS

void tb__node_logf(tb_node *n, const char *fmt, ...)
{
    if (!n->o.log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    n->o.log(line, n->o.log_ctx);
}

const char *const *tb_node_roles(void)
{
    return all_roles;
}

/* "signal" or, for shard k, "signal-k". */
static void process_name(const char *role, int shard, char *out, size_t len)
{
    if (shard)
        snprintf(out, len, "%s-%d", role, shard);
    else
        snprintf(out, len, "%s", role);
}

size_t tb_node_processes(const tb_config *cfg, char names[][TB_NODE_NAME_LEN], size_t max)
{
    size_t n = 0;
    for (int i = 0; all_roles[i]; i++) {
        if (i < NPROCS && (cfg->replaced & (1u << i))) {
            /* The program that replaces it, in the place of its first role. */
            for (size_t c = 0; c < cfg->ncomponents && n < max; c++) {
                unsigned r = cfg->components[c].replaces;
                if ((r & (1u << i)) && !(r & ((1u << i) - 1)))
                    snprintf(names[n++], TB_NODE_NAME_LEN, "%s", cfg->components[c].name);
            }
            continue;
        }
        int shards = !strcmp(all_roles[i], "signal") ? (int)cfg->bus_nshards : 0;
        for (int k = shards ? 1 : 0; k <= shards && n < max; k++)
            process_name(all_roles[i], k, names[n++], TB_NODE_NAME_LEN);
    }
    return n;
}

int tb__node_proc_index(const char *role)
{
    for (int i = 0; i < NPROCS; i++)
        if (!strcmp(all_roles[i], role)) return i;
    return -1;
}

static int role_index(const char *role)
{
    for (int i = 0; all_roles[i]; i++)
        if (!strcmp(all_roles[i], role)) return i;
    return -1;
}

/* ---- life cycle -------------------------------------------------------------- */

static int replay_one(const char *body, size_t len, void *ctx)
{
    tb_node *n = ctx;
    tb_event ev;
    char why[TB_CODEC_ERRLEN];
    int rc = tb_codec_decode(body, len, &ev, why, sizeof(why));
    if (rc) return rc;
    return tb__node_deliver(n, &ev);
}

int tb__node_deliver(tb_node *n, tb_event *ev)
{
    tb_loop *loop = tb_pipeline_loop(n->p);
    int sim = tb_loop_clock(loop) == TB_CLOCK_SIMULATED;
    if (sim && ev->type == TB_EV_MARKET_DATA) tb_loop_advance(loop, ev->timestamp);
    int rc = tb_bus_publish(tb_pipeline_bus(n->p), ev);
    if (sim && tb_loop_timers(loop)) tb_loop_advance(loop, tb_loop_now(loop));
    return rc;
}

static int add_binding(tb_node *n, const char *pattern)
{
    if (!(n->bind[n->nbind] = strdup(pattern))) return TB_ENOMEM;
    n->nbind++;
    return 0;
}

int tb_node_create(const tb_config *cfg, const tb_node_options *o, tb_node **out, char *err,
                   size_t errlen)
{
    int rc = TB_ECONFIG;
    const tb_component_config *comp = NULL;
    tb_node_options oc;
    if (o && o->component) {
        for (size_t i = 0; i < cfg->ncomponents && !comp; i++)
            if (!strcmp(cfg->components[i].name, o->component)) comp = &cfg->components[i];
        if (!comp) {
            tb__errf(err, errlen, "%s: no [component.%s] in the config", o->component,
                     o->component);
            return TB_ECONFIG;
        }
        if (!comp->replaces) {
            tb__errf(err, errlen,
                     "[component.%s]: in a distributed run a program's process takes the place "
                     "of the built-ins it replaces, so it must replace one (replaces = signal, "
                     "orders or positions); run it embedded otherwise",
                     comp->name);
            return TB_ECONFIG;
        }
        if (comp->window > 1) {
            tb__errf(err, errlen,
                     "[component.%s] window: %ld: a distributed run gives a program one event "
                     "at a time (window = 1)",
                     comp->name, comp->window);
            return TB_ECONFIG;
        }
        if (cfg->bus_stream) {
            tb__errf(err, errlen,
                     "[component.%s]: a program runs in strict order only ([bus] order = "
                     "strict): it answers one event at a time, in the run's order",
                     comp->name);
            return TB_ECONFIG;
        }
        /* It reports as the first built-in it replaces. */
        oc = *o;
        oc.role = NULL;
        for (int i = 0; i < NPROCS && !oc.role; i++)
            if (comp->replaces & (1u << i)) oc.role = all_roles[i];
        o = &oc;
    }
    if (!o || !o->role || role_index(o->role) < 0) {
        char known[128] = "";
        for (int i = 0; all_roles[i]; i++)
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                     all_roles[i]);
        tb__errf(err, errlen, "unknown role '%s' (known: %s)", o && o->role ? o->role : "", known);
        return TB_ECONFIG;
    }
    if (!o->state_path) {
        tb__errf(err, errlen, "%s: no state file given", o->role);
        return TB_EINVAL;
    }
    tb_node *n = calloc(1, sizeof(*n));
    if (!n) return TB_ENOMEM;
    n->cfg = cfg;
    n->o = *o;
    /* Strings are the caller's for the call only. */
    if (o->out_dir && !(n->out_dir = strdup(o->out_dir))) {
        free(n);
        return TB_ENOMEM;
    }
    n->o.out_dir = n->out_dir;
    n->o.state_path = NULL;
    n->o.role = NULL;
    snprintf(n->role, sizeof(n->role), "%s", o->role);
    n->shard = o->shard;
    process_name(o->role, o->shard, n->name, sizeof(n->name));
    if (comp) {
        snprintf(n->name, sizeof(n->name), "%s", comp->name);
        n->stands_for = comp->replaces;
    }
    int sharded = !strcmp(o->role, "signal") && cfg->bus_nshards;
    if ((sharded && (o->shard < 1 || (size_t)o->shard > cfg->bus_nshards)) ||
        (!sharded && o->shard)) {
        if (sharded)
            tb__errf(err, errlen,
                     "signal: [bus] signal_shards splits it into %zu processes: start each with "
                     "--shard 1..%zu",
                     cfg->bus_nshards, cfg->bus_nshards);
        else
            tb__errf(err, errlen,
                     "%s: --shard is for the signal process of a config with [bus] "
                     "signal_shards",
                     o->role);
        tb_node_destroy(n);
        return TB_ECONFIG;
    }
    if (cfg->bus_nshards && !cfg->bus_stream) {
        tb__errf(err, errlen,
                 "[bus] signal_shards needs order = stream: in strict order every step waits "
                 "for one report per component (docs/scaling.md)");
        tb_node_destroy(n);
        return TB_ECONFIG;
    }
    n->role_ix = role_index(o->role);
    snprintf(n->run, sizeof(n->run), "%s", cfg->bus_name ? cfg->bus_name : "tradebus");
    n->node_id = cfg->node_id ? cfg->node_id : 1;
    n->stream = cfg->bus_stream;
    clock_gettime(CLOCK_MONOTONIC, &n->last_msg);
    /* The subscribers this process hosts publish through it: its
     * component, and beside the monitor the summary. */
    unsigned role_bit = n->role_ix < NPROCS ? 1u << n->role_ix : 0;
    size_t nowned = 0;
    if (comp) n->owned[nowned++] = comp->name; /* a program publishes under its name */
    for (const char *const *p = tb__component_publishers(); *p && !comp; p++) {
        if (tb__component_process_of(*p) != n->role_ix + 1) continue;
        if (nowned == sizeof(n->owned) / sizeof(n->owned[0])) {
            tb__errf(err, errlen, "%s: more subscribers in one process than node_int.h holds",
                     n->role);
            rc = TB_EFULL;
            goto fail;
        }
        n->owned[nowned++] = *p;
    }
    int fresh = 0;
    if ((rc = tb__nstate_open(o->state_path, n->name, n->run, tb_config_hash(cfg),
                              o->accept_config_change, &n->st, &fresh, err, errlen)) != 0)
        goto fail;
    tb__nprogress pg;
    if ((rc = tb__nstate_progress(n->st, &pg)) != 0) {
        tb__errf(err, errlen, "%s: unreadable progress", o->state_path);
        goto fail;
    }
    n->root = pg.root;
    n->depth = pg.depth;
    n->phase = pg.phase;
    n->resend = pg.phase == PH_DONE && strcmp(o->role, "monitor") != 0;

    if (role_bit) {
        int is_mon = !strcmp(n->role, "monitor");
        if (is_mon && o->out_dir && n->phase != PH_DONE) {
            if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
                tb__errf(err, errlen, "%s: cannot create output directory: %s", o->out_dir,
                         strerror(errno));
                rc = TB_EIO;
                goto fail;
            }
            /* Rewritten from the start: a restart re-executes everything. */
            if ((cfg->event_log &&
                 !(n->events_f = tb__open_out(o->out_dir, "events.jsonl", err, errlen))) ||
                (cfg->fills &&
                 !(n->fills_f = tb__open_out(o->out_dir, "fills.csv", err, errlen))) ||
                !(n->trades_f = tb__open_out(o->out_dir, "trades.csv", err, errlen)) ||
                !(n->equity_f = tb__open_out(o->out_dir, "equity.csv", err, errlen))) {
                rc = TB_EIO;
                goto fail;
            }
        }
        tb_pipeline_options po;
        memset(&po, 0, sizeof(po));
        po.event_log = n->events_f;
        po.fills_csv = n->fills_f;
        po.trades_csv = n->trades_f;
        po.equity_csv = n->equity_f;
        po.on_dead_letter = tb__node_on_dead_letter;
        po.on_dead_letter_ctx = n;
        po.roles = comp ? 0 : role_bit;
        po.component = comp ? comp->name : NULL;
        /* Shards number their events apart: node id + shard. */
        if (n->shard) po.node_id = (uint16_t)(n->node_id + n->shard);
        po.outbox = tb__node_outbox;
        po.outbox_ctx = n;
        po.loop = o->loop;
        if ((rc = tb_pipeline_create(cfg, &po, &n->p, err, errlen)) != 0) goto fail;
        tb_bus *bus = tb_pipeline_bus(n->p);
        if (!tb_bus_has_subscriber(bus, TB_EV_MARKET_DATA) &&
            !tb_bus_has_subscriber(bus, TB_BUS_ALL)) {
            tb__errf(err, errlen, "%s: takes no market data, so it cannot follow the run", n->role);
            rc = TB_ECONFIG;
            goto fail;
        }
        if (tb_bus_has_subscriber(bus, TB_BUS_ALL)) {
            for (int t = 1; t < TB_EV_COUNT; t++)
                n->binds[t] = 1;
            rc = add_binding(n, "#");
        } else {
            rc = 0;
            for (int t = 1; t < TB_EV_COUNT && !rc; t++) {
                if (!tb_bus_has_subscriber(bus, (tb_event_type)t)) continue;
                n->binds[t] = 1;
                char b[64];
                if (!n->shard) {
                    snprintf(b, sizeof(b), "%s.#", tb_event_type_name((tb_event_type)t));
                    rc = add_binding(n, b);
                    continue;
                }
                /* a shard: its symbols' events only ("A,B,C") */
                const char *sy = cfg->bus_signal_shards[n->shard - 1];
                while (*sy && !rc) {
                    size_t len = strcspn(sy, ",");
                    snprintf(b, sizeof(b), "%s.%.*s", tb_event_type_name((tb_event_type)t),
                             (int)len, sy);
                    rc = n->nbind < sizeof(n->bind) / sizeof(n->bind[0]) - 2 ? add_binding(n, b)
                                                                             : TB_EFULL;
                    sy += len + (sy[len] == ',');
                }
            }
            if (!rc) rc = add_binding(n, "ctl.report");
            if (!rc) rc = add_binding(n, "ctl.end");
        }
        if (rc) goto fail;
        n->restarted = !fresh;
        if (!fresh) {
            n->replaying = 1;
            rc = tb__nstate_each(n->st, replay_one, n);
            n->replaying = 0;
            if (rc) {
                tb__errf(err, errlen, "%s: re-executing the saved events failed: %s", o->state_path,
                         tb_strerror(rc));
                goto fail;
            }
            tb__node_logf(n, "restarted at bar %llu step %d (state %s)",
                          (unsigned long long)n->root, n->depth, o->state_path);
        }
        n->dead = pg.dead;
        n->stream_bars = pg.counter;
        if (n->phase == PH_EVENTS && n->depth == 0)
            n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        else if (n->phase == PH_EVENTS) {
            /* Saved only after a step: a node stands at PH_REPORTS or done. */
            n->phase = PH_REPORTS;
        }
    } else {
        if ((rc = add_binding(n, "ctl.report")) != 0) goto fail;
        tb_md_config mc;
        tb_config_md_options(cfg, &mc);
        if ((rc = tb_md_merge_open((const char *const *)cfg->data, cfg->ndata, &mc, &n->md, err,
                                   errlen)) != 0)
            goto fail;
        /* Bars before the first unfinished one were seen by everyone. */
        n->phase = pg.phase == PH_DONE ? PH_DONE : PH_REPORTS;
        for (uint64_t i = 0; i < n->root; i++) {
            tb_market_data bar;
            if ((rc = tb_md_merge_next(n->md, &bar, err, errlen)) != 0) {
                if (rc == TB_EEOF)
                    tb__errf(err, errlen, "feed: the data has fewer bars (%llu) than the run saved",
                             (unsigned long long)i);
                goto fail;
            }
        }
        n->published = n->root;
        if (!fresh)
            tb__node_logf(n, "restarted at bar %llu (state %s)", (unsigned long long)n->root,
                          o->state_path);
    }
    *out = n;
    return 0;
fail:
    tb_node_destroy(n);
    return rc;
}

size_t tb_node_bindings(const tb_node *n, const char *const **patterns)
{
    *patterns = (const char *const *)n->bind;
    return n->nbind;
}

void tb_node_attach(tb_node *n, tb_transport *t)
{
    n->t = t;
    n->epoch = tb_transport_epoch(t);
}

static int poll_once(tb_node *n, int timeout_ms, char *err, size_t errlen)
{
    int rc;
    if (err && errlen) err[0] = 0;
    if (n->phase == PH_DONE) {
        if (n->resend) {
            /* Restarted after the end: send the result again (the monitor
             * may not have it; a copy it has is recognised by id). */
            if ((rc = tb__node_send_stats(n, err, errlen)) != 0) return rc;
            n->resend = 0;
        }
        return 1;
    }
    if (n->md && (rc = tb__node_feed_publish(n, err, errlen)) != 0) return rc;
    /* A batch well under the prefetch window, so that the broker keeps
     * delivering while the batch is handled and acknowledged. */
    int got = 0;
    for (int i = 0; i < 200; i++) {
        tb_msg_in m;
        rc = tb_transport_poll(n->t, &m, i == 0 && !tb__node_feed_can_publish(n) ? timeout_ms : 0);
        uint32_t e = tb_transport_epoch(n->t);
        if (e != n->epoch) {
            /* Reconnected: the broker gives back everything unacknowledged
             * under new tags, so what was buffered goes. */
            for (size_t j = n->nbuf; j-- > 0;)
                tb__node_drop_item(n, j);
            n->nacks = 0;
            n->have_end = n->md ? n->have_end : 0;
            n->epoch = e;
            tb__node_logf(n, "reconnected to the broker");
            /* Back to the saved step: what set the step in memory apart
             * from it (reports already taken) comes again. */
            tb__nprogress pg;
            /* Its own rc: the poll's (a timeout or a lost connection, with
             * no message) still decides what follows. Overwriting it once
             * had an unfilled message taken as a delivery. */
            int prc = tb__nstate_progress(n->st, &pg);
            if (prc != 0) return prc;
            n->root = pg.root;
            n->depth = pg.depth;
            n->phase = n->md ? PH_REPORTS : pg.phase;
            if (n->phase == PH_EVENTS) n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        }
        n->away = rc == TB_ECONN;
        if (rc == TB_ETIMEOUT) break;
        if (rc == TB_ECONN) {
            if (i == 0) return 0;
            break;
        }
        if (rc) return rc;
        got++;
        if ((rc = tb__node_take(n, &m)) != 0) return rc;
    }
    if (got) clock_gettime(CLOCK_MONOTONIC, &n->last_msg);
    if (n->p && (rc = tb__node_run_now(n, err, errlen)) != 0) return rc;
    rc = n->stream ? tb__node_stream_done(n, err, errlen) : tb__node_advance(n, err, errlen);
    if (rc == 0 && n->md) rc = tb__node_feed_publish(n, err, errlen);
    return rc;
}

int tb_node_poll(tb_node *n, int timeout_ms, char *err, size_t errlen)
{
    int rc = poll_once(n, timeout_ms, err, errlen);
    if (rc >= 0) tb__node_watch(n);
    return rc;
}

tb_pipeline *tb_node_pipeline(tb_node *n)
{
    return n->p;
}

int tb_node_state_read(const char *state_path, uint64_t *bars, int *done)
{
    tb__nprogress pg;
    int rc = tb__nstate_peek(state_path, &pg);
    if (rc) return rc;
    /* strict order counts finished bars in root, stream order in counter */
    *bars = pg.root ? pg.root : pg.counter;
    *done = pg.phase == PH_DONE;
    return 0;
}

uint64_t tb_node_roots_done(const tb_node *n)
{
    return n->stream && n->p ? n->stream_bars : n->stream ? n->published : n->root;
}

uint64_t tb_node_roots_total(const tb_node *n)
{
    return n->have_end ? n->total_roots : 0;
}

const tb_backtest_result *tb_node_result(const tb_node *n)
{
    return n->have_res ? &n->res : NULL;
}

void tb_node_destroy(tb_node *n)
{
    if (!n) return;
    tb_pipeline_destroy(n->p);
    if (n->events_f) fclose(n->events_f);
    if (n->fills_f) fclose(n->fills_f);
    if (n->trades_f) fclose(n->trades_f);
    if (n->equity_f) fclose(n->equity_f);
    tb_md_merge_close(n->md);
    tb__nstate_close(n->st);
    for (size_t i = 0; i < n->nbuf; i++)
        free(n->buf[i].body);
    free(n->buf);
    for (size_t i = 0; i < n->nnow; i++)
        free(n->now[i].body);
    free(n->now);
    free(n->acks);
    free(n->out);
    for (size_t i = 0; i < n->nbind; i++)
        free(n->bind[i]);
    tb_backtest_result_free(&n->res);
    free(n->out_dir);
    free(n);
}
