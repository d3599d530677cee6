#!/bin/sh
# Regenerates the sound assets with SoX (sox 14.4). Every file is 48 kHz,
# mono, signed 16-bit PCM WAV without dither, so the output is reproducible.
#
# Each file holds only the audible part of one cycle; assets.PCM appends the
# cycle's silent part (see the table in assets.go), which keeps the files small.
#
#   ringtone.wav  six notes alternating G5 (784 Hz) and E5 (659 Hz), 1.2 s;
#                 the cycle is 2 s (0.8 s of silence appended)
#   ringback.wav  425 Hz for 1 s (European ringback); cycle 1 s on, 4 s off
#   busy.wav      425 Hz for 0.5 s (European busy tone); cycle 0.5 s on, 0.5 s off
#   hangup.wav    a short blip falling from 880 Hz to 440 Hz, 0.25 s
set -eu
cd "$(dirname "$0")"
out="-D -r 48000 -c 1 -b 16 -e signed-integer"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

note() { # note FILE FREQ
	sox -n $out "$1" synth 0.16 sine "$2" fade h 0.005 0.16 0.12 vol 0.35 pad 0 0.04
}
note "$tmp/g.wav" 784
note "$tmp/e.wav" 659
sox "$tmp/g.wav" "$tmp/e.wav" "$tmp/g.wav" "$tmp/e.wav" "$tmp/g.wav" "$tmp/e.wav" $out ringtone.wav

sox -n $out ringback.wav synth 1 sine 425 fade h 0.01 1 0.01 vol 0.4
sox -n $out busy.wav synth 0.5 sine 425 fade h 0.01 0.5 0.01 vol 0.4
sox -n $out hangup.wav synth 0.25 sine 880:440 fade h 0.005 0.25 0.1 vol 0.4
