/* tradebus — the exchange registry: exchange adapters by `[exchange] type`.
 *
 * An adapter describes itself with a tb_exchange_type: the type name a
 * config gives, a one-line description, its own config keys (name, kind,
 * default, allowed range or values, help) and a create function taking the
 * built config. tb_config_build() looks `[exchange] type` up (default sim),
 * checks every other [exchange] key against that type's keys — an unknown
 * key or a bad value is an error naming file:line, key, value and what is
 * allowed — and `tradebus config check` prints each key with its default.
 * The pipeline then creates the adapter with tb_exchange_create_from_config()
 * and talks to it through the port (exchange.h) only.
 *
 * The built-in types are one table in src/exchange/exchange_registry.c:
 * adding an adapter to the library is its own files plus one entry there.
 * A program adds its own types at run time, without touching the library,
 * by listing them in tb_config.extra_exchanges before tb_config_build()
 * (they are found before the built-ins, so one may stand in for sim).
 *
 * Keys every type shares are the config's own and not in a type's table:
 * [exchange] type, api_key and api_secret (credential specs, secret.h),
 * [backtest] initial_cash (tb_config.initial_cash) and the [symbol.SYM]
 * trading rules (tb_config.symbols); a type's own keys cannot take those
 * names (the config reads them first). */
#ifndef TRADEBUS_EXCHANGE_REGISTRY_H
#define TRADEBUS_EXCHANGE_REGISTRY_H

#include <stddef.h>
#include "exchange.h"
#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The type a config without `[exchange] type` gets. */
#define TB_EXCHANGE_DEFAULT_TYPE "sim"

typedef enum {
    TB_XKEY_DECIMAL = 1, /* a decimal number (at most 8 decimals) in [min, max] */
    TB_XKEY_INT = 2,     /* a whole number in [min, max] */
    TB_XKEY_BOOL = 3,    /* true or false (also yes/no, on/off, 1/0), any case */
    TB_XKEY_ENUM = 4,    /* one of values, any case */
    TB_XKEY_TEXT = 5     /* any text; check, if set, decides */
} tb_exchange_key_kind;

/* One config key of an adapter. Strings are static (borrowed for as long
 * as the type is in use). */
typedef struct {
    const char *name; /* as written in [exchange] */
    tb_exchange_key_kind kind;
    const char *def;       /* the default, written as in an INI ("10", "none") */
    const char *min, *max; /* DECIMAL, INT: inclusive bounds as written; NULL = unbounded */
    const char *values;    /* ENUM: the allowed values, '|' between ("fast|safe") */
    const char *help;      /* one line: what the key does */
    /* Optional, after the kind's own check: 0, or nonzero with the reason
     * (without the key's name) in msg. */
    int (*check)(const char *value, char *msg, size_t msglen);
} tb_exchange_key;

struct tb_config;
typedef struct tb_exchange_type tb_exchange_type;

struct tb_exchange_type {
    const char *name;        /* `[exchange] type = name` (matched in any case) */
    const char *description; /* one line, for listings */
    const tb_exchange_key *keys;
    size_t nkeys;
    /* Creates the adapter from a built config (borrowed for the call: copy
     * what is kept) on the run's loop (borrowed, outlives the adapter: a live
     * adapter's sockets and timers; NULL outside a pipeline, which a live
     * adapter refuses with TB_EMISUSE). Its keys are read with
     * tb_exchange_param*(). 0 with
     * *out set (freed by tb_exchange_destroy), TB_ENOMEM, or another
     * negative code with the reason in err. */
    int (*create)(const tb_exchange_type *type, const struct tb_config *cfg, tb_loop *loop,
                  tb_exchange **out, char *err, size_t errlen);
    /* Optional: run by tb_config_build() once every key is checked, to keep
     * the parsed values in the config itself (the simulator fills
     * tb_config.exchange). 0, or TB_ECONFIG with the reason in err. */
    int (*configure)(const tb_exchange_type *type, struct tb_config *cfg, char *err, size_t errlen);
    void *ctx; /* free for the type's author (borrowed; NULL for the built-ins) */
};

/* The built-in type named name (any case), or NULL. */
TB_EXPORT const tb_exchange_type *tb_exchange_builtin(const char *name);
/* The i-th built-in type, or NULL past the end (for listings). */
TB_EXPORT const tb_exchange_type *tb_exchange_builtin_at(size_t i);
/* The type named name (any case): one of extra (n of them, borrowed; may be
 * NULL), else a built-in; NULL if unknown. */
TB_EXPORT const tb_exchange_type *tb_exchange_type_find(const tb_exchange_type *const *extra,
                                                        size_t n, const char *name);
/* The key of type named name (exact case), or NULL. */
TB_EXPORT const tb_exchange_key *tb_exchange_type_key(const tb_exchange_type *type,
                                                      const char *name);
/* Checks value against key: 0, or TB_ECONFIG with the reason, naming the
 * value and what is allowed, in msg ("1.5 is out of range [0, 1]"). */
TB_EXPORT int tb_exchange_key_check(const tb_exchange_key *key, const char *value, char *msg,
                                    size_t msglen);

/* Reading the config's [exchange] keys, for an adapter's create (cfg built).
 * The value as written (file or --set), else the key's default; NULL if
 * key is not one of the type's keys. Borrowed from cfg. */
TB_EXPORT const char *tb_exchange_param(const struct tb_config *cfg, const char *key);
/* The key's value as a decimal: 0, TB_ENOTFOUND (no such key), TB_ECONFIG
 * (not a decimal: a type whose key is not a DECIMAL). */
TB_EXPORT int tb_exchange_param_dec(const struct tb_config *cfg, const char *key, tb_decimal *out);
/* The key's value as a whole number: 0, TB_ENOTFOUND, TB_ECONFIG. */
TB_EXPORT int tb_exchange_param_int(const struct tb_config *cfg, const char *key, long long *out);
/* The key's value as a boolean (1 or 0): 0, TB_ENOTFOUND, TB_ECONFIG. */
TB_EXPORT int tb_exchange_param_bool(const struct tb_config *cfg, const char *key, int *out);

/* Creates the adapter the built config's `[exchange] type` names (with the
 * config's extra_exchanges) on loop (borrowed; NULL = none). 0 with *out set (the caller destroys
 * it), TB_EMISUSE (cfg not built), TB_ENOMEM, or the adapter's error with
 * "[exchange] ..." in err. */
TB_EXPORT int tb_exchange_create_from_config(const struct tb_config *cfg, tb_loop *loop,
                                             tb_exchange **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
