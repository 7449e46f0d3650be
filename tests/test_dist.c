/* The distributed runtime (src/node/node.c) on the in-memory broker: six
 * nodes in one program, polled in turn, must write exactly the embedded
 * run's summary.json, fills.csv, events.jsonl, trades.csv and equity.csv — also when a node is torn
 * down mid-run and rebuilt from its state, when the broker "restarts", and
 * when a poison message sits in the queues. The same properties against a
 * real RabbitMQ, with real processes, are in test_e2e_dist.c. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/backtest.h"
#include "../src/transport/loopback_int.h" /* the in-memory broker */
#include "tradebus/node.h"

#define NROLES 6

/* A node's log lines, kept for the test to read. */
typedef struct {
    const char *role;
    char text[8192];
    size_t len;
} node_log;

typedef struct {
    char dir[512];
    tb_config cfg;
    tb__loop_broker *broker;
    tb_node *node[NROLES];
    tb_transport *t[NROLES];
    const tb_transport_type *extra[1]; /* transport types the config may name */
    node_log log[NROLES];
    int stall_ms; /* tb_node_options.stall_ms for the nodes started */
} fixture;

static const char *multi_ini =
    "[backtest]\n"
    "data = " TB_SOURCE_DIR "/data/BTCUSDT-1m-2024-01.csv " TB_SOURCE_DIR
    "/data/ETHUSDT-1m-2024-01.csv\n"
    "initial_cash = 100000\n"
    "[exchange]\nfee_bps = 7.5\nslippage_bps = 2\nmax_volume_participation = 0.05\n"
    "[risk]\nmax_position = 100\nmax_order_notional = 60000\nmax_open_orders = 10\n"
    "price_band_pct = 5\nmax_orders_per_minute = 30\nmax_drawdown_pct = 20\n"
    "[symbol.BTCUSDT]\ntick_size = 0.01\nstep_size = 0.00001\n"
    "[symbol.ETHUSDT]\ntick_size = 0.01\nstep_size = 0.0001\n"
    "[strategy.btc_sma]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 10\nslow = 30\n"
    "quantity = 0.05\nallow_short = true\n"
    "[strategy.eth_rsi]\ntype = rsi_reversion\nsymbol = ETHUSDT\nperiod = 14\noversold = 25\n"
    "overbought = 75\nquantity = 1\norder_type = LIMIT\nlimit_offset_bps = 5\n"
    "[strategy.btc_bb]\ntype = bollinger_breakout\nsymbol = BTCUSDT\nperiod = 20\nk = 2\n"
    "quantity = 0.02\n";

static void load_config(fixture *f, const char *extra)
{
    char path[1024], err[512] = "";
    char *text = malloc(strlen(multi_ini) + (extra ? strlen(extra) : 0) + 1);
    assert_non_null(text);
    strcpy(text, multi_ini);
    if (extra) strcat(text, extra);
    tbt_write_file(f->dir, "run.ini", text, path, sizeof(path));
    free(text);
    tb_config_init(&f->cfg);
    int rc = tb_config_load(&f->cfg, path, err, sizeof(err));
    f->cfg.extra_transports = f->extra;
    f->cfg.nextra_transports = f->extra[0] ? 1 : 0;
    if (!rc) rc = tb_config_build(&f->cfg, err, sizeof(err));
    if (rc) fail_msg("config: %s", err);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    tbt_temp_dir(f->dir, sizeof(f->dir));
    assert_int_equal(tb__loop_broker_create(&f->broker), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < NROLES; i++) {
        tb_node_destroy(f->node[i]);
        tb_transport_destroy(f->t[i]);
    }
    tb__loop_broker_destroy(f->broker);
    tb_config_free(&f->cfg);
    tbt_remove_tree(f->dir);
    free(f);
    return 0;
}

static void log_line(const char *line, void *ctx)
{
    node_log *l = ctx;
    if (getenv("TB_TEST_VERBOSE")) fprintf(stderr, "[%s] %s\n", l->role, line);
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);
    if (n > 0) l->len = l->len + (size_t)n < sizeof(l->text) ? l->len + (size_t)n : l->len;
}

/* Creates role i's node, its state and outputs in the fixture's folder. */
static void create_node(fixture *f, int i)
{
    const char *role = tb_node_roles()[i];
    char state[700], out[600], err[512] = "";
    snprintf(state, sizeof(state), "%s/%s.db", f->dir, role);
    snprintf(out, sizeof(out), "%s/dist", f->dir);
    tb_node_options o;
    memset(&o, 0, sizeof(o));
    o.role = role;
    o.state_path = state;
    o.out_dir = out;
    o.window = 16;
    o.log = log_line;
    f->log[i].role = role;
    o.log_ctx = &f->log[i];
    o.stall_ms = f->stall_ms;
    if (tb_node_create(&f->cfg, &o, &f->node[i], err, sizeof(err)) != 0)
        fail_msg("%s: %s", role, err);
}

static void start_node(fixture *f, int i)
{
    const char *role = tb_node_roles()[i];
    char queue[64];
    create_node(f, i);
    const char *const *pats;
    size_t np = tb_node_bindings(f->node[i], &pats);
    snprintf(queue, sizeof(queue), "tradebus.%s", role);
    assert_int_equal(tb__loop_transport_create(f->broker, queue, pats, np, 5, &f->t[i]), 0);
    tb_node_attach(f->node[i], f->t[i]);
}

/* The in-memory broker as a transport type of this test's own: the nodes
 * below get their transports through the registry, as `tradebus component`
 * does, from a config that says [bus] type = loop. */
static int loop_type_create(const tb_transport_type *tt, const tb_transport_params *p,
                            tb_transport **out, char *err, size_t errlen)
{
    char queue[128];
    if (p->component) snprintf(queue, sizeof(queue), "%s.%s", p->run, p->component);
    int rc = tb__loop_transport_create(tt->ctx, p->component ? queue : NULL, p->bindings,
                                       p->nbindings, p->delivery_limit, out);
    if (rc) snprintf(err, errlen, "loop: %s", tb_strerror(rc));
    return rc;
}

static tb_transport_type loop_type = {
    .name = "loop",
    .help = "this test's in-memory broker",
    .create = loop_type_create,
};

static void start_node_via_registry(fixture *f, int i)
{
    const char *role = tb_node_roles()[i];
    char err[512] = "";
    create_node(f, i);
    tb_transport_params tp;
    tb_config_transport_params(&f->cfg, role, &tp);
    tp.nbindings = tb_node_bindings(f->node[i], &tp.bindings);
    int rc = tb_transport_open(f->cfg.transport, &tp, &f->t[i], err, sizeof(err));
    if (rc) fail_msg("%s: %s", role, err);
    tb_node_attach(f->node[i], f->t[i]);
}

static void stop_node(fixture *f, int i)
{
    tb_node_destroy(f->node[i]);
    tb_transport_destroy(f->t[i]);
    f->node[i] = NULL;
    f->t[i] = NULL;
}

/* Polls every node in turn until all are done; calls hook once per round. */
static void run_all(fixture *f, void (*hook)(fixture *, long round, void *), void *ctx)
{
    int done[NROLES] = {0};
    time_t start = time(NULL);
    for (long round = 0; time(NULL) - start < 120; round++) {
        int all = 1;
        for (int i = 0; i < NROLES; i++) {
            if (done[i] || !f->node[i]) {
                all &= done[i];
                continue;
            }
            char err[512] = "";
            int rc = tb_node_poll(f->node[i], 0, err, sizeof(err));
            if (rc < 0) fail_msg("%s: %s (%s)", tb_node_roles()[i], err, tb_strerror(rc));
            done[i] = rc == 1;
            all &= done[i];
        }
        if (all) return;
        if (hook) hook(f, round, ctx);
    }
    fail_msg("the distributed run did not finish");
}

static void embedded(fixture *f)
{
    char out[600], err[512] = "";
    snprintf(out, sizeof(out), "%s/embedded", f->dir);
    tb_backtest_options o;
    memset(&o, 0, sizeof(o));
    o.out_dir = out;
    tb_backtest_result r;
    int rc = tb_backtest_run(&f->cfg, &o, &r, err, sizeof(err));
    if (rc) fail_msg("embedded run: %s", err);
    assert_true(r.fills > 10); /* the comparison means something */
    tb_backtest_result_free(&r);
}

static void assert_same_outputs(fixture *f)
{
    const char *files[] = {"summary.json", "fills.csv", "events.jsonl", "trades.csv", "equity.csv"};
    for (int i = 0; i < 5; i++) {
        char a[700], b[700];
        snprintf(a, sizeof(a), "%s/embedded/%s", f->dir, files[i]);
        snprintf(b, sizeof(b), "%s/dist/%s", f->dir, files[i]);
        char *x = tbt_read_file(a), *y = tbt_read_file(b);
        if (!x || !y) fail_msg("%s: missing", x ? b : a);
        if (strcmp(x, y) != 0) {
            size_t k = 0;
            while (x[k] && x[k] == y[k])
                k++;
            size_t from = k > 200 ? k - 200 : 0;
            fail_msg("%s differs at byte %zu:\nembedded: %.300s\ndistributed: %.300s", files[i], k,
                     x + from, y + from);
        }
        free(x);
        free(y);
    }
}

static void test_dist_run_writes_the_embedded_outputs(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    embedded(f);
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    run_all(f, NULL, NULL);
    assert_same_outputs(f);
    const tb_backtest_result *r = tb_node_result(f->node[4]);
    assert_non_null(r);
    assert_int_equal(r->bars, 5760);
}

/* A transport type registered by the program, chosen by [bus] type, runs
 * the distributed run as well as any built-in: the registry is all a new
 * broker needs. */
/* A transport that loses its connection inside a poll, as AMQP's does when
 * the broker goes away mid-wait: that poll returns TB_ECONN with no
 * message (here: poison in *m) and the epoch has moved. The node must
 * take it as "no message", not as a delivery. */
typedef struct {
    tb_transport base;
    tb_transport *inner;
    tb__loop_broker *broker;
    long polls, drop_at;
} dropping_tp;

static int dt_publish(tb_transport *t, const tb_msg_out *m)
{
    return tb_transport_publish(((dropping_tp *)t)->inner, m);
}
static int dt_flush(tb_transport *t, int timeout_ms)
{
    return tb_transport_flush(((dropping_tp *)t)->inner, timeout_ms);
}
static int dt_poll(tb_transport *t, tb_msg_in *m, int timeout_ms)
{
    dropping_tp *d = (dropping_tp *)t;
    if (++d->polls == d->drop_at) {
        tb__loop_broker_restart(d->broker); /* unacked messages come again, new epoch */
        memset(m, 0xA5, sizeof(*m));
        return TB_ECONN;
    }
    return tb_transport_poll(d->inner, m, timeout_ms);
}
static int dt_ack(tb_transport *t, uint64_t tag, uint32_t epoch)
{
    return tb_transport_ack(((dropping_tp *)t)->inner, tag, epoch);
}
static int dt_reject(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue)
{
    return tb_transport_reject(((dropping_tp *)t)->inner, tag, epoch, requeue);
}
static uint32_t dt_epoch(tb_transport *t)
{
    return tb_transport_epoch(((dropping_tp *)t)->inner);
}
static tb_transport_stats dt_stats(const tb_transport *t)
{
    const tb_transport *in = ((const dropping_tp *)t)->inner;
    return in->ops->stats(in);
}
static void dt_destroy(tb_transport *t)
{
    tb_transport_destroy(((dropping_tp *)t)->inner);
    free(t);
}
static const tb_transport_ops dropping_ops = {dt_publish, dt_flush, dt_poll,  dt_ack,
                                              dt_reject,  dt_epoch, dt_stats, dt_destroy};

static void test_dist_connection_lost_inside_a_poll_delivers_nothing(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    embedded(f);
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    /* Every component's transport drops once, at different polls. */
    for (int i = 0; i < NROLES; i++) {
        dropping_tp *d = calloc(1, sizeof(*d));
        assert_non_null(d);
        d->base.ops = &dropping_ops;
        d->inner = f->t[i];
        d->broker = f->broker;
        d->drop_at = 300 + 97 * i;
        f->t[i] = &d->base;
        tb_node_attach(f->node[i], f->t[i]);
    }
    run_all(f, NULL, NULL);
    assert_same_outputs(f);
}

static void test_dist_run_on_a_registered_transport_type(void **state)
{
    fixture *f = *state;
    loop_type.ctx = f->broker;
    f->extra[0] = &loop_type;
    load_config(f, "[bus]\ntype = loop\nname = viareg\n");
    assert_ptr_equal(f->cfg.transport, &loop_type);
    embedded(f);
    for (int i = 0; i < NROLES; i++)
        start_node_via_registry(f, i);
    run_all(f, NULL, NULL);
    assert_same_outputs(f);
    /* Each component consumed its own queue, named after the run. */
    assert_int_equal(tb__loop_queue_depth(f->broker, "viareg.orders"), 0);
    assert_int_equal(tb__loop_queue_depth(f->broker, "tradebus.orders"), -1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    int victim;
    long at;
    int restarted;
} kill_plan;

static void kill_hook(fixture *f, long round, void *ctx)
{
    kill_plan *k = ctx;
    if (k->restarted || round != k->at) return;
    stop_node(f, k->victim); /* its unacked messages go back to its queue */
    start_node(f, k->victim);
    k->restarted = 1;
}

static void test_dist_node_rebuilt_from_its_state_mid_run_changes_nothing(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    embedded(f);
    for (int victim = 0; victim < NROLES; victim++) {
        char dist[700];
        snprintf(dist, sizeof(dist), "%s/dist", f->dir);
        tbt_remove_tree(dist);
        for (int i = 0; i < NROLES; i++) {
            char p[700];
            snprintf(p, sizeof(p), "%s/%s.db", f->dir, tb_node_roles()[i]);
            remove(p);
        }
        tb__loop_broker_destroy(f->broker);
        assert_int_equal(tb__loop_broker_create(&f->broker), 0);
        for (int i = 0; i < NROLES; i++)
            start_node(f, i);
        kill_plan k = {victim, 700 + 130 * victim, 0};
        run_all(f, kill_hook, &k);
        assert_true(k.restarted);
        assert_same_outputs(f);
        for (int i = 0; i < NROLES; i++)
            stop_node(f, i);
    }
}

static void restart_hook(fixture *f, long round, void *ctx)
{
    (void)ctx;
    if (round % 997 == 500) tb__loop_broker_restart(f->broker);
}

static void test_dist_broker_restarts_change_nothing(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    embedded(f);
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    run_all(f, restart_hook, NULL);
    assert_same_outputs(f);
}

static void poison_hook(fixture *f, long round, void *ctx)
{
    (void)ctx;
    if (round != 300) return;
    tb_transport *t;
    assert_int_equal(tb__loop_transport_create(f->broker, NULL, NULL, 0, 0, &t), 0);
    const char *bad = "{\"type\":\"MarketData\",\"event_id\":";
    tb_msg_out m = {"MarketData.BTCUSDT", "poison-1", "MarketData", NULL, NULL, NULL, bad,
                    strlen(bad)};
    assert_int_equal(tb_transport_publish(t, &m), 0);
    tb_transport_destroy(t);
}

static void test_dist_poison_message_is_dead_lettered_while_the_run_goes_on(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    embedded(f);
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    run_all(f, poison_hook, NULL);
    assert_same_outputs(f);
    /* Every node that takes market data gave it back until the limit. */
    for (int i = 0; i < NROLES - 1; i++) {
        char q[64];
        snprintf(q, sizeof(q), "tradebus.%s.dlq", tb_node_roles()[i]);
        assert_int_equal(tb__loop_queue_depth(f->broker, q), 1);
    }
}

/* Stream order gives up the embedded order, not delivery: every bar is
 * handled once by each component, and no event is logged twice — also when
 * a node is rebuilt from its state mid-run. */
static void test_dist_stream_order_handles_every_event_once(void **state)
{
    fixture *f = *state;
    load_config(f, "[bus]\norder = stream\n");
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    kill_plan k = {2, 400, 0};
    run_all(f, kill_hook, &k);
    assert_true(k.restarted);
    const tb_backtest_result *r = tb_node_result(f->node[4]);
    assert_non_null(r);
    assert_int_equal(r->bars, 5760);
    assert_int_equal(r->events[TB_EV_MARKET_DATA], 5760);
    /* Orders flowed; that they do not fill as in the embedded run is the
     * point of strict order (replayed at full speed, every bar reaches the
     * exchange before the first signal does: docs/scaling.md). */
    /* (A signal whose target is already met needs no order.) */
    assert_true(r->orders <= r->signals);
    assert_true(r->orders > 10);
    char p[700];
    snprintf(p, sizeof(p), "%s/dist/events.jsonl", f->dir);
    char *log = tbt_read_file(p);
    assert_non_null(log);
    size_t n = 0, cap = 16384;
    char **ids = malloc(cap * sizeof(*ids));
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        char *id = strstr(line, "\"event_id\":\"");
        assert_non_null(id);
        id += 12;
        *strchr(id, '"') = 0;
        if (n == cap) ids = realloc(ids, (cap *= 2) * sizeof(*ids));
        ids[n++] = id;
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(ids[i - 1], ids[i])) fail_msg("event %s logged twice", ids[i]);
    assert_int_equal(n, r->events[TB_EV_MARKET_DATA] + r->events[TB_EV_SIGNAL_GENERATED] +
                            r->events[TB_EV_ORDER_PLACEMENT_REQUEST] +
                            r->events[TB_EV_ORDER_CREATED] + r->events[TB_EV_ORDER_FILLED] +
                            r->events[TB_EV_ORDER_REJECTED] + r->events[TB_EV_ORDER_CANCELED] +
                            r->events[TB_EV_POSITION_UPDATE] + r->events[TB_EV_RISK_ALERT]);
    free(ids);
    free(log);
}

/* The Signal Generator split by symbol ([bus] signal_shards, stream order):
 * each shard's queue is bound to its symbols only, so each handles exactly
 * its symbols' bars, and the run's result adds the shards' signals up. */
static void test_dist_signal_shards_each_take_their_symbols(void **state)
{
    fixture *f = *state;
    load_config(f, "[bus]\norder = stream\nsignal_shards = BTCUSDT | ETHUSDT\n");
    const char *roles[] = {"signal", "signal", "orders", "positions", "risk", "monitor", "feed"};
    int shard[] = {1, 2, 0, 0, 0, 0, 0};
    tb_node *nodes[7];
    tb_transport *ts[7];
    for (int i = 0; i < 7; i++) {
        char st[700], out[600], err[512] = "", q[64];
        snprintf(st, sizeof(st), "%s/%s%d.db", f->dir, roles[i], shard[i]);
        snprintf(out, sizeof(out), "%s/dist", f->dir);
        tb_node_options o;
        memset(&o, 0, sizeof(o));
        o.role = roles[i];
        o.shard = shard[i];
        o.state_path = st;
        o.out_dir = out;
        if (tb_node_create(&f->cfg, &o, &nodes[i], err, sizeof(err))) fail_msg("%s", err);
        const char *const *pats;
        size_t np = tb_node_bindings(nodes[i], &pats);
        if (shard[i]) {
            /* bound to its own symbol's events, no other */
            for (size_t k = 0; k < np; k++)
                assert_true(strstr(pats[k], shard[i] == 1 ? "BTCUSDT" : "ETHUSDT") ||
                            !strncmp(pats[k], "ctl.", 4));
            snprintf(q, sizeof(q), "tradebus.signal-%d", shard[i]);
        } else {
            snprintf(q, sizeof(q), "tradebus.%s", roles[i]);
        }
        assert_int_equal(tb__loop_transport_create(f->broker, q, pats, np, 5, &ts[i]), 0);
        tb_node_attach(nodes[i], ts[i]);
    }
    int done[7] = {0}, all = 0;
    time_t start = time(NULL);
    while (!all && time(NULL) - start < 120) {
        all = 1;
        for (int i = 0; i < 7; i++) {
            if (done[i]) continue;
            char err[512] = "";
            int rc = tb_node_poll(nodes[i], 0, err, sizeof(err));
            if (rc < 0) fail_msg("%s: %s", roles[i], err);
            done[i] = rc == 1;
            all &= done[i];
        }
    }
    assert_true(all);
    assert_int_equal(tb_node_roots_done(nodes[0]), 2880); /* BTCUSDT's bars */
    assert_int_equal(tb_node_roots_done(nodes[1]), 2880); /* ETHUSDT's */
    const tb_backtest_result *r = tb_node_result(nodes[5]);
    assert_non_null(r);
    assert_int_equal(r->bars, 5760);
    assert_int_equal(r->signals, r->events[TB_EV_SIGNAL_GENERATED]);
    assert_true(r->signals > 10);
    for (int i = 0; i < 7; i++) {
        tb_node_destroy(nodes[i]);
        tb_transport_destroy(ts[i]);
    }
}

/* Shards need stream order; a signal process of a sharded config needs
 * its --shard: both refused with the fix in the message. */
static void test_dist_signal_shards_refused_where_they_cannot_work(void **state)
{
    fixture *f = *state;
    load_config(f, "[bus]\nsignal_shards = BTCUSDT | ETHUSDT\n");
    char st[700], err[512] = "";
    snprintf(st, sizeof(st), "%s/s.db", f->dir);
    tb_node_options o;
    memset(&o, 0, sizeof(o));
    o.role = "signal";
    o.shard = 1;
    o.state_path = st;
    tb_node *n = NULL;
    assert_int_equal(tb_node_create(&f->cfg, &o, &n, err, sizeof(err)), TB_ECONFIG);
    assert_non_null(strstr(err, "order = stream"));
    tb_config_free(&f->cfg);
    load_config(f, "[bus]\norder = stream\nsignal_shards = BTCUSDT | ETHUSDT\n");
    o.shard = 0;
    assert_int_equal(tb_node_create(&f->cfg, &o, &n, err, sizeof(err)), TB_ECONFIG);
    assert_non_null(strstr(err, "--shard 1..2"));
    assert_null(n);
}

/* Records what the feed asks of its queue: a transport wrapped around the
 * in-memory one. */
typedef struct {
    tb_transport base;
    tb_transport *inner;
    long bars_published;
    long waits_with_bars_left; /* polls allowed to block before the last bar */
    long total_bars;
} spy_transport;

static int spy_publish(tb_transport *t, const tb_msg_out *m)
{
    spy_transport *s = (spy_transport *)t;
    if (!strncmp(m->routing_key, "MarketData.", 11)) s->bars_published++;
    return tb_transport_publish(s->inner, m);
}
static int spy_flush(tb_transport *t, int timeout_ms)
{
    return tb_transport_flush(((spy_transport *)t)->inner, timeout_ms);
}
static int spy_poll(tb_transport *t, tb_msg_in *m, int timeout_ms)
{
    spy_transport *s = (spy_transport *)t;
    if (timeout_ms != 0 && s->bars_published < s->total_bars) s->waits_with_bars_left++;
    return tb_transport_poll(s->inner, m, timeout_ms);
}
static int spy_ack(tb_transport *t, uint64_t tag, uint32_t epoch)
{
    return tb_transport_ack(((spy_transport *)t)->inner, tag, epoch);
}
static int spy_reject(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue)
{
    return tb_transport_reject(((spy_transport *)t)->inner, tag, epoch, requeue);
}
static uint32_t spy_epoch(tb_transport *t)
{
    return tb_transport_epoch(((spy_transport *)t)->inner);
}
static tb_transport_stats spy_stats(const tb_transport *t)
{
    const tb_transport *in = ((const spy_transport *)t)->inner;
    return in->ops->stats(in);
}
static void spy_destroy(tb_transport *t)
{
    (void)t; /* on the stack; the inner one is the fixture's */
}
static const tb_transport_ops spy_ops = {spy_publish, spy_flush, spy_poll,  spy_ack,
                                         spy_reject,  spy_epoch, spy_stats, spy_destroy};

/* In stream order nothing gates the feed: while it has bars left, a poll of
 * its own queue must not wait (it once idled for the whole poll timeout
 * after every 4096 bars, a third of its throughput on a real broker). */
static void test_dist_stream_feed_never_waits_while_it_has_bars(void **state)
{
    fixture *f = *state;
    load_config(f, "[bus]\norder = stream\n");
    int feed = 0;
    while (strcmp(tb_node_roles()[feed], "feed") != 0)
        feed++;
    start_node(f, feed);
    spy_transport spy = {{&spy_ops}, f->t[feed], 0, 0, 5760};
    tb_node_attach(f->node[feed], &spy.base);
    for (int i = 0; i < 100 && spy.bars_published < spy.total_bars; i++) {
        char err[512] = "";
        int rc = tb_node_poll(f->node[feed], 200, err, sizeof(err));
        if (rc < 0) fail_msg("feed: %s", err);
    }
    assert_int_equal(spy.bars_published, spy.total_bars);
    assert_int_equal(spy.waits_with_bars_left, 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls every started node for ms milliseconds; none may fail. */
static void poll_for(fixture *f, long ms)
{
    for (long t = 0; t < ms; t += 10) {
        for (int i = 0; i < NROLES; i++) {
            char err[512] = "";
            if (f->node[i] && tb_node_poll(f->node[i], 0, err, sizeof(err)) < 0)
                fail_msg("%s: %s", tb_node_roles()[i], err);
        }
        sleep_ms(10);
    }
}

static int role_ix(const char *role)
{
    for (int i = 0; tb_node_roles()[i]; i++)
        if (!strcmp(tb_node_roles()[i], role)) return i;
    fail_msg("no role %s", role);
    return -1;
}

/* Strict order: with the positions process gone, every other one waits for
 * its step report, and says so once stall_ms has passed; back, they move
 * again and say that too. */
static void test_dist_stalled_nodes_name_the_process_they_wait_for(void **state)
{
    fixture *f = *state;
    load_config(f, NULL);
    f->stall_ms = 150;
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    int pos = role_ix("positions");
    for (int round = 0; tb_node_roots_done(f->node[pos]) < 100; round++) {
        if (round > 100000) fail_msg("the run did not reach bar 100");
        for (int i = 0; i < NROLES; i++) {
            char err[512] = "";
            if (tb_node_poll(f->node[i], 0, err, sizeof(err)) < 0) fail_msg("%s", err);
        }
    }
    tb_node_stall st;
    for (int i = 0; i < NROLES; i++)
        assert_false(tb_node_stalled(f->node[i], &st)); /* a moving run */
    stop_node(f, pos);
    poll_for(f, 400);
    for (int i = 0; i < NROLES; i++) {
        if (i == pos) continue;
        const char *role = tb_node_roles()[i];
        if (!tb_node_stalled(f->node[i], &st)) fail_msg("%s is not stalled", role);
        assert_int_equal(st.nawaited, 1);
        assert_string_equal(st.awaited[0], "positions");
        if (!strstr(st.what, "no step report for bar ")) fail_msg("%s: %s", role, st.what);
        assert_true(st.waited_ns >= 150 * 1000000LL);
        assert_true(st.since_ns > 1700000000LL * 1000000000LL); /* the wall clock */
        if (!strstr(f->log[i].text, "waiting for positions since "))
            fail_msg("%s did not log the stall:\n%s", role, f->log[i].text);
    }
    start_node(f, pos);
    run_all(f, NULL, NULL);
    for (int i = 0; i < NROLES; i++) {
        assert_false(tb_node_stalled(f->node[i], &st));
        if (i != pos && !strstr(f->log[i].text, "moving again after "))
            fail_msg("%s did not log the end of the stall:\n%s", tb_node_roles()[i],
                     f->log[i].text);
    }
}

/* Stream order: the run goes on without the risk process, but the monitor
 * cannot end it without its result, and names it. */
static void test_dist_stream_monitor_names_the_process_whose_result_is_missing(void **state)
{
    fixture *f = *state;
    load_config(f, "[bus]\norder = stream\n");
    f->stall_ms = 150;
    for (int i = 0; i < NROLES; i++)
        start_node(f, i);
    int risk = role_ix("risk"), mon = role_ix("monitor");
    stop_node(f, risk);
    tb_node_stall st;
    /* (The others send theirs after a quiet second: until then it waits
     * for them too.) */
    for (long waited = 0; !tb_node_stalled(f->node[mon], &st) || st.nawaited != 1 ||
                          strstr(st.what, "no result") == NULL;
         waited += 50) {
        if (waited > 60000) fail_msg("the monitor never waited for risk's result alone");
        poll_for(f, 50);
    }
    assert_int_equal(st.nawaited, 1);
    assert_string_equal(st.awaited[0], "risk");
    assert_non_null(strstr(f->log[mon].text, "waiting for risk since "));
    start_node(f, risk);
    run_all(f, NULL, NULL);
    assert_false(tb_node_stalled(f->node[mon], &st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dist_run_writes_the_embedded_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_connection_lost_inside_a_poll_delivers_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_run_on_a_registered_transport_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_dist_node_rebuilt_from_its_state_mid_run_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_broker_restarts_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dist_poison_message_is_dead_lettered_while_the_run_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_stream_order_handles_every_event_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_signal_shards_each_take_their_symbols, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_signal_shards_refused_where_they_cannot_work,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_stream_feed_never_waits_while_it_has_bars, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_stalled_nodes_name_the_process_they_wait_for,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_dist_stream_monitor_names_the_process_whose_result_is_missing, setup, teardown),
    };
    /* TB_TEST_FILTER=test_dist_stream_* runs only the tests it names. */
    if (getenv("TB_TEST_FILTER")) cmocka_set_test_filter(getenv("TB_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
