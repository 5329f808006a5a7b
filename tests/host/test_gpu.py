from __future__ import annotations

import pytest

from talkingface.core.errors import TalkingfaceError
from talkingface.host.gpu import (
    GpuSelection,
    HostGpu,
    check_available,
    parse_compute_caps,
    parse_gpu,
    parse_smi_list,
    pick_line,
)

SMI = """GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-0a1b)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-2c3d)
  MIG 1g.10gb     Device  0: (UUID: MIG-xyz)
"""


class TestParseGpu:
    @pytest.mark.parametrize(
        ("text", "indices"),
        [("GPU0", (0,)), ("gpu1", (1,)), ("GPU0,GPU1", (0, 1)), ("0", (0,)), ("0,1", (0, 1)), (" Gpu0, gpu1 ", (0, 1))],
    )
    def test_indices(self, text: str, indices: tuple) -> None:
        assert parse_gpu(text).indices == indices

    @pytest.mark.parametrize("text", ["CPU", "cpu"])
    def test_cpu(self, text: str) -> None:
        selection = parse_gpu(text)
        assert selection.is_cpu and selection.docker_args() == []

    def test_all(self) -> None:
        assert parse_gpu("ALL").docker_args() == ["--gpus", "all"]

    @pytest.mark.parametrize("text", ["GPU", "gpu-1", "GPUx", "1;rm", "0,,1", "", "GPU0,GPU0", "two"])
    def test_malformed(self, text: str) -> None:
        with pytest.raises(TalkingfaceError):
            parse_gpu(text)


class TestDockerArgs:
    def test_one_device(self) -> None:
        assert GpuSelection(indices=(1,)).docker_args() == ["--gpus", "device=1"]

    def test_several_devices_are_quoted_for_dockers_csv_parser(self) -> None:
        assert GpuSelection(indices=(0, 1)).docker_args() == ["--gpus", '"device=0,1"']


class TestHostGpus:
    def test_parse_smi(self) -> None:
        assert parse_smi_list(SMI) == [
            HostGpu(0, "NVIDIA GeForce RTX 4090", "GPU-0a1b"),
            HostGpu(1, "NVIDIA A100-SXM4-80GB", "GPU-2c3d"),
        ]

    def test_missing_index_lists_what_the_host_has(self) -> None:
        with pytest.raises(TalkingfaceError) as err:
            check_available(parse_gpu("GPU2"), parse_smi_list(SMI))
        assert "GPU2 is not on this host" in err.value.problem
        assert "GPU0: NVIDIA GeForce RTX 4090; GPU1: NVIDIA A100-SXM4-80GB" in err.value.problem

    def test_all_on_a_host_without_gpus_is_refused(self) -> None:
        with pytest.raises(TalkingfaceError):
            check_available(parse_gpu("all"), [])

    def test_line_follows_compute_capability(self) -> None:
        caps = parse_compute_caps("0, 8.9\n1, 8.0\n")
        assert caps == {0: (8, 9), 1: (8, 0)}
        assert pick_line(parse_gpu("GPU0"), caps) == "cu118"
        assert pick_line(parse_gpu("GPU1"), caps) == "cu113"
        assert pick_line(parse_gpu("all"), caps) == "cu118"


class TestPickLineCu130:
    """--line auto and the cu130 line (CUDA 13: sm_75 and newer, built from PyPI and Debian only)."""

    def test_cu130_when_only_its_images_are_present(self) -> None:
        assert pick_line(GpuSelection(all_gpus=True), {0: (9, 0)}, frozenset({"cu130"})) == "cu130"
        assert pick_line(GpuSelection(all_gpus=True), {0: (7, 5)}, frozenset({"cu130"})) == "cu130"

    def test_older_lines_win_when_their_images_are_present(self) -> None:
        assert pick_line(GpuSelection(all_gpus=True), {0: (9, 0)}, frozenset({"cu130", "cu118"})) == "cu118"
        assert pick_line(GpuSelection(all_gpus=True), {0: (8, 6)}, frozenset()) == "cu113"

    def test_volta_never_gets_cu130(self) -> None:
        assert pick_line(GpuSelection(all_gpus=True), {0: (7, 0)}, frozenset({"cu130"})) == "cu113"
        assert pick_line(GpuSelection(all_gpus=True), {0: (7, 0), 1: (9, 0)}, frozenset({"cu130"})) == "cu118"

    def test_blackwell_gets_cu130_whatever_else_is_built(self) -> None:
        # CUDA 11.8 builds stop at sm_90: an RTX 50 or B200 can only run the cu130 images.
        assert pick_line(GpuSelection(all_gpus=True), {0: (12, 0)}) == "cu130"
        assert pick_line(GpuSelection(all_gpus=True), {0: (10, 0)}, frozenset({"cu113", "cu118"})) == "cu130"
        assert pick_line(parse_gpu("GPU1"), {0: (8, 0), 1: (12, 0)}, frozenset({"cu113"})) == "cu130"
        assert pick_line(parse_gpu("GPU0"), {0: (8, 0), 1: (12, 0)}, frozenset({"cu113"})) == "cu113"

    def test_the_lines_present_are_read_from_one_docker_listing(self, tmp_path, monkeypatch) -> None:
        from talkingface.host.gpu import present_lines

        fake = tmp_path / "docker"
        fake.write_text(
            '#!/bin/sh\n[ "$*" = "image ls --format {{.Tag}} talkingface/ernerf" ] || exit 3\n'
            "printf '0.1.0-cu130\\n0.1.0-local\\n0.0.9-cu118\\n'\n"
        )
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
        assert present_lines("ernerf", "0.1.0") == frozenset({"cu130"})
        assert present_lines("gaussiantalker", "0.1.0") == frozenset()  # docker refused: nothing is present


class TestCu130Doctor:
    def test_driver_minimum_is_cuda_13s(self) -> None:
        from talkingface.doctor.lines import line_problems

        assert line_problems(line="cu130", cap=(9, 0), driver="580.65.06") == []
        (problem,) = line_problems(line="cu130", cap=(9, 0), driver="575.57.08")
        assert "580.65.06" in problem.what

    def test_volta_is_refused_and_blackwell_needs_cu130(self) -> None:
        from talkingface.doctor.lines import line_problems, runnable_lines

        assert "sm_70" in line_problems(line="cu130", cap=(7, 0), driver="590.1")[0].what
        assert runnable_lines(cap=(12, 0), driver="590.1") == ["cu130"]
        assert "cu130" in line_problems(line="cu118", cap=(12, 0), driver="590.1")[0].what
