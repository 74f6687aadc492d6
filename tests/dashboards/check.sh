#!/bin/sh
# Checks the Grafana dashboards in dashboards/ without Grafana.
#
#   tests/dashboards/check.sh [--live BUILD_DIR]
#   tests/dashboards/check.sh --query URL [--database DB] [--end MS] [--range DURATION|default|all] [--list] [--empty-ok]
#
# Structural (always but with --query): every dashboard is valid JSON with a
# uid and a title; every panel and query uses the provisioned data source;
# every InfluxQL query names only measurements, fields and tags of the
# schema below (what docs/influxdb.md and docs/kinds.md define), quotes its
# identifiers, uses only defined variables, filters by $site and
# $timeFilter, and groups days in the site's time zone (tz('$timezone'));
# template variables chain site -> building -> device; the provisioning
# files agree with the panels.
#
# --live BUILD_DIR (when influxd is installed): starts influxd, the simulated
# demo building and greenwatchd (from BUILD_DIR) on loopback ephemeral
# ports, lets the daemon write for a while, then runs every variable query
# and every panel query, variables filled in, against that influxd: each
# must be accepted, and each panel must return data unless it is listed in
# slow_reason (figures that need more history than a short run has).
# GW_DASHBOARD_RUN_S sets how long the daemon writes (default 75 s).
#
# --query URL: the same queries against an influxd that already holds the
# demo building's data (tools/scripts/year-check.sh fills a year), database
# DB (default greenwatch), for the range that ends at END (epoch ms; default
# the last reading) and is DURATION long (2h, 7d, 366d), each dashboard's
# own default range ("default", the default) or all there is ("all"); the
# daemon's health, which is on the wall clock, for the same length up to
# its last record; a panel with a relative time of its own (today, this
# month, this year) is asked for that, ending at END.  Every panel must
# return data, except with --empty-ok (a
# range in which some plant did not run); --list prints what every panel
# returned.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dash="$top/dashboards"
ds_uid=greenwatch-influxdb
fail=0
checks=0

problem() { echo "FAIL: $*"; fail=$((fail + 1)); }

command -v jq >/dev/null 2>&1 || { echo "FAIL: jq is not installed (tools/scripts/setup.sh installs it)"; exit 1; }

usage() {
    echo "usage: check.sh [--live BUILD_DIR | --query URL [--database DB] [--end MS] [--range DURATION|default|all] [--list] [--empty-ok]]" >&2
    exit 2
}
mode=structure
build_arg=
url=
db=greenwatch
end=
range=
list=0
empty_ok_arg=0
while [ $# -gt 0 ]; do
    case $1 in
    --live) [ $# -ge 2 ] || usage; mode=live; build_arg=$2; shift ;;
    --query) [ $# -ge 2 ] || usage; mode=query; url=$2; shift ;;
    --database) [ $# -ge 2 ] || usage; db=$2; shift ;;
    --end) [ $# -ge 2 ] || usage; end=$2; shift ;;
    --range) [ $# -ge 2 ] || usage; range=$2; shift ;;
    --list) list=1 ;;
    --empty-ok) empty_ok_arg=1 ;;
    *) usage ;;
    esac
    shift
done

files=$(ls "$dash"/*.json 2>/dev/null || true)
[ -n "$files" ] || { problem "no dashboards in $dash"; files=""; }

# ---- queries: every variable and panel query against an influxd ----

query() {  # query TEXT: influxd's JSON answer on stdout
    curl -s -G "$url/query" --data-urlencode "db=$db" --data-urlencode "epoch=ms" --data-urlencode "q=$1"
}

# The time of the first or last (fn) value of a field, epoch ms: the
# readings (on the simulated clock) by power_kw, the daemon's health (on
# the wall clock) by uptime_s.
reading_at() {
    query "SELECT $1(\"power_kw\") FROM \"meter\"" | jq '.results[0].series[0].values[0][0] // empty'
}
health_at() {
    query "SELECT $1(\"uptime_s\") FROM \"greenwatch\"" | jq '.results[0].series[0].values[0][0] // empty'
}

seconds_of() {  # seconds_of DURATION: 90s, 15m, 2h, 7d, 2w
    echo "$1" | awk '/^[0-9]+[smhdw]$/ { n = substr($0, 1, length($0) - 1); u = substr($0, length($0))
        print n * (u == "s" ? 1 : u == "m" ? 60 : u == "h" ? 3600 : u == "d" ? 86400 : 604800); ok = 1 }
        END { exit !ok }'
}

# run_queries RANGE EXEMPT: every variable and panel query of every
# dashboard, variables filled in.  Readings are asked for the range that
# ends at $end (epoch ms), the daemon's health (on the wall clock) for the
# one that ends at its last record; RANGE is a duration, "default" (each
# dashboard's own) or "all" (from the first reading, or health record, to
# the last).  $__interval is the range over a thousand points, at least
# 10 s, as Grafana makes it.  A panel with a relative time of its own
# (now/d, now/M, now/y) is asked from the start of $end's day, month or
# year in the site's zone.  EXEMPT "short": panels that a short run cannot
# fill are listed, not failed; "empty": every panel without data is.
run_queries() {
    qrange=$1
    qtmp=$(mktemp -d "${TMPDIR:-/tmp}/gw-dashboard-queries.XXXXXX")
    tz=Asia/Shanghai
    end_s=$((end / 1000))
    h_end=$(health_at last)
    r_first=$(reading_at first)
    h_first=$(health_at first)
    # Variables: each query with its predecessors filled in must answer.
    site=$(query 'SHOW TAG VALUES WITH KEY = "site"' | jq -r '.results[0].series[0].values[0][1] // empty')
    [ "$site" = demo-tower ] || problem "queries: \$site query gives '$site', not demo-tower"
    subst() {  # fill in the variables of one query: range from $1 to $2 (epoch ms)
        iv=$((($2 - $1) / 1000000))
        [ "$iv" -ge 10 ] || iv=10
        sed -e "s/\\\$site/$site/g" -e 's/\$building/.*/g' -e 's/\$device/.*/g' \
            -e 's/\$timezone/Asia\/Shanghai/g' -e 's/\$floor_area_m2/42000/g' -e 's/\$water_main/wm-main/g' \
            -e "s/\\\$__interval/${iv}s/g" -e "s/\\\$timeFilter/time >= ${1}ms AND time <= ${2}ms/g"
    }
    panels=0 empty_ok=0 missing=0 qn=0
    for f in $files; do
        uid=$(jq -r .uid "$f")
        r=$qrange
        [ "$r" != default ] || r=$(jq -r '.time.from | sub("^now-"; "")' "$f")
        if [ "$r" = all ]; then
            r_start=${r_first:-$end} h_start=${h_first:-0}
        else
            r_s=$(seconds_of "$r") || { problem "queries: $uid: range '$r' is not a duration"; continue; }
            r_start=$((end - r_s * 1000)) h_start=$((${h_end:-0} - r_s * 1000))
        fi
        jq -r '.templating.list[] | select(.type == "query") | [.name, .query] | @tsv' "$f" >"$qtmp/vars.tsv"
        while IFS="$(printf '\t')" read -r name q; do
            qn=$((qn + 1))
            ans=$(query "$(printf '%s' "$q" | subst "$r_start" "$end")")
            vals=$(printf '%s' "$ans" | jq '[.results[0].series[]?.values[]?] | length')
            err=$(printf '%s' "$ans" | jq -r '.error // .results[0].error // empty')
            [ -z "$err" ] || problem "queries: $uid variable $name: $err"
            [ "$vals" -gt 0 ] || problem "queries: $uid variable $name has no values"
        done <"$qtmp/vars.tsv"
        jq -r '[.panels[]?, (.panels[]?.panels[]?)] | .[] | select(.type != "row")
               | .title as $t | (.timeFrom // "-") as $from | .targets[] | [$t, .refId, $from, .query] | @tsv' \
            "$f" >"$qtmp/queries.tsv"
        : >"$qtmp/with-data"
        : >"$qtmp/titles"
        : >"$qtmp/returned"
        while IFS="$(printf '\t')" read -r title ref from q; do
            qn=$((qn + 1))
            echo "$title" >>"$qtmp/titles"
            case "$q" in
                *'FROM "greenwatch"'*) start=$h_start to=${h_end:-0} ;;
                *) start=$r_start to=$end ;;
            esac
            case "$from" in  # the panel's own range: since the start of END's day, month or year
                now/d) start="$(TZ=$tz date -d "$(TZ=$tz date -d "@$end_s" +%Y-%m-%d)" +%s)000" ;;
                now/M) start="$(TZ=$tz date -d "$(TZ=$tz date -d "@$end_s" +%Y-%m-01)" +%s)000" ;;
                now/y) start="$(TZ=$tz date -d "$(TZ=$tz date -d "@$end_s" +%Y-01-01)" +%s)000" ;;
                -) ;;
                *) problem "queries: $uid \"$title\": relative time '$from' is not known to this check" ;;
            esac
            text=$(printf '%s' "$q" | subst "$start" "$to")
            ans=$(query "$text")
            err=$(printf '%s' "$ans" | jq -r '.error // .results[0].error // empty' 2>/dev/null || echo "not JSON: $ans")
            if [ -n "$err" ]; then
                problem "queries: $uid \"$title\" $ref: $err"
                echo "      $text"
                continue
            fi
            got=$(printf '%s' "$ans" | jq -r --arg ref "$ref" '
                [.results[0].series[]?] as $s | [$s[].values[]?[1:][] | select(. != null)] as $v
                | "\($ref): \($v | length) values in \($s | length) series"
                  + (if ($v | length) > 0 then " (first \($v[0] | if type == "number" then (. * 1000 | round / 1000) else . end))" else "" end)')
            printf '%s\t%s\n' "$title" "$got" >>"$qtmp/returned"
            case $got in *": 0 values"*) ;; *) echo "$title" >>"$qtmp/with-data" ;; esac
        done <"$qtmp/queries.tsv"
        sort -u "$qtmp/titles" >"$qtmp/titles.u"
        while read -r title; do
            panels=$((panels + 1))
            returned=$(awk -F '\t' -v t="$title" '$1 == t { printf "%s%s", sep, $2; sep = "; " }' "$qtmp/returned")
            if grep -qxF "$title" "$qtmp/with-data"; then
                [ "$list" -eq 0 ] || printf '  %-12s %-40s %s\n' "$uid" "$title" "$returned"
                continue
            fi
            reason=
            [ "$2" != short ] || reason=$(slow_reason "$uid:$title")
            if [ -n "$reason" ]; then
                empty_ok=$((empty_ok + 1))
                echo "  $uid \"$title\": no data yet ($reason)"
            elif [ "$2" = empty ]; then
                empty_ok=$((empty_ok + 1))
                echo "  $uid \"$title\": no data in this range"
            else
                missing=$((missing + 1))
                problem "queries: $uid \"$title\" returned no data ($returned)"
            fi
        done <"$qtmp/titles.u"
    done
    rm -rf "$qtmp"
    echo "queries: range $qrange to $(TZ=$tz date -d "@$end_s" '+%Y-%m-%d %H:%M') $tz: $qn queries run," \
         "$panels panels, $((panels - empty_ok - missing)) with data, $missing without," \
         "$empty_ok without data in this range (allowed)"
}

# Panels that a short run cannot fill, and why.
slow_reason() {
    case "$1" in
        gw-energy:"Peak 15-min demand today" | gw-energy:"Daily peak 15-minute demand" | gw-energy:"15-minute demand" | \
        gw-energy:"Peak demand per meter, range")
            echo "demand_kw needs a quarter hour measured for 80 % of its length" ;;
        gw-energy:"Night baseload")
            echo "a closed quarter hour, or a reading between 02:00 and 05:00 local" ;;
        gw-chillers:"Run hours, range" | gw-chillers:"Daily run hours" | gw-pumps:"Run hours, range" | \
        gw-pumps:"Daily run hours" | gw-boilers:"Burner hours, range" | gw-boilers:"Daily burner hours")
            echo "whole-hour run-hours registers step once an hour" ;;
        gw-chillers:"Starts, range" | gw-chillers:"Daily starts" | gw-boilers:"Burner starts, range")
            echo "no start during the run" ;;
        gw-boilers:"Burner starts per hour")
            echo "starts_per_hour is uncertain for the daemon's first hour" ;;
        *) echo "" ;;
    esac
}

if [ "$mode" = query ]; then
    command -v curl >/dev/null 2>&1 || { echo "FAIL: curl is not installed"; exit 1; }
    [ -n "$end" ] || end=$(reading_at last)
    [ -n "$end" ] || { echo "FAIL: queries: no reading in database $db at $url"; exit 1; }
    if [ "$empty_ok_arg" -eq 1 ]; then
        run_queries "${range:-default}" empty
    else
        run_queries "${range:-default}" none
    fi
    if [ "$fail" -gt 0 ]; then
        echo "dashboards: $fail problems"
        exit 1
    fi
    echo "dashboards: ok"
    exit 0
fi

# ---- the schema: what greenwatchd writes (docs/influxdb.md, docs/kinds.md,
# the point names of docs/profiles.md and config/profiles/generic-*.conf) ----
schema_text='
meter: power_kw power_factor reactive_power_kvar apparent_power_kva frequency
  voltage_l1 voltage_l2 voltage_l3 current_l1 current_l2 current_l3
  energy_kwh energy_kwh_delta energy_kwh_reset energy_export_kwh
  reactive_energy_kvarh reactive_energy_kvarh_delta demand_kw peak_demand_kw
  meter_demand_kw volume_m3 volume_m3_delta volume_m3_reset flow water_temp
  gas_temp gas_pressure heat_kw supply_temp return_temp alarm low_battery model
chiller: chw_supply_temp chw_return_temp chw_setpoint cw_supply_temp
  cw_return_temp chw_flow cw_flow power_kw load_pct current cooling_kw
  energy_kwh energy_kwh_delta run_hours run_hours_delta starts starts_delta
  running remote alarm cop kw_per_ton chw_delta_t evap_sat_temp cond_sat_temp
  evap_approach cond_approach part_load_ratio
boiler: hw_supply_temp hw_return_temp hw_setpoint hw_flow flue_temp
  firing_rate burner_on lockout gas_flow heat_kw burner_hours
  burner_hours_delta burner_starts burner_starts_delta enabled efficiency
  efficiency_hhv starts_per_hour
pump: running fault warning frequency speed_pct power_kw current flow
  diff_pressure energy_kwh energy_kwh_delta run_hours run_hours_delta starts
  starts_delta kw_per_m3h no_flow
generic: outdoor_temp outdoor_rh dew_point solar_irradiance
greenwatch: uptime_s buses devices connected requests errors timeouts
  reconnects online polls failed_polls missed_polls latency_ms auth_failed
  delivered failed rejected spool_appended spool_delivered spool_dropped
  spool_corrupt spool_depth_records spool_depth_bytes
alarm: value limit active seq
'
# Tag keys: site and device on every reading, the configured device tags
# (building, floor, category, energy), the health scopes' ids, the alarm's.
tag_list="site device building floor category energy scope bus sink rule severity state"

schema_json=$(printf '%s\n' "$schema_text" | awk '
  /^[a-z_]+:/ { m = substr($1, 1, length($1) - 1); $1 = "" }
  m != "" { for (i = 1; i <= NF; i++) f[m] = f[m] " " $i }
  END { for (m in f) print m ":" f[m] }' |
  jq -R -s 'split("\n") | map(select(length > 0) | split(":") | {key: .[0], value: (.[1] | split(" ") | map(select(length > 0)))}) | from_entries')
tags_json=$(printf '%s\n' $tag_list | jq -R -s 'split("\n") | map(select(length > 0))')
untimed_json='["gw-alarms:Active alarms"]'

# Every name of the schema is documented: in backticks in docs/, or a point
# name of a shipped profile; a *_delta or *_reset of a documented counter.
documented() {
    grep -qF "\`$1\`" "$top"/docs/*.md ||
        grep -qE "name *= *\"$1\"" "$top"/config/profiles/*.conf
}
for name in $(printf '%s\n' "$schema_json" | jq -r '[.[][]] | unique[]') $tag_list; do
    base=$(printf '%s' "$name" | sed -E 's/_(delta|reset)$//')
    checks=$((checks + 1))
    documented "$name" || documented "$base" || problem "schema: $name is documented nowhere in docs/ or config/profiles/"
done

# ---- the dashboards ----
for f in $files; do
    checks=$((checks + 1))
    if ! jq empty "$f" 2>/dev/null; then
        problem "$f is not valid JSON"
        continue
    fi
    out=$(jq -r --arg file "${f#"$top"/}" --arg ds_uid "$ds_uid" --argjson schema "$schema_json" \
             --argjson tags "$tags_json" --argjson untimed "$untimed_json" -f "$here/lint.jq" "$f")
    if [ -n "$out" ]; then
        printf '%s\n' "$out" | sed 's/^/FAIL: /'
        fail=$((fail + $(printf '%s\n' "$out" | wc -l)))
    fi
done
if [ -n "$files" ]; then
    checks=$((checks + 1))
    dup=$(jq -r '.uid' $files | sort | uniq -d)
    [ -z "$dup" ] || problem "dashboard uid used twice: $dup"
    dup=$(jq -r '.title' $files | sort | uniq -d)
    [ -z "$dup" ] || problem "dashboard title used twice: $dup"
fi

# ---- the checker catches what it should: broken copies of a dashboard ----
lint() {
    jq -r --arg file "$1" --arg ds_uid "$ds_uid" --argjson schema "$schema_json" \
       --argjson tags "$tags_json" --argjson untimed "$untimed_json" -f "$here/lint.jq" "$1"
}
mutant() {  # mutant JQ-FILTER EXPECTED-MESSAGE
    checks=$((checks + 1))
    m=$(mktemp "${TMPDIR:-/tmp}/gw-dashboard-mutant.XXXXXX")
    if jq "$1" "$dash/energy.json" >"$m" 2>/dev/null; then
        lint "$m" | grep -qF -- "$2" || problem "self-test: '$2' not reported for: $1"
    else
        problem "self-test: jq could not apply: $1"
    fi
    rm -f "$m"
}
if [ -f "$dash/energy.json" ]; then
    daily='(.panels[] | select(.title == "Daily electricity by category") | .targets[0].query)'
    first='(.panels[] | select(.title == "Electricity today") | .targets[0].query)'
    device='(.templating.list[] | select(.name == "device") | .query)'
    mutant 'del(.uid)' 'no uid'
    mutant '.title = ""' 'no title'
    mutant '(.panels[] | select(.title == "Electricity today") | .datasource.uid) = "other"' 'data source is not the provisioned'
    mutant '(.panels[] | select(.title == "Electricity today") | .targets[0].datasource.uid) = "other"' 'query A: data source is not'
    mutant "$first |= sub(\"energy_kwh_delta\"; \"energy_kwh_dlta\")" '"energy_kwh_dlta" is no field'
    mutant "$first |= sub(\"FROM \\\"meter\\\"\"; \"FROM \\\"meters\\\"\")" 'unknown measurement "meters"'
    mutant "$first |= sub(\"\\\"energy_kwh_delta\\\"\"; \"energy_kwh_delta\")" 'bare word energy_kwh_delta'
    mutant "$first |= sub(\"\\\\\$timeFilter\"; \"time > now() - 1h AND \$foo\")" 'undefined variable $foo'
    mutant "$first |= sub(\"\\\\\$timeFilter\"; \"time > now() - 1h\")" 'no $timeFilter'
    mutant "$first |= sub(\"\\\"site\\\" =~ /\\\\^\\\\\$site\\\\\$/ AND \"; \"\")" 'no "site" =~ /^$site$/ filter'
    mutant "$daily |= sub(\" tz\\\\('\\\\\$timezone'\\\\)\"; \"\")" "has no tz('\$timezone')"
    mutant "$daily |= sub(\"tz\\\\('\\\\\$timezone'\\\\)\"; \"tz('UTC')\")" "use tz('\$timezone')"
    mutant "$daily |= sub(\"time\\\\(1d\\\\)\"; \"time(1mo)\")" 'no calendar months'
    mutant "$device |= sub(\" AND \\\"building\\\" =~ /\\\\^\\\\\$building\\\\\$/\"; \"\")" '$device does not depend on $site and $building'
    mutant '.templating.list |= (map(select(.name == "device")) + map(select(.name != "device")))' '$device comes before $building'
    mutant '(.templating.list[] | select(.name == "building") | .query) = "SHOW TAG VALUES WITH KEY = \"building\""' '$building does not depend on $site'
    mutant '.timezone = "browser"' "is not \$timezone's default"
    mutant '(.panels[] | select(.title == "Electricity today") | .timeFrom) = "this month"' 'is not a Grafana relative time'
    mutant '(.panels[] | select(.title == "Electricity in range") | .id) = 2' 'is not unique'
fi

# ---- provisioning ----
dsy="$dash/provisioning/datasources/greenwatch.yaml"
dby="$dash/provisioning/dashboards/greenwatch.yaml"
for want in "uid: $ds_uid" "type: influxdb" "url: http://127.0.0.1:8086" "database: greenwatch" "dbName: greenwatch"; do
    checks=$((checks + 1))
    grep -qE "^ *(- )?$want\$" "$dsy" 2>/dev/null || problem "$dsy: no '$want'"
done
for want in "type: file" "path: /usr/share/greenwatch/dashboards" "apiVersion: 1"; do
    checks=$((checks + 1))
    grep -qE "^ *(- )?$want\$" "$dby" 2>/dev/null || problem "$dby: no '$want'"
done
n_panels=$(jq -s '[.[] | [.panels[]?, (.panels[]?.panels[]?)] | .[] | select(.type != "row")] | length' $files)
echo "structure: $(echo $files | wc -w) dashboards, $n_panels panels, $checks checks, $fail problems"

# ---- live: the demo building written for a minute, then every query ----
live() {
    build=$(cd "$1" && pwd)
    for b in influxd curl; do
        command -v $b >/dev/null 2>&1 || { echo "live: skipped ($b not installed)"; return 0; }
    done
    for b in daemon/greenwatchd tools/sim/greenwatch-sim plugins/meter.so; do
        [ -e "$build/$b" ] || { echo "live: skipped ($build/$b not built)"; return 0; }
    done
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/gw-dashboards.XXXXXX")
    pids=""
    cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        for p in $pids; do wait "$p" 2>/dev/null || true; done
        rm -rf "$tmp"
    }
    trap cleanup EXIT
    trap 'exit 1' INT TERM

    # influxd on ephemeral ports; its log says which.
    sh "$top/tools/scripts/influxd-conf.sh" "$tmp/influx" >"$tmp/influxd.conf"
    influxd -config "$tmp/influxd.conf" >"$tmp/influxd.log" 2>&1 &
    influxd=$!
    pids="$pids $influxd"
    url=""
    i=0
    while [ -z "$url" ] && [ $i -lt 300 ] && kill -0 "$influxd" 2>/dev/null; do
        url=$(sed -n 's/.*msg="Listening on HTTP".*addr=\(127\.0\.0\.1:[0-9]*\).*/http:\/\/\1/p' "$tmp/influxd.log" | head -n 1)
        [ -n "$url" ] || sleep 0.1
        i=$((i + 1))
    done
    [ -n "$url" ] && curl -sf "$url/ping" >/dev/null || { problem "live: influxd did not start"; cat "$tmp/influxd.log"; return 0; }
    curl -sf -XPOST "$url/query" --data-urlencode "q=CREATE DATABASE greenwatch" >/dev/null

    # The demo building (config/demo-sim.conf's devices, with demo.conf's
    # buses, units and profiles) on ephemeral ports, at a working-day hour
    # of a cool spring day: the chillers and the boiler both run.
    {
        echo "profile_dir = \"$top/config/profiles\";"
        echo "sim = { seed = 42; start = \"${GW_DASHBOARD_SIM_START:-2026-03-25 14:00}\"; timezone = \"Asia/Shanghai\"; };"
        sed -n '/^building = {/,/^};/p' "$top/config/demo-sim.conf"
        echo "buses = ("
        sed -n 's/^ *{ id = "\([^"]*\)"; tcp = .*/  { id = "\1"; tcp = "127.0.0.1:0"; },/p' "$top/config/demo.conf" | sed '$ s/,$//'
        echo ");"
        echo "devices = ("
        sed -n 's/^ *{ id = "\([^"]*\)"; role = \(.*\) },\{0,1\}$/\1 \2/p' "$top/config/demo-sim.conf" |
            while read -r id role; do
                line=$(grep -E "^ *\{ id = \"$id\"; bus = " "$top/config/demo.conf")
                bus=$(printf '%s' "$line" | sed 's/.*bus = "\([^"]*\)".*/\1/')
                unit=$(printf '%s' "$line" | sed 's/.*unit = \([0-9]*\);.*/\1/')
                profile=$(printf '%s' "$line" | sed 's/.*profile = "\([^"]*\)".*/\1/')
                echo "  { id = \"$id\"; bus = \"$bus\"; unit = $unit; profile = \"$profile\"; role = $role },"
            done | sed '$ s/,$//'
        echo ");"
    } >"$tmp/sim.conf"
    "$build/tools/sim/greenwatch-sim" -c "$tmp/sim.conf" >"$tmp/sim.log" 2>&1 &
    sim=$!
    pids="$pids $sim"
    i=0
    while ! grep -q READY "$tmp/sim.log" && kill -0 "$sim" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    grep -q READY "$tmp/sim.log" || { problem "live: the simulator did not start"; cat "$tmp/sim.conf" "$tmp/sim.log"; return 0; }

    # The daemon: the demo building's site, buses and devices, the buses at
    # the simulator's ports, polling every 2 s, writing to our influxd.
    {
        sed -n '/^site = {/,/^};/p; /^buses = (/,/^);/p; /^devices = (/,/^);/p' "$top/config/demo.conf"
        echo "daemon = { plugin_dir = \"$build/plugins\"; profile_dir = \"$top/config/profiles\";"
        echo "           spool_dir = \"$tmp/spool\"; state_file = \"$tmp/alarms.json\"; health_interval_s = 5; };"
        echo "influxdb = { url = \"$url\"; database = \"greenwatch\"; flush_ms = 200; };"
    } >"$tmp/demo.conf"
    for bus in $(sed -n 's/^LISTEN \([^ ]*\) .*/\1/p' "$tmp/sim.log"); do
        addr=$(sed -n "s/^LISTEN $bus \(.*\)/\1/p" "$tmp/sim.log")
        sed -i -e "s/{ id = \"$bus\"; tcp = \"[^\"]*\"/{ id = \"$bus\"; tcp = \"$addr\"/" "$tmp/demo.conf"
    done
    sed -i -e 's/interval_s = [0-9]*;/interval_s = 2;/' "$tmp/demo.conf"
    "$build/daemon/greenwatchd" -c "$tmp/demo.conf" >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
    daemon=$!
    pids="$pids $daemon"
    run_s=${GW_DASHBOARD_RUN_S:-75}
    echo "live: influxd at $url; the daemon writes for $run_s s"
    i=0
    while [ $i -lt "$run_s" ] && kill -0 "$daemon" 2>/dev/null; do sleep 1; i=$((i + 1)); done
    kill "$daemon" 2>/dev/null || true
    wait "$daemon" 2>/dev/null || true

    n=$(query 'SELECT count("power_kw") FROM "meter"' | jq '.results[0].series[0].values[0][1] // 0')
    [ "$n" -gt 0 ] || { problem "live: the daemon wrote no readings"; tail -n 20 "$tmp/daemon.log"; return 0; }
    # Readings carry the simulator's clock (a fixed date), so the dashboards
    # are asked for the 2 hours before the last reading (epoch ms).  Only the
    # daemon's own health is on the wall clock.
    end=$(reading_at last)

    # Until the daemon writes alarm transitions, a few stand in for them,
    # shaped as docs/dashboards.md describes, in the hour before the last
    # reading.
    a=$(query 'SELECT count("seq") FROM "alarm"' | jq '.results[0].series[0].values[0][1] // 0')
    if [ "$a" -eq 0 ]; then
        now=$((end / 1000))
        printf '%s\n' \
            "alarm,device=chiller-1,rule=chw-supply-high,severity=high,site=demo-tower,state=active-unacknowledged value=9.6,limit=9,active=1,seq=1 $(( (now - 600) * 1000 ))" \
            "alarm,device=chiller-1,rule=chw-supply-high,severity=high,site=demo-tower,state=active-acknowledged value=9.7,limit=9,active=1,seq=2 $(( (now - 300) * 1000 ))" \
            "alarm,device=em-main,rule=power-factor-low,severity=medium,site=demo-tower,state=active-unacknowledged value=0.82,limit=0.85,active=1,seq=3 $(( (now - 200) * 1000 ))" \
            "alarm,device=em-main,rule=power-factor-low,severity=medium,site=demo-tower,state=normal value=0.9,limit=0.85,active=0,seq=4 $(( (now - 100) * 1000 ))" |
            curl -sf -XPOST "$url/write?db=greenwatch&precision=ms" --data-binary @- || problem "live: writing alarm stand-ins"
        echo "live: the daemon wrote no alarm measurement yet; 4 stand-in transitions written"
    fi

    run_queries 2h short
}
if [ "$mode" = live ]; then
    live "$build_arg"
fi

if [ "$fail" -gt 0 ]; then
    echo "dashboards: $fail problems"
    exit 1
fi
echo "dashboards: ok"
