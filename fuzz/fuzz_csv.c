/* libFuzzer harness: the market-data CSV reader (Binance klines and the
 * generic timestamp,open,high,low,close,volume format).
 *
 * The reader takes a path, so each input is written to an in-memory file
 * (memfd_create, opened again through /proc/self/fd/N): no disk I/O, no
 * temporary names to clean up, and nothing left behind if the run dies. It
 * is read to the end under both on_bad_row policies and through a two-file
 * merge, and every bar that comes out must keep the reader's documented
 * promises (high >= low, open and close within them, volume >= 0, open
 * times increasing): a bar breaking them would reach the strategies as
 * trusted data. It is also read by two readers in step, one taking every
 * Binance row through the general path: the fast path must give the same
 * bars, the same warnings and the same error, byte for byte. */
#define _GNU_SOURCE /* memfd_create */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <tradebus/marketdata.h>

#include "../src/feed/md_int.h" /* tb__md_reader_slow_rows */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds the work per input: a row costs microseconds, but a pathological
 * input can hold thousands of tiny rows. */
#define MAX_BARS 100000

static void fail(const char *what, const tb_market_data *bar)
{
    fprintf(stderr,
            "fuzz_csv: %s\n  bar %s open_time %" PRId64 " close_time %" PRId64 " o %" PRId64
            " h %" PRId64 " l %" PRId64 " c %" PRId64 " v %" PRId64 "\n",
            what, bar->symbol, bar->open_time, bar->close_time, bar->open, bar->high, bar->low,
            bar->close, bar->volume);
    abort();
}

static void check_bar(const tb_market_data *bar, const tb_market_data *prev)
{
    if (bar->high < bar->low) fail("high < low", bar);
    if (bar->open < bar->low || bar->open > bar->high) fail("open outside [low, high]", bar);
    if (bar->close < bar->low || bar->close > bar->high) fail("close outside [low, high]", bar);
    if (bar->volume < 0) fail("negative volume", bar);
    if (bar->close_time < bar->open_time) fail("closes before it opens", bar);
    if (prev && bar->open_time <= prev->open_time) fail("time not increasing", bar);
}

static void warn(const char *msg, void *ctx)
{
    (void)ctx;
    if (msg == NULL || msg[0] == '\0') {
        fprintf(stderr, "fuzz_csv: empty skip warning\n");
        abort();
    }
}

static void read_one(const char *spec, tb_bad_row_policy policy)
{
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.on_bad_row = policy;
    cfg.warn = warn;
    char err[512];
    tb_md_reader *r = NULL;
    if (tb_md_reader_open(spec, &cfg, &r, err, sizeof err) != 0) {
        if (r != NULL) abort(); /* an error leaves nothing to close */
        return;
    }
    tb_market_data bar, prev;
    int have_prev = 0, rc;
    for (int i = 0; i < MAX_BARS && (rc = tb_md_reader_next(r, &bar, err, sizeof err)) == 0; i++) {
        check_bar(&bar, have_prev ? &prev : NULL);
        prev = bar;
        have_prev = 1;
    }
    tb_md_reader_close(r);
}

/* A reader's warnings so far, as one rolling hash (FNV-1a). */
static void hash_warning(const char *msg, void *ctx)
{
    uint64_t *h = ctx;
    for (const char *p = msg; *p; p++)
        *h = (*h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    *h = (*h ^ '\n') * UINT64_C(0x100000001b3);
}

static void read_fast_and_slow(const char *spec, tb_bad_row_policy policy)
{
    tb_md_reader *r[2] = {NULL, NULL};
    uint64_t warned[2] = {UINT64_C(0xcbf29ce484222325), UINT64_C(0xcbf29ce484222325)};
    char err[2][512];
    for (int k = 0; k < 2; k++) {
        tb_md_config cfg;
        tb_md_config_init(&cfg);
        cfg.on_bad_row = policy;
        cfg.cache = 0;
        cfg.warn = hash_warning;
        cfg.warn_ctx = &warned[k];
        if (tb_md_reader_open(spec, &cfg, &r[k], err[k], sizeof err[k]) != 0) break;
    }
    if (!r[0] || !r[1]) {
        if (r[0] || r[1]) abort(); /* one opened, the other did not */
        return;
    }
    tb__md_reader_slow_rows(r[1]);
    tb_market_data bar[2];
    for (int i = 0; i < MAX_BARS; i++) {
        memset(bar, 0, sizeof bar);
        int rc0 = tb_md_reader_next(r[0], &bar[0], err[0], sizeof err[0]);
        int rc1 = tb_md_reader_next(r[1], &bar[1], err[1], sizeof err[1]);
        if (rc0 != rc1 || warned[0] != warned[1]) {
            fprintf(stderr, "fuzz_csv: fast and general paths differ at bar %d: rc %d / %d\n", i,
                    rc0, rc1);
            abort();
        }
        if (rc0 != 0) {
            if (strcmp(err[0], err[1]) != 0) {
                fprintf(stderr, "fuzz_csv: errors differ:\n  %s\n  %s\n", err[0], err[1]);
                abort();
            }
            break;
        }
        if (memcmp(&bar[0], &bar[1], sizeof bar[0]) != 0)
            fail("the fast path's bar differs", &bar[0]);
    }
    tb_md_reader_close(r[0]);
    tb_md_reader_close(r[1]);
}

static void read_merged(const char *a, const char *b)
{
    const char *specs[2] = {a, b};
    tb_md_config cfg;
    tb_md_config_init(&cfg);
    cfg.on_bad_row = TB_BAD_ROW_SKIP;
    char err[512];
    tb_md_merge *m = NULL;
    if (tb_md_merge_open(specs, 2, &cfg, &m, err, sizeof err) != 0) return;
    tb_market_data bar;
    int64_t last_close = INT64_MIN;
    for (int i = 0; i < MAX_BARS && tb_md_merge_next(m, &bar, err, sizeof err) == 0; i++) {
        /* The merge's promise: bars ordered by close time. */
        if (bar.close_time < last_close) fail("merge out of order", &bar);
        last_close = bar.close_time;
    }
    tb_md_merge_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One in-memory file for the process, rewritten per input. */
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz_csv", MFD_CLOEXEC);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
    }
    if (ftruncate(fd, 0) != 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_csv: writing the input");
        abort();
    }
    char spec[64], spec2[64];
    snprintf(spec, sizeof spec, "BTCUSDT:/proc/self/fd/%d", fd);
    snprintf(spec2, sizeof spec2, "ETHUSDT:/proc/self/fd/%d", fd);
    read_one(spec, TB_BAD_ROW_FAIL);
    read_one(spec, TB_BAD_ROW_SKIP);
    read_fast_and_slow(spec, TB_BAD_ROW_FAIL);
    read_fast_and_slow(spec, TB_BAD_ROW_SKIP);
    read_merged(spec, spec2);
    return 0;
}
