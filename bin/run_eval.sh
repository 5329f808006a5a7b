#!/usr/bin/env bash
# Evaluation: score predicted videos against ground truth in the talkingface/eval image. See ./bin/run_eval.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TALKINGFACE_PROG="$(basename "$0")" exec python3 "${here}/talkingface" eval "$@"
