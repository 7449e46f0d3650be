/* Prometheus metrics: live counters on the pipeline thread, a snapshot under
 * a mutex, rendering and an HTTP server thread: libmicrohttpd driven by our
 * own poll loop, which adds the whole-request deadline (see metrics.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "tradebus/metrics.h"
#include "tradebus/version.h"

#define ROLE_LEN        32
#define COMPONENT_LEN   32
#define MAX_RULES       16
#define STALL_LEN       640
#define TICK_EVERY      1024u
#define UPDATE_EVERY_NS INT64_C(100000000)
#define NSTATUS         (TB_ORDER_EXPIRED + 1)
#define NREASON         (TB_REJECT_DUPLICATE + 1)
#define NSTATE          (TB_TRADING_HALTED + 1)
/* Room for a burst: connections past a cap are accepted and closed at once,
 * and a full queue would drop a scraper's SYN for a second or more. */
#define LISTEN_BACKLOG 128

static const int64_t bucket_ns[TB_METRICS_BUCKETS] = TB_METRICS_BUCKET_BOUNDS_NS;
/* The bounds as Prometheus prints them (seconds), exact. */
static const char *const bucket_le[TB_METRICS_BUCKETS] = {
    "2.5e-07", "5e-07",   "1e-06",  "2.5e-06", "5e-06",  "1e-05", "2.5e-05", "5e-05",
    "0.0001",  "0.00025", "0.0005", "0.001",   "0.0025", "0.005", "0.01"};

typedef struct {
    char name[COMPONENT_LEN];
    uint64_t handled[TB_EV_COUNT], failed[TB_EV_COUNT];
    uint64_t buckets[TB_METRICS_BUCKETS + 1]; /* per bucket, not cumulative; last = +Inf */
    uint64_t count, sum_ns;
} component_stats;

/* Written only by the pipeline thread; copied whole into the snapshot. */
typedef struct {
    int observing;                                 /* an observer fed the fields below */
    uint64_t published[TB_SRC_COUNT][TB_EV_COUNT]; /* by publishing component and type */
    uint64_t order_status[NSTATUS];                /* orders that reached each status */
    uint64_t rejects[NREASON];
    char rules[MAX_RULES][TB_RULE_LEN];
    uint64_t rule_count[MAX_RULES];
    size_t nrules;
    uint64_t rules_other;
    int trading_state; /* -1 = unknown */
    int64_t last_bar_event_ns;
    component_stats comps[TB_METRICS_MAX_COMPONENTS + 1]; /* the last one is "other" */
    size_t ncomps;
} live_stats;

typedef struct {
    char strategy[TB_STRATEGY_LEN];
    char symbol[TB_SYMBOL_LEN];
    tb_decimal quantity, unrealized, realized;
} position_row;

typedef struct {
    uint64_t updates;
    int have_result, have_bus;
    tb_backtest_result r; /* positions not kept here: see pos */
    position_row *pos;
    size_t npos, pos_cap;
    tb_bus_counters bus[TB_EV_COUNT];
    size_t dead_letters;
    live_stats live;
    double updated_at, last_bar_at; /* wall clock, s; 0 = never */
    /* tb_metrics_set_stall, kept here to share the snapshot's lock */
    int stall_known;
    char stall_for[STALL_LEN]; /* "" = not stalled */
    double stall_since;
    int have_exchange; /* tb_metrics_set_exchange */
    tb_metrics_exchange exchange;
} snapshot;

struct tb_metrics {
    /* pipeline thread */
    live_stats live;
    tb_bus *bus;
    int sub_id;
    unsigned ticks;
    int64_t last_update_mono;
    uint64_t last_bars, last_bus_bars;
    double last_bar_at;
    /* shared */
    pthread_mutex_t lock;
    char role[ROLE_LEN];
    snapshot snap;
    /* server */
    struct MHD_Daemon *daemon;
    int port;
    pthread_t thread;
    int wake[2];             /* a byte on wake[1] stops the server thread */
    int64_t deadline_ns;     /* request_timeout_ms */
    struct conn_slot *conns; /* open connections; server thread only */
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int tb_metrics_create(tb_metrics **out)
{
    if (!out) return TB_EINVAL;
    *out = NULL;
    tb_metrics *m = calloc(1, sizeof(*m));
    if (!m) return TB_ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return TB_ENOMEM;
    }
    m->sub_id = -1;
    m->live.trading_state = -1;
    m->snap.live.trading_state = -1;
    strcpy(m->role, "backtest");
    *out = m;
    return 0;
}

void tb_metrics_destroy(tb_metrics *m)
{
    if (!m) return;
    tb_metrics_stop(m);
    tb_metrics_detach(m);
    free(m->snap.pos);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int tb_metrics_set_role(tb_metrics *m, const char *role)
{
    if (!m || !role || !*role || strlen(role) >= ROLE_LEN) return TB_EINVAL;
    for (const char *c = role; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return TB_EINVAL;
    pthread_mutex_lock(&m->lock);
    strcpy(m->role, role);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* ---- live counters (pipeline thread) ---- */

static void count_rule(live_stats *l, const char *rule)
{
    for (size_t i = 0; i < l->nrules; i++)
        if (strncmp(l->rules[i], rule, TB_RULE_LEN) == 0) {
            l->rule_count[i]++;
            return;
        }
    if (l->nrules == MAX_RULES) {
        l->rules_other++;
        return;
    }
    memcpy(l->rules[l->nrules], rule, TB_RULE_LEN);
    l->rules[l->nrules][TB_RULE_LEN - 1] = '\0';
    l->rule_count[l->nrules++] = 1;
}

/* Never fails: a failure would be retried and dead-lettered, changing the run. */
static int observe(const tb_event *ev, void *ctx)
{
    live_stats *l = &((tb_metrics *)ctx)->live;
    unsigned src = (unsigned)ev->source, type = (unsigned)ev->type;
    if (src < TB_SRC_COUNT && type < TB_EV_COUNT) l->published[src][type]++;
    switch (ev->type) {
    case TB_EV_MARKET_DATA:
        l->last_bar_event_ns = ev->timestamp;
        break;
    case TB_EV_ORDER_CREATED:
        if ((unsigned)ev->u.order_created.status < NSTATUS)
            l->order_status[ev->u.order_created.status]++;
        break;
    case TB_EV_ORDER_FILLED:
        if (ev->u.order_filled.status == TB_ORDER_FILLED) l->order_status[TB_ORDER_FILLED]++;
        break;
    case TB_EV_ORDER_REJECTED:
        l->order_status[TB_ORDER_REJECTED]++;
        if ((unsigned)ev->u.order_rejected.reason < NREASON)
            l->rejects[ev->u.order_rejected.reason]++;
        break;
    case TB_EV_ORDER_CANCELED:
        if ((unsigned)ev->u.order_canceled.status < NSTATUS)
            l->order_status[ev->u.order_canceled.status]++;
        break;
    case TB_EV_RISK_ALERT:
        if ((unsigned)ev->u.risk_alert.trading_state < NSTATE)
            l->trading_state = (int)ev->u.risk_alert.trading_state;
        count_rule(l, ev->u.risk_alert.rule);
        break;
    default:
        break;
    }
    return 0;
}

int tb_metrics_attach(tb_metrics *m, tb_bus *bus)
{
    if (!m || !bus) return TB_EINVAL;
    if (m->bus) return TB_EMISUSE;
    int id = tb_bus_subscribe_named(bus, TB_BUS_ALL, observe, m, "metrics");
    if (id < 0) return id;
    m->bus = bus;
    m->sub_id = id;
    m->live.observing = 1;
    if (m->live.trading_state < 0) m->live.trading_state = TB_TRADING_ACTIVE;
    return 0;
}

void tb_metrics_detach(tb_metrics *m)
{
    if (!m || !m->bus) return;
    tb_bus_unsubscribe(m->bus, m->sub_id);
    m->bus = NULL;
    m->sub_id = -1;
}

static component_stats *component(live_stats *l, const char *name)
{
    for (size_t i = 0; i < l->ncomps; i++)
        if (strncmp(l->comps[i].name, name, COMPONENT_LEN - 1) == 0) return &l->comps[i];
    component_stats *c = &l->comps[l->ncomps];
    if (l->ncomps == TB_METRICS_MAX_COMPONENTS) {
        strcpy(c->name, "other");
        return c;
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    l->ncomps++;
    return c;
}

void tb_metrics_record_handled(tb_metrics *m, const char *name, tb_event_type type, int rc,
                               int64_t ns)
{
    if (!m || !name) return;
    component_stats *c = component(&m->live, name);
    unsigned t = (unsigned)type < TB_EV_COUNT ? (unsigned)type : 0;
    c->handled[t]++;
    if (rc) c->failed[t]++;
    if (ns < 0) ns = 0;
    size_t b = 0;
    while (b < TB_METRICS_BUCKETS && ns > bucket_ns[b])
        b++;
    c->buckets[b]++;
    c->count++;
    c->sum_ns += (uint64_t)ns;
}

void tb_metrics_handled_hook(const char *component_name, tb_event_type type, int rc, int64_t ns,
                             void *ctx)
{
    tb_metrics_record_handled(ctx, component_name, type, rc, ns);
}

void tb_metrics_set_trading_state(tb_metrics *m, tb_trading_state s)
{
    if (m && (unsigned)s < NSTATE) m->live.trading_state = (int)s;
}

void tb_metrics_set_stall(tb_metrics *m, const char *awaited, double since)
{
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    m->snap.stall_known = 1;
    snprintf(m->snap.stall_for, sizeof(m->snap.stall_for), "%s", awaited ? awaited : "");
    m->snap.stall_since = since;
    pthread_mutex_unlock(&m->lock);
}

void tb_metrics_set_exchange(tb_metrics *m, const tb_metrics_exchange *x)
{
    if (!m || !x) return;
    pthread_mutex_lock(&m->lock);
    m->snap.have_exchange = 1;
    m->snap.exchange = *x;
    pthread_mutex_unlock(&m->lock);
}

/* ---- snapshot ---- */

static int copy_positions(snapshot *s, const tb_backtest_result *r)
{
    if (r->npositions > s->pos_cap) {
        position_row *p = realloc(s->pos, r->npositions * sizeof(*p));
        if (!p) return TB_ENOMEM;
        s->pos = p;
        s->pos_cap = r->npositions;
    }
    for (size_t i = 0; i < r->npositions; i++) {
        const tb_position_update *u = &r->positions[i];
        position_row *row = &s->pos[i];
        memcpy(row->strategy, u->strategy_id, sizeof(row->strategy));
        row->strategy[sizeof(row->strategy) - 1] = '\0';
        memcpy(row->symbol, u->symbol, sizeof(row->symbol));
        row->symbol[sizeof(row->symbol) - 1] = '\0';
        row->quantity = u->current_quantity;
        row->unrealized = u->unrealized_pnl;
        row->realized = r->total_realized ? r->total_realized[i] : u->realized_pnl;
    }
    s->npos = r->npositions;
    return 0;
}

/* Fills the snapshot; the caller holds the lock. */
static int publish_locked(tb_metrics *m, const tb_backtest_result *r, const tb_bus *bus, double now)
{
    snapshot *s = &m->snap;
    if (r) {
        int rc = copy_positions(s, r);
        if (rc) return rc;
        s->r = *r;
        s->r.positions = NULL;
        s->r.total_realized = NULL;
        s->have_result = 1;
    }
    if (bus) {
        for (int t = 0; t < TB_EV_COUNT; t++)
            s->bus[t] = tb_bus_get_counters(bus, (tb_event_type)t);
        s->dead_letters = tb_bus_dead_letter_count(bus);
        s->have_bus = 1;
    }
    s->live = m->live;
    s->updated_at = now;
    s->last_bar_at = m->last_bar_at;
    s->updates++;
    return 0;
}

/* Market data arrived since the last update: a wall-clock time for the
 * "no market data" alert without reading the clock per bar. */
static void note_bars(tb_metrics *m, const tb_backtest_result *r, const tb_bus *bus, double now)
{
    int moved = 0;
    if (r && r->bars != m->last_bars) {
        m->last_bars = r->bars;
        moved = 1;
    }
    if (bus) {
        uint64_t b = tb_bus_get_counters(bus, TB_EV_MARKET_DATA).published;
        if (b != m->last_bus_bars) {
            m->last_bus_bars = b;
            moved = 1;
        }
    }
    if (moved) m->last_bar_at = now;
}

static int update(tb_metrics *m, const tb_backtest_result *r, const tb_bus *bus, int wait)
{
    double now = wall_now();
    if (wait)
        pthread_mutex_lock(&m->lock);
    else if (pthread_mutex_trylock(&m->lock) != 0)
        return 0; /* a scrape is rendering: next tick */
    note_bars(m, r, bus, now);
    int rc = publish_locked(m, r, bus, now);
    pthread_mutex_unlock(&m->lock);
    m->last_update_mono = mono_now();
    return rc;
}

int tb_metrics_update(tb_metrics *m, const tb_backtest_result *r, const tb_bus *bus)
{
    if (!m) return TB_EINVAL;
    return update(m, r, bus, 1);
}

static int update_pipeline(tb_metrics *m, tb_pipeline *p, int wait)
{
    tb_backtest_result r;
    int rc = tb_pipeline_result(p, &r);
    if (!rc) rc = update(m, &r, tb_pipeline_bus(p), wait);
    tb_backtest_result_free(&r);
    return rc;
}

int tb_metrics_update_pipeline(tb_metrics *m, tb_pipeline *p)
{
    if (!m || !p) return TB_EINVAL;
    return update_pipeline(m, p, 1);
}

int tb_metrics_tick(tb_metrics *m, tb_pipeline *p)
{
    if (++m->ticks % TICK_EVERY) return 0;
    if (mono_now() - m->last_update_mono < UPDATE_EVERY_NS) return 0;
    return update_pipeline(m, p, 0);
}

int tb_metrics_on_start(tb_pipeline *p, void *ctx)
{
    tb_metrics *m = ctx;
    int rc = tb_metrics_attach(m, tb_pipeline_bus(p));
    if (!rc) rc = update_pipeline(m, p, 1);
    return rc;
}

int tb_metrics_on_bar(tb_pipeline *p, const tb_market_data *bar, void *ctx)
{
    (void)bar;
    return tb_metrics_tick(ctx, p);
}

int tb_metrics_on_end(tb_pipeline *p, const tb_backtest_result *res, void *ctx)
{
    return tb_metrics_update(ctx, res, tb_pipeline_bus(p));
}

void tb_metrics_on_stop(tb_pipeline *p, void *ctx)
{
    (void)p;
    tb_metrics_detach(ctx);
}

/* ---- rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
    const char *role;
} out_buf;

__attribute__((format(printf, 2, 3))) static void put(out_buf *o, const char *fmt, ...)
{
    if (o->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 > o->len + (size_t)n + 1 ? o->cap * 2 : o->len + (size_t)n + 1;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

/* A label value, escaped as the text format requires. */
static void put_value(out_buf *o, const char *v, size_t max)
{
    for (size_t i = 0; i < max && v[i]; i++) {
        char c = v[i];
        if (c == '\\')
            put(o, "\\\\");
        else if (c == '"')
            put(o, "\\\"");
        else if (c == '\n')
            put(o, "\\n");
        else
            put(o, "%c", c);
    }
}

static void family(out_buf *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{role="..."<labels>} ; labels: alternating key, value, NULL-terminated. */
static void series_start(out_buf *o, const char *name, const char *const *labels)
{
    put(o, "%s{role=\"", name);
    put_value(o, o->role, ROLE_LEN);
    put(o, "\"");
    for (size_t i = 0; labels && labels[i]; i += 2) {
        put(o, ",%s=\"", labels[i]);
        put_value(o, labels[i + 1], 256);
        put(o, "\"");
    }
    put(o, "} ");
}

static void sample_u(out_buf *o, const char *name, const char *const *labels, uint64_t v)
{
    series_start(o, name, labels);
    put(o, "%llu\n", (unsigned long long)v);
}

static void sample_d(out_buf *o, const char *name, const char *const *labels, double v)
{
    series_start(o, name, labels);
    put(o, "%.17g\n", v);
}

/* ns as exact decimal seconds. */
static void sample_ns(out_buf *o, const char *name, const char *const *labels, int64_t ns)
{
    series_start(o, name, labels);
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    put(o, "%s%llu.%09llu\n", ns < 0 ? "-" : "", (unsigned long long)(a / 1000000000u),
        (unsigned long long)(a % 1000000000u));
}

static void sample_dec(out_buf *o, const char *name, const char *const *labels, tb_decimal v)
{
    char s[TB_DECIMAL_STRLEN];
    if (tb_dec_format(v, s, sizeof(s)) <= 0) strcpy(s, "NaN");
    series_start(o, name, labels);
    put(o, "%s\n", s);
}

static void counter_u(out_buf *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    sample_u(o, name, NULL, v);
}

static void lower(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
    dst[i] = '\0';
}

static void render_bus(out_buf *o, const snapshot *s)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } fams[] = {
        {"tradebus_events_published_total", "Events published on this process's bus, by type.",
         offsetof(tb_bus_counters, published)},
        {"tradebus_events_delivered_total",
         "Deliveries of events to subscribers that succeeded, by type.",
         offsetof(tb_bus_counters, delivered)},
        {"tradebus_events_failed_total",
         "Deliveries of events to subscribers that failed (each attempt), by type.",
         offsetof(tb_bus_counters, failed)},
        {"tradebus_events_dead_lettered_total", "Events dead-lettered, by type.",
         offsetof(tb_bus_counters, dead_lettered)},
    };
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(o, fams[f].name, "counter", fams[f].help);
        for (int t = 1; t < TB_EV_COUNT; t++) {
            const char *labels[] = {"type", tb_event_type_name((tb_event_type)t), NULL};
            uint64_t v;
            memcpy(&v, (const char *)&s->bus[t] + fams[f].off, sizeof(v));
            sample_u(o, fams[f].name, labels, v);
        }
    }
    family(o, "tradebus_dead_letters", "gauge",
           "Dead letters held in memory by this process's bus (replayable).");
    const char *mem[] = {"store", "memory", NULL};
    sample_u(o, "tradebus_dead_letters", mem, s->dead_letters);
    if (s->have_result && s->r.dead_letter_queue >= 0) {
        const char *j[] = {"store", "journal", NULL};
        sample_u(o, "tradebus_dead_letters", j, (uint64_t)s->r.dead_letter_queue);
    }
}

static void render_live(out_buf *o, const snapshot *s)
{
    const live_stats *l = &s->live;
    if (l->observing) {
        const char *n = "tradebus_component_events_published_total";
        family(o, n, "counter", "Events published, by publishing component and type.");
        for (int c = 0; c < TB_SRC_COUNT; c++)
            for (int t = 1; t < TB_EV_COUNT; t++)
                if (l->published[c][t]) {
                    const char *labels[] = {"component", tb_source_name((tb_source)c), "type",
                                            tb_event_type_name((tb_event_type)t), NULL};
                    sample_u(o, n, labels, l->published[c][t]);
                }
        n = "tradebus_orders_total";
        family(o, n, "counter", "Orders that reached each status.");
        for (int st = TB_ORDER_NEW; st < NSTATUS; st++) {
            if (st == TB_ORDER_PARTIALLY_FILLED) continue; /* not an order's arrival state */
            char lbl[24];
            lower(lbl, sizeof(lbl), tb_order_status_name((tb_order_status)st));
            const char *labels[] = {"status", lbl, NULL};
            sample_u(o, n, labels, l->order_status[st]);
        }
        n = "tradebus_order_rejects_total";
        family(o, n, "counter", "Orders rejected, by reason.");
        for (int r = TB_REJECT_RISK; r < NREASON; r++) {
            char lbl[32];
            lower(lbl, sizeof(lbl), tb_reject_reason_name((tb_reject_reason)r));
            const char *labels[] = {"reason", lbl, NULL};
            sample_u(o, n, labels, l->rejects[r]);
        }
        n = "tradebus_risk_alerts_total";
        family(o, n, "counter", "Risk alerts published, by rule.");
        for (size_t i = 0; i < l->nrules; i++) {
            const char *labels[] = {"rule", l->rules[i], NULL};
            sample_u(o, n, labels, l->rule_count[i]);
        }
        if (l->rules_other) {
            const char *labels[] = {"rule", "other", NULL};
            sample_u(o, n, labels, l->rules_other);
        }
        if (l->last_bar_event_ns) {
            n = "tradebus_last_market_data_event_timestamp_seconds";
            family(o, n, "gauge", "Event time (close time) of the last bar, Unix seconds.");
            sample_ns(o, n, NULL, l->last_bar_event_ns);
        }
    }
    if (l->trading_state >= 0) {
        const char *n = "tradebus_trading_state";
        family(o, n, "gauge", "Risk Manager trading state: 1 for the current state, else 0.");
        for (int st = 0; st < NSTATE; st++) {
            char lbl[16];
            lower(lbl, sizeof(lbl), tb_trading_state_name((tb_trading_state)st));
            const char *labels[] = {"state", lbl, NULL};
            sample_u(o, n, labels, st == l->trading_state);
        }
    }
    const char *n = "tradebus_handler_events_total";
    family(o, n, "counter", "Events handled by each component's handler, by type.");
    for (size_t i = 0; i <= l->ncomps && i <= TB_METRICS_MAX_COMPONENTS; i++)
        for (int t = 0; t < TB_EV_COUNT; t++)
            if (l->comps[i].handled[t]) {
                const char *labels[] = {"component", l->comps[i].name, "type",
                                        t ? tb_event_type_name((tb_event_type)t) : "unknown", NULL};
                sample_u(o, n, labels, l->comps[i].handled[t]);
            }
    n = "tradebus_handler_failures_total";
    family(o, n, "counter", "Handler calls that returned an error, by component and type.");
    for (size_t i = 0; i <= l->ncomps && i <= TB_METRICS_MAX_COMPONENTS; i++)
        for (int t = 0; t < TB_EV_COUNT; t++)
            if (l->comps[i].failed[t]) {
                const char *labels[] = {"component", l->comps[i].name, "type",
                                        t ? tb_event_type_name((tb_event_type)t) : "unknown", NULL};
                sample_u(o, n, labels, l->comps[i].failed[t]);
            }
    family(o, "tradebus_handler_duration_seconds", "histogram",
           "Time a component's handler took per event.");
    for (size_t i = 0; i <= l->ncomps && i <= TB_METRICS_MAX_COMPONENTS; i++) {
        const component_stats *c = &l->comps[i];
        if (!c->count) continue;
        uint64_t cum = 0;
        for (int b = 0; b <= TB_METRICS_BUCKETS; b++) {
            cum += c->buckets[b];
            const char *labels[] = {"component", c->name, "le",
                                    b < TB_METRICS_BUCKETS ? bucket_le[b] : "+Inf", NULL};
            sample_u(o, "tradebus_handler_duration_seconds_bucket", labels, cum);
        }
        const char *labels[] = {"component", c->name, NULL};
        sample_ns(o, "tradebus_handler_duration_seconds_sum", labels, (int64_t)c->sum_ns);
        sample_u(o, "tradebus_handler_duration_seconds_count", labels, c->count);
    }
}

static void render_result(out_buf *o, const snapshot *s)
{
    const tb_backtest_result *r = &s->r;
    counter_u(o, "tradebus_bars_total", "Bars pushed into the pipeline.", r->bars);
    counter_u(o, "tradebus_bad_rows_total", "Market data rows skipped as malformed.", r->bad_rows);
    counter_u(o, "tradebus_signals_total", "Signals generated (HOLD excluded).", r->signals);
    counter_u(o, "tradebus_orders_placed_total", "Orders the Order Manager sent.", r->orders);
    counter_u(o, "tradebus_fills_total", "Executions (partial fills included).", r->fills);
    counter_u(o, "tradebus_orders_rejected_total", "Orders rejected (risk or exchange).",
              r->rejected);
    counter_u(o, "tradebus_orders_canceled_total", "Orders canceled or expired.", r->canceled);
    family(o, "tradebus_open_orders", "gauge", "Orders acknowledged and not yet terminal.");
    sample_u(o, "tradebus_open_orders", NULL, r->open_orders);
    family(o, "tradebus_fees_total", "counter", "Commissions paid, in the quote currency.");
    sample_dec(o, "tradebus_fees_total", NULL, r->fees);
    family(o, "tradebus_realized_pnl", "gauge", "Realized PnL (fees excluded), quote currency.");
    sample_dec(o, "tradebus_realized_pnl", NULL, r->realized_pnl);
    family(o, "tradebus_unrealized_pnl", "gauge", "Unrealized PnL at the last marks.");
    sample_dec(o, "tradebus_unrealized_pnl", NULL, r->unrealized_pnl);
    family(o, "tradebus_initial_equity", "gauge", "Equity at the start of the run.");
    sample_dec(o, "tradebus_initial_equity", NULL, r->initial_equity);
    family(o, "tradebus_equity", "gauge", "Equity: initial + realized + unrealized - fees.");
    sample_dec(o, "tradebus_equity", NULL, r->final_equity);
    family(o, "tradebus_max_drawdown_ratio", "gauge",
           "Largest drawdown from peak equity so far (0.125 = 12.5%).");
    /* pct / 100, exactly: the decimal's raw value has 10 digits of ratio. */
    int64_t raw = r->max_drawdown_pct;
    uint64_t a = raw < 0 ? (uint64_t)0 - (uint64_t)raw : (uint64_t)raw;
    series_start(o, "tradebus_max_drawdown_ratio", NULL);
    put(o, "%s%llu.%010llu\n", raw < 0 ? "-" : "", (unsigned long long)(a / 10000000000u),
        (unsigned long long)(a % 10000000000u));
    static const struct {
        const char *name, *help;
    } pf[] = {
        {"tradebus_position_quantity",
         "Net position (signed; < 0 short), per strategy and symbol."},
        {"tradebus_position_unrealized_pnl", "Unrealized PnL of the position at its mark."},
        {"tradebus_position_realized_pnl", "Realized PnL over every position of the pair."},
    };
    for (size_t f = 0; f < 3; f++) {
        family(o, pf[f].name, "gauge", pf[f].help);
        for (size_t i = 0; i < s->npos; i++) {
            const position_row *p = &s->pos[i];
            const char *labels[] = {"strategy", p->strategy, "symbol", p->symbol, NULL};
            tb_decimal v = f == 0 ? p->quantity : f == 1 ? p->unrealized : p->realized;
            sample_dec(o, pf[f].name, labels, v);
        }
    }
}

/* Computed at the scrape, not at the last update: a process stuck for
 * good (not even polling) still shows its wait growing. */
static void render_stall(out_buf *o, const snapshot *s)
{
    const char *n = "tradebus_node_stalled_seconds";
    family(o, n, "gauge",
           "Seconds this process of a distributed run has waited for the process named by "
           "waiting_for (0: it is not stalled).");
    if (!s->stall_for[0]) {
        sample_u(o, n, NULL, 0);
        return;
    }
    double secs = wall_now() - s->stall_since;
    if (secs < 0) secs = 0;
    const char *p = s->stall_for;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[STALL_LEN];
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        const char *labels[] = {"waiting_for", name, NULL};
        if (len) sample_d(o, n, labels, secs);
        p += len + (p[len] == ',');
    }
}

/* The age is the scrape's: a feed that went quiet shows it growing. */
static void render_exchange(out_buf *o, const snapshot *s)
{
    const tb_metrics_exchange *x = &s->exchange;
    family(o, "tradebus_market_streams", "gauge",
           "Market data streams of a live run, by state (connected, wanted).");
    const char *c[] = {"state", "connected", NULL}, *w[] = {"state", "wanted", NULL};
    sample_u(o, "tradebus_market_streams", c,
             (uint64_t)(x->streams_connected > 0 ? x->streams_connected : 0));
    sample_u(o, "tradebus_market_streams", w, (uint64_t)(x->streams > 0 ? x->streams : 0));
    if (x->last_message_at > 0) {
        double age = wall_now() - x->last_message_at;
        family(o, "tradebus_market_last_message_age_seconds", "gauge",
               "Seconds since the last market data message arrived.");
        sample_d(o, "tradebus_market_last_message_age_seconds", NULL, age < 0 ? 0 : age);
    }
    if (x->rest_latency_s >= 0) {
        family(o, "tradebus_rest_latency_seconds", "gauge", "The exchange's last REST round trip.");
        sample_d(o, "tradebus_rest_latency_seconds", NULL, x->rest_latency_s);
    }
    if (x->order_rtt_s >= 0) {
        family(o, "tradebus_order_round_trip_seconds", "gauge",
               "The last order request's round trip to the exchange.");
        sample_d(o, "tradebus_order_round_trip_seconds", NULL, x->order_rtt_s);
    }
    if (x->used_weight_1m >= 0) {
        family(o, "tradebus_exchange_used_weight_1m", "gauge",
               "Request weight used in the current minute, as the exchange last reported it.");
        sample_u(o, "tradebus_exchange_used_weight_1m", NULL, (uint64_t)x->used_weight_1m);
    }
    if (x->user_stream_open >= 0) {
        family(o, "tradebus_user_stream_open", "gauge",
               "1 while the exchange's user data stream (order updates) is subscribed.");
        sample_u(o, "tradebus_user_stream_open", NULL, (uint64_t)x->user_stream_open);
    }
}

static void render_locked(out_buf *o, const snapshot *s)
{
    family(o, "tradebus_info", "gauge", "Constant 1; the version of this process.");
    const char *v[] = {"version", TB_VERSION_STRING, NULL};
    sample_u(o, "tradebus_info", v, 1);
    family(o, "tradebus_metrics_updates_total", "counter", "Snapshots taken by the pipeline.");
    sample_u(o, "tradebus_metrics_updates_total", NULL, s->updates);
    if (s->updated_at > 0) {
        family(o, "tradebus_metrics_last_update_timestamp_seconds", "gauge",
               "Wall-clock time of the snapshot shown, Unix seconds.");
        sample_d(o, "tradebus_metrics_last_update_timestamp_seconds", NULL, s->updated_at);
    }
    if (s->last_bar_at > 0) {
        family(o, "tradebus_last_market_data_timestamp_seconds", "gauge",
               "Wall-clock time market data was last seen (to snapshot precision), Unix "
               "seconds.");
        sample_d(o, "tradebus_last_market_data_timestamp_seconds", NULL, s->last_bar_at);
    }
    if (s->stall_known) render_stall(o, s);
    if (s->have_exchange) render_exchange(o, s);
    if (s->have_bus) render_bus(o, s);
    render_live(o, s);
    if (s->have_result) render_result(o, s);
}

int tb_metrics_render(tb_metrics *m, char **text)
{
    if (!m || !text) return TB_EINVAL;
    *text = NULL;
    out_buf o = {.cap = 16384};
    o.buf = malloc(o.cap);
    if (!o.buf) return TB_ENOMEM;
    o.buf[0] = '\0';
    pthread_mutex_lock(&m->lock);
    o.role = m->role;
    render_locked(&o, &m->snap);
    pthread_mutex_unlock(&m->lock);
    if (o.oom) {
        free(o.buf);
        return TB_ENOMEM;
    }
    *text = o.buf;
    return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int tb_metrics_write_file(tb_metrics *m, const char *path, char *err, size_t errlen)
{
    if (!m || !path) return TB_EINVAL;
    char *text;
    int rc = tb_metrics_render(m, &text);
    if (rc) return rc;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(text);
        return TB_ENOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        set_err(err, errlen, "%s: %s", tmp, strerror(errno));
        rc = TB_EIO;
    } else {
        size_t len = strlen(text);
        int bad = fwrite(text, 1, len, f) != len;
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, path) != 0) {
            set_err(err, errlen, "%s: %s", path, strerror(errno));
            remove(tmp);
            rc = TB_EIO;
        }
    }
    free(tmp);
    free(text);
    return rc;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, int owned,
                             const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* One request per connection: the deadline then covers it whole, and an
     * idle keep-alive connection never holds one of the few slots. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    static char not_found[] = "not found: metrics are at /metrics\n";
    static char not_allowed[] = "method not allowed\n";
    static char oom[] = "out of memory\n";
    const char *plain = "text/plain; charset=utf-8";
    (void)upload_size;
    (void)req_cls;
    /* Answered on the first call, when the headers are in: libmicrohttpd
     * takes a response then or only after the whole body (one queued while
     * the body arrives is refused and the connection dropped unanswered).
     * The body is never read; the connection closes after the response. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, 0, plain);
    if (strcmp(url, "/metrics") != 0) return reply(c, MHD_HTTP_NOT_FOUND, not_found, 0, plain);
    char *text;
    if (tb_metrics_render(cls, &text) != 0)
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, oom, 0, plain);
    return reply(c, MHD_HTTP_OK, text, 1, "text/plain; version=0.0.4; charset=utf-8");
}

/* Binds the listening socket ourselves: MHD_start_daemon only says it
 * failed, and "port in use" deserves its own message. */
static int listen_on(const char *addr, int port, int *fd_out, int *port_out, char *err,
                     size_t errlen)
{
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(addr, service, &hints, &ai);
    if (g != 0) {
        set_err(err, errlen, "metrics address '%s': %s", addr, gai_strerror(g));
        return TB_EINVAL;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        set_err(err, errlen, "metrics socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return TB_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        if (e == EADDRINUSE)
            set_err(err, errlen, "port %d is in use: pick another with --metrics-port", port);
        else if (e == EACCES)
            set_err(err, errlen,
                    "port %d needs privileges: pick one above 1023 with --metrics-port", port);
        else
            set_err(err, errlen, "metrics server on %s:%d: %s", addr, port, strerror(e));
        close(fd);
        freeaddrinfo(ai);
        return e == EADDRNOTAVAIL ? TB_EINVAL : TB_EIO;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        set_err(err, errlen, "metrics socket: %s", strerror(errno));
        close(fd);
        return TB_EIO;
    }
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

/* A connection's deadline. libmicrohttpd only has an idle timeout, which
 * each byte resets (a client sending one byte a second holds its slot
 * forever): the server thread shuts a connection down once its deadline
 * passes, and libmicrohttpd, seeing the socket end, closes it. Only that
 * thread runs libmicrohttpd, so a slot's fd is never closed (and reused)
 * behind its back: the close and the CLOSED notification both happen
 * inside MHD_run. */
typedef struct conn_slot {
    struct conn_slot *next, **pprev;
    int fd;
    int shut; /* shut down at its deadline; closing */
    int64_t deadline;
} conn_slot;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    tb_metrics *m = cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_slot *s = *socket_context;
        if (!s) return;
        *s->pprev = s->next;
        if (s->next) s->next->pprev = s->pprev;
        free(s);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return;
    conn_slot *s = malloc(sizeof(*s));
    if (!s) {
        /* Out of memory: without a slot it would have no deadline. */
        shutdown(ci->connect_fd, SHUT_RDWR);
        return;
    }
    s->fd = ci->connect_fd;
    s->shut = 0;
    s->deadline = mono_now() + m->deadline_ns;
    s->next = m->conns;
    s->pprev = &m->conns;
    if (m->conns) m->conns->pprev = &s->next;
    m->conns = s;
    *socket_context = s;
}

/* Shuts down the connections past their deadline; the time to wait for the
 * next one or for libmicrohttpd's own timers, in ms (-1: none). */
static int reap(tb_metrics *m)
{
    int64_t now = mono_now(), wait = -1;
    for (conn_slot *s = m->conns; s; s = s->next) {
        if (s->shut) continue;
        if (s->deadline <= now) {
            shutdown(s->fd, SHUT_RDWR);
            s->shut = 1;
            continue;
        }
        int64_t left = (s->deadline - now + 999999) / 1000000;
        if (wait < 0 || left < wait) wait = left;
    }
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(m->daemon, &t) == MHD_YES && (wait < 0 || (int64_t)t < wait))
        wait = t > INT_MAX ? INT_MAX : (int64_t)t;
    return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* The server thread: libmicrohttpd's epoll fd (every socket of it, the
 * listening one included, all non-blocking) and the wake pipe, so no client
 * can block another or the stop. */
static void *serve_loop(void *arg)
{
    tb_metrics *m = arg;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd p[2] = {{di->epoll_fd, POLLIN, 0}, {m->wake[0], POLLIN, 0}};
    for (;;) {
        int wait = reap(m);
        if (poll(p, 2, wait) < 0 && errno != EINTR) wait = 10; /* should not happen */
        if (p[1].revents) break;
        MHD_run(m->daemon);
    }
    return NULL;
}

void tb_metrics_server_config_init(tb_metrics_server_config *cfg)
{
    if (!cfg) return;
    cfg->request_timeout_ms = TB_METRICS_DEFAULT_REQUEST_TIMEOUT_MS;
    cfg->max_connections = TB_METRICS_DEFAULT_MAX_CONNECTIONS;
    cfg->max_per_address = TB_METRICS_DEFAULT_MAX_PER_ADDRESS;
}

static int check_config(const tb_metrics_server_config *c, char *err, size_t errlen)
{
    if (c->request_timeout_ms < 1 || c->request_timeout_ms > 3600000) {
        set_err(err, errlen, "metrics request_timeout_ms %u is not in 1..3600000",
                c->request_timeout_ms);
        return TB_EINVAL;
    }
    if (c->max_connections < 1 || c->max_connections > 4096) {
        set_err(err, errlen, "metrics max_connections %u is not in 1..4096", c->max_connections);
        return TB_EINVAL;
    }
    if (c->max_per_address < 1 || c->max_per_address > c->max_connections) {
        set_err(err, errlen, "metrics max_per_address %u is not in 1..%u (max_connections)",
                c->max_per_address, c->max_connections);
        return TB_EINVAL;
    }
    return 0;
}

int tb_metrics_serve_config(tb_metrics *m, const char *addr, int port,
                            const tb_metrics_server_config *cfg, char *err, size_t errlen)
{
    if (!m) return TB_EINVAL;
    if (m->daemon) {
        set_err(err, errlen, "the metrics server is already running on port %d", m->port);
        return TB_EMISUSE;
    }
    tb_metrics_server_config def;
    if (!cfg) {
        tb_metrics_server_config_init(&def);
        cfg = &def;
    }
    int rc = check_config(cfg, err, errlen);
    if (rc) return rc;
    if (port < 0 || port > 65535) {
        set_err(err, errlen, "metrics port %d is not in 0..65535", port);
        return TB_EINVAL;
    }
    if (!addr || !*addr) addr = TB_METRICS_DEFAULT_ADDR;
    int fd, bound;
    rc = listen_on(addr, port, &fd, &bound, err, errlen);
    if (rc) return rc;
    if (pipe(m->wake) != 0) {
        set_err(err, errlen, "metrics server: %s", strerror(errno));
        close(fd);
        return TB_EIO;
    }
    fcntl(m->wake[0], F_SETFD, FD_CLOEXEC);
    fcntl(m->wake[1], F_SETFD, FD_CLOEXEC);
    m->deadline_ns = (int64_t)cfg->request_timeout_ms * 1000000;
    m->conns = NULL;
    /* The idle timeout (whole seconds) is only a backstop behind the
     * deadline. MHD closes fd in MHD_stop_daemon; on a failed start it
     * stays ours. */
    unsigned idle_s = (cfg->request_timeout_ms + 999) / 1000;
    m->daemon = MHD_start_daemon(
        MHD_USE_EPOLL, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_per_address, MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, m, MHD_OPTION_END);
    if (m->daemon && pthread_create(&m->thread, NULL, serve_loop, m) != 0) {
        MHD_stop_daemon(m->daemon); /* closes fd */
        m->daemon = NULL;
        fd = -1;
    }
    if (!m->daemon) {
        if (fd >= 0) close(fd);
        close(m->wake[0]);
        close(m->wake[1]);
        set_err(err, errlen, "metrics server on %s:%d could not start", addr, bound);
        return TB_EIO;
    }
    m->port = bound;
    return 0;
}

int tb_metrics_serve(tb_metrics *m, const char *addr, int port, char *err, size_t errlen)
{
    return tb_metrics_serve_config(m, addr, port, NULL, err, errlen);
}

int tb_metrics_port(const tb_metrics *m)
{
    return m && m->daemon ? m->port : 0;
}

void tb_metrics_stop(tb_metrics *m)
{
    if (!m || !m->daemon) return;
    (void)!write(m->wake[1], "x", 1);
    pthread_join(m->thread, NULL);
    /* Closes every connection, notifying each: the slots are freed. */
    MHD_stop_daemon(m->daemon);
    close(m->wake[0]);
    close(m->wake[1]);
    m->daemon = NULL;
    m->port = 0;
}
