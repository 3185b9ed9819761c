#!/bin/sh
# rustc with clippy's lints, every warning an error. scripts/test.sh builds
# the workspace's own crates through it (cargo's RUSTC_WORKSPACE_WRAPPER,
# which is how `cargo clippy` runs clippy too), so linting costs nothing
# beside the build: a separate `cargo clippy` checked every dependency
# again (check-mode metadata is not a build's), 469 s beside the signalling
# tests on a fresh machine. The code is what rustc makes of it (clippy
# turns MIR optimisations off; LLVM's at opt-level 3 still run: the same
# 42 s of CPU for the sip crate either way).
#
# A crate's unit tests (`--test` on a crate root in src/) and the
# end-to-end test binary (seatphone-tests' tests/e2e, which drives
# processes; the sound and picture analysis it calls is in its library,
# built as the profile says) are built unoptimised, as a plain `cargo test`
# builds them: at opt-level 3 the unit tests were the build's second copy
# of every workspace crate (the host's took 117 s of CPU, unoptimised 11),
# and the harness package with its e2e binary took 126 s of CPU, 62 with
# that binary unoptimised. The other integration tests keep their profile:
# some analyse seconds of sound or video in their own code. What ships,
# and what the tests run, is built as before.
for arg; do
    case $arg in
        --test) test=1 ;;
        src/*.rs | */src/*.rs) root=src ;;
    esac
done
if [ "${test:-}" = 1 ] && { [ "${root:-}" = src ] || [ "${CARGO_PKG_NAME:-}" = seatphone-tests ]; }; then
    set -- "$@" -C opt-level=0
fi
exec clippy-driver "$@" -D warnings
