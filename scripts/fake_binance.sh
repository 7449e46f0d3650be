#!/bin/sh
# A private fake Binance Spot server for the tests (tools/fake_binance.c,
# docs/fake-binance.md): 127.0.0.1 only, all its state in memory.
#
#   sh scripts/fake_binance.sh start DIR PORT [ARG...]   start (stopping a leftover one on DIR first);
#                                                      ARGs go to fake_binance (e.g. --ping-interval 5);
#                                                      PORT 0: a free port (`url` tells which)
#   sh scripts/fake_binance.sh stop DIR                 stop; works if it already died or never ran
#   sh scripts/fake_binance.sh url DIR                  print http://127.0.0.1:PORT (ws:// on the same port)
#
# The program is $FAKE_BINANCE, else build/fake_binance of this repository.
# DIR holds its pid, port and log. Quiet on success; on failure, the reason and
# the tail of the log on stderr, exit 1.
set -eu

die() {
    echo "fake_binance.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: fake_binance.sh start DIR PORT [ARG...] | stop DIR | url DIR"
}

[ $# -ge 2 ] || usage
cmd=$1
case $cmd in
start) mkdir -p "$2" || die "cannot create $2" ;;
stop) [ -d "$2" ] || exit 0 ;; # never started: nothing to stop
url) [ -f "$2/port" ] || die "no fake_binance was started on $2" ;;
*) usage ;;
esac
DIR=$(cd "$2" && pwd)

BIN=${FAKE_BINANCE:-$(cd "$(dirname "$0")/.." && pwd)/build/fake_binance}

# 0 if PID is alive and its command line contains WORD (a PID file can outlive
# its process, and the PID be reused by something that is not ours).
alive_as() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

pid_in() {
    if [ -f "$1" ]; then tr -cd '0-9' <"$1"; fi
}

# Waits up to $2 tenths of a second for PID $1 to exit.
wait_gone() {
    i=0
    while [ -d "/proc/$1" ] && [ "$i" -lt "$2" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ ! -d "/proc/$1" ]
}

do_stop() {
    pid=$(pid_in "$DIR/pid")
    if alive_as "$pid" "--ready-file $DIR/ready"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 50 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 50 || true; }
    fi
    rm -f "$DIR/pid" "$DIR/ready"
}

# Starts the program on port $1 (ARGs after it): 0 once it listens; 1 if the
# port is taken (in use, or the program could not listen there); dies on any
# other failure.
launch() {
    PORT=$1
    shift
    if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "( sport = :$PORT )" 2>/dev/null)" ]; then
        return 1
    fi
    echo "$PORT" >"$DIR/port"
    # setsid: it must survive the (ctest) process group that started it.
    setsid "$BIN" --port "$PORT" --ready-file "$DIR/ready" "$@" </dev/null >"$DIR/log" 2>&1 &
    echo $! >"$DIR/pid"
    pid=$(pid_in "$DIR/pid")
    # It writes the ready file once it listens; one that dies at start (port
    # taken, bad argument) is noticed at once rather than at the timeout.
    i=0
    until [ -f "$DIR/ready" ]; do
        i=$((i + 1))
        if [ "$i" -ge 100 ] || [ ! -d "/proc/$pid" ]; then
            if [ ! -d "/proc/$pid" ] && grep -q "cannot listen" "$DIR/log" 2>/dev/null; then
                do_stop
                return 1
            fi
            echo "--- last lines of $DIR/log:" >&2
            tail -n 25 "$DIR/log" >&2 || true
            do_stop
            die "fake_binance did not start on 127.0.0.1:$PORT"
        fi
        sleep 0.1
    done
}

do_start() {
    [ $# -ge 1 ] || usage
    PORT=$1
    shift
    case $PORT in '' | *[!0-9]*) die "bad port '$PORT'" ;; esac
    if [ "$PORT" -gt 65535 ]; then die "port $PORT out of range (1..65535, or 0 for a free one)"; fi
    [ -x "$BIN" ] || die "$BIN not found: build it (make build) or set FAKE_BINANCE"
    do_stop
    if [ "$PORT" -ne 0 ]; then
        launch "$PORT" "$@" || die "port $PORT is already in use"
        return 0
    fi
    # A free port: tried upwards from one in 20000..59999 chosen by our pid
    # (two such starts at once try apart); a port taken meanwhile is skipped.
    first=$(($$ % 40000 + 20000))
    n=0
    while [ "$n" -lt 50 ]; do
        if launch $((first + n)) "$@"; then return 0; fi
        n=$((n + 1))
    done
    rm -f "$DIR/port"
    die "no free port from $first to $((first + 49))"
}

case $cmd in
start)
    shift 2
    do_start "$@"
    ;;
stop) do_stop ;;
url) echo "http://127.0.0.1:$(cat "$DIR/port")" ;;
esac
