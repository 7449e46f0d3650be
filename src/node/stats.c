/* Each process owns some of the summary's numbers (the orders process its
 * order counts, the positions process the positions...). At the end of a
 * run each sends its own, computed by the same tb_pipeline_result() as the
 * embedded run, and the monitor puts them together. */
#include "stats.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "tradebus/codec.h"

static int set_dec(json_t *o, const char *k, tb_decimal v)
{
    char b[TB_DECIMAL_STRLEN];
    tb_dec_format(v, b, sizeof(b));
    return json_object_set_new(o, k, json_string(b));
}

int tb__stats_encode(const char *role, const tb_backtest_result *r, char **out)
{
    json_t *o = json_object();
    if (!o) return TB_ENOMEM;
    json_object_set_new(o, "role", json_string(role));
    json_object_set_new(o, "dead_letters", json_integer((json_int_t)r->dead_letters));
    if (!strcmp(role, "feed")) {
        json_object_set_new(o, "bars", json_integer((json_int_t)r->bars));
        json_object_set_new(o, "bad_rows", json_integer((json_int_t)r->bad_rows));
    } else if (!strcmp(role, "signal")) {
        json_object_set_new(o, "signals", json_integer((json_int_t)r->signals));
    } else if (!strcmp(role, "orders")) {
        json_object_set_new(o, "orders", json_integer((json_int_t)r->orders));
        json_object_set_new(o, "fills", json_integer((json_int_t)r->fills));
        json_object_set_new(o, "rejected", json_integer((json_int_t)r->rejected));
        json_object_set_new(o, "canceled", json_integer((json_int_t)r->canceled));
        json_object_set_new(o, "open_orders", json_integer((json_int_t)r->open_orders));
        set_dec(o, "cash", r->cash);
    } else if (!strcmp(role, "positions")) {
        set_dec(o, "realized_pnl", r->realized_pnl);
        set_dec(o, "unrealized_pnl", r->unrealized_pnl);
        json_t *a = json_array();
        for (size_t i = 0; a && i < r->npositions; i++) {
            /* A position travels as the PositionUpdate the codec knows. */
            tb_event ev;
            tb_event_init(&ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
            ev.event_id = i + 1;
            ev.correlation_id = i + 1;
            ev.u.position = r->positions[i];
            char buf[2048];
            if (tb_codec_encode(&ev, buf, sizeof(buf)) < 0) continue;
            json_array_append_new(a, json_loads(buf, 0, NULL));
        }
        json_object_set_new(o, "positions", a);
    } else if (!strcmp(role, "risk")) {
        set_dec(o, "fees", r->fees);
        set_dec(o, "max_drawdown_pct", r->max_drawdown_pct);
    }
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *out ? 0 : TB_ENOMEM;
}

static int get_u64(json_t *o, const char *k, uint64_t *v)
{
    json_t *x = json_object_get(o, k);
    if (!x) return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0) return TB_EPARSE;
    *v += (uint64_t)json_integer_value(x); /* shards of one role add up */
    return 0;
}

static int get_dec(json_t *o, const char *k, tb_decimal *v)
{
    json_t *x = json_object_get(o, k);
    if (!x) return 0;
    if (!json_is_string(x)) return TB_EPARSE;
    const char *s = json_string_value(x);
    tb_decimal d;
    if (tb_dec_parse(s, strlen(s), &d)) return TB_EPARSE;
    return tb_dec_add(*v, d, v) ? TB_EPARSE : 0; /* shards of one role add up */
}

int tb__stats_merge(const char *json, size_t len, tb_backtest_result *r, char *role, size_t rolelen,
                    char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o) || !json_is_string(json_object_get(o, "role"))) {
        tb__errf(err, errlen, "result message is not an object with a role: %s", o ? "" : je.text);
        json_decref(o);
        return TB_EPARSE;
    }
    snprintf(role, rolelen, "%s", json_string_value(json_object_get(o, "role")));
    int rc = get_u64(o, "dead_letters", &r->dead_letters);
    const char *ks[] = {"bars",  "bad_rows", "signals",  "orders",
                        "fills", "rejected", "canceled", "open_orders"};
    uint64_t *vs[] = {&r->bars,  &r->bad_rows, &r->signals,  &r->orders,
                      &r->fills, &r->rejected, &r->canceled, &r->open_orders};
    for (size_t i = 0; !rc && i < sizeof(ks) / sizeof(ks[0]); i++)
        rc = get_u64(o, ks[i], vs[i]);
    const char *ds[] = {"cash", "realized_pnl", "unrealized_pnl", "fees", "max_drawdown_pct"};
    tb_decimal *dv[] = {&r->cash, &r->realized_pnl, &r->unrealized_pnl, &r->fees,
                        &r->max_drawdown_pct};
    for (size_t i = 0; !rc && i < 5; i++)
        rc = get_dec(o, ds[i], dv[i]);
    json_t *a = json_object_get(o, "positions");
    if (!rc && a) {
        size_t n = json_array_size(a);
        free(r->positions);
        r->positions = n ? calloc(n, sizeof(*r->positions)) : NULL;
        r->npositions = 0;
        if (n && !r->positions) rc = TB_ENOMEM;
        for (size_t i = 0; !rc && i < n; i++) {
            char *s = json_dumps(json_array_get(a, i), JSON_COMPACT);
            tb_event ev;
            rc = s ? tb_codec_decode(s, strlen(s), &ev, err, errlen) : TB_ENOMEM;
            free(s);
            if (!rc) r->positions[r->npositions++] = ev.u.position;
        }
    }
    json_decref(o);
    if (rc && err && errlen && !err[0]) tb__errf(err, errlen, "result of %s: bad field", role);
    return rc;
}
