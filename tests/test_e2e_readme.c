/* The README's "A tour of the CLI" runs as written: every command of that
 * block, in order, from a directory holding the bundled examples/ and data/,
 * must exit 0. A README that drifts from the program fails here. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "tb_test_cli.h"
#include "tb_test_support.h"

/* The tour's commands: continuation lines joined, comments cut. */
static size_t tour_commands(char *readme, char **cmds, size_t max)
{
    char *block = strstr(readme, "## A tour of the CLI");
    assert_non_null(block);
    block = strstr(block, "```sh\n");
    assert_non_null(block);
    block += 6;
    char *end = strstr(block, "```");
    assert_non_null(end);
    *end = 0;
    size_t n = 0;
    char cmd[4096] = "";
    for (char *line = strtok(block, "\n"); line; line = strtok(NULL, "\n")) {
        char *hash = strstr(line, "  #"); /* a comment after the command */
        if (hash) *hash = 0;
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ')
            line[--len] = 0;
        int more = len && line[len - 1] == '\\';
        if (more) line[--len] = 0;
        strncat(cmd, line, sizeof(cmd) - strlen(cmd) - 1);
        if (more) continue;
        assert_true(n < max);
        assert_true(strncmp(cmd, "tradebus ", 9) == 0);
        cmds[n++] = strdup(cmd + 9);
        cmd[0] = 0;
    }
    return n;
}

static void test_readme_tour_runs_as_written(void **state)
{
    (void)state;
    char *readme = tbt_read_file(TB_SOURCE_DIR "/README.md");
    assert_non_null(readme);
    char *cmds[64];
    size_t n = tour_commands(readme, cmds, 64);
    assert_true(n >= 15);
    char dir[512], cmd[2048];
    tbt_temp_dir(dir, sizeof(dir));
    snprintf(cmd, sizeof(cmd),
             "ln -s '%s/examples' '%s/examples' && ln -s '%s/data' '%s/data' && mkdir '%s/out'",
             TB_SOURCE_DIR, dir, TB_SOURCE_DIR, dir, dir);
    assert_int_equal(system(cmd), 0);
    for (size_t i = 0; i < n; i++) {
        char *err = NULL;
        int code = tbt_run_cli(dir, &err, "%s", cmds[i]);
        if (code != 0) fail_msg("README tour: `tradebus %s` exited %d:\n%s", cmds[i], code, err);
        free(err);
        free(cmds[i]);
    }
    /* and they did what the comments say */
    char *summary = tbt_read_in(dir, "out/summary.json"),
         *report = tbt_read_in(dir, "out/report.html");
    assert_non_null(summary);
    assert_non_null(report);
    assert_non_null(strstr(report, "<svg"));
    char *prom = tbt_read_in(dir, "out/metrics.prom");
    assert_non_null(prom);
    assert_non_null(strstr(prom, "# TYPE"));
    free(summary);
    free(report);
    free(prom);
    free(readme);
    tbt_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_tour_runs_as_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
