#!/usr/bin/env bash
# Leave-one-voice-family-out, the generalisation table of the model card: for each voice family
# (espeak, festival, real), pre-training and Sparse MERIT without any of that family's audio (trained,
# its SE head polished and its pitch path refitted as run_all.sh's), then evaluation on the family's test split with the noisy input and
# RNNoise beside it. Resumable like
# run_all.sh (and like it, it starts with prepare.sh: the corpus and RNNoise's outputs); timings go to the same
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
#
# One training's seed moves a held-out family's SER by as much as 0.16 (models/README.md), so judge a
# recipe on several: SEEDS="0 1 2" trains it once per seed (merit.train --seed; seed 0 is the plain
# run, seed N writes beside it with "-seedN" added to its name) and ends with each family's figures
# per seed, their mean and range.
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
bash prepare.sh "$work"

source timed.sh

threads=${THREADS:-2} # torch threads per stage (1 when two run_lofo.sh share 2 cores)
read -r -a seeds <<<"${SEEDS:-0}"
source recipe.sh # the head, schedule and refit options of run_all.sh's trainings
evaluations=()
for seed in "${seeds[@]}"; do
  for family in "${families[@]}"; do
    suffix=${RECIPE:+-$RECIPE}
    read -r -a recipe_args <<<"${RECIPE_ARGS:-}"
    if [[ $seed != 0 ]]; then
      suffix=$suffix-seed$seed
      recipe_args+=(--seed "$seed")
    fi
    evaluations+=("$seed:$work/eval-lofo$suffix/$family/results.json")
    pretrain=$work/runs/lofo-$family/pretrain
    runs=$work/runs/lofo-$family$suffix
    [[ -f $pretrain/backbone.pt ]] || timed "lofo $family pretrain" $py -m merit.pretrain --corpus "$corpus" --out "$pretrain" --threads "$threads" --epochs 6 --exclude-family "$family"
    mkdir -p "$runs/sparse_merit-trained"
    [[ -f $runs/sparse_merit-trained/model.pt ]] || timed "lofo $family$suffix train" $py -m merit.train --variant sparse_merit --corpus "$corpus" --threads "$threads" \
      --backbone "$pretrain/backbone.pt" --exclude-family "$family" "${head[@]}" "${sparse_merit_options[@]}" "${recipe_args[@]}" --out "$runs/sparse_merit-trained" \
      >>"$runs/sparse_merit-trained/stdout.log" 2>&1
    [[ -f $runs/sparse_merit-polished/model.pt ]] || timed "lofo $family$suffix polish" $py -m merit.se_polish --model "$runs/sparse_merit-trained/model.pt" \
      --corpus "$corpus" --exclude-family "$family" --out "$runs/sparse_merit-polished" --threads "$threads" "${polish_options[@]}" \
      >>"$runs/sparse_merit-polished.log" 2>&1
    [[ -f $runs/sparse_merit/model.pt ]] || timed "lofo $family$suffix refit" $py -m merit.refit --model "$runs/sparse_merit-polished/model.pt" \
      --corpus "$corpus" --exclude-family "$family" --out "$runs/sparse_merit" --threads "$threads" "${refit_options[@]}"
    [[ -f $work/eval-lofo$suffix/$family/results.json ]] || timed "lofo $family$suffix evaluate" $py -m merit.evaluate --corpus "$corpus" --runs "$runs" \
      --rnnoise "$work/rnnoise" --family "$family" --only "noisy input,sparse_merit,rnnoise" --perceptual-utterances 0 --out "$work/eval-lofo$suffix/$family" --threads "$threads"
  done
done
[[ ${#seeds[@]} -gt 1 ]] || exit 0
$py - "${evaluations[@]}" <<'PY'
import json, sys
from collections import defaultdict

figures = defaultdict(list)  # family -> [(seed, clean F1, -5 dB unseen F1, SSNR there)]
for item in sys.argv[1:]:
    seed, path = item.split(":", 1)
    for family, systems in json.load(open(path))["by_family"].items():
        ours = systems["sparse_merit"]
        figures[family].append((seed, ours["clean"]["macro_f1"], ours["unseen/-5dB"]["macro_f1"], ours["unseen/-5dB"]["ssnr"]))
for family, rows in figures.items():
    print(f"{family} held out: seed, clean macro-F1, -5 dB unseen macro-F1, SSNR at -5 dB unseen (dB)")
    for seed, *values in rows:
        print(f"  seed {seed}: {values[0]:.3f}  {values[1]:.3f}  {values[2]:+.2f}")
    columns = list(zip(*(values for _, *values in rows)))
    print("  mean (range): " + "  ".join(f"{sum(c) / len(c):.3f} ({min(c):.3f} to {max(c):.3f})" for c in columns))
PY
