/* End to end, on the project's private RabbitMQ: a [component.NAME] program
 * as its own process of a distributed run (`tradebus component external`),
 * in the place of the built-in it replaces. What the run writes must be
 * exactly what `tradebus backtest` writes for the same config — run by
 * `tradebus up`, and with the program's process SIGKILLed mid-run and
 * started again (its inputs re-executed, nothing published twice). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/node.h"

#define BARS 600

/* A signal generator in sh, standing in for the built-in: buys 0.01 on
 * every 40th bar, sells it 20 bars later (its target is what it holds). */
static const char *const sig_sh =
    "n=0\n"
    "while IFS= read -r l; do\n"
    "  id=${l#*\\\"event_id\\\":\\\"}; id=${id%%\\\"*}\n"
    "  close=${l#*\\\"close\\\":\\\"}; close=${close%%\\\"*}\n"
    "  n=$((n+1))\n"
    "  case $((n % 40)) in\n"
    "  0) echo \"{\\\"type\\\":\\\"SignalGenerated\\\",\\\"payload\\\":{\\\"signal_type\\\":"
    "\\\"BUY\\\",\\\"symbol\\\":\\\"BTCUSDT\\\",\\\"price\\\":\\\"$close\\\",\\\"volume\\\":"
    "\\\"0.01\\\",\\\"strategy_id\\\":\\\"s1\\\",\\\"order_type\\\":\\\"MARKET\\\","
    "\\\"limit_price\\\":\\\"0\\\",\\\"target\\\":\\\"0.01\\\"}}\" ;;\n"
    "  20) [ $n -gt 20 ] && echo \"{\\\"type\\\":\\\"SignalGenerated\\\",\\\"payload\\\":{"
    "\\\"signal_type\\\":\\\"SELL\\\",\\\"symbol\\\":\\\"BTCUSDT\\\",\\\"price\\\":\\\"$close\\\","
    "\\\"volume\\\":\\\"0.01\\\",\\\"strategy_id\\\":\\\"s1\\\",\\\"order_type\\\":\\\"MARKET\\\","
    "\\\"limit_price\\\":\\\"0\\\",\\\"target\\\":\\\"0\\\"}}\" ;;\n"
    "  esac\n"
    "  printf '{\"end\":\"%s\"}\\n' \"$id\"\n"
    "done\n";

static char dir[512], run[64];
/* The config of the run a test made, and what it sets on top: teardown
 * deletes that run from the broker (tbt_delete_run says why). */
static const char *run_config = "run.ini";
static const char *const *run_sets;

#define NPROC 6
static const char *const procs[NPROC] = {"sig", "orders", "positions", "risk", "monitor", "feed"};
static pid_t pids[NPROC];

static int setup(void **state)
{
    (void)state;
    const char *url = getenv("TB_AMQP_URL");
    if (!url) {
        fprintf(stderr, "TB_AMQP_URL is not set: run this test through ctest (broker fixture)\n");
        return -1;
    }
    tbt_temp_dir(dir, sizeof(dir));
    run[0] = 0;
    run_config = "run.ini";
    run_sets = NULL;
    char src[1024], dst[1024], line[512], path[1024];
    snprintf(src, sizeof(src), "%s/data/BTCUSDT-1m-2024-01.csv", TB_SOURCE_DIR);
    snprintf(dst, sizeof(dst), "%s/BTCUSDT-1m-2024-01.csv", dir);
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < BARS && fgets(line, sizeof(line), in); i++)
        fputs(line, out);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    tbt_write_file(dir, "sig.sh", sig_sh, path, sizeof(path));
    char ini[1024];
    snprintf(ini, sizeof(ini),
             "[backtest]\ndata = BTCUSDT-1m-2024-01.csv\n"
             "[strategy.s1]\ntype = sma_cross\nsymbol = BTCUSDT\nquantity = 0.01\n"
             "[component.sig]\ncommand = sh sig.sh\nreplaces = signal\nsubscribes = MarketData\n"
             "[bus]\ntype = amqp\nurl = %s\nstate_dir = state\nwindow = 16\n",
             url);
    tbt_write_file(dir, "run.ini", ini, path, sizeof(path));
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config run.ini --set bus.type=memory "
                                 "--out emb --quiet"),
                     0);
    char *fills = tbt_read_in(dir, "emb/fills.csv");
    assert_non_null(strstr(fills, "SELL")); /* the program traded */
    free(fills);
    memset(pids, 0, sizeof(pids));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NPROC; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    /* Best effort: what is left slows a later broker restart, no result. */
    if (run[0]) tbt_delete_run(dir, run_config, run_sets, run);
    tbt_remove_tree(dir);
    return 0;
}

static void assert_same_in(const char *emb, const char *dist)
{
    const char *files[] = {"summary.json", "fills.csv", "events.jsonl", "trades.csv", "equity.csv"};
    for (int i = 0; i < 5; i++) {
        char a[600], b[600];
        snprintf(a, sizeof(a), "%s/%s", emb, files[i]);
        snprintf(b, sizeof(b), "%s/%s", dist, files[i]);
        char *x = tbt_read_in(dir, a), *y = tbt_read_in(dir, b);
        if (!x || !y) fail_msg("%s is missing", x ? b : a);
        if (strcmp(x, y) != 0) {
            size_t k = 0;
            while (x[k] && x[k] == y[k])
                k++;
            fail_msg("%s differs from the embedded run at byte %zu:\nembedded:    %.200s\n"
                     "distributed: %.200s",
                     files[i], k, x + (k > 100 ? k - 100 : 0), y + (k > 100 ? k - 100 : 0));
        }
        free(x);
        free(y);
    }
}

static void assert_same_as_embedded(void)
{
    assert_same_in("emb", "dist");
}

static void test_dist_up_runs_the_program_in_the_place_of_signal(void **state)
{
    (void)state;
    snprintf(run, sizeof(run), "ext%ld-up", (long)getpid());
    char *err = NULL;
    int code = tbt_run_cli(dir, &err, "up --config run.ini --set bus.name=%s --out dist", run);
    if (code != 0) fail_msg("tradebus up exited %d: %s", code, err ? err : "");
    free(err);
    assert_same_as_embedded();
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "[sig] done: 600 bars"));
    assert_null(strstr(out, "[signal]")); /* replaced: no such process */
    free(out);
}

static pid_t spawn(int i, const char *rate)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid) return pid;
    char log[700], set[128];
    snprintf(log, sizeof(log), "%s/%s.log", dir, procs[i]);
    snprintf(set, sizeof(set), "bus.name=%s", run);
    if (chdir(dir) != 0 || !freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout))
        _exit(126);
    const char *argv[20];
    int n = 0;
    argv[n++] = TB_BINARY;
    if (!strcmp(procs[i], "feed")) {
        argv[n++] = "feed";
        argv[n++] = "--rate";
        argv[n++] = rate;
    } else if (!strcmp(procs[i], "sig")) {
        argv[n++] = "component";
        argv[n++] = "external";
        argv[n++] = "--name";
        argv[n++] = "sig";
    } else {
        argv[n++] = "component";
        argv[n++] = procs[i];
        argv[n++] = "--out";
        argv[n++] = "dist";
    }
    argv[n++] = "--config";
    argv[n++] = "run.ini";
    argv[n++] = "--set";
    argv[n++] = set;
    argv[n] = NULL;
    execv(TB_BINARY, (char *const *)argv);
    _exit(127);
}

static void wait_all(int seconds)
{
    for (int waited = 0;; waited += 50) {
        int left = 0;
        for (int i = 0; i < NPROC; i++) {
            if (pids[i] <= 0) continue;
            int st;
            if (waitpid(pids[i], &st, WNOHANG) == 0) {
                left++;
                continue;
            }
            pids[i] = 0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char p[700];
                snprintf(p, sizeof(p), "%s/%s.log", dir, procs[i]);
                char *log = tbt_read_file(p);
                fail_msg("%s ended with status %d:\n%s", procs[i], st, log ? log : "");
            }
        }
        if (!left) return;
        if (waited > seconds * 1000) fail_msg("the run did not finish in %d s", seconds);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
}

static void test_dist_the_program_killed_and_restarted_changes_nothing(void **state)
{
    (void)state;
    snprintf(run, sizeof(run), "ext%ld-kill", (long)getpid());
    for (int i = 0; i < NPROC; i++)
        pids[i] = spawn(i, "400");
    /* Mid-run (its state file says how far it is), SIGKILL the program's
     * process — and with it the program — then start it again. */
    char state_path[700];
    snprintf(state_path, sizeof(state_path), "%s/state/%s-sig.db", dir, run);
    uint64_t bars = 0;
    int done = 0;
    for (int t = 0; t < 400 && bars < 150; t++) {
        struct timespec ts = {0, 25000000};
        nanosleep(&ts, NULL);
        if (access(state_path, R_OK) == 0) tb_node_state_read(state_path, &bars, &done);
    }
    assert_true(bars >= 150 && bars < BARS);
    kill(pids[0], SIGKILL);
    waitpid(pids[0], NULL, 0);
    pids[0] = spawn(0, NULL);
    wait_all(120);
    assert_same_as_embedded();
    char p[700];
    snprintf(p, sizeof(p), "%s/sig.log", dir);
    char *log = tbt_read_file(p);
    assert_non_null(strstr(log, "restarted at bar"));
    free(log);
}

static void test_dist_a_program_that_replaces_nothing_is_refused(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(dir, &err,
                                 "component external --name sig --config run.ini --set "
                                 "component.sig.replaces= --set component.sig.publishes=RiskAlert"),
                     2);
    assert_non_null(strstr(err, "must replace one"));
    free(err);
}

/* Migration phase 3 (docs/migration.md) distributed: the Python bot keeps
 * the positions in its own process, the built-ins in theirs. */
static void test_dist_phase3_bot_keeping_positions_writes_what_backtest_writes(void **state)
{
    (void)state;
    snprintf(run, sizeof(run), "ext%ld-phase3", (long)getpid());
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "ln -s '%s/examples' '%s/examples'", TB_SOURCE_DIR, dir);
    assert_int_equal(system(cmd), 0);
    const char *data = "--set backtest.data=BTCUSDT-1m-2024-01.csv";
    static char url_set[512];
    snprintf(url_set, sizeof(url_set), "bus.url=%s", getenv("TB_AMQP_URL"));
    static const char *sets[] = {"backtest.data=BTCUSDT-1m-2024-01.csv", "bus.type=amqp", url_set,
                                 "bus.state_dir=state", NULL};
    run_config = "examples/migration/phase3.ini";
    run_sets = sets;
    assert_int_equal(tbt_run_cli(dir, NULL,
                                 "backtest --config examples/migration/phase3.ini %s --out emb3 "
                                 "--quiet",
                                 data),
                     0);
    char *fills = tbt_read_in(dir, "emb3/fills.csv");
    assert_non_null(strstr(fills, "SELL")); /* positions opened and closed */
    free(fills);
    char *err = NULL;
    int code = tbt_run_cli(dir, &err,
                           "up --config examples/migration/phase3.ini %s --set bus.type=amqp "
                           "--set bus.url=%s --set bus.state_dir=state --set bus.name=%s "
                           "--out dist3",
                           data, getenv("TB_AMQP_URL"), run);
    if (code != 0) fail_msg("tradebus up exited %d: %s", code, err ? err : "");
    free(err);
    assert_same_in("emb3", "dist3");
    char *out = tbt_read_in(dir, "stdout.txt");
    assert_non_null(strstr(out, "[legacy] done: 600 bars"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dist_up_runs_the_program_in_the_place_of_signal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_the_program_killed_and_restarted_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_a_program_that_replaces_nothing_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_dist_phase3_bot_keeping_positions_writes_what_backtest_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
