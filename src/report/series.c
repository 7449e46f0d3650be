/* Replaying a run's events into the report's curves, positions and trades.
 * The arithmetic is the Position Manager's (same rounding, same marks), so
 * the curve's last point is the summary's final equity to the last digit. */
#define _DEFAULT_SOURCE /* fwrite_unlocked */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/decimal_int.h"
#include "../core/fixstr.h"
#include "report_int.h"
#include "tradebus/monitor.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return TB_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int find_strat(tb__report *r, const char *name)
{
    for (size_t i = 0; i < r->nstrats; i++)
        if (strcmp(r->strats[i].name, name) == 0) return (int)i;
    tb__rstrat *s = realloc(r->strats, (r->nstrats + 1) * sizeof(*s));
    if (!s) return TB_ENOMEM;
    r->strats = s;
    s = &r->strats[r->nstrats];
    memset(s, 0, sizeof(*s));
    /* Sized like r->t: a strategy seen late is flat (0) before. Lean
     * reports rate the account alone: no curve per strategy. */
    if (!r->lean) {
        size_t cap = r->cappts ? r->cappts : 1;
        s->pnl = calloc(cap, sizeof(*s->pnl));
        if (!s->pnl) return TB_ENOMEM;
    }
    memcpy(s->name, name, strlen(name) + 1);
    return (int)r->nstrats++;
}

static int find_sym(tb__report *r, const char *name)
{
    for (size_t i = 0; i < r->nsyms; i++)
        if (tb__sym_eq(r->syms[i].name, name)) return (int)i;
    tb__rsym *s = realloc(r->syms, (r->nsyms + 1) * sizeof(*s));
    if (!s) return TB_ENOMEM;
    r->syms = s;
    s = &r->syms[r->nsyms];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, name, strlen(name) + 1);
    return (int)r->nsyms++;
}

/* strat, sym: an event's fields (arrays of TB_STRATEGY_LEN, TB_SYMBOL_LEN). */
static int find_key(tb__report *r, const char *strat, const char *sym)
{
    for (size_t i = 0; i < r->nkeys; i++)
        if (tb__strategy_eq(r->strats[r->keys[i].strat].name, strat) &&
            tb__sym_eq(r->syms[r->keys[i].sym].name, sym))
            return (int)i;
    int st = find_strat(r, strat);
    if (st < 0) return st;
    int sy = find_sym(r, sym);
    if (sy < 0) return sy;
    tb__rkey *k = realloc(r->keys, (r->nkeys + 1) * sizeof(*k));
    if (!k) return TB_ENOMEM;
    r->keys = k;
    k = &r->keys[r->nkeys];
    memset(k, 0, sizeof(*k));
    k->strat = st;
    k->sym = sy;
    k->trade = k->tied = -1;
    return (int)r->nkeys++;
}

/* A key's worth at its symbol's latest close (k->unrealized set), exactly
 * as the Position Manager marks it: realized + unrealized - fees. */
static int key_value(tb__report *r, tb__rkey *k, tb_decimal *v)
{
    const tb__rsym *s = &r->syms[k->sym];
    int rc = 0;
    k->unrealized = 0;
    if (k->qty != 0 && s->n) {
        tb_decimal d;
        rc = tb__dec_sub(s->close, k->entry, &d);
        if (!rc) rc = tb__dec_mul_half_up(d, k->qty, &k->unrealized);
    }
    *v = k->past_realized;
    if (!rc) rc = tb__dec_add(*v, k->life_realized, v);
    if (!rc) rc = tb__dec_add(*v, k->unrealized, v);
    if (!rc) rc = tb__dec_sub(*v, k->fees, v);
    return rc;
}

#define MINUTE_NS 60000000000LL

const char tb__report_trades_header[] =
    "strategy,symbol,side,entry_time,entry_price,exit_time,exit_price,quantity,pnl,fees,"
    "return_pct,exit_reason,mae_pct,mfe_pct\n";
const char tb__report_equity_header[] = "time,equity,drawdown_pct\n";

/* (peak - eq) x 100 / peak, 0 at a new peak. */
static int drawdown(tb_decimal peak, tb_decimal eq, tb_decimal *dd)
{
    *dd = 0;
    if (peak > 0 && peak > eq &&
        (tb_dec_muldiv_int(peak - eq, 100, 1, TB_ROUND_HALF_UP, dd) ||
         tb_dec_div(*dd, peak, TB_ROUND_HALF_UP, dd)))
        return TB_EOVERFLOW;
    return 0;
}

/* Hands the rows w holds to f. 0 or TB_EIO. */
static int equity_rows_flush(FILE *f, tb__equity_rows *w)
{
    size_t len = w->out_len;
    w->out_len = 0;
    /* Unlocked: one thread writes the file, and with the writer thread
     * running stdio would otherwise take its lock for every call. */
    return fwrite_unlocked(w->out, 1, len, f) == len ? 0 : TB_EIO;
}

/* One row per minute of data (2 M rows for 2 M bars): put together by hand
 * into w's 4 KB of rows, handed to f when full, as fprintf's parsing and a
 * call per row cost a tenth of a run; the drawdown's division and the
 * decimals only when they changed. */

static int equity_line(FILE *f, tb__equity_rows *w, int64_t t, tb_decimal eq, tb_decimal peak)
{
    if (w->tail_len == 0 || eq != w->eq || peak != w->peak) {
        tb_decimal dd;
        if (drawdown(peak, eq, &dd)) return TB_EOVERFLOW;
        size_t len = 0;
        w->tail[len++] = ',';
        int n = tb_dec_format(eq, w->tail + len, TB_DECIMAL_STRLEN);
        if (n < 0) return n;
        len += (size_t)n;
        w->tail[len++] = ',';
        n = tb_dec_format(dd, w->tail + len, TB_DECIMAL_STRLEN);
        if (n < 0) return n;
        len += (size_t)n;
        w->tail[len++] = '\n';
        w->tail_len = len;
        w->eq = eq;
        w->peak = peak;
    }
    if (w->out_len + 32 + w->tail_len > sizeof w->out && equity_rows_flush(f, w) != 0)
        return TB_EIO;
    char *line = w->out + w->out_len;
    int n = tb__time_iso_ms(t, &w->day, line, 32);
    if (n < 0) return n;
    memcpy(line + n, w->tail, w->tail_len);
    w->out_len += (size_t)n + w->tail_len;
    return 0;
}

static int trade_line(const tb__report *r, size_t i, FILE *f)
{
    tb__rrow w;
    int rc = tb__report_trade_row(r, i, &w);
    if (rc) return rc;
    char t0[32], t1[32], v[8][TB_DECIMAL_STRLEN];
    tb_format_time_iso(w.entry_time, t0, sizeof(t0));
    tb_format_time_iso(w.exit_time, t1, sizeof(t1));
    const tb_decimal d[8] = {w.entry, w.exit,    w.qty,     w.pnl,
                             w.fees,  w.ret_pct, w.mae_pct, w.mfe_pct};
    for (int j = 0; j < 8; j++)
        tb_dec_format(d[j], v[j], sizeof(v[j]));
    /* Strategy ids and symbols are config names: no commas or quotes. */
    return fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", w.strategy, w.symbol,
                   w.dir > 0 ? "long" : "short", t0, v[0], t1, v[1], v[2], v[3], v[4], v[5],
                   tb_order_origin_name(w.reason), v[6], v[7]) < 0
               ? TB_EIO
               : 0;
}

/* Live mode: writes and drops the closed trades (all of them, open ones
 * too, when last), in array order, which is entry order; the open ones
 * move down and their keys follow. */
static int live_flush(tb__report *r, int last)
{
    tb__rlive *l = r->live;
    size_t j = 0;
    int rc = 0;
    for (size_t i = 0; i < r->ntrades; i++) {
        tb__rtrade *tr = &r->trades[i];
        if (tr->close_time || last) {
            if (l->trades && !rc) rc = trade_line(r, i, l->trades);
            if (tr->close_time) {
                tb_decimal net;
                l->closing--;
                l->closed++;
                if (tb_dec_sub(tr->realized, tr->fees, &net) == 0 && net > 0) l->wins++;
            }
            for (size_t k = 0; k < r->nkeys; k++) {
                if (r->keys[k].tied == (long)i) r->keys[k].tied = -1;
                if (r->keys[k].trade == (long)i) r->keys[k].trade = -1;
            }
            continue;
        }
        if (i != j) {
            r->trades[j] = *tr;
            for (size_t k = 0; k < r->nkeys; k++) {
                if (r->keys[k].tied == (long)i) r->keys[k].tied = (long)j;
                if (r->keys[k].trade == (long)i) r->keys[k].trade = (long)j;
            }
        }
        j++;
    }
    r->ntrades = j;
    return rc;
}

/* Live mode's point: its equity row unless the next point (at time next,
 * 0 when last) is in the same minute, then the trades that closed in it. */
static int live_point(tb__report *r, int64_t next)
{
    int last = next == 0;
    tb__rlive *l = r->live;
    int rc = 0;
    if (l->equity || last) {
        tb_decimal eq = r->initial, v;
        for (size_t i = 0; i < r->nkeys && !rc; i++)
            if (!(rc = key_value(r, &r->keys[i], &v))) rc = tb__dec_add(eq, v, &eq);
        if (!rc && l->equity) {
            if (!r->npts || eq > l->peak) l->peak = eq;
            /* Sub-minute bars: the minute's last point stands for it. */
            if (last || next / MINUTE_NS != r->cur_time / MINUTE_NS)
                rc = equity_line(l->equity, &l->rows, r->cur_time, eq, l->peak);
            if (!rc && last) rc = equity_rows_flush(l->equity, &l->rows);
        }
    }
    if (!rc) rc = live_flush(r, 0);
    if (!rc && last) rc = live_flush(r, 1);
    r->npts++;
    return rc;
}

/* Equity at the current point: every position marked at its symbol's latest
 * close exactly as the Position Manager marks it. next: the next point's
 * time, 0 at the end. */
static int close_point(tb__report *r, int64_t next)
{
    if (r->live) return live_point(r, next);
    size_t cap = r->cappts;
    int rc = grow((void **)&r->t, &cap, r->npts + 1, sizeof(*r->t));
    if (!rc && cap != r->cappts) {
        size_t c2 = r->cappts;
        rc = grow((void **)&r->eq, &c2, cap, sizeof(*r->eq));
        for (size_t i = 0; !rc && !r->lean && i < r->nstrats; i++) {
            tb_decimal *p = realloc(r->strats[i].pnl, cap * sizeof(*p));
            if (!p)
                rc = TB_ENOMEM;
            else
                r->strats[i].pnl = p;
        }
        if (!rc) r->cappts = cap;
    }
    if (rc) return rc;
    tb_decimal eq = r->initial;
    int any = 0;
    if (r->lean) { /* the account's curve alone: a sweep's row, point by point */
        for (size_t i = 0; i < r->nkeys; i++) {
            tb_decimal v;
            rc = key_value(r, &r->keys[i], &v);
            if (!rc) rc = tb__dec_add(eq, v, &eq);
            if (rc) return rc;
            any |= r->keys[i].qty != 0;
        }
        r->exposed += (size_t)any;
        r->t[r->npts] = r->cur_time;
        r->eq[r->npts++] = eq;
        return 0;
    }
    for (size_t i = 0; i < r->nstrats; i++)
        r->strats[i].pnl[r->npts] = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        tb__rkey *k = &r->keys[i];
        tb_decimal v;
        rc = key_value(r, k, &v);
        if (!rc) rc = tb__dec_add(eq, v, &eq);
        tb_decimal *sp = &r->strats[k->strat].pnl[r->npts];
        if (!rc) rc = tb__dec_add(*sp, v, sp);
        if (rc) return rc;
        if (k->qty != 0) {
            any = 1;
            tb__rstrat *st = &r->strats[k->strat];
            if (st->exposed_at != r->npts + 1) { /* once per point */
                st->exposed_at = r->npts + 1;
                st->exposed++;
            }
        }
    }
    r->exposed += (size_t)any;
    r->t[r->npts] = r->cur_time;
    r->eq[r->npts++] = eq;
    return 0;
}

static int on_bar(tb__report *r, const tb_market_data *md)
{
    if (r->cur_time && md->close_time != r->cur_time) {
        /* Live, most points have nothing to write: counted in line. */
        if (r->live && !r->live->equity && !r->live->closing) {
            r->npts++;
        } else {
            int rc = close_point(r, md->close_time);
            if (rc) return rc;
        }
    }
    r->cur_time = md->close_time;
    r->bars++;
    /* Bars come symbol after symbol: the next one is likely the one after. */
    int si = -1;
    if (r->nsyms) {
        size_t guess = r->last_sym + 1 < r->nsyms ? r->last_sym + 1 : 0; /* no div per bar */
        if (tb__sym_eq(r->syms[guess].name, md->symbol)) si = (int)guess;
    }
    if (si < 0) si = find_sym(r, md->symbol);
    if (si < 0) return si;
    r->last_sym = (size_t)si;
    tb__rsym *s = &r->syms[si];
    if (r->lean) {
        /* A sweep's row: its figures read the account's curve and the
         * trades' PnL, never their excursions, so the bar gives its symbol
         * a close to mark at and nothing else. */
        s->close = md->close;
        s->n++;
        return 0;
    }
    /* The three arrays grow alike: s->cap moves with the last one. */
    size_t cap = s->cap, cap2 = s->cap;
    int rc = 0;
    int series = !r->live && !r->lean;
    if (series) rc = grow((void **)&s->t, &cap, s->n + 1, sizeof(*s->t));
    if (!rc && series) rc = grow((void **)&s->closes, &cap2, s->n + 1, sizeof(*s->closes));
    if (!rc && series) rc = grow((void **)&s->close_d, &s->cap, s->n + 1, sizeof(*s->close_d));
    if (rc) return rc;
    s->close = md->close;
    s->high = md->high;
    s->low = md->low;
    /* Excursions: every bar a trade is open in counts, the entry and exit bars too. */
    for (size_t i = 0; i < r->nkeys; i++) {
        const tb__rkey *k = &r->keys[i];
        if (k->sym != si || k->trade < 0) continue;
        tb__rtrade *tr = &r->trades[k->trade];
        if (md->low < tr->lo) tr->lo = md->low;
        if (md->high > tr->hi) tr->hi = md->high;
    }
    if (!series) { /* s->n counts the bars (a close to mark at) */
        s->n++;
        return 0;
    }
    s->t[s->n] = md->close_time;
    s->closes[s->n] = md->close;
    s->close_d[s->n++] = tb_dec_to_double(md->close);
    return 0;
}

static int open_trade(tb__report *r, int key, int dir, int64_t t, tb_decimal price)
{
    int rc = grow((void **)&r->trades, &r->captrades, r->ntrades + 1, sizeof(*r->trades));
    if (rc) return rc;
    tb__rtrade *tr = &r->trades[r->ntrades];
    memset(tr, 0, sizeof(*tr));
    tr->key = key;
    tr->dir = dir;
    tr->open_time = t;
    tr->entry = price;
    /* The fill happened within the symbol's latest bar: its range counts. */
    const tb__rsym *s = &r->syms[r->keys[key].sym];
    tr->lo = s->n ? s->low : price;
    tr->hi = s->n ? s->high : price;
    if (price < tr->lo) tr->lo = price;
    if (price > tr->hi) tr->hi = price;
    r->keys[key].trade = (long)r->ntrades++;
    return 0;
}

static int on_fill(tb__report *r, const tb_event *ev)
{
    const tb_order_filled *f = &ev->u.order_filled;
    int ki = find_key(r, f->strategy_id, f->symbol);
    if (ki < 0) return ki;
    tb__rkey *k = &r->keys[ki];
    tb__rsym *s = &r->syms[k->sym];
    int rc = 0;
    if (!r->live && !r->lean)
        rc = grow((void **)&s->fills, &s->capfills, s->nfills + 1, sizeof(*s->fills));
    if (!rc) rc = tb_dec_add(r->fees, f->commission, &r->fees);
    if (!rc) rc = tb_dec_add(k->fees, f->commission, &k->fees);
    if (rc) return rc;
    if (!r->live && !r->lean)
        s->fills[s->nfills++] = (tb__rfill){ev->timestamp, f->filled_price, f->filled_quantity,
                                            f->side == TB_SIDE_BUY, k->strat};
    r->fills++;
    r->strats[k->strat].st.fills++;

    tb_decimal q = f->filled_quantity, old = k->fill_qty, aq = tb_dec_abs(old);
    tb_decimal delta = f->side == TB_SIDE_BUY ? q : -q, now;
    if ((rc = tb_dec_add(old, delta, &now))) return rc;
    tb_decimal fee_open = f->commission;
    if (old != 0 && (old > 0) != (delta > 0)) {
        tb__rtrade *tr = &r->trades[k->trade];
        tb_decimal fee_close = f->commission;
        if (q > aq) /* a flip: the commission is shared pro rata by quantity */
            rc = tb_dec_muldiv_int(f->commission, aq, q, TB_ROUND_HALF_UP, &fee_close);
        if (!rc) rc = tb_dec_add(tr->fees, fee_close, &tr->fees);
        tb_decimal closed = q < aq ? q : aq, value;
        if (!rc) rc = tb_dec_mul(closed, f->filled_price, TB_ROUND_HALF_UP, &value);
        if (!rc) rc = tb_dec_add(tr->exit_value, value, &tr->exit_value);
        if (!rc) rc = tb_dec_add(tr->exit_qty, closed, &tr->exit_qty);
        if (rc) return rc;
        tr->fills++;
        tr->reason = f->origin;
        /* The average price of the closing fills (a fill's value is exact
         * to 1e-8 for quantities of up to 8 digits; so is the average). */
        rc = tb_dec_div(tr->exit_value, tr->exit_qty, TB_ROUND_HALF_UP, &tr->exit);
        if (rc) return rc;
        fee_open = f->commission - fee_close;
        if (q >= aq) {
            tr->close_time = ev->timestamp;
            tr->close_pt = r->npts;
            if (r->live) r->live->closing++;
            k->trade = -1;
        }
    }
    if (now != 0 && (old == 0 || (old > 0) != (now > 0))) {
        rc = open_trade(r, ki, now > 0 ? 1 : -1, ev->timestamp, f->filled_price);
        if (rc) return rc;
    }
    if (now != 0 && (old == 0 || (old > 0) == (delta > 0) || q > aq)) {
        /* the fill opened or added to the trade now open */
        tb__rtrade *tr = &r->trades[k->trade];
        if ((rc = tb_dec_add(tr->fees, fee_open, &tr->fees))) return rc;
        tr->fills++;
    }
    if (k->trade >= 0 && tb_dec_abs(now) > r->trades[k->trade].max_qty)
        r->trades[k->trade].max_qty = tb_dec_abs(now);
    k->fill_qty = now;
    return 0;
}

static int on_position(tb__report *r, const tb_position_update *u)
{
    int ki = find_key(r, u->strategy_id, u->symbol);
    if (ki < 0) return ki;
    tb__rkey *k = &r->keys[ki];
    int rc = 0;
    if (u->position_id != k->pid) {
        if (u->position_id < k->pid) return TB_ESTATE;
        rc = tb_dec_add(k->past_realized, k->life_realized, &k->past_realized);
        if (rc) return rc;
        k->pid = u->position_id;
    }
    k->life_realized = u->realized_pnl;
    k->qty = u->current_quantity;
    k->entry = u->entry_price;
    /* The trade this life is: a closed one already tied to it (a flip's
     * closing update comes after the fill opened the next), else the open one. */
    tb__rtrade *tr = NULL;
    if (k->tied >= 0 && r->trades[k->tied].pid == u->position_id) {
        tr = &r->trades[k->tied];
    } else if (k->trade >= 0 && r->trades[k->trade].pid == 0) {
        tr = &r->trades[k->trade];
        tr->pid = u->position_id;
        k->tied = k->trade;
    }
    if (tr) {
        tr->realized = u->realized_pnl;
        if (u->entry_price) tr->entry = u->entry_price;
    }
    return 0;
}

TB__HOT int tb__report_apply_bar(tb__report *r, const tb_event *ev)
{
    r->events++;
    return on_bar(r, &ev->u.market_data);
}

TB__HOT int tb__report_apply(tb__report *r, const tb_event *ev)
{
    r->events++;
    switch (ev->type) {
    case TB_EV_MARKET_DATA:
        return on_bar(r, &ev->u.market_data);
    case TB_EV_ORDER_FILLED:
        return on_fill(r, ev);
    case TB_EV_POSITION_UPDATE:
        return on_position(r, &ev->u.position);
    case TB_EV_ORDER_REJECTED: {
        const tb_order_rejected *x = &ev->u.order_rejected;
        if (r->nrejects < TB__REPORT_NOTES) {
            tb__rnote *n = &r->rejects[r->nrejects++];
            n->t = ev->timestamp;
            snprintf(n->what, sizeof(n->what), "%s", tb_reject_reason_name(x->reason));
            snprintf(n->text, sizeof(n->text), "%s: %s", x->client_order_id, x->text);
        }
        return 0;
    }
    case TB_EV_RISK_ALERT: {
        const tb_risk_alert *a = &ev->u.risk_alert;
        tb__rnote n = {ev->timestamp, "", ""};
        snprintf(n.what, sizeof(n.what), "%s", a->rule);
        snprintf(n.text, sizeof(n.text), "%s", a->detail);
        if (r->nalerts < TB__REPORT_NOTES) r->alerts[r->nalerts++] = n;
        if (a->trading_state == TB_TRADING_HALTED && !r->halt.t) r->halt = n;
        return 0;
    }
    default:
        return 0;
    }
}

int tb__report_finish(tb__report *r)
{
    if (r->live) return r->cur_time ? live_point(r, 0) : live_flush(r, 1);
    return r->cur_time ? close_point(r, 0) : 0;
}

int tb__report_benchmark(tb__report *r)
{
    free(r->bench);
    r->bench = malloc((r->npts ? r->npts : 1) * sizeof(*r->bench));
    size_t *next = calloc(r->nsyms ? r->nsyms : 1, sizeof(*next)); /* bars up to the point */
    int rc = r->bench && next ? 0 : TB_ENOMEM;
    int64_t n = (int64_t)r->nsyms;
    tb_decimal cash = 0; /* one share */
    if (!rc && n) rc = tb_dec_muldiv_int(r->initial, 1, n, TB_ROUND_HALF_UP, &cash);
    for (size_t i = 0; i < r->npts && !rc; i++) {
        tb_decimal b = n ? 0 : r->initial;
        for (size_t k = 0; k < r->nsyms && !rc; k++) {
            const tb__rsym *s = &r->syms[k];
            while (next[k] < s->n && s->t[next[k]] <= r->t[i])
                next[k]++;
            tb_decimal v = cash, first = s->closes[0];
            if (next[k] && first > 0) {
                /* initial x close / (n x first) in one rounding: the units
                 * share / first are not a decimal, their value is. */
                if (first > INT64_MAX / n)
                    rc = TB_EOVERFLOW;
                else
                    rc = tb_dec_muldiv_int(r->initial, s->closes[next[k] - 1], first * n,
                                           TB_ROUND_HALF_UP, &v);
            }
            if (!rc) rc = tb_dec_add(b, v, &b);
        }
        r->bench[i] = b;
    }
    free(next);
    return rc;
}

/* (x - entry) x 100 / entry, sign-adjusted for the trade's direction. */
static int pct_from(tb_decimal entry, tb_decimal x, int dir, tb_decimal *out)
{
    tb_decimal d;
    *out = 0;
    if (entry <= 0) return 0;
    int rc = tb_dec_sub(x, entry, &d);
    if (!rc) rc = tb_dec_muldiv_int(d, dir * 100, 1, TB_ROUND_HALF_UP, &d);
    if (!rc) rc = tb_dec_div(d, entry, TB_ROUND_HALF_UP, out);
    return rc;
}

int tb__report_trade_row(const tb__report *r, size_t i, tb__rrow *o)
{
    const tb__rtrade *t = &r->trades[i];
    const tb__rkey *k = &r->keys[t->key];
    const tb__rsym *s = &r->syms[k->sym];
    memset(o, 0, sizeof(*o));
    o->strategy = r->strats[k->strat].name;
    o->symbol = s->name;
    o->dir = t->dir;
    o->entry_time = t->open_time;
    o->entry = t->entry;
    o->qty = t->max_qty;
    o->fees = t->fees;
    o->pnl = t->realized;
    o->reason = t->reason;
    o->exit_time = t->close_time;
    o->exit = t->exit;
    int rc = 0;
    if (!t->close_time) {
        /* Marked as the equity curve marks it: the same unrealized figure. */
        o->open = 1;
        o->reason = TB_ORIGIN_END;
        o->exit_time = r->cur_time ? r->cur_time : t->open_time; /* the last point's */
        o->exit = s->close;
        if ((long)i == k->trade) rc = tb_dec_add(o->pnl, k->unrealized, &o->pnl);
    }
    tb_decimal net, basis;
    if (!rc) rc = tb_dec_sub(o->pnl, o->fees, &net);
    if (!rc) rc = tb_dec_mul(o->entry, o->qty, TB_ROUND_HALF_UP, &basis);
    if (!rc && basis > 0) {
        rc = tb_dec_muldiv_int(net, 100, 1, TB_ROUND_HALF_UP, &net);
        if (!rc) rc = tb_dec_div(net, basis, TB_ROUND_HALF_UP, &o->ret_pct);
    }
    /* Long: adverse is the low; short: the high. */
    if (!rc) rc = pct_from(t->entry, t->dir > 0 ? t->lo : t->hi, t->dir, &o->mae_pct);
    if (!rc) rc = pct_from(t->entry, t->dir > 0 ? t->hi : t->lo, t->dir, &o->mfe_pct);
    return rc;
}

void tb__report_count_trades(const tb__report *r, uint64_t *closed, uint64_t *wins)
{
    *closed = r->live ? r->live->closed : 0;
    *wins = r->live ? r->live->wins : 0;
    for (size_t i = 0; i < r->ntrades; i++) {
        const tb__rtrade *t = &r->trades[i];
        if (!t->close_time) continue;
        (*closed)++;
        tb_decimal net;
        if (tb_dec_sub(t->realized, t->fees, &net) == 0 && net > 0) (*wins)++;
    }
}

typedef struct {
    size_t pt, i;
} trade_at;

static int by_close(const void *a, const void *b)
{
    const trade_at *x = a, *y = b;
    if (x->pt != y->pt) return x->pt < y->pt ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The order live mode writes them in: a trade is written once the point it
 * closed in is over, so the report's file and the run's are the same. */
int tb__report_write_trades(const tb__report *r, FILE *f)
{
    trade_at *o = malloc((r->ntrades ? r->ntrades : 1) * sizeof(*o));
    if (!o) return TB_ENOMEM;
    for (size_t i = 0; i < r->ntrades; i++)
        o[i] = (trade_at){r->trades[i].close_time ? r->trades[i].close_pt : SIZE_MAX, i};
    qsort(o, r->ntrades, sizeof(*o), by_close);
    int rc = fputs(tb__report_trades_header, f) < 0 ? TB_EIO : 0;
    for (size_t i = 0; i < r->ntrades && !rc; i++)
        rc = trade_line(r, o[i].i, f);
    free(o);
    return rc ? rc : ferror(f) ? TB_EIO : 0;
}

int tb__report_flush_rows(tb__report *r)
{
    tb__rlive *l = r->live;
    if (!l || !l->equity || !l->rows.out_len) return 0;
    return equity_rows_flush(l->equity, &l->rows);
}

int tb__report_write_equity(const tb__report *r, FILE *f)
{
    fputs(tb__report_equity_header, f);
    tb__equity_rows rows;
    memset(&rows, 0, sizeof rows);
    tb_decimal peak = r->npts ? r->eq[0] : 0;
    for (size_t i = 0; i < r->npts; i++) {
        if (r->eq[i] > peak) peak = r->eq[i];
        /* Sub-minute bars: the minute's last point stands for it. */
        if (i + 1 < r->npts && r->t[i] / MINUTE_NS == r->t[i + 1] / MINUTE_NS) continue;
        int rc = equity_line(f, &rows, r->t[i], r->eq[i], peak);
        if (rc) return rc;
    }
    if (equity_rows_flush(f, &rows) != 0) return TB_EIO;
    return ferror(f) ? TB_EIO : 0;
}

void tb__report_free(tb__report *r)
{
    for (size_t i = 0; i < r->nstrats; i++)
        free(r->strats[i].pnl);
    for (size_t i = 0; i < r->nsyms; i++) {
        free(r->syms[i].t);
        free(r->syms[i].closes);
        free(r->syms[i].close_d);
        free(r->syms[i].fills);
    }
    free(r->strats);
    free(r->syms);
    free(r->keys);
    free(r->trades);
    free(r->t);
    free(r->eq);
    free(r->bench);
    free(r->periods);
    memset(r, 0, sizeof(*r));
}
