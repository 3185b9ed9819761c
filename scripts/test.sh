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

echo "== Rust tests"
cargo test --release --workspace --no-fail-fast

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
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
echo "all checks passed"
