#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and the CUDA 13 libraries (e.g. the nvidia-*-cu13
# PyPI wheels), runs `analyze` with --device cuda and --device cpu on the same files and prints the
# provider actually used, the largest CUDA-vs-CPU differences, and the throughput of each; then, at
# batches of 16 and 160 trajectory windows, ONNX Runtime on CUDA against PyTorch eager on CUDA
# (models/training/bench_torch.py, same audio and batch) with the ratio, and the card's peak memory
# in use during each (nvidia-smi). GPU_EXTRA_MODELS (ONNX files, space-separated: e.g. the authors'
# model converted with --fp16, the compact model quantised by merit.cpu_int8) are benched on CUDA too.
#
#   scripts/gpu-check.sh [MODEL] [INPUT...]     (default: the compact model on projects/demo)
#
# By default it installs onnxruntime-gpu into .runtime/gpu and builds the release binary; on a machine
# without PyPI or cargo, set ORT_DYLIB_PATH (a libonnxruntime.so.1.31.x next to its CUDA provider)
# and MERIT_BIN (a built merit-studio) instead. TORCH_PYTHON names a Python with PyTorch (CUDA), onnx,
# numpy and soundfile for the PyTorch side (default: models/training/.venv's, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath "${1:-models/sparse-merit-compact.onnx}")
shift || true
inputs=("${@:-projects/demo}")
if [[ -z "${ORT_DYLIB_PATH:-}" ]]; then
  MERIT_GPU=1 bash scripts/setup-runtime.sh
  ORT_DYLIB_PATH=$(ls .runtime/gpu/onnxruntime/capi/libonnxruntime.so.* | head -n 1)
fi
export ORT_DYLIB_PATH
# The CUDA provider needs cuBLAS, cuDNN, cuFFT, cuRAND and the CUDA runtime: take them from the
# Python environment's nvidia-* packages when they are there.
nvidia_libs=$(python3 - <<'PY' 2>/dev/null || true
import os, nvidia
print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))))
PY
)
export LD_LIBRARY_PATH="${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=${MERIT_BIN:-}
if [[ -z "$bin" ]]; then
  cargo build --release --quiet
  bin=target/release/merit-studio
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
work=$(mktemp -d)
for device in cuda cpu; do
  start=$(date +%s%N)
  # --float: the CPU runs the model file too, not its int8 CPU variant, so the differences below are
  # CUDA's against the CPU's arithmetic alone.
  "$bin" analyze "${inputs[@]}" --model "$model" --device "$device" --float --out "$work/$device" --no-cache
  echo "$device: analyze took $(( ($(date +%s%N) - start) / 1000000 )) ms"
done
python3 - "$work" <<'PY'
import json, sys, pathlib
import numpy as np

def wav_floats(path):
    """The enhanced files are 32-bit float WAVs (hound): read the data chunk with numpy."""
    data = pathlib.Path(path).read_bytes()
    at = 12
    while at < len(data):
        tag, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if tag == b"data":
            return np.frombuffer(data[at + 8:at + 8 + size], dtype="<f4")
        at += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")

work = pathlib.Path(sys.argv[1])
rows = {d: [json.loads(l) for l in open(work / d / "results.jsonl")] for d in ("cuda", "cpu")}
print("providers:", {d: sorted({r.get("provider") for r in rows[d]}) for d in rows})
worst_prob = worst_traj = worst_enh = 0.0
same_top = 0
for a, b in zip(rows["cuda"], rows["cpu"]):
    if a.get("error") or b.get("error"):
        print("error:", a.get("file"), a.get("error") or b.get("error"))
        continue
    worst_prob = max(worst_prob, max(abs(a["probs"][k] - b["probs"][k]) for k in a["probs"]))
    worst_traj = max(worst_traj, float(np.abs(np.array(a["trajectory"]["probs"]) - np.array(b["trajectory"]["probs"])).max()))
    same_top += a["emotion"] == b["emotion"]
    ea, eb = wav_floats(work / "cuda" / a["enhanced"]), wav_floats(work / "cpu" / b["enhanced"])
    worst_enh = max(worst_enh, float(np.abs(ea - eb).max()))
print(f"files: {len(rows['cpu'])}, same top class on CUDA and CPU: {same_top}")
print(f"max |utterance probability difference| CUDA vs CPU: {worst_prob:.2e}")
print(f"max |trajectory probability difference| CUDA vs CPU: {worst_traj:.2e}")
print(f"max |enhanced sample difference| CUDA vs CPU: {worst_enh:.2e}")
PY
seconds=${BENCH_SECONDS:-1800}
# Runs a command while nvidia-smi samples the card's memory in use every 100 ms; prints the peak.
with_peak_gpu_memory() {
  local log status
  log=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$log" 2>/dev/null &
  local poll=$!
  "$@" && status=0 || status=$?
  kill "$poll" 2>/dev/null || true
  wait "$poll" 2>/dev/null || true
  echo "peak GPU memory in use (nvidia-smi, whole card): $(sort -n "$log" | tail -n 1) MB"
  rm -f "$log"
  return "$status"
}
torch_python=${TORCH_PYTHON:-}
[[ -n $torch_python ]] || { [[ -x models/training/.venv/bin/python ]] && torch_python=$PWD/models/training/.venv/bin/python; } || torch_python=python3
if (cd models/training && "$torch_python" -c "import torch, bench_torch; assert torch.cuda.is_available()") 2>/dev/null; then
  torch_ok=1
else
  torch_ok=0
  echo "(PyTorch eager on CUDA is not timed: $torch_python lacks PyTorch with CUDA, or what bench_torch.py imports)"
fi
for batch in 16 160; do
  echo "== onnxruntime on cuda, batch $batch"
  ort_out=$(with_peak_gpu_memory timeout 240 "$bin" bench --model "$model" --device cuda --seconds "$seconds" --batch "$batch") || echo "(bench failed or ran past 240 s)"
  echo "$ort_out"
  [[ $torch_ok == 1 ]] || continue
  echo "== pytorch eager on cuda, batch $batch"
  torch_out=$(cd models/training && with_peak_gpu_memory timeout 240 "$torch_python" bench_torch.py --model "$model" --device cuda --seconds "$seconds" --batch "$batch") || echo "(PyTorch bench failed or ran past 240 s)"
  echo "$torch_out"
  ort_s=$(awk '$1 == "time" {print $2}' <<<"$ort_out")
  torch_s=$(awk '$1 == "elapsed_s" {print $2}' <<<"$torch_out")
  if [[ -n $ort_s && -n $torch_s ]]; then
    python3 -c "print(f'ratio onnxruntime/pytorch on cuda, batch $batch: {$torch_s / $ort_s:.2f}')"
  fi
done
for extra in ${GPU_EXTRA_MODELS:-}; do
  echo "== $extra on cuda, batch 160"
  with_peak_gpu_memory timeout 240 "$bin" bench --model "$extra" --device cuda --seconds "$seconds" --batch 160 || echo "(bench failed or ran past 240 s)"
done
echo "== bench on cpu (all cores)"
timeout 240 "$bin" bench --model "$model" --device cpu --seconds 600 || echo "(bench failed or ran past 240 s)"
