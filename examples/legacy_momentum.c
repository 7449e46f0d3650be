/* Example: keep an old strategy unchanged while migrating.
 *
 * `momentum` is written against the old-style interface (legacy.h): a state
 * and a function that sees one bar and returns the signed quantity to trade.
 * This program runs it twice on the same data — inside the legacy monolith,
 * and on the event-driven pipeline through tb_legacy_adapter — and compares
 * the two trade logs record by record, as `tradebus parity` does.
 *
 *   build/legacy_momentum data/BTCUSDT-1m-2024-01.csv
 */
#include <stdio.h>
#include <string.h>

#include <tradebus/tradebus.h>

/* ---- the old strategy: untouched legacy code ---- */

#define LOOKBACK_MAX 256

typedef struct {
    tb_legacy_view view; /* first member: the host keeps the position here */
    long lookback;
    tb_decimal quantity;
    tb_decimal closes[LOOKBACK_MAX];
    long seen;
} momentum;

static int momentum_init(void *state, const tb_param *p, size_t n, char *err, size_t errlen)
{
    momentum *m = state;
    static const char *const known[] = {"lookback", "quantity", NULL};
    int rc = tb_param_check_known(p, n, known, err, errlen);
    if (!rc)
        rc = tb_param_int(p, n, "lookback", 30, 1, LOOKBACK_MAX - 1, &m->lookback, err, errlen);
    if (!rc) rc = tb_param_decimal(p, n, "quantity", TB_DECIMAL_ONE, &m->quantity, err, errlen);
    return rc;
}

/* Long while the close is above the close `lookback` bars ago, flat below. */
static int momentum_on_bar(void *state, const tb_market_data *bar, tb_decimal *trade)
{
    momentum *m = state;
    m->closes[m->seen % LOOKBACK_MAX] = bar->close;
    m->seen++;
    *trade = 0;
    if (m->seen <= m->lookback) return 0;
    tb_decimal then = m->closes[(m->seen - 1 - m->lookback) % LOOKBACK_MAX];
    if (bar->close > then && m->view.position == 0) *trade = m->quantity;
    if (bar->close < then && m->view.position > 0) *trade = -m->view.position;
    return 0;
}

static const tb_legacy_strategy momentum_strategy = {
    "momentum",       "momentum: lookback=30 quantity=1",
    sizeof(momentum), momentum_init,
    momentum_on_bar,  NULL,
};

/* ---- the migration harness ---- */

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "data/BTCUSDT-1m-2024-01.csv";
    char err[512];
    tb_legacy_adapter adapter;
    tb_legacy_adapter_init(&adapter, &momentum_strategy);
    const tb_strategy_vtable *pipeline_types[] = {&adapter.vt};

    tb_config cfg;
    tb_config_init(&cfg);
    cfg.extra_types = pipeline_types; /* so `type = momentum` is accepted */
    cfg.nextra_types = 1;
    const char *sets[] = {"strategy.m.type=momentum", "strategy.m.symbol=BTCUSDT",
                          "strategy.m.lookback=20", "strategy.m.quantity=0.05"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
        tb_config_set(&cfg, sets[i], err, sizeof(err));
    tb_config_add_data(&cfg, data);
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }

    tb_parity *parity;
    tb_parity_create(NULL, &parity);
    int rc = tb_parity_add_pipeline_run(parity, &cfg, NULL, err, sizeof(err));
    if (rc) fprintf(stderr, "pipeline: %s\n", err);
    /* The monolith runs the same legacy function natively. */
    const struct tb_legacy_strategy *const legacy_types[] = {&momentum_strategy};
    if (!rc) rc = tb_parity_add_legacy_run(parity, &cfg, legacy_types, 1, NULL, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "%s\n", err);
    } else {
        tb_parity_compare(parity, INT64_MAX);
        tb_parity_write_report(parity, stdout);
        rc = tb_parity_get_summary(parity).divergences ? 1 : 0;
    }
    tb_parity_destroy(parity);
    tb_config_free(&cfg);
    return rc ? 1 : 0;
}
