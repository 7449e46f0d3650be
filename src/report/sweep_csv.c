/* sweep.csv read into a sweep table: RFC 4180 fields, the header checked,
 * every metric parsed, each parameter's distinct values ordered. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errbuf.h"
#include "sweep_int.h"

const char *const tb__sweep_metrics[TB__SWEEP_NMETRICS] = {
    "bars",   "trades",  "net_pnl",      "return_pct",    "fees",        "max_drawdown_pct",
    "sharpe", "sortino", "win_rate_pct", "profit_factor", "exposure_pct"};

static int read_all(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tb__errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return TB_EIO;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int rc = buf ? 0 : TB_ENOMEM;
    while (!rc) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = TB_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    if (!rc && ferror(f)) {
        tb__errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = TB_EIO;
    }
    fclose(f);
    if (rc) {
        if (rc == TB_ENOMEM) tb__errf(err, errlen, "%s: out of memory", path);
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* Grows *p (of *cap elements of size sz) to hold n + 1. */
static int grow(void *p, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *np = realloc(*(void **)p, nc * sz);
    if (!np) return TB_ENOMEM;
    *(void **)p = np;
    *cap = nc;
    return 0;
}

typedef struct {
    char *arena;   /* the unquoted fields, each NUL-terminated */
    size_t *start; /* per field: its offset in arena */
    unsigned *col; /* per field: its column in its line (bytes, from 1) */
    size_t nfields, capfields, capcol;
    size_t *first, *line; /* per record: its first field, the line it starts on */
    size_t nrec, caprec, capline;
} csv;

static void csv_free(csv *c)
{
    free(c->start);
    free(c->col);
    free(c->first);
    free(c->line);
}

static int rec_end(const char *b, size_t i, size_t len)
{
    return b[i] == '\n' || (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n');
}

/* Splits buf into records and fields (c->arena must hold len + 2 bytes:
 * unquoting only shrinks a field, and each but the last ends in a delimiter
 * its NUL replaces). A newline directly before the end ends the last record;
 * a blank line anywhere else is a record of one empty field. */
static int csv_parse(csv *c, const char *path, const char *b, size_t len, char *err, size_t errlen)
{
    size_t i = 0, line = 1, lstart = 0, o = 0;
    const char *nul = memchr(b, 0, len);
    if (nul) { /* the fields are C strings: a NUL would cut one short unseen */
        for (const char *p = b; p < nul; p++)
            if (*p == '\n') line++, lstart = (size_t)(p - b) + 1;
        tb__errf(err, errlen, "%s:%zu:%zu: a NUL byte (not a text file?)", path, line,
                 (size_t)(nul - b) - lstart + 1);
        return TB_EPARSE;
    }
    if (len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0) i = lstart = 3; /* a spreadsheet's BOM */
    while (i < len) {
        if (grow(&c->first, &c->caprec, c->nrec, sizeof(size_t)) ||
            grow(&c->line, &c->capline, c->nrec, sizeof(size_t)))
            return TB_ENOMEM;
        c->first[c->nrec] = c->nfields;
        c->line[c->nrec++] = line;
        for (;;) {
            if (grow(&c->start, &c->capfields, c->nfields, sizeof(size_t)) ||
                grow(&c->col, &c->capcol, c->nfields, sizeof(unsigned)))
                return TB_ENOMEM;
            c->start[c->nfields] = o;
            c->col[c->nfields++] = (unsigned)(i - lstart + 1);
            if (i < len && b[i] == '"') {
                size_t qline = line, qcol = i - lstart + 1;
                for (i++;; i++) {
                    if (i >= len) {
                        tb__errf(err, errlen, "%s:%zu:%zu: a quoted field is never closed", path,
                                 qline, qcol);
                        return TB_EPARSE;
                    }
                    if (b[i] == '"') {
                        if (i + 1 < len && b[i + 1] == '"') {
                            c->arena[o++] = '"';
                            i++;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (b[i] == '\n') line++, lstart = i + 1;
                    c->arena[o++] = b[i];
                }
                if (i < len && b[i] != ',' && !rec_end(b, i, len)) {
                    tb__errf(err, errlen, "%s:%zu:%zu: text after a closing quote", path, line,
                             i - lstart + 1);
                    return TB_EPARSE;
                }
            } else {
                for (; i < len && b[i] != ',' && !rec_end(b, i, len); i++) {
                    if (b[i] == '"') {
                        tb__errf(err, errlen,
                                 "%s:%zu:%zu: a quote inside an unquoted field (RFC 4180 "
                                 "quotes the whole field)",
                                 path, line, i - lstart + 1);
                        return TB_EPARSE;
                    }
                    c->arena[o++] = b[i];
                }
            }
            c->arena[o++] = 0;
            if (i < len && b[i] == ',') {
                i++;
                continue;
            }
            break;
        }
        if (i < len && b[i] == '\r') i++;
        if (i < len && b[i] == '\n') i++, line++, lstart = i;
    }
    return 0;
}

/* A plain decimal ("-12.5", "0.83412", "1e-3"): no hex, inf or nan. */
static int plain_number(const char *s, double *out)
{
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p)) return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int by_value(const void *a, const void *b)
{
    const tb__sweep_value *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->seen < y->seen ? -1 : x->seen > y->seen;
}

/* Each parameter's distinct values (numbers compare by value, so "5" and
 * "5.0" are one; words by spelling), and each row's index among them. */
static int index_values(tb__sweep *s)
{
    for (size_t p = 0; p < s->nparams; p++) {
        tb__sweep_param *pr = &s->params[p];
        pr->numeric = s->nrows > 0;
        for (size_t r = 0; r < s->nrows && pr->numeric; r++) {
            double v;
            pr->numeric = plain_number(s->rows[r].f[p], &v);
        }
        size_t cap = 0;
        for (size_t r = 0; r < s->nrows; r++) {
            const char *str = s->rows[r].f[p];
            double v = 0;
            if (pr->numeric) plain_number(str, &v);
            size_t k = 0;
            for (; k < pr->nvals; k++)
                if (pr->numeric ? pr->vals[k].v == v : strcmp(pr->vals[k].s, str) == 0) break;
            if (k == pr->nvals) {
                if (grow(&pr->vals, &cap, pr->nvals, sizeof(*pr->vals))) return TB_ENOMEM;
                pr->vals[pr->nvals] = (tb__sweep_value){str, v, pr->nvals};
                pr->nvals++;
            }
            s->vi[r * s->nparams + p] = k;
        }
        if (!pr->numeric || pr->nvals < 2) continue;
        size_t *map = malloc(pr->nvals * sizeof(*map));
        if (!map) return TB_ENOMEM;
        qsort(pr->vals, pr->nvals, sizeof(*pr->vals), by_value);
        for (size_t k = 0; k < pr->nvals; k++)
            map[pr->vals[k].seen] = k;
        for (size_t r = 0; r < s->nrows; r++)
            s->vi[r * s->nparams + p] = map[s->vi[r * s->nparams + p]];
        free(map);
    }
    return 0;
}

static int by_rank(const void *a, const void *b)
{
    const tb__sweep_row *x = *(const tb__sweep_row *const *)a,
                        *y = *(const tb__sweep_row *const *)b;
    if (x->ok != y->ok) return x->ok ? -1 : 1;
    if (x->ok && x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->grid < y->grid ? -1 : x->grid > y->grid;
}

static int check_header(tb__sweep *s, const csv *c, char *err, size_t errlen)
{
    const char *path = s->path;
    size_t n = c->nrec > 1 ? c->first[1] : c->nfields;
    const char *h[TB__SWEEP_NMETRICS + 1];
    for (size_t k = 0; k < TB__SWEEP_NMETRICS + 1; k++) {
        const char *want = k < TB__SWEEP_NMETRICS ? tb__sweep_metrics[k] : "error";
        h[k] = want;
        size_t at = 0;
        while (at < n && strcmp(c->arena + c->start[at], want) != 0)
            at++;
        if (at == n) {
            tb__errf(err, errlen, "%s:1: missing metric column '%s'", path, want);
            return TB_EPARSE;
        }
    }
    s->ncols = s->nparams + TB__SWEEP_NMETRICS + 1;
    if (n != s->ncols) {
        tb__errf(err, errlen,
                 "%s:1: %zu columns, expected %zu: the %zu parameters, then "
                 "bars,trades,...,exposure_pct,error",
                 path, n, s->ncols, s->nparams);
        return TB_EPARSE;
    }
    for (size_t k = 0; k < s->ncols; k++) {
        const char *name = c->arena + c->start[k];
        if (k >= s->nparams) {
            if (strcmp(name, h[k - s->nparams]) != 0) {
                tb__errf(err, errlen, "%s:1:%u: column %zu is '%s', expected '%s'", path, c->col[k],
                         k + 1, name, h[k - s->nparams]);
                return TB_EPARSE;
            }
            continue;
        }
        if (!*name) {
            tb__errf(err, errlen, "%s:1:%u: parameter %zu has no name", path, c->col[k], k + 1);
            return TB_EPARSE;
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(name, c->arena + c->start[j]) == 0) {
                tb__errf(err, errlen, "%s:1:%u: parameter '%s' appears twice", path, c->col[k],
                         name);
                return TB_EPARSE;
            }
        s->params[k].name = name;
    }
    s->obj = -1;
    for (size_t k = 0; k < TB__SWEEP_NMETRICS; k++)
        if (strcmp(s->objective, tb__sweep_metrics[k]) == 0) s->obj = (int)k;
    if (s->obj < 0) {
        tb__errf(err, errlen,
                 "%s:1: unknown objective '%s': not one of the metric columns "
                 "(bars,trades,net_pnl,return_pct,fees,max_drawdown_pct,sharpe,sortino,"
                 "win_rate_pct,profit_factor,exposure_pct)",
                 path, s->objective);
        return TB_EINVAL;
    }
    s->lower = strcmp(s->objective, "max_drawdown_pct") == 0 || strcmp(s->objective, "fees") == 0;
    return 0;
}

static int load_rows(tb__sweep *s, const csv *c, char *err, size_t errlen)
{
    for (size_t r = 0; r < s->nrows; r++) {
        tb__sweep_row *row = &s->rows[r];
        size_t first = c->first[r + 1], end = r + 2 < c->nrec ? c->first[r + 2] : c->nfields;
        row->line = c->line[r + 1];
        row->grid = r;
        if (end - first != s->ncols) {
            tb__errf(err, errlen, "%s:%zu: %zu fields, expected %zu (as in the header)", s->path,
                     row->line, end - first, s->ncols);
            return TB_EPARSE;
        }
        for (size_t k = 0; k < s->ncols; k++)
            s->fields[first + k] = c->arena + c->start[first + k];
        row->f = &s->fields[first];
        for (size_t m = 0; m < TB__SWEEP_NMETRICS; m++) {
            size_t k = s->nparams + m;
            const char *v = row->f[k];
            if (!*v) continue;
            if (!plain_number(v, &row->m[m])) {
                tb__errf(err, errlen, "%s:%zu:%u: %s is '%s', not a number", s->path, row->line,
                         c->col[first + k], tb__sweep_metrics[m], v);
                return TB_EPARSE;
            }
            row->has[m] = 1;
        }
        row->failed = *row->f[s->ncols - 1] != 0;
        row->ok = !row->failed && row->has[s->obj];
        row->key = s->lower ? -row->m[s->obj] : row->m[s->obj];
        if (row->failed)
            s->nfailed++;
        else if (!row->ok)
            s->nundef++;
        else
            s->nok++;
        s->order[r] = row;
    }
    qsort(s->order, s->nrows, sizeof(*s->order), by_rank);
    return 0;
}

int tb__sweep_load(tb__sweep *s, const char *csv_path, const char *objective, size_t nparams,
                   char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->path = csv_path;
    s->objective = objective;
    s->nparams = nparams;
    size_t len;
    int rc = read_all(csv_path, &s->buf, &len, err, errlen);
    if (rc) return rc;
    csv c = {0};
    c.arena = s->arena = malloc(len + 2);
    if (!c.arena) rc = TB_ENOMEM;
    if (!rc) rc = csv_parse(&c, csv_path, s->buf, len, err, errlen);
    if (!rc && c.nrec == 0) {
        tb__errf(err, errlen, "%s:1: empty: no header row", csv_path);
        rc = TB_EPARSE;
    }
    if (!rc && nparams > c.nfields) {
        tb__errf(err, errlen, "%s:1: %zu parameters but the header has fewer columns", csv_path,
                 nparams);
        rc = TB_EPARSE;
    }
    if (!rc) {
        s->params = calloc(nparams + 1, sizeof(*s->params));
        if (!s->params) rc = TB_ENOMEM;
    }
    if (!rc) rc = check_header(s, &c, err, errlen);
    if (!rc) {
        s->nrows = c.nrec - 1;
        /* + 1: a header without rows still allocates (NULL means no memory) */
        s->rows = calloc(s->nrows + 1, sizeof(*s->rows));
        s->order = calloc(s->nrows + 1, sizeof(*s->order));
        s->fields = calloc(c.nfields + 1, sizeof(*s->fields));
        s->vi = calloc(s->nrows * nparams + 1, sizeof(*s->vi));
        if (!s->rows || !s->order || !s->fields || !s->vi) rc = TB_ENOMEM;
    }
    if (!rc) rc = load_rows(s, &c, err, errlen);
    if (!rc) rc = index_values(s);
    if (rc == TB_ENOMEM) tb__errf(err, errlen, "%s: out of memory", csv_path);
    csv_free(&c);
    if (rc) tb__sweep_free(s);
    return rc;
}

void tb__sweep_free(tb__sweep *s)
{
    if (s->params)
        for (size_t p = 0; p < s->nparams; p++)
            free(s->params[p].vals);
    free(s->params);
    free(s->rows);
    free(s->order);
    free(s->fields);
    free(s->vi);
    free(s->arena);
    free(s->buf);
    memset(s, 0, sizeof(*s));
}
