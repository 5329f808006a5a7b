"""The image lines: which GPU architectures and drivers each CUDA line serves, and the line names users may pass.

Driver minimums: NVIDIA's CUDA Toolkit release notes, table "CUDA Toolkit and Corresponding Driver Versions",
column "Toolkit Driver Version", Linux x86_64 (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/):
"CUDA 11.3.1 Update 1 >=465.19.01", "CUDA 11.8 GA >=520.61.05" and "CUDA 13.0 GA >=580.65.06" (CUDA 13 drops
Volta: sm_75 is its oldest target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

Cap = Tuple[int, int]
LOCAL = "local"


@dataclass(frozen=True)
class CudaLine:
    name: str
    cuda: str
    min_driver: str
    # The architectures the line's extensions are built for (docs/images.md: TORCH_CUDA_ARCH_LIST).
    oldest: Cap
    newest: Cap

    def serves(self, cap: Cap) -> bool:
        return self.oldest <= cap <= self.newest


# Oldest first: `--line auto` takes the first line that serves every chosen GPU (upstream's own CUDA where it can).
CUDA_LINES = {
    "cu113": CudaLine(name="cu113", cuda="11.3", min_driver="465.19.01", oldest=(7, 0), newest=(8, 6)),
    "cu118": CudaLine(name="cu118", cuda="11.8", min_driver="520.61.05", oldest=(7, 0), newest=(9, 0)),
    "cu130": CudaLine(name="cu130", cuda="13.0", min_driver="580.65.06", oldest=(7, 5), newest=(12, 0)),
}
NEWEST = max(spec.newest for spec in CUDA_LINES.values())
LINE_CHOICES = ("auto", *CUDA_LINES, LOCAL)
