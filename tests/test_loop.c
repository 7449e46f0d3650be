/* The event loop and its clocks: timers fire in due order (start order on
 * ties) when a simulated clock is advanced past them, callbacks may start
 * more, stopped ones never fire, the wall clock fires on real time, and
 * SIGINT/SIGTERM arrive as events. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tradebus/loop.h"

typedef struct {
    tb_loop *loop;
    int64_t at[16];  /* due times seen, in firing order */
    int64_t now[16]; /* the clock inside each callback */
    int tag[16];
    int n;
    int chain; /* >0: each callback starts another timer 10 later */
} fired;

typedef struct {
    fired *log;
    int tag;
} timer_ctx;

static void on_timer(void *ctx, int64_t at)
{
    timer_ctx *t = ctx;
    fired *f = t->log;
    f->at[f->n] = at;
    f->now[f->n] = tb_loop_now(f->loop);
    f->tag[f->n] = t->tag;
    f->n++;
    if (f->chain > 0) {
        f->chain--;
        assert_int_equal(tb_loop_timer_start(f->loop, at + 10, on_timer, ctx, NULL), 0);
    }
}

static void test_loop_simulated_timers_fire_in_due_then_start_order(void **state)
{
    (void)state;
    fired f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f.loop), 0);
    timer_ctx a = {&f, 1}, b = {&f, 2}, c = {&f, 3};
    assert_int_equal(tb_loop_timer_start(f.loop, 300, on_timer, &a, NULL), 0);
    assert_int_equal(tb_loop_timer_start(f.loop, 100, on_timer, &b, NULL), 0);
    assert_int_equal(tb_loop_timer_start(f.loop, 300, on_timer, &c, NULL), 0);
    assert_int_equal(tb_loop_timers(f.loop), 3);
    int64_t due;
    assert_int_equal(tb_loop_next_due(f.loop, &due), 0);
    assert_int_equal(due, 100);

    assert_int_equal(tb_loop_advance(f.loop, 99), 0); /* nothing due yet */
    assert_int_equal(tb_loop_now(f.loop), 99);
    assert_int_equal(tb_loop_advance(f.loop, 300), 3); /* due at 300 included */
    assert_int_equal(f.n, 3);
    assert_int_equal(f.tag[0], 2);
    assert_int_equal(f.tag[1], 1); /* a tie: started first, fires first */
    assert_int_equal(f.tag[2], 3);
    assert_int_equal(f.at[0], 100);
    assert_int_equal(f.now[0], 100); /* the clock reads the timer's time */
    assert_int_equal(tb_loop_now(f.loop), 300);
    assert_int_equal(tb_loop_next_due(f.loop, &due), TB_ENOTFOUND);
    tb_loop_destroy(f.loop);
}

static void test_loop_timers_started_by_callbacks_fire_in_the_same_advance(void **state)
{
    (void)state;
    fired f;
    memset(&f, 0, sizeof(f));
    f.chain = 3;
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f.loop), 0);
    timer_ctx a = {&f, 1};
    assert_int_equal(tb_loop_timer_start(f.loop, 100, on_timer, &a, NULL), 0);
    assert_int_equal(tb_loop_advance(f.loop, 125), 3); /* 100, 110, 120; 130 waits */
    assert_int_equal(tb_loop_timers(f.loop), 1);
    assert_int_equal(tb_loop_drain(f.loop), 1);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.at[3], 130);
    tb_loop_destroy(f.loop);
}

static void test_loop_stopped_timer_never_fires(void **state)
{
    (void)state;
    fired f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f.loop), 0);
    timer_ctx a = {&f, 1}, b = {&f, 2};
    tb_timer_id ia, ib;
    assert_int_equal(tb_loop_timer_start(f.loop, 50, on_timer, &a, &ia), 0);
    assert_int_equal(tb_loop_timer_start(f.loop, 60, on_timer, &b, &ib), 0);
    assert_int_equal(tb_loop_timer_stop(f.loop, ia), 0);
    assert_int_equal(tb_loop_timer_stop(f.loop, ia), TB_ENOTFOUND);
    assert_int_equal(tb_loop_drain(f.loop), 1);
    assert_int_equal(f.tag[0], 2);
    assert_int_equal(tb_loop_timer_stop(f.loop, ib), TB_ENOTFOUND); /* fired */
    tb_loop_destroy(f.loop);
}

static void test_loop_past_timer_fires_at_next_advance_with_its_own_time(void **state)
{
    (void)state;
    fired f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &f.loop), 0);
    assert_int_equal(tb_loop_advance(f.loop, 1000), 0);
    timer_ctx a = {&f, 1};
    assert_int_equal(tb_loop_timer_start(f.loop, 400, on_timer, &a, NULL), 0);
    assert_int_equal(tb_loop_advance(f.loop, 1000), 1);
    assert_int_equal(f.at[0], 400);
    assert_int_equal(f.now[0], 1000); /* time never goes back */
    assert_int_equal(tb_loop_now(f.loop), 1000);
    tb_loop_destroy(f.loop);
}

static void test_loop_simulated_calls_refuse_a_wall_clock(void **state)
{
    (void)state;
    tb_loop *l;
    assert_int_equal(tb_loop_create(TB_CLOCK_WALL, &l), 0);
    assert_int_equal(tb_loop_advance(l, 5), TB_EMISUSE);
    assert_int_equal(tb_loop_drain(l), TB_EMISUSE);
    assert_int_equal(tb_loop_clock(l), TB_CLOCK_WALL);
    tb_loop_destroy(l);
}

static void stop_loop(void *ctx, int64_t at)
{
    fired *f = ctx;
    f->at[f->n++] = at;
    tb_loop_stop(f->loop);
}

static void test_loop_wall_timer_fires_when_real_time_comes(void **state)
{
    (void)state;
    fired f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(tb_loop_create(TB_CLOCK_WALL, &f.loop), 0);
    int64_t t0 = tb_loop_now(f.loop);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t real = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    assert_true(t0 >= real - 1000000000 && t0 <= real + 1000000000);
    const int64_t wait = 30 * 1000000; /* 30 ms */
    assert_int_equal(tb_loop_timer_start(f.loop, t0 + wait, stop_loop, &f, NULL), 0);
    assert_int_equal(tb_loop_run(f.loop), 0);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.at[0], t0 + wait);
    assert_true(tb_loop_now(f.loop) >= t0 + wait); /* never early */
    tb_loop_destroy(f.loop);
}

typedef struct {
    int got[4];
    int n;
} sigs;

static void on_sig(void *ctx, int signum)
{
    sigs *s = ctx;
    s->got[s->n++] = signum;
}

static void test_loop_sigint_and_sigterm_arrive_as_events(void **state)
{
    (void)state;
    tb_loop *l;
    sigs s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(tb_loop_create(TB_CLOCK_SIMULATED, &l), 0);
    assert_int_equal(tb_loop_watch_signals(l, on_sig, &s), 0);
    raise(SIGINT); /* would end the process without the watch */
    for (int i = 0; i < 100 && s.n < 1; i++)
        tb_loop_poll(l);
    raise(SIGTERM);
    for (int i = 0; i < 100 && s.n < 2; i++)
        tb_loop_poll(l);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.got[0], SIGINT);
    assert_int_equal(s.got[1], SIGTERM);
    tb_loop_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_simulated_timers_fire_in_due_then_start_order),
        cmocka_unit_test(test_loop_timers_started_by_callbacks_fire_in_the_same_advance),
        cmocka_unit_test(test_loop_stopped_timer_never_fires),
        cmocka_unit_test(test_loop_past_timer_fires_at_next_advance_with_its_own_time),
        cmocka_unit_test(test_loop_simulated_calls_refuse_a_wall_clock),
        cmocka_unit_test(test_loop_wall_timer_fires_when_real_time_comes),
        cmocka_unit_test(test_loop_sigint_and_sigterm_arrive_as_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
