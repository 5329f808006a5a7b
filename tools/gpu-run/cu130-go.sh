#!/usr/bin/env bash
# On the lent GPU machine: value-check the cu130 images' compiled extensions under the images' own Python and torch
# bindings, with the machine's own torch libraries. Packed by tools/gpu-run/cu130-pack.sh next to what it reads:
#   ext-wheels/          the wheels make export-wheels LINE=cu130 took out of the images (cp311)
#   python311.tar.xz     the images' Python 3.11 (Debian 12's /usr/bin/python3.11 and its standard library)
#   torch-cp311.tar.xz   the Python-version-specific files of the images' torch 2.11.0 cp311 wheel
#   numpy-cp311.tar.xz   the images' numpy (pytorch3d.ops imports it)
#   ext_check.py         tools/gpu-run/ext_check.py
# The machine has torch 2.11.0+cu130 for Python 3.12 only, so its torch package is laid out again as symlinks with
# those cp311 files in place of its cp312 ones: the same torch release and build, the images' Python bindings, the
# machine's libraries (libtorch_cuda, CUDA 13's wheels). Writes OUT/ext_check.json (OUT: the device's result folder).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
site="${DEVICE_SITE:-/opt/torch/.venv/lib/python3.12/site-packages}"
out="${OUT:-${here}/out}"
work="${WORK:-$(mktemp -d)}"
fail() { echo "error: $*" >&2; exit 1; }

[ -d "${site}/torch" ] || fail "no torch package in ${site} -- fix: DEVICE_SITE=<site-packages holding torch 2.11.0>"
# This runs on the GPU machine; what is missing is made on the host, where the images are.
repack="on the host: tools/gpu-run/cu130-pack.sh OUT (after make build LINE=cu130), then copy OUT here"
for f in python311.tar.xz torch-cp311.tar.xz numpy-cp311.tar.xz ext_check.py; do
  [ -f "${here}/${f}" ] || fail "${here}/${f} is missing -- fix: ${repack}"
done
# cu130-pack.sh fills ext-wheels/ as make export-wheels LINE=cu130 does.
compgen -G "${here}/ext-wheels/*.whl" >/dev/null || fail "no wheels in ${here}/ext-wheels -- fix: ${repack}"
mkdir -p "${out}" "${work}/py" "${work}/site" "${work}/ext"

# The images' Python: PYTHONHOME points it at its own standard library.
tar -C "${work}/py" -xJf "${here}/python311.tar.xz"
py="${work}/py/usr/bin/python3.11"
export PYTHONHOME="${work}/py/usr" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1

# The machine's torch as a tree of symlinks; the packages `import torch` reaches for (torchgen is torch's own) are
# linked whole (pure Python, or with a pure-Python fallback); nvidia/ holds the CUDA libraries that torch's RPATH
# ($ORIGIN/../../nvidia) finds.
cp -rs "${site}/torch" "${work}/site/torch"
if [ -d "${site}/functorch" ]; then cp -rs "${site}/functorch" "${work}/site/functorch"; fi
for name in torchgen nvidia typing_extensions.py sympy mpmath filelock jinja2 markupsafe networkx fsspec; do
  if [ -e "${site}/${name}" ]; then ln -s "${site}/${name}" "${work}/site/${name}"; fi
done
# Their metadata too: importlib.metadata answers version questions from it.
for meta in "${site}"/{torch,typing_extensions,sympy,mpmath,filelock,jinja2,markupsafe,networkx,fsspec}-*.dist-info; do
  if [ -e "${meta}" ]; then ln -s "${meta}" "${work}/site/$(basename "${meta}")"; fi
done
# Out with every cp312 binding, in with the images' cp311 ones (torch/_C, libtorch_python, functorch/_C, ...).
find "${work}/site/torch" "${work}/site/functorch" -name '*cpython-312*' -delete 2>/dev/null || true
tar -tJf "${here}/torch-cp311.tar.xz" | while read -r f; do rm -f "${work}/site/${f}"; done
tar -C "${work}/site" -xJf "${here}/torch-cp311.tar.xz"

# The extension wheels, unpacked as pip would place them (they hold no scripts or data), and numpy beside them.
tar -C "${work}/ext" -xJf "${here}/numpy-cp311.tar.xz"
for whl in "${here}"/ext-wheels/*.whl; do
  "${py}" -m zipfile -e "${whl}" "${work}/ext/"
done
export PYTHONPATH="${work}/ext:${work}/site"

"${py}" - <<'EOF'
import sys
import torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "from", torch.__file__)
print("arch list", torch.cuda.get_arch_list() if torch.cuda.is_available() else "(no GPU visible)")
if not torch.cuda.is_available():
    sys.exit("error: torch sees no GPU -- fix: run this on the lent GPU machine (nvidia-smi must list a GPU)")
print("gpu", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
EOF
for f in "${here}"/ext-wheels/*.built-for; do echo "built for: $(basename "${f}" .built-for): $(cat "${f}")"; done
"${py}" "${here}/ext_check.py" --out "${out}/ext_check.json"
