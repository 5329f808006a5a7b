#!/usr/bin/env bash
# Pack what the lent GPU machine needs to value-check the cu130 images' compiled extensions (cu130-go.sh runs it
# there): cu130-pack.sh OUT [IMAGE ...]   (default images: the three cu130 model images of this version)
#   OUT/ext-wheels/         make export-wheels LINE=cu130 (the extensions and pytorch3d, cp311)
#   OUT/python311.tar.xz    Debian 12's python3.11 and standard library, from the local base the images are built on
#                           (no tests, IDLE, tkinter, ensurepip or static library)
#   OUT/torch-cp311.tar.xz  the Python-version-specific files of the lock's torch 2.11.0 cp311 wheel (hash-checked
#                           in .wheels-cu130): every *cpython-311* module and lib/libtorch_python.so
#   OUT/numpy-cp311.tar.xz  the images' numpy (the lock's cp311 wheel, without its tests): pytorch3d.ops imports it
#   OUT/ext_check.py, OUT/go.sh
# Run from the repository root after make build LINE=cu130 (and make wheels-cu130).
set -euo pipefail
out="${1:?usage: cu130-pack.sh OUT [IMAGE ...]}"
shift
version="$(python3 -c 'import talkingface; print(talkingface.__version__)')"
[ "$#" -gt 0 ] || set -- talkingface/{ernerf,gaussiantalker,geneface}:"${version}"-cu130
base="${LOCAL_BASE:-talkingface/base:local}"
wheel="$(compgen -G '.wheels-cu130/torch-2.11.0-cp311-*.whl' | head -n 1 || true)"
[ -n "${wheel}" ] || { echo "error: no torch 2.11.0 cp311 wheel in .wheels-cu130 -- fix: make wheels-cu130" >&2; exit 1; }
grep -q "$(sha256sum "${wheel}" | cut -d' ' -f1)" images/ernerf/cu130.lock \
  || { echo "error: ${wheel} is not the locked torch -- fix: make wheels-cu130" >&2; exit 1; }

mkdir -p "${out}"
docker run --rm --network none "${base}" tar -C / -cf - \
  --exclude='__pycache__' --exclude='usr/lib/python3.11/test' --exclude='usr/lib/python3.11/idlelib' \
  --exclude='usr/lib/python3.11/tkinter' --exclude='usr/lib/python3.11/turtledemo' \
  --exclude='usr/lib/python3.11/ensurepip' --exclude='usr/lib/python3.11/lib2to3' \
  --exclude='usr/lib/python3.11/config-3.11-x86_64-linux-gnu' --exclude='usr/lib/python3.11/pydoc_data' \
  --exclude='usr/lib/python3.11/dist-packages' --exclude='usr/lib/python3.11/site-packages' \
  usr/bin/python3.11 usr/lib/python3.11 | xz -9 -T0 >"${out}/python311.tar.xz"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
mapfile -t files < <(python3 - "${wheel}" <<'EOF'
import re, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
print("\n".join(n for n in names if re.search(r"cpython-311|/libtorch_python\.so$", n)))
EOF
)
(cd "${tmp}" && unzip -q "${OLDPWD}/${wheel}" "${files[@]}")
tar -C "${tmp}" -cf - "${files[@]}" | xz -9 -T0 >"${out}/torch-cp311.tar.xz"
printf '%s\n' "${files[@]}" >"${out}/torch-cp311.files"

numpy="$(grep -o '^numpy==[^ ]*' images/ernerf/cu130.lock | cut -d= -f3)"
rm -rf "${tmp:?}"/* && (cd "${tmp}" && unzip -q "${OLDPWD}"/.wheels-cu130/numpy-"${numpy}"-cp311-*.whl)
find "${tmp}" -name tests -type d -prune -exec rm -rf {} +
tar -C "${tmp}" -cf - . | xz -9 -T0 >"${out}/numpy-cp311.tar.xz"

cp tools/gpu-run/ext_check.py "${out}/ext_check.py"
cp tools/gpu-run/cu130-go.sh "${out}/go.sh"
# Last, so that everything else is in place while the images are still building (go.sh refuses to run without it).
# Images built before build-ext stripped its wheels' debug info carry pytorch3d's _C at 143 MB for one arch: over
# the 64 MiB a lent machine's call may carry.
rm -rf "${out}/ext-wheels"
tools/export-wheels.sh "${out}/ext-wheels" "$@"
size="$(du -sm --apparent-size "${out}" | cut -f1)"
if [ "${size}" -gt 60 ]; then
  echo "error: ${out} is ${size} MiB, over what a GPU call may carry (64 MiB with the checkout) -- fix: rebuild the images with this checkout (make build LINE=cu130), whose build-ext strips the wheels' debug info" >&2
  exit 1
fi
echo "cu130-pack: ${out}: $(du -sh --apparent-size "${out}" | cut -f1) in all"
ls -l "${out}" "${out}/ext-wheels"
