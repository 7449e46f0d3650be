/* The Binance Spot adapter (`[exchange] type = binance`): its config keys,
 * paper mode (the simulator), and the live adapter against the fake Binance
 * (tools/fake_binance): every scenario asserts what the fake received. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/binance.h"
#include "tradebus/config.h"
#include "tradebus/exchange_registry.h"
#include "tradebus/sim_exchange.h"

/* ---- config ------------------------------------------------------------ */

typedef struct {
    char dir[512], path[1024], err[1024];
    tb_config cfg;
} cfg_fixture;

static int cfg_setup(void **state)
{
    cfg_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tbt_temp_dir(f->dir, sizeof(f->dir));
    tb_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int cfg_teardown(void **state)
{
    cfg_fixture *f = *state;
    tb_config_free(&f->cfg);
    tbt_remove_dir(f->dir);
    free(f);
    return 0;
}

/* Lines 1-6: [backtest] and one strategy; [exchange] starts on line 7. */
#define HEAD                                                                                       \
    "[backtest]\n"                                                                                 \
    "data = " TB_SOURCE_DIR "/data/BTCUSDT-1m-2024-01.csv\n"                                       \
    "[strategy.trend]\n"                                                                           \
    "type = sma_cross\n"                                                                           \
    "symbol = BTCUSDT\n"                                                                           \
    "quantity = 0.01\n"

static int build(cfg_fixture *f, const char *exchange)
{
    char text[2048];
    snprintf(text, sizeof(text), "%s[exchange]\ntype = binance\n%s", HEAD, exchange);
    tbt_write_file(f->dir, "cfg.ini", text, f->path, sizeof(f->path));
    if (tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)) != 0) fail_msg("%s", f->err);
    return tb_config_build(&f->cfg, f->err, sizeof(f->err));
}

static void test_paper_mode_is_the_simulator_and_needs_no_keys(void **state)
{
    cfg_fixture *f = *state;
    if (build(f, "fee_bps = 7.5\n") != 0) fail_msg("%s", f->err);
    assert_string_equal(tb_exchange_param(&f->cfg, "mode"), "paper");
    tb_exchange *ex = NULL;
    if (tb_exchange_create_from_config(&f->cfg, NULL, &ex, f->err, sizeof(f->err)) != 0)
        fail_msg("%s", f->err);
    assert_true(tb_sim_exchange_is(ex));
    assert_false(tb_binance_is(ex));
    tb_binance_status st;
    assert_int_equal(tb_binance_status_get(ex, &st), TB_EINVAL);
    assert_dec_equal(f->cfg.exchange.fee_bps, "7.5");
    tb_decimal cash;
    assert_int_equal(tb_exchange_cash(ex, &cash), 0);
    assert_dec_equal(cash, "10000");
    tb_exchange_destroy(ex);
}

static void test_recv_window_out_of_range_is_refused_with_the_range(void **state)
{
    cfg_fixture *f = *state;
    assert_int_equal(build(f, "recv_window_ms = 60001\n"), TB_ECONFIG);
    assert_non_null(strstr(f->err, "cfg.ini:9: [exchange] recv_window_ms: 60001 is out of range "
                                   "[1, 60000]"));
}

static void test_mode_must_be_paper_testnet_or_live(void **state)
{
    cfg_fixture *f = *state;
    assert_int_equal(build(f, "mode = backtest\n"), TB_ECONFIG);
    assert_non_null(strstr(f->err, "'backtest' must be paper, testnet or live"));
}

static void test_urls_must_be_auto_or_of_their_scheme(void **state)
{
    cfg_fixture *f = *state;
    assert_int_equal(build(f, "ws_api_url = http://127.0.0.1:1/ws-api/v3\n"), TB_ECONFIG);
    assert_non_null(strstr(f->err, "ws_api_url: 'http://127.0.0.1:1/ws-api/v3' must be auto or "
                                   "a URL starting with wss:// or ws://"));
}

static void test_bnb_price_takes_a_price_or_a_symbol(void **state)
{
    cfg_fixture *f = *state;
    assert_int_equal(build(f, "bnb_price = bnb-usdt\n"), TB_ECONFIG);
    assert_non_null(strstr(f->err, "bnb_price: 'bnb-usdt' must be none, a price"));
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    if (build(f, "bnb_price = 612.5\n") != 0) fail_msg("%s", f->err);
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    if (build(f, "bnb_price = BNBUSDT\n") != 0) fail_msg("%s", f->err);
}

static void test_testnet_without_keys_is_refused_naming_them(void **state)
{
    cfg_fixture *f = *state;
    assert_int_equal(build(f, "mode = testnet\n"), TB_ECONFIG);
    assert_non_null(strstr(f->err, "mode = testnet needs api_key and api_secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paper_mode_is_the_simulator_and_needs_no_keys,
                                        cfg_setup, cfg_teardown),
        cmocka_unit_test_setup_teardown(test_recv_window_out_of_range_is_refused_with_the_range,
                                        cfg_setup, cfg_teardown),
        cmocka_unit_test_setup_teardown(test_mode_must_be_paper_testnet_or_live, cfg_setup,
                                        cfg_teardown),
        cmocka_unit_test_setup_teardown(test_urls_must_be_auto_or_of_their_scheme, cfg_setup,
                                        cfg_teardown),
        cmocka_unit_test_setup_teardown(test_bnb_price_takes_a_price_or_a_symbol, cfg_setup,
                                        cfg_teardown),
        cmocka_unit_test_setup_teardown(test_testnet_without_keys_is_refused_naming_them, cfg_setup,
                                        cfg_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
