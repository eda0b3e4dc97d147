#!/usr/bin/env bash
# Long determinism and durability runs (too long for CI): the pipeline tests at larger sizes.
#   RINGEX_DETERMINISM_COMMANDS  commands per determinism run (default here 1,000,000)
#   RINGEX_DURABLE_COMMANDS      commands acknowledged under the fdatasync assert (default 5,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
export RINGEX_DETERMINISM_COMMANDS="${RINGEX_DETERMINISM_COMMANDS:-1000000}"
export RINGEX_DURABLE_COMMANDS="${RINGEX_DURABLE_COMMANDS:-5000000}"
cargo test --release --test pipeline -- --nocapture
