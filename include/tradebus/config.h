/* tradebus — the run configuration (INI).
 *
 * Sections and keys (every key optional unless said; defaults in brackets):
 *   [backtest]  data (data specs separated by spaces or commas, required
 *               unless given on the command line), initial_cash [10000],
 *               on_bad_row = fail|skip [fail], node_id [1],
 *               round_prices = true|false [false]: a price or volume in the
 *               data with more than 8 decimals is rounded half up to 8
 *               instead of being a bad row (file:line, field and value),
 *               cache = true|false [true]: keep parsed data files as a
 *               binary cache and load them from it (docs/data.md)
 *   Numbers out of a key's range are refused with the range
 *   ("initial_cash: 100000000000 is out of range [0, 1000000000]"); enum
 *   and boolean values are case-insensitive (LIMIT, limit; SKIP; TRUE).
 *   [exchange]  type [sim]: a registered exchange type (exchange_registry.h:
 *               a built-in or one of extra_exchanges), api_key / api_secret:
 *               where the exchange credentials are — env:NAME or file:PATH
 *               (secret.h), never the secret itself; and the type's own
 *               keys, checked against its table. sim's: fee_bps [10],
 *               slippage_bps [0], max_volume_participation [0 = no limit],
 *               faults (e.g. timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05)
 *               [none], fault_seed [1]
 *   [orders]    max_attempts [8], base_delay_ms [100], max_delay_ms [10000],
 *               max_total_ms [30000], retry_seed [1]: retries of transient
 *               exchange failures (orders.h)
 *   [risk]      max_position, max_order_notional, max_open_orders,
 *               price_band_pct, max_orders_per_minute, max_drawdown_pct [all 0 = off],
 *               halt_action = reduce_only|close_all [reduce_only]
 *   [bus]       max_retries [2], ring_capacity [1024], type [memory]: a transport
 *               type (transport.h) — memory (one process), amqp (RabbitMQ), or
 *               one of extra_transports —, name [tradebus], state_dir
 *               [tradebus-state], delivery_limit [5], window [64], order =
 *               strict|stream [strict], signal_shards [none]; and the
 *               transport type's own keys, checked by the type (amqp: url
 *               [amqp://127.0.0.1:5672/], tls_ca
 *               [/etc/ssl/certs/ca-certificates.crt], prefetch [1000]). A key
 *               of another known type is checked by it and left unused.
 *   [output]    event_log = true|false [true], fills = true|false [true],
 *               report = true|false [true] (report.html; needs the event log)
 *   [journal]   path (none: no journal), sync = full|normal|off [normal],
 *               commit_every (bars per transaction) [1000]
 *   [live]      (tradebus live, docs/live.md) interval [1m]: the kline
 *               interval of every symbol; warmup_bars [from the
 *               strategies' periods; 0 = none]; cancel_on_exit = true|false [true];
 *               stream_url, rest_url [by [exchange] mode: Binance's
 *               production or testnet]: the market streams' and the REST
 *               API's base URL (ws://, wss://; http://, https://)
 *   [symbol.SYM]   tick_size, step_size, min_notional: declaring any symbol
 *                  makes the exchange refuse undeclared ones
 *   [strategy.ID]  type (required: a built-in, a registered extra type, or
 *                  legacy:NAME for a bundled old-style strategy run through the
 *                  adapter), symbol (required) or symbols = A B ... (up
 *                  to 8: the strategy sees each one's bars in time order and
 *                  may order any; positions, risk, order settings and the
 *                  report are per (strategy, symbol)), timeframes = 1m 15m
 *                  1h (up to 6, shortest first, the first = the data's
 *                  interval: the higher bars are resampled and reach the
 *                  strategy when they close, after the base bar closing
 *                  them; none = the data's bars only), order_type = MARKET|LIMIT
 *                  [MARKET], limit_offset_bps [0], emit_hold [false],
 *                  time_in_force = GTC|IOC|FOK [GTC], expire_after_bars [0 = never],
 *                  on_new_signal = replace|keep [replace], stop_loss_pct,
 *                  take_profit_pct, trailing_stop_pct [0 = none], size = P%
 *                  (of equity) or risk_per_trade = P% (with stop_loss_pct)
 *                  instead of the strategy's quantity, and the strategy's own
 *                  params
 *   [component.NAME]  a program run as a component (external.h,
 *                  docs/components.md): command (required; /bin/sh -c),
 *                  subscribes, publishes (event type names; default: those
 *                  of what it replaces), replaces = signal orders positions
 *                  (built-ins it stands in for) [none], on_bad_event =
 *                  dead_letter|stop [dead_letter], timeout_ms [10000],
 *                  max_line_bytes [65536], max_reply_events [10000],
 *                  window [1] (events written ahead of replies). A
 *                  config where an event type would have two producers
 *                  (RiskAlert may have several), or where an event a
 *                  remaining component or program needs would have no
 *                  producer, or one a replaced built-in handled no
 *                  handler, is refused with the reason.
 * Loading keeps every entry with its origin ("file:line"); --set overrides
 * are added with origin "--set"; tb_config_build() then checks everything and
 * reports the first problem naming its origin, section and key. */
#ifndef TRADEBUS_CONFIG_H
#define TRADEBUS_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "exchange.h"
#include "exchange_registry.h"
#include "marketdata.h"
#include "risk.h"
#include "sim_exchange.h"
#include "strategy.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* on_new_signal: what a new signal does to the strategy's orders still
 * working on its symbol. */
typedef enum {
    TB_ON_SIGNAL_REPLACE = 0, /* cancel them first (the default) */
    TB_ON_SIGNAL_KEEP = 1     /* leave them working */
} tb_on_new_signal;

typedef struct {
    char id[TB_STRATEGY_LEN];
    char type[32];
    char symbol[TB_SYMBOL_LEN]; /* = symbols[0] */
    /* symbols = A B ...: every symbol it trades (nsymbols 1 for symbol =). */
    char symbols[TB_STRATEGY_MAX_SYMBOLS][TB_SYMBOL_LEN];
    size_t nsymbols;
    int multi; /* set by symbols =, which excludes symbol = */
    /* timeframes = 1m 15m 1h (ns, shortest first; none = the data's bars). */
    int64_t timeframes[TB_STRATEGY_MAX_TIMEFRAMES];
    size_t ntimeframes;
    tb_order_type order_type;
    tb_decimal limit_offset_bps;
    int emit_hold;
    /* Order handling (orders.h), all off / default when 0. */
    tb_time_in_force time_in_force; /* LIMIT only */
    long expire_after_bars;         /* LIMIT: good for N bars of the symbol, then EXPIRED */
    tb_on_new_signal on_new_signal;
    /* Brackets, in percent of the entry's fill price (e.g. 2 = 2%). */
    tb_decimal stop_loss_pct, take_profit_pct, trailing_stop_pct;
    /* Sizing: at most one of quantity (a strategy param), size_pct (of
     * equity) and risk_per_trade_pct (needs stop_loss_pct). */
    tb_decimal size_pct, risk_per_trade_pct;
    tb_param *params; /* the strategy's own keys; strings owned by the config */
    size_t nparams;
} tb_strategy_config;

/* [component.NAME]: a program as a component (external.h). */
typedef struct {
    char name[20];
    char *command;       /* owned */
    unsigned subscribes; /* 1u << type per event type it is given */
    unsigned publishes;  /* 1u << type per event type it may publish */
    unsigned replaces;   /* TB_ROLE_* bits (backtest.h) of the built-ins it stands in for */
    int stop_on_bad_event;
    long timeout_ms, max_line_bytes, max_reply_events;
    long window; /* events written ahead of their replies (external.h) [1] */
} tb_component_config;
typedef struct tb_config_entry tb_config_entry;

#define TB_MAX_SHARDS 16

typedef struct tb_config {
    /* Raw entries (owned). */
    tb_config_entry *entries;
    size_t nentries, entries_cap;
    /* Built by tb_config_build(). */
    char **data; /* data specs (owned) */
    size_t ndata;
    tb_bad_row_policy on_bad_row;
    int round_prices; /* [backtest] round_prices: tb_md_config.round_prices */
    int cache;        /* [backtest] cache [true]: tb_md_config.cache (--no-cache: 0) */
    uint16_t node_id;
    tb_decimal initial_cash; /* [backtest] initial_cash: the account's at the start */
    /* [exchange] type, resolved (borrowed: a built-in or one of extra_exchanges). */
    const tb_exchange_type *exchange_type;
    /* The simulator's settings when type = sim (filled by its configure;
     * zero for another type). .symbols is cfg->symbols. A program may set
     * the fields no key sets (observer, track_ids) before creating the
     * pipeline. */
    tb_sim_exchange_config exchange;
    tb_symbol_rules *symbols;
    size_t nsymbols;
    tb_risk_config risk;
    /* [orders]: retry settings, copied into the Order Manager's config
     * (0 = its default). Delays in ns. */
    int order_max_attempts;
    int64_t order_base_delay, order_max_delay, order_max_total;
    uint64_t order_retry_seed;
    int max_retries;
    size_t ring_capacity;
    /* [bus] distributed mode (docs/scaling.md). Strings owned; NULL = default. */
    /* type [memory]: the transport type (borrowed: a built-in or one of
     * extra_transports). A type without create (memory) runs in one process. */
    const tb_transport_type *transport;
    /* The type's own [bus] keys, as written (key and value borrowed from the
     * entries; tb_config_transport_params() hands them to the type). */
    tb_transport_param *bus_params;
    size_t nbus_params;
    char *bus_name;         /* name [tradebus]: prefix of the run's exchanges and queues */
    char *bus_state_dir;    /* state_dir [tradebus-state]: each process's SQLite state */
    int bus_delivery_limit; /* delivery_limit [5] */
    int bus_window;         /* window [64]: bars the feed publishes ahead */
    int bus_stream;         /* order = strict (0, the default) | stream (1): see node.h */
    /* signal_shards = "BTCUSDT ETHUSDT | SOLUSDT": the Signal Generator split
     * by symbol into processes signal-1, signal-2, ... (stream order only).
     * Each entry a comma-separated symbol list (owned); none = one process. */
    char *bus_signal_shards[TB_MAX_SHARDS];
    size_t bus_nshards;
    int event_log, fills;
    int report;         /* [output] report = true|false [true]: report.html after a backtest */
    char *journal_path; /* owned; NULL = no journal */
    char *api_key_spec, *api_secret_spec; /* owned specs ("env:NAME"), never values */
    int journal_sync;                     /* tb_journal_sync */
    long journal_commit_every; /* [journal] commit_every: bars per commit at least [1000] */
    /* [journal] commit_ms: wall-clock ms at least between two commits [100]
     * (group commit: a fast backtest commits a few times a second, not
     * thousands); 0 commits at every commit_every bars. A live run: 0. */
    long journal_commit_ms;
    tb_strategy_config *strategies;
    size_t nstrategies;
    tb_component_config *components; /* [component.NAME], in order of appearance */
    size_t ncomponents;
    unsigned replaced; /* TB_ROLE_* bits some component replaces */
    /* Set before tb_config_build() by a live runner: its bars come from the
     * exchange, so [backtest] data is not required. */
    int live;
    /* [live] (docs/live.md). Strings owned; NULL = the default. */
    char *live_interval;     /* interval [1m] */
    long live_warmup_bars;   /* warmup_bars [-1 = from the strategies; 0 = none] */
    int live_cancel_on_exit; /* cancel_on_exit [true] */
    char *live_stream_url, *live_rest_url;
    int built; /* tb_config_build() ran: entries are interpreted once */
    /* Strategy types the program adds to the built-ins (borrowed). Set them
     * before tb_config_build() so `type = NAME` is accepted and the params
     * are checked with the file:line of each key. */
    const tb_strategy_vtable *const *extra_types;
    size_t nextra_types;
    /* Exchange types the program adds to the built-ins (borrowed, like
     * extra_types): set them before tb_config_build() so `[exchange] type =
     * NAME` is accepted and its keys checked (exchange_registry.h). */
    const tb_exchange_type *const *extra_exchanges;
    size_t nextra_exchanges;
    /* Transport types the program adds to the built-ins (borrowed), looked
     * up first. Set them before tb_config_build() so `[bus] type = NAME` is
     * accepted and the type's own keys are checked. */
    const tb_transport_type *const *extra_transports;
    size_t nextra_transports;
} tb_config;

/* Zeroes cfg (call before anything else). */
TB_EXPORT void tb_config_init(tb_config *cfg);
/* Reads an INI file's entries. TB_EIO (cannot open) or TB_ECONFIG (syntax)
 * with "path:line: ..." in err. */
TB_EXPORT int tb_config_load(tb_config *cfg, const char *path, char *err, size_t errlen);
/* Adds or overrides one entry from "SECTION.KEY=VALUE" (the section may
 * contain dots: "strategy.fast.fast=5" is section strategy.fast, key fast).
 * TB_ECONFIG if malformed. */
TB_EXPORT int tb_config_set(tb_config *cfg, const char *assignment, char *err, size_t errlen);
/* Adds a data spec (the command line's --data); replaces [backtest] data. */
TB_EXPORT int tb_config_add_data(tb_config *cfg, const char *spec);
/* Interprets and validates every entry (once: TB_EMISUSE after a first
 * call). Load the file before --set overrides: a later load replaces the
 * keys it holds. TB_ECONFIG with
 * "ORIGIN: [section] key: what is wrong" in err. Unknown sections and keys
 * are errors; unknown strategy params are reported by the strategy. */
TB_EXPORT int tb_config_build(tb_config *cfg, char *err, size_t errlen);
/* The raw value of [section] key as loaded (the file, or --set), or NULL if
 * not given; *origin ("file:line" or "--set"), if origin is not NULL.
 * Both borrowed from cfg. */
TB_EXPORT const char *tb_config_value(const tb_config *cfg, const char *section, const char *key,
                                      const char **origin);
/* Checks that every strategy's symbol is one of the data's (the symbols of
 * the opened data files, n of them; borrowed). 0, or TB_ECONFIG with
 * "ORIGIN: [strategy.ID] symbol: SYM is in no data file (the data has A, B)"
 * in err: such a strategy would never see a bar. */
TB_EXPORT int tb_config_check_symbols(const tb_config *cfg, const char *const *symbols, size_t n,
                                      char *err, size_t errlen);
/* The strategy vtable for a type name: one of cfg's extra_types, a
 * built-in, or "legacy:NAME" — the bundled legacy strategy NAME run through
 * the adapter, which is set up in *adapter (caller's storage, which must
 * outlive the vtable's use). NULL if the name is unknown. */
struct tb_legacy_adapter; /* legacy.h */
TB_EXPORT const tb_strategy_vtable *tb_config_resolve_type(const tb_config *cfg, const char *type,
                                                           struct tb_legacy_adapter *adapter);
/* The transport type called name: one of cfg's extra_transports, else a
 * built-in (case-insensitive). NULL if the name is unknown. */
TB_EXPORT const tb_transport_type *tb_config_resolve_transport(const tb_config *cfg,
                                                               const char *name);
/* What cfg's transport type (cfg->transport) is given to attach the process
 * called component (NULL: none, for admin ops): the run's name, delivery
 * limit and the type's own keys, borrowed from cfg; no bindings (the node
 * knows them: tb_node_bindings()). cfg must be built. */
TB_EXPORT void tb_config_transport_params(const tb_config *cfg, const char *component,
                                          tb_transport_params *out);
/* A 64-bit fingerprint of what decides a run's events: every entry except
 * [journal] and [output], in sorted order, and the data specs. Two configs
 * with equal hashes run the same; a journal records its run's hash. */
TB_EXPORT uint64_t tb_config_hash(const tb_config *cfg);
/* The market-data reader options the config sets (on_bad_row,
 * round_prices, cache) on top of tb_md_config_init's; every reader of cfg->data
 * (backtest, legacy, distributed feed) uses them. */
TB_EXPORT void tb_config_md_options(const tb_config *cfg, tb_md_config *out);
/* Frees everything the config owns. */
TB_EXPORT void tb_config_free(tb_config *cfg);
/* Writes a built config's effective values to out, grouped by section in the
 * INI's own names, one "key = value" line each followed by "(default)" when
 * the value is the default or "(default D)" when it is not (a transport
 * type's keys as the type shows them: amqp's url with its password masked;
 * credentials as their specs; [exchange] with its type's description and
 * every key of the type's table); then each
 * [symbol.SYM] and [strategy.ID] with its params as written (the built-in
 * type's params and defaults in a note line), and every data spec.
 * 0, TB_EINVAL (cfg not built), TB_EIO (write failed). */
TB_EXPORT int tb_config_dump(const tb_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
