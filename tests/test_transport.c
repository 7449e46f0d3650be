/* The transport registry (transport.h): [bus] type picks a type among the
 * built-ins and those a program registers (tb_config.extra_transports); the
 * type checks its own [bus] keys, config check shows them, and an op a type
 * leaves out says so. The type registered here is a trivial in-memory one
 * defined in this file: one message list shared by its transports. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb_test_support.h"
#include "tradebus/config.h"
#include "tradebus/transport.h"

/* ---- a trivial in-memory transport type ------------------------------------ */

#define BOX_CAP 16

typedef struct {
    char rk[TB_MSG_KEY_LEN], id[TB_MSG_ID_LEN], body[64];
    size_t len;
    int taken;
} box_msg;

/* The "broker": what the type's ctx points at. */
typedef struct {
    box_msg m[BOX_CAP];
    size_t n;
    int created;                    /* transports created */
    char run[64], component[64];    /* what the last create was given */
    char capacity[16], pattern[64]; /* its [bus] capacity and first binding */
    int delivery_limit;
} box;

typedef struct {
    tb_transport base;
    box *b;
    int consumer;
    tb_transport_stats st;
} box_tp;

static int box_publish(tb_transport *t, const tb_msg_out *o)
{
    box_tp *bt = (box_tp *)t;
    if (bt->b->n == BOX_CAP || o->len >= sizeof(bt->b->m[0].body)) return TB_EFULL;
    box_msg *m = &bt->b->m[bt->b->n++];
    memset(m, 0, sizeof(*m));
    snprintf(m->rk, sizeof(m->rk), "%s", o->routing_key);
    snprintf(m->id, sizeof(m->id), "%s", o->message_id);
    memcpy(m->body, o->body, o->len);
    m->len = o->len;
    bt->st.published++;
    return 0;
}

static int box_flush(tb_transport *t, int timeout_ms)
{
    (void)t;
    (void)timeout_ms;
    return 0;
}

static int box_poll(tb_transport *t, tb_msg_in *out, int timeout_ms)
{
    (void)timeout_ms;
    box_tp *bt = (box_tp *)t;
    if (!bt->consumer) return TB_EMISUSE;
    for (size_t i = 0; i < bt->b->n; i++) {
        box_msg *m = &bt->b->m[i];
        if (m->taken) continue;
        m->taken = 1;
        memset(out, 0, sizeof(*out));
        out->tag = i + 1;
        out->epoch = 1;
        snprintf(out->routing_key, sizeof(out->routing_key), "%s", m->rk);
        snprintf(out->message_id, sizeof(out->message_id), "%s", m->id);
        out->body = m->body;
        out->len = m->len;
        bt->st.delivered++;
        return 0;
    }
    return TB_ETIMEOUT;
}

static int box_ack(tb_transport *t, uint64_t tag, uint32_t epoch)
{
    (void)tag;
    (void)epoch;
    ((box_tp *)t)->st.acked++;
    return 0;
}

static int box_reject(tb_transport *t, uint64_t tag, uint32_t epoch, int requeue)
{
    (void)epoch;
    box_tp *bt = (box_tp *)t;
    if (requeue && tag >= 1 && tag <= bt->b->n) bt->b->m[tag - 1].taken = 0;
    bt->st.rejected++;
    return 0;
}

static uint32_t box_epoch(tb_transport *t)
{
    (void)t;
    return 1;
}

static tb_transport_stats box_stats(const tb_transport *t)
{
    return ((const box_tp *)t)->st;
}

static void box_destroy(tb_transport *t)
{
    free(t);
}

static const tb_transport_ops box_ops = {box_publish, box_flush, box_poll,  box_ack,
                                         box_reject,  box_epoch, box_stats, box_destroy};

static int box_check_key(const tb_transport_type *tt, const char *key, const char *value,
                         char *shown, size_t shownlen, char *msg, size_t msglen)
{
    (void)tt;
    if (strcmp(key, "capacity") != 0) return 0;
    char *end;
    long v = strtol(value, &end, 10);
    if (end == value || *end || v < 1 || v > BOX_CAP) {
        snprintf(msg, msglen, "'%s' is not a capacity (1 to %d messages)", value, BOX_CAP);
        return TB_ECONFIG;
    }
    snprintf(shown, shownlen, "%ld", v);
    return 0;
}

static int box_create(const tb_transport_type *tt, const tb_transport_params *p, tb_transport **out,
                      char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    box *b = tt->ctx;
    box_tp *bt = calloc(1, sizeof(*bt));
    if (!bt) return TB_ENOMEM;
    bt->base.ops = &box_ops;
    bt->b = b;
    bt->consumer = p->component != NULL;
    b->created++;
    snprintf(b->run, sizeof(b->run), "%s", p->run ? p->run : "");
    snprintf(b->component, sizeof(b->component), "%s", p->component ? p->component : "");
    const char *cap = tb_transport_param_get(p, "capacity");
    snprintf(b->capacity, sizeof(b->capacity), "%s", cap ? cap : "");
    snprintf(b->pattern, sizeof(b->pattern), "%s", p->nbindings ? p->bindings[0] : "");
    b->delivery_limit = p->delivery_limit;
    *out = &bt->base;
    return 0;
}

static const tb_transport_key box_keys[] = {{"capacity", "16"}, {NULL, NULL}};

/* No describe, no admin ops: the wrappers must say so. */
static tb_transport_type box_type = {
    .name = "mem-test",
    .help = "a list of messages in this test",
    .keys = box_keys,
    .check_key = box_check_key,
    .create = box_create,
};

/* ---- fixture ------------------------------------------------------------------- */

typedef struct {
    tb_config cfg;
    box b;
    const tb_transport_type *extra[1];
    char err[512];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    box_type.ctx = &f->b;
    f->extra[0] = &box_type;
    tb_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tb_config_free(&f->cfg);
    free(f);
    return 0;
}

#define MINIMAL_SETS                                                                               \
    "backtest.data=bars.csv", "strategy.s.type=sma_cross", "strategy.s.symbol=BTCUSDT"

/* Sets every assignment (NULL-terminated), registers the test's type when
 * asked, and builds: the build's result, its message in f->err. */
static int build(fixture *f, int register_box, const char *const *sets)
{
    for (size_t i = 0; sets[i]; i++)
        if (tb_config_set(&f->cfg, sets[i], f->err, sizeof(f->err)) != 0)
            fail_msg("--set %s: %s", sets[i], f->err);
    if (register_box) {
        f->cfg.extra_transports = f->extra;
        f->cfg.nextra_transports = 1;
    }
    return tb_config_build(&f->cfg, f->err, sizeof(f->err));
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_transport_registered_type_is_selected_by_bus_type(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS,    "bus.type=MEM-TEST",    "bus.capacity=08",
                                       "bus.name=run1", "bus.delivery_limit=3", NULL};
    if (build(f, 1, sets) != 0) fail_msg("%s", f->err);
    assert_ptr_equal(f->cfg.transport, &box_type);
    assert_int_equal(f->cfg.nbus_params, 1);

    /* What a process of the run attaches with: the run's settings and the
     * type's own key, as written. */
    tb_transport_params tp;
    tb_config_transport_params(&f->cfg, "orders", &tp);
    static const char *const pats[] = {"OrderFilled.#"};
    tp.bindings = pats;
    tp.nbindings = 1;
    tb_transport *con = NULL, *pub = NULL;
    assert_int_equal(tb_transport_open(f->cfg.transport, &tp, &con, f->err, sizeof(f->err)), 0);
    assert_string_equal(f->b.run, "run1");
    assert_string_equal(f->b.component, "orders");
    assert_string_equal(f->b.capacity, "08");
    assert_string_equal(f->b.pattern, "OrderFilled.#");
    assert_int_equal(f->b.delivery_limit, 3);
    tb_config_transport_params(&f->cfg, NULL, &tp);
    assert_int_equal(tb_transport_open(f->cfg.transport, &tp, &pub, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->b.created, 2);

    /* And it carries messages like any transport. */
    tb_msg_out o = {"OrderFilled.BTCUSDT", "m1", "OrderFilled", NULL, NULL, NULL, "{}", 2};
    assert_int_equal(tb_transport_publish(pub, &o), 0);
    assert_int_equal(tb_transport_flush(pub, 0), 0);
    tb_msg_in m;
    assert_int_equal(tb_transport_poll(con, &m, 0), 0);
    assert_string_equal(m.message_id, "m1");
    assert_memory_equal(m.body, "{}", 2);
    assert_int_equal(tb_transport_ack(con, m.tag, m.epoch), 0);
    assert_int_equal(tb_transport_poll(con, &m, 0), TB_ETIMEOUT);
    tb_transport_destroy(pub);
    tb_transport_destroy(con);

    /* config check names the type and shows its key as the type does. */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(tb_config_dump(&f->cfg, out), 0);
    fclose(out);
    assert_non_null(strstr(text, "type = mem-test"));
    assert_non_null(strstr(text, "capacity = 8"));
    assert_non_null(strstr(text, "(default 16)"));
    assert_null(strstr(text, "\nurl =")); /* amqp's key (not [live] rest_url) */
    free(text);
}

static void test_transport_unknown_type_lists_known_types(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS, "bus.type=kafka", NULL};
    assert_int_equal(build(f, 1, sets), TB_ECONFIG);
    assert_string_equal(f->err, "--set: [bus] type: unknown transport type 'kafka' "
                                "(known: memory, amqp, mem-test)");
}

static void test_transport_unknown_type_without_registered_ones(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS, "bus.type=mem-test", NULL};
    assert_int_equal(build(f, 0, sets), TB_ECONFIG);
    assert_string_equal(
        f->err, "--set: [bus] type: unknown transport type 'mem-test' (known: memory, amqp)");
}

static void test_transport_type_checks_its_own_keys(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS, "bus.type=mem-test", "bus.capacity=lots",
                                       NULL};
    assert_int_equal(build(f, 1, sets), TB_ECONFIG);
    assert_string_equal(f->err,
                        "--set: [bus] capacity: 'lots' is not a capacity (1 to 16 messages)");
}

static void test_transport_key_of_no_known_type_is_unknown(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS, "bus.capacity=8", NULL};
    assert_int_equal(build(f, 0, sets), TB_ECONFIG);
    assert_string_equal(f->err, "--set: [bus] capacity: unknown key");
}

/* A broker config switched to one process keeps its broker's keys: checked
 * by their type, handed to none. */
static void test_transport_keys_of_another_type_are_checked_not_used(void **state)
{
    fixture *f = *state;
    static const char *const sets[] = {MINIMAL_SETS, "bus.url=amqp://u:pw@mq/", "bus.type=memory",
                                       "bus.prefetch=10", NULL};
    if (build(f, 0, sets) != 0) fail_msg("%s", f->err);
    assert_string_equal(f->cfg.transport->name, "memory");
    assert_int_equal(f->cfg.nbus_params, 0);
    tb_config_free(&f->cfg);
    tb_config_init(&f->cfg);
    static const char *const bad[] = {MINIMAL_SETS, "bus.type=memory", "bus.url=http://u:pw@mq/",
                                      NULL};
    assert_int_equal(build(f, 0, bad), TB_ECONFIG);
    /* The reason shows the URL with its password masked. */
    assert_string_equal(f->err,
                        "--set: [bus] url: 'http://u:***@mq/' must start with amqp:// or amqps://");
}

static void test_transport_missing_ops_say_not_supported(void **state)
{
    fixture *f = *state;
    tb_transport_params tp;
    memset(&tp, 0, sizeof(tp));
    long msgs, cons;
    assert_int_equal(
        tb_transport_queue_info(&box_type, &tp, "q", &msgs, &cons, f->err, sizeof(f->err)),
        TB_ENOTSUP);
    assert_string_equal(f->err, "looking at a queue is not supported by transport mem-test");
    assert_int_equal(
        tb_transport_queue_move(&box_type, &tp, "a", "b", NULL, f->err, sizeof(f->err)),
        TB_ENOTSUP);
    assert_int_equal(tb_transport_delete_run(&box_type, &tp, f->err, sizeof(f->err)), TB_ENOTSUP);
    char where[64];
    tb_transport_describe(&box_type, &tp, where, sizeof(where));
    assert_string_equal(where, "mem-test");

    /* memory is the in-process bus: nothing to attach. */
    const tb_transport_type *mem = tb_transport_builtin("Memory");
    assert_non_null(mem);
    tb_transport *t = (tb_transport *)1;
    assert_int_equal(tb_transport_open(mem, &tp, &t, f->err, sizeof(f->err)), TB_ENOTSUP);
    assert_null(t);
    assert_non_null(strstr(f->err, "not supported by transport memory"));
    assert_string_equal(tb_strerror(TB_ENOTSUP), "not supported");
}

static void test_transport_builtins(void **state)
{
    (void)state;
    assert_string_equal(tb_transport_builtin_at(0)->name, "memory");
    assert_string_equal(tb_transport_builtin_at(1)->name, "amqp");
    assert_null(tb_transport_builtin_at(2));
    assert_null(tb_transport_builtin("kafka"));
    /* amqp says where it leads without the password (no broker needed). */
    const tb_transport_type *amqp = tb_transport_builtin("AMQP");
    assert_non_null(amqp);
    tb_transport_param url = {"url", "amqp://bob:s3cr3t@mq1:5672/"};
    tb_transport_params tp = {.params = &url, .nparams = 1};
    char where[128];
    tb_transport_describe(amqp, &tp, where, sizeof(where));
    assert_string_equal(where, "amqp://bob:***@mq1:5672/");
    tp.nparams = 0;
    tb_transport_describe(amqp, &tp, where, sizeof(where));
    assert_string_equal(where, "amqp://127.0.0.1:5672/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transport_registered_type_is_selected_by_bus_type,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_unknown_type_lists_known_types, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_unknown_type_without_registered_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_type_checks_its_own_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_key_of_no_known_type_is_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_keys_of_another_type_are_checked_not_used,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_missing_ops_say_not_supported, setup,
                                        teardown),
        cmocka_unit_test(test_transport_builtins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
