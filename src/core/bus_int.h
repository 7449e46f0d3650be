/* Private (not installed): what the components ask the bus about the event
 * it is delivering to them. */
#ifndef TRADEBUS_BUS_INT_H
#define TRADEBUS_BUS_INT_H

#include "tradebus/bus.h"

/* The start of struct tb_bus (bus.c), read here inline: a bar reaches five
 * handlers, and a call each to ask would cost most of what it saves. */
typedef struct {
    const tb_event *cur_ev; /* the event being delivered, NULL outside a dispatch */
    int cur_ev_ok;          /* a handler found cur_ev well-formed */
} tb__bus_head;

/* 1 if ev is the event bus is delivering right now and a handler before
 * this one marked it well-formed (tb__bus_set_form_checked); 0 otherwise,
 * including for any other event, however alike. Every component checks what
 * it receives: the form check depends on the event's bytes alone, which stay
 * as they are for the whole dispatch (handlers get them const; the bus moves
 * no event under dispatch), so one pass answers for all the handlers. */
static inline int tb__bus_form_checked(const tb_bus *bus, const tb_event *ev)
{
    const tb__bus_head *h = (const tb__bus_head *)(const void *)bus;
    return h && ev == h->cur_ev && h->cur_ev_ok;
}

/* Records that ev passed the form check, if it is the event being
 * delivered; does nothing for any other (a handler's own copy, an event it
 * builds). Forgotten when that event's dispatch ends. */
static inline void tb__bus_set_form_checked(tb_bus *bus, const tb_event *ev)
{
    tb__bus_head *h = (tb__bus_head *)(void *)bus;
    if (h && ev == h->cur_ev) h->cur_ev_ok = 1;
}

#endif
