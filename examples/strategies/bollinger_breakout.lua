-- bollinger_breakout in Lua: the built-in bollinger_breakout, line for line.
-- Buy a close above the upper band, exit below the middle. With allow_short:
-- also sell a close below the lower band, exit above the middle.

params = {
  period      = {default = 20, min = 2, max = 100000},
  k           = {default = 2, min = 0, max = 100},
  quantity    = {default = 1, min = 0},
  allow_short = {default = false},
}

local bb, p

function init(params)
  p = params
  assert(p.k > 0, "k must be greater than 0")
  bb = bbands(p.period, p.k)
end

function on_bar(bar, ctx)
  if not bb:update(bar.close) then return end
  local n, close, pos = p.period, bar.close, ctx.position
  local qty = ctx.quantity or p.quantity
  if pos == 0 then
    if compare(close, bb.upper, n) > 0 then buy(qty)
    elseif p.allow_short and compare(close, bb.lower, n) < 0 then sell(qty) end
  elseif pos > 0 then
    if compare(close, bb.middle, n) < 0 then sell(pos) end
  elseif p.allow_short then
    if compare(close, bb.middle, n) > 0 then buy(-pos) end
  end
end
