#!/usr/bin/env bash
# The leave-one-voice-family-out recipe trained longer on a GPU machine that cannot reach the corpus
# (the device machines of our workplace: nothing can be fetched there, and a call carries at most
# 64 MiB). Two steps:
#
#   gpu_lofo.sh pack WORK OUT    here: FLAC copies of what training reads (train utterances, dev,
#                                training noise, the manifest) and the three families' pre-trained
#                                backbones, in one tar split into 46 MiB parts OUT/pNN/partNN, and
#                                the soundfile wheels in OUT/whl (carry one part per call, then run)
#   gpu_lofo.sh run PARTS OUT    there (python3 with torch): joins PARTS/part*, restores the WAVs,
#                                trains the three families at once (FROZEN_EPOCHS, FINETUNE_EPOCHS, RECIPE_ARGS,
#                                TRAIN_S), and
#                                leaves each model.pt in 15 MiB pieces OUT/FAMILY-model.NN (cat them) and
#                                the logs in OUT/logs.tgz
#
# Session 12 tried it once on an H100 with 32 + 8 epochs (the default here): the
# machine stopped answering during the run and nothing came back; SMOKE="--max-clips 100" with
# FROZEN_EPOCHS=1 FINETUNE_EPOCHS=1 runs the same path on a CPU in about a minute.
set -euo pipefail
step=${1:?pack or run}
case $step in
pack)
  work=$(realpath "${2:?WORK}")
  out=$(realpath -m "${3:?OUT}")
  cd "$(dirname "$0")"
  staging=$(mktemp -d)
  trap 'rm -rf "$staging"' EXIT
  .venv/bin/python - "$work/corpus" "$staging/corpus" <<'PY'
import pathlib, sys
from concurrent.futures import ProcessPoolExecutor
import soundfile as sf
source, target = map(pathlib.Path, sys.argv[1:])
def to_flac(path):
    out = target / path.relative_to(source).with_suffix(".flac")
    out.parent.mkdir(parents=True, exist_ok=True)
    data, rate = sf.read(path, dtype="int16")
    sf.write(out, data, rate, format="FLAC", subtype="PCM_16")
files = [p for d in ("train/utterances", "dev/clean", "dev/noisy", "noise/train") for p in (source / d).rglob("*.wav")]
with ProcessPoolExecutor(2) as pool:
    list(pool.map(to_flac, files, chunksize=64))
for name in ("manifest.jsonl", "noise/train/clips.jsonl"):
    (target / name).parent.mkdir(parents=True, exist_ok=True)
    (target / name).write_bytes((source / name).read_bytes())
print(f"{len(files)} files as FLAC")
PY
  mkdir -p "$staging/backbones" "$out/whl"
  for family in espeak festival real; do
    cp "$work/runs/lofo-$family/pretrain/backbone.pt" "$staging/backbones/$family.pt"
  done
  tar -cf "$staging/data.tar" -C "$staging" corpus backbones
  (cd "$staging" && split -b 46M -d data.tar part)
  for part in "$staging"/part*; do
    mkdir -p "$out/p${part##*part}"
    mv "$part" "$out/p${part##*part}/"
  done
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$out/whl" soundfile==0.14.0 cffi pycparser
  ls -R "$out"
  ;;
run)
  parts=$(realpath "${2:?PARTS}")
  out=$(realpath -m "${3:?OUT}")
  cd "$(dirname "$0")"
  py=${PY:-python3}
  export PYTHONUNBUFFERED=1
  if ! $py -c "import soundfile" 2>/dev/null; then
    $py -m pip install -q --no-index --no-deps --target /tmp/site "${WHEELS:-$parts/../whl}"/*.whl
    export PYTHONPATH=/tmp/site
  fi
  data=$(mktemp -d)
  cat "$parts"/part* | tar -x -C "$data"
  $py - "$data/corpus" <<'PY'
import pathlib, sys
from concurrent.futures import ProcessPoolExecutor
import soundfile as sf
def to_wav(path):
    data, rate = sf.read(path, dtype="int16")
    sf.write(path.with_suffix(".wav"), data, rate, subtype="PCM_16")
    path.unlink()
files = sorted(pathlib.Path(sys.argv[1]).rglob("*.flac"))
with ProcessPoolExecutor(4) as pool:
    list(pool.map(to_wav, files, chunksize=32))
print(f"{len(files)} WAVs restored")
PY
  mkdir -p "$out"
  # run_all.sh's recipe (recipe.sh), trained longer by default; RECIPE_ARGS adds merit.train options.
  FROZEN_EPOCHS=${FROZEN_EPOCHS:-32} FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-8}
  source recipe.sh
  read -r -a recipe <<<"${RECIPE_ARGS:-}"
  read -r -a smoke <<<"${SMOKE:-}"
  for family in espeak festival real; do
    mkdir -p "$data/runs/$family"
    timeout "${TRAIN_S:-420}" $py -m merit.train --variant sparse_merit --corpus "$data/corpus/manifest.jsonl" --threads 4 \
      --backbone "$data/backbones/$family.pt" --exclude-family "$family" "${head[@]}" "${sparse_merit_options[@]}" "${recipe[@]}" "${smoke[@]}" \
      --out "$data/runs/$family" >"$data/runs/$family/stdout.log" 2>&1 &
  done
  wait || true
  for family in espeak festival real; do
    echo "== $family"
    tail -n 2 "$data/runs/$family/stdout.log" | cut -c1-400
    # A run cut short by TRAIN_S leaves its best epoch (a plain state dict).
    model=$data/runs/$family/model.pt
    [[ -f $model ]] || model=$data/runs/$family/best.pt
    [[ -f $model ]] && split -b 15M -d "$model" "$out/$family-$(basename "$model" .pt)."
  done
  # At most 8 files come back from a device call: six model pieces and one archive of the logs.
  (cd "$data/runs" && tar -czf "$out/logs.tgz" ./*/log.jsonl ./*/stdout.log 2>/dev/null || true)
  rm -rf "$data"
  ;;
*)
  echo "usage: gpu_lofo.sh pack WORK OUT | run PARTS OUT" >&2
  exit 2
  ;;
esac
