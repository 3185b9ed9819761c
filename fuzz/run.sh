#!/usr/bin/env bash
# Runs every fuzz target in turn for N seconds (default 300) and reports
# crashes. Not for CI: it wants the machine for a while.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The toolchain is stable:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (ASan, sancov).
# One target at a time, one process, niced: the machine is shared.
# Crashes land in fuzz/artifacts/<target>/; reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>
# then minimise it (-minimize_crash=1), copy it into fuzz/regressions/<target>/
# and replay it in the owning crate's tests/fuzz_regressions.rs.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
secs="${1:-300}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ws_frame sip_message sdp rtp_rtcp)
fi
# The RFC 4475 messages live in the shared folder beside the checkout.
torture="$here/../../shared/sip-torture/msgs"

export RUSTC_BOOTSTRAP=1
# One build for all targets (debug assertions on, ASan).
if [ ${#targets[@]} -eq 1 ]; then
    nice -n 10 cargo fuzz build "${targets[0]}"
else
    nice -n 10 cargo fuzz build
fi
bin="$here/target/x86_64-unknown-linux-gnu/release"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    extra=("regressions/$t")
    if [ "$t" = sip_message ] && [ -d "$torture" ]; then
        extra+=("$torture")
    fi
    echo "== $t for ${secs}s"
    before=$(find "artifacts/$t" -type f | wc -l)
    # Single process; new inputs go to corpus/$t, the others are read only.
    if nice -n 10 "$bin/$t" "corpus/$t" "${extra[@]}" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >"artifacts/$t.log" 2>&1; then
        grep -E '^(Done|stat::(number_of_executed_units|new_units_added))' "artifacts/$t.log" || true
    else
        failed+=("$t")
        grep -E 'panicked at|ERROR: libFuzzer|Test unit written' "artifacts/$t.log" || true
    fi
    after=$(find "artifacts/$t" -type f | wc -l)
    if [ "$after" -gt "$before" ]; then
        echo "   $((after - before)) new artifact(s) in fuzz/artifacts/$t/"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "CRASHED: ${failed[*]} (logs in fuzz/artifacts/<target>.log)"
    exit 1
fi
echo "no crashes"
