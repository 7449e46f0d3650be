/* The feed process: reads the data files and publishes the bars, a window
 * ahead of the slowest process in strict order, as fast as confirms allow
 * in stream order. */
#define _POSIX_C_SOURCE 200809L
#include "node_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int feed_window(const tb_node *n)
{
    return n->o.window > 0 ? n->o.window : 64;
}

/* 1 if the feed could publish more bars right now: then a poll must not
 * wait for messages (in stream order nothing gates the feed, and waiting
 * there idled it for the whole poll timeout every few thousand bars). */
int tb__node_feed_can_publish(const tb_node *n)
{
    return n->md && !n->eof && n->o.rate <= 0 &&
           (n->stream || n->published < n->root + (uint64_t)feed_window(n));
}

int tb__node_feed_publish(tb_node *n, char *err, size_t errlen)
{
    int window = feed_window(n);
    int sent = 0, rc;
    /* Strict order: a window ahead of the slowest node. Stream order: in
     * batches, so that confirms are read between them. */
    while (!n->eof && (n->stream ? sent < 4096 : n->published < n->root + (uint64_t)window)) {
        tb_market_data bar;
        rc = tb_md_merge_next(n->md, &bar, err, errlen);
        if (rc == TB_EEOF) {
            n->eof = 1;
            break;
        }
        if (rc) return rc;
        outmsg m;
        memset(&m, 0, sizeof(m));
        tb_event_init(&m.ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
        /* The embedded run's id for its n-th bar: counter 0, sequence n. */
        m.ev.event_id = ((uint64_t)n->node_id << 48) | (n->published + 1);
        m.ev.correlation_id = m.ev.event_id;
        m.ev.timestamp = bar.close_time;
        m.ev.u.market_data = bar;
        m.keyed = !n->stream; /* stream order: handled on arrival */
        m.key.root = n->published;
        if ((rc = tb__node_publish_event(n, &m)) != 0) return rc;
        n->published++;
        sent++;
        if (n->o.rate > 0) {
            double s = 1.0 / n->o.rate;
            struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
            nanosleep(&ts, NULL);
            if ((rc = tb__node_flush(n, err, errlen)) != 0) return rc;
        }
    }
    if (n->eof && !n->end_sent) {
        char s[96];
        snprintf(s, sizeof(s), "{\"roots\":%llu,\"bad_rows\":%llu}",
                 (unsigned long long)n->published, (unsigned long long)tb_md_merge_bad_rows(n->md));
        if ((rc = tb__node_publish_json(n, "ctl.end", "end", "end", s)) != 0) return rc;
        n->end_sent = 1;
        n->have_end = 1;
        n->total_roots = n->published;
        sent++;
    }
    /* Strict order waits for its window's confirms; stream order lets the
     * transport bound what is unconfirmed, and confirms all at the end. */
    if (sent && (!n->stream || n->end_sent) && (rc = tb__node_flush(n, err, errlen)) != 0)
        return rc;
    if (n->have_end && (n->stream || n->root >= n->total_roots) && n->phase != PH_DONE)
        return tb__node_finish(n, err, errlen);
    return 0;
}
