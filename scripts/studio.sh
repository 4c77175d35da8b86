#!/usr/bin/env bash
# Sets up what MERIT Studio needs (system packages, ONNX Runtime) and opens the studio on the
# bundled demo project, or on the project, folder or manifest given as the first argument.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/setup-runtime.sh
exec cargo run --release --quiet -- "${@:-projects/demo}"
