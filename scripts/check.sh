#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian 12, as root or with
# sudo), builds with -Werror, runs every test, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included).
# Then a fuzz smoke run of every libFuzzer target (clang), and the real-device
# tests: vicodec in a QEMU VM (tests/vm/run.sh), decoding
# through the daemon built in build/check. VUV_SKIP_VM=1 leaves them out (and
# says so). Prints one closing line "check: N passed, N failed"; exits non-zero
# on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
vuv_install_deps

results=()
status=0

run_suite() {
	local name=$1 dir=$2
	shift 2
	echo "== $name: build ($dir)"
	vuv_setup "$dir" "$@"
	ninja -C "$dir" >/dev/null
	echo "== $name: test"
	if ! meson test -C "$dir" --print-errorlogs --no-rebuild; then
		status=1
	fi
	results+=("$dir")
}

run_suite "gcc -Werror" build/check -Dwerror=true --buildtype=debugoptimized

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite "ASan+UBSan" build/asan -Dwerror=true --buildtype=debug \
	-Db_sanitize=address,undefined -Db_lundef=false

# Fuzz smoke: every libFuzzer target for a few seconds on its seed corpus, and
# the fixed findings replayed as regression tests.
echo "== fuzz smoke (fuzz/run ${VUV_FUZZ_SECONDS:-5})"
fuzz_log=build/fuzz-smoke.log
fz_rc=0
fuzz/run "${VUV_FUZZ_SECONDS:-5}" >"$fuzz_log.raw" 2>&1 || fz_rc=$?
cat "$fuzz_log.raw"
fz_pass=$(grep -cE ' ok$' "$fuzz_log.raw" || true)
fz_fail=$(grep -c 'FAILED (exit' "$fuzz_log.raw" || true)
if [ "$fz_rc" -ne 0 ] && [ "$fz_fail" -eq 0 ]; then
	fz_fail=1 # the build or the script itself failed
fi
# replay_finding ENV=1 FILE TEXT: a fixed finding, replayed in the strict mode that caught it.
replay_finding() {
	if env "$1" build/fuzz/fuzz/fuzz_vv_device "fuzz/findings/$2" >/dev/null 2>&1; then
		echo "ok   fuzz finding: $3 (fixed)"
		fz_pass=$((fz_pass + 1))
	else
		echo "FAIL fuzz finding: $3"
		fz_fail=$((fz_fail + 1))
	fi
}
replay_finding FUZZ_STRICT_RESET=1 vv_device-broken-ring-survives-driver-reset \
	"broken ring survives driver reset"
replay_finding FUZZ_STRICT_REMAP=1 vv_device-response-lost-after-region-readd \
	"response lost after region re-add"
echo "fuzz: $fz_pass passed, $fz_fail failed" >"$fuzz_log"
cat "$fuzz_log"
[ "$fz_fail" -eq 0 ] || status=1

vm_log=
if [ "${VUV_SKIP_VM:-0}" = 1 ]; then
	echo "== vicodec VM: left out (VUV_SKIP_VM=1)"
else
	echo "== vicodec VM (tests/vm/run.sh)"
	vm_log=build/check/vm-tests.log
	if ! tests/vm/run.sh --build-dir build/check 2>&1 | tee "$vm_log"; then
		status=1
	fi
fi

python3 scripts/summarize.py --extra "$fuzz_log" ${vm_log:+--extra "$vm_log"} \
	"${results[@]}" || status=1
exit $status
