/* tradebus indicators: indicator values as CSV. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_log.h"

const char *const cli_indicators_help =
    "tradebus indicators --data SPEC --ind NAME:PARAMS [NAME:PARAMS]...\n"
    "                    [--timeframe TF]\n"
    "\n"
    "Prints CSV: timestamp (bar open, ISO-8601 UTC), close, then one column per\n"
    "output, empty while the indicator warms up. Indicators:\n"
    "  sma:N  ema:N  rsi:N  atr:N  donchian:N (lower,upper)\n"
    "  macd:FAST,SLOW,SIGNAL (macd,signal,hist)  bbands:N,K (lower,middle,upper)\n"
    "\n"
    "--timeframe TF computes them on the data resampled to TF, one row per TF bar.\n"
    "  TF is one of " TB_TIMEFRAME_NAMES ",\n"
    "  at least the data's own interval and a multiple of it. Bars are aligned\n"
    "  to UTC (a 15m bar covers [00:00, 00:15)); a bar is printed once its\n"
    "  period is over, so a partial period at the end of the data is left out.\n"
    "  See docs/data.md.\n"
    "";

typedef enum { IND_SMA, IND_EMA, IND_RSI, IND_MACD, IND_BBANDS, IND_ATR, IND_DONCHIAN } ind_kind;

typedef struct {
    ind_kind kind;
    union {
        tb_sma sma;
        tb_ema ema;
        tb_rsi rsi;
        tb_macd macd;
        tb_bbands bb;
        tb_atr atr;
        tb_donchian dc;
    } u;
    char label[48];
} indicator;

static int parse_ints(const char *s, long *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        errno = 0;
        v[n++] = strtol(s, &end, 10);
        if (errno || end == s) return -1;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *s ? -1 : n;
}

static int ind_open(indicator *ind, const char *spec, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *params = colon ? colon + 1 : "";
    long v[3];
    int n = -1, rc = TB_EINVAL;
    char label_params[32];
    snprintf(label_params, sizeof(label_params), "%s", params);
    for (char *c = label_params; *c; c++)
        if (*c == ',' || *c == '.') *c = '_';
#define IS(name) (nl == strlen(name) && strncmp(spec, name, nl) == 0)
    if (IS("sma") || IS("ema") || IS("rsi") || IS("atr") || IS("donchian")) {
        n = parse_ints(params, v, 1);
        if (n == 1 && v[0] >= 1 && v[0] <= 100000) {
            int p = (int)v[0];
            if (IS("sma")) ind->kind = IND_SMA, rc = tb_sma_init(&ind->u.sma, p);
            if (IS("ema")) ind->kind = IND_EMA, rc = tb_ema_init(&ind->u.ema, p);
            if (IS("rsi")) ind->kind = IND_RSI, rc = tb_rsi_init(&ind->u.rsi, p);
            if (IS("atr")) ind->kind = IND_ATR, rc = tb_atr_init(&ind->u.atr, p);
            if (IS("donchian")) ind->kind = IND_DONCHIAN, rc = tb_donchian_init(&ind->u.dc, p);
        }
    } else if (IS("macd")) {
        n = parse_ints(params, v, 3);
        if (n == 3) {
            ind->kind = IND_MACD;
            rc = tb_macd_init(&ind->u.macd, (int)v[0], (int)v[1], (int)v[2]);
        }
    } else if (IS("bbands")) {
        char *end;
        long p = strtol(params, &end, 10);
        double k = *end == ',' ? strtod(end + 1, &end) : 0;
        if (*end == 0 && p >= 1 && p <= 100000 && k > 0 && k < 100) {
            ind->kind = IND_BBANDS;
            rc = tb_bbands_init(&ind->u.bb, (int)p, k);
        }
    } else {
        snprintf(err, errlen,
                 "--ind %s: unknown indicator (known: sma, ema, rsi, macd, bbands, atr, "
                 "donchian)",
                 spec);
        return TB_EINVAL;
    }
#undef IS
    if (rc) {
        snprintf(err, errlen, "--ind %s: bad parameters (see 'tradebus help indicators')", spec);
        return rc;
    }
    snprintf(ind->label, sizeof(ind->label), "%.*s_%s", (int)nl, spec, label_params);
    return 0;
}

static void ind_close(indicator *ind)
{
    switch (ind->kind) {
    case IND_SMA:
        tb_sma_close(&ind->u.sma);
        break;
    case IND_EMA:
        tb_ema_close(&ind->u.ema);
        break;
    case IND_RSI:
        tb_rsi_close(&ind->u.rsi);
        break;
    case IND_MACD:
        tb_macd_close(&ind->u.macd);
        break;
    case IND_BBANDS:
        tb_bbands_close(&ind->u.bb);
        break;
    case IND_ATR:
        tb_atr_close(&ind->u.atr);
        break;
    case IND_DONCHIAN:
        tb_donchian_close(&ind->u.dc);
        break;
    }
}

static void ind_header(const indicator *ind)
{
    const char *l = ind->label;
    switch (ind->kind) {
    case IND_MACD:
        printf(",%s_macd,%s_signal,%s_hist", l, l, l);
        break;
    case IND_BBANDS:
        printf(",%s_lower,%s_middle,%s_upper", l, l, l);
        break;
    case IND_DONCHIAN:
        printf(",%s_lower,%s_upper", l, l);
        break;
    default:
        printf(",%s", l);
    }
}

static void put_vals(int ready, const double *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (ready)
            printf(",%.8f", v[i]);
        else
            printf(",");
    }
}

static void ind_update(indicator *ind, const tb_market_data *bar)
{
    double c = tb_dec_to_double(bar->close), h = tb_dec_to_double(bar->high),
           lo = tb_dec_to_double(bar->low);
    int r;
    switch (ind->kind) {
    case IND_SMA:
        r = tb_sma_update(&ind->u.sma, c);
        put_vals(r, &ind->u.sma.value, 1);
        break;
    case IND_EMA:
        r = tb_ema_update(&ind->u.ema, c);
        put_vals(r, &ind->u.ema.value, 1);
        break;
    case IND_RSI:
        r = tb_rsi_update(&ind->u.rsi, c);
        put_vals(r, &ind->u.rsi.value, 1);
        break;
    case IND_ATR:
        r = tb_atr_update(&ind->u.atr, h, lo, c);
        put_vals(r, &ind->u.atr.value, 1);
        break;
    case IND_MACD: {
        r = tb_macd_update(&ind->u.macd, c);
        double v[3] = {ind->u.macd.macd, ind->u.macd.signal_value, ind->u.macd.hist};
        put_vals(r, v, 3);
        break;
    }
    case IND_BBANDS: {
        r = tb_bbands_update(&ind->u.bb, c);
        double v[3] = {ind->u.bb.lower, ind->u.bb.middle, ind->u.bb.upper};
        put_vals(r, v, 3);
        break;
    }
    case IND_DONCHIAN: {
        r = tb_donchian_update(&ind->u.dc, h, lo);
        double v[2] = {ind->u.dc.lower, ind->u.dc.upper};
        put_vals(r, v, 2);
        break;
    }
    }
}

/* One output row: the bar's open time and close, then every indicator. */
static void put_row(indicator *inds, int nind, const tb_market_data *bar)
{
    char t[32], c[TB_DECIMAL_STRLEN];
    tb_format_time_iso(bar->open_time, t, sizeof(t));
    tb_dec_format(bar->close, c, sizeof(c));
    printf("%s,%s", t, c);
    for (int i = 0; i < nind; i++)
        ind_update(&inds[i], bar);
    printf("\n");
}

int cmd_indicators(int argc, char **argv)
{
    const char *data = NULL, *timeframe = NULL;
    int64_t tf_ns = 0;
    tb_resampler *rs = NULL;
    indicator *inds = calloc((size_t)argc + 1, sizeof(*inds));
    int nind = 0, rc = 0, code = 0;
    char err[512] = "";
    if (!inds) return EXIT_RUNTIME;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cli_indicators_help, stdout);
            goto out;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            if (data) {
                cli_usage_error("indicators: give one --data (got a second: %s)", argv[i + 1]);
                code = EXIT_USAGE;
                goto out;
            }
            data = argv[++i];
        } else if (strcmp(argv[i], "--timeframe") == 0 && i + 1 < argc) {
            timeframe = argv[++i];
            if (tb_timeframe_parse(timeframe, &tf_ns, err, sizeof(err)) != 0) {
                cli_usage_error("indicators: --timeframe: %s", err);
                code = EXIT_USAGE;
                goto out;
            }
        } else if (strcmp(argv[i], "--ind") == 0) {
            /* --ind takes every following word up to the next option. */
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                if (ind_open(&inds[nind], argv[++i], err, sizeof(err)) != 0) {
                    cli_log(CLI_LOG_ERROR, NULL, "%s", err);
                    code = EXIT_USAGE;
                    goto out;
                }
                nind++;
            }
        } else {
            cli_usage_error("indicators: unknown or incomplete option '%s'", argv[i]);
            code = EXIT_USAGE;
            goto out;
        }
    }
    if (!data || nind == 0) {
        cli_usage_error("indicators: %s", "need --data SPEC and at least one --ind NAME:PARAMS");
        code = EXIT_USAGE;
        goto out;
    }
    if (timeframe && (rc = tb_resampler_create(&tf_ns, 1, 1, &rs, err, sizeof(err))) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err);
        code = EXIT_RUNTIME;
        goto out;
    }
    tb_md_config mc;
    tb_md_config_init(&mc);
    tb_md_reader *r;
    if ((rc = tb_md_reader_open(data, &mc, &r, err, sizeof(err))) != 0) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err);
        code = rc == TB_EINVAL ? EXIT_USAGE : EXIT_DATA;
        goto out;
    }
    printf("timestamp,close");
    for (int i = 0; i < nind; i++)
        ind_header(&inds[i]);
    printf("\n");
    tb_market_data bar;
    while ((rc = tb_md_reader_next(r, &bar, err, sizeof(err))) == 0) {
        if (!rs) {
            put_row(inds, nind, &bar);
            continue;
        }
        tb_resampled done[TB_RESAMPLE_MAX_OUT(1)];
        size_t ndone;
        if ((rc = tb_resampler_push(rs, &bar, done, TB_RESAMPLE_MAX_OUT(1), &ndone, err,
                                    sizeof(err))) != 0)
            break;
        for (size_t k = 0; k < ndone; k++)
            put_row(inds, nind, &done[k].bar);
    }
    tb_md_reader_close(r);
    if (rc != TB_EEOF) {
        cli_log(CLI_LOG_ERROR, NULL, "%s", err);
        /* A timeframe below the data's interval is a bad option, not bad data. */
        code = rc == TB_EINVAL ? EXIT_USAGE : EXIT_DATA;
    }
out:
    tb_resampler_destroy(rs);
    for (int i = 0; i < nind; i++)
        ind_close(&inds[i]);
    free(inds);
    return code;
}
