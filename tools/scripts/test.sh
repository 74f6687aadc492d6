#!/bin/sh
# Set everything up and run the whole test suite twice: a release build,
# then an ASan + UBSan build.  Exit status 0 only if every test passed.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)

"$top/tools/scripts/setup.sh"
ctest --test-dir "$top/build" --output-on-failure -j2
"$top/tools/scripts/setup.sh" --sanitize
# The release pass runs the outage test's full two minutes; under the
# sanitizers a shorter outage exercises the same paths.
GW_OUTAGE_SECONDS=30 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$top/build-asan" --output-on-failure -j2
echo "all tests passed (release and sanitizer builds)"
