#!/usr/bin/env python3
"""Prints bench/results/results.json as the Markdown table of README's
Performance section (medians, ratio Seatphone/baresip, what is missing).

    table.py bench/results/results.json
"""
import json
import sys


def fmt(x):
    if x is None:
        return "missing"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def main(src):
    with open(src) as f:
        data = json.load(f)
    print("| # | figure | Seatphone | baresip | Seatphone/baresip |")
    print("|---|---|---|---|---|")
    for m in data["metrics"]:
        s, b, r = m["seatphone"]["median"], m["baresip"]["median"], m["ratio"]
        unit = m["unit"]
        sv = f"{fmt(s)} {unit}" if s is not None else "**missing**"
        bv = f"{fmt(b)} {unit}" if b is not None else "**missing**"
        if r is not None:
            behind = r > 1 if m["lower_is_better"] else r < 1
            rv = f"{r:.2f}" + (" (behind)" if behind else "")
        else:
            rv = "–"
        print(f"| {m['figure']} | {m['name']} | {sv} | {bv} | {rv} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json")
