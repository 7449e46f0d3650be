/* Forwarders from the generic exchange handle to an adapter's vtable. */
#include "tradebus/exchange.h"

void tb_exchange_set_listener(tb_exchange *ex, tb_exchange_listener fn, void *ctx)
{
    ex->listener = fn;
    ex->listener_ctx = ctx;
}

int tb_exchange_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now)
{
    if (!ex || !req) return TB_EINVAL;
    if (!ex->vt->submit) return TB_EMISUSE;
    return ex->vt->submit(ex, req, now);
}

int tb_exchange_cancel(tb_exchange *ex, const char *client_order_id, int64_t now)
{
    if (!ex || !client_order_id) return TB_EINVAL;
    if (!ex->vt->cancel) return TB_EMISUSE;
    return ex->vt->cancel(ex, client_order_id, now);
}

int tb_exchange_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    if (!ex || !bar) return TB_EINVAL;
    /* A live adapter has no use for bars: not an error to offer them. */
    if (!ex->vt->on_market_data) return 0;
    return ex->vt->on_market_data(ex, bar);
}

void tb_exchange_destroy(tb_exchange *ex)
{
    if (ex && ex->vt->destroy) ex->vt->destroy(ex);
}
