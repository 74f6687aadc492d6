#!/bin/sh
# Draw docs/images/report.png: a year of the demo building's readings,
# made up here at 15-minute resolution (deterministic), written into a
# private influxd on 127.0.0.1, reported by `greenwatch report` as HTML,
# and rendered by headless Chromium.
#   tools/scripts/report-picture.sh [BUILD_DIR] [OUTPUT_PNG]
# Needs influxd (influxdb), chromium, fonts-noto-cjk and curl.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
png=${2:-$top/docs/images/report.png}
work=$(mktemp -d)
influxd_pid=""
cleanup() {
    [ -n "$influxd_pid" ] && kill "$influxd_pid" 2>/dev/null && wait "$influxd_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# influxd on a loopback port nobody listens on.
port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
sh "$top/tools/scripts/influxd-conf.sh" "$work" "$port" "$((port + 1))" warn >"$work/influxd.conf"
influxd -config "$work/influxd.conf" >"$work/influxd.log" 2>&1 &
influxd_pid=$!
tries=0
until curl -sf "http://127.0.0.1:$port/ping" >/dev/null; do
    kill -0 "$influxd_pid" 2>/dev/null && [ "$tries" -lt 200 ] || {
        echo "influxd did not start; see its log:" >&2
        cat "$work/influxd.log" >&2
        exit 1
    }
    tries=$((tries + 1))
    sleep 0.1
done
curl -sf -XPOST "http://127.0.0.1:$port/query" --data-urlencode "q=CREATE DATABASE greenwatch" >/dev/null

# December 2024 to December 2025, Asia/Shanghai (UTC+8, no DST).
awk -v from=1732982400 -v to=1767196800 -f - >"$work/data.lp" <<'AWK'
function sine(x) { return sin(2 * 3.14159265358979 * x) }
function line(m, tags, fields, t) { printf "%s,%s,site=demo-tower %s %d000\n", m, tags, fields, t }
BEGIN {
    srand(20250101)
    for (t = from; t < to; t += 900) {
        local = t + 28800
        day = int(local / 86400); hour = (local % 86400) / 3600; wday = (day + 4) % 7
        doy = (local - 1735660800) / 86400   # days since 2025-01-01 local
        if (day != last_day) { noise = (rand() - 0.5) * 4; last_day = day }
        temp = 17 + 12.5 * sine((doy - 105) / 365) + 3.5 * sine((hour - 9) / 24) + noise
        workday = wday >= 1 && wday <= 5
        occupied = workday && hour >= 7.5 && hour < 18
        plant_on = workday && hour >= 7 && hour < 19
        month = int(doy / 30.44)

        light = occupied ? 500 : (hour >= 7 && hour < 19 ? 220 : 140)
        terminal = occupied ? 150 : 25
        power = (occupied ? 90 : 35) * (doy >= 212 && doy < 243 ? 1.4 : 1)   # August: lift works
        special = 60
        cooling = plant_on && temp > 18 ? (temp - 18) * 180 : 0
        cop = 5.6 - 0.06 * (temp - 25)
        c1 = cooling > 2000 ? 2000 : cooling; c2 = cooling - c1
        heat = workday && hour >= 6 && hour < 19 && temp < 14 ? (14 - temp) * 150 : 0
        gas_flow = heat / (0.91 * 9.97)
        chiller_kw = cooling / cop
        plant = chiller_kw + (cooling > 0 ? 110 : 0) + (heat > 0 ? 30 : 0) + 8
        main = (light + terminal + power + special + plant) * 1.025 + 12

        if (t >= 1749686400 && t < 1749708000) skip_special = 1; else skip_special = 0   # 2025-06-12 08:00-14:00
        e["em-main"] += main / 4
        line("meter", "building=T1,category=01000,device=em-main,energy=electricity",
             sprintf("energy_kwh=%.3f,energy_kwh_delta=%.4f,demand_kw=%.2f,power_kw=%.2f", e["em-main"], main / 4, main, main), t)
        submeter("em-lighting", "01A00", light, t)
        submeter("em-hvac-plant", "01B10", plant, t)
        submeter("em-hvac-terminal", "01B20", terminal, t)
        submeter("em-power", "01C00", power, t)
        if (!skip_special) submeter("em-special", "01D00", special, t)
        else pending_special += special / 4

        r1 += c1 > 0 ? 0.25 : 0; r2 += c2 > 0 ? 0.25 : 0
        chiller("chiller-1", c1, cop, r1, t)
        chiller("chiller-2", c2, cop, r2, t)
        rb += heat > 0 ? 0.25 : 0
        if (heat > 0)
            line("boiler", "building=T1,category=01B10,device=boiler-1,energy=gas",
                 sprintf("burner_hours=%.2f,hw_supply_temp=70,heat_kw=%.1f,gas_flow=%.3f,efficiency=0.91,burner_on=1", rb, heat, gas_flow), t)
        else
            line("boiler", "building=T1,category=01B10,device=boiler-1,energy=gas",
                 sprintf("burner_hours=%.2f,hw_supply_temp=38,heat_kw=0,gas_flow=0,burner_on=0", rb), t)

        domestic = occupied ? 9 : 1.2
        tower = cooling * 0.0016
        water("wm-domestic", "", domestic / 4, t)
        water("wm-cooling-tower", "category=01B10,", tower / 4, t)
        water("wm-main", "", (domestic + tower) / 4 * 1.025, t)
        gas = gas_flow / 4 + (occupied ? 3 : 0) / 4
        vg += gas
        line("meter", "building=T1,device=gm-main,energy=gas", sprintf("volume_m3=%.3f,volume_m3_delta=%.4f", vg, gas), t)
        if (!(t >= 1740963600 && t < 1741154400))   # weather station down 2025-03-03 09:00 to 03-05 14:00
            line("generic", "building=T1,device=weather", sprintf("outdoor_temp=%.1f", temp), t)
    }
}
function submeter(id, cat, kw, t,    kwh) {
    kwh = kw / 4
    if (id == "em-special") { kwh += pending_special; pending_special = 0 }
    e[id] += kwh
    line("meter", "building=T1,category=" cat ",device=" id ",energy=electricity",
         sprintf("energy_kwh=%.3f,energy_kwh_delta=%.4f,power_kw=%.2f", e[id], kwh, kw), t)
}
function chiller(id, q, cop, hours, t) {
    if (q > 0)
        line("chiller", "building=T1,category=01B10,device=" id ",energy=electricity",
             sprintf("run_hours=%.2f,chw_supply_temp=7,cooling_kw=%.1f,power_kw=%.2f,cop=%.3f,running=1", hours, q, q / cop, cop), t)
    else
        line("chiller", "building=T1,category=01B10,device=" id ",energy=electricity",
             sprintf("run_hours=%.2f,chw_supply_temp=14,cooling_kw=0,power_kw=1.5,running=0", hours), t)
}
function water(id, tag, m3, t) {
    v[id] += m3
    line("meter", "building=T1," tag "device=" id ",energy=water", sprintf("volume_m3=%.3f,volume_m3_delta=%.5f", v[id], m3), t)
}
AWK
split -l 50000 "$work/data.lp" "$work/chunk."
for f in "$work"/chunk.*; do
    curl -sf -XPOST "http://127.0.0.1:$port/write?db=greenwatch&precision=ms" --data-binary "@$f" >/dev/null
done

# The demo building's devices, polled every 15 minutes, reporting from it.
cat >"$work/report.conf" <<EOF
site = { id = "demo-tower"; name = "Demo Tower 示范大厦"; timezone = "Asia/Shanghai"; floor_area_m2 = 42000.0; };
daemon = { plugin_dir = "$build/plugins"; profile_dir = "$top/config/profiles"; };
influxdb = { url = "http://127.0.0.1:$port"; database = "greenwatch"; };
buses = ( { id = "meters"; tcp = "127.0.0.1:1502"; } );
devices = (
  { id = "em-main"; bus = "meters"; unit = 1; kind = "meter"; profile = "generic-meter-main"; interval_s = 900;
    tags = { building = "T1"; category = "01000"; energy = "electricity"; }; },
  { id = "em-lighting"; bus = "meters"; unit = 2; kind = "meter"; profile = "generic-submeter"; interval_s = 900;
    tags = { building = "T1"; category = "01A00"; energy = "electricity"; }; },
  { id = "em-hvac-plant"; bus = "meters"; unit = 3; kind = "meter"; profile = "generic-submeter"; interval_s = 900;
    tags = { building = "T1"; category = "01B10"; energy = "electricity"; }; },
  { id = "em-hvac-terminal"; bus = "meters"; unit = 4; kind = "meter"; profile = "generic-submeter"; interval_s = 900;
    tags = { building = "T1"; category = "01B20"; energy = "electricity"; }; },
  { id = "em-power"; bus = "meters"; unit = 5; kind = "meter"; profile = "generic-submeter"; interval_s = 900;
    tags = { building = "T1"; category = "01C00"; energy = "electricity"; }; },
  { id = "em-special"; bus = "meters"; unit = 6; kind = "meter"; profile = "generic-submeter"; interval_s = 900;
    tags = { building = "T1"; category = "01D00"; energy = "electricity"; }; },
  { id = "chiller-1"; bus = "meters"; unit = 7; kind = "chiller"; profile = "generic-chiller"; interval_s = 900;
    tags = { building = "T1"; category = "01B10"; energy = "electricity"; }; },
  { id = "chiller-2"; bus = "meters"; unit = 8; kind = "chiller"; profile = "generic-chiller"; interval_s = 900;
    tags = { building = "T1"; category = "01B10"; energy = "electricity"; }; },
  { id = "boiler-1"; bus = "meters"; unit = 9; kind = "boiler"; profile = "generic-boiler"; interval_s = 900;
    tags = { building = "T1"; category = "01B10"; energy = "gas"; }; params = { gas_lhv_kwh_m3 = 9.97; }; },
  { id = "wm-main"; bus = "meters"; unit = 10; kind = "meter"; profile = "generic-water-meter"; interval_s = 900;
    tags = { building = "T1"; energy = "water"; }; },
  { id = "wm-cooling-tower"; bus = "meters"; unit = 11; kind = "meter"; profile = "generic-water-meter"; interval_s = 900;
    tags = { building = "T1"; category = "01B10"; energy = "water"; }; },
  { id = "wm-domestic"; bus = "meters"; unit = 12; kind = "meter"; profile = "generic-water-meter"; interval_s = 900;
    tags = { building = "T1"; energy = "water"; }; },
  { id = "gm-main"; bus = "meters"; unit = 13; kind = "meter"; profile = "generic-gas-meter"; interval_s = 900;
    tags = { building = "T1"; energy = "gas"; }; },
  { id = "weather"; bus = "meters"; unit = 14; kind = "generic"; profile = "generic-weather"; interval_s = 900;
    tags = { building = "T1"; }; }
);
report = { main_meters = [ "em-main", "wm-main", "gm-main" ]; anomaly_pct = 30.0;
  emission_factors = { gas_kg_per_m3 = 2.16; }; };
EOF
"$build/tools/greenwatch/greenwatch" report -c "$work/report.conf" --from 2025-01 --to 2025-12 -o "$work/report.html"
mkdir -p "$(dirname "$png")"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$work/chromium" \
    --window-size=1000,4300 --screenshot="$png" "file://$work/report.html" 2>"$work/chromium.log" || {
    cat "$work/chromium.log" >&2
    exit 1
}
echo "wrote $png" >&2
