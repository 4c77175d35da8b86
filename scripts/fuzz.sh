#!/usr/bin/env bash
# The long run of the property tests over every parser of hostile input (tests/hostile_input.rs):
# the same properties as CI's short run, with MERIT_FUZZ_CASES cases per property and file type,
# in release mode. Prints the total number of cases and the wall time.
#
#   scripts/fuzz.sh [CASES]        (default 50000: 20 property x type runs, 1,000,000 cases)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-50000}
# Runs per property: 6 extensions of random bytes, 6 demo files mutated, 4 manifest kinds, and one
# each for project.json, model cards, journals and the importers (each case feeds all six).
runs=20
bash scripts/setup-system.sh
cargo build --release --tests --quiet
start=$(date +%s)
MERIT_FUZZ_CASES=$cases MERIT_FUZZ_WATCHDOG_S=2 cargo test --release --test hostile_input -- --test-threads=1
echo "fuzz: $((cases * runs)) cases ($cases per property and file type) in $(( $(date +%s) - start )) s"
