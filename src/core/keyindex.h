/* Private (not installed): a small open-addressing index from string keys
 * to entry numbers, shared by the components that keep per-(strategy,
 * symbol) state. Entries live in the caller's array and begin with their
 * 64-bit hash, so the index can be rebuilt from the array alone. */
#ifndef TRADEBUS_KEYINDEX_H
#define TRADEBUS_KEYINDEX_H

#include <stddef.h>
#include <stdint.h>

/* Linear probing; each slot holds an entry index + 1, 0 when empty. Kept at
 * most half full so probes stay short. */
typedef struct {
    uint32_t *slots;
    size_t cap; /* power of two */
} tb__index;

/* FNV-1a of (strategy_id, symbol) with a separator after each part;
 * strategy_id may be NULL for a symbol-only key. */
uint64_t tb__hash_key(const char *strategy_id, const char *symbol);
/* 1 if s is non-empty and NUL-terminated within cap bytes (events may come
 * from the wire: never read past a missing terminator). */
int tb__valid_str(const char *s, size_t cap);
/* Allocates cap (a power of two) empty slots. 0 or TB_ENOMEM. */
int tb__index_init(tb__index *t, size_t cap);
/* Frees the slots. */
void tb__index_close(tb__index *t);
/* Records entry under hash (the caller has reserved room). */
void tb__index_put(tb__index *t, uint64_t hash, size_t entry);
/* Makes room for one more of the n entries (stride bytes each, hash first),
 * rebuilding a twice larger table when needed. 0 or TB_ENOMEM (t unchanged). */
int tb__index_reserve(tb__index *t, const void *entries, size_t stride, size_t n);
/* Returns arr with room for entry n (possibly moved, capacity doubled), or
 * NULL with arr untouched when out of memory. */
void *tb__reserve_one(void *arr, size_t *cap, size_t n, size_t size);

#endif
