#!/usr/bin/env bash
# Installs the Debian packages the corpus generator speaks and styles with (merit.corpus checks for
# them and names any that are missing): espeak-ng, Festival with the festvox voices of
# merit/voices.py, and sox (GSM prompts and the GSM codec). Real-voice prompts and noise recordings
# are not installed: the generator unpacks them with `apt-get download` into its cache.
set -euo pipefail
packages=(espeak-ng sox festival festvox-kdlpc16k festvox-czech-machac festvox-ca-ona-hts festvox-czech-dita
  festvox-suopuhe-mv festvox-suopuhe-lj festvox-itapc16k festvox-italp16k)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "installing the corpus's voices: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
