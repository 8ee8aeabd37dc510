#!/usr/bin/env python3
"""Turn criterion results into markdown tables of median times.

Usage: table.py [CRITERION_DIR ...]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion. Given several
directories (copies of criterion's output from repeated runs), each benchmark's figure is the
lowest of its medians: on a shared machine the run least disturbed by other work. Benchmarks
named `<group>/<parser>/<message>` (bench/compare) give one table per group with a column
per parser and the ratio of each other parser to callcomp; benchmarks named
`<group>/<message>` (crates/sip/benches/parse.rs) give one table with a column per group.
"""

import json
import os
import sys
from pathlib import Path

MESSAGES = ["invite", "ringing", "ok", "register", "notify"]
PARSERS = ["callcomp", "sipx", "rsipstack"]


def median_ns(estimates: Path) -> float:
    with estimates.open() as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def collect(roots: list) -> dict:
    """Maps the benchmark id parts (directory names) to the lowest median in ns."""
    results = {}
    for root in roots:
        for estimates in root.glob("**/new/estimates.json"):
            parts = estimates.relative_to(root).parts[:-2]
            ns = median_ns(estimates)
            results[parts] = min(ns, results.get(parts, ns))
    return results


def order(names, preferred):
    return [n for n in preferred if n in names] + sorted(set(names) - set(preferred))


def compare_tables(results: dict) -> list:
    out = []
    groups = sorted({p[0] for p in results if len(p) == 3})
    for group in groups:
        rows = {p[2]: {} for p in results if len(p) == 3 and p[0] == group}
        for (g, parser, message), ns in ((p, v) for p, v in results.items() if len(p) == 3):
            if g == group:
                rows[message][parser] = ns
        parsers = order({p for r in rows.values() for p in r}, PARSERS)
        others = [p for p in parsers if p != "callcomp"]
        head = ["message"] + parsers + [f"{p} / callcomp" for p in others]
        out.append(f"### `{group}`\n")
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for message in order(rows, MESSAGES):
            r = rows[message]
            cells = [message] + [fmt(r[p]) if p in r else "–" for p in parsers]
            for p in others:
                ok = p in r and "callcomp" in r
                cells.append(f"{r[p] / r['callcomp']:.2f}×" if ok else "–")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return out


def crate_table(results: dict) -> list:
    two = {p: v for p, v in results.items() if len(p) == 2}
    if not two:
        return []
    groups = order({p[0] for p in two}, ["index", "serialize", "index+typed"])
    messages = order({p[1] for p in two}, MESSAGES)
    out = ["| message | " + " | ".join(f"`{g}`" for g in groups) + " |"]
    out.append("|" + "---|" * (len(groups) + 1))
    for message in messages:
        cells = [fmt(two[(g, message)]) if (g, message) in two else "–" for g in groups]
        out.append(f"| {message} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def main() -> int:
    if len(sys.argv) > 1:
        roots = [Path(arg) for arg in sys.argv[1:]]
    else:
        target = os.environ.get("CARGO_TARGET_DIR", "target")
        roots = [Path(target) / "criterion"]
    for root in roots:
        if not root.is_dir():
            print(f"no criterion results under {root}", file=sys.stderr)
            return 1
    results = collect(roots)
    lines = compare_tables(results) + crate_table(results)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
