/* Forwarders from the generic exchange handle to an adapter's vtable. */
#include <string.h>

#include "../core/hot.h"
#include "tradebus/exchange.h"

void tb_exchange_set_listener(tb_exchange *ex, tb_exchange_listener fn, void *ctx)
{
    ex->listener = fn;
    ex->listener_ctx = ctx;
}

void tb_exchange_set_result_listener(tb_exchange *ex, tb_exchange_result_listener fn, void *ctx)
{
    ex->result_listener = fn;
    ex->result_ctx = ctx;
}

void tb_exchange_deliver_result(tb_exchange *ex, const tb_exchange_result *r)
{
    if (!ex || !r || !ex->result_listener) return;
    if (r->rc == TB_EIO && r->xerr.failure == TB_XF_NONE) {
        tb_exchange_result w = *r;
        w.xerr.failure = TB_XF_TIMEOUT;
        ex->result_listener(&w, ex->result_ctx);
        return;
    }
    ex->result_listener(r, ex->result_ctx);
}

/* Callers may pass NULL for xerr; adapters always get somewhere to write,
 * and a TB_EIO that names no failure is read as the worst case — a timeout,
 * after which the request may have been executed — so that nobody resends
 * blindly on an adapter's omission. */
static int finish(int rc, tb_exchange_error *xerr)
{
    if (rc == TB_EIO && xerr->failure == TB_XF_NONE) xerr->failure = TB_XF_TIMEOUT;
    if (rc != TB_EIO) xerr->failure = TB_XF_NONE;
    return rc;
}

int tb_exchange_submit(tb_exchange *ex, const tb_order_placement_request *req, int64_t now,
                       tb_exchange_error *xerr)
{
    tb_exchange_error local;
    if (!xerr) xerr = &local;
    memset(xerr, 0, sizeof(*xerr));
    if (!ex || !req) return TB_EINVAL;
    if (!ex->vt->submit) return TB_EMISUSE;
    return finish(ex->vt->submit(ex, req, now, xerr), xerr);
}

int tb_exchange_cancel(tb_exchange *ex, const char *client_order_id, int64_t now,
                       tb_exchange_error *xerr)
{
    tb_exchange_error local;
    if (!xerr) xerr = &local;
    memset(xerr, 0, sizeof(*xerr));
    if (!ex || !client_order_id) return TB_EINVAL;
    if (!ex->vt->cancel) return TB_EMISUSE;
    return finish(ex->vt->cancel(ex, client_order_id, now, xerr), xerr);
}

int tb_exchange_query(tb_exchange *ex, const char *client_order_id, int64_t now,
                      tb_exchange_order_info *out, tb_exchange_error *xerr)
{
    tb_exchange_error local;
    if (!xerr) xerr = &local;
    memset(xerr, 0, sizeof(*xerr));
    if (!ex || !client_order_id || !out) return TB_EINVAL;
    if (!ex->vt->query) return TB_EMISUSE;
    memset(out, 0, sizeof(*out));
    return finish(ex->vt->query(ex, client_order_id, now, out, xerr), xerr);
}

TB__HOT int tb_exchange_on_market_data(tb_exchange *ex, const tb_market_data *bar)
{
    if (!ex || !bar) return TB_EINVAL;
    /* A live adapter has no use for bars: not an error to offer them. */
    if (!ex->vt->on_market_data) return 0;
    return ex->vt->on_market_data(ex, bar);
}

int tb_exchange_cash(tb_exchange *ex, tb_decimal *out)
{
    if (!ex || !out) return TB_EINVAL;
    if (!ex->vt->cash) return TB_EMISUSE;
    return ex->vt->cash(ex, out);
}

int tb_exchange_equity(tb_exchange *ex, tb_decimal *out)
{
    if (!ex || !out) return TB_EINVAL;
    if (!ex->vt->equity) return TB_EMISUSE;
    return ex->vt->equity(ex, out);
}

void tb_exchange_destroy(tb_exchange *ex)
{
    if (ex && ex->vt->destroy) ex->vt->destroy(ex);
}

const char *tb_exchange_failure_name(tb_exchange_failure f)
{
    switch (f) {
    case TB_XF_NONE:
        return "none";
    case TB_XF_TIMEOUT:
        return "timeout";
    case TB_XF_SERVER_ERROR:
        return "server_error";
    case TB_XF_RATE_LIMITED:
        return "rate_limited";
    case TB_XF_CONNECTION_LOST:
        return "connection_lost";
    }
    return "?";
}

int tb_exchange_failure_is_ambiguous(tb_exchange_failure f)
{
    return f == TB_XF_TIMEOUT || f == TB_XF_SERVER_ERROR;
}
