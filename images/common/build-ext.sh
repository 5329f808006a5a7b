#!/usr/bin/env bash
# Build CUDA extensions as wheels, all at once, and install them: build-ext NAME=DIR [NAME=DIR ...]
#
# Each wheel is kept in EXT_WHEELS/NAME/ with the torch version and arch list it was built for; a later build for
# the same pair installs it instead of compiling again (the lent GPU machine gets its wheels back this way).
# No GPU is visible at build time, hence FORCE_CUDA and an explicit TORCH_CUDA_ARCH_LIST. EXT_KEEP=DIR also copies
# each installed wheel there (the cu130 images keep them in /opt/ext-wheels for make export-wheels).
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

# Compilers leave debug info in the shared objects (pytorch3d's _C: 143 MB with it, 7 MB without, for one arch), and
# the images would carry it twice (the venv and EXT_KEEP). Only the .debug_* sections go: code, symbols and the GPU
# code nvcc embeds stay. In place in the cache, so wheels cached before this also shrink; RECORD is rewritten, as
# pip and the wheel's own checks read it. Idempotent.
strip_wheel() {  # WHEEL
  python3 - "$1" <<'EOF'
import base64, csv, hashlib, io, os, subprocess, sys, tempfile, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as zin:
    entries = [(info, zin.read(info)) for info in zin.infolist()]
changed, digests = False, {}
for i, (info, data) in enumerate(entries):
    if info.filename.endswith(".so"):
        with tempfile.NamedTemporaryFile(suffix=".so") as so:
            so.write(data)
            so.flush()
            subprocess.run(["strip", "--strip-debug", so.name], check=True)
            stripped = open(so.name, "rb").read()
        if stripped != data:
            entries[i], changed = (info, stripped), True
    digest = base64.urlsafe_b64encode(hashlib.sha256(entries[i][1]).digest()).rstrip(b"=").decode()
    digests[info.filename] = (f"sha256={digest}", str(len(entries[i][1])))
if changed:
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename.endswith(".dist-info/RECORD"):
                rows = [r for r in csv.reader(io.StringIO(data.decode())) if r]
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(
                    [r[0], *digests[r[0]]] if r[0] in digests and r[1] else r for r in rows
                )
                data = out.getvalue().encode()
            zout.writestr(info, data)
    os.replace(tmp, path)
    print(f"build-ext: {os.path.basename(path)}: debug info stripped, {os.path.getsize(path) >> 20} MiB")
EOF
}
for pair in "$@"; do
  for whl in "${cache}/${pair%%=*}"/*.whl; do strip_wheel "${whl}"; done
done

# EXT_INSTALL=0 only fills the cache (a build for another environment).
[ "${EXT_INSTALL:-1}" = 1 ] || exit 0
for pair in "$@"; do
  python3 -m pip install --no-deps --no-index --force-reinstall "${cache}/${pair%%=*}"/*.whl
  if [ -n "${EXT_KEEP:-}" ]; then
    mkdir -p "${EXT_KEEP}" && cp "${cache}/${pair%%=*}"/*.whl "${cache}/${pair%%=*}/BUILT_FOR" "${EXT_KEEP}/"
    mv "${EXT_KEEP}/BUILT_FOR" "${EXT_KEEP}/${pair%%=*}.built-for"
  fi
done
