/* Helpers for end-to-end tests that run the tradebus binary as a user does. */
#ifndef TB_TEST_CLI_H
#define TB_TEST_CLI_H

/* Runs "tradebus ARGS" with dir as the working directory; stdout goes to
 * dir/stdout.txt, stderr to dir/stderr.txt. Returns the exit code (-1 if it
 * did not exit). If err_out is not NULL, *err_out is stderr (free it). */
int tbt_run_cli(const char *dir, char **err_out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The whole file as a NUL-terminated string (free it), or NULL. */
char *tbt_read_file(const char *path);
/* dir/name read whole (free it), or NULL. */
char *tbt_read_in(const char *dir, const char *name);
/* Removes dir and everything below it. */
void tbt_remove_tree(const char *dir);

#endif
