/* A node's durable state (SQLite): what it has handled, so a restarted
 * process rebuilds its components and goes on without doing anything twice.
 *
 *   meta(k, v)      role, run, config hash: a state file serves one run
 *   progress        one row: the step the node stands at and its phase
 *   handled(seq, root, depth, id UNIQUE, body)
 *                   every event handled, in the order handled (root -1:
 *                   outside the sequence), with the codec JSON to re-execute */
#ifndef TB_DIST_NSTATE_H
#define TB_DIST_NSTATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb__nstate tb__nstate;

typedef struct {
    uint64_t root;
    int depth;
    int phase;        /* the node's own phase codes */
    uint64_t counter; /* a role's own number (the feed: bars published) */
    uint64_t dead;    /* dead letters of this node's components */
} tb__nprogress;

/* Opens or creates path. TB_ECONFIG (err names the mismatch) if it holds
 * another role's, run's or (unless config_may_change, which records the new
 * one) config's state; TB_EIO otherwise. *fresh = 1 when nothing was there. */
int tb__nstate_open(const char *path, const char *role, const char *run, uint64_t cfg_hash,
                    int config_may_change, tb__nstate **out, int *fresh, char *err, size_t errlen);
void tb__nstate_close(tb__nstate *s);
/* Reads the progress of a state file, read-only. 0 or TB_EIO. */
int tb__nstate_peek(const char *path, tb__nprogress *p);
int tb__nstate_progress(tb__nstate *s, tb__nprogress *p);
/* Calls fn for every handled event in order; stops at fn's non-zero. */
int tb__nstate_each(tb__nstate *s, int (*fn)(const char *body, size_t len, void *ctx), void *ctx);
/* 1 if an event with this id was handled. */
int tb__nstate_handled(tb__nstate *s, const char *id);
/* One transaction: begin, add handled events, set progress, commit. */
int tb__nstate_begin(tb__nstate *s);
int tb__nstate_add(tb__nstate *s, int64_t root, int depth, const char *id, const char *body,
                   size_t len);
int tb__nstate_set(tb__nstate *s, const tb__nprogress *p);
int tb__nstate_commit(tb__nstate *s);
void tb__nstate_rollback(tb__nstate *s);
/* Last SQLite message. */
const char *tb__nstate_errmsg(tb__nstate *s);

#endif
