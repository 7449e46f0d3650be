/* Filling a parity comparison: the pipeline's run, the bundled monolith's
 * run, or a log some other system wrote. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../core/errbuf.h"

#include "tradebus/backtest.h"
#include "legacy_int.h"
#include "tradebus/parity.h"
#include "migration_int.h"

typedef struct {
    tb_parity *parity;
    tb_parity_side side;
    FILE *copy;
    tb_tradelog *tradelog;
    int halted;     /* the pipeline's run halted trading */
    int copy_errno; /* why the first write to copy failed, 0 if none did */
} side_sink;

static int add(const tb_trade_record *rec, void *ctx)
{
    side_sink *s = ctx;
    /* errno is kept at once: by the time the run unwinds it says nothing. */
    if (s->copy && !s->copy_errno && tb_record_sink_file(rec, s->copy) != 0) {
        s->copy_errno = errno ? errno : EIO;
        return TB_EIO;
    }
    if (s->copy_errno) return TB_EIO;
    return tb_parity_add(s->parity, s->side, rec);
}

/* A failed copy is the caller's output failing, not the side's input: it
 * replaces whatever the run made of the sink's error (a bus handler's
 * failure, a log line "input/output error"), which would blame the data. */
static int copy_failed(const side_sink *s, char *err, size_t errlen)
{
    tb__errf(err, errlen, "write failed: %s", strerror(s->copy_errno));
    return TB_EIO;
}

static int on_start(tb_pipeline *p, void *ctx)
{
    side_sink *s = ctx;
    return tb_tradelog_create(tb_pipeline_bus(p), add, s, &s->tradelog);
}

static int on_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx)
{
    side_sink *s = ctx;
    /* From a halt on the pipeline trades reduce-only, which no monolith
     * here models: the comparison is refused rather than reported as the
     * divergences that follow. */
    if (tb_pipeline_trading_state(p) == TB_TRADING_HALTED) {
        s->halted = 1;
        return TB_ECONFIG;
    }
    return tb_tradelog_finish(s->tradelog, res->realized_pnl, res->unrealized_pnl, res->fees);
}

static void on_stop(tb_pipeline *p, void *ctx)
{
    (void)p;
    side_sink *s = ctx;
    tb_tradelog_destroy(s->tradelog);
    s->tradelog = NULL;
}

int tb_parity_add_pipeline_run(tb_parity *p, const struct tb_config *cfg, FILE *copy, char *err,
                               size_t errlen)
{
    side_sink s = {p, TB_SIDE_PIPELINE, copy, NULL, 0, 0};
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.on_start = on_start;
    opt.on_end = on_end;
    opt.on_stop = on_stop;
    opt.hook_ctx = &s;
    tb_backtest_result res;
    int rc = tb_backtest_run(cfg, &opt, &res, err, errlen);
    if (rc == 0) tb_backtest_result_free(&res);
    if (s.copy_errno) return copy_failed(&s, err, errlen);
    if (s.halted)
        snprintf(err, errlen,
                 "trading halted during the run ([risk] max_drawdown_pct): from there the "
                 "pipeline only reduces risk, which the legacy monolith does not model; "
                 "compare with --set risk.max_drawdown_pct=0 (or a limit the run stays within)");
    return rc;
}

int tb_parity_add_legacy_run(tb_parity *p, const struct tb_config *cfg,
                             const struct tb_legacy_strategy *const *extra, size_t nextra,
                             FILE *copy, char *err, size_t errlen)
{
    side_sink s = {p, TB_SIDE_LEGACY, copy, NULL, 0, 0};
    tb__legacy_result res;
    int rc = tb__legacy_run(cfg, extra, nextra, add, &s, &res, err, errlen);
    return s.copy_errno ? copy_failed(&s, err, errlen) : rc;
}

int tb_parity_add_legacy_log(tb_parity *p, FILE *f, const char *name, FILE *copy, char *err,
                             size_t errlen)
{
    side_sink s = {p, TB_SIDE_LEGACY, copy, NULL, 0, 0};
    int rc = tb_tradelog_read(f, name, add, &s, err, errlen);
    return s.copy_errno ? copy_failed(&s, err, errlen) : rc;
}

int tb__parity_add_legacy_lines(tb_parity *p, tb__lr *lr, const char *name, FILE *copy, char *err,
                                size_t errlen)
{
    side_sink s = {p, TB_SIDE_LEGACY, copy, NULL, 0, 0};
    int rc = tb__tradelog_read_lines(lr, name, add, &s, err, errlen);
    return s.copy_errno ? copy_failed(&s, err, errlen) : rc;
}
