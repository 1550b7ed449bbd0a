#!/usr/bin/env python3
"""Compares two result files of vuv-bench --json (an older and a newer run).

    bench/compare.py OLD.json NEW.json

For every figure both runs measured, prints the two ratios against their same-run
references and the change. Ratios are what to compare across runs and machines:
absolute numbers move with the machine's load, a ratio much less. Figure 3 is an
instruction count, repeatable on any machine: its value is compared directly too.
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    return data, {fig["id"]: fig for fig in data.get("figures", [])}


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    old, old_figs = load(argv[1])
    new, new_figs = load(argv[2])
    print(f"old: {argv[1]} ({old.get('date', '?')}, {old.get('machine', '?')})")
    print(f"new: {argv[2]} ({new.get('date', '?')}, {new.get('machine', '?')})")
    print(f"{'#':<4}{'figure':<44}{'old ratio':>10}{'new ratio':>10}{'change':>9}"
          f"  {'old value':>12}{'new value':>12} unit")
    for fid, nf in new_figs.items():
        of = old_figs.get(fid)
        if of is None or of.get("value") is None or nf.get("value") is None:
            why = nf.get("na") or (of or {}).get("na") or "not in the old run"
            print(f"{fid:<4}{nf['name'][:43]:<44}{why}")
            continue
        ro, rn = of.get("ratio"), nf.get("ratio")
        change = f"{(rn / ro - 1) * 100:+.1f}%" if ro and rn else "-"
        ro_s = f"{ro:.3f}" if ro is not None else "-"
        rn_s = f"{rn:.3f}" if rn is not None else "-"
        print(f"{fid:<4}{nf['name'][:43]:<44}{ro_s:>10}{rn_s:>10}{change:>9}"
              f"  {of['value']:>12.4g}{nf['value']:>12.4g} {nf.get('unit', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
