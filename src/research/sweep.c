/* Parameter sweeps (tradebus/sweep.h): the grid, the where filter, the
 * worker threads and sweep.csv.
 *
 * Each combination is a whole tb_backtest_run on its own config, built the
 * way the CLI builds `backtest --set`: the file, the base --set, --data,
 * then the combination's values. The runs share only the market data,
 * read once into one array (read-only while the workers run), and their
 * report figures come from the same replay report.html uses, fed the
 * run's events in memory instead of from events.jsonl. So a row is what
 * `tradebus backtest` with those --set values gives, whatever the number
 * of threads: workers take combinations from a shared counter, and each
 * row is stored at its own index. */
#define _POSIX_C_SOURCE 200809L
#include "tradebus/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../components/monitor_int.h"
#include "../core/errbuf.h"
#include "../engine/pipeline_int.h"
#include "../report/report_int.h"
#include "../report/sweep_int.h"
#include "tradebus/backtest.h"
#include "tradebus/config.h"
#include "tradebus/timefmt.h"

/* ---- parameters --------------------------------------------------------- */

static int add_value(tb_sweep_param *p, const char *s, size_t len)
{
    if (p->nvalues == TB_SWEEP_MAX_VALUES) return TB_ERANGE;
    char **nv = realloc(p->values, (p->nvalues + 1) * sizeof(*nv));
    if (!nv) return TB_ENOMEM;
    p->values = nv;
    char *v = malloc(len + 1);
    if (!v) return TB_ENOMEM;
    memcpy(v, s, len);
    v[len] = 0;
    p->values[p->nvalues++] = v;
    return 0;
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

/* a:b:step, inclusive, in exact decimals. */
static int parse_range(const char *arg, const char *v, tb_sweep_param *p, char *err, size_t errlen)
{
    const char *c1 = strchr(v, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    tb_decimal a, b, step;
    if (!c2 || strchr(c2 + 1, ':') || tb_dec_parse(v, (size_t)(c1 - v), &a) != 0 ||
        tb_dec_parse(c1 + 1, (size_t)(c2 - c1 - 1), &b) != 0 ||
        tb_dec_parse(c2 + 1, strlen(c2 + 1), &step) != 0) {
        tb__errf(err, errlen, "--param %s: expected KEY=FROM:TO:STEP with numbers (e.g. 5:50:5)",
                 arg);
        return TB_EINVAL;
    }
    if (step <= 0 || b < a) {
        tb__errf(err, errlen, "--param %s: needs STEP > 0 and FROM <= TO", arg);
        return TB_EINVAL;
    }
    if ((b - a) / step >= TB_SWEEP_MAX_VALUES) {
        tb__errf(err, errlen, "--param %s: more than %d values", arg, TB_SWEEP_MAX_VALUES);
        return TB_ERANGE;
    }
    for (tb_decimal x = a; x <= b; x += step) {
        char buf[TB_DECIMAL_STRLEN];
        int n = tb_dec_format(x, buf, sizeof(buf));
        int rc = add_value(p, buf, (size_t)n);
        if (rc) return rc;
        if (x > INT64_MAX - step) break;
    }
    return 0;
}

int tb_sweep_param_parse(const char *arg, tb_sweep_param *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq || eq == arg || !eq[1]) {
        tb__errf(err, errlen,
                 "--param %s: expected KEY=FROM:TO:STEP or KEY=V1,V2,... "
                 "(e.g. strategy.trend.fast=5:50:5)",
                 arg ? arg : "");
        return TB_EINVAL;
    }
    size_t klen = (size_t)(eq - arg);
    if (klen >= sizeof(p->key) || !memchr(arg, '.', klen)) {
        tb__errf(err, errlen, "--param %s: the key must be SECTION.KEY as --set takes it", arg);
        return TB_EINVAL;
    }
    memcpy(p->key, arg, klen);
    p->key[klen] = 0;
    const char *v = eq + 1;
    int rc = 0;
    if (strchr(v, ':')) {
        rc = parse_range(arg, v, p, err, errlen);
    } else {
        while (!rc) {
            size_t len = strcspn(v, ",");
            while (len && isspace((unsigned char)*v))
                v++, len--;
            size_t l2 = len;
            while (l2 && isspace((unsigned char)v[l2 - 1]))
                l2--;
            if (!l2 || is_blank(v, l2)) {
                tb__errf(err, errlen, "--param %s: an empty value", arg);
                rc = TB_EINVAL;
                break;
            }
            for (size_t i = 0; i < p->nvalues && !rc; i++)
                if (strlen(p->values[i]) == l2 && strncmp(p->values[i], v, l2) == 0) {
                    tb__errf(err, errlen, "--param %s: value '%.*s' listed twice", arg, (int)l2, v);
                    rc = TB_EINVAL;
                }
            if (!rc) rc = add_value(p, v, l2);
            if (!v[len]) break;
            v += len + 1;
        }
        if (rc == TB_ERANGE)
            tb__errf(err, errlen, "--param %s: more than %d values", arg, TB_SWEEP_MAX_VALUES);
    }
    if (rc) tb_sweep_param_free(p);
    return rc;
}

void tb_sweep_param_free(tb_sweep_param *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nvalues; i++)
        free(p->values[i]);
    free(p->values);
    p->values = NULL;
    p->nvalues = 0;
}

/* walkforward.csv's columns before the parameters', and after them past
 * in_sample_OBJECTIVE (tb_wf_write_csv writes them; reserved_name keeps a
 * parameter from taking one of their names). */
static const char *const wf_head[] = {"window", "train_from", "train_to", "test_from", "test_to"};
static const char *const wf_tail[] = {"test_bars",
                                      "test_trades",
                                      "test_net_pnl",
                                      "test_return_pct",
                                      "test_max_drawdown_pct",
                                      "test_fees",
                                      "equity_start",
                                      "equity_end",
                                      "error"};
#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* 1 if a column of sweep.csv or walkforward.csv other than a parameter's
 * has this name: a parameter named so (risk.max_drawdown_pct, a Lua
 * strategy's window) is given its whole key, or a table read by name
 * (pandas, the CSV's own reader) would find two columns. */
static int reserved_name(const char *name)
{
    for (size_t m = 0; m < TB__SWEEP_NMETRICS; m++)
        if (strcmp(name, tb__sweep_metrics[m]) == 0) return 1;
    for (size_t m = 0; m < NCOLS(wf_head); m++)
        if (strcmp(name, wf_head[m]) == 0) return 1;
    for (size_t m = 0; m < NCOLS(wf_tail); m++)
        if (strcmp(name, wf_tail[m]) == 0) return 1;
    return strncmp(name, "in_sample_", 10) == 0;
}

int tb_sweep_param_names(tb_sweep_param *params, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(params[i].key, params[j].key) == 0) {
                tb__errf(err, errlen, "--param %s is given twice", params[i].key);
                return TB_EINVAL;
            }
    for (size_t i = 0; i < n; i++) {
        const char *last = strrchr(params[i].key, '.');
        last = last ? last + 1 : params[i].key;
        int shared = reserved_name(last);
        for (size_t j = 0; j < n && !shared; j++) {
            const char *o = strrchr(params[j].key, '.');
            shared = j != i && strcmp(o ? o + 1 : params[j].key, last) == 0;
        }
        snprintf(params[i].name, sizeof(params[i].name), "%s", shared ? params[i].key : last);
    }
    return 0;
}

/* ---- where -------------------------------------------------------------- */

typedef enum { W_CMP, W_AND, W_OR, W_NOT } wkind;
typedef enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE } wop;

/* An operand: a parameter (param >= 0) or a literal. */
typedef struct {
    int param;
    char text[64];
    int is_num;
    tb_decimal num;
} woperand;

typedef struct {
    wkind kind;
    wop op;
    woperand a, b;
    int l, r; /* children (node indexes) */
} wnode;

struct tb_sweep_where {
    wnode *nodes;
    size_t n, cap;
    int root;
};

typedef struct {
    const char *s, *p;
    const tb_sweep_param *params;
    size_t nparams;
    tb_sweep_where *w;
    char *err;
    size_t errlen;
    int rc;
} wparser;

static void skip_ws(wparser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static int wfail(wparser *ps, const char *what)
{
    if (!ps->rc) {
        tb__errf(ps->err, ps->errlen, "--where '%s': %s at column %d", ps->s, what,
                 (int)(ps->p - ps->s) + 1);
        ps->rc = TB_EINVAL;
    }
    return -1;
}

static int new_node(wparser *ps, wnode nd)
{
    tb_sweep_where *w = ps->w;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        wnode *nn = realloc(w->nodes, nc * sizeof(*nn));
        if (!nn) {
            ps->rc = TB_ENOMEM;
            return -1;
        }
        w->nodes = nn;
        w->cap = nc;
    }
    w->nodes[w->n] = nd;
    return (int)w->n++;
}

/* A word: and / or / not, or a name. */
static int word_is(const wparser *ps, const char *w)
{
    size_t n = strlen(w);
    return strncmp(ps->p, w, n) == 0 && !isalnum((unsigned char)ps->p[n]) && ps->p[n] != '_' &&
           ps->p[n] != '.';
}

/* 1 if text (len bytes) is key itself or key's end after one of its dots:
 * strategy.btc.fast, btc.fast and fast for strategy.btc.fast; not tc.fast. */
static int names_key(const char *key, const char *text, size_t len)
{
    size_t kl = strlen(key);
    return kl >= len && strcmp(key + kl - len, text) == 0 &&
           (kl == len || key[kl - len - 1] == '.');
}

static int operand(wparser *ps, woperand *o)
{
    skip_ws(ps);
    memset(o, 0, sizeof(*o));
    o->param = -1;
    const char *start = ps->p;
    if (*ps->p == '"' || *ps->p == '\'') {
        char q = *ps->p++;
        const char *e = strchr(ps->p, q);
        if (!e || e - ps->p >= (long)sizeof(o->text)) return wfail(ps, "an unterminated string");
        memcpy(o->text, ps->p, (size_t)(e - ps->p));
        ps->p = e + 1;
        return 0;
    }
    while (isalnum((unsigned char)*ps->p) || (*ps->p && strchr("._-+", *ps->p)))
        ps->p++;
    size_t len = (size_t)(ps->p - start);
    if (!len || len >= sizeof(o->text)) return wfail(ps, "expected a parameter or a number");
    memcpy(o->text, start, len);
    /* A parameter by its column name, its key, or the end of its key after
     * a dot (btc_sma.fast) when that names only one. */
    size_t nmatch = 0;
    int match = -1;
    for (size_t i = 0; i < ps->nparams && o->param < 0; i++)
        if (strcmp(ps->params[i].name, o->text) == 0) o->param = (int)i;
    for (size_t i = 0; i < ps->nparams && o->param < 0; i++)
        if (names_key(ps->params[i].key, o->text, len)) {
            nmatch++;
            match = (int)i;
        }
    if (o->param < 0 && nmatch > 1) {
        char list[512];
        size_t at = 0;
        for (size_t i = 0; i < ps->nparams; i++) {
            if (names_key(ps->params[i].key, o->text, len))
                at += (size_t)snprintf(list + at, at < sizeof(list) ? sizeof(list) - at : 0, "%s%s",
                                       at ? " or " : "", ps->params[i].key);
            if (at >= sizeof(list)) at = sizeof(list) - 1;
        }
        char what[700];
        snprintf(what, sizeof(what), "'%s' could be %s: write more of the key", o->text, list);
        ps->p = start;
        return wfail(ps, what);
    }
    if (o->param < 0 && nmatch == 1) o->param = match;
    if (o->param < 0) {
        o->is_num = tb_dec_parse(o->text, len, &o->num) == 0;
        if (!o->is_num) {
            char list[512], what[700];
            size_t at = 0;
            for (size_t i = 0; i < ps->nparams; i++) {
                at += (size_t)snprintf(list + at, at < sizeof(list) ? sizeof(list) - at : 0, "%s%s",
                                       at ? ", " : "", ps->params[i].name);
                if (at >= sizeof(list)) at = sizeof(list) - 1;
            }
            snprintf(what, sizeof(what), "'%s' is not a swept parameter (%s) nor a number", o->text,
                     list);
            ps->p = start;
            return wfail(ps, what);
        }
    }
    return 0;
}

static int parse_or(wparser *ps);

static int parse_primary(wparser *ps)
{
    skip_ws(ps);
    if (*ps->p == '(') {
        ps->p++;
        int n = parse_or(ps);
        skip_ws(ps);
        if (n < 0) return n;
        if (*ps->p != ')') return wfail(ps, "expected ')'");
        ps->p++;
        return n;
    }
    if (word_is(ps, "not")) {
        ps->p += 3;
        int c = parse_primary(ps);
        if (c < 0) return c;
        wnode nd = {W_NOT, OP_EQ, {0}, {0}, c, -1};
        return new_node(ps, nd);
    }
    wnode nd;
    memset(&nd, 0, sizeof(nd));
    nd.kind = W_CMP;
    if (operand(ps, &nd.a) < 0) return -1;
    skip_ws(ps);
    static const struct {
        const char *s;
        wop op;
    } ops[] = {{"<=", OP_LE}, {">=", OP_GE}, {"==", OP_EQ}, {"!=", OP_NE},
               {"<", OP_LT},  {">", OP_GT},  {"=", OP_EQ}};
    size_t k = 0;
    while (k < sizeof(ops) / sizeof(ops[0]) && strncmp(ps->p, ops[k].s, strlen(ops[k].s)) != 0)
        k++;
    if (k == sizeof(ops) / sizeof(ops[0])) return wfail(ps, "expected < <= > >= == or !=");
    nd.op = ops[k].op;
    ps->p += strlen(ops[k].s);
    if (operand(ps, &nd.b) < 0) return -1;
    if (nd.a.param < 0 && nd.b.param < 0) return wfail(ps, "compares two constants");
    return new_node(ps, nd);
}

static int parse_and(wparser *ps)
{
    int l = parse_primary(ps);
    for (;;) {
        if (l < 0) return l;
        skip_ws(ps);
        if (!word_is(ps, "and") && strncmp(ps->p, "&&", 2) != 0) return l;
        ps->p += *ps->p == '&' ? 2 : 3;
        int r = parse_primary(ps);
        if (r < 0) return r;
        wnode nd = {W_AND, OP_EQ, {0}, {0}, l, r};
        l = new_node(ps, nd);
    }
}

static int parse_or(wparser *ps)
{
    int l = parse_and(ps);
    for (;;) {
        if (l < 0) return l;
        skip_ws(ps);
        if (!word_is(ps, "or") && strncmp(ps->p, "||", 2) != 0) return l;
        ps->p += *ps->p == '|' ? 2 : 2;
        int r = parse_and(ps);
        if (r < 0) return r;
        wnode nd = {W_OR, OP_EQ, {0}, {0}, l, r};
        l = new_node(ps, nd);
    }
}

int tb_sweep_where_compile(const char *expr, const tb_sweep_param *params, size_t n,
                           tb_sweep_where **out, char *err, size_t errlen)
{
    *out = NULL;
    tb_sweep_where *w = calloc(1, sizeof(*w));
    if (!w) return TB_ENOMEM;
    wparser ps = {expr, expr, params, n, w, err, errlen, 0};
    w->root = parse_or(&ps);
    skip_ws(&ps);
    if (!ps.rc && *ps.p) wfail(&ps, "unexpected text");
    if (ps.rc) {
        tb_sweep_where_free(w);
        return ps.rc;
    }
    *out = w;
    return 0;
}

static int cmp_operands(const woperand *a, const woperand *b, const tb_sweep_param *params,
                        const size_t *idx, wop op)
{
    const char *sa = a->param >= 0 ? params[a->param].values[idx[a->param]] : a->text;
    const char *sb = b->param >= 0 ? params[b->param].values[idx[b->param]] : b->text;
    tb_decimal x, y;
    int nx = a->param >= 0 ? tb_dec_parse(sa, strlen(sa), &x) == 0 : (x = a->num, a->is_num);
    int ny = b->param >= 0 ? tb_dec_parse(sb, strlen(sb), &y) == 0 : (y = b->num, b->is_num);
    int c;
    if (nx && ny)
        c = x < y ? -1 : x > y;
    else if (op == OP_EQ || op == OP_NE)
        c = strcmp(sa, sb) != 0;
    else
        return 0; /* text has no order: the comparison is false */
    switch (op) {
    case OP_LT:
        return c < 0;
    case OP_LE:
        return c <= 0;
    case OP_GT:
        return c > 0;
    case OP_GE:
        return c >= 0;
    case OP_EQ:
        return c == 0;
    default:
        return c != 0;
    }
}

static int eval_node(const tb_sweep_where *w, int i, const tb_sweep_param *params,
                     const size_t *idx)
{
    const wnode *nd = &w->nodes[i];
    switch (nd->kind) {
    case W_AND:
        return eval_node(w, nd->l, params, idx) && eval_node(w, nd->r, params, idx);
    case W_OR:
        return eval_node(w, nd->l, params, idx) || eval_node(w, nd->r, params, idx);
    case W_NOT:
        return !eval_node(w, nd->l, params, idx);
    default:
        return cmp_operands(&nd->a, &nd->b, params, idx, nd->op);
    }
}

int tb_sweep_where_eval(const tb_sweep_where *w, const tb_sweep_param *params, const size_t *idx)
{
    return !w || w->root < 0 ? 1 : eval_node(w, w->root, params, idx);
}

void tb_sweep_where_free(tb_sweep_where *w)
{
    if (!w) return;
    free(w->nodes);
    free(w);
}

/* ---- the plan ----------------------------------------------------------- */

/* The value indexes of combination c, the first parameter slowest. */
static void decode(const tb_sweep_param *params, size_t n, size_t c, size_t *idx)
{
    for (size_t k = n; k-- > 0;) {
        idx[k] = c % params[k].nvalues;
        c /= params[k].nvalues;
    }
}

const char *tb_sweep_value(const tb_sweep_param *params, size_t nparams, size_t combination,
                           size_t k)
{
    size_t idx[TB_SWEEP_MAX_PARAMS];
    if (nparams > TB_SWEEP_MAX_PARAMS || k >= nparams) return "";
    decode(params, nparams, combination, idx);
    return params[k].values[idx[k]];
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int by_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int tb_sweep_plan(const tb_sweep_options *opt, tb_sweep_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    if (!opt->nparams || opt->nparams > TB_SWEEP_MAX_PARAMS) {
        tb__errf(err, errlen, "a sweep needs 1 to %d --param", TB_SWEEP_MAX_PARAMS);
        return TB_EINVAL;
    }
    size_t grid = 1;
    for (size_t k = 0; k < opt->nparams; k++) {
        if (!opt->params[k].nvalues) return TB_EINVAL;
        if (grid > (size_t)100000000 / opt->params[k].nvalues) {
            tb__errf(err, errlen, "the grid has more than 100000000 combinations: use --random N");
            return TB_ERANGE;
        }
        grid *= opt->params[k].nvalues;
    }
    tb_sweep_where *w = NULL;
    int rc = 0;
    if (opt->where && opt->where[0] &&
        (rc = tb_sweep_where_compile(opt->where, opt->params, opt->nparams, &w, err, errlen)) != 0)
        return rc;
    size_t *sel = NULL, nsel = 0, cap = 0;
    size_t idx[TB_SWEEP_MAX_PARAMS];
    for (size_t c = 0; c < grid && !rc; c++) {
        decode(opt->params, opt->nparams, c, idx);
        if (!tb_sweep_where_eval(w, opt->params, idx)) continue;
        if (nsel == cap) {
            size_t nc = cap ? cap * 2 : 256;
            size_t *ns = realloc(sel, nc * sizeof(*ns));
            if (!ns) {
                rc = TB_ENOMEM;
                break;
            }
            sel = ns;
            cap = nc;
        }
        sel[nsel++] = c;
    }
    tb_sweep_where_free(w);
    if (!rc && nsel == 0) {
        tb__errf(err, errlen, "--where leaves no combination of the %zu", grid);
        rc = TB_EINVAL;
    }
    if (!rc && opt->random && opt->random < nsel) {
        /* A partial Fisher-Yates with the seed, then back to grid order. */
        uint64_t s = opt->seed;
        for (size_t i = 0; i < opt->random; i++) {
            size_t j = i + (size_t)(splitmix(&s) % (uint64_t)(nsel - i));
            size_t t = sel[i];
            sel[i] = sel[j];
            sel[j] = t;
        }
        nsel = opt->random;
        qsort(sel, nsel, sizeof(*sel), by_size);
    }
    if (!rc && nsel > TB_SWEEP_MAX_COMBINATIONS) {
        tb__errf(err, errlen, "%zu combinations: more than %d; narrow the grid or use --random N",
                 nsel, TB_SWEEP_MAX_COMBINATIONS);
        rc = TB_ERANGE;
    }
    if (!rc && !(res->rows = calloc(nsel, sizeof(*res->rows)))) rc = TB_ENOMEM;
    if (rc) {
        free(sel);
        return rc;
    }
    for (size_t i = 0; i < nsel; i++)
        res->rows[i].combination = sel[i];
    res->nrows = nsel;
    res->grid = grid;
    free(sel);
    return 0;
}

/* ---- one combination ---------------------------------------------------- */

/* The config of the CLI's `backtest --config F --set ... --data ...`, plus
 * the combination's values (last, so they win). */
static int build_config(const tb_sweep_options *opt, const tb_sweep_row *row, const char *extra,
                        tb_config *cfg, char *err, size_t errlen)
{
    tb_config_init(cfg);
    int rc = 0;
    if (opt->config_path) rc = tb_config_load(cfg, opt->config_path, err, errlen);
    for (size_t i = 0; i < opt->nsets && !rc; i++)
        rc = tb_config_set(cfg, opt->sets[i], err, errlen);
    if (row) {
        size_t idx[TB_SWEEP_MAX_PARAMS];
        decode(opt->params, opt->nparams, row->combination, idx);
        for (size_t k = 0; k < opt->nparams && !rc; k++) {
            char a[512];
            snprintf(a, sizeof(a), "%s=%s", opt->params[k].key, opt->params[k].values[idx[k]]);
            rc = tb_config_set(cfg, a, err, errlen);
        }
    }
    if (extra && !rc) rc = tb_config_set(cfg, extra, err, errlen);
    for (size_t i = 0; i < opt->ndata && !rc; i++)
        rc = tb_config_add_data(cfg, opt->data[i]);
    if (!rc) rc = tb_config_build(cfg, err, errlen);
    return rc;
}

/* The row's figures come from the Monitor's own replay of the run (the one
 * that writes trades.csv in a backtest), made lean to keep the account's
 * curve in the row's arrays, and taken over once the run is done: a second
 * replay beside it cost a sixth of a row. */
typedef struct {
    tb__report r;
    int64_t *t;
    tb_decimal *eq;
    size_t cap;
    int taken, finished, rc;
} collector;

static int collect_start(tb_pipeline *p, void *ctx)
{
    collector *c = ctx;
    tb_monitor *m = tb__pipeline_monitor(p);
    return m ? tb__monitor_keep_replay(m, 1, c->t, c->eq, c->cap) : TB_ESTATE;
}

static void collect_stop(tb_pipeline *p, void *ctx)
{
    collector *c = ctx;
    tb_monitor *m = tb__pipeline_monitor(p);
    if (!m) return;
    c->rc = tb__monitor_take_replay(m, &c->r, &c->finished);
    c->taken = 1;
}

/* The figures of the whole account, as report.html computes them. */
static int report_figures(collector *c, tb_sweep_row *row)
{
    tb__report *r = &c->r;
    int rc = c->rc ? c->rc : c->finished ? 0 : TB_ESTATE;
    if (rc) return rc;
    if (r->npts == 0) return 0; /* no bar: nothing to rate */
    tb_decimal realized = 0;
    for (size_t i = 0; i < r->nkeys && !rc; i++) {
        rc = tb_dec_add(realized, r->keys[i].past_realized, &realized);
        if (!rc) rc = tb_dec_add(realized, r->keys[i].life_realized, &realized);
    }
    r->realized = realized;
    if (!rc) rc = tb__report_stats_account(r);
    if (rc) return rc;
    row->ratios = r->all.ratios;
    row->sharpe = r->all.sharpe;
    row->sortino = r->all.sortino;
    row->profit_factor = r->all.profit_factor;
    row->exposure_pct = r->all.exposure_pct;
    return 0;
}

/* How a row is run beyond the sweep's own options (walk-forward's test
 * parts): one more --set, a warm-up before trade_from, the equity curve
 * from curve_from on. */
typedef struct {
    const char *extra;
    int64_t trade_from;
    FILE *curve;
    int64_t curve_from;
} row_extra;

/* A row's equity curve (one point per bar at most), kept by its worker from
 * row to row: a fresh one per row was megabytes mapped, faulted in and
 * unmapped each time, and with two workers the unmapping interrupted the
 * other core too. Its owner frees t and eq. */
typedef struct {
    int64_t *t;
    tb_decimal *eq;
    size_t cap;
} row_curve;

/* Takes the row's curve back into keep: from the replay taken over, which
 * may have moved it as it grew, or as lent if the run never started. */
static void give_back(collector *c, row_curve *keep)
{
    keep->t = c->taken ? c->r.t : c->t;
    keep->eq = c->taken ? c->r.eq : c->eq;
    keep->cap = keep->t && keep->eq ? (c->taken ? c->r.cappts : c->cap) : 0;
    c->r.t = NULL;
    c->r.eq = NULL;
}

static void run_row(const tb_sweep_options *opt, const tb_market_data *bars, size_t nbars,
                    tb_sweep_row *row, const row_extra *x, row_curve *keep)
{
    tb_config cfg;
    char err[sizeof(row->error)] = "";
    int rc = build_config(opt, row, x ? x->extra : NULL, &cfg, err, sizeof(err));
    if (rc) {
        snprintf(row->error, sizeof(row->error), "%s", err[0] ? err : tb_strerror(rc));
        row->done = 1;
        tb_config_free(&cfg);
        return;
    }
    collector c;
    memset(&c, 0, sizeof(c));
    /* One point per bar at most: sized once, never copied as it grows. */
    if (keep->cap < nbars + 1) {
        free(keep->t);
        free(keep->eq);
        keep->t = malloc((nbars + 1) * sizeof(*keep->t));
        keep->eq = malloc((nbars + 1) * sizeof(*keep->eq));
        keep->cap = keep->t && keep->eq ? nbars + 1 : 0;
    }
    /* The replay's now; given back (perhaps moved) at the end. */
    c.t = keep->t;
    c.eq = keep->eq;
    c.cap = keep->cap;
    *keep = (row_curve){NULL, NULL, 0};
    tb_backtest_options bo;
    memset(&bo, 0, sizeof(bo));
    bo.bars = bars;
    bo.nbars = nbars;
    bo.stop = opt->stop;
    bo.on_start = collect_start;
    bo.on_stop = collect_stop;
    bo.hook_ctx = &c;
    bo.trade_from = x ? x->trade_from : 0;
    tb_backtest_result br;
    rc = tb_backtest_run(&cfg, &bo, &br, err, sizeof(err));
    if (rc == TB_ECANCELED || (rc == 0 && br.interrupted)) {
        /* Stopped part way: not a result; --resume runs it again. */
        if (rc == 0) tb_backtest_result_free(&br);
        give_back(&c, keep);
        tb__report_free(&c.r);
        tb_config_free(&cfg);
        return;
    }
    if (rc) {
        snprintf(row->error, sizeof(row->error), "%s", err[0] ? err : tb_strerror(rc));
    } else {
        row->bars = br.bars;
        row->trades = br.trades;
        row->fees = br.fees;
        row->max_drawdown_pct = br.max_drawdown_pct;
        if (tb_dec_sub(br.final_equity, br.initial_equity, &row->net_pnl) != 0 ||
            tb_backtest_return_pct(&br, &row->return_pct) != 0 ||
            tb_backtest_win_rate(&br, &row->win_rate_pct) != 0)
            snprintf(row->error, sizeof(row->error), "figures out of range");
        else if ((rc = report_figures(&c, row)) != 0)
            snprintf(row->error, sizeof(row->error), "report: %s", tb_strerror(rc));
        for (size_t i = 0; x && x->curve && !row->error[0] && i < c.r.npts; i++) {
            if (c.r.t[i] < x->curve_from) continue;
            char when[40], eq[TB_DECIMAL_STRLEN];
            tb_format_time_iso(c.r.t[i], when, sizeof(when));
            tb_dec_format(c.r.eq[i], eq, sizeof(eq));
            fprintf(x->curve, "%s,%s\n", when, eq);
        }
        tb_backtest_result_free(&br);
    }
    row->done = 1;
    give_back(&c, keep);
    tb__report_free(&c.r);
    tb_config_free(&cfg);
}

/* ---- the workers -------------------------------------------------------- */

typedef struct {
    const tb_sweep_options *opt;
    tb_sweep_result *res;
    const tb_market_data *bars;
    size_t nbars;
    atomic_size_t next;
    atomic_size_t finished;
    atomic_int running; /* workers not yet returned */
    /* The last worker out wakes the caller at once (timing, no 200 ms lag). */
    pthread_mutex_t mu;
    pthread_cond_t all_out;
} pool;

static void journal_tick(tb_sweep_journal *j, int force);

static int stopping(const tb_sweep_options *opt)
{
    return opt->stop && *opt->stop;
}

static void *worker(void *arg)
{
    pool *pl = arg;
    row_curve curve = {NULL, NULL, 0};
    for (;;) {
        size_t i = atomic_fetch_add(&pl->next, 1);
        if (i >= pl->res->nrows || stopping(pl->opt)) break;
        tb_sweep_row *row = &pl->res->rows[i];
        if (row->done) continue;
        run_row(pl->opt, pl->bars, pl->nbars, row, NULL, &curve);
        if (!row->done) continue;
        atomic_fetch_add(&pl->finished, 1);
        if (pl->opt->journal) tb_sweep_journal_add(pl->opt->journal, row);
    }
    free(curve.t);
    free(curve.eq);
    pthread_mutex_lock(&pl->mu);
    if (atomic_fetch_sub(&pl->running, 1) == 1) pthread_cond_signal(&pl->all_out);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tb_sweep_load_bars(const tb_sweep_options *opt, tb_market_data **out, size_t *nout, char *err,
                       size_t errlen)
{
    tb_config cfg;
    int rc = build_config(opt, NULL, NULL, &cfg, err, errlen);
    if (rc) {
        tb_config_free(&cfg);
        return rc;
    }
    tb_md_config mc;
    tb_config_md_options(&cfg, &mc);
    mc.warn = opt->warn;
    mc.warn_ctx = opt->warn_ctx;
    tb_md_merge *md = NULL;
    rc = tb_md_merge_open((const char *const *)cfg.data, cfg.ndata, &mc, &md, err, errlen);
    size_t n = 0, cap = 0;
    tb_market_data *bars = NULL, bar;
    while (!rc && (rc = tb_md_merge_next(md, &bar, err, errlen)) == 0) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            tb_market_data *nb = realloc(bars, nc * sizeof(*nb));
            if (!nb) {
                rc = TB_ENOMEM;
                break;
            }
            bars = nb;
            cap = nc;
        }
        bars[n++] = bar;
    }
    if (rc == TB_EEOF) rc = 0;
    tb_md_merge_close(md);
    tb_config_free(&cfg);
    if (rc) {
        free(bars);
        return rc;
    }
    *out = bars;
    *nout = n;
    return 0;
}

static long cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

int tb_sweep_run(const tb_sweep_options *opt, tb_sweep_result *res, char *err, size_t errlen)
{
    tb_market_data *bars = NULL;
    size_t nbars = 0;
    int rc = tb_sweep_load_bars(opt, &bars, &nbars, err, errlen);
    if (!rc) rc = tb_sweep_run_bars(opt, res, bars, nbars, err, errlen);
    free(bars);
    return rc;
}

int tb_sweep_run_bars(const tb_sweep_options *opt, tb_sweep_result *res, const tb_market_data *bars,
                      size_t nbars, char *err, size_t errlen)
{
    res->bars = nbars;
    pool pl;
    pl.opt = opt;
    pl.res = res;
    pl.bars = bars;
    pl.nbars = nbars;
    atomic_init(&pl.next, 0);
    size_t already = 0;
    for (size_t i = 0; i < res->nrows; i++)
        already += res->rows[i].done != 0;
    atomic_init(&pl.finished, already);
    atomic_init(&pl.running, 0);
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.all_out, NULL);
    long jobs = opt->jobs > 0 ? opt->jobs : cores();
    if ((size_t)jobs > res->nrows) jobs = (long)(res->nrows ? res->nrows : 1);
    pthread_t *th = calloc((size_t)jobs, sizeof(*th));
    if (!th) return TB_ENOMEM;
    /* The starting point, before any worker can finish a row: the bar
     * shows at once, and "0 done" is never skipped by a fast machine. */
    if (opt->progress) opt->progress(already, res->nrows, opt->progress_ctx);
    double t0 = now_s();
    long started = 0;
    for (; started < jobs; started++) {
        atomic_fetch_add(&pl.running, 1);
        if (pthread_create(&th[started], NULL, worker, &pl) != 0) {
            atomic_fetch_sub(&pl.running, 1);
            break;
        }
    }
    if (started == 0) {
        free(th);
        pthread_cond_destroy(&pl.all_out);
        pthread_mutex_destroy(&pl.mu);
        tb__errf(err, errlen, "cannot start a worker thread: %s", strerror(errno));
        return TB_ENOMEM;
    }
    /* The calling thread reports progress while the workers run. */
    pthread_mutex_lock(&pl.mu);
    while (atomic_load(&pl.running) > 0) {
        if (opt->progress) opt->progress(atomic_load(&pl.finished), res->nrows, opt->progress_ctx);
        if (opt->journal) journal_tick(opt->journal, 0);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pl.all_out, &pl.mu, &until);
    }
    pthread_mutex_unlock(&pl.mu);
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_cond_destroy(&pl.all_out);
    pthread_mutex_destroy(&pl.mu);
    res->seconds = now_s() - t0;
    free(th);
    /* Every finished row on file before the caller hears of the end (a
     * write error is the journal's to report: the rows are in res). */
    if (opt->journal) tb_sweep_journal_flush(opt->journal);
    res->done = 0;
    for (size_t i = 0; i < res->nrows; i++)
        res->done += res->rows[i].done != 0;
    res->interrupted = res->done < res->nrows;
    if (opt->progress) opt->progress(res->done, res->nrows, opt->progress_ctx);
    return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

/* Rows go to the file in batches: a write per row would still be cheap
 * next to a backtest, but a batch of 64 (or 2 s) is cheaper and loses as
 * little. A sync costs milliseconds, so the file is synced at most every
 * 2 s: a kill loses nothing written, a power cut at most the last 2 s. */
#define JOURNAL_BATCH   64
#define JOURNAL_SECONDS 2.0

struct tb_sweep_journal {
    tb_sweep_journal_kind kind;
    uint64_t fp;
    int resumed; /* opened with resume: a walk-forward resumes its window's rows too */
    int fd;
    pthread_mutex_t mu; /* buf, len, cap, pending, rc, last_write: workers add at once */
    char *buf;          /* records added, not written yet */
    size_t len, cap, pending;
    double last_write, last_sync;
    int rc;       /* the first write error: later ones add nothing */
    int unsynced; /* written since the last sync (mu held to set it) */
    char *data;   /* resume: the file as read, NUL-terminated */
    size_t dlen;  /* its valid part: the header and whole records */
    size_t *recs; /* the offsets of its records in data */
    size_t nrecs;
};

/* A journal record, parsed. */
typedef struct {
    char kind; /* 'r' a row, 'w' a window */
    size_t k, npoints;
    int chosen;
    size_t combination;
    double in_sample;
    tb_decimal equity_start, equity_end;
    tb_sweep_row row;
    const char *points; /* a window's curve points, plen bytes */
    size_t plen;
} jrecord;

static void mix64(uint64_t *h, const char *s)
{
    for (s = s ? s : "";; s++) {
        *h = (*h ^ (unsigned char)*s) * 1099511628211ULL;
        if (!*s) break;
    }
}

uint64_t tb_sweep_fingerprint(const tb_sweep_options *o, const char *objective,
                              const tb_wf_window *windows, size_t nwindows)
{
    uint64_t h = 1469598103934665603ULL;
    mix64(&h, o->config_path);
    for (size_t i = 0; i < o->nsets; i++)
        mix64(&h, o->sets[i]);
    for (size_t i = 0; i < o->ndata; i++)
        mix64(&h, o->data[i]);
    for (size_t k = 0; k < o->nparams; k++) {
        mix64(&h, o->params[k].key);
        for (size_t v = 0; v < o->params[k].nvalues; v++)
            mix64(&h, o->params[k].values[v]);
    }
    mix64(&h, o->where);
    char n[128];
    snprintf(n, sizeof(n), "%zu/%llu", o->random, (unsigned long long)o->seed);
    mix64(&h, n);
    /* A sweep's fingerprint stays what it was before walk-forwards had one. */
    if (!objective && !nwindows) return h;
    mix64(&h, "walk-forward");
    mix64(&h, objective);
    for (size_t i = 0; i < nwindows; i++) {
        const tb_wf_window *w = &windows[i];
        snprintf(n, sizeof(n), "%lld %lld %lld %lld", (long long)w->train_from,
                 (long long)w->train_to, (long long)w->test_from, (long long)w->test_to);
        mix64(&h, n);
    }
    return h;
}

static uint32_t fnv32(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}
#define FNV32_INIT 2166136261u

/* A row's fields, exact: decimals as their raw integers, doubles in hex
 * (%a reads back bit for bit, so a resumed sweep.csv is byte-identical),
 * the error last and escaped onto the line. b holds JFIELDS_MAX. */
#define JFIELDS_MAX (512 + 2 * sizeof(((tb_sweep_row *)0)->error))
static size_t put_fields(char *b, const tb_sweep_row *r)
{
    int n = snprintf(b, JFIELDS_MAX,
                     "%zu %d %llu %llu %lld %lld %lld %lld %lld %d %a %a %a %a :", r->combination,
                     r->done != 0, (unsigned long long)r->bars, (unsigned long long)r->trades,
                     (long long)r->net_pnl, (long long)r->return_pct, (long long)r->fees,
                     (long long)r->max_drawdown_pct, (long long)r->win_rate_pct, r->ratios != 0,
                     r->sharpe, r->sortino, r->profit_factor, r->exposure_pct);
    size_t o = n > 0 ? (size_t)n : 0;
    for (const char *e = r->error; *e && o + 3 < JFIELDS_MAX; e++) {
        if (*e == '\\' || *e == '\n' || *e == '\r') {
            b[o++] = '\\';
            b[o++] = *e == '\n' ? 'n' : *e == '\r' ? 'r' : '\\';
        } else {
            b[o++] = *e;
        }
    }
    b[o] = 0;
    return o;
}

/* Fields are one space apart: strto* alone would skip spaces or take a sign. */
static int get_u(const char **p, unsigned long long *v)
{
    char *e;
    if (!isdigit((unsigned char)**p)) return -1;
    errno = 0;
    *v = strtoull(*p, &e, 10);
    if (errno || *e != ' ') return -1;
    *p = e + 1;
    return 0;
}

static int get_i(const char **p, long long *v)
{
    char *e;
    if (!isdigit((unsigned char)**p) && **p != '-') return -1;
    errno = 0;
    *v = strtoll(*p, &e, 10);
    if (errno || *e != ' ' || e == *p) return -1;
    *p = e + 1;
    return 0;
}

static int get_d(const char **p, double *v)
{
    char *e;
    if (!**p || isspace((unsigned char)**p)) return -1;
    *v = strtod(*p, &e);
    if (e == *p || *e != ' ') return -1;
    *p = e + 1;
    return 0;
}

static int get_fields(const char *p, const char *nl, tb_sweep_row *r)
{
    unsigned long long u[4];
    long long i[7];
    if (get_u(&p, &u[0]) || get_i(&p, &i[0]) || get_u(&p, &u[1]) || get_u(&p, &u[2]) ||
        get_i(&p, &i[1]) || get_i(&p, &i[2]) || get_i(&p, &i[3]) || get_i(&p, &i[4]) ||
        get_i(&p, &i[5]) || get_i(&p, &i[6]) || get_d(&p, &r->sharpe) || get_d(&p, &r->sortino) ||
        get_d(&p, &r->profit_factor) || get_d(&p, &r->exposure_pct) || *p++ != ':')
        return -1;
    r->combination = (size_t)u[0];
    r->done = i[0] != 0;
    r->bars = u[1];
    r->trades = u[2];
    r->net_pnl = i[1];
    r->return_pct = i[2];
    r->fees = i[3];
    r->max_drawdown_pct = i[4];
    r->win_rate_pct = i[5];
    r->ratios = i[6] != 0;
    size_t o = 0;
    for (; p < nl; p++) {
        char c = *p;
        if (c == '\\') {
            if (++p == nl) return -1;
            c = *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p == '\\' ? '\\' : 0;
            if (!c) return -1;
        }
        if (o + 1 >= sizeof(r->error)) return -1;
        r->error[o++] = c;
    }
    r->error[o] = 0;
    return 0;
}

/* The record at p (before end): 0 and *next after it, or -1 if it is torn
 * or damaged (its checksum covers everything after itself). */
static int get_record(const char *p, const char *end, jrecord *r, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl || nl - p < 12 || p[8] != ' ' || p[10] != ' ') return -1;
    char hex[9], *e;
    memcpy(hex, p, 8);
    hex[8] = 0;
    unsigned long want = strtoul(hex, &e, 16);
    if (e != hex + 8 || !isxdigit((unsigned char)hex[0])) return -1;
    const char *q = p + 9;
    uint32_t h = fnv32(FNV32_INIT, q, (size_t)(nl - q));
    memset(r, 0, sizeof(*r));
    r->kind = q[0];
    q += 2;
    const char *after = nl + 1;
    if (r->kind == 'w') {
        unsigned long long k, np, ch, comb;
        long long s, f;
        if (get_u(&q, &k) || get_u(&q, &np) || get_u(&q, &ch) || get_u(&q, &comb) ||
            get_d(&q, &r->in_sample) || get_i(&q, &s) || get_i(&q, &f))
            return -1;
        r->k = (size_t)k;
        r->npoints = (size_t)np;
        r->chosen = ch != 0;
        r->combination = (size_t)comb;
        r->equity_start = s;
        r->equity_end = f;
        r->points = after;
        for (size_t i = 0; i < r->npoints; i++) {
            const char *x = memchr(after, '\n', (size_t)(end - after));
            if (!x) return -1;
            after = x + 1;
        }
        r->plen = (size_t)(after - r->points);
        h = fnv32(h, r->points, r->plen);
    } else if (r->kind != 'r') {
        return -1;
    }
    if (h != (uint32_t)want || get_fields(q, nl, &r->row) != 0) return -1;
    *next = after;
    return 0;
}

/* Writes what is buffered (mu held). A failed write drops it: the rows
 * are lost to a resume (which reruns them), not to the sweep. */
static void write_locked(tb_sweep_journal *j)
{
    size_t off = 0;
    while (off < j->len && !j->rc) {
        ssize_t n = write(j->fd, j->buf + off, j->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            j->rc = TB_EIO;
        else
            off += (size_t)n;
    }
    j->unsynced |= off > 0;
    j->len = j->pending = 0;
    j->last_write = now_s();
}

static int append_locked(tb_sweep_journal *j, const char *s, size_t n)
{
    if (j->len + n > j->cap) {
        size_t nc = j->cap ? j->cap : 65536;
        while (nc < j->len + n)
            nc *= 2;
        char *nb = realloc(j->buf, nc);
        if (!nb) return TB_ENOMEM;
        j->buf = nb;
        j->cap = nc;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    return 0;
}

/* The calling thread's part: writes a batch older than 2 s, and syncs. */
static void journal_tick(tb_sweep_journal *j, int force)
{
    double now = now_s();
    pthread_mutex_lock(&j->mu);
    if (j->len && (force || now - j->last_write >= JOURNAL_SECONDS)) write_locked(j);
    int sync = j->unsynced && (force || now - j->last_sync >= JOURNAL_SECONDS);
    if (sync) j->unsynced = 0;
    pthread_mutex_unlock(&j->mu);
    if (sync) {
        fdatasync(j->fd);
        j->last_sync = now;
    }
}

int tb_sweep_journal_add(tb_sweep_journal *j, const tb_sweep_row *row)
{
    char line[JFIELDS_MAX + 16];
    size_t n = put_fields(line + 11, row);
    memcpy(line + 9, "r ", 2);
    char hex[9];
    snprintf(hex, sizeof(hex), "%08x", (unsigned)fnv32(FNV32_INIT, line + 9, n + 2));
    memcpy(line, hex, 8);
    line[8] = ' ';
    line[11 + n] = '\n';
    pthread_mutex_lock(&j->mu);
    int rc = append_locked(j, line, n + 12);
    if (rc && !j->rc) j->rc = rc;
    if (!rc && ++j->pending >= JOURNAL_BATCH) write_locked(j);
    rc = j->rc;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* A finished window with its curve points, written at once: windows are
 * few and each is a whole sweep. */
static int journal_add_window(tb_sweep_journal *j, size_t k, const tb_wf_row *w, const char *points,
                              size_t plen)
{
    size_t np = 0;
    for (size_t i = 0; i < plen; i++)
        np += points[i] == '\n';
    char line[JFIELDS_MAX + 256];
    int n = snprintf(line + 9, 200, "w %zu %zu %d %zu %a %lld %lld ", k, np, w->chosen != 0,
                     w->combination, w->in_sample, (long long)w->equity_start,
                     (long long)w->equity_end);
    size_t len = 9 + (size_t)n;
    len += put_fields(line + len, &w->oos);
    uint32_t h = fnv32(FNV32_INIT, line + 9, len - 9);
    h = fnv32(h, points, plen);
    char hex[9];
    snprintf(hex, sizeof(hex), "%08x", (unsigned)h);
    memcpy(line, hex, 8);
    line[8] = ' ';
    line[len++] = '\n';
    pthread_mutex_lock(&j->mu);
    int rc = append_locked(j, line, len);
    if (!rc) rc = append_locked(j, points, plen);
    if (rc) {
        j->len = 0; /* never half a record */
        if (!j->rc) j->rc = rc;
    } else {
        write_locked(j);
    }
    rc = j->rc;
    pthread_mutex_unlock(&j->mu);
    journal_tick(j, 0);
    return rc;
}

int tb_sweep_journal_flush(tb_sweep_journal *j)
{
    journal_tick(j, 1);
    pthread_mutex_lock(&j->mu);
    int rc = j->rc;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int tb_sweep_journal_close(tb_sweep_journal *j)
{
    if (!j) return 0;
    int rc = 0;
    if (j->fd >= 0) {
        rc = tb_sweep_journal_flush(j);
        if (close(j->fd) != 0 && !rc) rc = TB_EIO;
    }
    pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j->data);
    free(j->recs);
    free(j);
    return rc;
}

size_t tb_sweep_journal_count(const tb_sweep_journal *j)
{
    return j ? j->nrecs : 0;
}

size_t tb_sweep_journal_rows(const tb_sweep_journal *j, tb_sweep_result *res)
{
    size_t marked = 0;
    for (size_t i = 0; j && i < j->nrecs; i++) {
        jrecord r;
        const char *next;
        if (get_record(j->data + j->recs[i], j->data + j->dlen, &r, &next) != 0 || r.kind != 'r')
            continue;
        size_t lo = 0, hi = res->nrows;
        while (lo < hi) { /* rows are in grid order */
            size_t mid = lo + (hi - lo) / 2;
            if (res->rows[mid].combination < r.row.combination)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == res->nrows || res->rows[lo].combination != r.row.combination) continue;
        marked += !res->rows[lo].done;
        res->rows[lo] = r.row;
        res->rows[lo].done = 1;
    }
    return marked;
}

/* The windows j holds, restored into rows, their points onto curve and
 * the equity the last ended with into *equity. Returns how many. */
static size_t journal_windows(const tb_sweep_journal *j, const tb_wf_window *windows,
                              size_t nwindows, tb_wf_row *rows, FILE *curve, tb_decimal *equity)
{
    size_t k = 0;
    for (; j && k < j->nrecs && k < nwindows; k++) {
        jrecord r;
        const char *p = j->data + j->recs[k], *next;
        if (get_record(p, j->data + j->dlen, &r, &next) != 0 || r.kind != 'w' || r.k != k) break;
        tb_wf_row *out = &rows[k];
        memset(out, 0, sizeof(*out));
        out->w = windows[k];
        out->chosen = r.chosen;
        out->combination = r.combination;
        out->in_sample = r.in_sample;
        out->oos = r.row;
        out->equity_start = r.equity_start;
        out->equity_end = r.equity_end;
        *equity = r.equity_end;
        if (curve) fwrite(r.points, 1, r.plen, curve);
    }
    return k;
}

/* path replaced by a journal holding only its first line: written under a
 * temporary name and synced before the rename, so a crash leaves the old
 * file or the new one. */
static int journal_create(const char *path, const char *head, char *err, size_t errlen)
{
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp) return TB_ENOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666), rc = 0;
    size_t hl = strlen(head);
    if (fd < 0 || write(fd, head, hl) != (ssize_t)hl || fdatasync(fd) != 0) rc = TB_EIO;
    if (fd >= 0 && close(fd) != 0) rc = TB_EIO;
    if (!rc && rename(tmp, path) != 0) rc = TB_EIO;
    if (rc) {
        tb__errf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Reads j->fd whole into j->data. */
static int journal_slurp(tb_sweep_journal *j, size_t *len)
{
    size_t cap = 65536;
    *len = 0;
    j->data = malloc(cap);
    if (!j->data) return TB_ENOMEM;
    for (;;) {
        if (*len + 1 == cap) {
            char *nd = realloc(j->data, cap * 2);
            if (!nd) return TB_ENOMEM;
            j->data = nd;
            cap *= 2;
        }
        ssize_t n = read(j->fd, j->data + *len, cap - 1 - *len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return TB_EIO;
        if (n == 0) break;
        *len += (size_t)n;
    }
    j->data[*len] = 0;
    return 0;
}

/* A resumed journal: its header checked, its records indexed up to the
 * first that is torn or damaged, and the file cut there so that new
 * records follow a whole one. */
static int journal_resume(tb_sweep_journal *j, const char *path, const char *head, uint64_t fp,
                          char *err, size_t errlen)
{
    j->fd = open(path, O_RDWR | O_APPEND);
    if (j->fd < 0) {
        int missing = errno == ENOENT;
        tb__errf(err, errlen, "%s: %s", path, missing ? "no checkpoint" : strerror(errno));
        return missing ? TB_ENOTFOUND : TB_EIO;
    }
    size_t len;
    int rc = journal_slurp(j, &len);
    if (rc) {
        tb__errf(err, errlen, "%s: cannot read: %s", path,
                 rc == TB_EIO ? strerror(errno) : "out of memory");
        return rc;
    }
    size_t hl = strlen(head);
    if (len < hl || memcmp(j->data, head, hl) != 0) {
        char legacy[64];
        snprintf(legacy, sizeof(legacy), "tradebus sweep 1 %016llx\n", (unsigned long long)fp);
        int old = j->kind == TB_SWEEP_JOURNAL_ROWS && strcmp(j->data, legacy) == 0;
        tb__errf(err, errlen, "%s: %s", path,
                 old ? "a checkpoint without rows (tradebus before journals): the rows are in "
                       "sweep.csv"
                     : "the checkpoint of other work (another kind or fingerprint)");
        return old ? TB_ENOTSUP : TB_EINVAL;
    }
    const char *p = j->data + hl, *end = j->data + len, *next;
    size_t cap = 0;
    jrecord r;
    char want = j->kind == TB_SWEEP_JOURNAL_ROWS ? 'r' : 'w';
    while (p < end && get_record(p, end, &r, &next) == 0 && r.kind == want &&
           (want == 'r' || r.k == j->nrecs)) {
        if (j->nrecs == cap) {
            size_t nc = cap ? cap * 2 : 256;
            size_t *nr = realloc(j->recs, nc * sizeof(*nr));
            if (!nr) {
                tb__errf(err, errlen, "%s: out of memory", path);
                return TB_ENOMEM;
            }
            j->recs = nr;
            cap = nc;
        }
        j->recs[j->nrecs++] = (size_t)(p - j->data);
        p = next;
    }
    j->dlen = (size_t)(p - j->data);
    if (p < end && ftruncate(j->fd, (off_t)j->dlen) != 0) {
        tb__errf(err, errlen, "%s: cannot cut its torn end: %s", path, strerror(errno));
        return TB_EIO;
    }
    return 0;
}

int tb_sweep_journal_open(const char *path, tb_sweep_journal_kind kind, uint64_t fp, int resume,
                          tb_sweep_journal **out, char *err, size_t errlen)
{
    *out = NULL;
    if (kind != TB_SWEEP_JOURNAL_ROWS && kind != TB_SWEEP_JOURNAL_WINDOWS) return TB_EINVAL;
    tb_sweep_journal *j = calloc(1, sizeof(*j));
    if (!j) return TB_ENOMEM;
    j->kind = kind;
    j->fp = fp;
    j->resumed = resume != 0;
    j->fd = -1;
    pthread_mutex_init(&j->mu, NULL);
    char head[80];
    snprintf(head, sizeof(head), "tradebus %s %016llx\n",
             kind == TB_SWEEP_JOURNAL_ROWS ? "sweep 2" : "walk-forward 1", (unsigned long long)fp);
    int rc;
    if (resume) {
        rc = journal_resume(j, path, head, fp, err, errlen);
    } else {
        rc = journal_create(path, head, err, errlen);
        if (!rc && (j->fd = open(path, O_WRONLY | O_APPEND)) < 0) {
            tb__errf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            rc = TB_EIO;
        }
    }
    if (rc) {
        tb_sweep_journal_close(j);
        return rc;
    }
    j->last_write = j->last_sync = now_s();
    *out = j;
    return 0;
}

/* ---- walk-forward ------------------------------------------------------- */

#define DAY_NS (INT64_C(86400) * 1000000000)

/* The training sweep of window k checkpoints its rows in a journal of its
 * own, in the format and through the code of sweep.state, rather than as
 * records in walkforward.state: a window's rows are only worth keeping
 * until the window is on file, so one small file replaced per window
 * holds them (walkforward.state does not grow by every training row of
 * every window, and keeps its format: older states still resume). Its
 * fingerprint is the walk-forward's (the grid, the objective, every
 * window) with k and the window's training part, so rows of another
 * window or walk-forward are never taken: such a file is replaced, and
 * walkforward.state alone decides whether a --resume is refused. */
static int window_journal_open(const tb_sweep_options *opt, size_t k, const tb_wf_window *w,
                               int resume, tb_sweep_result *res, tb_sweep_journal **out, char *err,
                               size_t errlen)
{
    uint64_t fp = opt->journal->fp;
    char s[128];
    snprintf(s, sizeof(s), "window %zu %lld %lld", k, (long long)w->train_from,
             (long long)w->train_to);
    mix64(&fp, s);
    int rc = TB_ENOTFOUND;
    if (resume)
        rc = tb_sweep_journal_open(opt->window_journal, TB_SWEEP_JOURNAL_ROWS, fp, 1, out, err,
                                   errlen);
    if (rc == 0) {
        size_t held = tb_sweep_journal_rows(*out, res);
        if (held && opt->window_resumed)
            opt->window_resumed(k, held, res->nrows, opt->progress_ctx);
        return 0;
    }
    /* None, or another window's: this window starts afresh. */
    if (rc != TB_ENOTFOUND && rc != TB_EINVAL && rc != TB_ENOTSUP) return rc;
    if (err && errlen) err[0] = 0;
    return tb_sweep_journal_open(opt->window_journal, TB_SWEEP_JOURNAL_ROWS, fp, 0, out, err,
                                 errlen);
}

int tb_wf_windows(int64_t first, int64_t end, int64_t train, int64_t test, tb_wf_window **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (train <= 0 || test <= 0 || end <= first) return TB_EINVAL;
    int64_t start = first - first % DAY_NS; /* UTC midnight */
    size_t cap = 0;
    for (int64_t s = start; s + train < end; s += test) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            tb_wf_window *nw = realloc(*out, nc * sizeof(*nw));
            if (!nw) {
                free(*out);
                *out = NULL;
                return TB_ENOMEM;
            }
            *out = nw;
            cap = nc;
        }
        tb_wf_window *w = &(*out)[(*n)++];
        w->train_from = s;
        w->train_to = s + train;
        w->test_from = s + train;
        w->test_to = s + train + test < end ? s + train + test : end;
    }
    return *n ? 0 : TB_EINVAL;
}

/* The bars opening in [from, to): *lo and the count. */
static size_t slice(const tb_market_data *bars, size_t n, int64_t from, int64_t to, size_t *lo)
{
    size_t i = 0;
    while (i < n && bars[i].open_time < from)
        i++;
    size_t j = i;
    while (j < n && bars[j].open_time < to)
        j++;
    *lo = i;
    return j - i;
}

/* The training sweep's progress, handed on with its window. */
typedef struct {
    const tb_sweep_options *opt;
    size_t window;
} window_progress;

static void window_rows(size_t done, size_t total, void *ctx)
{
    const window_progress *wp = ctx;
    wp->opt->window_rows(wp->window, done, total, wp->opt->progress_ctx);
}

/* Why a window chose nothing, into row->error: walkforward.csv and the
 * summary say it (a misspelt key fails every training row: that is the
 * error to show, not a missing objective). */
static void why_none(const tb_sweep_options *opt, const tb_sweep_result *res, size_t nbars,
                     const char *objective, tb_sweep_row *row)
{
    size_t failed = 0, done = 0;
    const tb_sweep_row *first = NULL;
    for (size_t i = 0; i < res->nrows; i++) {
        done += res->rows[i].done != 0;
        if (res->rows[i].done && res->rows[i].error[0]) {
            failed++;
            if (!first) first = &res->rows[i];
        }
    }
    if (!nbars) {
        snprintf(row->error, sizeof(row->error), "no bar in the training part");
    } else if (first && failed == done) {
        char vals[256];
        tb_sweep_describe(opt->params, opt->nparams, first->combination, vals, sizeof(vals));
        char msg[sizeof(vals) + sizeof(first->error) + 64];
        snprintf(msg, sizeof(msg), "%s; the first, %s: %s", TB_WF_UNTRAINABLE, vals, first->error);
        size_t len = strlen(msg) < sizeof(row->error) - 1 ? strlen(msg) : sizeof(row->error) - 1;
        memcpy(row->error, msg, len); /* cut: the row's error has a fixed size */
        row->error[len] = 0;
    } else {
        snprintf(row->error, sizeof(row->error), "no combination has a %s in training%s", objective,
                 !strcmp(objective, "sharpe") || !strcmp(objective, "sortino")
                     ? " (sharpe and sortino need 30 days)"
                     : "");
    }
}

int tb_sweep_walk_forward(const tb_sweep_options *opt, const tb_wf_window *windows, size_t nwindows,
                          const char *objective, tb_wf_row *rows, FILE *equity_csv, size_t *done,
                          char *err, size_t errlen)
{
    *done = 0;
    tb_market_data *bars = NULL;
    size_t nbars = 0;
    int rc = tb_sweep_load_bars(opt, &bars, &nbars, err, errlen);
    if (rc) return rc;
    /* The first test part starts with the config's cash. */
    tb_config base;
    rc = build_config(opt, NULL, NULL, &base, err, errlen);
    tb_decimal equity = base.initial_cash;
    tb_config_free(&base);
    if (equity_csv) fputs("time,equity\n", equity_csv);
    /* Windows a checkpoint holds are not run again: their rows, points and
     * final equity are restored exactly, so the chain goes on unchanged. */
    if (!rc && opt->journal)
        *done = journal_windows(opt->journal, windows, nwindows, rows, equity_csv, &equity);
    tb_sweep_options inner = *opt;
    window_progress wp = {opt, 0};
    inner.progress = opt->window_rows ? window_rows : NULL;
    inner.progress_ctx = &wp;
    /* Only the first window run can have rows on file: any later one was
     * not started before the stop. */
    int resuming = opt->journal && opt->journal->resumed;
    for (size_t k = *done; k < nwindows && !rc; k++, resuming = 0) {
        if (stopping(opt)) break;
        if (opt->progress) opt->progress(k, nwindows, opt->progress_ctx);
        wp.window = k;
        const tb_wf_window *w = &windows[k];
        tb_wf_row *out = &rows[k];
        memset(out, 0, sizeof(*out));
        out->w = *w;
        out->equity_start = out->equity_end = equity;
        size_t lo, n = slice(bars, nbars, w->train_from, w->train_to, &lo);
        tb_sweep_result res;
        if ((rc = tb_sweep_plan(&inner, &res, err, errlen)) != 0) break;
        tb_sweep_journal *wj = NULL;
        if (n && opt->journal && opt->window_journal &&
            (rc = window_journal_open(opt, k, w, resuming, &res, &wj, err, errlen)) != 0) {
            tb_sweep_result_free(&res);
            break;
        }
        inner.journal = wj;
        if (n && (rc = tb_sweep_run_bars(&inner, &res, bars + lo, n, err, errlen)) != 0) {
            tb_sweep_journal_close(wj);
            tb_sweep_result_free(&res);
            break;
        }
        int finished = !res.interrupted;
        size_t best = finished && n ? tb_sweep_best(&res, objective) : (size_t)-1;
        /* The window's points, held until it is finished: a stopped test
         * run leaves none in the curve. */
        char *pts = NULL;
        size_t plen = 0;
        FILE *pf = NULL;
        if (best != (size_t)-1 && !(pf = open_memstream(&pts, &plen))) {
            tb_sweep_result_free(&res);
            tb__errf(err, errlen, "out of memory");
            rc = TB_ENOMEM;
            break;
        }
        if (finished && best == (size_t)-1) why_none(opt, &res, n, objective, &out->oos);
        if (best != (size_t)-1) {
            int ok;
            out->chosen = 1;
            out->combination = res.rows[best].combination;
            out->in_sample = tb_sweep_objective(&res.rows[best], objective, &ok);
            /* The test part, warmed up on the training bars. */
            size_t tlo, tn = slice(bars, nbars, w->train_from, w->test_to, &tlo);
            char cash[TB_DECIMAL_STRLEN + 32], eq[TB_DECIMAL_STRLEN];
            tb_dec_format(equity, eq, sizeof(eq));
            snprintf(cash, sizeof(cash), "backtest.initial_cash=%s", eq);
            row_extra x = {cash, w->test_from, pf, w->test_from};
            out->oos.combination = out->combination;
            row_curve curve = {NULL, NULL, 0};
            run_row(opt, bars + tlo, tn, &out->oos, &x, &curve);
            free(curve.t);
            free(curve.eq);
            finished = out->oos.done;
            if (finished) {
                /* The run saw the warm-up bars too; the test part is its own. */
                size_t slo;
                out->oos.bars = slice(bars, nbars, w->test_from, w->test_to, &slo);
                if (!out->oos.error[0] && tb_dec_add(equity, out->oos.net_pnl, &equity) != 0)
                    snprintf(out->oos.error, sizeof(out->oos.error), "equity out of range");
                out->equity_end = equity;
            }
        }
        if (pf && fclose(pf) != 0) {
            finished = 0;
            tb__errf(err, errlen, "out of memory");
            rc = TB_ENOMEM;
        }
        if (finished) {
            if (equity_csv) fwrite(pts, 1, plen, equity_csv);
            if (opt->journal) journal_add_window(opt->journal, k, out, pts ? pts : "", plen);
            *done = k + 1;
        }
        /* The window's rows go only once its record is synced: a crash in
         * between leaves one or the other, never neither. A window not on
         * file keeps them for --resume. */
        int drop = wj && finished && tb_sweep_journal_flush(opt->journal) == 0;
        tb_sweep_journal_close(wj);
        if (drop) unlink(opt->window_journal);
        free(pts);
        tb_sweep_result_free(&res);
        if (!finished) break;
    }
    if (!rc && opt->progress && *done == nwindows)
        opt->progress(nwindows, nwindows, opt->progress_ctx);
    free(bars);
    return rc;
}

/* ---- sweep.csv ---------------------------------------------------------- */

/* The metrics' columns, as the page's reader (src/report/sweep_csv.c) names them. */
#define metric_cols tb__sweep_metrics
#define NMETRICS    TB__SWEEP_NMETRICS

/* s as one CSV field (RFC 4180), quoted when it must be or always. */
static void put_csv(FILE *f, const char *s, int always)
{
    if (!always && !strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static void put_field(FILE *f, const char *s)
{
    put_csv(f, s, 0);
}

static void put_dec(FILE *f, tb_decimal d)
{
    char b[TB_DECIMAL_STRLEN];
    tb_dec_format(d, b, sizeof(b));
    fprintf(f, ",%s", b);
}

/* Ratios: 10 significant digits are far beyond what they mean. */
static void put_ratio(FILE *f, int defined, double v)
{
    if (defined && isfinite(v))
        fprintf(f, ",%.10g", v);
    else
        fputc(',', f);
}

size_t tb_sweep_describe(const tb_sweep_param *params, size_t nparams, size_t combination,
                         char *buf, size_t len)
{
    size_t at = 0;
    if (len) buf[0] = 0;
    for (size_t k = 0; k < nparams && at + 1 < len; k++) {
        int n = snprintf(buf + at, len - at, "%s%s=%s", k ? " " : "", params[k].name,
                         tb_sweep_value(params, nparams, combination, k));
        if (n < 0) break;
        at = at + (size_t)n < len ? at + (size_t)n : len - 1;
    }
    return at;
}

int tb_wf_row_untrainable(const tb_wf_row *r)
{
    return !r->chosen &&
           strncmp(r->oos.error, TB_WF_UNTRAINABLE, sizeof(TB_WF_UNTRAINABLE) - 1) == 0;
}

static void put_time(FILE *f, int64_t t)
{
    char b[40];
    tb_format_time_iso(t, b, sizeof(b));
    fprintf(f, ",%s", b);
}

int tb_wf_write_csv(const tb_sweep_param *params, size_t nparams, const tb_wf_row *rows, size_t n,
                    const char *objective, FILE *f)
{
    for (size_t m = 0; m < NCOLS(wf_head); m++)
        fprintf(f, "%s%s", m ? "," : "", wf_head[m]);
    for (size_t k = 0; k < nparams; k++) {
        fputc(',', f);
        put_field(f, params[k].name);
    }
    fprintf(f, ",in_sample_%s", objective);
    for (size_t m = 0; m < NCOLS(wf_tail); m++)
        fprintf(f, ",%s", wf_tail[m]);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        const tb_wf_row *r = &rows[i];
        fprintf(f, "%zu", i + 1);
        /* The ends as the last instant included (the window is [from, to)):
         * a training part ending where the test starts reads 23:59:59.999
         * then 00:00:00.000, not the same time twice. */
        put_time(f, r->w.train_from);
        put_time(f, r->w.train_to - 1);
        put_time(f, r->w.test_from);
        put_time(f, r->w.test_to - 1);
        for (size_t k = 0; k < nparams; k++) {
            fputc(',', f);
            if (r->chosen) put_field(f, tb_sweep_value(params, nparams, r->combination, k));
        }
        const tb_sweep_row *x = &r->oos;
        if (!r->chosen || x->error[0]) {
            fputs(",,,,,,,", f);
            put_dec(f, r->equity_start);
            put_dec(f, r->equity_end);
            fputc(',', f);
            /* Always quoted, as walkforward.csv's error always was. */
            put_csv(f, x->error[0] ? x->error : "no combination has the objective in training", 1);
            fputc('\n', f);
            continue;
        }
        fprintf(f, ",%.10g,%llu,%llu", r->in_sample, (unsigned long long)x->bars,
                (unsigned long long)x->trades);
        put_dec(f, x->net_pnl);
        put_dec(f, x->return_pct);
        put_dec(f, x->max_drawdown_pct);
        put_dec(f, x->fees);
        put_dec(f, r->equity_start);
        put_dec(f, r->equity_end);
        fputs(",\n", f);
    }
    return ferror(f) ? TB_EIO : 0;
}

int tb_sweep_write_csv(const tb_sweep_param *params, size_t nparams, const tb_sweep_result *res,
                       FILE *f)
{
    for (size_t k = 0; k < nparams; k++) {
        if (k) fputc(',', f);
        put_field(f, params[k].name);
    }
    for (size_t m = 0; m < NMETRICS; m++)
        fprintf(f, ",%s", metric_cols[m]);
    fputs(",error\n", f);
    for (size_t i = 0; i < res->nrows; i++) {
        const tb_sweep_row *r = &res->rows[i];
        if (!r->done) continue;
        for (size_t k = 0; k < nparams; k++) {
            if (k) fputc(',', f);
            put_field(f, tb_sweep_value(params, nparams, r->combination, k));
        }
        if (r->error[0]) {
            for (size_t m = 0; m < NMETRICS; m++)
                fputc(',', f);
            fputc(',', f);
            put_field(f, r->error);
            fputc('\n', f);
            continue;
        }
        fprintf(f, ",%llu,%llu", (unsigned long long)r->bars, (unsigned long long)r->trades);
        put_dec(f, r->net_pnl);
        put_dec(f, r->return_pct);
        put_dec(f, r->fees);
        put_dec(f, r->max_drawdown_pct);
        put_ratio(f, r->ratios, r->sharpe);
        put_ratio(f, r->ratios, r->sortino);
        put_dec(f, r->win_rate_pct);
        put_ratio(f, r->profit_factor >= 0, r->profit_factor);
        put_ratio(f, 1, r->exposure_pct);
        fputs(",\n", f);
    }
    return ferror(f) ? TB_EIO : 0;
}

/* One CSV record's fields (quotes undone, in place); the count. */
static size_t split_csv(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return n + 1;
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (; *p; p++) {
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p++;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p;
                }
            }
        } else {
            while (*p && *p != ',')
                *out++ = *p++;
        }
        char sep = *p;
        *out = 0;
        fields[n++] = start;
        if (sep != ',') return n;
        p++;
    }
}

static int dec_field(const char *s, tb_decimal *out)
{
    return tb_dec_parse(s, strlen(s), out);
}

int tb_sweep_read_csv(const char *path, const tb_sweep_param *params, size_t nparams,
                      tb_sweep_result *res, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : TB_EIO;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    char *fields[TB_SWEEP_MAX_PARAMS + NMETRICS + 2];
    const size_t want = nparams + NMETRICS + 1;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t n = split_csv(line, fields, sizeof(fields) / sizeof(fields[0]) - 1);
        if (n != want) {
            rc = TB_EPARSE;
            break;
        }
        if (lineno == 1) {
            for (size_t k = 0; k < nparams && !rc; k++)
                if (strcmp(fields[k], params[k].name) != 0) rc = TB_EPARSE;
            continue;
        }
        /* The combination from its values. */
        size_t c = 0;
        for (size_t k = 0; k < nparams && !rc; k++) {
            size_t v = 0;
            while (v < params[k].nvalues && strcmp(params[k].values[v], fields[k]) != 0)
                v++;
            if (v == params[k].nvalues) rc = TB_EPARSE;
            c = c * params[k].nvalues + v;
        }
        if (rc) break;
        tb_sweep_row *row = NULL;
        size_t lo = 0, hi = res->nrows;
        while (lo < hi) { /* rows are in grid order */
            size_t mid = lo + (hi - lo) / 2;
            if (res->rows[mid].combination < c)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < res->nrows && res->rows[lo].combination == c) row = &res->rows[lo];
        if (!row) continue; /* not selected by this sweep's where/random */
        char **m = fields + nparams;
        const char *error = fields[nparams + NMETRICS];
        memset(&row->bars, 0, sizeof(*row) - offsetof(tb_sweep_row, bars));
        if (error[0]) {
            snprintf(row->error, sizeof(row->error), "%s", error);
        } else {
            char *end;
            row->bars = strtoull(m[0], &end, 10);
            row->trades = strtoull(m[1], &end, 10);
            rc = dec_field(m[2], &row->net_pnl);
            if (!rc) rc = dec_field(m[3], &row->return_pct);
            if (!rc) rc = dec_field(m[4], &row->fees);
            if (!rc) rc = dec_field(m[5], &row->max_drawdown_pct);
            if (!rc) rc = dec_field(m[8], &row->win_rate_pct);
            if (rc) {
                rc = TB_EPARSE;
                break;
            }
            row->ratios = m[6][0] != 0;
            row->sharpe = row->ratios ? strtod(m[6], NULL) : 0;
            row->sortino = row->ratios ? strtod(m[7], NULL) : 0;
            row->profit_factor = m[9][0] ? strtod(m[9], NULL) : -1;
            row->exposure_pct = strtod(m[10], NULL);
        }
        row->done = 1;
    }
    if (rc)
        tb__errf(err, errlen,
                 "%s:%zu: not a row of this sweep (other --param values or columns): start a "
                 "new --out, or drop --resume",
                 path, lineno);
    free(line);
    fclose(f);
    return rc;
}

/* ---- the objective ------------------------------------------------------ */

int tb_sweep_objective_valid(const char *objective)
{
    for (size_t m = 0; objective && m < NMETRICS; m++)
        if (strcmp(objective, metric_cols[m]) == 0) return 1;
    return 0;
}

double tb_sweep_objective(const tb_sweep_row *r, const char *objective, int *ok)
{
    *ok = r->done && !r->error[0];
    if (!*ok) return 0;
    if (!strcmp(objective, "bars")) return (double)r->bars;
    if (!strcmp(objective, "trades")) return (double)r->trades;
    if (!strcmp(objective, "net_pnl")) return tb_dec_to_double(r->net_pnl);
    if (!strcmp(objective, "return_pct")) return tb_dec_to_double(r->return_pct);
    if (!strcmp(objective, "fees")) return -tb_dec_to_double(r->fees);
    if (!strcmp(objective, "max_drawdown_pct")) return -tb_dec_to_double(r->max_drawdown_pct);
    if (!strcmp(objective, "win_rate_pct")) return tb_dec_to_double(r->win_rate_pct);
    if (!strcmp(objective, "exposure_pct")) return r->exposure_pct;
    if (!strcmp(objective, "sharpe") || !strcmp(objective, "sortino")) {
        *ok = r->ratios;
        return !strcmp(objective, "sharpe") ? r->sharpe : r->sortino;
    }
    if (!strcmp(objective, "profit_factor")) {
        *ok = r->profit_factor >= 0;
        return r->profit_factor;
    }
    *ok = 0;
    return 0;
}

size_t tb_sweep_best(const tb_sweep_result *res, const char *objective)
{
    size_t best = (size_t)-1;
    double bv = 0;
    for (size_t i = 0; i < res->nrows; i++) {
        int ok;
        double v = tb_sweep_objective(&res->rows[i], objective, &ok);
        if (ok && (best == (size_t)-1 || v > bv)) {
            best = i;
            bv = v;
        }
    }
    return best;
}

void tb_sweep_result_free(tb_sweep_result *res)
{
    if (!res) return;
    free(res->rows);
    res->rows = NULL;
    res->nrows = 0;
}
