# bench/medians.awk — awk functions shared by bench/programs and bench/redis
# (prepended to their awk programs).

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
