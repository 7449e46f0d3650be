/* tradebus — the simulated exchange: an adapter behind the exchange port
 * (exchange.h), the default `[exchange] type` (sim).
 *
 * The simulated exchange (tb_sim_exchange_create, or `[exchange] type = sim`
 * through the registry: tb_sim_exchange_type) models a cash account in
 * the quote asset with 1x exposure (shorts need cash collateral equal to
 * their notional) and these fill rules, with no look-ahead:
 *  - an order only fills on a bar of its symbol that starts after the order
 *    was submitted (an order sent on bar t's close fills on t+1 at the earliest;
 *    a stop placed inside a bar is the one exception, below);
 *  - MARKET fills at that bar's open moved by slippage_bps against the taker
 *    (buys up, sells down), rounded half-up to the symbol's tick size;
 *  - LIMIT buy: fills at the open if open <= limit, else at the limit if the
 *    bar's low < limit (trades through); sells mirror it (open >= limit,
 *    high > limit);
 *  - LIMIT time in force: GTC works until filled or canceled; IOC trades on
 *    the first bar it may (the next one) what the rules above and the
 *    volume cap allow, and the rest expires (TB_XR_EXPIRED for the remainder,
 *    "IOC: 0.3 of 0.5 unfilled expired"); FOK on that bar fills all of it
 *    (the price trades through and the cap allows the whole remainder) or
 *    nothing, and expires. MARKET and STOP_MARKET ignore time in force;
 *  - STOP_MARKET: a SELL stop triggers on a bar whose low <= stop_price, a
 *    BUY stop on one whose high >= stop_price. It fills at the open moved by
 *    slippage as a MARKET order when the bar opens beyond the stop (a gap:
 *    SELL open <= stop, BUY open >= stop), else at the stop moved by
 *    slippage against it (SELL stop × (1 - slippage_bps / 10000), BUY
 *    × (1 + ...)), rounded half-up to the tick. A part the volume cap leaves
 *    stays open as a triggered MARKET order and fills on later bars;
 *  - a STOP_MARKET submitted with a `now` before the close time of the last
 *    bar its symbol has seen (an Order Manager placing a stop-loss once that
 *    bar filled the entry, stamped with a time inside it) meets that bar at
 *    submit, after its ACCEPTED, with what volume that bar has left; fills
 *    then carry time `now`. Any other order (a take-profit LIMIT included)
 *    waits for a later bar;
 *  - within a bar, STOP_MARKET orders trade before the others (a bar that
 *    touched a bracket's stop and its target did so in an unknown order:
 *    assume the worse), each group in time priority;
 *  - OCO: when an order fills, even in part, its partner (the order its
 *    oco_with names, or one whose oco_with names it) is canceled at once if
 *    open: TB_XR_CANCELED, text "OCO: <client order id> filled". It cannot
 *    fill later on the same bar. Of an open pair only one can fill, so the
 *    cash check counts the pair once;
 *  - trailing stops (trailing_pct > 0): after each bar the stop was live on
 *    (its fills done), a SELL stop becomes max(stop, close × (1 - pct / 100))
 *    rounded down to the tick, a BUY stop min(stop, close × (1 + pct / 100))
 *    rounded up; it never moves back, nor after it triggered. query reports
 *    the current stop;
 *  - with max_volume_participation p > 0 a bar fills at most p × bar volume
 *    (rounded down to the step size), shared by the orders in the order
 *    above; the rest stays open (PARTIALLY_FILLED) and fills on later bars
 *    by the same rules; a zero-volume bar fills nothing;
 *  - commission = price × quantity × fee_bps / 10000, half-up to 8 decimals,
 *    charged in the quote asset.
 * An order that expires or is canceled (on request or by OCO) releases the
 * cash it held back. Responses reach the listener synchronously; the
 * listener may submit and cancel from inside one (an order it places cannot
 * fill on the bar being processed, one it cancels is skipped).
 * It rejects, with a reason: quantity <= 0 or off the step size, LIMIT price
 * or STOP_MARKET stop_price <= 0 or off the tick size (TB_REJECT_INVALID_PRICE,
 * as is a trailing_pct outside [0, 100)), an unknown time in force, a
 * notional (quantity × limit price or last close) below the symbol's
 * min_notional, an unknown symbol (when symbols are declared), a client
 * order id already open (unique among open orders, as on Binance), and an
 * order that increases exposure beyond the cash available (cash - exposure -
 * reserved for open orders, fees included; MARKET and STOP_MARKET reserve
 * at the last close plus slippage, a BUY stop at its stop if that is higher).
 *
 * Faults (tb_sim_faults): with any probability set, each request draws from
 * the fault spec's own seeded PRNG whether it fails and how — so a run under
 * faults is as deterministic as one without. A fault never changes the fill
 * rules: an order that reaches the book fills exactly as it would have. A
 * lost reply loses only the ack: a stop that fills at submit still reports
 * its fills (and OCO cancels) to the listener, before the call returns TB_EIO. */
#ifndef TRADEBUS_SIM_EXCHANGE_H
#define TRADEBUS_SIM_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>
#include "exchange.h"
#include "exchange_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fault kinds the simulated exchange injects. What each does to a submit:
 *  TIMEOUT             lost on the way: never reached the exchange; the client sees a timeout
 *  LOST_ACK            processed (accepted and live, or rejected) but the reply is lost:
 *                      the client sees a timeout
 *  SERVER_ERROR        a 5xx before processing: nothing happened
 *  SERVER_ERROR_AFTER  a 5xx after processing (accepted and live, or rejected)
 *  RATE_LIMIT          a 429 with the spec's retry_after: nothing happened
 *  CONNECTION_LOST     not sent: nothing happened
 * A cancel behaves the same (LOST_ACK / SERVER_ERROR_AFTER: canceled, reply
 * lost). A query has no effect to lose: LOST_ACK is a timeout there,
 * SERVER_ERROR_AFTER a 5xx. */
typedef enum {
    TB_SIM_FAULT_NONE = 0,
    TB_SIM_FAULT_TIMEOUT = 1,
    TB_SIM_FAULT_LOST_ACK = 2,
    TB_SIM_FAULT_SERVER_ERROR = 3,
    TB_SIM_FAULT_SERVER_ERROR_AFTER = 4,
    TB_SIM_FAULT_RATE_LIMIT = 5,
    TB_SIM_FAULT_CONNECTION_LOST = 6,
    TB_SIM_FAULT_COUNT
} tb_sim_fault;

/* Random faults: probabilities per request as decimals in [0, 1] (exact, so
 * the draw is the same on every machine). The submit faults are exclusive
 * and must add up to at most 1. server_error is split evenly (by the same
 * PRNG) between SERVER_ERROR and SERVER_ERROR_AFTER: a 5xx really is
 * ambiguous. Cancels get no random faults (only scripted ones). */
typedef struct {
    tb_decimal timeout, lost_ack, server_error, rate_limit, connection_lost; /* submit */
    tb_decimal query_timeout; /* a look-up times out (it has no effect to lose) */
    int64_t retry_after;      /* ns, told with a rate limit; default 1 s */
    uint64_t seed;            /* the fault PRNG's seed; default 1 */
} tb_sim_faults;

/* One request as the simulated exchange saw it, for observers. */
typedef enum {
    TB_SIM_REQ_SUBMIT = 1,
    TB_SIM_REQ_CANCEL = 2,
    TB_SIM_REQ_QUERY = 3
} tb_sim_request_kind;
typedef struct {
    tb_sim_request_kind kind;
    const char *client_order_id; /* borrowed for the call */
    int64_t now;                 /* the time the client sent it */
    tb_sim_fault fault;          /* injected, or TB_SIM_FAULT_NONE */
    int reached;                 /* it reached the matching engine (had an effect, if any) */
    int accepted;                /* a submit that put the order on the book */
    int result;                  /* what the call returned */
} tb_sim_request;
/* Called after every request, with the exchange (e.g. to read its stats). */
typedef void (*tb_sim_observer)(const tb_exchange *ex, const tb_sim_request *r, void *ctx);

typedef struct {
    tb_decimal initial_cash;             /* default 10000 */
    tb_decimal fee_bps;                  /* default 10 (0.1%) */
    tb_decimal slippage_bps;             /* default 0 */
    tb_decimal max_volume_participation; /* fraction of bar volume, 0 = no limit */
    const tb_symbol_rules *symbols;      /* copied; NULL/0 = every symbol allowed */
    size_t nsymbols;
    tb_sim_faults faults; /* default none */
    /* Count submits and acceptances per client order id (tb_sim_exchange_id_stats).
     * Costs ~64 bytes per order for the whole run, so it is off unless set
     * here or a fault probability is set (then it is the proof that no order
     * was doubled). */
    int track_ids;
    tb_sim_observer observer; /* may be NULL; borrowed ctx */
    void *observer_ctx;
} tb_sim_exchange_config;

/* What the simulated exchange has seen. */
typedef struct {
    uint64_t submits;                    /* submit calls, faulted ones included */
    uint64_t accepted, rejected;         /* submits that reached the book logic */
    uint64_t cancels, queries;           /* calls */
    uint64_t faults[TB_SIM_FAULT_COUNT]; /* injected, by kind ([0] unused) */
    /* With id tracking on (else 0): */
    uint64_t distinct_ids_accepted; /* client order ids ever accepted */
    uint64_t ids_accepted_twice;    /* ids accepted more than once: doubled orders */
    uint64_t max_submits_per_id;    /* the most submit calls one id received */
} tb_sim_exchange_stats;

/* The registry's entry for `[exchange] type = sim` (keys fee_bps,
 * slippage_bps, max_volume_participation, faults, fault_seed). Its
 * configure fills tb_config.exchange at tb_config_build(); its create
 * makes the simulator from that, so a program may still set the fields
 * no key sets (observer, track_ids) in between. */
TB_EXPORT extern const tb_exchange_type tb_sim_exchange_type;

/* Fills cfg with the documented defaults (cash 10000, fee 10 bps, no faults). */
TB_EXPORT void tb_sim_exchange_config_init(tb_sim_exchange_config *cfg);
/* Creates a simulated exchange (cfg and its symbols copied; NULL = the
 * defaults); destroy it with tb_exchange_destroy. 0, TB_EINVAL (message in
 * err), TB_ENOMEM. */
TB_EXPORT int tb_sim_exchange_create(const tb_sim_exchange_config *cfg, tb_exchange **out,
                                     char *err, size_t errlen);
/* The calls below are the simulator's own (tests, tools): ex must come
 * from tb_sim_exchange_create or `type = sim`; given another adapter they
 * return 0, zeros or TB_EINVAL. Code that may hold any adapter reads the
 * account through the port (tb_exchange_cash, tb_exchange_equity). */
/* 1 if ex is a simulated exchange. */
TB_EXPORT int tb_sim_exchange_is(const tb_exchange *ex);
/* The simulated account's cash (quote asset), after fees. */
TB_EXPORT tb_decimal tb_sim_exchange_cash(const tb_exchange *ex);
/* The simulated account's equity now: cash + each symbol's holding at its
 * last close (half-up to 1e-8), every fill so far included. */
TB_EXPORT tb_decimal tb_sim_exchange_equity(const tb_exchange *ex);
/* Number of orders still open on the simulated book. */
TB_EXPORT size_t tb_sim_exchange_open_orders(const tb_exchange *ex);
/* Counters since creation (a copy). */
TB_EXPORT tb_sim_exchange_stats tb_sim_exchange_get_stats(const tb_exchange *ex);
/* Submit calls and acceptances for one client order id. 0, or TB_ENOTFOUND
 * (never submitted, or id tracking off). */
TB_EXPORT int tb_sim_exchange_id_stats(const tb_exchange *ex, const char *client_order_id,
                                       uint32_t *submits, uint32_t *accepts);
/* Queues faults (copied) for the next requests, in order, whatever their
 * kind (for tests: "the next submit loses its ack, the look-up after it
 * works"). TB_SIM_FAULT_NONE lets one request through. Scripted faults come
 * before the random ones and draw nothing from the PRNG. 0, TB_EINVAL,
 * TB_ENOMEM. */
TB_EXPORT int tb_sim_exchange_script_faults(tb_exchange *ex, const tb_sim_fault *faults, size_t n);

/* Fills faults with the defaults (no fault, retry_after 1 s, seed 1). */
TB_EXPORT void tb_sim_faults_init(tb_sim_faults *faults);
/* Parses "timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05" into
 * *out: items NAME:VALUE separated by commas (blanks around them allowed);
 * NAME is timeout, lost_ack, server_error, rate_limit, connection_lost or
 * query_timeout with a probability in [0, 1], or retry_after_ms with a whole
 * number of milliseconds. "" and "none" mean no faults. The probabilities and
 * retry_after are reset first; the seed is kept (it is a key of its own).
 * TB_EPARSE with the bad item named in err, *out untouched. */
TB_EXPORT int tb_sim_faults_parse(const char *spec, tb_sim_faults *out, char *err, size_t errlen);
/* 1 if any probability in faults is set, else 0. */
TB_EXPORT int tb_sim_faults_enabled(const tb_sim_faults *faults);
/* "timeout", "lost_ack", "server_error", "server_error_after", "rate_limit",
 * "connection_lost", "none"; "?" if unknown. */
TB_EXPORT const char *tb_sim_fault_name(tb_sim_fault f);

#ifdef __cplusplus
}
#endif
#endif
