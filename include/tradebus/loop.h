/* tradebus — the event loop and its clock.
 *
 * One loop per process (libuv underneath): timers, signals and, for live
 * adapters, sockets. Components read the time only from the loop's clock
 * and never wait inside a handler: what must happen later ("retry this
 * order at T") is a timer.
 *
 * Two clocks, one API:
 *  - TB_CLOCK_SIMULATED (a backtest): time stands still until market data
 *    moves it. The runner calls tb_loop_advance(loop, t) before it delivers
 *    an event stamped t; every timer due at or before t fires first, in
 *    order of due time (then of start), each told its own due time. Nothing
 *    sleeps, so a backtest runs as fast as it can and is deterministic.
 *  - TB_CLOCK_WALL (paper and live): the time is CLOCK_REALTIME and timers
 *    fire when that time comes, while tb_loop_run() or tb_loop_poll() runs.
 * The same component code runs on both.
 *
 * Times are nanoseconds since the Unix epoch, as event timestamps are.
 * Not thread-safe: a loop belongs to the thread that runs it. */
#ifndef TRADEBUS_LOOP_H
#define TRADEBUS_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_loop tb_loop;

typedef enum {
    TB_CLOCK_SIMULATED = 0, /* advanced by market data (backtests) */
    TB_CLOCK_WALL = 1       /* the system's real-time clock (paper, live) */
} tb_clock_kind;

/* A timer's callback: at is the time it was due (on the simulated clock the
 * loop's time may already be later, when it was started for a past time). */
typedef void (*tb_timer_fn)(void *ctx, int64_t at);

/* SIGINT or SIGTERM arrived (signum says which), delivered on the loop. */
typedef void (*tb_signal_fn)(void *ctx, int signum);

typedef uint64_t tb_timer_id; /* 0 is never a timer */

/* Creates a loop with the given clock into *out (the caller destroys it).
 * TB_ENOMEM; TB_EIO if libuv cannot set up the loop. A simulated clock
 * starts at time 0 and moves only through tb_loop_advance(). */
TB_EXPORT int tb_loop_create(tb_clock_kind clock, tb_loop **out);
/* Stops every timer and signal watch and frees the loop; NULL is a no-op.
 * Pending timers do not fire. */
TB_EXPORT void tb_loop_destroy(tb_loop *loop);
/* The loop's clock kind. */
TB_EXPORT tb_clock_kind tb_loop_clock(const tb_loop *loop);
/* The current time, ns since the epoch (simulated: the latest time the loop
 * was advanced to, or the due time of the timer firing, whichever is later). */
TB_EXPORT int64_t tb_loop_now(const tb_loop *loop);

/* Starts a one-shot timer calling fn(ctx, at) when the clock reaches at (a
 * past at fires at the next advance or poll). *id (may be NULL) identifies
 * it for tb_loop_timer_stop. Starting from inside a callback is allowed.
 * TB_EINVAL without fn; TB_ENOMEM. */
TB_EXPORT int tb_loop_timer_start(tb_loop *loop, int64_t at, tb_timer_fn fn, void *ctx,
                                  tb_timer_id *id);
/* Stops a timer that has not fired; TB_ENOTFOUND if it fired or is unknown. */
TB_EXPORT int tb_loop_timer_stop(tb_loop *loop, tb_timer_id id);
/* Timers started and not yet fired. */
TB_EXPORT size_t tb_loop_timers(const tb_loop *loop);
/* Due time of the earliest pending timer into *at; TB_ENOTFOUND if none. */
TB_EXPORT int tb_loop_next_due(const tb_loop *loop, int64_t *at);

/* Simulated clock: fires, in order, every timer due at or before to
 * (including those their callbacks start), then sets the time to to if that
 * is later. Returns how many fired; TB_EMISUSE on a wall clock. */
TB_EXPORT int tb_loop_advance(tb_loop *loop, int64_t to);
/* Simulated clock: fires every pending timer, whatever its due time, as if
 * time ran on until none is left (the end of a backtest's data). Returns how
 * many fired; TB_EMISUSE on a wall clock. */
TB_EXPORT int tb_loop_drain(tb_loop *loop);

/* Delivers SIGINT and SIGTERM to fn on the loop (from inside
 * tb_loop_poll/run) instead of their default action, until the loop is
 * destroyed (they then have their default action again). One watcher per
 * loop: a second call replaces the first. A watched loop has something to
 * wait for: tb_loop_run() returns only on tb_loop_stop(). TB_EIO if libuv
 * refuses. */
TB_EXPORT int tb_loop_watch_signals(tb_loop *loop, tb_signal_fn fn, void *ctx);
/* Runs what is ready (signals, sockets, due wall-clock timers) without
 * waiting. Returns 0. */
TB_EXPORT int tb_loop_poll(tb_loop *loop);
/* Runs until tb_loop_stop() (or nothing is left to wait for). Returns 0. */
TB_EXPORT int tb_loop_run(tb_loop *loop);
/* Makes tb_loop_run() return after the current callback. */
TB_EXPORT void tb_loop_stop(tb_loop *loop);

/* The libuv loop underneath, for adapters that add sockets (a live
 * exchange's HTTP and WebSocket clients). Owned by the loop. */
TB_EXPORT struct uv_loop_s *tb_loop_uv(tb_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
