/* Private (not installed): what the config's source files share. */
#ifndef TRADEBUS_CONFIG_INT_H
#define TRADEBUS_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/errbuf.h"
#include "tradebus/config.h"

struct tb_config_entry {
    uint64_t hash; /* of (section, key), first: tb__index rebuilds from it */
    char *section, *key, *value;
    char origin[128];
    int used;
};

/* Fails the calling reader (which has err and errlen in scope and returns
 * int) with TB_ECONFIG and "origin: [section] key: why", why formatted
 * from the rest: one definition, so that every config error names its
 * entry in the same words, whichever file reads the entry. */
#define FAIL(e, ...)                                                                               \
    do {                                                                                           \
        char msg_[400];                                                                            \
        snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                                 \
        tb__errf(err, errlen, "%s: [%s] %s: %s", (e)->origin, (e)->section, (e)->key, msg_);       \
        return TB_ECONFIG;                                                                         \
    } while (0)

/* One [component.NAME] entry (config_components.c). 0 or TB_ECONFIG with
 * "origin: [section] key: why" in err, TB_ENOMEM. */
int tb__config_component_entry(tb_config *cfg, const tb_config_entry *e, char *err, size_t errlen);
/* Once every entry is read: each component's command present, its types
 * defaulted from what it replaces, and the run's event graph checked. */
int tb__config_check_components(tb_config *cfg, char *err, size_t errlen);

#endif
