/* Private (not installed): a backtest's journal — every event appended,
 * dead letters kept, commits at bar boundaries, and --resume.
 *
 * Resume works by deterministic re-execution: the run starts again from
 * the first bar with the journal in "replay" mode — events the journal
 * already holds are not appended again — until the dispatched count reaches
 * the journal's, at a bar boundary. There the last replayed event must equal
 * the journal's last event byte for byte (else the data or the code changed:
 * refused), and the run goes on appending. State (strategies, orders,
 * positions, the simulated exchange) is thereby exactly what it was. */
#ifndef TRADEBUS_JOURNALED_H
#define TRADEBUS_JOURNALED_H

#include "tradebus/backtest.h"
#include "tradebus/journal.h"
#include "tradebus/marketdata.h"

typedef struct tb__jrun tb__jrun;

/* tb__jrun_open's flags. */
#define TB__JRUN_RESUME 1 /* continue the run the journal holds */
/* A live run's journal (meta kind = live): a resume appends a new session
 * after the journal's events (nothing is re-executed: the caller restores
 * the state from them, tb__jrun_journal). A backtest's journal is refused
 * by a live run and the other way round. */
#define TB__JRUN_LIVE 2

/* Opens cfg->journal_path. Without TB__JRUN_RESUME an existing run in it is
 * refused; with it a journal of another config is refused. */
int tb__jrun_open(const tb_config *cfg, int flags, tb__jrun **out, char *err, size_t errlen);
/* The journal (borrowed), to read what an earlier session recorded. */
tb_journal *tb__jrun_journal(tb__jrun *j);
/* Events the journal held when it was opened. */
int64_t tb__jrun_held(const tb__jrun *j);
/* The run's data (borrowed until tb__jrun_detach): what it has read is
 * recorded with each commit and checked when a resume reaches the
 * journal's end. */
void tb__jrun_watch(tb__jrun *j, const tb_md_merge *md);
/* A tb_dead_letter_fn: keeps a dead letter in the journal's queue. */
void tb__jrun_dead_letter(const tb_dead_letter *d, void *ctx);
/* Subscribes to every event on bus (borrowed until tb__jrun_detach). */
int tb__jrun_attach(tb__jrun *j, tb_bus *bus);
/* After each bar: the replay check, and a commit every commit_every bars. */
int tb__jrun_after_bar(tb__jrun *j, char *err, size_t errlen);
/* At the end of a run: commit, and keep the summary for `journal replay`. */
int tb__jrun_finish(tb__jrun *j, const tb_backtest_result *res, char *err, size_t errlen);
/* Delivers dead letters again to the components that failed them, now
 * that the state is rebuilt: which = a queue id, or -1 for all. Successes
 * leave the queue; what they cause is journaled. Counts in *ok / *failed. */
int tb__jrun_replay_dlq(tb__jrun *j, tb_bus *bus, int64_t which, uint64_t *ok, uint64_t *failed,
                        char *err, size_t errlen);
/* Records a request to the exchange and commits (with the events pending):
 * on disk before it is sent, so a crash after it leaves a trace that
 * reconciliation at the next start follows. TB_EIO / TB_EFULL. */
int tb__jrun_request(tb__jrun *j, const tb_journal_request *rq, char *err, size_t errlen);
/* Unsubscribes (before the bus goes away). */
void tb__jrun_detach(tb__jrun *j);
/* Closes the journal (committing what is pending) and frees; failed: the
 * run failed — a journal it created and recorded nothing in is removed.
 * NULL: no-op. */
void tb__jrun_close(tb__jrun *j, int failed);
/* Entries in the journal's dead-letter queue. */
int64_t tb__jrun_queue_size(tb__jrun *j);
/* True while the run re-executes what the journal already holds. */
int tb__jrun_replaying(const tb__jrun *j);

#endif
