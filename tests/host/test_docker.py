from __future__ import annotations

import csv
import shlex

from talkingface.host.docker import DockerRun, Mount


def mount_fields(spec: str) -> list:
    return next(csv.reader([spec]))


class TestMount:
    def test_plain(self) -> None:
        assert Mount("/a/b", "/workspace", readonly=False).spec() == "type=bind,source=/a/b,target=/workspace"

    def test_readonly(self) -> None:
        assert Mount("/v.mp4", "/input/video/v.mp4", readonly=True).spec().endswith(",readonly")

    def test_commas_quotes_and_spaces_survive_dockers_csv_parsing(self) -> None:
        source = '/data/my "best", take 2.mp4'
        fields = mount_fields(Mount(source, "/input/video/x.mp4", readonly=True).spec())
        assert fields == ["type=bind", f"source={source}", "target=/input/video/x.mp4", "readonly"]


class TestDockerRun:
    def make(self) -> DockerRun:
        return DockerRun(
            image="talkingface/ernerf:0.1.0-cu113",
            command=("train", "--task", "a b"),
            name="talkingface-ernerf-train-x",
            user="1000:1000",
            mounts=(Mount("/ws space", "/workspace", readonly=False),),
            gpu_args=("--gpus", '"device=0,1"'),
        )

    def test_rendered_command_is_the_argv(self) -> None:
        run = self.make()
        assert shlex.split(run.render().replace("\\\n", " ")) == run.argv()

    def test_safe_defaults(self) -> None:
        argv = self.make().argv()
        assert argv[:4] == ["docker", "run", "--rm", "--init"]
        assert "--privileged" not in argv and "host" not in argv
        assert argv[argv.index("--network") + 1] == "none" and argv.count("--network") == 1
        assert argv[argv.index("--user") + 1] == "1000:1000"
        assert argv[argv.index("--security-opt") + 1] == "no-new-privileges"
