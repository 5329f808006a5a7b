#!/usr/bin/env bash
# The Python environment of a CUDA line, in /opt/venv: pinned pip tooling, torch from PyTorch's index, the line's
# lock from PyPI (all with --no-deps: the lock already holds every dependency), then pytorch3d built for the line's
# architectures (no GPU is visible at build time, hence FORCE_CUDA and TORCH_CUDA_ARCH_LIST).
set -euo pipefail
: "${TORCH_INDEX:?}" "${TORCH_PINS:?}" "${LOCK:?}" "${PYTORCH3D_REF:?}" "${TORCH_CUDA_ARCH_LIST:?}"

python3 -m venv /opt/venv
# shellcheck disable=SC1091
. /opt/venv/bin/activate
pip install --no-cache-dir pip==23.3.2 setuptools==69.0.3 wheel==0.42.0
# shellcheck disable=SC2086
pip install --no-deps --index-url "${TORCH_INDEX}" ${TORCH_PINS}
pip install --no-deps -r "${LOCK}"
FORCE_CUDA=1 pip install --no-deps --no-build-isolation "git+https://github.com/facebookresearch/pytorch3d.git@${PYTORCH3D_REF}"
