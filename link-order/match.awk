# Matches a binary's recorded functions (link-order/functions.txt) to the
# symbols a build of it defines, without the parts of a name that change
# from build to build. Used by link-order/link.sh (the order the linker gets)
# and scripts/link-order-check.sh (how much of the list still applies), so
# both count the same way. POSIX awk (Debian's mawk: no {n} intervals).
#
#   awk -f match.awk -v mode=order|count DEFINED RECORDED
#
# DEFINED: the function symbols the link defines, one a line. RECORDED: the
# binary's recorded names in order, one a line. A recorded name is
#  - exact: defined as recorded;
#  - renamed: not defined, but its name without hashes (plain(), below) is,
#    by no more symbols than that name has stale recorded entries: those
#    symbols take its place in the order (a dependency, feature or toolchain
#    change renames every symbol of a crate one for one);
#  - ambiguous: more symbols have that plain name than were recorded under
#    it (a generic like `Arc<T>::drop_slow` has one per type, all with the
#    same plain name): all of them go after the ordered functions, packed
#    together rather than spread over the binary, not among the hot ones;
#  - gone: nothing of that name is defined any more.
# mode=order prints the order (a `#` summary line first, which lld skips);
# mode=count prints "exact renamed ambiguous gone total"; mode=gone the
# names that are gone.

# A name without what one build adds to it: the LTO suffixes of local
# copies (.llvm.<n>, .<n>), the legacy mangling's hash (17h<16 hex>E) and
# the crate disambiguators of v0 names (Cs<base62>_).
function plain(s) {
    sub(/\.llvm\.[0-9]+$/, "", s)
    sub(/\.[0-9]+$/, "", s)
    sub(/17h[0-9a-f]+E$/, "", s)
    gsub(/Cs[0-9A-Za-z]+_/, "Cs_", s)
    return s
}

FNR == NR {
    if (!($0 in defined)) { defined[$0] = 1; ndef++; def[ndef] = $0 }
    next
}
$0 != "" && !($0 in recorded) {
    recorded[$0] = 1
    n++; rec[n] = $0
    if ($0 in defined) exact++
    else stale[plain($0)]++
}

END {
    # Candidates: defined symbols recorded under another name, by plain name.
    for (i = 1; i <= ndef; i++) {
        s = def[i]
        if (s in recorded) continue
        k = plain(s)
        if (!(k in stale)) continue
        cand[k] = cand[k] "\n" s
        ncand[k]++
    }
    for (k in stale) {
        if (!(k in ncand)) gone += stale[k]
        else if (ncand[k] > stale[k]) ambiguous += stale[k]
        else { renamed += ncand[k]; gone += stale[k] - ncand[k] }
    }
    if (mode == "count") {
        print exact + 0, renamed + 0, ambiguous + 0, gone + 0, n + 0
        exit
    }
    if (mode == "gone") {
        for (i = 1; i <= n; i++)
            if (!(rec[i] in defined) && !(plain(rec[i]) in ncand)) print rec[i]
        exit
    }
    printf "# link order: %d exact, %d renamed, %d ambiguous (after the rest), %d gone, of %d recorded\n", \
        exact, renamed, ambiguous, gone, n
    ntail = 0
    for (i = 1; i <= n; i++) {
        r = rec[i]
        print r
        if (r in defined) continue
        k = plain(r)
        if (!(k in ncand) || (k in placed)) continue
        placed[k] = 1
        if (ncand[k] <= stale[k]) print substr(cand[k], 2)
        else tail[++ntail] = k
    }
    for (i = 1; i <= ntail; i++) print substr(cand[tail[i]], 2)
}
