#!/usr/bin/env bash
# How much of the recorded link order (link-order/functions.txt) a build
# still has, and a failure when too little, so the change that stales the
# list is the one that hears of it (scripts/test.sh runs it on the release
# build; scripts/package.sh on the dist build it ships).
#
#   scripts/link-order-check.sh [BUILD_DIR]      default target/release
#   scripts/link-order-check.sh --write-recorded-for
#                                  (scripts/link-order.sh, after recording)
#
# The names carry hashes of each crate's build (toolchain, dependency
# versions and features, the profile's LTO), so they match exactly only in
# a `dist` build of the same code and dependencies. Hence two checks:
#  - on a dist build: the recorded names found exactly, at least FLOOR %;
#  - on any other build (CI builds release only): the project's own
#    functions found by name without their hashes (renamed or removed since
#    recording), at least FLOOR % of those recorded; and
#    link-order/recorded-for.txt (the toolchain, the shipped crates'
#    dependencies with their features, the build profiles, as they were
#    when the list was recorded) still matches, since any change there
#    renames the hashed symbols in a dist build.
# LINK_ORDER_FLOOR overrides the floor (percent).
set -euo pipefail
cd "$(dirname "$0")/.."

list=link-order/functions.txt
recorded_for=link-order/recorded-for.txt
floor=${LINK_ORDER_FLOOR:-85}

# What decides the symbols' hashes in a dist build of what ships.
recorded_for() {
    echo "# What link-order/functions.txt was recorded for (scripts/link-order-check.sh)."
    rustc -vV
    echo "# profiles"
    awk '/^\[/ { p = ($0 ~ /^\[profile/) } p && !/^[[:space:]]*(#|$)/' Cargo.toml
    echo "# shipped crates and their dependencies (normal and build), with the features"
    echo "# a build of the whole workspace gives them (the tests' own dependencies add some)"
    tree() {
        cargo tree --quiet -e normal,build --prefix none --offline --locked "$@" \
            | sed -E 's/ \(\*\)$//; s/ \((\/[^)]*|proc-macro)\)//; s/ +$//' | LC_ALL=C sort -u
    }
    awk 'NR == FNR { shipped[$1 " " $2]; next } ($1 " " $2) in shipped' \
        <(tree --workspace --exclude seatphone-tests --exclude seatphone-bench -f '{p}') \
        <(tree --workspace -f '{p} {f}')
}

if [ "${1:-}" = --write-recorded-for ]; then
    recorded_for > "$recorded_for"
    echo "link order: wrote $recorded_for"
    exit 0
fi

build=${1:-target/release}
[ -f "$list" ] || { echo "link order: no $list" >&2; exit 1; }
binaries=("$build/seatphone" "$build"/libseatphone_*.so)
for b in "${binaries[@]}"; do
    [ -f "$b" ] || { echo "link order: $b is not built (cargo build --workspace first)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for b in "${binaries[@]}"; do nm --defined-only "$b" | awk '{ print $3 }'; done \
    | LC_ALL=C sort -u > "$work/built"
LC_ALL=C sort -u "$list" > "$work/recorded"
# A name without what one build adds to it: the legacy mangling's hash
# (17h<16 hex>E), the crate disambiguators of v0 names (Cs<base62>_), and
# the suffixes LTO gives the local copies it makes (.llvm.<n>, .<n>).
plain() {
    sed -E 's/\.llvm\.[0-9]+$//; s/\.[0-9]+$//; s/17h[0-9a-f]{16}E$//; s/Cs[0-9A-Za-z]+_/Cs_/g' \
        | LC_ALL=C sort -u
}
plain < "$work/built" > "$work/built.plain"
plain < "$work/recorded" > "$work/recorded.plain"

total=$(wc -l < "$work/recorded")
exact=$(LC_ALL=C comm -12 "$work/recorded" "$work/built" | wc -l)
names=$(wc -l < "$work/recorded.plain")
LC_ALL=C comm -12 "$work/recorded.plain" "$work/built.plain" > "$work/named"
named=$(wc -l < "$work/named")
own=$(grep -c seatphone "$work/recorded.plain" || true)
own_named=$(grep -c seatphone "$work/named" || true)
echo "link order: $exact of $total recorded functions in $build exactly;" \
    "without their hashes, $named of $names names, the project's own $own_named of $own"

percent() { echo $(( 100 * $1 / ($2 > 0 ? $2 : 1) )); }
stale() {
    echo "link order: STALE: $*" >&2
    echo "  Record it again: scripts/link-order.sh (needs valgrind; a dist build), and commit" \
        "$list and $recorded_for. A stale list costs idle memory in what ships, never correctness." >&2
    exit 1
}

if [ "$(basename "$build")" = dist ]; then
    [ "$(percent "$exact" "$total")" -ge "$floor" ] \
        || stale "only $(percent "$exact" "$total") % of the recorded functions are in this dist build (floor $floor %)"
    exit 0
fi

if [ "$(percent "$own_named" "$own")" -lt "$floor" ]; then
    echo "functions of the project's own recorded that this build no longer has (first 20):" >&2
    LC_ALL=C comm -23 "$work/recorded.plain" "$work/built.plain" | grep seatphone | head -20 >&2 || true
    stale "only $(percent "$own_named" "$own") % of the project's own recorded functions are still in the code (floor $floor %)"
fi
[ -f "$recorded_for" ] || stale "no $recorded_for: what the list was recorded for is unknown"
recorded_for > "$work/now"
if ! diff -u "$recorded_for" "$work/now" > "$work/diff"; then
    head -40 "$work/diff" >&2
    stale "recorded for another toolchain, dependency set or profile (above): a dist build names those functions with other hashes"
fi
echo "link order: recorded for this toolchain, these dependencies and profiles"
