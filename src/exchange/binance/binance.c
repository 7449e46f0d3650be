/* The Binance Spot adapter's registry entry (`[exchange] type = binance`):
 * its keys, their checks, paper mode (the simulator) and the public calls
 * of binance.h. The live adapter itself (testnet, live) is bn_adapter.h's. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../core/errbuf.h"
#include "bn_adapter.h"
#include "tradebus/binance.h"
#include "tradebus/config.h"
#include "tradebus/sim_exchange.h"

/* ---- key checks ----------------------------------------------------------- */

static int url_check(const char *value, const char *const *schemes, char *msg, size_t msglen)
{
    if (strcasecmp(value, "auto") == 0) return 0;
    for (size_t i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(value, schemes[i], n) == 0 && value[n]) return 0;
    }
    snprintf(msg, msglen, "'%s' must be auto or a URL starting with %s or %s", value, schemes[0],
             schemes[1]);
    return TB_ECONFIG;
}

static int rest_url_check(const char *value, char *msg, size_t msglen)
{
    static const char *const s[] = {"https://", "http://", NULL};
    return url_check(value, s, msg, msglen);
}

static int ws_url_check(const char *value, char *msg, size_t msglen)
{
    static const char *const s[] = {"wss://", "ws://", NULL};
    return url_check(value, s, msg, msglen);
}

/* A Binance symbol as exchangeInfo spells it: upper-case letters and digits. */
static int is_symbol(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9'))) return 0;
    return n >= 2 && n < TB_SYMBOL_LEN;
}

static int bnb_price_check(const char *value, char *msg, size_t msglen)
{
    tb_decimal d;
    if (strcasecmp(value, "none") == 0 || is_symbol(value)) return 0;
    if (tb_dec_parse(value, (size_t)-1, &d) == 0 && d > 0) return 0;
    snprintf(msg, msglen,
             "'%s' must be none, a price in the quote asset per BNB (e.g. 600.5) or the "
             "symbol to read it from (e.g. BNBUSDT)",
             value);
    return TB_ECONFIG;
}

/* Defaults by mode (../shared/notes/binance-spot.md). "auto" in the config. */
static const char *const rest_urls[] = {"https://testnet.binance.vision",
                                        "https://api.binance.com"};
static const char *const ws_urls[] = {"wss://ws-api.testnet.binance.vision/ws-api/v3",
                                      "wss://ws-api.binance.com:443/ws-api/v3"};

static const tb_exchange_key bn_keys[] = {
    {"mode", TB_XKEY_ENUM, "paper", NULL, NULL, "paper|testnet|live",
     "paper: fills by the simulator on the live bars, no keys; testnet: Binance's spot "
     "testnet; live: production (real money)",
     NULL},
    {"rest_url", TB_XKEY_TEXT, "auto", NULL, NULL, NULL,
     "REST base URL; auto = https://api.binance.com (live), https://testnet.binance.vision "
     "(testnet)",
     rest_url_check},
    {"ws_api_url", TB_XKEY_TEXT, "auto", NULL, NULL, NULL,
     "WebSocket API URL (user data stream); auto = wss://ws-api.binance.com:443/ws-api/v3 "
     "(live), wss://ws-api.testnet.binance.vision/ws-api/v3 (testnet)",
     ws_url_check},
    {"recv_window_ms", TB_XKEY_INT, "5000", "1", "60000", NULL,
     "recvWindow of signed requests: how late the server may receive one", NULL},
    {"request_timeout_ms", TB_XKEY_INT, "10000", "100", "120000", NULL,
     "a REST request without a reply this long is a timeout (ambiguous for an order)", NULL},
    {"time_sync_interval_s", TB_XKEY_INT, "300", "1", "86400", NULL,
     "how often the clock offset to GET /api/v3/time is measured again", NULL},
    {"stream_silence_s", TB_XKEY_INT, "30", "1", "3600", NULL,
     "user stream silent this long: open orders checked by REST and the stream pinged; no "
     "answer: reconnect",
     NULL},
    {"in_doubt_grace_ms", TB_XKEY_INT, "10000", "0", "600000", NULL,
     "after an ambiguous send, a -2013 (unknown order) within this time keeps the order in "
     "doubt instead of proving it was never placed",
     NULL},
    {"bnb_price", TB_XKEY_TEXT, "none", NULL, NULL, NULL,
     "commissions charged in BNB: quote asset per BNB (e.g. 600.5), or a symbol (BNBUSDT) "
     "whose last 1m close is read; none = such a fill is reported without commission and "
     "logged",
     bnb_price_check},
    {"fee_bps", TB_XKEY_DECIMAL, "10", "0", "9999.99999999", NULL,
     "paper mode: the simulator's commission (as sim's fee_bps)", NULL},
    {"slippage_bps", TB_XKEY_DECIMAL, "0", "0", "9999.99999999", NULL,
     "paper mode: the simulator's slippage (as sim's slippage_bps)", NULL},
};

/* Paper mode is the simulator: its settings are kept where sim keeps them
 * (cfg->exchange), so a program can adjust them between build and create as
 * it does for sim. Testnet and live need the credentials' specs. */
static int bn_configure(const tb_exchange_type *type, tb_config *cfg, char *err, size_t errlen)
{
    (void)type;
    tb_sim_exchange_config *c = &cfg->exchange;
    tb_sim_exchange_config_init(c);
    c->initial_cash = cfg->initial_cash;
    c->symbols = cfg->symbols;
    c->nsymbols = cfg->nsymbols;
    if (tb_exchange_param_dec(cfg, "fee_bps", &c->fee_bps) != 0 ||
        tb_exchange_param_dec(cfg, "slippage_bps", &c->slippage_bps) != 0) {
        tb__errf(err, errlen, "[exchange] binance: bad fee_bps or slippage_bps");
        return TB_ECONFIG;
    }
    const char *mode = tb_exchange_param(cfg, "mode");
    if (mode && strcasecmp(mode, "paper") != 0 && (!cfg->api_key_spec || !cfg->api_secret_spec)) {
        tb__errf(err, errlen,
                 "[exchange] mode = %s needs api_key and api_secret (e.g. api_key = "
                 "env:BINANCE_API_KEY, api_secret = file:binance.secret; see secret.h)",
                 mode);
        return TB_ECONFIG;
    }
    return 0;
}

/* ---- the public calls ---------------------------------------------------- */

static int bn_create(const tb_exchange_type *type, const tb_config *cfg, tb_loop *loop,
                     tb_exchange **out, char *err, size_t errlen)
{
    (void)type;
    const char *mode = tb_exchange_param(cfg, "mode");
    if (!mode || strcasecmp(mode, "paper") == 0)
        return tb_sim_exchange_create(&cfg->exchange, out, err, errlen);
    if (!loop) {
        tb__errf(err, errlen, "mode = %s needs the run's event loop (tradebus live)", mode);
        return TB_EMISUSE;
    }
    int live = strcasecmp(mode, "live") == 0;
    const char *rest = tb_exchange_param(cfg, "rest_url");
    const char *ws = tb_exchange_param(cfg, "ws_api_url");
    if (!rest || strcasecmp(rest, "auto") == 0) rest = rest_urls[live];
    if (!ws || strcasecmp(ws, "auto") == 0) ws = ws_urls[live];
    return tb__bn_live_create(cfg, loop, !live, rest, ws, out, err, errlen);
}

const tb_exchange_type tb_binance_exchange_type = {
    .name = "binance",
    .description = "Binance Spot: paper (simulated fills on live bars), testnet or live",
    .keys = bn_keys,
    .nkeys = sizeof(bn_keys) / sizeof(bn_keys[0]),
    .create = bn_create,
    .configure = bn_configure,
};
