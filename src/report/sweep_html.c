/* sweep.html: the best combination, the top 20, heat maps per pair of
 * numeric parameters and each parameter's sensitivity (docs/sweep.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "report_int.h"
#include "sweep_int.h"
#include "tradebus/sweep_report.h"
#include "tradebus/version.h"

#define TOP_ROWS    20
#define MAX_PAIRS   15
#define MAX_FAILED  20
#define MAX_AXIS    60 /* values on a heat map's axis: more would not be readable */
#define MAX_XLABELS 12 /* a sensitivity chart labels at most this many values */

/* The report page's look (html.c), plus the heat maps' cells. */
static const char *const css =
    "html,body{max-width:100%;overflow-wrap:anywhere}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2937;"
    "background:#f8fafc;margin:0;padding:20px 28px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}"
    "h3{font-size:15px;margin:18px 0 8px}"
    ".sub{color:#6b7280;margin:0 0 18px}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;"
    "min-width:140px}.card .k{color:#6b7280;font-size:12px}.card .v{font-size:17px;"
    "font-variant-numeric:tabular-nums;font-weight:600}"
    ".pos{color:#047857}.neg{color:#b91c1c}"
    "table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;font-size:12px}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "th,td{padding:3px 6px;border-bottom:1px solid #f1f5f9;overflow-wrap:anywhere}"
    "th{background:#f1f5f9;text-align:left;font-weight:600;overflow-wrap:normal}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "td.n{white-space:nowrap;overflow-wrap:normal}"
    "th.obj,td.obj{background:#eff6ff}tr.best td{font-weight:600}"
    "table.heat{width:auto}table.heat td.cell{min-width:44px;text-align:center;"
    "font-variant-numeric:tabular-nums;border:1px solid #fff}"
    "table.heat td.empty{background:repeating-linear-gradient(45deg,#f1f5f9 0 4px,#fff 4px 8px)}"
    "table.heat td.top{outline:2px solid #111827;outline-offset:-2px}"
    "table.heat th.y{text-align:right}"
    ".maps{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}"
    ".chart{display:block;background:#fff;border:1px solid #e5e7eb;border-radius:8px;"
    "margin:0 0 10px;width:100%;max-width:620px;height:auto}.chart .grid{stroke:#eef2f7}"
    ".chart .frame{fill:none;stroke:#cbd5e1}.chart .tick{font-size:11px;fill:#6b7280}"
    ".chart .ctitle{font-size:13px;font-weight:600;fill:#374151}"
    ".sens{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}"
    ".sens table{width:auto}"
    ".note{color:#6b7280;font-size:12px}";

static const char *const metric_heads[TB__SWEEP_NMETRICS] = {
    "bars",   "trades",  "net PnL",    "return %",      "fees",      "max DD %",
    "Sharpe", "Sortino", "win rate %", "profit factor", "exposure %"};

/* Up to 10 significant digits, no trailing zeros: medians of short decimals
 * ((1.5 + 2.25) / 2 = "1.875") print exactly. */
static void num(char *b, size_t n, double v)
{
    snprintf(b, n, "%.10g", v == 0 ? 0.0 : v);
}

/* A heat map cell's short form: the full value is in its tooltip. */
static void short_num(char *b, size_t n, double v)
{
    double a = fabs(v);
    if (a >= 1e6 || (a > 0 && a < 1e-3)) {
        snprintf(b, n, "%.3g", v);
        return;
    }
    snprintf(b, n, "%.*f", a >= 100 ? 1 : a >= 1 ? 2 : 3, v);
    if (strchr(b, '.')) {
        char *e = b + strlen(b) - 1;
        while (*e == '0')
            *e-- = 0;
        if (*e == '.') *e = 0;
    }
    if (strcmp(b, "-0") == 0) strcpy(b, "0");
}

static void esc(FILE *f, const char *s)
{
    tb__html_escape(f, s);
}

/* "fast=5, slow=20" (escaped). */
static void combo(FILE *f, const tb__sweep *s, const tb__sweep_row *r)
{
    for (size_t p = 0; p < s->nparams; p++) {
        fputs(p ? ", " : "", f);
        esc(f, s->params[p].name);
        fputc('=', f);
        esc(f, r->f[p]);
    }
}

static void header(FILE *f, const tb__sweep *s)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>tradebus sweep: ",
          f);
    esc(f, s->path);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>Parameter sweep</h1><p class=\"sub\">",
            css);
    esc(f, s->path);
    fprintf(f, " · %zu parameter%s", s->nparams, s->nparams == 1 ? "" : "s");
    for (size_t p = 0; p < s->nparams; p++) {
        fputs(p ? ", " : ": ", f);
        esc(f, s->params[p].name);
        fprintf(f, " (%zu value%s)", s->params[p].nvals, s->params[p].nvals == 1 ? "" : "s");
    }
    fputs("</p>\n<div class=\"cards\">", f);
    fprintf(f,
            "<div class=\"card\"><div class=\"k\">combinations</div><div class=\"v\" "
            "id=\"combinations\">%zu</div></div>"
            "<div class=\"card\"><div class=\"k\">failed (invalid config)</div><div class=\"v%s\" "
            "id=\"failed\">%zu</div></div>"
            "<div class=\"card\"><div class=\"k\">objective undefined</div><div class=\"v\" "
            "id=\"undefined\">%zu</div></div>"
            "<div class=\"card\"><div class=\"k\">objective</div><div class=\"v\" "
            "id=\"objective\">%s <span class=\"note\">(%s is better)</span></div></div>",
            s->nrows, s->nfailed ? " neg" : "", s->nfailed, s->nundef, s->objective,
            s->lower ? "lower" : "higher");
    fputs("<div class=\"card\"><div class=\"k\">best</div><div class=\"v\" id=\"best\">", f);
    if (s->nok) {
        const tb__sweep_row *b = s->order[0];
        combo(f, s, b);
        fprintf(f, ": %s ", s->objective);
        esc(f, b->f[s->nparams + (size_t)s->obj]);
    } else {
        fprintf(f, "none: no combination has a %s", s->objective);
    }
    fputs("</div></div></div>\n", f);
}

static void metric_td(FILE *f, const tb__sweep *s, const tb__sweep_row *r, size_t m)
{
    const char *v = r->f[s->nparams + m];
    fputs("<td class=\"n", f);
    if ((int)m == s->obj) fputs(" obj", f);
    if (m == 2 || m == 3) fputs(r->m[m] > 0 ? " pos" : r->m[m] < 0 ? " neg" : "", f);
    fputs("\">", f);
    if (*v)
        esc(f, v);
    else
        fputs("—", f);
    fputs("</td>", f);
}

static void row_table(FILE *f, const tb__sweep *s, const char *id, tb__sweep_row *const *rows,
                      size_t n)
{
    fprintf(f, "<div class=\"scroll\"><table id=\"%s\"><tr><th class=\"n\">#</th>", id);
    for (size_t p = 0; p < s->nparams; p++) {
        fputs("<th>", f);
        esc(f, s->params[p].name);
        fputs("</th>", f);
    }
    for (size_t m = 0; m < TB__SWEEP_NMETRICS; m++)
        fprintf(f, "<th class=\"n%s\" title=\"%s\">%s</th>", (int)m == s->obj ? " obj" : "",
                tb__sweep_metrics[m], metric_heads[m]);
    fputs("<th>error</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        const tb__sweep_row *r = rows[i];
        fprintf(f, "<tr data-line=\"%zu\"%s>", r->line, i == 0 && r->ok ? " class=\"best\"" : "");
        fprintf(f, "<td class=\"n\">%zu</td>", i + 1);
        for (size_t p = 0; p < s->nparams; p++) {
            fputs("<td>", f);
            esc(f, r->f[p]);
            fputs("</td>", f);
        }
        for (size_t m = 0; m < TB__SWEEP_NMETRICS; m++)
            metric_td(f, s, r, m);
        fputs("<td>", f);
        esc(f, r->f[s->ncols - 1]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static void top_table(FILE *f, const tb__sweep *s)
{
    size_t n = s->nrows < TOP_ROWS ? s->nrows : TOP_ROWS;
    fprintf(f, "<h2>Top %zu by %s</h2>\n", n, s->objective);
    row_table(f, s, "top", s->order, n);
    fprintf(f,
            "<p class=\"note\">Ranked by %s, %s first; ties keep the grid order. Combinations "
            "that failed or have no %s come last. — marks a figure that is undefined (Sharpe "
            "and Sortino under 30 days, a profit factor without a losing trade).</p>\n",
            s->objective, s->lower ? "lowest" : "highest", s->objective);
}

/* The failed combinations: their metrics are empty, only the message counts. */
static int failed_table(FILE *f, const tb__sweep *s)
{
    if (!s->nfailed) return 0;
    fprintf(f,
            "<h2>Failed combinations (%zu)</h2>\n<div class=\"scroll\"><table "
            "id=\"failed-rows\"><tr><th class=\"n\">line</th>",
            s->nfailed);
    for (size_t p = 0; p < s->nparams; p++) {
        fputs("<th>", f);
        esc(f, s->params[p].name);
        fputs("</th>", f);
    }
    fputs("<th>error</th></tr>\n", f);
    size_t n = 0;
    for (size_t r = 0; r < s->nrows && n < MAX_FAILED; r++) {
        const tb__sweep_row *row = &s->rows[r];
        if (!row->failed) continue;
        n++;
        fprintf(f, "<tr data-line=\"%zu\"><td class=\"n\">%zu</td>", row->line, row->line);
        for (size_t p = 0; p < s->nparams; p++) {
            fputs("<td>", f);
            esc(f, row->f[p]);
            fputs("</td>", f);
        }
        fputs("<td>", f);
        esc(f, row->f[s->ncols - 1]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
    if (n < s->nfailed)
        fprintf(f, "<p class=\"note\">The first %zu of %zu; every one is in the CSV.</p>\n", n,
                s->nfailed);
    return 0;
}

/* A cell's colour. Diverging (red below zero, green above) when a
 * higher-is-better objective has both signs, so a loss never looks good;
 * else sequential, darker is better. Sets *dark when white text reads better. */
static void cell_color(char out[8], double v, double lo, double hi, int lower, int *dark)
{
    static const int white[3] = {248, 250, 252}, red[3] = {185, 28, 28}, green[3] = {4, 120, 87},
                     blue[3] = {29, 78, 216};
    const int *to = blue;
    double t;
    if (!lower && lo < 0 && hi > 0) {
        to = v < 0 ? red : green;
        t = v < 0 ? v / lo : v / hi;
    } else {
        t = hi > lo ? (v - lo) / (hi - lo) : 1;
        if (lower) t = 1 - t;
        t = 0.1 + 0.9 * t; /* the worst cell still differs from an empty one */
    }
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(white[k] + (to[k] - white[k]) * t);
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 255, c[1] & 255, c[2] & 255);
    *dark = t > 0.55;
}

/* One heat map: x = parameter a's values, y = b's (rows, ascending down),
 * each cell the best objective over the other parameters' values, coloured
 * on the page's one scale [lo, hi] so maps compare with each other. */
static int heat_map(FILE *f, const tb__sweep *s, size_t a, size_t b, size_t id, double lo,
                    double hi)
{
    const tb__sweep_param *pa = &s->params[a], *pb = &s->params[b];
    size_t nx = pa->nvals, ny = pb->nvals;
    const tb__sweep_row **cell = calloc(nx * ny, sizeof(*cell));
    if (!cell) return TB_ENOMEM;
    for (size_t r = 0; r < s->nrows; r++) {
        const tb__sweep_row *row = &s->rows[r];
        if (!row->ok) continue;
        size_t k = s->vi[r * s->nparams + b] * nx + s->vi[r * s->nparams + a];
        if (!cell[k] || row->key > cell[k]->key) cell[k] = row;
    }
    fprintf(f, "<div><h3>");
    esc(f, pa->name);
    fputs(" × ", f);
    esc(f, pb->name);
    fprintf(f, "</h3><div class=\"scroll\"><table class=\"heat\" id=\"heat-%zu\" data-x=\"", id);
    esc(f, pa->name);
    fputs("\" data-y=\"", f);
    esc(f, pb->name);
    fputs("\"><tr><th class=\"y\">", f);
    esc(f, pb->name);
    fputs(" ↓ / ", f);
    esc(f, pa->name);
    fputs(" →</th>", f);
    for (size_t x = 0; x < nx; x++) {
        fputs("<th class=\"n\">", f);
        esc(f, pa->vals[x].s);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t y = 0; y < ny; y++) {
        fputs("<tr><th class=\"y\">", f);
        esc(f, pb->vals[y].s);
        fputs("</th>", f);
        for (size_t x = 0; x < nx; x++) {
            const tb__sweep_row *c = cell[y * nx + x];
            fputs("<td data-x=\"", f);
            esc(f, pa->vals[x].s);
            fputs("\" data-y=\"", f);
            esc(f, pb->vals[y].s);
            if (!c) {
                fputs("\" class=\"cell empty\" title=\"no combination with a value\"></td>", f);
                continue;
            }
            char col[8], txt[32];
            int dark;
            cell_color(col, c->m[s->obj], lo, hi, s->lower, &dark);
            short_num(txt, sizeof(txt), c->m[s->obj]);
            fprintf(f, "\" class=\"cell%s\" style=\"background:%s%s\" title=\"",
                    s->nok && c == s->order[0] ? " top" : "", col, dark ? ";color:#fff" : "");
            esc(f, s->objective);
            fputc(' ', f);
            esc(f, c->f[s->nparams + (size_t)s->obj]);
            fputs(" at ", f);
            combo(f, s, c);
            fprintf(f, " (line %zu)\" data-v=\"", c->line);
            esc(f, c->f[s->nparams + (size_t)s->obj]);
            fprintf(f, "\">%s</td>", txt);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div></div>\n", f);
    free(cell);
    return 0;
}

static int heat_maps(FILE *f, const tb__sweep *s)
{
    fputs("<h2>Heat maps</h2>\n", f);
    size_t npairs = 0, shown = 0, skipped = 0;
    int rc = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t r = 0; r < s->nrows; r++)
        if (s->rows[r].ok) {
            lo = fmin(lo, s->rows[r].m[s->obj]);
            hi = fmax(hi, s->rows[r].m[s->obj]);
        }
    for (size_t a = 0; a < s->nparams; a++)
        for (size_t b = a + 1; b < s->nparams; b++) {
            const tb__sweep_param *pa = &s->params[a], *pb = &s->params[b];
            if (!pa->numeric || !pb->numeric || pa->nvals < 2 || pb->nvals < 2) continue;
            npairs++;
            if (pa->nvals > MAX_AXIS || pb->nvals > MAX_AXIS) {
                skipped++;
                continue;
            }
            if (shown == MAX_PAIRS || rc) continue;
            if (!shown) fputs("<div class=\"maps\">\n", f);
            rc = heat_map(f, s, a, b, shown++, lo, hi);
        }
    if (shown) fputs("</div>\n", f);
    if (!npairs)
        fputs("<p class=\"note\" id=\"no-maps\">No heat map: fewer than two numeric parameters "
              "with two values or more.</p>\n",
              f);
    fprintf(f,
            "<p class=\"note\" id=\"maps-note\">Each cell is the best %s over the other "
            "parameters' values for that pair; a hatched cell has no combination with a value "
            "(failed, undefined, or not in the grid). %s The best combination's cell is "
            "outlined. Hover a cell for its exact value and combination.",
            s->objective,
            s->lower           ? "One scale for every map: darker is lower (better)."
            : lo < 0 && hi > 0 ? "One scale for every map: green above zero, red below, deeper "
                                 "is further from zero."
                               : "One scale for every map: darker is higher (better).");
    if (shown < npairs - skipped)
        fprintf(f,
                " <b id=\"maps-limit\">%zu pairs of numeric parameters: the first %d are "
                "shown.</b>",
                npairs - skipped, MAX_PAIRS);
    if (skipped)
        fprintf(f, " %zu pair%s with more than %d values on an axis not drawn.", skipped,
                skipped == 1 ? "" : "s", MAX_AXIS);
    fputs(" Parameters that are words, or have one value, have no heat map (see the "
          "sensitivity below).</p>\n",
          f);
    return rc;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    size_t runs, n;            /* combinations with the value; those with an objective */
    const tb__sweep_row *best; /* NULL when n == 0 */
    double median;
} sens_point;

static double nice_step(double span)
{
    double raw = span / 4, mag = pow(10, floor(log10(raw))), n = raw / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/* Best (solid) and median (dashed) per value, values evenly spaced on x. */
static void sens_chart(FILE *f, const tb__sweep *s, size_t p, const sens_point *pt)
{
    const tb__sweep_param *pr = &s->params[p];
    const int W = 600, H = 210, ML = 64, MR = 16, MT = 28, MB = 40;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < pr->nvals; k++)
        if (pt[k].n) {
            lo = fmin(lo, fmin(pt[k].best->m[s->obj], pt[k].median));
            hi = fmax(hi, fmax(pt[k].best->m[s->obj], pt[k].median));
        }
    if (!isfinite(lo)) return;
    double pad = (hi - lo) * 0.08;
    if (pad <= 0) pad = fabs(lo) > 0 ? fabs(lo) * 0.05 : 1;
    lo -= pad;
    hi += pad;
    double pw = W - ML - MR, ph = H - MT - MB;
#define SX(k) (ML + ((double)(k) + 0.5) * pw / (double)pr->nvals)
#define SY(v) (MT + ph - ((v)-lo) / (hi - lo) * ph)
    fprintf(f,
            "<svg id=\"sens-chart-%zu\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
            "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\"><title>",
            p, W, H, W, H);
    esc(f, s->objective);
    fputs(" by ", f);
    esc(f, pr->name);
    fprintf(f, "</title><text class=\"ctitle\" x=\"%d\" y=\"17\">", ML);
    esc(f, s->objective);
    fputs(" by ", f);
    esc(f, pr->name);
    fputs("</text>", f);
    double step = nice_step(hi - lo);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (double v = ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
        fprintf(f,
                "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>",
                ML, W - MR, SY(v), SY(v), ML - 6, SY(v) + 4, dec, fabs(v) < step * 1e-9 ? 0.0 : v);
    size_t every = (pr->nvals + MAX_XLABELS - 1) / MAX_XLABELS;
    for (size_t k = 0; k < pr->nvals; k += every) {
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", SX(k),
                H - MB + 16);
        esc(f, pr->vals[k].s);
        fputs("</text>", f);
    }
    fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\"/>", ML, MT,
            pw, ph);
    static const char *const colors[2] = {"#2563eb", "#d97706"};
    for (int which = 0; which < 2; which++) {
        fprintf(f,
                "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s "
                "points=\"",
                which ? "median" : "best", colors[which], which ? " stroke-dasharray=\"5 3\"" : "");
        for (size_t k = 0; k < pr->nvals; k++)
            if (pt[k].n)
                fprintf(f, "%.1f,%.1f ", SX(k), SY(which ? pt[k].median : pt[k].best->m[s->obj]));
        fputs("\"/>", f);
        for (size_t k = 0; k < pr->nvals; k++) {
            if (!pt[k].n) continue;
            double v = which ? pt[k].median : pt[k].best->m[s->obj];
            char b[32];
            num(b, sizeof(b), v);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s ", SX(k),
                    SY(v), colors[which], which ? "median" : "best");
            esc(f, pr->name);
            fputc('=', f);
            esc(f, pr->vals[k].s);
            fprintf(f, ": %s</title></circle>", b);
        }
    }
    fprintf(f,
            "<line x1=\"%d\" x2=\"%d\" y1=\"13\" y2=\"13\" stroke=\"%s\" stroke-width=\"2\"/>"
            "<text class=\"tick\" x=\"%d\" y=\"17\">best</text>"
            "<line x1=\"%d\" x2=\"%d\" y1=\"13\" y2=\"13\" stroke=\"%s\" stroke-width=\"2\" "
            "stroke-dasharray=\"5 3\"/><text class=\"tick\" x=\"%d\" y=\"17\">median</text>",
            W - MR - 150, W - MR - 128, colors[0], W - MR - 124, W - MR - 74, W - MR - 52,
            colors[1], W - MR - 48);
    fputs("</svg>\n", f);
#undef SX
#undef SY
}

/* Per value of parameter p: the combinations, the best and the median objective. */
static int sens_points(const tb__sweep *s, size_t p, sens_point *pt)
{
    const tb__sweep_param *pr = &s->params[p];
    /* One pass over the rows: each value's objectives go to its own
     * segment of v (a counting sort), so many values stay linear. */
    double *v = malloc((s->nrows + 1) * sizeof(*v));
    size_t *end = calloc(pr->nvals + 1, sizeof(*end));
    if (!v || !end) {
        free(v);
        free(end);
        return TB_ENOMEM;
    }
    for (size_t k = 0; k < pr->nvals; k++)
        pt[k] = (sens_point){0, 0, NULL, 0};
    for (size_t r = 0; r < s->nrows; r++) {
        const tb__sweep_row *row = &s->rows[r];
        sens_point *q = &pt[s->vi[r * s->nparams + p]];
        q->runs++;
        if (!row->ok) continue;
        q->n++;
        if (!q->best || row->key > q->best->key) q->best = row;
    }
    for (size_t k = 0; k < pr->nvals; k++)
        end[k + 1] = end[k] + pt[k].n;
    for (size_t r = 0; r < s->nrows; r++)
        if (s->rows[r].ok) v[end[s->vi[r * s->nparams + p]]++] = s->rows[r].m[s->obj];
    for (size_t k = 0; k < pr->nvals; k++) {
        sens_point *q = &pt[k];
        if (!q->n) continue;
        double *seg = v + end[k] - q->n; /* end[k] has moved past value k's segment */
        qsort(seg, q->n, sizeof(*seg), by_double);
        q->median = q->n % 2 ? seg[q->n / 2] : (seg[q->n / 2 - 1] + seg[q->n / 2]) / 2;
    }
    free(v);
    free(end);
    return 0;
}

static int sensitivity(FILE *f, const tb__sweep *s)
{
    fputs("<h2>Sensitivity</h2>\n", f);
    if (!s->nparams) {
        fputs("<p class=\"note\">No parameter was swept.</p>\n", f);
        return 0;
    }
    size_t maxv = 1;
    for (size_t p = 0; p < s->nparams; p++)
        if (s->params[p].nvals > maxv) maxv = s->params[p].nvals;
    sens_point *pt = malloc(maxv * sizeof(*pt));
    if (!pt) return TB_ENOMEM;
    /* First the overview: how far the best and the median move across a
     * parameter's values. A wide median spread is a parameter that matters;
     * a best far above its own median is a lonely peak. */
    fprintf(f,
            "<div class=\"scroll\"><table id=\"spread\" style=\"width:auto\"><tr><th>parameter</th>"
            "<th class=\"n\">values</th><th class=\"n\">best %s across values (spread)</th>"
            "<th class=\"n\">median %s across values (spread)</th></tr>\n",
            s->objective, s->objective);
    int rc = 0;
    for (size_t p = 0; p < s->nparams && !rc; p++) {
        if ((rc = sens_points(s, p, pt))) break;
        double blo = INFINITY, bhi = -INFINITY, mlo = INFINITY, mhi = -INFINITY;
        for (size_t k = 0; k < s->params[p].nvals; k++)
            if (pt[k].n) {
                blo = fmin(blo, pt[k].best->m[s->obj]);
                bhi = fmax(bhi, pt[k].best->m[s->obj]);
                mlo = fmin(mlo, pt[k].median);
                mhi = fmax(mhi, pt[k].median);
            }
        fputs("<tr data-param=\"", f);
        esc(f, s->params[p].name);
        fputs("\"><td>", f);
        esc(f, s->params[p].name);
        fprintf(f, "</td><td class=\"n\">%zu</td>", s->params[p].nvals);
        if (!isfinite(blo)) {
            fputs("<td class=\"n\">—</td><td class=\"n\">—</td></tr>\n", f);
            continue;
        }
        char a[32], b[32], c[32], d[32], e[32], g[32];
        num(a, sizeof(a), blo);
        num(b, sizeof(b), bhi);
        num(c, sizeof(c), bhi - blo);
        num(d, sizeof(d), mlo);
        num(e, sizeof(e), mhi);
        num(g, sizeof(g), mhi - mlo);
        fprintf(f, "<td class=\"n\">%s … %s (%s)</td><td class=\"n\">%s … %s (%s)</td></tr>\n", a,
                b, c, d, e, g);
    }
    fputs("</table></div>\n", f);
    for (size_t p = 0; p < s->nparams && !rc; p++) {
        const tb__sweep_param *pr = &s->params[p];
        if ((rc = sens_points(s, p, pt))) break;
        fputs("<h3>", f);
        esc(f, pr->name);
        fputs("</h3><div class=\"sens\">", f);
        sens_chart(f, s, p, pt);
        fprintf(f, "<div class=\"scroll\"><table id=\"sens-%zu\" data-param=\"", p);
        esc(f, pr->name);
        fputs("\"><tr><th>", f);
        esc(f, pr->name);
        fprintf(f,
                "</th><th class=\"n\">combinations</th><th class=\"n\">with a %s</th>"
                "<th class=\"n\">best</th><th class=\"n\">median</th></tr>\n",
                s->objective);
        for (size_t k = 0; k < pr->nvals; k++) {
            const sens_point *q = &pt[k];
            int top = s->nok && s->vi[(size_t)(s->order[0] - s->rows) * s->nparams + p] == k;
            fputs("<tr data-value=\"", f);
            esc(f, pr->vals[k].s);
            fprintf(f, "\"%s><td>", top ? " class=\"best\"" : "");
            esc(f, pr->vals[k].s);
            fprintf(f, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td>", q->runs, q->n);
            if (!q->n) {
                fputs("<td class=\"n best\">—</td><td class=\"n median\">—</td></tr>\n", f);
                continue;
            }
            char m[32];
            num(m, sizeof(m), q->median);
            fputs("<td class=\"n best\" title=\"", f);
            combo(f, s, q->best);
            fputs("\">", f);
            esc(f, q->best->f[s->nparams + (size_t)s->obj]);
            fprintf(f, "</td><td class=\"n median\">%s</td></tr>\n", m);
        }
        fputs("</table></div></div>\n", f);
    }
    fprintf(f,
            "<p class=\"note\">For each value of a parameter: the best and the median %s over "
            "every combination of the other parameters with that value (failed and undefined "
            "ones left out). The bold row holds the best combination's value. A best far from "
            "its median, or far above its neighbours, is a lonely peak: likely luck, not a "
            "setting to trust.</p>\n",
            s->objective);
    free(pt);
    return rc;
}

int tb__sweep_html(const tb__sweep *s, FILE *f)
{
    header(f, s);
    top_table(f, s);
    int rc = heat_maps(f, s);
    if (!rc) rc = sensitivity(f, s);
    if (!rc) rc = failed_table(f, s);
    fprintf(f, "<p class=\"note\">tradebus %s · from ", TB_VERSION_STRING);
    esc(f, s->path);
    fputs("</p>\n</body></html>\n", f);
    if (!rc && ferror(f)) rc = TB_EIO;
    return rc;
}

int tb_sweep_html_write(const char *csv_path, const char *html_path, const char *objective,
                        size_t nparams, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!csv_path || !html_path || !objective) {
        tb__errf(err, errlen, "sweep page: csv_path, html_path and objective are required");
        return TB_EINVAL;
    }
    tb__sweep s;
    int rc = tb__sweep_load(&s, csv_path, objective, nparams, err, errlen);
    if (rc) return rc;
    /* Written beside the target and renamed over it: a failure never leaves
     * half a page, and a previous page stays. */
    size_t n = strlen(html_path) + 5;
    char *tmp = malloc(n);
    if (!tmp) {
        tb__sweep_free(&s);
        tb__errf(err, errlen, "%s: out of memory", html_path);
        return TB_ENOMEM;
    }
    snprintf(tmp, n, "%s.tmp", html_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        tb__errf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        rc = TB_EIO;
    } else {
        rc = tb__sweep_html(&s, f);
        if (fclose(f) != 0 && !rc) rc = TB_EIO;
        if (!rc && rename(tmp, html_path) != 0) rc = TB_EIO;
        if (rc) {
            tb__errf(err, errlen, "%s: write failed: %s", html_path,
                     rc == TB_EIO ? strerror(errno) : tb_strerror(rc));
            remove(tmp);
        }
    }
    free(tmp);
    tb__sweep_free(&s);
    return rc;
}
