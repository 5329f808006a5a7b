#!/usr/bin/env bash
# GeneFace in the CUDA builder stage: upstream at its pinned commit, the line's environment, and the four RAD-NeRF
# extensions of docs/prepare_env/install_ext.sh.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${CXX_STD:?}"
root=/opt/upstream/geneface

fetch-upstream "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}"
build-env
# shellcheck disable=SC1091
. /opt/venv/bin/activate
# -std=c++14 raised to the line's standard (torch >= 2.1 needs c++17): the only change made to upstream.
for ext in encoders/freqencoder encoders/shencoder encoders/gridencoder raymarching; do
  dir="${root}/modules/radnerfs/${ext}"
  sed -i "s/-std=c++14/-std=${CXX_STD}/g" "${dir}/setup.py"
  pip install --no-deps --no-build-isolation "${dir}"
done
python -c "import torch, pytorch3d, _raymarching_face, _gridencoder, _shencoder, _freqencoder; print(torch.__version__, torch._C._cuda_getArchFlags())"
