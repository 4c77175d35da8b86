#!/usr/bin/env bash
# What every stage of the model pipeline reads, made once per work folder (each step skipped when
# done): the Python environment, the corpus's voices, corpus v2 (merit.corpus) and RNNoise's outputs
# on its test split (the studio's `rnnoise` command, so the studio is built here). run_all.sh,
# run_lofo.sh and run_se_head.sh start with it.
#
#   models/training/prepare.sh [WORK_DIR]        (default WORK_DIR: models/training/work)
set -euo pipefail
cd "$(dirname "$0")"
work=$(realpath -m -s "${1:-work}")
source timed.sh
bash setup.sh
bash setup-corpus.sh
py=.venv/bin/python
corpus=$work/corpus/manifest.jsonl
mkdir -p "$work"
[[ -f $work/corpus/corpus.json && -f $corpus ]] || timed corpus $py -m merit.corpus --out "$work/corpus"
if [[ ! -f $work/rnnoise/.done ]]; then
  # The studio's build needs the system packages (ALSA and udev headers) on a fresh machine.
  (cd ../.. && bash scripts/setup-system.sh && timed "build studio" cargo build --release --quiet)
  $py -c "import json; [print('$work/corpus/'+r['path']) for r in map(json.loads, open('$corpus')) if r['split']=='test']" >"$work/test-files.txt"
  timed rnnoise ../../target/release/merit-studio rnnoise --list "$work/test-files.txt" --root "$work/corpus" --out "$work/rnnoise"
  touch "$work/rnnoise/.done"
fi
