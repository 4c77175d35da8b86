#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up, formatting, lints, Rust tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/setup-runtime.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
# The pipeline's environment before the Rust tests: tests/retrain.rs fine-tunes through it.
bash models/training/setup.sh
echo "== cargo test"
cargo test
echo "== model pipeline tests (pytest)"
(cd models/training && .venv/bin/python -m pytest)
