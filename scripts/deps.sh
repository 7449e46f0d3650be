#!/bin/sh
# Installs the Debian packages tradebus needs to build and test.
# Idempotent: prints nothing and changes nothing when all are present.
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev libcmocka-dev libjansson-dev libinih-dev libsqlite3-dev valgrind rabbitmq-server librabbitmq-dev libmicrohttpd-dev libuv1-dev prometheus chromium libwebsockets-dev libssl-dev libcurl4-openssl-dev libwebsockets-evlib-uv python3 libluajit-5.1-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
