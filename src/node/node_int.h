/* Internals of a distributed node (node.c and the node_*.c beside it):
 * the node itself, the items it buffers, and the functions the files share.
 * Not installed; tradebus/node.h is the interface. */
#ifndef TRADEBUS_DIST_NODE_INT_H
#define TRADEBUS_DIST_NODE_INT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "key.h"
#include "nstate.h"
#include "tradebus/marketdata.h"
#include "tradebus/node.h"

enum { PH_EVENTS = 0, PH_REPORTS = 1, PH_DONE = 2 };
enum { IT_EVENT, IT_REPORT, IT_END, IT_STATS };

/* The components that report on every step (signal, orders, positions,
 * risk, monitor: tb__node_proc_index()). */
#define NPROCS 5

typedef struct {
    int kind;
    uint64_t tag;
    tb__key key; /* events; reports and others use root/depth */
    int proc;    /* reports: index in procs; stats: index in all_roles */
    long counts[TB_EV_COUNT];
    tb_event ev;
    char id[TB_MSG_ID_LEN];
    char *body; /* events: codec JSON (for the state log); stats: the JSON */
    size_t len;
} item;

/* What the node waits for, and since when (node_wait.c). */
typedef struct {
    uint64_t place[6];            /* the protocol's place when the wait began */
    int64_t mono, wall;           /* when it began (ns: monotonic, wall clock) */
    int64_t away_mono, away_wall; /* when the broker became unreachable; 0 = it is not */
    int64_t next_log;             /* monotonic ns of the next stall line; 0 = none logged */
    char logged[160];             /* the processes the last stall line named */
    int stalled;                  /* stall holds what the node waits for */
    tb_node_stall stall;
} tb__node_wait;

typedef struct {
    tb_event ev;
    tb__key key;
    int keyed;
    char reason[TB_MSG_REASON_LEN]; /* dead letters only */
    int dead;
} outmsg;

struct tb_node {
    const tb_config *cfg;
    tb_node_options o;
    char *out_dir;
    char role[16];
    char name[TB_NODE_NAME_LEN]; /* the process: the role, or "signal-2" for a shard */
    int shard;                   /* 1-based signal shard, 0 = none */
    int role_ix;                 /* in all_roles */
    unsigned stands_for;         /* a component's process: the TB_ROLE_* bits it replaces */
    const char *owned[2];
    char run[64];
    tb_pipeline *p;
    FILE *events_f, *fills_f, *trades_f, *equity_f;
    tb_transport *t;
    uint32_t epoch;
    tb__nstate *st;

    char *bind[TB_TRANSPORT_MAX_BINDINGS];
    size_t nbind;
    int binds[TB_EV_COUNT]; /* 1 if the queue gets events of that type */

    /* the step protocol */
    uint64_t root;
    int depth, phase;
    long expected;
    int have_end;
    uint64_t total_roots;
    uint64_t end_tag;
    item *buf;
    size_t nbuf, capbuf;
    uint64_t *acks; /* to acknowledge after the next commit */
    size_t nacks, capacks;

    /* handling one event */
    tb__key cur;
    int in_step, in_oob, oob_failed, replaying;
    item *now; /* events to handle on arrival (run_now) */
    size_t nnow, capnow;
    int stream;               /* [bus] order = stream */
    uint64_t stream_bars;     /* stream order: market data handled */
    struct timespec last_msg; /* stream order: when the last message came */
    struct {
        uint64_t pub, max;
    } pubs[32]; /* highest event id taken per publisher (maybe_seen) */
    size_t npubs;
    int restarted;       /* the state file held a run */
    uint64_t unroutable; /* the transport's count, last seen */
    int child_ix[16];
    outmsg *out;
    size_t nout, capout;
    long counts[TB_EV_COUNT];
    uint64_t dead;

    /* feed */
    tb_md_merge *md;
    uint64_t published;
    int eof, end_sent;
    uint16_t node_id;

    /* monitor */
    tb_backtest_result res;
    int have_res;
    int resend; /* restarted after the end: send the result again */

    /* what it waits for */
    unsigned from; /* strict order: reporters (bits, tb__node_proc_index) that announced
                      events for this node's current step */
    int away;      /* the last poll found the broker unreachable */
    tb__node_wait wait;
};

/* arr with room for element n+1 (n used, *cap allocated; doubles from 64),
 * or NULL when out of memory (arr is then unchanged and still the caller's). */
static inline void *tb__node_room(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) return arr;
    size_t nc = *cap ? *cap * 2 : 64;
    void *na = realloc(arr, nc * elem);
    if (na) *cap = nc;
    return na;
}

/* node.c */
void tb__node_logf(tb_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Index of a reporting component in the fixed order, -1 if it is none. */
int tb__node_proc_index(const char *role);

/* node_out.c: sending */
int tb__node_outbox(const tb_event *ev, const char *publisher, void *ctx);
void tb__node_on_dead_letter(const tb_dead_letter *d, void *ctx);
int tb__node_publish_event(tb_node *n, const outmsg *m);
int tb__node_publish_json(tb_node *n, const char *rk, const char *id, const char *type,
                          const char *json);
int tb__node_publish_outs(tb_node *n);
int tb__node_flush(tb_node *n, char *err, size_t errlen);
void tb__node_ack_list(tb_node *n);
int tb__node_add_ack(tb_node *n, uint64_t tag);
int tb__node_commit(tb_node *n, const item *const *evs, size_t nev, uint64_t counter);

/* node_in.c: receiving */
int tb__node_take(tb_node *n, const tb_msg_in *m);
void tb__node_drop_item(tb_node *n, size_t i);

/* node_step.c: handling */
/* Hands one input event to the process's pipeline: market data first moves
 * the simulated clock to its time (timers due by then fire before it, as
 * tb_pipeline_push_bar does), and timers its handlers started for a past
 * time fire after it. What the timers publish counts as caused by it. */
int tb__node_deliver(tb_node *n, tb_event *ev);
int tb__node_run_now(tb_node *n, char *err, size_t errlen);
int tb__node_advance(tb_node *n, char *err, size_t errlen);
int tb__node_finish(tb_node *n, char *err, size_t errlen);
int tb__node_stream_done(tb_node *n, char *err, size_t errlen);
int tb__node_send_stats(tb_node *n, char *err, size_t errlen);

/* node_wait.c: after each poll, notes whether the node moved, what it
 * waits for, and logs a stall. */
void tb__node_watch(tb_node *n);

/* node_feed.c */
int tb__node_feed_can_publish(const tb_node *n);
int tb__node_feed_publish(tb_node *n, char *err, size_t errlen);

#endif
