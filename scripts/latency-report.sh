#!/usr/bin/env bash
# Writes latency-reports/<date>-<name>/: builds ringex, then for each thread layout and
# durability mode starts a server on a free loopback port with a fresh data directory, finds its
# peak (`ringex loadgen --find-peak`), runs at fixed rates (RATES), pings at 1,000/s, runs at
# half and at 80% of the peak, and stops it; then measures the floor on the idle machine (loopback round trip of a request and
# answer the runs' size, one ED25519 verification, fdatasync in the data directories'
# filesystem), and finally has `ringex latency-report` write the README, the plots and the
# index latency-reports/README.md. Every command it runs is kept in the report's commands.txt.
#
# Usage: scripts/latency-report.sh [name]          (name defaults to "loopback")
# Environment (defaults in brackets):
#   MODES="none async sync"   durability modes to measure
#   LAYOUTS="split fused single"  thread layouts to measure (`serve --layout`)
#   RATES="1000 2500 5000 10000"  fixed offered rates, requests/s (the load curve's points)
#   DURATION_S=10             seconds of each fixed-rate run (the load generator signs up
#                             to 262,144 requests ahead; beyond that it signs while it runs)
#   STEP_S=5                  seconds of each --find-peak step
#   START_RATE=2000           first --find-peak step, requests/s
#   CONNECTIONS=8             keep-alive connections of every run
#   DATA_ROOT=(a temp dir)    where the servers' data directories and the fsync probe go
#   SNAPSHOT_EVERY_RECORDS=   unset: the embedded configuration (a snapshot per 1,000,000
#                             records, none within a report's runs); N: the servers write a
#                             snapshot every N journal records, so the runs measure latency
#                             while snapshots are written (`[snapshot] every_records`)
# Takes about two minutes per layout and mode. The load generator shares the machine with the server;
# the report says so.
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-loopback}
modes=${MODES:-"none async sync"}
layouts=${LAYOUTS:-"split fused single"}
rates=${RATES:-"1000 2500 5000 10000"}
duration_s=${DURATION_S:-10}
step_s=${STEP_S:-5}
start_rate=${START_RATE:-2000}
connections=${CONNECTIONS:-8}
data_root=${DATA_ROOT:-$(mktemp -d)}

cargo build --release --quiet
bin=target/release/ringex
# The revision the binary was built from (a tree edited later does not change what runs).
git_rev=$(git rev-parse HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo -dirty)
dir=latency-reports/$(date -u +%F)-$name
rm -rf "$dir"
mkdir -p "$dir"
commands=$dir/commands.txt
: >"$commands"

server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# Runs a command, keeping it in commands.txt.
run() {
    echo "$*" >>"$commands"
    "$@"
}

# Starts `ringex serve --durability $1 --layout $2` on a free port; sets server_pid and target.
start_server() {
    local mode=$1 layout=$2 data=$data_root/data-$1-$2 out=$data_root/serve-$1-$2.out
    rm -rf "$data"
    # The load generator is one loopback address sending tens of thousands of requests a second:
    # the default per-IP and per-key limits would answer most of them 429.
    local flags=(--listen 127.0.0.1:0 --data-dir "$data" --durability "$mode" --layout "$layout"
        --no-rate-limits)
    if [[ -n ${SNAPSHOT_EVERY_RECORDS:-} ]]; then
        local config=$data_root/config-snapshots.toml
        sed "s/^every_records = .*/every_records = $SNAPSHOT_EVERY_RECORDS/" \
            src/config/default.toml >"$config"
        flags+=(--config "$config")
    fi
    echo "$bin serve ${flags[*]}" >>"$commands"
    "$bin" serve "${flags[@]}" >"$out" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 300); do
        target=$(sed -n 's|^listening on http://||p' "$out")
        [[ -n $target ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the $mode server did not start:" >&2
    cat "$out" >&2
    exit 1
}

stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

# One timed run at $1 requests/s labelled $2, with subscribers; each run its own accounts: a
# new seed (counted here, not in the piped subshell).
timed_run() {
    run "$bin" loadgen "${common[@]}" --rate "$1" --duration "$duration_s" --subscribe \
        --seed "$seed" --label "$2" | tee "$dir/$2.txt"
    seed=$((seed + 1))
}

seed=1
for mode in $modes; do
    for layout in $layouts; do
        start_server "$mode" "$layout"
        common=(--target "$target" --connections "$connections" --out "$dir")
        name=$mode-$layout
        run "$bin" loadgen "${common[@]}" --find-peak --rate "$start_rate" --duration "$step_s" \
            --seed "$seed" --label "$name-peak" | tee "$dir/$name-peak.txt"
        seed=$((seed + 1))
        for rate in $rates; do
            timed_run "$rate" "$name-$rate"
        done
        # Unsigned pings at 1,000/s: the request path without a signature or the matcher.
        run "$bin" loadgen "${common[@]}" --rate 1000 --duration "$duration_s" --mix ping=1 \
            --seed "$seed" --label "$name-ping" | tee "$dir/$name-ping.txt"
        seed=$((seed + 1))
        peak=$(sed -n 's/^peak: \([0-9.]*\) answered.*/\1/p' "$dir/$name-peak.txt")
        if [[ -n $peak ]]; then
            timed_run "$(awk -v peak="$peak" 'BEGIN { printf "%.0f", peak / 2 }')" "$name-half"
            timed_run "$(awk -v peak="$peak" 'BEGIN { printf "%.0f", peak * 0.8 }')" "$name-80pct"
        fi
        stop_server
    done
done

# The floor last, on the idle machine, with a request and answer the size of the runs' own.
sized=$(ls "$dir"/*-half.json "$dir"/*-1000.json 2>/dev/null | head -1 || true)
mean() { [[ -n $sized ]] && sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$sized" | head -1 | awk '{ printf "%.0f", $1 }'; }
mkdir -p "$data_root/floor"
request_bytes=$(mean request_bytes_mean || true)
answer_bytes=$(mean answer_bytes_mean || true)
run "$bin" floor --data-dir "$data_root/floor" --request-bytes "${request_bytes:-420}" \
    --answer-bytes "${answer_bytes:-330}" --json "$dir/floor.json"

"$bin" latency-report --dir "$dir" --git-rev "$git_rev" \
    --index latency-reports/README.md
