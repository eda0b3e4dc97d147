#!/usr/bin/env bash
# The fault suite at soak size, then `ringex reliability-report` writes REPORT (default
# latency-reports/reliability.md): what was tried, how often, restart times against journal
# length, what was lost or duplicated, the machine and the git revision (issue 20 item 7).
#
# Parts, each run whatever the others found (a failed part is in the report, and the script
# exits 1 after writing it):
#   crash     `ringex crash-cycles`: CRASH_CYCLES (500) at CRASH_RATE (10000) signed requests/s,
#             seed CRASH_SEED (today's date), a snapshot every CRASH_SNAPSHOT_EVERY (20000)
#             records so kills land during snapshots too
#   restart   scripts/restart-time.sh at RESTART_COMMANDS ("1000000 3000000 10000000")
#   faults    the disk-fault and SIGTERM tests of tests/cli.rs
#   fuzz      scripts/soak.sh's fuzz part, FUZZ_SECONDS (600) per target
# PARTS chooses among them (default all). Results land in RESULTS (default
# target/reliability/<date>). A smaller run says so in the report's first lines; for one that
# does not replace the soak's report, point REPORT elsewhere, e.g.
#   CRASH_CYCLES=20 RESTART_COMMANDS="100000 300000" FUZZ_SECONDS=10 \
#       REPORT=target/reliability/reliability.md scripts/reliability-report.sh
# The soak size takes a few hours on the 2-core machine (fuzzing alone 50 minutes).
set -uo pipefail
cd "$(dirname "$0")/.."
parts=${PARTS:-"crash restart faults fuzz"}
cycles=${CRASH_CYCLES:-500}
rate=${CRASH_RATE:-10000}
lengths=${RESTART_COMMANDS:-"1000000 3000000 10000000"}
fuzz_seconds=${FUZZ_SECONDS:-600}
results=${RESULTS:-target/reliability/$(date -u +%F)}
report=${REPORT:-latency-reports/reliability.md}

cargo build --release --quiet || exit 1
bin=target/release/ringex
# The revision the binary was built from (a tree edited later does not change what runs).
git_rev=$(git rev-parse HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo -dirty)
rm -rf "$results"
mkdir -p "$results"
failed=0

# part NAME LOG COMMAND...: runs the command, its output to the terminal and to LOG, and adds a
# line to parts.tsv: name, exit code, seconds, command.
part() {
    local name=$1 log=$2
    shift 2
    local started_ns code elapsed_ms
    started_ns=$(date +%s%N)
    echo "== $name: $*"
    "$@" 2>&1 | tee "$results/$log"
    code=${PIPESTATUS[0]}
    elapsed_ms=$((($(date +%s%N) - started_ns) / 1000000))
    printf '%s\t%d\t%d.%03d\t%s\n' "$name" "$code" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) \
        "$(printf '%q ' "$@")" >>"$results/parts.tsv"
    [[ $code -eq 0 ]] || failed=1
}

for name in $parts; do
    case $name in
        crash)
            part crash crash.log "$bin" crash-cycles --cycles "$cycles" --rate "$rate" \
                --seed "${CRASH_SEED:-$(date +%Y%m%d)}" --out "$results/crash-cycles.json" \
                --snapshot-every-records "${CRASH_SNAPSHOT_EVERY:-20000}"
            ;;
        restart)
            part restart restart.log env RESTART_COMMANDS="$lengths" OUT_DIR="$results" \
                scripts/restart-time.sh
            ;;
        faults)
            part faults disk-faults.log cargo test --release --test cli -- \
                a_failed_journal_write_stops_acknowledgements_and_exits_1 \
                a_full_disk_or_a_failed_fdatasync_stops_acknowledgements_and_exits_1 \
                a_failed_snapshot_write_stops_acknowledgements_and_leaves_the_journal_whole \
                a_kill_in_the_middle_of_a_snapshot_restarts_from_the_one_before \
                sigterm_under_load_exits_0_and_every_acknowledged_order_is_journaled
            ;;
        fuzz)
            part fuzz fuzz.log env SOAK_PARTS=fuzz FUZZ_SECONDS="$fuzz_seconds" scripts/soak.sh
            ;;
        *)
            echo "PARTS: unknown part \`$name\` (crash restart faults fuzz)" >&2
            exit 2
            ;;
    esac
done

"$bin" reliability-report --dir "$results" --out "$report" --git-rev "$git_rev" || exit 1
exit $failed
