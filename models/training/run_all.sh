#!/usr/bin/env bash
# The whole model pipeline, end to end and resumable (each step skips what is already done, and
# training resumes from its last epoch): corpus -> self-supervised pre-training -> Sparse MERIT and
# the baselines -> RNNoise -> evaluation (and SER by input) -> ONNX export of the shipped model with
# its measured card.
#
#   models/training/run_all.sh [WORK_DIR]        (default WORK_DIR: models/training/work)
#
# On 2 CPU cores: about 1.5 hours. Trainings run two at a time with one thread each (on a busy CPU,
# multi-threaded torch stalls on small ops); with a CUDA GPU torch uses it instead.
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m "${1:-work}")
bash setup.sh
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
runs=$work/runs
mkdir -p "$runs"
[[ -f $work/corpus/prosody.json ]] || $py -m merit.corpus --out "$work/corpus"
$py -m merit.pretrain --corpus "$corpus" --out "$runs/pretrain" --threads 2
backbone=$runs/pretrain/backbone.pt

train() { # NAME ARGS...: one training, one thread, its output in runs/NAME/stdout.log
  local name=$1
  shift
  mkdir -p "$runs/$name"
  $py -m merit.train --corpus "$corpus" --threads 1 --out "$runs/$name" "$@" >>"$runs/$name/stdout.log" 2>&1
}
train sparse_merit --variant sparse_merit --backbone "$backbone" &
first=$!
train se_only --variant se_only --backbone "$backbone"
wait $first
train mtl --variant mtl --backbone "$backbone" &
first=$!
train ser_enhanced --variant ser_only --backbone "$backbone" --input enhanced --enhancer "$runs/se_only/model.pt"
wait $first
train ser_clean --variant ser_only --backbone "$backbone" --input clean &
first=$!
train scratch --variant sparse_merit --train-cnn --frozen-epochs 0 --finetune-epochs 5
wait $first

if [[ ! -f $work/rnnoise/.done ]]; then
  (cd ../.. && cargo build --release --quiet)
  $py -c "import json; [print('$work/corpus/'+r['path']) for r in map(json.loads, open('$corpus')) if r['split']=='test']" >"$work/test-files.txt"
  ../../target/release/merit-studio rnnoise --list "$work/test-files.txt" --root "$work/corpus" --out "$work/rnnoise"
  touch "$work/rnnoise/.done"
fi
$py -m merit.evaluate --corpus "$corpus" --runs "$runs" --rnnoise "$work/rnnoise" --out "$work/eval" --threads 2
$py -m merit.ser_by_input --corpus "$corpus" --runs "$runs" --out "$work/eval" --threads 2
$py -m merit.ship --model "$runs/sparse_merit/model.pt" --eval "$work/eval" --corpus "$corpus" \
  --out ../sparse-merit-compact.onnx --card ../sparse-merit-compact.md
