#!/usr/bin/env bash
# Runs in the CUDA builder stage: upstream at its pinned commit, a venv from the line's lock, and its four RAD-NeRF
# extensions compiled for the line's architectures (no GPU is visible at build time).
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${TORCH_INDEX:?}" "${TORCH_PINS:?}" "${LOCK:?}" "${CXX_STD:?}"
: "${TORCH_CUDA_ARCH_LIST:?}" "${PYTORCH3D_REF:?}"
root=/opt/upstream/geneface

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

# docs/prepare_env/install_ext.sh, with -std=c++14 raised to the line's standard (torch >= 2.1 needs c++17).
for ext in encoders/freqencoder encoders/shencoder encoders/gridencoder raymarching; do
  dir="${root}/modules/radnerfs/${ext}"
  sed -i "s/-std=c++14/-std=${CXX_STD}/g" "${dir}/setup.py"
  pip install --no-deps --no-build-isolation "${dir}"
done
python -c "import torch, pytorch3d, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
