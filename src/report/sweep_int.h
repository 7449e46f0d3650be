/* Private (not installed): a sweep table as sweep_csv.c reads it from
 * sweep.csv and sweep_html.c draws it. */
#ifndef TRADEBUS_SWEEP_INT_H
#define TRADEBUS_SWEEP_INT_H

#include <stddef.h>
#include <stdio.h>

#include "tradebus/error.h"

#define TB__SWEEP_NMETRICS 11 /* bars .. exposure_pct; the error column follows */

/* The metric columns' names, in the CSV's order. */
extern const char *const tb__sweep_metrics[TB__SWEEP_NMETRICS];

/* One distinct value of a parameter. */
typedef struct {
    const char *s; /* as first spelled in the CSV */
    double v;      /* numeric parameters only */
    size_t seen;   /* its first-seen position among the parameter's values */
} tb__sweep_value;

typedef struct {
    const char *name;
    int numeric; /* every row's value is a plain number: values sorted by value */
    tb__sweep_value *vals;
    size_t nvals;
} tb__sweep_param;

typedef struct {
    const char **f; /* the row's fields (parameters, metrics, error) */
    size_t line;    /* where it starts in the CSV */
    size_t grid;    /* its position among the rows (grid order) */
    double m[TB__SWEEP_NMETRICS];
    unsigned char has[TB__SWEEP_NMETRICS]; /* metric present (not empty) */
    int failed;                            /* error column not empty */
    int ok;                                /* not failed and the objective present */
    double key;                            /* the objective, negated when lower is better */
} tb__sweep_row;

typedef struct {
    const char *path, *objective;
    int obj;   /* the objective's metric index */
    int lower; /* lower is better (fees, max_drawdown_pct) */
    size_t nparams, ncols;
    tb__sweep_param *params;
    tb__sweep_row *rows;
    size_t nrows;
    tb__sweep_row **order; /* best first; failed and undefined last, in grid order */
    size_t *vi;            /* nrows x nparams: each row's value index per parameter */
    size_t nok, nfailed, nundef;
    const char **fields;
    char *buf, *arena;
} tb__sweep;

/* Reads and checks csv_path (s zeroed first; freed on error). 0, TB_EIO,
 * TB_EPARSE or TB_EINVAL (unknown objective), TB_ENOMEM; "path:line[:col]: why" in err. */
int tb__sweep_load(tb__sweep *s, const char *csv_path, const char *objective, size_t nparams,
                   char *err, size_t errlen);
void tb__sweep_free(tb__sweep *s);
/* Writes the page. 0, TB_EIO or TB_ENOMEM. */
int tb__sweep_html(const tb__sweep *s, FILE *f);

#endif
