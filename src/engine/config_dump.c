/* tb_config_dump: a built config's effective values, key by key, as the INI
 * names them, each beside its default (tradebus config check). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tradebus/backtest.h"
#include "tradebus/config.h"
#include "tradebus/live.h"
#include "tradebus/lua_legacy.h"
#include "tradebus/lua_strategy.h"
#include "tradebus/orders.h"
#include "tradebus/resample.h"

#define NS_PER_MS 1000000

/* "key = value" padded to a column, then the default: "(default)" when the
 * value is the default, else "(default D)". */
static int line(FILE *out, const char *key, const char *value, const char *def)
{
    char kv[1024]; /* a key and a value of up to 512 bytes (buf) */
    snprintf(kv, sizeof(kv), "%s = %s", key, value);
    int same = strcmp(value, def) == 0;
    return fprintf(out, "  %-36s (default%s%s)\n", kv, same ? "" : " ", same ? "" : def) < 0;
}

static int dec_line(FILE *out, const char *key, tb_decimal v, tb_decimal def)
{
    char a[TB_DECIMAL_STRLEN], b[TB_DECIMAL_STRLEN];
    tb_dec_format(v, a, sizeof(a));
    tb_dec_format(def, b, sizeof(b));
    return line(out, key, a, b);
}

static int int_line(FILE *out, const char *key, long long v, long long def)
{
    char a[32], b[32];
    snprintf(a, sizeof(a), "%lld", v);
    snprintf(b, sizeof(b), "%lld", def);
    return line(out, key, a, b);
}

static int str_line(FILE *out, const char *key, const char *v, const char *def)
{
    return line(out, key, v ? v : def, def);
}

static const char *bool_name(int b)
{
    return b ? "true" : "false";
}

/* The transport type's own keys: each as the type shows it (a password
 * masked), else its default. */
static int transport_lines(FILE *out, const tb_config *cfg)
{
    const tb_transport_type *tt = cfg->transport;
    int bad = 0;
    for (const tb_transport_key *k = tt ? tt->keys : NULL; k && k->name; k++) {
        const char *v = NULL;
        for (size_t i = 0; i < cfg->nbus_params; i++)
            if (strcmp(cfg->bus_params[i].key, k->name) == 0) v = cfg->bus_params[i].value;
        char shown[256] = "", msg[64];
        if (v && tt->check_key)
            tt->check_key(tt, k->name, v, shown, sizeof(shown), msg, sizeof(msg));
        bad |= str_line(out, k->name, shown[0] ? shown : v, k->def ? k->def : "");
    }
    return bad;
}

/* A value of an exchange key in the form the config's own keys are shown
 * in: numbers normalised ("7.50" -> 7.5), booleans as true/false, enum
 * values as the table spells them; text as written. */
static void key_value(const tb_exchange_key *k, const char *v, char *out, size_t outlen)
{
    tb_decimal d;
    long long ll;
    char *end;
    snprintf(out, outlen, "%s", v);
    switch (k->kind) {
    case TB_XKEY_DECIMAL:
        if (tb_dec_parse(v, (size_t)-1, &d) == 0) tb_dec_format(d, out, outlen);
        break;
    case TB_XKEY_INT:
        ll = strtoll(v, &end, 10);
        if (end != v && !*end) snprintf(out, outlen, "%lld", ll);
        break;
    case TB_XKEY_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
            !strcmp(v, "1"))
            snprintf(out, outlen, "true");
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
                 !strcmp(v, "0"))
            snprintf(out, outlen, "false");
        break;
    case TB_XKEY_ENUM:
        for (const char *e = k->values; e && *e;) {
            size_t n = strcspn(e, "|");
            if (n == strlen(v) && strncasecmp(e, v, n) == 0)
                snprintf(out, outlen, "%.*s", (int)n, e);
            e += n;
            if (*e == '|') e++;
        }
        break;
    case TB_XKEY_TEXT:
        break;
    }
}

int tb_config_dump(const tb_config *cfg, FILE *out)
{
    if (!cfg || !out || !cfg->built || !cfg->exchange_type) return TB_EINVAL;
    tb_risk_config rk;
    tb_risk_config_init(&rk);
    tb_order_manager_config om;
    tb_order_manager_config_init(&om);
    const tb_risk_config *r = &cfg->risk;
    char buf[512];
    int bad = 0;

    bad |= fprintf(out, "[backtest]\n") < 0;
    for (size_t i = 0; i < cfg->ndata; i++)
        bad |= fprintf(out, "  data = %s\n", cfg->data[i]) < 0;
    bad |= dec_line(out, "initial_cash", cfg->initial_cash, 10000 * TB_DECIMAL_ONE);
    bad |=
        str_line(out, "on_bad_row", cfg->on_bad_row == TB_BAD_ROW_SKIP ? "skip" : "fail", "fail");
    bad |= int_line(out, "node_id", cfg->node_id, 1);
    bad |= str_line(out, "round_prices", bool_name(cfg->round_prices), "false");
    bad |= str_line(out, "cache", bool_name(cfg->cache), "true");

    bad |= fprintf(out, "\n[exchange]\n") < 0;
    /* The type's own keys, from its registry entry. */
    const tb_exchange_type *xt = cfg->exchange_type;
    bad |= str_line(out, "type", xt->name, TB_EXCHANGE_DEFAULT_TYPE);
    if (xt->description) bad |= fprintf(out, "  (%s: %s)\n", xt->name, xt->description) < 0;
    for (size_t i = 0; i < xt->nkeys; i++) {
        const tb_exchange_key *k = &xt->keys[i];
        const char *v = tb_exchange_param(cfg, k->name);
        char def[256];
        key_value(k, v ? v : "", buf, sizeof(buf));
        key_value(k, k->def ? k->def : "", def, sizeof(def));
        bad |= str_line(out, k->name, buf, def);
    }
    /* Specs (env:NAME, file:PATH), never the secrets themselves. */
    bad |= str_line(out, "api_key", cfg->api_key_spec, "none");
    bad |= str_line(out, "api_secret", cfg->api_secret_spec, "none");

    /* 0 means the Order Manager's own default. */
    bad |= fprintf(out, "\n[orders]\n") < 0;
    bad |= int_line(out, "max_attempts",
                    cfg->order_max_attempts ? cfg->order_max_attempts : om.max_attempts,
                    om.max_attempts);
    bad |= int_line(out, "base_delay_ms",
                    (cfg->order_base_delay ? cfg->order_base_delay : om.base_delay) / NS_PER_MS,
                    om.base_delay / NS_PER_MS);
    bad |= int_line(out, "max_delay_ms",
                    (cfg->order_max_delay ? cfg->order_max_delay : om.max_delay) / NS_PER_MS,
                    om.max_delay / NS_PER_MS);
    bad |= int_line(out, "max_total_ms",
                    (cfg->order_max_total ? cfg->order_max_total : om.max_total) / NS_PER_MS,
                    om.max_total / NS_PER_MS);
    bad |= int_line(out, "retry_seed",
                    (long long)(cfg->order_retry_seed ? cfg->order_retry_seed : om.retry_seed),
                    (long long)om.retry_seed);

    bad |= fprintf(out, "\n[risk]   (0 = off)\n") < 0;
    bad |= dec_line(out, "max_position", r->max_position, rk.max_position);
    bad |= dec_line(out, "max_order_notional", r->max_order_notional, rk.max_order_notional);
    bad |= int_line(out, "max_open_orders", r->max_open_orders, rk.max_open_orders);
    bad |= dec_line(out, "price_band_pct", r->price_band_pct, rk.price_band_pct);
    bad |=
        int_line(out, "max_orders_per_minute", r->max_orders_per_minute, rk.max_orders_per_minute);
    bad |= dec_line(out, "max_drawdown_pct", r->max_drawdown_pct, rk.max_drawdown_pct);
    bad |= str_line(out, "halt_action", r->halt_close_all ? "close_all" : "reduce_only",
                    "reduce_only");

    bad |= fprintf(out, "\n[bus]\n") < 0;
    bad |= int_line(out, "max_retries", cfg->max_retries, 2);
    bad |= int_line(out, "ring_capacity", (long long)cfg->ring_capacity, 1024);
    bad |= str_line(out, "type", cfg->transport ? cfg->transport->name : NULL, "memory");
    bad |= transport_lines(out, cfg);
    bad |= str_line(out, "name", cfg->bus_name, "tradebus");
    bad |= str_line(out, "state_dir", cfg->bus_state_dir, "tradebus-state");
    bad |=
        int_line(out, "delivery_limit", cfg->bus_delivery_limit ? cfg->bus_delivery_limit : 5, 5);
    bad |= int_line(out, "window", cfg->bus_window ? cfg->bus_window : 64, 64);
    bad |= str_line(out, "order", cfg->bus_stream ? "stream" : "strict", "strict");
    buf[0] = 0;
    for (size_t i = 0; i < cfg->bus_nshards; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " | " : "",
                 cfg->bus_signal_shards[i]);
    bad |= str_line(out, "signal_shards", cfg->bus_nshards ? buf : NULL, "none");

    bad |= fprintf(out, "\n[output]\n") < 0;
    bad |= str_line(out, "event_log", bool_name(cfg->event_log), "true");
    bad |= str_line(out, "fills", bool_name(cfg->fills), "true");
    bad |= str_line(out, "report", bool_name(cfg->report), "true");

    static const char *const syncs[] = {"full", "normal", "off"};
    bad |= fprintf(out, "\n[journal]\n") < 0;
    bad |= str_line(out, "path", cfg->journal_path, "none");
    bad |= str_line(
        out, "sync",
        cfg->journal_sync >= 0 && cfg->journal_sync < 3 ? syncs[cfg->journal_sync] : "?", "normal");
    bad |= int_line(out, "commit_every", cfg->journal_commit_every, 1000);
    bad |= int_line(out, "commit_ms", cfg->journal_commit_ms, 100);

    /* Read by `tradebus live` only; the warm-up shown is what it would load. */
    bad |= fprintf(out, "\n[live]\n") < 0;
    bad |= str_line(out, "interval", cfg->live_interval, "1m");
    tb_config derived = *cfg; /* shallow: only read, for the default */
    derived.live_warmup_bars = -1;
    bad |= int_line(out, "warmup_bars", tb_live_warmup_bars(cfg), tb_live_warmup_bars(&derived));
    bad |= str_line(out, "cancel_on_exit", bool_name(cfg->live_cancel_on_exit), "true");
    bad |= str_line(out, "stream_url", cfg->live_stream_url, "by mode");
    bad |= str_line(out, "rest_url", cfg->live_rest_url, "by mode");

    for (size_t i = 0; i < cfg->nsymbols; i++) {
        const tb_symbol_rules *s = &cfg->symbols[i];
        bad |= fprintf(out, "\n[symbol.%s]   (0 = any)\n", s->symbol) < 0;
        bad |= dec_line(out, "tick_size", s->tick_size, 0);
        bad |= dec_line(out, "step_size", s->step_size, 0);
        bad |= dec_line(out, "min_notional", s->min_notional, 0);
    }

    for (size_t i = 0; i < cfg->nstrategies; i++) {
        const tb_strategy_config *st = &cfg->strategies[i];
        bad |= fprintf(out, "\n[strategy.%s]\n", st->id) < 0;
        bad |= fprintf(out, "  type = %s\n", st->type) < 0;
        if (st->multi) {
            bad |= fprintf(out, "  symbols =") < 0;
            for (size_t k = 0; k < st->nsymbols; k++)
                bad |= fprintf(out, " %s", st->symbols[k]) < 0;
            bad |= fprintf(out, "\n") < 0;
        } else {
            bad |= fprintf(out, "  symbol = %s\n", st->symbol) < 0;
        }
        if (st->ntimeframes) {
            bad |= fprintf(out, "  timeframes =") < 0;
            for (size_t k = 0; k < st->ntimeframes; k++)
                bad |= fprintf(out, " %s", tb_timeframe_name(st->timeframes[k])) < 0;
            bad |= fprintf(out, "\n") < 0;
        }
        bad |= str_line(out, "order_type", tb_order_type_name(st->order_type), "MARKET");
        bad |= dec_line(out, "limit_offset_bps", st->limit_offset_bps, 0);
        bad |= str_line(out, "emit_hold", bool_name(st->emit_hold), "false");
        bad |= str_line(out, "time_in_force", tb_time_in_force_name(st->time_in_force), "GTC");
        bad |= int_line(out, "expire_after_bars", st->expire_after_bars, 0);
        bad |= str_line(out, "on_new_signal",
                        st->on_new_signal == TB_ON_SIGNAL_KEEP ? "keep" : "replace", "replace");
        bad |= dec_line(out, "stop_loss_pct", st->stop_loss_pct, 0);
        bad |= dec_line(out, "take_profit_pct", st->take_profit_pct, 0);
        bad |= dec_line(out, "trailing_stop_pct", st->trailing_stop_pct, 0);
        bad |= dec_line(out, "size", st->size_pct, 0);
        bad |= dec_line(out, "risk_per_trade", st->risk_per_trade_pct, 0);
        for (size_t k = 0; k < st->nparams; k++)
            bad |= fprintf(out, "  %s = %s\n", st->params[k].key, st->params[k].value) < 0;
        const tb_strategy_vtable *vt = NULL;
        for (size_t k = 0; k < cfg->nextra_types && !vt; k++)
            if (strcmp(cfg->extra_types[k]->name, st->type) == 0) vt = cfg->extra_types[k];
        if (!vt) vt = tb_strategy_builtin(st->type);
        if (vt && vt->help) bad |= fprintf(out, "  (params and defaults: %s)\n", vt->help) < 0;
        /* A script's params are its own declarations: list them too. */
        if (vt == &tb_lua_strategy_vtable || vt == &tb_lua_legacy_vtable)
            bad |= tb_lua_script_params_print(out, st->params, st->nparams) != 0;
    }
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        const tb_component_config *c = &cfg->components[i];
        bad |= fprintf(out, "\n[component.%s]   (docs/components.md)\n", c->name) < 0;
        bad |= fprintf(out, "  command = %s\n", c->command) < 0;
        for (int k = 0; k < 2; k++) {
            unsigned bits = k ? c->publishes : c->subscribes;
            bad |= fprintf(out, "  %s =", k ? "publishes" : "subscribes") < 0;
            for (int t = 1; t < TB_EV_COUNT; t++)
                if (bits & (1u << t))
                    bad |= fprintf(out, " %s", tb_event_type_name((tb_event_type)t)) < 0;
            bad |= fputc('\n', out) == EOF;
        }
        bad |= fprintf(out, "  replaces =%s%s%s\n", c->replaces & TB_ROLE_SIGNAL ? " signal" : "",
                       c->replaces & TB_ROLE_ORDERS ? " orders" : "",
                       c->replaces & TB_ROLE_POSITIONS ? " positions" : "") < 0;
        bad |= fprintf(out, "  on_bad_event = %s\n",
                       c->stop_on_bad_event ? "stop" : "dead_letter") < 0;
        bad |= int_line(out, "timeout_ms", c->timeout_ms, 10000);
        bad |= int_line(out, "max_line_bytes", c->max_line_bytes, 65536);
        bad |= int_line(out, "max_reply_events", c->max_reply_events, 10000);
        bad |= int_line(out, "window", c->window, 1);
    }
    return bad ? TB_EIO : 0;
}
