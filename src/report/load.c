/* Reading a finished run's folder, and checking that its files agree. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/errbuf.h"
#include "report_int.h"
#include "tradebus/codec.h"

typedef struct {
    json_t *root;
    const char *path;
} summary;

static int get_dec(const summary *s, json_t *obj, const char *key, tb_decimal *out, char *err,
                   size_t errlen)
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (!v || tb_dec_parse(v, (size_t)-1, out) != 0) {
        tb__errf(err, errlen, "%s: \"%s\" is missing or not a decimal string", s->path, key);
        return TB_EPARSE;
    }
    return 0;
}

static int get_count(const summary *s, const char *key, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(s->root, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        tb__errf(err, errlen, "%s: \"%s\" is missing or not a count", s->path, key);
        return TB_EPARSE;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int disagree(const tb__report *r, const char *what, tb_decimal events, tb_decimal sum,
                    char *err, size_t errlen)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN];
    tb_dec_format(events, a, sizeof(a));
    tb_dec_format(sum, b, sizeof(b));
    tb__errf(err, errlen,
             "%s/events.jsonl and %s/summary.json disagree: %s is %s from the events, %s in the "
             "summary",
             r->dir, r->dir, what, a, b);
    return TB_EDATA;
}

/* The summary's positions against the replay's, figure by figure. */
static int check_positions(const tb__report *r, const summary *s, char *err, size_t errlen)
{
    json_t *arr = json_object_get(s->root, "positions"), *p;
    size_t i;
    if (!json_is_array(arr)) {
        tb__errf(err, errlen, "%s: \"positions\" is missing or not an array", s->path);
        return TB_EPARSE;
    }
    json_array_foreach(arr, i, p)
    {
        const char *st = json_string_value(json_object_get(p, "strategy_id"));
        const char *sy = json_string_value(json_object_get(p, "symbol"));
        if (!st || !sy) {
            tb__errf(err, errlen, "%s: positions[%zu] lacks strategy_id or symbol", s->path, i);
            return TB_EPARSE;
        }
        tb_decimal q, e, u, t;
        int rc = get_dec(s, p, "quantity", &q, err, errlen);
        if (!rc) rc = get_dec(s, p, "entry_price", &e, err, errlen);
        if (!rc) rc = get_dec(s, p, "unrealized_pnl", &u, err, errlen);
        if (!rc) rc = get_dec(s, p, "total_realized_pnl", &t, err, errlen);
        if (rc) return rc;
        const tb__rkey *k = NULL;
        for (size_t j = 0; j < r->nkeys && !k; j++)
            if (strcmp(r->strats[r->keys[j].strat].name, st) == 0 &&
                strcmp(r->syms[r->keys[j].sym].name, sy) == 0)
                k = &r->keys[j];
        char what[96];
        if (!k) {
            tb__errf(err, errlen, "%s: position %s %s has no event in %s/events.jsonl", s->path, st,
                     sy, r->dir);
            return TB_EDATA;
        }
        snprintf(what, sizeof(what), "%s %s quantity", st, sy);
        if (k->qty != q) return disagree(r, what, k->qty, q, err, errlen);
        snprintf(what, sizeof(what), "%s %s entry_price", st, sy);
        if (k->entry != e) return disagree(r, what, k->entry, e, err, errlen);
        snprintf(what, sizeof(what), "%s %s unrealized_pnl", st, sy);
        if (k->unrealized != u) return disagree(r, what, k->unrealized, u, err, errlen);
        tb_decimal tot;
        if ((rc = tb_dec_add(k->past_realized, k->life_realized, &tot))) return rc;
        snprintf(what, sizeof(what), "%s %s total_realized_pnl", st, sy);
        if (tot != t) return disagree(r, what, tot, t, err, errlen);
    }
    return 0;
}

static int read_summary(tb__report *r, summary *s, char *err, size_t errlen)
{
    json_error_t je;
    s->root = json_load_file(s->path, 0, &je);
    if (!s->root) {
        if (je.line < 1 && (errno == ENOENT || strstr(je.text, "No such file"))) {
            tb__errf(err, errlen, "%s is missing: is %s a tradebus backtest output folder?",
                     s->path, r->dir);
            return TB_ENOTFOUND;
        }
        tb__errf(err, errlen, "%s:%d: %s", s->path, je.line, je.text);
        return TB_EPARSE;
    }
    int rc = get_dec(s, s->root, "initial_equity", &r->initial, err, errlen);
    if (!rc) rc = get_dec(s, s->root, "final_equity", &r->s_final, err, errlen);
    if (!rc) rc = get_dec(s, s->root, "realized_pnl", &r->s_realized, err, errlen);
    if (!rc) rc = get_dec(s, s->root, "unrealized_pnl", &r->s_unrealized, err, errlen);
    if (!rc) rc = get_dec(s, s->root, "fees", &r->s_fees, err, errlen);
    if (!rc) rc = get_dec(s, s->root, "max_drawdown_pct", &r->s_max_dd_pct, err, errlen);
    if (!rc) rc = get_count(s, "fills", &r->s_fills, err, errlen);
    if (!rc) rc = get_count(s, "bars", &r->s_bars, err, errlen);
    return rc;
}

static int read_events(tb__report *r, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/events.jsonl", r->dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            tb__errf(err, errlen,
                     "%s is missing: the report needs the event log ([output] event_log = true)",
                     path);
            return TB_ENOTFOUND;
        }
        tb__errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return TB_EIO;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') len--;
        tb_event ev;
        char cerr[TB_CODEC_ERRLEN];
        rc = tb_codec_decode(line, (size_t)len, &ev, cerr, sizeof(cerr));
        if (rc) {
            tb__errf(err, errlen, "%s:%zu: %s", path, lineno, cerr);
            break;
        }
        rc = tb__report_apply(r, &ev);
        if (rc == TB_ESTATE)
            tb__errf(err, errlen, "%s:%zu: position_id goes backwards", path, lineno);
        else if (rc)
            tb__errf(err, errlen, "%s:%zu: %s", path, lineno, tb_strerror(rc));
    }
    if (!rc && ferror(f)) {
        tb__errf(err, errlen, "%s: read failed: %s", path, strerror(errno));
        rc = TB_EIO;
    }
    free(line);
    fclose(f);
    if (!rc && lineno == 0) {
        tb__errf(err, errlen, "%s is empty", path);
        rc = TB_EPARSE;
    }
    if (rc == TB_ESTATE) rc = TB_EDATA;
    return rc;
}

/* fills.csv is optional; when present its rows must be the fills. */
static int check_fills_csv(const tb__report *r, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/fills.csv", r->dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    uint64_t rows = 0;
    int c, last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n') rows++;
        last = c;
    }
    fclose(f);
    if (last != '\n') rows++;
    if (rows > 0) rows--; /* the header */
    if (rows != r->fills) {
        tb__errf(err, errlen, "%s has %llu fills but %s/events.jsonl has %llu OrderFilled events",
                 path, (unsigned long long)rows, r->dir, (unsigned long long)r->fills);
        return TB_EDATA;
    }
    return 0;
}

/* replay NULL: the events are read back from events.jsonl. */
static int load(tb__report *r, const char *dir, tb__report *replay, char *err, size_t errlen)
{
    if (replay) {
        *r = *replay;
        memset(replay, 0, sizeof(*replay));
    } else {
        memset(r, 0, sizeof(*r));
    }
    r->dir = dir;
    char spath[4096];
    snprintf(spath, sizeof(spath), "%s/summary.json", dir);
    summary s = {NULL, spath};
    int rc = read_summary(r, &s, err, errlen);
    if (!rc && !replay) rc = read_events(r, err, errlen);
    if (!rc && !replay) rc = tb__report_finish(r);
    if (!rc && r->npts == 0) {
        tb__errf(err, errlen, "%s/events.jsonl has no MarketData: nothing to report", dir);
        rc = TB_EDATA;
    }
    if (!rc && r->fills != r->s_fills) {
        tb__errf(err, errlen,
                 "%s/events.jsonl has %llu OrderFilled events but %s says \"fills\": %llu", dir,
                 (unsigned long long)r->fills, spath, (unsigned long long)r->s_fills);
        rc = TB_EDATA;
    }
    if (!rc) {
        tb_decimal realized = 0, unrealized = 0;
        for (size_t i = 0; i < r->nkeys && !rc; i++) {
            rc = tb_dec_add(realized, r->keys[i].past_realized, &realized);
            if (!rc) rc = tb_dec_add(realized, r->keys[i].life_realized, &realized);
            if (!rc) rc = tb_dec_add(unrealized, r->keys[i].unrealized, &unrealized);
        }
        r->realized = realized;
        if (!rc && realized != r->s_realized)
            rc = disagree(r, "realized_pnl", realized, r->s_realized, err, errlen);
        if (!rc && unrealized != r->s_unrealized)
            rc = disagree(r, "unrealized_pnl", unrealized, r->s_unrealized, err, errlen);
        if (!rc && r->fees != r->s_fees) rc = disagree(r, "fees", r->fees, r->s_fees, err, errlen);
        if (!rc && r->eq[r->npts - 1] != r->s_final)
            rc = disagree(r, "final_equity (the equity curve's last point)", r->eq[r->npts - 1],
                          r->s_final, err, errlen);
    }
    if (!rc) rc = check_positions(r, &s, err, errlen);
    /* "RISK 3, INSUFFICIENT_FUNDS 2" from the summary's count objects. */
    const char *keys[2] = {"rejections", "risk_alerts"};
    char *dst[2] = {r->s_rejections, r->s_alerts};
    for (int i = 0; i < 2; i++) {
        json_t *o = json_object_get(s.root, keys[i]), *v;
        const char *k;
        size_t n = 0;
        snprintf(dst[i], sizeof(r->s_alerts), "none");
        json_object_foreach(o, k, v)
        {
            int w = snprintf(dst[i] + n, sizeof(r->s_alerts) - n, "%s%s %lld", n ? ", " : "", k,
                             (long long)json_integer_value(v));
            if (w < 0 || (size_t)w >= sizeof(r->s_alerts) - n) break;
            n += (size_t)w;
        }
    }
    /* Written by runs since trades.csv exists; older summaries lack it. */
    json_t *tj = json_object_get(s.root, "trades");
    if (!rc && json_is_integer(tj)) {
        uint64_t closed, wins;
        tb__report_count_trades(r, &closed, &wins);
        if ((uint64_t)json_integer_value(tj) != closed) {
            tb__errf(err, errlen,
                     "%s/events.jsonl has %llu closed trades but %s says \"trades\": %lld", dir,
                     (unsigned long long)closed, spath, (long long)json_integer_value(tj));
            rc = TB_EDATA;
        }
    }
    if (!rc) rc = check_fills_csv(r, err, errlen);
    json_decref(s.root);
    return rc;
}

int tb__report_load(tb__report *r, const char *dir, char *err, size_t errlen)
{
    return load(r, dir, NULL, err, errlen);
}

int tb__report_load_replay(tb__report *r, const char *dir, tb__report *replay, char *err,
                           size_t errlen)
{
    return load(r, dir, replay, err, errlen);
}
