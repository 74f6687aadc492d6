#!/bin/sh
# Fill InfluxDB with months of the demo building's data in minutes, for
# dashboards and reports: greenwatch-sim plays the building of
# config/demo.conf from --from to --to, accelerated (--speed simulated
# seconds per wall second), and greenwatchd polls it every --sample
# simulated seconds and writes to InfluxDB.  Each sample carries the time
# its device's clock (sim_clock) shows, i.e. the simulated time.
# See docs/simulator.md, "Filling dashboards and reports".
#
#   tools/scripts/fill.sh --from "2026-01-01 00:00" --to "2027-01-01 00:00"
#   tools/scripts/fill.sh --from "2026-01-01 00:00" --days 7 --influx http://127.0.0.1:8086
#
# greenwatchd polls a device at most every 0.1 s, so --speed is at most
# ten times --sample: at the default 120 s a month takes 36 minutes of
# wall time however fast the machine, and one month uses a few percent of
# a core.  So the span is cut at the site's local month starts into
# segments that run side by side (--jobs at a time), each with its own
# simulator, daemon, spool and database on the same InfluxDB:
#
# - Every segment's simulator starts at the same instant, two hours
#   before --from, with the same step, and is advanced (its `advance`
#   command, which steps the model through the time) to two hours before
#   its segment: its building, counters included, is then the very
#   building a single run from --from would show, value for value.
# - Its daemon starts there, so that by the segment's start it has its
#   counter references, demand quarters and day as a daemon running
#   since long before would.
# - Only the segment's span, [start, end), is copied into --database:
#   each day once the daemon has delivered an hour past it, the rest when
#   the simulated time is past the segment's end and the daemon has been
#   stopped (a clean stop delivers its spool).  The first delta there is
#   the one the segment's own daemon read across the segment's start; the
#   two hours before and the minutes after are left out, so segments
#   neither overlap nor leave a gap.
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
jobs=12
truth=
faults=
fault_day=
lead=7200       # simulated seconds a segment's daemon runs before its segment
tail=900        # and after it, so that reads around its end are recorded

usage() {
    cat <<EOF
usage: fill.sh --from "YYYY-MM-DD HH:MM" (--to "YYYY-MM-DD HH:MM" | --days N) [options]
  --sample S      simulated seconds between two samples of a device (default 120)
  --speed X       simulated seconds per wall second (default 10 x sample: the
                  daemon's shortest interval, 0.1 s)
  --jobs N        segments (calendar months) filled at the same time (default 12)
  --truth DIR     the simulators' truth files, one per segment: DIR/YYYY-MM-DD.jsonl
                  (the segment's first day)
  --influx URL    write to this InfluxDB 1.x (default: a private influxd)
  --database DB   database to write (default greenwatch)
  --work DIR      configurations, logs, spools and the private influxd's data
                  (default: a new directory under \${TMPDIR:-/tmp})
  --build DIR     the build directory (default $top/build)
  --seed N        the simulated building's seed (default 42)
  --faults FILE   a greenwatch-sim scenario (config/demo-faults.conf) whose
  --fault-day D   times count from D ("YYYY-MM-DD HH:MM"): every segment's
                  simulator plays it at that date
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
    --jobs) jobs=$2 ;;
    --truth) truth=$2 ;;
    --influx) influx=$2 ;;
    --database) database=$2 ;;
    --work) work=$2 ;;
    --build) build=$2 ;;
    --seed) seed=$2 ;;
    --faults) faults=$2 ;;
    --fault-day) fault_day=$2 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift 2
done
if [ -z "$from" ] || { [ -z "$to" ] && [ -z "$days" ]; }; then
    usage >&2
    exit 2
fi
[ -n "$speed" ] || speed=$(awk -v s="$sample" 'BEGIN { print 10 * s }')
case $jobs in '' | *[!0-9]* | 0) die "--jobs takes a positive number" ;; esac
case $database in '' | *[!A-Za-z0-9_]*) die "--database: letters, digits and _ only" ;; esac

sim=$build/tools/sim/greenwatch-sim
gwd=$build/daemon/greenwatchd
for f in "$sim" "$gwd" "$build/plugins"; do
    [ -e "$f" ] || die "$f not found (build first, or give --build)"
done
build=$(cd "$build" && pwd)
sim=$build/tools/sim/greenwatch-sim
gwd=$build/daemon/greenwatchd
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
local_time() { TZ=$tz date -d "@$1" '+%Y-%m-%d %H:%M:%S'; }   # as greenwatch-sim takes it
# Every segment's simulator starts here: one step grid, one history.
sim_t0=$((from_s - lead))
start=$(local_time "$sim_t0")
# The daemon polls each device every sample/speed wall seconds, at least
# 0.1 s apart.
interval=$(awk -v s="$sample" -v x="$speed" 'BEGIN { printf "%.6g", s / x }')
awk -v i="$interval" 'BEGIN { exit !(i >= 0.1) }' ||
    die "--sample $sample at --speed $speed polls every $interval s; the daemon polls at most every 0.1 s"

# The segments' bounds: --from, each local month start after it, --to.
bounds=$from_s
t=$from_s
while :; do
    t=$(TZ=$tz date -d "$(TZ=$tz date -d "@$t" +%Y-%m-01) +1 month" +%s)
    [ "$t" -lt "$to_s" ] || break
    bounds="$bounds $t"
done
bounds="$bounds $to_s"
n_seg=$(($(echo $bounds | wc -w) - 1))
bound() { echo $bounds | cut -d' ' -f$(($1 + 1)); }   # bound I (0-based)

# ---- what this script starts, and how it is stopped ----------------------

influxd_pid=
workers=        # "pid:segment" of the running segments
stop() {   # stop PID [seconds]: TERM, then KILL after the grace time
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    reap "$@"
}
reap() {   # reap PID [seconds]: wait for it to end; KILL after the grace time
    n=0
    while kill -0 "$1" 2>/dev/null && [ "$n" -lt "$((${2:-30} * 10))" ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
# The segments stop their own simulator and daemon (the daemon may take a
# while to deliver its spool): one TERM each, then their time.
cleanup() {
    for w in $workers; do kill -TERM "${w%%:*}" 2>/dev/null || true; done
    for w in $workers; do reap "${w%%:*}" 200; done
    stop "$influxd_pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port for a server this script starts, in $port: not one already
# chosen, used by no TCP socket on this machine in any state (ss), and
# outside the range the kernel hands out to outgoing connections
# (ip_local_port_range), since a connection made between this choice and
# the server's bind could take a port from that range.  From 10000 up to
# the range, or above it where it leaves too little room below.  Another
# program may still bind the port first: the simulator is then started
# again on other ports (segment).
# (Read with awk, not `read`: dash reads a byte at a time, and this file
# answers a read at an offset with end of file.)
ephemeral=/proc/sys/net/ipv4/ip_local_port_range
eph=$(awk '{ print $1 ":" $2; exit }' "$ephemeral" 2>/dev/null) || eph=32768:60999
eph_low=${eph%%:*}
eph_high=${eph#*:}
case $eph_low:$eph_high in
*[!0-9:]* | :* | *:) die "$ephemeral: not a port range: $eph_low $eph_high" ;;
esac
if [ "$eph_high" -lt 10000 ]; then
    port_min=10000 port_max=65535
elif [ "$eph_low" -ge 11000 ]; then
    port_min=10000 port_max=$((eph_low - 1))
elif [ "$eph_high" -le 64535 ]; then
    port_min=$((eph_high + 1)) port_max=65535
else
    die "the ephemeral port range $eph_low-$eph_high ($ephemeral) leaves no room for servers' ports"
fi
taken=
free_port() {
    fp_tries=0
    while [ "$fp_tries" -lt 1000 ]; do
        fp_tries=$((fp_tries + 1))
        port=$((port_min + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (port_max - port_min + 1)))
        case " $taken " in *" $port "*) continue ;; esac
        fp_used=$(ss -Htan "sport = :$port") || die "ss failed: cannot tell which ports are in use"
        if [ -z "$fp_used" ]; then
            taken="$taken $port"
            return
        fi
    done
    die "no free port in $port_min-$port_max"
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
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -n "$truth" ]; then
    mkdir -p "$truth"
    truth=$(cd "$truth" && pwd)
fi

# The fault scenario, its times moved from the fault day to the simulators'
# common start: every segment's simulator plays it, so that one whose
# segment comes later has been through the same faults as the one whose
# segment holds the day, and both serve the same building.
if [ -n "$faults" ]; then
    [ -r "$faults" ] || die "--faults: cannot read $faults"
    [ -n "$fault_day" ] || die "--faults needs --fault-day"
    day_s=$(TZ=$tz date -d "$fault_day" +%s) || die "--fault-day: not a date: $fault_day"
    [ "$day_s" -ge "$sim_t0" ] || die "--fault-day is before the fill's simulated start, $start"
    awk -v shift_s=$((day_s - sim_t0)) '
        { while (match($0, /after_s *= *[0-9.]+/)) {
              v = substr($0, RSTART, RLENGTH); sub(/after_s *= */, "", v)
              $0 = substr($0, 1, RSTART - 1) "after_s@" (v + shift_s) substr($0, RSTART + RLENGTH)
          }
          gsub(/after_s@/, "after_s = "); print }' "$faults" >"$work/faults.conf"
fi

# ---- InfluxDB -----------------------------------------------------------

if [ -z "$influx" ]; then
    command -v influxd >/dev/null || die "influxd not found (apt-get install influxdb, or give --influx URL)"
    free_port
    http_port=$port
    free_port
    rpc_port=$port
    sh "$top/tools/scripts/influxd-conf.sh" "$work/influxdb" "$http_port" "$rpc_port" >"$work/influxd.conf"
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

# influxql STATEMENT: influxd's answer, on one line.
influxql() {
    curl -sS -XPOST "$influx/query" --data-urlencode "q=$1" | tr -d '\n'
}
ans=$(influxql "CREATE DATABASE \"$database\"")
case $ans in *'"error"'*) die "CREATE DATABASE $database: $ans" ;; esac

# ---- configurations -----------------------------------------------------

# The top-level settings of a libconfig file named in $2 (space separated),
# as they are written.
settings() {
    awk -v want=" $2 " '
        /^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ { name = $0; sub(/[ \t]*=.*/, "", name); keep = index(want, " " name " ") > 0 }
        keep' "$1"
}
n_buses=$(settings "$top/config/demo.conf" buses | grep -c 'tcp *= *"')

# The configurations of segment $1 in directory $2, its buses on the
# ports $3: the demo's site, buses, devices and report, every device
# polled every $interval s, no pacing between requests (the simulator
# answers at once, and pacing would not fit the interval), writing to the
# segment's own database.
configure() {
    {
        echo "# Written by tools/scripts/fill.sh from config/demo.conf."
        settings "$top/config/demo.conf" "site buses devices report" |
            awk -v ports="$3" -v interval="$interval" '
                BEGIN { n = split(ports, port, " "); i = 0 }
                /tcp *= *"[^"]*"/ { sub(/tcp *= *"[^"]*"/, "tcp = \"127.0.0.1:" port[++i] "\"") }
                { gsub(/interval_s *= *[0-9.]+/, "interval_s = " interval)
                  gsub(/delay_between_requests_ms *= *[0-9]+/, "delay_between_requests_ms = 0")
                  print }'
        cat <<EOF
daemon = { plugin_dir = "$build/plugins"; profile_dir = "$top/config/profiles";
           spool_dir = "$2/spool"; state_file = "$2/alarms.json"; log_level = "warning"; };
influxdb = { url = "$influx"; database = "${database}_segment_$1"; };
EOF
    } >"$2/greenwatch.conf"
    {
        echo "# Written by tools/scripts/fill.sh from config/demo-sim.conf."
        echo "daemon_config = \"$2/greenwatch.conf\";"
        echo "sim = { seed = $seed; control = \"$2/sim.sock\"; };"
        settings "$top/config/demo-sim.conf" "building devices"
    } >"$2/sim.conf"
    "$gwd" -c "$2/greenwatch.conf" --check >/dev/null || die "the generated $2/greenwatch.conf is not valid"
}

# ---- one segment ----------------------------------------------------------

sim_now() {   # simulated time of the simulator at control socket $1
    "$sim" --control "$1" status 2>/dev/null | sed -n 's/^OK sim_s=\([0-9.]*\).*/\1/p'
}

# Copy [from, to) of database $1 into $database, measurement by
# measurement; the daemon's own health (on the wall clock) all of it,
# only if $4 is "health".  A query that writes too much times out on a
# busy server, so a segment copies a day at a time; one that timed out is
# simply run again (the same points are written the same).  The points
# written are added to $dir/copied, one number a line.
copy_span() {
    for m in $(influxql "SHOW MEASUREMENTS ON \"$1\"" | grep -o '"values":\[.*\]\]' |
               grep -o '\["[^"]*"\]' | tr -d '["]'); do
        range="WHERE time >= ${2}s AND time < ${3}s"
        if [ "$m" = greenwatch ]; then
            [ "${4:-}" = health ] || continue
            range=
        fi
        tries=0
        until ans=$(influxql "SELECT * INTO \"$database\"..\"$m\" FROM \"$1\"..\"$m\" $range GROUP BY *")
              case $ans in *'"error"'*) false ;; esac; do
            tries=$((tries + 1))
            [ "$tries" -lt 5 ] || { echo "fill.sh: copying $m of $1: $ans" >&2; return 1; }
            sleep 5
        done
        printf '%s\n' "$ans" | sed -n 's/.*"values":\[\[[^,]*,\([0-9]*\)\]\].*/\1/p' >>"$dir/copied"
    done
}

# The simulated time up to which database $1 holds the daemon's samples:
# the time of its latest meter sample (the daemon delivers in the order
# it read, so every earlier sample is there too).
delivered() {
    curl -sS -XPOST "$influx/query?epoch=s" --data-urlencode "q=SELECT last(\"sim_clock\") FROM \"$1\"..\"meter\"" |
        tr -d '\n' | sed -n 's/.*"values":\[\[\([0-9]*\),.*/\1/p'
}

# Segment $1 (1-based) in its directory $2, its buses on the ports $3.
# Its status goes to $2/status: the simulated time now and then, "copied
# N" at the end.
segment() {
    i=$1 dir=$2
    a=$(bound $((i - 1)))
    b=$(bound "$i")
    label=$(TZ=$tz date -d "@$a" +%Y-%m-%d)
    db=${database}_segment_$i
    sim_pid=
    gwd_pid=
    trap 'trap "" TERM; stop "$gwd_pid" 120; stop "$sim_pid"' EXIT
    trap 'exit 130' TERM
    mkdir -p "$dir/spool"
    ports=$3
    set -- --speed "$speed" --start "$start"
    if [ -n "$truth" ]; then
        set -- "$@" --truth "$truth/$label.jsonl"
    fi
    [ -z "$faults" ] || set -- "$@" --scenario "$work/faults.conf"
    # A port chosen free may be taken before the simulator binds it: then
    # other ports, a few times.
    tries=0
    while :; do
        configure "$i" "$dir" "$ports"
        [ -z "$truth" ] || rm -f "$truth/$label.jsonl"     # the simulator appends
        "$sim" -c "$dir/sim.conf" "$@" >"$dir/sim.out" 2>"$dir/sim.log" &
        sim_pid=$!
        await "$dir/sim.out" READY "$sim_pid" && break
        stop "$sim_pid"
        sim_pid=
        tries=$((tries + 1))
        if [ "$tries" -ge 5 ] || ! grep -q 'Address already in use' "$dir/sim.log"; then
            die "[$label] greenwatch-sim did not start (see $dir/sim.log)"
        fi
        ports=
        for p in $3; do
            free_port
            ports="$ports $port"
        done
    done
    # To $lead before the segment.  The wall time an advance takes passes
    # on the simulated clock too, at speed (seconds on a busy machine:
    # hours of simulated time), so each advance covers three quarters of
    # what is left, at most a year, until ten minutes are.
    target=$((a - lead))
    while :; do
        t=$(sim_now "$dir/sim.sock")
        [ -n "$t" ] || die "[$label] no status from greenwatch-sim"
        gap=$(awk -v t="$t" -v e="$target" 'BEGIN { g = (e - t) * 3 / 4; printf "%d", (g > 31536000 ? 31536000 : g) }')
        [ "$gap" -gt 450 ] || break
        "$sim" --control "$dir/sim.sock" advance "$gap" >/dev/null || die "[$label] advance $gap failed"
    done
    awk -v t="$t" -v a="$a" -v l="$lead" 'BEGIN { exit !(t <= a - l / 2) }' ||
        die "[$label] the simulator is at $(local_time "${t%.*}"), less than $((lead / 2)) s before its segment"
    # Nothing of an earlier run in the segment's database.
    ans=$(influxql "DROP DATABASE \"$db\"")
    : >"$dir/copied"
    "$gwd" -c "$dir/greenwatch.conf" >"$dir/greenwatchd.out" 2>"$dir/greenwatchd.log" &
    gwd_pid=$!
    # [a, done_to) is in $database: each day is copied as soon as the
    # daemon has delivered an hour past it, which spreads the copying over
    # the run.
    done_to=$a
    while :; do
        kill -0 "$gwd_pid" 2>/dev/null || die "[$label] greenwatchd stopped (see $dir/greenwatchd.log)"
        kill -0 "$sim_pid" 2>/dev/null || die "[$label] greenwatch-sim stopped (see $dir/sim.log)"
        t=$(sim_now "$dir/sim.sock")
        [ -n "$t" ] || die "[$label] no status from greenwatch-sim"
        echo "$t" >"$dir/status.new"
        mv "$dir/status.new" "$dir/status"
        awk -v t="$t" -v e="$b" -v x="$tail" 'BEGIN { exit !(t >= e + x) }' && break
        day_end=$((done_to + 86400 < b ? done_to + 86400 : b))
        if [ "$day_end" -lt "$b" ] && awk -v t="$t" -v e="$day_end" 'BEGIN { exit !(t >= e + 3600) }' &&
           awk -v d="$(delivered "$db")" -v e="$day_end" 'BEGIN { exit !(d != "" && d + 0 >= e + 3600) }'; then
            copy_span "$db" "$done_to" "$day_end" || die "[$label] copying $db failed"
            done_to=$day_end
            continue
        fi
        sleep 1
    done
    # A clean stop delivers what the spool holds.
    stop "$gwd_pid" 120
    gwd_pid=
    stop "$sim_pid"
    sim_pid=
    health=
    [ "$b" -ne "$to_s" ] || health=health
    copy_span "$db" "$done_to" "$b" "$health" || die "[$label] copying $db failed"
    ans=$(influxql "DROP DATABASE \"$db\"")
    echo "copied $(awk '{ s += $1 } END { printf "%.0f", s }' "$dir/copied")" >"$dir/status"
}

# ---- the run ------------------------------------------------------------

# What year-check.sh and other readers need: each segment's number,
# bounds (s since the epoch), first day and truth file.
i=1
while [ "$i" -le "$n_seg" ]; do
    a=$(bound $((i - 1)))
    label=$(TZ=$tz date -d "@$a" +%Y-%m-%d)
    echo "$i $a $(bound "$i") $label ${truth:+$truth/$label.jsonl}"
    i=$((i + 1))
done >"$work/segments"

started=$(date +%s.%N)
span_days=$(awk -v a="$from_s" -v b="$to_s" 'BEGIN { printf "%.1f", (b - a) / 86400 }')
[ "$jobs" -le "$n_seg" ] || jobs=$n_seg
echo "fill.sh: $(local_time "$from_s") .. $span_days days in $n_seg segments, $jobs at a time;" \
     "a sample every $sample simulated s, speed $speed (poll every $interval s)"
echo "fill.sh: writing to $influx, database $database; work directory $work"

# Simulated days done over all segments.
progress() {
    i=1
    for s in $bounds; do
        [ "$i" -le "$n_seg" ] || break
        f=$work/segment-$i/status
        if [ -s "$f" ]; then
            echo "$(bound $((i - 1))) $(bound "$i") $(head -c 40 "$f")"
        fi
        i=$((i + 1))
    done | awk '{ t = $3 == "copied" ? $2 : $3; if (t > $2) t = $2; if (t > $1) d += (t - $1) / 86400 }
                END { printf "%.1f", d }'
}

next=1
last=0
while :; do
    for w in $workers; do
        pid=${w%%:*}
        i=${w#*:}
        kill -0 "$pid" 2>/dev/null && continue
        rc=0
        wait "$pid" || rc=$?
        [ "$rc" -eq 0 ] || die "segment $i failed (exit status $rc; see $work/segment-$i)"
        workers=$(echo $workers | tr ' ' '\n' | grep -v "^$pid:" | tr '\n' ' ')
        echo "fill.sh: segment $i ($(local_time "$(bound $((i - 1)))") ..) done:" \
             "$(cut -d' ' -f2 "$work/segment-$i/status") points copied"
    done
    while [ "$(echo $workers | wc -w)" -lt "$jobs" ] && [ "$next" -le "$n_seg" ]; do
        ports=
        j=0
        while [ "$j" -lt "$n_buses" ]; do
            free_port
            ports="$ports $port"
            j=$((j + 1))
        done
        mkdir -p "$work/segment-$next"
        segment "$next" "$work/segment-$next" "$ports" &
        workers="$workers $!:$next"
        next=$((next + 1))
    done
    [ -n "$(echo $workers)" ] || break
    now=$(date +%s)
    if [ $((now - last)) -ge 30 ]; then
        echo "fill.sh: $(progress) of $span_days simulated days in" \
             "$(awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.0f", n - s }') s"
        last=$now
    fi
    sleep 1
done
finished=$(date +%s.%N)

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
    printf "fill.sh: %.1f simulated days in %.0f s (%.1f min) wall\n", days, wall, wall / 60
    printf "fill.sh: written in that span: %d device samples (points), %d field values, %d 15-minute demands\n", n, v, d
}'
if [ -n "$influxd_pid" ]; then
    stop "$influxd_pid"
    influxd_pid=
    echo "fill.sh: influxd stopped; to serve the data again: influxd -config $work/influxd.conf ($influx)"
fi
