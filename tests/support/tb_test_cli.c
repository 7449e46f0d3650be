#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tb_test_cli.h"

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
    if (buf) buf[n] = 0;
    return buf;
}

char *tbt_read_in(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return tbt_read_file(p);
}

int tbt_run_cli(const char *dir, char **err_out, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    /* TB_CLI_WRAPPER (e.g. "valgrind -q --error-exitcode=99 ...") runs the
     * binary under a checker: `make valgrind` uses it so every end-to-end
     * test doubles as a memory-error and leak test of the real program. */
    const char *wrapper = getenv("TB_CLI_WRAPPER");
    snprintf(cmd, sizeof(cmd), "cd %s && %s%s%s %s >stdout.txt 2>stderr.txt", dir,
             wrapper ? wrapper : "", wrapper ? " " : "", TB_BINARY, args);
    int st = system(cmd);
    if (err_out) *err_out = tbt_read_in(dir, "stderr.txt");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tbt_remove_tree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
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
