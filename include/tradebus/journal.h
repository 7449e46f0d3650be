/* tradebus — the journal: an append-only record of every event, the
 * persistent dead-letter queue and the run's metadata, in one SQLite file.
 *
 * Schema (docs/journal.md has the details and what each sync mode risks):
 *   events(seq INTEGER PRIMARY KEY, event_id INTEGER UNIQUE, type TEXT,
 *          time INTEGER, causation_id INTEGER, correlation_id INTEGER,
 *          source TEXT, payload TEXT)        -- payload: the codec's JSON
 *   indexes on causation_id and correlation_id (chains both ways)
 *   dead_letters(id INTEGER PRIMARY KEY, event_id INTEGER, type TEXT,
 *          component TEXT, reason TEXT, error INTEGER, attempts INTEGER,
 *          first_seen INTEGER, last_seen INTEGER, payload TEXT)
 *   meta(key TEXT PRIMARY KEY, value TEXT)   -- schema_version, config_hash, ...
 * Ids are stored as the signed 64-bit pattern of the unsigned id.
 *
 * Writes go into one open transaction that tb_journal_commit() ends: the
 * caller commits at boundaries it chooses (the backtest: after every N
 * fully processed bars), so the journal never ends inside a bar — a crash
 * loses at most the uncommitted tail, never half of one. WAL mode. */
#ifndef TRADEBUS_JOURNAL_H
#define TRADEBUS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include "bus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_JOURNAL_SCHEMA_VERSION 1

typedef enum {
    TB_JOURNAL_SYNC_FULL = 0,   /* fsync at every commit: survives power loss */
    TB_JOURNAL_SYNC_NORMAL = 1, /* WAL default: survives a process crash, may lose the
                                   last commits on power loss */
    TB_JOURNAL_SYNC_OFF = 2     /* no fsync: a process crash is safe, an OS crash may
                                   corrupt the file */
} tb_journal_sync;

typedef struct {
    const char *path;     /* the SQLite file (created if missing) */
    tb_journal_sync sync; /* default NORMAL */
    /* 1: open an existing journal only to read it. Nothing is ever written:
     * no schema is created, no setting changed; a missing file is
     * TB_ENOTFOUND, an empty file or one that is not a journal TB_ESTATE.
     * Writes through such a handle fail. Default 0. */
    int read_only;
    /* 1: the handle holds the journal exclusively for its life — a lock on
     * "PATH.lock" (flock, so released when the process dies however it dies)
     * holding the owner's pid. While another handle holds it, open fails with
     * TB_ESTATE and "journal PATH is in use by another run (pid N)". A run
     * uses it; readers do not need it. Default 0. */
    int exclusive;
} tb_journal_config;

typedef struct tb_journal tb_journal;

typedef struct {
    int64_t id;     /* the queue entry */
    tb_event event; /* type TB_EV_NONE for an input that never decoded (see raw) */
    char raw[1024]; /* that input's text, cut to fit; empty otherwise */
    char component[32];
    char reason[TB_TEXT_LEN];
    int error, attempts;
    int64_t first_seen, last_seen; /* wall-clock ns */
} tb_dlq_entry;

/* Called per event in journal order; json is the stored payload line. A
 * non-zero return stops the walk and is returned. */
typedef int (*tb_journal_event_fn)(const tb_event *ev, const char *json, void *ctx);
typedef int (*tb_journal_dlq_fn)(const tb_dlq_entry *e, void *ctx);

/* Fills cfg with defaults (NORMAL sync, no path). */
TB_EXPORT void tb_journal_config_init(tb_journal_config *cfg);
/* Opens or creates the journal. A file from a newer schema version, a file
 * that is not a tradebus journal, or one that fails SQLite's quick check is
 * refused with TB_ESTATE / TB_EIO and a message saying what and what to do.
 * Out of space while creating it (disk full, quota, file size limit) is
 * TB_EFULL. An open that fails leaves no file it created behind. */
TB_EXPORT int tb_journal_open(const tb_journal_config *cfg, tb_journal **out, char *err,
                              size_t errlen);
/* Commits what is pending and closes. NULL is a no-op. */
TB_EXPORT void tb_journal_close(tb_journal *j);
/* Closes without committing and deletes the journal's files (the database,
 * its WAL and shared-memory files, and the lock file): for a run that
 * created the journal and failed before recording anything, so no empty
 * journal is left behind. NULL is a no-op. */
TB_EXPORT void tb_journal_discard(tb_journal *j);
/* SQLite's message for the last failure (borrowed). */
TB_EXPORT const char *tb_journal_errmsg(const tb_journal *j);

/* Run metadata. get: TB_ENOTFOUND if absent; value truncated to buflen. */
TB_EXPORT int tb_journal_meta_get(tb_journal *j, const char *key, char *buf, size_t buflen);
TB_EXPORT int tb_journal_meta_set(tb_journal *j, const char *key, const char *value);

/* Appends one event (encoded with the codec) inside the open transaction.
 * It may wait in the handle with up to 63 others before SQLite gets them
 * (every read and the commit hand them over first: nothing can tell).
 * TB_EIO on a write failure, TB_EFULL when out of space (disk full, quota,
 * file size limit: here, at a later append or at the commit); a duplicate
 * event_id is TB_ESTATE, from this call. */
TB_EXPORT int tb_journal_append(tb_journal *j, const tb_event *ev);
/* Ends the open transaction (durable per the sync mode). */
TB_EXPORT int tb_journal_commit(tb_journal *j);
/* Drops what was appended since the last commit. */
TB_EXPORT int tb_journal_rollback(tb_journal *j);

/* A request a live run sent to its exchange (the Binance adapter's REST
 * calls), recorded before it was sent: `journal trace` shows an order's.
 * params: the request's parameters as sent, without timestamp, signature
 * or key. Strings are borrowed for the call. */
typedef struct {
    int64_t seq;                 /* journal order (filled by requests_each) */
    int64_t time;                /* wall clock when sent, ns since the epoch */
    const char *method;          /* "POST", "GET", "DELETE" */
    const char *path;            /* "/api/v3/order" */
    const char *purpose;         /* "submit", "look-up", "cancel", "open orders", ... */
    const char *client_order_id; /* "" when the request is about no one order */
    const char *params;
} tb_journal_request;
typedef int (*tb_journal_request_fn)(const tb_journal_request *rq, void *ctx);
/* Appends rq inside the open transaction (commit before sending for it to
 * survive a crash). TB_EINVAL, TB_EIO, TB_EFULL. */
TB_EXPORT int tb_journal_request_add(tb_journal *j, const tb_journal_request *rq);
/* Walks the recorded requests in order: all (client_order_id NULL) or one
 * order's. A journal written before requests were recorded has none: 0.
 * fn's non-zero return stops the walk and is returned; TB_EIO. */
TB_EXPORT int tb_journal_requests_each(tb_journal *j, const char *client_order_id,
                                       tb_journal_request_fn fn, void *ctx);

/* Committed and pending events. */
TB_EXPORT int64_t tb_journal_count(tb_journal *j);
/* Walks every event with seq > after_seq in order (after_seq 0: all). */
TB_EXPORT int tb_journal_each(tb_journal *j, int64_t after_seq, tb_journal_event_fn fn, void *ctx);
/* A pull-style walk: the events with seq > after_seq, one per
 * tb_journal_cursor_next(), for a caller that consumes them one at a time
 * (--resume compares each re-executed event with the journal's). The
 * journal must outlive the cursor. 0, TB_ENOMEM or TB_EIO. */
typedef struct tb_journal_cursor tb_journal_cursor;
TB_EXPORT int tb_journal_cursor_open(tb_journal *j, int64_t after_seq, tb_journal_cursor **out);
/* The next event, decoded into *ev, its stored JSON in *json (borrowed
 * until the next call; may be NULL) and that text's length in *len (may be
 * NULL). 0; TB_EEOF after the last; TB_EPARSE when the stored payload does
 * not decode (the journal is damaged; tb_journal_errmsg says which seq and
 * why); TB_EIO. */
TB_EXPORT int tb_journal_cursor_next(tb_journal_cursor *c, tb_event *ev, const char **json,
                                     size_t *len);
/* Ends the walk. NULL is a no-op. */
TB_EXPORT void tb_journal_cursor_close(tb_journal_cursor *c);
/* One event by id; TB_ENOTFOUND. */
TB_EXPORT int tb_journal_get(tb_journal *j, uint64_t event_id, tb_event *out);
/* The event an order id leads to: the OrderCreated whose client_order_id
 * or exchange order_id is order_id, else the first event (journal order)
 * naming it in either field. 0, TB_ENOTFOUND, TB_EINVAL, TB_EIO. */
TB_EXPORT int tb_journal_find_order(tb_journal *j, const char *order_id, tb_event *out);
/* The events directly caused by event_id, in journal order. */
TB_EXPORT int tb_journal_children(tb_journal *j, uint64_t event_id, tb_journal_event_fn fn,
                                  void *ctx);

/* The dead-letter queue. add: a new entry, or — same event_id and
 * component — attempts added and last_seen moved. now: wall-clock ns. */
TB_EXPORT int tb_journal_dlq_add(tb_journal *j, const tb_dead_letter *d, int64_t now);
/* An input that never became an event (it failed to decode): raw text kept. */
TB_EXPORT int tb_journal_dlq_add_raw(tb_journal *j, const char *component, const char *reason,
                                     const char *raw, int64_t now);
TB_EXPORT int tb_journal_dlq_each(tb_journal *j, tb_journal_dlq_fn fn, void *ctx);
/* TB_ENOTFOUND if absent. */
TB_EXPORT int tb_journal_dlq_get(tb_journal *j, int64_t id, tb_dlq_entry *out);
TB_EXPORT int tb_journal_dlq_remove(tb_journal *j, int64_t id);
TB_EXPORT int64_t tb_journal_dlq_count(tb_journal *j);

/* ---- rebuilding state from the journal alone (src/store/replay.c) ---- */

typedef struct {
    uint64_t events, orders, fills;
    uint64_t filled, rejected, canceled, open; /* orders by final status */
    uint64_t illegal_transitions;              /* order events that break the state machine */
    uint64_t position_mismatches; /* rebuilt positions unlike the journal's last update */
    tb_decimal realized_pnl, unrealized_pnl, fees; /* rebuilt */
    int summary_checked;     /* the run's recorded summary was there to compare */
    int summary_matches;     /* ... and equals the rebuilt PnL and fees */
    char first_problem[256]; /* empty when everything agrees */
} tb_journal_replay_report;

/* Rebuilds orders (their state machines), positions (a fresh Position
 * Manager fed the journaled fills and bars) and PnL/fees from the journal's
 * events alone, and checks them against what the run recorded: its last
 * PositionUpdate per (strategy, symbol) and its summary. 0 when it ran (the
 * verdict is in the report), or an error reading the journal. */
TB_EXPORT int tb_journal_replay_check(tb_journal *j, tb_journal_replay_report *out, char *err,
                                      size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
