/* `journal replay`: state rebuilt from the journal's events alone, compared
 * with what the run itself recorded. The rebuild uses the real Position
 * Manager on a private bus, so it checks that the journal holds everything
 * needed (every fill, every bar) rather than re-trusting the run's updates. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "tradebus/codec.h"
#include "tradebus/journal.h"
#include "tradebus/pnlbook.h"
#include "tradebus/position.h"

typedef struct {
    char cid[TB_ORDER_ID_LEN];
    tb_order_status status;
} order_state;

typedef struct {
    tb_journal_replay_report *r;
    tb_bus *bus;
    tb_position_manager *pm;
    tb_pnl_book *recorded;    /* from the journal's own PositionUpdates */
    tb_position_update *last; /* the journal's last update per (strategy, symbol) */
    size_t nlast, last_cap;
    order_state *orders;
    size_t norders, orders_cap;
    uint64_t adopted; /* the last "adopted" RiskAlert (tradebus live --adopt-positions) */
    int rc;
} replay;

static void problem(replay *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(replay *x, const char *fmt, ...)
{
    if (x->r->first_problem[0]) return; /* the first one is what a reader needs */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->r->first_problem, sizeof(x->r->first_problem), fmt, ap);
    va_end(ap);
}

static order_state *order_for(replay *x, const char *cid, int create)
{
    for (size_t i = x->norders; i-- > 0;)
        if (!strcmp(x->orders[i].cid, cid)) return &x->orders[i];
    if (!create) return NULL;
    if (x->norders == x->orders_cap) {
        size_t nc = x->orders_cap ? x->orders_cap * 2 : 256;
        order_state *no = realloc(x->orders, nc * sizeof(*no));
        if (!no) return NULL;
        x->orders = no;
        x->orders_cap = nc;
    }
    order_state *o = &x->orders[x->norders++];
    memset(o, 0, sizeof(*o));
    snprintf(o->cid, sizeof(o->cid), "%s", cid);
    o->status = TB_ORDER_PENDING;
    return o;
}

static void move(replay *x, const char *cid, tb_order_status to)
{
    order_state *o = order_for(x, cid, 0);
    if (!o) {
        x->r->illegal_transitions++;
        problem(x, "order %s has events but no placement request", cid);
        return;
    }
    if (o->status == to && to == TB_ORDER_PARTIALLY_FILLED) return;
    if (!tb_order_status_can_move(o->status, to)) {
        x->r->illegal_transitions++;
        problem(x, "order %s: illegal move to %s", cid, tb_order_status_name(to));
        return;
    }
    o->status = to;
}

static int remember_last(replay *x, const tb_position_update *u)
{
    for (size_t i = 0; i < x->nlast; i++)
        if (!strcmp(x->last[i].strategy_id, u->strategy_id) &&
            !strcmp(x->last[i].symbol, u->symbol)) {
            x->last[i] = *u;
            return 0;
        }
    if (x->nlast == x->last_cap) {
        size_t nc = x->last_cap ? x->last_cap * 2 : 16;
        tb_position_update *nl = realloc(x->last, nc * sizeof(*nl));
        if (!nl) return TB_ENOMEM;
        x->last = nl;
        x->last_cap = nc;
    }
    x->last[x->nlast++] = *u;
    return 0;
}

static int on_event(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    replay *x = ctx;
    x->r->events++;
    tb_event copy = *ev;
    switch (ev->type) {
    case TB_EV_ORDER_PLACEMENT_REQUEST:
        x->r->orders++;
        if (!order_for(x, ev->u.order_request.client_order_id, 1)) return TB_ENOMEM;
        break;
    case TB_EV_ORDER_CREATED:
        move(x, ev->u.order_created.client_order_id, TB_ORDER_NEW);
        break;
    case TB_EV_ORDER_REJECTED:
        move(x, ev->u.order_rejected.client_order_id, TB_ORDER_REJECTED);
        break;
    case TB_EV_ORDER_CANCELED:
        move(x, ev->u.order_canceled.client_order_id, ev->u.order_canceled.status);
        break;
    case TB_EV_RISK_ALERT:
        if (strcmp(ev->u.risk_alert.rule, "adopted") == 0) x->adopted = ev->event_id;
        break;
    case TB_EV_ORDER_FILLED:
        x->r->fills++;
        /* A position adopted from the account is a fill of no order. */
        if (!(x->adopted && ev->causation_id == x->adopted))
            move(x, ev->u.order_filled.client_order_id, ev->u.order_filled.status);
        if (tb_dec_add(x->r->fees, ev->u.order_filled.commission, &x->r->fees)) return TB_EOVERFLOW;
        /* A private bus with only the Position Manager: what it publishes
         * stays there. Ids are reassigned so they cannot collide. */
        copy.event_id = 0;
        return tb_bus_publish(x->bus, &copy);
    case TB_EV_MARKET_DATA:
        copy.event_id = 0;
        copy.correlation_id = 0;
        return tb_bus_publish(x->bus, &copy);
    case TB_EV_POSITION_UPDATE:
        if (tb_pnl_book_apply(x->recorded, &ev->u.position, NULL)) return TB_EOVERFLOW;
        return remember_last(x, &ev->u.position);
    default:
        break;
    }
    return 0;
}

static void compare_positions(replay *x)
{
    for (size_t i = 0; i < x->nlast; i++) {
        const tb_position_update *want = &x->last[i];
        tb_position_update got;
        if (tb_position_manager_find(x->pm, want->strategy_id, want->symbol, &got) != 0 ||
            got.current_quantity != want->current_quantity ||
            got.entry_price != want->entry_price || got.realized_pnl != want->realized_pnl) {
            x->r->position_mismatches++;
            problem(x,
                    "position %s/%s rebuilt from the fills differs from the journal's last "
                    "PositionUpdate",
                    want->strategy_id, want->symbol);
        }
    }
}

static int summary_dec(json_t *s, const char *key, tb_decimal *out)
{
    const char *v = json_string_value(json_object_get(s, key));
    return v && tb_dec_parse(v, (size_t)-1, out) == 0 ? 0 : TB_EPARSE;
}

static void compare_summary(replay *x, tb_journal *j)
{
    char *text = malloc(1 << 20);
    if (!text) return;
    if (tb_journal_meta_get(j, "summary", text, 1 << 20) == 0) {
        json_t *s = json_loads(text, 0, NULL);
        tb_decimal realized, unrealized, fees;
        x->r->summary_checked = 1;
        if (s && !summary_dec(s, "realized_pnl", &realized) &&
            !summary_dec(s, "unrealized_pnl", &unrealized) && !summary_dec(s, "fees", &fees)) {
            x->r->summary_matches = realized == x->r->realized_pnl &&
                                    unrealized == x->r->unrealized_pnl && fees == x->r->fees;
            if (!x->r->summary_matches)
                problem(x, "rebuilt PnL or fees differ from the run's summary");
        } else {
            problem(x, "the run's recorded summary does not parse");
        }
        json_decref(s);
    }
    free(text);
}

int tb_journal_replay_check(tb_journal *j, tb_journal_replay_report *out, char *err, size_t errlen)
{
    replay x;
    memset(&x, 0, sizeof(x));
    memset(out, 0, sizeof(*out));
    x.r = out;
    int rc = tb_bus_create(NULL, &x.bus);
    if (!rc) rc = tb_position_manager_create(x.bus, &x.pm);
    if (!rc) rc = tb_pnl_book_create(&x.recorded);
    if (!rc) rc = tb_journal_each(j, 0, on_event, &x);
    if (rc) {
        tb__errf(err, errlen, "journal replay: %s (%s)", tb_strerror(rc), tb_journal_errmsg(j));
    } else {
        for (size_t i = 0; i < x.norders; i++) {
            tb_order_status s = x.orders[i].status;
            if (s == TB_ORDER_FILLED)
                out->filled++;
            else if (s == TB_ORDER_REJECTED)
                out->rejected++;
            else if (s == TB_ORDER_CANCELED || s == TB_ORDER_EXPIRED)
                out->canceled++;
            else
                out->open++;
        }
        out->realized_pnl = tb_position_manager_realized(x.pm);
        out->unrealized_pnl = tb_position_manager_unrealized(x.pm);
        compare_positions(&x);
        compare_summary(&x, j);
    }
    tb_pnl_book_destroy(x.recorded);
    tb_position_manager_destroy(x.pm);
    tb_bus_destroy(x.bus);
    free(x.orders);
    free(x.last);
    return rc;
}
