#!/usr/bin/env bash
# Leave-one-voice-family-out, the generalisation table of the model card: for each voice family
# (espeak, festival, real), pre-training and Sparse MERIT without any of that family's audio (trained
# and refitted as run_all.sh's), then evaluation on the family's test split with the noisy input and
# RNNoise beside it. Resumable like
# run_all.sh (run that first: it makes the corpus and the RNNoise outputs); timings go to the same
# WORK_DIR/timings.jsonl. Afterwards rerun run_all.sh's last stage (it is quick) to put the table in
# the card:
#
#   models/training/run_lofo.sh [WORK_DIR] [FAMILY...]     (default: models/training/work, all three)
#
# A training recipe under trial: RECIPE names it and RECIPE_ARGS are merit.train options added to
# the shipped ones (a later --frozen-epochs wins); it reuses the families' pre-trained backbones and
# writes runs/lofo-FAMILY-RECIPE and eval-lofo-RECIPE/FAMILY, beside the shipped recipe's, e.g.
#
#   RECIPE=longer RECIPE_ARGS="--frozen-epochs 16 --finetune-epochs 4" models/training/run_lofo.sh WORK espeak
set -euo pipefail
cd "$(dirname "$0")"
# -s: a work folder reached through a link (models/training/work -> a larger disk) keeps the name the
# card gives it (merit.ship names it relative to the repository).
work=$(realpath -m -s "${1:-work}")
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

threads=${THREADS:-2} # torch threads per stage (1 when two run_lofo.sh share 2 cores)
suffix=${RECIPE:+-$RECIPE}
read -r -a recipe_args <<<"${RECIPE_ARGS:-}"
head=(--pitch-features --speaker-relative --frozen-epochs 8 --finetune-epochs 2) # as run_all.sh's
for family in "${families[@]}"; do
  pretrain=$work/runs/lofo-$family/pretrain
  runs=$work/runs/lofo-$family$suffix
  [[ -f $pretrain/backbone.pt ]] || timed "lofo $family pretrain" $py -m merit.pretrain --corpus "$corpus" --out "$pretrain" --threads "$threads" --epochs 6 --exclude-family "$family"
  mkdir -p "$runs/sparse_merit-trained"
  [[ -f $runs/sparse_merit-trained/model.pt ]] || timed "lofo $family$suffix train" $py -m merit.train --variant sparse_merit --corpus "$corpus" --threads "$threads" \
    --backbone "$pretrain/backbone.pt" --exclude-family "$family" "${head[@]}" "${recipe_args[@]}" --out "$runs/sparse_merit-trained" \
    >>"$runs/sparse_merit-trained/stdout.log" 2>&1
  [[ -f $runs/sparse_merit/model.pt ]] || timed "lofo $family$suffix refit" $py -m merit.refit --model "$runs/sparse_merit-trained/model.pt" \
    --corpus "$corpus" --exclude-family "$family" --out "$runs/sparse_merit" --threads "$threads"
  [[ -f $work/eval-lofo$suffix/$family/results.json ]] || timed "lofo $family$suffix evaluate" $py -m merit.evaluate --corpus "$corpus" --runs "$runs" \
    --rnnoise "$work/rnnoise" --family "$family" --only "noisy input,sparse_merit,rnnoise" --perceptual-utterances 0 --out "$work/eval-lofo$suffix/$family" --threads "$threads"
done
