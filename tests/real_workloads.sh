# tests/real_workloads.sh — the workloads of real programs (interpreters,
# databases, compilers, a version control system, a pipeline's tools; the
# list is real_workloads below), sourced by tests/real_programs.sh (same
# output under glibc and hakmem) and bench/programs (times and peak RSS
# against glibc and the peers). Each function runs in the current
# directory, which should be empty.
# shellcheck shell=bash
# shellcheck disable=SC2317

# The workloads by name: workload_NAME runs one (a '-' in NAME is a '_' in
# the function's name), workload_command NAME is the program it needs.
real_workloads=(python3 sqlite3 sqlite3-index perl git gcc cxx jq tclsh lua ruby awk sort xz pigz bc)

# Each workload prints only what is deterministic (no addresses, times or
# hash orders) and runs in a fresh directory of the same name in both runs,
# so that the two outputs can be compared byte for byte.

# PYTHONMALLOC=malloc: pymalloc would otherwise serve the small objects
# from its own mmap'ed arenas and the allocator would see few of them.
workload_python3() {
    PYTHONMALLOC=malloc PYTHONHASHSEED=0 python3 - <<'EOF'
import collections, json
d = {}
for i in range(200000):
    d.setdefault("key%d" % (i % 5003), []).append(str(i) * (i % 7))
words = " ".join("w%d" % (i * 7919 % 1000) for i in range(100000)).split()
c = collections.Counter(words)
print(len(d), sum(len(v) for v in d.values()), sum(len(x) for v in d.values() for x in v))
print(c.most_common(5))
print(sorted(d)[:5], len(json.dumps(d)))
rows = [{"id": i, "name": "n%05d" % (i * 31 % 10007), "tags": ["t%d" % (i % k) for k in (3, 5, 7)]}
        for i in range(30000)]
rows.sort(key=lambda r: (r["name"], r["id"]))
print(rows[0], rows[-1], len(json.loads(json.dumps(rows))))
s = "".join(chr(65 + i % 26) for i in range(200000))
print(s.count("XYZ"), len(s.lower().split("a")), s[1000:1030])
EOF
}

workload_sqlite3() {
    sqlite3 db.sqlite <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, x % 97, 'name-' || (x * 7919 % 10007) || '-' || substr('abcdefghij', 1 + x % 10), x * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(val), count(DISTINCT name) FROM t;
SELECT grp, count(*), sum(val), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 12;
SELECT substr(name, 1, 7) AS p, count(*), avg(val) FROM t GROUP BY p ORDER BY count(*) DESC, p LIMIT 10;
SELECT length(group_concat(name, ',')) FROM (SELECT name FROM t ORDER BY name);
UPDATE t SET name = upper(name) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), max(name) FROM t;
EOF
}

# An in-memory database of ROWS rows (default 300,000) with blobs of 0 to
# 500 bytes, then an index over the blobs, then queries through the index
# and past it: sqlite's page cache and its sorter, about 180 MiB at the
# default size. Lengths and contents come from arithmetic on the row
# number, so every run builds the same database.
workload_sqlite3_index() {
    local rows=${1:-300000}
    case $rows in '' | *[!0-9]*) echo "sqlite3-index: ROWS must be a number, not '$rows'" >&2; return 2 ;; esac
    sqlite3 :memory: <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, b BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $rows),
    pad(s) AS (SELECT replace(hex(zeroblob(20)), '00', 'abcdefghijklmnopqrstuvwxyz0123456789'))
INSERT INTO t SELECT x, x * 7907 % 100003,
    CAST(substr(printf('%010d', x * 2654435761 % 4294967291) || s, 1, x * 7919 % 501) AS BLOB)
    FROM c, pad;
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(length(b)), max(length(b)), count(DISTINCT b) FROM t;
SELECT length(b) / 100 AS bucket, count(*), sum(k) FROM t GROUP BY bucket ORDER BY bucket;
SELECT id, length(b), hex(substr(b, 1, 12)) FROM t ORDER BY b DESC LIMIT 3;
SELECT count(*), sum(id) FROM t WHERE b BETWEEN CAST('1' AS BLOB) AND CAST('2' AS BLOB);
SELECT count(*), sum(t2.k) FROM t AS t1 JOIN t AS t2 ON t2.b = t1.b WHERE t1.id BETWEEN 1000 AND 1999;
EOF
}

workload_perl() {
    perl -e '
        my %h;
        for my $i (1 .. 200000) { $h{"k" . ($i % 4999)} .= chr(65 + $i % 26); }
        my $total = 0;
        $total += length($h{$_}) for keys %h;
        my @top = (sort { length($h{$b}) <=> length($h{$a}) || $a cmp $b } keys %h)[0 .. 4];
        print "$total @top\n";
        my $s = join(",", map { $_ * 3 } 1 .. 100000);
        my @parts = split /,/, $s;
        print scalar(@parts), " ", length($s), "\n";
        my %count;
        $count{substr($_, 0, 2)}++ for @parts;
        print join(" ", map { "$_=$count{$_}" } sort keys %count), "\n";
        my @words = map { join("", reverse split //, $_) } @parts;
        print join(",", (sort @words)[0 .. 9]), "\n";
    '
}

workload_git() {
    # Fixed identities and dates make the commit ids themselves comparable.
    export HOME="$PWD/home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=tester \
        GIT_AUTHOR_EMAIL=tester@example.com GIT_COMMITTER_NAME=tester \
        GIT_COMMITTER_EMAIL=tester@example.com GIT_AUTHOR_DATE=2025-01-01T00:00:00Z \
        GIT_COMMITTER_DATE=2025-01-01T00:00:00Z
    mkdir -p home
    git init -q -b main repo && cd repo || return 1
    for i in $(seq 1 150); do
        seq "$i" $((i * 40)) >"file$i.txt"
    done
    git add . && git commit -q -m "first commit" || return 1
    for i in $(seq 1 150 | awk 'NR % 3 == 0'); do
        echo "change $i" >>"file$i.txt"
    done
    git commit -q -am "second commit" || return 1
    git log --format='%H %an %s' --stat | tail -n 20
    git diff --stat HEAD~1 | tail -n 3
    git grep -c 'change' | head -n 5
    git gc -q && git count-objects -v | grep -E '^(count|in-pack|packs)'
    git fsck --no-progress 2>&1
}

workload_gcc() {
    cat >prog.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char name[24]; int value; };

static int cmp(const void *a, const void *b) {
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    return strcmp(x->name, y->name);
}

int main(void) {
    enum { N = 5000 };
    struct node *nodes[N];
    for (int i = 0; i < N; i++) {
        nodes[i] = malloc(sizeof *nodes[i]);
        snprintf(nodes[i]->name, sizeof nodes[i]->name, "node-%d", i * 7919 % N);
        nodes[i]->value = i;
    }
    qsort(nodes, N, sizeof nodes[0], cmp);
    long sum = 0;
    for (int i = 0; i < N; i++) sum += (long)i * nodes[i]->value;
    printf("%s %s %ld\n", nodes[0]->name, nodes[N - 1]->name, sum);
    for (int i = 0; i < N; i++) free(nodes[i]);
    return 0;
}
EOF
    gcc -O2 -Wall -S -o prog.s prog.c || return 1
    md5sum <prog.s
    gcc -O2 -Wall -o prog prog.c || return 1
    ./prog
}

# cxx: a C++ translation unit compiled by g++ (the compiler of most servers
# people preload an allocator into), its standard library's containers,
# strings and algorithms instantiated for a few types, then run: the
# compiler's allocations, and a C++ program's operator new and delete.
workload_cxx() {
    cat >prog.cc <<'EOF'
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

struct item { std::string name; std::vector<int> values; };

int main() {
    std::unordered_map<std::string, std::vector<int>> groups;
    std::map<int, std::set<std::string>> by_len;
    std::vector<std::unique_ptr<item>> items;
    for (int i = 0; i < 200000; i++) {
        std::ostringstream key;
        key << "k" << i * 7919 % 10007;
        groups[key.str()].push_back(i);
        if (i % 4 == 0) {
            items.push_back(std::make_unique<item>(item{key.str() + std::string(i % 40, 'x'), {i, i * 2}}));
            by_len[static_cast<int>(items.back()->name.size())].insert(items.back()->name);
        }
    }
    std::sort(items.begin(), items.end(), [](const auto &a, const auto &b) { return a->name < b->name; });
    size_t total = 0;
    for (const auto &g : groups) total += g.second.size() * g.first.size();
    std::printf("%zu %zu %zu %s %s\n", groups.size(), by_len.size(), total, items.front()->name.c_str(),
                items.back()->name.substr(0, 12).c_str());
    return 0;
}
EOF
    g++ -O2 -std=c++17 -Wall -o prog prog.cc || return 1
    g++ -O2 -std=c++17 -S -o prog.s prog.cc && md5sum <prog.s
    ./prog
}

# A JSON document of 40,000 records built by jq, then filtered, grouped,
# sorted and folded by four more runs over it: a document object model's
# allocations (reference-counted values, copied on write), as in every
# program that reads and rewrites JSON.
workload_jq() {
    jq -n '[range(40000) | {id: ., name: "n\(. * 7919 % 10007)", tags: [range(. % 5) | "t\(.)"],
        v: (. * 31 % 1000)}]' >data.json || return 1
    jq -c 'map(select(.v > 500) | {id, tags}) | length' data.json
    jq -c 'group_by(.v % 10) | map({k: (.[0].v % 10), n: length, t: (map(.tags | length) | add)})' data.json
    jq -c '[.[] | .name] | unique | length, .[0:3]' data.json
    jq -c 'reduce .[] as $r ({}; .[$r.name[0:3]] += 1) | to_entries | sort_by(-.value, .key) | .[0:5]' data.json
}

# An interpreter besides the two above: Tcl's dictionaries, lists, arrays,
# sorting and regular expressions over a few hundred thousand values.
workload_tclsh() {
    tclsh <<'EOF'
set d [dict create]
for {set i 0} {$i < 400000} {incr i} { dict lappend d k[expr {$i % 5003}] [string repeat x [expr {$i % 7}]] }
set total 0
dict for {k v} $d { incr total [string length [join $v ""]] }
puts "[dict size $d] $total"
set l {}
for {set i 0} {$i < 100000} {incr i} { lappend l [list [expr {$i * 7919 % 10007}] n$i] }
set s [lsort -integer -index 0 $l]
puts "[lindex $s 0] [lindex $s end] [llength $s]"
set str [string repeat "abc def ghi " 20000]
array set cnt {}
foreach w [split $str " "] { incr cnt($w) }
puts [lsort [array names cnt]]
puts [string length [regsub -all {d(e)f} $str {\1X}]]
EOF
}

# Lua asks for all its memory through one function that calls realloc or
# free, tables' arrays and hashes grow by realloc, and strings are interned:
# the allocator of an embedded scripting language (game engines, nginx,
# redis scripts, Neovim). 250,000 strings made and counted twice, sorted,
# formatted and joined.
workload_lua() {
    lua5.4 - <<'EOF'
local t = {}
for i = 1, 250000 do t[i] = "item" .. i .. string.rep("x", i % 64) end
for r = 1, 2 do
  local m, s, buf = {}, {}, {}
  for i = 1, #t do m[t[i]] = (m[t[i]] or 0) + i end
  for k in pairs(m) do s[#s + 1] = k end
  table.sort(s)
  for i = 1, 200000 do buf[#buf + 1] = string.format("%d:%s", i, t[(i * 7919) % #t + 1]) end
  print(#s, s[1], s[#s // 2], s[#s], #table.concat(buf, ","))
end
EOF
}

# Ruby: a garbage-collected interpreter that takes its object pages from
# the allocator aligned (posix_memalign) and its strings, arrays and hashes
# from malloc and realloc: 400,000 strings in a hash, then 200,000 small
# arrays sorted.
workload_ruby() {
    ruby -e '
        h = {}
        400_000.times { |i| h["k#{i}"] = "v" * (i % 200) }
        puts h.keys.sort.each_slice(1000).map { |sl| sl.join(",").size }.sum
        arr = (1..200_000).map { |i| [i, (i * 7919 % 10_007).to_s * 3, { a: i }] }
        arr.sort_by! { |x| [x[1], -x[0]] }
        puts arr.first.inspect, arr.last.inspect, h.values.sum(&:size)
    '
}

# The tools of a shell pipeline, the programs an allocator is preloaded into
# system-wide as much as any server. awk: two million words made by string
# concatenation, then counted in an associative array of 50,000 keys (an
# interpreter's strings and hash table).
workload_awk() {
    awk 'BEGIN { for (i = 0; i < 200000; i++) { line = ""
        for (j = 0; j < 10; j++) line = line " w" ((i * 7919 + j * 104729) % 49999)
        print substr(line, 2) } }' >words.txt || return 1
    awk '{ for (i = 1; i <= NF; i++) c[$i]++ } END { for (k in c) print c[k], k }' words.txt |
        sort -k1,1nr -k2,2 | head -n 3
    wc -c <words.txt
}

# sort: half a million lines sorted three ways, its buffers a few large
# blocks and its keys many small ones.
workload_sort() {
    seq 1 500000 | awk '{ print ($1 * 7919) % 1000003, "line", $1 % 977, $1 }' >lines.txt ||
        return 1
    sort -k1,1n -k3,3 lines.txt | md5sum
    sort -k3,3n -k4,4nr lines.txt | head -n 2
    sort -u -k3,3n lines.txt | wc -l
}

# xz: compression at its default level, one thread: about 94 MiB of match
# finder and dictionary in a few big blocks, then decompression.
workload_xz() {
    awk 'BEGIN { for (i = 0; i < 60000; i++) print i, (i * 7919) % 10007, "record", (i * 31) % 977 }' \
        >data.txt || return 1
    xz -6 -T1 -c data.txt >data.xz || return 1
    wc -c <data.xz
    xz -dc data.xz | md5sum
}

# pigz: gzip in parallel, two compressing threads beside the one that
# reads: blocks of input handed from thread to thread, a deflate state and
# window per thread, as in every pipeline of stages on threads; then the
# same file decompressed.
workload_pigz() {
    awk 'BEGIN { for (i = 0; i < 800000; i++) print i, (i * 7919) % 10007, "record", (i * 31) % 977 }' \
        >data.txt || return 1
    pigz -p 2 -n -c data.txt >data.gz || return 1
    wc -c <data.gz
    pigz -dc data.gz | md5sum
}

# bc: pi to 2,000 digits, a bignum library's temporaries (numbers made,
# combined and dropped by the million, each a few hundred bytes).
workload_bc() {
    echo "scale = 2000; 4 * a(1)" | bc -l | md5sum
}

# workload_command NAME: the program the workload NAME runs.
workload_command() {
    case $1 in
    lua) echo lua5.4 ;;
    cxx) echo g++ ;;
    *) echo "${1%%-*}" ;;
    esac
}

# package_of PROGRAM: the Debian package that installs it (a package of
# the program's own name, but for these).
package_of() {
    case $1 in
    tclsh) echo tcl ;;
    awk) echo mawk ;;
    sort) echo coreutils ;;
    xz) echo xz-utils ;;
    *) echo "$1" ;;
    esac
}

# is_workload NAME: whether NAME is one of real_workloads.
is_workload() {
    local w
    for w in "${real_workloads[@]}"; do [ "$w" = "$1" ] && return 0; done
    return 1
}

# export_workloads: makes every workload function reachable from
# `bash -c workload_NAME`, the way both scripts run them (a fresh shell,
# under the preload being measured).
export_workloads() {
    local w
    for w in "${real_workloads[@]}"; do export -f "workload_${w//-/_}"; done
}

