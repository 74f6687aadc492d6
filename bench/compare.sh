#!/bin/sh
# greenwatchd against the libmodbus floor and against Node-RED, on the same
# work: N devices of the benchmark map (60 registers, 35 points) polled
# every second, for N = 10, 100 and 1,000, one TCP connection per device.
#
#   floor       poll_bench --impl floor: the three reads per device and
#               nothing else (no decoding, no output)
#   greenwatchd the daemon, 4 alarm rules per device, publishing every
#               sample to a local mosquitto (QoS 1) and a local influxd
#   nodered     Node-RED 4 with node-red-contrib-modbus and
#               node-red-contrib-influxdb (bench/nodered: pinned versions,
#               the flow from make-flow.js), writing to the same influxd
#
# For each: CPU seconds per minute (user + system from /proc of every
# process of the implementation), peak RSS, and the InfluxDB points (one
# per device and poll) that landed in influxd with a timestamp in the
# measured window; for greenwatchd also the readings mosquitto delivered to
# a subscriber.  influxd, mosquitto and the fleet are reported apart.
# Prints markdown tables.
#
#   bench/compare.sh [SECONDS]     measured seconds per run (default 60)
#
# Environment: GW_BENCH_BUILD (build directory, default build-release),
# GW_CMP_WARMUP (seconds between the first point in influxd and the
# window, default 15), GW_CMP_DEVICES (default "10 100 1000"),
# GW_CMP_IMPLS (default "floor greenwatchd nodered"), GW_CMP_FLOW_OPTIONS
# (more options for make-flow.js, e.g. --parallel-unit-ids), GW_CMP_KEEP=1
# (keep the temporary directory: configurations, flows, logs).
#
# Needs cmake and a compiler, influxd (Debian package influxdb), mosquitto
# and mosquitto_sub, node and npm (Node-RED's packages are installed with
# `npm ci` into bench/nodered/node_modules when missing), curl.  Needs no
# root.  Every server it starts listens on 127.0.0.1 only; it stops what it
# started, by pid, however it exits.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${GW_BENCH_BUILD:-$root/build-release}
duration=${1:-60}
warmup=${GW_CMP_WARMUP:-15}
device_counts=${GW_CMP_DEVICES:-10 100 1000}
impls=${GW_CMP_IMPLS:-floor greenwatchd nodered}
nodered=$root/bench/nodered

case $duration in '' | *[!0-9]*) echo "usage: bench/compare.sh [SECONDS]" >&2; exit 2 ;; esac
for tool in cmake influxd mosquitto mosquitto_sub node npm curl; do
    command -v "$tool" >/dev/null || { echo "compare.sh: $tool is not installed" >&2; exit 1; }
done

# ---- processes: every one started here is stopped here, by pid ----------

pids=""
tmp=""

# Remembers a pid to stop on exit.
started() {
    pids="$pids $1"
}

# Stops one process started here: SIGTERM, up to 10 s to exit, then SIGKILL.
stop_pid() {
    pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    rest=""
    for p in $pids; do
        [ "$p" = "$pid" ] || rest="$rest $p"
    done
    pids=$rest
}

cleanup() {
    for p in $pids; do
        stop_pid "$p"
    done
    if [ -n "$tmp" ] && [ "${GW_CMP_KEEP:-0}" = 1 ]; then
        echo "compare.sh: kept $tmp" >&2
    elif [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- small helpers -------------------------------------------------------

now_ms() {
    date +%s%3N
}

# Sleeps until wall-clock ms $1.
sleep_until_ms() {
    d=$(($1 - $(now_ms)))
    [ $d -gt 0 ] && sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
    return 0
}

# A TCP port free on 127.0.0.1 a moment ago.
free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
        console.log(s.address().port); s.close(); });'
}

# Waits up to $2 seconds for file $1 to contain the fixed string $3, while
# pid $4 runs.  Returns 1 if it does not come.
wait_for_text() {
    i=0
    while ! grep -qF -- "$3" "$1" 2>/dev/null; do
        if ! kill -0 "$4" 2>/dev/null || [ $i -ge $(($2 * 20)) ]; then
            return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
}

# CPU clock ticks (user + system, with reaped children) of pid $1 and every
# live descendant.  The command in /proc/PID/stat may hold spaces: fields
# are counted after its closing parenthesis.
tree_ticks() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        { pid = $1; line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
          parent[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15] }
        END {
            inside[root] = 1
            for (changed = 1; changed;) {
                changed = 0
                for (p in parent)
                    if (!(p in inside) && (parent[p] in inside)) { inside[p] = 1; changed = 1 }
            }
            t = 0
            for (p in inside) t += ticks[p]
            printf "%.0f\n", t
        }'
}

# Peak resident set (VmHWM, kB) of pid $1 and its live descendants.
tree_hwm_kb() {
    kb=0
    for p in $1 $(cat /proc/[0-9]*/stat 2>/dev/null |
                  awk -v root="$1" '{ line = $0; sub(/^.*\) /, "", line); split(line, f, " ")
                                      if (f[2] == root) print $1 }'); do
        k=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        kb=$((kb + ${k:-0}))
    done
    echo "$kb"
}

clk_tck=$(getconf CLK_TCK)

# ---- build and install ---------------------------------------------------

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" \
    --target poll_bench gw-bench-fleet gw-bench-map greenwatchd kind_generic >/dev/null
case " $impls " in
*" nodered "*)
    if [ ! -f "$nodered/node_modules/node-red/package.json" ]; then
        # Exactly the lock file's versions.  No install scripts: they only
        # print a sponsor message and probe serial-port bindings that a
        # TCP-only flow never loads.
        (cd "$nodered" && npm ci --ignore-scripts --no-audit --no-fund >&2)
    fi
    ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gw-compare.XXXXXX")
"$build/bench/gw-bench-map" --json >"$tmp/map.json"
mkdir "$tmp/profiles"
"$build/bench/gw-bench-map" --profile bench-meter >"$tmp/profiles/bench-meter.conf"

# ---- influxd and mosquitto, shared by the runs ---------------------------

influx_port=$(free_port)
mkdir "$tmp/influxd"
sh "$root/tools/scripts/influxd-conf.sh" "$tmp/influxd" "$influx_port" "$(free_port)" warn >"$tmp/influxd/influxd.conf"
influxd -config "$tmp/influxd/influxd.conf" >"$tmp/influxd/log" 2>&1 &
influxd_pid=$!
started $influxd_pid
influx_url=http://127.0.0.1:$influx_port
i=0
until curl -sf "$influx_url/ping" >/dev/null 2>&1; do
    if ! kill -0 $influxd_pid 2>/dev/null || [ $i -ge 600 ]; then
        echo "compare.sh: influxd did not start; its log:" >&2
        cat "$tmp/influxd/log" >&2
        exit 1
    fi
    sleep 0.05
    i=$((i + 1))
done

mqtt_port=$(free_port)
mkdir "$tmp/mosquitto"
{
    # As root mosquitto would switch to its own user, which cannot write
    # into this private directory.
    [ "$(id -u)" = 0 ] && echo "user root"
    echo "listener $mqtt_port 127.0.0.1"
    echo "allow_anonymous true"
    echo "persistence false"
    # The subscriber counts every reading: never drop one queued for it.
    echo "max_queued_messages 0"
    echo "log_dest stderr"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    # "information" says " running" once the listener is up; "all" would
    # add a debug line for every message.
    echo "log_type information"
} >"$tmp/mosquitto/mosquitto.conf"
mosquitto -c "$tmp/mosquitto/mosquitto.conf" >"$tmp/mosquitto/log" 2>&1 &
mosquitto_pid=$!
started $mosquitto_pid
if ! wait_for_text "$tmp/mosquitto/log" 10 " running" $mosquitto_pid; then
    echo "compare.sh: mosquitto did not start; its log:" >&2
    cat "$tmp/mosquitto/log" >&2
    exit 1
fi

# An InfluxQL statement; the JSON answer on stdout.
influx_query() {
    curl -sf -XPOST "$influx_url/query" --data-urlencode "db=$1" --data-urlencode "q=$2"
}

# Points of database $1 stamped in [$2, $3) ms, and their fields per point.
influx_count() {
    influx_query "$1" "SELECT count(*) FROM \"generic\" WHERE time >= $2ms AND time < $3ms" |
        node -e '
            const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
            const s = a.results && a.results[0].series;
            if (!s) { console.log("0 0"); process.exit(0); }
            const cols = s[0].columns, row = s[0].values[0];
            const points = row[cols.indexOf("count_voltage_l1")] || 0;
            let values = 0;
            for (let i = 1; i < row.length; i++) values += row[i];
            console.log(points, points ? (values / points).toFixed(1) : 0);'
}

# The fewest and the most points of one device of database $1 stamped in
# [$2, $3) ms, as "min-max": whether some devices fell behind or all did.
influx_spread() {
    influx_query "$1" "SELECT count(\"voltage_l1\") FROM \"generic\" WHERE time >= $2ms AND time < $3ms GROUP BY \"device\"" |
        node -e '
            const a = JSON.parse(require("fs").readFileSync(0, "utf8"));
            const counts = ((a.results && a.results[0].series) || []).map((s) => s.values[0][1]);
            console.log(counts.length ? Math.min(...counts) + "-" + Math.max(...counts) : "0-0");'
}

# ---- the devices ---------------------------------------------------------

# Starts the fleet with $1 ports of one unit id each; sets fleet_pid and
# fleet_ports.
fleet_start() {
    "$build/bench/gw-bench-fleet" --ports "$1" --units 1 >"$tmp/fleet.out" 2>"$tmp/fleet.err" &
    fleet_pid=$!
    started $fleet_pid
    if ! wait_for_text "$tmp/fleet.out" 10 READY $fleet_pid; then
        echo "compare.sh: the fleet did not start" >&2
        cat "$tmp/fleet.err" >&2
        exit 1
    fi
    fleet_ports=$(sed -n 's/^READY //p' "$tmp/fleet.out")
}

# ---- greenwatchd and Node-RED ---------------------------------------------

# greenwatchd's configuration for the fleet's ports, database $1, in $2.
greenwatchd_config() {
    mkdir -p "$2/spool"
    {
        echo "site = { id = \"bench\"; name = \"comparison\"; };"
        echo "daemon = { plugin_dir = \"$build/plugins\"; profile_dir = \"$tmp/profiles\";"
        echo "  spool_dir = \"$2/spool\"; state_file = \"$2/alarms.json\"; log_level = \"warning\"; };"
        echo "mqtt = { uri = \"tcp://127.0.0.1:$mqtt_port\"; client_id = \"gw-compare\";"
        echo "  topic_prefix = \"greenwatch/bench\"; qos = 1; };"
        echo "influxdb = { url = \"$influx_url\"; api = \"v1\"; database = \"$1\"; };"
        echo "$fleet_ports" | awk '{
            print "buses = ("
            for (i = 1; i <= NF; i++)
                printf "  { id = \"b%d\"; tcp = \"127.0.0.1:%s\"; timeout_ms = 1000; }%s\n", i - 1, $i, i < NF ? "," : ""
            print ");"
            print "devices = ("
            for (i = 1; i <= NF; i++)
                printf "  { id = \"d%d\"; bus = \"b%d\"; unit = 1; kind = \"generic\"; profile = \"bench-meter\"; interval_s = 1.0; }%s\n", i - 1, i - 1, i < NF ? "," : ""
            print ");"
            # Rules that hold in steady state, so that every sample is
            # judged and none raises an alarm: comm loss, two limits and
            # a state rule on the alarm word.
            print "rules = ("
            for (i = 1; i <= NF; i++) {
                d = "d" (i - 1)
                printf "  { id = \"comm\"; device = \"%s\"; type = \"comm_loss\"; intervals = 3; },\n", d
                printf "  { id = \"voltage\"; device = \"%s\"; type = \"limit\"; point = \"voltage_l1\"; low = 200.0; high = 260.0; deadband = 2.0; },\n", d
                printf "  { id = \"supply-temp\"; device = \"%s\"; type = \"limit\"; point = \"supply_temp\"; high = 9.0; on_delay_s = 60; },\n", d
                printf "  { id = \"alarm-word\"; device = \"%s\"; type = \"state\"; point = \"alarm_word\"; states = [ 1, 2, 4 ]; }%s\n", d, i < NF ? "," : ""
            }
            print ");"
        }'
    } >"$2/greenwatch.conf"
}

# Starts implementation $1 (greenwatchd or nodered) on database $2 in run
# directory $3; sets impl_pid.
impl_start() {
    case $1 in
    greenwatchd)
        greenwatchd_config "$2" "$3"
        "$build/daemon/greenwatchd" -c "$3/greenwatch.conf" >"$3/log" 2>&1 &
        impl_pid=$!
        ;;
    nodered)
        mkdir -p "$3/userdir"
        # shellcheck disable=SC2086 # options are words
        node "$nodered/make-flow.js" --map "$tmp/map.json" --ports "$fleet_ports" \
            --influx "127.0.0.1:$influx_port" --database "$2" ${GW_CMP_FLOW_OPTIONS:-} >"$3/flows.json"
        node "$nodered/node_modules/node-red/red.js" --userDir "$3/userdir" \
            --settings "$nodered/settings.js" --no-telemetry "$3/flows.json" >"$3/log" 2>&1 &
        impl_pid=$!
        ;;
    esac
    started "$impl_pid"
}

# Runs greenwatchd or Node-RED ($1) for $2 devices; appends a result line.
run_impl() {
    impl=$1 n=$2
    db=cmp_${impl}_$n
    dir=$tmp/$impl-$n
    mkdir -p "$dir"
    influx_query "" "CREATE DATABASE \"$db\"" >/dev/null
    fleet_start "$n"
    sub_pid=""
    if [ "$impl" = greenwatchd ]; then
        mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -q 1 -i "gw-compare-count-$n" \
            -t 'greenwatch/bench/+/reading' -F '%t %p' >"$dir/readings" 2>"$dir/sub.err" &
        sub_pid=$!
        started $sub_pid
    fi
    impl_start "$impl" "$db" "$dir"

    # Ready when the first point is in influxd (2 minutes at most: Node-RED
    # takes a while to load a thousand devices' nodes); then the warm-up.
    deadline=$(($(now_ms) + 120000))
    while [ "$(influx_count "$db" 0 "$(($(now_ms) + 60000))" | cut -d' ' -f1)" = 0 ]; do
        if ! kill -0 "$impl_pid" 2>/dev/null || [ "$(now_ms)" -gt $deadline ]; then
            echo "compare.sh: $impl delivered nothing to influxd within 2 minutes; its log:" >&2
            tail -n 40 "$dir/log" >&2
            exit 1
        fi
        sleep 0.1
    done

    # The window: whole seconds, from half a second after a grid instant
    # (between polls) to the same point $duration s later.
    t0=$(( ($(now_ms) / 1000 + warmup + 1) * 1000 + 500 ))
    t1=$((t0 + duration * 1000))
    sleep_until_ms $t0
    load0=$(cut -d' ' -f1 /proc/loadavg)
    c0="$(tree_ticks "$impl_pid") $(tree_ticks $influxd_pid) $(tree_ticks $mosquitto_pid) $(tree_ticks "$fleet_pid")"
    sleep_until_ms $t1
    c1="$(tree_ticks "$impl_pid") $(tree_ticks $influxd_pid) $(tree_ticks $mosquitto_pid) $(tree_ticks "$fleet_pid")"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    hwm=$(tree_hwm_kb "$impl_pid")

    # What the window produced may still be on its way (batches of up to
    # a second, QoS 1 acknowledgements): wait before counting.
    sleep 5
    stop_pid "$impl_pid"
    [ -n "$sub_pid" ] && stop_pid "$sub_pid"
    stop_pid "$fleet_pid"
    counted=$(influx_count "$db" $t0 $t1)
    spread=$(influx_spread "$db" $t0 $t1)
    # Requests the fleet answered over the whole run, per point that
    # reached influxd over the whole run: 3 when every poll made the
    # optimal reads and was delivered.
    all=$(influx_count "$db" 0 "$(($(now_ms) + 60000))")
    rpp=$(sed -n 's/^served //p' "$tmp/fleet.out" |
          awk -v p="${all% *}" '{ if (p > 0) printf "%.3f", $1 / p; else printf "n/a"; if ($2 > 0) printf " (%d exceptions)", $2 }')
    mqtt=n/a
    if [ "$impl" = greenwatchd ]; then
        # Unique (topic, ts): a QoS 1 message may arrive twice.  ts stays
        # a string in the key: as a number awk would print it as 1.79e+12.
        mqtt=$(awk -v a=$t0 -v b=$t1 '
            match($0, /"ts":[0-9]+/) {
                ts = substr($0, RSTART + 5, RLENGTH - 5)
                if (ts + 0 >= a + 0 && ts + 0 < b + 0) seen[$1 " " ts] = 1
            }
            END { n = 0; for (k in seen) n++; printf "%d\n", n }' "$dir/readings")
    fi
    echo "$impl $n $c0 $c1 $hwm ${counted% *} ${counted#* } $mqtt $load0 $load1 $spread $rpp" >>"$tmp/results"
    [ "${GW_CMP_KEEP:-0}" = 1 ] || rm -f "$dir/readings"
}

# The floor: poll_bench's own row, turned into a result line.
run_floor() {
    n=$1
    load0=$(cut -d' ' -f1 /proc/loadavg)
    row=$("$build/bench/poll_bench" --impl floor --devices "$n" --layout device \
          --duration "$duration" --warmup 3)
    load1=$(cut -d' ' -f1 /proc/loadavg)
    # | impl | layout | devices | buses | polls/s | points/s | CPU s | % | main | fleet CPU s | peak RSS MiB | ...
    echo "$row" | awk -F'|' -v n="$n" -v d="$duration" -v tck="$clk_tck" -v l0="$load0" -v l1="$load1" '
        NR == 1 {
            cpu = $8 * tck; fleet = $11 * tck
            printf "floor %s 0 0 0 0 %.0f 0 0 %.0f %.0f %.0f n/a n/a %s %s n/a %s\n",
                   n, cpu, fleet, $12 * 1024, $6 * d, l0, l1, $13
        }' >>"$tmp/results"
}

# ---- the runs --------------------------------------------------------------

echo "## Machine"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "- kernel $(uname -r); $(cc --version | head -n1); libmodbus $(pkg-config --modversion libmodbus)"
echo "- $(influxd version 2>/dev/null | head -n1); mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p')"
echo "- node $(node --version); Node-RED $(node -p 'require(process.argv[1]).version' "$nodered/node_modules/node-red/package.json" 2>/dev/null || echo 'not installed');" \
     "node-red-contrib-modbus $(node -p 'require(process.argv[1]).version' "$nodered/node_modules/node-red-contrib-modbus/package.json" 2>/dev/null || echo '-');" \
     "node-red-contrib-influxdb $(node -p 'require(process.argv[1]).version' "$nodered/node_modules/node-red-contrib-influxdb/package.json" 2>/dev/null || echo '-')"
echo "- build: CMAKE_BUILD_TYPE=Release; ${duration} s measured per run, ${warmup} s of warm-up after the first point"
echo "- source: $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'not a git checkout')"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shares the 2 cores)"
echo

for n in $device_counts; do
    for impl in $impls; do
        echo "compare.sh: $impl, $n devices" >&2
        case $impl in
        floor) run_floor "$n" ;;
        greenwatchd | nodered) run_impl "$impl" "$n" ;;
        *) echo "compare.sh: unknown implementation $impl" >&2; exit 2 ;;
        esac
    done
done

echo "## $duration s windows, one TCP connection per device, every device polled every 1 s"
echo
echo "| implementation | devices | CPU s/min | % of a core | peak RSS MiB | points expected | points delivered | per device | via MQTT | fields/point | influxd CPU s/min | mosquitto CPU s/min | fleet CPU s/min | requests/poll | load avg start/end |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -v d="$duration" -v tck="$clk_tck" '
    {
        per_min = 60 / d / tck
        cpu = ($7 - $3) * per_min; influx = ($8 - $4) * per_min
        mosq = ($9 - $5) * per_min; fleet = ($10 - $6) * per_min
        is_floor = $1 == "floor"
        rpp = $18; for (i = 19; i <= NF; i++) rpp = rpp " " $i
        printf "| %s | %d | %.2f | %.2f %% | %.1f | %d | %s | %s | %s | %s | %s | %s | %.2f | %s | %s / %s |\n",
               $1, $2, cpu, cpu / 60 * 100, $11 / 1024, $2 * d,
               is_floor ? $12 " (polls, no delivery)" : $12, $17,
               $14, is_floor ? "n/a" : $13,
               is_floor ? "n/a" : sprintf("%.2f", influx),
               $1 == "greenwatchd" ? sprintf("%.2f", mosq) : "n/a",
               fleet, rpp, $15, $16
    }' "$tmp/results"
echo
echo "### Ratios"
echo
echo "| devices | greenwatchd CPU / floor CPU | Node-RED CPU / greenwatchd CPU | Node-RED peak RSS / greenwatchd peak RSS |"
echo "|---:|---:|---:|---:|"
awk '
    { cpu[$1, $2] = $7 - $3; rss[$1, $2] = $11; seen[$2] = 1; order[++k] = $2 }
    function ratio(a, b) { return b > 0 ? sprintf("%.1f", a / b) : "n/a" }
    END {
        for (i = 1; i <= k; i++) {
            n = order[i]
            if (done[n]++) continue
            printf "| %d | %s | %s | %s |\n", n,
                   ((("floor", n) in cpu) && (("greenwatchd", n) in cpu)) ? ratio(cpu["greenwatchd", n], cpu["floor", n]) : "n/a",
                   ((("nodered", n) in cpu) && (("greenwatchd", n) in cpu)) ? ratio(cpu["nodered", n], cpu["greenwatchd", n]) : "n/a",
                   ((("nodered", n) in rss) && (("greenwatchd", n) in rss)) ? ratio(rss["nodered", n], rss["greenwatchd", n]) : "n/a"
        }
    }' "$tmp/results"
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
