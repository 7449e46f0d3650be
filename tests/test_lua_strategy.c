/* type = lua: the vtable driven directly with small scripts — params checked
 * against the script's declarations, the actions, the indicators, errors
 * with file:line, and the sandbox's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/backtest.h"
#include "tradebus/lua_strategy.h"

#define UNITS(x) ((tb_decimal)(x)*TB_DECIMAL_ONE)

static char dir[512];
static char path[1024];
static char err[512];

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_dir(dir);
    return 0;
}

/* Writes the script to dir/s.lua and creates an instance with the extra
 * params; returns create's code (state in *st on success). */
static int create_with(const char *script, const tb_param *extra, size_t nextra, void **st)
{
    tbt_write_file(dir, "s.lua", script, path, sizeof path);
    tb_param p[8] = {{"script", path}};
    for (size_t i = 0; i < nextra && i < 7; i++)
        p[i + 1] = extra[i];
    err[0] = 0;
    *st = NULL;
    return tb_lua_strategy_vtable.create(&tb_lua_strategy_vtable, p, nextra + 1, st, err,
                                         sizeof err);
}

static void *must_create(const char *script, const tb_param *extra, size_t nextra)
{
    void *st;
    int rc = create_with(script, extra, nextra, &st);
    if (rc) fail_msg("create failed: %d %s", rc, err);
    return st;
}

static tb_market_data bar_at(double close, int i)
{
    tb_market_data b;
    memset(&b, 0, sizeof b);
    snprintf(b.symbol, sizeof b.symbol, "BTCUSDT");
    b.open = b.high = b.low = b.close = (tb_decimal)(close * 1e8);
    b.volume = UNITS(1);
    b.open_time = (int64_t)i * 60000000000LL;
    b.close_time = b.open_time + 59999000000LL;
    return b;
}

static int step(void *st, double close, tb_decimal pos, tb_strategy_decision *d)
{
    tb_market_data b = bar_at(close, 0);
    tb_strategy_ctx ctx = {.position = pos, .strategy_id = "s1"};
    return tb_lua_strategy_vtable.on_bar(st, &b, &ctx, d);
}

static void test_lua_registered_as_type_lua(void **state)
{
    (void)state;
    assert_ptr_equal(tb_strategy_builtin("lua"), &tb_lua_strategy_vtable);
}

static void test_lua_missing_script_names_key_and_fix(void **state)
{
    (void)state;
    void *st = NULL;
    assert_int_equal(
        tb_lua_strategy_vtable.create(&tb_lua_strategy_vtable, NULL, 0, &st, err, sizeof err),
        TB_ECONFIG);
    assert_non_null(strstr(err, "script: missing: add script = "));
}

static void test_lua_syntax_error_names_file_line(void **state)
{
    (void)state;
    void *st;
    assert_int_equal(create_with("function on_bar(bar, ctx)\n  local x = = 1\nend\n", NULL, 0, &st),
                     TB_ECONFIG);
    char want[1100];
    snprintf(want, sizeof want, "script: %s:2: ", path);
    assert_non_null(strstr(err, want));
}

static void test_lua_script_without_on_bar_is_refused(void **state)
{
    (void)state;
    void *st;
    assert_int_equal(create_with("x = 1\n", NULL, 0, &st), TB_ECONFIG);
    assert_non_null(strstr(err, "defines no function on_bar"));
}

static void test_lua_declared_params_reach_init_with_config_values(void **state)
{
    (void)state;
    const char *script = "params = {period = {default = 20, min = 2, max = 500}, "
                         "name = {default = 'x'}, on = {default = false}}\n"
                         "local got\n"
                         "function init(p) got = p end\n"
                         "function on_bar(bar, ctx)\n"
                         "  if got.period == 7 and got.name == 'abc' and got.on == true then "
                         "buy(1) end\nend\n";
    tb_param extra[] = {{"period", "7"}, {"name", "abc"}, {"on", "yes"}};
    void *st = must_create(script, extra, 3);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_param_out_of_declared_range_is_config_error(void **state)
{
    (void)state;
    tb_param extra[] = {{"period", "1"}};
    void *st;
    assert_int_equal(create_with("params = {period = {default = 20, min = 2, max = 500}}\n"
                                 "function on_bar() end\n",
                                 extra, 1, &st),
                     TB_ECONFIG);
    assert_non_null(strstr(err, "period: expected a number from 2 to 500, got '1'"));
}

static void test_lua_undeclared_key_is_config_error(void **state)
{
    (void)state;
    tb_param extra[] = {{"perod", "3"}};
    void *st;
    assert_int_equal(
        create_with("params = {period = {default = 20}}\nfunction on_bar() end\n", extra, 1, &st),
        TB_ECONFIG);
    assert_non_null(strstr(err, "'perod'"));
}

static void test_lua_buy_quantity_is_exact_decimal(void **state)
{
    (void)state;
    tb_param extra[] = {{"quantity", "0.01"}};
    void *st = must_create("params = {quantity = {default = 1}}\nlocal p\n"
                           "function init(x) p = x end\n"
                           "function on_bar(bar, ctx) buy(p.quantity) end\n",
                           extra, 1);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    assert_int_equal(d.volume, 1000000); /* 0.01 exactly */
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_target_orders_the_difference(void **state)
{
    (void)state;
    void *st = must_create("function on_bar(bar, ctx) target(-2) end\n", NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, UNITS(1), &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_SELL);
    assert_int_equal(d.volume, UNITS(3));
    assert_int_equal(step(st, 100, UNITS(-2), &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_no_action_is_hold(void **state)
{
    (void)state;
    void *st = must_create("function on_bar(bar, ctx) end\n", NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_runtime_error_fails_the_bar_then_holds(void **state)
{
    (void)state;
    void *st = must_create("local n = 0\nfunction on_bar(bar, ctx)\n  n = n + 1\n"
                           "  if n == 2 then error('boom') end\n  buy(1)\nend\n",
                           NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    assert_int_equal(step(st, 100, 0, &d), TB_EHANDLER);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    /* Stopped: the script is not run again, so it does not buy. */
    assert_int_equal(step(st, 100, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_two_actions_where_the_host_takes_one_is_an_error(void **state)
{
    (void)state;
    void *st = must_create("function on_bar(bar, ctx) buy(1) sell(1) end\n", NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), TB_EHANDLER);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_indicator_outside_init_is_an_error(void **state)
{
    (void)state;
    void *st = must_create("function on_bar(bar, ctx) local s = sma(3) end\n", NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 100, 0, &d), TB_EHANDLER);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_sma_matches_engine_and_is_nil_until_ready(void **state)
{
    (void)state;
    void *st = must_create("local s\nfunction init() s = sma(3) end\n"
                           "function on_bar(bar, ctx)\n"
                           "  local ok = s:update(bar.close)\n"
                           "  if not ok then assert(s.value == nil) return end\n"
                           "  if s.value == 20 then buy(1) end\nend\n",
                           NULL, 0);
    tb_strategy_decision d;
    assert_int_equal(step(st, 10, 0, &d), 0);
    assert_int_equal(step(st, 20, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_HOLD);
    assert_int_equal(step(st, 30, 0, &d), 0);
    assert_int_equal(d.signal, TB_SIGNAL_BUY);
    tb_lua_strategy_vtable.destroy(st);
}

static void test_lua_random_is_seeded_from_config(void **state)
{
    (void)state;
    /* Buys a quantity drawn from math.random: same seed, same draw. */
    const char *script = "function on_bar(bar, ctx) buy(math.random(1, 1000000)) end\n";
    tb_param s7[] = {{"seed", "7"}}, s8[] = {{"seed", "8"}};
    tb_strategy_decision a, b, c;
    void *st = must_create(script, s7, 1);
    assert_int_equal(step(st, 1, 0, &a), 0);
    tb_lua_strategy_vtable.destroy(st);
    st = must_create(script, s7, 1);
    assert_int_equal(step(st, 1, 0, &b), 0);
    tb_lua_strategy_vtable.destroy(st);
    st = must_create(script, s8, 1);
    assert_int_equal(step(st, 1, 0, &c), 0);
    tb_lua_strategy_vtable.destroy(st);
    assert_int_equal(a.volume, b.volume);
    assert_int_not_equal(a.volume, c.volume);
}

/* ---- the sandbox: each refusal is a load-time error naming the script ---- */

static void refused(const char *code, const char *want)
{
    char script[1536];
    snprintf(script, sizeof script, "%s\nfunction on_bar() end\n", code);
    void *st;
    assert_int_equal(create_with(script, NULL, 0, &st), TB_ECONFIG);
    if (!strstr(err, want)) fail_msg("expected '%s' in: %s", want, err);
}

static void test_lua_cannot_write_files(void **state)
{
    (void)state;
    char target[1100];
    snprintf(target, sizeof target, "%s/written.txt", dir);
    char code[1300];
    snprintf(code, sizeof code, "io.open('%s', 'w'):write('x')", target);
    refused(code, "global 'io'");
    assert_int_not_equal(access(target, F_OK), 0);
}

static void test_lua_cannot_read_files(void **state)
{
    (void)state;
    refused("local f = io.open('/etc/passwd')", "global 'io'");
    refused("dofile('/etc/passwd')", "global 'dofile'");
    refused("loadfile('/etc/passwd')", "global 'loadfile'");
}

static void test_lua_cannot_run_programs(void **state)
{
    (void)state;
    refused("os.execute('touch /tmp/tb_lua_pwned')", "global 'os'");
    refused("io.popen('id')", "global 'io'");
    assert_int_not_equal(access("/tmp/tb_lua_pwned", F_OK), 0);
}

static void test_lua_cannot_reach_ffi(void **state)
{
    (void)state;
    refused("local ffi = require('ffi')", "global 'require'");
    refused("ffi.C.system('id')", "global 'ffi'");
    refused("local x = package.loaded", "global 'package'");
}

static void test_lua_cannot_reach_jit_or_debug(void **state)
{
    (void)state;
    refused("jit.off()", "global 'jit'");
    refused("debug.getregistry()", "global 'debug'");
}

static void test_lua_cannot_load_code_or_bytecode(void **state)
{
    (void)state;
    refused("load('return 1')", "global 'load'");
    refused("loadstring('return 1')", "global 'loadstring'");
    refused("string.dump(function() end)", "field 'dump'");
    /* A precompiled script file is refused before Lua sees it. */
    void *st;
    assert_int_equal(create_with("\x1bLJ\x02 rest", NULL, 0, &st), TB_ECONFIG);
    assert_non_null(strstr(err, "precompiled bytecode"));
}

/* ---- through the pipeline: orders, brackets, cancels, the account ------- */

#define MAX_EV 512

typedef struct {
    tb_event ev[MAX_EV];
    size_t n;
} evlog;

static evlog run_log;

static int log_event(const tb_event *ev, void *ctx)
{
    evlog *l = ctx;
    if (l->n < MAX_EV) l->ev[l->n++] = *ev;
    return 0;
}

static tb_market_data ohlc(const char *sym, int i, double o, double h, double l, double c)
{
    tb_market_data b = bar_at(c, i);
    snprintf(b.symbol, sizeof b.symbol, "%s", sym);
    b.open = (tb_decimal)llround(o * 1e8);
    b.high = (tb_decimal)llround(h * 1e8);
    b.low = (tb_decimal)llround(l * 1e8);
    return b;
}

/* Runs the script as [strategy.s] on BTCUSDT (sets: more config keys) over
 * the bars, every event in run_log; returns the dead letters. */
static size_t run_script(const char *script, const char *const *sets, size_t nsets,
                         const tb_market_data *bars, size_t nbars)
{
    tbt_write_file(dir, "s.lua", script, path, sizeof path);
    tb_config cfg;
    tb_config_init(&cfg);
    char e[512], kv[1200];
    snprintf(kv, sizeof kv, "strategy.s.script=%s", path);
    const char *base[] = {"strategy.s.type=lua", kv, "strategy.s.symbol=BTCUSDT",
                          "backtest.initial_cash=10000"};
    int symbols = 0;
    for (size_t i = 0; i < nsets; i++)
        symbols |= strncmp(sets[i], "strategy.s.symbols=", 19) == 0;
    for (size_t i = 0; i < 4; i++)
        if ((i != 2 || !symbols) && tb_config_set(&cfg, base[i], e, sizeof e))
            fail_msg("%s: %s", base[i], e);
    for (size_t i = 0; i < nsets; i++)
        if (tb_config_set(&cfg, sets[i], e, sizeof e)) fail_msg("%s: %s", sets[i], e);
    tb_config_add_data(&cfg, "unused.csv");
    if (tb_config_build(&cfg, e, sizeof e)) fail_msg("build: %s", e);
    tb_pipeline *p;
    if (tb_pipeline_create(&cfg, NULL, &p, e, sizeof e)) fail_msg("pipeline: %s", e);
    run_log.n = 0;
    assert_true(tb_bus_subscribe(tb_pipeline_bus(p), TB_BUS_ALL, log_event, &run_log) >= 0);
    for (size_t i = 0; i < nbars; i++)
        tb_pipeline_push_bar(p, &bars[i]);
    size_t dead = tb_bus_dead_letter_count(tb_pipeline_bus(p));
    tb_pipeline_destroy(p);
    tb_config_free(&cfg);
    return dead;
}

/* The i-th logged event of type t (from 0), or NULL. */
static const tb_event *nth(tb_event_type t, int i)
{
    for (size_t k = 0; k < run_log.n; k++)
        if (run_log.ev[k].type == t && i-- == 0) return &run_log.ev[k];
    return NULL;
}

static int count_of(tb_event_type t)
{
    int n = 0;
    for (size_t k = 0; k < run_log.n; k++)
        n += run_log.ev[k].type == t;
    return n;
}

static const char *stopped_reason(void)
{
    for (size_t k = 0; k < run_log.n; k++)
        if (run_log.ev[k].type == TB_EV_RISK_ALERT &&
            !strcmp(run_log.ev[k].u.risk_alert.rule, "strategy_stopped"))
            return run_log.ev[k].u.risk_alert.detail;
    return NULL;
}

#define NO_STOP()                                                                                  \
    do {                                                                                           \
        const char *why_ = stopped_reason();                                                       \
        if (why_) fail_msg("the script stopped: %s", why_);                                        \
    } while (0)

/* buy(q, {limit = p}) rests at p (on the tick) until a bar trades there,
 * and fills at p; the bars that stay above it fill nothing. */
static void test_lua_limit_at_its_price_rests_until_a_bar_reaches_it(void **state)
{
    (void)state;
    const char *script = "n = 0\n"
                         "function on_bar(bar, ctx)\n"
                         "  n = n + 1\n"
                         "  if n == 1 then buy(2, {limit = 95.123}) end\n"
                         "end\n";
    const char *sets[] = {"symbol.BTCUSDT.tick_size=0.01"};
    tb_market_data b[] = {ohlc("BTCUSDT", 0, 100, 101, 99, 100),
                          ohlc("BTCUSDT", 1, 100, 101, 96, 97), ohlc("BTCUSDT", 2, 97, 98, 94, 96),
                          ohlc("BTCUSDT", 3, 96, 97, 95, 96)};
    assert_int_equal(run_script(script, sets, 1, b, 4), 0);
    NO_STOP();
    const tb_event *s = nth(TB_EV_SIGNAL_GENERATED, 0);
    assert_non_null(s);
    assert_int_equal(s->u.signal.order_type, TB_ORDER_LIMIT);
    assert_int_equal(s->u.signal.limit_price, 9512000000); /* a buy's price rounds down */
    const tb_event *c = nth(TB_EV_ORDER_CREATED, 0);
    assert_non_null(c);
    assert_int_equal(c->u.order_created.price, 9512000000);
    assert_int_equal(count_of(TB_EV_ORDER_FILLED), 1);
    const tb_event *f = nth(TB_EV_ORDER_FILLED, 0);
    assert_int_equal(f->u.order_filled.filled_price, 9512000000);
    assert_int_equal(f->u.order_filled.filled_quantity, UNITS(2));
    assert_true(f->timestamp > b[1].close_time); /* bar 2 stayed above it */
}

/* orders() lists what works (id, side, type, price, quantity, origin);
 * cancel(order) cancels that one (cause "requested") and the position the
 * strategy is shown goes back to what it holds. */
static void test_lua_orders_lists_working_orders_and_cancel_takes_one(void **state)
{
    (void)state;
    const char *script =
        "n = 0\n"
        "function on_bar(bar, ctx)\n"
        "  n = n + 1\n"
        "  if n == 1 then\n"
        "    assert(#orders() == 0, 'no orders yet')\n"
        "    buy(1, {limit = 90}); buy(1, {limit = 80})\n"
        "    assert(position() == 2, 'position counts both: ' .. position())\n"
        "  elseif n == 2 then\n"
        "    local os = orders()\n"
        "    assert(#os == 2, 'two working: ' .. #os)\n"
        "    assert(os[1].price == 90 and os[2].price == 80, 'oldest first')\n"
        "    assert(os[1].side == 'BUY' and os[1].type == 'LIMIT' and os[1].qty == 1)\n"
        "    assert(os[1].origin == 'signal' and os[1].filled == 0 and os[1].symbol == 'BTCUSDT')\n"
        "    cancel(os[1])\n"
        "  elseif n == 3 then\n"
        "    local os = orders()\n"
        "    assert(#os == 1 and os[1].price == 80, 'the other stays')\n"
        "    assert(position() == 1, 'position back to 1: ' .. position())\n"
        "    cancel()\n"
        "  elseif n == 4 then\n"
        "    assert(#orders() == 0 and position() == 0, 'all gone')\n"
        "  end\n"
        "end\n";
    const char *sets[] = {"strategy.s.on_new_signal=keep"};
    tb_market_data b[] = {
        ohlc("BTCUSDT", 0, 100, 101, 99, 100), ohlc("BTCUSDT", 1, 100, 101, 99, 100),
        ohlc("BTCUSDT", 2, 100, 101, 99, 100), ohlc("BTCUSDT", 3, 100, 101, 99, 100),
        ohlc("BTCUSDT", 4, 100, 101, 79, 100)};
    assert_int_equal(run_script(script, sets, 1, b, 5), 0);
    NO_STOP();
    assert_int_equal(count_of(TB_EV_ORDER_CREATED), 2);
    assert_int_equal(count_of(TB_EV_ORDER_CANCELED), 2);
    for (int i = 0; i < 2; i++) {
        const tb_order_canceled *c = &nth(TB_EV_ORDER_CANCELED, i)->u.order_canceled;
        assert_int_equal(c->cause, TB_CANCEL_REQUESTED);
        assert_non_null(strstr(c->text, "canceled by strategy s"));
    }
    assert_int_equal(nth(TB_EV_ORDER_CANCELED, 0)->u.order_canceled.side, TB_SIDE_BUY);
    assert_int_equal(count_of(TB_EV_ORDER_FILLED), 0); /* bar 5 reaches 80: nothing left there */
    assert_int_equal(nth(TB_EV_SIGNAL_GENERATED, 2)->u.signal.signal_type, TB_SIGNAL_CANCEL);
}

/* A pairs trade: one bar orders two symbols; both signals go out on that
 * bar, each at its own symbol's last close. */
static void test_lua_orders_two_symbols_on_one_bar(void **state)
{
    (void)state;
    const char *script = "function on_bar(bar, ctx)\n"
                         "  if bar.symbol == 'ETHUSDT' and position('ETHUSDT') == 0 then\n"
                         "    buy(1, 'ETHUSDT'); sell(2, 'BTCUSDT')\n"
                         "  end\n"
                         "end\n";
    const char *sets[] = {"strategy.s.symbols=BTCUSDT ETHUSDT"};
    tb_market_data b[] = {ohlc("BTCUSDT", 0, 100, 101, 99, 100), ohlc("ETHUSDT", 0, 10, 11, 9, 10),
                          ohlc("BTCUSDT", 1, 102, 103, 101, 102),
                          ohlc("ETHUSDT", 1, 11, 12, 10, 11)};
    assert_int_equal(run_script(script, sets, 1, b, 4), 0);
    NO_STOP();
    assert_int_equal(count_of(TB_EV_SIGNAL_GENERATED), 2);
    const tb_signal_generated *a = &nth(TB_EV_SIGNAL_GENERATED, 0)->u.signal,
                              *c = &nth(TB_EV_SIGNAL_GENERATED, 1)->u.signal;
    assert_string_equal(a->symbol, "ETHUSDT");
    assert_int_equal(a->price, UNITS(10));
    assert_int_equal(a->target, UNITS(1));
    assert_string_equal(c->symbol, "BTCUSDT");
    assert_int_equal(c->price, UNITS(100));
    assert_int_equal(c->target, -UNITS(2));
    assert_int_equal(count_of(TB_EV_ORDER_FILLED), 2);
}

/* buy(q, {stop =, take =}): once the entry fills, the stop and the target
 * work at those prices (the script sees them in orders()); the first bar
 * that touches the stop fills it there and cancels the target. */
static void test_lua_stop_and_take_prices_bracket_the_position(void **state)
{
    (void)state;
    const char *script =
        "n = 0\n"
        "function on_bar(bar, ctx)\n"
        "  n = n + 1\n"
        "  if n == 1 then buy(1, {stop = 95, take = 110}) end\n"
        "  if n == 3 then\n"
        "    local os = orders()\n"
        "    assert(#os == 2, 'the bracket works: ' .. #os)\n"
        "    assert(os[1].origin == 'stop_loss' and os[1].stop_price == 95, 'stop at 95')\n"
        "    assert(os[2].origin == 'take_profit' and os[2].price == 110, 'take at 110')\n"
        "    local ok = pcall(cancel, os[1].id)\n"
        "    assert(not ok, 'the bracket is the Order Manager')\n"
        "  end\n"
        "end\n";
    tb_market_data b[] = {ohlc("BTCUSDT", 0, 100, 101, 99, 100),
                          ohlc("BTCUSDT", 1, 100, 101, 99, 100),
                          ohlc("BTCUSDT", 2, 100, 101, 96, 98), ohlc("BTCUSDT", 3, 98, 99, 94, 95)};
    assert_int_equal(run_script(script, NULL, 0, b, 4), 0);
    NO_STOP();
    assert_int_equal(nth(TB_EV_SIGNAL_GENERATED, 0)->u.signal.stop_loss, UNITS(95));
    assert_int_equal(nth(TB_EV_SIGNAL_GENERATED, 0)->u.signal.take_profit, UNITS(110));
    assert_int_equal(count_of(TB_EV_ORDER_FILLED), 2);
    const tb_order_filled *f = &nth(TB_EV_ORDER_FILLED, 1)->u.order_filled;
    assert_int_equal(f->origin, TB_ORIGIN_STOP_LOSS);
    assert_int_equal(f->filled_price, UNITS(95));
    assert_true(nth(TB_EV_ORDER_FILLED, 1)->timestamp > b[2].close_time);
    assert_int_equal(nth(TB_EV_ORDER_CANCELED, 0)->u.order_canceled.cause, TB_CANCEL_OCO);
}

/* A stop above a long's price is a bug in the script: it stops with the
 * reason, as any runtime error, before anything is ordered. */
static void test_lua_bracket_on_the_wrong_side_stops_the_strategy(void **state)
{
    (void)state;
    tb_market_data b[] = {ohlc("BTCUSDT", 0, 100, 101, 99, 100),
                          ohlc("BTCUSDT", 1, 100, 101, 99, 100)};
    run_script("function on_bar(bar, ctx) buy(1, {stop = 105}) end\n", NULL, 0, b, 2);
    assert_non_null(stopped_reason());
    assert_int_equal(count_of(TB_EV_SIGNAL_GENERATED), 0);
    run_script("function on_bar(bar, ctx) buy(1, {stops = 95}) end\n", NULL, 0, b, 2);
    assert_non_null(stopped_reason());
    run_script("function on_bar(bar, ctx) cancel('NOSUCH') end\n", NULL, 0, b, 2);
    assert_non_null(stopped_reason());
    assert_int_equal(count_of(TB_EV_SIGNAL_GENERATED), 0);
}

/* target_pct(50) holds half of equity's worth (rounded down to the step);
 * cash() and equity() are the account's, fills of this bar included. */
static void test_lua_target_pct_holds_that_share_of_equity(void **state)
{
    (void)state;
    const char *script =
        "n = 0\n"
        "function on_bar(bar, ctx)\n"
        "  n = n + 1\n"
        "  if n == 1 then\n"
        "    assert(cash() == 10000 and equity() == 10000, 'untouched: ' .. cash())\n"
        "    target_pct(50)\n"
        "  elseif n == 2 then\n"
        "    -- 48.5 bought at the open 100 (close 103), fee 0.1%: 4.85\n"
        "    assert(math.abs(cash() - (10000 - 4850 - 4.85)) < 1e-9, 'cash ' .. cash())\n"
        "    assert(math.abs(equity() - (cash() + 48.5 * 103)) < 1e-9, 'equity ' .. equity())\n"
        "    target_pct(0)\n"
        "  end\n"
        "end\n";
    const char *sets[] = {"symbol.BTCUSDT.step_size=0.5", "exchange.fee_bps=10"};
    tb_market_data b[] = {ohlc("BTCUSDT", 0, 100, 103, 99, 103),
                          ohlc("BTCUSDT", 1, 100, 104, 99, 103),
                          ohlc("BTCUSDT", 2, 103, 104, 99, 103)};
    assert_int_equal(run_script(script, sets, 2, b, 3), 0);
    NO_STOP();
    /* 10000 x 50% / 103 = 48.54...: 48.5 on a step of 0.5. */
    assert_int_equal(nth(TB_EV_SIGNAL_GENERATED, 0)->u.signal.target, 4850000000);
    assert_int_equal(nth(TB_EV_SIGNAL_GENERATED, 1)->u.signal.target, 0);
    assert_int_equal(count_of(TB_EV_ORDER_FILLED), 2);
}

static volatile sig_atomic_t stop_flag;

/* Stops the run after its 3000th bar, as a Ctrl-C would (between bars). */
static int stop_at_3000(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    (void)p;
    (void)bar;
    if (++*(int *)ctx == 3000) stop_flag = 1;
    return 0;
}

static void load_config(tb_config *cfg, const char *d, const char *name, const char *journal)
{
    char text[2048], file[1024];
    snprintf(text, sizeof text,
             "[backtest]\ndata = BTCUSDT:%s/BTCUSDT-1m.csv\n%s%s%s"
             "[output]\nevent_log = false\nreport = false\n"
             "[strategy.t]\ntype = lua\nscript = %s/examples/strategies/sma_cross.lua\n"
             "symbol = BTCUSDT\nfast = 5\nslow = 20\nquantity = 0.1\nallow_short = true\n",
             d, journal ? "[journal]\npath = " : "", journal ? journal : "", journal ? "\n" : "",
             TB_SOURCE_DIR);
    tbt_write_file(d, name, text, file, sizeof file);
    tb_config_init(cfg);
    char e[512];
    if (tb_config_load(cfg, file, e, sizeof e) || tb_config_build(cfg, e, sizeof e))
        fail_msg("config: %s", e);
}

/* --resume re-runs the journaled bars through the script (its indicators
 * and position come back), then goes on: the fills are the uninterrupted
 * run's, byte for byte. */
static void test_a_lua_strategy_resumed_from_its_journal_trades_as_if_never_stopped(void **state)
{
    (void)state;
    char d[512], cmd[2048], out[1100], journal[1100];
    tbt_temp_dir(d, sizeof d);
    snprintf(cmd, sizeof cmd,
             "%s --bars 8000 --seed 11 --price 30000 --symbol BTCUSDT > %s/BTCUSDT-1m.csv "
             "2>/dev/null",
             TB_GENDATA, d);
    assert_int_equal(system(cmd), 0);
    snprintf(journal, sizeof journal, "%s/j.db", d);
    tb_config full, part;
    load_config(&full, d, "full.ini", NULL);
    load_config(&part, d, "part.ini", journal);
    tb_backtest_options o;
    tb_backtest_result r;
    char e[512];
    memset(&o, 0, sizeof o);
    snprintf(out, sizeof out, "%s/full", d);
    o.out_dir = out;
    assert_int_equal(tb_backtest_run(&full, &o, &r, e, sizeof e), 0);
    tb_backtest_result_free(&r);
    int bars = 0;
    stop_flag = 0;
    memset(&o, 0, sizeof o);
    snprintf(out, sizeof out, "%s/part", d);
    o.out_dir = out;
    o.stop = &stop_flag;
    o.on_bar = stop_at_3000;
    o.hook_ctx = &bars;
    assert_int_equal(tb_backtest_run(&part, &o, &r, e, sizeof e), 0);
    assert_true(r.interrupted);
    tb_backtest_result_free(&r);
    memset(&o, 0, sizeof o);
    o.out_dir = out;
    o.resume = 1;
    if (tb_backtest_run(&part, &o, &r, e, sizeof e)) fail_msg("resume: %s", e);
    assert_false(r.interrupted);
    tb_backtest_result_free(&r);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/full/fills.csv", d);
    snprintf(b, sizeof b, "%s/part/fills.csv", d);
    char *x = tbt_read_file(a), *y = tbt_read_file(b);
    assert_non_null(x);
    assert_non_null(y);
    size_t lines = 0;
    for (const char *c = x; *c; c++)
        lines += *c == '\n';
    assert_true(lines > 20);
    assert_string_equal(x, y);
    free(x);
    free(y);
    tb_config_free(&full);
    tb_config_free(&part);
    tbt_remove_tree(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lua_registered_as_type_lua),
        cmocka_unit_test(test_lua_missing_script_names_key_and_fix),
        cmocka_unit_test(test_lua_syntax_error_names_file_line),
        cmocka_unit_test(test_lua_script_without_on_bar_is_refused),
        cmocka_unit_test(test_lua_declared_params_reach_init_with_config_values),
        cmocka_unit_test(test_lua_param_out_of_declared_range_is_config_error),
        cmocka_unit_test(test_lua_undeclared_key_is_config_error),
        cmocka_unit_test(test_lua_buy_quantity_is_exact_decimal),
        cmocka_unit_test(test_lua_target_orders_the_difference),
        cmocka_unit_test(test_lua_no_action_is_hold),
        cmocka_unit_test(test_lua_runtime_error_fails_the_bar_then_holds),
        cmocka_unit_test(test_lua_two_actions_where_the_host_takes_one_is_an_error),
        cmocka_unit_test(test_lua_indicator_outside_init_is_an_error),
        cmocka_unit_test(test_lua_sma_matches_engine_and_is_nil_until_ready),
        cmocka_unit_test(test_lua_random_is_seeded_from_config),
        cmocka_unit_test(test_lua_cannot_write_files),
        cmocka_unit_test(test_lua_cannot_read_files),
        cmocka_unit_test(test_lua_cannot_run_programs),
        cmocka_unit_test(test_lua_cannot_reach_ffi),
        cmocka_unit_test(test_lua_cannot_reach_jit_or_debug),
        cmocka_unit_test(test_lua_cannot_load_code_or_bytecode),
        cmocka_unit_test(test_a_lua_strategy_resumed_from_its_journal_trades_as_if_never_stopped),
        cmocka_unit_test(test_lua_limit_at_its_price_rests_until_a_bar_reaches_it),
        cmocka_unit_test(test_lua_orders_lists_working_orders_and_cancel_takes_one),
        cmocka_unit_test(test_lua_orders_two_symbols_on_one_bar),
        cmocka_unit_test(test_lua_stop_and_take_prices_bracket_the_position),
        cmocka_unit_test(test_lua_bracket_on_the_wrong_side_stops_the_strategy),
        cmocka_unit_test(test_lua_target_pct_holds_that_share_of_equity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
