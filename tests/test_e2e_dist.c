/* A distributed run with real processes through the project's private
 * RabbitMQ (scripts/broker.sh, started by ctest's broker fixture): the
 * tradebus binary run as a user runs it — `up`, or each `component` and the
 * `feed` by hand — must write exactly what `tradebus backtest` writes for
 * the same config: when nothing goes wrong, when any process is SIGKILLed
 * mid-run and started again, when the broker restarts mid-run, and with a
 * poison message in the queues. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/codec.h"
#include "tradebus/node.h"
#include "tradebus/amqp.h"

/* 250 bars a symbol give every kind of event of a 500-bar run (partial
 * fills, a cancel, both strategies filled; 35 fills) at half the time: a
 * strict run is paced by the broker, about 5 ms a bar, and this file runs
 * 14 of them. The points where a test acts (kill, restart, interrupt) are
 * fractions of the run, AT_PCT, so each still lands mid-run. */
#define BARS_PER_SYMBOL 250
#define TOTAL_BARS      (2 * BARS_PER_SYMBOL)
#define AT_PCT(pct)     ((uint64_t)TOTAL_BARS * (pct) / 100)
#define NPROC           6

typedef struct {
    char dir[512];
    char run[64];
    const char *url;
    pid_t pid[NPROC];
    const char *feed_rate;           /* --rate for the feed, or NULL */
    const char *const *extra[NPROC]; /* more arguments per process, NULL-terminated */
} fixture;

static const char *const roles[NPROC] = {"signal", "orders",  "positions",
                                         "risk",   "monitor", "feed"};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first n bars of a bundled file, under the same (symbol-naming) name. */
static void head_data(const char *dir, const char *name, int n)
{
    char src[1024], dst[1024], line[512];
    snprintf(src, sizeof(src), "%s/data/%s", TB_SOURCE_DIR, name);
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < n && fgets(line, sizeof(line), in); i++)
        fputs(line, out);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->url = getenv("TB_AMQP_URL");
    if (!f->url)
        fail_msg("TB_AMQP_URL is not set: this test needs the project's broker (ctest starts it "
                 "with the broker_start fixture: run it through ctest)");
    tbt_temp_dir(f->dir, sizeof(f->dir));
    snprintf(f->run, sizeof(f->run), "e2e%ld", (long)getpid());
    head_data(f->dir, "BTCUSDT-1m-2024-01.csv", BARS_PER_SYMBOL);
    head_data(f->dir, "ETHUSDT-1m-2024-01.csv", BARS_PER_SYMBOL);
    char ini[4096], path[1024];
    snprintf(ini, sizeof(ini),
             "[backtest]\ndata = BTCUSDT-1m-2024-01.csv ETHUSDT-1m-2024-01.csv\n"
             "initial_cash = 100000\n"
             "[exchange]\nfee_bps = 7.5\nslippage_bps = 2\nmax_volume_participation = 0.05\n"
             "[risk]\nmax_position = 100\nmax_order_notional = 60000\nmax_open_orders = 10\n"
             "price_band_pct = 5\nmax_orders_per_minute = 30\nmax_drawdown_pct = 20\n"
             "[symbol.BTCUSDT]\ntick_size = 0.01\nstep_size = 0.00001\n"
             "[symbol.ETHUSDT]\ntick_size = 0.01\nstep_size = 0.0001\n"
             "[strategy.btc_sma]\ntype = sma_cross\nsymbol = BTCUSDT\nfast = 5\nslow = 15\n"
             "quantity = 0.05\nallow_short = true\n"
             "[strategy.eth_rsi]\ntype = rsi_reversion\nsymbol = ETHUSDT\nperiod = 14\n"
             "oversold = 30\noverbought = 70\nquantity = 1\norder_type = LIMIT\n"
             "limit_offset_bps = 5\n"
             "[strategy.btc_bb]\ntype = bollinger_breakout\nsymbol = BTCUSDT\nperiod = 20\n"
             "k = 2\nquantity = 0.02\n"
             "[bus]\ntype = amqp\nurl = %s\nstate_dir = state\nwindow = 32\n",
             f->url);
    tbt_write_file(f->dir, "run.ini", ini, path, sizeof(path));
    int code = tbt_run_cli(f->dir, NULL,
                           "backtest --config run.ini --set bus.type=memory "
                           "--out emb --quiet");
    assert_int_equal(code, 0);
    char *fills = tbt_read_in(f->dir, "emb/fills.csv");
    size_t lines = 0;
    for (char *p = fills; p && *p; p++)
        lines += *p == '\n';
    free(fills);
    assert_true(lines > 20); /* enough trading for the comparison to mean something */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < NPROC; i++)
        if (f->pid[i] > 0) {
            kill(f->pid[i], SIGKILL);
            waitpid(f->pid[i], NULL, 0);
        }
    /* Best effort (a failed test may have left the broker down): what is
     * left slows the next broker restart, it does not change a result. */
    tbt_delete_run(f->dir, "run.ini", NULL, f->run);
    tbt_remove_tree(f->dir);
    free(f);
    return 0;
}

/* The run name of this test: its own exchanges and queues on the broker. */
static void name_run(fixture *f, const char *what)
{
    snprintf(f->run, sizeof(f->run), "e2e%ld-%s", (long)getpid(), what);
}

static pid_t spawn_role(fixture *f, int i)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char log[700], set[128];
        snprintf(log, sizeof(log), "%s/%s.log", f->dir, roles[i]);
        snprintf(set, sizeof(set), "bus.name=%s", f->run);
        if (chdir(f->dir) != 0 || !freopen(log, "a", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        const char *argv[40];
        int n = 0;
        argv[n++] = TB_BINARY;
        if (!strcmp(roles[i], "feed")) {
            argv[n++] = "feed";
            if (f->feed_rate) {
                argv[n++] = "--rate";
                argv[n++] = f->feed_rate;
            }
        } else {
            argv[n++] = "component";
            argv[n++] = roles[i];
            argv[n++] = "--out";
            argv[n++] = "dist";
        }
        argv[n++] = "--config";
        argv[n++] = "run.ini";
        argv[n++] = "--set";
        argv[n++] = set;
        for (int k = 0; f->extra[i] && f->extra[i][k] && n < 39; k++)
            argv[n++] = f->extra[i][k];
        argv[n] = NULL;
        execv(TB_BINARY, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void tail_logs(fixture *f)
{
    for (int i = 0; i < NPROC; i++) {
        char p[700];
        snprintf(p, sizeof(p), "%s/%s.log", f->dir, roles[i]);
        char *s = tbt_read_file(p);
        if (!s) continue;
        size_t n = strlen(s);
        fprintf(stderr, "---- %s.log (end)\n%s\n", roles[i], s + (n > 1500 ? n - 1500 : 0));
        free(s);
    }
}

/* Waits for every process; each must exit 0. */
static void wait_all(fixture *f, int seconds)
{
    for (int waited = 0;; waited += 50) {
        int left = 0;
        for (int i = 0; i < NPROC; i++) {
            if (f->pid[i] <= 0) continue;
            int st;
            pid_t w = waitpid(f->pid[i], &st, WNOHANG);
            if (w == 0) {
                left++;
                continue;
            }
            f->pid[i] = 0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                tail_logs(f);
                fail_msg("%s ended with status %d", roles[i], st);
            }
        }
        if (!left) return;
        if (waited > seconds * 1000) {
            tail_logs(f);
            fail_msg("the distributed run did not finish in %d s", seconds);
        }
        sleep_ms(50);
    }
}

/* Fails at once, with the logs, if a process has already ended badly. */
static void check_alive(fixture *f)
{
    for (int i = 0; i < NPROC; i++) {
        int st;
        if (f->pid[i] > 0 && waitpid(f->pid[i], &st, WNOHANG) == f->pid[i]) {
            f->pid[i] = 0;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                tail_logs(f);
                fail_msg("%s ended early with status %d", roles[i], st);
            }
        }
    }
}

static uint64_t progress_of(fixture *f, const char *role)
{
    check_alive(f);
    char p[700];
    uint64_t bars = 0;
    int done = 0;
    snprintf(p, sizeof(p), "%s/state/%s-%s.db", f->dir, f->run, role);
    if (access(p, R_OK) != 0 || tb_node_state_read(p, &bars, &done) != 0) return 0;
    return bars;
}

static void assert_same_as_embedded(fixture *f)
{
    const char *files[] = {"summary.json", "fills.csv", "events.jsonl", "trades.csv", "equity.csv"};
    for (int i = 0; i < 5; i++) {
        char a[600], b[600];
        snprintf(a, sizeof(a), "emb/%s", files[i]);
        snprintf(b, sizeof(b), "dist/%s", files[i]);
        char *x = tbt_read_in(f->dir, a), *y = tbt_read_in(f->dir, b);
        if (!x || !y) fail_msg("%s is missing", x ? b : a);
        if (strcmp(x, y) != 0) {
            size_t k = 0;
            while (x[k] && x[k] == y[k])
                k++;
            size_t from = k > 150 ? k - 150 : 0;
            fail_msg("%s differs from the embedded run at byte %zu:\nembedded:    %.250s\n"
                     "distributed: %.250s",
                     files[i], k, x + from, y + from);
        }
        free(x);
        free(y);
    }
}

/* Every client order id was created once: no order was sent twice. */
static void assert_each_order_once(fixture *f)
{
    char *ev = tbt_read_in(f->dir, "dist/events.jsonl");
    assert_non_null(ev);
    size_t n = 0, cap = 1024;
    char **ids = malloc(cap * sizeof(*ids));
    for (char *line = strtok(ev, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"type\":\"OrderCreated\"")) continue;
        char *c = strstr(line, "\"client_order_id\":\"");
        assert_non_null(c);
        c += strlen("\"client_order_id\":\"");
        *strchr(c, '"') = 0;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(ids[i], c)) fail_msg("client order id %s was created twice", c);
        if (n == cap) ids = realloc(ids, (cap *= 2) * sizeof(*ids));
        ids[n++] = c;
    }
    assert_true(n > 10);
    free(ids);
    free(ev);
}

static void test_dist_up_writes_what_backtest_writes(void **state)
{
    fixture *f = *state;
    name_run(f, "up");
    int code =
        tbt_run_cli(f->dir, NULL, "up --config run.ini --set bus.name=%s --out dist", f->run);
    if (code != 0) {
        char *out = tbt_read_in(f->dir, "stdout.txt");
        fail_msg("tradebus up exited %d:\n%s", code, out ? out : "");
    }
    assert_same_as_embedded(f);
    assert_each_order_once(f);
    /* up reports each process's lines under its name */
    char *out = tbt_read_in(f->dir, "stdout.txt");
    char done[64];
    snprintf(done, sizeof(done), "[orders] done: %d bars", TOTAL_BARS);
    assert_non_null(strstr(out, done));
    assert_non_null(strstr(out, "[monitor]   fills"));
    free(out);
}

static void test_dist_each_process_killed_and_restarted_changes_nothing(void **state)
{
    fixture *f = *state;
    for (int victim = 0; victim < NPROC; victim++) {
        char what[32];
        snprintf(what, sizeof(what), "kill-%s", roles[victim]);
        name_run(f, what);
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/dist'", f->dir);
        assert_int_equal(system(cmd), 0);
        for (int i = 0; i < NPROC; i++)
            f->pid[i] = spawn_role(f, i);
        /* Kill it once it is well into the run (state saved, messages in flight). */
        uint64_t at = AT_PCT(15 + 6 * (uint64_t)victim);
        for (int waited = 0; progress_of(f, roles[victim]) < at; waited += 20) {
            if (waited > 60000) {
                tail_logs(f);
                fail_msg("%s did not reach bar %llu", roles[victim], (unsigned long long)at);
            }
            sleep_ms(20);
        }
        assert_int_equal(kill(f->pid[victim], SIGKILL), 0);
        int st;
        assert_int_equal(waitpid(f->pid[victim], &st, 0), f->pid[victim]);
        assert_true(WIFSIGNALED(st));
        assert_true(progress_of(f, roles[victim]) < TOTAL_BARS); /* killed mid-run */
        f->pid[victim] = spawn_role(f, victim);
        wait_all(f, 180);
        assert_same_as_embedded(f);
        assert_each_order_once(f);
        char log[700];
        snprintf(log, sizeof(log), "%s/%s.log", f->dir, roles[victim]);
        char *s = tbt_read_file(log);
        if (!s || !strstr(s, "restarted at bar"))
            fail_msg("%s.log does not say it restarted:\n%s", roles[victim], s ? s : "");
        free(s);
        assert_int_equal(tbt_delete_run(f->dir, "run.ini", NULL, f->run), 0);
    }
}

static void test_dist_broker_restart_mid_run_changes_nothing(void **state)
{
    fixture *f = *state;
    const char *dir = getenv("TB_BROKER_DIR"), *script = getenv("TB_BROKER_SCRIPT");
    if (!dir || !script) fail_msg("TB_BROKER_DIR / TB_BROKER_SCRIPT not set (run through ctest)");
    name_run(f, "restart");
    for (int i = 0; i < NPROC; i++)
        f->pid[i] = spawn_role(f, i);
    for (int waited = 0; progress_of(f, "monitor") < AT_PCT(20); waited += 20) {
        if (waited > 60000) {
            tail_logs(f);
            fail_msg("the run did not reach bar %llu", (unsigned long long)AT_PCT(20));
        }
        sleep_ms(20);
    }
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "sh '%s' restart '%s'", script, dir);
    assert_int_equal(system(cmd), 0);
    assert_true(progress_of(f, "monitor") < TOTAL_BARS); /* it was mid-run */
    wait_all(f, 240);
    assert_same_as_embedded(f);
    assert_each_order_once(f);
    char *s = tbt_read_in(f->dir, "orders.log");
    assert_non_null(strstr(s, "reconnected"));
    free(s);
}

static void test_dist_poison_message_is_dead_lettered_and_the_run_goes_on(void **state)
{
    fixture *f = *state;
    name_run(f, "poison");
    for (int i = 0; i < NPROC; i++)
        f->pid[i] = spawn_role(f, i);
    for (int waited = 0; progress_of(f, "monitor") < AT_PCT(5); waited += 20) {
        if (waited > 60000) {
            tail_logs(f);
            fail_msg("the run did not start");
        }
        sleep_ms(20);
    }
    /* A truncated market-data message, as a broken producer would send. */
    tb_amqp_options o;
    memset(&o, 0, sizeof(o));
    o.url = f->url;
    o.run = f->run;
    tb_transport *t;
    char err[512] = "";
    if (tb_amqp_transport_create(&o, &t, err, sizeof(err)) != 0) fail_msg("%s", err);
    /* Its bytes include a terminal escape (set the window title): `dlq show`
     * must print it escaped, never raw. */
    const char *bad = "{\"type\":\"MarketData\",\"event_id\":\"9\",\"payload\":{\"symbol\":"
                      "\"BTC\x1b]0;pwned\x07";
    tb_msg_out m = {"MarketData.BTCUSDT", "poison-1", "MarketData", NULL, NULL, NULL, bad,
                    strlen(bad)};
    assert_int_equal(tb_transport_publish(t, &m), 0);
    assert_int_equal(tb_transport_flush(t, 10000), 0);
    tb_transport_destroy(t);
    wait_all(f, 180);
    assert_same_as_embedded(f);
    /* Each of the five components gave it back until the delivery limit,
     * then RabbitMQ dead-lettered it to that component's queue. */
    assert_int_equal(
        tbt_run_cli(f->dir, NULL, "dlq list --config run.ini --set bus.name=%s", f->run), 0);
    char *out = tbt_read_in(f->dir, "stdout.txt");
    size_t hits = 0;
    for (char *p = out; (p = strstr(p, "poison-1")); p++)
        hits++;
    if (hits != 5) fail_msg("expected poison-1 in 5 dead-letter queues:\n%s", out);
    assert_non_null(strstr(out, "delivery_limit"));
    free(out);
    assert_int_equal(
        tbt_run_cli(f->dir, NULL, "dlq show poison-1 --config run.ini --set bus.name=%s", f->run),
        0);
    out = tbt_read_in(f->dir, "stdout.txt");
    assert_non_null(strstr(out, "BTC\\x1b]0;pwned\\x07"));
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x07'));
    free(out);
    char *log = tbt_read_in(f->dir, "positions.log");
    assert_non_null(strstr(log, "poison-1"));
    free(log);
    /* Replayed, it goes back to its queues; nothing consumes them now (the
     * run is over), so it waits there instead of the dead-letter queues. */
    assert_int_equal(
        tbt_run_cli(f->dir, NULL, "dlq replay --all --config run.ini --set bus.name=%s", f->run),
        0);
    assert_int_equal(tbt_run_cli(f->dir, NULL, "status --config run.ini --set bus.name=%s", f->run),
                     0);
    out = tbt_read_in(f->dir, "stdout.txt");
    assert_non_null(strstr(out, "positions"));
    free(out);
}

/* GET /metrics from 127.0.0.1:port: the whole response (free it), or NULL. */
static char *scrape(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return NULL;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

/* The metrics port a process logged ("metrics at http://127.0.0.1:PORT/"). */
static int logged_port(fixture *f, const char *role)
{
    for (int waited = 0; waited < 30000; waited += 50) {
        char p[700];
        snprintf(p, sizeof(p), "%s/%s.log", f->dir, role);
        char *s = tbt_read_file(p), *at = s ? strstr(s, "metrics at http://127.0.0.1:") : NULL;
        int port = at ? atoi(at + strlen("metrics at http://127.0.0.1:")) : 0;
        free(s);
        if (port > 0) return port;
        sleep_ms(50);
    }
    fail_msg("%s never said where its metrics are", role);
    return 0;
}

/* A process killed mid-run stalls the others (strict order: each step
 * waits for every component's report). Within seconds each of them logs
 * which process it waits for and since when, and the metrics say it; when
 * the process is back they say they move again, and the run ends as the
 * embedded one. */
static void test_dist_a_stalled_run_names_the_missing_process(void **state)
{
    fixture *f = *state;
    name_run(f, "stall");
    static const char *const metrics[] = {"--metrics-port", "0", NULL};
    const int victim = 2, watcher = 3; /* positions; risk serves its metrics */
    f->extra[watcher] = metrics;
    for (int i = 0; i < NPROC; i++)
        f->pid[i] = spawn_role(f, i);
    int port = logged_port(f, roles[watcher]);
    for (int waited = 0; progress_of(f, roles[victim]) < AT_PCT(15); waited += 20) {
        if (waited > 60000) {
            tail_logs(f);
            fail_msg("%s did not reach bar %llu", roles[victim], (unsigned long long)AT_PCT(15));
        }
        sleep_ms(20);
    }
    char *m = scrape(port);
    assert_non_null(m);
    if (!strstr(m, "tradebus_node_stalled_seconds{role=\"risk\"} 0\n"))
        fail_msg("a moving run is not stalled:\n%s", m);
    free(m);
    assert_int_equal(kill(f->pid[victim], SIGKILL), 0);
    assert_int_equal(waitpid(f->pid[victim], NULL, 0), f->pid[victim]);
    f->pid[victim] = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Every other process waits for it, and says so: the stall threshold
     * (3 s) and a poll, with room for a loaded machine. */
    int named[NPROC] = {0}, left = NPROC - 1;
    for (int waited = 0; left > 0; waited += 100) {
        if (waited > 12000) {
            tail_logs(f);
            fail_msg("%d process(es) did not name %s within 12 s of its end", left, roles[victim]);
        }
        for (int i = 0; i < NPROC; i++) {
            if (i == victim || named[i]) continue;
            char p[700];
            snprintf(p, sizeof(p), "%s/%s.log", f->dir, roles[i]);
            char *s = tbt_read_file(p);
            if (s && strstr(s, "waiting for positions since ")) named[i] = 1, left--;
            free(s);
        }
        sleep_ms(100);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "named within %.1f s\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    char *log = tbt_read_in(f->dir, "risk.log");
    const char *line = strstr(log, "waiting for positions since ");
    /* "... since 03:14:07 UTC (3 s): no step report for bar 317 (step 2)" */
    int hh, mm, ss, secs;
    if (sscanf(line, "waiting for positions since %d:%d:%d UTC (%d s): ", &hh, &mm, &ss, &secs) !=
            4 ||
        !strstr(line, "no step report for bar "))
        fail_msg("unexpected stall line: %.200s", line);
    assert_true(secs >= 3);
    free(log);
    m = scrape(port);
    assert_non_null(m);
    const char *series = "tradebus_node_stalled_seconds{role=\"risk\",waiting_for=\"positions\"} ";
    const char *at = strstr(m, series);
    if (!at || atof(at + strlen(series)) < 3) fail_msg("the metrics do not show the stall:\n%s", m);
    free(m);

    f->pid[victim] = spawn_role(f, victim);
    wait_all(f, 180);
    assert_same_as_embedded(f);
    log = tbt_read_in(f->dir, "risk.log");
    assert_non_null(strstr(log, "moving again after "));
    free(log);
}

/* Starts `tradebus up` on run.ini in the background, its output in log
 * and err (in the fixture's folder); returns its pid. */
static pid_t start_up(fixture *f, const char *log, const char *err)
{
    pid_t up = fork();
    assert_true(up >= 0);
    if (up == 0) {
        char set[128];
        snprintf(set, sizeof(set), "bus.name=%s", f->run);
        if (chdir(f->dir) != 0 || !freopen(log, "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        execl(TB_BINARY, TB_BINARY, "up", "--config", "run.ini", "--set", set, "--out", "dist",
              (char *)NULL);
        _exit(127);
    }
    return up;
}

/* Ctrl-C on `tradebus up` stops every process cleanly (exit 130, nothing
 * left running); `up --resume` continues the run to the same result. */
static void test_dist_up_interrupted_then_resumed_changes_nothing(void **state)
{
    fixture *f = *state;
    name_run(f, "ctrlc");
    pid_t up = start_up(f, "up1.log", "up1.err");
    for (int waited = 0; progress_of(f, "monitor") < AT_PCT(30); waited += 20) {
        if (waited > 60000) {
            kill(up, SIGKILL);
            fail_msg("the run did not reach bar %llu", (unsigned long long)AT_PCT(30));
        }
        sleep_ms(20);
    }
    assert_int_equal(kill(up, SIGINT), 0);
    int st;
    assert_int_equal(waitpid(up, &st, 0), up);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    uint64_t at = progress_of(f, "monitor");
    assert_true(at < TOTAL_BARS); /* stopped mid-run */
    /* No process of the run is left: nothing moves any more. */
    sleep_ms(500);
    assert_true(progress_of(f, "monitor") == at);
    char *err = tbt_read_in(f->dir, "up1.err");
    assert_non_null(strstr(err, "up --resume"));
    free(err);
    int code = tbt_run_cli(f->dir, NULL,
                           "up --resume --config run.ini --set bus.name=%s --out dist", f->run);
    if (code != 0) {
        char *out = tbt_read_in(f->dir, "stdout.txt");
        fail_msg("up --resume exited %d:\n%s", code, out ? out : "");
    }
    assert_same_as_embedded(f);
    assert_each_order_once(f);
}

/* The state letter and parent of process pid from /proc/<pid>/stat: 0, or
 * -1 if it is gone. "pid (comm) state ppid ...": comm may hold spaces and
 * parentheses, so the fields are read after the last ')'. */
static int proc_stat(const char *pid, char *st, long *ppid)
{
    char p[300], buf[1024];
    snprintf(p, sizeof(p), "/proc/%s/stat", pid);
    FILE *fp = fopen(p, "r");
    if (!fp) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    return rp && sscanf(rp + 1, " %c %ld", st, ppid) == 2 ? 0 : -1;
}

/* Calls fn(pid, ctx) for every process whose parent is parent and which is
 * not a zombie. */
static void each_child(pid_t parent, void (*fn)(const char *pid, void *ctx), void *ctx)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char st;
        long ppid;
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        if (proc_stat(e->d_name, &st, &ppid) == 0 && ppid == (long)parent && st != 'Z' && st != 'X')
            fn(e->d_name, ctx);
    }
    if (d) closedir(d);
}

typedef struct {
    const char *what;
    int found, kids;
} cmdline_search;

static void search_cmdline(const char *pid, void *ctx)
{
    cmdline_search *s = ctx;
    char p[300], buf[8192];
    snprintf(p, sizeof(p), "/proc/%s/cmdline", pid);
    FILE *fp = fopen(p, "r");
    if (!fp) return;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    if (!n) return; /* it just ended */
    buf[n] = 0;
    /* Between fork and exec a child still shows up's own command line. */
    const char *arg1 = buf + strlen(buf) + 1;
    if (arg1 < buf + n && !strcmp(arg1, "up")) return;
    s->kids++;
    for (size_t k = 0; k < n; k++)
        if (!buf[k]) buf[k] = ' ';
    if (strstr(buf, s->what)) s->found = 1;
}

/* Every child of pid whose command line holds what: 1, else 0; *kids
 * counts the children seen. */
static int child_cmdline_has(pid_t parent, const char *what, int *kids)
{
    cmdline_search s = {what, 0, 0};
    each_child(parent, search_cmdline, &s);
    *kids += s.kids;
    return s.found;
}

typedef struct {
    pid_t *pids;
    int n, max;
} pid_list;

static void add_pid(const char *pid, void *ctx)
{
    pid_list *l = ctx;
    if (l->n < l->max) l->pids[l->n++] = (pid_t)atol(pid);
}

/* The pids of pid's live children (zombies and exited ones left out). */
static int live_children(pid_t parent, pid_t *out, int max)
{
    pid_list l = {out, 0, max};
    each_child(parent, add_pid, &l);
    return l.n;
}

/* SIGKILL leaves `up` no chance to stop its children: they must end anyway
 * (the kernel tells them: a run never keeps trading unattended), and end
 * as from Ctrl-C, their state saved, not killed. Without PR_SET_PDEATHSIG
 * they would die too, but of SIGPIPE at their next line to up's pipe: so
 * the test adopts them (a subreaper gets the orphans of its descendants)
 * to see how each one ended. */
static void test_dist_up_children_end_when_up_is_killed(void **state)
{
    fixture *f = *state;
    name_run(f, "upkill");
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t up = start_up(f, "upk.log", "upk.err");
    for (int waited = 0; progress_of(f, "monitor") < AT_PCT(10); waited += 20) {
        if (waited > 60000) {
            kill(up, SIGKILL);
            fail_msg("the run did not reach bar %llu", (unsigned long long)AT_PCT(10));
        }
        sleep_ms(20);
    }
    pid_t kids[32];
    int n = live_children(up, kids, 32);
    assert_true(n >= 6); /* the six components */
    assert_int_equal(kill(up, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(up, &st, 0), up);
    char why[512] = "";
    for (int i = 0; i < n; i++) {
        pid_t w = 0;
        for (int waited = 0; (w = waitpid(kids[i], &st, WNOHANG)) == 0; waited += 50) {
            if (waited > 15000) break;
            sleep_ms(50);
        }
        size_t len = strlen(why);
        if (w != kids[i])
            snprintf(why + len, sizeof(why) - len, "child %ld still runs after 15 s; ",
                     (long)kids[i]);
        else if (WIFSIGNALED(st))
            snprintf(why + len, sizeof(why) - len, "child %ld was killed by signal %d; ",
                     (long)kids[i], WTERMSIG(st));
        else if (WEXITSTATUS(st) != 130)
            snprintf(why + len, sizeof(why) - len, "child %ld exited %d; ", (long)kids[i],
                     WEXITSTATUS(st));
    }
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    if (why[0]) {
        for (int k = 0; k < n; k++)
            if (kill(kids[k], SIGKILL) == 0) waitpid(kids[k], NULL, 0);
        char *out = tbt_read_in(f->dir, "upk.log");
        fail_msg("after SIGKILL of up, each child must stop as from Ctrl-C (exit 130): %s\n%s", why,
                 out ? out : "");
    }
}

/* `up` used to hand its children at most 31 --set/--data pairs (silently
 * running another config than the one it checked) and to copy each value
 * into every child's command line, where `ps` shows a password. The config
 * here says fee_bps = 99; the last of 42 --set puts back 7.5: the run must
 * equal the embedded one, and no child's command line holds the value. */
static void test_dist_up_passes_every_set_and_none_on_a_command_line(void **state)
{
    fixture *f = *state;
    name_run(f, "sets");
    char *ini = tbt_read_in(f->dir, "run.ini"), path[1024];
    char *fee = strstr(ini, "fee_bps = 7.5\n");
    assert_non_null(fee);
    memcpy(fee, "fee_bps = 99 \n", 14);
    tbt_write_file(f->dir, "run-fee.ini", ini, path, sizeof(path));
    free(ini);
    pid_t up = fork();
    assert_true(up >= 0);
    if (up == 0) {
        char set[128];
        snprintf(set, sizeof(set), "bus.name=%s", f->run);
        const char *argv[120];
        int n = 0;
        argv[n++] = TB_BINARY;
        argv[n++] = "up";
        argv[n++] = "--config";
        argv[n++] = "run-fee.ini";
        argv[n++] = "--set";
        argv[n++] = set;
        for (int i = 0; i < 40; i++) {
            argv[n++] = "--set";
            argv[n++] = "risk.max_open_orders=10";
        }
        argv[n++] = "--set";
        argv[n++] = "exchange.fee_bps=7.50000000";
        argv[n++] = "--out";
        argv[n++] = "dist";
        argv[n] = NULL;
        if (chdir(f->dir) != 0 || !freopen("up.log", "w", stdout) ||
            !freopen("up.err", "w", stderr))
            _exit(126);
        execv(TB_BINARY, (char **)argv);
        _exit(127);
    }
    int kids = 0, leaked = 0, st;
    for (int waited = 0; waitpid(up, &st, WNOHANG) == 0; waited += 20) {
        if (waited > 120000) {
            kill(up, SIGKILL);
            fail_msg("tradebus up did not finish in 120 s");
        }
        leaked |= child_cmdline_has(up, "7.50000000", &kids);
        sleep_ms(20);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *err = tbt_read_in(f->dir, "up.err");
        fail_msg("tradebus up ended with status %d:\n%s", st, err ? err : "");
    }
    assert_true(kids > 0); /* the children were looked at */
    assert_false(leaked);
    assert_same_as_embedded(f);
    /* The file that carried the values is gone with the run. */
    char args[700];
    snprintf(args, sizeof(args), "%s/state/%s-up.args", f->dir, f->run);
    assert_int_equal(access(args, F_OK), -1);
}

/* Runs `tradebus ARGS` until its stdout holds want (or 20 s pass). */
static char *cli_until(fixture *f, const char *want, const char *args)
{
    for (int waited = 0;; waited += 200) {
        assert_int_equal(tbt_run_cli(f->dir, NULL, "%s", args), 0);
        char *out = tbt_read_in(f->dir, "stdout.txt");
        if (strstr(out, want)) return out;
        if (waited > 20000) fail_msg("`tradebus %s` never said '%s':\n%s", args, want, out);
        free(out);
        sleep_ms(200);
    }
}

/* A fill for a strategy the config does not have: the positions process
 * refuses it until the limit, RabbitMQ dead-letters it, the run goes on; the
 * fix (the strategy added, the process restarted with
 * --accept-config-change) and `dlq replay` bring it through. */
static void test_dist_dead_letter_replayed_after_a_fix_goes_through(void **state)
{
    fixture *f = *state;
    name_run(f, "fix");
    f->feed_rate = "80"; /* a run long enough to fix it while it goes on */
    for (int i = 0; i < NPROC; i++)
        f->pid[i] = spawn_role(f, i);
    for (int waited = 0; progress_of(f, "monitor") < AT_PCT(2); waited += 20) {
        if (waited > 60000) {
            tail_logs(f);
            fail_msg("the run did not start");
        }
        sleep_ms(20);
    }
    tb_event ev;
    tb_event_init(&ev, TB_EV_ORDER_FILLED, TB_SRC_EXCHANGE);
    ev.event_id = ev.correlation_id = ((uint64_t)9 << 48) | 1; /* node 9: another system */
    ev.timestamp = 1704067500000000000LL;
    tb_order_filled *fl = &ev.u.order_filled;
    snprintf(fl->order_id, sizeof(fl->order_id), "EXT-1");
    snprintf(fl->client_order_id, sizeof(fl->client_order_id), "manual-1");
    snprintf(fl->strategy_id, sizeof(fl->strategy_id), "manual");
    snprintf(fl->symbol, sizeof(fl->symbol), "BTCUSDT");
    fl->side = TB_SIDE_BUY;
    fl->filled_quantity = fl->cumulative_quantity = tbt_dec("0.5");
    fl->filled_price = fl->average_price = tbt_dec("42000");
    fl->status = TB_ORDER_FILLED;
    fl->trade_id = 1;
    char body[2048], queue[128], id[32];
    int len = tb_codec_encode(&ev, body, sizeof(body));
    assert_true(len > 0);
    snprintf(queue, sizeof(queue), "%s.positions", f->run);
    snprintf(id, sizeof(id), "%llu", (unsigned long long)ev.event_id);
    tb_amqp_options o;
    memset(&o, 0, sizeof(o));
    o.url = f->url;
    o.run = f->run;
    tb_transport *t;
    char err[512] = "";
    if (tb_amqp_transport_create(&o, &t, err, sizeof(err)) != 0) fail_msg("%s", err);
    tb_msg_out m = {"OrderFilled.BTCUSDT", id, "OrderFilled", NULL, NULL, queue, body, (size_t)len};
    assert_int_equal(tb_transport_publish(t, &m), 0);
    assert_int_equal(tb_transport_flush(t, 10000), 0);
    tb_transport_destroy(t);

    char args[512];
    snprintf(args, sizeof(args), "dlq list --config run.ini --set bus.name=%s", f->run);
    char *out = cli_until(f, id, args);
    assert_non_null(strstr(out, "positions"));
    assert_non_null(strstr(out, "delivery_limit"));
    free(out);
    uint64_t at = progress_of(f, "monitor");
    fprintf(stderr, "the dead letter listed at bar %llu of %d\n", (unsigned long long)at,
            TOTAL_BARS);
    assert_true(at < TOTAL_BARS); /* the run went on meanwhile */

    /* The fix: the positions process learns the strategy. */
    static const char *const fix[] = {"--set",
                                      "strategy.manual.type=sma_cross",
                                      "--set",
                                      "strategy.manual.symbol=BTCUSDT",
                                      "--set",
                                      "strategy.manual.quantity=0.5",
                                      "--accept-config-change",
                                      NULL};
    int pos = 2;
    assert_int_equal(kill(f->pid[pos], SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(f->pid[pos], &st, 0), f->pid[pos]);
    f->extra[pos] = fix;
    f->pid[pos] = spawn_role(f, pos);
    snprintf(args, sizeof(args), "dlq replay --all --config run.ini --set bus.name=%s", f->run);
    assert_int_equal(tbt_run_cli(f->dir, NULL, "%s", args), 0);
    out = tbt_read_in(f->dir, "stdout.txt");
    assert_non_null(strstr(out, "positions: 1 message back in its queue"));
    free(out);
    wait_all(f, 180);

    char *summary = tbt_read_in(f->dir, "dist/summary.json");
    assert_non_null(strstr(summary, "\"strategy_id\": \"manual\", \"symbol\": \"BTCUSDT\", "
                                    "\"quantity\": \"0.5\""));
    free(summary);
    char *log = tbt_read_in(f->dir, "positions.log");
    assert_non_null(strstr(log, "without a run key handled"));
    free(log);
    /* the rest of the run is untouched: the same fills as embedded */
    char *a = tbt_read_in(f->dir, "emb/fills.csv"), *b = tbt_read_in(f->dir, "dist/fills.csv");
    assert_string_equal(a, b);
    free(a);
    free(b);
    snprintf(args, sizeof(args), "dlq list --config run.ini --set bus.name=%s", f->run);
    assert_int_equal(tbt_run_cli(f->dir, NULL, "%s", args), 0);
    out = tbt_read_in(f->dir, "stdout.txt");
    assert_non_null(strstr(out, "0 dead letters"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dist_up_writes_what_backtest_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_a_stalled_run_names_the_missing_process, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_up_children_end_when_up_is_killed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dist_up_passes_every_set_and_none_on_a_command_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_each_process_killed_and_restarted_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_broker_restart_mid_run_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_dist_poison_message_is_dead_lettered_and_the_run_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_dead_letter_replayed_after_a_fix_goes_through,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dist_up_interrupted_then_resumed_changes_nothing,
                                        setup, teardown),
    };
    /* TB_TEST_FILTER=test_dist_up_* runs only the tests it names. */
    if (getenv("TB_TEST_FILTER")) cmocka_set_test_filter(getenv("TB_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
