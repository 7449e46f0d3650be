/* Private (not installed): the components' table (TB_COMPONENT_MAP,
 * tradebus/event.h) as the pipeline and the distributed node read it. */
#ifndef TRADEBUS_EVENT_INT_H
#define TRADEBUS_EVENT_INT_H

#include "tradebus/event.h"

/* TB__SLOT_<ID>: a component's or hosted subscriber's publisher slot. */
enum {
#define TB__SLOT_C(id, value, name, slot, process) TB__SLOT_##id = slot,
#define TB__SLOT_H(id, name, slot, process)        TB__SLOT_##id = slot,
#define TB__SLOT_NONE(...)
    TB_COMPONENT_MAP(TB__SLOT_NONE, TB__SLOT_C, TB__SLOT_H)
#undef TB__SLOT_C
#undef TB__SLOT_H
#undef TB__SLOT_NONE
};

/* The subscribers that publish — components and hosted subscribers — by
 * name, in slot order, NULL-terminated (tb_bus_config.publishers). Static. */
const char *const *tb__component_publishers(void);
/* The process (1-based, as in the table) hosting the subscriber called
 * name; 0 if no row has that name. */
int tb__component_process_of(const char *name);

#endif
