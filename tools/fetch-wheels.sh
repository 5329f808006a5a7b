#!/usr/bin/env bash
# Fill a line's wheelhouse from PyPI on the host, because builds there can't reach PyPI: the images bind-mount it
# and install with --no-index --require-hashes (the local line: .wheels; cu130: .wheels-cu130, from its locks).
# Usage: tools/fetch-wheels.sh REQUIREMENTS DIR   (REQUIREMENTS: one `name==version --hash=sha256:...` per line)
# Wheels already in DIR whose hash is pinned are kept, so with every wheel in place this touches no network.
set -euo pipefail

requirements="${1:?usage: fetch-wheels.sh REQUIREMENTS DIR}"
dir="${2:?usage: fetch-wheels.sh REQUIREMENTS DIR}"
mkdir -p "${dir}"

have=" "
# sdists too: a cu130 lock pins the few packages that publish no wheel by their source archive's hash.
for wheel in "${dir}"/*.whl "${dir}"/*.tar.gz "${dir}"/*.zip; do
  [ -e "${wheel}" ] && have+="$(sha256sum "${wheel}" | cut -d' ' -f1) "
done

missing="$(mktemp)"
trap 'rm -f "${missing}"' EXIT
total=0
while read -r spec; do
  case "${spec}" in '' | '#'*) continue ;; esac
  total=$((total + 1))
  hash="$(sed -n 's/.*--hash=sha256:\([0-9a-f]\{64\}\).*/\1/p' <<<"${spec}")"
  if [ -z "${hash}" ]; then
    echo "error: ${requirements}: '${spec}' has no --hash=sha256:... -- fix: pin it with its wheel's hash" >&2
    exit 1
  fi
  [[ "${have}" == *" ${hash} "* ]] || echo "${spec}" >>"${missing}"
done <"${requirements}"

if [ ! -s "${missing}" ]; then
  echo "${dir}: all ${total} wheels of ${requirements} are present and verified"
  exit 0
fi
echo "${dir}: fetching $(wc -l <"${missing}") of ${total} wheels of ${requirements} from PyPI"
# The target is Debian 12's CPython 3.11 on x86_64; its glibc 2.36 takes manylinux 2.5 to 2.36 wheels. The pinned
# hash picks the file, a wheel or (where it pins one) an sdist, so binaries need not be forced.
platforms=(--platform manylinux1_x86_64 --platform manylinux2010_x86_64 --platform manylinux2014_x86_64)
for minor in $(seq 5 36); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
wheels="$(mktemp)" sdists="$(mktemp)"
trap 'rm -f "${missing}" "${wheels}" "${sdists}"' EXIT
grep -v '# sdist' "${missing}" >"${wheels}" || true
grep '# sdist' "${missing}" | sed 's/ *# sdist$//' >"${sdists}" || true
if [ -s "${wheels}" ]; then
  "${PYTHON:-python3}" -m pip download --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
    --no-deps --implementation cp --python-version 3.11 "${platforms[@]}" -d "${dir}" -r "${wheels}"
fi
# A lock's few sdists (marked "# sdist"): platform-free source archives. pip reads their metadata in an isolated
# build environment (this call has no platform flags to constrain it), held below setuptools 82 as the images' own
# is: 82 dropped pkg_resources, which old setup.py files (mmcv 1.6.0) import.
if [ -s "${sdists}" ]; then
  constraint="$(mktemp)"
  echo 'setuptools<82' >"${constraint}"
  PIP_CONSTRAINT="${constraint}" "${PYTHON:-python3}" -m pip download --quiet --disable-pip-version-check \
    --require-hashes --no-binary=:all: --no-deps -d "${dir}" -r "${sdists}"
  rm -f "${constraint}"
fi
echo "${dir}: ${total} wheels present and verified"
