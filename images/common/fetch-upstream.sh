#!/usr/bin/env bash
# Fetch an upstream repository at one pinned commit (with its submodules at the commits it pins), check it, and
# drop the git metadata. Usage: fetch-upstream.sh REPO COMMIT DEST [SUBMODULE_PATH=COMMIT ...]
set -euo pipefail
repo="${1:?}" commit="${2:?}" dest="${3:?}"
shift 3

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
