-- An old-style momentum strategy in Lua, written the way trading scripts are
-- before a migration: one function that sees a bar and returns the signed
-- quantity to trade, its memory in a table it is handed back every bar.
-- It buys a breakout (a close above the highest high of the previous
-- `period` bars) while flat and sells the long on a close below their lowest
-- low: legacy:legacy_breakout (src/migration/legacy_strategies.c), line for
-- line, so the two give identical trades (test_e2e_lua_legacy).
--
--   [strategy.mom]
--   type = legacy-lua
--   script = examples/legacy/momentum.lua
--   symbol = BTCUSDT
--   period = 20
--   quantity = 0.01
--
-- state.position is written by the host before every bar: the position the
-- strategy asked for, less the orders the exchange rejected or canceled.

params = {
  period   = {default = 20, min = 1, max = 100000},
  quantity = {default = 1, min = 0},
}

local period, quantity

function init(p)
  assert(p.period == math.floor(p.period), "period must be a whole number")
  assert(p.quantity > 0, "quantity must be greater than 0")
  period, quantity = p.period, p.quantity
end

function on_bar(state, bar)
  if not state.highs then -- first bar: the ring of the previous `period` bars
    state.highs, state.lows, state.seen = {}, {}, 0
  end
  local highs, lows, seen = state.highs, state.lows, state.seen
  local trade = 0
  if seen >= period then -- the channel excludes the current bar
    local hh, ll = highs[1], lows[1]
    for i = 2, period do
      if highs[i] > hh then hh = highs[i] end
      if lows[i] < ll then ll = lows[i] end
    end
    local pos = state.position
    if pos == 0 and bar.close > hh then trade = quantity end
    if pos > 0 and bar.close < ll then trade = -pos end
  end
  local slot = seen % period + 1
  highs[slot], lows[slot] = bar.high, bar.low
  state.seen = seen + 1
  state.position = state.position + trade -- the legacy habit; the host overwrites it
  return trade
end
