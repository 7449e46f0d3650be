/* tradebus — the canonical trade log: what two trading systems must agree on.
 *
 * A trade log is JSON lines, one record per signal, order, fill and position
 * change, plus one final record. Any system in any language can write it
 * (docs/trade-log.md), so `tradebus parity` can compare it with the
 * pipeline. Records (decimals are JSON strings, "time" is ISO-8601 UTC
 * "2024-01-01T00:05:00.000Z" or integer epoch milliseconds):
 *
 *   {"kind":"signal","time":T,"strategy_id":S,"symbol":Y,"side":"BUY","quantity":"1","price":"12"}
 *       a decision to trade: side, volume, the price it was computed on
 *   {"kind":"order","time":T,"strategy_id":S,"symbol":Y,"side":"BUY","type":"LIMIT",
 *    "quantity":"1","price":"11.99"}      price: the limit; absent or "0" for MARKET
 *   {"kind":"fill","time":T,"strategy_id":S,"symbol":Y,"side":"BUY","quantity":"0.5",
 *    "price":"12.5","commission":"0.00625"}    one per execution (partial fills too)
 *   {"kind":"position","time":T,"strategy_id":S,"symbol":Y,"quantity":"-0.5",
 *    "entry_price":"12.5","realized_pnl":"-3"}
 *       the (strategy, symbol) position after a fill: signed quantity, average
 *       entry (0 when flat), realized PnL over all its trades, fees excluded
 *   {"kind":"final","realized_pnl":"-3","unrealized_pnl":"0","fees":"0.022"}
 *       once, at the end: totals over every strategy and symbol
 *
 * Times: a signal and its order carry the bar's close time, a fill and the
 * position after it the execution time. Unknown keys are errors; a
 * reader reports the first problem as "path:line: field: what is wrong". */
#ifndef TRADEBUS_TRADELOG_H
#define TRADEBUS_TRADELOG_H

#include <stddef.h>
#include <stdio.h>
#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TB_REC_SIGNAL = 1,
    TB_REC_ORDER = 2,
    TB_REC_FILL = 3,
    TB_REC_POSITION = 4,
    TB_REC_FINAL = 5
} tb_record_kind;

typedef struct {
    tb_record_kind kind;
    int64_t time; /* ns since the epoch; 0 for FINAL */
    char strategy_id[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_side side;              /* SIGNAL, ORDER, FILL */
    tb_order_type order_type;  /* ORDER */
    tb_decimal quantity;       /* SIGNAL volume, ORDER/FILL quantity, POSITION signed */
    tb_decimal price;          /* SIGNAL bar price, ORDER limit (0 = MARKET), FILL price */
    tb_decimal commission;     /* FILL */
    tb_decimal entry_price;    /* POSITION */
    tb_decimal realized_pnl;   /* POSITION (strategy+symbol total), FINAL (all) */
    tb_decimal unrealized_pnl; /* FINAL */
    tb_decimal fees;           /* FINAL */
    uint64_t line;             /* 1-based line it was read from; 0 if made in process */
} tb_trade_record;

/* Receives records as they are made. Return 0, or an error to report. */
typedef int (*tb_record_sink)(const tb_trade_record *rec, void *ctx);

/* Wire name of a kind ("signal", ...), "?" if unknown. */
TB_EXPORT const char *tb_record_kind_name(tb_record_kind k);
/* Encodes rec as one JSON line (with its '\n') into buf. Returns the length,
 * TB_EFULL if buf is too small (512 bytes always suffice), TB_EINVAL. */
TB_EXPORT int tb_trade_record_encode(const tb_trade_record *rec, char *buf, size_t buflen);
/* Decodes one line (without or with its '\n'). TB_EPARSE with
 * "field: what is wrong" in err. */
TB_EXPORT int tb_trade_record_decode(const char *line, size_t len, tb_trade_record *out, char *err,
                                     size_t errlen);

/* Reads a trade log from f (borrowed; name is used in messages), calling
 * sink for every record in order. Blank lines are skipped. The first bad
 * line stops the read: TB_EPARSE with "name:line: field: what is wrong",
 * as does a line longer than 65536 bytes ("name:line: line longer than 65536
 * bytes", found without storing more than that: memory stays bounded).
 * A sink error stops it too and is returned; a read error is TB_EIO. */
TB_EXPORT int tb_tradelog_read(FILE *f, const char *name, tb_record_sink sink, void *ctx, char *err,
                               size_t errlen);

/* The pipeline's side: an observer on the bus that turns events into
 * records (SignalGenerated → signal, OrderPlacementRequest → order,
 * OrderFilled → fill, PositionUpdate(s) of one fill → one position record). */
typedef struct tb_tradelog tb_tradelog;

/* Subscribes to bus (borrowed) and sends every record to sink(ctx).
 * 0, TB_EINVAL, TB_ENOMEM. */
TB_EXPORT int tb_tradelog_create(tb_bus *bus, tb_record_sink sink, void *ctx, tb_tradelog **out);
/* Emits what is still pending, then the FINAL record with these totals. */
TB_EXPORT int tb_tradelog_finish(tb_tradelog *t, tb_decimal realized, tb_decimal unrealized,
                                 tb_decimal fees);
/* Unsubscribes and frees. NULL is a no-op. */
TB_EXPORT void tb_tradelog_destroy(tb_tradelog *t);

/* A sink that writes each record as a JSON line to the FILE* in ctx. */
TB_EXPORT int tb_record_sink_file(const tb_trade_record *rec, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
