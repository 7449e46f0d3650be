/* The library's helper threads (src/core/thread.c): started with every
 * signal blocked, so Ctrl-C reaches the caller's loop, and the caller's own
 * mask is left as it was. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>

#include "../src/core/thread.h"

static void *report_mask(void *arg)
{
    sigset_t *mask = arg;
    pthread_sigmask(SIG_BLOCK, NULL, mask);
    return NULL;
}

static void test_thread_blocks_signals_and_leaves_the_callers_mask(void **state)
{
    (void)state;
    sigset_t before, after, inside;
    sigemptyset(&inside);
    pthread_sigmask(SIG_BLOCK, NULL, &before);
    assert_int_equal(sigismember(&before, SIGINT), 0);
    pthread_t t;
    assert_int_equal(tb__thread_start(&t, report_mask, &inside), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sigismember(&inside, SIGINT), 1);
    assert_int_equal(sigismember(&inside, SIGTERM), 1);
    pthread_sigmask(SIG_BLOCK, NULL, &after);
    assert_int_equal(sigismember(&after, SIGINT), 0);
    assert_int_equal(sigismember(&after, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_blocks_signals_and_leaves_the_callers_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
