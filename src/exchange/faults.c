/* The simulated exchange's fault spec: defaults, names and the parser for
 * "timeout:0.1,server_error:0.05,rate_limit:0.05,lost_ack:0.05". The
 * injection itself lives in sim.c. */
#include <stdio.h>
#include <string.h>

#include "../core/errbuf.h"
#include "tradebus/sim_exchange.h"

#define SECOND             INT64_C(1000000000)
#define MILLISECOND        INT64_C(1000000)
#define MAX_RETRY_AFTER_MS 86400000 /* a day: beyond it the value is surely a mistake */

void tb_sim_faults_init(tb_sim_faults *faults)
{
    memset(faults, 0, sizeof(*faults));
    faults->retry_after = SECOND; /* Binance's Retry-After is in whole seconds */
    faults->seed = 1;
}

int tb_sim_faults_enabled(const tb_sim_faults *f)
{
    return f->timeout > 0 || f->lost_ack > 0 || f->server_error > 0 || f->rate_limit > 0 ||
           f->connection_lost > 0 || f->query_timeout > 0;
}

const char *tb_sim_fault_name(tb_sim_fault f)
{
    switch (f) {
    case TB_SIM_FAULT_NONE:
        return "none";
    case TB_SIM_FAULT_TIMEOUT:
        return "timeout";
    case TB_SIM_FAULT_LOST_ACK:
        return "lost_ack";
    case TB_SIM_FAULT_SERVER_ERROR:
        return "server_error";
    case TB_SIM_FAULT_SERVER_ERROR_AFTER:
        return "server_error_after";
    case TB_SIM_FAULT_RATE_LIMIT:
        return "rate_limit";
    case TB_SIM_FAULT_CONNECTION_LOST:
        return "connection_lost";
    case TB_SIM_FAULT_COUNT:
        break;
    }
    return "?";
}

static const char KNOWN[] =
    "timeout, lost_ack, server_error, rate_limit, connection_lost, query_timeout, retry_after_ms";

/* The items by name: index into this table (also the "seen" bit), and
 * where each probability goes. retry_after_ms is last and handled apart. */
static const char *const NAMES[] = {"timeout",       "lost_ack",        "server_error",
                                    "rate_limit",    "connection_lost", "query_timeout",
                                    "retry_after_ms"};
#define N_ITEMS     (sizeof(NAMES) / sizeof(NAMES[0]))
#define RETRY_AFTER (N_ITEMS - 1)

static tb_decimal *slot(tb_sim_faults *f, size_t i)
{
    tb_decimal *const slots[] = {&f->timeout,    &f->lost_ack,        &f->server_error,
                                 &f->rate_limit, &f->connection_lost, &f->query_timeout};
    return i < RETRY_AFTER ? slots[i] : NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Copies s[0, n) without surrounding blanks into buf[cap]; -1 if too long. */
static int trimmed(const char *s, size_t n, char *buf, size_t cap)
{
    while (n && is_blank(*s))
        s++, n--;
    while (n && is_blank(s[n - 1]))
        n--;
    if (n >= cap) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 0;
}

int tb_sim_faults_parse(const char *spec, tb_sim_faults *out, char *err, size_t errlen)
{
    if (!spec || !out) return TB_EINVAL;
    tb_sim_faults f = *out;
    uint64_t seed = f.seed;
    tb_sim_faults_init(&f);
    f.seed = seed;
    char item[96], name[48], value[48];
    if (trimmed(spec, strlen(spec), item, sizeof(item)) == 0 &&
        (item[0] == 0 || strcmp(item, "none") == 0)) {
        *out = f;
        return 0;
    }
    unsigned seen = 0; /* one bit per name, to refuse an item given twice */
    int k = 0;
    for (const char *p = spec;; p++) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        k++;
        if (trimmed(p, n, item, sizeof(item)) != 0) {
            tb__errf(err, errlen, "faults: item %d is too long (expected NAME:VALUE)", k);
            return TB_EPARSE;
        }
        const char *colon = strchr(item, ':');
        if (!item[0] || !colon) {
            tb__errf(err, errlen, "faults: item %d '%s': expected NAME:VALUE (e.g. timeout:0.1)", k,
                     item);
            return TB_EPARSE;
        }
        if (trimmed(item, (size_t)(colon - item), name, sizeof(name)) != 0 ||
            trimmed(colon + 1, strlen(colon + 1), value, sizeof(value)) != 0 || !value[0]) {
            tb__errf(err, errlen, "faults: item %d '%s': expected NAME:VALUE (e.g. timeout:0.1)", k,
                     item);
            return TB_EPARSE;
        }
        size_t bit = 0;
        while (bit < N_ITEMS && strcmp(NAMES[bit], name) != 0)
            bit++;
        if (bit == N_ITEMS) {
            tb__errf(err, errlen, "faults: item %d: unknown fault '%s' (known: %s)", k, name,
                     KNOWN);
            return TB_EPARSE;
        }
        tb_decimal *prob = slot(&f, bit);
        if (seen & (1u << bit)) {
            tb__errf(err, errlen, "faults: item %d: '%s' given twice", k, name);
            return TB_EPARSE;
        }
        seen |= 1u << bit;
        if (prob) {
            tb_decimal d;
            if (tb_dec_parse(value, strlen(value), &d) != 0 || d < 0 || d > TB_DECIMAL_ONE) {
                tb__errf(err, errlen, "faults: item %d: %s: '%s' is not a probability in [0, 1]", k,
                         name, value);
                return TB_EPARSE;
            }
            *prob = d;
        } else {
            long long ms = 0;
            const char *c = value;
            for (; *c >= '0' && *c <= '9' && ms <= MAX_RETRY_AFTER_MS; c++)
                ms = ms * 10 + (*c - '0');
            if (*c || ms > MAX_RETRY_AFTER_MS) {
                tb__errf(err, errlen,
                         "faults: item %d: retry_after_ms: '%s' is not a whole number of "
                         "milliseconds in [0, %d]",
                         k, value, MAX_RETRY_AFTER_MS);
                return TB_EPARSE;
            }
            f.retry_after = ms * MILLISECOND;
        }
        if (!end) break;
        p = end;
    }
    tb_decimal sum = f.timeout + f.lost_ack + f.server_error + f.rate_limit + f.connection_lost;
    if (sum > TB_DECIMAL_ONE) {
        char s[TB_DECIMAL_STRLEN];
        tb_dec_format(sum, s, sizeof(s));
        tb__errf(err, errlen,
                 "faults: the submit faults (timeout, lost_ack, server_error, rate_limit, "
                 "connection_lost) add up to %s, more than 1",
                 s);
        return TB_EPARSE;
    }
    *out = f;
    return 0;
}
