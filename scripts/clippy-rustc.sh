#!/bin/sh
# rustc with clippy's lints, every warning an error. scripts/test.sh builds
# the workspace's own crates through it (cargo's RUSTC_WORKSPACE_WRAPPER,
# which is how `cargo clippy` runs clippy too), so linting costs nothing
# beside the build: a separate `cargo clippy` checked every dependency
# again (check-mode metadata is not a build's), 469 s beside the signalling
# tests on a fresh machine. The code is what rustc makes of it (clippy
# turns MIR optimisations off; LLVM's at opt-level 3 still run: the same
# 42 s of CPU for the sip crate either way).
exec clippy-driver "$@" -D warnings
