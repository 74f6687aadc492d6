#!/bin/sh
# Builds the benchmarks (Release) and runs the whole set: the planner check,
# then the poll benchmark for 10, 100 and 1,000 devices, each layout, for
# the libmodbus floor, the engine and greenwatchd itself.  Prints the
# machine and markdown tables.
#
#   bench/run.sh [SECONDS]      measured seconds per run (default 60)
#
# Environment: GW_BENCH_BUILD (build directory, default build-release),
# GW_BENCH_WARMUP (seconds before each measurement, default 3).
# Needs no root; every socket is on 127.0.0.1; each run starts and stops
# its own fleet server by pid.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${GW_BENCH_BUILD:-$root/build-release}
duration=${1:-60}
warmup=${GW_BENCH_WARMUP:-3}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target poll_bench planner_bench gw-bench-fleet greenwatchd kind_generic >/dev/null

echo "## Machine"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "- kernel $(uname -r); $(cc --version | head -n1); libmodbus $(pkg-config --modversion libmodbus)"
echo "- build: CMAKE_BUILD_TYPE=Release; ${duration} s measured per run after ${warmup} s of warm-up"
echo "- source: $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'not a git checkout')"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo

echo "## Planner"
echo
"$build/bench/planner_bench"
echo

echo "## Polling: 35 points (60 registers) per device, every device every 1 s"
echo
bench="$build/bench/poll_bench"
"$bench" --header
for n in 10 100 1000; do
    for layout in device gateway; do
        # With 10 devices, 10 gateways of one unit id each are the same
        # topology as one connection per device.
        if [ "$n" = 10 ] && [ "$layout" = gateway ]; then
            continue
        fi
        for impl in floor engine daemon; do
            "$bench" --impl "$impl" --devices "$n" --layout "$layout" \
                     --duration "$duration" --warmup "$warmup"
        done
    done
done
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
