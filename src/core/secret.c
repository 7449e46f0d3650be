#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, strerror_r */
#include "tradebus/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"

/* Zeroes n bytes through a volatile pointer: the stores are observable
 * behaviour, so no optimiser may remove them as dead (a plain memset before
 * free() or before a buffer goes out of scope may legally vanish). */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

void tb_secret_wipe(tb_secret *s)
{
    if (s != NULL) wipe(s, sizeof *s);
}

/* A POSIX-portable environment variable name. Checked before the name is
 * quoted anywhere: "env:" followed by a pasted key would not pass. */
static int valid_env_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

int tb_secret_spec_check(const char *spec, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (spec == NULL) {
        tb__errf(err, errlen, "no secret spec given");
        return TB_ECONFIG;
    }
    if (strncmp(spec, "env:", 4) == 0) {
        /* Not quoted: an invalid "name" may be the key itself. */
        if (!valid_env_name(spec + 4)) {
            tb__errf(err, errlen,
                     "env:NAME needs a variable name of letters, digits and '_' "
                     "(the value given is not shown)");
            return TB_ECONFIG;
        }
        return 0;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        if (spec[5] == '\0') {
            tb__errf(err, errlen, "file:PATH needs a path");
            return TB_ECONFIG;
        }
        return 0;
    }
    /* The likeliest reason for a spec without a prefix is a key pasted in
     * where its location belongs: say so, and never print it. */
    tb__errf(err, errlen,
             "expected env:NAME or file:PATH (the value given is not shown: a secret "
             "is never written in the config or on the command line itself)");
    return TB_ECONFIG;
}

static int load_env(tb_secret *out, const char *name, char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (v == NULL) {
        tb__errf(err, errlen, "environment variable %s is not set (export it, or use file:PATH)",
                 name);
        return TB_ECONFIG;
    }
    size_t n = strlen(v);
    if (n == 0) {
        tb__errf(err, errlen, "environment variable %s is empty", name);
        return TB_ECONFIG;
    }
    if (n >= sizeof out->value) {
        tb__errf(err, errlen, "environment variable %s is longer than %d bytes", name,
                 TB_SECRET_MAX - 1);
        return TB_ECONFIG;
    }
    memcpy(out->value, v, n + 1);
    out->len = n;
    return 0;
}

static const char *errno_text(int e, char *buf, size_t cap)
{
    if (strerror_r(e, buf, cap) != 0) {
        buf[0] = '\0';
        tb__errf(buf, cap, "error %d", e);
    }
    return buf;
}

/* Reads fd to its end or until buf[cap] is full; -1 with errno on error. */
static int read_all(int fd, char *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

static int load_file(tb_secret *out, const char *path, char *err, size_t errlen)
{
    char ebuf[128];
    /* O_NONBLOCK: a FIFO at PATH must be refused, not block the run
     * waiting for a writer. It changes nothing for a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        tb__errf(err, errlen, "file:%s: cannot open: %s", path, errno_text(e, ebuf, sizeof ebuf));
        /* Missing or forbidden is the user's to fix, like any config error. */
        return e == ENOENT || e == EACCES || e == ENOTDIR ? TB_ECONFIG : TB_EIO;
    }
    /* fstat on the open descriptor, not stat on the name: the file checked
     * is the file read, even if PATH is replaced in between. A symlink is
     * judged by its target (how mounted secrets are usually laid out). */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        tb__errf(err, errlen, "file:%s: cannot stat: %s", path, errno_text(e, ebuf, sizeof ebuf));
        close(fd);
        return TB_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        tb__errf(err, errlen, "file:%s: not a regular file", path);
        close(fd);
        return TB_ECONFIG;
    }
    /* Like ssh with a private key: a secret others can read is no longer
     * secret, and one others can write can be swapped for theirs. */
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        tb__errf(err, errlen,
                 "file:%s: is accessible by group or others (mode %04o); a secret file must be "
                 "readable by its owner only: run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return TB_ECONFIG;
    }
    /* Like ssh again: a file owned by someone else is theirs to swap or
     * read whenever they like, whatever its mode says today. */
    if (st.st_uid != geteuid()) {
        tb__errf(err, errlen,
                 "file:%s: is owned by uid %u, not by the user running tradebus (uid %u); a "
                 "secret file must belong to that user: copy it, then chmod 600 the copy",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        close(fd);
        return TB_ECONFIG;
    }
    /* Room for the longest secret and a "\r\n" after it; a file that fills
     * the buffer is too long, whatever the bytes beyond would be (never
     * silently cut a secret short). */
    char buf[TB_SECRET_MAX + 2];
    size_t n = 0;
    int rc = read_all(fd, buf, sizeof buf, &n);
    int read_errno = rc ? errno : 0;
    close(fd);
    if (rc != 0) {
        wipe(buf, sizeof buf);
        tb__errf(err, errlen, "file:%s: read error: %s", path,
                 errno_text(read_errno, ebuf, sizeof ebuf));
        return TB_EIO;
    }
    size_t raw = n;
    /* Editors and `echo KEY > file` end files with a newline, which is
     * never part of a key. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    const char *why = NULL;
    if (raw == sizeof buf || n >= sizeof out->value)
        why = "is too long";
    else if (n == 0)
        why = "is empty";
    else if (memchr(buf, '\0', n) != NULL)
        why = "contains a NUL byte";
    if (why == NULL) {
        memcpy(out->value, buf, n);
        out->value[n] = '\0';
        out->len = n;
    }
    wipe(buf, sizeof buf);
    if (why == NULL) return 0;
    tb__errf(err, errlen, "file:%s: %s (a secret is 1 to %d bytes)", path, why, TB_SECRET_MAX - 1);
    return TB_ECONFIG;
}

int tb_secret_load(tb_secret *out, const char *spec, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (out == NULL || spec == NULL) {
        tb__errf(err, errlen, "tb_secret_load: out and spec must not be NULL");
        return TB_EINVAL;
    }
    tb_secret_wipe(out);
    int rc = tb_secret_spec_check(spec, err, errlen);
    if (rc != 0) return rc;
    if (strncmp(spec, "env:", 4) == 0)
        rc = load_env(out, spec + 4, err, errlen);
    else
        rc = load_file(out, spec + 5, err, errlen);
    if (rc != 0) tb_secret_wipe(out);
    return rc;
}

int tb_secret_redact(const char *text, const tb_secret *const *secrets, size_t n, char *out,
                     size_t outlen)
{
    if (text == NULL || out == NULL || outlen == 0) return TB_EINVAL;
    static const char mask[] = TB_SECRET_MASK;
    const size_t mask_len = sizeof mask - 1;
    size_t w = 0;
    int full = 0;
    for (const char *p = text; *p != '\0' && !full;) {
        size_t match = 0;
        for (size_t i = 0; i < n; i++) {
            const tb_secret *s = secrets ? secrets[i] : NULL;
            if (s == NULL || s->len == 0 || s->len <= match) continue;
            if (strncmp(p, s->value, s->len) == 0) match = s->len;
        }
        const char *src = match ? mask : p;
        size_t len = match ? mask_len : 1;
        /* All of the piece or none of it: the mask never appears cut. */
        if (w + len >= outlen) {
            full = 1;
            break;
        }
        memcpy(out + w, src, len);
        w += len;
        p += match ? match : 1;
    }
    out[w] = '\0';
    if (full) return TB_EFULL;
    return w > INT_MAX ? TB_EFULL : (int)w;
}
