/* Private (not installed): what the config's source files share. */
#ifndef TRADEBUS_CONFIG_INT_H
#define TRADEBUS_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tradebus/config.h"

struct tb_config_entry {
    uint64_t hash; /* of (section, key), first: tb__index rebuilds from it */
    char *section, *key, *value;
    char origin[128];
    int used;
};

/* One [component.NAME] entry (config_components.c). 0 or TB_ECONFIG with
 * "origin: [section] key: why" in err, TB_ENOMEM. */
int tb__config_component_entry(tb_config *cfg, const tb_config_entry *e, char *err, size_t errlen);
/* Once every entry is read: each component's command present, its types
 * defaulted from what it replaces, and the run's event graph checked. */
int tb__config_check_components(tb_config *cfg, char *err, size_t errlen);

#endif
