#!/usr/bin/env python3
"""legacy_bot.py: a small trading monolith, migrated to tradebus phase by phase.

This is the kind of bot tradebus replaces: one loop with its own signals (an
SMA crossover), its own order sending against its own simulated fills and its
own position keeping. Python 3, standard library only; money is
decimal.Decimal, never float.

Phases (docs/migration.md walks through them):

  --phase 1  The bot alone. Reads the Binance kline CSV (--data) and writes
             the canonical trade log (docs/trade-log.md) on stdout.
  --phase 2  An external component of a tradebus run
             (examples/migration/phase2.ini, replaces = orders positions):
             tradebus's Signal Generator drives the bot's order and position
             code. Reads SignalGenerated, MarketData and its own OrderFilled
             on stdin, one JSON event a line; answers OrderPlacementRequest,
             OrderCreated, OrderFilled (at the next bar's open; a signal for
             another order type than MARKET gets an OrderRejected) and
             PositionUpdate (one per fill, two for a fill through zero)
             events, each reply ended by {"end": EVENT_ID}.
  --phase 3  tradebus sends the orders (its Order Manager and simulated
             exchange); the bot only keeps positions from OrderFilled
             (examples/migration/phase3.ini, replaces = positions).
  --phase 4  The bot is off: examples/migration/phase4.ini is the pipeline
             alone. Running the bot with --phase 4 only says so.

At every phase, `tradebus parity` against the phase 1 log prints IDENTICAL.
In phases 2 and 3 the strategy is tradebus's (the config's [strategy.ID]):
the bot takes strategy, symbol and quantities from the events it receives.

Execution model (tradebus's simulated exchange with slippage 0): a MARKET
order sent on a bar's close fills in full at the next bar's open; commission
= price x quantity x fee_bps / 10000, rounded half-up to 8 decimals. Cash is
not checked: give the tradebus run enough initial_cash that no order is
refused. Diagnostics go to stderr; stdout carries only the log (phase 1) or
the protocol (phases 2 and 3)."""

import argparse
import datetime
import json
import sys
from decimal import ROUND_HALF_UP, Decimal, getcontext

getcontext().prec = 60  # every product and sum below is exact at this precision
EIGHT = Decimal("0.00000001")
EPSILON = sys.float_info.epsilon
NS_PER_MS = 1000000


def q8(x):
    """Rounds to 8 decimals, ties away from zero (as the exchange does)."""
    return x.quantize(EIGHT, rounding=ROUND_HALF_UP)


def dec(x):
    """A decimal as a plain string: "0.01", "42", "-3"."""
    if x == 0:
        return "0"
    return format(x.normalize(), "f")


def parse_dec(s):
    """A data file's number, at most 8 decimals (more are rounded half-up)."""
    return q8(Decimal(s))


def iso(ms):
    t = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    t += datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


# ---- signals: SMA crossover ------------------------------------------------


class Sma:
    """Rolling mean of the last n closes in float, as tradebus's indicator
    computes it: a running sum, re-added from the window every n bars so the
    rounding error of "sum += new - old" does not accumulate."""

    def __init__(self, n):
        self.n, self.buf, self.head, self.count = n, [0.0] * n, 0, 0
        self.sum = self.value = 0.0

    def update(self, x):
        if self.count == self.n:
            self.sum -= self.buf[self.head]
        else:
            self.count += 1
        self.buf[self.head] = x
        self.sum += x
        self.head += 1
        if self.head == self.n:
            self.head = 0
            total = 0.0
            for v in self.buf:
                total += v
            self.sum = total
        if self.count < self.n:
            return False
        self.value = self.sum / self.n
        return True


class SmaCross:
    """BUY when SMA(fast) crosses above SMA(slow), SELL when below. Long-only
    it enters from flat and exits the whole long; with allow_short it aims at
    +quantity / -quantity (a flip is one order of twice the quantity). SMAs
    within 16 x slow x epsilon (relative) of each other are equal: float noise
    on a flat market is not a cross."""

    def __init__(self, fast, slow, quantity, allow_short):
        self.fast, self.slow = Sma(fast), Sma(slow)
        self.tol = 16.0 * float(slow) * EPSILON
        self.quantity, self.allow_short = quantity, allow_short
        self.prev = None
        self.target = Decimal(0)  # the position the signals asked for

    def compare(self, a, b):
        diff = a - b
        if abs(diff) <= self.tol * max(abs(a), abs(b)):
            return 0
        return 1 if diff > 0 else -1

    def on_close(self, close):
        """(side, quantity) to trade on this close, or None."""
        x = float(int(close / EIGHT)) / 1e8  # the close as a float
        fast_ok = self.fast.update(x)
        if not self.slow.update(x) or not fast_ok:
            return None
        rel, prev = self.compare(self.fast.value, self.slow.value), self.prev
        self.prev = rel
        if prev is None:
            return None
        up, down = prev <= 0 and rel > 0, prev >= 0 and rel < 0
        want = None
        if self.allow_short:
            if up or down:
                want = (self.quantity if up else -self.quantity) - self.target
        elif up and self.target == 0:
            want = self.quantity
        elif down and self.target > 0:
            want = -self.target
        if not want:
            return None
        self.target += want
        return ("BUY", want) if want > 0 else ("SELL", -want)


# ---- positions -------------------------------------------------------------


class Position:
    def __init__(self, position_id):
        self.id, self.qty, self.entry, self.realized = position_id, Decimal(0), Decimal(0), Decimal(0)


class Book:
    """Positions per (strategy, symbol): average entry price, realized PnL
    (price difference x quantity closed, fees excluded), unrealized at the
    last close. A position that goes flat ends; the next fill opens a new one
    (a new position id, realized from 0). A fill through zero (long 1, sell 2)
    ends the old position and opens the new one on the rest."""

    def __init__(self):
        self.positions = {}  # (strategy, symbol) -> Position, open or last ended
        self.all_realized = {}  # (strategy, symbol) -> realized over every life
        self.last_close = {}  # symbol -> Decimal
        self.next_id = 0
        self.fees = Decimal(0)

    def _new(self):
        self.next_id += 1
        return Position(self.next_id)

    def mark_of(self, symbol, fill_price):
        return self.last_close.get(symbol, fill_price)

    def update(self, p, strategy, symbol, mark):
        """The PositionUpdate payload of p."""
        unrealized = q8((mark - p.entry) * p.qty) if p.qty else Decimal(0)
        return {
            "position_id": str(p.id),
            "strategy_id": strategy,
            "symbol": symbol,
            "current_quantity": dec(p.qty),
            "entry_price": dec(p.entry),
            "unrealized_pnl": dec(unrealized),
            "realized_pnl": dec(p.realized),
            "mark_price": dec(mark),
            "status": "OPEN" if p.qty else "CLOSED",
        }

    def fill(self, strategy, symbol, side, qty, price, commission):
        """Books one fill; returns the PositionUpdate payloads it makes (two
        for a fill through zero: the old position ended, then the new)."""
        key = (strategy, symbol)
        self.fees += commission
        mark = self.mark_of(symbol, price)
        delta = qty if side == "BUY" else -qty
        p = self.positions.get(key)
        out = []
        if p is None or p.qty == 0:
            p = self.positions[key] = self._new()
            p.qty, p.entry = delta, price
        elif (p.qty > 0) == (delta > 0):
            p.entry = q8((p.entry * abs(p.qty) + price * qty) / (abs(p.qty) + qty))
            p.qty += delta
        else:
            closed = min(qty, abs(p.qty))
            pnl = q8((price - p.entry if p.qty > 0 else p.entry - price) * closed)
            p.realized += pnl
            self.all_realized[key] = self.all_realized.get(key, Decimal(0)) + pnl
            rest = p.qty + delta
            if rest == 0 or (rest > 0) == (p.qty > 0):
                p.qty = rest
                if rest == 0:
                    p.entry = Decimal(0)
            else:
                p.qty, p.entry = Decimal(0), Decimal(0)
                out.append(self.update(p, strategy, symbol, mark))
                p = self.positions[key] = self._new()
                p.qty, p.entry = rest, price
        out.append(self.update(p, strategy, symbol, mark))
        return out

    def mark(self, symbol, close):
        """The symbol's last close: the mark of its positions' next updates
        and of the unrealized PnL at the end."""
        self.last_close[symbol] = close

    def realized(self, strategy, symbol):
        return self.all_realized.get((strategy, symbol), Decimal(0))

    def totals(self):
        """(realized, unrealized at the last close, fees) over everything."""
        realized = sum(self.all_realized.values(), Decimal(0))
        unrealized = Decimal(0)
        for (_, symbol), p in self.positions.items():
            if p.qty:
                unrealized += q8((self.last_close[symbol] - p.entry) * p.qty)
        return realized, unrealized, self.fees


# ---- orders and the simulated exchange ------------------------------------


def commission_of(price, qty, fee_bps):
    return q8(price * qty * fee_bps / 10000)


class Order:
    def __init__(self, client_id, order_id, strategy, symbol, side, qty):
        self.client_id, self.order_id = client_id, order_id
        self.strategy, self.symbol, self.side, self.qty = strategy, symbol, side, qty


# ---- phase 1: the monolith alone -------------------------------------------


class TradeLog:
    def __init__(self, out):
        self.out = out

    def write(self, kind, ms=None, strategy=None, symbol=None, **fields):
        rec = {"kind": kind}
        if ms is not None:
            rec["time"], rec["strategy_id"], rec["symbol"] = iso(ms), strategy, symbol
        for k, v in fields.items():
            rec[k] = v if isinstance(v, str) else dec(v)
        self.out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def read_klines(path):
    """Binance kline CSV rows as (open_ms, open, close, close_ms). A header
    line is skipped; microsecond times (Binance from 2025) become ms."""
    with open(path, newline="") as f:
        for n, line in enumerate(f, 1):
            cols = line.strip().split(",")
            if not cols[0]:
                continue
            if not cols[0].isdigit():
                if n == 1:
                    continue
                raise SystemExit("%s:%d: not a kline row" % (path, n))
            open_t, close_t = int(cols[0]), int(cols[6])
            if open_t >= 10**14:
                open_t, close_t = open_t // 1000, close_t // 1000
            yield open_t, parse_dec(cols[1]), parse_dec(cols[4]), close_t


def phase1(a):
    log = TradeLog(sys.stdout)
    strategy = SmaCross(a.fast, a.slow, a.quantity, a.allow_short)
    book = Book()
    pending = []
    sid, sym = a.strategy_id, a.symbol
    for open_ms, open_, close, close_ms in read_klines(a.data):
        for o in pending:  # sent on the previous close: filled at this open
            fee = commission_of(open_, o.qty, a.fee_bps)
            log.write("fill", open_ms, sid, sym, side=o.side, quantity=o.qty, price=open_,
                      commission=fee)
            book.fill(sid, sym, o.side, o.qty, open_, fee)
            p = book.positions[(sid, sym)]
            log.write("position", open_ms, sid, sym, quantity=p.qty, entry_price=p.entry,
                      realized_pnl=book.realized(sid, sym))
        pending = []
        book.mark(sym, close)
        decision = strategy.on_close(close)
        if decision:
            side, qty = decision
            log.write("signal", close_ms, sid, sym, side=side, quantity=qty, price=close)
            log.write("order", close_ms, sid, sym, side=side, type="MARKET", quantity=qty,
                      price="0")
            pending.append(Order(None, None, sid, sym, side, qty))
    realized, unrealized, fees = book.totals()
    log.write("final", realized_pnl=realized, unrealized_pnl=unrealized, fees=fees)


# ---- phases 2 and 3: an external component of a tradebus run ---------------


class Component:
    """Answers tradebus's events. Phase 2 owns orders and positions, phase 3
    positions only; the position code is the same in both."""

    def __init__(self, a):
        self.phase, self.fee_bps = a.phase, a.fee_bps
        self.book = Book()
        self.pending = []  # orders sent, filling at their symbol's next bar
        self.orders_sent = 0

    @staticmethod
    def event(type_, ts, payload):
        return {"type": type_, "timestamp": ts, "payload": payload}

    def on_signal(self, ev):
        s = ev["payload"]
        qty = Decimal(s["volume"])
        if s["signal_type"] not in ("BUY", "SELL") or qty <= 0:
            return []
        self.orders_sent += 1
        if s["order_type"] != "MARKET":
            # This bot only ever sent MARKET orders: anything else is refused,
            # which also tells the Signal Generator the position did not move.
            rejected = {"order_id": "LEG-%d" % self.orders_sent,
                        "client_order_id": "legacy-%d" % self.orders_sent,
                        "strategy_id": s["strategy_id"], "symbol": s["symbol"],
                        "side": s["signal_type"], "order_type": s["order_type"],
                        "quantity": dec(qty), "price": s["limit_price"], "reason": "EXCHANGE",
                        "text": "legacy bot: only MARKET orders"}
            return [self.event("OrderRejected", ev["timestamp"], rejected)]
        o = Order("legacy-%d" % self.orders_sent, "LEG-%d" % self.orders_sent,
                  s["strategy_id"], s["symbol"], s["signal_type"], qty)
        self.pending.append(o)
        common = {"order_type": "MARKET", "side": o.side, "symbol": o.symbol,
                  "quantity": dec(qty), "price": "0", "strategy_id": o.strategy}
        request = dict(common, client_order_id=o.client_id)
        created = dict(order_id=o.order_id, status="NEW", client_order_id=o.client_id, **common)
        return [self.event("OrderPlacementRequest", ev["timestamp"], request),
                self.event("OrderCreated", ev["timestamp"], created)]

    def on_market_data(self, ev):
        bar = ev["payload"]
        out = []
        if self.phase == 2:
            open_ = Decimal(bar["open"])
            still = []
            for o in self.pending:
                if o.symbol != bar["symbol"]:
                    still.append(o)
                    continue
                fill = {"order_id": o.order_id, "client_order_id": o.client_id,
                        "strategy_id": o.strategy, "symbol": o.symbol, "side": o.side,
                        "filled_quantity": dec(o.qty), "filled_price": dec(open_),
                        "commission": dec(commission_of(open_, o.qty, self.fee_bps)),
                        "cumulative_quantity": dec(o.qty), "average_price": dec(open_),
                        "status": "FILLED", "trade_id": o.order_id[4:]}
                out.append(self.event("OrderFilled", bar["open_time"], fill))
            self.pending = still
        # Marked, not published: like tradebus's Position Manager, the bot
        # publishes a PositionUpdate only for a fill, whose update then
        # carries this close as its mark. (An update per bar would also be a
        # position record per bar in the trade log, and would carry this
        # bar's close time, after the fill of the next open that follows.)
        self.book.mark(bar["symbol"], Decimal(bar["close"]))
        return out

    def on_fill(self, ev):
        f = ev["payload"]
        updates = self.book.fill(f["strategy_id"], f["symbol"], f["side"],
                                 Decimal(f["filled_quantity"]), Decimal(f["filled_price"]),
                                 Decimal(f["commission"]))
        return [self.event("PositionUpdate", ev["timestamp"], u) for u in updates]

    def run(self, inp, out):
        handlers = {"MarketData": self.on_market_data, "OrderFilled": self.on_fill}
        if self.phase == 2:
            handlers["SignalGenerated"] = self.on_signal
        for line in inp:
            if not line.strip():
                continue
            ev = json.loads(line)
            handler = handlers.get(ev["type"])
            replies = handler(ev) if handler else []
            for r in replies:
                out.write(json.dumps(r, separators=(",", ":")) + "\n")
            out.write(json.dumps({"end": ev["event_id"]}, separators=(",", ":")) + "\n")
            out.flush()
        realized, unrealized, fees = self.book.totals()
        print("legacy_bot: end of run: realized %s, unrealized %s, fees %s"
              % (dec(realized), dec(unrealized), dec(fees)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", type=int, choices=(1, 2, 3, 4), required=True)
    ap.add_argument("--data", default="data/BTCUSDT-1m-2024-01.csv",
                    help="Binance kline CSV (phase 1; default %(default)s)")
    ap.add_argument("--strategy-id", default="btc_trend",
                    help="strategy id in the log (phase 1; default %(default)s)")
    ap.add_argument("--symbol", default="BTCUSDT", help="symbol of --data (phase 1; default %(default)s)")
    ap.add_argument("--fast", type=int, default=10, help="fast SMA bars (phase 1; default %(default)s)")
    ap.add_argument("--slow", type=int, default=30, help="slow SMA bars (phase 1; default %(default)s)")
    ap.add_argument("--quantity", type=Decimal, default=Decimal("0.01"),
                    help="order quantity (phase 1; default %(default)s)")
    ap.add_argument("--allow-short", action="store_true",
                    help="go short on a cross down instead of only closing the long "
                         "(phase 1)")
    ap.add_argument("--fee-bps", type=Decimal, default=Decimal(10),
                    help="commission in basis points (phases 1 and 2; default %(default)s)")
    a = ap.parse_args()
    if a.fast < 1 or a.slow <= a.fast:
        ap.error("need 1 <= --fast < --slow")
    if a.quantity <= 0 or q8(a.quantity) != a.quantity:
        ap.error("--quantity must be > 0 with at most 8 decimals")
    if a.phase == 1:
        phase1(a)
    elif a.phase in (2, 3):
        Component(a).run(sys.stdin, sys.stdout)
    else:
        print("legacy_bot: phase 4 is the pipeline alone; the bot is off "
              "(tradebus backtest --config examples/migration/phase4.ini)", file=sys.stderr)


if __name__ == "__main__":
    main()
