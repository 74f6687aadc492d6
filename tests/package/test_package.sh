#!/bin/sh
# The Debian package, end to end: build it with cpack, install it with
# dpkg on this machine, check that its files, user and configuration are
# where they belong, run the installed greenwatch-sim on the example
# configuration and the installed greenwatchd once against it (directly,
# not through systemd), check that every device answered, then remove and
# purge the package, leaving the machine as it was found.
#
#   tests/package/test_package.sh [BUILD_DIR]     (default: build-pkg/)
#
# It installs and removes system packages, so it runs only as root or with
# CI=1 (then through sudo), and only on a machine where nothing of
# greenwatch is installed: otherwise it says why and exits 0 (skipped).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-pkg}

skip() {
    echo "test_package: skipped: $*"
    exit 0
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    [ "${CI:-}" = 1 ] || skip "installs a system package: run as root, or with CI=1"
    command -v sudo >/dev/null 2>&1 || skip "CI=1 but not root and no sudo"
    sudo="sudo"
fi
command -v dpkg >/dev/null 2>&1 || skip "not a Debian system (no dpkg)"

fail() {
    echo "test_package: FAILED: $*" >&2
    exit 1
}

# ---- build ---------------------------------------------------------------

echo "== building the package in $build"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
rm -rf "$build/package"
(cd "$build" && cpack -G DEB -B "$build/package" >/dev/null)
deb=$(ls "$build"/package/greenwatch_*.deb)
[ -f "$deb" ] || fail "cpack made no greenwatch_*.deb"
echo "built $(basename "$deb")"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Section\):/  \1:/p'

# ---- refuse to touch an installed greenwatch --------------------------------

if dpkg-query -W -f='${Status}' greenwatch 2>/dev/null | grep -q installed; then
    skip "the greenwatch package is installed here; not replacing it"
fi
[ -e /etc/greenwatch ] && skip "/etc/greenwatch exists; purging the package would remove it"
for d in /var/lib/greenwatch /var/lib/private/greenwatch; do
    [ -e "$d" ] && skip "$d exists; purging the package would remove it"
done
for f in $(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./|/|p'); do
    if [ -f "$f" ]; then
        skip "$f exists (a cmake --install?); installing the package would overwrite it"
    fi
done

# ---- from here on, whatever happens, put the machine back -----------------

tmp=$(mktemp -d)
sim_pid=""
user_existed=no
group_existed=no
was_in_dialout=no
getent passwd greenwatch >/dev/null && user_existed=yes
getent group greenwatch >/dev/null && group_existed=yes
if [ "$user_existed" = yes ] && id -nG greenwatch | tr ' ' '\n' | grep -qx dialout; then
    was_in_dialout=yes
fi
dpkg-query -W -f='${Package}\n' | sort >"$tmp/packages.before"

cleanup() {
    status=$?
    if [ -n "$sim_pid" ]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    if dpkg-query -W -f='${Status}' greenwatch 2>/dev/null | grep -q "installed\|config-files"; then
        $sudo dpkg --purge greenwatch >/dev/null 2>&1 || true
    fi
    if [ "$user_existed" = no ] && getent passwd greenwatch >/dev/null; then
        $sudo deluser --system --quiet greenwatch >/dev/null 2>&1 || true
    elif [ "$user_existed" = yes ] && [ "$was_in_dialout" = no ]; then
        $sudo gpasswd -d greenwatch dialout >/dev/null 2>&1 || true
    fi
    if [ "$group_existed" = no ] && getent group greenwatch >/dev/null; then
        $sudo delgroup --system --quiet greenwatch >/dev/null 2>&1 || true
    fi
    # what apt-get -f brought in for the package goes with it
    dpkg-query -W -f='${Package}\n' | sort >"$tmp/packages.after"
    added=$(comm -13 "$tmp/packages.before" "$tmp/packages.after" | tr '\n' ' ')
    if [ -n "$added" ]; then
        echo "removing what the package pulled in: $added"
        # shellcheck disable=SC2086 # a list of package names
        DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq $added >/dev/null || true
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- install --------------------------------------------------------------

echo "== installing"
if ! $sudo dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1; then
    echo "dpkg -i left dependencies missing; apt-get install -f"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -f -y -qq >>"$tmp/dpkg.log" 2>&1 ||
        { cat "$tmp/dpkg.log"; fail "apt-get install -f"; }
fi
dpkg-query -W -f='${Status}' greenwatch | grep -q "install ok installed" ||
    { cat "$tmp/dpkg.log"; fail "greenwatch is not installed and configured"; }

# ---- files, user, configuration ----------------------------------------------

echo "== checking the installed files"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
plugins=/usr/lib/$multiarch/greenwatch/plugins
expect_file() {
    [ -f "$1" ] || fail "missing $1"
}
for f in /usr/sbin/greenwatchd /usr/bin/greenwatch /usr/bin/greenwatch-sim; do
    expect_file "$f"
    [ -x "$f" ] || fail "$f is not executable"
    if ldd "$f" | grep -q "not found"; then
        ldd "$f"
        fail "$f misses a library"
    fi
done
for kind in meter chiller boiler pump generic; do
    expect_file "$plugins/$kind.so"
done
for p in "$top"/config/profiles/*.conf; do
    expect_file "/usr/share/greenwatch/profiles/$(basename "$p")"
done
expect_file /usr/share/greenwatch/examples/greenwatch.conf
expect_file /usr/share/greenwatch/examples/greenwatch-sim.conf
expect_file /usr/lib/systemd/system/greenwatchd.service
expect_file /usr/include/greenwatch/plugin.h
for d in README.md CHANGELOG.md install.md operations.md configuration.md configuration-reference.md; do
    expect_file "/usr/share/doc/greenwatch/$d"
done
for m in man1/greenwatch.1 man1/greenwatch-sim.1 man8/greenwatchd.8; do
    expect_file "/usr/share/man/$m"
done
if [ -d "$top/dashboards" ]; then
    [ -d /usr/share/greenwatch/dashboards ] || fail "missing /usr/share/greenwatch/dashboards"
    for f in "$top"/dashboards/*; do
        if [ -e "$f" ] && [ ! -e "/usr/share/greenwatch/dashboards/$(basename "$f")" ]; then
            fail "missing /usr/share/greenwatch/dashboards/$(basename "$f")"
        fi
    done
fi
grep -q "$plugins" /usr/share/greenwatch/examples/greenwatch.conf ||
    fail "the example configuration does not name the installed plugin directory"

getent passwd greenwatch >/dev/null || fail "no greenwatch user"
id -nG greenwatch | tr ' ' '\n' | grep -qx dialout || fail "greenwatch is not in dialout"
[ "$(stat -c '%a %U %G' /etc/greenwatch/greenwatch.conf)" = "640 root greenwatch" ] ||
    fail "/etc/greenwatch/greenwatch.conf: $(stat -c '%a %U %G' /etc/greenwatch/greenwatch.conf)"
/usr/sbin/greenwatchd --version | grep -q "$(dpkg-query -W -f='${Version}' greenwatch)" ||
    fail "greenwatchd --version does not give the package's version"
# The service user can read its configuration, and the installed defaults
# (plugin and profile directories) resolve.
$sudo runuser -u greenwatch -- /usr/sbin/greenwatchd -c /etc/greenwatch/greenwatch.conf --check ||
    fail "the installed configuration does not pass --check"

# ---- run the installed simulator and daemon ----------------------------------

# Three free TCP ports, seen in /proc (listening sockets, state 0A).
listening() {
    awk '$4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        while read -r hex; do echo $((0x$hex)); done
}
free_ports() {
    used=$(listening | tr '\n' ' ')
    port=$((20000 + $$ % 20000))
    found=""
    n=0
    while [ "$n" -lt 3 ]; do
        port=$((port + 1))
        case " $used " in *" $port "*) continue ;; esac
        found="$found $port"
        n=$((n + 1))
    done
    echo "$found"
}
# shellcheck disable=SC2046 # three numbers
set -- $(free_ports)
echo "== running greenwatch-sim and greenwatchd --once on 127.0.0.1:$1,$2,$3"
sed -e "s|127.0.0.1:1502|127.0.0.1:$1|; s|127.0.0.1:1503|127.0.0.1:$2|; s|127.0.0.1:1504|127.0.0.1:$3|" \
    -e "s|/var/lib/greenwatch|$tmp/state|g" \
    /usr/share/greenwatch/examples/greenwatch.conf >"$tmp/greenwatch.conf"
cp /usr/share/greenwatch/examples/greenwatch-sim.conf "$tmp/greenwatch-sim.conf"

/usr/bin/greenwatch-sim -c "$tmp/greenwatch-sim.conf" >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
tries=0
until grep -q '^READY' "$tmp/sim.out"; do
    if ! kill -0 "$sim_pid" 2>/dev/null || [ "$tries" -ge 200 ]; then
        cat "$tmp/sim.err"
        fail "greenwatch-sim did not become ready"
    fi
    tries=$((tries + 1))
    sleep 0.05
done

if ! timeout 120 /usr/sbin/greenwatchd -c "$tmp/greenwatch.conf" --once >"$tmp/once.out" 2>"$tmp/once.err"; then
    cat "$tmp/once.err"
    fail "greenwatchd --once failed"
fi
devices=$(sed -n 's/^ *{ id = "\([^"]*\)"; bus = .*/\1/p' "$tmp/greenwatch.conf")
[ -n "$devices" ] || fail "no devices found in the example configuration"
count=0
for dev in $devices; do
    line=$(grep -F "\"device\":\"$dev\"" "$tmp/once.out" || true)
    [ -n "$line" ] || { cat "$tmp/once.err"; fail "device $dev: no reading"; }
    case "$line" in
    *'"points":{}'*) fail "device $dev answered nothing: $line" ;;
    *'"bad"'*) fail "device $dev has bad points: $line" ;;
    esac
    count=$((count + 1))
done
echo "every device answered: $count readings"

kill "$sim_pid"
wait "$sim_pid" 2>/dev/null || true
sim_pid=""

# ---- remove, then purge ---------------------------------------------------------

echo "== removing"
$sudo dpkg -r greenwatch >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -r"; }
for f in /usr/sbin/greenwatchd /usr/bin/greenwatch /usr/bin/greenwatch-sim "$plugins/meter.so" \
         /usr/lib/systemd/system/greenwatchd.service /usr/share/greenwatch/profiles; do
    [ ! -e "$f" ] || fail "$f is still there after dpkg -r"
done
[ -f /etc/greenwatch/greenwatch.conf ] || fail "dpkg -r removed the site's configuration"
$sudo dpkg --purge greenwatch >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg --purge"; }
for f in /etc/greenwatch /var/lib/greenwatch /usr/share/greenwatch /usr/share/doc/greenwatch "$plugins"; do
    [ ! -e "$f" ] || fail "$f is still there after dpkg --purge"
done
if dpkg-query -W -f='${Status}' greenwatch 2>/dev/null | grep -q "installed\|config-files"; then
    fail "dpkg still knows greenwatch after the purge"
fi
echo "test_package: passed"
