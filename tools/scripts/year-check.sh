#!/bin/sh
# A simulated year of the demo building, end to end: tools/scripts/fill.sh
# fills it (config/demo.conf played by greenwatch-sim, polled by
# greenwatchd) into a private influxd, the simulators recording what they
# served in their truth files; then
#
#   (a) `greenwatch report --format json` for the span's months is
#       compared, per month and for the whole span, with the simulator's
#       truth: every meter's use (electricity kWh, water and gas m3, heat
#       kWh if there is a heat meter), each energy's use and sub-metered
#       sum, the sub-metering categories and the site's energy.  It fails
#       if any differs by more than --tolerance (0.5 %).
#   (b) every dashboard panel's query is run (tests/dashboards/check.sh
#       --query) over each dashboard's own range ending at the last
#       reading, and over the whole span; it fails if a panel returns no
#       data.
#
# See docs/reports.md, "Checked against the simulator".
#
#   tools/scripts/year-check.sh --build build-year                  # 2026, a year
#   tools/scripts/year-check.sh --from "2026-07-01 00:00" --days 7  # a quick look
#
# The truth.  With every read it answers, greenwatch-sim records the
# engineering value each register held (docs/simulator.md, "The truth
# file").  A meter's counter at an instant is taken from the reads either
# side of it, linearly, counting the register's rollovers (the gas meter's
# 16-bit register wraps every 6553.6 m3); a month's truth is its counter
# at the month's end less its counter at the month's start: what the
# simulated meter counted in that calendar month of the site's zone.  A
# month the span covers only in part (--from or --to inside it) is taken
# over that part, from max(month start, --from) to min(month end, --to):
# fill.sh puts exactly [--from, --to) in the database, so the report's
# month holds the same part.
#
# The faults.  The demo building's fault day (config/demo-faults.conf,
# written for Tuesday 2026-04-07) is played when the span holds that day,
# so that the year has its alarms and the alarm dashboard has data: a
# healthy building raises none.  Its counter faults (a meter replaced, a
# register jumped to near its rollover) and the stuck energy register are
# left out: they change what the meter counts, which the comparison with
# the truth would then count as the daemon's error.
#
# Every server it starts binds to 127.0.0.1 and is stopped by its pid when
# the script ends; the data stay in the work directory.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
from="2026-01-01 00:00"
to=
days=
months=
sample=120
jobs=12
work=
seed=42
fault_day="2026-04-07 00:00"
tolerance=0.5
reuse=0

usage() {
    cat <<EOF
usage: year-check.sh [--from "YYYY-MM-DD HH:MM"] [--to "YYYY-MM-DD HH:MM" | --days N | --months N] [options]
  --from DATE      start of the span (default 2026-01-01 00:00); with neither
                   --to, --days nor --months, a year (12 months)
  --sample S       simulated seconds between two samples (default 120; fill.sh)
  --jobs N         months filled at the same time (default 12; fill.sh)
  --tolerance PCT  the largest relative difference allowed (default 0.5)
  --work DIR       the private influxd's data, truth files, report and tables
                   (default: a new directory under \${TMPDIR:-/tmp})
  --reuse          check again what an earlier run left in --work, without filling
  --build DIR      the build directory (default $top/build)
  --seed N         the simulated building's seed (default 42)
  --fault-day DATE the day config/demo-faults.conf is played (default
                   2026-04-07 00:00), if the span holds it
Dates are local time of the demo site (config/demo.conf's site.timezone).
EOF
}

die() {
    echo "year-check.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --reuse) reuse=1; shift; continue ;;
    esac
    [ $# -ge 2 ] || { usage >&2; exit 2; }
    case $1 in
    --from) from=$2 ;;
    --to) to=$2 ;;
    --days) days=$2 ;;
    --months) months=$2 ;;
    --sample) sample=$2 ;;
    --jobs) jobs=$2 ;;
    --tolerance) tolerance=$2 ;;
    --work) work=$2 ;;
    --build) build=$2 ;;
    --seed) seed=$2 ;;
    --fault-day) fault_day=$2 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$to$days$months" ] || months=12
gw=$build/tools/greenwatch/greenwatch
[ -x "$gw" ] || die "$gw not found (build first, or give --build)"
build=$(cd "$build" && pwd)
gw=$build/tools/greenwatch/greenwatch
for tool in curl jq awk date influxd; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

# ---- the span -------------------------------------------------------------

tz=$(sed -n 's/^ *timezone *= *"\([^"]*\)".*/\1/p' "$top/config/demo.conf" | head -n 1)
tz=${tz:-UTC}
from_s=$(TZ=$tz date -d "$from" +%s) || die "--from: not a date: $from"
if [ -n "$to" ]; then
    to_s=$(TZ=$tz date -d "$to" +%s) || die "--to: not a date: $to"
elif [ -n "$days" ]; then
    to_s=$(awk -v f="$from_s" -v d="$days" 'BEGIN { printf "%d", f + d * 86400 }')
else
    day=$(TZ=$tz date -d "@$from_s" +%Y-%m-%d)
    to_s=$(TZ=$tz date -d "$(TZ=$tz date -d "$day +$months month" +%Y-%m-%d) $(TZ=$tz date -d "@$from_s" +%H:%M:%S)" +%s)
fi
[ "$to_s" -gt "$from_s" ] || die "the span must run forward"
local_time() { TZ=$tz date -d "@$1" '+%Y-%m-%d %H:%M'; }
first_month=$(TZ=$tz date -d "@$from_s" +%Y-%m)
last_month=$(TZ=$tz date -d "@$((to_s - 1))" +%Y-%m)

# ---- the private influxd --------------------------------------------------

influxd_pid=
cleanup() {
    [ -n "$influxd_pid" ] || return 0
    kill -TERM "$influxd_pid" 2>/dev/null || return 0
    n=0
    while kill -0 "$influxd_pid" 2>/dev/null && [ "$n" -lt 300 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$influxd_pid" 2>/dev/null || true
    wait "$influxd_pid" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$reuse" -eq 1 ]; then
    [ -n "$work" ] && [ -s "$work/fill/segments" ] || die "--reuse needs the --work of an earlier run"
else
    [ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/greenwatch-year.XXXXXX")
    [ ! -e "$work/fill" ] || die "$work already holds a fill (--reuse checks it again)"
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

# On ports the system chooses; its log says which.
sh "$top/tools/scripts/influxd-conf.sh" "$work/influxdb" >"$work/influxd.conf"
influxd -config "$work/influxd.conf" >"$work/influxd.log" 2>&1 &
influxd_pid=$!
url=
n=0
while [ -z "$url" ] && [ "$n" -lt 600 ] && kill -0 "$influxd_pid" 2>/dev/null; do
    url=$(sed -n 's/.*msg="Listening on HTTP".*addr=\(127\.0\.0\.1:[0-9]*\).*/http:\/\/\1/p' "$work/influxd.log" | head -n 1)
    [ -n "$url" ] || sleep 0.1
    n=$((n + 1))
done
[ -n "$url" ] && curl -sf "$url/ping" >/dev/null || die "influxd did not start (see $work/influxd.log)"

# ---- the fill ---------------------------------------------------------------

if [ "$reuse" -eq 0 ]; then
    echo "year-check.sh: filling $(local_time "$from_s") .. $(local_time "$to_s") into $url; work directory $work"
    set --
    day_s=$(TZ=$tz date -d "$fault_day" +%s) || die "--fault-day: not a date: $fault_day"
    if [ "$day_s" -ge "$from_s" ] && [ $((day_s + 86400)) -le "$to_s" ]; then
        grep -v -e 'type = "counter_reset"' -e 'type = "counter_rollover"' -e 'type = "stuck"; point = "energy_kwh"' \
            "$top/config/demo-faults.conf" >"$work/faults.conf"
        set -- --faults "$work/faults.conf" --fault-day "$fault_day"
        echo "year-check.sh: the demo building's fault day on $fault_day (its counter faults left out)"
    fi
    t0=$(date +%s)
    sh "$top/tools/scripts/fill.sh" --build "$build" --from "$(local_time "$from_s")" --to "$(local_time "$to_s")" \
        --sample "$sample" --jobs "$jobs" --seed "$seed" --influx "$url" --database greenwatch \
        --work "$work/fill" --truth "$work/truth" "$@" || die "the fill failed (see $work/fill)"
    echo "$(($(date +%s) - t0))" >"$work/fill-seconds"
fi
fill_s=$(cat "$work/fill-seconds" 2>/dev/null || echo "?")
segments=$work/fill/segments
# The span of the data, as fill.sh cut it.
from_s=$(head -n 1 "$segments" | cut -d' ' -f2)
to_s=$(tail -n 1 "$segments" | cut -d' ' -f3)
first_month=$(TZ=$tz date -d "@$from_s" +%Y-%m)
last_month=$(TZ=$tz date -d "@$((to_s - 1))" +%Y-%m)

# ---- (a) the report against the truth --------------------------------------

# The report's configuration: the demo's site, devices and report block,
# reading this influxd.  Samples are stamped in simulated time, so the
# devices' interval, for completeness and gaps, is the simulated one.
{
    awk '/^[A-Za-z_][A-Za-z0-9_]*[ \t]*=/ { name = $0; sub(/[ \t]*=.*/, "", name)
                                            keep = name ~ /^(site|buses|devices|report)$/ }
         keep' "$top/config/demo.conf" |
        sed "s/interval_s *= *[0-9.]*/interval_s = $sample/g"
    echo "daemon = { profile_dir = \"$top/config/profiles\"; };"
    echo "influxdb = { url = \"$url\"; database = \"greenwatch\"; };"
} >"$work/report.conf"
"$gw" report -c "$work/report.conf" --from "$first_month" --to "$last_month" --format json \
    -o "$work/report.json" || die "greenwatch report failed"
gas_kwh_per_m3=$(sed -n 's/.*gas_kwh_per_m3 *= *\([0-9.]*\).*/\1/p' "$work/report.conf" | head -n 1)
gas_kwh_per_m3=${gas_kwh_per_m3:-9.97}

# The meters (kind meter with an energy tag), their counter, and where
# its register rolls over (the profile's type and scale, as the
# simulator's encoder wraps it).
meters=$(jq -r '.total.meters | to_entries[] | select(.value.energy != null)
                | [.key, .value.energy, (if .value.main then "main" else "sub" end), (.value.category // "-")] | @tsv' \
              "$work/report.json")
[ -n "$meters" ] || die "the report lists no meters"
wrap_of() {   # wrap_of PROFILE POINT: where the point's register rolls over, 0 never
    sed 's/#.*//' "$top/config/profiles/$1.conf" | tr '\n' ' ' | awk -v pt="$2" 'BEGIN { RS = "}" }
        index($0, "name = \"" pt "\"") {
            type = $0; sub(/.*type *= *"/, "", type); sub(/".*/, "", type)
            scale = 1; if ($0 ~ /scale *=/) { scale = $0; sub(/.*scale *= *"?/, "", scale); sub(/[^0-9.eE+-].*/, "", scale) }
            span = type == "uint16" ? 65536 : type == "uint32" ? 4294967296 : type == "int16" ? 32768 : type == "int32" ? 2147483648 : 0
            printf "%.10g\n", span * (scale < 0 ? -scale : scale); exit }'
}
printf '%s\n' "$meters" | while IFS="$(printf '\t')" read -r id energy role category; do
    profile=$(grep -E "^ *\{ id = \"$id\";" "$top/config/demo.conf" | sed -n 's/.*profile = "\([^"]*\)".*/\1/p')
    case $energy in electricity | heat) point=energy_kwh ;; *) point=volume_m3 ;; esac
    echo "$id $point $(wrap_of "$profile" "$point") $energy $role $category"
done >"$work/meters"

# Each meter's counter at each segment's bounds, from that segment's own
# truth file: "segment device bound counter wrap gap_s" (gap_s: the reads'
# distance around the bound).  Counters are unwrapped from the file's first
# read on.  The reads within three hours of a bound, as served ("segment
# device sim_s value"), go to truth-near: where two segments meet, both
# simulators were read, and at an instant both were read they must have
# served the same.
echo "year-check.sh: reading the truth files ($(du -sh "$work/truth" | cut -f1))"
: >"$work/truth-near"
i=0
while read -r n a b label file; do
    i=$((i + 1))
    [ -s "$file" ] || die "no truth file for segment $n ($file)"
    grep -F -e '"energy_kwh":' -e '"volume_m3":' "$file" |
        awk -v seg="$i" -v a="$a" -v b="$b" -v meters="$(cat "$work/meters")" -v near="$work/truth-near" '
        BEGIN {
            n = split(meters, w, "\n")
            for (k = 1; k <= n; k++) { split(w[k], f, " "); point[f[1]] = f[2]; wrap[f[1]] = f[3] + 0 }
            nb = 2; bound[1] = a; bound[2] = b
        }
        {
            if (!match($0, /"device":"[^"]*"/)) next
            dev = substr($0, RSTART + 10, RLENGTH - 11)
            if (!(dev in point)) next
            if (!match($0, "\"" point[dev] "\":[-0-9.eE+]+")) next
            raw = substr($0, RSTART + length(point[dev]) + 3, RLENGTH - length(point[dev]) - 3) + 0
            match($0, /"sim_s":[0-9.]+/)
            t = substr($0, RSTART + 8, RLENGTH - 8) + 0
            if ((t - a) ^ 2 <= 10800 ^ 2 || (t - b) ^ 2 <= 10800 ^ 2) printf "%d %s %.3f %.10g\n", seg, dev, t, raw >>near
            if ((dev in last_raw) && wrap[dev] > 0 && raw < last_raw[dev] - wrap[dev] / 2) turns[dev]++
            last_raw[dev] = raw
            u = raw + turns[dev] * wrap[dev]
            if ((dev in prev_t) && t > prev_t[dev])
                for (k = 1; k <= nb; k++)
                    if (!((dev, k) in done) && prev_t[dev] <= bound[k] && t > bound[k]) {
                        c = prev_u[dev] + (u - prev_u[dev]) * (bound[k] - prev_t[dev]) / (t - prev_t[dev])
                        printf "%d %s %d %.6f %s %.0f\n", seg, dev, bound[k], c, wrap[dev], t - prev_t[dev]
                        done[dev, k] = 1
                    }
            if (!(dev in prev_t) || t > prev_t[dev]) { prev_t[dev] = t; prev_u[dev] = u }
        }'
done <"$segments" >"$work/truth-bounds"

# Each segment's truth per meter, and the seam between segments: where one
# segment ends and the next begins both simulators served the same
# counter (they play one building), which the two files must show.
awk -v meters="$(cut -d' ' -f1 "$work/meters" | tr '\n' ' ')" '
    FNR == NR { a[FNR] = $2; b[FNR] = $3; last = FNR; next }
    { c[$1, $2, $3] = $4; wrap[$2] = $5 }
    END {
        nm = split(meters, m, " ")
        for (i = 1; i <= last; i++)
            for (k = 1; k <= nm; k++) {
                d = m[k]
                if (!((i, d, a[i]) in c) || !((i, d, b[i]) in c)) { printf "missing %d %s\n", i, d; continue }
                printf "truth %d %s %.6f\n", i, d, c[i, d, b[i]] - c[i, d, a[i]]
                if (i > 1 && ((i - 1, d, b[i - 1]) in c)) {
                    s = c[i, d, a[i]] - c[i - 1, d, b[i - 1]]
                    if (wrap[d] > 0) s -= wrap[d] * int(s / wrap[d] + (s < 0 ? -0.5 : 0.5))
                    printf "seam %d %s %.6f\n", i, d, s
                }
            }
    }' "$segments" "$work/truth-bounds" >"$work/truth-segments"
if grep -q '^missing' "$work/truth-segments"; then
    grep '^missing' "$work/truth-segments" | sed 's/^/year-check.sh: no reads around the bounds of segment /' >&2
    die "the truth files do not cover every segment's bounds"
fi

# Report and truth side by side: "quantity unit period report truth".
# Segments are the span's parts of calendar months, in order, so the
# i-th is the report's month i.  The truth of an energy, a category and the
# site is built from the meters' as the report builds its figures
# (docs/reports.md, "The figures").
jq -r '(.months | to_entries[] | .key as $k | .value | [($k + 1 | tostring), .month] | @tsv),
       (.total | ["total", "total"] | @tsv)' "$work/report.json" >"$work/periods"
jq -r '[(.months | to_entries[] | {p: (.key + 1 | tostring), m: .value}), {p: "total", m: .total}][]
       | .p as $p | .m as $m
       | ($m.meters | to_entries[] | select(.value.energy != null)
          | ["meter " + .key, .value.unit, $p, (.value.use // "null" | tostring)]),
         ($m.energy | to_entries[] | ["energy " + .key + " use", .value.unit, $p, (.value.use // "null" | tostring)],
                                     ["energy " + .key + " submetered", .value.unit, $p, (.value.submetered // "null" | tostring)]),
         ($m.categories | to_entries[] | ["category " + .key, "kWh", $p, (.value.kwh // "null" | tostring)]),
         ["site energy", "kWh", $p, ($m.site.energy_kwh // "null" | tostring)]
       | @tsv' "$work/report.json" >"$work/report.tsv"
awk -v gas_kwh="$gas_kwh_per_m3" '
    FILENAME ~ /meters$/ { energy[$1] = $4; role[$1] = $5; cat[$1] = $6; has_main[$4] += $5 == "main"; next }
    $1 == "truth" {
        p = $2; d = $3; v = $4; periods[p] = 1
        add("meter " d, p, v)
        e = energy[d]
        if (role[d] == "main" || !has_main[e]) add("energy " e " use", p, v)
        if (role[d] == "sub" && has_main[e]) add("energy " e " submetered", p, v)
        if (e == "electricity" && role[d] == "sub") {
            code = cat[d]
            add("category " (code ~ /^01[A-D]/ ? substr(code, 1, 3) "00" : "other"), p, v)
        }
        if (e == "electricity" || e == "heat") { if (role[d] == "main" || !has_main[e]) add("site energy", p, v) }
        if (e == "gas") { if (role[d] == "main" || !has_main[e]) add("site energy", p, v * gas_kwh) }
    }
    function add(q, p, v) { t[q, p] += v; t[q, "total"] += v; qs[q] = 1 }
    END { for (k in t) { split(k, x, SUBSEP); printf "%s\t%s\t%.6f\n", x[1], x[2], t[k] } }
' "$work/meters" "$work/truth-segments" >"$work/truth.tsv"

# The comparison: every quantity with a truth, per period.
awk -F '\t' -v tol="$tolerance" '
    FILENAME ~ /periods$/ { label[$1] = $2; order[++np] = $1; next }
    FILENAME ~ /truth.tsv$/ { truth[$1, $2] = $3; has[$1] = 1; next }
    ($1 in has) && (($1, $3) in truth) {
        q = $1; p = $3; unit[q] = $2
        if (!(q in seen)) { seen[q] = 1; qorder[++nq] = q }
        tv = truth[q, p]
        if ($4 == "null") { err = "none"; bad++ }
        else { err = tv != 0 ? ($4 - tv) / tv * 100 : ($4 == 0 ? 0 : 1e9) }
        e[q, p] = err; r[q, p] = $4
        printf "%s\t%s\t%s\t%s\t%.6f\t%s\n", q, $2, label[p], $4, tv, err >"/dev/stderr"
        a = err == "none" ? 1e9 : (err < 0 ? -err : err)
        if (a > worstq[q] || !(q in worstq)) { worstq[q] = a; worstp[q] = label[p] }
        if (a > worst || nworst == 0) { worst = a; worst_q = q; worst_p = label[p]; nworst = 1 }
    }
    END {
        printf "%-32s %-4s", "relative error, %", "unit"
        for (k = 1; k <= np; k++) printf " %8s", label[order[k]]
        printf " %8s %16s\n", "worst", "truth, total"
        for (i = 1; i <= nq; i++) {
            q = qorder[i]
            printf "%-32s %-4s", q, unit[q]
            for (k = 1; k <= np; k++) {
                p = order[k]
                if (!((q, p) in e)) printf " %8s", "-"
                else if (e[q, p] == "none") printf " %8s", "no data"
                else printf " %+8.4f", e[q, p]
            }
            printf " %8.4f %16.3f\n", worstq[q], truth[q, "total"]
        }
        printf "worst: %.4f %% (%s, %s); tolerance %s %%\n", worst, worst_q, worst_p, tol
        exit !(worst <= tol && !bad)
    }' "$work/periods" "$work/truth.tsv" "$work/report.tsv" 2>"$work/comparison.tsv" >"$work/comparison.txt" &&
    report_ok=1 || report_ok=0

# ---- (b) every dashboard panel --------------------------------------------

end_ms=$(curl -sG "$url/query" --data-urlencode "db=greenwatch" --data-urlencode "epoch=ms" \
             --data-urlencode 'q=SELECT last("power_kw") FROM "meter"' | jq '.results[0].series[0].values[0][0] // empty')
[ -n "$end_ms" ] || die "no reading in the database"
# Over each dashboard's own range a panel may have no data where the plant
# did not run (the chillers in December); over all the data every panel
# must have some.
panels_ok=1
echo "year-check.sh: dashboards, each dashboard's own range, ending at the last reading"
sh "$top/tests/dashboards/check.sh" --query "$url" --end "$end_ms" --range default --list --empty-ok \
    >"$work/panels-default.txt" 2>&1 || panels_ok=0
cat "$work/panels-default.txt"
echo "year-check.sh: dashboards, all the data"
sh "$top/tests/dashboards/check.sh" --query "$url" --end "$end_ms" --range all --list \
    >"$work/panels-all.txt" 2>&1 || panels_ok=0
cat "$work/panels-all.txt"

# ---- what it found ------------------------------------------------------------

echo
echo "year-check.sh: $(local_time "$from_s") .. $(local_time "$to_s"), filled in $fill_s s wall;" \
     "the report against the simulator's truth ($work/comparison.tsv has every figure):"
cat "$work/comparison.txt"
awk '$1 == "seam" { s = $4 < 0 ? -$4 : $4; if (s > w) { w = s; d = $3; i = $2 } }
     END { if (i) printf "seams: a counter at a segment'"'"'s start, interpolated from either segment'"'"'s reads, differs by at most %.4f (%s, segment %d: the interpolation'"'"'s own error)\n", w, d, i }' \
    "$work/truth-segments"
awk '{ k = $2 " " $3; if (($1 - 1, k) in v) { n++; d = $4 - v[$1 - 1, k]; if (d < 0) d = -d; if (d > w) w = d; if (d > 0) bad++ }
       v[$1, k] = $4 }
     END { if (n) printf "seams: at %d instants both segments'"'"' simulators were read; they served the same counter at %d of them (largest difference %.10g)\n", n, n - bad, w }' \
    "$work/truth-near"
echo "truth taken between reads at most $(awk '{ if ($6 > m) m = $6 } END { print m }' "$work/truth-bounds") s apart"
grep -h '^queries:' "$work/panels-default.txt" "$work/panels-all.txt" | sed 's/^queries:/dashboards:/'
# The panels empty over their own range, and whether all the data filled them.
sed -n 's/^ *\(gw-[a-z]*\) "\(.*\)": no data in this range$/\1 "\2"/p' "$work/panels-default.txt" |
    while read -r uid title; do
        if grep -qF "FAIL: queries: $uid $title returned no data" "$work/panels-all.txt"; then
            echo "none $uid $title"
        else
            echo "some $uid $title"
        fi
    done >"$work/panels-empty"
some=$(sed -n 's/^some //p' "$work/panels-empty" | paste -sd';' - | sed 's/;/; /g')
none=$(sed -n 's/^none //p' "$work/panels-empty" | paste -sd';' - | sed 's/;/; /g')
[ -z "$some" ] || echo "dashboards: without data over their own range (the plant gave none), with data over all: $some"
[ -z "$none" ] || echo "dashboards: without data over all of the span: $none"
echo "influxd stopped at the end; to serve the data again: influxd -config $work/influxd.conf"
status=0
[ "$report_ok" -eq 1 ] || { echo "year-check.sh: FAIL: the report differs from the truth by more than $tolerance %"; status=1; }
[ "$panels_ok" -eq 1 ] || { echo "year-check.sh: FAIL: a dashboard panel returned no data or an error"; status=1; }
[ "$status" -ne 0 ] || echo "year-check.sh: ok"
exit "$status"
