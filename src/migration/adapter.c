/* The adapter: an unchanged old-style strategy (tb_legacy_strategy) running
 * as a pipeline strategy (tb_strategy_vtable).
 *
 * One create serves every adapter: the vtable it receives as `self` carries
 * the legacy strategy in self->impl. The pipeline's Signal Generator hands
 * every on_bar the instance's target position (ctx->position, already
 * corrected for rejected and canceled orders); the adapter writes it into
 * the legacy state's tb_legacy_view before calling the legacy code, exactly
 * as the monolith does, so the strategy decides on the same position in
 * both hosts. */
#include "../core/errbuf.h"
#include "tradebus/legacy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const tb_legacy_strategy *ls;
    void *state; /* ls->state_size bytes, starting with a tb_legacy_view */
} adapted;

static int adapter_create(const tb_strategy_vtable *self, const tb_param *params, size_t nparams,
                          void **state, char *err, size_t errlen)
{
    if (!self || !state) return TB_EINVAL;
    const tb_legacy_strategy *ls = self->impl;
    if (!ls || !ls->init || !ls->on_bar || ls->state_size < sizeof(tb_legacy_view)) {
        tb__errf(err, errlen,
                 "legacy strategy '%s' lacks init/on_bar or a state starting with "
                 "tb_legacy_view",
                 self->name ? self->name : "?");
        return TB_EINVAL;
    }
    adapted *a = calloc(1, sizeof(*a));
    if (!a || !(a->state = calloc(1, ls->state_size))) {
        free(a);
        tb__errf(err, errlen, "out of memory");
        return TB_ENOMEM;
    }
    a->ls = ls;
    int rc = ls->init(a->state, params, nparams, err, errlen);
    if (rc) {
        /* init cleans up after itself when it fails (legacy.h). */
        free(a->state);
        free(a);
        return rc;
    }
    *state = a;
    return 0;
}

static int adapter_on_bar(void *state, const tb_market_data *bar, const tb_strategy_ctx *ctx,
                          tb_strategy_decision *out)
{
    if (!state || !bar || !ctx || !out) return TB_EINVAL;
    adapted *a = state;
    tb_decimal trade = 0;
    out->signal = TB_SIGNAL_HOLD;
    out->volume = 0;
    ((tb_legacy_view *)a->state)->position = ctx->position;
    int rc = a->ls->on_bar(a->state, bar, &trade);
    if (rc) return rc;
    if (trade < TB_DECIMAL_MIN) return TB_EOVERFLOW; /* INT64_MIN has no magnitude */
    if (trade > 0) {
        out->signal = TB_SIGNAL_BUY;
        out->volume = trade;
    } else if (trade < 0) {
        out->signal = TB_SIGNAL_SELL;
        out->volume = -trade;
    }
    return 0;
}

static void adapter_destroy(void *state)
{
    adapted *a = state;
    if (!a) return;
    if (a->ls->cleanup) a->ls->cleanup(a->state);
    free(a->state);
    free(a);
}

void tb_legacy_adapter_init(tb_legacy_adapter *ad, const tb_legacy_strategy *ls)
{
    if (!ad) return;
    ad->vt.name = ls ? ls->name : NULL;
    ad->vt.help = ls ? ls->help : NULL;
    ad->vt.create = adapter_create;
    ad->vt.on_bar = adapter_on_bar;
    ad->vt.destroy = adapter_destroy;
    ad->vt.impl = ls;
    ad->legacy = ls;
}
