/* The hot path's fixed-array string helpers (src/core/fixstr.h): the word
 * at a time comparisons must say exactly what strcmp says, whatever the
 * bytes after the NUL and wherever the strings differ or end. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"

#include <tradebus/event.h>

#include "../src/core/fixstr.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fills a[cap] with s, then bytes after its NUL that are never zero. */
static void fill(char *a, size_t cap, const char *s)
{
    size_t n = strlen(s);
    memcpy(a, s, n + 1);
    for (size_t i = n + 1; i < cap; i++)
        a[i] = (char)(1 + next() % 255);
}

static void test_ids_equal_whatever_follows_the_nul(void **state)
{
    (void)state;
    char a[TB_ORDER_ID_LEN], b[TB_ORDER_ID_LEN];
    const char *ids[] = {"s",
                         "s-1",
                         "btc-1234",
                         "btc-12345",
                         "sma_cross-000001",
                         "sma_cross-0000012",
                         "234567890123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        fill(a, sizeof(a), ids[i]);
        fill(b, sizeof(b), ids[i]);
        assert_true(tb__cid_eq(a, b));
        assert_true(tb__fix_eq(a, b, TB_ORDER_ID_LEN));
    }
}

static void test_a_prefix_is_not_equal_at_every_word_boundary(void **state)
{
    (void)state;
    char a[TB_ORDER_ID_LEN], b[TB_ORDER_ID_LEN], s[TB_ORDER_ID_LEN];
    for (size_t n = 1; n + 1 < TB_ORDER_ID_LEN; n++) {
        memset(s, 'q', n + 1);
        s[n + 1] = 0;
        fill(a, sizeof(a), s); /* n + 1 characters */
        s[n] = 0;
        fill(b, sizeof(b), s); /* its first n */
        assert_false(tb__cid_eq(a, b));
        assert_false(tb__cid_eq(b, a));
    }
}

static void test_random_ids_compare_as_strcmp(void **state)
{
    (void)state;
    char a[TB_ORDER_ID_LEN], b[TB_ORDER_ID_LEN], s[TB_ORDER_ID_LEN], t[TB_ORDER_ID_LEN];
    size_t equal = 0;
    for (int k = 0; k < 200000; k++) {
        /* Short alphabets and lengths make equal pairs and near misses common. */
        size_t n = next() % TB_ORDER_ID_LEN, m = next() % 4 ? n : next() % TB_ORDER_ID_LEN;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('a' + next() % 2);
        s[n] = 0;
        memcpy(t, s, n + 1);
        if (m != n) {
            for (size_t i = 0; i < m; i++)
                t[i] = i < n ? s[i] : 'a';
            t[m] = 0;
        } else if (n && next() % 2) {
            t[next() % n] ^= 3; /* one character changed */
        }
        fill(a, sizeof(a), s);
        fill(b, sizeof(b), t);
        int want = strcmp(s, t) == 0;
        equal += (size_t)want;
        if (tb__cid_eq(a, b) != want) fail_msg("'%s' vs '%s': expected %d", s, t, want);
        if (n < TB_STRATEGY_LEN && m < TB_STRATEGY_LEN && tb__strategy_eq(a, b) != want)
            fail_msg("'%s' vs '%s' as strategy ids: expected %d", s, t, want);
        if (n < TB_SYMBOL_LEN && m < TB_SYMBOL_LEN && tb__sym_eq(a, b) != want)
            fail_msg("'%s' vs '%s' as symbols: expected %d", s, t, want);
    }
    assert_true(equal > 10000); /* the equal branch was exercised too */
}

static void test_sym_field_copies_what_fits_and_refuses_the_rest(void **state)
{
    (void)state;
    char out[TB_SYMBOL_LEN], *s = malloc(4);
    assert_non_null(s);
    memcpy(s, "ETH", 4); /* exactly its size: a longer read fails under ASan */
    assert_int_equal(tb__sym_field(out, s), 0);
    assert_string_equal(out, "ETH");
    assert_int_equal(out[TB_SYMBOL_LEN - 1], 0);
    free(s);
    char most[TB_SYMBOL_LEN] = "ABCDEFGHIJKLMNO"; /* 15: the longest that fits */
    assert_int_equal(tb__sym_field(out, most), 0);
    assert_true(tb__sym_eq(out, most));
    char full[TB_SYMBOL_LEN]; /* 16 characters, no NUL: read no further */
    memset(full, 'A', sizeof(full));
    assert_int_equal(tb__sym_field(out, full), -1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_equal_whatever_follows_the_nul),
        cmocka_unit_test(test_a_prefix_is_not_equal_at_every_word_boundary),
        cmocka_unit_test(test_random_ids_compare_as_strcmp),
        cmocka_unit_test(test_sym_field_copies_what_fits_and_refuses_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
