#!/bin/sh
# The demo: builds, starts the fake iCloud server on 127.0.0.1, signs an
# account in with icloud-auth (SRP), shows the saved session being reused
# with no password, then signs a two-factor account in headless (login,
# request-code, verify with the code read from the fake server's control
# API). Nothing here talks to Apple.
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

B=$(cd "$BUILD" && pwd)
export ICLOUD_PLUGIN_PATH="$B/plugins/srp:$B/plugins/hsa2:$B/plugins/hsa:$B/plugins/china-mainland"
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

# Two-factor, headless: login stops at the second factor (exit status 4)
# with the state saved; request-code and verify finish it in other processes.
ID2=2fa@example.com
COMMON2="--apple-id $ID2 --endpoint-base $BASE --cookie-directory $STATE/sessions"
echo
echo "\$ icloud-auth login --apple-id $ID2 --password-stdin   (SRP, then Apple asks for a code)"
status=0
printf 'two factor\n' | $AUTH login $COMMON2 --password-stdin || status=$?
echo "(exit status $status: a second factor is pending)"
[ "$status" -eq 4 ]

echo
echo "\$ icloud-auth request-code   (ask Apple to push a code to the trusted devices)"
$AUTH request-code $COMMON2
CODE=$(curl -s "$BASE/_mock/code?apple_id=$ID2" | sed -n 's/.*"code" *: *"\([0-9]*\)".*/\1/p')
echo "(the fake server's control API shows the code a trusted device would display: $CODE)"

echo
echo "\$ icloud-auth verify $CODE"
$AUTH verify $COMMON2 "$CODE"

echo
echo "\$ icloud-auth status --json   (trusted now: the next start needs neither password nor code)"
$AUTH status $COMMON2 --json
echo
echo
ls -ld "$STATE/sessions"
ls -l "$STATE/sessions"
