#!/usr/bin/env bash
# GaussianTalker in the CUDA builder stage, or a native environment under PREFIX (make native-env): upstream and
# its submodules at their pinned commits (also listed in talkingface/upstream.json), the line's environment, the
# line's compatibility edits (compat.json), and its two CUDA extensions.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${BUILD_LINE:?}" "${COMPAT:?}"
root="${PREFIX:-}/opt/upstream/gaussiantalker"
rasterizer=submodules/custom-bg-depth-diff-gaussian-rasterization
knn=submodules/simple-knn

"${FETCH_UPSTREAM:-fetch-upstream}" "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}" \
  "${rasterizer}=2d9ce6b09442e6f5b5a0051117d25acef23a930c" "${knn}=44f764299fa305faf6ec5ebd99939e0508331503" \
  "${rasterizer}/third_party/glm=adf31f555e73e2bd6fda373bb5d8740f9c6c17c0"
"${BUILD_ENV:-build-env}"
# shellcheck disable=SC1091
. "${PREFIX:-}/opt/venv/bin/activate"
"${APPLY_COMPAT:-apply-compat}" "${COMPAT}" "${root}" "${BUILD_LINE}" --env-out "${PREFIX:-}/opt/compat.env"
"${BUILD_EXT:-build-ext}" "gaussiantalker-rasterizer=${root}/${rasterizer}" "gaussiantalker-simple-knn=${root}/${knn}"
python -c "import torch, diff_gaussian_rasterization, simple_knn._C; print(torch.__version__, torch._C._cuda_getArchFlags())"
