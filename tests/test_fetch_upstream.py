"""images/common/fetch-upstream.sh offline: archives named by commit, whose embedded commit id is checked."""

from __future__ import annotations

import lzma
import subprocess
from pathlib import Path

from tests.conftest import REPO

SCRIPT = REPO / "images" / "common" / "fetch-upstream.sh"


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def commit(tmp: Path, name: str, text: str) -> tuple:
    repo = tmp / name
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "setup.py").write_text(text)
    git(repo, "add", "setup.py")
    git(repo, "commit", "-qm", "one")
    return repo, git(repo, "rev-parse", "HEAD").strip()


def fetch(archives: Path, sha: str, dest: Path, *pairs: str) -> subprocess.CompletedProcess:
    env = {"UPSTREAM_ARCHIVES": str(archives), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["bash", str(SCRIPT), "https://example.invalid/r.git", sha, str(dest), *pairs],
        capture_output=True,
        text=True,
        env=env,
    )


def test_archives_of_the_pinned_commits_are_unpacked_with_their_submodules(tmp_path: Path) -> None:
    main, main_sha = commit(tmp_path, "main", "main")
    sub, sub_sha = commit(tmp_path, "sub", "sub")
    archives = tmp_path / "archives"
    archives.mkdir()
    git(main, "archive", "-o", str(archives / f"{main_sha}.tar"), main_sha)
    # Compressed archives work too: they carry across a size limit better.
    git(sub, "archive", "-o", str(tmp_path / "sub.tar"), sub_sha)
    (archives / f"{sub_sha}.tar.xz").write_bytes(lzma.compress((tmp_path / "sub.tar").read_bytes()))
    done = fetch(archives, main_sha, tmp_path / "tree", f"third_party/sub={sub_sha}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tree" / "setup.py").read_text() == "main"
    assert (tmp_path / "tree" / "third_party" / "sub" / "setup.py").read_text() == "sub"


def test_a_missing_or_wrong_archive_is_refused_naming_the_fix(tmp_path: Path) -> None:
    main, main_sha = commit(tmp_path, "main", "main")
    _, other_sha = commit(tmp_path, "other", "other")
    archives = tmp_path / "archives"
    archives.mkdir()
    missing = fetch(archives, main_sha, tmp_path / "a")
    assert missing.returncode == 1
    assert f"{archives / main_sha}.tar is missing -- fix: git archive -o {main_sha}.tar {main_sha}" in missing.stderr
    # An archive of another commit under the pinned name: the id git wrote into it gives it away.
    git(main, "archive", "-o", str(archives / f"{other_sha}.tar"), main_sha)
    wrong = fetch(archives, other_sha, tmp_path / "b")
    assert wrong.returncode == 1
    assert f"holds commit '{main_sha}', not {other_sha}" in wrong.stderr
    assert not (tmp_path / "b").exists()
