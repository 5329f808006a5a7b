"""make weights against a local server: download, resume, retry, mirrors, refusals, the lock, archives and links."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from talkingface.weights.download import Meter
from talkingface.weights.lock import LOCK_NAME, load_lock
from talkingface.weights.verify import MISMATCH, OK
from tests.weights.helpers import check, entry, fetch, leftovers, manifest, pinned, sha256
from tests.weights.server import WeightServer

DATA = os.urandom(300_000)
OTHER = os.urandom(300_000)


@pytest.fixture
def server() -> Iterator[WeightServer]:
    with WeightServer() as running:
        yield running


def zip_bytes(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def tar_gz_bytes(members: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class TestDownload:
    def test_downloads_a_pinned_file_verifies_it_and_then_leaves_it_alone(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth", **pinned(DATA)))
        run = fetch(man, tmp_path)
        assert run.failures == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA
        assert leftovers(tmp_path) == [] and not (tmp_path / LOCK_NAME).exists()  # pinned: nothing to record
        assert fetch(man, tmp_path).failures == [] and server.requests_for("w.pth") == [None]

    def test_resumes_an_interrupted_partial_file(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth", **pinned(DATA)))
        (tmp_path / "ernerf").mkdir()
        (tmp_path / "ernerf/w.pth.partial").write_bytes(DATA[:100_000])
        assert fetch(man, tmp_path).failures == []
        assert server.requests_for("w.pth") == ["bytes=100000-"]
        assert (tmp_path / "ernerf/w.pth").read_bytes() == DATA and leftovers(tmp_path) == []

    def test_a_dropped_connection_is_retried_from_where_it_stopped(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA, cut_after=70_000), "ernerf/w.pth", **pinned(DATA)))
        run = fetch(man, tmp_path)
        assert run.failures == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA
        assert server.requests_for("w.pth") == [None, "bytes=70000-"]
        assert run.sleeps == [0.5] and "connection closed after 70000 of 300000 bytes" in run.out

    def test_starts_over_when_the_server_ignores_range(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA, ignore_range=True), "ernerf/w.pth", **pinned(DATA)))
        (tmp_path / "ernerf").mkdir()
        (tmp_path / "ernerf/w.pth.partial").write_bytes(b"junk from elsewhere")
        assert fetch(man, tmp_path).failures == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA

    def test_a_complete_partial_file_is_checked_not_downloaded_again(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth", **pinned(DATA)))
        (tmp_path / "ernerf").mkdir()
        (tmp_path / "ernerf/w.pth.partial").write_bytes(DATA)
        assert fetch(man, tmp_path).failures == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA
        assert server.requests_for("w.pth") == ["bytes=300000-"]  # answered 416: nothing left to send

    def test_retries_after_503_with_backoff(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA, unavailable=2), "ernerf/w.pth", **pinned(DATA)))
        run = fetch(man, tmp_path)
        assert run.failures == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA
        assert run.sleeps == [0.5, 1.0] and len(server.requests_for("w.pth")) == 3
        assert "HTTP 503 Service Unavailable; attempt 2 of 3 in 0.5 s" in run.out

    def test_gives_up_after_the_retries_with_nothing_under_the_final_name(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        url = server.add("w.pth", DATA, unavailable=10)
        run = fetch(manifest(entry("w", url, "ernerf/w.pth", **pinned(DATA))), tmp_path)
        assert not (tmp_path / "ernerf/w.pth").exists() and len(server.requests_for("w.pth")) == 3
        assert run.errors == [
            f"error: cannot download w: {url}: HTTP 503 Service Unavailable (3 attempts) -- fix: check that this "
            "machine reaches the URL (proxy: https_proxy), then run 'make weights' again: it resumes; or download it "
            "on another machine and put it into the weights folder"
        ]

    def test_a_missing_file_falls_back_to_the_mirror(self, server: WeightServer, tmp_path: Path) -> None:
        mirror = server.add("mirror/w.pth", DATA)
        man = manifest(entry("w", server.url("gone.pth"), "ernerf/w.pth", mirrors=[mirror], **pinned(DATA)))
        run = fetch(man, tmp_path)
        assert run.failures == [] and run.sleeps == []  # a 404 is not retried
        assert (tmp_path / "ernerf/w.pth").read_bytes() == DATA and f"from {mirror}" in run.out

    def test_an_unknown_host_is_not_retried(self, server: WeightServer, tmp_path: Path) -> None:
        raw = entry("w", "http://weights.invalid/w.pth", "ernerf/w.pth", mirrors=[server.add("w.pth", DATA)])
        run = fetch(manifest(raw), tmp_path)
        assert run.failures == [] and run.sleeps == [] and (tmp_path / "ernerf/w.pth").read_bytes() == DATA

    def test_progress_lines_carry_the_rate_and_the_eta(self) -> None:
        clock = iter([0.0, 10.0])
        meter = Meter("w", out=io.StringIO(), every_s=5.0, now=lambda: next(clock))
        assert meter.line(50_000_000, 200_000_000) == "  w: 50.0 MB of 200.0 MB ( 25.0%), 5.0 MB/s, ETA 00:00:30"


class TestRefusals:
    def test_a_checksum_mismatch_is_refused_with_both_hashes_and_nothing_kept(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        url = server.add("w.pth", OTHER)
        run = fetch(manifest(entry("w", url, "ernerf/w.pth", **pinned(DATA))), tmp_path)
        dest = tmp_path / "ernerf/w.pth"
        assert run.errors == [
            f"error: checksum mismatch for {dest} (downloaded from {url}): sha256 {sha256(OTHER)}, expected "
            f"{sha256(DATA)} (published: test) -- fix: nothing was kept under that name; run 'make weights' again, "
            "and if the same sha256 comes back the file at the source has changed: report it"
        ]
        assert not dest.exists() and leftovers(tmp_path) == []

    def test_a_torch_hub_name_prefix_is_checked(self, server: WeightServer, tmp_path: Path) -> None:
        url = server.add("net-0123abcd.pth", DATA)
        raw = entry("w", url, "cache/torch/hub/checkpoints/net-0123abcd.pth", checks={"sha256_prefix": "0123abcd"})
        raw["sha256_source"] = "torch hub filename prefix"
        run = fetch(manifest(raw), tmp_path)
        assert len(run.errors) == 1
        assert (
            f"sha256 {sha256(DATA)}, expected 0123abcd... (the sha256 prefix its published file name" in run.errors[0]
        )
        assert not (tmp_path / raw["dest"]).exists()

    def test_a_file_already_there_that_does_not_match_is_an_error_not_overwritten(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth", **pinned(DATA)))
        (tmp_path / "ernerf").mkdir()
        (tmp_path / "ernerf/w.pth").write_bytes(OTHER)
        run = fetch(man, tmp_path)
        dest = tmp_path / "ernerf/w.pth"
        assert run.errors == [
            f"error: checksum mismatch for {dest}: sha256 {sha256(OTHER)}, expected {sha256(DATA)} (published: test) "
            f"-- fix: delete {dest} and run 'make weights' to download it again"
        ]
        assert dest.read_bytes() == OTHER and server.requests_for("w.pth") == []


class TestLock:
    def test_recorded_at_the_first_download_and_enforced_ever_after(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth"))
        run = fetch(man, tmp_path)
        assert run.failures == [] and f"recorded sha256 {sha256(DATA)} in {LOCK_NAME}" in run.out
        record = load_lock(str(tmp_path))["w"]
        assert (record.path, record.sha256, record.size, record.url) == ("ernerf/w.pth", sha256(DATA), len(DATA),
                                                                          server.url("w.pth"))  # fmt: skip
        assert [f.state for f in check(man, tmp_path)] == [OK]

        (tmp_path / "ernerf/w.pth").write_bytes(OTHER)  # tampered, same size
        findings = check(man, tmp_path)
        assert [f.state for f in findings] == [MISMATCH]
        assert findings[0].detail == (
            f"sha256 {sha256(OTHER)}, expected {sha256(DATA)} (recorded in {LOCK_NAME} on {record.recorded})"
        )
        assert "checksum mismatch for" in fetch(man, tmp_path).errors[0]
        assert load_lock(str(tmp_path))["w"].sha256 == sha256(DATA)  # the lock is never rewritten to fit

    def test_a_changed_source_is_refused_on_the_next_download(self, server: WeightServer, tmp_path: Path) -> None:
        url = server.add("w.pth", DATA)
        man = manifest(entry("w", url, "ernerf/w.pth"))
        assert fetch(man, tmp_path).failures == []
        (tmp_path / "ernerf/w.pth").unlink()
        server.files.content["/w.pth"] = OTHER
        run = fetch(man, tmp_path)
        assert f"sha256 {sha256(OTHER)}, expected {sha256(DATA)} (recorded in {LOCK_NAME} on" in run.errors[0]
        assert not (tmp_path / "ernerf/w.pth").exists()

    def test_the_lock_file_is_json_that_travels_with_the_weights(self, server: WeightServer, tmp_path: Path) -> None:
        fetch(manifest(entry("w", server.add("w.pth", DATA), "ernerf/w.pth")), tmp_path)
        raw = json.loads((tmp_path / LOCK_NAME).read_text())
        assert raw["version"] == 1 and raw["entries"]["w"]["sha256"] == sha256(DATA)


class TestArchives:
    def test_one_file_out_of_a_zip_checked_by_its_published_sha1(self, server: WeightServer, tmp_path: Path) -> None:
        import hashlib

        url = server.add("ds.pb.zip", zip_bytes({"ds.pb": DATA}))
        raw = entry(
            "ds",
            url,
            "cache/tensorflow/models/ds.pb",
            checks={"sha1": hashlib.sha1(DATA).hexdigest()},  # noqa: S324 - what upstream publishes
            unpack={"format": "zip", "member": "ds.pb", "sha256": None},
        )
        assert fetch(manifest(raw), tmp_path).failures == []
        assert (tmp_path / raw["dest"]).read_bytes() == DATA and leftovers(tmp_path) == []
        assert load_lock(str(tmp_path))["ds"].sha256 == sha256(DATA)

        other = tmp_path / "other"
        raw["checks"] = {"sha1": "0" * 40}
        run = fetch(manifest(raw), other)
        assert "sha1 " in run.errors[0] and f", expected {'0' * 40} (the sha1 upstream publishes)" in run.errors[0]
        assert leftovers(other) == [] and not (other / raw["dest"]).exists()

    def test_a_tar_gz_member_with_a_pinned_archive(self, server: WeightServer, tmp_path: Path) -> None:
        archive = tar_gz_bytes({"pkg-1.0/data/params.npz": DATA})
        url = server.add("pkg-1.0.tar.gz", archive)
        unpack = {"format": "tar.gz", "member": "pkg-1.0/data/params.npz", "sha256": sha256(archive)}
        raw = entry("npz", url, "eval/params.npz", unpack=unpack, images=["eval"], **pinned(DATA))
        assert fetch(manifest(raw), tmp_path).failures == []
        assert (tmp_path / "eval/params.npz").read_bytes() == DATA

        raw["unpack"] = dict(unpack, sha256=sha256(b"another archive"))
        run = fetch(manifest(raw), tmp_path / "again")
        assert f"sha256 {sha256(archive)}, expected {sha256(b'another archive')} (published: test)" in run.errors[0]

    def test_a_folder_from_a_zip_is_locked_file_by_file(self, server: WeightServer, tmp_path: Path) -> None:
        archive = zip_bytes({"lrs3/vae/model_ckpt_steps_40000.ckpt": DATA, "lrs3/vae/config.yaml": b"a: 1\n"})
        url = server.add("lrs3.zip", archive)
        raw = entry(
            "lrs3",
            url,
            "geneface/checkpoints/lrs3",
            images=["geneface"],
            unpack={"format": "zip", "member": None, "sha256": None},
            contains=["vae/model_ckpt_steps_40000.ckpt"],
        )
        man = manifest(raw)
        assert fetch(man, tmp_path).failures == []
        folder = tmp_path / "geneface/checkpoints/lrs3"
        assert (folder / "vae/model_ckpt_steps_40000.ckpt").read_bytes() == DATA and leftovers(tmp_path) == []
        record = load_lock(str(tmp_path))["lrs3"]
        assert record.sha256 == sha256(archive) and dict(record.files)["vae/config.yaml"] == sha256(b"a: 1\n")
        assert man.paths() == ("geneface/checkpoints/lrs3/vae/model_ckpt_steps_40000.ckpt",)
        assert [f.state for f in check(man, tmp_path)] == [OK]

        (folder / "vae/config.yaml").write_bytes(b"a: 2\n")
        findings = check(man, tmp_path)
        assert [(f.state, f.path) for f in findings] == [(MISMATCH, "geneface/checkpoints/lrs3/vae/config.yaml")]

    def test_a_folder_missing_what_upstream_reads_is_refused(self, server: WeightServer, tmp_path: Path) -> None:
        url = server.add("May.zip", zip_bytes({"May/other/x.ckpt": DATA}))
        raw = entry(
            "may",
            url,
            "geneface/checkpoints/May",
            images=["geneface"],
            unpack={"format": "zip", "member": None, "sha256": None},
            contains=["lm3d_postnet_sync/config.yaml"],
        )
        run = fetch(manifest(raw), tmp_path)
        assert "unpacked without lm3d_postnet_sync/config.yaml" in run.errors[0]
        assert not (tmp_path / "geneface/checkpoints/May").exists() and leftovers(tmp_path) == []

    def test_members_that_escape_the_folder_are_refused(self, server: WeightServer, tmp_path: Path) -> None:
        url = server.add("evil.zip", zip_bytes({"../../escaped": DATA}))
        raw = entry(
            "evil",
            url,
            "geneface/checkpoints/evil",
            images=["geneface"],
            unpack={"format": "zip", "member": None, "sha256": None},
            contains=["x"],
        )
        run = fetch(manifest(raw), tmp_path / "w")
        assert "unsafe member name '../../escaped'" in run.errors[0] and not (tmp_path / "escaped").exists()


class TestPlacement:
    def test_links_are_relative_symlinks_and_hf_snapshots_get_refs_main(
        self, server: WeightServer, tmp_path: Path
    ) -> None:
        rev = "ab" * 20
        hf_dest = f"cache/huggingface/hub/models--org--model/snapshots/{rev}/config.json"
        man = manifest(
            entry(
                "alex",
                server.add("alexnet.pth", DATA),
                "cache/torch/hub/checkpoints/alexnet.pth",
                images=["ernerf", "eval"],
                links=[{"path": "eval/alexnet.pth", "images": ["eval"]}],
            ),
            entry("cfg", server.add("config.json", b"{}"), hf_dest, images=["geneface"]),
        )
        assert fetch(man, tmp_path).failures == []
        link = tmp_path / "eval/alexnet.pth"
        assert os.readlink(link) == "../cache/torch/hub/checkpoints/alexnet.pth" and link.read_bytes() == DATA
        assert (tmp_path / "cache/huggingface/hub/models--org--model/refs/main").read_text() == rev
        assert (tmp_path / "cache/huggingface/hub/version.txt").read_text() == "1"
        assert all(f.state == OK for f in check(man, tmp_path)) and len(check(man, tmp_path)) == 5
        assert man.paths(["ernerf"]) == ("cache/torch/hub/checkpoints/alexnet.pth",)

    def test_only_the_links_of_the_chosen_images_are_made(self, server: WeightServer, tmp_path: Path) -> None:
        man = manifest(
            entry(
                "alex",
                server.add("alexnet.pth", DATA),
                "cache/torch/hub/checkpoints/alexnet.pth",
                images=["ernerf", "eval"],
                links=[{"path": "eval/alexnet.pth", "images": ["eval"]}],
            )
        )
        assert fetch(man, tmp_path, ["ernerf"]).failures == [] and not (tmp_path / "eval").exists()

    def test_a_manual_file_names_where_to_get_it_then_is_locked_once_there(self, tmp_path: Path) -> None:
        drive = "https://drive.google.com/drive/folders/abc"
        man = manifest(entry("bfm", drive, "geneface/BFM/front.mat", images=["geneface"], manual=True))
        dest = tmp_path / "geneface/BFM/front.mat"
        assert fetch(man, tmp_path).errors == [
            f"error: test file bfm is missing: {dest} -- fix: download it by hand from {drive} (no direct link: a "
            f"browser is needed), save it as {dest}, then run 'make weights' again, which records its sha256"
        ]
        dest.parent.mkdir(parents=True)
        dest.write_bytes(DATA)
        assert [f.state for f in check(man, tmp_path)] == ["unlocked"]
        run = fetch(man, tmp_path)
        assert run.failures == [] and "recorded sha256" in run.out
        assert [f.state for f in check(man, tmp_path)] == [OK]
