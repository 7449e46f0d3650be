/* The report page: summary cards, charts, statistics, positions, trades. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "report_int.h"
#include "tradebus/report.h"
#include "tradebus/version.h"

#define MAX_TRADE_ROWS 500

static const char *const palette[] = {"#2563eb", "#d97706", "#059669", "#db2777",
                                      "#7c3aed", "#0891b2", "#65a30d", "#dc2626"};
#define BENCH_COLOR "#111827" /* not in the palette: no strategy has it */
#define COLOR(i)    palette[(size_t)(i) % (sizeof(palette) / sizeof(palette[0]))]

static const char *const css =
    "html,body{max-width:100%;overflow-wrap:anywhere}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2937;"
    "background:#f8fafc;margin:0;padding:20px 28px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}"
    ".sub{color:#6b7280;margin:0 0 18px}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;"
    "min-width:140px}.card .k{color:#6b7280;font-size:12px}.card .v{font-size:17px;"
    "font-variant-numeric:tabular-nums;font-weight:600}"
    ".pos{color:#047857}.neg{color:#b91c1c}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;font-size:13px}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "th,td{padding:3px 6px;border-bottom:1px solid #f1f5f9;overflow-wrap:anywhere}"
    "table{width:100%;table-layout:auto;font-size:12px}"
    ".banner{background:#fef2f2;border:1px solid #fecaca;color:#991b1b;border-radius:8px;"
    "padding:10px 14px;margin:0 0 14px;font-weight:600}"
    "th{background:#f1f5f9;text-align:left;font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.n{white-space:nowrap;overflow-wrap:normal}th{overflow-wrap:normal}td.na{white-space:normal;"
    "min-width:72px}"
    "#stats td:first-child{min-width:110px}"
    "tr.total td{font-weight:600;border-top:2px solid #cbd5e1}"
    ".chart{display:block;background:#fff;border:1px solid #e5e7eb;border-radius:8px;"
    "margin:0 0 10px;width:100%;max-width:1240px;height:auto}.chart .grid{stroke:#eef2f7}.chart "
    ".frame{fill:none;stroke:#cbd5e1}"
    ".chart .tick{font-size:11px;fill:#6b7280}.chart .ctitle{font-size:13px;font-weight:600;"
    "fill:#374151}.chart .area{fill-opacity:.35}.chart .mk{stroke:#fff;stroke-width:.6}"
    ".legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;"
    "height:10px;border-radius:2px;margin-right:4px}"
    ".note{color:#6b7280;font-size:12px}";

static void dec(FILE *f, tb_decimal d)
{
    char b[TB_DECIMAL_STRLEN];
    tb_dec_format(d, b, sizeof(b));
    fputs(b, f);
}

static const char *sign_class(double v)
{
    return v > 0 ? "pos" : v < 0 ? "neg" : "";
}

static void duration(FILE *f, int64_t ns)
{
    int64_t m = ns / 60000000000;
    if (m >= 1440)
        fprintf(f, "%lldd %02lldh", (long long)(m / 1440), (long long)(m % 1440 / 60));
    else if (m >= 60)
        fprintf(f, "%lldh %02lldm", (long long)(m / 60), (long long)(m % 60));
    else
        fprintf(f, "%lldm", (long long)m);
}

static void td_dec(FILE *f, tb_decimal d, const char *id, int colored)
{
    fprintf(f, "<td class=\"n %s\"", colored ? sign_class((double)d) : "");
    if (id) fprintf(f, " id=\"%s\"", id);
    fputc('>', f);
    dec(f, d);
    fputs("</td>", f);
}

static void td_ratio(FILE *f, double v, int defined, const char *suffix)
{
    if (!defined || !isfinite(v))
        fputs("<td class=\"n\">—</td>", f);
    else
        fprintf(f, "<td class=\"n\">%.2f%s</td>", v, suffix);
}

/* A percentage to two places (the exact figure is in trades.csv). */
static void td_pct(FILE *f, tb_decimal d, int colored)
{
    fprintf(f, "<td class=\"n %s\">%.2f%%</td>", colored ? sign_class((double)d) : "",
            tb_dec_to_double(d));
}

/* A return in %, to three places: daily returns are often under 0.01%. */
static void td_ret(FILE *f, tb_decimal d, int defined)
{
    if (!defined)
        fputs("<td class=\"n\">—</td>", f);
    else
        fprintf(f, "<td class=\"n %s\">%.3f%%</td>", sign_class((double)d), tb_dec_to_double(d));
}

static void notes_table(FILE *f, const char *id, const char *head, const tb__rnote *n, size_t cnt)
{
    if (!cnt) return;
    fprintf(f,
            "<div class=\"scroll\"><table id=\"%s\"><tr><th>time "
            "(UTC)</th><th>%s</th><th>text</th></tr>\n",
            id, head);
    for (size_t i = 0; i < cnt; i++) {
        char t[32];
        tb__report_time(n[i].t, t, sizeof(t));
        fprintf(f, "<tr><td>%s</td><td>", t);
        tb__html_escape(f, n[i].what);
        fputs("</td><td>", f);
        tb__html_escape(f, n[i].text);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void problems(FILE *f, const tb__report *r)
{
    fputs("<h2>Rejections and risk alerts</h2>\n", f);
    if (!r->nrejects && !r->nalerts) {
        fputs("<p class=\"note\" id=\"no-problems\">No order was rejected and no risk alert "
              "was raised.</p>\n",
              f);
        return;
    }
    fprintf(f, "<p>Rejections by reason: <span id=\"rejections\">");
    tb__html_escape(f, r->s_rejections);
    fprintf(f, "</span> · risk alerts by rule: <span id=\"risk-alerts\">");
    tb__html_escape(f, r->s_alerts);
    fputs("</span> (from summary.json; the first few below)</p>\n", f);
    notes_table(f, "first-rejections", "reason", r->rejects, r->nrejects);
    notes_table(f, "first-alerts", "rule", r->alerts, r->nalerts);
}

static void card(FILE *f, const char *label, const char *id, tb_decimal d, const char *cls)
{
    fprintf(f, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v %s\" id=\"%s\">", label,
            cls, id);
    dec(f, d);
    fputs("</div></div>", f);
}

static void stats_row(FILE *f, const char *name, const char *color, const tb__rstats *s, int total)
{
    fputs(total ? "<tr class=\"total\"><td>" : "<tr><td>", f);
    if (color) fprintf(f, "<span class=\"sw\" style=\"background:%s\"></span>", color);
    tb__html_escape(f, name);
    fputs("</td>", f);
    td_dec(f, s->net, NULL, 1);
    td_ratio(f, s->ret_pct, 1, "%");
    td_dec(f, s->realized, NULL, 1);
    td_dec(f, s->unrealized, NULL, 1);
    td_dec(f, s->fees, NULL, 0);
    fprintf(f, "<td class=\"n\">%u</td><td class=\"n\">%u</td>", s->trades, s->fills);
    td_ratio(f, s->win_rate, s->trades > 0, "%");
    td_ratio(f, s->profit_factor, s->profit_factor >= 0, "");
    if (s->ratios) {
        td_ratio(f, s->sharpe, 1, "");
        td_ratio(f, s->sortino, 1, "");
    } else {
        fputs("<td class=\"n na\">n/a (under 30 days)</td><td class=\"n na\">n/a (under 30 "
              "days)</td>",
              f);
    }
    td_dec(f, s->max_dd, NULL, 0);
    td_ratio(f, s->max_dd_pct, 1, "%");
    fputs("<td class=\"n\">", f);
    duration(f, s->max_dd_duration);
    fputs("</td>", f);
    td_ratio(f, s->exposure_pct, 1, "%");
    fputs("</tr>\n", f);
}

/* The benchmark has a curve but no trades, fills or fees. */
static void bench_row(FILE *f, const tb__rstats *s)
{
    fprintf(f,
            "<tr class=\"bench\" id=\"bench-row\"><td><span class=\"sw\" "
            "style=\"background:%s\"></span>buy and hold (equal weight, no fees)</td>",
            BENCH_COLOR);
    td_dec(f, s->net, NULL, 1);
    td_ratio(f, s->ret_pct, 1, "%");
    fputs("<td class=\"n\">—</td>", f);
    td_dec(f, s->unrealized, NULL, 1);
    fputs("<td class=\"n\">—</td><td class=\"n\">—</td><td class=\"n\">—</td>"
          "<td class=\"n\">—</td><td class=\"n\">—</td>",
          f);
    if (s->ratios) {
        td_ratio(f, s->sharpe, 1, "");
        td_ratio(f, s->sortino, 1, "");
    } else {
        fputs("<td class=\"n na\">n/a (under 30 days)</td><td class=\"n na\">n/a (under 30 "
              "days)</td>",
              f);
    }
    td_dec(f, s->max_dd, NULL, 0);
    td_ratio(f, s->max_dd_pct, 1, "%");
    fputs("<td class=\"n\">", f);
    duration(f, s->max_dd_duration);
    fputs("</td>", f);
    td_ratio(f, s->exposure_pct, 1, "%");
    fputs("</tr>\n", f);
}

static void periods_table(FILE *f, const tb__report *r)
{
    fprintf(f,
            "<h2>%s returns</h2>\n<div class=\"scroll\"><table id=\"periods\"><tr>"
            "<th>%s (UTC)</th><th class=\"n\">equity at start</th><th class=\"n\">equity at "
            "end</th><th class=\"n\">return</th><th class=\"n\">buy and hold return</th></tr>\n",
            r->monthly ? "Monthly" : "Daily", r->monthly ? "month" : "day");
    for (size_t i = 0; i < r->nperiods; i++) {
        const tb__rperiod *p = &r->periods[i];
        fprintf(f, "<tr data-period=\"%s\"><td>%s</td>", p->label, p->label);
        td_dec(f, p->eq0, NULL, 0);
        td_dec(f, p->eq1, NULL, 0);
        td_ret(f, p->ret_pct, p->defined);
        td_ret(f, p->bench_pct, p->bench_defined);
        fputs("</tr>\n", f);
    }
    fprintf(f,
            "</table></div><p class=\"note\">Each %s starts from the previous one's last "
            "point (the first from the initial equity); returns chain to the run's.</p>\n",
            r->monthly ? "month" : "day");
}

static void stats_table(FILE *f, const tb__report *r)
{
    fputs("<div class=\"scroll\"><table id=\"stats\"><tr><th>strategy</th><th class=\"n\">net "
          "PnL</th>"
          "<th class=\"n\">return</th><th class=\"n\">realized</th><th class=\"n\">unrealized</th>"
          "<th class=\"n\">fees</th><th class=\"n\">trades</th><th class=\"n\">fills</th>"
          "<th class=\"n\">win rate</th><th class=\"n\">profit factor</th>"
          "<th class=\"n\">Sharpe</th><th class=\"n\">Sortino</th><th class=\"n\">max DD</th>"
          "<th class=\"n\">max DD %</th><th class=\"n\">max DD duration</th>"
          "<th class=\"n\">exposure</th></tr>\n",
          f);
    for (size_t i = 0; i < r->nstrats; i++)
        stats_row(f, r->strats[i].name, COLOR(i), &r->strats[i].st, 0);
    stats_row(f, "all strategies (the account)", NULL, &r->all, 1);
    bench_row(f, &r->bench_st);
    fputs("</table></div><p class=\"note\">Definitions: docs/report.md. Sharpe and Sortino "
          "come from daily returns annualised with √365; a profit factor without a losing trade is "
          "shown as —.</p>\n",
          f);
}

static void positions_table(FILE *f, const tb__report *r)
{
    fputs("<div class=\"scroll\"><table id=\"positions\"><tr><th>strategy</th><th>symbol</th><th "
          "class=\"n\">"
          "quantity</th><th class=\"n\">entry price</th><th class=\"n\">last close</th>"
          "<th class=\"n\">unrealized PnL</th><th class=\"n\">realized PnL (all trades)</th>"
          "<th class=\"n\">fees</th></tr>\n",
          f);
    for (size_t i = 0; i < r->nkeys; i++) {
        const tb__rkey *k = &r->keys[i];
        fputs("<tr data-pos=\"", f);
        tb__html_escape(f, r->strats[k->strat].name);
        fputc('/', f);
        tb__html_escape(f, r->syms[k->sym].name);
        fputs("\"><td>", f);
        tb__html_escape(f, r->strats[k->strat].name);
        fputs("</td><td>", f);
        tb__html_escape(f, r->syms[k->sym].name);
        fputs("</td>", f);
        td_dec(f, k->qty, NULL, 0);
        td_dec(f, k->entry, NULL, 0);
        td_dec(f, r->syms[k->sym].close, NULL, 0);
        td_dec(f, k->unrealized, NULL, 1);
        td_dec(f, k->past_realized + k->life_realized, NULL, 1); /* checked against the summary */
        td_dec(f, k->fees, NULL, 0);
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void trades_table(FILE *f, const tb__report *r)
{
    fprintf(f, "<div class=\"scroll\"><table id=\"trades\"><tr><th "
               "class=\"n\">#</th><th>strategy</th><th>symbol</th>"
               "<th>side</th><th>opened (UTC)</th><th>closed (UTC)</th><th class=\"n\">held</th>"
               "<th class=\"n\">max qty</th><th class=\"n\">entry</th><th class=\"n\">exit</th>"
               "<th class=\"n\">fills</th><th class=\"n\">realized</th><th class=\"n\">fees</th>"
               "<th class=\"n\">net</th><th class=\"n\">return</th><th>exit reason</th>"
               "<th class=\"n\">MAE</th><th class=\"n\">MFE</th></tr>\n");
    size_t shown = r->ntrades < MAX_TRADE_ROWS ? r->ntrades : MAX_TRADE_ROWS;
    for (size_t i = 0; i < shown; i++) {
        const tb__rtrade *t = &r->trades[i];
        const tb__rkey *k = &r->keys[t->key];
        char o[32], c[32];
        tb__report_time(t->open_time, o, sizeof(o));
        tb__report_time(t->close_time, c, sizeof(c));
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", i + 1);
        tb__html_escape(f, r->strats[k->strat].name);
        fputs("</td><td>", f);
        tb__html_escape(f, r->syms[k->sym].name);
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">",
                t->dir > 0 ? "long" : "short", o, t->close_time ? c : "open");
        if (t->close_time) duration(f, t->close_time - t->open_time);
        fputs("</td>", f);
        td_dec(f, t->max_qty, NULL, 0);
        td_dec(f, t->entry, NULL, 0);
        if (t->close_time)
            td_dec(f, t->exit, NULL, 0);
        else
            fputs("<td class=\"n\">—</td>", f);
        fprintf(f, "<td class=\"n\">%u</td>", t->fills);
        td_dec(f, t->realized, NULL, 1);
        td_dec(f, t->fees, NULL, 0);
        tb_decimal net;
        if (tb_dec_sub(t->realized, t->fees, &net) == 0 && t->close_time)
            td_dec(f, net, NULL, 1);
        else
            fputs("<td class=\"n\">—</td>", f);
        tb__rrow w;
        if (tb__report_trade_row(r, i, &w) == 0) {
            td_pct(f, w.ret_pct, 1);
            fprintf(f, "<td>%s</td>", tb_order_origin_name(w.reason));
            td_pct(f, w.mae_pct, 0);
            td_pct(f, w.mfe_pct, 0);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
    if (shown < r->ntrades)
        fprintf(f,
                "<p class=\"note\">The first %zu of %zu trades; every fill is in fills.csv.</p>\n",
                shown, r->ntrades);
}

static int equity_charts(FILE *f, const tb__report *r)
{
    double *eq = malloc(r->npts * sizeof(*eq)), *dd = malloc(r->npts * sizeof(*dd));
    double *bh = malloc(r->npts * sizeof(*bh));
    int rc = TB_ENOMEM;
    if (eq && dd && bh) {
        tb_decimal peak = r->eq[0];
        for (size_t i = 0; i < r->npts; i++) {
            if (r->eq[i] > peak) peak = r->eq[i];
            eq[i] = tb_dec_to_double(r->eq[i]);
            bh[i] = tb_dec_to_double(r->bench[i]);
            dd[i] = peak > 0 ? -100.0 * (double)(peak - r->eq[i]) / (double)peak : 0;
        }
        tb__svg_series se[2] = {
            {r->t, eq, r->npts, "#2563eb", 0, NULL, "account equity", "equity"},
            {r->t, bh, r->npts, BENCH_COLOR, 0, "6 4", "buy and hold (equal weight)", "bench"}};
        tb__svg_series sd = {r->t, dd, r->npts, "#dc2626", 1, NULL, NULL, NULL};
        /* The halt, marked where the curve was when it came. */
        tb__svg_marker hm = {0, 0, 0, "#dc2626", "trading HALTED"};
        size_t nhm = 0;
        if (r->halt.t) {
            size_t k = 0;
            while (k + 1 < r->npts && r->t[k] < r->halt.t)
                k++;
            hm.t = r->t[k];
            hm.y = eq[k];
            nhm = 1;
        }
        tb__svg_chart c = {"Equity (marked to market at every bar close)",
                           "equity-chart",
                           "",
                           1240,
                           320,
                           se,
                           2,
                           nhm ? &hm : NULL,
                           nhm};
        rc = tb__svg_write(f, &c);
        tb__svg_chart d = {
            "Drawdown from the running peak", "drawdown-chart", "%", 1240, 170, &sd, 1, NULL, 0};
        if (!rc) rc = tb__svg_write(f, &d);
    }
    free(eq);
    free(dd);
    free(bh);
    return rc;
}

static int price_chart(FILE *f, const tb__report *r, size_t si)
{
    const tb__rsym *s = &r->syms[si];
    tb__svg_marker *m = calloc(s->nfills + 1, sizeof(*m));
    char(*labels)[160] = calloc(s->nfills + 1, sizeof(*labels));
    int rc = TB_ENOMEM;
    if (m && labels) {
        for (size_t i = 0; i < s->nfills; i++) {
            const tb__rfill *x = &s->fills[i];
            char q[TB_DECIMAL_STRLEN], p[TB_DECIMAL_STRLEN], t[32];
            tb_dec_format(x->qty, q, sizeof(q));
            tb_dec_format(x->price, p, sizeof(p));
            tb__report_time(x->t, t, sizeof(t));
            snprintf(labels[i], sizeof(labels[i]), "%s %s %s @ %s (%s, %s)", t,
                     x->buy ? "BUY" : "SELL", q, p, r->strats[x->strat].name, s->name);
            m[i] = (tb__svg_marker){x->t, tb_dec_to_double(x->price), x->buy, COLOR(x->strat),
                                    labels[i]};
        }
        char title[96], id[48];
        snprintf(title, sizeof(title), "%s close, fills ▲ buy ▼ sell", s->name);
        snprintf(id, sizeof(id), "price-%zu", si);
        tb__svg_series ser = {s->t, s->close_d, s->n, "#64748b", 0, NULL, NULL, NULL};
        tb__svg_chart c = {title, id, "", 1240, 300, &ser, 1, m, s->nfills};
        rc = tb__svg_write(f, &c);
    }
    free(m);
    free(labels);
    return rc;
}

int tb__report_html(const tb__report *r, FILE *f)
{
    char t0[32], t1[32];
    tb__report_time(r->t[0], t0, sizeof(t0));
    tb__report_time(r->t[r->npts - 1], t1, sizeof(t1));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>tradebus report: ");
    tb__html_escape(f, r->dir);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>Backtest report</h1><p class=\"sub\">",
            css);
    tb__html_escape(f, r->dir);
    fprintf(f, " · %s → %s UTC · %llu bars · ", t0, t1, (unsigned long long)r->bars);
    for (size_t i = 0; i < r->nsyms; i++) {
        fputs(i ? ", " : "", f);
        tb__html_escape(f, r->syms[i].name);
    }
    fputs("</p>\n", f);
    if (r->halt.t) {
        char t[32];
        tb__report_time(r->halt.t, t, sizeof(t));
        fprintf(f, "<div class=\"banner\" id=\"halt\">Trading HALTED at %s UTC by ", t);
        tb__html_escape(f, r->halt.what);
        fputs(": ", f);
        tb__html_escape(f, r->halt.text);
        fputs("</div>\n", f);
    }
    fputs("<div class=\"cards\">", f);
    const tb__rstats *a = &r->all;
    card(f, "initial equity", "initial-equity", r->initial, "");
    card(f, "final equity", "final-equity", r->eq[r->npts - 1], "");
    card(f, "net PnL", "net-pnl", a->net, sign_class((double)a->net));
    card(f, "realized PnL (before fees)", "realized-pnl", a->realized, "");
    card(f, "unrealized PnL", "unrealized-pnl", a->unrealized, "");
    card(f, "fees paid", "fees", a->fees, "");
    fprintf(f,
            "<div class=\"card\"><div class=\"k\">fills</div><div class=\"v\" id=\"fills\">%llu"
            "</div></div><div class=\"card\"><div class=\"k\">return</div><div class=\"v %s\">"
            "%.3f%%</div></div><div class=\"card\"><div class=\"k\">buy and hold return</div>"
            "<div class=\"v %s\" id=\"bench-return\">%.3f%%</div></div>"
            "<div class=\"card\"><div class=\"k\">max drawdown</div>"
            "<div class=\"v\">%.3f%%</div></div></div>\n",
            (unsigned long long)r->fills, sign_class(a->ret_pct), a->ret_pct,
            sign_class((double)r->bench_ret_pct), tb_dec_to_double(r->bench_ret_pct),
            a->max_dd_pct);
    fputs("<h2>Equity</h2>\n", f);
    int rc = equity_charts(f, r);
    fputs("<h2>Statistics</h2>\n", f);
    stats_table(f, r);
    periods_table(f, r);
    fputs("<h2>Prices and fills</h2>\n<p class=\"legend\">", f);
    for (size_t i = 0; i < r->nstrats; i++) {
        fprintf(f, "<span><span class=\"sw\" style=\"background:%s\"></span>", COLOR(i));
        tb__html_escape(f, r->strats[i].name);
        fputs("</span>", f);
    }
    fputs("</p>\n", f);
    for (size_t i = 0; i < r->nsyms && !rc; i++)
        rc = price_chart(f, r, i);
    problems(f, r);
    fputs("<h2>Positions at the end</h2>\n", f);
    positions_table(f, r);
    fprintf(f, "<h2>Trades (%zu)</h2>\n", r->ntrades);
    trades_table(f, r);
    fprintf(f,
            "<p class=\"note\">tradebus %s · every figure recomputed from events.jsonl and "
            "checked against summary.json</p>\n</body></html>\n",
            TB_VERSION_STRING);
    if (!rc && ferror(f)) rc = TB_EIO;
    return rc;
}

/* Writes dir/name through name.tmp and a rename, so a failure never
 * leaves half a file (a previous one stays). */
static int write_atomically(const tb__report *r, const char *dir, const char *name,
                            int (*fn)(const tb__report *, FILE *), char *err, size_t errlen)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        tb__errf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        return TB_EIO;
    }
    int rc = fn(r, f);
    if (fclose(f) != 0 && !rc) rc = TB_EIO;
    if (!rc && rename(tmp, path) != 0) rc = TB_EIO;
    if (rc) {
        tb__errf(err, errlen, "%s: write failed: %s", path,
                 rc == TB_EIO ? strerror(errno) : tb_strerror(rc));
        remove(tmp);
    }
    return rc;
}

/* replay NULL: read back from dir's events.jsonl. */
static int write_report(const char *dir, tb__report *replay, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!dir) return TB_EMISUSE;
    tb__report r;
    int rc = replay ? tb__report_load_replay(&r, dir, replay, err, errlen)
                    : tb__report_load(&r, dir, err, errlen);
    if (!rc && (rc = tb__report_stats(&r)))
        tb__errf(err, errlen, "%s: statistics: %s", dir, tb_strerror(rc));
    /* The trade and equity files are rebuilt from the same replay: a run
     * written before they existed gets them, and they match the page. */
    if (!rc) rc = write_atomically(&r, dir, "trades.csv", tb__report_write_trades, err, errlen);
    if (!rc) rc = write_atomically(&r, dir, "equity.csv", tb__report_write_equity, err, errlen);
    if (!rc) rc = write_atomically(&r, dir, "report.html", tb__report_html, err, errlen);
    tb__report_free(&r);
    return rc;
}

int tb_report_write(const char *dir, char *err, size_t errlen)
{
    return write_report(dir, NULL, err, errlen);
}

int tb__report_write_replay(const char *dir, tb__report *replay, char *err, size_t errlen)
{
    return write_report(dir, replay, err, errlen);
}
