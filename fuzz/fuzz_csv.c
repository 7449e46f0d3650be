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
 * trusted data. */
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
    read_merged(spec, spec2);
    return 0;
}
