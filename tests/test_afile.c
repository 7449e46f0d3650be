/* Output files written by a thread of their own (src/core/afile.c): the
 * bytes arrive exactly and in order whatever the sizes of the writes; a
 * write that fails (a full disk) is reported by fclose with its errno, never
 * lost; a file that cannot be created is NULL with errno. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_test_support.h"

#include "../src/core/afile.h"

/* Byte i of the expected content: not periodic in any slot size. */
static unsigned char byte_at(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

/* A fresh temp folder (dir) and NAME in it opened through tb__afile_open. */
static FILE *open_in_temp(char *dir, size_t dirlen, const char *name, char *path, size_t pathlen,
                          tb__afile **af)
{
    tbt_temp_dir(dir, dirlen);
    snprintf(path, pathlen, "%s/%s", dir, name);
    *af = NULL;
    FILE *f = tb__afile_open(path, af);
    assert_non_null(f);
    assert_non_null(*af);
    return f;
}

static void test_bytes_arrive_exactly_and_in_order(void **state)
{
    (void)state;
    char dir[128], path[256];
    tb__afile *af;
    FILE *f = open_in_temp(dir, sizeof dir, "out.csv", path, sizeof path, &af);
    /* ~5 MB, in writes of 1 byte to 1 MB (larger than a slot), through
     * fwrite, fputc and fprintf, with a flush now and then. */
    const size_t total = 5u << 20;
    unsigned char *want = malloc(total);
    for (size_t i = 0; i < total; i++)
        want[i] = byte_at(i);
    size_t at = 0, k = 0;
    while (at < total) {
        size_t n = (k % 7 == 3) ? (1u << 20) : (k * 7919) % 5000 + 1;
        if (n > total - at) n = total - at;
        if (n == 1)
            assert_int_equal(fputc(want[at], f), want[at]);
        else if (k % 11 == 5) {
            assert_int_equal(fprintf(f, "%c", want[at]), 1);
            n = 1;
        } else
            assert_int_equal(fwrite(&want[at], 1, n, f), n);
        if (k % 13 == 0) assert_int_equal(fflush(f), 0);
        at += n;
        k++;
    }
    tb__afile_sync_on_close(af);
    assert_int_equal(fclose(f), 0);
    FILE *r = fopen(path, "rb");
    assert_non_null(r);
    unsigned char *got = malloc(total + 1);
    assert_int_equal(fread(got, 1, total + 1, r), total);
    fclose(r);
    assert_memory_equal(got, want, total);
    free(got);
    free(want);
    tbt_remove_dir(dir);
}

static void test_a_full_disk_fails_fclose_with_enospc(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0) skip();
    tb__afile *af = NULL;
    FILE *f = tb__afile_open("/dev/full", &af);
    assert_non_null(f);
    char line[100];
    memset(line, 'x', sizeof line);
    /* 2 MB: more than the slots hold, so writes reach the disk meanwhile. */
    for (int i = 0; i < 20000; i++)
        fwrite(line, 1, sizeof line, f);
    /* The failure comes back at close whatever the writes said. */
    tb__afile_sync_on_close(af);
    errno = 0;
    assert_int_equal(fclose(f), EOF);
    assert_int_equal(errno, ENOSPC);
}

static void test_a_file_that_cannot_be_created_is_null(void **state)
{
    (void)state;
    tb__afile *af = (tb__afile *)&af;
    errno = 0;
    FILE *f = tb__afile_open("/nonexistent-dir-tradebus/out.csv", &af);
    assert_null(f);
    assert_null(af);
    assert_int_equal(errno, ENOENT);
}

/* A FILE closed without sync_on_close (a run abandoned: its staged files are
 * removed) still gets every byte written before close returns. */
static void test_close_without_sync_writes_everything(void **state)
{
    (void)state;
    char dir[128], path[256];
    tb__afile *af;
    FILE *f = open_in_temp(dir, sizeof dir, "events.jsonl", path, sizeof path, &af);
    for (int i = 0; i < 100000; i++)
        fprintf(f, "{\"n\":%d}\n", i);
    assert_int_equal(fclose(f), 0);
    FILE *r = fopen(path, "r");
    assert_non_null(r);
    char buf[64];
    int n = 0, bad = 0;
    while (fgets(buf, sizeof buf, r)) {
        char want[64];
        snprintf(want, sizeof want, "{\"n\":%d}\n", n++);
        bad |= strcmp(buf, want) != 0;
    }
    fclose(r);
    assert_int_equal(n, 100000);
    assert_false(bad);
    tbt_remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_arrive_exactly_and_in_order),
        cmocka_unit_test(test_a_full_disk_fails_fclose_with_enospc),
        cmocka_unit_test(test_a_file_that_cannot_be_created_is_null),
        cmocka_unit_test(test_close_without_sync_writes_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
