#!/usr/bin/env bash
# GeneFace: every verb runs in the talkingface/geneface image. See ./bin/run_geneface.sh --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TALKINGFACE_PROG="$(basename "$0")" exec python3 "${here}/talkingface" geneface "$@"
