#!/usr/bin/env bash
# Build CUDA extensions as wheels, all at once, and install them: build-ext NAME=DIR [NAME=DIR ...]
#
# Each wheel is kept in EXT_WHEELS/NAME/ with the torch version and arch list it was built for; a later build for
# the same pair installs it instead of compiling again (the lent GPU machine gets its wheels back this way).
# No GPU is visible at build time, hence FORCE_CUDA and an explicit TORCH_CUDA_ARCH_LIST.
set -euo pipefail
: "${TORCH_CUDA_ARCH_LIST:?}"
cache="${EXT_WHEELS:-/tmp/ext-wheels}"
export FORCE_CUDA=1
built_for="$(python3 -c 'import torch; print(torch.__version__)') ${TORCH_CUDA_ARCH_LIST}"
# Parallel builds share the cores: each gets its share of compiler jobs.
jobs="$(( $(nproc) / $# ))"
export MAX_JOBS="${MAX_JOBS:-$(( jobs > 0 ? jobs : 1 ))}"

pids=() names=()
for pair in "$@"; do
  name="${pair%%=*}" dir="${pair#*=}" out="${cache}/${pair%%=*}"
  if [ -f "${out}/BUILT_FOR" ] && [ "$(cat "${out}/BUILT_FOR")" = "${built_for}" ] && compgen -G "${out}/*.whl" >/dev/null; then
    echo "build-ext: ${name}: reusing $(basename "${out}"/*.whl) (${built_for})"
    continue
  fi
  rm -rf "${out}" && mkdir -p "${out}"
  echo "build-ext: ${name}: compiling ${dir} for ${TORCH_CUDA_ARCH_LIST} (MAX_JOBS=${MAX_JOBS}), log ${out}/build.log"
  ( SECONDS=0
    python3 -m pip wheel --no-deps --no-build-isolation --wheel-dir "${out}" "${dir}" >"${out}/build.log" 2>&1
    echo "${built_for}" >"${out}/BUILT_FOR"
    echo "build-ext: ${name}: built in ${SECONDS} s" ) &
  pids+=("$!") names+=("${name}")
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "error: building ${names[$i]} failed -- its log: ${cache}/${names[$i]}/build.log" >&2
    tail -n 30 "${cache}/${names[$i]}/build.log" >&2
    failed=1
  fi
done
[ "${failed}" = 0 ]
# EXT_INSTALL=0 only fills the cache (a build for another environment).
[ "${EXT_INSTALL:-1}" = 1 ] || exit 0
for pair in "$@"; do
  python3 -m pip install --no-deps --no-index --force-reinstall "${cache}/${pair%%=*}"/*.whl
done
