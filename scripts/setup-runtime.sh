#!/usr/bin/env bash
# Puts the ONNX Runtime shared library where MERIT Studio looks for it: .runtime/cpu (PyPI wheel
# `onnxruntime`) and, on a machine with an NVIDIA GPU (or MERIT_GPU=1), .runtime/gpu
# (`onnxruntime-gpu`, CUDA 13). Only the wheels' files are unpacked; nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${ORT_VERSION:-1.31.1}"
python="${PYTHON:-python3}"

install_wheel() { # FLAVOUR PACKAGE
  local target=".runtime/$1"
  if compgen -G "$target/onnxruntime/capi/libonnxruntime.so.*" >/dev/null; then
    return
  fi
  if ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "error: $python has no pip; install python3-pip, or set ORT_DYLIB_PATH to a libonnxruntime.so (1.31+)" >&2
    exit 2
  fi
  echo "fetching $2==$version into $target"
  rm -rf "$target"
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$target" "$2==$version"
}

install_wheel cpu onnxruntime
if [[ "${MERIT_GPU:-}" == 1 ]] || { [[ "${MERIT_GPU:-}" != 0 ]] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
  install_wheel gpu onnxruntime-gpu
fi
