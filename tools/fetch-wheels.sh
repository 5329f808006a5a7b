#!/usr/bin/env bash
# Fill the local line's wheelhouse from PyPI on the host, because builds there can't reach PyPI: the model images
# bind-mount it and install with --no-index --require-hashes.
# Usage: tools/fetch-wheels.sh REQUIREMENTS DIR   (REQUIREMENTS: one `name==version --hash=sha256:...` per line)
# Wheels already in DIR whose hash is pinned are kept, so with every wheel in place this touches no network.
set -euo pipefail

requirements="${1:?usage: fetch-wheels.sh REQUIREMENTS DIR}"
dir="${2:?usage: fetch-wheels.sh REQUIREMENTS DIR}"
mkdir -p "${dir}"

have=" "
for wheel in "${dir}"/*.whl; do
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
# The target is Debian 12's CPython 3.11 on x86_64; its glibc 2.36 takes manylinux2014 and manylinux_2_28 wheels.
"${PYTHON:-python3}" -m pip download --quiet --disable-pip-version-check --require-hashes --only-binary=:all: \
  --no-deps --implementation cp --python-version 3.11 --platform manylinux2014_x86_64 \
  --platform manylinux_2_28_x86_64 -d "${dir}" -r "${missing}"
echo "${dir}: ${total} wheels present and verified"
