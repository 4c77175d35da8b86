#!/usr/bin/env bash
# Regenerates the demo project's recordings: synthetic speech (espeak-ng) in four prosody styles,
# mixed with synthetic noise (sox) at a stated SNR, written in several formats and sample rates.
# Everything here is generated from scratch by this script and released under CC0-1.0.
# Needs: espeak-ng, sox, ffmpeg (apt-get install espeak-ng sox ffmpeg).
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p audio

rms() { sox "$1" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}'; }

# make NAME VOICE RATE_WPM PITCH TEXT NOISE SNR_DB  -> $work/NAME.wav (22.05 kHz mono)
make() {
  local name=$1 voice=$2 wpm=$3 pitch=$4 text=$5 noise=$6 snr=$7
  espeak-ng -v "en+$voice" -s "$wpm" -p "$pitch" -w "$work/$name.clean.wav" "$text"
  # Level is not a cue: every clean utterance is normalised to -24 dBFS RMS before mixing.
  local gain; gain=$(awk -v r="$(rms "$work/$name.clean.wav")" 'BEGIN {print 0.0631/r}')
  sox "$work/$name.clean.wav" "$work/$name.norm.wav" vol "$gain" pad 0.3 0.3
  local dur; dur=$(soxi -D "$work/$name.norm.wav")
  case $noise in
    white) sox -n -r 22050 -c 1 "$work/$name.noise.wav" synth "$dur" whitenoise ;;
    pink) sox -n -r 22050 -c 1 "$work/$name.noise.wav" synth "$dur" pinknoise ;;
    brown) sox -n -r 22050 -c 1 "$work/$name.noise.wav" synth "$dur" brownnoise ;;
    hum) sox -n -r 22050 -c 1 "$work/$name.noise.wav" synth "$dur" sine 50 sine 150 sine 250 remix - ;;
  esac
  local noise_gain; noise_gain=$(awk -v s="$(rms "$work/$name.norm.wav")" -v n="$(rms "$work/$name.noise.wav")" -v snr="$snr" \
    'BEGIN {print s / n / (10 ^ (snr / 20))}')
  sox "$work/$name.noise.wav" "$work/$name.noise2.wav" vol "$noise_gain"
  sox -m "$work/$name.norm.wav" "$work/$name.noise2.wav" "$work/$name.wav"
}

make angry_m1   m3 190 75 "Put that down right now, I told you a hundred times." white 5
make sad_f1     f2 120 25 "I waited all evening, but nobody came back home." pink 10
make happy_m2   m1 175 90 "We won the match, come and see the trophy!" hum 5
make neutral_f2 f4 160 50 "The train leaves from platform four at nine." brown 0
make happy_f3   f3 170 95 "What a lovely surprise, thank you so much!" pink 0
make neutral_m3 m2 160 45 "Please send the report before the meeting." white 10

sox "$work/angry_m1.wav" -r 16000 -b 16 audio/angry_m1.wav                       # 16 kHz 16-bit PCM WAV
sox "$work/sad_f1.wav" -r 48000 -b 24 audio/sad_f1.flac                          # 48 kHz 24-bit FLAC
sox "$work/happy_m2.wav" -r 44100 -c 2 "$work/happy_m2.44k.wav"
ffmpeg -loglevel error -y -i "$work/happy_m2.44k.wav" -c:a libmp3lame -b:a 96k audio/happy_m2.mp3  # 44.1 kHz stereo MP3
ffmpeg -loglevel error -y -i "$work/neutral_f2.wav" -c:a libvorbis -q:a 4 audio/neutral_f2.ogg   # 22.05 kHz Vorbis
sox "$work/happy_f3.wav" -r 32000 "$work/happy_f3.32k.wav"
ffmpeg -loglevel error -y -i "$work/happy_f3.32k.wav" -c:a aac -b:a 64k audio/happy_f3.m4a        # 32 kHz AAC in MP4
sox "$work/neutral_m3.wav" -r 8000 -e floating-point -b 32 -c 2 audio/neutral_m3.wav             # 8 kHz float stereo WAV
echo "wrote $(ls audio | wc -l) recordings to $(pwd)/audio"
