/* The step machine: a step's events handled in key order, what they caused
 * published with a report, the reports of all processes gathered to learn
 * the next step; events handled on arrival (stream order, keyless ones);
 * and the end of a run, with the monitor gathering every process's result. */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/errbuf.h"
#include "stats.h"

/* ---- handling events ---------------------------------------------------- */

static int cmp_items(const void *a, const void *b)
{
    const item *x = *(const item *const *)a, *y = *(const item *const *)b;
    return tb__key_cmp(&x->key, &y->key);
}

static int report_as(tb_node *n, const char *role, int with_counts, char *err, size_t errlen)
{
    json_t *o = json_object(), *c = json_object();
    json_object_set_new(o, "role", json_string(role));
    json_object_set_new(o, "root", json_integer((json_int_t)n->root));
    json_object_set_new(o, "depth", json_integer(n->depth));
    for (int t = 1; t < TB_EV_COUNT && with_counts; t++)
        if (n->counts[t])
            json_object_set_new(c, tb_event_type_name((tb_event_type)t),
                                json_integer(n->counts[t]));
    json_object_set_new(o, "counts", c);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return TB_ENOMEM;
    char id[96];
    snprintf(id, sizeof(id), "report.%s.%llu.%d", role, (unsigned long long)n->root, n->depth);
    int rc = tb__node_publish_json(n, "ctl.report", id, "report", s);
    free(s);
    if (rc)
        tb__errf(err, errlen, "%s: cannot publish the step report: %s", n->name, tb_strerror(rc));
    return rc;
}

/* The step report: what this process published. A program's process
 * reports for every built-in it replaces (the counts once), so the others
 * wait for the reports they always have. */
static int report(tb_node *n, char *err, size_t errlen)
{
    if (!n->stands_for) return report_as(n, n->role, 1, err, errlen);
    const char *const *roles = tb_node_roles();
    int rc = 0, first = 1;
    for (int i = 0; i < NPROCS && !rc; i++) {
        if (!(n->stands_for & (1u << i))) continue;
        rc = report_as(n, roles[i], first, err, errlen);
        first = 0;
    }
    return rc;
}

/* Handles the step's events in key order, publishes what that caused and
 * the report, waits for confirms, commits, then acknowledges. */
static int run_step(tb_node *n, char *err, size_t errlen)
{
    item **evs = malloc((n->nbuf ? n->nbuf : 1) * sizeof(*evs));
    if (!evs) return TB_ENOMEM;
    size_t nev = 0;
    for (size_t i = 0; i < n->nbuf; i++)
        if (n->buf[i].kind == IT_EVENT &&
            !tb__key_step_cmp(n->buf[i].key.root, n->buf[i].key.depth, n->root, n->depth))
            evs[nev++] = &n->buf[i];
    qsort(evs, nev, sizeof(*evs), cmp_items);
    memset(n->counts, 0, sizeof(n->counts));
    n->nout = 0;
    int rc = 0;
    for (size_t i = 0; i < nev && !rc; i++) {
        n->cur = evs[i]->key;
        memset(n->child_ix, 0, sizeof(n->child_ix));
        n->in_step = 1;
        tb_event ev = evs[i]->ev;
        rc = tb__node_deliver(n, &ev);
        n->in_step = 0;
        if (rc)
            tb__errf(err, errlen, "%s: handling event %s: %s", n->role, evs[i]->id,
                     tb_strerror(rc));
    }
    if (!rc) rc = tb__node_publish_outs(n);
    if (!rc) rc = report(n, err, errlen);
    if (!rc) rc = tb__node_flush(n, err, errlen);
    n->phase = PH_REPORTS;
    if (!rc && (rc = tb__node_commit(n, (const item *const *)evs, nev, 0)) != 0)
        tb__errf(err, errlen, "%s: cannot save state: %s", n->role, tb__nstate_errmsg(n->st));
    if (!rc) {
        for (size_t i = 0; i < nev; i++)
            tb_transport_ack(n->t, evs[i]->tag, n->epoch);
        tb__node_ack_list(n);
        /* Drop the step's events; indices shift, so match by step again. */
        for (size_t i = n->nbuf; i-- > 0;)
            if (n->buf[i].kind == IT_EVENT &&
                !tb__key_step_cmp(n->buf[i].key.root, n->buf[i].key.depth, n->root, n->depth))
                tb__node_drop_item(n, i);
    }
    free(evs);
    return rc;
}

/* Events handled on arrival: those outside the sequence (no key: injected
 * by hand, a dead letter replayed) and, in stream order, all of them. A
 * batch is handled in arrival order, what it caused published and
 * confirmed, then saved in one transaction and acknowledged. If a handler
 * fails on one, that one goes back to the broker, which dead-letters it at
 * the queue's delivery limit. */
int tb__node_run_now(tb_node *n, char *err, size_t errlen)
{
    if (!n->nnow) return 0;
    n->nout = 0;
    const item **ok = malloc(n->nnow * sizeof(*ok));
    if (!ok) return TB_ENOMEM;
    size_t nok = 0;
    int rc = 0;
    for (size_t i = 0; i < n->nnow && !rc; i++) {
        item *it = &n->now[i];
        size_t before = n->nout;
        n->in_oob = 1;
        n->oob_failed = 0;
        tb_event e = it->ev;
        rc = tb__node_deliver(n, &e);
        n->in_oob = 0;
        if (!rc && n->oob_failed) {
            n->nout = before; /* what it caused before failing is not sent */
            it->proc = -1;
            if (!n->stream)
                tb__node_logf(
                    n, "event %s (no run key): a handler refused it; given back to the broker",
                    it->id);
            continue;
        }
        if (!rc) ok[nok++] = it;
        if (!rc && it->ev.type == TB_EV_MARKET_DATA) n->stream_bars++;
    }
    if (!rc) rc = tb__node_publish_outs(n);
    if (!rc) rc = tb__node_flush(n, err, errlen);
    if (!rc && nok) {
        if ((rc = tb__node_commit(n, ok, nok, n->stream_bars)) != 0)
            tb__errf(err, errlen, "%s: cannot save state: %s", n->role, tb__nstate_errmsg(n->st));
    }
    for (size_t i = 0; !rc && i < n->nnow; i++) {
        item *it = &n->now[i];
        if (it->proc == -1)
            tb_transport_reject(n->t, it->tag, n->epoch, 1);
        else
            tb_transport_ack(n->t, it->tag, n->epoch);
    }
    if (!rc && !n->stream && nok) tb__node_logf(n, "%zu event(s) without a run key handled", nok);
    for (size_t i = 0; i < n->nnow; i++)
        free(n->now[i].body);
    n->nnow = 0;
    free(ok);
    return rc;
}

/* ---- the step machine ------------------------------------------------------ */

static int have_reports(tb_node *n, long totals[TB_EV_COUNT])
{
    size_t at[NPROCS];
    int found = 0;
    for (size_t i = 0; i < n->nbuf; i++)
        if (n->buf[i].kind == IT_REPORT && n->buf[i].key.root == n->root &&
            n->buf[i].key.depth == n->depth)
            at[n->buf[i].proc] = i, found |= 1 << n->buf[i].proc;
    if (found != (1 << NPROCS) - 1) return 0;
    memset(totals, 0, sizeof(long) * TB_EV_COUNT);
    n->from = 0;
    for (int p = 0; p < NPROCS; p++)
        for (int t = 0; t < TB_EV_COUNT; t++) {
            totals[t] += n->buf[at[p]].counts[t];
            if (n->binds[t] && n->buf[at[p]].counts[t]) n->from |= 1u << p;
        }
    for (int p = 0; p < NPROCS; p++)
        tb__node_add_ack(n, n->buf[at[p]].tag);
    for (size_t i = n->nbuf; i-- > 0;)
        if (n->buf[i].kind == IT_REPORT && n->buf[i].key.root == n->root &&
            n->buf[i].key.depth == n->depth)
            tb__node_drop_item(n, i);
    return 1;
}

/* Moves the protocol on as far as what has arrived allows. Returns 1 when
 * the node is done. */
int tb__node_advance(tb_node *n, char *err, size_t errlen)
{
    for (;;) {
        if (n->phase == PH_DONE) return 1;
        if (n->phase == PH_EVENTS) {
            if (n->depth == 0 && n->have_end && n->root >= n->total_roots)
                return tb__node_finish(n, err, errlen);
            long got = 0;
            for (size_t i = 0; i < n->nbuf; i++)
                got += n->buf[i].kind == IT_EVENT && n->buf[i].key.root == n->root &&
                       n->buf[i].key.depth == n->depth;
            if (got < n->expected) return 0;
            if (got > n->expected) {
                tb__errf(err, errlen,
                         "%s: step %llu/%d has %ld events, the reports announced %ld: a process "
                         "of another run shares this run's queues (give each run its own [bus] "
                         "name)",
                         n->role, (unsigned long long)n->root, n->depth, got, n->expected);
                return TB_ESTATE;
            }
            int rc = run_step(n, err, errlen);
            if (rc) return rc;
            continue;
        }
        long totals[TB_EV_COUNT];
        if (!have_reports(n, totals)) return 0;
        long all = 0, mine = 0;
        for (int t = 1; t < TB_EV_COUNT; t++) {
            all += totals[t];
            if (n->binds[t]) mine += totals[t];
        }
        if (all == 0) {
            n->root++;
            n->depth = 0;
            n->expected = n->binds[TB_EV_MARKET_DATA] ? 1 : 0;
        } else {
            n->depth++;
            n->expected = mine;
        }
        if (!n->p) {
            /* The feed handles no events: it only follows the steps, and
             * saves its place at each finished bar. */
            if (all == 0) {
                int rc = tb__node_commit(n, NULL, 0, n->published);
                if (rc) return rc;
                tb__node_ack_list(n);
                if (n->have_end && n->root >= n->total_roots)
                    return tb__node_finish(n, err, errlen);
            }
            continue;
        }
        n->phase = PH_EVENTS;
    }
}

/* This node's part of the result, to the monitor. */
int tb__node_send_stats(tb_node *n, char *err, size_t errlen)
{
    tb_backtest_result r;
    memset(&r, 0, sizeof(r));
    int rc;
    if (n->p && (rc = tb_pipeline_result(n->p, &r)) != 0) return rc;
    r.dead_letters = n->dead;
    r.bars = n->md ? n->published : 0;
    r.bad_rows = n->md ? tb_md_merge_bad_rows(n->md) : 0;
    char *s = NULL, id[48];
    rc = tb__stats_encode(n->role, &r, &s);
    tb_backtest_result_free(&r);
    if (rc) return rc;
    snprintf(id, sizeof(id), "stats.%s", n->name);
    rc = tb__node_publish_json(n, "ctl.stats", id, "stats", s);
    free(s);
    return rc ? rc : tb__node_flush(n, err, errlen);
}

int tb__node_finish(tb_node *n, char *err, size_t errlen)
{
    int rc;
    if (strcmp(n->role, "monitor") != 0) {
        if ((rc = tb__node_send_stats(n, err, errlen)) != 0) return rc;
    } else {
        /* Every other process's result: the feed, the components, each
         * signal shard. Until then they are still coming. */
        char names[TB_MAX_SHARDS + 8][TB_NODE_NAME_LEN];
        size_t want = tb_node_processes(n->cfg, names, TB_MAX_SHARDS + 8) - 1, have = 0;
        for (size_t i = 0; i < n->nbuf; i++)
            have += n->buf[i].kind == IT_STATS;
        if (have < want) return 0;
        tb_backtest_result *r = &n->res;
        if ((rc = tb_pipeline_result(n->p, r)) != 0) return rc;
        r->dead_letters = n->dead;
        r->npositions = 0;
        free(r->positions);
        free(r->total_realized);
        r->positions = NULL;
        r->total_realized = NULL;
        for (size_t i = 0; i < n->nbuf; i++) {
            if (n->buf[i].kind != IT_STATS) continue;
            char role[16];
            rc = tb__stats_merge(n->buf[i].body, n->buf[i].len, r, role, sizeof(role), err, errlen);
            if (rc) return rc;
        }
        /* Positions kept by a program: the figures are the monitor's own,
         * from the PositionUpdates it published (what the embedded run's
         * summary says), not the program's process's. */
        if (n->cfg->replaced & TB_ROLE_POSITIONS) {
            tb_backtest_result mine;
            if ((rc = tb_pipeline_result(n->p, &mine)) != 0) return rc;
            free(r->positions);
            r->positions = mine.positions;
            r->npositions = mine.npositions;
            r->realized_pnl = mine.realized_pnl;
            r->unrealized_pnl = mine.unrealized_pnl;
            mine.positions = NULL;
            mine.npositions = 0;
            tb_backtest_result_free(&mine);
        }
        if ((rc = tb_pipeline_total_realized(n->p, r)) != 0 || (rc = tb_backtest_result_finish(r)))
            return rc;
        n->have_res = 1;
        /* trades.csv's and equity.csv's last rows: the run is over. */
        if ((rc = tb_pipeline_finish(n->p)) != 0) {
            tb__errf(err, errlen, "trades.csv/equity.csv: %s", tb_strerror(rc));
            return rc;
        }
        if (n->o.out_dir) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/summary.json", n->o.out_dir);
            FILE *f = fopen(path, "w");
            if (!f) {
                tb__errf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
                return TB_EIO;
            }
            rc = tb_backtest_write_summary(r, f);
            if (fclose(f) != 0 && !rc) rc = TB_EIO;
            if (n->events_f) fflush(n->events_f);
            if (n->fills_f) fflush(n->fills_f);
            if (n->trades_f) fflush(n->trades_f);
            if (n->equity_f) fflush(n->equity_f);
            if (rc) {
                tb__errf(err, errlen, "%s: write failed", path);
                return rc;
            }
        }
        for (size_t i = n->nbuf; i-- > 0;)
            if (n->buf[i].kind == IT_STATS) {
                tb__node_add_ack(n, n->buf[i].tag);
                tb__node_drop_item(n, i);
            }
    }
    n->phase = PH_DONE;
    if ((rc = tb__node_commit(n, NULL, 0, n->published)) != 0) return rc;
    if (n->have_end) tb_transport_ack(n->t, n->end_tag, n->epoch);
    tb__node_ack_list(n);
    tb__node_logf(n, "done: %llu bars", (unsigned long long)n->total_roots);
    return 1;
}

/* Stream order has no steps to say a run is over: a node is done once it
 * has handled every bar the feed announced and a second has passed without
 * a message (what the last bars caused has arrived). */
int tb__node_stream_done(tb_node *n, char *err, size_t errlen)
{
    if (!n->have_end || !n->p) return 0;
    /* (a shard sees only its symbols' bars: it goes by the quiet alone) */
    if (n->binds[TB_EV_MARKET_DATA] && !n->shard && n->stream_bars < n->total_roots) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double idle = (double)(now.tv_sec - n->last_msg.tv_sec) +
                  (double)(now.tv_nsec - n->last_msg.tv_nsec) / 1e9;
    if (idle < 1.0) return 0;
    return tb__node_finish(n, err, errlen);
}
