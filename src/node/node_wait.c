/* What a node waits for. The step protocol knows at every moment what has
 * not come yet — a step report, a step's events, the next bar, a process's
 * result at the end — and from whom; when that has not changed for
 * stall_ms, the node is stalled: it names the processes, logs it, and
 * tb_node_stalled() tells the runner (metrics). A killed process is seen
 * this way within seconds by every process that waits for it. */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/timefmt_int.h"

/* Another stall line while it lasts, so a log shows it is still stuck. */
#define RELOG_NS INT64_C(10000000000)

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void add_name(tb_node_stall *s, const char *name)
{
    if (s->nawaited < TB_NODE_MAX_PROCS)
        snprintf(s->awaited[s->nawaited++], TB_NODE_NAME_LEN, "%.*s", TB_NODE_NAME_LEN - 1, name);
}

__attribute__((format(printf, 2, 3))) static void set_what(tb_node_stall *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->what, sizeof(s->what), fmt, ap);
    va_end(ap);
}

/* The reporters (tb__node_proc_index) in mask, by name. */
static void add_reporters(tb_node_stall *s, unsigned mask)
{
    for (const char *const *r = tb_node_roles(); *r; r++) {
        int p = tb__node_proc_index(*r);
        if (p >= 0 && (mask >> p & 1u)) add_name(s, *r);
    }
}

/* 1 if the monitor stands at the end of the run, gathering the results. */
static int gathering(const tb_node *n)
{
    if (strcmp(n->role, "monitor") != 0 || !n->have_end) return 0;
    if (n->stream) return n->stream_bars >= n->total_roots;
    return n->phase == PH_EVENTS && n->depth == 0 && n->root >= n->total_roots;
}

/* Fills s with what n waits for now; s->nawaited = 0 if nobody. */
static void awaited(const tb_node *n, tb_node_stall *s)
{
    s->nawaited = 0;
    s->what[0] = 0;
    if (n->phase == PH_DONE) return;
    if (gathering(n)) {
        char names[TB_NODE_MAX_PROCS][TB_NODE_NAME_LEN];
        size_t np = tb_node_processes(n->cfg, names, TB_NODE_MAX_PROCS);
        for (size_t i = 0; i < np; i++) {
            if (!strcmp(names[i], n->name)) continue;
            char id[TB_NODE_NAME_LEN + 8];
            snprintf(id, sizeof(id), "stats.%.*s", TB_NODE_NAME_LEN - 1, names[i]);
            int have = 0;
            for (size_t k = 0; k < n->nbuf && !have; k++)
                have = n->buf[k].kind == IT_STATS && !strcmp(n->buf[k].id, id);
            if (!have) add_name(s, names[i]);
        }
        set_what(s, "no result after the last bar (%llu)", (unsigned long long)n->total_roots);
        return;
    }
    if (n->stream) {
        /* Stream order has no steps: nothing but the feed's bars is owed to
         * a component, and the feed waits for nobody. */
        if (!n->p) return;
        if (!n->have_end)
            set_what(s, "no bar after bar %llu", (unsigned long long)n->stream_bars);
        else if (n->binds[TB_EV_MARKET_DATA] && !n->shard && n->stream_bars < n->total_roots)
            set_what(s, "bar %llu of %llu has not come", (unsigned long long)n->stream_bars,
                     (unsigned long long)n->total_roots);
        else
            return;
        add_name(s, "feed");
        return;
    }
    if (n->phase == PH_EVENTS && n->depth == 0) {
        add_name(s, "feed");
        set_what(s, "bar %llu has not come", (unsigned long long)n->root);
        return;
    }
    if (n->phase == PH_EVENTS) {
        long got = 0;
        for (size_t i = 0; i < n->nbuf; i++)
            got += n->buf[i].kind == IT_EVENT && n->buf[i].key.root == n->root &&
                   n->buf[i].key.depth == n->depth;
        add_reporters(s, n->from);
        set_what(s, "%ld of the %ld events of bar %llu (step %d) have come", got, n->expected,
                 (unsigned long long)n->root, n->depth);
        return;
    }
    /* PH_REPORTS: every reporter's report for the step, the feed's too
     * (it follows the steps to pace its window). */
    unsigned have = 0;
    for (size_t i = 0; i < n->nbuf; i++)
        if (n->buf[i].kind == IT_REPORT && n->buf[i].key.root == n->root &&
            n->buf[i].key.depth == n->depth)
            have |= 1u << n->buf[i].proc;
    add_reporters(s, ~have & ((1u << NPROCS) - 1));
    set_what(s, "no step report for bar %llu (step %d)", (unsigned long long)n->root, n->depth);
}

static void join_names(const tb_node_stall *s, char *out, size_t len)
{
    size_t at = 0;
    out[0] = 0;
    for (size_t i = 0; i < s->nawaited && at < len; i++)
        at += (size_t)snprintf(out + at, len - at, "%s%s", i ? ", " : "", s->awaited[i]);
}

void tb__node_watch(tb_node *n)
{
    tb__node_wait *w = &n->wait;
    int64_t mono = clock_ns(CLOCK_MONOTONIC);
    int64_t wall = clock_ns(CLOCK_REALTIME);
    /* The protocol's place: any change is progress. In stream order every
     * message is (no steps to go by). */
    uint64_t place[6] = {
        n->root,
        (uint64_t)n->depth << 8 | (uint64_t)n->phase,
        n->published,
        n->stream_bars,
        (uint64_t)n->have_end,
        n->stream ? (uint64_t)n->last_msg.tv_sec * 1000000000u + (uint64_t)n->last_msg.tv_nsec : 0};
    if (memcmp(place, w->place, sizeof(place)) != 0 || !w->mono) {
        if (w->next_log) {
            char names[sizeof(w->logged)];
            snprintf(names, sizeof(names), "%s", w->logged);
            tb__node_logf(n, "moving again after %lld s (waited for %s)",
                          (long long)((mono - w->mono) / 1000000000), names);
        }
        memcpy(w->place, place, sizeof(place));
        w->mono = mono;
        w->wall = wall;
        w->next_log = 0;
        w->logged[0] = 0;
    }
    if (n->away && !w->away_mono) {
        w->away_mono = mono;
        w->away_wall = wall;
    } else if (!n->away) {
        w->away_mono = w->away_wall = 0;
    }
    tb_node_stall *s = &w->stall;
    if (n->away) {
        s->nawaited = 0;
        add_name(s, "broker");
        set_what(s, "the broker is unreachable");
    } else {
        awaited(n, s);
    }
    int64_t since_mono = n->away ? w->away_mono : w->mono;
    s->since_ns = n->away ? w->away_wall : w->wall;
    s->waited_ns = mono - since_mono;
    int64_t limit = (int64_t)(n->o.stall_ms > 0 ? n->o.stall_ms : TB_NODE_STALL_MS) * 1000000;
    w->stalled = s->nawaited > 0 && s->waited_ns >= limit;
    if (!w->stalled) return;
    char names[sizeof(w->logged)];
    join_names(s, names, sizeof(names));
    if (w->next_log && mono < w->next_log && !strcmp(names, w->logged)) return;
    char at[16];
    tb__time_hms(s->since_ns, at, sizeof(at));
    tb__node_logf(n, "waiting for %s since %s UTC (%lld s): %s", names, at,
                  (long long)(s->waited_ns / 1000000000), s->what);
    snprintf(w->logged, sizeof(w->logged), "%s", names);
    w->next_log = mono + RELOG_NS;
}

int tb_node_stalled(const tb_node *n, tb_node_stall *s)
{
    if (!n || !n->wait.stalled) return 0;
    if (s) *s = n->wait.stall;
    return 1;
}
