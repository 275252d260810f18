# bench/medians.awk — awk functions shared by bench/programs, bench/redis and
# bench/dbserver.sh (postgres, mariadb), prepended to their awk programs.

# median(list): the median of the numbers in the space-separated string
# list ("" if it is empty).
function median(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    if (n == 0) return ""
    for (i = 1; i <= n; i++) v[i] += 0
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[j] < v[j - 1]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

# ratio(a, b): a / b to two decimals, "–" when either is missing or b is 0.
function ratio(a, b) {
    if (a == "" || b == "" || b + 0 == 0) return "–"
    return sprintf("%.2f", a / b)
}

# better(a, b, higher): whether a beats b: higher when higher is 1, lower
# otherwise; anything beats a missing b.
function better(a, b, higher) {
    if (a == "") return 0
    if (b == "") return 1
    return higher ? a + 0 > b + 0 : a + 0 < b + 0
}

# paired(key, alloc, higher): the median over repeats of alloc's figure over
# its partner's in the same repeat, with its range: "1.02 (0.95–1.10)", or
# "–". The partner is the other peer (every allocator but alloc and hakmem,
# glibc included) with the best median. The figures are pv[key, allocator,
# repeat], the repeats preps[repeat], the allocators pallocs[allocator],
# filled by the caller. A slow spell of the machine hits both sides of a
# pair, where two medians taken apart may each catch a different one. The
# partner is one allocator, not the best of the others in each repeat:
# the best of several noisy figures beats a typical one, and would count
# that against alloc even among equals.
function paired(key, alloc, higher,    r, b, best, bestm, m, list, v, c, lo, hi) {
    best = ""; bestm = ""
    for (b in pallocs) {
        if (b == alloc || b == "hakmem") continue
        list = ""
        for (r in preps) if ((key, b, r) in pv) list = list " " pv[key, b, r]
        m = median(list)
        if (m != "" && better(m, bestm, higher)) { best = b; bestm = m }
    }
    if (best == "") return "–"
    list = ""
    for (r in preps) {
        if (!((key, alloc, r) in pv) || !((key, best, r) in pv) || pv[key, best, r] + 0 == 0) continue
        v = pv[key, alloc, r] / pv[key, best, r]; list = list " " v; c++
        if (lo == "" || v < lo) lo = v
        if (hi == "" || v > hi) hi = v
    }
    return c ? sprintf("%.2f (%.2f–%.2f)", median(list), lo, hi) : "–"
}
