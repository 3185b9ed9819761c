#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian 12 machine: installs what
# the tests need, builds once (release, one target folder shared by the
# binaries and the tests), runs the Rust tests (unit and end-to-end against
# real processes), the browser tests, the Debian package's tests (packaged
# from that same release build), then the link order and formatting checks
# (clippy's lints run in the build: scripts/clippy-rustc.sh). Prints how long
# each phase took at the end (also when a phase fails).
#
# Some steps run in the background of others, never beside the real-time
# tests: the tests' packages, cargo-deb and the npm packages install while
# the release build runs; the package tests run while the tests build and
# the signalling tests wait on their protocol timers; the unit, doc and
# browser tests run beside the signalling tests too; the real-time tests
# run last, in two lanes (sound, video). A background step's output is
# printed whole when it is waited for, and its failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# Phase times: `phase NAME` ends the phase before and starts NAME.
started=$SECONDS
phase_name="" phase_start=$SECONDS phase_times=()
phase() {
    [ -z "$phase_name" ] || phase_times+=("$(printf '%-52s %5d s' "$phase_name" $((SECONDS - phase_start)))")
    phase_name=$1 phase_start=$SECONDS
    [ -z "$1" ] || echo "== $1"
}
bg_dir=$(mktemp -d)
declare -A bg_pid=()
report_times() {
    local rc=$?
    phase ""
    # Background steps still running finish first (apt and dpkg are not
    # interrupted halfway).
    [ ${#bg_pid[@]} = 0 ] || wait "${bg_pid[@]}" 2>/dev/null || true
    rm -rf "$bg_dir"
    echo "== time per phase (wall; \"background\": beside the phases above it)"
    printf '   %s\n' "${phase_times[@]}"
    printf '   %-52s %5d s%s\n' total $((SECONDS - started)) "$([ $rc = 0 ] || echo " (failed, exit $rc)")"
    uptime
}
trap report_times EXIT

# `background KEY LABEL COMMAND...` starts a step; `await KEY` waits for
# it, prints its output and time, and stops the run if it failed.
declare -A bg_label=()
background() {
    local name=$1
    bg_label[$1]=$2
    shift 2
    echo "== ${bg_label[$name]}: started in the background"
    (
        start=$SECONDS
        if "$@" > "$bg_dir/$name.log" 2>&1; then rc=0; else rc=$?; fi
        echo "$rc $((SECONDS - start))" > "$bg_dir/$name.rc"
    ) &
    bg_pid[$name]=$!
}
await() {
    local name=$1 rc secs
    wait "${bg_pid[$name]}" || true
    unset "bg_pid[$name]"
    read -r rc secs < "$bg_dir/$name.rc"
    echo "== ${bg_label[$name]} (ran in the background, $secs s)"
    cat "$bg_dir/$name.log"
    phase_times+=("$(printf '%-52s %5d s' "  background: ${bg_label[$name]}" "$secs")")
    [ "$rc" = 0 ] || { echo "${bg_label[$name]} failed (exit $rc)"; exit 1; }
}

phase "install what the build needs"
scripts/install-deps.sh build
background deps "install the tests' packages, cargo-deb, npm packages" scripts/install-deps.sh test

phase "build (release, and the tests)"
# Clippy lints the workspace's crates as they build (scripts/clippy-rustc.sh,
# warnings are errors; it also builds unit tests unoptimised); every cargo
# command below builds the same way, or it would build the workspace's
# crates again. One cargo command for what ships and the tests: the tests
# build while the last crates of the binary do, where one after the other
# left a core idle.
export RUSTC_WORKSPACE_WRAPPER=$PWD/scripts/clippy-rustc.sh
cargo build --release --workspace --lib --bins --tests
# Already built: this only lists the test binaries.
cargo test --release --workspace --no-run > "$bg_dir/no-run" 2>&1
e2e=$PWD/$(sed -n 's/^ *Executable tests\/e2e\/main.rs (\(.*\))$/\1/p' "$bg_dir/no-run")
[ -x "$e2e" ] || { cat "$bg_dir/no-run"; echo "scripts/test.sh: found no e2e test binary in cargo's output" >&2; exit 1; }
await deps
# The package tests need the release build and cargo-deb only; most of
# their time is waiting (dpkg, the installed Seatphone starting, its smoke
# tests), which the signalling tests' waiting fills.
background package "Debian package (build, lintian, install, use, removal)" scripts/test-package.sh

# The end-to-end tests (tests/tests/e2e) are one test binary, a module per
# subject. Modules that only exchange signalling (no media judged by its
# timing), longest first, run three at a time, since most of their time is
# waiting on protocol timers (sip_sipp's session timer about 65 s,
# hold_verdict's Timer B 32 s) or on cargo (api and faults build the test
# plugins on a clean clone: 119 and 93 s). The tests that judge media by its
# timing (end-to-end modules, and other crates' tests by their names) run
# after them in two lanes at once, sound and video, one test at a time in
# each: never two calls of a kind together, and nothing else beside them
# (the sound tests assert that no 60 ms of sound drop out). The video lane
# runs at a lower priority, since its encoders and ffmpeg take both cores
# in bursts. A module in no list stops the run.
signalling=(api faults sip_sipp hold_verdict sip_register sip_admission hostile_sip sip_pool
    reference_keys sip_answer_modes doctor secrets launch_link free_port)
sound_lane=(loopback audio_calls sip_e2e sip_calls faults_in_call dialects voice)
video_lane=(capture share video_calls session_pair video_upgrade rtp_ffmpeg session_share)
modules=$(ls tests/tests/e2e | sed 's/\.rs$//' | grep -vx main | sort -u)
is_module() { [[ $'\n'$modules$'\n' == *$'\n'$1$'\n'* ]]; }
# A lane's names that are no module are other crates' test binaries.
real_time=() real_time_others=()
for t in "${sound_lane[@]}" "${video_lane[@]}"; do
    if is_module "$t"; then real_time+=("$t"); else real_time_others+=("$t"); fi
done
for m in $modules; do
    case " ${signalling[*]} ${real_time[*]} " in
        *" $m "*) ;;
        *) echo "scripts/test.sh: tests/tests/e2e/$m is in no list (signalling, sound_lane, video_lane)" >&2
            exit 1 ;;
    esac
done
for m in "${signalling[@]}"; do
    is_module "$m" \
        || { echo "scripts/test.sh: no module tests/tests/e2e/$m (listed in scripts/test.sh)" >&2; exit 1; }
done
# Each module's tests by their exact names (a name filter alone would also
# match a module that has the name inside its path); every test must belong
# to a listed module, and every module must have tests (`mod` in main.rs).
# The binary runs as `cargo test` runs it (from its package's folder).
e2e_tests=$(cd tests && "$e2e" --list --format terse | sed -n 's/: test$//p')
[ -n "$e2e_tests" ] || { echo "scripts/test.sh: the e2e binary lists no tests" >&2; exit 1; }
stray=$(grep -v -E "^($(echo $modules | tr ' ' '|'))::" <<< "$e2e_tests" || true)
[ -z "$stray" ] || { echo "scripts/test.sh: e2e tests outside the listed modules: $stray" >&2; exit 1; }
module_tests() { grep "^$1::" <<< "$e2e_tests" || true; }
for m in $modules; do
    [ -n "$(module_tests "$m")" ] \
        || { echo "scripts/test.sh: tests/tests/e2e/$m has no tests (is \`mod $m;\` in main.rs?)" >&2; exit 1; }
done
run_module() {
    echo "     Running $1 of tests/e2e/main.rs (${e2e#"$PWD"/})"
    # shellcheck disable=SC2046 # the names are words without spaces
    (cd tests && "$e2e" --exact $(module_tests "$1"))
}

# Integration tests of the other crates (cargo's own list), each with its
# crate's name; the harness crate has no other than e2e (a new file beside
# e2e/ would be a binary of its own, linked again: make it a module of e2e).
# Those in a real-time lane run from their crate's folder, as cargo runs
# them (two cargo commands at once would wait on each other's lock); the
# rest run beside the signalling tests.
others=()
declare -A other_dir=() other_exe=()
for t in $(cargo metadata --no-deps --format-version 1 \
    | grep -o '"kind":\["test"\],"crate_types":\["bin"\],"name":"[^"]*","src_path":"[^"]*"' \
    | sed 's/.*"name":"\([^"]*\)","src_path":"\([^"]*\)"/\1=\2/' | sort -u); do
    name=${t%%=*} path=${t#*=}
    case "$path" in
        "$PWD/tests/tests/e2e/main.rs") ;;
        "$PWD/tests/tests/"*) echo "scripts/test.sh: $path is a test binary of its own; make it a module of tests/tests/e2e" >&2
            exit 1 ;;
        *) case " ${real_time_others[*]} " in
               *" $name "*) other_dir[$name]=${path%/tests/*} ;;
               *) others+=(--test "$name") ;;
           esac ;;
    esac
done
for t in "${real_time_others[@]}"; do
    [ -n "${other_dir[$t]:-}" ] \
        || { echo "scripts/test.sh: $t (a real-time lane) is no e2e module and no test binary" >&2; exit 1; }
    exe=$(sed -n "s/^ *Executable tests\/$t\.rs (\(.*\))$/\1/p" "$bg_dir/no-run")
    [ -n "$exe" ] && [ "$(wc -l <<< "$exe")" = 1 ] \
        || { echo "scripts/test.sh: not one test binary named $t in cargo's list" >&2; exit 1; }
    other_exe[$t]=$PWD/$exe
done
run_real_time() {
    if [ -n "${other_exe[$1]:-}" ]; then
        echo "     Running $1 (${other_exe[$1]#"$PWD"/})"
        (cd "${other_dir[$1]}" && "${other_exe[$1]}")
    else
        run_module "$1"
    fi
}

# Beside the signalling tests, which mostly wait on protocol timers, two
# lanes: the unit tests, the doc tests and the other crates' tests that do
# not judge timing; and the browser tests (whose calls check what arrives,
# not when). One after the other they took longer than the signalling
# tests (59 + 110 s against 150). Their output is printed whole once the
# signalling tests end.
failed=()
unit_and_doc() {
    local start=$SECONDS
    cargo test --release --workspace --no-fail-fast --lib --bins "${others[@]}" || echo "unit and other crates" >> "$bg_dir/beside.failed"
    cargo test --release --workspace --no-fail-fast --doc || echo "doc tests" >> "$bg_dir/beside.failed"
    echo "-- unit and doc tests: $((SECONDS - start)) s"
}
browser() {
    if [ -f tests/browser/package.json ]; then
        local start=$SECONDS
        echo "== browser tests"
        # As root, lna.test.js also checks README's Chromium policy (it
        # writes, then removes, a file in Chromium's managed policy folder).
        local policy_dir=""
        [ "$(id -u)" = 0 ] && policy_dir=/etc/chromium/policies/managed
        (cd tests/browser && SEATPHONE_BIN="$PWD/../../target/release/seatphone" \
            SEATPHONE_BROWSER_POLICY_DIR="$policy_dir" npm test) || echo "browser tests" >> "$bg_dir/beside.failed"
        echo "-- browser tests: $((SECONDS - start)) s"
    fi
}
phase "Rust tests: signalling, ${#signalling[@]} modules 3 at a time; beside them unit, doc and browser tests"
unit_and_doc > "$bg_dir/unit.log" 2>&1 &
unit_pid=$!
browser > "$bg_dir/browser.log" 2>&1 &
browser_pid=$!
logs=$bg_dir/signalling
mkdir "$logs"
running=()
for m in "${signalling[@]}"; do
    while :; do
        alive=()
        for p in "${running[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        running=("${alive[@]}")
        [ ${#running[@]} -ge 3 ] || break
        sleep 0.2
    done
    (start=$SECONDS
     run_module "$m" > "$logs/$m" 2>&1 && touch "$logs/$m.ok"
     echo "-- $m: $((SECONDS - start)) s" >> "$logs/$m") &
    running+=($!)
done
for p in "${running[@]}"; do wait "$p" || true; done
for m in "${signalling[@]}"; do
    echo "-- $m"
    cat "$logs/$m"
    [ -e "$logs/$m.ok" ] || failed+=("$m")
done
phase "waiting for the unit, doc and browser tests"
wait "$unit_pid" "$browser_pid" || true
echo "== unit, doc and browser tests (beside the signalling tests)"
cat "$bg_dir/unit.log" "$bg_dir/browser.log"
while read -r f; do failed+=("$f"); done < <(cat "$bg_dir/beside.failed" 2>/dev/null || true)
phase "waiting for the package tests"
await package

# `lane NAME TEST...` runs the tests one after the other, each module or
# binary to its end; a failure is noted and the lane goes on.
lane() {
    local name=$1 t start
    shift
    for t in "$@"; do
        start=$SECONDS
        run_real_time "$t" || echo "$t" >> "$bg_dir/lanes.failed"
        echo "-- $t: $((SECONDS - start)) s"
        printf '%-52s %5d s\n' "  $name lane: $t" $((SECONDS - start)) >> "$bg_dir/$name.times"
    done
}
phase "Rust tests: real time, the sound and the video lane at once"
lane sound "${sound_lane[@]}" > "$bg_dir/sound.log" 2>&1 &
sound_pid=$!
(renice -n 10 -p "$BASHPID" > /dev/null && lane video "${video_lane[@]}") > "$bg_dir/video.log" 2>&1 &
video_pid=$!
wait "$sound_pid" "$video_pid" || true
cat "$bg_dir/sound.log" "$bg_dir/video.log"
while read -r f; do failed+=("$f"); done < <(cat "$bg_dir/lanes.failed" 2>/dev/null || true)
phase ""
while IFS= read -r l; do phase_times+=("$l"); done < <(cat "$bg_dir/sound.times" "$bg_dir/video.times")
# A failure's own lines again, last, where a reader of a long log (or of
# its tail) finds them: Rust's failure sections and node's failed subtests.
failure_digest() {
    echo "== what failed"
    cat "$bg_dir/unit.log" "$bg_dir/sound.log" "$bg_dir/video.log" "$logs"/* 2>/dev/null \
        | awk '/^---- .* stdout ----$/ {p = 1} /^failures:$/ && p {p = 0} p' | head -c 20000
    awk '/^ *not ok / {p = 1} p; /^ *\.\.\.$/ {p = 0}' "$bg_dir/browser.log" 2>/dev/null | head -c 20000
}
[ ${#failed[@]} = 0 ] || { failure_digest; echo "tests failed: ${failed[*]}"; exit 1; }

phase "link order, format"
# The recorded link order still fits the code and what it is built with.
scripts/link-order-check.sh target/release
cargo fmt --all -- --check
phase ""
echo "all checks passed"
