#!/usr/bin/env bash
# Copy the compiled extension wheels (and pytorch3d's) out of built images: export-wheels.sh OUT IMAGE [IMAGE ...]
# The cu130 images keep them in /opt/ext-wheels, each with NAME.built-for (torch version and arch list); the same
# wheel in several images (pytorch3d) is copied once. A missing image is skipped with a note, so one built image is
# enough; none at all is an error.
set -euo pipefail
out="${1:?usage: export-wheels.sh OUT IMAGE [IMAGE ...]}"
shift
[ "$#" -gt 0 ] || { echo "error: no image given -- fix: export-wheels.sh OUT talkingface/ernerf:VERSION-cu130" >&2; exit 2; }
mkdir -p "${out}"
found=0
for image in "$@"; do
  if ! docker image inspect "${image}" >/dev/null 2>&1; then
    echo "export-wheels: ${image} is not built: skipped" >&2
    continue
  fi
  container="$(docker create "${image}")"
  tmp="$(mktemp -d)"
  docker cp "${container}:/opt/ext-wheels/." "${tmp}/" >/dev/null || { docker rm "${container}" >/dev/null; rm -rf "${tmp}"; \
    echo "error: ${image} has no /opt/ext-wheels -- fix: rebuild it with this checkout (make build LINE=cu130)" >&2; exit 1; }
  docker rm "${container}" >/dev/null
  cp -n "${tmp}"/* "${out}/"
  rm -rf "${tmp}"
  found=$((found + 1))
done
[ "${found}" -gt 0 ] || { echo "error: none of the images is built -- fix: make build LINE=cu130 first" >&2; exit 1; }
( cd "${out}" && sha256sum ./*.whl >SHA256SUMS )
echo "export-wheels: $(find "${out}" -name '*.whl' | wc -l) wheels from ${found} images in ${out}:"
cat "${out}"/*.built-for | sort -u | sed 's/^/  built for torch /'
