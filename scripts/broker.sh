#!/bin/sh
# A private RabbitMQ broker for the tests: no system state, loopback only.
#
#   sh scripts/broker.sh start DIR [PORT]   start (stopping a leftover broker on DIR first)
#   sh scripts/broker.sh stop DIR           stop; works if it already died or never ran
#   sh scripts/broker.sh restart DIR        stop, then start on the same data and port
#   sh scripts/broker.sh url DIR            print amqp://guest:guest@127.0.0.1:PORT/
#
# Everything lives under DIR: HOME (the Erlang cookie), mnesia (durable queues and
# messages, kept across restart), logs, config, pid files. Ports: PORT (AMQP,
# default 5679), PORT+20000 (Erlang distribution) and PORT+10000 (a private epmd),
# all on 127.0.0.1. The node is rabbit@localhost, registered with its own epmd, so
# brokers on different PORTs can run side by side. The epmd this script starts is
# stopped with the broker, by its PID. DIR/extra.conf, if there, is appended to
# the generated rabbitmq.conf (e.g. a TLS listener).
#
# Quiet on success; on failure, the reason and the tail of the log on stderr, exit 1.
set -eu

RMQ_BIN=/usr/lib/rabbitmq/bin
EPMD=$(command -v epmd 2>/dev/null || true)

die() {
    echo "broker.sh: $*" >&2
    exit 1
}

usage() {
    die "usage: broker.sh start DIR [PORT] | stop DIR | restart DIR | url DIR"
}

[ $# -ge 2 ] || usage
cmd=$1
case $cmd in
start | restart) mkdir -p "$2" || die "cannot create $2" ;;
stop) [ -d "$2" ] || exit 0 ;; # never started: nothing to stop
esac
if [ -d "$2" ]; then DIR=$(cd "$2" && pwd); else DIR=$2; fi

if [ -f "$DIR/port" ]; then saved_port=$(cat "$DIR/port"); else saved_port=5679; fi
PORT=${3:-$saved_port}
case $PORT in '' | *[!0-9]*) die "bad port '$PORT'" ;; esac
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 45535 ]; then die "port $PORT out of range (1..45535)"; fi

export HOME="$DIR/home"
export LC_ALL=C.UTF-8
export RABBITMQ_NODENAME=rabbit@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$PORT"
export RABBITMQ_DIST_PORT=$((PORT + 20000))
export ERL_EPMD_PORT=$((PORT + 10000))
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE="$DIR/mnesia"
export RABBITMQ_LOG_BASE="$DIR/log"
export RABBITMQ_CONFIG_FILE="$DIR/rabbitmq.conf"
export RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/advanced.config"
export RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf"
export RABBITMQ_PID_FILE="$DIR/rabbit.pid"
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export ERL_CRASH_DUMP="$DIR/log/erl_crash.dump"

LOG="$DIR/log/rabbit@localhost.log"

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

# SIGTERM (a clean shutdown), SIGKILL if it takes longer than 30 s.
terminate() {
    kill -TERM "$1" 2>/dev/null || return 0
    wait_gone "$1" 300 || { kill -KILL "$1" 2>/dev/null || true; wait_gone "$1" 50 || true; }
}

log_tail() {
    for f in "$DIR/log/server.out" "$LOG"; do
        if [ -s "$f" ]; then
            echo "--- last lines of $f:" >&2
            tail -n 25 "$f" >&2
        fi
    done
}

do_stop() {
    beam=$(pid_in "$DIR/rabbit.pid")
    if alive_as "$beam" "-home $DIR/home "; then terminate "$beam"; fi
    # The wrapper script, and a beam that died before writing its PID file (or
    # whose file is gone): whatever still runs with this DIR's HOME.
    wrapper=$(pid_in "$DIR/server.pid")
    if alive_as "$wrapper" rabbitmq-server; then terminate "$wrapper"; fi
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if alive_as "$p" "-home $DIR/home "; then terminate "$p"; fi
    done
    epmd_pid=$(pid_in "$DIR/epmd.pid")
    if alive_as "$epmd_pid" epmd; then terminate "$epmd_pid"; fi
    rm -f "$DIR/rabbit.pid" "$DIR/server.pid" "$DIR/epmd.pid"
}

do_start() {
    [ -x "$RMQ_BIN/rabbitmq-server" ] || die "$RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)"
    [ -n "$EPMD" ] || die "epmd not found (it comes with rabbitmq-server's Erlang)"
    do_stop
    if command -v ss >/dev/null 2>&1; then
        for p in "$PORT" "$RABBITMQ_DIST_PORT" "$ERL_EPMD_PORT"; do
            if [ -n "$(ss -Hltn "( sport = :$p )" 2>/dev/null)" ]; then
                die "port $p is already in use (another broker? stop it with its own DIR, or pick another PORT)"
            fi
        done
    fi
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    echo "$PORT" >"$DIR/port"
    cat >"$RABBITMQ_CONFIG_FILE" <<EOF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
    if [ -f "$DIR/extra.conf" ]; then cat "$DIR/extra.conf" >>"$RABBITMQ_CONFIG_FILE"; fi
    echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE"
    echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    : >"$RABBITMQ_CONF_ENV_FILE"
    : >"$DIR/log/server.out"

    # Our own epmd on its own port, so that stop can end exactly this one.
    setsid "$EPMD" -address 127.0.0.1 -port "$ERL_EPMD_PORT" </dev/null >>"$DIR/log/server.out" 2>&1 &
    echo $! >"$DIR/epmd.pid"
    i=0
    until "$EPMD" -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge 50 ] || ! alive_as "$(pid_in "$DIR/epmd.pid")" epmd; then
            do_stop
            log_tail
            die "epmd did not start on 127.0.0.1:$ERL_EPMD_PORT (port in use?)"
        fi
        sleep 0.1
    done

    # setsid: the broker must survive the (ctest) process group that started it.
    (cd "$DIR" && exec setsid "$RMQ_BIN/rabbitmq-server" </dev/null >>"$DIR/log/server.out" 2>&1) &
    echo $! >"$DIR/server.pid"
    server=$(pid_in "$DIR/server.pid")

    # `wait` waits for the PID file, then for the boot; a broker that dies at
    # boot (port in use, bad config) would leave it waiting for the whole
    # timeout, so watch the server alongside.
    "$RMQ_BIN/rabbitmqctl" wait --timeout 60 "$RABBITMQ_PID_FILE" >"$DIR/log/wait.out" 2>&1 &
    waiter=$!
    while [ -d "/proc/$waiter" ]; do
        if [ ! -d "/proc/$server" ]; then
            kill "$waiter" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    if wait "$waiter" && [ -d "/proc/$server" ]; then return 0; fi
    cat "$DIR/log/wait.out" >&2 || true
    log_tail
    do_stop
    die "broker did not start on 127.0.0.1:$PORT (data in $DIR)"
}

case $cmd in
start) do_start ;;
stop) do_stop ;;
restart)
    [ $# -le 2 ] || die "restart takes no port: it reuses the one DIR was started with"
    do_start
    ;;
url) echo "amqp://guest:guest@127.0.0.1:$PORT/" ;;
*) usage ;;
esac
