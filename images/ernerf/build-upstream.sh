#!/usr/bin/env bash
# ER-NeRF in the CUDA builder stage: upstream at its pinned commit, the line's environment, and the four CUDA
# extensions built now rather than JIT-compiled at first run.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${CXX_STD:?}"
root=/opt/upstream/ernerf

fetch-upstream "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}"
build-env
# shellcheck disable=SC1091
. /opt/venv/bin/activate
# On torch >= 2.1 their -std=c++14 must become c++17 (ER-NeRF #63): the only change made to upstream.
for ext in raymarching gridencoder shencoder freqencoder; do
  sed -i "s/-std=c++14/-std=${CXX_STD}/g" "${root}/${ext}/setup.py" "${root}/${ext}/backend.py"
  pip install --no-deps --no-build-isolation "${root}/${ext}"
done
python -c "import torch, pytorch3d, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
