-- rsi_reversion in Lua: the built-in rsi_reversion, line for line.
-- Buy when RSI(period) < oversold, sell the long when it is > overbought.
-- With allow_short: aim at +quantity below oversold, -quantity above overbought.

params = {
  period      = {default = 14, min = 2, max = 100000},
  oversold    = {default = 30, min = 0, max = 100},
  overbought  = {default = 70, min = 0, max = 100},
  quantity    = {default = 1, min = 0},
  allow_short = {default = false},
}

local rsi_, p

function init(params)
  p = params
  assert(p.oversold < p.overbought, "oversold must be less than overbought")
  rsi_ = rsi(p.period)
end

function on_bar(bar, ctx)
  if not rsi_:update(bar.close) then return end
  local r = rsi_.value
  local qty = ctx.quantity or p.quantity
  if p.allow_short then
    if r < p.oversold then target(qty) elseif r > p.overbought then target(-qty) end
  else
    if r < p.oversold and ctx.position == 0 then buy(qty) end
    if r > p.overbought and ctx.position > 0 then sell(ctx.position) end
  end
end
