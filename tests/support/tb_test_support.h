/* Shared helpers for the cmocka tests: exact decimals, bars, an event
 * recorder and temporary files. Every test executable links
 * tests/support/ (every .c there); include this header after nothing else is required
 * (it pulls in cmocka's prerequisites itself). */
#ifndef TB_TEST_SUPPORT_H
#define TB_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tradebus/bus.h"
#include "tradebus/event.h"

/* TBT_SANITIZED is defined in an ASan build (the suite's second pass), where
 * every run is several times slower: long end-to-end tests scale down. */
#if defined(__SANITIZE_ADDRESS__)
#define TBT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TBT_SANITIZED 1
#endif
#endif

#define TBT_SECOND INT64_C(1000000000)
#define TBT_MINUTE (60 * TBT_SECOND)

/* Parses a plain decimal ("42000.12") or fails the test. */
tb_decimal tbt_dec(const char *s);

/* Fails the test, showing both values as decimals, unless actual == expected. */
#define assert_dec_equal(actual, expected)                                                         \
    tbt_assert_dec_at((actual), (expected), #actual, __FILE__, __LINE__)
void tbt_assert_dec_at(tb_decimal actual, const char *expected, const char *expr, const char *file,
                       int line);

/* A one-minute bar numbered `minute`: opens at minute × 60 s, closes 1 ns
 * before the next one opens. Prices and volume as decimal strings. */
tb_market_data tbt_bar(const char *symbol, int64_t minute, const char *open, const char *high,
                       const char *low, const char *close, const char *volume);
/* The MarketData event carrying bar (timestamp = the bar's close time). */
tb_event tbt_bar_event(const tb_market_data *bar);

/* Records every event it is subscribed to (subscribe tbt_record with a
 * tbt_recorder * as ctx). */
#define TBT_RECORDER_CAP 256
typedef struct {
    tb_event events[TBT_RECORDER_CAP];
    size_t n;
} tbt_recorder;
int tbt_record(const tb_event *ev, void *ctx);
/* Number of recorded events of type t (TB_BUS_ALL: all of them). */
size_t tbt_count(const tbt_recorder *r, tb_event_type t);
/* The nth (from 0) recorded event of type t, or NULL. */
const tb_event *tbt_nth(const tbt_recorder *r, tb_event_type t, size_t nth);

/* Creates a fresh private directory under $TMPDIR (or /tmp) into dir. */
void tbt_temp_dir(char *dir, size_t dirlen);
/* Writes content to dir/name (path returned in path) or fails the test. */
void tbt_write_file(const char *dir, const char *name, const char *content, char *path,
                    size_t pathlen);
/* Removes the regular files in dir, then dir itself (not recursive). */
void tbt_remove_dir(const char *dir);

#endif
