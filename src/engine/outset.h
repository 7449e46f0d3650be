/* Private (not installed): a run's output files, all published at once.
 *
 * Every file of a run is written into a staging folder inside the output
 * folder (DIR/.tradebus-PID.tmp/NAME, so the run's own readers — the report
 * — find them under their real names) and moved to DIR/NAME only by
 * tb__outset_commit(). Until then DIR keeps its previous contents; an
 * aborted run (an error, a second stop request) removes the staging folder
 * and renames nothing. A file added later (trades.csv, equity.csv) is one
 * more tb__outset_open() call. */
#ifndef TRADEBUS_OUTSET_H
#define TRADEBUS_OUTSET_H

#include <stddef.h>
#include <stdio.h>

#include "../report/report_int.h"
#include "tradebus/backtest.h"

typedef struct tb__outset tb__outset;

/* Creates dir and its missing parents, then the staging folder in it.
 * 0, TB_EIO ("DIR: cannot create output directory: why" in err), TB_ENOMEM. */
int tb__outset_create(const char *dir, tb__outset **out, char *err, size_t errlen);
/* Opens NAME for writing in the staging folder; the set owns the FILE
 * (never fclose it). NULL with "DIR/NAME: cannot write: why" in err. */
FILE *tb__outset_open(tb__outset *s, const char *name, char *err, size_t errlen);
/* Adds NAME, written into the staging folder by someone else (the report),
 * to the files the commit publishes. 0, TB_ENOMEM, TB_ENOTFOUND (absent). */
int tb__outset_adopt(tb__outset *s, const char *name);
/* The staging folder (borrowed; valid until the set is freed). */
const char *tb__outset_staging(const tb__outset *s);
/* Flushes, fsyncs and closes every file opened so far (a reader can then
 * read them in the staging folder). 0 or TB_EIO with the name in err. */
int tb__outset_close(tb__outset *s, char *err, size_t errlen);
/* Flushes, fsyncs and closes every file, then renames each to DIR/NAME.
 * Each name of `stale` (NULL-terminated; may be NULL) this run did not
 * write is removed from DIR: a file of an earlier run must not pass for
 * this one's. 0 or TB_EIO ("DIR/NAME: write failed: why" in err); on
 * error nothing not yet renamed is. */
int tb__outset_commit(tb__outset *s, const char *const *stale, char *err, size_t errlen);
/* Closes and removes every staged file and the staging folder, then frees.
 * After a commit it only frees. NULL: no-op. */
void tb__outset_free(tb__outset *s);

/* A run's outputs beside what the pipeline wrote as it went (backtest.c,
 * shared by every runner): summary.json of res, then, when report and
 * [output] event_log, report.html with trades.csv and equity.csv, built
 * from replay (the run's Monitor's, moved out of it; see
 * tb__report_load_replay) or, replay NULL, from the staged files read back.
 * 0 or TB_EIO (and the report's errors) with the file named as
 * out_dir/NAME in err. */
int tb__run_stage_outputs(tb__outset *os, const tb_config *cfg, const char *out_dir, int report,
                          const tb_backtest_result *res, tb__report *replay, char *err,
                          size_t errlen);
/* Publishes the staged files (tb__outset_commit), removing those of an
 * earlier run this one did not write. */
int tb__run_publish(tb__outset *os, char *err, size_t errlen);
/* The journal is not one of the run's output files in dir (0), else
 * TB_ECONFIG with both paths in err. */
int tb__check_journal_path(const tb_config *cfg, const char *dir, char *err, size_t errlen);

#endif
