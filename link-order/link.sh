#!/bin/sh
# Runs the link step of a `dist` build (gcc's `-wrapper`, given by
# link-order/apply.rs: gcc runs `link.sh collect2 ARGS…`), so that the
# recorded order applies to the functions under their current names.
#
# The recorded names carry hashes (legacy mangling's 17h…E, v0 crate
# disambiguators, LTO's .<n> suffixes) that change with any dependency,
# feature or toolchain change, and lld's --symbol-ordering-file matches
# names exactly, so a list recorded a few commits ago placed a growing part
# of the hot code nowhere in particular (each such function can cost a
# 64 KiB fault-around window). lld has no option that matches names by
# pattern. So: link as given; read the functions the output defines (nm:
# the names after LTO, which for a plugin linked from bitcode only the
# linker knows); match the recorded names to them without their hashes
# (link-order/match.awk); when that finds any function under another name,
# link again with the matched list. A fresh list links once. The matched
# list is kept beside the output (`<output>.link-order`; its first line
# says how much matched).
#
# Without --symbol-ordering-file among the arguments the link runs as
# given; if matching fails, the first link stands.
set -u
here=$(dirname "$0")

list="" out="" prev=""
for a in "$@"; do
    case "$a" in
        --symbol-ordering-file=*) list=${a#--symbol-ordering-file=} ;;
    esac
    [ "$prev" = -o ] && out=$a
    prev=$a
done
[ -n "$list" ] && [ -n "$out" ] && [ -f "$list" ] || exec "$@"

"$@" || exit
order="$out.link-order"
nm --defined-only "$out" 2>/dev/null \
    | awk 'NF >= 3 && $2 ~ /^[tTWi]$/ { print $3 }' > "$order.defined" \
    && [ -s "$order.defined" ] \
    && awk -v mode=order -f "$here/match.awk" "$order.defined" "$list" > "$order" \
    || { rm -f "$order.defined" "$order"; exit 0; }
rm -f "$order.defined"
# "# link order: E exact, R renamed, A ambiguous …": nothing to move.
case "$(head -n 1 "$order")" in
    *" exact, 0 renamed, 0 ambiguous "*) exit 0 ;;
esac

# Again, with the matched list in place of the recorded one.
first=1
for a in "$@"; do
    [ "$first" = 1 ] && { set --; first=0; }
    case "$a" in
        --symbol-ordering-file=*) set -- "$@" "--symbol-ordering-file=$order" ;;
        *) set -- "$@" "$a" ;;
    esac
done
exec "$@"
