/* Realized PnL across position lives. (strategy, symbol) pairs are few (one
 * per strategy instance and symbol it trades), so a linear scan is enough. */
#include <stdlib.h>
#include <string.h>

#include "tradebus/pnlbook.h"
#include "../core/fixstr.h"
#include "validate.h"

typedef struct {
    char strategy_id[TB_STRATEGY_LEN], symbol[TB_SYMBOL_LEN];
    uint64_t position_id;
    tb_decimal closed_lives, current;
} life;

struct tb_pnl_book {
    life *lives;
    size_t n, cap;
};

int tb_pnl_book_create(tb_pnl_book **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : TB_ENOMEM;
}

void tb_pnl_book_destroy(tb_pnl_book *b)
{
    if (!b) return;
    free(b->lives);
    free(b);
}

/* strategy_id, symbol: fields (arrays of their full size). */
static life *find(const tb_pnl_book *b, const char *strategy_id, const char *symbol)
{
    for (size_t i = 0; i < b->n; i++)
        if (tb__strategy_eq(b->lives[i].strategy_id, strategy_id) &&
            tb__sym_eq(b->lives[i].symbol, symbol))
            return &b->lives[i];
    return NULL;
}

int tb_pnl_book_apply(tb_pnl_book *b, const tb_position_update *u, tb_decimal *total)
{
    if (!b || !u) return TB_EINVAL;
    /* The strings are compared and copied below: never past their arrays. */
    if (tb__check_position(u, NULL, 0) != 0) return TB_EINVAL;
    life *l = find(b, u->strategy_id, u->symbol);
    /* Ids only grow: an older one is a late update of a life already ended,
     * and taking it would count that life twice. */
    if (l && u->position_id < l->position_id) return TB_ESTATE;
    if (!l) {
        if (b->n == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 8;
            life *nl = realloc(b->lives, nc * sizeof(*nl));
            if (!nl) return TB_ENOMEM;
            b->lives = nl;
            b->cap = nc;
        }
        l = &b->lives[b->n++];
        memset(l, 0, sizeof(*l));
        memcpy(l->strategy_id, u->strategy_id, sizeof(l->strategy_id));
        memcpy(l->symbol, u->symbol, sizeof(l->symbol));
        l->position_id = u->position_id;
    }
    if (l->position_id != u->position_id) {
        int rc = tb_dec_add(l->closed_lives, l->current, &l->closed_lives);
        if (rc) return rc;
        l->position_id = u->position_id;
    }
    l->current = u->realized_pnl;
    if (total) return tb_dec_add(l->closed_lives, l->current, total);
    return 0;
}

tb_decimal tb_pnl_book_total(const tb_pnl_book *b, const char *strategy_id, const char *symbol)
{
    /* The look-up reads its keys a word at a time: copied to field size. */
    char sid[TB_STRATEGY_LEN], sym[TB_SYMBOL_LEN];
    if (!b || !strategy_id || !symbol || tb__fix_copy(sid, sizeof(sid), strategy_id) != 0 ||
        tb__sym_field(sym, symbol) != 0)
        return 0;
    const life *l = find(b, sid, sym);
    tb_decimal t = 0;
    if (l && tb_dec_add(l->closed_lives, l->current, &t) != 0) t = 0;
    return t;
}
