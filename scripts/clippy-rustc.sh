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
# A crate's unit tests (`--test` on a crate root in src/) are built
# unoptimised, as a plain `cargo test` builds them: they check logic, and
# at opt-level 3 they were the build's second copy of every workspace crate
# (the host's took 117 s of CPU, unoptimised 11). Integration tests
# (tests/) keep their profile: some analyse seconds of sound or video. What
# ships, and what the end-to-end tests run, is built as before.
for arg; do
    case $arg in
        --test) test=1 ;;
        src/*.rs | */src/*.rs) root=src ;;
    esac
done
[ "${test:-}${root:-}" = 1src ] && set -- "$@" -C opt-level=0
exec clippy-driver "$@" -D warnings
