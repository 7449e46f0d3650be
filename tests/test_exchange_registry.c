/* The exchange registry: `[exchange] type` picks an adapter, its own keys
 * are checked with file:line and dumped by config check, and a program
 * registers a type of its own (tb_config.extra_exchanges) that a backtest
 * then trades on, through the public API only. The engine knows nothing of
 * the "closefill" adapter below. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tb_test_support.h"
#include "tradebus/tradebus.h"
#include "tradebus/binance.h"

/* ---- closefill: a tiny adapter defined by the test ----------------------
 * Fills every MARKET order in full at submit, at the last bar's close (or
 * high, with price = high) of its symbol, charging fee_bps (0 by default);
 * anything else is rejected. Its order ids are "<prefix>-N". It keeps a
 * cash account so balances can be read through the port. */

typedef struct {
    int creates;
    uint64_t submits, fills;
    char prefix[16];
} cf_log;

typedef struct {
    char symbol[TB_SYMBOL_LEN];
    tb_decimal close, high;
} cf_sym;

typedef struct {
    tb_exchange base; /* first: the port's handle */
    cf_log *log;      /* the type's ctx: borrowed */
    char prefix[16];
    tb_decimal fee_bps, cash;
    int at_high;
    cf_sym syms[8];
    size_t nsyms;
    uint64_t next_id;
} closefill;

static cf_sym *cf_find(closefill *x, const char *symbol, int create)
{
    for (size_t i = 0; i < x->nsyms; i++)
        if (strcmp(x->syms[i].symbol, symbol) == 0) return &x->syms[i];
    if (!create || x->nsyms == sizeof(x->syms) / sizeof(x->syms[0])) return NULL;
    cf_sym *s = &x->syms[x->nsyms++];
    memset(s, 0, sizeof(*s));
    snprintf(s->symbol, sizeof(s->symbol), "%s", symbol);
    return s;
}

static void cf_respond(closefill *x, const tb_order_placement_request *req,
                       tb_exchange_response_kind kind, int64_t now, tb_exchange_response *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    snprintf(r->client_order_id, sizeof(r->client_order_id), "%s", req->client_order_id);
    snprintf(r->order_id, sizeof(r->order_id), "%s-%llu", x->prefix,
             (unsigned long long)x->next_id);
    r->time = now;
}

static int cf_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                     tb_exchange_error *xerr)
{
    (void)xerr;
    closefill *x = (closefill *)ex;
    x->log->submits++;
    x->next_id++;
    tb_exchange_response r;
    cf_sym *s = cf_find(x, req->symbol, 0);
    if (req->order_type != TB_ORDER_MARKET || !s || s->close <= 0) {
        cf_respond(x, req, TB_XR_REJECTED, now, &r);
        r.reason = TB_REJECT_EXCHANGE;
        snprintf(r.text, sizeof(r.text), "closefill: MARKET orders on a seen symbol only");
        x->base.listener(&r, x->base.listener_ctx);
        return 0;
    }
    cf_respond(x, req, TB_XR_ACCEPTED, now, &r);
    x->base.listener(&r, x->base.listener_ctx);
    tb_decimal price = x->at_high ? s->high : s->close, notional, fee;
    if (tb_dec_mul(price, req->quantity, TB_ROUND_HALF_UP, &notional) != 0 ||
        tb_dec_muldiv_int(notional, x->fee_bps, 10000 * TB_DECIMAL_ONE, TB_ROUND_HALF_UP, &fee) !=
            0)
        return TB_EOVERFLOW;
    if (req->side == TB_SIDE_BUY)
        x->cash -= notional + fee;
    else
        x->cash += notional - fee;
    cf_respond(x, req, TB_XR_FILL, now, &r);
    r.quantity = req->quantity;
    r.price = price;
    r.commission = fee;
    r.trade_id = x->next_id;
    x->log->fills++;
    x->base.listener(&r, x->base.listener_ctx);
    return 0;
}

static int cf_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    cf_sym *s = cf_find((closefill *)ex, bar->symbol, 1);
    if (!s) return TB_EFULL;
    s->close = bar->close;
    s->high = bar->high;
    return 0;
}

static int cf_cash(tb_exchange *ex, tb_decimal *out)
{
    *out = ((closefill *)ex)->cash;
    return 0;
}

static void cf_destroy(tb_exchange *ex)
{
    free(ex);
}

static const tb_exchange_vtable cf_vt = {
    .name = "closefill",
    .submit = cf_submit,
    .on_market_data = cf_on_market_data,
    .destroy = cf_destroy,
    .cash = cf_cash,
    /* no equity: the pipeline sizes from the Risk Manager's instead */
};

static int cf_prefix_check(const char *value, char *msg, size_t msglen)
{
    size_t n = strlen(value);
    int ok = n >= 1 && n <= 8;
    for (size_t i = 0; ok && i < n; i++)
        ok = (value[i] >= 'A' && value[i] <= 'Z') || (value[i] >= 'a' && value[i] <= 'z');
    if (ok) return 0;
    snprintf(msg, msglen, "'%s' must be 1 to 8 letters", value);
    return TB_ECONFIG;
}

static const tb_exchange_key cf_keys[] = {
    {"prefix", TB_XKEY_TEXT, "CF", NULL, NULL, NULL, "order ids are PREFIX-N", cf_prefix_check},
    {"fee_bps", TB_XKEY_DECIMAL, "0", "0", "100", NULL, "commission in basis points", NULL},
    {"price", TB_XKEY_ENUM, "close", NULL, NULL, "close|high", "which price of the bar fills",
     NULL},
    {"max_orders", TB_XKEY_INT, "0", "0", "1000", NULL, "unused: an integer key", NULL},
    {"verbose", TB_XKEY_BOOL, "false", NULL, NULL, NULL, "unused: a boolean key", NULL},
};

static int cf_create(const tb_exchange_type *type, const tb_config *cfg, tb_loop *loop,
                     tb_exchange **out, char *err, size_t errlen)
{
    (void)loop;
    closefill *x = calloc(1, sizeof(*x));
    if (!x) return TB_ENOMEM;
    x->base.vt = &cf_vt;
    x->log = type->ctx;
    x->cash = cfg->initial_cash;
    snprintf(x->prefix, sizeof(x->prefix), "%s", tb_exchange_param(cfg, "prefix"));
    if (tb_exchange_param_dec(cfg, "fee_bps", &x->fee_bps) != 0) {
        snprintf(err, errlen, "fee_bps unreadable");
        free(x);
        return TB_ECONFIG;
    }
    x->at_high = strcasecmp(tb_exchange_param(cfg, "price"), "high") == 0;
    x->log->creates++;
    snprintf(x->log->prefix, sizeof(x->log->prefix), "%s", x->prefix);
    *out = &x->base;
    return 0;
}

static tb_exchange_type closefill_type(cf_log *log)
{
    tb_exchange_type t = {.name = "closefill",
                          .description = "test adapter: MARKET fills at the bar's close",
                          .keys = cf_keys,
                          .nkeys = sizeof(cf_keys) / sizeof(cf_keys[0]),
                          .create = cf_create,
                          .ctx = log};
    return t;
}

/* ---- fixture ------------------------------------------------------------- */

typedef struct {
    char dir[512], path[1024];
    tb_config cfg;
    cf_log log;
    tb_exchange_type type;
    const tb_exchange_type *extra[1];
    char err[600];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tbt_temp_dir(f->dir, sizeof(f->dir));
    tb_config_init(&f->cfg);
    f->type = closefill_type(&f->log);
    f->extra[0] = &f->type;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_config_free(&f->cfg);
    tbt_remove_dir(f->dir);
    free(f);
    return 0;
}

/* Line 1-6: [backtest] and one strategy; the [exchange] text starts on 7. */
#define HEAD                                                                                       \
    "[backtest]\n"                                                                                 \
    "data = " TB_SOURCE_DIR "/data/BTCUSDT-1m-2024-01.csv\n"                                       \
    "[strategy.trend]\n"                                                                           \
    "type = sma_cross\n"                                                                           \
    "symbol = BTCUSDT\n"                                                                           \
    "quantity = 0.01\n"

/* Loads HEAD + exchange, with closefill registered unless bare. */
static void load(fixture *f, const char *exchange, int bare)
{
    char text[2048];
    snprintf(text, sizeof(text), "%s%s", HEAD, exchange);
    tbt_write_file(f->dir, "cfg.ini", text, f->path, sizeof(f->path));
    if (tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    if (!bare) {
        f->cfg.extra_exchanges = f->extra;
        f->cfg.nextra_exchanges = 1;
    }
}

static void build_fails_with(fixture *f, const char *suffix)
{
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1600];
    snprintf(want, sizeof(want), "%s%s", f->path, suffix);
    assert_string_equal(f->err, want);
}

/* ---- a registered type runs a backtest ---------------------------------- */

typedef struct {
    char prefix[16];
    tb_decimal close; /* the last bar's */
    uint64_t fills, foreign;
    int sub_bar, sub_fill;
} fill_watch;

static int watch_event(const tb_event *ev, void *ctx)
{
    fill_watch *w = ctx;
    if (ev->type == TB_EV_MARKET_DATA) {
        w->close = ev->u.market_data.close;
    } else if (ev->type == TB_EV_ORDER_FILLED) {
        const tb_order_filled *fl = &ev->u.order_filled;
        size_t n = strlen(w->prefix);
        /* Every fill is closefill's: its ids, the bar's close, no fee. */
        if (strncmp(fl->order_id, w->prefix, n) != 0 || fl->order_id[n] != '-' ||
            fl->filled_price != w->close || fl->commission != 0)
            w->foreign++;
        w->fills++;
    }
    return 0;
}

static int watch_start(tb_pipeline *p, void *ctx)
{
    fill_watch *w = ctx;
    w->sub_bar = tb_bus_subscribe(tb_pipeline_bus(p), TB_EV_MARKET_DATA, watch_event, w);
    w->sub_fill = tb_bus_subscribe(tb_pipeline_bus(p), TB_EV_ORDER_FILLED, watch_event, w);
    return w->sub_bar < 0 ? w->sub_bar : w->sub_fill < 0 ? w->sub_fill : 0;
}

static void watch_stop(tb_pipeline *p, void *ctx)
{
    fill_watch *w = ctx;
    tb_bus_unsubscribe(tb_pipeline_bus(p), w->sub_fill);
    tb_bus_unsubscribe(tb_pipeline_bus(p), w->sub_bar);
}

static void test_registered_type_trades_a_backtest_with_its_own_keys(void **state)
{
    fixture *f = *state;
    load(f,
         "[exchange]\n"
         "type = closefill\n"
         "prefix = XT\n"
         "price = CLOSE\n",
         0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    assert_ptr_equal(f->cfg.exchange_type, &f->type);

    fill_watch w;
    memset(&w, 0, sizeof(w));
    snprintf(w.prefix, sizeof(w.prefix), "XT");
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.on_start = watch_start;
    opt.on_stop = watch_stop;
    opt.hook_ctx = &w;
    tb_backtest_result res;
    if (tb_backtest_run(&f->cfg, &opt, &res, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);

    /* The adapter was created once, read its key, and made every fill. */
    assert_int_equal(f->log.creates, 1);
    assert_string_equal(f->log.prefix, "XT");
    assert_true(f->log.fills > 10);
    assert_int_equal(w.fills, f->log.fills);
    assert_int_equal(res.fills, f->log.fills);
    assert_int_equal(w.foreign, 0);
    assert_int_equal(res.rejected, 0);
    assert_dec_equal(res.fees, "0");
    /* The account's cash came through the port, from closefill. */
    assert_true(res.cash != tbt_dec("10000"));
    tb_backtest_result_free(&res);
}

static void test_registered_type_fills_differently_than_the_simulator(void **state)
{
    /* The same config on sim fills at the next bar's open with a fee: a
     * fill at the close with no fee could only have been closefill's. */
    fixture *f = *state;
    load(f, "[exchange]\ntype = sim\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    fill_watch w;
    memset(&w, 0, sizeof(w));
    snprintf(w.prefix, sizeof(w.prefix), "SIM");
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.on_start = watch_start;
    opt.on_stop = watch_stop;
    opt.hook_ctx = &w;
    tb_backtest_result res;
    if (tb_backtest_run(&f->cfg, &opt, &res, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    assert_int_equal(f->log.creates, 0);
    assert_true(w.fills > 10);
    assert_int_equal(w.foreign, w.fills); /* not at the close, or with a fee */
    tb_backtest_result_free(&res);
}

static void test_adapter_create_failure_names_the_type(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    /* closefill's create fails when it cannot read fee_bps: a copy of its
     * type whose table lacks that key. */
    static const tb_exchange_key only_prefix[] = {
        {"prefix", TB_XKEY_TEXT, "CF", NULL, NULL, NULL, "order ids", NULL}};
    tb_exchange_type t = f->type;
    t.keys = only_prefix;
    t.nkeys = 1;
    tb_config broken = f->cfg; /* shallow: owns nothing, f->cfg frees */
    broken.exchange_type = &t;
    tb_pipeline *p = NULL;
    assert_int_equal(tb_pipeline_create(&broken, NULL, &p, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_null(p);
    assert_string_equal(f->err, "[exchange] closefill: fee_bps unreadable");
    assert_int_equal(f->log.creates, 0);
}

/* ---- errors -------------------------------------------------------------- */

static void test_unknown_type_is_an_error_listing_the_known_types(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\nfee_bps = 5\ntype = kraken\n", 0);
    /* Named where type was written, even after other keys. */
    build_fails_with(f, ":9: [exchange] type: unknown exchange type 'kraken' "
                        "(known: closefill, sim, binance)");
}

static void test_unknown_type_without_registrations_lists_the_builtins(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\n", 1);
    build_fails_with(
        f, ":8: [exchange] type: unknown exchange type 'closefill' (known: sim, binance)");
}

static void test_adapter_key_out_of_range_names_file_line_key_value_and_range(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\nfee_bps = 150\n", 0);
    build_fails_with(f, ":9: [exchange] fee_bps: 150 is out of range [0, 100]");
}

static void test_adapter_int_key_out_of_range(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\nmax_orders = 1001\ntype = closefill\n", 0);
    build_fails_with(f, ":8: [exchange] max_orders: 1001 is out of range [0, 1000]");
}

static void test_adapter_enum_key_names_the_allowed_values(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\nprice = mid\n", 0);
    build_fails_with(f, ":9: [exchange] price: 'mid' must be close or high");
}

static void test_adapter_bool_and_text_checks(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\nverbose = maybe\n", 0);
    build_fails_with(f, ":9: [exchange] verbose: 'maybe' is not true or false");
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    load(f, "[exchange]\ntype = closefill\nprefix = X-1\n", 0);
    build_fails_with(f, ":9: [exchange] prefix: 'X-1' must be 1 to 8 letters");
}

static void test_adapter_unknown_key_is_refused(void **state)
{
    /* sim's keys are not closefill's. */
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\nslippage_bps = 1\n", 0);
    build_fails_with(f, ":9: [exchange] slippage_bps: unknown key");
}

static void test_set_override_is_checked_against_the_type(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\n", 0);
    assert_int_equal(tb_config_set(&f->cfg, "exchange.fee_bps=abc", f->err, sizeof(f->err)), 0);
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(
        f->err, "--set: [exchange] fee_bps: 'abc' is not a decimal number (e.g. 10 or 0.5)");
}

/* ---- config check, readers, the port's balances ------------------------- */

static void test_config_dump_shows_the_type_keys_with_defaults(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = CloseFill\nfee_bps = 2.50\nverbose = YES\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    assert_int_equal(tb_config_dump(&f->cfg, m), 0);
    fclose(m);
    const char *want[] = {
        "  type = closefill                     (default sim)\n",
        "  (closefill: test adapter: MARKET fills at the bar's close)\n",
        "  prefix = CF                          (default)\n",
        "  fee_bps = 2.5                        (default 0)\n",
        "  price = close                        (default)\n",
        "  max_orders = 0                       (default)\n",
        "  verbose = true                       (default false)\n",
        "  api_key = none                       (default)\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i])) fail_msg("no '%s' in:\n%s", want[i], text);
    /* The simulator's keys are not shown for another type. */
    assert_null(strstr(text, "slippage_bps"));
    free(text);
}

static void test_param_readers_give_written_values_then_defaults(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\nmax_orders = 7\nverbose = on\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    long long n = -1;
    int b = -1;
    tb_decimal d = -1;
    assert_int_equal(tb_exchange_param_int(&f->cfg, "max_orders", &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(tb_exchange_param_bool(&f->cfg, "verbose", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(tb_exchange_param_dec(&f->cfg, "fee_bps", &d), 0);
    assert_dec_equal(d, "0");
    assert_string_equal(tb_exchange_param(&f->cfg, "prefix"), "CF");
    assert_null(tb_exchange_param(&f->cfg, "fault_seed"));
    assert_int_equal(tb_exchange_param_int(&f->cfg, "fault_seed", &n), TB_ENOTFOUND);
    assert_int_equal(tb_exchange_param_bool(&f->cfg, "prefix", &b), TB_ECONFIG);
}

static void test_default_type_is_sim_with_balances_through_the_port(void **state)
{
    fixture *f = *state;
    load(f, "", 1);
    assert_int_equal(tb_config_set(&f->cfg, "backtest.initial_cash=2500", f->err, sizeof(f->err)),
                     0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    assert_ptr_equal(f->cfg.exchange_type, tb_exchange_builtin("sim"));
    assert_ptr_equal(f->cfg.exchange_type, tb_exchange_builtin_at(0));
    assert_ptr_equal(tb_exchange_builtin_at(1), &tb_binance_exchange_type);
    assert_null(tb_exchange_builtin_at(2));
    tb_exchange *ex = NULL;
    assert_int_equal(tb_exchange_create_from_config(&f->cfg, NULL, &ex, f->err, sizeof(f->err)), 0);
    tb_decimal cash = 0, equity = 0;
    assert_int_equal(tb_exchange_cash(ex, &cash), 0);
    assert_int_equal(tb_exchange_equity(ex, &equity), 0);
    assert_dec_equal(cash, "2500");
    assert_dec_equal(equity, "2500");
    tb_exchange_destroy(ex);
}

static void test_balances_an_adapter_lacks_are_misuse(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    tb_exchange *ex = NULL;
    assert_int_equal(tb_exchange_create_from_config(&f->cfg, NULL, &ex, f->err, sizeof(f->err)), 0);
    tb_decimal v = 0;
    assert_int_equal(tb_exchange_cash(ex, &v), 0);
    assert_dec_equal(v, "10000");
    assert_int_equal(tb_exchange_equity(ex, &v), TB_EMISUSE);
    assert_int_equal(tb_exchange_cash(NULL, &v), TB_EINVAL);
    tb_exchange_destroy(ex);
}

static void test_create_from_an_unbuilt_config_is_misuse(void **state)
{
    fixture *f = *state;
    tb_exchange *ex = NULL;
    assert_int_equal(tb_exchange_create_from_config(&f->cfg, NULL, &ex, f->err, sizeof(f->err)),
                     TB_EMISUSE);
    assert_null(ex);
}

static void test_legacy_comparison_refuses_another_type(void **state)
{
    fixture *f = *state;
    load(f, "[exchange]\ntype = closefill\n", 0);
    if (tb_config_build(&f->cfg, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    assert_int_equal(tb_legacy_check_config(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_non_null(strstr(f->err, "[exchange] type: the legacy monolith models the simulated "
                                   "exchange only"));
}

static void test_key_check_messages(void **state)
{
    (void)state;
    char msg[200];
    const tb_exchange_key lo = {"x", TB_XKEY_DECIMAL, "1", "0.5", NULL, NULL, "", NULL};
    assert_int_equal(tb_exchange_key_check(&lo, "0.25", msg, sizeof(msg)), TB_ECONFIG);
    assert_string_equal(msg, "0.25 is out of range (at least 0.5)");
    assert_int_equal(tb_exchange_key_check(&lo, "1.123456789", msg, sizeof(msg)), TB_ECONFIG);
    assert_string_equal(msg, "1.123456789 has more than 8 decimals");
    assert_int_equal(tb_exchange_key_check(&lo, "7", msg, sizeof(msg)), 0);
    const tb_exchange_key one = {"x", TB_XKEY_ENUM, "a", NULL, NULL, "a|b|c", "", NULL};
    assert_int_equal(tb_exchange_key_check(&one, "d", msg, sizeof(msg)), TB_ECONFIG);
    assert_string_equal(msg, "'d' must be a, b or c");
    assert_int_equal(tb_exchange_key_check(&one, "B", msg, sizeof(msg)), 0);
    const tb_exchange_key i = {"x", TB_XKEY_INT, "1", NULL, "9", NULL, "", NULL};
    assert_int_equal(tb_exchange_key_check(&i, "1.5", msg, sizeof(msg)), TB_ECONFIG);
    assert_string_equal(msg, "'1.5' is not an integer");
    assert_int_equal(tb_exchange_key_check(&i, "99999999999999999999", msg, sizeof(msg)),
                     TB_ECONFIG);
    assert_string_equal(msg, "99999999999999999999 is out of range (at most 9)");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_registered_type_trades_a_backtest_with_its_own_keys),
        T(test_registered_type_fills_differently_than_the_simulator),
        T(test_adapter_create_failure_names_the_type),
        T(test_unknown_type_is_an_error_listing_the_known_types),
        T(test_unknown_type_without_registrations_lists_the_builtins),
        T(test_adapter_key_out_of_range_names_file_line_key_value_and_range),
        T(test_adapter_int_key_out_of_range),
        T(test_adapter_enum_key_names_the_allowed_values),
        T(test_adapter_bool_and_text_checks),
        T(test_adapter_unknown_key_is_refused),
        T(test_set_override_is_checked_against_the_type),
        T(test_config_dump_shows_the_type_keys_with_defaults),
        T(test_param_readers_give_written_values_then_defaults),
        T(test_default_type_is_sim_with_balances_through_the_port),
        T(test_balances_an_adapter_lacks_are_misuse),
        T(test_create_from_an_unbuilt_config_is_misuse),
        T(test_legacy_comparison_refuses_another_type),
        T(test_key_check_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
