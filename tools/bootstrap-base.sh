#!/usr/bin/env bash
# Build the local line's base image from Debian packages: debootstrap into a folder, then `docker import`.
# No registry is needed, which is the point: CI (and an air-gapped site) can't pull images.
# Usage: tools/bootstrap-base.sh IMAGE_TAG [MIRROR]   (needs root for debootstrap)
set -euo pipefail

tag="${1:?usage: bootstrap-base.sh IMAGE_TAG [MIRROR]}"
mirror="${2:-http://deb.debian.org/debian}"
suite="bookworm"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
packages_file="${here}/images/base-local/packages.txt"
packages="$(grep -v '^#' "${packages_file}" | paste -sd, -)"
# The tag's label records what went in, so an unchanged base is not rebuilt.
fingerprint="$(printf '%s %s %s' "${suite}" "${mirror}" "${packages}" | sha256sum | cut -c1-16)"

if [ "$(docker image inspect --format '{{ index .Config.Labels "talkingface.base.fingerprint" }}' "${tag}" 2>/dev/null)" = "${fingerprint}" ]; then
  echo "${tag} is up to date (${fingerprint})"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: debootstrap needs root -- fix: run 'sudo make base-local'" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

rootfs="$(mktemp -d)"
trap 'rm -rf "${rootfs}"' EXIT
echo "debootstrap ${suite} (${packages}) from ${mirror}"
debootstrap --variant=minbase --include="${packages}" "${suite}" "${rootfs}" "${mirror}" >"${rootfs}.log" 2>&1 || {
  tail -n 20 "${rootfs}.log" >&2
  echo "error: debootstrap failed (log above) -- fix: check the mirror ${mirror}" >&2
  exit 1
}
rm -f "${rootfs}.log"
rm -rf "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/var/lib/apt/lists/"*
tar -C "${rootfs}" -c . | docker import \
  --change "LABEL talkingface.base.fingerprint=${fingerprint}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "${tag}" >/dev/null
echo "built ${tag} (${fingerprint})"
