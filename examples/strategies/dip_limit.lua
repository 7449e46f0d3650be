-- dip_limit: buy oversold dips with a resting LIMIT order, protected both ways.
-- When RSI(period) falls under `oversold` and nothing is held or working, a
-- LIMIT buy rests `discount` % under the close, with a stop-loss `stop` %
-- and a take-profit `take` % away from the close, attached to the position
-- the order makes. An order that has not filled after `patience` bars is
-- canceled. Shows the trading calls: buy with options, orders(), cancel(),
-- position(), cash() and equity(), target_pct().
--
--   [strategy.dip]
--   type = lua
--   script = examples/strategies/dip_limit.lua
--   symbol = BTCUSDT
--   period = 14
--   oversold = 30
--   size_pct = 20

params = {
  period   = {default = 14, min = 2, max = 1000},
  oversold = {default = 30, min = 1, max = 50},
  discount = {default = 0.05, min = 0, max = 10},   -- % under the close
  stop     = {default = 1, min = 0.05, max = 50},  -- % under the close
  take     = {default = 1.5, min = 0.05, max = 50},-- % over the close
  patience = {default = 10, min = 1, max = 1000},   -- bars a LIMIT may rest
  size_pct = {default = 20, min = 0.1, max = 100}, -- % of equity per entry
}

local p, osc
local waited = 0

function init(params)
  p = params
  osc = rsi(p.period)
end

function on_bar(bar, ctx)
  local ready = osc:update(bar.close)
  local working = orders()
  local mine = 0
  for _, o in ipairs(working) do
    if o.origin == "signal" then mine = mine + 1 end
  end
  if mine > 0 then
    waited = waited + 1
    if waited >= p.patience then cancel() end
    return
  end
  waited = 0
  if not ready or position() ~= 0 or osc.value >= p.oversold then return end
  -- The quantity worth size_pct % of equity at the limit price, in whole
  -- 0.00001 steps (the position itself never exceeds what cash can pay).
  local price = bar.close * (1 - p.discount / 100)
  local qty = math.floor(equity() * p.size_pct / 100 / price * 1e5) / 1e5
  if qty <= 0 or qty * price > cash() then return end
  buy(qty, {limit = price,
            stop = bar.close * (1 - p.stop / 100),
            take = bar.close * (1 + p.take / 100)})
end
