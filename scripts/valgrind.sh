#!/usr/bin/env bash
# Runs the integration suite with every daemon under valgrind memcheck (optional, not
# part of scripts/check.sh: it takes minutes). Builds build/valgrind without
# sanitizers, then points VUV_DAEMON at a wrapper that execs valgrind on the real
# daemon. The daemon runs with --sandbox off: valgrind's own system calls are not on
# the seccomp allow-list (a test's own --sandbox argument comes later and wins). Each
# daemon writes its report to build/valgrind/vg/<pid>.log; the script sums them up and
# exits non-zero when any test failed or any report has an error (invalid access,
# uninitialised value, definitely lost block, fd left open at exit).
# The tree is built without the ffmpeg backend: Debian 12's libavcodec pulls in libhwy,
# whose start-up code runs rdtscp, which valgrind 3.19 cannot execute (SIGILL before
# main), so a daemon linked with libavcodec cannot run under valgrind at all.
#
#   scripts/valgrind.sh [SUITE...]      (default: integration)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/valgrind"
suites=${*:-integration}

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }
reconf=
[ -f "$build/build.ninja" ] && reconf=--reconfigure
meson setup $reconf "$build" "$root" --buildtype=debugoptimized -Db_sanitize=none \
	-Dffmpeg=disabled >"$root/build/valgrind-setup.log" 2>&1 || {
	cat "$root/build/valgrind-setup.log" >&2
	exit 1
}
ninja -C "$build" -j2 >"$build/valgrind-build.log" 2>&1 || { cat "$build/valgrind-build.log" >&2; exit 1; }

logs="$build/vg"
rm -rf "$logs"
mkdir -p "$logs"
wrapper="$build/vg-daemon.sh"
# --track-fds: fds still open at exit other than 0-2 are reported; the daemon closes
# everything it opened before exiting, so any is an error (counted below).
cat >"$wrapper" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --track-fds=yes --error-exitcode=99 \\
	--log-file="$logs/%p.log" "$build/vhost-user-video" --sandbox off "\$@"
EOF
chmod +x "$wrapper"

start=$(date +%s)
# meson test would set VUV_DAEMON back to the plain binary (the tests' own env wins), so
# the tests of the suites are run here from meson's list, one at a time, with
# VUV_DAEMON replaced and 10x their timeouts (valgrind is 20-50x slower).
meson introspect "$build" --tests | VG_DAEMON="$wrapper" VG_SUITES="$suites" python3 -c '
import json, os, subprocess, sys
want = os.environ["VG_SUITES"].split()
failed = 0
for t in json.load(sys.stdin):
    if not any(s.split(":")[-1] in want for s in t["suite"]):
        continue
    if t["name"] == "cli":
        # Its cases start the daemon with --sandbox on and log and read the filter from
        # /proc: the system calls of valgrind itself do not pass the allow-list.
        print("valgrind test cli: left out (its sandbox cases cannot run under valgrind)",
              flush=True)
        continue
    env = dict(os.environ, **t["env"])
    if "VUV_DAEMON" in env:
        env["VUV_DAEMON"] = os.environ["VG_DAEMON"]
    try:
        rc = subprocess.run(t["cmd"], env=env, cwd=t.get("workdir"),
                            timeout=10 * (t["timeout"] or 60)).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    print("valgrind test %s: %s" % (t["name"], "ok" if rc == 0 else "FAILED (%s)" % rc),
          flush=True)
    failed += rc != 0
sys.exit(1 if failed else 0)
' >"$build/valgrind-tests.log" 2>&1
test_rc=$?
grep '^valgrind test ' "$build/valgrind-tests.log"

errors=0
leaks=0
fds=0
reports=0
for f in "$logs"/*.log; do
	[ -e "$f" ] || continue
	reports=$((reports + 1))
	e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
	l=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n 1 | tr -d ,)
	# Descriptors open at exit that the daemon opened itself: valgrind lists each as
	# "Open ... descriptor N: ..." followed by where it was opened, or by
	# "<inherited from parent>" for those it was started with (its log file, the
	# test's pipes), which are not the daemon's.
	n_open=$(awk '/^==[0-9]+== Open / { pending = 1; next }
		pending { if ($0 !~ /inherited from parent/) n++; pending = 0 }
		END { print n + 0 }' "$f")
	if [ "${e:-0}" != 0 ] || [ "${l:-0}" != 0 ] || [ "$n_open" != 0 ]; then
		echo "valgrind: $f: ${e:-?} errors, ${l:-0} bytes definitely lost, $n_open fds open at exit"
	fi
	errors=$((errors + ${e:-0}))
	leaks=$((leaks + ${l:-0}))
	fds=$((fds + n_open))
done
echo "valgrind: $reports daemon runs, $errors errors, $leaks bytes definitely lost," \
	"$fds fds left open, tests exit $test_rc, $(($(date +%s) - start)) s"
[ "$test_rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$leaks" -eq 0 ] && [ "$fds" -eq 0 ]
