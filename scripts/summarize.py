#!/usr/bin/env python3
"""Adds up the per-binary "NAME: N passed, N failed" lines of meson test logs.
A test binary that failed without such a line (crash, timeout) counts as one
failure. --extra LOG adds a plain log whose last "NAME: N passed, N failed"
line counts (a log without one counts as one failure). Prints one line per
build dir or log and the closing total."""
import json
import re
import sys

LINE = re.compile(r"^(\S+): (\d+) passed, (\d+) failed$", re.M)

total_pass = total_fail = 0
args = sys.argv[1:]
extras = []
while len(args) >= 2 and args[0] == "--extra":
    extras.append(args[1])
    args = args[2:]
for log in extras:
    try:
        with open(log) as fh:
            found = LINE.findall(fh.read())
    except OSError:
        found = []
    p, f = (int(found[-1][1]), int(found[-1][2])) if found else (0, 1)
    print(f"{log}: {p} passed, {f} failed")
    total_pass += p
    total_fail += f
for build in args:
    bpass = bfail = 0
    with open(f"{build}/meson-logs/testlog.json") as fh:
        for raw in fh:
            rec = json.loads(raw)
            found = LINE.findall(rec.get("stdout", "") or "")
            p = sum(int(m[1]) for m in found)
            f = sum(int(m[2]) for m in found)
            if rec.get("result") not in ("OK", "EXPECTEDFAIL") and f == 0:
                f = 1
            bpass += p
            bfail += f
    print(f"{build}: {bpass} passed, {bfail} failed")
    total_pass += bpass
    total_fail += bfail
print(f"check: {total_pass} passed, {total_fail} failed")
sys.exit(1 if total_fail else 0)
