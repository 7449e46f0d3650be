/* [component.NAME]: programs as components (tradebus/external.h), and the
 * check that the run they make still holds together: every event a
 * component needs has one producer, and what a replaced built-in handled
 * is still handled. A wiring mistake is a config error naming the event
 * and the fix, not a run where orders silently go nowhere. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/errbuf.h"
#include "config_int.h"
#include "tradebus/backtest.h"

#define B(t) (1u << (t))

/* What each built-in is given and publishes (their tb_bus_subscribe calls
 * and tb_event_init sources). The monitor observes everything and handles
 * nothing; it cannot be replaced, nor can risk, which the Order Manager's
 * pre-trade checks use. */
static const struct {
    unsigned role;
    const char *name;
    unsigned subs, pubs;
    int replaceable;
} builtins[] = {
    {TB_ROLE_SIGNAL, "signal",
     B(TB_EV_MARKET_DATA) | B(TB_EV_ORDER_CREATED) | B(TB_EV_ORDER_REJECTED) |
         B(TB_EV_ORDER_CANCELED) | B(TB_EV_ORDER_FILLED),
     B(TB_EV_SIGNAL_GENERATED) | B(TB_EV_RISK_ALERT), 1},
    {TB_ROLE_ORDERS, "orders", B(TB_EV_MARKET_DATA) | B(TB_EV_SIGNAL_GENERATED),
     B(TB_EV_ORDER_PLACEMENT_REQUEST) | B(TB_EV_ORDER_CREATED) | B(TB_EV_ORDER_FILLED) |
         B(TB_EV_ORDER_REJECTED) | B(TB_EV_ORDER_CANCELED) | B(TB_EV_RISK_ALERT),
     1},
    {TB_ROLE_POSITIONS, "positions", B(TB_EV_ORDER_FILLED) | B(TB_EV_MARKET_DATA),
     B(TB_EV_POSITION_UPDATE), 1},
    {TB_ROLE_RISK, "risk",
     B(TB_EV_MARKET_DATA) | B(TB_EV_ORDER_CREATED) | B(TB_EV_ORDER_FILLED) |
         B(TB_EV_ORDER_REJECTED) | B(TB_EV_ORDER_CANCELED) | B(TB_EV_POSITION_UPDATE),
     B(TB_EV_RISK_ALERT), 0},
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static tb_component_config *component_for(tb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ncomponents; i++)
        if (strcmp(cfg->components[i].name, name) == 0) return &cfg->components[i];
    tb_component_config *nc = realloc(cfg->components, (cfg->ncomponents + 1) * sizeof(*nc));
    if (!nc) return NULL;
    cfg->components = nc;
    tb_component_config *c = &nc[cfg->ncomponents++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->timeout_ms = 10000;
    c->max_line_bytes = 65536;
    c->max_reply_events = 10000;
    c->window = 1;
    return c;
}

/* Event type names separated by blanks or commas, as bits. */
static int type_list(const tb_config_entry *e, unsigned *out, char *err, size_t errlen)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", e->value);
    *out = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t,", &save); t;
         t = strtok_r(NULL, " \t,", &save)) {
        tb_event_type ty;
        if (tb_event_type_parse(t, &ty) != 0)
            FAIL(e,
                 "unknown event type '%s' (known: MarketData, SignalGenerated, "
                 "OrderPlacementRequest, OrderCreated, OrderFilled, OrderRejected, OrderCanceled, "
                 "PositionUpdate, RiskAlert)",
                 t);
        *out |= B(ty);
    }
    return 0;
}

static int get_long(const tb_config_entry *e, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    long v = strtol(e->value, &end, 10);
    if (end == e->value || *end || v < lo || v > hi)
        FAIL(e, "'%s' is not an integer in [%ld, %ld]", e->value, lo, hi);
    *out = v;
    return 0;
}

int tb__config_component_entry(tb_config *cfg, const tb_config_entry *e, char *err, size_t errlen)
{
    const char *name = e->section + 10, *k = e->key;
    size_t n = strlen(name);
    int ok = n > 0 && n < sizeof(((tb_component_config *)0)->name);
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-';
    if (!ok) FAIL(e, "component name '%s' must be 1-19 letters, digits, '_' or '-'", name);
    for (size_t i = 0; i < NBUILTINS; i++)
        if (strcmp(name, builtins[i].name) == 0 || strcmp(name, "monitor") == 0 ||
            strcmp(name, "summary") == 0 || strcmp(name, "feed") == 0)
            FAIL(e, "'%s' is a built-in component's name: give the program another", name);
    tb_component_config *c = component_for(cfg, name);
    if (!c) return TB_ENOMEM;
    if (strcmp(k, "command") == 0) {
        if (!e->value[0]) FAIL(e, "empty: the program to run, e.g. python3 bot.py");
        free(c->command);
        if (!(c->command = strdup(e->value))) return TB_ENOMEM;
        return 0;
    }
    if (strcmp(k, "subscribes") == 0) return type_list(e, &c->subscribes, err, errlen);
    if (strcmp(k, "publishes") == 0) {
        int rc = type_list(e, &c->publishes, err, errlen);
        if (!rc && (c->publishes & B(TB_EV_MARKET_DATA)))
            FAIL(e, "MarketData comes from the data feed; a component cannot publish it");
        return rc;
    }
    if (strcmp(k, "replaces") == 0) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", e->value);
        c->replaces = 0;
        for (char *save = NULL, *t = strtok_r(buf, " \t,", &save); t;
             t = strtok_r(NULL, " \t,", &save)) {
            size_t i = 0;
            while (i < NBUILTINS && strcmp(builtins[i].name, t) != 0)
                i++;
            if (i == NBUILTINS || !builtins[i].replaceable)
                FAIL(e, "'%s' cannot be replaced (replaceable: signal, orders, positions)", t);
            c->replaces |= builtins[i].role;
        }
        return 0;
    }
    if (strcmp(k, "on_bad_event") == 0) {
        if (strcasecmp(e->value, "dead_letter") == 0)
            c->stop_on_bad_event = 0;
        else if (strcasecmp(e->value, "stop") == 0)
            c->stop_on_bad_event = 1;
        else
            FAIL(e, "'%s' must be dead_letter or stop", e->value);
        return 0;
    }
    if (strcmp(k, "timeout_ms") == 0) return get_long(e, 1, 3600000, &c->timeout_ms, err, errlen);
    if (strcmp(k, "max_line_bytes") == 0)
        return get_long(e, 1024, 64L << 20, &c->max_line_bytes, err, errlen);
    if (strcmp(k, "max_reply_events") == 0)
        return get_long(e, 1, 10000000, &c->max_reply_events, err, errlen);
    if (strcmp(k, "window") == 0) return get_long(e, 1, 4096, &c->window, err, errlen);
    FAIL(e, "unknown key (known: command, subscribes, publishes, replaces, on_bad_event, "
            "timeout_ms, max_line_bytes, max_reply_events, window)");
}

/* "signal, risk, component legacy" into buf: who of the run (built-ins not
 * replaced, then components) has type t among subs (which = 0) or pubs. */
static int who(const tb_config *cfg, tb_event_type t, int pubs, char *buf, size_t len)
{
    int n = 0;
    buf[0] = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        size_t l_ = strlen(buf);                                                                   \
        snprintf(buf + l_, len - l_, "%s", n++ ? ", " : "");                                       \
        l_ = strlen(buf);                                                                          \
        snprintf(buf + l_, len - l_, __VA_ARGS__);                                                 \
    } while (0)
    if (pubs && t == TB_EV_MARKET_DATA) ADD("the data feed");
    for (size_t i = 0; i < NBUILTINS; i++)
        if (!(cfg->replaced & builtins[i].role) &&
            ((pubs ? builtins[i].pubs : builtins[i].subs) & B(t)))
            ADD("%s", builtins[i].name);
    for (size_t i = 0; i < cfg->ncomponents; i++)
        if ((pubs ? cfg->components[i].publishes : cfg->components[i].subscribes) & B(t))
            ADD("component %s", cfg->components[i].name);
#undef ADD
    return n;
}

int tb__config_check_components(tb_config *cfg, char *err, size_t errlen)
{
    cfg->replaced = 0;
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        tb_component_config *c = &cfg->components[i];
        if (!c->command) {
            tb__errf(err, errlen,
                     "[component.%s] command: missing (the program to run, e.g. command = "
                     "python3 bot.py)",
                     c->name);
            return TB_ECONFIG;
        }
        if (cfg->replaced & c->replaces) {
            tb__errf(err, errlen,
                     "[component.%s] replaces: another component already replaces one of them",
                     c->name);
            return TB_ECONFIG;
        }
        cfg->replaced |= c->replaces;
    }
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        tb_component_config *c = &cfg->components[i];
        char section[40];
        snprintf(section, sizeof(section), "component.%s", c->name);
        unsigned subs = 0, pubs = 0;
        for (size_t b = 0; b < NBUILTINS; b++)
            if (c->replaces & builtins[b].role) {
                subs |= builtins[b].subs;
                pubs |= builtins[b].pubs;
            }
        /* Unsaid, a program is given and publishes what it stands in for. */
        if (!tb_config_value(cfg, section, "subscribes", NULL)) c->subscribes = subs;
        if (!tb_config_value(cfg, section, "publishes", NULL))
            c->publishes = pubs & ~B(TB_EV_MARKET_DATA);
        if (!c->subscribes) {
            tb__errf(err, errlen,
                     "[component.%s] subscribes: no event type: the program would never be "
                     "given anything (e.g. subscribes = MarketData)",
                     c->name);
            return TB_ECONFIG;
        }
    }
    char prod[256], cons[256];
    for (int t = 1; t < TB_EV_COUNT; t++) {
        const char *tn = tb_event_type_name((tb_event_type)t);
        int np = who(cfg, (tb_event_type)t, 1, prod, sizeof(prod));
        int nc = who(cfg, (tb_event_type)t, 0, cons, sizeof(cons));
        /* The component to name: one that publishes t, else one that
         * replaces a built-in which published (or handled) t, else one
         * that is given t. */
        const char *name = NULL;
        for (size_t i = 0; !name && i < cfg->ncomponents; i++)
            if (cfg->components[i].publishes & B(t)) name = cfg->components[i].name;
        for (size_t i = 0; !name && i < cfg->ncomponents; i++)
            for (size_t b = 0; b < NBUILTINS; b++)
                if ((cfg->components[i].replaces & builtins[b].role) &&
                    ((builtins[b].pubs | builtins[b].subs) & B(t)))
                    name = cfg->components[i].name;
        for (size_t i = 0; !name && i < cfg->ncomponents; i++)
            if (cfg->components[i].subscribes & B(t)) name = cfg->components[i].name;
        /* Alerts come from anywhere; every other event has one owner. */
        if (!name) name = "?";
        if (np > 1 && t != TB_EV_RISK_ALERT) {
            tb__errf(err, errlen,
                     "[component.%s] publishes: %s would have %d producers (%s): replace the "
                     "built-in (replaces = ...) or leave %s out of publishes",
                     name, tn, np, prod, tn);
            return TB_ECONFIG;
        }
        if (np == 0 && nc > 0) {
            tb__errf(err, errlen,
                     "[component.%s] publishes: %s is needed by %s but nothing in this run "
                     "publishes it: add %s to publishes",
                     name, tn, cons, tn);
            return TB_ECONFIG;
        }
        int handled_before = 0;
        for (size_t b = 0; b < NBUILTINS; b++)
            if ((cfg->replaced & builtins[b].role) && (builtins[b].subs & B(t))) handled_before = 1;
        if (handled_before && np > 0 && nc == 0) {
            tb__errf(err, errlen,
                     "[component.%s] subscribes: %s is published by %s but nothing handles it "
                     "once its handler is replaced: add %s to subscribes",
                     name, tn, prod, tn);
            return TB_ECONFIG;
        }
    }
    return 0;
}
