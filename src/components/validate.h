/* Private (not installed): the checks every component makes on what it
 * receives (issue 4, "validation at every boundary").
 *
 * Two layers. This file is the first: what makes an event well-formed on its
 * own, whoever receives it — the wire codec's rules (strings terminated within
 * their arrays, enums known, ids present, signs of decimals) plus the
 * relations a sane event keeps (high >= low, open and close within them,
 * close_time >= open_time, cumulative >= this execution, OPEN <=> non-zero
 * quantity). The second layer is each component's own: known strategy and
 * symbol, time order per key, legal order-state transitions; it lives with
 * the state it needs.
 *
 * A failed check returns a permanent error (TB_EDATA for market data,
 * TB_EINVAL for everything else) and writes why[] — "OrderFilled.
 * filled_quantity -1 is not positive" — naming the event type, the field and
 * the value. Nothing is formatted unless a check fails: on the hot path a
 * check is plain comparisons (a string's last byte is tested before any
 * search for its NUL), and a MarketData event is checked inline. */
#ifndef TRADEBUS_VALIDATE_H
#define TRADEBUS_VALIDATE_H

#include <stddef.h>

#include "../core/bus_int.h"
#include "tradebus/bus.h"

/* Room for any reason: the bus keeps TB_TEXT_LEN - 1 characters of it. */
#define TB__WHY_LEN TB_TEXT_LEN

/* The full check of ev's envelope and payload, writing the reason. */
int tb__check_event_full(const tb_event *ev, tb_event_type want, char *why, size_t len);

/* 1 if md is certainly a well-formed MarketData event. Every bar passes
 * through four components, so the common case is one inline run of
 * comparisons: low > 0 with high >= low and open, close within [low, high]
 * says all four prices are positive. Anything else takes the full check,
 * which finds the first offence in the documented order (or accepts what
 * this shortcut only doubted, e.g. a symbol filling its array to the NUL). */
static inline int tb__market_data_ok(const tb_event *ev)
{
    const tb_market_data *md = &ev->u.market_data;
    return ev->version == TB_EVENT_VERSION && (unsigned)ev->source < (unsigned)TB_SRC_COUNT &&
           ev->event_id != 0 && ev->timestamp >= 0 && md->symbol[0] != '\0' &&
           md->symbol[TB_SYMBOL_LEN - 1] == '\0' && md->low > 0 && md->high >= md->low &&
           md->open >= md->low && md->open <= md->high && md->close >= md->low &&
           md->close <= md->high && md->volume >= 0 && md->open_time >= 0 &&
           md->close_time >= md->open_time;
}

/* Checks ev's envelope and payload. want is the type the caller handles
 * (TB_BUS_ALL: any type). */
static inline int tb__check_event(const tb_event *ev, tb_event_type want, char *why, size_t len)
{
    if (ev->type == TB_EV_MARKET_DATA && (want == TB_EV_MARKET_DATA || want == TB_BUS_ALL) &&
        tb__market_data_ok(ev))
        return 0;
    return tb__check_event_full(ev, want, why, len);
}

/* tb__check_event for a handler bus delivers ev to: the check is made
 * once per dispatch, by the first handler that asks, and the others take
 * its answer (bus_int.h says why that is safe). A failure is not
 * remembered: each handler that gets a bad event refuses it itself. */
static inline int tb__check_delivered(tb_bus *bus, const tb_event *ev, tb_event_type want,
                                      char *why, size_t len)
{
    if ((want == ev->type || want == TB_BUS_ALL) && tb__bus_form_checked(bus, ev)) return 0;
    int rc = tb__check_event(ev, want, why, len);
    if (!rc) tb__bus_set_form_checked(bus, ev);
    return rc;
}

/* The payload checks alone, for APIs that take a payload. */
int tb__check_market_data(const tb_market_data *md, char *why, size_t len);
int tb__check_position(const tb_position_update *u, char *why, size_t len);

/* 1 if the array s[cap] (an event's field: all cap bytes readable) holds a
 * non-empty NUL-terminated string. Not for a C string of unknown size. */
int tb__str_ok(const char *s, size_t cap);

/* Hands why to the bus as the dead letter's reason and returns rc. */
int tb__refuse(tb_bus *bus, int rc, const char *why);

#endif
