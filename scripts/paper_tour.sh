#!/bin/sh
# The README's two-minute tour of `tradebus live` in paper mode, with no
# network: a fake Binance on 127.0.0.1 (scripts/fake_binance.sh) holds an hour
# of history and streams one scripted closed kline every half second, while
# `tradebus live --config examples/paper.ini` trades them with simulated
# fills; then Ctrl-C (SIGINT) ends the run and its outputs are in DIR.
#
#   sh scripts/paper_tour.sh [DIR] [PORT]     (default out/paper-tour, 18480)
#
# Needs curl and a built tree (build/tradebus, build/fake_binance).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-out/paper-tour}
PORT=${2:-18480}
TB=${TRADEBUS:-$ROOT/build/tradebus}
FB="$DIR/fake-binance"
URL="http://127.0.0.1:$PORT"
mkdir -p "$DIR"
sh "$ROOT/scripts/fake_binance.sh" start "$FB" "$PORT"
trap 'sh "$ROOT/scripts/fake_binance.sh" stop "$FB"' EXIT

# A price path: an hour flat (the history), a live rally (sma_cross 10/30
# buys), then a fall (it sells).
price() { # minute -> close
    awk -v m="$1" 'BEGIN { p = 42000; if (m >= 64) p += (m - 64) * 60;
                           if (m >= 80) p -= (m - 80) * 150; printf "%.2f", p }'
}
T0=1704067200000 # 2024-01-01T00:00:00Z
kline() { # minute -> the kline JSON row
    t=$((T0 + $1 * 60000))
    c=$(price "$1")
    o=$(price $(($1 > 0 ? $1 - 1 : 0)))
    h=$(echo "$o $c" | awk '{ print ($1 > $2 ? $1 : $2) }')
    l=$(echo "$o $c" | awk '{ print ($1 < $2 ? $1 : $2) }')
    echo "[$t,\"$o\",\"$h\",\"$l\",\"$c\",\"1.5\",$((t + 59999)),\"63000\",120,\"0.7\",\"29400\",\"0\"]"
}

# An hour of history: the warm-up the run loads through REST.
rows=""
for m in $(seq 0 59); do rows="$rows${rows:+,}$(kline "$m")"; done
curl -sf -X POST "$URL/_ctl/klines" \
    -d "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",\"klines\":[$rows]}" >/dev/null

"$TB" live --config "$ROOT/examples/paper.ini" --out "$DIR" \
    --set live.stream_url="ws://127.0.0.1:$PORT" --set live.rest_url="$URL" &
PID=$!
# Live bars once the run has subscribed.
until curl -sf "$URL/_ctl/status" | grep -q '"market_connections":1'; do sleep 0.2; done
for m in $(seq 60 100); do
    set -- $(kline "$m" | tr -d '[]"' | tr ',' ' ')
    curl -sf -X POST "$URL/_ctl/kline" -d "{\"symbol\":\"BTCUSDT\",\"interval\":\"1m\",
        \"t\":$1,\"o\":\"$2\",\"h\":\"$3\",\"l\":\"$4\",\"c\":\"$5\",\"v\":\"$6\",\"q\":\"$8\",
        \"n\":$9,\"x\":true,\"store\":true}" >/dev/null
    sleep 0.5
done
sleep 1.5 # the last bar through the pipeline and onto the status line
kill -INT "$PID"
wait "$PID"
echo "outputs: $DIR/summary.json fills.csv trades.csv report.html"
