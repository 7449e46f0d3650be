/* tradebus — Prometheus metrics (docs/monitoring.md lists every metric).
 *
 * The pipeline is single-threaded and must stay allocation-free per bar, so
 * metrics are gathered in two halves:
 *
 * - the pipeline thread owns the live counters: an optional bus observer
 *   (tb_metrics_attach: events per publishing component, orders by status,
 *   rejects by reason, risk alerts, the trading state, the last bar's time)
 *   and the handler timings (tb_metrics_record_handled, fed by a bus hook).
 *   Both only increment fixed arrays: no lock, no allocation;
 * - every so often (tb_metrics_tick: every 100 ms at most, checked every
 *   1024 bars) the pipeline thread copies the live counters, the run's
 *   result (tb_pipeline_result) and the bus counters into a snapshot under a
 *   mutex. tb_metrics_render() — and the HTTP server's thread, which serves
 *   GET /metrics — format the latest snapshot in Prometheus text format
 *   (version 0.0.4).
 *
 * So a scrape never touches the pipeline, and shows its state as of the
 * last update (tradebus_metrics_last_update_timestamp_seconds).
 *
 * Thread-safety: tb_metrics_render, tb_metrics_write_file and the server are
 * safe from any thread. Everything else is for the pipeline thread (the one
 * that owns the bus), including tb_metrics_destroy. */
#ifndef TRADEBUS_METRICS_H
#define TRADEBUS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "backtest.h"
#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_metrics tb_metrics;

#define TB_METRICS_DEFAULT_ADDR "127.0.0.1"
/* Components tracked by name for handler timings; more are summed as "other". */
#define TB_METRICS_MAX_COMPONENTS 16
/* Upper bounds (ns) of the handler-latency histogram buckets; +Inf follows. */
#define TB_METRICS_BUCKETS 15
#define TB_METRICS_BUCKET_BOUNDS_NS                                                                \
    {                                                                                              \
        250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, \
            5000000, 10000000                                                                      \
    }

/* Creates an empty metrics object (role "backtest", no server). 0,
 * TB_EINVAL (out NULL), TB_ENOMEM. Free with tb_metrics_destroy(). */
TB_EXPORT int tb_metrics_create(tb_metrics **out);
/* Stops the server (joining its thread), detaches the observer and frees
 * everything. Call it before destroying the bus it is attached to. NULL is a
 * no-op. */
TB_EXPORT void tb_metrics_destroy(tb_metrics *m);

/* Sets the role label every series carries: "backtest" (default), or a
 * distributed process's role ("signal", "orders", "positions", "risk",
 * "monitor", "feed"). Copied. 0, or TB_EINVAL (NULL, empty, longer than 31,
 * or not [a-z0-9_-]). */
TB_EXPORT int tb_metrics_set_role(tb_metrics *m, const char *role);

/* Subscribes an observer (named "metrics", all types) to bus (borrowed; it
 * must outlive the attachment). It publishes nothing and never fails, so
 * event ids, order and results are unchanged; it costs one handler call per
 * event. Only for a bus that holds a whole pipeline: on a distributed node
 * an all-types subscriber would bind the node's queue to every event.
 * 0, TB_EMISUSE (already attached), TB_ENOMEM. */
TB_EXPORT int tb_metrics_attach(tb_metrics *m, tb_bus *bus);
/* Unsubscribes the observer; its counts stay. No-op if not attached. */
TB_EXPORT void tb_metrics_detach(tb_metrics *m);

/* Records that component's handler took ns nanoseconds on an event of type
 * and returned rc (non-zero counts as a failed delivery). Allocation-free;
 * pipeline thread. component is compared by content (not kept). */
TB_EXPORT void tb_metrics_record_handled(tb_metrics *m, const char *component, tb_event_type type,
                                         int rc, int64_t ns);
/* The same with the tb_metrics as ctx: the shape of a bus "handled" hook. */
TB_EXPORT void tb_metrics_handled_hook(const char *component, tb_event_type type, int rc,
                                       int64_t ns, void *ctx);
/* Sets the trading state shown when no observer sees RiskAlerts (a runner
 * that has it from a getter). */
TB_EXPORT void tb_metrics_set_trading_state(tb_metrics *m, tb_trading_state s);

/* A process of a distributed run says it is stalled (tb_node_stalled):
 * awaited names the processes it waits for, comma-separated ("positions",
 * "positions,risk"), since is when the wait began (wall clock, Unix
 * seconds); awaited NULL or "" = it is not stalled. Once called, every
 * render has tradebus_node_stalled_seconds: per awaited process, labelled
 * waiting_for, the seconds from since to the scrape; or one series at 0.
 * Copied (up to 639 bytes). Any thread; cheap (a lock, no allocation). */
TB_EXPORT void tb_metrics_set_stall(tb_metrics *m, const char *awaited, double since);

/* A live run's connection to its exchange (tradebus live), for the
 * gauges tradebus_market_streams{state}, tradebus_market_last_message_age_seconds,
 * tradebus_rest_latency_seconds, tradebus_order_round_trip_seconds,
 * tradebus_exchange_used_weight_1m and tradebus_user_stream_open. */
typedef struct {
    int streams, streams_connected; /* market streams wanted, and open now */
    double last_message_at;         /* wall clock (Unix s) of the last market message; 0 = none */
    double rest_latency_s;          /* the last REST round trip; < 0 = unknown */
    double order_rtt_s;             /* the last order request's round trip; < 0 = unknown */
    int64_t used_weight_1m;         /* X-MBX-USED-WEIGHT-1M last seen; < 0 = unknown */
    int user_stream_open;           /* 1 or 0; < 0 = no user stream (paper mode) */
} tb_metrics_exchange;

/* Sets the live exchange gauges (copied; the message age is computed at
 * each scrape). Once called, every render has them. Any thread; cheap. */
TB_EXPORT void tb_metrics_set_exchange(tb_metrics *m, const tb_metrics_exchange *x);

/* Publishes a snapshot: r (may be NULL; copied, positions included), bus
 * counters and dead letters (bus may be NULL) and the live counters.
 * Blocks while a scrape is being rendered. 0, TB_ENOMEM (the previous
 * snapshot stays). */
TB_EXPORT int tb_metrics_update(tb_metrics *m, const tb_backtest_result *r, const tb_bus *bus);
/* tb_pipeline_result() + tb_metrics_update(); allocates (call it every
 * 100 ms or so, not per bar). 0, or tb_pipeline_result's error. */
TB_EXPORT int tb_metrics_update_pipeline(tb_metrics *m, tb_pipeline *p);
/* Cheap per-bar call: every 1024th call reads the monotonic clock and, if
 * 100 ms passed since the last update (and no scrape is rendering), calls
 * tb_metrics_update_pipeline. Returns 0 or its error. */
TB_EXPORT int tb_metrics_tick(tb_metrics *m, tb_pipeline *p);

/* tb_backtest_options hooks (hook_ctx = the tb_metrics): on_start attaches
 * to the pipeline's bus, on_bar ticks, on_end publishes the final result,
 * on_stop detaches. A runner with its own hooks calls them from its own. */
TB_EXPORT int tb_metrics_on_start(tb_pipeline *p, void *ctx);
TB_EXPORT int tb_metrics_on_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx);
TB_EXPORT int tb_metrics_on_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx);
TB_EXPORT void tb_metrics_on_stop(tb_pipeline *p, void *ctx);

/* The latest snapshot in Prometheus text format, NUL-terminated, into *text
 * (malloc'd; the caller frees). Any thread. 0, TB_EINVAL, TB_ENOMEM. */
TB_EXPORT int tb_metrics_render(tb_metrics *m, char **text);
/* Renders into path atomically (path.tmp, then rename), e.g. for
 * node_exporter's textfile collector. 0, TB_ENOMEM, TB_EIO with err set. */
TB_EXPORT int tb_metrics_write_file(tb_metrics *m, const char *path, char *err, size_t errlen);

/* Limits of the HTTP server (see tb_metrics_serve_config). */
#define TB_METRICS_DEFAULT_REQUEST_TIMEOUT_MS 5000
#define TB_METRICS_DEFAULT_MAX_CONNECTIONS    64
#define TB_METRICS_DEFAULT_MAX_PER_ADDRESS    8

typedef struct {
    /* A connection is closed this long after it was accepted, whatever it
     * is doing: sending its request slowly (each byte does not extend it)
     * or reading the response slowly. 1..3600000. */
    unsigned request_timeout_ms;
    /* Open connections in all; past it, new ones wait in the kernel's
     * listen queue until one closes. 1..4096. */
    unsigned max_connections;
    /* Open connections from one client address; one more is closed at once,
     * unanswered. 1..max_connections. */
    unsigned max_per_address;
} tb_metrics_server_config;

/* Fills cfg with the TB_METRICS_DEFAULT_* limits. */
TB_EXPORT void tb_metrics_server_config_init(tb_metrics_server_config *cfg);

/* Serves GET /metrics (HEAD too: the same without the body) on addr:port
 * from an HTTP server thread (libmicrohttpd, driven by a poll loop of ours
 * that enforces cfg's deadline); other paths get 404, every other method
 * 405 with "Allow: GET, HEAD" (answered without reading a body). Each
 * response closes its connection. addr is a host or numeric address, NULL =
 * TB_METRICS_DEFAULT_ADDR (loopback only); port 0 = any free port (see
 * tb_metrics_port); cfg NULL = the defaults (copied). 0; TB_EINVAL (bad
 * port, address or limit, err says); TB_EIO with err "port 9100 is in use:
 * pick another with --metrics-port" or the system's reason; TB_EMISUSE if
 * already serving. */
TB_EXPORT int tb_metrics_serve_config(tb_metrics *m, const char *addr, int port,
                                      const tb_metrics_server_config *cfg, char *err,
                                      size_t errlen);
/* tb_metrics_serve_config with the default limits. */
TB_EXPORT int tb_metrics_serve(tb_metrics *m, const char *addr, int port, char *err, size_t errlen);
/* The port being served, or 0 when not serving. */
TB_EXPORT int tb_metrics_port(const tb_metrics *m);
/* Stops the server and joins its thread. No-op if not serving. */
TB_EXPORT void tb_metrics_stop(tb_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
