/* sweep.html from a hand-made sweep.csv: fast {10, 5} x slow {20, 30} x
 * fee_bps {1, 2} in grid order, one combination failed (its message holds a
 * <script>, quotes and a comma), one without a Sharpe. Every expected figure
 * is worked out in the comments. Then malformed CSVs, each an error naming
 * its line, and the write's atomicity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tradebus/sweep_report.h>

#include "tb_test_support.h"

#define HEAD                                                                                       \
    "fast,slow,fee_bps,bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,sortino,"       \
    "win_rate_pct,profit_factor,exposure_pct,error\n"

/* line: combination -> sharpe, max_drawdown_pct
 *  2: 10,20,1 -> 0.5,  5      6: 5,20,1 -> 1.5,  4
 *  3: 10,20,2 -> 0.25, 6      7: 5,20,2 -> 1.25, 4.5
 *  4: 10,30,1 -> failed       8: 5,30,1 -> (none), 2
 *  5: 10,30,2 -> 0.75, 3      9: 5,30,2 -> -0.5, 2.5 */
static const char good_csv[] =
    HEAD "10,20,1,1000,10,10,0.1,3,5,0.5,0.7,50,1.2,40,\n"
         "10,20,2,1000,10,5,0.05,6,6,0.25,0.3,50,1.1,40,\n"
         "10,30,1,,,,,,,,,,,,\"slow must exceed fast, got \"\"<script>alert(1)</script>\"\"\"\n"
         "10,30,2,1000,6,30,0.3,2,3,0.75,0.9,66.7,,35,\n"
         "5,20,1,1000,20,120.5,1.205,4,4,1.5,2.1,60,1.8,45,\n"
         "5,20,2,1000,20,100,1,8,4.5,1.25,1.9,60,1.7,45,\n"
         "5,30,1,1000,4,-20,-0.2,1,2,,,25,0.5,20,\n"
         "5,30,2,1000,4,-40,-0.4,2,2.5,-0.5,-0.6,25,0.4,20,\n";

typedef struct {
    char dir[256], csv[512], html[512];
    char err[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    tbt_temp_dir(f->dir, sizeof(f->dir));
    snprintf(f->html, sizeof(f->html), "%s/sweep.html", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tbt_remove_dir(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
    s[n] = 0;
    fclose(fp);
    return s;
}

/* Writes csv, builds the page (must succeed) and returns it. */
static char *page(fixture *f, const char *csv, const char *objective, size_t nparams)
{
    tbt_write_file(f->dir, "sweep.csv", csv, f->csv, sizeof(f->csv));
    int rc = tb_sweep_html_write(f->csv, f->html, objective, nparams, f->err, sizeof(f->err));
    if (rc) fprintf(stderr, "tb_sweep_html_write: %d %s\n", rc, f->err);
    assert_int_equal(rc, 0);
    return slurp(f->html);
}

/* The text from the first `from` in s to the next `to` after it (a copy). */
static char *between(const char *s, const char *from, const char *to)
{
    const char *a = strstr(s, from);
    if (!a) fprintf(stderr, "not found: %s\n", from);
    assert_non_null(a);
    const char *b = strstr(a, to);
    assert_non_null(b);
    size_t n = (size_t)(b - a) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, a, n);
    out[n] = 0;
    return out;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fprintf(stderr, "missing: %s\nin: %.2000s\n", needle, hay);
    assert_non_null(strstr(hay, needle));
}

/* The data-line of the top table's nth row (from 0). */
static int top_line(const char *html, int nth)
{
    char *top = between(html, "<table id=\"top\">", "</table>");
    const char *p = top;
    int line = -1;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, "<tr data-line=\"");
        assert_non_null(p);
        p += strlen("<tr data-line=\"");
    }
    line = atoi(p);
    free(top);
    return line;
}

static void test_page_by_sharpe(void **state)
{
    fixture *f = *state;
    char *html = page(f, good_csv, "sharpe", 3);
    /* Header: 8 combinations, 1 failed, 1 without a Sharpe; best 5,20,1. */
    assert_contains(html, "id=\"combinations\">8<");
    assert_contains(html, "id=\"failed\">1<");
    assert_contains(html, "id=\"undefined\">1<");
    assert_contains(html, "id=\"best\">fast=5, slow=20, fee_bps=1: sharpe 1.5<");
    /* Top: 1.5 (6), 1.25 (7), 0.75 (5), 0.5 (2), 0.25 (3), -0.5 (9), then
     * the failed (4) and the undefined (8) in grid order. */
    int want[] = {6, 7, 5, 2, 3, 9, 4, 8};
    for (int i = 0; i < 8; i++)
        assert_int_equal(top_line(html, i), want[i]);
    char *first = between(html, "<tr data-line=\"6\" class=\"best\">", "</tr>");
    assert_contains(first, "<td>5</td><td>20</td><td>1</td>");
    assert_contains(first, ">120.5</td>");
    free(first);
    char *undef = between(html, "<tr data-line=\"8\">", "</tr>");
    assert_contains(undef, "<td class=\"n obj\">—</td>"); /* the Sharpe nobody has */
    free(undef);
    /* Heat map fast x slow: the best Sharpe over fee_bps per cell. 10,30
     * is 0.75 (its fee 1 failed); 5,30 is -0.5 (fee 1 has no Sharpe). */
    char *map = between(html, "<table class=\"heat\" id=\"heat-0\"", "</table>");
    assert_contains(map, "data-x=\"fast\" data-y=\"slow\"");
    assert_true(strstr(map, ">5</th>") < strstr(map, ">10</th>")); /* numeric order */
    char *cell = between(map, "<td data-x=\"5\" data-y=\"20\"", "</td>");
    assert_contains(cell, "class=\"cell top\""); /* the best combination's cell */
    assert_contains(cell, "data-v=\"1.5\">1.5</td>");
    free(cell);
    cell = between(map, "<td data-x=\"10\" data-y=\"30\"", "</td>");
    assert_contains(cell, ">0.75</td>");
    free(cell);
    cell = between(map, "<td data-x=\"5\" data-y=\"30\"", "</td>");
    assert_contains(cell, ">-0.5</td>");
    free(cell);
    free(map);
    /* fee_bps x ...: three pairs, all numeric. */
    assert_non_null(strstr(html, "id=\"heat-2\""));
    assert_null(strstr(html, "id=\"heat-3\""));
    assert_null(strstr(html, "maps-limit"));
    /* Sensitivity of fast: 5 -> {1.5, 1.25, -0.5}: best 1.5, median 1.25;
     * 10 -> {0.5, 0.25, 0.75}: best 0.75, median 0.5. Of slow: 20 -> {0.5,
     * 0.25, 1.5, 1.25}: median 0.875; 30 -> {0.75, -0.5}: median 0.125. */
    char *s = between(html, "<table id=\"sens-0\"", "</table>");
    char *r = between(s, "<tr data-value=\"5\" class=\"best\">", "</tr>");
    assert_contains(r, "<td>5</td><td class=\"n\">4</td><td class=\"n\">3</td>");
    assert_contains(r, ">1.5</td><td class=\"n median\">1.25</td>");
    free(r);
    r = between(s, "<tr data-value=\"10\">", "</tr>");
    assert_contains(r, ">0.75</td><td class=\"n median\">0.5</td>");
    free(r);
    assert_true(strstr(s, "data-value=\"5\"") < strstr(s, "data-value=\"10\""));
    free(s);
    s = between(html, "<table id=\"sens-1\"", "</table>");
    assert_contains(s, ">1.5</td><td class=\"n median\">0.875</td>");
    assert_contains(s, ">0.75</td><td class=\"n median\">0.125</td>");
    free(s);
    assert_non_null(strstr(html, "<svg id=\"sens-chart-0\""));
    /* Spread of fast's best 0.75 .. 1.5, of its median 0.5 .. 1.25. */
    s = between(html, "<tr data-param=\"fast\">", "</tr>");
    assert_contains(s, "0.75 … 1.5 (0.75)");
    assert_contains(s, "0.5 … 1.25 (0.75)");
    free(s);
    /* The error message is text, never markup. */
    assert_null(strstr(html, "<script"));
    assert_contains(html, "slow must exceed fast, got &quot;&lt;script&gt;alert(1)&lt;/script&gt;"
                          "&quot;");
    assert_contains(html, "<table id=\"failed-rows\">");
    free(html);
}

static void test_drawdown_ranks_ascending(void **state)
{
    fixture *f = *state;
    char *html = page(f, good_csv, "max_drawdown_pct", 3);
    /* 2 (8), 2.5 (9), 3 (5), 4 (6), 4.5 (7), 5 (2), 6 (3), then the failed 4. */
    int want[] = {8, 9, 5, 6, 7, 2, 3, 4};
    for (int i = 0; i < 8; i++)
        assert_int_equal(top_line(html, i), want[i]);
    assert_contains(html, "id=\"best\">fast=5, slow=30, fee_bps=1: max_drawdown_pct 2<");
    assert_contains(html, "(lower is better)");
    /* The lowest drawdown per cell: 5,30 -> 2. */
    char *cell = between(html, "<td data-x=\"5\" data-y=\"30\"", "</td>");
    assert_contains(cell, "class=\"cell top\"");
    assert_contains(cell, ">2</td>");
    free(cell);
    /* Sensitivity of slow: 30 -> {3, 2, 2.5}: best 2, median 2.5. */
    char *s = between(html, "<table id=\"sens-1\"", "</table>");
    assert_contains(s, ">2</td><td class=\"n median\">2.5</td>");
    free(s);
    free(html);
}

static void test_crlf_and_words(void **state)
{
    fixture *f = *state;
    /* A word parameter keeps first-seen order and gets no heat map. */
    const char *csv = "mode,len,bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,"
                      "sortino,win_rate_pct,profit_factor,exposure_pct,error\r\n"
                      "trend,3,10,1,5,0.5,1,1,,,100,,10,\r\n"
                      "revert,3,10,1,7,0.7,1,1,,,100,,10,\r\n"
                      "trend,14,10,1,-1,-0.1,1,1,,,0,0,10,\r\n"
                      "revert,14,10,1,2,0.2,1,1,,,100,,10,\r\n";
    char *html = page(f, csv, "net_pnl", 2);
    assert_contains(html, "id=\"best\">mode=revert, len=3: net_pnl 7<");
    assert_contains(html, "id=\"no-maps\"");
    char *s = between(html, "<table id=\"sens-0\"", "</table>");
    assert_true(strstr(s, "data-value=\"trend\"") < strstr(s, "data-value=\"revert\""));
    assert_contains(s, ">7</td><td class=\"n median\">4.5</td>"); /* revert: 7, 2 */
    free(s);
    free(html);
}

static void test_more_than_15_pairs(void **state)
{
    fixture *f = *state;
    /* 7 numeric parameters of 2 values: 21 pairs, 15 drawn. */
    size_t cap = 1 << 16, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    n +=
        (size_t)snprintf(csv + n, cap - n, "a,b,c,d,e,g,h,%s", &HEAD[strlen("fast,slow,fee_bps,")]);
    for (int i = 0; i < 128; i++) {
        for (int k = 0; k < 7; k++)
            n += (size_t)snprintf(csv + n, cap - n, "%d,", (i >> k) & 1);
        n += (size_t)snprintf(csv + n, cap - n, "100,5,%d,1,1,2,,,50,,10,\n", i);
    }
    char *html = page(f, csv, "net_pnl", 7);
    free(csv);
    assert_non_null(strstr(html, "id=\"heat-14\""));
    assert_null(strstr(html, "id=\"heat-15\""));
    assert_contains(html, "<b id=\"maps-limit\">21 pairs of numeric parameters: the first 15");
    free(html);
}

/* Writing a bad CSV: rc, an err holding `where`, the old page untouched. */
static void bad(fixture *f, const char *csv, const char *objective, size_t nparams, int want_rc,
                const char *where)
{
    tbt_write_file(f->dir, "sweep.csv", csv, f->csv, sizeof(f->csv));
    FILE *old = fopen(f->html, "w");
    assert_non_null(old);
    fputs("OLD PAGE", old);
    fclose(old);
    int rc = tb_sweep_html_write(f->csv, f->html, objective, nparams, f->err, sizeof(f->err));
    assert_int_equal(rc, want_rc);
    char full[600];
    snprintf(full, sizeof(full), "%s%s", f->csv, where);
    if (!strstr(f->err, full)) fprintf(stderr, "err: %s\nwant: %s\n", f->err, full);
    assert_non_null(strstr(f->err, full));
    char *s = slurp(f->html);
    assert_string_equal(s, "OLD PAGE");
    free(s);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->html);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_malformed(void **state)
{
    fixture *f = *state;
    /* line 3 has one field too few */
    bad(f,
        HEAD "5,20,1,1000,20,120.5,1.205,4,4,1.5,2.1,60,1.8,45,\n"
             "5,30,1000,4,-20,-0.2,1,2,,,25,0.5,20,\n",
        "sharpe", 3, TB_EPARSE, ":3: 14 fields, expected 15");
    bad(f, good_csv, "pnl", 3, TB_EINVAL, ":1: unknown objective 'pnl'");
    bad(f, good_csv, "error", 3, TB_EINVAL, ":1: unknown objective 'error'");
    /* no sortino column */
    bad(f,
        "fast,bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,win_rate_pct,"
        "profit_factor,exposure_pct,error\n5,1,1,1,1,1,1,1,1,1,1,\n",
        "sharpe", 1, TB_EPARSE, ":1: missing metric column 'sortino'");
    /* nparams disagrees with the header: 3 columns before bars, 2 declared */
    bad(f, good_csv, "sharpe", 2, TB_EPARSE, ":1: 15 columns, expected 14");
    /* metrics out of order */
    bad(f,
        "fast,trades,bars,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,sortino,win_rate_pct,"
        "profit_factor,exposure_pct,error\n",
        "sharpe", 1, TB_EPARSE, ":1:6: column 2 is 'trades', expected 'bars'");
    /* a metric that is not a number, at line 2 column 16 */
    bad(f, HEAD "5,20,1,1000,20,abc,1.205,4,4,1.5,2.1,60,1.8,45,\n", "sharpe", 3, TB_EPARSE,
        ":2:16: net_pnl is 'abc', not a number");
    /* a quote never closed, opened at line 2 */
    bad(f, HEAD "5,20,1,1000,20,1,1,4,4,1.5,2.1,60,1.8,45,\"oops\n", "sharpe", 3, TB_EPARSE,
        ":2:42: a quoted field is never closed");
    bad(f, "", "sharpe", 0, TB_EPARSE, ":1: empty");
    /* a NUL byte would silently cut a field short */
    tbt_write_file(f->dir, "sweep.csv", good_csv, f->csv, sizeof(f->csv));
    FILE *fp = fopen(f->csv, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)strlen(HEAD) + 3, SEEK_SET), 0);
    fputc(0, fp);
    fclose(fp);
    assert_int_equal(tb_sweep_html_write(f->csv, f->html, "sharpe", 3, f->err, sizeof(f->err)),
                     TB_EPARSE);
    assert_non_null(strstr(f->err, "sweep.csv:2:4: a NUL byte"));
    /* a missing file */
    tb_sweep_html_write("/nonexistent/sweep.csv", f->html, "sharpe", 1, f->err, sizeof(f->err));
    assert_int_equal(
        tb_sweep_html_write("/nonexistent/sweep.csv", f->html, "sharpe", 1, f->err, sizeof(f->err)),
        TB_EIO);
    assert_non_null(strstr(f->err, "/nonexistent/sweep.csv"));
    assert_int_equal(tb_sweep_html_write(NULL, f->html, "sharpe", 1, f->err, sizeof(f->err)),
                     TB_EINVAL);
}

static void test_replaces_atomically(void **state)
{
    fixture *f = *state;
    FILE *old = fopen(f->html, "w");
    assert_non_null(old);
    fputs("OLD PAGE", old);
    fclose(old);
    char *html = page(f, good_csv, "net_pnl", 3);
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "</html>\n"));
    free(html);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->html);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* an unwritable target: an error, nothing left behind */
    char nodir[600];
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/sweep.html", f->dir);
    assert_int_equal(tb_sweep_html_write(f->csv, nodir, "net_pnl", 3, f->err, sizeof(f->err)),
                     TB_EIO);
    assert_non_null(strstr(f->err, "no/such/dir/sweep.html.tmp: cannot write"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_by_sharpe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drawdown_ranks_ascending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf_and_words, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_than_15_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaces_atomically, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
