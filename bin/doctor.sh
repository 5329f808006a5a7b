#!/usr/bin/env bash
# The doctor: can this machine run the images? Prints a table with a fix on every failing row. See --help.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The package is run from this checkout, not installed: the host side needs nothing but python3.
PYTHONPATH="$(dirname "${here}")${PYTHONPATH:+:${PYTHONPATH}}" TALKINGFACE_PROG="$(basename "$0")" \
  exec python3 -m talkingface.doctor "$@"
