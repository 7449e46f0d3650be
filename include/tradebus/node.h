/* tradebus — a process of a distributed run.
 *
 * In distributed mode every component runs in its own process (a node),
 * connected to the others only through a broker (tb_transport). A run must
 * give exactly the events, fills, positions and PnL of the embedded run, so
 * nodes reproduce the embedded bus's order instead of racing:
 *
 * - The embedded bus dispatches breadth-first: a bar (the root) is
 *   dispatched to its subscribers, then everything that caused, level by
 *   level. Every event carries its place in that order, its key: the bar's
 *   index (root), its level (depth) and its path (for each level, the rank
 *   of the component that published it and the index among what that
 *   component published while handling its parent). Keys sort exactly as the
 *   embedded bus would have dispatched the events.
 * - A run advances in steps (root, depth). In a step, each node handles the
 *   events of that step it subscribes to, in key order, then publishes what
 *   its handlers published (keyed one level deeper) and a report: how many
 *   events of each type it published. When a node has every node's report
 *   for the step, it knows how many events of the next step it will get.
 *   A step in which nobody publishes anything ends the root. The feed
 *   publishes bars a bounded window ahead of the slowest node.
 * - Each node has its own SQLite state: the events it handled, in order,
 *   with their ids (one transaction per step, committed after what the step
 *   published was confirmed by the broker and before its input is acked).
 *   A restarted node re-executes its logged events to rebuild its
 *   components (publishing nothing), then goes on where it stopped; an
 *   event seen again (redelivered, or resent after a reconnect) is
 *   recognised by its step or id and acknowledged without effect.
 * - An event without a key (injected by hand, or a dead letter replayed) is
 *   handled when it arrives, outside the sequence; if a handler fails on it,
 *   it is given back to the broker, which dead-letters it after the queue's
 *   delivery limit. A message that cannot be decoded goes the same way.
 *
 * [bus] order = stream gives that order up for speed: every event is handled
 * on arrival, in batches (one confirm wait, one transaction, per batch);
 * per-queue FIFO still keeps each symbol's bars in order, but a signal may
 * reach the Order Manager after the next bar does, so results can differ
 * from the embedded run's (docs/scaling.md).
 *
 * Ids stay the embedded run's because the bus numbers each component's
 * events on its own counter (tb_bus_config.publishers). */
#ifndef TRADEBUS_NODE_H
#define TRADEBUS_NODE_H

#include <stddef.h>
#include <stdint.h>
#include "backtest.h"
#include "loop.h"
#include "config.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_node tb_node;

typedef struct {
    const char *role;       /* "signal", "orders", "positions", "risk", "monitor" or "feed" */
    const char *state_path; /* this node's SQLite state file (created); required */
    const char *out_dir;    /* monitor: summary.json, fills.csv, events.jsonl go here */
    double rate;            /* feed: bars per second at most; 0 = as fast as the run goes */
    int window;             /* feed: bars published ahead of the slowest node; 0 = 64 */
    /* Progress and warnings, one line each, without a newline; NULL = silent. */
    void (*log)(const char *line, void *ctx);
    void *log_ctx;
    const volatile int *stop; /* unused (kept for source compatibility) */
    /* The process's event loop (borrowed): its component's clock and timers
     * (simulated, moved by the market data it receives), and where its
     * runner watches SIGINT/SIGTERM. NULL: the node makes its own. */
    tb_loop *loop;
    /* A restart under a changed config (a fix deployed mid-run): the saved
     * events are re-executed under the new config instead of the change
     * being refused. If the change alters what they produce, the run's
     * results are no longer the embedded run's. */
    int accept_config_change;
    /* signal with [bus] signal_shards: which shard (1..n) this process is;
     * its queue is <name>.signal-N, bound to its symbols only. Else 0. */
    int shard;
    /* Called for every event the node publishes, as it goes to the broker
     * (for latency measurements); may be NULL. */
    void (*on_publish)(const tb_event *ev, void *ctx);
    void *on_publish_ctx;
    /* How long the node waits for another process (a step report, a bar,
     * events, a result) before it calls itself stalled: it logs which
     * process it waits for, and tb_node_stalled() says so. 0 =
     * TB_NODE_STALL_MS. */
    int stall_ms;
    /* A [component.NAME] program (external.h) as its own process: the name
     * (role is then ignored). Its process takes the place of the built-ins
     * it replaces (it reports on every step for each of them), so in a
     * distributed run a component must replace at least one. Its queue and
     * state file are named NAME. */
    const char *component;
} tb_node_options;

#define TB_NODE_STALL_MS 3000

/* The roles a distributed run is made of, NULL-terminated. */
TB_EXPORT const char *const *tb_node_roles(void);
#define TB_NODE_NAME_LEN 24
/* Most processes a run has (every role, the signal role per shard). */
#define TB_NODE_MAX_PROCS (TB_MAX_SHARDS + 6)
/* The processes of cfg's run, feed last: each role, the signal role once
 * per [bus] signal_shards entry ("signal-1", ...); a [component.NAME] that
 * replaces built-ins in the place of the first of them (named NAME), and
 * those built-ins not. Fills up to max names; returns how many. A
 * process's name is its queue's and state file's. */
TB_EXPORT size_t tb_node_processes(const tb_config *cfg, char names[][TB_NODE_NAME_LEN],
                                   size_t max);

/* Builds the node's components from cfg (borrowed for the node's life) and
 * opens (or, after a crash, reopens and re-executes) its state. TB_ECONFIG
 * for an unknown role or a state file of another config/run (err says which
 * and how to start afresh), TB_EIO for an unusable state file. Free with
 * tb_node_destroy(). */
TB_EXPORT int tb_node_create(const tb_config *cfg, const tb_node_options *o, tb_node **out,
                             char *err, size_t errlen);
/* The topic patterns the node's queue must be bound to (borrowed). */
TB_EXPORT size_t tb_node_bindings(const tb_node *n, const char *const **patterns);
/* Gives the node its transport (borrowed; must outlive the node's use of it). */
TB_EXPORT void tb_node_attach(tb_node *n, tb_transport *t);
/* Does what can be done now, waiting at most timeout_ms for a message.
 * Returns 0 (call again), 1 (the run is over for this node: results sent;
 * the monitor has written its files), or a negative TB_E* code with err set
 * (TB_ECONN only after the broker stayed unreachable; calling again retries). */
TB_EXPORT int tb_node_poll(tb_node *n, int timeout_ms, char *err, size_t errlen);
/* Bars finished by this node (strict order: every step of them; stream
 * order: handled, or for the feed published), and the total once the feed
 * has said (else 0). */
TB_EXPORT uint64_t tb_node_roots_done(const tb_node *n);
TB_EXPORT uint64_t tb_node_roots_total(const tb_node *n);
/* What a stalled node waits for. A node is stalled when the run's
 * protocol has not moved for it for options.stall_ms: in strict order, a
 * step report, a step's events or the next bar that has not come; in stream
 * order, no message at all before the feed's end; at the end, the monitor
 * missing a process's result. */
typedef struct {
    /* The processes it waits for (their names, as tb_node_processes()
     * gives them), or the one name "broker" while the broker is
     * unreachable. */
    size_t nawaited;
    char awaited[TB_NODE_MAX_PROCS][TB_NODE_NAME_LEN];
    /* What has not come, e.g. "no step report for bar 3313 (step 2)". */
    char what[160];
    int64_t since_ns;  /* when the wait began: wall clock, ns since 1970 */
    int64_t waited_ns; /* how long it has lasted */
} tb_node_stall;

/* 1 and *s filled if the node is stalled (as of its last tb_node_poll()),
 * else 0 (it is moving, waits less than stall_ms, or is done). The node
 * also logs it, through options.log: "waiting for positions since 03:14:07
 * UTC (3 s): no step report for bar 3313 (step 2)" once stall_ms have
 * passed, again every 10 s and whenever what it waits for changes, and
 * "moving again after 42 s (waited for positions)" when it ends. */
TB_EXPORT int tb_node_stalled(const tb_node *n, tb_node_stall *s);

/* The monitor node's merged result once tb_node_poll() returned 1 (borrowed;
 * NULL before, or on other roles). */
TB_EXPORT const tb_backtest_result *tb_node_result(const tb_node *n);
/* The node's components (borrowed; NULL for the feed), e.g. for metrics. */
TB_EXPORT tb_pipeline *tb_node_pipeline(tb_node *n);
/* Reads a node's state file without opening the node: bars finished, and
 * whether the node is done. 0, TB_EIO (not a state file). */
TB_EXPORT int tb_node_state_read(const char *state_path, uint64_t *bars, int *done);
/* Frees the node (not its transport). NULL is a no-op. */
TB_EXPORT void tb_node_destroy(tb_node *n);

#ifdef __cplusplus
}
#endif
#endif
