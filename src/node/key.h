/* An event's place in a run: its key (see tradebus/node.h).
 *
 * root: the bar's index; depth: levels below the bar; path: for each level,
 * (rank of the publishing component, index among what it published while
 * handling the parent). Keys compare as the embedded bus dispatches:
 * by root, then depth, then path element by element. */
#ifndef TB_DIST_KEY_H
#define TB_DIST_KEY_H

#include <stddef.h>
#include <stdint.h>

#define TB_KEY_MAX_DEPTH 24

typedef struct {
    uint64_t root;
    int depth; /* path holds 2 * depth elements */
    uint16_t path[2 * TB_KEY_MAX_DEPTH];
} tb__key;

/* <0, 0, >0 like strcmp. */
int tb__key_cmp(const tb__key *a, const tb__key *b);
/* Step order only (root, depth). */
int tb__key_step_cmp(uint64_t ra, int da, uint64_t rb, int db);
/* child = parent + (rank, index). TB_ERANGE past TB_KEY_MAX_DEPTH. */
int tb__key_child(const tb__key *parent, int rank, int index, tb__key *child);
/* "root:depth:r.i.r.i" form; 0 or TB_ERANGE if buf is short. */
int tb__key_format(const tb__key *k, char *buf, size_t len);
/* Strict parse of the form above. 0 or TB_EPARSE. */
int tb__key_parse(const char *s, tb__key *k);

#endif
