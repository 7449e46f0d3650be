/* Retries that never double an order: the Order Manager against a simulated
 * exchange that times out, loses acks, answers 5xx and rate-limits — one
 * behaviour per test, then a whole backtest under random faults that must
 * end exactly as the run without them. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_runs.h"
#include "tb_test_support.h"
#include "tradebus/tradebus.h"

#define SYM      "BTCUSDT"
#define STRATEGY "alpha"
#define MS       INT64_C(1000000)
#define MAX_REQ  256

/* A request as the sim's observer saw it. */
typedef struct {
    tb_sim_request_kind kind;
    char cid[TB_ORDER_ID_LEN];
    int64_t now;
    tb_sim_fault fault;
    int accepted, result;
} req_seen;

typedef struct {
    req_seen req[MAX_REQ];
    size_t n, total;
} req_log;

static void observe(const tb_exchange *ex, const tb_sim_request *r, void *ctx)
{
    (void)ex;
    req_log *l = ctx;
    l->total++;
    if (l->n >= MAX_REQ) return; /* long runs: only the first requests are kept */
    req_seen *s = &l->req[l->n++];
    s->kind = r->kind;
    snprintf(s->cid, sizeof(s->cid), "%s", r->client_order_id);
    s->now = r->now;
    s->fault = r->fault;
    s->accepted = r->accepted;
    s->result = r->result;
}

static size_t nreq(const req_log *l, tb_sim_request_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->req[i].kind == kind) n++;
    return n;
}

typedef struct {
    tb_bus *bus;
    tb_exchange *ex;
    tb_order_manager *om;
    tbt_recorder rec;
    req_log log;
    tb_event last_bar;
    int rec_sub;
    tb_loop *loop; /* the manager's clock: retries wait on its timers */
} fixture;

static void close_all(fixture *f)
{
    tb_order_manager_destroy(f->om);
    tb_exchange_destroy(f->ex);
    tb_bus_destroy(f->bus);
    tb_loop_destroy(f->loop);
    f->om = NULL;
    f->ex = NULL;
    f->bus = NULL;
    f->loop = NULL;
}

/* Time runs on until no retry is left waiting (nothing happens in between:
 * no bar comes), as a runner's clock would. */
static void time_passes(fixture *f)
{
    assert_true(tb_loop_drain(f->loop) >= 0);
}

/* Bus + sim (BTCUSDT tick 0.01 step 0.001, cash 10000, ids tracked,
 * requests observed) + Order Manager (retry settings from oc, or the
 * defaults) + a recorder of every event. */
static void open_with(fixture *f, const tb_sim_faults *faults, const tb_order_manager_config *oc)
{
    close_all(f);
    memset(&f->rec, 0, sizeof(f->rec));
    memset(&f->log, 0, sizeof(f->log));
    static tb_symbol_rules rules;
    memset(&rules, 0, sizeof(rules));
    strcpy(rules.symbol, SYM);
    rules.tick_size = tbt_dec("0.01");
    rules.step_size = tbt_dec("0.001");
    tb_sim_exchange_config xc;
    tb_sim_exchange_config_init(&xc);
    xc.symbols = &rules;
    xc.nsymbols = 1;
    xc.track_ids = 1;
    xc.observer = observe;
    xc.observer_ctx = &f->log;
    if (faults) xc.faults = *faults;
    char err[160] = "";
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    if (tb_sim_exchange_create(&xc, &f->ex, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_order_manager_config c;
    if (oc)
        c = *oc;
    else
        tb_order_manager_config_init(&c);
    c.exchange = f->ex;
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f->loop), 0);
    c.loop = f->loop;
    assert_int_equal(tb_order_manager_create(f->bus, &c, &f->om), 0);
    f->rec_sub = tb_bus_subscribe(f->bus, TB_BUS_ALL, tbt_record, &f->rec);
    assert_true(f->rec_sub >= 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    open_with(f, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close_all(f);
    free(f);
    return 0;
}

static void script(fixture *f, const tb_sim_fault *faults, size_t n)
{
    assert_int_equal(tb_sim_exchange_script_faults(f->ex, faults, n), 0);
}

/* A bar arrives as tb_pipeline_push_bar delivers it: the clock moves to
 * its close (timers due by then fire first), then the bar goes out. */
static void publish_bar(fixture *f, int64_t minute, const char *price)
{
    tb_market_data b = tbt_bar(SYM, minute, price, price, price, price, "100");
    assert_true(tb_loop_advance(f->loop, b.close_time) >= 0); /* the runner's part */
    f->last_bar = tbt_bar_event(&b);
    assert_int_equal(tb_bus_publish(f->bus, &f->last_bar), 0);
}

/* A signal of strategy on the last bar, at its close; returns at once. */
static void send_signal(fixture *f, const char *strategy, tb_signal_type type, const char *qty)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&ev, &f->last_bar);
    ev.timestamp = f->last_bar.u.market_data.close_time;
    tb_signal_generated *s = &ev.u.signal;
    s->signal_type = type;
    strcpy(s->symbol, SYM);
    s->price = f->last_bar.u.market_data.close;
    s->volume = tbt_dec(qty);
    strcpy(s->strategy_id, strategy);
    s->order_type = TB_ORDER_MARKET;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

/* A signal of the fixture's strategy, then time runs on until its retries
 * (if any) are done. */
static void publish_signal(fixture *f, tb_signal_type type, const char *qty)
{
    send_signal(f, STRATEGY, type, qty);
    time_passes(f);
}

static uint32_t accepts_of(const fixture *f, const char *cid, uint32_t *submits)
{
    uint32_t s = 0, a = 0;
    assert_int_equal(tb_sim_exchange_id_stats(f->ex, cid, &s, &a), 0);
    if (submits) *submits = s;
    return a;
}

/* A BUY 1 on bar 0 (close 100) under the scripted faults, then bar 1 (open
 * 101): the order must have filled exactly once, at 101. */
static void buy_then_next_bar(fixture *f, const tb_sim_fault *faults, size_t n)
{
    publish_bar(f, 0, "100");
    script(f, faults, n);
    publish_signal(f, TB_SIGNAL_BUY, "1");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    publish_bar(f, 1, "101");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 1);
    const tb_order_filled *fl = &tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 0)->u.order_filled;
    assert_string_equal(fl->client_order_id, "alpha-1");
    assert_dec_equal(fl->filled_quantity, "1");
    assert_dec_equal(fl->filled_price, "101");
    assert_int_equal(fl->status, TB_ORDER_FILLED);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_REJECTED), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
    assert_int_equal(accepts_of(f, "alpha-1", NULL), 1);
    assert_int_equal(tb_sim_exchange_get_stats(f->ex).ids_accepted_twice, 0);
}

/* ---- one fault, one behaviour ------------------------------------------- */

static void
test_market_order_after_timeout_that_never_arrived_is_resent_and_fills_once(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_TIMEOUT};
    buy_then_next_bar(f, faults, 1);
    /* submit (lost on the way) → look-up (not found) → submit again */
    assert_int_equal(f->log.n, 3);
    assert_int_equal(f->log.req[0].kind, TB_SIM_REQ_SUBMIT);
    assert_int_equal(f->log.req[0].result, TB_EIO);
    assert_int_equal(f->log.req[1].kind, TB_SIM_REQ_QUERY);
    assert_int_equal(f->log.req[1].result, TB_ENOTFOUND);
    assert_int_equal(f->log.req[2].kind, TB_SIM_REQ_SUBMIT);
    assert_true(f->log.req[2].accepted);
    assert_string_equal(f->log.req[2].cid, "alpha-1"); /* the same id, always */
    uint32_t submits;
    assert_int_equal(accepts_of(f, "alpha-1", &submits), 1);
    assert_int_equal(submits, 2);
    tb_order_manager_stats st = tb_order_manager_get_stats(f->om);
    assert_int_equal(st.resends, 1);
    assert_int_equal(st.queries, 1);
    assert_int_equal(st.recovered, 0);
}

static void test_market_order_after_lost_ack_is_found_not_resent_and_fills_once(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_LOST_ACK};
    buy_then_next_bar(f, faults, 1);
    /* submit (accepted, reply lost) → look-up finds it: no second submit */
    assert_int_equal(f->log.n, 2);
    assert_true(f->log.req[0].accepted);
    assert_int_equal(f->log.req[0].result, TB_EIO);
    assert_int_equal(f->log.req[1].kind, TB_SIM_REQ_QUERY);
    assert_int_equal(f->log.req[1].result, 0);
    uint32_t submits;
    assert_int_equal(accepts_of(f, "alpha-1", &submits), 1);
    assert_int_equal(submits, 1);
    /* The adopted order is the exchange's, acknowledged when it was accepted. */
    const tb_event *cr = tbt_nth(&f->rec, TB_EV_ORDER_CREATED, 0);
    assert_string_equal(cr->u.order_created.order_id, "SIM-1");
    assert_int_equal(cr->timestamp, f->log.req[0].now);
    assert_int_equal(cr->causation_id,
                     tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 0)->event_id);
    tb_order_manager_stats st = tb_order_manager_get_stats(f->om);
    assert_int_equal(st.resends, 0);
    assert_int_equal(st.recovered, 1);
}

static void
test_server_error_before_processing_is_looked_up_then_resent_and_fills_once(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_SERVER_ERROR};
    buy_then_next_bar(f, faults, 1);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_QUERY), 1); /* ambiguous: looked up first */
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 2);
}

static void test_server_error_after_processing_is_found_not_resent_and_fills_once(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_SERVER_ERROR_AFTER};
    buy_then_next_bar(f, faults, 1);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_QUERY), 1);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 1);
    assert_int_equal(tb_order_manager_get_stats(f->om).recovered, 1);
}

static void test_rate_limit_waits_retry_after_then_resends_without_look_up(void **state)
{
    fixture *f = *state;
    tb_sim_faults fs;
    tb_sim_faults_init(&fs);
    fs.retry_after = 2000 * MS;
    open_with(f, &fs, NULL);
    const tb_sim_fault faults[] = {TB_SIM_FAULT_RATE_LIMIT};
    buy_then_next_bar(f, faults, 1);
    assert_int_equal(f->log.n, 2);
    assert_int_equal(f->log.req[0].kind, TB_SIM_REQ_SUBMIT);
    assert_int_equal(f->log.req[1].kind, TB_SIM_REQ_SUBMIT);
    assert_int_equal(f->log.req[1].now - f->log.req[0].now, 2000 * MS);
    /* The ack carries the simulated time it came at. */
    assert_int_equal(tbt_nth(&f->rec, TB_EV_ORDER_CREATED, 0)->timestamp, f->log.req[1].now);
    assert_int_equal(tb_order_manager_get_stats(f->om).waited, 2000 * MS);
}

static void test_connection_lost_is_resent_without_look_up(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_CONNECTION_LOST};
    buy_then_next_bar(f, faults, 1);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_QUERY), 0); /* certainly not sent */
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 2);
}

static void test_failed_look_up_is_retried_as_a_look_up_never_a_send(void **state)
{
    fixture *f = *state;
    const tb_sim_fault faults[] = {TB_SIM_FAULT_LOST_ACK, TB_SIM_FAULT_TIMEOUT,
                                   TB_SIM_FAULT_SERVER_ERROR, TB_SIM_FAULT_RATE_LIMIT};
    buy_then_next_bar(f, faults, 4);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 1);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_QUERY), 4);
    assert_int_equal(tb_order_manager_get_stats(f->om).transient_failures, 4);
}

/* The fixture with rate limits asking for retry_after, and retries allowed
 * to wait max_total in all. */
static void open_rate_limited(fixture *f, int64_t retry_after, int64_t max_total)
{
    tb_sim_faults fs;
    tb_sim_faults_init(&fs);
    fs.retry_after = retry_after;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.max_total = max_total;
    open_with(f, &fs, &oc);
}

/* The manager never waits inside a handler: an order told to come back in
 * three minutes is a timer, the bars of those minutes go through the bus
 * (and another strategy's order is sent and fills), and the retry is made at
 * its own time, before the bar delivered at that time — on which it fills. */
static void test_a_retry_waits_on_a_timer_while_later_bars_keep_flowing(void **state)
{
    fixture *f = *state;
    open_rate_limited(f, 3 * TBT_MINUTE, 10 * TBT_MINUTE);
    publish_bar(f, 0, "100");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_RATE_LIMIT};
    script(f, faults, 1);
    send_signal(f, STRATEGY, TB_SIGNAL_BUY, "1"); /* at 0:59.999 */
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 1);
    assert_int_equal(tb_loop_timers(f->loop), 1);
    assert_int_equal(tb_order_manager_get_stats(f->om).in_retry, 1);
    int64_t due;
    assert_int_equal(tb_loop_next_due(f->loop, &due), 0);
    assert_int_equal(due, 4 * TBT_MINUTE - 1); /* bar 3's close */

    publish_bar(f, 1, "101");
    send_signal(f, "beta", TB_SIGNAL_BUY, "2"); /* beta is not held up by alpha's wait */
    publish_bar(f, 2, "102");
    assert_int_equal(tbt_count(&f->rec, TB_EV_MARKET_DATA), 3);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 2); /* alpha's first, beta's */
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    assert_string_equal(tbt_nth(&f->rec, TB_EV_ORDER_CREATED, 0)->u.order_created.client_order_id,
                        "beta-2");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 1); /* beta's, on bar 2 */
    tb_order_status st;
    assert_int_equal(tb_order_manager_status(f->om, "alpha-1", &st), 0);
    assert_int_equal(st, TB_ORDER_PENDING);

    publish_bar(f, 3, "103"); /* the retry (3:59.999) fires first, then the bar */
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 3);
    assert_int_equal(f->log.req[2].now, 4 * TBT_MINUTE - 1);
    const tb_event *cr = tbt_nth(&f->rec, TB_EV_ORDER_CREATED, 1);
    assert_string_equal(cr->u.order_created.client_order_id, "alpha-1");
    assert_int_equal(cr->timestamp, 4 * TBT_MINUTE - 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 2);
    const tb_order_filled *fl = &tbt_nth(&f->rec, TB_EV_ORDER_FILLED, 1)->u.order_filled;
    assert_string_equal(fl->client_order_id, "alpha-1");
    assert_dec_equal(fl->filled_price, "103");
    assert_int_equal(tb_loop_timers(f->loop), 0);
    assert_int_equal(tb_order_manager_get_stats(f->om).in_retry, 0);
    assert_int_equal(accepts_of(f, "alpha-1", NULL), 1);
}

/* A cancel of an order the exchange certainly does not have yet (its send
 * was refused unprocessed) withdraws it: no later send. */
static void test_cancel_of_an_order_still_in_retry_withdraws_it(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_CONNECTION_LOST};
    script(f, faults, 1);
    send_signal(f, STRATEGY, TB_SIGNAL_BUY, "1");
    assert_int_equal(tb_loop_timers(f->loop), 1);
    assert_int_equal(tb_order_manager_cancel(f->om, "alpha-1", TBT_MINUTE - 1), 0);
    assert_int_equal(tb_loop_timers(f->loop), 0);
    time_passes(f);
    publish_bar(f, 1, "101");
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 0);
    const tb_order_rejected *r = &tbt_nth(&f->rec, TB_EV_ORDER_REJECTED, 0)->u.order_rejected;
    assert_non_null(strstr(r->text, "withdrawn before the exchange had it"));
    assert_int_equal(tb_order_manager_get_stats(f->om).withdrawn, 1);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
}

/* A LIMIT signal of a strategy with order handling (replace) to target. */
static void send_target(fixture *f, const char *target, const char *limit)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_event_caused_by(&ev, &f->last_bar);
    ev.timestamp = f->last_bar.u.market_data.close_time;
    tb_signal_generated *s = &ev.u.signal;
    s->signal_type = TB_SIGNAL_BUY;
    strcpy(s->symbol, SYM);
    s->price = f->last_bar.u.market_data.close;
    s->volume = tbt_dec(target);
    s->target = tbt_dec(target);
    s->limit_price = tbt_dec(limit);
    strcpy(s->strategy_id, STRATEGY);
    s->order_type = TB_ORDER_LIMIT;
    assert_int_equal(tb_bus_publish(f->bus, &ev), 0);
}

/* A new signal replaces a resting order whose cancel must be retried: the
 * new order waits until the cancel has settled (both working could take
 * the strategy past its target), then goes out for the whole target. */
static void test_a_replacing_signal_waits_for_the_cancel_in_retry(void **state)
{
    fixture *f = *state;
    tb_order_strategy rule;
    memset(&rule, 0, sizeof(rule));
    strcpy(rule.strategy_id, STRATEGY);
    strcpy(rule.symbol, SYM);
    rule.time_in_force = TB_TIF_GTC;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.strategies = &rule;
    oc.nstrategies = 1;
    open_with(f, NULL, &oc);
    publish_bar(f, 0, "100");
    send_target(f, "1", "50"); /* rests far below */
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    publish_bar(f, 1, "100");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_RATE_LIMIT};
    script(f, faults, 1);
    send_target(f, "2", "60");
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_CANCEL), 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 1); /* parked */
    assert_int_equal(tb_order_manager_get_stats(f->om).parked, 1);

    time_passes(f);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_CANCEL), 2);
    const tb_order_canceled *c = &tbt_nth(&f->rec, TB_EV_ORDER_CANCELED, 0)->u.order_canceled;
    assert_string_equal(c->client_order_id, "alpha-1");
    assert_int_equal(c->cause, TB_CANCEL_REPLACED);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST), 2);
    const tb_event *rq = tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 1);
    assert_dec_equal(rq->u.order_request.quantity, "2");
    assert_dec_equal(rq->u.order_request.price, "60");
    assert_true(rq->timestamp > 2 * TBT_MINUTE - 1); /* sent when the cancel settled */
    assert_int_equal(tb_order_manager_get_stats(f->om).replaced, 1);
    assert_int_equal(tb_order_manager_open_orders(f->om), 1);
}

/* ---- giving up ----------------------------------------------------------- */

static void
test_retries_exhausted_reject_the_order_with_reason_and_order_retries_alert(void **state)
{
    fixture *f = *state;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.max_attempts = 3;
    open_with(f, NULL, &oc);
    publish_bar(f, 0, "100");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_CONNECTION_LOST, TB_SIM_FAULT_CONNECTION_LOST,
                                   TB_SIM_FAULT_CONNECTION_LOST};
    script(f, faults, 3);
    publish_signal(f, TB_SIGNAL_BUY, "1");

    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 3);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 0);
    const tb_event *rej = tbt_nth(&f->rec, TB_EV_ORDER_REJECTED, 0);
    assert_non_null(rej);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_REJECTED), 1);
    const tb_order_rejected *r = &rej->u.order_rejected;
    assert_string_equal(r->client_order_id, "alpha-1");
    assert_int_equal(r->reason, TB_REJECT_EXCHANGE);
    assert_non_null(strstr(r->text, "gave up after 3 failed attempts"));
    assert_non_null(strstr(r->text, "submit connection_lost"));
    assert_int_equal(rej->causation_id,
                     tbt_nth(&f->rec, TB_EV_ORDER_PLACEMENT_REQUEST, 0)->event_id);

    const tb_event *al = tbt_nth(&f->rec, TB_EV_RISK_ALERT, 0);
    assert_non_null(al);
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 1);
    assert_string_equal(al->u.risk_alert.rule, "order_retries");
    assert_non_null(strstr(al->u.risk_alert.detail, "alpha-1"));
    assert_non_null(strstr(al->u.risk_alert.detail, "gave up after 3 failed attempts"));
    assert_string_equal(al->u.risk_alert.strategy_id, STRATEGY);
    assert_string_equal(al->u.risk_alert.symbol, SYM);

    tb_order_status st;
    assert_int_equal(tb_order_manager_status(f->om, "alpha-1", &st), 0);
    assert_int_equal(st, TB_ORDER_REJECTED);
    assert_int_equal(tb_order_manager_get_stats(f->om).gave_up, 1);
    publish_bar(f, 1, "101");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 0);
}

static void test_retries_exhausted_while_in_doubt_cancel_the_order_on_the_exchange(void **state)
{
    fixture *f = *state;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.max_attempts = 2;
    open_with(f, NULL, &oc);
    publish_bar(f, 0, "100");
    /* Accepted with its ack lost, and the look-up times out: the order is
     * live but the manager cannot know. */
    const tb_sim_fault faults[] = {TB_SIM_FAULT_LOST_ACK, TB_SIM_FAULT_TIMEOUT};
    script(f, faults, 2);
    publish_signal(f, TB_SIGNAL_BUY, "1");

    assert_int_equal(nreq(&f->log, TB_SIM_REQ_CANCEL), 1);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    const tb_order_rejected *r = &tbt_nth(&f->rec, TB_EV_ORDER_REJECTED, 0)->u.order_rejected;
    assert_non_null(strstr(r->text, "canceled on the exchange"));
    assert_int_equal(tbt_count(&f->rec, TB_EV_RISK_ALERT), 1); /* order_retries, no order_state */
    assert_string_equal(tbt_nth(&f->rec, TB_EV_RISK_ALERT, 0)->u.risk_alert.rule, "order_retries");
    publish_bar(f, 1, "101");
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_FILLED), 0);
    assert_int_equal(tb_order_manager_get_stats(f->om).bad_responses, 0);
}

static void test_max_total_bounds_the_time_spent_waiting(void **state)
{
    fixture *f = *state;
    open_rate_limited(f, 20000 * MS, 30000 * MS);
    publish_bar(f, 0, "100");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_RATE_LIMIT, TB_SIM_FAULT_RATE_LIMIT};
    script(f, faults, 2);
    publish_signal(f, TB_SIGNAL_BUY, "1");

    assert_int_equal(nreq(&f->log, TB_SIM_REQ_SUBMIT), 2); /* a third would wait till 40 s */
    const tb_order_rejected *r = &tbt_nth(&f->rec, TB_EV_ORDER_REJECTED, 0)->u.order_rejected;
    assert_non_null(strstr(r->text, "would pass 30000 ms"));
    assert_non_null(strstr(r->text, "rate_limited"));
    assert_int_equal(tb_order_manager_get_stats(f->om).waited, 20000 * MS);
}

/* ---- backoff --------------------------------------------------------------- */

/* Runs one order through n connection losses; writes the n waits. */
static void waits_with_seed(fixture *f, uint64_t seed, int64_t *waits, int n)
{
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.max_attempts = n + 1;
    oc.base_delay = 100 * MS;
    oc.max_delay = 1000 * MS;
    oc.max_total = 60000 * MS;
    oc.retry_seed = seed;
    open_with(f, NULL, &oc);
    publish_bar(f, 0, "100");
    tb_sim_fault faults[16];
    for (int i = 0; i < n; i++)
        faults[i] = TB_SIM_FAULT_CONNECTION_LOST;
    script(f, faults, (size_t)n);
    publish_signal(f, TB_SIGNAL_BUY, "1");
    assert_int_equal(f->log.n, (size_t)n + 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    for (int i = 0; i < n; i++)
        waits[i] = f->log.req[i + 1].now - f->log.req[i].now;
}

static void test_backoff_waits_follow_full_jitter_bounds_deterministic_per_seed(void **state)
{
    fixture *f = *state;
    enum { N = 8 };
    int64_t a[N], b[N], c[N];
    waits_with_seed(f, 7, a, N);
    int64_t total = 0;
    for (int i = 0; i < N; i++) {
        /* random(0, min(cap, base · 2^i)) */
        int64_t ceiling = (100 * MS) << i;
        if (ceiling > 1000 * MS) ceiling = 1000 * MS;
        if (a[i] < 0 || a[i] > ceiling)
            fail_msg("wait %d is %lld ns, outside [0, %lld]", i, (long long)a[i],
                     (long long)ceiling);
        total += a[i];
    }
    assert_int_equal(tb_order_manager_get_stats(f->om).waited, total);
    waits_with_seed(f, 7, b, N);
    assert_memory_equal(a, b, sizeof(a)); /* same seed, same waits */
    waits_with_seed(f, 8, c, N);
    assert_memory_not_equal(a, c, sizeof(a));
    /* Full jitter spreads over the whole range: not all in its top half. */
    int low = 0;
    for (int i = 0; i < N; i++) {
        int64_t ceiling = (100 * MS) << i;
        if (ceiling > 1000 * MS) ceiling = 1000 * MS;
        if (a[i] < ceiling / 2 || c[i] < ceiling / 2) low++;
    }
    assert_true(low > 0);
}

/* ---- a late arrival ------------------------------------------------------ */

/* An exchange where the first send times out but arrives late: the first
 * look-up misses it, the resend is refused as a DUPLICATE (the id is open),
 * and only then can it be found. The sim cannot delay a request; this can. */
typedef struct {
    tb_exchange base;
    int submits, queries;
    int live; /* the late first send has landed */
    tb_order_placement_request req;
} late_exchange;

static int late_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                       tb_exchange_error *xerr)
{
    late_exchange *x = (late_exchange *)ex;
    tb_exchange_response r;
    memset(&r, 0, sizeof(r));
    memcpy(r.client_order_id, req->client_order_id, sizeof(r.client_order_id));
    r.time = now;
    if (x->submits++ == 0) {
        x->req = *req;
        xerr->failure = TB_XF_TIMEOUT;
        return TB_EIO;
    }
    x->live = 1; /* landed meanwhile */
    r.kind = TB_XR_REJECTED;
    r.reason = TB_REJECT_DUPLICATE;
    snprintf(r.text, sizeof(r.text), "client order id %s is already open", req->client_order_id);
    ex->listener(&r, ex->listener_ctx);
    return 0;
}

static int late_query(tb_exchange *ex, const char *cid, int64_t now, tb_exchange_order_info *out,
                      tb_exchange_error *xerr)
{
    (void)now;
    (void)xerr;
    late_exchange *x = (late_exchange *)ex;
    x->queries++;
    if (!x->live || strcmp(cid, x->req.client_order_id) != 0) return TB_ENOTFOUND;
    snprintf(out->client_order_id, sizeof(out->client_order_id), "%s", cid);
    snprintf(out->order_id, sizeof(out->order_id), "LATE-1");
    out->status = TB_ORDER_NEW;
    out->quantity = x->req.quantity;
    return 0;
}

static void late_destroy(tb_exchange *ex)
{
    free(ex);
}

static const tb_exchange_vtable late_vt = {
    .name = "late", .submit = late_submit, .query = late_query, .destroy = late_destroy};

static void test_duplicate_after_ambiguous_failure_is_adopted_not_rejected(void **state)
{
    fixture *f = *state;
    close_all(f);
    memset(&f->rec, 0, sizeof(f->rec));
    late_exchange *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->base.vt = &late_vt;
    f->ex = &x->base;
    assert_int_equal(tb_bus_create(NULL, &f->bus), 0);
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = f->ex;
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f->loop), 0);
    oc.loop = f->loop;
    assert_int_equal(tb_order_manager_create(f->bus, &oc, &f->om), 0);
    assert_true(tb_bus_subscribe(f->bus, TB_BUS_ALL, tbt_record, &f->rec) >= 0);
    tb_market_data b = tbt_bar(SYM, 0, "100", "100", "100", "100", "1");
    f->last_bar = tbt_bar_event(&b);
    publish_signal(f, TB_SIGNAL_BUY, "1");

    assert_int_equal(x->submits, 2);
    assert_int_equal(x->queries, 2);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_REJECTED), 0);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CREATED), 1);
    assert_string_equal(tbt_nth(&f->rec, TB_EV_ORDER_CREATED, 0)->u.order_created.order_id,
                        "LATE-1");
    tb_order_status st;
    assert_int_equal(tb_order_manager_status(f->om, "alpha-1", &st), 0);
    assert_int_equal(st, TB_ORDER_NEW);
}

/* ---- cancels ------------------------------------------------------------- */

static void test_cancel_whose_reply_was_lost_is_confirmed_by_look_up(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_LOST_ACK};
    script(f, faults, 1);
    assert_int_equal(tb_order_manager_cancel(f->om, "alpha-1", 5 * TBT_MINUTE), 0);
    time_passes(f);

    assert_int_equal(nreq(&f->log, TB_SIM_REQ_CANCEL), 1); /* not sent twice */
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_QUERY), 1);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CANCELED), 1);
    assert_dec_equal(tbt_nth(&f->rec, TB_EV_ORDER_CANCELED, 0)->u.order_canceled.canceled_quantity,
                     "1");
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
}

static void test_cancel_rate_limited_is_sent_again(void **state)
{
    fixture *f = *state;
    publish_bar(f, 0, "100");
    publish_signal(f, TB_SIGNAL_BUY, "1");
    const tb_sim_fault faults[] = {TB_SIM_FAULT_RATE_LIMIT};
    script(f, faults, 1);
    assert_int_equal(tb_order_manager_cancel(f->om, "alpha-1", 0), 0);
    time_passes(f);
    assert_int_equal(nreq(&f->log, TB_SIM_REQ_CANCEL), 2);
    assert_int_equal(tbt_count(&f->rec, TB_EV_ORDER_CANCELED), 1);
}

/* ---- random faults -------------------------------------------------------- */

typedef struct {
    int created, filled_orders, rejected, retry_alerts, other_alerts;
} outcome;

static int count_outcomes(const tb_event *ev, void *ctx)
{
    outcome *o = ctx;
    if (ev->type == TB_EV_ORDER_CREATED) o->created++;
    if (ev->type == TB_EV_ORDER_FILLED && ev->u.order_filled.status == TB_ORDER_FILLED)
        o->filled_orders++;
    if (ev->type == TB_EV_ORDER_REJECTED) o->rejected++;
    if (ev->type == TB_EV_RISK_ALERT) {
        if (strcmp(ev->u.risk_alert.rule, "order_retries") == 0)
            o->retry_alerts++;
        else
            o->other_alerts++;
    }
    return 0;
}

static void test_every_client_order_id_is_accepted_at_most_once_under_random_faults(void **state)
{
    fixture *f = *state;
    tb_sim_faults fs;
    tb_sim_faults_init(&fs);
    char err[200];
    assert_int_equal(tb_sim_faults_parse("timeout:0.2,lost_ack:0.2,server_error:0.2,"
                                         "rate_limit:0.1,connection_lost:0.1,query_timeout:0.3",
                                         &fs, err, sizeof(err)),
                     0);
    fs.seed = 42;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.max_attempts = 4; /* some orders must run out, too */
    open_with(f, &fs, &oc);
    outcome o = {0};
    tb_bus_subscribe(f->bus, TB_BUS_ALL, count_outcomes, &o);
    assert_int_equal(tb_bus_unsubscribe(f->bus, f->rec_sub), 0); /* it would overflow */
    const int orders = 200;
    for (int i = 0; i < orders; i++) {
        publish_bar(f, i, "100");
        publish_signal(f, i % 2 ? TB_SIGNAL_SELL : TB_SIGNAL_BUY, "0.5");
    }
    publish_bar(f, orders, "100");

    tb_sim_exchange_stats st = tb_sim_exchange_get_stats(f->ex);
    assert_int_equal(st.ids_accepted_twice, 0);
    assert_int_equal(st.distinct_ids_accepted, st.accepted);
    assert_true(st.faults[TB_SIM_FAULT_LOST_ACK] > 10);
    assert_true(st.faults[TB_SIM_FAULT_TIMEOUT] > 10);
    /* Every order ends filled or rejected with the reason; an accepted one
     * always fills (it is on the book, the exchange is fine), even one that
     * was given up while live... which the manager cancels first. */
    assert_int_equal(o.filled_orders + o.rejected, orders);
    assert_int_equal(o.created, o.filled_orders);
    assert_true(o.retry_alerts > 0);
    assert_int_equal(o.retry_alerts, o.rejected);
    assert_int_equal(o.other_alerts, 0);
    assert_int_equal(tb_order_manager_open_orders(f->om), 0);
    assert_int_equal(tb_sim_exchange_open_orders(f->ex), 0);
    char cid[TB_ORDER_ID_LEN];
    for (int i = 1; i <= orders; i++) {
        snprintf(cid, sizeof(cid), "alpha-%d", i);
        uint32_t submits = 0, accepts = 0;
        if (tb_sim_exchange_id_stats(f->ex, cid, &submits, &accepts) == 0)
            assert_true(accepts <= 1);
    }
}

/* ---- the fault spec -------------------------------------------------------- */

static void test_fault_spec_parses_the_documented_example(void **state)
{
    (void)state;
    tb_sim_faults fs;
    tb_sim_faults_init(&fs);
    fs.seed = 99;
    char err[200] = "";
    assert_int_equal(tb_sim_faults_parse("timeout:0.1,server_error:0.05, rate_limit:0.05 ,"
                                         "lost_ack:0.05,retry_after_ms:1500",
                                         &fs, err, sizeof(err)),
                     0);
    assert_dec_equal(fs.timeout, "0.1");
    assert_dec_equal(fs.server_error, "0.05");
    assert_dec_equal(fs.rate_limit, "0.05");
    assert_dec_equal(fs.lost_ack, "0.05");
    assert_dec_equal(fs.connection_lost, "0");
    assert_int_equal(fs.retry_after, 1500 * MS);
    assert_int_equal(fs.seed, 99); /* a key of its own: kept */
    assert_true(tb_sim_faults_enabled(&fs));
    assert_int_equal(tb_sim_faults_parse("none", &fs, err, sizeof(err)), 0);
    assert_false(tb_sim_faults_enabled(&fs));
    assert_int_equal(tb_sim_faults_parse("", &fs, err, sizeof(err)), 0);
    assert_false(tb_sim_faults_enabled(&fs));
}

static void expect_parse_error(const char *spec, const char *message)
{
    tb_sim_faults fs;
    tb_sim_faults_init(&fs);
    fs.timeout = 7;
    char err[300] = "";
    assert_int_equal(tb_sim_faults_parse(spec, &fs, err, sizeof(err)), TB_EPARSE);
    if (!strstr(err, message)) fail_msg("'%s': error '%s' lacks '%s'", spec, err, message);
    assert_int_equal(fs.timeout, 7); /* untouched */
}

static void test_fault_spec_errors_name_the_bad_item(void **state)
{
    (void)state;
    expect_parse_error("timeout:0.1,tmeout:0.1", "item 2: unknown fault 'tmeout' (known: timeout");
    expect_parse_error("timeout=0.1", "item 1 'timeout=0.1': expected NAME:VALUE");
    expect_parse_error("timeout:0.1,,lost_ack:0.1", "item 2 '': expected NAME:VALUE");
    expect_parse_error("lost_ack:1.5", "item 1: lost_ack: '1.5' is not a probability in [0, 1]");
    expect_parse_error("lost_ack:-0.1", "'-0.1' is not a probability");
    expect_parse_error("timeout:abc", "item 1: timeout: 'abc' is not a probability");
    expect_parse_error("timeout:", "item 1 'timeout:': expected NAME:VALUE");
    expect_parse_error("timeout:0.1,timeout:0.2", "item 2: 'timeout' given twice");
    expect_parse_error("retry_after_ms:1.5", "retry_after_ms: '1.5' is not a whole number");
    expect_parse_error("timeout:0.6,lost_ack:0.5", "add up to 1.1, more than 1");
}

static void test_sim_refuses_fault_probabilities_out_of_range(void **state)
{
    (void)state;
    tb_sim_exchange_config xc;
    tb_sim_exchange_config_init(&xc);
    xc.faults.timeout = tbt_dec("0.7");
    xc.faults.lost_ack = tbt_dec("0.7");
    tb_exchange *ex = NULL;
    char err[160] = "";
    assert_int_equal(tb_sim_exchange_create(&xc, &ex, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "add up to more than 1"));
    xc.faults.lost_ack = tbt_dec("-0.1");
    assert_int_equal(tb_sim_exchange_create(&xc, &ex, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "[0, 1]"));
    assert_null(ex);
}

/* ---- a whole backtest under faults ------------------------------------- */

typedef struct {
    tbt_fill_log f;
    const tb_exchange *ex; /* seen by the observer: the pipeline's own exchange */
    uint64_t faulted;
} run_log;

static void pipeline_observe(const tb_exchange *ex, const tb_sim_request *r, void *ctx)
{
    run_log *l = ctx;
    l->ex = ex;
    if (r->fault != TB_SIM_FAULT_NONE) l->faulted++;
}

/* Runs the bundled January BTCUSDT minute bars through the whole pipeline
 * (a MARKET trend strategy and a LIMIT breakout one, partial fills on) with
 * the fault spec (NULL: none); returns the result, fills and sim stats. */
static void run_pipeline(const char *faults, tb_backtest_result *res, run_log *l,
                         tb_sim_exchange_stats *xs)
{
    char err[300] = "", path[512];
    tb_config cfg;
    tb_config_init(&cfg);
    tbt_config_two_strategies(&cfg, "0.002", path, sizeof(path));
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    /* The [exchange] faults key is the config's to parse; here the spec is
     * set on the built config directly. */
    cfg.exchange.track_ids = 1;
    cfg.exchange.observer = pipeline_observe;
    cfg.exchange.observer_ctx = l;
    if (faults) {
        if (tb_sim_faults_parse(faults, &cfg.exchange.faults, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        cfg.exchange.faults.seed = 2024;
    }
    tb_pipeline *p;
    if (tb_pipeline_create(&cfg, NULL, &p, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_true(tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, tbt_record_fills, &l->f) >= 0);
    tbt_push_csv(p, path, 0);
    assert_int_equal(tb_pipeline_result(p, res), 0);
    assert_non_null(l->ex);
    *xs = tb_sim_exchange_get_stats(l->ex);
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
}

static void
test_pipeline_under_faults_fills_exactly_as_without_and_accepts_each_id_once(void **state)
{
    (void)state;
    tb_backtest_result a, b;
    run_log la = {0}, lb = {0};
    tb_sim_exchange_stats xa, xb;
    run_pipeline(NULL, &a, &la, &xa);
    run_pipeline("timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05", &b, &lb, &xb);

    /* The faults happened, all of them, and nothing was given up. */
    assert_int_equal(la.faulted, 0);
    assert_true(xb.faults[TB_SIM_FAULT_TIMEOUT] > 0);
    assert_true(xb.faults[TB_SIM_FAULT_LOST_ACK] > 0);
    assert_true(xb.faults[TB_SIM_FAULT_SERVER_ERROR] + xb.faults[TB_SIM_FAULT_SERVER_ERROR_AFTER] >
                0);
    assert_true(xb.faults[TB_SIM_FAULT_RATE_LIMIT] > 0);
    assert_int_equal(lb.f.retry_alerts, 0);
    assert_true(xb.submits > xa.submits);

    /* Exactly the same fills: time, side, quantity, price, commission; the
     * same positions, PnL, fees and cash; the same events of each type. */
    assert_true(a.orders > 20);
    tbt_assert_same_trading(&a, &la.f, &b, &lb.f, 0);
    assert_int_equal(a.cash, b.cash);
    assert_int_equal(a.final_equity, b.final_equity);
    assert_int_equal(a.dead_letters, 0);
    assert_int_equal(b.dead_letters, 0);
    for (int t = 0; t < TB_EV_COUNT; t++)
        assert_int_equal(a.events[t], b.events[t]);
    assert_int_equal(a.npositions, b.npositions);
    for (size_t i = 0; i < a.npositions; i++) {
        assert_string_equal(a.positions[i].strategy_id, b.positions[i].strategy_id);
        assert_int_equal(a.positions[i].current_quantity, b.positions[i].current_quantity);
        assert_int_equal(a.positions[i].entry_price, b.positions[i].entry_price);
        assert_int_equal(a.positions[i].realized_pnl, b.positions[i].realized_pnl);
        assert_int_equal(a.positions[i].unrealized_pnl, b.positions[i].unrealized_pnl);
        assert_int_equal(a.total_realized[i], b.total_realized[i]);
    }

    /* The exchange accepted each client order id exactly once, and the same
     * orders as without faults. */
    assert_int_equal(xb.ids_accepted_twice, 0);
    assert_int_equal(xb.distinct_ids_accepted, xb.accepted);
    assert_int_equal(xb.accepted, xa.accepted);
    /* A rejection whose reply was lost is sent again and rejected again:
     * the exchange saw more, the pipeline the same OrderRejected events. */
    assert_true(xb.rejected >= xa.rejected);
    assert_true(xb.max_submits_per_id > 1);

    tb_backtest_result_free(&a);
    tb_backtest_result_free(&b);
    tbt_fill_log_free(&la.f);
    tbt_fill_log_free(&lb.f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_market_order_after_timeout_that_never_arrived_is_resent_and_fills_once),
        T(test_market_order_after_lost_ack_is_found_not_resent_and_fills_once),
        T(test_server_error_before_processing_is_looked_up_then_resent_and_fills_once),
        T(test_server_error_after_processing_is_found_not_resent_and_fills_once),
        T(test_rate_limit_waits_retry_after_then_resends_without_look_up),
        T(test_connection_lost_is_resent_without_look_up),
        T(test_failed_look_up_is_retried_as_a_look_up_never_a_send),
        T(test_retries_exhausted_reject_the_order_with_reason_and_order_retries_alert),
        T(test_retries_exhausted_while_in_doubt_cancel_the_order_on_the_exchange),
        T(test_max_total_bounds_the_time_spent_waiting),
        T(test_a_retry_waits_on_a_timer_while_later_bars_keep_flowing),
        T(test_cancel_of_an_order_still_in_retry_withdraws_it),
        T(test_a_replacing_signal_waits_for_the_cancel_in_retry),
        T(test_backoff_waits_follow_full_jitter_bounds_deterministic_per_seed),
        T(test_duplicate_after_ambiguous_failure_is_adopted_not_rejected),
        T(test_cancel_whose_reply_was_lost_is_confirmed_by_look_up),
        T(test_cancel_rate_limited_is_sent_again),
        T(test_every_client_order_id_is_accepted_at_most_once_under_random_faults),
        T(test_fault_spec_parses_the_documented_example),
        T(test_fault_spec_errors_name_the_bad_item),
        T(test_sim_refuses_fault_probabilities_out_of_range),
        T(test_pipeline_under_faults_fills_exactly_as_without_and_accepts_each_id_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
