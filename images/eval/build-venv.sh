#!/usr/bin/env bash
# The eval image's Python environment, in /opt/venv: pinned pip tooling, torch from PyTorch's index, then the
# line's lock from PyPI with --no-deps (the lock already holds every dependency, so nothing floats).
set -euo pipefail
: "${TORCH_INDEX:?}" "${TORCH_PINS:?}" "${LOCK:?}"

python3 -m venv /opt/venv
# shellcheck disable=SC1091
. /opt/venv/bin/activate
pip install --no-cache-dir pip==23.3.2 setuptools==69.0.3 wheel==0.42.0
# shellcheck disable=SC2086
pip install --no-deps --index-url "${TORCH_INDEX}" ${TORCH_PINS}
pip install --no-deps -r "${LOCK}"
