#define _POSIX_C_SOURCE 200809L
/* The Monitor: counters for every event type and the run's record files.
 * It encodes into a buffer it owns, so logging allocates nothing per event.
 *
 * It records only well-formed events (validate.h): a line in events.jsonl
 * must decode again, and a row in fills.csv must be an execution that can
 * have happened. It keeps no state per key, so it checks form, not order. */
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "tradebus/codec.h"
#include "../report/report_int.h"
#include "monitor_int.h"
#include "validate.h"

struct tb_monitor {
    tb_bus *bus;
    tb_monitor_config cfg;
    uint64_t counts[TB_EV_COUNT];
    tb_monitor_tally tally;
    /* The same replay the report runs, so trades.csv and the page agree
     * by construction. Its first failure is kept and returned by the
     * writers: the events themselves were fine. */
    tb__report hist;
    tb__rlive live;
    int hist_rc, hist_done, hist_finished;
    int sub;
    char buf[4096];
};

static int write_fill(tb_monitor *m, const tb_event *ev)
{
    const tb_order_filled *f = &ev->u.order_filled;
    char t[32], q[TB_DECIMAL_STRLEN], p[TB_DECIMAL_STRLEN], c[TB_DECIMAL_STRLEN];
    tb_format_time_iso(ev->timestamp, t, sizeof(t));
    tb_dec_format(f->filled_quantity, q, sizeof(q));
    tb_dec_format(f->filled_price, p, sizeof(p));
    tb_dec_format(f->commission, c, sizeof(c));
    if (fprintf(m->cfg.fills_csv, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%llu,%s\n", t, f->strategy_id,
                f->symbol, tb_side_name(f->side), f->order_id, f->client_order_id, q, p, c,
                (unsigned long long)ev->event_id, tb_order_origin_name(f->origin)) < 0)
        return TB_EIO;
    return 0;
}

/* Alerts are rare (a handful of rules), so a linear scan of a fixed table
 * is enough and keeps the monitor free of allocation. */
static void count_alert(tb_monitor *m, const tb_event *ev)
{
    const tb_risk_alert *a = &ev->u.risk_alert;
    tb_monitor_tally *t = &m->tally;
    size_t i = 0;
    while (i < t->nalerts && strcmp(t->alerts[i].rule, a->rule) != 0)
        i++;
    if (i == t->nalerts) {
        if (t->nalerts < TB_MONITOR_ALERT_RULES) {
            t->nalerts++;
            memcpy(t->alerts[i].rule, a->rule, sizeof(a->rule));
        } else {
            i = TB_MONITOR_ALERT_RULES - 1;
            snprintf(t->alerts[i].rule, sizeof(t->alerts[i].rule), "other");
        }
    }
    t->alerts[i].count++;
    if (a->trading_state == TB_TRADING_HALTED && t->trading_state != TB_TRADING_HALTED) {
        if (t->nhalts < TB_MONITOR_HALTS) {
            tb_halt *h = &t->halts[t->nhalts++];
            h->time = ev->timestamp;
            memcpy(h->rule, a->rule, sizeof(h->rule));
            memcpy(h->detail, a->detail, sizeof(h->detail));
        }
        t->halts_total++;
    }
    t->trading_state = a->trading_state;
}

TB__HOT static int on_event(const tb_event *ev, void *ctx)
{
    tb_monitor *m = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(m->bus, ev, TB_BUS_ALL, why, sizeof(why));
    if (rc) return tb__refuse(m->bus, rc, why);
    m->counts[ev->type]++;
    if (ev->type == TB_EV_ORDER_REJECTED) {
        unsigned r = (unsigned)ev->u.order_rejected.reason;
        m->tally.rejections[r < TB_MONITOR_REJECT_SLOTS ? r : 0]++;
    } else if (ev->type == TB_EV_RISK_ALERT) {
        count_alert(m, ev);
    }
    if (!m->hist_rc && !m->hist_done) {
        if (ev->type != TB_EV_MARKET_DATA)
            m->hist_rc = tb__report_apply(&m->hist, ev);
        else if (!tb__report_bar_quick(&m->hist, ev))
            m->hist_rc = tb__report_apply_bar(&m->hist, ev);
    }
    if (m->cfg.event_log) {
        int n = tb_codec_encode(ev, m->buf, sizeof(m->buf));
        if (n < 0) return n;
        m->buf[n] = '\n';
        if (fwrite(m->buf, 1, (size_t)n + 1, m->cfg.event_log) != (size_t)n + 1) return TB_EIO;
    }
    if (m->cfg.fills_csv && ev->type == TB_EV_ORDER_FILLED) return write_fill(m, ev);
    return 0;
}

int tb_monitor_create(tb_bus *bus, const tb_monitor_config *cfg, tb_monitor **out)
{
    if (!bus || !out) return TB_EINVAL;
    tb_monitor *m = calloc(1, sizeof(*m));
    if (!m) return TB_ENOMEM;
    m->bus = bus;
    if (cfg) m->cfg = *cfg;
    m->hist.dir = "";
    m->hist.initial = m->cfg.initial_equity;
    m->live.trades = m->cfg.trades_csv;
    m->live.equity = m->cfg.equity_csv;
    m->hist.live = &m->live;
    if ((m->cfg.fills_csv &&
         fputs("timestamp,strategy_id,symbol,side,order_id,client_order_id,quantity,price,"
               "commission,event_id,origin\n",
               m->cfg.fills_csv) < 0) ||
        (m->cfg.trades_csv && fputs(tb__report_trades_header, m->cfg.trades_csv) < 0) ||
        (m->cfg.equity_csv && fputs(tb__report_equity_header, m->cfg.equity_csv) < 0)) {
        free(m);
        return TB_EIO;
    }
    m->sub = tb_bus_subscribe_named(bus, TB_BUS_ALL, on_event, m, tb_source_name(TB_SRC_MONITOR));
    if (m->sub < 0) {
        int rc = m->sub;
        tb__report_free(&m->hist);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void tb_monitor_destroy(tb_monitor *m)
{
    if (!m) return;
    tb_bus_unsubscribe(m->bus, m->sub);
    tb__report_free(&m->hist);
    free(m);
}

uint64_t tb_monitor_count(const tb_monitor *m, tb_event_type type)
{
    if ((int)type < 0 || type >= TB_EV_COUNT) return 0;
    if (type != TB_BUS_ALL) return m->counts[type];
    uint64_t n = 0;
    for (int t = 1; t < TB_EV_COUNT; t++)
        n += m->counts[t];
    return n;
}

void tb_monitor_get_tally(const tb_monitor *m, tb_monitor_tally *out)
{
    *out = m->tally;
}

void tb_monitor_trades(const tb_monitor *m, uint64_t *closed, uint64_t *wins)
{
    tb__report_count_trades(&m->hist, closed, wins);
}

int tb_monitor_finish(tb_monitor *m)
{
    if (!m->hist_done && !m->hist_rc) {
        m->hist_rc = tb__report_finish(&m->hist);
        m->hist_finished = !m->hist_rc;
    }
    /* Rows formatted before a failure are still written, as each row was
     * when it was its own fwrite. */
    if (tb__report_flush_rows(&m->hist) != 0 && !m->hist_rc) m->hist_rc = TB_EIO;
    m->hist_done = 1;
    if (!m->hist_rc && ((m->cfg.trades_csv && ferror(m->cfg.trades_csv)) ||
                        (m->cfg.equity_csv && ferror(m->cfg.equity_csv))))
        m->hist_rc = TB_EIO;
    return m->hist_rc;
}

int tb__monitor_keep_replay(tb_monitor *m, int lean, int64_t *t, tb_decimal *eq, size_t cap)
{
    /* The replay counts what it applied: its mode is set before the first. */
    if (m->hist.events || m->hist_done || m->cfg.trades_csv || m->cfg.equity_csv) return TB_ESTATE;
    m->hist.live = NULL;
    m->hist.lean = lean;
    m->hist.t = t;
    m->hist.eq = eq;
    m->hist.cappts = t && eq ? cap : 0;
    return 0;
}

int tb__monitor_take_replay(tb_monitor *m, tb__report *out, int *finished)
{
    if (m->hist.live) { /* a live replay dropped what it wrote */
        memset(out, 0, sizeof(*out));
        *finished = 0;
        return TB_ESTATE;
    }
    *out = m->hist;
    memset(&m->hist, 0, sizeof(m->hist));
    *finished = m->hist_finished;
    m->hist_done = 1;
    return m->hist_rc;
}
