/* Comparing two trade logs record by record.
 *
 * Records wait per side until a tb_parity_compare() whose bound covers
 * their time. Each call sorts the waiting records of both sides canonically
 * and matches them: the smallest remaining record (of either side) looks
 * for a partner on the other side with the same kind, strategy and symbol
 * within the time tolerance. Matching by key instead of by position is
 * what keeps one missing or extra record from shifting every later pair:
 * it becomes a single "only on one side" divergence and the rest still
 * lines up.
 *
 * Times are compared at millisecond resolution (floored): the trade log's
 * ISO form carries milliseconds, so a pipeline record made in process
 * (nanoseconds) must compare equal to the same record read from a file.
 *
 * Bar by bar (shadow mode), a call decides only what a single compare at
 * the end would decide the same way: with a time tolerance, records less
 * than twice the tolerance before upto wait for a later call (see
 * decision_limit), so incremental and one-shot results are identical.
 *
 * Memory stays bounded in a long shadow run: compared records are dropped;
 * what is kept is the divergences (capped; beyond the cap they are only
 * counted) and a ring of the last few agreeing records, frozen into the
 * context of the first divergence when it happens. */
#include "tradebus/parity.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "tradebus/monitor.h"

#define NS_PER_MS        INT64_C(1000000)
#define MAX_DIVERGENCES  100000
#define MAX_CONTEXT      1000
#define RECORD_LINE_SIZE 512

typedef struct {
    tb_trade_record rec;
    int64_t t;    /* rec.time floored to the millisecond */
    uint64_t seq; /* arrival order on its side: the last, stable, sort key */
    int used;     /* matched or reported during the current compare */
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
} entry_vec;

struct tb_parity {
    tb_parity_options opt;
    entry_vec waiting[2]; /* not compared yet (FINAL records excluded) */
    entry_vec finals[2];
    uint64_t seq[2];
    tb_parity_summary sum;
    tb_divergence *divs;
    size_t ndivs, divs_cap;
    tb_trade_record *ring; /* the last opt.context agreeing records */
    size_t ring_n, ring_next;
    tb_trade_record *first_ctx; /* the ring as it was at the first divergence */
    size_t first_ctx_n;
    tb_divergence first;
    int lost; /* a divergence could not be stored for lack of memory */
};

void tb_parity_options_init(tb_parity_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->context = 3;
}

int tb_parity_create(const tb_parity_options *opts, tb_parity **out)
{
    if (!out) return TB_EINVAL;
    *out = NULL;
    tb_parity_options o;
    if (opts)
        o = *opts;
    else
        tb_parity_options_init(&o);
    if (o.price_tolerance < 0 || o.time_tolerance < 0 || o.context > MAX_CONTEXT) return TB_EINVAL;
    tb_parity *p = calloc(1, sizeof *p);
    if (!p) return TB_ENOMEM;
    p->opt = o;
    if (o.context) {
        p->ring = calloc(o.context, sizeof *p->ring);
        p->first_ctx = calloc(o.context, sizeof *p->first_ctx);
        if (!p->ring || !p->first_ctx) {
            tb_parity_destroy(p);
            return TB_ENOMEM;
        }
    }
    *out = p;
    return 0;
}

void tb_parity_destroy(tb_parity *p)
{
    if (!p) return;
    for (int s = 0; s < 2; s++) {
        free(p->waiting[s].v);
        free(p->finals[s].v);
    }
    free(p->divs);
    free(p->ring);
    free(p->first_ctx);
    free(p);
}

static int vec_reserve(entry_vec *v, size_t need)
{
    if (need <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(entry)) return TB_ENOMEM;
        cap *= 2;
    }
    entry *nv = realloc(v->v, cap * sizeof *nv);
    if (!nv) return TB_ENOMEM;
    v->v = nv;
    v->cap = cap;
    return 0;
}

static int64_t floor_ms(int64_t t)
{
    int64_t r = t % NS_PER_MS;
    return r < 0 ? t - r - NS_PER_MS : t - r;
}

int tb_parity_add(tb_parity *p, tb_parity_side side, const tb_trade_record *rec)
{
    if (!p || !rec || (side != TB_SIDE_PIPELINE && side != TB_SIDE_LEGACY) ||
        rec->kind < TB_REC_SIGNAL || rec->kind > TB_REC_FINAL)
        return TB_EINVAL;
    entry_vec *v = rec->kind == TB_REC_FINAL ? &p->finals[side] : &p->waiting[side];
    int rc = vec_reserve(v, v->n + 1);
    if (rc) return rc;
    entry *e = &v->v[v->n++];
    e->rec = *rec;
    e->t = floor_ms(rec->time);
    e->seq = p->seq[side]++;
    e->used = 0;
    p->sum.records[side][rec->kind]++;
    return 0;
}

/* ---- ordering and matching ---------------------------------------------- */

/* Canonical order without the arrival tie-break: (time, kind, strategy,
 * symbol). Kinds are numbered in their canonical rank. */
static int key_cmp(const entry *a, const entry *b)
{
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    if (a->rec.kind != b->rec.kind) return a->rec.kind < b->rec.kind ? -1 : 1;
    int c = strncmp(a->rec.strategy_id, b->rec.strategy_id, TB_STRATEGY_LEN);
    if (c) return c;
    return strncmp(a->rec.symbol, b->rec.symbol, TB_SYMBOL_LEN);
}

static int entry_cmp(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    int c = key_cmp(a, b);
    if (c) return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int same_identity(const entry *a, const entry *b)
{
    return a->rec.kind == b->rec.kind &&
           strncmp(a->rec.strategy_id, b->rec.strategy_id, TB_STRATEGY_LEN) == 0 &&
           strncmp(a->rec.symbol, b->rec.symbol, TB_SYMBOL_LEN) == 0;
}

/* |a - b| without overflow. */
static uint64_t distance(int64_t a, int64_t b)
{
    return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

/* The partner of x among o[from..n): the first unused record of the same
 * identity within the time tolerance — unless x's own side has another
 * unused record of that identity nearer to that partner in time: that one
 * is the better pair, and x stays alone. o is sorted, so the scan stops
 * past x + tol (past x's key, without a tolerance). */
static entry *find_partner(const entry *x, entry_vec *own, size_t own_from, entry_vec *o,
                           size_t from, int64_t tol)
{
    for (size_t k = from; k < o->n; k++) {
        entry *y = &o->v[k];
        if (y->t > x->t && distance(y->t, x->t) > (uint64_t)tol) break;
        if (tol == 0 && key_cmp(y, x) > 0) break;
        if (y->used || !same_identity(x, y)) continue;
        uint64_t d = distance(y->t, x->t);
        for (size_t j = own_from; j < own->n && d > 0; j++) {
            const entry *z = &own->v[j];
            if (z->t > y->t && distance(z->t, y->t) >= d) break;
            if (!z->used && same_identity(z, y) && distance(z->t, y->t) < d) return NULL;
        }
        return y;
    }
    return NULL;
}

static int within(tb_decimal a, tb_decimal b, tb_decimal tol)
{
    tb_decimal d;
    if (tb_dec_sub(a, b, &d) != 0) return 0; /* too far apart to even subtract */
    return tb_dec_abs(d) <= tol;
}

/* The first field that differs, or NULL. Sides, types and quantities are
 * exact: a rounding tolerance has no business there. */
static const char *diff_field(const tb_trade_record *a, const tb_trade_record *b, tb_decimal tol)
{
    switch (a->kind) {
    case TB_REC_SIGNAL:
        if (a->side != b->side) return "side";
        if (a->quantity != b->quantity) return "quantity";
        if (!within(a->price, b->price, tol)) return "price";
        return NULL;
    case TB_REC_ORDER:
        if (a->side != b->side) return "side";
        if (a->order_type != b->order_type) return "type";
        if (a->quantity != b->quantity) return "quantity";
        if (!within(a->price, b->price, tol)) return "price";
        return NULL;
    case TB_REC_FILL:
        if (a->side != b->side) return "side";
        if (a->quantity != b->quantity) return "quantity";
        if (!within(a->price, b->price, tol)) return "price";
        if (!within(a->commission, b->commission, tol)) return "commission";
        return NULL;
    case TB_REC_POSITION:
        if (a->quantity != b->quantity) return "quantity";
        if (!within(a->entry_price, b->entry_price, tol)) return "entry_price";
        if (!within(a->realized_pnl, b->realized_pnl, tol)) return "realized_pnl";
        return NULL;
    case TB_REC_FINAL:
        if (!within(a->realized_pnl, b->realized_pnl, tol)) return "realized_pnl";
        if (!within(a->unrealized_pnl, b->unrealized_pnl, tol)) return "unrealized_pnl";
        if (!within(a->fees, b->fees, tol)) return "fees";
        return NULL;
    }
    return NULL;
}

static void ring_push(tb_parity *p, const tb_trade_record *r)
{
    if (!p->opt.context) return;
    p->ring[p->ring_next] = *r;
    p->ring_next = (p->ring_next + 1) % p->opt.context;
    if (p->ring_n < p->opt.context) p->ring_n++;
}

static void add_divergence(tb_parity *p, tb_divergence_kind kind, const tb_trade_record *pipe,
                           const tb_trade_record *leg, const char *field)
{
    tb_divergence d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    if (pipe) d.pipeline = *pipe;
    if (leg) d.legacy = *leg;
    if (field) snprintf(d.field, sizeof d.field, "%s", field);
    tb_record_kind rk = pipe ? pipe->kind : leg->kind;

    if (p->sum.divergences == 0) {
        /* Freeze the context oldest first: later agreements keep turning
         * the ring, but the report shows what led to the first problem. */
        size_t cap = p->opt.context;
        for (size_t i = 0; i < p->ring_n; i++)
            p->first_ctx[i] = p->ring[(p->ring_next + cap - p->ring_n + i) % cap];
        p->first_ctx_n = p->ring_n;
        p->first = d;
    }
    p->sum.divergences++;
    p->sum.by_kind[rk][kind]++;

    if (p->ndivs >= MAX_DIVERGENCES) return; /* counted, not kept */
    if (p->ndivs == p->divs_cap) {
        size_t cap = p->divs_cap ? p->divs_cap * 2 : 16;
        if (cap > MAX_DIVERGENCES) cap = MAX_DIVERGENCES;
        tb_divergence *nd = realloc(p->divs, cap * sizeof *nd);
        if (!nd) {
            p->lost = 1;
            return;
        }
        p->divs = nd;
        p->divs_cap = cap;
    }
    p->divs[p->ndivs++] = d;
}

static void report_pair(tb_parity *p, const entry *pipe, const entry *leg)
{
    const char *f = diff_field(&pipe->rec, &leg->rec, p->opt.price_tolerance);
    if (f)
        add_divergence(p, TB_DIV_MISMATCH, &pipe->rec, &leg->rec, f);
    else if (p->sum.divergences == 0)
        ring_push(p, &pipe->rec);
}

static void report_alone(tb_parity *p, int side, const entry *x)
{
    if (side == TB_SIDE_PIPELINE)
        add_divergence(p, TB_DIV_ONLY_PIPELINE, &x->rec, NULL, NULL);
    else
        add_divergence(p, TB_DIV_ONLY_LEGACY, NULL, &x->rec, NULL);
}

/* Moves the waiting records with time <= upto to the front of the waiting
 * vector, sorted, and returns how many: the batch is sorted in place, so
 * a one-shot comparison of a long run holds each record once. */
static size_t take_batch(entry_vec *w, int64_t upto)
{
    size_t m = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].t > upto) continue;
        entry e = w->v[i];
        w->v[i] = w->v[m];
        w->v[m] = e;
        w->v[m++].used = 0;
    }
    /* The arrival number is the last sort key, so the partition's
     * shuffling cannot change the order. */
    if (m > 1) qsort(w->v, m, sizeof *w->v, entry_cmp);
    return m;
}

/* The latest time whose records can be decided now. A record's partner
 * may be up to tol later, and whether that partner prefers a record of the
 * first one's own side (find_partner) looks up to tol beyond it: so a
 * record is decided only once everything up to 2 x tol after it has been
 * added. Deciding nothing earlier than the one-shot comparison would is
 * what makes bar-by-bar results equal to a single compare at the end. */
static int64_t decision_limit(int64_t upto, int64_t tol)
{
    int64_t a, b;
    if (upto == INT64_MAX) return INT64_MAX;
    if (__builtin_sub_overflow(upto, tol, &a) || __builtin_sub_overflow(a, tol, &b))
        return INT64_MIN;
    return b;
}

static void match_batches(tb_parity *p, int64_t upto)
{
    entry_vec b[2];
    for (int s = 0; s < 2; s++) {
        b[s] = p->waiting[s];
        b[s].n = take_batch(&p->waiting[s], upto);
    }
    int64_t tol = p->opt.time_tolerance, limit = decision_limit(upto, tol);
    size_t next[2] = {0, 0};
    for (;;) {
        for (int s = 0; s < 2; s++)
            while (next[s] < b[s].n && b[s].v[next[s]].used)
                next[s]++;
        int has0 = next[0] < b[0].n, has1 = next[1] < b[1].n;
        if (!has0 && !has1) break;
        /* The smallest remaining record; on a tie the pipeline's first. */
        int s = !has1 || (has0 && key_cmp(&b[0].v[next[0]], &b[1].v[next[1]]) <= 0) ? 0 : 1;
        int o = 1 - s;
        entry *x = &b[s].v[next[s]];
        if (x->t > limit) break; /* it and everything after it wait */
        x->used = 1;
        entry *y = find_partner(x, &b[s], next[s] + 1, &b[o], next[o], tol);
        if (y) {
            y->used = 1;
            report_pair(p, s == 0 ? x : y, s == 0 ? y : x);
        } else {
            report_alone(p, s, x);
        }
    }
    /* Decided records are dropped; undecided ones and those after upto
     * keep waiting. */
    for (int s = 0; s < 2; s++) {
        entry_vec *w = &p->waiting[s];
        size_t keep = 0;
        for (size_t i = 0; i < w->n; i++)
            if (i >= b[s].n || !w->v[i].used) w->v[keep++] = w->v[i];
        w->n = keep;
    }
}

static void compare_finals(tb_parity *p)
{
    entry_vec *f = p->finals;
    size_t n = f[0].n > f[1].n ? f[0].n : f[1].n;
    for (size_t i = 0; i < n; i++) {
        if (i < f[0].n && i < f[1].n)
            report_pair(p, &f[0].v[i], &f[1].v[i]);
        else if (i < f[0].n)
            report_alone(p, TB_SIDE_PIPELINE, &f[0].v[i]);
        else
            report_alone(p, TB_SIDE_LEGACY, &f[1].v[i]);
    }
    f[0].n = f[1].n = 0;
}

int tb_parity_compare(tb_parity *p, int64_t upto)
{
    if (!p) return TB_EINVAL;
    uint64_t before = p->sum.divergences;
    match_batches(p, upto);
    if (upto == INT64_MAX) compare_finals(p);
    if (p->lost) {
        p->lost = 0;
        return TB_ENOMEM;
    }
    uint64_t found = p->sum.divergences - before;
    return found > INT_MAX ? INT_MAX : (int)found;
}

tb_parity_summary tb_parity_get_summary(const tb_parity *p)
{
    tb_parity_summary s;
    if (p) return p->sum;
    memset(&s, 0, sizeof s);
    return s;
}

size_t tb_parity_divergence_count(const tb_parity *p)
{
    return p ? p->ndivs : 0;
}

const tb_divergence *tb_parity_divergence(const tb_parity *p, size_t i)
{
    return p && i < p->ndivs ? &p->divs[i] : NULL;
}

/* ---- output -------------------------------------------------------------- */

static const char *const kind_names[4] = {"?", "mismatch", "only_pipeline", "only_legacy"};

/* The record's JSON line without its newline, or a placeholder if it
 * cannot be encoded (tb_parity_add accepts any record). */
static const char *record_json(const tb_trade_record *r, char *buf, size_t len)
{
    int n = tb_trade_record_encode(r, buf, len);
    if (n <= 0) return "null";
    buf[n - 1] = '\0';
    return buf;
}

static void describe(const tb_divergence *d, char *buf, size_t len)
{
    if (d->kind == TB_DIV_ONLY_PIPELINE) {
        snprintf(buf, len, "only in the pipeline (missing from the legacy log)");
        return;
    }
    if (d->kind == TB_DIV_ONLY_LEGACY) {
        snprintf(buf, len, "only in the legacy log (missing from the pipeline)");
        return;
    }
    const tb_trade_record *a = &d->pipeline, *b = &d->legacy;
    const char *f = d->field;
    char x[TB_DECIMAL_STRLEN] = "", y[TB_DECIMAL_STRLEN] = "";
    if (!strcmp(f, "side")) {
        snprintf(x, sizeof x, "%s", tb_side_name(a->side));
        snprintf(y, sizeof y, "%s", tb_side_name(b->side));
    } else if (!strcmp(f, "type")) {
        snprintf(x, sizeof x, "%s", tb_order_type_name(a->order_type));
        snprintf(y, sizeof y, "%s", tb_order_type_name(b->order_type));
    } else {
        tb_decimal va = 0, vb = 0;
        if (!strcmp(f, "quantity")) va = a->quantity, vb = b->quantity;
        if (!strcmp(f, "price")) va = a->price, vb = b->price;
        if (!strcmp(f, "commission")) va = a->commission, vb = b->commission;
        if (!strcmp(f, "entry_price")) va = a->entry_price, vb = b->entry_price;
        if (!strcmp(f, "realized_pnl")) va = a->realized_pnl, vb = b->realized_pnl;
        if (!strcmp(f, "unrealized_pnl")) va = a->unrealized_pnl, vb = b->unrealized_pnl;
        if (!strcmp(f, "fees")) va = a->fees, vb = b->fees;
        tb_dec_format(va, x, sizeof x);
        tb_dec_format(vb, y, sizeof y);
    }
    snprintf(buf, len, "%s differs: pipeline %s, legacy %s", f, x, y);
}

/* One record of the report. Only the legacy side's line number is shown:
 * that is the file a user has to open. */
static int write_record_line(FILE *f, const char *prefix, const tb_trade_record *r, int present,
                             int show_line)
{
    char buf[RECORD_LINE_SIZE];
    if (!present) return fprintf(f, "%s(none)\n", prefix) < 0 ? TB_EIO : 0;
    const char *json = record_json(r, buf, sizeof buf);
    int n = show_line && r->line
                ? fprintf(f, "%s%s (line %llu)\n", prefix, json, (unsigned long long)r->line)
                : fprintf(f, "%s%s\n", prefix, json);
    return n < 0 ? TB_EIO : 0;
}

int tb_parity_write_report(const tb_parity *p, FILE *f)
{
    if (!p || !f) return TB_EINVAL;
    const tb_parity_summary *s = &p->sum;
    if (s->divergences == 0) {
        const uint64_t *n = s->records[TB_SIDE_PIPELINE];
        if (fprintf(f, "IDENTICAL: %llu signals, %llu orders, %llu fills, final PnL equal\n",
                    (unsigned long long)n[TB_REC_SIGNAL], (unsigned long long)n[TB_REC_ORDER],
                    (unsigned long long)n[TB_REC_FILL]) < 0)
            return TB_EIO;
        return fflush(f) == 0 ? 0 : TB_EIO;
    }

    const tb_divergence *d = &p->first;
    const tb_trade_record *r = d->kind == TB_DIV_ONLY_LEGACY ? &d->legacy : &d->pipeline;
    char what[160], where[128];
    describe(d, what, sizeof what);
    if (r->kind == TB_REC_FINAL) {
        snprintf(where, sizeof where, "final");
    } else {
        char t[32];
        tb_format_time_iso(r->time, t, sizeof t);
        snprintf(where, sizeof where, "%s %s %s/%s", tb_record_kind_name(r->kind), t,
                 r->strategy_id, r->symbol);
    }
    int rc = fprintf(f, "DIVERGED: first divergence at %s: %s\n", where, what) < 0 ? TB_EIO : 0;
    for (size_t i = 0; i < p->first_ctx_n && !rc; i++)
        rc = write_record_line(f, "  agreed:   ", &p->first_ctx[i], 1, 0);
    if (!rc)
        rc = write_record_line(f, "  pipeline: ", &d->pipeline, d->kind != TB_DIV_ONLY_LEGACY, 0);
    if (!rc)
        rc = write_record_line(f, "  legacy:   ", &d->legacy, d->kind != TB_DIV_ONLY_PIPELINE, 1);
    if (rc) return rc;

    if (fprintf(f, "divergences: %llu (", (unsigned long long)s->divergences) < 0) return TB_EIO;
    for (int k = TB_REC_SIGNAL; k <= TB_REC_FINAL; k++) {
        const uint64_t *c = s->by_kind[k];
        if (fprintf(f, "%s%s: mismatch %llu, only-pipeline %llu, only-legacy %llu",
                    k == TB_REC_SIGNAL ? "" : "; ", tb_record_kind_name((tb_record_kind)k),
                    (unsigned long long)c[TB_DIV_MISMATCH],
                    (unsigned long long)c[TB_DIV_ONLY_PIPELINE],
                    (unsigned long long)c[TB_DIV_ONLY_LEGACY]) < 0)
            return TB_EIO;
    }
    if (fprintf(f, ")\n") < 0) return TB_EIO;
    if (p->ndivs < s->divergences &&
        fprintf(f, "(only the first %zu divergences are kept)\n", p->ndivs) < 0)
        return TB_EIO;
    return fflush(f) == 0 ? 0 : TB_EIO;
}

static int write_counts(FILE *f, const uint64_t *c)
{
    int n = fprintf(
        f, "{\"signal\":%llu,\"order\":%llu,\"fill\":%llu,\"position\":%llu,\"final\":%llu}",
        (unsigned long long)c[TB_REC_SIGNAL], (unsigned long long)c[TB_REC_ORDER],
        (unsigned long long)c[TB_REC_FILL], (unsigned long long)c[TB_REC_POSITION],
        (unsigned long long)c[TB_REC_FINAL]);
    return n < 0 ? TB_EIO : 0;
}

static int write_divergence(FILE *f, const tb_divergence *d, int first)
{
    char a[RECORD_LINE_SIZE], b[RECORD_LINE_SIZE];
    const tb_trade_record *r = d->kind == TB_DIV_ONLY_LEGACY ? &d->legacy : &d->pipeline;
    const char *pj =
        d->kind == TB_DIV_ONLY_LEGACY ? "null" : record_json(&d->pipeline, a, sizeof a);
    const char *lj =
        d->kind == TB_DIV_ONLY_PIPELINE ? "null" : record_json(&d->legacy, b, sizeof b);
    if (fprintf(f, "%s\n{\"kind\":\"%s\",\"record\":\"%s\"", first ? "" : ",", kind_names[d->kind],
                tb_record_kind_name(r->kind)) < 0)
        return TB_EIO;
    if (d->kind == TB_DIV_MISMATCH && fprintf(f, ",\"field\":\"%s\"", d->field) < 0) return TB_EIO;
    if (fprintf(f, ",\"pipeline\":%s,\"legacy\":%s", pj, lj) < 0) return TB_EIO;
    if (d->kind != TB_DIV_ONLY_PIPELINE && d->legacy.line &&
        fprintf(f, ",\"legacy_line\":%llu", (unsigned long long)d->legacy.line) < 0)
        return TB_EIO;
    return fprintf(f, "}") < 0 ? TB_EIO : 0;
}

int tb_parity_write_json(const tb_parity *p, FILE *f)
{
    if (!p || !f) return TB_EINVAL;
    const tb_parity_summary *s = &p->sum;
    if (fprintf(f, "{\"identical\":%s,\"summary\":{\"records\":{\"pipeline\":",
                s->divergences ? "false" : "true") < 0)
        return TB_EIO;
    int rc = write_counts(f, s->records[TB_SIDE_PIPELINE]);
    if (!rc && fprintf(f, ",\"legacy\":") < 0) rc = TB_EIO;
    if (!rc) rc = write_counts(f, s->records[TB_SIDE_LEGACY]);
    if (!rc && fprintf(f, "},\"divergences\":%llu,\"kept\":%zu,\"by_kind\":{",
                       (unsigned long long)s->divergences, p->ndivs) < 0)
        rc = TB_EIO;
    for (int k = TB_REC_SIGNAL; k <= TB_REC_FINAL && !rc; k++) {
        const uint64_t *c = s->by_kind[k];
        if (fprintf(f, "%s\"%s\":{\"mismatch\":%llu,\"only_pipeline\":%llu,\"only_legacy\":%llu}",
                    k == TB_REC_SIGNAL ? "" : ",", tb_record_kind_name((tb_record_kind)k),
                    (unsigned long long)c[TB_DIV_MISMATCH],
                    (unsigned long long)c[TB_DIV_ONLY_PIPELINE],
                    (unsigned long long)c[TB_DIV_ONLY_LEGACY]) < 0)
            rc = TB_EIO;
    }
    if (!rc && fprintf(f, "}},\"divergences\":[") < 0) rc = TB_EIO;
    for (size_t i = 0; i < p->ndivs && !rc; i++)
        rc = write_divergence(f, &p->divs[i], i == 0);
    if (!rc && fprintf(f, "%s]}\n", p->ndivs ? "\n" : "") < 0) rc = TB_EIO;
    if (rc) return rc;
    return fflush(f) == 0 ? 0 : TB_EIO;
}
