/* End to end: what a backtest leaves in --out when it fails, when it is
 * interrupted (SIGINT/SIGTERM) and when the folder does not exist yet. The
 * interrupted runs use generated data large enough that the signal lands
 * mid-run: each test waits until the run has written part of its files. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tb_test_cli.h"

static char dir[256];

#define BIG_BARS 500000

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *out_file(const char *out, const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s/%s", dir, out, name);
    return tbt_read_file(p);
}

#define run(err_out, ...) tbt_run_cli(dir, err_out, __VA_ARGS__)

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/tb_e2e_out_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    write_file("BTCUSDT-1m-2024-01.csv", tbt_staircase_csv);
    write_file("small.ini", "[backtest]\n"
                            "data = BTCUSDT-1m-2024-01.csv\n"
                            "[strategy.s1]\n"
                            "type = sma_cross\n"
                            "symbol = BTCUSDT\n"
                            "fast = 2\n"
                            "slow = 3\n"
                            "quantity = 1\n");
    write_file("big.ini", "[backtest]\n"
                          "data = BTCUSDT:big.csv\n"
                          "[strategy.s1]\n"
                          "type = sma_cross\n"
                          "symbol = BTCUSDT\n"
                          "fast = 5\n"
                          "slow = 20\n"
                          "quantity = 0.01\n");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s --bars %d --seed 7 --price 42000 > %s/big.csv 2>/dev/null",
             TB_GENDATA, BIG_BARS, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* The names in dir/out, sorted, one per line (hidden ones included). */
static void list_dir(const char *out, char *buf, size_t len)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, out);
    struct dirent **names;
    int n = scandir(p, &names, NULL, alphasort);
    assert_true(n >= 0);
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(buf, names[i]->d_name, len - strlen(buf) - 2);
            strcat(buf, "\n");
        }
        free(names[i]);
    }
    free(names);
}

typedef struct {
    char names[1024];
    char *files[8];
} snapshot;

static const char *const outputs[] = {"summary.json", "fills.csv", "events.jsonl", "report.html"};

static void take(const char *out, snapshot *s)
{
    list_dir(out, s->names, sizeof(s->names));
    for (int i = 0; i < 4; i++)
        s->files[i] = out_file(out, outputs[i]);
}

static void assert_unchanged(const char *out, snapshot *before)
{
    snapshot now;
    take(out, &now);
    assert_string_equal(now.names, before->names);
    for (int i = 0; i < 4; i++) {
        assert_non_null(now.files[i]);
        assert_true(strcmp(now.files[i], before->files[i]) == 0);
        free(now.files[i]);
        free(before->files[i]);
    }
}

/* Starts "tradebus ARGS..." in dir (stdout/stderr to dir/NAME.out/.err). */
static pid_t spawn(const char *name, const char *const *args)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char p[512];
        if (chdir(dir) != 0) _exit(127);
        snprintf(p, sizeof(p), "%s.out", name);
        int o = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        snprintf(p, sizeof(p), "%s.err", name);
        int e = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0) _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)TB_BINARY;
        for (; args[n - 1] && n < 31; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(TB_BINARY, argv);
        _exit(127);
    }
    return pid;
}

/* Waits (up to 60 s) until path holds at least min bytes: the run is under
 * way, and far from its end. */
static void wait_for_size(const char *path, off_t min, pid_t pid)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 60000; i++) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size >= min) return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) fail_msg("the run ended before %s grew", path);
        nanosleep(&ms, NULL);
    }
    fail_msg("%s never reached %lld bytes", path, (long long)min);
}

static int exit_code(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status)) fail_msg("tradebus killed by signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

static void test_e2e_failed_run_leaves_previous_outputs_byte_identical(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config small.ini --out good"), 0);
    snapshot before;
    take("good", &before);
    char *err = NULL;
    assert_int_equal(run(&err, "backtest --config small.ini --data nosuch.csv --out good"), 3);
    assert_non_null(strstr(err, "nosuch.csv"));
    free(err);
    /* Not even a staging folder is left behind. */
    assert_unchanged("good", &before);
}

static void test_e2e_nested_out_folder_is_created(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config small.ini --out a/b/c"), 0);
    char *s = out_file("a/b/c", "summary.json");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"bars\": 11,"));
    free(s);
}

static void test_e2e_sigint_writes_complete_files_and_exits_130(void **state)
{
    (void)state;
    const char *args[] = {"backtest", "--config", "big.ini", "--out", "int", NULL};
    pid_t pid = spawn("int", args);
    char staged[512];
    snprintf(staged, sizeof(staged), "%s/int/.tradebus-%ld.tmp/events.jsonl", dir, (long)pid);
    wait_for_size(staged, 4 << 20, pid);
    kill(pid, SIGINT);
    assert_int_equal(exit_code(pid), 130);
    char *s = out_file("int", "summary.json");
    assert_non_null(s);
    assert_non_null(strstr(s, "\"interrupted\": true,"));
    unsigned long long bars = 0;
    assert_non_null(strstr(s, "\"bars\": "));
    sscanf(strstr(s, "\"bars\": ") + 8, "%llu", &bars);
    assert_true(bars > 0 && bars < BIG_BARS);
    size_t len = strlen(s);
    assert_true(len > 2 && strcmp(s + len - 2, "}\n") == 0);
    free(s);
    /* The report recomputes every figure from events.jsonl and checks it
     * against summary.json: it exists only if the two are whole and agree. */
    char *html = out_file("int", "report.html");
    assert_non_null(html);
    free(html);
    char *err = tbt_read_in(dir, "int.err");
    char want[80];
    snprintf(want, sizeof(want), "interrupted at bar %llu of %d", bars, BIG_BARS);
    assert_non_null(strstr(err, want));
    free(err);
    char names[1024];
    list_dir("int", names, sizeof(names));
    assert_string_equal(names, "equity.csv\nevents.jsonl\nfills.csv\nreport.html\nsummary.json\n"
                               "trades.csv\n");
}

static void test_e2e_second_signal_leaves_previous_outputs(void **state)
{
    (void)state;
    assert_int_equal(run(NULL, "backtest --config small.ini --out twice"), 0);
    snapshot before;
    take("twice", &before);
    const char *args[] = {"backtest", "--config", "big.ini", "--out", "twice", NULL};
    pid_t pid = spawn("twice", args);
    char staged[512];
    snprintf(staged, sizeof(staged), "%s/twice/.tradebus-%ld.tmp/events.jsonl", dir, (long)pid);
    wait_for_size(staged, 4 << 20, pid);
    kill(pid, SIGINT);
    kill(pid, SIGTERM);
    assert_int_equal(exit_code(pid), 130);
    assert_unchanged("twice", &before);
}

static void test_e2e_interrupted_journaled_run_resumes_to_the_same_result(void **state)
{
    (void)state;
    /* A fifth of the data: every event also goes into the journal. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "head -n %d %s/big.csv > %s/mid.csv", BIG_BARS / 5, dir, dir);
    assert_int_equal(system(cmd), 0);
    const char *set = "--set backtest.data=BTCUSDT:mid.csv";
    /* Both runs into a folder of the same name: the report names it. */
    assert_int_equal(run(NULL, "backtest --config big.ini %s --journal whole.db --out cut", set),
                     0);
    char from[512], to[512];
    snprintf(from, sizeof(from), "%s/cut", dir);
    snprintf(to, sizeof(to), "%s/whole", dir);
    assert_int_equal(rename(from, to), 0);
    const char *args[] = {
        "backtest",  "--config", "big.ini", "--set", "backtest.data=BTCUSDT:mid.csv",
        "--journal", "cut.db",   "--out",   "cut",   NULL};
    pid_t pid = spawn("cut", args);
    char journal[512];
    /* Its log: commits land there first (the database grows only at the
     * checkpoints, 32 MB of log apart). */
    snprintf(journal, sizeof(journal), "%s/cut.db-wal", dir);
    wait_for_size(journal, 2 << 20, pid);
    kill(pid, SIGINT);
    assert_int_equal(exit_code(pid), 130);
    char *s = out_file("cut", "summary.json");
    assert_non_null(strstr(s, "\"interrupted\": true,"));
    free(s);
    char *err = NULL;
    assert_int_equal(
        run(&err, "backtest --config big.ini %s --journal cut.db --resume --out cut", set), 0);
    free(err);
    for (int i = 0; i < 4; i++) {
        char *a = out_file("whole", outputs[i]), *b = out_file("cut", outputs[i]);
        assert_non_null(a);
        assert_non_null(b);
        if (strcmp(a, b) != 0) fail_msg("%s differs after the resume", outputs[i]);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e2e_failed_run_leaves_previous_outputs_byte_identical),
        cmocka_unit_test(test_e2e_nested_out_folder_is_created),
        cmocka_unit_test(test_e2e_sigint_writes_complete_files_and_exits_130),
        cmocka_unit_test(test_e2e_second_signal_leaves_previous_outputs),
        cmocka_unit_test(test_e2e_interrupted_journaled_run_resumes_to_the_same_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
