#!/usr/bin/env bash
# NeRFFaceSpeech (one photo + speech; inference only): every verb runs in the talkingface/nerffacespeech image. See ./bin/run_nerffacespeech.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TALKINGFACE_PROG="$(basename "$0")" exec python3 "${here}/talkingface" nerffacespeech "$@"
