#!/usr/bin/env bash
# ER-NeRF in the CUDA builder stage, or a native environment under PREFIX (make native-env): upstream at its
# pinned commit, the line's environment, the line's compatibility edits (compat.json), and the four CUDA extensions
# built now rather than JIT-compiled at first run.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${BUILD_LINE:?}" "${COMPAT:?}"
root="${PREFIX:-}/opt/upstream/ernerf"

"${FETCH_UPSTREAM:-fetch-upstream}" "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}"
"${BUILD_ENV:-build-env}"
# shellcheck disable=SC1091
. "${PREFIX:-}/opt/venv/bin/activate"
"${APPLY_COMPAT:-apply-compat}" "${COMPAT}" "${root}" "${BUILD_LINE}" --env-out "${PREFIX:-}/opt/compat.env"
"${BUILD_EXT:-build-ext}" "ernerf-raymarching=${root}/raymarching" "ernerf-gridencoder=${root}/gridencoder" \
  "ernerf-shencoder=${root}/shencoder" "ernerf-freqencoder=${root}/freqencoder"
python -c "import torch, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
