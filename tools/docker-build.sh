#!/usr/bin/env bash
# `docker build` with BuildKit, whichever way this machine offers it: the buildx plugin, or a docker client
# older than 23 that still has BuildKit built in (Debian 12's docker.io). Arguments go to the build unchanged.
set -euo pipefail

if docker buildx version >/dev/null 2>&1; then
  exec docker buildx build --load "$@"
fi
for client in docker /usr/bin/docker; do
  version="$("${client}" version --format '{{.Client.Version}}' 2>/dev/null || true)"
  if [ -n "${version}" ] && [ "${version%%.*}" -lt 23 ] 2>/dev/null; then
    DOCKER_BUILDKIT=1 exec "${client}" build "$@"
  fi
done
echo "error: no docker client here can build with BuildKit -- fix: install the buildx plugin (docker-buildx-plugin)" >&2
exit 1
