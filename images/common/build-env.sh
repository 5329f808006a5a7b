#!/usr/bin/env bash
# The Python environment of a line, in ${PREFIX}/opt/venv: pinned pip tooling, torch, the line's lock (all with
# --no-deps: the lock already holds every dependency), then pytorch3d built for the line's architectures.
#
# The images set TORCH_INDEX and TORCH_PINS. A native environment on a machine whose python already has the line's
# torch (the lent GPU machine) leaves TORCH_PINS empty and sets SYSTEM_SITE=1; WHEELHOUSE=DIR installs offline
# from DIR instead of an index. pytorch3d comes from git at PYTORCH3D_COMMIT, or from UPSTREAM_ARCHIVES offline;
# PYTORCH3D=skip leaves it out (only the face tracker needs it).
set -euo pipefail
: "${LOCK:?}"
venv="${PREFIX:-}/opt/venv"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

base="${BASE_PYTHON:-python3}"
if [ "${SYSTEM_SITE:-0}" = 1 ]; then
  # Some pythons lack ensurepip; the base's own pip then serves through the base's packages.
  "${base}" -m venv --system-site-packages "${venv}" 2>/dev/null || "${base}" -m venv --system-site-packages --without-pip "${venv}"
  # A venv made from another venv's python sees the base interpreter's packages, not that venv's: a .pth file
  # adds them (the lent GPU machine's torch lives in such a venv).
  "${base}" -c 'import site, sys; print("\n".join(site.getsitepackages()) if sys.prefix != sys.base_prefix else "")' \
    >"$("${venv}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/base-venv.pth"
else
  "${base}" -m venv "${venv}"
fi
# shellcheck disable=SC1091
. "${venv}/bin/activate"
offline=()
if [ -n "${WHEELHOUSE:-}" ]; then
  offline=(--no-index --find-links "${WHEELHOUSE}")
else
  python3 -m pip install --no-cache-dir pip==23.3.2 setuptools==69.0.3 wheel==0.42.0
fi
if [ -n "${TORCH_PINS:-}" ]; then
  # shellcheck disable=SC2086
  python3 -m pip install --no-deps --index-url "${TORCH_INDEX:?}" ${TORCH_PINS}
fi
# An empty lock (a machine that already has everything) installs nothing.
if grep -qv '^\s*\(#\|$\)' "${LOCK}"; then
  if [ -n "${WHEELHOUSE:-}" ]; then
    # Offline, the lock's few sdists build against the venv's own setuptools and wheel (an isolated build would
    # fetch them from an index): those two go in first, from the same hash-checked lock.
    if grep -qiE '^(setuptools|wheel)==' "${LOCK}"; then
      python3 -m pip install --no-deps "${offline[@]}" -r <(grep -iE '^(setuptools|wheel)==' "${LOCK}")
    fi
    python3 -m pip install --no-deps --no-build-isolation "${offline[@]}" -r "${LOCK}"
  else
    python3 -m pip install --no-deps -r "${LOCK}"
  fi
fi
# A CUDA toolkit from NVIDIA's wheels (the cu130 line: CUDA_HOME under the venv's nvidia/cu13) lays its libraries
# out in lib/ with only versioned names; nvcc's profile and torch's cpp_extension look in lib64/ and link -lcudart.
if [ -n "${CUDA_HOME:-}" ] && [ -x "${CUDA_HOME}/bin/nvcc" ] && [ ! -e "${CUDA_HOME}/lib64" ]; then
  ln -s lib "${CUDA_HOME}/lib64"
  ln -sf libcudart.so.13 "${CUDA_HOME}/lib/libcudart.so"
  "${CUDA_HOME}/bin/nvcc" --version | tail -n 2
fi
if [ "${PYTORCH3D:-build}" != skip ]; then
  : "${PYTORCH3D_COMMIT:?}"
  src="$(mktemp -d)/pytorch3d"
  "${FETCH_UPSTREAM:-fetch-upstream}" https://github.com/facebookresearch/pytorch3d.git "${PYTORCH3D_COMMIT}" "${src}"
  # Next to this script: build-ext.sh in the checkout (make native-env), build-ext where the images copy it.
  build_ext="${here}/build-ext.sh"
  [ -e "${build_ext}" ] || build_ext="${here}/build-ext"
  "${BUILD_EXT:-${build_ext}}" "pytorch3d=${src}"
  # torch first: its libraries (libc10, ...) are what pytorch3d's _C links to, found once torch is loaded.
  python3 -c 'import torch, pytorch3d._C, pytorch3d.ops; print("pytorch3d", pytorch3d.__version__)'
fi
