/* tradebus — a program in any language as a component of the run.
 *
 * `[component.NAME] command = ...` (config.h) makes a program a component:
 * tradebus starts it with /bin/sh -c, writes each event it subscribes to
 * on its stdin and reads the events it publishes from its stdout. The
 * protocol (docs/components.md), one JSON object per line:
 *
 *   tradebus -> program   the event, exactly as the codec writes it
 *                         (codec.h; the lines of events.jsonl)
 *   program -> tradebus   zero or more events it publishes, each
 *                         {"type":"...","payload":{...}} with optional
 *                         "timestamp" (default: the input's) and
 *                         "version" (1); then the end of the reply,
 *                         {"end":"<the input's event_id>"}
 *
 * and, when the run is over, end of file on its stdin: it then exits 0.
 * The program never sets ids, causation, correlation or source: each event
 * it publishes gets the next id of the component's own counter, the input
 * event as its cause, the input's correlation and source "external", so
 * `journal trace` walks through it like any other component. A reply is
 * awaited before the next event is written: a backtest through a program
 * is as deterministic as the program.
 *
 * What the program does wrong is named, never silently dropped:
 *  - a line that is not a valid event, or an event of a type it does not
 *    publish, or a line longer than max_line: the input event is
 *    dead-lettered under the component's name with "stdout line N: why"
 *    (the other events of the reply are published); with stop_on_bad_event
 *    the component fails instead;
 *  - it exits or is killed, does not answer (or read) within timeout, ends
 *    a reply with another event's id, or writes more than max_reply events
 *    in one reply: the component fails. tb_external_failure() then says
 *    what happened with the program's command, its exit status or signal
 *    and the last event it was given; the program is killed and every
 *    later delivery fails at once.
 * Its stderr is passed on line by line to cfg.log (name and line).
 * cfg.window > 1 lets events run ahead of replies (see the field).
 * Not thread-safe: one bus, one thread. */
#ifndef TRADEBUS_EXTERNAL_H
#define TRADEBUS_EXTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_external tb_external;

/* Receives one line the program wrote on stderr (without its newline),
 * borrowed for the call. */
typedef void (*tb_external_log_fn)(const char *name, const char *line, void *ctx);

#define TB_EXTERNAL_TIMEOUT_NS (10 * 1000000000LL) /* default per-reply timeout */
#define TB_EXTERNAL_MAX_LINE   65536               /* default longest line */
#define TB_EXTERNAL_MAX_REPLY  10000               /* default events in one reply */
#define TB_EXTERNAL_MAX_WINDOW 4096                /* largest window */

typedef struct {
    const char *name;      /* its subscriber name on the bus and in logs (copied) */
    const char *command;   /* run by /bin/sh -c in the current directory (copied) */
    unsigned subscribes;   /* 1u << type for every type it is given */
    unsigned publishes;    /* 1u << type for every type it may publish */
    int64_t timeout_ns;    /* per reply, and for exiting after its input ends; 0 = the default */
    size_t max_line;       /* longest line read (bytes, newline excluded); 0 = the default */
    size_t max_reply;      /* most events in one reply; 0 = the default */
    int stop_on_bad_event; /* 1: a bad line fails the component instead of a dead letter */
    /* Events written before their replies are read: 1 (0 = 1) is one at a
     * time, each reply published as the event's own handler returns. With
     * N > 1 the reply to an event is read, and its events published, when
     * the event N-1 deliveries later is written (or when the run ends):
     * still deterministic, N-1 events late, and N times fewer waits — for
     * programs whose events nothing needs at once (observers, alerts). A
     * bad line then fails the component (the event it answered was handled
     * long ago: there is nothing to dead-letter). At most
     * TB_EXTERNAL_MAX_WINDOW. */
    size_t window;
    tb_external_log_fn log; /* NULL: "NAME: line" on stderr */
    void *log_ctx;
} tb_external_config;

/* Fills cfg with the defaults (no name, no command, no types). */
TB_EXPORT void tb_external_config_init(tb_external_config *cfg);
/* Starts the program and subscribes it to cfg->subscribes on bus (borrowed:
 * it must outlive the component). 0; TB_EINVAL (no name, command or type,
 * a type out of range), TB_ENOMEM, TB_EIO (it could not be started: err
 * says why). Free with tb_external_destroy(). */
TB_EXPORT int tb_external_create(tb_bus *bus, const tb_external_config *cfg, tb_external **out,
                                 char *err, size_t errlen);
/* What made the component fail (static for its life), or NULL while it works. */
TB_EXPORT const char *tb_external_failure(const tb_external *x);
/* The run is over: closes the program's stdin and waits (cfg.timeout_ns)
 * for it to exit. 0 when it exited with status 0; TB_EHANDLER otherwise
 * (or if it had failed), with tb_external_failure() saying why. */
TB_EXPORT int tb_external_finish(tb_external *x);
/* Events given to the program and answered, and lines it wrote that were
 * not valid events (each dead-lettered or, with stop_on_bad_event, fatal). */
TB_EXPORT uint64_t tb_external_round_trips(const tb_external *x);
TB_EXPORT uint64_t tb_external_bad_lines(const tb_external *x);
/* Unsubscribes, kills the program if it still runs (its whole process
 * group) and frees. NULL is a no-op. */
TB_EXPORT void tb_external_destroy(tb_external *x);

#ifdef __cplusplus
}
#endif
#endif
