"""make bundle, then make load, for real on disk: docker is the recorder from conftest, zstd and tar are real."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import List

import pytest

from talkingface.bundle import zstd
from talkingface.bundle.__main__ import main
from talkingface.bundle.load import check_bundle, load_bundle
from talkingface.bundle.make import PROGRESS_NAME, make_bundle
from talkingface.bundle.record import RECORD_NAME, SUMS_NAME, WEIGHTS_ARCHIVE, parse_record
from talkingface.bundle.sums import hash_file
from talkingface.core.errors import TalkingfaceError
from talkingface.weights.lock import load_lock
from talkingface.weights.manifest import load_manifest

from .conftest import LOCKED, PARSING, FakeDocker, Site

TAGS = ["talkingface/ernerf:9.9.9-local", "talkingface/eval:9.9.9-local"]
ALL = ("ernerf", "gaussiantalker", "eval")


def make(site: Site, tags: List[str] = TAGS, **kw: object) -> None:
    make_bundle(
        out=site.out,
        tags=tags,
        weights_dir=site.weights,
        manifest=load_manifest(site.manifest),
        weights_for=ALL,
        version="9.9.9",
        revision="abc1234",
        stream=io.StringIO(),
        **kw,
    )  # type: ignore[arg-type]


def load(site: Site) -> None:
    load_bundle(site.out, weights_dest=site.dest, stream=io.StringIO())


def tree(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): (os.readlink(p) if p.is_symlink() else p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def resum(site: Site, name: str) -> None:
    """Rewrite one line of SHA256SUMS, as if the file had been damaged before it was hashed."""
    sums = site.out / SUMS_NAME
    lines = [line for line in sums.read_text().splitlines() if not line.endswith(f"  {name}")]
    lines.append(f"{hash_file(site.out / name, label=name)}  {name}")
    sums.write_text("\n".join(lines) + "\n")


def rewrite_weights(site: Site, edit) -> None:  # type: ignore[no-untyped-def]
    """Unpack the weights archive, let ``edit`` change the members, pack it again and fix SHA256SUMS."""
    archive = site.out / WEIGHTS_ARCHIVE
    members = []
    with zstd.decompressing(archive) as pipe, tarfile.open(fileobj=pipe, mode="r|") as tar:
        for member in tar:
            data = tar.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            members.append((member, data))
    members = edit(members)
    archive.unlink()
    with zstd.compressing(archive) as pipe, tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    resum(site, WEIGHTS_ARCHIVE)


def test_round_trip_restores_images_and_weights(site: Site, fake_docker: FakeDocker) -> None:
    make(site)
    names = sorted(p.relative_to(site.out).as_posix() for p in site.out.rglob("*") if p.is_file())
    assert names == [
        SUMS_NAME,
        RECORD_NAME,
        "images/talkingface_ernerf_9.9.9-local.tar.zst",
        "images/talkingface_eval_9.9.9-local.tar.zst",
        WEIGHTS_ARCHIVE,
        "weights_manifest.json",
    ]
    # The coreutils tool agrees with our SHA256SUMS, so a user can check by hand.
    assert subprocess.run(["sha256sum", "--check", "--strict", "--quiet", SUMS_NAME], cwd=site.out).returncode == 0
    record = parse_record((site.out / RECORD_NAME).read_text(), "bundle.json")
    assert [(i.tag, i.id, i.model, i.line, i.upstream_commit) for i in record.images] == [
        (t, fake_docker.ids[t], t.split("/")[1].split(":")[0], "local", "c0ffee") for t in TAGS
    ]
    assert record.weights is not None and set(record.weights.lock) == {"locked"}
    link = "data_utils/face_parsing/79999_iter.pth"
    assert dict(record.weights.links) == {f"gaussiantalker/{link}": f"../../../ernerf/{link}"}
    saved = dict(fake_docker.images)
    ids = dict(fake_docker.ids)
    fake_docker.images.clear()
    fake_docker.ids.clear()
    fake_docker.calls.clear()
    load(site)
    assert fake_docker.calls == [f"load {t}" for t in TAGS]
    assert fake_docker.images == saved and fake_docker.ids == ids
    assert tree(site.dest) == {
        **tree(site.weights),
        "weights.lock.json": (site.dest / "weights.lock.json").read_bytes(),
    }
    assert (site.dest / "gaussiantalker/data_utils/face_parsing/79999_iter.pth").read_bytes() == PARSING
    assert load_lock(str(site.dest)) == load_lock(str(site.weights))


def test_loading_again_writes_nothing_new(site: Site, fake_docker: FakeDocker) -> None:
    make(site)
    load(site)
    before = {p: p.stat().st_mtime_ns for p in site.dest.rglob("*.*") if p.name != "weights.lock.json"}
    out = io.StringIO()
    load_bundle(site.out, weights_dest=site.dest, stream=out)
    assert "0 files written, 4 already in place" in out.getvalue()
    assert {p: p.stat().st_mtime_ns for p in before} == before


@pytest.mark.parametrize("victim", ["image", "weights", "record", "sums-line"])
def test_a_damaged_bundle_loads_nothing(site: Site, fake_docker: FakeDocker, victim: str) -> None:
    make(site)
    fake_docker.ids.clear()
    fake_docker.calls.clear()
    name = {
        "image": "images/talkingface_eval_9.9.9-local.tar.zst",
        "weights": WEIGHTS_ARCHIVE,
        "record": RECORD_NAME,
        "sums-line": RECORD_NAME,
    }[victim]
    if victim == "sums-line":
        sums = site.out / SUMS_NAME
        sums.write_text("".join(line + "\n" for line in sums.read_text().splitlines() if RECORD_NAME not in line))
    else:
        data = bytearray((site.out / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (site.out / name).write_bytes(bytes(data))
    with pytest.raises(TalkingfaceError) as err:
        load(site)
    assert "nothing was loaded" in err.value.problem and name in err.value.problem
    assert fake_docker.calls == [] and not site.dest.exists()


def test_an_archive_damaged_before_hashing_is_caught_by_zstd(site: Site, fake_docker: FakeDocker) -> None:
    make(site)
    name = "images/talkingface_ernerf_9.9.9-local.tar.zst"
    data = bytearray((site.out / name).read_bytes())
    del data[-100:]
    (site.out / name).write_bytes(bytes(data))
    resum(site, name)
    fake_docker.calls.clear()
    with pytest.raises(TalkingfaceError, match="not a whole zstd archive"):
        load(site)
    assert fake_docker.calls == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda ms: [(m, (d[:-1] + b"!") if d and m.name.endswith("exp_info.npy") else d) for m, d in ms],
            "exp_info.npy has sha256",
        ),
        (
            lambda ms: ms + [(tarfile.TarInfo("ernerf/extra.pth"), b"not in the record")],
            "ernerf/extra.pth is not a file the bundle record lists",
        ),
        (
            lambda ms: [(m, d) for m, d in ms if not m.name.endswith("locked.bin")],
            "eval/locked.bin is listed but not in",
        ),
    ],
    ids=["changed", "extra", "missing"],
)
def test_each_weight_is_checked_against_the_record(site: Site, fake_docker: FakeDocker, edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    make(site)
    rewrite_weights(site, edit)
    fake_docker.calls.clear()
    with pytest.raises(TalkingfaceError, match=expected):
        load(site)
    assert fake_docker.calls == [] and not site.dest.exists()


def test_a_link_out_of_the_weights_folder_is_refused(site: Site, fake_docker: FakeDocker) -> None:
    make(site)

    def escape(members):  # type: ignore[no-untyped-def]
        for member, _ in members:
            if member.issym():
                member.linkname = "../../../../../etc/passwd"
        return members

    rewrite_weights(site, escape)
    with pytest.raises(TalkingfaceError, match="points outside the weights folder"):
        load(site)


def test_existing_weights_are_never_overwritten(site: Site, fake_docker: FakeDocker) -> None:
    make(site)
    mine = site.dest / "eval/locked.bin"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own file")
    fake_docker.calls.clear()
    with pytest.raises(TalkingfaceError) as err:
        load(site)
    assert "eval/locked.bin exists with other content" in err.value.problem and "WEIGHTS=" in err.value.fix
    assert mine.read_bytes() == b"the user's own file" and fake_docker.calls == []
    assert sorted(p.name for p in site.dest.rglob("*")) == ["eval", "locked.bin"]


def test_a_conflicting_lock_is_refused(site: Site, fake_docker: FakeDocker) -> None:
    make(site)
    site.dest.mkdir()
    lock = json.loads((site.weights / "weights.lock.json").read_text())
    lock["entries"]["locked"]["sha256"] = "0" * 64
    (site.dest / "weights.lock.json").write_text(json.dumps(lock))
    with pytest.raises(TalkingfaceError, match="records locked as 0000"):
        load(site)


def test_make_refuses_weights_that_fail_verification(site: Site, fake_docker: FakeDocker) -> None:
    (site.weights / "eval/locked.bin").write_bytes(LOCKED[:-1] + bytes([LOCKED[-1] ^ 0xFF]))
    with pytest.raises(TalkingfaceError) as err:
        make(site)
    assert "eval/locked.bin MISMATCH" in err.value.problem and "make weights" in err.value.fix
    assert not site.out.exists() and fake_docker.calls == []


def test_make_never_writes_into_an_existing_bundle(site: Site, fake_docker: FakeDocker) -> None:
    site.out.mkdir()
    (site.out / "notes.txt").write_text("mine")
    with pytest.raises(TalkingfaceError, match="already exists and is not empty"):
        make(site)
    assert [p.name for p in site.out.iterdir()] == ["notes.txt"]


def test_make_refuses_an_image_that_was_not_built(site: Site, fake_docker: FakeDocker) -> None:
    with pytest.raises(TalkingfaceError, match="image talkingface/geneface:9.9.9-local does not exist"):
        make(site, tags=[*TAGS, "talkingface/geneface:9.9.9-local"])
    assert not site.out.exists()


def test_an_interrupted_make_resumes_with_the_images_already_saved(site: Site, fake_docker: FakeDocker) -> None:
    fake_docker.fail_save = TAGS[1]
    with pytest.raises(KeyboardInterrupt):
        make(site)
    partial = site.out.with_name(site.out.name + ".partial")
    assert not site.out.exists() and (partial / PROGRESS_NAME).is_file()
    assert not [p for p in partial.rglob("*") if ".partial-" in p.name]  # the broken save left nothing behind
    fake_docker.fail_save = ""
    fake_docker.calls.clear()
    make(site)
    assert fake_docker.calls == [f"save {TAGS[1]}"] and not partial.exists()
    check_bundle(site.out, weights_dest=site.dest, stream=io.StringIO())


def test_an_image_rebuilt_since_the_interruption_is_saved_again(site: Site, fake_docker: FakeDocker) -> None:
    fake_docker.fail_save = TAGS[1]
    with pytest.raises(KeyboardInterrupt):
        make(site)
    fake_docker.fail_save = ""
    fake_docker.ids[TAGS[0]] = "sha256:" + "1" * 64
    fake_docker.calls.clear()
    make(site)
    assert fake_docker.calls == [f"save {t}" for t in TAGS]


def test_cli_images_only_then_verify_and_load(
    site: Site, fake_docker: FakeDocker, capsys: pytest.CaptureFixture
) -> None:
    argv = ["make", "--out", str(site.out), "--no-weights", *[f"--image={t}" for t in TAGS]]
    assert main(argv) == 0
    assert not (site.out / WEIGHTS_ARCHIVE).exists()
    assert main(["verify", str(site.out), "--weights", str(site.dest)]) == 0
    assert "every checksum and archive is good (2 images)" in capsys.readouterr().out
    (site.out / SUMS_NAME).unlink()
    assert main(["load", str(site.out), "--weights", str(site.dest)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "SHA256SUMS is missing" in err and " -- fix: " in err


@pytest.mark.parametrize("command", ["verify", "load"])
def test_a_bundle_folder_that_is_not_there_is_named_with_the_ones_that_are(
    tmp_path: Path, capsys: pytest.CaptureFixture, command: str
) -> None:
    dist = tmp_path / "dist"
    assert main([command, str(dist / "cu113"), "--weights", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: no bundle folder at {dist / 'cu113'} -- fix: pass the bundle you have with "
        "BUNDLE=<folder>, or write one there with 'make bundle' (LINE=cu113|cu118 picks dist/<LINE>)\n"
    )
    (dist / "cu118").mkdir(parents=True)
    (dist / "cu118" / SUMS_NAME).write_text("")
    assert main([command, str(dist / "cu113"), "--weights", str(tmp_path / "w")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no bundle folder at {dist / 'cu113'}; bundles in {dist}: {dist / 'cu118'}" in err
    assert f"make verify-bundle BUNDLE={dist / 'cu118'}" in err and "'make bundle'" in err and "SHA256SUMS" not in err
    assert not (tmp_path / "w").exists()


def test_cli_make_with_weights_for_one_image(site: Site, fake_docker: FakeDocker) -> None:
    argv = [
        "make",
        "--out",
        str(site.out),
        "--weights",
        str(site.weights),
        "--manifest",
        str(site.manifest),
        "--weights-for",
        "eval",
    ]
    assert main(argv) == 0
    record = parse_record((site.out / RECORD_NAME).read_text(), "bundle.json")
    assert record.images == () and record.weights is not None
    assert [path for path, _, _ in record.weights.files] == ["eval/locked.bin"]
    shutil.rmtree(site.weights)
    assert main(["load", str(site.out), "--weights", str(site.dest)]) == 0
    assert (site.dest / "eval/locked.bin").read_bytes() == LOCKED
