/* The INI configuration: files written to a temporary directory, loaded,
 * overridden with --set and built; every error must say where it came from. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/backtest.h"
#include "tradebus/config.h"

typedef struct {
    char dir[512];
    char path[1024];
    char err[512];
    tb_config cfg;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tbt_temp_dir(f->dir, sizeof(f->dir));
    tb_config_init(&f->cfg);
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

/* Writes content as cfg.ini and loads it (the load must succeed). */
static void load(fixture *f, const char *content)
{
    tbt_write_file(f->dir, "cfg.ini", content, f->path, sizeof(f->path));
    int rc = tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err));
    if (rc) fail_msg("tb_config_load: %s (%s)", tb_strerror(rc), f->err);
}

static void build_ok(fixture *f)
{
    int rc = tb_config_build(&f->cfg, f->err, sizeof(f->err));
    if (rc) fail_msg("tb_config_build: %s (%s)", tb_strerror(rc), f->err);
}

/* Builds, expecting TB_ECONFIG with an error that is exactly
 * "<path><suffix>" (suffix starts with ":line: ..."). */
static void build_fails_with(fixture *f, const char *suffix)
{
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1600];
    snprintf(want, sizeof(want), "%s%s", f->path, suffix);
    assert_string_equal(f->err, want);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle)) fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static const tb_param *param(const tb_strategy_config *s, const char *key)
{
    for (size_t i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].key, key) == 0) return &s->params[i];
    return NULL;
}

#define MINIMAL                                                                                    \
    "[backtest]\n"                                                                                 \
    "data = bars.csv\n"                                                                            \
    "\n"                                                                                           \
    "[strategy.fast]\n"                                                                            \
    "type = sma_cross\n"                                                                           \
    "symbol = BTCUSDT\n"

/* ---- loading and defaults ----------------------------------------------- */

static void test_defaults_applied_for_keys_not_in_file(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    build_ok(f);

    tb_config *c = &f->cfg;
    assert_int_equal(c->ndata, 1);
    assert_string_equal(c->data[0], "bars.csv");
    assert_dec_equal(c->exchange.initial_cash, "10000");
    assert_dec_equal(c->exchange.fee_bps, "10");
    assert_dec_equal(c->exchange.slippage_bps, "0");
    assert_dec_equal(c->exchange.max_volume_participation, "0");
    assert_int_equal(c->exchange.nsymbols, 0);
    assert_int_equal(c->nsymbols, 0);
    assert_int_equal(c->on_bad_row, TB_BAD_ROW_FAIL);
    assert_int_equal(c->node_id, 1);
    assert_int_equal(c->max_retries, 2);
    assert_int_equal(c->ring_capacity, 1024);
    assert_int_equal(c->event_log, 1);
    assert_int_equal(c->fills, 1);
    assert_dec_equal(c->risk.max_position, "0");
    assert_dec_equal(c->risk.max_order_notional, "0");
    assert_int_equal(c->risk.max_open_orders, 0);
    assert_dec_equal(c->risk.price_band_pct, "0");
    assert_int_equal(c->risk.max_orders_per_minute, 0);
    assert_dec_equal(c->risk.max_drawdown_pct, "0");
    assert_dec_equal(c->risk.initial_equity, "10000");
    assert_int_equal(c->nstrategies, 1);
    const tb_strategy_config *s = &c->strategies[0];
    assert_string_equal(s->id, "fast");
    assert_string_equal(s->type, "sma_cross");
    assert_string_equal(s->symbol, "BTCUSDT");
    assert_int_equal(s->order_type, TB_ORDER_MARKET);
    assert_dec_equal(s->limit_offset_bps, "0");
    assert_int_equal(s->emit_hold, 0);
    assert_int_equal(s->nparams, 0);
}

static void test_every_section_is_parsed(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = a.csv, b.csv c.csv\n"
            "initial_cash = 2500.5\n"
            "on_bad_row = skip\n"
            "node_id = 7\n"
            "[exchange]\n"
            "type = sim\n"
            "fee_bps = 7.5\n"
            "slippage_bps = 2\n"
            "max_volume_participation = 0.25\n"
            "[risk]\n"
            "max_position = 3\n"
            "max_order_notional = 50000\n"
            "max_open_orders = 4\n"
            "price_band_pct = 5\n"
            "max_orders_per_minute = 30\n"
            "max_drawdown_pct = 20\n"
            "[bus]\n"
            "max_retries = 5\n"
            "ring_capacity = 4096\n"
            "[output]\n"
            "event_log = false\n"
            "fills = no\n"
            "[symbol.BTCUSDT]\n"
            "tick_size = 0.01\n"
            "step_size = 0.00001\n"
            "min_notional = 5\n"
            "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n"
            "order_type = LIMIT\n"
            "limit_offset_bps = 10\n"
            "emit_hold = true\n"
            "fast = 5\n"
            "slow = 20\n");
    build_ok(f);

    tb_config *c = &f->cfg;
    assert_int_equal(c->ndata, 3);
    assert_string_equal(c->data[0], "a.csv");
    assert_string_equal(c->data[1], "b.csv");
    assert_string_equal(c->data[2], "c.csv");
    assert_dec_equal(c->exchange.initial_cash, "2500.5");
    assert_int_equal(c->on_bad_row, TB_BAD_ROW_SKIP);
    assert_int_equal(c->node_id, 7);
    assert_dec_equal(c->exchange.fee_bps, "7.5");
    assert_dec_equal(c->exchange.slippage_bps, "2");
    assert_dec_equal(c->exchange.max_volume_participation, "0.25");
    assert_dec_equal(c->risk.max_position, "3");
    assert_dec_equal(c->risk.max_order_notional, "50000");
    assert_int_equal(c->risk.max_open_orders, 4);
    assert_dec_equal(c->risk.price_band_pct, "5");
    assert_int_equal(c->risk.max_orders_per_minute, 30);
    assert_dec_equal(c->risk.max_drawdown_pct, "20");
    assert_dec_equal(c->risk.initial_equity, "2500.5");
    assert_int_equal(c->max_retries, 5);
    assert_int_equal(c->ring_capacity, 4096);
    assert_int_equal(c->event_log, 0);
    assert_int_equal(c->fills, 0);
    assert_int_equal(c->nsymbols, 1);
    assert_string_equal(c->symbols[0].symbol, "BTCUSDT");
    assert_dec_equal(c->symbols[0].tick_size, "0.01");
    assert_dec_equal(c->symbols[0].step_size, "0.00001");
    assert_dec_equal(c->symbols[0].min_notional, "5");
    assert_ptr_equal(c->exchange.symbols, c->symbols);
    assert_int_equal(c->exchange.nsymbols, 1);
    assert_int_equal(c->nstrategies, 1);
    const tb_strategy_config *s = &c->strategies[0];
    assert_string_equal(s->id, "fast");
    assert_int_equal(s->order_type, TB_ORDER_LIMIT);
    assert_dec_equal(s->limit_offset_bps, "10");
    assert_int_equal(s->emit_hold, 1);
    assert_int_equal(s->nparams, 2);
    assert_string_equal(s->params[0].key, "fast");
    assert_string_equal(s->params[0].value, "5");
    assert_string_equal(s->params[1].key, "slow");
    assert_string_equal(s->params[1].value, "20");
}

static void test_several_strategy_sections_keep_file_order(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[strategy.slow]\n"
                    "type = rsi_reversion\n"
                    "symbol = ETHUSDT\n");
    build_ok(f);

    assert_int_equal(f->cfg.nstrategies, 2);
    assert_string_equal(f->cfg.strategies[0].id, "fast");
    assert_string_equal(f->cfg.strategies[1].id, "slow");
    assert_string_equal(f->cfg.strategies[1].type, "rsi_reversion");
    assert_string_equal(f->cfg.strategies[1].symbol, "ETHUSDT");
}

static void test_symbols_and_timeframes_are_lists(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\ndata = x.csv\n[strategy.pair]\ntype = sma_cross\n"
            "symbols = BTCUSDT ETHUSDT\ntimeframes = 1m 15m 1h\n");
    build_ok(f);
    const tb_strategy_config *s = &f->cfg.strategies[0];
    assert_int_equal(s->nsymbols, 2);
    assert_string_equal(s->symbols[0], "BTCUSDT");
    assert_string_equal(s->symbols[1], "ETHUSDT");
    assert_string_equal(s->symbol, "BTCUSDT");
    assert_int_equal(s->ntimeframes, 3);
    assert_true(s->timeframes[0] == 60000000000LL && s->timeframes[2] == 3600000000000LL);
}

static void test_one_symbol_is_a_list_of_one(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    build_ok(f);
    assert_int_equal(f->cfg.strategies[0].nsymbols, 1);
    assert_string_equal(f->cfg.strategies[0].symbols[0], f->cfg.strategies[0].symbol);
    assert_int_equal(f->cfg.strategies[0].ntimeframes, 0);
}

static void test_symbol_and_symbols_together_is_an_error(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\ndata = x.csv\n[strategy.pair]\ntype = sma_cross\n"
            "symbols = BTCUSDT ETHUSDT\nsymbol = BTCUSDT\n");
    build_fails_with(
        f, ":6: [strategy.pair] symbol: symbols is set: write symbol or symbols, not both");
}

/* A signal shard sees only its symbols' bars: a strategy split between
 * shards, or on a symbol in none, would trade blind. */
static void test_a_strategy_split_between_signal_shards_is_an_error(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\ndata = x.csv\n[bus]\norder = stream\n"
            "signal_shards = BTCUSDT | ETHUSDT\n[strategy.pair]\ntype = sma_cross\n"
            "symbols = BTCUSDT ETHUSDT\n");
    build_fails_with(f, ":8: [strategy.pair] symbols: BTCUSDT is in [bus] signal_shards shard 1 "
                        "and ETHUSDT in shard 2; a strategy's symbols must share a shard");
}

static void test_a_strategy_on_a_symbol_in_no_signal_shard_is_an_error(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\ndata = x.csv\n[bus]\norder = stream\n"
            "signal_shards = BTCUSDT | ETHUSDT\n[strategy.s]\ntype = sma_cross\n"
            "symbol = SOLUSDT\n");
    build_fails_with(f, ":8: [strategy.s] symbol: SOLUSDT is in no [bus] signal_shards shard, so "
                        "no process would see its bars; add it to one");
}

static void test_bad_timeframe_names_the_allowed_ones(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\ndata = x.csv\n[strategy.s]\ntype = sma_cross\nsymbol = BTCUSDT\n"
            "timeframes = 1m 7m\n");
    build_fails_with(f, ":6: [strategy.s] timeframes: unknown timeframe '7m' (use one of: 1m 3m 5m "
                        "15m 30m 1h 2h 4h 6h 8h 12h 1d)");
}

static void test_missing_file_is_eio_naming_the_path(void **state)
{
    fixture *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/absent.ini", f->dir);
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), TB_EIO);
    assert_contains(f->err, f->path);
    assert_contains(f->err, "cannot open config");
}

static void test_syntax_error_reports_the_line(void **state)
{
    fixture *f = *state;
    tbt_write_file(f->dir, "cfg.ini",
                   "[backtest]\n"
                   "data = bars.csv\n"
                   "this line has no equals sign\n"
                   "initial_cash = 5\n",
                   f->path, sizeof(f->path));
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1100];
    snprintf(want, sizeof(want), "%s:3: ", f->path);
    assert_true(strncmp(f->err, want, strlen(want)) == 0);
    assert_contains(f->err, "syntax error");
}

static void test_unterminated_section_header_reports_the_line(void **state)
{
    fixture *f = *state;
    tbt_write_file(f->dir, "cfg.ini",
                   "; comment\n"
                   "[backtest]\n"
                   "data = bars.csv\n"
                   "\n"
                   "[exchange\n",
                   f->path, sizeof(f->path));
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1100];
    snprintf(want, sizeof(want), "%s:5: ", f->path);
    assert_true(strncmp(f->err, want, strlen(want)) == 0);
}

/* Writes n bytes (NULs allowed) as cfg.ini and loads it, expecting
 * TB_ECONFIG with an error that is exactly "<path><suffix>". */
static void load_bytes_fails_with(fixture *f, const char *bytes, size_t n, const char *suffix)
{
    snprintf(f->path, sizeof(f->path), "%s/cfg.ini", f->dir);
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1600];
    snprintf(want, sizeof(want), "%s%s", f->path, suffix);
    assert_string_equal(f->err, want);
}

/* A NUL would end the value for every string function after it:
 * `fee_bps = 1<NUL> 00` must not read as 1. */
static void test_nul_byte_is_an_error_naming_file_and_line(void **state)
{
    static const char text[] = "[backtest]\ndata = bars.csv\n[exchange]\nfee_bps = 1\0 00\n";
    load_bytes_fails_with(*state, text, sizeof(text) - 1,
                          ":4: a NUL byte in the line (not a text file?)");
}

/* /dev/urandom or a binary file given as --config: refused once past
 * 1 MiB (or at a NUL or a 64 KiB line, whichever comes first), never read
 * until memory runs out. */
static void test_config_over_1_mib_is_refused(void **state)
{
    fixture *f = *state;
    size_t n = (1u << 20) + 100;
    char *text = malloc(n);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? ';' : 'x'; /* comment lines */
    load_bytes_fails_with(f, text, n,
                          ":16385: config larger than 1 MiB (1048576 bytes): not a config file?");
    free(text);
    /* Exactly 1 MiB of comments is still a config. */
    tbt_write_file(f->dir, "cfg.ini", "", f->path, sizeof(f->path));
    FILE *fp = fopen(f->path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < (1u << 20) / 64; i++)
        fprintf(fp, ";%062d\n", 0);
    fclose(fp);
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), 0);
}

static void test_line_over_64_kib_is_an_error_naming_file_and_line(void **state)
{
    fixture *f = *state;
    size_t n = 70000;
    char *text = malloc(n + 32);
    assert_non_null(text);
    strcpy(text, "[backtest]\ndata = ");
    size_t h = strlen(text);
    memset(text + h, 'a', n);
    text[h + n] = '\n';
    load_bytes_fails_with(f, text, h + n + 1, ":2: line longer than 65536 bytes");
    free(text);
}

/* Loading and building stay linear in the number of sections: 10,000
 * strategies (which took seconds when each key scanned every earlier one). */
static void test_ten_thousand_strategy_sections_load(void **state)
{
    fixture *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/cfg.ini", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("[backtest]\ndata = bars.csv\n", fp);
    for (int i = 0; i < 10000; i++)
        fprintf(fp, "[strategy.s%d]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = %d\n", i,
                2 + i % 7);
    fputs("[strategy.s17]\nfast = 9\n", fp); /* a later key of an earlier section wins */
    fclose(fp);
    assert_int_equal(tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err)), 0);
    build_ok(f);
    assert_int_equal(f->cfg.nstrategies, 10000);
    for (int i = 0; i < 10000; i += 999) {
        char id[32], fast[8];
        snprintf(id, sizeof(id), "s%d", i);
        snprintf(fast, sizeof(fast), "%d", i == 17 ? 9 : 2 + i % 7);
        assert_string_equal(f->cfg.strategies[i].id, id);
        assert_string_equal(f->cfg.strategies[i].symbol, "BTCUSDT");
        assert_string_equal(param(&f->cfg.strategies[i], "fast")->value, fast);
    }
    assert_string_equal(param(&f->cfg.strategies[17], "fast")->value, "9");
}

static void test_line_longer_than_200_chars_is_read_whole(void **state)
{
    fixture *f = *state;
    char content[1024] = "[backtest]\ndata = ";
    for (int i = 0; i < 8; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%sdata/SYM%02dUSDT-1m-2024-01.csv", i ? ", " : "", i);
        strcat(content, spec);
    }
    strcat(content, "\n[strategy.fast]\ntype = sma_cross\nsymbol = BTCUSDT\n");
    assert_true(strlen(content) > 250);
    load(f, content);
    build_ok(f);

    assert_int_equal(f->cfg.ndata, 8);
    assert_string_equal(f->cfg.data[0], "data/SYM00USDT-1m-2024-01.csv");
    assert_string_equal(f->cfg.data[7], "data/SYM07USDT-1m-2024-01.csv");
}

static void test_line_numbers_stay_right_after_a_long_line(void **state)
{
    fixture *f = *state;
    char content[1024] = "[backtest]\ndata = ";
    for (int i = 0; i < 8; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%sdata/SYM%02dUSDT-1m-2024-01.csv", i ? ", " : "", i);
        strcat(content, spec);
    }
    strcat(content, "\n[exchange]\nfee_bsp = 5\n");
    tbt_write_file(f->dir, "cfg.ini", content, f->path, sizeof(f->path));
    tb_config_load(&f->cfg, f->path, f->err, sizeof(f->err));
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "cfg.ini:4: [exchange] fee_bsp: unknown key");
}

/* ---- errors name origin, section and key -------------------------------- */

static void test_unknown_key_error_names_file_line_section_and_key(void **state)
{
    fixture *f = *state;
    load(f, "; test config\n"
            "[backtest]\n"
            "data = bars.csv\n"
            "\n"
            "[exchange]\n"
            "fee_bps = 10\n"
            "fee_bsp = 5\n"
            "\n"
            "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n");
    build_fails_with(f, ":7: [exchange] fee_bsp: unknown key");
    assert_contains(f->err, "cfg.ini:7: [exchange] fee_bsp: unknown key");
}

static void test_unknown_section_is_refused_with_its_origin(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[exchnage]\n"
                    "fee_bps = 5\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "cfg.ini:8: [exchnage] fee_bps: unknown section");
}

static void test_bad_decimal_value_names_the_key(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[exchange]\n"
                    "fee_bps = abc\n");
    build_fails_with(f, ":8: [exchange] fee_bps: 'abc' is not a decimal number (e.g. 10 or 0.5)");
}

static void test_out_of_range_value_names_the_key(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[exchange]\n"
                    "max_volume_participation = 1.5\n");
    build_fails_with(f, ":8: [exchange] max_volume_participation: 1.5 is out of range [0, 1]");
}

static void test_bad_integer_value_names_the_key(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[bus]\n"
                    "max_retries = lots\n");
    build_fails_with(f, ":8: [bus] max_retries: 'lots' is not an integer");
}

static void test_bad_boolean_value_names_the_key(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "emit_hold = maybe\n");
    build_fails_with(f, ":7: [strategy.fast] emit_hold: 'maybe' is not true or false");
}

static void test_bad_order_type_names_the_key(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "order_type = STOP\n");
    build_fails_with(f, ":7: [strategy.fast] order_type: 'STOP' must be MARKET or LIMIT");
}

/* ---- order handling keys ------------------------------------------------ */

static void test_order_handling_keys_are_read(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "order_type = LIMIT\n"
                    "time_in_force = ioc\n"
                    "on_new_signal = keep\n"
                    "stop_loss_pct = 2%\n"
                    "take_profit_pct = 5\n"
                    "size = 10 %\n"
                    "[risk]\n"
                    "halt_action = close_all\n");
    build_ok(f);
    const tb_strategy_config *s = &f->cfg.strategies[0];
    assert_int_equal(s->time_in_force, TB_TIF_IOC);
    assert_int_equal(s->on_new_signal, TB_ON_SIGNAL_KEEP);
    assert_int_equal(s->stop_loss_pct, 2 * TB_DECIMAL_ONE);
    assert_int_equal(s->take_profit_pct, 5 * TB_DECIMAL_ONE);
    assert_int_equal(s->size_pct, 10 * TB_DECIMAL_ONE);
    assert_int_equal(f->cfg.risk.halt_close_all, 1);
    assert_null(param(s, "size")); /* not handed to the strategy */
}

static void test_order_handling_keys_that_do_not_fit_together_are_named(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "time_in_force = FOK\n");
    build_fails_with(f, ":7: [strategy.fast] time_in_force: FOK applies to LIMIT orders "
                        "(order_type is MARKET)");
}

static void test_sizing_keys_conflict_with_quantity(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "quantity = 1\n"
                    "size = 10%\n");
    build_fails_with(f, ":7: [strategy.fast] quantity: set quantity or size, not both");
}

static void test_risk_per_trade_needs_a_stop(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "risk_per_trade = 1%\n");
    build_fails_with(f, ":7: [strategy.fast] risk_per_trade: needs stop_loss_pct or "
                        "trailing_stop_pct (the size is equity x risk / stop distance)");
}

static void test_percent_out_of_range_names_the_range(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "stop_loss_pct = 100\n");
    build_fails_with(f, ":7: [strategy.fast] stop_loss_pct: 100 is out of range (0, 99.99999999] "
                        "(percent)");
}

static void test_bad_halt_action_names_the_choices(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[risk]\nhalt_action = panic\n");
    build_fails_with(f, ":8: [risk] halt_action: 'panic' must be reduce_only or close_all");
}

/* ---- --set -------------------------------------------------------------- */

static void test_set_override_wins_over_the_file(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[exchange]\n"
                    "fee_bps = 10\n");
    assert_int_equal(tb_config_set(&f->cfg, "exchange.fee_bps=5", f->err, sizeof(f->err)), 0);
    build_ok(f);
    assert_dec_equal(f->cfg.exchange.fee_bps, "5");
}

static void test_set_adds_a_key_absent_from_the_file(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    assert_int_equal(tb_config_set(&f->cfg, "exchange.slippage_bps=0.5", f->err, sizeof(f->err)),
                     0);
    build_ok(f);
    assert_dec_equal(f->cfg.exchange.slippage_bps, "0.5");
}

static void test_set_with_dotted_section_targets_the_strategy_section(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "slow = 30\n");
    assert_int_equal(tb_config_set(&f->cfg, "strategy.fast.slow=50", f->err, sizeof(f->err)), 0);
    build_ok(f);

    assert_int_equal(f->cfg.nstrategies, 1);
    const tb_strategy_config *s = &f->cfg.strategies[0];
    assert_string_equal(s->id, "fast");
    assert_int_equal(s->nparams, 1);
    assert_non_null(param(s, "slow"));
    assert_string_equal(param(s, "slow")->value, "50");
}

static void test_set_can_declare_a_whole_strategy(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    assert_int_equal(tb_config_set(&f->cfg, "strategy.rev.type=rsi_reversion", NULL, 0), 0);
    assert_int_equal(tb_config_set(&f->cfg, "strategy.rev.symbol=ETHUSDT", NULL, 0), 0);
    build_ok(f);

    assert_int_equal(f->cfg.nstrategies, 2);
    assert_string_equal(f->cfg.strategies[1].id, "rev");
    assert_string_equal(f->cfg.strategies[1].type, "rsi_reversion");
    assert_string_equal(f->cfg.strategies[1].symbol, "ETHUSDT");
}

static void test_bad_set_value_names_set_as_origin(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    assert_int_equal(tb_config_set(&f->cfg, "exchange.fee_bps=x", f->err, sizeof(f->err)), 0);
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(f->err,
                        "--set: [exchange] fee_bps: 'x' is not a decimal number (e.g. 10 or 0.5)");
}

static void test_malformed_set_is_refused(void **state)
{
    fixture *f = *state;
    static const char *const bad[] = {
        "fee_bps=5",        /* no section */
        "exchange.fee_bps", /* no value */
        ".fee_bps=5",       /* empty section */
        "exchange.=5",      /* empty key */
        "=5",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->err[0] = 0;
        assert_int_equal(tb_config_set(&f->cfg, bad[i], f->err, sizeof(f->err)), TB_ECONFIG);
        assert_contains(f->err, "SECTION.KEY=VALUE");
    }
    assert_int_equal(f->cfg.nentries, 0);
}

/* ---- strategies, data --------------------------------------------------- */

static void test_strategy_without_type_is_refused(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "[strategy.fast]\n"
            "symbol = BTCUSDT\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[strategy.fast] type: missing");
}

static void test_strategy_without_symbol_is_refused(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "[strategy.fast]\n"
            "type = sma_cross\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[strategy.fast] symbol: missing");
}

static void test_unknown_strategy_type_lists_known_ones(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "[strategy.fast]\n"
            "type = sma_crsos\n"
            "symbol = BTCUSDT\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "cfg.ini:4: [strategy.fast] type: unknown strategy type 'sma_crsos'");
    assert_non_null(tb_strategy_builtin_at(0));
    for (size_t i = 0; tb_strategy_builtin_at(i); i++)
        assert_contains(f->err, tb_strategy_builtin_at(i)->name);
    assert_contains(f->err, "sma_cross");
    assert_contains(f->err, "rsi_reversion");
    assert_contains(f->err, "bollinger_breakout");
}

static void test_no_data_error_mentions_data_option(void **state)
{
    fixture *f = *state;
    load(f, "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "--data");
    assert_contains(f->err, "[backtest] data");
}

static void test_command_line_data_replaces_file_data(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    assert_int_equal(tb_config_add_data(&f->cfg, "cli.csv"), 0);
    build_ok(f);
    assert_int_equal(f->cfg.ndata, 1);
    assert_string_equal(f->cfg.data[0], "cli.csv");
}

static void test_no_strategy_section_is_refused(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[strategy.ID]");
}

static void test_too_large_decimal_is_out_of_range_with_the_range(void **state)
{
    fixture *f = *state;
    /* Past the decimal type's own limit (about 9.2e10) as well as below it:
     * one message, naming the value and the key's range. */
    load(f, MINIMAL "[exchange]\n"
                    "fee_bps = 5\n");
    assert_int_equal(
        tb_config_set(&f->cfg, "backtest.initial_cash=100000000000", f->err, sizeof(f->err)), 0);
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(
        f->err, "--set: [backtest] initial_cash: 100000000000 is out of range [0, 1000000000]");
}

static void test_decimal_below_the_type_limit_has_the_same_message(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "initial_cash = 90000000000\n"
            "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n");
    build_fails_with(f, ":3: [backtest] initial_cash: 90000000000 is out of range [0, 1000000000]");
}

static void test_decimal_with_more_than_8_decimals_says_so(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[exchange]\n"
                    "fee_bps = 1.123456789\n");
    build_fails_with(f, ":8: [exchange] fee_bps: 1.123456789 has more than 8 decimals");
}

static void test_huge_integer_is_out_of_range_with_the_range(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[bus]\n"
                    "max_retries = 99999999999999999999999\n");
    build_fails_with(f, ":8: [bus] max_retries: 99999999999999999999999 is out of range [0, 100]");
}

static void test_round_prices_is_parsed_and_off_by_default(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    build_ok(f);
    assert_int_equal(f->cfg.round_prices, 0);
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "round_prices = true\n"
            "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n");
    build_ok(f);
    assert_int_equal(f->cfg.round_prices, 1);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    assert_int_equal(tb_config_dump(&f->cfg, m), 0);
    fclose(m);
    assert_contains(text, "round_prices = true");
    free(text);
}

static void test_enum_values_are_case_insensitive(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "on_bad_row = SKIP\n"
            "[journal]\n"
            "sync = FULL\n"
            "[bus]\n"
            "type = Memory\n"
            "[output]\n"
            "fills = FALSE\n"
            "[strategy.fast]\n"
            "type = sma_cross\n"
            "symbol = BTCUSDT\n"
            "order_type = limit\n");
    build_ok(f);
    assert_int_equal(f->cfg.on_bad_row, TB_BAD_ROW_SKIP);
    assert_int_equal(f->cfg.journal_sync, 0);
    assert_int_equal(f->cfg.fills, 0);
    assert_int_equal(f->cfg.strategies[0].order_type, TB_ORDER_LIMIT);
}

static void test_set_trims_blanks_around_key_and_value(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL);
    assert_int_equal(tb_config_set(&f->cfg, "strategy.fast.fast = 5", f->err, sizeof(f->err)), 0);
    assert_int_equal(tb_config_set(&f->cfg, " exchange . fee_bps\t=  7.5 ", f->err, sizeof(f->err)),
                     0);
    build_ok(f);
    assert_dec_equal(f->cfg.exchange.fee_bps, "7.5");
    const tb_strategy_config *s = &f->cfg.strategies[0];
    int found = 0;
    for (size_t i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].key, "fast") == 0) {
            assert_string_equal(s->params[i].value, "5");
            found = 1;
        }
    assert_true(found);
}

static void test_config_that_is_a_directory_is_refused(void **state)
{
    fixture *f = *state;
    assert_int_equal(tb_config_load(&f->cfg, f->dir, f->err, sizeof(f->err)), TB_EIO);
    char want[1200];
    snprintf(want, sizeof(want), "%s: cannot open config: %s is a directory", f->dir, f->dir);
    assert_string_equal(f->err, want);
}

static void test_strategy_symbol_missing_from_the_data_is_refused(void **state)
{
    fixture *f = *state;
    load(f, "[backtest]\n"
            "data = bars.csv\n"
            "[strategy.x]\n"
            "type = sma_cross\n"
            "symbol = ETHUSDT\n");
    build_ok(f);
    const char *const syms[] = {"BTCUSDT", "SOLUSDT", "BTCUSDT"};
    assert_int_equal(tb_config_check_symbols(&f->cfg, syms, 3, f->err, sizeof(f->err)), TB_ECONFIG);
    char want[1200];
    snprintf(want, sizeof(want),
             "%s:5: [strategy.x] symbol: ETHUSDT is in no data file (the data has BTCUSDT, "
             "SOLUSDT)",
             f->path);
    assert_string_equal(f->err, want);
    const char *const ok[] = {"SOLUSDT", "ETHUSDT"};
    assert_int_equal(tb_config_check_symbols(&f->cfg, ok, 2, f->err, sizeof(f->err)), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- [component.NAME]: programs as components ------------------------------ */

static void test_component_keys_are_read_and_types_default_from_replaces(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.legacy]\n"
                    "command = python3 bot.py --phase 2\n"
                    "replaces = orders positions\n"
                    "on_bad_event = stop\n"
                    "timeout_ms = 2500\n"
                    "[component.watch]\n"
                    "command = ./watch\n"
                    "subscribes = OrderFilled, RiskAlert\n");
    build_ok(f);
    assert_int_equal(f->cfg.ncomponents, 2);
    const tb_component_config *c = &f->cfg.components[0];
    assert_string_equal(c->name, "legacy");
    assert_string_equal(c->command, "python3 bot.py --phase 2");
    assert_int_equal(c->replaces, TB_ROLE_ORDERS | TB_ROLE_POSITIONS);
    assert_int_equal(f->cfg.replaced, TB_ROLE_ORDERS | TB_ROLE_POSITIONS);
    /* What orders and positions were given and published. */
    assert_int_equal(c->subscribes, (1u << TB_EV_MARKET_DATA) | (1u << TB_EV_SIGNAL_GENERATED) |
                                        (1u << TB_EV_ORDER_FILLED));
    assert_true(c->publishes & (1u << TB_EV_ORDER_FILLED));
    assert_true(c->publishes & (1u << TB_EV_POSITION_UPDATE));
    assert_int_equal(c->stop_on_bad_event, 1);
    assert_int_equal(c->timeout_ms, 2500);
    assert_int_equal(c->max_line_bytes, 65536);
    assert_int_equal(f->cfg.components[1].subscribes,
                     (1u << TB_EV_ORDER_FILLED) | (1u << TB_EV_RISK_ALERT));
    assert_int_equal(f->cfg.components[1].publishes, 0);
}

static void test_component_unknown_event_type_names_the_line_and_the_known(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.x]\n"
                    "command = ./x\n"
                    "subscribes = MarketData OrderFiled\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "cfg.ini:9: [component.x] subscribes: unknown event type 'OrderFiled' "
                            "(known: MarketData, SignalGenerated");
}

static void test_component_without_a_command_is_refused(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.x]\n"
                    "subscribes = MarketData\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[component.x] command: missing");
}

static void test_component_named_like_a_built_in_is_refused(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.orders]\n"
                    "command = ./x\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[component.orders] command: 'orders' is a built-in component's name");
}

static void test_component_cannot_replace_risk_or_publish_market_data(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.x]\n"
                    "command = ./x\n"
                    "replaces = risk\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err, "[component.x] replaces: 'risk' cannot be replaced (replaceable: "
                            "signal, orders, positions)");
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    load(f, MINIMAL "[component.x]\n"
                    "command = ./x\n"
                    "subscribes = MarketData\n"
                    "publishes = MarketData\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_contains(f->err,
                    "cfg.ini:10: [component.x] publishes: MarketData comes from the data feed");
}

static void test_component_publishing_what_a_built_in_publishes_is_two_producers(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.legacy]\n"
                    "command = ./bot\n"
                    "subscribes = SignalGenerated\n"
                    "publishes = OrderFilled\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(f->err, "[component.legacy] publishes: OrderFilled would have 2 producers "
                                "(orders, component legacy): replace the built-in (replaces = "
                                "...) or leave OrderFilled out of publishes");
}

static void test_component_replacing_a_producer_must_publish_what_others_need(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.legacy]\n"
                    "command = ./bot\n"
                    "replaces = orders positions\n"
                    "subscribes = SignalGenerated MarketData OrderFilled\n"
                    "publishes = OrderPlacementRequest OrderCreated OrderFilled PositionUpdate\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(f->err, "[component.legacy] publishes: OrderRejected is needed by signal, "
                                "risk but nothing in this run publishes it: add OrderRejected to "
                                "publishes");
}

static void test_component_replacing_a_handler_must_handle_its_events(void **state)
{
    fixture *f = *state;
    load(f, MINIMAL "[component.legacy]\n"
                    "command = ./bot\n"
                    "replaces = orders\n"
                    "subscribes = MarketData\n"
                    "publishes = OrderPlacementRequest OrderCreated OrderFilled OrderRejected "
                    "OrderCanceled\n");
    assert_int_equal(tb_config_build(&f->cfg, f->err, sizeof(f->err)), TB_ECONFIG);
    assert_string_equal(f->err, "[component.legacy] subscribes: SignalGenerated is published by "
                                "signal but nothing handles it once its handler is replaced: add "
                                "SignalGenerated to subscribes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults_applied_for_keys_not_in_file),
        T(test_every_section_is_parsed),
        T(test_several_strategy_sections_keep_file_order),
        T(test_symbols_and_timeframes_are_lists),
        T(test_one_symbol_is_a_list_of_one),
        T(test_symbol_and_symbols_together_is_an_error),
        T(test_a_strategy_split_between_signal_shards_is_an_error),
        T(test_a_strategy_on_a_symbol_in_no_signal_shard_is_an_error),
        T(test_bad_timeframe_names_the_allowed_ones),
        T(test_nul_byte_is_an_error_naming_file_and_line),
        T(test_config_over_1_mib_is_refused),
        T(test_line_over_64_kib_is_an_error_naming_file_and_line),
        T(test_ten_thousand_strategy_sections_load),
        T(test_missing_file_is_eio_naming_the_path),
        T(test_syntax_error_reports_the_line),
        T(test_unterminated_section_header_reports_the_line),
        T(test_line_longer_than_200_chars_is_read_whole),
        T(test_line_numbers_stay_right_after_a_long_line),
        T(test_unknown_key_error_names_file_line_section_and_key),
        T(test_unknown_section_is_refused_with_its_origin),
        T(test_bad_decimal_value_names_the_key),
        T(test_out_of_range_value_names_the_key),
        T(test_bad_integer_value_names_the_key),
        T(test_bad_boolean_value_names_the_key),
        T(test_bad_order_type_names_the_key),
        T(test_order_handling_keys_are_read),
        T(test_order_handling_keys_that_do_not_fit_together_are_named),
        T(test_sizing_keys_conflict_with_quantity),
        T(test_risk_per_trade_needs_a_stop),
        T(test_percent_out_of_range_names_the_range),
        T(test_bad_halt_action_names_the_choices),
        T(test_set_override_wins_over_the_file),
        T(test_set_adds_a_key_absent_from_the_file),
        T(test_set_with_dotted_section_targets_the_strategy_section),
        T(test_set_can_declare_a_whole_strategy),
        T(test_bad_set_value_names_set_as_origin),
        T(test_malformed_set_is_refused),
        T(test_strategy_without_type_is_refused),
        T(test_strategy_without_symbol_is_refused),
        T(test_unknown_strategy_type_lists_known_ones),
        T(test_no_data_error_mentions_data_option),
        T(test_command_line_data_replaces_file_data),
        T(test_no_strategy_section_is_refused),
        T(test_too_large_decimal_is_out_of_range_with_the_range),
        T(test_decimal_below_the_type_limit_has_the_same_message),
        T(test_decimal_with_more_than_8_decimals_says_so),
        T(test_huge_integer_is_out_of_range_with_the_range),
        T(test_round_prices_is_parsed_and_off_by_default),
        T(test_enum_values_are_case_insensitive),
        T(test_set_trims_blanks_around_key_and_value),
        T(test_config_that_is_a_directory_is_refused),
        T(test_strategy_symbol_missing_from_the_data_is_refused),
        T(test_component_keys_are_read_and_types_default_from_replaces),
        T(test_component_unknown_event_type_names_the_line_and_the_known),
        T(test_component_without_a_command_is_refused),
        T(test_component_named_like_a_built_in_is_refused),
        T(test_component_cannot_replace_risk_or_publish_market_data),
        T(test_component_publishing_what_a_built_in_publishes_is_two_producers),
        T(test_component_replacing_a_producer_must_publish_what_others_need),
        T(test_component_replacing_a_handler_must_handle_its_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
