#!/usr/bin/env bash
# Seatphone side by side with baresip 1.0 in one run: builds the binaries as they ship
# (the `dist` profile: fat LTO and the recorded link order), runs the benchmark driver (bench/src/, the `seatphone-bench` crate),
# which starts Kamailio and alternates Seatphone and baresip rounds, then
# draws the chart. Results: bench/results/results.json and results.png.
#
#   bench/run.sh [--rounds N] [--figures 1,2,3,4,5,6,7,8,9]
set -euo pipefail
for arg in "$@"; do
    if [ "$arg" = --help ] || [ "$arg" = -h ]; then
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        echo "Figures and how both phones are fed: bench/README.md."
        exit 0
    fi
done
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

for tool in kamailio baresip sipp; do
    command -v "$tool" >/dev/null || {
        echo "bench: $tool is not installed (scripts/install-deps.sh installs it)" >&2
        exit 1
    }
done

echo "== build (dist profile, workspace)"
cargo build --profile dist --workspace
# The driver is the workspace member `seatphone-bench` (the line above
# builds it too); named here so that a workspace without it fails loudly.
cargo build --profile dist -p seatphone-bench

echo "== benchmark"
mkdir -p bench/results
target/dist/bench --out bench/results "$@"

echo "== chart"
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q matplotlib
fi
bench/.venv/bin/python bench/chart.py bench/results/results.json bench/results/results.png
echo "wrote bench/results/results.png"
