/* The AMQP transport's connections: the broker URL and its credentials
 * (which never show in a message), TLS, login, and one connection opened
 * and closed. Shared by the transport (amqp.c) and the admin operations
 * (amqp_admin.c). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "../core/errbuf.h"
#include "amqp_int.h"

#define DEFAULT_HEARTBEAT_S 10
/* Login and every declare; past it the broker is treated as gone. */
#define RPC_TIMEOUT_MS   10000
#define CLOSE_TIMEOUT_MS 1000
#define FRAME_MAX        131072
/* The system CA bundle: librabbitmq 0.11 verifies peers but loads no default
 * trust store, so "no cacert" has to mean this file. */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static void ms_to_tv(int64_t ms, struct timeval *tv)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* Zeroes through a volatile pointer: a plain memset before free() may be
 * removed as a dead store, and this buffer held a password. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static void free_secret(char *s)
{
    if (s) {
        wipe(s, strlen(s));
        free(s);
    }
}

char *tb__amqp_dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void tb_amqp_url_redact(const char *url, char *out, size_t outlen)
{
    if (!out || outlen == 0) return;
    if (!url) {
        snprintf(out, outlen, "(null)");
        return;
    }
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    /* The last '@' ends the userinfo: a password with an unescaped '@' or
     * '/' is masked whole rather than shown in part. */
    const char *at = strrchr(auth, '@');
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
}

void tb__amqp_params_free(tb__amqp_params *p)
{
    if (p->buf) {
        wipe(p->buf, strlen(p->buf));
        free(p->buf);
    }
    free_secret(p->password);
    free(p->cacert);
    memset(p, 0, sizeof *p);
}

int tb__amqp_params_init(tb__amqp_params *p, const tb_amqp_options *o, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!o || !o->url || !*o->url) {
        tb__errf(err, errlen, "no broker URL given");
        return TB_ECONFIG;
    }
    tb_amqp_url_redact(o->url, p->where, sizeof p->where);
    size_t n = strlen(o->url);
    p->buf = malloc(n + 1);
    if (!p->buf) return TB_ENOMEM;
    memcpy(p->buf, o->url, n + 1);

    struct amqp_connection_info ci;
    amqp_default_connection_info(&ci);
    const char *default_user = ci.user, *default_password = ci.password;
    if (amqp_parse_url(p->buf, &ci) != AMQP_STATUS_OK) {
        tb__errf(err, errlen,
                 "bad broker URL %s (want amqp[s]://[user[:password]@]host[:port][/vhost])",
                 p->where);
        tb__amqp_params_free(p);
        return TB_ECONFIG;
    }
    p->host = ci.host;
    p->port = ci.port;
    p->ssl = ci.ssl;
    /* "amqp://host/" names the vhost "" by the letter of the spec, which
     * RabbitMQ does not have; everyone means the default one. */
    p->vhost = ci.vhost && *ci.vhost ? ci.vhost : "/";
    const char *user = ci.user, *password = ci.password;
    const char *env;
    if (user == default_user) user = (env = getenv("TRADEBUS_AMQP_USER")) && *env ? env : "guest";
    if (password == default_password)
        password = (env = getenv("TRADEBUS_AMQP_PASSWORD")) && *env ? env : "guest";
    p->user = user;
    p->password = tb__amqp_dupstr(password);
    if (!p->password) {
        tb__amqp_params_free(p);
        return TB_ENOMEM;
    }
    if (o->cacert) {
        p->cacert = tb__amqp_dupstr(o->cacert);
        if (!p->cacert) {
            tb__amqp_params_free(p);
            return TB_ENOMEM;
        }
    }
    p->insecure = o->insecure_tls;
    p->heartbeat = o->heartbeat_s > 0 ? o->heartbeat_s : DEFAULT_HEARTBEAT_S;
    return 0;
}

/* Describes a failed RPC; answers a close so the broker is not left waiting.
 * Returns the TB_E* code it maps to. */
int tb__amqp_rpc_error(amqp_connection_state_t c, amqp_rpc_reply_t r, amqp_channel_t ch,
                       const char *what, char *err, size_t errlen)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        tb__errf(err, errlen, "%s: no reply from the broker", what);
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        tb__errf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = r.reply.decoded;
            tb__errf(err, errlen, "%s: %.*s", what, (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
            amqp_channel_close_ok_t ok = {0};
            amqp_send_method(c, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
            return m->reply_code == AMQP_NOT_FOUND ? TB_ENOTFOUND : TB_EIO;
        }
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = r.reply.decoded;
            tb__errf(err, errlen, "%s: %.*s", what, (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
            amqp_connection_close_ok_t ok = {0};
            amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
            return m->reply_code == AMQP_ACCESS_REFUSED || m->reply_code == AMQP_NOT_ALLOWED
                       ? TB_ECONFIG
                       : TB_ECONN;
        }
        tb__errf(err, errlen, "%s: unexpected %s", what, amqp_method_name(r.reply.id));
        break;
    }
    return TB_ECONN;
}

int tb__amqp_rpc_check(amqp_connection_state_t c, amqp_channel_t ch, const char *what, char *err,
                       size_t errlen)
{
    return tb__amqp_rpc_error(c, amqp_get_rpc_reply(c), ch, what, err, errlen);
}

/* Opens a connection with channel CHAN open. 0, or TB_ECONN / TB_ECONFIG /
 * TB_ENOMEM with err filled (never with the password). */
int tb__amqp_conn_open(const tb__amqp_params *p, const char *name, int64_t deadline,
                       amqp_connection_state_t *out, char *err, size_t errlen)
{
    *out = NULL;
    amqp_connection_state_t c = amqp_new_connection();
    if (!c) return TB_ENOMEM;
    amqp_socket_t *s = p->ssl ? amqp_ssl_socket_new(c) : amqp_tcp_socket_new(c);
    if (!s) {
        amqp_destroy_connection(c);
        return TB_ENOMEM;
    }
    int st;
    if (p->ssl) {
        const char *ca = p->cacert;
        if (!ca && access(SYSTEM_CA_BUNDLE, R_OK) == 0) ca = SYSTEM_CA_BUNDLE;
        if (ca && (st = amqp_ssl_socket_set_cacert(s, ca)) != AMQP_STATUS_OK) {
            tb__errf(err, errlen, "cannot load CA file %s: %s", ca, amqp_error_string2(st));
            amqp_destroy_connection(c);
            return TB_ECONFIG;
        }
        amqp_ssl_socket_set_verify_peer(s, !p->insecure);
        amqp_ssl_socket_set_verify_hostname(s, !p->insecure);
    }
    int64_t budget = deadline == NO_DEADLINE ? CONNECT_MAX_MS : deadline - tb__amqp_now_ms();
    budget = budget < CONNECT_MIN_MS   ? CONNECT_MIN_MS
             : budget > CONNECT_MAX_MS ? CONNECT_MAX_MS
                                       : budget;
    struct timeval tv;
    ms_to_tv(budget, &tv);
    st = amqp_socket_open_noblock(s, p->host, p->port, &tv);
    if (st != AMQP_STATUS_OK) {
        tb__errf(err, errlen, "cannot connect to %s: %s", p->where, amqp_error_string2(st));
        amqp_destroy_connection(c);
        /* A certificate that does not verify will not verify next time. */
        return st == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
                       st == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED
                   ? TB_ECONFIG
                   : TB_ECONN;
    }
    ms_to_tv(RPC_TIMEOUT_MS, &tv);
    amqp_set_rpc_timeout(c, &tv);
    /* A broker that accepts connections but does not answer (stopped,
     * overloaded) must not hold the caller much past its deadline. */
    ms_to_tv(budget < 1000 ? 1000 : budget, &tv);
    amqp_set_handshake_timeout(c, &tv);

    amqp_table_entry_t prop;
    prop.key = amqp_cstring_bytes("connection_name");
    prop.value.kind = AMQP_FIELD_KIND_UTF8;
    prop.value.value.bytes = amqp_cstring_bytes(name);
    amqp_table_t props = {1, &prop};
    amqp_rpc_reply_t r = amqp_login_with_properties(c, p->vhost, 0, FRAME_MAX, p->heartbeat, &props,
                                                    AMQP_SASL_METHOD_PLAIN, p->user, p->password);
    char what[320];
    snprintf(what, sizeof what, "login to %s", p->where);
    int rc = tb__amqp_rpc_error(c, r, 0, what, err, errlen);
    if (rc == 0) {
        amqp_channel_open(c, CHAN);
        rc = tb__amqp_rpc_check(c, CHAN, "channel.open", err, errlen);
    }
    if (rc != 0) {
        amqp_destroy_connection(c);
        return rc == TB_EIO || rc == TB_ENOTFOUND ? TB_ECONN : rc;
    }
    *out = c;
    return 0;
}

/* Polite close (the broker logs an abrupt one as an error), then free. */
void tb__amqp_conn_close(amqp_connection_state_t c, int polite)
{
    if (!c) return;
    if (polite) {
        /* A broker that stopped answering must not hold a closing process
         * for two full RPC timeouts: a second per step is plenty for one
         * that is alive. */
        struct timeval tv;
        ms_to_tv(CLOSE_TIMEOUT_MS, &tv);
        amqp_set_rpc_timeout(c, &tv);
        amqp_channel_close(c, CHAN, AMQP_REPLY_SUCCESS);
        amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(c);
}
