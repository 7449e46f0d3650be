/* tradebus — umbrella header: every public module. */
#ifndef TRADEBUS_TRADEBUS_H
#define TRADEBUS_TRADEBUS_H

#include "backtest.h"
#include "bus.h"
#include "codec.h"
#include "config.h"
#include "decimal.h"
#include "error.h"
#include "event.h"
#include "exchange.h"
#include "indicators.h"
#include "journal.h"
#include "legacy.h"
#include "loopback.h"
#include "marketdata.h"
#include "monitor.h"
#include "node.h"
#include "orders.h"
#include "parity.h"
#include "pnlbook.h"
#include "position.h"
#include "risk.h"
#include "secret.h"
#include "shadow.h"
#include "signal.h"
#include "strategy.h"
#include "tradelog.h"
#include "transport.h"
#include "version.h"

#endif
