#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"
#include "tradebus/config.h"
#include "tradebus/node.h"
#include "tradebus/transport.h"

char *tbt_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) fail_msg("out of memory reading %s", path);
    buf[n] = 0;
    return buf;
}

char *tbt_read_in(const char *dir, const char *name)
{
    char p[1024];
    int n = snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(p));
    return tbt_read_file(p);
}

int tbt_run_cli(const char *dir, char **err_out, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(args));
    /* TB_CLI_WRAPPER (e.g. "valgrind -q --error-exitcode=99 ...") runs the
     * binary under a checker: `make valgrind` uses it so every end-to-end
     * test doubles as a memory-error and leak test of the real program. */
    const char *wrapper = getenv("TB_CLI_WRAPPER");
    n = snprintf(cmd, sizeof(cmd), "cd %s && %s%s%s %s >stdout.txt 2>stderr.txt", dir,
                 wrapper ? wrapper : "", wrapper ? " " : "", TB_BINARY, args);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int st = system(cmd);
    /* No shell, or a binary killed by a signal (a crash): no exit code a
     * test could compare is meaningful, so the test fails here, loudly. */
    if (st == -1) fail_msg("could not run: %s", cmd);
    if (!WIFEXITED(st)) fail_msg("tradebus %s: killed by signal %d", args, WTERMSIG(st));
    if (err_out) *err_out = tbt_read_in(dir, "stderr.txt");
    return WEXITSTATUS(st);
}

int tbt_sh(const char *dir, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(args));
    n = snprintf(cmd, sizeof(cmd), "cd '%s' && %s", dir, args);
    assert_true(n > 0 && (size_t)n < sizeof(cmd));
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tbt_remove_tree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fail_msg("could not remove %s", dir);
}

int tbt_delete_run(const char *dir, const char *config, const char *const *sets, const char *run)
{
    char path[1024], set[256], err[512] = "";
    snprintf(path, sizeof(path), "%s/%s", dir, config);
    snprintf(set, sizeof(set), "bus.name=%s", run);
    tb_config cfg;
    tb_config_init(&cfg);
    int rc = tb_config_load(&cfg, path, err, sizeof(err));
    for (size_t i = 0; sets && sets[i] && !rc; i++)
        rc = tb_config_set(&cfg, sets[i], err, sizeof(err));
    if (rc || tb_config_set(&cfg, set, err, sizeof(err)) ||
        tb_config_build(&cfg, err, sizeof(err))) {
        tb_config_free(&cfg);
        fprintf(stderr, "deleting run %s: %s: %s\n", run, path, err);
        return -1;
    }
    char roles[TB_NODE_MAX_PROCS][TB_NODE_NAME_LEN];
    size_t n = tb_node_processes(&cfg, roles, TB_NODE_MAX_PROCS);
    /* A queue can only be deleted by name: one call per process, as `up`. */
    for (size_t i = 0; i < n && !rc; i++) {
        tb_transport_params tp;
        tb_config_transport_params(&cfg, roles[i], &tp);
        rc = tb_transport_delete_run(cfg.transport, &tp, err, sizeof(err));
    }
    tb_config_free(&cfg);
    if (rc) fprintf(stderr, "deleting run %s: %s\n", run, err);
    return rc ? -1 : 0;
}

const char *const tbt_staircase_csv = "1704067200000,10,10,10,10,5,1704067259999,50,1,0,0,0\n"
                                      "1704067260000,10,10,10,10,5,1704067319999,50,1,0,0,0\n"
                                      "1704067320000,10,10,10,10,5,1704067379999,50,1,0,0,0\n"
                                      "1704067380000,10,10,10,10,5,1704067439999,50,1,0,0,0\n"
                                      "1704067440000,10,12,10,12,5,1704067499999,50,1,0,0,0\n"
                                      "1704067500000,12.5,14,12,14,5,1704067559999,50,1,0,0,0\n"
                                      "1704067560000,14,16,14,16,5,1704067619999,50,1,0,0,0\n"
                                      "1704067620000,16,16,14,14,5,1704067679999,50,1,0,0,0\n"
                                      "1704067680000,14,14,10,10,5,1704067739999,50,1,0,0,0\n"
                                      "1704067740000,9.5,10,8,8,5,1704067799999,50,1,0,0,0\n"
                                      "1704067800000,8,8,8,8,5,1704067859999,50,1,0,0,0\n";
