/* Private (not installed): the binary cache of parsed market data
 * (docs/data.md, "Cache"). A file read whole is stored as its bars, each
 * with the reader's digest after it, beside the source as .NAME.tbcache (or
 * under $XDG_CACHE_HOME/tradebus/ when that folder is not writable); a later
 * read of the unchanged file (same size, mtime and content hash, same
 * options) serves the bars from it without parsing. */
#ifndef TRADEBUS_MDCACHE_H
#define TRADEBUS_MDCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tradebus/event.h"

/* A fast 64-bit hash of a byte stream, the same whatever the chunks it is
 * fed in: four independent lanes over 32-byte stripes (not cryptographic). */
typedef struct {
    uint64_t lane[4];
    uint64_t total;
    unsigned char carry[32];
    size_t ncarry;
} tb__mdc_hash;

void tb__mdc_hash_init(tb__mdc_hash *h);
void tb__mdc_hash_update(tb__mdc_hash *h, const void *p, size_t n);
uint64_t tb__mdc_hash_final(const tb__mdc_hash *h);

/* What the cached bars depend on besides the bytes: the parse options. */
typedef struct {
    uint32_t opts; /* round_prices, on_bad_row, bits of the format */
} tb__mdc_opts;

/* One cached bar as served: the bar and the source digest after it. */
typedef struct {
    int64_t open, high, low, close, volume, open_time, close_time;
    uint64_t lines, hash;
} tb__mdc_rec;

typedef struct tb__mdc_in tb__mdc_in;
typedef struct tb__mdc_out tb__mdc_out;

/* Looks for a valid cache of path (open as src_fd, stat st) made with
 * opts: header, size, payload checksum and the source's content hash all
 * checked (the source is read once to hash it). Returns 1 with *out (the
 * caller frees it with tb__mdc_in_close), 0 when there is none usable. */
int tb__mdc_in_open(const char *path, int src_fd, const struct stat *st, uint32_t opts,
                    tb__mdc_in **out);
/* The digest after the header line(s), before the first bar. */
void tb__mdc_in_start(const tb__mdc_in *c, uint64_t *lines, uint64_t *hash);
/* The next record in *rec (borrowed until the next call): 1; 0 at the end
 * (then *lines and *hash hold the digest at the end of the file); TB_EIO
 * when the file can no longer be read whole (truncated after it was
 * checked). */
int tb__mdc_in_next(tb__mdc_in *c, const tb__mdc_rec **rec, uint64_t *lines, uint64_t *hash);
/* 1 if opening c read the whole source to hash it, 0 if the source was
 * known unchanged by its identity (device, inode, ctime). */
int tb__mdc_in_hashed_source(const tb__mdc_in *c);
void tb__mdc_in_close(tb__mdc_in *c);

/* Starts writing a cache of path (stat st at open) under a temporary name:
 * beside the source, else under the XDG cache folder. NULL when neither
 * can be written (the run goes on without a cache). */
tb__mdc_out *tb__mdc_out_begin(const char *path, const struct stat *st, uint32_t opts);
/* Bytes of the source as they are read (the content hash). */
void tb__mdc_out_source(tb__mdc_out *w, const void *p, size_t n);
/* The digest after the header line(s). */
void tb__mdc_out_start(tb__mdc_out *w, uint64_t lines, uint64_t hash);
/* Appends one bar with the digest after it. */
void tb__mdc_out_bar(tb__mdc_out *w, const tb_market_data *b, uint64_t lines, uint64_t hash);
/* The whole file was read (digest at its end): checks the source did not
 * change while read (src_fd's size and mtime), then writes the header and
 * renames the cache into place. Frees w either way. */
void tb__mdc_out_commit(tb__mdc_out *w, int src_fd, uint64_t lines, uint64_t hash);
/* Drops the temporary file (a failed or partial read). NULL is a no-op. */
void tb__mdc_out_abort(tb__mdc_out *w);

#endif
