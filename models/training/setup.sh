#!/usr/bin/env bash
# Creates models/training/.venv with the pinned requirements (once; again when requirements.txt changes).
set -euo pipefail
cd "$(dirname "$0")"
python="${PYTHON:-python3}"
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
echo "setting up the model pipeline's Python environment in models/training/.venv (torch is large; a few minutes)"
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$want" > "$stamp"
