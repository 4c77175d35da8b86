#!/usr/bin/env bash
# The whole model pipeline, end to end and resumable (each step skips what is already done):
# corpus -> self-supervised pre-training -> Sparse MERIT and baselines -> RNNoise -> evaluation ->
# ONNX export of the shipped model with its measured card.
#
#   models/training/run_all.sh [WORK_DIR]        (default WORK_DIR: models/training/work)
#
# On 2 CPU cores this takes about an hour and a half (see models/README.md).
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m "${1:-work}")
bash setup.sh
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
runs=$work/runs
[[ -f $work/corpus/prosody.json ]] || $py -m merit.corpus --out "$work/corpus"
$py -m merit.pretrain --corpus "$corpus" --out "$runs/pretrain"
backbone=$runs/pretrain/backbone.pt
train() { $py -m merit.train --corpus "$corpus" "$@"; }
train --variant sparse_merit --backbone "$backbone" --out "$runs/sparse_merit"
train --variant se_only --backbone "$backbone" --out "$runs/se_only"
train --variant mtl --backbone "$backbone" --out "$runs/mtl"
train --variant ser_only --backbone "$backbone" --input enhanced --enhancer "$runs/se_only/model.pt" --out "$runs/ser_enhanced"
train --variant ser_only --backbone "$backbone" --input clean --out "$runs/ser_clean"
train --variant sparse_merit --train-cnn --frozen-epochs 0 --finetune-epochs 6 --out "$runs/scratch"
if [[ ! -f $work/rnnoise/.done ]]; then
  (cd ../.. && cargo build --release --quiet)
  $py -c "import json,sys; [print('$work/corpus/'+r['path']) for r in map(json.loads, open('$corpus')) if r['split']=='test']" > "$work/test-files.txt"
  ../../target/release/merit-studio rnnoise --list "$work/test-files.txt" --root "$work/corpus" --out "$work/rnnoise"
  touch "$work/rnnoise/.done"
fi
$py -m merit.evaluate --corpus "$corpus" --runs "$runs" --rnnoise "$work/rnnoise" --out "$work/eval"
$py -m merit.ship --model "$runs/sparse_merit/model.pt" --eval "$work/eval" --corpus "$corpus" \
  --out ../sparse-merit-compact.onnx --card ../sparse-merit-compact.md
