#!/usr/bin/env python3
"""Draws bench/results/results.json as a PNG: one bar per figure, the ratio
Seatphone/baresip of the medians on a log scale (1 = equal), green where
Seatphone is better, red where baresip is; missing figures are named, not drawn.

    chart.py results.json results.png
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fmt(x):
    if x is None:
        return "missing"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def main(src, dst):
    with open(src) as f:
        data = json.load(f)
    metrics = data["metrics"]
    fig_h = 1.2 + 0.45 * len(metrics)
    fig, ax = plt.subplots(figsize=(11, fig_h))
    labels, ys = [], []
    for i, m in enumerate(metrics):
        y = len(metrics) - 1 - i
        ys.append(y)
        labels.append(f"{m['figure']}. {m['name']}")
        s, b, r = m["seatphone"]["median"], m["baresip"]["median"], m["ratio"]
        unit = m["unit"]
        if r is None or r <= 0 or (isinstance(r, float) and math.isnan(r)):
            why = "; ".join(m.get("missing") or []) or "a zero median on one side"
            ax.text(1.0, y, f"  no ratio: Seatphone {fmt(s)} / baresip {fmt(b)} {unit} — {why}"[:120],
                    va="center", ha="left", fontsize=7, color="grey")
            continue
        better = r < 1 if m["lower_is_better"] else r > 1
        color = "#3a9a4a" if better else "#c0392b"
        ax.barh(y, r - 1, left=1, color=color, height=0.6)
        ax.text(max(r, 1) * 1.05, y, f"{r:.2f}×  (Seatphone {fmt(s)} / baresip {fmt(b)} {unit})",
                va="center", ha="left", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xscale("log")
    ratios = [m["ratio"] for m in metrics if m["ratio"]]
    lo = min(ratios + [0.5]) / 1.5
    hi = max(ratios + [2.0]) * 8
    ax.set_xlim(lo, hi)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("Seatphone / baresip (median; log scale; green = Seatphone better)")
    when = data.get("started", "")
    load = data.get("machine", {}).get("loadavg_before", "")
    ax.set_title(f"Seatphone {data.get('seatphone', '')} vs baresip {data.get('baresip', '')}"
                 f" — {data.get('rounds')} rounds, {when}, load {load}", fontsize=9)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
