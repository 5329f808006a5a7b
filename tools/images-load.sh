#!/usr/bin/env bash
# Verify every archive in DIR against SHA256SUMS and zstd's own check, and only then docker load them all.
# Afterwards each tag must carry the image ID recorded when it was saved.
# Usage: tools/images-load.sh DIR
set -euo pipefail

dir="${1:?usage: images-load.sh DIR}"
[ -f "${dir}/SHA256SUMS" ] || { echo "error: ${dir}/SHA256SUMS is missing -- fix: copy the whole folder made by make save" >&2; exit 1; }
command -v zstd >/dev/null || { echo "error: zstd is not installed -- fix: apt-get install zstd" >&2; exit 1; }
if ! (cd "${dir}" && sha256sum --check --strict --quiet SHA256SUMS); then
  echo "error: ${dir} fails its checksums; nothing was loaded -- fix: copy the archives again" >&2
  exit 1
fi
grep -q 'images.tsv' "${dir}/SHA256SUMS" || { echo "error: SHA256SUMS does not cover images.tsv -- fix: run make save again" >&2; exit 1; }
while IFS=$'\t' read -r _ _ archive; do
  grep -q " ${archive}\$" "${dir}/SHA256SUMS" || { echo "error: ${archive} is not in SHA256SUMS; nothing was loaded" >&2; exit 1; }
  zstd -q -t "${dir}/${archive}" || { echo "error: ${archive} is not a valid zstd archive; nothing was loaded" >&2; exit 1; }
done <"${dir}/images.tsv"
while IFS=$'\t' read -r image id archive; do
  zstd -q -d -c "${dir}/${archive}" | docker load -q >/dev/null
  loaded="$(docker image inspect --format '{{.Id}}' "${image}")"
  [ "${loaded}" = "${id}" ] || { echo "error: ${image} loaded as ${loaded}, expected ${id}" >&2; exit 1; }
  echo "loaded ${image} (${id})"
done <"${dir}/images.tsv"
