#!/usr/bin/env bash
# The whole model pipeline, end to end and resumable (each stage skips what is already done, and
# training resumes from its last epoch): corpus v2 and RNNoise's outputs (prepare.sh) -> self-supervised pre-training -> Sparse MERIT
# and the baselines (trained, SE heads polished, pitch paths refitted: recipe.sh) -> RNNoise -> evaluation (and SER by input) -> ONNX export of the shipped model
# with its measured card. Every invocation of a stage appends its wall and CPU time to
# WORK_DIR/timings.jsonl, which the card sums per stage.
#
#   models/training/run_all.sh [WORK_DIR]        (default WORK_DIR: models/training/work)
#   FROZEN_EPOCHS=16 FINETUNE_EPOCHS=4 models/training/run_all.sh WORK_DIR   (train longer: recipe.sh)
#   SE_HEAD_INPUT=routed+layers models/training/run_all.sh WORK_DIR   (the SE head reading the layers: recipe.sh)
#   LOFO_RECIPE=layers ... run_all.sh WORK_DIR   (the card's leave-one-family-out table from run_lofo.sh's RECIPE=layers runs)
#
# Trainings and SE-head polishes run as two chains of one thread each (on a busy CPU, multi-threaded
# torch stalls on small ops); with a CUDA GPU torch uses it instead. On 2 CPU cores (session 28, the
# card sums every stage): pre-training 32 min, Sparse MERIT's training 33 min and its 12-epoch polish
# 31 min beside the other chain, the refits 10 to 40 min each depending on what shares the cores. The
# leave-one-voice-family-out trainings are a separate stage: run_lofo.sh. The ablations of earlier
# cards (SER trained on clean speech, Sparse MERIT without pre-training) are left out to fit the
# budget; `merit.train --input clean` and `--train-cnn --frozen-epochs 0` still make them.
set -euo pipefail
cd "$(dirname "$0")"
# -s: a work folder reached through a link (models/training/work -> a larger disk) keeps the name the
# card gives it (merit.ship names it relative to the repository).
work=$(realpath -m -s "${1:-work}")
bash prepare.sh "$work"
source timed.sh
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
runs=$work/runs
mkdir -p "$runs"

[[ -f $runs/pretrain/backbone.pt ]] || timed pretrain $py -m merit.pretrain --corpus "$corpus" --out "$runs/pretrain" --threads 2 --epochs 6
backbone=$runs/pretrain/backbone.pt

train() { # NAME ARGS...: one training, one thread, its output in runs/NAME/stdout.log
  local name=$1
  shift
  mkdir -p "$runs/$name"
  [[ -f $runs/$name/model.pt ]] || timed "train $name" $py -m merit.train --corpus "$corpus" --threads 1 --out "$runs/$name" "$@" >>"$runs/$name/stdout.log" 2>&1
}
polish() { # SOURCE OUT: runs/SOURCE's SE head polished (merit.se_polish) into runs/OUT, one thread
  [[ -f $runs/$2/model.pt ]] || timed "polish $2" $py -m merit.se_polish --model "$runs/$1/model.pt" --corpus "$corpus" \
    --out "$runs/$2" --threads 1 "${polish_options[@]}" >>"$runs/$2.log" 2>&1
}
# Every emotion model has the same head, schedule and refit options, and every SE head the same
# polish (recipe.sh).
source recipe.sh
# Two chains of one thread each. Sparse MERIT's own stages come first, so that a run stopped half-way
# has the shipped model's candidate finished (its refit is one command, below), then naive MTL's; the
# other chain is SE pre-processing: its enhancer, then its SER model, which hears the polished enhancer.
{
  train sparse_merit-trained --variant sparse_merit --backbone "$backbone" "${head[@]}" "${sparse_merit_options[@]}"
  polish sparse_merit-trained sparse_merit-polished
  train mtl-trained --variant mtl --backbone "$backbone" "${head[@]}"
  polish mtl-trained mtl-polished
} &
first=$!
train se_only-trained --variant se_only --backbone "$backbone"
polish se_only-trained se_only
train ser_enhanced-trained --variant ser_only --backbone "$backbone" --input enhanced --enhancer "$runs/se_only/model.pt" "${head[@]}"
wait $first
# Every emotion model's pitch path refitted on the training statistics the same way (merit.refit), so
# the comparison is of the models, not of who got the refit; SE pre-processing's SER model hears its
# enhancer's output there too. runs/sparse_merit is the shipped model.
refit() { # NAME SOURCE ARGS...: runs/SOURCE refitted into runs/NAME
  local name=$1 source=$2
  shift 2
  [[ -f $runs/$name/model.pt ]] || timed "refit $name" $py -m merit.refit --model "$runs/$source/model.pt" --corpus "$corpus" \
    --out "$runs/$name" --threads 2 "${refit_options[@]}" "$@"
}
refit sparse_merit sparse_merit-polished
refit mtl mtl-polished
refit ser_enhanced ser_enhanced-trained --enhancer "$runs/se_only/model.pt"

[[ -f $work/eval/results.json ]] || timed evaluate $py -m merit.evaluate --corpus "$corpus" --runs "$runs" --rnnoise "$work/rnnoise" --out "$work/eval" --threads 2
[[ -f $work/eval/ser_by_input.json ]] || timed ser_by_input $py -m merit.ser_by_input --corpus "$corpus" --runs "$runs" --out "$work/eval" --threads 2
timed ship $py -m merit.ship --model "$runs/sparse_merit/model.pt" --eval "$work/eval" --corpus "$corpus" --work "$work" \
  --out ../sparse-merit-compact.onnx --card ../sparse-merit-compact.md ${LOFO_RECIPE:+--lofo-recipe "$LOFO_RECIPE"}
