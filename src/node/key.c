/* Event keys: the embedded bus's dispatch order, written down. */
#include "key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/error.h"

int tb__key_step_cmp(uint64_t ra, int da, uint64_t rb, int db)
{
    if (ra != rb) return ra < rb ? -1 : 1;
    if (da != db) return da < db ? -1 : 1;
    return 0;
}

int tb__key_cmp(const tb__key *a, const tb__key *b)
{
    int c = tb__key_step_cmp(a->root, a->depth, b->root, b->depth);
    if (c) return c;
    for (int i = 0; i < 2 * a->depth; i++)
        if (a->path[i] != b->path[i]) return a->path[i] < b->path[i] ? -1 : 1;
    return 0;
}

int tb__key_child(const tb__key *parent, int rank, int index, tb__key *child)
{
    if (parent->depth >= TB_KEY_MAX_DEPTH || rank < 0 || rank > 0xFFFF || index < 0 ||
        index > 0xFFFF)
        return TB_ERANGE;
    *child = *parent;
    child->path[2 * parent->depth] = (uint16_t)rank;
    child->path[2 * parent->depth + 1] = (uint16_t)index;
    child->depth = parent->depth + 1;
    return 0;
}

int tb__key_format(const tb__key *k, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%llu:%d:", (unsigned long long)k->root, k->depth);
    if (n < 0 || (size_t)n >= len) return TB_ERANGE;
    size_t off = (size_t)n;
    for (int i = 0; i < 2 * k->depth; i++) {
        n = snprintf(buf + off, len - off, "%s%u", i ? "." : "", (unsigned)k->path[i]);
        if (n < 0 || (size_t)n >= len - off) return TB_ERANGE;
        off += (size_t)n;
    }
    return 0;
}

/* A decimal number without sign or leading garbage, up to max. */
static int num(const char **s, unsigned long long max, unsigned long long *out)
{
    if (**s < '0' || **s > '9') return TB_EPARSE;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*s, &end, 10);
    if (errno || v > max) return TB_EPARSE;
    *s = end;
    *out = v;
    return 0;
}

int tb__key_parse(const char *s, tb__key *k)
{
    unsigned long long v;
    memset(k, 0, sizeof(*k));
    if (num(&s, UINT64_MAX, &v) || *s++ != ':') return TB_EPARSE;
    k->root = v;
    if (num(&s, TB_KEY_MAX_DEPTH, &v) || *s++ != ':') return TB_EPARSE;
    k->depth = (int)v;
    for (int i = 0; i < 2 * k->depth; i++) {
        if (i && *s++ != '.') return TB_EPARSE;
        if (num(&s, 0xFFFF, &v)) return TB_EPARSE;
        k->path[i] = (uint16_t)v;
    }
    return *s ? TB_EPARSE : 0;
}
