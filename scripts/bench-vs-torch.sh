#!/usr/bin/env bash
# ONNX Runtime (merit-studio bench) against PyTorch eager (models/training/bench_torch.py) on the
# same synthetic audio with the same threads, alternating RUNS times in one run; the last line reads
# "ratio onnxruntime/pytorch: X.XX", the median of PyTorch's time divided by ONNX Runtime's
# (2.00: ONNX Runtime twice as fast). Both include the one-pass trajectory, enhancement and routing.
#
#   scripts/bench-vs-torch.sh [--seconds S] [--threads N] [--model M] [--runs R] [--chunk-seconds C] [--studio BIN] [--float]
#
# Defaults: 600 s of audio, 2 threads, the shipped compact model, 3 runs, the studio's chunks (20 s,
# as many per run as the studio puts in one), the model's CPU variant where it has one (--float: the
# model file itself, as PyTorch); the studio is built
# (release, in $CARGO_TARGET_DIR or target/) unless --studio names a merit-studio binary to use. Never run it while
# something else (a training run) shares the cores: the ratio would measure the neighbour.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600 threads=2 runs=3 chunk=20 model=models/sparse-merit-compact.onnx studio= float=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --chunk-seconds) chunk=$2; shift 2 ;;
    --studio) studio=$(realpath "$2"); shift 2 ;;
    --float) float=(--float); shift ;;
    *) echo "usage: scripts/bench-vs-torch.sh [--seconds S] [--threads N] [--model M] [--runs R] [--chunk-seconds C] [--studio BIN] [--float]" >&2; exit 2 ;;
  esac
done
model=$(realpath "$model")
bash scripts/setup-runtime.sh >/dev/null
bash models/training/setup.sh
if [[ -z $studio ]]; then
  cargo build --release --quiet
  studio=${CARGO_TARGET_DIR:-target}/release/merit-studio
fi
ours=() theirs=()
for run in $(seq "$runs"); do
  # On the CPU the studio runs the model's int8 variant when one sits beside it (bench's "model" line
  # names the file that ran); PyTorch runs the model itself.
  bench=$("$studio" bench --model "$model" --device cpu --seconds "$seconds" --jobs "$threads" --chunk-seconds "$chunk" ${float[@]+"${float[@]}"})
  ort_s=$(awk '$1 == "time" {print $2}' <<<"$bench")
  [[ $run -gt 1 ]] || awk '$1 == "model" {gsub(/[()]/, "", $NF); print "onnxruntime runs " $NF}' <<<"$bench"
  torch_s=$(cd models/training && OMP_NUM_THREADS=$threads .venv/bin/python bench_torch.py --model "$model" --seconds "$seconds" --threads "$threads" --chunk-seconds "$chunk" | awk '$1 == "elapsed_s" {print $2}')
  echo "run $run: onnxruntime ${ort_s} s, pytorch ${torch_s} s"
  ours+=("$ort_s") theirs+=("$torch_s")
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
ours, theirs = (list(map(float, arg.split())) for arg in sys.argv[1:])
print(f"median: onnxruntime {statistics.median(ours):.2f} s, pytorch {statistics.median(theirs):.2f} s")
print(f"ratio onnxruntime/pytorch: {statistics.median([t / o for o, t in zip(ours, theirs)]):.2f}")
PY
