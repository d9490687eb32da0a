#!/usr/bin/python3
# run-fuzzer.py: one short libFuzzer run of one target, as a meson test
#
#   run-fuzzer.py --fuzzer BIN --name NAME --corpus SRC_CORPUS
#                 [--regressions SRC_REGRESSIONS] [--dict FILE]
#                 --workdir BUILD_DIR --stats STATS_JSON [--seconds N]
#
# The seed corpus is copied to WORKDIR/corpus/NAME (fresh each run: the
# source tree is never written) and the fuzzer runs on it, with the
# regression inputs as a read-only second corpus. Crash inputs go to
# WORKDIR/artifacts/NAME/. Prints libFuzzer's final stats; records the
# executions, the corpus size before and after and the crashes in STATS_JSON
# (one object per target, merged under a lock: the targets run in
# parallel). Exits non-zero on any crash, leak, timeout or failed check.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time


def count_files(path):
    if not os.path.isdir(path):
        return 0
    return sum(1 for e in os.scandir(path) if e.is_file() and not e.name.startswith('.'))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--fuzzer', required=True)
    p.add_argument('--name', required=True)
    p.add_argument('--corpus', required=True)
    p.add_argument('--regressions')
    p.add_argument('--dict')
    p.add_argument('--workdir', required=True)
    p.add_argument('--stats', required=True)
    p.add_argument('--seconds', type=int,
                   default=int(os.environ.get('ICLOUD_FUZZ_SECONDS', '15')))
    args = p.parse_args()

    corpus = os.path.join(args.workdir, 'corpus', args.name)
    artifacts = os.path.join(args.workdir, 'artifacts', args.name) + os.sep
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(args.corpus, corpus)
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts)
    seeds = count_files(corpus)

    cmd = [args.fuzzer,
           '-max_total_time=%d' % args.seconds,
           '-print_final_stats=1',
           '-timeout=10',
           '-rss_limit_mb=2048',
           '-max_len=65536',
           '-artifact_prefix=' + artifacts]
    if args.dict:
        cmd.append('-dict=' + args.dict)
    cmd.append(corpus)
    if args.regressions and count_files(args.regressions) > 0:
        cmd.append(args.regressions)

    env = dict(os.environ)
    env.setdefault('ASAN_OPTIONS', 'abort_on_error=1:detect_leaks=1')
    env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')

    print('$ ' + ' '.join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors='replace')
    elapsed = time.monotonic() - started
    out = proc.stdout
    # The whole log for a crash; the stats (and a little context) otherwise.
    if proc.returncode != 0:
        sys.stdout.write(out)
    else:
        for line in out.splitlines():
            if line.startswith('stat::') or line.startswith('Done ') or 'INITED' in line:
                print(line)

    def stat(key):
        m = re.search(r'^stat::%s:\s*(\d+)' % key, out, re.M)
        return int(m.group(1)) if m else None

    execs = stat('number_of_executed_units')
    crashes = count_files(artifacts)
    if proc.returncode != 0 and crashes == 0:
        crashes = 1   # died before writing an artifact
    record = {
        'target': args.name,
        'seconds': args.seconds,
        'elapsed_seconds': round(elapsed, 1),
        'executions': execs if execs is not None else 0,
        'execs_per_second': stat('average_exec_per_sec') or 0,
        'corpus_seeds': seeds,
        'corpus_size': count_files(corpus),
        'peak_rss_mb': stat('peak_rss_mb') or 0,
        'crashes': crashes,
        'exit_status': proc.returncode,
    }

    os.makedirs(os.path.dirname(os.path.abspath(args.stats)), exist_ok=True)
    with open(args.stats + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(args.stats) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = {}
        if not isinstance(doc.get('targets'), dict):
            doc = {'version': 1, 'fuzzer': 'libFuzzer (clang 14), ASan + UBSan',
                   'targets': {}}
        doc['targets'][args.name] = record
        doc['total_executions'] = sum(t['executions'] for t in doc['targets'].values())
        doc['total_crashes'] = sum(t['crashes'] for t in doc['targets'].values())
        tmp = args.stats + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write('\n')
        os.replace(tmp, args.stats)

    print('fuzz %s: %d executions in %.1f s, corpus %d -> %d, %d crashes'
          % (args.name, record['executions'], elapsed, seeds,
             record['corpus_size'], crashes))
    if execs is None:
        print('no final stats from libFuzzer', file=sys.stderr)
        return 1
    return 0 if proc.returncode == 0 and crashes == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
