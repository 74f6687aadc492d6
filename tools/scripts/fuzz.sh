#!/bin/sh
# Build the libFuzzer targets of tests/fuzz with clang and fuzz each one for
# FUZZ_SECONDS (default 60), after replaying its seeds and past crashes.
# Exit status 0 only if no target crashed, leaked, hung or broke one of its
# invariants.
#
#   tools/scripts/fuzz.sh [target...]     (e.g. config spool; default: all)
#
# Environment: FUZZ_SECONDS, FUZZ_BUILD_DIR (default build-fuzz/), CC
# (default clang).  New inputs go to $FUZZ_BUILD_DIR/tests/fuzz/scratch/,
# never to the committed seeds.  A crash leaves its input in
# $FUZZ_BUILD_DIR/tests/fuzz/artifacts/<target>/: once fixed, commit it in
# tests/fuzz/regressions/<target>/, where ctest replays it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
cc=${CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: clang"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang >/dev/null
fi

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(cd "$top/tests/fuzz/corpus" && ls)
fi

cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER="$cc" -DGW_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for t in $targets; do
    cmake --build "$build" -j"$(nproc)" --target "${t}_fuzz" >/dev/null
done

# The seeds and the crashes of the past first: a regression fails here.
regex=$(echo "$targets" | tr ' \n' '||' | sed 's/|*$//')
ctest --test-dir "$build" --output-on-failure -R "^fuzz\\.($regex)_fuzz(\\.regressions)?\$"

# The spool target writes files on every run: a memory file system keeps
# that from measuring the disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/fuzz/lsan.supp:print_suppressions=0}"

# libconfig 1.5 leaks on some syntax errors (see tests/fuzz/lsan.supp).
# Suppressed, such a leak still sends libFuzzer into a leak check after
# nearly every mutation, which makes these targets 40 times slower; they
# fuzz without, and the corpus they grew is then replayed with leak checks.
leaks_after() {
    case "$1" in config|profile) return 0 ;; *) return 1 ;; esac
}

failed=""
for t in $targets; do
    bin="$build/tests/fuzz/${t}_fuzz"
    scratch="$build/tests/fuzz/scratch/$t"
    artifacts="$build/tests/fuzz/artifacts/$t"
    mkdir -p "$scratch" "$artifacts"
    dict=""
    [ -f "$top/tests/fuzz/$t.dict" ] && dict="-dict=$top/tests/fuzz/$t.dict"
    leaks=1
    if leaks_after "$t"; then
        leaks=0
    fi
    echo "== fuzzing $t for ${seconds}s"
    # shellcheck disable=SC2086 # $dict is one word or none
    if "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
              -detect_leaks=$leaks -artifact_prefix="$artifacts/" $dict \
              "$scratch" "$top/tests/fuzz/corpus/$t" >"$build/tests/fuzz/$t.log" 2>&1 &&
       { [ "$leaks" = 1 ] ||
         "$bin" -runs=0 -artifact_prefix="$artifacts/" "$scratch" "$top/tests/fuzz/corpus/$t" \
                >>"$build/tests/fuzz/$t.log" 2>&1; }; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' \
            "$build/tests/fuzz/$t.log" || true
    else
        echo "$t: FAILED; the input is in $artifacts/; the report:"
        grep -A40 -E '^==[0-9]+==|runtime error|deadly signal|Test unit written' \
            "$build/tests/fuzz/$t.log" | head -80
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzzing found problems in:$failed"
    exit 1
fi
echo "fuzzing: no problem found in $targets ($seconds s each)" | tr '\n' ' '
echo
