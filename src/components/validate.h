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
 * check is plain comparisons and a memchr per string. */
#ifndef TRADEBUS_VALIDATE_H
#define TRADEBUS_VALIDATE_H

#include <stddef.h>

#include "tradebus/bus.h"

/* Room for any reason: the bus keeps TB_TEXT_LEN - 1 characters of it. */
#define TB__WHY_LEN TB_TEXT_LEN

/* Checks ev's envelope and payload. want is the type the caller handles
 * (TB_BUS_ALL: any type). */
int tb__check_event(const tb_event *ev, tb_event_type want, char *why, size_t len);
/* The payload checks alone, for APIs that take a payload. */
int tb__check_market_data(const tb_market_data *md, char *why, size_t len);
int tb__check_position(const tb_position_update *u, char *why, size_t len);

/* 1 if s is non-empty and NUL-terminated within cap bytes. */
int tb__str_ok(const char *s, size_t cap);

/* Hands why to the bus as the dead letter's reason and returns rc. */
int tb__refuse(tb_bus *bus, int rc, const char *why);

#endif
