/* The Position Manager: nets fills per (strategy_id, symbol).
 *
 * Positions live in a flat array in first-seen order (what _get() walks) with
 * an open-addressing index over it; symbols (last close, and a chain of the
 * positions trading them so a bar marks only those) likewise. Both grow by
 * doubling when a new key appears, so a fill or a bar for a known key
 * allocates nothing.
 *
 * Every fill is computed into a scratch result first and committed only when
 * all of its arithmetic succeeded: an overflow leaves the position untouched.
 *
 * The bus retries a handler that failed transiently. The only failure after
 * a commit is such a one: a publish that could not grow the ring. The events
 * still to publish are kept with the fill's id, so the retry publishes them
 * instead of applying the fill a second time.
 *
 * Validation comes before anything is looked up or changed (see position.h):
 * the slots keep what the order checks need — a symbol its last bar's close
 * time and id, a position its last fill's time — so a refused event costs a
 * few comparisons and leaves every table as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/hot.h"
#include "../core/decimal_int.h"
#include "../core/fixstr.h"
#include "../core/keyindex.h"
#include "tradebus/position.h"
#include "validate.h"

#define INITIAL_POSITIONS 16
#define INITIAL_SYMBOLS   8

typedef struct {
    uint64_t hash; /* first: the index rebuild reads it at offset 0 */
    tb_position_update p;
    int32_t sym;            /* index into symbols */
    int32_t next_in_sym;    /* next position of the same symbol, -1 at the end */
    int64_t last_fill_time; /* fills of a (strategy, symbol) never go back in time */
} position_slot;

typedef struct {
    uint64_t hash; /* first, as above */
    char symbol[TB_SYMBOL_LEN];
    tb_decimal close;
    int has_close; /* a bar was accepted: close and the two below are set */
    int64_t last_close_time;
    uint64_t last_bar_id; /* a redelivery of this very bar is not "out of order" */
    int32_t first_pos;    /* -1 if no position trades it yet */
} symbol_slot;

/* A (strategy, symbol) declared with tb_position_manager_expect. */
typedef struct {
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
} expected_pair;

struct tb_position_manager {
    tb_bus *bus;
    int sub_fill, sub_md;

    position_slot *pos;
    size_t npos, pos_cap;
    tb__index pos_idx;

    symbol_slot *syms;
    size_t nsyms, syms_cap;
    tb__index sym_idx;
    size_t last_sym; /* the last bar's symbol: bars of one symbol skip the hash */

    uint64_t next_position_id;
    tb_decimal realized_total;

    expected_pair *expected; /* none: every (strategy, symbol) is accepted */
    size_t nexpected, expected_cap;

    /* Redelivery guard, see the file comment. */
    uint64_t last_fill_id;
    tb_event pending[2];
    int npending, pending_done;
};

/* strategy_id, symbol: fields (arrays of their full size), compared a word
 * at a time. */
static int32_t find_position(const tb_position_manager *pm, uint64_t h, const char *strategy_id,
                             const char *symbol)
{
    size_t mask = pm->pos_idx.cap - 1;
    for (size_t i = (size_t)h & mask; pm->pos_idx.slots[i]; i = (i + 1) & mask) {
        const position_slot *s = &pm->pos[pm->pos_idx.slots[i] - 1];
        if (s->hash == h && tb__strategy_eq(s->p.strategy_id, strategy_id) &&
            tb__sym_eq(s->p.symbol, symbol))
            return (int32_t)(pm->pos_idx.slots[i] - 1);
    }
    return -1;
}

static int32_t find_symbol(const tb_position_manager *pm, uint64_t h, const char *symbol)
{
    size_t mask = pm->sym_idx.cap - 1;
    for (size_t i = (size_t)h & mask; pm->sym_idx.slots[i]; i = (i + 1) & mask) {
        const symbol_slot *s = &pm->syms[pm->sym_idx.slots[i] - 1];
        if (s->hash == h && tb__sym_eq(s->symbol, symbol))
            return (int32_t)(pm->sym_idx.slots[i] - 1);
    }
    return -1;
}

/* symbol must already be validated (terminated, fits). */
static int intern_symbol(tb_position_manager *pm, const char *symbol, int32_t *out)
{
    uint64_t h = tb__hash_key(NULL, symbol);
    int32_t si = find_symbol(pm, h, symbol);
    if (si >= 0) {
        *out = si;
        return 0;
    }
    symbol_slot *ns = tb__reserve_one(pm->syms, &pm->syms_cap, pm->nsyms, sizeof(*ns));
    if (!ns) return TB_ENOMEM;
    pm->syms = ns;
    int rc = tb__index_reserve(&pm->sym_idx, pm->syms, sizeof(*pm->syms), pm->nsyms);
    if (rc) return rc;
    symbol_slot *s = &pm->syms[pm->nsyms];
    memset(s, 0, sizeof(*s));
    s->hash = h;
    memcpy(s->symbol, symbol, strlen(symbol) + 1);
    s->first_pos = -1;
    tb__index_put(&pm->sym_idx, h, pm->nsyms);
    *out = (int32_t)pm->nsyms++;
    return 0;
}

/* (mark − entry) × quantity, the sign of quantity carrying the direction. */
static int unrealized_of(tb_decimal mark, tb_decimal entry, tb_decimal quantity, tb_decimal *out)
{
    if (quantity == 0) {
        *out = 0;
        return 0;
    }
    tb_decimal diff;
    int rc = tb__dec_sub(mark, entry, &diff);
    if (rc) return rc;
    return tb__dec_mul_half_up(diff, quantity, out);
}

/* Weighted average of two positive prices, rounded once, half-up. Written as
 * lo + (hi − lo) × w_hi / total so the rounded part is never negative: then
 * half-up of the part is half-up of the whole, as if computed exactly. The
 * quantities' common scale cancels in w_hi / total, so their raw values serve
 * as the integer ratio. */
static int weighted_entry(tb_decimal p1, tb_decimal q1, tb_decimal p2, tb_decimal q2,
                          tb_decimal *out)
{
    tb_decimal total;
    int rc = tb_dec_add(q1, q2, &total);
    if (rc) return rc;
    tb_decimal lo = p1, hi = p2, w_hi = q2;
    if (p2 < p1) {
        lo = p2;
        hi = p1;
        w_hi = q1;
    }
    tb_decimal part;
    rc = tb_dec_muldiv_int(hi - lo, w_hi, total, TB_ROUND_HALF_UP, &part);
    if (rc) return rc;
    return tb_dec_add(lo, part, out);
}

/* What one fill does to one position, computed before anything is changed. */
typedef struct {
    int has_closed;            /* a flip: `closed` is the old position, ended */
    tb_position_update closed; /* position_id kept from the old one */
    tb_position_update cur;    /* position_id 0 means "assign a new one" */
    tb_decimal realized_total; /* the manager's total after the fill */
} fill_result;

static int apply_fill(const tb_position_manager *pm, const tb_position_update *old,
                      const tb_order_filled *f, tb_decimal mark, fill_result *r)
{
    tb_decimal q = f->filled_quantity, price = f->filled_price;
    tb_decimal delta = f->side == TB_SIDE_BUY ? q : -q;
    int rc;

    memset(r, 0, sizeof(*r));
    r->realized_total = pm->realized_total;
    r->cur.mark_price = mark;
    r->cur.status = TB_POSITION_OPEN;

    if (!old || old->status != TB_POSITION_OPEN || old->current_quantity == 0) {
        r->cur.current_quantity = delta;
        r->cur.entry_price = price;
        return unrealized_of(mark, price, delta, &r->cur.unrealized_pnl);
    }

    tb_decimal oq = old->current_quantity, aq = tb_dec_abs(oq);
    if ((oq > 0) == (delta > 0)) {
        r->cur = *old;
        r->cur.mark_price = mark;
        rc = tb_dec_add(oq, delta, &r->cur.current_quantity);
        if (!rc) rc = weighted_entry(old->entry_price, aq, price, q, &r->cur.entry_price);
        if (!rc)
            rc = unrealized_of(mark, r->cur.entry_price, r->cur.current_quantity,
                               &r->cur.unrealized_pnl);
        return rc;
    }

    /* Reducing: PnL on the part closed, sign(q) folded into the difference so
     * the product is rounded once. */
    tb_decimal closed_qty = q < aq ? q : aq, diff, pnl, realized;
    rc = oq > 0 ? tb_dec_sub(price, old->entry_price, &diff)
                : tb_dec_sub(old->entry_price, price, &diff);
    if (!rc) rc = tb_dec_mul(diff, closed_qty, TB_ROUND_HALF_UP, &pnl);
    if (!rc) rc = tb_dec_add(old->realized_pnl, pnl, &realized);
    if (!rc) rc = tb_dec_add(pm->realized_total, pnl, &r->realized_total);
    if (rc) return rc;

    if (q < aq) {
        r->cur = *old;
        r->cur.mark_price = mark;
        r->cur.current_quantity = oq + delta; /* |delta| < |oq|: cannot overflow */
        r->cur.realized_pnl = realized;
        return unrealized_of(mark, old->entry_price, r->cur.current_quantity,
                             &r->cur.unrealized_pnl);
    }

    tb_position_update *ended = q == aq ? &r->cur : &r->closed;
    *ended = *old;
    ended->current_quantity = 0;
    ended->entry_price = 0;
    ended->unrealized_pnl = 0;
    ended->realized_pnl = realized;
    ended->mark_price = mark;
    ended->status = TB_POSITION_CLOSED;
    if (q == aq) return 0;

    r->has_closed = 1;
    r->cur.current_quantity = oq + delta; /* opposite signs: cannot overflow */
    r->cur.entry_price = price;
    return unrealized_of(mark, price, r->cur.current_quantity, &r->cur.unrealized_pnl);
}

static void stage_update(tb_position_manager *pm, const tb_event *fill, const tb_position_update *p)
{
    tb_event *ev = &pm->pending[pm->npending++];
    tb_event_init(ev, TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    tb_event_caused_by(ev, fill);
    ev->timestamp = fill->timestamp;
    ev->u.position = *p;
}

static int flush_pending(tb_position_manager *pm)
{
    while (pm->pending_done < pm->npending) {
        int rc = tb_bus_publish(pm->bus, &pm->pending[pm->pending_done]);
        if (rc) return rc;
        pm->pending_done++;
    }
    return 0;
}

/* 0 if fills of (strategy_id, symbol) may open a position: nothing was
 * declared, or this pair was. Else TB_EINVAL with the reason. Only asked for a
 * pair without a position yet, so the scan is off the hot path. */
static int check_expected(tb_position_manager *pm, const char *strategy_id, const char *symbol)
{
    if (pm->nexpected == 0) return 0;
    int strategy_known = 0;
    for (size_t i = 0; i < pm->nexpected; i++) {
        if (strcmp(pm->expected[i].strategy_id, strategy_id) != 0) continue;
        if (strcmp(pm->expected[i].symbol, symbol) == 0) return 0;
        strategy_known = 1;
    }
    if (strategy_known)
        tb_bus_fail_reason(pm->bus,
                           "OrderFilled for strategy '%s' on symbol %s, which it does not trade",
                           strategy_id, symbol);
    else
        tb_bus_fail_reason(pm->bus, "OrderFilled for unknown strategy '%s'", strategy_id);
    return TB_EINVAL;
}

int tb_position_manager_expect(tb_position_manager *pm, const char *strategy_id, const char *symbol)
{
    if (!pm || !strategy_id || !symbol) return TB_EINVAL;
    size_t ns = strlen(strategy_id), ny = strlen(symbol);
    if (ns == 0 || ns >= TB_STRATEGY_LEN || ny == 0 || ny >= TB_SYMBOL_LEN) return TB_EINVAL;
    for (size_t i = 0; i < pm->nexpected; i++)
        if (strcmp(pm->expected[i].strategy_id, strategy_id) == 0 &&
            strcmp(pm->expected[i].symbol, symbol) == 0)
            return 0;
    if (pm->nexpected == pm->expected_cap) {
        size_t nc = pm->expected_cap ? pm->expected_cap * 2 : 8;
        expected_pair *ne = realloc(pm->expected, nc * sizeof(*ne));
        if (!ne) return TB_ENOMEM;
        pm->expected = ne;
        pm->expected_cap = nc;
    }
    expected_pair *e = &pm->expected[pm->nexpected++];
    memset(e, 0, sizeof(*e));
    memcpy(e->strategy_id, strategy_id, ns + 1);
    memcpy(e->symbol, symbol, ny + 1);
    return 0;
}

int tb_position_manager_handle_order_filled_event(tb_position_manager *pm, const tb_event *fill)
{
    if (!pm || !fill) return TB_EINVAL;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(pm->bus, fill, TB_EV_ORDER_FILLED, why, sizeof(why));
    if (rc) return tb__refuse(pm->bus, rc, why);
    const tb_order_filled *f = &fill->u.order_filled;
    if (fill->event_id == pm->last_fill_id) return flush_pending(pm);

    uint64_t h = tb__hash_key(f->strategy_id, f->symbol);
    int32_t pi = find_position(pm, h, f->strategy_id, f->symbol);
    if (pi >= 0 && fill->timestamp < pm->pos[pi].last_fill_time) {
        tb_bus_fail_reason(pm->bus,
                           "OrderFilled %s/%s timestamp %lld is before the previous fill's %lld",
                           f->strategy_id, f->symbol, (long long)fill->timestamp,
                           (long long)pm->pos[pi].last_fill_time);
        return TB_ESTATE;
    }
    if (pi < 0 && (rc = check_expected(pm, f->strategy_id, f->symbol)) != 0) return rc;
    int32_t si =
        pi >= 0 ? pm->pos[pi].sym : find_symbol(pm, tb__hash_key(NULL, f->symbol), f->symbol);
    tb_decimal mark = (si >= 0 && pm->syms[si].has_close) ? pm->syms[si].close : f->filled_price;

    fill_result r;
    rc = apply_fill(pm, pi >= 0 ? &pm->pos[pi].p : NULL, f, mark, &r);
    if (rc) return rc;

    if (pi < 0) {
        rc = intern_symbol(pm, f->symbol, &si);
        if (rc) return rc;
        position_slot *np = tb__reserve_one(pm->pos, &pm->pos_cap, pm->npos, sizeof(*np));
        if (!np) return TB_ENOMEM;
        pm->pos = np;
        rc = tb__index_reserve(&pm->pos_idx, pm->pos, sizeof(*pm->pos), pm->npos);
        if (rc) return rc;
        position_slot *s = &pm->pos[pm->npos];
        memset(s, 0, sizeof(*s));
        s->hash = h;
        s->sym = si;
        s->next_in_sym = pm->syms[si].first_pos;
        pm->syms[si].first_pos = (int32_t)pm->npos;
        tb__index_put(&pm->pos_idx, h, pm->npos);
        pi = (int32_t)pm->npos++;
    }

    /* Committed from here on. */
    position_slot *s = &pm->pos[pi];
    pm->npending = pm->pending_done = 0;
    pm->last_fill_id = fill->event_id;
    pm->realized_total = r.realized_total;
    s->last_fill_time = fill->timestamp;
    if (r.has_closed) stage_update(pm, fill, &r.closed);
    if (r.cur.position_id == 0) r.cur.position_id = ++pm->next_position_id;
    memcpy(r.cur.strategy_id, f->strategy_id, sizeof(r.cur.strategy_id));
    memcpy(r.cur.symbol, f->symbol, sizeof(r.cur.symbol));
    s->p = r.cur;
    stage_update(pm, fill, &s->p);
    return flush_pending(pm);
}

int tb_position_manager_update_position(tb_position_manager *pm, uint64_t position_id,
                                        const tb_position_update *updates)
{
    if (!pm || !updates) return TB_EINVAL;
    position_slot *s = NULL;
    for (size_t i = 0; i < pm->npos && !s; i++)
        if (pm->pos[i].p.position_id == position_id) s = &pm->pos[i];
    if (!s || position_id == 0) return TB_ENOTFOUND;

    /* The fill logic relies on "open ⇔ non-zero quantity". */
    const tb_position_update *u = updates;
    if (u->status == TB_POSITION_OPEN ? u->current_quantity == 0
                                      : u->status != TB_POSITION_CLOSED || u->current_quantity != 0)
        return TB_EINVAL;
    if (u->entry_price < 0 || u->mark_price < 0) return TB_EINVAL;

    tb_decimal unrealized, total;
    int rc = unrealized_of(u->mark_price, u->entry_price, u->current_quantity, &unrealized);
    if (!rc) rc = tb_dec_sub(pm->realized_total, s->p.realized_pnl, &total);
    if (!rc) rc = tb_dec_add(total, u->realized_pnl, &total);
    if (rc) return rc;

    pm->realized_total = total;
    s->p.current_quantity = u->current_quantity;
    s->p.entry_price = u->entry_price;
    s->p.realized_pnl = u->realized_pnl;
    s->p.mark_price = u->mark_price;
    s->p.status = u->status;
    s->p.unrealized_pnl = unrealized;
    return 0;
}

int tb_position_manager_publish_position_event(tb_position_manager *pm, tb_event *ev)
{
    if (!pm || !ev || ev->type != TB_EV_POSITION_UPDATE) return TB_EINVAL;
    return tb_bus_publish(pm->bus, ev);
}

/* Marks at a validated bar; bar_id 0 when the caller has no event. */
TB__HOT static int mark_bar(tb_position_manager *pm, const tb_market_data *md, uint64_t bar_id)
{
    int32_t si = pm->last_sym < pm->nsyms && tb__sym_eq(pm->syms[pm->last_sym].symbol, md->symbol)
                     ? (int32_t)pm->last_sym
                     : find_symbol(pm, tb__hash_key(NULL, md->symbol), md->symbol);
    if (si >= 0 && pm->syms[si].has_close && (bar_id == 0 || bar_id != pm->syms[si].last_bar_id)) {
        int64_t last = pm->syms[si].last_close_time;
        if (md->close_time < last) {
            tb_bus_fail_reason(pm->bus,
                               "MarketData %s close_time %lld is before the previous bar's %lld",
                               md->symbol, (long long)md->close_time, (long long)last);
            return TB_EDATA;
        }
        if (md->close_time == last) {
            tb_bus_fail_reason(pm->bus, "MarketData %s close_time %lld repeats the previous bar's",
                               md->symbol, (long long)md->close_time);
            return TB_EDATA;
        }
    }
    int rc = si >= 0 ? 0 : intern_symbol(pm, md->symbol, &si);
    if (rc) return rc;
    pm->last_sym = (size_t)si;
    pm->syms[si].close = md->close;
    pm->syms[si].has_close = 1;
    pm->syms[si].last_close_time = md->close_time;
    pm->syms[si].last_bar_id = bar_id;

    /* A position whose PnL would overflow keeps its previous mark; the others
     * are still marked, so a retry of the bar is harmless. */
    for (int32_t i = pm->syms[si].first_pos; i >= 0; i = pm->pos[i].next_in_sym) {
        tb_position_update *p = &pm->pos[i].p;
        tb_decimal u;
        int r = unrealized_of(md->close, p->entry_price, p->current_quantity, &u);
        if (r) {
            rc = r;
            continue;
        }
        p->unrealized_pnl = u;
        p->mark_price = md->close;
    }
    return rc;
}

int tb_position_manager_mark(tb_position_manager *pm, const tb_market_data *md)
{
    if (!pm || !md) return TB_EINVAL;
    char why[TB__WHY_LEN];
    int rc = tb__check_market_data(md, why, sizeof(why));
    if (rc) return tb__refuse(pm->bus, rc, why);
    return mark_bar(pm, md, 0);
}

size_t tb_position_manager_count(const tb_position_manager *pm)
{
    return pm ? pm->npos : 0;
}

int tb_position_manager_get(const tb_position_manager *pm, size_t i, tb_position_update *out)
{
    if (!pm || !out) return TB_EINVAL;
    if (i >= pm->npos) return TB_ENOTFOUND;
    *out = pm->pos[i].p;
    return 0;
}

int tb_position_manager_find(const tb_position_manager *pm, const char *strategy_id,
                             const char *symbol, tb_position_update *out)
{
    if (!pm || !strategy_id || !symbol || !out) return TB_EINVAL;
    /* The look-up reads whole words of its arguments: C strings of any
     * length go through arrays of the fields' size. */
    char sid[TB_STRATEGY_LEN], sym[TB_SYMBOL_LEN];
    if (tb__fix_copy(sid, sizeof(sid), strategy_id) != 0 || tb__sym_field(sym, symbol) != 0)
        return TB_ENOTFOUND;
    int32_t i = find_position(pm, tb__hash_key(sid, sym), sid, sym);
    if (i < 0) return TB_ENOTFOUND;
    *out = pm->pos[i].p;
    return 0;
}

tb_decimal tb_position_manager_realized(const tb_position_manager *pm)
{
    return pm ? pm->realized_total : 0;
}

/* Saturates rather than fails: the signature has no error channel, and a
 * total beyond ±92 billion is a report, not accounting. */
tb_decimal tb_position_manager_unrealized(const tb_position_manager *pm)
{
    tb_decimal sum = 0;
    if (!pm) return 0;
    for (size_t i = 0; i < pm->npos; i++) {
        tb_decimal u = pm->pos[i].p.unrealized_pnl;
        if (tb_dec_add(sum, u, &sum)) return u > 0 ? TB_DECIMAL_MAX : TB_DECIMAL_MIN;
    }
    return sum;
}

static int on_fill(const tb_event *ev, void *ctx)
{
    return tb_position_manager_handle_order_filled_event(ctx, ev);
}

TB__HOT static int on_market_data(const tb_event *ev, void *ctx)
{
    tb_position_manager *pm = ctx;
    char why[TB__WHY_LEN];
    int rc = tb__check_delivered(pm->bus, ev, TB_EV_MARKET_DATA, why, sizeof(why));
    if (rc) return tb__refuse(pm->bus, rc, why);
    return mark_bar(pm, &ev->u.market_data, ev->event_id);
}

int tb_position_manager_create(tb_bus *bus, tb_position_manager **out)
{
    if (!bus || !out) return TB_EINVAL;
    tb_position_manager *pm = calloc(1, sizeof(*pm));
    if (!pm) return TB_ENOMEM;
    pm->bus = bus;
    pm->sub_fill = pm->sub_md = -1;
    pm->pos_cap = INITIAL_POSITIONS;
    pm->syms_cap = INITIAL_SYMBOLS;
    pm->pos = malloc(pm->pos_cap * sizeof(*pm->pos));
    pm->syms = malloc(pm->syms_cap * sizeof(*pm->syms));
    int rc = (pm->pos && pm->syms) ? 0 : TB_ENOMEM;
    if (!rc) rc = tb__index_init(&pm->pos_idx, INITIAL_POSITIONS * 2);
    if (!rc) rc = tb__index_init(&pm->sym_idx, INITIAL_SYMBOLS * 2);
    if (!rc) {
        rc = tb_bus_subscribe_named(bus, TB_EV_ORDER_FILLED, on_fill, pm,
                                    tb_source_name(TB_SRC_POSITIONS));
        if (rc >= 0) pm->sub_fill = rc;
    }
    if (rc >= 0) {
        rc = tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, on_market_data, pm,
                                    tb_source_name(TB_SRC_POSITIONS));
        if (rc >= 0) pm->sub_md = rc;
    }
    if (rc < 0) {
        tb_position_manager_destroy(pm);
        return rc;
    }
    *out = pm;
    return 0;
}

void tb_position_manager_destroy(tb_position_manager *pm)
{
    if (!pm) return;
    if (pm->sub_fill >= 0) tb_bus_unsubscribe(pm->bus, pm->sub_fill);
    if (pm->sub_md >= 0) tb_bus_unsubscribe(pm->bus, pm->sub_md);
    tb__index_close(&pm->pos_idx);
    tb__index_close(&pm->sym_idx);
    free(pm->pos);
    free(pm->syms);
    free(pm->expected);
    free(pm);
}
