/* tradebus — klines from Binance's REST API into monthly CSV files. See
 * datafetch.h for the contract (completeness, rate limits, retries). */
#define _POSIX_C_SOURCE 200809L

#include "../core/errbuf.h"
#include "tradebus/datafetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define DF_LIMIT       1000 /* rows per request: Binance's maximum */
#define DF_MAX_BACKOFF INT64_C(30000)
#define DF_SLICE_MS    100 /* a wait is cut in slices to notice *stop */
#define DF_MAX_LIMITED 20  /* 429/418 answers in a row for one page */
#define DAY_MS         INT64_C(86400000)

static const struct {
    const char *name;
    int64_t ms; /* 0: one calendar month */
} intervals[] = {
    {"1s", 1000},     {"1m", 60000},     {"3m", 180000},    {"5m", 300000},
    {"15m", 900000},  {"30m", 1800000},  {"1h", 3600000},   {"2h", 7200000},
    {"4h", 14400000}, {"6h", 21600000},  {"8h", 28800000},  {"12h", 43200000},
    {"1d", 86400000}, {"3d", 259200000}, {"1w", 604800000}, {"1M", 0},
};

/* ---- calendar (UTC, proleptic Gregorian; no timegm: not POSIX) ---- */

/* Days since 1970-01-01 of y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static int64_t month_start_ms(int y, int m)
{
    return days_from_civil(y, m, 1) * DAY_MS;
}

/* ---- validation ---- */

void tb_datafetch_config_init(tb_datafetch_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base_url = TB_DATAFETCH_DEFAULT_URL;
    cfg->out_dir = "data";
    cfg->max_retries = 5;
    cfg->backoff_ms = 500;
    cfg->max_wait_s = 600;
    cfg->weight_limit = 6000;
    cfg->weight_reserve = 600;
    cfg->timeout_ms = 30000;
}

int tb_datafetch_parse_date(const char *s, int64_t *ms)
{
    if (!s || !ms || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return TB_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return TB_EINVAL;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return TB_EINVAL;
    *ms = days_from_civil(y, m, d) * DAY_MS;
    return 0;
}

static int64_t interval_ms(const char *interval, int *found)
{
    for (size_t i = 0; interval && i < sizeof(intervals) / sizeof(intervals[0]); i++)
        if (!strcmp(intervals[i].name, interval)) return *found = 1, intervals[i].ms;
    return *found = 0, -1;
}

int tb_datafetch_interval_valid(const char *interval)
{
    int found;
    interval_ms(interval, &found);
    return found;
}

int tb_datafetch_symbol_valid(const char *symbol)
{
    size_t n = symbol ? strlen(symbol) : 0;
    if (n < 1 || n > 20) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = symbol[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int tb_datafetch_month_file(const char *symbol, const char *interval, int64_t month_ms, char *buf,
                            size_t buflen)
{
    int y, m;
    int64_t days = month_ms >= 0 ? month_ms / DAY_MS : -((-month_ms + DAY_MS - 1) / DAY_MS);
    civil_from_days(days, &y, &m);
    int n = snprintf(buf, buflen, "%s-%s-%04d-%02d.csv", symbol, interval, y, m);
    return n < 0 || (size_t)n >= buflen ? TB_EFULL : 0;
}

/* ---- clock ---- */

static int64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep_ms(int64_t ms, void *ctx)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- one fetch ---- */

typedef struct {
    const tb_datafetch_config *cfg;
    tb_datafetch_stats *st;
    char *err;
    size_t errlen;
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    char *body; /* the reply, reused across requests */
    size_t len, cap;
    long weight;      /* X-MBX-USED-WEIGHT-1M of the last reply; -1 if none */
    long retry_after; /* Retry-After in seconds; -1 if none */
    int oom;          /* the reply did not fit in memory */
    int64_t interval_ms;
    tb_datafetch_progress pr;
    char file[128];
} fetch;

static int stopped(const fetch *f)
{
    return f->cfg->stop && *f->cfg->stop;
}

static int64_t now_ms(const fetch *f)
{
    return f->cfg->now_ms ? f->cfg->now_ms(f->cfg->clock_ctx) : real_now_ms(NULL);
}

static void report(fetch *f, tb_datafetch_what what)
{
    f->pr.what = what;
    if (f->cfg->progress) f->cfg->progress(&f->pr, f->cfg->progress_ctx);
}

/* Waits ms in slices, so that *stop is seen soon. TB_ECANCELED if it was. */
static int wait_for(fetch *f, int64_t ms, const char *reason)
{
    f->pr.wait_ms = ms;
    f->pr.wait_reason = reason;
    report(f, TB_DATAFETCH_WAIT);
    f->st->waited_ms += ms;
    while (ms > 0) {
        if (stopped(f)) return TB_ECANCELED;
        int64_t step = ms < DF_SLICE_MS ? ms : DF_SLICE_MS;
        if (f->cfg->sleep_ms)
            f->cfg->sleep_ms(step, f->cfg->clock_ctx);
        else
            real_sleep_ms(step, NULL);
        ms -= step;
    }
    return stopped(f) ? TB_ECANCELED : 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    fetch *f = ud;
    size_t add = sz * n;
    if (f->len + add + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 1 << 17;
        while (cap < f->len + add + 1)
            cap *= 2;
        char *b = realloc(f->body, cap);
        if (!b) {
            f->oom = 1;
            return 0; /* curl then fails the transfer (CURLE_WRITE_ERROR) */
        }
        f->body = b;
        f->cap = cap;
    }
    memcpy(f->body + f->len, p, add);
    f->len += add;
    f->body[f->len] = '\0';
    return add;
}

/* A header's value as a number, or -1 if it is not this header. */
static long header_long(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0) return -1;
    char v[32];
    size_t vl = n - k < sizeof(v) - 1 ? n - k : sizeof(v) - 1;
    memcpy(v, line + k, vl);
    v[vl] = '\0';
    char *end;
    long x = strtol(v, &end, 10);
    return end == v || x < 0 ? -1 : x;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    fetch *f = ud;
    long v;
    if ((v = header_long(p, sz * n, "x-mbx-used-weight-1m:")) >= 0) f->weight = v;
    if ((v = header_long(p, sz * n, "retry-after:")) >= 0) f->retry_after = v;
    return sz * n;
}

/* Lets curl give up a transfer as soon as *stop is set. */
static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return stopped(ud);
}

/* Binance's {"code":-1121,"msg":"Invalid symbol."} as "-1121 Invalid symbol.",
 * else the start of the body. */
static void reply_reason(const fetch *f, char *out, size_t outlen)
{
    json_t *j = json_loadb(f->body ? f->body : "", f->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "msg"));
    json_t *code = json_object_get(j, "code");
    if (msg && json_is_integer(code))
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT " %s", json_integer_value(code), msg);
    else
        snprintf(out, outlen, "%.80s", f->len ? f->body : "(empty reply)");
    json_decref(j);
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

/* GETs one page of klines into f->body. Retries what is transient, waits
 * what the server asks, throttles on the used weight. */
static int get_page(fetch *f, const char *url)
{
    const tb_datafetch_config *cfg = f->cfg;
    int attempt = 0, limited = 0;
    for (;;) {
        if (stopped(f)) return TB_ECANCELED;
        f->len = 0;
        f->weight = f->retry_after = -1;
        f->oom = 0;
        f->curl_err[0] = '\0';
        curl_easy_setopt(f->curl, CURLOPT_URL, url);
        f->st->requests++;
        CURLcode cc = curl_easy_perform(f->curl);
        if (stopped(f)) return TB_ECANCELED;
        long status = 0;
        char why[256];
        int rc;
        if (cc == CURLE_OK) curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
        if (f->oom) {
            tb__errf(f->err, f->errlen, "%s: out of memory for the reply", url);
            return TB_ENOMEM;
        }
        if (cc == CURLE_OK && status == 200) {
            /* Throttle before the limit, not after a 429: Binance bans an
             * IP that keeps going (418). */
            if (f->weight >= 0 && f->weight >= (long)cfg->weight_limit - cfg->weight_reserve) {
                int64_t now = now_ms(f);
                int64_t next = (now / 60000 + 1) * 60000 + 1000;
                if ((rc = wait_for(f, next - now, "rate limit")) != 0) return rc;
            }
            return 0;
        }
        if (cc == CURLE_OK && (status == 429 || status == 418)) {
            /* Not a failure of this request: the same page is asked again
             * once the server's wait is over, and not counted as a retry. */
            long secs = f->retry_after >= 0 ? f->retry_after : 60;
            if (secs > cfg->max_wait_s) {
                reply_reason(f, why, sizeof(why));
                tb__errf(f->err, f->errlen,
                         "%s: HTTP %ld (%s): Binance asks to wait %ld s (Retry-After), more than "
                         "%" PRId64 " s; rerun the same command after that to resume",
                         url, status, why, secs, cfg->max_wait_s);
                return TB_EREJECTED;
            }
            /* A server that never stops saying 429 must not hold the
             * fetch forever. */
            if (++limited > DF_MAX_LIMITED) {
                tb__errf(f->err, f->errlen,
                         "%s: HTTP %ld %d times in a row for the same page; another program may "
                         "be using this IP's request weight: rerun later to resume",
                         url, status, limited);
                return TB_EREJECTED;
            }
            const char *r = status == 429 ? "Retry-After (429)" : "Retry-After (418, IP ban)";
            if ((rc = wait_for(f, secs * 1000 + 50, r)) != 0) return rc;
            continue;
        }
        if (cc == CURLE_OK && status < 500) {
            reply_reason(f, why, sizeof(why));
            tb__errf(f->err, f->errlen, "%s: HTTP %ld: %s", url, status, why);
            return TB_EINVAL;
        }
        /* 5xx, a connection refused or closed, a timeout: transient. */
        if (cc == CURLE_OK) {
            reply_reason(f, why, sizeof(why));
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " (HTTP %ld)", status);
            rc = TB_ECONN;
        } else {
            snprintf(why, sizeof(why), "%s", f->curl_err[0] ? f->curl_err : curl_easy_strerror(cc));
            rc = cc == CURLE_OPERATION_TIMEDOUT ? TB_ETIMEOUT : TB_ECONN;
        }
        if (attempt >= cfg->max_retries) {
            tb__errf(f->err, f->errlen,
                     "%s: %s; gave up after %d attempts. Complete months are kept: rerun the "
                     "same command to resume",
                     url, why, attempt + 1);
            return rc;
        }
        attempt++;
        f->st->retries++;
        int64_t wait = cfg->backoff_ms;
        for (int i = 1; i < attempt && wait < DF_MAX_BACKOFF; i++)
            wait *= 2;
        if (wait > DF_MAX_BACKOFF) wait = DF_MAX_BACKOFF;
        char reason[300];
        snprintf(reason, sizeof(reason), "retry %d/%d: %s", attempt, cfg->max_retries, why);
        if ((rc = wait_for(f, wait, reason)) != 0) return rc;
    }
}

/* A kline's price or volume text: a plain decimal, which goes into the CSV
 * as it came (a comma or a newline would break the row). */
static const char *dec_text(json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 40) return NULL;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '.')) return NULL;
    return s;
}

/* Appends the page's rows of [start, end) to out. *last is the open time of
 * the last row written (or seen: a bar not closed yet ends the month), *n
 * the rows the page held. */
static int write_rows(fetch *f, FILE *out, const char *url, int64_t end, int64_t now, int64_t *last,
                      size_t *n, int *done)
{
    json_error_t je;
    json_t *rows = json_loadb(f->body ? f->body : "", f->len, 0, &je);
    if (!json_is_array(rows)) {
        tb__errf(f->err, f->errlen, "%s: the reply is not a list of klines (%s)", url,
                 rows ? "not an array" : je.text);
        json_decref(rows);
        return TB_EDATA;
    }
    *n = json_array_size(rows);
    for (size_t i = 0; i < *n; i++) {
        json_t *r = json_array_get(rows, i);
        const char *d[8];
        static const int cols[8] = {1, 2, 3, 4, 5, 7, 9, 10};
        int ok = json_is_array(r) && json_array_size(r) == 12 &&
                 json_is_integer(json_array_get(r, 0)) && json_is_integer(json_array_get(r, 6)) &&
                 json_is_integer(json_array_get(r, 8));
        for (int k = 0; ok && k < 8; k++)
            ok = (d[k] = dec_text(json_array_get(r, cols[k]))) != NULL;
        const char *ign = ok ? json_string_value(json_array_get(r, 11)) : NULL;
        if (ok && (!ign || strpbrk(ign, ",\r\n\"") || strlen(ign) > 40)) ok = 0;
        int64_t t = ok ? (int64_t)json_integer_value(json_array_get(r, 0)) : 0;
        int64_t ct = ok ? (int64_t)json_integer_value(json_array_get(r, 6)) : 0;
        if (ok && (t <= *last || ct < t)) ok = 0;
        if (!ok) {
            tb__errf(f->err, f->errlen,
                     "%s: row %zu is not a kline of 12 columns after the last one (open time "
                     "%" PRId64 ")",
                     url, i, *last);
            json_decref(rows);
            return TB_EDATA;
        }
        if (t >= end) {
            *done = 1; /* past the month: a server that ignored endTime */
            break;
        }
        if (ct >= now) {
            /* Still open: files hold closed bars only, so this month ends
             * here for now (a rerun fetches it again). */
            *done = 1;
            break;
        }
        if (fprintf(out,
                    "%" PRId64 ",%s,%s,%s,%s,%s,%" PRId64 ",%s,%" JSON_INTEGER_FORMAT ",%s,%s,%s\n",
                    t, d[0], d[1], d[2], d[3], d[4], ct, d[5],
                    json_integer_value(json_array_get(r, 8)), d[6], d[7], ign) < 0) {
            json_decref(rows);
            return TB_EIO;
        }
        *last = t;
        f->pr.month_bars++;
        f->pr.bars++;
        f->st->bars++;
        if (ct >= end - 1) *done = 1; /* the month's last bar */
    }
    json_decref(rows);
    return 0;
}

/* 1 if dir/name is a complete month (datafetch.h): its last row closes at
 * or after end - 1 and before now. */
static int month_complete(const char *path, int64_t end, int64_t now)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    char buf[1024];
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    long from = size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0;
    size_t n = 0;
    if (size > 0 && fseek(fp, from, SEEK_SET) == 0) n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    if (n < 2 || buf[n - 1] != '\n') return 0;
    buf[n - 1] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : (from == 0 ? buf : NULL);
    if (!line) return 0;
    /* open_time,o,h,l,c,v,close_time,... */
    const char *p = line;
    for (int k = 0; k < 6 && p; k++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) return 0;
    char *e;
    errno = 0;
    long long ct = strtoll(p, &e, 10);
    if (errno || e == p || *e != ',') return 0;
    return ct >= end - 1 && ct < now;
}

static int fetch_month(fetch *f, int64_t start, int64_t end, int64_t now)
{
    const tb_datafetch_config *cfg = f->cfg;
    char tmp[4096], path[4096], url[2048];
    int n = snprintf(path, sizeof(path), "%s/%s", cfg->out_dir, f->file);
    /* A hidden name of this process: never taken for a month file, and
     * created with the usual mode (mkstemp's would be 0600). */
    int n2 = snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", cfg->out_dir, f->file, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(path) || n2 < 0 || (size_t)n2 >= sizeof(tmp)) {
        tb__errf(f->err, f->errlen, "%s: directory name too long", cfg->out_dir);
        return TB_EINVAL;
    }
    unlink(tmp); /* left by a crashed run that had our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        tb__errf(f->err, f->errlen, "%s: cannot write: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd), unlink(tmp);
        return TB_EIO;
    }
    int rc = 0, done = 0;
    int64_t last = start - 1;
    f->pr.month_bars = 0;
    while (!done) {
        int64_t from = last + 1;
        n = snprintf(url, sizeof(url),
                     "%s/api/v3/klines?symbol=%s&interval=%s&startTime=%" PRId64 "&endTime=%" PRId64
                     "&limit=%d",
                     cfg->base_url, cfg->symbol, cfg->interval, from, end - 1, DF_LIMIT);
        if (n < 0 || (size_t)n >= sizeof(url)) {
            tb__errf(f->err, f->errlen, "base URL too long: %s", cfg->base_url);
            rc = TB_EINVAL;
            break;
        }
        if ((rc = get_page(f, url)) != 0) break;
        size_t rows = 0;
        if ((rc = write_rows(f, out, url, end, now, &last, &rows, &done)) != 0) {
            if (rc == TB_EIO)
                tb__errf(f->err, f->errlen, "%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        /* Fewer rows than asked: the range holds no more. */
        if (rows < DF_LIMIT) done = 1;
        report(f, TB_DATAFETCH_PAGE);
    }
    /* Everything reached the disk before the name says "complete". */
    if (!rc && (fflush(out) != 0 || ferror(out) || fsync(fileno(out)) != 0)) {
        tb__errf(f->err, f->errlen, "%s: write failed: %s", tmp, strerror(errno));
        rc = TB_EIO;
    }
    if (fclose(out) != 0 && !rc) {
        tb__errf(f->err, f->errlen, "%s: write failed: %s", tmp, strerror(errno));
        rc = TB_EIO;
    }
    if (!rc && f->pr.month_bars == 0) {
        unlink(tmp);
        f->st->months_empty++;
        f->pr.months_done++;
        report(f, TB_DATAFETCH_MONTH_EMPTY);
        return 0;
    }
    if (!rc && rename(tmp, path) != 0) {
        tb__errf(f->err, f->errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        rc = TB_EIO;
    }
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* The rename itself survives a crash once the directory is synced. */
    int dfd = open(cfg->out_dir, O_RDONLY);
    if (dfd >= 0) fsync(dfd), close(dfd);
    f->st->months_written++;
    f->pr.months_done++;
    report(f, TB_DATAFETCH_MONTH_WRITTEN);
    return 0;
}

static int check_config(const tb_datafetch_config *cfg, char *err, size_t errlen)
{
    if (!tb_datafetch_symbol_valid(cfg->symbol)) {
        tb__errf(err, errlen,
                 "symbol '%s': not a Binance spot symbol (1-20 of A-Z 0-9 - _ ., e.g. BTCUSDT)",
                 cfg->symbol ? cfg->symbol : "");
        return TB_EINVAL;
    }
    if (!tb_datafetch_interval_valid(cfg->interval)) {
        tb__errf(err, errlen,
                 "interval '%s': not a Binance interval (one of " TB_DATAFETCH_INTERVALS ")",
                 cfg->interval ? cfg->interval : "");
        return TB_EINVAL;
    }
    if (cfg->from_ms < 0 || cfg->to_ms <= cfg->from_ms) {
        tb__errf(err, errlen, "the range is empty: 'to' must be after 'from' (it is exclusive)");
        return TB_EINVAL;
    }
    if (!cfg->base_url ||
        (strncmp(cfg->base_url, "http://", 7) != 0 && strncmp(cfg->base_url, "https://", 8) != 0)) {
        tb__errf(err, errlen, "base URL '%s': must start with http:// or https://",
                 cfg->base_url ? cfg->base_url : "");
        return TB_EINVAL;
    }
    if (!cfg->out_dir || !*cfg->out_dir || cfg->max_retries < 0 || cfg->backoff_ms < 0 ||
        cfg->weight_limit <= 0 || cfg->weight_reserve < 0 || cfg->timeout_ms <= 0 ||
        cfg->max_wait_s < 0) {
        tb__errf(err, errlen, "bad fetch settings (out_dir, retries, back-off, weights, timeout)");
        return TB_EINVAL;
    }
    return 0;
}

int tb_datafetch_run(const tb_datafetch_config *cfg, tb_datafetch_stats *stats, char *err,
                     size_t errlen)
{
    tb_datafetch_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (!cfg) return TB_EMISUSE;
    int rc = check_config(cfg, err, errlen);
    if (rc) return rc;
    if (mkdir(cfg->out_dir, 0777) != 0 && errno != EEXIST) {
        tb__errf(err, errlen, "%s: cannot create the directory: %s", cfg->out_dir, strerror(errno));
        return TB_EIO;
    }
    struct stat sb;
    if (stat(cfg->out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        tb__errf(err, errlen, "%s: not a directory", cfg->out_dir);
        return TB_EIO;
    }

    fetch f;
    memset(&f, 0, sizeof(f));
    f.cfg = cfg;
    f.st = stats;
    f.err = err;
    f.errlen = errlen;
    int found;
    f.interval_ms = interval_ms(cfg->interval, &found);
    int64_t now = now_ms(&f);

    /* The months, and which of them are complete already. */
    int y, m;
    civil_from_days(cfg->from_ms / DAY_MS, &y, &m);
    enum { MAX_MONTHS = 12 * 200 };
    int64_t *starts = malloc(sizeof(int64_t) * (MAX_MONTHS + 1));
    unsigned char *keep = calloc(MAX_MONTHS, 1);
    if (!starts || !keep) {
        free(starts), free(keep);
        return TB_ENOMEM;
    }
    int nm = 0;
    for (int64_t s = month_start_ms(y, m); s < cfg->to_ms && s < now && nm < MAX_MONTHS;) {
        starts[nm++] = s;
        if (++m > 12) m = 1, y++;
        s = month_start_ms(y, m);
        starts[nm] = s;
    }
    if (nm == MAX_MONTHS && month_start_ms(y, m) < cfg->to_ms && month_start_ms(y, m) < now) {
        tb__errf(err, errlen, "the range spans more than %d months: fetch it in parts", MAX_MONTHS);
        free(starts), free(keep);
        return TB_EINVAL;
    }
    if (nm == 0) {
        tb__errf(err, errlen, "nothing to fetch: the range begins in the future");
        free(starts), free(keep);
        return TB_EINVAL;
    }
    f.pr.months_total = stats->months_total = nm;
    for (int i = 0; i < nm; i++) {
        char path[4096];
        tb_datafetch_month_file(cfg->symbol, cfg->interval, starts[i], f.file, sizeof(f.file));
        snprintf(path, sizeof(path), "%s/%s", cfg->out_dir, f.file);
        keep[i] = (unsigned char)month_complete(path, starts[i + 1], now);
        if (keep[i]) continue;
        f.pr.months_to_fetch++;
        int64_t end = starts[i + 1] < now ? starts[i + 1] : now;
        f.pr.bars_expected += f.interval_ms ? (uint64_t)((end - starts[i]) / f.interval_ms) : 1;
    }
    f.pr.file = NULL;
    report(&f, TB_DATAFETCH_PLAN);

    if (f.pr.months_to_fetch) {
        f.curl = curl_easy_init();
        if (!f.curl) {
            tb__errf(err, errlen, "cannot start libcurl");
            rc = TB_ENOMEM;
            goto out;
        }
        curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(f.curl, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(f.curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(f.curl, CURLOPT_HEADERDATA, &f);
        curl_easy_setopt(f.curl, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(f.curl, CURLOPT_XFERINFODATA, &f);
        curl_easy_setopt(f.curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(f.curl, CURLOPT_ERRORBUFFER, f.curl_err);
        curl_easy_setopt(f.curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
        curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(f.curl, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(f.curl, CURLOPT_USERAGENT, "tradebus-datafetch");
        curl_easy_setopt(f.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    }
    for (int i = 0; i < nm; i++) {
        tb_datafetch_month_file(cfg->symbol, cfg->interval, starts[i], f.file, sizeof(f.file));
        f.pr.file = f.file;
        if (keep[i]) {
            stats->months_kept++;
            f.pr.months_done++;
            report(&f, TB_DATAFETCH_MONTH_KEPT);
            continue;
        }
        if ((rc = fetch_month(&f, starts[i], starts[i + 1], now)) != 0) break;
    }
    if (rc == TB_ECANCELED)
        tb__errf(err, errlen,
                 "interrupted: %d complete month(s) written, the month in progress dropped; "
                 "rerun the same command to resume",
                 stats->months_written);
out:
    curl_easy_cleanup(f.curl);
    free(f.body);
    free(starts);
    free(keep);
    return rc;
}
