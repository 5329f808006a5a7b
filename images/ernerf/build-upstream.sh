#!/usr/bin/env bash
# Runs in the CUDA builder stage: upstream at its pinned commit, a venv from the line's lock, the CUDA extensions
# compiled for the line's architectures (no GPU is visible while building, so TORCH_CUDA_ARCH_LIST is required).
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${TORCH_INDEX:?}" "${TORCH_PINS:?}" "${LOCK:?}" "${CXX_STD:?}"
: "${TORCH_CUDA_ARCH_LIST:?}" "${PYTORCH3D_REF:?}"
root=/opt/upstream/ernerf

git init -q "${root}"
git -C "${root}" fetch -q --depth 1 "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}"
git -C "${root}" checkout -q FETCH_HEAD
test "$(git -C "${root}" rev-parse HEAD)" = "${UPSTREAM_COMMIT}"
rm -rf "${root}/.git"

python3 -m venv /opt/venv
# shellcheck disable=SC1091
. /opt/venv/bin/activate
pip install --no-cache-dir pip==23.3.2 setuptools==69.0.3 wheel==0.42.0
# shellcheck disable=SC2086
pip install --no-deps --index-url "${TORCH_INDEX}" ${TORCH_PINS}
pip install --no-deps -r "${LOCK}"
FORCE_CUDA=1 pip install --no-deps --no-build-isolation "git+https://github.com/facebookresearch/pytorch3d.git@${PYTORCH3D_REF}"

# The four extensions, built now rather than JIT-compiled at first run. On torch >= 2.1 their -std=c++14 must
# become c++17 (ER-NeRF #63); that flag is the only change made to upstream.
for ext in raymarching gridencoder shencoder freqencoder; do
  sed -i "s/-std=c++14/-std=${CXX_STD}/g" "${root}/${ext}/setup.py" "${root}/${ext}/backend.py"
  pip install --no-deps --no-build-isolation "${root}/${ext}"
done
python -c "import torch, pytorch3d, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
