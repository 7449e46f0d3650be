/* A node's durable state in SQLite (see nstate.h). WAL with synchronous =
 * NORMAL: a commit survives a killed process (the case the tests exercise);
 * a power cut may lose the last steps, which the broker still holds
 * unacknowledged and delivers again. */
#include "nstate.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "tradebus/error.h"

struct tb__nstate {
    sqlite3 *db;
    sqlite3_stmt *add, *set, *handled;
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS progress(one INTEGER PRIMARY KEY CHECK(one = 1), root INTEGER,"
    " depth INTEGER, phase INTEGER, counter INTEGER, dead INTEGER);"
    "CREATE TABLE IF NOT EXISTS handled(seq INTEGER PRIMARY KEY, root INTEGER NOT NULL,"
    " depth INTEGER NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);";

static int set_meta(tb__nstate *s, const char *sql, const char *k, const char *v)
{
    sqlite3_stmt *ins;
    int rc = TB_EIO;
    if (!sqlite3_prepare_v2(s->db, sql, -1, &ins, NULL)) {
        sqlite3_bind_text(ins, 1, v, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, k, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) == SQLITE_DONE) rc = 0;
        sqlite3_finalize(ins);
    }
    return rc;
}

static int check_meta(tb__nstate *s, const char *k, const char *want, int may_change,
                      const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = ?", -1, &st, NULL)) return TB_EIO;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(st, 0);
        if (have && strcmp(have, want) != 0 && may_change) {
            rc = set_meta(s, "UPDATE meta SET v = ? WHERE k = ?", k, want);
        } else if (!have || strcmp(have, want) != 0) {
            tb__errf(err, errlen,
                     "%s: state of another %s (%s, not %s): delete the file to start this run "
                     "afresh, give this run its own [bus] name%s",
                     path, k, have ? have : "?", want,
                     strcmp(k, "config") ? ""
                                         : ", or, to carry on this run under the changed config, "
                                           "--accept-config-change");
            rc = TB_ECONFIG;
        }
    } else {
        rc = set_meta(s, "INSERT INTO meta(v, k) VALUES(?, ?)", k, want);
    }
    sqlite3_finalize(st);
    return rc;
}

int tb__nstate_open(const char *path, const char *role, const char *run, uint64_t cfg_hash,
                    int config_may_change, tb__nstate **out, int *fresh, char *err, size_t errlen)
{
    tb__nstate *s = calloc(1, sizeof(*s));
    if (!s) return TB_ENOMEM;
    int rc = TB_EIO;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        tb__errf(err, errlen, "%s: cannot open the state file: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char hash[32];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)cfg_hash);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL,
                     NULL) ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL)) {
        tb__errf(err, errlen, "%s: not a usable state file: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    sqlite3_stmt *st;
    *fresh = 1;
    if (!sqlite3_prepare_v2(s->db, "SELECT count(*) FROM meta", -1, &st, NULL)) {
        if (sqlite3_step(st) == SQLITE_ROW) *fresh = sqlite3_column_int(st, 0) == 0;
        sqlite3_finalize(st);
    }
    const char *ks[] = {"role", "run", "config"};
    const char *vs[] = {role, run, hash};
    for (int i = 0; i < 3; i++)
        if ((rc = check_meta(s, ks[i], vs[i], i == 2 && config_may_change, path, err, errlen)) !=
            0) {
            if (rc == TB_EIO) tb__errf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
            goto fail;
        }
    rc = TB_EIO;
    if (sqlite3_exec(s->db, "INSERT OR IGNORE INTO progress VALUES(1, 0, 0, 0, 0, 0)", NULL, NULL,
                     NULL) ||
        sqlite3_prepare_v2(s->db, "INSERT INTO handled(root, depth, id, body) VALUES(?,?,?,?)", -1,
                           &s->add, NULL) ||
        sqlite3_prepare_v2(s->db, "UPDATE progress SET root=?, depth=?, phase=?, counter=?, dead=?",
                           -1, &s->set, NULL) ||
        sqlite3_prepare_v2(s->db, "SELECT 1 FROM handled WHERE id = ?", -1, &s->handled, NULL)) {
        tb__errf(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    tb__nstate_close(s);
    return rc;
}

void tb__nstate_close(tb__nstate *s)
{
    if (!s) return;
    sqlite3_finalize(s->add);
    sqlite3_finalize(s->set);
    sqlite3_finalize(s->handled);
    sqlite3_close(s->db);
    free(s);
}

int tb__nstate_peek(const char *path, tb__nprogress *p)
{
    tb__nstate s;
    memset(&s, 0, sizeof(s));
    if (sqlite3_open_v2(path, &s.db, SQLITE_OPEN_READONLY, NULL)) {
        sqlite3_close(s.db);
        return TB_EIO;
    }
    sqlite3_busy_timeout(s.db, 1000);
    int rc = tb__nstate_progress(&s, p);
    sqlite3_close(s.db);
    return rc;
}

int tb__nstate_progress(tb__nstate *s, tb__nprogress *p)
{
    sqlite3_stmt *st;
    memset(p, 0, sizeof(*p));
    if (sqlite3_prepare_v2(s->db, "SELECT root, depth, phase, counter, dead FROM progress", -1, &st,
                           NULL))
        return TB_EIO;
    int rc = TB_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        p->root = (uint64_t)sqlite3_column_int64(st, 0);
        p->depth = sqlite3_column_int(st, 1);
        p->phase = sqlite3_column_int(st, 2);
        p->counter = (uint64_t)sqlite3_column_int64(st, 3);
        p->dead = (uint64_t)sqlite3_column_int64(st, 4);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int tb__nstate_each(tb__nstate *s, int (*fn)(const char *body, size_t len, void *ctx), void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT body FROM handled ORDER BY seq", -1, &st, NULL))
        return TB_EIO;
    int rc = 0, step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), ctx);
    sqlite3_finalize(st);
    return rc;
}

int tb__nstate_handled(tb__nstate *s, const char *id)
{
    sqlite3_reset(s->handled);
    sqlite3_bind_text(s->handled, 1, id, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(s->handled) == SQLITE_ROW;
    sqlite3_reset(s->handled);
    return r;
}

int tb__nstate_begin(tb__nstate *s)
{
    return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) ? TB_EIO : 0;
}

int tb__nstate_add(tb__nstate *s, int64_t root, int depth, const char *id, const char *body,
                   size_t len)
{
    sqlite3_reset(s->add);
    sqlite3_bind_int64(s->add, 1, root);
    sqlite3_bind_int(s->add, 2, depth);
    sqlite3_bind_text(s->add, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->add, 4, body, (int)len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s->add);
    sqlite3_reset(s->add);
    return rc == SQLITE_DONE ? 0 : TB_EIO;
}

int tb__nstate_set(tb__nstate *s, const tb__nprogress *p)
{
    sqlite3_reset(s->set);
    sqlite3_bind_int64(s->set, 1, (sqlite3_int64)p->root);
    sqlite3_bind_int(s->set, 2, p->depth);
    sqlite3_bind_int(s->set, 3, p->phase);
    sqlite3_bind_int64(s->set, 4, (sqlite3_int64)p->counter);
    sqlite3_bind_int64(s->set, 5, (sqlite3_int64)p->dead);
    int rc = sqlite3_step(s->set);
    sqlite3_reset(s->set);
    return rc == SQLITE_DONE ? 0 : TB_EIO;
}

int tb__nstate_commit(tb__nstate *s)
{
    return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) ? TB_EIO : 0;
}

void tb__nstate_rollback(tb__nstate *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *tb__nstate_errmsg(tb__nstate *s)
{
    return sqlite3_errmsg(s->db);
}
