#!/usr/bin/env bash
# GeneFace in the CUDA builder stage, or a native environment under PREFIX (make native-env): upstream at its
# pinned commit, the line's environment, the line's compatibility edits (compat.json), and the four RAD-NeRF
# extensions of docs/prepare_env/install_ext.sh.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${BUILD_LINE:?}" "${COMPAT:?}"
root="${PREFIX:-}/opt/upstream/geneface"
ext="${root}/modules/radnerfs"

"${FETCH_UPSTREAM:-fetch-upstream}" "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}"
"${BUILD_ENV:-build-env}"
# shellcheck disable=SC1091
. "${PREFIX:-}/opt/venv/bin/activate"
"${APPLY_COMPAT:-apply-compat}" "${COMPAT}" "${root}" "${BUILD_LINE}" --env-out "${PREFIX:-}/opt/compat.env"
"${BUILD_EXT:-build-ext}" "geneface-freqencoder=${ext}/encoders/freqencoder" \
  "geneface-shencoder=${ext}/encoders/shencoder" "geneface-gridencoder=${ext}/encoders/gridencoder" \
  "geneface-raymarching=${ext}/raymarching"
python -c "import torch, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
