#!/bin/sh
# Runs every test: installs what is missing, builds, runs the whole meson
# suite, then the same suite again under AddressSanitizer + UBSan.
#   tools/check.sh              # the full check (what CI runs)
#   tools/check.sh --valgrind   # also the valgrind run (slower)
set -eu
cd "$(dirname "$0")/.."

tools/install-deps.sh

BUILD=${BUILD:-_build}
ASAN_BUILD=${ASAN_BUILD:-_build-asan}

setup() {
  dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@"
  else
    rm -rf "$dir"
    meson setup "$dir" "$@"
  fi
}

setup "$BUILD" -Dwerror=true -Ddocumentation=true
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2

# The same suite under ASan and UBSan (memory errors and undefined
# behaviour; leaks are checked by the valgrind setup, with suppressions for
# the ones inside GLib and libsoup).
# (Introspection is left out there: g-ir-scanner's dumper, built with ASan,
# deadlocks loading GIO modules; the binding suites run in the first build.)
setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
  -Dintrospection=false -Ddocumentation=false
ninja -C "$ASAN_BUILD"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C "$ASAN_BUILD" --print-errorlogs --num-processes 2

# The fuzzers (clang, libFuzzer + ASan + UBSan): a short run of each target
# (15 s; ICLOUD_FUZZ_SECONDS), failing on any crash; their figures go to
# $FUZZ_BUILD/tests/fuzz/fuzz-stats.json. Longer runs: tests/fuzz/README.md.
FUZZ_BUILD=${FUZZ_BUILD:-_build-fuzz}
(export CC=clang
 setup "$FUZZ_BUILD" -Dfuzzing=true -Dintrospection=false -Ddocumentation=false -Db_lundef=false)
meson test -C "$FUZZ_BUILD" --suite fuzz --print-errorlogs --num-processes 2

# docs/reliability.md, once more with every figure in: the load and
# cancellation figures of the first build and the fuzzers' of the last.
ICLOUD_FUZZ_STATS="$PWD/$FUZZ_BUILD/tests/fuzz/fuzz-stats.json" \
  meson test -C "$BUILD" --print-errorlogs --logbase testlog-reliability test-faults

if [ "${1:-}" = "--valgrind" ]; then
  meson test -C "$BUILD" --setup valgrind --print-errorlogs --num-processes 2
fi

# One closing line for the whole check, from meson's logs.
python3 - "$BUILD" "$ASAN_BUILD" "$FUZZ_BUILD" <<'PY'
import json, sys, os
passed = failed = skipped = 0
for build in sys.argv[1:]:
    for name in ("testlog.json", "testlog-valgrind.json"):
        path = os.path.join(build, "meson-logs", name)
        if not os.path.exists(path):
            continue
        for line in open(path):
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
print(f"check: {passed} passed, {failed} failed, {skipped} skipped")
PY
