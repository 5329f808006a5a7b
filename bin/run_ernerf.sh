#!/usr/bin/env bash
# ER-NeRF: every verb runs in the talkingface/ernerf image. See ./bin/run_ernerf.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TALKINGFACE_PROG="$(basename "$0")" exec python3 "${here}/talkingface" ernerf "$@"
