/* tradebus — parameter sweeps: one backtest per combination of values.
 *
 *   tradebus sweep --config examples/sma_cross.ini \
 *       --param strategy.btc_trend.fast=5:50:5 --param strategy.btc_trend.slow=20,30,50 \
 *       --where 'fast < slow' --objective sharpe --jobs 0 --out out/sweep
 *
 * The grid is every combination of the parameters' values, the first
 * parameter varying slowest (grid order). A where expression drops
 * combinations; random N samples N of those left (seeded). Each
 * combination is exactly `tradebus backtest` with its values given as
 * --set: the same config file, the same base --set and --data, the same
 * code (tb_backtest_run), only the market data is read once and shared by
 * every worker thread. A row therefore does not depend on the number of
 * workers or on their scheduling. A combination whose config is invalid is
 * a row with its error, not the end of the sweep. */
#ifndef TRADEBUS_SWEEP_H
#define TRADEBUS_SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decimal.h"
#include "marketdata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A checkpoint journal (below): finished work kept across Ctrl-C, a kill
 * or a crash, for a --resume. */
typedef struct tb_sweep_journal tb_sweep_journal;

/* Most parameters a sweep varies, values one parameter takes, and
 * combinations one sweep runs (after where and random). */
#define TB_SWEEP_MAX_PARAMS       8
#define TB_SWEEP_MAX_VALUES       10000
#define TB_SWEEP_MAX_COMBINATIONS 1000000

/* One swept config key and its values, as a config would hold them. */
typedef struct {
    char key[128];  /* SECTION.[ID.]KEY, as --set takes it */
    char name[128]; /* its column: the key's last part, or the whole key if two share it */
    char **values;  /* owned: tb_sweep_param_free */
    size_t nvalues;
} tb_sweep_param;

/* Parses "KEY=a:b:step" (a to b inclusive by step, exact decimals, step
 * > 0) or "KEY=v1,v2,..." into p. 0, or TB_EINVAL with the reason in err
 * (naming the argument), TB_ENOMEM. */
TB_EXPORT int tb_sweep_param_parse(const char *arg, tb_sweep_param *p, char *err, size_t errlen);
/* Frees p's values. */
TB_EXPORT void tb_sweep_param_free(tb_sweep_param *p);
/* Gives each of params a column name: the key's last part, the whole key
 * where two would share one. TB_EINVAL (err) for a key swept twice. */
TB_EXPORT int tb_sweep_param_names(tb_sweep_param *params, size_t n, char *err, size_t errlen);

/* A compiled where expression: comparisons (< <= > >= == !=) between
 * parameter names and numbers, joined by and / or / not and parentheses;
 * numbers compare as exact decimals, anything else as text (== and !=). */
typedef struct tb_sweep_where tb_sweep_where;
/* Compiles expr against the parameters' names. 0, or TB_EINVAL with the
 * reason and the column in err, TB_ENOMEM. Free with tb_sweep_where_free. */
TB_EXPORT int tb_sweep_where_compile(const char *expr, const tb_sweep_param *params, size_t n,
                                     tb_sweep_where **out, char *err, size_t errlen);
/* 1 if the combination (value index per parameter) passes, else 0. */
TB_EXPORT int tb_sweep_where_eval(const tb_sweep_where *w, const tb_sweep_param *params,
                                  const size_t *idx);
/* Frees w (NULL: no-op). */
TB_EXPORT void tb_sweep_where_free(tb_sweep_where *w);

/* What one combination gave: summary.json's figures and report.html's ratios. */
typedef struct {
    size_t combination; /* its index in the full grid */
    int done;           /* run to the end (or failed: error set) */
    uint64_t bars, trades;
    tb_decimal net_pnl, return_pct, fees, max_drawdown_pct, win_rate_pct;
    int ratios; /* sharpe and sortino defined (30 days or more) */
    double sharpe, sortino;
    double profit_factor; /* < 0: undefined (no losing trade) */
    double exposure_pct;
    char error[300]; /* "" = ran */
} tb_sweep_row;

typedef struct {
    const char *config_path; /* the base config file */
    const char *const *sets; /* --set assignments applied to every combination */
    size_t nsets;
    const char *const *data; /* --data specs (replace the config's data), may be 0 */
    size_t ndata;
    tb_sweep_param *params; /* borrowed */
    size_t nparams;
    const char *where; /* NULL = every combination */
    size_t random;     /* 0 = all; else sample this many (seed) */
    uint64_t seed;
    int jobs; /* worker threads; 0 = every core */
    /* Polled: 1 ends the sweep after the combinations under way are
     * abandoned (their rows are left for --resume), 2 or more the same at
     * once. May be NULL. */
    volatile sig_atomic_t *stop;
    /* Called from the calling thread about every 200 ms and at the end. */
    void (*progress)(size_t done, size_t total, void *ctx);
    void *progress_ctx;
    /* Skipped bad rows of the data ("file:line: ..."); NULL = silent. */
    void (*warn)(const char *msg, void *ctx);
    void *warn_ctx;
    /* Borrowed, may be NULL. tb_sweep_run adds each row it finishes (of a
     * TB_SWEEP_JOURNAL_ROWS journal); tb_sweep_walk_forward restores the
     * windows a TB_SWEEP_JOURNAL_WINDOWS journal holds and adds each
     * window it finishes. */
    tb_sweep_journal *journal;
    /* Walk-forward with a journal: the path of the checkpoint of the
     * training sweep under way (a TB_SWEEP_JOURNAL_ROWS journal, replaced
     * at each window, removed once the window is in journal); NULL = that
     * sweep is rerun whole after a kill. */
    const char *window_journal;
    /* Called (calling thread) when a resumed window's training sweep
     * starts with rows window_journal held: its index, those rows, its
     * rows. ctx is progress_ctx. May be NULL. */
    void (*window_resumed)(size_t window, size_t held, size_t total, void *ctx);
    /* Walk-forward: called as progress is, for the training sweep of window
     * (its index): combinations done and total. ctx is progress_ctx. May be
     * NULL. */
    void (*window_rows)(size_t window, size_t done, size_t total, void *ctx);
} tb_sweep_options;

typedef struct {
    tb_sweep_row *rows; /* owned: one per selected combination, grid order */
    size_t nrows;
    size_t done;     /* rows with done set */
    size_t grid;     /* combinations in the full grid */
    uint64_t bars;   /* market data bars read once */
    double seconds;  /* wall time of the runs */
    int interrupted; /* stop ended it before every row was done */
} tb_sweep_result;

/* Lists the selected combinations (grid, where, random) into res->rows
 * without running them: the rows' combination set, nothing done. 0, or
 * TB_EINVAL / TB_ERANGE (too many) with the reason in err, TB_ENOMEM. */
TB_EXPORT int tb_sweep_plan(const tb_sweep_options *opt, tb_sweep_result *res, char *err,
                            size_t errlen);
/* Runs every row of res not done yet (tb_sweep_plan first; rows already
 * done, e.g. from tb_sweep_journal_rows or tb_sweep_read_csv, are kept). 0 (also when stopped:
 * res->interrupted), or TB_ECONFIG / TB_EDATA / TB_EIO for the base
 * config or the data, with the reason in err. */
TB_EXPORT int tb_sweep_run(const tb_sweep_options *opt, tb_sweep_result *res, char *err,
                           size_t errlen);
/* The value of parameter k in row's combination (borrowed from params). */
TB_EXPORT const char *tb_sweep_value(const tb_sweep_param *params, size_t nparams,
                                     size_t combination, size_t k);
/* The values of combination as "name=value name=value" (the params'
 * column names) into buf (len bytes, cut to fit). Returns the length. */
TB_EXPORT size_t tb_sweep_describe(const tb_sweep_param *params, size_t nparams, size_t combination,
                                   char *buf, size_t len);
/* Writes the done rows as sweep.csv (docs/sweep.md): the parameters' columns,
 * then bars, trades, net_pnl, return_pct, fees, max_drawdown_pct, sharpe,
 * sortino, win_rate_pct, profit_factor, exposure_pct, error. 0 or TB_EIO. */
TB_EXPORT int tb_sweep_write_csv(const tb_sweep_param *params, size_t nparams,
                                 const tb_sweep_result *res, FILE *f);
/* Marks done the rows of res that path (a sweep.csv of the same
 * parameters) already holds, with their figures. 0 (also when path does
 * not exist), TB_EPARSE with file:line in err for a file of another sweep. */
TB_EXPORT int tb_sweep_read_csv(const char *path, const tb_sweep_param *params, size_t nparams,
                                tb_sweep_result *res, char *err, size_t errlen);
/* The row's figure named by objective ("sharpe", "net_pnl", ... any metric
 * column), as a number where larger is better (drawdown and fees negated);
 * 0 with *ok = 0 when the row has none. */
TB_EXPORT double tb_sweep_objective(const tb_sweep_row *row, const char *objective, int *ok);
/* 1 if objective names a metric column. */
TB_EXPORT int tb_sweep_objective_valid(const char *objective);
/* The index of the best done row by objective (ties: the first in grid
 * order), or (size_t)-1 if none has the figure. */
TB_EXPORT size_t tb_sweep_best(const tb_sweep_result *res, const char *objective);
/* Frees what res owns. */
TB_EXPORT void tb_sweep_result_free(tb_sweep_result *res);

/* Every bar of opt's data (its config, --set and --data), read once into
 * *bars (owned: free()). 0, or TB_ECONFIG / TB_EDATA / TB_EIO (err). */
TB_EXPORT int tb_sweep_load_bars(const tb_sweep_options *opt, tb_market_data **bars, size_t *nbars,
                                 char *err, size_t errlen);
/* tb_sweep_run on bars already loaded (borrowed, read-only meanwhile). */
TB_EXPORT int tb_sweep_run_bars(const tb_sweep_options *opt, tb_sweep_result *res,
                                const tb_market_data *bars, size_t nbars, char *err, size_t errlen);

/* ---- walk-forward ---------------------------------------------------------
 * For each window, the sweep runs on the bars opening in [train_from,
 * train_to); the best combination by the objective then runs on the test
 * part: the bars from train_from on warm its strategies up (nothing is
 * traded before test_from), its orders start at test_from and the run ends
 * with the last bar opening before test_to. Each test run starts with the
 * equity the previous one ended with, so the test parts chain into one
 * out-of-sample equity curve. */
typedef struct {
    int64_t train_from, train_to, test_from, test_to; /* ns, [from, to) */
} tb_wf_window;

/* Rolling windows over the bars [first, end): train then test, stepping by
 * test, the first starting at first's UTC midnight; the last test part
 * may be shorter (it ends at end). 0, TB_EINVAL (train or test <= 0, or no
 * whole training part fits), TB_ENOMEM. *out owned: free(). */
TB_EXPORT int tb_wf_windows(int64_t first, int64_t end, int64_t train, int64_t test,
                            tb_wf_window **out, size_t *n);

typedef struct {
    tb_wf_window w;
    int chosen;              /* a combination had the objective in training */
    size_t combination;      /* the one chosen */
    double in_sample;        /* its objective in training */
    tb_sweep_row oos;        /* its test run (error set if it failed) */
    tb_decimal equity_start; /* the test run's initial equity */
    tb_decimal equity_end;
} tb_wf_row;

/* The start of a window's error (tb_wf_row.oos.error) when every
 * combination of its training sweep failed: "...; the first, VALUES: ERROR". */
#define TB_WF_UNTRAINABLE "every training combination failed"
/* 1 if row chose nothing because every training combination failed (a
 * misspelt key), else 0: a walk-forward where no window trains is a config
 * error. */
TB_EXPORT int tb_wf_row_untrainable(const tb_wf_row *row);
/* Writes rows[0..n) as walkforward.csv (docs/sweep.md): window, its four
 * dates (each part's first and last instant included), the chosen values,
 * in_sample_OBJECTIVE, the test part's figures, equity at its start and
 * end, and why a window chose nothing or failed. 0 or TB_EIO. */
TB_EXPORT int tb_wf_write_csv(const tb_sweep_param *params, size_t nparams, const tb_wf_row *rows,
                              size_t n, const char *objective, FILE *f);

/* Runs every window (rows[i] for windows[i]); each point of the stitched
 * out-of-sample curve goes to equity_csv as "time,equity" (header
 * included; may be NULL). With opt->journal, the windows it holds are
 * restored first (rows, curve points and the equity they ended with, all
 * exact) and the run goes on from the next one; with opt->window_journal
 * too, that window's training sweep keeps the rows it held (a journal
 * opened with resume) and runs the rest. progress counts windows.
 * *done: the windows finished, rows[0..*done) (fewer than nwindows when
 * stopped). 0 (also when stopped), or as tb_sweep_run. */
TB_EXPORT int tb_sweep_walk_forward(const tb_sweep_options *opt, const tb_wf_window *windows,
                                    size_t nwindows, const char *objective, tb_wf_row *rows,
                                    FILE *equity_csv, size_t *done, char *err, size_t errlen);

/* ---- checkpoints -----------------------------------------------------------
 * A journal file keeps finished work as it goes: its first line names the
 * kind and a fingerprint of the work, then one record per finished row (or
 * window, with its curve points), each with a checksum, appended in the
 * order they finish. Rows are written in batches (every 64 rows or 2 s),
 * windows at once; the file is synced at most every 2 s (and after each
 * window when a window_journal holds its rows). A kill or a crash
 * loses at most the batch under way; a record torn by it fails its
 * checksum and is dropped (with anything after it) on resume. */
typedef enum {
    TB_SWEEP_JOURNAL_ROWS = 1,    /* a sweep's rows */
    TB_SWEEP_JOURNAL_WINDOWS = 2, /* a walk-forward's windows */
} tb_sweep_journal_kind;

/* A fingerprint of what selects and computes the work: opt's config path,
 * --set, --data, params and values, where, random and seed; for a
 * walk-forward also the objective and the windows (objective NULL and
 * nwindows 0 for a sweep). Never fails. */
TB_EXPORT uint64_t tb_sweep_fingerprint(const tb_sweep_options *opt, const char *objective,
                                        const tb_wf_window *windows, size_t nwindows);

/* Opens path as the journal of the work fp. resume = 0: path is replaced
 * (temp + rename) by an empty journal. resume = 1: path must be a journal
 * of this kind and fp; its records are read up to the first torn or
 * damaged one, the file is cut there, and new records follow. *out owned:
 * tb_sweep_journal_close. 0; with "path: why" in err: TB_ENOTFOUND (no
 * file), TB_EINVAL (another kind or fingerprint), TB_ENOTSUP (the
 * fingerprint-only sweep.state of tradebus before journals, same fp: its
 * rows are in sweep.csv, tb_sweep_read_csv), TB_EIO, TB_ENOMEM. */
TB_EXPORT int tb_sweep_journal_open(const char *path, tb_sweep_journal_kind kind, uint64_t fp,
                                    int resume, tb_sweep_journal **out, char *err, size_t errlen);
/* The records read when j was opened with resume (0 for a new journal). */
TB_EXPORT size_t tb_sweep_journal_count(const tb_sweep_journal *j);
/* Marks done the rows of res the journal held when opened, with their
 * exact figures (rows not in res are skipped). Returns how many. */
TB_EXPORT size_t tb_sweep_journal_rows(const tb_sweep_journal *j, tb_sweep_result *res);
/* Adds a finished row (copied); thread-safe. Written with its batch.
 * 0, or the first write error so far (TB_EIO, TB_ENOMEM). */
TB_EXPORT int tb_sweep_journal_add(tb_sweep_journal *j, const tb_sweep_row *row);
/* Writes the rows added so far and syncs the file. 0 or the first error. */
TB_EXPORT int tb_sweep_journal_flush(tb_sweep_journal *j);
/* Flushes and frees j (NULL: no-op). 0, or the first write error j met:
 * then the file lacks rows a later resume reruns, nothing worse. */
TB_EXPORT int tb_sweep_journal_close(tb_sweep_journal *j);

#ifdef __cplusplus
}
#endif
#endif
