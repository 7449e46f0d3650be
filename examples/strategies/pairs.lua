-- pairs: trade the ratio of two symbols' closes against its own average.
-- When BTC is rich against ETH (the ratio is more than `band` above its SMA)
-- be short BTC and long ETH; when it is cheap, the other way round; back
-- inside half the band, flat. Each leg is a target position in that symbol:
-- target(qty, sym) and position(sym) name the leg.
--
--   [strategy.pair]
--   type = lua
--   script = examples/strategies/pairs.lua
--   symbols = BTCUSDT ETHUSDT
--   window = 60
--   band = 0.002
--
-- Bars arrive in time order; the two symbols' bars of one minute come one
-- after the other. On the bar that completes a minute for both, the ratio is
-- updated and both legs are ordered at once, each at its own symbol's close.
-- allow_short = false keeps only the long legs.

params = {
  a           = {default = "BTCUSDT"},
  b           = {default = "ETHUSDT"},
  window      = {default = 60, min = 2, max = 100000},
  band        = {default = 0.002, min = 0},
  qty_a       = {default = 0.02, min = 0},
  qty_b       = {default = 0.4, min = 0},
  allow_short = {default = true},
}

local p, avg
local close, time = {}, {}
local want = 0 -- +1: long a / short b; -1: short a / long b; 0: flat

function init(params)
  p = params
  avg = sma(p.window)
end

function on_bar(bar, ctx)
  close[bar.symbol], time[bar.symbol] = bar.close, bar.time
  -- The second of the minute's two bars: both closes are this minute's.
  if time[p.a] == bar.time and time[p.b] == bar.time then
    local ratio = close[p.a] / close[p.b]
    if avg:update(ratio) then
      local dev = ratio / avg.value - 1
      if dev > p.band then want = -1
      elseif dev < -p.band then want = 1
      elseif math.abs(dev) < p.band / 2 then want = 0 end
    end
    for _, leg in ipairs({{p.a, want * p.qty_a}, {p.b, -want * p.qty_b}}) do
      local sym, q = leg[1], leg[2]
      if not p.allow_short and q < 0 then q = 0 end
      if q ~= position(sym) then target(q, sym) end
    end
  end
end
