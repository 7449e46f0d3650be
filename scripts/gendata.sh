#!/bin/sh
# Rebuilds the synthetic market-data files in data/ with tools/gendata.
# Output is byte-identical on every machine (integer prices, splitmix64), so
# running this must leave `git status` clean.
# BUILD selects the build directory (default: build).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
if [ ! -x "$BUILD/gendata" ]; then
    cmake -S . -B "$BUILD" >/dev/null
    cmake --build "$BUILD" --target gendata
fi
G="$BUILD/gendata"

# Two days of 1-minute bars from 2024-01-01 00:00 UTC, trending and ranging
# segments mixed, so sma_cross 10/30 trades a few dozen times.
"$G" --symbol BTCUSDT --start 2024-01-01 --bars 2880 --seed 20240101 --price 42283.58 \
    --interval 60 --regime mixed --decimals 2 >data/BTCUSDT-1m-2024-01.csv
"$G" --symbol ETHUSDT --start 2024-01-01 --bars 2880 --seed 20240102 --price 2281.87 \
    --interval 60 --regime mixed --decimals 2 >data/ETHUSDT-1m-2024-01.csv
