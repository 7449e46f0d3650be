#!/bin/sh
# Runs libFuzzer harnesses built in BUILD_DIR: first every reproducer in
# fuzz/regressions/NAME/ (each must now pass), then SECONDS of fuzzing from
# the committed seeds in fuzz/corpus/NAME/. Exits non-zero if any harness
# crashed, leaked, hung or failed a check; the input is saved in
# BUILD_DIR/artifacts/ and the last lines of the log are printed.
#   usage: fuzz/run.sh BUILD_DIR SECONDS NAME...
set -u
build=$1
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/artifacts" "$build/logs"
failed=""
for name in "$@"; do
    bin="$build/fuzz_$name"
    log="$build/logs/$name.log"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (build it first)" >&2
        failed="$failed $name"
        continue
    fi
    # Replaying the reproducers first proves each fixed crash stays fixed
    # even when fuzzing time is short.
    regs=$(find "$here/regressions/$name" -type f 2>/dev/null | sort)
    if [ -n "$regs" ]; then
        # shellcheck disable=SC2086
        if ! "$bin" $regs >"$log" 2>&1; then
            echo "fuzz: $name: a regression input fails again:" >&2
            tail -n 40 "$log" >&2
            failed="$failed $name"
            continue
        fi
    fi
    # The first directory receives new interesting inputs (kept across runs
    # in the build dir, so local coverage accumulates); the committed seeds
    # are only read. A hang of 10 s or 2 GB of memory counts as a bug.
    work="$build/corpus/$name"
    mkdir -p "$work"
    start=$(date +%s)
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
        "$work" "$here/corpus/$name" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
        echo "fuzz: $name: ok, ${execs:-?} executions in $(($(date +%s) - start)) s, $cov"
    else
        echo "fuzz: $name: FAILED (log: $log; input saved under $build/artifacts/):" >&2
        tail -n 60 "$log" >&2
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
