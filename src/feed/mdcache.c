/* The binary cache of parsed market data: see mdcache.h and docs/data.md. */
#define _GNU_SOURCE /* realpath, fwrite_unlocked, mkostemp */
#include "mdcache.h"

#include "../core/afile.h"
#include "../core/thread.h"
#include "tradebus/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "TBMDCACH" read as a little-endian word; a file from a machine of the
 * other byte order reads as another magic and is ignored. */
#define MDC_MAGIC UINT64_C(0x48434143444d4254)
/* Bumped whenever the layout or the meaning of a field changes. */
#define MDC_VERSION 1
#define MDC_HWORDS  16
#define MDC_HEADER  (MDC_HWORDS * 8)
#define MDC_BUFRECS 1024
#define MDC_READBUF ((size_t)1 << 20)

enum {
    H_MAGIC,
    H_VERSION,
    H_OPTS,
    H_SRC_SIZE,
    H_SRC_MTIME,
    H_SRC_HASH,
    H_NBARS,
    H_OPEN_LINES,
    H_OPEN_HASH,
    H_END_LINES,
    H_END_HASH,
    H_PAYLOAD_SUM,
    /* The source's identity when its content was last hashed: device,
     * inode and status-change time (ctime, which no user call can set and
     * every write or touch moves). While all three and the size and mtime
     * hold, the content cannot have changed, so a hit skips reading the
     * source. Zero in caches written before they were kept: the content is
     * hashed once more, then they are filled in. */
    H_SRC_DEV,
    H_SRC_INO,
    H_SRC_CTIME,
    H_HEADER_SUM = MDC_HWORDS - 1
};

/* ---- hash ---------------------------------------------------------------- */

#define P1 UINT64_C(0x9E3779B185EBCA87)
#define P2 UINT64_C(0xC2B2AE3D27D4EB4F)

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t round1(uint64_t acc, uint64_t w)
{
    return rotl(acc + w * P2, 31) * P1;
}

static inline void stripe(tb__mdc_hash *h, const unsigned char *p)
{
    uint64_t w[4];
    memcpy(w, p, 32);
    h->lane[0] = round1(h->lane[0], w[0]);
    h->lane[1] = round1(h->lane[1], w[1]);
    h->lane[2] = round1(h->lane[2], w[2]);
    h->lane[3] = round1(h->lane[3], w[3]);
}

void tb__mdc_hash_init(tb__mdc_hash *h)
{
    memset(h, 0, sizeof *h);
    h->lane[0] = P1 + P2;
    h->lane[1] = P2;
    h->lane[2] = 0;
    h->lane[3] = (uint64_t)0 - P1;
}

void tb__mdc_hash_update(tb__mdc_hash *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    h->total += n;
    if (h->ncarry > 0) {
        size_t take = 32 - h->ncarry < n ? 32 - h->ncarry : n;
        memcpy(h->carry + h->ncarry, p, take);
        h->ncarry += take;
        p += take;
        n -= take;
        if (h->ncarry < 32) return;
        stripe(h, h->carry);
        h->ncarry = 0;
    }
    /* The lanes in locals: stores through h could alias p (a char
     * pointer), which would reload them on every stripe. */
    uint64_t a = h->lane[0], b = h->lane[1], c = h->lane[2], d = h->lane[3];
    for (; n >= 32; p += 32, n -= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        a = round1(a, w[0]);
        b = round1(b, w[1]);
        c = round1(c, w[2]);
        d = round1(d, w[3]);
    }
    h->lane[0] = a;
    h->lane[1] = b;
    h->lane[2] = c;
    h->lane[3] = d;
    memcpy(h->carry, p, n);
    h->ncarry = n;
}

uint64_t tb__mdc_hash_final(const tb__mdc_hash *h)
{
    uint64_t v =
        rotl(h->lane[0], 1) + rotl(h->lane[1], 7) + rotl(h->lane[2], 12) + rotl(h->lane[3], 18);
    for (size_t i = 0; i < h->ncarry; i++)
        v = rotl(v ^ (h->carry[i] * P1), 11) * P2;
    v ^= h->total * P1;
    v ^= v >> 33;
    v *= P2;
    v ^= v >> 29;
    return v;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    tb__mdc_hash h;
    tb__mdc_hash_init(&h);
    tb__mdc_hash_update(&h, p, n);
    return tb__mdc_hash_final(&h);
}

/* ---- where caches live --------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int64_t ctime_ns(const struct stat *st)
{
    return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* 1 when h names st's very file as it was when its content was hashed. A
 * file system without a ctime (0) is never taken at its word. */
static int same_identity(const uint64_t *h, const struct stat *st)
{
    return ctime_ns(st) != 0 && h[H_SRC_CTIME] == (uint64_t)ctime_ns(st) &&
           h[H_SRC_INO] == (uint64_t)st->st_ino && h[H_SRC_DEV] == (uint64_t)st->st_dev;
}

static void set_identity(uint64_t *h, const struct stat *st)
{
    h[H_SRC_DEV] = (uint64_t)st->st_dev;
    h[H_SRC_INO] = (uint64_t)st->st_ino;
    h[H_SRC_CTIME] = (uint64_t)ctime_ns(st);
}

/* dir/.NAME.tbcache beside the source. Malloc'd; NULL without memory. */
static char *beside_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dlen;
    size_t n = dlen + 1 + strlen(base) + sizeof ".tbcache";
    char *p = malloc(n);
    if (p) snprintf(p, n, "%.*s.%s.tbcache", (int)dlen, path, base);
    return p;
}

/* $XDG_CACHE_HOME/tradebus (default ~/.cache/tradebus), created when
 * create is set. Malloc'd; NULL when there is no such folder. */
static char *xdg_dir(int create)
{
    const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[PATH_MAX];
    if (x && x[0] == '/')
        snprintf(base, sizeof base, "%s", x);
    else if (home && home[0] == '/')
        snprintf(base, sizeof base, "%s/.cache", home);
    else
        return NULL;
    if (create) mkdir(base, 0700);
    size_t n = strlen(base) + sizeof "/tradebus";
    char *d = malloc(n);
    if (!d) return NULL;
    snprintf(d, n, "%s/tradebus", base);
    if (create) mkdir(d, 0700);
    return d;
}

/* XDG/NAME-HASH.tbcache: the hash of the source's real path keeps two
 * files of one name apart. Malloc'd; NULL when there is none. */
static char *xdg_path(const char *path, int create)
{
    char *dir = xdg_dir(create);
    if (!dir) return NULL;
    char real[PATH_MAX];
    const char *id = realpath(path, real) ? real : path;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(dir) + strlen(base) + 40;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s-%016llx.tbcache", dir, base,
                 (unsigned long long)hash_bytes(id, strlen(id)));
    free(dir);
    return p;
}

/* ---- reading ------------------------------------------------------------- */

struct tb__mdc_in {
    int fd;
    uint64_t n, i; /* records in the file, records served */
    uint64_t h[MDC_HWORDS];
    tb__mdc_rec *buf;  /* MDC_BUFRECS records read ahead */
    size_t have, next; /* records in buf, the next one to serve */
    int hashed_source; /* the hit read the source to hash it */
};

/* Reads exactly n bytes at off (retrying short reads and EINTR): 0, or -1
 * on an error or an early end of file. */
static int read_at(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *b = p;
    while (n > 0) {
        ssize_t got = pread(fd, b, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        b += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return 0;
}

/* Hashes fd from offset from to its end, through one small buffer (fd's
 * own offset left alone): 1 with *n the bytes hashed and *out their hash,
 * 0 on a read error. Not mmap: on a virtual machine every first touch of a
 * mapped page is a fault that costs microseconds (90 ms for a 144 MB
 * cache, against 10 ms for the same bytes read by pread). */
static int hash_to_end(int fd, uint64_t from, uint64_t *n, uint64_t *out)
{
    char *buf = malloc(MDC_READBUF);
    if (!buf) return 0;
    tb__mdc_hash hs;
    tb__mdc_hash_init(&hs);
    uint64_t off = from;
    int ok = 1;
    for (;;) {
        ssize_t got = pread(fd, buf, MDC_READBUF, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) ok = 0;
        if (got <= 0) break;
        tb__mdc_hash_update(&hs, buf, (size_t)got);
        off += (uint64_t)got;
    }
    free(buf);
    *n = off - from;
    *out = tb__mdc_hash_final(&hs);
    return ok;
}

/* The whole source against the header's size and hash. 1 when the same. */
static int source_matches(int fd, const uint64_t *h)
{
    uint64_t n, sum;
    return hash_to_end(fd, 0, &n, &sum) && n == h[H_SRC_SIZE] && sum == h[H_SRC_HASH];
}

/* The cache's payload (len bytes after the header) against its checksum. */
static int payload_matches(int fd, uint64_t len, const uint64_t *h)
{
    uint64_t n, sum;
    return hash_to_end(fd, MDC_HEADER, &n, &sum) && n == len && sum == h[H_PAYLOAD_SUM];
}

typedef struct {
    int fd, ok;
    const uint64_t *h;
} source_check;

static void *source_check_main(void *arg)
{
    source_check *c = arg;
    c->ok = source_matches(c->fd, c->h);
    return NULL;
}

/* Both checks a hit needs, each a pass over 100-200 MB for a 2 M-row file:
 * the source's hash in a second thread while this one checksums the
 * cache (without a thread, one after the other). 1 when both hold. With
 * known: the source is the file hashed when the header was written
 * (same_identity), and only the cache is checked. */
static int cache_and_source_match(int fd, uint64_t len, int src_fd, const uint64_t *h, int known)
{
    if (known) return payload_matches(fd, len, h);
    source_check c = {src_fd, 0, h};
    pthread_t t;
    int threaded = tb__thread_start(&t, source_check_main, &c) == 0;
    int payload_ok = payload_matches(fd, len, h);
    if (threaded)
        pthread_join(t, NULL);
    else if (payload_ok)
        c.ok = source_matches(src_fd, h);
    return payload_ok && c.ok;
}

/* 1 with *out when cpath holds a valid cache for the source, else 0. */
static int try_load(const char *cpath, int src_fd, const struct stat *st, uint32_t opts,
                    tb__mdc_in **out)
{
    int fd = open(cpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat cs;
    uint64_t h[MDC_HWORDS];
    int ok = fstat(fd, &cs) == 0 && S_ISREG(cs.st_mode) && cs.st_size >= MDC_HEADER &&
             pread(fd, h, MDC_HEADER, 0) == MDC_HEADER;
    /* Cheap checks first: a stale cache is refused before any hashing. */
    ok = ok && h[H_MAGIC] == MDC_MAGIC && h[H_VERSION] == MDC_VERSION && h[H_OPTS] == opts &&
         h[H_SRC_SIZE] == (uint64_t)st->st_size && h[H_SRC_MTIME] == (uint64_t)mtime_ns(st) &&
         h[H_HEADER_SUM] == hash_bytes(h, H_HEADER_SUM * 8);
    /* A truncated or padded file: the size must be the header's count. */
    ok = ok && h[H_NBARS] <= (uint64_t)(cs.st_size - MDC_HEADER) / sizeof(tb__mdc_rec) &&
         (uint64_t)cs.st_size == MDC_HEADER + h[H_NBARS] * sizeof(tb__mdc_rec);
    int known = ok && same_identity(h, st);
    if (ok) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        ok = cache_and_source_match(fd, (uint64_t)cs.st_size - MDC_HEADER, src_fd, h, known);
    }
    if (ok && !known) {
        /* Hashed whole and found the same (a copy, a touch that kept the
         * mtime, a cache made before identities were kept): the next hit on
         * this file skips the hash. Best effort: a read-only cache stays as
         * it is, and a reader racing the update sees a header whose sum
         * fails, then parses the file. */
        set_identity(h, st);
        h[H_HEADER_SUM] = hash_bytes(h, H_HEADER_SUM * 8);
        int wfd = open(cpath, O_WRONLY | O_CLOEXEC);
        if (wfd >= 0) {
            ssize_t wrote = pwrite(wfd, h, MDC_HEADER, 0); /* failed: left as it was */
            (void)wrote;
            close(wfd);
        }
    }
    tb__mdc_in *c = ok ? calloc(1, sizeof *c) : NULL;
    if (c && !(c->buf = malloc(MDC_BUFRECS * sizeof *c->buf))) {
        free(c);
        c = NULL;
    }
    if (!c) {
        close(fd);
        return 0;
    }
    /* The bars are read again through fd as they are served: a cache
     * replaced meanwhile (always by a rename) leaves this inode alone. */
    c->fd = fd;
    c->hashed_source = !known;
    c->n = h[H_NBARS];
    memcpy(c->h, h, sizeof h);
    *out = c;
    return 1;
}

int tb__mdc_in_open(const char *path, int src_fd, const struct stat *st, uint32_t opts,
                    tb__mdc_in **out)
{
    *out = NULL;
    char *p = beside_path(path);
    int hit = p && try_load(p, src_fd, st, opts, out);
    free(p);
    if (hit) return 1;
    p = xdg_path(path, 0);
    hit = p && try_load(p, src_fd, st, opts, out);
    free(p);
    return hit;
}

void tb__mdc_in_start(const tb__mdc_in *c, uint64_t *lines, uint64_t *hash)
{
    *lines = c->h[H_OPEN_LINES];
    *hash = c->h[H_OPEN_HASH];
}

int tb__mdc_in_next(tb__mdc_in *c, const tb__mdc_rec **rec, uint64_t *lines, uint64_t *hash)
{
    if (c->next == c->have) {
        if (c->i == c->n) {
            *lines = c->h[H_END_LINES];
            *hash = c->h[H_END_HASH];
            return 0;
        }
        uint64_t left = c->n - c->i;
        size_t want = left < MDC_BUFRECS ? (size_t)left : MDC_BUFRECS;
        if (read_at(c->fd, c->buf, want * sizeof *c->buf, MDC_HEADER + c->i * sizeof *c->buf) != 0)
            return TB_EIO;
        c->have = want;
        c->next = 0;
    }
    const tb__mdc_rec *r = &c->buf[c->next++];
    c->i++;
    *lines = r->lines;
    *hash = r->hash;
    *rec = r;
    return 1;
}

int tb__mdc_in_hashed_source(const tb__mdc_in *c)
{
    return c->hashed_source;
}

void tb__mdc_in_close(tb__mdc_in *c)
{
    if (!c) return;
    close(c->fd);
    free(c->buf);
    free(c);
}

/* ---- writing ------------------------------------------------------------- */

struct tb__mdc_out {
    int fd;     /* for the header, written last */
    FILE *out;  /* the records, written by a thread of their own (afile.h) */
    int failed; /* a write failed: abort at commit */
    char *tmp, *final;
    uint64_t h[MDC_HWORDS];
    tb__mdc_hash src, payload;
    size_t nbuf;
    tb__mdc_rec buf[MDC_BUFRECS];
};

/* A temporary file for final under its folder: 1 with w->fd and w->tmp. */
static int make_temp(tb__mdc_out *w, const char *final)
{
    size_t n = strlen(final) + sizeof ".XXXXXX";
    char *t = malloc(n);
    if (!t) return 0;
    snprintf(t, n, "%s.XXXXXX", final);
    int fd = mkostemp(t, O_CLOEXEC);
    if (fd < 0) {
        free(t);
        return 0;
    }
    /* mkostemp makes it 0600: a cache is no more private than its data. */
    fchmod(fd, 0644);
    w->fd = fd;
    w->tmp = t;
    return 1;
}

tb__mdc_out *tb__mdc_out_begin(const char *path, const struct stat *st, uint32_t opts)
{
    tb__mdc_out *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = -1;
    w->final = beside_path(path);
    if (!w->final || !make_temp(w, w->final)) {
        /* The data's folder is read-only (or gone): the user's cache folder. */
        free(w->final);
        w->final = xdg_path(path, 1);
        if (!w->final || !make_temp(w, w->final)) {
            free(w->final);
            free(w);
            return NULL;
        }
    }
    /* The header's place, then the records through the writer thread: the
     * reader thread only parses (writing 144 MB for 2 M bars was a fifth of
     * its time on a VM). A copy of fd, so the header goes in once it is
     * closed. */
    static const unsigned char zero[MDC_HEADER];
    if (write(w->fd, zero, MDC_HEADER) != MDC_HEADER) w->failed = 1;
    tb__afile *af;
    int dfd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0); /* not inherited by components */
    if (dfd >= 0 && !(w->out = tb__afile_fdopen(dfd, 0, &af))) close(dfd);
    if (!w->out) w->failed = 1;
    w->h[H_MAGIC] = MDC_MAGIC;
    w->h[H_VERSION] = MDC_VERSION;
    w->h[H_OPTS] = opts;
    w->h[H_SRC_SIZE] = (uint64_t)st->st_size;
    w->h[H_SRC_MTIME] = (uint64_t)mtime_ns(st);
    set_identity(w->h, st);
    tb__mdc_hash_init(&w->src);
    tb__mdc_hash_init(&w->payload);
    return w;
}

void tb__mdc_out_source(tb__mdc_out *w, const void *p, size_t n)
{
    tb__mdc_hash_update(&w->src, p, n);
}

void tb__mdc_out_start(tb__mdc_out *w, uint64_t lines, uint64_t hash)
{
    w->h[H_OPEN_LINES] = lines;
    w->h[H_OPEN_HASH] = hash;
}

static void flush(tb__mdc_out *w)
{
    size_t len = w->nbuf * sizeof(tb__mdc_rec);
    tb__mdc_hash_update(&w->payload, w->buf, len);
    /* A full disk: no cache this time (the FILE says so now or at fclose). */
    if (!w->failed && fwrite_unlocked(w->buf, 1, len, w->out) != len) w->failed = 1;
    w->nbuf = 0;
}

/* Closes the records' FILE (waiting for its writer): 0, or -1 when any of
 * their writes failed. */
static int close_out(tb__mdc_out *w)
{
    int bad = 0;
    if (w->out) bad = fclose(w->out) != 0;
    w->out = NULL;
    return bad ? -1 : 0;
}

void tb__mdc_out_bar(tb__mdc_out *w, const tb_market_data *b, uint64_t lines, uint64_t hash)
{
    tb__mdc_rec *r = &w->buf[w->nbuf++];
    r->open = b->open;
    r->high = b->high;
    r->low = b->low;
    r->close = b->close;
    r->volume = b->volume;
    r->open_time = b->open_time;
    r->close_time = b->close_time;
    r->lines = lines;
    r->hash = hash;
    w->h[H_NBARS]++;
    if (w->nbuf == MDC_BUFRECS) flush(w);
}

void tb__mdc_out_commit(tb__mdc_out *w, int src_fd, uint64_t lines, uint64_t hash)
{
    if (!w) return;
    flush(w);
    if (close_out(w) != 0) w->failed = 1;
    struct stat st;
    /* A file written to while it was read: its bytes and its stat no
     * longer describe one version, so nothing is cached. */
    int ok = !w->failed && fstat(src_fd, &st) == 0 && (uint64_t)st.st_size == w->h[H_SRC_SIZE] &&
             (uint64_t)mtime_ns(&st) == w->h[H_SRC_MTIME] &&
             (uint64_t)ctime_ns(&st) == w->h[H_SRC_CTIME] && w->src.total == w->h[H_SRC_SIZE];
    if (ok) {
        w->h[H_SRC_HASH] = tb__mdc_hash_final(&w->src);
        w->h[H_END_LINES] = lines;
        w->h[H_END_HASH] = hash;
        w->h[H_PAYLOAD_SUM] = tb__mdc_hash_final(&w->payload);
        w->h[H_HEADER_SUM] = hash_bytes(w->h, H_HEADER_SUM * 8);
        ok = pwrite(w->fd, w->h, MDC_HEADER, 0) == MDC_HEADER;
    }
    ok = close(w->fd) == 0 && ok;
    w->fd = -1;
    /* rename() replaces the old cache in one step: a reader sees the old
     * file or the new one, and an interrupted run leaves only its
     * temporary (.NAME.tbcache.XXXXXX), never a half cache. */
    if (!ok || rename(w->tmp, w->final) != 0) unlink(w->tmp);
    free(w->tmp);
    free(w->final);
    free(w);
}

void tb__mdc_out_abort(tb__mdc_out *w)
{
    if (!w) return;
    close_out(w);
    if (w->fd >= 0) close(w->fd);
    unlink(w->tmp);
    free(w->tmp);
    free(w->final);
    free(w);
}
