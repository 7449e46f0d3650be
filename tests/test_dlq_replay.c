/* The persistent dead-letter queue through a whole journaled run: a failing
 * component's event is kept with its reason, counted in the summary, and
 * `replay` after the cause is fixed delivers it again and empties the queue. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

#include <tradebus/tradebus.h>

/* The "cause": while broken, the strategy fails on the data's last bar
 * (whenever that bar reaches it). It is the last one because components
 * refuse market data older than what they have seen: a stale bar is not
 * worth delivering late — replay suits the failures at the frontier. */
static int broken = 1;
static int calls_after_fix;

static int flaky_create(const tb_strategy_vtable *self, const tb_param *p, size_t n, void **state,
                        char *err, size_t errlen)
{
    (void)self;
    (void)p;
    (void)n;
    (void)err;
    (void)errlen;
    *state = calloc(1, sizeof(int));
    return *state ? 0 : TB_ENOMEM;
}

static int flaky_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                        tb_strategy_decision *out)
{
    (void)ctx;
    (void)state;
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
    if (bar->open_time == 1704067200000000000LL + 2879 * 60000000000LL && broken) return TB_EDATA;
    if (!broken) calls_after_fix++;
    return 0;
}

static void flaky_destroy(void *state)
{
    free(state);
}

static const tb_strategy_vtable flaky = {"flaky",       "flaky: fails on bar 50 while broken",
                                         flaky_create,  flaky_on_bar,
                                         flaky_destroy, NULL};

static void build(tb_config *cfg, const char *journal)
{
    static const tb_strategy_vtable *const types[] = {&flaky};
    char err[256], data[1024];
    tb_config_init(cfg);
    cfg->extra_types = types;
    cfg->nextra_types = 1;
    tb_config_set(cfg, "strategy.f.type=flaky", err, sizeof(err));
    tb_config_set(cfg, "strategy.f.symbol=BTCUSDT", err, sizeof(err));
    snprintf(data, sizeof(data), "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    tb_config_add_data(cfg, data);
    if (tb_config_build(cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    cfg->journal_path = strdup(journal);
}

static void test_dead_letter_is_kept_in_the_journal_and_replayed_after_the_fix(void **state)
{
    (void)state;
    char dir[512], journal[600], err[512];
    tbt_temp_dir(dir, sizeof(dir));
    snprintf(journal, sizeof(journal), "%s/j.db", dir);
    tb_config cfg;
    build(&cfg, journal);
    tb_backtest_result res;
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    if (tb_backtest_run(&cfg, &opt, &res, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(res.dead_letters, 1);
    assert_int_equal(res.dead_letter_queue, 1);
    assert_int_equal(res.bars, 2880); /* the pipeline went on */
    tb_backtest_result_free(&res);

    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = journal;
    tb_journal *j;
    assert_int_equal(tb_journal_open(&jc, &j, err, sizeof(err)), 0);
    tb_dlq_entry *e = malloc(sizeof(*e));
    assert_int_equal(tb_journal_dlq_get(j, 1, e), 0);
    assert_string_equal(e->component, "signal");
    assert_int_equal(e->event.type, TB_EV_MARKET_DATA);
    assert_int_equal(e->attempts, 1); /* a permanent error is not retried */
    free(e);
    tb_journal_close(j);

    /* Still broken: the replay fails and the letter stays. */
    opt.resume = 1;
    opt.replay_dead_letters = -1;
    if (tb_backtest_run(&cfg, &opt, &res, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(res.dlq_replayed, 0);
    assert_int_equal(res.dlq_still_failing, 1);
    assert_int_equal(res.dead_letter_queue, 1);
    tb_backtest_result_free(&res);

    /* Fixed: the rebuilt run matches the journal, the letter is delivered
     * again to the signal generator and leaves the queue. */
    broken = 0;
    calls_after_fix = 0;
    if (tb_backtest_run(&cfg, &opt, &res, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(res.dlq_replayed, 1);
    assert_int_equal(res.dlq_still_failing, 0);
    assert_int_equal(res.dead_letter_queue, 0);
    /* The rebuilt run already gave the strategy its last bar: the replayed
     * copy is not fed to it twice. */
    assert_int_equal(calls_after_fix, 2880);
    tb_backtest_result_free(&res);
    tb_config_free(&cfg);
    broken = 1;
    tbt_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dead_letter_is_kept_in_the_journal_and_replayed_after_the_fix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
