/* Bounded line reading: see linereader.h. */
#define _POSIX_C_SOURCE 200809L
#include "linereader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tradebus/error.h"

/* Bytes the buffer holds before a NUL: the longest accepted line with its
 * "\r\n". Filling it without meeting a '\n' proves the line too long. */
static size_t room(const tb__lr *lr)
{
    return lr->max + 2;
}

int tb__lr_init(tb__lr *lr, size_t max, tb__lr_read_fn read, void *ctx)
{
    memset(lr, 0, sizeof(*lr));
    lr->buf = malloc(max + 3);
    if (!lr->buf) return TB_ENOMEM;
    lr->max = max;
    lr->read = read;
    lr->ctx = ctx;
    return 0;
}

void tb__lr_close(tb__lr *lr)
{
    free(lr->buf);
    lr->buf = NULL;
}

/* Reads more after the buffered bytes. 0 (lr->eof set at the end) or an
 * error. */
static int fill(tb__lr *lr)
{
    ssize_t n = lr->read(lr->ctx, lr->buf + lr->end, room(lr) - lr->end);
    if (n < 0) return (int)n;
    if (n == 0)
        lr->eof = 1;
    else
        lr->end += (size_t)n;
    return 0;
}

/* Mixes one word into h: a multiply and a shift, 8 bytes at a time, so the
 * hash costs little beside parsing the line. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

/* Adds n bytes at p and their end to the reader's hash. */
static void hash_line(tb__lr *lr, const char *p, size_t n)
{
    uint64_t h = lr->hash, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = mix(h, w);
    }
    if (i < n) {
        w = 0;
        memcpy(&w, p + i, n - i);
        h = mix(h, w);
    }
    /* The length ends the line: "ab\nc" and "a\nbc" differ. */
    lr->hash = mix(h, (uint64_t)n | (1ULL << 63));
}

/* Ends the line of n bytes at p (its '\n' already dropped). */
static int take(tb__lr *lr, char *p, size_t n, char **line, size_t *len)
{
    lr->lineno++;
    hash_line(lr, p, n);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n > lr->max) return TB__LR_TOO_LONG;
    p[n] = '\0';
    *line = p;
    *len = n;
    return TB__LR_LINE;
}

int tb__lr_next(tb__lr *lr, char **line, size_t *len)
{
    for (;;) {
        char *p = lr->buf + lr->start;
        size_t avail = lr->end - lr->start;
        char *nl = memchr(p, '\n', avail);
        if (lr->skipping) {
            /* The rest of an over-long line: dropped as it comes. */
            if (nl) {
                lr->start += (size_t)(nl - p) + 1;
                lr->skipping = 0;
                continue;
            }
            lr->start = lr->end = 0;
            if (lr->eof) return TB__LR_EOF;
        } else if (nl) {
            lr->start += (size_t)(nl - p) + 1;
            return take(lr, p, (size_t)(nl - p), line, len);
        } else if (lr->eof) {
            if (avail == 0) return TB__LR_EOF;
            lr->start = lr->end; /* the last line has no '\n' */
            return take(lr, p, avail, line, len);
        } else if (avail >= room(lr)) {
            lr->lineno++;
            lr->hash = mix(lr->hash, lr->lineno | (1ULL << 62));
            lr->skipping = 1;
            lr->start = lr->end = 0;
            return TB__LR_TOO_LONG;
        } else if (lr->start > 0) {
            memmove(lr->buf, p, avail);
            lr->start = 0;
            lr->end = avail;
        }
        int rc = fill(lr);
        if (rc) return rc;
    }
}

ssize_t tb__lr_read_file(void *ctx, char *buf, size_t n)
{
    FILE *f = ctx;
    errno = 0;
    size_t got = fread(buf, 1, n, f);
    if (got == 0 && ferror(f)) {
        if (errno == 0) errno = EIO;
        return TB_EIO;
    }
    return (ssize_t)got;
}

ssize_t tb__lr_read_fd(void *ctx, char *buf, size_t n)
{
    int fd = *(const int *)ctx;
    for (;;) {
        ssize_t got = read(fd, buf, n);
        if (got >= 0) return got;
        if (errno != EINTR) return TB_EIO;
    }
}
