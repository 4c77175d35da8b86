#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and the CUDA 13 libraries (e.g. the nvidia-*-cu13
# PyPI wheels), runs `analyze` with --device cuda and --device cpu on the same files and prints the
# provider actually used, the largest CUDA-vs-CPU differences, and the throughput of each.
#
#   scripts/gpu-check.sh [MODEL] [INPUT...]     (default: the compact model on projects/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/sparse-merit-compact.onnx}
shift || true
inputs=("${@:-projects/demo}")
MERIT_GPU=1 bash scripts/setup-runtime.sh
# The CUDA provider needs cuBLAS, cuDNN, cuFFT, cuRAND and the CUDA runtime: take them from the
# Python environment's nvidia-* packages when they are there.
nvidia_libs=$(python3 - <<'PY' 2>/dev/null || true
import os, nvidia
print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))))
PY
)
export LD_LIBRARY_PATH="${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ORT_DYLIB_PATH=$(ls .runtime/gpu/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
cargo build --release --quiet
bin=target/release/merit-studio
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
work=$(mktemp -d)
for device in cuda cpu; do
  start=$(date +%s.%N)
  $bin analyze "${inputs[@]}" --model "$model" --device "$device" --out "$work/$device"
  end=$(date +%s.%N)
  echo "$device: analyze took $(echo "$end - $start" | bc) s"
done
python3 - "$work" <<'PY'
import json, sys, wave, struct, pathlib
work = pathlib.Path(sys.argv[1])
rows = {d: [json.loads(l) for l in open(work / d / "results.jsonl")] for d in ("cuda", "cpu")}
print("providers:", {d: sorted({r.get("provider") for r in rows[d]}) for d in rows})
def floats(path):
    import numpy as np, soundfile as sf
    return sf.read(path, dtype="float32")[0]
worst_prob = worst_enh = 0.0
for a, b in zip(rows["cuda"], rows["cpu"]):
    if a.get("error") or b.get("error"):
        continue
    worst_prob = max(worst_prob, max(abs(a["probs"][k] - b["probs"][k]) for k in a["probs"]))
    ea, eb = floats(work / "cuda" / a["enhanced"]), floats(work / "cpu" / b["enhanced"])
    worst_enh = max(worst_enh, float(abs(ea - eb).max()))
print(f"max |probability difference| CUDA vs CPU: {worst_prob:.2e}")
print(f"max |enhanced sample difference| CUDA vs CPU: {worst_enh:.2e}")
PY
for device in cuda cpu; do
  echo "== bench on $device"
  $bin bench --model "$model" --device "$device" --seconds 600
done
