#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian 12, as root or with
# sudo), builds with -Werror, runs every test, then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included).
# Prints one closing line "check: N passed, N failed"; exits non-zero on any
# failure.
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

python3 scripts/summarize.py "${results[@]}" || status=1
exit $status
