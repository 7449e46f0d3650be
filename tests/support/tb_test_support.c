/* Shared test helpers (see tb_test_support.h). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_test_support.h"

tb_decimal tbt_dec(const char *s)
{
    tb_decimal d = 0;
    int rc = tb_dec_parse(s, (size_t)-1, &d);
    if (rc != 0) fail_msg("'%s' is not a decimal: %s", s, tb_strerror(rc));
    return d;
}

void tbt_assert_dec_at(tb_decimal actual, const char *expected, const char *expr, const char *file,
                       int line)
{
    if (actual == tbt_dec(expected)) return;
    char got[TB_DECIMAL_STRLEN];
    tb_dec_format(actual, got, sizeof(got));
    fail_msg("%s:%d: %s is %s, expected %s", file, line, expr, got, expected);
}

tb_market_data tbt_bar(const char *symbol, int64_t minute, const char *open, const char *high,
                       const char *low, const char *close, const char *volume)
{
    tb_market_data b;
    memset(&b, 0, sizeof(b));
    assert_int_equal(tb_str_copy(b.symbol, sizeof(b.symbol), symbol), 0);
    b.open = tbt_dec(open);
    b.high = tbt_dec(high);
    b.low = tbt_dec(low);
    b.close = tbt_dec(close);
    b.volume = tbt_dec(volume);
    b.open_time = minute * TBT_MINUTE;
    b.close_time = (minute + 1) * TBT_MINUTE - 1;
    return b;
}

tb_event tbt_bar_event(const tb_market_data *bar)
{
    tb_event ev;
    tb_event_init(&ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    ev.timestamp = bar->close_time;
    ev.u.market_data = *bar;
    return ev;
}

int tbt_record(const tb_event *ev, void *ctx)
{
    tbt_recorder *r = ctx;
    if (r->n >= TBT_RECORDER_CAP) fail_msg("tbt_recorder full (%d events)", TBT_RECORDER_CAP);
    r->events[r->n++] = *ev;
    return 0;
}

size_t tbt_count(const tbt_recorder *r, tb_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (t == TB_BUS_ALL || r->events[i].type == t) n++;
    return n;
}

const tb_event *tbt_nth(const tbt_recorder *r, tb_event_type t, size_t nth)
{
    for (size_t i = 0; i < r->n; i++)
        if (t == TB_BUS_ALL || r->events[i].type == t) {
            if (nth == 0) return &r->events[i];
            nth--;
        }
    return NULL;
}

void tbt_temp_dir(char *dir, size_t dirlen)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    int n = snprintf(dir, dirlen, "%s/tbtest-XXXXXX", base);
    assert_true(n > 0 && (size_t)n < dirlen);
    if (!mkdtemp(dir)) fail_msg("mkdtemp(%s) failed", dir);
}

void tbt_write_file(const char *dir, const char *name, const char *content, char *path,
                    size_t pathlen)
{
    int n = snprintf(path, pathlen, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < pathlen);
    FILE *f = fopen(path, "w");
    if (!f) fail_msg("cannot create %s", path);
    size_t len = strlen(content);
    size_t w = fwrite(content, 1, len, f);
    int rc = fclose(f);
    assert_int_equal(w, len);
    assert_int_equal(rc, 0);
}

void tbt_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
