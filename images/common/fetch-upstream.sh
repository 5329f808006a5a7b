#!/usr/bin/env bash
# Fetch an upstream repository at one pinned commit (with its submodules at the commits it pins), check it, and
# drop the git metadata. Usage: fetch-upstream.sh REPO COMMIT DEST [SUBMODULE_PATH=COMMIT ...]
#
# Offline (a cluster, the lent GPU machine): with UPSTREAM_ARCHIVES=DIR, each commit comes from DIR/<commit>.tar
# (or .tar.xz, .tar.gz), made where git reaches the repository by `git archive -o <commit>.tar <commit>`. git writes
# the commit's id into the archive's header, so the pin is checked just as a fetch checks it.
set -euo pipefail
repo="${1:?}" commit="${2:?}" dest="${3:?}"
shift 3

from_archive() {  # COMMIT DEST
  local tar found suffix
  for suffix in .tar .tar.xz .tar.gz; do
    tar="${UPSTREAM_ARCHIVES}/$1${suffix}"
    [ -f "${tar}" ] && break
  done
  if [ ! -f "${tar}" ]; then
    echo "error: ${UPSTREAM_ARCHIVES}/$1.tar is missing -- fix: git archive -o $1.tar $1 in a clone of ${repo}, into ${UPSTREAM_ARCHIVES}" >&2
    exit 1
  fi
  found="$(python3 -c 'import sys, tarfile; print(tarfile.open(sys.argv[1]).pax_headers.get("comment", ""))' "${tar}")"
  if [ "${found}" != "$1" ]; then
    echo "error: ${tar} holds commit '${found}', not $1 -- fix: make it with git archive at $1" >&2
    exit 1
  fi
  mkdir -p "$2"
  tar -C "$2" -xf "${tar}"
}

if [ -n "${UPSTREAM_ARCHIVES:-}" ]; then
  from_archive "${commit}" "${dest}"
  for pair in "$@"; do
    from_archive "${pair#*=}" "${dest}/${pair%%=*}"
  done
  exit 0
fi

git init -q "${dest}"
git -C "${dest}" fetch -q --depth 1 "${repo}" "${commit}"
git -C "${dest}" checkout -q FETCH_HEAD
test "$(git -C "${dest}" rev-parse HEAD)" = "${commit}"
if [ "$#" -gt 0 ]; then
  git -C "${dest}" submodule update -q --init --recursive
  for pair in "$@"; do
    test "$(git -C "${dest}/${pair%%=*}" rev-parse HEAD)" = "${pair#*=}"
  done
fi
find "${dest}" -name .git -prune -exec rm -rf {} +
