#!/usr/bin/env bash
# The README's label-efficiency curve: how much the studio's Retrain gains from N labels of a voice
# family the model never met. Needs run_lofo.sh's model for the family (trained and pre-trained
# without any of its audio, in every split). Exports that model to ONNX, builds a studio project of
# the family's recordings of SPLITS (default all three: train's clean utterances, dev's and test's
# clean and noisy ones; the real-voice family has 2 speakers in dev and 2 in test, too few for a
# speaker-disjoint 20 % held-out part without train's 8) labelled as the corpus says (annotator
# "corpus"), and runs scripts/label-efficiency.sh on it. CLEAN=1 keeps only the recordings without
# added noise (project and output folder named with "-clean"). Each step is skipped when its output exists;
# timings go to WORK_DIR/timings.jsonl.
#
#   [TRAIN=METHOD] [DRAW=speaker] [SIZES=25,50,100,200,all] [SPLITS=train,dev,test] [CLEAN=1] models/training/run_label_efficiency.sh [WORK_DIR] [FAMILY]
#   (default: models/training/work, espeak)
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m "${1:-work}")
family=${2:-espeak}
py=.venv/bin/python
root=$(cd ../.. && pwd)
checkpoint=$work/runs/lofo-$family/sparse_merit/model.pt
[[ -f $checkpoint ]] || { echo "run models/training/run_lofo.sh $work $family first ($checkpoint is missing)" >&2; exit 2; }
model=$work/lofo-$family.onnx
splits=${SPLITS:-train,dev,test}
clean=${CLEAN:+-clean} # merit.family_project --clean: the recordings without added noise alone
project=$work/projects/$family-${splits//,/-}$clean
method=${TRAIN:-} # merit.finetune --train (default: its default); another method writes beside it
draw=${DRAW:-}    # merit.label_efficiency --draw (default: class); another draw writes beside it
sizes=${SIZES:-}  # merit.label_efficiency --sizes: the same folder, its finished sizes reused
out=$work/label-efficiency/$family-${splits//,/-}$clean${method:+-$method}${draw:+-draw-$draw}

source timed.sh

[[ -f $model ]] || $py -m merit.family_project export --checkpoint "$checkpoint" --family "$family" --out "$model"
if [[ ! -d $project/annotations ]]; then
  $py -m merit.family_project project --corpus "$work/corpus/manifest.jsonl" --family "$family" --splits "$splits" ${clean:+--clean} --out "$project"
  (cd "$root" && cargo build --release --quiet)
  "$root/target/release/merit-studio" label "$project" --annotator corpus <"$project/labels.jsonl" >"$project/label-acks.jsonl"
fi
# A finished curve is not redone, unless SIZES asks for sizes (the finished ones are read back).
[[ -f $out/curve.json && -z $sizes ]] || timed "label efficiency $family" bash "$root/scripts/label-efficiency.sh" "$project" --model "$model" --out "$out" ${method:+--train "$method"} ${draw:+--draw "$draw"} ${sizes:+--sizes "$sizes"}
$py - "$out/curve.json" <<'PY'
import json, sys

result = json.load(open(sys.argv[1]))
parent = result["parent"]["macro_f1"]
for size in result["sizes"]:
    seconds = max(run["seconds"] for run in size["runs"])
    print(f"labels {size['labels']}: macro-F1 {size['macro_f1']:.3f} (parent {parent:.3f}); slowest run {seconds:.0f} s")
PY
