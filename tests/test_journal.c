/* The journal: events appended in batches, read back in order and by
 * causality, crashes that lose only the open batch, files refused with a
 * reason, metadata and the persistent dead-letter queue. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tb_test_support.h"

#include <tradebus/codec.h>
#include <tradebus/journal.h>

static char dir[256], path[512];

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/journal.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_dir(dir);
    return 0;
}

static tb_journal *open_with(tb_journal_sync sync)
{
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.sync = sync;
    tb_journal *j = NULL;
    char err[512];
    int rc = tb_journal_open(&cfg, &j, err, sizeof(err));
    if (rc != 0) fail_msg("open %s: %s (%s)", path, err, tb_err_name(rc));
    return j;
}

static tb_journal *open_journal(void)
{
    return open_with(TB_JOURNAL_SYNC_NORMAL);
}

/* Opening must fail: returns the code, the message in err. */
static int open_fails(char *err, size_t errlen)
{
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    tb_journal *j = (tb_journal *)&cfg; /* must be reset to NULL */
    int rc = tb_journal_open(&cfg, &j, err, errlen);
    assert_int_not_equal(rc, 0);
    assert_null(j);
    return rc;
}

#define ID(n) ((UINT64_C(1) << 48) | (uint64_t)(n))

/* One full chain, ids base+1..base+6, as the pipeline publishes it:
 * MarketData → SignalGenerated → OrderPlacementRequest → OrderCreated →
 * OrderFilled → PositionUpdate. */
static void make_chain(tb_event ev[6], uint64_t base, int64_t minute)
{
    tb_market_data bar = tbt_bar("BTCUSDT", minute, "42000", "42100", "41900", "42050", "3.5");
    ev[0] = tbt_bar_event(&bar);
    ev[0].event_id = ev[0].correlation_id = base + 1;

    tb_event_init(&ev[1], TB_EV_SIGNAL_GENERATED, TB_SRC_SIGNAL);
    tb_signal_generated *s = &ev[1].u.signal;
    s->signal_type = TB_SIGNAL_BUY;
    strcpy(s->symbol, "BTCUSDT");
    s->price = tbt_dec("42050");
    s->volume = tbt_dec("0.01");
    strcpy(s->strategy_id, "s1");
    s->order_type = TB_ORDER_MARKET;

    tb_event_init(&ev[2], TB_EV_ORDER_PLACEMENT_REQUEST, TB_SRC_ORDERS);
    tb_order_placement_request *q = &ev[2].u.order_request;
    q->order_type = TB_ORDER_MARKET;
    q->side = TB_SIDE_BUY;
    strcpy(q->symbol, "BTCUSDT");
    q->quantity = tbt_dec("0.01");
    strcpy(q->strategy_id, "s1");
    strcpy(q->client_order_id, "s1-1");

    tb_event_init(&ev[3], TB_EV_ORDER_CREATED, TB_SRC_ORDERS);
    tb_order_created *o = &ev[3].u.order_created;
    strcpy(o->order_id, "1001");
    o->status = TB_ORDER_NEW;
    strcpy(o->client_order_id, "s1-1");
    o->order_type = TB_ORDER_MARKET;
    o->side = TB_SIDE_BUY;
    strcpy(o->symbol, "BTCUSDT");
    o->quantity = tbt_dec("0.01");
    strcpy(o->strategy_id, "s1");

    tb_event_init(&ev[4], TB_EV_ORDER_FILLED, TB_SRC_ORDERS);
    tb_order_filled *f = &ev[4].u.order_filled;
    strcpy(f->order_id, "1001");
    strcpy(f->client_order_id, "s1-1");
    strcpy(f->strategy_id, "s1");
    strcpy(f->symbol, "BTCUSDT");
    f->side = TB_SIDE_BUY;
    f->filled_quantity = f->cumulative_quantity = tbt_dec("0.01");
    f->filled_price = f->average_price = tbt_dec("42060");
    f->commission = tbt_dec("0.4206");
    f->status = TB_ORDER_FILLED;
    f->trade_id = 7;

    tb_event_init(&ev[5], TB_EV_POSITION_UPDATE, TB_SRC_POSITIONS);
    tb_position_update *p = &ev[5].u.position;
    p->position_id = 1;
    strcpy(p->strategy_id, "s1");
    strcpy(p->symbol, "BTCUSDT");
    p->current_quantity = tbt_dec("0.01");
    p->entry_price = p->mark_price = tbt_dec("42060");
    p->status = TB_POSITION_OPEN;

    for (int i = 1; i < 6; i++) {
        ev[i].event_id = base + 1 + (uint64_t)i;
        tb_event_caused_by(&ev[i], &ev[i - 1]);
        ev[i].timestamp = ev[0].timestamp + (i >= 4 ? TBT_MINUTE : 0);
    }
}

static void append_all(tb_journal *j, const tb_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tb_journal_append(j, &ev[i]) != 0) fail_msg("append %zu: %s", i, tb_journal_errmsg(j));
}

static void assert_same_event(const tb_event *a, const tb_event *b)
{
    char ja[2048], jb[2048];
    assert_true(tb_codec_encode(a, ja, sizeof(ja)) > 0);
    assert_true(tb_codec_encode(b, jb, sizeof(jb)) > 0);
    assert_string_equal(ja, jb);
}

typedef struct {
    tb_event ev[64];
    char json[64][2048];
    size_t n;
    size_t stop_after; /* return 99 after this many (0 = never) */
} seen;

static int see(const tb_event *ev, const char *json, void *ctx)
{
    seen *s = ctx;
    assert_true(s->n < 64);
    s->ev[s->n] = *ev;
    snprintf(s->json[s->n], sizeof(s->json[0]), "%s", json);
    s->n++;
    return s->stop_after && s->n == s->stop_after ? 99 : 0;
}

/* ---- events ---------------------------------------------------------------- */

static void test_journal_append_commit_count_get(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6], got;
    make_chain(ev, ID(0), 1);
    assert_int_equal(tb_journal_count(j), 0);
    append_all(j, ev, 6);
    assert_int_equal(tb_journal_count(j), 6); /* pending rows count too */
    assert_int_equal(tb_journal_commit(j), 0);
    assert_int_equal(tb_journal_count(j), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tb_journal_get(j, ev[i].event_id, &got), 0);
        assert_same_event(&got, &ev[i]);
    }
    assert_int_equal(tb_journal_get(j, ID(999), &got), TB_ENOTFOUND);
    tb_journal_close(j);
}

static void test_journal_each_walks_in_journal_order(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    append_all(j, ev, 6);
    seen *s = calloc(1, sizeof(*s));
    assert_int_equal(tb_journal_each(j, 0, see, s), 0);
    assert_int_equal(s->n, 6);
    for (int i = 0; i < 6; i++) {
        assert_same_event(&s->ev[i], &ev[i]);
        char want[2048];
        tb_codec_encode(&ev[i], want, sizeof(want));
        assert_string_equal(s->json[i], want); /* the stored line is the codec's */
    }
    /* after_seq: seq starts at 1, so after 4 come the 5th and 6th. */
    s->n = 0;
    assert_int_equal(tb_journal_each(j, 4, see, s), 0);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->ev[0].event_id, ev[4].event_id);
    /* A non-zero return stops the walk and is returned. */
    s->n = 0;
    s->stop_after = 2;
    assert_int_equal(tb_journal_each(j, 0, see, s), 99);
    assert_int_equal(s->n, 2);
    free(s);
    tb_journal_close(j);
}

static void test_journal_children_are_the_direct_effects_in_order(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event a[6], b[6];
    make_chain(a, ID(0), 1);
    make_chain(b, ID(100), 2);
    /* A second effect of a's bar, interleaved after another chain: children
     * come in journal order, whatever else lies between. */
    tb_event alert;
    tb_event_init(&alert, TB_EV_RISK_ALERT, TB_SRC_RISK);
    strcpy(alert.u.risk_alert.rule, "max_drawdown");
    strcpy(alert.u.risk_alert.detail, "drawdown 26% > 25%");
    alert.event_id = ID(50);
    tb_event_caused_by(&alert, &a[0]);
    append_all(j, a, 6);
    append_all(j, b, 6);
    append_all(j, &alert, 1);
    seen *s = calloc(1, sizeof(*s));
    assert_int_equal(tb_journal_children(j, a[0].event_id, see, s), 0);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->ev[0].event_id, a[1].event_id);
    assert_int_equal(s->ev[1].event_id, alert.event_id);
    s->n = 0;
    assert_int_equal(tb_journal_children(j, a[3].event_id, see, s), 0);
    assert_int_equal(s->n, 1);
    assert_int_equal(s->ev[0].type, TB_EV_ORDER_FILLED);
    s->n = 0;
    assert_int_equal(tb_journal_children(j, a[5].event_id, see, s), 0);
    assert_int_equal(s->n, 0); /* a leaf */
    assert_int_equal(tb_journal_children(j, 0, see, s), 0);
    assert_int_equal(s->n, 0); /* "caused by nothing" is no one's child */
    free(s);
    tb_journal_close(j);
}

/* trace walks down recursively: a children walk inside a children callback. */
typedef struct {
    tb_journal *j;
    int depth, max_depth, nodes;
} nest;

static int descend(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    nest *n = ctx;
    n->nodes++;
    n->depth++;
    if (n->depth > n->max_depth) n->max_depth = n->depth;
    int rc = tb_journal_children(n->j, ev->event_id, descend, n);
    n->depth--;
    return rc;
}

static void test_journal_walks_nest_inside_callbacks(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    append_all(j, ev, 6);
    nest n = {j, 0, 0, 0};
    assert_int_equal(tb_journal_children(j, ev[0].event_id, descend, &n), 0);
    assert_int_equal(n.nodes, 5);
    assert_int_equal(n.max_depth, 5);
    tb_journal_close(j);
}

static void test_journal_duplicate_event_id_is_estate(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    append_all(j, ev, 6);
    assert_int_equal(tb_journal_append(j, &ev[2]), TB_ESTATE);
    assert_non_null(strstr(tb_journal_errmsg(j), "281474976710659"));
    /* The batch survives the refused row. */
    assert_int_equal(tb_journal_commit(j), 0);
    assert_int_equal(tb_journal_count(j), 6);
    tb_journal_close(j);
}

static void test_journal_ids_above_int64_max_read_back_unchanged(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6], got;
    make_chain(ev, UINT64_C(0xFFFF) << 48, 1); /* node 65535: the sign bit set */
    append_all(j, ev, 6);
    assert_int_equal(tb_journal_get(j, ev[4].event_id, &got), 0);
    assert_true(got.event_id == ev[4].event_id);
    assert_true(got.causation_id == ev[3].event_id);
    seen *s = calloc(1, sizeof(*s));
    assert_int_equal(tb_journal_children(j, ev[0].event_id, see, s), 0);
    assert_int_equal(s->n, 1);
    assert_true(s->ev[0].event_id == ev[1].event_id);
    free(s);
    tb_journal_close(j);
}

/* ---- transactions and crashes ---------------------------------------------- */

static void test_journal_rollback_drops_pending(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event a[6], b[6], got;
    make_chain(a, ID(0), 1);
    make_chain(b, ID(100), 2);
    append_all(j, a, 6);
    assert_int_equal(tb_journal_commit(j), 0);
    append_all(j, b, 6);
    assert_int_equal(tb_journal_count(j), 12);
    assert_int_equal(tb_journal_rollback(j), 0);
    assert_int_equal(tb_journal_count(j), 6);
    assert_int_equal(tb_journal_get(j, b[0].event_id, &got), TB_ENOTFOUND);
    /* The next write starts a new batch. */
    append_all(j, b, 6);
    assert_int_equal(tb_journal_commit(j), 0);
    assert_int_equal(tb_journal_count(j), 12);
    assert_int_equal(tb_journal_rollback(j), 0); /* nothing pending: a no-op */
    tb_journal_close(j);
}

static void test_journal_close_commits_pending(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    append_all(j, ev, 6);
    tb_journal_close(j);
    j = open_journal();
    assert_int_equal(tb_journal_count(j), 6);
    tb_journal_close(j);
    tb_journal_close(NULL);
}

static void test_journal_crash_loses_only_the_uncommitted_batch(void **state)
{
    (void)state;
    /* The child journals like a run: one batch committed, the next one
     * pending when the process dies (no close, no atexit). The parent has
     * nothing open across the fork. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tb_journal_config cfg;
        tb_journal_config_init(&cfg);
        cfg.path = path;
        tb_journal *j;
        tb_event a[6], b[6];
        make_chain(a, ID(0), 1);
        make_chain(b, ID(100), 2);
        if (tb_journal_open(&cfg, &j, NULL, 0) != 0) _exit(10);
        for (int i = 0; i < 6; i++)
            if (tb_journal_append(j, &a[i]) != 0) _exit(11);
        if (tb_journal_commit(j) != 0) _exit(12);
        for (int i = 0; i < 6; i++)
            if (tb_journal_append(j, &b[i]) != 0) _exit(13);
        /* Dies on the spot — SIGKILL rather than _exit: a checker such as
         * valgrind would otherwise report the handle left open on purpose. */
        raise(SIGKILL);
        _exit(14);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) fail_msg("the child failed before the crash: exit %d", WEXITSTATUS(st));
    assert_true(WIFSIGNALED(st));
    /* Reopening runs SQLite's quick check: it passes, and only the
     * committed batch is there. */
    tb_journal *j = open_journal();
    tb_event got;
    assert_int_equal(tb_journal_count(j), 6);
    assert_int_equal(tb_journal_get(j, ID(101), &got), TB_ENOTFOUND);
    assert_int_equal(tb_journal_get(j, ID(6), &got), 0);
    tb_journal_close(j);
}

static void test_journal_sigkill_mid_run_leaves_whole_batches(void **state)
{
    (void)state;
    /* The child commits batches of 6 as fast as it can; SIGKILL lands
     * wherever it lands — in an append, a commit or a checkpoint. Whatever
     * survives must be whole batches and pass the quick check. */
    srand(42);
    for (int round = 0; round < 5; round++) {
        unlink(path);
        char aux[600];
        snprintf(aux, sizeof(aux), "%s-wal", path);
        unlink(aux);
        snprintf(aux, sizeof(aux), "%s-shm", path);
        unlink(aux);
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            tb_journal_config cfg;
            tb_journal_config_init(&cfg);
            cfg.path = path;
            tb_journal *j;
            if (tb_journal_open(&cfg, &j, NULL, 0) != 0) _exit(10);
            for (uint64_t batch = 0;; batch++) {
                tb_event ev[6];
                make_chain(ev, ID(batch * 10), (int64_t)batch);
                for (int i = 0; i < 6; i++)
                    if (tb_journal_append(j, &ev[i]) != 0) _exit(11);
                if (tb_journal_commit(j) != 0) _exit(12);
                if (batch == 20 && write(ready[1], "x", 1) != 1) _exit(13);
            }
        }
        close(ready[1]);
        char c;
        assert_int_equal(read(ready[0], &c, 1), 1); /* past the first batches */
        close(ready[0]);
        struct timespec ts = {0, (long)(rand() % 20000) * 1000}; /* 0..20 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        tb_journal *j = open_journal();
        int64_t n = tb_journal_count(j);
        assert_true(n >= 21 * 6);
        assert_int_equal(n % 6, 0);
        tb_journal_close(j);
    }
}

static void test_journal_second_reader_sees_only_committed(void **state)
{
    (void)state;
    /* WAL: `tradebus journal trace` may read while a run writes. */
    tb_journal *w = open_journal(), *r = open_journal();
    tb_event a[6], b[6];
    make_chain(a, ID(0), 1);
    make_chain(b, ID(100), 2);
    append_all(w, a, 6);
    assert_int_equal(tb_journal_commit(w), 0);
    append_all(w, b, 6);
    assert_int_equal(tb_journal_count(r), 6);
    assert_int_equal(tb_journal_commit(w), 0);
    assert_int_equal(tb_journal_count(r), 12);
    tb_journal_close(r);
    tb_journal_close(w);
}

/* ---- files refused ------------------------------------------------------------ */

static void set_schema_version(const char *v)
{
    tb_journal *j = open_journal();
    assert_int_equal(tb_journal_meta_set(j, "schema_version", v), 0);
    tb_journal_close(j);
}

static void test_journal_newer_schema_is_refused(void **state)
{
    (void)state;
    set_schema_version("2");
    char err[512], want[700];
    assert_int_equal(open_fails(err, sizeof(err)), TB_ESTATE);
    snprintf(want, sizeof(want),
             "%s: written by a newer tradebus (schema 2, this one reads 1): upgrade tradebus",
             path);
    assert_string_equal(err, want);
}

static void test_journal_missing_schema_version_is_refused(void **state)
{
    (void)state;
    set_schema_version("");
    char err[512];
    assert_int_equal(open_fails(err, sizeof(err)), TB_ESTATE);
    assert_non_null(strstr(err, "not a tradebus journal"));
}

static void test_journal_other_sqlite_database_is_refused(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE customers(id INTEGER, name TEXT)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    char err[512];
    assert_int_equal(open_fails(err, sizeof(err)), TB_ESTATE);
    assert_non_null(strstr(err, "not a tradebus journal"));
    assert_non_null(strstr(err, "events"));
    /* Refusing changed nothing: still their database. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM customers", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db, "SELECT count(*) FROM events", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(db);
}

static void test_journal_garbage_file_is_refused(void **state)
{
    (void)state;
    char p[600];
    tbt_write_file(dir, "journal.db",
                   "timestamp,open,high,low,close,volume\n"
                   "1704067200000,42283.58,42288.64,42240.58,42255.12,1.536\n"
                   "1704067260000,42255.12,42311.25,42250.00,42300.00,2.001\n"
                   "1704067320000,42300.00,42310.00,42290.00,42295.00,0.500\n",
                   p, sizeof(p));
    char err[512];
    assert_int_equal(open_fails(err, sizeof(err)), TB_EIO);
    assert_non_null(strstr(err, "not a SQLite database"));
    assert_non_null(strstr(err, path));
}

/* A journal big enough to span many pages, closed cleanly (no WAL left). */
static off_t make_big_journal(void)
{
    tb_journal *j = open_journal();
    for (uint64_t b = 0; b < 300; b++) {
        tb_event ev[6];
        make_chain(ev, ID(b * 10), (int64_t)b);
        append_all(j, ev, 6);
    }
    tb_journal_close(j);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 100 * 4096);
    return sb.st_size;
}

static void test_journal_torn_file_is_refused(void **state)
{
    (void)state;
    off_t size = make_big_journal();
    /* A copy cut short, as by a crash of a `cp` or a full disk. */
    assert_int_equal(truncate(path, size / 2), 0);
    char err[512];
    assert_int_equal(open_fails(err, sizeof(err)), TB_EIO);
    assert_non_null(strstr(err, "damaged"));
}

static void test_journal_corrupt_page_is_refused(void **state)
{
    (void)state;
    off_t size = make_big_journal();
    /* Garbage over a page in the middle: the header is fine, so only the
     * quick check can tell. */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7 + 3);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), (size / 4096 / 2) * 4096), sizeof(junk));
    close(fd);
    char err[512];
    assert_int_equal(open_fails(err, sizeof(err)), TB_EIO);
    assert_non_null(strstr(err, "damaged"));
}

static void test_journal_empty_file_becomes_a_journal(void **state)
{
    (void)state;
    char p[600];
    tbt_write_file(dir, "journal.db", "", p, sizeof(p)); /* touch FILE */
    tb_journal *j = open_journal();
    char v[16];
    assert_int_equal(tb_journal_meta_get(j, "schema_version", v, sizeof(v)), 0);
    assert_string_equal(v, "1");
    tb_journal_close(j);
}

static void test_journal_read_only_open_never_creates_or_fills_a_file(void **state)
{
    (void)state;
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.read_only = 1;
    tb_journal *j = NULL;
    char err[512];
    assert_int_equal(tb_journal_open(&cfg, &j, err, sizeof(err)), TB_ENOTFOUND);
    assert_int_not_equal(access(path, F_OK), 0);
    char p[600];
    tbt_write_file(dir, "journal.db", "", p, sizeof(p));
    assert_int_equal(tb_journal_open(&cfg, &j, err, sizeof(err)), TB_ESTATE);
    assert_non_null(strstr(err, "not a tradebus journal"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_journal_exclusive_open_refuses_a_second_holder(void **state)
{
    (void)state;
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.exclusive = 1;
    tb_journal *a = NULL, *b = NULL;
    char err[512];
    assert_int_equal(tb_journal_open(&cfg, &a, err, sizeof(err)), 0);
    assert_int_equal(tb_journal_open(&cfg, &b, err, sizeof(err)), TB_ESTATE);
    char want[64];
    snprintf(want, sizeof(want), "in use by another run (pid %ld)", (long)getpid());
    if (!strstr(err, want)) fail_msg("%s", err);
    tb_journal_close(a);
    assert_int_equal(tb_journal_open(&cfg, &b, err, sizeof(err)), 0);
    tb_journal_close(b);
}

static void test_journal_cursor_refuses_an_event_that_does_not_decode(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, 0, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tb_journal_append(j, &ev[i]), 0);
    assert_int_equal(tb_journal_commit(j), 0);
    tb_journal_close(j);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE events SET payload = replace(payload, '\"source\"', "
                                  "'\"sourcX\"') WHERE seq = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    j = open_journal();
    tb_journal_cursor *c;
    assert_int_equal(tb_journal_cursor_open(j, 0, &c), 0);
    tb_event got;
    assert_int_equal(tb_journal_cursor_next(c, &got, NULL, NULL), 0);
    assert_int_equal(tb_journal_cursor_next(c, &got, NULL, NULL), 0);
    assert_int_equal(tb_journal_cursor_next(c, &got, NULL, NULL), TB_EPARSE);
    assert_non_null(strstr(tb_journal_errmsg(j), "seq 3"));
    tb_journal_cursor_close(c);
    tb_journal_close(j);
}

static void test_journal_bad_arguments_are_einval(void **state)
{
    (void)state;
    tb_journal_config cfg;
    tb_journal *j;
    char err[128];
    tb_journal_config_init(&cfg);
    assert_null(cfg.path);
    assert_int_equal(cfg.sync, TB_JOURNAL_SYNC_NORMAL);
    assert_int_equal(tb_journal_open(&cfg, &j, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "no path"));
    cfg.path = path;
    cfg.sync = (tb_journal_sync)3;
    assert_int_equal(tb_journal_open(&cfg, &j, err, sizeof(err)), TB_EINVAL);
    assert_non_null(strstr(err, "sync"));
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
    cfg.path = "/nonexistent-dir/journal.db";
    cfg.sync = TB_JOURNAL_SYNC_NORMAL;
    assert_int_equal(tb_journal_open(&cfg, &j, err, sizeof(err)), TB_EIO);
    assert_non_null(strstr(err, "/nonexistent-dir/journal.db"));
}

static void test_journal_sync_modes_are_accepted(void **state)
{
    (void)state;
    const tb_journal_sync modes[] = {TB_JOURNAL_SYNC_FULL, TB_JOURNAL_SYNC_NORMAL,
                                     TB_JOURNAL_SYNC_OFF};
    for (int m = 0; m < 3; m++) {
        tb_journal *j = open_with(modes[m]);
        tb_event ev[6];
        make_chain(ev, ID((uint64_t)m * 10), m);
        append_all(j, ev, 6);
        assert_int_equal(tb_journal_commit(j), 0);
        assert_int_equal(tb_journal_count(j), 6 * (m + 1));
        tb_journal_close(j);
    }
}

/* ---- metadata ------------------------------------------------------------------ */

static void test_journal_meta_get_and_set(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    char v[64];
    assert_int_equal(tb_journal_meta_get(j, "schema_version", v, sizeof(v)), 0);
    assert_string_equal(v, "1");
    assert_int_equal(tb_journal_meta_get(j, "created_at", v, sizeof(v)), 0);
    assert_int_equal(strlen(v), 24); /* 2024-01-01T00:00:00.000Z */
    assert_int_equal(tb_journal_meta_get(j, "config_hash", v, sizeof(v)), TB_ENOTFOUND);
    assert_int_equal(tb_journal_meta_set(j, "config_hash", "abc123"), 0);
    assert_int_equal(tb_journal_meta_set(j, "config_hash", "def456"), 0); /* replaces */
    assert_int_equal(tb_journal_meta_get(j, "config_hash", v, sizeof(v)), 0);
    assert_string_equal(v, "def456");
    assert_int_equal(tb_journal_meta_get(j, "config_hash", v, 4), 0); /* truncated */
    assert_string_equal(v, "def");
    tb_journal_close(j);
    j = open_journal();
    assert_int_equal(tb_journal_meta_get(j, "config_hash", v, sizeof(v)), 0);
    assert_string_equal(v, "def456");
    tb_journal_close(j);
}

/* ---- dead letters -------------------------------------------------------------- */

static tb_dead_letter letter(const tb_event *ev, const char *who, int attempts, const char *reason)
{
    tb_dead_letter d;
    memset(&d, 0, sizeof(d));
    d.event = *ev;
    d.sub_id = 3;
    strcpy(d.subscriber, who);
    d.error = TB_EHANDLER;
    d.attempts = attempts;
    strcpy(d.reason, reason);
    return d;
}

static void test_journal_dlq_add_and_get(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    tb_dead_letter d = letter(&ev[4], "positions", 3, "unknown strategy 's9'");
    assert_int_equal(tb_journal_dlq_count(j), 0);
    assert_int_equal(tb_journal_dlq_add(j, &d, 1000), 0);
    assert_int_equal(tb_journal_dlq_count(j), 1);
    tb_dlq_entry *e = malloc(sizeof(*e));
    e->id = 0;
    assert_int_equal(tb_journal_dlq_each(j, (tb_journal_dlq_fn)NULL, NULL), TB_EINVAL);
    assert_int_equal(tb_journal_dlq_get(j, 1, e), 0);
    assert_int_equal(e->id, 1);
    assert_same_event(&e->event, &ev[4]);
    assert_string_equal(e->raw, "");
    assert_string_equal(e->component, "positions");
    assert_string_equal(e->reason, "unknown strategy 's9'");
    assert_int_equal(e->error, TB_EHANDLER);
    assert_int_equal(e->attempts, 3);
    assert_int_equal(e->first_seen, 1000);
    assert_int_equal(e->last_seen, 1000);
    assert_int_equal(tb_journal_dlq_get(j, 2, e), TB_ENOTFOUND);
    free(e);
    tb_journal_close(j);
}

static void test_journal_dlq_add_merges_same_event_and_component(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    tb_dead_letter d1 = letter(&ev[4], "positions", 3, "first reason");
    tb_dead_letter d2 = letter(&ev[4], "positions", 2, "second reason");
    tb_dead_letter other = letter(&ev[4], "risk", 1, "risk failed too");
    assert_int_equal(tb_journal_dlq_add(j, &d1, 1000), 0);
    assert_int_equal(tb_journal_dlq_add(j, &d2, 5000), 0);
    assert_int_equal(tb_journal_dlq_count(j), 1);
    tb_dlq_entry *e = malloc(sizeof(*e));
    assert_int_equal(tb_journal_dlq_get(j, 1, e), 0);
    assert_int_equal(e->attempts, 5);
    assert_int_equal(e->first_seen, 1000);
    assert_int_equal(e->last_seen, 5000);
    assert_string_equal(e->reason, "second reason"); /* the latest cause */
    /* Another component failing the same event is its own entry. */
    assert_int_equal(tb_journal_dlq_add(j, &other, 6000), 0);
    assert_int_equal(tb_journal_dlq_count(j), 2);
    free(e);
    tb_journal_close(j);
}

static void test_journal_dlq_raw_entry_keeps_the_text(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    const char *bad = "{\"type\":\"OrderFilled\",\"payload\":{\"filled_price\":42}}";
    assert_int_equal(tb_journal_dlq_add_raw(j, "amqp",
                                            "payload.filled_price: not a decimal "
                                            "string",
                                            bad, 777),
                     0);
    assert_int_equal(tb_journal_dlq_add_raw(j, "amqp", "same text again", bad, 778), 0);
    assert_int_equal(tb_journal_dlq_count(j), 2); /* raw inputs never merge */
    char *big = malloc(3000);
    memset(big, 'x', 2999);
    big[2999] = 0;
    assert_int_equal(tb_journal_dlq_add_raw(j, "amqp", "too long", big, 779), 0);
    tb_dlq_entry *e = malloc(sizeof(*e));
    assert_int_equal(tb_journal_dlq_get(j, 1, e), 0);
    assert_int_equal(e->event.type, TB_EV_NONE);
    assert_string_equal(e->raw, bad);
    assert_string_equal(e->component, "amqp");
    assert_int_equal(e->error, TB_EPARSE);
    assert_int_equal(e->attempts, 1);
    assert_int_equal(e->first_seen, 777);
    assert_int_equal(tb_journal_dlq_get(j, 3, e), 0);
    assert_int_equal(strlen(e->raw), sizeof(e->raw) - 1); /* cut to fit */
    free(e);
    free(big);
    tb_journal_close(j);
}

typedef struct {
    int64_t ids[8];
    int types[8];
    int n;
} dlq_seen;

static int see_dlq(const tb_dlq_entry *e, void *ctx)
{
    dlq_seen *s = ctx;
    s->ids[s->n] = e->id;
    s->types[s->n] = e->event.type;
    s->n++;
    return 0;
}

static void test_journal_dlq_each_and_remove(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6];
    make_chain(ev, ID(0), 1);
    tb_dead_letter a = letter(&ev[1], "orders", 3, "a");
    tb_dead_letter b = letter(&ev[4], "positions", 3, "b");
    assert_int_equal(tb_journal_dlq_add(j, &a, 1), 0);
    assert_int_equal(tb_journal_dlq_add_raw(j, "amqp", "bad json", "{", 2), 0);
    assert_int_equal(tb_journal_dlq_add(j, &b, 3), 0);
    dlq_seen s = {0};
    assert_int_equal(tb_journal_dlq_each(j, see_dlq, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ids[0], 1);
    assert_int_equal(s.types[0], TB_EV_SIGNAL_GENERATED);
    assert_int_equal(s.types[1], TB_EV_NONE);
    assert_int_equal(s.types[2], TB_EV_ORDER_FILLED);
    assert_int_equal(tb_journal_dlq_remove(j, 2), 0);
    assert_int_equal(tb_journal_dlq_remove(j, 2), TB_ENOTFOUND);
    assert_int_equal(tb_journal_dlq_count(j), 2);
    tb_journal_close(j);
    /* Removal is a write like any other: it persisted with the close. */
    j = open_journal();
    memset(&s, 0, sizeof(s));
    assert_int_equal(tb_journal_dlq_each(j, see_dlq, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.ids[1], 3);
    tb_journal_close(j);
}

/* The bus's dead letters go straight into the journal's queue. */
typedef struct {
    tb_journal *j;
    int rc;
} keeper;

static void keep_letter(const tb_dead_letter *d, void *ctx)
{
    keeper *k = ctx;
    k->rc = tb_journal_dlq_add(k->j, d, 42);
}

static int always_fails(const tb_event *ev, void *ctx)
{
    (void)ev;
    tb_bus_fail_reason(ctx, "cannot handle %s", "this");
    return TB_EHANDLER;
}

static void test_journal_dlq_keeps_the_bus_dead_letters(void **state)
{
    (void)state;
    keeper k = {open_journal(), -1};
    tb_bus_config bc;
    tb_bus_config_init(&bc);
    bc.on_dead_letter = keep_letter;
    bc.on_dead_letter_ctx = &k;
    tb_bus *bus;
    assert_int_equal(tb_bus_create(&bc, &bus), 0);
    assert_true(tb_bus_subscribe_named(bus, TB_EV_MARKET_DATA, always_fails, bus, "picky") >= 0);
    tb_event ev[6];
    make_chain(ev, 0, 1);
    ev[0].event_id = ev[0].correlation_id = 0; /* the bus assigns it */
    assert_int_equal(tb_bus_publish(bus, &ev[0]), 0);
    assert_int_equal(k.rc, 0);
    tb_dlq_entry *e = malloc(sizeof(*e));
    assert_int_equal(tb_journal_dlq_get(k.j, 1, e), 0);
    assert_string_equal(e->component, "picky");
    assert_string_equal(e->reason, "cannot handle this");
    assert_int_equal(e->attempts, tb_bus_dead_letter(bus, 0)->attempts);
    assert_true(e->event.event_id == ev[0].event_id);
    free(e);
    tb_bus_destroy(bus);
    tb_journal_close(k.j);
}

typedef struct {
    size_t n;
    char line[4][160];
} req_seen;

static int see_request(const tb_journal_request *rq, void *ctx)
{
    req_seen *r = ctx;
    if (r->n < 4)
        snprintf(r->line[r->n], sizeof(r->line[0]), "%lld %s %s %s %s %s", (long long)rq->time,
                 rq->method, rq->path, rq->purpose, rq->client_order_id, rq->params);
    r->n++;
    return 0;
}

/* A live run's requests read back in order, all or one order's; committed
 * they survive the process (a second handle sees them). */
static void test_journal_requests_read_back_all_or_by_order(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_journal_request a = {0, 5, "POST", "/api/v3/order", "submit", "s-1", "symbol=BTCUSDT"};
    tb_journal_request b = {0, 6, "GET", "/api/v3/time", "clock", "", ""};
    tb_journal_request c = {0, 7, "DELETE", "/api/v3/order", "cancel", "s-1", "symbol=BTCUSDT"};
    assert_int_equal(tb_journal_request_add(j, &a), 0);
    assert_int_equal(tb_journal_request_add(j, &b), 0);
    assert_int_equal(tb_journal_request_add(j, &c), 0);
    assert_int_equal(tb_journal_commit(j), 0);
    req_seen all = {0}, one = {0};
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.read_only = 1;
    tb_journal *r;
    char err[512];
    assert_int_equal(tb_journal_open(&cfg, &r, err, sizeof(err)), 0);
    assert_int_equal(tb_journal_requests_each(r, NULL, see_request, &all), 0);
    assert_int_equal(tb_journal_requests_each(r, "s-1", see_request, &one), 0);
    tb_journal_close(r);
    tb_journal_close(j);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.line[1], "6 GET /api/v3/time clock  ");
    assert_int_equal(one.n, 2);
    assert_string_equal(one.line[0], "5 POST /api/v3/order submit s-1 symbol=BTCUSDT");
    assert_string_equal(one.line[1], "7 DELETE /api/v3/order cancel s-1 symbol=BTCUSDT");
}

/* A journal written before requests were recorded: a reader finds none,
 * a writer adds the table and records. */
static void test_journal_without_the_requests_table_reads_none_and_gains_it(void **state)
{
    (void)state;
    tb_journal_close(open_journal());
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE requests", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.read_only = 1;
    tb_journal *r;
    char err[512];
    assert_int_equal(tb_journal_open(&cfg, &r, err, sizeof(err)), 0);
    req_seen none = {0};
    assert_int_equal(tb_journal_requests_each(r, NULL, see_request, &none), 0);
    assert_int_equal(none.n, 0);
    tb_journal_close(r);
    tb_journal *j = open_journal();
    tb_journal_request a = {0, 5, "POST", "/api/v3/order", "submit", "s-1", "x=1"};
    assert_int_equal(tb_journal_request_add(j, &a), 0);
    req_seen one = {0};
    assert_int_equal(tb_journal_requests_each(j, "s-1", see_request, &one), 0);
    assert_int_equal(one.n, 1);
    tb_journal_close(j);
}

/* ---- appends wait in batches: nothing outside can tell ------------------ */

typedef struct {
    uint64_t id[4096];
    size_t n;
} id_list;

static int collect_id(const tb_event *ev, const char *json, void *ctx)
{
    (void)json;
    id_list *l = ctx;
    assert_true(l->n < 4096);
    l->id[l->n++] = ev->event_id;
    return 0;
}

/* n chains of 6 (6n events) from chain first on, appended. */
static void append_chains(tb_journal *j, int first, int n)
{
    for (int c = first; c < first + n; c++) {
        tb_event ev[6];
        make_chain(ev, ID((uint64_t)c * 10), c);
        append_all(j, ev, 6);
    }
}

static void test_journal_many_appends_read_back_before_and_after_commit(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    append_chains(j, 0, 50); /* 300 events: several batches, some waiting */
    assert_int_equal(tb_journal_count(j), 300);
    id_list *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(tb_journal_each(j, 0, collect_id, l), 0);
    assert_int_equal(l->n, 300);
    for (size_t i = 0; i < 300; i++)
        assert_true(l->id[i] == ID((i / 6) * 10 + i % 6 + 1));
    /* The last append is still waiting, the first long written: both
     * refused at once by the append that repeats them. */
    tb_event ev[6], got;
    make_chain(ev, ID(49 * 10), 49);
    append_chains(j, 50, 1);
    assert_int_equal(tb_journal_append(j, &ev[5]), TB_ESTATE);
    assert_non_null(strstr(tb_journal_errmsg(j), "281474976711152"));
    make_chain(ev, ID(0), 0);
    assert_int_equal(tb_journal_append(j, &ev[0]), TB_ESTATE);
    assert_int_equal(tb_journal_commit(j), 0);
    assert_int_equal(tb_journal_count(j), 306);
    /* Rolled back: waiting and written alike; the same ids go in again. */
    append_chains(j, 51, 30);
    assert_int_equal(tb_journal_count(j), 486);
    append_chains(j, 81, 5);
    assert_int_equal(tb_journal_rollback(j), 0);
    assert_int_equal(tb_journal_count(j), 306);
    assert_int_equal(tb_journal_get(j, ID(510 + 1), &got), TB_ENOTFOUND);
    append_chains(j, 51, 35);
    tb_journal_close(j);
    j = open_journal();
    assert_int_equal(tb_journal_count(j), 516);
    l->n = 0;
    assert_int_equal(tb_journal_each(j, 0, collect_id, l), 0);
    for (size_t i = 0; i < 516; i++)
        assert_true(l->id[i] == ID((i / 6) * 10 + i % 6 + 1));
    free(l);
    tb_journal_close(j);
}

/* Checkpoints run beside the appends (their own thread): the log still
 * starts over, so it stays bounded, and nothing committed is lost to a
 * reader, before or after the close. */
static void test_journal_checkpoints_keep_the_log_bounded(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    off_t largest = 0;
    enum { CHAINS = 40000 }; /* 240,000 events, ~200 MB of log written: more than 160 */
    for (int c = 0; c < CHAINS; c += 100) {
        append_chains(j, c, 100);
        assert_int_equal(tb_journal_commit(j), 0);
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > largest) largest = st.st_size;
    }
    /* Past 128 MB the writer copies the log itself: never much above. */
    assert_true(largest > 0);
    assert_true(largest < (off_t)160 << 20);
    tb_journal_config cfg;
    tb_journal_config_init(&cfg);
    cfg.path = path;
    cfg.read_only = 1;
    tb_journal *r;
    char err[512];
    assert_int_equal(tb_journal_open(&cfg, &r, err, sizeof(err)), 0);
    assert_int_equal(tb_journal_count(r), 6 * CHAINS);
    tb_journal_close(r);
    tb_journal_close(j);
    assert_int_equal(access(wal, F_OK), -1); /* back to one file */
    assert_int_equal(tb_journal_open(&cfg, &r, err, sizeof(err)), 0);
    assert_int_equal(tb_journal_count(r), 6 * CHAINS);
    tb_event got, ev[6];
    make_chain(ev, ID((uint64_t)(CHAINS - 1) * 10), CHAINS - 1);
    assert_int_equal(tb_journal_get(r, ev[5].event_id, &got), 0);
    assert_same_event(&got, &ev[5]);
    tb_journal_close(r);
}

/* Ids that do not grow per publisher (another node's, one below an id
 * already there) go in on their own, still in append order. */
static void test_journal_append_order_kept_across_publishers(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    static const uint64_t ids[] = {
        ID(100),
        ID(200),
        (UINT64_C(3) << 40) | ID(5),
        ID(150),                      /* below ID(200): not provably new */
        UINT64_C(0xFFFF000000000009), /* above INT64_MAX */
        UINT64_C(0xFFFF000000000002),
        ID(300),
    };
    const size_t n = sizeof(ids) / sizeof(ids[0]);
    for (int round = 0; round < 20; round++) /* 140 events: past a batch */
        for (size_t i = 0; i < n; i++) {
            tb_market_data bar = tbt_bar("BTCUSDT", round, "1", "1", "1", "1", "1");
            tb_event ev = tbt_bar_event(&bar);
            ev.event_id = ev.correlation_id = ids[i] + (uint64_t)round * 1000;
            if (tb_journal_append(j, &ev) != 0) fail_msg("append: %s", tb_journal_errmsg(j));
        }
    id_list *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(tb_journal_each(j, 0, collect_id, l), 0);
    assert_int_equal(l->n, 20 * n);
    for (size_t i = 0; i < l->n; i++)
        assert_true(l->id[i] == ids[i % n] + (uint64_t)(i / n) * 1000);
    free(l);
    tb_journal_close(j);
}

static void test_journal_crash_loses_written_but_uncommitted_batches(void **state)
{
    (void)state;
    /* 300 events committed, then 200 more: three batches already handed to
     * SQLite and some still waiting when the process dies. None of the 200
     * may survive, all of the 300 must. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tb_journal_config cfg;
        tb_journal_config_init(&cfg);
        cfg.path = path;
        tb_journal *j;
        if (tb_journal_open(&cfg, &j, NULL, 0) != 0) _exit(10);
        append_chains(j, 0, 50);
        if (tb_journal_commit(j) != 0) _exit(12);
        for (int c = 50; c < 84; c++) {
            tb_event ev[6];
            make_chain(ev, ID((uint64_t)c * 10), c);
            for (int i = 0; i < 6; i++)
                if (tb_journal_append(j, &ev[i]) != 0) _exit(13);
        }
        raise(SIGKILL);
        _exit(14);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) fail_msg("the child failed before the crash: exit %d", WEXITSTATUS(st));
    assert_true(WIFSIGNALED(st));
    tb_journal *j = open_journal();
    tb_event got;
    assert_int_equal(tb_journal_count(j), 300);
    assert_int_equal(tb_journal_get(j, ID(496), &got), 0);
    assert_int_equal(tb_journal_get(j, ID(501), &got), TB_ENOTFOUND);
    /* ... and the run goes on from there: the lost ids are new again. */
    append_chains(j, 50, 34);
    assert_int_equal(tb_journal_commit(j), 0);
    assert_int_equal(tb_journal_count(j), 504);
    tb_journal_close(j);
}

/* Events too long for 64 to wait together (every string escaped six
 * bytes a character): the batch goes in early, nothing lost or reordered. */
static void test_journal_long_events_read_back_whole_and_in_order(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    char want[2048], ctl[TB_TEXT_LEN];
    for (size_t i = 0; i < sizeof(ctl); i++)
        ctl[i] = (char)(1 + i % 31);
    for (uint64_t i = 1; i <= 150; i++) {
        tb_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = TB_EV_ORDER_REJECTED;
        ev.version = 1;
        ev.event_id = ev.correlation_id = ID(i);
        ev.timestamp = (int64_t)i * 1000;
        ev.source = TB_SRC_ORDERS;
        tb_order_rejected *p = &ev.u.order_rejected;
        memcpy(p->order_id, ctl, sizeof(p->order_id) - 1);
        memcpy(p->client_order_id, ctl, sizeof(p->client_order_id) - 1);
        memcpy(p->strategy_id, ctl, sizeof(p->strategy_id) - 1);
        memcpy(p->symbol, ctl, sizeof(p->symbol) - 1);
        memcpy(p->text, ctl, sizeof(p->text) - 1);
        p->side = TB_SIDE_BUY;
        p->order_type = TB_ORDER_MARKET;
        p->quantity = tbt_dec("1");
        p->price = tbt_dec("2");
        p->reason = TB_REJECT_EXCHANGE;
        assert_true(tb_codec_encode(&ev, want, sizeof(want)) > 1500);
        if (tb_journal_append(j, &ev) != 0) fail_msg("append: %s", tb_journal_errmsg(j));
    }
    assert_int_equal(tb_journal_count(j), 150);
    assert_int_equal(tb_journal_commit(j), 0);
    id_list *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(tb_journal_each(j, 0, collect_id, l), 0);
    assert_int_equal(l->n, 150);
    for (size_t i = 0; i < 150; i++)
        assert_true(l->id[i] == ID(i + 1));
    free(l);
    tb_event got;
    assert_int_equal(tb_journal_get(j, ID(77), &got), 0);
    assert_int_equal(memcmp(got.u.order_rejected.text, ctl, TB_TEXT_LEN - 1), 0);
    tb_journal_close(j);
}

/* The page size of the journal at path, read with plain SQLite. */
static long page_size_of(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A new journal gets 32 KB pages (fewer writes per event); a journal made
 * with SQLite's default 4 KB pages keeps them and is written and read the
 * same: the page size is the file's, never a format change. */
static void test_journal_new_has_large_pages_older_keep_theirs(void **state)
{
    (void)state;
    tb_journal *j = open_journal();
    tb_event ev[6], got;
    make_chain(ev, ID(0), 1);
    append_all(j, ev, 6);
    tb_journal_close(j);
    assert_int_equal(page_size_of(), 32768);

    unlink(path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA page_size = 4096; CREATE TABLE t(a); DROP TABLE t; "
                                  "VACUUM",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    j = open_journal();
    append_all(j, ev, 6);
    assert_int_equal(tb_journal_commit(j), 0);
    tb_journal_close(j);
    assert_int_equal(page_size_of(), 4096);
    j = open_journal();
    assert_int_equal(tb_journal_count(j), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tb_journal_get(j, ev[i].event_id, &got), 0);
        assert_same_event(&got, &ev[i]);
    }
    tb_journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_journal_append_commit_count_get),
        T(test_journal_requests_read_back_all_or_by_order),
        T(test_journal_without_the_requests_table_reads_none_and_gains_it),
        T(test_journal_each_walks_in_journal_order),
        T(test_journal_children_are_the_direct_effects_in_order),
        T(test_journal_walks_nest_inside_callbacks),
        T(test_journal_duplicate_event_id_is_estate),
        T(test_journal_ids_above_int64_max_read_back_unchanged),
        T(test_journal_rollback_drops_pending),
        T(test_journal_close_commits_pending),
        T(test_journal_crash_loses_only_the_uncommitted_batch),
        T(test_journal_sigkill_mid_run_leaves_whole_batches),
        T(test_journal_second_reader_sees_only_committed),
        T(test_journal_newer_schema_is_refused),
        T(test_journal_missing_schema_version_is_refused),
        T(test_journal_other_sqlite_database_is_refused),
        T(test_journal_garbage_file_is_refused),
        T(test_journal_torn_file_is_refused),
        T(test_journal_corrupt_page_is_refused),
        T(test_journal_empty_file_becomes_a_journal),
        T(test_journal_read_only_open_never_creates_or_fills_a_file),
        T(test_journal_exclusive_open_refuses_a_second_holder),
        T(test_journal_cursor_refuses_an_event_that_does_not_decode),
        T(test_journal_bad_arguments_are_einval),
        T(test_journal_sync_modes_are_accepted),
        T(test_journal_meta_get_and_set),
        T(test_journal_dlq_add_and_get),
        T(test_journal_dlq_add_merges_same_event_and_component),
        T(test_journal_dlq_raw_entry_keeps_the_text),
        T(test_journal_dlq_each_and_remove),
        T(test_journal_dlq_keeps_the_bus_dead_letters),
        T(test_journal_new_has_large_pages_older_keep_theirs),
        T(test_journal_many_appends_read_back_before_and_after_commit),
        T(test_journal_checkpoints_keep_the_log_bounded),
        T(test_journal_append_order_kept_across_publishers),
        T(test_journal_crash_loses_written_but_uncommitted_batches),
        T(test_journal_long_events_read_back_whole_and_in_order),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
