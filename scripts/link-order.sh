#!/usr/bin/env bash
# Records link-order/functions.txt: the functions of the host and the
# plugins that run at start-up, registration and idle, then in a call
# (host under callgrind, Kamailio and a baresip as in the tests), each with
# the binary it ran in, so the `dist` build places them side by side
# (link-order/apply.rs). The dist link matches the names without their
# hashes (link-order/link.sh), so a dependency or toolchain update no
# longer stales it; run it after large changes to the code that runs at
# start-up, idle or in a call, and commit the list and
# link-order/recorded-for.txt. A stale list only costs memory, and
# scripts/link-order-check.sh (run by the tests and the packaging) says
# when too much of it is gone.
#
# With --append, the list keeps its order and only what it lacks is
# added at its end: two recordings list the same functions in different
# orders, so a fresh one moves code whose layout was measured; to add
# what a new path runs (bench/README.md, figure 7's memory), append.
#
#   scripts/link-order.sh [--append]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

for tool in valgrind callgrind_control kamailio baresip; do
    command -v "$tool" >/dev/null || {
        echo "link-order: $tool is not installed (apt-get install valgrind; scripts/install-deps.sh for the rest)" >&2
        exit 1
    }
done

cargo build --profile dist --workspace
recorded=$(mktemp)
trap 'rm -f "$recorded"' EXIT
target/dist/link_profile --exe target/dist/seatphone --plugins target/dist \
    --out "$recorded"
if [ "${1:-}" = --append ]; then
    awk 'NR == FNR { kept[$0] = 1; print; next } !($0 in kept)' \
        link-order/functions.txt "$recorded" > "$recorded.all"
    mv "$recorded.all" "$recorded"
fi
cp "$recorded" link-order/functions.txt
scripts/link-order-check.sh --write-recorded-for
# Relink with the new list, and see that the build has it.
cargo build --profile dist --workspace
scripts/link-order-check.sh target/dist
