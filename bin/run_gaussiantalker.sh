#!/usr/bin/env bash
# GaussianTalker: every verb runs in the talkingface/gaussiantalker image. See ./bin/run_gaussiantalker.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TALKINGFACE_PROG="$(basename "$0")" exec python3 "${here}/talkingface" gaussiantalker "$@"
