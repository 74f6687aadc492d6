#!/bin/sh
# Set everything up, start the simulated demo building on 127.0.0.1 and
# run greenwatchd on it in the foreground.  Ctrl-C stops both.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

"$top/tools/scripts/setup.sh"
sim_out=$(mktemp)
"$top/build/tools/sim/greenwatch-sim" -c "$top/config/demo-sim.conf" >"$sim_out" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -f "$sim_out"' EXIT INT TERM
# Wait (up to 10 s) for the simulator's READY line.
tries=0
until grep -q READY "$sim_out"; do
    kill -0 "$sim_pid" 2>/dev/null && [ "$tries" -lt 100 ] || {
        echo "greenwatch-sim did not start" >&2
        exit 1
    }
    tries=$((tries + 1))
    sleep 0.1
done
"$top/build/daemon/greenwatchd" -c "$top/config/demo.conf"
