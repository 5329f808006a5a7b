#!/usr/bin/env bash
# Lay out a model's environment outside any container, as its image does: PREFIX/opt/upstream and PREFIX/opt/venv.
#   tools/native-env.sh MODEL LINE PREFIX        (make native-env MODEL=ernerf LINE=cu118 PREFIX=/scratch/tf-ernerf)
# A CUDA line runs the image's own build scripts (images/common/*.sh, images/MODEL/build-upstream.sh) with the
# settings of the Dockerfile's builder-LINE stage, its paths made native (tools/line-env.py: the checkout's copies,
# PREFIX/opt, PREFIX/.build); any of them set in the environment wins (ARCHS or TORCH_CUDA_ARCH_LIST, TORCH_PINS,
# WHEELHOUSE, UPSTREAM_ARCHIVES, EXT_WHEELS, CUDA_HOME, SYSTEM_SITE, BASE_PYTHON, PYTORCH3D; the lock: LOCK on the
# local line, NATIVE_LOCK on a CUDA line). The local line installs the test doubles and the local wheels, as the
# image's runtime-local stage does.
# `bin/run_MODEL.sh VERB --runtime native --native_env PREFIX` runs in it.
set -euo pipefail
model="${1:?usage: native-env.sh MODEL LINE PREFIX}" line="${2:?}" prefix="${3:?}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerfile="${repo}/images/${model}/Dockerfile"
# The models are the adapters' (talkingface/adapters), so this names none itself.
models() { (cd "${repo}" && python3 -c 'from talkingface.adapters import ADAPTERS; print(*ADAPTERS)'); }
[ -f "${dockerfile}" ] || { echo "error: unknown model '${model}' -- fix: use one of: $(models)" >&2; exit 2; }
prefix="$(python3 -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "${prefix}")"
marker="${prefix}/talkingface-env.json"

if [ -f "${marker}" ]; then
  echo "native-env: ${prefix} is already built ($(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["model"], d["line"])' "${marker}")); remove it to rebuild"
  exit 0
fi
if [ -e "${prefix}" ] && [ ! -d "${prefix}/.build" ] && [ -n "$(ls -A "${prefix}" 2>/dev/null)" ]; then
  echo "error: ${prefix} exists and is not a native environment -- fix: choose an empty or new PREFIX" >&2
  exit 1
fi
# A build that stopped half-way left only what this script made: start it again from the top.
rm -rf "${prefix}/opt"
mkdir -p "${prefix}/.build/bin"
for script in fetch-upstream build-env build-ext; do
  ln -sf "${repo}/images/common/${script}.sh" "${prefix}/.build/bin/${script}"
done
ln -sf "${repo}/images/common/apply-compat.py" "${prefix}/.build/bin/apply-compat"
export PATH="${prefix}/.build/bin:${PATH}" PREFIX="${prefix}"
SECONDS=0

if [ "${line}" = local ]; then
  LOCK="${LOCK:-${repo}/images/common/local-wheels.txt}" WHEELHOUSE="${WHEELHOUSE:-${repo}/.wheels}" \
    SYSTEM_SITE="${SYSTEM_SITE:-0}" PYTORCH3D=skip TORCH_CUDA_ARCH_LIST=none TORCH_PINS='' build-env
  mkdir -p "${prefix}/opt/upstream/lib"
  cp -R "${repo}/tests/doubles/${model}" "${prefix}/opt/upstream/${model}"
  cp "${repo}/tests/doubles/fakeupstream.py" "${prefix}/opt/upstream/lib/fakeupstream.py"
  : >"${prefix}/opt/compat.env"
  commit=doubles
else
  # The stage's settings come from our own Dockerfile, its paths made native (tools/line-env.py says how: the
  # checkout's files for what the stage copies or bind-mounts, PREFIX/opt for /opt, the venv's Python for its
  # lib/pythonX.Y); the caller's environment overrides them.
  venv_python="$("${BASE_PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  settings="$(python3 "${repo}/tools/line-env.py" "${dockerfile}" "builder-${line}" --native "${prefix}" --python "${venv_python}")"
  while IFS= read -r assignment; do
    key="${assignment%%=*}"
    [ -z "${key}" ] || [ -n "${!key+x}" ] || eval "export ${assignment}"
  done <<<"${settings}"
  # The pin is talkingface/upstream.json's, whatever the stage says.
  eval "$(python3 -c 'import json, shlex, sys; p = json.load(open(sys.argv[1]))[sys.argv[2]]; print("UPSTREAM_REPO=" + shlex.quote(p["repo"]), "UPSTREAM_COMMIT=" + shlex.quote(p["commit"]))' "${repo}/talkingface/upstream.json" "${model}")"
  export UPSTREAM_REPO UPSTREAM_COMMIT
  export LOCK="${repo}/images/${model}/${line}.lock" COMPAT="${repo}/images/${model}/compat.json" BUILD_LINE="${line}"
  [ -z "${NATIVE_LOCK:-}" ] || LOCK="${NATIVE_LOCK}"
  "${repo}/images/${model}/build-upstream.sh"
  commit="${UPSTREAM_COMMIT}"
fi

python3 - "${marker}" "${model}" "${line}" "${commit}" "${prefix}/opt/compat.env" <<'PY'
import json, os, sys
marker, model, line, commit, env_file = sys.argv[1:]
env = dict(l.split("=", 1) for l in open(env_file).read().splitlines() if "=" in l)
tmp = marker + ".tmp"
with open(tmp, "w") as fh:
    json.dump({"model": model, "line": line, "upstream_commit": commit, "env": env}, fh, indent=2)
os.replace(tmp, marker)
PY
echo "native-env: ${model} (${line}) ready in ${prefix} after ${SECONDS} s"
echo "  run it: ./bin/run_${model}.sh VERB --runtime native --native_env ${prefix} ..."
