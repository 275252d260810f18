# tests/reliability/redis_server.sh — a private redis-server on loopback:
# started on a free port, checked to be the process we started, stopped
# with SHUTDOWN NOSAVE (SIGTERM, then SIGKILL, if it does not go). Sourced
# by tests/reliability/redis.sh and bench/redis.
# shellcheck shell=bash
# The variables are read by the scripts that source this one.
# shellcheck disable=SC2034

redis_install_hint="apt-get install -y --no-install-recommends redis-server redis-tools"

# redis_missing_tool: prints the first of redis-server, redis-cli and
# redis-benchmark that is not installed; false when all are.
redis_missing_tool() {
    local tool
    for tool in redis-server redis-cli redis-benchmark; do
        command -v "$tool" >/dev/null || { echo "$tool"; return 0; }
    done
    return 1
}

# redis_skip_unless_installed: for a test: exits 77 (skipped), saying
# what to install, when a redis tool is missing.
redis_skip_unless_installed() {
    local tool
    tool=$(redis_missing_tool) || return 0
    echo "SKIP: $tool is not installed; to run this test:"
    echo "  $redis_install_hint"
    exit 77
}

# What redis_start runs, set by the caller beforehand (each may be empty):
# redis_wrap, a command that runs the server (e.g. /usr/bin/time -o FILE);
# redis_env, arguments of env(1) for the server alone (LD_PRELOAD=...);
# redis_args, more redis-server options.
redis_wrap=() redis_env=() redis_args=()
# What it sets: redis_port; redis_pid, the server; redis_launch_pid, the
# process started (the server, or the wrapper, its parent), to wait for;
# redis_error, why it failed.
redis_port='' redis_pid='' redis_launch_pid='' redis_error=''

# redis_start DIR: starts redis-server, with DIR as its directory (log,
# stdout, stderr), without persistence, on a random loopback port, and
# waits until it answers PING (10 s at most). A port another server holds
# makes ours exit at once; then another port is tried.
redis_start() {
    local dir=$1 pid
    redis_port='' redis_pid='' redis_launch_pid='' redis_error=''
    mkdir -p "$dir" || { redis_error="cannot create $dir"; return 1; }
    for _ in $(seq 20); do
        redis_port=$((20000 + RANDOM % 40000))
        : >"$dir/redis.log"
        "${redis_wrap[@]}" env "${redis_env[@]}" redis-server --port "$redis_port" \
            --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" \
            --daemonize no "${redis_args[@]}" >"$dir/stdout" 2>"$dir/stderr" &
        redis_launch_pid=$!
        for _ in $(seq 100); do
            if [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]; then
                pid=$(redis-cli -p "$redis_port" info server | tr -d '\r' |
                    awk -F: '$1 == "process_id" { print $2 }')
                # Ours is the process started or its child; anyone else's
                # answered on the port before ours gave up on it.
                if [ "$pid" = "$redis_launch_pid" ] ||
                    [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$redis_launch_pid" ]; then
                    redis_pid=$pid
                    return 0
                fi
            fi
            kill -0 "$redis_launch_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$redis_launch_pid" 2>/dev/null; then
            redis_error="redis-server on port $redis_port does not answer PING after 10 s"
            redis_kill
            return 1
        fi
        wait "$redis_launch_pid" 2>/dev/null
        redis_launch_pid=
        grep -q 'Address already in use' "$dir/redis.log" || break
    done
    redis_error="redis-server did not start: $(tail -n 5 "$dir/redis.log" "$dir/stderr")"
    return 1
}

# redis_cli ARG...: redis-cli against the server started.
redis_cli() {
    redis-cli -p "$redis_port" "$@"
}

# redis_stop: SHUTDOWN NOSAVE, SIGTERM after 30 s, SIGKILL after 10 s
# more; returns the exit status of the process started (a wrapper passes
# on the server's).
redis_stop() {
    local status i
    [ -n "$redis_launch_pid" ] || return 0
    redis_cli shutdown nosave >/dev/null 2>&1
    for i in $(seq 400); do
        kill -0 "$redis_pid" 2>/dev/null || break
        [ "$i" = 300 ] && kill -TERM "$redis_pid" 2>/dev/null
        sleep 0.1
    done
    kill -0 "$redis_pid" 2>/dev/null && kill -KILL "$redis_pid" 2>/dev/null
    wait "$redis_launch_pid"
    status=$?
    redis_pid='' redis_launch_pid=''
    return $status
}

# redis_kill: for exit traps: kills the server started, by its PID, and
# waits for the process started. Under a wrapper the server alone is
# killed (the wrapper then reaps it and exits), or, when its PID is not
# known yet, the wrapper's children, else the wrapper.
redis_kill() {
    local pids=$redis_pid
    [ -n "$redis_launch_pid" ] || return 0
    if [ -z "$pids" ] && [ ${#redis_wrap[@]} -gt 0 ]; then
        pids=$(ps -o pid= --ppid "$redis_launch_pid" 2>/dev/null)
    fi
    # shellcheck disable=SC2086 # a list of PIDs
    kill -KILL ${pids:-$redis_launch_pid} 2>/dev/null
    wait "$redis_launch_pid" 2>/dev/null
    redis_pid='' redis_launch_pid=''
}
