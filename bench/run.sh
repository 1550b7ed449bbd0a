#!/usr/bin/env bash
# The benchmarks in one command: installs what they need (Debian 12; valgrind for the
# instruction counts), builds a release tree in build/bench and runs bench/vuv-bench
# against the daemon built there. Prints a table of figures, each a ratio against a
# reference measured in the same run, and exits 0; never part of the test suite.
#
#   bench/run.sh [--json FILE] [--quick] [--reps N] [--only 1,2,3,4,5] [--no-callgrind]
#                [--keep-callgrind DIR]
#
# All options go to vuv-bench (docs/performance.md); paths are relative to where you
# run it from.
set -euo pipefail
here=$PWD
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/deps.sh
vuv_install_deps valgrind

dir=build/bench
echo "== bench: release build ($dir)" >&2
vuv_setup "$dir" --buildtype=release
ninja -C "$dir" vhost-user-video bench/vuv-bench >/dev/null
cd "$here"
exec "$root/$dir/bench/vuv-bench" --daemon "$root/$dir/vhost-user-video" "$@"
