# bench/dbserver.sh — what the database servers' drivers share
# (bench/postgres, bench/mariadb), sourced by them: their common options,
# the user the server runs as, the temporary directories and what is left
# running on exit, the interleaved rounds (a fresh copy of one database and
# a fresh server per allocator and round, GNU time around the server), the
# CSV, and the table of medians.
#
# A driver sets db_name (its name in messages), db_sockdir (the prefix of
# its socket directory in /tmp), user and clients (their defaults), cases
# (its cases, in the order they run; the one named analytic is timed in
# seconds, the others are transactions a second) and db_extra (its own
# options, each a positive integer in the variable of the same name,
# default already set); defines the functions below; and calls db_main "$@".
#   db_check            what the driver needs, or die
#   db_command DIR      sets server_cmd: the server on the data directory DIR
#   db_ready DIR        true once the server on DIR takes connections
#   db_pidfile DIR      the server's pid file
#   db_stop DIR         asks for a clean shutdown (db_down waits for it)
#   db_init DIR         makes the database every round copies, or dies
#   db_load DIR         fills it, or dies, with the server up on it
#   db_case CASE DIR    runs CASE against the server, its output in DIR.out,
#                       each client under `timeout "$case_limit"`; sets
#                       value (the figure, empty when there is none) and rc
#                       (its exit status); db_timed times a command
#   db_crash DIR        prints the server log's first sign of a crash
#   db_halt DIR         optional: stops the server at once, on exit (else
#                       SIGKILL to the pid in its pid file)
#   db_title            what the report's first line says of the server and
#                       its load
# The variables a driver sets, and those it reads (seconds, names), are
# the two files' shared names:
# shellcheck shell=bash disable=SC2034,SC2154,SC2317

here=$(cd "$(dirname "$0")" && pwd)
build=build repeats=3 peers=0 csv=""
seconds=10

die() { echo "$db_name: $*" >&2; exit 2; }
positive() { case $2 in '' | *[!0-9]* | 0*) die "$1 must be a positive integer, not '$2'" ;; esac; }

# db_parse ARGS...: the common options and the driver's db_extra.
db_parse() {
    local o extra=" ${db_extra[*]} "
    while [ $# -gt 0 ]; do
        case $1 in
        --peers) peers=1; shift; continue ;;
        -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        --build | --repeats | --csv | --seconds | --clients | --user) ;;
        --?*) [[ $extra == *" ${1#--} "* ]] || die "unknown argument '$1' (see --help)" ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        [ $# -ge 2 ] || die "$1 needs a value (see --help)"
        o=${1#--}
        printf -v "$o" '%s' "$2"
        shift 2
    done
    for o in repeats seconds clients "${db_extra[@]}"; do positive "--$o" "${!o}"; done
}

# as_server CMD...: CMD as the user the server runs as.
db_user_setup() {
    if [ "$(id -u)" = 0 ]; then
        id "$user" >/dev/null 2>&1 || die "running as root, and there is no user '$user' for the server (--user)"
        command -v runuser >/dev/null || die "running as root, and runuser is missing: apt-get install -y util-linux"
        as_server() { runuser -u "$user" -- "$@"; }
        as_server test -r "$lib" || die "there is no way for user '$user' to read $lib (--user, or a build tree others may read)"
    else
        as_server() { "$@"; }
    fi
}

data="" server_pid=""
# The server is stopped by its own pid file: a signal to every process
# that names the temporary directory (pkill -f) kills GNU time and runuser
# too, and leaves the server running with no parent of ours. A server still
# starting writes its pid file within moments.
db_cleanup() {
    local _ pidfile
    if [ -n "$data" ]; then
        pidfile=$(db_pidfile "$data")
        if [ -n "$server_pid" ]; then
            for _ in $(seq 1 50); do
                [ -f "$pidfile" ] || ! kill -0 "$server_pid" 2>/dev/null && break
                sleep 0.1
            done
        fi
        if [ -f "$pidfile" ]; then
            db_kill
            [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null
        fi
    fi
    rm -rf "$work" "$sock"
}

# db_pid: the pid of the server itself (time's child).
db_pid() { head -n 1 "$(db_pidfile "$data")" 2>/dev/null; }

# db_kill: stops the server at once, by its pid file.
db_kill() {
    if declare -F db_halt >/dev/null; then
        db_halt "$data"
    else
        kill -KILL "$(db_pid)" 2>/dev/null
    fi
}

unit_of() { if [ "$1" = analytic ]; then echo s; else echo tps; fi; }

# db_timed CMD...: runs CMD; rc is its status, value its seconds if it
# succeeded.
db_timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    rc=$?
    t1=$(date +%s.%N)
    [ $rc = 0 ] && value=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# db_up DIR: the server on DIR in the background under GNU time, with what
# server_env says; waits until it takes connections.
db_up() {
    data=$1
    db_command "$data"
    as_server env "${server_env[@]}" /usr/bin/time -f "%U %S %M" -o "$data.time" \
        "${server_cmd[@]}" >"$data.log" 2>&1 &
    server_pid=$!
    local _
    for _ in $(seq 1 300); do
        kill -0 "$server_pid" 2>/dev/null || return 1
        db_ready "$data" && return 0
        sleep 0.1
    done
    return 1
}

# db_down [now]: a clean shutdown (or with "now" a kill), and the server's
# exit status. A server that is still there a minute after it was asked
# to go is killed: a wedged server must not hang the round.
db_down() {
    local _
    if [ "${1:-}" = now ]; then db_kill; else db_stop "$data"; fi
    for _ in $(seq 1 600); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
        echo "$db_name: the server on $data did not stop; killed" >&2
        db_kill
    fi
    wait "$server_pid"
    local rc=$?
    server_pid=""
    return $rc
}

# no_cases ROUND NAME STATUS: a round that ran no case counts against
# every case and the server run.
no_cases() {
    local c
    for c in "${cases[@]}"; do echo "$1,$2,$c,,$(unit_of "$c"),,,,$3"; done >>"$results"
    echo "$1,$2,server,,,,,,$3" >>"$results"
}

# forget DIR: a round's copy of the database and its files.
forget() { rm -rf "$1" "$1.time" "$1.log" "$1.out" "$1.pid"; }

# run_round ROUND NAME PRELOAD MAPPED: one server, every case.
run_round() {
    local r=$1 name=$2 so=$3 mapped=$4 dir=$work/$2-$1 c rc value status tm u s rss crash
    local round_status=ok
    cp -a "$work/base" "$dir"
    # The copy's writeback is not the next server's to wait for.
    sync
    if [ -n "$so" ]; then server_env=(LD_PRELOAD="$so"); else server_env=(-u LD_PRELOAD); fi
    if ! db_up "$dir"; then
        echo "$db_name: $name, round $r: the server did not start: $(tail -n 3 "$dir.log")" >&2
        no_cases "$r" "$name" no-start
        [ -z "$server_pid" ] || db_down now
        forget "$dir"
        return
    fi
    # ld.so skips a preload it cannot load: that run would measure another allocator.
    if [ -n "$mapped" ] && ! grep -qF "$mapped" "/proc/$(db_pid)/maps" 2>/dev/null; then
        echo "$db_name: $name, round $r: $mapped is not mapped in the server; round skipped" >&2
        db_down
        no_cases "$r" "$name" preload-failed
        forget "$dir"
        return
    fi
    for c in "${cases[@]}"; do
        value="" rc=0 status=ok
        db_case "$c" "$dir"
        if ! kill -0 "$server_pid" 2>/dev/null; then
            status=server-died
        elif [ "$rc" = 124 ]; then
            status=timeout
        elif [ "$rc" != 0 ]; then
            status=exit-$rc
        elif ! awk -v v="$value" 'BEGIN { exit !(v + 0 > 0) }'; then
            status=no-result
        fi
        [ $status = ok ] || { echo "$db_name: $name, round $r, $c: $status: $(tail -n 3 "$dir.out")" >&2; round_status=$status; }
        echo "$r,$name,$c,$value,$(unit_of "$c"),,,,$status" >>"$results"
        printf '[round %d %s] %s: %s %s %s\n' "$r" "$name" "$c" "$status" "${value:-?}" "$(unit_of "$c")" >&2
    done
    # A server thread or process that died of a signal is a crash even if
    # the next case ran.
    crash=$(db_crash "$dir")
    if [ -n "$crash" ]; then
        echo "$db_name: $name, round $r: $crash" >&2
        round_status=crash
    fi
    db_down
    rc=$?
    [ $rc = 0 ] || [ $round_status != ok ] || round_status=exit-$rc
    tm=$(tail -n 1 "$dir.time" 2>/dev/null)
    read -r u s rss <<<"$tm"
    echo "$r,$name,server,,,${u:-},${s:-},${rss:-},$round_status" >>"$results"
    printf '[round %d %s] server: %s, user %s s, sys %s s, peak RSS %s KiB\n' \
        "$r" "$name" "$round_status" "${u:-?}" "${s:-?}" "${rss:-?}" >&2
    forget "$dir"
}

# db_report: the table of medians from the CSV, and the exit status.
db_report() {
    echo "$(db_title); $names in interleaved rounds: $repeats; medians ($(date -u '+%F %T') UTC, $(uname -n), $(nproc) CPUs, commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    awk -F, "$(cat "$here/medians.awk")"'
    NR > 1 {
        key = $3
        if (!(key in seenk)) { seenk[key] = 1; keys[++nk] = key; unit[key] = $5 }
        if (!($2 in seena)) { seena[$2] = 1; names[++na] = $2 }
        runs[key, $2]++
        if ($9 != "ok") next
        ok[key, $2]++
        if (key == "server") { us[$2] = us[$2] " " $6; sy[$2] = sy[$2] " " $7; cpu[$2] = cpu[$2] " " ($6 + $7); rss[$2] = rss[$2] " " $8; next }
        v[key, $2] = v[key, $2] " " $4
        pv[key, $2, $1] = $4; preps[$1] = 1; pallocs[$2] = 1
    }
    END {
        print "| case | allocator | runs ok | median | unit | × glibc | paired × best other peer |"
        print "|---|---|---:|---:|---|---:|---:|"
        for (i = 1; i <= nk; i++) {
            k = keys[i]; if (k == "server") continue
            higher = unit[k] != "s"
            g = median(v[k, "glibc"])
            for (j = 1; j <= na; j++) {
                a = names[j]; if (!runs[k, a]) continue
                if (!ok[k, a]) { printf "| %s | %s | 0/%d | – | %s | – | – |\n", k, a, runs[k, a], unit[k]; continue }
                m = median(v[k, a])
                printf "| %s | %s | %d/%d | " (higher ? "%.0f" : "%.2f") " | %s | %s | %s |\n", k, a, ok[k, a], runs[k, a], m, unit[k],
                    ratio(m, g), paired(k, a, higher)
            }
        }
        print ""
        print "The whole server run (every case above, GNU time around the server):"
        print ""
        print "| allocator | runs ok | user s | sys s | CPU s | peak RSS MiB |"
        print "|---|---:|---:|---:|---:|---:|"
        for (j = 1; j <= na; j++) {
            a = names[j]
            if (!ok["server", a]) { printf "| %s | 0/%d | – | – | – | – |\n", a, runs["server", a]; continue }
            printf "| %s | %d/%d | %.2f | %.2f | %.2f | %.1f |\n", a, ok["server", a], runs["server", a], median(us[a]),
                median(sy[a]), median(cpu[a]), median(rss[a]) / 1024
        }
    }' "$results"
    # Every run counted; a failed one says so in the exit status too.
    awk -F, 'NR > 1 && $9 != "ok" { bad = 1 } END { exit bad }' "$results"
}

# db_main ARGS...: the whole driver.
db_main() {
    db_parse "$@"
    # A client still waiting this long is stuck, not slow.
    case_limit=$((seconds * 3 + 600))
    db_check
    [ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install -y time"
    lib=$build/libhakmem/libhakmem.so
    [ -f "$lib" ] || die "$lib not found: build first (tests/run, or cmake --build $build)"
    lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
    db_user_setup

    work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-bench-$db_name.XXXXXX")
    # A Unix socket's path has room for 107 bytes: in a short directory of
    # its own, whatever TMPDIR is.
    sock=$(mktemp -d "/tmp/$db_sockdir.XXXXXX")
    if [ "$(id -u)" = 0 ]; then chown "$user" "$work" "$sock"; fi
    trap db_cleanup EXIT
    trap 'exit 130' INT TERM

    # name:preload:the library that must be mapped in the server
    # shellcheck source=bench/peers.sh
    . "$here/peers.sh"
    allocs=("glibc::" "hakmem:$lib:$(readlink -f "$lib")")
    local a p entry so name mapped r
    if [ "$peers" = 1 ]; then
        for p in "${peer_names[@]}"; do
            entry=$(peer_entry "$db_name" "$p") && allocs+=("$entry")
        done
    fi

    server_env=(-u LD_PRELOAD)
    db_init "$work/base"
    db_up "$work/base" || die "the server did not start: $(tail -n 5 "$work/base.log")"
    db_load "$work/base"
    db_down || die "the server did not stop cleanly: $(tail -n 5 "$work/base.log")"

    results=$work/results.csv
    echo "round,allocator,case,value,unit,user_s,sys_s,peak_rss_kib,status" >"$results"
    # Each round starts with the next allocator: none always runs first,
    # after the database was made, or last, after the others' servers.
    local n=${#allocs[@]} i
    for r in $(seq 1 "$repeats"); do
        for i in $(seq 0 $((n - 1))); do
            IFS=: read -r name so mapped <<<"${allocs[$(((r - 1 + i) % n))]}"
            run_round "$r" "$name" "$so" "$mapped"
        done
    done
    [ -n "$csv" ] && cp "$results" "$csv"
    names=$(for a in "${allocs[@]}"; do echo "${a%%:*}"; done | paste -sd ' ')
    db_report
}
