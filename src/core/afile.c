/* An output file written by a thread of its own (the design is in afile.h). */
#define _GNU_SOURCE /* fopencookie, sync_file_range */
#include "afile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "thread.h"

#define AF_SLOTS     4
#define AF_SLOT_SIZE (256 * 1024)
/* Writeback is started behind the writer every this many bytes. */
#define AF_SYNC_EVERY ((off_t)8 << 20)

struct tb__afile {
    int fd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, room;
    char *slot[AF_SLOTS]; /* allocated on first use */
    size_t len[AF_SLOTS];
    unsigned head, count; /* full slots waiting: head .. head+count-1 */
    unsigned fill;        /* the slot af_write appends to (not queued yet) */
    int closing, sync, err;
    int writeback;          /* start the disk writes as the file grows */
    off_t written, started; /* bytes written; writeback started up to */
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    tb__afile *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->count == 0 && !a->closing)
            pthread_cond_wait(&a->work, &a->mu);
        if (a->count == 0) break;
        unsigned i = a->head;
        int failed = a->err;
        pthread_mutex_unlock(&a->mu);
        /* After a failure the rest is dropped: the file is bad anyway,
         * and the caller hears of it at its next write or at fclose. */
        int e = failed ? 0 : write_all(a->fd, a->slot[i], a->len[i]);
        if (!failed && !e) {
            a->written += (off_t)a->len[i];
            if (a->writeback && a->written - a->started >= AF_SYNC_EVERY) {
                sync_file_range(a->fd, a->started, a->written - a->started, SYNC_FILE_RANGE_WRITE);
                a->started = a->written;
            }
        }
        pthread_mutex_lock(&a->mu);
        if (e && !a->err) a->err = e;
        a->head = (a->head + 1) % AF_SLOTS;
        a->count--;
        pthread_cond_signal(&a->room);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Queues the filling slot (with a->mu held) and picks the next one,
 * waiting while every slot is queued. */
static void queue_fill(tb__afile *a)
{
    a->count++;
    pthread_cond_signal(&a->work);
    while (a->count == AF_SLOTS)
        pthread_cond_wait(&a->room, &a->mu);
    a->fill = (a->head + a->count) % AF_SLOTS;
    a->len[a->fill] = 0;
}

static ssize_t af_write(void *cookie, const char *buf, size_t size)
{
    tb__afile *a = cookie;
    size_t done = 0;
    pthread_mutex_lock(&a->mu);
    while (done < size && !a->err) {
        unsigned f = a->fill;
        if (!a->slot[f]) {
            pthread_mutex_unlock(&a->mu);
            char *s = malloc(AF_SLOT_SIZE);
            pthread_mutex_lock(&a->mu);
            if (!s) {
                a->err = ENOMEM;
                break;
            }
            a->slot[f] = s;
        }
        size_t take = AF_SLOT_SIZE - a->len[f];
        if (take > size - done) take = size - done;
        /* The slot being filled is not the writer's: copy unlocked. */
        pthread_mutex_unlock(&a->mu);
        memcpy(a->slot[f] + a->len[f], buf + done, take);
        pthread_mutex_lock(&a->mu);
        a->len[f] += take;
        done += take;
        if (a->len[f] == AF_SLOT_SIZE) queue_fill(a);
    }
    int err = a->err;
    pthread_mutex_unlock(&a->mu);
    if (err) {
        errno = err;
        return -1;
    }
    return (ssize_t)size;
}

static int af_close(void *cookie)
{
    tb__afile *a = cookie;
    pthread_mutex_lock(&a->mu);
    if (a->len[a->fill] > 0 && !a->err) queue_fill(a);
    a->closing = 1;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    int err = a->err;
    if (!err && a->sync && fsync(a->fd) != 0 && errno != EINVAL) err = errno;
    if (a->fd >= 0 && close(a->fd) != 0 && !err) err = errno;
    for (int i = 0; i < AF_SLOTS; i++)
        free(a->slot[i]);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->room);
    free(a);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

FILE *tb__afile_open(const char *path, tb__afile **af)
{
    *af = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return NULL;
    FILE *f = tb__afile_fdopen(fd, 1, af);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

FILE *tb__afile_fdopen(int fd, int writeback, tb__afile **af)
{
    *af = NULL;
    tb__afile *a = calloc(1, sizeof *a);
    if (a) {
        a->fd = fd;
        a->writeback = writeback;
        pthread_mutex_init(&a->mu, NULL);
        pthread_cond_init(&a->work, NULL);
        pthread_cond_init(&a->room, NULL);
        if (tb__thread_start(&a->thread, writer_main, a) != 0) {
            pthread_mutex_destroy(&a->mu);
            pthread_cond_destroy(&a->work);
            pthread_cond_destroy(&a->room);
            free(a);
            a = NULL;
        }
    }
    if (!a) /* No thread: the same bytes through a plain FILE. */
        return fdopen(fd, "w");
    cookie_io_functions_t io = {NULL, af_write, NULL, af_close};
    FILE *f = fopencookie(a, "w", io);
    if (!f) {
        int e = errno;
        a->fd = -1; /* the caller's again */
        af_close(a);
        errno = e;
        return NULL;
    }
    *af = a;
    return f;
}

void tb__afile_sync_on_close(tb__afile *af)
{
    if (!af) return;
    pthread_mutex_lock(&af->mu);
    af->sync = 1;
    pthread_mutex_unlock(&af->mu);
}
