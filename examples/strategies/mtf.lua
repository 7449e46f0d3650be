-- mtf: 1m SMA crosses, traded only in the direction of the 1h trend.
-- The strategy sees the 1m bars and, as each hour closes, the 1h bar
-- (bar.timeframe says which; the 1h bar comes right after the 1m bar that
-- ends its hour, never earlier). Long-only: a 1m up-cross buys while the
-- last closed hour is above the SMA of the hours before; a down-cross, or
-- an hour closing below that SMA, sells.
--
--   [strategy.mtf]
--   type = lua
--   script = examples/strategies/mtf.lua
--   symbol = BTCUSDT
--   timeframes = 1m 1h

params = {
  fast     = {default = 10, min = 1, max = 100000},
  slow     = {default = 30, min = 1, max = 100000},
  trend    = {default = 3, min = 1, max = 100000},
  quantity = {default = 0.01, min = 0},
}

local p, fast, slow, hours, prev
local up_trend = false

function init(params)
  p = params
  assert(p.fast < p.slow, "fast must be less than slow")
  fast, slow, hours = sma(p.fast), sma(p.slow), sma(p.trend)
end

function on_bar(bar, ctx)
  if bar.timeframe == "1h" then
    local was = hours.value
    hours:update(bar.close)
    up_trend = was ~= nil and bar.close > was
    if not up_trend and ctx.position > 0 then sell(ctx.position) end
    return
  end
  local fast_ok = fast:update(bar.close)
  local slow_ok = slow:update(bar.close)
  if not (fast_ok and slow_ok) then return end
  local rel = compare(fast.value, slow.value, p.slow)
  local before = prev
  prev = rel
  if before == nil then return end
  local qty = ctx.quantity or p.quantity
  if before <= 0 and rel > 0 and up_trend and ctx.position == 0 then buy(qty) end
  if before >= 0 and rel < 0 and ctx.position > 0 then sell(ctx.position) end
end
