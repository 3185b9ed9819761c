#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian 12 machine: installs what
# the tests need, builds once (release, one target folder shared by the
# binaries and the tests), runs the Rust tests (unit and end-to-end against
# real processes), the browser tests, the Debian package's tests (packaged
# from that same release build), then formatting and lint checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

scripts/install-deps.sh

echo "== build (release)"
cargo build --release --workspace
echo "== build the tests"
cargo test --release --workspace --no-run

# Test binaries that only exchange signalling (no media judged by its
# timing), longest first: three at a time, since most of their time is
# waiting on protocol timers (sip_sipp's session timer about 65 s,
# hold_verdict's Timer B 32 s). Each runs alone in a `cargo test` of its own,
# its output printed whole when it ends. Everything else, new test files
# included, runs one binary at a time as before: the real-time audio and
# video tests assert that nothing drops out, so they never share the machine.
signalling=(sip_sipp hold_verdict sip_register sip_admission api hostile_sip sip_pool
    faults sip_answer_modes reference_keys doctor secrets launch_link free_port)
failed=()
echo "== Rust tests: signalling, ${#signalling[@]} binaries 3 at a time"
logs=$(mktemp -d)
for t in "${signalling[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge 3 ]; do wait -n || true; done
    (cargo test --release --workspace --no-fail-fast --test "$t" > "$logs/$t" 2>&1 \
        && touch "$logs/$t.ok") &
done
wait
for t in "${signalling[@]}"; do
    echo "-- $t"
    cat "$logs/$t"
    [ -e "$logs/$t.ok" ] || failed+=("$t")
done
rm -r "$logs"

echo "== Rust tests: the rest, one binary at a time"
# Every integration test of the workspace (cargo's own list) but the above.
rest=()
for t in $(cargo metadata --no-deps --format-version 1 \
    | grep -o '"kind":\["test"\],"crate_types":\["bin"\],"name":"[^"]*"' \
    | sed 's/.*"name":"\([^"]*\)"/\1/' | sort -u); do
    [[ " ${signalling[*]} " == *" $t "* ]] || rest+=(--test "$t")
done
cargo test --release --workspace --no-fail-fast --lib --bins "${rest[@]}" || failed+=(the rest)
cargo test --release --workspace --no-fail-fast --doc || failed+=(doc tests)
[ ${#failed[@]} = 0 ] || { echo "Rust tests failed: ${failed[*]}"; exit 1; }

if [ -f tests/browser/package.json ]; then
    echo "== browser tests"
    # As root, lna.test.js also checks README's Chromium policy (it writes,
    # then removes, a file in Chromium's managed policy folder).
    policy_dir=""
    [ "$(id -u)" = 0 ] && policy_dir=/etc/chromium/policies/managed
    (cd tests/browser && SEATPHONE_BIN="$PWD/../../target/release/seatphone" \
        SEATPHONE_BROWSER_POLICY_DIR="$policy_dir" npm test)
fi

echo "== Debian package (build, lintian, install, use, removal)"
scripts/test-package.sh

echo "== format and lint"
# The recorded link order still fits the code and what it is built with.
scripts/link-order-check.sh target/release
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
echo "all checks passed"
