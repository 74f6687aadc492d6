#!/bin/sh
# The test suite under valgrind memcheck: every unit test, then every
# integration test, and the daemon and the operator's tool that the tests
# start (greenwatchd, greenwatch) traced as well.  The fake devices the
# tests start (greenwatch-sim, gw-testdev) and the third-party servers and
# tools (mosquitto, influxd, victoria-metrics, socat, curl, sh) run
# natively: a device ten times slower than the test expects fails the test
# for its timing, not its memory.  The simulator's code is checked in the
# sim unit tests, which link its library.
#
#   tools/scripts/valgrind.sh [--unit] [-R REGEX]
#
#   --unit      unit tests only (about 5 minutes; the integration tests
#               take much longer under valgrind)
#   -R REGEX    only the tests whose ctest name matches REGEX
#
# What counts is a memcheck error in any process a test ran: invalid reads
# and writes, uses of uninitialised values, bad frees, and leaks of kind
# "definitely lost" (--errors-for-leak-kinds=definite: memory still
# reachable at exit, or possibly lost in a thread still running, is not a
# leak).  A test that fails without a memcheck error is listed but does
# not count: memcheck runs a program 20 to 50 times slower and one thread
# at a time, so the integration tests' waits (a reading within seconds, an
# alarm within its delay) and the unit tests that race threads on purpose
# can miss; tools/scripts/test.sh is where the suite must pass.
# tests/valgrind.supp silences third-party noise only, each entry saying
# why.  Exit status 0 without a memcheck error, 1 with one; the logs (one
# per process) stay in the output directory.
#
# Environment: GW_VG_BUILD (build directory, default build-vg: a Debug
# build without the sanitizers, which valgrind cannot run with),
# GW_VG_OUT (logs, default $TMPDIR/greenwatch-valgrind), GW_VG_SLOWDOWN
# (multiplies each test's ctest TIMEOUT, default 10), GW_OUTAGE_SECONDS
# (the outage test's outage, default 30 here as in the sanitizer pass).
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${GW_VG_BUILD:-$top/build-vg}
out=${GW_VG_OUT:-${TMPDIR:-/tmp}/greenwatch-valgrind}
slowdown=${GW_VG_SLOWDOWN:-10}
supp=$top/tests/valgrind.supp
select='^(unit|integration)\.'
filter=

while [ $# -gt 0 ]; do
    case $1 in
    --unit) select='^unit\.' ;;
    -R) [ $# -ge 2 ] || { echo "valgrind.sh: -R needs a REGEX" >&2; exit 2; }
        filter=$2; shift ;;
    *) echo "usage: valgrind.sh [--unit] [-R REGEX]" >&2; exit 2 ;;
    esac
    shift
done
for tool in valgrind jq cmake ctest timeout; do
    command -v "$tool" >/dev/null || { echo "valgrind.sh: $tool is needed" >&2; exit 2; }
done

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DGW_SANITIZE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
rm -rf "$out"
mkdir -p "$out"

# --trace-children-skip: the patterns are those of the program exec'd.
# --child-silent-after-fork: a child between fork and exec reports nothing
# (it runs the parent's code, and its exec starts a fresh, traced process).
# The unhandled-syscall warnings valgrind 3.19 prints for pidfd_open (434)
# are harmless: the harness falls back to polling when it fails.
set -- --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --error-exitcode=97 --track-origins=yes --num-callers=30 \
    --suppressions="$supp" \
    --trace-children=yes \
    --trace-children-skip='/usr/*,/bin/*,/sbin/*,/lib/*,*/greenwatch-sim,*/gw-testdev' \
    --child-silent-after-fork=yes

# name, working directory, timeout, command (JSON array), one test a line.
ctest --test-dir "$build" --show-only=json-v1 |
    jq -r --arg sel "$select" --arg f "$filter" '
        .tests[] | select((.name | test($sel)) and ($f == "" or (.name | test($f)))) |
        [ .name,
          ([.properties[]? | select(.name == "WORKING_DIRECTORY") | .value][0] // "."),
          ([.properties[]? | select(.name == "TIMEOUT") | .value][0] // 300),
          (.command | @json) ] | @tsv' >"$out/tests.tsv"
[ -s "$out/tests.tsv" ] || { echo "valgrind.sh: no test matches" >&2; exit 2; }

# Errors in one process's log: its ERROR SUMMARY, or for a process killed
# before it could write one (the outage test SIGKILLs the daemon), the
# error reports it made until then.
log_errors() {
    if grep -q 'ERROR SUMMARY' "$1"; then
        sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$1" | tail -n 1
    else
        grep -cE '^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)' "$1" || true
    fi
}

GW_OUTAGE_SECONDS=${GW_OUTAGE_SECONDS:-30}
export GW_OUTAGE_SECONDS
failed=0
slow=0
total_errors=0
n_tests=0
n_procs=0
started=$(date +%s)
printf '| test | exit | seconds | processes under memcheck | killed before exit | memcheck errors | result |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | --- |\n'
tab=$(printf '\t')
while IFS=$tab read -r name dir limit command; do
    # The command's words (test programs take no arguments with spaces).
    words=$(printf '%s' "$command" | jq -r '.[]')
    t0=$(date +%s)
    # shellcheck disable=SC2086 # words split on purpose
    (cd "$dir" && timeout -k 10 $((limit * slowdown)) valgrind "$@" --log-file="$out/$name.%p.log" \
        $words >"$out/$name.out" 2>&1 </dev/null) && rc=0 || rc=$?
    secs=$(($(date +%s) - t0))
    procs=0 killed=0 errors=0
    for log in "$out/$name".*.log; do
        [ -e "$log" ] || continue
        procs=$((procs + 1))
        grep -q 'ERROR SUMMARY' "$log" || killed=$((killed + 1))
        e=$(log_errors "$log")
        errors=$((errors + ${e:-0}))
    done
    if [ "$errors" -ne 0 ]; then
        result="memcheck errors"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        result="timed out under valgrind"
    elif [ "$rc" -ne 0 ]; then
        result="test failed (see $name.out)"
    else
        result=passed
    fi
    case $result in
    passed) ;;
    memcheck*) failed=$((failed + 1)) ;;
    *) slow=$((slow + 1)) ;;
    esac
    printf '| %s | %s | %d | %d | %d | %d | %s |\n' "$name" "$rc" "$secs" "$procs" "$killed" "$errors" "$result"
    n_tests=$((n_tests + 1))
    n_procs=$((n_procs + procs))
    total_errors=$((total_errors + errors))
done <"$out/tests.tsv"

echo
echo "valgrind.sh: $n_tests tests, $n_procs processes under memcheck, $total_errors memcheck errors" \
     "in $failed tests; $slow tests failed or timed out under valgrind without a memcheck error;" \
     "$(($(date +%s) - started)) s; logs in $out"
if [ "$failed" -ne 0 ]; then
    echo "valgrind.sh: the errors: grep -l 'ERROR SUMMARY: [1-9]' $out/*.log" >&2
    exit 1
fi
