/* A run's output files, published at once (the design is in outset.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/afile.h"
#include "../core/errbuf.h"
#include "outset.h"
#include "tradebus/error.h"

typedef struct {
    char *name;
    FILE *f;       /* NULL once closed, or for an adopted file */
    tb__afile *af; /* f's writer thread; NULL for a plain FILE */
} member;

struct tb__outset {
    char *dir;
    char staging[4096];
    member *m;
    size_t n, cap;
    int committed;
};

/* mkdir -p: each missing component of dir, left to right. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        tb__errf(err, errlen, "%s: cannot create output directory: %s", dir,
                 strerror(ENAMETOOLONG));
        return TB_EIO;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char c = path[i];
        path[i] = 0;
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            tb__errf(err, errlen, "%s: cannot create output directory: %s", path, strerror(errno));
            return TB_EIO;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            tb__errf(err, errlen, "%s: cannot create output directory: %s is not a directory", dir,
                     path);
            return TB_EIO;
        }
        path[i] = c;
    }
    return 0;
}

int tb__outset_create(const char *dir, tb__outset **out, char *err, size_t errlen)
{
    int rc = make_dirs(dir, err, errlen);
    if (rc) return rc;
    tb__outset *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        return TB_ENOMEM;
    }
    /* The pid keeps two runs into the same folder from sharing a staging
     * folder; a leftover of a killed run is harmless (hidden, never read). */
    snprintf(s->staging, sizeof(s->staging), "%s/.tradebus-%ld.tmp", dir, (long)getpid());
    if (mkdir(s->staging, 0777) != 0 && errno != EEXIST) {
        tb__errf(err, errlen, "%s: cannot create output directory: %s", s->staging,
                 strerror(errno));
        free(s->dir);
        free(s);
        return TB_EIO;
    }
    *out = s;
    return 0;
}

const char *tb__outset_staging(const tb__outset *s)
{
    return s->staging;
}

static member *add(tb__outset *s, const char *name)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        member *nm = realloc(s->m, nc * sizeof(*nm));
        if (!nm) return NULL;
        s->m = nm;
        s->cap = nc;
    }
    member *m = &s->m[s->n];
    if (!(m->name = strdup(name))) return NULL;
    m->f = NULL;
    m->af = NULL;
    s->n++;
    return m;
}

FILE *tb__outset_open(tb__outset *s, const char *name, char *err, size_t errlen)
{
    member *m = add(s, name);
    if (!m) {
        tb__errf(err, errlen, "%s/%s: %s", s->dir, name, tb_strerror(TB_ENOMEM));
        return NULL;
    }
    /* Written by a thread of its own: the run's thread only formats. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", s->staging, name);
    if (!(m->f = tb__afile_open(path, &m->af))) {
        tb__errf(err, errlen, "%s/%s: cannot write: %s", s->dir, name, strerror(errno));
        free(m->name);
        s->n--;
        return NULL;
    }
    return m->f;
}

int tb__outset_adopt(tb__outset *s, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", s->staging, name);
    if (access(path, F_OK) != 0) return TB_ENOTFOUND;
    return add(s, name) ? 0 : TB_ENOMEM;
}

static int close_member(member *m)
{
    if (!m->f) return 0;
    int bad = fflush(m->f) != 0 || ferror(m->f);
    /* The rename must not publish a name whose data is not yet on disk. */
    if (m->af)
        tb__afile_sync_on_close(m->af); /* fclose fsyncs, after the last write */
    else if (!bad && fsync(fileno(m->f)) != 0 && errno != EINVAL)
        bad = 1;
    int saved = errno;
    if (fclose(m->f) != 0)
        bad = 1;
    else
        errno = saved;
    m->f = NULL;
    m->af = NULL;
    return bad;
}

static int written(const tb__outset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->m[i].name, name) == 0) return 1;
    return 0;
}

int tb__outset_close(tb__outset *s, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->n; i++)
        if (close_member(&s->m[i])) {
            tb__errf(err, errlen, "%s/%s: write failed: %s", s->dir, s->m[i].name, strerror(errno));
            return TB_EIO;
        }
    return 0;
}

int tb__outset_commit(tb__outset *s, const char *const *stale, char *err, size_t errlen)
{
    char from[4200], to[4200];
    /* Every file complete before the first rename: a failure here leaves
     * DIR as it was. */
    int rc = tb__outset_close(s, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < s->n; i++) {
        snprintf(from, sizeof(from), "%s/%s", s->staging, s->m[i].name);
        snprintf(to, sizeof(to), "%s/%s", s->dir, s->m[i].name);
        if (rename(from, to) != 0) {
            tb__errf(err, errlen, "%s: write failed: %s", to, strerror(errno));
            return TB_EIO;
        }
    }
    for (size_t i = 0; stale && stale[i]; i++) {
        if (written(s, stale[i])) continue;
        snprintf(to, sizeof(to), "%s/%s", s->dir, stale[i]);
        if (unlink(to) != 0 && errno != ENOENT) {
            tb__errf(err, errlen, "%s: cannot remove the previous run's file: %s", to,
                     strerror(errno));
            return TB_EIO;
        }
    }
    s->committed = 1;
    rmdir(s->staging);
    /* The renames themselves reach the disk with the folder's entries. */
    int fd = open(s->dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

void tb__outset_free(tb__outset *s)
{
    if (!s) return;
    char path[4200];
    for (size_t i = 0; i < s->n; i++) {
        if (s->m[i].f) fclose(s->m[i].f);
        if (!s->committed) {
            snprintf(path, sizeof(path), "%s/%s", s->staging, s->m[i].name);
            unlink(path);
        }
        free(s->m[i].name);
    }
    rmdir(s->staging);
    free(s->m);
    free(s->dir);
    free(s);
}
