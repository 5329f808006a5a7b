#!/usr/bin/env bash
# GaussianTalker in the CUDA builder stage: upstream and its submodules at their pinned commits (also listed in
# talkingface/upstream.json), the line's environment, and its two CUDA extensions.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}"
root=/opt/upstream/gaussiantalker
rasterizer=submodules/custom-bg-depth-diff-gaussian-rasterization
knn=submodules/simple-knn

fetch-upstream "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}" \
  "${rasterizer}=2d9ce6b09442e6f5b5a0051117d25acef23a930c" "${knn}=44f764299fa305faf6ec5ebd99939e0508331503"
build-env
# shellcheck disable=SC1091
. /opt/venv/bin/activate
# simple-knn at the pinned commit uses FLT_MAX without <cfloat>, which newer compilers reject (fixed upstream
# later in camenduru/simple-knn 9807966); adding the include is the only change made.
grep -q '<cfloat>' "${root}/${knn}/simple_knn.cu" || sed -i '1i #include <cfloat>' "${root}/${knn}/simple_knn.cu"
pip install --no-deps --no-build-isolation "${root}/${rasterizer}" "${root}/${knn}"
python -c "import torch, pytorch3d, diff_gaussian_rasterization, simple_knn._C; print(torch.__version__, torch._C._cuda_getArchFlags())"
