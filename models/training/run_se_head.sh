#!/usr/bin/env bash
# What Sparse MERIT's SE head reads, measured on a finished model (default: the shipped ONNX file):
# its SE head replaced by a freshly initialised one reading the routed expert output (the paper's
# input; a fresh head, so the control for the next) and by one reading the routed output and the
# aggregated layers the experts read (merit.se_polish --new-head), each polished with the recipe's
# options (recipe.sh), then all three scored on the test split beside the noisy input and RNNoise,
# with paired SSNR differences per voice family (merit.evaluate --model). The emotion path is not
# touched, so only enhancement can differ. Resumable; starts with prepare.sh; timings go to
# WORK_DIR/timings.jsonl; results in WORK_DIR/eval-se-head[-FAMILY]/results.md, the dev split's SSNR
# gains in dev.jsonl there.
#
#   models/training/run_se_head.sh [WORK_DIR] [MODEL]
#   FAMILY=real models/training/run_se_head.sh WORK_DIR WORK_DIR/runs/lofo-real/sparse_merit/model.pt
#     (a model trained without the family, run_lofo.sh's: polished without it, scored on it alone)
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m -s "${1:-work}")
model=$(realpath "${2:-../sparse-merit-compact.onnx}")
family=${FAMILY:-}
bash prepare.sh "$work"
source timed.sh
source recipe.sh
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
out=$work/se-head${family:+-$family}
mkdir -p "$out"
polish() { # INPUT: a new SE head reading INPUT, polished into $out/INPUT, one thread
  [[ -f $out/$1/model.pt ]] || timed "se head ${family:+$family }polish $1" $py -m merit.se_polish --model "$model" --new-head "$1" \
    --corpus "$corpus" --out "$out/$1" --threads 1 ${family:+--exclude-family "$family"} "${polish_options[@]}" >>"$out/$1.log" 2>&1
}
polish routed &
first=$!
polish routed+layers
wait $first
evaluation=$work/eval-se-head${family:+-$family}
[[ -f $evaluation/results.json ]] || timed "se head ${family:+$family }evaluate" $py -m merit.evaluate --corpus "$corpus" --runs "$out" \
  --rnnoise "$work/rnnoise" --only "noisy input,rnnoise" --perceptual-utterances 0 ${family:+--family "$family"} --threads 2 \
  --model "source=$model" --model "new_routed=$out/routed/model.pt" --model "new_routed_layers=$out/routed+layers/model.pt" --out "$evaluation"
# The dev split's SSNR gain (seen noise types only), the figure the polish keeps its epoch by.
[[ -f $evaluation/dev.jsonl ]] || $py -m merit.dev_enhancement --corpus "$corpus" --threads 2 ${family:+--exclude-family "$family"} \
  "$model" "$out/routed/model.pt" "$out/routed+layers/model.pt" >"$evaluation/dev.tmp" && mv "$evaluation/dev.tmp" "$evaluation/dev.jsonl"
cat "$evaluation/results.md" "$evaluation/dev.jsonl"
