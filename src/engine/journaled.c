/* A backtest's journal and --resume (the design is in journaled.h). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../core/errbuf.h"
#include "journaled.h"
#include "tradebus/codec.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct tb__jrun {
    tb_journal *j;
    tb_bus *bus;
    int sub;
    long commit_every, bars_since_commit;
    int64_t commit_ns;      /* least wall-clock time between two commits; 0: none */
    int64_t last_commit_ns; /* CLOCK_MONOTONIC of the last commit */
    int64_t target;         /* events the journal held when the run started */
    int64_t seen;           /* events dispatched by this run */
    tb_journal_cursor *cur; /* while replaying: the journal's events, in order */
    char *buf;              /* a re-executed event, encoded for the comparison */
    const char *path;       /* cfg's, borrowed: messages */
    int created;            /* the journal did not exist before this run */
    int mismatch;           /* TB_ECONFIG / TB_EPARSE once the replay diverged */
    char why[400];          /* ... and why */
    int replaying;
    int rc;                /* first append failure, reported after the bar */
    const tb_md_merge *md; /* the run's data (tb__jrun_watch), borrowed */
    int64_t held;          /* events in the journal at open */
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The file of a data spec: "SYMBOL:path" as the reader parses it. */
static const char *spec_path(const char *spec)
{
    size_t i = 0;
    while ((spec[i] >= 'A' && spec[i] <= 'Z') || (spec[i] >= '0' && spec[i] <= '9'))
        i++;
    return i >= 1 && i < TB_SYMBOL_LEN && spec[i] == ':' && spec[i + 1] ? spec + i + 1 : spec;
}

/* One line per data file, "SIZE MTIME_NS PATH" (-1 -1 for what is not a
 * regular file: a pipe has neither). The config hash holds the paths; this
 * holds what they contained, as far as size and time tell. Malloc'd. */
static char *data_fingerprint(const tb_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return NULL;
    for (size_t i = 0; i < cfg->ndata; i++) {
        const char *path = spec_path(cfg->data[i]);
        struct stat st;
        long long size = -1, mtime = -1;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            size = (long long)st.st_size;
            mtime = (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
        fprintf(m, "%lld %lld %s\n", size, mtime, path);
    }
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Refuses a resume over data that is not what the journaled run read. */
static int check_data(const char *path, const char *have, const char *want, char *err,
                      size_t errlen)
{
    while (*have && *want) {
        long long hs, hm, ws, wm;
        int hn = 0, wn = 0;
        if (sscanf(have, "%lld %lld %n", &hs, &hm, &hn) != 2 ||
            sscanf(want, "%lld %lld %n", &ws, &wm, &wn) != 2)
            break;
        const char *he = strchr(have, '\n'), *we = strchr(want, '\n');
        if (!he || !we) break;
        if (hs != ws || hm != wm) {
            tb__errf(err, errlen,
                     "data changed since the journaled run: %.*s (%s): resuming would mix two "
                     "datasets in journal %s; restore the data, or start a new journal",
                     (int)(we - (want + wn)), want + wn,
                     hs != ws ? "its size differs" : "it was modified since", path);
            return TB_ECONFIG;
        }
        have = he + 1;
        want = we + 1;
    }
    if (*have || *want) {
        tb__errf(err, errlen,
                 "data changed since the journaled run: the data files differ from those "
                 "journal %s recorded; restore the data, or start a new journal",
                 path);
        return TB_ECONFIG;
    }
    return 0;
}

/* "LINES HASH PATH" per data file: what the run has read so far, hashed
 * while reading. Stored with every commit, so it describes exactly the
 * bars the journal holds; a resume that reaches the journal's end must
 * have read the same lines. Malloc'd; NULL without memory. */
static char *data_digest(const tb_md_merge *md)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return NULL;
    uint64_t lines, hash;
    const char *file;
    for (size_t i = 0; tb_md_merge_digest(md, i, &lines, &hash, &file) == 0; i++)
        fprintf(m, "%" PRIu64 " %016" PRIx64 " %s\n", lines, hash, file);
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Records the digest of what the run has read, in the transaction the next
 * commit ends. */
static int save_digest(tb__jrun *r)
{
    if (!r->md || r->replaying) return 0;
    char *d = data_digest(r->md);
    int rc = d ? tb_journal_meta_set(r->j, "data_digest", d) : TB_ENOMEM;
    free(d);
    return rc;
}

/* At the journal's end: the re-run must have read the very lines the
 * journaled run had read (a file changed with its size and time kept, or
 * in a way no event shows, is caught here). */
static int check_digest(tb__jrun *r, char *err, size_t errlen)
{
    char *then = malloc(65536), *now = r->md ? data_digest(r->md) : NULL;
    int rc = then && (now || !r->md) ? 0 : TB_ENOMEM;
    /* A journal from before digests has none: nothing to compare. */
    if (rc || !r->md || tb_journal_meta_get(r->j, "data_digest", then, 65536) != 0) {
        free(then);
        free(now);
        return rc;
    }
    const char *a = then, *b = now;
    while (*a || *b) {
        const char *ae = strchr(a, '\n'), *be = strchr(b, '\n');
        if (!ae || !be) break;
        if (ae - a != be - b || memcmp(a, b, (size_t)(ae - a)) != 0) {
            /* Named by this run's reading of the file: its path. */
            const char *file = strchr(b, ' ');
            file = file ? strchr(file + 1, ' ') : NULL;
            file = file ? file + 1 : b;
            tb__errf(err, errlen,
                     "data changed since the journaled run: %.*s (its content differs in the "
                     "rows the journal was made from): resuming would mix two datasets in "
                     "journal %s; restore the data, or start a new journal",
                     (int)(be - file), file, r->path);
            rc = TB_ECONFIG;
            break;
        }
        a = ae + 1;
        b = be + 1;
    }
    if (!rc && (*a || *b)) {
        tb__errf(err, errlen,
                 "data changed since the journaled run: the data files differ from those "
                 "journal %s recorded; restore the data, or start a new journal",
                 r->path);
        rc = TB_ECONFIG;
    }
    free(then);
    free(now);
    return rc;
}

void tb__jrun_watch(tb__jrun *r, const tb_md_merge *md)
{
    if (r) r->md = md;
}

/* "live" or "backtest": what wrote the journal (absent: a backtest, from
 * before kinds were recorded). */
static const char *kind_of(int flags)
{
    return flags & TB__JRUN_LIVE ? "live" : "backtest";
}

/* The checks and bookkeeping of a live run's journal that holds a run:
 * resume appends a session, nothing is re-executed. */
static int open_live_session(tb__jrun *r, const tb_config *cfg, char *err, size_t errlen)
{
    char n[32] = "1";
    (void)tb_journal_meta_get(r->j, "sessions", n, sizeof(n));
    char next[32];
    snprintf(next, sizeof(next), "%ld", strtol(n, NULL, 10) + 1);
    int rc = tb_journal_meta_set(r->j, "sessions", next);
    if (!rc) rc = tb_journal_meta_set(r->j, "status", "running");
    if (!rc) rc = tb_journal_commit(r->j);
    if (rc) tb__errf(err, errlen, "journal %s: %s", cfg->journal_path, tb_journal_errmsg(r->j));
    return rc;
}

int tb__jrun_open(const tb_config *cfg, int flags, tb__jrun **out, char *err, size_t errlen)
{
    int resume = flags & TB__JRUN_RESUME, live = flags & TB__JRUN_LIVE;
    tb__jrun *r = calloc(1, sizeof(*r));
    if (!r) return TB_ENOMEM;
    r->sub = -1;
    r->commit_every = cfg->journal_commit_every > 0 ? cfg->journal_commit_every : 1000;
    r->commit_ns = cfg->journal_commit_ms > 0 ? cfg->journal_commit_ms * 1000000LL : 0;
    /* Live, a bar is a minute, not a microsecond: each is committed unless
     * the config says otherwise (a crash then loses none), whoever runs it
     * (the CLI or a program calling tb_live_run). */
    if (live && !tb_config_value(cfg, "journal", "commit_every", NULL)) r->commit_every = 1;
    if (live && !tb_config_value(cfg, "journal", "commit_ms", NULL)) r->commit_ns = 0;
    r->last_commit_ns = mono_ns();
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = cfg->journal_path;
    jc.sync = (tb_journal_sync)cfg->journal_sync;
    jc.exclusive = 1; /* one run at a time: a second would collide on every id */
    r->path = cfg->journal_path;
    struct stat st;
    r->created = stat(cfg->journal_path, &st) != 0 || st.st_size == 0;
    int rc = tb_journal_open(&jc, &r->j, err, errlen);
    if (rc) {
        free(r);
        return rc;
    }
    char want[32], have[64];
    snprintf(want, sizeof(want), "%016" PRIx64, tb_config_hash(cfg));
    r->target = tb_journal_count(r->j);
    int has_hash = tb_journal_meta_get(r->j, "config_hash", have, sizeof(have)) == 0;
    char kind[16] = "backtest";
    (void)tb_journal_meta_get(r->j, "kind", kind, sizeof(kind));
    r->held = r->target;
    if ((has_hash || r->target > 0) && strcmp(kind, kind_of(flags)) != 0) {
        tb__errf(err, errlen,
                 "%s holds a %s run (`tradebus %s`): a %s run cannot record into it or "
                 "continue it; give a new journal file",
                 cfg->journal_path, kind, kind, kind_of(flags));
        rc = TB_ECONFIG;
    } else if (r->target > 0 && !resume) {
        tb__errf(err, errlen,
                 "%s already holds a run (%lld events): add --resume to continue it, or "
                 "give a new journal file",
                 cfg->journal_path, (long long)r->target);
        rc = TB_ECONFIG;
    } else if (has_hash && strcmp(have, want) != 0) {
        tb__errf(err, errlen,
                 "%s was written by a run with another config or data (fingerprint %s, "
                 "this run %s): resuming it would mix two runs; use a new journal file",
                 cfg->journal_path, have, want);
        rc = TB_ECONFIG;
    } else if (live && r->target > 0) {
        rc = open_live_session(r, cfg, err, errlen);
        r->target = 0; /* appended after the journal's events, none re-executed */
    } else if (has_hash && r->target > 0) {
        char *now = data_fingerprint(cfg), *then = malloc(65536);
        rc = now && then ? 0 : TB_ENOMEM;
        /* A journal from before data fingerprints has none: the event
         * comparison of the replay still stands guard. */
        if (!rc && tb_journal_meta_get(r->j, "data", then, 65536) == 0)
            rc = check_data(cfg->journal_path, then, now, err, errlen);
        free(now);
        free(then);
    } else if (!has_hash) {
        char *data = data_fingerprint(cfg);
        rc = data ? tb_journal_meta_set(r->j, "config_hash", want) : TB_ENOMEM;
        if (!rc) rc = tb_journal_meta_set(r->j, "data", data);
        if (!rc) rc = tb_journal_meta_set(r->j, "kind", kind_of(flags));
        free(data);
        if (!rc) rc = tb_journal_meta_set(r->j, "status", "running");
        if (!rc) rc = tb_journal_commit(r->j);
        if (rc) tb__errf(err, errlen, "journal %s: %s", cfg->journal_path, tb_journal_errmsg(r->j));
    }
    if (!rc && r->target > 0) {
        /* Resume re-reads what it re-executes: every journaled event is
         * decoded and compared with the re-run's, byte for byte. */
        r->buf = malloc(4096);
        rc = r->buf ? tb_journal_cursor_open(r->j, 0, &r->cur) : TB_ENOMEM;
        if (rc) tb__errf(err, errlen, "journal %s: %s", cfg->journal_path, tb_journal_errmsg(r->j));
    }
    if (rc) {
        if (r->created)
            tb_journal_discard(r->j);
        else
            tb_journal_close(r->j);
        free(r->buf);
        free(r);
        return rc;
    }
    r->replaying = r->target > 0;
    *out = r;
    return 0;
}

tb_journal *tb__jrun_journal(tb__jrun *r)
{
    return r->j;
}

int64_t tb__jrun_held(const tb__jrun *r)
{
    return r->held;
}

int64_t tb__jrun_queue_size(tb__jrun *r)
{
    return tb_journal_dlq_count(r->j);
}

int tb__jrun_replaying(const tb__jrun *r)
{
    return r->replaying;
}

void tb__jrun_dead_letter(const tb_dead_letter *d, void *ctx)
{
    tb__jrun *r = ctx;
    /* A replayed dead letter is already in the queue from the first run. */
    if (r->replaying) return;
    int rc = tb_journal_dlq_add(r->j, d, wall_ns());
    if (rc && !r->rc) r->rc = rc;
}

/* A re-executed event against the journal's next one: it must decode and
 * be the same bytes. The first difference is kept, reported after the bar. */
static void compare(tb__jrun *r, const tb_event *ev)
{
    tb_event stored;
    const char *json;
    size_t len;
    int rc = tb_journal_cursor_next(r->cur, &stored, &json, &len);
    if (rc == TB_EPARSE || (rc && rc != TB_EEOF)) {
        r->mismatch = rc == TB_EPARSE ? TB_EPARSE : rc;
        snprintf(r->why, sizeof(r->why),
                 "journal %s cannot be resumed: %s: the journal is damaged; restore it from a "
                 "backup or start a new journal",
                 r->path, tb_journal_errmsg(r->j));
        return;
    }
    int n = tb_codec_encode(ev, r->buf, 4096);
    if (rc == TB_EEOF || n < 0 || (size_t)n != len || memcmp(json, r->buf, len) != 0) {
        r->mismatch = TB_ECONFIG;
        snprintf(r->why, sizeof(r->why),
                 "re-running the journaled bars did not reproduce the journal %s (event %lld "
                 "of %lld, id %llu, differs): the data files or tradebus changed since; use a "
                 "new journal",
                 r->path, (long long)r->seen, (long long)r->target,
                 (unsigned long long)ev->event_id);
    }
}

static int on_event(const tb_event *ev, void *ctx)
{
    tb__jrun *r = ctx;
    r->seen++;
    if (r->seen <= r->target) {
        /* The journal has it: checked, not appended. */
        if (!r->mismatch) compare(r, ev);
        return 0;
    }
    int rc = tb_journal_append(r->j, ev);
    /* Not the handler's failure to retry: the run stops after this bar. */
    if (rc && !r->rc) r->rc = rc;
    return 0;
}

int tb__jrun_attach(tb__jrun *r, tb_bus *bus)
{
    r->bus = bus;
    r->sub = tb_bus_subscribe_named(bus, TB_BUS_ALL, on_event, r, "journal");
    return r->sub < 0 ? r->sub : 0;
}

/* The replay has reached the journal's end: it must be the same event. */
static int check_join(tb__jrun *r, char *err, size_t errlen)
{
    if (r->seen != r->target) {
        tb__errf(err, errlen,
                 "the journal ends inside a bar (%lld events, the run made %lld by the end "
                 "of that bar): it was not written by this run's commits",
                 (long long)r->target, (long long)r->seen);
        return TB_ESTATE;
    }
    /* Every event up to here was compared as it came (compare()). */
    int rc = check_digest(r, err, errlen);
    if (rc) return rc;
    tb_journal_cursor_close(r->cur);
    r->cur = NULL;
    r->replaying = 0;
    return 0;
}

int tb__jrun_after_bar(tb__jrun *r, char *err, size_t errlen)
{
    if (r->rc) {
        tb__errf(err, errlen, "journal %s: %s", r->path, tb_journal_errmsg(r->j));
        return r->rc;
    }
    if (r->mismatch) {
        tb__errf(err, errlen, "%s", r->why);
        return r->mismatch;
    }
    if (r->replaying) {
        if (r->seen < r->target) return 0;
        return check_join(r, err, errlen);
    }
    /* Commits only here, between bars: the journal never ends inside one.
     * A commit writes every page the transaction touched (each B-tree's
     * right edge again), so at a backtest's pace a commit per 1000 bars is
     * hundreds a second and the commits, not the inserts, bound the journal.
     * Group commit: at least commit_ms apart, the clock read once per
     * commit_every bars. A crash loses at most that much work, re-run by
     * --resume; the journal's content is the same either way. */
    if (++r->bars_since_commit >= r->commit_every) {
        r->bars_since_commit = 0;
        if (r->commit_ns) {
            int64_t now = mono_ns();
            if (now - r->last_commit_ns < r->commit_ns) return 0;
            r->last_commit_ns = now;
        }
        int rc = save_digest(r);
        if (!rc) rc = tb_journal_commit(r->j);
        if (rc) {
            tb__errf(err, errlen, "journal %s: %s", r->path, tb_journal_errmsg(r->j));
            return rc;
        }
    }
    return 0;
}

int tb__jrun_finish(tb__jrun *r, const tb_backtest_result *res, char *err, size_t errlen)
{
    if (r->replaying && r->seen != r->target) {
        tb__errf(err, errlen,
                 "the journal holds %lld events but this run made only %lld: it belongs to "
                 "other data",
                 (long long)r->target, (long long)r->seen);
        return TB_ESTATE;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    int rc = m ? tb_backtest_write_summary(res, m) : TB_ENOMEM;
    if (m) fclose(m);
    if (!rc) rc = tb_journal_meta_set(r->j, "summary", text);
    if (!rc) rc = tb_journal_meta_set(r->j, "status", "complete");
    if (!rc) rc = tb_journal_commit(r->j);
    free(text);
    if (rc) tb__errf(err, errlen, "journal %s: %s", r->path, tb_journal_errmsg(r->j));
    return rc;
}

typedef struct {
    int64_t *ids;
    size_t n, cap;
} id_list;

static int collect(const tb_dlq_entry *e, void *ctx)
{
    id_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        int64_t *ni = realloc(l->ids, nc * sizeof(*ni));
        if (!ni) return TB_ENOMEM;
        l->ids = ni;
        l->cap = nc;
    }
    l->ids[l->n++] = e->id;
    return 0;
}

int tb__jrun_replay_dlq(tb__jrun *r, tb_bus *bus, int64_t which, uint64_t *ok, uint64_t *failed,
                        char *err, size_t errlen)
{
    id_list l = {NULL, 0, 0};
    int rc = which < 0 ? tb_journal_dlq_each(r->j, collect, &l)
                       : collect(&(tb_dlq_entry){.id = which}, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        tb_dlq_entry *e = malloc(sizeof(*e));
        if (!e) {
            rc = TB_ENOMEM;
            break;
        }
        rc = tb_journal_dlq_get(r->j, l.ids[i], e);
        if (rc == TB_ENOTFOUND && which >= 0) {
            tb__errf(err, errlen, "no dead letter %lld in the queue", (long long)which);
        } else if (rc == 0) {
            /* An input that never decoded has no event to deliver. */
            int drc = e->event.type == TB_EV_NONE ? TB_EPARSE
                                                  : tb_bus_deliver_to(bus, e->component, &e->event);
            if (drc == 0) {
                rc = tb_journal_dlq_remove(r->j, e->id);
                (*ok)++;
            } else {
                (*failed)++;
            }
        }
        free(e);
    }
    free(l.ids);
    if (rc == 0 && r->rc) rc = r->rc;
    if (rc == 0) rc = tb_journal_commit(r->j);
    return rc;
}

void tb__jrun_detach(tb__jrun *r)
{
    if (!r) return;
    if (r->sub >= 0) tb_bus_unsubscribe(r->bus, r->sub);
    r->sub = -1;
    /* The journal's end is committed at close: its digest goes with it.
     * A failure here leaves the previous commit's, which a resume then
     * finds at the wrong place and refuses: safe. */
    (void)save_digest(r);
    r->md = NULL;
}

void tb__jrun_close(tb__jrun *r, int failed)
{
    if (!r) return;
    tb__jrun_detach(r);
    tb_journal_cursor_close(r->cur);
    /* A run that created its journal and failed before recording an event
     * leaves no empty journal behind (nor one whose config_hash would
     * refuse the corrected run). */
    if (failed && r->created && !r->replaying && r->seen == 0)
        tb_journal_discard(r->j);
    else
        tb_journal_close(r->j);
    free(r->buf);
    free(r);
}

int tb__jrun_request(tb__jrun *j, const tb_journal_request *rq, char *err, size_t errlen)
{
    int rc = tb_journal_request_add(j->j, rq);
    if (rc == 0) rc = tb_journal_commit(j->j);
    if (rc) {
        tb__errf(err, errlen, "journal %s: cannot record a %s request: %s", j->path, rq->purpose,
                 tb_journal_errmsg(j->j));
        return rc;
    }
    /* The events it committed count as a commit of the bars before. */
    j->bars_since_commit = 0;
    return 0;
}
