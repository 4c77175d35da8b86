#!/usr/bin/env bash
# Installs the system packages MERIT Studio needs to build and test (Debian/Ubuntu), only if missing.
#   build: pkg-config, libasound2-dev (rodio's ALSA backend), libudev-dev (gilrs, gamepads for trace mode)
#   tests: python3-venv, espeak-ng, sox, festival with two festvox voices (the model-pipeline tests
#          generate a small corpus v2; models/training/setup-corpus.sh installs the full corpus's voices);
#          slurmctld, slurmd, slurm-client, munge (the cluster test starts a one-machine Slurm)
#   screenshots (MERIT_WITH_DISPLAY_TOOLS=1): xvfb, imagemagick, mesa
set -euo pipefail
packages=(pkg-config libasound2-dev libudev-dev python3-venv espeak-ng sox festival festvox-kdlpc16k festvox-italp16k
  slurmctld slurmd slurm-client munge)
if [[ "${MERIT_WITH_DISPLAY_TOOLS:-0}" == 1 ]]; then
  packages+=(xvfb imagemagick libgl1-mesa-dri libegl1 libxkbcommon-x11-0)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "error: please install these packages with your system's package manager: ${missing[*]}" >&2
    exit 2
  fi
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The corpus generator fetches fortunes, word lists and noise recordings with `apt-get download`,
# which needs package lists.
if command -v apt-get >/dev/null && ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
  [[ $(id -u) == 0 ]] && apt-get update -qq || sudo apt-get update -qq
fi
if ! command -v cargo >/dev/null; then
  echo "error: Rust is not installed: get it from rustup (https://rustup.rs), then run this again" >&2
  exit 2
fi
