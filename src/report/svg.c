/* Inline SVG line charts: time on x, a value on y, a few labelled ticks.
 * Long series are thinned to at most MAX_POINTS per curve keeping each
 * bucket's minimum and maximum, so spikes and crashes survive. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/timefmt_int.h"
#include "report_int.h"

#define MAX_POINTS 2000
#define ML         78 /* margins: room for the value labels */
#define MR         16
#define MT         26
#define MB         28

typedef struct {
    double x0, x1, y0, y1; /* data ranges */
    double px0, px1, py0, py1;
} frame;

static double fx(const frame *fr, int64_t t)
{
    return fr->px0 + ((double)t - fr->x0) / (fr->x1 - fr->x0) * (fr->px1 - fr->px0);
}

static double fy(const frame *fr, double v)
{
    return fr->py1 - (v - fr->y0) / (fr->y1 - fr->y0) * (fr->py1 - fr->py0);
}

void tb__report_time(int64_t ns, char *buf, size_t len)
{
    tb__utc t;
    tb__utc_of(ns, &t);
    int n = snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d", (long long)t.year, t.month, t.day,
                     t.hour, t.min);
    if (n < 0 || (size_t)n >= len) snprintf(buf, len, "?");
}

void tb__html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static double nice_step(double span, int ticks)
{
    double raw = span / ticks, mag = pow(10, floor(log10(raw))), n = raw / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

static void y_axis(FILE *f, const frame *fr, const char *unit)
{
    double step = nice_step(fr->y1 - fr->y0, 5);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (double v = ceil(fr->y0 / step) * step; v <= fr->y1 + step * 1e-9; v += step) {
        double y = fy(fr, v);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML,
                fr->px1, y, y);
        fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f%s</text>",
                ML - 6, y + 4, dec, fabs(v) < step * 1e-9 ? 0.0 : v, unit);
    }
}

static void x_axis(FILE *f, const frame *fr)
{
    static const double steps_min[] = {1,   5,    15,   30,    60,    120,   180,    360,
                                       720, 1440, 2880, 10080, 20160, 43200, 129600, 525960};
    double span_min = (fr->x1 - fr->x0) / 60e9, step = steps_min[15];
    for (size_t i = 0; i < sizeof(steps_min) / sizeof(steps_min[0]); i++)
        if (span_min / steps_min[i] <= 7) {
            step = steps_min[i];
            break;
        }
    double step_ns = step * 60e9;
    for (double t = ceil(fr->x0 / step_ns) * step_ns; t <= fr->x1; t += step_ns) {
        double x = fx(fr, (int64_t)t);
        char buf[32];
        tb__report_time((int64_t)t, buf, sizeof(buf));
        const char *label = step >= 1440 ? buf : buf + 5; /* "01-02 13:45" within a month */
        if (step >= 1440) buf[10] = 0;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x,
                fr->py0, fr->py1);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x,
                fr->py1 + 17, label);
    }
}

static void point(FILE *f, const frame *fr, const tb__svg_series *s, size_t i)
{
    fprintf(f, "%.1f,%.1f ", fx(fr, s->t[i]), fy(fr, s->y[i]));
}

static void curve(FILE *f, const frame *fr, const tb__svg_series *s)
{
    if (s->area && s->n) {
        fprintf(f, "<path class=\"area\" fill=\"%s\" d=\"M%.1f,%.1f L", s->color, fx(fr, s->t[0]),
                fy(fr, 0));
    } else {
        fputs("<polyline", f);
        if (s->cls) fprintf(f, " class=\"%s\"", s->cls);
        if (s->dash) fprintf(f, " stroke-dasharray=\"%s\"", s->dash);
        fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"1.3\" points=\"", s->color);
    }
    if (s->n <= MAX_POINTS) {
        for (size_t i = 0; i < s->n; i++)
            point(f, fr, s, i);
    } else {
        size_t buckets = MAX_POINTS / 2;
        for (size_t b = 0; b < buckets; b++) {
            size_t lo = b * s->n / buckets, hi = (b + 1) * s->n / buckets, mn = lo, mx = lo;
            for (size_t i = lo; i < hi; i++) {
                if (s->y[i] < s->y[mn]) mn = i;
                if (s->y[i] > s->y[mx]) mx = i;
            }
            point(f, fr, s, mn < mx ? mn : mx);
            if (mn != mx) point(f, fr, s, mn < mx ? mx : mn);
        }
    }
    if (s->area && s->n)
        fprintf(f, "%.1f,%.1f Z\"/>", fx(fr, s->t[s->n - 1]), fy(fr, 0));
    else
        fputs("\"/>", f);
}

/* The labelled curves' names, right-aligned above the plot. Text widths
 * are estimated (no script, no font metrics): 6.5 px a character at 11 px. */
static void legend(FILE *f, const frame *fr, const tb__svg_chart *c)
{
    double x = fr->px1;
    for (size_t k = c->nseries; k-- > 0;) {
        const tb__svg_series *s = &c->series[k];
        if (!s->label) continue;
        fprintf(f, "<text class=\"tick legend\" x=\"%.1f\" y=\"17\" text-anchor=\"end\">", x);
        tb__html_escape(f, s->label);
        fputs("</text>", f);
        x -= 6.5 * (double)strlen(s->label) + 6;
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"13\" y2=\"13\" stroke=\"%s\" "
                "stroke-width=\"2\"",
                x - 22, x, s->color);
        if (s->dash) fprintf(f, " stroke-dasharray=\"%s\"", s->dash);
        fputs("/>", f);
        x -= 36;
    }
}

static void marker(FILE *f, const frame *fr, const tb__svg_marker *m)
{
    double x = fx(fr, m->t), y = fy(fr, m->y), d = m->up ? 1 : -1;
    /* ▲ under the price for a buy, ▼ over it for a sell, apex on the fill */
    fprintf(f, "<path class=\"mk %s\" fill=\"%s\" d=\"M%.1f,%.1f l-5,%.1f h10 Z\"><title>",
            m->up ? "buy" : "sell", m->color, x, y, 9 * d);
    tb__html_escape(f, m->label);
    fputs("</title></path>", f);
}

int tb__svg_write(FILE *f, const tb__svg_chart *c)
{
    frame fr = {INFINITY, -INFINITY, INFINITY, -INFINITY, ML, c->width - MR, MT, c->height - MB};
    for (size_t k = 0; k < c->nseries; k++) {
        const tb__svg_series *s = &c->series[k];
        for (size_t i = 0; i < s->n; i++) {
            fr.x0 = fmin(fr.x0, (double)s->t[i]);
            fr.x1 = fmax(fr.x1, (double)s->t[i]);
            fr.y0 = fmin(fr.y0, s->y[i]);
            fr.y1 = fmax(fr.y1, s->y[i]);
        }
        if (s->area) {
            fr.y0 = fmin(fr.y0, 0);
            fr.y1 = fmax(fr.y1, 0);
        }
    }
    if (!(fr.x0 < fr.x1)) { /* one point or none: a span of a minute around it */
        fr.x0 = isfinite(fr.x0) ? fr.x0 - 30e9 : 0;
        fr.x1 = fr.x0 + 60e9;
    }
    if (!isfinite(fr.y0)) fr.y0 = 0, fr.y1 = 1;
    double pad = (fr.y1 - fr.y0) * 0.05;
    if (pad <= 0) pad = fabs(fr.y0) > 0 ? fabs(fr.y0) * 0.01 : 1;
    fr.y0 -= pad;
    fr.y1 += pad;
    fprintf(f,
            "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
            "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">",
            c->id, c->width, c->height, c->width, c->height);
    fputs("<title>", f);
    tb__html_escape(f, c->title);
    fprintf(f, "</title><text class=\"ctitle\" x=\"%d\" y=\"17\">", ML);
    tb__html_escape(f, c->title);
    fputs("</text>", f);
    y_axis(f, &fr, c->unit);
    x_axis(f, &fr);
    fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\"/>", ML, MT,
            fr.px1 - fr.px0, fr.py1 - fr.py0);
    for (size_t k = 0; k < c->nseries; k++)
        curve(f, &fr, &c->series[k]);
    legend(f, &fr, c);
    for (size_t k = 0; k < c->nmarkers; k++)
        marker(f, &fr, &c->markers[k]);
    fputs("</svg>\n", f);
    return ferror(f) ? TB_EIO : 0;
}
