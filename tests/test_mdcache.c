/* The binary cache of parsed market data (docs/data.md, "Cache"): a second
 * read loads the same bars and the same digests from it; a touched, changed,
 * corrupt or truncated cache is never trusted; cache = false reads and
 * writes none; a read-only data folder falls back to $XDG_CACHE_HOME; bad
 * rows count the same both ways; and tradebus backtest gives the same
 * summary with and without it. Also the reader's one-pass decimal
 * conversion against tb_dec_parse. */
#define _GNU_SOURCE

#include "tb_test_cli.h"
#include "tb_test_support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/feed/md_int.h"
#include "tradebus/marketdata.h"

#define NBARS 3000

typedef struct {
    tb_market_data *bars;
    uint64_t *lines, *hash; /* the digest after each bar */
    size_t n;
    uint64_t bad;
    int warnings;
    char first_warning[512];
} readout;

static void on_warn(const char *msg, void *ctx)
{
    readout *o = ctx;
    if (o->warnings++ == 0) snprintf(o->first_warning, sizeof o->first_warning, "%s", msg);
}

static void readout_free(readout *o)
{
    free(o->bars);
    free(o->lines);
    free(o->hash);
    memset(o, 0, sizeof *o);
}

/* Reads spec whole through a merge (the digest is the merge's) into o. */
static void read_all(const char *spec, int cache, int skip, readout *o)
{
    memset(o, 0, sizeof *o);
    tb_md_config mc;
    tb_md_config_init(&mc);
    mc.cache = cache;
    mc.on_bad_row = skip ? TB_BAD_ROW_SKIP : TB_BAD_ROW_FAIL;
    mc.warn = on_warn;
    mc.warn_ctx = o;
    tb_md_merge *m = NULL;
    char err[512] = "";
    const char *specs[1] = {spec};
    int rc = tb_md_merge_open(specs, 1, &mc, &m, err, sizeof err);
    if (rc) fail_msg("%s", err);
    size_t cap = NBARS + 8;
    o->bars = calloc(cap, sizeof *o->bars);
    o->lines = calloc(cap + 1, sizeof *o->lines);
    o->hash = calloc(cap + 1, sizeof *o->hash);
    assert_non_null(o->bars);
    tb_market_data b;
    const char *path;
    while ((rc = tb_md_merge_next(m, &b, err, sizeof err)) == 0) {
        assert_true(o->n < cap);
        memcpy(&o->bars[o->n], &b, sizeof b); /* padding too: byte-identical */
        assert_int_equal(tb_md_merge_digest(m, 0, &o->lines[o->n], &o->hash[o->n], &path), 0);
        o->n++;
    }
    if (rc != TB_EEOF) fail_msg("%s", err);
    assert_int_equal(tb_md_merge_digest(m, 0, &o->lines[o->n], &o->hash[o->n], &path), 0);
    o->bad = tb_md_merge_bad_rows(m);
    tb_md_merge_close(m);
}

static void assert_same(const readout *a, const readout *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->bars, b->bars, a->n * sizeof *a->bars);
    assert_memory_equal(a->lines, b->lines, (a->n + 1) * sizeof *a->lines);
    assert_memory_equal(a->hash, b->hash, (a->n + 1) * sizeof *a->hash);
    assert_int_equal(a->bad, b->bad);
    assert_int_equal(a->warnings, b->warnings);
    assert_string_equal(a->first_warning, b->first_warning);
}

typedef struct {
    char dir[128], csv[256], cache[300], xdg[128];
} fx;

static void gen(const char *csv, int seed)
{
    assert_int_equal(tbt_sh(".", "%s --bars %d --seed %d --price 42000 > %s 2>/dev/null",
                            TB_GENDATA, NBARS, seed, csv),
                     0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    tbt_temp_dir(f->dir, sizeof f->dir);
    tbt_temp_dir(f->xdg, sizeof f->xdg);
    /* Never the user's own cache folder. */
    setenv("XDG_CACHE_HOME", f->xdg, 1);
    snprintf(f->csv, sizeof f->csv, "%s/BTCUSDT-1m.csv", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/.BTCUSDT-1m.csv.tbcache", f->dir);
    gen(f->csv, 5);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    chmod(f->dir, 0700);
    tbt_remove_tree(f->dir);
    tbt_remove_tree(f->xdg);
    free(f);
    return 0;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Reads once with the cache (parsing, writing it) and returns the parse. */
static void first_read(fx *f, readout *parsed)
{
    assert_int_equal(access(f->cache, F_OK), -1);
    read_all(f->csv, 1, 0, parsed);
    assert_int_equal(parsed->n, NBARS);
    assert_int_equal(access(f->cache, F_OK), 0);
}

static void test_second_read_hits_cache(void **state)
{
    fx *f = *state;
    readout plain, parsed, cached;
    read_all(f->csv, 0, 0, &plain);
    first_read(f, &parsed);
    ino_t ino = inode_of(f->cache);
    read_all(f->csv, 1, 0, &cached);
    /* Not rewritten: the bars came from it. */
    assert_int_equal(inode_of(f->cache), ino);
    assert_same(&plain, &parsed);
    assert_same(&parsed, &cached);
    readout_free(&plain);
    readout_free(&parsed);
    readout_free(&cached);
}

static void test_touched_or_changed_file_is_parsed_again(void **state)
{
    fx *f = *state;
    readout parsed, again;
    first_read(f, &parsed);
    /* Touched: same bytes, new mtime: parsed again, cache rewritten. */
    ino_t ino = inode_of(f->cache);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1700000000, 123}};
    assert_int_equal(utimensat(AT_FDCWD, f->csv, ts, 0), 0);
    read_all(f->csv, 1, 0, &again);
    assert_int_not_equal(inode_of(f->cache), ino);
    assert_same(&parsed, &again);
    readout_free(&again);
    /* Changed with size and mtime kept (one digit swapped): only the
     * content hash tells, and the new bars come out. */
    char *text = tbt_read_file(f->csv);
    assert_non_null(text);
    char *p = strchr(text, ',') + 1; /* the first bar's open: 42000.00 */
    assert_int_equal(strncmp(p, "42000.00", 8), 0);
    p[6] = '5';
    FILE *w = fopen(f->csv, "w");
    fputs(text, w);
    fclose(w);
    free(text);
    assert_int_equal(utimensat(AT_FDCWD, f->csv, ts, 0), 0);
    ino = inode_of(f->cache);
    read_all(f->csv, 1, 0, &again);
    assert_int_not_equal(inode_of(f->cache), ino);
    assert_dec_equal(again.bars[0].open, "42000.5");
    assert_memory_equal(&again.bars[1], &parsed.bars[1], (NBARS - 1) * sizeof *parsed.bars);
    readout_free(&parsed);
    readout_free(&again);
}

static void check_rebuilt(fx *f, const readout *parsed)
{
    readout again, cached;
    read_all(f->csv, 1, 0, &again);
    assert_same(parsed, &again);
    /* Rebuilt: the next read loads it (no rewrite). */
    ino_t ino = inode_of(f->cache);
    read_all(f->csv, 1, 0, &cached);
    assert_int_equal(inode_of(f->cache), ino);
    assert_same(parsed, &cached);
    readout_free(&again);
    readout_free(&cached);
}

static void test_corrupt_cache_is_rebuilt(void **state)
{
    fx *f = *state;
    readout parsed;
    first_read(f, &parsed);
    struct stat st;
    assert_int_equal(stat(f->cache, &st), 0);
    /* One bit of one bar's close, far into the payload. */
    int fd = open(f->cache, O_RDWR);
    unsigned char c;
    off_t at = st.st_size / 2;
    assert_int_equal(pread(fd, &c, 1, at), 1);
    c ^= 1;
    assert_int_equal(pwrite(fd, &c, 1, at), 1);
    close(fd);
    ino_t ino = inode_of(f->cache);
    check_rebuilt(f, &parsed);
    assert_int_not_equal(inode_of(f->cache), ino);
    /* Truncated (a cut copy): the size no longer matches. */
    assert_int_equal(truncate(f->cache, st.st_size - 100), 0);
    check_rebuilt(f, &parsed);
    /* Cut inside the header, and empty. */
    assert_int_equal(truncate(f->cache, 40), 0);
    check_rebuilt(f, &parsed);
    assert_int_equal(truncate(f->cache, 0), 0);
    check_rebuilt(f, &parsed);
    readout_free(&parsed);
}

/* Opens csv with the cache on: 1 if served from it, with *hashed (whether
 * the source was read whole to check it). */
static int open_cached(const char *csv, int *hashed)
{
    tb_md_config mc;
    tb_md_config_init(&mc);
    mc.cache = 1;
    tb_md_reader *r = NULL;
    char err[512];
    assert_int_equal(tb_md_reader_open(csv, &mc, &r, err, sizeof err), 0);
    int hit = tb__md_reader_from_cache(r, hashed);
    tb_md_reader_close(r);
    return hit;
}

/* A hit on the file the cache was made from, untouched since, does not
 * read it again: its device, inode and ctime (which every write or touch
 * moves, and no user call sets) say it is the same. A touch keeping the
 * mtime moves the ctime: the content is hashed once, found the same, the
 * cache kept and its header updated, and the next hit skips it again. A
 * copy put in its place (another inode, same bytes and mtime) likewise. */
static void test_untouched_file_is_not_read_again(void **state)
{
    fx *f = *state;
    readout parsed;
    first_read(f, &parsed);
    int hashed = -1;
    assert_true(open_cached(f->csv, &hashed));
    assert_int_equal(hashed, 0);
    struct stat st;
    assert_int_equal(stat(f->csv, &st), 0);
    struct timespec same[2] = {{0, UTIME_OMIT}, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, f->csv, same, 0), 0);
    ino_t ino = inode_of(f->cache);
    assert_true(open_cached(f->csv, &hashed));
    assert_int_equal(hashed, 1);
    assert_true(open_cached(f->csv, &hashed));
    assert_int_equal(hashed, 0);
    assert_int_equal(inode_of(f->cache), ino); /* kept, not rebuilt */
    /* A copy with the same bytes and mtime takes the file's place. */
    char copy[300];
    snprintf(copy, sizeof copy, "%s.copy", f->csv);
    assert_int_equal(tbt_sh(".", "cp -p %s %s && mv %s %s", f->csv, copy, copy, f->csv), 0);
    assert_true(open_cached(f->csv, &hashed));
    assert_int_equal(hashed, 1);
    assert_true(open_cached(f->csv, &hashed));
    assert_int_equal(hashed, 0);
    readout cached;
    read_all(f->csv, 1, 0, &cached);
    assert_same(&parsed, &cached);
    readout_free(&cached);
    readout_free(&parsed);
}

/* The bars are read from the cache as they are served (not mapped whole):
 * a cache cut after it was checked ends the read with an error naming the
 * file, never as a shorter series that passes for the whole one. */
static void test_cache_cut_while_in_use_is_an_error(void **state)
{
    fx *f = *state;
    readout parsed;
    first_read(f, &parsed);
    tb_md_config mc;
    tb_md_config_init(&mc);
    mc.cache = 1;
    tb_md_merge *m = NULL;
    char err[512] = "";
    const char *specs[1] = {f->csv};
    assert_int_equal(tb_md_merge_open(specs, 1, &mc, &m, err, sizeof err), 0);
    tb_market_data b;
    assert_int_equal(tb_md_merge_next(m, &b, err, sizeof err), 0);
    assert_memory_equal(&b, &parsed.bars[0], sizeof b);
    /* Cut to its header and 10 bars: the rest of the first buffer is read. */
    assert_int_equal(truncate(f->cache, 128 + 10 * 72), 0);
    size_t n = 1;
    int rc;
    while ((rc = tb_md_merge_next(m, &b, err, sizeof err)) == 0)
        n++;
    assert_int_equal(rc, TB_EIO);
    assert_true(n < NBARS);
    assert_non_null(strstr(err, f->csv));
    assert_non_null(strstr(err, "cache"));
    tb_md_merge_close(m);
    /* The next read parses the file again and gives every bar. */
    check_rebuilt(f, &parsed);
    readout_free(&parsed);
}

static void test_cache_off_reads_and_writes_none(void **state)
{
    fx *f = *state;
    readout a, b;
    read_all(f->csv, 0, 0, &a);
    assert_int_equal(access(f->cache, F_OK), -1);
    /* A cache already there is left alone. */
    read_all(f->csv, 1, 0, &b);
    readout_free(&b);
    struct stat before, after;
    assert_int_equal(stat(f->cache, &before), 0);
    read_all(f->csv, 0, 0, &b);
    assert_int_equal(stat(f->cache, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    assert_same(&a, &b);
    readout_free(&a);
    readout_free(&b);
}

/* In the child (as nobody when root, whom permissions do not stop): two
 * reads of a file in a read-only folder. 0 when the cache went to
 * XDG/tradebus and the second read loaded it. */
static int readonly_child(fx *f)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) return 10;
    tb_md_config mc;
    tb_md_config_init(&mc);
    mc.cache = 1;
    uint64_t sums[2] = {0, 0};
    ino_t inos[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        tb_md_reader *r;
        char err[512];
        if (tb_md_reader_open(f->csv, &mc, &r, err, sizeof err) != 0) return 11;
        tb_market_data b;
        size_t n = 0;
        while (tb_md_reader_next(r, &b, err, sizeof err) == 0) {
            sums[k] += (uint64_t)b.close + (uint64_t)b.open_time;
            n++;
        }
        tb_md_reader_close(r);
        if (n != NBARS) return 12;
        if (access(f->cache, F_OK) == 0) return 13; /* nothing beside the data */
        char cmd[512];
        snprintf(cmd, sizeof cmd, "ls %s/tradebus/BTCUSDT-1m.csv-*.tbcache >/dev/null 2>&1",
                 f->xdg);
        if (system(cmd) != 0) return 14;
        struct stat st;
        char path[512];
        FILE *p;
        snprintf(cmd, sizeof cmd, "ls %s/tradebus/BTCUSDT-1m.csv-*.tbcache", f->xdg);
        if (!(p = popen(cmd, "r")) || !fgets(path, sizeof path, p)) return 15;
        pclose(p);
        path[strcspn(path, "\n")] = '\0';
        if (stat(path, &st) != 0) return 16;
        inos[k] = st.st_ino;
    }
    if (sums[0] != sums[1]) return 17;
    if (inos[0] != inos[1]) return 18; /* the second read loaded it */
    return 0;
}

static void test_readonly_dir_falls_back_to_xdg(void **state)
{
    fx *f = *state;
    assert_int_equal(chmod(f->csv, 0644), 0);
    assert_int_equal(chmod(f->dir, 0555), 0);
    assert_int_equal(chmod(f->xdg, 0777), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(readonly_child(f));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_rows_count_the_same(void **state)
{
    fx *f = *state;
    /* A bad row in the middle: high below low. */
    FILE *a = fopen(f->csv, "a");
    fputs("1800000000000,10,5,9,8,1,1800000059999,1,1,1,1,0\n", a);
    fclose(a);
    assert_int_equal(tbt_sh(".",
                            "%s --bars 5 --seed 9 --price 100 --start 2028-01-01 2>/dev/null "
                            ">> %s",
                            TB_GENDATA, f->csv),
                     0);
    readout one, two;
    read_all(f->csv, 1, 1, &one);
    read_all(f->csv, 1, 1, &two);
    assert_int_equal(one.bad, 1);
    assert_int_equal(one.warnings, 1);
    assert_non_null(strstr(one.first_warning, "high 5 is below low 9"));
    assert_same(&one, &two);
    /* Such a file is not cached: its warnings are given every time. */
    assert_int_equal(access(f->cache, F_OK), -1);
    readout_free(&one);
    readout_free(&two);
}

static void test_generic_csv_cached(void **state)
{
    fx *f = *state;
    char csv[300], cache[320];
    snprintf(csv, sizeof csv, "%s/eth.csv", f->dir);
    snprintf(cache, sizeof cache, "%s/.eth.csv.tbcache", f->dir);
    FILE *w = fopen(csv, "w");
    fputs("timestamp,open,high,low,close,volume\n", w);
    for (int i = 0; i < 50; i++)
        fprintf(w, "%d,%d.5,%d.75,%d.25,%d.5,1.5e-05\n", 1704067200 + 60 * i, 100 + i, 100 + i,
                100 + i, 100 + i);
    fclose(w);
    readout a, b;
    read_all(csv, 1, 0, &a);
    assert_int_equal(access(cache, F_OK), 0);
    ino_t ino = inode_of(cache);
    read_all(csv, 1, 0, &b);
    assert_int_equal(inode_of(cache), ino);
    assert_int_equal(a.n, 50);
    assert_dec_equal(b.bars[49].volume, "0.000015");
    assert_same(&a, &b);
    readout_free(&a);
    readout_free(&b);
}

static char *summary_of(fx *f, const char *out, const char *extra)
{
    char *err = NULL;
    int code = tbt_run_cli(f->xdg, &err,
                           "backtest --config %s/examples/sma_cross.ini --data %s --set "
                           "output.event_log=false --set output.report=false --out %s/%s "
                           "--quiet %s",
                           TB_SOURCE_DIR, f->csv, f->xdg, out, extra);
    if (code != 0) fail_msg("tradebus exited %d: %s", code, err ? err : "");
    free(err);
    char path[400];
    snprintf(path, sizeof path, "%s/%s/summary.json", f->xdg, out);
    char *s = tbt_read_file(path);
    assert_non_null(s);
    return s;
}

static void test_backtest_same_summary_with_and_without_cache(void **state)
{
    fx *f = *state;
    char *off = summary_of(f, "off", "--no-cache");
    assert_int_equal(access(f->cache, F_OK), -1);
    char *off2 = summary_of(f, "off2", "--set backtest.cache=false");
    assert_int_equal(access(f->cache, F_OK), -1);
    char *first = summary_of(f, "first", "");
    assert_int_equal(access(f->cache, F_OK), 0);
    ino_t ino = inode_of(f->cache);
    char *cached = summary_of(f, "cached", "");
    assert_int_equal(inode_of(f->cache), ino);
    assert_string_equal(off, off2);
    assert_string_equal(off, first);
    assert_string_equal(off, cached);
    free(off);
    free(off2);
    free(first);
    free(cached);
}

/* A file past the reader thread's 4 MB (docs/data.md): the run that parses
 * it in the thread, the one that also writes the cache from there, and the
 * one that loads the cache (no thread) give byte-identical outputs. */
static void test_backtest_same_outputs_with_the_reader_thread(void **state)
{
    fx *f = *state;
    assert_int_equal(
        tbt_sh(".", "%s --bars 50000 --seed 5 --price 42000 > %s 2>/dev/null", TB_GENDATA, f->csv),
        0);
    struct stat st;
    assert_int_equal(stat(f->csv, &st), 0);
    assert_true(st.st_size > 4 * 1024 * 1024);
    const char *runs[] = {"--no-cache", "", ""}, *outs[] = {"t0", "t1", "t2"};
    const char *files[] = {"summary.json", "fills.csv", "equity.csv", "trades.csv"};
    char *first[4] = {NULL, NULL, NULL, NULL};
    for (int r = 0; r < 3; r++) {
        char *s = summary_of(f, outs[r], runs[r]);
        free(s);
        assert_int_equal(access(f->cache, F_OK), r == 0 ? -1 : 0);
        for (int i = 0; i < 4; i++) {
            char path[400];
            snprintf(path, sizeof path, "%s/%s/%s", f->xdg, outs[r], files[i]);
            char *got = tbt_read_file(path);
            assert_non_null(got);
            if (r == 0) {
                first[i] = got;
                continue;
            }
            assert_string_equal(got, first[i]);
            free(got);
        }
    }
    assert_true(strlen(first[1]) > 200); /* fills: the run traded */
    for (int i = 0; i < 4; i++)
        free(first[i]);
}

static void test_config_check_lists_cache(void **state)
{
    fx *f = *state;
    char *err = NULL;
    assert_int_equal(tbt_run_cli(f->xdg, &err,
                                 "config check %s/examples/sma_cross.ini --data %s --set "
                                 "backtest.cache=false",
                                 TB_SOURCE_DIR, f->csv),
                     0);
    free(err);
    char *out = tbt_read_in(f->xdg, "stdout.txt");
    assert_non_null(out);
    assert_non_null(strstr(out, "cache = false"));
    free(out);
}

/* Where the one-pass conversion answers, it is tb_dec_parse's value;
 * everything else it leaves to the full parser. */
static void test_fast_decimal_matches_parser(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "0",          "42000.01000000",       "-1.5", "+2.25", "00012.3", "9999999999.99",
        "0.00000001", "92233720368.54775807", "7",    "-0.0"};
    static const char *const no[] = {"",
                                     "1.",
                                     ".5",
                                     "1e-05",
                                     "1.123456789",
                                     "1.12345678000",
                                     "92233720368.54775808",
                                     "999999999999",
                                     "99999999999.9",
                                     "nan",
                                     "1,5",
                                     " 1",
                                     "-",
                                     "+"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        tb_decimal a = 1, b = 2;
        assert_int_equal(tb__md_dec_fast(yes[i], strlen(yes[i]), &a), 1);
        assert_int_equal(tb_dec_parse(yes[i], strlen(yes[i]), &b), 0);
        assert_true(a == b);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        tb_decimal a = 1;
        assert_int_equal(tb__md_dec_fast(no[i], strlen(no[i]), &a), 0);
        assert_true(a == 1);
    }
}

/* The same over generated fields: every value the one-pass conversion
 * accepts is tb_dec_parse's, and every Binance-shaped field ("I.FFFFFFFF",
 * its 8 decimals read as one word) is accepted exactly when its decimals
 * are all digits; the bytes either side of '0'..'9' ('/', ':') and digits
 * with the high bit set (0xb0..0xb9) among the decimals are refused. */
static void test_fast_decimal_matches_parser_on_generated_fields(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789012345678901234567890123456789./:-+e \xb5\xb0";
    uint64_t seed = 42;
    char buf[40];
    for (int k = 0; k < 300000; k++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t z = seed >> 11;
        size_t len;
        int shaped = k % 2 == 0;
        if (shaped) {
            size_t ni = 1 + z % 10; /* 10 digits at most: always in range */
            len = 0;
            for (size_t i = 0; i < ni; i++)
                buf[len++] = (char)('0' + (seed >> (i * 3 % 60)) % 10);
            buf[len++] = '.';
            for (int i = 0; i < 8; i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                /* Mostly digits; now and then a neighbour of them. */
                buf[len++] = (seed >> 60) == 0 ? alphabet[40 + (seed >> 20) % 8]
                                               : (char)('0' + (seed >> 33) % 10);
            }
        } else {
            len = z % 24;
            for (size_t i = 0; i < len; i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                buf[i] = alphabet[(seed >> 33) % (sizeof alphabet - 1)];
            }
        }
        buf[len] = 0;
        tb_decimal fast = 0, slow = 0;
        int ok = tb__md_dec_fast(buf, len, &fast);
        int src = tb_dec_parse(buf, len, &slow);
        if (ok && (src != 0 || fast != slow))
            fail_msg("'%s': fast %lld, tb_dec_parse rc %d value %lld", buf, (long long)fast, src,
                     (long long)slow);
        if (shaped) {
            int digits = 1;
            for (size_t i = len - 8; i < len; i++)
                digits &= buf[i] >= '0' && buf[i] <= '9';
            if (ok != digits) fail_msg("'%s': fast %d, expected %d", buf, ok, digits);
        }
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_second_read_hits_cache),
        T(test_touched_or_changed_file_is_parsed_again),
        T(test_corrupt_cache_is_rebuilt),
        T(test_cache_cut_while_in_use_is_an_error),
        T(test_untouched_file_is_not_read_again),
        T(test_cache_off_reads_and_writes_none),
        T(test_readonly_dir_falls_back_to_xdg),
        T(test_bad_rows_count_the_same),
        T(test_generic_csv_cached),
        T(test_backtest_same_summary_with_and_without_cache),
        T(test_backtest_same_outputs_with_the_reader_thread),
        T(test_config_check_lists_cache),
        cmocka_unit_test(test_fast_decimal_matches_parser),
        cmocka_unit_test(test_fast_decimal_matches_parser_on_generated_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
