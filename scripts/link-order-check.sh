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
# Each binary's recorded names are matched to the functions it defines the
# way its dist link matches them (link-order/match.awk, through
# link-order/link.sh): exactly, else without their hashes, which any
# toolchain, dependency, feature or profile change renames (so a release
# build, which CI builds, has them too, under other hashes). A name found
# without its hash is "renamed" when it is as unique as recorded, or
# "ambiguous" when more functions share its plain name (a generic's
# instances; more of them in a release build, which inlines less): the
# dist link places those after the rest. The check fails when fewer than
# FLOOR % of the names, or of the project's own names (the code that
# changes most), are found at all: the code they named is gone, and the
# list needs recording again. link-order/recorded-for.txt (the toolchain,
# the shipped crates' dependencies with their features, the build
# profiles, as they were when the list was recorded) is compared for
# information: it says why hashes moved, which no longer costs memory.
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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total=0 found=0 sum_exact=0 sum_renamed=0 sum_ambiguous=0 own=0 own_found=0
for binary in $(awk '{ print $1 }' "$list" | LC_ALL=C sort -u); do
    b="$build/$binary"
    [ -f "$b" ] || { echo "link order: $b is not built (cargo build --workspace first)" >&2; exit 1; }
    # A list no build script hands to the linker costs idle memory unseen:
    # the names still match, so the count below cannot tell.
    grep -qsF "link_order::apply(\"$binary\")" host/build.rs plugins/*/build.rs || {
        echo "link order: no build script applies the recorded order to $binary" \
            "(link_order::apply(\"$binary\") in its package's build.rs)" >&2
        exit 1
    }
    nm --defined-only "$b" | awk 'NF >= 3 && $2 ~ /^[tTWi]$/ { print $3 }' > "$work/defined"
    awk -v b="$binary" '$1 == b { print $2 }' "$list" > "$work/recorded"
    read -r exact renamed ambiguous gone n \
        < <(awk -v mode=count -f link-order/match.awk "$work/defined" "$work/recorded")
    echo "link order: $binary: $exact exact, $renamed renamed, $ambiguous ambiguous, $gone gone, of $n"
    total=$((total + n)) found=$((found + exact + renamed + ambiguous))
    sum_exact=$((sum_exact + exact)) sum_renamed=$((sum_renamed + renamed))
    sum_ambiguous=$((sum_ambiguous + ambiguous))
    # The project's own: found is what is not gone, whatever else is recorded.
    awk -v mode=gone -f link-order/match.awk "$work/defined" "$work/recorded" > "$work/gone.$binary"
    own=$((own + $(grep -c seatphone "$work/recorded" || true)))
    own_found=$((own_found + $(grep -c seatphone "$work/recorded" || true) \
        - $(grep -c seatphone "$work/gone.$binary" || true)))
done
percent=$(( 100 * found / (total > 0 ? total : 1) ))
own_percent=$(( 100 * own_found / (own > 0 ? own : 1) ))
echo "link order: $found of $total recorded functions found in $build ($percent %):" \
    "$sum_exact exact, $sum_renamed renamed, $sum_ambiguous ambiguous;" \
    "the project's own $own_found of $own ($own_percent %)"

if [ -f "$recorded_for" ] && recorded_for | diff -q "$recorded_for" - > /dev/null; then
    echo "link order: recorded for this toolchain, these dependencies and profiles"
else
    echo "link order: recorded for another toolchain, dependency set or profile" \
        "(scripts/link-order-check.sh --write-recorded-for | diff $recorded_for -): matched without hashes"
fi

if [ "$percent" -lt "$floor" ] || [ "$own_percent" -lt "$floor" ]; then
    echo "recorded functions this build no longer has (first 20):" >&2
    cat "$work"/gone.* | head -20 >&2
    echo "link order: STALE: only $percent % of the recorded functions, $own_percent % of the" \
        "project's own, are still in the code (floor $floor %)" >&2
    echo "  Record it again: scripts/link-order.sh (needs valgrind; a dist build), and commit" \
        "$list and $recorded_for. A stale list costs idle memory in what ships, never correctness." >&2
    exit 1
fi
