#!/bin/bash
# test-install.sh: libicloud-glib as an application developer gets it.
#
# Installs the build into a temporary DESTDIR, then, with only that
# prefix's environment (PATH, LD_LIBRARY_PATH, GI_TYPELIB_PATH,
# PKG_CONFIG_PATH, XDG_DATA_DIRS, MANPATH, ICLOUD_PLUGIN_PATH; nothing of the
# build tree), checks:
#   - icloud-auth --version, the man page (man -w finds it), the bash
#     completion (in bash-completion's directory, and it completes),
#     the reference docs' index when the docs are built;
#   - the installed icloud-mock-server starts with its installed default
#     accounts and answers its control API;
#   - the documented app-testing examples (docs/testing-your-app.md) run:
#     the Python one (ICloud-1 through PyGObject, against the installed
#     server, codes and faults through /_mock/), and the C one, compiled
#     against the installed pkg-config files (icloud-glib-1, icloud-mock-0)
#     with the server embedded;
#   - the guide holds each example verbatim;
#   - examples/plugin (an out-of-tree auth method) builds with meson against
#     the prefix, installs into its plugindir and signs an account in.
#
# Arguments (from tests/install/meson.build): BUILD_DIR SOURCE_DIR PREFIX
# BINDIR LIBDIR DATADIR MANDIR COMPLETIONS_DIR VERSION DOCS(yes|no) MAN(yes|no)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

build=$1 source=$2 prefix=$3 bindir=$4 libdir=$5 datadir=$6 mandir=$7
completions=$8 version=$9 docs=${10} man=${11}

fail() { echo "not ok - $*"; exit 1; }
pass() { echo "ok - $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/icloud-install-XXXXXX")
server_pid=""
# `run` is a function, so the `run icloud-mock-server &` below is a subshell
# and the server its child: stop both, or the server outlives the test.
stop_server() {
  [ -n "$server_pid" ] || return 0
  pkill -P "$server_pid" 2>/dev/null || true
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT

abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
root=$tmp/root
P=$root$prefix
BIN=$root$(abs "$bindir")
LIB=$root$(abs "$libdir")
DATA=$root$(abs "$datadir")
MAN=$root$(abs "$mandir")
COMPLETIONS=$root$(abs "$completions")

DESTDIR=$root meson install --no-rebuild --quiet -C "$build" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "meson install"; }
pass "installed into a temporary DESTDIR"

# The .pc files name the configured prefix; a DESTDIR copy needs them
# pointed at where the files are (a packager's sysroot does the same).
mkdir -p "$tmp/pkgconfig"
for pc in "$LIB"/pkgconfig/*.pc; do
  sed "s|^prefix=$prefix\$|prefix=$P|" "$pc" >"$tmp/pkgconfig/$(basename "$pc")"
done

# Only the prefix's environment from here on.
run() {
  env -i \
    HOME="$tmp/home" TMPDIR="$tmp" LANG=C.UTF-8 \
    PATH="$BIN:/usr/bin:/bin" \
    LD_LIBRARY_PATH="$LIB" \
    GI_TYPELIB_PATH="$LIB/girepository-1.0" \
    PKG_CONFIG_PATH="$tmp/pkgconfig" \
    XDG_DATA_DIRS="$DATA:/usr/share" \
    MANPATH="$MAN" \
    ICLOUD_PLUGIN_PATH="$LIB/icloud-glib-1/plugins" \
    GIO_USE_PROXY_RESOLVER=dummy \
    "$@"
}
mkdir -p "$tmp/home"

# icloud-auth --version
out=$(run icloud-auth --version) || fail "icloud-auth --version exits 0"
[ "$out" = "icloud-auth $version" ] || fail "icloud-auth --version prints '$out'"
[ "$(run sh -c 'command -v icloud-auth')" = "$BIN/icloud-auth" ] || fail "icloud-auth is the installed one"
pass "icloud-auth --version: $out"

# The man page
if [ "$man" = yes ]; then
  [ -f "$MAN/man1/icloud-auth.1" ] || fail "no $MAN/man1/icloud-auth.1"
  if command -v man >/dev/null 2>&1; then
    found=$(run man -w icloud-auth) || fail "man -w icloud-auth"
    [ "$found" = "$MAN/man1/icloud-auth.1" ] || fail "man -w found $found"
  fi
  grep -q -- '--keyring' "$MAN/man1/icloud-auth.1" || fail "the man page documents --keyring"
  pass "man page icloud-auth(1)"
else
  echo "ok - # SKIP man page: scdoc was not found at configure time"
fi

# bash completion, in bash-completion's directory
[ -f "$COMPLETIONS/icloud-auth" ] || fail "no $COMPLETIONS/icloud-auth"
words=$(run bash --norc -c 'source "$1"; COMP_WORDS=(icloud-auth sta); COMP_CWORD=1; _icloud_auth; echo "${COMPREPLY[*]}"' \
  complete "$COMPLETIONS/icloud-auth")
[ "$words" = "status" ] || fail "completion of 'icloud-auth sta' gave '$words'"
pass "bash completion in $completions"

# The reference docs
if [ "$docs" = yes ]; then
  [ -f "$DATA/doc/icloud-glib-1/index.html" ] || fail "no docs index in $DATA/doc/icloud-glib-1"
  [ -f "$DATA/doc/icloud-glib-1/testing-your-app.html" ] || fail "no testing-your-app guide"
  pass "reference docs installed"
else
  echo "ok - # SKIP reference docs: not built (gi-docgen missing or -Ddocumentation=false)"
fi

# The installed fake server, with its installed default accounts
[ -f "$DATA/icloud-mock-0/accounts.json" ] || fail "no default accounts file"
run icloud-mock-server </dev/null >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^ICLOUD_MOCK_BASE_URI=' "$tmp/server.out" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err"; fail "icloud-mock-server exited"; }
  sleep 0.1
done
base=$(sed -n 's/^ICLOUD_MOCK_BASE_URI=//p' "$tmp/server.out")
[ -n "$base" ] || fail "icloud-mock-server printed no base URI"
n_default=$(run /usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["accounts"]))' "$DATA/icloud-mock-0/accounts.json")
n_served=$(run /usr/bin/python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/_mock/health"))["accounts"])' "$base") ||
  fail "the control API of the installed server"
[ "$n_served" = "$n_default" ] && [ "$n_default" -gt 0 ] ||
  fail "the installed server serves $n_served accounts, its default file has $n_default"
stop_server
pass "installed icloud-mock-server serves the $n_default default accounts at $base"

# The guide holds each example verbatim.
guide=$source/docs/testing-your-app.md
for example in "$source/examples/testing/test_sign_in.py" "$source/examples/testing/test-embedded.c"; do
  /usr/bin/python3 - "$guide" "$example" <<'PY' || fail "$(basename "$example") is not verbatim in docs/testing-your-app.md"
import sys
guide, example = (open(p, encoding='utf-8').read() for p in sys.argv[1:3])
sys.exit(0 if example.strip() in guide else 1)
PY
done
pass "docs/testing-your-app.md holds both examples verbatim"

# The Python example: ICloud-1 from the prefix, the installed server.
cp "$source/examples/testing/test_sign_in.py" "$tmp/"
(cd "$tmp" && run /usr/bin/python3 -m unittest -v test_sign_in) >"$tmp/python.log" 2>&1 ||
  { cat "$tmp/python.log"; fail "examples/testing/test_sign_in.py"; }
grep -q '^Ran 3 tests' "$tmp/python.log" || { cat "$tmp/python.log"; fail "test_sign_in.py ran 3 tests"; }
pass "examples/testing/test_sign_in.py (3 tests) against the installed server"

# The C example: built with the installed pkg-config files and headers.
flags=$(run pkg-config --cflags --libs icloud-glib-1 icloud-mock-0) || fail "pkg-config icloud-glib-1 icloud-mock-0"
case $flags in *"-I$P/include/icloud-mock-0"*) ;; *) fail "pkg-config: $flags" ;; esac
# shellcheck disable=SC2086
run cc -o "$tmp/test-embedded" "$source/examples/testing/test-embedded.c" $flags 2>"$tmp/cc.log" ||
  { cat "$tmp/cc.log"; fail "building examples/testing/test-embedded.c"; }
run "$tmp/test-embedded" >"$tmp/c.log" 2>&1 || { cat "$tmp/c.log"; fail "examples/testing/test-embedded.c"; }
grep -c '^ok ' "$tmp/c.log" | grep -qx 2 || { cat "$tmp/c.log"; fail "test-embedded ran 2 tests"; }
pass "examples/testing/test-embedded.c (2 tests), built with pkg-config from the prefix"

# An out-of-tree auth method (examples/plugin/): shown verbatim in the
# guide, built with meson against the prefix, installed into its plugindir,
# and used by a session.
/usr/bin/python3 - "$source/docs/writing-plugins.md" "$source/examples/plugin/example-legacy-password.c" <<'PY' ||
import sys
guide, example = (open(p, encoding='utf-8').read() for p in sys.argv[1:3])
sys.exit(0 if example.strip() in guide else 1)
PY
  fail "example-legacy-password.c is not verbatim in docs/writing-plugins.md"
plugindir=$(run pkg-config --variable=plugindir icloud-glib-1) || fail "pkg-config --variable=plugindir"
[ "$plugindir" = "$LIB/icloud-glib-1/plugins" ] || fail "plugindir is $plugindir"
cp -r "$source/examples/plugin" "$tmp/plugin-src"
(run meson setup --prefix "$P" "$tmp/plugin-build" "$tmp/plugin-src" &&
 run meson install -C "$tmp/plugin-build") >"$tmp/plugin.log" 2>&1 ||
  { cat "$tmp/plugin.log"; fail "building and installing examples/plugin"; }
[ -f "$plugindir/libicloud-example-legacy-password.so" ] ||
  { cat "$tmp/plugin.log"; fail "examples/plugin did not land in $plugindir"; }
run /usr/bin/python3 - >"$tmp/plugin-run.log" 2>&1 <<'PY' || { cat "$tmp/plugin-run.log"; fail "signing in through example-legacy-password"; }
import json, subprocess, tempfile, urllib.request
import gi
gi.require_version('ICloud', '1')
from gi.repository import ICloud

server = subprocess.Popen(['icloud-mock-server', '--exit-on-eof'], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
line = server.stdout.readline().strip()
assert line.startswith('ICLOUD_MOCK_BASE_URI='), line
base = line.split('=', 1)[1]

def control(what):
    with urllib.request.urlopen(f'{base}/_mock/{what}', timeout=10) as reply:
        return json.load(reply)

def count(path):
    return control(f'requests?apple_id=legacy@example.com&path={path}')['count']

with tempfile.TemporaryDirectory() as directory:
    session = ICloud.Session(apple_id='legacy@example.com', password='plain password',
                             endpoint=ICloud.Endpoint.new_for_base_uri(base),
                             cookie_directory=directory,
                             sign_in_method='example-legacy-password')
    session.init(None)
    # legacy@example.com has two-factor authentication: the installed hsa2
    # plugin takes the challenge over after the example's password sign-in.
    assert session.get_state() == ICloud.AuthState.NEEDS_2FA, session.get_state()
    session.request_2fa_code(None, None)
    assert session.validate_2fa_code(control('code?apple_id=legacy@example.com')['code'], None)
    assert session.get_state() == ICloud.AuthState.AUTHENTICATED, session.get_state()
    assert count('/appleauth/auth/signin') == 1, count('/appleauth/auth/signin')
    assert count('/appleauth/auth/signin/init') == 0, count('/appleauth/auth/signin/init')
    session.close(None)
server.stdin.close()
server.wait(timeout=10)
print('signed in through example-legacy-password')
PY
pass "examples/plugin built with meson against the prefix, installed into its plugindir, signs legacy@example.com in"

# Vala: the installed VAPIs are found from the prefix.
if [ -f "$DATA/vala/vapi/icloud-mock-0.vapi" ]; then
  [ -f "$DATA/vala/vapi/icloud-glib-1.vapi" ] || fail "icloud-glib-1.vapi"
  pass "VAPIs installed"
fi
[ -f "$LIB/girepository-1.0/ICloudMock-0.typelib" ] || fail "ICloudMock-0.typelib"
[ -f "$DATA/gir-1.0/ICloudMock-0.gir" ] || fail "ICloudMock-0.gir"
run /usr/bin/python3 -c 'import gi; gi.require_version("ICloudMock", "0"); from gi.repository import ICloudMock; s = ICloudMock.Server.new(); assert s.get_n_accounts() == 0' ||
  fail "ICloudMock-0 from the prefix's typelib"
pass "ICloudMock-0 GIR and typelib"
