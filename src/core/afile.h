/* Private (not installed): an output file written by a thread of its own.
 *
 * A run's large outputs (equity.csv has a row per bar: 100 MB for 2 M bars)
 * cost the run's thread as much in write(2) — the kernel copying into the
 * page cache — as in formatting. tb__afile_open() returns a stdio FILE
 * whose bytes are handed, 256 KB at a time, to a writer thread that makes
 * the write calls and starts the disk writeback every 8 MB (so the fsync at
 * the end has little left to wait for; tb__afile_open's files), while the run goes on formatting.
 * The order and bytes are exactly those written; nothing is lost: a write
 * that fails (a full disk) makes the next stdio call on the FILE fail, and
 * fclose() fails with its errno. At most four buffers wait; a writer that
 * falls behind slows the run down instead of growing memory. */
#ifndef TRADEBUS_AFILE_H
#define TRADEBUS_AFILE_H

#include <stdio.h>

typedef struct tb__afile tb__afile;

/* Creates (truncates) path and returns a FILE for it; *af is the handle
 * tb__afile_sync_on_close() takes (owned by the FILE: fclose frees it).
 * Without a thread (none can be started) it is a plain fopen()ed FILE and
 * *af is NULL. NULL with errno set when path cannot be created. */
FILE *tb__afile_open(const char *path, tb__afile **af);
/* The same for fd, open for writing at its end: the FILE owns it from
 * then on (fclose closes it). writeback 0: no disk writes are started
 * early (a file that is never synced: starting them only costs the run).
 * NULL with errno set, fd left open. */
FILE *tb__afile_fdopen(int fd, int writeback, tb__afile **af);
/* Makes the FILE's fclose() wait until every byte is on disk (fsync):
 * fclose() then fails if any write or the fsync did. af NULL: a no-op. */
void tb__afile_sync_on_close(tb__afile *af);

#endif
