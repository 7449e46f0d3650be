/* Helpers for end-to-end tests that run the tradebus binary as a user does. */
#ifndef TB_TEST_CLI_H
#define TB_TEST_CLI_H

/* Runs "tradebus ARGS" with dir as the working directory; stdout goes to
 * dir/stdout.txt, stderr to dir/stderr.txt. Returns the exit code (-1 if it
 * did not exit). If err_out is not NULL, *err_out is stderr (free it). */
int tbt_run_cli(const char *dir, char **err_out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Runs the shell command fmt (printf-style) with dir as the working
 * directory, its output where the command sends it. Returns its exit code,
 * -1 if it did not exit. */
int tbt_sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The whole file as a NUL-terminated string (free it), or NULL. */
char *tbt_read_file(const char *path);
/* dir/name read whole (free it), or NULL. */
char *tbt_read_in(const char *dir, const char *name);
/* Removes dir and everything below it. */
void tbt_remove_tree(const char *dir);
/* Deletes what distributed run `run` has on its broker — every process's
 * queue and dead-letter queue, with their messages, and the run's exchanges:
 * what `tradebus up` deletes before a fresh run. The run is dir/config with
 * the assignments in sets (NULL-terminated, or NULL) and [bus] name = run,
 * as --set gives them. 0, or -1 with the reason on stderr. Why: a broker
 * restart recovers every quorum queue left on it (seconds per hundred), so
 * tests that share a broker and restart it stay quick only if each finished
 * run leaves nothing behind. */
int tbt_delete_run(const char *dir, const char *config, const char *const *sets, const char *run);

/* Eleven 1-minute BTCUSDT bars in Binance format, closes
 * 10,10,10,10,12,14,16,14,10,8,8, each opening at the previous close except
 * bar 5 (12.5) and bar 9 (9.5): sma_cross(2,3) buys on bar 4's close, fills
 * at 12.5, sells on bar 8's close, fills at 9.5 — realized −3, fees 0.022 at
 * 10 bps. */
extern const char *const tbt_staircase_csv;

#endif
