/* A program as a component: the protocol is in tradebus/external.h and
 * docs/components.md.
 *
 * The program is somebody else's code, so nothing it does may hang,
 * exhaust or silently fool tradebus: every wait has a deadline, every
 * buffer a bound, every line is checked by the strict decoder, and a
 * reply must end with the id of the event it answers (a program that
 * answers twice, or not at all, is caught at once instead of shifting
 * every later reply onto the wrong cause).
 *
 * stdin and stdout are one socket pair rather than two pipes: send() with
 * MSG_NOSIGNAL then reports a program gone as EPIPE without tradebus
 * touching its own SIGPIPE disposition (no hidden global state). stderr is
 * a pipe drained in the same poll, so a program that logs a lot never
 * blocks on it. Buffers are allocated once: a round trip allocates nothing
 * (the decoder's fast path, when the line is what the codec writes). */
#define _GNU_SOURCE
#include "tradebus/external.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/codec_paths.h"
#include "../core/errbuf.h"
#include "../core/proc.h"
#include "external_int.h"
#include "tradebus/codec.h"
#include "tradebus/timefmt.h"

#define ERR_LINE 1024 /* a stderr line longer than this is passed on in pieces */
#define WBUF     2304
#define SPIN_NS                                                                                    \
    50000 /* how long a reply is awaited before sleeping on it */ /* an encoded event (2048 at     \
                                                                     most) and its newline */

struct tb_external {
    tb_bus *bus;
    tb_external_config cfg;
    char name[32];
    char *command;
    pid_t pid; /* 0: not running (reaped) */
    int sock;  /* our end: events out, replies in */
    int errfd; /* its stderr; -1 once closed */
    int subs[TB_EV_COUNT];
    int nsubs;

    char wbuf[WBUF];
    size_t wlen, woff;
    char *rbuf; /* its stdout: bytes [rstart, rlen) not yet read as lines */
    size_t rcap, rstart, rlen;
    int skipping; /* dropping the rest of an over-long line */
    char ebuf[ERR_LINE];
    size_t elen;
    char last_err[160]; /* its last stderr line, for a failure message */

    /* Events written and not yet answered, oldest first (a ring of
     * cfg.window copies): the reply being read answers flight[fhead]. A
     * reply is read when `due` events are in flight: cfg.window, or 1 when
     * the run ends and every reply is collected. */
    tb_event *flight;
    size_t fhead, fcount, due;
    size_t reply_events;
    int reply_bad;   /* lines refused in this reply */
    int dead_letter; /* the event being delivered is to be dead-lettered */
    char bad_reason[TB_TEXT_LEN];

    /* The last event given, for messages (the event itself is borrowed). */
    uint64_t last_id;
    tb_event_type last_type;
    int64_t last_time;

    int64_t spin_ns; /* how long the next reply is read for before poll() */
    uint64_t lines, round_trips, bad_lines;
    int failed, finished;
    char failure[1024];
};

static void log_line(tb_external *x, const char *line)
{
    if (x->cfg.log)
        x->cfg.log(x->name, line, x->cfg.log_ctx);
    else
        fprintf(stderr, "%s: %s\n", x->name, line);
}

/* Whatever stderr holds now, line by line; a partial line waits for the
 * rest unless the buffer is full. Returns 0, or 1 at its end of file. */
static int drain_stderr(tb_external *x)
{
    while (x->errfd >= 0) {
        ssize_t n = read(x->errfd, x->ebuf + x->elen, sizeof(x->ebuf) - 1 - x->elen);
        if (n < 0) return errno == EINTR ? 0 : (errno == EAGAIN ? 0 : 1);
        if (n == 0) {
            if (x->elen) {
                x->ebuf[x->elen] = 0;
                log_line(x, x->ebuf);
                x->elen = 0;
            }
            close(x->errfd);
            x->errfd = -1;
            return 1;
        }
        x->elen += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < x->elen; i++) {
            if (x->ebuf[i] != '\n') continue;
            x->ebuf[i] = 0;
            if (i > start && x->ebuf[i - 1] == '\r') x->ebuf[i - 1] = 0;
            if (x->ebuf[start]) snprintf(x->last_err, sizeof(x->last_err), "%s", x->ebuf + start);
            log_line(x, x->ebuf + start);
            start = i + 1;
        }
        if (start == 0 && x->elen == sizeof(x->ebuf) - 1) {
            x->ebuf[x->elen] = 0;
            log_line(x, x->ebuf);
            start = x->elen;
        }
        memmove(x->ebuf, x->ebuf + start, x->elen - start);
        x->elen -= start;
    }
    return 1;
}

/* "event 2814... (MarketData at 2024-01-01T00:00:59.999Z)" */
static void describe(const tb_external *x, char *buf, size_t len)
{
    char when[40] = "?";
    if (!x->last_id) {
        snprintf(buf, len, "none");
        return;
    }
    tb_format_time_iso(x->last_time, when, sizeof(when));
    snprintf(buf, len, "event %llu (%s at %s)", (unsigned long long)x->last_id,
             tb_event_type_name(x->last_type), when);
}

static void reap(tb_external *x)
{
    if (x->pid > 0) tb__kill_and_reap(x->pid);
    x->pid = 0;
}

/* The component is done for: says why (with the command, the event and
 * the program's last words), kills the program. Returns TB_EHANDLER. */
__attribute__((format(printf, 2, 3))) static int fail(tb_external *x, const char *fmt, ...)
{
    if (x->failed) return TB_EHANDLER;
    char what[320], ev[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    describe(x, ev, sizeof(ev));
    reap(x);
    drain_stderr(x);
    snprintf(x->failure, sizeof(x->failure),
             "component %s ('%.200s') %s; the last event it was given: %s%s%s", x->name, x->command,
             what, ev, x->last_err[0] ? "; its last stderr line: " : "", x->last_err);
    x->failed = 1;
    return TB_EHANDLER;
}

/* Its stdout closed or its stdin refused a write: it exited (or is about
 * to). Waits a moment for its status, so the message says how it ended. */
static int gone(tb_external *x)
{
    int status = 0;
    char how[96];
    int w = tb__wait_until(x->pid, tb__mono_ns() + 2000000000LL, NULL, &status);
    if (w == 1) {
        x->pid = 0;
        tb__wait_status_text(status, how, sizeof(how));
        return fail(x, "ended (%s) before answering", how);
    }
    return fail(x, "closed its stdout and stdin but did not exit (killed)");
}

static void bad_line(tb_external *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad_line(tb_external *x, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    x->bad_lines++;
    if (!x->reply_bad++)
        snprintf(x->bad_reason, sizeof(x->bad_reason), "stdout line %llu: %.96s",
                 (unsigned long long)x->lines, why);
    char msg[600];
    snprintf(msg, sizeof(msg), "stdout line %llu is not a valid event, %s: %s",
             (unsigned long long)x->lines,
             x->cfg.stop_on_bad_event || x->cfg.window > 1 ? "stopping" : "dead-lettered", why);
    log_line(x, msg);
}

int tb__external_end_line(const char *s, const char *e, uint64_t *id)
{
#define WS()                                                                                       \
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))                                       \
    s++
    WS();
    if (s == e || *s++ != '{') return 0;
    WS();
    if (e - s < 5 || memcmp(s, "\"end\"", 5) != 0) return 0;
    s += 5;
    WS();
    if (s == e || *s++ != ':') return 0;
    WS();
    if (s == e || *s++ != '"') return 0;
    uint64_t v = 0;
    const char *d = s;
    while (s < e && *s >= '0' && *s <= '9') {
        uint64_t digit = (uint64_t)(*s++ - '0');
        if (v > (UINT64_MAX - digit) / 10) return 0; /* no id is that large */
        v = v * 10 + digit;
    }
    if (s == d || s == e || *s++ != '"') return 0;
    WS();
    if (s == e || *s++ != '}') return 0;
    WS();
#undef WS
    *id = v;
    return s == e;
}

/* One complete line of its stdout (without the newline), answering the
 * oldest event in flight. */
static int on_line(tb_external *x, const char *s, size_t n)
{
    x->lines++;
    if (!x->fcount)
        return fail(x, "wrote stdout line %llu when no event was waiting for an answer",
                    (unsigned long long)x->lines);
    const tb_event *in = &x->flight[x->fhead];
    uint64_t id;
    if (tb__external_end_line(s, s + n, &id)) {
        if (id != in->event_id)
            return fail(x,
                        "ended its reply to event %llu with the id %llu (stdout line %llu): "
                        "its replies are out of step with its input",
                        (unsigned long long)in->event_id, (unsigned long long)id,
                        (unsigned long long)x->lines);
        x->fhead = (x->fhead + 1) % x->cfg.window;
        x->fcount--;
        x->round_trips++;
        x->reply_events = 0;
        if (x->reply_bad && (x->cfg.stop_on_bad_event || x->cfg.window > 1))
            return fail(x, "wrote a line that is not a valid event (%s): %s",
                        x->cfg.window > 1 ? "window > 1 has no dead letters"
                                          : "on_bad_event = stop",
                        x->bad_reason);
        x->dead_letter = x->reply_bad > 0;
        x->reply_bad = 0;
        return 0;
    }
    if (++x->reply_events > x->cfg.max_reply)
        return fail(x, "wrote more than %zu events in one reply (max_reply_events)",
                    x->cfg.max_reply);
    tb_event ev;
    char why[TB_CODEC_ERRLEN];
    int rc = tb__codec_decode_published(s, n, &ev, why, sizeof(why));
    if (rc == TB_ENOMEM) return fail(x, "could not be read: out of memory");
    if (rc) {
        bad_line(x, "%s", why);
        return 0;
    }
    if (!(x->cfg.publishes & (1u << ev.type))) {
        bad_line(x, "it publishes %s, which is not in its publishes list",
                 tb_event_type_name(ev.type));
        return 0;
    }
    ev.source = TB_SRC_EXTERNAL;
    if (ev.timestamp == INT64_MIN) ev.timestamp = in->timestamp;
    tb_event_caused_by(&ev, in);
    rc = tb_bus_publish(x->bus, &ev);
    return rc ? fail(x, "published an event the bus refused: %s", tb_strerror(rc)) : 0;
}

/* Handles the complete lines read so far while a reply is due (the rest
 * wait in the buffer: they answer events whose turn has not come). */
static int handle_lines(tb_external *x)
{
    while (x->fcount >= x->due && x->fcount) {
        char *s = x->rbuf + x->rstart;
        char *nl = memchr(s, '\n', x->rlen - x->rstart);
        if (!nl) break;
        x->rstart = (size_t)(nl + 1 - x->rbuf);
        if (x->skipping) { /* the end of a line already refused */
            x->skipping = 0;
            continue;
        }
        int rc = on_line(x, s, (size_t)(nl - s));
        if (rc || x->failed) return rc ? rc : TB_EHANDLER;
    }
    return 0;
}

/* Reads what its stdout has, then handles the lines due. */
static int read_replies(tb_external *x)
{
    if (x->rstart == x->rlen) x->rstart = x->rlen = 0;
    if (x->rlen == x->rcap && x->rstart > 0) {
        memmove(x->rbuf, x->rbuf + x->rstart, x->rlen - x->rstart);
        x->rlen -= x->rstart;
        x->rstart = 0;
    }
    if (x->rlen == x->rcap)
        return fail(x, "wrote more than %zu bytes of replies ahead (lower window)", x->rcap);
    ssize_t n = recv(x->sock, x->rbuf + x->rlen, x->rcap - x->rlen, MSG_DONTWAIT);
    if (n == 0) return gone(x);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return 0;
        if (errno == ECONNRESET) return gone(x);
        return fail(x, "could not be read: %s", strerror(errno));
    }
    x->rlen += (size_t)n;
    int rc = handle_lines(x);
    if (rc) return rc;
    /* The line still incomplete: bounded. */
    const char *from = x->rbuf + x->rstart, *end = x->rbuf + x->rlen;
    const char *last = from;
    for (const char *q = end; q > from; q--)
        if (q[-1] == '\n') {
            last = q;
            break;
        }
    if ((size_t)(end - last) > x->cfg.max_line) {
        if (x->cfg.window > 1 || last != from)
            return fail(x, "wrote a line longer than %zu bytes (max_line_bytes)", x->cfg.max_line);
        if (!x->skipping) {
            x->lines++;
            bad_line(x, "longer than %zu bytes (max_line_bytes)", x->cfg.max_line);
        }
        x->skipping = 1;
        x->rstart = x->rlen = 0;
    }
    return 0;
}

static int write_input(tb_external *x)
{
    while (x->woff < x->wlen) {
        ssize_t n =
            send(x->sock, x->wbuf + x->woff, x->wlen - x->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return 0;
            if (errno == EPIPE || errno == ECONNRESET) return gone(x);
            return fail(x, "could not be written to: %s", strerror(errno));
        }
        x->woff += (size_t)n;
    }
    return 0;
}

static void millis(int64_t ns, char *buf, size_t len)
{
    if (ns % 1000000000 == 0)
        snprintf(buf, len, "%lld s", (long long)(ns / 1000000000));
    else
        snprintf(buf, len, "%lld ms", (long long)(ns / 1000000));
}

/* Reads until fewer than `due` events are in flight and the input is
 * written, or the component fails. */
static int await_replies(tb_external *x)
{
    int64_t deadline = tb__mono_ns() + x->cfg.timeout_ns;
    int rc = handle_lines(x); /* answers already read */
    /* A quick program answers within microseconds: reading for a moment
     * before sleeping in poll() saves this side a wake-up per event (1.5x
     * the round trips of a C echo, measured). A program that is not that
     * quick halves the spin each time it misses, down to none; one try in
     * 256 round trips finds out whether it has become quick again. */
    int64_t spin = x->spin_ns ? x->spin_ns : (x->round_trips % 256 == 0 ? SPIN_NS : 0);
    if (x->fcount < x->due) spin = 0;
    for (int64_t until = tb__mono_ns() + spin; spin && !rc && !x->failed && x->fcount >= x->due &&
                                               x->woff == x->wlen && tb__mono_ns() < until;)
        rc = read_replies(x);
    if (spin) x->spin_ns = x->fcount < x->due ? SPIN_NS : x->spin_ns / 2;
    while (!rc && !x->failed && !(x->fcount < x->due && x->woff == x->wlen)) {
        struct pollfd p[2] = {{x->sock, (short)(POLLIN | (x->woff < x->wlen ? POLLOUT : 0)), 0},
                              {x->errfd, POLLIN, 0}};
        int64_t left = deadline - tb__mono_ns();
        if (left <= 0) {
            char t[32];
            millis(x->cfg.timeout_ns, t, sizeof(t));
            return fail(x,
                        x->woff < x->wlen ? "did not read its input within %s (timeout_ms)"
                                          : "did not answer within %s (timeout_ms)",
                        t);
        }
        int r = poll(p, x->errfd >= 0 ? 2 : 1, (int)((left + 999999) / 1000000));
        if (r < 0) {
            if (errno == EINTR) continue;
            return fail(x, "could not be waited for: %s", strerror(errno));
        }
        if (p[1].revents && x->errfd >= 0) drain_stderr(x);
        if (p[0].revents & POLLOUT) rc = write_input(x);
        if (!rc && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) rc = read_replies(x);
    }
    return rc || x->failed ? (rc ? rc : TB_EHANDLER) : 0;
}

/* Writes ev, then reads replies until fewer than cfg.window events are in
 * flight: with a window of 1, ev's own reply (or the component fails). */
static int deliver(tb_external *x, const tb_event *ev)
{
    int n = tb_codec_encode(ev, x->wbuf, sizeof(x->wbuf) - 1);
    if (n < 0) return TB_EINVAL; /* not an event the codec knows: never retried */
    x->wbuf[n] = '\n';
    x->wlen = (size_t)n + 1;
    x->woff = 0;
    x->flight[(x->fhead + x->fcount) % x->cfg.window] = *ev;
    x->fcount++;
    x->last_id = ev->event_id;
    x->last_type = ev->type;
    x->last_time = ev->timestamp;
    x->dead_letter = 0;
    if (x->cfg.window == 1 && x->rstart < x->rlen) /* bytes it wrote before being asked */
        return fail(x, "wrote on its stdout before it was given an event to answer");
    int rc = write_input(x);
    if (!rc) rc = await_replies(x);
    if (rc) return rc;
    /* One at a time: lines after the end line answered nothing. */
    if (x->cfg.window == 1 && x->rstart < x->rlen)
        return fail(x, "wrote on its stdout after ending its reply to event %llu",
                    (unsigned long long)ev->event_id);
    if (x->dead_letter) {
        tb_bus_fail_reason(x->bus, "%s", x->bad_reason);
        return TB_EPARSE;
    }
    return 0;
}

static int on_event(const tb_event *ev, void *ctx)
{
    tb_external *x = ctx;
    if (x->failed || x->finished) {
        tb_bus_fail_reason(x->bus, "component %s is stopped", x->name);
        return TB_EHANDLER;
    }
    int rc = deliver(x, ev);
    if (x->failed) tb_bus_fail_reason(x->bus, "%s", x->failure);
    return rc;
}

void tb_external_config_init(tb_external_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ns = TB_EXTERNAL_TIMEOUT_NS;
    cfg->max_line = TB_EXTERNAL_MAX_LINE;
    cfg->max_reply = TB_EXTERNAL_MAX_REPLY;
}

int tb_external_create(tb_bus *bus, const tb_external_config *cfg, tb_external **out, char *err,
                       size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!bus || !cfg || !out || !cfg->name || !cfg->name[0] || !cfg->command || !cfg->command[0] ||
        !cfg->subscribes || (cfg->subscribes >> TB_EV_COUNT) || (cfg->publishes >> TB_EV_COUNT) ||
        (cfg->subscribes & 1u) || (cfg->publishes & 1u))
        return TB_EINVAL;
    tb_external *x = calloc(1, sizeof(*x));
    if (!x) return TB_ENOMEM;
    x->bus = bus;
    x->cfg = *cfg;
    if (!x->cfg.timeout_ns) x->cfg.timeout_ns = TB_EXTERNAL_TIMEOUT_NS;
    if (!x->cfg.max_line) x->cfg.max_line = TB_EXTERNAL_MAX_LINE;
    if (!x->cfg.max_reply) x->cfg.max_reply = TB_EXTERNAL_MAX_REPLY;
    if (!x->cfg.window) x->cfg.window = 1;
    x->due = x->cfg.window;
    x->flight = calloc(x->cfg.window, sizeof(*x->flight));
    snprintf(x->name, sizeof(x->name), "%s", cfg->name);
    x->command = strdup(cfg->command);
    x->rcap = x->cfg.max_line + 1 + 65536;
    x->rbuf = malloc(x->rcap);
    x->sock = x->errfd = -1;
    x->spin_ns = SPIN_NS;
    for (int i = 0; i < TB_EV_COUNT; i++)
        x->subs[i] = -1;
    if (!x->command || !x->rbuf || !x->flight) {
        tb_external_destroy(x);
        return TB_ENOMEM;
    }
    int sv[2], ep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        tb__errf(err, errlen, "[component.%s]: cannot make a socket pair: %s", x->name,
                 strerror(errno));
        tb_external_destroy(x);
        return TB_EIO;
    }
    if (pipe2(ep, O_CLOEXEC) != 0) {
        tb__errf(err, errlen, "[component.%s]: cannot make a pipe: %s", x->name, strerror(errno));
        close(sv[0]);
        close(sv[1]);
        tb_external_destroy(x);
        return TB_EIO;
    }
    fflush(NULL); /* the child must not write our buffered output again */
    int fd3[3] = {sv[1], sv[1], ep[1]};
    int src = tb__spawn_sh(x->command, fd3, &x->pid);
    close(sv[1]);
    close(ep[1]);
    x->sock = sv[0];
    x->errfd = ep[0];
    fcntl(x->errfd, F_SETFL, O_NONBLOCK);
    if (src) {
        x->pid = 0;
        tb__errf(err, errlen, "[component.%s] command: cannot run /bin/sh: %s", x->name,
                 strerror(src));
        tb_external_destroy(x);
        return TB_EIO;
    }
    for (int t = 1; t < TB_EV_COUNT; t++) {
        if (!(cfg->subscribes & (1u << t))) continue;
        int id = tb_bus_subscribe_named(bus, (tb_event_type)t, on_event, x, x->name);
        if (id < 0) {
            tb_external_destroy(x);
            return id;
        }
        x->subs[t] = id;
    }
    *out = x;
    return 0;
}

const char *tb_external_failure(const tb_external *x)
{
    return x && x->failed ? x->failure : NULL;
}

int tb_external_finish(tb_external *x)
{
    if (!x) return TB_EINVAL;
    if (x->failed) return TB_EHANDLER;
    if (x->finished) return 0;
    /* Every reply still to come (window > 1), then end of file on its stdin. */
    x->due = 1;
    x->woff = x->wlen;
    int rc = await_replies(x);
    if (rc) return rc;
    x->finished = 1;
    shutdown(x->sock, SHUT_WR);
    int64_t deadline = tb__mono_ns() + x->cfg.timeout_ns;
    int status = 0, w = 0;
    /* Drain its stdout and stderr while it ends, so it never blocks on
     * them; what it writes on stdout now answers nothing. */
    while ((w = tb__wait_until(x->pid, tb__mono_ns(), NULL, &status)) == 0) {
        int64_t left = deadline - tb__mono_ns();
        if (left <= 0) break;
        struct pollfd p[2] = {{x->sock, POLLIN, 0}, {x->errfd, POLLIN, 0}};
        int r = poll(p, x->errfd >= 0 ? 2 : 1, left > 10000000 ? 10 : 1);
        if (r > 0 && p[1].revents && x->errfd >= 0) drain_stderr(x);
        if (r > 0 && (p[0].revents & POLLIN)) {
            char sink[4096];
            ssize_t n = recv(x->sock, sink, sizeof(sink), MSG_DONTWAIT);
            if (n > 0) {
                x->finished = 0;
                return fail(x, "wrote on its stdout after its input ended");
            }
        }
    }
    if (w != 1) {
        char t[32];
        millis(x->cfg.timeout_ns, t, sizeof(t));
        x->finished = 0;
        return fail(x, "did not exit within %s after its input ended (killed)", t);
    }
    x->pid = 0;
    drain_stderr(x);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char how[96];
    tb__wait_status_text(status, how, sizeof(how));
    x->finished = 0;
    return fail(x, "ended (%s) at the end of the run; it must exit with status 0", how);
}

uint64_t tb_external_round_trips(const tb_external *x)
{
    return x ? x->round_trips : 0;
}

uint64_t tb_external_bad_lines(const tb_external *x)
{
    return x ? x->bad_lines : 0;
}

void tb_external_destroy(tb_external *x)
{
    if (!x) return;
    for (int t = 0; t < TB_EV_COUNT; t++)
        if (x->subs[t] >= 0) tb_bus_unsubscribe(x->bus, x->subs[t]);
    reap(x);
    if (x->sock >= 0) close(x->sock);
    if (x->errfd >= 0) close(x->errfd);
    free(x->command);
    free(x->rbuf);
    free(x->flight);
    free(x);
}
