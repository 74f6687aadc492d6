#!/bin/sh
# Soak: greenwatchd polls a simulated fleet of 1,000 meters every second for
# an hour (or DURATION seconds), publishing to its own mosquitto and
# influxd with alarm rules on, while greenwatch-sim injects faults all the
# time: devices that stop answering and come back, late answers (inside
# and beyond the timeout), exception responses, counter resets and
# rollovers, spikes and stuck values.  Once a minute it samples the
# daemon's RSS (VmRSS) and CPU time from /proc, then prints a table and
# judges memory growth: the mean RSS of the last sixth of the run (minutes
# 51-60 of an hour) against that of minutes 5-15 (the first twelfth to the
# first quarter).  See docs/performance.md, "Soak".
#
#   bench/soak.sh [DURATION]        seconds, default 3600
#
# Exit status: 0 if the daemon ran throughout and RSS grew by no more than
# the threshold; 1 if it grew more or the daemon stopped; 2 on a usage or
# set-up error.
#
# The threshold is the larger of GW_SOAK_MAX_GROWTH_KIB (default 1024) and
# GW_SOAK_MAX_GROWTH_PCT (default 5) % of the early mean.  The 45 minutes
# between the two windows hold 2.7 million samples and 540 faults: 1 MiB
# is 0.4 byte per sample or 2 KiB per fault, so a leak of anything
# allocated per sample, per request, per reconnect or per alarm transition
# shows far above it, while a glibc arena's high-water mark, which moves
# by a few hundred KiB at a time, stays below it.  The relative part
# scales the margin with the size of the arenas.
#
# Environment: GW_SOAK_BUILD (build directory, default build-soak, built
# here as RelWithDebInfo), GW_SOAK_WORK (work directory, default a new one
# under $TMPDIR, removed at the end unless GW_SOAK_KEEP=1 or the run
# failed), GW_SOAK_SAMPLE_S (seconds between samples, default 60; shorter
# for a trial run), GW_SOAK_SEED (seed of the simulated fleet; the fault
# plan is fixed), GW_SOAK_TRIM=0 (no heap report at the end: it needs gdb
# and the right to attach to the daemon, i.e. root or
# kernel.yama.ptrace_scope = 0, and is skipped without them).
#
# Layout: 100 simulated gateways (ports) with 10 unit ids each, one bus
# per gateway.  Faults go to the first 200 devices only (gateways 1-20);
# the other 800 on gateways 21-100 are a control group that nothing
# disturbs: their samples in InfluxDB should be 800 a second, less the
# polls that a machine too busy to answer within the 300 ms timeout fails.
#
# The daemon's RSS depends on how busy the machine is: when the main
# thread is starved, samples queue for it, and glibc keeps the memory they
# took.  Run it on a machine that is otherwise quiet, or give it a higher
# priority (as root: nice -n -5 bench/soak.sh).
#
# Needs no root (but see GW_SOAK_TRIM): every server binds 127.0.0.1 on a
# free port with its data in the work directory, and everything started
# here is stopped by its pid when the script ends, however it ends.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${GW_SOAK_BUILD:-$root/build-soak}
duration=${1:-3600}
sample_s=${GW_SOAK_SAMPLE_S:-60}
seed=${GW_SOAK_SEED:-7}
max_growth_kib=${GW_SOAK_MAX_GROWTH_KIB:-1024}
max_growth_pct=${GW_SOAK_MAX_GROWTH_PCT:-5}
devices=1000
gateways=100
faulted=200            # devices 1..200 take faults: gateways 1..20
fault_every_s=5        # a new fault every 5 s: 720 an hour
topic=greenwatch/soak

die() {
    echo "soak.sh: $*" >&2
    exit 2
}

case $duration in
'' | *[!0-9]*) die "usage: soak.sh [DURATION_SECONDS]" ;;
esac
[ "$duration" -ge $((4 * sample_s)) ] || die "DURATION must be at least 4 samples ($((4 * sample_s)) s)"
for tool in influxd mosquitto mosquitto_sub curl jq ss od awk cmake; do
    command -v "$tool" >/dev/null ||
        die "$tool is needed (Debian packages influxdb, mosquitto, mosquitto-clients, curl, jq)"
done

echo "soak.sh: building in $build" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target greenwatchd greenwatch-sim kind_meter >/dev/null
sim=$build/tools/sim/greenwatch-sim
gwd=$build/daemon/greenwatchd
built_from=$(git -C "$root" describe --always --dirty 2>/dev/null || echo 'not a git checkout')   # as built

# ---- what this script starts, and how it is stopped ----------------------

influxd_pid=
mosq_pid=
sub_pid=
count_pid=
sim_pid=
gwd_pid=
status=2
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
    stop "$sub_pid"
    stop "$count_pid"
    stop "$mosq_pid"
    stop "$influxd_pid"
    if [ -n "${work:-}" ] && [ -d "$work" ]; then
        if [ "$status" -eq 0 ] && [ "${GW_SOAK_KEEP:-0}" != 1 ]; then
            rm -rf "$work"
        else
            echo "soak.sh: logs and data kept in $work" >&2
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody on this machine listens on (and not one already chosen),
# below the kernel's range for outgoing connections: a port from that
# range can be taken by a connection between this choice and the bind.
taken=
ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral" -gt 12000 ] || ephemeral=32768
free_port() {
    while :; do
        p=$((10000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (ephemeral - 10000)))
        case " $taken " in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htln "sport = :$p")" ]; then
            taken="$taken $p"
            echo "$p"
            return
        fi
    done
}

# Until FILE holds TEXT, false if PID exits or 30 s pass.
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

work=${GW_SOAK_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/greenwatch-soak.XXXXXX")}
mkdir -p "$work/spool" "$work/profiles"
work=$(cd "$work" && pwd)

# ---- influxd and mosquitto -----------------------------------------------

http_port=$(free_port)
rpc_port=$(free_port)
mqtt_port=$(free_port)
influx=http://127.0.0.1:$http_port
sh "$root/tools/scripts/influxd-conf.sh" "$work/influxdb" "$http_port" "$rpc_port" >"$work/influxd.conf"
influxd -config "$work/influxd.conf" >"$work/influxd.log" 2>&1 &
influxd_pid=$!

cat >"$work/mosquitto.conf" <<EOF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $work/mosquitto.log
EOF
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
mosq_pid=$!

n=0
until curl -sf "$influx/ping" >/dev/null && [ -n "$(ss -Htln "sport = :$mqtt_port")" ]; do
    kill -0 "$influxd_pid" 2>/dev/null || die "influxd did not start (see $work/influxd.log)"
    kill -0 "$mosq_pid" 2>/dev/null || die "mosquitto did not start (see $work/mosquitto.log)"
    [ "$n" -lt 300 ] || die "influxd or mosquitto did not open its port"
    sleep 0.1
    n=$((n + 1))
done

# Every reading the broker passes on, counted per group (control group:
# devices above $faulted), as a cross-check of what InfluxDB holds.
mkfifo "$work/readings.fifo"
awk -v faulted="$faulted" '
    { split($1, a, "/"); d = a[3]; sub(/^fleet-0*/, "", d)
      if (d + 0 > faulted) clean++; else fault++ }
    END { printf "%d %d\n", clean, fault }' <"$work/readings.fifo" >"$work/mqtt-counts" &
count_pid=$!
mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -i soak-counter -q 1 -t "$topic/+/reading" -F '%t' \
    >"$work/readings.fifo" 2>"$work/mosquitto_sub.log" &
sub_pid=$!

# ---- the fleet and its faults ----------------------------------------------

# The fault plan: one fault every $fault_every_s s, going round the first
# $faulted devices (each device's faults are 1,000 s apart, so none
# overlaps another on the same device) and through ten kinds in turn,
# shifted by one each round so that every device meets each kind.
# Timeout is 300 ms: a 150 ms delay is late but in time, an 800 ms delay
# is past it, and its answer arrives while the bus waits for the next one.
awk -v duration="$duration" -v every="$fault_every_s" -v faulted="$faulted" 'BEGIN {
    print "# The soak fault plan (bench/soak.sh): one fault every " every " s."
    print "faults = ("
    sep = ""
    for (k = 0; 30 + k * every < duration - 60; k++) {
        t = 30 + k * every
        d = sprintf("fleet-%04d", k % faulted + 1)
        kind = (k + int(k / faulted)) % 10
        if (kind == 0)      f = "type = \"no_answer\"; for_s = 60;"
        else if (kind == 1) f = "type = \"delay\"; delay_ms = 150; for_s = 120;"
        else if (kind == 2) f = "type = \"exception\"; code = 6; for_s = 60;"
        else if (kind == 3) f = "type = \"counter_reset\";"
        else if (kind == 4) f = "type = \"spike\"; point = \"power_kw\"; factor = 10.0; reads = 1;"
        else if (kind == 5) f = "type = \"delay\"; delay_ms = 800; for_s = 60;"
        else if (kind == 6) f = "type = \"stuck\"; for_s = 180;"
        else if (kind == 7) f = "type = \"exception\"; code = 2; address = 64; count = 2; for_s = 120;"
        else if (kind == 8) f = "type = \"counter_rollover\";"
        else                f = "type = \"no_answer\"; for_s = 300;"
        printf "%s  { device = \"%s\"; after_s = %d; %s }", sep, d, t, f
        sep = ",\n"
    }
    print "\n);"
}' >"$work/faults.conf"
n_faults=$(grep -c 'device = ' "$work/faults.conf")

cat >"$work/sim.conf" <<EOF
# Written by bench/soak.sh.
profile_dir = "$root/config/profiles";
sim = { seed = $seed; control = "$work/sim.sock"; scenario = "$work/faults.conf"; };
fleet = { count = $devices; port = 0; ports = $gateways; prefix = "fleet";
          profile = "generic-submeter"; role = "meter"; feed = "lighting"; };
EOF
"$sim" -c "$work/sim.conf" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
await "$work/sim.out" READY "$sim_pid" || die "greenwatch-sim did not start (see $work/sim.log)"

# ---- the daemon's configuration -------------------------------------------

# The shipped sub-meter map, but stamped with the daemon's wall clock
# rather than the simulator's whole model seconds: two polls that fall in
# one model second would otherwise be one point in InfluxDB, and the
# count of samples delivered would mean nothing.
sed 's/timestamp = true; *//' "$root/config/profiles/generic-submeter.conf" \
    >"$work/profiles/generic-submeter.conf"

# Per device: the meter kind's default rules, plus comm loss (no answer),
# spike and high limit on power (the spike fault), and a flat line on a
# voltage (the stuck fault).
{
    echo "# Written by bench/soak.sh."
    echo "site = { id = \"soak\"; name = \"soak fleet\"; timezone = \"UTC\"; };"
    echo "daemon = { plugin_dir = \"$build/plugins\"; profile_dir = \"$work/profiles\";"
    echo "           spool_dir = \"$work/spool\"; state_file = \"$work/alarms.json\"; log_level = \"warning\"; };"
    echo "mqtt = { uri = \"tcp://127.0.0.1:$mqtt_port\"; client_id = \"gw-soak\"; topic_prefix = \"$topic\"; qos = 1; };"
    echo "influxdb = { url = \"$influx\"; api = \"v1\"; database = \"greenwatch\"; };"
    echo "buses = ("
    sed -n 's/^LISTEN \([^ ]*\) \(.*\)$/  { id = "\1"; tcp = "\2"; timeout_ms = 300; },/p' "$work/sim.out" |
        sed '$ s/,$//'
    echo ");"
    awk -v n="$devices" -v per=$((devices / gateways)) 'BEGIN {
        print "devices = ("
        for (i = 1; i <= n; i++)
            printf "  { id = \"fleet-%04d\"; bus = \"fleet-bus-%d\"; unit = %d; kind = \"meter\";" \
                   " profile = \"generic-submeter\"; interval_s = 1;" \
                   " tags = { building = \"S\"; category = \"01A00\"; energy = \"electricity\"; };" \
                   " params = { rated_kw = 3000.0; }; }%s\n", i, int((i - 1) / per) + 1,
                   (i - 1) % per + 1, i < n ? "," : ""
        print ");"
        print "rules = ("
        for (i = 1; i <= n; i++) {
            d = sprintf("fleet-%04d", i)
            printf "  { id = \"comm\"; device = \"%s\"; type = \"comm_loss\"; intervals = 5; severity = \"high\"; },\n", d
            printf "  { id = \"power-spike\"; device = \"%s\"; type = \"spike\"; point = \"power_kw\"; jump = 2000.0; samples = 2; },\n", d
            printf "  { id = \"power-high\"; device = \"%s\"; type = \"limit\"; point = \"power_kw\"; high = 4000.0; deadband = 100.0; },\n", d
            printf "  { id = \"voltage-flat\"; device = \"%s\"; type = \"flatline\"; point = \"voltage_l1\"; window_s = 60; }%s\n", d, i < n ? "," : ""
        }
        print ");"
    }'
} >"$work/greenwatch.conf"
"$gwd" -c "$work/greenwatch.conf" --check >"$work/check.out" 2>&1 ||
    die "the generated $work/greenwatch.conf is not valid (see $work/check.out)"

# ---- the run ---------------------------------------------------------------

"$gwd" -c "$work/greenwatch.conf" >"$work/greenwatchd.out" 2>"$work/greenwatchd.log" &
gwd_pid=$!
t0=$(date +%s)
hz=$(getconf CLK_TCK)
echo "soak.sh: $devices devices on $gateways gateways every 1 s for $duration s;" \
     "$n_faults faults on the first $faulted devices; greenwatchd pid $gwd_pid; work directory $work" >&2

# Alive: running or sleeping, not a zombie; stat field 3 is the state.
alive() {
    s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    case $s in Z | X | x) return 1 ;; esac
}
cpu_ticks() {   # utime + stime
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
status_kib() {  # VmRSS, VmHWM, Threads
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^Threads:/ { t = $2 } END { print r, h, t }' \
        "/proc/$1/status"
}
# Faults of the plan in force at T seconds after the start.
active_faults() {
    awk -v t="$1" '
        /after_s/ { match($0, /after_s = [0-9]+/); a = substr($0, RSTART + 10, RLENGTH - 10) + 0
                    f = 0; if (match($0, /for_s = [0-9]+/)) f = substr($0, RSTART + 8, RLENGTH - 8) + 0
                    if (a <= t && t < a + (f > 0 ? f : 1)) n++ }
        END { print n + 0 }' "$work/faults.conf"
}

# Samples: elapsed s, RSS KiB, HWM KiB, threads, CPU ticks, spool KiB, faults in force.
: >"$work/samples"
died=
prev_ticks=$(cpu_ticks "$gwd_pid")
next=$((t0 + sample_s))
window_from=$((t0 + 10))     # counted in InfluxDB from here ...
while :; do
    if ! alive "$gwd_pid"; then
        died=$(($(date +%s) - t0))
        echo "soak.sh: greenwatchd stopped after $died s (see $work/greenwatchd.log)" >&2
        break
    fi
    alive "$sim_pid" || die "greenwatch-sim stopped (see $work/sim.log)"
    now=$(date +%s)
    if [ "$now" -ge "$next" ]; then
        el=$((now - t0))
        set -- $(status_kib "$gwd_pid")
        ticks=$(cpu_ticks "$gwd_pid")
        spool=$(du -sk "$work/spool" | cut -f1)
        echo "$el $1 $2 $3 $ticks $spool $(active_faults "$el")" >>"$work/samples"
        awk -v el="$el" -v r="$1" -v t="$ticks" -v p="$prev_ticks" -v hz="$hz" -v s="$sample_s" -v sp="$spool" \
            'BEGIN { printf "soak.sh: %5d s  RSS %.2f MiB  CPU %.1f %% of a core  spool %d KiB\n",
                     el, r / 1024, 100 * (t - p) / hz / s, sp }' >&2
        prev_ticks=$ticks
        next=$((next + sample_s))
        [ "$el" -lt "$duration" ] || break
    fi
    sleep 1
done
window_to=$(date +%s)        # ... to here (whole seconds, before the stop)
spool_end=$(du -sk "$work/spool" | cut -f1)
# The main thread (rules, encoding, spool) against the whole process.
main_cpu=$(awk -v hz="$hz" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$gwd_pid/task/$gwd_pid/stat" 2>/dev/null || echo "?")

# Live heap or memory malloc keeps: glibc's own account of the heap, then
# the RSS after malloc_trim gives back what is free.  Through gdb, after
# the measured window (it stops the daemon for a moment); skipped without
# gdb or with GW_SOAK_TRIM=0.
heap=
if [ -z "$died" ] && [ "${GW_SOAK_TRIM:-1}" != 0 ] && command -v gdb >/dev/null; then
    rss_before=$(status_kib "$gwd_pid" | cut -d' ' -f1)
    marker=$(wc -l <"$work/greenwatchd.log")
    gdb -p "$gwd_pid" -batch -ex 'call (void) malloc_stats()' -ex 'call (int) malloc_trim(0)' \
        >"$work/gdb.log" 2>&1 || true
    sleep 1
    rss_after=$(status_kib "$gwd_pid" | cut -d' ' -f1)
    # malloc_stats: per arena, then "Total (incl. mmap):" system and in-use bytes.
    heap=$(tail -n +"$((marker + 1))" "$work/greenwatchd.log" | awk -v b="$rss_before" -v a="$rss_after" '
        /^Total/ { total = 1 }
        total && /system bytes/ { sys = $NF }
        total && /in use bytes/ { use = $NF }
        END { if (sys) printf "malloc holds %.2f MiB of which %.2f MiB in use; RSS %.2f MiB, after malloc_trim %.2f MiB",
                               sys / 1048576, use / 1048576, b / 1024, a / 1024 }')
fi

if [ -z "$died" ]; then
    # A clean stop delivers what the spool still holds.
    kill -TERM "$gwd_pid"
    n=0
    while kill -0 "$gwd_pid" 2>/dev/null && [ "$n" -lt 600 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    wait "$gwd_pid" && gwd_rc=0 || gwd_rc=$?
    gwd_pid=
fi
spool_after=$(du -sk "$work/spool" | cut -f1)
stop "$sim_pid"
sim_pid=
sleep 2                      # let the last readings through the broker
stop "$sub_pid"
sub_pid=
wait "$count_pid" 2>/dev/null || true
count_pid=

# ---- what was delivered ----------------------------------------------------

# Samples in InfluxDB per group, counting voltage_l1 (a good point in every
# sample that reached the device, whatever the fault); FROM/TO in seconds,
# or none for the whole run.
influx_counts() {
    w=
    [ -z "${1:-}" ] || w="WHERE time >= ${1}s AND time < ${2}s"
    curl -sG "$influx/query" --data-urlencode "db=greenwatch" \
         --data-urlencode "q=SELECT count(voltage_l1) FROM meter $w GROUP BY device" |
        jq -r '.results[0].series[]? | "\(.tags.device) \(.values[0][1])"' |
        awk -v faulted="$faulted" '
            { d = $1; sub(/^fleet-0*/, "", d); if (d + 0 > faulted) c += $2; else f += $2 }
            END { printf "%d %d\n", c, f }'
}
set -- $(influx_counts "$window_from" "$window_to")
win_clean=$1 win_fault=$2
set -- $(influx_counts)
all_clean=$1 all_fault=$2
set -- $(cat "$work/mqtt-counts" 2>/dev/null || echo "0 0")
mqtt_clean=$1 mqtt_fault=$2
# The daemon's own account of the control group (its health measurement):
# polls, failed polls (no answer in time) and missed polls (a slot skipped
# because the previous poll ran late): a machine too busy for the fleet
# shows here.
set -- $(curl -sG "$influx/query" --data-urlencode "db=greenwatch" \
              --data-urlencode "q=SELECT last(polls), last(failed_polls), last(missed_polls) FROM greenwatch WHERE device =~ /^fleet-/ GROUP BY device" |
         jq -r '.results[0].series[]? | "\(.tags.device) \(.values[0][1]) \(.values[0][2]) \(.values[0][3])"' |
         awk -v faulted="$faulted" '{ d = $1; sub(/^fleet-0*/, "", d); if (d + 0 > faulted) { p += $2; f += $3; m += $4 } }
                                    END { printf "%d %d %d\n", p, f, m }')
ctl_polls=$1 ctl_failed=$2 ctl_missed=$3
win_s=$((window_to - window_from))
alarms=$(curl -sG "$influx/query" --data-urlencode "db=greenwatch" \
              --data-urlencode "q=SELECT count(*) FROM alarm" |
         jq -r '[.results[0].series[]?.values[0][1:][] | numbers] | max // 0')
log_lines=$(wc -l <"$work/greenwatchd.log")

# ---- the table and the verdict ---------------------------------------------

echo "## Soak: $devices devices, every 1 s, $duration s, faults on $faulted devices"
echo
echo "- source: $built_from when built; build $build (RelWithDebInfo)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| minute | RSS MiB | VmHWM MiB | threads | CPU s in the minute | % of a core | spool KiB | faults in force |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
awk -v hz="$hz" -v s="$sample_s" -v t0ticks=0 '
    { dt = NR == 1 ? $5 : $5 - p; p = $5
      printf "| %.4g | %.2f | %.2f | %d | %.2f | %.1f %% | %d | %d |\n",
             $1 / 60, $2 / 1024, $3 / 1024, $4, dt / hz, 100 * dt / hz / s, $6, $7 }' "$work/samples"
echo
verdict=$(awk -v d="$duration" -v maxk="$max_growth_kib" -v maxp="$max_growth_pct" -v hz="$hz" '
    { el = $1; if (el >= d / 12 && el <= d / 4) { es += $2; en++ }
      if (el > d - d / 6) { ls += $2; ln++ }
      cpu = $5; last = el; if ($2 > peak) peak = $2 }
    END {
      if (!en || !ln) { print "FAIL too few samples to judge"; exit }
      e = es / en; l = ls / ln; g = l - e
      lim = maxk; if (e * maxp / 100 > lim) lim = e * maxp / 100
      printf "%s early mean %.2f MiB (%d samples, %g-%g min), late mean %.2f MiB (%d samples, last %g min):" \
             " growth %+.0f KiB (%+.2f %%), threshold %.0f KiB; CPU %.1f s in %d s = %.1f %% of a core; peak RSS %.2f MiB\n",
             (g > lim ? "FAIL" : "PASS"), e / 1024, en, d / 12 / 60, d / 4 / 60, l / 1024, ln, d / 6 / 60,
             g, 100 * g / e, lim, cpu / hz, last, 100 * cpu / hz / last, peak / 1024 }' "$work/samples")
echo "- memory: ${verdict#* }"
if [ -n "$died" ]; then
    echo "- the daemon: STOPPED after $died s"
else
    echo "- the daemon: ran the whole $duration s (checked every second), then stopped on SIGTERM with status $gwd_rc"
fi
echo "- spool: $(tail -n 1 "$work/samples" | cut -d' ' -f6) KiB at the last sample, $spool_end KiB before the stop, $spool_after KiB after it (largest $(sort -n -k6 "$work/samples" | tail -n 1 | cut -d' ' -f6) KiB)"
echo "- InfluxDB, $win_s s from 10 s after the start: control group $win_clean samples of $(((devices - faulted) * win_s)) expected ($((devices - faulted)) devices x $win_s s); faulted group $win_fault of $((faulted * win_s)) polls"
echo "- whole run: InfluxDB control group $all_clean, faulted group $all_fault samples; MQTT readings received: control group $mqtt_clean, faulted group $mqtt_fault (a reading that has no good point is published to MQTT but writes no InfluxDB line)"
echo "- control group as the daemon counted it (health, last report): $ctl_polls polls, $ctl_failed failed, $ctl_missed missed"
echo "- faults injected: $n_faults; alarm transitions in InfluxDB: $alarms; daemon log: $log_lines lines"
echo "- CPU of the main thread (rules, encoding, spool): $main_cpu s of the process's $(tail -n 1 "$work/samples" | awk -v hz="$hz" '{ printf "%.1f", $5 / hz }') s"
[ -z "$heap" ] || echo "- heap at the end: $heap"

case $verdict in PASS*) ;; *) status=1 ;; esac
[ -z "$died" ] || status=1
[ "$status" -ne 2 ] || status=0
exit "$status"
