#!/bin/sh
# icloud-bench-plot.sh RESULTS.json OUT.svg|OUT.png
#
# Draws logins per second and memory per session against N from the JSON of
# `icloud-bench all`, with gnuplot (Debian: gnuplot-nox; tools/install-deps.sh
# installs it). /usr/bin/python3 (standard library only) turns the JSON into
# a gnuplot script with inline data blocks.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 RESULTS.json OUT.svg|OUT.png" >&2
  exit 2
fi

case $2 in
  *.png|*.svg) ;;
  *) echo "$0: the output must end in .svg or .png" >&2; exit 2 ;;
esac

command -v gnuplot >/dev/null 2>&1 || {
  echo "$0: gnuplot is missing (apt-get install gnuplot-nox)" >&2
  exit 1
}

/usr/bin/python3 - "$1" "$2" <<'EOF' | gnuplot
import json, sys

doc = json.load(open(sys.argv[1]))
out = sys.argv[2]
series = [
    ("libicloud-glib", "signin", "libicloud-glib sign-in (SRP + 2FA), one main loop", "#1f77b4", 7),
    ("libicloud-glib", "restore", "libicloud-glib restore (validate)", "#1f77b4", 6),
    ("python-srp-1.0.20", "signin", "pure-Python SRP + 2FA, threads", "#2ca02c", 5),
    ("pyicloud-1.0.0-legacy", "signin", "pyicloud 1.0.0 + 2FA, threads (legacy: no SRP)", "#d62728", 9),
    ("pyicloud-1.0.0-legacy", "restore", "pyicloud 1.0.0 restore, threads", "#d62728", 8),
]
blocks, plots_rate, plots_mem = [], [], []
for k, (client, mode, title, color, pt) in enumerate(series):
    rows = [(run["accounts"], run["logins_per_s"], run["rss_per_session_kib"])
            for size in doc.get("sizes", []) for run in size.get("runs", [])
            if run.get("client") == client and run.get("mode") == mode and run.get("ok")]
    if not rows:
        continue
    blocks.append("$d%d << EOD" % k)
    blocks += ["%d %.6g %.6g" % (n, rate, max(kib, 0.01)) for n, rate, kib in rows]
    blocks.append("EOD")
    dash = "dt 2" if mode == "restore" else "dt 1"
    plots_rate.append("$d%d using 1:2 title '%s' lc rgb '%s' pt %d lw 2 %s" % (k, title, color, pt, dash))
    plots_mem.append("$d%d using 1:3 title '%s' lc rgb '%s' pt %d lw 2 %s" % (k, title, color, pt, dash))

m = doc.get("machine", {})
machine = "%s × %s, %s" % (m.get("nproc", "?"), m.get("cpu_model", "?"), m.get("os", "?"))
if out.endswith(".png"):
    print("set terminal pngcairo size 1300,640 font 'sans,10'")
else:
    print("set terminal svg size 1300,640 font 'sans,11' background '#ffffff'")
print("set output '%s'" % out.replace("'", ""))
print("\n".join(blocks))
print("set multiplot layout 1,2 title 'icloud-bench: N accounts at once against the fake server (%s, %d PBKDF2 iterations)'"
      % (machine.replace("'", ""), doc.get("iterations", 0)))
print("set logscale xy 10")
print("set grid")
print("set key below font ',9' maxrows 3")
print("set xlabel 'N (accounts signing in at once)'")
print("set style data linespoints")
print("set title 'logins per second (higher is better)'")
print("set ylabel 'logins/s'")
print("plot " + ", \\\n  ".join(plots_rate))
print("set title 'memory per idle signed-in session (lower is better)'")
print("set ylabel 'KiB per session: (RSS after − RSS before) / N'")
print("plot " + ", \\\n  ".join(plots_mem))
print("unset multiplot")
EOF
