/* tradebus — comparing two trade logs record by record (the parallel run).
 *
 * Both sides' records are put in one canonical order — time, then kind
 * (signal, order, fill, position), then strategy_id, then symbol, then the
 * order they were made in — so two systems that log simultaneous records
 * in different orders still line up. The two sequences are then merged:
 * records with the same key (kind, strategy_id, symbol, time within the time
 * tolerance) are compared field by field (decimals by value, prices within
 * the price tolerance); a record only one side has is "missing" on the
 * other. The FINAL records are compared last.
 *
 * Divergence kinds: a record on the pipeline side only (extra), on the
 * legacy side only (missing), or on both with different fields (mismatch),
 * counted per record kind. */
#ifndef TRADEBUS_PARITY_H
#define TRADEBUS_PARITY_H

#include <signal.h>
#include <stdio.h>
#include "tradelog.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TB_SIDE_PIPELINE = 0, TB_SIDE_LEGACY = 1 } tb_parity_side;

typedef enum {
    TB_DIV_MISMATCH = 1,      /* both sides, fields differ */
    TB_DIV_ONLY_PIPELINE = 2, /* the legacy side lacks it */
    TB_DIV_ONLY_LEGACY = 3    /* the pipeline lacks it */
} tb_divergence_kind;

typedef struct {
    tb_decimal price_tolerance; /* absolute, on price, entry_price, commission and PnL fields */
    int64_t time_tolerance;     /* ns */
    size_t context;             /* records shown before the first divergence; default 3 */
} tb_parity_options;

typedef struct {
    tb_divergence_kind kind;
    tb_trade_record pipeline; /* valid unless ONLY_LEGACY */
    tb_trade_record legacy;   /* valid unless ONLY_PIPELINE */
    char field[24];           /* MISMATCH: the first differing field */
} tb_divergence;

typedef struct {
    uint64_t records[2][6]; /* per side, per tb_record_kind */
    uint64_t divergences;   /* total */
    uint64_t by_kind[6][4]; /* [record kind][divergence kind] */
} tb_parity_summary;

typedef struct tb_parity tb_parity;

/* Fills opts with defaults: exact comparison, 3 records of context. */
TB_EXPORT void tb_parity_options_init(tb_parity_options *opts);
/* Creates an empty comparison (opts copied). 0, TB_EINVAL, TB_ENOMEM. */
TB_EXPORT int tb_parity_create(const tb_parity_options *opts, tb_parity **out);
/* NULL is a no-op. */
TB_EXPORT void tb_parity_destroy(tb_parity *p);
/* Adds one record of a side (copied). 0 or TB_ENOMEM. */
TB_EXPORT int tb_parity_add(tb_parity *p, tb_parity_side side, const tb_trade_record *rec);
/* Compares every record added so far whose time is <= upto (INT64_MAX: all,
 * FINAL records included) and not compared yet; records after upto wait for
 * a later call (so a shadow run can compare bar by bar). Returns the number
 * of new divergences (>= 0) or TB_ENOMEM. */
TB_EXPORT int tb_parity_compare(tb_parity *p, int64_t upto);
/* Totals so far. */
TB_EXPORT tb_parity_summary tb_parity_get_summary(const tb_parity *p);
/* Divergences found so far, in canonical order; NULL past the end. */
TB_EXPORT size_t tb_parity_divergence_count(const tb_parity *p);
TB_EXPORT const tb_divergence *tb_parity_divergence(const tb_parity *p, size_t i);
/* Writes the human report: either "IDENTICAL: N signals, M orders, K fills,
 * final PnL equal" or the first divergence with both records and the
 * context records before it, then the counts per kind. 0 or TB_EIO. */
TB_EXPORT int tb_parity_write_report(const tb_parity *p, FILE *f);
/* Writes every divergence and the summary as one JSON document. */
TB_EXPORT int tb_parity_write_json(const tb_parity *p, FILE *f);

/* ---- filling the two sides (src/migration/parity_run.c) ---- */

struct tb_config; /* config.h */

/* Runs the pipeline (a backtest without output files) on cfg's data and adds
 * its trade log as the PIPELINE side; each record is also written to copy
 * when not NULL (the caller flushes and closes it). Errors as
 * tb_backtest_run, message in err. A write to copy that fails (a full disk)
 * is the caller's output failing, not the data: TB_EIO with err "write
 * failed: REASON" and ferror(copy) set — the same for the two below. */
TB_EXPORT int tb_parity_add_pipeline_run(tb_parity *p, const struct tb_config *cfg, FILE *copy,
                                         char *err, size_t errlen);
/* Runs the bundled legacy monolith on cfg's data and adds its trade log as
 * the LEGACY side (copy as above). extra: the program's own old-style
 * strategies (may be NULL). TB_EDATA / TB_EIO with "file:line: ..." in
 * err, TB_ECONFIG (what the monolith cannot model: tb_legacy_check_config). */
struct tb_legacy_strategy; /* legacy.h */
TB_EXPORT int tb_parity_add_legacy_run(tb_parity *p, const struct tb_config *cfg,
                                       const struct tb_legacy_strategy *const *extra, size_t nextra,
                                       FILE *copy, char *err, size_t errlen);
/* Reads a trade log from f (name for messages) as the LEGACY side. A bad
 * line: TB_EPARSE with "name:line: field: what is wrong". */
TB_EXPORT int tb_parity_add_legacy_log(tb_parity *p, FILE *f, const char *name, FILE *copy,
                                       char *err, size_t errlen);

/* How long a legacy command may run by default: 10 minutes. */
#define TB_LEGACY_CMD_TIMEOUT_MS (600 * INT64_C(1000))

typedef struct {
    /* The whole run, from start to exit, in ms; 0 = no limit. */
    int64_t timeout_ms;
    /* NULL, or a flag a signal handler sets (Ctrl-C): once non-zero, the
     * command's process group is killed and TB_ECANCELED returned. Its own
     * process group does not get the terminal's Ctrl-C: this passes it on. */
    const volatile sig_atomic_t *stop;
} tb_legacy_cmd_options;

/* Fills opt with the defaults (timeout_ms = TB_LEGACY_CMD_TIMEOUT_MS). */
TB_EXPORT void tb_legacy_cmd_options_init(tb_legacy_cmd_options *opt);
/* Runs cmd with /bin/sh -c in its own process group (the environment and
 * stdin are the caller's) and reads its stdout as the LEGACY side's trade
 * log, lines named "--legacy-cmd output:LINE" (copy as above; opt NULL =
 * defaults). Lines longer than 65536 bytes are refused while reading, so
 * memory stays bounded whatever the command prints. On any error, and when
 * the command is still running at the timeout (its stdout closed or not),
 * its whole process group is killed and reaped. Returns 0 once the command
 * exited with status 0; TB_EPARSE (bad or over-long line, "--legacy-cmd
 * output:LINE: ..."); TB_ETIMEOUT ("legacy command 'CMD' did not finish
 * within N s"); TB_ECANCELED (opt->stop was set); TB_EIO ("... failed (exit status N)", "... was
 * killed by signal 9 (SIGKILL)", or it could not be started); a sink error. */
TB_EXPORT int tb_parity_add_legacy_cmd(tb_parity *p, const char *cmd,
                                       const tb_legacy_cmd_options *opt, FILE *copy, char *err,
                                       size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
