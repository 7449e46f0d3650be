/* Wires the embedded default pipeline and runs backtests over data files. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "../core/hot.h"
#include "../core/errbuf.h"
#include "../core/event_int.h"
#include "journaled.h"
#include "../components/monitor_int.h"
#include "outset.h"
#include "pipeline_int.h"
#include "../report/report_int.h"
#include "tradebus/backtest.h"
#include "tradebus/external.h"
#include "tradebus/legacy.h"
#include "tradebus/monitor.h"
#include "tradebus/orders.h"
#include "tradebus/pnlbook.h"
#include "tradebus/position.h"
#include "tradebus/report.h"
#include "tradebus/secret.h"
#include "tradebus/risk.h"
#include "tradebus/signal.h"

struct tb_pipeline {
    const tb_config *cfg;
    tb_bus *bus;
    tb_exchange *exchange;
    tb_risk_manager *risk;
    tb_order_manager *orders;
    tb_position_manager *positions;
    tb_signal_generator *signals;
    tb_monitor *monitor;
    tb_loop *loop;
    int own_loop, simulated;
    uint64_t bars;
    /* The bar's event, zeroed once: clearing all 328 bytes per bar cost more
     * than copying the bar in. pushing guards it against a nested push. */
    tb_event md_ev;
    int pushing;
    tb_pnl_book *book;           /* realized PnL across position lives, for the summary */
    tb_legacy_adapter *adapters; /* one per strategy instance: legacy:NAME types */
    int sub_lives;
    /* [component.NAME] programs, and the bus's publisher names: the
     * built-ins' then theirs, so each has its own id counter. */
    tb_external **externals;
    size_t nexternals;
    const char **publishers;
    /* With positions replaced by a program: the last PositionUpdate of each
     * (strategy, symbol), for the summary (the Position Manager's figures). */
    tb_position_update *seen;
    size_t nseen, seen_cap;
    tb_decimal seen_realized;
    /* ...and the last close of each symbol: a program publishes an update
     * when a fill moves a position, while the Position Manager marks its
     * positions at every bar; the summary marks them as it would. */
    struct last_close {
        char symbol[TB_SYMBOL_LEN];
        tb_decimal close;
    } * closes;
    size_t ncloses, closes_cap;
    int sub_closes;
};

/* The last update of each (strategy, symbol), and the realized total. */
static int track_position(tb_pipeline *p, const tb_position_update *u, tb_decimal before)
{
    size_t i = 0;
    while (i < p->nseen && (strcmp(p->seen[i].strategy_id, u->strategy_id) != 0 ||
                            strcmp(p->seen[i].symbol, u->symbol) != 0))
        i++;
    if (i == p->nseen) {
        if (p->nseen == p->seen_cap) {
            size_t cap = p->seen_cap ? 2 * p->seen_cap : 8;
            tb_position_update *n = realloc(p->seen, cap * sizeof(*n));
            if (!n) return TB_ENOMEM;
            p->seen = n;
            p->seen_cap = cap;
        }
        p->nseen++;
    }
    p->seen[i] = *u;
    tb_decimal after = tb_pnl_book_total(p->book, u->strategy_id, u->symbol), d;
    if (tb_dec_sub(after, before, &d) == 0) tb_dec_add(p->seen_realized, d, &p->seen_realized);
    return 0;
}

static int on_close(const tb_event *ev, void *ctx)
{
    tb_pipeline *p = ctx;
    const tb_market_data *md = &ev->u.market_data;
    size_t i = 0;
    while (i < p->ncloses && strcmp(p->closes[i].symbol, md->symbol) != 0)
        i++;
    if (i == p->ncloses) {
        if (p->ncloses == p->closes_cap) {
            size_t cap = p->closes_cap ? 2 * p->closes_cap : 8;
            struct last_close *n = realloc(p->closes, cap * sizeof(*n));
            if (!n) return TB_ENOMEM;
            p->closes = n;
            p->closes_cap = cap;
        }
        memcpy(p->closes[i].symbol, md->symbol, sizeof(p->closes[i].symbol));
        p->ncloses++;
    }
    p->closes[i].close = md->close;
    return 0;
}

/* A tracked position marked at its symbol's last close, as the Position
 * Manager marks its own (one whose PnL would overflow keeps its mark). */
static void mark_seen(const tb_pipeline *p, tb_position_update *u)
{
    for (size_t i = 0; i < p->ncloses; i++) {
        if (strcmp(p->closes[i].symbol, u->symbol) != 0) continue;
        tb_decimal diff, unrealized = 0;
        if (u->current_quantity != 0 &&
            (tb_dec_sub(p->closes[i].close, u->entry_price, &diff) != 0 ||
             tb_dec_mul(diff, u->current_quantity, TB_ROUND_HALF_UP, &unrealized) != 0))
            return;
        u->mark_price = p->closes[i].close;
        u->unrealized_pnl = unrealized;
        return;
    }
}

static int on_position(const tb_event *ev, void *ctx)
{
    tb_pipeline *p = ctx;
    const tb_position_update *u = &ev->u.position;
    tb_decimal before = p->positions ? 0 : tb_pnl_book_total(p->book, u->strategy_id, u->symbol);
    int rc = tb_pnl_book_apply(p->book, u, NULL);
    if (!rc && !p->positions && (p->cfg->replaced & TB_ROLE_POSITIONS))
        rc = track_position(p, u, before);
    return rc;
}

static const tb_symbol_rules *rules_for(const tb_config *cfg, const char *symbol)
{
    for (size_t i = 0; i < cfg->nsymbols; i++)
        if (strcmp(cfg->symbols[i].symbol, symbol) == 0) return &cfg->symbols[i];
    return NULL;
}

static tb_decimal risk_equity(const void *ctx)
{
    return tb_risk_manager_equity(ctx);
}

static tb_decimal risk_cash(const void *ctx)
{
    return tb_risk_manager_cash(ctx);
}

static tb_decimal exchange_cash(const void *ctx)
{
    const tb_pipeline *p = ctx;
    tb_decimal v = 0;
    if (tb_exchange_cash(p->exchange, &v) != 0) v = 0;
    return v;
}

/* Equity as the exchange reports it (0 if it cannot: sizing then finds
 * every order too small rather than guessing). */
static tb_decimal exchange_equity(const void *ctx)
{
    const tb_pipeline *p = ctx;
    tb_decimal v = 0;
    if (tb_exchange_equity(p->exchange, &v) != 0) v = 0;
    return v;
}

/* Sizing reads equity, and so may a script (cash(), equity(),
 * target_pct()): a process hosting the Signal Generator keeps a Risk
 * Manager for it (fed the same events) when any strategy sizes or is one. */
static int sizes(const tb_config *cfg)
{
    for (size_t i = 0; i < cfg->nstrategies; i++)
        if (cfg->strategies[i].size_pct > 0 || cfg->strategies[i].risk_per_trade_pct > 0 ||
            strcmp(cfg->strategies[i].type, "lua") == 0)
            return 1;
    return 0;
}

static tb_decimal tick_for(const tb_config *cfg, const char *symbol)
{
    for (size_t i = 0; i < cfg->nsymbols; i++)
        if (strcmp(cfg->symbols[i].symbol, symbol) == 0) return cfg->symbols[i].tick_size;
    return 0;
}

static tb_trading_state risk_state(const void *ctx)
{
    return tb_risk_manager_state(ctx);
}

/* The exchange the config's [exchange] type names and the Order Manager in
 * front of it, whose pre-trade checks ask p->risk. */
static int create_orders(tb_pipeline *p, const tb_config *cfg, char *err, size_t errlen)
{
    int rc = tb_exchange_create_from_config(cfg, p->loop, &p->exchange, err, errlen);
    if (rc) return rc;
    tb_order_manager_config oc;
    tb_order_manager_config_init(&oc);
    oc.exchange = p->exchange;
    oc.pretrade = tb_risk_manager_pretrade;
    oc.pretrade_view = tb_risk_manager_pretrade_view;
    oc.pretrade_ctx = p->risk;
    oc.trading_state = risk_state;
    oc.halt_close_all = cfg->risk.halt_close_all;
    size_t nrules = 0;
    for (size_t i = 0; i < cfg->nstrategies; i++)
        nrules += cfg->strategies[i].nsymbols;
    tb_order_strategy *rules = calloc(nrules ? nrules : 1, sizeof(*rules));
    if (!rules) return TB_ENOMEM;
    /* Order handling is per (strategy, symbol): one rule per symbol. */
    nrules = 0;
    for (size_t i = 0; i < cfg->nstrategies; i++)
        for (size_t m = 0; m < cfg->strategies[i].nsymbols; m++) {
            const tb_strategy_config *sc = &cfg->strategies[i];
            tb_order_strategy *r = &rules[nrules++];
            memcpy(r->strategy_id, sc->id, sizeof(r->strategy_id));
            memcpy(r->symbol, sc->symbols[m], sizeof(r->symbol));
            r->keep = sc->on_new_signal == TB_ON_SIGNAL_KEEP;
            r->time_in_force = sc->time_in_force;
            r->expire_after_bars = sc->expire_after_bars;
            r->stop_loss_pct = sc->stop_loss_pct;
            r->take_profit_pct = sc->take_profit_pct;
            r->trailing_stop_pct = sc->trailing_stop_pct;
            r->tick_size = tick_for(cfg, sc->symbols[m]);
        }
    oc.strategies = rules;
    oc.nstrategies = nrules;
    oc.max_attempts = cfg->order_max_attempts;
    oc.base_delay = cfg->order_base_delay;
    oc.max_delay = cfg->order_max_delay;
    oc.max_total = cfg->order_max_total;
    oc.retry_seed = cfg->order_retry_seed;
    oc.loop = p->loop;
    rc = tb_order_manager_create(p->bus, &oc, &p->orders);
    free(rules); /* copied by the manager */
    if (rc == TB_EINVAL) tb__errf(err, errlen, "[strategy.*]: invalid order handling settings");
    return rc;
}

const char *const *tb_pipeline_publishers(void)
{
    return tb__component_publishers();
}

/* The built-ins' publisher names, then the components': a program's
 * events take their ids from a counter of their own. */
static int make_publishers(tb_pipeline *p, const tb_config *cfg)
{
    const char *const *b = tb__component_publishers();
    size_t nb = 0;
    while (b[nb])
        nb++;
    p->publishers = calloc(nb + cfg->ncomponents + 1, sizeof(*p->publishers));
    if (!p->publishers) return TB_ENOMEM;
    for (size_t i = 0; i < nb; i++)
        p->publishers[i] = b[i];
    for (size_t i = 0; i < cfg->ncomponents; i++)
        p->publishers[nb + i] = cfg->components[i].name;
    return 0;
}

/* The programs of [component.NAME] (only = one of them, or NULL for all). */
static int create_externals(tb_pipeline *p, const tb_config *cfg, const tb_pipeline_options *opt,
                            const char *only, char *err, size_t errlen)
{
    p->externals = calloc(cfg->ncomponents ? cfg->ncomponents : 1, sizeof(*p->externals));
    if (!p->externals) return TB_ENOMEM;
    for (size_t i = 0; i < cfg->ncomponents; i++) {
        const tb_component_config *c = &cfg->components[i];
        if (only && strcmp(only, c->name) != 0) continue;
        tb_external_config xc;
        tb_external_config_init(&xc);
        xc.name = c->name;
        xc.command = c->command;
        xc.subscribes = c->subscribes;
        xc.publishes = c->publishes;
        xc.timeout_ns = (int64_t)c->timeout_ms * 1000000;
        xc.max_line = (size_t)c->max_line_bytes;
        xc.max_reply = (size_t)c->max_reply_events;
        xc.stop_on_bad_event = c->stop_on_bad_event;
        xc.window = (size_t)c->window;
        if (opt) {
            xc.log = opt->component_log;
            xc.log_ctx = opt->component_log_ctx;
        }
        int rc = tb_external_create(p->bus, &xc, &p->externals[p->nexternals], err, errlen);
        if (rc) {
            if (!err || !errlen || !err[0])
                tb__errf(err, errlen, "[component.%s]: cannot start it: %s", c->name,
                         tb_strerror(rc));
            return rc;
        }
        p->nexternals++;
    }
    if (only && !p->nexternals) {
        tb__errf(err, errlen, "no [component.%s] in the config", only);
        return TB_ECONFIG;
    }
    return 0;
}

const char *tb_pipeline_failure(const tb_pipeline *p)
{
    for (size_t i = 0; p && i < p->nexternals; i++)
        if (tb_external_failure(p->externals[i])) return tb_external_failure(p->externals[i]);
    return NULL;
}

/* Ends every program's input and waits for it to exit: the first failure. */
static int finish_externals(tb_pipeline *p)
{
    int first = 0;
    for (size_t i = 0; i < p->nexternals; i++) {
        int rc = tb_external_finish(p->externals[i]);
        if (rc && !first) first = rc;
    }
    return first;
}

int tb_pipeline_create(const tb_config *cfg, const tb_pipeline_options *opt, tb_pipeline **out,
                       char *err, size_t errlen)
{
    int rc;
    /* One program alone (a distributed run's process) holds the roles
     * asked for, maybe none; else 0 means every built-in a program does
     * not replace, and every program. */
    const char *only = opt ? opt->component : NULL;
    unsigned roles =
        only ? opt->roles : (opt && opt->roles ? opt->roles : TB_ROLE_ALL & ~cfg->replaced);
    tb_pipeline *p = calloc(1, sizeof(*p));
    if (!p) return TB_ENOMEM;
    p->cfg = cfg;
    tb_event_init(&p->md_ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    if ((rc = make_publishers(p, cfg)) != 0) goto fail;
    if (opt && opt->loop) {
        p->loop = opt->loop;
    } else {
        if ((rc = tb_loop_create(TB_CLOCK_SIMULATED, &p->loop)) != 0) goto fail;
        p->own_loop = 1;
    }
    p->simulated = tb_loop_clock(p->loop) == TB_CLOCK_SIMULATED;

    tb_bus_config bc;
    tb_bus_config_init(&bc);
    bc.max_retries = cfg->max_retries;
    bc.ring_capacity = cfg->ring_capacity ? cfg->ring_capacity : 1024;
    bc.node_id = cfg->node_id ? cfg->node_id : 1;
    bc.publishers = p->publishers;
    if (opt) {
        bc.on_dead_letter = opt->on_dead_letter;
        bc.on_dead_letter_ctx = opt->on_dead_letter_ctx;
        bc.outbox = opt->outbox;
        bc.outbox_ctx = opt->outbox_ctx;
        if (opt->node_id) bc.node_id = opt->node_id;
    }
    if ((rc = tb_bus_create(&bc, &p->bus)) != 0) goto fail;
    /* Credentials are checked now (present, private) so a live run would not
     * fail at its first order; the simulated exchange has no use for them,
     * so they are wiped at once. Messages name the key, never the value. */
    const char *specs[2] = {cfg->api_key_spec, cfg->api_secret_spec};
    for (int i = 0; i < 2; i++) {
        if (!specs[i]) continue;
        tb_secret sec;
        char why[256];
        rc = tb_secret_load(&sec, specs[i], why, sizeof(why));
        tb_secret_wipe(&sec);
        if (rc) {
            tb__errf(err, errlen, "[exchange] %s: %s", i ? "api_secret" : "api_key", why);
            rc = TB_ECONFIG;
            goto fail;
        }
    }
    if (((roles & (TB_ROLE_RISK | TB_ROLE_ORDERS)) || ((roles & TB_ROLE_SIGNAL) && sizes(cfg))) &&
        (rc = tb_risk_manager_create(p->bus, &cfg->risk, &p->risk)) != 0) {
        tb__errf(err, errlen, "[risk]: invalid limits (%s)", tb_strerror(rc));
        goto fail;
    }
    if ((roles & TB_ROLE_ORDERS) && (rc = create_orders(p, cfg, err, errlen)) != 0) goto fail;
    if ((roles & TB_ROLE_POSITIONS) &&
        (rc = tb_position_manager_create(p->bus, &p->positions)) != 0)
        goto fail;
    if ((roles & TB_ROLE_SIGNAL) && (rc = tb_signal_generator_create(p->bus, &p->signals)) != 0)
        goto fail;
    /* Sizing reads equity at the decision's close, this bar's fills
     * included: the exchange has them as they happen, while the Risk
     * Manager hears of them after every strategy has seen the bar. A
     * process without the exchange (distributed), or with one that cannot
     * tell its equity, has the Risk Manager's. */
    tb_decimal probe;
    if (p->signals && p->exchange && tb_exchange_equity(p->exchange, &probe) != TB_EMISUSE)
        tb_signal_generator_set_equity(p->signals, exchange_equity, p);
    else if (p->signals && p->risk)
        tb_signal_generator_set_equity(p->signals, risk_equity, p->risk);
    if (p->signals && p->exchange && tb_exchange_cash(p->exchange, &probe) != TB_EMISUSE)
        tb_signal_generator_set_cash(p->signals, exchange_cash, p);
    else if (p->signals && p->risk)
        tb_signal_generator_set_cash(p->signals, risk_cash, p->risk);
    if (p->signals && p->risk)
        tb_signal_generator_set_trading_state(p->signals, risk_state, p->risk);
    p->adapters = calloc(cfg->nstrategies ? cfg->nstrategies : 1, sizeof(*p->adapters));
    if (!p->adapters) {
        rc = TB_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        const tb_strategy_config *sc = &cfg->strategies[i];
        const tb_strategy_vtable *vt = tb_config_resolve_type(cfg, sc->type, &p->adapters[i]);
        if (!vt) {
            tb__errf(err, errlen, "[strategy.%s] type: unknown strategy type '%s'", sc->id,
                     sc->type);
            rc = TB_ECONFIG;
            goto fail;
        }
        tb_strategy_instance in;
        memset(&in, 0, sizeof(in));
        in.strategy_id = sc->id;
        in.symbol = sc->symbol;
        in.order_type = sc->order_type;
        in.limit_offset_bps = sc->limit_offset_bps;
        in.tick_size = tick_for(cfg, sc->symbol);
        in.emit_hold = sc->emit_hold;
        in.size_pct = sc->size_pct;
        in.risk_pct = sc->risk_per_trade_pct;
        in.stop_pct = sc->stop_loss_pct > 0 ? sc->stop_loss_pct : sc->trailing_stop_pct;
        const tb_symbol_rules *rules = rules_for(cfg, sc->symbol);
        if (rules) {
            in.step_size = rules->step_size;
            in.min_notional = rules->min_notional;
        }
        char serr[200] = "";
        rc = p->signals ? tb_signal_generator_add(p->signals, vt, &in, sc->params, sc->nparams,
                                                  serr, sizeof(serr))
                        : 0;
        if (rc) {
            tb__errf(err, errlen, "[strategy.%s] %s", sc->id, serr[0] ? serr : tb_strerror(rc));
            rc = TB_ECONFIG;
            goto fail;
        }
        /* Its other symbols, each with its own order settings. */
        for (size_t m = 1; p->signals && m < sc->nsymbols; m++) {
            const tb_symbol_rules *mr = rules_for(cfg, sc->symbols[m]);
            rc = tb_signal_generator_add_symbol(
                p->signals, sc->id, sc->symbols[m], tick_for(cfg, sc->symbols[m]),
                mr ? mr->step_size : 0, mr ? mr->min_notional : 0, serr, sizeof(serr));
            if (rc) {
                tb__errf(err, errlen, "[strategy.%s] %s", sc->id, serr);
                rc = TB_ECONFIG;
                goto fail;
            }
        }
        if (p->signals && sc->ntimeframes &&
            (rc = tb_signal_generator_set_timeframes(p->signals, sc->id, sc->timeframes,
                                                     sc->ntimeframes, serr, sizeof(serr))) != 0) {
            tb__errf(err, errlen, "[strategy.%s] %s", sc->id, serr);
            rc = TB_ECONFIG;
            goto fail;
        }
        /* Fills for a (strategy, symbol) no config declared are refused. */
        for (size_t m = 0; p->positions && m < sc->nsymbols; m++)
            if ((rc = tb_position_manager_expect(p->positions, sc->id, sc->symbols[m])) != 0)
                goto fail;
    }
    /* After the built-ins: a program is given an event once they have
     * handled it, as the next component in line would be. */
    if ((only || !(opt && opt->roles)) &&
        (rc = create_externals(p, cfg, opt, only, err, errlen)) != 0)
        goto fail;
    if (roles & TB_ROLE_MONITOR) {
        if ((rc = tb_pnl_book_create(&p->book)) != 0) goto fail;
        p->sub_lives = tb_bus_subscribe_named(p->bus, TB_EV_POSITION_UPDATE, on_position, p,
                                              tb__component_publishers()[TB__SLOT_SUMMARY - 1]);
        if (p->sub_lives < 0) {
            rc = p->sub_lives;
            goto fail;
        }
        if (!p->positions && (cfg->replaced & TB_ROLE_POSITIONS)) {
            p->sub_closes =
                tb_bus_subscribe_named(p->bus, TB_EV_MARKET_DATA, on_close, p,
                                       tb__component_publishers()[TB__SLOT_SUMMARY - 1]);
            if (p->sub_closes < 0) {
                rc = p->sub_closes;
                goto fail;
            }
        }
        tb_monitor_config mc = {opt ? opt->event_log : NULL, opt ? opt->fills_csv : NULL,
                                cfg->initial_cash, opt ? opt->trades_csv : NULL,
                                opt ? opt->equity_csv : NULL};
        if ((rc = tb_monitor_create(p->bus, &mc, &p->monitor)) != 0) goto fail;
    }
    *out = p;
    return 0;
fail:
    if (err && errlen && !err[0])
        tb__errf(err, errlen, "cannot build the pipeline: %s", tb_strerror(rc));
    tb_pipeline_destroy(p);
    return rc;
}

void tb_pipeline_destroy(tb_pipeline *p)
{
    if (!p) return;
    /* Reverse order of creation; each unsubscribes itself. */
    tb_monitor_destroy(p->monitor);
    for (size_t i = p->nexternals; i-- > 0;)
        tb_external_destroy(p->externals[i]);
    free(p->externals);
    tb_signal_generator_destroy(p->signals);
    tb_position_manager_destroy(p->positions);
    tb_order_manager_destroy(p->orders);
    tb_risk_manager_destroy(p->risk);
    tb_exchange_destroy(p->exchange);
    tb_bus_destroy(p->bus);
    tb_pnl_book_destroy(p->book);
    if (p->own_loop) tb_loop_destroy(p->loop);
    free(p->adapters);
    free(p->publishers);
    free(p->seen);
    free(p->closes);
    free(p);
}

tb_bus *tb_pipeline_bus(tb_pipeline *p)
{
    return p->bus;
}

tb_monitor *tb__pipeline_monitor(tb_pipeline *p)
{
    return p->monitor;
}

int tb_pipeline_restore(tb_pipeline *p, const tb_event *ev)
{
    tb_bus_reserve_id(p->bus, ev->event_id);
    if (p->signals) tb_signal_generator_restore(p->signals, ev);
    return p->orders ? tb_order_manager_restore(p->orders, ev) : 0;
}

TB__HOT int tb_pipeline_push_bar(tb_pipeline *p, const tb_market_data *bar)
{
    tb_event local, *ev = &p->md_ev;
    if (p->pushing) { /* from a handler: the outer bar's event is in use */
        ev = &local;
        tb_event_init(ev, TB_EV_MARKET_DATA, TB_SRC_MARKET_DATA);
    }
    ev->event_id = ev->causation_id = ev->correlation_id = 0;
    ev->timestamp = bar->close_time;
    ev->u.market_data = *bar;
    p->bars++;
    int outer = p->pushing;
    p->pushing = 1;
    /* Timers due by the bar's time fire before it: a retry made before the
     * bar reaches the exchange was on the book when the bar traded. */
    if (p->simulated) tb_loop_advance(p->loop, ev->timestamp);
    int rc = tb_bus_publish(p->bus, ev);
    /* Timers the bar's handlers started for a time already past (a stop
     * placed at the bar's open, retried) fire now, before the next bar. */
    if (p->simulated && tb_loop_timers(p->loop)) tb_loop_advance(p->loop, ev->timestamp);
    p->pushing = outer;
    if (!rc && p->nexternals && tb_pipeline_failure(p)) rc = TB_EHANDLER;
    return rc;
}

int tb_pipeline_settle(tb_pipeline *p)
{
    if (p->simulated) tb_loop_drain(p->loop);
    return finish_externals(p);
}

void tb_pipeline_set_trade_from(tb_pipeline *p, int64_t t)
{
    if (p->signals) tb_signal_generator_set_trade_from(p->signals, t);
}

int64_t tb_pipeline_trade_from(const tb_pipeline *p)
{
    return p->signals ? tb_signal_generator_trade_from(p->signals) : 0;
}

uint64_t tb_pipeline_muted(const tb_pipeline *p)
{
    return p->signals ? tb_signal_generator_muted(p->signals) : 0;
}

tb_exchange *tb_pipeline_exchange(tb_pipeline *p)
{
    return p->exchange;
}

tb_loop *tb_pipeline_loop(tb_pipeline *p)
{
    return p->loop;
}

int tb_pipeline_result(const tb_pipeline *p, tb_backtest_result *res)
{
    memset(res, 0, sizeof(*res));
    res->dead_letter_queue = -1;
    res->bars = p->bars;
    if (p->signals) {
        res->signals = tb_signal_generator_signals(p->signals);
        res->size_too_small = tb_signal_generator_size_too_small(p->signals);
    }
    if (p->orders) {
        tb_order_manager_stats os = tb_order_manager_get_stats(p->orders);
        res->orders = os.orders;
        res->fills = os.fills;
        res->rejected = os.rejected;
        res->canceled = os.canceled;
        res->open_orders = tb_order_manager_open_orders(p->orders);
        /* An adapter that cannot tell leaves 0: the field is a cross-check. */
        if (tb_exchange_cash(p->exchange, &res->cash) != 0) res->cash = 0;
    }
    res->dead_letters = tb_bus_get_counters(p->bus, TB_BUS_ALL).dead_lettered;
    if (p->monitor) {
        for (int t = 0; t < TB_EV_COUNT; t++)
            res->events[t] = tb_monitor_count(p->monitor, (tb_event_type)t);
        /* A program stands in for a built-in: its figures are what the
         * events it published say (see docs/components.md). */
        if (!p->signals && (p->cfg->replaced & TB_ROLE_SIGNAL))
            res->signals = res->events[TB_EV_SIGNAL_GENERATED];
        if (!p->orders && (p->cfg->replaced & TB_ROLE_ORDERS)) {
            res->orders = res->events[TB_EV_ORDER_PLACEMENT_REQUEST];
            res->fills = res->events[TB_EV_ORDER_FILLED];
            res->rejected = res->events[TB_EV_ORDER_REJECTED];
            res->canceled = res->events[TB_EV_ORDER_CANCELED];
        }
        tb_monitor_get_tally(p->monitor, &res->tally);
        tb_monitor_trades(p->monitor, &res->trades, &res->winning_trades);
    } else if (p->risk) {
        res->tally.trading_state = tb_risk_manager_state(p->risk);
    }
    if (p->positions) {
        res->realized_pnl = tb_position_manager_realized(p->positions);
        res->unrealized_pnl = tb_position_manager_unrealized(p->positions);
    } else if (p->nseen) {
        res->realized_pnl = p->seen_realized;
        for (size_t i = 0; i < p->nseen; i++) {
            mark_seen(p, &p->seen[i]);
            tb_dec_add(res->unrealized_pnl, p->seen[i].unrealized_pnl, &res->unrealized_pnl);
        }
    }
    if (p->risk) {
        res->fees = tb_risk_manager_fees(p->risk);
        res->max_drawdown_pct = tb_risk_manager_max_drawdown_pct(p->risk);
    }
    res->initial_equity = p->cfg->initial_cash;
    int rc = tb_backtest_result_finish(res);
    if (rc) return rc;
    size_t n = p->positions ? tb_position_manager_count(p->positions) : p->nseen;
    if (n) {
        res->positions = calloc(n, sizeof(*res->positions));
        res->total_realized = calloc(n, sizeof(*res->total_realized));
        if (!res->positions || !res->total_realized) return TB_ENOMEM;
        res->npositions = n;
        for (size_t i = 0; i < n; i++) {
            tb_position_update *pos = &res->positions[i];
            if (p->positions)
                tb_position_manager_get(p->positions, i, pos);
            else
                *pos = p->seen[i];
            if (p->book)
                res->total_realized[i] = tb_pnl_book_total(p->book, pos->strategy_id, pos->symbol);
        }
    }
    return 0;
}

int tb_pipeline_total_realized(const tb_pipeline *p, tb_backtest_result *res)
{
    if (!p->book) return TB_EMISUSE;
    if (res->npositions && !res->total_realized) {
        res->total_realized = calloc(res->npositions, sizeof(*res->total_realized));
        if (!res->total_realized) return TB_ENOMEM;
    }
    for (size_t i = 0; i < res->npositions; i++)
        res->total_realized[i] =
            tb_pnl_book_total(p->book, res->positions[i].strategy_id, res->positions[i].symbol);
    return 0;
}

tb_trading_state tb_pipeline_trading_state(const tb_pipeline *p)
{
    return p->risk ? tb_risk_manager_state(p->risk) : TB_TRADING_ACTIVE;
}

int tb_backtest_result_finish(tb_backtest_result *res)
{
    tb_decimal eq = res->initial_equity;
    int rc = tb_dec_add(eq, res->realized_pnl, &eq);
    if (!rc) rc = tb_dec_add(eq, res->unrealized_pnl, &eq);
    if (!rc) rc = tb_dec_sub(eq, res->fees, &eq);
    if (rc) return rc;
    res->final_equity = eq;
    return 0;
}

void tb_backtest_result_free(tb_backtest_result *res)
{
    free(res->positions);
    free(res->total_realized);
    res->positions = NULL;
    res->total_realized = NULL;
    res->npositions = 0;
}

static int put_dec(FILE *f, const char *key, tb_decimal v, int comma)
{
    char b[TB_DECIMAL_STRLEN];
    tb_dec_format(v, b, sizeof(b));
    return fprintf(f, "  \"%s\": \"%s\"%s\n", key, b, comma ? "," : "") < 0 ? TB_EIO : 0;
}

/* A percentage with at least two decimals ("12.5" -> "12.50"), so a reader
 * never mistakes it for a ratio; the digits beyond stay exact. */
static void format_pct(tb_decimal v, char *buf, size_t len)
{
    int n = tb_dec_format(v, buf, len);
    const char *dot = strchr(buf, '.');
    int decimals = dot ? n - (int)(dot - buf) - 1 : 0;
    if (!dot && n + 1 < (int)len) buf[n++] = '.';
    while (decimals++ < 2 && n + 1 < (int)len)
        buf[n++] = '0';
    buf[n] = 0;
}

/* Summary strings are ids and texts from events: escape what JSON needs. */
static void put_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int tb_backtest_return_pct(const tb_backtest_result *r, tb_decimal *out)
{
    tb_decimal d;
    *out = 0;
    if (r->initial_equity <= 0) return 0;
    int rc = tb_dec_sub(r->final_equity, r->initial_equity, &d);
    if (!rc) rc = tb_dec_muldiv_int(d, 100, 1, TB_ROUND_HALF_UP, &d);
    if (!rc) rc = tb_dec_div(d, r->initial_equity, TB_ROUND_HALF_UP, out);
    return rc;
}

int tb_backtest_win_rate(const tb_backtest_result *r, tb_decimal *out)
{
    *out = 0;
    if (!r->trades) return 0;
    return tb_dec_muldiv_int(100 * TB_DECIMAL_ONE, (int64_t)r->winning_trades, (int64_t)r->trades,
                             TB_ROUND_HALF_UP, out);
}

/* The outcome keys: why orders did not trade, what the Risk Manager said,
 * whether it halted, and the run's return and trades. */
static int write_outcome(const tb_backtest_result *r, FILE *f)
{
    const tb_monitor_tally *t = &r->tally;
    fprintf(f, "  \"size_too_small\": %llu,\n  \"rejections\": {",
            (unsigned long long)r->size_too_small);
    int first = 1;
    for (int i = 0; i < TB_MONITOR_REJECT_SLOTS; i++) {
        if (!t->rejections[i]) continue;
        fprintf(f, "%s\"%s\": %llu", first ? "" : ", ",
                i ? tb_reject_reason_name((tb_reject_reason)i) : "OTHER",
                (unsigned long long)t->rejections[i]);
        first = 0;
    }
    fprintf(f, "},\n  \"risk_alerts\": {");
    for (size_t i = 0; i < t->nalerts; i++) {
        fputs(i ? ", " : "", f);
        put_json_str(f, t->alerts[i].rule);
        fprintf(f, ": %llu", (unsigned long long)t->alerts[i].count);
    }
    fprintf(f, "},\n  \"trading_state\": \"%s\",\n  \"halts\": [",
            tb_trading_state_name(t->trading_state));
    for (size_t i = 0; i < t->nhalts; i++) {
        char when[32];
        tb_format_time_iso(t->halts[i].time, when, sizeof(when));
        fprintf(f, "%s{\"time\": \"%s\", \"rule\": ", i ? ", " : "", when);
        put_json_str(f, t->halts[i].rule);
        fputs(", \"detail\": ", f);
        put_json_str(f, t->halts[i].detail);
        fputc('}', f);
    }
    tb_decimal ret, win;
    char rb[TB_DECIMAL_STRLEN + 4], wb[TB_DECIMAL_STRLEN + 4];
    int rc = tb_backtest_return_pct(r, &ret);
    if (!rc) rc = tb_backtest_win_rate(r, &win);
    if (rc) return rc;
    format_pct(ret, rb, sizeof(rb));
    format_pct(win, wb, sizeof(wb));
    fprintf(f, "],\n  \"return_pct\": \"%s\",\n  \"trades\": %llu,\n  \"win_rate\": \"%s\",\n", rb,
            (unsigned long long)r->trades, wb);
    return 0;
}

int tb_backtest_write_summary(const tb_backtest_result *r, FILE *f)
{
    int rc = 0;
    fprintf(f, "{\n");
    fprintf(f,
            "  \"bars\": %llu,\n  \"bad_rows\": %llu,\n  \"signals\": %llu,\n  \"orders\": "
            "%llu,\n  \"fills\": %llu,\n  \"rejected\": %llu,\n  \"canceled\": %llu,\n"
            "  \"open_orders\": %llu,\n",
            (unsigned long long)r->bars, (unsigned long long)r->bad_rows,
            (unsigned long long)r->signals, (unsigned long long)r->orders,
            (unsigned long long)r->fills, (unsigned long long)r->rejected,
            (unsigned long long)r->canceled, (unsigned long long)r->open_orders);
    if (write_outcome(r, f) != 0) rc = TB_EIO;
    rc |= put_dec(f, "realized_pnl", r->realized_pnl, 1);
    rc |= put_dec(f, "unrealized_pnl", r->unrealized_pnl, 1);
    rc |= put_dec(f, "fees", r->fees, 1);
    rc |= put_dec(f, "initial_equity", r->initial_equity, 1);
    rc |= put_dec(f, "final_equity", r->final_equity, 1);
    rc |= put_dec(f, "max_drawdown_pct", r->max_drawdown_pct, 1);
    fprintf(f, "  \"dead_letters\": %llu,\n", (unsigned long long)r->dead_letters);
    /* Only when true: an uninterrupted run's summary stays as it was. */
    if (r->interrupted) fprintf(f, "  \"interrupted\": true,\n");
    if (r->dead_letter_queue >= 0)
        fprintf(f, "  \"dead_letter_queue\": %lld,\n", (long long)r->dead_letter_queue);
    fprintf(f, "  \"events\": {");
    for (int t = 1; t < TB_EV_COUNT; t++)
        fprintf(f, "%s\"%s\": %llu", t > 1 ? ", " : "", tb_event_type_name((tb_event_type)t),
                (unsigned long long)r->events[t]);
    fprintf(f, "},\n  \"positions\": [");
    for (size_t i = 0; i < r->npositions; i++) {
        const tb_position_update *p = &r->positions[i];
        char q[TB_DECIMAL_STRLEN], e[TB_DECIMAL_STRLEN], rp[TB_DECIMAL_STRLEN],
            up[TB_DECIMAL_STRLEN], tr[TB_DECIMAL_STRLEN];
        tb_dec_format(r->total_realized ? r->total_realized[i] : p->realized_pnl, tr, sizeof(tr));
        tb_dec_format(p->current_quantity, q, sizeof(q));
        tb_dec_format(p->entry_price, e, sizeof(e));
        tb_dec_format(p->realized_pnl, rp, sizeof(rp));
        tb_dec_format(p->unrealized_pnl, up, sizeof(up));
        fprintf(f,
                "%s\n    {\"strategy_id\": \"%s\", \"symbol\": \"%s\", \"quantity\": \"%s\", "
                "\"entry_price\": \"%s\", \"realized_pnl\": \"%s\", \"unrealized_pnl\": \"%s\", "
                "\"total_realized_pnl\": \"%s\", \"status\": \"%s\"}",
                i ? "," : "", p->strategy_id, p->symbol, q, e, rp, up, tr,
                tb_position_status_name(p->status));
    }
    if (fprintf(f, "%s]\n}\n", r->npositions ? "\n  " : "") < 0) rc = TB_EIO;
    return rc ? TB_EIO : (ferror(f) ? TB_EIO : 0);
}

/* The names a backtest may write into its folder: those a run does not
 * write are removed when it publishes, lest an earlier run's pass for it. */
static const char *const run_outputs[] = {
    "summary.json", "fills.csv", "events.jsonl", "report.html", "trades.csv", "equity.csv", NULL};

/* What stops a run: the caller's flag, and SIGINT/SIGTERM when the run
 * watches them on its loop (they arrive as events when the loop is polled). */
typedef struct {
    const tb_backtest_options *opt;
    tb_loop *loop;  /* set while signals are watched */
    int signals;    /* signals received, at most 2 */
    unsigned bars;  /* since the last poll */
    int64_t polled; /* CLOCK_MONOTONIC_COARSE ms of the last poll */
} run_stop;

static void on_run_signal(void *ctx, int signum)
{
    run_stop *s = ctx;
    (void)signum;
    if (s->signals < 2) s->signals++;
}

/* The stop level now (0 go on, 1 stop at this bar, 2 abandon); poll: let
 * the loop deliver signals first (a syscall). */
static int stop_level(run_stop *s, int poll)
{
    if (s->loop && poll) tb_loop_poll(s->loop);
    int a = s->opt && s->opt->stop ? (int)*s->opt->stop : 0;
    return a > s->signals ? a : s->signals;
}

/* Whether the run's loop is due a poll for signals: every 5 ms of the
 * coarse clock, looked at every 64 bars. Polling every 64 bars was an
 * epoll_wait per 64 bars, 1-2 us each on a virtual machine: 3% of a fast
 * run; 5 ms keeps Ctrl-C as prompt as a key press can tell. */
static int poll_due(run_stop *s)
{
    if ((++s->bars & 63) != 0) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (ms - s->polled < 5) return 0;
    s->polled = ms;
    return 1;
}

static int canceled(char *err, size_t errlen)
{
    tb__errf(err, errlen, "stopped: the run was abandoned, no file written");
    return TB_ECANCELED;
}

/* text[0..len) with every `from` replaced by `to`, NUL-terminated (free
 * it; its length in *outlen); NULL without memory. */
static char *replace_all(const char *text, size_t len, const char *from, const char *to,
                         size_t *outlen)
{
    char *out = NULL;
    size_t n = 0, fl = strlen(from);
    FILE *m = open_memstream(&out, &n);
    if (!m) return NULL;
    for (size_t i = 0; i < len;) {
        if (fl && len - i >= fl && memcmp(text + i, from, fl) == 0) {
            fputs(to, m);
            i += fl;
        } else {
            fputc(text[i++], m);
        }
    }
    if (fclose(m) != 0) {
        free(out);
        return NULL;
    }
    if (outlen) *outlen = n;
    return out;
}

/* The report names the folder it was built in — the staging one: the
 * page must name the folder it is published to. */
static int retitle_report(tb__outset *os, const char *dir, char *err, size_t errlen)
{
    char *from = NULL, *to = NULL, *html = NULL, *fixed = NULL;
    size_t fl, tl, hl = 0, xl = 0;
    char path[4200];
    snprintf(path, sizeof(path), "%s/report.html", tb__outset_staging(os));
    FILE *f = open_memstream(&from, &fl), *g = open_memstream(&to, &tl);
    if (f) tb__html_escape(f, tb__outset_staging(os));
    if (g) tb__html_escape(g, dir);
    /* Both closed whatever happens: no leak when one of them failed. */
    int fok = f && fclose(f) == 0, gok = g && fclose(g) == 0;
    int rc = fok && gok ? 0 : TB_ENOMEM;
    FILE *in = rc ? NULL : fopen(path, "rb");
    if (!rc && !in) rc = TB_EIO;
    if (in) {
        FILE *m = open_memstream(&html, &hl);
        char buf[65536];
        size_t got;
        while (m && (got = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, got, m);
        if (ferror(in) || !m || fclose(m) != 0) rc = TB_EIO;
        fclose(in);
    }
    if (!rc && !(fixed = replace_all(html, hl, from, to, &xl))) rc = TB_ENOMEM;
    FILE *out = rc ? NULL : fopen(path, "wb");
    if (!rc && (!out || fwrite(fixed, 1, xl, out) != xl)) rc = TB_EIO;
    if (out && fclose(out) != 0) rc = TB_EIO;
    if (rc)
        tb__errf(err, errlen, "%s/report.html: write failed: %s", dir,
                 rc == TB_EIO ? strerror(errno) : tb_strerror(rc));
    free(from);
    free(to);
    free(html);
    free(fixed);
    return rc;
}

int tb__run_stage_outputs(tb__outset *os, const tb_config *cfg, const char *out_dir, int report,
                          const tb_backtest_result *res, tb__report *replay, char *err,
                          size_t errlen)
{
    FILE *s = tb__outset_open(os, "summary.json", err, errlen);
    if (!s) return TB_EIO;
    int rc = tb_backtest_write_summary(res, s);
    if (rc) {
        tb__errf(err, errlen, "%s/summary.json: write failed: %s", out_dir, strerror(errno));
        return rc;
    }
    /* The report reads the staged files back: complete first. */
    if ((rc = tb__outset_close(os, err, errlen)) != 0) return rc;
    if (report && cfg->event_log) {
        char why[512];
        rc = replay ? tb__report_write_replay(tb__outset_staging(os), replay, why, sizeof(why))
                    : tb_report_write(tb__outset_staging(os), why, sizeof(why));
        if (!rc) rc = tb__outset_adopt(os, "report.html");
        if (rc) {
            /* The user knows the folder by its name, not the staging one's. */
            char *msg = replace_all(why, strlen(why), tb__outset_staging(os), out_dir, NULL);
            tb__errf(err, errlen, "report: %s", msg && msg[0] ? msg : tb_strerror(rc));
            free(msg);
            return rc;
        }
        if ((rc = retitle_report(os, out_dir, err, errlen)) != 0) return rc;
    }
    return 0;
}

int tb__run_publish(tb__outset *os, char *err, size_t errlen)
{
    return tb__outset_commit(os, run_outputs, err, errlen);
}

/* summary.json (and report.html, from replay or read back from the staged
 * files), then every file published at once. */
static int write_outputs(tb__outset *os, const tb_config *cfg, const tb_backtest_options *opt,
                         run_stop *stop, const tb_backtest_result *res, tb__report *replay,
                         char *err, size_t errlen)
{
    int rc = tb__run_stage_outputs(os, cfg, opt->out_dir, opt->report, res, replay, err, errlen);
    if (rc) return rc;
    if (stop_level(stop, 1) >= 2) return canceled(err, errlen);
    return tb__run_publish(os, err, errlen);
}

/* 1 if paths a and b name the same file, existing or not: the same inode
 * when both exist, else the same base name in the same directory. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    const char *na = ba ? ba + 1 : a, *nb = bb ? bb + 1 : b;
    if (strcmp(na, nb) != 0) return 0;
    char da[4200], db[4200];
    snprintf(da, sizeof(da), "%.*s", ba ? (int)(ba - a + 1) : 1, ba ? a : ".");
    snprintf(db, sizeof(db), "%.*s", bb ? (int)(bb - b + 1) : 1, bb ? b : ".");
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The journal must not be one of the files the run writes into its folder:
 * publishing that file would replace the journal. */
int tb__check_journal_path(const tb_config *cfg, const char *dir, char *err, size_t errlen)
{
    if (!cfg->journal_path || !dir) return 0;
    for (size_t i = 0; run_outputs[i]; i++) {
        char out[4200];
        snprintf(out, sizeof(out), "%s/%s", dir, run_outputs[i]);
        if (same_file(cfg->journal_path, out)) {
            tb__errf(err, errlen,
                     "journal %s is also the run's output %s: the run would overwrite its own "
                     "journal; give the journal another path",
                     cfg->journal_path, out);
            return TB_ECONFIG;
        }
    }
    return 0;
}

int tb_pipeline_finish(tb_pipeline *p)
{
    int rc = finish_externals(p);
    if (rc) return rc;
    return p->monitor ? tb_monitor_finish(p->monitor) : 0;
}

int tb_backtest_run(const tb_config *cfg, const tb_backtest_options *opt, tb_backtest_result *res,
                    char *err, size_t errlen)
{
    int rc, started = 0;
    FILE *events = NULL, *fills = NULL, *trades = NULL, *equity = NULL;
    tb__outset *os = NULL;
    tb__jrun *jr = NULL;
    tb_pipeline *p = NULL;
    tb_md_merge *md = NULL;
    tb_loop *loop = NULL;
    run_stop stop = {opt, NULL, 0, 0, 0};
    const char *dir = opt ? opt->out_dir : NULL;
    const int keep =
        dir && opt->report && cfg->event_log; /* the Monitor's replay, for report.html */
    memset(res, 0, sizeof(*res));
    if (err && errlen) err[0] = 0;
    /* The run's loop: a simulated clock moved by the bars, and the signals. */
    if ((rc = tb_loop_create(TB_CLOCK_SIMULATED, &loop)) != 0) {
        tb__errf(err, errlen, "cannot create the event loop: %s", tb_strerror(rc));
        return rc;
    }
    if (opt && opt->watch_signals) {
        if ((rc = tb_loop_watch_signals(loop, on_run_signal, &stop)) != 0) {
            tb__errf(err, errlen, "cannot watch SIGINT/SIGTERM: %s", tb_strerror(rc));
            tb_loop_destroy(loop);
            return rc;
        }
        stop.loop = loop;
    }

    if (dir) {
        if ((rc = tb__outset_create(dir, &os, err, errlen)) != 0) {
            tb_loop_destroy(loop);
            return rc;
        }
        if ((rc = tb__check_journal_path(cfg, dir, err, errlen)) != 0) goto done;
        if (cfg->event_log && !(events = tb__outset_open(os, "events.jsonl", err, errlen))) {
            rc = TB_EIO;
            goto done;
        }
        if (cfg->fills && !(fills = tb__outset_open(os, "fills.csv", err, errlen))) {
            rc = TB_EIO;
            goto done;
        }
        /* Written by the monitor as the run goes: its memory stays flat. */
        if (!(trades = tb__outset_open(os, "trades.csv", err, errlen)) ||
            !(equity = tb__outset_open(os, "equity.csv", err, errlen))) {
            rc = TB_EIO;
            goto done;
        }
    }
    if (cfg->journal_path &&
        (rc = tb__jrun_open(cfg, opt ? opt->resume : 0, &jr, err, errlen)) != 0)
        goto done;
    tb_pipeline_options po;
    memset(&po, 0, sizeof(po));
    po.event_log = events;
    po.fills_csv = fills;
    po.on_dead_letter = jr ? tb__jrun_dead_letter : NULL;
    po.on_dead_letter_ctx = jr;
    /* With report.html to write, the Monitor keeps its replay whole and the
     * report is built from it: reading events.jsonl back cost more than the
     * run. trades.csv and equity.csv are then the report's, as they always
     * were in the end (it rewrote them from its own replay). */
    po.trades_csv = keep ? NULL : trades;
    po.equity_csv = keep ? NULL : equity;
    po.loop = loop;
    if (opt) {
        po.component_log = opt->component_log;
        po.component_log_ctx = opt->component_log_ctx;
    }
    if ((rc = tb_pipeline_create(cfg, &po, &p, err, errlen)) != 0) goto done;
    if (keep && p->monitor && (rc = tb__monitor_keep_replay(p->monitor, 0, NULL, NULL, 0)) != 0)
        goto done;
    if (opt && opt->trade_from) tb_pipeline_set_trade_from(p, opt->trade_from);
    if (jr && (rc = tb__jrun_attach(jr, p->bus)) != 0) goto done;

    const tb_market_data *given = opt ? opt->bars : NULL;
    size_t next_given = 0;
    if (given && jr) {
        tb__errf(err, errlen, "[journal] path: a journaled run reads its data files itself");
        rc = TB_ECONFIG;
        goto done;
    }
    if (given) {
        /* A strategy on a symbol the bars lack would run without a bar. */
        const char *syms[64];
        size_t nsyms = 0;
        for (size_t i = 0; i < opt->nbars && nsyms < 64; i++) {
            size_t k = 0;
            while (k < nsyms && strcmp(syms[k], given[i].symbol) != 0)
                k++;
            if (k == nsyms) syms[nsyms++] = given[i].symbol;
        }
        if ((rc = tb_config_check_symbols(cfg, syms, nsyms, err, errlen)) != 0) goto done;
    } else {
        tb_md_config mc;
        tb_config_md_options(cfg, &mc);
        mc.reader_thread = 1; /* parsing overlaps the pipeline, when it helps */
        if (opt) {
            mc.warn = opt->warn;
            mc.warn_ctx = opt->warn_ctx;
        }
        if ((rc = tb_md_merge_open((const char *const *)cfg->data, cfg->ndata, &mc, &md, err,
                                   errlen)) != 0)
            goto done;
        tb__jrun_watch(jr, md);
        /* A strategy on a symbol no file has would run without a bar. */
        size_t nsyms = tb_md_merge_files(md);
        const char **syms = calloc(nsyms ? nsyms : 1, sizeof(*syms));
        if (!syms) {
            rc = TB_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < nsyms; i++)
            syms[i] = tb_md_merge_symbol(md, i);
        rc = tb_config_check_symbols(cfg, syms, nsyms, err, errlen);
        free(syms);
        if (rc) goto done;
    }
    if (opt && opt->on_start && (rc = opt->on_start(p, opt->hook_ctx)) != 0) goto done;
    started = 1;
    tb_market_data bar;
    while (!stop_level(&stop, poll_due(&stop)) &&
           (rc = given ? (next_given < opt->nbars ? (bar = given[next_given++], 0) : TB_EEOF)
                       : tb_md_merge_next(md, &bar, err, errlen)) == 0) {
        if ((rc = tb_pipeline_push_bar(p, &bar)) != 0) {
            if (tb_pipeline_failure(p))
                tb__errf(err, errlen, "%s", tb_pipeline_failure(p));
            else
                tb__errf(err, errlen, "publishing a bar failed: %s", tb_strerror(rc));
            goto done;
        }
        if (jr && (rc = tb__jrun_after_bar(jr, err, errlen)) != 0) goto done;
        if (opt && opt->on_bar && (rc = opt->on_bar(p, &bar, opt->hook_ctx)) != 0) goto done;
        if (opt && opt->progress && opt->progress_every && p->bars % opt->progress_every == 0)
            opt->progress(p->bars, bar.close_time, opt->progress_ctx);
    }
    if (stop_level(&stop, 1) >= 2) {
        rc = canceled(err, errlen);
        goto done;
    }
    int interrupted = stop_level(&stop, 0) == 1;
    if (!interrupted && rc != TB_EEOF) goto done;
    /* Retries still waiting are made, as time would have run on; then
     * the programs' input ends and they must exit cleanly. */
    if (!interrupted && (rc = tb_pipeline_settle(p)) != 0) {
        tb__errf(err, errlen, "%s",
                 tb_pipeline_failure(p) ? tb_pipeline_failure(p) : tb_strerror(rc));
        goto done;
    }
    if ((rc = tb_pipeline_result(p, res)) != 0) goto done;
    res->interrupted = interrupted;
    res->bad_rows = md ? tb_md_merge_bad_rows(md) : 0;
    /* An interrupted run's journal keeps status "running" and ends at this
     * bar boundary (committed when it closes): --resume continues it. */
    if (jr && !interrupted && (rc = tb__jrun_finish(jr, res, err, errlen)) != 0) goto done;
    if (jr && !interrupted && opt && opt->resume && opt->replay_dead_letters &&
        (rc = tb__jrun_replay_dlq(jr, p->bus, opt->replay_dead_letters, &res->dlq_replayed,
                                  &res->dlq_still_failing, err, errlen)) != 0)
        goto done;
    res->dead_letter_queue = jr ? tb__jrun_queue_size(jr) : -1;
    if (opt && opt->on_end && (rc = opt->on_end(p, res, opt->hook_ctx)) != 0) goto done;
    /* trades.csv's and equity.csv's last rows: staged now, published with the rest. */
    if ((rc = tb_pipeline_finish(p)) != 0) {
        if (tb_pipeline_failure(p))
            tb__errf(err, errlen, "%s", tb_pipeline_failure(p));
        else
            tb__errf(err, errlen, "%s: %s",
                     dir ? "trades.csv/equity.csv" : "the Monitor's trade and equity replay",
                     tb_strerror(rc));
        goto done;
    }
done:
    if (started && opt && opt->on_stop) opt->on_stop(p, opt->hook_ctx);
    /* The Monitor's replay, finished by tb_pipeline_finish; else (it failed
     * there, which failed the run) the report would read the files back. */
    tb__report replay;
    int have_replay = 0;
    memset(&replay, 0, sizeof(replay));
    if (!rc && keep && p && p->monitor) {
        int finished = 0;
        have_replay = tb__monitor_take_replay(p->monitor, &replay, &finished) == 0 && finished;
    }
    tb__jrun_detach(jr);
    tb_md_merge_close(md);
    tb_pipeline_destroy(p);
    tb__jrun_close(jr, rc != 0);
    /* After the pipeline, which writes into the event log and fills.csv
     * until it is destroyed. */
    if (!rc && os)
        rc = write_outputs(os, cfg, opt, &stop, res, have_replay ? &replay : NULL, err, errlen);
    tb__report_free(&replay);
    /* Not committed (an error, a stop at once): the staged files go, the
     * folder keeps what it had. */
    tb__outset_free(os);
    tb_loop_destroy(loop);
    if (rc) tb_backtest_result_free(res);
    return rc;
}
