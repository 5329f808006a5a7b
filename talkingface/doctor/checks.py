"""One pure function per check: facts in, a ``Row`` out. No check runs a command or reads a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

from ..core.upstream import UpstreamPin
from .facts import (
    MODEL_IMAGES,
    BfmFacts,
    DiskFacts,
    DockerFacts,
    Facts,
    Gpu,
    GpuFacts,
    ImageFacts,
    ShmFacts,
    WeightsFacts,
)
from .lines import CUDA_LINES, LOCAL, line_problems, runnable_lines, sm

OK, WARN, FAIL = "ok", "warn", "fail"
GB = 1000**3
GIB = 1024**3
# A dataset is a few minutes of 512x512 frames plus landmarks, parsing maps and features (about 5-10 GB), and
# training adds checkpoints and logs: under 10 GB a run stops half way, under 50 GB a second task may not fit.
DISK_FAIL_BYTES = 10 * GB
DISK_WARN_BYTES = 50 * GB
# The real 01_MorphableModel.mat is about 230 MB (bfm_models/README.md). Its sha256 isn't recorded anywhere here, so
# the MATLAB header and a generous size range are what can be checked: they catch placeholders, truncated downloads
# and saved HTML error pages, not a different file of the same kind.
BFM_HEADER = b"MATLAB 5.0 MAT-file"
BFM_MIN_BYTES = 150 * 1000**2
BFM_MAX_BYTES = 350 * 1000**2
BFM_FIX = "register at faces.dmi.unibas.ch and extract 01_MorphableModel.mat as bfm_models/README.md explains"
TOOLKIT_FIX = (
    "install the NVIDIA Container Toolkit "
    "(https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html), "
    "then sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
)
# --gpus needs only runc plus the NVIDIA hook; other runtimes (gVisor, Kata) handle devices and /dev/shm their own way.
KNOWN_RUNTIMES = ("runc", "io.containerd.runc.v2", "nvidia")


@dataclass(frozen=True)
class Row:
    check: str
    status: str
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in (OK, WARN, FAIL):
            raise ValueError(f"unknown status {self.status!r}")
        if self.status == FAIL and not self.fix:
            raise ValueError(f"the failing row {self.check!r} has no fix")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def needs_gpu(line: str) -> bool:
    return line != LOCAL


def check_docker(docker: DockerFacts) -> Row:
    if docker.state == "absent":
        return Row(
            "docker",
            FAIL,
            "docker is not installed (no docker on PATH)",
            "install Docker Engine: https://docs.docker.com/engine/install/",
        )
    if docker.state != "ok":
        if "permission denied" in docker.error.lower():
            fix = "add yourself to the docker group (sudo usermod -aG docker $USER), then log in again"
        else:
            fix = "start the Docker daemon (sudo systemctl start docker), or point DOCKER_HOST at a running one"
        return Row("docker", FAIL, f"the Docker daemon does not answer: {docker.error}", fix)
    return Row("docker", OK, f"server {docker.server_version}")


def check_nvidia_runtime(docker: DockerFacts, *, line: str) -> Row:
    name = "nvidia runtime"
    registered = "nvidia" in docker.runtimes
    if not needs_gpu(line):
        state = "registered" if registered else "not registered"
        return Row(name, OK, f"not needed: the local line runs on the CPU ({state})")
    if docker.state != "ok":
        return Row(name, WARN, f"not checked: docker is {docker.state}", "see the docker row")
    listing = ", ".join(docker.runtimes) or "none"
    if registered:
        return Row(name, OK, f'"nvidia" is registered (runtimes: {listing}; default: {docker.default_runtime})')
    if docker.nvidia_hook:
        return Row(
            name,
            WARN,
            f'no "nvidia" runtime in docker info, but {docker.nvidia_hook} is there, which --gpus uses',
            "register it as the install guide does: sudo nvidia-ctk runtime configure --runtime=docker "
            "&& sudo systemctl restart docker",
        )
    return Row(
        name,
        FAIL,
        f'no "nvidia" runtime in docker info (runtimes: {listing}) and no nvidia-container-runtime-hook: '
        "docker can't give a container a GPU",
        TOOLKIT_FIX,
    )


def check_gpus(gpus: GpuFacts, *, line: str) -> Row:
    name = "GPUs"
    drivers = ", ".join(sorted({gpu.driver for gpu in gpus.gpus}))
    if not needs_gpu(line):
        if gpus.state == "failed":
            return Row(
                name,
                WARN,
                f"nvidia-smi failed ({gpus.error}); the local line runs on the CPU without it",
                "only for the CUDA lines: reboot after installing the NVIDIA driver, or reinstall it",
            )
        if gpus.state == "absent":
            return Row(name, OK, "no NVIDIA driver (no nvidia-smi): fine, the local line runs on the CPU")
        return Row(name, OK, f"{plural(len(gpus.gpus), 'GPU')}, driver {drivers}: unused by the local line (CPU)")
    minimum = CUDA_LINES[line].min_driver
    if gpus.state == "absent":
        return Row(
            name,
            FAIL,
            "nvidia-smi not found: this machine has no NVIDIA driver",
            f"install the NVIDIA driver ({minimum} or newer for {line}); without a GPU, only --line local runs "
            "(the test doubles, on the CPU)",
        )
    if gpus.state == "failed":
        if "couldn't communicate with the nvidia driver" in gpus.error.lower():
            fix = (
                "load the driver: reboot after installing or upgrading it, or reinstall it, till nvidia-smi lists GPUs"
            )
        else:
            fix = "run nvidia-smi and fix what it reports"
        return Row(name, FAIL, f"nvidia-smi failed: {gpus.error}", fix)
    if not gpus.gpus:
        return Row(name, FAIL, "nvidia-smi lists no GPU", "check that the driver sees the GPU: nvidia-smi -L")
    return Row(name, OK, f"{plural(len(gpus.gpus), 'GPU')}, driver {drivers}")


def describe_gpu(gpu: Gpu) -> str:
    cap = sm(gpu.compute_cap) if gpu.compute_cap else "compute capability unknown"
    memory = f"{gpu.memory_mib} MiB" if gpu.memory_mib is not None else "memory unknown"
    return f"{gpu.name}, {cap}, {memory}, driver {gpu.driver}"


def check_gpu(gpu: Gpu, *, line: str) -> Row:
    """Whether this GPU can run ``line``; the detail also lists every CUDA line it can run."""
    name = f"GPU{gpu.index}"
    can = ", ".join(runnable_lines(cap=gpu.compute_cap, driver=gpu.driver)) or "no CUDA line"
    described = f"{describe_gpu(gpu)}; can run: {can}"
    if not needs_gpu(line):
        return Row(name, OK, f"{described} (unused by the local line)")
    problems = line_problems(line=line, cap=gpu.compute_cap, driver=gpu.driver)
    if problems:
        fixes = list(dict.fromkeys(problem.fix for problem in problems))
        return Row(name, FAIL, f"{described}; {line}: " + "; ".join(p.what for p in problems), "; ".join(fixes))
    if gpu.compute_cap is None:
        return Row(
            name,
            WARN,
            f"{described}; this nvidia-smi doesn't report the compute capability, so {line} can't be matched to it",
            "upgrade the NVIDIA driver: newer ones report it",
        )
    return Row(name, OK, described)


def size_text(count: Optional[int], unit: int = GB) -> str:
    return "unknown" if count is None else f"{count / unit:.1f} {'GB' if unit == GB else 'GiB'}"


def check_disk(disk: DiskFacts) -> Row:
    name = "disk"
    where = disk.path if disk.measured == disk.path else f"{disk.path} (measured at {disk.measured})"
    fix = f"free space there, or pass --workspace DIR on a disk with {DISK_WARN_BYTES // GB} GB or more free"
    if disk.free_bytes is None:
        return Row(name, WARN, f"could not measure free space for {where}", fix)
    detail = f"{size_text(disk.free_bytes)} free for {where}"
    if disk.free_bytes < DISK_FAIL_BYTES:
        return Row(
            name, FAIL, f"{detail}: under {DISK_FAIL_BYTES // GB} GB, a dataset and its checkpoints won't fit", fix
        )
    if disk.free_bytes < DISK_WARN_BYTES:
        return Row(name, WARN, f"{detail}: under {DISK_WARN_BYTES // GB} GB, room for about one task", fix)
    return Row(name, OK, detail)


def check_shm(shm: ShmFacts, *, docker: DockerFacts, shm_size: str) -> Row:
    """Containers get their own ``--shm-size`` /dev/shm, so the host's is only reported; docker's side is checked."""
    name = "shared memory"
    detail = (
        f"each container gets its own /dev/shm (--shm-size {shm_size}); the host's is {size_text(shm.size_bytes, GIB)}"
    )
    if docker.state != "ok":
        return Row(name, WARN, f"{detail}; docker's side not checked: docker is {docker.state}", "see the docker row")
    if docker.authorization_plugins:
        plugins = ", ".join(docker.authorization_plugins)
        return Row(
            name,
            WARN,
            f"{detail}; docker runs authorization plugins ({plugins}) that may refuse --shm-size",
            "ask whoever runs docker here to allow --shm-size and --gpus for docker run",
        )
    if docker.default_runtime and docker.default_runtime not in KNOWN_RUNTIMES:
        return Row(
            name,
            WARN,
            f"{detail}; docker's default runtime is {docker.default_runtime}: --gpus and --shm-size are only known to "
            "work with runc and nvidia",
            'set "default-runtime": "runc" (or "nvidia") in /etc/docker/daemon.json, then restart docker',
        )
    return Row(
        name,
        OK,
        f"{detail}; docker memory {size_text(docker.mem_total, GIB)}, default runtime "
        f"{docker.default_runtime or 'unknown'}",
    )


def check_bfm(bfm: BfmFacts, *, line: str) -> Row:
    name = "BFM"
    if not bfm.exists:
        return Row(name, FAIL, f"{bfm.path} is missing: preprocess and train stop without it", BFM_FIX)
    if not bfm.readable:
        return Row(name, FAIL, f"{bfm.path} is not readable by you", f"chmod a+r {bfm.path}")
    problems = []
    if not bfm.head.startswith(BFM_HEADER):
        problems.append(f"it does not start with {BFM_HEADER.decode()!r}")
    if not BFM_MIN_BYTES <= bfm.size <= BFM_MAX_BYTES:
        problems.append(f"{bfm.size / 1000**2:.1f} MB, where the real file is about 230 MB")
    if not problems:
        return Row(name, OK, f"{bfm.path}: MATLAB 5.0 MAT-file, {bfm.size / 1000**2:.1f} MB")
    detail = f"{bfm.path} is not the Basel Face Model: " + "; ".join(problems)
    if not needs_gpu(line):
        return Row(name, WARN, f"{detail} (fine for the local line's test doubles)", BFM_FIX)
    return Row(name, FAIL, detail, BFM_FIX)


def check_weights(weights: WeightsFacts, *, expected: Sequence[str] = ()) -> Row:
    """``expected``: the relative paths the manifest lists. Without them every run stops at its weights check,
    so a missing folder or file fails."""
    name = "weights"
    fetch = (
        f"make weights WEIGHTS={weights.path} where there is internet, or make load BUNDLE=<bundle> "
        f"WEIGHTS={weights.path} from an offline bundle (--weights_dir DIR points elsewhere)"
    )
    if not weights.exists:
        return Row(
            name,
            FAIL if expected else WARN,
            f"{weights.path} does not exist (mounted read-only at /weights when it does)",
            fetch,
        )
    if not weights.readable:
        return Row(name, FAIL, f"{weights.path} is not readable by you", f"chmod -R a+rX {weights.path}")
    present = set(weights.files)
    missing = [path for path in expected if path not in present]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        return Row(
            name,
            FAIL,
            f"{len(missing)} of {len(expected)} expected files missing in {weights.path}: {shown}",
            fetch,
        )
    checked = f", all {len(expected)} expected ones" if expected else ""
    return Row(name, OK, f"{plural(len(weights.files), 'file')} in {weights.path}{checked}")


def check_image(image: ImageFacts, *, line: str, version: str, pins: Mapping[str, UpstreamPin]) -> Row:
    """The image of this checkout's version and line: present, and labelled as this checkout would build it."""
    name = f"image {image.name}"
    is_model = image.name in MODEL_IMAGES
    if image.state == "unknown":
        return Row(name, WARN, f"{image.ref} not checked: {image.error}", "see the docker row")
    if image.state == "missing":
        if not is_model:
            return Row(
                name,
                WARN,
                f"{image.ref} is not here (only bin/run_eval.sh needs it)",
                f"make build-eval LINE={line}" if line != LOCAL else "make build-local",
            )
        if line == LOCAL:
            fix = "make build-local"
        else:
            fix = f"make build LINE={line} (needs internet), or make load BUNDLE=dist/{line} from a saved bundle"
        return Row(name, FAIL, f"{image.ref} is not here", fix)
    wanted = {
        "io.talkingface.model": image.name,
        "io.talkingface.line": line,
        "org.opencontainers.image.version": version,
    }
    if is_model:
        wanted["io.talkingface.upstream.commit"] = pins[image.name].commit
    wrong = [
        f"{key}={image.labels.get(key, '(none)')!s:.12} (this checkout: {value:.12})"
        for key, value in wanted.items()
        if image.labels.get(key) != value
    ]
    if wrong:
        return Row(
            name,
            FAIL,
            f"{image.ref} was built from another checkout: " + ", ".join(wrong),
            f"rebuild it from this checkout: make build-{image.name} LINE={line}",
        )
    upstream = f"upstream {pins[image.name].short}, " if is_model else ""
    revision = image.labels.get("org.opencontainers.image.revision", "unknown")
    purpose = f"; {LOCAL_PURPOSE}" if line == LOCAL else ""
    return Row(name, OK, f"{image.ref}: {upstream}built from revision {revision}{purpose}")


LOCAL_PURPOSE = (
    "the local line: test doubles instead of the models, on the CPU, to try the toolchain without a GPU or the "
    "real weights (its videos are test patterns)"
)


def check_local_image(image: ImageFacts) -> Optional[Row]:
    """A local-line image found while another line is checked: what it is for, and how to use it."""
    if image.state != "present":
        return None
    return Row(f"image {image.name} (local)", OK, f"{image.ref}: {LOCAL_PURPOSE}; run it with --line local")


def run_checks(
    facts: Facts, *, pins: Mapping[str, UpstreamPin], shm_size: str, expected_weights: Sequence[str] = ()
) -> List[Row]:
    rows = [
        check_docker(facts.docker),
        check_nvidia_runtime(facts.docker, line=facts.line),
        check_gpus(facts.gpus, line=facts.line),
    ]
    rows += [check_gpu(gpu, line=facts.line) for gpu in facts.gpus.gpus]
    rows += [
        check_disk(facts.disk),
        check_shm(facts.shm, docker=facts.docker, shm_size=shm_size),
        check_bfm(facts.bfm, line=facts.line),
        check_weights(facts.weights, expected=expected_weights),
    ]
    rows += [check_image(image, line=facts.line, version=facts.version, pins=pins) for image in facts.images]
    rows += [row for row in map(check_local_image, facts.local_images) if row is not None]
    return rows


def exit_code(rows: Sequence[Row]) -> int:
    """1 when a run would fail; warnings alone don't fail."""
    return 1 if any(row.status == FAIL for row in rows) else 0
