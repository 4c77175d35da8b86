#!/usr/bin/env bash
# Leave-one-voice-family-out, the generalisation table of the model card: for each voice family
# (espeak, festival, real), pre-training and Sparse MERIT without any of that family's audio, then
# evaluation on the family's test split with the noisy input and RNNoise beside it. Resumable like
# run_all.sh (run that first: it makes the corpus and the RNNoise outputs); timings go to the same
# WORK_DIR/timings.jsonl. Afterwards rerun run_all.sh's last stage (it is quick) to put the table in
# the card:
#
#   models/training/run_lofo.sh [WORK_DIR] [FAMILY...]     (default: models/training/work, all three)
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m "${1:-work}")
shift || true
families=("${@:-espeak festival real}")
read -r -a families <<<"${families[*]}"
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
[[ -f $corpus && -f $work/rnnoise/.done ]] || { echo "run models/training/run_all.sh $work first (corpus and RNNoise outputs)" >&2; exit 2; }

timed() { # STAGE CMD...: as in run_all.sh
  local stage=$1
  shift
  /usr/bin/time -a -o "$work/timings.jsonl" -f "{\"stage\": \"$stage\", \"wall_s\": %e, \"user_s\": %U, \"system_s\": %S, \"exit\": %x}" "$@"
}

for family in "${families[@]}"; do
  runs=$work/runs/lofo-$family
  mkdir -p "$runs/sparse_merit"
  [[ -f $runs/pretrain/backbone.pt ]] || timed "lofo $family pretrain" $py -m merit.pretrain --corpus "$corpus" --out "$runs/pretrain" --threads 2 --epochs 6 --exclude-family "$family"
  [[ -f $runs/sparse_merit/model.pt ]] || timed "lofo $family train" $py -m merit.train --variant sparse_merit --corpus "$corpus" --threads 2 \
    --backbone "$runs/pretrain/backbone.pt" --exclude-family "$family" --out "$runs/sparse_merit" >>"$runs/sparse_merit/stdout.log" 2>&1
  [[ -f $work/eval-lofo/$family/results.json ]] || timed "lofo $family evaluate" $py -m merit.evaluate --corpus "$corpus" --runs "$runs" \
    --rnnoise "$work/rnnoise" --family "$family" --only "noisy input,sparse_merit,rnnoise" --perceptual-utterances 0 --out "$work/eval-lofo/$family" --threads 2
done
