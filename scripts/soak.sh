#!/usr/bin/env bash
# The soak (too long for CI), in the parts SOAK_PARTS names (default "fuzz crash"). Exits non-zero
# on a finding.
#
# fuzz: every target of `ringex::fuzz_targets` for FUZZ_SECONDS each (default 600: 10 minutes per
# target, issue 20 item 6). With cargo-fuzz (and a nightly toolchain) it runs libFuzzer from the
# seed corpus `fuzz/corpus/<target>/` (read only; new inputs land in
# `fuzz/target/soak-corpus/<target>/`, crashes in `fuzz/artifacts/<target>/`); without it, the
# seeded mutator of tests/fuzz.rs runs each target for the same time with seed RINGEX_FUZZ_SEED
# (default: today's date, so each day's soak explores new inputs).
#
# crash: `ringex crash-cycles` CRASH_CYCLES times (default 500, issue 20 item 3): SIGKILL the
# server a random 50–2,000 ms into load at CRASH_RATE signed requests/s (default 10000, half the
# 2-core machine's peak), replay, restart, and check that nothing acknowledged was lost or
# duplicated, the hashes agree and every asset is conserved. Kill delays and requests come from
# CRASH_SEED (default: today's date, so each day's soak kills at other moments). The JSON
# summary goes to CRASH_OUT (default target/soak/crash-cycles.json). The server writes a snapshot
# every CRASH_SNAPSHOT_EVERY journal records (default 20000, about two seconds of load), so
# kills land before, during and after snapshots and each restart replays at most that much;
# CRASH_ARGS adds flags. About 2.5 s a cycle.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=${SOAK_PARTS:-"fuzz crash"}

fuzz() {
    local seconds="${FUZZ_SECONDS:-600}"
    local targets=(http_framer websocket_frames signing_string decimal journal_record snapshot)
    if cargo +nightly fuzz --version >/dev/null 2>&1; then
        for target in "${targets[@]}"; do
            echo "cargo fuzz: $target for ${seconds}s"
            mkdir -p "fuzz/target/soak-corpus/$target"
            cargo +nightly fuzz run "$target" "fuzz/target/soak-corpus/$target" \
                "fuzz/corpus/$target" -- -max_total_time="$seconds"
        done
    else
        echo "cargo fuzz (nightly) not found: the tests/fuzz.rs mutator instead"
        export RINGEX_FUZZ_SECONDS="$seconds"
        export RINGEX_FUZZ_SEED="${RINGEX_FUZZ_SEED:-$(date +%Y%m%d)}"
        for target in "${targets[@]}"; do
            echo "mutator: $target for ${seconds}s (seed $RINGEX_FUZZ_SEED)"
            cargo test --release --test fuzz -- --exact "$target" --nocapture
        done
    fi
}

crash() {
    local out="${CRASH_OUT:-target/soak/crash-cycles.json}"
    cargo build --release --quiet
    mkdir -p "$(dirname "$out")"
    # CRASH_ARGS is split into flags on purpose.
    # shellcheck disable=SC2086
    target/release/ringex crash-cycles --cycles "${CRASH_CYCLES:-500}" \
        --rate "${CRASH_RATE:-10000}" --seed "${CRASH_SEED:-$(date +%Y%m%d)}" --out "$out" \
        --snapshot-every-records "${CRASH_SNAPSHOT_EVERY:-20000}" ${CRASH_ARGS:-}
}

for part in $parts; do
    case $part in
        fuzz) fuzz ;;
        crash) crash ;;
        *)
            echo "SOAK_PARTS: unknown part \`$part\` (fuzz, crash)" >&2
            exit 2
            ;;
    esac
done
