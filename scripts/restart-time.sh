#!/usr/bin/env bash
# Restart time against journal length (issue 20 item 2). For each length N of RESTART_COMMANDS
# (default "1000000 3000000 10000000"), `ringex journal-synth` writes a journal of N applied
# commands (the load generator's mix through the matcher, no network) into a fresh directory
# under DATA_ROOT (default: a new temporary directory), then `ringex restart-time` times
# `ringex serve` from spawn to its first answered request: once from a cold page cache, RUNS
# times warm (default 2), and `ringex replay` once. Before timing, `ringex snapshot` writes a
# snapshot SUFFIX records (default 1,000,000, the embedded `[snapshot] every_records`) before the
# journal's end, as a running server would have: the worst restart, the newest snapshot plus the
# most journal a running server leaves after it (the "replayed at start" column; a length of at
# most SUFFIX replays whole). Prints a row per length and whether the target holds: restart in
# at most 5 s after 10 million commands.
#
# OUT_DIR (default DATA_ROOT) keeps restart-<N>.json per length, which `ringex
# reliability-report` reads. Each journal is deleted once timed (10 M commands take about 2.3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=${RESTART_COMMANDS:-"1000000 3000000 10000000"}
runs=${RUNS:-2}
suffix=${SUFFIX:-1000000}
data_root=${DATA_ROOT:-$(mktemp -d)}
out_dir=${OUT_DIR:-$data_root}
mkdir -p "$data_root" "$out_dir"
config=$data_root/no-snapshots.toml
sed -e 's/^every_records = .*/every_records = 0/' -e 's/^every_s = .*/every_s = 0/' \
    src/config/default.toml >"$config"

cargo build --release --quiet
bin=target/release/ringex
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "restart time against journal length on $cpu ($(nproc) cores)," \
    "git $(git rev-parse --short HEAD)"
for n in $lengths; do
    dir=$data_root/journal-$n
    rm -rf "$dir"
    "$bin" journal-synth --commands "$n" --data-dir "$dir" >"$out_dir/synth-$n.txt"
    # A running server snapshots every `[snapshot] every_records` (SUFFIX, default the embedded
    # 1,000,000): the worst restart loads a snapshot that many records before the end.
    if ((n > suffix)); then
        "$bin" snapshot --data-dir "$dir" --at-record $((n - suffix)) >"$out_dir/snapshot-$n.txt"
    fi
    # The timed servers take no snapshot of their own, so every run replays the same suffix.
    "$bin" restart-time --data-dir "$dir" --journal-records "$n" --cold --runs "$runs" --replay \
        --config "$config" \
        --out "$out_dir/restart-$n.json"
    rm -rf "$dir"
done
