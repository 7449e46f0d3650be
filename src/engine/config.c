/* The INI configuration: raw entries first (with where each came from), then
 * one pass that interprets them, so an error always names its origin and a
 * --set override is checked exactly like the file. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../core/errbuf.h"
#include "../core/keyindex.h"
#include "../core/linereader.h"
#include "config_int.h"
#include "tradebus/config.h"
#include "tradebus/legacy.h"
#include "tradebus/resample.h"
#include "tradebus/secret.h"

/* A config file is a few KiB; this bound keeps /dev/urandom or /dev/zero
 * given as --config from being read until memory runs out. */
#define CONFIG_MAX_BYTES ((uint64_t)1 << 20)

void tb_config_init(tb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

/* The entry for (section, key), or NULL. With an index (loading a file:
 * thousands of keys), a hash probe; without (one --set), a scan. */
static tb_config_entry *find(tb_config *cfg, const tb__index *ix, uint64_t h, const char *section,
                             const char *key)
{
    if (ix && ix->cap) {
        size_t mask = ix->cap - 1;
        for (size_t i = (size_t)h & mask; ix->slots[i]; i = (i + 1) & mask) {
            tb_config_entry *e = &cfg->entries[ix->slots[i] - 1];
            if (e->hash == h && strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
                return e;
        }
        return NULL;
    }
    for (size_t i = 0; i < cfg->nentries; i++) {
        tb_config_entry *e = &cfg->entries[i];
        if (e->hash == h && strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0) return e;
    }
    return NULL;
}

static int put_ix(tb_config *cfg, tb__index *ix, const char *section, const char *key,
                  const char *value, const char *origin)
{
    uint64_t h = tb__hash_key(section, key);
    {
        tb_config_entry *e = find(cfg, ix, h, section, key);
        if (e) {
            char *v = strdup(value);
            if (!v) return TB_ENOMEM;
            free(e->value);
            e->value = v;
            snprintf(e->origin, sizeof(e->origin), "%s", origin);
            return 0;
        }
    }
    if (ix && tb__index_reserve(ix, cfg->entries, sizeof(*cfg->entries), cfg->nentries) != 0)
        return TB_ENOMEM;
    if (cfg->nentries == cfg->entries_cap) {
        size_t nc = cfg->entries_cap ? cfg->entries_cap * 2 : 32;
        tb_config_entry *ne = realloc(cfg->entries, nc * sizeof(*ne));
        if (!ne) return TB_ENOMEM;
        cfg->entries = ne;
        cfg->entries_cap = nc;
    }
    tb_config_entry *e = &cfg->entries[cfg->nentries];
    memset(e, 0, sizeof(*e));
    e->section = strdup(section);
    e->key = strdup(key);
    e->value = strdup(value);
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        return TB_ENOMEM;
    }
    snprintf(e->origin, sizeof(e->origin), "%s", origin);
    e->hash = h;
    if (ix) tb__index_put(ix, h, cfg->nentries);
    cfg->nentries++;
    return 0;
}

static int put(tb_config *cfg, const char *section, const char *key, const char *value,
               const char *origin)
{
    return put_ix(cfg, NULL, section, key, value, origin);
}

typedef struct {
    tb_config *cfg;
    const char *path;
    tb__lr lr;
    tb__index ix; /* (section, key) -> entry: loading stays linear */
    int line;     /* real lines read: the handler runs for the line just read */
    char *buf;    /* the whole current line, in lr's buffer */
    uint64_t bytes;
    int stop; /* read_line met an error; its message is in msg */
    char msg[300];
    const char *rest; /* unfed part of a line longer than inih's buffer */
    int cont;         /* what was just fed continues the previous value */
    int too_long;     /* a line could not be split: its number */
    char last_section[128], last_key[128];
    int *call_line; /* real line of each reader call: inih reports calls */
    size_t ncalls, calls_cap;
    int rc;
} load_ctx;

static int note_call(load_ctx *lc)
{
    if (lc->ncalls == lc->calls_cap) {
        size_t nc = lc->calls_cap ? lc->calls_cap * 2 : 64;
        int *n = realloc(lc->call_line, nc * sizeof(*n));
        if (!n) return TB_ENOMEM;
        lc->call_line = n;
        lc->calls_cap = nc;
    }
    lc->call_line[lc->ncalls++] = lc->line;
    return 0;
}

/* Feeds inih one line at a time. Debian's inih passes no line numbers and
 * reads through a fixed 200-byte buffer, so whole lines are read here:
 * counting them gives the numbers, and a longer line is handed over as the
 * key line plus indented continuation pieces (inih's multi-line values),
 * cut at a space or comma, which on_ini joins back with a space. */
static char *read_line(char *out, int size, void *stream)
{
    load_ctx *lc = stream;
    size_t room = (size_t)size - 3; /* leading space, newline, NUL */
    if (lc->stop) return NULL;
    if (!lc->rest) {
        size_t len;
        errno = 0;
        int rc = tb__lr_next(&lc->lr, &lc->buf, &len);
        if (rc == TB__LR_EOF) return NULL;
        lc->line = (int)lc->lr.lineno;
        lc->bytes += len + 1;
        if (rc == TB__LR_LINE && lc->bytes > CONFIG_MAX_BYTES) rc = TB_EFULL;
        if (rc != TB__LR_LINE) {
            lc->stop = rc == TB__LR_TOO_LONG ? TB_ECONFIG : rc == TB_EFULL ? TB_ECONFIG : rc;
            if (rc == TB__LR_TOO_LONG)
                snprintf(lc->msg, sizeof(lc->msg), "%s:%d: line longer than %zu bytes", lc->path,
                         lc->line, lc->lr.max);
            else if (rc == TB_EFULL)
                snprintf(lc->msg, sizeof(lc->msg),
                         "%s:%d: config larger than 1 MiB (%llu bytes): not a config file?",
                         lc->path, lc->line, (unsigned long long)CONFIG_MAX_BYTES);
            else
                snprintf(lc->msg, sizeof(lc->msg), "%s:%d: read error: %s", lc->path, lc->line + 1,
                         strerror(errno ? errno : EIO));
            return NULL;
        }
        if (strlen(lc->buf) != len) {
            /* inih and every string after it would end the line there:
             * `fee_bps = 1\0 00` would silently read as 1. */
            lc->stop = TB_ECONFIG;
            snprintf(lc->msg, sizeof(lc->msg), "%s:%d: a NUL byte in the line (not a text file?)",
                     lc->path, lc->line);
            return NULL;
        }
        ssize_t n = (ssize_t)len;
        while (n > 0 && (lc->buf[n - 1] == '\n' || lc->buf[n - 1] == '\r'))
            lc->buf[--n] = 0;
        lc->cont = lc->buf[0] == ' ' || lc->buf[0] == '\t';
        if ((size_t)n <= room) {
            if (note_call(lc) != 0) return NULL;
            snprintf(out, (size_t)size, "%s\n", lc->buf);
            return out;
        }
        lc->rest = lc->buf;
    } else {
        lc->cont = 1;
    }
    if (note_call(lc) != 0) return NULL;
    size_t len = strlen(lc->rest), cut = len;
    if (len > room) {
        cut = room;
        while (cut > 0 && lc->rest[cut] != ' ' && lc->rest[cut] != ',')
            cut--;
        if (cut == 0) {
            /* One token longer than inih can take: make inih stop here. */
            lc->too_long = lc->line;
            lc->rest = NULL;
            snprintf(out, (size_t)size, "[\n");
            return out;
        }
    }
    snprintf(out, (size_t)size, "%s%.*s\n", lc->rest == lc->buf ? "" : " ", (int)cut, lc->rest);
    lc->rest = cut < len ? lc->rest + cut + (lc->rest[cut] == ',' ? 1 : 0) : NULL;
    return out;
}

static int append_value(tb_config *cfg, const tb__index *ix, const char *section, const char *key,
                        const char *more)
{
    tb_config_entry *e = find(cfg, ix, tb__hash_key(section, key), section, key);
    if (e) {
        size_t a = strlen(e->value), b = strlen(more);
        char *v = realloc(e->value, a + b + 2);
        if (!v) return TB_ENOMEM;
        v[a] = ' ';
        memcpy(v + a + 1, more, b + 1);
        e->value = v;
        return 0;
    }
    return TB_ENOTFOUND;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *lc = user;
    char origin[128];
    snprintf(origin, sizeof(origin), "%s:%d", lc->path, lc->line);
    if (!name) return 1; /* a section header alone */
    if (lc->cont && strcmp(section, lc->last_section) == 0 && strcmp(name, lc->last_key) == 0)
        lc->rc = append_value(lc->cfg, &lc->ix, section, name, value);
    else
        lc->rc = put_ix(lc->cfg, &lc->ix, section, name, value, origin);
    snprintf(lc->last_section, sizeof(lc->last_section), "%s", section);
    snprintf(lc->last_key, sizeof(lc->last_key), "%s", name);
    return lc->rc == 0;
}

int tb_config_load(tb_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        tb__errf(err, errlen, "%s: cannot open config: %s", path, strerror(errno));
        return TB_EIO;
    }
    /* fopen() takes a folder, whose read fails at once: it would pass for
     * an empty INI. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        tb__errf(err, errlen, "%s: cannot open config: %s is a directory", path, path);
        return TB_EIO;
    }
    load_ctx lc;
    memset(&lc, 0, sizeof(lc));
    lc.cfg = cfg;
    lc.path = path;
    size_t cap = 64;
    while (cap < 2 * (cfg->nentries + 1))
        cap *= 2;
    if (tb__lr_init(&lc.lr, TB__MAX_LINE, tb__lr_read_file, f) != 0 ||
        tb__index_init(&lc.ix, cap) != 0) {
        tb__lr_close(&lc.lr);
        fclose(f);
        tb__errf(err, errlen, "%s: %s", path, tb_strerror(TB_ENOMEM));
        return TB_ENOMEM;
    }
    for (size_t i = 0; i < cfg->nentries; i++) /* earlier loads and --set */
        tb__index_put(&lc.ix, cfg->entries[i].hash, i);
    int line = ini_parse_stream(read_line, &lc, on_ini, &lc);
    fclose(f);
    tb__lr_close(&lc.lr);
    tb__index_close(&lc.ix);
    if (line > 0 && (size_t)line <= lc.ncalls) line = lc.call_line[line - 1];
    free(lc.call_line);
    if (lc.stop) {
        tb__errf(err, errlen, "%s", lc.msg);
        return lc.stop;
    }
    if (lc.rc) {
        tb__errf(err, errlen, "%s: %s", path, tb_strerror(lc.rc));
        return lc.rc;
    }
    if (lc.too_long) {
        tb__errf(err, errlen, "%s:%d: a value without spaces or commas is too long", path,
                 lc.too_long);
        return TB_ECONFIG;
    }
    if (line != 0) {
        tb__errf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                 line);
        return TB_ECONFIG;
    }
    return 0;
}

/* [*b, *e) without the blanks around it. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

int tb_config_set(tb_config *cfg, const char *a, char *err, size_t errlen)
{
    const char *eq = strchr(a, '=');
    /* 'strategy.x.fast = 5' as typed in the INI: blanks around the key and
     * the value are not part of them. */
    const char *lb = a, *le = eq ? eq : a;
    trim(&lb, &le);
    const char *dot = eq ? le : NULL;
    while (dot && dot > lb && *dot != '.')
        dot--;
    if (!eq || !dot || dot == lb || *dot != '.' || dot + 1 == le) {
        /* Only what precedes '=' is echoed: a mistyped assignment may hold a
         * secret after it, and one without '=' is not echoed at all. */
        if (eq)
            tb__errf(err, errlen,
                     "--set %.*s=...: expected SECTION.KEY=VALUE (e.g. exchange.fee_bps=5)",
                     (int)(eq - a > 60 ? 60 : eq - a), a);
        else
            tb__errf(err, errlen,
                     "--set: an argument has no '=': expected SECTION.KEY=VALUE "
                     "(e.g. exchange.fee_bps=5)");
        return TB_ECONFIG;
    }
    char section[128], key[128];
    const char *sb = lb, *se = dot, *kb = dot + 1, *ke = le, *vb = eq + 1, *ve = eq + strlen(eq);
    trim(&sb, &se);
    trim(&kb, &ke);
    trim(&vb, &ve);
    size_t sl = (size_t)(se - sb), kl = (size_t)(ke - kb);
    if (sl >= sizeof(section) || kl >= sizeof(key)) {
        tb__errf(err, errlen, "--set %.*s=...: section or key too long",
                 (int)(eq - a > 60 ? 60 : eq - a), a);
        return TB_ECONFIG;
    }
    memcpy(section, sb, sl);
    section[sl] = 0;
    memcpy(key, kb, kl);
    key[kl] = 0;
    char *value = strndup(vb, (size_t)(ve - vb));
    if (!value) return TB_ENOMEM;
    int rc = put(cfg, section, key, value, "--set");
    free(value);
    return rc;
}

const char *tb_config_value(const tb_config *cfg, const char *section, const char *key,
                            const char **origin)
{
    if (!cfg || !section || !key) return NULL;
    /* Entries are unique per (section, key): a later load or --set replaces. */
    for (size_t i = 0; i < cfg->nentries; i++) {
        const tb_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0) {
            if (origin) *origin = e->origin;
            return e->value;
        }
    }
    return NULL;
}

int tb_config_check_symbols(const tb_config *cfg, const char *const *symbols, size_t n, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        const tb_strategy_config *sc = &cfg->strategies[i];
        size_t k = 0, m = 0;
        for (m = 0; m < sc->nsymbols; m++) {
            for (k = 0; k < n && strcmp(symbols[k], sc->symbols[m]) != 0;)
                k++;
            if (k == n) break;
        }
        if (m == sc->nsymbols) continue;
        const char *missing = sc->symbols[m];
        char have[256] = "", section[TB_STRATEGY_LEN + 16];
        size_t len = 0;
        for (size_t j = 0; j < n && len < sizeof(have); j++) {
            size_t d = 0;
            while (d < j && strcmp(symbols[d], symbols[j]) != 0)
                d++;
            if (d == j) /* each symbol once, in the data's order */
                len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%s", len ? ", " : "",
                                        symbols[j]);
        }
        snprintf(section, sizeof(section), "strategy.%s", sc->id);
        const char *origin = NULL;
        for (size_t j = 0; j < cfg->nentries; j++)
            if (strcmp(cfg->entries[j].section, section) == 0 &&
                (strcmp(cfg->entries[j].key, "symbol") == 0 ||
                 strcmp(cfg->entries[j].key, "symbols") == 0))
                origin = cfg->entries[j].origin;
        tb__errf(err, errlen, "%s%s[strategy.%s] %s: %s is in no data file (the data has %s)",
                 origin ? origin : "", origin ? ": " : "", sc->id, sc->multi ? "symbols" : "symbol",
                 missing, n ? have : "no file");
        return TB_ECONFIG;
    }
    return 0;
}

int tb_config_add_data(tb_config *cfg, const char *spec)
{
    char **nd = realloc(cfg->data, (cfg->ndata + 1) * sizeof(*nd));
    if (!nd) return TB_ENOMEM;
    cfg->data = nd;
    if (!(cfg->data[cfg->ndata] = strdup(spec))) return TB_ENOMEM;
    cfg->ndata++;
    return 0;
}

/* ---- typed readers: each names origin, section and key on error ---- */

static int get_dec(const tb_config_entry *e, tb_decimal lo, tb_decimal hi, tb_decimal *out,
                   char *err, size_t errlen)
{
    tb_decimal v;
    int rc = tb_dec_parse(e->value, (size_t)-1, &v);
    /* A number too large for a decimal is out of range like any other:
     * the message is the same, with the range. */
    if (rc == TB_ERANGE) FAIL(e, "%s has more than %d decimals", e->value, TB_DECIMAL_SCALE);
    if (rc && rc != TB_EOVERFLOW)
        FAIL(e, "'%s' is not a decimal number (e.g. 10 or 0.5)", e->value);
    if (rc || v < lo || v > hi) {
        char l[TB_DECIMAL_STRLEN], h[TB_DECIMAL_STRLEN];
        tb_dec_format(lo, l, sizeof(l));
        tb_dec_format(hi, h, sizeof(h));
        FAIL(e, "%s is out of range [%s, %s]", e->value, l, h);
    }
    *out = v;
    return 0;
}

/* A percentage in (0, hi], written "2", "2%" or "0.5 %". */
static int get_pct(const tb_config_entry *e, tb_decimal hi, tb_decimal *out, char *err,
                   size_t errlen)
{
    char buf[64];
    size_t n = strlen(e->value);
    if (n >= sizeof(buf)) FAIL(e, "'%s' is not a percentage (e.g. 2 or 2%%)", e->value);
    memcpy(buf, e->value, n + 1);
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    if (n && buf[n - 1] == '%') buf[--n] = 0;
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    tb_decimal v;
    if (tb_dec_parse(buf, (size_t)-1, &v) != 0)
        FAIL(e, "'%s' is not a percentage (e.g. 2 or 2%%)", e->value);
    if (v <= 0 || v > hi) {
        char h[TB_DECIMAL_STRLEN];
        tb_dec_format(hi, h, sizeof(h));
        FAIL(e, "%s is out of range (0, %s] (percent)", e->value, h);
    }
    *out = v;
    return 0;
}

static int get_int(const tb_config_entry *e, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(e->value, &end, 10);
    if ((errno && errno != ERANGE) || end == e->value || *end)
        FAIL(e, "'%s' is not an integer", e->value);
    if (errno == ERANGE || v < lo || v > hi)
        FAIL(e, "%s is out of range [%ld, %ld]", e->value, lo, hi);
    *out = v;
    return 0;
}

static int get_bool(const tb_config_entry *e, int *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(e->value, yes[i]) == 0) return *out = 1, 0;
        if (strcasecmp(e->value, no[i]) == 0) return *out = 0, 0;
    }
    FAIL(e, "'%s' is not true or false", e->value);
}

static int split_data(tb_config *cfg, const char *list)
{
    char *copy = strdup(list);
    if (!copy) return TB_ENOMEM;
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, " ,\t", &save); tok && !rc;
         tok = strtok_r(NULL, " ,\t", &save))
        rc = tb_config_add_data(cfg, tok);
    free(copy);
    return rc;
}

/* Strategies by id while building: a config may hold thousands of them,
 * and each of their keys looks its strategy up. */
typedef struct {
    tb__index ix;
    uint64_t *hash; /* hash[i]: strategies[i]'s id (the index's entries) */
    size_t cap;     /* of hash and cfg->strategies */
} strategy_ix;

static tb_strategy_config *strategy_for(tb_config *cfg, strategy_ix *sx, const char *id)
{
    uint64_t h = tb__hash_key(NULL, id);
    size_t mask = sx->ix.cap - 1;
    for (size_t i = (size_t)h & mask; sx->ix.slots[i]; i = (i + 1) & mask) {
        size_t k = sx->ix.slots[i] - 1;
        if (sx->hash[k] == h && strcmp(cfg->strategies[k].id, id) == 0) return &cfg->strategies[k];
    }
    if (tb__index_reserve(&sx->ix, sx->hash, sizeof(*sx->hash), cfg->nstrategies) != 0) return NULL;
    if (cfg->nstrategies == sx->cap) {
        size_t nc = sx->cap ? sx->cap * 2 : 8;
        uint64_t *nh = realloc(sx->hash, nc * sizeof(*nh));
        if (!nh) return NULL;
        sx->hash = nh;
        tb_strategy_config *ns = realloc(cfg->strategies, nc * sizeof(*ns));
        if (!ns) return NULL;
        cfg->strategies = ns;
        sx->cap = nc;
    }
    sx->hash[cfg->nstrategies] = h;
    tb__index_put(&sx->ix, h, cfg->nstrategies);
    tb_strategy_config *s = &cfg->strategies[cfg->nstrategies++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->order_type = TB_ORDER_MARKET;
    return s;
}

static tb_symbol_rules *symbol_for(tb_config *cfg, const char *sym)
{
    for (size_t i = 0; i < cfg->nsymbols; i++)
        if (strcmp(cfg->symbols[i].symbol, sym) == 0) return &cfg->symbols[i];
    tb_symbol_rules *ns = realloc(cfg->symbols, (cfg->nsymbols + 1) * sizeof(*ns));
    if (!ns) return NULL;
    cfg->symbols = ns;
    tb_symbol_rules *r = &ns[cfg->nsymbols++];
    memset(r, 0, sizeof(*r));
    snprintf(r->symbol, sizeof(r->symbol), "%s", sym);
    return r;
}

static int valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* MARKET or LIMIT in any case: tb_order_type_parse() takes the wire's
 * upper-case names only. */
static int order_type_parse(const char *v, tb_order_type *out)
{
    char up[16];
    size_t n = strlen(v);
    if (n >= sizeof(up)) return TB_EPARSE;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)v[i]);
    return tb_order_type_parse(up, out);
}

/* The names of every exchange type cfg knows, for an error message. */
static void exchange_types(const tb_config *cfg, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < cfg->nextra_exchanges; i++)
        if (cfg->extra_exchanges[i] && n < outlen)
            n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "",
                                  cfg->extra_exchanges[i]->name);
    for (size_t i = 0; tb_exchange_builtin_at(i) && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? ", " : "",
                              tb_exchange_builtin_at(i)->name);
}

/* [exchange] type decides which keys the section may hold, so it is looked
 * up before any entry is read, wherever it was written. */
static int resolve_exchange(tb_config *cfg, char *err, size_t errlen)
{
    const tb_config_entry *e = NULL;
    for (size_t i = 0; i < cfg->nentries; i++)
        if (strcmp(cfg->entries[i].section, "exchange") == 0 &&
            strcmp(cfg->entries[i].key, "type") == 0)
            e = &cfg->entries[i];
    cfg->exchange_type = tb_exchange_type_find(cfg->extra_exchanges, cfg->nextra_exchanges,
                                               e ? e->value : TB_EXCHANGE_DEFAULT_TYPE);
    if (cfg->exchange_type) return 0;
    char known[256];
    exchange_types(cfg, known, sizeof(known));
    if (!e) {
        tb__errf(err, errlen, "[exchange] type: the default '%s' is not registered (known: %s)",
                 TB_EXCHANGE_DEFAULT_TYPE, known);
        return TB_ECONFIG;
    }
    FAIL(e, "unknown exchange type '%s' (known: %s)", e->value, known);
}

/* One of the exchange type's own keys: checked here against the type's
 * table so the error names where it was written; the adapter reads the
 * value itself (tb_exchange_param) when it is created. */
static int exchange_key(const tb_config *cfg, const tb_config_entry *e, char *err, size_t errlen)
{
    const tb_exchange_type *t = cfg->exchange_type;
    const tb_exchange_key *key = tb_exchange_type_key(t, e->key);
    char msg[300];
    /* Worded as in every other section (tools and tests match on it);
     * `tradebus config check` lists the type's keys. */
    if (!key) FAIL(e, "unknown key");
    if (tb_exchange_key_check(key, e->value, msg, sizeof(msg)) != 0) FAIL(e, "%s", msg);
    return 0;
}

static int has_key(const tb_transport_type *tt, const char *k)
{
    for (const tb_transport_key *tk = tt->keys; tk && tk->name; tk++)
        if (strcmp(tk->name, k) == 0) return 1;
    return 0;
}

/* The transport type whose own [bus] key k is: the run's type first, then
 * any other known one (a config switched to memory with --set bus.type
 * keeps its broker's keys). NULL if none has it. */
static const tb_transport_type *key_owner(const tb_config *cfg, const char *k)
{
    if (has_key(cfg->transport, k)) return cfg->transport;
    for (size_t i = 0; i < cfg->nextra_transports; i++)
        if (has_key(cfg->extra_transports[i], k)) return cfg->extra_transports[i];
    for (size_t i = 0; tb_transport_builtin_at(i); i++)
        if (has_key(tb_transport_builtin_at(i), k)) return tb_transport_builtin_at(i);
    return NULL;
}

/* A transport type's own key: checked by the type; kept for the run's type. */
static int transport_key(tb_config *cfg, const tb_transport_type *tt, const tb_config_entry *e,
                         char *err, size_t errlen)
{
    char shown[256] = "", msg[300] = "";
    if (tt->check_key &&
        tt->check_key(tt, e->key, e->value, shown, sizeof(shown), msg, sizeof(msg)) != 0)
        FAIL(e, "%s", msg[0] ? msg : "bad value");
    if (tt != cfg->transport) return 0;
    tb_transport_param *np = realloc(cfg->bus_params, (cfg->nbus_params + 1) * sizeof(*np));
    if (!np) return TB_ENOMEM;
    cfg->bus_params = np;
    np[cfg->nbus_params].key = e->key; /* borrowed from the entry, freed with it */
    np[cfg->nbus_params].value = e->value;
    cfg->nbus_params++;
    return 0;
}

static int build_entry(tb_config *cfg, strategy_ix *sx, tb_config_entry *e, int cli_data, char *err,
                       size_t errlen)
{
    const tb_decimal big = 1000000000 * TB_DECIMAL_ONE, bps = 10000 * TB_DECIMAL_ONE;
    long l;
    int rc = 0;
    const char *s = e->section, *k = e->key;

    if (strcmp(s, "backtest") == 0) {
        if (strcmp(k, "data") == 0) return cli_data ? 0 : split_data(cfg, e->value);
        if (strcmp(k, "initial_cash") == 0)
            return get_dec(e, 0, big, &cfg->initial_cash, err, errlen);
        if (strcmp(k, "on_bad_row") == 0) {
            if (strcasecmp(e->value, "fail") == 0)
                cfg->on_bad_row = TB_BAD_ROW_FAIL;
            else if (strcasecmp(e->value, "skip") == 0)
                cfg->on_bad_row = TB_BAD_ROW_SKIP;
            else
                FAIL(e, "'%s' must be fail or skip", e->value);
            return 0;
        }
        if (strcmp(k, "round_prices") == 0) return get_bool(e, &cfg->round_prices, err, errlen);
        if (strcmp(k, "cache") == 0) return get_bool(e, &cfg->cache, err, errlen);
        if (strcmp(k, "node_id") == 0) {
            if ((rc = get_int(e, 1, 65535, &l, err, errlen)) == 0) cfg->node_id = (uint16_t)l;
            return rc;
        }
    } else if (strcmp(s, "exchange") == 0) {
        if (strcmp(k, "type") == 0) return 0; /* resolved before any key: resolve_exchange */
        if (strcmp(k, "api_key") == 0 || strcmp(k, "api_secret") == 0) {
            char msg[200];
            /* The reason never quotes the value: it may be a pasted key. */
            if (tb_secret_spec_check(e->value, msg, sizeof(msg)) != 0) FAIL(e, "%s", msg);
            char **dst = k[4] == 'k' ? &cfg->api_key_spec : &cfg->api_secret_spec;
            free(*dst);
            return (*dst = strdup(e->value)) ? 0 : TB_ENOMEM;
        }
        return exchange_key(cfg, e, err, errlen);
    } else if (strcmp(s, "risk") == 0) {
        tb_risk_config *r = &cfg->risk;
        if (strcmp(k, "max_position") == 0)
            return get_dec(e, 0, big, &r->max_position, err, errlen);
        if (strcmp(k, "max_order_notional") == 0)
            return get_dec(e, 0, big, &r->max_order_notional, err, errlen);
        if (strcmp(k, "price_band_pct") == 0)
            return get_dec(e, 0, 100 * TB_DECIMAL_ONE, &r->price_band_pct, err, errlen);
        if (strcmp(k, "max_drawdown_pct") == 0)
            return get_dec(e, 0, 100 * TB_DECIMAL_ONE, &r->max_drawdown_pct, err, errlen);
        if (strcmp(k, "halt_action") == 0) {
            if (strcasecmp(e->value, "reduce_only") == 0)
                r->halt_close_all = 0;
            else if (strcasecmp(e->value, "close_all") == 0)
                r->halt_close_all = 1;
            else
                FAIL(e, "'%s' must be reduce_only or close_all", e->value);
            return 0;
        }
        if (strcmp(k, "max_open_orders") == 0) {
            if ((rc = get_int(e, 0, 1000000, &l, err, errlen)) == 0) r->max_open_orders = (int)l;
            return rc;
        }
        if (strcmp(k, "max_orders_per_minute") == 0) {
            if ((rc = get_int(e, 0, 1000000, &l, err, errlen)) == 0)
                r->max_orders_per_minute = (int)l;
            return rc;
        }
    } else if (strcmp(s, "bus") == 0) {
        if (strcmp(k, "max_retries") == 0) {
            if ((rc = get_int(e, 0, 100, &l, err, errlen)) == 0) cfg->max_retries = (int)l;
            return rc;
        }
        if (strcmp(k, "ring_capacity") == 0) {
            if ((rc = get_int(e, 16, 1 << 24, &l, err, errlen)) == 0)
                cfg->ring_capacity = (size_t)l;
            return rc;
        }
        if (strcmp(k, "type") == 0) {
            const tb_transport_type *tt = tb_config_resolve_transport(cfg, e->value);
            if (!tt) {
                char known[256] = "";
                for (size_t i = 0; tb_transport_builtin_at(i); i++)
                    snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                             i ? ", " : "", tb_transport_builtin_at(i)->name);
                for (size_t i = 0; i < cfg->nextra_transports; i++)
                    snprintf(known + strlen(known), sizeof(known) - strlen(known), ", %s",
                             cfg->extra_transports[i]->name);
                FAIL(e, "unknown transport type '%s' (known: %s)", e->value, known);
            }
            cfg->transport = tt;
            return 0;
        }
        if (strcmp(k, "signal_shards") == 0) {
            for (size_t i = 0; i < cfg->bus_nshards; i++)
                free(cfg->bus_signal_shards[i]);
            cfg->bus_nshards = 0;
            const char *v = e->value;
            while (*v) {
                size_t len = strcspn(v, "|");
                if (cfg->bus_nshards == TB_MAX_SHARDS) FAIL(e, "at most %d shards", TB_MAX_SHARDS);
                char *sh = malloc(len + 1), *o = sh;
                if (!sh) return TB_ENOMEM;
                /* "A B, C" -> "A,B,C" */
                for (size_t i = 0; i < len;) {
                    size_t w = strspn(v + i, " \t,");
                    i += w;
                    size_t t = strcspn(v + i, " \t,|");
                    if (t > len - i) t = len - i;
                    if (!t) break;
                    if (o != sh) *o++ = ',';
                    memcpy(o, v + i, t);
                    o += t;
                    i += t;
                }
                *o = 0;
                if (!sh[0]) {
                    free(sh);
                    FAIL(e, "an empty shard: list the symbols of each, '|' between shards");
                }
                cfg->bus_signal_shards[cfg->bus_nshards++] = sh;
                v += len;
                if (*v == '|') v++;
            }
            return 0;
        }
        if (strcmp(k, "order") == 0) {
            if (strcasecmp(e->value, "strict") == 0) return cfg->bus_stream = 0, 0;
            if (strcasecmp(e->value, "stream") == 0) return cfg->bus_stream = 1, 0;
            FAIL(e,
                 "'%s' must be strict (the embedded run's order, exactly) or stream (each "
                 "event handled on arrival)",
                 e->value);
        }
        char **strs[] = {&cfg->bus_name, &cfg->bus_state_dir};
        static const char *const skeys[] = {"name", "state_dir"};
        for (int i = 0; i < 2; i++)
            if (strcmp(k, skeys[i]) == 0) {
                if (!e->value[0]) FAIL(e, "must not be empty");
                if (i == 0 &&
                    strspn(e->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_-") != strlen(e->value))
                    FAIL(e, "'%s' may hold only letters, digits, _ and -", e->value);
                free(*strs[i]);
                *strs[i] = strdup(e->value);
                return *strs[i] ? 0 : TB_ENOMEM;
            }
        int *ints[] = {&cfg->bus_delivery_limit, &cfg->bus_window};
        static const char *const ikeys[] = {"delivery_limit", "window"};
        static const long imax[] = {1000, 100000};
        for (int i = 0; i < 2; i++)
            if (strcmp(k, ikeys[i]) == 0) {
                if ((rc = get_int(e, 1, imax[i], &l, err, errlen)) == 0) *ints[i] = (int)l;
                return rc;
            }
        const tb_transport_type *owner = key_owner(cfg, k);
        if (owner) return transport_key(cfg, owner, e, err, errlen);
    } else if (strcmp(s, "orders") == 0) {
        static const char *const ms[] = {"base_delay_ms", "max_delay_ms", "max_total_ms"};
        int64_t *dst[] = {&cfg->order_base_delay, &cfg->order_max_delay, &cfg->order_max_total};
        for (int i = 0; i < 3; i++)
            if (strcmp(k, ms[i]) == 0) {
                if ((rc = get_int(e, 1, 7L * 86400 * 1000, &l, err, errlen)) == 0)
                    *dst[i] = (int64_t)l * 1000000;
                return rc;
            }
        if (strcmp(k, "max_attempts") == 0) {
            if ((rc = get_int(e, 1, 1000, &l, err, errlen)) == 0) cfg->order_max_attempts = (int)l;
            return rc;
        }
        if (strcmp(k, "retry_seed") == 0) {
            if ((rc = get_int(e, 0, LONG_MAX, &l, err, errlen)) == 0)
                cfg->order_retry_seed = (uint64_t)l;
            return rc;
        }
    } else if (strcmp(s, "journal") == 0) {
        if (strcmp(k, "path") == 0) {
            free(cfg->journal_path);
            cfg->journal_path = e->value[0] ? strdup(e->value) : NULL;
            return e->value[0] && !cfg->journal_path ? TB_ENOMEM : 0;
        }
        if (strcmp(k, "sync") == 0) {
            static const char *const modes[] = {"full", "normal", "off"};
            for (int m = 0; m < 3; m++)
                if (strcasecmp(e->value, modes[m]) == 0) return cfg->journal_sync = m, 0;
            FAIL(e, "'%s' must be full, normal or off", e->value);
        }
        if (strcmp(k, "commit_every") == 0)
            return get_int(e, 1, 100000000, &cfg->journal_commit_every, err, errlen);
        if (strcmp(k, "commit_ms") == 0)
            return get_int(e, 0, 3600000, &cfg->journal_commit_ms, err, errlen);
    } else if (strcmp(s, "live") == 0) {
        if (strcmp(k, "warmup_bars") == 0)
            return get_int(e, 0, 100000, &cfg->live_warmup_bars, err, errlen);
        if (strcmp(k, "cancel_on_exit") == 0)
            return get_bool(e, &cfg->live_cancel_on_exit, err, errlen);
        if (strcmp(k, "interval") == 0) {
            static const char *const ok[] = {"1s", "1m", "3m", "5m",  "15m", "30m", "1h", "2h",
                                             "4h", "6h", "8h", "12h", "1d",  "3d",  "1w"};
            for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                if (strcmp(e->value, ok[i]) == 0) {
                    free(cfg->live_interval);
                    return (cfg->live_interval = strdup(e->value)) ? 0 : TB_ENOMEM;
                }
            FAIL(e,
                 "'%s' is not a Binance kline interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, "
                 "4h, 6h, 8h, 12h, 1d, 3d, 1w)",
                 e->value);
        }
        if (strcmp(k, "stream_url") == 0 || strcmp(k, "rest_url") == 0) {
            int ws = k[0] == 's';
            const char *const *schemes = ws ? (const char *const[]){"ws://", "wss://"}
                                            : (const char *const[]){"http://", "https://"};
            if (strncmp(e->value, schemes[0], strlen(schemes[0])) != 0 &&
                strncmp(e->value, schemes[1], strlen(schemes[1])) != 0)
                FAIL(e, "'%s' must start with %s or %s", e->value, schemes[0], schemes[1]);
            char **dst = ws ? &cfg->live_stream_url : &cfg->live_rest_url;
            free(*dst);
            return (*dst = strdup(e->value)) ? 0 : TB_ENOMEM;
        }
    } else if (strcmp(s, "output") == 0) {
        if (strcmp(k, "event_log") == 0) return get_bool(e, &cfg->event_log, err, errlen);
        if (strcmp(k, "fills") == 0) return get_bool(e, &cfg->fills, err, errlen);
        if (strcmp(k, "report") == 0) return get_bool(e, &cfg->report, err, errlen);
    } else if (strncmp(s, "symbol.", 7) == 0) {
        if (!valid_name(s + 7, TB_SYMBOL_LEN)) FAIL(e, "bad symbol name '%s'", s + 7);
        tb_symbol_rules *r = symbol_for(cfg, s + 7);
        if (!r) return TB_ENOMEM;
        if (strcmp(k, "tick_size") == 0) return get_dec(e, 1, big, &r->tick_size, err, errlen);
        if (strcmp(k, "step_size") == 0) return get_dec(e, 1, big, &r->step_size, err, errlen);
        if (strcmp(k, "min_notional") == 0)
            return get_dec(e, 0, big, &r->min_notional, err, errlen);
    } else if (strncmp(s, "strategy.", 9) == 0) {
        if (!valid_name(s + 9, TB_STRATEGY_LEN - 12))
            FAIL(e, "strategy id '%s' must be 1-19 letters, digits, '_' or '-'", s + 9);
        tb_strategy_config *st = strategy_for(cfg, sx, s + 9);
        if (!st) return TB_ENOMEM;
        if (strcmp(k, "type") == 0) {
            tb_legacy_adapter ad;
            if (!tb_config_resolve_type(cfg, e->value, &ad)) {
                char known[200] = "";
                for (size_t i = 0; tb_strategy_builtin_at(i); i++) {
                    if (i) strncat(known, ", ", sizeof(known) - strlen(known) - 1);
                    strncat(known, tb_strategy_builtin_at(i)->name,
                            sizeof(known) - strlen(known) - 1);
                }
                for (size_t i = 0; i < cfg->nextra_types; i++) {
                    strncat(known, ", ", sizeof(known) - strlen(known) - 1);
                    strncat(known, cfg->extra_types[i]->name, sizeof(known) - strlen(known) - 1);
                }
                FAIL(e, "unknown strategy type '%s' (known: %s, legacy:NAME)", e->value, known);
            }
            if (strlen(e->value) >= sizeof(st->type)) FAIL(e, "type name too long");
            snprintf(st->type, sizeof(st->type), "%s", e->value);
            return 0;
        }
        if (strcmp(k, "symbol") == 0) {
            if (!valid_name(e->value, TB_SYMBOL_LEN)) FAIL(e, "bad symbol '%s'", e->value);
            if (st->multi) FAIL(e, "symbols is set: write symbol or symbols, not both");
            snprintf(st->symbol, sizeof(st->symbol), "%s", e->value);
            memcpy(st->symbols[0], st->symbol, sizeof(st->symbol));
            st->nsymbols = 1;
            return 0;
        }
        if (strcmp(k, "symbols") == 0) {
            if (!st->multi && st->symbol[0])
                FAIL(e, "symbol is set: write symbol or symbols, not both");
            st->multi = 1;
            st->nsymbols = 0;
            char w[64];
            for (const char *p = e->value; *p;) {
                size_t n = strcspn(p, " \t,");
                if (n) {
                    if (n >= sizeof(w)) FAIL(e, "bad symbol '%.*s'", (int)n, p);
                    memcpy(w, p, n);
                    w[n] = 0;
                    if (!valid_name(w, TB_SYMBOL_LEN)) FAIL(e, "bad symbol '%s'", w);
                    for (size_t i = 0; i < st->nsymbols; i++)
                        if (strcmp(st->symbols[i], w) == 0) FAIL(e, "%s is listed twice", w);
                    if (st->nsymbols == TB_STRATEGY_MAX_SYMBOLS)
                        FAIL(e, "more than %d symbols; split the strategy in two",
                             TB_STRATEGY_MAX_SYMBOLS);
                    memcpy(st->symbols[st->nsymbols++], w, n + 1);
                }
                p += n;
                p += strspn(p, " \t,");
            }
            if (!st->nsymbols) FAIL(e, "empty: list the symbols, e.g. BTCUSDT ETHUSDT");
            memcpy(st->symbol, st->symbols[0], sizeof(st->symbol));
            return 0;
        }
        if (strcmp(k, "timeframes") == 0) {
            st->ntimeframes = 0;
            char w[16], terr[160];
            for (const char *p = e->value; *p;) {
                size_t n = strcspn(p, " \t,");
                if (n) {
                    if (n >= sizeof(w))
                        FAIL(e, "'%.*s' is no timeframe (%s)", (int)n, p, TB_TIMEFRAME_NAMES);
                    memcpy(w, p, n);
                    w[n] = 0;
                    int64_t ns;
                    if (tb_timeframe_parse(w, &ns, terr, sizeof(terr)) != 0) FAIL(e, "%s", terr);
                    if (st->ntimeframes == TB_STRATEGY_MAX_TIMEFRAMES)
                        FAIL(e, "more than %d timeframes", TB_STRATEGY_MAX_TIMEFRAMES);
                    if (st->ntimeframes && ns <= st->timeframes[st->ntimeframes - 1])
                        FAIL(e, "list the timeframes shortest first, each once (e.g. 1m 15m 1h)");
                    st->timeframes[st->ntimeframes++] = ns;
                }
                p += n;
                p += strspn(p, " \t,");
            }
            if (!st->ntimeframes) FAIL(e, "empty: e.g. timeframes = 1m 15m 1h");
            return 0;
        }
        if (strcmp(k, "order_type") == 0) {
            if (order_type_parse(e->value, &st->order_type) != 0 ||
                st->order_type == TB_ORDER_STOP_MARKET)
                FAIL(e, "'%s' must be MARKET or LIMIT", e->value);
            return 0;
        }
        if (strcmp(k, "limit_offset_bps") == 0)
            return get_dec(e, 0, bps - 1, &st->limit_offset_bps, err, errlen);
        if (strcmp(k, "emit_hold") == 0) return get_bool(e, &st->emit_hold, err, errlen);
        if (strcmp(k, "time_in_force") == 0) {
            char up[8];
            size_t n = strlen(e->value);
            for (size_t i = 0; i < n && i < sizeof(up) - 1; i++)
                up[i] = (char)toupper((unsigned char)e->value[i]);
            up[n < sizeof(up) - 1 ? n : sizeof(up) - 1] = 0;
            if (n >= sizeof(up) || tb_time_in_force_parse(up, &st->time_in_force) != 0)
                FAIL(e, "'%s' must be GTC, IOC or FOK", e->value);
            return 0;
        }
        if (strcmp(k, "expire_after_bars") == 0)
            return get_int(e, 0, 100000000, &st->expire_after_bars, err, errlen);
        if (strcmp(k, "on_new_signal") == 0) {
            if (strcasecmp(e->value, "replace") == 0)
                st->on_new_signal = TB_ON_SIGNAL_REPLACE;
            else if (strcasecmp(e->value, "keep") == 0)
                st->on_new_signal = TB_ON_SIGNAL_KEEP;
            else
                FAIL(e, "'%s' must be replace or keep", e->value);
            return 0;
        }
        if (strcmp(k, "stop_loss_pct") == 0)
            return get_pct(e, 100 * TB_DECIMAL_ONE - 1, &st->stop_loss_pct, err, errlen);
        if (strcmp(k, "take_profit_pct") == 0)
            return get_pct(e, 10000 * TB_DECIMAL_ONE, &st->take_profit_pct, err, errlen);
        if (strcmp(k, "trailing_stop_pct") == 0)
            return get_pct(e, 100 * TB_DECIMAL_ONE - 1, &st->trailing_stop_pct, err, errlen);
        if (strcmp(k, "size") == 0)
            return get_pct(e, 100 * TB_DECIMAL_ONE, &st->size_pct, err, errlen);
        if (strcmp(k, "risk_per_trade") == 0)
            return get_pct(e, 100 * TB_DECIMAL_ONE, &st->risk_per_trade_pct, err, errlen);
        /* Anything else belongs to the strategy, which checks it. */
        tb_param *np = realloc(st->params, (st->nparams + 1) * sizeof(*np));
        if (!np) return TB_ENOMEM;
        st->params = np;
        np[st->nparams].key = e->key; /* borrowed from the entry, freed with it */
        np[st->nparams].value = e->value;
        st->nparams++;
        return 0;
    } else if (strncmp(s, "component.", 10) == 0) {
        return tb__config_component_entry(cfg, e, err, errlen);
    } else {
        FAIL(e, "unknown section (known: backtest, exchange, orders, risk, bus, output, "
                "journal, live, symbol.SYM, strategy.ID, component.NAME)");
    }
    FAIL(e, "unknown key");
}

const tb_transport_type *tb_config_resolve_transport(const tb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nextra_transports; i++)
        if (strcasecmp(cfg->extra_transports[i]->name, name) == 0) return cfg->extra_transports[i];
    return tb_transport_builtin(name);
}

void tb_config_transport_params(const tb_config *cfg, const char *component,
                                tb_transport_params *out)
{
    memset(out, 0, sizeof(*out));
    out->run = cfg->bus_name ? cfg->bus_name : "tradebus";
    out->component = component;
    out->delivery_limit = cfg->bus_delivery_limit;
    out->params = cfg->bus_params;
    out->nparams = cfg->nbus_params;
}

const tb_strategy_vtable *tb_config_resolve_type(const tb_config *cfg, const char *type,
                                                 struct tb_legacy_adapter *adapter)
{
    for (size_t i = 0; i < cfg->nextra_types; i++)
        if (strcmp(cfg->extra_types[i]->name, type) == 0) return cfg->extra_types[i];
    if (strncmp(type, "legacy:", 7) == 0) {
        const tb_legacy_strategy *ls = tb_legacy_builtin(type + 7);
        if (!ls) return NULL;
        tb_legacy_adapter_init(adapter, ls);
        return &adapter->vt;
    }
    return tb_strategy_builtin(type);
}

/* A strategy's params are checked now, by building one instance, so the
 * error can name where the offending key was written. */
static int check_strategy_params(const tb_config *cfg, const tb_strategy_config *st, char *err,
                                 size_t errlen)
{
    tb_legacy_adapter ad;
    const tb_strategy_vtable *vt = tb_config_resolve_type(cfg, st->type, &ad);
    if (!vt) return 0;
    void *state = NULL;
    char msg[256] = "";
    int rc = vt->create(vt, st->params, st->nparams, &state, msg, sizeof(msg));
    if (rc == 0) {
        vt->destroy(state);
        return 0;
    }
    /* Strategies name the key first ("fast: ...") or quoted ("'fats'"). */
    char section[64];
    snprintf(section, sizeof(section), "strategy.%s", st->id);
    const char *origin = NULL;
    for (size_t i = 0; i < cfg->nentries && !origin; i++) {
        const tb_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) != 0) continue;
        size_t kl = strlen(e->key);
        char quoted[140];
        snprintf(quoted, sizeof(quoted), "'%s'", e->key);
        if ((strncmp(msg, e->key, kl) == 0 && msg[kl] == ':') || strstr(msg, quoted))
            origin = e->origin;
    }
    tb__errf(err, errlen, "%s%s[%s] %s", origin ? origin : "", origin ? ": " : "", section,
             msg[0] ? msg : tb_strerror(rc));
    return TB_ECONFIG;
}

/* The origin of [strategy.ID] key, or "" when it was not written. */
static const char *origin_of(const tb_config *cfg, const char *id, const char *key)
{
    char section[64];
    snprintf(section, sizeof(section), "strategy.%s", id);
    const char *o = "";
    for (size_t i = 0; i < cfg->nentries; i++)
        if (strcmp(cfg->entries[i].section, section) == 0 && strcmp(cfg->entries[i].key, key) == 0)
            o = cfg->entries[i].origin; /* the last one wins, as when building */
    return o;
}

/* Keys that only make sense together, checked once all are read. */
static int check_order_keys(const tb_config *cfg, const tb_strategy_config *st, char *err,
                            size_t errlen)
{
#define KEY_FAIL(key, ...)                                                                         \
    do {                                                                                           \
        char msg_[300];                                                                            \
        snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                                 \
        const char *o_ = origin_of(cfg, st->id, key);                                              \
        tb__errf(err, errlen, "%s%s[strategy.%s] %s: %s", o_, o_[0] ? ": " : "", st->id, key,      \
                 msg_);                                                                            \
        return TB_ECONFIG;                                                                         \
    } while (0)
    if (st->order_type != TB_ORDER_LIMIT && st->time_in_force != TB_TIF_GTC)
        KEY_FAIL("time_in_force", "%s applies to LIMIT orders (order_type is %s)",
                 tb_time_in_force_name(st->time_in_force), tb_order_type_name(st->order_type));
    if (st->order_type != TB_ORDER_LIMIT && st->expire_after_bars > 0)
        KEY_FAIL("expire_after_bars", "applies to LIMIT orders (order_type is %s)",
                 tb_order_type_name(st->order_type));
    if (st->time_in_force != TB_TIF_GTC && st->expire_after_bars > 0)
        KEY_FAIL("expire_after_bars", "applies to GTC orders (time_in_force is %s)",
                 tb_time_in_force_name(st->time_in_force));
    if (st->size_pct > 0 && st->risk_per_trade_pct > 0)
        KEY_FAIL("risk_per_trade", "set size or risk_per_trade, not both");
    if (st->stop_loss_pct > 0 && st->trailing_stop_pct > 0)
        KEY_FAIL("trailing_stop_pct",
                 "set stop_loss_pct or trailing_stop_pct, not both (a trailing stop starts "
                 "trailing_stop_pct from the entry)");
    if (st->risk_per_trade_pct > 0 && st->stop_loss_pct <= 0 && st->trailing_stop_pct <= 0)
        KEY_FAIL("risk_per_trade", "needs stop_loss_pct or trailing_stop_pct (the size is "
                                   "equity x risk / stop distance)");
    if (st->size_pct > 0 || st->risk_per_trade_pct > 0)
        for (size_t i = 0; i < st->nparams; i++)
            if (strcmp(st->params[i].key, "quantity") == 0)
                KEY_FAIL("quantity", "set quantity or %s, not both",
                         st->size_pct > 0 ? "size" : "risk_per_trade");
#undef KEY_FAIL
    return 0;
}

/* The shard ([bus] signal_shards) holding symbol: 1.., 0 = none. */
static size_t shard_of(const tb_config *cfg, const char *symbol)
{
    size_t n = strlen(symbol);
    for (size_t i = 0; i < cfg->bus_nshards; i++)
        for (const char *s = cfg->bus_signal_shards[i]; *s;) {
            size_t len = strcspn(s, ",");
            if (len == n && strncmp(s, symbol, n) == 0) return i + 1;
            s += len + (s[len] == ',');
        }
    return 0;
}

/* Each signal shard sees only its symbols' bars: a strategy whose symbols
 * were split between shards would run twice, each half blind. */
static int check_shards(const tb_config *cfg, const tb_strategy_config *st, char *err,
                        size_t errlen)
{
    if (!cfg->bus_nshards) return 0;
    const char *key = st->nsymbols > 1 ? "symbols" : "symbol";
    const char *o = origin_of(cfg, st->id, key);
    size_t first = shard_of(cfg, st->symbols[0]);
    for (size_t m = 0; m < st->nsymbols; m++) {
        size_t k = shard_of(cfg, st->symbols[m]);
        if (!k) {
            tb__errf(err, errlen,
                     "%s%s[strategy.%s] %s: %s is in no [bus] signal_shards shard, so no "
                     "process would see its bars; add it to one",
                     o, o[0] ? ": " : "", st->id, key, st->symbols[m]);
            return TB_ECONFIG;
        }
        if (k != first) {
            tb__errf(err, errlen,
                     "%s%s[strategy.%s] %s: %s is in [bus] signal_shards shard %zu and %s in "
                     "shard %zu; a strategy's symbols must share a shard",
                     o, o[0] ? ": " : "", st->id, key, st->symbols[0], first, st->symbols[m], k);
            return TB_ECONFIG;
        }
    }
    return 0;
}

int tb_config_build(tb_config *cfg, char *err, size_t errlen)
{
    if (cfg->built) return TB_EMISUSE;
    cfg->built = 1;
    int cli_data = cfg->ndata > 0;
    cfg->initial_cash = 10000 * TB_DECIMAL_ONE;
    tb_risk_config_init(&cfg->risk);
    cfg->on_bad_row = TB_BAD_ROW_FAIL;
    cfg->cache = 1;
    cfg->node_id = 1;
    cfg->max_retries = 2;
    cfg->ring_capacity = 1024;
    cfg->event_log = 1;
    cfg->fills = 1;
    cfg->report = 1;
    cfg->journal_sync = 1; /* TB_JOURNAL_SYNC_NORMAL */
    cfg->journal_commit_every = 1000;
    cfg->journal_commit_ms = 100;
    cfg->live_cancel_on_exit = 1;
    cfg->live_warmup_bars = -1;
    int xrc = resolve_exchange(cfg, err, errlen);
    if (xrc) return xrc;
    /* The run's transport type first: the [bus] keys of its own are kept
     * for it wherever they stand (a bad type is reported at its line). */
    cfg->transport = tb_transport_builtin("memory");
    for (size_t i = 0; i < cfg->nentries; i++) {
        const tb_config_entry *e = &cfg->entries[i];
        const tb_transport_type *tt = strcmp(e->section, "bus") == 0 && strcmp(e->key, "type") == 0
                                          ? tb_config_resolve_transport(cfg, e->value)
                                          : NULL;
        if (tt) cfg->transport = tt;
    }
    strategy_ix sx;
    memset(&sx, 0, sizeof(sx));
    if (tb__index_init(&sx.ix, 16) != 0) return TB_ENOMEM;
    for (size_t i = 0; i < cfg->nentries; i++) {
        int rc = build_entry(cfg, &sx, &cfg->entries[i], cli_data, err, errlen);
        if (rc) {
            tb__index_close(&sx.ix);
            free(sx.hash);
            return rc;
        }
    }
    tb__index_close(&sx.ix);
    free(sx.hash);
    cfg->risk.initial_equity = cfg->initial_cash;
    const tb_exchange_type *xt = cfg->exchange_type;
    if (xt->configure && (xrc = xt->configure(xt, cfg, err, errlen)) != 0) return xrc;
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        tb_strategy_config *st = &cfg->strategies[i];
        if (!st->type[0]) {
            tb__errf(err, errlen, "[strategy.%s] type: missing (e.g. type = sma_cross)", st->id);
            return TB_ECONFIG;
        }
        if (!st->symbol[0]) {
            tb__errf(err, errlen,
                     "[strategy.%s] symbol: missing (e.g. symbol = BTCUSDT, or symbols = BTCUSDT "
                     "ETHUSDT)",
                     st->id);
            return TB_ECONFIG;
        }
        /* A program that set symbol itself trades that one symbol. */
        if (!st->nsymbols) {
            memcpy(st->symbols[0], st->symbol, sizeof(st->symbol));
            st->nsymbols = 1;
        }
        int rc = check_order_keys(cfg, st, err, errlen);
        if (rc) return rc;
        if ((rc = check_shards(cfg, st, err, errlen)) != 0) return rc;
    }
    if (cfg->ndata == 0 && !cfg->live) {
        tb__errf(err, errlen,
                 "[backtest] data: no market data given (set it in the config or "
                 "pass --data FILE)");
        return TB_ECONFIG;
    }
    if (cfg->nstrategies == 0) {
        tb__errf(err, errlen, "no [strategy.ID] section: nothing would trade");
        return TB_ECONFIG;
    }
    for (size_t i = 0; i < cfg->nstrategies; i++) {
        int rc = check_strategy_params(cfg, &cfg->strategies[i], err, errlen);
        if (rc) return rc;
    }
    return tb__config_check_components(cfg, err, errlen);
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (h ^ 0xff) * 1099511628211ull; /* separator */
}

static int entry_cmp(const void *a, const void *b)
{
    const tb_config_entry *x = *(const tb_config_entry *const *)a,
                          *y = *(const tb_config_entry *const *)b;
    int c = strcmp(x->section, y->section);
    return c ? c : strcmp(x->key, y->key);
}

uint64_t tb_config_hash(const tb_config *cfg)
{
    uint64_t h = 14695981039346656037ull;
    const tb_config_entry **sorted = malloc((cfg->nentries + 1) * sizeof(*sorted));
    if (!sorted) return 0;
    for (size_t i = 0; i < cfg->nentries; i++)
        sorted[i] = &cfg->entries[i];
    qsort(sorted, cfg->nentries, sizeof(*sorted), entry_cmp);
    for (size_t i = 0; i < cfg->nentries; i++) {
        const tb_config_entry *e = sorted[i];
        /* Where the journal lives and which files are written change no event. */
        if (!strcmp(e->section, "journal") || !strcmp(e->section, "output")) continue;
        /* Nor does where the events travel (memory or a broker). */
        if (!strcmp(e->section, "bus") && strcmp(e->key, "max_retries") != 0 &&
            strcmp(e->key, "ring_capacity") != 0)
            continue;
        /* [backtest] data is hashed as the specs actually used, below. */
        if (!strcmp(e->section, "backtest") && !strcmp(e->key, "data")) continue;
        /* Bars from the cache are the parsed bars: a journal made with it
         * resumes without it, and the other way round. */
        if (!strcmp(e->section, "backtest") && !strcmp(e->key, "cache")) continue;
        h = fnv(fnv(fnv(h, e->section), e->key), e->value);
    }
    free(sorted);
    for (size_t i = 0; i < cfg->ndata; i++)
        h = fnv(h, cfg->data[i]);
    return h;
}

void tb_config_md_options(const tb_config *cfg, tb_md_config *out)
{
    tb_md_config_init(out);
    out->on_bad_row = cfg->on_bad_row;
    out->round_prices = cfg->round_prices;
    out->cache = cfg->cache;
}

void tb_config_free(tb_config *cfg)
{
    for (size_t i = 0; i < cfg->nentries; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->bus_params);
    free(cfg->bus_name);
    free(cfg->bus_state_dir);
    for (size_t i = 0; i < cfg->bus_nshards; i++)
        free(cfg->bus_signal_shards[i]);
    for (size_t i = 0; i < cfg->ndata; i++)
        free(cfg->data[i]);
    free(cfg->data);
    for (size_t i = 0; i < cfg->nstrategies; i++)
        free(cfg->strategies[i].params);
    free(cfg->strategies);
    for (size_t i = 0; i < cfg->ncomponents; i++)
        free(cfg->components[i].command);
    free(cfg->components);
    free(cfg->symbols);
    free(cfg->journal_path);
    free(cfg->live_interval);
    free(cfg->live_stream_url);
    free(cfg->live_rest_url);
    free(cfg->api_key_spec);
    free(cfg->api_secret_spec);
    memset(cfg, 0, sizeof(*cfg));
}
