/* The Order Manager in front of an asynchronous exchange adapter (exchange.h,
 * "Asynchronous adapters"): every call answers TB_EINPROGRESS and its result
 * comes later, from the loop, as a live adapter's REST reply does. The
 * adapter here wraps the simulator and answers each call `latency` later on
 * the simulated clock, order news first, then the result (Binance's
 * executionReport often beats the REST reply). At latency 0 a whole
 * backtest must trade exactly as on the synchronous simulator, faults and
 * look-ups included; a cancel asked while the order's submit awaits its
 * reply must reach the exchange after that reply, never before it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_runs.h"
#include "tb_test_support.h"
#include "tradebus/backtest.h"
#include "tradebus/config.h"
#include "tradebus/exchange.h"
#include "tradebus/exchange_registry.h"
#include "tradebus/loop.h"
#include "tradebus/marketdata.h"
#include "tradebus/orders.h"
#include "tradebus/sim_exchange.h"

/* ---- the asynchronous wrapper ------------------------------------------- */

#define MAX_JOBS 64

typedef struct ax ax;

typedef struct {
    ax *x;
    tb_exchange_op op;
    tb_order_placement_request req; /* SUBMIT */
    char cid[TB_ORDER_ID_LEN];
    tb_timer_id timer;
    int used;
} job;

/* What the wrapper saw, in order: "S:cid" submit, "C:cid" cancel, "Q:cid"
 * query, "R:S:cid" a result delivered. */
typedef struct {
    char calls[256][48];
    size_t ncalls;
    uint64_t in_progress; /* calls answered TB_EINPROGRESS */
    uint64_t results;
    uint64_t news_before_result; /* responses forwarded during a job, before its result */
    const tb_exchange *inner;    /* the simulator, for its stats (while it lives) */
    tb_sim_exchange_stats stats; /* run(): the simulator's, at the end of the run */
} ax_log;

struct ax {
    tb_exchange base;
    tb_exchange *inner;
    tb_loop *loop;
    int64_t latency;
    ax_log *log;
    job jobs[MAX_JOBS];
};

/* Logs "what:cid". */
static void ax_note(ax *x, const char *what, const char *cid)
{
    if (!x->log || x->log->ncalls == 256) return;
    snprintf(x->log->calls[x->log->ncalls++], 48, "%s:%s", what, cid);
}

static void ax_forward(const tb_exchange_response *r, void *ctx)
{
    ax *x = ctx;
    if (x->log) x->log->news_before_result++;
    if (x->base.listener) x->base.listener(r, x->base.listener_ctx);
}

static void ax_fire(void *ctx, int64_t at)
{
    job *j = ctx;
    ax *x = j->x;
    tb_exchange_result res;
    memset(&res, 0, sizeof(res));
    res.op = j->op;
    memcpy(res.client_order_id, j->cid, sizeof(res.client_order_id));
    j->used = 0; /* free before the result: its listener may start the next call */
    switch (j->op) {
    case TB_XOP_SUBMIT:
        res.rc = tb_exchange_submit(x->inner, &j->req, at, &res.xerr);
        break;
    case TB_XOP_CANCEL:
        res.rc = tb_exchange_cancel(x->inner, j->cid, at, &res.xerr);
        break;
    case TB_XOP_QUERY:
        res.rc = tb_exchange_query(x->inner, j->cid, at, &res.info, &res.xerr);
        break;
    }
    if (x->log) x->log->results++;
    ax_note(x,
            j->op == TB_XOP_SUBMIT   ? "R:S"
            : j->op == TB_XOP_CANCEL ? "R:C"
                                     : "R:Q",
            res.client_order_id);
    tb_exchange_deliver_result(&x->base, &res);
}

static int ax_start(ax *x, tb_exchange_op op, const char *cid,
                    const tb_order_placement_request *req, int64_t now)
{
    for (size_t i = 0; i < MAX_JOBS; i++) {
        job *j = &x->jobs[i];
        if (j->used) continue;
        memset(j, 0, sizeof(*j));
        j->used = 1;
        j->x = x;
        j->op = op;
        snprintf(j->cid, sizeof(j->cid), "%s", cid);
        if (req) j->req = *req;
        int rc = tb_loop_timer_start(x->loop, now + x->latency, ax_fire, j, &j->timer);
        if (rc) {
            j->used = 0;
            return rc;
        }
        if (x->log) x->log->in_progress++;
        return TB_EINPROGRESS;
    }
    return TB_EFULL;
}

static int ax_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                     tb_exchange_error *xerr)
{
    (void)xerr;
    ax *x = (ax *)ex;
    ax_note(x, "S", req->client_order_id);
    return ax_start(x, TB_XOP_SUBMIT, req->client_order_id, req, now);
}

static int ax_cancel(tb_exchange *ex, const char *cid, int64_t now, tb_exchange_error *xerr)
{
    (void)xerr;
    ax *x = (ax *)ex;
    ax_note(x, "C", cid);
    return ax_start(x, TB_XOP_CANCEL, cid, NULL, now);
}

static int ax_query(tb_exchange *ex, const char *cid, int64_t now, tb_exchange_order_info *out,
                    tb_exchange_error *xerr)
{
    (void)out;
    (void)xerr;
    ax *x = (ax *)ex;
    ax_note(x, "Q", cid);
    return ax_start(x, TB_XOP_QUERY, cid, NULL, now);
}

static int ax_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    return tb_exchange_on_market_data(((ax *)ex)->inner, bar);
}

static int ax_cash(tb_exchange *ex, tb_decimal *out)
{
    return tb_exchange_cash(((ax *)ex)->inner, out);
}

static int ax_equity(tb_exchange *ex, tb_decimal *out)
{
    return tb_exchange_equity(((ax *)ex)->inner, out);
}

static void ax_destroy(tb_exchange *ex)
{
    ax *x = (ax *)ex;
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (x->jobs[i].used) tb_loop_timer_stop(x->loop, x->jobs[i].timer);
    tb_exchange_destroy(x->inner);
    free(x);
}

static const tb_exchange_vtable ax_vt = {
    .name = "async",
    .submit = ax_submit,
    .cancel = ax_cancel,
    .query = ax_query,
    .on_market_data = ax_on_market_data,
    .destroy = ax_destroy,
    .cash = ax_cash,
    .equity = ax_equity,
};

/* Wraps inner (owned from now on) on loop. */
static ax *ax_wrap(tb_exchange *inner, tb_loop *loop, int64_t latency, ax_log *log)
{
    ax *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->base.vt = &ax_vt;
    x->inner = inner;
    x->loop = loop;
    x->latency = latency;
    x->log = log;
    if (log) log->inner = inner;
    tb_exchange_set_listener(inner, ax_forward, x);
    return x;
}

/* The registry type: the simulator's keys and configure, answered later. */
typedef struct {
    int64_t latency;
    ax_log *log;
} ax_params;

static int ax_create(const tb_exchange_type *type, const tb_config *cfg, tb_loop *loop,
                     tb_exchange **out, char *err, size_t errlen)
{
    const ax_params *p = type->ctx;
    if (!loop) return TB_EMISUSE;
    tb_exchange *inner = NULL;
    int rc = tb_sim_exchange_type.create(&tb_sim_exchange_type, cfg, loop, &inner, err, errlen);
    if (rc) return rc;
    *out = &ax_wrap(inner, loop, p->latency, p->log)->base;
    return 0;
}

/* ---- a whole backtest, synchronous or not -------------------------------- */

static void on_dead(const tb_dead_letter *dl, void *ctx)
{
    (void)dl;
    (*(uint64_t *)ctx)++;
}

/* The two-strategy backtest (tb_test_runs.h) on the simulator (p NULL) or
 * the asynchronous wrapper, with the fault spec; *dead counts dead letters. */
static void run(ax_params *p, const char *faults, const char *participation,
                tb_backtest_result *res, tbt_fill_log *l, uint64_t *dead)
{
    char err[300] = "", path[512];
    tb_config cfg;
    tb_config_init(&cfg);
    tb_exchange_type type = tb_sim_exchange_type;
    const tb_exchange_type *extra[1] = {&type};
    if (p) {
        type.name = "async";
        type.description = "test: the simulator, answering later";
        type.create = ax_create;
        type.ctx = p;
        cfg.extra_exchanges = extra;
        cfg.nextra_exchanges = 1;
        if (tb_config_set(&cfg, "exchange.type=async", err, sizeof(err)) != 0) fail_msg("%s", err);
    }
    tbt_config_two_strategies(&cfg, participation, path, sizeof(path));
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    if (faults) {
        if (tb_sim_faults_parse(faults, &cfg.exchange.faults, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        cfg.exchange.faults.seed = 2024;
        cfg.exchange.track_ids = 1;
    }
    tb_pipeline_options po;
    memset(&po, 0, sizeof(po));
    po.on_dead_letter = on_dead;
    po.on_dead_letter_ctx = dead;
    tb_pipeline *pl;
    if (tb_pipeline_create(&cfg, &po, &pl, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(tb_bus_subscribe(tb_pipeline_bus(pl), TB_BUS_ALL, tbt_record_fills, l) >= 0);
    tbt_push_csv(pl, path, 1);
    assert_int_equal(tb_pipeline_result(pl, res), 0);
    if (p) p->log->stats = tb_sim_exchange_get_stats(p->log->inner);
    tb_pipeline_destroy(pl);
    tb_config_free(&cfg);
}

static void
test_async_adapter_at_latency_zero_trades_exactly_as_the_synchronous_simulator(void **state)
{
    (void)state;
    tb_backtest_result a, b;
    tbt_fill_log la = {0}, lb = {0};
    uint64_t deada = 0, deadb = 0;
    ax_log log;
    memset(&log, 0, sizeof(log));
    ax_params p = {0, &log};
    run(NULL, NULL, "0", &a, &la, &deada);
    run(&p, NULL, "0", &b, &lb, &deadb);
    /* Every call really went the asynchronous way, results came back once each. */
    assert_true(log.in_progress > 50);
    assert_int_equal(log.results, log.in_progress);
    tbt_assert_same_trading(&a, &la, &b, &lb, 1);
    assert_int_equal(lb.order_state_alerts, 0);
    assert_int_equal(deadb, 0);
    tb_backtest_result_free(&a);
    tb_backtest_result_free(&b);
    tbt_fill_log_free(&la);
    tbt_fill_log_free(&lb);
}

/* Timeouts, lost acks, 5xx and 429s behind the asynchronous port: every
 * resume — a retry after a result, a look-up whose answer comes later —
 * lands exactly where the synchronous run without faults does. */
static void test_async_adapter_under_faults_trades_exactly_as_without_faults(void **state)
{
    (void)state;
    tb_backtest_result a, b;
    tbt_fill_log la = {0}, lb = {0};
    uint64_t deada = 0, deadb = 0;
    ax_log log;
    memset(&log, 0, sizeof(log));
    ax_params p = {0, &log};
    run(NULL, NULL, "0", &a, &la, &deada);
    run(&p, "timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05", "0", &b, &lb, &deadb);
    tb_sim_exchange_stats xs = log.stats;
    assert_true(xs.faults[TB_SIM_FAULT_TIMEOUT] > 0);
    assert_true(xs.faults[TB_SIM_FAULT_LOST_ACK] > 0);
    assert_true(xs.faults[TB_SIM_FAULT_RATE_LIMIT] > 0);
    assert_int_equal(log.results, log.in_progress);
    tbt_assert_same_trading(&a, &la, &b, &lb, 1);
    assert_int_equal(lb.retry_alerts, 0);
    assert_int_equal(deadb, 0);
    tb_backtest_result_free(&a);
    tb_backtest_result_free(&b);
    tbt_fill_log_free(&la);
    tbt_fill_log_free(&lb);
}

/* Replies slower than a bar: orders still end once each, no state the
 * machine refuses, nothing left waiting at the end. */
static void test_async_adapter_slower_than_a_bar_keeps_every_order_consistent(void **state)
{
    (void)state;
    tb_backtest_result b;
    tbt_fill_log lb = {0};
    uint64_t deadb = 0;
    ax_log log;
    memset(&log, 0, sizeof(log));
    ax_params p = {INT64_C(90000000000), &log}; /* 90 s: a reply after the next bar */
    run(&p, "timeout:0.1,lost_ack:0.05", "0.002", &b, &lb, &deadb);
    assert_int_equal(log.results, log.in_progress);
    assert_true(b.orders > 20);
    assert_true(lb.n > 20);
    assert_int_equal(lb.order_state_alerts, 0);
    assert_int_equal(deadb, 0);
    tb_backtest_result_free(&b);
    tbt_fill_log_free(&lb);
}

/* ---- one order, step by step -------------------------------------------- */

#define SYM "BTCUSDT"
#define SEC INT64_C(1000000000)

typedef struct {
    tb_loop *loop;
    tb_bus *bus;
    ax *x;
    ax_log log;
    tb_order_manager *om;
    tbt_recorder rec;
    tb_event last_bar;
} fixture;

static int setup_with(void **state, int max_attempts)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    static tb_symbol_rules rules;
    memset(&rules, 0, sizeof(rules));
    strcpy(rules.symbol, SYM);
    rules.tick_size = tbt_dec("0.01");
    rules.step_size = tbt_dec("0.001");
    tb_sim_exchange_config xc;
    tb_sim_exchange_config_init(&xc);
    xc.symbols = &rules;
    xc.nsymbols = 1;
    char err[160] = "";
    tb_exchange *sim;
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f->loop), 0);
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    assert_int_equal(tb_sim_exchange_create(&xc, &sim, err, sizeof(err)), 0);
    f->x = ax_wrap(sim, f->loop, 10 * SEC, &f->log);
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = &f->x->base;
    oc.loop = f->loop;
    oc.max_attempts = max_attempts;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &f->om), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_BUS_ALL, tbt_record, &f->rec) >= 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

/* Two attempts: a send and one look-up, then the order is given up. */
static int setup_two_attempts(void **state)
{
    return setup_with(state, 2);
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_order_manager_destroy(f->om);
    tb_exchange_destroy(&f->x->base);
    tb_bus_destroy(f->bus);
    tb_loop_destroy(f->loop);
    free(f);
    return 0;
}

static void publish_bar(fixture *f, int64_t minute, const char *close)
{
    tb_market_data b = tbt_bar(SYM, minute, close, close, close, close, "100");
    assert_int_equal(tb_loop_advance(f->loop, b.close_time) >= 0, 1);
    f->last_bar = tbt_bar_event(&b);
    assert_int_equal(tb_bus_publish(f->bus, &f->last_bar), 0);
}

static void publish_limit_buy(fixture *f, const char *qty, const char *price)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&ev, &f->last_bar);
    ev.timestamp = f->last_bar.u.market_data.close_time;
    tb_signal_generated *s = &ev.u.signal;
    s->signal_type = TB_SIGNAL_BUY;
    strcpy(s->symbol, SYM);
    s->price = f->last_bar.u.market_data.close;
    s->volume = tbt_dec(qty);
    strcpy(s->strategy_id, "alpha");
    s->order_type = TB_ORDER_LIMIT;
    s->limit_price = tbt_dec(price);
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

static const char *created_cid(const fixture *f)
{
    /* The request names the order before the exchange has it. */
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 1);
    return tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 0)->u.order_request.client_order_id;
}

static void test_order_waits_for_the_submit_result_without_a_timer(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100");
    publish_limit_buy(f, "1", "90");
    char cid[TB_ORDER_ID_LEN];
    snprintf(cid, sizeof(cid), "%s", created_cid(f));
    /* Sent, answered later: no OrderCreated yet, only the adapter's job pending. */
    assert_int_equal(f->log.in_progress, 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 0);
    assert_int_equal(tb_loop_timers(f->loop), 1);
    tb_order_status st;
    assert_int_equal(tb_order_manager_status(f->om, cid, &st), 0);
    assert_int_equal(st, TB_ORDER_PENDING);
    /* The reply: the ack (news) first, then the result; the order is live. */
    assert_true(tb_loop_advance(f->loop, tb_loop_now(f->loop) + 10 * SEC) >= 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    assert_int_equal(tb_order_manager_status(f->om, cid, &st), 0);
    assert_int_equal(st, TB_ORDER_NEW);
    assert_int_equal(tb_loop_timers(f->loop), 0);
    assert_int_equal(tb_order_manager_get_stats(f->om).resends, 0);
}

static void test_cancel_asked_while_the_submit_awaits_its_reply_is_sent_after_it(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100");
    publish_limit_buy(f, "1", "90");
    char cid[TB_ORDER_ID_LEN];
    snprintf(cid, sizeof(cid), "%s", created_cid(f));
    /* The user cancels before the exchange has answered the submit. */
    assert_int_equal(tb_order_manager_cancel(f->om, cid, tb_loop_now(f->loop)), 0);
    char want[64];
    snprintf(want, sizeof(want), "S:%s", cid);
    assert_int_equal(f->log.ncalls, 1); /* nothing sent yet but the submit */
    assert_string_equal(f->log.calls[0], want);
    /* The submit's reply: the order is live, and only now is the cancel sent. */
    tb_loop_advance(f->loop, tb_loop_now(f->loop) + 10 * SEC);
    assert_true(f->log.ncalls >= 3);
    snprintf(want, sizeof(want), "R:S:%s", cid);
    assert_string_equal(f->log.calls[1], want);
    snprintf(want, sizeof(want), "C:%s", cid);
    assert_string_equal(f->log.calls[2], want);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CANCELED), 0);
    /* The cancel's reply: canceled, once; one submit in all. */
    tb_loop_advance(f->loop, tb_loop_now(f->loop) + 10 * SEC);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CANCELED), 1);
    tb_order_status st;
    assert_int_equal(tb_order_manager_status(f->om, cid, &st), 0);
    assert_int_equal(st, TB_ORDER_CANCELED);
    uint32_t submits = 0, accepts = 0;
    if (tb_sim_exchange_id_stats(f->log.inner, cid, &submits, &accepts) == 0) {
        assert_int_equal(submits, 1);
        assert_int_equal(accepts, 1);
    }
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
}

/* The send reached the book but its reply was lost, and the look-up timed
 * out: the order is given up and canceled by id. The cancel's answer comes
 * later; its news (CANCELED) is expected, not an illegal move. */
static void test_order_given_up_with_its_cancel_in_flight_takes_the_cancel_quietly(void **state)
{
    fixture *f = *state;
    tb_sim_fault script[] = {TB_SIM_FAULT_LOST_ACK, TB_SIM_FAULT_TIMEOUT, TB_SIM_FAULT_NONE};
    assert_int_equal(tb_sim_exchange_script_faults(f->x->inner, script, 3), 0);
    publish_bar(f, 0, "100");
    publish_limit_buy(f, "1", "90");
    char cid[TB_ORDER_ID_LEN];
    snprintf(cid, sizeof(cid), "%s", created_cid(f));
    /* Run the clock on until every reply came. */
    for (int i = 0; i < 20 && tb_loop_timers(f->loop); i++)
        tb_loop_advance(f->loop, tb_loop_now(f->loop) + 10 * SEC);
    assert_int_equal(tb_loop_timers(f->loop), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_REJECTED), 1);
    const tb_event *rej = tbt_nth(&f->rec, TB_EV_ORDER_REJECTED, 0);
    assert_non_null(strstr(rej->u.order_rejected.text, "cancel sent to the exchange"));
    /* The cancel reached the exchange: nothing of ours is left on the book. */
    assert_int_equal(tb_sim_exchange_open_orders(f->x->inner), 0);
    for (size_t i = 0; i < tbt_count(&f->rec, TB_EV_RISK_ALERT); i++)
        assert_string_not_equal(tbt_nth(&f->rec, TB_EV_RISK_ALERT, i)->u.risk_alert.rule,
                                "order_state");
    assert_int_equal(tb_order_manager_get_stats(f->om).bad_responses, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_async_adapter_at_latency_zero_trades_exactly_as_the_synchronous_simulator),
        cmocka_unit_test(test_async_adapter_under_faults_trades_exactly_as_without_faults),
        cmocka_unit_test(test_async_adapter_slower_than_a_bar_keeps_every_order_consistent),
        cmocka_unit_test_setup_teardown(test_order_waits_for_the_submit_result_without_a_timer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cancel_asked_while_the_submit_awaits_its_reply_is_sent_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_order_given_up_with_its_cancel_in_flight_takes_the_cancel_quietly,
            setup_two_attempts, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
