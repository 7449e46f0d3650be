/* Secrets: loading from the environment and from private files, refusing
 * everything else without ever printing a value, wiping, redaction — and,
 * end to end, a run of the tradebus binary with known secrets whose every
 * output (stdout, stderr, every file it writes, --help) is searched for
 * them. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_test_support.h"

#include "tb_test_cli.h"
#include "tradebus/secret.h"

/* Distinctive values: no output could contain them by chance. */
#define ENV_SECRET  "tbEnvS3cret-Qz7Lm2Pw4Kr8"
#define FILE_SECRET "tbFileS3cret-Xv9Tn5Hc3Jd6"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    tbt_temp_dir(dir, sizeof dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbt_remove_tree(dir);
    return 0;
}

/* Writes content to dir/name with the given mode (chmod after creation, so
 * the umask cannot loosen or tighten it). */
static void write_mode(const char *name, const char *content, size_t len, mode_t mode, char *path,
                       size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(content, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void assert_wiped(const tb_secret *s)
{
    static const tb_secret zero;
    assert_memory_equal(s, &zero, sizeof zero);
}

/* ---- the environment ------------------------------------------------------ */

static void test_secret_from_env(void **state)
{
    (void)state;
    assert_int_equal(setenv("TB_TEST_SECRET_UNIT", ENV_SECRET, 1), 0);
    tb_secret s;
    char err[256];
    assert_int_equal(tb_secret_load(&s, "env:TB_TEST_SECRET_UNIT", err, sizeof err), 0);
    assert_string_equal(s.value, ENV_SECRET);
    assert_int_equal(s.len, strlen(ENV_SECRET));
    assert_string_equal(err, "");
    tb_secret_wipe(&s);
    assert_wiped(&s);
    unsetenv("TB_TEST_SECRET_UNIT");
}

static void test_secret_missing_env_names_the_variable(void **state)
{
    (void)state;
    unsetenv("TB_TEST_SECRET_ABSENT");
    tb_secret s;
    memset(&s, 'x', sizeof s); /* a stale value must not survive the error */
    char err[256];
    assert_int_equal(tb_secret_load(&s, "env:TB_TEST_SECRET_ABSENT", err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "TB_TEST_SECRET_ABSENT"));
    assert_non_null(strstr(err, "not set"));
    assert_wiped(&s);

    assert_int_equal(setenv("TB_TEST_SECRET_EMPTY", "", 1), 0);
    assert_int_equal(tb_secret_load(&s, "env:TB_TEST_SECRET_EMPTY", err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "TB_TEST_SECRET_EMPTY is empty"));
    unsetenv("TB_TEST_SECRET_EMPTY");
}

/* A key pasted where its location belongs must never be echoed back. */
static void test_secret_bad_spec_is_not_echoed(void **state)
{
    (void)state;
    /* The pasted key itself, behind "env:", and empty or unknown prefixes. */
    static const char *const bad[] = {
        ENV_SECRET, ("env:" ENV_SECRET), "env:", "file:", "ENV:HOME", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb_secret s;
        char err[256];
        assert_int_equal(tb_secret_load(&s, bad[i], err, sizeof err), TB_ECONFIG);
        assert_int_equal(tb_secret_spec_check(bad[i], NULL, 0), TB_ECONFIG);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, ENV_SECRET));
        assert_wiped(&s);
    }
    char err[256];
    assert_int_equal(tb_secret_spec_check(ENV_SECRET, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "env:NAME or file:PATH"));
    assert_int_equal(tb_secret_spec_check("env:EXCHANGE_KEY_1", err, sizeof err), 0);
    assert_int_equal(tb_secret_spec_check("file:/run/secrets/key", err, sizeof err), 0);
    assert_int_equal(tb_secret_load(NULL, "env:HOME", err, sizeof err), TB_EINVAL);
}

/* ---- files ------------------------------------------------------------------ */

static void test_secret_from_private_file(void **state)
{
    (void)state;
    char path[600], spec[620];
    tb_secret s;
    char err[256];
    /* The newline an editor or `echo` leaves is not part of the key. */
    write_mode("key", FILE_SECRET "\n", strlen(FILE_SECRET) + 1, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), 0);
    assert_string_equal(s.value, FILE_SECRET);
    assert_int_equal(s.len, strlen(FILE_SECRET));

    write_mode("key-crlf", FILE_SECRET "\r\n", strlen(FILE_SECRET) + 2, 0400, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), 0);
    assert_string_equal(s.value, FILE_SECRET);

    /* Mounted secrets are usually symlinks: the target's mode counts. */
    char link[600];
    snprintf(link, sizeof link, "%s/key-link", dir);
    assert_int_equal(symlink(path, link), 0);
    snprintf(spec, sizeof spec, "file:%s", link);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), 0);
    assert_string_equal(s.value, FILE_SECRET);
    tb_secret_wipe(&s);
}

static void test_secret_group_readable_file_is_refused(void **state)
{
    (void)state;
    static const mode_t loose[] = {0640, 0604, 0620, 0644, 0660, 0610};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        char path[600], spec[620], name[32], want[700];
        snprintf(name, sizeof name, "loose-%04o", (unsigned)loose[i]);
        write_mode(name, FILE_SECRET, strlen(FILE_SECRET), loose[i], path, sizeof path);
        snprintf(spec, sizeof spec, "file:%s", path);
        tb_secret s;
        char err[1024];
        assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
        /* Why, and how to fix it. */
        assert_non_null(strstr(err, "group or others"));
        snprintf(want, sizeof want, "mode %04o", (unsigned)loose[i]);
        assert_non_null(strstr(err, want));
        snprintf(want, sizeof want, "chmod 600 %s", path);
        assert_non_null(strstr(err, want));
        assert_null(strstr(err, FILE_SECRET));
        assert_wiped(&s);
    }
}

/* A 0600 file that belongs to another user is theirs to swap: refused as
 * ssh refuses such a key. Making one needs root (chown); elsewhere the
 * test is skipped. */
static void test_secret_file_owned_by_another_user_is_refused(void **state)
{
    (void)state;
    if (geteuid() != 0) skip();
    char path[600], spec[620], err[1024];
    write_mode("theirs", FILE_SECRET, strlen(FILE_SECRET), 0600, path, sizeof path);
    assert_int_equal(chown(path, 65534, 65534), 0);
    snprintf(spec, sizeof spec, "file:%s", path);
    tb_secret s;
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "owned by uid 65534"));
    assert_non_null(strstr(err, path));
    assert_null(strstr(err, FILE_SECRET));
    assert_wiped(&s);
    /* Given back to us, the same file is accepted. */
    assert_int_equal(chown(path, geteuid(), getegid()), 0);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), 0);
    assert_string_equal(s.value, FILE_SECRET);
    tb_secret_wipe(&s);
}

static void test_secret_file_problems_are_explained(void **state)
{
    (void)state;
    char path[600], spec[620], err[1024];
    tb_secret s;

    snprintf(spec, sizeof spec, "file:%s/absent", dir);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "absent: cannot open"));

    snprintf(spec, sizeof spec, "file:%s", dir);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "not a regular file"));

    /* A FIFO is refused at once, not waited on. */
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "not a regular file"));

    write_mode("empty", "\n", 1, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "is empty"));

    write_mode("nul", "ab\0cd", 5, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "NUL byte"));
    assert_wiped(&s);
}

static void test_secret_file_length_limit(void **state)
{
    (void)state;
    static char big[TB_SECRET_MAX + 8];
    char path[600], spec[620], err[1024];
    tb_secret s;
    /* The longest accepted secret, with its newline. */
    memset(big, 'k', TB_SECRET_MAX - 1);
    big[TB_SECRET_MAX - 1] = '\n';
    write_mode("longest", big, TB_SECRET_MAX, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), 0);
    assert_int_equal(s.len, TB_SECRET_MAX - 1);
    /* One byte more is refused, never cut short. */
    memset(big, 'k', TB_SECRET_MAX);
    write_mode("too-long", big, TB_SECRET_MAX, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
    assert_non_null(strstr(err, "too long"));
    assert_null(strstr(err, "kkkk"));
    assert_wiped(&s);
    /* Trailing newlines do not hide a long tail. */
    memset(big, 'k', TB_SECRET_MAX - 1);
    memcpy(big + TB_SECRET_MAX - 1, "\n\n\nTAIL", 7);
    write_mode("tail", big, TB_SECRET_MAX + 6, 0600, path, sizeof path);
    snprintf(spec, sizeof spec, "file:%s", path);
    assert_int_equal(tb_secret_load(&s, spec, err, sizeof err), TB_ECONFIG);
}

static void test_secret_wipe_zeroes_everything(void **state)
{
    (void)state;
    tb_secret s;
    memset(&s, 0xA5, sizeof s);
    tb_secret_wipe(&s);
    assert_wiped(&s);
    tb_secret_wipe(NULL);
}

/* ---- redaction ---------------------------------------------------------------- */

static tb_secret make(const char *v)
{
    tb_secret s;
    memset(&s, 0, sizeof s);
    s.len = strlen(v);
    memcpy(s.value, v, s.len + 1);
    return s;
}

static void test_secret_redact_replaces_every_occurrence(void **state)
{
    (void)state;
    tb_secret a = make("KEY123"), b = make("pw"), empty = make("");
    const tb_secret *const both[] = {&a, NULL, &empty, &b};
    char out[128];
    assert_int_equal(
        tb_secret_redact("401 for key=KEY123&sig=pw; KEY123KEY123 pw!", both, 4, out, sizeof out),
        (int)strlen("401 for key=***&sig=***; ****** ***!"));
    assert_string_equal(out, "401 for key=***&sig=***; ****** ***!");
    /* Nothing to redact: a plain copy. */
    assert_int_equal(tb_secret_redact("no secrets here", both, 4, out, sizeof out), 15);
    assert_string_equal(out, "no secrets here");
    assert_int_equal(tb_secret_redact("KEY123", NULL, 0, out, sizeof out), 6);
    assert_string_equal(out, "KEY123");
    /* The longest secret at a position wins: no tail of it is left. */
    tb_secret shorter = make("KEY"), longer = make("KEY123");
    const tb_secret *const overlap[] = {&shorter, &longer};
    assert_int_equal(tb_secret_redact("xKEY123y KEYz", overlap, 2, out, sizeof out), 10);
    assert_string_equal(out, "x***y ***z");
    assert_int_equal(tb_secret_redact(NULL, both, 4, out, sizeof out), TB_EINVAL);
    assert_int_equal(tb_secret_redact("x", both, 4, out, 0), TB_EINVAL);
}

static void test_secret_redact_truncates_safely(void **state)
{
    (void)state;
    tb_secret a = make("SECRETVALUE");
    const tb_secret *const one[] = {&a};
    char out[8];
    /* "ab***cd": cut to fit, but the mask is all or nothing and the secret
     * never leaks through the cut. */
    assert_int_equal(tb_secret_redact("ab SECRETVALUE cd", one, 1, out, sizeof out), TB_EFULL);
    assert_string_equal(out, "ab *** ");
    assert_int_equal(tb_secret_redact("abcdeSECRETVALUE", one, 1, out, sizeof out), TB_EFULL);
    assert_string_equal(out, "abcde");
    assert_int_equal(tb_secret_redact("SECRETVALUE", one, 1, out, 4), 3);
    assert_string_equal(out, "***");
}

/* ---- end to end: the binary never shows a secret -------------------------------- */

/* Fails the test if needle occurs in the len bytes of hay (binary-safe:
 * covers SQLite files as well as text). */
static void assert_absent_in(const char *what, const char *hay, size_t len, const char *needle)
{
    if (memmem(hay, len, needle, strlen(needle)) != NULL)
        fail_msg("the secret %s appears in %s", needle, what);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Every file under root (recursively) except the inputs in root/in, where
 * the test keeps what it wrote itself. Returns the number of files read. */
static int scan_tree(const char *root, int depth)
{
    DIR *d = opendir(root);
    if (!d) fail_msg("cannot list %s", root);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (depth == 0 && strcmp(e->d_name, "in") == 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            files += scan_tree(path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            size_t len;
            char *buf = read_all(path, &len);
            assert_absent_in(path, buf, len, ENV_SECRET);
            assert_absent_in(path, buf, len, FILE_SECRET);
            free(buf);
            files++;
        }
    }
    closedir(d);
    return files;
}

/* Runs the binary, then searches everything it could have written. */
#define run_and_scan(rc_out, err_out, ...)                                                         \
    do {                                                                                           \
        *(rc_out) = tbt_run_cli(dir, err_out, __VA_ARGS__);                                        \
        scan_tree(dir, 0);                                                                         \
    } while (0)

static const char *const e2e_config = "[backtest]\n"
                                      "data = in/BTCUSDT-1m-2024-01.csv\n"
                                      "[exchange]\n"
                                      "fee_bps = 10\n"
                                      "[strategy.s1]\n"
                                      "type = sma_cross\n"
                                      "symbol = BTCUSDT\n"
                                      "fast = 2\n"
                                      "slow = 3\n"
                                      "quantity = 1\n";

static void test_e2e_secret_never_appears_in_any_output(void **state)
{
    (void)state;
    char in[600], path[700], key[700], loose[700];
    snprintf(in, sizeof in, "%s/in", dir);
    assert_int_equal(mkdir(in, 0700), 0);
    tbt_write_file(in, "BTCUSDT-1m-2024-01.csv", tbt_staircase_csv, path, sizeof path);
    tbt_write_file(in, "bt.ini", e2e_config, path, sizeof path);
    /* A row with high < low: the run fails on bad data (exit 3). */
    tbt_write_file(in, "BTCUSDT-bad.csv",
                   "1704067200000,10,10,10,10,5,1704067259999,50,1,0,0,0\n"
                   "1704067260000,10,9,11,10,5,1704067319999,50,1,0,0,0\n",
                   path, sizeof path);
    snprintf(path, sizeof path, "%s/literal.ini", in);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s[exchange]\napi_key = %s\n", e2e_config, ENV_SECRET);
    fclose(f);
    snprintf(key, sizeof key, "%s/in/key", dir);
    f = fopen(key, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", FILE_SECRET);
    fclose(f);
    assert_int_equal(chmod(key, 0600), 0);
    snprintf(loose, sizeof loose, "%s/in/loose-key", dir);
    f = fopen(loose, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", FILE_SECRET);
    fclose(f);
    assert_int_equal(chmod(loose, 0644), 0);
    assert_int_equal(setenv("TB_TEST_SECRET", ENV_SECRET, 1), 0);
    unsetenv("TB_TEST_SECRET_MISSING");

    int rc;
    char *err = NULL;
    /* Help never needs a secret, but it is an output too. */
    static const char *const help[] = {"help",
                                       "--help",
                                       "help backtest",
                                       "backtest --help",
                                       "help parity",
                                       "help indicators",
                                       "parity --help",
                                       "version",
                                       ""};
    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++)
        run_and_scan(&rc, NULL, "%s", help[i]);

    run_and_scan(&rc, &err,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--out o-probe --quiet");
    assert_int_equal(rc, 0);
    free(err);

    /* A full run with both secrets (and a journal, once there is one): the
     * secrets must not reach the summary, fills, events or journal. */
    run_and_scan(&rc, &err,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--set exchange.api_secret=file:%s --set journal.path=run.db --out o-ok",
                 key);
    if (rc != 0) fail_msg("the run with secrets failed (%d): %s", rc, err ? err : "");
    free(err);
    size_t len;
    snprintf(path, sizeof path, "%s/o-ok/events.jsonl", dir);
    free(read_all(path, &len)); /* the run wrote its outputs: the scan saw them */
    assert_true(len > 0);

    /* The same keys from the config file. */
    snprintf(path, sizeof path, "%s/keys.ini", in);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s[exchange]\napi_key = env:TB_TEST_SECRET\napi_secret = file:%s\n", e2e_config,
            key);
    fclose(f);
    run_and_scan(&rc, NULL, "backtest --config in/keys.ini --out o-ini");
    assert_int_equal(rc, 0);

    /* A secret file others can read: refused, with the fix. */
    run_and_scan(&rc, &err,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--set exchange.api_secret=file:%s --out o-loose",
                 loose);
    assert_int_equal(rc, 2);
    assert_non_null(err);
    assert_non_null(strstr(err, "chmod 600"));
    free(err);

    /* An unset variable: named, no value to show. */
    run_and_scan(&rc, &err,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET_MISSING "
                 "--out o-missing");
    assert_int_equal(rc, 2);
    assert_non_null(err);
    assert_non_null(strstr(err, "TB_TEST_SECRET_MISSING"));
    free(err);

    /* The key itself where its location belongs, on the command line and
     * in the file: refused, and not echoed. */
    run_and_scan(&rc, NULL, "backtest --config in/bt.ini --set exchange.api_key=%s --out o-lit",
                 ENV_SECRET);
    assert_int_equal(rc, 2);
    run_and_scan(&rc, NULL, "backtest --config in/literal.ini --out o-lit2");
    assert_int_equal(rc, 2);

    /* Failures elsewhere while the secrets are loaded. */
    run_and_scan(&rc, NULL,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--set exchange.api_secret=file:%s --data in/BTCUSDT-bad.csv --out o-bad",
                 key);
    assert_int_equal(rc, 3);
    run_and_scan(&rc, NULL,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--set strategy.s1.fast=9 --out o-param");
    assert_int_equal(rc, 2);
    run_and_scan(&rc, NULL,
                 "backtest --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--no-such-option");
    assert_int_equal(rc, 2);
    run_and_scan(&rc, NULL,
                 "parity --config in/bt.ini --set exchange.api_key=env:TB_TEST_SECRET "
                 "--set exchange.api_secret=file:%s --out o-parity",
                 key);
    assert_int_equal(rc, 0);
    unsetenv("TB_TEST_SECRET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secret_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_missing_env_names_the_variable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_bad_spec_is_not_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_from_private_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_group_readable_file_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_owned_by_another_user_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_problems_are_explained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_file_length_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_wipe_zeroes_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_redact_replaces_every_occurrence, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secret_redact_truncates_safely, setup, teardown),
        cmocka_unit_test_setup_teardown(test_e2e_secret_never_appears_in_any_output, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
