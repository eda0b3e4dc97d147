#!/usr/bin/env bash
# The fuzz soak: every target of `ringex::fuzz_targets` for FUZZ_SECONDS each (default 600: 10
# minutes per target, issue 20 item 6). With cargo-fuzz (and a nightly toolchain) it runs
# libFuzzer from the seed corpus `fuzz/corpus/<target>/` (read only; new inputs land in
# `fuzz/target/soak-corpus/<target>/`, crashes in `fuzz/artifacts/<target>/`); without it, the
# seeded mutator of tests/fuzz.rs runs each target for the same time with seed RINGEX_FUZZ_SEED
# (default: today's date, so each day's soak explores new inputs). Exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-600}"
targets=(http_framer websocket_frames signing_string decimal journal_record)
if cargo +nightly fuzz --version >/dev/null 2>&1; then
    for target in "${targets[@]}"; do
        echo "cargo fuzz: $target for ${seconds}s"
        mkdir -p "fuzz/target/soak-corpus/$target"
        cargo +nightly fuzz run "$target" "fuzz/target/soak-corpus/$target" "fuzz/corpus/$target" \
            -- -max_total_time="$seconds"
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
