/* Text for a terminal: control bytes and bad UTF-8 shown escaped, valid
 * UTF-8 kept, the escaped length reported like snprintf. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tradebus/text.h"

/* s escaped with flags, as a string. */
static const char *esc(const char *s, size_t len, unsigned flags)
{
    static char buf[512];
    size_t n = tb_text_escape(buf, sizeof(buf), s, len, flags);
    assert_true(n < sizeof(buf));
    assert_int_equal(strlen(buf), n);
    return buf;
}
#define ESC(lit, flags) esc(lit, sizeof(lit) - 1, flags)

static void test_text_escape_shows_terminal_sequences_visibly(void **state)
{
    (void)state;
    /* An OSC retitling the window and a CSI recolouring it: no ESC, no BEL. */
    assert_string_equal(ESC("a\x1b]0;pwned\x07z\x1b[31m", 0), "a\\x1b]0;pwned\\x07z\\x1b[31m");
    assert_string_equal(ESC("cr\rbs\bdel\x7f", 0), "cr\\x0dbs\\x08del\\x7f");
    assert_string_equal(ESC("nul\0x", 0), "nul\\x00x");
}

static void test_text_escape_keeps_newlines_only_when_asked(void **state)
{
    (void)state;
    assert_string_equal(ESC("one\ntwo\tthree", 0), "one\\x0atwo\tthree");
    assert_string_equal(ESC("one\ntwo\tthree", TB_TEXT_NEWLINES), "one\ntwo\tthree");
    assert_string_equal(ESC("no\r\n", TB_TEXT_NEWLINES), "no\\x0d\n");
}

static void test_text_escape_keeps_valid_utf8(void **state)
{
    (void)state;
    assert_string_equal(ESC("5 \xe2\x82\xac, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x93\x88", 0),
                        "5 \xe2\x82\xac, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x93\x88");
    assert_string_equal(ESC("back\\slash", 0), "back\\slash");
}

static void test_text_escape_shows_each_bad_utf8_byte(void **state)
{
    (void)state;
    assert_string_equal(ESC("\xff", 0), "\\xff");
    /* Overlong '/', a surrogate, past U+10FFFF, a cut sequence, a stray
     * continuation byte. */
    assert_string_equal(ESC("\xc0\xaf", 0), "\\xc0\\xaf");
    assert_string_equal(ESC("\xed\xa0\x80", 0), "\\xed\\xa0\\x80");
    assert_string_equal(ESC("\xf4\x90\x80\x80", 0), "\\xf4\\x90\\x80\\x80");
    assert_string_equal(ESC("\xe2\x82", 0), "\\xe2\\x82");
    assert_string_equal(ESC("a\x80z", 0), "a\\x80z");
}

static void test_text_escape_shows_c1_controls(void **state)
{
    (void)state;
    /* U+009B is CSI on a terminal that honours C1; U+00A0 is text. */
    assert_string_equal(ESC("\xc2\x9b"
                            "31m\xc2\x85\xc2\xa0",
                            0),
                        "\\u009b31m\\u0085\xc2\xa0");
}

static void test_text_escape_reports_the_whole_length_and_never_cuts_a_unit(void **state)
{
    (void)state;
    const char s[] = "ab\x1b"
                     "cd";
    assert_int_equal(tb_text_escape(NULL, 0, s, 5, 0), 8);
    char buf[8];
    memset(buf, 'Z', sizeof(buf));
    /* "ab" fits, "\x1b" (4) would need 6 + NUL: left out with what follows. */
    assert_int_equal(tb_text_escape(buf, 5, s, 5, 0), 8);
    assert_string_equal(buf, "ab");
    assert_int_equal(tb_text_escape(buf, 7, s, 5, 0), 8);
    assert_string_equal(buf, "ab\\x1b");
    /* A UTF-8 sequence is never cut either. */
    assert_int_equal(tb_text_escape(buf, 3, "a\xe2\x82\xac", 4, 0), 4);
    assert_string_equal(buf, "a");
}

static void test_text_write_matches_escape_and_reports_failure(void **state)
{
    (void)state;
    const char s[] = "x\x1b[2J\xe2\x82\xac\xff\n";
    char *mem = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&mem, &n);
    assert_non_null(m);
    assert_int_equal(tb_text_write(m, s, sizeof(s) - 1, TB_TEXT_NEWLINES), 0);
    assert_int_equal(fclose(m), 0);
    assert_string_equal(mem, esc(s, sizeof(s) - 1, TB_TEXT_NEWLINES));
    free(mem);
    assert_int_equal(tb_text_write(NULL, "a", 1, 0), TB_EINVAL);
    /* A stream that cannot be written: the failure is reported. */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        setvbuf(full, NULL, _IONBF, 0);
        assert_int_equal(tb_text_write(full, s, sizeof(s) - 1, 0), TB_EIO);
        fclose(full);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_escape_shows_terminal_sequences_visibly),
        cmocka_unit_test(test_text_escape_keeps_newlines_only_when_asked),
        cmocka_unit_test(test_text_escape_keeps_valid_utf8),
        cmocka_unit_test(test_text_escape_shows_each_bad_utf8_byte),
        cmocka_unit_test(test_text_escape_shows_c1_controls),
        cmocka_unit_test(test_text_escape_reports_the_whole_length_and_never_cuts_a_unit),
        cmocka_unit_test(test_text_write_matches_escape_and_reports_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
