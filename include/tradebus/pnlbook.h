/* tradebus — realized PnL per (strategy, symbol) across position lives.
 *
 * A PositionUpdate's realized_pnl covers one position's life; a flip or a
 * reopen starts a new position_id at 0. A pnl book, fed every
 * PositionUpdate in order, keeps the total over all lives — what a trader
 * means by "this strategy's realized PnL on this symbol". It works from
 * events alone, so any observer (summary, trade log, another process) can
 * keep one. */
#ifndef TRADEBUS_PNLBOOK_H
#define TRADEBUS_PNLBOOK_H

#include <stddef.h>
#include "event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_pnl_book tb_pnl_book;

/* Creates an empty book. 0 or TB_ENOMEM. Free with tb_pnl_book_destroy(). */
TB_EXPORT int tb_pnl_book_create(tb_pnl_book **out);
/* NULL is a no-op. */
TB_EXPORT void tb_pnl_book_destroy(tb_pnl_book *b);
/* Applies one PositionUpdate payload and, if total is not NULL, stores the
 * (strategy, symbol) total after it. 0, TB_ENOMEM, TB_EOVERFLOW; TB_EINVAL
 * for a malformed update (position_id 0, strategy_id or symbol empty or
 * unterminated, an unknown status or one that contradicts the quantity, a
 * negative price); TB_ESTATE for a position_id below the pair's current
 * one (ids only grow: a late update of an ended life). Refused updates
 * change nothing. */
TB_EXPORT int tb_pnl_book_apply(tb_pnl_book *b, const tb_position_update *u, tb_decimal *total);
/* The total for (strategy_id, symbol); 0 if never seen. */
TB_EXPORT tb_decimal tb_pnl_book_total(const tb_pnl_book *b, const char *strategy_id,
                                       const char *symbol);

#ifdef __cplusplus
}
#endif
#endif
