#!/usr/bin/env bash
# The long runs of the reliability tests, in release mode: the property tests over every parser of
# hostile input (tests/hostile_input.rs) with CASES cases per property and file type, then the
# window killed KILLS times mid-labelling (tests/window_kills.rs). Prints the case count, the kill
# count and the wall times.
#
#   scripts/fuzz.sh [CASES] [KILLS]   (defaults 50000: 20 property x type runs, 1,000,000 cases; 200)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-50000}
kills=${2:-200}
# Runs per property: 6 extensions of random bytes, 6 demo files mutated, 4 manifest kinds, and one
# each for project.json, model cards, journals and the importers (each case feeds all six).
runs=20
bash scripts/setup-system.sh
cargo build --release --tests --quiet
start=$(date +%s)
MERIT_FUZZ_CASES=$cases MERIT_FUZZ_WATCHDOG_S=2 cargo test --release --test hostile_input -- --test-threads=1
echo "fuzz: $((cases * runs)) cases ($cases per property and file type) in $(( $(date +%s) - start )) s"
start=$(date +%s)
MERIT_WINDOW_KILLS=$kills cargo test --release --test window_kills -- --nocapture
echo "window kills: $kills in $(( $(date +%s) - start )) s"
