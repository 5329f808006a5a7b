#!/usr/bin/env bash
# Runs in the CUDA builder stage: upstream and its submodules at their pinned commits, a venv from the line's lock,
# and the two CUDA extensions compiled for the line's architectures (no GPU is visible at build time).
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${TORCH_INDEX:?}" "${TORCH_PINS:?}" "${LOCK:?}"
: "${TORCH_CUDA_ARCH_LIST:?}" "${PYTORCH3D_REF:?}"
root=/opt/upstream/gaussiantalker
rasterizer=submodules/custom-bg-depth-diff-gaussian-rasterization
knn=submodules/simple-knn

git init -q "${root}"
git -C "${root}" fetch -q --depth 1 "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}"
git -C "${root}" checkout -q FETCH_HEAD
git -C "${root}" submodule update -q --init --recursive
test "$(git -C "${root}" rev-parse HEAD)" = "${UPSTREAM_COMMIT}"
# The submodule commits are the gitlinks of the pinned commit (talkingface/upstream.json lists them too).
test "$(git -C "${root}/${rasterizer}" rev-parse HEAD)" = 2d9ce6b09442e6f5b5a0051117d25acef23a930c
test "$(git -C "${root}/${knn}" rev-parse HEAD)" = 44f764299fa305faf6ec5ebd99939e0508331503
find "${root}" -name .git -prune -exec rm -rf {} +

python3 -m venv /opt/venv
# shellcheck disable=SC1091
. /opt/venv/bin/activate
pip install --no-cache-dir pip==23.3.2 setuptools==69.0.3 wheel==0.42.0
# shellcheck disable=SC2086
pip install --no-deps --index-url "${TORCH_INDEX}" ${TORCH_PINS}
pip install --no-deps -r "${LOCK}"
FORCE_CUDA=1 pip install --no-deps --no-build-isolation "git+https://github.com/facebookresearch/pytorch3d.git@${PYTORCH3D_REF}"

# simple-knn at the pinned commit uses FLT_MAX without <cfloat>, which newer compilers reject (fixed upstream
# later in camenduru/simple-knn 9807966); adding the include is the only change made.
grep -q '<cfloat>' "${root}/${knn}/simple_knn.cu" || sed -i '1i #include <cfloat>' "${root}/${knn}/simple_knn.cu"
pip install --no-deps --no-build-isolation "${root}/${rasterizer}" "${root}/${knn}"
python -c "import torch, pytorch3d, diff_gaussian_rasterization, simple_knn._C; print(torch.__version__, torch._C._cuda_getArchFlags())"
