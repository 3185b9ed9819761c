#!/usr/bin/env bash
# Builds the Debian packages with cargo-deb (metadata in host/Cargo.toml):
#   target/debian/seatphone_<version>-1_<arch>.deb        host + every plugin the workspace builds
#   target/debian/seatphone-audio_<version>-1_<arch>.deb  host + the audio plugin only
#
#   scripts/package.sh                     what ships: builds the dist profile
#                                          (fat LTO, link order) and packages it
#   scripts/package.sh --profile release --no-build --fast
#                                          CI: packages the release build the
#                                          tests already made, quick compression
#
# The plugin folder takes every library the workspace builds (no list to keep
# up to date); a library in the build folder that no workspace crate builds
# any more (a plugin deleted since) stops the packaging, so nothing stale ships.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dist
build=1
fast=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --fast) fast=(--fast); shift ;;
        *) echo "usage: scripts/package.sh [--profile dist|release] [--no-build] [--fast]" >&2; exit 2 ;;
    esac
done
out="target/$profile"

if [ "$build" = 1 ]; then
    echo "== build ($profile)"
    cargo build --profile "$profile" --workspace
fi
if [ "$profile" = dist ]; then
    # What ships is linked in the recorded order: fails when the list is stale.
    scripts/link-order-check.sh "$out"
fi

# The cdylib targets of the workspace, from cargo's own description of it
# (targets are written kind, crate_types, name, in this order).
expected=$(cargo metadata --no-deps --format-version 1 \
    | grep -o '"kind":\[[^]]*"cdylib"[^]]*\],"crate_types":\[[^]]*\],"name":"[^"]*"' \
    | sed 's/.*"name":"\([^"]*\)"/lib\1.so/' | sort)
[ -n "$expected" ] || { echo "package: found no plugin library in the workspace" >&2; exit 1; }
found=$(cd "$out" && ls -1 -- *.so 2>/dev/null | sort || true)
missing=$(comm -23 <(echo "$expected") <(echo "$found"))
stale=$(comm -13 <(echo "$expected") <(echo "$found"))
if [ -n "$missing" ]; then
    echo "package: not built in $out: $missing (cargo build --profile $profile --workspace)" >&2
    exit 1
fi
if [ -n "$stale" ]; then
    echo "package: $out holds libraries no workspace crate builds any more: $stale; remove them" >&2
    exit 1
fi

# cargo-deb runs dpkg-shlibdeps on each binary alone and lists what each
# needs, so two libraries needing libstdc++6 at different versions give two
# entries (a lintian error). One dpkg-shlibdeps over all of the package's
# binaries gives the merged list; dpkg-deb rebuilds the package with it.
merge_depends() {
    local deb=$1 tree
    tree=$(mktemp -d)
    dpkg-deb -R "$deb" "$tree"
    mapfile -t binaries < <(find "$tree/usr" -type f \( -name '*.so' -o -perm -u+x \) \
        -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
    mkdir "$tree/debian" && touch "$tree/debian/control"
    # libgcc-s1 is always there (cargo-deb leaves it out too).
    depends=$(cd "$tree" && dpkg-shlibdeps -O -xlibgcc-s1 "${binaries[@]#$tree/}" 2>/dev/null \
        | sed -n 's/^shlibs:Depends=//p')
    rm -r "$tree/debian"
    [ -n "$depends" ] || { echo "package: dpkg-shlibdeps found no dependencies for $deb" >&2; exit 1; }
    sed -i "s/^Depends: .*/Depends: $depends/" "$tree/DEBIAN/control"
    dpkg-deb --build --root-owner-group ${fast:+-z1} "$tree" "$deb" > /dev/null
    rm -r "$tree"
    echo "$deb: Depends: $depends"
}

for variant in "" audio; do
    echo "== cargo deb ${variant:-(all plugins)}"
    deb=$(cargo deb -p seatphone --no-build --profile "$profile" --strip "${fast[@]}" \
        ${variant:+--variant "$variant"} -o target/debian/ | tail -n 1)
    merge_depends "$deb"
done
