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

setup "$BUILD" -Dwerror=true
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2

# The same suite under ASan and UBSan (memory errors and undefined
# behaviour; leaks are checked by the valgrind setup, with suppressions for
# the ones inside GLib and libsoup).
setup "$ASAN_BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
ninja -C "$ASAN_BUILD"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C "$ASAN_BUILD" --print-errorlogs --num-processes 2

if [ "${1:-}" = "--valgrind" ]; then
  meson test -C "$BUILD" --setup valgrind --print-errorlogs --num-processes 2
fi
