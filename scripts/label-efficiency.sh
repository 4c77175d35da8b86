#!/usr/bin/env bash
# The label-efficiency curve of a project (models/training/merit/label_efficiency.py): its human
# labels (consensus of the journals, or one annotator's) are the truth; a fixed held-out 20 % is
# scored after fine-tuning the model on 25/50/100/200 labels of the rest (mean of 3 seeds).
#
#   scripts/label-efficiency.sh PROJECT [--model M] [--annotator NAME] [--out DIR] [--train METHOD] [--steps N] [--draw class|speaker] [--sizes 25,50,100,200,all]
#
# --model defaults to the shipped compact model; --out to PROJECT/label-efficiency. Prints one line
# per size, "labels N: macro-F1 X.XXX (parent Y.YYY)", and writes DIR/curve.json and DIR/curve.png.
# --train is merit.finetune's (fit, routers, ser-head, all); --steps counts the gradient methods' steps;
# --draw speaker takes each class's labels in turns from its speakers (default: at random within a class);
# --sizes names the numbers of labels (increasing; "all": every label outside the held-out part).
set -euo pipefail
usage() { echo "usage: scripts/label-efficiency.sh PROJECT [--model M] [--annotator NAME] [--out DIR] [--train METHOD] [--steps N] [--draw class|speaker] [--sizes N,N,...,all]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
project=$(realpath "$1")
shift
root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/models/sparse-merit-compact.onnx
out=$project/label-efficiency
annotator=()
steps=200
training=()
draw=()
sizes=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) model=$(realpath "$2"); shift 2 ;;
    --annotator) annotator=(--annotator "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --train) training=(--train "$2"); shift 2 ;;
    --draw) draw=(--draw "$2"); shift 2 ;;
    --sizes) sizes=(--sizes "$2"); shift 2 ;;
    *) usage ;;
  esac
done
cd "$root"
bash scripts/setup-runtime.sh >/dev/null
bash models/training/setup.sh
cargo build --release --quiet
export_dir=$(mktemp -d)
trap 'rm -rf "$export_dir"' EXIT
target/release/merit-studio export "$project" --format jsonl --audio16k "${annotator[@]}" --out "$export_dir/labels.jsonl" >/dev/null
cd models/training
.venv/bin/python -m merit.label_efficiency --model "$model" --manifest "$export_dir/labels.jsonl" --out "$out" --steps "$steps" "${training[@]}" "${draw[@]}" "${sizes[@]}"
