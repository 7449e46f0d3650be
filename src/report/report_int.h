/* Private (not installed): the report's model, shared by its modules —
 * load.c reads a run's files, series.c replays the events into curves and
 * trades, stats.c derives the statistics, svg.c draws, html.c writes. */
#ifndef TRADEBUS_REPORT_INT_H
#define TRADEBUS_REPORT_INT_H

#include <stdint.h>
#include <stdio.h>

#include "../core/timefmt_int.h"
#include "tradebus/event.h"

/* A (strategy, symbol) pair: its position as the PositionUpdates state it. */
typedef struct {
    int strat, sym;
    tb_decimal fill_qty;                     /* signed, summed from the fills */
    tb_decimal qty, entry;                   /* from the latest PositionUpdate */
    uint64_t pid;                            /* that update's position_id */
    tb_decimal life_realized, past_realized; /* current life; lives ended before it */
    tb_decimal unrealized;                   /* at the symbol's latest close */
    tb_decimal fees;
    long trade; /* open trade index, -1 when flat */
    long tied;  /* the trade whose pid is pid (open or just closed), -1 none */
} tb__rkey;

/* A round trip from flat to flat of one key. */
typedef struct {
    int key, dir;                  /* dir +1 long, -1 short */
    int64_t open_time, close_time; /* close_time 0 while open */
    size_t close_pt;               /* the point it closed in (trades.csv's order) */
    uint64_t pid;
    tb_decimal max_qty, entry, exit, realized, fees;
    unsigned fills;
    tb_decimal exit_qty, exit_value; /* closing fills: Σ qty, Σ price × qty (the average exit) */
    tb_decimal lo, hi;               /* the symbol's lowest low, highest high while open */
    tb_order_origin reason;          /* the closing fill's origin */
} tb__rtrade;

/* A trade as trades.csv and the page show it. A trade still open is closed
 * for reporting at its symbol's last close: exit reason END, PnL = realized
 * so far + unrealized at that close. */
typedef struct {
    const char *strategy, *symbol;
    int dir, open;
    int64_t entry_time, exit_time;
    tb_decimal entry, exit, qty, pnl, fees;
    tb_decimal ret_pct;          /* (pnl - fees) x 100 / (entry x qty) */
    tb_decimal mae_pct, mfe_pct; /* worst / best excursion from entry while open, % */
    tb_order_origin reason;
} tb__rrow;

typedef struct {
    int64_t t;
    tb_decimal price, qty;
    int buy, strat;
} tb__rfill;

typedef struct {
    char name[TB_SYMBOL_LEN];
    tb_decimal close;     /* latest */
    tb_decimal high, low; /* of the latest bar */
    int64_t *t;
    tb_decimal *closes; /* every bar's close, exact (the benchmark values them) */
    double *close_d;
    size_t n, cap;
    tb__rfill *fills;
    size_t nfills, capfills;
} tb__rsym;

typedef struct {
    int ratios; /* Sharpe and Sortino defined: 30 days or more of daily returns */
    double sharpe, sortino, ret_pct, max_dd_pct, exposure_pct, win_rate;
    double profit_factor; /* < 0: undefined (no losing trade) */
    int64_t max_dd_duration;
    tb_decimal net, realized, unrealized, fees, max_dd, gross_win, gross_loss;
    unsigned trades, wins, open_trades, fills;
} tb__rstats;

typedef struct {
    char name[TB_STRATEGY_LEN];
    tb_decimal *pnl;            /* per point: realized + unrealized - fees */
    size_t exposed, exposed_at; /* points with a position; the last one counted + 1 */
    tb__rstats st;
} tb__rstrat;

/* A row of the period-returns table: a UTC calendar day, or a month for a
 * run over 60 days. Start values are the previous period's end (the run's
 * initial equity for the first), so the rows chain into the whole return. */
typedef struct {
    char label[16];                       /* "2024-01-02" or "2024-01" */
    size_t first, last;                   /* the period's first and last point */
    tb_decimal eq0, eq1, ret_pct;         /* equity at start and end; return %, half-up to 1e-8 */
    tb_decimal bench0, bench1, bench_pct; /* the same for the benchmark */
    int defined, bench_defined;           /* a start <= 0 has no return */
} tb__rperiod;

#define TB__REPORT_MONTHLY_DAYS 60

/* An OrderRejected or RiskAlert shown on the page (the first few). */
typedef struct {
    int64_t t;
    char what[TB_RULE_LEN + 24]; /* reason or rule */
    char text[TB_TEXT_LEN + TB_ORDER_ID_LEN + 8];
} tb__rnote;

#define TB__REPORT_NOTES 5

/* Live mode (the Monitor's): nothing is kept per bar or per fill, so memory
 * does not grow with the run. At each point the trades closed in it are
 * written to trades (if set), counted and dropped, and its equity row goes
 * to equity (if set) unless the next point is in the same minute.
 * Only tb__report_apply, _finish and _count_trades are for live mode. */
/* equity.csv's rows as they are written: the date is formatted once a day,
 * and ",equity,drawdown\n" again only when the equity or its peak moved (a
 * flat account, most rows of most runs, repeats the last one). Zero is the
 * empty state. */
typedef struct {
    tb__iso_day day;
    tb_decimal eq, peak;
    size_t tail_len; /* 0: nothing formatted yet */
    char tail[2 * TB_DECIMAL_STRLEN + 4];
    /* Rows not yet handed to the FILE: one fwrite per 4 KB, not per row
     * (stdio's cost per call was a tenth of a run's). Written out by the
     * last row's writer (live mode's last point, tb__report_write_equity). */
    size_t out_len;
    char out[4096];
} tb__equity_rows;

typedef struct {
    FILE *trades, *equity;
    tb_decimal peak;       /* the equity's so far */
    uint64_t closed, wins; /* trades written and dropped */
    size_t closing;        /* closed trades not yet written */
    tb__equity_rows rows;  /* equity.csv's */
} tb__rlive;

typedef struct {
    const char *dir;
    tb_decimal initial;
    tb__rlive *live; /* NULL: the report's full replay */
    /* The account's curve and the trades only: no per-symbol series, fill
     * lists or curves per strategy (a sweep's row, tb__report_stats_account). */
    int lean;
    tb__rnote rejects[TB__REPORT_NOTES], alerts[TB__REPORT_NOTES];
    size_t nrejects, nalerts;
    tb__rnote halt;                        /* halt.t != 0: the first halt */
    char s_rejections[256], s_alerts[256]; /* summary.json's counts, "RISK 3, ..." */
    /* summary.json */
    tb_decimal s_final, s_realized, s_unrealized, s_fees, s_max_dd_pct;
    uint64_t s_fills, s_bars;
    /* the replay */
    tb__rkey *keys;
    size_t nkeys;
    tb__rstrat *strats;
    size_t nstrats;
    tb__rsym *syms;
    size_t nsyms;
    size_t last_sym; /* the latest bar's symbol */
    tb__rtrade *trades;
    size_t ntrades, captrades;
    int64_t *t;     /* point times: distinct bar close times */
    tb_decimal *eq; /* account equity per point */
    size_t npts, cappts;
    size_t exposed;   /* points with any position open */
    int64_t cur_time; /* the point being accumulated; 0 = none yet */
    tb_decimal realized, fees;
    uint64_t fills, bars, events;
    tb__rstats all;
    /* Buy and hold, equal weight across the symbols (tb__report_benchmark). */
    tb_decimal *bench; /* per point */
    tb_decimal bench_ret_pct;
    tb__rstats bench_st; /* its curve's figures (no trades, no fees) */
    tb__rperiod *periods;
    size_t nperiods;
    int monthly;
} tb__report;

/* Live mode: hands equity.csv the rows formatted but not yet written (the
 * last point does it too; this is for a run that stopped on an error
 * before it). 0, or TB_EIO. */
int tb__report_flush_rows(tb__report *r);

/* Reads dir's summary.json and events.jsonl into r (zeroed first). */
int tb__report_load(tb__report *r, const char *dir, char *err, size_t errlen);
/* As tb__report_load, with the events already replayed: replay (a full
 * replay, finished, as the run's Monitor keeps it) is moved into r and
 * zeroed, and events.jsonl is not read back. The same checks against
 * summary.json and fills.csv, with the same messages. */
int tb__report_load_replay(tb__report *r, const char *dir, tb__report *replay, char *err,
                           size_t errlen);
/* tb_report_write of dir with the events already replayed (moved from
 * replay, as tb__report_load_replay): trades.csv, equity.csv, report.html. */
int tb__report_write_replay(const char *dir, tb__report *replay, char *err, size_t errlen);
/* Applies one decoded event. */
int tb__report_apply(tb__report *r, const tb_event *ev);
/* tb__report_apply for an event known to be a MarketData (most of them):
 * no dispatch on the type. */
int tb__report_apply_bar(tb__report *r, const tb_event *ev);

/* tb__report_apply of a MarketData event, in line, when the replay is live
 * with no file to write and no closed trade to drop (a pipeline's Monitor
 * counting trades for its summary: nearly every bar): a bar's prices would
 * only feed equity rows and the trades' excursions, neither of which is
 * kept, so it moves the clock and nothing else. 1 when applied; 0 when
 * tb__report_apply must be called. */
static inline int tb__report_bar_quick(tb__report *r, const tb_event *ev)
{
    const tb__rlive *l = r->live;
    if (!l || l->trades || l->equity || l->closing) return 0;
    int64_t t = ev->u.market_data.close_time;
    r->events++;
    if (r->cur_time && t != r->cur_time) r->npts++;
    r->cur_time = t;
    r->bars++;
    return 1;
}
/* Closes the last point; call after the last event. In live mode also
 * writes the last equity row and every trade left (open ones as "end"). */
int tb__report_finish(tb__report *r);
/* Computes every tb__rstats, the benchmark and the period rows. */
int tb__report_stats(tb__report *r);
/* Only the whole account's (r->all), as tb__report_stats computes it (a
 * sweep's row: no page, no per-period labels). Call after finish, with
 * r->realized set. */
int tb__report_stats_account(tb__report *r);
/* The buy-and-hold benchmark per point (r->bench): the initial equity split
 * equally over the symbols, each share buying share / first close units at
 * its symbol's first close, valued at the symbol's latest close (half-up to
 * 1e-8 per symbol); a share whose symbol has no bar yet (or a first close
 * <= 0, which buys nothing) is cash. No fees.
 * 0, TB_ENOMEM, TB_EOVERFLOW. */
int tb__report_benchmark(tb__report *r);
/* The period-returns rows from r->t, r->eq and r->bench (call after
 * tb__report_benchmark). 0, TB_ENOMEM, TB_EOVERFLOW. */
int tb__report_periods(tb__report *r);
/* Trade i as reported. 0 or TB_EOVERFLOW. */
int tb__report_trade_row(const tb__report *r, size_t i, tb__rrow *out);
/* trades.csv: header, then one row per trade: closed ones by the point they
 * closed in, then entry; open ones last. 0, TB_EIO, TB_ENOMEM, TB_EOVERFLOW. */
int tb__report_write_trades(const tb__report *r, FILE *f);
/* equity.csv: time, equity, drawdown_pct per point, at most one per minute
 * (the minute's last); the last row is the final equity. 0, TB_EIO. */
int tb__report_write_equity(const tb__report *r, FILE *f);
/* The header trades.csv starts with. */
extern const char tb__report_trades_header[];
/* The header equity.csv starts with. */
extern const char tb__report_equity_header[];
/* Closed trades and those with net PnL > 0 (open ones are not counted). */
void tb__report_count_trades(const tb__report *r, uint64_t *closed, uint64_t *wins);
/* Writes the page. 0 or TB_EIO. */
int tb__report_html(const tb__report *r, FILE *f);
void tb__report_free(tb__report *r);

/* Charts (svg.c). */
typedef struct {
    const int64_t *t;
    const double *y;
    size_t n;
    const char *color;
    int area;          /* fill down to the zero line */
    const char *dash;  /* NULL or a stroke-dasharray */
    const char *label; /* NULL or its name in the chart's legend */
    const char *cls;   /* NULL or the curve's class */
} tb__svg_series;

typedef struct {
    int64_t t;
    double y;
    int up;
    const char *color;
    const char *label; /* tooltip, escaped by the chart */
} tb__svg_marker;

typedef struct {
    const char *title, *id, *unit; /* unit: "" or "%" */
    int width, height;
    const tb__svg_series *series;
    size_t nseries;
    const tb__svg_marker *markers;
    size_t nmarkers;
} tb__svg_chart;

/* Writes an <svg> element. 0 or TB_EIO. */
int tb__svg_write(FILE *f, const tb__svg_chart *c);
/* Writes s HTML-escaped (&, <, >, ", '). */
void tb__html_escape(FILE *f, const char *s);
/* "2024-01-02 13:45" (UTC) into buf. */
void tb__report_time(int64_t ns, char *buf, size_t len);

#endif
