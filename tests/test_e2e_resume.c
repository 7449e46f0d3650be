/* Crash recovery, the way it happens: a journaled backtest is killed with
 * SIGKILL at seeded random instants, then restarted with --resume; every
 * resumed run must end with exactly the fills, positions, PnL and events of
 * a run that was never interrupted. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

/* At least this many kills must land on a running backtest; attempts stop
 * at MAX_ATTEMPTS (a kill that comes after the run ended still checks that
 * resuming a complete journal changes nothing). */
#define KILLS        20
#define MAX_ATTEMPTS 60

/* Bars per file: under the sanitizers every run is several times slower,
 * so fewer bars give kills as many instants to land on (the suite's time
 * budget; each kill is timed against the uninterrupted run). */
#ifdef TBT_SANITIZED
#define BARS "15000"
#else
#define BARS "40000"
#endif

static char dir[512];
static double full_run_s; /* how long an uninterrupted journaled run takes */

static const char *const config = "[backtest]\n"
                                  "data = BTCUSDT-1m.csv ETHUSDT-1m.csv\n"
                                  "initial_cash = 1000000\n"
                                  "[exchange]\n"
                                  "max_volume_participation = 0.2\n"
                                  "[journal]\n"
                                  "commit_every = 500\n"
                                  "commit_ms = 0\n" /* commits all along a short run */
                                  /* dozens of runs: the report is not what is tested here */
                                  "[output]\n"
                                  "report = false\n"
                                  "[strategy.btc]\n"
                                  "type = sma_cross\n"
                                  "symbol = BTCUSDT\n"
                                  "fast = 5\n"
                                  "slow = 20\n"
                                  "quantity = 0.5\n"
                                  "allow_short = true\n"
                                  "[strategy.eth]\n"
                                  "type = rsi_reversion\n"
                                  "symbol = ETHUSDT\n"
                                  "quantity = 3\n"
                                  "order_type = LIMIT\n"
                                  "limit_offset_bps = 2\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    (void)state;
    char path[1024], cmd[2048];
    tbt_temp_dir(dir, sizeof(dir));
    tbt_write_file(dir, "c.ini", config, path, sizeof(path));
    snprintf(cmd, sizeof(cmd),
             "cd %s && %s --bars " BARS " --seed 5 --price 42000 > BTCUSDT-1m.csv 2>/dev/null && "
             "%s --bars " BARS " --seed 6 --price 2300 > ETHUSDT-1m.csv 2>/dev/null",
             dir, TB_GENDATA, TB_GENDATA);
    if (system(cmd) != 0) return -1;
    double t0 = now_s();
    if (tbt_run_cli(dir, NULL, "backtest --config c.ini --journal ref.db --out ref -q") != 0)
        return -1;
    full_run_s = now_s() - t0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

static void assert_same_file(const char *a_dir, const char *b_dir, const char *name)
{
    char pa[600], pb[600];
    snprintf(pa, sizeof(pa), "%s/%s", a_dir, name);
    snprintf(pb, sizeof(pb), "%s/%s", b_dir, name);
    char *a = tbt_read_in(dir, pa), *b = tbt_read_in(dir, pb);
    if (!a || !b) fail_msg("missing %s or %s", pa, pb);
    if (strcmp(a, b) != 0) fail_msg("%s and %s differ", pa, pb);
    free(a);
    free(b);
}

/* Starts the run in the background, kills it after `after` seconds. Returns
 * 1 if it was still running (a real interruption), 0 if it had finished. */
static int run_and_kill(const char *journal, const char *out, double after)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execl(TB_BINARY, TB_BINARY, "backtest", "--config", "c.ini", "--journal", journal, "--out",
              out, "-q", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {(time_t)after, (long)((after - (double)(time_t)after) * 1e9)};
    nanosleep(&ts, NULL);
    int st, running = waitpid(pid, &st, WNOHANG) == 0;
    if (running) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    return running;
}

static void test_resume_after_sigkill_at_random_instants_equals_uninterrupted_run(void **state)
{
    (void)state;
    unsigned seed = 20241125u;
    int interrupted = 0, k;
    for (k = 0; k < MAX_ATTEMPTS && interrupted < KILLS; k++) {
        char journal[64], out[64];
        snprintf(journal, sizeof(journal), "k%d.db", k);
        snprintf(out, sizeof(out), "k%d", k);
        /* A seeded point in (3%, 70%) of an undisturbed run's time: early
         * enough to land mid-run even when the machine is busier than when
         * that time was measured. */
        seed = seed * 1103515245u + 12345u;
        double frac = 0.03 + 0.67 * (double)((seed >> 8) % 10000) / 10000.0;
        interrupted += run_and_kill(journal, out, frac * full_run_s);
        char *err = NULL;
        int code = tbt_run_cli(
            dir, &err, "backtest --config c.ini --journal %s --resume --out %s -q", journal, out);
        if (code != 0)
            fail_msg("resume after kill %d (at %.0f%%) exit %d: %s", k, frac * 100, code, err);
        free(err);
        assert_same_file("ref", out, "fills.csv");
        assert_same_file("ref", out, "summary.json");
        assert_same_file("ref", out, "events.jsonl");
    }
    if (interrupted < KILLS)
        fail_msg("only %d of %d kills interrupted a run (a run takes %.3f s)", interrupted, k,
                 full_run_s);
    printf("[   INFO   ] %d of %d kills interrupted a running backtest\n", interrupted, k);
}

static void test_existing_journal_without_resume_is_refused(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "backtest --config c.ini --journal ref.db --out x -q"),
                     2);
    assert_non_null(strstr(err, "--resume"));
    free(err);
}

static void test_resume_with_another_config_is_refused(void **state)
{
    (void)state;
    char *err = NULL;
    int code = tbt_run_cli(dir, &err,
                           "backtest --config c.ini --journal ref.db --resume "
                           "--set strategy.btc.fast=7 --out x -q");
    assert_int_equal(code, 2);
    if (!strstr(err, "another config")) fail_msg("stderr: %s", err);
    free(err);
}

static void test_resume_needs_a_journal(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config c.ini --resume --out x -q"), 2);
}

static void test_journal_replay_rebuilds_the_recorded_state(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "journal replay --journal ref.db"), 0);
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "MATCHES: order states legal, positions, PnL and fees equal"));
    free(out);
    /* A journal that lost a fill no longer explains the run's positions. */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s/ref.db %s/lost.db", dir, dir);
    assert_int_equal(system(cmd), 0);
    sqlite3 *db;
    snprintf(cmd, sizeof(cmd), "%s/lost.db", dir);
    assert_int_equal(sqlite3_open(cmd, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM events WHERE seq = (SELECT MIN(seq) FROM events "
                                  "WHERE type = 'OrderFilled')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal replay --journal lost.db"), 1);
    out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "DIFFERS"));
    free(out);
}

static void test_a_file_that_is_not_a_journal_is_refused(void **state)
{
    (void)state;
    char path[1024], *err = NULL;
    tbt_write_file(dir, "junk.db", "this is not a database, it is a text file\n", path,
                   sizeof(path));
    int code = tbt_run_cli(dir, &err, "backtest --config c.ini --journal junk.db --out x -q");
    assert_true(code != 0);
    assert_non_null(strstr(err, "junk.db"));
    free(err);
}

/* A copy of the uninterrupted run's journal with sql applied to it. */
static void edited_copy(const char *name, const char *sql)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp %s/ref.db %s/%s", dir, dir, name);
    assert_int_equal(system(cmd), 0);
    sqlite3 *db;
    snprintf(cmd, sizeof(cmd), "%s/%s", dir, name);
    assert_int_equal(sqlite3_open(cmd, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void expect_resume_refused(const char *journal, int code, const char *what)
{
    char *err = NULL;
    int got =
        tbt_run_cli(dir, &err, "backtest --config c.ini --journal %s --resume --out x -q", journal);
    if (got != code || !strstr(err, what) || !strstr(err, journal))
        fail_msg("resume of %s: exit %d (want %d): %s", journal, got, code, err);
    free(err);
}

/* The join: the journal's last bar differs from what the re-run makes. */
static void test_resume_refuses_a_journal_whose_last_bar_the_rerun_does_not_reproduce(void **state)
{
    (void)state;
    edited_copy("last.db", "UPDATE events SET payload = replace(payload, '\"volume\":\"', "
                           "'\"volume\":\"1') WHERE seq = (SELECT max(seq) FROM events WHERE "
                           "type = 'MarketData')");
    expect_resume_refused("last.db", 2, "did not reproduce the journal");
}

/* An earlier event: the count and the last event still agree, and used to
 * be all that was compared. */
static void
test_resume_refuses_a_journal_whose_earlier_bar_the_rerun_does_not_reproduce(void **state)
{
    (void)state;
    edited_copy("early.db", "UPDATE events SET payload = replace(payload, '\"volume\":\"', "
                            "'\"volume\":\"1') WHERE seq = 100");
    expect_resume_refused("early.db", 2, "did not reproduce the journal");
}

/* 8 bytes overwritten inside an event's JSON, in the file itself: SQLite's
 * quick check passes, the event no longer decodes. */
static void test_resume_refuses_a_journal_whose_events_do_not_decode(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof(path), "%s/ref.db", dir);
    char *db = NULL;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    db = malloc((size_t)n);
    assert_int_equal(fread(db, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    const char *key = "\"source\":\"market_data\"";
    char *hit = NULL;
    for (long i = n / 2; i + 22 < n && !hit; i++)
        if (memcmp(db + i, key, strlen(key)) == 0) hit = db + i;
    assert_non_null(hit);
    memcpy(hit, "\"sourcX\"", 8);
    snprintf(path, sizeof(path), "%s/bad.db", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(db, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    free(db);
    expect_resume_refused("bad.db", 3, "does not decode");
}

static void test_a_second_run_on_a_journal_in_use_is_refused_naming_the_pid(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execl(TB_BINARY, TB_BINARY, "backtest", "--config", "c.ini", "--journal", "busy.db",
              "--out", "busy", "-q", (char *)NULL);
        _exit(127);
    }
    char lock[700];
    snprintf(lock, sizeof(lock), "%s/busy.db.lock", dir);
    struct stat st;
    for (int i = 0; i < 2000 && (stat(lock, &st) != 0 || st.st_size == 0); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    char *err = NULL;
    int code =
        tbt_run_cli(dir, &err, "backtest --config c.ini --journal busy.db --resume --out b2 -q");
    char want[64];
    snprintf(want, sizeof(want), "in use by another run (pid %d)", (int)pid);
    int st2, running = waitpid(pid, &st2, WNOHANG) == 0;
    if (running) {
        if (code != 1 || !strstr(err, want)) fail_msg("second run: exit %d: %s", code, err);
        /* Killed, the holder's lock goes with it: the journal resumes. */
        kill(pid, SIGKILL);
        waitpid(pid, &st2, 0);
        free(err);
        code = tbt_run_cli(dir, &err,
                           "backtest --config c.ini --journal busy.db --resume --out b2 -q");
        if (code != 0) fail_msg("resume after the holder died: exit %d: %s", code, err);
    }
    free(err);
}

static void test_a_journal_path_that_is_another_output_is_refused(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(
        tbt_run_cli(dir, &err, "backtest --config c.ini --journal o1/events.jsonl --out o1 -q"), 2);
    assert_non_null(strstr(err, "o1/events.jsonl"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "backtest --config c.ini --journal m.db --metrics-file ./m.db "
                                 "--out o1 -q"),
                     2);
    assert_non_null(strstr(err, "is the journal"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, &err, "journal export --journal ref.db --out ./ref.db"), 2);
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal replay --journal ref.db"), 0);
}

static void test_read_only_commands_never_write_an_empty_file(void **state)
{
    (void)state;
    char path[1024];
    tbt_write_file(dir, "empty.db", "", path, sizeof(path));
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err, "journal info --journal empty.db"), 3);
    assert_non_null(strstr(err, "not a tradebus journal"));
    free(err);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal replay --journal empty.db"), 3);
    assert_int_equal(tbt_run_cli(dir, NULL, "dlq list --journal empty.db"), 3);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

/* SQLite's WAL makes even a read-only open create FILE-wal and FILE-shm:
 * a finished run's journal is left in rollback mode so that reading it
 * writes nothing, beside it or in it. */
static void test_read_only_commands_create_no_file_beside_the_journal(void **state)
{
    (void)state;
    assert_int_equal(tbt_run_cli(dir, NULL, "backtest --config c.ini --journal ro.db --out ro -q"),
                     0);
    char path[700], cmd[1600];
    snprintf(path, sizeof(path), "%s/ro.db", dir);
    snprintf(cmd, sizeof(cmd), "cp %s %s.before", path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal info --journal ro.db"), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal replay --journal ro.db"), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "dlq list --journal ro.db"), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "journal trace --journal ro.db 281474976710657"), 0);
    struct stat st;
    char side[720];
    snprintf(side, sizeof(side), "%s-wal", path);
    assert_int_not_equal(stat(side, &st), 0);
    snprintf(side, sizeof(side), "%s-shm", path);
    assert_int_not_equal(stat(side, &st), 0);
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s.before", path, path);
    assert_int_equal(system(cmd), 0);
}

/* A full disk, simulated by the file size limit (SIGXFSZ ignored, so the
 * write fails instead of killing the process). */
static void test_journal_out_of_space_exits_1_naming_it_and_leaves_no_file(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        if (!freopen("full.err", "w", stderr)) _exit(127);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {8192, 8192};
        setrlimit(RLIMIT_FSIZE, &rl);
        execl(TB_BINARY, TB_BINARY, "backtest", "--config", "c.ini", "--journal", "full.db",
              "--out", "fullout", "-q", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    char *err = tbt_read_in(dir, "full.err");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !strstr(err, "full.db") ||
        !strstr(err, "file size limit") || strstr(err, "cannot read"))
        fail_msg("exit %d: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
    free(err);
    char path[700];
    struct stat fs;
    snprintf(path, sizeof(path), "%s/full.db", dir);
    assert_int_not_equal(stat(path, &fs), 0);
}

/* A disk that fails a write (not for space: an I/O error), through an
 * LD_PRELOAD shim, at several points of a run: a runtime failure (exit 1)
 * naming the journal, never "bad data" (exit 3). */
static void test_a_journal_the_disk_fails_to_write_exits_1_naming_it(void **state)
{
    (void)state;
    const char *after[] = {"3", "40", "400"};
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
        char db[64];
        snprintf(db, sizeof(db), "eio%zu.db", i);
        pid_t pid = fork();
        if (pid == 0) {
            if (chdir(dir) != 0) _exit(127);
            if (!freopen("eio.err", "w", stderr)) _exit(127);
            char wal[80];
            snprintf(wal, sizeof(wal), "%s-wal", db);
            setenv("TB_SHIM_EIO_FILE", wal, 1);
            setenv("TB_SHIM_EIO_AFTER", after[i], 1);
            setenv("LD_PRELOAD", TB_SHIM_EIO, 1);
            setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=1", 1);
            execl(TB_BINARY, TB_BINARY, "backtest", "--config", "c.ini", "--journal", db, "--out",
                  "eioout", "-q", (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(pid, &st, 0);
        char *err = tbt_read_in(dir, "eio.err");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !strstr(err, db) ||
            !strstr(err, "cannot write the journal"))
            fail_msg("after %s writes: exit %d: %s", after[i], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                     err);
        free(err);
    }
}

/* The case: a row the journaled run had passed changes, then
 * --resume. Refused before anything runs, naming the file. */
static void test_resume_refuses_changed_data_naming_the_file(void **state)
{
    (void)state;
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp %s/BTCUSDT-1m.csv %s/chg.csv", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config c.ini --data BTCUSDT:chg.csv --data "
                                 "ETHUSDT:ETHUSDT-1m.csv --journal chg.db --out chg -q"),
                     0);
    snprintf(cmd, sizeof(cmd), "sed -i '10s/\\.\\([0-9]\\)/.\\1\\1/' %s/chg.csv", dir);
    assert_int_equal(system(cmd), 0);
    char *err = NULL;
    int code = tbt_run_cli(dir, &err,
                           "backtest --config c.ini --data BTCUSDT:chg.csv --data "
                           "ETHUSDT:ETHUSDT-1m.csv --journal chg.db --resume --out chg -q");
    if (code != 2 || !strstr(err, "data changed since the journaled run: chg.csv"))
        fail_msg("exit %d: %s", code, err);
    free(err);
}

/* A change that keeps the file's size and time, and shows in no event (a
 * column tradebus does not read): only the content hash, taken while
 * reading, can tell. */
static void test_resume_refuses_data_changed_with_its_size_and_time_kept(void **state)
{
    (void)state;
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp -p %s/BTCUSDT-1m.csv %s/same.csv", dir, dir);
    assert_int_equal(system(cmd), 0);
    const char *run = "backtest --config c.ini --data BTCUSDT:same.csv --data "
                      "ETHUSDT:ETHUSDT-1m.csv --journal same.db --out same -q";
    assert_int_equal(tbt_run_cli(dir, NULL, "%s", run), 0);
    /* Row 10's last field ("ignore" in Binance's layout) 0 -> 1. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && touch -r same.csv same.ref && sed -i '10s/,0$/,1/' same.csv && "
             "touch -r same.ref same.csv && ! cmp -s same.csv BTCUSDT-1m.csv",
             dir);
    assert_int_equal(system(cmd), 0);
    char resume[400];
    snprintf(resume, sizeof(resume), "%s --resume", run);
    char *err = NULL;
    int code = tbt_run_cli(dir, &err, "%s", resume);
    if (code != 2 || !strstr(err, "data changed since the journaled run: same.csv"))
        fail_msg("exit %d: %s", code, err);
    free(err);
    /* Put back, byte for byte: the same journal resumes. */
    snprintf(cmd, sizeof(cmd),
             "cd %s && sed -i '10s/,1$/,0/' same.csv && touch -r same.ref same.csv", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tbt_run_cli(dir, NULL, "%s", resume), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_after_sigkill_at_random_instants_equals_uninterrupted_run),
        cmocka_unit_test(test_existing_journal_without_resume_is_refused),
        cmocka_unit_test(test_resume_with_another_config_is_refused),
        cmocka_unit_test(test_resume_needs_a_journal),
        cmocka_unit_test(test_a_file_that_is_not_a_journal_is_refused),
        cmocka_unit_test(test_journal_replay_rebuilds_the_recorded_state),
        cmocka_unit_test(test_resume_refuses_a_journal_whose_last_bar_the_rerun_does_not_reproduce),
        cmocka_unit_test(
            test_resume_refuses_a_journal_whose_earlier_bar_the_rerun_does_not_reproduce),
        cmocka_unit_test(test_resume_refuses_a_journal_whose_events_do_not_decode),
        cmocka_unit_test(test_a_second_run_on_a_journal_in_use_is_refused_naming_the_pid),
        cmocka_unit_test(test_a_journal_path_that_is_another_output_is_refused),
        cmocka_unit_test(test_read_only_commands_never_write_an_empty_file),
        cmocka_unit_test(test_read_only_commands_create_no_file_beside_the_journal),
        cmocka_unit_test(test_journal_out_of_space_exits_1_naming_it_and_leaves_no_file),
        cmocka_unit_test(test_resume_refuses_changed_data_naming_the_file),
        cmocka_unit_test(test_a_journal_the_disk_fails_to_write_exits_1_naming_it),
        cmocka_unit_test(test_resume_refuses_data_changed_with_its_size_and_time_kept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
