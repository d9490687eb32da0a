#!/bin/sh
# The demo: builds, starts the fake iCloud server on 127.0.0.1, signs an
# account in with icloud-auth (SRP), then shows the saved session being
# reused with no password. Nothing here talks to Apple.
set -eu
cd "$(dirname "$0")/.."

tools/install-deps.sh

BUILD=${BUILD:-_build}
if [ ! -f "$BUILD/build.ninja" ]; then
  rm -rf "$BUILD"
  if ! meson setup "$BUILD" >"$BUILD.log" 2>&1; then
    cat "$BUILD.log" >&2
    exit 1
  fi
fi
if ! ninja -C "$BUILD" >"$BUILD.log" 2>&1; then
  cat "$BUILD.log" >&2
  exit 1
fi
rm -f "$BUILD.log"

export ICLOUD_PLUGIN_PATH="$PWD/$BUILD/plugins/srp"
AUTH="$BUILD/tools/icloud-auth"
STATE=$(mktemp -d)
OUT="$STATE/server.out"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$STATE"' EXIT INT TERM

"$BUILD/tools/icloud-mock-server" --accounts data/accounts.json >"$OUT" &
SERVER=$!
for _ in $(seq 1 100); do
  grep -q '^ICLOUD_MOCK_BASE_URI=' "$OUT" 2>/dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^ICLOUD_MOCK_BASE_URI=//p' "$OUT")
echo "Fake iCloud server at $BASE"

ID=user@example.com
COMMON="--apple-id $ID --endpoint-base $BASE --cookie-directory $STATE/sessions"

echo
echo "\$ icloud-auth login --apple-id $ID --password-stdin   (SRP sign-in)"
printf 'correct horse\n' | $AUTH login $COMMON --password-stdin

srp=$(curl -s "$BASE/_mock/requests?apple_id=$ID&path=/appleauth/auth/signin/init" | sed -n 's/.*"count" *: *\([0-9]*\).*/\1/p')
echo "(the server saw $srp SRP sign-in so far)"

echo
echo "\$ icloud-auth status --json   (a new process, no password: the saved session is reused)"
$AUTH status $COMMON --json
echo

srp2=$(curl -s "$BASE/_mock/requests?apple_id=$ID&path=/appleauth/auth/signin/init" | sed -n 's/.*"count" *: *\([0-9]*\).*/\1/p')
echo "(the server still saw $srp2 SRP sign-in: no password, no SRP for the second start)"
ls -l "$STATE/sessions"
