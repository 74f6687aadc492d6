#!/bin/sh
# Fill InfluxDB with months of the demo building's data in minutes, for
# dashboards and reports: greenwatch-sim plays the building of
# config/demo.conf from --from to --to, accelerated (--speed simulated
# seconds per wall second), and greenwatchd polls it every --sample
# simulated seconds and writes to InfluxDB.  Each sample carries the time
# its device's clock (sim_clock) shows, i.e. the simulated time.
# See docs/simulator.md, "Filling dashboards and reports".
#
#   tools/scripts/fill.sh --from "2026-01-01 00:00" --to "2026-04-01 00:00"
#   tools/scripts/fill.sh --from "2026-01-01 00:00" --days 7 --influx http://127.0.0.1:8086
#
# Without --influx a private influxd (Debian package influxdb) is started
# on a free loopback port, with its data in the work directory; the
# command to start it again on that data is printed at the end.  Every
# server this script starts binds to 127.0.0.1 and is stopped by its pid
# when the script ends, however it ends.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
from=
to=
days=
sample=120
speed=
influx=
database=greenwatch
work=
seed=42

usage() {
    cat <<EOF
usage: fill.sh --from "YYYY-MM-DD HH:MM" (--to "YYYY-MM-DD HH:MM" | --days N) [options]
  --sample S      simulated seconds between two samples of a device (default 120)
  --speed X       simulated seconds per wall second (default 10 x sample: the
                  daemon's shortest interval, 0.1 s)
  --influx URL    write to this InfluxDB 1.x (default: a private influxd)
  --database DB   database to write (default greenwatch)
  --work DIR      configurations, logs, spool and the private influxd's data
                  (default: a new directory under \${TMPDIR:-/tmp})
  --build DIR     the build directory (default $top/build)
  --seed N        the simulated building's seed (default 42)
Dates are local time of the demo site (config/demo.conf's site.timezone).
EOF
}

die() {
    echo "fill.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { usage >&2; exit 2; }
    case $1 in
    --from) from=$2 ;;
    --to) to=$2 ;;
    --days) days=$2 ;;
    --sample) sample=$2 ;;
    --speed) speed=$2 ;;
    --influx) influx=$2 ;;
    --database) database=$2 ;;
    --work) work=$2 ;;
    --build) build=$2 ;;
    --seed) seed=$2 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift 2
done
if [ -z "$from" ] || { [ -z "$to" ] && [ -z "$days" ]; }; then
    usage >&2
    exit 2
fi
[ -n "$speed" ] || speed=$(awk -v s="$sample" 'BEGIN { print 10 * s }')

sim=$build/tools/sim/greenwatch-sim
gwd=$build/daemon/greenwatchd
for f in "$sim" "$gwd" "$build/plugins"; do
    [ -e "$f" ] || die "$f not found (build first, or give --build)"
done
for tool in curl ss od date; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

# ---- time ---------------------------------------------------------------

tz=$(sed -n 's/^ *timezone *= *"\([^"]*\)".*/\1/p' "$top/config/demo.conf" | head -n 1)
tz=${tz:-UTC}
from_s=$(TZ=$tz date -d "$from" +%s) || die "--from: not a date: $from"
if [ -n "$to" ]; then
    to_s=$(TZ=$tz date -d "$to" +%s) || die "--to: not a date: $to"
else
    to_s=$(awk -v f="$from_s" -v d="$days" 'BEGIN { printf "%d", f + d * 86400 }')
fi
[ "$to_s" -gt "$from_s" ] || die "--to must be after --from"
start=$(TZ=$tz date -d "@$from_s" '+%Y-%m-%d %H:%M:%S')   # as greenwatch-sim takes it
# The daemon polls each device every sample/speed wall seconds, at least
# 0.1 s apart.
interval=$(awk -v s="$sample" -v x="$speed" 'BEGIN { printf "%.6g", s / x }')
awk -v i="$interval" 'BEGIN { exit !(i >= 0.1) }' ||
    die "--sample $sample at --speed $speed polls every $interval s; the daemon polls at most every 0.1 s"

# ---- what this script starts, and how it is stopped ----------------------

influxd_pid=
sim_pid=
gwd_pid=
stop() {   # stop PID [seconds]: TERM, then KILL after the grace time
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    n=0
    while kill -0 "$1" 2>/dev/null && [ "$n" -lt "$((${2:-30} * 10))" ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    stop "$gwd_pid" 60
    stop "$sim_pid"
    stop "$influxd_pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody on this machine listens on (and not one already chosen).
taken=
free_port() {
    while :; do
        p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
        case " $taken " in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            taken="$taken $p"
            echo "$p"
            return
        fi
    done
}

# Until FILE holds TEXT or PID has exited; false after 30 s.
await() {
    n=0
    until grep -q "$2" "$1" 2>/dev/null; do
        if ! kill -0 "$3" 2>/dev/null || [ "$n" -ge 300 ]; then
            return 1
        fi
        sleep 0.1
        n=$((n + 1))
    done
}

[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/greenwatch-fill.XXXXXX")
mkdir -p "$work/spool"
work=$(cd "$work" && pwd)

# ---- InfluxDB -----------------------------------------------------------

if [ -z "$influx" ]; then
    command -v influxd >/dev/null || die "influxd not found (apt-get install influxdb, or give --influx URL)"
    http_port=$(free_port)
    rpc_port=$(free_port)
    cat >"$work/influxd.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$work/influxdb/meta"
[data]
  dir = "$work/influxdb/data"
  wal-dir = "$work/influxdb/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$http_port"
  log-enabled = false
[monitor]
  store-enabled = false
EOF
    influxd -config "$work/influxd.conf" >"$work/influxd.log" 2>&1 &
    influxd_pid=$!
    influx=http://127.0.0.1:$http_port
    n=0
    until curl -sf "$influx/ping" >/dev/null; do
        if ! kill -0 "$influxd_pid" 2>/dev/null || [ "$n" -ge 300 ]; then
            die "influxd did not start (see $work/influxd.log)"
        fi
        sleep 0.1
        n=$((n + 1))
    done
fi

# ---- configurations -----------------------------------------------------

# The top-level settings of a libconfig file named in $2 (space separated),
# as they are written.
settings() {
    awk -v want=" $2 " '
        /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ { name = $0; sub(/[ \t]*=.*/, "", name); keep = index(want, " " name " ") > 0 }
        keep' "$1"
}

# The demo's site, buses, devices and report: its buses on free loopback
# ports, every device polled every $interval s, no pacing between
# requests (the simulator answers at once, and pacing would not fit the
# interval).
ports=
n_buses=$(settings "$top/config/demo.conf" buses | grep -c 'tcp *= *"')
i=0
while [ "$i" -lt "$n_buses" ]; do
    ports="$ports $(free_port)"
    i=$((i + 1))
done
{
    echo "# Written by tools/scripts/fill.sh from config/demo.conf."
    settings "$top/config/demo.conf" "site buses devices report" |
        awk -v ports="$ports" -v interval="$interval" '
            BEGIN { n = split(ports, port, " "); i = 0 }
            /tcp *= *"[^"]*"/ { sub(/tcp *= *"[^"]*"/, "tcp = \"127.0.0.1:" port[++i] "\"") }
            { gsub(/interval_s *= *[0-9.]+/, "interval_s = " interval)
              gsub(/delay_between_requests_ms *= *[0-9]+/, "delay_between_requests_ms = 0")
              print }'
    cat <<EOF
daemon = { plugin_dir = "$build/plugins"; profile_dir = "$top/config/profiles";
           spool_dir = "$work/spool"; state_file = "$work/alarms.json"; log_level = "warning"; };
influxdb = { url = "$influx"; database = "$database"; };
EOF
} >"$work/greenwatch.conf"
{
    echo "# Written by tools/scripts/fill.sh from config/demo-sim.conf."
    echo "daemon_config = \"$work/greenwatch.conf\";"
    echo "sim = { seed = $seed; control = \"$work/sim.sock\"; };"
    settings "$top/config/demo-sim.conf" "building devices"
} >"$work/sim.conf"
"$gwd" -c "$work/greenwatch.conf" --check || die "the generated $work/greenwatch.conf is not valid"

# ---- the run ------------------------------------------------------------

"$sim" -c "$work/sim.conf" --speed "$speed" --start "$start" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
await "$work/sim.out" READY "$sim_pid" || die "greenwatch-sim did not start (see $work/sim.log)"
"$gwd" -c "$work/greenwatch.conf" >"$work/greenwatchd.out" 2>"$work/greenwatchd.log" &
gwd_pid=$!
started=$(date +%s.%N)
span_days=$(awk -v a="$from_s" -v b="$to_s" 'BEGIN { printf "%.1f", (b - a) / 86400 }')
echo "fill.sh: $start .. $span_days days, a sample every $sample simulated s, speed $speed (poll every $interval s)"
echo "fill.sh: writing to $influx, database $database; work directory $work"

sim_now() {
    "$sim" --control "$work/sim.sock" status 2>/dev/null | sed -n 's/^OK sim_s=\([0-9.]*\).*/\1/p'
}
last=0
while :; do
    kill -0 "$gwd_pid" 2>/dev/null || die "greenwatchd stopped (see $work/greenwatchd.log)"
    kill -0 "$sim_pid" 2>/dev/null || die "greenwatch-sim stopped (see $work/sim.log)"
    t=$(sim_now)
    [ -n "$t" ] || die "no status from greenwatch-sim"
    awk -v t="$t" -v e="$to_s" 'BEGIN { exit !(t >= e) }' && break
    now=$(date +%s)
    if [ $((now - last)) -ge 30 ]; then
        echo "fill.sh: at $(TZ=$tz date -d "@${t%.*}" '+%Y-%m-%d %H:%M')" \
             "($(awk -v t="$t" -v f="$from_s" -v s="$started" -v n="$(date +%s.%N)" \
                 'BEGIN { printf "%.1f days in %.0f s", (t - f) / 86400, n - s }'))"
        last=$now
    fi
    sleep 1
done
finished=$(date +%s.%N)
# A clean stop delivers what the spool holds.
stop "$gwd_pid" 120
gwd_pid=
stop "$sim_pid"
sim_pid=

# ---- what was written ---------------------------------------------------

# The sum of the counts an InfluxQL count() query returns.
count() {
    curl -sG "$influx/query" --data-urlencode "db=$database" --data-urlencode "epoch=ms" \
         --data-urlencode "q=$1 WHERE time >= ${from_s}s AND time < ${to_s}s" |
        tr -d '\n' | grep -o '"values":\[\[[^]]*\]\]' | sed 's/"values":\[\[//; s/\]\]//' |
        awk -F, '{ for (i = 2; i <= NF; i++) if ($i != "null") s += $i } END { printf "%d", s }'
}
samples=$(count 'SELECT count("sim_clock") FROM /.*/')
values=$(count 'SELECT count(*) FROM /.*/')
demand=$(count 'SELECT count("demand_kw") FROM "meter"')
awk -v s="$started" -v e="$finished" -v f="$from_s" -v t="$to_s" -v n="$samples" -v v="$values" -v d="$demand" 'BEGIN {
    wall = e - s; days = (t - f) / 86400
    printf "fill.sh: %.1f simulated days in %.0f s wall: %.0f s (%.1f min) a simulated 30-day month\n",
           days, wall, wall * 30 / days, wall * 30 / days / 60
    printf "fill.sh: written in that span: %d device samples (points), %d field values, %d 15-minute demands\n", n, v, d
}'
if [ -n "$influxd_pid" ]; then
    stop "$influxd_pid"
    influxd_pid=
    echo "fill.sh: influxd stopped; to serve the data again: influxd -config $work/influxd.conf ($influx)"
fi
