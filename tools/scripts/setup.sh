#!/bin/sh
# Install what greenwatch builds, tests and demonstrates with (Debian 12
# packages), then configure and build into build/.  Safe to run again.
#   tools/scripts/setup.sh [--sanitize]    (build-asan/ with ASan + UBSan)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

packages="build-essential cmake pkg-config libmodbus-dev libpaho-mqtt-dev
  libconfig-dev libcunit1-dev libcjson-dev libcurl4-openssl-dev socat systemd
  libssl-dev mosquitto mosquitto-clients openssl
  zlib1g-dev influxdb victoria-metrics jq
  chromium fonts-noto-cjk curl"   # the report's HTML drawn in its test and docs

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

if [ "${1:-}" = "--sanitize" ]; then
    build="$top/build-asan"
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DGW_SANITIZE=ON >/dev/null
else
    build="$top/build"
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" >&2  # stdout is for the daemon's readings
