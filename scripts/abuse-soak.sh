#!/usr/bin/env bash
# The hostile-client suite at soak size (too long for CI): the malformed-request corpus at
# RINGEX_ABUSE_CORPUS requests (default here 1,000,000; CI sends 10,240), then every abuse_* test
# ROUNDS times (default 20), so an attack that only sometimes gets through shows.
set -euo pipefail
cd "$(dirname "$0")/.."
export RINGEX_ABUSE_CORPUS="${RINGEX_ABUSE_CORPUS:-1000000}"
cargo test --release --test abuse_corpus -- --nocapture
unset RINGEX_ABUSE_CORPUS
for round in $(seq 1 "${ROUNDS:-20}"); do
    echo "round $round"
    cargo test --release --test abuse_strangers --test abuse_net --test abuse_book \
        --test abuse_replay --test abuse_corpus
done
