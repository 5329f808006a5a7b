#!/usr/bin/env bash
# docker save each image into DIR as <name>.tar.zst, then SHA256SUMS and images.tsv (tag and image ID).
# Every file is written under a temporary name and renamed, so an interrupted save leaves no truncated archive.
# Usage: tools/images-save.sh DIR IMAGE...
set -euo pipefail

dir="${1:?usage: images-save.sh DIR IMAGE...}"
shift
[ "$#" -gt 0 ] || { echo "error: no images given -- fix: name at least one image" >&2; exit 2; }
command -v zstd >/dev/null || { echo "error: zstd is not installed -- fix: apt-get install zstd" >&2; exit 1; }
mkdir -p "${dir}"
: >"${dir}/.images.tsv.partial"
for image in "$@"; do
  id="$(docker image inspect --format '{{.Id}}' "${image}")" || {
    echo "error: image ${image} does not exist -- fix: build it first (make build-local or make build)" >&2
    exit 1
  }
  name="$(printf '%s' "${image}" | tr '/:' '__')"
  echo "saving ${image} -> ${dir}/${name}.tar.zst"
  docker save "${image}" | zstd -q -T0 -3 -o "${dir}/.${name}.tar.zst.partial"
  mv -f "${dir}/.${name}.tar.zst.partial" "${dir}/${name}.tar.zst"
  printf '%s\t%s\t%s.tar.zst\n' "${image}" "${id}" "${name}" >>"${dir}/.images.tsv.partial"
done
mv -f "${dir}/.images.tsv.partial" "${dir}/images.tsv"
(cd "${dir}" && sha256sum -- images.tsv ./*.tar.zst | sed 's# \./# #' >.SHA256SUMS.partial && mv -f .SHA256SUMS.partial SHA256SUMS)
echo "wrote ${dir}/SHA256SUMS"
