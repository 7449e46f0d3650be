#include <stdlib.h>
#include <string.h>

#include "keyindex.h"
#include "tradebus/error.h"

static uint64_t hash_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    /* Separator: ("ab","c") and ("a","bc") must not collide. */
    h ^= 0xffu;
    h *= 1099511628211ull;
    return h;
}

uint64_t tb__hash_key(const char *strategy_id, const char *symbol)
{
    uint64_t h = 14695981039346656037ull;
    if (strategy_id) h = hash_str(h, strategy_id);
    return hash_str(h, symbol);
}

int tb__valid_str(const char *s, size_t cap)
{
    return s[0] != '\0' && memchr(s, '\0', cap) != NULL;
}

int tb__index_init(tb__index *t, size_t cap)
{
    t->slots = calloc(cap, sizeof(*t->slots));
    if (!t->slots) return TB_ENOMEM;
    t->cap = cap;
    return 0;
}

void tb__index_close(tb__index *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
}

void tb__index_put(tb__index *t, uint64_t hash, size_t entry)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)hash & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = (uint32_t)(entry + 1);
}

int tb__index_reserve(tb__index *t, const void *entries, size_t stride, size_t n)
{
    if ((n + 1) * 2 <= t->cap) return 0;
    tb__index nt;
    int rc = tb__index_init(&nt, t->cap * 2);
    if (rc) return rc;
    for (size_t e = 0; e < n; e++) {
        uint64_t h;
        memcpy(&h, (const char *)entries + e * stride, sizeof(h));
        tb__index_put(&nt, h, e);
    }
    free(t->slots);
    *t = nt;
    return 0;
}

void *tb__reserve_one(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return arr;
    void *na = realloc(arr, *cap * 2 * size);
    if (na) *cap *= 2;
    return na;
}
