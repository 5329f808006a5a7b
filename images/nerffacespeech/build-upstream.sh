#!/usr/bin/env bash
# NeRFFaceSpeech in the CUDA builder stage, or a native environment under PREFIX (make native-env): upstream at its
# pinned commit, the line's environment, nvdiffrast 0.3.1 (upstream's README has users clone it by hand), and the
# CUDA ops upstream JIT-compiles at first run (StyleNeRF's five, nvdiffrast's rasterizer) built now as wheels, for
# the line's architectures; the compat edits make upstream import them instead of compiling.
set -euo pipefail
: "${UPSTREAM_REPO:?}" "${UPSTREAM_COMMIT:?}" "${BUILD_LINE:?}" "${COMPAT:?}" "${NVDIFFRAST_COMMIT:?}"
root="${PREFIX:-}/opt/upstream/nerffacespeech"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ops_setup="${OPS_SETUP:-${here}/ops-setup.py}"

"${FETCH_UPSTREAM:-fetch-upstream}" "${UPSTREAM_REPO}" "${UPSTREAM_COMMIT}" "${root}"
"${BUILD_ENV:-build-env}"
# shellcheck disable=SC1091
. "${PREFIX:-}/opt/venv/bin/activate"
"${APPLY_COMPAT:-apply-compat}" "${COMPAT}" "${root}" "${BUILD_LINE}" --env-out "${PREFIX:-}/opt/compat.env"

nvdr="$(mktemp -d)/nvdiffrast"
"${FETCH_UPSTREAM:-fetch-upstream}" https://github.com/NVlabs/nvdiffrast.git "${NVDIFFRAST_COMMIT}" "${nvdr}"
"${APPLY_COMPAT:-apply-compat}" "${COMPAT_NVDIFFRAST:?}" "${nvdr}" "${BUILD_LINE}"
# nvdiffrast's package is pure Python (its CUDA code is the nvdiffrast_plugin op below), built as a wheel so that
# EXT_KEEP (the cu130 images' /opt/ext-wheels) keeps it beside the compiled ops: make export-wheels then takes the
# package that imports the plugin too. Not through build-ext's cache, which would reuse a wheel made before a change
# to compat-nvdiffrast.json (its key is torch and the arch list).
nvdr_wheel="$(mktemp -d)"
python3 -m pip wheel --no-deps --no-build-isolation --wheel-dir "${nvdr_wheel}" "${nvdr}"
python3 -m pip install --no-deps --no-index "${nvdr_wheel}"/nvdiffrast-*.whl
if [ -n "${EXT_KEEP:-}" ]; then
  mkdir -p "${EXT_KEEP}" && cp "${nvdr_wheel}"/nvdiffrast-*.whl "${EXT_KEEP}/"
fi

ops="$(mktemp -d)"
op() {  # op NAME SOURCE_DIR CXX_FLAGS NVCC_FLAGS SOURCE...
  local name="$1" dir="$2" cxx="$3" nvcc="$4"
  shift 4
  mkdir -p "${ops}/${name}"
  cp "${ops_setup}" "${ops}/${name}/setup.py"
  python3 - "${ops}/${name}/op.json" "${name}" "${dir}" "${cxx}" "${nvcc}" "$@" <<'PY'
import json, os, sys
out, name, folder, cxx, nvcc, *sources = sys.argv[1:]
spec = {"name": name, "sources": [os.path.join(folder, s) for s in sources], "cxx": cxx.split(), "nvcc": nvcc.split()}
open(out, "w").write(json.dumps(spec))
PY
}
st="${root}/StyleNeRF/torch_utils/ops"
fast="--use_fast_math"
op bias_act_plugin "${st}" "" "${fast}" bias_act.cpp bias_act.cu
op upfirdn2d_plugin "${st}" "" "${fast}" upfirdn2d.cpp upfirdn2d.cu
op filtered_lrelu_plugin "${st}" "" "${fast}" filtered_lrelu.cpp filtered_lrelu_wr.cu filtered_lrelu_rd.cu filtered_lrelu_ns.cu
op hash_sample_plugin "${st}" "" "${fast}" hash_sample.cpp hash_sample.cu
op nerf_utils_plugin "${st}" "" "${fast}" nerf_utils.cu
nt="$(python3 -c 'import nvdiffrast, os; print(os.path.dirname(nvdiffrast.__file__))')/torch"
op nvdiffrast_plugin "${nt}" "-DNVDR_TORCH" "-DNVDR_TORCH -lineinfo" \
  ../common/cudaraster/impl/Buffer.cpp ../common/cudaraster/impl/CudaRaster.cpp ../common/cudaraster/impl/RasterImpl.cu \
  ../common/cudaraster/impl/RasterImpl.cpp ../common/common.cpp ../common/rasterize.cu ../common/interpolate.cu \
  ../common/texture.cu ../common/texture.cpp ../common/antialias.cu torch_bindings.cpp torch_rasterize.cpp \
  torch_interpolate.cpp torch_texture.cpp torch_antialias.cpp
"${BUILD_EXT:-build-ext}" \
  "nffs-bias-act=${ops}/bias_act_plugin" "nffs-upfirdn2d=${ops}/upfirdn2d_plugin" \
  "nffs-filtered-lrelu=${ops}/filtered_lrelu_plugin" "nffs-hash-sample=${ops}/hash_sample_plugin" \
  "nffs-nerf-utils=${ops}/nerf_utils_plugin" "nffs-nvdiffrast=${ops}/nvdiffrast_plugin"
python -c "import torch, bias_act_plugin, upfirdn2d_plugin, filtered_lrelu_plugin, hash_sample_plugin, nerf_utils_plugin, nvdiffrast_plugin; print(torch.__version__, torch._C._cuda_getArchFlags())"
