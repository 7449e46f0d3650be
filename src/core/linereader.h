/* Private (not installed): a line reader whose memory is bounded by the
 * longest line it accepts. getline() grows its buffer to whatever the input
 * holds, so one 500 MB line (or /dev/zero, which has none) costs 500 MB
 * (or all memory) before a length check can run; here the limit is checked
 * while reading and an over-long line is reported as soon as the limit is
 * passed, then skipped without being stored. */
#ifndef TRADEBUS_LINEREADER_H
#define TRADEBUS_LINEREADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The longest line (bytes before its '\n'; a '\r' before the '\n' is not
 * counted) every text input of tradebus accepts: CSV data, trade logs,
 * config files. */
#define TB__MAX_LINE ((size_t)65536)

/* Fills buf with up to n bytes: returns how many (> 0), 0 at end of input,
 * or a negative TB_E* code (with errno set when it is TB_EIO). */
typedef ssize_t (*tb__lr_read_fn)(void *ctx, char *buf, size_t n);

typedef struct {
    tb__lr_read_fn read;
    void *ctx;
    char *buf;  /* max + 3 bytes: a line, its '\r' and '\n', a NUL */
    size_t max; /* longest line accepted */
    size_t start, end;
    uint64_t lineno; /* number of the line last returned (1-based) */
    int eof;
    int skipping;  /* discarding the rest of an over-long line */
    uint64_t hash; /* of every line returned so far (tb__lr_next) */
} tb__lr;

/* Results of tb__lr_next() besides errors. */
#define TB__LR_EOF      0
#define TB__LR_LINE     1
#define TB__LR_TOO_LONG 2

/* Sets up a reader of lines up to max bytes over read(ctx). 0 or TB_ENOMEM. */
int tb__lr_init(tb__lr *lr, size_t max, tb__lr_read_fn read, void *ctx);
/* The next line: TB__LR_LINE with *line (NUL-terminated at *len, without its
 * "\n" or "\r\n"; it may hold NUL bytes, which the caller judges) valid until
 * the next call; TB__LR_EOF at the end; TB__LR_TOO_LONG when line lr->lineno
 * passed lr->max bytes (the next call goes on after it); or the read
 * function's negative TB_E* code. */
int tb__lr_next(tb__lr *lr, char **line, size_t *len);
/* A 64-bit hash of the lines returned so far, their bytes and their ends
 * (an over-long line counts by its number): computed while reading, so a
 * caller learns whether two reads saw the same lines without a second pass
 * (a journal's resume check). Not cryptographic. */
static inline uint64_t tb__lr_hash(const tb__lr *lr)
{
    return lr->hash;
}
/* Frees the buffer; the source is the caller's. */
void tb__lr_close(tb__lr *lr);

/* Read functions: ctx is a FILE * (fread) or a pointer to an int fd (read). */
ssize_t tb__lr_read_file(void *ctx, char *buf, size_t n);
ssize_t tb__lr_read_fd(void *ctx, char *buf, size_t n);

#endif
