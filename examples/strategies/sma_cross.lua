-- sma_cross in Lua: the built-in sma_cross, line for line.
-- Buy when SMA(fast) of the close crosses above SMA(slow), sell the long when
-- it crosses below. With allow_short, aim at +quantity / -quantity instead.
--
--   [strategy.trend]
--   type = lua
--   script = examples/strategies/sma_cross.lua
--   symbol = BTCUSDT
--   fast = 10
--   slow = 30
--   quantity = 0.01

params = {
  fast        = {default = 10, min = 1, max = 100000},
  slow        = {default = 30, min = 1, max = 100000},
  quantity    = {default = 1, min = 0},
  allow_short = {default = false},
}

local fast, slow, prev, n, p

function init(params)
  p = params
  assert(p.fast < p.slow, "fast must be less than slow")
  fast = sma(p.fast)
  slow = sma(p.slow)
  n = p.slow -- the longest window: compare() treats values this close as equal
end

function on_bar(bar, ctx)
  -- Update both every bar (an `and` here would skip slow while fast warms up).
  local fast_ok = fast:update(bar.close)
  local slow_ok = slow:update(bar.close)
  if not (fast_ok and slow_ok) then return end
  local rel = compare(fast.value, slow.value, n)
  local before = prev
  prev = rel
  if before == nil then return end -- a cross needs both SMAs on the previous bar
  local up, down = before <= 0 and rel > 0, before >= 0 and rel < 0
  local qty = ctx.quantity or p.quantity -- ctx.quantity: set when the config sizes entries
  if p.allow_short then
    if up then target(qty) elseif down then target(-qty) end
  else
    if up and ctx.position == 0 then buy(qty) end
    if down and ctx.position > 0 then sell(ctx.position) end
  end
end
