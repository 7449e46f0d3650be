#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
/* The journal: one SQLite file holding every event, the dead-letter queue
 * and the run's metadata.
 *
 * Speed comes from three things: every statement is prepared once at open
 * and reused (re-parsing SQL would cost more than the insert itself), the
 * event is encoded into a buffer the handle owns and bound without a copy
 * (SQLITE_STATIC), and writes share one transaction that the caller ends at
 * a boundary of its choosing — a commit is the only point where SQLite
 * syncs, so its cost is paid once per batch rather than once per event.
 *
 * A handle is used by one thread at a time (opened with NOMUTEX: SQLite's
 * own locking would only cost time here). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tradebus/codec.h"
#include "tradebus/journal.h"
#include "tradebus/monitor.h"

#include "../core/errbuf.h"
#include "../core/thread.h"

/* Every statement the journal runs after open, prepared once. */
enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_APPEND,
    ST_COUNT,
    ST_EACH,
    ST_GET,
    ST_CHILDREN,
    ST_FIND_ORDER,
    ST_META_GET,
    ST_META_SET,
    ST_DLQ_ADD,
    ST_DLQ_ADD_RAW,
    ST_DLQ_EACH,
    ST_DLQ_GET,
    ST_DLQ_REMOVE,
    ST_DLQ_COUNT,
    ST__N
};

#define DLQ_COLUMNS                                                                                \
    "id, event_id, type, component, reason, error, attempts, first_seen, last_seen, payload"

static const char *const stmt_sql[ST__N] = {
    /* IMMEDIATE takes the write lock at once: a reader in another process
     * (`tradebus journal trace` during a run) can never make our first write
     * fail half-way through a batch with SQLITE_BUSY on lock upgrade. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_APPEND] = "INSERT INTO events(event_id, type, time, causation_id, correlation_id, source, "
                  "payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_COUNT] = "SELECT count(*) FROM events",
    [ST_EACH] = "SELECT seq, payload FROM events WHERE seq > ?1 ORDER BY seq",
    [ST_GET] = "SELECT seq, payload FROM events WHERE event_id = ?1",
    [ST_CHILDREN] = "SELECT seq, payload FROM events WHERE causation_id = ?1 ORDER BY seq",
    /* A full scan: order ids are looked up by hand, once, and an index on
     * them would slow every append of a run for it. The OrderCreated is the
     * order's own event; failing that (rejected before the exchange saw it)
     * the first event that names the id. */
    [ST_FIND_ORDER] = "SELECT seq, payload FROM events WHERE "
                      "json_extract(payload, '$.payload.client_order_id') = ?1 OR "
                      "json_extract(payload, '$.payload.order_id') = ?1 "
                      "ORDER BY type <> 'OrderCreated', seq LIMIT 1",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* The unique (event_id, component) index makes the merge one statement:
     * the same event failing the same component again is one entry whose
     * attempts grow; the latest reason and error replace the older ones,
     * since they describe the cause a fix must address now. */
    [ST_DLQ_ADD] = "INSERT INTO dead_letters(event_id, type, component, reason, error, attempts, "
                   "first_seen, last_seen, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) "
                   "ON CONFLICT(event_id, component) DO UPDATE SET "
                   "attempts = attempts + excluded.attempts, "
                   "last_seen = max(last_seen, excluded.last_seen), "
                   "reason = excluded.reason, error = excluded.error",
    /* event_id and type NULL: NULLs are distinct in a unique index, so raw
     * inputs never merge (two bad lines are two entries). */
    [ST_DLQ_ADD_RAW] = "INSERT INTO dead_letters(event_id, type, component, reason, error, "
                       "attempts, first_seen, last_seen, payload) "
                       "VALUES (NULL, NULL, ?1, ?2, ?3, 1, ?4, ?4, ?5)",
    [ST_DLQ_EACH] = "SELECT " DLQ_COLUMNS " FROM dead_letters ORDER BY id",
    [ST_DLQ_GET] = "SELECT " DLQ_COLUMNS " FROM dead_letters WHERE id = ?1",
    [ST_DLQ_REMOVE] = "DELETE FROM dead_letters WHERE id = ?1",
    [ST_DLQ_COUNT] = "SELECT count(*) FROM dead_letters",
};

/* The requests a live run sent to its exchange, each recorded before it
 * left (tb_journal_request_add). Created by every writer that opens a
 * journal without it: an older journal gains it, nothing else changes. */
#define REQUESTS_SQL                                                                               \
    "CREATE TABLE IF NOT EXISTS requests("                                                         \
    " seq INTEGER PRIMARY KEY,"                                                                    \
    " time INTEGER NOT NULL,"                                                                      \
    " method TEXT NOT NULL,"                                                                       \
    " path TEXT NOT NULL,"                                                                         \
    " purpose TEXT NOT NULL,"                                                                      \
    " client_order_id TEXT,"                                                                       \
    " params TEXT NOT NULL);"                                                                      \
    "CREATE INDEX IF NOT EXISTS requests_order ON requests(client_order_id) "                      \
    "WHERE client_order_id IS NOT NULL;"

/* An appended event waiting for its batch's INSERT (ids as stored). */
typedef struct {
    int64_t id, time, causation, correlation; /* causation 0: NULL */
    const char *type, *source;                /* static names */
    size_t off;                               /* its JSON in the arena */
    int len;
} pending_row;

#define BATCH_ROWS  64
#define ENCODE_MAX  4096 /* room an encode is given (2048 always suffice) */
#define BATCH_ARENA (BATCH_ROWS * 1024 + ENCODE_MAX)
#define MAX_KEYS    32 /* publishers per transaction on the fast path */

/* A new journal's page size (see check_and_setup), and the log a
 * checkpoint lets grow before it copies the log into the database. */
#define PAGE_SIZE_STR "32768"
#define WAL_LOG_BYTES (32L << 20)

/* The schema of a new journal (docs/journal.md explains each part). */
static const char schema_sql[] =
    "CREATE TABLE events("
    " seq INTEGER PRIMARY KEY,"
    " event_id INTEGER NOT NULL UNIQUE,"
    " type TEXT NOT NULL,"
    " time INTEGER NOT NULL,"
    " causation_id INTEGER,"
    " correlation_id INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " payload TEXT NOT NULL);"
    "CREATE INDEX events_causation ON events(causation_id) WHERE causation_id IS NOT NULL;"
    "CREATE INDEX events_correlation ON events(correlation_id);"
    "CREATE TABLE dead_letters("
    " id INTEGER PRIMARY KEY,"
    " event_id INTEGER,"
    " type TEXT,"
    " component TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " error INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " first_seen INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " payload TEXT NOT NULL);"
    "CREATE UNIQUE INDEX dead_letters_key ON dead_letters(event_id, component);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);" REQUESTS_SQL;

/* Checkpoints run on a thread of their own, on a second connection: see
 * ckpt_start. */
typedef struct {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* to the thread: a pass is wanted, or stop */
    pthread_cond_t idle; /* from the thread: a pass ended */
    int want, busy, stop;
    int done_to; /* frames of the log the last pass left copied */
    int limit;   /* frames in the log that call for a checkpoint */
} ckpt;

struct tb_journal {
    sqlite3 *db;
    ckpt *ck; /* NULL: read-only, or SQLite's own checkpoints (set-up failed) */
    sqlite3_stmt *st[ST__N];
    char *path;      /* as given: messages, and the files discard removes */
    int lock_fd;     /* PATH.lock, flock-ed (exclusive handles); -1 without */
    char *lock_path; /* NULL without */
    char errmsg[400];
    char buf[4096]; /* the event being appended, encoded (2048 always suffice) */
    /* The requests table's statements, prepared at first use: a journal
     * written before that table existed still opens read-only. */
    sqlite3_stmt *rq_add, *rq_each;
    /* Appended events wait here and go in BATCH_ROWS at a time, through
     * one INSERT of that many rows (prepared at the first append): SQLite's
     * cost per statement run — opening a cursor on the table and each index,
     * the statement's own bookkeeping — is then paid once per batch. Every
     * read, commit and the batch filling up flush them first, so nothing
     * outside this file can tell they waited. */
    sqlite3_stmt *batch, *key_max;
    int npend;
    size_t used; /* of arena */
    pending_row pend[BATCH_ROWS];
    char arena[BATCH_ARENA]; /* the pending events' JSON, one after another */
    /* A duplicate event id must still be refused by the append that brings
     * it, not by a later flush. Ids are (node << 48 | publisher << 40 |
     * sequence) and a publisher's sequence only grows: per id >> 40, the
     * highest id in the journal, so an append above it cannot be a
     * duplicate. Learnt per transaction (BEGIN IMMEDIATE holds the write
     * lock until its commit: no other writer can add ids meanwhile), and
     * anything not provably new takes the direct single-row path. */
    int nkeys;
    uint64_t key[MAX_KEYS], key_top[MAX_KEYS];
};

/* Ids are unsigned; SQLite integers are signed. The bit pattern is kept, so
 * an id above INT64_MAX reads back unchanged (memcpy: no implementation-
 * defined conversion). */
static int64_t id_to_db(uint64_t id)
{
    int64_t v;
    memcpy(&v, &id, sizeof(v));
    return v;
}

static uint64_t id_from_db(int64_t v)
{
    uint64_t id;
    memcpy(&id, &v, sizeof(id));
    return id;
}

static void set_msg(tb_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(tb_journal *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->errmsg, sizeof(j->errmsg), fmt, ap);
    va_end(ap);
}

/* Why a write failed for lack of space, into buf, or 0 when it did not.
 * SQLite says SQLITE_FULL for ENOSPC and short writes, but a plain I/O error
 * for a quota or the file size limit (ulimit -f): the errno tells those. */
static int space_reason(sqlite3 *db, int rc, char *buf, size_t buflen)
{
    if ((rc & 0xff) != SQLITE_FULL && (rc & 0xff) != SQLITE_IOERR) return 0;
    int sys = sqlite3_system_errno(db);
    /* A write cut short by the limit is reported without its errno (SQLite
     * clears it for short writes); the C library's is still the write's. */
    if (sys == 0 && rc == SQLITE_IOERR_WRITE) sys = errno;
    const char *what = sys == ENOSPC                ? "the disk is full"
                       : sys == EDQUOT              ? "the disk quota is exceeded"
                       : sys == EFBIG               ? "the file size limit is reached"
                       : (rc & 0xff) == SQLITE_FULL ? "the disk is full"
                                                    : NULL;
    if (!what) return 0;
    if (sys == ENOSPC || sys == EDQUOT || sys == EFBIG)
        snprintf(buf, buflen, "%s (%s)", what, strerror(sys));
    else
        snprintf(buf, buflen, "%s", what);
    return 1;
}

#define SPACE_FIX "free space on its disk, or give the journal a path on another one"

/* Maps a SQLite result to ours and keeps SQLite's message (copied: the
 * connection's own message changes with the next call). Out of space is
 * TB_EFULL, said in words: it is the disk, not the journal's content. */
static int fail(tb_journal *j, int src, const char *what)
{
    char why[160];
    if (space_reason(j->db, src, why, sizeof(why))) {
        set_msg(j, "%s: out of space writing the journal: %s: " SPACE_FIX, what, why);
        return TB_EFULL;
    }
    if ((src & 0xff) == SQLITE_IOERR && src != SQLITE_IOERR_READ &&
        src != SQLITE_IOERR_SHORT_READ) {
        /* The disk failed a write (or its flush): not the journal's
         * content, and not something a retry of the run would mend. */
        int sys = sqlite3_system_errno(j->db);
        set_msg(j, "%s: cannot write the journal: %s%s%s%s", what, sqlite3_errmsg(j->db),
                sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
        return TB_EIO;
    }
    set_msg(j, "%s: %s", what, sqlite3_errmsg(j->db));
    switch (src & 0xff) {
    case SQLITE_NOMEM:
        return TB_ENOMEM;
    case SQLITE_CONSTRAINT:
        return TB_ESTATE;
    case SQLITE_FULL:
        return TB_EFULL;
    default:
        return TB_EIO;
    }
}

/* Copies src into dst[cap], cut to fit — but never inside a UTF-8 sequence,
 * so what is shown stays valid text. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n) memcpy(dst, src, n);
    dst[n] = 0;
}

/* Starts the batch at the first write after a commit. get_autocommit, not a
 * flag of ours: SQLite rolls a transaction back by itself after some errors
 * (disk full, I/O), and a flag would then claim a transaction that is gone. */
static int begin_if_needed(tb_journal *j)
{
    if (!sqlite3_get_autocommit(j->db)) return 0;
    /* Events still waiting belong to the transaction SQLite dropped: gone
     * with it, as they would be had they gone in at once. And what
     * another writer added since is unknown. */
    j->npend = 0;
    j->used = 0;
    j->nkeys = 0;
    sqlite3_stmt *st = j->st[ST_BEGIN];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(j, rc, "begin");
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(tb_journal *j, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : fail(j, rc, what);
}

/* The cached statement, or — when a callback of a walk calls the same walk
 * (trace recursing through children) — a fresh one, since one prepared
 * statement can only run one query at a time. done_stmt() undoes either. */
static int use_stmt(tb_journal *j, int which, sqlite3_stmt **st, sqlite3_stmt **own)
{
    *own = NULL;
    *st = j->st[which];
    if (!sqlite3_stmt_busy(*st)) return 0;
    int rc = sqlite3_prepare_v2(j->db, stmt_sql[which], -1, own, NULL);
    *st = *own;
    return rc == SQLITE_OK ? 0 : fail(j, rc, "prepare");
}

static void done_stmt(sqlite3_stmt *st, sqlite3_stmt *own)
{
    if (own) {
        sqlite3_finalize(own);
    } else if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* A single integer from a statement without parameters (count queries). */
static int64_t scalar(tb_journal *j, int which, const char *what)
{
    sqlite3_stmt *own, *st;
    int rc = use_stmt(j, which, &st, &own);
    if (rc) return rc;
    rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : fail(j, rc, what);
    done_stmt(st, own);
    return v;
}

/* ---- open and close ---------------------------------------------------- */

void tb_journal_config_init(tb_journal_config *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->sync = TB_JOURNAL_SYNC_NORMAL;
}

/* Runs sql (no rows wanted); on failure says so in err as "path: what: msg". */
static int exec(sqlite3 *db, const char *sql, const char *path, const char *what, char *err,
                size_t errlen)
{
    char *msg = NULL, why[160];
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK && space_reason(db, rc, why, sizeof(why))) {
        tb__errf(err, errlen, "%s: cannot write the journal: %s: " SPACE_FIX, path, why);
        sqlite3_free(msg);
        return TB_EFULL;
    }
    if ((rc & 0xff) == SQLITE_IOERR && rc != SQLITE_IOERR_READ && rc != SQLITE_IOERR_SHORT_READ) {
        /* The disk failed a write: a runtime failure, said as such. */
        tb__errf(err, errlen, "%s: %s: cannot write the journal: %s", path, what,
                 msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return TB_EIO;
    }
    if (rc != SQLITE_OK) {
        tb__errf(err, errlen, "%s: %s: %s", path, what, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return (rc & 0xff) == SQLITE_NOMEM ? TB_ENOMEM : TB_EIO;
    }
    return 0;
}

/* Result of the first column of the first row of sql, as text into buf
 * (empty if no row). Returns the SQLite code. */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t buflen)
{
    sqlite3_stmt *st;
    buf[0] = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_cut(buf, buflen, (const char *)sqlite3_column_text(st, 0));
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Explains a failure to read the file at all. NOTADB is the common one:
 * someone pointed --journal at a CSV or a config file. */
static int refuse_unreadable(sqlite3 *db, int rc, const char *path, char *err, size_t errlen)
{
    char why[160];
    if (space_reason(db, rc, why, sizeof(why))) {
        /* Setting a new journal up writes: a full disk is not bad content. */
        tb__errf(err, errlen, "%s: cannot write the journal: %s: " SPACE_FIX, path, why);
        return TB_EFULL;
    }
    if ((rc & 0xff) == SQLITE_NOTADB) {
        tb__errf(err, errlen,
                 "%s: not a tradebus journal (not a SQLite database): check the path, or give "
                 "a new file name to start a journal",
                 path);
    } else if ((rc & 0xff) == SQLITE_CORRUPT) {
        tb__errf(err, errlen,
                 "%s: the journal is damaged (%s): restore it from a backup or start a new one",
                 path, sqlite3_errmsg(db));
    } else {
        tb__errf(err, errlen, "%s: cannot read the journal: %s", path, sqlite3_errmsg(db));
    }
    return TB_EIO;
}

/* Which of our tables exist: bit 0 events, 1 dead_letters, 2 meta; *other
 * counts tables that are not ours. */
static int our_tables(sqlite3 *db, int *mask, int *other)
{
    sqlite3_stmt *st;
    *mask = *other = 0;
    int rc = sqlite3_prepare_v2(
        db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", -1,
        &st, NULL);
    if (rc != SQLITE_OK) return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name) continue;
        if (strcmp(name, "events") == 0)
            *mask |= 1;
        else if (strcmp(name, "dead_letters") == 0)
            *mask |= 2;
        else if (strcmp(name, "meta") == 0)
            *mask |= 4;
        else if (strcmp(name, "requests") == 0)
            continue; /* ours too, but optional: journals before it lack it */
        else
            ++*other;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Creates the schema in an empty file, inside one transaction so a crash
 * during creation leaves an empty file (created again next time), never a
 * half-made journal. Re-checks under the write lock: two processes opening
 * the same new file must not both create it. */
static int create_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int rc = exec(db, "BEGIN IMMEDIATE", path, "cannot lock the new journal", err, errlen);
    if (rc) return rc;
    int mask, other;
    if (our_tables(db, &mask, &other) != SQLITE_OK) {
        rc = refuse_unreadable(db, sqlite3_errcode(db), path, err, errlen);
    } else if (mask == 0 && other == 0) {
        char now[32], sql[256];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        tb_format_time_iso((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, now, sizeof(now));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO meta(key, value) VALUES ('schema_version', '%d'), "
                 "('created_at', '%s')",
                 TB_JOURNAL_SCHEMA_VERSION, now);
        rc = exec(db, schema_sql, path, "cannot create the journal", err, errlen);
        if (!rc) rc = exec(db, sql, path, "cannot create the journal", err, errlen);
    }
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(db, "COMMIT", path, "cannot create the journal", err, errlen);
}

/* Everything that makes a file acceptable, in the order that gives the most
 * useful message: readable as SQLite, intact, ours, not from the future. */
static int check_and_setup(tb_journal *j, const tb_journal_config *cfg, char *err, size_t errlen)
{
    static const char *const sync_sql[] = {
        "PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = OFF"};
    const char *path = cfg->path;
    char buf[512];
    int mask, other;

    /* A concurrent writer (another run on the same file) holds the lock
     * only for a commit; waiting a little beats failing at once. */
    sqlite3_busy_timeout(j->db, 5000);
    int rc = our_tables(j->db, &mask, &other);
    if (rc != SQLITE_OK) return refuse_unreadable(j->db, rc, path, err, errlen);
    if (mask != 0 || other != 0) {
        /* quick_check reads every page: a torn or overwritten file is
         * refused here, before anything trusts its content. */
        rc = query_text(j->db, "PRAGMA quick_check", buf, sizeof(buf));
        if (rc != SQLITE_OK) return refuse_unreadable(j->db, rc, path, err, errlen);
        if (strcmp(buf, "ok") != 0) {
            tb__errf(err, errlen,
                     "%s: the journal is damaged (SQLite's check says: %s): restore it from a "
                     "backup or start a new one",
                     path, buf);
            return TB_EIO;
        }
    }
    if (mask != 7 && (mask != 0 || other != 0)) {
        tb__errf(err, errlen,
                 "%s: not a tradebus journal (a SQLite database without the %s table): check "
                 "the path, or give a new file name to start a journal",
                 path,
                 !(mask & 1)   ? "events"
                 : !(mask & 2) ? "dead_letters"
                               : "meta");
        return TB_ESTATE;
    }
    if (cfg->read_only && mask == 0) {
        /* A reader never writes: an empty file stays empty (a typo'd path,
         * a file truncated by mistake) rather than becoming a journal. */
        tb__errf(err, errlen,
                 "%s: not a tradebus journal (an empty file): check the path; a run creates "
                 "its journal",
                 path);
        return TB_ESTATE;
    }
    /* WAL: readers never block the writer (trace a running backtest) and a
     * commit is one sequential append to the log. A 32 MB log between
     * checkpoints (instead of 4) and a 16 MB page cache (a batch of a
     * multi-symbol run stays in memory until its commit) measured ~10%
     * faster appends (the benchmark in docs/journal.md: ~300k -> ~330k/s). */
    if (cfg->read_only) goto prepare; /* the writer chose these settings */
    /* 32 KB pages for a new journal (SQLite's default is 4): the profile of
     * the journal benchmark showed a third of the time in the kernel, one
     * pwrite per WAL frame header and one per page, again per page at the
     * checkpoint, and the B-tree splitting pages; eight times fewer pages
     * cut CPU per event by about a quarter. Only settable before the file
     * has a first page (and not in WAL mode): an existing journal keeps its
     * size, which every reader handles the same. */
    if (mask == 0 && other == 0 &&
        (rc = exec(j->db, "PRAGMA page_size = " PAGE_SIZE_STR, path, "cannot set the page size",
                   err, errlen)) != 0)
        return rc;
    rc = query_text(j->db, "PRAGMA journal_mode = WAL", buf, sizeof(buf));
    if (rc != SQLITE_OK) return refuse_unreadable(j->db, rc, path, err, errlen);
    if (strcmp(buf, "wal") != 0) {
        tb__errf(err, errlen, "%s: cannot switch the journal to WAL mode (got '%s')", path, buf);
        return TB_EIO;
    }
    rc = exec(j->db, sync_sql[cfg->sync], path, "cannot set the sync mode", err, errlen);
    if (!rc) {
        /* The checkpoint threshold counts pages: the same 32 MB of log
         * whatever the page size (an older journal's 4 KB pages too). */
        char sql[96];
        long page = 0;
        if (query_text(j->db, "PRAGMA page_size", buf, sizeof(buf)) == SQLITE_OK)
            page = strtol(buf, NULL, 10);
        if (page < 512) page = 4096;
        snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint = %ld; PRAGMA cache_size = -16384",
                 (long)(WAL_LOG_BYTES / page));
        rc = exec(j->db, sql, path, "cannot set the cache", err, errlen);
    }
    if (rc) return rc;
    if (mask == 0) {
        rc = create_schema(j->db, path, err, errlen);
        if (rc) return rc;
    }

prepare:
    rc = query_text(j->db, "SELECT value FROM meta WHERE key = 'schema_version'", buf, sizeof(buf));
    if (rc != SQLITE_OK) return refuse_unreadable(j->db, rc, path, err, errlen);
    char *end;
    errno = 0;
    long version = strtol(buf, &end, 10);
    if (!buf[0] || *end || errno || version < 1) {
        tb__errf(err, errlen,
                 "%s: not a tradebus journal (meta has no valid schema_version: '%s'): check the "
                 "path, or give a new file name to start a journal",
                 path, buf);
        return TB_ESTATE;
    }
    if (version > TB_JOURNAL_SCHEMA_VERSION) {
        tb__errf(err, errlen,
                 "%s: written by a newer tradebus (schema %ld, this one reads %d): upgrade "
                 "tradebus",
                 path, version, TB_JOURNAL_SCHEMA_VERSION);
        return TB_ESTATE;
    }
    /* A journal from before the requests table gains it (the schema is
     * otherwise the same: no version change, older readers ignore it). */
    if (!cfg->read_only &&
        (rc = exec(j->db, REQUESTS_SQL, path, "cannot add the requests table", err, errlen)) != 0)
        return rc;

    for (int i = 0; i < ST__N; i++) {
        rc = sqlite3_prepare_v3(j->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL);
        if (rc != SQLITE_OK) {
            /* Our tables with other columns: someone else's "events". */
            tb__errf(err, errlen, "%s: not a tradebus journal (%s): check the path", path,
                     sqlite3_errmsg(j->db));
            return TB_ESTATE;
        }
    }
    return 0;
}

/* The log's length, in frames, that calls for a checkpoint: WAL_LOG_BYTES
 * whatever the page size (an older journal's 4 KB pages too). */
static int ckpt_frames(tb_journal *j)
{
    char buf[32];
    long page = 0;
    if (query_text(j->db, "PRAGMA page_size", buf, sizeof(buf)) == SQLITE_OK)
        page = strtol(buf, NULL, 10);
    if (page < 512) page = 4096;
    return (int)(WAL_LOG_BYTES / page);
}

/* path + suffix, malloc'd (NULL without memory). */
static char *path_with(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    char *p = malloc(n + m + 1);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, suffix, m + 1);
    }
    return p;
}

/* The pid written in a lock file, or 0 if it cannot be read (its holder
 * may be between taking the lock and writing it). */
static long lock_owner(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 && (*end == '\n' || *end == 0) ? pid : 0;
}

/* Takes PATH.lock. flock rather than SQLite's own locks: SQLite locks a
 * journal only for the length of a transaction, while a run must own it
 * from its first re-executed bar to its last append; and the kernel drops a
 * flock when its holder dies, however it dies (SIGKILL included), so a
 * crash never leaves a journal locked. The holder's pid is written inside
 * for the message another run gets. */
static int take_lock(tb_journal *j, const char *path, char *err, size_t errlen)
{
    char *lp = path_with(path, ".lock");
    if (!lp) return TB_ENOMEM;
    for (int attempt = 0;; attempt++) {
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            tb__errf(err, errlen, "%s: cannot open the journal: cannot create its lock file %s: %s",
                     path, lp, strerror(errno));
            free(lp);
            return TB_EIO;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = e == EWOULDBLOCK ? lock_owner(fd) : 0;
            close(fd);
            if (e == EWOULDBLOCK) {
                char who[40] = "";
                if (pid) snprintf(who, sizeof(who), " (pid %ld)", pid);
                tb__errf(err, errlen,
                         "journal %s is in use by another run%s: wait for it to end, or give "
                         "another journal file",
                         path, who);
            } else {
                tb__errf(err, errlen, "%s: cannot lock the journal (%s): %s", path, lp,
                         strerror(e));
            }
            free(lp);
            return e == EWOULDBLOCK ? TB_ESTATE : TB_EIO;
        }
        /* The previous holder removes the file when it closes: the lock may
         * be on a file no longer at that name, which nobody else would see.
         * Only a lock on the file the name holds counts. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lp, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char pid[32];
            int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
            /* The pid only names the holder in a message: failing to write
             * it (a full disk) must not stop the run, the lock holds anyway. */
            if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n) {
                /* nothing to do */
            }
            j->lock_fd = fd;
            j->lock_path = lp;
            return 0;
        }
        close(fd);
        if (attempt == 100) {
            tb__errf(err, errlen, "%s: cannot lock the journal: %s keeps being replaced", path, lp);
            free(lp);
            return TB_EIO;
        }
    }
}

static void release_lock(tb_journal *j)
{
    if (j->lock_fd < 0) return;
    /* Removed while still held: whoever opened the old file finds it
     * replaced (take_lock) and starts again on the new one. */
    unlink(j->lock_path);
    close(j->lock_fd);
    j->lock_fd = -1;
    free(j->lock_path);
    j->lock_path = NULL;
}

/* Removes PATH, PATH-wal and PATH-shm, those with keep[i] == 0. */
static void remove_files(const char *path, const int keep[3])
{
    static const char *const suffix[3] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        if (keep && keep[i]) continue;
        char *p = path_with(path, suffix[i]);
        if (p) unlink(p);
        free(p);
    }
}

/* Frees the handle; the database must be closed. */
static void free_handle(tb_journal *j)
{
    release_lock(j);
    free(j->path);
    free(j);
}

static void finalize_all(tb_journal *j)
{
    for (int i = 0; i < ST__N; i++) {
        sqlite3_finalize(j->st[i]);
        j->st[i] = NULL;
    }
    sqlite3_finalize(j->rq_add);
    sqlite3_finalize(j->rq_each);
    sqlite3_finalize(j->batch);
    sqlite3_finalize(j->key_max);
    j->rq_add = j->rq_each = j->batch = j->key_max = NULL;
}

/* ---- checkpoints ------------------------------------------------------ */

/* The thread: one PASSIVE checkpoint per request. PASSIVE never waits for
 * the writer or a reader; it copies what is committed and is not read
 * from the log any more, and syncs as the sync mode says (the connection
 * has the same one). A failure is only left for the next pass, as
 * SQLite's own automatic checkpoints do: the log keeps every commit. */
static void *ckpt_main(void *arg)
{
    ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->want && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (c->stop) break;
        c->want = 0;
        c->busy = 1;
        pthread_mutex_unlock(&c->mu);
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        pthread_mutex_lock(&c->mu);
        c->busy = 0;
        if (rc == SQLITE_OK && done > 0) c->done_to = done;
        pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Called by SQLite after each commit of the writer, with the log's length
 * in frames. The thread copies the bulk; the log can only start over from
 * its beginning once all of it is copied when a transaction begins, so
 * the last few frames — those committed while the thread copied — are
 * copied here, on the writer's connection, which is then cheap. A log
 * the thread cannot keep up with (a slow disk) is copied here whole, as
 * SQLite's own automatic checkpoint would: the log stays bounded. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)name;
    ckpt *c = arg;
    if (frames < c->limit) return SQLITE_OK;
    int here = 0;
    pthread_mutex_lock(&c->mu);
    if (frames >= 4 * c->limit)
        while (c->busy || c->want)
            pthread_cond_wait(&c->idle, &c->mu);
    if (!c->busy && !c->want) {
        /* done_to above frames: the log started over since that pass */
        int left = c->done_to <= frames ? frames - c->done_to : frames;
        if (left <= c->limit / 2 || frames >= 4 * c->limit) {
            here = 1;
        } else {
            c->want = 1;
            pthread_cond_signal(&c->work);
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (here) {
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
        c->done_to = 0; /* the next transaction starts the log over */
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

/* Moves a writer's checkpoints to a thread. A checkpoint copies the log's
 * pages into the database and syncs both files (synchronous NORMAL or
 * FULL): the profile of the journal benchmark showed the writer waiting
 * on those syncs for about a third of its time. On its own thread, with
 * its own connection, the copy and the waits overlap the appends. What is
 * durable when is unchanged: a commit is still one append to the log,
 * synced as the sync mode says; a checkpoint only moves committed pages.
 * Nothing here is required: if it cannot be set up the writer keeps
 * SQLite's automatic checkpoints. */
static void ckpt_start(tb_journal *j, const tb_journal_config *cfg, int limit)
{
    static const char *const sync_sql[] = {
        "PRAGMA synchronous = FULL", "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = OFF"};
    ckpt *c = calloc(1, sizeof(*c));
    if (!c) return;
    c->limit = limit;
    /* The schema read opens the log on this connection: a checkpoint
     * needs it open. */
    if (sqlite3_open_v2(cfg->path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, sync_sql[cfg->sync], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA wal_autocheckpoint = 0; SELECT count(*) FROM sqlite_schema",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail_db;
    if (pthread_mutex_init(&c->mu, NULL) != 0) goto fail_db;
    if (pthread_cond_init(&c->work, NULL) != 0) goto fail_mu;
    if (pthread_cond_init(&c->idle, NULL) != 0) goto fail_work;
    if (tb__thread_start(&c->thread, ckpt_main, c) != 0) goto fail_idle;
    j->ck = c;
    sqlite3_wal_hook(j->db, ckpt_hook, c); /* replaces the automatic checkpoint */
    return;
fail_idle:
    pthread_cond_destroy(&c->idle);
fail_work:
    pthread_cond_destroy(&c->work);
fail_mu:
    pthread_mutex_destroy(&c->mu);
fail_db:
    sqlite3_close(c->db);
    free(c);
}

/* Stops the thread (a pass under way ends first) and closes its connection. */
static void ckpt_stop(tb_journal *j)
{
    ckpt *c = j->ck;
    if (!c) return;
    sqlite3_wal_hook(j->db, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->idle);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    free(c);
    j->ck = NULL;
}

static void close_db(tb_journal *j)
{
    ckpt_stop(j);
    finalize_all(j);
    sqlite3_close(j->db);
    j->db = NULL;
}

int tb_journal_open(const tb_journal_config *cfg, tb_journal **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!out) return TB_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->path || !cfg->path[0]) {
        tb__errf(err, errlen, "journal: no path given");
        return TB_EINVAL;
    }
    if ((int)cfg->sync < TB_JOURNAL_SYNC_FULL || (int)cfg->sync > TB_JOURNAL_SYNC_OFF) {
        tb__errf(err, errlen, "%s: unknown sync mode %d (full, normal or off)", cfg->path,
                 (int)cfg->sync);
        return TB_EINVAL;
    }
    tb_journal *j = calloc(1, sizeof(*j));
    if (!j) return TB_ENOMEM;
    j->lock_fd = -1;
    if (!(j->path = strdup(cfg->path))) {
        free(j);
        return TB_ENOMEM;
    }
    int rc = cfg->exclusive && !cfg->read_only ? take_lock(j, cfg->path, err, errlen) : 0;
    if (rc) {
        free_handle(j);
        return rc;
    }
    /* Which files were there before: an open that fails removes what it
     * created, so a failed run (a full disk, a refused file) leaves no empty
     * journal behind — and restores a file that was empty to empty. */
    static const char *const suffix[3] = {"", "-wal", "-shm"};
    int existed[3], why_missing = ENOENT;
    off_t size0 = -1;
    for (int i = 0; i < 3; i++) {
        struct stat st;
        char *p = path_with(cfg->path, suffix[i]);
        existed[i] = p && stat(p, &st) == 0;
        if (i == 0 && existed[0]) size0 = st.st_size;
        if (i == 0 && !existed[0] && p) why_missing = errno;
        free(p);
    }
    if (cfg->read_only && !existed[0]) {
        tb__errf(err, errlen, "%s: no such journal (%s): check the path", cfg->path,
                 strerror(why_missing));
        free_handle(j);
        return TB_ENOTFOUND;
    }
    int flags = cfg->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(cfg->path, &j->db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                         NULL);
    if (rc != SQLITE_OK) {
        tb__errf(err, errlen, "%s: cannot open the journal: %s", cfg->path,
                 j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
        rc = (rc & 0xff) == SQLITE_NOMEM ? TB_ENOMEM : TB_EIO;
    } else {
        rc = check_and_setup(j, cfg, err, errlen);
    }
    if (rc == 0 && !cfg->read_only) ckpt_start(j, cfg, ckpt_frames(j));
    if (rc) {
        close_db(j);
        /* A reader creates nothing; a writer undoes only what it began:
         * files of a journal that was there are someone's, untouched. */
        if (!cfg->read_only && (!existed[0] || size0 == 0)) {
            remove_files(cfg->path, existed);
            if (size0 == 0 && truncate(cfg->path, 0) != 0) {
                /* it was empty and stays what the failure left: nothing better to do */
            }
        }
        free_handle(j);
        return rc;
    }
    *out = j;
    return 0;
}

void tb_journal_close(tb_journal *j)
{
    if (!j) return;
    /* Closing commits: a clean shutdown keeps everything; only a crash
     * loses the open batch. */
    if (j->st[ST_COMMIT]) tb_journal_commit(j);
    /* Before the switch below, which needs the only connection. */
    ckpt_stop(j);
    finalize_all(j);
    /* Back to a rollback journal once the run is over: a WAL database
     * makes even a read-only open create FILE-wal and FILE-shm (and leave
     * them), and `journal info` must not write. The next run switches to
     * WAL again. Busy (a reader has it open) just keeps WAL: harmless. */
    if (j->db && sqlite3_db_readonly(j->db, "main") == 0)
        sqlite3_exec(j->db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    close_db(j);
    free_handle(j);
}

void tb_journal_discard(tb_journal *j)
{
    if (!j) return;
    close_db(j); /* what is pending is rolled back */
    /* Under the lock still: no other run can have opened it meanwhile. */
    remove_files(j->path, NULL);
    free_handle(j);
}

/* ---- requests sent --------------------------------------------------------- */

int tb_journal_request_add(tb_journal *j, const tb_journal_request *rq)
{
    if (!j || !rq || !rq->method || !rq->path || !rq->purpose || !rq->params) return TB_EINVAL;
    int rc;
    if (!j->rq_add) {
        rc = sqlite3_prepare_v3(j->db,
                                "INSERT INTO requests(time, method, path, purpose, "
                                "client_order_id, params) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                -1, SQLITE_PREPARE_PERSISTENT, &j->rq_add, NULL);
        if (rc != SQLITE_OK) return fail(j, rc, "request add");
    }
    if ((rc = begin_if_needed(j)) != 0) return rc;
    sqlite3_stmt *st = j->rq_add;
    sqlite3_bind_int64(st, 1, rq->time);
    sqlite3_bind_text(st, 2, rq->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rq->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rq->purpose, -1, SQLITE_STATIC);
    if (rq->client_order_id && rq->client_order_id[0])
        sqlite3_bind_text(st, 5, rq->client_order_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, rq->params, -1, SQLITE_STATIC);
    return step_done(j, st, "request add");
}

int tb_journal_requests_each(tb_journal *j, const char *client_order_id, tb_journal_request_fn fn,
                             void *ctx)
{
    if (!j || !fn) return TB_EINVAL;
    int rc;
    if (!j->rq_each) {
        rc = sqlite3_prepare_v3(j->db,
                                "SELECT seq, time, method, path, purpose, client_order_id, params "
                                "FROM requests WHERE ?1 IS NULL OR client_order_id = ?1 "
                                "ORDER BY seq",
                                -1, SQLITE_PREPARE_PERSISTENT, &j->rq_each, NULL);
        /* A journal from before the table (opened read-only): none sent. */
        if (rc != SQLITE_OK && strstr(sqlite3_errmsg(j->db), "no such table")) return 0;
        if (rc != SQLITE_OK) return fail(j, rc, "requests");
    }
    sqlite3_stmt *st = j->rq_each;
    if (client_order_id)
        sqlite3_bind_text(st, 1, client_order_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 1);
    int ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tb_journal_request rq;
        const char *cid = (const char *)sqlite3_column_text(st, 5);
        rq.seq = sqlite3_column_int64(st, 0);
        rq.time = sqlite3_column_int64(st, 1);
        rq.method = (const char *)sqlite3_column_text(st, 2);
        rq.path = (const char *)sqlite3_column_text(st, 3);
        rq.purpose = (const char *)sqlite3_column_text(st, 4);
        rq.client_order_id = cid ? cid : "";
        rq.params = (const char *)sqlite3_column_text(st, 6);
        if (!rq.method || !rq.path || !rq.purpose || !rq.params) {
            ret = fail(j, SQLITE_CORRUPT, "requests");
            break;
        }
        if ((ret = fn(&rq, ctx)) != 0) break;
    }
    if (ret == 0 && rc != SQLITE_DONE) ret = fail(j, rc, "requests");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

const char *tb_journal_errmsg(const tb_journal *j)
{
    return j ? j->errmsg : "no journal";
}

/* ---- metadata ------------------------------------------------------------ */

int tb_journal_meta_get(tb_journal *j, const char *key, char *buf, size_t buflen)
{
    if (!j || !key || (!buf && buflen)) return TB_EINVAL;
    sqlite3_stmt *st = j->st[ST_META_GET];
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        if (buflen) copy_cut(buf, buflen, (const char *)sqlite3_column_text(st, 0));
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        set_msg(j, "meta: no key '%s'", key);
        ret = TB_ENOTFOUND;
    } else {
        ret = fail(j, rc, "meta get");
    }
    done_stmt(st, NULL);
    return ret;
}

int tb_journal_meta_set(tb_journal *j, const char *key, const char *value)
{
    if (!j || !key || !value) return TB_EINVAL;
    int rc = begin_if_needed(j);
    if (rc) return rc;
    sqlite3_stmt *st = j->st[ST_META_SET];
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(j, st, "meta set");
}

/* ---- events ---------------------------------------------------------------- */

/* Binds one row's seven values from parameter base+1 on. */
static void bind_row(sqlite3_stmt *st, int base, const pending_row *r, const char *json)
{
    sqlite3_bind_int64(st, base + 1, r->id);
    sqlite3_bind_text(st, base + 2, r->type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 3, r->time);
    /* No cause (market data, the bulk of a journal) is NULL, which keeps
     * those rows out of the partial causation index: a quarter faster
     * appends, and `causation_id = X` still uses the index. */
    if (r->causation)
        sqlite3_bind_int64(st, base + 4, r->causation);
    else
        sqlite3_bind_null(st, base + 4);
    sqlite3_bind_int64(st, base + 5, r->correlation);
    sqlite3_bind_text(st, base + 6, r->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 7, json, r->len, SQLITE_STATIC);
}

/* Inserts one row on its own: a duplicate is refused by this call. */
static int insert_one(tb_journal *j, const pending_row *r, const char *json)
{
    int rc = begin_if_needed(j);
    if (rc) return rc;
    sqlite3_stmt *st = j->st[ST_APPEND];
    bind_row(st, 0, r, json);
    rc = sqlite3_step(st);
    /* No clear_bindings: every parameter is bound again next time, and the
     * fast path is the point of this function. */
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        set_msg(j, "append: event %llu is already in the journal",
                (unsigned long long)id_from_db(r->id));
        return TB_ESTATE;
    }
    return fail(j, rc, "append");
}

/* Inserts the pending events, in order. A write failure drops them (the
 * caller's run stops on it, as it did when each went in alone). */
static int flush(tb_journal *j)
{
    if (j->npend == 0) return 0;
    int rc = begin_if_needed(j), n = j->npend, first = 0, ret = 0;
    j->npend = 0;
    j->used = 0;
    if (rc) return rc;
    if (n == BATCH_ROWS) {
        for (int i = 0; i < n; i++)
            bind_row(j->batch, i * 7, &j->pend[i], j->arena + j->pend[i].off);
        rc = sqlite3_step(j->batch);
        /* OR FAIL keeps the rows before a refused one (counted here) */
        first = sqlite3_changes(j->db);
        sqlite3_reset(j->batch);
        if (rc == SQLITE_DONE) return 0;
        /* A duplicate the per-publisher check could not see (a transaction
         * lost under us, another writer in between): the rest one by one,
         * the duplicate refused and the others kept, as single appends
         * would have done. */
        if ((rc & 0xff) != SQLITE_CONSTRAINT) return fail(j, rc, "append");
    }
    for (int i = first; i < n; i++) {
        rc = insert_one(j, &j->pend[i], j->arena + j->pend[i].off);
        if (rc && !ret) ret = rc;
        if (rc && rc != TB_ESTATE) break;
    }
    return ret;
}

/* Flushes before a read, so it sees every append (as the API promises). */
#define FLUSH_OR_RETURN(j)                                                                         \
    do {                                                                                           \
        int frc_ = (j)->npend ? flush(j) : 0;                                                      \
        if (frc_) return frc_;                                                                     \
    } while (0)

/* Index of id's publisher in the key table, learning its highest id in
 * the journal on first sight; -1 when the table is full or the look-up
 * fails (the caller then takes the direct path). */
static int key_slot(tb_journal *j, uint64_t id)
{
    uint64_t k = id >> 40;
    for (int i = 0; i < j->nkeys; i++)
        if (j->key[i] == k) return i;
    if (j->nkeys == MAX_KEYS) return -1;
    if (!j->key_max &&
        sqlite3_prepare_v3(j->db,
                           "SELECT max(event_id) FROM events WHERE event_id BETWEEN ?1 AND ?2", -1,
                           SQLITE_PREPARE_PERSISTENT, &j->key_max, NULL) != SQLITE_OK)
        return -1;
    /* The range keeps the top bit: contiguous as signed integers too. */
    sqlite3_bind_int64(j->key_max, 1, id_to_db(k << 40));
    sqlite3_bind_int64(j->key_max, 2, id_to_db((k << 40) | ((UINT64_C(1) << 40) - 1)));
    int rc = sqlite3_step(j->key_max), slot = -1;
    if (rc == SQLITE_ROW) {
        slot = j->nkeys++;
        j->key[slot] = k;
        j->key_top[slot] = sqlite3_column_type(j->key_max, 0) == SQLITE_NULL
                               ? 0
                               : id_from_db(sqlite3_column_int64(j->key_max, 0));
    }
    sqlite3_reset(j->key_max);
    return slot;
}

int tb_journal_append(tb_journal *j, const tb_event *ev)
{
    if (!j || !ev) return TB_EINVAL;
    int rc;
    if (!j->batch) {
        /* "INSERT ... VALUES (?,...,?), (?,...,?), ..." with BATCH_ROWS rows.
         * OR FAIL, not the default ABORT: ABORT must be able to undo a
         * statement half done, so SQLite keeps a statement journal of every
         * page the batch touches (with 32 KB pages, more than the batch) —
         * that cost more than batching saved. The rows are checked new
         * before they wait (key_slot), so a refusal is not expected. */
        char sql[BATCH_ROWS * 24 + 128];
        size_t n =
            (size_t)snprintf(sql, sizeof(sql),
                             "INSERT OR FAIL INTO events(event_id, type, time, causation_id, "
                             "correlation_id, source, payload) VALUES ");
        for (int i = 0; i < BATCH_ROWS; i++)
            n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s(?,?,?,?,?,?,?)", i ? "," : "");
        rc = sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &j->batch, NULL);
        if (rc != SQLITE_OK) return fail(j, rc, "append");
    }
    /* The transaction first: it decides what waits and what the key
     * table may trust. */
    if ((rc = begin_if_needed(j)) != 0) return rc;
    if (BATCH_ARENA - j->used < ENCODE_MAX && (rc = flush(j)) != 0) return rc;
    char *json = j->arena + j->used;
    int n = tb_codec_encode(ev, json, ENCODE_MAX);
    if (n < 0) {
        set_msg(j, "append: event %llu (type %d) cannot be encoded: %s",
                (unsigned long long)ev->event_id, (int)ev->type, tb_strerror(n));
        return n;
    }
    pending_row r = {id_to_db(ev->event_id),
                     ev->timestamp,
                     id_to_db(ev->causation_id),
                     id_to_db(ev->correlation_id),
                     tb_event_type_name(ev->type),
                     tb_source_name(ev->source),
                     j->used,
                     n};
    int slot = key_slot(j, ev->event_id);
    if (slot < 0 || ev->event_id <= j->key_top[slot]) {
        /* Maybe a duplicate: in order behind what waits, on its own. */
        /* The flush leaves the arena's bytes alone: json is still whole. */
        if ((rc = flush(j)) != 0) return rc;
        rc = insert_one(j, &r, json);
        if (rc == 0 && slot >= 0 && ev->event_id > j->key_top[slot])
            j->key_top[slot] = ev->event_id;
        return rc;
    }
    j->key_top[slot] = ev->event_id;
    j->pend[j->npend++] = r;
    j->used += (size_t)n;
    return j->npend == BATCH_ROWS ? flush(j) : 0;
}

int tb_journal_commit(tb_journal *j)
{
    if (!j) return TB_EINVAL;
    FLUSH_OR_RETURN(j);
    if (sqlite3_get_autocommit(j->db)) return 0; /* nothing pending */
    sqlite3_stmt *st = j->st[ST_COMMIT];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(j, rc, "commit");
}

int tb_journal_rollback(tb_journal *j)
{
    if (!j) return TB_EINVAL;
    j->npend = 0; /* never inserted: dropping them is their rollback */
    j->used = 0;
    j->nkeys = 0;
    if (sqlite3_get_autocommit(j->db)) return 0;
    sqlite3_stmt *st = j->st[ST_ROLLBACK];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(j, rc, "rollback");
}

int64_t tb_journal_count(tb_journal *j)
{
    if (!j) return TB_EINVAL;
    FLUSH_OR_RETURN(j);
    return scalar(j, ST_COUNT, "count");
}

/* Decodes the payload in column 1 of the current row into *ev. */
static int row_event(tb_journal *j, sqlite3_stmt *st, tb_event *ev, const char **json)
{
    const char *text = (const char *)sqlite3_column_text(st, 1);
    int len = sqlite3_column_bytes(st, 1);
    char cerr[TB_CODEC_ERRLEN];
    if (!text) return fail(j, SQLITE_NOMEM, "read");
    if (tb_codec_decode(text, (size_t)len, ev, cerr, sizeof(cerr)) != 0) {
        set_msg(j, "event at seq %lld: the stored payload does not decode: %s",
                (long long)sqlite3_column_int64(st, 0), cerr);
        return TB_EPARSE;
    }
    if (json) *json = text;
    return 0;
}

/* Runs a walk over events: each row decoded and handed to fn. */
static int walk(tb_journal *j, int which, int64_t param, tb_journal_event_fn fn, void *ctx)
{
    FLUSH_OR_RETURN(j);
    sqlite3_stmt *own, *st;
    int rc, ret = use_stmt(j, which, &st, &own);
    if (ret) return ret;
    sqlite3_bind_int64(st, 1, param);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tb_event ev;
        const char *json = NULL;
        ret = row_event(j, st, &ev, &json);
        if (!ret) ret = fn(&ev, json, ctx);
        if (ret) break;
    }
    if (!ret && rc != SQLITE_DONE) ret = fail(j, rc, "read");
    done_stmt(st, own);
    return ret;
}

int tb_journal_each(tb_journal *j, int64_t after_seq, tb_journal_event_fn fn, void *ctx)
{
    if (!j || !fn) return TB_EINVAL;
    return walk(j, ST_EACH, after_seq, fn, ctx);
}

int tb_journal_children(tb_journal *j, uint64_t event_id, tb_journal_event_fn fn, void *ctx)
{
    if (!j || !fn) return TB_EINVAL;
    return walk(j, ST_CHILDREN, id_to_db(event_id), fn, ctx);
}

struct tb_journal_cursor {
    tb_journal *j;
    sqlite3_stmt *st; /* its own: a cursor may be open during other walks */
};

int tb_journal_cursor_open(tb_journal *j, int64_t after_seq, tb_journal_cursor **out)
{
    if (!j || !out) return TB_EINVAL;
    *out = NULL;
    FLUSH_OR_RETURN(j);
    tb_journal_cursor *c = calloc(1, sizeof(*c));
    if (!c) return TB_ENOMEM;
    c->j = j;
    int rc = sqlite3_prepare_v2(j->db, stmt_sql[ST_EACH], -1, &c->st, NULL);
    if (rc != SQLITE_OK) {
        free(c);
        return fail(j, rc, "prepare");
    }
    sqlite3_bind_int64(c->st, 1, after_seq);
    *out = c;
    return 0;
}

int tb_journal_cursor_next(tb_journal_cursor *c, tb_event *ev, const char **json, size_t *len)
{
    if (!c || !ev) return TB_EINVAL;
    FLUSH_OR_RETURN(c->j);
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_DONE) return TB_EEOF;
    if (rc != SQLITE_ROW) return fail(c->j, rc, "read");
    const char *text;
    int ret = row_event(c->j, c->st, ev, &text);
    if (ret) return ret;
    if (json) *json = text;
    if (len) *len = (size_t)sqlite3_column_bytes(c->st, 1);
    return 0;
}

void tb_journal_cursor_close(tb_journal_cursor *c)
{
    if (!c) return;
    sqlite3_finalize(c->st);
    free(c);
}

int tb_journal_get(tb_journal *j, uint64_t event_id, tb_event *out)
{
    if (!j || !out) return TB_EINVAL;
    FLUSH_OR_RETURN(j);
    sqlite3_stmt *own, *st;
    int ret = use_stmt(j, ST_GET, &st, &own);
    if (ret) return ret;
    sqlite3_bind_int64(st, 1, id_to_db(event_id));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ret = row_event(j, st, out, NULL);
    } else if (rc == SQLITE_DONE) {
        set_msg(j, "no event %llu in the journal", (unsigned long long)event_id);
        ret = TB_ENOTFOUND;
    } else {
        ret = fail(j, rc, "get");
    }
    done_stmt(st, own);
    return ret;
}

int tb_journal_find_order(tb_journal *j, const char *order_id, tb_event *out)
{
    if (!j || !order_id || !out) return TB_EINVAL;
    FLUSH_OR_RETURN(j);
    sqlite3_stmt *own, *st;
    int ret = use_stmt(j, ST_FIND_ORDER, &st, &own);
    if (ret) return ret;
    sqlite3_bind_text(st, 1, order_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ret = row_event(j, st, out, NULL);
    } else if (rc == SQLITE_DONE) {
        set_msg(j, "no order '%s' in the journal", order_id);
        ret = TB_ENOTFOUND;
    } else {
        ret = fail(j, rc, "find order");
    }
    done_stmt(st, own);
    return ret;
}

/* ---- dead letters ---------------------------------------------------------- */

int tb_journal_dlq_add(tb_journal *j, const tb_dead_letter *d, int64_t now)
{
    if (!j || !d) return TB_EINVAL;
    int n = tb_codec_encode(&d->event, j->buf, sizeof(j->buf));
    if (n < 0) {
        set_msg(j, "dead letter: event %llu (type %d) cannot be encoded: %s",
                (unsigned long long)d->event.event_id, (int)d->event.type, tb_strerror(n));
        return n;
    }
    int rc = begin_if_needed(j);
    if (rc) return rc;
    sqlite3_stmt *st = j->st[ST_DLQ_ADD];
    sqlite3_bind_int64(st, 1, id_to_db(d->event.event_id));
    sqlite3_bind_text(st, 2, tb_event_type_name(d->event.type), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, d->subscriber, (int)strnlen(d->subscriber, sizeof(d->subscriber)),
                      SQLITE_STATIC);
    sqlite3_bind_text(st, 4, d->reason, (int)strnlen(d->reason, sizeof(d->reason)), SQLITE_STATIC);
    sqlite3_bind_int(st, 5, d->error);
    sqlite3_bind_int(st, 6, d->attempts);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_text(st, 8, j->buf, n, SQLITE_STATIC);
    return step_done(j, st, "dead letter add");
}

int tb_journal_dlq_add_raw(tb_journal *j, const char *component, const char *reason,
                           const char *raw, int64_t now)
{
    if (!j || !component || !reason || !raw) return TB_EINVAL;
    int rc = begin_if_needed(j);
    if (rc) return rc;
    sqlite3_stmt *st = j->st[ST_DLQ_ADD_RAW];
    sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, TB_EPARSE); /* it never decoded: that is its error */
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_text(st, 5, raw, -1, SQLITE_STATIC); /* kept whole; entries show it cut */
    return step_done(j, st, "dead letter add");
}

/* Fills e from the current row (columns as DLQ_COLUMNS). */
static void row_dlq(sqlite3_stmt *st, tb_dlq_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(st, 0);
    copy_cut(e->component, sizeof(e->component), (const char *)sqlite3_column_text(st, 3));
    copy_cut(e->reason, sizeof(e->reason), (const char *)sqlite3_column_text(st, 4));
    e->error = sqlite3_column_int(st, 5);
    e->attempts = sqlite3_column_int(st, 6);
    e->first_seen = sqlite3_column_int64(st, 7);
    e->last_seen = sqlite3_column_int64(st, 8);
    const char *payload = (const char *)sqlite3_column_text(st, 9);
    int len = sqlite3_column_bytes(st, 9);
    /* A raw entry (type NULL) keeps its text; so does an event whose stored
     * JSON no longer decodes — shown as text rather than hidden. */
    if (sqlite3_column_type(st, 2) == SQLITE_NULL || !payload ||
        tb_codec_decode(payload, (size_t)len, &e->event, NULL, 0) != 0) {
        memset(&e->event, 0, sizeof(e->event));
        e->event.event_id = id_from_db(sqlite3_column_int64(st, 1));
        copy_cut(e->raw, sizeof(e->raw), payload);
    }
}

int tb_journal_dlq_each(tb_journal *j, tb_journal_dlq_fn fn, void *ctx)
{
    if (!j || !fn) return TB_EINVAL;
    sqlite3_stmt *own, *st;
    int rc, ret = use_stmt(j, ST_DLQ_EACH, &st, &own);
    if (ret) return ret;
    /* The entry is large (raw text); one on the heap, not per row. */
    tb_dlq_entry *e = malloc(sizeof(*e));
    if (!e) {
        done_stmt(st, own);
        return TB_ENOMEM;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_dlq(st, e);
        ret = fn(e, ctx);
        if (ret) break;
    }
    if (!ret && rc != SQLITE_DONE) ret = fail(j, rc, "dead letter read");
    free(e);
    done_stmt(st, own);
    return ret;
}

int tb_journal_dlq_get(tb_journal *j, int64_t id, tb_dlq_entry *out)
{
    if (!j || !out) return TB_EINVAL;
    sqlite3_stmt *st = j->st[ST_DLQ_GET];
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        row_dlq(st, out);
    } else if (rc == SQLITE_DONE) {
        set_msg(j, "no dead letter %lld", (long long)id);
        ret = TB_ENOTFOUND;
    } else {
        ret = fail(j, rc, "dead letter get");
    }
    done_stmt(st, NULL);
    return ret;
}

int tb_journal_dlq_remove(tb_journal *j, int64_t id)
{
    if (!j) return TB_EINVAL;
    int rc = begin_if_needed(j);
    if (rc) return rc;
    sqlite3_stmt *st = j->st[ST_DLQ_REMOVE];
    sqlite3_bind_int64(st, 1, id);
    rc = step_done(j, st, "dead letter remove");
    if (rc) return rc;
    if (sqlite3_changes(j->db) == 0) {
        set_msg(j, "no dead letter %lld", (long long)id);
        return TB_ENOTFOUND;
    }
    return 0;
}

int64_t tb_journal_dlq_count(tb_journal *j)
{
    if (!j) return TB_EINVAL;
    return scalar(j, ST_DLQ_COUNT, "dead letter count");
}
