/* The statistics users compare (definitions: docs/report.md). Money stays
 * exact; ratios are doubles. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/timefmt_int.h"
#include "report_int.h"

#define DAY_NS   86400000000000LL
#define MIN_DAYS 30

/* Sharpe and Sortino from daily returns (each UTC day's last point against
 * the previous day's), annualised with sqrt(365): per-bar ratios scale with
 * the bar interval and mislead. Under MIN_DAYS days they say nothing, so
 * they stay undefined (shown as n/a). */
static void daily_ratios(const int64_t *t, const tb_decimal *eq, size_t n, tb__rstats *st)
{
    st->ratios = 0;
    st->sharpe = st->sortino = 0;
    if (n == 0 || t[n - 1] - t[0] < (int64_t)MIN_DAYS * DAY_NS) return;
    /* The first day's close is the base: a return is close to close. */
    double sum = 0, sum2 = 0, down2 = 0, prev = -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && t[i] / DAY_NS == t[i + 1] / DAY_NS) continue; /* not the day's last */
        double e = (double)eq[i];
        if (prev > 0) {
            double r = e / prev - 1.0;
            sum += r;
            sum2 += r * r;
            if (r < 0) down2 += r * r;
            m++;
        }
        prev = e;
    }
    if (m < 2) return;
    double mean = sum / (double)m, var = (sum2 - (double)m * mean * mean) / (double)(m - 1);
    st->ratios = 1;
    if (var > 0) st->sharpe = mean / sqrt(var) * sqrt(365.0);
    if (down2 > 0) st->sortino = mean / sqrt(down2 / (double)m) * sqrt(365.0);
}

/* Drawdown, Sharpe, Sortino and exposure of one equity series. */
static void curve_stats(const int64_t *t, const tb_decimal *eq, size_t n, tb__rstats *st)
{
    tb_decimal peak = eq[0];
    int64_t peak_t = t[0];
    for (size_t i = 0; i < n; i++) {
        if (eq[i] >= peak) {
            peak = eq[i];
            peak_t = t[i];
        } else {
            tb_decimal dd = peak - eq[i]; /* both in range and peak > eq: cannot overflow */
            if (dd > st->max_dd) st->max_dd = dd;
            double pct = peak > 0 ? 100.0 * (double)dd / (double)peak : 0;
            if (pct > st->max_dd_pct) st->max_dd_pct = pct;
            if (t[i] - peak_t > st->max_dd_duration) st->max_dd_duration = t[i] - peak_t;
        }
    }
    daily_ratios(t, eq, n, st);
}

/* Trades of strategy s (-1: all). */
static void trade_stats(const tb__report *r, int s, tb__rstats *st)
{
    st->profit_factor = -1;
    for (size_t i = 0; i < r->ntrades; i++) {
        const tb__rtrade *tr = &r->trades[i];
        if (s >= 0 && r->keys[tr->key].strat != s) continue;
        if (!tr->close_time) {
            st->open_trades++;
            continue;
        }
        st->trades++;
        tb_decimal net;
        if (tb_dec_sub(tr->realized, tr->fees, &net)) continue;
        if (net > 0) {
            st->wins++;
            tb_dec_add(st->gross_win, net, &st->gross_win);
        } else {
            tb_dec_sub(st->gross_loss, net, &st->gross_loss);
        }
    }
    if (st->trades) st->win_rate = 100.0 * st->wins / st->trades;
    if (st->gross_loss > 0) st->profit_factor = (double)st->gross_win / (double)st->gross_loss;
}

/* (b - a) x 100 / a, half-up to 1e-8; undefined from a start <= 0. */
static int pct_change(tb_decimal a, tb_decimal b, tb_decimal *out, int *defined)
{
    tb_decimal d;
    *out = 0;
    *defined = a > 0;
    if (a <= 0) return 0;
    int rc = tb_dec_sub(b, a, &d);
    if (!rc) rc = tb_dec_muldiv_int(d, 100, 1, TB_ROUND_HALF_UP, &d);
    if (!rc) rc = tb_dec_div(d, a, TB_ROUND_HALF_UP, out);
    return rc;
}

/* The UTC day, or month, that t falls in, as a number that changes when
 * the period does. memo: the last day seen and its key, so a month's key
 * costs a calendar conversion once a day rather than once a point. */
typedef struct {
    int64_t day, key;
    int set;
} period_memo;

static int64_t period_key(int64_t t, int monthly, period_memo *memo)
{
    int64_t day = t / DAY_NS;
    if (!monthly) return day;
    if (memo->set && memo->day == day) return memo->key;
    tb__utc u;
    tb__utc_of(t, &u);
    memo->day = day;
    memo->key = u.year * 12 + u.month - 1;
    memo->set = 1;
    return memo->key;
}

/* The period's label: "2024-01", or "2024-01-31" for days. */
static void period_label(int64_t t, int monthly, char *label, size_t len)
{
    tb__utc u;
    tb__utc_of(t, &u);
    if (monthly)
        snprintf(label, len, "%04lld-%02d", (long long)u.year, u.month);
    else
        snprintf(label, len, "%04lld-%02d-%02d", (long long)u.year, u.month, u.day);
}

int tb__report_periods(tb__report *r)
{
    free(r->periods);
    r->periods = NULL;
    r->nperiods = 0;
    if (!r->npts) return 0;
    r->monthly = r->t[r->npts - 1] - r->t[0] > (int64_t)TB__REPORT_MONTHLY_DAYS * DAY_NS;
    period_memo memo = {0, 0, 0};
    size_t n = 1;
    int64_t prev = period_key(r->t[0], r->monthly, &memo);
    for (size_t i = 1; i < r->npts; i++) {
        int64_t k = period_key(r->t[i], r->monthly, &memo);
        n += k != prev;
        prev = k;
    }
    r->periods = calloc(n, sizeof(*r->periods));
    if (!r->periods) return TB_ENOMEM;
    int rc = 0;
    tb_decimal eq0 = r->initial, bench0 = r->initial;
    memo.set = 0;
    int64_t key = period_key(r->t[0], r->monthly, &memo);
    for (size_t i = 0; i < r->npts && !rc; i++) {
        int64_t next = i + 1 < r->npts ? period_key(r->t[i + 1], r->monthly, &memo) : key - 1;
        int last = next != key; /* the period's last point */
        key = next;
        if (!last) continue;
        tb__rperiod *p = &r->periods[r->nperiods];
        period_label(r->t[i], r->monthly, p->label, sizeof(p->label));
        p->first = r->nperiods ? r->periods[r->nperiods - 1].last + 1 : 0;
        p->last = i;
        p->eq0 = eq0;
        p->eq1 = r->eq[i];
        p->bench0 = bench0;
        p->bench1 = r->bench[i];
        rc = pct_change(p->eq0, p->eq1, &p->ret_pct, &p->defined);
        if (!rc) rc = pct_change(p->bench0, p->bench1, &p->bench_pct, &p->bench_defined);
        eq0 = p->eq1;
        bench0 = p->bench1;
        r->nperiods++;
    }
    return rc;
}

int tb__report_stats_account(tb__report *r)
{
    int rc = 0;
    tb__rstats *a = &r->all;
    memset(a, 0, sizeof(*a));
    a->realized = r->realized;
    a->fees = r->fees;
    a->fills = (unsigned)r->fills;
    for (size_t k = 0; k < r->nkeys && !rc; k++)
        rc = tb_dec_add(a->unrealized, r->keys[k].unrealized, &a->unrealized);
    if (!rc) rc = tb_dec_sub(r->eq[r->npts - 1], r->initial, &a->net);
    if (rc) return rc;
    curve_stats(r->t, r->eq, r->npts, a);
    trade_stats(r, -1, a);
    a->exposure_pct = 100.0 * (double)r->exposed / (double)r->npts;
    a->ret_pct = r->initial ? 100.0 * (double)a->net / (double)r->initial : 0;
    return 0;
}

int tb__report_stats(tb__report *r)
{
    int rc = 0;
    for (size_t s = 0; s < r->nstrats && !rc; s++) {
        tb__rstrat *sp = &r->strats[s];
        tb__rstats *st = &sp->st;
        for (size_t k = 0; k < r->nkeys && !rc; k++) {
            const tb__rkey *key = &r->keys[k];
            if (key->strat != (int)s) continue;
            rc = tb_dec_add(st->realized, key->past_realized, &st->realized);
            if (!rc) rc = tb_dec_add(st->realized, key->life_realized, &st->realized);
            if (!rc) rc = tb_dec_add(st->unrealized, key->unrealized, &st->unrealized);
            if (!rc) rc = tb_dec_add(st->fees, key->fees, &st->fees);
        }
        st->net = sp->pnl[r->npts - 1];
        /* Its own equity: the account's capital plus its PnL alone. */
        for (size_t i = 0; i < r->npts && !rc; i++)
            rc = tb_dec_add(r->initial, sp->pnl[i], &sp->pnl[i]);
        if (rc) break;
        curve_stats(r->t, sp->pnl, r->npts, st);
        for (size_t i = 0; i < r->npts; i++)
            sp->pnl[i] -= r->initial; /* undo: in range, it was before */
        trade_stats(r, (int)s, st);
        st->exposure_pct = 100.0 * (double)sp->exposed / (double)r->npts;
        st->ret_pct = r->initial ? 100.0 * (double)st->net / (double)r->initial : 0;
    }
    if (rc) return rc;
    if ((rc = tb__report_stats_account(r)) != 0) return rc;
    if ((rc = tb__report_benchmark(r))) return rc;
    tb__rstats *b = &r->bench_st;
    memset(b, 0, sizeof(*b));
    b->profit_factor = -1;
    int defined;
    rc = tb_dec_sub(r->bench[r->npts - 1], r->initial, &b->net);
    if (!rc) rc = pct_change(r->initial, r->bench[r->npts - 1], &r->bench_ret_pct, &defined);
    if (rc) return rc;
    b->unrealized = b->net; /* the units are never sold */
    curve_stats(r->t, r->bench, r->npts, b);
    b->exposure_pct = r->nsyms ? 100.0 : 0;
    b->ret_pct = tb_dec_to_double(r->bench_ret_pct);
    return tb__report_periods(r);
}
