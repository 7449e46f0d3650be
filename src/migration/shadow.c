/* Shadow mode: the legacy runner and the pipeline's trade log feed one
 * parity comparison, bar by bar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/shadow.h"
#include "legacy_int.h"

struct tb_shadow {
    tb_bus *bus;
    tb_parity *parity;
    tb_tradelog *tradelog;
    tb__legacy_runner *legacy;
    /* The pipeline's orders since the last bar, held until that bar's
     * close is known (to_pipeline). */
    tb_trade_record *held;
    size_t nheld, held_cap;
    size_t reported;    /* divergences already published */
    int64_t last_time;  /* close of the last bar, the time of alerts at the end */
    int decisions_only; /* a real exchange: signals and orders compared, not fills */
};

/* On a real exchange the fills (and the positions and totals they make)
 * are the market's, not the monolith's model: only decisions compare. */
static int compared(const tb_shadow *s, const tb_trade_record *rec)
{
    return !s->decisions_only || rec->kind == TB_REC_SIGNAL || rec->kind == TB_REC_ORDER;
}

/* An order is a decision of the bar the pipeline was handling when it was
 * made, as the legacy side's is. A backtest stamps it with that bar's close
 * (the simulated clock); a live run with the wall clock, later than any bar,
 * which would pair with nothing. So orders wait for the bar's hook
 * (tb_shadow_on_bar) and take its close if theirs is later. */
static int to_pipeline(const tb_trade_record *rec, void *ctx)
{
    tb_shadow *s = ctx;
    if (!compared(s, rec)) return 0;
    if (rec->kind != TB_REC_ORDER) return tb_parity_add(s->parity, TB_SIDE_PIPELINE, rec);
    if (s->nheld == s->held_cap) {
        size_t cap = s->held_cap ? s->held_cap * 2 : 8;
        tb_trade_record *h = realloc(s->held, cap * sizeof(*h));
        if (!h) return TB_ENOMEM;
        s->held = h;
        s->held_cap = cap;
    }
    s->held[s->nheld++] = *rec;
    return 0;
}

static int add_held(tb_shadow *s, int64_t bar_close)
{
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->held[i].time > bar_close) s->held[i].time = bar_close;
        int rc = tb_parity_add(s->parity, TB_SIDE_PIPELINE, &s->held[i]);
        if (rc) return rc;
    }
    s->nheld = 0;
    return 0;
}

static int to_legacy(const tb_trade_record *rec, void *ctx)
{
    tb_shadow *s = ctx;
    return compared(s, rec) ? tb_parity_add(s->parity, TB_SIDE_LEGACY, rec) : 0;
}

int tb_shadow_create(const tb_config *cfg, tb_bus *bus, const tb_parity_options *opts,
                     tb_shadow **out, char *err, size_t errlen)
{
    tb_parity_options def;
    if (!opts) {
        tb_parity_options_init(&def);
        opts = &def;
    }
    tb_shadow *s = calloc(1, sizeof(*s));
    if (!s) return TB_ENOMEM;
    s->bus = bus;
    int rc = tb_parity_create(opts, &s->parity);
    if (!rc) rc = tb_tradelog_create(bus, to_pipeline, s, &s->tradelog);
    s->decisions_only = tb__legacy_decisions_only(cfg);
    if (!rc)
        rc = tb__legacy_runner_create_ex(cfg, NULL, 0, to_legacy, s, s->decisions_only, &s->legacy,
                                         err, errlen);
    if (rc) {
        tb_shadow_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

static const char *div_name(tb_divergence_kind k)
{
    return k == TB_DIV_MISMATCH        ? "differs"
           : k == TB_DIV_ONLY_PIPELINE ? "only in the pipeline"
                                       : "only in the legacy system";
}

/* One RiskAlert per new divergence, so monitoring sees each as it happens. */
static int publish_new(tb_shadow *s, int64_t now)
{
    size_t n = tb_parity_divergence_count(s->parity);
    for (; s->reported < n; s->reported++) {
        const tb_divergence *d = tb_parity_divergence(s->parity, s->reported);
        const tb_trade_record *r = d->kind == TB_DIV_ONLY_LEGACY ? &d->legacy : &d->pipeline;
        tb_event ev;
        tb_event_init(&ev, TB_EV_RISK_ALERT, TB_SRC_MONITOR);
        ev.timestamp = now;
        tb_risk_alert *a = &ev.u.risk_alert;
        snprintf(a->rule, sizeof(a->rule), "parity");
        snprintf(a->detail, sizeof(a->detail), "%s record %s%s%s", tb_record_kind_name(r->kind),
                 div_name(d->kind), d->kind == TB_DIV_MISMATCH ? " in " : "",
                 d->kind == TB_DIV_MISMATCH ? d->field : "");
        a->trading_state = TB_TRADING_ACTIVE;
        memcpy(a->strategy_id, r->strategy_id, sizeof(a->strategy_id));
        memcpy(a->symbol, r->symbol, sizeof(a->symbol));
        int rc = tb_bus_publish(s->bus, &ev);
        if (rc) return rc;
    }
    return 0;
}

void tb_shadow_set_trade_from(tb_shadow *s, int64_t t)
{
    if (s) tb__legacy_runner_set_trade_from(s->legacy, t);
}

int tb_shadow_on_bar(tb_shadow *s, const tb_market_data *bar)
{
    int rc = tb__legacy_runner_on_bar(s->legacy, bar);
    if (!rc) rc = add_held(s, bar->close_time);
    if (rc) return rc;
    /* Both sides have now made every record up to this bar's close. */
    s->last_time = bar->close_time;
    int n = tb_parity_compare(s->parity, bar->close_time);
    if (n < 0) return n;
    rc = publish_new(s, bar->close_time);
    return rc ? rc : n;
}

int tb_shadow_finish(tb_shadow *s, tb_decimal realized, tb_decimal unrealized, tb_decimal fees)
{
    tb__legacy_result res;
    int rc = tb_tradelog_finish(s->tradelog, realized, unrealized, fees);
    /* Orders made after the last bar (none in a backtest) keep their time. */
    if (!rc) rc = add_held(s, INT64_MAX);
    if (!rc) rc = tb__legacy_runner_finish(s->legacy, &res);
    if (rc) return rc;
    int n = tb_parity_compare(s->parity, INT64_MAX);
    if (n < 0) return n;
    return publish_new(s, s->last_time);
}

const tb_parity *tb_shadow_parity(const tb_shadow *s)
{
    return s->parity;
}

void tb_shadow_detach(tb_shadow *s)
{
    if (!s) return;
    tb_tradelog_destroy(s->tradelog);
    s->tradelog = NULL;
}

void tb_shadow_destroy(tb_shadow *s)
{
    if (!s) return;
    tb_shadow_detach(s);
    tb__legacy_runner_destroy(s->legacy);
    tb_parity_destroy(s->parity);
    free(s->held);
    free(s);
}
