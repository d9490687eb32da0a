#!/bin/sh
# Installs the Debian 12 packages libicloud-glib needs to build, test and run
# its demo, if any is missing. Uses apt-get as root, or through sudo.
set -eu

PACKAGES="meson ninja-build gcc pkg-config libglib2.0-dev libglib2.0-bin
libsoup-3.0-dev libjson-glib-dev nettle-dev libgmp-dev libgcrypt20-dev glib-networking
curl valgrind clang libclang-rt-14-dev
gobject-introspection libgirepository1.0-dev gir1.2-soup-3.0 gir1.2-json-1.0
python3-gi gjs valac libsecret-1-dev
gnuplot-nox python3-pyicloud python3-srp gi-docgen
scdoc bash-completion
xvfb xauth gir1.2-gtk-4.0 gir1.2-adw-1 imagemagick"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "Installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-deps: need root or sudo to install:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
