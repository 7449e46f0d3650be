/* A journaled backtest's commit cadence ([journal] commit_every, commit_ms):
 * what another reader of the journal sees while the run goes on, and that
 * every event is there at the end whatever the cadence. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

#include <tradebus/tradebus.h>

#include "../src/engine/journaled.h"

typedef struct {
    const char *journal;
    int64_t committed[64]; /* events a reader saw at each progress call */
    int n;
} watch;

/* What a second, read-only handle sees: only committed events. */
static int64_t committed(const char *path)
{
    tb_journal_config jc;
    tb_journal_config_init(&jc);
    jc.path = path;
    jc.read_only = 1;
    tb_journal *j;
    char err[256];
    if (tb_journal_open(&jc, &j, err, sizeof(err)) != 0) fail_msg("%s", err);
    int64_t n = tb_journal_count(j);
    tb_journal_close(j);
    return n;
}

static void on_progress(uint64_t bars, int64_t bar_time, void *ctx)
{
    (void)bars;
    (void)bar_time;
    watch *w = ctx;
    if (w->n < 64) w->committed[w->n++] = committed(w->journal);
}

/* Runs the repository's BTCUSDT sample (2,880 1m bars) through sma_cross, journaled
 * with the given [journal] settings; returns the journal's final count. */
static int64_t run(const char *dir, const char *every, const char *ms, watch *w)
{
    char err[512], data[1024], journal[1024], set[128];
    snprintf(journal, sizeof(journal), "%s/j-%s-%s.db", dir, every, ms);
    w->journal = journal;
    w->n = 0;
    tb_config cfg;
    tb_config_init(&cfg);
    assert_int_equal(tb_config_set(&cfg, "strategy.s.type=sma_cross", err, sizeof(err)), 0);
    assert_int_equal(tb_config_set(&cfg, "strategy.s.symbol=BTCUSDT", err, sizeof(err)), 0);
    snprintf(set, sizeof(set), "journal.commit_every=%s", every);
    assert_int_equal(tb_config_set(&cfg, set, err, sizeof(err)), 0);
    snprintf(set, sizeof(set), "journal.commit_ms=%s", ms);
    assert_int_equal(tb_config_set(&cfg, set, err, sizeof(err)), 0);
    snprintf(data, sizeof(data), "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    tb_config_add_data(&cfg, data);
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    cfg.journal_path = strdup(journal);
    tb_backtest_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.progress = on_progress;
    opt.progress_ctx = w;
    opt.progress_every = 200;
    tb_backtest_result res;
    if (tb_backtest_run(&cfg, &opt, &res, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(res.bars, 2880);
    tb_backtest_result_free(&res);
    tb_config_free(&cfg);
    return committed(journal);
}

static void test_commit_ms_0_commits_every_commit_every_bars(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    watch w;
    int64_t total = run(dir, "100", "0", &w);
    assert_true(w.n >= 10);
    /* At each progress call (every 200 bars, a multiple of 100) the bars so
     * far are all committed: the reader's count grows with the run. */
    assert_true(w.committed[0] >= 200);
    for (int i = 1; i < w.n; i++)
        assert_true(w.committed[i] > w.committed[i - 1]);
    assert_true(total > w.committed[w.n - 1]);
}

static void test_commit_ms_holds_commits_back_and_loses_nothing(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    watch w;
    /* An hour between commits: none during a run of well under that, yet
     * the end of the run commits everything. */
    int64_t total = run(dir, "1", "3600000", &w);
    assert_true(w.n >= 10);
    for (int i = 0; i < w.n; i++)
        assert_int_equal(w.committed[i], 0);
    watch ref;
    assert_int_equal(total, run(dir, "1", "0", &ref));
}

/* One bar's event through a journaled run of the given kind (flags), then
 * the bar boundary; returns what another reader sees committed. */
static int64_t one_bar(const char *dir, const char *name, int flags, const char *set)
{
    char err[512], path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    tb_config cfg;
    tb_config_init(&cfg);
    assert_int_equal(tb_config_set(&cfg, "strategy.s.type=sma_cross", err, sizeof(err)), 0);
    assert_int_equal(tb_config_set(&cfg, "strategy.s.symbol=BTCUSDT", err, sizeof(err)), 0);
    if (set) assert_int_equal(tb_config_set(&cfg, set, err, sizeof(err)), 0);
    tb_config_add_data(&cfg, "unused.csv");
    if (tb_config_build(&cfg, err, sizeof(err)) != 0) fail_msg("%s", err);
    cfg.journal_path = strdup(path);
    tb__jrun *jr;
    if (tb__jrun_open(&cfg, flags, &jr, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_bus *bus;
    assert_int_equal(tb_bus_create(NULL, &bus), 0);
    assert_int_equal(tb__jrun_attach(jr, bus), 0);
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    tb_market_data *md = &ev.u.market_data;
    memcpy(md->symbol, "BTCUSDT", 8);
    md->open = md->high = md->low = md->close = 42000 * TB_DECIMAL_ONE;
    md->open_time = 1704067200000000000LL;
    md->close_time = md->open_time + 59999000000LL;
    ev.timestamp = md->close_time;
    assert_int_equal(tb_bus_publish(bus, &ev), 0);
    assert_int_equal(tb__jrun_after_bar(jr, err, sizeof(err)), 0);
    int64_t n = committed(path);
    tb__jrun_detach(jr);
    tb__jrun_close(jr, 0);
    tb_bus_destroy(bus);
    tb_config_free(&cfg);
    return n;
}

static void test_a_live_journal_commits_every_bar_unless_configured(void **state)
{
    (void)state;
    char dir[512];
    tbt_temp_dir(dir, sizeof(dir));
    /* Live: the bar is on disk at its boundary, whoever runs it. */
    assert_int_equal(one_bar(dir, "live.db", TB__JRUN_LIVE, NULL), 1);
    /* A backtest waits for its cadence (1000 bars, 100 ms). */
    assert_int_equal(one_bar(dir, "backtest.db", 0, NULL), 0);
    /* A live run's configured cadence stands. */
    assert_int_equal(one_bar(dir, "live-set.db", TB__JRUN_LIVE, "journal.commit_every=10"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_ms_0_commits_every_commit_every_bars),
        cmocka_unit_test(test_commit_ms_holds_commits_back_and_loses_nothing),
        cmocka_unit_test(test_a_live_journal_commits_every_bar_unless_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
